//! Meta's webhook notifications for a WhatsApp Business Account, as JSON
//! types (only the fields Conclave uses; everything else is ignored), and
//! how each inbound message is turned into an archive message.

use serde::Deserialize;
use serde_json::Value;

/// `{"object": "whatsapp_business_account", "entry": [...]}`
#[derive(Debug, Deserialize)]
pub struct Notification {
    pub object: String,
    #[serde(default)]
    pub entry: Vec<Entry>,
}

#[derive(Debug, Deserialize)]
pub struct Entry {
    #[serde(default)]
    pub changes: Vec<Change>,
}

#[derive(Debug, Deserialize)]
pub struct Change {
    #[serde(default)]
    pub field: String,
    pub value: Option<ChangeValue>,
}

#[derive(Debug, Deserialize)]
pub struct ChangeValue {
    pub metadata: Option<Metadata>,
    #[serde(default)]
    pub contacts: Vec<Contact>,
    #[serde(default)]
    pub messages: Vec<InboundMessage>,
    #[serde(default)]
    pub statuses: Vec<Status>,
}

#[derive(Debug, Deserialize)]
pub struct Metadata {
    #[serde(default)]
    pub display_phone_number: String,
    pub phone_number_id: String,
}

#[derive(Debug, Deserialize)]
pub struct Contact {
    pub wa_id: String,
    pub profile: Option<Profile>,
}

#[derive(Debug, Deserialize)]
pub struct Profile {
    #[serde(default)]
    pub name: String,
}

#[derive(Debug, Deserialize)]
pub struct InboundMessage {
    pub from: String,
    pub id: String,
    #[serde(default)]
    pub timestamp: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub text: Option<Text>,
    pub image: Option<MediaRef>,
    pub video: Option<MediaRef>,
    pub audio: Option<MediaRef>,
    pub document: Option<MediaRef>,
    pub sticker: Option<MediaRef>,
    pub location: Option<Location>,
    pub contacts: Option<Vec<Value>>,
    pub reaction: Option<Reaction>,
    pub interactive: Option<Interactive>,
    pub button: Option<Button>,
    /// Set when the customer replied to (quoted) an earlier message, or
    /// forwarded one.
    pub context: Option<Context>,
}

/// `{"from": "…", "id": "wamid…"}`: the message this one answers.
#[derive(Debug, Deserialize)]
pub struct Context {
    /// The wamid of the quoted message; absent on forwards.
    pub id: Option<String>,
    pub from: Option<String>,
    #[serde(default)]
    pub forwarded: bool,
}

#[derive(Debug, Deserialize)]
pub struct Text {
    #[serde(default)]
    pub body: String,
}

#[derive(Debug, Deserialize)]
pub struct MediaRef {
    pub id: String,
    pub mime_type: Option<String>,
    pub caption: Option<String>,
    pub filename: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Location {
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub name: Option<String>,
    pub address: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Reaction {
    pub message_id: String,
    /// Empty when the customer took their reaction back.
    #[serde(default)]
    pub emoji: String,
}

#[derive(Debug, Deserialize)]
pub struct Interactive {
    #[serde(rename = "type", default)]
    pub kind: String,
    pub button_reply: Option<Choice>,
    pub list_reply: Option<Choice>,
}

#[derive(Debug, Deserialize)]
pub struct Choice {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub title: String,
    pub description: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Button {
    #[serde(default)]
    pub text: String,
    pub payload: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Status {
    pub id: String,
    pub status: String,
    #[serde(default)]
    pub timestamp: String,
    #[serde(default)]
    pub recipient_id: String,
    #[serde(default)]
    pub errors: Vec<StatusError>,
}

#[derive(Debug, Deserialize)]
pub struct StatusError {
    pub code: Option<i64>,
    #[serde(default)]
    pub title: String,
    pub message: Option<String>,
    pub error_data: Option<ErrorData>,
}

#[derive(Debug, Deserialize)]
pub struct ErrorData {
    #[serde(default)]
    pub details: String,
}

impl StatusError {
    /// "131047: Re-engagement message — More than 24 hours have passed…"
    pub fn describe(&self) -> String {
        let mut text = match self.code {
            Some(code) => format!("{code}: {}", self.title),
            None => self.title.clone(),
        };
        let detail = self
            .error_data
            .as_ref()
            .map(|data| data.details.clone())
            .or_else(|| self.message.clone());
        if let Some(detail) = detail.filter(|detail| !detail.is_empty() && *detail != self.title) {
            text.push_str(" — ");
            text.push_str(&detail);
        }
        text
    }
}

impl InboundMessage {
    /// The media this message carries, if any.
    pub fn media(&self) -> Option<&MediaRef> {
        match self.kind.as_str() {
            "image" => self.image.as_ref(),
            "video" => self.video.as_ref(),
            "audio" => self.audio.as_ref(),
            "document" => self.document.as_ref(),
            "sticker" => self.sticker.as_ref(),
            _ => None,
        }
    }

    /// The text the archive keeps for this message (media come as
    /// attachments beside it). Never empty: what Conclave cannot show is
    /// named, so nothing arrives silently.
    pub fn archive_text(&self) -> String {
        let text = match self.kind.as_str() {
            "text" => self
                .text
                .as_ref()
                .map(|text| text.body.clone())
                .unwrap_or_default(),
            "image" | "video" | "audio" | "document" | "sticker" => self
                .media()
                .and_then(|media| media.caption.clone())
                .unwrap_or_default(),
            "location" => match &self.location {
                Some(location) => {
                    let mut parts: Vec<String> = [location.name.clone(), location.address.clone()]
                        .into_iter()
                        .flatten()
                        .filter(|part| !part.is_empty())
                        .collect();
                    if let (Some(latitude), Some(longitude)) =
                        (location.latitude, location.longitude)
                    {
                        parts.push(format!("{latitude}, {longitude}"));
                    }
                    format!("📍 {}", parts.join(" — "))
                }
                None => String::new(),
            },
            "contacts" => self
                .contacts
                .iter()
                .flatten()
                .map(|contact| {
                    let name = contact
                        .pointer("/name/formatted_name")
                        .and_then(Value::as_str)
                        .unwrap_or("contact");
                    let phones: Vec<&str> = contact
                        .get("phones")
                        .and_then(Value::as_array)
                        .map(|phones| {
                            phones
                                .iter()
                                .filter_map(|phone| phone.get("phone").and_then(Value::as_str))
                                .collect()
                        })
                        .unwrap_or_default();
                    format!("👤 {name}: {}", phones.join(", "))
                })
                .collect::<Vec<_>>()
                .join("\n"),
            "interactive" => match &self.interactive {
                Some(interactive) => match interactive
                    .button_reply
                    .as_ref()
                    .or(interactive.list_reply.as_ref())
                {
                    Some(choice) => match &choice.description {
                        Some(description) if !description.is_empty() => {
                            format!("{} ({description})", choice.title)
                        }
                        _ => choice.title.clone(),
                    },
                    None => format!("[interactive reply: {}]", interactive.kind),
                },
                None => String::new(),
            },
            "button" => self
                .button
                .as_ref()
                .map(|button| button.text.clone())
                .unwrap_or_default(),
            _ => String::new(),
        };
        let text = if text.trim().is_empty() && self.media().is_none() {
            format!("[WhatsApp {} message]", self.kind)
        } else {
            text
        };
        // WhatsApp allows 4096 characters; the archive's limit is larger,
        // but a hostile body is cut rather than refused.
        let mut end = text.len().min(conclave_domain::validate::MAX_MESSAGE_BYTES);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text[..end].replace('\0', "")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(json: Value) -> InboundMessage {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn every_message_type_becomes_text_worth_keeping() {
        let cases = [
            (
                serde_json::json!({"from": "1", "id": "w", "type": "text", "text": {"body": "Hi"}}),
                "Hi",
            ),
            (
                serde_json::json!({"from": "1", "id": "w", "type": "image", "image": {"id": "m", "caption": "my receipt"}}),
                "my receipt",
            ),
            (
                serde_json::json!({"from": "1", "id": "w", "type": "audio", "audio": {"id": "m"}}),
                "",
            ),
            (
                serde_json::json!({"from": "1", "id": "w", "type": "location", "location": {"latitude": 52.5, "longitude": 13.4, "name": "Office", "address": "Main St 1"}}),
                "📍 Office — Main St 1 — 52.5, 13.4",
            ),
            (
                serde_json::json!({"from": "1", "id": "w", "type": "contacts", "contacts": [{"name": {"formatted_name": "Ben"}, "phones": [{"phone": "+1 555"}]}]}),
                "👤 Ben: +1 555",
            ),
            (
                serde_json::json!({"from": "1", "id": "w", "type": "interactive", "interactive": {"type": "button_reply", "button_reply": {"id": "yes", "title": "Yes"}}}),
                "Yes",
            ),
            (
                serde_json::json!({"from": "1", "id": "w", "type": "interactive", "interactive": {"type": "list_reply", "list_reply": {"id": "2", "title": "Tuesday", "description": "10:00"}}}),
                "Tuesday (10:00)",
            ),
            (
                serde_json::json!({"from": "1", "id": "w", "type": "button", "button": {"text": "Stop promotions", "payload": "STOP"}}),
                "Stop promotions",
            ),
            (
                serde_json::json!({"from": "1", "id": "w", "type": "unsupported", "errors": [{"code": 131051}]}),
                "[WhatsApp unsupported message]",
            ),
        ];
        for (json, expected) in cases {
            assert_eq!(message(json.clone()).archive_text(), expected, "{json}");
        }
    }

    #[test]
    fn status_errors_read_well() {
        let error: StatusError = serde_json::from_value(serde_json::json!({
            "code": 131047, "title": "Re-engagement message", "message": "Re-engagement message",
            "error_data": {"details": "More than 24 hours have passed since the recipient last replied."}
        }))
        .unwrap();
        assert_eq!(
            error.describe(),
            "131047: Re-engagement message — More than 24 hours have passed since the recipient last replied."
        );
    }
}
