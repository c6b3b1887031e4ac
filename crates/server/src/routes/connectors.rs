//! External channels: the WhatsApp Cloud API webhook and customer conversations.
//! Mounted under `/connectors` by [`crate::router`].

use axum::Router;
use utoipa::OpenApi;

use crate::state::AppState;

/// This module's routes, relative to `/connectors`.
pub fn router() -> Router<AppState> {
    Router::new()
}

/// This module's part of the OpenAPI document, merged into the whole.
#[derive(OpenApi)]
#[openapi()]
pub struct Doc;
