//! The WhatsApp Business Platform (Cloud API) connector: customers write to
//! a business number, Meta delivers their messages to the signed webhook,
//! and each customer number gets one customer conversation (a private
//! channel) per business number, whose members are the staff assigned to
//! that number. Staff replies are archived first, then sent through the
//! Graph API with retries; delivery statuses come back by webhook.
//!
//! Every customer message is an ordinary archive message (journalled,
//! retained, exported) written through the group-commit writer; the
//! connector's own tables only map Meta's ids to messages and keep delivery
//! statuses. This module must not write SQL; it speaks to the store and to
//! the Graph API (`graph`), nothing else.

pub mod config;
pub mod format;
pub mod graph;
pub mod media;
pub mod signature;
pub mod webhook;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use conclave_domain::command::OutcomeValue;
use conclave_domain::external::{
    DeliveryStatus, DeliveryUpdate, Direction, ExternalKind, NewExternalParticipant,
    NewWhatsAppConversation, WhatsAppConversation, WhatsAppMessageRecord,
};
use conclave_domain::{ChannelKind, Command, Message, NewAttachment, User, UserId, validate};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::error::{ApiError, ApiResult};
use crate::hub::Frame;
use crate::routes::submit;
use crate::state::AppState;
pub use config::{WhatsAppConfig, WhatsAppNumber};
use webhook::{InboundMessage, Notification, Status};

/// What the connector keeps between requests: the HTTP client for the
/// Graph API, and the replies being sent in the background.
pub struct Connector {
    pub http: reqwest::Client,
    /// Cancelled when the server shuts down: sends stop retrying and leave
    /// their replies queued for the next start ([`resume_queued`]).
    pub stopping: CancellationToken,
    /// The background sends, so shutdown can wait for them.
    pub sends: TaskTracker,
}

impl Connector {
    pub fn new() -> Connector {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .connect_timeout(std::time::Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        Connector {
            http,
            stopping: CancellationToken::new(),
            sends: TaskTracker::new(),
        }
    }

    /// Stops retries and waits, at most `patience`, for the sends under way
    /// to finish and record their outcome. A reply still queued afterwards
    /// is sent on the next start.
    pub async fn shut_down(&self, patience: std::time::Duration) {
        self.stopping.cancel();
        self.sends.close();
        if tokio::time::timeout(patience, self.sends.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                sends = self.sends.len(),
                "WhatsApp sends were still running at shutdown; their replies stay queued"
            );
        }
    }
}

impl Default for Connector {
    fn default() -> Self {
        Connector::new()
    }
}

/// Whether `user` answers the business number: assigned staff, and admins.
pub fn is_staff(config: &WhatsAppConfig, user: &User, phone_number_id: &str) -> bool {
    if !user.active {
        return false;
    }
    user.role.is_admin()
        || config.number(phone_number_id).is_some_and(|number| {
            number
                .staff
                .iter()
                .any(|email| validate::normalize_email(email) == user.email)
        })
}

/// What one webhook delivery did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    pub messages: usize,
    pub duplicates: usize,
    pub statuses: usize,
    pub ignored: usize,
}

/// Handles a verified delivery. A transient failure (the store or the Graph
/// API unavailable) is an error, so Meta delivers again later; what is
/// already stored is skipped then.
pub async fn receive(state: &AppState, notification: Notification) -> ApiResult<Received> {
    let mut received = Received::default();
    if notification.object != "whatsapp_business_account" {
        received.ignored += 1;
        return Ok(received);
    }
    for change in notification
        .entry
        .into_iter()
        .flat_map(|entry| entry.changes)
    {
        let Some(value) = change.value.filter(|_| change.field == "messages") else {
            received.ignored += 1;
            continue;
        };
        let Some(metadata) = value.metadata else {
            received.ignored += 1;
            continue;
        };
        let phone_number_id = metadata.phone_number_id;
        if state.config.whatsapp.number(&phone_number_id).is_none() {
            tracing::warn!(
                phone_number_id,
                "a delivery for a business number that is not configured was ignored"
            );
            received.ignored += value.messages.len() + value.statuses.len();
            continue;
        }
        for message in value.messages {
            let name = value
                .contacts
                .iter()
                .find(|contact| contact.wa_id == message.from)
                .and_then(|contact| contact.profile.as_ref())
                .map(|profile| profile.name.clone())
                .unwrap_or_default();
            if receive_message(state, &phone_number_id, &name, message).await? {
                received.messages += 1;
            } else {
                received.duplicates += 1;
            }
        }
        for status in value.statuses {
            if receive_status(state, status).await? {
                received.statuses += 1;
            } else {
                received.ignored += 1;
            }
        }
    }
    Ok(received)
}

/// A WhatsApp id: the customer's number in digits.
fn valid_wa_id(wa_id: &str) -> bool {
    (5..=20).contains(&wa_id.len()) && wa_id.chars().all(|c| c.is_ascii_digit())
}

/// The message's time: WhatsApp's Unix seconds, never in the future.
fn message_time(timestamp: &str) -> i64 {
    let now = crate::now_millis();
    timestamp
        .parse::<i64>()
        .ok()
        .and_then(|seconds| seconds.checked_mul(1000))
        .filter(|millis| *millis > 0)
        .map_or(now, |millis| millis.min(now))
}

/// Stores one inbound message; answers false when it was stored before.
async fn receive_message(
    state: &AppState,
    phone_number_id: &str,
    name: &str,
    message: InboundMessage,
) -> ApiResult<bool> {
    if !valid_wa_id(&message.from) || message.id.is_empty() || message.id.len() > 256 {
        tracing::warn!(
            kind = message.kind,
            "an inbound message with an invalid sender or id was ignored"
        );
        return Ok(false);
    }
    if state
        .store
        .whatsapp_message_by_wamid(&message.id)
        .await?
        .is_some()
    {
        return Ok(false);
    }
    let at = message_time(&message.timestamp);
    let customer = state
        .store
        .external_participant(NewExternalParticipant {
            kind: ExternalKind::Phone,
            phone: Some(format!("+{}", message.from)),
            display_name: if name.trim().is_empty() {
                format!("+{}", message.from)
            } else {
                name.to_string()
            },
            channel_id: None,
            source: "whatsapp_cloud".into(),
            at,
        })
        .await?;
    let conversation = conversation_for(
        state,
        phone_number_id,
        &message.from,
        customer.user_id,
        name,
    )
    .await?;

    if message.kind == "reaction" {
        let Some(reaction) = &message.reaction else {
            return Ok(false);
        };
        react(state, &conversation, customer.user_id, reaction, at).await?;
        state
            .store
            .note_whatsapp_inbound(conversation.channel_id, at)
            .await?;
        return Ok(true);
    }

    let mut text = message.archive_text();
    let mut attachment_ids = Vec::new();
    if let Some(media) = message.media() {
        match fetch_media(
            state,
            media,
            customer.user_id,
            conversation.channel_id,
            &message.kind,
        )
        .await
        {
            Ok(id) => attachment_ids.push(id),
            Err(error) if error.transient => {
                return Err(ApiError::Unavailable(format!(
                    "fetching media from the Graph API failed: {error}"
                )));
            }
            Err(error) => {
                tracing::warn!(%error, "a media file could not be fetched; the message is kept without it");
                let note = format!("[{} could not be fetched: {}]", message.kind, error.message);
                text = if text.is_empty() {
                    note
                } else {
                    format!("{text}\n{note}")
                };
            }
        }
    }
    let thread_id = replied_to(state, &conversation, &message).await?;
    let post = |thread_id: Option<i64>| {
        submit(
            state,
            Command::PostMessage {
                channel_id: conversation.channel_id,
                author_id: customer.user_id,
                thread_id,
                text: text.clone(),
                mentions: Vec::new(),
                attachment_ids: attachment_ids.clone(),
                client_id: Some(format!("wa:{}", message.id)),
                at,
            },
        )
    };
    let outcome = match post(thread_id).await {
        // The quoted message went away (retention) since it was looked up:
        // the customer's message is kept, outside a thread.
        Err(ApiError::NotFound(_)) if thread_id.is_some() => post(None).await?,
        other => other?,
    };
    let stored = match outcome.result {
        OutcomeValue::Message(message) => message,
        other => {
            return Err(ApiError::Internal(format!(
                "expected a message, got {other:?}"
            )));
        }
    };
    state
        .store
        .record_whatsapp_message(WhatsAppMessageRecord {
            message_id: stored.id,
            channel_id: conversation.channel_id,
            wamid: Some(message.id.clone()),
            direction: Direction::Inbound,
            kind: message.kind.clone(),
            status: DeliveryStatus::Received,
            error: None,
            request: None,
            attempts: 0,
            created_at: at,
            updated_at: at,
        })
        .await?;
    state
        .store
        .note_whatsapp_inbound(conversation.channel_id, at)
        .await?;
    Ok(true)
}

/// The archive message a customer's reply quotes (`context.id`), when it is
/// a message of this conversation: the customer's own or a staff reply
/// (known by its wamid once Meta accepted it). The customer's message is
/// then posted in that message's thread.
async fn replied_to(
    state: &AppState,
    conversation: &WhatsAppConversation,
    message: &InboundMessage,
) -> ApiResult<Option<i64>> {
    let Some(quoted) = message
        .context
        .as_ref()
        .and_then(|context| context.id.as_deref())
        .filter(|id| !id.is_empty())
    else {
        return Ok(None);
    };
    let record = state.store.whatsapp_message_by_wamid(quoted).await?;
    match record {
        Some(record) if record.channel_id == conversation.channel_id => Ok(Some(record.message_id)),
        _ => {
            tracing::debug!("a reply to a message outside the archive is kept unthreaded");
            Ok(None)
        }
    }
}

/// The customer conversation of this customer with this business number,
/// created on the first message with the number's staff as members.
async fn conversation_for(
    state: &AppState,
    phone_number_id: &str,
    wa_id: &str,
    customer_id: UserId,
    name: &str,
) -> ApiResult<WhatsAppConversation> {
    if let Some(conversation) = state
        .store
        .whatsapp_conversation(phone_number_id, wa_id)
        .await?
    {
        return Ok(conversation);
    }
    let mut staff = Vec::new();
    if let Some(number) = state.config.whatsapp.number(phone_number_id) {
        for email in &number.staff {
            match state
                .store
                .user_by_email(&validate::normalize_email(email))
                .await?
            {
                Some(user) if user.active => staff.push(user.id),
                _ => tracing::warn!(
                    phone_number_id,
                    "a configured WhatsApp staff member is not an active user"
                ),
            }
        }
    }
    let key = format!("whatsapp:{phone_number_id}:{wa_id}");
    let channel = match state.store.conversation_by_key(&key).await? {
        Some(channel) => channel,
        None => {
            let name_for_channel: String = format!("wa-{wa_id}-{phone_number_id}")
                .chars()
                .take(validate::MAX_CHANNEL_NAME_CHARS)
                .collect();
            let label = if name.trim().is_empty() {
                format!("+{wa_id}")
            } else {
                format!("{} (+{wa_id})", name.trim())
            };
            let topic: String = format!("WhatsApp customer {label}")
                .chars()
                .take(validate::MAX_TOPIC_CHARS)
                .collect();
            let created = submit(
                state,
                Command::CreateChannel {
                    kind: ChannelKind::Private,
                    name: name_for_channel,
                    topic,
                    creator_id: customer_id,
                    member_ids: staff,
                    conversation_key: Some(key.clone()),
                    read_only: false,
                    at: crate::now_millis(),
                },
            )
            .await;
            match created {
                Ok(outcome) => crate::routes::outcome_channel(outcome)?,
                // Another delivery created it a moment ago.
                Err(ApiError::Conflict(_)) => state
                    .store
                    .conversation_by_key(&key)
                    .await?
                    .ok_or(ApiError::NotFound("conversation"))?,
                Err(error) => return Err(error),
            }
        }
    };
    Ok(state
        .store
        .create_whatsapp_conversation(NewWhatsAppConversation {
            channel_id: channel.id,
            phone_number_id: phone_number_id.to_string(),
            customer_wa_id: wa_id.to_string(),
            customer_user_id: customer_id,
            at: crate::now_millis(),
        })
        .await?)
}

/// A customer's reaction to a message of the conversation; an empty emoji
/// takes their reaction back.
async fn react(
    state: &AppState,
    conversation: &WhatsAppConversation,
    customer_id: UserId,
    reaction: &webhook::Reaction,
    at: i64,
) -> ApiResult<()> {
    let Some(target) = state
        .store
        .whatsapp_message_by_wamid(&reaction.message_id)
        .await?
    else {
        tracing::debug!("a reaction to an unknown message was ignored");
        return Ok(());
    };
    if target.channel_id != conversation.channel_id {
        return Ok(());
    }
    let Some(message) = state.store.message_by_id(target.message_id).await? else {
        return Ok(());
    };
    if message.deleted_at.is_some() {
        return Ok(());
    }
    let previous: Vec<String> = message
        .reactions
        .iter()
        .filter(|summary| {
            summary.user_ids.contains(&customer_id) && summary.emoji != reaction.emoji
        })
        .map(|summary| summary.emoji.clone())
        .collect();
    // WhatsApp allows one reaction per person: a new one replaces the old.
    for emoji in previous {
        submit(
            state,
            Command::SetReaction {
                message_id: message.id,
                user_id: customer_id,
                emoji,
                present: false,
                at,
            },
        )
        .await?;
    }
    if !reaction.emoji.is_empty() && validate::emoji(&reaction.emoji).is_ok() {
        submit(
            state,
            Command::SetReaction {
                message_id: message.id,
                user_id: customer_id,
                emoji: reaction.emoji.clone(),
                present: true,
                at,
            },
        )
        .await?;
    }
    Ok(())
}

/// Downloads a media file through the Graph API into the blob store and
/// creates its attachment.
async fn fetch_media(
    state: &AppState,
    media: &webhook::MediaRef,
    uploader_id: UserId,
    channel_id: i64,
    kind: &str,
) -> Result<i64, graph::GraphError> {
    let config = &state.config.whatsapp;
    let limit = state.config.limits.max_upload_bytes;
    let (downloaded, _) =
        graph::with_retries(3, config.retry_base_ms, &state.connector.stopping, || {
            graph::download_media(&state.connector.http, config, &media.id, limit)
        })
        .await;
    let downloaded = downloaded?;
    let internal = |error: String| graph::GraphError {
        transient: true,
        message: error,
    };
    let digest = hex::encode(Sha256::digest(&downloaded.bytes));
    let key = crate::blobs::content_key("sha256", &digest, uploader_id);
    let size = i64::try_from(downloaded.bytes.len()).unwrap_or(i64::MAX);
    let content_type =
        crate::routes::files::sniff(&downloaded.bytes[..downloaded.bytes.len().min(8192)]);
    state
        .blobs
        .put_bytes(&key, downloaded.bytes, uploader_id)
        .await
        .map_err(|error| internal(format!("storing media: {error}")))?;
    let extension = downloaded
        .mime_type
        .as_deref()
        .or(media.mime_type.as_deref())
        .and_then(|mime| mime.split(';').next())
        .and_then(|mime| mime.rsplit('/').next())
        .unwrap_or("bin")
        .to_string();
    let name = media
        .filename
        .clone()
        .filter(|name| !name.trim().is_empty())
        .unwrap_or_else(|| format!("whatsapp-{kind}-{}.{extension}", &digest[..12]));
    let attachment = state
        .store
        .create_attachment(NewAttachment {
            uploader_id,
            channel_id,
            name: validate::sanitize_file_name(&name),
            content_type,
            size,
            sha256: digest,
            storage_key: key,
            thumbnail_key: None,
            width: None,
            height: None,
            created_at: crate::now_millis(),
        })
        .await
        .map_err(|error| internal(format!("recording media: {error}")))?;
    Ok(attachment.id)
}

/// Applies a status webhook to the outbound message it names; answers
/// whether a message was found.
async fn receive_status(state: &AppState, status: Status) -> ApiResult<bool> {
    let Some(record) = state.store.whatsapp_message_by_wamid(&status.id).await? else {
        tracing::debug!("a status for an unknown message was ignored");
        return Ok(false);
    };
    let Some(next) = DeliveryStatus::parse(&status.status).filter(|status| {
        matches!(
            status,
            DeliveryStatus::Sent
                | DeliveryStatus::Delivered
                | DeliveryStatus::Read
                | DeliveryStatus::Failed
        )
    }) else {
        return Ok(false);
    };
    let error = status.errors.first().map(webhook::StatusError::describe);
    let updated = state
        .store
        .update_whatsapp_delivery(DeliveryUpdate {
            message_id: record.message_id,
            status: next,
            wamid: None,
            error,
            attempts: 0,
            at: message_time(&status.timestamp),
        })
        .await?;
    if let Some(updated) = updated
        && updated.status != record.status
    {
        announce(state, &updated).await;
    }
    Ok(true)
}

/// Tells the conversation's members, over their sockets, that a message's
/// delivery status changed: `{"type": "whatsapp_status", …}`, an ephemeral
/// frame (the status itself is stored and readable through the API).
pub async fn announce(state: &AppState, record: &WhatsAppMessageRecord) {
    let members = match state.store.channel_member_ids(record.channel_id).await {
        Ok(members) => members,
        Err(error) => {
            tracing::warn!(%error, "cannot announce a delivery status");
            return;
        }
    };
    let text = json!({
        "type": "whatsapp_status",
        "channel_id": record.channel_id,
        "message_id": record.message_id,
        "status": public_status(record.status),
        "error": record.error,
        "updated_at": record.updated_at,
    })
    .to_string();
    state.hub.deliver(
        members.iter(),
        None,
        &Frame {
            position: 0,
            text: Arc::from(text),
        },
    );
}

/// A delivery status as clients see it: a reply being sent is still
/// `queued` to them (Meta has not accepted it); which process sends it is
/// the server's business.
pub fn public_status(status: DeliveryStatus) -> &'static str {
    match status {
        DeliveryStatus::Sending => DeliveryStatus::Queued.as_str(),
        other => other.as_str(),
    }
}

/// The Graph API body of a reply.
pub enum Outgoing {
    Text(String),
    Template {
        name: String,
        language: String,
        components: Vec<Value>,
    },
    /// Files, with the text as a caption or a message of its own.
    Media(media::MediaPlan),
}

impl Outgoing {
    pub fn kind(&self) -> &str {
        match self {
            Outgoing::Text(_) => "text",
            Outgoing::Template { .. } => "template",
            Outgoing::Media(plan) => plan.kind(),
        }
    }

    /// Meta's send-message JSON; for files, the plan the sender follows
    /// ([`media::MediaPlan::to_request`]).
    pub fn body(&self, to: &str) -> Value {
        match self {
            Outgoing::Media(plan) => plan.to_request(),
            Outgoing::Text(text) => json!({
                "messaging_product": "whatsapp",
                "recipient_type": "individual",
                "to": to,
                "type": "text",
                // The customer sees WhatsApp's formatting; the archive keeps
                // the agent's Markdown.
                "text": {"preview_url": false, "body": format::to_whatsapp(text)},
            }),
            Outgoing::Template {
                name,
                language,
                components,
            } => {
                let mut template = json!({"name": name, "language": {"code": language}});
                if !components.is_empty() {
                    template["components"] = Value::Array(components.clone());
                }
                json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": to, "type": "template", "template": template})
            }
        }
    }
}

/// Records an archived reply, claimed for sending by this process, and
/// sends it in the background; answers the record. A record that exists
/// already (a retried request with the same client_id) is answered as it
/// is, not sent again.
pub async fn queue_reply(
    state: &AppState,
    conversation: &WhatsAppConversation,
    message: &Message,
    outgoing: &Outgoing,
) -> ApiResult<WhatsAppMessageRecord> {
    let body = outgoing.body(&conversation.customer_wa_id);
    let now = crate::now_millis();
    let record = WhatsAppMessageRecord {
        message_id: message.id,
        channel_id: conversation.channel_id,
        wamid: None,
        direction: Direction::Outbound,
        kind: outgoing.kind().into(),
        // Recorded under this process's claim (its `updated_at`), so no
        // other process resumes it while this one sends.
        status: DeliveryStatus::Sending,
        error: None,
        request: Some(body.to_string()),
        attempts: 0,
        created_at: now,
        updated_at: now,
    };
    if !state.store.record_whatsapp_message(record.clone()).await? {
        return state
            .store
            .whatsapp_message(message.id)
            .await?
            .ok_or(ApiError::NotFound("message"));
    }
    spawn_send(
        state,
        conversation.phone_number_id.clone(),
        message.id,
        record.updated_at,
        body,
    );
    Ok(record)
}

/// Starts the background send of a reply claimed at `claimed_at`.
fn spawn_send(
    state: &AppState,
    phone_number_id: String,
    message_id: i64,
    claimed_at: i64,
    body: Value,
) {
    let task_state = state.clone();
    state.connector.sends.spawn(async move {
        send(task_state, phone_number_id, message_id, claimed_at, body).await
    });
}

/// How long a claim to send a reply lasts unless its sender renews it, as
/// it does before each try: longer than one try and the wait before it (the
/// HTTP client gives up after 30 seconds, the longest wait between tries is
/// 30 seconds), with a minute to spare. A reply still `sending` under an
/// older claim lost its sender (the process was killed) and may be claimed
/// again.
pub const CLAIM_LEASE_MILLIS: i64 = 30_000 + 30_000 + 60_000;

/// Sends, in the background, the replies no process is sending: those a
/// run left queued (it stopped while Meta was unreachable) and those whose
/// sender's claim lapsed (it was killed). The server calls it at start and
/// every minute after. Claiming them is one store
/// statement for every conversation of the configured business numbers, and
/// only one of several processes starting together wins each reply; replies
/// other processes are sending under a live claim are left to them.
/// Answers how many sends were started.
///
/// Delivery is at least once: a reply whose send reached Meta just before
/// its process died, unrecorded, goes out again once the claim lapses; the
/// Graph API has no idempotency key to prevent that.
pub async fn resume_queued(state: &AppState) -> ApiResult<usize> {
    let numbers: Vec<String> = state
        .config
        .whatsapp
        .numbers
        .iter()
        .map(|number| number.phone_number_id.clone())
        .collect();
    if numbers.is_empty() {
        return Ok(0);
    }
    let now = crate::now_millis();
    let stale_before = now - CLAIM_LEASE_MILLIS;
    let mut started = 0;
    for claimed in state
        .store
        .claim_whatsapp_sends(numbers, now, stale_before)
        .await?
    {
        let message_id = claimed.record.message_id;
        let body = claimed
            .record
            .request
            .as_deref()
            .and_then(|request| serde_json::from_str::<Value>(request).ok());
        let Some(body) = body else {
            tracing::warn!(
                message_id,
                "a queued WhatsApp reply has no readable request; it is not sent"
            );
            fail_unreadable(state, message_id).await;
            continue;
        };
        spawn_send(
            state,
            claimed.phone_number_id,
            message_id,
            claimed.record.updated_at,
            body,
        );
        started += 1;
    }
    if started > 0 {
        tracing::info!(
            replies = started,
            "sending WhatsApp replies that no process was sending"
        );
    }
    Ok(started)
}

/// Ends a claimed reply whose request cannot be read (its key is gone):
/// failed, so no process claims it again and again.
async fn fail_unreadable(state: &AppState, message_id: i64) {
    let update = DeliveryUpdate {
        message_id,
        status: DeliveryStatus::Failed,
        wamid: None,
        error: Some("the reply's request could not be read".into()),
        attempts: 0,
        at: crate::now_millis(),
    };
    match state.store.update_whatsapp_delivery(update).await {
        Ok(Some(record)) => announce(state, &record).await,
        Ok(None) => {}
        Err(error) => tracing::error!(%error, message_id, "recording a WhatsApp delivery failed"),
    }
}

/// Sends a claimed reply with retries and records the outcome. When the
/// server shuts down between tries the claim is given up: the reply is
/// queued again (its attempts and last error recorded) for the next start,
/// of this process or another, to send.
async fn send(
    state: AppState,
    phone_number_id: String,
    message_id: i64,
    claimed_at: i64,
    body: Value,
) {
    let config = &state.config.whatsapp;
    let stopping = &state.connector.stopping;
    let plan = match media::MediaPlan::from_request(&body) {
        None => None,
        Some(Ok(plan)) => Some(plan),
        Some(Err(error)) => {
            tracing::warn!(%error, message_id, "a queued WhatsApp media reply cannot be read");
            fail_unreadable(&state, message_id).await;
            return;
        }
    };
    let progress = media::Progress::default();
    // The claim's time, moved forward before each try. A claim that cannot
    // be renewed was lost (this process stalled past the lease and another
    // took the reply over): this one stops and records nothing.
    let held = AtomicI64::new(claimed_at);
    let lost = AtomicBool::new(false);
    let (result, tries) =
        graph::with_retries(config.send_attempts, config.retry_base_ms, stopping, || {
            let (held, lost) = (&held, &lost);
            let (state, phone_number_id, body) = (&state, &phone_number_id, &body);
            let (plan, progress) = (&plan, &progress);
            async move {
                let now = crate::now_millis();
                match state
                    .store
                    .renew_whatsapp_claim(message_id, held.load(Ordering::Relaxed), now)
                    .await
                {
                    Ok(true) => held.store(now, Ordering::Relaxed),
                    Ok(false) => {
                        lost.store(true, Ordering::Relaxed);
                        return Err(graph::GraphError::permanent("the claim to send was lost"));
                    }
                    Err(error) => return Err(graph::GraphError::transient(error.to_string())),
                }
                match plan {
                    Some(plan) => media::send_plan(state, phone_number_id, plan, progress).await,
                    None => {
                        graph::send_message(
                            &state.connector.http,
                            &state.config.whatsapp,
                            phone_number_id,
                            body,
                        )
                        .await
                    }
                }
            }
        })
        .await;
    if lost.load(Ordering::Relaxed) {
        tracing::warn!(
            message_id,
            tries,
            "another process took over a WhatsApp reply; this one stops"
        );
        return;
    }
    let update = match result {
        Ok(wamid) => DeliveryUpdate {
            message_id,
            status: DeliveryStatus::Sent,
            wamid: Some(wamid),
            error: None,
            attempts: i64::from(tries),
            at: crate::now_millis(),
        },
        Err(error) if error.transient && stopping.is_cancelled() => {
            tracing::info!(%error, message_id, tries, "shutting down: a WhatsApp reply stays queued");
            DeliveryUpdate {
                message_id,
                status: DeliveryStatus::Queued,
                wamid: None,
                error: Some(error.message),
                attempts: i64::from(tries),
                at: crate::now_millis(),
            }
        }
        Err(error) => {
            tracing::warn!(%error, message_id, tries, "a WhatsApp reply could not be sent");
            DeliveryUpdate {
                message_id,
                status: DeliveryStatus::Failed,
                wamid: None,
                error: Some(error.message),
                attempts: i64::from(tries),
                at: crate::now_millis(),
            }
        }
    };
    match state.store.update_whatsapp_delivery(update).await {
        Ok(Some(record)) => announce(&state, &record).await,
        Ok(None) => {}
        Err(error) => tracing::error!(%error, message_id, "recording a WhatsApp delivery failed"),
    }
}
