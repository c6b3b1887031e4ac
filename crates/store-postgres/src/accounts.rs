//! The account feature's storage on PostgreSQL (see
//! conclave_store::AccountStore), mirroring the SQLite backend.

use async_trait::async_trait;
use conclave_domain::account::{NewPasswordReset, PasswordReset, UserProfile};
use conclave_domain::{Millis, SessionId, UserId};
use conclave_store::{AccountStore, StoreError, StoreResult};
use tokio_postgres::{GenericClient, Row};

use crate::PostgresStore;
use crate::connection::{Connection, Sql, backend, get};

const RESET_COLUMNS: &str = "id, user_id, created_by, created_at, expires_at, used_at";
const PROFILE_COLUMNS: &str = "user_id, status_text, avatar_key, updated_at";

fn reset(row: &Row) -> StoreResult<PasswordReset> {
    Ok(PasswordReset {
        id: get(row, 0)?,
        user_id: get(row, 1)?,
        created_by: get(row, 2)?,
        created_at: get(row, 3)?,
        expires_at: get(row, 4)?,
        used_at: get(row, 5)?,
    })
}

fn profile(row: &Row) -> StoreResult<UserProfile> {
    Ok(UserProfile {
        user_id: get(row, 0)?,
        status_text: get(row, 1)?,
        avatar_key: get(row, 2)?,
        updated_at: get(row, 3)?,
    })
}

async fn revoke_sessions<C: GenericClient + Sync>(
    sql: &Sql<'_, C>,
    user_id: UserId,
    keep: Option<SessionId>,
    at: Millis,
) -> StoreResult<Vec<SessionId>> {
    let rows = sql
        .query(
            "UPDATE sessions SET revoked_at = $2
             WHERE user_id = $1 AND revoked_at IS NULL AND ($3::BIGINT IS NULL OR id <> $3::BIGINT)
             RETURNING id",
            &[&user_id, &at, &keep],
        )
        .await?;
    let mut ids = rows
        .iter()
        .map(|row| get(row, 0))
        .collect::<StoreResult<Vec<SessionId>>>()?;
    ids.sort_unstable();
    Ok(ids)
}

#[async_trait]
impl AccountStore for PostgresStore {
    async fn set_password_hash(&self, user_id: UserId, password_hash: &str) -> StoreResult<()> {
        let writer = self.writer().await?;
        let changed = writer
            .sql()
            .execute(
                "UPDATE users SET password_hash = $2 WHERE id = $1",
                &[&user_id, &password_hash],
            )
            .await?;
        if changed == 0 {
            return Err(StoreError::NotFound("user"));
        }
        Ok(())
    }

    async fn revoke_user_sessions(
        &self,
        user_id: UserId,
        keep: Option<SessionId>,
        at: Millis,
    ) -> StoreResult<Vec<SessionId>> {
        let writer = self.writer().await?;
        revoke_sessions(&writer.sql(), user_id, keep, at).await
    }

    async fn create_password_reset(&self, new: NewPasswordReset) -> StoreResult<PasswordReset> {
        let mut writer = self.writer().await?;
        let Connection { client, statements } = &mut *writer;
        let transaction = client.transaction().await.map_err(backend)?;
        let sql = Sql::new(&transaction, statements);
        sql.execute(
            "UPDATE password_resets SET used_at = $2 WHERE user_id = $1 AND used_at IS NULL",
            &[&new.user_id, &new.created_at],
        )
        .await?;
        let row = sql
            .query_one(
                &format!(
                    "INSERT INTO password_resets (user_id, code_hash, created_by, created_at, expires_at)
                     VALUES ($1, $2, $3, $4, $5) RETURNING {RESET_COLUMNS}"
                ),
                &[
                    &new.user_id,
                    &new.code_hash,
                    &new.created_by,
                    &new.created_at,
                    &new.expires_at,
                ],
            )
            .await?;
        let created = reset(&row)?;
        transaction.commit().await.map_err(backend)?;
        Ok(created)
    }

    async fn pending_password_reset(
        &self,
        code_hash: &str,
        now: Millis,
    ) -> StoreResult<Option<PasswordReset>> {
        let reader = self.reader().await?;
        let row = reader
            .sql()
            .query_opt(
                &format!(
                    "SELECT {RESET_COLUMNS} FROM password_resets
                     WHERE code_hash = $1 AND used_at IS NULL AND expires_at > $2"
                ),
                &[&code_hash, &now],
            )
            .await?;
        row.as_ref().map(reset).transpose()
    }

    async fn redeem_password_reset(
        &self,
        code_hash: &str,
        password_hash: &str,
        now: Millis,
    ) -> StoreResult<Option<(PasswordReset, Vec<SessionId>)>> {
        let mut writer = self.writer().await?;
        let Connection { client, statements } = &mut *writer;
        let transaction = client.transaction().await.map_err(backend)?;
        let sql = Sql::new(&transaction, statements);
        let Some(row) = sql
            .query_opt(
                &format!(
                    "UPDATE password_resets SET used_at = $2
                     WHERE code_hash = $1 AND used_at IS NULL AND expires_at > $2
                     RETURNING {RESET_COLUMNS}"
                ),
                &[&code_hash, &now],
            )
            .await?
        else {
            return Ok(None);
        };
        let redeemed = reset(&row)?;
        sql.execute(
            "UPDATE users SET password_hash = $2 WHERE id = $1",
            &[&redeemed.user_id, &password_hash],
        )
        .await?;
        let revoked = revoke_sessions(&sql, redeemed.user_id, None, now).await?;
        transaction.commit().await.map_err(backend)?;
        Ok(Some((redeemed, revoked)))
    }

    async fn user_by_any_session_token(
        &self,
        token_hash: &str,
    ) -> StoreResult<Option<conclave_domain::User>> {
        let reader = self.reader().await?;
        let row = reader
            .sql()
            .query_opt(
                &format!(
                    "SELECT {} FROM users WHERE id = (SELECT user_id FROM sessions WHERE token_hash = $1)",
                    crate::rows::USER_COLUMNS
                ),
                &[&token_hash],
            )
            .await?;
        row.as_ref().map(crate::rows::user).transpose()
    }

    async fn user_profile(&self, user_id: UserId) -> StoreResult<Option<UserProfile>> {
        let reader = self.reader().await?;
        let row = reader
            .sql()
            .query_opt(
                &format!("SELECT {PROFILE_COLUMNS} FROM user_profiles WHERE user_id = $1"),
                &[&user_id],
            )
            .await?;
        row.as_ref().map(profile).transpose()
    }

    async fn user_profiles(&self) -> StoreResult<Vec<UserProfile>> {
        let reader = self.reader().await?;
        let rows = reader
            .sql()
            .query(
                &format!("SELECT {PROFILE_COLUMNS} FROM user_profiles ORDER BY user_id"),
                &[],
            )
            .await?;
        rows.iter().map(profile).collect()
    }

    async fn put_user_profile(&self, new: UserProfile) -> StoreResult<UserProfile> {
        let writer = self.writer().await?;
        let row = writer
            .sql()
            .query_one(
                &format!(
                    "INSERT INTO user_profiles (user_id, status_text, avatar_key, updated_at)
                     VALUES ($1, $2, $3, $4)
                     ON CONFLICT (user_id) DO UPDATE SET status_text = excluded.status_text,
                         avatar_key = excluded.avatar_key, updated_at = excluded.updated_at
                     RETURNING {PROFILE_COLUMNS}"
                ),
                &[
                    &new.user_id,
                    &new.status_text,
                    &new.avatar_key,
                    &new.updated_at,
                ],
            )
            .await?;
        profile(&row)
    }

    async fn mark_onboarded(&self, user_id: UserId, at: Millis) -> StoreResult<bool> {
        let writer = self.writer().await?;
        let inserted = writer
            .sql()
            .execute(
                "INSERT INTO onboarded_users (user_id, onboarded_at) VALUES ($1, $2)
                 ON CONFLICT (user_id) DO NOTHING",
                &[&user_id, &at],
            )
            .await?;
        Ok(inserted > 0)
    }

    async fn is_onboarded(&self, user_id: UserId) -> StoreResult<bool> {
        let reader = self.reader().await?;
        let row = reader
            .sql()
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM onboarded_users WHERE user_id = $1)",
                &[&user_id],
            )
            .await?;
        get(&row, 0)
    }

    async fn delete_user_profile(&self, user_id: UserId) -> StoreResult<Option<UserProfile>> {
        let writer = self.writer().await?;
        let row = writer
            .sql()
            .query_opt(
                &format!(
                    "DELETE FROM user_profiles WHERE user_id = $1 RETURNING {PROFILE_COLUMNS}"
                ),
                &[&user_id],
            )
            .await?;
        row.as_ref().map(profile).transpose()
    }
}
