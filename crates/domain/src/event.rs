//! Events: everything a client may be told about, each at a position in the
//! log. Replaying the log from a position reproduces what a live client saw.

use serde::{Deserialize, Serialize};

use crate::model::{
    AttachmentId, Channel, ChannelId, Message, MessageId, Millis, Position, User, UserId,
};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub position: Position,
    pub created_at: Millis,
    /// The channel whose members see this event, if any.
    pub channel_id: Option<ChannelId>,
    /// The user the event is about; they see it even when not a member
    /// (for example the user who just left a channel).
    pub subject_user_id: Option<UserId>,
    /// Only the subject sees a private event (read markers).
    pub private: bool,
    pub payload: EventPayload,
}

impl Event {
    /// Whether `user_id`, who is a member of the channels for which
    /// `is_member` answers true, may see this event.
    pub fn visible_to(&self, user_id: UserId, is_member: impl Fn(ChannelId) -> bool) -> bool {
        if self.subject_user_id == Some(user_id) {
            return true;
        }
        if self.private {
            return false;
        }
        self.channel_id.is_some_and(is_member)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventPayload {
    MessageCreated {
        message: Message,
    },
    MessageEdited {
        message: Message,
        previous_text: String,
    },
    MessageDeleted {
        channel_id: ChannelId,
        message_id: MessageId,
        thread_id: Option<MessageId>,
        deleted_by: UserId,
    },
    ReactionAdded {
        channel_id: ChannelId,
        message_id: MessageId,
        user_id: UserId,
        emoji: String,
    },
    ReactionRemoved {
        channel_id: ChannelId,
        message_id: MessageId,
        user_id: UserId,
        emoji: String,
    },
    MessagePinned {
        channel_id: ChannelId,
        message_id: MessageId,
        pinned: bool,
        actor_id: UserId,
    },
    ChannelCreated {
        channel: Channel,
        member_ids: Vec<UserId>,
    },
    ChannelUpdated {
        channel: Channel,
        actor_id: UserId,
    },
    MemberJoined {
        channel_id: ChannelId,
        user_id: UserId,
        actor_id: UserId,
    },
    MemberLeft {
        channel_id: ChannelId,
        user_id: UserId,
        actor_id: UserId,
    },
    ReadMarker {
        channel_id: ChannelId,
        message_id: MessageId,
    },
    UserDeactivated {
        user: User,
    },
    /// A compliance action (legal hold, retention, purge, erasure), as
    /// metadata only; seen by no client.
    Compliance {
        action: String,
        details: serde_json::Value,
    },
    /// One batch of an archive import (a WhatsApp export): the journal's
    /// record of many messages in one entry instead of one
    /// `message_created` each. Journalled as private without subject, so it
    /// is sent to no client; members read imported history over the API.
    MessagesImported {
        channel_id: ChannelId,
        messages: Vec<ImportedRecord>,
    },
}

/// One message inside a `messages_imported` journal entry: what its first
/// version was, as stored (the text sealed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportedRecord {
    pub id: MessageId,
    pub author_id: UserId,
    pub created_at: Millis,
    pub text: String,
    pub edited: bool,
    pub deleted: bool,
    pub attachment_ids: Vec<AttachmentId>,
    /// Set when retention or erasure blanked this record: the SHA-256 of
    /// the record as first journalled, so the entry's chain digest (which
    /// covers each record's digest) still verifies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redacted_sha256: Option<String>,
}

impl EventPayload {
    /// The stable name of this kind of event, as stored and sent.
    pub fn kind(&self) -> &'static str {
        match self {
            EventPayload::MessageCreated { .. } => "message_created",
            EventPayload::MessageEdited { .. } => "message_edited",
            EventPayload::MessageDeleted { .. } => "message_deleted",
            EventPayload::ReactionAdded { .. } => "reaction_added",
            EventPayload::ReactionRemoved { .. } => "reaction_removed",
            EventPayload::MessagePinned { .. } => "message_pinned",
            EventPayload::ChannelCreated { .. } => "channel_created",
            EventPayload::ChannelUpdated { .. } => "channel_updated",
            EventPayload::MemberJoined { .. } => "member_joined",
            EventPayload::MemberLeft { .. } => "member_left",
            EventPayload::ReadMarker { .. } => "read_marker",
            EventPayload::UserDeactivated { .. } => "user_deactivated",
            EventPayload::Compliance { .. } => "compliance",
            EventPayload::MessagesImported { .. } => "messages_imported",
        }
    }

    /// The copy of this payload a channel member may see: deleted messages
    /// never carry their text to members.
    pub fn redacted_for_members(self) -> EventPayload {
        match self {
            EventPayload::MessageCreated { message } => EventPayload::MessageCreated {
                message: message.redacted_for_members(),
            },
            EventPayload::MessageEdited {
                message,
                previous_text,
            } => {
                let deleted = message.deleted_at.is_some();
                EventPayload::MessageEdited {
                    message: message.redacted_for_members(),
                    previous_text: if deleted {
                        String::new()
                    } else {
                        previous_text
                    },
                }
            }
            other => other,
        }
    }
}
