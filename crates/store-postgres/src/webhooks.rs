//! The incoming-webhook feature's storage on PostgreSQL (see
//! conclave_store::WebhookStore), mirroring the SQLite backend.

use async_trait::async_trait;
use conclave_domain::webhook::{
    IncomingWebhook, NewIncomingWebhook, WEBHOOK_EMAIL_DOMAIN, WebhookId,
};
use conclave_domain::{ChannelId, Millis};
use conclave_store::{StoreResult, WebhookStore};
use tokio_postgres::Row;

use crate::connection::{Connection, Sql, backend, get};
use crate::rows::insert_outside_user;
use crate::{APPLY_LOCK_CLASS, APPLY_LOCK_SQL, PostgresStore};

const WEBHOOK_COLUMNS: &str = "id, channel_id, creator_id, author_id, name, created_at, revoked_at";

fn webhook(row: &Row) -> StoreResult<IncomingWebhook> {
    Ok(IncomingWebhook {
        id: get(row, 0)?,
        channel_id: get(row, 1)?,
        creator_id: get(row, 2)?,
        author_id: get(row, 3)?,
        name: get(row, 4)?,
        created_at: get(row, 5)?,
        revoked_at: get(row, 6)?,
    })
}

#[async_trait]
impl WebhookStore for PostgresStore {
    async fn create_incoming_webhook(
        &self,
        new: NewIncomingWebhook,
    ) -> StoreResult<IncomingWebhook> {
        let mut writer = self.writer().await?;
        let Connection { client, statements } = &mut *writer;
        let transaction = client.transaction().await.map_err(backend)?;
        let sql = Sql::new(&transaction, statements);
        // The same lock as apply and external participants: processes
        // choosing bot-user handles at once queue up instead of colliding.
        sql.execute(APPLY_LOCK_SQL, &[&APPLY_LOCK_CLASS]).await?;
        let author_id = insert_outside_user(
            &sql,
            &new.handle_base(),
            WEBHOOK_EMAIL_DOMAIN,
            &new.name,
            new.at,
        )
        .await?;
        let row = sql
            .query_one(
                &format!(
                    "INSERT INTO incoming_webhooks (channel_id, creator_id, author_id, name, token_hash, created_at)
                     VALUES ($1, $2, $3, $4, $5, $6) RETURNING {WEBHOOK_COLUMNS}"
                ),
                &[
                    &new.channel_id,
                    &new.creator_id,
                    &author_id,
                    &new.name,
                    &new.token_hash,
                    &new.at,
                ],
            )
            .await?;
        let created = webhook(&row)?;
        transaction.commit().await.map_err(backend)?;
        Ok(created)
    }

    async fn incoming_webhook(&self, id: WebhookId) -> StoreResult<Option<IncomingWebhook>> {
        let reader = self.reader().await?;
        let row = reader
            .sql()
            .query_opt(
                &format!("SELECT {WEBHOOK_COLUMNS} FROM incoming_webhooks WHERE id = $1"),
                &[&id],
            )
            .await?;
        row.as_ref().map(webhook).transpose()
    }

    async fn incoming_webhook_by_token_hash(
        &self,
        token_hash: &str,
    ) -> StoreResult<Option<IncomingWebhook>> {
        let reader = self.reader().await?;
        let row = reader
            .sql()
            .query_opt(
                &format!(
                    "SELECT {WEBHOOK_COLUMNS} FROM incoming_webhooks
                     WHERE token_hash = $1 AND revoked_at IS NULL"
                ),
                &[&token_hash],
            )
            .await?;
        row.as_ref().map(webhook).transpose()
    }

    async fn channel_incoming_webhooks(
        &self,
        channel_id: ChannelId,
    ) -> StoreResult<Vec<IncomingWebhook>> {
        let reader = self.reader().await?;
        let rows = reader
            .sql()
            .query(
                &format!(
                    "SELECT {WEBHOOK_COLUMNS} FROM incoming_webhooks
                     WHERE channel_id = $1 AND revoked_at IS NULL ORDER BY id"
                ),
                &[&channel_id],
            )
            .await?;
        rows.iter().map(webhook).collect()
    }

    async fn revoke_incoming_webhook(&self, id: WebhookId, at: Millis) -> StoreResult<bool> {
        let writer = self.writer().await?;
        let changed = writer
            .sql()
            .execute(
                "UPDATE incoming_webhooks SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
                &[&id, &at],
            )
            .await?;
        Ok(changed > 0)
    }
}
