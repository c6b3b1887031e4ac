//! Reads a `.zip` export: the chat text and the media files beside it.
//!
//! A zip file from outside is untrusted. Entries whose names would escape a
//! directory are refused outright, because a genuine export never has them;
//! and the uncompressed size is counted while reading, not taken from the
//! headers, so a zip bomb stops at the configured limit with a clear error.
//! Nothing is written to disk here.
//!
//! [`ExportZip`] reads an export without holding it: the chat text is fed
//! line by line to a callback (a [`crate::ChatParser`]), and each media file
//! is opened on its own when it is needed, as a reader. [`read_export_zip`]
//! unpacks everything into memory, for small exports and tests.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Seek};

use zip::ZipArchive;
use zip::result::ZipError;

/// Limits on what a zip export may unpack to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArchiveLimits {
    /// The most bytes all entries together may unpack to.
    pub max_total_uncompressed_bytes: u64,
    /// The most bytes one entry (the chat text or one media file) may
    /// unpack to.
    pub max_entry_uncompressed_bytes: u64,
    /// The most bytes the chat text may unpack to: the parsed messages are
    /// held until the dates are settled, so this bounds the memory an
    /// import takes.
    pub max_chat_text_bytes: u64,
    /// The most entries the archive may hold.
    pub max_entries: usize,
}

impl Default for ArchiveLimits {
    /// 2 GiB in all, 2 GiB for one file (WhatsApp's own limit on a shared
    /// file), 512 MiB of chat text (years of a busy group take tens of
    /// megabytes) and 100,000 entries: above the biggest exports phones
    /// produce.
    fn default() -> Self {
        Self {
            max_total_uncompressed_bytes: 2 * 1024 * 1024 * 1024,
            max_entry_uncompressed_bytes: 2 * 1024 * 1024 * 1024,
            max_chat_text_bytes: 512 * 1024 * 1024,
            max_entries: 100_000,
        }
    }
}

/// The contents of a zip export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportArchive {
    /// The member the chat text came from, e.g. `_chat.txt`.
    pub chat_file_name: String,
    pub chat_text: String,
    /// Every other file, in archive order.
    pub media: Vec<MediaFile>,
}

impl ExportArchive {
    /// The media file a message's `file_name` refers to.
    pub fn media_file(&self, file_name: &str) -> Option<&MediaFile> {
        self.media.iter().find(|media| media.file_name == file_name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaFile {
    /// The last path component, which is how the chat text names it.
    pub file_name: String,
    /// The full path inside the archive.
    pub path: String,
    pub bytes: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("not a readable zip archive: {0}")]
    Zip(#[from] ZipError),
    #[error("could not read zip entry {path:?}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("zip entry {path:?} points outside the archive; refusing the whole export")]
    UnsafePath { path: String },
    #[error("the archive has {entries} entries, more than the limit of {limit}")]
    TooManyEntries { entries: usize, limit: usize },
    #[error(
        "the archive unpacks to more than the limit of {limit} bytes (reached while reading {path:?}); \
         raise the limit if this export is genuine"
    )]
    TooLarge { path: String, limit: u64 },
    #[error("zip entry {path:?} unpacks to more than the limit of {limit} bytes for one file")]
    EntryTooLarge { path: String, limit: u64 },
    #[error("the archive holds no chat text file (_chat.txt or \"WhatsApp Chat with ….txt\")")]
    NoChatText,
    #[error("the archive holds several candidate chat text files: {candidates:?}")]
    AmbiguousChatText { candidates: Vec<String> },
    #[error("chat text {path:?} is not valid UTF-8 (invalid byte at offset {offset})")]
    ChatTextNotUtf8 { path: String, offset: usize },
}

/// A zip export opened for reading entry by entry: its directory is
/// checked (entry count, safe names, declared sizes) when it is opened, and
/// nothing is unpacked until asked for.
pub struct ExportZip<R> {
    archive: ZipArchive<R>,
    limits: ArchiveLimits,
    chat_index: usize,
    chat_file_name: String,
    /// Every other file's index, by the last component of its path (the
    /// first such file wins, as in [`ExportArchive::media_file`]).
    media: HashMap<String, usize>,
    /// Indexes of every other file, in archive order.
    media_order: Vec<usize>,
    /// Bytes unpacked so far, counted against the total limit.
    unpacked: u64,
}

impl<R: Read + Seek> ExportZip<R> {
    /// Reads and checks the archive's directory.
    pub fn open(reader: R, limits: &ArchiveLimits) -> Result<ExportZip<R>, ArchiveError> {
        let mut archive = ZipArchive::new(reader)?;
        if archive.len() > limits.max_entries {
            return Err(ArchiveError::TooManyEntries {
                entries: archive.len(),
                limit: limits.max_entries,
            });
        }
        // The declared sizes are a cheap early refusal; the real guard is
        // the counted read, since the headers can lie.
        let mut declared_total: u64 = 0;
        let mut files: Vec<(usize, String)> = Vec::new();
        for index in 0..archive.len() {
            let entry = archive.by_index_raw(index)?;
            let path = entry.name()?.into_owned();
            if !is_safe_path(&path) || entry.enclosed_name().is_none() {
                return Err(ArchiveError::UnsafePath { path });
            }
            if entry.is_dir() {
                continue;
            }
            if entry.size() > limits.max_entry_uncompressed_bytes {
                return Err(ArchiveError::EntryTooLarge {
                    path,
                    limit: limits.max_entry_uncompressed_bytes,
                });
            }
            declared_total = declared_total.saturating_add(entry.size());
            if declared_total > limits.max_total_uncompressed_bytes {
                return Err(ArchiveError::TooLarge {
                    path,
                    limit: limits.max_total_uncompressed_bytes,
                });
            }
            files.push((index, path));
        }
        let paths: Vec<&str> = files.iter().map(|(_, path)| path.as_str()).collect();
        let chat = find_chat_text(&paths)?;
        let (chat_index, chat_file_name) = files.remove(chat);
        if archive.by_index_raw(chat_index)?.size() > limits.max_chat_text_bytes {
            return Err(ArchiveError::EntryTooLarge {
                path: chat_file_name,
                limit: limits.max_chat_text_bytes,
            });
        }
        let mut media = HashMap::new();
        let mut media_order = Vec::with_capacity(files.len());
        for (index, path) in files {
            media.entry(base_name(&path).to_owned()).or_insert(index);
            media_order.push(index);
        }
        Ok(ExportZip {
            archive,
            limits: *limits,
            chat_index,
            chat_file_name,
            media,
            media_order,
            unpacked: 0,
        })
    }

    /// The member the chat text is read from, e.g. `_chat.txt`.
    pub fn chat_file_name(&self) -> &str {
        &self.chat_file_name
    }

    /// Whether the archive holds a media file of this name.
    pub fn has_media(&self, file_name: &str) -> bool {
        self.media.contains_key(file_name)
    }

    /// Unpacks the chat text as a stream and hands each line to `line`,
    /// without its terminator; answers how many lines there were.
    pub fn read_chat_lines(&mut self, line: impl FnMut(&str)) -> Result<usize, ArchiveError> {
        let limit = self.chat_limit();
        let path = self.chat_file_name.clone();
        let entry = self.archive.by_index(self.chat_index)?;
        let mut counted = CountedEntry::new(entry, limit);
        let lines = read_lines(BufReader::new(&mut counted), &path, line);
        self.unpacked += counted.read;
        let exceeded = counted.exceeded;
        lines.map_err(|error| limit_error(error, &path, exceeded))
    }

    /// Opens the media file named `file_name` (the last component of its
    /// path) as a reader of its unpacked bytes; reading it fails with
    /// [`std::io::ErrorKind::FileTooLarge`] past the limits. `None` when
    /// the archive holds no such file.
    pub fn open_media(
        &mut self,
        file_name: &str,
    ) -> Result<Option<MediaReader<'_, R>>, ArchiveError> {
        let Some(&index) = self.media.get(file_name) else {
            return Ok(None);
        };
        let limit = self.entry_limit();
        let entry = self.archive.by_index(index)?;
        Ok(Some(MediaReader {
            entry: CountedEntry::new(entry, limit),
            unpacked: &mut self.unpacked,
        }))
    }

    /// Unpacks one entry whole, counted against the limits.
    fn read_whole(
        &mut self,
        index: usize,
        limit: EntryLimit,
        path: &str,
    ) -> Result<Vec<u8>, ArchiveError> {
        let entry = self.archive.by_index(index)?;
        let mut counted = CountedEntry::new(entry, limit);
        let mut bytes = Vec::new();
        let read = counted.read_to_end(&mut bytes);
        self.unpacked += counted.read;
        match read {
            Ok(_) => Ok(bytes),
            Err(source) => Err(limit_error(
                ArchiveError::Read {
                    path: path.to_owned(),
                    source,
                },
                path,
                counted.exceeded,
            )),
        }
    }

    /// The most the chat text may unpack to.
    fn chat_limit(&self) -> EntryLimit {
        match self.entry_limit() {
            EntryLimit::Entry(bytes) if bytes > self.limits.max_chat_text_bytes => {
                EntryLimit::Entry(self.limits.max_chat_text_bytes)
            }
            other => other,
        }
    }

    /// The most the next entry may unpack to: its own limit, or what is
    /// left of the total.
    fn entry_limit(&self) -> EntryLimit {
        let left = self
            .limits
            .max_total_uncompressed_bytes
            .saturating_sub(self.unpacked);
        if left < self.limits.max_entry_uncompressed_bytes {
            EntryLimit::Total(left, self.limits.max_total_uncompressed_bytes)
        } else {
            EntryLimit::Entry(self.limits.max_entry_uncompressed_bytes)
        }
    }
}

/// The error for a read that stopped: the limit it passed, if it passed
/// one, else `error` itself.
fn limit_error(error: ArchiveError, path: &str, exceeded: Option<EntryLimit>) -> ArchiveError {
    match exceeded {
        Some(EntryLimit::Entry(limit)) => ArchiveError::EntryTooLarge {
            path: path.to_owned(),
            limit,
        },
        Some(EntryLimit::Total(_, limit)) => ArchiveError::TooLarge {
            path: path.to_owned(),
            limit,
        },
        None => error,
    }
}

/// One media file's unpacked bytes, counted against the limits.
pub struct MediaReader<'a, R: Read> {
    entry: CountedEntry<zip::read::ZipFile<'a, R>>,
    unpacked: &'a mut u64,
}

impl<R: Read> Read for MediaReader<'_, R> {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        let before = self.entry.read;
        let read = self.entry.read(buffer)?;
        *self.unpacked += self.entry.read - before;
        Ok(read)
    }
}

#[derive(Debug, Clone, Copy)]
enum EntryLimit {
    /// The entry's own limit.
    Entry(u64),
    /// What is left of the total (first), and the total.
    Total(u64, u64),
}

impl EntryLimit {
    fn bytes(self) -> u64 {
        match self {
            EntryLimit::Entry(bytes) | EntryLimit::Total(bytes, _) => bytes,
        }
    }
}

/// A reader that counts what it unpacks and fails once past its limit,
/// whatever the zip headers declared.
struct CountedEntry<E> {
    entry: E,
    limit: EntryLimit,
    read: u64,
    exceeded: Option<EntryLimit>,
}

impl<E> CountedEntry<E> {
    fn new(entry: E, limit: EntryLimit) -> Self {
        Self {
            entry,
            limit,
            read: 0,
            exceeded: None,
        }
    }
}

impl<E: Read> Read for CountedEntry<E> {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        let read = self.entry.read(buffer)?;
        self.read += read as u64;
        if self.read > self.limit.bytes() {
            self.exceeded = Some(self.limit);
            return Err(std::io::Error::new(
                std::io::ErrorKind::FileTooLarge,
                format!("unpacks to more than {} bytes", self.limit.bytes()),
            ));
        }
        Ok(read)
    }
}

/// Reads UTF-8 text line by line from `reader`, handing each line to `line`
/// without its `\n`; answers the number of lines. `path` names the text in
/// errors.
pub fn read_lines(
    mut reader: impl BufRead,
    path: &str,
    mut line: impl FnMut(&str),
) -> Result<usize, ArchiveError> {
    let mut buffer = Vec::new();
    let mut offset = 0usize;
    let mut lines = 0usize;
    loop {
        buffer.clear();
        let read = reader
            .read_until(b'\n', &mut buffer)
            .map_err(|source| ArchiveError::Read {
                path: path.to_owned(),
                source,
            })?;
        if read == 0 {
            return Ok(lines);
        }
        let text = buffer.strip_suffix(b"\n").unwrap_or(&buffer);
        let text = std::str::from_utf8(text).map_err(|error| ArchiveError::ChatTextNotUtf8 {
            path: path.to_owned(),
            offset: offset + error.valid_up_to(),
        })?;
        line(text);
        lines += 1;
        offset += read;
    }
}

/// Reads a zip export with the given limits, all of it into memory.
pub fn read_export_zip<R: Read + Seek>(
    reader: R,
    limits: &ArchiveLimits,
) -> Result<ExportArchive, ArchiveError> {
    let mut export = ExportZip::open(reader, limits)?;
    let chat_path = export.chat_file_name.clone();
    let chat_bytes = export.read_whole(export.chat_index, export.chat_limit(), &chat_path)?;
    let chat_text =
        String::from_utf8(chat_bytes).map_err(|error| ArchiveError::ChatTextNotUtf8 {
            path: chat_path,
            offset: error.utf8_error().valid_up_to(),
        })?;
    let mut media = Vec::with_capacity(export.media_order.len());
    for index in export.media_order.clone() {
        let path = export.archive.by_index_raw(index)?.name()?.into_owned();
        let limit = export.entry_limit();
        let bytes = export.read_whole(index, limit, &path)?;
        media.push(MediaFile {
            file_name: base_name(&path).to_owned(),
            path,
            bytes,
        });
    }
    Ok(ExportArchive {
        chat_file_name: export.chat_file_name,
        chat_text,
        media,
    })
}

/// Refuses absolute paths, drive letters, `..` components (with either slash)
/// and NUL bytes, on top of the zip crate's own check.
fn is_safe_path(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('/')
        && !path.starts_with('\\')
        && !path.contains('\0')
        && path.as_bytes().get(1) != Some(&b':')
        && path.split(['/', '\\']).all(|component| component != "..")
}

fn base_name(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

/// Picks the chat text: `_chat.txt` (iOS), else a `.txt` whose name mentions
/// WhatsApp (Android's "WhatsApp Chat with X.txt" and its translations), else
/// the only `.txt` file. Answers its position in `paths`.
fn find_chat_text(paths: &[&str]) -> Result<usize, ArchiveError> {
    let names: Vec<&str> = paths.iter().map(|path| base_name(path)).collect();
    let text_files: Vec<usize> = (0..names.len())
        .filter(|&index| {
            names
                .get(index)
                .is_some_and(|name| name.to_ascii_lowercase().ends_with(".txt"))
        })
        .collect();
    let pick = |candidates: Vec<usize>| -> Result<Option<usize>, ArchiveError> {
        match candidates.as_slice() {
            [] => Ok(None),
            [only] => Ok(Some(*only)),
            several => Err(ArchiveError::AmbiguousChatText {
                candidates: several
                    .iter()
                    .filter_map(|&index| paths.get(index).map(|path| (*path).to_owned()))
                    .collect(),
            }),
        }
    };
    let named_chat = text_files
        .iter()
        .copied()
        .filter(|&index| names.get(index) == Some(&"_chat.txt"))
        .collect();
    if let Some(index) = pick(named_chat)? {
        return Ok(index);
    }
    let mentions_whatsapp = text_files
        .iter()
        .copied()
        .filter(|&index| {
            names
                .get(index)
                .is_some_and(|name| name.to_lowercase().contains("whatsapp"))
        })
        .collect();
    if let Some(index) = pick(mentions_whatsapp)? {
        return Ok(index);
    }
    pick(text_files)?.ok_or(ArchiveError::NoChatText)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsafe_paths_are_recognised() {
        for path in [
            "../x",
            "a/../../x",
            "/etc/passwd",
            "..\\x",
            "C:\\x",
            "a\0b",
            "",
        ] {
            assert!(!is_safe_path(path), "{path:?}");
        }
        for path in ["_chat.txt", "WhatsApp Chat - Team/IMG-1.jpg", "a..b.jpg"] {
            assert!(is_safe_path(path), "{path:?}");
        }
    }
}
