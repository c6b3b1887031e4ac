//! Conclave's embedded store: one SQLite file in the data directory.
//!
//! Durability: WAL journal with `synchronous=FULL`, so a committed
//! transaction has been fsync'd before [`Store::apply`] returns. One writer
//! connection serialises writes (the group committer batches them); a few
//! reader connections serve queries concurrently, as WAL allows.
//!
//! Other processes (the `conclave` CLI while a server runs) open the same
//! file; `busy_timeout` makes them wait for the write lock instead of failing.

mod accounts;
mod apply;
mod audit;
mod compliance;
mod external;
mod identity;
mod rows;
mod webhooks;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use conclave_domain::{
    Attachment, AttachmentId, Channel, ChannelId, ChannelSummary, Command, Event, Membership,
    Message, MessageId, MessageVersion, NewAttachment, NewSession, NewUser, Outcome, Page,
    Position, Session, SessionId, User, UserId,
};
use conclave_store::journal::{GENESIS_HASH, row_is_intact};
use conclave_store::sealing::{
    open_events, open_message, open_messages, open_outcome, open_versions,
};
use conclave_store::{Keyring, PublicChannel, Store, StoreError, StoreResult};
use rusqlite::{Connection, OpenFlags, OptionalExtension, params, params_from_iter};

use crate::apply::{ChainHead, apply_command};
use crate::rows::{
    ATTACHMENT_COLUMNS, CHANNEL_COLUMNS, EVENT_COLUMNS, MESSAGE_COLUMNS, SESSION_COLUMNS,
    USER_COLUMNS, backend,
};

/// The migrations, in order; `PRAGMA user_version` records how many ran.
const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/0001_init.sql"),
    include_str!("../migrations/0002_audit.sql"),
    include_str!("../migrations/0003_compliance.sql"),
    include_str!("../migrations/0004_external.sql"),
    include_str!("../migrations/0005_identity.sql"),
    include_str!("../migrations/0006_auth.sql"),
    include_str!("../migrations/0007_import_digests.sql"),
    include_str!("../migrations/0008_unsent_replies.sql"),
    include_str!("../migrations/0009_incoming_webhooks.sql"),
    include_str!("../migrations/0010_scim_token_makers.sql"),
    include_str!("../migrations/0011_accounts.sql"),
];

const READERS: usize = 4;

pub struct SqliteStore {
    path: PathBuf,
    writer: Arc<Mutex<Connection>>,
    readers: Arc<Vec<Mutex<Connection>>>,
    next_reader: AtomicUsize,
    keyring: Arc<Keyring>,
    /// A checkpoint started by [`SqliteStore::checkpoint_beside_writer`] is
    /// running.
    checkpointing: Arc<std::sync::atomic::AtomicBool>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and brings its
    /// schema up to date, with the keystore and master key file beside it
    /// (`keys.db`, `master.key`).
    pub fn open(path: &Path) -> StoreResult<SqliteStore> {
        let dir = path.parent().unwrap_or(Path::new("."));
        let keyring = Keyring::open_in_dir(dir)?;
        SqliteStore::open_with_keyring(path, Arc::new(keyring))
    }

    /// Opens the database at `path`, sealing content with `keyring`.
    pub fn open_with_keyring(path: &Path, keyring: Arc<Keyring>) -> StoreResult<SqliteStore> {
        let writer = open_connection(path)?;
        migrate(&writer)?;
        let readers = (0..READERS)
            .map(|_| open_connection(path).map(Mutex::new))
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(SqliteStore {
            path: path.to_path_buf(),
            writer: Arc::new(Mutex::new(writer)),
            readers: Arc::new(readers),
            next_reader: AtomicUsize::new(0),
            keyring,
            checkpointing: Arc::default(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) async fn write<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let writer = Arc::clone(&self.writer);
        tokio::task::spawn_blocking(move || {
            let mut conn = writer
                .lock()
                .map_err(|_| StoreError::Backend("writer connection poisoned".into()))?;
            work(&mut conn)
        })
        .await
        .map_err(|error| StoreError::Backend(error.to_string()))?
    }

    /// Copies committed WAL pages into the database on a reader connection
    /// and another thread, while the writer goes on: bulk writers that let
    /// the WAL grow (imports) call it after each commit, so that little is
    /// left to checkpoint at the end. A passive checkpoint never blocks the
    /// writer or readers; one already running makes this a no-op.
    pub(crate) fn checkpoint_beside_writer(&self) {
        if self.checkpointing.swap(true, Ordering::AcqRel) {
            return;
        }
        let readers = Arc::clone(&self.readers);
        let checkpointing = Arc::clone(&self.checkpointing);
        tokio::task::spawn_blocking(move || {
            let Some(conn) = readers.iter().find_map(|reader| reader.try_lock().ok()) else {
                checkpointing.store(false, Ordering::Release);
                return;
            };
            if let Err(error) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                tracing::debug!(%error, "background checkpoint did not run");
            }
            drop(conn);
            checkpointing.store(false, Ordering::Release);
        });
    }

    pub(crate) async fn read<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let readers = Arc::clone(&self.readers);
        let start = self.next_reader.fetch_add(1, Ordering::Relaxed);
        tokio::task::spawn_blocking(move || {
            // Take the first idle reader, or wait for the one whose turn it is.
            for offset in 0..readers.len() {
                if let Ok(conn) = readers[(start + offset) % readers.len()].try_lock() {
                    return work(&conn);
                }
            }
            let conn = readers[start % readers.len()]
                .lock()
                .map_err(|_| StoreError::Backend("reader connection poisoned".into()))?;
            work(&conn)
        })
        .await
        .map_err(|error| StoreError::Backend(error.to_string()))?
    }
}

fn open_connection(path: &Path) -> StoreResult<Connection> {
    conclave_store::keys::keep_private(path).map_err(|error| {
        StoreError::Unavailable(format!("cannot create {}: {error}", path.display()))
    })?;
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|error| StoreError::Unavailable(format!("cannot open {}: {error}", path.display())))?;
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(backend)?;
    // WAL with synchronous=FULL: a commit is fsync'd before it returns.
    // secure_delete overwrites deleted content so erased text does not linger.
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = ON;
         PRAGMA secure_delete = ON;
         PRAGMA cache_size = -16000;",
    )
    .map_err(backend)?;
    Ok(conn)
}

fn migrate(conn: &Connection) -> StoreResult<()> {
    let applied: i64 = conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(backend)?;
    let applied = usize::try_from(applied).unwrap_or(0);
    if applied > MIGRATIONS.len() {
        return Err(StoreError::Unavailable(format!(
            "the database schema (version {applied}) is newer than this binary supports ({})",
            MIGRATIONS.len()
        )));
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(applied) {
        let version = index + 1;
        conn.execute_batch(&format!(
            "BEGIN IMMEDIATE; {sql}\nPRAGMA user_version = {version}; COMMIT;"
        ))
        .map_err(|error| StoreError::Backend(format!("migration {version} failed: {error}")))?;
        tracing::info!(version, "applied SQLite migration");
    }
    Ok(())
}

pub(crate) fn collect<T>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    map: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> StoreResult<Vec<T>> {
    let mut statement = conn.prepare_cached(sql).map_err(backend)?;
    statement
        .query_map(params, map)
        .map_err(backend)?
        .collect::<rusqlite::Result<Vec<T>>>()
        .map_err(backend)
}

fn summary(
    conn: &Connection,
    user_id: UserId,
    channel: Channel,
    last_read: i64,
) -> StoreResult<ChannelSummary> {
    let member_ids = collect(
        conn,
        "SELECT user_id FROM memberships WHERE channel_id = ?1 ORDER BY joined_at, user_id",
        params![channel.id],
        |row| row.get(0),
    )?;
    // Top-level messages count, as in Slack; in a customer conversation the
    // customer's thread replies count too (staff must see every message
    // from the customer). The conversation lookup is by primary key and
    // finds nothing for other channels, so they pay nothing for it.
    let (last_message_id, unread_count): (i64, i64) = conn
        .prepare_cached(
            "SELECT MAX(COALESCE((SELECT MAX(id) FROM messages WHERE channel_id = ?1 AND thread_id IS NULL AND deleted_at IS NULL), 0),
                        COALESCE((SELECT MAX(m.id) FROM whatsapp_conversations c
                                  JOIN messages m ON m.channel_id = c.channel_id AND m.author_id = c.customer_user_id
                                  WHERE c.channel_id = ?1 AND m.thread_id IS NOT NULL AND m.deleted_at IS NULL), 0)),
                    (SELECT COUNT(*) FROM messages WHERE channel_id = ?1 AND thread_id IS NULL AND id > ?2
                       AND author_id != ?3 AND deleted_at IS NULL)
                    + (SELECT COUNT(*) FROM whatsapp_conversations c
                       JOIN messages m ON m.channel_id = c.channel_id AND m.author_id = c.customer_user_id
                       WHERE c.channel_id = ?1 AND m.thread_id IS NOT NULL AND m.id > ?2
                         AND m.author_id != ?3 AND m.deleted_at IS NULL)",
        )
        .and_then(|mut s| s.query_row(params![channel.id, last_read, user_id], |row| Ok((row.get(0)?, row.get(1)?))))
        .map_err(backend)?;
    let mention_count: i64 = conn
        .prepare_cached(
            "SELECT COUNT(*) FROM mentions JOIN messages ON messages.id = mentions.message_id
             WHERE mentions.user_id = ?1 AND mentions.channel_id = ?2 AND mentions.message_id > ?3
               AND messages.deleted_at IS NULL",
        )
        .and_then(|mut s| s.query_row(params![user_id, channel.id, last_read], |row| row.get(0)))
        .map_err(backend)?;
    Ok(ChannelSummary {
        channel,
        member_ids,
        last_read_message_id: last_read,
        last_message_id,
        unread_count,
        mention_count,
    })
}

impl SqliteStore {
    /// Channels of the kinds listed (SQL literals), by name, with member
    /// counts.
    async fn channels_of_kinds(&self, kinds: &'static str) -> StoreResult<Vec<PublicChannel>> {
        self.read(move |conn| {
            collect(
                conn,
                &format!(
                    "SELECT {CHANNEL_COLUMNS}, (SELECT COUNT(*) FROM memberships WHERE channel_id = channels.id)
                     FROM channels WHERE kind IN ({kinds}) ORDER BY name"
                ),
                [],
                |row| {
                    Ok(PublicChannel {
                        channel: rows::channel(row)?,
                        member_count: row.get(8)?,
                    })
                },
            )
        })
        .await
    }
}

fn placeholders(count: usize) -> String {
    vec!["?"; count].join(", ")
}

#[async_trait]
impl Store for SqliteStore {
    async fn apply(&self, commands: Vec<Command>) -> StoreResult<Vec<StoreResult<Outcome>>> {
        let keyring = Arc::clone(&self.keyring);
        self.write(move |conn| {
            let mut transaction = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(backend)?;
            let mut head = ChainHead::read(&transaction)?;
            let mut outcomes = Vec::with_capacity(commands.len());
            for command in commands {
                let mut savepoint = transaction.savepoint().map_err(backend)?;
                let saved_head = head.clone();
                match apply_command(&savepoint, &keyring, &mut head, command) {
                    Ok(outcome) => {
                        savepoint.commit().map_err(backend)?;
                        outcomes.push(Ok(outcome));
                    }
                    Err(error) => {
                        savepoint.rollback().map_err(backend)?;
                        head = saved_head;
                        outcomes.push(Err(error));
                    }
                }
            }
            transaction.commit().map_err(backend)?;
            for outcome in outcomes.iter_mut().flatten() {
                open_outcome(&keyring, outcome);
            }
            Ok(outcomes)
        })
        .await
    }

    async fn create_user(&self, user: NewUser) -> StoreResult<User> {
        self.write(move |conn| {
            let taken: Option<String> = conn
                .query_row(
                    "SELECT CASE WHEN email = ?1 THEN 'email' ELSE 'handle' END FROM users WHERE email = ?1 OR handle = ?2",
                    params![user.email, user.handle],
                    |row| row.get(0),
                )
                .optional()
                .map_err(backend)?;
            if let Some(field) = taken {
                return Err(StoreError::Conflict(format!("a user with that {field} already exists")));
            }
            conn.execute(
                "INSERT INTO users (email, handle, name, role, password_hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![user.email, user.handle, user.name, user.role.as_str(), user.password_hash, user.created_at],
            )
            .map_err(backend)?;
            conn.query_row(
                &format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1"),
                params![conn.last_insert_rowid()],
                rows::user,
            )
            .map_err(backend)
        })
        .await
    }

    async fn user_by_id(&self, id: UserId) -> StoreResult<Option<User>> {
        self.read(move |conn| {
            conn.prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1"))
                .and_then(|mut s| s.query_row(params![id], rows::user).optional())
                .map_err(backend)
        })
        .await
    }

    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        let email = email.to_string();
        self.read(move |conn| {
            conn.prepare_cached(&format!(
                "SELECT {USER_COLUMNS} FROM users WHERE email = ?1"
            ))
            .and_then(|mut s| s.query_row(params![email], rows::user).optional())
            .map_err(backend)
        })
        .await
    }

    async fn password_hash(&self, id: UserId) -> StoreResult<Option<String>> {
        self.read(move |conn| {
            conn.query_row(
                "SELECT password_hash FROM users WHERE id = ?1",
                params![id],
                |row| row.get(0),
            )
            .optional()
            .map(Option::flatten)
            .map_err(backend)
        })
        .await
    }

    async fn users_by_ids(&self, ids: &[UserId]) -> StoreResult<Vec<User>> {
        let ids = ids.to_vec();
        self.read(move |conn| {
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            let sql = format!(
                "SELECT {USER_COLUMNS} FROM users WHERE id IN ({}) ORDER BY id",
                placeholders(ids.len())
            );
            collect(conn, &sql, params_from_iter(ids.iter()), rows::user)
        })
        .await
    }

    async fn users_by_handles(&self, handles: &[String]) -> StoreResult<Vec<User>> {
        let handles = handles.to_vec();
        self.read(move |conn| {
            if handles.is_empty() {
                return Ok(Vec::new());
            }
            let sql = format!(
                "SELECT {USER_COLUMNS} FROM users WHERE handle IN ({}) ORDER BY id",
                placeholders(handles.len())
            );
            collect(conn, &sql, params_from_iter(handles.iter()), rows::user)
        })
        .await
    }

    async fn search_users(&self, query: &str, limit: i64) -> StoreResult<Vec<User>> {
        let pattern = format!(
            "%{}%",
            query
                .to_lowercase()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        self.read(move |conn| {
            collect(
                conn,
                &format!(
                    "SELECT {USER_COLUMNS} FROM users WHERE active = 1 AND
                       (lower(name) LIKE ?1 ESCAPE '\\' OR handle LIKE ?1 ESCAPE '\\' OR email LIKE ?1 ESCAPE '\\')
                     ORDER BY name, id LIMIT ?2"
                ),
                params![pattern, limit],
                rows::user,
            )
        })
        .await
    }

    async fn count_users(&self) -> StoreResult<i64> {
        self.read(|conn| {
            conn.query_row("SELECT COUNT(*) FROM users", [], |row| row.get(0))
                .map_err(backend)
        })
        .await
    }

    async fn deactivated_since(&self, since: i64) -> StoreResult<Vec<(UserId, i64)>> {
        self.read(move |conn| {
            collect(
                conn,
                "SELECT id, deactivated_at FROM users WHERE deactivated_at >= ?1 ORDER BY deactivated_at",
                params![since],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
        })
        .await
    }

    async fn create_session(&self, session: NewSession) -> StoreResult<Session> {
        self.write(move |conn| {
            conn.execute(
                "INSERT INTO sessions (token_hash, user_id, created_at, expires_at, user_agent, address)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    session.token_hash,
                    session.user_id,
                    session.created_at,
                    session.expires_at,
                    session.user_agent,
                    session.address
                ],
            )
            .map_err(backend)?;
            conn.query_row(
                &format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ?1"),
                params![conn.last_insert_rowid()],
                rows::session,
            )
            .map_err(backend)
        })
        .await
    }

    async fn session_by_token_hash(
        &self,
        token_hash: &str,
        now: i64,
    ) -> StoreResult<Option<(Session, User)>> {
        let token_hash = token_hash.to_string();
        self.read(move |conn| {
            let session = conn
                .prepare_cached(&format!(
                    "SELECT {SESSION_COLUMNS} FROM sessions WHERE token_hash = ?1 AND revoked_at IS NULL AND expires_at > ?2"
                ))
                .and_then(|mut s| s.query_row(params![token_hash, now], rows::session).optional())
                .map_err(backend)?;
            let Some(session) = session else {
                return Ok(None);
            };
            let user = conn
                .prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1"))
                .and_then(|mut s| s.query_row(params![session.user_id], rows::user))
                .map_err(backend)?;
            Ok(Some((session, user)))
        })
        .await
    }

    async fn revoke_session(&self, id: SessionId, at: i64) -> StoreResult<()> {
        self.write(move |conn| {
            conn.execute(
                "UPDATE sessions SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                params![id, at],
            )
            .map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn list_sessions(&self, user_id: UserId, now: i64) -> StoreResult<Vec<Session>> {
        self.read(move |conn| {
            collect(
                conn,
                &format!(
                    "SELECT {SESSION_COLUMNS} FROM sessions WHERE user_id = ?1 AND revoked_at IS NULL AND expires_at > ?2 ORDER BY id"
                ),
                params![user_id, now],
                rows::session,
            )
        })
        .await
    }

    async fn channel_by_id(&self, id: ChannelId) -> StoreResult<Option<Channel>> {
        self.read(move |conn| {
            conn.prepare_cached(&format!(
                "SELECT {CHANNEL_COLUMNS} FROM channels WHERE id = ?1"
            ))
            .and_then(|mut s| s.query_row(params![id], rows::channel).optional())
            .map_err(backend)
        })
        .await
    }

    async fn channel_by_name(&self, name: &str) -> StoreResult<Option<Channel>> {
        let name = name.to_string();
        self.read(move |conn| {
            conn.query_row(
                &format!("SELECT {CHANNEL_COLUMNS} FROM channels WHERE name = ?1 AND kind IN ('public', 'private')"),
                params![name],
                rows::channel,
            )
            .optional()
            .map_err(backend)
        })
        .await
    }

    async fn conversation_by_key(&self, key: &str) -> StoreResult<Option<Channel>> {
        let key = key.to_string();
        self.read(move |conn| {
            conn.query_row(
                &format!("SELECT {CHANNEL_COLUMNS} FROM channels WHERE conversation_key = ?1"),
                params![key],
                rows::channel,
            )
            .optional()
            .map_err(backend)
        })
        .await
    }

    async fn membership(
        &self,
        channel_id: ChannelId,
        user_id: UserId,
    ) -> StoreResult<Option<Membership>> {
        self.read(move |conn| {
            conn.prepare_cached(
                "SELECT channel_id, user_id, joined_at, last_read_message_id FROM memberships WHERE channel_id = ?1 AND user_id = ?2",
            )
            .and_then(|mut s| {
                s.query_row(params![channel_id, user_id], |row| {
                    Ok(Membership {
                        channel_id: row.get(0)?,
                        user_id: row.get(1)?,
                        joined_at: row.get(2)?,
                        last_read_message_id: row.get(3)?,
                    })
                })
                .optional()
            })
            .map_err(backend)
        })
        .await
    }

    async fn channel_member_ids(&self, channel_id: ChannelId) -> StoreResult<Vec<UserId>> {
        self.read(move |conn| {
            collect(
                conn,
                "SELECT user_id FROM memberships WHERE channel_id = ?1 ORDER BY user_id",
                params![channel_id],
                |row| row.get(0),
            )
        })
        .await
    }

    async fn user_channel_ids(&self, user_id: UserId) -> StoreResult<Vec<ChannelId>> {
        self.read(move |conn| {
            collect(
                conn,
                "SELECT channel_id FROM memberships WHERE user_id = ?1 ORDER BY channel_id",
                params![user_id],
                |row| row.get(0),
            )
        })
        .await
    }

    async fn conversation_partner_ids(&self, user_id: UserId) -> StoreResult<Vec<UserId>> {
        self.read(move |conn| {
            collect(
                conn,
                "SELECT DISTINCT other.user_id FROM memberships mine
                 JOIN channels ON channels.id = mine.channel_id AND channels.kind IN ('direct', 'group')
                 JOIN memberships other ON other.channel_id = mine.channel_id
                 WHERE mine.user_id = ?1 AND other.user_id != ?1 ORDER BY other.user_id",
                params![user_id],
                |row| row.get(0),
            )
        })
        .await
    }

    async fn channel_summaries(&self, user_id: UserId) -> StoreResult<Vec<ChannelSummary>> {
        self.read(move |conn| {
            let channels = collect(
                conn,
                &format!(
                    "SELECT {}, memberships.last_read_message_id FROM channels
                     JOIN memberships ON memberships.channel_id = channels.id
                     WHERE memberships.user_id = ?1 ORDER BY channels.id",
                    CHANNEL_COLUMNS
                        .split(", ")
                        .map(|c| format!("channels.{c}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                params![user_id],
                |row| Ok((rows::channel(row)?, row.get::<_, i64>(8)?)),
            )?;
            channels
                .into_iter()
                .map(|(channel, last_read)| summary(conn, user_id, channel, last_read))
                .collect()
        })
        .await
    }

    async fn channel_summary(
        &self,
        user_id: UserId,
        channel_id: ChannelId,
    ) -> StoreResult<Option<ChannelSummary>> {
        self.read(move |conn| {
            let channel = conn
                .query_row(
                    &format!("SELECT {CHANNEL_COLUMNS} FROM channels WHERE id = ?1"),
                    params![channel_id],
                    rows::channel,
                )
                .optional()
                .map_err(backend)?;
            let Some(channel) = channel else {
                return Ok(None);
            };
            let last_read: i64 = conn
                .query_row(
                    "SELECT last_read_message_id FROM memberships WHERE channel_id = ?1 AND user_id = ?2",
                    params![channel_id, user_id],
                    |row| row.get(0),
                )
                .optional()
                .map_err(backend)?
                .unwrap_or(0);
            summary(conn, user_id, channel, last_read).map(Some)
        })
        .await
    }

    async fn public_channels(&self) -> StoreResult<Vec<PublicChannel>> {
        self.channels_of_kinds("'public'").await
    }

    async fn named_channels(&self) -> StoreResult<Vec<PublicChannel>> {
        self.channels_of_kinds("'public', 'private'").await
    }

    async fn message_by_id(&self, id: MessageId) -> StoreResult<Option<Message>> {
        let keyring = Arc::clone(&self.keyring);
        self.read(move |conn| {
            let mut message = rows::load_message(conn, id)?;
            if let Some(message) = &mut message {
                open_message(&keyring, message);
            }
            Ok(message)
        })
        .await
    }

    async fn messages(
        &self,
        channel_id: ChannelId,
        thread_id: Option<MessageId>,
        page: Page,
        limit: i64,
    ) -> StoreResult<(Vec<Message>, bool, bool)> {
        let keyring = Arc::clone(&self.keyring);
        self.read(move |conn| {
            // Top level: thread_id IS NULL; a thread: the root and its replies.
            let scope = match thread_id {
                None => "channel_id = ?1 AND thread_id IS NULL".to_string(),
                Some(root) => format!("channel_id = ?1 AND (id = {root} OR thread_id = {root})"),
            };
            let older = format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages WHERE {scope} AND id < ?2 ORDER BY id DESC LIMIT ?3"
            );
            let newer = format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages WHERE {scope} AND id > ?2 ORDER BY id ASC LIMIT ?3"
            );
            let exists_before = format!("SELECT EXISTS (SELECT 1 FROM messages WHERE {scope} AND id < ?2)");
            let exists_after = format!("SELECT EXISTS (SELECT 1 FROM messages WHERE {scope} AND id > ?2)");
            let mut messages = match page {
                Page::Latest => {
                    let mut list = rows::load_messages(conn, &older, params![channel_id, i64::MAX, limit])?;
                    list.reverse();
                    list
                }
                Page::Before(id) => {
                    let mut list = rows::load_messages(conn, &older, params![channel_id, id, limit])?;
                    list.reverse();
                    list
                }
                Page::After(id) => rows::load_messages(conn, &newer, params![channel_id, id, limit])?,
                Page::Around(id) => {
                    let half = (limit / 2).max(1);
                    let mut list = rows::load_messages(conn, &older, params![channel_id, id, half])?;
                    list.reverse();
                    list.extend(rows::load_messages(conn, &newer, params![channel_id, id - 1, limit - half])?);
                    list
                }
            };
            messages.sort_by_key(|message| message.id);
            open_messages(&keyring, &mut messages);
            let (has_before, has_after) = match (messages.first(), messages.last()) {
                (Some(first), Some(last)) => {
                    let before: bool = conn
                        .query_row(&exists_before, params![channel_id, first.id], |row| row.get(0))
                        .map_err(backend)?;
                    let after: bool = conn
                        .query_row(&exists_after, params![channel_id, last.id], |row| row.get(0))
                        .map_err(backend)?;
                    (before, after)
                }
                _ => (false, false),
            };
            Ok((messages, has_before, has_after))
        })
        .await
    }

    async fn message_by_client_id(
        &self,
        author_id: UserId,
        client_id: &str,
    ) -> StoreResult<Option<Message>> {
        let client_id = client_id.to_string();
        let keyring = Arc::clone(&self.keyring);
        self.read(move |conn| {
            let sql = format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages WHERE author_id = ?1 AND client_id = ?2"
            );
            let mut messages = rows::load_messages(conn, &sql, params![author_id, client_id])?;
            open_messages(&keyring, &mut messages);
            Ok(messages.pop())
        })
        .await
    }

    async fn message_versions(&self, id: MessageId) -> StoreResult<Vec<MessageVersion>> {
        let keyring = Arc::clone(&self.keyring);
        self.read(move |conn| {
            let mut versions = collect(
                conn,
                "SELECT message_id, version, text, created_at, author_id FROM message_versions WHERE message_id = ?1 ORDER BY version",
                params![id],
                |row| {
                    Ok(MessageVersion {
                        message_id: row.get(0)?,
                        version: row.get(1)?,
                        text: row.get(2)?,
                        created_at: row.get(3)?,
                        author_id: row.get(4)?,
                    })
                },
            )?;
            open_versions(&keyring, &mut versions);
            Ok(versions)
        })
        .await
    }

    async fn pinned_messages(&self, channel_id: ChannelId) -> StoreResult<Vec<Message>> {
        let keyring = Arc::clone(&self.keyring);
        self.read(move |conn| {
            let sql = format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages WHERE channel_id = ?1 AND pinned = 1 AND deleted_at IS NULL ORDER BY id"
            );
            let mut messages = rows::load_messages(conn, &sql, params![channel_id])?;
            open_messages(&keyring, &mut messages);
            Ok(messages)
        })
        .await
    }

    async fn create_attachment(&self, attachment: NewAttachment) -> StoreResult<Attachment> {
        self.write(move |conn| {
            conn.execute(
                "INSERT INTO attachments (uploader_id, channel_id, name, content_type, size, sha256, storage_key, thumbnail_key, width, height, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                params![
                    attachment.uploader_id,
                    attachment.channel_id,
                    attachment.name,
                    attachment.content_type,
                    attachment.size,
                    attachment.sha256,
                    attachment.storage_key,
                    attachment.thumbnail_key,
                    attachment.width,
                    attachment.height,
                    attachment.created_at
                ],
            )
            .map_err(backend)?;
            conn.query_row(
                &format!("SELECT {ATTACHMENT_COLUMNS} FROM attachments WHERE id = ?1"),
                params![conn.last_insert_rowid()],
                rows::attachment,
            )
            .map_err(backend)
        })
        .await
    }

    async fn attachment_by_id(&self, id: AttachmentId) -> StoreResult<Option<Attachment>> {
        self.read(move |conn| {
            conn.query_row(
                &format!("SELECT {ATTACHMENT_COLUMNS} FROM attachments WHERE id = ?1"),
                params![id],
                rows::attachment,
            )
            .optional()
            .map_err(backend)
        })
        .await
    }

    async fn events_for_user(
        &self,
        user_id: UserId,
        after: Position,
        limit: i64,
    ) -> StoreResult<Vec<Event>> {
        let keyring = Arc::clone(&self.keyring);
        self.read(move |conn| {
            let mut events = collect(
                conn,
                &format!(
                    "SELECT {EVENT_COLUMNS} FROM events WHERE position > ?1 AND (
                        subject_user_id = ?2
                        OR (private = 0 AND channel_id IN (SELECT channel_id FROM memberships WHERE user_id = ?2)))
                     ORDER BY position LIMIT ?3"
                ),
                params![after, user_id, limit],
                rows::event,
            )?;
            open_events(&keyring, &mut events);
            Ok(events)
        })
        .await
    }

    async fn head_position(&self) -> StoreResult<Position> {
        self.read(|conn| {
            conn.query_row("SELECT COALESCE(MAX(position), 0) FROM events", [], |row| {
                row.get(0)
            })
            .map_err(backend)
        })
        .await
    }

    async fn verify_journal(&self) -> StoreResult<Result<u64, (Position, String)>> {
        self.read(|conn| {
            let mut statement = conn
                .prepare(&format!(
                    "SELECT {EVENT_COLUMNS}, hash,
                            (SELECT payload_sha256 FROM journal_redactions AS r WHERE r.position = events.position)
                     FROM events ORDER BY position"
                ))
                .map_err(backend)?;
            let mut rows = statement.query([]).map_err(backend)?;
            let mut previous_hash = GENESIS_HASH.to_string();
            let mut previous_position = 0;
            let mut checked = 0u64;
            while let Some(row) = rows.next().map_err(backend)? {
                let position: i64 = row.get(0).map_err(backend)?;
                let payload_json: String = row.get(5).map_err(backend)?;
                let stored_hash: String = row.get(6).map_err(backend)?;
                if position != previous_position + 1 {
                    return Ok(Err((position, format!("expected position {} next", previous_position + 1))));
                }
                let event = match rows::event(row) {
                    Ok(event) => event,
                    Err(error) => return Ok(Err((position, format!("unreadable event: {error}")))),
                };
                let redacted_digest: Option<String> = row.get(7).map_err(backend)?;
                if !row_is_intact(&previous_hash, &event, &payload_json, redacted_digest.as_deref(), &stored_hash) {
                    return Ok(Err((position, "hash does not match the content and chain".into())));
                }
                previous_hash = stored_hash;
                previous_position = position;
                checked += 1;
            }
            // The chain is intact; the stored messages must agree with it.
            if let Some(broken) = compliance::verify_content(conn)? {
                return Ok(Err(broken));
            }
            Ok(Ok(checked))
        })
        .await
    }

    async fn ping(&self) -> StoreResult<()> {
        self.read(|conn| conn.query_row("SELECT 1", [], |_| Ok(())).map_err(backend))
            .await
    }

    fn keyring(&self) -> &Arc<Keyring> {
        &self.keyring
    }
}

#[cfg(all(test, unix))]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn the_database_and_its_wal_files_are_readable_by_their_owner_only() {
        let dir = std::env::temp_dir().join(format!(
            "conclave-sqlite-mode-{}-{:?}",
            std::process::id(),
            std::time::SystemTime::now()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("conclave.db");
        let store = SqliteStore::open(&path).unwrap();
        for name in [
            "conclave.db",
            "conclave.db-wal",
            "conclave.db-shm",
            "keys.db",
        ] {
            assert_eq!(mode(&dir.join(name)), 0o600, "{name}");
        }
        drop(store);

        // Files an earlier version created readable by others are tightened.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let _reopened = SqliteStore::open(&path).unwrap();
        assert_eq!(mode(&path), 0o600);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
