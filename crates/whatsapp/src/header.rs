//! Recognises the header that starts each message line.
//!
//! Android writes `date, time - rest` and iOS writes `[date, time] rest`. The
//! date's field order cannot be known from one line (`05/06/23`), so this
//! module returns the three numbers as read and leaves their meaning to the
//! caller, which decides over the whole file. It never allocates: it runs on
//! every line of the file, and most lines of a long chat are headers.
//!
//! Locales add words around these: a connector between date and time
//! (`à`, `klo`, `kl.`, `u`), a day-half word before the clock (`오후`, `下午`)
//! or after it (`p. m.`, `μ.μ.`, `PTG`, `م`), a year suffix (`г.`), an Arabic
//! comma, Arabic-Indic digits. docs/whatsapp-formats.md lists every form.
//!
//! Bidirectional-text controls (U+200E and friends) and a byte-order mark may
//! appear anywhere inside a header; the cursor skips them as if absent.

/// Which app wrote the export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Platform {
    /// `12/31/23, 9:41 PM - Name: text`
    Android,
    /// `[31/12/2023, 21:41:05] Name: text`
    Ios,
}

/// The date part of a header, before the file-wide decision on field order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RawDate {
    pub(crate) fields: [u16; 3],
    /// True when the first field has four digits (`2023-12-31`).
    pub(crate) year_first: bool,
}

/// The clock part of a header, already converted to a 24-hour reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RawTime {
    pub(crate) hour: u8,
    pub(crate) minute: u8,
    pub(crate) second: u8,
}

/// The features of a header that stay the same throughout one export. The
/// parser fixes them from the first header so that a quoted header pasted into
/// a message body in another format is not taken for a new message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HeaderShape {
    pub(crate) platform: Platform,
    pub(crate) date_separator: u8,
    pub(crate) year_first: bool,
    /// The year stood between day and month (`13/2018/06`).
    pub(crate) year_middle: bool,
    pub(crate) twelve_hour: bool,
    /// The clock used exactly `AM`/`PM`, as en-US phones do.
    pub(crate) uppercase_am_pm: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) shape: HeaderShape,
    pub(crate) date: RawDate,
    pub(crate) time: RawTime,
    /// Byte offset in the line where the text after the header starts.
    pub(crate) rest_offset: usize,
}

/// Parses a header at the start of `line`, or returns `None` when the line
/// does not start with one (a continuation line).
pub(crate) fn parse_header(line: &str) -> Option<Header> {
    let mut cursor = Cursor {
        bytes: line.as_bytes(),
        position: 0,
    };
    cursor.skip_spaces();
    // Cheap rejection for the common continuation line.
    let first = cursor.peek()?;
    if first != b'[' && !first.is_ascii_digit() && !matches!(first, 0xD9 | 0xDB) {
        return None;
    }
    let platform = if cursor.eat(b'[') {
        cursor.skip_spaces();
        Platform::Ios
    } else {
        Platform::Android
    };
    let (date, date_separator, year_middle) = parse_date(&mut cursor)?;
    // Bulgarian closes the date with `г.` (year).
    let before_suffix = cursor.position;
    cursor.skip_spaces();
    if !cursor.eat_ascii_case_insensitive("\u{433}.") {
        cursor.position = before_suffix;
    }
    // Arabic writes its own comma.
    let had_comma = cursor.eat(b',') || cursor.eat_ascii_case_insensitive("\u{60c}");
    if cursor.skip_spaces() == 0 && !had_comma {
        return None;
    }
    if eat_connector(&mut cursor) && cursor.skip_spaces() == 0 {
        return None;
    }
    let (time, meridiem) = parse_time(&mut cursor)?;
    match platform {
        Platform::Ios => {
            cursor.skip_spaces();
            if !cursor.eat(b']') {
                return None;
            }
            cursor.skip_spaces();
        }
        Platform::Android => {
            if cursor.skip_spaces() == 0 || !cursor.eat(b'-') {
                return None;
            }
            // The dash is followed by a space, unless the line ends there.
            if cursor.skip_spaces() == 0 && cursor.peek().is_some() {
                return None;
            }
        }
    }
    Some(Header {
        shape: HeaderShape {
            platform,
            date_separator,
            year_first: date.year_first,
            year_middle,
            twelve_hour: meridiem.is_some(),
            uppercase_am_pm: meridiem == Some(MeridiemStyle::UppercaseLatin),
        },
        date,
        time,
        rest_offset: cursor.position,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MeridiemStyle {
    /// `AM` / `PM`
    UppercaseLatin,
    /// `am`, `a.m.`, `p. m.`, `vorm.`, ...
    Other,
}

/// Reads a date, returning it, its separator and whether the year stood in
/// the middle. A middle year is moved last so that the rest of the parser
/// sees day and month in the order they were written, then the year.
fn parse_date(cursor: &mut Cursor<'_>) -> Option<(RawDate, u8, bool)> {
    let (first, first_digits) = cursor.number(4)?;
    let separator = cursor.peek()?;
    if !matches!(separator, b'/' | b'.' | b'-') {
        return None;
    }
    cursor.advance();
    cursor.skip_spaces();
    let (second, second_digits) = cursor.number(4)?;
    if !cursor.eat(separator) {
        return None;
    }
    cursor.skip_spaces();
    let (third, third_digits) = cursor.number(4)?;
    // Some locales close the date with a dot (`2023. 12. 31.`).
    if separator == b'.' {
        cursor.eat(b'.');
    }
    let year_first = first_digits == 4;
    let year_middle = second_digits == 4;
    let plausible = if year_first {
        second_digits <= 2 && third_digits <= 2
    } else if year_middle {
        first_digits <= 2 && third_digits <= 2
    } else {
        first_digits <= 2 && second_digits <= 2 && (third_digits == 2 || third_digits == 4)
    };
    if !plausible {
        return None;
    }
    let fields = if year_middle {
        [first, third, second]
    } else {
        [first, second, third]
    };
    Some((RawDate { fields, year_first }, separator, year_middle))
}

/// Words some locales put between the date and the time: French `à`,
/// Finnish `klo`, Danish and Norwegian `kl.`, Croatian `u`. Returns whether
/// one was eaten.
fn eat_connector(cursor: &mut Cursor<'_>) -> bool {
    CONNECTORS
        .iter()
        .any(|word| cursor.eat_ascii_case_insensitive(word))
}

const CONNECTORS: [&str; 4] = ["\u{e0}", "klo", "kl.", "u"];

/// Day-half words written before the clock (Korean, Chinese, Japanese), with
/// whether each is afternoon.
const LEADING_MERIDIEMS: [(&str, bool); 6] = [
    ("\u{c624}\u{c804}", false),
    ("\u{c624}\u{d6c4}", true),
    ("\u{4e0a}\u{5348}", false),
    ("\u{4e0b}\u{5348}", true),
    ("\u{5348}\u{524d}", false),
    ("\u{5348}\u{5f8c}", true),
];

fn parse_time(cursor: &mut Cursor<'_>) -> Option<(RawTime, Option<MeridiemStyle>)> {
    let leading_meridiem = LEADING_MERIDIEMS
        .iter()
        .find(|(word, _)| cursor.eat_ascii_case_insensitive(word))
        .map(|&(_, is_pm)| (MeridiemStyle::Other, is_pm));
    if leading_meridiem.is_some() {
        cursor.skip_spaces();
    }
    let (hour, hour_digits) = cursor.number(2)?;
    let separator = cursor.peek()?;
    if !matches!(separator, b':' | b'.') {
        return None;
    }
    cursor.advance();
    let (minute, minute_digits) = cursor.number(2)?;
    if hour_digits == 0 || minute_digits != 2 {
        return None;
    }
    let mut second = 0;
    let before_seconds = cursor.position;
    if cursor.eat(separator) {
        match cursor.number(2) {
            Some((value, 2)) => second = value,
            _ => cursor.position = before_seconds,
        }
    }
    let meridiem = match leading_meridiem {
        Some(meridiem) => Some(meridiem),
        None => {
            let before_meridiem = cursor.position;
            cursor.skip_spaces();
            let meridiem = parse_meridiem(cursor);
            if meridiem.is_none() {
                cursor.position = before_meridiem;
            }
            meridiem
        }
    };
    let hour = match meridiem {
        Some((_, is_pm)) => {
            if hour > 12 {
                return None;
            }
            match (hour, is_pm) {
                (12, false) => 0,
                (12, true) => 12,
                (hour, true) => hour + 12,
                (hour, false) => hour,
            }
        }
        None => hour,
    };
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let time = RawTime {
        hour: u8::try_from(hour).ok()?,
        minute: u8::try_from(minute).ok()?,
        second: u8::try_from(second).ok()?,
    };
    Some((time, meridiem.map(|(style, _)| style)))
}

/// Day-half words written after the clock other than the `a.m.` family:
/// German, Greek, Malay, Arabic. Longer words come before their prefixes.
const TRAILING_MERIDIEMS: [(&str, bool); 8] = [
    ("vorm.", false),
    ("nachm.", true),
    ("\u{3c0}.\u{3bc}.", false),
    ("\u{3bc}.\u{3bc}.", true),
    ("ptg", true),
    ("pg", false),
    ("\u{635}", false),
    ("\u{645}", true),
];

/// Reads `AM`, `pm`, `a.m.`, `p. m.` (Spanish), `vorm.` or `nachm.` (German),
/// returning the style and whether it is afternoon.
fn parse_meridiem(cursor: &mut Cursor<'_>) -> Option<(MeridiemStyle, bool)> {
    let start = cursor.position;
    for (word, is_pm) in TRAILING_MERIDIEMS {
        if cursor.eat_ascii_case_insensitive(word) {
            // The word must end here, as for `am` below.
            if cursor
                .peek()
                .is_some_and(|byte| byte.is_ascii_alphanumeric())
            {
                cursor.position = start;
                continue;
            }
            return Some((MeridiemStyle::Other, is_pm));
        }
    }
    let is_pm = match cursor.peek()? {
        b'a' | b'A' => false,
        b'p' | b'P' => true,
        _ => return None,
    };
    cursor.advance();
    let dotted = cursor.eat(b'.');
    if dotted {
        cursor.skip_spaces();
    }
    if !matches!(cursor.peek(), Some(b'm' | b'M')) {
        cursor.position = start;
        return None;
    }
    cursor.advance();
    cursor.eat(b'.');
    // The word must end here; `9:41 amazing` is not a clock.
    if cursor
        .peek()
        .is_some_and(|byte| byte.is_ascii_alphanumeric())
    {
        cursor.position = start;
        return None;
    }
    let written = cursor.bytes.get(start..cursor.position)?;
    let style = if written == b"AM" || written == b"PM" {
        MeridiemStyle::UppercaseLatin
    } else {
        MeridiemStyle::Other
    };
    Some((style, is_pm))
}

/// A byte cursor that treats invisible formatting characters as absent.
struct Cursor<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl Cursor<'_> {
    fn skip_invisible(&mut self) {
        while let Some(width) = invisible_width(self.bytes.get(self.position..).unwrap_or(&[])) {
            self.position += width;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_invisible();
        self.bytes.get(self.position).copied()
    }

    fn advance(&mut self) {
        self.position += 1;
    }

    fn eat(&mut self, expected: u8) -> bool {
        if self.peek() == Some(expected) {
            self.advance();
            true
        } else {
            false
        }
    }

    fn eat_ascii_case_insensitive(&mut self, word: &str) -> bool {
        let end = self.position + word.len();
        match self.bytes.get(self.position..end) {
            Some(found) if found.eq_ignore_ascii_case(word.as_bytes()) => {
                self.position = end;
                true
            }
            _ => false,
        }
    }

    /// Skips spaces (plain, no-break, narrow no-break) and invisible
    /// characters, returning how many spaces were skipped.
    fn skip_spaces(&mut self) -> usize {
        let mut spaces = 0;
        loop {
            self.skip_invisible();
            let rest = self.bytes.get(self.position..).unwrap_or(&[]);
            let width = match rest {
                [b' ' | b'\t', ..] => 1,
                [0xC2, 0xA0, ..] => 2,
                [0xE2, 0x80, 0xAF, ..] => 3,
                _ => return spaces,
            };
            self.position += width;
            spaces += 1;
        }
    }

    /// Reads up to `max_digits` ASCII digits, returning the value and how
    /// many digits there were; `None` when there is no digit at all.
    fn number(&mut self, max_digits: usize) -> Option<(u16, usize)> {
        self.skip_invisible();
        let mut value: u16 = 0;
        let mut digits = 0;
        while let Some((digit, width)) = digit_at(self.bytes.get(self.position..).unwrap_or(&[])) {
            if digits == max_digits {
                return None;
            }
            value = value * 10 + u16::from(digit);
            digits += 1;
            self.position += width;
        }
        (digits > 0).then_some((value, digits))
    }
}

/// The digit at the start of `bytes` and its UTF-8 width: ASCII, Arabic-Indic
/// (U+0660..U+0669) or Eastern Arabic-Indic (U+06F0..U+06F9).
fn digit_at(bytes: &[u8]) -> Option<(u8, usize)> {
    match bytes {
        [byte @ b'0'..=b'9', ..] => Some((byte - b'0', 1)),
        [0xD9, byte @ 0xA0..=0xA9, ..] => Some((byte - 0xA0, 2)),
        [0xDB, byte @ 0xB0..=0xB9, ..] => Some((byte - 0xB0, 2)),
        _ => None,
    }
}

/// The UTF-8 width of a bidirectional-text control or byte-order mark at the
/// start of `bytes`.
fn invisible_width(bytes: &[u8]) -> Option<usize> {
    match bytes {
        // U+200E LRM, U+200F RLM, U+202A..U+202E embeddings and overrides.
        [0xE2, 0x80, 0x8E | 0x8F | 0xAA..=0xAE, ..] => Some(3),
        // U+2066..U+2069 isolates.
        [0xE2, 0x81, 0xA6..=0xA9, ..] => Some(3),
        // U+FEFF byte-order mark.
        [0xEF, 0xBB, 0xBF, ..] => Some(3),
        _ => None,
    }
}

/// Whether `character` is one of the invisible characters headers may carry.
pub(crate) fn is_invisible(character: char) -> bool {
    matches!(
        character,
        '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Platform, date fields, 24-hour clock and the text after the header.
    type Reading<'a> = (Platform, [u16; 3], (u8, u8, u8), &'a str);

    fn header(line: &str) -> Option<Reading<'_>> {
        let header = parse_header(line)?;
        let time = header.time;
        Some((
            header.shape.platform,
            header.date.fields,
            (time.hour, time.minute, time.second),
            &line[header.rest_offset..],
        ))
    }

    #[test]
    fn recognises_header_variants() {
        use Platform::{Android, Ios};
        let cases: &[(&str, Reading<'_>)] = &[
            (
                "12/31/23, 9:41 PM - A: x",
                (Android, [12, 31, 23], (21, 41, 0), "A: x"),
            ),
            (
                "31.12.23, 21:41 - A: x",
                (Android, [31, 12, 23], (21, 41, 0), "A: x"),
            ),
            (
                "2023-12-31 21:41 - A: x",
                (Android, [2023, 12, 31], (21, 41, 0), "A: x"),
            ),
            (
                "[31/12/2023, 21:41:05] A: x",
                (Ios, [31, 12, 2023], (21, 41, 5), "A: x"),
            ),
            (
                "[12/31/23, 9:41:05 PM] A: x",
                (Ios, [12, 31, 23], (21, 41, 5), "A: x"),
            ),
            (
                "12/31/23, 9:41\u{202F}PM - A: x",
                (Android, [12, 31, 23], (21, 41, 0), "A: x"),
            ),
            (
                "31/12/23, 9:41 pm - A: x",
                (Android, [31, 12, 23], (21, 41, 0), "A: x"),
            ),
            (
                "31/12/23 12:05 a. m. - A: x",
                (Android, [31, 12, 23], (0, 5, 0), "A: x"),
            ),
            (
                "31/12/23, 12:05\u{a0}p.\u{a0}m. - A: x",
                (Android, [31, 12, 23], (12, 5, 0), "A: x"),
            ),
            (
                "31.12.23, 9:05 nachm. - A: x",
                (Android, [31, 12, 23], (21, 5, 0), "A: x"),
            ),
            (
                "\u{200E}[31/12/2023, 21:41:05] A: x",
                (Ios, [31, 12, 2023], (21, 41, 5), "A: x"),
            ),
            (
                "[31/12/2023,\u{200E} 21:41:05\u{200F}] A: x",
                (Ios, [31, 12, 2023], (21, 41, 5), "A: x"),
            ),
            (
                "\u{FEFF}31.12.2023, 21.41 - A: x",
                (Android, [31, 12, 2023], (21, 41, 0), "A: x"),
            ),
            (
                "2023. 12. 31. 21:41 - A: x",
                (Android, [2023, 12, 31], (21, 41, 0), "A: x"),
            ),
            ("1/2/23, 9:41 AM - ", (Android, [1, 2, 23], (9, 41, 0), "")),
        ];
        for (line, expected) in cases {
            assert_eq!(header(line), Some(*expected), "{line:?}");
        }
    }

    #[test]
    fn rejects_lines_that_are_not_headers() {
        let lines = [
            "hello",
            "",
            "12/31/23",
            "12/31/23, 9:41 PM",
            "12/31/23, 9:41 PM-A: x",
            "12/31/23 - A: x",
            "12/31/2023, 25:41 - A: x",
            "12/31/23, 13:41 PM - A: x",
            "12/31/23, 9:4 PM - A: x",
            "[12/31/23, 9:41 PM A: x",
            "12-31/23, 9:41 PM - A: x",
            "123/1/23, 9:41 - A: x",
            "1/1/123, 9:41 - A: x",
            "12/31/23, 9:41 amazing - A: x",
            "2023-12-31",
            "13/06/2018 \u{e0}21:25 - A: x",
            "13/06/2018 klo - A: x",
            "13/06/18, 9:25 pgx - A: x",
            "13/2018/2018, 21:25 - A: x",
            "2018/2018/13, 21:25 - A: x",
        ];
        for line in lines {
            assert_eq!(header(line), None, "{line:?}");
        }
    }
}
