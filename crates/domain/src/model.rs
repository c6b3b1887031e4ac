//! Entities: users, sessions, channels, memberships, messages, attachments.
//!
//! Times are milliseconds since the Unix epoch (UTC); formatting belongs to
//! the edges.

use serde::{Deserialize, Serialize};

pub type UserId = i64;
pub type ChannelId = i64;
pub type MessageId = i64;
pub type AttachmentId = i64;
pub type SessionId = i64;
/// A position in the event log: strictly increasing in commit order.
pub type Position = i64;
/// Milliseconds since the Unix epoch.
pub type Millis = i64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Owner,
    Admin,
    Compliance,
    Member,
    Guest,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Owner,
        Role::Admin,
        Role::Compliance,
        Role::Member,
        Role::Guest,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Compliance => "compliance",
            Role::Member => "member",
            Role::Guest => "guest",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|role| role.as_str() == text)
    }

    /// Owners and admins administer the workspace.
    pub fn is_admin(self) -> bool {
        matches!(self, Role::Owner | Role::Admin)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: UserId,
    pub email: String,
    /// Unique, lowercase; what `@mentions` refer to.
    pub handle: String,
    pub name: String,
    pub role: Role,
    pub active: bool,
    pub created_at: Millis,
    pub deactivated_at: Option<Millis>,
}

/// What is needed to create a user. The password hash is computed by the
/// caller, never here.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub email: String,
    pub handle: String,
    pub name: String,
    pub role: Role,
    pub password_hash: Option<String>,
    pub created_at: Millis,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub id: SessionId,
    pub user_id: UserId,
    pub created_at: Millis,
    pub expires_at: Millis,
    pub user_agent: Option<String>,
    pub address: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NewSession {
    /// SHA-256 of the bearer token; the token itself is never stored.
    pub token_hash: String,
    pub user_id: UserId,
    pub created_at: Millis,
    pub expires_at: Millis,
    pub user_agent: Option<String>,
    pub address: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    Public,
    Private,
    /// A conversation between exactly two people (or one, with oneself).
    Direct,
    /// A direct conversation between three or more people.
    Group,
}

impl ChannelKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Public => "public",
            ChannelKind::Private => "private",
            ChannelKind::Direct => "direct",
            ChannelKind::Group => "group",
        }
    }

    pub fn parse(text: &str) -> Option<ChannelKind> {
        [
            ChannelKind::Public,
            ChannelKind::Private,
            ChannelKind::Direct,
            ChannelKind::Group,
        ]
        .into_iter()
        .find(|kind| kind.as_str() == text)
    }

    pub fn is_conversation(self) -> bool {
        matches!(self, ChannelKind::Direct | ChannelKind::Group)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Channel {
    pub id: ChannelId,
    pub kind: ChannelKind,
    /// Empty for direct and group conversations.
    pub name: String,
    pub topic: String,
    pub archived: bool,
    /// Read-only channels (for example imported archives) accept no posts.
    pub read_only: bool,
    pub created_by: UserId,
    pub created_at: Millis,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    pub channel_id: ChannelId,
    pub user_id: UserId,
    pub joined_at: Millis,
    /// The newest message this member has read; 0 when none.
    pub last_read_message_id: MessageId,
}

/// A channel as one member sees it in their sidebar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelSummary {
    pub channel: Channel,
    pub member_ids: Vec<UserId>,
    pub last_read_message_id: MessageId,
    pub last_message_id: MessageId,
    pub unread_count: i64,
    pub mention_count: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub id: MessageId,
    pub channel_id: ChannelId,
    pub author_id: UserId,
    pub thread_id: Option<MessageId>,
    /// Empty once deleted: members see a tombstone, the text stays in the
    /// compliance record (see `MessageVersion`).
    pub text: String,
    pub mentions: Vec<UserId>,
    pub created_at: Millis,
    pub edited_at: Option<Millis>,
    pub deleted_at: Option<Millis>,
    pub pinned: bool,
    pub reply_count: i64,
    pub last_reply_at: Option<Millis>,
    pub reactions: Vec<ReactionSummary>,
    pub attachments: Vec<Attachment>,
    /// The sender's idempotency key, so a retried send is not posted twice.
    pub client_id: Option<String>,
}

impl Message {
    /// The view a member gets of a deleted message: no text, no files.
    pub fn redacted_for_members(mut self) -> Message {
        if self.deleted_at.is_some() {
            self.text.clear();
            self.mentions.clear();
            self.attachments.clear();
            self.reactions.clear();
        }
        self
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReactionSummary {
    pub emoji: String,
    pub user_ids: Vec<UserId>,
}

/// One prior or current text of a message; kept for every edit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageVersion {
    pub message_id: MessageId,
    pub version: i64,
    pub text: String,
    pub created_at: Millis,
    pub author_id: UserId,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    pub id: AttachmentId,
    pub uploader_id: UserId,
    pub channel_id: ChannelId,
    pub message_id: Option<MessageId>,
    pub name: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
    /// Where the blob store keeps the bytes.
    pub storage_key: String,
    pub thumbnail_key: Option<String>,
    pub width: Option<i64>,
    pub height: Option<i64>,
    pub created_at: Millis,
}

#[derive(Debug, Clone)]
pub struct NewAttachment {
    pub uploader_id: UserId,
    pub channel_id: ChannelId,
    pub name: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
    pub storage_key: String,
    pub thumbnail_key: Option<String>,
    pub width: Option<i64>,
    pub height: Option<i64>,
    pub created_at: Millis,
}

/// Which slice of a channel's history to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    /// The newest messages.
    Latest,
    /// Messages older than the given one, newest first from it.
    Before(MessageId),
    /// Messages newer than the given one.
    After(MessageId),
    /// Messages on both sides of the given one, including it.
    Around(MessageId),
}

/// One entry of the append-only audit log: who did what to what, when, and
/// from where, with the state before and after when it changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at: Millis,
    /// The acting user, when a signed-in person acted.
    pub actor_id: Option<UserId>,
    /// How the actor is known when not a user: "cli", "scim", "system".
    pub actor_label: String,
    /// A stable dotted name: "user.create", "user.deactivate", "hold.create", ...
    pub action: String,
    pub target_kind: String,
    pub target_id: Option<String>,
    pub address: Option<String>,
    /// JSON text of the state before and after, when something changed.
    pub before: Option<String>,
    pub after: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct NewAuditEntry {
    pub at: Millis,
    pub actor_id: Option<UserId>,
    pub actor_label: String,
    pub action: String,
    pub target_kind: String,
    pub target_id: Option<String>,
    pub address: Option<String>,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// Which audit entries to read; every field narrows the result.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub actor_id: Option<UserId>,
    /// Matches the action exactly, or a prefix ending in '.' ("user.").
    pub action: Option<String>,
    pub target_kind: Option<String>,
    pub target_id: Option<String>,
    pub from: Option<Millis>,
    pub to: Option<Millis>,
    /// Entries with ids below this one (for paging backwards).
    pub before_id: Option<i64>,
    pub limit: i64,
}
