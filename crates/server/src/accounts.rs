//! A person's own account as use cases shared by the REST API
//! (`routes::passwords`, `routes::profiles`) and the command line: changing
//! one's password, one-time resets issued by an administrator, and profiles.
//!
//! Nothing here knows HTTP. Reset codes are shown once and stored only as
//! SHA-256 hashes; passwords are hashed with argon2id on the password
//! workers and checked against the same policy as at account creation.

use conclave_domain::account::{self, NewPasswordReset, PasswordReset};
use conclave_domain::{SessionId, User};
use conclave_store::Store;
use rand::Rng;

use crate::audit::{Actor, Change};
use crate::auth::{hash_password_off_thread, token_hash, verify_password_off_thread};
use crate::error::{ApiError, ApiResult};

/// `[onboarding]` in conclave.toml.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct OnboardingConfig {
    /// The public channel every member (not guests) joins on their first
    /// sign-in, created when absent; empty turns this off.
    pub default_channel: String,
}

impl Default for OnboardingConfig {
    fn default() -> Self {
        OnboardingConfig {
            default_channel: "general".into(),
        }
    }
}

/// The letters reset codes are made of: no 0/O, 1/I/L or U, so a code read
/// aloud or retyped from a screen survives.
const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTVWXYZ23456789";
/// Four groups of four: 16 symbols of a 30-letter alphabet, about 78 bits.
const CODE_GROUPS: usize = 4;
const CODE_GROUP_LENGTH: usize = 4;

/// A reset as its issuer receives it: the code (shown once) and the path
/// of the page that redeems it.
#[derive(Clone)]
pub struct IssuedReset {
    pub code: String,
    pub reset: PasswordReset,
    /// `/reset-password?code=…`, or the full link when the server knows the
    /// address people reach it at.
    pub link: String,
    /// Sessions of the person that were signed out.
    pub revoked_sessions: Vec<SessionId>,
}

impl std::fmt::Debug for IssuedReset {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("IssuedReset")
            .field("code", &"<redacted>")
            .field("reset", &self.reset)
            .finish()
    }
}

/// A fresh reset code such as `K7QM-2XRT-PW9A-HZ3C`.
pub fn new_reset_code() -> String {
    let mut random = rand::rng();
    let groups: Vec<String> = (0..CODE_GROUPS)
        .map(|_| {
            (0..CODE_GROUP_LENGTH)
                .map(|_| char::from(CODE_ALPHABET[random.random_range(0..CODE_ALPHABET.len())]))
                .collect()
        })
        .collect();
    groups.join("-")
}

/// The stored form of a code: typed codes are accepted in any case, with or
/// without dashes and spaces.
pub fn reset_code_hash(code: &str) -> String {
    let normalized: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    token_hash(&normalized)
}

/// Refuses accounts whose password may not be touched: erased ones ever,
/// deactivated ones until they are reactivated.
fn may_hold_a_password(user: &User) -> ApiResult<()> {
    if account::is_erased(user) {
        return Err(ApiError::AccountErased);
    }
    if !user.active {
        return Err(ApiError::Conflict(format!(
            "{} is deactivated; reactivate the account first",
            user.email
        )));
    }
    Ok(())
}

/// Issues a one-time reset for `target`, valid for a day; earlier unused
/// resets stop working and the person's sessions are signed out at once
/// (their sockets are the caller's to close). The old password keeps
/// working until the code is redeemed. The permission check
/// (`account::can_reset_password`) is the caller's: the command line is
/// the operator's and needs none. Audited as `user.password_reset`.
pub async fn issue_password_reset(
    store: &dyn Store,
    target: &User,
    issuer: Option<&User>,
    actor: &Actor,
    public_url: Option<&str>,
) -> ApiResult<IssuedReset> {
    may_hold_a_password(target)?;
    let code = new_reset_code();
    let now = crate::now_millis();
    let reset = store
        .create_password_reset(NewPasswordReset {
            user_id: target.id,
            code_hash: reset_code_hash(&code),
            created_by: issuer.map(|issuer| issuer.id),
            created_at: now,
            expires_at: now + account::RESET_CODE_LIFETIME_MILLIS,
        })
        .await?;
    let revoked_sessions = store.revoke_user_sessions(target.id, None, now).await?;
    crate::audit::record(
        store,
        actor,
        Change::new("user.password_reset", "user", target.id).after(&serde_json::json!({
            "expires_at": reset.expires_at,
            "sessions_signed_out": revoked_sessions.len(),
        })),
    )
    .await?;
    let path = format!("/reset-password?code={code}");
    let link = match public_url {
        Some(base) => format!("{}{path}", base.trim_end_matches('/')),
        None => path,
    };
    Ok(IssuedReset {
        code,
        reset,
        link,
        revoked_sessions,
    })
}

/// Sets a new password with a reset code: the code is consumed, the
/// password checked against the policy and stored, every session of the
/// person signed out (the caller closes their sockets) and any sign-in lock
/// lifted. Audited as `user.password_reset_redeemed`.
pub async fn redeem_password_reset(
    store: &dyn Store,
    code: &str,
    new_password: &str,
    address: Option<String>,
) -> ApiResult<(User, Vec<SessionId>)> {
    let code_hash = reset_code_hash(code);
    let now = crate::now_millis();
    let pending = store
        .pending_password_reset(&code_hash, now)
        .await?
        .ok_or(ApiError::InvalidResetCode)?;
    let user = store
        .user_by_id(pending.user_id)
        .await?
        .ok_or(ApiError::InvalidResetCode)?;
    if account::is_erased(&user) || !user.active {
        return Err(ApiError::InvalidResetCode);
    }
    conclave_domain::auth::check_password(new_password, &user.email)?;
    let password_hash = hash_password_off_thread(new_password.to_string()).await?;
    let (_, revoked) = store
        .redeem_password_reset(&code_hash, &password_hash, now)
        .await?
        // Redeemed by someone else between the check and now.
        .ok_or(ApiError::InvalidResetCode)?;
    store.clear_login_failures(user.id).await?;
    crate::audit::record(
        store,
        &Actor::user(&user, address),
        Change::new("user.password_reset_redeemed", "user", user.id).after(&serde_json::json!({
            "sessions_signed_out": revoked.len(),
        })),
    )
    .await?;
    Ok((user, revoked))
}

/// Changes the signed-in person's password after checking the current one;
/// with `sign_out_others`, every other session ends (the caller closes
/// their sockets). Audited as `user.password_change`.
pub async fn change_password(
    store: &dyn Store,
    user: &User,
    current_session: SessionId,
    current_password: &str,
    new_password: &str,
    sign_out_others: bool,
    address: Option<String>,
) -> ApiResult<Vec<SessionId>> {
    let stored = store
        .password_hash(user.id)
        .await?
        // Single sign-on accounts have no password to change.
        .ok_or_else(|| {
            ApiError::Conflict(
                "this account signs in through single sign-on and has no password here".into(),
            )
        })?;
    if !verify_password_off_thread(current_password.to_string(), stored).await? {
        crate::audit::record(
            store,
            &Actor::user(user, address),
            Change::new("user.password_change_refused", "user", user.id),
        )
        .await?;
        return Err(ApiError::WrongPassword);
    }
    if current_password == new_password {
        return Err(ApiError::Validation(conclave_domain::ValidationError {
            field: "new_password",
            problem: "must differ from the current password".into(),
        }));
    }
    conclave_domain::auth::check_password(new_password, &user.email)?;
    let password_hash = hash_password_off_thread(new_password.to_string()).await?;
    store.set_password_hash(user.id, &password_hash).await?;
    let revoked = if sign_out_others {
        store
            .revoke_user_sessions(user.id, Some(current_session), crate::now_millis())
            .await?
    } else {
        Vec::new()
    };
    crate::audit::record(
        store,
        &Actor::user(user, address),
        Change::new("user.password_change", "user", user.id).after(&serde_json::json!({
            "sessions_signed_out": revoked.len(),
        })),
    )
    .await?;
    Ok(revoked)
}

/// Welcomes `user` on their first sign-in: members (not guests, who see
/// only what they were invited to) join the configured default channel,
/// which is created, public, when absent. Runs once per person, so someone
/// who leaves the channel is not put back. Channels of their department or
/// team come from the auto-membership rules, as for everyone. Failures are
/// logged, never in the way of signing in.
pub async fn welcome(state: &crate::AppState, user: &User) {
    if let Err(error) = welcome_once(state, user).await {
        tracing::warn!(%error, user_id = user.id, "could not welcome a new member");
    }
}

async fn welcome_once(state: &crate::AppState, user: &User) -> ApiResult<()> {
    let name =
        conclave_domain::validate::normalize_channel_name(&state.config.onboarding.default_channel);
    if name.is_empty() || user.role == conclave_domain::Role::Guest || !user.active {
        return Ok(());
    }
    if state.store.is_onboarded(user.id).await? {
        return Ok(());
    }
    let now = crate::now_millis();
    match state.store.channel_by_name(&name).await? {
        Some(channel) => {
            if !channel.archived
                && channel.kind == conclave_domain::ChannelKind::Public
                && state.store.membership(channel.id, user.id).await?.is_none()
            {
                crate::routes::submit(
                    state,
                    conclave_domain::Command::SetMembership {
                        channel_id: channel.id,
                        user_id: user.id,
                        actor_id: user.id,
                        member: true,
                        at: now,
                    },
                )
                .await?;
            }
        }
        None => {
            conclave_domain::validate::channel_name(&name)?;
            crate::routes::submit(
                state,
                conclave_domain::Command::CreateChannel {
                    kind: conclave_domain::ChannelKind::Public,
                    name,
                    topic: "Company-wide announcements and conversation".into(),
                    creator_id: user.id,
                    member_ids: vec![],
                    conversation_key: None,
                    read_only: false,
                    at: now,
                },
            )
            .await?;
        }
    }
    state.store.mark_onboarded(user.id, now).await?;
    Ok(())
}

/// Why a bearer token no longer works: `SignedOutByDeactivation` (401
/// `account_deactivated`) when it was a session of a deactivated account,
/// so the client can say so, else
/// `Unauthenticated`. Never fails: a store error is plain
/// `Unauthenticated`.
pub async fn signed_out_reason(store: &dyn Store, token_hash: &str) -> ApiError {
    match store.user_by_any_session_token(token_hash).await {
        Ok(Some(user)) if !user.active => ApiError::SignedOutByDeactivation,
        _ => ApiError::Unauthenticated,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reset_codes_are_grouped_unambiguous_and_fresh() {
        let code = new_reset_code();
        assert_eq!(code.len(), 19, "{code}");
        assert_eq!(code.matches('-').count(), 3);
        assert!(
            code.chars()
                .filter(|c| *c != '-')
                .all(|c| CODE_ALPHABET.contains(&(c as u8)))
        );
        assert_ne!(new_reset_code(), code);
    }

    #[test]
    fn typed_codes_match_whatever_their_case_and_separators() {
        let stored = reset_code_hash("K7QM-2XRT-PW9A-HZ3C");
        for typed in [
            "k7qm-2xrt-pw9a-hz3c",
            "K7QM2XRTPW9AHZ3C",
            " K7QM 2XRT PW9A HZ3C ",
        ] {
            assert_eq!(reset_code_hash(typed), stored, "{typed}");
        }
        assert_ne!(reset_code_hash("K7QM-2XRT-PW9A-HZ3D"), stored);
    }
}
