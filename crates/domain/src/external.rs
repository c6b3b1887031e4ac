//! Conversations captured from outside Conclave: WhatsApp chat exports
//! imported into read-only archive channels, and customer conversations of
//! the WhatsApp Business (Cloud API) connector.
//!
//! People outside the organisation (customers, chat participants mapped to
//! no user) are kept as *external participants*: a user row that can never
//! sign in (inactive, no password, role guest, an `@whatsapp.invalid`
//! address) plus a record saying who they are, so every message keeps an
//! author that exports can name. Plain values only, like the rest of the
//! domain.

use crate::model::{ChannelId, MessageId, Millis, NewAttachment, UserId};

/// The mail domain of external participants' user rows. `.invalid` is
/// reserved (RFC 2606), so nothing is ever delivered there.
pub const EXTERNAL_EMAIL_DOMAIN: &str = "whatsapp.invalid";

/// What identifies an external participant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExternalKind {
    /// Known by phone number: the same person in every chat and on the
    /// Cloud API.
    Phone,
    /// Known only by the name an export shows; scoped to one channel,
    /// because two exports' "Anna" need not be the same person.
    Name,
    /// The author of WhatsApp's own system lines ("Anna added Ben").
    System,
}

impl ExternalKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ExternalKind::Phone => "phone",
            ExternalKind::Name => "name",
            ExternalKind::System => "system",
        }
    }

    pub fn parse(text: &str) -> Option<ExternalKind> {
        [
            ExternalKind::Phone,
            ExternalKind::Name,
            ExternalKind::System,
        ]
        .into_iter()
        .find(|kind| kind.as_str() == text)
    }
}

/// An outside person to find or create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewExternalParticipant {
    pub kind: ExternalKind,
    /// Digits with a leading `+` for phone participants.
    pub phone: Option<String>,
    pub display_name: String,
    /// For name participants: the channel their name is scoped to.
    pub channel_id: Option<ChannelId>,
    /// Where they were first seen: `whatsapp_export` or `whatsapp_cloud`.
    pub source: String,
    pub at: Millis,
}

impl NewExternalParticipant {
    /// The stable identity: `phone:+491701234567`, `name:12:Anna` or
    /// `system:whatsapp`.
    pub fn key(&self) -> String {
        match self.kind {
            ExternalKind::Phone => format!("phone:{}", self.phone.as_deref().unwrap_or_default()),
            ExternalKind::Name => format!(
                "name:{}:{}",
                self.channel_id.unwrap_or_default(),
                self.display_name
            ),
            ExternalKind::System => "system:whatsapp".to_string(),
        }
    }

    /// The handle the user row gets (the store appends `-2`, `-3`, … if it
    /// is taken): `wa-491701234567`, `wa-anna-1a2b3c4d` or `whatsapp`.
    pub fn handle(&self) -> String {
        match self.kind {
            ExternalKind::Phone => format!(
                "wa-{}",
                self.phone
                    .as_deref()
                    .unwrap_or_default()
                    .trim_start_matches('+')
            ),
            ExternalKind::Name => {
                let slug: String = crate::validate::normalize_channel_name(&self.display_name)
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
                    .take(40)
                    .collect();
                format!(
                    "wa-{}-{:08x}",
                    slug.trim_matches('-'),
                    fnv1a(&self.key()) as u32
                )
            }
            ExternalKind::System => "whatsapp".to_string(),
        }
    }

    /// The display name the user row gets: within the length limit, never
    /// empty.
    pub fn user_name(&self) -> String {
        let name: String = self
            .display_name
            .chars()
            .filter(|c| !c.is_control())
            .take(crate::validate::MAX_DISPLAY_NAME_CHARS)
            .collect();
        let name = name.trim();
        if name.is_empty() {
            self.phone
                .clone()
                .unwrap_or_else(|| "WhatsApp contact".into())
        } else {
            name.to_string()
        }
    }
}

/// FNV-1a, 64 bits: a short, stable fingerprint for handles; not security.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// An outside person and the user row that stands for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalParticipant {
    pub user_id: UserId,
    pub key: String,
    pub kind: ExternalKind,
    pub phone: Option<String>,
    pub display_name: String,
    pub source: String,
    pub created_at: Millis,
}

/// Opening (creating or extending) the read-only archive channel of a
/// WhatsApp export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhatsAppImportChannel {
    /// A valid channel name.
    pub name: String,
    pub topic: String,
    /// Whose phone the export came from.
    pub custodian_id: Option<UserId>,
    /// The channel's `created_by` when it is new.
    pub creator_id: UserId,
    /// Who must be a member (the custodian, mapped participants); missing
    /// ones are added.
    pub member_ids: Vec<UserId>,
    pub at: Millis,
}

/// A channel that holds captured outside conversations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalChannel {
    pub channel_id: ChannelId,
    /// `whatsapp_export` or `whatsapp_cloud`.
    pub source: String,
    pub custodian_id: Option<UserId>,
    pub created_at: Millis,
}

/// What an imported line was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportedKind {
    Text,
    /// A system line, authored by the WhatsApp system participant.
    System,
    Media,
    /// A "this message was deleted" marker: stored as a deleted message.
    Deleted,
}

impl ImportedKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ImportedKind::Text => "text",
            ImportedKind::System => "system",
            ImportedKind::Media => "media",
            ImportedKind::Deleted => "deleted",
        }
    }
}

/// Names one message of an export within its channel, the same each time
/// the same export is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ImportKey {
    /// The phone's clock reading, in seconds counted as if it were UTC.
    /// It leads the stored key, so that a chronological export's keys land
    /// at the end of the index rather than on random pages.
    pub local_time: i64,
    /// SHA-256 over the message's time, author, body and ordinal.
    pub digest: [u8; 32],
}

/// One message of an export, ready to store.
#[derive(Debug, Clone)]
pub struct ImportedMessage {
    /// Unique within the channel; a key already stored there is skipped.
    pub dedupe_key: ImportKey,
    /// The header's line number in the export.
    pub line: i64,
    pub author_id: UserId,
    pub kind: ImportedKind,
    pub text: String,
    /// The original time.
    pub created_at: Millis,
    /// The export marked it edited (when is unknown: the original time).
    pub edited: bool,
    /// Blobs already in the blob store.
    pub attachments: Vec<NewAttachment>,
}

/// What storing one batch of imported messages did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportBatchOutcome {
    /// New messages of every kind, system lines included.
    pub inserted: usize,
    pub system: usize,
    pub attachments: usize,
    pub duplicates: usize,
}

/// One run of the import command, kept for the record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportRun {
    pub channel_id: ChannelId,
    pub custodian_id: Option<UserId>,
    pub source_name: String,
    /// The summary JSON the command printed.
    pub summary: String,
    pub at: Millis,
}

/// The customer conversation of one customer number with one business
/// number (Cloud API).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhatsAppConversation {
    pub channel_id: ChannelId,
    pub phone_number_id: String,
    /// The customer's WhatsApp id (their number's digits).
    pub customer_wa_id: String,
    pub customer_user_id: UserId,
    pub customer_name: String,
    pub assignee_id: Option<UserId>,
    /// The newest customer message; the 24-hour service window runs from it.
    pub last_inbound_at: Option<Millis>,
    pub created_at: Millis,
}

/// WhatsApp's customer-service window: free-form replies are allowed for 24
/// hours after the customer's last message.
pub const SERVICE_WINDOW_MILLIS: Millis = 24 * 60 * 60 * 1000;

impl WhatsAppConversation {
    /// When the service window closes, if a customer message opened it.
    pub fn window_closes_at(&self) -> Option<Millis> {
        self.last_inbound_at.map(|at| at + SERVICE_WINDOW_MILLIS)
    }

    pub fn window_open(&self, now: Millis) -> bool {
        self.window_closes_at().is_some_and(|closes| now < closes)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewWhatsAppConversation {
    pub channel_id: ChannelId,
    pub phone_number_id: String,
    pub customer_wa_id: String,
    pub customer_user_id: UserId,
    pub at: Millis,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Inbound,
    Outbound,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
        }
    }

    pub fn parse(text: &str) -> Option<Direction> {
        [Direction::Inbound, Direction::Outbound]
            .into_iter()
            .find(|direction| direction.as_str() == text)
    }
}

/// Where a WhatsApp message is on its way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DeliveryStatus {
    /// An inbound message, stored.
    Received,
    /// An outbound message waiting for the Graph API to accept it, that no
    /// server process is sending.
    Queued,
    /// An outbound message one server process has claimed and is handing to
    /// the Graph API (trying again on failures). The claim is its
    /// `updated_at`: once older than the sender's lease, another process may
    /// claim the message again. Clients see it as queued: Meta has not
    /// accepted it yet.
    Sending,
    Sent,
    Delivered,
    Read,
    Failed,
}

impl DeliveryStatus {
    pub const ALL: [DeliveryStatus; 7] = [
        DeliveryStatus::Received,
        DeliveryStatus::Queued,
        DeliveryStatus::Sending,
        DeliveryStatus::Sent,
        DeliveryStatus::Delivered,
        DeliveryStatus::Read,
        DeliveryStatus::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Received => "received",
            DeliveryStatus::Queued => "queued",
            DeliveryStatus::Sending => "sending",
            DeliveryStatus::Sent => "sent",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Read => "read",
            DeliveryStatus::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<DeliveryStatus> {
        DeliveryStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == text)
    }

    /// Whether a report of `next` may replace `self`. Statuses only move
    /// forward (webhooks arrive out of order: `read` may come before
    /// `delivered`); `failed` ends a message that was not yet delivered.
    /// The one step back is a sender giving up its claim at shutdown:
    /// `sending` becomes `queued` again, for the next process to send.
    pub fn may_become(self, next: DeliveryStatus) -> bool {
        match (self, next) {
            (DeliveryStatus::Failed, _) | (DeliveryStatus::Received, _) => false,
            (DeliveryStatus::Sending, DeliveryStatus::Queued) => true,
            (DeliveryStatus::Delivered | DeliveryStatus::Read, DeliveryStatus::Failed) => false,
            (current, next) => next > current,
        }
    }
}

/// A message that travelled through the Cloud API, and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhatsAppMessageRecord {
    pub message_id: MessageId,
    pub channel_id: ChannelId,
    /// Meta's message id; none until the Graph API accepted an outbound
    /// message.
    pub wamid: Option<String>,
    pub direction: Direction,
    /// text, image, template, …
    pub kind: String,
    pub status: DeliveryStatus,
    /// The last error Meta or the network reported.
    pub error: Option<String>,
    /// For outbound messages: the JSON body sent to the Graph API.
    pub request: Option<String>,
    pub attempts: i64,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// An outbound reply a server process claimed for sending (see
/// `ExternalStore::claim_whatsapp_sends`), with the business number it
/// goes out from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedSend {
    pub phone_number_id: String,
    pub record: WhatsAppMessageRecord,
}

/// A change of delivery status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryUpdate {
    pub message_id: MessageId,
    pub status: DeliveryStatus,
    pub wamid: Option<String>,
    pub error: Option<String>,
    /// Added to the attempt count.
    pub attempts: i64,
    pub at: Millis,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn participant(kind: ExternalKind, phone: Option<&str>, name: &str) -> NewExternalParticipant {
        NewExternalParticipant {
            kind,
            phone: phone.map(str::to_string),
            display_name: name.into(),
            channel_id: Some(7),
            source: "whatsapp_export".into(),
            at: 0,
        }
    }

    #[test]
    fn keys_and_handles_are_stable_and_readable() {
        let phone = participant(ExternalKind::Phone, Some("+491701234567"), "Anna");
        assert_eq!(phone.key(), "phone:+491701234567");
        assert_eq!(phone.handle(), "wa-491701234567");
        let name = participant(ExternalKind::Name, None, "Anna Müller");
        assert_eq!(name.key(), "name:7:Anna Müller");
        assert!(name.handle().starts_with("wa-anna-m"), "{}", name.handle());
        assert_eq!(
            name.handle(),
            participant(ExternalKind::Name, None, "Anna Müller").handle()
        );
        assert_ne!(
            name.handle(),
            participant(ExternalKind::Name, None, "Anna Muller").handle()
        );
        assert_eq!(
            participant(ExternalKind::System, None, "WhatsApp").key(),
            "system:whatsapp"
        );
        assert_eq!(
            participant(ExternalKind::Phone, Some("+1"), " \u{7} ").user_name(),
            "+1"
        );
    }

    #[test]
    fn statuses_only_move_forward() {
        use DeliveryStatus::*;
        let cases = [
            (Queued, Sent, true),
            (Queued, Sending, true),
            (Sending, Sent, true),
            (Sending, Failed, true),
            (Sending, Queued, true),
            (Sent, Queued, false),
            (Sent, Sending, false),
            (Sent, Delivered, true),
            (Sent, Read, true),
            (Read, Delivered, false),
            (Delivered, Delivered, false),
            (Queued, Failed, true),
            (Sent, Failed, true),
            (Delivered, Failed, false),
            (Failed, Sent, false),
            (Received, Read, false),
        ];
        for (from, to, allowed) in cases {
            assert_eq!(from.may_become(to), allowed, "{from:?} -> {to:?}");
        }
    }

    #[test]
    fn the_service_window_lasts_a_day_after_the_last_customer_message() {
        let mut conversation = WhatsAppConversation {
            channel_id: 1,
            phone_number_id: "1".into(),
            customer_wa_id: "49".into(),
            customer_user_id: 2,
            customer_name: "C".into(),
            assignee_id: None,
            last_inbound_at: None,
            created_at: 0,
        };
        assert!(!conversation.window_open(0));
        conversation.last_inbound_at = Some(1_000);
        assert!(conversation.window_open(1_000 + SERVICE_WINDOW_MILLIS - 1));
        assert!(!conversation.window_open(1_000 + SERVICE_WINDOW_MILLIS));
    }
}
