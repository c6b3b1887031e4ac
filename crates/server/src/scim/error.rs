//! SCIM error responses (RFC 7644 §3.12): every failure under `/scim/v2`
//! answers `{"schemas": [Error], "status": "400", "scimType"?, "detail"}`
//! with `Content-Type: application/scim+json`, never the REST API's body.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use conclave_store::StoreError;
use serde_json::json;

use crate::error::ApiError;

/// A SCIM failure: a status, the RFC's `scimType` keyword when one fits,
/// and a sentence for people.
#[derive(Debug)]
pub struct ScimError {
    pub status: StatusCode,
    pub scim_type: Option<&'static str>,
    pub detail: String,
}

pub type ScimResult<T> = Result<T, ScimError>;

impl ScimError {
    pub fn new(
        status: StatusCode,
        scim_type: Option<&'static str>,
        detail: impl Into<String>,
    ) -> ScimError {
        ScimError {
            status,
            scim_type,
            detail: detail.into(),
        }
    }

    pub fn invalid_filter(detail: impl Into<String>) -> ScimError {
        ScimError::new(StatusCode::BAD_REQUEST, Some("invalidFilter"), detail)
    }

    pub fn invalid_value(detail: impl Into<String>) -> ScimError {
        ScimError::new(StatusCode::BAD_REQUEST, Some("invalidValue"), detail)
    }

    pub fn invalid_syntax(detail: impl Into<String>) -> ScimError {
        ScimError::new(StatusCode::BAD_REQUEST, Some("invalidSyntax"), detail)
    }

    pub fn invalid_path(detail: impl Into<String>) -> ScimError {
        ScimError::new(StatusCode::BAD_REQUEST, Some("invalidPath"), detail)
    }

    pub fn no_target(detail: impl Into<String>) -> ScimError {
        ScimError::new(StatusCode::BAD_REQUEST, Some("noTarget"), detail)
    }

    pub fn mutability(detail: impl Into<String>) -> ScimError {
        ScimError::new(StatusCode::BAD_REQUEST, Some("mutability"), detail)
    }

    pub fn uniqueness(detail: impl Into<String>) -> ScimError {
        ScimError::new(StatusCode::CONFLICT, Some("uniqueness"), detail)
    }

    /// 403: the token may not do this (RFC 7644 §3.12 defines no
    /// `scimType` for it).
    pub fn forbidden(detail: impl Into<String>) -> ScimError {
        ScimError::new(StatusCode::FORBIDDEN, None, detail)
    }

    pub fn not_found(detail: impl Into<String>) -> ScimError {
        ScimError::new(StatusCode::NOT_FOUND, None, detail)
    }

    pub fn unauthorized() -> ScimError {
        ScimError::new(
            StatusCode::UNAUTHORIZED,
            None,
            "a valid SCIM bearer token is required (conclave scim token create)",
        )
    }

    pub fn internal() -> ScimError {
        ScimError::new(StatusCode::INTERNAL_SERVER_ERROR, None, "internal error")
    }
}

impl From<StoreError> for ScimError {
    fn from(error: StoreError) -> Self {
        ScimError::from(ApiError::from(error))
    }
}

impl From<ApiError> for ScimError {
    fn from(error: ApiError) -> Self {
        let (status, _) = error.status_and_code();
        if status.is_server_error() {
            tracing::error!(error = ?error, "SCIM request failed");
        }
        let scim_type = match &error {
            ApiError::Validation(_) => Some("invalidValue"),
            ApiError::InvalidRequest(_) => Some("invalidSyntax"),
            ApiError::Conflict(_) => Some("uniqueness"),
            _ => None,
        };
        ScimError::new(status, scim_type, error.to_string())
    }
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        if self.status.is_client_error() {
            tracing::debug!(status = self.status.as_u16(), detail = %self.detail, "SCIM request refused");
        }
        let mut body = json!({
            "schemas": [super::schema::ERROR],
            "status": self.status.as_u16().to_string(),
            "detail": self.detail,
        });
        if let (Some(scim_type), Some(object)) = (self.scim_type, body.as_object_mut()) {
            object.insert("scimType".into(), json!(scim_type));
        }
        let mut response = (self.status, body.to_string()).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(super::CONTENT_TYPE),
        );
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"SCIM\""),
            );
        }
        response
    }
}
