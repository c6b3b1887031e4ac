//! Writes that produce events, as data. The server checks permissions, then
//! hands commands to the store's group-commit writer, which applies a batch
//! in one durable transaction and returns one outcome per command.

use crate::event::Event;
use crate::model::{
    AttachmentId, Channel, ChannelId, ChannelKind, Message, MessageId, Millis, UserId,
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    PostMessage {
        channel_id: ChannelId,
        author_id: UserId,
        thread_id: Option<MessageId>,
        text: String,
        mentions: Vec<UserId>,
        attachment_ids: Vec<AttachmentId>,
        client_id: Option<String>,
        at: Millis,
    },
    EditMessage {
        message_id: MessageId,
        editor_id: UserId,
        text: String,
        mentions: Vec<UserId>,
        at: Millis,
    },
    DeleteMessage {
        message_id: MessageId,
        actor_id: UserId,
        at: Millis,
    },
    SetReaction {
        message_id: MessageId,
        user_id: UserId,
        emoji: String,
        present: bool,
        at: Millis,
    },
    SetPinned {
        message_id: MessageId,
        actor_id: UserId,
        pinned: bool,
        at: Millis,
    },
    CreateChannel {
        kind: ChannelKind,
        name: String,
        topic: String,
        creator_id: UserId,
        member_ids: Vec<UserId>,
        /// For direct and group conversations: the sorted member ids, so the
        /// same set of people always finds the same conversation.
        conversation_key: Option<String>,
        read_only: bool,
        at: Millis,
    },
    UpdateChannel {
        channel_id: ChannelId,
        actor_id: UserId,
        name: Option<String>,
        topic: Option<String>,
        archived: Option<bool>,
        at: Millis,
    },
    SetMembership {
        channel_id: ChannelId,
        user_id: UserId,
        actor_id: UserId,
        member: bool,
        at: Millis,
    },
    MarkRead {
        channel_id: ChannelId,
        user_id: UserId,
        message_id: MessageId,
        at: Millis,
    },
    /// Deactivates a user and revokes every session they hold, in one step.
    DeactivateUser { user_id: UserId, at: Millis },
}

/// What one applied command produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub result: OutcomeValue,
    /// The events written, in position order; empty when nothing changed
    /// (for example a reaction that was already there).
    pub events: Vec<Event>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutcomeValue {
    Message(Message),
    Channel(Channel),
    None,
}
