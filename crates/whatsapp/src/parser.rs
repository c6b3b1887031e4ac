//! Turns the lines of an exported chat into messages.
//!
//! [`ChatParser`] takes one line at a time, so a caller can feed it from a
//! buffered reader without holding the file. It must still keep every message
//! until [`ChatParser::finish`]: whether `05/06/23` is the fifth of June or
//! the sixth of May is decided by looking at all the dates in the file, and
//! only then can any timestamp be given.

use std::collections::HashMap;

use sha2::{Digest, Sha256};

use crate::content::{
    MediaKind, SystemEvent, is_deleted_marker, is_encryption_notice, media_marker,
    strip_edited_marker, system_event, trim_start_invisible,
};
use crate::header::{Header, HeaderShape, Platform, RawDate, is_invisible, parse_header};
use crate::participant::{Participant, phone_digits};
use crate::timestamp::LocalTimestamp;

/// Parses a whole export with default options.
pub fn parse_chat(text: &str) -> ParsedChat {
    parse_chat_with(text, ParseOptions::default())
}

/// Parses a whole export.
pub fn parse_chat_with(text: &str, options: ParseOptions) -> ParsedChat {
    let mut parser = ChatParser::new(options);
    // A final newline ends the last line; it does not start an empty one.
    let text = text.strip_suffix('\n').unwrap_or(text);
    for line in text.split('\n') {
        parser.push_line(line);
    }
    parser.finish()
}

/// Choices the file itself cannot settle.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ParseOptions {
    /// Field order for `dd/mm` versus `mm/dd` dates when the caller knows the
    /// phone's locale; `None` infers it from the file.
    pub date_order: Option<DateOrder>,
}

/// The result of parsing one export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedChat {
    pub messages: Vec<Message>,
    /// Distinct authors in order of their first message.
    pub participants: Vec<Participant>,
    /// Lines that could not be read as intended, in line order.
    pub problems: Vec<Problem>,
    /// `None` when the file held no message at all.
    pub platform: Option<Platform>,
    pub date_order: DateOrderDecision,
    /// The name iOS puts in front of system lines: the group's subject, or
    /// the contact's name in a one-to-one chat. The first one seen.
    pub ios_chat_name: Option<String>,
}

impl ParsedChat {
    /// The file had text but no line of it was read as a message: its header
    /// form is not one the parser knows. An import must fail loudly rather
    /// than report zero messages.
    pub fn unreadable(&self) -> bool {
        self.messages.is_empty() && !self.problems.is_empty()
    }

    /// Totals for an import summary.
    pub fn counts(&self) -> ChatCounts {
        let mut counts = ChatCounts {
            messages: self.messages.len(),
            problems: self.problems.len(),
            ..ChatCounts::default()
        };
        for message in &self.messages {
            match message.kind {
                MessageKind::Text => counts.text += 1,
                MessageKind::System(_) => counts.system_events += 1,
                MessageKind::Media { .. } => counts.media += 1,
                MessageKind::Deleted => counts.deleted += 1,
            }
        }
        counts
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChatCounts {
    pub messages: usize,
    pub text: usize,
    pub system_events: usize,
    pub media: usize,
    pub deleted: usize,
    pub problems: usize,
}

/// One message or system line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// One-based line number of the header line.
    pub line: usize,
    /// Local wall-clock time as the phone showed it; see [`LocalTimestamp`].
    pub timestamp: LocalTimestamp,
    /// `None` for system lines.
    pub author: Option<String>,
    /// The text after the author, lines joined with `\n`, without leading
    /// invisible marks and without the "edited" marker. For media and deleted
    /// messages this is the marker text itself, so nothing is lost.
    pub body: String,
    pub kind: MessageKind,
    /// The body ended with "<This message was edited>" or a translation.
    pub edited: bool,
    /// How many earlier messages in this file have the same timestamp,
    /// author and body (people do send "ok" twice in a minute).
    pub ordinal: u32,
}

impl Message {
    /// A digest that is the same each time the same export is parsed and
    /// differs between messages within it: SHA-256 over the timestamp,
    /// author, body and ordinal. Scope it to the destination channel when
    /// storing.
    pub fn dedupe_digest(&self) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update(b"conclave-whatsapp-message-v1");
        let timestamp = self.timestamp.to_string();
        let author = match &self.author {
            Some(author) => format!("author:{author}"),
            None => String::from("system"),
        };
        let ordinal = self.ordinal.to_string();
        for field in [
            timestamp.as_str(),
            author.as_str(),
            self.body.as_str(),
            ordinal.as_str(),
        ] {
            // Length prefixes keep ("a", "bc") and ("ab", "c") apart.
            hasher.update((field.len() as u64).to_be_bytes());
            hasher.update(field.as_bytes());
        }
        hasher.finalize().into()
    }

    /// [`Message::dedupe_digest`] in hex.
    pub fn dedupe_key(&self) -> String {
        hex::encode(self.dedupe_digest())
    }

    /// The phone's clock reading in seconds, counted as if it were UTC: the
    /// same whatever offset the import assumes.
    pub fn local_seconds(&self) -> i64 {
        self.timestamp.unix_seconds(0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageKind {
    Text,
    /// Group created, member added or left, encryption notice, ...
    System(SystemEvent),
    Media {
        kind: MediaKind,
        /// Present when the export included the file or named it.
        file_name: Option<String>,
        /// Text sent with the media, from the lines after the marker.
        caption: Option<String>,
    },
    /// "This message was deleted" and its variants.
    Deleted,
}

/// A line the parser could not read as a message header or its continuation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// One-based line number.
    pub line: usize,
    pub kind: ProblemKind,
    /// The line as it was in the file.
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    /// Text before the first message header; it belongs to no message and is
    /// kept only here.
    TextBeforeFirstMessage,
    /// A header whose date does not exist in the date order chosen for the
    /// file (e.g. `13/25/23`). The line is kept in the previous message's body.
    InvalidDate,
    /// A header in another format than the file's first header, such as a
    /// quoted iOS line inside an Android export. It is kept in the previous
    /// message's body.
    ForeignHeaderFormat,
}

/// How the fields of a date are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateOrder {
    /// `31/12/23`
    DayFirst,
    /// `12/31/23`
    MonthFirst,
    /// `2023-12-31`, or `23-12-31` where the file shows it
    YearFirst,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateOrderDecision {
    pub order: DateOrder,
    pub reason: DateOrderReason,
    pub confidence: DateOrderConfidence,
}

/// How sure the parser is of its date order, for the import summary. An
/// operator who sees anything but `Certain` should check a few messages and
/// re-run with an explicit order if they are wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateOrderConfidence {
    /// The caller said so, or a date only fits this order.
    Certain,
    /// Inferred from strong signs: time runs forward only in this order, or
    /// the date style is used one way by every locale that writes it.
    High,
    /// A guess from weak or conflicting signs.
    Low,
}

/// Why the parser settled on a date order, for the import summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateOrderReason {
    /// [`ParseOptions::date_order`] said so.
    Forced,
    /// Dates start with a four-digit year.
    YearFirstDates,
    /// Dates like `23-12-31`: the last field fell from one message to the
    /// next on this line while the first never fell, so the last field is a
    /// day and the first a two-digit year (exports are in time order).
    TwoDigitYearFirst { line: usize },
    /// A date on this line only fits this order (a field above 12).
    Evidence { line: usize },
    /// Some dates only fit day-first and others only month-first; the
    /// majority won and the rest are reported as problems.
    Conflicting {
        day_first_lines: usize,
        month_first_lines: usize,
    },
    /// Every date was ambiguous, but time runs backwards less often between
    /// consecutive messages when read in the chosen order (exports are in
    /// time order). The counts are the backward steps in each reading.
    Chronology {
        day_first_backward_steps: usize,
        month_first_backward_steps: usize,
    },
    /// Every date was ambiguous; dotted dates (`05.06.23`) are day-first in
    /// every locale that uses them.
    DottedDates,
    /// Every date was ambiguous; an uppercase `AM`/`PM` clock with slashes is
    /// the en-US format, which is month-first.
    UsClock,
    /// Every date was ambiguous and nothing hinted at a locale.
    DefaultDayFirst,
}

/// Line-at-a-time parser; see the module documentation.
#[derive(Debug)]
pub struct ChatParser {
    options: ParseOptions,
    line_number: usize,
    shape: Option<HeaderShape>,
    pending: Vec<PendingMessage>,
    problems: Vec<Problem>,
    evidence: DateEvidence,
}

impl ChatParser {
    pub fn new(options: ParseOptions) -> Self {
        Self {
            options,
            line_number: 0,
            shape: None,
            pending: Vec::new(),
            problems: Vec::new(),
            evidence: DateEvidence::default(),
        }
    }

    /// Feeds the next line, without its line terminator (a trailing `\r` is
    /// tolerated).
    pub fn push_line(&mut self, line: &str) {
        self.line_number += 1;
        let line = line.strip_suffix('\r').unwrap_or(line);
        let line = if self.line_number == 1 {
            line.strip_prefix('\u{FEFF}').unwrap_or(line)
        } else {
            line
        };
        match parse_header(line) {
            Some(header) if self.shape.is_none_or(|shape| shape == header.shape) => {
                self.shape = Some(header.shape);
                self.start_message(line, header);
            }
            Some(_) => {
                self.problems.push(Problem {
                    line: self.line_number,
                    kind: ProblemKind::ForeignHeaderFormat,
                    text: line.to_owned(),
                });
                self.continue_message(line);
            }
            None => self.continue_message(line),
        }
    }

    /// Settles the date order and builds the messages.
    pub fn finish(mut self) -> ParsedChat {
        let date_order = self.decide_date_order();
        let platform = self.shape.map(|shape| shape.platform);
        let mut resolved: Vec<(PendingMessage, LocalTimestamp)> =
            Vec::with_capacity(self.pending.len());
        for pending in self.pending {
            match resolve_timestamp(&pending, date_order.order) {
                Some(timestamp) => resolved.push((pending, timestamp)),
                None => {
                    self.problems.push(Problem {
                        line: pending.line,
                        kind: ProblemKind::InvalidDate,
                        text: pending.first_line().to_owned(),
                    });
                    // The line stays in the previous message's body; a header
                    // before any valid one has no message to hold it, so its
                    // lines are reported instead.
                    match resolved.last_mut() {
                        Some((previous, _)) => {
                            previous.text.push('\n');
                            previous.text.push_str(&pending.text);
                        }
                        None => {
                            let problem_line = pending.line;
                            for (offset, line) in pending.text.split('\n').enumerate().skip(1) {
                                self.problems.push(Problem {
                                    line: problem_line + offset,
                                    kind: ProblemKind::TextBeforeFirstMessage,
                                    text: line.to_owned(),
                                });
                            }
                        }
                    }
                }
            }
        }
        self.problems.sort_by_key(|problem| problem.line);

        let platform_for_content = platform.unwrap_or(Platform::Android);
        let mut ios_chat_name = None;
        // Each pending message is dropped once its message is built, so the
        // chat's text is held once, not twice, at the peak.
        let mut messages: Vec<Message> = resolved
            .into_iter()
            .map(|(pending, timestamp)| {
                build_message(
                    &pending,
                    timestamp,
                    platform_for_content,
                    &mut ios_chat_name,
                )
            })
            .collect();
        assign_ordinals(&mut messages);
        let participants = collect_participants(&messages);
        ParsedChat {
            messages,
            participants,
            problems: self.problems,
            platform,
            date_order,
            ios_chat_name,
        }
    }

    fn start_message(&mut self, line: &str, header: Header) {
        if !header.date.year_first {
            self.evidence.record(header.date, self.line_number);
        }
        self.pending.push(PendingMessage {
            line: self.line_number,
            date: header.date,
            time: header.time,
            text: line.to_owned(),
            rest_offset: header.rest_offset,
        });
    }

    fn continue_message(&mut self, line: &str) {
        match self.pending.last_mut() {
            Some(pending) => {
                pending.text.push('\n');
                pending.text.push_str(line);
            }
            // Blank lines before the first message carry nothing to lose.
            None if line.trim().is_empty() => {}
            None => self.problems.push(Problem {
                line: self.line_number,
                kind: ProblemKind::TextBeforeFirstMessage,
                text: line.to_owned(),
            }),
        }
    }

    fn decide_date_order(&self) -> DateOrderDecision {
        let decision = |order, reason| DateOrderDecision {
            order,
            reason,
            confidence: confidence_of(reason),
        };
        if let Some(order) = self.options.date_order {
            return decision(order, DateOrderReason::Forced);
        }
        let Some(shape) = self.shape else {
            return decision(DateOrder::DayFirst, DateOrderReason::DefaultDayFirst);
        };
        if shape.year_first {
            return decision(DateOrder::YearFirst, DateOrderReason::YearFirstDates);
        }
        let evidence = &self.evidence;
        if let (Some(line), false) = (evidence.last_field_fell_line, evidence.first_field_fell) {
            return decision(
                DateOrder::YearFirst,
                DateOrderReason::TwoDigitYearFirst { line },
            );
        }
        match (
            evidence.first_day_first_line,
            evidence.first_month_first_line,
        ) {
            (Some(line), None) => decision(DateOrder::DayFirst, DateOrderReason::Evidence { line }),
            (None, Some(line)) => {
                decision(DateOrder::MonthFirst, DateOrderReason::Evidence { line })
            }
            (Some(_), Some(_)) => {
                let order = if evidence.month_first_lines > evidence.day_first_lines {
                    DateOrder::MonthFirst
                } else {
                    DateOrder::DayFirst
                };
                decision(
                    order,
                    DateOrderReason::Conflicting {
                        day_first_lines: evidence.day_first_lines,
                        month_first_lines: evidence.month_first_lines,
                    },
                )
            }
            (None, None) => self.decide_ambiguous(shape),
        }
    }

    /// The order for a file in which every date fits both day-first and
    /// month-first: by chronology, else by the locale's hints.
    fn decide_ambiguous(&self, shape: HeaderShape) -> DateOrderDecision {
        let decision = |order, reason| DateOrderDecision {
            order,
            reason,
            confidence: confidence_of(reason),
        };
        if let Some(reason) = self.chronology() {
            let order = match reason {
                DateOrderReason::Chronology {
                    day_first_backward_steps,
                    month_first_backward_steps,
                } if month_first_backward_steps < day_first_backward_steps => DateOrder::MonthFirst,
                _ => DateOrder::DayFirst,
            };
            return decision(order, reason);
        }
        if shape.date_separator == b'.' {
            decision(DateOrder::DayFirst, DateOrderReason::DottedDates)
        } else if shape.uppercase_am_pm && shape.date_separator == b'/' {
            decision(DateOrder::MonthFirst, DateOrderReason::UsClock)
        } else {
            decision(DateOrder::DayFirst, DateOrderReason::DefaultDayFirst)
        }
    }
}

impl ChatParser {
    /// Counts how often time runs backwards between consecutive messages in
    /// each of the two readings of ambiguous dates; `None` when they agree,
    /// so the evidence says nothing.
    fn chronology(&self) -> Option<DateOrderReason> {
        let backward_steps = |order| {
            let mut steps = 0;
            let mut previous = None;
            for pending in &self.pending {
                let reading = sortable_reading(pending, order);
                if previous.is_some_and(|previous| reading < previous) {
                    steps += 1;
                }
                previous = Some(reading);
            }
            steps
        };
        let day_first_backward_steps = backward_steps(DateOrder::DayFirst);
        let month_first_backward_steps = backward_steps(DateOrder::MonthFirst);
        (day_first_backward_steps != month_first_backward_steps).then_some(
            DateOrderReason::Chronology {
                day_first_backward_steps,
                month_first_backward_steps,
            },
        )
    }
}

/// A header's date and time as one comparable number in the given order,
/// without checking that the date exists.
fn sortable_reading(pending: &PendingMessage, order: DateOrder) -> u64 {
    let [first, second, third] = pending.date.fields;
    let (year, month, day) = match order {
        DateOrder::MonthFirst => (third, first, second),
        DateOrder::DayFirst | DateOrder::YearFirst => (third, second, first),
    };
    let time = pending.time;
    [
        u64::from(year),
        u64::from(month),
        u64::from(day),
        u64::from(time.hour),
        u64::from(time.minute),
        u64::from(time.second),
    ]
    .into_iter()
    .fold(0, |reading, field| reading * 100 + field)
}

fn confidence_of(reason: DateOrderReason) -> DateOrderConfidence {
    match reason {
        DateOrderReason::Forced
        | DateOrderReason::YearFirstDates
        | DateOrderReason::Evidence { .. } => DateOrderConfidence::Certain,
        DateOrderReason::TwoDigitYearFirst { .. } | DateOrderReason::DottedDates => {
            DateOrderConfidence::High
        }
        DateOrderReason::Chronology {
            day_first_backward_steps,
            month_first_backward_steps,
        } if day_first_backward_steps.min(month_first_backward_steps) == 0 => {
            DateOrderConfidence::High
        }
        DateOrderReason::Chronology { .. }
        | DateOrderReason::Conflicting { .. }
        | DateOrderReason::UsClock
        | DateOrderReason::DefaultDayFirst => DateOrderConfidence::Low,
    }
}

impl Default for ChatParser {
    fn default() -> Self {
        Self::new(ParseOptions::default())
    }
}

/// A message whose header has been read but whose date is not yet resolved.
#[derive(Debug)]
struct PendingMessage {
    line: usize,
    date: RawDate,
    time: crate::header::RawTime,
    /// The header line and its continuation lines, joined with `\n`.
    text: String,
    rest_offset: usize,
}

impl PendingMessage {
    fn first_line(&self) -> &str {
        self.text.split('\n').next().unwrap_or_default()
    }

    fn rest(&self) -> &str {
        self.text.get(self.rest_offset..).unwrap_or_default()
    }
}

/// What the dates of a file say about their field order.
#[derive(Debug, Default)]
struct DateEvidence {
    first_day_first_line: Option<usize>,
    first_month_first_line: Option<usize>,
    day_first_lines: usize,
    month_first_lines: usize,
    previous_fields: Option<[u16; 3]>,
    first_field_fell: bool,
    last_field_fell_line: Option<usize>,
}

impl DateEvidence {
    fn record(&mut self, date: RawDate, line: usize) {
        let [first, second, last] = date.fields;
        if let Some([previous_first, _, previous_last]) = self.previous_fields {
            self.first_field_fell |= first < previous_first;
            if last < previous_last {
                self.last_field_fell_line.get_or_insert(line);
            }
        }
        self.previous_fields = Some(date.fields);
        if first > 12 && second <= 12 {
            self.day_first_lines += 1;
            self.first_day_first_line.get_or_insert(line);
        } else if second > 12 && first <= 12 {
            self.month_first_lines += 1;
            self.first_month_first_line.get_or_insert(line);
        }
    }
}

fn resolve_timestamp(pending: &PendingMessage, order: DateOrder) -> Option<LocalTimestamp> {
    let [first, second, third] = pending.date.fields;
    let (year, month, day) = match (order, pending.date.year_first) {
        (_, true) => (first, second, third),
        (DateOrder::DayFirst, false) => (third, second, first),
        (DateOrder::MonthFirst, false) => (third, first, second),
        // Two-digit year first: `23-12-31`.
        (DateOrder::YearFirst, false) => (first, second, third),
    };
    // Two-digit years are this century's: WhatsApp began in 2009. Thai
    // phones count years in the Buddhist era, 543 ahead of the Gregorian.
    let year = match year {
        0..100 => year + 2000,
        2400.. => year - 543,
        _ => year,
    };
    let time = pending.time;
    LocalTimestamp::new(
        year,
        u8::try_from(month).ok()?,
        u8::try_from(day).ok()?,
        time.hour,
        time.minute,
        time.second,
    )
}

fn build_message(
    pending: &PendingMessage,
    timestamp: LocalTimestamp,
    platform: Platform,
    ios_chat_name: &mut Option<String>,
) -> Message {
    let rest = pending.rest();
    let system = |body: &str| {
        let body = trim_start_invisible(body).to_owned();
        let event = system_event(&body).unwrap_or(SystemEvent::Other);
        (None, body, MessageKind::System(event), false)
    };
    let (author, body, kind, edited) = match split_author(rest) {
        None => system(rest),
        // Android system lines have no author, so a "name" that reads like a
        // system phrase is the start of one that contains ": ".
        Some((name, _)) if platform == Platform::Android && system_event(name).is_some() => {
            system(rest)
        }
        Some((name, raw_body)) => {
            let (raw_body, edited) = strip_edited_marker(raw_body);
            let body = trim_start_invisible(raw_body);
            let marked_by_ios = body.len() != raw_body.len();
            let first_line = body.split('\n').next().unwrap_or_default();
            if is_deleted_marker(body) {
                (
                    Some(clean_author(name)),
                    body.to_owned(),
                    MessageKind::Deleted,
                    edited,
                )
            } else if let Some(marker) = media_marker(first_line) {
                let caption = body
                    .split_once('\n')
                    .map(|(_, caption)| caption.trim())
                    .filter(|caption| !caption.is_empty())
                    .map(str::to_owned);
                let kind = MessageKind::Media {
                    kind: marker.kind,
                    file_name: marker.file_name,
                    caption,
                };
                (Some(clean_author(name)), body.to_owned(), kind, edited)
            } else if platform == Platform::Ios
                && ((marked_by_ios && system_event(body).is_some()) || is_encryption_notice(body))
            {
                // iOS puts the chat's name where the author would be.
                ios_chat_name.get_or_insert_with(|| clean_author(name));
                system(body)
            } else {
                (
                    Some(clean_author(name)),
                    body.to_owned(),
                    MessageKind::Text,
                    edited,
                )
            }
        }
    };
    Message {
        line: pending.line,
        timestamp,
        author,
        body,
        kind,
        edited,
        ordinal: 0,
    }
}

/// Splits `Name: body` at the first `": "` on the header line. A name ending
/// the line with a bare colon has a body that starts on the next line.
fn split_author(rest: &str) -> Option<(&str, &str)> {
    let first_line_end = rest.find('\n').unwrap_or(rest.len());
    let first_line = rest.get(..first_line_end)?;
    if let Some(colon) = first_line.find(": ") {
        let name = rest.get(..colon)?;
        let body = rest.get(colon + 2..)?;
        return (!name.trim().is_empty()).then_some((name, body));
    }
    let name = first_line.strip_suffix(':')?;
    if name.trim().is_empty() {
        return None;
    }
    let body = rest
        .get(first_line_end..)?
        .strip_prefix('\n')
        .unwrap_or_default();
    Some((name, body))
}

fn clean_author(name: &str) -> String {
    let name =
        name.trim_matches(|character: char| character.is_whitespace() || is_invisible(character));
    if name.contains(is_invisible) {
        name.chars()
            .filter(|character| !is_invisible(*character))
            .collect()
    } else {
        name.to_owned()
    }
}

fn assign_ordinals(messages: &mut [Message]) {
    let mut seen: HashMap<(LocalTimestamp, Option<&str>, &str), u32> = HashMap::new();
    let ordinals: Vec<u32> = messages
        .iter()
        .map(|message| {
            let count = seen
                .entry((
                    message.timestamp,
                    message.author.as_deref(),
                    message.body.as_str(),
                ))
                .or_insert(0);
            let ordinal = *count;
            *count += 1;
            ordinal
        })
        .collect();
    for (message, ordinal) in messages.iter_mut().zip(ordinals) {
        message.ordinal = ordinal;
    }
}

fn collect_participants(messages: &[Message]) -> Vec<Participant> {
    let mut index_by_name: HashMap<&str, usize> = HashMap::new();
    let mut participants: Vec<Participant> = Vec::new();
    for author in messages
        .iter()
        .filter_map(|message| message.author.as_deref())
    {
        match index_by_name.get(author) {
            Some(&index) => {
                if let Some(participant) = participants.get_mut(index) {
                    participant.message_count += 1;
                }
            }
            None => {
                index_by_name.insert(author, participants.len());
                participants.push(Participant {
                    name: author.to_owned(),
                    phone: phone_digits(author),
                    message_count: 1,
                });
            }
        }
    }
    participants
}
