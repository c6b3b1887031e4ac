//! What each fuzz target runs on one input, and what it asserts beyond "no
//! panic". Plain Rust: libFuzzer calls these from `fuzz/fuzz_targets/*`, and
//! `crates/server/tests/api/fuzz_corpus.rs` includes this file to replay the
//! committed corpus in the ordinary test suite. docs/fuzzing.md lists the
//! invariants in prose.
//!
//! A failed assertion here is a finding: either the parser is wrong or the
//! invariant is, and either way it is decided in docs/fuzzing.md, not by
//! loosening the check quietly.

use std::collections::HashSet;
use std::io::{Cursor, Read};

use conclave_server::error::ApiError;
use conclave_server::routes::webhooks::parse_payload;
use conclave_server::scim::document::{check_required, normalize_document};
use conclave_server::scim::error::ScimError;
use conclave_server::scim::filter::{self, AttrPath, Filter, Op, Scope};
use conclave_server::scim::patch;
use conclave_server::scim::schema::{self, ResourceKind};
use conclave_whatsapp::{
    ArchiveError, ArchiveLimits, ChatParser, ExportZip, MessageKind, ParseOptions, ParsedChat,
    ProblemKind, parse_chat, parse_chat_with, read_export_zip, read_lines,
};
use serde_json::{Map, Value, json};

/// Small limits, so a run spends its time parsing rather than inflating.
const FUZZ_ZIP_LIMITS: ArchiveLimits = ArchiveLimits {
    max_total_uncompressed_bytes: 1024 * 1024,
    max_entry_uncompressed_bytes: 512 * 1024,
    max_chat_text_bytes: 512 * 1024,
    max_entries: 64,
};

/// A WhatsApp export: a zip when the bytes start like one, else chat text,
/// read both as the importer streams it and whole.
pub fn whatsapp_export(data: &[u8]) {
    if data.starts_with(b"PK") {
        whatsapp_zip(data);
        return;
    }
    let streamed = stream_lines(data);
    match std::str::from_utf8(data) {
        Ok(text) => {
            let parsed = whatsapp_text(text);
            match streamed {
                Ok(streamed) => assert_eq!(
                    streamed, parsed,
                    "reading line by line and parsing the whole text differ"
                ),
                Err(error) => panic!("valid UTF-8 refused line by line: {error}"),
            }
        }
        Err(error) => {
            match streamed {
                Err(ArchiveError::ChatTextNotUtf8 { offset, .. }) => assert_eq!(
                    offset,
                    error.valid_up_to(),
                    "the reported offset of invalid UTF-8 is wrong"
                ),
                Err(other) => panic!("invalid UTF-8 refused as {other}"),
                Ok(_) => panic!("invalid UTF-8 was read as text"),
            }
            whatsapp_text(&String::from_utf8_lossy(data));
        }
    }
}

/// The importer's path for a `.txt` file: lines from a reader into a
/// [`ChatParser`].
fn stream_lines(data: &[u8]) -> Result<ParsedChat, ArchiveError> {
    let mut parser = ChatParser::new(ParseOptions::default());
    read_lines(Cursor::new(data), "fuzz.txt", |line| parser.push_line(line))?;
    Ok(parser.finish())
}

fn whatsapp_zip(data: &[u8]) {
    // The importer's path: open, stream the chat text, open the media the
    // messages name.
    if let Ok(mut export) = ExportZip::open(Cursor::new(data), &FUZZ_ZIP_LIMITS) {
        assert!(
            export
                .chat_file_name()
                .to_ascii_lowercase()
                .ends_with(".txt"),
            "chat text taken from {:?}",
            export.chat_file_name()
        );
        let mut parser = ChatParser::new(ParseOptions::default());
        if export
            .read_chat_lines(|line| parser.push_line(line))
            .is_ok()
        {
            let parsed = parser.finish();
            let mut unpacked = 0usize;
            for message in &parsed.messages {
                if let MessageKind::Media {
                    file_name: Some(name),
                    ..
                } = &message.kind
                    && let Ok(Some(mut media)) = export.open_media(name)
                {
                    let mut bytes = Vec::new();
                    if media.read_to_end(&mut bytes).is_ok() {
                        unpacked += bytes.len();
                    }
                }
            }
            assert!(
                unpacked as u64 <= FUZZ_ZIP_LIMITS.max_total_uncompressed_bytes,
                "media unpacked to {unpacked} bytes, over the limit"
            );
        }
    }

    // The whole archive in memory.
    let Ok(archive) = read_export_zip(Cursor::new(data), &FUZZ_ZIP_LIMITS) else {
        return;
    };
    let unpacked = archive.chat_text.len()
        + archive
            .media
            .iter()
            .map(|media| media.bytes.len())
            .sum::<usize>();
    assert!(
        unpacked as u64 <= FUZZ_ZIP_LIMITS.max_total_uncompressed_bytes,
        "the archive unpacked to {unpacked} bytes, over the limit"
    );
    assert!(
        archive
            .chat_file_name
            .to_ascii_lowercase()
            .ends_with(".txt"),
        "chat text taken from {:?}",
        archive.chat_file_name
    );
    for media in &archive.media {
        assert!(
            !media.path.starts_with(['/', '\\'])
                && !media.path.split(['/', '\\']).any(|part| part == ".."),
            "unsafe entry accepted: {:?}",
            media.path
        );
        assert!(
            !media.file_name.contains(['/', '\\']),
            "media file name is not a base name: {:?}",
            media.file_name
        );
    }
    let parsed = whatsapp_text(&archive.chat_text);
    assert_eq!(
        stream_lines(archive.chat_text.as_bytes()).ok(),
        Some(parsed),
        "the zip's chat text parses differently line by line"
    );
}

fn whatsapp_text(text: &str) -> ParsedChat {
    let parsed = parse_chat(text);
    check_parsed_chat(text, &parsed);

    // Forcing the order the parser inferred changes nothing but the reason.
    let forced = parse_chat_with(
        text,
        ParseOptions {
            date_order: Some(parsed.date_order.order),
        },
    );
    assert_eq!(
        ParsedChat {
            date_order: parsed.date_order,
            ..forced
        },
        parsed,
        "forcing the inferred date order {:?} changed more than the reason",
        parsed.date_order.order
    );

    // Windows line ends and a byte-order mark are not content.
    if !text.contains('\r') && !text.starts_with('\u{FEFF}') {
        let windows = format!("\u{FEFF}{}", text.replace('\n', "\r\n"));
        assert_eq!(
            parse_chat(&windows),
            parsed,
            "CRLF line ends or a BOM changed the parse"
        );
    }
    parsed
}

fn check_parsed_chat(text: &str, parsed: &ParsedChat) {
    let lines = chat_lines(text);

    // Messages come in line order, each at a real line.
    let mut previous_line = 0;
    for message in &parsed.messages {
        assert!(
            message.line > previous_line && message.line <= lines.len(),
            "message at line {} after line {previous_line} of {}",
            message.line,
            lines.len()
        );
        previous_line = message.line;
    }
    assert!(
        parsed
            .problems
            .windows(2)
            .all(|pair| pair[0].line <= pair[1].line),
        "problems out of line order"
    );
    for problem in &parsed.problems {
        assert!(
            (1..=lines.len()).contains(&problem.line),
            "problem at line {} of {}",
            problem.line,
            lines.len()
        );
    }

    // Nothing is dropped silently: every line before the first message
    // that has any text is reported (later lines live in a message body).
    let first_message = parsed
        .messages
        .first()
        .map_or(lines.len() + 1, |message| message.line);
    let reported: HashSet<usize> = parsed.problems.iter().map(|problem| problem.line).collect();
    for (index, line) in lines.iter().enumerate().take(first_message - 1) {
        let number = index + 1;
        assert!(
            line.trim().is_empty() || reported.contains(&number),
            "line {number} ({line:?}) is before the first message and in no problem"
        );
    }
    for problem in &parsed.problems {
        if problem.kind == ProblemKind::TextBeforeFirstMessage {
            assert!(
                problem.line < first_message,
                "text before the first message reported at line {} after it (line {first_message})",
                problem.line
            );
        }
    }

    // Dedupe keys tell every message of one file apart.
    let mut keys = HashSet::new();
    for message in &parsed.messages {
        assert!(
            keys.insert(message.dedupe_digest()),
            "two messages share a dedupe key; the second is at line {}",
            message.line
        );
    }

    let counts = parsed.counts();
    assert_eq!(
        counts.text + counts.system_events + counts.media + counts.deleted,
        counts.messages,
        "message kinds do not add up"
    );
    let authors: HashSet<&str> = parsed
        .messages
        .iter()
        .filter_map(|message| message.author.as_deref())
        .collect();
    assert_eq!(
        parsed.participants.len(),
        authors.len(),
        "participants are not the distinct authors"
    );
}

/// The lines the parser sees: a final newline ends the last line, a
/// trailing `\r` is not part of a line, and a BOM opens only the first.
fn chat_lines(text: &str) -> Vec<&str> {
    let text = text.strip_suffix('\n').unwrap_or(text);
    text.split('\n')
        .enumerate()
        .map(|(index, line)| {
            let line = line.strip_suffix('\r').unwrap_or(line);
            if index == 0 {
                line.strip_prefix('\u{FEFF}').unwrap_or(line)
            } else {
                line
            }
        })
        .collect()
}

/// A SCIM filter, as `?filter=` or a `.search` body carries it, also read
/// as a PATCH path.
pub fn scim_filter(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    match filter::parse(&text) {
        Ok(parsed) => {
            let printed = print_filter(&parsed);
            if printed.len() <= filter::MAX_FILTER_BYTES {
                match filter::parse(&printed) {
                    Ok(again) => assert!(
                        same_filter(&again, &parsed),
                        "{text:?} printed as {printed:?} reads back as {again:?}, not {parsed:?}"
                    ),
                    Err(error) => panic!(
                        "{text:?} printed as {printed:?} does not read back: {}",
                        error.detail
                    ),
                }
            }
            let (user, group) = (sample_user(), sample_group());
            let _ = filter::matches(&parsed, &user, Scope::Resource(ResourceKind::User));
            let _ = filter::matches(&parsed, &group, Scope::Resource(ResourceKind::Group));
        }
        Err(error) => assert_client_error(&error, &["invalidFilter"], &text),
    }
    for kind in [ResourceKind::User, ResourceKind::Group] {
        if let Err(error) = filter::parse_patch_path(&text, kind) {
            assert_client_error(&error, &["invalidPath"], &text);
        }
    }
}

/// Filter equality, except that numbers need only agree to a few units in
/// the last place: serde_json (without its `float_roundtrip` feature) may
/// read a long decimal to a neighbour of the nearest double, so printing
/// and reading again can move a value by one step.
fn same_filter(left: &Filter, right: &Filter) -> bool {
    match (left, right) {
        (
            Filter::Compare(left_path, left_op, left_value),
            Filter::Compare(right_path, right_op, right_value),
        ) => {
            left_path == right_path
                && left_op == right_op
                && match (left_value, right_value) {
                    (Value::Number(a), Value::Number(b)) => match (a.as_f64(), b.as_f64()) {
                        (Some(a), Some(b)) => {
                            a == b || (a - b).abs() <= a.abs().max(b.abs()) * 1e-14
                        }
                        _ => a == b,
                    },
                    (a, b) => a == b,
                }
        }
        (Filter::And(a, b), Filter::And(c, d)) | (Filter::Or(a, b), Filter::Or(c, d)) => {
            same_filter(a, c) && same_filter(b, d)
        }
        (Filter::Not(a), Filter::Not(b)) => same_filter(a, b),
        (Filter::ValuePath(a, x), Filter::ValuePath(b, y)) => a == b && same_filter(x, y),
        (left, right) => left == right,
    }
}

/// A SCIM PATCH request body applied to a user and to a group, as
/// `PATCH /Users/{id}` and `PATCH /Groups/{id}` do.
pub fn scim_patch(data: &[u8]) {
    let Ok(body) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let operations = match patch::parse_request(&body) {
        Ok(operations) => operations,
        Err(error) => {
            assert_client_error(&error, &["invalidSyntax"], &body);
            return;
        }
    };
    for (kind, resource) in [
        (ResourceKind::User, sample_user()),
        (ResourceKind::Group, sample_group()),
    ] {
        let mut document = match normalize_document(kind, &resource) {
            Ok(document) => document,
            Err(error) => panic!("the sample {} is invalid: {}", kind.name(), error.detail),
        };
        if let Err(error) = patch::apply(&mut document, kind, &operations) {
            assert_client_error(
                &error,
                &[
                    "invalidPath",
                    "invalidValue",
                    "invalidSyntax",
                    "noTarget",
                    "mutability",
                ],
                &body,
            );
            continue;
        }
        check_patched_document(kind, &document, &body);
    }
}

/// What PATCH hands on to be stored must be canonical (so nothing it wrote
/// is ignored by the validation after it), and validation must either
/// refuse it with a client error or settle it to a fixed point.
fn check_patched_document(kind: ResourceKind, document: &Map<String, Value>, body: &Value) {
    for key in document.keys() {
        let canonical = kind
            .attribute(key)
            .map(|attribute| attribute.name)
            .or_else(|| kind.extension(key).map(|(urn, _)| urn));
        assert_eq!(
            canonical,
            Some(key.as_str()),
            "PATCH {body} wrote the attribute {key:?}, which validation would not read as itself"
        );
    }
    match normalize_document(kind, &Value::Object(document.clone())) {
        Ok(normalized) => {
            if let Err(error) = check_required(kind, &normalized) {
                panic!("PATCH {body} left a document missing {}", error.detail);
            }
            match normalize_document(kind, &Value::Object(normalized.clone())) {
                Ok(again) => assert_eq!(
                    again, normalized,
                    "PATCH {body}: validating the validated document changed it"
                ),
                Err(error) => panic!(
                    "PATCH {body}: the validated document fails validation: {}",
                    error.detail
                ),
            }
        }
        Err(error) => assert_client_error(&error, &["invalidValue", "invalidSyntax"], body),
    }
}

fn assert_client_error(error: &ScimError, kinds: &[&str], input: &dyn std::fmt::Debug) {
    assert!(
        error.status.is_client_error(),
        "{input:?} answered {} ({})",
        error.status,
        error.detail
    );
    assert!(
        error.scim_type.is_some_and(|kind| kinds.contains(&kind)),
        "{input:?} answered scimType {:?}, expected one of {kinds:?}",
        error.scim_type
    );
}

/// A user as `render_one` shows it, with every kind of attribute set.
fn sample_user() -> Value {
    json!({
        "schemas": [schema::USER, schema::ENTERPRISE_USER],
        "id": "42",
        "externalId": "ext-42",
        "userName": "ada@example.com",
        "displayName": "Ada Lovelace",
        "nickName": "ada",
        "title": "Analyst",
        "active": true,
        "name": {"givenName": "Ada", "familyName": "Lovelace", "formatted": "Ada Lovelace"},
        "emails": [
            {"value": "ada@example.com", "type": "work", "primary": true},
            {"value": "ada@home.example", "type": "home"}
        ],
        "meta": {"resourceType": "User", "created": "2024-01-02T03:04:05.000Z",
                 "lastModified": "2024-06-01T00:00:00Z", "version": "W/\"1\""},
        schema::ENTERPRISE_USER: {"department": "Engines", "division": "R&D",
                                  "manager": {"value": "7"}}
    })
}

fn sample_group() -> Value {
    json!({
        "schemas": [schema::GROUP],
        "id": "9",
        "displayName": "Engines",
        "externalId": "grp-9",
        "members": [{"value": "42", "display": "Ada"}, {"value": "43"}],
        "meta": {"resourceType": "Group", "created": "2024-01-02T03:04:05Z"}
    })
}

/// Writes a filter back as text with as few parentheses as the grammar
/// needs, so the text nests no deeper than what was parsed.
fn print_filter(filter: &Filter) -> String {
    let mut out = String::new();
    print_or(filter, &mut out);
    out
}

fn print_or(filter: &Filter, out: &mut String) {
    match filter {
        Filter::Or(left, right) => {
            print_or(left, out);
            out.push_str(" or ");
            print_and(right, out);
        }
        other => print_and(other, out),
    }
}

fn print_and(filter: &Filter, out: &mut String) {
    match filter {
        Filter::And(left, right) => {
            print_and(left, out);
            out.push_str(" and ");
            print_unary(right, out);
        }
        other => print_unary(other, out),
    }
}

fn print_unary(filter: &Filter, out: &mut String) {
    match filter {
        Filter::Not(inner) => {
            out.push_str("not (");
            print_or(inner, out);
            out.push(')');
        }
        Filter::ValuePath(path, inner) => {
            print_path(path, out);
            out.push('[');
            print_or(inner, out);
            out.push(']');
        }
        Filter::Present(path) => {
            print_path(path, out);
            out.push_str(" pr");
        }
        Filter::Compare(path, op, value) => {
            print_path(path, out);
            out.push(' ');
            out.push_str(match op {
                Op::Eq => "eq",
                Op::Ne => "ne",
                Op::Co => "co",
                Op::Sw => "sw",
                Op::Ew => "ew",
                Op::Gt => "gt",
                Op::Ge => "ge",
                Op::Lt => "lt",
                Op::Le => "le",
            });
            out.push(' ');
            out.push_str(&value.to_string());
        }
        Filter::And(_, _) | Filter::Or(_, _) => {
            out.push('(');
            print_or(filter, out);
            out.push(')');
        }
    }
}

fn print_path(path: &AttrPath, out: &mut String) {
    if let Some(urn) = &path.urn {
        out.push_str(urn);
        out.push(':');
    }
    out.push_str(&path.attr);
    if let Some(sub) = &path.sub {
        out.push('.');
        out.push_str(sub);
    }
}

/// An incoming-webhook body. The first byte picks the content type (`f`: a
/// form, `n`: none, else JSON) and the rest is the body.
pub fn slack_payload(data: &[u8]) {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let content_type = match selector {
        b'f' => Some("application/x-www-form-urlencoded; charset=utf-8"),
        b'n' => None,
        _ => Some("application/json"),
    };
    let result = parse_payload(content_type, body);
    let text = match &result {
        Ok(payload) => {
            let text = payload.message_text();
            if let Some(text) = &text {
                assert!(!text.trim().is_empty(), "blank message text {text:?}");
                // Without blocks, a non-blank `text` leads the message as
                // written; attachments only follow it.
                if let Some(given) = payload.text.as_deref().filter(|t| !t.trim().is_empty())
                    && payload.blocks.is_empty()
                {
                    assert!(text.starts_with(given), "`text` does not lead the message");
                    if payload.attachments.is_empty() {
                        assert_eq!(text, given, "a lone `text` is not the message");
                    }
                }
                let _ = conclave_domain::validate::message_text(text, false);
            }
            Some(text)
        }
        Err(ApiError::InvalidPayload(_)) => None,
        Err(other) => panic!("a hook body answered {other:?}, not invalid_payload"),
    };

    // The same JSON sent as Slack's form (`payload=<json>`) reads the same.
    if content_type != Some("application/x-www-form-urlencoded; charset=utf-8")
        && let Ok(json) = std::str::from_utf8(body)
    {
        let form: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("payload", json)
            .finish();
        let as_form = parse_payload(Some("application/x-www-form-urlencoded"), form.as_bytes());
        let form_text = match &as_form {
            Ok(payload) => Some(payload.message_text()),
            Err(_) => None,
        };
        assert_eq!(form_text, text, "JSON and form bodies read differently");
    }
}
