//! The people who wrote in a chat, as the export names them.
//!
//! An export shows a saved contact by the name on the exporting phone and
//! anyone else by phone number (`+49 170 1234567`). Matching them to Conclave
//! users is the importer's job; this module only offers a digits form of a
//! number so that `+49 170 1234567` and `+491701234567` compare equal.

use crate::header::is_invisible;

/// A distinct author of the chat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Participant {
    /// As written in the export, without invisible marks.
    pub name: String,
    /// When the name is a phone number: its digits, with a leading `+` if it
    /// had one (`+491701234567`).
    pub phone: Option<String>,
    /// Messages written by this participant, system lines excluded.
    pub message_count: usize,
}

/// Normalises a display name that is a phone number to its digits, keeping a
/// leading `+`. Returns `None` for names that are not phone numbers.
pub fn phone_digits(name: &str) -> Option<String> {
    let name =
        name.trim_matches(|character: char| character.is_whitespace() || is_invisible(character));
    let (plus, number) = match name.strip_prefix('+') {
        Some(number) => ("+", number),
        None => ("", name),
    };
    let mut digits = String::with_capacity(number.len() + 1);
    digits.push_str(plus);
    for character in number.chars() {
        match character {
            '0'..='9' => digits.push(character),
            ' ' | '-' | '.' | '(' | ')' | '/' | '\u{A0}' | '\u{202F}' => {}
            character if is_invisible(character) => {}
            _ => return None,
        }
    }
    // Shorter strings of digits are more likely names like "007" than numbers.
    let digit_count = digits.len() - plus.len();
    (digit_count >= 6).then_some(digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_are_normalised() {
        let cases = [
            ("+49 170 1234567", Some("+491701234567")),
            ("\u{202A}+1 (415) 555-0100\u{202C}", Some("+14155550100")),
            ("+55\u{A0}11\u{A0}91234-5678", Some("+5511912345678")),
            ("0170 1234567", Some("01701234567")),
            ("Anna", None),
            ("007", None),
            ("+49 170 CALL ME", None),
            ("", None),
        ];
        for (name, expected) in cases {
            assert_eq!(phone_digits(name).as_deref(), expected, "{name:?}");
        }
    }
}
