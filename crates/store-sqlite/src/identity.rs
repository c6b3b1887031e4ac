//! The identity feature's storage on SQLite (see conclave_store::IdentityStore).

use async_trait::async_trait;
use conclave_domain::auth::{
    AcceptableUsePolicy, LoginThrottle, MfaEnrolment, PolicyAcceptance, SsoAttempt,
};
use conclave_domain::{Millis, UserId};
use conclave_store::keys::SYSTEM_OWNER;
use conclave_store::{IdentityStore, Store, StoreError, StoreResult};
use rusqlite::{OptionalExtension, Row, params};

use crate::SqliteStore;
use crate::rows::USER_COLUMNS;
use crate::rows::backend;
use conclave_domain::directory::{
    AutoMembershipRule, NewOrgUnit, OrgUnit, OrgUnitId, OrgUnitKind, ScimToken, ScimUserRecord,
    UserListFilter,
};
use conclave_domain::{ChannelId, Role, User};

#[async_trait]
impl IdentityStore for SqliteStore {
    // SCIM, groups and org structure

    async fn create_scim_token(
        &self,
        name: &str,
        token_hash: &str,
        created_by: Option<UserId>,
        at: Millis,
    ) -> StoreResult<ScimToken> {
        let (name, token_hash) = (name.to_string(), token_hash.to_string());
        self.write(move |conn| {
            conn.query_row(
                &format!("INSERT INTO scim_tokens (name, token_hash, created_by, created_at) VALUES (?1, ?2, ?3, ?4) RETURNING {SCIM_TOKEN_COLUMNS}"),
                params![name, token_hash, created_by, at],
                scim_token,
            )
            .map_err(backend)
        })
        .await
    }

    async fn scim_token_by_hash(&self, token_hash: &str) -> StoreResult<Option<ScimToken>> {
        let token_hash = token_hash.to_string();
        self.read(move |conn| {
            conn.query_row(
                &format!("SELECT {SCIM_TOKEN_COLUMNS} FROM scim_tokens WHERE token_hash = ?1 AND revoked_at IS NULL"),
                params![token_hash],
                scim_token,
            )
            .optional()
            .map_err(backend)
        })
        .await
    }

    async fn scim_tokens(&self) -> StoreResult<Vec<ScimToken>> {
        self.read(|conn| {
            crate::collect(
                conn,
                &format!("SELECT {SCIM_TOKEN_COLUMNS} FROM scim_tokens ORDER BY id"),
                [],
                scim_token,
            )
        })
        .await
    }

    async fn revoke_scim_token(&self, id: i64, at: Millis) -> StoreResult<bool> {
        self.write(move |conn| {
            conn.execute(
                "UPDATE scim_tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                params![id, at],
            )
            .map(|changed| changed > 0)
            .map_err(backend)
        })
        .await
    }

    async fn touch_scim_token(&self, id: i64, at: Millis) -> StoreResult<()> {
        self.write(move |conn| {
            conn.execute(
                "UPDATE scim_tokens SET last_used_at = ?2 WHERE id = ?1",
                params![id, at],
            )
            .map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn scim_user(&self, user_id: UserId) -> StoreResult<Option<ScimUserRecord>> {
        self.read(move |conn| {
            conn.query_row(
                &format!("SELECT {SCIM_USER_COLUMNS} FROM scim_users WHERE user_id = ?1"),
                params![user_id],
                scim_user,
            )
            .optional()
            .map_err(backend)
        })
        .await
    }

    async fn scim_users(&self) -> StoreResult<Vec<ScimUserRecord>> {
        self.read(|conn| {
            crate::collect(
                conn,
                &format!("SELECT {SCIM_USER_COLUMNS} FROM scim_users ORDER BY user_id"),
                [],
                scim_user,
            )
        })
        .await
    }

    async fn put_scim_user(&self, record: ScimUserRecord) -> StoreResult<()> {
        self.write(move |conn| {
            conn.execute(
                "INSERT INTO scim_users (user_id, document, deleted_at, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (user_id) DO UPDATE SET document = excluded.document, deleted_at = excluded.deleted_at,
                   updated_at = excluded.updated_at",
                params![record.user_id, record.document, record.deleted_at, record.created_at, record.updated_at],
            )
            .map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn update_user_profile(
        &self,
        user_id: UserId,
        email: &str,
        name: &str,
    ) -> StoreResult<User> {
        let (email, name) = (email.to_string(), name.to_string());
        self.write(move |conn| {
            let taken: Option<i64> = conn
                .query_row(
                    "SELECT id FROM users WHERE email = ?1 AND id != ?2",
                    params![email, user_id],
                    |row| row.get(0),
                )
                .optional()
                .map_err(backend)?;
            if taken.is_some() {
                return Err(StoreError::Conflict(
                    "a user with that email already exists".into(),
                ));
            }
            conn.query_row(
                &format!(
                    "UPDATE users SET email = ?2, name = ?3 WHERE id = ?1 RETURNING {USER_COLUMNS}"
                ),
                params![user_id, email, name],
                crate::rows::user,
            )
            .optional()
            .map_err(backend)?
            .ok_or(StoreError::NotFound("user"))
        })
        .await
    }

    async fn set_user_role(&self, user_id: UserId, role: Role) -> StoreResult<User> {
        self.write(move |conn| {
            conn.query_row(
                &format!("UPDATE users SET role = ?2 WHERE id = ?1 RETURNING {USER_COLUMNS}"),
                params![user_id, role.as_str()],
                crate::rows::user,
            )
            .optional()
            .map_err(backend)?
            .ok_or(StoreError::NotFound("user"))
        })
        .await
    }

    async fn reactivate_user(&self, user_id: UserId) -> StoreResult<User> {
        self.write(move |conn| {
            conn.query_row(
                &format!("UPDATE users SET active = 1, deactivated_at = NULL WHERE id = ?1 RETURNING {USER_COLUMNS}"),
                params![user_id],
                crate::rows::user,
            )
            .optional()
            .map_err(backend)?
            .ok_or(StoreError::NotFound("user"))
        })
        .await
    }

    async fn list_users(&self, filter: UserListFilter) -> StoreResult<Vec<User>> {
        self.read(move |conn| {
            let mut clauses: Vec<&str> = Vec::new();
            let mut values: Vec<rusqlite::types::Value> = Vec::new();
            if let Some(query) = filter.query.as_deref().filter(|query| !query.is_empty()) {
                let pattern =
                    format!("%{}%", query.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
                clauses.push("(lower(name) LIKE ? ESCAPE '\\' OR handle LIKE ? ESCAPE '\\' OR lower(email) LIKE ? ESCAPE '\\')");
                for _ in 0..3 {
                    values.push(rusqlite::types::Value::Text(pattern.clone()));
                }
            }
            if let Some(role) = filter.role {
                clauses.push("role = ?");
                values.push(rusqlite::types::Value::Text(role.as_str().to_string()));
            }
            if let Some(active) = filter.active {
                clauses.push("active = ?");
                values.push(rusqlite::types::Value::Integer(i64::from(active)));
            }
            if let Some(after) = filter.after_id {
                clauses.push("id > ?");
                values.push(rusqlite::types::Value::Integer(after));
            }
            let condition = if clauses.is_empty() { "1 = 1".to_string() } else { clauses.join(" AND ") };
            values.push(rusqlite::types::Value::Integer(filter.limit.clamp(1, 100_000)));
            crate::collect(
                conn,
                &format!("SELECT {USER_COLUMNS} FROM users WHERE {condition} ORDER BY id LIMIT ?"),
                rusqlite::params_from_iter(values),
                crate::rows::user,
            )
        })
        .await
    }

    async fn create_org_unit(&self, unit: NewOrgUnit) -> StoreResult<OrgUnit> {
        self.write(move |conn| {
            let key = unit.name.to_lowercase();
            let taken: Option<i64> = conn
                .query_row("SELECT id FROM org_units WHERE kind = ?1 AND name_key = ?2", params![unit.kind.as_str(), key], |row| {
                    row.get(0)
                })
                .optional()
                .map_err(backend)?;
            if taken.is_some() {
                return Err(StoreError::Conflict(format!("a {} with that name already exists", unit.kind.as_str())));
            }
            conn.query_row(
                &format!(
                    "INSERT INTO org_units (kind, name, name_key, external_id, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)
                     RETURNING {ORG_UNIT_COLUMNS}"
                ),
                params![unit.kind.as_str(), unit.name, key, unit.external_id, unit.at],
                org_unit,
            )
            .map_err(backend)
        })
        .await
    }

    async fn update_org_unit(
        &self,
        id: OrgUnitId,
        name: &str,
        external_id: Option<String>,
        at: Millis,
    ) -> StoreResult<OrgUnit> {
        let name = name.to_string();
        self.write(move |conn| {
            let key = name.to_lowercase();
            let taken: Option<i64> = conn
                .query_row(
                    "SELECT other.id FROM org_units AS other JOIN org_units AS this ON this.id = ?1
                     WHERE other.kind = this.kind AND other.name_key = ?2 AND other.id != ?1",
                    params![id, key],
                    |row| row.get(0),
                )
                .optional()
                .map_err(backend)?;
            if taken.is_some() {
                return Err(StoreError::Conflict("another group of that kind has that name".into()));
            }
            conn.query_row(
                &format!(
                    "UPDATE org_units SET name = ?2, name_key = ?3, external_id = ?4, updated_at = ?5 WHERE id = ?1
                     RETURNING {ORG_UNIT_COLUMNS}"
                ),
                params![id, name, key, external_id, at],
                org_unit,
            )
            .optional()
            .map_err(backend)?
            .ok_or(StoreError::NotFound("group"))
        })
        .await
    }

    async fn delete_org_unit(&self, id: OrgUnitId) -> StoreResult<bool> {
        self.write(move |conn| {
            let transaction = conn.transaction().map_err(backend)?;
            transaction
                .execute(
                    "DELETE FROM auto_membership_rules WHERE unit_id = ?1",
                    params![id],
                )
                .map_err(backend)?;
            transaction
                .execute(
                    "DELETE FROM org_unit_members WHERE unit_id = ?1",
                    params![id],
                )
                .map_err(backend)?;
            let deleted = transaction
                .execute("DELETE FROM org_units WHERE id = ?1", params![id])
                .map_err(backend)?;
            transaction.commit().map_err(backend)?;
            Ok(deleted > 0)
        })
        .await
    }

    async fn org_unit(&self, id: OrgUnitId) -> StoreResult<Option<OrgUnit>> {
        self.read(move |conn| {
            conn.query_row(
                &format!("SELECT {ORG_UNIT_COLUMNS} FROM org_units WHERE id = ?1"),
                params![id],
                org_unit,
            )
            .optional()
            .map_err(backend)
        })
        .await
    }

    async fn org_unit_by_name(
        &self,
        kind: OrgUnitKind,
        name: &str,
    ) -> StoreResult<Option<OrgUnit>> {
        let key = name.to_lowercase();
        self.read(move |conn| {
            conn.query_row(
                &format!(
                    "SELECT {ORG_UNIT_COLUMNS} FROM org_units WHERE kind = ?1 AND name_key = ?2"
                ),
                params![kind.as_str(), key],
                org_unit,
            )
            .optional()
            .map_err(backend)
        })
        .await
    }

    async fn org_units(&self, kind: Option<OrgUnitKind>) -> StoreResult<Vec<OrgUnit>> {
        self.read(move |conn| match kind {
            Some(kind) => crate::collect(
                conn,
                &format!("SELECT {ORG_UNIT_COLUMNS} FROM org_units WHERE kind = ?1 ORDER BY id"),
                params![kind.as_str()],
                org_unit,
            ),
            None => crate::collect(
                conn,
                &format!("SELECT {ORG_UNIT_COLUMNS} FROM org_units ORDER BY id"),
                [],
                org_unit,
            ),
        })
        .await
    }

    async fn org_unit_memberships(&self) -> StoreResult<Vec<(OrgUnitId, UserId)>> {
        self.read(|conn| {
            crate::collect(
                conn,
                "SELECT unit_id, user_id FROM org_unit_members ORDER BY unit_id, user_id",
                [],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
        })
        .await
    }

    async fn org_unit_member_ids(&self, id: OrgUnitId) -> StoreResult<Vec<UserId>> {
        self.read(move |conn| {
            crate::collect(
                conn,
                "SELECT user_id FROM org_unit_members WHERE unit_id = ?1 ORDER BY user_id",
                params![id],
                |row| row.get(0),
            )
        })
        .await
    }

    async fn user_org_unit_ids(&self, user_id: UserId) -> StoreResult<Vec<OrgUnitId>> {
        self.read(move |conn| {
            crate::collect(
                conn,
                "SELECT unit_id FROM org_unit_members WHERE user_id = ?1 ORDER BY unit_id",
                params![user_id],
                |row| row.get(0),
            )
        })
        .await
    }

    async fn set_org_unit_member(
        &self,
        unit_id: OrgUnitId,
        user_id: UserId,
        member: bool,
        at: Millis,
    ) -> StoreResult<bool> {
        self.write(move |conn| {
            let changed = if member {
                let unit: Option<i64> =
                    conn.query_row("SELECT id FROM org_units WHERE id = ?1", params![unit_id], |row| row.get(0)).optional().map_err(backend)?;
                if unit.is_none() {
                    return Err(StoreError::NotFound("group"));
                }
                let user: Option<i64> =
                    conn.query_row("SELECT id FROM users WHERE id = ?1", params![user_id], |row| row.get(0)).optional().map_err(backend)?;
                if user.is_none() {
                    return Err(StoreError::NotFound("user"));
                }
                conn.execute(
                    "INSERT OR IGNORE INTO org_unit_members (unit_id, user_id, added_at) VALUES (?1, ?2, ?3)",
                    params![unit_id, user_id, at],
                )
            } else {
                conn.execute("DELETE FROM org_unit_members WHERE unit_id = ?1 AND user_id = ?2", params![unit_id, user_id])
            }
            .map_err(backend)?;
            Ok(changed > 0)
        })
        .await
    }

    async fn create_auto_membership_rule(
        &self,
        unit_id: OrgUnitId,
        channel_id: ChannelId,
        created_by: Option<UserId>,
        at: Millis,
    ) -> StoreResult<AutoMembershipRule> {
        self.write(move |conn| {
            let exists: Option<i64> = conn
                .query_row("SELECT id FROM auto_membership_rules WHERE unit_id = ?1 AND channel_id = ?2", params![unit_id, channel_id], |row| {
                    row.get(0)
                })
                .optional()
                .map_err(backend)?;
            if exists.is_some() {
                return Err(StoreError::Conflict("that group already feeds that channel".into()));
            }
            conn.query_row(
                &format!(
                    "INSERT INTO auto_membership_rules (unit_id, channel_id, created_by, created_at) VALUES (?1, ?2, ?3, ?4)
                     RETURNING {RULE_COLUMNS}"
                ),
                params![unit_id, channel_id, created_by, at],
                rule,
            )
            .map_err(backend)
        })
        .await
    }

    async fn delete_auto_membership_rule(&self, id: i64) -> StoreResult<bool> {
        self.write(move |conn| {
            conn.execute(
                "DELETE FROM auto_membership_rules WHERE id = ?1",
                params![id],
            )
            .map(|n| n > 0)
            .map_err(backend)
        })
        .await
    }

    async fn auto_membership_rules(&self) -> StoreResult<Vec<AutoMembershipRule>> {
        self.read(|conn| {
            crate::collect(
                conn,
                &format!("SELECT {RULE_COLUMNS} FROM auto_membership_rules ORDER BY id"),
                [],
                rule,
            )
        })
        .await
    }

    async fn set_account_expiry(
        &self,
        user_id: UserId,
        expires_at: Option<Millis>,
    ) -> StoreResult<()> {
        self.write(move |conn| {
            match expires_at {
                Some(at) => conn.execute(
                    "INSERT INTO account_expiry (user_id, expires_at) VALUES (?1, ?2)
                     ON CONFLICT (user_id) DO UPDATE SET expires_at = excluded.expires_at",
                    params![user_id, at],
                ),
                None => conn.execute(
                    "DELETE FROM account_expiry WHERE user_id = ?1",
                    params![user_id],
                ),
            }
            .map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn account_expiry(&self, user_id: UserId) -> StoreResult<Option<Millis>> {
        self.read(move |conn| {
            conn.query_row(
                "SELECT expires_at FROM account_expiry WHERE user_id = ?1",
                params![user_id],
                |row| row.get(0),
            )
            .optional()
            .map_err(backend)
        })
        .await
    }

    async fn accounts_expired_by(&self, now: Millis) -> StoreResult<Vec<UserId>> {
        self.read(move |conn| {
            crate::collect(
                conn,
                "SELECT account_expiry.user_id FROM account_expiry JOIN users ON users.id = account_expiry.user_id
                 WHERE account_expiry.expires_at <= ?1 AND users.active = 1 ORDER BY account_expiry.user_id",
                params![now],
                |row| row.get(0),
            )
        })
        .await
    }

    // Authentication: MFA, lockout, SSO, acceptable use

    async fn login_throttle(&self, user_id: UserId) -> StoreResult<LoginThrottle> {
        self.read(move |conn| {
            conn.query_row(
                "SELECT failures, locked_until FROM login_throttle WHERE user_id = ?1",
                params![user_id],
                |row| {
                    Ok(LoginThrottle {
                        failures: row.get(0)?,
                        locked_until: row.get(1)?,
                    })
                },
            )
            .optional()
            .map(Option::unwrap_or_default)
            .map_err(backend)
        })
        .await
    }

    async fn record_login_failure(
        &self,
        user_id: UserId,
        max_failures: i64,
        lock_until: Millis,
    ) -> StoreResult<LoginThrottle> {
        self.write(move |conn| {
            // One statement, so concurrent failures cannot both miss the lock.
            conn.query_row(
                "INSERT INTO login_throttle (user_id, failures, locked_until)
                 VALUES (?1, CASE WHEN ?2 <= 1 THEN 0 ELSE 1 END, CASE WHEN ?2 <= 1 THEN ?3 END)
                 ON CONFLICT (user_id) DO UPDATE SET
                   locked_until = CASE WHEN failures + 1 >= ?2 THEN ?3 ELSE locked_until END,
                   failures = CASE WHEN failures + 1 >= ?2 THEN 0 ELSE failures + 1 END
                 RETURNING failures, locked_until",
                params![user_id, max_failures, lock_until],
                |row| {
                    Ok(LoginThrottle {
                        failures: row.get(0)?,
                        locked_until: row.get(1)?,
                    })
                },
            )
            .map_err(backend)
        })
        .await
    }

    async fn clear_login_failures(&self, user_id: UserId) -> StoreResult<()> {
        self.write(move |conn| {
            conn.execute(
                "DELETE FROM login_throttle WHERE user_id = ?1",
                params![user_id],
            )
            .map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn mfa_enrolment(&self, user_id: UserId) -> StoreResult<Option<MfaEnrolment>> {
        let keyring = std::sync::Arc::clone(self.keyring());
        self.read(move |conn| {
            let enrolment = conn
                .query_row(
                    "SELECT user_id, secret, created_at, confirmed_at, last_step FROM mfa_enrolments WHERE user_id = ?1",
                    params![user_id],
                    mfa_enrolment,
                )
                .optional()
                .map_err(backend)?;
            // TOTP seeds are sealed at rest with the server's own key.
            enrolment
                .map(|mut enrolment| {
                    enrolment.secret = keyring.open_blob(&enrolment.secret)?;
                    Ok(enrolment)
                })
                .transpose()
        })
        .await
    }

    async fn begin_mfa_enrolment(
        &self,
        user_id: UserId,
        secret: Vec<u8>,
        at: Millis,
    ) -> StoreResult<()> {
        let secret = self.keyring().seal_blob(SYSTEM_OWNER, &secret)?;
        self.write(move |conn| {
            let changed = conn
                .execute(
                    "INSERT INTO mfa_enrolments (user_id, secret, created_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT (user_id) DO UPDATE SET secret = excluded.secret, created_at = excluded.created_at,
                       last_step = NULL
                     WHERE mfa_enrolments.confirmed_at IS NULL",
                    params![user_id, secret, at],
                )
                .map_err(backend)?;
            if changed == 0 {
                return Err(StoreError::Conflict("two-factor authentication is already enabled".into()));
            }
            Ok(())
        })
        .await
    }

    async fn confirm_mfa_enrolment(
        &self,
        user_id: UserId,
        step: i64,
        recovery_code_hashes: Vec<String>,
        at: Millis,
    ) -> StoreResult<bool> {
        self.write(move |conn| {
            let transaction = conn.transaction().map_err(backend)?;
            let changed = transaction
                .execute(
                    "UPDATE mfa_enrolments SET confirmed_at = ?2, last_step = ?3 WHERE user_id = ?1 AND confirmed_at IS NULL",
                    params![user_id, at, step],
                )
                .map_err(backend)?;
            if changed == 0 {
                return Ok(false);
            }
            replace_codes(&transaction, user_id, &recovery_code_hashes, at)?;
            transaction.commit().map_err(backend)?;
            Ok(true)
        })
        .await
    }

    async fn use_totp_step(&self, user_id: UserId, step: i64) -> StoreResult<bool> {
        self.write(move |conn| {
            let changed = conn
                .execute(
                    "UPDATE mfa_enrolments SET last_step = ?2
                     WHERE user_id = ?1 AND confirmed_at IS NOT NULL AND (last_step IS NULL OR last_step < ?2)",
                    params![user_id, step],
                )
                .map_err(backend)?;
            Ok(changed == 1)
        })
        .await
    }

    async fn use_recovery_code(
        &self,
        user_id: UserId,
        code_hash: &str,
        at: Millis,
    ) -> StoreResult<bool> {
        let code_hash = code_hash.to_string();
        self.write(move |conn| {
            let changed = conn
                .execute(
                    "UPDATE mfa_recovery_codes SET used_at = ?3 WHERE user_id = ?1 AND code_hash = ?2 AND used_at IS NULL",
                    params![user_id, code_hash, at],
                )
                .map_err(backend)?;
            Ok(changed == 1)
        })
        .await
    }

    async fn unused_recovery_codes(&self, user_id: UserId) -> StoreResult<i64> {
        self.read(move |conn| {
            conn.query_row(
                "SELECT COUNT(*) FROM mfa_recovery_codes WHERE user_id = ?1 AND used_at IS NULL",
                params![user_id],
                |row| row.get(0),
            )
            .map_err(backend)
        })
        .await
    }

    async fn replace_recovery_codes(
        &self,
        user_id: UserId,
        recovery_code_hashes: Vec<String>,
        at: Millis,
    ) -> StoreResult<()> {
        self.write(move |conn| {
            let transaction = conn.transaction().map_err(backend)?;
            replace_codes(&transaction, user_id, &recovery_code_hashes, at)?;
            transaction.commit().map_err(backend)
        })
        .await
    }

    async fn remove_mfa(&self, user_id: UserId) -> StoreResult<bool> {
        self.write(move |conn| {
            let transaction = conn.transaction().map_err(backend)?;
            transaction
                .execute(
                    "DELETE FROM mfa_recovery_codes WHERE user_id = ?1",
                    params![user_id],
                )
                .map_err(backend)?;
            let removed = transaction
                .execute(
                    "DELETE FROM mfa_enrolments WHERE user_id = ?1",
                    params![user_id],
                )
                .map_err(backend)?;
            transaction.commit().map_err(backend)?;
            Ok(removed == 1)
        })
        .await
    }

    async fn auth_setting(&self, key: &str) -> StoreResult<Option<String>> {
        let key = key.to_string();
        self.read(move |conn| {
            conn.query_row(
                "SELECT value FROM auth_settings WHERE key = ?1",
                params![key],
                |row| row.get(0),
            )
            .optional()
            .map_err(backend)
        })
        .await
    }

    async fn set_auth_setting(&self, key: &str, value: &str, at: Millis) -> StoreResult<()> {
        let (key, value) = (key.to_string(), value.to_string());
        self.write(move |conn| {
            conn.execute(
                "INSERT INTO auth_settings (key, value, updated_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                params![key, value, at],
            )
            .map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn save_sso_attempt(&self, attempt: SsoAttempt) -> StoreResult<()> {
        self.write(move |conn| {
            conn.execute(
                "INSERT INTO sso_attempts (state_hash, browser_hash, nonce, verifier, created_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    attempt.state_hash,
                    attempt.browser_hash,
                    attempt.nonce,
                    attempt.verifier,
                    attempt.created_at,
                    attempt.expires_at
                ],
            )
            .map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn take_sso_attempt(
        &self,
        state_hash: &str,
        now: Millis,
    ) -> StoreResult<Option<SsoAttempt>> {
        let state_hash = state_hash.to_string();
        self.write(move |conn| {
            let transaction = conn.transaction().map_err(backend)?;
            transaction
                .execute(
                    "DELETE FROM sso_attempts WHERE expires_at <= ?1",
                    params![now],
                )
                .map_err(backend)?;
            let attempt = transaction
                .query_row(
                    "DELETE FROM sso_attempts WHERE state_hash = ?1
                     RETURNING state_hash, browser_hash, nonce, verifier, created_at, expires_at",
                    params![state_hash],
                    |row| {
                        Ok(SsoAttempt {
                            state_hash: row.get(0)?,
                            browser_hash: row.get(1)?,
                            nonce: row.get(2)?,
                            verifier: row.get(3)?,
                            created_at: row.get(4)?,
                            expires_at: row.get(5)?,
                        })
                    },
                )
                .optional()
                .map_err(backend)?;
            transaction.commit().map_err(backend)?;
            Ok(attempt)
        })
        .await
    }

    async fn publish_policy(
        &self,
        text: String,
        published_by: Option<UserId>,
        at: Millis,
    ) -> StoreResult<AcceptableUsePolicy> {
        self.write(move |conn| {
            conn.query_row(
                "INSERT INTO acceptable_use_policies (version, text, published_at, published_by)
                 VALUES ((SELECT COALESCE(MAX(version), 0) + 1 FROM acceptable_use_policies), ?1, ?2, ?3)
                 RETURNING version, text, published_at, published_by",
                params![text, at, published_by],
                policy,
            )
            .map_err(backend)
        })
        .await
    }

    async fn current_policy(&self) -> StoreResult<Option<AcceptableUsePolicy>> {
        self.read(move |conn| {
            conn.query_row(
                "SELECT version, text, published_at, published_by FROM acceptable_use_policies ORDER BY version DESC LIMIT 1",
                [],
                policy,
            )
            .optional()
            .map_err(backend)
        })
        .await
    }

    async fn accept_policy(&self, acceptance: PolicyAcceptance) -> StoreResult<PolicyAcceptance> {
        self.write(move |conn| {
            let published: bool = conn
                .query_row(
                    "SELECT EXISTS (SELECT 1 FROM acceptable_use_policies WHERE version = ?1)",
                    params![acceptance.version],
                    |row| row.get(0),
                )
                .map_err(backend)?;
            if !published {
                return Err(StoreError::NotFound("policy version"));
            }
            conn.execute(
                "INSERT INTO policy_acceptances (user_id, version, accepted_at, address) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (user_id, version) DO NOTHING",
                params![acceptance.user_id, acceptance.version, acceptance.accepted_at, acceptance.address],
            )
            .map_err(backend)?;
            conn.query_row(
                "SELECT user_id, version, accepted_at, address FROM policy_acceptances WHERE user_id = ?1 AND version = ?2",
                params![acceptance.user_id, acceptance.version],
                policy_acceptance,
            )
            .map_err(backend)
        })
        .await
    }

    async fn policy_acceptance(
        &self,
        user_id: UserId,
        version: i64,
    ) -> StoreResult<Option<PolicyAcceptance>> {
        self.read(move |conn| {
            conn.query_row(
                "SELECT user_id, version, accepted_at, address FROM policy_acceptances WHERE user_id = ?1 AND version = ?2",
                params![user_id, version],
                policy_acceptance,
            )
            .optional()
            .map_err(backend)
        })
        .await
    }

    async fn policy_acceptances(
        &self,
        version: Option<i64>,
        limit: i64,
    ) -> StoreResult<Vec<PolicyAcceptance>> {
        self.read(move |conn| {
            crate::collect(
                conn,
                "SELECT user_id, version, accepted_at, address FROM policy_acceptances
                 WHERE ?1 IS NULL OR version = ?1 ORDER BY accepted_at DESC, user_id DESC LIMIT ?2",
                params![version, limit.clamp(1, 10_000)],
                policy_acceptance,
            )
        })
        .await
    }
}

// Row readers and helpers for the authentication group.

fn mfa_enrolment(row: &Row<'_>) -> rusqlite::Result<MfaEnrolment> {
    Ok(MfaEnrolment {
        user_id: row.get(0)?,
        secret: row.get(1)?,
        created_at: row.get(2)?,
        confirmed_at: row.get(3)?,
        last_step: row.get(4)?,
    })
}

fn policy(row: &Row<'_>) -> rusqlite::Result<AcceptableUsePolicy> {
    Ok(AcceptableUsePolicy {
        version: row.get(0)?,
        text: row.get(1)?,
        published_at: row.get(2)?,
        published_by: row.get(3)?,
    })
}

fn policy_acceptance(row: &Row<'_>) -> rusqlite::Result<PolicyAcceptance> {
    Ok(PolicyAcceptance {
        user_id: row.get(0)?,
        version: row.get(1)?,
        accepted_at: row.get(2)?,
        address: row.get(3)?,
    })
}

fn replace_codes(
    transaction: &rusqlite::Transaction<'_>,
    user_id: UserId,
    hashes: &[String],
    at: Millis,
) -> StoreResult<()> {
    transaction
        .execute(
            "DELETE FROM mfa_recovery_codes WHERE user_id = ?1",
            params![user_id],
        )
        .map_err(backend)?;
    for hash in hashes {
        transaction
            .execute(
                "INSERT INTO mfa_recovery_codes (user_id, code_hash, created_at) VALUES (?1, ?2, ?3)",
                params![user_id, hash, at],
            )
            .map_err(backend)?;
    }
    Ok(())
}

// SCIM, groups and org structure: row readers.

const SCIM_TOKEN_COLUMNS: &str = "id, name, created_by, created_at, last_used_at, revoked_at";
const SCIM_USER_COLUMNS: &str = "user_id, document, deleted_at, created_at, updated_at";
const ORG_UNIT_COLUMNS: &str = "id, kind, name, external_id, created_at, updated_at";
const RULE_COLUMNS: &str = "id, unit_id, channel_id, created_by, created_at";

fn scim_token(row: &Row<'_>) -> rusqlite::Result<ScimToken> {
    Ok(ScimToken {
        id: row.get(0)?,
        name: row.get(1)?,
        created_by: row.get(2)?,
        created_at: row.get(3)?,
        last_used_at: row.get(4)?,
        revoked_at: row.get(5)?,
    })
}

fn scim_user(row: &Row<'_>) -> rusqlite::Result<ScimUserRecord> {
    Ok(ScimUserRecord {
        user_id: row.get(0)?,
        document: row.get(1)?,
        deleted_at: row.get(2)?,
        created_at: row.get(3)?,
        updated_at: row.get(4)?,
    })
}

fn org_unit(row: &Row<'_>) -> rusqlite::Result<OrgUnit> {
    let kind: String = row.get(1)?;
    Ok(OrgUnit {
        id: row.get(0)?,
        kind: OrgUnitKind::parse(&kind).ok_or_else(|| {
            rusqlite::Error::InvalidColumnType(
                1,
                format!("org unit kind {kind:?}"),
                rusqlite::types::Type::Text,
            )
        })?,
        name: row.get(2)?,
        external_id: row.get(3)?,
        created_at: row.get(4)?,
        updated_at: row.get(5)?,
    })
}

fn rule(row: &Row<'_>) -> rusqlite::Result<AutoMembershipRule> {
    Ok(AutoMembershipRule {
        id: row.get(0)?,
        unit_id: row.get(1)?,
        channel_id: row.get(2)?,
        created_by: row.get(3)?,
        created_at: row.get(4)?,
    })
}
