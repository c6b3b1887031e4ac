//! Applying commands inside the writer's transaction, command by command as
//! the SQLite backend does (its `apply.rs` is the reference).

use conclave_domain::command::OutcomeValue;
use conclave_domain::{
    ChannelId, Command, Event, EventPayload, Message, MessageId, Millis, Outcome, UserId,
};
use conclave_store::journal::{GENESIS_HASH, chain_hash};
use conclave_store::{Keyring, StoreError, StoreResult};
use tokio_postgres::GenericClient;

use crate::connection::{Sql, get};
use crate::rows::{self, CHANNEL_COLUMNS, USER_COLUMNS};

/// The end of the journal: the last position and its hash.
#[derive(Debug, Clone)]
pub(crate) struct ChainHead {
    pub(crate) position: i64,
    pub(crate) hash: String,
}

impl ChainHead {
    /// Reads the head. Callers hold the apply lock, so no other writer can
    /// move it before their transaction commits.
    pub(crate) async fn read<C: GenericClient + Sync>(sql: &Sql<'_, C>) -> StoreResult<ChainHead> {
        let row = sql
            .query_opt(
                "SELECT position, hash FROM events ORDER BY position DESC LIMIT 1",
                &[],
            )
            .await?;
        match row {
            Some(row) => Ok(ChainHead {
                position: get(&row, 0)?,
                hash: get(&row, 1)?,
            }),
            None => Ok(ChainHead {
                position: 0,
                hash: GENESIS_HASH.to_string(),
            }),
        }
    }
}

/// Writes one event at the next position and extends the chain.
pub(crate) async fn append_event<C: GenericClient + Sync>(
    sql: &Sql<'_, C>,
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
    sql.execute(
        "INSERT INTO events (position, created_at, kind, channel_id, subject_user_id, private, payload, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        &[
            &event.position,
            &event.created_at,
            &event.payload.kind(),
            &event.channel_id,
            &event.subject_user_id,
            &event.private,
            &payload_json,
            &hash,
        ],
    )
    .await?;
    head.position = event.position;
    head.hash = hash;
    Ok(event)
}

async fn message<C: GenericClient + Sync>(sql: &Sql<'_, C>, id: MessageId) -> StoreResult<Message> {
    rows::load_message(sql, id)
        .await?
        .ok_or(StoreError::NotFound("message"))
}

async fn channel<C: GenericClient + Sync>(
    sql: &Sql<'_, C>,
    id: ChannelId,
) -> StoreResult<Option<conclave_domain::Channel>> {
    let query = format!("SELECT {CHANNEL_COLUMNS} FROM channels WHERE id = $1");
    sql.query_opt(&query, &[&id])
        .await?
        .as_ref()
        .map(rows::channel)
        .transpose()
}

async fn user<C: GenericClient + Sync>(
    sql: &Sql<'_, C>,
    id: UserId,
) -> StoreResult<Option<conclave_domain::User>> {
    let query = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
    sql.query_opt(&query, &[&id])
        .await?
        .as_ref()
        .map(rows::user)
        .transpose()
}

fn outcome(result: OutcomeValue, events: Vec<Event>) -> Outcome {
    Outcome { result, events }
}

/// Applies one command. The caller wraps it in a savepoint and restores the
/// chain head when it fails. Text is stored sealed under its author's key;
/// the outcome carries it sealed too, for the caller to open.
pub(crate) async fn apply_command<C: GenericClient + Sync>(
    sql: &Sql<'_, C>,
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
                let existing = sql
                    .query_opt(
                        "SELECT id FROM messages WHERE author_id = $1 AND client_id = $2",
                        &[&author_id, client_id],
                    )
                    .await?;
                if let Some(row) = existing {
                    let message = message(sql, get(&row, 0)?).await?;
                    return Ok(outcome(OutcomeValue::Message(message), vec![]));
                }
            }
            let row = sql
                .query_opt(
                    "SELECT archived, read_only FROM channels WHERE id = $1",
                    &[&channel_id],
                )
                .await?
                .ok_or(StoreError::NotFound("channel"))?;
            let (archived, read_only): (bool, bool) = (get(&row, 0)?, get(&row, 1)?);
            if archived || read_only {
                return Err(StoreError::Invalid(
                    "the channel accepts no new messages".into(),
                ));
            }
            // Replies to a reply belong to the root's thread.
            let thread_id = match thread_id {
                None => None,
                Some(parent_id) => {
                    let parent = sql
                        .query_opt(
                            "SELECT channel_id, thread_id FROM messages WHERE id = $1",
                            &[&parent_id],
                        )
                        .await?;
                    let parent: Option<(i64, Option<i64>)> = match parent {
                        Some(row) => Some((get(&row, 0)?, get(&row, 1)?)),
                        None => None,
                    };
                    match parent {
                        Some((parent_channel, parent_thread)) if parent_channel == channel_id => {
                            Some(parent_thread.unwrap_or(parent_id))
                        }
                        _ => return Err(StoreError::NotFound("thread")),
                    }
                }
            };
            // One sealed string in the message, its first version and the
            // journal, so the journal's content check compares them as stored.
            let text = keyring.seal_text(author_id, &text)?;
            let row = sql
                .query_one(
                    "INSERT INTO messages (channel_id, author_id, thread_id, text, created_at, client_id)
                     VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                    &[&channel_id, &author_id, &thread_id, &text, &at, &client_id],
                )
                .await?;
            let id: MessageId = get(&row, 0)?;
            sql.execute(
                "INSERT INTO message_versions (message_id, version, text, created_at, author_id)
                 VALUES ($1, 1, $2, $3, $4)",
                &[&id, &text, &at, &author_id],
            )
            .await?;
            insert_mentions(sql, id, channel_id, &mentions).await?;
            for attachment_id in &attachment_ids {
                let claimed = sql
                    .execute(
                        "UPDATE attachments SET message_id = $1
                         WHERE id = $2 AND uploader_id = $3 AND channel_id = $4 AND message_id IS NULL",
                        &[&id, attachment_id, &author_id, &channel_id],
                    )
                    .await?;
                if claimed != 1 {
                    return Err(StoreError::Invalid(format!(
                        "attachment {attachment_id} is not an unused upload of yours in this channel"
                    )));
                }
            }
            match thread_id {
                Some(root) => {
                    sql.execute(
                        "UPDATE messages SET reply_count = reply_count + 1, last_reply_at = $2 WHERE id = $1",
                        &[&root, &at],
                    )
                    .await?;
                }
                None => {
                    // Your own message is read by definition.
                    sql.execute(
                        "UPDATE memberships SET last_read_message_id = $3
                         WHERE channel_id = $1 AND user_id = $2 AND last_read_message_id < $3",
                        &[&channel_id, &author_id, &id],
                    )
                    .await?;
                }
            }
            let message = message(sql, id).await?;
            let event = append_event(
                sql,
                head,
                at,
                Some(channel_id),
                None,
                false,
                EventPayload::MessageCreated {
                    message: message.clone(),
                },
            )
            .await?;
            Ok(outcome(OutcomeValue::Message(message), vec![event]))
        }

        Command::EditMessage {
            message_id,
            editor_id,
            text,
            mentions,
            at,
        } => {
            let before = message(sql, message_id).await?;
            if before.deleted_at.is_some() {
                return Err(StoreError::Invalid(
                    "a deleted message cannot be edited".into(),
                ));
            }
            if keyring.open_text(&before.text)? == text {
                return Ok(outcome(OutcomeValue::Message(before), vec![]));
            }
            let text = keyring.seal_text(before.author_id, &text)?;
            sql.execute(
                "INSERT INTO message_versions (message_id, version, text, created_at, author_id)
                 SELECT $1::BIGINT, COALESCE(MAX(version), 0) + 1, $2::TEXT, $3::BIGINT, $4::BIGINT
                 FROM message_versions WHERE message_id = $1::BIGINT",
                &[&message_id, &text, &at, &editor_id],
            )
            .await?;
            sql.execute(
                "UPDATE messages SET text = $2, edited_at = $3 WHERE id = $1",
                &[&message_id, &text, &at],
            )
            .await?;
            sql.execute("DELETE FROM mentions WHERE message_id = $1", &[&message_id])
                .await?;
            insert_mentions(sql, message_id, before.channel_id, &mentions).await?;
            let after = message(sql, message_id).await?;
            let event = append_event(
                sql,
                head,
                at,
                Some(after.channel_id),
                None,
                false,
                EventPayload::MessageEdited {
                    message: after.clone(),
                    previous_text: before.text,
                },
            )
            .await?;
            Ok(outcome(OutcomeValue::Message(after), vec![event]))
        }

        Command::DeleteMessage {
            message_id,
            actor_id,
            at,
        } => {
            let before = message(sql, message_id).await?;
            if before.deleted_at.is_some() {
                return Ok(outcome(OutcomeValue::Message(before), vec![]));
            }
            sql.execute(
                "UPDATE messages SET deleted_at = $2, deleted_by = $3 WHERE id = $1",
                &[&message_id, &at, &actor_id],
            )
            .await?;
            if let Some(root) = before.thread_id {
                sql.execute(
                    "UPDATE messages SET reply_count = GREATEST(reply_count - 1, 0) WHERE id = $1",
                    &[&root],
                )
                .await?;
            }
            let after = message(sql, message_id).await?;
            let event = append_event(
                sql,
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
            )
            .await?;
            Ok(outcome(OutcomeValue::Message(after), vec![event]))
        }

        Command::SetReaction {
            message_id,
            user_id,
            emoji,
            present,
            at,
        } => {
            let target = message(sql, message_id).await?;
            if target.deleted_at.is_some() {
                return Err(StoreError::Invalid(
                    "a deleted message takes no reactions".into(),
                ));
            }
            let changed = if present {
                sql.execute(
                    "INSERT INTO reactions (message_id, emoji, user_id, created_at) VALUES ($1, $2, $3, $4)
                     ON CONFLICT DO NOTHING",
                    &[&message_id, &emoji, &user_id, &at],
                )
                .await?
            } else {
                sql.execute(
                    "DELETE FROM reactions WHERE message_id = $1 AND emoji = $2 AND user_id = $3",
                    &[&message_id, &emoji, &user_id],
                )
                .await?
            };
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
                events.push(
                    append_event(sql, head, at, Some(channel_id), None, false, payload).await?,
                );
            }
            Ok(outcome(
                OutcomeValue::Message(message(sql, message_id).await?),
                events,
            ))
        }

        Command::SetPinned {
            message_id,
            actor_id,
            pinned,
            at,
        } => {
            let target = message(sql, message_id).await?;
            if target.deleted_at.is_some() && pinned {
                return Err(StoreError::Invalid(
                    "a deleted message cannot be pinned".into(),
                ));
            }
            let mut events = Vec::new();
            if target.pinned != pinned {
                sql.execute(
                    "UPDATE messages SET pinned = $2 WHERE id = $1",
                    &[&message_id, &pinned],
                )
                .await?;
                events.push(
                    append_event(
                        sql,
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
                    )
                    .await?,
                );
            }
            Ok(outcome(
                OutcomeValue::Message(message(sql, message_id).await?),
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
                let row = sql
                    .query_one(
                        "SELECT EXISTS (SELECT 1 FROM channels WHERE conversation_key = $1)",
                        &[key],
                    )
                    .await?;
                if get::<bool>(&row, 0)? {
                    return Err(StoreError::Conflict(
                        "that conversation already exists".into(),
                    ));
                }
            } else {
                let row = sql
                    .query_one(
                        "SELECT EXISTS (SELECT 1 FROM channels WHERE name = $1 AND kind IN ('public', 'private'))",
                        &[&name],
                    )
                    .await?;
                if get::<bool>(&row, 0)? {
                    return Err(StoreError::Conflict(format!(
                        "a channel named {name} already exists"
                    )));
                }
            }
            let row = sql
                .query_one(
                    "INSERT INTO channels (kind, name, topic, read_only, conversation_key, created_by, created_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
                    &[
                        &kind.as_str(),
                        &name,
                        &topic,
                        &read_only,
                        &conversation_key,
                        &creator_id,
                        &at,
                    ],
                )
                .await?;
            let channel_id: ChannelId = get(&row, 0)?;
            let mut members = member_ids;
            if !members.contains(&creator_id) {
                members.insert(0, creator_id);
            }
            members.dedup();
            for user_id in &members {
                sql.execute(
                    "INSERT INTO memberships (channel_id, user_id, joined_at) VALUES ($1, $2, $3)
                     ON CONFLICT DO NOTHING",
                    &[&channel_id, user_id, &at],
                )
                .await?;
            }
            let channel = channel(sql, channel_id)
                .await?
                .ok_or(StoreError::NotFound("channel"))?;
            let event = append_event(
                sql,
                head,
                at,
                Some(channel_id),
                None,
                false,
                EventPayload::ChannelCreated {
                    channel: channel.clone(),
                    member_ids: members,
                },
            )
            .await?;
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
                let row = sql
                    .query_one(
                        "SELECT EXISTS (SELECT 1 FROM channels WHERE name = $1 AND id != $2 AND kind IN ('public', 'private'))",
                        &[name, &channel_id],
                    )
                    .await?;
                if get::<bool>(&row, 0)? {
                    return Err(StoreError::Conflict(format!(
                        "a channel named {name} already exists"
                    )));
                }
            }
            let updated = sql
                .execute(
                    "UPDATE channels SET name = COALESCE($2, name), topic = COALESCE($3, topic),
                     archived = COALESCE($4, archived) WHERE id = $1",
                    &[&channel_id, &name, &topic, &archived],
                )
                .await?;
            if updated == 0 {
                return Err(StoreError::NotFound("channel"));
            }
            let channel = channel(sql, channel_id)
                .await?
                .ok_or(StoreError::NotFound("channel"))?;
            let event = append_event(
                sql,
                head,
                at,
                Some(channel_id),
                None,
                false,
                EventPayload::ChannelUpdated {
                    channel: channel.clone(),
                    actor_id,
                },
            )
            .await?;
            Ok(outcome(OutcomeValue::Channel(channel), vec![event]))
        }

        Command::SetMembership {
            channel_id,
            user_id,
            actor_id,
            member,
            at,
        } => {
            let channel = channel(sql, channel_id)
                .await?
                .ok_or(StoreError::NotFound("channel"))?;
            let changed = if member {
                let active = match sql
                    .query_opt("SELECT active FROM users WHERE id = $1", &[&user_id])
                    .await?
                {
                    Some(row) => Some(get::<bool>(&row, 0)?),
                    None => None,
                };
                if active != Some(true) {
                    return Err(StoreError::NotFound("user"));
                }
                sql.execute(
                    "INSERT INTO memberships (channel_id, user_id, joined_at) VALUES ($1, $2, $3)
                     ON CONFLICT DO NOTHING",
                    &[&channel_id, &user_id, &at],
                )
                .await?
            } else {
                sql.execute(
                    "DELETE FROM memberships WHERE channel_id = $1 AND user_id = $2",
                    &[&channel_id, &user_id],
                )
                .await?
            };
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
                events.push(
                    append_event(
                        sql,
                        head,
                        at,
                        Some(channel_id),
                        Some(user_id),
                        false,
                        payload,
                    )
                    .await?,
                );
            }
            Ok(outcome(OutcomeValue::Channel(channel), events))
        }

        Command::MarkRead {
            channel_id,
            user_id,
            message_id,
            at,
        } => {
            let updated = sql
                .execute(
                    "UPDATE memberships SET last_read_message_id = $3 WHERE channel_id = $1 AND user_id = $2",
                    &[&channel_id, &user_id, &message_id],
                )
                .await?;
            if updated == 0 {
                return Err(StoreError::NotFound("membership"));
            }
            let event = append_event(
                sql,
                head,
                at,
                Some(channel_id),
                Some(user_id),
                true,
                EventPayload::ReadMarker {
                    channel_id,
                    message_id,
                },
            )
            .await?;
            Ok(outcome(OutcomeValue::None, vec![event]))
        }

        Command::DeactivateUser { user_id, at } => {
            let user_before = user(sql, user_id)
                .await?
                .ok_or(StoreError::NotFound("user"))?;
            sql.execute(
                "UPDATE sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL",
                &[&user_id, &at],
            )
            .await?;
            // SCIM tokens act with their maker's rights: they die with them.
            sql.execute(
                "UPDATE scim_tokens SET revoked_at = $2 WHERE created_by = $1 AND revoked_at IS NULL",
                &[&user_id, &at],
            )
            .await?;
            if !user_before.active {
                return Ok(outcome(OutcomeValue::None, vec![]));
            }
            sql.execute(
                "UPDATE users SET active = FALSE, deactivated_at = $2 WHERE id = $1",
                &[&user_id, &at],
            )
            .await?;
            let user_after = user(sql, user_id)
                .await?
                .ok_or(StoreError::NotFound("user"))?;
            let event = append_event(
                sql,
                head,
                at,
                None,
                Some(user_id),
                false,
                EventPayload::UserDeactivated { user: user_after },
            )
            .await?;
            Ok(outcome(OutcomeValue::None, vec![event]))
        }
    }
}

async fn insert_mentions<C: GenericClient + Sync>(
    sql: &Sql<'_, C>,
    message_id: MessageId,
    channel_id: ChannelId,
    mentions: &[UserId],
) -> StoreResult<()> {
    for user_id in mentions {
        sql.execute(
            "INSERT INTO mentions (message_id, user_id, channel_id) VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING",
            &[&message_id, user_id, &channel_id],
        )
        .await?;
    }
    Ok(())
}
