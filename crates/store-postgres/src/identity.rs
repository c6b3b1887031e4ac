//! The identity feature's storage on PostgreSQL (see conclave_store::IdentityStore).

use async_trait::async_trait;
use conclave_domain::auth::{
    AcceptableUsePolicy, LoginThrottle, MfaEnrolment, PolicyAcceptance, SsoAttempt,
};
use conclave_domain::{Millis, UserId};
use conclave_store::keys::SYSTEM_OWNER;
use conclave_store::{IdentityStore, Store, StoreError, StoreResult};
use tokio_postgres::Row;

use crate::PostgresStore;
use crate::connection::{Connection, Sql, backend, get};
use crate::rows::USER_COLUMNS;
use conclave_domain::directory::{
    AutoMembershipRule, NewOrgUnit, OrgUnit, OrgUnitId, OrgUnitKind, ScimToken, ScimUserRecord,
    UserListFilter,
};
use conclave_domain::{ChannelId, Role, User};

#[async_trait]
impl IdentityStore for PostgresStore {
    // SCIM, groups and org structure

    async fn create_scim_token(
        &self,
        name: &str,
        token_hash: &str,
        created_by: Option<UserId>,
        at: Millis,
    ) -> StoreResult<ScimToken> {
        let writer = self.writer().await?;
        let row = writer
            .sql()
            .query_one(
                &format!("INSERT INTO scim_tokens (name, token_hash, created_by, created_at) VALUES ($1, $2, $3, $4) RETURNING {SCIM_TOKEN_COLUMNS}"),
                &[&name, &token_hash, &created_by, &at],
            )
            .await?;
        scim_token(&row)
    }

    async fn scim_token_by_hash(&self, token_hash: &str) -> StoreResult<Option<ScimToken>> {
        let reader = self.reader().await?;
        let row = reader
            .sql()
            .query_opt(
                &format!("SELECT {SCIM_TOKEN_COLUMNS} FROM scim_tokens WHERE token_hash = $1 AND revoked_at IS NULL"),
                &[&token_hash],
            )
            .await?;
        row.as_ref().map(scim_token).transpose()
    }

    async fn scim_tokens(&self) -> StoreResult<Vec<ScimToken>> {
        let reader = self.reader().await?;
        let rows = reader
            .sql()
            .query(
                &format!("SELECT {SCIM_TOKEN_COLUMNS} FROM scim_tokens ORDER BY id"),
                &[],
            )
            .await?;
        rows.iter().map(scim_token).collect()
    }

    async fn revoke_scim_token(&self, id: i64, at: Millis) -> StoreResult<bool> {
        let writer = self.writer().await?;
        let changed = writer
            .sql()
            .execute(
                "UPDATE scim_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
                &[&id, &at],
            )
            .await?;
        Ok(changed > 0)
    }

    async fn touch_scim_token(&self, id: i64, at: Millis) -> StoreResult<()> {
        let writer = self.writer().await?;
        writer
            .sql()
            .execute(
                "UPDATE scim_tokens SET last_used_at = $2 WHERE id = $1",
                &[&id, &at],
            )
            .await?;
        Ok(())
    }

    async fn scim_user(&self, user_id: UserId) -> StoreResult<Option<ScimUserRecord>> {
        let reader = self.reader().await?;
        let row = reader
            .sql()
            .query_opt(
                &format!("SELECT {SCIM_USER_COLUMNS} FROM scim_users WHERE user_id = $1"),
                &[&user_id],
            )
            .await?;
        row.as_ref().map(scim_user).transpose()
    }

    async fn scim_users(&self) -> StoreResult<Vec<ScimUserRecord>> {
        let reader = self.reader().await?;
        let rows = reader
            .sql()
            .query(
                &format!("SELECT {SCIM_USER_COLUMNS} FROM scim_users ORDER BY user_id"),
                &[],
            )
            .await?;
        rows.iter().map(scim_user).collect()
    }

    async fn put_scim_user(&self, record: ScimUserRecord) -> StoreResult<()> {
        let writer = self.writer().await?;
        writer
            .sql()
            .execute(
                "INSERT INTO scim_users (user_id, document, deleted_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (user_id) DO UPDATE SET document = excluded.document, deleted_at = excluded.deleted_at,
                   updated_at = excluded.updated_at",
                &[&record.user_id, &record.document, &record.deleted_at, &record.created_at, &record.updated_at],
            )
            .await?;
        Ok(())
    }

    async fn update_user_profile(
        &self,
        user_id: UserId,
        email: &str,
        name: &str,
    ) -> StoreResult<User> {
        let writer = self.writer().await?;
        let sql = writer.sql();
        if sql
            .query_opt(
                "SELECT id FROM users WHERE email = $1 AND id != $2",
                &[&email, &user_id],
            )
            .await?
            .is_some()
        {
            return Err(StoreError::Conflict(
                "a user with that email already exists".into(),
            ));
        }
        let row = sql
            .query_opt(
                &format!(
                    "UPDATE users SET email = $2, name = $3 WHERE id = $1 RETURNING {USER_COLUMNS}"
                ),
                &[&user_id, &email, &name],
            )
            .await?
            .ok_or(StoreError::NotFound("user"))?;
        crate::rows::user(&row)
    }

    async fn set_user_role(&self, user_id: UserId, role: Role) -> StoreResult<User> {
        let writer = self.writer().await?;
        let row = writer
            .sql()
            .query_opt(
                &format!("UPDATE users SET role = $2 WHERE id = $1 RETURNING {USER_COLUMNS}"),
                &[&user_id, &role.as_str()],
            )
            .await?
            .ok_or(StoreError::NotFound("user"))?;
        crate::rows::user(&row)
    }

    async fn reactivate_user(&self, user_id: UserId) -> StoreResult<User> {
        let writer = self.writer().await?;
        let row = writer
            .sql()
            .query_opt(
                &format!("UPDATE users SET active = TRUE, deactivated_at = NULL WHERE id = $1 RETURNING {USER_COLUMNS}"),
                &[&user_id],
            )
            .await?
            .ok_or(StoreError::NotFound("user"))?;
        crate::rows::user(&row)
    }

    async fn list_users(&self, filter: UserListFilter) -> StoreResult<Vec<User>> {
        let pattern = filter
            .query
            .as_deref()
            .filter(|query| !query.is_empty())
            .map(|query| {
                format!(
                    "%{}%",
                    query
                        .to_lowercase()
                        .replace('\\', "\\\\")
                        .replace('%', "\\%")
                        .replace('_', "\\_")
                )
            });
        let role = filter.role.map(Role::as_str);
        let limit = filter.limit.clamp(1, 100_000);
        let reader = self.reader().await?;
        let rows = reader
            .sql()
            .query(
                &format!(
                    "SELECT {USER_COLUMNS} FROM users
                     WHERE ($1::TEXT IS NULL OR lower(name) LIKE $1 OR handle LIKE $1 OR lower(email) LIKE $1)
                       AND ($2::TEXT IS NULL OR role = $2) AND ($3::BOOLEAN IS NULL OR active = $3)
                       AND ($4::BIGINT IS NULL OR id > $4)
                     ORDER BY id LIMIT $5"
                ),
                &[&pattern, &role, &filter.active, &filter.after_id, &limit],
            )
            .await?;
        rows.iter().map(crate::rows::user).collect()
    }

    async fn create_org_unit(&self, unit: NewOrgUnit) -> StoreResult<OrgUnit> {
        let writer = self.writer().await?;
        let sql = writer.sql();
        let key = unit.name.to_lowercase();
        if sql
            .query_opt(
                "SELECT id FROM org_units WHERE kind = $1 AND name_key = $2",
                &[&unit.kind.as_str(), &key],
            )
            .await?
            .is_some()
        {
            return Err(StoreError::Conflict(format!(
                "a {} with that name already exists",
                unit.kind.as_str()
            )));
        }
        let row = sql
            .query_one(
                &format!(
                    "INSERT INTO org_units (kind, name, name_key, external_id, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)
                     RETURNING {ORG_UNIT_COLUMNS}"
                ),
                &[&unit.kind.as_str(), &unit.name, &key, &unit.external_id, &unit.at],
            )
            .await?;
        org_unit(&row)
    }

    async fn update_org_unit(
        &self,
        id: OrgUnitId,
        name: &str,
        external_id: Option<String>,
        at: Millis,
    ) -> StoreResult<OrgUnit> {
        let writer = self.writer().await?;
        let sql = writer.sql();
        let key = name.to_lowercase();
        let taken = sql
            .query_opt(
                "SELECT other.id FROM org_units AS other JOIN org_units AS this ON this.id = $1
                 WHERE other.kind = this.kind AND other.name_key = $2 AND other.id != $1",
                &[&id, &key],
            )
            .await?;
        if taken.is_some() {
            return Err(StoreError::Conflict(
                "another group of that kind has that name".into(),
            ));
        }
        let row = sql
            .query_opt(
                &format!(
                    "UPDATE org_units SET name = $2, name_key = $3, external_id = $4, updated_at = $5 WHERE id = $1
                     RETURNING {ORG_UNIT_COLUMNS}"
                ),
                &[&id, &name, &key, &external_id, &at],
            )
            .await?
            .ok_or(StoreError::NotFound("group"))?;
        org_unit(&row)
    }

    async fn delete_org_unit(&self, id: OrgUnitId) -> StoreResult<bool> {
        let mut writer = self.writer().await?;
        let crate::connection::Connection { client, statements } = &mut *writer;
        let transaction = client.transaction().await.map_err(backend)?;
        let deleted = {
            let sql = Sql::new(&transaction, statements);
            sql.execute(
                "DELETE FROM auto_membership_rules WHERE unit_id = $1",
                &[&id],
            )
            .await?;
            sql.execute("DELETE FROM org_unit_members WHERE unit_id = $1", &[&id])
                .await?;
            sql.execute("DELETE FROM org_units WHERE id = $1", &[&id])
                .await?
        };
        transaction.commit().await.map_err(backend)?;
        Ok(deleted > 0)
    }

    async fn org_unit(&self, id: OrgUnitId) -> StoreResult<Option<OrgUnit>> {
        let reader = self.reader().await?;
        let row = reader
            .sql()
            .query_opt(
                &format!("SELECT {ORG_UNIT_COLUMNS} FROM org_units WHERE id = $1"),
                &[&id],
            )
            .await?;
        row.as_ref().map(org_unit).transpose()
    }

    async fn org_unit_by_name(
        &self,
        kind: OrgUnitKind,
        name: &str,
    ) -> StoreResult<Option<OrgUnit>> {
        let reader = self.reader().await?;
        let row = reader
            .sql()
            .query_opt(
                &format!(
                    "SELECT {ORG_UNIT_COLUMNS} FROM org_units WHERE kind = $1 AND name_key = $2"
                ),
                &[&kind.as_str(), &name.to_lowercase()],
            )
            .await?;
        row.as_ref().map(org_unit).transpose()
    }

    async fn org_units(&self, kind: Option<OrgUnitKind>) -> StoreResult<Vec<OrgUnit>> {
        let reader = self.reader().await?;
        let kind = kind.map(OrgUnitKind::as_str);
        let rows = reader
            .sql()
            .query(&format!("SELECT {ORG_UNIT_COLUMNS} FROM org_units WHERE ($1::TEXT IS NULL OR kind = $1) ORDER BY id"), &[&kind])
            .await?;
        rows.iter().map(org_unit).collect()
    }

    async fn org_unit_memberships(&self) -> StoreResult<Vec<(OrgUnitId, UserId)>> {
        let reader = self.reader().await?;
        let rows = reader
            .sql()
            .query(
                "SELECT unit_id, user_id FROM org_unit_members ORDER BY unit_id, user_id",
                &[],
            )
            .await?;
        rows.iter()
            .map(|row| Ok((get(row, 0)?, get(row, 1)?)))
            .collect()
    }

    async fn org_unit_member_ids(&self, id: OrgUnitId) -> StoreResult<Vec<UserId>> {
        let reader = self.reader().await?;
        let rows = reader
            .sql()
            .query(
                "SELECT user_id FROM org_unit_members WHERE unit_id = $1 ORDER BY user_id",
                &[&id],
            )
            .await?;
        rows.iter().map(|row| get(row, 0)).collect()
    }

    async fn user_org_unit_ids(&self, user_id: UserId) -> StoreResult<Vec<OrgUnitId>> {
        let reader = self.reader().await?;
        let rows = reader
            .sql()
            .query(
                "SELECT unit_id FROM org_unit_members WHERE user_id = $1 ORDER BY unit_id",
                &[&user_id],
            )
            .await?;
        rows.iter().map(|row| get(row, 0)).collect()
    }

    async fn set_org_unit_member(
        &self,
        unit_id: OrgUnitId,
        user_id: UserId,
        member: bool,
        at: Millis,
    ) -> StoreResult<bool> {
        let writer = self.writer().await?;
        let sql = writer.sql();
        let changed = if member {
            if sql
                .query_opt("SELECT id FROM org_units WHERE id = $1", &[&unit_id])
                .await?
                .is_none()
            {
                return Err(StoreError::NotFound("group"));
            }
            if sql
                .query_opt("SELECT id FROM users WHERE id = $1", &[&user_id])
                .await?
                .is_none()
            {
                return Err(StoreError::NotFound("user"));
            }
            sql.execute(
                "INSERT INTO org_unit_members (unit_id, user_id, added_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                &[&unit_id, &user_id, &at],
            )
            .await?
        } else {
            sql.execute(
                "DELETE FROM org_unit_members WHERE unit_id = $1 AND user_id = $2",
                &[&unit_id, &user_id],
            )
            .await?
        };
        Ok(changed > 0)
    }

    async fn create_auto_membership_rule(
        &self,
        unit_id: OrgUnitId,
        channel_id: ChannelId,
        created_by: Option<UserId>,
        at: Millis,
    ) -> StoreResult<AutoMembershipRule> {
        let writer = self.writer().await?;
        let sql = writer.sql();
        if sql
            .query_opt(
                "SELECT id FROM auto_membership_rules WHERE unit_id = $1 AND channel_id = $2",
                &[&unit_id, &channel_id],
            )
            .await?
            .is_some()
        {
            return Err(StoreError::Conflict(
                "that group already feeds that channel".into(),
            ));
        }
        let row = sql
            .query_one(
                &format!(
                    "INSERT INTO auto_membership_rules (unit_id, channel_id, created_by, created_at) VALUES ($1, $2, $3, $4)
                     RETURNING {RULE_COLUMNS}"
                ),
                &[&unit_id, &channel_id, &created_by, &at],
            )
            .await?;
        rule(&row)
    }

    async fn delete_auto_membership_rule(&self, id: i64) -> StoreResult<bool> {
        let writer = self.writer().await?;
        Ok(writer
            .sql()
            .execute("DELETE FROM auto_membership_rules WHERE id = $1", &[&id])
            .await?
            > 0)
    }

    async fn auto_membership_rules(&self) -> StoreResult<Vec<AutoMembershipRule>> {
        let reader = self.reader().await?;
        let rows = reader
            .sql()
            .query(
                &format!("SELECT {RULE_COLUMNS} FROM auto_membership_rules ORDER BY id"),
                &[],
            )
            .await?;
        rows.iter().map(rule).collect()
    }

    async fn set_account_expiry(
        &self,
        user_id: UserId,
        expires_at: Option<Millis>,
    ) -> StoreResult<()> {
        let writer = self.writer().await?;
        match expires_at {
            Some(at) => {
                writer
                    .sql()
                    .execute(
                        "INSERT INTO account_expiry (user_id, expires_at) VALUES ($1, $2)
                         ON CONFLICT (user_id) DO UPDATE SET expires_at = excluded.expires_at",
                        &[&user_id, &at],
                    )
                    .await?
            }
            None => {
                writer
                    .sql()
                    .execute("DELETE FROM account_expiry WHERE user_id = $1", &[&user_id])
                    .await?
            }
        };
        Ok(())
    }

    async fn account_expiry(&self, user_id: UserId) -> StoreResult<Option<Millis>> {
        let reader = self.reader().await?;
        let row = reader
            .sql()
            .query_opt(
                "SELECT expires_at FROM account_expiry WHERE user_id = $1",
                &[&user_id],
            )
            .await?;
        row.map(|row| get(&row, 0)).transpose()
    }

    async fn accounts_expired_by(&self, now: Millis) -> StoreResult<Vec<UserId>> {
        let reader = self.reader().await?;
        let rows = reader
            .sql()
            .query(
                "SELECT account_expiry.user_id FROM account_expiry JOIN users ON users.id = account_expiry.user_id
                 WHERE account_expiry.expires_at <= $1 AND users.active ORDER BY account_expiry.user_id",
                &[&now],
            )
            .await?;
        rows.iter().map(|row| get(row, 0)).collect()
    }

    // Authentication: MFA, lockout, SSO, acceptable use

    async fn login_throttle(&self, user_id: UserId) -> StoreResult<LoginThrottle> {
        let reader = self.reader().await?;
        let row = reader
            .sql()
            .query_opt(
                "SELECT failures, locked_until FROM login_throttle WHERE user_id = $1",
                &[&user_id],
            )
            .await?;
        match row {
            Some(row) => Ok(LoginThrottle {
                failures: get(&row, 0)?,
                locked_until: get(&row, 1)?,
            }),
            None => Ok(LoginThrottle::default()),
        }
    }

    async fn record_login_failure(
        &self,
        user_id: UserId,
        max_failures: i64,
        lock_until: Millis,
    ) -> StoreResult<LoginThrottle> {
        let writer = self.writer().await?;
        // One statement, so concurrent failures cannot both miss the lock.
        let row = writer
            .sql()
            .query_one(
                "INSERT INTO login_throttle AS t (user_id, failures, locked_until)
                 VALUES ($1, CASE WHEN $2::BIGINT <= 1 THEN 0 ELSE 1 END, CASE WHEN $2::BIGINT <= 1 THEN $3::BIGINT END)
                 ON CONFLICT (user_id) DO UPDATE SET
                   locked_until = CASE WHEN t.failures + 1 >= $2::BIGINT THEN $3::BIGINT ELSE t.locked_until END,
                   failures = CASE WHEN t.failures + 1 >= $2::BIGINT THEN 0 ELSE t.failures + 1 END
                 RETURNING failures, locked_until",
                &[&user_id, &max_failures, &lock_until],
            )
            .await?;
        Ok(LoginThrottle {
            failures: get(&row, 0)?,
            locked_until: get(&row, 1)?,
        })
    }

    async fn clear_login_failures(&self, user_id: UserId) -> StoreResult<()> {
        let writer = self.writer().await?;
        writer
            .sql()
            .execute("DELETE FROM login_throttle WHERE user_id = $1", &[&user_id])
            .await?;
        Ok(())
    }

    async fn mfa_enrolment(&self, user_id: UserId) -> StoreResult<Option<MfaEnrolment>> {
        let reader = self.reader().await?;
        reader
            .sql()
            .query_opt(
                "SELECT user_id, secret, created_at, confirmed_at, last_step FROM mfa_enrolments WHERE user_id = $1",
                &[&user_id],
            )
            .await?
            .map(|row| {
                // TOTP seeds are sealed at rest with the server's own key.
                let mut enrolment = mfa_enrolment(&row)?;
                enrolment.secret = self.keyring().open_blob(&enrolment.secret)?;
                Ok(enrolment)
            })
            .transpose()
    }

    async fn begin_mfa_enrolment(
        &self,
        user_id: UserId,
        secret: Vec<u8>,
        at: Millis,
    ) -> StoreResult<()> {
        let secret = self.keyring().seal_blob(SYSTEM_OWNER, &secret)?;
        let writer = self.writer().await?;
        let changed = writer
            .sql()
            .execute(
                "INSERT INTO mfa_enrolments AS e (user_id, secret, created_at) VALUES ($1, $2, $3)
                 ON CONFLICT (user_id) DO UPDATE SET secret = excluded.secret, created_at = excluded.created_at,
                   last_step = NULL
                 WHERE e.confirmed_at IS NULL",
                &[&user_id, &secret, &at],
            )
            .await?;
        if changed == 0 {
            return Err(StoreError::Conflict(
                "two-factor authentication is already enabled".into(),
            ));
        }
        Ok(())
    }

    async fn confirm_mfa_enrolment(
        &self,
        user_id: UserId,
        step: i64,
        recovery_code_hashes: Vec<String>,
        at: Millis,
    ) -> StoreResult<bool> {
        let mut writer = self.writer().await?;
        let Connection { client, statements } = &mut *writer;
        let transaction = client.transaction().await.map_err(backend)?;
        let sql = Sql::new(&transaction, statements);
        let changed = sql
            .execute(
                "UPDATE mfa_enrolments SET confirmed_at = $2, last_step = $3 WHERE user_id = $1 AND confirmed_at IS NULL",
                &[&user_id, &at, &step],
            )
            .await?;
        if changed == 0 {
            return Ok(false);
        }
        replace_codes(&sql, user_id, &recovery_code_hashes, at).await?;
        transaction.commit().await.map_err(backend)?;
        Ok(true)
    }

    async fn use_totp_step(&self, user_id: UserId, step: i64) -> StoreResult<bool> {
        let writer = self.writer().await?;
        let changed = writer
            .sql()
            .execute(
                "UPDATE mfa_enrolments SET last_step = $2
                 WHERE user_id = $1 AND confirmed_at IS NOT NULL AND (last_step IS NULL OR last_step < $2)",
                &[&user_id, &step],
            )
            .await?;
        Ok(changed == 1)
    }

    async fn use_recovery_code(
        &self,
        user_id: UserId,
        code_hash: &str,
        at: Millis,
    ) -> StoreResult<bool> {
        let writer = self.writer().await?;
        let changed = writer
            .sql()
            .execute(
                "UPDATE mfa_recovery_codes SET used_at = $3 WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL",
                &[&user_id, &code_hash, &at],
            )
            .await?;
        Ok(changed == 1)
    }

    async fn unused_recovery_codes(&self, user_id: UserId) -> StoreResult<i64> {
        let reader = self.reader().await?;
        let row = reader
            .sql()
            .query_one(
                "SELECT COUNT(*) FROM mfa_recovery_codes WHERE user_id = $1 AND used_at IS NULL",
                &[&user_id],
            )
            .await?;
        get(&row, 0)
    }

    async fn replace_recovery_codes(
        &self,
        user_id: UserId,
        recovery_code_hashes: Vec<String>,
        at: Millis,
    ) -> StoreResult<()> {
        let mut writer = self.writer().await?;
        let Connection { client, statements } = &mut *writer;
        let transaction = client.transaction().await.map_err(backend)?;
        replace_codes(
            &Sql::new(&transaction, statements),
            user_id,
            &recovery_code_hashes,
            at,
        )
        .await?;
        transaction.commit().await.map_err(backend)
    }

    async fn remove_mfa(&self, user_id: UserId) -> StoreResult<bool> {
        let mut writer = self.writer().await?;
        let Connection { client, statements } = &mut *writer;
        let transaction = client.transaction().await.map_err(backend)?;
        let sql = Sql::new(&transaction, statements);
        sql.execute(
            "DELETE FROM mfa_recovery_codes WHERE user_id = $1",
            &[&user_id],
        )
        .await?;
        let removed = sql
            .execute("DELETE FROM mfa_enrolments WHERE user_id = $1", &[&user_id])
            .await?;
        transaction.commit().await.map_err(backend)?;
        Ok(removed == 1)
    }

    async fn auth_setting(&self, key: &str) -> StoreResult<Option<String>> {
        let reader = self.reader().await?;
        reader
            .sql()
            .query_opt("SELECT value FROM auth_settings WHERE key = $1", &[&key])
            .await?
            .map(|row| get(&row, 0))
            .transpose()
    }

    async fn set_auth_setting(&self, key: &str, value: &str, at: Millis) -> StoreResult<()> {
        let writer = self.writer().await?;
        writer
            .sql()
            .execute(
                "INSERT INTO auth_settings (key, value, updated_at) VALUES ($1, $2, $3)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                &[&key, &value, &at],
            )
            .await?;
        Ok(())
    }

    async fn save_sso_attempt(&self, attempt: SsoAttempt) -> StoreResult<()> {
        let writer = self.writer().await?;
        writer
            .sql()
            .execute(
                "INSERT INTO sso_attempts (state_hash, browser_hash, nonce, verifier, created_at, expires_at)
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    &attempt.state_hash,
                    &attempt.browser_hash,
                    &attempt.nonce,
                    &attempt.verifier,
                    &attempt.created_at,
                    &attempt.expires_at,
                ],
            )
            .await?;
        Ok(())
    }

    async fn take_sso_attempt(
        &self,
        state_hash: &str,
        now: Millis,
    ) -> StoreResult<Option<SsoAttempt>> {
        let writer = self.writer().await?;
        let sql = writer.sql();
        sql.execute("DELETE FROM sso_attempts WHERE expires_at <= $1", &[&now])
            .await?;
        sql.query_opt(
            "DELETE FROM sso_attempts WHERE state_hash = $1
             RETURNING state_hash, browser_hash, nonce, verifier, created_at, expires_at",
            &[&state_hash],
        )
        .await?
        .map(|row| {
            Ok(SsoAttempt {
                state_hash: get(&row, 0)?,
                browser_hash: get(&row, 1)?,
                nonce: get(&row, 2)?,
                verifier: get(&row, 3)?,
                created_at: get(&row, 4)?,
                expires_at: get(&row, 5)?,
            })
        })
        .transpose()
    }

    async fn publish_policy(
        &self,
        text: String,
        published_by: Option<UserId>,
        at: Millis,
    ) -> StoreResult<AcceptableUsePolicy> {
        let writer = self.writer().await?;
        let row = writer
            .sql()
            .query_one(
                "INSERT INTO acceptable_use_policies (version, text, published_at, published_by)
                 VALUES ((SELECT COALESCE(MAX(version), 0) + 1 FROM acceptable_use_policies), $1, $2, $3)
                 RETURNING version, text, published_at, published_by",
                &[&text, &at, &published_by],
            )
            .await?;
        policy(&row)
    }

    async fn current_policy(&self) -> StoreResult<Option<AcceptableUsePolicy>> {
        let reader = self.reader().await?;
        reader
            .sql()
            .query_opt(
                "SELECT version, text, published_at, published_by FROM acceptable_use_policies ORDER BY version DESC LIMIT 1",
                &[],
            )
            .await?
            .map(|row| policy(&row))
            .transpose()
    }

    async fn accept_policy(&self, acceptance: PolicyAcceptance) -> StoreResult<PolicyAcceptance> {
        let writer = self.writer().await?;
        let sql = writer.sql();
        let published = sql
            .query_opt(
                "SELECT 1::BIGINT FROM acceptable_use_policies WHERE version = $1",
                &[&acceptance.version],
            )
            .await?
            .is_some();
        if !published {
            return Err(StoreError::NotFound("policy version"));
        }
        sql.execute(
            "INSERT INTO policy_acceptances (user_id, version, accepted_at, address) VALUES ($1, $2, $3, $4)
             ON CONFLICT (user_id, version) DO NOTHING",
            &[&acceptance.user_id, &acceptance.version, &acceptance.accepted_at, &acceptance.address],
        )
        .await?;
        let row = sql
            .query_one(
                "SELECT user_id, version, accepted_at, address FROM policy_acceptances WHERE user_id = $1 AND version = $2",
                &[&acceptance.user_id, &acceptance.version],
            )
            .await?;
        policy_acceptance(&row)
    }

    async fn policy_acceptance(
        &self,
        user_id: UserId,
        version: i64,
    ) -> StoreResult<Option<PolicyAcceptance>> {
        let reader = self.reader().await?;
        reader
            .sql()
            .query_opt(
                "SELECT user_id, version, accepted_at, address FROM policy_acceptances WHERE user_id = $1 AND version = $2",
                &[&user_id, &version],
            )
            .await?
            .map(|row| policy_acceptance(&row))
            .transpose()
    }

    async fn policy_acceptances(
        &self,
        version: Option<i64>,
        limit: i64,
    ) -> StoreResult<Vec<PolicyAcceptance>> {
        let reader = self.reader().await?;
        let limit = limit.clamp(1, 10_000);
        reader
            .sql()
            .query(
                "SELECT user_id, version, accepted_at, address FROM policy_acceptances
                 WHERE $1::BIGINT IS NULL OR version = $1 ORDER BY accepted_at DESC, user_id DESC LIMIT $2",
                &[&version, &limit],
            )
            .await?
            .iter()
            .map(policy_acceptance)
            .collect()
    }
}

// Row readers and helpers for the authentication group.

fn mfa_enrolment(row: &Row) -> StoreResult<MfaEnrolment> {
    Ok(MfaEnrolment {
        user_id: get(row, 0)?,
        secret: get(row, 1)?,
        created_at: get(row, 2)?,
        confirmed_at: get(row, 3)?,
        last_step: get(row, 4)?,
    })
}

fn policy(row: &Row) -> StoreResult<AcceptableUsePolicy> {
    Ok(AcceptableUsePolicy {
        version: get(row, 0)?,
        text: get(row, 1)?,
        published_at: get(row, 2)?,
        published_by: get(row, 3)?,
    })
}

fn policy_acceptance(row: &Row) -> StoreResult<PolicyAcceptance> {
    Ok(PolicyAcceptance {
        user_id: get(row, 0)?,
        version: get(row, 1)?,
        accepted_at: get(row, 2)?,
        address: get(row, 3)?,
    })
}

async fn replace_codes<C: tokio_postgres::GenericClient + Sync>(
    sql: &Sql<'_, C>,
    user_id: UserId,
    hashes: &[String],
    at: Millis,
) -> StoreResult<()> {
    sql.execute(
        "DELETE FROM mfa_recovery_codes WHERE user_id = $1",
        &[&user_id],
    )
    .await?;
    for hash in hashes {
        sql.execute(
            "INSERT INTO mfa_recovery_codes (user_id, code_hash, created_at) VALUES ($1, $2, $3)",
            &[&user_id, hash, &at],
        )
        .await?;
    }
    Ok(())
}

// SCIM, groups and org structure: row readers.

const SCIM_TOKEN_COLUMNS: &str = "id, name, created_by, created_at, last_used_at, revoked_at";
const SCIM_USER_COLUMNS: &str = "user_id, document, deleted_at, created_at, updated_at";
const ORG_UNIT_COLUMNS: &str = "id, kind, name, external_id, created_at, updated_at";
const RULE_COLUMNS: &str = "id, unit_id, channel_id, created_by, created_at";

fn scim_token(row: &Row) -> StoreResult<ScimToken> {
    Ok(ScimToken {
        id: get(row, 0)?,
        name: get(row, 1)?,
        created_by: get(row, 2)?,
        created_at: get(row, 3)?,
        last_used_at: get(row, 4)?,
        revoked_at: get(row, 5)?,
    })
}

fn scim_user(row: &Row) -> StoreResult<ScimUserRecord> {
    Ok(ScimUserRecord {
        user_id: get(row, 0)?,
        document: get(row, 1)?,
        deleted_at: get(row, 2)?,
        created_at: get(row, 3)?,
        updated_at: get(row, 4)?,
    })
}

fn org_unit(row: &Row) -> StoreResult<OrgUnit> {
    let kind: String = get(row, 1)?;
    Ok(OrgUnit {
        id: get(row, 0)?,
        kind: OrgUnitKind::parse(&kind)
            .ok_or_else(|| StoreError::Backend(format!("unreadable org unit kind {kind:?}")))?,
        name: get(row, 2)?,
        external_id: get(row, 3)?,
        created_at: get(row, 4)?,
        updated_at: get(row, 5)?,
    })
}

fn rule(row: &Row) -> StoreResult<AutoMembershipRule> {
    Ok(AutoMembershipRule {
        id: get(row, 0)?,
        unit_id: get(row, 1)?,
        channel_id: get(row, 2)?,
        created_by: get(row, 3)?,
        created_at: get(row, 4)?,
    })
}
