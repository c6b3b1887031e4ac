//! Sign-in, sign-out and sessions.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use conclave_domain::{NewSession, validate};

use super::{ApiJson, ApiPath};
use crate::api::{LoginRequest, LoginResponse, SessionDto, UserDto};
use crate::audit::{self, Actor, Change};
use crate::auth::{
    Authed, ClientAddress, hash_password, new_token, token_hash, verify_password_off_thread,
};
use crate::error::{ApiError, ApiResult};
use crate::hub::close_code;
use crate::state::AppState;

/// A fixed hash to verify against when the email is unknown, so a wrong
/// email takes as long as a wrong password.
fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password("decoy password for timing").unwrap_or_default())
}

/// Signs in with email and password (and the current TOTP code or a
/// recovery code, for accounts with MFA); answers a bearer token.
///
/// Consecutive failures lock the account for a while (`auth.lockout_secs`
/// after `auth.max_failed_logins`); a locked account is refused before its
/// password is checked, so the lock cannot be used to keep guessing.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = LoginResponse), (status = 401, body = crate::error::ErrorBody),
              (status = 403, body = crate::error::ErrorBody), (status = 423, body = crate::error::ErrorBody),
              (status = 429, body = crate::error::ErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    ApiJson(request): ApiJson<LoginRequest>,
) -> ApiResult<Json<LoginResponse>> {
    let started = tokio::time::Instant::now();
    let email = validate::normalize_email(&request.email);
    let address_key = address.as_deref().unwrap_or("unknown").to_string();
    state.limits.check_login(&address_key, &email)?;
    let answer = sign_in(&state, address, &headers, request, email).await;
    match &answer {
        // A second factor still to come is not a failed guess either.
        Ok(_) | Err(ApiError::MfaRequired) => state.limits.login_succeeded(&address_key),
        // The answers that could tell a real account from a made-up one
        // leave no sooner than the slowest of them would, so their timing
        // says nothing (see FAILED_SIGN_IN_FLOOR).
        Err(ApiError::InvalidCredentials | ApiError::AccountLocked { .. }) => {
            let timing = &state.limits.sign_in_failures;
            timing.record(started.elapsed());
            tokio::time::sleep_until(started + timing.answer_after(FAILED_SIGN_IN_FLOOR)).await;
        }
        Err(_) => {}
    }
    answer
}

/// The least time a wrong password or a lock is answered in. A failure for
/// a real account does more work (its lock is read and written) than one
/// for an unknown email, which a stopwatch would notice; every such answer
/// waits until this floor, or twice the typical failure's work when that is
/// longer (a slow machine or a busy database), has passed.
const FAILED_SIGN_IN_FLOOR: std::time::Duration = std::time::Duration::from_millis(150);

async fn sign_in(
    state: &AppState,
    address: Option<String>,
    headers: &HeaderMap,
    request: LoginRequest,
    email: String,
) -> ApiResult<Json<LoginResponse>> {
    if request.password.len() > validate::MAX_PASSWORD_BYTES {
        return Err(ApiError::InvalidCredentials);
    }
    let user = state.store.user_by_email(&email).await?;
    let now = crate::now_millis();
    let throttle = match &user {
        Some(user) => state.store.login_throttle(user.id).await?,
        None => Default::default(),
    };
    if let (Some(user), Some(until)) = (&user, throttle.locked_until.filter(|until| *until > now)) {
        audit::record(
            &*state.store,
            &Actor::user(user, address.clone()),
            Change::new("auth.sign_in_refused", "user", user.id)
                .after(&serde_json::json!({"reason": "locked"})),
        )
        .await?;
        return Err(locked_error(until, now));
    }
    // An email of no account locks as an account would, so the lock does
    // not reveal which emails are real.
    if user.is_none()
        && let Some(until) = state.limits.unknown_emails.locked_until(&email, now)
    {
        return Err(locked_error(until, now));
    }
    let stored = match &user {
        Some(user) => state.store.password_hash(user.id).await?,
        None => None,
    };
    let password = request.password.clone();
    let hash = stored.clone().unwrap_or_else(|| decoy_hash().to_string());
    let matches = verify_password_off_thread(password, hash).await?;
    let user = match user {
        Some(user) if matches && stored.is_some() => user,
        _ => {
            tracing::info!(email = %email, address = ?address, "sign-in failed");
            audit::record(
                &*state.store,
                &Actor::label("anonymous", address.clone()),
                Change::new("auth.sign_in_failed", "email", &email),
            )
            .await?;
            match &user {
                Some(user) => count_failed_sign_in(state, user, address.clone()).await?,
                None => count_failed_unknown_email(state, &email)?,
            }
            return Err(ApiError::InvalidCredentials);
        }
    };
    // An account past its expiry date is refused from that moment, even
    // before the sweep has deactivated it (as at every token check).
    let expired = state
        .store
        .account_expiry(user.id)
        .await?
        .is_some_and(|expires_at| expires_at <= crate::now_millis());
    if !user.active || expired {
        audit::record(
            &*state.store,
            &Actor::user(&user, address.clone()),
            Change::new("auth.sign_in_refused", "user", user.id),
        )
        .await?;
        return Err(ApiError::AccountDeactivated);
    }
    if let Some(enrolment) = state
        .store
        .mfa_enrolment(user.id)
        .await?
        .filter(|enrolment| enrolment.is_active())
    {
        let Some(code) = request
            .totp
            .as_deref()
            .map(str::trim)
            .filter(|code| !code.is_empty())
        else {
            return Err(ApiError::MfaRequired);
        };
        if !super::identity::check_second_factor(state, &user, &enrolment, code, address.clone())
            .await?
        {
            tracing::info!(user_id = user.id, "sign-in failed: wrong second factor");
            audit::record(
                &*state.store,
                &Actor::user(&user, address.clone()),
                Change::new("auth.sign_in_failed", "user", user.id)
                    .after(&serde_json::json!({"reason": "invalid_totp"})),
            )
            .await?;
            count_failed_sign_in(state, &user, address.clone()).await?;
            return Err(ApiError::InvalidTotp);
        }
    }
    if throttle != Default::default() {
        state.store.clear_login_failures(user.id).await?;
    }
    let token = open_session(state, &user, address.clone(), headers).await?;
    audit::record(
        &*state.store,
        &Actor::user(&user, address),
        Change::new("auth.sign_in", "user", user.id),
    )
    .await?;
    tracing::info!(user_id = user.id, "signed in");
    let pending = state.auth.gate.requirements(state, user.id).await?;
    Ok(Json(LoginResponse {
        token,
        user: UserDto::from(&user),
        mfa_enrolment_required: pending.mfa_enrolment,
        policy_acceptance_required: pending.policy_acceptance,
    }))
}

/// Creates a session for `user` (signed in by password or single sign-on)
/// and answers its bearer token.
pub(crate) async fn open_session(
    state: &AppState,
    user: &conclave_domain::User,
    address: Option<String>,
    headers: &HeaderMap,
) -> ApiResult<String> {
    let token = new_token();
    let now = crate::now_millis();
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|value| value.to_str().ok())
        .map(|agent| agent.chars().take(256).collect());
    state
        .store
        .create_session(NewSession {
            token_hash: token_hash(&token),
            user_id: user.id,
            created_at: now,
            expires_at: now + state.config.sessions.lifetime_hours * 3_600_000,
            user_agent,
            address,
        })
        .await?;
    crate::accounts::welcome(state, user).await;
    Ok(token)
}

/// Counts a failed sign-in (or a wrong code) against `user`; answers
/// `AccountLocked` when this failure locked the account.
pub(crate) async fn count_failed_sign_in(
    state: &AppState,
    user: &conclave_domain::User,
    address: Option<String>,
) -> ApiResult<()> {
    let policy = &state.config.auth;
    if policy.max_failed_logins <= 0 {
        return Ok(());
    }
    let now = crate::now_millis();
    let lock_until = now + policy.lockout_secs.max(1) * 1_000;
    let throttle = state
        .store
        .record_login_failure(user.id, policy.max_failed_logins, lock_until)
        .await?;
    if throttle.locked_until == Some(lock_until) {
        tracing::warn!(
            user_id = user.id,
            "account locked after repeated failed sign-ins"
        );
        audit::record(
            &*state.store,
            &Actor::user(user, address),
            Change::new("auth.lockout", "user", user.id).after(&serde_json::json!({
                "failures": policy.max_failed_logins,
                "locked_until": lock_until,
            })),
        )
        .await?;
        return Err(locked_error(lock_until, now));
    }
    Ok(())
}

/// Counts a failed sign-in for an email of no account with the accounts'
/// policy; answers `AccountLocked` when this failure locked it, as
/// [`count_failed_sign_in`] does for a real account.
fn count_failed_unknown_email(state: &AppState, email: &str) -> ApiResult<()> {
    let policy = &state.config.auth;
    if policy.max_failed_logins <= 0 {
        return Ok(());
    }
    let now = crate::now_millis();
    let lock_until = now + policy.lockout_secs.max(1) * 1_000;
    match state.limits.unknown_emails.record_failure(
        email,
        policy.max_failed_logins,
        lock_until,
        now,
    ) {
        Some(until) => Err(locked_error(until, now)),
        None => Ok(()),
    }
}

pub(crate) fn locked_error(until: i64, now: i64) -> ApiError {
    let remaining_ms = u64::try_from(until - now).unwrap_or(0);
    ApiError::AccountLocked {
        retry_after_secs: remaining_ms.div_ceil(1_000).max(1),
    }
}

/// Revokes the token this request was made with.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204)))]
pub async fn logout(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    authed: Authed,
) -> ApiResult<StatusCode> {
    state
        .store
        .revoke_session(authed.session.id, crate::now_millis())
        .await?;
    state
        .hub
        .close_session(authed.session.id, close_code::REVOKED);
    audit::record(
        &*state.store,
        &Actor::user(&authed.user, address),
        Change::new("auth.sign_out", "session", authed.session.id),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The signed-in user.
#[utoipa::path(get, path = "/api/v1/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = UserDto), (status = 401, body = crate::error::ErrorBody)))]
pub async fn me(authed: Authed) -> Json<UserDto> {
    Json(UserDto::from(&authed.user))
}

/// The caller's live sessions.
#[utoipa::path(get, path = "/api/v1/me/sessions", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = [SessionDto])))]
pub async fn sessions(
    State(state): State<AppState>,
    authed: Authed,
) -> ApiResult<Json<Vec<SessionDto>>> {
    let sessions = state
        .store
        .list_sessions(authed.user.id, crate::now_millis())
        .await?;
    Ok(Json(
        sessions
            .iter()
            .map(|session| SessionDto::new(session, session.id == authed.session.id))
            .collect(),
    ))
}

/// Signs out one of the caller's sessions, closing its sockets.
#[utoipa::path(delete, path = "/api/v1/me/sessions/{id}", tag = "auth", security(("bearer" = [])),
    params(("id" = i64, Path)), responses((status = 204), (status = 404, body = crate::error::ErrorBody)))]
pub async fn revoke_session(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    authed: Authed,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    let owned = state
        .store
        .list_sessions(authed.user.id, crate::now_millis())
        .await?
        .iter()
        .any(|session| session.id == id);
    if !owned {
        return Err(ApiError::NotFound("session"));
    }
    state.store.revoke_session(id, crate::now_millis()).await?;
    state.hub.close_session(id, close_code::REVOKED);
    audit::record(
        &*state.store,
        &Actor::user(&authed.user, address),
        Change::new("session.revoke", "session", id),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
