//! Conclave's Markdown-style text as WhatsApp formats it, so a customer sees
//! the emphasis the agent saw in the composer.
//!
//! WhatsApp marks bold with single asterisks, italics with underscores,
//! strikethrough with single tildes and monospace with three backticks.
//! Only the Graph API request is converted; the archive keeps what the
//! agent wrote.

/// Bold is parked under this private-use character while single asterisks
/// become underscores, so `**b**` and `*i*` cannot be mistaken for each
/// other.
const BOLD_MARK: char = '\u{E000}';

/// Converts an agent's text to WhatsApp formatting: `**b**` and `__b__` →
/// `*b*`, `*i*` → `_i_` (`_i_` stays), `~~s~~` → `~s~`, inline code and code
/// blocks → ```` ```monospace``` ````. Code is copied as it is; anything
/// that is not a well-formed span (unclosed, empty, padded with spaces)
/// stays as typed.
pub fn to_whatsapp(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("```")
            && let Some(end) = after.find("```")
        {
            // A fenced block: drop a language tag on the opening line, as
            // WhatsApp would show it literally.
            let body = &after[..end];
            let body = match body.split_once('\n') {
                Some((first, tail)) if !first.trim().is_empty() && !first.contains(' ') => tail,
                Some(("", tail)) => tail,
                _ => body,
            };
            out.push_str("```");
            out.push_str(body.trim_end_matches('\n'));
            out.push_str("```");
            rest = &after[end + 3..];
            continue;
        }
        if let Some(after) = rest.strip_prefix('`')
            && let Some(end) = after.find('`')
            && end > 0
            && !after[..end].contains('\n')
        {
            out.push_str("```");
            out.push_str(&after[..end]);
            out.push_str("```");
            rest = &after[end + 1..];
            continue;
        }
        // Plain text up to the next backtick after this character (which
        // may be an unmatched backtick, or several bytes long).
        let first = rest.chars().next().map_or(1, char::len_utf8);
        let next = rest[first..]
            .find('`')
            .map_or(rest.len(), |index| index + first);
        out.push_str(&convert_emphasis(&rest[..next]));
        rest = &rest[next..];
    }
    out
}

fn convert_emphasis(text: &str) -> String {
    let bold = BOLD_MARK.to_string();
    let bold_italic_open = format!("{BOLD_MARK}_");
    let bold_italic_close = format!("_{BOLD_MARK}");
    let text = replace_spans(text, "***", &bold_italic_open, &bold_italic_close);
    let text = replace_spans(&text, "**", &bold, &bold);
    let text = replace_spans(&text, "__", &bold, &bold);
    let text = replace_spans(&text, "~~", "~", "~");
    let text = replace_spans(&text, "*", "_", "_");
    text.replace(BOLD_MARK, "*")
}

/// Replaces each `delimiter`…`delimiter` span on one line, whose content is
/// neither empty nor starts or ends with whitespace, by the same content
/// between `open` and `close`.
fn replace_spans(text: &str, delimiter: &str, open: &str, close: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(delimiter) {
        out.push_str(&rest[..start]);
        let after = &rest[start + delimiter.len()..];
        let closing = after.find(delimiter).filter(|&end| {
            let content = &after[..end];
            !content.is_empty()
                && !content.contains('\n')
                && !content.starts_with(char::is_whitespace)
                && !content.ends_with(char::is_whitespace)
        });
        match closing {
            Some(end) => {
                out.push_str(open);
                out.push_str(&after[..end]);
                out.push_str(close);
                rest = &after[end + delimiter.len()..];
            }
            None => {
                out.push_str(delimiter);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::to_whatsapp;

    #[test]
    fn markdown_becomes_whatsapp_formatting() {
        // (what the agent typed, what the customer's phone receives)
        let table = [
            ("plain text", "plain text"),
            ("**bold**", "*bold*"),
            ("__bold__", "*bold*"),
            ("*italic*", "_italic_"),
            ("_italic_", "_italic_"),
            ("~~struck~~", "~struck~"),
            ("`code`", "```code```"),
            ("```\nlet x = 1;\n```", "```let x = 1;```"),
            ("```rust\nfn main() {}\n```", "```fn main() {}```"),
            (
                "Your **order** is *on its way*, ~~Monday~~ Tuesday",
                "Your *order* is _on its way_, ~Monday~ Tuesday",
            ),
            ("**bold** and *italic*", "*bold* and _italic_"),
            ("***both***", "*_both_*"),
            ("`**not bold**`", "```**not bold**```"),
            ("2 * 3 * 4", "2 * 3 * 4"),
            ("a ** b", "a ** b"),
            ("**unclosed", "**unclosed"),
            ("snake_case_name", "snake_case_name"),
            ("a `lone backtick", "a `lone backtick"),
            ("**line\nbreak**", "**line\nbreak**"),
            ("price: ~~$10~~ $8", "price: ~$10~ $8"),
            ("émoji **gras** 🎉", "émoji *gras* 🎉"),
        ];
        for (typed, sent) in table {
            assert_eq!(to_whatsapp(typed), sent, "{typed:?}");
        }
    }
}
