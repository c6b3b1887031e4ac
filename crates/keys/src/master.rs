//! The master key: 32 random bytes the company holds, kept in a file only
//! its owner can read (created on first start) or given in the environment.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::aead::{AES_256_GCM, LessSafeKey, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

use crate::KeyError;

/// Where the master key comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MasterKeySource {
    /// A file holding the key in base64; created with mode 0600 when
    /// missing. Rotation rewrites it.
    File(PathBuf),
    /// The key itself in base64, from configuration or the environment.
    /// Rotation is refused: the new key could not be stored back.
    Value(String),
}

impl MasterKeySource {
    pub fn describe(&self) -> String {
        match self {
            MasterKeySource::File(path) => format!("file {}", path.display()),
            MasterKeySource::Value(_) => "configured value".into(),
        }
    }
}

/// A loaded master key and its fingerprint (which never reveals the key).
pub struct MasterKey {
    pub(crate) key: LessSafeKey,
    pub(crate) fingerprint: String,
}

impl MasterKey {
    pub(crate) fn from_bytes(bytes: &[u8]) -> Result<MasterKey, KeyError> {
        if bytes.len() != 32 {
            return Err(KeyError::Master(format!(
                "a master key is 32 bytes, this one is {}",
                bytes.len()
            )));
        }
        let digest = ring::digest::digest(
            &ring::digest::SHA256,
            &[b"conclave-master-fingerprint".as_slice(), bytes].concat(),
        );
        let fingerprint = digest.as_ref()[..8]
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        let unbound = UnboundKey::new(&AES_256_GCM, bytes)
            .map_err(|_| KeyError::Master("the key was refused by the cipher".into()))?;
        Ok(MasterKey {
            key: LessSafeKey::new(unbound),
            fingerprint,
        })
    }

    pub(crate) fn parse(text: &str) -> Result<MasterKey, KeyError> {
        let bytes = STANDARD.decode(text.trim()).map_err(|error| {
            KeyError::Master(format!("the master key is not valid base64: {error}"))
        })?;
        MasterKey::from_bytes(&bytes)
    }

    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }
}

/// 32 fresh random bytes.
pub(crate) fn random_key_bytes() -> Result<[u8; 32], KeyError> {
    let mut bytes = [0u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| KeyError::Master("the system random generator failed".into()))?;
    Ok(bytes)
}

/// A new random master key in base64, for `keys generate` and rotation.
pub fn generate_master_key() -> Result<String, KeyError> {
    Ok(STANDARD.encode(random_key_bytes()?))
}

/// Reads the key from `source`, creating the file when it is missing.
pub(crate) fn load(source: &MasterKeySource) -> Result<MasterKey, KeyError> {
    match source {
        MasterKeySource::Value(text) => MasterKey::parse(text),
        MasterKeySource::File(path) => {
            if !path.exists() {
                write_key_file(path, &generate_master_key()?)?;
                tracing::info!(path = %path.display(), "generated a new master key; back it up apart from the data");
            }
            read_key_file(path)
        }
    }
}

pub(crate) fn read_key_file(path: &Path) -> Result<MasterKey, KeyError> {
    let text = std::fs::read_to_string(path).map_err(|error| {
        KeyError::Master(format!(
            "reading the master key {}: {error}",
            path.display()
        ))
    })?;
    warn_if_readable_by_others(path);
    MasterKey::parse(&text)
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(metadata) = std::fs::metadata(path)
        && metadata.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(path = %path.display(), "the master key file can be read by other users; chmod 600 it");
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_path: &Path) {}

/// Writes a key file that only its owner can read, durably: the bytes and
/// the directory entry are synced before this returns.
pub(crate) fn write_key_file(path: &Path, key_base64: &str) -> Result<(), KeyError> {
    let failed = |error: std::io::Error| {
        KeyError::Master(format!(
            "writing the master key {}: {error}",
            path.display()
        ))
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(failed)?;
    }
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(failed)?;
    file.write_all(format!("{key_base64}\n").as_bytes())
        .map_err(failed)?;
    file.sync_all().map_err(failed)?;
    sync_parent(path).map_err(failed)
}

pub(crate) fn sync_parent(path: &Path) -> std::io::Result<()> {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => File::open(parent)?.sync_all(),
        _ => Ok(()),
    }
}
