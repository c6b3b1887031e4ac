//! Transport types: what the HTTP API reads and writes. Domain values are
//! converted by hand here, so the wire format changes only on purpose. The
//! OpenAPI document is generated from these types.

use conclave_domain::{
    Attachment, Channel, ChannelSummary, Event, Message, MessageVersion, ReactionSummary, Session,
    User,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UserDto {
    pub id: i64,
    pub email: String,
    pub handle: String,
    pub name: String,
    /// owner, admin, compliance, member or guest.
    pub role: String,
    pub active: bool,
    pub created_at: i64,
    pub deactivated_at: Option<i64>,
}

impl From<&User> for UserDto {
    fn from(user: &User) -> Self {
        UserDto {
            id: user.id,
            email: user.email.clone(),
            handle: user.handle.clone(),
            name: user.name.clone(),
            role: user.role.as_str().to_string(),
            active: user.active,
            created_at: user.created_at,
            deactivated_at: user.deactivated_at,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ChannelDto {
    pub id: i64,
    /// public, private, direct or group.
    pub kind: String,
    pub name: String,
    pub topic: String,
    pub archived: bool,
    pub read_only: bool,
    pub created_by: i64,
    pub created_at: i64,
}

impl From<&Channel> for ChannelDto {
    fn from(channel: &Channel) -> Self {
        ChannelDto {
            id: channel.id,
            kind: channel.kind.as_str().to_string(),
            name: channel.name.clone(),
            topic: channel.topic.clone(),
            archived: channel.archived,
            read_only: channel.read_only,
            created_by: channel.created_by,
            created_at: channel.created_at,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ChannelSummaryDto {
    pub channel: ChannelDto,
    pub member_ids: Vec<i64>,
    pub last_read_message_id: i64,
    /// The newest counted message: top-level messages, and in a WhatsApp
    /// customer conversation the customer's thread replies too.
    pub last_message_id: i64,
    /// Counted messages by others after the read marker.
    pub unread_count: i64,
    pub mention_count: i64,
}

impl From<&ChannelSummary> for ChannelSummaryDto {
    fn from(summary: &ChannelSummary) -> Self {
        ChannelSummaryDto {
            channel: ChannelDto::from(&summary.channel),
            member_ids: summary.member_ids.clone(),
            last_read_message_id: summary.last_read_message_id,
            last_message_id: summary.last_message_id,
            unread_count: summary.unread_count,
            mention_count: summary.mention_count,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BrowseChannelDto {
    pub channel: ChannelDto,
    pub member_count: i64,
    pub joined: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AttachmentDto {
    pub id: i64,
    pub message_id: Option<i64>,
    pub channel_id: i64,
    pub uploader_id: i64,
    pub name: String,
    /// Sniffed from the bytes, never taken from the client.
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
    pub width: Option<i64>,
    pub height: Option<i64>,
    pub has_thumbnail: bool,
    pub created_at: i64,
}

impl From<&Attachment> for AttachmentDto {
    fn from(attachment: &Attachment) -> Self {
        AttachmentDto {
            id: attachment.id,
            message_id: attachment.message_id,
            channel_id: attachment.channel_id,
            uploader_id: attachment.uploader_id,
            name: attachment.name.clone(),
            content_type: attachment.content_type.clone(),
            size: attachment.size,
            sha256: attachment.sha256.clone(),
            width: attachment.width,
            height: attachment.height,
            has_thumbnail: attachment.thumbnail_key.is_some(),
            created_at: attachment.created_at,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReactionDto {
    pub emoji: String,
    pub user_ids: Vec<i64>,
}

impl From<&ReactionSummary> for ReactionDto {
    fn from(reaction: &ReactionSummary) -> Self {
        ReactionDto {
            emoji: reaction.emoji.clone(),
            user_ids: reaction.user_ids.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MessageDto {
    pub id: i64,
    pub channel_id: i64,
    pub author_id: i64,
    pub thread_id: Option<i64>,
    /// Empty for a deleted message.
    pub text: String,
    pub mentions: Vec<i64>,
    pub created_at: i64,
    pub edited_at: Option<i64>,
    pub deleted_at: Option<i64>,
    pub pinned: bool,
    pub reply_count: i64,
    pub last_reply_at: Option<i64>,
    pub reactions: Vec<ReactionDto>,
    pub attachments: Vec<AttachmentDto>,
    pub client_id: Option<String>,
}

impl MessageDto {
    /// The view every member gets: deleted messages are tombstones.
    pub fn for_members(message: &Message) -> MessageDto {
        MessageDto::from(&message.clone().redacted_for_members())
    }
}

impl From<&Message> for MessageDto {
    fn from(message: &Message) -> Self {
        MessageDto {
            id: message.id,
            channel_id: message.channel_id,
            author_id: message.author_id,
            thread_id: message.thread_id,
            text: message.text.clone(),
            mentions: message.mentions.clone(),
            created_at: message.created_at,
            edited_at: message.edited_at,
            deleted_at: message.deleted_at,
            pinned: message.pinned,
            reply_count: message.reply_count,
            last_reply_at: message.last_reply_at,
            reactions: message.reactions.iter().map(ReactionDto::from).collect(),
            attachments: message
                .attachments
                .iter()
                .map(AttachmentDto::from)
                .collect(),
            client_id: message.client_id.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MessageVersionDto {
    pub version: i64,
    pub text: String,
    pub created_at: i64,
    pub author_id: i64,
}

impl From<&MessageVersion> for MessageVersionDto {
    fn from(version: &MessageVersion) -> Self {
        MessageVersionDto {
            version: version.version,
            text: version.text.clone(),
            created_at: version.created_at,
            author_id: version.author_id,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SessionDto {
    pub id: i64,
    pub created_at: i64,
    pub expires_at: i64,
    pub user_agent: Option<String>,
    pub address: Option<String>,
    pub current: bool,
}

impl SessionDto {
    pub fn new(session: &Session, current: bool) -> SessionDto {
        SessionDto {
            id: session.id,
            created_at: session.created_at,
            expires_at: session.expires_at,
            user_agent: session.user_agent.clone(),
            address: session.address.clone(),
            current,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
    /// The current TOTP code, for accounts with MFA.
    pub totp: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LoginResponse {
    pub token: String,
    pub user: UserDto,
    /// The organisation requires MFA and this account has none: until it
    /// enrols (POST /api/v1/me/mfa/totp), other endpoints answer 403
    /// `mfa_enrolment_required`.
    pub mfa_enrolment_required: bool,
    /// The current acceptable-use policy is not accepted yet: until it is
    /// (POST /api/v1/policy/accept), other endpoints answer 403
    /// `policy_acceptance_required`.
    pub policy_acceptance_required: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateUserRequest {
    pub email: String,
    pub name: String,
    pub role: Option<String>,
    pub password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateChannelRequest {
    pub name: String,
    /// public or private.
    pub kind: String,
    pub topic: Option<String>,
    pub member_ids: Option<Vec<i64>>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct OpenConversationRequest {
    /// The other people; include nobody else to talk to yourself.
    pub user_ids: Vec<i64>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct UpdateChannelRequest {
    pub name: Option<String>,
    pub topic: Option<String>,
    pub archived: Option<bool>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AddMemberRequest {
    pub user_id: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct MarkReadRequest {
    pub message_id: i64,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct PostMessageRequest {
    #[serde(default)]
    pub text: String,
    pub thread_id: Option<i64>,
    #[serde(default)]
    pub attachment_ids: Vec<i64>,
    /// An idempotency key chosen by the client (at most 64 characters).
    pub client_id: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct EditMessageRequest {
    pub text: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MessagePage {
    /// In ascending id order.
    pub messages: Vec<MessageDto>,
    pub has_more_before: bool,
    pub has_more_after: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    pub status: String,
}

/// The JSON of an event as clients receive it over the WebSocket.
pub fn event_json(event: &Event) -> serde_json::Value {
    serde_json::to_value(&event.payload).unwrap_or(serde_json::Value::Null)
}
