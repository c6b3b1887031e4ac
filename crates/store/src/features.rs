//! Feature traits that [`crate::Store`] requires. Each feature owns its
//! trait here and its implementation in its own file of each backend
//! (`audit.rs`, `compliance.rs`, `external.rs`, `identity.rs`,
//! `webhooks.rs`), so features grow without touching one another.

use async_trait::async_trait;
use conclave_domain::{AuditEntry, AuditFilter, NewAuditEntry};

use crate::StoreResult;

/// The append-only audit log of administrative and security actions.
#[async_trait]
pub trait AuditStore: Send + Sync {
    async fn append_audit(&self, entry: NewAuditEntry) -> StoreResult<AuditEntry>;
    /// Newest first, narrowed by `filter`.
    async fn audit_entries(&self, filter: AuditFilter) -> StoreResult<Vec<AuditEntry>>;
}

use conclave_domain::compliance::{
    ArchivedChannel, ArchivedMessage, ErasureOutcome, ExportFilter, HoldId, LegalHold,
    MembershipChange, NewLegalHold, PurgeReport, RetentionPolicy, RetentionScope,
};

/// Retention, legal holds, eDiscovery export and erasure (issue: compliance
/// archive). Every change is journalled as an `EventPayload::Compliance`
/// entry holding metadata only; content removed by retention or erasure is
/// also removed from the journal, whose chain stays verifiable through the
/// payload digests recorded in `journal_redactions`.
#[async_trait]
pub trait ComplianceStore: Send + Sync {
    /// Creates an active hold; names are unique (a taken name is a
    /// `Conflict`), custodians and channels must exist (`NotFound`).
    async fn create_hold(&self, hold: NewLegalHold) -> StoreResult<LegalHold>;
    /// Holds by creation, newest first; released ones only when asked.
    async fn holds(&self, include_released: bool) -> StoreResult<Vec<LegalHold>>;
    async fn hold_by_name(&self, name: &str) -> StoreResult<Option<LegalHold>>;
    /// Releases an active hold (`NotFound` when unknown, `Invalid` when
    /// already released).
    async fn release_hold(&self, id: HoldId, at: conclave_domain::Millis)
    -> StoreResult<LegalHold>;

    /// Sets (or, with `days: None`, makes "forever") one policy.
    async fn set_retention(
        &self,
        scope: RetentionScope,
        days: Option<i64>,
        at: conclave_domain::Millis,
    ) -> StoreResult<RetentionPolicy>;
    async fn retention_policies(&self) -> StoreResult<Vec<RetentionPolicy>>;
    /// Deletes every message older than its channel's retention at `now`,
    /// unless a hold covers it, with its versions, mentions, reactions and
    /// attachment rows, and scrubs its journal entries. A thread root is
    /// kept while any reply is kept. Answers counts and the blob keys no
    /// attachment refers to any more.
    async fn purge_expired(&self, now: conclave_domain::Millis) -> StoreResult<PurgeReport>;
    /// Makes what `user_id` authored unrecoverable (texts, versions,
    /// attachments, journal copies) and anonymises their profile, unless a
    /// hold covers them.
    async fn erase_user(
        &self,
        user_id: conclave_domain::UserId,
        at: conclave_domain::Millis,
    ) -> StoreResult<ErasureOutcome>;

    /// Channels with at least one message the filter selects, by id.
    async fn export_channels(&self, filter: &ExportFilter) -> StoreResult<Vec<ArchivedChannel>>;
    /// Up to `limit` messages of one channel selected by `filter`, with ids
    /// above `after`, in id order, each with every version.
    async fn export_messages(
        &self,
        filter: &ExportFilter,
        channel_id: conclave_domain::ChannelId,
        after: conclave_domain::MessageId,
        limit: i64,
    ) -> StoreResult<Vec<ArchivedMessage>>;
    /// Joins and leaves of one channel in `[from, to)`, from the journal.
    async fn membership_changes(
        &self,
        channel_id: conclave_domain::ChannelId,
        from: Option<conclave_domain::Millis>,
        to: Option<conclave_domain::Millis>,
    ) -> StoreResult<Vec<MembershipChange>>;

    /// The journal's head (position and hash), for a checkpoint an outside
    /// party keeps; `(0, GENESIS_HASH)` when empty.
    async fn journal_head(&self) -> StoreResult<(conclave_domain::Position, String)>;
    /// The stored hash at `position`, to compare with a checkpoint.
    async fn journal_hash_at(
        &self,
        position: conclave_domain::Position,
    ) -> StoreResult<Option<String>>;
}

use conclave_domain::external::{
    ClaimedSend, DeliveryUpdate, ExternalChannel, ExternalParticipant, ImportBatchOutcome,
    ImportRun, ImportedMessage, NewExternalParticipant, NewWhatsAppConversation,
    WhatsAppConversation, WhatsAppImportChannel, WhatsAppMessageRecord,
};

/// Conversations captured from outside: WhatsApp imports and the Cloud API
/// connector. Writes that produce events (a new import channel, imported
/// messages) extend the journal inside their own transaction, as `apply`
/// does; the rest are bookkeeping beside the messages.
#[async_trait]
pub trait ExternalStore: Send + Sync {
    /// Finds the outside person with this identity, or creates them with a
    /// user row that can never sign in.
    async fn external_participant(
        &self,
        participant: NewExternalParticipant,
    ) -> StoreResult<ExternalParticipant>;
    async fn external_participant_by_user(
        &self,
        user_id: conclave_domain::UserId,
    ) -> StoreResult<Option<ExternalParticipant>>;

    /// Creates the read-only archive channel of a WhatsApp export, or finds
    /// the one of that name (refusing a channel that is not a WhatsApp
    /// import), adding missing members; answers it and whether it is new.
    async fn open_whatsapp_import(
        &self,
        request: WhatsAppImportChannel,
    ) -> StoreResult<(conclave_domain::Channel, bool)>;
    async fn external_channel(
        &self,
        channel_id: conclave_domain::ChannelId,
    ) -> StoreResult<Option<ExternalChannel>>;
    /// Which of `keys` are already stored in the channel.
    async fn known_import_keys(
        &self,
        channel_id: conclave_domain::ChannelId,
        keys: Vec<conclave_domain::external::ImportKey>,
    ) -> StoreResult<Vec<conclave_domain::external::ImportKey>>;
    /// Stores imported messages in one transaction, skipping keys already
    /// stored, journalled together in one private `messages_imported`
    /// event at time `at` (none when every key was stored before).
    async fn import_whatsapp_messages(
        &self,
        channel_id: conclave_domain::ChannelId,
        messages: Vec<ImportedMessage>,
        at: conclave_domain::Millis,
    ) -> StoreResult<ImportBatchOutcome>;
    async fn record_import_run(&self, run: ImportRun) -> StoreResult<()>;

    /// Records a Cloud API customer conversation whose channel exists;
    /// answers the stored one when it was recorded before.
    async fn create_whatsapp_conversation(
        &self,
        conversation: NewWhatsAppConversation,
    ) -> StoreResult<WhatsAppConversation>;
    async fn whatsapp_conversation(
        &self,
        phone_number_id: &str,
        customer_wa_id: &str,
    ) -> StoreResult<Option<WhatsAppConversation>>;
    async fn whatsapp_conversation_by_channel(
        &self,
        channel_id: conclave_domain::ChannelId,
    ) -> StoreResult<Option<WhatsAppConversation>>;
    /// The conversations of these business numbers, latest customer
    /// message first.
    async fn whatsapp_conversations(
        &self,
        phone_number_ids: Vec<String>,
    ) -> StoreResult<Vec<WhatsAppConversation>>;
    async fn set_whatsapp_assignee(
        &self,
        channel_id: conclave_domain::ChannelId,
        assignee_id: Option<conclave_domain::UserId>,
    ) -> StoreResult<WhatsAppConversation>;
    /// Moves the conversation's last customer message time forward to `at`.
    async fn note_whatsapp_inbound(
        &self,
        channel_id: conclave_domain::ChannelId,
        at: conclave_domain::Millis,
    ) -> StoreResult<()>;
    /// Records a message's WhatsApp side; answers false when a record for
    /// that message or wamid exists already.
    async fn record_whatsapp_message(&self, record: WhatsAppMessageRecord) -> StoreResult<bool>;
    async fn whatsapp_message(
        &self,
        message_id: conclave_domain::MessageId,
    ) -> StoreResult<Option<WhatsAppMessageRecord>>;
    async fn whatsapp_message_by_wamid(
        &self,
        wamid: &str,
    ) -> StoreResult<Option<WhatsAppMessageRecord>>;
    /// Applies a delivery status when it moves the message forward (see
    /// `DeliveryStatus::may_become`); the wamid, error and attempts are
    /// recorded either way. Answers the record after the update.
    async fn update_whatsapp_delivery(
        &self,
        update: DeliveryUpdate,
    ) -> StoreResult<Option<WhatsAppMessageRecord>>;
    /// The channel's WhatsApp message records, oldest first.
    async fn whatsapp_messages(
        &self,
        channel_id: conclave_domain::ChannelId,
    ) -> StoreResult<Vec<WhatsAppMessageRecord>>;
    /// Claims for sending, in one statement, every outbound reply of these
    /// business numbers' conversations that is `queued`, or `sending` under
    /// a claim made at or before `stale_before` (its claimer died): each
    /// becomes `sending` with `updated_at` = `now`. A reply is claimed by
    /// one caller only, however many processes ask at once. Answers the
    /// claimed replies, oldest first, with their requests opened.
    async fn claim_whatsapp_sends(
        &self,
        phone_number_ids: Vec<String>,
        now: conclave_domain::Millis,
        stale_before: conclave_domain::Millis,
    ) -> StoreResult<Vec<ClaimedSend>>;
    /// Renews a claim to send a reply: when the reply is still `sending`
    /// under the claim made at `held`, the claim's time becomes `now`.
    /// Answers false when the claim was lost (it lapsed and another caller
    /// claimed the reply, or the reply is no longer being sent).
    async fn renew_whatsapp_claim(
        &self,
        message_id: conclave_domain::MessageId,
        held: conclave_domain::Millis,
        now: conclave_domain::Millis,
    ) -> StoreResult<bool>;
}

/// Identity administration: SCIM, groups, departments, MFA, policies.
#[async_trait]
pub trait IdentityStore: Send + Sync {
    // Authentication: MFA, lockout, SSO, acceptable use

    /// An account's consecutive sign-in failures and lock.
    async fn login_throttle(
        &self,
        user_id: conclave_domain::UserId,
    ) -> StoreResult<conclave_domain::auth::LoginThrottle>;
    /// Counts one failed sign-in. The `max_failures`-th consecutive failure
    /// locks the account until `lock_until` and restarts the count. Answers
    /// the new state.
    async fn record_login_failure(
        &self,
        user_id: conclave_domain::UserId,
        max_failures: i64,
        lock_until: conclave_domain::Millis,
    ) -> StoreResult<conclave_domain::auth::LoginThrottle>;
    /// Forgets the failures and any lock (after a successful sign-in).
    async fn clear_login_failures(&self, user_id: conclave_domain::UserId) -> StoreResult<()>;

    async fn mfa_enrolment(
        &self,
        user_id: conclave_domain::UserId,
    ) -> StoreResult<Option<conclave_domain::auth::MfaEnrolment>>;
    /// Stores a new unconfirmed TOTP secret, replacing an unconfirmed one.
    /// `Conflict` when the user already has an active enrolment.
    async fn begin_mfa_enrolment(
        &self,
        user_id: conclave_domain::UserId,
        secret: Vec<u8>,
        at: conclave_domain::Millis,
    ) -> StoreResult<()>;
    /// Activates the pending enrolment, recording `step` (of the code that
    /// proved it) as used, and stores the recovery codes' hashes. `false`
    /// when nothing is pending.
    async fn confirm_mfa_enrolment(
        &self,
        user_id: conclave_domain::UserId,
        step: i64,
        recovery_code_hashes: Vec<String>,
        at: conclave_domain::Millis,
    ) -> StoreResult<bool>;
    /// Records TOTP time step `step` as used. `false` when it or a later
    /// step was used already: a replayed code.
    async fn use_totp_step(&self, user_id: conclave_domain::UserId, step: i64)
    -> StoreResult<bool>;
    /// Consumes an unused recovery code by its hash; `false` when none
    /// matches.
    async fn use_recovery_code(
        &self,
        user_id: conclave_domain::UserId,
        code_hash: &str,
        at: conclave_domain::Millis,
    ) -> StoreResult<bool>;
    async fn unused_recovery_codes(&self, user_id: conclave_domain::UserId) -> StoreResult<i64>;
    /// Replaces every recovery code of the user.
    async fn replace_recovery_codes(
        &self,
        user_id: conclave_domain::UserId,
        recovery_code_hashes: Vec<String>,
        at: conclave_domain::Millis,
    ) -> StoreResult<()>;
    /// Removes the enrolment (active or pending) and its recovery codes;
    /// `false` when there was none.
    async fn remove_mfa(&self, user_id: conclave_domain::UserId) -> StoreResult<bool>;

    /// Organisation-wide authentication settings by key (such as
    /// `mfa_required`).
    async fn auth_setting(&self, key: &str) -> StoreResult<Option<String>>;
    async fn set_auth_setting(
        &self,
        key: &str,
        value: &str,
        at: conclave_domain::Millis,
    ) -> StoreResult<()>;

    async fn save_sso_attempt(&self, attempt: conclave_domain::auth::SsoAttempt)
    -> StoreResult<()>;
    /// Removes and answers the attempt with this state hash if it has not
    /// expired at `now`: each attempt completes at most once. Expired
    /// attempts are forgotten on the way.
    async fn take_sso_attempt(
        &self,
        state_hash: &str,
        now: conclave_domain::Millis,
    ) -> StoreResult<Option<conclave_domain::auth::SsoAttempt>>;

    /// Publishes the next version of the acceptable-use policy.
    async fn publish_policy(
        &self,
        text: String,
        published_by: Option<conclave_domain::UserId>,
        at: conclave_domain::Millis,
    ) -> StoreResult<conclave_domain::auth::AcceptableUsePolicy>;
    /// The newest version, if any was published.
    async fn current_policy(
        &self,
    ) -> StoreResult<Option<conclave_domain::auth::AcceptableUsePolicy>>;
    /// Records an acceptance. Accepting a version again keeps (and answers)
    /// the first record. `NotFound` for a version never published.
    async fn accept_policy(
        &self,
        acceptance: conclave_domain::auth::PolicyAcceptance,
    ) -> StoreResult<conclave_domain::auth::PolicyAcceptance>;
    async fn policy_acceptance(
        &self,
        user_id: conclave_domain::UserId,
        version: i64,
    ) -> StoreResult<Option<conclave_domain::auth::PolicyAcceptance>>;
    /// Acceptances of one version (or of all), newest first.
    async fn policy_acceptances(
        &self,
        version: Option<i64>,
        limit: i64,
    ) -> StoreResult<Vec<conclave_domain::auth::PolicyAcceptance>>;

    // SCIM, groups and org structure

    /// Stores a new SCIM bearer token by its hash; `created_by` is the
    /// owner or admin who minted it (None: the command line).
    async fn create_scim_token(
        &self,
        name: &str,
        token_hash: &str,
        created_by: Option<conclave_domain::UserId>,
        at: conclave_domain::Millis,
    ) -> StoreResult<conclave_domain::directory::ScimToken>;
    /// The unrevoked token with this hash.
    async fn scim_token_by_hash(
        &self,
        token_hash: &str,
    ) -> StoreResult<Option<conclave_domain::directory::ScimToken>>;
    /// Every token, revoked ones included, oldest first.
    async fn scim_tokens(&self) -> StoreResult<Vec<conclave_domain::directory::ScimToken>>;
    /// `false` when no unrevoked token has this id.
    async fn revoke_scim_token(&self, id: i64, at: conclave_domain::Millis) -> StoreResult<bool>;
    async fn touch_scim_token(&self, id: i64, at: conclave_domain::Millis) -> StoreResult<()>;

    /// The SCIM record of one user, if SCIM ever wrote one.
    async fn scim_user(
        &self,
        user_id: conclave_domain::UserId,
    ) -> StoreResult<Option<conclave_domain::directory::ScimUserRecord>>;
    /// Every SCIM record, by user id.
    async fn scim_users(&self) -> StoreResult<Vec<conclave_domain::directory::ScimUserRecord>>;
    /// Inserts or replaces the record of `record.user_id`.
    async fn put_scim_user(
        &self,
        record: conclave_domain::directory::ScimUserRecord,
    ) -> StoreResult<()>;

    /// Changes a user's email and display name (`Conflict` when the email is
    /// taken). The handle stays, so mentions keep working.
    async fn update_user_profile(
        &self,
        user_id: conclave_domain::UserId,
        email: &str,
        name: &str,
    ) -> StoreResult<conclave_domain::User>;
    async fn set_user_role(
        &self,
        user_id: conclave_domain::UserId,
        role: conclave_domain::Role,
    ) -> StoreResult<conclave_domain::User>;
    /// Lets a deactivated user sign in again (their sessions stay revoked).
    async fn reactivate_user(
        &self,
        user_id: conclave_domain::UserId,
    ) -> StoreResult<conclave_domain::User>;
    /// Users of every state, by id, narrowed by `filter`.
    async fn list_users(
        &self,
        filter: conclave_domain::directory::UserListFilter,
    ) -> StoreResult<Vec<conclave_domain::User>>;

    /// `Conflict` when the kind already has a unit of that name
    /// (case-insensitively).
    async fn create_org_unit(
        &self,
        unit: conclave_domain::directory::NewOrgUnit,
    ) -> StoreResult<conclave_domain::directory::OrgUnit>;
    async fn update_org_unit(
        &self,
        id: conclave_domain::directory::OrgUnitId,
        name: &str,
        external_id: Option<String>,
        at: conclave_domain::Millis,
    ) -> StoreResult<conclave_domain::directory::OrgUnit>;
    /// Removes the unit with its memberships and rules; `false` when absent.
    async fn delete_org_unit(&self, id: conclave_domain::directory::OrgUnitId)
    -> StoreResult<bool>;
    async fn org_unit(
        &self,
        id: conclave_domain::directory::OrgUnitId,
    ) -> StoreResult<Option<conclave_domain::directory::OrgUnit>>;
    async fn org_unit_by_name(
        &self,
        kind: conclave_domain::directory::OrgUnitKind,
        name: &str,
    ) -> StoreResult<Option<conclave_domain::directory::OrgUnit>>;
    /// Units of one kind (or all), by id.
    async fn org_units(
        &self,
        kind: Option<conclave_domain::directory::OrgUnitKind>,
    ) -> StoreResult<Vec<conclave_domain::directory::OrgUnit>>;
    /// Every (unit, member) pair, by unit then user.
    async fn org_unit_memberships(
        &self,
    ) -> StoreResult<
        Vec<(
            conclave_domain::directory::OrgUnitId,
            conclave_domain::UserId,
        )>,
    >;
    async fn org_unit_member_ids(
        &self,
        id: conclave_domain::directory::OrgUnitId,
    ) -> StoreResult<Vec<conclave_domain::UserId>>;
    async fn user_org_unit_ids(
        &self,
        user_id: conclave_domain::UserId,
    ) -> StoreResult<Vec<conclave_domain::directory::OrgUnitId>>;
    /// Adds or removes one member; answers whether anything changed.
    async fn set_org_unit_member(
        &self,
        unit_id: conclave_domain::directory::OrgUnitId,
        user_id: conclave_domain::UserId,
        member: bool,
        at: conclave_domain::Millis,
    ) -> StoreResult<bool>;

    /// `Conflict` when the same unit already feeds the same channel.
    async fn create_auto_membership_rule(
        &self,
        unit_id: conclave_domain::directory::OrgUnitId,
        channel_id: conclave_domain::ChannelId,
        created_by: Option<conclave_domain::UserId>,
        at: conclave_domain::Millis,
    ) -> StoreResult<conclave_domain::directory::AutoMembershipRule>;
    async fn delete_auto_membership_rule(&self, id: i64) -> StoreResult<bool>;
    async fn auto_membership_rules(
        &self,
    ) -> StoreResult<Vec<conclave_domain::directory::AutoMembershipRule>>;

    /// Sets (or with `None` clears) the moment an account deactivates itself.
    async fn set_account_expiry(
        &self,
        user_id: conclave_domain::UserId,
        expires_at: Option<conclave_domain::Millis>,
    ) -> StoreResult<()>;
    async fn account_expiry(
        &self,
        user_id: conclave_domain::UserId,
    ) -> StoreResult<Option<conclave_domain::Millis>>;
    /// Active users whose expiry is at or before `now`.
    async fn accounts_expired_by(
        &self,
        now: conclave_domain::Millis,
    ) -> StoreResult<Vec<conclave_domain::UserId>>;
}

use conclave_domain::webhook::{IncomingWebhook, NewIncomingWebhook, WebhookId};

/// Slack-compatible incoming webhooks. Tokens are kept only as hashes.
#[async_trait]
pub trait WebhookStore: Send + Sync {
    /// Creates the hook and, in the same transaction, its bot user: a
    /// guest row that can never sign in, named after the hook, with a
    /// unique handle made from the name. `Conflict` when the token hash is
    /// taken.
    async fn create_incoming_webhook(
        &self,
        webhook: NewIncomingWebhook,
    ) -> StoreResult<IncomingWebhook>;
    async fn incoming_webhook(&self, id: WebhookId) -> StoreResult<Option<IncomingWebhook>>;
    /// The unrevoked hook whose token has this hash.
    async fn incoming_webhook_by_token_hash(
        &self,
        token_hash: &str,
    ) -> StoreResult<Option<IncomingWebhook>>;
    /// A channel's unrevoked hooks, oldest first.
    async fn channel_incoming_webhooks(
        &self,
        channel_id: conclave_domain::ChannelId,
    ) -> StoreResult<Vec<IncomingWebhook>>;
    /// Revokes an unrevoked hook; `false` when none has this id.
    async fn revoke_incoming_webhook(
        &self,
        id: WebhookId,
        at: conclave_domain::Millis,
    ) -> StoreResult<bool>;
}

use conclave_domain::account::{NewPasswordReset, PasswordReset, UserProfile};

/// A person's own account: password changes, one-time resets issued by an
/// administrator, and the profile they edit (status text, photo). Reset
/// codes are kept only as hashes.
#[async_trait]
pub trait AccountStore: Send + Sync {
    /// Replaces the password hash of a user (`NotFound` when absent).
    async fn set_password_hash(
        &self,
        user_id: conclave_domain::UserId,
        password_hash: &str,
    ) -> StoreResult<()>;
    /// Revokes every live session of the user except `keep`; answers the
    /// ids revoked, so their sockets can be closed.
    async fn revoke_user_sessions(
        &self,
        user_id: conclave_domain::UserId,
        keep: Option<conclave_domain::SessionId>,
        at: conclave_domain::Millis,
    ) -> StoreResult<Vec<conclave_domain::SessionId>>;
    /// Stores a reset; any earlier unused reset of the same user stops
    /// working (marked used at `reset.created_at`).
    async fn create_password_reset(&self, reset: NewPasswordReset) -> StoreResult<PasswordReset>;
    /// The unused reset with this code hash that has not expired at `now`.
    async fn pending_password_reset(
        &self,
        code_hash: &str,
        now: conclave_domain::Millis,
    ) -> StoreResult<Option<PasswordReset>>;
    /// In one transaction: consumes the unused, unexpired (at `now`) reset
    /// whose code has this hash, gives its user `password_hash`, and revokes
    /// every session of theirs. Answers the consumed reset and the revoked
    /// session ids; `None` when no such reset exists (wrong, used, replaced
    /// or expired), so each code works at most once.
    async fn redeem_password_reset(
        &self,
        code_hash: &str,
        password_hash: &str,
        now: conclave_domain::Millis,
    ) -> StoreResult<Option<(PasswordReset, Vec<conclave_domain::SessionId>)>>;

    /// The user of the session with this token hash, whether or not the
    /// session is still live: to tell someone signed out why.
    async fn user_by_any_session_token(
        &self,
        token_hash: &str,
    ) -> StoreResult<Option<conclave_domain::User>>;

    async fn user_profile(
        &self,
        user_id: conclave_domain::UserId,
    ) -> StoreResult<Option<UserProfile>>;
    /// Every stored profile, by user id.
    async fn user_profiles(&self) -> StoreResult<Vec<UserProfile>>;
    /// Inserts or replaces the profile of `profile.user_id`.
    async fn put_user_profile(&self, profile: UserProfile) -> StoreResult<UserProfile>;
    /// Records that the user was welcomed (joined the default channel);
    /// answers false when they had been already.
    async fn mark_onboarded(
        &self,
        user_id: conclave_domain::UserId,
        at: conclave_domain::Millis,
    ) -> StoreResult<bool>;
    async fn is_onboarded(&self, user_id: conclave_domain::UserId) -> StoreResult<bool>;
    /// Forgets a profile (on erasure); answers the removed one.
    async fn delete_user_profile(
        &self,
        user_id: conclave_domain::UserId,
    ) -> StoreResult<Option<UserProfile>>;
}
