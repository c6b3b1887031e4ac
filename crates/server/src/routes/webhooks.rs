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
use serde_json::Value;
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
///
/// Blocks and attachments are read loosely (as JSON values): a field of
/// an unexpected shape is skipped rather than refusing the whole message.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct SlackPayload {
    /// In Slack mrkdwn, kept as written. The message itself when there
    /// are no blocks; only the notification fallback when blocks show
    /// anything.
    #[serde(default)]
    pub text: Option<String>,
    /// Shown after the text or blocks: each one's pretext, author, title
    /// (with its link), text, fields as `Title: value` lines, images, its
    /// own blocks and footer; its `fallback` when none of those is there.
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub attachments: Vec<Value>,
    /// Block Kit: `section` (text, fields, accessory), `header`,
    /// `context`, `rich_text`, `image`, `actions`, `video` and `divider`.
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub blocks: Vec<Value>,
}

/// One piece of the readable text: a line (or lines), or a divider that
/// shows only between two pieces of text.
enum Piece {
    Text(String),
    Divider,
}

impl SlackPayload {
    /// The message text, everything a Slack client would show, as the
    /// chat dialect the web client renders (`**bold**`, `[label](url)`,
    /// `> quotes`, `- lists`, fenced code): the blocks (or `text` when
    /// there are none, or they show nothing), then each attachment, one
    /// piece a line. `None` when nothing is shown at all.
    pub fn message_text(&self) -> Option<String> {
        let mut pieces = Vec::new();
        for block in &self.blocks {
            render_block(block, &mut pieces);
        }
        if !shows_text(&pieces) {
            pieces.clear();
            if let Some(text) = self.text.as_deref().filter(|text| !text.trim().is_empty()) {
                pieces.push(Piece::Text(text.to_string()));
            }
        }
        for attachment in &self.attachments {
            render_attachment(attachment, &mut pieces);
        }
        join_pieces(pieces)
    }
}

fn shows_text(pieces: &[Piece]) -> bool {
    pieces.iter().any(|piece| matches!(piece, Piece::Text(_)))
}

/// Joins the pieces a line apart; a divider becomes `---`, but only
/// between two pieces of text, and never two in a row.
fn join_pieces(pieces: Vec<Piece>) -> Option<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut divider_pending = false;
    for piece in pieces {
        match piece {
            Piece::Divider => divider_pending = !lines.is_empty(),
            Piece::Text(text) => {
                if divider_pending {
                    lines.push("---".to_string());
                    divider_pending = false;
                }
                lines.push(text);
            }
        }
    }
    (!lines.is_empty()).then(|| lines.join("\n"))
}

/// Adds `text` as a piece, without trailing blank lines; blank text adds
/// nothing.
fn push(pieces: &mut Vec<Piece>, text: Option<String>) {
    if let Some(text) = text {
        let text = text.trim_end();
        if !text.trim().is_empty() {
            pieces.push(Piece::Text(text.to_string()));
        }
    }
}

/// A string, number or boolean as text; `None` when absent, blank or of
/// another shape.
fn scalar(value: Option<&Value>) -> Option<String> {
    let text = match value? {
        Value::String(text) => text.clone(),
        Value::Number(number) => number.to_string(),
        Value::Bool(flag) => flag.to_string(),
        _ => return None,
    };
    (!text.trim().is_empty()).then_some(text)
}

/// A composition text object (`{"type": "mrkdwn", "text": …}`) or a bare
/// string, as text.
fn text_object(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::Object(object) => scalar(object.get("text")),
        other => scalar(Some(other)),
    }
}

fn field<'a>(value: &'a Value, key: &str) -> Option<&'a Value> {
    value.get(key)
}

fn kind(value: &Value) -> &str {
    value.get("type").and_then(Value::as_str).unwrap_or("")
}

fn elements(value: &Value) -> &[Value] {
    value
        .get("elements")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// `[label](url)` with the label's brackets escaped; the bare URL without
/// a label, the bare label without a URL.
fn link(label: Option<String>, url: Option<String>) -> Option<String> {
    match (label, url) {
        (Some(label), Some(url)) => Some(format!(
            "[{}]({url})",
            label.trim().replace('[', "\\[").replace(']', "\\]")
        )),
        (label, url) => label.or(url),
    }
}

/// An image as a link to it labelled by its alt text.
fn image(value: &Value) -> Option<String> {
    link(
        scalar(field(value, "alt_text")),
        scalar(field(value, "image_url")).or_else(|| scalar(field(value, "url"))),
    )
}

/// An element of a context or actions block, or a section's accessory.
fn element_text(element: &Value) -> Option<String> {
    match kind(element) {
        "image" => scalar(field(element, "alt_text")),
        "button" => link(
            text_object(field(element, "text")),
            scalar(field(element, "url")),
        ),
        _ => text_object(field(element, "text")),
    }
}

fn render_block(block: &Value, pieces: &mut Vec<Piece>) {
    match kind(block) {
        "divider" => pieces.push(Piece::Divider),
        "header" => push(
            pieces,
            text_object(field(block, "text")).map(|text| format!("**{}**", text.trim())),
        ),
        "section" => {
            push(pieces, text_object(field(block, "text")));
            let fields = block.get("fields").and_then(Value::as_array);
            for each in fields.into_iter().flatten() {
                push(pieces, text_object(Some(each)));
            }
            if let Some(accessory) = block.get("accessory") {
                let shown = if kind(accessory) == "image" {
                    image(accessory)
                } else {
                    element_text(accessory)
                };
                push(pieces, shown);
            }
        }
        "context" => push(pieces, joined(elements(block), " · ")),
        "actions" => push(pieces, joined(elements(block), " | ")),
        "image" => {
            push(pieces, text_object(field(block, "title")));
            push(pieces, image(block));
        }
        "video" => push(
            pieces,
            link(
                text_object(field(block, "title")),
                scalar(field(block, "title_url")).or_else(|| scalar(field(block, "video_url"))),
            ),
        ),
        "rich_text" => {
            for element in elements(block) {
                render_rich_text(element, pieces);
            }
        }
        // A future block: its text, if it has one.
        _ => push(pieces, text_object(field(block, "text"))),
    }
}

fn joined(elements: &[Value], separator: &str) -> Option<String> {
    let parts: Vec<String> = elements.iter().filter_map(element_text).collect();
    (!parts.is_empty()).then(|| parts.join(separator))
}

/// One element of a `rich_text` block: a section, list, quote or
/// preformatted text.
fn render_rich_text(element: &Value, pieces: &mut Vec<Piece>) {
    match kind(element) {
        "rich_text_list" => {
            let ordered = element.get("style").and_then(Value::as_str) == Some("ordered");
            let indent = element
                .get("indent")
                .and_then(Value::as_u64)
                .unwrap_or(0)
                .min(8) as usize;
            let items = elements(element)
                .iter()
                .map(|item| inline(elements(item), true))
                .filter(|item| !item.trim().is_empty());
            for (index, item) in items.enumerate() {
                let marker = if ordered {
                    format!("{}.", index + 1)
                } else {
                    "-".to_string()
                };
                let item = item.trim().replace('\n', " ");
                push(
                    pieces,
                    Some(format!("{}{marker} {item}", "  ".repeat(indent))),
                );
            }
        }
        "rich_text_quote" => {
            let text = inline(elements(element), true);
            let quoted: Vec<String> = text
                .trim_end()
                .lines()
                .map(|line| format!("> {line}"))
                .collect();
            push(pieces, Some(quoted.join("\n")));
        }
        "rich_text_preformatted" => {
            let text = inline(elements(element), false);
            if !text.trim().is_empty() {
                pieces.push(Piece::Text(format!("```\n{}\n```", text.trim_end())));
            }
        }
        // `rich_text_section`, and anything newer with inline elements.
        _ => push(pieces, Some(inline(elements(element), true))),
    }
}

/// The inline elements of a rich text section as one string; styles
/// (bold, italic, strike, code) only when `styled`.
fn inline(elements: &[Value], styled: bool) -> String {
    let mut out = String::new();
    for element in elements {
        let id = |key: &str| element.get(key).and_then(Value::as_str).unwrap_or("");
        match kind(element) {
            "text" => {
                let text = element.get("text").and_then(Value::as_str).unwrap_or("");
                let style = element.get("style").filter(|_| styled);
                let on = |name: &str| {
                    style
                        .and_then(|style| style.get(name))
                        .and_then(Value::as_bool)
                        .unwrap_or(false)
                };
                let mut text = text.to_string();
                for (name, marker) in [
                    ("code", "`"),
                    ("strike", "~~"),
                    ("italic", "_"),
                    ("bold", "**"),
                ] {
                    if on(name) {
                        text = wrap(&text, marker);
                    }
                }
                out.push_str(&text);
            }
            "link" => {
                let shown = link(
                    scalar(field(element, "text")),
                    scalar(field(element, "url")),
                );
                out.push_str(&shown.unwrap_or_default());
            }
            "emoji" => out.push_str(&around(":", id("name"), ":")),
            "user" => out.push_str(&around("<@", id("user_id"), ">")),
            "usergroup" => out.push_str(&around("<!subteam^", id("usergroup_id"), ">")),
            "channel" => out.push_str(&around("<#", id("channel_id"), ">")),
            "broadcast" => out.push_str(&around("@", id("range"), "")),
            "date" => out.push_str(
                &scalar(field(element, "fallback"))
                    .or_else(|| scalar(field(element, "timestamp")))
                    .unwrap_or_default(),
            ),
            "color" => out.push_str(id("value")),
            _ => out.push_str(&text_object(field(element, "text")).unwrap_or_default()),
        }
    }
    out
}

/// `id` between `before` and `after`; nothing when `id` is blank.
fn around(before: &str, id: &str, after: &str) -> String {
    if id.trim().is_empty() {
        String::new()
    } else {
        format!("{before}{id}{after}")
    }
}

/// `marker` around the text, outside its leading and trailing spaces (so
/// `"bold "` reads `**bold** `); blank text is left as it is.
fn wrap(text: &str, marker: &str) -> String {
    let core = text.trim();
    if core.is_empty() {
        return text.to_string();
    }
    let start = text.len() - text.trim_start().len();
    let end = start + core.len();
    format!("{}{marker}{core}{marker}{}", &text[..start], &text[end..])
}

/// One legacy attachment: pretext, author, title, text, fields, images,
/// its blocks and footer; its `fallback` when it shows none of them.
fn render_attachment(attachment: &Value, pieces: &mut Vec<Piece>) {
    let mut own = Vec::new();
    push(&mut own, scalar(field(attachment, "pretext")));
    push(
        &mut own,
        link(
            scalar(field(attachment, "author_name")),
            scalar(field(attachment, "author_link")),
        ),
    );
    let title = scalar(field(attachment, "title"));
    let title_link = scalar(field(attachment, "title_link"));
    push(
        &mut own,
        match (title, title_link) {
            (Some(title), None) => Some(format!("**{}**", title.trim())),
            (title, title_link) => link(title, title_link),
        },
    );
    push(&mut own, scalar(field(attachment, "text")));
    let fields = attachment.get("fields").and_then(Value::as_array);
    for each in fields.into_iter().flatten() {
        let line = match (scalar(field(each, "title")), scalar(field(each, "value"))) {
            (Some(title), Some(value)) => Some(format!("{}: {value}", title.trim())),
            (title, value) => title.or(value),
        };
        push(&mut own, line);
    }
    push(&mut own, scalar(field(attachment, "image_url")));
    push(&mut own, scalar(field(attachment, "thumb_url")));
    let blocks = attachment.get("blocks").and_then(Value::as_array);
    for block in blocks.into_iter().flatten() {
        render_block(block, &mut own);
    }
    push(&mut own, scalar(field(attachment, "footer")));
    if shows_text(&own) {
        pieces.extend(own);
    } else {
        push(pieces, scalar(field(attachment, "fallback")));
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
                Some("p\n**t**\nx"),
            ),
            (
                r#"{"blocks": [{"type": "header", "text": {"type": "plain_text", "text": "H"}},
                    {"type": "divider"},
                    {"type": "section", "text": {"type": "mrkdwn", "text": "S"}, "fields": [{"type": "mrkdwn", "text": "F"}]},
                    {"type": "image", "image_url": "https://x"}]}"#,
                Some("**H**\n---\nS\nF\nhttps://x"),
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

    /// Each shape Slack documents, as the senders that use it send it.
    #[test]
    fn every_shown_block_and_attachment_part_is_kept() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "alertmanager: text beside attachments with fields",
                r#"{"text": "1 alert firing", "attachments": [{
                    "color": "danger", "fallback": "[FIRING:1] HighCPU",
                    "title": "[FIRING:1] HighCPU", "title_link": "https://am.example/#/alerts",
                    "text": "*Summary:* CPU over 90%",
                    "fields": [{"title": "severity", "value": "critical", "short": true},
                               {"title": "instance", "value": "db-1:9100", "short": true}],
                    "footer": "alertmanager"}]}"#,
                "1 alert firing\n[\\[FIRING:1\\] HighCPU](https://am.example/#/alerts)\n\
                 *Summary:* CPU over 90%\nseverity: critical\ninstance: db-1:9100\nalertmanager",
            ),
            (
                "grafana: author, image, numeric field, footer",
                r#"{"text": "[Alerting] Disk", "attachments": [{
                    "author_name": "Grafana", "author_link": "https://grafana.example",
                    "title": "Disk full", "text": "/var at 97%",
                    "fields": [{"title": "used", "value": 97}, {"title": "", "value": "no title"}],
                    "image_url": "https://grafana.example/render/1.png",
                    "footer": "Grafana v11", "ts": 1700000000}]}"#,
                "[Alerting] Disk\n[Grafana](https://grafana.example)\n**Disk full**\n/var at 97%\n\
                 used: 97\nno title\nhttps://grafana.example/render/1.png\nGrafana v11",
            ),
            (
                "blocks make text only the notification fallback",
                r#"{"text": "fallback only", "blocks": [
                    {"type": "section", "text": {"type": "mrkdwn", "text": "*Deploy* done"},
                     "accessory": {"type": "image", "image_url": "https://x/i.png", "alt_text": "logo"}}]}"#,
                "*Deploy* done\n[logo](https://x/i.png)",
            ),
            (
                "blocks that show nothing fall back to text",
                r#"{"text": "the fallback", "blocks": [{"type": "divider"}], "attachments": [{"text": "att"}]}"#,
                "the fallback\natt",
            ),
            (
                "rich_text alone: sections, styles, lists, quotes, code",
                r#"{"blocks": [{"type": "rich_text", "elements": [
                    {"type": "rich_text_section", "elements": [
                        {"type": "text", "text": "Hello "},
                        {"type": "text", "text": "bold ", "style": {"bold": true}},
                        {"type": "text", "text": "it", "style": {"italic": true}},
                        {"type": "text", "text": " "},
                        {"type": "link", "url": "https://a.example", "text": "a"},
                        {"type": "emoji", "name": "tada"},
                        {"type": "user", "user_id": "U1"},
                        {"type": "broadcast", "range": "here"},
                        {"type": "user"}, {"type": "emoji", "name": ""},
                        {"type": "text", "text": "\n"}]},
                    {"type": "rich_text_list", "style": "bullet", "elements": [
                        {"type": "rich_text_section", "elements": [{"type": "text", "text": "one"}]},
                        {"type": "rich_text_section", "elements": [{"type": "text", "text": "two", "style": {"code": true}}]}]},
                    {"type": "rich_text_list", "style": "ordered", "indent": 1, "elements": [
                        {"type": "rich_text_section", "elements": [{"type": "text", "text": "first"}]}]},
                    {"type": "rich_text_quote", "elements": [{"type": "text", "text": "said\nthis"}]},
                    {"type": "rich_text_preformatted", "elements": [{"type": "text", "text": "let x = 1;", "style": {"bold": true}}]}]}]}"#,
                "Hello **bold** _it_ [a](https://a.example):tada:<@U1>@here\n- one\n- `two`\n  1. first\n\
                 > said\n> this\n```\nlet x = 1;\n```",
            ),
            (
                "context alone: text and image elements",
                r#"{"blocks": [{"type": "context", "elements": [
                    {"type": "image", "image_url": "https://x/a.png", "alt_text": "avatar"},
                    {"type": "mrkdwn", "text": "*Ann* approved"},
                    {"type": "plain_text", "text": "2 min ago"}]}]}"#,
                "avatar · *Ann* approved · 2 min ago",
            ),
            (
                "image alone: title, alt text and URL",
                r#"{"blocks": [{"type": "image", "title": {"type": "plain_text", "text": "Latency"},
                    "image_url": "https://x/p99.png", "alt_text": "p99 [ms]"}]}"#,
                "Latency\n[p99 \\[ms\\]](https://x/p99.png)",
            ),
            (
                "attachments[].blocks alone",
                r#"{"attachments": [{"color": "good", "blocks": [
                    {"type": "header", "text": {"type": "plain_text", "text": "Build passed"}},
                    {"type": "actions", "elements": [
                        {"type": "button", "text": {"type": "plain_text", "text": "Open"}, "url": "https://ci/1"},
                        {"type": "button", "text": {"type": "plain_text", "text": "Retry"}}]}]}]}"#,
                "**Build passed**\n[Open](https://ci/1) | Retry",
            ),
            (
                "a future block's text and a video",
                r#"{"blocks": [{"type": "markdown", "text": "**new** kind"},
                    {"type": "video", "title": {"type": "plain_text", "text": "Demo"}, "title_url": "https://v/1"}]}"#,
                "**new** kind\n[Demo](https://v/1)",
            ),
            (
                "fields of odd shapes are skipped, not refused",
                r#"{"blocks": [{"type": "section", "text": [5], "fields": "x"}, {"type": "header"}, 7],
                    "attachments": [{"fields": [{"title": {"x": 1}}], "fallback": "fb"}, "loose"]}"#,
                "fb",
            ),
        ];
        for (name, json, expected) in cases {
            assert_eq!(text_of(json).as_deref(), Some(*expected), "{name}");
        }
    }

    #[test]
    fn shown_nothing_is_no_text() {
        for json in [
            r#"{"blocks": [{"type": "divider"}, {"type": "rich_text", "elements": []}]}"#,
            r#"{"blocks": [{"type": "context", "elements": [{"type": "image", "image_url": "https://x"}]}]}"#,
            r#"{"attachments": [{"color": "danger", "fields": []}]}"#,
            r#"{"text": " ", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": " "}}]}"#,
        ] {
            assert_eq!(text_of(json), None, "{json}");
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
