//! The account feature's storage on SQLite (see conclave_store::AccountStore):
//! password hashes, one-time resets and profiles.

use async_trait::async_trait;
use conclave_domain::account::{NewPasswordReset, PasswordReset, UserProfile};
use conclave_domain::{Millis, SessionId, UserId};
use conclave_store::{AccountStore, StoreError, StoreResult};
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::SqliteStore;
use crate::rows::backend;

const RESET_COLUMNS: &str = "id, user_id, created_by, created_at, expires_at, used_at";
const PROFILE_COLUMNS: &str = "user_id, status_text, avatar_key, updated_at";

fn reset(row: &Row) -> rusqlite::Result<PasswordReset> {
    Ok(PasswordReset {
        id: row.get(0)?,
        user_id: row.get(1)?,
        created_by: row.get(2)?,
        created_at: row.get(3)?,
        expires_at: row.get(4)?,
        used_at: row.get(5)?,
    })
}

fn profile(row: &Row) -> rusqlite::Result<UserProfile> {
    Ok(UserProfile {
        user_id: row.get(0)?,
        status_text: row.get(1)?,
        avatar_key: row.get(2)?,
        updated_at: row.get(3)?,
    })
}

fn revoke_sessions(
    conn: &Connection,
    user_id: UserId,
    keep: Option<SessionId>,
    at: Millis,
) -> StoreResult<Vec<SessionId>> {
    let mut statement = conn
        .prepare(
            "UPDATE sessions SET revoked_at = ?2
             WHERE user_id = ?1 AND revoked_at IS NULL AND (?3 IS NULL OR id <> ?3)
             RETURNING id",
        )
        .map_err(backend)?;
    let mut ids = statement
        .query_map(params![user_id, at, keep], |row| row.get(0))
        .map_err(backend)?
        .collect::<Result<Vec<SessionId>, _>>()
        .map_err(backend)?;
    ids.sort_unstable();
    Ok(ids)
}

#[async_trait]
impl AccountStore for SqliteStore {
    async fn set_password_hash(&self, user_id: UserId, password_hash: &str) -> StoreResult<()> {
        let password_hash = password_hash.to_string();
        self.write(move |conn| {
            let changed = conn
                .execute(
                    "UPDATE users SET password_hash = ?2 WHERE id = ?1",
                    params![user_id, password_hash],
                )
                .map_err(backend)?;
            if changed == 0 {
                return Err(StoreError::NotFound("user"));
            }
            Ok(())
        })
        .await
    }

    async fn revoke_user_sessions(
        &self,
        user_id: UserId,
        keep: Option<SessionId>,
        at: Millis,
    ) -> StoreResult<Vec<SessionId>> {
        self.write(move |conn| revoke_sessions(conn, user_id, keep, at))
            .await
    }

    async fn create_password_reset(&self, new: NewPasswordReset) -> StoreResult<PasswordReset> {
        self.write(move |conn| {
            let transaction = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(backend)?;
            transaction
                .execute(
                    "UPDATE password_resets SET used_at = ?2 WHERE user_id = ?1 AND used_at IS NULL",
                    params![new.user_id, new.created_at],
                )
                .map_err(backend)?;
            let created = transaction
                .query_row(
                    &format!(
                        "INSERT INTO password_resets (user_id, code_hash, created_by, created_at, expires_at)
                         VALUES (?1, ?2, ?3, ?4, ?5) RETURNING {RESET_COLUMNS}"
                    ),
                    params![
                        new.user_id,
                        new.code_hash,
                        new.created_by,
                        new.created_at,
                        new.expires_at
                    ],
                    reset,
                )
                .map_err(backend)?;
            transaction.commit().map_err(backend)?;
            Ok(created)
        })
        .await
    }

    async fn pending_password_reset(
        &self,
        code_hash: &str,
        now: Millis,
    ) -> StoreResult<Option<PasswordReset>> {
        let code_hash = code_hash.to_string();
        self.read(move |conn| {
            conn.query_row(
                &format!(
                    "SELECT {RESET_COLUMNS} FROM password_resets
                     WHERE code_hash = ?1 AND used_at IS NULL AND expires_at > ?2"
                ),
                params![code_hash, now],
                reset,
            )
            .optional()
            .map_err(backend)
        })
        .await
    }

    async fn redeem_password_reset(
        &self,
        code_hash: &str,
        password_hash: &str,
        now: Millis,
    ) -> StoreResult<Option<(PasswordReset, Vec<SessionId>)>> {
        let code_hash = code_hash.to_string();
        let password_hash = password_hash.to_string();
        self.write(move |conn| {
            let transaction = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(backend)?;
            let Some(redeemed) = transaction
                .query_row(
                    &format!(
                        "UPDATE password_resets SET used_at = ?2
                         WHERE code_hash = ?1 AND used_at IS NULL AND expires_at > ?2
                         RETURNING {RESET_COLUMNS}"
                    ),
                    params![code_hash, now],
                    reset,
                )
                .optional()
                .map_err(backend)?
            else {
                return Ok(None);
            };
            transaction
                .execute(
                    "UPDATE users SET password_hash = ?2 WHERE id = ?1",
                    params![redeemed.user_id, password_hash],
                )
                .map_err(backend)?;
            let revoked = revoke_sessions(&transaction, redeemed.user_id, None, now)?;
            transaction.commit().map_err(backend)?;
            Ok(Some((redeemed, revoked)))
        })
        .await
    }

    async fn user_by_any_session_token(
        &self,
        token_hash: &str,
    ) -> StoreResult<Option<conclave_domain::User>> {
        let token_hash = token_hash.to_string();
        self.read(move |conn| {
            conn.query_row(
                &format!(
                    "SELECT {} FROM users WHERE id = (SELECT user_id FROM sessions WHERE token_hash = ?1)",
                    crate::rows::USER_COLUMNS
                ),
                params![token_hash],
                crate::rows::user,
            )
            .optional()
            .map_err(backend)
        })
        .await
    }

    async fn user_profile(&self, user_id: UserId) -> StoreResult<Option<UserProfile>> {
        self.read(move |conn| {
            conn.query_row(
                &format!("SELECT {PROFILE_COLUMNS} FROM user_profiles WHERE user_id = ?1"),
                params![user_id],
                profile,
            )
            .optional()
            .map_err(backend)
        })
        .await
    }

    async fn user_profiles(&self) -> StoreResult<Vec<UserProfile>> {
        self.read(move |conn| {
            crate::collect(
                conn,
                &format!("SELECT {PROFILE_COLUMNS} FROM user_profiles ORDER BY user_id"),
                [],
                profile,
            )
        })
        .await
    }

    async fn put_user_profile(&self, new: UserProfile) -> StoreResult<UserProfile> {
        self.write(move |conn| {
            conn.query_row(
                &format!(
                    "INSERT INTO user_profiles (user_id, status_text, avatar_key, updated_at)
                     VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (user_id) DO UPDATE SET status_text = excluded.status_text,
                         avatar_key = excluded.avatar_key, updated_at = excluded.updated_at
                     RETURNING {PROFILE_COLUMNS}"
                ),
                params![new.user_id, new.status_text, new.avatar_key, new.updated_at],
                profile,
            )
            .map_err(backend)
        })
        .await
    }

    async fn mark_onboarded(&self, user_id: UserId, at: Millis) -> StoreResult<bool> {
        self.write(move |conn| {
            let inserted = conn
                .execute(
                    "INSERT INTO onboarded_users (user_id, onboarded_at) VALUES (?1, ?2)
                     ON CONFLICT (user_id) DO NOTHING",
                    params![user_id, at],
                )
                .map_err(backend)?;
            Ok(inserted > 0)
        })
        .await
    }

    async fn is_onboarded(&self, user_id: UserId) -> StoreResult<bool> {
        self.read(move |conn| {
            conn.query_row(
                "SELECT EXISTS (SELECT 1 FROM onboarded_users WHERE user_id = ?1)",
                params![user_id],
                |row| row.get(0),
            )
            .map_err(backend)
        })
        .await
    }

    async fn delete_user_profile(&self, user_id: UserId) -> StoreResult<Option<UserProfile>> {
        self.write(move |conn| {
            conn.query_row(
                &format!(
                    "DELETE FROM user_profiles WHERE user_id = ?1 RETURNING {PROFILE_COLUMNS}"
                ),
                params![user_id],
                profile,
            )
            .optional()
            .map_err(backend)
        })
        .await
    }
}
