//! Conclave's scale-out store: PostgreSQL, for deployments that run more
//! than one server process or want the database on its own machine.
//!
//! It behaves exactly as the SQLite backend (`conclave-store-sqlite`), which
//! is the reference; both pass `conclave_store::conformance`.
//!
//! Durability: PostgreSQL's default `synchronous_commit = on` makes a COMMIT
//! durable before it returns, so [`Store::apply`] answers only for flushed
//! work. Do not run Conclave against a server with `synchronous_commit` off.
//!
//! Ordering: every `apply` transaction first takes a transaction-scoped
//! advisory lock, so writers in every process serialise; event positions are
//! assigned as head + 1 under that lock (never from a sequence), which keeps
//! them gapless and increasing in commit order, as the hash chain requires.
//! Within a process one writer connection, behind a mutex, does all writes;
//! a few reader connections serve queries, each pipelining concurrent ones.
//!
//! This crate must not know about HTTP or the server; it only implements
//! [`Store`].

mod accounts;
mod apply;
mod audit;
mod compliance;
mod connection;
mod external;
mod identity;
mod rows;
mod webhooks;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

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
use tokio_postgres::{Config, GenericClient, Row};

use crate::apply::{ChainHead, apply_command};
use crate::connection::{Connection, Slot, Sql, backend, get};
use crate::rows::{
    ATTACHMENT_COLUMNS, CHANNEL_COLUMNS, EVENT_COLUMNS, MESSAGE_COLUMNS, SESSION_COLUMNS,
    USER_COLUMNS,
};

/// The migrations, in order; `schema_migrations` records which ran.
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

/// Reader connections per store. Each pipelines concurrent queries, so a
/// few suffice.
const READERS: usize = 4;

/// The advisory lock every `apply` transaction holds, so that writers in
/// different processes extend the event log one at a time. The lock is the
/// pair (this class, a hash of the current schema): installations in
/// different schemas of one database do not wait for each other, and a hash
/// collision only costs some needless waiting. The class is arbitrary but
/// fixed ("conc" in ASCII).
const APPLY_LOCK_CLASS: i32 = 0x636f_6e63;
const APPLY_LOCK_SQL: &str =
    "SELECT pg_advisory_xact_lock($1, hashtext(COALESCE(current_schema(), '')))";
/// The advisory lock migrations hold, so two processes starting at once do
/// not both migrate.
const MIGRATION_LOCK: i64 = 0x636f_6e63_6c61_7602;

/// Rows per round trip when [`Store::verify_journal`] walks the log.
const VERIFY_BATCH: i64 = 1_000;

/// A [`Store`] on PostgreSQL.
pub struct PostgresStore {
    config: Config,
    writer: tokio::sync::Mutex<Option<Connection>>,
    readers: Vec<Slot>,
    next_reader: AtomicUsize,
    keyring: Arc<Keyring>,
}

impl PostgresStore {
    /// Connects to the database at `url` (a `postgres://` URL or a libpq
    /// key=value string) and brings its schema up to date. Tables live in
    /// the first schema of the connection's default `search_path`.
    /// Content is sealed with `keyring`, which lives apart from the
    /// database (in the data directory).
    pub async fn connect(url: &str, keyring: Arc<Keyring>) -> StoreResult<PostgresStore> {
        PostgresStore::open(connection::config(url, None)?, None, keyring).await
    }

    /// Like [`PostgresStore::connect`], with every connection's
    /// `search_path` set to `schema`, which is created if missing. `schema`
    /// must be a lowercase identifier. Tests use this to isolate themselves
    /// in a throwaway schema.
    pub async fn connect_in_schema(
        url: &str,
        schema: &str,
        keyring: Arc<Keyring>,
    ) -> StoreResult<PostgresStore> {
        PostgresStore::open(
            connection::config(url, Some(schema))?,
            Some(schema),
            keyring,
        )
        .await
    }

    async fn open(
        config: Config,
        schema: Option<&str>,
        keyring: Arc<Keyring>,
    ) -> StoreResult<PostgresStore> {
        let mut writer = Connection::open(&config).await?;
        migrate(&mut writer, schema).await?;
        let mut readers = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            readers.push(Slot::new(Connection::open(&config).await?));
        }
        Ok(PostgresStore {
            config,
            writer: tokio::sync::Mutex::new(Some(writer)),
            readers,
            next_reader: AtomicUsize::new(0),
            keyring,
        })
    }

    /// Channels of the kinds listed (SQL literals), by name, with member
    /// counts.
    async fn channels_of_kinds(&self, kinds: &'static str) -> StoreResult<Vec<PublicChannel>> {
        let reader = self.reader().await?;
        reader
            .sql()
            .query(
                &format!(
                    "SELECT {CHANNEL_COLUMNS}, (SELECT COUNT(*) FROM memberships WHERE channel_id = channels.id)
                     FROM channels WHERE kind IN ({kinds}) ORDER BY name COLLATE \"C\""
                ),
                &[],
            )
            .await?
            .iter()
            .map(|row| {
                Ok(PublicChannel {
                    channel: rows::channel(row)?,
                    member_count: get(row, 8)?,
                })
            })
            .collect()
    }

    /// The writer connection, reopened if it died. Holding the guard is
    /// what serialises this process's writes.
    pub(crate) async fn writer(
        &self,
    ) -> StoreResult<tokio::sync::MappedMutexGuard<'_, Connection>> {
        let mut slot = self.writer.lock().await;
        if slot.as_ref().is_none_or(Connection::is_closed) {
            *slot = None;
            *slot = Some(Connection::open(&self.config).await?);
            tracing::info!("reopened the PostgreSQL writer connection");
        }
        tokio::sync::MutexGuard::try_map(slot, Option::as_mut)
            .map_err(|_| StoreError::Unavailable("no writer connection".into()))
    }

    /// A reader connection, round robin.
    pub(crate) async fn reader(&self) -> StoreResult<std::sync::Arc<Connection>> {
        let index = self.next_reader.fetch_add(1, Ordering::Relaxed) % self.readers.len();
        match self.readers.get(index) {
            Some(slot) => slot.get(&self.config).await,
            None => Err(StoreError::Backend("no reader connections".into())),
        }
    }
}

/// Runs the migrations not yet applied, each in its own transaction under
/// [`MIGRATION_LOCK`], so concurrent starters apply each exactly once.
async fn migrate(connection: &mut Connection, schema: Option<&str>) -> StoreResult<()> {
    let migration_failed = |version: usize, error: StoreError| {
        StoreError::Backend(format!("migration {version} failed: {error}"))
    };
    for (index, migration) in MIGRATIONS.iter().enumerate() {
        let version = index + 1;
        let version_number =
            i64::try_from(version).map_err(|e| StoreError::Backend(e.to_string()))?;
        let transaction = connection.client.transaction().await.map_err(backend)?;
        transaction
            .execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(backend)?;
        if let Some(schema) = schema {
            // The name was checked to be a plain identifier.
            transaction
                .batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
                .await
                .map_err(backend)?;
        }
        transaction
            .batch_execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (
                     version    BIGINT PRIMARY KEY,
                     applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
                 )",
            )
            .await
            .map_err(backend)?;
        let row = transaction
            .query_one(
                "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                &[],
            )
            .await
            .map_err(backend)?;
        let applied: i64 = get(&row, 0)?;
        if applied > i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX) {
            return Err(StoreError::Unavailable(format!(
                "the database schema (version {applied}) is newer than this binary supports ({})",
                MIGRATIONS.len()
            )));
        }
        if applied >= version_number {
            transaction.commit().await.map_err(backend)?;
            continue;
        }
        transaction
            .batch_execute(migration)
            .await
            .map_err(|error| migration_failed(version, backend(error)))?;
        transaction
            .execute(
                "INSERT INTO schema_migrations (version) VALUES ($1)",
                &[&version_number],
            )
            .await
            .map_err(|error| migration_failed(version, backend(error)))?;
        transaction
            .commit()
            .await
            .map_err(|error| migration_failed(version, backend(error)))?;
        tracing::info!(version, "applied PostgreSQL migration");
    }
    Ok(())
}

/// The select list of a sidebar entry: the channel's columns, the reader's
/// marker, the member ids, the newest counted message and the unread and
/// mention counts, with the same rules as the SQLite backend's `summary`:
/// top-level messages count, and in a customer conversation the customer's
/// thread replies too.
/// `$1` is the reader; the query must join `memberships AS m` (possibly
/// outer) for them.
fn summary_query(from_where: &str) -> String {
    let channel_columns = CHANNEL_COLUMNS
        .split(", ")
        .map(|column| format!("channels.{column}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "SELECT {channel_columns},
            COALESCE(m.last_read_message_id, 0),
            ARRAY(SELECT user_id FROM memberships WHERE channel_id = channels.id ORDER BY joined_at, user_id),
            GREATEST(
                COALESCE((SELECT MAX(id) FROM messages
                          WHERE channel_id = channels.id AND thread_id IS NULL AND deleted_at IS NULL), 0),
                COALESCE((SELECT MAX(r.id) FROM whatsapp_conversations wc
                          JOIN messages r ON r.channel_id = wc.channel_id AND r.author_id = wc.customer_user_id
                          WHERE wc.channel_id = channels.id AND r.thread_id IS NOT NULL AND r.deleted_at IS NULL), 0)),
            (SELECT COUNT(*) FROM messages
             WHERE channel_id = channels.id AND thread_id IS NULL AND id > COALESCE(m.last_read_message_id, 0)
               AND author_id != $1 AND deleted_at IS NULL)
            + (SELECT COUNT(*) FROM whatsapp_conversations wc
               JOIN messages r ON r.channel_id = wc.channel_id AND r.author_id = wc.customer_user_id
               WHERE wc.channel_id = channels.id AND r.thread_id IS NOT NULL
                 AND r.id > COALESCE(m.last_read_message_id, 0) AND r.author_id != $1 AND r.deleted_at IS NULL),
            (SELECT COUNT(*) FROM mentions JOIN messages ON messages.id = mentions.message_id
             WHERE mentions.user_id = $1 AND mentions.channel_id = channels.id
               AND mentions.message_id > COALESCE(m.last_read_message_id, 0) AND messages.deleted_at IS NULL)
         {from_where}"
    )
}

fn summary(row: &Row) -> StoreResult<ChannelSummary> {
    Ok(ChannelSummary {
        channel: rows::channel(row)?,
        last_read_message_id: get(row, 8)?,
        member_ids: get(row, 9)?,
        last_message_id: get(row, 10)?,
        unread_count: get(row, 11)?,
        mention_count: get(row, 12)?,
    })
}

/// The `WHERE` condition selecting one page's scope: a channel's top-level
/// messages, or one thread (root and replies) whose root id is parameter
/// `$root_param`. The channel is always `$1`.
fn message_scope(thread: bool, root_param: usize) -> String {
    if thread {
        format!("channel_id = $1 AND (id = ${root_param} OR thread_id = ${root_param})")
    } else {
        "channel_id = $1 AND thread_id IS NULL".to_string()
    }
}

/// One side of a page: messages older (descending) or newer (ascending)
/// than `$2`, at most `$3`, the thread root (if any) in `$4`.
async fn page_side<C: GenericClient + Sync>(
    sql: &Sql<'_, C>,
    channel_id: ChannelId,
    thread_id: Option<MessageId>,
    older: bool,
    from: MessageId,
    limit: i64,
) -> StoreResult<Vec<Message>> {
    let scope = message_scope(thread_id.is_some(), 4);
    let (comparison, order) = if older { ("<", "DESC") } else { (">", "ASC") };
    let query = format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE {scope} AND id {comparison} $2 ORDER BY id {order} LIMIT $3"
    );
    let mut messages = match thread_id {
        Some(root) => {
            rows::load_messages(sql, &query, &[&channel_id, &from, &limit, &root]).await?
        }
        None => rows::load_messages(sql, &query, &[&channel_id, &from, &limit]).await?,
    };
    if older {
        messages.reverse();
    }
    Ok(messages)
}

/// Whether any message of the scope lies before (`<`) or after (`>`) `$2`.
async fn page_has_more<C: GenericClient + Sync>(
    sql: &Sql<'_, C>,
    channel_id: ChannelId,
    thread_id: Option<MessageId>,
    comparison: &str,
    from: MessageId,
) -> StoreResult<bool> {
    let scope = message_scope(thread_id.is_some(), 3);
    let query =
        format!("SELECT EXISTS (SELECT 1 FROM messages WHERE {scope} AND id {comparison} $2)");
    let row = match thread_id {
        Some(root) => sql.query_one(&query, &[&channel_id, &from, &root]).await?,
        None => sql.query_one(&query, &[&channel_id, &from]).await?,
    };
    get(&row, 0)
}

#[async_trait]
impl Store for PostgresStore {
    async fn apply(&self, commands: Vec<Command>) -> StoreResult<Vec<StoreResult<Outcome>>> {
        let mut writer = self.writer().await?;
        let Connection { client, statements } = &mut *writer;
        // Dropping the transaction unfinished (an error, or this future being
        // cancelled) rolls it back.
        let mut transaction = client.transaction().await.map_err(backend)?;
        let mut head = {
            let sql = Sql::new(&transaction, statements);
            sql.execute(APPLY_LOCK_SQL, &[&APPLY_LOCK_CLASS]).await?;
            ChainHead::read(&sql).await?
        };
        let mut outcomes = Vec::with_capacity(commands.len());
        for command in commands {
            let savepoint = transaction.savepoint("command").await.map_err(backend)?;
            let saved_head = head.clone();
            let result = apply_command(
                &Sql::new(&savepoint, statements),
                &self.keyring,
                &mut head,
                command,
            )
            .await;
            match result {
                Ok(outcome) => {
                    savepoint.commit().await.map_err(backend)?;
                    outcomes.push(Ok(outcome));
                }
                Err(error) => {
                    savepoint.rollback().await.map_err(backend)?;
                    head = saved_head;
                    outcomes.push(Err(error));
                }
            }
        }
        transaction.commit().await.map_err(backend)?;
        for outcome in outcomes.iter_mut().flatten() {
            open_outcome(&self.keyring, outcome);
        }
        Ok(outcomes)
    }

    async fn create_user(&self, user: NewUser) -> StoreResult<User> {
        let writer = self.writer().await?;
        let sql = writer.sql();
        let taken = sql
            .query_opt(
                "SELECT CASE WHEN email = $1 THEN 'email' ELSE 'handle' END FROM users
                 WHERE email = $1 OR handle = $2 LIMIT 1",
                &[&user.email, &user.handle],
            )
            .await?;
        if let Some(row) = taken {
            let field: String = get(&row, 0)?;
            return Err(StoreError::Conflict(format!(
                "a user with that {field} already exists"
            )));
        }
        let row = sql
            .query_one(
                &format!(
                    "INSERT INTO users (email, handle, name, role, password_hash, created_at)
                     VALUES ($1, $2, $3, $4, $5, $6) RETURNING {USER_COLUMNS}"
                ),
                &[
                    &user.email,
                    &user.handle,
                    &user.name,
                    &user.role.as_str(),
                    &user.password_hash,
                    &user.created_at,
                ],
            )
            .await?;
        rows::user(&row)
    }

    async fn user_by_id(&self, id: UserId) -> StoreResult<Option<User>> {
        let reader = self.reader().await?;
        reader
            .sql()
            .query_opt(
                &format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"),
                &[&id],
            )
            .await?
            .as_ref()
            .map(rows::user)
            .transpose()
    }

    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        let reader = self.reader().await?;
        reader
            .sql()
            .query_opt(
                &format!("SELECT {USER_COLUMNS} FROM users WHERE email = $1"),
                &[&email],
            )
            .await?
            .as_ref()
            .map(rows::user)
            .transpose()
    }

    async fn password_hash(&self, id: UserId) -> StoreResult<Option<String>> {
        let reader = self.reader().await?;
        let row = reader
            .sql()
            .query_opt("SELECT password_hash FROM users WHERE id = $1", &[&id])
            .await?;
        match row {
            Some(row) => get(&row, 0),
            None => Ok(None),
        }
    }

    async fn users_by_ids(&self, ids: &[UserId]) -> StoreResult<Vec<User>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let reader = self.reader().await?;
        reader
            .sql()
            .query(
                &format!("SELECT {USER_COLUMNS} FROM users WHERE id = ANY($1) ORDER BY id"),
                &[&ids],
            )
            .await?
            .iter()
            .map(rows::user)
            .collect()
    }

    async fn users_by_handles(&self, handles: &[String]) -> StoreResult<Vec<User>> {
        if handles.is_empty() {
            return Ok(Vec::new());
        }
        let reader = self.reader().await?;
        reader
            .sql()
            .query(
                &format!("SELECT {USER_COLUMNS} FROM users WHERE handle = ANY($1) ORDER BY id"),
                &[&handles],
            )
            .await?
            .iter()
            .map(rows::user)
            .collect()
    }

    async fn search_users(&self, query: &str, limit: i64) -> StoreResult<Vec<User>> {
        // The query matches literally: LIKE's wildcards and its escape
        // character are escaped, as in the SQLite backend.
        let pattern = format!(
            "%{}%",
            query
                .to_lowercase()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        let reader = self.reader().await?;
        reader
            .sql()
            .query(
                &format!(
                    "SELECT {USER_COLUMNS} FROM users WHERE active AND
                       (lower(name) LIKE $1 ESCAPE '\\' OR lower(handle) LIKE $1 ESCAPE '\\'
                        OR lower(email) LIKE $1 ESCAPE '\\')
                     ORDER BY name COLLATE \"C\", id LIMIT $2"
                ),
                &[&pattern, &limit],
            )
            .await?
            .iter()
            .map(rows::user)
            .collect()
    }

    async fn count_users(&self) -> StoreResult<i64> {
        let reader = self.reader().await?;
        let row = reader
            .sql()
            .query_one("SELECT COUNT(*) FROM users", &[])
            .await?;
        get(&row, 0)
    }

    async fn deactivated_since(&self, since: i64) -> StoreResult<Vec<(UserId, i64)>> {
        let reader = self.reader().await?;
        reader
            .sql()
            .query(
                "SELECT id, deactivated_at FROM users WHERE deactivated_at >= $1 ORDER BY deactivated_at",
                &[&since],
            )
            .await?
            .iter()
            .map(|row| Ok((get(row, 0)?, get(row, 1)?)))
            .collect()
    }

    async fn create_session(&self, session: NewSession) -> StoreResult<Session> {
        let writer = self.writer().await?;
        let row = writer
            .sql()
            .query_one(
                &format!(
                    "INSERT INTO sessions (token_hash, user_id, created_at, expires_at, user_agent, address)
                     VALUES ($1, $2, $3, $4, $5, $6) RETURNING {SESSION_COLUMNS}"
                ),
                &[
                    &session.token_hash,
                    &session.user_id,
                    &session.created_at,
                    &session.expires_at,
                    &session.user_agent,
                    &session.address,
                ],
            )
            .await?;
        rows::session(&row)
    }

    async fn session_by_token_hash(
        &self,
        token_hash: &str,
        now: i64,
    ) -> StoreResult<Option<(Session, User)>> {
        let reader = self.reader().await?;
        let sql = reader.sql();
        let session = sql
            .query_opt(
                &format!(
                    "SELECT {SESSION_COLUMNS} FROM sessions
                     WHERE token_hash = $1 AND revoked_at IS NULL AND expires_at > $2"
                ),
                &[&token_hash, &now],
            )
            .await?;
        let Some(session) = session else {
            return Ok(None);
        };
        let session = rows::session(&session)?;
        let user = sql
            .query_one(
                &format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"),
                &[&session.user_id],
            )
            .await?;
        Ok(Some((session, rows::user(&user)?)))
    }

    async fn revoke_session(&self, id: SessionId, at: i64) -> StoreResult<()> {
        let writer = self.writer().await?;
        writer
            .sql()
            .execute(
                "UPDATE sessions SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
                &[&id, &at],
            )
            .await?;
        Ok(())
    }

    async fn list_sessions(&self, user_id: UserId, now: i64) -> StoreResult<Vec<Session>> {
        let reader = self.reader().await?;
        reader
            .sql()
            .query(
                &format!(
                    "SELECT {SESSION_COLUMNS} FROM sessions
                     WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 ORDER BY id"
                ),
                &[&user_id, &now],
            )
            .await?
            .iter()
            .map(rows::session)
            .collect()
    }

    async fn channel_by_id(&self, id: ChannelId) -> StoreResult<Option<Channel>> {
        let reader = self.reader().await?;
        reader
            .sql()
            .query_opt(
                &format!("SELECT {CHANNEL_COLUMNS} FROM channels WHERE id = $1"),
                &[&id],
            )
            .await?
            .as_ref()
            .map(rows::channel)
            .transpose()
    }

    async fn channel_by_name(&self, name: &str) -> StoreResult<Option<Channel>> {
        let reader = self.reader().await?;
        reader
            .sql()
            .query_opt(
                &format!(
                    "SELECT {CHANNEL_COLUMNS} FROM channels WHERE name = $1 AND kind IN ('public', 'private')"
                ),
                &[&name],
            )
            .await?
            .as_ref()
            .map(rows::channel)
            .transpose()
    }

    async fn conversation_by_key(&self, key: &str) -> StoreResult<Option<Channel>> {
        let reader = self.reader().await?;
        reader
            .sql()
            .query_opt(
                &format!("SELECT {CHANNEL_COLUMNS} FROM channels WHERE conversation_key = $1"),
                &[&key],
            )
            .await?
            .as_ref()
            .map(rows::channel)
            .transpose()
    }

    async fn membership(
        &self,
        channel_id: ChannelId,
        user_id: UserId,
    ) -> StoreResult<Option<Membership>> {
        let reader = self.reader().await?;
        let row = reader
            .sql()
            .query_opt(
                "SELECT channel_id, user_id, joined_at, last_read_message_id FROM memberships
                 WHERE channel_id = $1 AND user_id = $2",
                &[&channel_id, &user_id],
            )
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        Ok(Some(Membership {
            channel_id: get(&row, 0)?,
            user_id: get(&row, 1)?,
            joined_at: get(&row, 2)?,
            last_read_message_id: get(&row, 3)?,
        }))
    }

    async fn channel_member_ids(&self, channel_id: ChannelId) -> StoreResult<Vec<UserId>> {
        let reader = self.reader().await?;
        reader
            .sql()
            .query(
                "SELECT user_id FROM memberships WHERE channel_id = $1 ORDER BY user_id",
                &[&channel_id],
            )
            .await?
            .iter()
            .map(|row| get(row, 0))
            .collect()
    }

    async fn user_channel_ids(&self, user_id: UserId) -> StoreResult<Vec<ChannelId>> {
        let reader = self.reader().await?;
        reader
            .sql()
            .query(
                "SELECT channel_id FROM memberships WHERE user_id = $1 ORDER BY channel_id",
                &[&user_id],
            )
            .await?
            .iter()
            .map(|row| get(row, 0))
            .collect()
    }

    async fn conversation_partner_ids(&self, user_id: UserId) -> StoreResult<Vec<UserId>> {
        let reader = self.reader().await?;
        let rows = reader
            .sql()
            .query(
                "SELECT DISTINCT other.user_id FROM memberships mine
                 JOIN channels ON channels.id = mine.channel_id AND channels.kind IN ('direct', 'group')
                 JOIN memberships other ON other.channel_id = mine.channel_id
                 WHERE mine.user_id = $1 AND other.user_id <> $1 ORDER BY other.user_id",
                &[&user_id],
            )
            .await?;
        rows.iter().map(|row| get(row, 0)).collect()
    }

    async fn channel_summaries(&self, user_id: UserId) -> StoreResult<Vec<ChannelSummary>> {
        let reader = self.reader().await?;
        let query = summary_query(
            "FROM channels JOIN memberships AS m ON m.channel_id = channels.id
             WHERE m.user_id = $1 ORDER BY channels.id",
        );
        reader
            .sql()
            .query(&query, &[&user_id])
            .await?
            .iter()
            .map(summary)
            .collect()
    }

    async fn channel_summary(
        &self,
        user_id: UserId,
        channel_id: ChannelId,
    ) -> StoreResult<Option<ChannelSummary>> {
        let reader = self.reader().await?;
        // A non-member gets a summary too, as from the start of the channel.
        let query = summary_query(
            "FROM channels LEFT JOIN memberships AS m ON m.channel_id = channels.id AND m.user_id = $1
             WHERE channels.id = $2",
        );
        reader
            .sql()
            .query_opt(&query, &[&user_id, &channel_id])
            .await?
            .as_ref()
            .map(summary)
            .transpose()
    }

    async fn public_channels(&self) -> StoreResult<Vec<PublicChannel>> {
        self.channels_of_kinds("'public'").await
    }

    async fn named_channels(&self) -> StoreResult<Vec<PublicChannel>> {
        self.channels_of_kinds("'public', 'private'").await
    }

    async fn message_by_id(&self, id: MessageId) -> StoreResult<Option<Message>> {
        let reader = self.reader().await?;
        let mut message = rows::load_message(&reader.sql(), id).await?;
        if let Some(message) = &mut message {
            open_message(&self.keyring, message);
        }
        Ok(message)
    }

    async fn messages(
        &self,
        channel_id: ChannelId,
        thread_id: Option<MessageId>,
        page: Page,
        limit: i64,
    ) -> StoreResult<(Vec<Message>, bool, bool)> {
        let reader = self.reader().await?;
        let sql = reader.sql();
        let mut messages = match page {
            Page::Latest => page_side(&sql, channel_id, thread_id, true, i64::MAX, limit).await?,
            Page::Before(id) => page_side(&sql, channel_id, thread_id, true, id, limit).await?,
            Page::After(id) => page_side(&sql, channel_id, thread_id, false, id, limit).await?,
            Page::Around(id) => {
                let half = (limit / 2).max(1);
                let mut list = page_side(&sql, channel_id, thread_id, true, id, half).await?;
                list.extend(
                    page_side(
                        &sql,
                        channel_id,
                        thread_id,
                        false,
                        id.saturating_sub(1),
                        limit - half,
                    )
                    .await?,
                );
                list
            }
        };
        messages.sort_by_key(|message| message.id);
        let (has_before, has_after) = match (messages.first(), messages.last()) {
            (Some(first), Some(last)) => tokio::try_join!(
                page_has_more(&sql, channel_id, thread_id, "<", first.id),
                page_has_more(&sql, channel_id, thread_id, ">", last.id),
            )?,
            _ => (false, false),
        };
        open_messages(&self.keyring, &mut messages);
        Ok((messages, has_before, has_after))
    }

    async fn message_by_client_id(
        &self,
        author_id: UserId,
        client_id: &str,
    ) -> StoreResult<Option<Message>> {
        let reader = self.reader().await?;
        let query = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE author_id = $1 AND client_id = $2"
        );
        let mut messages =
            rows::load_messages(&reader.sql(), &query, &[&author_id, &client_id]).await?;
        open_messages(&self.keyring, &mut messages);
        Ok(messages.pop())
    }

    async fn message_versions(&self, id: MessageId) -> StoreResult<Vec<MessageVersion>> {
        let reader = self.reader().await?;
        let mut versions = reader
            .sql()
            .query(
                "SELECT message_id, version, text, created_at, author_id FROM message_versions
                 WHERE message_id = $1 ORDER BY version",
                &[&id],
            )
            .await?
            .iter()
            .map(|row| {
                Ok(MessageVersion {
                    message_id: get(row, 0)?,
                    version: get(row, 1)?,
                    text: get(row, 2)?,
                    created_at: get(row, 3)?,
                    author_id: get(row, 4)?,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        open_versions(&self.keyring, &mut versions);
        Ok(versions)
    }

    async fn pinned_messages(&self, channel_id: ChannelId) -> StoreResult<Vec<Message>> {
        let reader = self.reader().await?;
        let query = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages
             WHERE channel_id = $1 AND pinned AND deleted_at IS NULL ORDER BY id"
        );
        let mut messages = rows::load_messages(&reader.sql(), &query, &[&channel_id]).await?;
        open_messages(&self.keyring, &mut messages);
        Ok(messages)
    }

    async fn create_attachment(&self, attachment: NewAttachment) -> StoreResult<Attachment> {
        let writer = self.writer().await?;
        let row = writer
            .sql()
            .query_one(
                &format!(
                    "INSERT INTO attachments (uploader_id, channel_id, name, content_type, size, sha256,
                         storage_key, thumbnail_key, width, height, created_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING {ATTACHMENT_COLUMNS}"
                ),
                &[
                    &attachment.uploader_id,
                    &attachment.channel_id,
                    &attachment.name,
                    &attachment.content_type,
                    &attachment.size,
                    &attachment.sha256,
                    &attachment.storage_key,
                    &attachment.thumbnail_key,
                    &attachment.width,
                    &attachment.height,
                    &attachment.created_at,
                ],
            )
            .await?;
        rows::attachment(&row)
    }

    async fn attachment_by_id(&self, id: AttachmentId) -> StoreResult<Option<Attachment>> {
        let reader = self.reader().await?;
        reader
            .sql()
            .query_opt(
                &format!("SELECT {ATTACHMENT_COLUMNS} FROM attachments WHERE id = $1"),
                &[&id],
            )
            .await?
            .as_ref()
            .map(rows::attachment)
            .transpose()
    }

    async fn events_for_user(
        &self,
        user_id: UserId,
        after: Position,
        limit: i64,
    ) -> StoreResult<Vec<Event>> {
        let reader = self.reader().await?;
        let mut events = reader
            .sql()
            .query(
                &format!(
                    "SELECT {EVENT_COLUMNS} FROM events WHERE position > $1 AND (
                        subject_user_id = $2
                        OR (NOT private AND channel_id IN (SELECT channel_id FROM memberships WHERE user_id = $2)))
                     ORDER BY position LIMIT $3"
                ),
                &[&after, &user_id, &limit],
            )
            .await?
            .iter()
            .map(rows::event)
            .collect::<StoreResult<Vec<_>>>()?;
        open_events(&self.keyring, &mut events);
        Ok(events)
    }

    async fn head_position(&self) -> StoreResult<Position> {
        let reader = self.reader().await?;
        let row = reader
            .sql()
            .query_one("SELECT COALESCE(MAX(position), 0) FROM events", &[])
            .await?;
        get(&row, 0)
    }

    async fn verify_journal(&self) -> StoreResult<Result<u64, (Position, String)>> {
        let reader = self.reader().await?;
        let sql = reader.sql();
        let query = format!(
            "SELECT {EVENT_COLUMNS}, hash,
                    (SELECT payload_sha256 FROM journal_redactions AS r WHERE r.position = events.position)
             FROM events WHERE position > $1 ORDER BY position LIMIT $2"
        );
        let mut previous_hash = GENESIS_HASH.to_string();
        let mut previous_position: i64 = 0;
        let mut checked = 0u64;
        // Walk the log in batches by position, so a long journal is never
        // held in memory at once.
        loop {
            let batch = sql
                .query(&query, &[&previous_position, &VERIFY_BATCH])
                .await?;
            if batch.is_empty() {
                // The chain is intact; the stored messages must agree with it.
                if let Some(broken) = compliance::verify_content(&sql).await? {
                    return Ok(Err(broken));
                }
                return Ok(Ok(checked));
            }
            for row in &batch {
                let position: i64 = get(row, 0)?;
                let payload_json: String = get(row, 5)?;
                let stored_hash: String = get(row, 6)?;
                if position != previous_position + 1 {
                    return Ok(Err((
                        position,
                        format!("expected position {} next", previous_position + 1),
                    )));
                }
                let event = match rows::event(row) {
                    Ok(event) => event,
                    Err(error) => {
                        return Ok(Err((position, format!("unreadable event: {error}"))));
                    }
                };
                let redacted_digest: Option<String> = get(row, 7)?;
                if !row_is_intact(
                    &previous_hash,
                    &event,
                    &payload_json,
                    redacted_digest.as_deref(),
                    &stored_hash,
                ) {
                    return Ok(Err((
                        position,
                        "hash does not match the content and chain".into(),
                    )));
                }
                previous_hash = stored_hash;
                previous_position = position;
                checked += 1;
            }
        }
    }

    fn keyring(&self) -> &Arc<Keyring> {
        &self.keyring
    }

    async fn ping(&self) -> StoreResult<()> {
        let reader = self.reader().await?;
        reader.sql().query_one("SELECT 1", &[]).await?;
        Ok(())
    }
}
