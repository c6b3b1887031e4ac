//! Where attachment bytes live. The local implementation keeps them in the
//! data directory, sealed under their uploader's data key (see
//! `conclave_keys`), addressed by content hash and uploader; an S3
//! implementation can take its place behind the same trait.
//!
//! Files are sealed before they touch the disk: uploads are sealed as they
//! stream in ([`BlobSealingWriter`]), and reads open them frame by frame
//! ([`BlobReader`]), so memory stays bounded for files of any size.

use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use async_trait::async_trait;
use axum::body::Bytes;
use conclave_domain::UserId;
use conclave_store::keys::{
    BLOB_FRAME, BLOB_HEADER_LEN, BlobOpener, BlobSealer, blob_key_id, blob_plaintext_len,
};
use conclave_store::{KeyError, Keyring};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncSeekExt, AsyncWriteExt, ReadBuf};

/// The storage key of content with this SHA-256 stored by `owner`: each
/// person's copy is sealed under their own key, so one person's erasure
/// never takes another's file with it.
pub fn content_key(kind: &str, digest: &str, owner: UserId) -> String {
    format!("{kind}/{digest}{:016x}", owner as u64)
}

#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// Moves a finished temporary file (written by a
    /// [`BlobSealingWriter`]) into the store under `key`.
    async fn put_file(&self, key: &str, temporary: &Path) -> io::Result<()>;
    /// Seals `bytes` under the owner's key and stores them under `key`.
    async fn put_bytes(&self, key: &str, bytes: Vec<u8>, owner: UserId) -> io::Result<()>;
    /// Opens a blob for reading its plaintext.
    async fn open(&self, key: &str) -> io::Result<BlobReader>;
    /// A path for a temporary file on the same filesystem as the store.
    fn temporary_path(&self) -> PathBuf;
    /// Removes a blob for good (retention, erasure); a missing blob is not
    /// an error.
    async fn delete(&self, key: &str) -> io::Result<()>;
    /// The keys files are sealed with.
    fn keyring(&self) -> &Arc<Keyring>;
    /// Whether there is room to write: asked by readiness after a write
    /// found the storage full. A store that cannot tell says yes.
    async fn has_room(&self) -> bool {
        true
    }

    /// A blob's whole plaintext.
    async fn read_all(&self, key: &str) -> io::Result<Vec<u8>> {
        let mut reader = self.open(key).await?;
        let mut bytes = Vec::with_capacity(usize::try_from(reader.length).unwrap_or(0));
        reader.read_to_end(&mut bytes).await?;
        Ok(bytes)
    }
}

/// Whether a failed file operation failed because the disk (or the
/// owner's quota) is full.
pub fn is_storage_full(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
    ) || matches!(error.raw_os_error(), Some(28 | 122))
}

/// Temporary files older than this are left over from a process that
/// ended mid-upload; younger ones may be another process's upload in
/// progress (the command line and a server share the data directory).
const TEMPORARY_FILES_OUTLIVE: std::time::Duration = std::time::Duration::from_secs(15 * 60);

fn key_error(error: KeyError) -> io::Error {
    match error {
        KeyError::Shredded(_) => io::Error::new(io::ErrorKind::NotFound, error.to_string()),
        other => io::Error::new(io::ErrorKind::InvalidData, other.to_string()),
    }
}

/// Writes a file sealed as it goes.
pub struct BlobSealingWriter {
    file: tokio::fs::File,
    sealer: BlobSealer,
    buffer: Vec<u8>,
}

impl BlobSealingWriter {
    pub async fn create(
        path: &Path,
        keyring: &Keyring,
        owner: UserId,
    ) -> io::Result<BlobSealingWriter> {
        let sealer = keyring.blob_sealer(owner).map_err(key_error)?;
        let mut file = tokio::fs::File::create(path).await?;
        file.write_all(&sealer.header()).await?;
        Ok(BlobSealingWriter {
            file,
            sealer,
            buffer: Vec::with_capacity(BLOB_FRAME * 2),
        })
    }

    pub async fn write(&mut self, data: &[u8]) -> io::Result<()> {
        self.sealer
            .push(data, &mut self.buffer)
            .map_err(key_error)?;
        if !self.buffer.is_empty() {
            self.file.write_all(&self.buffer).await?;
            self.buffer.clear();
        }
        Ok(())
    }

    /// Seals the last frame and makes the file durable.
    pub async fn finish(mut self) -> io::Result<()> {
        self.sealer.finish(&mut self.buffer).map_err(key_error)?;
        self.file.write_all(&self.buffer).await?;
        self.file.flush().await?;
        self.file.sync_all().await
    }
}

/// A blob's plaintext as a stream of bytes, and its length.
pub struct BlobReader {
    pub length: u64,
    inner: Pin<Box<dyn AsyncRead + Send>>,
}

impl AsyncRead for BlobReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.inner.as_mut().poll_read(cx, buf)
    }
}

/// Reads up to one frame; fewer bytes only at the end of the file.
async fn read_frame(file: &mut tokio::fs::File) -> io::Result<Vec<u8>> {
    let mut frame = vec![0u8; BLOB_FRAME];
    let mut filled = 0;
    while filled < BLOB_FRAME {
        let read = file.read(&mut frame[filled..]).await?;
        if read == 0 {
            break;
        }
        filled += read;
    }
    frame.truncate(filled);
    Ok(frame)
}

impl BlobReader {
    /// Opens a file sealed by a [`BlobSealer`] (or written before
    /// encryption at rest, answered as it is).
    pub async fn open_file(path: &Path, keyring: &Keyring) -> io::Result<BlobReader> {
        let mut file = tokio::fs::File::open(path).await?;
        let total = file.metadata().await?.len();
        let mut header = [0u8; BLOB_HEADER_LEN];
        let sealed = total >= BLOB_HEADER_LEN as u64 && {
            file.read_exact(&mut header).await?;
            blob_key_id(&header).is_some()
        };
        if !sealed {
            // Stored before encryption at rest: as it is.
            file.rewind().await?;
            return Ok(BlobReader {
                length: total,
                inner: Box::pin(file),
            });
        }
        let length = blob_plaintext_len(total).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                "a sealed file of impossible length",
            )
        })?;
        let opener = keyring.blob_opener(&header).map_err(key_error)?;
        let frames = futures_util::stream::try_unfold(
            (file, opener),
            |(mut file, mut opener): (tokio::fs::File, BlobOpener)| async move {
                if opener.is_finished() {
                    return Ok(None);
                }
                let frame = read_frame(&mut file).await?;
                if frame.is_empty() {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the sealed file was cut short",
                    ));
                }
                let plaintext = opener.open_frame(frame).map_err(key_error)?;
                Ok(Some((Bytes::from(plaintext), (file, opener))))
            },
        );
        Ok(BlobReader {
            length,
            inner: Box::pin(tokio_util::io::StreamReader::new(frames)),
        })
    }
}

pub struct LocalBlobStore {
    root: PathBuf,
    keyring: Arc<Keyring>,
}

impl LocalBlobStore {
    /// Opens the store under `root`, removing half-written uploads that a
    /// crash left in its temporary folder.
    pub fn new(root: PathBuf, keyring: Arc<Keyring>) -> io::Result<LocalBlobStore> {
        std::fs::create_dir_all(root.join("tmp"))?;
        let store = LocalBlobStore { root, keyring };
        store.remove_abandoned_temporary_files();
        Ok(store)
    }

    /// Removes temporary files nobody has written to for a while: uploads
    /// that never finished because the process ended. Failures are logged,
    /// never fatal; the next start tries again.
    fn remove_abandoned_temporary_files(&self) {
        let Ok(entries) = std::fs::read_dir(self.root.join("tmp")) else {
            return;
        };
        let now = std::time::SystemTime::now();
        let mut removed = 0usize;
        for entry in entries.flatten() {
            let abandoned = entry.metadata().is_ok_and(|metadata| {
                metadata.is_file()
                    && metadata.modified().is_ok_and(|modified| {
                        now.duration_since(modified)
                            .is_ok_and(|age| age > TEMPORARY_FILES_OUTLIVE)
                    })
            });
            if !abandoned {
                continue;
            }
            match std::fs::remove_file(entry.path()) {
                Ok(()) => removed += 1,
                Err(error) => {
                    tracing::warn!(%error, path = %entry.path().display(), "could not remove an abandoned upload");
                }
            }
        }
        if removed > 0 {
            tracing::info!(removed, "removed uploads a crash left half-written");
        }
    }

    /// Keys are `kind/hexdigest`; anything else is refused so a key can
    /// never walk out of the store.
    fn path_for(&self, key: &str) -> io::Result<PathBuf> {
        let (kind, digest) = key
            .split_once('/')
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "bad blob key"))?;
        let valid = matches!(kind, "sha256" | "thumb")
            && digest.len() >= 4
            && digest.chars().all(|c| c.is_ascii_hexdigit());
        if !valid {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "bad blob key"));
        }
        Ok(self.root.join(kind).join(&digest[..2]).join(digest))
    }
}

#[async_trait]
impl BlobStore for LocalBlobStore {
    async fn put_file(&self, key: &str, temporary: &Path) -> io::Result<()> {
        let path = self.path_for(key)?;
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent).await?;
        }
        // Durable before the attachment row points at it.
        tokio::fs::File::open(temporary).await?.sync_all().await?;
        tokio::fs::rename(temporary, &path).await
    }

    async fn put_bytes(&self, key: &str, bytes: Vec<u8>, owner: UserId) -> io::Result<()> {
        let temporary = self.temporary_path();
        let mut writer = BlobSealingWriter::create(&temporary, &self.keyring, owner).await?;
        let written = async {
            writer.write(&bytes).await?;
            writer.finish().await
        }
        .await;
        if let Err(error) = written {
            let _ = tokio::fs::remove_file(&temporary).await;
            return Err(error);
        }
        self.put_file(key, &temporary).await
    }

    async fn open(&self, key: &str) -> io::Result<BlobReader> {
        BlobReader::open_file(&self.path_for(key)?, &self.keyring).await
    }

    fn temporary_path(&self) -> PathBuf {
        self.root.join("tmp").join(crate::auth::new_token())
    }

    async fn delete(&self, key: &str) -> io::Result<()> {
        match tokio::fs::remove_file(self.path_for(key)?).await {
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
            other => other,
        }
    }

    fn keyring(&self) -> &Arc<Keyring> {
        &self.keyring
    }

    /// Whether a small file can be written and made durable beside the
    /// blobs: what readiness asks after a write found the disk full.
    async fn has_room(&self) -> bool {
        let path = self.temporary_path();
        let written = async {
            let mut file = tokio::fs::File::create(&path).await?;
            file.write_all(&[0u8; 64 * 1024]).await?;
            file.sync_all().await
        }
        .await;
        let _ = tokio::fs::remove_file(&path).await;
        written.is_ok()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn store(name: &str) -> (PathBuf, LocalBlobStore) {
        let dir =
            std::env::temp_dir().join(format!("conclave-blobs-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let keyring = Arc::new(Keyring::open_in_dir(&dir).unwrap());
        let store = LocalBlobStore::new(dir.join("blobs"), keyring).unwrap();
        (dir, store)
    }

    #[tokio::test]
    async fn keys_cannot_escape_the_store() {
        let (dir, store) = store("escape");
        for bad in [
            "../../etc/passwd",
            "sha256/../../x",
            "sha256/zz",
            "other/abcd",
            "sha256",
        ] {
            assert!(store.path_for(bad).is_err(), "{bad}");
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn files_are_sealed_on_disk_and_read_back_whole() {
        let (dir, store) = store("sealed");
        // Several frames, and a recognisable pattern to look for on disk.
        let plaintext: Vec<u8> = b"CONFIDENTIAL-PAYROLL "
            .iter()
            .copied()
            .cycle()
            .take(3 * BLOB_FRAME + 5)
            .collect();
        let key = content_key("sha256", "abcdef", 7);
        store.put_bytes(&key, plaintext.clone(), 7).await.unwrap();
        let on_disk = std::fs::read(store.path_for(&key).unwrap()).unwrap();
        assert!(!on_disk.windows(12).any(|w| w == b"CONFIDENTIAL"));
        let mut reader = store.open(&key).await.unwrap();
        assert_eq!(reader.length, plaintext.len() as u64);
        let mut back = Vec::new();
        reader.read_to_end(&mut back).await.unwrap();
        assert_eq!(back, plaintext);

        // Cut short at a frame boundary: reading fails rather than
        // answering a silently truncated file.
        let path = store.path_for(&key).unwrap();
        std::fs::write(&path, &on_disk[..BLOB_HEADER_LEN + BLOB_FRAME]).unwrap();
        let mut cut = store.open(&key).await.unwrap();
        assert!(cut.read_to_end(&mut Vec::new()).await.is_err());

        // After the owner's key is destroyed the file is unreadable.
        store.put_bytes(&key, plaintext, 7).await.unwrap();
        store.keyring().shred(7).unwrap();
        let gone = store.open(&key).await.err().unwrap();
        assert_eq!(gone.kind(), io::ErrorKind::NotFound);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn uploads_a_crash_left_half_written_are_removed_at_start() {
        let (dir, store) = store("abandoned");
        let tmp = dir.join("blobs").join("tmp");
        let abandoned = tmp.join("abandoned-upload");
        let in_progress = tmp.join("upload-in-progress");
        std::fs::write(&abandoned, b"half of a file").unwrap();
        std::fs::write(&in_progress, b"being written now").unwrap();
        let long_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        std::fs::File::options()
            .write(true)
            .open(&abandoned)
            .unwrap()
            .set_modified(long_ago)
            .unwrap();
        drop(store);

        let _reopened = LocalBlobStore::new(
            dir.join("blobs"),
            Arc::new(Keyring::open_in_dir(&dir).unwrap()),
        )
        .unwrap();
        assert!(!abandoned.exists(), "the abandoned upload is removed");
        assert!(in_progress.exists(), "a live upload is left alone");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn files_stored_before_encryption_are_read_as_they_are() {
        let (dir, store) = store("legacy");
        let path = store.path_for("sha256/abcdef").unwrap();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, b"hello").unwrap();
        assert_eq!(store.read_all("sha256/abcdef").await.unwrap(), b"hello");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
