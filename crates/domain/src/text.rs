//! Message text helpers: mention parsing and handle derivation.

/// Words that mention everyone in a channel rather than one person.
pub const BROADCAST_MENTIONS: [&str; 3] = ["channel", "here", "all"];

/// The handles mentioned as `@handle` in `text`, lowercased, deduplicated,
/// in order of first appearance. Mentions inside inline code or code blocks
/// do not count, and an `@` inside a word (an email address) is no mention.
pub fn mentioned_handles(text: &str) -> Vec<String> {
    let mut handles: Vec<String> = Vec::new();
    let mut in_code_block = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_code_block = !in_code_block;
            continue;
        }
        if in_code_block {
            continue;
        }
        let mut in_inline_code = false;
        let mut previous: Option<char> = None;
        for (index, character) in line.char_indices() {
            if character == '`' {
                in_inline_code = !in_inline_code;
            } else if character == '@'
                && !in_inline_code
                && !previous.is_some_and(|p| p.is_alphanumeric() || p == '_' || p == '.')
            {
                let rest = &line[index + 1..];
                let length = rest
                    .char_indices()
                    .find(|(_, c)| !is_handle_char(*c))
                    .map_or(rest.len(), |(i, _)| i);
                // A handle never ends in a dot: "@bob." is "@bob" then a full stop.
                let handle = rest[..length].trim_end_matches('.');
                if !handle.is_empty() {
                    let handle = handle.to_lowercase();
                    if !handles.contains(&handle) {
                        handles.push(handle);
                    }
                }
            }
            previous = Some(character);
        }
    }
    handles
}

pub fn is_handle_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.'
}

/// A handle made from an email's local part: lowercase, with anything that
/// cannot appear in a handle replaced by `_`.
pub fn handle_from_email(email: &str) -> String {
    let local = email.split('@').next().unwrap_or(email);
    let mut handle: String = local
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if is_handle_char(c) { c } else { '_' }
        })
        .collect();
    handle = handle.trim_matches('.').to_string();
    if handle.is_empty() {
        handle.push_str("user");
    }
    handle.truncate(40);
    handle
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_table() {
        let cases: &[(&str, &[&str])] = &[
            ("hi @alice", &["alice"]),
            ("@Alice and @bob.", &["alice", "bob"]),
            ("mail alice@example.com", &[]),
            ("@alice @alice", &["alice"]),
            ("`@code` @real", &["real"]),
            ("```\n@inblock\n```\n@after", &["after"]),
            ("@channel look", &["channel"]),
            ("@first.last, hi", &["first.last"]),
            ("@ alone", &[]),
        ];
        for (text, expected) in cases {
            assert_eq!(mentioned_handles(text), expected.to_vec(), "text: {text:?}");
        }
    }

    #[test]
    fn handles_from_emails() {
        assert_eq!(handle_from_email("Alice.Smith@example.com"), "alice.smith");
        assert_eq!(handle_from_email("o'brien+x@example.com"), "o_brien_x");
        assert_eq!(handle_from_email("@example.com"), "user");
    }
}
