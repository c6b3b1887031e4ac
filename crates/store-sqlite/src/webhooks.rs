//! The incoming-webhook feature's storage on SQLite (see
//! conclave_store::WebhookStore).

use async_trait::async_trait;
use conclave_domain::webhook::{
    IncomingWebhook, NewIncomingWebhook, WEBHOOK_EMAIL_DOMAIN, WebhookId,
};
use conclave_domain::{ChannelId, Millis};
use conclave_store::{StoreResult, WebhookStore};
use rusqlite::{OptionalExtension, Row, params};

use crate::SqliteStore;
use crate::rows::{backend, insert_outside_user};

const WEBHOOK_COLUMNS: &str = "id, channel_id, creator_id, author_id, name, created_at, revoked_at";

fn webhook(row: &Row) -> rusqlite::Result<IncomingWebhook> {
    Ok(IncomingWebhook {
        id: row.get(0)?,
        channel_id: row.get(1)?,
        creator_id: row.get(2)?,
        author_id: row.get(3)?,
        name: row.get(4)?,
        created_at: row.get(5)?,
        revoked_at: row.get(6)?,
    })
}

#[async_trait]
impl WebhookStore for SqliteStore {
    async fn create_incoming_webhook(
        &self,
        new: NewIncomingWebhook,
    ) -> StoreResult<IncomingWebhook> {
        self.write(move |conn| {
            let transaction = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(backend)?;
            let author_id = insert_outside_user(
                &transaction,
                &new.handle_base(),
                WEBHOOK_EMAIL_DOMAIN,
                &new.name,
                new.at,
            )?;
            let created = transaction
                .query_row(
                    &format!(
                        "INSERT INTO incoming_webhooks (channel_id, creator_id, author_id, name, token_hash, created_at)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING {WEBHOOK_COLUMNS}"
                    ),
                    params![new.channel_id, new.creator_id, author_id, new.name, new.token_hash, new.at],
                    webhook,
                )
                .map_err(backend)?;
            transaction.commit().map_err(backend)?;
            Ok(created)
        })
        .await
    }

    async fn incoming_webhook(&self, id: WebhookId) -> StoreResult<Option<IncomingWebhook>> {
        self.read(move |conn| {
            conn.query_row(
                &format!("SELECT {WEBHOOK_COLUMNS} FROM incoming_webhooks WHERE id = ?1"),
                params![id],
                webhook,
            )
            .optional()
            .map_err(backend)
        })
        .await
    }

    async fn incoming_webhook_by_token_hash(
        &self,
        token_hash: &str,
    ) -> StoreResult<Option<IncomingWebhook>> {
        let token_hash = token_hash.to_string();
        self.read(move |conn| {
            conn.query_row(
                &format!(
                    "SELECT {WEBHOOK_COLUMNS} FROM incoming_webhooks
                     WHERE token_hash = ?1 AND revoked_at IS NULL"
                ),
                params![token_hash],
                webhook,
            )
            .optional()
            .map_err(backend)
        })
        .await
    }

    async fn channel_incoming_webhooks(
        &self,
        channel_id: ChannelId,
    ) -> StoreResult<Vec<IncomingWebhook>> {
        self.read(move |conn| {
            crate::collect(
                conn,
                &format!(
                    "SELECT {WEBHOOK_COLUMNS} FROM incoming_webhooks
                     WHERE channel_id = ?1 AND revoked_at IS NULL ORDER BY id"
                ),
                params![channel_id],
                webhook,
            )
        })
        .await
    }

    async fn revoke_incoming_webhook(&self, id: WebhookId, at: Millis) -> StoreResult<bool> {
        self.write(move |conn| {
            conn.execute(
                "UPDATE incoming_webhooks SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                params![id, at],
            )
            .map(|changed| changed > 0)
            .map_err(backend)
        })
        .await
    }
}
