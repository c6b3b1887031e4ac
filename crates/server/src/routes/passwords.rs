//! Passwords over HTTP: changing one's own (`POST /me/password`), an
//! administrator issuing a one-time reset code
//! (`POST /admin/users/{id}/password-reset`), and redeeming one from the
//! sign-in page (`POST /auth/password-reset`). The rules live in
//! [`crate::accounts`]; these handlers translate and close sockets.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use conclave_domain::SessionId;
use conclave_domain::account;
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

use super::{ApiJson, ApiPath};
use crate::api::UserDto;
use crate::audit::Actor;
use crate::auth::{Authed, ClientAddress};
use crate::error::{ApiError, ApiResult};
use crate::hub::close_code;
use crate::state::AppState;

/// This module's routes, relative to `/api/v1`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/me/password", post(change_password))
        .route("/admin/users/{id}/password-reset", post(issue_reset))
        .route("/auth/password-reset", post(redeem_reset))
}

/// This module's part of the OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    paths(change_password, issue_reset, redeem_reset),
    components(schemas(
        ChangePasswordRequest,
        ChangePasswordResponse,
        PasswordResetDto,
        RedeemResetRequest,
        RedeemResetResponse
    ))
)]
pub struct Doc;

#[derive(Deserialize, ToSchema)]
pub struct ChangePasswordRequest {
    pub current_password: String,
    pub new_password: String,
    /// Also sign out every other session (other browsers and devices).
    #[serde(default)]
    pub sign_out_others: bool,
}

impl std::fmt::Debug for ChangePasswordRequest {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("ChangePasswordRequest")
            .field("sign_out_others", &self.sign_out_others)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChangePasswordResponse {
    /// How many other sessions were signed out.
    pub sessions_signed_out: usize,
}

/// A reset code as its issuer sees it, once.
#[derive(Serialize, ToSchema)]
pub struct PasswordResetDto {
    pub user_id: i64,
    /// The one-time code, e.g. `K7QM-2XRT-PW9A-HZ3C`; shown only here.
    pub code: String,
    /// The page that redeems it: a full link when `public_url` is
    /// configured, else a path on this server.
    pub link: String,
    /// When the code stops working, milliseconds since the epoch.
    pub expires_at: i64,
    /// The person's sessions signed out by the reset.
    pub sessions_signed_out: usize,
}

#[derive(Deserialize, ToSchema)]
pub struct RedeemResetRequest {
    pub code: String,
    pub new_password: String,
}

impl std::fmt::Debug for RedeemResetRequest {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("RedeemResetRequest")
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RedeemResetResponse {
    /// Whose password was set: sign in as them with the new password.
    pub user: UserDto,
}

fn close_sessions(state: &AppState, sessions: &[SessionId]) {
    for session in sessions {
        state.hub.close_session(*session, close_code::REVOKED);
    }
}

/// Changes the caller's password; the current one is required. With
/// `sign_out_others`, every other session and its sockets end at once.
#[utoipa::path(post, path = "/api/v1/me/password", tag = "auth", security(("bearer" = [])),
    request_body = ChangePasswordRequest,
    responses((status = 200, body = ChangePasswordResponse),
              (status = 400, body = crate::error::ErrorBody, description = "the new password breaks the policy"),
              (status = 403, body = crate::error::ErrorBody, description = "`wrong_password`"),
              (status = 429, body = crate::error::ErrorBody)))]
pub async fn change_password(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    authed: Authed,
    ApiJson(request): ApiJson<ChangePasswordRequest>,
) -> ApiResult<Json<ChangePasswordResponse>> {
    // Guessing the current password from a stolen session is throttled
    // like sign-in.
    state
        .limits
        .check_login(address.as_deref().unwrap_or("unknown"), &authed.user.email)?;
    if request.current_password.len() > conclave_domain::validate::MAX_PASSWORD_BYTES {
        return Err(ApiError::WrongPassword);
    }
    let revoked = crate::accounts::change_password(
        &*state.store,
        &authed.user,
        authed.session.id,
        &request.current_password,
        &request.new_password,
        request.sign_out_others,
        address,
    )
    .await?;
    close_sessions(&state, &revoked);
    Ok(Json(ChangePasswordResponse {
        sessions_signed_out: revoked.len(),
    }))
}

/// Issues a one-time reset code for a person (admins for non-admins,
/// owners for anyone; never for oneself). Valid for 24 hours and once;
/// earlier codes stop working; the person is signed out everywhere at once.
/// The administrator passes the code or link on; the person chooses the new
/// password themselves.
#[utoipa::path(post, path = "/api/v1/admin/users/{id}/password-reset", tag = "admin", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 201, body = PasswordResetDto),
              (status = 403, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody),
              (status = 409, body = crate::error::ErrorBody, description = "deactivated (`conflict`) or erased (`account_erased`)")))]
pub async fn issue_reset(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    authed: Authed,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<(StatusCode, Json<PasswordResetDto>)> {
    if !authed.user.role.is_admin() {
        return Err(ApiError::forbidden("only administrators reset passwords"));
    }
    let target = state
        .store
        .user_by_id(id)
        .await?
        .ok_or(ApiError::NotFound("user"))?;
    if !account::can_reset_password(&authed.user, &target) {
        return Err(ApiError::forbidden(if target.id == authed.user.id {
            "change your own password with your current one instead"
        } else {
            "only owners reset the passwords of owners and admins"
        }));
    }
    let issued = crate::accounts::issue_password_reset(
        &*state.store,
        &target,
        Some(&authed.user),
        &Actor::user(&authed.user, address),
        state.config.public_url.as_deref(),
    )
    .await?;
    state.hub.close_user(target.id, close_code::REVOKED);
    Ok((
        StatusCode::CREATED,
        Json(PasswordResetDto {
            user_id: target.id,
            code: issued.code,
            link: issued.link,
            expires_at: issued.reset.expires_at,
            sessions_signed_out: issued.revoked_sessions.len(),
        }),
    ))
}

/// Sets a new password with a reset code from an administrator; no session
/// needed. The code works once; every session of the person ends.
#[utoipa::path(post, path = "/api/v1/auth/password-reset", tag = "auth",
    request_body = RedeemResetRequest,
    responses((status = 200, body = RedeemResetResponse),
              (status = 400, body = crate::error::ErrorBody, description = "`invalid_reset_code`, or the password breaks the policy"),
              (status = 429, body = crate::error::ErrorBody)))]
pub async fn redeem_reset(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    ApiJson(request): ApiJson<RedeemResetRequest>,
) -> ApiResult<Json<RedeemResetResponse>> {
    // Codes are long enough not to be guessed, and guessing is throttled
    // per address all the same.
    state
        .limits
        .check_login(address.as_deref().unwrap_or("unknown"), "password-reset")?;
    if request.code.len() > 64 {
        return Err(ApiError::InvalidResetCode);
    }
    let (user, revoked) = crate::accounts::redeem_password_reset(
        &*state.store,
        &request.code,
        &request.new_password,
        address,
    )
    .await?;
    close_sessions(&state, &revoked);
    state.hub.close_user(user.id, close_code::REVOKED);
    Ok(Json(RedeemResetResponse {
        user: UserDto::from(&user),
    }))
}
