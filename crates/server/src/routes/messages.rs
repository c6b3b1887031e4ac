//! Messages: history, posting, edits, deletes, reactions and pins.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use conclave_domain::permissions::HistoryAccess;
use conclave_domain::{
    Channel, Command, Message, Page, User, ValidationError, permissions, text, validate,
};
use serde::Deserialize;
use utoipa::IntoParams;

use super::{
    ApiJson, ApiPath, ApiQuery, outcome_message, readable_channel, readable_message, submit,
};
use crate::api::{
    EditMessageRequest, MessageDto, MessagePage, MessageVersionDto, PostMessageRequest,
};
use crate::audit::{Actor, Change};
use crate::auth::{Authed, ClientAddress};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
pub struct HistoryQuery {
    /// At most this many messages (1–200, default 50).
    pub limit: Option<i64>,
    pub before: Option<i64>,
    pub after: Option<i64>,
    pub around: Option<i64>,
    /// Read one thread: its root and replies.
    pub thread: Option<i64>,
}

/// A page of a channel's history.
#[utoipa::path(get, path = "/api/v1/channels/{id}/messages", tag = "messages", security(("bearer" = [])),
    params(("id" = i64, Path), HistoryQuery), responses((status = 200, body = MessagePage)))]
pub async fn history(
    State(state): State<AppState>,
    authed: Authed,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(query): ApiQuery<HistoryQuery>,
) -> ApiResult<Json<MessagePage>> {
    readable_channel(&state, &authed.user, id).await?;
    let limit = query.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::InvalidRequest(
            "limit must be between 1 and 200".into(),
        ));
    }
    let page = match (query.before, query.after, query.around) {
        (None, None, None) => Page::Latest,
        (Some(id), None, None) => Page::Before(id),
        (None, Some(id), None) => Page::After(id),
        (None, None, Some(id)) => Page::Around(id),
        _ => {
            return Err(ApiError::InvalidRequest(
                "give at most one of before, after and around".into(),
            ));
        }
    };
    let (messages, has_more_before, has_more_after) =
        state.store.messages(id, query.thread, page, limit).await?;
    Ok(Json(MessagePage {
        messages: messages.iter().map(MessageDto::for_members).collect(),
        has_more_before,
        has_more_after,
    }))
}

/// Posts a message; answers once it is durable on disk.
#[utoipa::path(post, path = "/api/v1/channels/{id}/messages", tag = "messages", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = PostMessageRequest,
    responses((status = 201, body = MessageDto), (status = 403, body = crate::error::ErrorBody), (status = 429, body = crate::error::ErrorBody)))]
pub async fn post(
    State(state): State<AppState>,
    authed: Authed,
    ApiPath(id): ApiPath<i64>,
    ApiJson(request): ApiJson<PostMessageRequest>,
) -> ApiResult<(StatusCode, Json<MessageDto>)> {
    let message = post_message(&state, &authed.user, id, request).await?;
    Ok((StatusCode::CREATED, Json(MessageDto::for_members(&message))))
}

/// The one path every new message takes, from REST and from the WebSocket.
pub async fn post_message(
    state: &AppState,
    user: &User,
    channel_id: i64,
    request: PostMessageRequest,
) -> ApiResult<Message> {
    state.limits.check_message(user.id)?;
    validate::message_text(&request.text, !request.attachment_ids.is_empty())?;
    if request.attachment_ids.len() > 10 {
        return Err(ApiError::InvalidRequest(
            "attach at most 10 files to one message".into(),
        ));
    }
    if request
        .client_id
        .as_ref()
        .is_some_and(|client_id| client_id.is_empty() || client_id.len() > 64)
    {
        return Err(ApiError::InvalidRequest(
            "client_id must be 1 to 64 characters".into(),
        ));
    }
    let (channel, membership) = readable_channel(state, user, channel_id).await?;
    if !permissions::can_post(user, &channel, membership.as_ref()) {
        return Err(ApiError::forbidden(if membership.is_none() {
            "join the channel before posting"
        } else {
            "this channel accepts no new messages"
        }));
    }
    let mentions = resolve_mentions(state, &channel, user, &request.text).await?;
    let outcome = submit(
        state,
        Command::PostMessage {
            channel_id,
            author_id: user.id,
            thread_id: request.thread_id,
            text: request.text,
            mentions,
            attachment_ids: request.attachment_ids,
            client_id: request.client_id,
            at: crate::now_millis(),
        },
    )
    .await?;
    outcome_message(outcome)
}

/// The members of `channel` that `text` mentions, by handle or with
/// `@channel`, `@here` or `@all`; never the author.
pub(crate) async fn resolve_mentions(
    state: &AppState,
    channel: &Channel,
    author: &User,
    text: &str,
) -> ApiResult<Vec<i64>> {
    let handles = text::mentioned_handles(text);
    if handles.is_empty() {
        return Ok(Vec::new());
    }
    let members = state.store.channel_member_ids(channel.id).await?;
    let mut mentioned: Vec<i64> = if handles
        .iter()
        .any(|h| text::BROADCAST_MENTIONS.contains(&h.as_str()))
    {
        members.clone()
    } else {
        let users = state.store.users_by_handles(&handles).await?;
        users
            .into_iter()
            .map(|user| user.id)
            .filter(|id| members.contains(id))
            .collect()
    };
    mentioned.retain(|id| *id != author.id);
    mentioned.sort_unstable();
    mentioned.dedup();
    Ok(mentioned)
}

/// One message.
#[utoipa::path(get, path = "/api/v1/messages/{id}", tag = "messages", security(("bearer" = [])),
    params(("id" = i64, Path)), responses((status = 200, body = MessageDto), (status = 404, body = crate::error::ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    authed: Authed,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<MessageDto>> {
    let (message, _, _) = readable_message(&state, &authed.user, id).await?;
    Ok(Json(MessageDto::for_members(&message)))
}

/// Edits one's own message; the prior text is kept.
#[utoipa::path(patch, path = "/api/v1/messages/{id}", tag = "messages", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = EditMessageRequest, responses((status = 200, body = MessageDto)))]
pub async fn edit(
    State(state): State<AppState>,
    authed: Authed,
    ApiPath(id): ApiPath<i64>,
    ApiJson(request): ApiJson<EditMessageRequest>,
) -> ApiResult<Json<MessageDto>> {
    let (message, channel, membership) = readable_message(&state, &authed.user, id).await?;
    if !permissions::can_edit_message(&authed.user, &message)
        || membership.is_none()
        || channel.read_only
    {
        return Err(ApiError::forbidden("you can edit only your own messages"));
    }
    validate::message_text(&request.text, !message.attachments.is_empty())?;
    let mentions = resolve_mentions(&state, &channel, &authed.user, &request.text).await?;
    let outcome = submit(
        &state,
        Command::EditMessage {
            message_id: id,
            editor_id: authed.user.id,
            text: request.text,
            mentions,
            at: crate::now_millis(),
        },
    )
    .await?;
    Ok(Json(MessageDto::for_members(&outcome_message(outcome)?)))
}

/// Deletes a message: members see a tombstone; the text is retained for
/// compliance.
#[utoipa::path(delete, path = "/api/v1/messages/{id}", tag = "messages", security(("bearer" = [])),
    params(("id" = i64, Path)), responses((status = 204), (status = 403, body = crate::error::ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    authed: Authed,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    let (message, _, _) = readable_message(&state, &authed.user, id).await?;
    if message.deleted_at.is_some() {
        return Err(ApiError::NotFound("message"));
    }
    if !permissions::can_delete_message(&authed.user, &message) {
        return Err(ApiError::forbidden("you can delete only your own messages"));
    }
    submit(
        &state,
        Command::DeleteMessage {
            message_id: id,
            actor_id: authed.user.id,
            at: crate::now_millis(),
        },
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The longest reason a compliance read may give.
const MAX_REASON_CHARS: usize = 500;

#[derive(Debug, Deserialize, IntoParams)]
pub struct VersionsQuery {
    /// Why a compliance officer (or an owner acting as one) reads another
    /// author's message in a conversation they are not in: required there,
    /// and kept in the audit log (1–500 characters).
    pub reason: Option<String>,
}

/// Every version of a message: for its author, and for the compliance
/// roles, whose reads of other authors' messages are audited (with a
/// required `reason` outside their own conversations).
#[utoipa::path(get, path = "/api/v1/messages/{id}/versions", tag = "messages", security(("bearer" = [])),
    params(("id" = i64, Path), VersionsQuery),
    responses((status = 200, body = [MessageVersionDto]), (status = 400, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)))]
pub async fn versions(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    authed: Authed,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(query): ApiQuery<VersionsQuery>,
) -> ApiResult<Json<Vec<MessageVersionDto>>> {
    let message = state
        .store
        .message_by_id(id)
        .await?
        .ok_or(ApiError::NotFound("message"))?;
    let is_member = state
        .store
        .membership(message.channel_id, authed.user.id)
        .await?
        .is_some();
    let reason = match query.reason.as_deref().map(str::trim) {
        Some(reason) => Some(compliance_reason(reason)?),
        None => None,
    };
    match permissions::history_access(&authed.user, &message, is_member) {
        HistoryAccess::Denied => return Err(ApiError::NotFound("message")),
        HistoryAccess::Own => {}
        HistoryAccess::ComplianceOutside if reason.is_none() => {
            return Err(ApiError::Validation(ValidationError {
                field: "reason",
                problem: "is required to read a message outside your own conversations".into(),
            }));
        }
        HistoryAccess::ComplianceInside | HistoryAccess::ComplianceOutside => {
            crate::audit::record(
                &*state.store,
                &Actor::user(&authed.user, address),
                Change::new("message.versions_read", "message", message.id).after(
                    &serde_json::json!({
                        "channel_id": message.channel_id,
                        "author_id": message.author_id,
                        "member_of_channel": is_member,
                        "reason": reason,
                    }),
                ),
            )
            .await?;
        }
    }
    let versions = state.store.message_versions(id).await?;
    Ok(Json(versions.iter().map(MessageVersionDto::from).collect()))
}

/// A compliance read's stated reason: 1 to [`MAX_REASON_CHARS`] characters
/// without control characters.
fn compliance_reason(reason: &str) -> ApiResult<String> {
    let count = reason.chars().count();
    if count == 0 || count > MAX_REASON_CHARS || reason.chars().any(char::is_control) {
        return Err(ApiError::Validation(ValidationError {
            field: "reason",
            problem: format!(
                "must be 1 to {MAX_REASON_CHARS} characters without control characters"
            ),
        }));
    }
    Ok(reason.to_string())
}

async fn react(
    state: &AppState,
    user: &User,
    id: i64,
    emoji: String,
    present: bool,
) -> ApiResult<MessageDto> {
    validate::emoji(&emoji)?;
    let (message, channel, membership) = readable_message(state, user, id).await?;
    if !permissions::can_interact(user, &channel, membership.as_ref())
        || message.deleted_at.is_some()
    {
        return Err(ApiError::forbidden("you cannot react here"));
    }
    let outcome = submit(
        state,
        Command::SetReaction {
            message_id: id,
            user_id: user.id,
            emoji,
            present,
            at: crate::now_millis(),
        },
    )
    .await?;
    Ok(MessageDto::for_members(&outcome_message(outcome)?))
}

/// Adds the caller's reaction.
#[utoipa::path(put, path = "/api/v1/messages/{id}/reactions/{emoji}", tag = "messages", security(("bearer" = [])),
    params(("id" = i64, Path), ("emoji" = String, Path)), responses((status = 200, body = MessageDto)))]
pub async fn add_reaction(
    State(state): State<AppState>,
    authed: Authed,
    ApiPath((id, emoji)): ApiPath<(i64, String)>,
) -> ApiResult<Json<MessageDto>> {
    Ok(Json(react(&state, &authed.user, id, emoji, true).await?))
}

/// Removes the caller's reaction.
#[utoipa::path(delete, path = "/api/v1/messages/{id}/reactions/{emoji}", tag = "messages", security(("bearer" = [])),
    params(("id" = i64, Path), ("emoji" = String, Path)), responses((status = 200, body = MessageDto)))]
pub async fn remove_reaction(
    State(state): State<AppState>,
    authed: Authed,
    ApiPath((id, emoji)): ApiPath<(i64, String)>,
) -> ApiResult<Json<MessageDto>> {
    Ok(Json(react(&state, &authed.user, id, emoji, false).await?))
}

async fn pin(state: &AppState, user: &User, id: i64, pinned: bool) -> ApiResult<MessageDto> {
    let (message, channel, membership) = readable_message(state, user, id).await?;
    if !permissions::can_interact(user, &channel, membership.as_ref())
        || message.deleted_at.is_some()
    {
        return Err(ApiError::forbidden("you cannot pin here"));
    }
    let outcome = submit(
        state,
        Command::SetPinned {
            message_id: id,
            actor_id: user.id,
            pinned,
            at: crate::now_millis(),
        },
    )
    .await?;
    Ok(MessageDto::for_members(&outcome_message(outcome)?))
}

/// Pins a message to its channel.
#[utoipa::path(put, path = "/api/v1/messages/{id}/pin", tag = "messages", security(("bearer" = [])),
    params(("id" = i64, Path)), responses((status = 200, body = MessageDto)))]
pub async fn add_pin(
    State(state): State<AppState>,
    authed: Authed,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<MessageDto>> {
    Ok(Json(pin(&state, &authed.user, id, true).await?))
}

/// Unpins a message.
#[utoipa::path(delete, path = "/api/v1/messages/{id}/pin", tag = "messages", security(("bearer" = [])),
    params(("id" = i64, Path)), responses((status = 200, body = MessageDto)))]
pub async fn remove_pin(
    State(state): State<AppState>,
    authed: Authed,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<MessageDto>> {
    Ok(Json(pin(&state, &authed.user, id, false).await?))
}
