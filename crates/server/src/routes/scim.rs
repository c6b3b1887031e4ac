//! The SCIM 2.0 service provider (RFC 7643/7644) and identity administration.
//! Mounted under `/scim/v2` by [`crate::router`].

use axum::Router;
use utoipa::OpenApi;

use crate::state::AppState;

/// This module's routes, relative to `/scim/v2`.
pub fn router() -> Router<AppState> {
    Router::new()
}

/// This module's part of the OpenAPI document, merged into the whole.
#[derive(OpenApi)]
#[openapi()]
pub struct Doc;
