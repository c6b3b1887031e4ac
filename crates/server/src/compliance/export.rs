//! eDiscovery export: the archive, narrowed by an [`ExportFilter`], written
//! into a directory in one of four formats, plus `manifest.json` with the
//! counts, the filters and the SHA-256 of every file.
//!
//! - `jsonl`: `messages.jsonl`, one JSON object per message with every
//!   version, the deletion, mentions, reactions and attachments, preceded by
//!   one `membership` line per join or leave; attachment bytes under
//!   `attachments/`.
//! - `eml`: `eml/<message id>.eml`, one RFC 5322 message per file, with
//!   From, To, Date, Message-ID and In-Reply-To/References for threads; the
//!   body carries the edit history and deletion; attachments are base64
//!   MIME parts.
//! - `actiance`: `actiance.xml`, one `Conversation` per channel with joins,
//!   leaves, messages, edits, deletions and file transfers.
//! - `csv`: `messages.csv`, one row per posting, edit and deletion.
//!
//! Memory stays bounded: messages are read a page at a time, channel by
//! channel, and written through buffered, hashing writers.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use conclave_domain::compliance::{
    ArchivedChannel, ArchivedMessage, ExportFilter, MembershipChange,
};
use conclave_domain::{Attachment, ChannelKind, Millis, User, UserId};
use conclave_store::{Store, StoreError};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

use super::rfc3339;
use crate::blobs::BlobStore;

/// Messages read per round trip.
const PAGE: i64 = 1_000;
/// Channels with more members than this are addressed by the channel's own
/// address in EML `To`, rather than listing everyone.
const MAX_LISTED_RECIPIENTS: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExportFormat {
    Jsonl,
    Eml,
    Actiance,
    Csv,
}

impl ExportFormat {
    pub fn parse(text: &str) -> Option<ExportFormat> {
        match text {
            "jsonl" => Some(ExportFormat::Jsonl),
            "eml" => Some(ExportFormat::Eml),
            "actiance" => Some(ExportFormat::Actiance),
            "csv" => Some(ExportFormat::Csv),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ExportFormat::Jsonl => "jsonl",
            ExportFormat::Eml => "eml",
            ExportFormat::Actiance => "actiance",
            ExportFormat::Csv => "csv",
        }
    }
}

/// The filters as the requester gave them, for the manifest.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct ManifestFilters {
    pub from: Option<String>,
    pub to: Option<String>,
    pub custodians: Vec<String>,
    pub channels: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct ManifestCounts {
    pub channels: u64,
    pub messages: u64,
    pub versions: u64,
    pub edits: u64,
    pub deletions: u64,
    pub attachments: u64,
    /// Attachments whose bytes were no longer in the blob store.
    pub missing_attachments: u64,
    pub membership_changes: u64,
    pub files: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct ManifestFile {
    /// Relative to the export directory, with `/` separators.
    pub name: String,
    pub bytes: u64,
    pub sha256: String,
}

/// `manifest.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Manifest {
    pub format: ExportFormat,
    pub created_at: String,
    pub filters: ManifestFilters,
    pub counts: ManifestCounts,
    pub files: Vec<ManifestFile>,
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("writing the export: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Refused(String),
}

impl From<ExportError> for crate::error::ApiError {
    fn from(error: ExportError) -> Self {
        match error {
            ExportError::Store(error) => error.into(),
            ExportError::Io(error) => crate::error::ApiError::Internal(error.to_string()),
            ExportError::Refused(message) => crate::error::ApiError::Conflict(message),
        }
    }
}

/// Writes an export into `out`, which must not hold an export already
/// (it is created when missing). Answers the manifest, also written as
/// `manifest.json`.
pub async fn write_export(
    store: &dyn Store,
    blobs: &dyn BlobStore,
    format: ExportFormat,
    filter: &ExportFilter,
    filters: ManifestFilters,
    out: &Path,
    mail_domain: &str,
) -> Result<Manifest, ExportError> {
    std::fs::create_dir_all(out)?;
    if out.join("manifest.json").exists() {
        return Err(ExportError::Refused(format!(
            "{} already holds an export",
            out.display()
        )));
    }
    let mut exporter = Exporter {
        store,
        blobs,
        out: out.to_path_buf(),
        format,
        mail_domain: mail_domain.to_string(),
        people: HashMap::new(),
        counts: ManifestCounts::default(),
        files: Vec::new(),
    };
    exporter.run(filter).await?;
    let mut files = exporter.files;
    files.sort_by(|a, b| a.name.cmp(&b.name));
    let mut counts = exporter.counts;
    counts.files = files.len() as u64;
    let manifest = Manifest {
        format,
        created_at: rfc3339(crate::now_millis()),
        filters,
        counts,
        files,
    };
    let text =
        serde_json::to_vec_pretty(&manifest).map_err(|error| ExportError::Io(error.into()))?;
    std::fs::write(out.join("manifest.json"), text)?;
    Ok(manifest)
}

/// A buffered file that hashes and counts what goes through it.
struct HashedFile {
    name: String,
    writer: BufWriter<std::fs::File>,
    hasher: Sha256,
    bytes: u64,
}

impl HashedFile {
    fn create(root: &Path, name: &str) -> std::io::Result<HashedFile> {
        let path = root.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        Ok(HashedFile {
            name: name.to_string(),
            writer: BufWriter::with_capacity(256 * 1024, std::fs::File::create(path)?),
            hasher: Sha256::new(),
            bytes: 0,
        })
    }

    fn finish(mut self) -> std::io::Result<ManifestFile> {
        // No fsync per file: an export is reproducible, and one fsync per
        // EML file would cap it at the disk's sync rate.
        self.writer.flush()?;
        Ok(ManifestFile {
            name: self.name,
            bytes: self.bytes,
            sha256: hex::encode(self.hasher.finalize()),
        })
    }
}

impl Write for HashedFile {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let written = self.writer.write(bytes)?;
        self.hasher.update(&bytes[..written]);
        self.bytes += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.writer.flush()
    }
}

struct Exporter<'a> {
    store: &'a dyn Store,
    blobs: &'a dyn BlobStore,
    out: PathBuf,
    format: ExportFormat,
    mail_domain: String,
    people: HashMap<UserId, User>,
    counts: ManifestCounts,
    files: Vec<ManifestFile>,
}

/// The one file a single-file format writes into.
enum Sink {
    Single(HashedFile),
    PerMessage,
}

impl Exporter<'_> {
    async fn run(&mut self, filter: &ExportFilter) -> Result<(), ExportError> {
        let channels = self.store.export_channels(filter).await?;
        let mut sink = match self.format {
            ExportFormat::Jsonl => Sink::Single(HashedFile::create(&self.out, "messages.jsonl")?),
            ExportFormat::Csv => {
                let mut file = HashedFile::create(&self.out, "messages.csv")?;
                file.write_all(
                    b"event,message_id,version,channel_id,channel_name,channel_kind,thread_id,user_email,user_name,at,text,attachments\r\n",
                )?;
                Sink::Single(file)
            }
            ExportFormat::Actiance => {
                let mut file = HashedFile::create(&self.out, "actiance.xml")?;
                file.write_all(b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<FileDump>\n")?;
                Sink::Single(file)
            }
            ExportFormat::Eml => Sink::PerMessage,
        };
        for channel in &channels {
            self.counts.channels += 1;
            self.channel(filter, channel, &mut sink).await?;
        }
        if let Sink::Single(mut file) = sink {
            if self.format == ExportFormat::Actiance {
                file.write_all(b"</FileDump>\n")?;
            }
            self.files.push(file.finish()?);
        }
        Ok(())
    }

    async fn channel(
        &mut self,
        filter: &ExportFilter,
        archived: &ArchivedChannel,
        sink: &mut Sink,
    ) -> Result<(), ExportError> {
        let channel_id = archived.channel.id;
        let changes = self
            .store
            .membership_changes(channel_id, filter.from, filter.to)
            .await?;
        let mut wanted: Vec<UserId> = archived.member_ids.clone();
        wanted.extend(changes.iter().map(|change| change.user_id));
        self.ensure_people(&wanted).await?;
        self.counts.membership_changes += changes.len() as u64;
        let recipients = self.recipients(archived);
        let mut pending_changes = changes.into_iter().peekable();
        let mut after = 0;
        let mut started = false;
        let mut last_time: Millis = 0;
        loop {
            let page = self
                .store
                .export_messages(filter, channel_id, after, PAGE)
                .await?;
            let Some(last) = page.last() else { break };
            after = last.message.id;
            let mut ids = Vec::new();
            for message in &page {
                ids.push(message.message.author_id);
                ids.extend(message.message.mentions.iter().copied());
                ids.extend(message.deleted_by);
                ids.extend(message.versions.iter().map(|version| version.author_id));
                for reaction in &message.message.reactions {
                    ids.extend(reaction.user_ids.iter().copied());
                }
            }
            self.ensure_people(&ids).await?;
            for message in &page {
                if !started {
                    started = true;
                    if let Sink::Single(file) = sink
                        && self.format == ExportFormat::Actiance
                    {
                        let first = pending_changes
                            .peek()
                            .map_or(message.message.created_at, |change| {
                                change.at.min(message.message.created_at)
                            });
                        write!(
                            file,
                            "<Conversation Perspective=\"Conclave\">\n<RoomID>{}</RoomID>\n<StartTimeUTC>{}</StartTimeUTC>\n",
                            xml(&room_name(archived)),
                            first.div_euclid(1000)
                        )?;
                    }
                }
                while let Some(change) =
                    pending_changes.next_if(|change| change.at <= message.message.created_at)
                {
                    self.membership(sink, archived, &change)?;
                    last_time = last_time.max(change.at);
                }
                self.message(sink, archived, &recipients, message).await?;
                last_time = last_time.max(
                    message
                        .message
                        .deleted_at
                        .unwrap_or(message.message.created_at),
                );
                if let Some(version) = message.versions.last() {
                    last_time = last_time.max(version.created_at);
                }
            }
        }
        for change in pending_changes {
            self.membership(sink, archived, &change)?;
            last_time = last_time.max(change.at);
        }
        if started
            && let Sink::Single(file) = sink
            && self.format == ExportFormat::Actiance
        {
            write!(
                file,
                "<EndTimeUTC>{}</EndTimeUTC>\n</Conversation>\n",
                last_time.div_euclid(1000)
            )?;
        }
        Ok(())
    }

    async fn ensure_people(&mut self, ids: &[UserId]) -> Result<(), ExportError> {
        let mut missing: Vec<UserId> = ids
            .iter()
            .copied()
            .filter(|id| !self.people.contains_key(id))
            .collect();
        missing.sort_unstable();
        missing.dedup();
        if missing.is_empty() {
            return Ok(());
        }
        for user in self.store.users_by_ids(&missing).await? {
            self.people.insert(user.id, user);
        }
        Ok(())
    }

    fn email(&self, id: UserId) -> String {
        self.people.get(&id).map_or_else(
            || format!("user-{id}@{}", self.mail_domain),
            |user| user.email.clone(),
        )
    }

    fn name(&self, id: UserId) -> String {
        self.people
            .get(&id)
            .map_or_else(|| format!("User {id}"), |user| user.name.clone())
    }

    fn recipients(&self, archived: &ArchivedChannel) -> String {
        if archived.member_ids.len() > MAX_LISTED_RECIPIENTS || archived.member_ids.is_empty() {
            return mailbox(
                &room_name(archived),
                &format!("channel-{}@{}", archived.channel.id, self.mail_domain),
            );
        }
        archived
            .member_ids
            .iter()
            .map(|id| mailbox(&self.name(*id), &self.email(*id)))
            .collect::<Vec<_>>()
            .join(",\r\n ")
    }

    fn membership(
        &mut self,
        sink: &mut Sink,
        archived: &ArchivedChannel,
        change: &MembershipChange,
    ) -> Result<(), ExportError> {
        let Sink::Single(file) = sink else {
            return Ok(());
        };
        match self.format {
            ExportFormat::Jsonl => {
                let line = serde_json::json!({
                    "type": "membership",
                    "channel": {"id": archived.channel.id, "name": archived.channel.name, "kind": archived.channel.kind.as_str()},
                    "user": {"id": change.user_id, "email": self.email(change.user_id), "name": self.name(change.user_id)},
                    "action": if change.joined { "joined" } else { "left" },
                    "at": rfc3339(change.at),
                });
                serde_json::to_writer(&mut *file, &line).map_err(std::io::Error::from)?;
                file.write_all(b"\n")?;
            }
            ExportFormat::Actiance => {
                let element = if change.joined {
                    "ParticipantEntered"
                } else {
                    "ParticipantLeft"
                };
                writeln!(
                    file,
                    "<{element}><LoginName>{}</LoginName><UserName>{}</UserName><DateTimeUTC>{}</DateTimeUTC><InternalFlag>TRUE</InternalFlag></{element}>",
                    xml(&self.email(change.user_id)),
                    xml(&self.name(change.user_id)),
                    change.at.div_euclid(1000)
                )?;
            }
            ExportFormat::Csv => {
                let row = [
                    if change.joined { "joined" } else { "left" }.to_string(),
                    String::new(),
                    String::new(),
                    archived.channel.id.to_string(),
                    archived.channel.name.clone(),
                    archived.channel.kind.as_str().to_string(),
                    String::new(),
                    self.email(change.user_id),
                    self.name(change.user_id),
                    rfc3339(change.at),
                    String::new(),
                    String::new(),
                ];
                write_csv_row(file, &row)?;
            }
            ExportFormat::Eml => {}
        }
        Ok(())
    }

    async fn message(
        &mut self,
        sink: &mut Sink,
        archived: &ArchivedChannel,
        recipients: &str,
        message: &ArchivedMessage,
    ) -> Result<(), ExportError> {
        self.counts.messages += 1;
        self.counts.versions += message.versions.len() as u64;
        self.counts.edits += message.versions.len().saturating_sub(1) as u64;
        self.counts.deletions += u64::from(message.message.deleted_at.is_some());
        self.counts.attachments += message.message.attachments.len() as u64;
        match (self.format, sink) {
            (ExportFormat::Jsonl, Sink::Single(file)) => {
                let names = self.copy_attachments(message).await?;
                self.jsonl(file, archived, message, &names)?;
            }
            (ExportFormat::Csv, Sink::Single(file)) => {
                let names = self.copy_attachments(message).await?;
                self.csv(file, archived, message, &names)?;
            }
            (ExportFormat::Actiance, Sink::Single(file)) => {
                let names = self.copy_attachments(message).await?;
                self.actiance(file, message, &names)?;
            }
            _ => self.eml(archived, recipients, message).await?,
        }
        Ok(())
    }

    /// Copies each attachment's bytes to `attachments/ID-NAME`; answers
    /// the relative names (empty for a missing blob).
    async fn copy_attachments(
        &mut self,
        message: &ArchivedMessage,
    ) -> Result<Vec<String>, ExportError> {
        let mut names = Vec::new();
        for attachment in &message.message.attachments {
            let name = format!(
                "attachments/{}-{}",
                attachment.id,
                safe_file_name(&attachment.name)
            );
            let Some(mut blob) = self.open_blob(attachment).await? else {
                names.push(String::new());
                continue;
            };
            let mut file = HashedFile::create(&self.out, &name)?;
            let mut buffer = vec![0u8; 64 * 1024];
            loop {
                let read = blob.read(&mut buffer).await?;
                if read == 0 {
                    break;
                }
                file.write_all(&buffer[..read])?;
            }
            self.files.push(file.finish()?);
            names.push(name);
        }
        Ok(names)
    }

    async fn open_blob(
        &mut self,
        attachment: &Attachment,
    ) -> Result<Option<crate::blobs::BlobReader>, ExportError> {
        match self.blobs.open(&attachment.storage_key).await {
            Ok(file) => Ok(Some(file)),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                self.counts.missing_attachments += 1;
                tracing::warn!(
                    attachment = attachment.id,
                    "an exported attachment's bytes are missing"
                );
                Ok(None)
            }
            Err(error) => Err(error.into()),
        }
    }

    fn jsonl(
        &self,
        file: &mut HashedFile,
        archived: &ArchivedChannel,
        archived_message: &ArchivedMessage,
        names: &[String],
    ) -> Result<(), ExportError> {
        let message = &archived_message.message;
        let person = |id: UserId| JsonPerson {
            id,
            email: self.email(id),
            name: self.name(id),
        };
        let line = JsonMessage {
            kind: "message",
            id: message.id,
            channel: JsonChannel {
                id: archived.channel.id,
                name: &archived.channel.name,
                kind: archived.channel.kind.as_str(),
            },
            thread_id: message.thread_id,
            author: person(message.author_id),
            created_at: rfc3339(message.created_at),
            edited_at: message.edited_at.map(rfc3339),
            deleted_at: message.deleted_at.map(rfc3339),
            deleted_by: archived_message.deleted_by.map(person),
            text: &message.text,
            versions: archived_message
                .versions
                .iter()
                .map(|version| JsonVersion {
                    version: version.version,
                    text: &version.text,
                    at: rfc3339(version.created_at),
                    author_id: version.author_id,
                })
                .collect(),
            mentions: message.mentions.iter().map(|id| self.email(*id)).collect(),
            reactions: message
                .reactions
                .iter()
                .map(|reaction| JsonReaction {
                    emoji: &reaction.emoji,
                    users: reaction.user_ids.iter().map(|id| self.email(*id)).collect(),
                })
                .collect(),
            attachments: message
                .attachments
                .iter()
                .zip(names)
                .map(|(attachment, name)| JsonAttachment {
                    id: attachment.id,
                    name: &attachment.name,
                    content_type: &attachment.content_type,
                    size: attachment.size,
                    sha256: &attachment.sha256,
                    file: if name.is_empty() { None } else { Some(name) },
                })
                .collect(),
        };
        serde_json::to_writer(&mut *file, &line).map_err(std::io::Error::from)?;
        file.write_all(b"\n")?;
        Ok(())
    }

    fn csv(
        &self,
        file: &mut HashedFile,
        archived: &ArchivedChannel,
        archived_message: &ArchivedMessage,
        names: &[String],
    ) -> Result<(), ExportError> {
        let message = &archived_message.message;
        let attachments = message
            .attachments
            .iter()
            .zip(names)
            .map(|(attachment, name)| {
                format!(
                    "{} ({}; sha256 {})",
                    attachment.name, name, attachment.sha256
                )
            })
            .collect::<Vec<_>>()
            .join("; ");
        let row = |event: &str,
                   version: String,
                   user: UserId,
                   at: Millis,
                   text: &str,
                   attachments: &str| {
            [
                event.to_string(),
                message.id.to_string(),
                version,
                archived.channel.id.to_string(),
                archived.channel.name.clone(),
                archived.channel.kind.as_str().to_string(),
                message
                    .thread_id
                    .map(|id| id.to_string())
                    .unwrap_or_default(),
                self.email(user),
                self.name(user),
                rfc3339(at),
                text.to_string(),
                attachments.to_string(),
            ]
        };
        if archived_message.versions.is_empty() {
            write_csv_row(
                file,
                &row(
                    "posted",
                    "1".into(),
                    message.author_id,
                    message.created_at,
                    &message.text,
                    &attachments,
                ),
            )?;
        }
        for version in &archived_message.versions {
            let event = if version.version == 1 {
                "posted"
            } else {
                "edited"
            };
            let files = if version.version == 1 {
                attachments.as_str()
            } else {
                ""
            };
            write_csv_row(
                file,
                &row(
                    event,
                    version.version.to_string(),
                    version.author_id,
                    version.created_at,
                    &version.text,
                    files,
                ),
            )?;
        }
        if let Some(deleted_at) = message.deleted_at {
            let by = archived_message.deleted_by.unwrap_or(message.author_id);
            write_csv_row(file, &row("deleted", String::new(), by, deleted_at, "", ""))?;
        }
        Ok(())
    }

    fn actiance(
        &self,
        file: &mut HashedFile,
        archived_message: &ArchivedMessage,
        names: &[String],
    ) -> Result<(), ExportError> {
        let message = &archived_message.message;
        let author_email = xml(&self.email(message.author_id));
        let author_name = xml(&self.name(message.author_id));
        let thread = message
            .thread_id
            .map(|id| format!("<ThreadID>{id}</ThreadID>"))
            .unwrap_or_default();
        let first_text = archived_message
            .versions
            .first()
            .map_or(message.text.as_str(), |version| version.text.as_str());
        writeln!(
            file,
            "<Message><MessageID>{}</MessageID>{thread}<LoginName>{author_email}</LoginName><UserName>{author_name}</UserName><UserType>Internal</UserType><DateTimeUTC>{}</DateTimeUTC><Content>{}</Content></Message>",
            message.id,
            message.created_at.div_euclid(1000),
            xml(first_text)
        )?;
        for pair in archived_message.versions.windows(2) {
            let (before, after) = (&pair[0], &pair[1]);
            writeln!(
                file,
                "<MessageEdited><MessageID>{}</MessageID><LoginName>{}</LoginName><UserName>{}</UserName><DateTimeUTC>{}</DateTimeUTC><Content>{}</Content><PreviousContent>{}</PreviousContent></MessageEdited>",
                message.id,
                xml(&self.email(after.author_id)),
                xml(&self.name(after.author_id)),
                after.created_at.div_euclid(1000),
                xml(&after.text),
                xml(&before.text)
            )?;
        }
        for (attachment, name) in message.attachments.iter().zip(names) {
            for element in ["FileTransferStarted", "FileTransferEnded"] {
                writeln!(
                    file,
                    "<{element}><LoginName>{author_email}</LoginName><UserName>{author_name}</UserName><DateTimeUTC>{}</DateTimeUTC><FileName>{}</FileName><FileSize>{}</FileSize><Sha256>{}</Sha256><ExportedFile>{}</ExportedFile><Status>Completed</Status></{element}>",
                    message.created_at.div_euclid(1000),
                    xml(&attachment.name),
                    attachment.size,
                    xml(&attachment.sha256),
                    xml(name)
                )?;
            }
        }
        if let Some(deleted_at) = message.deleted_at {
            let by = archived_message.deleted_by.unwrap_or(message.author_id);
            writeln!(
                file,
                "<MessageDeleted><MessageID>{}</MessageID><LoginName>{}</LoginName><UserName>{}</UserName><DateTimeUTC>{}</DateTimeUTC></MessageDeleted>",
                message.id,
                xml(&self.email(by)),
                xml(&self.name(by)),
                deleted_at.div_euclid(1000)
            )?;
        }
        Ok(())
    }

    async fn eml(
        &mut self,
        archived: &ArchivedChannel,
        recipients: &str,
        archived_message: &ArchivedMessage,
    ) -> Result<(), ExportError> {
        let message = &archived_message.message;
        let domain = &self.mail_domain;
        let boundary = format!(
            "conclave-part-{}-{}",
            message.id,
            hex::encode(&Sha256::digest(message.id.to_be_bytes())[..6])
        );
        let mut head = String::with_capacity(1024);
        let subject_line = message
            .text
            .lines()
            .find(|line| !line.trim().is_empty())
            .unwrap_or("(no text)");
        let subject: String = subject_line.chars().take(70).collect();
        let _ = write!(
            head,
            "From: {}\r\n",
            mailbox(
                &self.name(message.author_id),
                &self.email(message.author_id)
            )
        );
        let _ = write!(head, "To: {recipients}\r\n");
        let _ = write!(head, "Date: {}\r\n", rfc2822(message.created_at));
        let _ = write!(head, "Message-ID: <message-{}@{domain}>\r\n", message.id);
        if let Some(root) = message.thread_id {
            let _ = write!(
                head,
                "In-Reply-To: <message-{root}@{domain}>\r\nReferences: <message-{root}@{domain}>\r\n"
            );
        }
        let _ = write!(
            head,
            "Subject: {}\r\n",
            encode_header_text(&format!("[{}] {subject}", room_name(archived)))
        );
        let _ = write!(
            head,
            "X-Conclave-Channel: {}\r\n",
            encode_header_text(&format!(
                "{} ({})",
                room_name(archived),
                archived.channel.id
            ))
        );
        if let Some(edited_at) = message.edited_at {
            let _ = write!(head, "X-Conclave-Edited: {}\r\n", rfc3339(edited_at));
        }
        if let Some(deleted_at) = message.deleted_at {
            let by = archived_message.deleted_by.unwrap_or(message.author_id);
            let _ = write!(
                head,
                "X-Conclave-Deleted: {} by {}\r\n",
                rfc3339(deleted_at),
                self.email(by)
            );
        }
        let _ = write!(
            head,
            "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\n"
        );

        let mut body = message.text.clone();
        if archived_message.versions.len() > 1 {
            body.push_str("\n\n--- Edit history ---\n");
            for version in &archived_message.versions {
                let _ = write!(
                    body,
                    "Version {} at {} by {}:\n{}\n\n",
                    version.version,
                    rfc3339(version.created_at),
                    self.email(version.author_id),
                    version.text
                );
            }
        }
        if let Some(deleted_at) = message.deleted_at {
            let _ = write!(body, "\n--- Deleted at {} ---\n", rfc3339(deleted_at));
        }

        let mut file = HashedFile::create(&self.out, &format!("eml/{}.eml", message.id))?;
        file.write_all(head.as_bytes())?;
        write!(
            file,
            "--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        )?;
        write_base64_lines(&mut file, body.as_bytes())?;
        for attachment in &message.attachments {
            let Some(mut blob) = self.open_blob(attachment).await? else {
                continue;
            };
            let name = encode_parameter(&attachment.name);
            write!(
                file,
                "--{boundary}\r\nContent-Type: {}; name={name}\r\nContent-Disposition: attachment; filename={name}\r\nContent-Transfer-Encoding: base64\r\n\r\n",
                safe_content_type(&attachment.content_type)
            )?;
            // Whole base64 lines at a time: 57 input bytes make one 76-character line.
            let mut buffer = vec![0u8; 57 * 1024];
            loop {
                let filled = fill(&mut blob, &mut buffer).await?;
                if filled == 0 {
                    break;
                }
                write_base64_lines(&mut file, &buffer[..filled])?;
                if filled < buffer.len() {
                    break;
                }
            }
        }
        write!(file, "--{boundary}--\r\n")?;
        self.files.push(file.finish()?);
        Ok(())
    }
}

/// One `messages.jsonl` line, serialised straight from borrowed data.
#[derive(Serialize)]
struct JsonMessage<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: i64,
    channel: JsonChannel<'a>,
    thread_id: Option<i64>,
    author: JsonPerson,
    created_at: String,
    edited_at: Option<String>,
    deleted_at: Option<String>,
    deleted_by: Option<JsonPerson>,
    text: &'a str,
    versions: Vec<JsonVersion<'a>>,
    mentions: Vec<String>,
    reactions: Vec<JsonReaction<'a>>,
    attachments: Vec<JsonAttachment<'a>>,
}

#[derive(Serialize)]
struct JsonChannel<'a> {
    id: i64,
    name: &'a str,
    kind: &'static str,
}

#[derive(Serialize)]
struct JsonPerson {
    id: i64,
    email: String,
    name: String,
}

#[derive(Serialize)]
struct JsonVersion<'a> {
    version: i64,
    text: &'a str,
    at: String,
    author_id: i64,
}

#[derive(Serialize)]
struct JsonReaction<'a> {
    emoji: &'a str,
    users: Vec<String>,
}

#[derive(Serialize)]
struct JsonAttachment<'a> {
    id: i64,
    name: &'a str,
    content_type: &'a str,
    size: i64,
    sha256: &'a str,
    file: Option<&'a String>,
}

/// Reads until `buffer` is full or the file ends.
async fn fill(
    file: &mut (impl tokio::io::AsyncRead + Unpin),
    buffer: &mut [u8],
) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        let read = file.read(&mut buffer[filled..]).await?;
        if read == 0 {
            break;
        }
        filled += read;
    }
    Ok(filled)
}

fn room_name(archived: &ArchivedChannel) -> String {
    match archived.channel.kind {
        ChannelKind::Public | ChannelKind::Private => format!("#{}", archived.channel.name),
        ChannelKind::Direct | ChannelKind::Group => format!("conversation {}", archived.channel.id),
    }
}

/// RFC 2822 date (`Tue, 1 Jul 2003 10:52:37 +0000`).
pub fn rfc2822(millis: Millis) -> String {
    time::OffsetDateTime::from_unix_timestamp(millis.div_euclid(1000))
        .ok()
        .and_then(|time| {
            time.format(&time::format_description::well_known::Rfc2822)
                .ok()
        })
        .unwrap_or_else(|| "Thu, 01 Jan 1970 00:00:00 +0000".into())
}

/// Base64 in lines of at most 76 characters, CRLF-terminated.
fn write_base64_lines(out: &mut impl Write, bytes: &[u8]) -> std::io::Result<()> {
    for chunk in bytes.chunks(57) {
        out.write_all(
            base64::engine::general_purpose::STANDARD
                .encode(chunk)
                .as_bytes(),
        )?;
        out.write_all(b"\r\n")?;
    }
    Ok(())
}

/// Header text: as is when it is printable ASCII, else an RFC 2047 encoded
/// word; line breaks never survive into a header.
fn encode_header_text(text: &str) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if flat.is_ascii() {
        return flat;
    }
    // Encoded words are at most 75 characters: split on character
    // boundaries into pieces of at most 45 bytes.
    let mut words = Vec::new();
    let mut piece = String::new();
    for c in flat.chars() {
        if piece.len() + c.len_utf8() > 45 {
            words.push(std::mem::take(&mut piece));
        }
        piece.push(c);
    }
    words.push(piece);
    words
        .iter()
        .map(|word| {
            format!(
                "=?UTF-8?B?{}?=",
                base64::engine::general_purpose::STANDARD.encode(word)
            )
        })
        .collect::<Vec<_>>()
        .join("\r\n ")
}

/// `"Display Name" <address>` with the name quoted or encoded.
fn mailbox(name: &str, address: &str) -> String {
    let address: String = address
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '<' | '>' | ',' | ' '))
        .collect();
    let flat: String = name
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if flat.is_ascii() {
        format!(
            "\"{}\" <{address}>",
            flat.replace('\\', "\\\\").replace('"', "\\\"")
        )
    } else {
        format!("{} <{address}>", encode_header_text(&flat))
    }
}

/// A MIME parameter value: quoted ASCII, or an encoded word.
fn encode_parameter(value: &str) -> String {
    let flat: String = value
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if flat.is_ascii() {
        format!("\"{}\"", flat.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        format!("\"{}\"", encode_header_text(&flat).replace("\r\n ", ""))
    }
}

fn safe_content_type(content_type: &str) -> &str {
    let plausible = content_type.split_once('/').is_some_and(|(kind, sub)| {
        !kind.is_empty()
            && !sub.is_empty()
            && content_type
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '-' | '+' | '.'))
    });
    if plausible {
        content_type
    } else {
        "application/octet-stream"
    }
}

/// A file name safe on every filesystem: letters, digits, `.`, `-`, `_`.
fn safe_file_name(name: &str) -> String {
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .take(100)
        .collect();
    let safe = safe.trim_start_matches('.').to_string();
    if safe.is_empty() { "file".into() } else { safe }
}

/// XML character data: escaped, and without characters XML 1.0 forbids.
fn xml(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&apos;"),
            '\t' | '\n' | '\r' => escaped.push(c),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => {
                escaped.push('\u{fffd}')
            }
            c => escaped.push(c),
        }
    }
    escaped
}

/// One RFC 4180 row: every field quoted, quotes doubled, CRLF at the end.
fn write_csv_row(out: &mut impl Write, fields: &[String]) -> std::io::Result<()> {
    let mut line = String::with_capacity(fields.iter().map(|field| field.len() + 3).sum());
    for (index, field) in fields.iter().enumerate() {
        if index > 0 {
            line.push(',');
        }
        line.push('"');
        line.push_str(&field.replace('"', "\"\""));
        line.push('"');
    }
    line.push_str("\r\n");
    out.write_all(line.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_and_text_escaping_table() {
        assert_eq!(encode_header_text("plain"), "plain");
        assert_eq!(encode_header_text("two\r\nlines"), "two  lines");
        assert!(encode_header_text("Grüße").starts_with("=?UTF-8?B?"));
        assert_eq!(mailbox("A \"B\"", "a@x"), "\"A \\\"B\\\"\" <a@x>");
        assert_eq!(
            xml("<a & 'b'>\u{1}"),
            "&lt;a &amp; &apos;b&apos;&gt;\u{fffd}"
        );
        assert_eq!(safe_file_name("../etc/pass wd"), "_etc_pass_wd");
        assert_eq!(
            safe_content_type("text/html; x"),
            "application/octet-stream"
        );
        let mut row = Vec::new();
        write_csv_row(&mut row, &["a\"b".into(), "c,d\ne".into()]).unwrap();
        assert_eq!(String::from_utf8(row).unwrap(), "\"a\"\"b\",\"c,d\ne\"\r\n");
        assert_eq!(rfc2822(0), "Thu, 01 Jan 1970 00:00:00 +0000");
    }
}
