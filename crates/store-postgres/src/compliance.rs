//! The compliance feature's storage on PostgreSQL (see conclave_store::ComplianceStore),
//! statement for statement as the SQLite backend's `compliance.rs`, which is
//! the reference.
//!
//! Writes take the same advisory lock as `apply`, so journal entries written
//! here extend the chain in order with every other writer. After a purge or
//! an erasure the touched tables are vacuumed, so dead row versions holding
//! removed text are reclaimed rather than left for autovacuum.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use conclave_domain::compliance::{
    ArchivedChannel, ArchivedMessage, DAY_MILLIS, ErasureOutcome, ErasureReport, ExportFilter,
    HoldId, LegalHold, MembershipChange, NewLegalHold, PurgeReport, RetentionPolicy,
    RetentionScope, check_retention_days, effective_retention_days, scrub_message,
};
use conclave_domain::{
    ChannelId, EventPayload, Message, MessageId, MessageVersion, Millis, Position, ReactionSummary,
    UserId,
};
use conclave_store::journal::{chained_digest, redact_imported_record};
use conclave_store::sealing::open_archived;
use conclave_store::{ComplianceStore, Keyring, Store, StoreError, StoreResult};
use tokio_postgres::types::ToSql;
use tokio_postgres::{GenericClient, Row};

use crate::PostgresStore;
use crate::apply::{ChainHead, append_event};
use crate::connection::{Connection, Sql, backend, get};
use crate::rows::{self, ATTACHMENT_COLUMNS, CHANNEL_COLUMNS, USER_COLUMNS};

const HOLD_COLUMNS: &str = "id, name, date_from, date_to, created_at, released_at";
/// Tables whose dead rows may hold removed content.
const VACUUM_SQL: &str =
    "VACUUM messages, message_versions, mentions, reactions, attachments, events, users";

/// Runs `work` in a transaction holding the apply lock, commits, and
/// vacuums afterwards when `work` says content was removed.
macro_rules! locked_write {
    ($store:expr, |$sql:ident| $work:block) => {{
        let mut writer = $store.writer().await?;
        let Connection { client, statements } = &mut *writer;
        let transaction = client.transaction().await.map_err(backend)?;
        let (value, removed) = {
            let $sql = Sql::new(&transaction, statements);
            $sql.execute(crate::APPLY_LOCK_SQL, &[&crate::APPLY_LOCK_CLASS])
                .await?;
            $work
        };
        transaction.commit().await.map_err(backend)?;
        if removed {
            client.batch_execute(VACUUM_SQL).await.map_err(backend)?;
        }
        Ok(value)
    }};
}

#[async_trait]
impl ComplianceStore for PostgresStore {
    async fn create_hold(&self, hold: NewLegalHold) -> StoreResult<LegalHold> {
        hold.check().map_err(StoreError::Invalid)?;
        locked_write!(self, |sql| {
            let taken = sql
                .query_opt("SELECT 1 FROM legal_holds WHERE name = $1", &[&hold.name])
                .await?;
            if taken.is_some() {
                return Err(StoreError::Conflict(format!(
                    "a hold named {:?} already exists",
                    hold.name
                )));
            }
            for user_id in &hold.custodian_ids {
                if sql
                    .query_opt("SELECT 1 FROM users WHERE id = $1", &[user_id])
                    .await?
                    .is_none()
                {
                    return Err(StoreError::NotFound("custodian"));
                }
            }
            for channel_id in &hold.channel_ids {
                if sql
                    .query_opt("SELECT 1 FROM channels WHERE id = $1", &[channel_id])
                    .await?
                    .is_none()
                {
                    return Err(StoreError::NotFound("channel"));
                }
            }
            let row = sql
                .query_one(
                    "INSERT INTO legal_holds (name, date_from, date_to, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
                    &[&hold.name, &hold.from, &hold.to, &hold.created_at],
                )
                .await?;
            let id: i64 = get(&row, 0)?;
            for user_id in &hold.custodian_ids {
                sql.execute(
                    "INSERT INTO legal_hold_custodians (hold_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                    &[&id, user_id],
                )
                .await?;
            }
            for channel_id in &hold.channel_ids {
                sql.execute(
                    "INSERT INTO legal_hold_channels (hold_id, channel_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                    &[&id, channel_id],
                )
                .await?;
            }
            let created = load_hold(&sql, id)
                .await?
                .ok_or(StoreError::NotFound("hold"))?;
            journal(
                &sql,
                hold.created_at,
                "hold_created",
                hold_details(&created),
            )
            .await?;
            (created, false)
        })
    }

    async fn holds(&self, include_released: bool) -> StoreResult<Vec<LegalHold>> {
        let reader = self.reader().await?;
        load_holds(&reader.sql(), include_released).await
    }

    async fn hold_by_name(&self, name: &str) -> StoreResult<Option<LegalHold>> {
        let reader = self.reader().await?;
        let sql = reader.sql();
        match sql
            .query_opt("SELECT id FROM legal_holds WHERE name = $1", &[&name])
            .await?
        {
            Some(row) => load_hold(&sql, get(&row, 0)?).await,
            None => Ok(None),
        }
    }

    async fn release_hold(&self, id: HoldId, at: Millis) -> StoreResult<LegalHold> {
        locked_write!(self, |sql| {
            let hold = load_hold(&sql, id)
                .await?
                .ok_or(StoreError::NotFound("hold"))?;
            if hold.released_at.is_some() {
                return Err(StoreError::Invalid(format!(
                    "the hold {:?} is already released",
                    hold.name
                )));
            }
            sql.execute(
                "UPDATE legal_holds SET released_at = $2 WHERE id = $1",
                &[&id, &at],
            )
            .await?;
            let released = load_hold(&sql, id)
                .await?
                .ok_or(StoreError::NotFound("hold"))?;
            journal(&sql, at, "hold_released", hold_details(&released)).await?;
            (released, false)
        })
    }

    async fn set_retention(
        &self,
        scope: RetentionScope,
        days: Option<i64>,
        at: Millis,
    ) -> StoreResult<RetentionPolicy> {
        check_retention_days(days).map_err(StoreError::Invalid)?;
        locked_write!(self, |sql| {
            if let RetentionScope::Channel(channel_id) = &scope
                && sql
                    .query_opt("SELECT 1 FROM channels WHERE id = $1", &[channel_id])
                    .await?
                    .is_none()
            {
                return Err(StoreError::NotFound("channel"));
            }
            sql.execute(
                "INSERT INTO retention_policies (scope, days, updated_at) VALUES ($1, $2, $3)
                 ON CONFLICT (scope) DO UPDATE SET days = excluded.days, updated_at = excluded.updated_at",
                &[&scope.key(), &days, &at],
            )
            .await?;
            journal(
                &sql,
                at,
                "retention_set",
                serde_json::json!({"scope": scope.key(), "days": days}),
            )
            .await?;
            (
                RetentionPolicy {
                    scope,
                    days,
                    updated_at: at,
                },
                false,
            )
        })
    }

    async fn retention_policies(&self) -> StoreResult<Vec<RetentionPolicy>> {
        let reader = self.reader().await?;
        load_policies(&reader.sql()).await
    }

    async fn purge_expired(&self, now: Millis) -> StoreResult<PurgeReport> {
        locked_write!(self, |sql| {
            let report = purge(&sql, now).await?;
            let removed = report.messages > 0;
            (report, removed)
        })
    }

    async fn erase_user(&self, user_id: UserId, at: Millis) -> StoreResult<ErasureOutcome> {
        locked_write!(self, |sql| {
            let outcome = erase(&sql, &self.keyring, user_id, at).await?;
            let removed = matches!(outcome, ErasureOutcome::Erased(_));
            (outcome, removed)
        })
    }

    async fn export_channels(&self, filter: &ExportFilter) -> StoreResult<Vec<ArchivedChannel>> {
        let reader = self.reader().await?;
        let sql = reader.sql();
        let (condition, values) = filter_sql(filter);
        let params = as_params(&values);
        let channel_ids: Vec<i64> = sql
            .query(
                &format!(
                    "SELECT DISTINCT channel_id FROM messages WHERE {condition} ORDER BY channel_id"
                ),
                &params,
            )
            .await?
            .iter()
            .map(|row| get(row, 0))
            .collect::<StoreResult<_>>()?;
        let mut channels = Vec::with_capacity(channel_ids.len());
        for channel_id in channel_ids {
            let row = sql
                .query_one(
                    &format!("SELECT {CHANNEL_COLUMNS} FROM channels WHERE id = $1"),
                    &[&channel_id],
                )
                .await?;
            let member_ids = sql
                .query(
                    "SELECT user_id FROM memberships WHERE channel_id = $1 ORDER BY user_id",
                    &[&channel_id],
                )
                .await?
                .iter()
                .map(|row| get(row, 0))
                .collect::<StoreResult<_>>()?;
            channels.push(ArchivedChannel {
                channel: rows::channel(&row)?,
                member_ids,
            });
        }
        Ok(channels)
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
        let reader = self.reader().await?;
        let mut page = export_page(&reader.sql(), &filter, after, limit).await?;
        for archived in &mut page {
            open_archived(self.keyring(), archived);
        }
        Ok(page)
    }

    async fn membership_changes(
        &self,
        channel_id: ChannelId,
        from: Option<Millis>,
        to: Option<Millis>,
    ) -> StoreResult<Vec<MembershipChange>> {
        let reader = self.reader().await?;
        let rows = reader
            .sql()
            .query(
                "SELECT created_at, payload FROM events
                 WHERE channel_id = $1 AND kind IN ('channel_created', 'member_joined', 'member_left')
                   AND created_at >= $2 AND created_at < $3
                 ORDER BY position",
                &[&channel_id, &from.unwrap_or(i64::MIN), &to.unwrap_or(i64::MAX)],
            )
            .await?;
        let mut changes = Vec::new();
        for row in &rows {
            let at: i64 = get(row, 0)?;
            let payload: String = get(row, 1)?;
            match serde_json::from_str::<EventPayload>(&payload) {
                Ok(EventPayload::ChannelCreated { member_ids, .. }) => {
                    changes.extend(member_ids.into_iter().map(|user_id| MembershipChange {
                        channel_id,
                        user_id,
                        joined: true,
                        at,
                    }))
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
        Ok(changes)
    }

    async fn journal_head(&self) -> StoreResult<(Position, String)> {
        let reader = self.reader().await?;
        let head = ChainHead::read(&reader.sql()).await?;
        Ok((head.position, head.hash))
    }

    async fn journal_hash_at(&self, position: Position) -> StoreResult<Option<String>> {
        let reader = self.reader().await?;
        let row = reader
            .sql()
            .query_opt("SELECT hash FROM events WHERE position = $1", &[&position])
            .await?;
        row.map(|row| get(&row, 0)).transpose()
    }
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

async fn journal<C: GenericClient + Sync>(
    sql: &Sql<'_, C>,
    at: Millis,
    action: &str,
    details: serde_json::Value,
) -> StoreResult<()> {
    let mut head = ChainHead::read(sql).await?;
    append_event(
        sql,
        &mut head,
        at,
        None,
        None,
        true,
        EventPayload::Compliance {
            action: action.to_string(),
            details,
        },
    )
    .await?;
    Ok(())
}

fn hold_row(row: &Row) -> StoreResult<LegalHold> {
    Ok(LegalHold {
        id: get(row, 0)?,
        name: get(row, 1)?,
        custodian_ids: Vec::new(),
        channel_ids: Vec::new(),
        from: get(row, 2)?,
        to: get(row, 3)?,
        created_at: get(row, 4)?,
        released_at: get(row, 5)?,
    })
}

async fn complete_hold<C: GenericClient + Sync>(
    sql: &Sql<'_, C>,
    hold: &mut LegalHold,
) -> StoreResult<()> {
    hold.custodian_ids = sql
        .query(
            "SELECT user_id FROM legal_hold_custodians WHERE hold_id = $1 ORDER BY user_id",
            &[&hold.id],
        )
        .await?
        .iter()
        .map(|row| get(row, 0))
        .collect::<StoreResult<_>>()?;
    hold.channel_ids = sql
        .query(
            "SELECT channel_id FROM legal_hold_channels WHERE hold_id = $1 ORDER BY channel_id",
            &[&hold.id],
        )
        .await?
        .iter()
        .map(|row| get(row, 0))
        .collect::<StoreResult<_>>()?;
    Ok(())
}

async fn load_hold<C: GenericClient + Sync>(
    sql: &Sql<'_, C>,
    id: HoldId,
) -> StoreResult<Option<LegalHold>> {
    let Some(row) = sql
        .query_opt(
            &format!("SELECT {HOLD_COLUMNS} FROM legal_holds WHERE id = $1"),
            &[&id],
        )
        .await?
    else {
        return Ok(None);
    };
    let mut hold = hold_row(&row)?;
    complete_hold(sql, &mut hold).await?;
    Ok(Some(hold))
}

async fn load_holds<C: GenericClient + Sync>(
    sql: &Sql<'_, C>,
    include_released: bool,
) -> StoreResult<Vec<LegalHold>> {
    let condition = if include_released {
        "TRUE"
    } else {
        "released_at IS NULL"
    };
    let rows = sql
        .query(
            &format!("SELECT {HOLD_COLUMNS} FROM legal_holds WHERE {condition} ORDER BY id DESC"),
            &[],
        )
        .await?;
    let mut holds = Vec::with_capacity(rows.len());
    for row in &rows {
        let mut hold = hold_row(row)?;
        complete_hold(sql, &mut hold).await?;
        holds.push(hold);
    }
    Ok(holds)
}

async fn load_policies<C: GenericClient + Sync>(
    sql: &Sql<'_, C>,
) -> StoreResult<Vec<RetentionPolicy>> {
    let rows = sql
        .query(
            "SELECT scope, days, updated_at FROM retention_policies ORDER BY scope COLLATE \"C\"",
            &[],
        )
        .await?;
    let mut policies = Vec::with_capacity(rows.len());
    for row in &rows {
        let key: String = get(row, 0)?;
        if let Some(scope) = RetentionScope::parse_key(&key) {
            policies.push(RetentionPolicy {
                scope,
                days: get(row, 1)?,
                updated_at: get(row, 2)?,
            });
        }
    }
    Ok(policies)
}

async fn custodian_memberships<C: GenericClient + Sync>(
    sql: &Sql<'_, C>,
    holds: &[LegalHold],
) -> StoreResult<HashSet<(UserId, ChannelId)>> {
    let custodians: Vec<UserId> = holds
        .iter()
        .flat_map(|hold| hold.custodian_ids.iter().copied())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let rows = sql
        .query(
            "SELECT user_id, channel_id FROM memberships WHERE user_id = ANY($1)",
            &[&custodians],
        )
        .await?;
    rows.iter()
        .map(|row| Ok((get(row, 0)?, get(row, 1)?)))
        .collect()
}

/// Replaces the content of journal entries about `ids` with stubs; in a
/// bulk import entry only the records of `ids` are blanked.
async fn redact_message_events<C: GenericClient + Sync>(
    sql: &Sql<'_, C>,
    ids: &[MessageId],
    at: Millis,
    reason: &str,
) -> StoreResult<u64> {
    let rows = sql
        .query(
            "SELECT position, payload FROM events
             WHERE kind IN ('message_created', 'message_edited')
               AND ((payload::jsonb) -> 'message' ->> 'id')::bigint = ANY($1)
             UNION ALL
             SELECT position, payload FROM events
             WHERE kind = 'messages_imported' AND EXISTS (
                 SELECT 1 FROM jsonb_array_elements((payload::jsonb) -> 'messages') AS record
                 WHERE (record ->> 'id')::bigint = ANY($1))",
            &[&ids],
        )
        .await?;
    let doomed: HashSet<MessageId> = ids.iter().copied().collect();
    let mut redacted = 0;
    for row in &rows {
        let position: i64 = get(row, 0)?;
        let payload: String = get(row, 1)?;
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
        replace_payload(sql, position, &payload, &stub, at, reason).await?;
        redacted += 1;
    }
    Ok(redacted)
}

/// For a person from outside (a WhatsApp customer or an imported
/// participant): removes their phone number and name wherever Conclave
/// kept them: the participant record, their customer conversations' key,
/// channel name and topic, and those channels' journal entries (redacted
/// verifiably). Answers how many journal entries were redacted.
async fn scrub_external_identity<C: GenericClient + Sync>(
    sql: &Sql<'_, C>,
    user_id: UserId,
    at: Millis,
) -> StoreResult<u64> {
    sql.execute(
        "UPDATE external_participants SET key = 'erased:' || user_id, phone = NULL,
                display_name = 'Erased participant ' || user_id
         WHERE user_id = $1",
        &[&user_id],
    )
    .await?;
    let channels: Vec<i64> = sql
        .query(
            "SELECT channel_id FROM whatsapp_conversations WHERE customer_user_id = $1",
            &[&user_id],
        )
        .await?
        .iter()
        .map(|row| get(row, 0))
        .collect::<StoreResult<_>>()?;
    let mut redacted = 0;
    for channel_id in channels {
        sql.execute(
            "UPDATE whatsapp_conversations SET customer_wa_id = 'erased:' || customer_user_id WHERE channel_id = $1",
            &[&channel_id],
        )
        .await?;
        sql.execute(
            "UPDATE channels SET name = 'wa-erased-' || id, topic = 'WhatsApp customer (erased)',
                    conversation_key = 'erased:' || id
             WHERE id = $1",
            &[&channel_id],
        )
        .await?;
        let row = sql
            .query_one(
                &format!("SELECT {CHANNEL_COLUMNS} FROM channels WHERE id = $1"),
                &[&channel_id],
            )
            .await?;
        let scrubbed = rows::channel(&row)?;
        let entries = sql
            .query(
                "SELECT position, payload FROM events
                 WHERE channel_id = $1 AND kind IN ('channel_created', 'channel_updated')",
                &[&channel_id],
            )
            .await?;
        for entry in &entries {
            let position: i64 = get(entry, 0)?;
            let payload: String = get(entry, 1)?;
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
            replace_payload(sql, position, &payload, &stub, at, "erasure").await?;
            redacted += 1;
        }
    }
    Ok(redacted)
}

async fn replace_payload<C: GenericClient + Sync>(
    sql: &Sql<'_, C>,
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
    sql.execute(
        "INSERT INTO journal_redactions (position, payload_sha256, redacted_at, reason) VALUES ($1, $2, $3, $4)
         ON CONFLICT (position) DO NOTHING",
        // A bulk import entry's digest is the same before and after
        // blanking records, so the stub gives it.
        &[&position, &chained_digest(stub, current), &at, &reason],
    )
    .await?;
    sql.execute(
        "UPDATE events SET payload = $2 WHERE position = $1",
        &[&position, &stub_json],
    )
    .await?;
    Ok(())
}

/// Removes attachment rows of `ids` (and, for an erasure, everything
/// `uploader` uploaded); answers the count and the orphaned blob keys.
async fn remove_attachments<C: GenericClient + Sync>(
    sql: &Sql<'_, C>,
    ids: &[MessageId],
    uploader: Option<UserId>,
) -> StoreResult<(u64, Vec<String>)> {
    let uploader = uploader.unwrap_or(i64::MIN);
    let rows = sql
        .query(
            "DELETE FROM attachments WHERE message_id = ANY($1) OR uploader_id = $2 RETURNING storage_key, thumbnail_key",
            &[&ids, &uploader],
        )
        .await?;
    let mut seen = HashSet::new();
    let mut orphaned = Vec::new();
    for row in &rows {
        let storage_key: String = get(row, 0)?;
        let thumbnail_key: Option<String> = get(row, 1)?;
        for key in std::iter::once(storage_key).chain(thumbnail_key) {
            if !seen.insert(key.clone()) {
                continue;
            }
            let used = sql
                .query_opt("SELECT 1 FROM attachments WHERE storage_key = $1 OR thumbnail_key = $1 LIMIT 1", &[&key])
                .await?;
            if used.is_none() {
                orphaned.push(key);
            }
        }
    }
    Ok((rows.len() as u64, orphaned))
}

async fn purge<C: GenericClient + Sync>(sql: &Sql<'_, C>, now: Millis) -> StoreResult<PurgeReport> {
    let mut report = PurgeReport::default();
    let policies = load_policies(sql).await?;
    if policies.iter().all(|policy| policy.days.is_none()) {
        return Ok(report);
    }
    let holds = load_holds(sql, false).await?;
    let memberships = custodian_memberships(sql, &holds).await?;
    let channel_ids: Vec<i64> = sql
        .query("SELECT id FROM channels ORDER BY id", &[])
        .await?
        .iter()
        .map(|row| get(row, 0))
        .collect::<StoreResult<_>>()?;
    let mut doomed: Vec<(MessageId, Millis)> = Vec::new();
    for channel_id in channel_ids {
        let Some(days) = effective_retention_days(&policies, channel_id, None) else {
            continue;
        };
        let cutoff = now.saturating_sub(days.saturating_mul(DAY_MILLIS));
        let expired = sql
            .query(
                "SELECT id, author_id, created_at FROM messages WHERE channel_id = $1 AND created_at < $2 ORDER BY id",
                &[&channel_id, &cutoff],
            )
            .await?;
        for row in &expired {
            let (id, author_id, created_at): (i64, i64, i64) =
                (get(row, 0)?, get(row, 1)?, get(row, 2)?);
            let held = holds.iter().any(|hold| {
                hold.covers(author_id, channel_id, created_at, |user, channel| {
                    memberships.contains(&(user, channel))
                })
            });
            if held {
                report.held += 1;
            } else {
                doomed.push((id, created_at));
            }
        }
    }
    if doomed.is_empty() {
        return Ok(report);
    }
    // A root stays while any of its replies stays.
    let ids: Vec<i64> = doomed.iter().map(|(id, _)| *id).collect();
    let kept_roots: HashSet<i64> = sql
        .query(
            "SELECT DISTINCT thread_id FROM messages WHERE thread_id = ANY($1) AND NOT (id = ANY($1))",
            &[&ids],
        )
        .await?
        .iter()
        .map(|row| get(row, 0))
        .collect::<StoreResult<_>>()?;
    report.held += kept_roots.len() as u64;
    doomed.retain(|(id, _)| !kept_roots.contains(id));
    report.oldest = doomed.iter().map(|(_, at)| *at).min();
    report.newest = doomed.iter().map(|(_, at)| *at).max();
    let ids: Vec<i64> = doomed.iter().map(|(id, _)| *id).collect();
    if ids.is_empty() {
        return Ok(report);
    }
    report.events_redacted = redact_message_events(sql, &ids, now, "retention").await?;
    let (attachments, orphaned) = remove_attachments(sql, &ids, None).await?;
    report.attachments = attachments;
    report.orphaned_blobs = orphaned;
    sql.execute("DELETE FROM mentions WHERE message_id = ANY($1)", &[&ids])
        .await?;
    report.reactions = sql
        .execute("DELETE FROM reactions WHERE message_id = ANY($1)", &[&ids])
        .await?;
    report.versions = sql
        .execute(
            "DELETE FROM message_versions WHERE message_id = ANY($1)",
            &[&ids],
        )
        .await?;
    let affected_roots: Vec<i64> = sql
        .query(
            "SELECT DISTINCT thread_id FROM messages WHERE id = ANY($1) AND thread_id IS NOT NULL AND NOT (thread_id = ANY($1))",
            &[&ids],
        )
        .await?
        .iter()
        .map(|row| get(row, 0))
        .collect::<StoreResult<_>>()?;
    // Replies before roots: the thread reference must never dangle.
    sql.execute(
        "DELETE FROM messages WHERE id = ANY($1) AND thread_id IS NOT NULL",
        &[&ids],
    )
    .await?;
    sql.execute("DELETE FROM messages WHERE id = ANY($1)", &[&ids])
        .await?;
    report.messages = ids.len() as u64;
    for root in affected_roots {
        sql.execute(
            "UPDATE messages SET reply_count = (SELECT COUNT(*) FROM messages AS reply WHERE reply.thread_id = $1 AND reply.deleted_at IS NULL)
             WHERE id = $1",
            &[&root],
        )
        .await?;
    }
    journal(
        sql,
        now,
        "retention_purge",
        serde_json::to_value(&report).unwrap_or_default(),
    )
    .await?;
    Ok(report)
}

async fn erase<C: GenericClient + Sync>(
    sql: &Sql<'_, C>,
    keyring: &Keyring,
    user_id: UserId,
    at: Millis,
) -> StoreResult<ErasureOutcome> {
    if sql
        .query_opt("SELECT 1 FROM users WHERE id = $1", &[&user_id])
        .await?
        .is_none()
    {
        return Err(StoreError::NotFound("user"));
    }
    let holds = load_holds(sql, false).await?;
    if let Some(hold) = holds
        .iter()
        .find(|hold| hold.custodian_ids.contains(&user_id))
    {
        return Ok(ErasureOutcome::RefusedByHold {
            hold: hold.name.clone(),
        });
    }
    let memberships = custodian_memberships(sql, &holds).await?;
    let authored = sql
        .query(
            "SELECT id, channel_id, created_at FROM messages WHERE author_id = $1 ORDER BY id",
            &[&user_id],
        )
        .await?;
    let mut ids = Vec::with_capacity(authored.len());
    for row in &authored {
        let (id, channel_id, created_at): (i64, i64, i64) =
            (get(row, 0)?, get(row, 1)?, get(row, 2)?);
        if let Some(hold) = holds.iter().find(|hold| {
            hold.covers(user_id, channel_id, created_at, |user, channel| {
                memberships.contains(&(user, channel))
            })
        }) {
            return Ok(ErasureOutcome::RefusedByHold {
                hold: hold.name.clone(),
            });
        }
        ids.push(id);
    }
    let mut report = ErasureReport {
        user_id,
        messages: ids.len() as u64,
        ..ErasureReport::default()
    };
    report.events_redacted = redact_message_events(sql, &ids, at, "erasure").await?;
    let (attachments, orphaned) = remove_attachments(sql, &ids, Some(user_id)).await?;
    report.attachments = attachments;
    report.orphaned_blobs = orphaned;
    sql.execute("DELETE FROM mentions WHERE message_id = ANY($1)", &[&ids])
        .await?;
    sql.execute("DELETE FROM reactions WHERE message_id = ANY($1)", &[&ids])
        .await?;
    report.versions = sql
        .execute(
            "UPDATE message_versions SET text = '' WHERE message_id = ANY($1)",
            &[&ids],
        )
        .await?;
    sql.execute(
        "UPDATE messages SET text = '', client_id = NULL, deleted_at = COALESCE(deleted_at, $2),
                deleted_by = COALESCE(deleted_by, $3)
         WHERE id = ANY($1)",
        &[&ids, &at, &user_id],
    )
    .await?;
    sql.execute(
        "UPDATE users SET name = $2, email = $3, handle = $4, password_hash = NULL, active = FALSE,
                deactivated_at = COALESCE(deactivated_at, $5)
         WHERE id = $1",
        &[
            &user_id,
            &format!("Erased user {user_id}"),
            &format!("erased-{user_id}@erased.invalid"),
            &format!("erased-{user_id}"),
            &at,
        ],
    )
    .await?;
    sql.execute(
        "UPDATE sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL",
        &[&user_id, &at],
    )
    .await?;
    let anonymous = rows::user(
        &sql.query_one(
            &format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"),
            &[&user_id],
        )
        .await?,
    )?;
    let profiles = sql
        .query(
            "SELECT position, payload FROM events WHERE kind = 'user_deactivated' AND subject_user_id = $1",
            &[&user_id],
        )
        .await?;
    for row in &profiles {
        let position: i64 = get(row, 0)?;
        let payload: String = get(row, 1)?;
        let stub = EventPayload::UserDeactivated {
            user: anonymous.clone(),
        };
        replace_payload(sql, position, &payload, &stub, at, "erasure").await?;
        report.events_redacted += 1;
    }
    report.events_redacted += scrub_external_identity(sql, user_id, at).await?;
    // Crypto-shredding: without the key, every sealed copy of what they
    // wrote (backups of the database and of the files included) is noise.
    // Destroyed before this transaction commits: should the commit fail,
    // the content is unreadable all the same.
    report.keys_destroyed = keyring.shred(user_id)?;
    journal(
        sql,
        at,
        "erasure",
        serde_json::to_value(&report).unwrap_or_default(),
    )
    .await?;
    Ok(ErasureOutcome::Erased(report))
}

type Values = Vec<Box<dyn ToSql + Sync + Send>>;

fn as_params(values: &Values) -> Vec<&(dyn ToSql + Sync)> {
    values
        .iter()
        .map(|value| value.as_ref() as &(dyn ToSql + Sync))
        .collect()
}

/// The WHERE clause (over `messages`) and its values for an export filter.
fn filter_sql(filter: &ExportFilter) -> (String, Values) {
    let mut clauses = vec!["TRUE".to_string()];
    let mut values: Values = Vec::new();
    if let Some(from) = filter.from {
        values.push(Box::new(from));
        clauses.push(format!("created_at >= ${}", values.len()));
    }
    if let Some(to) = filter.to {
        values.push(Box::new(to));
        clauses.push(format!("created_at < ${}", values.len()));
    }
    if !filter.channel_ids.is_empty() {
        values.push(Box::new(filter.channel_ids.clone()));
        clauses.push(format!("channel_id = ANY(${})", values.len()));
    }
    if !filter.custodian_ids.is_empty() {
        values.push(Box::new(filter.custodian_ids.clone()));
        let index = values.len();
        clauses.push(format!(
            "(author_id = ANY(${index}) OR channel_id IN (SELECT channel_id FROM memberships WHERE user_id = ANY(${index})))"
        ));
    }
    (clauses.join(" AND "), values)
}

async fn export_page<C: GenericClient + Sync>(
    sql: &Sql<'_, C>,
    filter: &ExportFilter,
    after: MessageId,
    limit: i64,
) -> StoreResult<Vec<ArchivedMessage>> {
    let (condition, mut values) = filter_sql(filter);
    values.push(Box::new(after));
    let after_index = values.len();
    values.push(Box::new(limit.clamp(1, 10_000)));
    let limit_index = values.len();
    let rows = sql
        .query(
            &format!(
                "SELECT id, channel_id, author_id, thread_id, text, created_at, edited_at, deleted_at, pinned, reply_count,
                        last_reply_at, client_id, deleted_by
                 FROM messages WHERE {condition} AND id > ${after_index} ORDER BY id LIMIT ${limit_index}"
            ),
            &as_params(&values),
        )
        .await?;
    let mut messages = Vec::with_capacity(rows.len());
    for row in &rows {
        messages.push(ArchivedMessage {
            message: Message {
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
            },
            versions: Vec::new(),
            deleted_by: get(row, 12)?,
        });
    }
    if messages.is_empty() {
        return Ok(messages);
    }
    let ids: Vec<i64> = messages
        .iter()
        .map(|archived| archived.message.id)
        .collect();
    let index: HashMap<MessageId, usize> = ids
        .iter()
        .enumerate()
        .map(|(position, id)| (*id, position))
        .collect();
    for row in &sql
        .query(
            "SELECT message_id, version, text, created_at, author_id FROM message_versions
             WHERE message_id = ANY($1) ORDER BY message_id, version",
            &[&ids],
        )
        .await?
    {
        let version = MessageVersion {
            message_id: get(row, 0)?,
            version: get(row, 1)?,
            text: get(row, 2)?,
            created_at: get(row, 3)?,
            author_id: get(row, 4)?,
        };
        if let Some(&position) = index.get(&version.message_id) {
            messages[position].versions.push(version);
        }
    }
    for row in &sql
        .query(&format!("SELECT {ATTACHMENT_COLUMNS} FROM attachments WHERE message_id = ANY($1) ORDER BY id"), &[&ids])
        .await?
    {
        let attachment = rows::attachment(row)?;
        if let Some(&position) = attachment.message_id.and_then(|id| index.get(&id)) {
            messages[position].message.attachments.push(attachment);
        }
    }
    for row in &sql
        .query("SELECT message_id, user_id FROM mentions WHERE message_id = ANY($1) ORDER BY message_id, user_id", &[&ids])
        .await?
    {
        let (message_id, user_id): (i64, i64) = (get(row, 0)?, get(row, 1)?);
        if let Some(&position) = index.get(&message_id) {
            messages[position].message.mentions.push(user_id);
        }
    }
    for row in &sql
        .query(
            "SELECT message_id, emoji, user_id FROM reactions WHERE message_id = ANY($1)
             ORDER BY message_id, created_at, emoji COLLATE \"C\", user_id",
            &[&ids],
        )
        .await?
    {
        let (message_id, emoji, user_id): (i64, String, i64) =
            (get(row, 0)?, get(row, 1)?, get(row, 2)?);
        if let Some(&position) = index.get(&message_id) {
            let reactions: &mut Vec<ReactionSummary> = &mut messages[position].message.reactions;
            match reactions.iter_mut().find(|summary| summary.emoji == emoji) {
                Some(summary) => summary.user_ids.push(user_id),
                None => reactions.push(ReactionSummary {
                    emoji,
                    user_ids: vec![user_id],
                }),
            }
        }
    }
    Ok(messages)
}

/// The journal's content check, as in the SQLite backend: stored versions
/// against the texts their journal entries recorded, and each message's
/// text against its last version.
pub(crate) async fn verify_content<C: GenericClient + Sync>(
    sql: &Sql<'_, C>,
) -> StoreResult<Option<(Position, String)>> {
    let mismatch = sql
        .query_opt(
            "WITH entries AS (
                SELECT position,
                       ((payload::jsonb) -> 'message' ->> 'id')::bigint AS message_id,
                       (payload::jsonb) -> 'message' ->> 'text' AS text,
                       EXISTS (SELECT 1 FROM journal_redactions AS r WHERE r.position = events.position) AS redacted
                FROM events WHERE kind IN ('message_created', 'message_edited')
                UNION ALL
                SELECT position,
                       (record ->> 'id')::bigint,
                       record ->> 'text',
                       (record -> 'redacted_sha256') IS NOT NULL
                FROM events, jsonb_array_elements((payload::jsonb) -> 'messages') AS record
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
                OR (stored.message_id IS NOT NULL AND journal.redacted AND stored.text <> '')
                OR (stored.message_id IS NOT NULL AND NOT journal.redacted AND stored.text IS DISTINCT FROM journal.text)
             ORDER BY journal.position IS NULL, journal.position LIMIT 1",
            &[],
        )
        .await?;
    if let Some(row) = mismatch {
        let position: Option<i64> = get(&row, 0)?;
        let message_id: Option<i64> = get(&row, 1)?;
        let version: Option<i64> = get(&row, 2)?;
        let problem: String = get(&row, 3)?;
        return Ok(Some((
            position.unwrap_or(0),
            format!(
                "message {} version {} {problem}",
                message_id.unwrap_or_default(),
                version.unwrap_or_default()
            ),
        )));
    }
    let current = sql
        .query_opt(
            "SELECT id FROM messages AS m
             WHERE m.text IS DISTINCT FROM (SELECT v.text FROM message_versions AS v WHERE v.message_id = m.id ORDER BY v.version DESC LIMIT 1)
             ORDER BY id LIMIT 1",
            &[],
        )
        .await?;
    if let Some(row) = current {
        let message_id: i64 = get(&row, 0)?;
        let position: i64 = get(
            &sql.query_one(
                "SELECT COALESCE(MAX(position), 0) FROM events
                 WHERE (kind IN ('message_created', 'message_edited')
                        AND ((payload::jsonb) -> 'message' ->> 'id')::bigint = $1)
                    OR (kind = 'messages_imported' AND EXISTS (
                        SELECT 1 FROM jsonb_array_elements((payload::jsonb) -> 'messages') AS record
                        WHERE (record ->> 'id')::bigint = $1))",
                &[&message_id],
            )
            .await?,
            0,
        )?;
        return Ok(Some((
            position,
            format!("message {message_id}'s text differs from its last journalled version"),
        )));
    }
    Ok(None)
}
