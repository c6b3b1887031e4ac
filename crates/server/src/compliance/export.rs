//! eDiscovery export: the archive, narrowed by an [`ExportFilter`], written
//! into a directory in one of four formats, plus `manifest.json` with the
//! counts, the filters and the SHA-256 of every file.
//!
//! - `jsonl`: `messages.jsonl`, one JSON object per message with every
//!   version, the deletion, mentions, reactions and attachments, preceded by
//!   one `membership` line per join or leave; attachment bytes under
//!   `attachments/`.
//! - `eml`: one RFC 5322 message per file, with From, To, Date, Message-ID
//!   and In-Reply-To/References for threads; the body carries the edit
//!   history, the deletion and the reactions (also in
//!   `X-Conclave-Reactions`); attachments are base64 MIME parts.
//!   Message-IDs are `<message-ID.INSTALLATION@DOMAIN>`: the installation id
//!   (see [`super::installation`]) keeps two installations' apart, and the
//!   same message exported twice keeps its id. The files are
//!   packed, uncompressed, into `messages-0001.zip`, `messages-0002.zip`, …
//!   (at most [`EML_MESSAGES_PER_ARCHIVE`] messages and about
//!   [`EML_ARCHIVE_BYTES`] each) as `<channel id>-<channel>/<message id>.eml`,
//!   because creating one file per message on disk caps the export at the
//!   filesystem's file-creation rate. The manifest gives each archive's
//!   SHA-256 and message count.
//! - `actiance`: `actiance.xml`, one `Conversation` per channel with joins,
//!   leaves, messages, edits, deletions, file transfers and reactions.
//!   Everyone not on staff (guests and outside people such as WhatsApp
//!   customers) is `External`, and every author enters as a participant.
//! - `csv`: `messages.csv`, one row per posting, edit and deletion; the
//!   posting's row carries the reactions.
//!
//! Memory stays bounded: messages are read a page at a time, channel by
//! channel (the next page is read while the current one is written), and
//! written through buffered, hashing writers. An EML is built in memory
//! unless its attachments make it larger than [`EML_IN_MEMORY_BYTES`]; then
//! it is spooled through a temporary file in the export directory.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{BufWriter, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine as _;
use conclave_domain::compliance::{
    ArchivedChannel, ArchivedMessage, ExportFilter, MembershipChange,
};
use conclave_domain::{Attachment, ChannelKind, Millis, ReactionSummary, Role, User, UserId};
use conclave_store::{Keyring, Store, StoreError};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

use super::archive::{Civil, StoredZip};
use super::rfc3339;
use crate::blobs::BlobStore;

/// Messages read per round trip.
const PAGE: i64 = 1_000;
/// Channels with more members than this are addressed by the channel's own
/// address in EML `To`, rather than listing everyone.
const MAX_LISTED_RECIPIENTS: usize = 100;
/// The most messages one EML archive holds; well under the 65,535 entries
/// a ZIP archive without ZIP64 can count.
pub const EML_MESSAGES_PER_ARCHIVE: u32 = 50_000;
/// After this many bytes the next message starts a new EML archive, so an
/// archive stays a convenient size to copy and ingest (and under ZIP's
/// 4 GiB limit, unless one message alone is larger, which fails the export).
pub const EML_ARCHIVE_BYTES: u64 = 1 << 30;
/// An EML that grows beyond this (through attachments) is spooled to a
/// temporary file instead of memory.
pub const EML_IN_MEMORY_BYTES: usize = 8 << 20;

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
    /// For an EML archive, the messages (`.eml` entries) it holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messages: Option<u64>,
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
/// `manifest.json`. With `seal`, the files are sealed at rest (exports
/// kept in the data directory); the manifest stays readable.
#[allow(clippy::too_many_arguments)]
pub async fn write_export(
    store: &dyn Store,
    blobs: &dyn BlobStore,
    format: ExportFormat,
    filter: &ExportFilter,
    filters: ManifestFilters,
    out: &Path,
    mail_domain: &str,
    seal: Option<Arc<Keyring>>,
) -> Result<Manifest, ExportError> {
    std::fs::create_dir_all(out)?;
    if out.join("manifest.json").exists() {
        return Err(ExportError::Refused(format!(
            "{} already holds an export",
            out.display()
        )));
    }
    let installation = super::installation::installation_id(store).await?;
    let mut exporter = Exporter {
        store,
        installation,
        external: std::collections::HashSet::new(),
        blobs,
        out: out.to_path_buf(),
        seal,
        format,
        mail_domain: mail_domain.to_string(),
        people: HashMap::new(),
        mailboxes: HashMap::new(),
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
    writer: FileOut,
    hasher: Sha256,
    bytes: u64,
}

/// Where an export file's bytes go: as they are (an export written to a
/// directory the caller chose), or sealed with the server's key (exports
/// kept in the data directory, opened again on download). The manifest's
/// checksums are always of the plaintext, which is what recipients get.
enum FileOut {
    Plain(BufWriter<std::fs::File>),
    Sealed {
        file: BufWriter<std::fs::File>,
        sealer: conclave_store::keys::BlobSealer,
        frames: Vec<u8>,
    },
}

fn sealing_error(error: conclave_store::KeyError) -> std::io::Error {
    std::io::Error::other(error.to_string())
}

impl FileOut {
    fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match self {
            FileOut::Plain(file) => file.write_all(bytes),
            FileOut::Sealed {
                file,
                sealer,
                frames,
            } => {
                sealer.push(bytes, frames).map_err(sealing_error)?;
                if !frames.is_empty() {
                    file.write_all(frames)?;
                    frames.clear();
                }
                Ok(())
            }
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            FileOut::Plain(file) | FileOut::Sealed { file, .. } => file.flush(),
        }
    }

    fn finish(self) -> std::io::Result<()> {
        match self {
            FileOut::Plain(mut file) => file.flush(),
            FileOut::Sealed {
                mut file,
                sealer,
                mut frames,
            } => {
                sealer.finish(&mut frames).map_err(sealing_error)?;
                file.write_all(&frames)?;
                file.flush()
            }
        }
    }
}

impl HashedFile {
    fn create(root: &Path, name: &str, seal: Option<&Keyring>) -> std::io::Result<HashedFile> {
        let path = root.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut file = BufWriter::with_capacity(256 * 1024, std::fs::File::create(path)?);
        let writer = match seal {
            None => FileOut::Plain(file),
            Some(keyring) => {
                let sealer = keyring
                    .blob_sealer(conclave_store::keys::SYSTEM_OWNER)
                    .map_err(sealing_error)?;
                file.write_all(&sealer.header())?;
                FileOut::Sealed {
                    file,
                    sealer,
                    frames: Vec::with_capacity(2 * conclave_store::keys::BLOB_FRAME),
                }
            }
        };
        Ok(HashedFile {
            name: name.to_string(),
            writer,
            hasher: Sha256::new(),
            bytes: 0,
        })
    }

    fn finish(self) -> std::io::Result<ManifestFile> {
        // No fsync per file: an export is reproducible, and one fsync per
        // EML file would cap it at the disk's sync rate.
        self.writer.finish()?;
        Ok(ManifestFile {
            name: self.name,
            bytes: self.bytes,
            sha256: hex::encode(self.hasher.finalize()),
            messages: None,
        })
    }
}

impl Write for HashedFile {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.writer.write_all(bytes)?;
        self.hasher.update(bytes);
        self.bytes += bytes.len() as u64;
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.writer.flush()
    }
}

/// What every EML of one channel shares.
struct ChannelHeaders {
    /// `To: …\r\n`.
    to_line: String,
    /// `X-Conclave-Channel: …\r\n`.
    channel_line: String,
    /// `[#room] `, before the subject's text.
    subject_prefix: String,
    /// `<channel id>-<name>/`, before each message's entry name.
    entry_prefix: String,
}

/// Where the writing of one channel has got to, across pages.
struct ChannelProgress {
    pending_changes: std::iter::Peekable<std::vec::IntoIter<MembershipChange>>,
    /// Who has entered the conversation (Actiance): by a join, or before
    /// their first message.
    present: std::collections::HashSet<UserId>,
    started: bool,
    last_time: Millis,
}

struct Exporter<'a> {
    store: &'a dyn Store,
    blobs: &'a dyn BlobStore,
    out: PathBuf,
    /// Seal the files (exports kept in the data directory).
    seal: Option<Arc<Keyring>>,
    format: ExportFormat,
    mail_domain: String,
    /// This installation's id, in every Message-ID.
    installation: String,
    /// The people of `people` who are not on staff: guests and outside
    /// people (WhatsApp customers, imported authors).
    external: std::collections::HashSet<UserId>,
    people: HashMap<UserId, User>,
    /// `"Name" <address>` per person, as EML headers write them.
    mailboxes: HashMap<UserId, String>,
    counts: ManifestCounts,
    files: Vec<ManifestFile>,
}

/// Where the messages go: each single-file format's file, or the EML
/// archives.
enum Sink {
    Jsonl(HashedFile),
    Csv(HashedFile),
    Actiance(HashedFile),
    Eml(Box<EmlArchives>),
}

impl Exporter<'_> {
    async fn run(&mut self, filter: &ExportFilter) -> Result<(), ExportError> {
        let channels = self.store.export_channels(filter).await?;
        let mut sink = match self.format {
            ExportFormat::Jsonl => Sink::Jsonl(HashedFile::create(
                &self.out,
                "messages.jsonl",
                self.seal.as_deref(),
            )?),
            ExportFormat::Csv => {
                let mut file = HashedFile::create(&self.out, "messages.csv", self.seal.as_deref())?;
                file.write_all(
                    b"event,message_id,version,channel_id,channel_name,channel_kind,thread_id,user_email,user_name,at,text,attachments,reactions\r\n",
                )?;
                Sink::Csv(file)
            }
            ExportFormat::Actiance => {
                let mut file = HashedFile::create(&self.out, "actiance.xml", self.seal.as_deref())?;
                file.write_all(b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<FileDump>\n")?;
                Sink::Actiance(file)
            }
            ExportFormat::Eml => Sink::Eml(Box::new(EmlArchives::new(
                &self.out,
                ArchiveLimits::default(),
                self.seal.clone(),
            ))),
        };
        for channel in &channels {
            self.counts.channels += 1;
            self.channel(filter, channel, &mut sink).await?;
        }
        match sink {
            Sink::Jsonl(file) | Sink::Csv(file) => self.files.push(file.finish()?),
            Sink::Actiance(mut file) => {
                file.write_all(b"</FileDump>\n")?;
                self.files.push(file.finish()?);
            }
            Sink::Eml(archives) => self.files.extend(archives.finish()?),
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
        let headers = self.channel_headers(archived);
        let mut progress = ChannelProgress {
            pending_changes: changes.into_iter().peekable(),
            present: std::collections::HashSet::new(),
            started: false,
            last_time: 0,
        };
        let store = self.store;
        let mut page = store.export_messages(filter, channel_id, 0, PAGE).await?;
        while let Some(last) = page.last() {
            // Only a full page can have a successor. It is read (on the
            // store's own thread) while this page is written.
            let next = (page.len() as i64 == PAGE)
                .then(|| store.export_messages(filter, channel_id, last.message.id, PAGE));
            let (next, written) = tokio::join!(
                async {
                    match next {
                        Some(next) => next.await,
                        None => Ok(Vec::new()),
                    }
                },
                self.page(sink, archived, &headers, &page, &mut progress)
            );
            written?;
            page = next?;
        }
        for change in progress.pending_changes.by_ref() {
            self.membership(sink, archived, &change, &mut progress.present)?;
            progress.last_time = progress.last_time.max(change.at);
        }
        if progress.started
            && let Sink::Actiance(file) = sink
        {
            write!(
                file,
                "<EndTimeUTC>{}</EndTimeUTC>\n</Conversation>\n",
                progress.last_time.div_euclid(1000)
            )?;
        }
        Ok(())
    }

    /// Writes one page of a channel's messages, with the membership
    /// changes that came before each.
    async fn page(
        &mut self,
        sink: &mut Sink,
        archived: &ArchivedChannel,
        headers: &ChannelHeaders,
        page: &[ArchivedMessage],
        progress: &mut ChannelProgress,
    ) -> Result<(), ExportError> {
        let mut ids = Vec::new();
        for message in page {
            ids.push(message.message.author_id);
            ids.extend(message.message.mentions.iter().copied());
            ids.extend(message.deleted_by);
            ids.extend(message.versions.iter().map(|version| version.author_id));
            for reaction in &message.message.reactions {
                ids.extend(reaction.user_ids.iter().copied());
            }
        }
        self.ensure_people(&ids).await?;
        for message in page {
            if !progress.started {
                progress.started = true;
                if let Sink::Actiance(file) = sink {
                    let first = progress
                        .pending_changes
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
            while let Some(change) = progress
                .pending_changes
                .next_if(|change| change.at <= message.message.created_at)
            {
                self.membership(sink, archived, &change, &mut progress.present)?;
                progress.last_time = progress.last_time.max(change.at);
            }
            if let Sink::Actiance(file) = sink
                && progress.present.insert(message.message.author_id)
            {
                // An author who never joined (an imported outside person, a
                // member since before the window) is still a participant.
                self.participant(
                    file,
                    "ParticipantEntered",
                    message.message.author_id,
                    message.message.created_at,
                )?;
            }
            self.message(sink, archived, headers, message).await?;
            progress.last_time = progress.last_time.max(
                message
                    .message
                    .deleted_at
                    .unwrap_or(message.message.created_at),
            );
            if let Some(version) = message.versions.last() {
                progress.last_time = progress.last_time.max(version.created_at);
            }
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
            // Only Actiance labels people; outside people are guests, but
            // their row says so whatever their role.
            if self.format == ExportFormat::Actiance
                && (user.role == Role::Guest
                    || self
                        .store
                        .external_participant_by_user(user.id)
                        .await?
                        .is_some())
            {
                self.external.insert(user.id);
            }
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

    /// `"Name" <address>` for a person, made once per person.
    fn mailbox_of(&mut self, id: UserId) -> &str {
        if !self.mailboxes.contains_key(&id) {
            let made = mailbox(&self.name(id), &self.email(id));
            self.mailboxes.insert(id, made);
        }
        self.mailboxes.get(&id).map_or("", String::as_str)
    }

    /// What every EML of a channel shares, made once per channel.
    fn channel_headers(&self, archived: &ArchivedChannel) -> ChannelHeaders {
        let room = room_name(archived);
        let recipients = if archived.member_ids.len() > MAX_LISTED_RECIPIENTS
            || archived.member_ids.is_empty()
        {
            mailbox(
                &room,
                &format!("channel-{}@{}", archived.channel.id, self.mail_domain),
            )
        } else {
            archived
                .member_ids
                .iter()
                .map(|id| mailbox(&self.name(*id), &self.email(*id)))
                .collect::<Vec<_>>()
                .join(",\r\n ")
        };
        let folder = match archived.channel.kind {
            ChannelKind::Public | ChannelKind::Private => safe_file_name(&archived.channel.name),
            ChannelKind::Direct | ChannelKind::Group => "conversation".into(),
        };
        ChannelHeaders {
            to_line: format!("To: {recipients}\r\n"),
            channel_line: format!(
                "X-Conclave-Channel: {}\r\n",
                encode_header_text(&format!("{room} ({})", archived.channel.id))
            ),
            subject_prefix: format!("[{room}] "),
            entry_prefix: format!("{}-{folder}/", archived.channel.id),
        }
    }

    fn membership(
        &mut self,
        sink: &mut Sink,
        archived: &ArchivedChannel,
        change: &MembershipChange,
        present: &mut std::collections::HashSet<UserId>,
    ) -> Result<(), ExportError> {
        match sink {
            Sink::Jsonl(file) => {
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
            Sink::Actiance(file) => {
                let element = if change.joined {
                    present.insert(change.user_id);
                    "ParticipantEntered"
                } else {
                    present.remove(&change.user_id);
                    "ParticipantLeft"
                };
                self.participant(file, element, change.user_id, change.at)?;
            }
            Sink::Csv(file) => {
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
                    String::new(),
                ];
                write_csv_row(file, &row)?;
            }
            // An e-mail archive has no place for joins and leaves; the
            // To header names the members at export time.
            Sink::Eml(_) => {}
        }
        Ok(())
    }

    /// `External` for guests and outside people, else `Internal`.
    fn user_type(&self, id: UserId) -> &'static str {
        if self.external.contains(&id) {
            "External"
        } else {
            "Internal"
        }
    }

    /// `ParticipantEntered` or `ParticipantLeft` for one person.
    fn participant(
        &self,
        file: &mut HashedFile,
        element: &str,
        id: UserId,
        at: Millis,
    ) -> Result<(), ExportError> {
        let internal = if self.external.contains(&id) {
            "FALSE"
        } else {
            "TRUE"
        };
        writeln!(
            file,
            "<{element}><LoginName>{}</LoginName><UserName>{}</UserName><UserType>{}</UserType><DateTimeUTC>{}</DateTimeUTC><InternalFlag>{internal}</InternalFlag></{element}>",
            xml(&self.email(id)),
            xml(&self.name(id)),
            self.user_type(id),
            at.div_euclid(1000)
        )?;
        Ok(())
    }

    /// The reactions as one line of text: `👍 a@x, b@y; 🎉 c@z`.
    fn reactions_text(&self, reactions: &[ReactionSummary]) -> String {
        reactions
            .iter()
            .map(|reaction| {
                let people = reaction
                    .user_ids
                    .iter()
                    .map(|id| self.email(*id))
                    .collect::<Vec<_>>()
                    .join(", ");
                format!("{} {people}", reaction.emoji)
            })
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn message(
        &mut self,
        sink: &mut Sink,
        archived: &ArchivedChannel,
        headers: &ChannelHeaders,
        message: &ArchivedMessage,
    ) -> Result<(), ExportError> {
        self.counts.messages += 1;
        self.counts.versions += message.versions.len() as u64;
        self.counts.edits += message.versions.len().saturating_sub(1) as u64;
        self.counts.deletions += u64::from(message.message.deleted_at.is_some());
        self.counts.attachments += message.message.attachments.len() as u64;
        match sink {
            Sink::Jsonl(file) => {
                let names = self.copy_attachments(message).await?;
                self.jsonl(file, archived, message, &names)?;
            }
            Sink::Csv(file) => {
                let names = self.copy_attachments(message).await?;
                self.csv(file, archived, message, &names)?;
            }
            Sink::Actiance(file) => {
                let names = self.copy_attachments(message).await?;
                self.actiance(file, message, &names)?;
            }
            Sink::Eml(archives) => self.eml(archives, headers, message).await?,
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
            let mut file = HashedFile::create(&self.out, &name, self.seal.as_deref())?;
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
        let reactions = self.reactions_text(&message.reactions);
        let row = |event: &str,
                   version: String,
                   user: UserId,
                   at: Millis,
                   text: &str,
                   attachments: &str| {
            // The reactions are on the message as it stands: on the
            // posting's row.
            let reactions = if event == "posted" {
                reactions.clone()
            } else {
                String::new()
            };
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
                reactions,
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
            "<Message><MessageID>{}</MessageID>{thread}<LoginName>{author_email}</LoginName><UserName>{author_name}</UserName><UserType>{}</UserType><DateTimeUTC>{}</DateTimeUTC><Content>{}</Content></Message>",
            message.id,
            self.user_type(message.author_id),
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
        // Reactions carry no time of their own: they are given at the
        // message's.
        for reaction in &message.reactions {
            for id in &reaction.user_ids {
                writeln!(
                    file,
                    "<Reaction><MessageID>{}</MessageID><LoginName>{}</LoginName><UserName>{}</UserName><UserType>{}</UserType><DateTimeUTC>{}</DateTimeUTC><Content>{}</Content></Reaction>",
                    message.id,
                    xml(&self.email(*id)),
                    xml(&self.name(*id)),
                    self.user_type(*id),
                    message.created_at.div_euclid(1000),
                    xml(&reaction.emoji)
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
        archives: &mut EmlArchives,
        headers: &ChannelHeaders,
        archived_message: &ArchivedMessage,
    ) -> Result<(), ExportError> {
        let message = &archived_message.message;
        archives.spool.reset()?;
        let head = &mut archives.spool.memory;
        head.extend_from_slice(b"From: ");
        head.extend_from_slice(self.mailbox_of(message.author_id).as_bytes());
        head.extend_from_slice(b"\r\n");
        head.extend_from_slice(headers.to_line.as_bytes());
        head.extend_from_slice(b"Date: ");
        push_rfc2822(head, message.created_at);
        head.extend_from_slice(b"\r\n");
        let (installation, domain) = (&self.installation, &self.mail_domain);
        push_message_id(head, b"Message-ID: ", message.id, installation, domain);
        if let Some(root) = message.thread_id {
            push_message_id(head, b"In-Reply-To: ", root, installation, domain);
            push_message_id(head, b"References: ", root, installation, domain);
        }
        push_subject(head, headers, &message.text);
        head.extend_from_slice(headers.channel_line.as_bytes());
        if let Some(edited_at) = message.edited_at {
            head.extend_from_slice(b"X-Conclave-Edited: ");
            head.extend_from_slice(rfc3339(edited_at).as_bytes());
            head.extend_from_slice(b"\r\n");
        }
        if let Some(deleted_at) = message.deleted_at {
            let by = archived_message.deleted_by.unwrap_or(message.author_id);
            head.extend_from_slice(b"X-Conclave-Deleted: ");
            head.extend_from_slice(rfc3339(deleted_at).as_bytes());
            head.extend_from_slice(b" by ");
            head.extend_from_slice(self.email(by).as_bytes());
            head.extend_from_slice(b"\r\n");
        }
        if !message.reactions.is_empty() {
            let reactions = self.reactions_text(&message.reactions);
            head.extend_from_slice(b"X-Conclave-Reactions: ");
            head.extend_from_slice(encode_header_text(&reactions).as_bytes());
            head.extend_from_slice(b"\r\n");
        }
        // Every part is base64, whose alphabet has no `-`, so a boundary
        // with dashes can never occur inside a part.
        let mut boundary = *b"conclave-part-00000000000000000000";
        let digits = decimal(message.id.unsigned_abs(), &mut boundary[14..]);
        let boundary = &boundary[..14 + digits];
        head.extend_from_slice(b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"");
        head.extend_from_slice(boundary);
        head.extend_from_slice(b"\"\r\n\r\n--");
        head.extend_from_slice(boundary);
        head.extend_from_slice(
            b"\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n",
        );
        if archived_message.versions.len() > 1
            || message.deleted_at.is_some()
            || !message.reactions.is_empty()
        {
            let body = self.body_with_history(archived_message);
            push_base64_lines(head, &mut archives.base64, body.as_bytes());
        } else {
            push_base64_lines(head, &mut archives.base64, message.text.as_bytes());
        }
        for attachment in &message.attachments {
            let Some(mut blob) = self.open_blob(attachment).await? else {
                continue;
            };
            let name = encode_parameter(&attachment.name);
            let part = &mut archives.spool;
            part.write_all(b"--")?;
            part.write_all(boundary)?;
            write!(
                part,
                "\r\nContent-Type: {}; name={name}\r\nContent-Disposition: attachment; filename={name}\r\nContent-Transfer-Encoding: base64\r\n\r\n",
                safe_content_type(&attachment.content_type)
            )?;
            // Whole base64 lines at a time: 57 input bytes make one 76-character line.
            let mut buffer = vec![0u8; 57 * 1024];
            loop {
                let filled = fill(&mut blob, &mut buffer).await?;
                if filled == 0 {
                    break;
                }
                archives.write_base64_lines(&buffer[..filled])?;
                if filled < buffer.len() {
                    break;
                }
            }
        }
        let part = &mut archives.spool;
        part.write_all(b"--")?;
        part.write_all(boundary)?;
        part.write_all(b"--\r\n")?;
        archives.entry_name.clear();
        archives.entry_name.push_str(&headers.entry_prefix);
        let _ = write!(archives.entry_name, "{}.eml", message.id);
        archives.add(message.created_at.div_euclid(1000))?;
        Ok(())
    }

    /// The text, then every version with its time and author, then the
    /// deletion, then the reactions: what an edited, deleted or reacted-to
    /// message's body says.
    fn body_with_history(&self, archived_message: &ArchivedMessage) -> String {
        let message = &archived_message.message;
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
        if !message.reactions.is_empty() {
            body.push_str("\n\n--- Reactions ---\n");
            for reaction in &message.reactions {
                let people = reaction
                    .user_ids
                    .iter()
                    .map(|id| format!("{} <{}>", self.name(*id), self.email(*id)))
                    .collect::<Vec<_>>()
                    .join(", ");
                let _ = writeln!(body, "{} by {people}", reaction.emoji);
            }
        }
        body
    }
}

/// How EML messages are split into archives and when one is spooled.
#[derive(Debug, Clone, Copy)]
struct ArchiveLimits {
    messages: u32,
    bytes: u64,
    in_memory: usize,
}

impl Default for ArchiveLimits {
    fn default() -> Self {
        ArchiveLimits {
            messages: EML_MESSAGES_PER_ARCHIVE,
            bytes: EML_ARCHIVE_BYTES,
            in_memory: EML_IN_MEMORY_BYTES,
        }
    }
}

/// The EML archives of an export, `messages-0001.zip` onwards, and the
/// message being built.
struct EmlArchives {
    root: PathBuf,
    seal: Option<Arc<Keyring>>,
    limits: ArchiveLimits,
    current: Option<StoredZip<HashedFile>>,
    finished: Vec<ManifestFile>,
    spool: Spool,
    /// Reused for base64 text, so encoding allocates nothing per message.
    base64: String,
    /// Reused for the entry name of the message being built.
    entry_name: String,
}

impl EmlArchives {
    fn new(root: &Path, limits: ArchiveLimits, seal: Option<Arc<Keyring>>) -> EmlArchives {
        EmlArchives {
            root: root.to_path_buf(),
            seal,
            limits,
            current: None,
            finished: Vec::new(),
            spool: Spool {
                path: root.join(".message.eml.tmp"),
                limit: limits.in_memory,
                memory: Vec::with_capacity(16 * 1024),
                file: None,
                crc: crc32fast::Hasher::new(),
                spilled_len: 0,
            },
            base64: String::new(),
            entry_name: String::new(),
        }
    }

    /// Appends `bytes` to the message being built as base64 lines of 76
    /// characters, CRLF-terminated.
    fn write_base64_lines(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.base64.clear();
        base64::engine::general_purpose::STANDARD.encode_string(bytes, &mut self.base64);
        for line in self.base64.as_bytes().chunks(76) {
            self.spool.write_all(line)?;
            self.spool.write_all(b"\r\n")?;
        }
        Ok(())
    }

    /// Adds the message being built as `entry_name`, first starting a new
    /// archive when the current one is full.
    fn add(&mut self, modified_unix_seconds: i64) -> std::io::Result<()> {
        let len = self.spool.len();
        let name_len = self.entry_name.len();
        if let Some(current) = &self.current {
            let full = current.entries() >= self.limits.messages
                || current.finished_size() + len > self.limits.bytes
                || !current.fits(name_len, len);
            if full {
                self.finish_current()?;
            }
        }
        let archive = match &mut self.current {
            Some(archive) => archive,
            None => {
                let name = format!("messages-{:04}.zip", self.finished.len() + 1);
                let file = HashedFile::create(&self.root, &name, self.seal.as_deref())?;
                self.current.insert(StoredZip::new(file))
            }
        };
        self.spool
            .add_to(archive, &self.entry_name, modified_unix_seconds)
    }

    fn finish_current(&mut self) -> std::io::Result<()> {
        if let Some(archive) = self.current.take() {
            let messages = archive.entries();
            let mut file = archive.finish()?.finish()?;
            file.messages = Some(u64::from(messages));
            self.finished.push(file);
        }
        Ok(())
    }

    /// Finishes the last archive; answers every archive for the manifest.
    fn finish(mut self) -> std::io::Result<Vec<ManifestFile>> {
        self.finish_current()?;
        self.spool.reset()?;
        Ok(self.finished)
    }
}

/// One message's EML while it is built: in memory, or once it grows past
/// `limit` (large attachments), in a temporary file, with the CRC-32 the
/// archive's header needs computed on the way.
struct Spool {
    path: PathBuf,
    limit: usize,
    memory: Vec<u8>,
    file: Option<BufWriter<std::fs::File>>,
    crc: crc32fast::Hasher,
    spilled_len: u64,
}

impl Spool {
    /// Empties the spool for the next message.
    fn reset(&mut self) -> std::io::Result<()> {
        self.memory.clear();
        if self.file.take().is_some() {
            std::fs::remove_file(&self.path)?;
        }
        self.crc = crc32fast::Hasher::new();
        self.spilled_len = 0;
        Ok(())
    }

    fn len(&self) -> u64 {
        if self.file.is_some() {
            self.spilled_len
        } else {
            self.memory.len() as u64
        }
    }

    fn spill(&mut self) -> std::io::Result<()> {
        // Read back into the archive once the message is complete.
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&self.path)?;
        let mut file = BufWriter::with_capacity(256 * 1024, file);
        file.write_all(&self.memory)?;
        self.crc = crc32fast::Hasher::new();
        self.crc.update(&self.memory);
        self.spilled_len = self.memory.len() as u64;
        self.memory.clear();
        self.file = Some(file);
        Ok(())
    }

    /// Writes the message into `archive` as `name` and empties the spool.
    fn add_to(
        &mut self,
        archive: &mut StoredZip<HashedFile>,
        name: &str,
        modified_unix_seconds: i64,
    ) -> std::io::Result<()> {
        let Some(file) = self.file.take() else {
            archive.add(name, modified_unix_seconds, &self.memory)?;
            self.memory.clear();
            return Ok(());
        };
        let mut file = file.into_inner().map_err(|error| error.into_error())?;
        file.seek(std::io::SeekFrom::Start(0))?;
        let crc = std::mem::replace(&mut self.crc, crc32fast::Hasher::new()).finalize();
        let copied = archive.add_from(
            name,
            modified_unix_seconds,
            crc,
            self.spilled_len,
            &mut std::io::BufReader::with_capacity(256 * 1024, file),
        );
        self.spilled_len = 0;
        std::fs::remove_file(&self.path)?;
        copied
    }
}

impl Write for Spool {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        if let Some(file) = &mut self.file {
            file.write_all(bytes)?;
            self.crc.update(bytes);
            self.spilled_len += bytes.len() as u64;
            return Ok(bytes.len());
        }
        self.memory.extend_from_slice(bytes);
        if self.memory.len() > self.limit {
            self.spill()?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
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

/// Writes `value` in decimal at the start of `out`; answers the digits
/// written. `out` must hold 20 bytes, enough for any `u64`.
fn decimal(mut value: u64, out: &mut [u8]) -> usize {
    let mut reversed = [0u8; 20];
    let mut count = 0;
    loop {
        reversed[count] = b'0' + (value % 10) as u8;
        count += 1;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    for (slot, digit) in out.iter_mut().zip(reversed[..count].iter().rev()) {
        *slot = *digit;
    }
    count
}

/// `Name: <message-ID.INSTALLATION@domain>\r\n`.
fn push_message_id(out: &mut Vec<u8>, name: &[u8], id: i64, installation: &str, domain: &str) {
    let mut digits = [0u8; 20];
    let used = decimal(id.unsigned_abs(), &mut digits);
    out.extend_from_slice(name);
    out.extend_from_slice(b"<message-");
    if id < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&digits[..used]);
    out.push(b'.');
    out.extend_from_slice(installation.as_bytes());
    out.push(b'@');
    out.extend_from_slice(domain.as_bytes());
    out.extend_from_slice(b">\r\n");
}

/// `Subject: [#room] first line of the text\r\n`, at most 70 characters of
/// the text; encoded when anything in it is not printable ASCII.
fn push_subject(out: &mut Vec<u8>, headers: &ChannelHeaders, text: &str) {
    let line = text
        .lines()
        .find(|line| !line.trim().is_empty())
        .unwrap_or("(no text)");
    let printable = |text: &str| text.bytes().all(|byte| (0x20..0x7f).contains(&byte));
    out.extend_from_slice(b"Subject: ");
    if printable(&headers.subject_prefix) && printable(line) {
        out.extend_from_slice(headers.subject_prefix.as_bytes());
        out.extend_from_slice(&line.as_bytes()[..line.len().min(70)]);
    } else {
        let subject: String = line.chars().take(70).collect();
        let text = format!("{}{subject}", headers.subject_prefix);
        out.extend_from_slice(encode_header_text(&text).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
}

/// Base64 in lines of 76 characters, CRLF-terminated, through `scratch`.
fn push_base64_lines(out: &mut Vec<u8>, scratch: &mut String, bytes: &[u8]) {
    scratch.clear();
    base64::engine::general_purpose::STANDARD.encode_string(bytes, scratch);
    out.reserve(scratch.len() + scratch.len() / 38 + 2);
    for line in scratch.as_bytes().chunks(76) {
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
}

/// An RFC 2822 date (`Tue, 01 Jul 2003 10:52:37 +0000`), as `time`
/// formats it, without allocating.
fn push_rfc2822(out: &mut Vec<u8>, millis: Millis) {
    const DAYS: [&[u8]; 7] = [b"Sun", b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat"];
    const MONTHS: [&[u8]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    let civil = Civil::from_unix_seconds(millis.div_euclid(1000));
    // RFC 2822 has four-digit years from 1900 on.
    if !(1900..=9999).contains(&civil.year) {
        out.extend_from_slice(b"Thu, 01 Jan 1970 00:00:00 +0000");
        return;
    }
    let two = |out: &mut Vec<u8>, value: u32| {
        out.push(b'0' + (value / 10) as u8);
        out.push(b'0' + (value % 10) as u8);
    };
    out.extend_from_slice(DAYS[civil.weekday as usize % 7]);
    out.extend_from_slice(b", ");
    two(out, civil.day);
    out.push(b' ');
    out.extend_from_slice(MONTHS[(civil.month as usize + 11) % 12]);
    out.push(b' ');
    let year = civil.year as u32;
    two(out, year / 100);
    two(out, year % 100);
    out.push(b' ');
    two(out, civil.hour);
    out.push(b':');
    two(out, civil.minute);
    out.push(b':');
    two(out, civil.second);
    out.extend_from_slice(b" +0000");
}

/// RFC 2822 date (`Tue, 01 Jul 2003 10:52:37 +0000`).
pub fn rfc2822(millis: Millis) -> String {
    let mut out = Vec::with_capacity(31);
    push_rfc2822(&mut out, millis);
    String::from_utf8(out).unwrap_or_default()
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

    #[test]
    fn dates_match_the_time_crate() {
        for millis in [
            1_700_000_000_123_i64,
            951_825_599_000, // 2000-02-29 11:59:59
            4_102_444_800_000,
            1_709_251_199_999,
            -2_208_988_800_000, // 1900-01-01
        ] {
            let expected = time::OffsetDateTime::from_unix_timestamp(millis.div_euclid(1000))
                .unwrap()
                .format(&time::format_description::well_known::Rfc2822)
                .unwrap();
            assert_eq!(rfc2822(millis), expected, "{millis}");
        }
        assert_eq!(
            rfc2822(-2_208_988_801_000),
            "Thu, 01 Jan 1970 00:00:00 +0000",
            "before 1900 RFC 2822 has no date"
        );
    }

    #[test]
    fn subjects_are_the_first_line_and_encoded_only_when_needed() {
        let headers = ChannelHeaders {
            to_line: String::new(),
            channel_line: String::new(),
            subject_prefix: "[#deal] ".into(),
            entry_prefix: String::new(),
        };
        let subject = |text: &str| {
            let mut out = Vec::new();
            push_subject(&mut out, &headers, text);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(subject("\n  \nHello\nworld"), "Subject: [#deal] Hello\r\n");
        assert_eq!(subject(""), "Subject: [#deal] (no text)\r\n");
        assert_eq!(
            subject(&"a".repeat(100)),
            format!("Subject: [#deal] {}\r\n", "a".repeat(70))
        );
        assert_eq!(subject("tab\there"), "Subject: [#deal] tab here\r\n");
        assert!(subject("Grüße").starts_with("Subject: =?UTF-8?B?"));
        let mut id = Vec::new();
        push_message_id(&mut id, b"Message-ID: ", 1234, "0a1b", "x.invalid");
        assert_eq!(id, b"Message-ID: <message-1234.0a1b@x.invalid>\r\n");
    }

    /// Every entry of every archive in `files`, read with the `zip` crate
    /// (which checks each entry's CRC-32), after checking the manifest's
    /// size, SHA-256 and message count.
    fn read_archives(dir: &Path, files: &[ManifestFile]) -> Vec<Vec<(String, Vec<u8>)>> {
        use std::io::Read;
        files
            .iter()
            .map(|file| {
                let bytes = std::fs::read(dir.join(&file.name)).unwrap();
                assert_eq!(bytes.len() as u64, file.bytes);
                assert_eq!(hex::encode(Sha256::digest(&bytes)), file.sha256);
                let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
                let entries: Vec<(String, Vec<u8>)> = (0..archive.len())
                    .map(|index| {
                        let mut entry = archive.by_index(index).unwrap();
                        let mut content = Vec::new();
                        entry.read_to_end(&mut content).unwrap();
                        (entry.name().unwrap().to_string(), content)
                    })
                    .collect();
                assert_eq!(file.messages, Some(entries.len() as u64), "{}", file.name);
                entries
            })
            .collect()
    }

    fn scratch_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("conclave-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn eml_archives_split_by_count_and_spool_large_messages() {
        let dir = scratch_dir("eml-archives-count");
        let limits = ArchiveLimits {
            messages: 2,
            bytes: 1 << 30,
            in_memory: 64,
        };
        let mut archives = EmlArchives::new(&dir, limits, None);
        let mut expected = Vec::new();
        for id in 1..=5 {
            archives.spool.reset().unwrap();
            // The third message outgrows memory half-way and is spooled.
            let halves = [
                format!("Subject: {id}\r\n\r\n"),
                "x".repeat(if id == 3 { 1_000 } else { 10 }),
            ];
            for half in &halves {
                archives.spool.write_all(half.as_bytes()).unwrap();
            }
            assert_eq!(archives.spool.file.is_some(), id == 3);
            archives.entry_name = format!("7-room/{id}.eml");
            archives.add(1_700_000_000).unwrap();
            assert!(!dir.join(".message.eml.tmp").exists(), "spool removed");
            expected.push((archives.entry_name.clone(), halves.concat().into_bytes()));
        }
        let files = archives.finish().unwrap();
        let names: Vec<&str> = files.iter().map(|file| file.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "messages-0001.zip",
                "messages-0002.zip",
                "messages-0003.zip"
            ]
        );
        let read = read_archives(&dir, &files);
        assert_eq!(read.concat(), expected);
        assert_eq!(read.iter().map(Vec::len).collect::<Vec<_>>(), [2, 2, 1]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn eml_archives_split_by_size_but_keep_an_oversized_message_whole() {
        let dir = scratch_dir("eml-archives-size");
        let limits = ArchiveLimits {
            messages: 1_000,
            bytes: 400,
            in_memory: 1 << 20,
        };
        let mut archives = EmlArchives::new(&dir, limits, None);
        for (id, size) in [(1, 100), (2, 100), (3, 1_000), (4, 10)] {
            archives.spool.reset().unwrap();
            archives.spool.write_all(&vec![b'y'; size]).unwrap();
            archives.entry_name = format!("{id}.eml");
            archives.add(0).unwrap();
        }
        let files = archives.finish().unwrap();
        let read = read_archives(&dir, &files);
        let names: Vec<Vec<&str>> = read
            .iter()
            .map(|entries| entries.iter().map(|(name, _)| name.as_str()).collect())
            .collect();
        assert_eq!(
            names,
            [vec!["1.eml", "2.eml"], vec!["3.eml"], vec!["4.eml"]]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
