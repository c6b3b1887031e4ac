//! Where attachment bytes live. The local implementation keeps them in the
//! data directory, addressed by content hash; an S3 implementation can take
//! its place behind the same trait.

use std::path::{Path, PathBuf};

use async_trait::async_trait;

#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// Moves a finished temporary file into the store under `key`.
    async fn put_file(&self, key: &str, temporary: &Path) -> std::io::Result<()>;
    async fn put_bytes(&self, key: &str, bytes: Vec<u8>) -> std::io::Result<()>;
    /// Opens a blob for reading.
    async fn open(&self, key: &str) -> std::io::Result<tokio::fs::File>;
    /// A path for a temporary file on the same filesystem as the store.
    fn temporary_path(&self) -> PathBuf;
    /// Removes a blob for good (retention, erasure); a missing blob is not
    /// an error.
    async fn delete(&self, key: &str) -> std::io::Result<()>;
}

pub struct LocalBlobStore {
    root: PathBuf,
}

impl LocalBlobStore {
    pub fn new(root: PathBuf) -> std::io::Result<LocalBlobStore> {
        std::fs::create_dir_all(root.join("tmp"))?;
        Ok(LocalBlobStore { root })
    }

    /// Keys are `kind/hexdigest`; anything else is refused so a key can
    /// never walk out of the store.
    fn path_for(&self, key: &str) -> std::io::Result<PathBuf> {
        let (kind, digest) = key
            .split_once('/')
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "bad blob key"))?;
        let valid = matches!(kind, "sha256" | "thumb")
            && digest.len() >= 4
            && digest.chars().all(|c| c.is_ascii_hexdigit());
        if !valid {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "bad blob key",
            ));
        }
        Ok(self.root.join(kind).join(&digest[..2]).join(digest))
    }
}

#[async_trait]
impl BlobStore for LocalBlobStore {
    async fn put_file(&self, key: &str, temporary: &Path) -> std::io::Result<()> {
        let path = self.path_for(key)?;
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent).await?;
        }
        // Durable before the attachment row points at it.
        tokio::fs::File::open(temporary).await?.sync_all().await?;
        tokio::fs::rename(temporary, &path).await
    }

    async fn put_bytes(&self, key: &str, bytes: Vec<u8>) -> std::io::Result<()> {
        let temporary = self.temporary_path();
        tokio::fs::write(&temporary, bytes).await?;
        self.put_file(key, &temporary).await
    }

    async fn open(&self, key: &str) -> std::io::Result<tokio::fs::File> {
        tokio::fs::File::open(self.path_for(key)?).await
    }

    fn temporary_path(&self) -> PathBuf {
        self.root.join("tmp").join(crate::auth::new_token())
    }

    async fn delete(&self, key: &str) -> std::io::Result<()> {
        match tokio::fs::remove_file(self.path_for(key)?).await {
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn keys_cannot_escape_the_store() {
        let dir = std::env::temp_dir().join(format!("conclave-blobs-{}", std::process::id()));
        let store = LocalBlobStore::new(dir.clone()).unwrap();
        for bad in [
            "../../etc/passwd",
            "sha256/../../x",
            "sha256/zz",
            "other/abcd",
            "sha256",
        ] {
            assert!(store.path_for(bad).is_err(), "{bad}");
        }
        store
            .put_bytes("sha256/abcdef", b"hello".to_vec())
            .await
            .unwrap();
        let mut file = store.open("sha256/abcdef").await.unwrap();
        let mut text = String::new();
        tokio::io::AsyncReadExt::read_to_string(&mut file, &mut text)
            .await
            .unwrap();
        assert_eq!(text, "hello");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
