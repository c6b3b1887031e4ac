//! Authentication administration: TOTP MFA (enrolment, recovery codes,
//! disabling, admin reset, the organisation's "MFA required" switch), the
//! acceptable-use policy, session management for users and admins, and
//! OpenID Connect single sign-on. Mounted under `/api/v1` by
//! [`crate::router`]; sign-in itself is in [`super::auth`].
//!
//! Every security-relevant change is written to the audit log before the
//! handler answers.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use conclave_domain::auth::{MfaEnrolment, PolicyAcceptance, SsoAttempt};
use conclave_domain::{Role, Session, User, permissions};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

use super::{ApiJson, ApiPath, ApiQuery};
use crate::api::SessionDto;
use crate::audit::{self, Actor, Change};
use crate::auth::{Authed, ClientAddress};
use crate::auth_policy::MFA_REQUIRED_SETTING;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::hub::close_code;
use crate::mfa;
use crate::oidc::{self, SsoError};
use crate::state::AppState;

/// This module's routes, relative to `/api/v1`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/me/security", get(security_status))
        .route("/me/mfa/totp", post(begin_totp))
        .route("/me/mfa/totp/confirm", post(confirm_totp))
        .route("/me/mfa/totp/disable", post(disable_totp))
        .route("/me/mfa/recovery-codes", post(regenerate_recovery_codes))
        .route("/me/sessions", delete(revoke_own_sessions))
        .route("/auth/mfa-policy", get(mfa_policy).put(set_mfa_policy))
        .route("/users/{id}/mfa", delete(reset_mfa))
        .route(
            "/users/{id}/sessions",
            get(user_sessions).delete(revoke_user_sessions),
        )
        .route(
            "/users/{id}/sessions/{session_id}",
            delete(revoke_user_session),
        )
        .route("/policy", get(current_policy).post(publish_policy))
        .route("/policy/accept", post(accept_policy))
        .route("/policy/acceptances", get(policy_acceptances))
        .route("/auth/sso/config", get(sso_config))
        .route("/auth/sso/start", get(sso_start))
        .route("/auth/sso/callback", get(sso_callback))
}

/// This module's part of the OpenAPI document, merged into the whole.
#[derive(OpenApi)]
#[openapi(
    paths(
        security_status,
        begin_totp,
        confirm_totp,
        disable_totp,
        regenerate_recovery_codes,
        revoke_own_sessions,
        mfa_policy,
        set_mfa_policy,
        reset_mfa,
        user_sessions,
        revoke_user_sessions,
        revoke_user_session,
        current_policy,
        publish_policy,
        accept_policy,
        policy_acceptances,
        sso_config,
        sso_start,
        sso_callback,
    ),
    components(schemas(
        SecurityStatusDto,
        TotpEnrolmentDto,
        CodeRequest,
        RecoveryCodesDto,
        MfaPolicyDto,
        SetMfaPolicyRequest,
        PolicyDto,
        PublishPolicyRequest,
        AcceptPolicyRequest,
        PolicyAcceptanceDto,
        SsoConfigDto,
    ))
)]
pub struct Doc;

// Transport types.

/// The caller's authentication state.
#[derive(Debug, Serialize, ToSchema)]
pub struct SecurityStatusDto {
    /// TOTP is active on the account.
    pub mfa_enabled: bool,
    /// An enrolment was started and awaits its confirming code.
    pub mfa_pending: bool,
    pub recovery_codes_left: i64,
    /// The organisation requires MFA.
    pub mfa_required: bool,
    /// Other endpoints answer `mfa_enrolment_required` until enrolment.
    pub mfa_enrolment_required: bool,
    /// Other endpoints answer `policy_acceptance_required` until acceptance.
    pub policy_acceptance_required: bool,
    /// The current acceptable-use policy version, if one is published.
    pub policy_version: Option<i64>,
    /// The largest file this server accepts (`limits.max_upload_bytes`), so
    /// a client can refuse an oversized file before uploading it.
    pub max_upload_bytes: u64,
}

/// A started TOTP enrolment: show `otpauth_uri` as a QR code, or `secret`
/// for typing in; then confirm with a code.
#[derive(Serialize, ToSchema)]
pub struct TotpEnrolmentDto {
    /// Base32, no padding.
    pub secret: String,
    pub otpauth_uri: String,
    pub algorithm: &'static str,
    pub digits: u32,
    pub period: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CodeRequest {
    /// A current TOTP code (or, where stated, a recovery code).
    pub code: String,
}

/// Recovery codes, shown once; each signs in once in place of a TOTP code.
#[derive(Serialize, ToSchema)]
pub struct RecoveryCodesDto {
    pub recovery_codes: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MfaPolicyDto {
    /// In force: by configuration or by the admins' switch.
    pub required: bool,
    /// `auth.mfa_required` in conclave.toml; the API cannot turn it off.
    pub required_by_config: bool,
    /// The admins' switch.
    pub required_by_admin: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SetMfaPolicyRequest {
    pub required: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PolicyDto {
    pub version: i64,
    pub text: String,
    pub published_at: i64,
    pub published_by: Option<i64>,
    /// When the caller accepted this version, if they have.
    pub accepted_at: Option<i64>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PublishPolicyRequest {
    pub text: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AcceptPolicyRequest {
    /// The version the user read; it must be the current one.
    pub version: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PolicyAcceptanceDto {
    pub user_id: i64,
    pub version: i64,
    pub accepted_at: i64,
    pub address: Option<String>,
}

impl From<&PolicyAcceptance> for PolicyAcceptanceDto {
    fn from(acceptance: &PolicyAcceptance) -> Self {
        PolicyAcceptanceDto {
            user_id: acceptance.user_id,
            version: acceptance.version,
            accepted_at: acceptance.accepted_at,
            address: acceptance.address.clone(),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct AcceptancesQuery {
    /// Only this version (default: every version).
    pub version: Option<i64>,
    pub limit: Option<i64>,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct RevokeOwnQuery {
    /// Also sign out the session making this request (default false).
    pub include_current: Option<bool>,
}

/// Whether and how the web client offers single sign-on.
#[derive(Debug, Serialize, ToSchema)]
pub struct SsoConfigDto {
    pub enabled: bool,
    pub button_label: String,
    /// Navigate the browser here to sign in.
    pub start_url: String,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct CallbackQuery {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    /// The issuer (RFC 9207), when the provider names itself.
    pub iss: Option<String>,
}

// Multi-factor authentication.

/// The caller's MFA and acceptable-use status.
#[utoipa::path(get, path = "/api/v1/me/security", tag = "identity", security(("bearer" = [])),
    responses((status = 200, body = SecurityStatusDto)))]
pub async fn security_status(
    State(state): State<AppState>,
    authed: Authed,
) -> ApiResult<Json<SecurityStatusDto>> {
    let enrolment = state.store.mfa_enrolment(authed.user.id).await?;
    let pending = state.auth.gate.requirements(&state, authed.user.id).await?;
    Ok(Json(SecurityStatusDto {
        mfa_enabled: enrolment.as_ref().is_some_and(MfaEnrolment::is_active),
        mfa_pending: enrolment
            .as_ref()
            .is_some_and(|enrolment| !enrolment.is_active()),
        recovery_codes_left: state.store.unused_recovery_codes(authed.user.id).await?,
        mfa_required: state.auth.gate.mfa_required(&state).await?,
        mfa_enrolment_required: pending.mfa_enrolment,
        policy_acceptance_required: pending.policy_acceptance,
        policy_version: state
            .store
            .current_policy()
            .await?
            .map(|policy| policy.version),
        max_upload_bytes: state.config.limits.max_upload_bytes,
    }))
}

/// Starts TOTP enrolment with a new secret (replacing an unconfirmed one).
#[utoipa::path(post, path = "/api/v1/me/mfa/totp", tag = "identity", security(("bearer" = [])),
    responses((status = 200, body = TotpEnrolmentDto), (status = 409, body = ErrorBody)))]
pub async fn begin_totp(
    State(state): State<AppState>,
    authed: Authed,
) -> ApiResult<Json<TotpEnrolmentDto>> {
    let secret = mfa::new_secret();
    state
        .store
        .begin_mfa_enrolment(authed.user.id, secret.clone(), crate::now_millis())
        .await
        .map_err(|error| match error {
            conclave_store::StoreError::Conflict(_) => ApiError::Conflict(
                "two-factor authentication is already enabled; disable it first".into(),
            ),
            other => other.into(),
        })?;
    Ok(Json(TotpEnrolmentDto {
        otpauth_uri: mfa::otpauth_uri(&state.config.auth.totp_issuer, &authed.user.email, &secret),
        secret: mfa::encode_secret(&secret),
        algorithm: "SHA1",
        digits: mfa::DIGITS,
        period: mfa::STEP_SECS,
    }))
}

/// Confirms the pending enrolment with a current code; answers the recovery
/// codes, once.
#[utoipa::path(post, path = "/api/v1/me/mfa/totp/confirm", tag = "identity", security(("bearer" = [])),
    request_body = CodeRequest,
    responses((status = 200, body = RecoveryCodesDto), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 423, body = ErrorBody)))]
pub async fn confirm_totp(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    authed: Authed,
    ApiJson(request): ApiJson<CodeRequest>,
) -> ApiResult<Json<RecoveryCodesDto>> {
    refuse_if_locked(&state, &authed.user).await?;
    let enrolment = state
        .store
        .mfa_enrolment(authed.user.id)
        .await?
        .filter(|enrolment| !enrolment.is_active())
        .ok_or(ApiError::NotFound("pending two-factor enrolment"))?;
    let now = crate::now_millis();
    let Some(step) = mfa::verify(&enrolment.secret, &request.code, now) else {
        super::auth::count_failed_sign_in(&state, &authed.user, address).await?;
        return Err(ApiError::InvalidTotp);
    };
    let codes = mfa::new_recovery_codes();
    let hashes = codes
        .iter()
        .map(|code| mfa::recovery_code_hash(code))
        .collect();
    if !state
        .store
        .confirm_mfa_enrolment(authed.user.id, step, hashes, now)
        .await?
    {
        return Err(ApiError::NotFound("pending two-factor enrolment"));
    }
    state.auth.gate.note_mfa_enrolled(authed.user.id);
    audit::record(
        &*state.store,
        &Actor::user(&authed.user, address),
        Change::new("mfa.enrol", "user", authed.user.id)
            .after(&serde_json::json!({"method": "totp"})),
    )
    .await?;
    Ok(Json(RecoveryCodesDto {
        recovery_codes: codes,
    }))
}

/// Turns MFA off, with a current code or a recovery code. Refused while the
/// organisation requires MFA.
#[utoipa::path(post, path = "/api/v1/me/mfa/totp/disable", tag = "identity", security(("bearer" = [])),
    request_body = CodeRequest,
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn disable_totp(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    authed: Authed,
    ApiJson(request): ApiJson<CodeRequest>,
) -> ApiResult<StatusCode> {
    if state.auth.gate.mfa_required(&state).await? {
        return Err(ApiError::forbidden(
            "your organisation requires two-factor authentication",
        ));
    }
    let enrolment = active_enrolment(&state, &authed.user).await?;
    verify_code_or_count(
        &state,
        &authed.user,
        &enrolment,
        &request.code,
        address.clone(),
    )
    .await?;
    state.store.remove_mfa(authed.user.id).await?;
    state.auth.gate.forget_mfa(authed.user.id);
    audit::record(
        &*state.store,
        &Actor::user(&authed.user, address),
        Change::new("mfa.disable", "user", authed.user.id)
            .before(&serde_json::json!({"mfa_enabled": true}))
            .after(&serde_json::json!({"mfa_enabled": false})),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Replaces the recovery codes (after a current code or a recovery code).
#[utoipa::path(post, path = "/api/v1/me/mfa/recovery-codes", tag = "identity", security(("bearer" = [])),
    request_body = CodeRequest,
    responses((status = 200, body = RecoveryCodesDto), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn regenerate_recovery_codes(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    authed: Authed,
    ApiJson(request): ApiJson<CodeRequest>,
) -> ApiResult<Json<RecoveryCodesDto>> {
    let enrolment = active_enrolment(&state, &authed.user).await?;
    verify_code_or_count(
        &state,
        &authed.user,
        &enrolment,
        &request.code,
        address.clone(),
    )
    .await?;
    let codes = mfa::new_recovery_codes();
    let hashes = codes
        .iter()
        .map(|code| mfa::recovery_code_hash(code))
        .collect();
    state
        .store
        .replace_recovery_codes(authed.user.id, hashes, crate::now_millis())
        .await?;
    audit::record(
        &*state.store,
        &Actor::user(&authed.user, address),
        Change::new("mfa.recovery_codes_replaced", "user", authed.user.id),
    )
    .await?;
    Ok(Json(RecoveryCodesDto {
        recovery_codes: codes,
    }))
}

/// The organisation's "MFA required" policy (admins).
#[utoipa::path(get, path = "/api/v1/auth/mfa-policy", tag = "identity", security(("bearer" = [])),
    responses((status = 200, body = MfaPolicyDto), (status = 403, body = ErrorBody)))]
pub async fn mfa_policy(
    State(state): State<AppState>,
    authed: Authed,
) -> ApiResult<Json<MfaPolicyDto>> {
    require_admin(&authed.user)?;
    Ok(Json(mfa_policy_now(&state).await?))
}

/// Switches "MFA required" on or off (admins). Users without MFA are then
/// restricted to enrolment at their next request.
#[utoipa::path(put, path = "/api/v1/auth/mfa-policy", tag = "identity", security(("bearer" = [])),
    request_body = SetMfaPolicyRequest,
    responses((status = 200, body = MfaPolicyDto), (status = 403, body = ErrorBody)))]
pub async fn set_mfa_policy(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    authed: Authed,
    ApiJson(request): ApiJson<SetMfaPolicyRequest>,
) -> ApiResult<Json<MfaPolicyDto>> {
    require_admin(&authed.user)?;
    let before = mfa_policy_now(&state).await?;
    let value = if request.required { "true" } else { "false" };
    state
        .store
        .set_auth_setting(MFA_REQUIRED_SETTING, value, crate::now_millis())
        .await?;
    state.auth.gate.refresh();
    let after = mfa_policy_now(&state).await?;
    audit::record(
        &*state.store,
        &Actor::user(&authed.user, address),
        Change::new("auth.mfa_policy", "setting", MFA_REQUIRED_SETTING)
            .before(&serde_json::json!({"required_by_admin": before.required_by_admin}))
            .after(&serde_json::json!({"required_by_admin": after.required_by_admin})),
    )
    .await?;
    Ok(Json(after))
}

/// Removes a user's MFA, for a lost device (admins). Their sessions are
/// signed out; they sign in with their password and enrol again.
#[utoipa::path(delete, path = "/api/v1/users/{id}/mfa", tag = "identity", security(("bearer" = [])),
    params(("id" = i64, Path)), responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn reset_mfa(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    authed: Authed,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    require_admin(&authed.user)?;
    let target = managed_user(&state, &authed.user, id).await?;
    reset_user_mfa(&state, &target, &Actor::user(&authed.user, address)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes `target`'s MFA, signs them out everywhere and audits it; shared
/// by the API and the command line. `NotFound` when they had none.
pub async fn reset_user_mfa(state: &AppState, target: &User, actor: &Actor) -> ApiResult<()> {
    if !state.store.remove_mfa(target.id).await? {
        return Err(ApiError::NotFound("two-factor enrolment"));
    }
    state.auth.gate.forget_mfa(target.id);
    let revoked = revoke_all(state, target.id, None).await?;
    audit::record(
        &*state.store,
        actor,
        Change::new("mfa.reset", "user", target.id)
            .before(&serde_json::json!({"mfa_enabled": true}))
            .after(&serde_json::json!({"mfa_enabled": false, "sessions_revoked": revoked})),
    )
    .await
}

// Sessions.

/// Signs out every other session of the caller (and this one too with
/// `include_current=true`), closing their sockets.
#[utoipa::path(delete, path = "/api/v1/me/sessions", tag = "identity", security(("bearer" = [])),
    params(RevokeOwnQuery), responses((status = 204)))]
pub async fn revoke_own_sessions(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    authed: Authed,
    ApiQuery(query): ApiQuery<RevokeOwnQuery>,
) -> ApiResult<StatusCode> {
    let keep = if query.include_current.unwrap_or(false) {
        None
    } else {
        Some(authed.session.id)
    };
    let revoked = revoke_all(&state, authed.user.id, keep).await?;
    audit::record(
        &*state.store,
        &Actor::user(&authed.user, address),
        Change::new("session.revoke_all", "user", authed.user.id)
            .after(&serde_json::json!({"sessions_revoked": revoked})),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A user's live sessions (admins; owners' sessions only for owners).
#[utoipa::path(get, path = "/api/v1/users/{id}/sessions", tag = "identity", security(("bearer" = [])),
    params(("id" = i64, Path)), responses((status = 200, body = [SessionDto]), (status = 403, body = ErrorBody)))]
pub async fn user_sessions(
    State(state): State<AppState>,
    authed: Authed,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Vec<SessionDto>>> {
    require_admin(&authed.user)?;
    let target = managed_user(&state, &authed.user, id).await?;
    let sessions = state
        .store
        .list_sessions(target.id, crate::now_millis())
        .await?;
    Ok(Json(
        sessions
            .iter()
            .map(|session| SessionDto::new(session, session.id == authed.session.id))
            .collect(),
    ))
}

/// Signs a user out everywhere (admins), closing their sockets.
#[utoipa::path(delete, path = "/api/v1/users/{id}/sessions", tag = "identity", security(("bearer" = [])),
    params(("id" = i64, Path)), responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn revoke_user_sessions(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    authed: Authed,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    require_admin(&authed.user)?;
    let target = managed_user(&state, &authed.user, id).await?;
    let revoked = revoke_all(&state, target.id, None).await?;
    audit::record(
        &*state.store,
        &Actor::user(&authed.user, address),
        Change::new("session.revoke_all", "user", target.id)
            .after(&serde_json::json!({"sessions_revoked": revoked})),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Signs out one session of a user (admins), closing its sockets.
#[utoipa::path(delete, path = "/api/v1/users/{id}/sessions/{session_id}", tag = "identity", security(("bearer" = [])),
    params(("id" = i64, Path), ("session_id" = i64, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn revoke_user_session(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    authed: Authed,
    ApiPath((id, session_id)): ApiPath<(i64, i64)>,
) -> ApiResult<StatusCode> {
    require_admin(&authed.user)?;
    let target = managed_user(&state, &authed.user, id).await?;
    let sessions = state
        .store
        .list_sessions(target.id, crate::now_millis())
        .await?;
    if !sessions.iter().any(|session| session.id == session_id) {
        return Err(ApiError::NotFound("session"));
    }
    state
        .store
        .revoke_session(session_id, crate::now_millis())
        .await?;
    state.hub.close_session(session_id, close_code::REVOKED);
    audit::record(
        &*state.store,
        &Actor::user(&authed.user, address),
        Change::new("session.revoke", "session", session_id)
            .after(&serde_json::json!({"user_id": target.id})),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Revokes every live session of `user_id` except `keep`, closing their
/// sockets; answers how many.
pub async fn revoke_all(state: &AppState, user_id: i64, keep: Option<i64>) -> ApiResult<usize> {
    let now = crate::now_millis();
    let sessions: Vec<Session> = state
        .store
        .list_sessions(user_id, now)
        .await?
        .into_iter()
        .filter(|session| Some(session.id) != keep)
        .collect();
    for session in &sessions {
        state.store.revoke_session(session.id, now).await?;
        state.hub.close_session(session.id, close_code::REVOKED);
    }
    Ok(sessions.len())
}

// The acceptable-use policy.

/// The current acceptable-use policy, and whether the caller accepted it.
#[utoipa::path(get, path = "/api/v1/policy", tag = "identity", security(("bearer" = [])),
    responses((status = 200, body = PolicyDto), (status = 404, body = ErrorBody)))]
pub async fn current_policy(
    State(state): State<AppState>,
    authed: Authed,
) -> ApiResult<Json<PolicyDto>> {
    let policy = state
        .store
        .current_policy()
        .await?
        .ok_or(ApiError::NotFound("acceptable-use policy"))?;
    let accepted = state
        .store
        .policy_acceptance(authed.user.id, policy.version)
        .await?;
    Ok(Json(PolicyDto {
        version: policy.version,
        text: policy.text,
        published_at: policy.published_at,
        published_by: policy.published_by,
        accepted_at: accepted.map(|acceptance| acceptance.accepted_at),
    }))
}

/// Publishes a new version of the acceptable-use policy (admins); everyone
/// must accept it before their next request.
#[utoipa::path(post, path = "/api/v1/policy", tag = "identity", security(("bearer" = [])),
    request_body = PublishPolicyRequest,
    responses((status = 201, body = PolicyDto), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn publish_policy(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    authed: Authed,
    ApiJson(request): ApiJson<PublishPolicyRequest>,
) -> ApiResult<(StatusCode, Json<PolicyDto>)> {
    require_admin(&authed.user)?;
    let policy = publish_policy_text(
        &state,
        request.text,
        &Actor::user(&authed.user, address),
        Some(authed.user.id),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(PolicyDto {
            version: policy.version,
            text: policy.text,
            published_at: policy.published_at,
            published_by: policy.published_by,
            accepted_at: None,
        }),
    ))
}

/// Validates, publishes and audits a policy text; shared by the API and
/// the command line.
pub async fn publish_policy_text(
    state: &AppState,
    text: String,
    actor: &Actor,
    published_by: Option<i64>,
) -> ApiResult<conclave_domain::auth::AcceptableUsePolicy> {
    conclave_domain::auth::policy_text(&text)?;
    let policy = state
        .store
        .publish_policy(text, published_by, crate::now_millis())
        .await?;
    state.auth.gate.refresh();
    audit::record(
        &*state.store,
        actor,
        Change::new("policy.publish", "policy", policy.version).after(&serde_json::json!({
            "version": policy.version,
            "bytes": policy.text.len(),
            "sha256": oidc::digest(&policy.text),
        })),
    )
    .await?;
    Ok(policy)
}

/// Accepts the current acceptable-use policy; the time and address are
/// recorded.
#[utoipa::path(post, path = "/api/v1/policy/accept", tag = "identity", security(("bearer" = [])),
    request_body = AcceptPolicyRequest,
    responses((status = 200, body = PolicyAcceptanceDto), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn accept_policy(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    authed: Authed,
    ApiJson(request): ApiJson<AcceptPolicyRequest>,
) -> ApiResult<Json<PolicyAcceptanceDto>> {
    let policy = state
        .store
        .current_policy()
        .await?
        .ok_or(ApiError::NotFound("acceptable-use policy"))?;
    if request.version != policy.version {
        return Err(ApiError::Conflict(format!(
            "version {} is not the current policy; read version {} and accept that",
            request.version, policy.version
        )));
    }
    let acceptance = state
        .store
        .accept_policy(PolicyAcceptance {
            user_id: authed.user.id,
            version: policy.version,
            accepted_at: crate::now_millis(),
            address: address.clone(),
        })
        .await?;
    state
        .auth
        .gate
        .note_accepted(authed.user.id, policy.version);
    audit::record(
        &*state.store,
        &Actor::user(&authed.user, address),
        Change::new("policy.accept", "policy", policy.version)
            .after(&serde_json::json!({"version": policy.version})),
    )
    .await?;
    Ok(Json(PolicyAcceptanceDto::from(&acceptance)))
}

/// Who accepted which version, when and from where, newest first (admins
/// and compliance officers).
#[utoipa::path(get, path = "/api/v1/policy/acceptances", tag = "identity", security(("bearer" = [])),
    params(AcceptancesQuery), responses((status = 200, body = [PolicyAcceptanceDto]), (status = 403, body = ErrorBody)))]
pub async fn policy_acceptances(
    State(state): State<AppState>,
    authed: Authed,
    ApiQuery(query): ApiQuery<AcceptancesQuery>,
) -> ApiResult<Json<Vec<PolicyAcceptanceDto>>> {
    if !(authed.user.role.is_admin() || authed.user.role == Role::Compliance) {
        return Err(ApiError::forbidden(
            "only admins and compliance officers see acceptances",
        ));
    }
    let limit = query.limit.unwrap_or(1_000).clamp(1, 10_000);
    let acceptances = state.store.policy_acceptances(query.version, limit).await?;
    Ok(Json(
        acceptances.iter().map(PolicyAcceptanceDto::from).collect(),
    ))
}

// Single sign-on.

/// The cookie that ties a callback to the browser that started the sign-in.
const SSO_COOKIE: &str = "conclave_sso";
const SSO_COOKIE_PATH: &str = "/api/v1/auth/sso";

/// Whether the web client should offer single sign-on, and its label.
#[utoipa::path(get, path = "/api/v1/auth/sso/config", tag = "identity", responses((status = 200, body = SsoConfigDto)))]
pub async fn sso_config(State(state): State<AppState>) -> Json<SsoConfigDto> {
    let config = &state.config.sso;
    Json(SsoConfigDto {
        enabled: config.enabled && !config.issuer.is_empty() && !config.client_id.is_empty(),
        button_label: config.button_label.clone(),
        start_url: "/api/v1/auth/sso/start".into(),
    })
}

/// Starts single sign-on: redirects the browser to the provider with
/// state, nonce and a PKCE challenge.
#[utoipa::path(get, path = "/api/v1/auth/sso/start", tag = "identity",
    responses((status = 302, description = "to the identity provider, or to the web client with #sso_error"),
              (status = 404, body = ErrorBody)))]
pub async fn sso_start(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Response> {
    let redirect_url = callback_url(&state, &headers)?;
    let started = match state.auth.sso.start(&state.config.sso, &redirect_url).await {
        Ok(started) => started,
        Err(SsoError::NotConfigured) => return Err(ApiError::NotFound("single sign-on")),
        // A browser navigated here: send it back to the web client with a
        // code it can explain, rather than a JSON page.
        Err(error) => {
            tracing::warn!(%error, "single sign-on could not start");
            let home = state
                .config
                .public_url
                .as_deref()
                .unwrap_or("")
                .trim_end_matches('/');
            return Ok(redirect(
                &format!("{home}/#sso_error={}", error.code()),
                None,
            ));
        }
    };
    let browser = oidc::random_token();
    let now = crate::now_millis();
    state
        .store
        .save_sso_attempt(SsoAttempt {
            state_hash: oidc::digest(&started.state),
            browser_hash: oidc::digest(&browser),
            nonce: started.nonce,
            verifier: started.verifier,
            created_at: now,
            expires_at: now + oidc::ATTEMPT_LIFETIME_MS,
        })
        .await?;
    let max_age = oidc::ATTEMPT_LIFETIME_MS / 1_000;
    let cookie = format!(
        "{SSO_COOKIE}={browser}; Path={SSO_COOKIE_PATH}; Max-Age={max_age}; HttpOnly; SameSite=Lax{}",
        secure_suffix(&state, &headers)
    );
    Ok(redirect(&started.authorization_url, Some(cookie)))
}

/// The provider's redirect back: exchanges the code, validates the ID
/// token, finds (or creates) the account and signs it in. Redirects the
/// browser to `/#sso_token=TOKEN`, or `/#sso_error=CODE` on failure.
#[utoipa::path(get, path = "/api/v1/auth/sso/callback", tag = "identity", params(CallbackQuery),
    responses((status = 302, description = "to the web client with #sso_token or #sso_error")))]
pub async fn sso_callback(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<CallbackQuery>,
) -> Response {
    let home = state
        .config
        .public_url
        .as_deref()
        .unwrap_or("")
        .trim_end_matches('/')
        .to_string();
    let clear_cookie = format!(
        "{SSO_COOKIE}=; Path={SSO_COOKIE_PATH}; Max-Age=0; HttpOnly; SameSite=Lax{}",
        secure_suffix(&state, &headers)
    );
    match complete_sso(&state, &headers, address.clone(), &query).await {
        Ok(token) => redirect(&format!("{home}/#sso_token={token}"), Some(clear_cookie)),
        Err(Failure::Sso(error)) => {
            tracing::info!(code = error.code(), %error, "single sign-on failed");
            let recorded = audit::record(
                &*state.store,
                &Actor::label("sso", address),
                Change::new("auth.sso_failed", "sso", error.code())
                    .after(&serde_json::json!({"reason": error.to_string()})),
            )
            .await;
            match recorded {
                Ok(()) => redirect(
                    &format!("{home}/#sso_error={}", error.code()),
                    Some(clear_cookie),
                ),
                Err(error) => error.into_response(),
            }
        }
        Err(Failure::Api(error)) => error.into_response(),
    }
}

enum Failure {
    /// A refused sign-in: reported to the browser and audited.
    Sso(SsoError),
    /// A fault of Conclave itself.
    Api(ApiError),
}

impl From<SsoError> for Failure {
    fn from(error: SsoError) -> Self {
        Failure::Sso(error)
    }
}

impl From<ApiError> for Failure {
    fn from(error: ApiError) -> Self {
        Failure::Api(error)
    }
}

impl From<conclave_store::StoreError> for Failure {
    fn from(error: conclave_store::StoreError) -> Self {
        Failure::Api(error.into())
    }
}

async fn complete_sso(
    state: &AppState,
    headers: &HeaderMap,
    address: Option<String>,
    query: &CallbackQuery,
) -> Result<String, Failure> {
    let config = &state.config.sso;
    if !config.enabled {
        return Err(SsoError::NotConfigured.into());
    }
    let now = crate::now_millis();
    // The attempt is consumed first, so a callback URL works at most once.
    let attempt = match &query.state {
        Some(value) if !value.is_empty() && value.len() <= 256 => {
            state
                .store
                .take_sso_attempt(&oidc::digest(value), now)
                .await?
        }
        _ => None,
    };
    let attempt = attempt.ok_or(SsoError::InvalidState)?;
    let browser = cookie(headers, SSO_COOKIE).map(oidc::digest);
    if browser.as_deref() != Some(attempt.browser_hash.as_str()) {
        return Err(SsoError::InvalidState.into());
    }
    if let Some(issuer) = &query.iss
        && issuer.trim_end_matches('/') != config.issuer.trim_end_matches('/')
    {
        return Err(
            SsoError::ProviderRefused("the response names another issuer (mix-up)".into()).into(),
        );
    }
    if let Some(error) = &query.error {
        return Err(SsoError::ProviderRefused(error.chars().take(100).collect()).into());
    }
    let code = query
        .code
        .as_deref()
        .filter(|code| !code.is_empty())
        .ok_or(SsoError::CodeRefused("no code".into()))?;
    let redirect_url = callback_url(state, headers)?;
    let identity = state
        .auth
        .sso
        .finish(
            config,
            &redirect_url,
            code,
            &attempt.verifier,
            &attempt.nonce,
            now / 1_000,
        )
        .await?;

    let user = match state.store.user_by_email(&identity.email).await? {
        Some(user) => user,
        None if config.jit_provisioning => provision(state, &identity, address.clone()).await?,
        None => return Err(SsoError::UnknownUser.into()),
    };
    if !user.active {
        audit::record(
            &*state.store,
            &Actor::user(&user, address.clone()),
            Change::new("auth.sign_in_refused", "user", user.id)
                .after(&serde_json::json!({"method": "sso"})),
        )
        .await?;
        return Err(SsoError::AccountDeactivated.into());
    }
    apply_group_mapping(state, user.id, &identity.groups).await?;
    let token = super::auth::open_session(state, &user, address.clone(), headers).await?;
    audit::record(
        &*state.store,
        &Actor::user(&user, address),
        Change::new("auth.sso_sign_in", "user", user.id).after(&serde_json::json!({
            "issuer": config.issuer,
            "subject": identity.subject,
            "groups": identity.groups,
        })),
    )
    .await?;
    tracing::info!(user_id = user.id, "signed in with single sign-on");
    Ok(token)
}

/// Creates the account of a person the provider vouched for (just-in-time
/// provisioning).
async fn provision(
    state: &AppState,
    identity: &oidc::Identity,
    address: Option<String>,
) -> Result<User, Failure> {
    let config = &state.config.sso;
    let role = Role::parse(&config.jit_role).unwrap_or(Role::Member);
    let name = identity.name.clone().unwrap_or_else(|| {
        identity
            .email
            .split('@')
            .next()
            .unwrap_or("New user")
            .to_string()
    });
    let user =
        super::users::create_user_in(&*state.store, &identity.email, &name, role, None).await?;
    audit::record(
        &*state.store,
        &Actor::label("sso", address),
        Change::new("user.create", "user", user.id).after(&serde_json::json!({
            "email": user.email,
            "name": user.name,
            "role": user.role.as_str(),
            "provisioned_by": "sso",
        })),
    )
    .await?;
    Ok(user)
}

/// Puts the user into the departments and teams their provider groups map
/// to (`sso.group_departments`, `sso.group_teams`), and out of the mapped
/// ones they no longer belong to; units nobody mapped are left alone. The
/// units' auto-membership rules follow as the identity provider's: into a
/// private channel only while the rule's maker is still a member of it.
async fn apply_group_mapping(state: &AppState, user_id: i64, groups: &[String]) -> ApiResult<()> {
    use conclave_domain::directory::OrgUnitKind;
    let config = &state.config.sso;
    let mut wanted: std::collections::BTreeMap<(&'static str, String), (OrgUnitKind, &str, bool)> =
        Default::default();
    for (mapping, kind) in [
        (&config.group_departments, OrgUnitKind::Department),
        (&config.group_teams, OrgUnitKind::Team),
    ] {
        for (group, unit) in mapping {
            let entry = wanted
                .entry((kind.as_str(), unit.trim().to_lowercase()))
                .or_insert((kind, unit.as_str(), false));
            entry.2 |= groups.contains(group);
        }
    }
    use crate::scim::directory::{self, UnitGranter};
    for (kind, name, member) in wanted.into_values() {
        if member {
            let unit = directory::find_or_create_unit(state, kind, name).await?;
            directory::set_unit_member(
                state,
                unit.id,
                user_id,
                true,
                &UnitGranter::IdentityProvider,
            )
            .await?;
        } else if let Some(unit) = state.store.org_unit_by_name(kind, name).await? {
            directory::set_unit_member(
                state,
                unit.id,
                user_id,
                false,
                &UnitGranter::IdentityProvider,
            )
            .await?;
        }
    }
    Ok(())
}

/// The callback URL sent to the provider: configured, or derived from
/// `public_url`, or from the request's host.
fn callback_url(state: &AppState, headers: &HeaderMap) -> ApiResult<String> {
    const PATH: &str = "/api/v1/auth/sso/callback";
    if !state.config.sso.redirect_url.is_empty() {
        return Ok(state.config.sso.redirect_url.clone());
    }
    if let Some(public) = &state.config.public_url {
        return Ok(format!("{}{PATH}", public.trim_end_matches('/')));
    }
    let host = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .filter(|host| {
            !host.is_empty()
                && host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
        })
        .ok_or_else(|| ApiError::InvalidRequest("set sso.redirect_url or public_url".into()))?;
    Ok(format!("http://{host}{PATH}"))
}

fn secure_suffix(state: &AppState, headers: &HeaderMap) -> &'static str {
    let https = oidc::cookie_must_be_secure(
        state.config.public_url.as_deref(),
        &state.config.sso.redirect_url,
        headers,
    );
    if https { "; Secure" } else { "" }
}

fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

fn redirect(location: &str, cookie: Option<String>) -> Response {
    let mut response = StatusCode::FOUND.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    if let Some(value) = cookie.and_then(|cookie| HeaderValue::from_str(&cookie).ok()) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response.headers_mut().insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

// Shared checks.

/// Checks a second factor at sign-in or for an MFA change: a TOTP code
/// (each time step once) or an unused recovery code (consumed).
pub async fn check_second_factor(
    state: &AppState,
    user: &User,
    enrolment: &MfaEnrolment,
    code: &str,
    address: Option<String>,
) -> ApiResult<bool> {
    let now = crate::now_millis();
    if mfa::looks_like_totp(code) {
        return match mfa::verify(&enrolment.secret, code, now) {
            Some(step) => Ok(state.store.use_totp_step(user.id, step).await?),
            None => Ok(false),
        };
    }
    if code.len() > 64
        || !state
            .store
            .use_recovery_code(user.id, &mfa::recovery_code_hash(code), now)
            .await?
    {
        return Ok(false);
    }
    let remaining = state.store.unused_recovery_codes(user.id).await?;
    audit::record(
        &*state.store,
        &Actor::user(user, address),
        Change::new("mfa.recovery_code_used", "user", user.id)
            .after(&serde_json::json!({"remaining": remaining})),
    )
    .await?;
    Ok(true)
}

async fn verify_code_or_count(
    state: &AppState,
    user: &User,
    enrolment: &MfaEnrolment,
    code: &str,
    address: Option<String>,
) -> ApiResult<()> {
    refuse_if_locked(state, user).await?;
    if check_second_factor(state, user, enrolment, code, address.clone()).await? {
        return Ok(());
    }
    super::auth::count_failed_sign_in(state, user, address).await?;
    Err(ApiError::InvalidTotp)
}

/// Wrong codes count towards the sign-in lockout, so a stolen session
/// cannot guess its way to changing MFA either.
async fn refuse_if_locked(state: &AppState, user: &User) -> ApiResult<()> {
    let now = crate::now_millis();
    match state.store.login_throttle(user.id).await?.locked_until {
        Some(until) if until > now => Err(super::auth::locked_error(until, now)),
        _ => Ok(()),
    }
}

async fn active_enrolment(state: &AppState, user: &User) -> ApiResult<MfaEnrolment> {
    state
        .store
        .mfa_enrolment(user.id)
        .await?
        .filter(MfaEnrolment::is_active)
        .ok_or(ApiError::NotFound("two-factor enrolment"))
}

async fn mfa_policy_now(state: &AppState) -> ApiResult<MfaPolicyDto> {
    let required_by_admin = state
        .store
        .auth_setting(MFA_REQUIRED_SETTING)
        .await?
        .as_deref()
        == Some("true");
    let required_by_config = state.config.auth.mfa_required;
    Ok(MfaPolicyDto {
        required: required_by_config || required_by_admin,
        required_by_config,
        required_by_admin,
    })
}

fn require_admin(user: &User) -> ApiResult<()> {
    if permissions::can_manage_users(user) {
        Ok(())
    } else {
        Err(ApiError::forbidden("only admins may do this"))
    }
}

/// A user an admin may act on: owners only by owners.
async fn managed_user(state: &AppState, actor: &User, id: i64) -> ApiResult<User> {
    let target = state
        .store
        .user_by_id(id)
        .await?
        .ok_or(ApiError::NotFound("user"))?;
    if !conclave_domain::permissions::can_manage_sessions_of(actor, &target) {
        return Err(ApiError::forbidden("only owners act on owners"));
    }
    Ok(target)
}
