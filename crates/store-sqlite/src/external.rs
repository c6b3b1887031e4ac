//! The external feature's storage on SQLite (see conclave_store::ExternalStore):
//! external participants, WhatsApp import channels and their messages, and
//! the Cloud API connector's conversations and delivery records.
//!
//! Imports are written in bulk: one transaction per batch, prepared
//! statements, one `messages_imported` journal entry per batch built from
//! what was inserted instead of being read back, dedupe keys claimed with
//! `INSERT OR IGNORE` instead of looked up first, and WAL checkpoints
//! deferred until the log is large.

use async_trait::async_trait;
use conclave_domain::event::ImportedRecord;
use conclave_domain::external::{
    ClaimedSend, DeliveryStatus, DeliveryUpdate, Direction, ExternalChannel, ExternalKind,
    ExternalParticipant, ImportBatchOutcome, ImportKey, ImportRun, ImportedKind, ImportedMessage,
    NewExternalParticipant, NewWhatsAppConversation, WhatsAppConversation, WhatsAppImportChannel,
    WhatsAppMessageRecord,
};
use conclave_domain::{Channel, ChannelId, EventPayload, MessageId, Millis, UserId};
use conclave_store::sealing::open_whatsapp_record;
use conclave_store::{ExternalStore, Store, StoreError, StoreResult};
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::apply::{ChainHead, append_event};
use crate::rows::{CHANNEL_COLUMNS, backend, insert_outside_user};
use crate::{SqliteStore, collect};

const PARTICIPANT_COLUMNS: &str = "user_id, key, kind, phone, display_name, source, created_at";
const CONVERSATION_SELECT: &str =
    "SELECT c.channel_id, c.phone_number_id, c.customer_wa_id, c.customer_user_id, u.name,
        c.assignee_id, c.last_inbound_at, c.created_at
     FROM whatsapp_conversations c JOIN users u ON u.id = c.customer_user_id";
const RECORD_COLUMNS: &str = "message_id, channel_id, wamid, direction, kind, status, error, request, attempts, created_at, updated_at";

fn bad_value(what: &str, value: &str) -> rusqlite::Error {
    rusqlite::Error::InvalidColumnType(0, format!("{what} {value:?}"), rusqlite::types::Type::Text)
}

fn participant(row: &Row<'_>) -> rusqlite::Result<ExternalParticipant> {
    let kind: String = row.get(2)?;
    Ok(ExternalParticipant {
        user_id: row.get(0)?,
        key: row.get(1)?,
        kind: ExternalKind::parse(&kind).ok_or_else(|| bad_value("participant kind", &kind))?,
        phone: row.get(3)?,
        display_name: row.get(4)?,
        source: row.get(5)?,
        created_at: row.get(6)?,
    })
}

fn conversation(row: &Row<'_>) -> rusqlite::Result<WhatsAppConversation> {
    Ok(WhatsAppConversation {
        channel_id: row.get(0)?,
        phone_number_id: row.get(1)?,
        customer_wa_id: row.get(2)?,
        customer_user_id: row.get(3)?,
        customer_name: row.get(4)?,
        assignee_id: row.get(5)?,
        last_inbound_at: row.get(6)?,
        created_at: row.get(7)?,
    })
}

fn record(row: &Row<'_>) -> rusqlite::Result<WhatsAppMessageRecord> {
    let direction: String = row.get(3)?;
    let status: String = row.get(5)?;
    Ok(WhatsAppMessageRecord {
        message_id: row.get(0)?,
        channel_id: row.get(1)?,
        wamid: row.get(2)?,
        direction: Direction::parse(&direction)
            .ok_or_else(|| bad_value("direction", &direction))?,
        kind: row.get(4)?,
        status: DeliveryStatus::parse(&status)
            .ok_or_else(|| bad_value("delivery status", &status))?,
        error: row.get(6)?,
        request: row.get(7)?,
        attempts: row.get(8)?,
        created_at: row.get(9)?,
        updated_at: row.get(10)?,
    })
}

/// The WhatsApp record whose `column` (message_id or wamid) is `value`,
/// with its kept request opened.
fn opened_record(
    conn: &Connection,
    keyring: &conclave_store::Keyring,
    column: &str,
    value: impl rusqlite::ToSql,
) -> StoreResult<Option<WhatsAppMessageRecord>> {
    let mut found = conn
        .query_row(
            &format!("SELECT {RECORD_COLUMNS} FROM whatsapp_messages WHERE {column} = ?1"),
            params![value],
            record,
        )
        .optional()
        .map_err(backend)?;
    if let Some(found) = &mut found {
        open_whatsapp_record(keyring, found);
    }
    Ok(found)
}

fn load_channel(conn: &Connection, channel_id: ChannelId) -> StoreResult<Channel> {
    conn.query_row(
        &format!("SELECT {CHANNEL_COLUMNS} FROM channels WHERE id = ?1"),
        params![channel_id],
        crate::rows::channel,
    )
    .optional()
    .map_err(backend)?
    .ok_or(StoreError::NotFound("channel"))
}

fn find_participant(conn: &Connection, key: &str) -> StoreResult<Option<ExternalParticipant>> {
    conn.query_row(
        &format!("SELECT {PARTICIPANT_COLUMNS} FROM external_participants WHERE key = ?1"),
        params![key],
        participant,
    )
    .optional()
    .map_err(backend)
}

/// Adds `user_id` to the channel with a `member_joined` event, unless it is
/// a member already.
fn add_member(
    conn: &Connection,
    head: &mut ChainHead,
    channel_id: ChannelId,
    user_id: UserId,
    actor_id: UserId,
    at: Millis,
) -> StoreResult<()> {
    let added = conn
        .execute(
            "INSERT OR IGNORE INTO memberships (channel_id, user_id, joined_at) VALUES (?1, ?2, ?3)",
            params![channel_id, user_id, at],
        )
        .map_err(backend)?;
    if added > 0 {
        append_event(
            conn,
            head,
            at,
            Some(channel_id),
            Some(user_id),
            false,
            EventPayload::MemberJoined {
                channel_id,
                user_id,
                actor_id,
            },
        )?;
    }
    Ok(())
}

#[async_trait]
impl ExternalStore for SqliteStore {
    async fn external_participant(
        &self,
        new: NewExternalParticipant,
    ) -> StoreResult<ExternalParticipant> {
        self.write(move |conn| {
            let key = new.key();
            // Immediate: another process creating the same person waits
            // instead of failing on the unique key.
            let transaction = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(backend)?;
            if let Some(found) = find_participant(&transaction, &key)? {
                return Ok(found);
            }
            let user_id = insert_outside_user(
                &transaction,
                &new.handle(),
                conclave_domain::external::EXTERNAL_EMAIL_DOMAIN,
                &new.user_name(),
                new.at,
            )?;
            transaction
                .execute(
                    "INSERT INTO external_participants (user_id, key, kind, phone, display_name, source, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![user_id, key, new.kind.as_str(), new.phone, new.display_name, new.source, new.at],
                )
                .map_err(backend)?;
            let found = find_participant(&transaction, &key)?.ok_or(StoreError::NotFound("participant"))?;
            transaction.commit().map_err(backend)?;
            Ok(found)
        })
        .await
    }

    async fn external_participant_by_user(
        &self,
        user_id: UserId,
    ) -> StoreResult<Option<ExternalParticipant>> {
        self.read(move |conn| {
            conn.query_row(
                &format!(
                    "SELECT {PARTICIPANT_COLUMNS} FROM external_participants WHERE user_id = ?1"
                ),
                params![user_id],
                participant,
            )
            .optional()
            .map_err(backend)
        })
        .await
    }

    async fn open_whatsapp_import(
        &self,
        request: WhatsAppImportChannel,
    ) -> StoreResult<(Channel, bool)> {
        self.write(move |conn| {
            let transaction = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(backend)?;
            let mut head = ChainHead::read(&transaction)?;
            let existing: Option<Channel> = transaction
                .query_row(
                    &format!("SELECT {CHANNEL_COLUMNS} FROM channels WHERE name = ?1 AND kind IN ('public', 'private')"),
                    params![request.name],
                    crate::rows::channel,
                )
                .optional()
                .map_err(backend)?;
            let actor_id = request.custodian_id.unwrap_or(request.creator_id);
            let (channel, created) = match existing {
                Some(channel) => {
                    let source: Option<String> = transaction
                        .query_row(
                            "SELECT source FROM external_channels WHERE channel_id = ?1",
                            params![channel.id],
                            |row| row.get(0),
                        )
                        .optional()
                        .map_err(backend)?;
                    if source.as_deref() != Some("whatsapp_export") {
                        return Err(StoreError::Conflict(format!(
                            "a channel named {} exists and is not a WhatsApp import; choose another name",
                            request.name
                        )));
                    }
                    for user_id in &request.member_ids {
                        add_member(&transaction, &mut head, channel.id, *user_id, actor_id, request.at)?;
                    }
                    (channel, false)
                }
                None => {
                    transaction
                        .execute(
                            "INSERT INTO channels (kind, name, topic, read_only, created_by, created_at)
                             VALUES ('private', ?1, ?2, 1, ?3, ?4)",
                            params![request.name, request.topic, request.creator_id, request.at],
                        )
                        .map_err(backend)?;
                    let channel_id = transaction.last_insert_rowid();
                    let mut members = request.member_ids.clone();
                    members.sort_unstable();
                    members.dedup();
                    for user_id in &members {
                        transaction
                            .execute(
                                "INSERT INTO memberships (channel_id, user_id, joined_at) VALUES (?1, ?2, ?3)",
                                params![channel_id, user_id, request.at],
                            )
                            .map_err(backend)?;
                    }
                    transaction
                        .execute(
                            "INSERT INTO external_channels (channel_id, source, custodian_id, created_at)
                             VALUES (?1, 'whatsapp_export', ?2, ?3)",
                            params![channel_id, request.custodian_id, request.at],
                        )
                        .map_err(backend)?;
                    let channel = load_channel(&transaction, channel_id)?;
                    append_event(
                        &transaction,
                        &mut head,
                        request.at,
                        Some(channel_id),
                        None,
                        false,
                        EventPayload::ChannelCreated { channel: channel.clone(), member_ids: members },
                    )?;
                    (channel, true)
                }
            };
            transaction.commit().map_err(backend)?;
            Ok((channel, created))
        })
        .await
    }

    async fn external_channel(
        &self,
        channel_id: ChannelId,
    ) -> StoreResult<Option<ExternalChannel>> {
        self.read(move |conn| {
            conn.query_row(
                "SELECT channel_id, source, custodian_id, created_at FROM external_channels WHERE channel_id = ?1",
                params![channel_id],
                |row| {
                    Ok(ExternalChannel {
                        channel_id: row.get(0)?,
                        source: row.get(1)?,
                        custodian_id: row.get(2)?,
                        created_at: row.get(3)?,
                    })
                },
            )
            .optional()
            .map_err(backend)
        })
        .await
    }

    async fn known_import_keys(
        &self,
        channel_id: ChannelId,
        keys: Vec<ImportKey>,
    ) -> StoreResult<Vec<ImportKey>> {
        self.read(move |conn| {
            // One read transaction for all keys: in autocommit mode every
            // lookup takes and releases the shared lock (syscalls each).
            conn.execute_batch("BEGIN").map_err(backend)?;
            let known = KeyProbe::new(conn, channel_id).and_then(|mut probe| {
                let mut known = Vec::new();
                for key in keys {
                    if probe.known(&key)? {
                        known.push(key);
                    }
                }
                Ok(known)
            });
            conn.execute_batch("COMMIT").map_err(backend)?;
            known
        })
        .await
    }

    async fn import_whatsapp_messages(
        &self,
        channel_id: ChannelId,
        messages: Vec<ImportedMessage>,
        at: Millis,
    ) -> StoreResult<ImportBatchOutcome> {
        let keyring = std::sync::Arc::clone(self.keyring());
        let outcome = self
            .write(move |conn| {
                // The writer does not checkpoint after its commits (unless the
                // WAL has grown very large): the pages are copied into the
                // database by a checkpoint on another thread, started after the
                // commit, while the writer stores the next batch. Commits stay
                // fully synchronous; the connection's own limit is restored
                // after the commit, so its next ordinary commit checkpoints
                // whatever the import left.
                let ordinary_limit: i64 = conn
                    .query_row("PRAGMA wal_autocheckpoint", [], |row| row.get(0))
                    .map_err(backend)?;
                conn.pragma_update(None, "wal_autocheckpoint", IMPORT_CHECKPOINT_PAGES)
                    .map_err(backend)?;
                let outcome = import_batch(conn, &keyring, channel_id, messages, at);
                conn.pragma_update(None, "wal_autocheckpoint", ordinary_limit)
                    .map_err(backend)?;
                outcome
            })
            .await;
        self.checkpoint_beside_writer();
        outcome
    }

    async fn record_import_run(&self, run: ImportRun) -> StoreResult<()> {
        self.write(move |conn| {
            conn.execute(
                "INSERT INTO whatsapp_import_runs (channel_id, custodian_id, source_name, summary, at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![run.channel_id, run.custodian_id, run.source_name, run.summary, run.at],
            )
            .map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn create_whatsapp_conversation(
        &self,
        new: NewWhatsAppConversation,
    ) -> StoreResult<WhatsAppConversation> {
        self.write(move |conn| {
            let transaction = conn.transaction().map_err(backend)?;
            transaction
                .execute(
                    "INSERT OR IGNORE INTO external_channels (channel_id, source, custodian_id, created_at)
                     VALUES (?1, 'whatsapp_cloud', NULL, ?2)",
                    params![new.channel_id, new.at],
                )
                .map_err(backend)?;
            transaction
                .execute(
                    "INSERT OR IGNORE INTO whatsapp_conversations
                         (channel_id, phone_number_id, customer_wa_id, customer_user_id, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![new.channel_id, new.phone_number_id, new.customer_wa_id, new.customer_user_id, new.at],
                )
                .map_err(backend)?;
            let found = transaction
                .query_row(
                    &format!("{CONVERSATION_SELECT} WHERE c.phone_number_id = ?1 AND c.customer_wa_id = ?2"),
                    params![new.phone_number_id, new.customer_wa_id],
                    conversation,
                )
                .map_err(backend)?;
            transaction.commit().map_err(backend)?;
            Ok(found)
        })
        .await
    }

    async fn whatsapp_conversation(
        &self,
        phone_number_id: &str,
        customer_wa_id: &str,
    ) -> StoreResult<Option<WhatsAppConversation>> {
        let (phone_number_id, customer_wa_id) =
            (phone_number_id.to_string(), customer_wa_id.to_string());
        self.read(move |conn| {
            conn.query_row(
                &format!(
                    "{CONVERSATION_SELECT} WHERE c.phone_number_id = ?1 AND c.customer_wa_id = ?2"
                ),
                params![phone_number_id, customer_wa_id],
                conversation,
            )
            .optional()
            .map_err(backend)
        })
        .await
    }

    async fn whatsapp_conversation_by_channel(
        &self,
        channel_id: ChannelId,
    ) -> StoreResult<Option<WhatsAppConversation>> {
        self.read(move |conn| {
            conn.query_row(
                &format!("{CONVERSATION_SELECT} WHERE c.channel_id = ?1"),
                params![channel_id],
                conversation,
            )
            .optional()
            .map_err(backend)
        })
        .await
    }

    async fn whatsapp_conversations(
        &self,
        phone_number_ids: Vec<String>,
    ) -> StoreResult<Vec<WhatsAppConversation>> {
        self.read(move |conn| {
            let mut all = Vec::new();
            for phone_number_id in phone_number_ids {
                all.extend(collect(
                    conn,
                    &format!("{CONVERSATION_SELECT} WHERE c.phone_number_id = ?1"),
                    params![phone_number_id],
                    conversation,
                )?);
            }
            all.sort_by_key(|c| {
                (
                    std::cmp::Reverse(c.last_inbound_at.unwrap_or(c.created_at)),
                    c.channel_id,
                )
            });
            Ok(all)
        })
        .await
    }

    async fn set_whatsapp_assignee(
        &self,
        channel_id: ChannelId,
        assignee_id: Option<UserId>,
    ) -> StoreResult<WhatsAppConversation> {
        self.write(move |conn| {
            let updated = conn
                .execute(
                    "UPDATE whatsapp_conversations SET assignee_id = ?2 WHERE channel_id = ?1",
                    params![channel_id, assignee_id],
                )
                .map_err(backend)?;
            if updated == 0 {
                return Err(StoreError::NotFound("conversation"));
            }
            conn.query_row(
                &format!("{CONVERSATION_SELECT} WHERE c.channel_id = ?1"),
                params![channel_id],
                conversation,
            )
            .map_err(backend)
        })
        .await
    }

    async fn note_whatsapp_inbound(&self, channel_id: ChannelId, at: Millis) -> StoreResult<()> {
        self.write(move |conn| {
            conn.execute(
                "UPDATE whatsapp_conversations SET last_inbound_at = MAX(COALESCE(last_inbound_at, 0), ?2) WHERE channel_id = ?1",
                params![channel_id, at],
            )
            .map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn record_whatsapp_message(&self, mut new: WhatsAppMessageRecord) -> StoreResult<bool> {
        let keyring = std::sync::Arc::clone(self.keyring());
        self.write(move |conn| {
            // A reply's request body holds its text: sealed under its
            // author's key like the message itself.
            if let Some(request) = &new.request {
                let author: i64 = conn
                    .query_row("SELECT author_id FROM messages WHERE id = ?1", params![new.message_id], |row| {
                        row.get(0)
                    })
                    .map_err(backend)?;
                new.request = Some(keyring.seal_text(author, request)?);
            }
            let inserted = conn
                .execute(
                    &format!(
                        "INSERT OR IGNORE INTO whatsapp_messages ({RECORD_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
                    ),
                    params![
                        new.message_id,
                        new.channel_id,
                        new.wamid,
                        new.direction.as_str(),
                        new.kind,
                        new.status.as_str(),
                        new.error,
                        new.request,
                        new.attempts,
                        new.created_at,
                        new.updated_at
                    ],
                )
                .map_err(backend)?;
            Ok(inserted > 0)
        })
        .await
    }

    async fn whatsapp_message(
        &self,
        message_id: MessageId,
    ) -> StoreResult<Option<WhatsAppMessageRecord>> {
        let keyring = std::sync::Arc::clone(self.keyring());
        self.read(move |conn| opened_record(conn, &keyring, "message_id", message_id))
            .await
    }

    async fn whatsapp_message_by_wamid(
        &self,
        wamid: &str,
    ) -> StoreResult<Option<WhatsAppMessageRecord>> {
        let wamid = wamid.to_string();
        let keyring = std::sync::Arc::clone(self.keyring());
        self.read(move |conn| opened_record(conn, &keyring, "wamid", wamid))
            .await
    }

    async fn update_whatsapp_delivery(
        &self,
        update: DeliveryUpdate,
    ) -> StoreResult<Option<WhatsAppMessageRecord>> {
        let keyring = std::sync::Arc::clone(self.keyring());
        self.write(move |conn| {
            let transaction = conn.transaction().map_err(backend)?;
            let current = transaction
                .query_row(
                    &format!("SELECT {RECORD_COLUMNS} FROM whatsapp_messages WHERE message_id = ?1"),
                    params![update.message_id],
                    record,
                )
                .optional()
                .map_err(backend)?;
            let Some(current) = current else {
                return Ok(None);
            };
            let status = if current.status.may_become(update.status) { update.status } else { current.status };
            transaction
                .execute(
                    "UPDATE whatsapp_messages SET status = ?2, wamid = COALESCE(?3, wamid), error = CASE WHEN ?4 IS NULL AND ?2 IN ('sent', 'delivered', 'read') THEN NULL ELSE COALESCE(?4, error) END,
                         attempts = attempts + ?5, updated_at = ?6
                     WHERE message_id = ?1",
                    params![update.message_id, status.as_str(), update.wamid, update.error, update.attempts, update.at],
                )
                .map_err(backend)?;
            let after = transaction
                .query_row(
                    &format!("SELECT {RECORD_COLUMNS} FROM whatsapp_messages WHERE message_id = ?1"),
                    params![update.message_id],
                    record,
                )
                .optional()
                .map_err(backend)?;
            transaction.commit().map_err(backend)?;
            Ok(after.map(|mut after| {
                open_whatsapp_record(&keyring, &mut after);
                after
            }))
        })
        .await
    }

    async fn whatsapp_messages(
        &self,
        channel_id: ChannelId,
    ) -> StoreResult<Vec<WhatsAppMessageRecord>> {
        let keyring = std::sync::Arc::clone(self.keyring());
        self.read(move |conn| {
            let mut records = collect(
                conn,
                &format!("SELECT {RECORD_COLUMNS} FROM whatsapp_messages WHERE channel_id = ?1 ORDER BY message_id"),
                params![channel_id],
                record,
            )?;
            for found in &mut records {
                open_whatsapp_record(&keyring, found);
            }
            Ok(records)
        })
        .await
    }

    async fn claim_whatsapp_sends(
        &self,
        phone_number_ids: Vec<String>,
        now: Millis,
        stale_before: Millis,
    ) -> StoreResult<Vec<ClaimedSend>> {
        if phone_number_ids.is_empty() {
            return Ok(Vec::new());
        }
        let keyring = std::sync::Arc::clone(self.keyring());
        self.write(move |conn| {
            // One statement claims them all. SQLite runs it under the
            // database's write lock, so another process's claim either ran
            // before (the reply is `sending` under a fresh claim by then
            // and is skipped) or runs after and finds nothing left.
            let sql = format!(
                "UPDATE whatsapp_messages SET status = 'sending', updated_at = ?1
                 WHERE status IN ('queued', 'sending') AND direction = 'outbound'
                   AND (status = 'queued' OR updated_at <= ?2)
                   AND channel_id IN (SELECT channel_id FROM whatsapp_conversations WHERE phone_number_id IN ({}))
                 RETURNING {RECORD_COLUMNS},
                     (SELECT phone_number_id FROM whatsapp_conversations c WHERE c.channel_id = whatsapp_messages.channel_id)",
                numbered_placeholders(3, phone_number_ids.len())
            );
            let mut values: Vec<&dyn rusqlite::ToSql> = vec![&now, &stale_before];
            values.extend(phone_number_ids.iter().map(|id| id as &dyn rusqlite::ToSql));
            let mut statement = conn.prepare(&sql).map_err(backend)?;
            let mut claimed = statement
                .query_map(values.as_slice(), |row| {
                    Ok(ClaimedSend {
                        phone_number_id: row.get(11)?,
                        record: record(row)?,
                    })
                })
                .map_err(backend)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(backend)?;
            for send in &mut claimed {
                open_whatsapp_record(&keyring, &mut send.record);
            }
            claimed.sort_by_key(|send| send.record.message_id);
            Ok(claimed)
        })
        .await
    }

    async fn renew_whatsapp_claim(
        &self,
        message_id: MessageId,
        held: Millis,
        now: Millis,
    ) -> StoreResult<bool> {
        self.write(move |conn| {
            conn.execute(
                "UPDATE whatsapp_messages SET updated_at = ?3
                 WHERE message_id = ?1 AND status = 'sending' AND updated_at = ?2",
                params![message_id, held, now],
            )
            .map(|renewed| renewed == 1)
            .map_err(backend)
        })
        .await
    }
}

/// `?first, ?first+1, …`: `count` numbered parameters.
fn numbered_placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|index| format!("?{index}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The time under which keys stored before they carried one are kept
/// (migration 0007).
const LEGACY_KEY_TIME: i64 = i64::MIN;

/// Tells whether import keys are already stored in one channel, also among
/// the keys stored before keys carried their time, when the channel has any.
struct KeyProbe<'c> {
    channel_id: ChannelId,
    lookup: rusqlite::CachedStatement<'c>,
    has_legacy: bool,
}

impl<'c> KeyProbe<'c> {
    fn new(conn: &'c Connection, channel_id: ChannelId) -> StoreResult<Self> {
        let has_legacy = conn
            .prepare_cached(
                "SELECT 1 FROM whatsapp_import_digests WHERE channel_id = ?1 AND local_time = ?2 LIMIT 1",
            )
            .and_then(|mut any| any.exists(params![channel_id, LEGACY_KEY_TIME]))
            .map_err(backend)?;
        let lookup = conn
            .prepare_cached(
                "SELECT 1 FROM whatsapp_import_digests WHERE channel_id = ?1 AND local_time = ?2 AND digest = ?3",
            )
            .map_err(backend)?;
        Ok(KeyProbe {
            channel_id,
            lookup,
            has_legacy,
        })
    }

    fn stored_under(&mut self, local_time: i64, digest: &[u8; 32]) -> StoreResult<bool> {
        self.lookup
            .exists(params![self.channel_id, local_time, &digest[..]])
            .map_err(backend)
    }

    /// Stored before keys carried their time.
    fn legacy(&mut self, key: &ImportKey) -> StoreResult<bool> {
        Ok(self.has_legacy && self.stored_under(LEGACY_KEY_TIME, &key.digest)?)
    }

    fn known(&mut self, key: &ImportKey) -> StoreResult<bool> {
        Ok(self.stored_under(key.local_time, &key.digest)? || self.legacy(key)?)
    }
}

/// WAL pages (4 KiB each, so 256 MiB) an import lets accumulate before
/// checkpointing; the default is 1,000.
const IMPORT_CHECKPOINT_PAGES: i64 = 65_536;

/// Stores one batch of imported messages in one transaction; see
/// `import_whatsapp_messages`.
fn import_batch(
    conn: &mut Connection,
    keyring: &conclave_store::Keyring,
    channel_id: ChannelId,
    messages: Vec<ImportedMessage>,
    at: Millis,
) -> StoreResult<ImportBatchOutcome> {
    let transaction = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(backend)?;
    let mut head = ChainHead::read(&transaction)?;
    let source: Option<String> = transaction
        .query_row(
            "SELECT source FROM external_channels WHERE channel_id = ?1",
            params![channel_id],
            |row| row.get(0),
        )
        .optional()
        .map_err(backend)?;
    if source.as_deref() != Some("whatsapp_export") {
        return Err(StoreError::Invalid(
            "the channel is not a WhatsApp import".into(),
        ));
    }
    // Ids are given explicitly (the next rowid SQLite would pick), so that
    // claiming a dedupe key and learning whether it was known is one
    // statement: a key that is already stored is ignored.
    let mut next_id: MessageId = transaction
        .query_row("SELECT COALESCE(MAX(id), 0) + 1 FROM messages", [], |row| {
            row.get(0)
        })
        .map_err(backend)?;
    let mut outcome = ImportBatchOutcome::default();
    let mut records = Vec::with_capacity(messages.len());
    {
        let mut probe = KeyProbe::new(&transaction, channel_id)?;
        let mut claim_key = transaction
            .prepare_cached(
                "INSERT OR IGNORE INTO whatsapp_import_digests (channel_id, local_time, digest, message_id, kind, line)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .map_err(backend)?;
        let mut insert_message = transaction
            .prepare_cached(
                "INSERT INTO messages (id, channel_id, author_id, text, created_at, edited_at, deleted_at, deleted_by)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )
            .map_err(backend)?;
        let mut insert_version = transaction
            .prepare_cached(
                "INSERT INTO message_versions (message_id, version, text, created_at, author_id) VALUES (?1, 1, ?2, ?3, ?4)",
            )
            .map_err(backend)?;
        let mut insert_attachment = transaction
            .prepare_cached(
                "INSERT INTO attachments (uploader_id, channel_id, message_id, name, content_type, size, sha256,
                     storage_key, thumbnail_key, width, height, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            )
            .map_err(backend)?;
        for imported in messages {
            let message_id = next_id;
            let key = imported.dedupe_key;
            if probe.legacy(&key)? {
                outcome.duplicates += 1;
                continue;
            }
            let claimed = claim_key
                .execute(params![
                    channel_id,
                    key.local_time,
                    &key.digest[..],
                    message_id,
                    imported.kind.as_str(),
                    imported.line
                ])
                .map_err(backend)?;
            if claimed == 0 {
                outcome.duplicates += 1;
                continue;
            }
            next_id += 1;
            let edited_at = imported.edited.then_some(imported.created_at);
            let deleted_at =
                (imported.kind == ImportedKind::Deleted).then_some(imported.created_at);
            let deleted_by = deleted_at.map(|_| imported.author_id);
            let text = keyring.seal_text(imported.author_id, &imported.text)?;
            insert_message
                .execute(params![
                    message_id,
                    channel_id,
                    imported.author_id,
                    text,
                    imported.created_at,
                    edited_at,
                    deleted_at,
                    deleted_by
                ])
                .map_err(backend)?;
            insert_version
                .execute(params![
                    message_id,
                    text,
                    imported.created_at,
                    imported.author_id
                ])
                .map_err(backend)?;
            let mut attachment_ids = Vec::with_capacity(imported.attachments.len());
            for new in imported.attachments {
                insert_attachment
                    .execute(params![
                        new.uploader_id,
                        channel_id,
                        message_id,
                        new.name,
                        new.content_type,
                        new.size,
                        new.sha256,
                        new.storage_key,
                        new.thumbnail_key,
                        new.width,
                        new.height,
                        new.created_at
                    ])
                    .map_err(backend)?;
                attachment_ids.push(transaction.last_insert_rowid());
            }
            outcome.inserted += 1;
            outcome.attachments += attachment_ids.len();
            if imported.kind == ImportedKind::System {
                outcome.system += 1;
            }
            records.push(ImportedRecord {
                id: message_id,
                author_id: imported.author_id,
                created_at: imported.created_at,
                text,
                edited: imported.edited,
                deleted: deleted_at.is_some(),
                attachment_ids,
                redacted_sha256: None,
            });
        }
    }
    // One journal entry for the batch, seen by no client.
    if !records.is_empty() {
        append_event(
            &transaction,
            &mut head,
            at,
            Some(channel_id),
            None,
            true,
            EventPayload::MessagesImported {
                channel_id,
                messages: records,
            },
        )?;
    }
    transaction.commit().map_err(backend)?;
    Ok(outcome)
}
