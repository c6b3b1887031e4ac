//! Envelope encryption at rest, and crypto-shredding.
//!
//! A master key the company holds wraps one random data key per owner (a
//! person's user id; [`SYSTEM_OWNER`] for server secrets). Message text,
//! edit history and files are sealed with AES-256-GCM under their author's
//! data key. The wrapped data keys live in their own small database,
//! `keys.db`, apart from the content: restoring a content backup next to
//! the current keystore recovers everyone except the people whose keys were
//! destroyed. Erasing a person destroys their key ([`Keyring::shred`]), so
//! their content is unrecoverable wherever a copy of it lies, backups
//! included; rotating the master key ([`Keyring::rotate_master`]) makes
//! older copies of the keystore itself useless.

mod envelope;
mod master;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

pub use envelope::{
    BLOB_CHUNK, BLOB_FRAME, BLOB_HEADER_LEN, BlobOpener, BlobSealer, TEXT_PREFIX, blob_key_id,
    blob_plaintext_len,
};
pub use master::{MasterKeySource, generate_master_key};

use master::MasterKey;

/// Whose data key seals a piece of content: a user id, or
/// [`SYSTEM_OWNER`].
pub type OwnerId = i64;

/// The owner of the server's own secrets (such as TOTP seeds).
pub const SYSTEM_OWNER: OwnerId = 0;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("master key: {0}")]
    Master(String),
    #[error("keystore: {0}")]
    Store(String),
    #[error("data key {0} was destroyed: what it sealed is unrecoverable")]
    Shredded(u64),
    #[error("data key {0} is not in this keystore")]
    Unknown(u64),
    #[error("the sealed content is damaged or was altered")]
    Corrupt,
}

fn store_error(error: rusqlite::Error) -> KeyError {
    KeyError::Store(error.to_string())
}

/// What `keys status` and `keys rotate` report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyringStatus {
    pub source: String,
    pub fingerprint: String,
    pub data_keys: u64,
    pub destroyed_keys: u64,
}

/// What one rotation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    pub previous_fingerprint: String,
    pub fingerprint: String,
    pub rewrapped: u64,
}

pub struct Keyring {
    path: PathBuf,
    source: MasterKeySource,
    master: RwLock<Arc<MasterKey>>,
    connection: Mutex<Connection>,
    keys: RwLock<HashMap<u64, Arc<LessSafeKey>>>,
    current: RwLock<HashMap<OwnerId, u64>>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("path", &self.path)
            .field("source", &self.source.describe())
            .finish_non_exhaustive()
    }
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS data_keys (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    owner      INTEGER NOT NULL UNIQUE,
    wrapped    BLOB NOT NULL,
    master     TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
-- Which keys were destroyed and when: no key material, so a reader can
-- tell erased content from a damaged keystore.
CREATE TABLE IF NOT EXISTS destroyed_keys (
    key_id       INTEGER PRIMARY KEY,
    owner        INTEGER NOT NULL,
    destroyed_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS keystore (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    master TEXT NOT NULL
);";

fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis() as i64)
        .unwrap_or_default()
}

fn wrap_aad(owner: OwnerId) -> [u8; 25] {
    let mut aad = [0u8; 25];
    aad[..17].copy_from_slice(b"conclave-data-key");
    aad[17..].copy_from_slice(&owner.to_be_bytes());
    aad
}

fn wrap(master: &MasterKey, owner: OwnerId, key: &[u8]) -> Result<Vec<u8>, KeyError> {
    let mut nonce = [0u8; NONCE_LEN];
    SystemRandom::new()
        .fill(&mut nonce)
        .map_err(|_| KeyError::Store("the system random generator failed".into()))?;
    let mut body = key.to_vec();
    master
        .key
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(wrap_aad(owner)),
            &mut body,
        )
        .map_err(|_| KeyError::Corrupt)?;
    let mut wrapped = nonce.to_vec();
    wrapped.extend_from_slice(&body);
    Ok(wrapped)
}

fn unwrap(master: &MasterKey, owner: OwnerId, wrapped: &[u8]) -> Result<Vec<u8>, KeyError> {
    if wrapped.len() < NONCE_LEN {
        return Err(KeyError::Corrupt);
    }
    let mut nonce = [0u8; NONCE_LEN];
    nonce.copy_from_slice(&wrapped[..NONCE_LEN]);
    let mut body = wrapped[NONCE_LEN..].to_vec();
    let key = master
        .key
        .open_in_place(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(wrap_aad(owner)),
            &mut body,
        )
        .map_err(|_| KeyError::Corrupt)?;
    Ok(key.to_vec())
}

/// The owner's data key row: id, wrapped key, wrapping master fingerprint.
fn owner_key_row(
    connection: &Connection,
    owner: OwnerId,
) -> Result<Option<(i64, Vec<u8>, String)>, KeyError> {
    connection
        .query_row(
            "SELECT id, wrapped, master FROM data_keys WHERE owner = ?1",
            params![owner],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .optional()
        .map_err(store_error)
}

fn cipher(bytes: &[u8]) -> Result<Arc<LessSafeKey>, KeyError> {
    let unbound = UnboundKey::new(&AES_256_GCM, bytes).map_err(|_| KeyError::Corrupt)?;
    Ok(Arc::new(LessSafeKey::new(unbound)))
}

/// Makes the SQLite database file at `path` (the keystore here, and the
/// content database in `conclave-store-sqlite`) readable by its owner only,
/// as the master key is: created empty with mode 0600 when missing, and with group
/// and other permissions taken off when present. SQLite creates its
/// companion files (`-wal`, `-shm`, `-journal`) with the database file's
/// mode, so they follow; those left by an earlier run are tightened too.
#[cfg(unix)]
pub fn keep_private(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => {}
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(error) => return Err(error),
    }
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        let companion = std::path::PathBuf::from(name);
        let Ok(metadata) = std::fs::metadata(&companion) else {
            continue;
        };
        let mode = metadata.permissions().mode();
        if mode & 0o077 != 0 {
            std::fs::set_permissions(&companion, std::fs::Permissions::from_mode(mode & 0o700))?;
        }
    }
    Ok(())
}

#[cfg(not(unix))]
pub fn keep_private(_path: &Path) -> std::io::Result<()> {
    Ok(())
}

/// The file a rotation writes the next master key to before committing.
fn next_key_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".next");
    PathBuf::from(name)
}

impl Keyring {
    /// Opens (creating when missing) the keystore at `path` with the master
    /// key from `source`. Refuses a master key that is not the one the
    /// keystore's data keys are wrapped with.
    pub fn open(path: &Path, source: MasterKeySource) -> Result<Keyring, KeyError> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|error| {
                KeyError::Store(format!("creating {}: {error}", parent.display()))
            })?;
        }
        keep_private(path)
            .map_err(|error| KeyError::Store(format!("creating {}: {error}", path.display())))?;
        let connection = Connection::open(path).map_err(store_error)?;
        // A rollback journal rather than a WAL, and secure_delete: a
        // destroyed key's bytes are overwritten in the file itself.
        connection
            .execute_batch(
                "PRAGMA journal_mode = DELETE; PRAGMA synchronous = FULL;
                 PRAGMA secure_delete = ON; PRAGMA busy_timeout = 10000;",
            )
            .map_err(store_error)?;
        connection.execute_batch(SCHEMA).map_err(store_error)?;
        let master = Keyring::load_master(&connection, &source)?;
        Ok(Keyring {
            path: path.to_path_buf(),
            source,
            master: RwLock::new(Arc::new(master)),
            connection: Mutex::new(connection),
            keys: RwLock::new(HashMap::new()),
            current: RwLock::new(HashMap::new()),
        })
    }

    /// The keystore beside a data directory's files, with the master key
    /// file there too: what a default installation uses.
    pub fn open_in_dir(dir: &Path) -> Result<Keyring, KeyError> {
        Keyring::open(
            &dir.join("keys.db"),
            MasterKeySource::File(dir.join("master.key")),
        )
    }

    /// Loads the master key and checks it against the keystore, finishing a
    /// rotation that committed but had not yet replaced the key file.
    fn load_master(
        connection: &Connection,
        source: &MasterKeySource,
    ) -> Result<MasterKey, KeyError> {
        let recorded: Option<String> = connection
            .query_row("SELECT master FROM keystore WHERE id = 1", [], |row| {
                row.get(0)
            })
            .optional()
            .map_err(store_error)?;
        if let MasterKeySource::File(path) = source {
            let next = next_key_path(path);
            if next.exists() {
                let pending = master::read_key_file(&next)?;
                if recorded.as_deref() == Some(pending.fingerprint()) {
                    std::fs::rename(&next, path).map_err(|error| {
                        KeyError::Master(format!(
                            "finishing the rotation of {}: {error}",
                            path.display()
                        ))
                    })?;
                    master::sync_parent(path)
                        .map_err(|error| KeyError::Master(error.to_string()))?;
                    tracing::info!(path = %path.display(), "finished an interrupted master key rotation");
                } else {
                    std::fs::remove_file(&next).map_err(|error| {
                        KeyError::Master(format!(
                            "removing the uncommitted key {}: {error}",
                            next.display()
                        ))
                    })?;
                }
            }
        }
        let master = master::load(source)?;
        match recorded {
            None => {
                connection
                    .execute(
                        "INSERT INTO keystore (id, master) VALUES (1, ?1)",
                        params![master.fingerprint()],
                    )
                    .map_err(store_error)?;
            }
            Some(recorded) if recorded != master.fingerprint() => {
                return Err(KeyError::Master(format!(
                    "the master key ({}, fingerprint {}) is not the one this keystore's data keys are wrapped with (fingerprint {recorded})",
                    source.describe(),
                    master.fingerprint()
                )));
            }
            Some(_) => {}
        }
        Ok(master)
    }

    fn master(&self) -> Arc<MasterKey> {
        match self.master.read() {
            Ok(master) => master.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        match self.connection.lock() {
            Ok(connection) => connection,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// After another process rotated the master key, read the new one.
    fn refresh_master(&self, connection: &Connection) -> Result<Arc<MasterKey>, KeyError> {
        let recorded: String = connection
            .query_row("SELECT master FROM keystore WHERE id = 1", [], |row| {
                row.get(0)
            })
            .map_err(store_error)?;
        let current = self.master();
        if recorded == current.fingerprint() {
            return Ok(current);
        }
        let reloaded = Arc::new(master::load(&self.source)?);
        if reloaded.fingerprint() != recorded {
            return Err(KeyError::Master(format!(
                "the keystore was re-wrapped with master key {recorded}, but {} holds {}",
                self.source.describe(),
                reloaded.fingerprint()
            )));
        }
        match self.master.write() {
            Ok(mut master) => *master = reloaded.clone(),
            Err(poisoned) => *poisoned.into_inner() = reloaded.clone(),
        }
        Ok(reloaded)
    }

    fn cached(&self, key_id: u64) -> Option<Arc<LessSafeKey>> {
        self.keys.read().ok()?.get(&key_id).cloned()
    }

    fn remember(&self, owner: OwnerId, key_id: u64, key: Arc<LessSafeKey>) {
        if let Ok(mut keys) = self.keys.write() {
            keys.insert(key_id, key);
        }
        if let Ok(mut current) = self.current.write() {
            current.insert(owner, key_id);
        }
    }

    /// The owner's data key for sealing, created on first use.
    fn sealing_key(&self, owner: OwnerId) -> Result<(u64, Arc<LessSafeKey>), KeyError> {
        let known = self
            .current
            .read()
            .ok()
            .and_then(|current| current.get(&owner).copied());
        if let Some(key_id) = known
            && let Some(key) = self.cached(key_id)
        {
            return Ok((key_id, key));
        }
        let mut connection = self.lock();
        if let Some((id, wrapped, wrapped_with)) = owner_key_row(&connection, owner)? {
            let key = self.unwrap_row(&connection, owner, &wrapped, &wrapped_with)?;
            self.remember(owner, id as u64, key.clone());
            return Ok((id as u64, key));
        }
        let transaction = connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(store_error)?;
        // Another process may have created it, or rotated the master key,
        // since the read above.
        if let Some((id, wrapped, wrapped_with)) = owner_key_row(&transaction, owner)? {
            let key = self.unwrap_row(&transaction, owner, &wrapped, &wrapped_with)?;
            transaction.commit().map_err(store_error)?;
            self.remember(owner, id as u64, key.clone());
            return Ok((id as u64, key));
        }
        let master = self.refresh_master(&transaction)?;
        let bytes = master::random_key_bytes()?;
        transaction
            .execute(
                "INSERT INTO data_keys (owner, wrapped, master, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![owner, wrap(&master, owner, &bytes)?, master.fingerprint(), now_millis()],
            )
            .map_err(store_error)?;
        let id = transaction.last_insert_rowid() as u64;
        transaction.commit().map_err(store_error)?;
        let key = cipher(&bytes)?;
        self.remember(owner, id, key.clone());
        Ok((id, key))
    }

    fn unwrap_row(
        &self,
        connection: &Connection,
        owner: OwnerId,
        wrapped: &[u8],
        wrapped_with: &str,
    ) -> Result<Arc<LessSafeKey>, KeyError> {
        let mut master = self.master();
        if master.fingerprint() != wrapped_with {
            master = self.refresh_master(connection)?;
        }
        cipher(&unwrap(&master, owner, wrapped)?)
    }

    /// The data key with this id, for opening.
    fn opening_key(&self, key_id: u64) -> Result<Arc<LessSafeKey>, KeyError> {
        if let Some(key) = self.cached(key_id) {
            return Ok(key);
        }
        let connection = self.lock();
        let found: Option<(OwnerId, Vec<u8>, String)> = connection
            .query_row(
                "SELECT owner, wrapped, master FROM data_keys WHERE id = ?1",
                params![key_id as i64],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
            )
            .optional()
            .map_err(store_error)?;
        let Some((owner, wrapped, wrapped_with)) = found else {
            let destroyed: bool = connection
                .query_row(
                    "SELECT EXISTS (SELECT 1 FROM destroyed_keys WHERE key_id = ?1)",
                    params![key_id as i64],
                    |row| row.get(0),
                )
                .map_err(store_error)?;
            return Err(if destroyed {
                KeyError::Shredded(key_id)
            } else {
                KeyError::Unknown(key_id)
            });
        };
        let key = self.unwrap_row(&connection, owner, &wrapped, &wrapped_with)?;
        self.remember(owner, key_id, key.clone());
        Ok(key)
    }

    /// Seals `plaintext` under the owner's data key. Empty text stays empty:
    /// there is nothing to hide, and erased rows are empty.
    pub fn seal_text(&self, owner: OwnerId, plaintext: &str) -> Result<String, KeyError> {
        if plaintext.is_empty() {
            return Ok(String::new());
        }
        let (key_id, key) = self.sealing_key(owner)?;
        envelope::seal_text(key_id, &key, plaintext)
    }

    /// The plaintext of a stored text. Text that is not sealed (written
    /// before encryption at rest) is answered as it is.
    pub fn open_text(&self, stored: &str) -> Result<String, KeyError> {
        match envelope::parse_text(stored) {
            None => Ok(stored.to_string()),
            Some(parsed) => {
                let (key_id, bytes) = parsed?;
                envelope::open_text(key_id, self.opening_key(key_id)?.as_ref(), bytes)
            }
        }
    }

    /// Like [`Keyring::open_text`], but content that cannot be opened (its
    /// author was erased, or it was damaged) reads as empty: what readers of
    /// the archive see. Damage is logged; `journal verify` names it.
    pub fn open_text_or_empty(&self, stored: &str) -> String {
        match self.open_text(stored) {
            Ok(text) => text,
            Err(KeyError::Shredded(_)) => String::new(),
            Err(error) => {
                tracing::warn!(%error, "stored text could not be opened");
                String::new()
            }
        }
    }

    /// Opens text in place.
    pub fn open_in_place(&self, text: &mut String) {
        if text.starts_with(TEXT_PREFIX) {
            *text = self.open_text_or_empty(text);
        }
    }

    /// A sealer for a file the owner is storing.
    pub fn blob_sealer(&self, owner: OwnerId) -> Result<BlobSealer, KeyError> {
        let (key_id, key) = self.sealing_key(owner)?;
        Ok(BlobSealer::new(key_id, key))
    }

    /// An opener for a sealed file, given its first [`BLOB_HEADER_LEN`]
    /// bytes.
    pub fn blob_opener(&self, header: &[u8]) -> Result<BlobOpener, KeyError> {
        let key_id = blob_key_id(header).ok_or(KeyError::Corrupt)?;
        let mut fixed = [0u8; BLOB_HEADER_LEN];
        fixed.copy_from_slice(&header[..BLOB_HEADER_LEN]);
        Ok(BlobOpener::new(fixed, self.opening_key(key_id)?))
    }

    /// Seals a whole file held in memory.
    pub fn seal_blob(&self, owner: OwnerId, plaintext: &[u8]) -> Result<Vec<u8>, KeyError> {
        let mut sealer = self.blob_sealer(owner)?;
        let mut out = Vec::with_capacity(plaintext.len() + plaintext.len() / BLOB_CHUNK * 28 + 64);
        out.extend_from_slice(&sealer.header());
        sealer.push(plaintext, &mut out)?;
        sealer.finish(&mut out)?;
        Ok(out)
    }

    /// Opens a whole file held in memory; bytes that are not a sealed file
    /// (written before encryption at rest) are answered as they are.
    pub fn open_blob(&self, stored: &[u8]) -> Result<Vec<u8>, KeyError> {
        if blob_key_id(stored).is_none() {
            return Ok(stored.to_vec());
        }
        let mut opener = self.blob_opener(stored)?;
        let mut plaintext = Vec::with_capacity(stored.len());
        for frame in stored[BLOB_HEADER_LEN..].chunks(BLOB_FRAME) {
            plaintext.extend_from_slice(&opener.open_frame(frame.to_vec())?);
        }
        // The last frame is always short, so a file with no frames or ending
        // on a full one was cut: its opener never saw the last frame.
        if !opener.is_finished() {
            return Err(KeyError::Corrupt);
        }
        Ok(plaintext)
    }

    /// Destroys every data key of `owner`: what they sealed can no longer be
    /// opened, here or in any copy. Answers how many keys were destroyed.
    pub fn shred(&self, owner: OwnerId) -> Result<u64, KeyError> {
        let mut connection = self.lock();
        let transaction = connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(store_error)?;
        let destroyed = transaction
            .execute(
                "INSERT OR IGNORE INTO destroyed_keys (key_id, owner, destroyed_at)
                 SELECT id, owner, ?2 FROM data_keys WHERE owner = ?1",
                params![owner, now_millis()],
            )
            .map_err(store_error)? as u64;
        transaction
            .execute("DELETE FROM data_keys WHERE owner = ?1", params![owner])
            .map_err(store_error)?;
        transaction.commit().map_err(store_error)?;
        if let Ok(mut current) = self.current.write()
            && let Some(key_id) = current.remove(&owner)
            && let Ok(mut keys) = self.keys.write()
        {
            keys.remove(&key_id);
        }
        Ok(destroyed)
    }

    /// Whether `owner` has a live data key.
    pub fn has_key(&self, owner: OwnerId) -> Result<bool, KeyError> {
        self.lock()
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM data_keys WHERE owner = ?1)",
                params![owner],
                |row| row.get(0),
            )
            .map_err(store_error)
    }

    pub fn status(&self) -> Result<KeyringStatus, KeyError> {
        let connection = self.lock();
        let count = |sql: &str| -> Result<u64, KeyError> {
            connection
                .query_row(sql, [], |row| row.get::<_, i64>(0))
                .map(|count| count as u64)
                .map_err(store_error)
        };
        Ok(KeyringStatus {
            source: self.source.describe(),
            fingerprint: self.master().fingerprint().to_string(),
            data_keys: count("SELECT COUNT(*) FROM data_keys")?,
            destroyed_keys: count("SELECT COUNT(*) FROM destroyed_keys")?,
        })
    }

    /// Replaces the master key: a new one is written beside the old file,
    /// every data key is re-wrapped with it in one transaction, and then it
    /// replaces the old file. A crash at any point leaves a keystore that
    /// opens (the next open finishes or discards the rotation). Content is
    /// not touched: data keys stay the same.
    pub fn rotate_master(&self) -> Result<Rotation, KeyError> {
        let MasterKeySource::File(path) = &self.source else {
            return Err(KeyError::Master(
                "the master key is configured as a value; rotate it by generating a new key (`conclave keys generate`), \
                 then use a key file (encryption.master_key_file)"
                    .into(),
            ));
        };
        let mut connection = self.lock();
        let old = self.refresh_master(&connection)?;
        let next_text = generate_master_key()?;
        let next = Arc::new(MasterKey::parse(&next_text)?);
        let next_path = next_key_path(path);
        if next_path.exists() {
            std::fs::remove_file(&next_path).map_err(|error| {
                KeyError::Master(format!("removing {}: {error}", next_path.display()))
            })?;
        }
        master::write_key_file(&next_path, &next_text)?;
        let transaction = connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(store_error)?;
        let rows: Vec<(i64, OwnerId, Vec<u8>)> = {
            let mut statement = transaction
                .prepare("SELECT id, owner, wrapped FROM data_keys")
                .map_err(store_error)?;
            let rows = statement
                .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
                .map_err(store_error)?;
            rows.collect::<Result<_, _>>().map_err(store_error)?
        };
        for (id, owner, wrapped) in &rows {
            let key = unwrap(&old, *owner, wrapped)?;
            transaction
                .execute(
                    "UPDATE data_keys SET wrapped = ?2, master = ?3 WHERE id = ?1",
                    params![id, wrap(&next, *owner, &key)?, next.fingerprint()],
                )
                .map_err(store_error)?;
        }
        transaction
            .execute(
                "UPDATE keystore SET master = ?1 WHERE id = 1",
                params![next.fingerprint()],
            )
            .map_err(store_error)?;
        transaction.commit().map_err(store_error)?;
        std::fs::rename(&next_path, path)
            .map_err(|error| KeyError::Master(format!("replacing {}: {error}", path.display())))?;
        master::sync_parent(path).map_err(|error| KeyError::Master(error.to_string()))?;
        match self.master.write() {
            Ok(mut master) => *master = next.clone(),
            Err(poisoned) => *poisoned.into_inner() = next.clone(),
        }
        Ok(Rotation {
            previous_fingerprint: old.fingerprint().to_string(),
            fingerprint: next.fingerprint().to_string(),
            rewrapped: rows.len() as u64,
        })
    }
}

#[cfg(test)]
mod tests;
