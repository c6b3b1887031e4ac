//! The compliance archive's vocabulary and rules: legal holds, retention
//! policies, what a purge or an erasure did, and what an eDiscovery export
//! selects. Pure values and functions; the stores apply them.

use serde::{Deserialize, Serialize};

use crate::model::{
    Attachment, Channel, ChannelId, Message, MessageId, MessageVersion, Millis, UserId,
};

pub type HoldId = i64;

/// Milliseconds in one day, for retention arithmetic.
pub const DAY_MILLIS: i64 = 86_400_000;

/// A named legal hold. While it is active (not released) it preserves every
/// message it covers from retention and erasure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegalHold {
    pub id: HoldId,
    pub name: String,
    /// People whose conversations are preserved: what they wrote and what
    /// was written in channels they belong to.
    pub custodian_ids: Vec<UserId>,
    /// Channels preserved whole.
    pub channel_ids: Vec<ChannelId>,
    /// Optional range of message times, `from` inclusive, `to` exclusive.
    pub from: Option<Millis>,
    pub to: Option<Millis>,
    pub created_at: Millis,
    pub released_at: Option<Millis>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLegalHold {
    pub name: String,
    pub custodian_ids: Vec<UserId>,
    pub channel_ids: Vec<ChannelId>,
    pub from: Option<Millis>,
    pub to: Option<Millis>,
    pub created_at: Millis,
}

impl NewLegalHold {
    /// The rules every hold obeys: a name, at least one custodian or
    /// channel, and a range that is not empty.
    pub fn check(&self) -> Result<(), String> {
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err("a hold needs a name of 1 to 100 characters".into());
        }
        if name.chars().any(char::is_control) {
            return Err("a hold name cannot contain control characters".into());
        }
        if self.custodian_ids.is_empty() && self.channel_ids.is_empty() {
            return Err("a hold needs at least one custodian or channel".into());
        }
        if let (Some(from), Some(to)) = (self.from, self.to)
            && from >= to
        {
            return Err("a hold's range must end after it starts".into());
        }
        Ok(())
    }
}

impl LegalHold {
    pub fn is_active(&self) -> bool {
        self.released_at.is_none()
    }

    /// Whether this hold's date range includes `created_at`.
    pub fn in_range(&self, created_at: Millis) -> bool {
        self.from.is_none_or(|from| created_at >= from) && self.to.is_none_or(|to| created_at < to)
    }

    /// Whether this hold preserves a message written by `author_id` in
    /// `channel_id` at `created_at`. `is_member(user, channel)` answers
    /// whether a custodian belongs to a channel (so what they received is
    /// preserved as well as what they wrote).
    pub fn covers(
        &self,
        author_id: UserId,
        channel_id: ChannelId,
        created_at: Millis,
        is_member: impl Fn(UserId, ChannelId) -> bool,
    ) -> bool {
        if !self.is_active() || !self.in_range(created_at) {
            return false;
        }
        self.channel_ids.contains(&channel_id)
            || self.custodian_ids.contains(&author_id)
            || self
                .custodian_ids
                .iter()
                .any(|custodian| is_member(*custodian, channel_id))
    }
}

/// Where a retention policy applies. Team policies are stored by team name
/// and take effect once channels belong to teams.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "scope", content = "target", rename_all = "snake_case")]
pub enum RetentionScope {
    Global,
    Team(String),
    Channel(ChannelId),
}

impl RetentionScope {
    /// The stored key: `global`, `team:NAME` or `channel:ID`.
    pub fn key(&self) -> String {
        match self {
            RetentionScope::Global => "global".into(),
            RetentionScope::Team(name) => format!("team:{name}"),
            RetentionScope::Channel(id) => format!("channel:{id}"),
        }
    }

    pub fn parse_key(key: &str) -> Option<RetentionScope> {
        if key == "global" {
            return Some(RetentionScope::Global);
        }
        if let Some(name) = key.strip_prefix("team:") {
            return Some(RetentionScope::Team(name.to_string()));
        }
        key.strip_prefix("channel:")?
            .parse()
            .ok()
            .map(RetentionScope::Channel)
    }
}

/// One retention policy: keep messages `days` days, or forever (`None`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionPolicy {
    pub scope: RetentionScope,
    pub days: Option<i64>,
    pub updated_at: Millis,
}

/// The number of days a channel's messages are kept: the channel's own
/// policy, else its team's, else the global one; `None` is forever (also
/// when nothing is configured).
pub fn effective_retention_days(
    policies: &[RetentionPolicy],
    channel_id: ChannelId,
    team: Option<&str>,
) -> Option<i64> {
    let find = |scope: &RetentionScope| policies.iter().find(|policy| &policy.scope == scope);
    if let Some(policy) = find(&RetentionScope::Channel(channel_id)) {
        return policy.days;
    }
    if let Some(team) = team
        && let Some(policy) = find(&RetentionScope::Team(team.to_string()))
    {
        return policy.days;
    }
    find(&RetentionScope::Global).and_then(|policy| policy.days)
}

/// Checks a number of retention days: at least one, at most 100 years.
pub fn check_retention_days(days: Option<i64>) -> Result<(), String> {
    match days {
        Some(days) if !(1..=36_500).contains(&days) => {
            Err("retention must be between 1 and 36500 days, or forever".into())
        }
        _ => Ok(()),
    }
}

/// What a retention run removed. Journalled as counts and a time range only.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurgeReport {
    pub messages: u64,
    pub versions: u64,
    pub reactions: u64,
    pub attachments: u64,
    /// Journal entries whose content was replaced by a redacted stub.
    pub events_redacted: u64,
    /// Expired messages kept because a legal hold covers them.
    pub held: u64,
    /// The oldest and newest creation time among the purged messages.
    pub oldest: Option<Millis>,
    pub newest: Option<Millis>,
    /// Blob keys (files and thumbnails) no attachment refers to any more;
    /// the caller deletes the bytes. Never journalled.
    #[serde(skip)]
    pub orphaned_blobs: Vec<String>,
}

/// What erasing one person removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErasureReport {
    pub user_id: UserId,
    pub messages: u64,
    pub versions: u64,
    pub attachments: u64,
    pub events_redacted: u64,
    /// Data keys destroyed (crypto-shredding).
    #[serde(default)]
    pub keys_destroyed: u64,
    #[serde(skip)]
    pub orphaned_blobs: Vec<String>,
}

/// The answer to an erasure request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErasureOutcome {
    Erased(ErasureReport),
    /// A hold covers the person; nothing was changed.
    RefusedByHold {
        hold: String,
    },
}

/// What an export (or a data-subject access request) selects. Every given
/// field narrows the selection.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportFilter {
    /// Messages at or after this time.
    pub from: Option<Millis>,
    /// Messages before this time.
    pub to: Option<Millis>,
    /// Messages these people wrote, or that were written in channels they
    /// belong to.
    pub custodian_ids: Vec<UserId>,
    pub channel_ids: Vec<ChannelId>,
}

/// One message as the archive holds it: the message (with its current or
/// last text, deletion time, attachments and reactions), every version, and
/// who deleted it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchivedMessage {
    pub message: Message,
    pub versions: Vec<MessageVersion>,
    pub deleted_by: Option<UserId>,
}

impl ArchivedMessage {
    pub fn attachments(&self) -> &[Attachment] {
        &self.message.attachments
    }
}

/// A person joining or leaving a channel, from the journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MembershipChange {
    pub channel_id: ChannelId,
    pub user_id: UserId,
    pub joined: bool,
    pub at: Millis,
}

/// A channel in an export with the people in it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchivedChannel {
    pub channel: Channel,
    pub member_ids: Vec<UserId>,
}

/// Replaces the text of a message with nothing, for journal entries whose
/// content retention or erasure removed. The stub keeps ids and times so
/// the log still reads as a history of what happened.
pub fn scrub_message(message: &mut Message) {
    message.text.clear();
    message.mentions.clear();
    message.attachments.clear();
    message.reactions.clear();
    message.client_id = None;
}

/// Whether a message id lies in the range of a page, used by backends that
/// fetch related rows for a whole page at once.
pub fn in_page(id: MessageId, first: MessageId, last: MessageId) -> bool {
    id >= first && id <= last
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hold(
        custodians: Vec<UserId>,
        channels: Vec<ChannelId>,
        from: Option<i64>,
        to: Option<i64>,
    ) -> LegalHold {
        LegalHold {
            id: 1,
            name: "h".into(),
            custodian_ids: custodians,
            channel_ids: channels,
            from,
            to,
            created_at: 0,
            released_at: None,
        }
    }

    #[test]
    fn holds_cover_custodians_channels_and_ranges() {
        let member = |user: UserId, channel: ChannelId| user == 7 && channel == 70;
        // (hold, author, channel, time, covered)
        let cases = [
            (hold(vec![7], vec![], None, None), 7, 1, 5, true),
            (hold(vec![7], vec![], None, None), 8, 70, 5, true),
            (hold(vec![7], vec![], None, None), 8, 71, 5, false),
            (hold(vec![], vec![71], None, None), 8, 71, 5, true),
            (hold(vec![], vec![71], Some(10), None), 8, 71, 5, false),
            (hold(vec![], vec![71], Some(5), Some(6)), 8, 71, 5, true),
            (hold(vec![], vec![71], None, Some(5)), 8, 71, 5, false),
        ];
        for (index, (hold, author, channel, at, expected)) in cases.into_iter().enumerate() {
            assert_eq!(
                hold.covers(author, channel, at, member),
                expected,
                "case {index}"
            );
        }
        let mut released = hold(vec![7], vec![], None, None);
        released.released_at = Some(1);
        assert!(!released.covers(7, 1, 5, member));
    }

    #[test]
    fn channel_beats_team_beats_global_and_nothing_is_forever() {
        let policy = |scope, days| RetentionPolicy {
            scope,
            days,
            updated_at: 0,
        };
        assert_eq!(effective_retention_days(&[], 1, None), None);
        let policies = vec![
            policy(RetentionScope::Global, Some(30)),
            policy(RetentionScope::Team("sales".into()), Some(10)),
            policy(RetentionScope::Channel(2), None),
        ];
        assert_eq!(effective_retention_days(&policies, 1, None), Some(30));
        assert_eq!(
            effective_retention_days(&policies, 1, Some("sales")),
            Some(10)
        );
        assert_eq!(effective_retention_days(&policies, 2, Some("sales")), None);
    }

    #[test]
    fn scope_keys_round_trip_and_bad_input_is_refused() {
        for scope in [
            RetentionScope::Global,
            RetentionScope::Team("a:b".into()),
            RetentionScope::Channel(9),
        ] {
            assert_eq!(RetentionScope::parse_key(&scope.key()), Some(scope));
        }
        assert_eq!(RetentionScope::parse_key("channel:x"), None);
        assert!(check_retention_days(Some(0)).is_err());
        assert!(check_retention_days(None).is_ok());
        let mut new = NewLegalHold {
            name: "Case 1".into(),
            custodian_ids: vec![],
            channel_ids: vec![],
            from: None,
            to: None,
            created_at: 0,
        };
        assert!(new.check().is_err());
        new.channel_ids.push(1);
        assert!(new.check().is_ok());
        new.from = Some(5);
        new.to = Some(5);
        assert!(new.check().is_err());
    }
}
