//! Reading rows into domain values.

use conclave_domain::{
    Attachment, Channel, ChannelKind, Event, EventPayload, Message, ReactionSummary, Role, Session,
    User,
};
use conclave_store::{StoreError, StoreResult};
use rusqlite::{Connection, Row, params};

pub const USER_COLUMNS: &str = "id, email, handle, name, role, active, created_at, deactivated_at";
pub const CHANNEL_COLUMNS: &str =
    "id, kind, name, topic, archived, read_only, created_by, created_at";
pub const SESSION_COLUMNS: &str = "id, user_id, created_at, expires_at, user_agent, address";
pub const MESSAGE_COLUMNS: &str = "id, channel_id, author_id, thread_id, text, created_at, edited_at, deleted_at, pinned, reply_count, last_reply_at, client_id";
pub const ATTACHMENT_COLUMNS: &str = "id, uploader_id, channel_id, message_id, name, content_type, size, sha256, storage_key, thumbnail_key, width, height, created_at";
pub const EVENT_COLUMNS: &str =
    "position, created_at, channel_id, subject_user_id, private, payload";

pub fn backend(error: rusqlite::Error) -> StoreError {
    match error {
        rusqlite::Error::SqliteFailure(failure, message)
            if failure.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            StoreError::Conflict(message.unwrap_or_else(|| "already exists".into()))
        }
        rusqlite::Error::SqliteFailure(failure, _)
            if matches!(
                failure.code,
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
            ) =>
        {
            StoreError::Unavailable("the database is busy".into())
        }
        // SQLITE_FULL: the disk (SQLite turns ENOSPC into it) or the
        // database's page limit is full.
        rusqlite::Error::SqliteFailure(failure, message)
            if failure.code == rusqlite::ErrorCode::DiskFull =>
        {
            StoreError::StorageFull(message.unwrap_or_else(|| "the database is full".into()))
        }
        other => StoreError::Backend(other.to_string()),
    }
}

fn bad_value(what: &str, value: &str) -> rusqlite::Error {
    rusqlite::Error::InvalidColumnType(0, format!("{what} {value:?}"), rusqlite::types::Type::Text)
}

pub fn user(row: &Row<'_>) -> rusqlite::Result<User> {
    let role: String = row.get(4)?;
    Ok(User {
        id: row.get(0)?,
        email: row.get(1)?,
        handle: row.get(2)?,
        name: row.get(3)?,
        role: Role::parse(&role).ok_or_else(|| bad_value("role", &role))?,
        active: row.get(5)?,
        created_at: row.get(6)?,
        deactivated_at: row.get(7)?,
    })
}

pub fn channel(row: &Row<'_>) -> rusqlite::Result<Channel> {
    let kind: String = row.get(1)?;
    Ok(Channel {
        id: row.get(0)?,
        kind: ChannelKind::parse(&kind).ok_or_else(|| bad_value("channel kind", &kind))?,
        name: row.get(2)?,
        topic: row.get(3)?,
        archived: row.get(4)?,
        read_only: row.get(5)?,
        created_by: row.get(6)?,
        created_at: row.get(7)?,
    })
}

pub fn session(row: &Row<'_>) -> rusqlite::Result<Session> {
    Ok(Session {
        id: row.get(0)?,
        user_id: row.get(1)?,
        created_at: row.get(2)?,
        expires_at: row.get(3)?,
        user_agent: row.get(4)?,
        address: row.get(5)?,
    })
}

pub fn attachment(row: &Row<'_>) -> rusqlite::Result<Attachment> {
    Ok(Attachment {
        id: row.get(0)?,
        uploader_id: row.get(1)?,
        channel_id: row.get(2)?,
        message_id: row.get(3)?,
        name: row.get(4)?,
        content_type: row.get(5)?,
        size: row.get(6)?,
        sha256: row.get(7)?,
        storage_key: row.get(8)?,
        thumbnail_key: row.get(9)?,
        width: row.get(10)?,
        height: row.get(11)?,
        created_at: row.get(12)?,
    })
}

/// A message row without its reactions, mentions and attachments.
fn bare_message(row: &Row<'_>) -> rusqlite::Result<Message> {
    Ok(Message {
        id: row.get(0)?,
        channel_id: row.get(1)?,
        author_id: row.get(2)?,
        thread_id: row.get(3)?,
        text: row.get(4)?,
        created_at: row.get(5)?,
        edited_at: row.get(6)?,
        deleted_at: row.get(7)?,
        pinned: row.get(8)?,
        reply_count: row.get(9)?,
        last_reply_at: row.get(10)?,
        client_id: row.get(11)?,
        mentions: Vec::new(),
        reactions: Vec::new(),
        attachments: Vec::new(),
    })
}

/// Loads full messages for a query over the messages table whose select
/// list is [`MESSAGE_COLUMNS`].
pub fn load_messages(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> StoreResult<Vec<Message>> {
    let mut statement = conn.prepare_cached(sql).map_err(backend)?;
    let mut messages = statement
        .query_map(params, bare_message)
        .map_err(backend)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(backend)?;
    for message in &mut messages {
        complete_message(conn, message)?;
    }
    Ok(messages)
}

pub fn load_message(conn: &Connection, id: i64) -> StoreResult<Option<Message>> {
    let sql = format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = ?1");
    Ok(load_messages(conn, &sql, params![id])?.pop())
}

fn complete_message(conn: &Connection, message: &mut Message) -> StoreResult<()> {
    let mut mentions = conn
        .prepare_cached("SELECT user_id FROM mentions WHERE message_id = ?1 ORDER BY user_id")
        .map_err(backend)?;
    message.mentions = mentions
        .query_map(params![message.id], |row| row.get(0))
        .map_err(backend)?
        .collect::<rusqlite::Result<Vec<i64>>>()
        .map_err(backend)?;

    let mut reactions = conn
        .prepare_cached(
            "SELECT emoji, user_id FROM reactions WHERE message_id = ?1 ORDER BY created_at, emoji, user_id",
        )
        .map_err(backend)?;
    let rows = reactions
        .query_map(params![message.id], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
        })
        .map_err(backend)?;
    let mut summaries: Vec<ReactionSummary> = Vec::new();
    for row in rows {
        let (emoji, user_id) = row.map_err(backend)?;
        match summaries.iter_mut().find(|summary| summary.emoji == emoji) {
            Some(summary) => summary.user_ids.push(user_id),
            None => summaries.push(ReactionSummary {
                emoji,
                user_ids: vec![user_id],
            }),
        }
    }
    message.reactions = summaries;

    let mut attachments = conn
        .prepare_cached(&format!(
            "SELECT {ATTACHMENT_COLUMNS} FROM attachments WHERE message_id = ?1 ORDER BY id"
        ))
        .map_err(backend)?;
    message.attachments = attachments
        .query_map(params![message.id], attachment)
        .map_err(backend)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(backend)?;
    Ok(())
}

/// An event row; the payload is JSON written by this crate.
pub fn event(row: &Row<'_>) -> rusqlite::Result<Event> {
    let payload: String = row.get(5)?;
    let payload: EventPayload = serde_json::from_str(&payload).map_err(|error| {
        rusqlite::Error::FromSqlConversionFailure(5, rusqlite::types::Type::Text, Box::new(error))
    })?;
    Ok(Event {
        position: row.get(0)?,
        created_at: row.get(1)?,
        channel_id: row.get(2)?,
        subject_user_id: row.get(3)?,
        private: row.get(4)?,
        payload,
    })
}

/// Inserts a user row for someone or something outside the organisation (a
/// WhatsApp contact, a webhook's bot): an inactive guest without a password,
/// so it can never sign in. Its handle is `base`, or `base-2`, `base-3`…
/// when taken, and its address `HANDLE@domain`. Answers the new user's id.
pub(crate) fn insert_outside_user(
    conn: &Connection,
    base: &str,
    domain: &str,
    name: &str,
    at: i64,
) -> StoreResult<i64> {
    let mut handle = base.to_string();
    for attempt in 2.. {
        let taken: bool = conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM users WHERE handle = ?1 OR email = ?2)",
                params![handle, format!("{handle}@{domain}")],
                |row| row.get(0),
            )
            .map_err(backend)?;
        if !taken {
            break;
        }
        handle = format!("{base}-{attempt}");
    }
    conn.execute(
        "INSERT INTO users (email, handle, name, role, active, password_hash, created_at)
         VALUES (?1, ?2, ?3, ?4, 0, NULL, ?5)",
        params![
            format!("{handle}@{domain}"),
            handle,
            name,
            conclave_domain::Role::Guest.as_str(),
            at
        ],
    )
    .map_err(backend)?;
    Ok(conn.last_insert_rowid())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_full_database_is_storage_full_not_a_backend_failure() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE filler (bytes BLOB); PRAGMA max_page_count = 8;")
            .unwrap();
        let error = (0..1_000)
            .find_map(|_| {
                conn.execute("INSERT INTO filler VALUES (zeroblob(4000))", [])
                    .err()
            })
            .expect("eight pages fill up");
        assert!(
            matches!(backend(error), StoreError::StorageFull(_)),
            "SQLITE_FULL maps to StorageFull"
        );
    }
}
