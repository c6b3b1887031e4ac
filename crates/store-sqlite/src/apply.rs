//! Applying commands inside the writer's transaction.

use conclave_domain::command::OutcomeValue;
use conclave_domain::{
    ChannelId, Command, Event, EventPayload, Message, MessageId, Millis, Outcome, UserId,
};
use conclave_store::journal::{GENESIS_HASH, chain_hash};
use conclave_store::{Keyring, StoreError, StoreResult};
use rusqlite::{Connection, OptionalExtension, params};

use crate::rows::{self, CHANNEL_COLUMNS, USER_COLUMNS, backend};

/// The end of the journal: the last position and its hash.
#[derive(Debug, Clone)]
pub struct ChainHead {
    pub position: i64,
    pub hash: String,
}

impl ChainHead {
    pub fn read(conn: &Connection) -> StoreResult<ChainHead> {
        conn.query_row(
            "SELECT position, hash FROM events ORDER BY position DESC LIMIT 1",
            [],
            |row| {
                Ok(ChainHead {
                    position: row.get(0)?,
                    hash: row.get(1)?,
                })
            },
        )
        .optional()
        .map_err(backend)
        .map(|head| {
            head.unwrap_or(ChainHead {
                position: 0,
                hash: GENESIS_HASH.to_string(),
            })
        })
    }
}

/// Writes one event at the next position and extends the chain.
pub fn append_event(
    conn: &Connection,
    head: &mut ChainHead,
    at: Millis,
    channel_id: Option<ChannelId>,
    subject_user_id: Option<UserId>,
    private: bool,
    payload: EventPayload,
) -> StoreResult<Event> {
    let event = Event {
        position: head.position + 1,
        created_at: at,
        channel_id,
        subject_user_id,
        private,
        payload,
    };
    let payload_json =
        serde_json::to_string(&event.payload).map_err(|e| StoreError::Backend(e.to_string()))?;
    let hash = chain_hash(&head.hash, &event, &payload_json);
    conn.prepare_cached(
        "INSERT INTO events (position, created_at, kind, channel_id, subject_user_id, private, payload, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )
    .and_then(|mut statement| {
        statement.execute(params![
            event.position,
            event.created_at,
            event.payload.kind(),
            event.channel_id,
            event.subject_user_id,
            event.private,
            payload_json,
            hash
        ])
    })
    .map_err(backend)?;
    head.position = event.position;
    head.hash = hash;
    Ok(event)
}

fn message(conn: &Connection, id: MessageId) -> StoreResult<Message> {
    rows::load_message(conn, id)?.ok_or(StoreError::NotFound("message"))
}

fn outcome(result: OutcomeValue, events: Vec<Event>) -> Outcome {
    Outcome { result, events }
}

/// Applies one command. The caller wraps it in a savepoint and restores the
/// chain head when it fails. Text is stored sealed under its author's key;
/// the outcome carries it sealed too, for the caller to open.
pub fn apply_command(
    conn: &Connection,
    keyring: &Keyring,
    head: &mut ChainHead,
    command: Command,
) -> StoreResult<Outcome> {
    match command {
        Command::PostMessage {
            channel_id,
            author_id,
            thread_id,
            text,
            mentions,
            attachment_ids,
            client_id,
            at,
        } => {
            if let Some(client_id) = &client_id {
                let existing: Option<i64> = conn
                    .prepare_cached(
                        "SELECT id FROM messages WHERE author_id = ?1 AND client_id = ?2",
                    )
                    .and_then(|mut s| {
                        s.query_row(params![author_id, client_id], |row| row.get(0))
                            .optional()
                    })
                    .map_err(backend)?;
                if let Some(id) = existing {
                    return Ok(outcome(OutcomeValue::Message(message(conn, id)?), vec![]));
                }
            }
            let (archived, read_only): (bool, bool) = conn
                .prepare_cached("SELECT archived, read_only FROM channels WHERE id = ?1")
                .and_then(|mut s| {
                    s.query_row(params![channel_id], |row| Ok((row.get(0)?, row.get(1)?)))
                        .optional()
                })
                .map_err(backend)?
                .ok_or(StoreError::NotFound("channel"))?;
            if archived || read_only {
                return Err(StoreError::Invalid(
                    "the channel accepts no new messages".into(),
                ));
            }
            // Replies to a reply belong to the root's thread.
            let thread_id = match thread_id {
                None => None,
                Some(parent_id) => {
                    let parent: Option<(i64, Option<i64>, Option<i64>)> = conn
                        .query_row(
                            "SELECT channel_id, thread_id, deleted_at FROM messages WHERE id = ?1",
                            params![parent_id],
                            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
                        )
                        .optional()
                        .map_err(backend)?;
                    match parent {
                        Some((parent_channel, parent_thread, _))
                            if parent_channel == channel_id =>
                        {
                            Some(parent_thread.unwrap_or(parent_id))
                        }
                        _ => return Err(StoreError::NotFound("thread")),
                    }
                }
            };
            // One sealed string in the message, its first version and the
            // journal, so the journal's content check compares them as stored.
            let text = keyring.seal_text(author_id, &text)?;
            conn.prepare_cached(
                "INSERT INTO messages (channel_id, author_id, thread_id, text, created_at, client_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .and_then(|mut s| s.execute(params![channel_id, author_id, thread_id, text, at, client_id]))
            .map_err(backend)?;
            let id = conn.last_insert_rowid();
            conn.prepare_cached(
                "INSERT INTO message_versions (message_id, version, text, created_at, author_id) VALUES (?1, 1, ?2, ?3, ?4)",
            )
            .and_then(|mut s| s.execute(params![id, text, at, author_id]))
            .map_err(backend)?;
            insert_mentions(conn, id, channel_id, &mentions)?;
            for attachment_id in &attachment_ids {
                let claimed = conn
                    .prepare_cached(
                        "UPDATE attachments SET message_id = ?1
                         WHERE id = ?2 AND uploader_id = ?3 AND channel_id = ?4 AND message_id IS NULL",
                    )
                    .and_then(|mut s| s.execute(params![id, attachment_id, author_id, channel_id]))
                    .map_err(backend)?;
                if claimed != 1 {
                    return Err(StoreError::Invalid(format!(
                        "attachment {attachment_id} is not an unused upload of yours in this channel"
                    )));
                }
            }
            match thread_id {
                Some(root) => {
                    conn.prepare_cached(
                        "UPDATE messages SET reply_count = reply_count + 1, last_reply_at = ?2 WHERE id = ?1",
                    )
                    .and_then(|mut s| s.execute(params![root, at]))
                    .map_err(backend)?;
                }
                None => {
                    // Your own message is read by definition.
                    conn.prepare_cached(
                        "UPDATE memberships SET last_read_message_id = ?3
                         WHERE channel_id = ?1 AND user_id = ?2 AND last_read_message_id < ?3",
                    )
                    .and_then(|mut s| s.execute(params![channel_id, author_id, id]))
                    .map_err(backend)?;
                }
            }
            // A new message is exactly what was just written; reading it
            // back (four queries) is needed only for its attachments.
            let message = if attachment_ids.is_empty() {
                let mut mentions = mentions;
                mentions.sort_unstable();
                mentions.dedup();
                Message {
                    id,
                    channel_id,
                    author_id,
                    thread_id,
                    text,
                    mentions,
                    created_at: at,
                    edited_at: None,
                    deleted_at: None,
                    pinned: false,
                    reply_count: 0,
                    last_reply_at: None,
                    reactions: Vec::new(),
                    attachments: Vec::new(),
                    client_id,
                }
            } else {
                message(conn, id)?
            };
            let event = append_event(
                conn,
                head,
                at,
                Some(channel_id),
                None,
                false,
                EventPayload::MessageCreated {
                    message: message.clone(),
                },
            )?;
            Ok(outcome(OutcomeValue::Message(message), vec![event]))
        }

        Command::EditMessage {
            message_id,
            editor_id,
            text,
            mentions,
            at,
        } => {
            let before = message(conn, message_id)?;
            if before.deleted_at.is_some() {
                return Err(StoreError::Invalid(
                    "a deleted message cannot be edited".into(),
                ));
            }
            if keyring.open_text(&before.text)? == text {
                return Ok(outcome(OutcomeValue::Message(before), vec![]));
            }
            let text = keyring.seal_text(before.author_id, &text)?;
            conn.execute(
                "INSERT INTO message_versions (message_id, version, text, created_at, author_id)
                 SELECT ?1, COALESCE(MAX(version), 0) + 1, ?2, ?3, ?4 FROM message_versions WHERE message_id = ?1",
                params![message_id, text, at, editor_id],
            )
            .map_err(backend)?;
            conn.execute(
                "UPDATE messages SET text = ?2, edited_at = ?3 WHERE id = ?1",
                params![message_id, text, at],
            )
            .map_err(backend)?;
            conn.execute(
                "DELETE FROM mentions WHERE message_id = ?1",
                params![message_id],
            )
            .map_err(backend)?;
            insert_mentions(conn, message_id, before.channel_id, &mentions)?;
            let after = message(conn, message_id)?;
            let event = append_event(
                conn,
                head,
                at,
                Some(after.channel_id),
                None,
                false,
                EventPayload::MessageEdited {
                    message: after.clone(),
                    previous_text: before.text,
                },
            )?;
            Ok(outcome(OutcomeValue::Message(after), vec![event]))
        }

        Command::DeleteMessage {
            message_id,
            actor_id,
            at,
        } => {
            let before = message(conn, message_id)?;
            if before.deleted_at.is_some() {
                return Ok(outcome(OutcomeValue::Message(before), vec![]));
            }
            conn.execute(
                "UPDATE messages SET deleted_at = ?2, deleted_by = ?3 WHERE id = ?1",
                params![message_id, at, actor_id],
            )
            .map_err(backend)?;
            if let Some(root) = before.thread_id {
                conn.execute(
                    "UPDATE messages SET reply_count = MAX(reply_count - 1, 0) WHERE id = ?1",
                    params![root],
                )
                .map_err(backend)?;
            }
            let after = message(conn, message_id)?;
            let event = append_event(
                conn,
                head,
                at,
                Some(after.channel_id),
                None,
                false,
                EventPayload::MessageDeleted {
                    channel_id: after.channel_id,
                    message_id,
                    thread_id: after.thread_id,
                    deleted_by: actor_id,
                },
            )?;
            Ok(outcome(OutcomeValue::Message(after), vec![event]))
        }

        Command::SetReaction {
            message_id,
            user_id,
            emoji,
            present,
            at,
        } => {
            let target = message(conn, message_id)?;
            if target.deleted_at.is_some() {
                return Err(StoreError::Invalid(
                    "a deleted message takes no reactions".into(),
                ));
            }
            let changed = if present {
                conn.execute(
                    "INSERT OR IGNORE INTO reactions (message_id, emoji, user_id, created_at) VALUES (?1, ?2, ?3, ?4)",
                    params![message_id, emoji, user_id, at],
                )
            } else {
                conn.execute(
                    "DELETE FROM reactions WHERE message_id = ?1 AND emoji = ?2 AND user_id = ?3",
                    params![message_id, emoji, user_id],
                )
            }
            .map_err(backend)?;
            let mut events = Vec::new();
            if changed > 0 {
                let channel_id = target.channel_id;
                let payload = if present {
                    EventPayload::ReactionAdded {
                        channel_id,
                        message_id,
                        user_id,
                        emoji,
                    }
                } else {
                    EventPayload::ReactionRemoved {
                        channel_id,
                        message_id,
                        user_id,
                        emoji,
                    }
                };
                events.push(append_event(
                    conn,
                    head,
                    at,
                    Some(channel_id),
                    None,
                    false,
                    payload,
                )?);
            }
            Ok(outcome(
                OutcomeValue::Message(message(conn, message_id)?),
                events,
            ))
        }

        Command::SetPinned {
            message_id,
            actor_id,
            pinned,
            at,
        } => {
            let target = message(conn, message_id)?;
            if target.deleted_at.is_some() && pinned {
                return Err(StoreError::Invalid(
                    "a deleted message cannot be pinned".into(),
                ));
            }
            let mut events = Vec::new();
            if target.pinned != pinned {
                conn.execute(
                    "UPDATE messages SET pinned = ?2 WHERE id = ?1",
                    params![message_id, pinned],
                )
                .map_err(backend)?;
                events.push(append_event(
                    conn,
                    head,
                    at,
                    Some(target.channel_id),
                    None,
                    false,
                    EventPayload::MessagePinned {
                        channel_id: target.channel_id,
                        message_id,
                        pinned,
                        actor_id,
                    },
                )?);
            }
            Ok(outcome(
                OutcomeValue::Message(message(conn, message_id)?),
                events,
            ))
        }

        Command::CreateChannel {
            kind,
            name,
            topic,
            creator_id,
            member_ids,
            conversation_key,
            read_only,
            at,
        } => {
            if let Some(key) = &conversation_key {
                let exists: bool = conn
                    .query_row(
                        "SELECT EXISTS (SELECT 1 FROM channels WHERE conversation_key = ?1)",
                        params![key],
                        |row| row.get(0),
                    )
                    .map_err(backend)?;
                if exists {
                    return Err(StoreError::Conflict(
                        "that conversation already exists".into(),
                    ));
                }
            } else {
                let exists: bool = conn
                    .query_row(
                        "SELECT EXISTS (SELECT 1 FROM channels WHERE name = ?1 AND kind IN ('public', 'private'))",
                        params![name],
                        |row| row.get(0),
                    )
                    .map_err(backend)?;
                if exists {
                    return Err(StoreError::Conflict(format!(
                        "a channel named {name} already exists"
                    )));
                }
            }
            conn.execute(
                "INSERT INTO channels (kind, name, topic, read_only, conversation_key, created_by, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![kind.as_str(), name, topic, read_only, conversation_key, creator_id, at],
            )
            .map_err(backend)?;
            let channel_id = conn.last_insert_rowid();
            let mut members = member_ids;
            if !members.contains(&creator_id) {
                members.insert(0, creator_id);
            }
            members.dedup();
            for user_id in &members {
                conn.execute(
                    "INSERT OR IGNORE INTO memberships (channel_id, user_id, joined_at) VALUES (?1, ?2, ?3)",
                    params![channel_id, user_id, at],
                )
                .map_err(backend)?;
            }
            let channel = conn
                .query_row(
                    &format!("SELECT {CHANNEL_COLUMNS} FROM channels WHERE id = ?1"),
                    params![channel_id],
                    rows::channel,
                )
                .map_err(backend)?;
            let event = append_event(
                conn,
                head,
                at,
                Some(channel_id),
                None,
                false,
                EventPayload::ChannelCreated {
                    channel: channel.clone(),
                    member_ids: members,
                },
            )?;
            Ok(outcome(OutcomeValue::Channel(channel), vec![event]))
        }

        Command::UpdateChannel {
            channel_id,
            actor_id,
            name,
            topic,
            archived,
            at,
        } => {
            if let Some(name) = &name {
                let taken: bool = conn
                    .query_row(
                        "SELECT EXISTS (SELECT 1 FROM channels WHERE name = ?1 AND id != ?2 AND kind IN ('public', 'private'))",
                        params![name, channel_id],
                        |row| row.get(0),
                    )
                    .map_err(backend)?;
                if taken {
                    return Err(StoreError::Conflict(format!(
                        "a channel named {name} already exists"
                    )));
                }
            }
            let updated = conn
                .execute(
                    "UPDATE channels SET name = COALESCE(?2, name), topic = COALESCE(?3, topic), archived = COALESCE(?4, archived) WHERE id = ?1",
                    params![channel_id, name, topic, archived],
                )
                .map_err(backend)?;
            if updated == 0 {
                return Err(StoreError::NotFound("channel"));
            }
            let channel = conn
                .query_row(
                    &format!("SELECT {CHANNEL_COLUMNS} FROM channels WHERE id = ?1"),
                    params![channel_id],
                    rows::channel,
                )
                .map_err(backend)?;
            let event = append_event(
                conn,
                head,
                at,
                Some(channel_id),
                None,
                false,
                EventPayload::ChannelUpdated {
                    channel: channel.clone(),
                    actor_id,
                },
            )?;
            Ok(outcome(OutcomeValue::Channel(channel), vec![event]))
        }

        Command::SetMembership {
            channel_id,
            user_id,
            actor_id,
            member,
            at,
        } => {
            let channel = conn
                .query_row(
                    &format!("SELECT {CHANNEL_COLUMNS} FROM channels WHERE id = ?1"),
                    params![channel_id],
                    rows::channel,
                )
                .optional()
                .map_err(backend)?
                .ok_or(StoreError::NotFound("channel"))?;
            let changed = if member {
                let active: Option<bool> = conn
                    .query_row("SELECT active FROM users WHERE id = ?1", params![user_id], |row| row.get(0))
                    .optional()
                    .map_err(backend)?;
                if active != Some(true) {
                    return Err(StoreError::NotFound("user"));
                }
                conn.execute(
                    "INSERT OR IGNORE INTO memberships (channel_id, user_id, joined_at) VALUES (?1, ?2, ?3)",
                    params![channel_id, user_id, at],
                )
            } else {
                conn.execute(
                    "DELETE FROM memberships WHERE channel_id = ?1 AND user_id = ?2",
                    params![channel_id, user_id],
                )
            }
            .map_err(backend)?;
            let mut events = Vec::new();
            if changed > 0 {
                let payload = if member {
                    EventPayload::MemberJoined {
                        channel_id,
                        user_id,
                        actor_id,
                    }
                } else {
                    EventPayload::MemberLeft {
                        channel_id,
                        user_id,
                        actor_id,
                    }
                };
                events.push(append_event(
                    conn,
                    head,
                    at,
                    Some(channel_id),
                    Some(user_id),
                    false,
                    payload,
                )?);
            }
            Ok(outcome(OutcomeValue::Channel(channel), events))
        }

        Command::MarkRead {
            channel_id,
            user_id,
            message_id,
            at,
        } => {
            let updated = conn
                .execute(
                    "UPDATE memberships SET last_read_message_id = ?3 WHERE channel_id = ?1 AND user_id = ?2",
                    params![channel_id, user_id, message_id],
                )
                .map_err(backend)?;
            if updated == 0 {
                return Err(StoreError::NotFound("membership"));
            }
            let event = append_event(
                conn,
                head,
                at,
                Some(channel_id),
                Some(user_id),
                true,
                EventPayload::ReadMarker {
                    channel_id,
                    message_id,
                },
            )?;
            Ok(outcome(OutcomeValue::None, vec![event]))
        }

        Command::DeactivateUser { user_id, at } => {
            let user = conn
                .query_row(
                    &format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1"),
                    params![user_id],
                    rows::user,
                )
                .optional()
                .map_err(backend)?
                .ok_or(StoreError::NotFound("user"))?;
            conn.execute(
                "UPDATE sessions SET revoked_at = ?2 WHERE user_id = ?1 AND revoked_at IS NULL",
                params![user_id, at],
            )
            .map_err(backend)?;
            // SCIM tokens act with their maker's rights: they die with them.
            conn.execute(
                "UPDATE scim_tokens SET revoked_at = ?2 WHERE created_by = ?1 AND revoked_at IS NULL",
                params![user_id, at],
            )
            .map_err(backend)?;
            if !user.active {
                return Ok(outcome(OutcomeValue::None, vec![]));
            }
            conn.execute(
                "UPDATE users SET active = 0, deactivated_at = ?2 WHERE id = ?1",
                params![user_id, at],
            )
            .map_err(backend)?;
            let user = conn
                .query_row(
                    &format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1"),
                    params![user_id],
                    rows::user,
                )
                .map_err(backend)?;
            let event = append_event(
                conn,
                head,
                at,
                None,
                Some(user_id),
                false,
                EventPayload::UserDeactivated { user },
            )?;
            Ok(outcome(OutcomeValue::None, vec![event]))
        }
    }
}

fn insert_mentions(
    conn: &Connection,
    message_id: MessageId,
    channel_id: ChannelId,
    mentions: &[UserId],
) -> StoreResult<()> {
    let mut statement = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO mentions (message_id, user_id, channel_id) VALUES (?1, ?2, ?3)",
        )
        .map_err(backend)?;
    for user_id in mentions {
        statement
            .execute(params![message_id, user_id, channel_id])
            .map_err(backend)?;
    }
    Ok(())
}
