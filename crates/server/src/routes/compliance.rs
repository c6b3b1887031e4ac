//! Retention, legal holds, eDiscovery export and erasure (compliance officers).
//! Mounted under `/api/v1` by [`crate::router`].

use axum::Router;
use utoipa::OpenApi;

use crate::state::AppState;

/// This module's routes, relative to `/api/v1`.
pub fn router() -> Router<AppState> {
    Router::new()
}

/// This module's part of the OpenAPI document, merged into the whole.
#[derive(OpenApi)]
#[openapi()]
pub struct Doc;
