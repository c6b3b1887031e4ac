//! The compliance feature's storage on SQLite (see conclave_store::ComplianceStore):
//! legal holds, retention policies and purges, erasure, the export reads and
//! the journal's content check.
//!
//! Removal is real: `secure_delete` (set on every connection) zeroes freed
//! cells and pages, and a `wal_checkpoint(TRUNCATE)` after each purge or
//! erasure empties the write-ahead log, so removed text lingers neither in
//! the database file's free space nor in the WAL.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use async_trait::async_trait;
use conclave_domain::compliance::{
    ArchivedChannel, ArchivedMessage, ErasureOutcome, ErasureReport, ExportFilter, HoldId,
    LegalHold, MembershipChange, NewLegalHold, PurgeReport, RetentionPolicy, RetentionScope,
    effective_retention_days, scrub_message,
};
use conclave_domain::{
    ChannelId, EventPayload, Message, MessageId, MessageVersion, Millis, Position, ReactionSummary,
    UserId,
};
use conclave_store::journal::{chained_digest, redact_imported_record};
use conclave_store::sealing::open_archived;
use conclave_store::{ComplianceStore, Keyring, Store, StoreError, StoreResult};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};

use crate::SqliteStore;
use crate::apply::{ChainHead, append_event};
use crate::rows::{self, ATTACHMENT_COLUMNS, CHANNEL_COLUMNS, backend};

const HOLD_COLUMNS: &str = "id, name, date_from, date_to, created_at, released_at";

#[async_trait]
impl ComplianceStore for SqliteStore {
    async fn create_hold(&self, hold: NewLegalHold) -> StoreResult<LegalHold> {
        hold.check().map_err(StoreError::Invalid)?;
        self.write(move |conn| {
            let transaction = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(backend)?;
            let taken: bool = transaction
                .query_row("SELECT EXISTS (SELECT 1 FROM legal_holds WHERE name = ?1)", params![hold.name], |row| row.get(0))
                .map_err(backend)?;
            if taken {
                return Err(StoreError::Conflict(format!("a hold named {:?} already exists", hold.name)));
            }
            for user_id in &hold.custodian_ids {
                let exists: bool = transaction
                    .query_row("SELECT EXISTS (SELECT 1 FROM users WHERE id = ?1)", params![user_id], |row| row.get(0))
                    .map_err(backend)?;
                if !exists {
                    return Err(StoreError::NotFound("custodian"));
                }
            }
            for channel_id in &hold.channel_ids {
                let exists: bool = transaction
                    .query_row("SELECT EXISTS (SELECT 1 FROM channels WHERE id = ?1)", params![channel_id], |row| row.get(0))
                    .map_err(backend)?;
                if !exists {
                    return Err(StoreError::NotFound("channel"));
                }
            }
            transaction
                .execute(
                    "INSERT INTO legal_holds (name, date_from, date_to, created_at) VALUES (?1, ?2, ?3, ?4)",
                    params![hold.name, hold.from, hold.to, hold.created_at],
                )
                .map_err(backend)?;
            let id = transaction.last_insert_rowid();
            for user_id in &hold.custodian_ids {
                transaction
                    .execute("INSERT OR IGNORE INTO legal_hold_custodians (hold_id, user_id) VALUES (?1, ?2)", params![id, user_id])
                    .map_err(backend)?;
            }
            for channel_id in &hold.channel_ids {
                transaction
                    .execute("INSERT OR IGNORE INTO legal_hold_channels (hold_id, channel_id) VALUES (?1, ?2)", params![id, channel_id])
                    .map_err(backend)?;
            }
            let created = load_hold(&transaction, id)?.ok_or(StoreError::NotFound("hold"))?;
            journal(&transaction, hold.created_at, "hold_created", hold_details(&created))?;
            transaction.commit().map_err(backend)?;
            Ok(created)
        })
        .await
    }

    async fn holds(&self, include_released: bool) -> StoreResult<Vec<LegalHold>> {
        self.read(move |conn| load_holds(conn, include_released))
            .await
    }

    async fn hold_by_name(&self, name: &str) -> StoreResult<Option<LegalHold>> {
        let name = name.to_string();
        self.read(move |conn| {
            let id: Option<i64> = conn
                .query_row(
                    "SELECT id FROM legal_holds WHERE name = ?1",
                    params![name],
                    |row| row.get(0),
                )
                .optional()
                .map_err(backend)?;
            match id {
                Some(id) => load_hold(conn, id),
                None => Ok(None),
            }
        })
        .await
    }

    async fn release_hold(&self, id: HoldId, at: Millis) -> StoreResult<LegalHold> {
        self.write(move |conn| {
            let transaction = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(backend)?;
            let hold = load_hold(&transaction, id)?.ok_or(StoreError::NotFound("hold"))?;
            if hold.released_at.is_some() {
                return Err(StoreError::Invalid(format!(
                    "the hold {:?} is already released",
                    hold.name
                )));
            }
            transaction
                .execute(
                    "UPDATE legal_holds SET released_at = ?2 WHERE id = ?1",
                    params![id, at],
                )
                .map_err(backend)?;
            let released = load_hold(&transaction, id)?.ok_or(StoreError::NotFound("hold"))?;
            journal(&transaction, at, "hold_released", hold_details(&released))?;
            transaction.commit().map_err(backend)?;
            Ok(released)
        })
        .await
    }

    async fn set_retention(
        &self,
        scope: RetentionScope,
        days: Option<i64>,
        at: Millis,
    ) -> StoreResult<RetentionPolicy> {
        conclave_domain::compliance::check_retention_days(days).map_err(StoreError::Invalid)?;
        self.write(move |conn| {
            let transaction = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(backend)?;
            if let RetentionScope::Channel(channel_id) = &scope {
                let exists: bool = transaction
                    .query_row("SELECT EXISTS (SELECT 1 FROM channels WHERE id = ?1)", params![channel_id], |row| row.get(0))
                    .map_err(backend)?;
                if !exists {
                    return Err(StoreError::NotFound("channel"));
                }
            }
            transaction
                .execute(
                    "INSERT INTO retention_policies (scope, days, updated_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT (scope) DO UPDATE SET days = excluded.days, updated_at = excluded.updated_at",
                    params![scope.key(), days, at],
                )
                .map_err(backend)?;
            let policy = RetentionPolicy { scope, days, updated_at: at };
            journal(&transaction, at, "retention_set", serde_json::json!({"scope": policy.scope.key(), "days": days}))?;
            transaction.commit().map_err(backend)?;
            Ok(policy)
        })
        .await
    }

    async fn retention_policies(&self) -> StoreResult<Vec<RetentionPolicy>> {
        self.read(load_policies).await
    }

    async fn purge_expired(&self, now: Millis) -> StoreResult<PurgeReport> {
        self.write(move |conn| {
            let transaction = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(backend)?;
            let report = purge(&transaction, now)?;
            transaction.commit().map_err(backend)?;
            if report.messages > 0 {
                checkpoint(conn)?;
            }
            Ok(report)
        })
        .await
    }

    async fn erase_user(&self, user_id: UserId, at: Millis) -> StoreResult<ErasureOutcome> {
        let keyring = Arc::clone(self.keyring());
        self.write(move |conn| {
            let transaction = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(backend)?;
            let outcome = erase(&transaction, &keyring, user_id, at)?;
            transaction.commit().map_err(backend)?;
            if matches!(outcome, ErasureOutcome::Erased(_)) {
                checkpoint(conn)?;
            }
            Ok(outcome)
        })
        .await
    }

    async fn export_channels(&self, filter: &ExportFilter) -> StoreResult<Vec<ArchivedChannel>> {
        let filter = filter.clone();
        self.read(move |conn| {
            let (condition, values) = filter_sql(&filter);
            let channel_ids: Vec<i64> = crate::collect(
                conn,
                &format!(
                    "SELECT DISTINCT channel_id FROM messages WHERE {condition} ORDER BY channel_id"
                ),
                params_from_iter(values),
                |row| row.get(0),
            )?;
            let mut channels = Vec::with_capacity(channel_ids.len());
            for channel_id in channel_ids {
                let channel = conn
                    .query_row(
                        &format!("SELECT {CHANNEL_COLUMNS} FROM channels WHERE id = ?1"),
                        params![channel_id],
                        rows::channel,
                    )
                    .map_err(backend)?;
                let member_ids = crate::collect(
                    conn,
                    "SELECT user_id FROM memberships WHERE channel_id = ?1 ORDER BY user_id",
                    params![channel_id],
                    |row| row.get(0),
                )?;
                channels.push(ArchivedChannel {
                    channel,
                    member_ids,
                });
            }
            Ok(channels)
        })
        .await
    }

    async fn export_messages(
        &self,
        filter: &ExportFilter,
        channel_id: ChannelId,
        after: MessageId,
        limit: i64,
    ) -> StoreResult<Vec<ArchivedMessage>> {
        let filter = ExportFilter {
            channel_ids: vec![channel_id],
            ..filter.clone()
        };
        let keyring = Arc::clone(self.keyring());
        self.read(move |conn| {
            let mut page = export_page(conn, &filter, after, limit)?;
            for archived in &mut page {
                open_archived(&keyring, archived);
            }
            Ok(page)
        })
        .await
    }

    async fn membership_changes(
        &self,
        channel_id: ChannelId,
        from: Option<Millis>,
        to: Option<Millis>,
    ) -> StoreResult<Vec<MembershipChange>> {
        self.read(move |conn| {
            let rows = crate::collect(
                conn,
                "SELECT created_at, payload FROM events
                 WHERE channel_id = ?1 AND kind IN ('channel_created', 'member_joined', 'member_left')
                   AND created_at >= ?2 AND created_at < ?3
                 ORDER BY position",
                params![channel_id, from.unwrap_or(i64::MIN), to.unwrap_or(i64::MAX)],
                |row| Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?)),
            )?;
            Ok(membership_from_payloads(channel_id, rows))
        })
        .await
    }

    async fn journal_head(&self) -> StoreResult<(Position, String)> {
        self.read(|conn| ChainHead::read(conn).map(|head| (head.position, head.hash)))
            .await
    }

    async fn journal_hash_at(&self, position: Position) -> StoreResult<Option<String>> {
        self.read(move |conn| {
            conn.query_row(
                "SELECT hash FROM events WHERE position = ?1",
                params![position],
                |row| row.get(0),
            )
            .optional()
            .map_err(backend)
        })
        .await
    }
}

/// Turns join, leave and creation entries of one channel into membership
/// changes; both backends read the same payloads.
pub(crate) fn membership_from_payloads(
    channel_id: ChannelId,
    rows: Vec<(Millis, String)>,
) -> Vec<MembershipChange> {
    let mut changes = Vec::new();
    for (at, payload) in rows {
        match serde_json::from_str::<EventPayload>(&payload) {
            Ok(EventPayload::ChannelCreated { member_ids, .. }) => {
                changes.extend(member_ids.into_iter().map(|user_id| MembershipChange {
                    channel_id,
                    user_id,
                    joined: true,
                    at,
                }));
            }
            Ok(EventPayload::MemberJoined { user_id, .. }) => {
                changes.push(MembershipChange {
                    channel_id,
                    user_id,
                    joined: true,
                    at,
                });
            }
            Ok(EventPayload::MemberLeft { user_id, .. }) => {
                changes.push(MembershipChange {
                    channel_id,
                    user_id,
                    joined: false,
                    at,
                });
            }
            _ => {}
        }
    }
    changes
}

fn hold_details(hold: &LegalHold) -> serde_json::Value {
    serde_json::json!({
        "hold_id": hold.id,
        "name": hold.name,
        "custodian_ids": hold.custodian_ids,
        "channel_ids": hold.channel_ids,
        "from": hold.from,
        "to": hold.to,
    })
}

/// Appends a compliance entry (metadata only, seen by no client).
fn journal(
    conn: &Connection,
    at: Millis,
    action: &str,
    details: serde_json::Value,
) -> StoreResult<()> {
    let mut head = ChainHead::read(conn)?;
    append_event(
        conn,
        &mut head,
        at,
        None,
        None,
        true,
        EventPayload::Compliance {
            action: action.to_string(),
            details,
        },
    )?;
    Ok(())
}

/// Empties the WAL into the database file and truncates it, so removed
/// content does not survive in old WAL frames.
fn checkpoint(conn: &Connection) -> StoreResult<()> {
    let (busy, _, _): (i64, i64, i64) = conn
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })
        .map_err(backend)?;
    if busy != 0 {
        tracing::warn!(
            "the WAL checkpoint after a purge was blocked by a reader; it completes on the next checkpoint"
        );
    }
    Ok(())
}

fn load_hold(conn: &Connection, id: HoldId) -> StoreResult<Option<LegalHold>> {
    let hold = conn
        .query_row(
            &format!("SELECT {HOLD_COLUMNS} FROM legal_holds WHERE id = ?1"),
            params![id],
            hold_row,
        )
        .optional()
        .map_err(backend)?;
    match hold {
        Some(mut hold) => {
            complete_hold(conn, &mut hold)?;
            Ok(Some(hold))
        }
        None => Ok(None),
    }
}

fn load_holds(conn: &Connection, include_released: bool) -> StoreResult<Vec<LegalHold>> {
    let condition = if include_released {
        "1 = 1"
    } else {
        "released_at IS NULL"
    };
    let mut holds = crate::collect(
        conn,
        &format!("SELECT {HOLD_COLUMNS} FROM legal_holds WHERE {condition} ORDER BY id DESC"),
        [],
        hold_row,
    )?;
    for hold in &mut holds {
        complete_hold(conn, hold)?;
    }
    Ok(holds)
}

fn hold_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<LegalHold> {
    Ok(LegalHold {
        id: row.get(0)?,
        name: row.get(1)?,
        custodian_ids: Vec::new(),
        channel_ids: Vec::new(),
        from: row.get(2)?,
        to: row.get(3)?,
        created_at: row.get(4)?,
        released_at: row.get(5)?,
    })
}

fn complete_hold(conn: &Connection, hold: &mut LegalHold) -> StoreResult<()> {
    hold.custodian_ids = crate::collect(
        conn,
        "SELECT user_id FROM legal_hold_custodians WHERE hold_id = ?1 ORDER BY user_id",
        params![hold.id],
        |row| row.get(0),
    )?;
    hold.channel_ids = crate::collect(
        conn,
        "SELECT channel_id FROM legal_hold_channels WHERE hold_id = ?1 ORDER BY channel_id",
        params![hold.id],
        |row| row.get(0),
    )?;
    Ok(())
}

fn load_policies(conn: &Connection) -> StoreResult<Vec<RetentionPolicy>> {
    let rows: Vec<(String, Option<i64>, i64)> = crate::collect(
        conn,
        "SELECT scope, days, updated_at FROM retention_policies ORDER BY scope",
        [],
        |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
    )?;
    Ok(rows
        .into_iter()
        .filter_map(|(key, days, updated_at)| {
            RetentionScope::parse_key(&key).map(|scope| RetentionPolicy {
                scope,
                days,
                updated_at,
            })
        })
        .collect())
}

/// The memberships of the active holds' custodians, for coverage checks.
fn custodian_memberships(
    conn: &Connection,
    holds: &[LegalHold],
) -> StoreResult<HashSet<(UserId, ChannelId)>> {
    let mut memberships = HashSet::new();
    let custodians: HashSet<UserId> = holds
        .iter()
        .flat_map(|hold| hold.custodian_ids.iter().copied())
        .collect();
    for custodian in custodians {
        let channels: Vec<i64> = crate::collect(
            conn,
            "SELECT channel_id FROM memberships WHERE user_id = ?1",
            params![custodian],
            |row| row.get(0),
        )?;
        memberships.extend(channels.into_iter().map(|channel| (custodian, channel)));
    }
    Ok(memberships)
}

/// Fills the temporary `doomed` table with `ids`.
fn stage_ids(conn: &Connection, ids: &[MessageId]) -> StoreResult<()> {
    conn.execute_batch(
        "CREATE TEMP TABLE IF NOT EXISTS doomed (id INTEGER PRIMARY KEY); DELETE FROM temp.doomed;",
    )
    .map_err(backend)?;
    let mut insert = conn
        .prepare_cached("INSERT OR IGNORE INTO temp.doomed (id) VALUES (?1)")
        .map_err(backend)?;
    for id in ids {
        insert.execute(params![id]).map_err(backend)?;
    }
    Ok(())
}

/// Replaces the content of journal entries about the staged messages with
/// stubs, recording each original payload's digest; answers how many. In a
/// bulk import entry only the staged messages' records are blanked.
fn redact_message_events(conn: &Connection, at: Millis, reason: &str) -> StoreResult<u64> {
    let entries: Vec<(i64, String)> = crate::collect(
        conn,
        "SELECT position, payload FROM events
         WHERE kind IN ('message_created', 'message_edited')
           AND CAST(json_extract(payload, '$.message.id') AS INTEGER) IN (SELECT id FROM temp.doomed)
         UNION ALL
         SELECT position, payload FROM events
         WHERE kind = 'messages_imported' AND EXISTS (
             SELECT 1 FROM json_each(events.payload, '$.messages') AS record
             WHERE CAST(json_extract(record.value, '$.id') AS INTEGER) IN (SELECT id FROM temp.doomed))",
        [],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )?;
    if entries.is_empty() {
        return Ok(0);
    }
    let doomed: HashSet<MessageId> =
        crate::collect(conn, "SELECT id FROM temp.doomed", [], |row| row.get(0))?
            .into_iter()
            .collect();
    let mut redacted = 0;
    for (position, payload) in entries {
        let stub = match serde_json::from_str::<EventPayload>(&payload) {
            Ok(EventPayload::MessageCreated { mut message }) => {
                scrub_message(&mut message);
                EventPayload::MessageCreated { message }
            }
            Ok(EventPayload::MessageEdited { mut message, .. }) => {
                scrub_message(&mut message);
                EventPayload::MessageEdited {
                    message,
                    previous_text: String::new(),
                }
            }
            Ok(EventPayload::MessagesImported {
                channel_id,
                mut messages,
            }) => {
                for record in &mut messages {
                    if doomed.contains(&record.id) {
                        redact_imported_record(record);
                    }
                }
                EventPayload::MessagesImported {
                    channel_id,
                    messages,
                }
            }
            _ => continue,
        };
        replace_payload(conn, position, &payload, &stub, at, reason)?;
        redacted += 1;
    }
    Ok(redacted)
}

/// Stores `stub` as the payload at `position`, keeping the digest of the
/// payload the chain was computed over.
fn replace_payload(
    conn: &Connection,
    position: Position,
    current: &str,
    stub: &EventPayload,
    at: Millis,
    reason: &str,
) -> StoreResult<()> {
    let stub_json =
        serde_json::to_string(stub).map_err(|error| StoreError::Backend(error.to_string()))?;
    if stub_json == current {
        return Ok(());
    }
    // A payload redacted before keeps its first (original) digest. A bulk
    // import entry's digest is the same before and after blanking records,
    // so the stub gives it.
    conn.execute(
        "INSERT OR IGNORE INTO journal_redactions (position, payload_sha256, redacted_at, reason) VALUES (?1, ?2, ?3, ?4)",
        params![position, chained_digest(stub, current), at, reason],
    )
    .map_err(backend)?;
    conn.execute(
        "UPDATE events SET payload = ?2 WHERE position = ?1",
        params![position, stub_json],
    )
    .map_err(backend)?;
    Ok(())
}

/// Removes attachment rows of the staged messages (or of `uploader`) and
/// answers (rows removed, blob keys nothing refers to any more).
fn remove_attachments(
    conn: &Connection,
    uploader: Option<UserId>,
) -> StoreResult<(u64, Vec<String>)> {
    let condition = match uploader {
        Some(_) => "uploader_id = ?1 OR message_id IN (SELECT id FROM temp.doomed)",
        None => "message_id IN (SELECT id FROM temp.doomed) AND ?1 IS NULL",
    };
    let keys: Vec<(String, Option<String>)> = crate::collect(
        conn,
        &format!("SELECT storage_key, thumbnail_key FROM attachments WHERE {condition}"),
        params![uploader],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )?;
    let removed = conn
        .execute(
            &format!("DELETE FROM attachments WHERE {condition}"),
            params![uploader],
        )
        .map_err(backend)?;
    let mut orphaned = Vec::new();
    let mut seen = HashSet::new();
    for (storage_key, thumbnail_key) in keys {
        for key in std::iter::once(storage_key).chain(thumbnail_key) {
            if !seen.insert(key.clone()) {
                continue;
            }
            let still_used: bool = conn
                .query_row(
                    "SELECT EXISTS (SELECT 1 FROM attachments WHERE storage_key = ?1 OR thumbnail_key = ?1)",
                    params![key],
                    |row| row.get(0),
                )
                .map_err(backend)?;
            if !still_used {
                orphaned.push(key);
            }
        }
    }
    Ok((removed as u64, orphaned))
}

fn purge(conn: &Connection, now: Millis) -> StoreResult<PurgeReport> {
    let mut report = PurgeReport::default();
    let policies = load_policies(conn)?;
    if policies.iter().all(|policy| policy.days.is_none()) {
        return Ok(report);
    }
    let holds = load_holds(conn, false)?;
    let memberships = custodian_memberships(conn, &holds)?;
    let channel_ids: Vec<i64> =
        crate::collect(conn, "SELECT id FROM channels ORDER BY id", [], |row| {
            row.get(0)
        })?;
    let mut doomed: Vec<MessageId> = Vec::new();
    for channel_id in channel_ids {
        let Some(days) = effective_retention_days(&policies, channel_id, None) else {
            continue;
        };
        let cutoff =
            now.saturating_sub(days.saturating_mul(conclave_domain::compliance::DAY_MILLIS));
        let expired: Vec<(i64, i64, i64)> = crate::collect(
            conn,
            "SELECT id, author_id, created_at FROM messages WHERE channel_id = ?1 AND created_at < ?2 ORDER BY id",
            params![channel_id, cutoff],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )?;
        for (id, author_id, created_at) in expired {
            let held = holds.iter().any(|hold| {
                hold.covers(author_id, channel_id, created_at, |user, channel| {
                    memberships.contains(&(user, channel))
                })
            });
            if held {
                report.held += 1;
            } else {
                doomed.push(id);
                report.oldest = Some(
                    report
                        .oldest
                        .map_or(created_at, |oldest: i64| oldest.min(created_at)),
                );
                report.newest = Some(
                    report
                        .newest
                        .map_or(created_at, |newest: i64| newest.max(created_at)),
                );
            }
        }
    }
    if doomed.is_empty() {
        return Ok(report);
    }
    stage_ids(conn, &doomed)?;
    // A root stays while any of its replies stays.
    let kept_roots = conn
        .execute(
            "DELETE FROM temp.doomed WHERE id IN (
                SELECT thread_id FROM messages
                WHERE thread_id IN (SELECT id FROM temp.doomed) AND id NOT IN (SELECT id FROM temp.doomed))",
            [],
        )
        .map_err(backend)?;
    report.held += kept_roots as u64;
    if kept_roots > 0 {
        let (oldest, newest): (Option<i64>, Option<i64>) = conn
            .query_row(
                "SELECT MIN(created_at), MAX(created_at) FROM messages WHERE id IN (SELECT id FROM temp.doomed)",
                [],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .map_err(backend)?;
        report.oldest = oldest;
        report.newest = newest;
    }
    report.events_redacted = redact_message_events(conn, now, "retention")?;
    let (attachments, orphaned) = remove_attachments(conn, None)?;
    report.attachments = attachments;
    report.orphaned_blobs = orphaned;
    conn.execute(
        "DELETE FROM mentions WHERE message_id IN (SELECT id FROM temp.doomed)",
        [],
    )
    .map_err(backend)?;
    report.reactions = conn
        .execute(
            "DELETE FROM reactions WHERE message_id IN (SELECT id FROM temp.doomed)",
            [],
        )
        .map_err(backend)? as u64;
    report.versions = conn
        .execute(
            "DELETE FROM message_versions WHERE message_id IN (SELECT id FROM temp.doomed)",
            [],
        )
        .map_err(backend)? as u64;
    let affected_roots: Vec<i64> = crate::collect(
        conn,
        "SELECT DISTINCT thread_id FROM messages WHERE id IN (SELECT id FROM temp.doomed) AND thread_id IS NOT NULL
           AND thread_id NOT IN (SELECT id FROM temp.doomed)",
        [],
        |row| row.get(0),
    )?;
    report.messages = conn
        .execute(
            "DELETE FROM messages WHERE id IN (SELECT id FROM temp.doomed)",
            [],
        )
        .map_err(backend)? as u64;
    for root in affected_roots {
        conn.execute(
            "UPDATE messages SET reply_count = (SELECT COUNT(*) FROM messages AS reply WHERE reply.thread_id = ?1 AND reply.deleted_at IS NULL)
             WHERE id = ?1",
            params![root],
        )
        .map_err(backend)?;
    }
    conn.execute("DELETE FROM temp.doomed", [])
        .map_err(backend)?;
    journal(
        conn,
        now,
        "retention_purge",
        serde_json::to_value(&report).unwrap_or_default(),
    )?;
    Ok(report)
}

fn erase(
    conn: &Connection,
    keyring: &Keyring,
    user_id: UserId,
    at: Millis,
) -> StoreResult<ErasureOutcome> {
    let exists: bool = conn
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM users WHERE id = ?1)",
            params![user_id],
            |row| row.get(0),
        )
        .map_err(backend)?;
    if !exists {
        return Err(StoreError::NotFound("user"));
    }
    let holds = load_holds(conn, false)?;
    if let Some(hold) = holds
        .iter()
        .find(|hold| hold.custodian_ids.contains(&user_id))
    {
        return Ok(ErasureOutcome::RefusedByHold {
            hold: hold.name.clone(),
        });
    }
    let memberships = custodian_memberships(conn, &holds)?;
    let authored: Vec<(i64, i64, i64)> = crate::collect(
        conn,
        "SELECT id, channel_id, created_at FROM messages WHERE author_id = ?1 ORDER BY id",
        params![user_id],
        |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
    )?;
    for (_, channel_id, created_at) in &authored {
        if let Some(hold) = holds.iter().find(|hold| {
            hold.covers(user_id, *channel_id, *created_at, |user, channel| {
                memberships.contains(&(user, channel))
            })
        }) {
            return Ok(ErasureOutcome::RefusedByHold {
                hold: hold.name.clone(),
            });
        }
    }
    let ids: Vec<MessageId> = authored.iter().map(|(id, _, _)| *id).collect();
    stage_ids(conn, &ids)?;
    let mut report = ErasureReport {
        user_id,
        messages: ids.len() as u64,
        ..ErasureReport::default()
    };
    report.events_redacted = redact_message_events(conn, at, "erasure")?;
    let (attachments, orphaned) = remove_attachments(conn, Some(user_id))?;
    report.attachments = attachments;
    report.orphaned_blobs = orphaned;
    conn.execute(
        "DELETE FROM mentions WHERE message_id IN (SELECT id FROM temp.doomed)",
        [],
    )
    .map_err(backend)?;
    conn.execute(
        "DELETE FROM reactions WHERE message_id IN (SELECT id FROM temp.doomed)",
        [],
    )
    .map_err(backend)?;
    report.versions = conn
        .execute("UPDATE message_versions SET text = '' WHERE message_id IN (SELECT id FROM temp.doomed)", [])
        .map_err(backend)? as u64;
    conn.execute(
        "UPDATE messages SET text = '', client_id = NULL, deleted_at = COALESCE(deleted_at, ?1),
                deleted_by = COALESCE(deleted_by, ?2)
         WHERE id IN (SELECT id FROM temp.doomed)",
        params![at, user_id],
    )
    .map_err(backend)?;
    conn.execute("DELETE FROM temp.doomed", [])
        .map_err(backend)?;
    // The profile: nothing that identifies the person remains.
    conn.execute(
        "UPDATE users SET name = ?2, email = ?3, handle = ?4, password_hash = NULL, active = 0,
                deactivated_at = COALESCE(deactivated_at, ?5)
         WHERE id = ?1",
        params![
            user_id,
            format!("Erased user {user_id}"),
            format!("erased-{user_id}@erased.invalid"),
            format!("erased-{user_id}"),
            at
        ],
    )
    .map_err(backend)?;
    conn.execute(
        "UPDATE sessions SET revoked_at = ?2 WHERE user_id = ?1 AND revoked_at IS NULL",
        params![user_id, at],
    )
    .map_err(backend)?;
    let anonymous = conn
        .query_row(
            &format!("SELECT {} FROM users WHERE id = ?1", rows::USER_COLUMNS),
            params![user_id],
            rows::user,
        )
        .map_err(backend)?;
    let profiles: Vec<(i64, String)> = crate::collect(
        conn,
        "SELECT position, payload FROM events WHERE kind = 'user_deactivated' AND subject_user_id = ?1",
        params![user_id],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )?;
    for (position, payload) in profiles {
        let stub = EventPayload::UserDeactivated {
            user: anonymous.clone(),
        };
        replace_payload(conn, position, &payload, &stub, at, "erasure")?;
        report.events_redacted += 1;
    }
    report.events_redacted += scrub_external_identity(conn, user_id, at)?;
    // Crypto-shredding: without the key, every sealed copy of what they
    // wrote (backups of the database and of the files included) is noise.
    // Destroyed before this transaction commits: should the commit fail,
    // the content is unreadable all the same.
    report.keys_destroyed = keyring.shred(user_id)?;
    journal(
        conn,
        at,
        "erasure",
        serde_json::to_value(&report).unwrap_or_default(),
    )?;
    Ok(ErasureOutcome::Erased(report))
}

/// For a person from outside (a WhatsApp customer or an imported
/// participant): removes their phone number and name wherever Conclave
/// kept them: the participant record, their customer conversations' key,
/// channel name and topic, and those channels' journal entries (redacted
/// verifiably). Answers how many journal entries were redacted.
fn scrub_external_identity(conn: &Connection, user_id: UserId, at: Millis) -> StoreResult<u64> {
    conn.execute(
        "UPDATE external_participants SET key = 'erased:' || user_id, phone = NULL,
                display_name = 'Erased participant ' || user_id
         WHERE user_id = ?1",
        params![user_id],
    )
    .map_err(backend)?;
    let channels: Vec<i64> = crate::collect(
        conn,
        "SELECT channel_id FROM whatsapp_conversations WHERE customer_user_id = ?1",
        params![user_id],
        |row| row.get(0),
    )?;
    let mut redacted = 0;
    for channel_id in channels {
        conn.execute(
            "UPDATE whatsapp_conversations SET customer_wa_id = 'erased:' || customer_user_id WHERE channel_id = ?1",
            params![channel_id],
        )
        .map_err(backend)?;
        conn.execute(
            "UPDATE channels SET name = 'wa-erased-' || id, topic = 'WhatsApp customer (erased)',
                    conversation_key = 'erased:' || id
             WHERE id = ?1",
            params![channel_id],
        )
        .map_err(backend)?;
        let scrubbed = conn
            .query_row(
                &format!("SELECT {CHANNEL_COLUMNS} FROM channels WHERE id = ?1"),
                params![channel_id],
                rows::channel,
            )
            .map_err(backend)?;
        let entries: Vec<(i64, String)> = crate::collect(
            conn,
            "SELECT position, payload FROM events
             WHERE channel_id = ?1 AND kind IN ('channel_created', 'channel_updated')",
            params![channel_id],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )?;
        for (position, payload) in entries {
            let stub = match serde_json::from_str::<EventPayload>(&payload) {
                Ok(EventPayload::ChannelCreated { member_ids, .. }) => {
                    EventPayload::ChannelCreated {
                        channel: scrubbed.clone(),
                        member_ids,
                    }
                }
                Ok(EventPayload::ChannelUpdated { actor_id, .. }) => EventPayload::ChannelUpdated {
                    channel: scrubbed.clone(),
                    actor_id,
                },
                _ => continue,
            };
            replace_payload(conn, position, &payload, &stub, at, "erasure")?;
            redacted += 1;
        }
    }
    Ok(redacted)
}

/// The WHERE clause (over `messages`) and its values for an export filter.
fn filter_sql(filter: &ExportFilter) -> (String, Vec<Value>) {
    let mut clauses = vec!["1 = 1".to_string()];
    let mut values = Vec::new();
    if let Some(from) = filter.from {
        clauses.push("created_at >= ?".into());
        values.push(Value::Integer(from));
    }
    if let Some(to) = filter.to {
        clauses.push("created_at < ?".into());
        values.push(Value::Integer(to));
    }
    if !filter.channel_ids.is_empty() {
        clauses.push(format!(
            "channel_id IN ({})",
            vec!["?"; filter.channel_ids.len()].join(", ")
        ));
        values.extend(filter.channel_ids.iter().map(|id| Value::Integer(*id)));
    }
    if !filter.custodian_ids.is_empty() {
        let marks = vec!["?"; filter.custodian_ids.len()].join(", ");
        clauses.push(format!(
            "(author_id IN ({marks}) OR channel_id IN (SELECT channel_id FROM memberships WHERE user_id IN ({marks})))"
        ));
        values.extend(filter.custodian_ids.iter().map(|id| Value::Integer(*id)));
        values.extend(filter.custodian_ids.iter().map(|id| Value::Integer(*id)));
    }
    (clauses.join(" AND "), values)
}

fn export_page(
    conn: &Connection,
    filter: &ExportFilter,
    after: MessageId,
    limit: i64,
) -> StoreResult<Vec<ArchivedMessage>> {
    let (condition, mut values) = filter_sql(filter);
    values.push(Value::Integer(after));
    values.push(Value::Integer(limit.clamp(1, 10_000)));
    let mut messages: Vec<ArchivedMessage> = crate::collect(
        conn,
        &format!(
            "SELECT id, channel_id, author_id, thread_id, text, created_at, edited_at, deleted_at, pinned, reply_count,
                    last_reply_at, client_id, deleted_by
             FROM messages WHERE {condition} AND id > ? ORDER BY id LIMIT ?"
        ),
        params_from_iter(values),
        |row| {
            Ok(ArchivedMessage {
                message: Message {
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
                },
                versions: Vec::new(),
                deleted_by: row.get(12)?,
            })
        },
    )?;
    if messages.is_empty() {
        return Ok(messages);
    }
    let ids: Vec<Value> = messages
        .iter()
        .map(|archived| Value::Integer(archived.message.id))
        .collect();
    let marks = vec!["?"; ids.len()].join(", ");
    let mut index: HashMap<MessageId, usize> = HashMap::with_capacity(messages.len());
    for (position, archived) in messages.iter().enumerate() {
        index.insert(archived.message.id, position);
    }
    let versions = crate::collect(
        conn,
        &format!(
            "SELECT message_id, version, text, created_at, author_id FROM message_versions
             WHERE message_id IN ({marks}) ORDER BY message_id, version"
        ),
        params_from_iter(ids.iter()),
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
    for version in versions {
        if let Some(&position) = index.get(&version.message_id) {
            messages[position].versions.push(version);
        }
    }
    let attachments = crate::collect(
        conn,
        &format!(
            "SELECT {ATTACHMENT_COLUMNS} FROM attachments WHERE message_id IN ({marks}) ORDER BY id"
        ),
        params_from_iter(ids.iter()),
        rows::attachment,
    )?;
    for attachment in attachments {
        if let Some(&position) = attachment.message_id.and_then(|id| index.get(&id)) {
            messages[position].message.attachments.push(attachment);
        }
    }
    let mentions: Vec<(i64, i64)> = crate::collect(
        conn,
        &format!(
            "SELECT message_id, user_id FROM mentions WHERE message_id IN ({marks}) ORDER BY message_id, user_id"
        ),
        params_from_iter(ids.iter()),
        |row| Ok((row.get(0)?, row.get(1)?)),
    )?;
    for (message_id, user_id) in mentions {
        if let Some(&position) = index.get(&message_id) {
            messages[position].message.mentions.push(user_id);
        }
    }
    let reactions: Vec<(i64, String, i64)> = crate::collect(
        conn,
        &format!(
            "SELECT message_id, emoji, user_id FROM reactions WHERE message_id IN ({marks})
             ORDER BY message_id, created_at, emoji, user_id"
        ),
        params_from_iter(ids.iter()),
        |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
    )?;
    for (message_id, emoji, user_id) in reactions {
        if let Some(&position) = index.get(&message_id) {
            add_reaction(&mut messages[position].message.reactions, emoji, user_id);
        }
    }
    Ok(messages)
}

pub(crate) fn add_reaction(reactions: &mut Vec<ReactionSummary>, emoji: String, user_id: UserId) {
    match reactions.iter_mut().find(|summary| summary.emoji == emoji) {
        Some(summary) => summary.user_ids.push(user_id),
        None => reactions.push(ReactionSummary {
            emoji,
            user_ids: vec![user_id],
        }),
    }
}

/// A disagreement: journal position, message id, version, problem.
type Mismatch = (Option<i64>, Option<i64>, Option<i64>, String);

/// The journal's content check: every stored message version must equal
/// the text its journal entry recorded (or be empty where the entry was
/// redacted), every journal entry must have its version unless redacted,
/// and each message's text must be its last version's. Answers the first
/// disagreement, by journal position (0 when no entry exists).
pub(crate) fn verify_content(conn: &Connection) -> StoreResult<Option<(Position, String)>> {
    let mismatch: Option<Mismatch> = conn
        .query_row(
            "WITH entries AS (
                SELECT position,
                       CAST(json_extract(payload, '$.message.id') AS INTEGER) AS message_id,
                       json_extract(payload, '$.message.text') AS text,
                       EXISTS (SELECT 1 FROM journal_redactions AS r WHERE r.position = events.position) AS redacted
                FROM events WHERE kind IN ('message_created', 'message_edited')
                UNION ALL
                SELECT position,
                       CAST(json_extract(record.value, '$.id') AS INTEGER),
                       json_extract(record.value, '$.text'),
                       json_extract(record.value, '$.redacted_sha256') IS NOT NULL
                FROM events, json_each(events.payload, '$.messages') AS record
                WHERE kind = 'messages_imported'),
             journal AS (
                SELECT position, message_id, text, redacted,
                       ROW_NUMBER() OVER (PARTITION BY message_id ORDER BY position) AS version
                FROM entries)
             SELECT journal.position, COALESCE(journal.message_id, stored.message_id), COALESCE(journal.version, stored.version),
                    CASE
                      WHEN journal.position IS NULL THEN 'has no journal entry'
                      WHEN stored.message_id IS NULL THEN 'is missing but its journal entry was not redacted'
                      WHEN journal.redacted THEN 'was redacted in the journal but its text remains'
                      ELSE 'differs from the text the journal recorded'
                    END
             FROM journal FULL OUTER JOIN message_versions AS stored
               ON stored.message_id = journal.message_id AND stored.version = journal.version
             WHERE journal.position IS NULL
                OR (stored.message_id IS NULL AND NOT journal.redacted)
                OR (stored.message_id IS NOT NULL AND journal.redacted AND stored.text != '')
                OR (stored.message_id IS NOT NULL AND NOT journal.redacted AND stored.text IS NOT journal.text)
             ORDER BY journal.position IS NULL, journal.position LIMIT 1",
            [],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
        )
        .optional()
        .map_err(backend)?;
    if let Some((position, message_id, version, problem)) = mismatch {
        return Ok(Some((
            position.unwrap_or(0),
            format!(
                "message {} version {} {problem}",
                message_id.unwrap_or_default(),
                version.unwrap_or_default()
            ),
        )));
    }
    let current: Option<i64> = conn
        .query_row(
            "SELECT id FROM messages AS m
             WHERE m.text IS NOT (SELECT v.text FROM message_versions AS v WHERE v.message_id = m.id ORDER BY v.version DESC LIMIT 1)
             ORDER BY id LIMIT 1",
            [],
            |row| row.get(0),
        )
        .optional()
        .map_err(backend)?;
    if let Some(message_id) = current {
        let position: i64 = conn
            .query_row(
                "SELECT COALESCE(MAX(position), 0) FROM events
                 WHERE (kind IN ('message_created', 'message_edited')
                        AND CAST(json_extract(payload, '$.message.id') AS INTEGER) = ?1)
                    OR (kind = 'messages_imported' AND EXISTS (
                        SELECT 1 FROM json_each(events.payload, '$.messages') AS record
                        WHERE CAST(json_extract(record.value, '$.id') AS INTEGER) = ?1))",
                params![message_id],
                |row| row.get(0),
            )
            .map_err(backend)?;
        return Ok(Some((
            position,
            format!("message {message_id}'s text differs from its last journalled version"),
        )));
    }
    Ok(None)
}
