//! The one table that maps every failure to an HTTP status and a stable
//! JSON `code`. Handlers return [`ApiError`]; nothing else writes errors.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use conclave_domain::ValidationError;
use conclave_store::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    InvalidRequest(String),
    #[error("{0}")]
    Validation(#[from] ValidationError),
    #[error("sign in first: the token is missing, unknown, expired or revoked")]
    Unauthenticated,
    #[error("wrong email or password")]
    InvalidCredentials,
    #[error("{0}")]
    Forbidden(String),
    #[error("this account is deactivated")]
    AccountDeactivated,
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("too many requests; retry in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    #[error("{0}")]
    Unavailable(String),
    /// The disk or the database is full; what the client sent was not
    /// saved. The detail is for the log only.
    #[error("the server's storage is full: nothing was saved; try again later")]
    StorageFull(String),
    #[error("internal error")]
    Internal(String),
    #[error("this account has two-factor authentication: send the current code as `totp`")]
    MfaRequired,
    #[error("the two-factor code is wrong, expired or already used")]
    InvalidTotp,
    #[error("too many failed sign-ins: this account is locked; retry in {retry_after_secs} s")]
    AccountLocked { retry_after_secs: u64 },
    #[error("set up two-factor authentication first (POST /api/v1/me/mfa/totp)")]
    MfaEnrolmentRequired,
    #[error("accept the acceptable-use policy first (GET /api/v1/policy)")]
    PolicyAcceptanceRequired,
    #[error("{0}")]
    WhatsAppWindowClosed(String),
    #[error("the request is not signed with the configured secret")]
    InvalidSignature,
    /// An incoming webhook token that is unknown or revoked; which of the
    /// two is not said.
    #[error("no active webhook has this token")]
    InvalidWebhookToken,
    #[error("the payload has no text: send `text`, `attachments` or `blocks`")]
    NoText,
    #[error("{0}")]
    InvalidPayload(String),
    #[error("this path does not accept the {0} method")]
    MethodNotAllowed(String),
    #[error("{0}")]
    TooManySockets(String),
    #[error("the current password is wrong")]
    WrongPassword,
    #[error(
        "this reset code is wrong, already used or expired; ask an administrator for a new one"
    )]
    InvalidResetCode,
    #[error("this account was erased: it cannot be reactivated or given a password")]
    AccountErased,
    /// A token whose session ended because its account was deactivated:
    /// 401 like any dead token, with the code saying why.
    #[error("this account was deactivated: its sessions ended")]
    SignedOutByDeactivation,
}

/// The JSON body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// A stable snake_case identifier to branch on.
    pub code: &'static str,
    /// A sentence for people.
    pub message: String,
}

impl ApiError {
    /// The table: each variant's status and code, chosen deliberately.
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::InvalidRequest(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
            ApiError::Validation(_) => (StatusCode::BAD_REQUEST, "validation_failed"),
            ApiError::Unauthenticated => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            ApiError::InvalidCredentials => (StatusCode::UNAUTHORIZED, "invalid_credentials"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::AccountDeactivated => (StatusCode::FORBIDDEN, "account_deactivated"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            ApiError::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            ApiError::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::StorageFull(_) => (StatusCode::INSUFFICIENT_STORAGE, "storage_full"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            ApiError::MfaRequired => (StatusCode::UNAUTHORIZED, "mfa_required"),
            ApiError::InvalidTotp => (StatusCode::UNAUTHORIZED, "invalid_totp"),
            // 423 Locked: the account, not the caller's request rate, is the
            // reason; Retry-After says when the lock ends.
            ApiError::AccountLocked { .. } => (StatusCode::LOCKED, "account_locked"),
            ApiError::MfaEnrolmentRequired => (StatusCode::FORBIDDEN, "mfa_enrolment_required"),
            ApiError::PolicyAcceptanceRequired => {
                (StatusCode::FORBIDDEN, "policy_acceptance_required")
            }
            ApiError::WhatsAppWindowClosed(_) => (StatusCode::CONFLICT, "whatsapp_window_closed"),
            ApiError::InvalidSignature => (StatusCode::UNAUTHORIZED, "invalid_signature"),
            ApiError::InvalidWebhookToken => (StatusCode::NOT_FOUND, "invalid_token"),
            ApiError::NoText => (StatusCode::BAD_REQUEST, "no_text"),
            ApiError::InvalidPayload(_) => (StatusCode::BAD_REQUEST, "invalid_payload"),
            ApiError::MethodNotAllowed(_) => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            ApiError::TooManySockets(_) => (StatusCode::TOO_MANY_REQUESTS, "too_many_sockets"),
            // 403, not 401: the session is fine, and clients sign out on 401.
            ApiError::WrongPassword => (StatusCode::FORBIDDEN, "wrong_password"),
            ApiError::InvalidResetCode => (StatusCode::BAD_REQUEST, "invalid_reset_code"),
            ApiError::AccountErased => (StatusCode::CONFLICT, "account_erased"),
            ApiError::SignedOutByDeactivation => (StatusCode::UNAUTHORIZED, "account_deactivated"),
        }
    }

    /// A failed file operation: `StorageFull` when the disk is full,
    /// else an internal error naming what was being done (for the log).
    pub fn from_io(doing: &str, error: std::io::Error) -> ApiError {
        if crate::blobs::is_storage_full(&error) {
            ApiError::StorageFull(format!("{doing}: {error}"))
        } else {
            ApiError::Internal(format!("{doing}: {error}"))
        }
    }

    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::Forbidden(message.into())
    }

    pub fn body(&self) -> ErrorBody {
        let (_, code) = self.status_and_code();
        ErrorBody {
            code,
            message: self.to_string(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound(what) => ApiError::NotFound(what),
            StoreError::Conflict(message) => ApiError::Conflict(message),
            StoreError::Invalid(message) => ApiError::InvalidRequest(message),
            StoreError::Unavailable(message) => ApiError::Unavailable(message),
            StoreError::StorageFull(message) => ApiError::StorageFull(message),
            StoreError::Backend(message) => ApiError::Internal(message),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if status.is_server_error() {
            tracing::error!(code, error = ?self, "request failed");
        } else {
            tracing::debug!(code, error = %self, "request refused");
        }
        let retry_after = match &self {
            ApiError::RateLimited { retry_after_secs }
            | ApiError::AccountLocked { retry_after_secs } => Some(*retry_after_secs),
            _ => None,
        };
        let mut response = (status, axum::Json(self.body())).into_response();
        if let Some(value) =
            retry_after.and_then(|seconds| HeaderValue::from_str(&seconds.to_string()).ok())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_stable_snake_case_with_a_fitting_status() {
        let all = [
            ApiError::InvalidRequest(String::new()),
            ApiError::Validation(ValidationError {
                field: "f",
                problem: "p".into(),
            }),
            ApiError::Unauthenticated,
            ApiError::InvalidCredentials,
            ApiError::Forbidden(String::new()),
            ApiError::AccountDeactivated,
            ApiError::NotFound("x"),
            ApiError::Conflict(String::new()),
            ApiError::PayloadTooLarge(String::new()),
            ApiError::UnsupportedMediaType(String::new()),
            ApiError::RateLimited {
                retry_after_secs: 1,
            },
            ApiError::Unavailable(String::new()),
            ApiError::StorageFull(String::new()),
            ApiError::Internal(String::new()),
            ApiError::MfaRequired,
            ApiError::InvalidTotp,
            ApiError::AccountLocked {
                retry_after_secs: 1,
            },
            ApiError::MfaEnrolmentRequired,
            ApiError::PolicyAcceptanceRequired,
            ApiError::WhatsAppWindowClosed(String::new()),
            ApiError::InvalidSignature,
            ApiError::InvalidWebhookToken,
            ApiError::NoText,
            ApiError::InvalidPayload(String::new()),
        ];
        let mut codes = std::collections::HashSet::new();
        for error in &all {
            let (status, code) = error.status_and_code();
            assert!(status.is_client_error() || status.is_server_error());
            assert!(
                code.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{code}"
            );
            assert!(codes.insert(code), "duplicate code {code}");
        }
    }

    #[test]
    fn a_full_disk_is_507_storage_full_without_details() {
        let full = ApiError::from_io("writing", std::io::Error::from_raw_os_error(28));
        assert_eq!(
            full.status_and_code(),
            (StatusCode::INSUFFICIENT_STORAGE, "storage_full")
        );
        assert!(!full.body().message.contains("writing"));
        let other = ApiError::from_io("writing", std::io::Error::from_raw_os_error(5));
        assert_eq!(other.status_and_code().1, "internal");
        let from_store = ApiError::from(StoreError::StorageFull("SQLITE_FULL".into()));
        assert_eq!(from_store.status_and_code().1, "storage_full");
    }

    #[test]
    fn internal_details_never_reach_the_client() {
        let body = ApiError::Internal("disk /secret/path failed".into()).body();
        assert_eq!(body.message, "internal error");
    }
}
