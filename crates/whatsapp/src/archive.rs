//! Reads a `.zip` export: the chat text and the media files beside it.
//!
//! A zip file from outside is untrusted. Entries whose names would escape a
//! directory are refused outright, because a genuine export never has them;
//! and the uncompressed size is counted while reading, not taken from the
//! headers, so a zip bomb stops at the configured limit with a clear error.
//! Nothing is written to disk here.

use std::io::{Read, Seek};

use zip::ZipArchive;
use zip::result::ZipError;

/// Limits on what a zip export may unpack to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArchiveLimits {
    /// The most bytes all entries together may unpack to.
    pub max_total_uncompressed_bytes: u64,
    /// The most entries the archive may hold.
    pub max_entries: usize,
}

impl Default for ArchiveLimits {
    /// 2 GiB and 100,000 entries: above the biggest exports phones produce.
    fn default() -> Self {
        Self {
            max_total_uncompressed_bytes: 2 * 1024 * 1024 * 1024,
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
    #[error("the archive holds no chat text file (_chat.txt or \"WhatsApp Chat with ….txt\")")]
    NoChatText,
    #[error("the archive holds several candidate chat text files: {candidates:?}")]
    AmbiguousChatText { candidates: Vec<String> },
    #[error("chat text {path:?} is not valid UTF-8 (invalid byte at offset {offset})")]
    ChatTextNotUtf8 { path: String, offset: usize },
}

/// Reads a zip export with the given limits.
pub fn read_export_zip<R: Read + Seek>(
    reader: R,
    limits: &ArchiveLimits,
) -> Result<ExportArchive, ArchiveError> {
    let mut archive = ZipArchive::new(reader)?;
    if archive.len() > limits.max_entries {
        return Err(ArchiveError::TooManyEntries {
            entries: archive.len(),
            limit: limits.max_entries,
        });
    }
    let mut remaining = limits.max_total_uncompressed_bytes;
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    for index in 0..archive.len() {
        let mut entry = archive.by_index(index)?;
        let path = entry.name()?.into_owned();
        if !is_safe_path(&path) || entry.enclosed_name().is_none() {
            return Err(ArchiveError::UnsafePath { path });
        }
        if entry.is_dir() {
            continue;
        }
        let too_large = || ArchiveError::TooLarge {
            path: path.clone(),
            limit: limits.max_total_uncompressed_bytes,
        };
        // The declared size is a cheap early refusal; the real guard is the
        // counted read below, since the header can lie.
        if entry.size() > remaining {
            return Err(too_large());
        }
        let mut bytes = Vec::new();
        let read = (&mut entry)
            .take(remaining.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(|source| ArchiveError::Read {
                path: path.clone(),
                source,
            })?;
        let read = read as u64;
        if read > remaining {
            return Err(too_large());
        }
        remaining -= read;
        files.push((path, bytes));
    }

    let chat_index = find_chat_text(&files)?;
    let (chat_path, chat_bytes) = files.remove(chat_index);
    let chat_text =
        String::from_utf8(chat_bytes).map_err(|error| ArchiveError::ChatTextNotUtf8 {
            path: chat_path.clone(),
            offset: error.utf8_error().valid_up_to(),
        })?;
    let media = files
        .into_iter()
        .map(|(path, bytes)| MediaFile {
            file_name: base_name(&path).to_owned(),
            path,
            bytes,
        })
        .collect();
    Ok(ExportArchive {
        chat_file_name: chat_path,
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
/// the only `.txt` file.
fn find_chat_text(files: &[(String, Vec<u8>)]) -> Result<usize, ArchiveError> {
    let names: Vec<&str> = files.iter().map(|(path, _)| base_name(path)).collect();
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
                    .filter_map(|&index| files.get(index).map(|(path, _)| path.clone()))
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
