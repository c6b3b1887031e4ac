//! Reading rows into domain values.
//!
//! Column lists match the SQLite backend's, so the two read the same shape;
//! a message's mentions, reactions and attachments are fetched for a whole
//! page at once (`= ANY($1)`) rather than message by message, because each
//! query is a network round trip here.

use std::collections::HashMap;

use conclave_domain::{
    Attachment, Channel, ChannelKind, Event, EventPayload, Message, MessageId, ReactionSummary,
    Role, Session, User,
};
use conclave_store::{StoreError, StoreResult};
use tokio_postgres::{GenericClient, Row};

use crate::connection::{Params, Sql, get};

pub(crate) const USER_COLUMNS: &str =
    "id, email, handle, name, role, active, created_at, deactivated_at";
pub(crate) const CHANNEL_COLUMNS: &str =
    "id, kind, name, topic, archived, read_only, created_by, created_at";
pub(crate) const SESSION_COLUMNS: &str = "id, user_id, created_at, expires_at, user_agent, address";
pub(crate) const MESSAGE_COLUMNS: &str = "id, channel_id, author_id, thread_id, text, created_at, edited_at, deleted_at, pinned, reply_count, last_reply_at, client_id";
pub(crate) const ATTACHMENT_COLUMNS: &str = "id, uploader_id, channel_id, message_id, name, content_type, size, sha256, storage_key, thumbnail_key, width, height, created_at";
pub(crate) const EVENT_COLUMNS: &str =
    "position, created_at, channel_id, subject_user_id, private, payload";

fn bad_value(what: &str, value: &str) -> StoreError {
    StoreError::Backend(format!("unreadable {what} {value:?}"))
}

pub(crate) fn user(row: &Row) -> StoreResult<User> {
    let role: String = get(row, 4)?;
    Ok(User {
        id: get(row, 0)?,
        email: get(row, 1)?,
        handle: get(row, 2)?,
        name: get(row, 3)?,
        role: Role::parse(&role).ok_or_else(|| bad_value("role", &role))?,
        active: get(row, 5)?,
        created_at: get(row, 6)?,
        deactivated_at: get(row, 7)?,
    })
}

pub(crate) fn channel(row: &Row) -> StoreResult<Channel> {
    let kind: String = get(row, 1)?;
    Ok(Channel {
        id: get(row, 0)?,
        kind: ChannelKind::parse(&kind).ok_or_else(|| bad_value("channel kind", &kind))?,
        name: get(row, 2)?,
        topic: get(row, 3)?,
        archived: get(row, 4)?,
        read_only: get(row, 5)?,
        created_by: get(row, 6)?,
        created_at: get(row, 7)?,
    })
}

pub(crate) fn session(row: &Row) -> StoreResult<Session> {
    Ok(Session {
        id: get(row, 0)?,
        user_id: get(row, 1)?,
        created_at: get(row, 2)?,
        expires_at: get(row, 3)?,
        user_agent: get(row, 4)?,
        address: get(row, 5)?,
    })
}

pub(crate) fn attachment(row: &Row) -> StoreResult<Attachment> {
    Ok(Attachment {
        id: get(row, 0)?,
        uploader_id: get(row, 1)?,
        channel_id: get(row, 2)?,
        message_id: get(row, 3)?,
        name: get(row, 4)?,
        content_type: get(row, 5)?,
        size: get(row, 6)?,
        sha256: get(row, 7)?,
        storage_key: get(row, 8)?,
        thumbnail_key: get(row, 9)?,
        width: get(row, 10)?,
        height: get(row, 11)?,
        created_at: get(row, 12)?,
    })
}

/// A message row without its reactions, mentions and attachments.
fn bare_message(row: &Row) -> StoreResult<Message> {
    Ok(Message {
        id: get(row, 0)?,
        channel_id: get(row, 1)?,
        author_id: get(row, 2)?,
        thread_id: get(row, 3)?,
        text: get(row, 4)?,
        created_at: get(row, 5)?,
        edited_at: get(row, 6)?,
        deleted_at: get(row, 7)?,
        pinned: get(row, 8)?,
        reply_count: get(row, 9)?,
        last_reply_at: get(row, 10)?,
        client_id: get(row, 11)?,
        mentions: Vec::new(),
        reactions: Vec::new(),
        attachments: Vec::new(),
    })
}

/// Loads full messages for a query over the messages table whose select
/// list is [`MESSAGE_COLUMNS`], in the query's order.
pub(crate) async fn load_messages<C: GenericClient + Sync>(
    sql: &Sql<'_, C>,
    query: &str,
    params: &Params<'_>,
) -> StoreResult<Vec<Message>> {
    let mut messages = sql
        .query(query, params)
        .await?
        .iter()
        .map(bare_message)
        .collect::<StoreResult<Vec<_>>>()?;
    complete_messages(sql, &mut messages).await?;
    Ok(messages)
}

pub(crate) async fn load_message<C: GenericClient + Sync>(
    sql: &Sql<'_, C>,
    id: MessageId,
) -> StoreResult<Option<Message>> {
    let query = format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = $1");
    Ok(load_messages(sql, &query, &[&id]).await?.pop())
}

/// Fills in mentions, reactions and attachments, ordered as the SQLite
/// backend orders them. `COLLATE "C"` compares bytes, as SQLite does.
async fn complete_messages<C: GenericClient + Sync>(
    sql: &Sql<'_, C>,
    messages: &mut [Message],
) -> StoreResult<()> {
    if messages.is_empty() {
        return Ok(());
    }
    let ids: Vec<MessageId> = messages.iter().map(|message| message.id).collect();
    let attachments_query = format!(
        "SELECT {ATTACHMENT_COLUMNS} FROM attachments WHERE message_id = ANY($1) ORDER BY id"
    );
    let params: &Params<'_> = &[&ids];
    // One client pipelines these three queries over one round trip.
    let (mention_rows, reaction_rows, attachment_rows) = tokio::try_join!(
        sql.query(
            "SELECT message_id, user_id FROM mentions WHERE message_id = ANY($1) ORDER BY message_id, user_id",
            params,
        ),
        sql.query(
            "SELECT message_id, emoji, user_id FROM reactions WHERE message_id = ANY($1)
             ORDER BY message_id, created_at, emoji COLLATE \"C\", user_id",
            params,
        ),
        sql.query(&attachments_query, params),
    )?;

    let index: HashMap<MessageId, usize> = ids
        .iter()
        .enumerate()
        .map(|(position, id)| (*id, position))
        .collect();
    for row in &mention_rows {
        let user_id: i64 = get(row, 1)?;
        find(&index, messages, get(row, 0)?)?.mentions.push(user_id);
    }
    for row in &reaction_rows {
        let emoji: String = get(row, 1)?;
        let user_id: i64 = get(row, 2)?;
        let message = find(&index, messages, get(row, 0)?)?;
        match message
            .reactions
            .iter_mut()
            .find(|summary| summary.emoji == emoji)
        {
            Some(summary) => summary.user_ids.push(user_id),
            None => message.reactions.push(ReactionSummary {
                emoji,
                user_ids: vec![user_id],
            }),
        }
    }
    for row in &attachment_rows {
        let attachment = attachment(row)?;
        let Some(message_id) = attachment.message_id else {
            continue;
        };
        find(&index, messages, message_id)?
            .attachments
            .push(attachment);
    }
    Ok(())
}

fn find<'m>(
    index: &HashMap<MessageId, usize>,
    messages: &'m mut [Message],
    id: MessageId,
) -> StoreResult<&'m mut Message> {
    index
        .get(&id)
        .and_then(|position| messages.get_mut(*position))
        .ok_or_else(|| StoreError::Backend(format!("a row for unrequested message {id}")))
}

/// An event row; the payload is JSON written by this crate.
pub(crate) fn event(row: &Row) -> StoreResult<Event> {
    let payload: String = get(row, 5)?;
    let payload: EventPayload = serde_json::from_str(&payload)
        .map_err(|error| StoreError::Backend(format!("unreadable event payload: {error}")))?;
    Ok(Event {
        position: get(row, 0)?,
        created_at: get(row, 1)?,
        channel_id: get(row, 2)?,
        subject_user_id: get(row, 3)?,
        private: get(row, 4)?,
        payload,
    })
}

/// Inserts a user row for someone or something outside the organisation (a
/// WhatsApp contact, a webhook's bot): an inactive guest without a password,
/// so it can never sign in. Its handle is `base`, or `base-2`, `base-3`…
/// when taken, and its address `HANDLE@domain`. Answers the new user's id.
/// Run it under the apply lock, so that processes choosing handles at once
/// queue up instead of colliding.
pub(crate) async fn insert_outside_user<C: GenericClient + Sync>(
    sql: &Sql<'_, C>,
    base: &str,
    domain: &str,
    name: &str,
    at: i64,
) -> StoreResult<i64> {
    let mut handle = base.to_string();
    for attempt in 2.. {
        let email = format!("{handle}@{domain}");
        let taken = sql
            .query_opt(
                "SELECT 1 FROM users WHERE handle = $1 OR email = $2",
                &[&handle, &email],
            )
            .await?
            .is_some();
        if !taken {
            break;
        }
        handle = format!("{base}-{attempt}");
    }
    let email = format!("{handle}@{domain}");
    let row = sql
        .query_one(
            "INSERT INTO users (email, handle, name, role, active, password_hash, created_at)
             VALUES ($1, $2, $3, $4, FALSE, NULL, $5) RETURNING id",
            &[&email, &handle, &name, &Role::Guest.as_str(), &at],
        )
        .await?;
    get(&row, 0)
}
