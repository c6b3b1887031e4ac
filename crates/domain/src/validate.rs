//! Input validation shared by every entry point (HTTP, WebSocket, CLI).

use thiserror::Error;

/// Largest message text, in bytes of UTF-8.
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024;
pub const MAX_CHANNEL_NAME_CHARS: usize = 80;
pub const MAX_TOPIC_CHARS: usize = 250;
pub const MAX_DISPLAY_NAME_CHARS: usize = 100;
pub const MAX_EMAIL_CHARS: usize = 254;
pub const MAX_EMOJI_CHARS: usize = 64;
pub const MAX_FILE_NAME_CHARS: usize = 255;
pub const MIN_PASSWORD_CHARS: usize = 10;
pub const MAX_PASSWORD_BYTES: usize = 1024;
/// A group conversation holds at most this many people.
pub const MAX_GROUP_MEMBERS: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{field}: {problem}")]
pub struct ValidationError {
    pub field: &'static str,
    pub problem: String,
}

fn invalid(field: &'static str, problem: impl Into<String>) -> ValidationError {
    ValidationError {
        field,
        problem: problem.into(),
    }
}

pub fn message_text(text: &str, has_attachments: bool) -> Result<(), ValidationError> {
    if text.len() > MAX_MESSAGE_BYTES {
        return Err(invalid(
            "text",
            format!(
                "is {} bytes; at most {MAX_MESSAGE_BYTES} are allowed",
                text.len()
            ),
        ));
    }
    if text.trim().is_empty() && !has_attachments {
        return Err(invalid("text", "must not be empty"));
    }
    if text.contains('\0') {
        return Err(invalid("text", "must not contain NUL characters"));
    }
    Ok(())
}

/// Channel names: 1–80 characters of lowercase letters, digits, `-` and `_`,
/// as in Slack and Mattermost, so they read well after a `#`.
pub fn channel_name(name: &str) -> Result<(), ValidationError> {
    if name.chars().any(char::is_control) {
        return Err(invalid(
            "name",
            "must not contain NUL or other control characters",
        ));
    }
    let count = name.chars().count();
    if count == 0 || count > MAX_CHANNEL_NAME_CHARS {
        return Err(invalid(
            "name",
            format!("must be 1 to {MAX_CHANNEL_NAME_CHARS} characters"),
        ));
    }
    if !name
        .chars()
        .all(|c| c.is_lowercase() || c.is_numeric() || c == '-' || c == '_')
    {
        return Err(invalid(
            "name",
            "may hold only lowercase letters, digits, '-' and '_'",
        ));
    }
    Ok(())
}

/// Turns a name a person typed ("Q3 Planning!") into a channel name
/// ("q3-planning") for [`channel_name`] to check.
///
/// It only changes what a person would agree is the same name: case,
/// spaces and punctuation. It never shortens a name and keeps control
/// characters (NUL included), so that a name too long or carrying bytes no
/// person typed is refused by [`channel_name`] rather than silently made
/// into another name.
pub fn normalize_channel_name(name: &str) -> String {
    let mut out = String::new();
    for c in name
        .trim_matches(|c: char| c.is_whitespace() && !c.is_control())
        .chars()
    {
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        } else if c.is_control() && !matches!(c, '\t' | '\n' | '\r') {
            out.push(c);
        } else if (c == '-' || c == '_' || c.is_whitespace()) && !out.ends_with('-') {
            out.push(if c == '_' { '_' } else { '-' });
        }
    }
    out.trim_matches('-').to_string()
}

pub fn topic(topic: &str) -> Result<(), ValidationError> {
    if topic.contains('\0') {
        return Err(invalid("topic", "must not contain NUL characters"));
    }
    if topic.chars().count() > MAX_TOPIC_CHARS {
        return Err(invalid(
            "topic",
            format!("must be at most {MAX_TOPIC_CHARS} characters"),
        ));
    }
    Ok(())
}

pub fn display_name(name: &str) -> Result<(), ValidationError> {
    let count = name.trim().chars().count();
    if count == 0 || count > MAX_DISPLAY_NAME_CHARS {
        return Err(invalid(
            "name",
            format!("must be 1 to {MAX_DISPLAY_NAME_CHARS} characters"),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(invalid("name", "must not contain control characters"));
    }
    Ok(())
}

/// A pragmatic address check: one `@`, a non-empty local part, a dotted
/// domain, no spaces. Deliverability is the identity provider's concern.
pub fn email(email: &str) -> Result<(), ValidationError> {
    let problem = if email.len() > MAX_EMAIL_CHARS {
        Some("is too long")
    } else if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        Some("must not contain spaces")
    } else {
        match email.split_once('@') {
            Some((local, domain))
                if !local.is_empty()
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.') =>
            {
                None
            }
            _ => Some("is not an email address"),
        }
    };
    match problem {
        Some(problem) => Err(invalid("email", problem)),
        None => Ok(()),
    }
}

pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

pub fn password(password: &str) -> Result<(), ValidationError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(invalid(
            "password",
            format!("must be at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(invalid("password", "is too long"));
    }
    Ok(())
}

/// Reactions are a short emoji or a `:shortcode:`.
pub fn emoji(emoji: &str) -> Result<(), ValidationError> {
    let count = emoji.chars().count();
    if count == 0 || count > MAX_EMOJI_CHARS {
        return Err(invalid(
            "emoji",
            format!("must be 1 to {MAX_EMOJI_CHARS} characters"),
        ));
    }
    if emoji.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid("emoji", "must not contain spaces"));
    }
    Ok(())
}

/// A file name safe to store and to offer back in a download header.
pub fn sanitize_file_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let cleaned: String = base
        .chars()
        .filter(|c| !c.is_control() && *c != '"')
        .take(MAX_FILE_NAME_CHARS)
        .collect();
    let cleaned = cleaned.trim().trim_start_matches('.').to_string();
    if cleaned.is_empty() {
        "file".to_string()
    } else {
        cleaned
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_text_limits() {
        assert!(message_text("hello", false).is_ok());
        assert!(message_text("   ", false).is_err());
        assert!(message_text("", true).is_ok());
        assert!(message_text(&"x".repeat(MAX_MESSAGE_BYTES), false).is_ok());
        assert!(message_text(&"x".repeat(MAX_MESSAGE_BYTES + 1), false).is_err());
        // Multi-byte characters count by bytes, not characters.
        assert!(message_text(&"é".repeat(MAX_MESSAGE_BYTES / 2 + 1), false).is_err());
    }

    #[test]
    fn channel_names() {
        for ok in ["general", "q3-planning", "team_a", "ñandú"] {
            assert!(channel_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "General", "has space", "#hash", &"a".repeat(81)] {
            assert!(channel_name(bad).is_err(), "{bad}");
        }
        assert_eq!(normalize_channel_name("  Q3 Planning! "), "q3-planning");
        assert_eq!(normalize_channel_name("a -- b"), "a-b");
    }

    #[test]
    fn long_names_and_nul_are_refused_not_silently_changed() {
        // Each raw input as a person (or a script) sent it, normalized then
        // checked the way every entry point does.
        let refused = [
            "a".repeat(MAX_CHANNEL_NAME_CHARS + 1),
            format!("{} tail", "b".repeat(MAX_CHANNEL_NAME_CHARS)),
            "sales\0".to_string(),
            "sa\0les".to_string(),
            "\0".to_string(),
            "sales\u{7}".to_string(),
        ];
        for raw in &refused {
            let name = normalize_channel_name(raw);
            let error = channel_name(&name).expect_err(raw);
            assert_eq!(error.field, "name", "{raw:?}");
        }
        let accepted = [
            (
                "a".repeat(MAX_CHANNEL_NAME_CHARS),
                "a".repeat(MAX_CHANNEL_NAME_CHARS),
            ),
            ("  Q3 Planning!\n".to_string(), "q3-planning".to_string()),
            (
                "tabs\tare spaces".to_string(),
                "tabs-are-spaces".to_string(),
            ),
        ];
        for (raw, expected) in accepted {
            let name = normalize_channel_name(&raw);
            assert_eq!(name, expected);
            assert!(channel_name(&name).is_ok(), "{raw:?}");
        }
    }

    #[test]
    fn nul_is_refused_in_every_free_text_field() {
        assert!(message_text("hi\0there", false).is_err());
        assert!(topic("a topic\0").is_err());
        assert!(topic("a topic").is_ok());
        assert!(display_name("Ann\0").is_err());
    }

    #[test]
    fn emails() {
        for ok in ["a@b.co", "first.last+tag@example.com"] {
            assert!(email(ok).is_ok(), "{ok}");
        }
        for bad in [
            "", "a", "a@b", "@b.co", "a@@b.co", "a b@c.de", "a@.com", "a@b.com.",
        ] {
            assert!(email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn file_names() {
        assert_eq!(sanitize_file_name("../../etc/passwd"), "passwd");
        assert_eq!(sanitize_file_name("C:\\x\\report.pdf"), "report.pdf");
        assert_eq!(sanitize_file_name("a\"b\n.txt"), "ab.txt");
        assert_eq!(sanitize_file_name(".."), "file");
    }
}
