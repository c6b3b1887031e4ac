//! Slack-compatible incoming webhooks.
//!
//! - `/api/v1/channels/{id}/webhooks` and `/api/v1/webhooks/{id}`: members
//!   who are not guests create, list and revoke a channel's hooks. The
//!   token is answered once, at creation; only its SHA-256 is stored.
//! - `/hooks/{token}`: what an outside system calls. It accepts Slack's
//!   payloads (JSON, or a form with a `payload` field) and posts through
//!   the same command path as every other message, as the hook's bot user,
//!   answering `ok` once the message is durable.
//!
//! This module never trusts the token beyond finding its hook: an unknown
//! and a revoked token answer the same 404.

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{delete, get, post};
use conclave_domain::webhook::{IncomingWebhook, NewIncomingWebhook};
use conclave_domain::{Channel, Command, permissions, validate};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

use super::{ApiJson, ApiPath, readable_channel, submit};
use crate::audit::{Actor, Change};
use crate::auth::{Authed, ClientAddress};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// The largest body `/hooks/{token}` reads: 64 KiB.
pub const MAX_HOOK_BODY_BYTES: usize = 64 * 1024;

/// The management API, relative to `/api/v1`.
pub fn api_router() -> Router<AppState> {
    Router::new()
        .route(
            "/channels/{id}/webhooks",
            get(list_webhooks).post(create_webhook),
        )
        .route("/webhooks/{id}", delete(revoke_webhook))
}

/// The public endpoint, at the root.
pub fn hooks_router() -> Router<AppState> {
    Router::new().route("/hooks/{token}", post(deliver))
}

/// This module's part of the OpenAPI document, merged into the whole.
#[derive(OpenApi)]
#[openapi(
    paths(list_webhooks, create_webhook, revoke_webhook, deliver),
    components(schemas(WebhookDto, CreateWebhookRequest, CreatedWebhookDto, SlackPayload))
)]
pub struct Doc;

/// An incoming webhook as its channel's members see it; never its token.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WebhookDto {
    pub id: i64,
    pub name: String,
    pub channel_id: i64,
    pub creator_id: i64,
    /// The bot user the hook's messages are authored by.
    pub author_id: i64,
    pub created_at: i64,
}

impl From<&IncomingWebhook> for WebhookDto {
    fn from(hook: &IncomingWebhook) -> Self {
        WebhookDto {
            id: hook.id,
            name: hook.name.clone(),
            channel_id: hook.channel_id,
            creator_id: hook.creator_id,
            author_id: hook.author_id,
            created_at: hook.created_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateWebhookRequest {
    /// 1 to 80 characters; also the bot user's display name.
    pub name: String,
}

/// A new hook with its secret: `token` and `url` are shown only here.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedWebhookDto {
    #[serde(flatten)]
    pub webhook: WebhookDto,
    /// The path to post to: `/hooks/{token}`.
    pub url: String,
    pub token: String,
}

/// What Slack's incoming webhooks accept, as far as Conclave uses it.
/// Unknown fields (`username`, `icon_emoji`, `channel`…) are ignored.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct SlackPayload {
    /// The message, in Slack mrkdwn, stored as written.
    #[serde(default)]
    pub text: Option<String>,
    /// Used when `text` is absent: each one's `pretext`, `title` and
    /// `text`, or else its `fallback`.
    #[serde(default)]
    pub attachments: Vec<SlackAttachment>,
    /// Used when `text` is absent: the text of `section` and `header`
    /// blocks (and a section's fields).
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub blocks: Vec<SlackBlock>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct SlackAttachment {
    #[serde(default)]
    pub pretext: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub fallback: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct SlackBlock {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub text: Option<SlackText>,
    #[serde(default)]
    pub fields: Vec<SlackText>,
}

#[derive(Debug, Default, Deserialize)]
pub struct SlackText {
    #[serde(default)]
    pub text: String,
}

impl SlackPayload {
    /// The message text: `text` when it has any, else what the blocks and
    /// attachments say, one part a line; `None` when nothing is usable.
    pub fn message_text(&self) -> Option<String> {
        if let Some(text) = self.text.as_deref().filter(|text| !text.trim().is_empty()) {
            return Some(text.to_string());
        }
        let mut parts: Vec<&str> = Vec::new();
        for block in &self.blocks {
            if block.kind != "section" && block.kind != "header" {
                continue;
            }
            parts.extend(block.text.iter().map(|text| text.text.as_str()));
            parts.extend(block.fields.iter().map(|field| field.text.as_str()));
        }
        for attachment in &self.attachments {
            let shown: Vec<&str> = [&attachment.pretext, &attachment.title, &attachment.text]
                .into_iter()
                .filter_map(|part| part.as_deref())
                .filter(|part| !part.trim().is_empty())
                .collect();
            if shown.is_empty() {
                parts.extend(attachment.fallback.as_deref());
            } else {
                parts.extend(shown);
            }
        }
        parts.retain(|part| !part.trim().is_empty());
        (!parts.is_empty()).then(|| parts.join("\n"))
    }
}

/// Parses a hook's body: Slack's form (`payload=<json>`) when the content
/// type says so, JSON otherwise.
pub fn parse_payload(content_type: Option<&str>, body: &[u8]) -> ApiResult<SlackPayload> {
    let is_form = content_type.is_some_and(|value| {
        value
            .split(';')
            .next()
            .is_some_and(|kind| kind.trim() == "application/x-www-form-urlencoded")
    });
    let json = if is_form {
        url::form_urlencoded::parse(body)
            .find(|(key, _)| key == "payload")
            .map(|(_, value)| value.into_owned())
            .ok_or_else(|| {
                ApiError::InvalidPayload("a form body needs a `payload` field with JSON".into())
            })?
            .into_bytes()
    } else {
        body.to_vec()
    };
    serde_json::from_slice(&json)
        .map_err(|error| ApiError::InvalidPayload(format!("the payload is not valid: {error}")))
}

fn actor(authed: &Authed, address: Option<String>) -> Actor {
    Actor::user(
        &authed.user,
        address.or_else(|| authed.session.address.clone()),
    )
}

/// The channel, when the caller may manage its hooks.
async fn managed_channel(state: &AppState, authed: &Authed, channel_id: i64) -> ApiResult<Channel> {
    let (channel, membership) = readable_channel(state, &authed.user, channel_id).await?;
    if !permissions::can_manage_channel_webhooks(&authed.user, membership.as_ref()) {
        return Err(ApiError::forbidden(
            "only members of the channel who are not guests manage its webhooks",
        ));
    }
    Ok(channel)
}

/// A channel's active incoming webhooks, oldest first.
#[utoipa::path(get, path = "/api/v1/channels/{id}/webhooks", tag = "webhooks", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = [WebhookDto]), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)))]
pub async fn list_webhooks(
    State(state): State<AppState>,
    authed: Authed,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Vec<WebhookDto>>> {
    managed_channel(&state, &authed, id).await?;
    let hooks = state.store.channel_incoming_webhooks(id).await?;
    Ok(Json(hooks.iter().map(WebhookDto::from).collect()))
}

/// Creates an incoming webhook that posts into the channel as its own bot
/// user. The token (and the URL holding it) is answered only here.
#[utoipa::path(post, path = "/api/v1/channels/{id}/webhooks", tag = "webhooks", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = CreateWebhookRequest,
    responses((status = 201, body = CreatedWebhookDto), (status = 400, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)))]
pub async fn create_webhook(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    authed: Authed,
    ApiPath(id): ApiPath<i64>,
    ApiJson(request): ApiJson<CreateWebhookRequest>,
) -> ApiResult<(StatusCode, Json<CreatedWebhookDto>)> {
    let channel = managed_channel(&state, &authed, id).await?;
    if channel.archived || channel.read_only {
        return Err(ApiError::forbidden(
            "this channel accepts no new messages, so it takes no webhooks",
        ));
    }
    if state
        .store
        .whatsapp_conversation_by_channel(id)
        .await?
        .is_some()
    {
        return Err(ApiError::forbidden(
            "customer conversations take no webhooks",
        ));
    }
    let name = conclave_domain::webhook::validate_name(&request.name)?;
    let token = crate::auth::new_token();
    let hook = state
        .store
        .create_incoming_webhook(NewIncomingWebhook {
            channel_id: id,
            creator_id: authed.user.id,
            name,
            token_hash: crate::auth::token_hash(&token),
            at: crate::now_millis(),
        })
        .await?;
    let dto = WebhookDto::from(&hook);
    crate::audit::record(
        &*state.store,
        &actor(&authed, address),
        Change::new("webhook.create", "webhook", hook.id).after(&dto),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedWebhookDto {
            webhook: dto,
            url: format!("/hooks/{token}"),
            token,
        }),
    ))
}

/// Revokes a hook at once: its creator, or an owner or admin.
#[utoipa::path(delete, path = "/api/v1/webhooks/{id}", tag = "webhooks", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 204, description = "revoked"), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)))]
pub async fn revoke_webhook(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    authed: Authed,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    let hook = state
        .store
        .incoming_webhook(id)
        .await?
        .filter(|hook| hook.revoked_at.is_none())
        .ok_or(ApiError::NotFound("webhook"))?;
    if !permissions::can_revoke_webhook(&authed.user, hook.creator_id) {
        return Err(ApiError::forbidden(
            "only the webhook's creator or an admin revokes it",
        ));
    }
    if !state
        .store
        .revoke_incoming_webhook(id, crate::now_millis())
        .await?
    {
        return Err(ApiError::NotFound("webhook"));
    }
    crate::audit::record(
        &*state.store,
        &actor(&authed, address),
        Change::new("webhook.revoke", "webhook", hook.id).before(&WebhookDto::from(&hook)),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Posts a message through an incoming webhook, as Slack's do. Answers
/// `ok` (text/plain) once the message is durable.
#[utoipa::path(post, path = "/hooks/{token}", tag = "webhooks",
    params(("token" = String, Path, description = "the secret shown when the hook was created")),
    request_body(content = SlackPayload, description = "JSON, or `application/x-www-form-urlencoded` with `payload=<json>`"),
    responses((status = 200, description = "posted", body = String, content_type = "text/plain"),
        (status = 400, description = "`no_text`, `invalid_payload` or `validation_failed`", body = crate::error::ErrorBody),
        (status = 404, description = "`invalid_token`: unknown or revoked", body = crate::error::ErrorBody),
        (status = 413, body = crate::error::ErrorBody),
        (status = 429, description = "slow down; see Retry-After", body = crate::error::ErrorBody)))]
pub async fn deliver(
    State(state): State<AppState>,
    axum::extract::Path(token): axum::extract::Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<impl IntoResponse> {
    let hook = state
        .store
        .incoming_webhook_by_token_hash(&crate::auth::token_hash(&token))
        .await?
        .ok_or(ApiError::InvalidWebhookToken)?;
    state.limits.check_webhook(hook.id)?;
    let body = axum::body::to_bytes(body, MAX_HOOK_BODY_BYTES)
        .await
        .map_err(|_| {
            ApiError::PayloadTooLarge(format!(
                "a webhook body is at most {MAX_HOOK_BODY_BYTES} bytes"
            ))
        })?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok());
    let payload = parse_payload(content_type, &body)?;
    let text = payload.message_text().ok_or(ApiError::NoText)?;
    validate::message_text(&text, false)?;

    let author = state
        .store
        .user_by_id(hook.author_id)
        .await?
        .ok_or_else(|| ApiError::Internal(format!("webhook {} has no bot user", hook.id)))?;
    let channel = state
        .store
        .channel_by_id(hook.channel_id)
        .await?
        .ok_or(ApiError::InvalidWebhookToken)?;
    let mentions = super::messages::resolve_mentions(&state, &channel, &author, &text).await?;
    submit(
        &state,
        Command::PostMessage {
            channel_id: channel.id,
            author_id: author.id,
            thread_id: None,
            text,
            mentions,
            attachment_ids: Vec::new(),
            client_id: None,
            at: crate::now_millis(),
        },
    )
    .await?;
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "ok",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text_of(json: &str) -> Option<String> {
        parse_payload(Some("application/json"), json.as_bytes())
            .unwrap()
            .message_text()
    }

    #[test]
    fn text_comes_from_text_then_blocks_and_attachments() {
        let cases: &[(&str, Option<&str>)] = &[
            (
                r#"{"text": "*deployed* <https://x|x>"}"#,
                Some("*deployed* <https://x|x>"),
            ),
            (
                r#"{"text": "  ", "attachments": [{"fallback": "fb"}]}"#,
                Some("fb"),
            ),
            (
                r#"{"attachments": [{"pretext": "p", "title": "t", "text": "x", "fallback": "fb"}]}"#,
                Some("p\nt\nx"),
            ),
            (
                r#"{"blocks": [{"type": "header", "text": {"type": "plain_text", "text": "H"}},
                    {"type": "divider"},
                    {"type": "section", "text": {"type": "mrkdwn", "text": "S"}, "fields": [{"type": "mrkdwn", "text": "F"}]},
                    {"type": "image", "image_url": "https://x"}]}"#,
                Some("H\nS\nF"),
            ),
            (
                r#"{"blocks": [{"type": "section", "text": {"text": "B"}}], "attachments": [{"fallback": "A"}]}"#,
                Some("B\nA"),
            ),
            (r#"{}"#, None),
            (
                r#"{"attachments": [{}], "blocks": [{"type": "divider"}]}"#,
                None,
            ),
            (r#"{"username": "bot", "icon_emoji": ":x:"}"#, None),
        ];
        for (json, expected) in cases {
            assert_eq!(text_of(json).as_deref(), *expected, "{json}");
        }
    }

    #[test]
    fn forms_carry_the_payload_field() {
        let body = "payload=%7B%22text%22%3A%22hi+there%22%7D";
        let payload = parse_payload(
            Some("application/x-www-form-urlencoded; charset=utf-8"),
            body.as_bytes(),
        )
        .unwrap();
        assert_eq!(payload.message_text().as_deref(), Some("hi there"));
        assert!(matches!(
            parse_payload(Some("application/x-www-form-urlencoded"), b"text=hi"),
            Err(ApiError::InvalidPayload(_))
        ));
        assert!(matches!(
            parse_payload(Some("application/json"), b"{not json"),
            Err(ApiError::InvalidPayload(_))
        ));
        assert!(matches!(
            parse_payload(None, br#"{"text": 5}"#),
            Err(ApiError::InvalidPayload(_))
        ));
    }
}
