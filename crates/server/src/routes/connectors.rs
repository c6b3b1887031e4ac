//! External channels: the WhatsApp Cloud API webhook (mounted under
//! `/connectors` by [`crate::router`]) and the customer inbox API under
//! `/api/v1/whatsapp` ([`api_router`]): list a business number's customer
//! conversations, claim, assign or release one, reply (free text inside the 24-hour
//! service window, templates always), and follow delivery statuses.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use conclave_domain::external::{WhatsAppConversation, WhatsAppMessageRecord};
use conclave_domain::{Command, Page, User};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, OpenApi, ToSchema};

use super::{ApiJson, ApiPath, ApiQuery, readable_channel, submit};
use crate::api::{ChannelSummaryDto, MessageDto, PostMessageRequest};
use crate::auth::Authed;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::whatsapp::{self, Outgoing, is_staff};

/// Meta's webhook bodies are small; anything above this is refused.
pub const MAX_WEBHOOK_BYTES: usize = 1024 * 1024;

/// This module's routes, relative to `/connectors`.
pub fn router() -> Router<AppState> {
    Router::new().route(
        "/whatsapp/webhook",
        get(verify)
            .post(deliver)
            .layer(DefaultBodyLimit::max(MAX_WEBHOOK_BYTES)),
    )
}

/// The customer inbox API, relative to `/api/v1`.
pub fn api_router() -> Router<AppState> {
    Router::new()
        .route("/whatsapp/numbers", get(numbers))
        .route("/whatsapp/conversations", get(conversations))
        .route("/whatsapp/conversations/{id}", get(conversation))
        .route("/whatsapp/conversations/{id}/claim", post(claim))
        .route("/whatsapp/conversations/{id}/assign", post(assign))
        .route("/whatsapp/conversations/{id}/release", post(release))
        .route("/whatsapp/conversations/{id}/messages", post(reply))
        .route("/whatsapp/conversations/{id}/deliveries", get(deliveries))
}

/// This module's part of the OpenAPI document, merged into the whole.
#[derive(OpenApi)]
#[openapi(
    paths(
        verify,
        deliver,
        numbers,
        conversations,
        conversation,
        claim,
        assign,
        release,
        reply,
        deliveries
    ),
    components(schemas(
        NumberDto,
        ConversationDto,
        CustomerDto,
        DeliveryDto,
        ReplyRequest,
        TemplateRequest,
        ReplyResponse,
        AssignRequest
    ))
)]
pub struct Doc;

#[derive(Debug, Deserialize, IntoParams)]
pub struct VerifyQuery {
    #[serde(rename = "hub.mode")]
    #[param(rename = "hub.mode")]
    pub mode: Option<String>,
    #[serde(rename = "hub.verify_token")]
    #[param(rename = "hub.verify_token")]
    pub verify_token: Option<String>,
    #[serde(rename = "hub.challenge")]
    #[param(rename = "hub.challenge")]
    pub challenge: Option<String>,
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .fold(0u8, |difference, (x, y)| difference | (x ^ y))
            == 0
}

/// Meta's verification handshake: answers `hub.challenge` as plain text
/// when `hub.verify_token` matches the configured token.
#[utoipa::path(get, path = "/connectors/whatsapp/webhook", tag = "whatsapp", params(VerifyQuery),
    responses((status = 200, description = "The challenge, as text/plain"), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)))]
pub async fn verify(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<VerifyQuery>,
) -> ApiResult<Response> {
    let config = &state.config.whatsapp;
    if !config.webhook_enabled() {
        return Err(ApiError::NotFound("WhatsApp connector"));
    }
    let token_matches = query
        .verify_token
        .as_deref()
        .is_some_and(|token| constant_time_eq(token.as_bytes(), config.verify_token.as_bytes()));
    if query.mode.as_deref() != Some("subscribe") || !token_matches {
        return Err(ApiError::forbidden("the verify token does not match"));
    }
    let challenge = query.challenge.unwrap_or_default();
    if challenge.len() > 256 || challenge.chars().any(char::is_control) {
        return Err(ApiError::InvalidRequest(
            "hub.challenge is not a plausible challenge".into(),
        ));
    }
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; charset=utf-8",
        )],
        challenge,
    )
        .into_response())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryReceipt {
    pub messages: usize,
    pub duplicates: usize,
    pub statuses: usize,
    pub ignored: usize,
}

/// A signed delivery from Meta: messages and statuses.
#[utoipa::path(post, path = "/connectors/whatsapp/webhook", tag = "whatsapp",
    request_body(content = String, content_type = "application/json", description = "Meta's webhook notification, signed with X-Hub-Signature-256"),
    responses((status = 200, body = DeliveryReceipt), (status = 401, body = crate::error::ErrorBody), (status = 413, body = crate::error::ErrorBody), (status = 503, body = crate::error::ErrorBody)))]
pub async fn deliver(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<DeliveryReceipt>> {
    let config = &state.config.whatsapp;
    if !config.webhook_enabled() {
        return Err(ApiError::NotFound("WhatsApp connector"));
    }
    let body = body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge(format!(
            "webhook bodies may be at most {MAX_WEBHOOK_BYTES} bytes"
        )),
        _ => ApiError::InvalidRequest(rejection.body_text()),
    })?;
    let header = headers
        .get("x-hub-signature-256")
        .and_then(|value| value.to_str().ok());
    if !whatsapp::signature::verify(&config.app_secret, &body, header) {
        return Err(ApiError::InvalidSignature);
    }
    let notification: whatsapp::webhook::Notification =
        serde_json::from_slice(&body).map_err(|error| {
            ApiError::InvalidRequest(format!("not a WhatsApp notification: {error}"))
        })?;
    let received = whatsapp::receive(&state, notification).await?;
    Ok(Json(DeliveryReceipt {
        messages: received.messages,
        duplicates: received.duplicates,
        statuses: received.statuses,
        ignored: received.ignored,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NumberDto {
    pub phone_number_id: String,
    /// The staff assigned to the number who are users.
    pub staff_ids: Vec<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerDto {
    pub user_id: i64,
    pub name: String,
    /// The WhatsApp id: the number's digits.
    pub wa_id: String,
    /// The number with a leading +.
    pub phone: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConversationDto {
    /// The conversation's channel: read and follow it with the channel and
    /// message APIs and the WebSocket.
    pub channel_id: i64,
    pub phone_number_id: String,
    pub customer: CustomerDto,
    pub assignee_id: Option<i64>,
    pub last_inbound_at: Option<i64>,
    /// Whether free-text replies are allowed now (24 hours after the last
    /// customer message); otherwise only templates.
    pub window_open: bool,
    pub window_closes_at: Option<i64>,
    pub created_at: i64,
    /// The caller's view of the channel (unread counts), when a member.
    pub summary: Option<ChannelSummaryDto>,
    /// The newest message outside threads, from the customer or a reply,
    /// as members see it (a deleted one is a tombstone with no text): the
    /// inbox shows it as the conversation's preview line and time.
    pub last_message: Option<MessageDto>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryDto {
    pub message_id: i64,
    /// Meta's message id, once known.
    pub wamid: Option<String>,
    /// inbound or outbound.
    pub direction: String,
    /// text, image, template, …
    pub kind: String,
    /// received (inbound), queued, sent, delivered, read or failed.
    pub status: String,
    pub error: Option<String>,
    pub attempts: i64,
    pub updated_at: i64,
}

impl From<&WhatsAppMessageRecord> for DeliveryDto {
    fn from(record: &WhatsAppMessageRecord) -> Self {
        DeliveryDto {
            message_id: record.message_id,
            wamid: record.wamid.clone(),
            direction: record.direction.as_str().into(),
            kind: record.kind.clone(),
            status: whatsapp::public_status(record.status).into(),
            error: record.error.clone(),
            attempts: record.attempts,
            updated_at: record.updated_at,
        }
    }
}

async fn conversation_dto(
    state: &AppState,
    user: &User,
    conversation: &WhatsAppConversation,
) -> ApiResult<ConversationDto> {
    let summary = state
        .store
        .channel_summary(user.id, conversation.channel_id)
        .await?;
    let (latest, _, _) = state
        .store
        .messages(conversation.channel_id, None, Page::Latest, 1)
        .await?;
    Ok(ConversationDto {
        channel_id: conversation.channel_id,
        phone_number_id: conversation.phone_number_id.clone(),
        customer: CustomerDto {
            user_id: conversation.customer_user_id,
            name: conversation.customer_name.clone(),
            wa_id: conversation.customer_wa_id.clone(),
            phone: format!("+{}", conversation.customer_wa_id),
        },
        assignee_id: conversation.assignee_id,
        last_inbound_at: conversation.last_inbound_at,
        window_open: conversation.window_open(crate::now_millis()),
        window_closes_at: conversation.window_closes_at(),
        created_at: conversation.created_at,
        summary: summary.as_ref().map(ChannelSummaryDto::from),
        last_message: latest.last().map(MessageDto::for_members),
    })
}

/// The conversation, for staff of its business number (and members of its
/// channel, such as an assignee who is no longer staff).
async fn visible_conversation(
    state: &AppState,
    user: &User,
    channel_id: i64,
) -> ApiResult<WhatsAppConversation> {
    let conversation = state
        .store
        .whatsapp_conversation_by_channel(channel_id)
        .await?
        .ok_or(ApiError::NotFound("conversation"))?;
    let member = state.store.membership(channel_id, user.id).await?.is_some();
    if !member && !is_staff(&state.config.whatsapp, user, &conversation.phone_number_id) {
        return Err(ApiError::NotFound("conversation"));
    }
    Ok(conversation)
}

/// The business numbers the caller answers.
#[utoipa::path(get, path = "/api/v1/whatsapp/numbers", tag = "whatsapp", security(("bearer" = [])),
    responses((status = 200, body = [NumberDto])))]
pub async fn numbers(
    State(state): State<AppState>,
    authed: Authed,
) -> ApiResult<Json<Vec<NumberDto>>> {
    let mut numbers = Vec::new();
    for number in &state.config.whatsapp.numbers {
        if !is_staff(
            &state.config.whatsapp,
            &authed.user,
            &number.phone_number_id,
        ) {
            continue;
        }
        let mut staff_ids = Vec::new();
        for email in &number.staff {
            if let Some(user) = state
                .store
                .user_by_email(&conclave_domain::validate::normalize_email(email))
                .await?
            {
                staff_ids.push(user.id);
            }
        }
        numbers.push(NumberDto {
            phone_number_id: number.phone_number_id.clone(),
            staff_ids,
        });
    }
    Ok(Json(numbers))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ConversationsQuery {
    /// Only this business number's conversations.
    pub phone_number_id: Option<String>,
    /// "me" (assigned to the caller), "none" (unclaimed) or absent (all).
    pub assignee: Option<String>,
}

/// Customer conversations of the caller's business numbers, latest
/// customer message first.
#[utoipa::path(get, path = "/api/v1/whatsapp/conversations", tag = "whatsapp", security(("bearer" = [])),
    params(ConversationsQuery), responses((status = 200, body = [ConversationDto])))]
pub async fn conversations(
    State(state): State<AppState>,
    authed: Authed,
    ApiQuery(query): ApiQuery<ConversationsQuery>,
) -> ApiResult<Json<Vec<ConversationDto>>> {
    let config = &state.config.whatsapp;
    let numbers: Vec<String> = config
        .numbers
        .iter()
        .map(|number| number.phone_number_id.clone())
        .filter(|id| is_staff(config, &authed.user, id))
        .filter(|id| {
            query
                .phone_number_id
                .as_ref()
                .is_none_or(|wanted| wanted == id)
        })
        .collect();
    let assignee = match query.assignee.as_deref() {
        None => None,
        Some("me") => Some(Some(authed.user.id)),
        Some("none") => Some(None),
        Some(other) => {
            return Err(ApiError::InvalidRequest(format!(
                "assignee must be me or none, not {other:?}"
            )));
        }
    };
    let mut answer = Vec::new();
    for conversation in state.store.whatsapp_conversations(numbers).await? {
        if assignee.is_some_and(|wanted| wanted != conversation.assignee_id) {
            continue;
        }
        answer.push(conversation_dto(&state, &authed.user, &conversation).await?);
    }
    Ok(Json(answer))
}

/// One customer conversation.
#[utoipa::path(get, path = "/api/v1/whatsapp/conversations/{id}", tag = "whatsapp", security(("bearer" = [])),
    params(("id" = i64, Path, description = "The conversation's channel id")), responses((status = 200, body = ConversationDto), (status = 404, body = crate::error::ErrorBody)))]
pub async fn conversation(
    State(state): State<AppState>,
    authed: Authed,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<ConversationDto>> {
    let conversation = visible_conversation(&state, &authed.user, id).await?;
    Ok(Json(
        conversation_dto(&state, &authed.user, &conversation).await?,
    ))
}

async fn assign_to(
    state: &AppState,
    actor: &User,
    conversation: &WhatsAppConversation,
    assignee: Option<&User>,
) -> ApiResult<ConversationDto> {
    assign_as(state, actor, conversation, assignee, "whatsapp.assign").await
}

/// Sets (or clears) the assignee and records `action` in the audit log.
async fn assign_as(
    state: &AppState,
    actor: &User,
    conversation: &WhatsAppConversation,
    assignee: Option<&User>,
    action: &'static str,
) -> ApiResult<ConversationDto> {
    if let Some(assignee) = assignee {
        if !is_staff(
            &state.config.whatsapp,
            assignee,
            &conversation.phone_number_id,
        ) {
            return Err(ApiError::forbidden(
                "only staff of this business number can take the conversation",
            ));
        }
        submit(
            state,
            Command::SetMembership {
                channel_id: conversation.channel_id,
                user_id: assignee.id,
                actor_id: actor.id,
                member: true,
                at: crate::now_millis(),
            },
        )
        .await?;
    }
    let updated = state
        .store
        .set_whatsapp_assignee(conversation.channel_id, assignee.map(|user| user.id))
        .await?;
    crate::audit::record(
        &*state.store,
        &crate::audit::Actor::user(actor, None),
        crate::audit::Change::new(action, "channel", conversation.channel_id)
            .before(&serde_json::json!({"assignee_id": conversation.assignee_id}))
            .after(&serde_json::json!({"assignee_id": updated.assignee_id})),
    )
    .await?;
    conversation_dto(state, actor, &updated).await
}

/// Claims the conversation for the caller (staff of its number).
#[utoipa::path(post, path = "/api/v1/whatsapp/conversations/{id}/claim", tag = "whatsapp", security(("bearer" = [])),
    params(("id" = i64, Path)), responses((status = 200, body = ConversationDto), (status = 403, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)))]
pub async fn claim(
    State(state): State<AppState>,
    authed: Authed,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<ConversationDto>> {
    let conversation = visible_conversation(&state, &authed.user, id).await?;
    if let Some(current) = conversation
        .assignee_id
        .filter(|current| *current != authed.user.id)
    {
        return Err(ApiError::Conflict(format!(
            "the conversation is claimed by user {current}; ask them or an admin to reassign it"
        )));
    }
    Ok(Json(
        assign_to(&state, &authed.user, &conversation, Some(&authed.user)).await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AssignRequest {
    /// The staff member to assign, or null to release the conversation.
    pub user_id: Option<i64>,
}

/// Assigns (or, with `user_id: null`, releases) the conversation: admins,
/// and its current assignee.
#[utoipa::path(post, path = "/api/v1/whatsapp/conversations/{id}/assign", tag = "whatsapp", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = AssignRequest, responses((status = 200, body = ConversationDto), (status = 403, body = crate::error::ErrorBody)))]
pub async fn assign(
    State(state): State<AppState>,
    authed: Authed,
    ApiPath(id): ApiPath<i64>,
    ApiJson(request): ApiJson<AssignRequest>,
) -> ApiResult<Json<ConversationDto>> {
    let conversation = visible_conversation(&state, &authed.user, id).await?;
    let may = authed.user.role.is_admin()
        || conversation
            .assignee_id
            .is_none_or(|current| current == authed.user.id);
    if !may {
        return Err(ApiError::forbidden(
            "only an admin or the current assignee can reassign the conversation",
        ));
    }
    let assignee = match request.user_id {
        Some(user_id) => Some(
            state
                .store
                .user_by_id(user_id)
                .await?
                .filter(|user| user.active)
                .ok_or(ApiError::NotFound("user"))?,
        ),
        None => None,
    };
    Ok(Json(
        assign_to(&state, &authed.user, &conversation, assignee.as_ref()).await?,
    ))
}

/// Releases the conversation: nobody is assigned afterwards and any staff
/// member may claim it. Admins and the current assignee; releasing a
/// conversation nobody has changes nothing (and is not audited).
#[utoipa::path(post, path = "/api/v1/whatsapp/conversations/{id}/release", tag = "whatsapp", security(("bearer" = [])),
    params(("id" = i64, Path)), responses((status = 200, body = ConversationDto), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)))]
pub async fn release(
    State(state): State<AppState>,
    authed: Authed,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<ConversationDto>> {
    let conversation = visible_conversation(&state, &authed.user, id).await?;
    let Some(current) = conversation.assignee_id else {
        return Ok(Json(
            conversation_dto(&state, &authed.user, &conversation).await?,
        ));
    };
    if !authed.user.role.is_admin() && current != authed.user.id {
        return Err(ApiError::forbidden(
            "only an admin or the current assignee can release the conversation",
        ));
    }
    Ok(Json(
        assign_as(
            &state,
            &authed.user,
            &conversation,
            None,
            "whatsapp.release",
        )
        .await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct TemplateRequest {
    /// The approved template's name.
    pub name: String,
    /// Its language code, e.g. en_US.
    pub language: String,
    /// Meta's template components (header, body, button parameters), as Meta
    /// documents them.
    #[serde(default)]
    pub components: Vec<Value>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ReplyRequest {
    /// A free-text reply (only within the 24-hour service window).
    pub text: Option<String>,
    /// A template message (allowed at any time).
    pub template: Option<TemplateRequest>,
    /// Files uploaded for this conversation's channel (`POST /api/v1/files`),
    /// sent in this order, with `text` (optional then) as the first file's
    /// caption where it takes one. Only within the service window; not with
    /// a template.
    #[serde(default)]
    pub attachment_ids: Vec<i64>,
    /// An idempotency key (at most 64 characters): a repeated request
    /// answers the first reply and sends nothing twice.
    pub client_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReplyResponse {
    /// The reply as archived in the conversation's channel.
    pub message: MessageDto,
    /// Its delivery: queued at first; `whatsapp_status` frames follow.
    pub delivery: DeliveryDto,
}

fn template_text(template: &TemplateRequest) -> String {
    let parameters: Vec<&str> = template
        .components
        .iter()
        .filter_map(|component| component.get("parameters").and_then(Value::as_array))
        .flatten()
        .filter_map(|parameter| parameter.get("text").and_then(Value::as_str))
        .collect();
    if parameters.is_empty() {
        format!("[template {} ({})]", template.name, template.language)
    } else {
        format!(
            "[template {} ({})] {}",
            template.name,
            template.language,
            parameters.join(" · ")
        )
    }
}

fn validate_template(template: &TemplateRequest) -> ApiResult<()> {
    let name_ok = !template.name.is_empty()
        && template.name.len() <= 512
        && template
            .name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    let language_ok = (2..=15).contains(&template.language.len())
        && template
            .language
            .chars()
            .all(|c| c.is_ascii_alphabetic() || c == '_');
    if !name_ok {
        return Err(ApiError::InvalidRequest(
            "template.name must be lowercase letters, digits and '_'".into(),
        ));
    }
    if !language_ok {
        return Err(ApiError::InvalidRequest(
            "template.language must be a language code such as en_US".into(),
        ));
    }
    if template.components.len() > 10
        || template
            .components
            .iter()
            .any(|component| !component.is_object())
    {
        return Err(ApiError::InvalidRequest(
            "template.components must be at most 10 objects".into(),
        ));
    }
    for component in &template.components {
        if component.get("type").and_then(Value::as_str) == Some("body") {
            validate_body_parameters(component)?;
        }
    }
    Ok(())
}

/// Meta's rules for a body component's text parameters ({{1}}, {{2}}, …),
/// checked here so the agent hears at once rather than from a failed
/// delivery (Meta's error 132018): text that is not empty, without
/// new lines or tabs, and without more than four spaces in a row.
fn validate_body_parameters(component: &Value) -> ApiResult<()> {
    let Some(parameters) = component.get("parameters") else {
        return Ok(());
    };
    let parameters = parameters.as_array().ok_or_else(|| {
        ApiError::InvalidRequest("the body component's parameters must be a list".into())
    })?;
    if parameters.len() > MAX_BODY_PARAMETERS {
        return Err(ApiError::InvalidRequest(format!(
            "a template body takes at most {MAX_BODY_PARAMETERS} parameters"
        )));
    }
    for (index, parameter) in parameters.iter().enumerate() {
        let position = index + 1;
        if parameter.get("type").and_then(Value::as_str) != Some("text") {
            continue;
        }
        let text = parameter
            .get("text")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let problem = if text.trim().is_empty() {
            Some("is empty")
        } else if text.chars().count() > MAX_PARAMETER_CHARS {
            Some("is longer than 1024 characters")
        } else if text.contains(['\n', '\r', '\t']) {
            Some("contains a new line or a tab")
        } else if text.contains("     ") {
            Some("contains more than four spaces in a row")
        } else {
            None
        };
        if let Some(problem) = problem {
            return Err(ApiError::InvalidRequest(format!(
                "template body parameter {{{{{position}}}}} {problem}"
            )));
        }
    }
    Ok(())
}

/// Meta's limits for a template body's parameters.
const MAX_BODY_PARAMETERS: usize = 100;
const MAX_PARAMETER_CHARS: usize = 1024;

/// Replies to the customer: archived at once, then sent through the Graph
/// API with retries. Free text and files only inside the service window
/// (`whatsapp_window_closed` otherwise); templates at any time. Files are
/// uploaded to Meta and sent as image, video, audio or document messages.
#[utoipa::path(post, path = "/api/v1/whatsapp/conversations/{id}/messages", tag = "whatsapp", security(("bearer" = [])),
    params(("id" = i64, Path)), request_body = ReplyRequest,
    responses((status = 201, body = ReplyResponse), (status = 403, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody), (status = 413, body = crate::error::ErrorBody)))]
pub async fn reply(
    State(state): State<AppState>,
    authed: Authed,
    ApiPath(id): ApiPath<i64>,
    ApiJson(request): ApiJson<ReplyRequest>,
) -> ApiResult<(StatusCode, Json<ReplyResponse>)> {
    let conversation = visible_conversation(&state, &authed.user, id).await?;
    readable_channel(&state, &authed.user, conversation.channel_id).await?;
    let attachment_ids = request.attachment_ids;
    let (outgoing, text) = match (request.text, request.template) {
        (text, None) if !attachment_ids.is_empty() => {
            if !conversation.window_open(crate::now_millis()) {
                return Err(ApiError::WhatsAppWindowClosed(
                    "more than 24 hours have passed since the customer's last message; send an approved template instead".into(),
                ));
            }
            let text = text.unwrap_or_default();
            let attachments =
                reply_attachments(&state, &authed.user, &conversation, &attachment_ids).await?;
            let plan =
                whatsapp::media::MediaPlan::new(&conversation.customer_wa_id, &text, &attachments);
            (Outgoing::Media(plan), text)
        }
        (Some(text), None) => {
            if !conversation.window_open(crate::now_millis()) {
                return Err(ApiError::WhatsAppWindowClosed(
                    "more than 24 hours have passed since the customer's last message; send an approved template instead".into(),
                ));
            }
            (Outgoing::Text(text.clone()), text)
        }
        (None, Some(_)) if !attachment_ids.is_empty() => {
            return Err(ApiError::InvalidRequest(
                "a template reply cannot carry attachments".into(),
            ));
        }
        (None, Some(template)) => {
            validate_template(&template)?;
            let text = template_text(&template);
            (
                Outgoing::Template {
                    name: template.name,
                    language: template.language,
                    components: template.components,
                },
                text,
            )
        }
        _ => {
            return Err(ApiError::InvalidRequest(
                "give either text (with or without attachment_ids) or template".into(),
            ));
        }
    };
    if matches!(outgoing, Outgoing::Text(_) | Outgoing::Media(_)) && text.chars().count() > 4096 {
        return Err(ApiError::InvalidRequest(
            "WhatsApp text messages may be at most 4096 characters".into(),
        ));
    }
    let message = super::messages::post_message(
        &state,
        &authed.user,
        conversation.channel_id,
        PostMessageRequest {
            text,
            thread_id: None,
            attachment_ids,
            client_id: request.client_id,
        },
    )
    .await?;
    let delivery = whatsapp::queue_reply(&state, &conversation, &message, &outgoing).await?;
    Ok((
        StatusCode::CREATED,
        Json(ReplyResponse {
            message: MessageDto::for_members(&message),
            delivery: DeliveryDto::from(&delivery),
        }),
    ))
}

/// Most files one reply carries, as for a chat message.
const MAX_REPLY_ATTACHMENTS: usize = 10;

/// The files a reply carries, in the order given: uploaded by the caller
/// for this conversation's channel, not sent yet, and within Meta's size
/// limit for the type they go as (refused with 413 before anything is
/// archived or queued).
async fn reply_attachments(
    state: &AppState,
    user: &User,
    conversation: &WhatsAppConversation,
    ids: &[i64],
) -> ApiResult<Vec<conclave_domain::Attachment>> {
    if ids.len() > MAX_REPLY_ATTACHMENTS {
        return Err(ApiError::InvalidRequest(format!(
            "attach at most {MAX_REPLY_ATTACHMENTS} files to one reply"
        )));
    }
    let mut attachments = Vec::with_capacity(ids.len());
    for (index, id) in ids.iter().enumerate() {
        if ids[..index].contains(id) {
            return Err(ApiError::InvalidRequest(format!(
                "file {id} is attached twice"
            )));
        }
        let attachment = state
            .store
            .attachment_by_id(*id)
            .await?
            .filter(|attachment| attachment.uploader_id == user.id)
            .ok_or(ApiError::NotFound("file"))?;
        if attachment.channel_id != conversation.channel_id || attachment.message_id.is_some() {
            return Err(ApiError::InvalidRequest(format!(
                "file {id} was not uploaded for this conversation or is already sent"
            )));
        }
        let kind = whatsapp::media::media_kind(&attachment.content_type);
        let limit = whatsapp::media::size_limit(kind);
        if u64::try_from(attachment.size).unwrap_or(u64::MAX) > limit {
            return Err(ApiError::PayloadTooLarge(format!(
                "WhatsApp takes a file sent as {kind} of at most {} MB; {} is {:.1} MB",
                limit / (1024 * 1024),
                attachment.name,
                attachment.size as f64 / (1024.0 * 1024.0)
            )));
        }
        attachments.push(attachment);
    }
    Ok(attachments)
}

/// The WhatsApp side of the conversation's messages: direction, Meta's ids
/// and delivery statuses.
#[utoipa::path(get, path = "/api/v1/whatsapp/conversations/{id}/deliveries", tag = "whatsapp", security(("bearer" = [])),
    params(("id" = i64, Path)), responses((status = 200, body = [DeliveryDto])))]
pub async fn deliveries(
    State(state): State<AppState>,
    authed: Authed,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Vec<DeliveryDto>>> {
    let conversation = visible_conversation(&state, &authed.user, id).await?;
    let records = state
        .store
        .whatsapp_messages(conversation.channel_id)
        .await?;
    Ok(Json(records.iter().map(DeliveryDto::from).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_are_checked_and_archived_readably() {
        let template: TemplateRequest = serde_json::from_value(serde_json::json!({
            "name": "order_update", "language": "en_US",
            "components": [{"type": "body", "parameters": [{"type": "text", "text": "#1234"}, {"type": "text", "text": "Tuesday"}]}]
        }))
        .unwrap();
        assert!(validate_template(&template).is_ok());
        assert_eq!(
            template_text(&template),
            "[template order_update (en_US)] #1234 · Tuesday"
        );
        for (name, language) in [
            ("Order Update", "en_US"),
            ("ok", "en-US; drop"),
            ("", "en"),
            ("ok", "e"),
        ] {
            let bad = TemplateRequest {
                name: name.into(),
                language: language.into(),
                components: vec![],
            };
            assert!(validate_template(&bad).is_err(), "{name} {language}");
        }
    }

    #[test]
    fn body_parameters_follow_metas_rules() {
        let template = |parameters: Value| TemplateRequest {
            name: "order_update".into(),
            language: "de".into(),
            components: vec![serde_json::json!({"type": "body", "parameters": parameters})],
        };
        let text = |text: &str| serde_json::json!({"type": "text", "text": text});
        let cases = [
            (
                serde_json::json!([text("#1234"), text("Tuesday 10:00")]),
                None,
            ),
            (serde_json::json!([]), None),
            (
                serde_json::json!([{"type": "currency", "currency": {"fallback_value": "$10", "code": "USD", "amount_1000": 10000}}]),
                None,
            ),
            (
                serde_json::json!([text("#1234"), text("  ")]),
                Some("template body parameter {{2}} is empty"),
            ),
            (
                serde_json::json!([text("line one\nline two")]),
                Some("template body parameter {{1}} contains a new line or a tab"),
            ),
            (
                serde_json::json!([text("a     b")]),
                Some("template body parameter {{1}} contains more than four spaces in a row"),
            ),
            (
                serde_json::json!([text(&"x".repeat(1025))]),
                Some("template body parameter {{1}} is longer than 1024 characters"),
            ),
            (
                serde_json::json!({"1": "x"}),
                Some("the body component's parameters must be a list"),
            ),
        ];
        for (parameters, expected) in cases {
            let answer = validate_template(&template(parameters.clone()));
            match (answer, expected) {
                (Ok(()), None) => {}
                (Err(ApiError::InvalidRequest(message)), Some(expected)) => {
                    assert_eq!(message, expected, "{parameters}");
                }
                (answer, expected) => panic!("{parameters}: {answer:?}, expected {expected:?}"),
            }
        }
    }

    #[test]
    fn tokens_compare_in_constant_time_and_exactly() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
    }
}
