//! Connections to PostgreSQL: opening them, replacing dead ones, caching
//! prepared statements per connection, and mapping driver errors onto
//! [`StoreError`].
//!
//! This module knows nothing about Conclave's tables; the SQL lives in
//! `lib.rs`, `apply.rs` and `rows.rs`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use conclave_store::{StoreError, StoreResult};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{FromSql, ToSql};
use tokio_postgres::{Client, Config, GenericClient, NoTls, Row, Statement};

/// How long opening a connection may take when the URL does not say.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// One open connection and the statements prepared on it. Prepared
/// statements belong to a connection, so the cache lives and dies with it.
pub(crate) struct Connection {
    pub(crate) client: Client,
    pub(crate) statements: StatementCache,
}

#[derive(Default)]
pub(crate) struct StatementCache {
    prepared: Mutex<HashMap<String, Statement>>,
}

impl Connection {
    /// Opens a connection and spawns the task that drives its socket.
    pub(crate) async fn open(config: &Config) -> StoreResult<Connection> {
        let (client, driver) = config.connect(NoTls).await.map_err(|error| {
            StoreError::Unavailable(format!("cannot connect to PostgreSQL: {error}"))
        })?;
        tokio::spawn(async move {
            if let Err(error) = driver.await {
                tracing::warn!(%error, "a PostgreSQL connection closed");
            }
        });
        Ok(Connection {
            client,
            statements: StatementCache::default(),
        })
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.client.is_closed()
    }

    /// Queries on this connection outside any transaction.
    pub(crate) fn sql(&self) -> Sql<'_, Client> {
        Sql {
            client: &self.client,
            statements: &self.statements,
        }
    }
}

/// A connection slot that is refilled when its connection has died, so a
/// restarted database costs one failed request per connection, not a
/// restarted server.
pub(crate) struct Slot {
    connection: tokio::sync::Mutex<Option<Arc<Connection>>>,
}

impl Slot {
    pub(crate) fn new(connection: Connection) -> Slot {
        Slot {
            connection: tokio::sync::Mutex::new(Some(Arc::new(connection))),
        }
    }

    /// The slot's live connection, opening a new one if the old one died.
    pub(crate) async fn get(&self, config: &Config) -> StoreResult<Arc<Connection>> {
        let mut slot = self.connection.lock().await;
        if let Some(connection) = slot.as_ref()
            && !connection.is_closed()
        {
            return Ok(Arc::clone(connection));
        }
        *slot = None;
        let connection = Arc::new(Connection::open(config).await?);
        *slot = Some(Arc::clone(&connection));
        tracing::info!("reopened a PostgreSQL reader connection");
        Ok(connection)
    }
}

/// Queries through a client or a transaction, preparing each distinct SQL
/// text once per connection. Callers must only pass SQL built from constants
/// (values go in parameters), or the cache would grow without bound.
pub(crate) struct Sql<'a, C> {
    client: &'a C,
    statements: &'a StatementCache,
}

pub(crate) type Params<'p> = [&'p (dyn ToSql + Sync)];

impl<'a, C: GenericClient + Sync> Sql<'a, C> {
    pub(crate) fn new(client: &'a C, statements: &'a StatementCache) -> Sql<'a, C> {
        Sql { client, statements }
    }

    async fn statement(&self, sql: &str) -> StoreResult<Statement> {
        let cached = self
            .statements
            .prepared
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(sql)
            .cloned();
        if let Some(statement) = cached {
            return Ok(statement);
        }
        let statement = self.client.prepare(sql).await.map_err(backend)?;
        self.statements
            .prepared
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(sql.to_string(), statement.clone());
        Ok(statement)
    }

    pub(crate) async fn query(&self, sql: &str, params: &Params<'_>) -> StoreResult<Vec<Row>> {
        let statement = self.statement(sql).await?;
        self.client.query(&statement, params).await.map_err(backend)
    }

    pub(crate) async fn query_opt(
        &self,
        sql: &str,
        params: &Params<'_>,
    ) -> StoreResult<Option<Row>> {
        let statement = self.statement(sql).await?;
        self.client
            .query_opt(&statement, params)
            .await
            .map_err(backend)
    }

    pub(crate) async fn query_one(&self, sql: &str, params: &Params<'_>) -> StoreResult<Row> {
        let statement = self.statement(sql).await?;
        self.client
            .query_one(&statement, params)
            .await
            .map_err(backend)
    }

    /// Runs a statement; answers how many rows it changed.
    pub(crate) async fn execute(&self, sql: &str, params: &Params<'_>) -> StoreResult<u64> {
        let statement = self.statement(sql).await?;
        self.client
            .execute(&statement, params)
            .await
            .map_err(backend)
    }
}

/// Reads one column, reporting a type mismatch as a backend failure rather
/// than panicking as `Row::get` would.
pub(crate) fn get<'r, T: FromSql<'r>>(row: &'r Row, index: usize) -> StoreResult<T> {
    row.try_get(index).map_err(backend)
}

/// Maps a driver error onto the store's error kinds, the way the SQLite
/// backend maps its own: every integrity-constraint violation (SQLSTATE
/// class 23, as SQLite's `ConstraintViolation`) is a conflict, a lost or
/// refused connection is "unavailable", the rest is a backend failure.
pub(crate) fn backend(error: tokio_postgres::Error) -> StoreError {
    if let Some(db_error) = error.as_db_error() {
        let code = db_error.code();
        let class = code.code().get(..2).unwrap_or_default();
        if class == "23" {
            return StoreError::Conflict(db_error.message().to_string());
        }
        // 53100 disk_full: nothing was written; unlike the rest of class
        // 53, freeing space (not waiting) is what brings it back.
        if *code == SqlState::DISK_FULL {
            return StoreError::StorageFull(db_error.message().to_string());
        }
        if class == "08"
            || class == "53"
            || *code == SqlState::ADMIN_SHUTDOWN
            || *code == SqlState::CRASH_SHUTDOWN
            || *code == SqlState::CANNOT_CONNECT_NOW
        {
            return StoreError::Unavailable(db_error.message().to_string());
        }
        return StoreError::Backend(error.to_string());
    }
    let is_io =
        std::error::Error::source(&error).is_some_and(|source| source.is::<std::io::Error>());
    if error.is_closed() || is_io {
        return StoreError::Unavailable(error.to_string());
    }
    StoreError::Backend(error.to_string())
}

/// The driver's configuration for `url`, with Conclave's defaults for what
/// the URL leaves out, and `schema` (if any) as every connection's
/// `search_path`.
pub(crate) fn config(url: &str, schema: Option<&str>) -> StoreResult<Config> {
    let mut config: Config = url
        .parse()
        .map_err(|error| StoreError::Invalid(format!("invalid PostgreSQL URL: {error}")))?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(DEFAULT_CONNECT_TIMEOUT);
    }
    if config.get_application_name().is_none() {
        config.application_name("conclave");
    }
    if let Some(schema) = schema {
        check_schema_name(schema)?;
        let search_path = format!("-c search_path={schema}");
        let options = match config.get_options() {
            Some(existing) if !existing.trim().is_empty() => format!("{existing} {search_path}"),
            _ => search_path,
        };
        config.options(options);
    }
    Ok(config)
}

/// Schema names are spliced into SQL and connection options, so only plain
/// lowercase identifiers are accepted; they need no quoting anywhere.
pub(crate) fn check_schema_name(schema: &str) -> StoreResult<()> {
    let mut characters = schema.chars();
    let starts_well = characters
        .next()
        .is_some_and(|first| first.is_ascii_lowercase() || first == '_');
    let rest_is_plain =
        characters.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if starts_well && rest_is_plain && schema.len() <= 63 {
        Ok(())
    } else {
        Err(StoreError::Invalid(format!(
            "schema name {schema:?} must be a lowercase identifier (a-z, 0-9, _), at most 63 bytes"
        )))
    }
}
