//! The `[whatsapp]` section of the configuration: the Cloud API
//! connector's secrets, the Graph API address and which staff answer which
//! business number.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

#[derive(Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct WhatsAppConfig {
    /// The token Meta's verification handshake must present
    /// (`hub.verify_token`); empty turns the webhook off.
    #[serde(deserialize_with = "text")]
    pub verify_token: String,
    /// The app secret that signs webhook deliveries (`X-Hub-Signature-256`);
    /// empty turns the webhook off.
    #[serde(deserialize_with = "text")]
    pub app_secret: String,
    /// The access token (a system user's) for the Graph API.
    #[serde(deserialize_with = "text")]
    pub access_token: String,
    /// The Graph API base URL, version included.
    pub graph_api_base: String,
    /// How many times a reply is tried before it counts as failed (server
    /// errors and network failures are retried with backoff).
    pub send_attempts: u32,
    /// The first retry's delay, milliseconds; each next one doubles.
    pub retry_base_ms: u64,
    /// The business phone numbers and the staff who answer them.
    pub numbers: Vec<WhatsAppNumber>,
}

/// One business phone number of the WhatsApp Business Account.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(default, deny_unknown_fields)]
pub struct WhatsAppNumber {
    /// Meta's phone number id (not the number itself).
    #[serde(deserialize_with = "text")]
    pub phone_number_id: String,
    /// Emails of the staff assigned to it: members of every customer
    /// conversation it has.
    pub staff: Vec<String>,
}

impl Default for WhatsAppConfig {
    fn default() -> Self {
        WhatsAppConfig {
            verify_token: String::new(),
            app_secret: String::new(),
            access_token: String::new(),
            graph_api_base: "https://graph.facebook.com/v21.0".into(),
            send_attempts: 5,
            retry_base_ms: 500,
            numbers: Vec::new(),
        }
    }
}

impl WhatsAppConfig {
    /// The webhook works only with both secrets set.
    pub fn webhook_enabled(&self) -> bool {
        !self.verify_token.is_empty() && !self.app_secret.is_empty()
    }

    pub fn number(&self, phone_number_id: &str) -> Option<&WhatsAppNumber> {
        self.numbers
            .iter()
            .find(|number| number.phone_number_id == phone_number_id)
    }
}

/// Secrets never reach logs.
impl fmt::Debug for WhatsAppConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = |secret: &str| if secret.is_empty() { "" } else { "<redacted>" };
        f.debug_struct("WhatsAppConfig")
            .field("verify_token", &redacted(&self.verify_token))
            .field("app_secret", &redacted(&self.app_secret))
            .field("access_token", &redacted(&self.access_token))
            .field("graph_api_base", &self.graph_api_base)
            .field("send_attempts", &self.send_attempts)
            .field("retry_base_ms", &self.retry_base_ms)
            .field("numbers", &self.numbers)
            .finish()
    }
}

/// Text that the environment may have turned into a number
/// (`CONCLAVE_WHATSAPP__VERIFY_TOKEN=12345`, phone number ids).
fn text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Text {
        String(String),
        Integer(i64),
        Float(f64),
    }
    Ok(match Text::deserialize(deserializer)? {
        Text::String(text) => text,
        Text::Integer(number) => number.to_string(),
        Text::Float(number) => number.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_every_secret() {
        let config = WhatsAppConfig {
            verify_token: "verify-hunter2".into(),
            app_secret: "secret-hunter2".into(),
            access_token: "token-hunter2".into(),
            ..WhatsAppConfig::default()
        };
        let printed = format!("{config:?}");
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(printed.contains("graph.facebook.com"));
    }

    #[test]
    fn numeric_text_from_the_environment_is_accepted() {
        let config: WhatsAppConfig = serde_json::from_value(serde_json::json!({
            "verify_token": 12345,
            "numbers": [{"phone_number_id": 106540352242922_i64, "staff": ["a@example.com"]}],
        }))
        .unwrap();
        assert_eq!(config.verify_token, "12345");
        assert_eq!(config.numbers[0].phone_number_id, "106540352242922");
        assert_eq!(config.send_attempts, 5);
    }
}
