//! The audit log on SQLite.

use async_trait::async_trait;
use conclave_domain::{AuditEntry, AuditFilter, NewAuditEntry};
use conclave_store::{AuditStore, StoreResult};
use rusqlite::{Row, params, params_from_iter, types::Value};

use crate::SqliteStore;
use crate::rows::backend;

const COLUMNS: &str =
    "id, at, actor_id, actor_label, action, target_kind, target_id, address, before, after";

fn entry(row: &Row<'_>) -> rusqlite::Result<AuditEntry> {
    Ok(AuditEntry {
        id: row.get(0)?,
        at: row.get(1)?,
        actor_id: row.get(2)?,
        actor_label: row.get(3)?,
        action: row.get(4)?,
        target_kind: row.get(5)?,
        target_id: row.get(6)?,
        address: row.get(7)?,
        before: row.get(8)?,
        after: row.get(9)?,
    })
}

#[async_trait]
impl AuditStore for SqliteStore {
    async fn append_audit(&self, new: NewAuditEntry) -> StoreResult<AuditEntry> {
        self.write(move |conn| {
            conn.query_row(
                &format!(
                    "INSERT INTO audit_log (at, actor_id, actor_label, action, target_kind, target_id, address, before, after)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) RETURNING {COLUMNS}"
                ),
                params![
                    new.at,
                    new.actor_id,
                    new.actor_label,
                    new.action,
                    new.target_kind,
                    new.target_id,
                    new.address,
                    new.before,
                    new.after
                ],
                entry,
            )
            .map_err(backend)
        })
        .await
    }

    async fn audit_entries(&self, filter: AuditFilter) -> StoreResult<Vec<AuditEntry>> {
        self.read(move |conn| {
            let mut clauses: Vec<&str> = Vec::new();
            let mut values: Vec<Value> = Vec::new();
            if let Some(actor) = filter.actor_id {
                clauses.push("actor_id = ?");
                values.push(Value::Integer(actor));
            }
            if let Some(action) = &filter.action {
                if action.ends_with('.') {
                    clauses.push("substr(action, 1, length(?)) = ?");
                    values.push(Value::Text(action.clone()));
                    values.push(Value::Text(action.clone()));
                } else {
                    clauses.push("action = ?");
                    values.push(Value::Text(action.clone()));
                }
            }
            if let Some(kind) = &filter.target_kind {
                clauses.push("target_kind = ?");
                values.push(Value::Text(kind.clone()));
            }
            if let Some(target) = &filter.target_id {
                clauses.push("target_id = ?");
                values.push(Value::Text(target.clone()));
            }
            if let Some(from) = filter.from {
                clauses.push("at >= ?");
                values.push(Value::Integer(from));
            }
            if let Some(to) = filter.to {
                clauses.push("at < ?");
                values.push(Value::Integer(to));
            }
            if let Some(before) = filter.before_id {
                clauses.push("id < ?");
                values.push(Value::Integer(before));
            }
            let condition = if clauses.is_empty() {
                "1 = 1".to_string()
            } else {
                clauses.join(" AND ")
            };
            values.push(Value::Integer(filter.limit.clamp(1, 10_000)));
            crate::collect(
                conn,
                &format!(
                    "SELECT {COLUMNS} FROM audit_log WHERE {condition} ORDER BY id DESC LIMIT ?"
                ),
                params_from_iter(values),
                entry,
            )
        })
        .await
    }
}
