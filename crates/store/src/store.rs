use async_trait::async_trait;
use conclave_domain::{
    Attachment, AttachmentId, Channel, ChannelId, ChannelSummary, Command, Event, Membership,
    Message, MessageId, MessageVersion, NewAttachment, NewSession, NewUser, Outcome, Page,
    Position, Session, SessionId, User, UserId,
};

use crate::error::{StoreError, StoreResult};
use crate::features::{
    AccountStore, AuditStore, ComplianceStore, ExternalStore, IdentityStore, WebhookStore,
};

/// A public channel as the channel browser lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicChannel {
    pub channel: Channel,
    pub member_count: i64,
}

/// Everything Conclave persists. Reads are methods; every write that
/// produces events is a [`Command`] applied through [`Store::apply`], which
/// the [`crate::GroupCommitter`] calls with batches.
///
/// API boundary: implementations must make `apply` durable (fsync'd) before
/// returning, give events strictly increasing positions in commit order, and
/// extend the journal hash chain (see [`crate::journal`]).
#[async_trait]
pub trait Store:
    AccountStore
    + AuditStore
    + ComplianceStore
    + ExternalStore
    + IdentityStore
    + WebhookStore
    + Send
    + Sync
    + 'static
{
    /// Applies `commands` in one transaction. One failing command does not
    /// undo the others (each runs under its own savepoint); the outer error
    /// is for failures that lose the whole batch.
    async fn apply(&self, commands: Vec<Command>) -> StoreResult<Vec<StoreResult<Outcome>>>;

    async fn create_user(&self, user: NewUser) -> StoreResult<User>;
    async fn user_by_id(&self, id: UserId) -> StoreResult<Option<User>>;
    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>>;
    /// The stored password hash for a user, for sign-in.
    async fn password_hash(&self, id: UserId) -> StoreResult<Option<String>>;
    async fn users_by_ids(&self, ids: &[UserId]) -> StoreResult<Vec<User>>;
    async fn users_by_handles(&self, handles: &[String]) -> StoreResult<Vec<User>>;
    /// Active users whose name, handle or email contains `query`.
    async fn search_users(&self, query: &str, limit: i64) -> StoreResult<Vec<User>>;
    async fn count_users(&self) -> StoreResult<i64>;
    /// Ids of users deactivated at or after `since` (milliseconds), so a
    /// running server notices deactivations made by another process.
    async fn deactivated_since(&self, since: i64) -> StoreResult<Vec<(UserId, i64)>>;

    async fn create_session(&self, session: NewSession) -> StoreResult<Session>;
    /// The live session for a token hash with its user: not expired, not
    /// revoked.
    async fn session_by_token_hash(
        &self,
        token_hash: &str,
        now: i64,
    ) -> StoreResult<Option<(Session, User)>>;
    async fn revoke_session(&self, id: SessionId, at: i64) -> StoreResult<()>;
    async fn list_sessions(&self, user_id: UserId, now: i64) -> StoreResult<Vec<Session>>;

    async fn channel_by_id(&self, id: ChannelId) -> StoreResult<Option<Channel>>;
    async fn channel_by_name(&self, name: &str) -> StoreResult<Option<Channel>>;
    async fn conversation_by_key(&self, key: &str) -> StoreResult<Option<Channel>>;
    async fn membership(
        &self,
        channel_id: ChannelId,
        user_id: UserId,
    ) -> StoreResult<Option<Membership>>;
    async fn channel_member_ids(&self, channel_id: ChannelId) -> StoreResult<Vec<UserId>>;
    async fn user_channel_ids(&self, user_id: UserId) -> StoreResult<Vec<ChannelId>>;
    /// The people who share a direct or group conversation with `user_id`:
    /// whose presence they follow without asking.
    async fn conversation_partner_ids(&self, user_id: UserId) -> StoreResult<Vec<UserId>>;
    /// The caller's sidebar, with unread and mention counts.
    async fn channel_summaries(&self, user_id: UserId) -> StoreResult<Vec<ChannelSummary>>;
    async fn channel_summary(
        &self,
        user_id: UserId,
        channel_id: ChannelId,
    ) -> StoreResult<Option<ChannelSummary>>;
    async fn public_channels(&self) -> StoreResult<Vec<PublicChannel>>;
    /// Every public and private channel (archived, imported and customer
    /// conversations included; not direct conversations or groups), by
    /// name: what compliance officers name in holds, retention and exports.
    async fn named_channels(&self) -> StoreResult<Vec<PublicChannel>>;

    async fn message_by_id(&self, id: MessageId) -> StoreResult<Option<Message>>;
    /// A page of a channel's top-level messages (or of one thread, root
    /// first), in ascending id order, at most `limit` long, plus whether more
    /// exist before and after it.
    async fn messages(
        &self,
        channel_id: ChannelId,
        thread_id: Option<MessageId>,
        page: Page,
        limit: i64,
    ) -> StoreResult<(Vec<Message>, bool, bool)>;
    async fn message_by_client_id(
        &self,
        author_id: UserId,
        client_id: &str,
    ) -> StoreResult<Option<Message>>;
    async fn message_versions(&self, id: MessageId) -> StoreResult<Vec<MessageVersion>>;
    async fn pinned_messages(&self, channel_id: ChannelId) -> StoreResult<Vec<Message>>;

    async fn create_attachment(&self, attachment: NewAttachment) -> StoreResult<Attachment>;
    async fn attachment_by_id(&self, id: AttachmentId) -> StoreResult<Option<Attachment>>;

    /// Events after `after` that `user_id` may see, given the channels they
    /// belong to now, in position order, at most `limit`.
    async fn events_for_user(
        &self,
        user_id: UserId,
        after: Position,
        limit: i64,
    ) -> StoreResult<Vec<Event>>;
    /// The newest position, 0 when the log is empty.
    async fn head_position(&self) -> StoreResult<Position>;
    /// Recomputes the journal's hash chain. Answers the number of events
    /// checked, or the position of the first broken one.
    async fn verify_journal(&self) -> StoreResult<Result<u64, (Position, String)>>;

    /// A cheap round trip, for readiness.
    async fn ping(&self) -> StoreResult<()>;

    /// The keys content is sealed with; the server seals files with it too.
    fn keyring(&self) -> &std::sync::Arc<crate::Keyring>;
}

impl From<std::convert::Infallible> for StoreError {
    fn from(never: std::convert::Infallible) -> Self {
        match never {}
    }
}
