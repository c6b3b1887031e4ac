//! The external feature's storage on PostgreSQL (see
//! conclave_store::ExternalStore), mirroring the SQLite backend.
//!
//! Writes that extend the journal take the same advisory lock as `apply`,
//! so their events get positions in commit order. Imports are written a
//! batch at a time with `UNNEST` arrays: a handful of round trips per batch
//! instead of several per message.

use std::collections::HashSet;

use async_trait::async_trait;
use conclave_domain::event::ImportedRecord;
use conclave_domain::external::{
    ClaimedSend, DeliveryStatus, DeliveryUpdate, Direction, ExternalChannel, ExternalKind,
    ExternalParticipant, ImportBatchOutcome, ImportKey, ImportRun, ImportedKind, ImportedMessage,
    NewExternalParticipant, NewWhatsAppConversation, WhatsAppConversation, WhatsAppImportChannel,
    WhatsAppMessageRecord,
};
use conclave_domain::{
    Attachment, Channel, ChannelId, Event, EventPayload, MessageId, Millis, UserId,
};
use conclave_store::journal::chain_hash;
use conclave_store::sealing::open_whatsapp_record;
use conclave_store::{ExternalStore, StoreError, StoreResult};
use tokio_postgres::{GenericClient, Row};

use crate::apply::ChainHead;
use crate::connection::{Connection, Sql, backend, get};
use crate::rows::{CHANNEL_COLUMNS, insert_outside_user};
use crate::{APPLY_LOCK_CLASS, APPLY_LOCK_SQL, PostgresStore};

const PARTICIPANT_SELECT: &str =
    "SELECT user_id, key, kind, phone, display_name, source, created_at FROM external_participants";
const CONVERSATION_SELECT: &str =
    "SELECT c.channel_id, c.phone_number_id, c.customer_wa_id, c.customer_user_id, u.name,
        c.assignee_id, c.last_inbound_at, c.created_at
     FROM whatsapp_conversations c JOIN users u ON u.id = c.customer_user_id";
const RECORD_SELECT: &str = "SELECT message_id, channel_id, wamid, direction, kind, status, error, request, attempts, created_at, updated_at
     FROM whatsapp_messages";

fn bad_value(what: &str, value: &str) -> StoreError {
    StoreError::Backend(format!("unreadable {what} {value:?}"))
}

fn participant(row: &Row) -> StoreResult<ExternalParticipant> {
    let kind: String = get(row, 2)?;
    Ok(ExternalParticipant {
        user_id: get(row, 0)?,
        key: get(row, 1)?,
        kind: ExternalKind::parse(&kind).ok_or_else(|| bad_value("participant kind", &kind))?,
        phone: get(row, 3)?,
        display_name: get(row, 4)?,
        source: get(row, 5)?,
        created_at: get(row, 6)?,
    })
}

fn conversation(row: &Row) -> StoreResult<WhatsAppConversation> {
    Ok(WhatsAppConversation {
        channel_id: get(row, 0)?,
        phone_number_id: get(row, 1)?,
        customer_wa_id: get(row, 2)?,
        customer_user_id: get(row, 3)?,
        customer_name: get(row, 4)?,
        assignee_id: get(row, 5)?,
        last_inbound_at: get(row, 6)?,
        created_at: get(row, 7)?,
    })
}

fn record(row: &Row) -> StoreResult<WhatsAppMessageRecord> {
    let direction: String = get(row, 3)?;
    let status: String = get(row, 5)?;
    Ok(WhatsAppMessageRecord {
        message_id: get(row, 0)?,
        channel_id: get(row, 1)?,
        wamid: get(row, 2)?,
        direction: Direction::parse(&direction)
            .ok_or_else(|| bad_value("direction", &direction))?,
        kind: get(row, 4)?,
        status: DeliveryStatus::parse(&status)
            .ok_or_else(|| bad_value("delivery status", &status))?,
        error: get(row, 6)?,
        request: get(row, 7)?,
        attempts: get(row, 8)?,
        created_at: get(row, 9)?,
        updated_at: get(row, 10)?,
    })
}

/// An event at the next position, hashed onto the chain; written by the
/// caller (one at a time or in bulk).
struct PendingEvent {
    event: Event,
    payload_json: String,
    hash: String,
}

fn next_event(
    head: &mut ChainHead,
    at: Millis,
    channel_id: Option<ChannelId>,
    subject_user_id: Option<UserId>,
    payload: EventPayload,
) -> StoreResult<PendingEvent> {
    let private = matches!(payload, EventPayload::MessagesImported { .. });
    let event = Event {
        position: head.position + 1,
        created_at: at,
        channel_id,
        subject_user_id,
        // A bulk import entry is for the journal only, sent to no client.
        private,
        payload,
    };
    let payload_json =
        serde_json::to_string(&event.payload).map_err(|e| StoreError::Backend(e.to_string()))?;
    let hash = chain_hash(&head.hash, &event, &payload_json);
    head.position = event.position;
    head.hash = hash.clone();
    Ok(PendingEvent {
        event,
        payload_json,
        hash,
    })
}

async fn insert_events<C: GenericClient + Sync>(
    sql: &Sql<'_, C>,
    events: &[PendingEvent],
) -> StoreResult<()> {
    if events.is_empty() {
        return Ok(());
    }
    let positions: Vec<i64> = events.iter().map(|e| e.event.position).collect();
    let times: Vec<i64> = events.iter().map(|e| e.event.created_at).collect();
    let kinds: Vec<&str> = events.iter().map(|e| e.event.payload.kind()).collect();
    let channels: Vec<Option<i64>> = events.iter().map(|e| e.event.channel_id).collect();
    let subjects: Vec<Option<i64>> = events.iter().map(|e| e.event.subject_user_id).collect();
    let private: Vec<bool> = events.iter().map(|e| e.event.private).collect();
    let payloads: Vec<&str> = events.iter().map(|e| e.payload_json.as_str()).collect();
    let hashes: Vec<&str> = events.iter().map(|e| e.hash.as_str()).collect();
    sql.execute(
        "INSERT INTO events (position, created_at, kind, channel_id, subject_user_id, private, payload, hash)
         SELECT * FROM UNNEST($1::BIGINT[], $2::BIGINT[], $3::TEXT[], $4::BIGINT[], $5::BIGINT[], $6::BOOLEAN[], $7::TEXT[], $8::TEXT[])",
        &[&positions, &times, &kinds, &channels, &subjects, &private, &payloads, &hashes],
    )
    .await?;
    Ok(())
}

async fn channel_source<C: GenericClient + Sync>(
    sql: &Sql<'_, C>,
    channel_id: ChannelId,
) -> StoreResult<Option<String>> {
    match sql
        .query_opt(
            "SELECT source FROM external_channels WHERE channel_id = $1",
            &[&channel_id],
        )
        .await?
    {
        Some(row) => Ok(Some(get(&row, 0)?)),
        None => Ok(None),
    }
}

/// `count` fresh ids from an identity column's sequence, ascending.
async fn allocate_ids<C: GenericClient + Sync>(
    sql: &Sql<'_, C>,
    table_sequence: &str,
    count: usize,
) -> StoreResult<Vec<i64>> {
    if count == 0 {
        return Ok(Vec::new());
    }
    let count = i64::try_from(count).map_err(|e| StoreError::Backend(e.to_string()))?;
    let query = match table_sequence {
        "messages" => {
            "SELECT nextval(pg_get_serial_sequence('messages', 'id')) FROM generate_series(1, $1::BIGINT)"
        }
        _ => {
            "SELECT nextval(pg_get_serial_sequence('attachments', 'id')) FROM generate_series(1, $1::BIGINT)"
        }
    };
    let mut ids = sql
        .query(query, &[&count])
        .await?
        .iter()
        .map(|row| get::<i64>(row, 0))
        .collect::<StoreResult<Vec<_>>>()?;
    ids.sort_unstable();
    Ok(ids)
}

#[async_trait]
impl ExternalStore for PostgresStore {
    async fn external_participant(
        &self,
        new: NewExternalParticipant,
    ) -> StoreResult<ExternalParticipant> {
        let key = new.key();
        {
            let reader = self.reader().await?;
            let query = format!("{PARTICIPANT_SELECT} WHERE key = $1");
            if let Some(row) = reader.sql().query_opt(&query, &[&key]).await? {
                return participant(&row);
            }
        }
        let mut writer = self.writer().await?;
        let Connection { client, statements } = &mut *writer;
        let transaction = client.transaction().await.map_err(backend)?;
        let sql = Sql::new(&transaction, statements);
        // The same lock as apply: two processes creating one person queue up.
        sql.execute(APPLY_LOCK_SQL, &[&APPLY_LOCK_CLASS]).await?;
        let query = format!("{PARTICIPANT_SELECT} WHERE key = $1");
        if let Some(row) = sql.query_opt(&query, &[&key]).await? {
            return participant(&row);
        }
        let user_id = insert_outside_user(
            &sql,
            &new.handle(),
            conclave_domain::external::EXTERNAL_EMAIL_DOMAIN,
            &new.user_name(),
            new.at,
        )
        .await?;
        sql.execute(
            "INSERT INTO external_participants (user_id, key, kind, phone, display_name, source, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[&user_id, &key, &new.kind.as_str(), &new.phone, &new.display_name, &new.source, &new.at],
        )
        .await?;
        let found = participant(&sql.query_one(&query, &[&key]).await?)?;
        transaction.commit().await.map_err(backend)?;
        Ok(found)
    }

    async fn external_participant_by_user(
        &self,
        user_id: UserId,
    ) -> StoreResult<Option<ExternalParticipant>> {
        let reader = self.reader().await?;
        let query = format!("{PARTICIPANT_SELECT} WHERE user_id = $1");
        reader
            .sql()
            .query_opt(&query, &[&user_id])
            .await?
            .as_ref()
            .map(participant)
            .transpose()
    }

    async fn open_whatsapp_import(
        &self,
        request: WhatsAppImportChannel,
    ) -> StoreResult<(Channel, bool)> {
        let mut writer = self.writer().await?;
        let Connection { client, statements } = &mut *writer;
        let transaction = client.transaction().await.map_err(backend)?;
        let sql = Sql::new(&transaction, statements);
        sql.execute(APPLY_LOCK_SQL, &[&APPLY_LOCK_CLASS]).await?;
        let mut head = ChainHead::read(&sql).await?;
        let query = format!(
            "SELECT {CHANNEL_COLUMNS} FROM channels WHERE name = $1 AND kind IN ('public', 'private')"
        );
        let existing = sql
            .query_opt(&query, &[&request.name])
            .await?
            .as_ref()
            .map(crate::rows::channel)
            .transpose()?;
        let actor_id = request.custodian_id.unwrap_or(request.creator_id);
        let mut events = Vec::new();
        let (channel, created) = match existing {
            Some(channel) => {
                if channel_source(&sql, channel.id).await?.as_deref() != Some("whatsapp_export") {
                    return Err(StoreError::Conflict(format!(
                        "a channel named {} exists and is not a WhatsApp import; choose another name",
                        request.name
                    )));
                }
                for user_id in &request.member_ids {
                    let added = sql
                        .execute(
                            "INSERT INTO memberships (channel_id, user_id, joined_at) VALUES ($1, $2, $3)
                             ON CONFLICT DO NOTHING",
                            &[&channel.id, user_id, &request.at],
                        )
                        .await?;
                    if added > 0 {
                        events.push(next_event(
                            &mut head,
                            request.at,
                            Some(channel.id),
                            Some(*user_id),
                            EventPayload::MemberJoined {
                                channel_id: channel.id,
                                user_id: *user_id,
                                actor_id,
                            },
                        )?);
                    }
                }
                (channel, false)
            }
            None => {
                let row = sql
                    .query_one(
                        "INSERT INTO channels (kind, name, topic, read_only, created_by, created_at)
                         VALUES ('private', $1, $2, TRUE, $3, $4) RETURNING id",
                        &[&request.name, &request.topic, &request.creator_id, &request.at],
                    )
                    .await?;
                let channel_id: i64 = get(&row, 0)?;
                let mut members = request.member_ids.clone();
                members.sort_unstable();
                members.dedup();
                for user_id in &members {
                    sql.execute(
                        "INSERT INTO memberships (channel_id, user_id, joined_at) VALUES ($1, $2, $3)",
                        &[&channel_id, user_id, &request.at],
                    )
                    .await?;
                }
                sql.execute(
                    "INSERT INTO external_channels (channel_id, source, custodian_id, created_at)
                     VALUES ($1, 'whatsapp_export', $2, $3)",
                    &[&channel_id, &request.custodian_id, &request.at],
                )
                .await?;
                let query = format!("SELECT {CHANNEL_COLUMNS} FROM channels WHERE id = $1");
                let channel = crate::rows::channel(&sql.query_one(&query, &[&channel_id]).await?)?;
                events.push(next_event(
                    &mut head,
                    request.at,
                    Some(channel_id),
                    None,
                    EventPayload::ChannelCreated {
                        channel: channel.clone(),
                        member_ids: members,
                    },
                )?);
                (channel, true)
            }
        };
        insert_events(&sql, &events).await?;
        transaction.commit().await.map_err(backend)?;
        Ok((channel, created))
    }

    async fn external_channel(
        &self,
        channel_id: ChannelId,
    ) -> StoreResult<Option<ExternalChannel>> {
        let reader = self.reader().await?;
        let row = reader
            .sql()
            .query_opt(
                "SELECT channel_id, source, custodian_id, created_at FROM external_channels WHERE channel_id = $1",
                &[&channel_id],
            )
            .await?;
        match row {
            Some(row) => Ok(Some(ExternalChannel {
                channel_id: get(&row, 0)?,
                source: get(&row, 1)?,
                custodian_id: get(&row, 2)?,
                created_at: get(&row, 3)?,
            })),
            None => Ok(None),
        }
    }

    async fn known_import_keys(
        &self,
        channel_id: ChannelId,
        keys: Vec<ImportKey>,
    ) -> StoreResult<Vec<ImportKey>> {
        let reader = self.reader().await?;
        let stored = stored_keys(&reader.sql(), channel_id, &keys).await?;
        Ok(keys
            .into_iter()
            .filter(|key| stored.contains(key))
            .collect())
    }

    async fn import_whatsapp_messages(
        &self,
        channel_id: ChannelId,
        messages: Vec<ImportedMessage>,
        at: Millis,
    ) -> StoreResult<ImportBatchOutcome> {
        let mut writer = self.writer().await?;
        let Connection { client, statements } = &mut *writer;
        let transaction = client.transaction().await.map_err(backend)?;
        let sql = Sql::new(&transaction, statements);
        sql.execute(APPLY_LOCK_SQL, &[&APPLY_LOCK_CLASS]).await?;
        if channel_source(&sql, channel_id).await?.as_deref() != Some("whatsapp_export") {
            return Err(StoreError::Invalid(
                "the channel is not a WhatsApp import".into(),
            ));
        }
        let mut head = ChainHead::read(&sql).await?;
        let keys: Vec<ImportKey> = messages.iter().map(|m| m.dedupe_key).collect();
        let mut seen = stored_keys(&sql, channel_id, &keys).await?;
        let mut outcome = ImportBatchOutcome::default();
        let mut fresh = Vec::with_capacity(messages.len());
        for message in messages {
            if seen.insert(message.dedupe_key) {
                fresh.push(message);
            } else {
                outcome.duplicates += 1;
            }
        }
        let message_ids = allocate_ids(&sql, "messages", fresh.len()).await?;
        let attachment_count = fresh.iter().map(|m| m.attachments.len()).sum();
        let mut attachment_ids = allocate_ids(&sql, "attachments", attachment_count)
            .await?
            .into_iter();

        let mut columns = MessageColumns::default();
        let mut attachment_columns = AttachmentColumns::default();
        let mut records = Vec::with_capacity(fresh.len());
        for (mut imported, message_id) in fresh.into_iter().zip(message_ids) {
            // Sealed once: the message, its version and the journal entry
            // hold the same string.
            imported.text = self.keyring.seal_text(imported.author_id, &imported.text)?;
            let edited_at = imported.edited.then_some(imported.created_at);
            let deleted_at =
                (imported.kind == ImportedKind::Deleted).then_some(imported.created_at);
            columns.push(message_id, channel_id, &imported, edited_at, deleted_at);
            let mut record_attachments = Vec::with_capacity(imported.attachments.len());
            for new in imported.attachments {
                let id = attachment_ids
                    .next()
                    .ok_or_else(|| StoreError::Backend("attachment ids ran out".into()))?;
                let attachment = Attachment {
                    id,
                    uploader_id: new.uploader_id,
                    channel_id,
                    message_id: Some(message_id),
                    name: new.name,
                    content_type: new.content_type,
                    size: new.size,
                    sha256: new.sha256,
                    storage_key: new.storage_key,
                    thumbnail_key: new.thumbnail_key,
                    width: new.width,
                    height: new.height,
                    created_at: new.created_at,
                };
                attachment_columns.push(&attachment);
                record_attachments.push(id);
            }
            outcome.inserted += 1;
            outcome.attachments += record_attachments.len();
            if imported.kind == ImportedKind::System {
                outcome.system += 1;
            }
            records.push(ImportedRecord {
                id: message_id,
                author_id: imported.author_id,
                created_at: imported.created_at,
                text: imported.text,
                edited: imported.edited,
                deleted: deleted_at.is_some(),
                attachment_ids: record_attachments,
                redacted_sha256: None,
            });
        }
        // One journal entry for the batch.
        let events = if records.is_empty() {
            Vec::new()
        } else {
            vec![next_event(
                &mut head,
                at,
                Some(channel_id),
                None,
                EventPayload::MessagesImported {
                    channel_id,
                    messages: records,
                },
            )?]
        };
        if !columns.ids.is_empty() {
            sql.execute(
                "INSERT INTO messages (id, channel_id, author_id, text, created_at, edited_at, deleted_at, deleted_by)
                 SELECT * FROM UNNEST($1::BIGINT[], $2::BIGINT[], $3::BIGINT[], $4::TEXT[], $5::BIGINT[], $6::BIGINT[], $7::BIGINT[], $8::BIGINT[])",
                &[
                    &columns.ids,
                    &columns.channel_ids,
                    &columns.author_ids,
                    &columns.texts,
                    &columns.created_at,
                    &columns.edited_at,
                    &columns.deleted_at,
                    &columns.deleted_by,
                ],
            )
            .await?;
            sql.execute(
                "INSERT INTO message_versions (message_id, version, text, created_at, author_id)
                 SELECT id, 1, text, created_at, author_id
                 FROM UNNEST($1::BIGINT[], $2::TEXT[], $3::BIGINT[], $4::BIGINT[]) AS v (id, text, created_at, author_id)",
                &[&columns.ids, &columns.texts, &columns.created_at, &columns.author_ids],
            )
            .await?;
            sql.execute(
                "INSERT INTO whatsapp_import_digests (channel_id, local_time, digest, message_id, kind, line)
                 SELECT * FROM UNNEST($1::BIGINT[], $2::BIGINT[], $3::BYTEA[], $4::BIGINT[], $5::TEXT[], $6::BIGINT[])",
                &[
                    &columns.channel_ids,
                    &columns.key_times,
                    &columns.key_digests,
                    &columns.ids,
                    &columns.kinds,
                    &columns.lines,
                ],
            )
            .await?;
        }
        if !attachment_columns.ids.is_empty() {
            let a = &attachment_columns;
            sql.execute(
                "INSERT INTO attachments (id, uploader_id, channel_id, message_id, name, content_type, size, sha256,
                     storage_key, thumbnail_key, width, height, created_at)
                 SELECT * FROM UNNEST($1::BIGINT[], $2::BIGINT[], $3::BIGINT[], $4::BIGINT[], $5::TEXT[], $6::TEXT[],
                     $7::BIGINT[], $8::TEXT[], $9::TEXT[], $10::TEXT[], $11::BIGINT[], $12::BIGINT[], $13::BIGINT[])",
                &[
                    &a.ids, &a.uploader_ids, &a.channel_ids, &a.message_ids, &a.names, &a.content_types,
                    &a.sizes, &a.sha256, &a.storage_keys, &a.thumbnail_keys, &a.widths, &a.heights,
                    &a.created_at,
                ],
            )
            .await?;
        }
        insert_events(&sql, &events).await?;
        transaction.commit().await.map_err(backend)?;
        Ok(outcome)
    }

    async fn record_import_run(&self, run: ImportRun) -> StoreResult<()> {
        let writer = self.writer().await?;
        writer
            .sql()
            .execute(
                "INSERT INTO whatsapp_import_runs (channel_id, custodian_id, source_name, summary, at)
                 VALUES ($1, $2, $3, $4, $5)",
                &[&run.channel_id, &run.custodian_id, &run.source_name, &run.summary, &run.at],
            )
            .await?;
        Ok(())
    }

    async fn create_whatsapp_conversation(
        &self,
        new: NewWhatsAppConversation,
    ) -> StoreResult<WhatsAppConversation> {
        let mut writer = self.writer().await?;
        let Connection { client, statements } = &mut *writer;
        let transaction = client.transaction().await.map_err(backend)?;
        let sql = Sql::new(&transaction, statements);
        sql.execute(
            "INSERT INTO external_channels (channel_id, source, custodian_id, created_at)
             VALUES ($1, 'whatsapp_cloud', NULL, $2) ON CONFLICT DO NOTHING",
            &[&new.channel_id, &new.at],
        )
        .await?;
        sql.execute(
            "INSERT INTO whatsapp_conversations (channel_id, phone_number_id, customer_wa_id, customer_user_id, created_at)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            &[&new.channel_id, &new.phone_number_id, &new.customer_wa_id, &new.customer_user_id, &new.at],
        )
        .await?;
        let query =
            format!("{CONVERSATION_SELECT} WHERE c.phone_number_id = $1 AND c.customer_wa_id = $2");
        let found = conversation(
            &sql.query_one(&query, &[&new.phone_number_id, &new.customer_wa_id])
                .await?,
        )?;
        transaction.commit().await.map_err(backend)?;
        Ok(found)
    }

    async fn whatsapp_conversation(
        &self,
        phone_number_id: &str,
        customer_wa_id: &str,
    ) -> StoreResult<Option<WhatsAppConversation>> {
        let reader = self.reader().await?;
        let query =
            format!("{CONVERSATION_SELECT} WHERE c.phone_number_id = $1 AND c.customer_wa_id = $2");
        reader
            .sql()
            .query_opt(&query, &[&phone_number_id, &customer_wa_id])
            .await?
            .as_ref()
            .map(conversation)
            .transpose()
    }

    async fn whatsapp_conversation_by_channel(
        &self,
        channel_id: ChannelId,
    ) -> StoreResult<Option<WhatsAppConversation>> {
        let reader = self.reader().await?;
        let query = format!("{CONVERSATION_SELECT} WHERE c.channel_id = $1");
        reader
            .sql()
            .query_opt(&query, &[&channel_id])
            .await?
            .as_ref()
            .map(conversation)
            .transpose()
    }

    async fn whatsapp_conversations(
        &self,
        phone_number_ids: Vec<String>,
    ) -> StoreResult<Vec<WhatsAppConversation>> {
        let reader = self.reader().await?;
        let query = format!(
            "{CONVERSATION_SELECT} WHERE c.phone_number_id = ANY($1)
             ORDER BY COALESCE(c.last_inbound_at, c.created_at) DESC, c.channel_id"
        );
        reader
            .sql()
            .query(&query, &[&phone_number_ids])
            .await?
            .iter()
            .map(conversation)
            .collect()
    }

    async fn set_whatsapp_assignee(
        &self,
        channel_id: ChannelId,
        assignee_id: Option<UserId>,
    ) -> StoreResult<WhatsAppConversation> {
        let writer = self.writer().await?;
        let sql = writer.sql();
        let updated = sql
            .execute(
                "UPDATE whatsapp_conversations SET assignee_id = $2 WHERE channel_id = $1",
                &[&channel_id, &assignee_id],
            )
            .await?;
        if updated == 0 {
            return Err(StoreError::NotFound("conversation"));
        }
        let query = format!("{CONVERSATION_SELECT} WHERE c.channel_id = $1");
        conversation(&sql.query_one(&query, &[&channel_id]).await?)
    }

    async fn note_whatsapp_inbound(&self, channel_id: ChannelId, at: Millis) -> StoreResult<()> {
        let writer = self.writer().await?;
        writer
            .sql()
            .execute(
                "UPDATE whatsapp_conversations SET last_inbound_at = GREATEST(COALESCE(last_inbound_at, 0), $2)
                 WHERE channel_id = $1",
                &[&channel_id, &at],
            )
            .await?;
        Ok(())
    }

    async fn record_whatsapp_message(&self, mut new: WhatsAppMessageRecord) -> StoreResult<bool> {
        let writer = self.writer().await?;
        // A reply's request body holds its text: sealed under its author's
        // key like the message itself.
        if let Some(request) = &new.request {
            let author: i64 = get(
                &writer
                    .sql()
                    .query_one(
                        "SELECT author_id FROM messages WHERE id = $1",
                        &[&new.message_id],
                    )
                    .await?,
                0,
            )?;
            new.request = Some(self.keyring.seal_text(author, request)?);
        }
        let inserted = writer
            .sql()
            .execute(
                "INSERT INTO whatsapp_messages (message_id, channel_id, wamid, direction, kind, status, error, request,
                     attempts, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING",
                &[
                    &new.message_id,
                    &new.channel_id,
                    &new.wamid,
                    &new.direction.as_str(),
                    &new.kind,
                    &new.status.as_str(),
                    &new.error,
                    &new.request,
                    &new.attempts,
                    &new.created_at,
                    &new.updated_at,
                ],
            )
            .await?;
        Ok(inserted > 0)
    }

    async fn whatsapp_message(
        &self,
        message_id: MessageId,
    ) -> StoreResult<Option<WhatsAppMessageRecord>> {
        self.record_where("message_id", &message_id).await
    }

    async fn whatsapp_message_by_wamid(
        &self,
        wamid: &str,
    ) -> StoreResult<Option<WhatsAppMessageRecord>> {
        self.record_where("wamid", &wamid).await
    }

    async fn update_whatsapp_delivery(
        &self,
        update: DeliveryUpdate,
    ) -> StoreResult<Option<WhatsAppMessageRecord>> {
        let mut writer = self.writer().await?;
        let Connection { client, statements } = &mut *writer;
        let transaction = client.transaction().await.map_err(backend)?;
        let sql = Sql::new(&transaction, statements);
        let query = format!("{RECORD_SELECT} WHERE message_id = $1 FOR UPDATE");
        let Some(current) = sql
            .query_opt(&query, &[&update.message_id])
            .await?
            .as_ref()
            .map(record)
            .transpose()?
        else {
            return Ok(None);
        };
        let status = if current.status.may_become(update.status) {
            update.status
        } else {
            current.status
        };
        sql.execute(
            "UPDATE whatsapp_messages SET status = $2, wamid = COALESCE($3, wamid), error = CASE WHEN $4::TEXT IS NULL AND $2::TEXT IN ('sent', 'delivered', 'read') THEN NULL ELSE COALESCE($4, error) END,
                 attempts = attempts + $5, updated_at = $6
             WHERE message_id = $1",
            &[
                &update.message_id,
                &status.as_str(),
                &update.wamid,
                &update.error,
                &update.attempts,
                &update.at,
            ],
        )
        .await?;
        let query = format!("{RECORD_SELECT} WHERE message_id = $1");
        let after = self.opened_record(&sql.query_one(&query, &[&update.message_id]).await?)?;
        transaction.commit().await.map_err(backend)?;
        Ok(Some(after))
    }

    async fn whatsapp_messages(
        &self,
        channel_id: ChannelId,
    ) -> StoreResult<Vec<WhatsAppMessageRecord>> {
        let reader = self.reader().await?;
        let query = format!("{RECORD_SELECT} WHERE channel_id = $1 ORDER BY message_id");
        reader
            .sql()
            .query(&query, &[&channel_id])
            .await?
            .iter()
            .map(|row| self.opened_record(row))
            .collect()
    }

    async fn claim_whatsapp_sends(
        &self,
        phone_number_ids: Vec<String>,
        now: Millis,
        stale_before: Millis,
    ) -> StoreResult<Vec<ClaimedSend>> {
        let writer = self.writer().await?;
        // One statement claims them all. Under READ COMMITTED a second
        // process updating the same row waits for the first to commit, then
        // evaluates the status condition again on the row as committed: the
        // reply is `sending` under a fresh claim by then, so it is skipped.
        let rows = writer
            .sql()
            .query(
                "UPDATE whatsapp_messages m SET status = 'sending', updated_at = $2
                 FROM whatsapp_conversations c
                 WHERE c.channel_id = m.channel_id AND c.phone_number_id = ANY($1)
                   AND m.direction = 'outbound'
                   AND m.status IN ('queued', 'sending')
                   AND (m.status = 'queued' OR m.updated_at <= $3)
                 RETURNING m.message_id, m.channel_id, m.wamid, m.direction, m.kind, m.status, m.error,
                     m.request, m.attempts, m.created_at, m.updated_at, c.phone_number_id",
                &[&phone_number_ids, &now, &stale_before],
            )
            .await?;
        let mut claimed = rows
            .iter()
            .map(|row| {
                Ok(ClaimedSend {
                    phone_number_id: get(row, 11)?,
                    record: self.opened_record(row)?,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        claimed.sort_by_key(|send| send.record.message_id);
        Ok(claimed)
    }

    async fn renew_whatsapp_claim(
        &self,
        message_id: MessageId,
        held: Millis,
        now: Millis,
    ) -> StoreResult<bool> {
        let writer = self.writer().await?;
        let renewed = writer
            .sql()
            .execute(
                "UPDATE whatsapp_messages SET updated_at = $3
                 WHERE message_id = $1 AND status = 'sending' AND updated_at = $2",
                &[&message_id, &held, &now],
            )
            .await?;
        Ok(renewed == 1)
    }
}

impl PostgresStore {
    /// The WhatsApp record whose `column` (message_id or wamid) is `value`,
    /// with its kept request opened.
    async fn record_where(
        &self,
        column: &str,
        value: &(dyn tokio_postgres::types::ToSql + Sync),
    ) -> StoreResult<Option<WhatsAppMessageRecord>> {
        let reader = self.reader().await?;
        let query = format!("{RECORD_SELECT} WHERE {column} = $1");
        reader
            .sql()
            .query_opt(&query, &[value])
            .await?
            .as_ref()
            .map(|row| self.opened_record(row))
            .transpose()
    }

    fn opened_record(&self, row: &Row) -> StoreResult<WhatsAppMessageRecord> {
        let mut record = record(row)?;
        open_whatsapp_record(&self.keyring, &mut record);
        Ok(record)
    }
}

/// The columns of a batch of imported messages, for `UNNEST`.
/// The time under which keys stored before they carried one are kept
/// (migration 0007).
const LEGACY_KEY_TIME: i64 = i64::MIN;

/// Which of `keys` the channel already holds, also among the keys stored
/// before keys carried their time.
async fn stored_keys<C: GenericClient + Sync>(
    sql: &Sql<'_, C>,
    channel_id: ChannelId,
    keys: &[ImportKey],
) -> StoreResult<HashSet<ImportKey>> {
    let times: Vec<i64> = keys.iter().map(|key| key.local_time).collect();
    let digests: Vec<&[u8]> = keys.iter().map(|key| &key.digest[..]).collect();
    sql.query(
        "SELECT k.local_time, k.digest FROM UNNEST($2::BIGINT[], $3::BYTEA[]) AS k (local_time, digest)
         WHERE EXISTS (SELECT 1 FROM whatsapp_import_digests d
                       WHERE d.channel_id = $1 AND d.local_time IN (k.local_time, $4) AND d.digest = k.digest)",
        &[&channel_id, &times, &digests, &LEGACY_KEY_TIME],
    )
    .await?
    .iter()
    .map(|row| {
        let digest: &[u8] = get(row, 1)?;
        Ok(ImportKey {
            local_time: get(row, 0)?,
            digest: digest
                .try_into()
                .map_err(|_| StoreError::Backend("an import digest is not 32 bytes".into()))?,
        })
    })
    .collect()
}

#[derive(Default)]
struct MessageColumns {
    ids: Vec<i64>,
    channel_ids: Vec<i64>,
    author_ids: Vec<i64>,
    texts: Vec<String>,
    created_at: Vec<i64>,
    edited_at: Vec<Option<i64>>,
    deleted_at: Vec<Option<i64>>,
    deleted_by: Vec<Option<i64>>,
    key_times: Vec<i64>,
    key_digests: Vec<Vec<u8>>,
    kinds: Vec<&'static str>,
    lines: Vec<i64>,
}

impl MessageColumns {
    fn push(
        &mut self,
        id: MessageId,
        channel_id: ChannelId,
        imported: &ImportedMessage,
        edited_at: Option<Millis>,
        deleted_at: Option<Millis>,
    ) {
        self.ids.push(id);
        self.channel_ids.push(channel_id);
        self.author_ids.push(imported.author_id);
        self.texts.push(imported.text.clone());
        self.created_at.push(imported.created_at);
        self.edited_at.push(edited_at);
        self.deleted_at.push(deleted_at);
        self.deleted_by.push(deleted_at.map(|_| imported.author_id));
        self.key_times.push(imported.dedupe_key.local_time);
        self.key_digests.push(imported.dedupe_key.digest.to_vec());
        self.kinds.push(imported.kind.as_str());
        self.lines.push(imported.line);
    }
}

#[derive(Default)]
struct AttachmentColumns {
    ids: Vec<i64>,
    uploader_ids: Vec<i64>,
    channel_ids: Vec<i64>,
    message_ids: Vec<Option<i64>>,
    names: Vec<String>,
    content_types: Vec<String>,
    sizes: Vec<i64>,
    sha256: Vec<String>,
    storage_keys: Vec<String>,
    thumbnail_keys: Vec<Option<String>>,
    widths: Vec<Option<i64>>,
    heights: Vec<Option<i64>>,
    created_at: Vec<i64>,
}

impl AttachmentColumns {
    fn push(&mut self, attachment: &Attachment) {
        self.ids.push(attachment.id);
        self.uploader_ids.push(attachment.uploader_id);
        self.channel_ids.push(attachment.channel_id);
        self.message_ids.push(attachment.message_id);
        self.names.push(attachment.name.clone());
        self.content_types.push(attachment.content_type.clone());
        self.sizes.push(attachment.size);
        self.sha256.push(attachment.sha256.clone());
        self.storage_keys.push(attachment.storage_key.clone());
        self.thumbnail_keys.push(attachment.thumbnail_key.clone());
        self.widths.push(attachment.width);
        self.heights.push(attachment.height);
        self.created_at.push(attachment.created_at);
    }
}
