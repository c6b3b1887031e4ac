//! Incoming webhooks: a secret URL that lets an outside system post into
//! one channel, as Slack's incoming webhooks do. Each hook posts as its own
//! bot user, a users row that can never sign in, so the archive names the
//! integration that wrote each message.

use serde::{Deserialize, Serialize};

use crate::{ChannelId, Millis, UserId};

pub type WebhookId = i64;

/// The email domain of webhook bot users; `.invalid` never receives mail.
pub const WEBHOOK_EMAIL_DOMAIN: &str = "webhooks.invalid";

/// The longest hook name, in characters.
pub const MAX_WEBHOOK_NAME_CHARS: usize = 80;

/// A stored hook. Its token is never stored, only the token's hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncomingWebhook {
    pub id: WebhookId,
    pub channel_id: ChannelId,
    pub creator_id: UserId,
    /// The bot user the hook's messages are authored by.
    pub author_id: UserId,
    pub name: String,
    pub created_at: Millis,
    pub revoked_at: Option<Millis>,
}

/// What the store needs to create a hook and its bot user.
#[derive(Debug, Clone)]
pub struct NewIncomingWebhook {
    pub channel_id: ChannelId,
    pub creator_id: UserId,
    pub name: String,
    /// Hex SHA-256 of the token.
    pub token_hash: String,
    pub at: Millis,
}

impl NewIncomingWebhook {
    /// The bot user's handle before any suffix that makes it unique:
    /// `hook-` and the name's letters and digits.
    pub fn handle_base(&self) -> String {
        let slug: String = crate::validate::normalize_channel_name(&self.name)
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .take(40)
            .collect();
        let slug = slug.trim_matches('-');
        if slug.is_empty() {
            "hook".into()
        } else {
            format!("hook-{slug}")
        }
    }
}

/// A hook name: 1 to 80 characters after trimming, no control characters.
pub fn validate_name(name: &str) -> Result<String, crate::ValidationError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_WEBHOOK_NAME_CHARS {
        return Err(crate::ValidationError {
            field: "name",
            problem: format!("must be 1 to {MAX_WEBHOOK_NAME_CHARS} characters"),
        });
    }
    if name.chars().any(char::is_control) {
        return Err(crate::ValidationError {
            field: "name",
            problem: "must not contain control characters".into(),
        });
    }
    Ok(name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(name: &str) -> NewIncomingWebhook {
        NewIncomingWebhook {
            channel_id: 1,
            creator_id: 1,
            name: name.into(),
            token_hash: String::new(),
            at: 0,
        }
    }

    #[test]
    fn handles_come_from_the_name() {
        assert_eq!(named("CI Builds").handle_base(), "hook-ci-builds");
        assert_eq!(named("!!!").handle_base(), "hook");
    }

    #[test]
    fn names_are_checked() {
        assert_eq!(validate_name("  Deploys ").unwrap(), "Deploys");
        assert!(validate_name("   ").is_err());
        assert!(validate_name(&"x".repeat(81)).is_err());
        assert!(validate_name("a\nb").is_err());
    }
}
