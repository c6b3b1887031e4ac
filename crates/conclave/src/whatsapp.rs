//! `conclave import whatsapp PATH --channel NAME [--custodian EMAIL]`: reads a
//! WhatsApp "Export chat" file (.txt or .zip) with conclave-whatsapp and
//! stores it in a read-only archive channel through the store, journalled.
//!
//! Participants become users by mapping (`--map "+49 170 1234567=alice@example.com"`,
//! `--map "Anna=anna@example.com"`, or a `--map-file` of such lines) or
//! external participants; media files from a zip become attachments in the
//! blob store; every message keeps its original time, read in the zone given
//! by `--utc-offset` (default UTC), because exports carry no zone. Dedupe keys
//! are stored per channel, so importing the same export again adds nothing.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use conclave_domain::external::{
    ExternalKind, ImportKey, ImportRun, ImportedKind, ImportedMessage, NewExternalParticipant,
    WhatsAppImportChannel,
};
use conclave_domain::{NewAttachment, User, UserId, validate};
use conclave_server::audit::Change;
use conclave_server::blobs::{BlobSealingWriter, BlobStore, LocalBlobStore, content_key};
use conclave_server::config::ServerConfig;
use conclave_store::Store;
use conclave_whatsapp::{
    ArchiveLimits, ChatParser, DateOrder, ExportZip, MessageKind, ParseOptions, ParsedChat,
    ProblemKind, phone_digits, read_lines,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// Messages stored per transaction (and journalled per entry): large enough
/// that commits and checkpoints are rare, small enough that a running
/// server's writes wait only briefly (a batch takes about 0.2 s on SQLite).
const BATCH: usize = 20_000;
/// A batch also ends once its messages' text reaches this many bytes, so
/// one transaction (and its journal entry) stays small whatever the chat.
const BATCH_TEXT_BYTES: usize = 16 * 1024 * 1024;

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Imports a WhatsApp "Export chat" file (.txt or .zip) into a read-only
    /// archive channel; prints a JSON summary.
    Whatsapp(WhatsAppImport),
}

#[derive(Debug, Args)]
pub struct WhatsAppImport {
    /// The exported .txt file, or the .zip with its media.
    path: PathBuf,
    /// The archive channel to create or extend.
    #[arg(long)]
    channel: String,
    /// Whose phone the export came from; made a member of the channel.
    #[arg(long)]
    custodian: Option<String>,
    /// Maps a participant (phone number or name as the export shows it) to
    /// a user: "+49 170 1234567=alice@example.com". Repeatable.
    #[arg(long = "map", value_name = "PARTICIPANT=EMAIL")]
    map: Vec<String>,
    /// A file of PARTICIPANT=EMAIL lines ('#' starts a comment).
    #[arg(long)]
    map_file: Option<PathBuf>,
    /// The phone's offset from UTC when the chat was written, e.g. +02:00
    /// (exports carry local time without zone).
    #[arg(long, default_value = "+00:00", allow_hyphen_values = true)]
    utc_offset: String,
    /// day-first, month-first or year-first, when the file cannot tell.
    #[arg(long)]
    date_order: Option<String>,
}

pub async fn run(
    store: &dyn Store,
    settings: &ServerConfig,
    command: ImportCommand,
) -> anyhow::Result<std::process::ExitCode> {
    let ImportCommand::Whatsapp(arguments) = command;
    let summary = import(store, settings, &arguments).await?;
    println!("{summary}");
    if summary["unreadable"] == true {
        return Ok(std::process::ExitCode::FAILURE);
    }
    Ok(std::process::ExitCode::SUCCESS)
}

/// Parses "+02:00", "-0530", "+2", "Z" or "UTC" into seconds east of UTC.
pub fn parse_utc_offset(text: &str) -> anyhow::Result<i32> {
    let text = text.trim();
    if matches!(text, "Z" | "z" | "UTC" | "utc") {
        return Ok(0);
    }
    let (sign, rest) = match text.as_bytes().first() {
        Some(b'+') => (1, &text[1..]),
        Some(b'-') => (-1, &text[1..]),
        _ => bail!("--utc-offset must look like +02:00 or -05:30, not {text:?}"),
    };
    let (hours, minutes) = match rest.split_once(':') {
        Some((hours, minutes)) => (hours, minutes),
        None if rest.len() == 4 => rest.split_at(2),
        None => (rest, "0"),
    };
    let hours: i32 = hours
        .parse()
        .with_context(|| format!("bad hours in --utc-offset {text:?}"))?;
    let minutes: i32 = minutes
        .parse()
        .with_context(|| format!("bad minutes in --utc-offset {text:?}"))?;
    if hours > 14 || minutes > 59 {
        bail!("--utc-offset {text:?} is out of range (at most ±14:00)");
    }
    Ok(sign * (hours * 3600 + minutes * 60))
}

/// A participant as the export names them, in the form mappings compare.
fn mapping_key(participant: &str) -> String {
    match phone_digits(participant) {
        Some(digits) => format!("phone:{digits}"),
        None => format!("name:{}", participant.trim().to_lowercase()),
    }
}

async fn read_mappings(
    store: &dyn Store,
    arguments: &WhatsAppImport,
) -> anyhow::Result<HashMap<String, User>> {
    let mut lines: Vec<String> = arguments.map.clone();
    if let Some(path) = &arguments.map_file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the map file {}", path.display()))?;
        lines.extend(
            text.lines()
                .map(str::trim)
                .filter(|line| !line.is_empty() && !line.starts_with('#'))
                .map(str::to_string),
        );
    }
    let mut mappings = HashMap::new();
    for line in lines {
        let (participant, email) = line
            .rsplit_once('=')
            .with_context(|| format!("a mapping must be PARTICIPANT=EMAIL, not {line:?}"))?;
        let email = validate::normalize_email(email);
        let user = store
            .user_by_email(&email)
            .await?
            .with_context(|| format!("the mapping {line:?} names {email}, who is not a user"))?;
        mappings.insert(mapping_key(participant), user);
    }
    Ok(mappings)
}

/// An export being imported: where its media come from.
struct Export {
    /// The zip the media files are unpacked from, one at a time; `None`
    /// for a bare .txt export.
    zip: Option<ExportZip<std::io::BufReader<std::fs::File>>>,
}

impl Export {
    fn zipped(&self) -> bool {
        self.zip.is_some()
    }
}

/// Opens the export and streams its chat text through the parser: neither
/// the file nor the unpacked text is ever held whole (the parsed messages
/// are, since dates are settled by looking at them all). Answers the
/// export, the parsed chat and its number of lines.
fn read_export(path: &Path, options: ParseOptions) -> anyhow::Result<(Export, ParsedChat, usize)> {
    use std::io::{Read, Seek};
    let mut file =
        std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
    let mut magic = [0u8; 4];
    let magic_len = file
        .read(&mut magic)
        .with_context(|| format!("reading {}", path.display()))?;
    file.rewind()
        .with_context(|| format!("reading {}", path.display()))?;
    let mut parser = ChatParser::new(options);
    let zipped = magic_len == 4 && (magic == *b"PK\x03\x04" || magic == *b"PK\x05\x06");
    if zipped {
        let mut zip = ExportZip::open(std::io::BufReader::new(file), &ArchiveLimits::default())
            .with_context(|| format!("reading the zip export {}", path.display()))?;
        let lines = zip
            .read_chat_lines(|line| parser.push_line(line))
            .with_context(|| format!("reading the zip export {}", path.display()))?;
        return Ok((Export { zip: Some(zip) }, parser.finish(), lines));
    }
    let name = path.display().to_string();
    let lines = read_lines(std::io::BufReader::new(file), &name, |line| {
        parser.push_line(line)
    })
    .map_err(|error| match error {
        conclave_whatsapp::ArchiveError::ChatTextNotUtf8 { offset, .. } => {
            anyhow::anyhow!("{name} is not UTF-8 text (invalid byte at offset {offset})")
        }
        other => anyhow::Error::new(other),
    })?;
    Ok((Export { zip: None }, parser.finish(), lines))
}

/// Cuts `text` into pieces of at most `limit` bytes, at a line break in
/// the second half of the window when there is one, else at the last
/// character boundary; a text within the limit is one piece.
fn split_text(text: &str, limit: usize) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while rest.len() > limit {
        let mut cut = limit;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        if let Some(newline) = rest[..cut].rfind('\n').filter(|at| *at >= limit / 2) {
            cut = newline + 1;
        }
        if cut == 0 {
            break;
        }
        pieces.push(&rest[..cut]);
        rest = &rest[cut..];
    }
    pieces.push(rest);
    pieces
}

/// The dedupe key of part `part` (from 1) of a message cut in parts; part
/// 0 keeps the message's own key, so earlier imports of it still match.
fn part_key(key: ImportKey, part: usize) -> ImportKey {
    let mut digest = Sha256::new();
    digest.update(key.digest);
    digest.update(b"part");
    digest.update(u64::try_from(part).unwrap_or(u64::MAX).to_be_bytes());
    ImportKey {
        local_time: key.local_time,
        digest: digest.finalize().into(),
    }
}

fn problem_kind(kind: ProblemKind) -> &'static str {
    match kind {
        ProblemKind::TextBeforeFirstMessage => "text_before_first_message",
        ProblemKind::InvalidDate => "invalid_date",
        ProblemKind::ForeignHeaderFormat => "foreign_header_format",
    }
}

async fn import(
    store: &dyn Store,
    settings: &ServerConfig,
    arguments: &WhatsAppImport,
) -> anyhow::Result<Value> {
    let started = Instant::now();
    let offset = parse_utc_offset(&arguments.utc_offset)?;
    let date_order = match arguments.date_order.as_deref() {
        None => None,
        Some("day-first") => Some(DateOrder::DayFirst),
        Some("month-first") => Some(DateOrder::MonthFirst),
        Some("year-first") => Some(DateOrder::YearFirst),
        Some(other) => {
            bail!("--date-order must be day-first, month-first or year-first, not {other:?}")
        }
    };
    let name = validate::normalize_channel_name(&arguments.channel);
    validate::channel_name(&name)
        .map_err(|error| anyhow::anyhow!("--channel {:?}: {error}", arguments.channel))?;
    let custodian = match &arguments.custodian {
        Some(email) => {
            let email = validate::normalize_email(email);
            Some(
                store
                    .user_by_email(&email)
                    .await?
                    .with_context(|| format!("no user with email {email} (--custodian)"))?,
            )
        }
        None => None,
    };
    let mappings = read_mappings(store, arguments).await?;

    let (mut export, parsed, lines) = read_export(&arguments.path, ParseOptions { date_order })?;
    let now = conclave_server::now_millis();
    let source_name = arguments
        .path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    if parsed.unreadable() {
        // Nothing is stored: a channel of zero messages would pass for a
        // successful import of an empty chat.
        return Ok(unreadable_summary(&source_name, &parsed, lines));
    }

    // Everybody who must be a member: the custodian and mapped participants.
    let mut mapped: HashMap<String, UserId> = HashMap::new();
    let mut member_ids: Vec<UserId> = custodian.iter().map(|user| user.id).collect();
    for participant in &parsed.participants {
        if let Some(user) = mappings.get(&mapping_key(&participant.name)) {
            mapped.insert(participant.name.clone(), user.id);
            member_ids.push(user.id);
        }
    }
    let system = store
        .external_participant(NewExternalParticipant {
            kind: ExternalKind::System,
            phone: None,
            display_name: "WhatsApp".into(),
            channel_id: None,
            source: "whatsapp_export".into(),
            at: now,
        })
        .await?;
    let creator_id = custodian
        .as_ref()
        .map(|user| user.id)
        .or_else(|| member_ids.first().copied())
        .unwrap_or(system.user_id);
    let (channel, created) = store
        .open_whatsapp_import(WhatsAppImportChannel {
            name: name.clone(),
            topic: format!("WhatsApp export: {source_name}"),
            custodian_id: custodian.as_ref().map(|user| user.id),
            creator_id,
            member_ids,
            at: now,
        })
        .await?;

    // Authors: mapped users, or external participants.
    let mut authors: HashMap<String, UserId> = mapped.clone();
    let mut participants = Vec::new();
    for participant in &parsed.participants {
        let user_id = match authors.get(&participant.name) {
            Some(id) => *id,
            None => {
                let (kind, channel_id) = match &participant.phone {
                    Some(_) => (ExternalKind::Phone, None),
                    None => (ExternalKind::Name, Some(channel.id)),
                };
                let external = store
                    .external_participant(NewExternalParticipant {
                        kind,
                        phone: participant.phone.clone(),
                        display_name: participant.name.clone(),
                        channel_id,
                        source: "whatsapp_export".into(),
                        at: now,
                    })
                    .await?;
                authors.insert(participant.name.clone(), external.user_id);
                external.user_id
            }
        };
        participants.push(json!({
            "name": participant.name,
            "phone": participant.phone,
            "user_id": user_id,
            "external": !mapped.contains_key(&participant.name),
            "messages": participant.message_count,
        }));
    }

    let mut problems: Vec<Value> = parsed
        .problems
        .iter()
        .map(|problem| json!({"line": problem.line, "kind": problem_kind(problem.kind), "text": problem.text}))
        .collect();
    let blobs = LocalBlobStore::new(settings.data_dir.join("blobs"), store.keyring().clone())
        .context("preparing the blob store")?;
    let (mut messages, mut system_events, mut media, mut duplicates) =
        (0usize, 0usize, 0usize, 0usize);
    let mut context = BatchContext {
        store,
        blobs: &blobs,
        export: &mut export,
        channel_id: channel.id,
        authors: &authors,
        system_id: system.user_id,
        offset,
    };
    let mut start = 0;
    while start < parsed.messages.len() {
        let mut end = start;
        let mut text_bytes = 0;
        while end < parsed.messages.len()
            && end - start < BATCH
            && (end == start || text_bytes + parsed.messages[end].body.len() <= BATCH_TEXT_BYTES)
        {
            text_bytes += parsed.messages[end].body.len();
            end += 1;
        }
        let chunk = &parsed.messages[start..end];
        start = end;
        let batch = context.prepare(chunk).await?;
        duplicates += batch.duplicates;
        problems.extend(batch.problems);
        let outcome = store
            .import_whatsapp_messages(channel.id, batch.messages, conclave_server::now_millis())
            .await?;
        messages += outcome.inserted - outcome.system;
        system_events += outcome.system;
        media += outcome.attachments;
        duplicates += outcome.duplicates;
    }
    problems.sort_by_key(|problem| problem["line"].as_u64());

    let seconds = started.elapsed().as_secs_f64();
    let summary = json!({
        "channel": channel.name,
        "channel_id": channel.id,
        "created": created,
        "custodian": custodian.as_ref().map(|user| user.email.clone()),
        "source": source_name,
        "platform": parsed.platform.map(|platform| format!("{platform:?}").to_lowercase()),
        "unreadable": false,
        "date_order": format!("{:?}", parsed.date_order.order),
        "date_order_reason": format!("{:?}", parsed.date_order.reason),
        "date_order_confidence": format!("{:?}", parsed.date_order.confidence).to_lowercase(),
        "utc_offset_seconds": offset,
        "lines": lines,
        "messages": messages,
        "system_events": system_events,
        "media": media,
        "duplicates_skipped": duplicates,
        "participants": participants,
        "problems": problems,
        "seconds": (seconds * 1000.0).round() / 1000.0,
        "lines_per_second": if seconds > 0.0 { (lines as f64 / seconds).round() } else { 0.0 },
    });
    store
        .record_import_run(ImportRun {
            channel_id: channel.id,
            custodian_id: custodian.as_ref().map(|user| user.id),
            source_name: source_name.clone(),
            summary: summary.to_string(),
            at: conclave_server::now_millis(),
        })
        .await?;
    let audit_after = json!({
        "channel": channel.name, "source": source_name, "messages": messages, "system_events": system_events,
        "media": media, "duplicates_skipped": duplicates, "custodian": summary["custodian"],
    });
    crate::audit(
        store,
        Change::new("whatsapp.import", "channel", channel.id).after(&audit_after),
    )
    .await?;
    Ok(summary)
}

/// The summary of an export in which no line could be read as a message.
fn unreadable_summary(source_name: &str, parsed: &ParsedChat, lines: usize) -> Value {
    let problems: Vec<Value> = parsed
        .problems
        .iter()
        .take(20)
        .map(|problem| {
            json!({"line": problem.line, "kind": problem_kind(problem.kind), "text": problem.text})
        })
        .collect();
    json!({
        "source": source_name,
        "unreadable": true,
        "error": {
            "code": "unreadable_export",
            "message": "no line of the file was read as a WhatsApp message header; nothing was imported (see docs/whatsapp-formats.md for the header forms read)",
        },
        "lines": lines,
        "messages": 0,
        "problems": problems,
        "problems_total": parsed.problems.len(),
    })
}

/// What every batch of one import shares.
struct BatchContext<'a> {
    store: &'a dyn Store,
    blobs: &'a LocalBlobStore,
    export: &'a mut Export,
    channel_id: i64,
    authors: &'a HashMap<String, UserId>,
    system_id: UserId,
    offset: i32,
}

/// One batch ready to store, with what preparing it found.
struct PreparedBatch {
    messages: Vec<ImportedMessage>,
    /// Media messages skipped because they were imported before.
    duplicates: usize,
    problems: Vec<Value>,
}

impl BatchContext<'_> {
    /// Keys, authors, times and media for `chunk`; media imported before
    /// is not stored again.
    async fn prepare(
        &mut self,
        chunk: &[conclave_whatsapp::Message],
    ) -> anyhow::Result<PreparedBatch> {
        let mut duplicates = 0;
        let mut problems = Vec::new();
        let keys: Vec<ImportKey> = chunk
            .iter()
            .map(|message| ImportKey {
                local_time: message.local_seconds(),
                digest: message.dedupe_digest(),
            })
            .collect();
        // The store skips known keys by itself; asking first only saves
        // writing the blobs of media imported before.
        let media_keys: Vec<ImportKey> = chunk
            .iter()
            .zip(&keys)
            .filter(|(message, _)| {
                matches!(
                    message.kind,
                    MessageKind::Media {
                        file_name: Some(_),
                        ..
                    }
                ) && self.export.zipped()
            })
            .map(|(_, key)| *key)
            .collect();
        let known: std::collections::HashSet<ImportKey> = if media_keys.is_empty() {
            std::collections::HashSet::new()
        } else {
            self.store
                .known_import_keys(self.channel_id, media_keys)
                .await?
                .into_iter()
                .collect()
        };
        let mut batch = Vec::with_capacity(chunk.len());
        for (message, dedupe_key) in chunk.iter().zip(keys) {
            if known.contains(&dedupe_key) {
                duplicates += 1;
                continue;
            }
            let created_at = message.timestamp.unix_seconds(self.offset) * 1000;
            let author_id = match &message.author {
                Some(author) => *self.authors.get(author).unwrap_or(&self.system_id),
                None => self.system_id,
            };
            let (kind, text, attachments) = match &message.kind {
                MessageKind::Text => (ImportedKind::Text, message.body.clone(), Vec::new()),
                MessageKind::System(_) => (ImportedKind::System, message.body.clone(), Vec::new()),
                MessageKind::Deleted => (ImportedKind::Deleted, message.body.clone(), Vec::new()),
                MessageKind::Media {
                    file_name, caption, ..
                } => {
                    let file = file_name.as_ref().filter(|name| {
                        self.export
                            .zip
                            .as_ref()
                            .is_some_and(|zip| zip.has_media(name))
                    });
                    match (file, self.export.zip.as_mut()) {
                        (Some(file_name), Some(zip)) => {
                            let attachment = store_media(
                                self.blobs,
                                zip,
                                file_name,
                                author_id,
                                self.channel_id,
                                created_at,
                            )
                            .await?;
                            (
                                ImportedKind::Media,
                                caption.clone().unwrap_or_default(),
                                vec![attachment],
                            )
                        }
                        _ => {
                            if let (true, Some(file_name)) = (self.export.zipped(), file_name) {
                                problems.push(json!({"line": message.line, "kind": "media_not_in_export", "text": file_name}));
                            }
                            // Nothing is lost: the marker and any caption stay as text.
                            (ImportedKind::Media, message.body.clone(), Vec::new())
                        }
                    }
                }
            };
            let line = i64::try_from(message.line).unwrap_or(i64::MAX);
            if text.len() <= validate::MAX_MESSAGE_BYTES {
                batch.push(ImportedMessage {
                    dedupe_key,
                    line,
                    author_id,
                    kind,
                    text,
                    created_at,
                    edited: message.edited,
                    attachments,
                });
                continue;
            }
            // Longer than any message may be: stored as consecutive
            // messages, each within the limit, nothing cut away, and said
            // in the summary. The parts' keys derive from the message's,
            // so importing the export again adds nothing.
            let parts = split_text(&text, validate::MAX_MESSAGE_BYTES);
            problems.push(json!({
                "line": message.line,
                "kind": "message_split",
                "text": format!(
                    "a message of {} bytes was stored as {} messages of at most {} bytes",
                    text.len(),
                    parts.len(),
                    validate::MAX_MESSAGE_BYTES
                ),
            }));
            let mut attachments = Some(attachments);
            for (index, part) in parts.into_iter().enumerate() {
                let (part_kind, dedupe_key) = if index == 0 {
                    (kind, dedupe_key)
                } else {
                    let continued = match kind {
                        ImportedKind::Media => ImportedKind::Text,
                        other => other,
                    };
                    (continued, part_key(dedupe_key, index))
                };
                batch.push(ImportedMessage {
                    dedupe_key,
                    line,
                    author_id,
                    kind: part_kind,
                    text: part.to_owned(),
                    created_at,
                    edited: message.edited,
                    attachments: attachments.take().unwrap_or_default(),
                });
            }
        }
        Ok(PreparedBatch {
            messages: batch,
            duplicates,
            problems,
        })
    }
}

/// Unpacks one media file from the export into the content-addressed blob
/// store (once), sealed and hashed as it streams, and describes it as an
/// attachment. Only a thumbnail's source image is ever read whole, and only
/// up to the server's limit for thumbnails.
async fn store_media(
    blobs: &LocalBlobStore,
    zip: &mut ExportZip<std::io::BufReader<std::fs::File>>,
    file_name: &str,
    uploader_id: UserId,
    channel_id: i64,
    created_at: i64,
) -> anyhow::Result<NewAttachment> {
    use std::io::Read;
    let temporary = blobs.temporary_path();
    let mut writer = BlobSealingWriter::create(&temporary, blobs.keyring(), uploader_id)
        .await
        .with_context(|| format!("storing {file_name}"))?;
    let copied = async {
        let mut reader = zip
            .open_media(file_name)?
            .with_context(|| format!("{file_name} is not in the export"))?;
        let mut hasher = Sha256::new();
        let mut head: Vec<u8> = Vec::with_capacity(8192);
        let mut size: u64 = 0;
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            let read = reader
                .read(&mut buffer)
                .with_context(|| format!("unpacking {file_name}"))?;
            if read == 0 {
                break;
            }
            let chunk = &buffer[..read];
            if head.len() < 8192 {
                let take = (8192 - head.len()).min(read);
                head.extend_from_slice(&chunk[..take]);
            }
            hasher.update(chunk);
            size += read as u64;
            writer.write(chunk).await?;
        }
        writer.finish().await?;
        anyhow::Ok((hex::encode(hasher.finalize()), head, size))
    }
    .await;
    let (digest, head, size) = match copied {
        Ok(copied) => copied,
        Err(error) => {
            let _ = tokio::fs::remove_file(&temporary).await;
            return Err(error.context(format!("storing {file_name}")));
        }
    };
    let key = content_key("sha256", &digest, uploader_id);
    if blobs.open(&key).await.is_ok() {
        let _ = tokio::fs::remove_file(&temporary).await;
    } else {
        blobs
            .put_file(&key, &temporary)
            .await
            .with_context(|| format!("storing {file_name}"))?;
    }
    let content_type = conclave_server::routes::files::sniff(&head);
    // Images get a thumbnail, as uploads do, within the same limits; one
    // that does not decode is kept without.
    let (mut thumbnail_key, mut width, mut height) = (None, None, None);
    if content_type.starts_with("image/")
        && size <= conclave_server::routes::files::THUMBNAIL_MAX_FILE_BYTES
    {
        let bytes = blobs
            .read_all(&key)
            .await
            .with_context(|| format!("reading {file_name} back for its thumbnail"))?;
        let made =
            tokio::task::block_in_place(|| conclave_server::routes::files::make_thumbnail(bytes));
        match made {
            Ok(conclave_server::routes::files::Thumbnail::Made {
                jpeg,
                width: w,
                height: h,
            }) => {
                let thumb = content_key("thumb", &digest, uploader_id);
                blobs
                    .put_bytes(&thumb, jpeg, uploader_id)
                    .await
                    .with_context(|| format!("storing the thumbnail of {file_name}"))?;
                (thumbnail_key, width, height) = (Some(thumb), Some(w), Some(h));
            }
            Ok(conclave_server::routes::files::Thumbnail::TooLarge {
                width: w,
                height: h,
            }) => {
                (width, height) = (Some(w), Some(h));
            }
            Err(_) => {}
        }
    }
    Ok(NewAttachment {
        uploader_id,
        channel_id,
        name: validate::sanitize_file_name(file_name),
        content_type,
        size: i64::try_from(size).unwrap_or(i64::MAX),
        sha256: digest,
        storage_key: key,
        thumbnail_key,
        width,
        height,
        created_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_offsets_are_read_in_their_usual_forms() {
        let cases = [
            ("+02:00", Some(7200)),
            ("-05:30", Some(-19_800)),
            ("+0530", Some(19_800)),
            ("+2", Some(7200)),
            ("Z", Some(0)),
            ("UTC", Some(0)),
            ("02:00", None),
            ("+15:00", None),
            ("+01:75", None),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_utc_offset(text).ok(), expected, "{text}");
        }
    }

    #[test]
    fn long_texts_split_within_the_limit_and_lose_nothing() {
        let cases: [(&str, usize, &[&str]); 5] = [
            ("short", 10, &["short"]),
            ("abcdefghij", 4, &["abcd", "efgh", "ij"]),
            ("ab\ncdefgh", 4, &["ab\n", "cdef", "gh"]),
            // Never inside a character: "é" is two bytes.
            ("aééé", 4, &["aé", "éé"]),
            ("", 4, &[""]),
        ];
        for (text, limit, expected) in cases {
            let parts = split_text(text, limit);
            assert_eq!(parts, expected, "{text:?}");
            assert_eq!(parts.concat(), text);
            assert!(parts.iter().all(|part| part.len() <= limit));
        }
    }

    #[test]
    fn parts_of_a_message_have_their_own_stable_keys() {
        let key = ImportKey {
            local_time: 7,
            digest: [1; 32],
        };
        assert_eq!(part_key(key, 1), part_key(key, 1));
        assert_ne!(part_key(key, 1), part_key(key, 2));
        assert_ne!(part_key(key, 1).digest, key.digest);
        assert_eq!(part_key(key, 1).local_time, 7);
    }

    #[test]
    fn mappings_compare_numbers_by_digits_and_names_without_case() {
        assert_eq!(mapping_key("+49 170 1234567"), mapping_key("+491701234567"));
        assert_eq!(mapping_key(" Anna Müller "), mapping_key("anna müller"));
        assert_ne!(mapping_key("+49 170 1234567"), mapping_key("0170 1234567"));
    }
}
