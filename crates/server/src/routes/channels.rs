//! Channels, direct and group conversations, membership and read markers.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use conclave_domain::permissions::{AdmissionPath, AdmissionRefused, Granter};
use conclave_domain::{Channel, ChannelId, ChannelKind, Command, Role, permissions, validate};

use super::{ApiJson, ApiPath, outcome_channel, readable_channel, submit};
use crate::api::{
    AddMemberRequest, BrowseChannelDto, ChannelDto, ChannelSummaryDto, CreateChannelRequest,
    MarkReadRequest, MessageDto, OpenConversationRequest, UpdateChannelRequest, UserDto,
};
use crate::audit::{Actor, Change};
use crate::auth::{Authed, ClientAddress};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// The caller's channels and conversations, with unread counts.
#[utoipa::path(get, path = "/api/v1/channels", tag = "channels", security(("bearer" = [])),
    responses((status = 200, body = [ChannelSummaryDto])))]
pub async fn list(
    State(state): State<AppState>,
    authed: Authed,
) -> ApiResult<Json<Vec<ChannelSummaryDto>>> {
    let summaries = state.store.channel_summaries(authed.user.id).await?;
    Ok(Json(
        summaries.iter().map(ChannelSummaryDto::from).collect(),
    ))
}

/// Public channels, for the channel browser.
#[utoipa::path(get, path = "/api/v1/channels/browse", tag = "channels", security(("bearer" = [])),
    responses((status = 200, body = [BrowseChannelDto])))]
pub async fn browse(
    State(state): State<AppState>,
    authed: Authed,
) -> ApiResult<Json<Vec<BrowseChannelDto>>> {
    if authed.user.role == Role::Guest {
        return Ok(Json(Vec::new()));
    }
    let mine = state.store.user_channel_ids(authed.user.id).await?;
    let public = state.store.public_channels().await?;
    Ok(Json(
        public
            .iter()
            .filter(|entry| !entry.channel.archived || mine.contains(&entry.channel.id))
            .map(|entry| BrowseChannelDto {
                channel: ChannelDto::from(&entry.channel),
                member_count: entry.member_count,
                joined: mine.contains(&entry.channel.id),
            })
            .collect(),
    ))
}

/// Channel names are unique across the workspace (operators and the command
/// line name channels), so a name held by a private channel is refused too;
/// the refusal reads the same whatever holds the name (public, private,
/// archived, an import), so it tells nothing beyond "taken"
/// (docs/permissions.md).
fn name_not_available(error: ApiError) -> ApiError {
    match error {
        ApiError::Conflict(_) => {
            ApiError::Conflict("that channel name is not available; choose another".into())
        }
        other => other,
    }
}

async fn summary(state: &AppState, user_id: i64, channel_id: i64) -> ApiResult<ChannelSummaryDto> {
    let summary = state
        .store
        .channel_summary(user_id, channel_id)
        .await?
        .ok_or(ApiError::NotFound("channel"))?;
    Ok(ChannelSummaryDto::from(&summary))
}

/// Creates a public or private channel; the creator is its first member.
#[utoipa::path(post, path = "/api/v1/channels", tag = "channels", security(("bearer" = [])),
    request_body = CreateChannelRequest,
    responses((status = 201, body = ChannelSummaryDto), (status = 409, body = crate::error::ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    authed: Authed,
    ApiJson(request): ApiJson<CreateChannelRequest>,
) -> ApiResult<(StatusCode, Json<ChannelSummaryDto>)> {
    if !permissions::can_create_channel(&authed.user) {
        return Err(ApiError::forbidden("guests cannot create channels"));
    }
    let kind = match request.kind.as_str() {
        "public" => ChannelKind::Public,
        "private" => ChannelKind::Private,
        other => {
            return Err(ApiError::InvalidRequest(format!(
                "kind must be public or private, not {other:?}; use /api/v1/conversations for direct messages"
            )));
        }
    };
    let name = validate::normalize_channel_name(&request.name);
    validate::channel_name(&name)?;
    let topic = request.topic.unwrap_or_default();
    validate::topic(&topic)?;
    let mut member_ids = request.member_ids.unwrap_or_default();
    member_ids.sort_unstable();
    member_ids.dedup();
    if member_ids.len() > 1000 {
        return Err(ApiError::InvalidRequest(
            "add at most 1000 members at creation".into(),
        ));
    }
    let found = state.store.users_by_ids(&member_ids).await?;
    if found.len() != member_ids.len() || found.iter().any(|user| !user.active) {
        return Err(ApiError::NotFound("user"));
    }
    let channel = outcome_channel(
        submit(
            &state,
            Command::CreateChannel {
                kind,
                name,
                topic,
                creator_id: authed.user.id,
                member_ids,
                conversation_key: None,
                read_only: false,
                at: crate::now_millis(),
            },
        )
        .await
        .map_err(name_not_available)?,
    )?;
    Ok((
        StatusCode::CREATED,
        Json(summary(&state, authed.user.id, channel.id).await?),
    ))
}

/// Opens the direct or group conversation with exactly these people.
#[utoipa::path(post, path = "/api/v1/conversations", tag = "channels", security(("bearer" = [])),
    request_body = OpenConversationRequest, responses((status = 200, body = ChannelSummaryDto)))]
pub async fn open_conversation(
    State(state): State<AppState>,
    authed: Authed,
    ApiJson(request): ApiJson<OpenConversationRequest>,
) -> ApiResult<Json<ChannelSummaryDto>> {
    let mut people = request.user_ids;
    people.push(authed.user.id);
    people.sort_unstable();
    people.dedup();
    if people.len() > validate::MAX_GROUP_MEMBERS {
        return Err(ApiError::InvalidRequest(format!(
            "a group conversation holds at most {} people",
            validate::MAX_GROUP_MEMBERS
        )));
    }
    let users = state.store.users_by_ids(&people).await?;
    if users.len() != people.len() || users.iter().any(|user| !user.active) {
        return Err(ApiError::NotFound("user"));
    }
    if authed.user.role == Role::Guest {
        // Guests talk only with people they already share a channel with.
        let mine = state.store.user_channel_ids(authed.user.id).await?;
        for other in people.iter().filter(|id| **id != authed.user.id) {
            let theirs = state.store.user_channel_ids(*other).await?;
            if !theirs.iter().any(|id| mine.contains(id)) {
                return Err(ApiError::forbidden(
                    "guests message only people in their channels",
                ));
            }
        }
    }
    let key = people
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(":");
    if let Some(existing) = state.store.conversation_by_key(&key).await? {
        return Ok(Json(summary(&state, authed.user.id, existing.id).await?));
    }
    let kind = if people.len() <= 2 {
        ChannelKind::Direct
    } else {
        ChannelKind::Group
    };
    let outcome = submit(
        &state,
        Command::CreateChannel {
            kind,
            name: String::new(),
            topic: String::new(),
            creator_id: authed.user.id,
            member_ids: people,
            conversation_key: Some(key.clone()),
            read_only: false,
            at: crate::now_millis(),
        },
    )
    .await;
    let channel = match outcome {
        Ok(outcome) => outcome_channel(outcome)?,
        // Someone opened the same conversation a moment ago.
        Err(ApiError::Conflict(_)) => state
            .store
            .conversation_by_key(&key)
            .await?
            .ok_or(ApiError::NotFound("conversation"))?,
        Err(error) => return Err(error),
    };
    Ok(Json(summary(&state, authed.user.id, channel.id).await?))
}

/// One channel as the caller sees it.
#[utoipa::path(get, path = "/api/v1/channels/{id}", tag = "channels", security(("bearer" = [])),
    params(("id" = i64, Path)), responses((status = 200, body = ChannelSummaryDto), (status = 404, body = crate::error::ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    authed: Authed,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<ChannelSummaryDto>> {
    readable_channel(&state, &authed.user, id).await?;
    Ok(Json(summary(&state, authed.user.id, id).await?))
}

/// Renames, re-topics, archives or unarchives a channel.
#[utoipa::path(patch, path = "/api/v1/channels/{id}", tag = "channels", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = UpdateChannelRequest, responses((status = 200, body = ChannelDto)))]
pub async fn update(
    State(state): State<AppState>,
    authed: Authed,
    ApiPath(id): ApiPath<i64>,
    ApiJson(request): ApiJson<UpdateChannelRequest>,
) -> ApiResult<Json<ChannelDto>> {
    let (channel, membership) = readable_channel(&state, &authed.user, id).await?;
    if !permissions::can_update_channel(&authed.user, &channel, membership.as_ref()) {
        return Err(ApiError::forbidden("you cannot change this channel"));
    }
    let name = match request.name {
        Some(name) => {
            let name = validate::normalize_channel_name(&name);
            validate::channel_name(&name)?;
            Some(name)
        }
        None => None,
    };
    if let Some(topic) = &request.topic {
        validate::topic(topic)?;
    }
    let channel = outcome_channel(
        submit(
            &state,
            Command::UpdateChannel {
                channel_id: id,
                actor_id: authed.user.id,
                name,
                topic: request.topic,
                archived: request.archived,
                at: crate::now_millis(),
            },
        )
        .await
        .map_err(name_not_available)?,
    )?;
    Ok(Json(ChannelDto::from(&channel)))
}

async fn set_membership(
    state: &AppState,
    channel_id: i64,
    user_id: i64,
    actor_id: i64,
    member: bool,
) -> ApiResult<()> {
    submit(
        state,
        Command::SetMembership {
            channel_id,
            user_id,
            actor_id,
            member,
            at: crate::now_millis(),
        },
    )
    .await?;
    Ok(())
}

/// Joins a public channel.
#[utoipa::path(post, path = "/api/v1/channels/{id}/join", tag = "channels", security(("bearer" = [])),
    params(("id" = i64, Path)), responses((status = 200, body = ChannelSummaryDto)))]
pub async fn join(
    State(state): State<AppState>,
    authed: Authed,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<ChannelSummaryDto>> {
    let (channel, membership) = readable_channel(&state, &authed.user, id).await?;
    if membership.is_none() {
        if !permissions::can_join(&authed.user, &channel) {
            return Err(ApiError::forbidden("this channel cannot be joined"));
        }
        set_membership(&state, id, authed.user.id, authed.user.id, true).await?;
    }
    Ok(Json(summary(&state, authed.user.id, id).await?))
}

/// Leaves a channel or group conversation.
#[utoipa::path(post, path = "/api/v1/channels/{id}/leave", tag = "channels", security(("bearer" = [])),
    params(("id" = i64, Path)), responses((status = 204)))]
pub async fn leave(
    State(state): State<AppState>,
    authed: Authed,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    let (channel, membership) = readable_channel(&state, &authed.user, id).await?;
    if membership.is_none() {
        return Err(ApiError::NotFound("membership"));
    }
    if !permissions::can_remove_member(&authed.user, &channel, &authed.user) {
        return Err(ApiError::forbidden(
            "you cannot leave a direct conversation",
        ));
    }
    set_membership(&state, id, authed.user.id, authed.user.id, false).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The members of a channel.
#[utoipa::path(get, path = "/api/v1/channels/{id}/members", tag = "channels", security(("bearer" = [])),
    params(("id" = i64, Path)), responses((status = 200, body = [UserDto])))]
pub async fn members(
    State(state): State<AppState>,
    authed: Authed,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Vec<UserDto>>> {
    readable_channel(&state, &authed.user, id).await?;
    let ids = state.store.channel_member_ids(id).await?;
    let users = state.store.users_by_ids(&ids).await?;
    Ok(Json(users.iter().map(UserDto::from).collect()))
}

/// Whether `channel_id` is an imported WhatsApp archive or a customer
/// conversation: channels reached only through the compliance roles.
pub async fn is_external_archive(state: &AppState, channel_id: ChannelId) -> ApiResult<bool> {
    Ok(state.store.external_channel(channel_id).await?.is_some())
}

/// Asks `permissions::can_admit` whether `granter` may put someone into
/// `channel` along `path`, answering a refusal as the API does (404 for a
/// channel the granter may not know of). Answers whether the channel is an
/// external archive, whose admissions the caller audits.
pub async fn admit(
    state: &AppState,
    granter: Granter<'_>,
    channel: &Channel,
    path: AdmissionPath,
) -> ApiResult<bool> {
    let external_archive = is_external_archive(state, channel.id).await?;
    match permissions::can_admit(granter, channel, external_archive, path) {
        Ok(()) => Ok(external_archive),
        Err(AdmissionRefused::Hidden) => Err(ApiError::NotFound("channel")),
        Err(AdmissionRefused::Forbidden(reason)) => Err(ApiError::forbidden(reason)),
    }
}

/// Adds someone to a channel.
#[utoipa::path(post, path = "/api/v1/channels/{id}/members", tag = "channels", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = AddMemberRequest, responses((status = 204)))]
pub async fn add_member(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    authed: Authed,
    ApiPath(id): ApiPath<i64>,
    ApiJson(request): ApiJson<AddMemberRequest>,
) -> ApiResult<StatusCode> {
    let (channel, membership) = readable_channel(&state, &authed.user, id).await?;
    let external_archive = admit(
        &state,
        Granter::Person {
            user: &authed.user,
            membership: membership.as_ref(),
        },
        &channel,
        AdmissionPath::DirectAdd,
    )
    .await?;
    let target = state
        .store
        .user_by_id(request.user_id)
        .await?
        .ok_or(ApiError::NotFound("user"))?;
    if !target.active {
        return Err(ApiError::NotFound("user"));
    }
    set_membership(&state, id, target.id, authed.user.id, true).await?;
    if external_archive {
        // Archives are reached only through the compliance roles, on the
        // record.
        crate::audit::record(
            &*state.store,
            &Actor::user(&authed.user, address),
            Change::new("archive.member_add", "channel", id)
                .after(&serde_json::json!({"user_id": target.id})),
        )
        .await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Removes someone from a channel.
#[utoipa::path(delete, path = "/api/v1/channels/{id}/members/{user_id}", tag = "channels", security(("bearer" = [])),
    params(("id" = i64, Path), ("user_id" = i64, Path)), responses((status = 204)))]
pub async fn remove_member(
    State(state): State<AppState>,
    authed: Authed,
    ApiPath((id, user_id)): ApiPath<(i64, i64)>,
) -> ApiResult<StatusCode> {
    let (channel, _) = readable_channel(&state, &authed.user, id).await?;
    let target = state
        .store
        .user_by_id(user_id)
        .await?
        .ok_or(ApiError::NotFound("user"))?;
    if !permissions::can_remove_member(&authed.user, &channel, &target) {
        return Err(ApiError::forbidden("you cannot remove this member"));
    }
    if state.store.membership(id, user_id).await?.is_none() {
        return Err(ApiError::NotFound("membership"));
    }
    set_membership(&state, id, user_id, authed.user.id, false).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Moves the caller's read marker.
#[utoipa::path(post, path = "/api/v1/channels/{id}/read", tag = "channels", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = MarkReadRequest, responses((status = 204)))]
pub async fn mark_read(
    State(state): State<AppState>,
    authed: Authed,
    ApiPath(id): ApiPath<i64>,
    ApiJson(request): ApiJson<MarkReadRequest>,
) -> ApiResult<StatusCode> {
    let (_, membership) = readable_channel(&state, &authed.user, id).await?;
    if membership.is_none() {
        return Err(ApiError::NotFound("membership"));
    }
    if request.message_id < 0 {
        return Err(ApiError::InvalidRequest(
            "message_id must not be negative".into(),
        ));
    }
    submit(
        &state,
        Command::MarkRead {
            channel_id: id,
            user_id: authed.user.id,
            message_id: request.message_id,
            at: crate::now_millis(),
        },
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Pinned messages of a channel.
#[utoipa::path(get, path = "/api/v1/channels/{id}/pins", tag = "channels", security(("bearer" = [])),
    params(("id" = i64, Path)), responses((status = 200, body = [MessageDto])))]
pub async fn pins(
    State(state): State<AppState>,
    authed: Authed,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Vec<MessageDto>>> {
    readable_channel(&state, &authed.user, id).await?;
    let messages = state.store.pinned_messages(id).await?;
    Ok(Json(messages.iter().map(MessageDto::for_members).collect()))
}
