//! The REST API under `/api/v1`, one file per resource family.

pub mod admin;
pub mod audit;
pub mod auth;
pub mod channels;
pub mod compliance;
pub mod connectors;
pub mod files;
pub mod identity;
pub mod messages;
pub mod passwords;
pub mod profiles;
pub mod scim;
pub mod system;
pub mod users;
pub mod webhooks;

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts};
use axum::http::StatusCode;
use conclave_domain::command::OutcomeValue;
use conclave_domain::{
    Channel, ChannelId, Command, Membership, Message, Outcome, User, permissions,
};

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// JSON bodies whose failures answer in the API's error format.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE => {
                ApiError::PayloadTooLarge("the request body is too large".into())
            }
            StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType(
                "send JSON with Content-Type: application/json".into(),
            ),
            _ => ApiError::InvalidRequest(rejection.body_text()),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::InvalidRequest(rejection.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        ApiError::InvalidRequest(rejection.body_text())
    }
}

/// Hands a command to the group-commit writer and waits until it is durable.
pub async fn submit(state: &AppState, command: Command) -> ApiResult<Outcome> {
    if state
        .shutting_down
        .load(std::sync::atomic::Ordering::Acquire)
    {
        return Err(ApiError::Unavailable("the server is shutting down".into()));
    }
    Ok(state.writer.submit(command).await?)
}

pub fn outcome_message(outcome: Outcome) -> ApiResult<Message> {
    match outcome.result {
        OutcomeValue::Message(message) => Ok(message),
        other => Err(ApiError::Internal(format!(
            "expected a message, got {other:?}"
        ))),
    }
}

pub fn outcome_channel(outcome: Outcome) -> ApiResult<Channel> {
    match outcome.result {
        OutcomeValue::Channel(channel) => Ok(channel),
        other => Err(ApiError::Internal(format!(
            "expected a channel, got {other:?}"
        ))),
    }
}

/// Loads a channel the user may read. A channel they may not read answers
/// 404, so its existence does not leak.
pub async fn readable_channel(
    state: &AppState,
    user: &User,
    channel_id: ChannelId,
) -> ApiResult<(Channel, Option<Membership>)> {
    let channel = state
        .store
        .channel_by_id(channel_id)
        .await?
        .ok_or(ApiError::NotFound("channel"))?;
    let membership = state.store.membership(channel_id, user.id).await?;
    if !permissions::can_read_channel(user, &channel, membership.as_ref()) {
        return Err(ApiError::NotFound("channel"));
    }
    Ok((channel, membership))
}

/// Loads a message whose channel the user may read.
pub async fn readable_message(
    state: &AppState,
    user: &User,
    message_id: i64,
) -> ApiResult<(Message, Channel, Option<Membership>)> {
    let message = state
        .store
        .message_by_id(message_id)
        .await?
        .ok_or(ApiError::NotFound("message"))?;
    let (channel, membership) = readable_channel(state, user, message.channel_id)
        .await
        .map_err(|_| ApiError::NotFound("message"))?;
    Ok((message, channel, membership))
}
