//! The audit log on PostgreSQL.

use async_trait::async_trait;
use conclave_domain::{AuditEntry, AuditFilter, NewAuditEntry};
use conclave_store::{AuditStore, StoreResult};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::PostgresStore;
use crate::connection::get;

const COLUMNS: &str =
    "id, at, actor_id, actor_label, action, target_kind, target_id, address, before, after";

fn entry(row: &Row) -> StoreResult<AuditEntry> {
    Ok(AuditEntry {
        id: get(row, 0)?,
        at: get(row, 1)?,
        actor_id: get(row, 2)?,
        actor_label: get(row, 3)?,
        action: get(row, 4)?,
        target_kind: get(row, 5)?,
        target_id: get(row, 6)?,
        address: get(row, 7)?,
        before: get(row, 8)?,
        after: get(row, 9)?,
    })
}

#[async_trait]
impl AuditStore for PostgresStore {
    async fn append_audit(&self, new: NewAuditEntry) -> StoreResult<AuditEntry> {
        let writer = self.writer().await?;
        let row = writer
            .sql()
            .query_one(
                &format!(
                    "INSERT INTO audit_log (at, actor_id, actor_label, action, target_kind, target_id, address, before, after)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {COLUMNS}"
                ),
                &[
                    &new.at,
                    &new.actor_id,
                    &new.actor_label,
                    &new.action,
                    &new.target_kind,
                    &new.target_id,
                    &new.address,
                    &new.before,
                    &new.after,
                ],
            )
            .await?;
        entry(&row)
    }

    async fn audit_entries(&self, filter: AuditFilter) -> StoreResult<Vec<AuditEntry>> {
        let mut clauses: Vec<String> = Vec::new();
        let mut values: Vec<Box<dyn ToSql + Sync + Send>> = Vec::new();
        let mut push =
            |clause: &str, value: Box<dyn ToSql + Sync + Send>, clauses: &mut Vec<String>| {
                values.push(value);
                clauses.push(clause.replace('?', &format!("${}", values.len())));
            };
        if let Some(actor) = filter.actor_id {
            push("actor_id = ?", Box::new(actor), &mut clauses);
        }
        if let Some(action) = filter.action.clone() {
            if action.ends_with('.') {
                push("starts_with(action, ?)", Box::new(action), &mut clauses);
            } else {
                push("action = ?", Box::new(action), &mut clauses);
            }
        }
        if let Some(kind) = filter.target_kind.clone() {
            push("target_kind = ?", Box::new(kind), &mut clauses);
        }
        if let Some(target) = filter.target_id.clone() {
            push("target_id = ?", Box::new(target), &mut clauses);
        }
        if let Some(from) = filter.from {
            push("at >= ?", Box::new(from), &mut clauses);
        }
        if let Some(to) = filter.to {
            push("at < ?", Box::new(to), &mut clauses);
        }
        if let Some(before) = filter.before_id {
            push("id < ?", Box::new(before), &mut clauses);
        }
        let condition = if clauses.is_empty() {
            "TRUE".to_string()
        } else {
            clauses.join(" AND ")
        };
        values.push(Box::new(filter.limit.clamp(1, 10_000)));
        let sql = format!(
            "SELECT {COLUMNS} FROM audit_log WHERE {condition} ORDER BY id DESC LIMIT ${}",
            values.len()
        );
        let params: Vec<&(dyn ToSql + Sync)> = values
            .iter()
            .map(|value| value.as_ref() as &(dyn ToSql + Sync))
            .collect();
        let reader = self.reader().await?;
        let rows = reader.sql().query(&sql, &params).await?;
        rows.iter().map(entry).collect()
    }
}
