//! The crate's one integration-test binary: fixture chats with their expected
//! parse, properties of the parse, and zip exports built on the fly.
//!
//! Each `tests/fixtures/NAME.txt` has a `NAME.expected` beside it holding the
//! rendering of every field the parser produced. Run with `UPDATE_EXPECT=1` to
//! rewrite the expectations after a deliberate change, then read the diff.

use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};

use conclave_whatsapp::{
    ArchiveError, ArchiveLimits, ChatParser, DateOrder, DateOrderConfidence, DateOrderReason,
    ExportZip, MediaKind, MessageKind, ParseOptions, ParsedChat, ProblemKind, SystemEvent,
    parse_chat, parse_chat_with, read_export_zip, read_lines,
};
use zip::write::SimpleFileOptions;

/// Every fixture, with what it is there to show.
const FIXTURES: &[(&str, &str)] = &[
    (
        "en_us_android_12h",
        "Android en-US, 12-hour clock, system lines, edits, duplicates",
    ),
    (
        "en_gb_ios_24h",
        "iOS en-GB, seconds, BOM, CRLF, U+200E marks, attachments",
    ),
    (
        "de_de_android_dotted",
        "Android de-DE, dotted dates, German markers",
    ),
    (
        "es_es_android_pm",
        "Android es-ES, `p. m.` clock, Spanish markers",
    ),
    (
        "fr_fr_android",
        "Android fr-FR, no comma after the date, French markers",
    ),
    ("fr_fr_ios", "iOS fr-FR, `<pièce jointe : …>`"),
    ("pt_br_android", "Android pt-BR, phone-number participant"),
    (
        "en_us_ios_12h",
        "iOS en-US, U+202F before PM, stickers, GIFs, call events",
    ),
    (
        "two_digit_year_first",
        "`23-12-31`: year first with two digits, told by a month change",
    ),
    (
        "iso_dates_android",
        "ISO dates, leap day, stickers and voice notes",
    ),
    (
        "narrow_nbsp_am_pm",
        "U+202F before AM/PM, ambiguous dates decided by the US clock",
    ),
    (
        "ambiguous_late_evidence",
        "ambiguous dates settled by a line near the end",
    ),
    (
        "ambiguous_month_first_ios",
        "iOS lowercase am/pm, month-first by evidence",
    ),
    (
        "ambiguous_default",
        "nothing settles the date order: day-first",
    ),
    (
        "junk_and_problems",
        "junk before the first header, foreign and impossible headers",
    ),
    (
        "ko_kr_ios_meridiem_first",
        "iOS ko-KR, `2024. 3. 2.` dates, `오전`/`오후` before the clock",
    ),
    (
        "fr_fr_android_a",
        "Android fr-FR, `à` between date and time",
    ),
    ("fi_fi_ios_klo", "iOS fi-FI, `klo` and dotted times"),
    (
        "month_first_by_chronology",
        "ambiguous dates only in time order when read month-first",
    ),
];

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn read_fixture(name: &str) -> String {
    let path = fixture_dir().join(format!("{name}.txt"));
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// Renders every field of a parse, one message per block, with strings in
/// Rust's debug form so invisible characters show as escapes.
fn render(chat: &ParsedChat) -> String {
    let mut out = String::new();
    let platform = chat
        .platform
        .map_or("none".to_owned(), |platform| format!("{platform:?}"));
    out.push_str(&format!("platform: {platform}\n"));
    out.push_str(&format!(
        "date order: {:?} because {:?}\n",
        chat.date_order.order, chat.date_order.reason
    ));
    out.push_str(&format!(
        "date order confidence: {:?}\n",
        chat.date_order.confidence
    ));
    out.push_str(&format!("ios chat name: {:?}\n", chat.ios_chat_name));
    out.push_str("participants:\n");
    for participant in &chat.participants {
        out.push_str(&format!(
            "  {:?} phone={:?} messages={}\n",
            participant.name, participant.phone, participant.message_count
        ));
    }
    out.push_str("messages:\n");
    for message in &chat.messages {
        let author = message
            .author
            .as_ref()
            .map_or("<system>".to_owned(), |author| format!("{author:?}"));
        let kind = match &message.kind {
            MessageKind::Text => "text".to_owned(),
            MessageKind::System(event) => format!("system {event:?}"),
            MessageKind::Media {
                kind,
                file_name,
                caption,
            } => format!("media {kind:?} file={file_name:?} caption={caption:?}"),
            MessageKind::Deleted => "deleted".to_owned(),
        };
        let edited = if message.edited { " edited" } else { "" };
        out.push_str(&format!(
            "  L{} {} {author} {kind}{edited} #{}\n    body: {:?}\n",
            message.line, message.timestamp, message.ordinal, message.body
        ));
    }
    out.push_str("problems:\n");
    for problem in &chat.problems {
        out.push_str(&format!(
            "  L{} {:?} {:?}\n",
            problem.line, problem.kind, problem.text
        ));
    }
    out
}

#[test]
fn fixtures_parse_to_their_expectations() {
    let update = std::env::var_os("UPDATE_EXPECT").is_some();
    let mut failures = Vec::new();
    for (name, what) in FIXTURES {
        let actual = render(&parse_chat(&read_fixture(name)));
        let expected_path = fixture_dir().join(format!("{name}.expected"));
        if update {
            std::fs::write(&expected_path, &actual).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if actual != expected {
            failures.push(format!("--- {name} ({what})\n{actual}"));
        }
    }
    assert!(
        failures.is_empty(),
        "fixtures differ from their .expected files:\n{}",
        failures.join("\n")
    );
}

#[test]
fn every_fixture_file_is_in_the_table() {
    let mut on_disk: Vec<String> = std::fs::read_dir(fixture_dir())
        .unwrap()
        .filter_map(|entry| {
            let name = entry.unwrap().file_name().into_string().unwrap();
            name.strip_suffix(".txt").map(str::to_owned)
        })
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = FIXTURES
        .iter()
        .map(|(name, _)| (*name).to_owned())
        .collect();
    listed.sort();
    assert_eq!(on_disk, listed);
}

/// Spot checks written out by hand, so that the snapshot files are not the
/// only statement of what the parser must produce.
#[test]
fn hand_written_expectations() {
    let chat = parse_chat(&read_fixture("en_us_android_12h"));
    assert_eq!(chat.date_order.order, DateOrder::MonthFirst);
    assert_eq!(
        chat.date_order.reason,
        DateOrderReason::Evidence { line: 12 }
    );
    let welcome = &chat.messages[4];
    assert_eq!(welcome.line, 5);
    assert_eq!(welcome.author.as_deref(), Some("Alice Walker"));
    assert_eq!(welcome.timestamp.to_string(), "2024-01-02T12:00:00");
    assert_eq!(
        welcome.body,
        "Welcome everyone!\nAgenda for this week:\n- kickoff\n\n- budget: draft"
    );
    assert_eq!(welcome.kind, MessageKind::Text);
    let midnight = &chat.messages[6];
    assert_eq!(midnight.timestamp.to_string(), "2024-01-02T00:30:00");
    let subject = &chat.messages[7];
    assert_eq!(subject.author, None);
    assert_eq!(
        subject.kind,
        MessageKind::System(SystemEvent::SubjectChanged)
    );
    let carla = chat
        .participants
        .iter()
        .find(|p| p.name == "+1 415 555 0100")
        .unwrap();
    assert_eq!(carla.phone.as_deref(), Some("+14155550100"));

    let chat = parse_chat(&read_fixture("en_gb_ios_24h"));
    let photo = &chat.messages[5];
    assert_eq!(photo.author.as_deref(), Some("+44 7700 900123"));
    assert_eq!(
        photo.kind,
        MessageKind::Media {
            kind: MediaKind::Image,
            file_name: Some("00000012-PHOTO-2023-12-31-21-43-30.jpg".to_owned()),
            caption: Some("Fireworks from the roof\nand the bridge".to_owned()),
        }
    );
    assert_eq!(photo.timestamp.unix_seconds(0), 1_704_059_010);
    assert_eq!(chat.ios_chat_name.as_deref(), Some("Project Falcon"));

    let chat = parse_chat(&read_fixture("es_es_android_pm"));
    assert_eq!(
        chat.messages[4].timestamp.to_string(),
        "2024-01-03T00:15:00"
    );
    assert_eq!(
        chat.messages[0].timestamp.to_string(),
        "2024-01-02T21:41:00"
    );
}

#[test]
fn dedupe_keys_are_stable_and_distinct() {
    for (name, _) in FIXTURES {
        let text = read_fixture(name);
        let first: Vec<String> = parse_chat(&text)
            .messages
            .iter()
            .map(|m| m.dedupe_key())
            .collect();
        let second: Vec<String> = parse_chat(&text)
            .messages
            .iter()
            .map(|m| m.dedupe_key())
            .collect();
        assert_eq!(first, second, "{name}");
        let mut unique = first.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), first.len(), "{name}: duplicate keys");
        assert!(first.iter().all(|key| key.len() == 64));
    }
    // The two identical "ok" messages differ only by ordinal.
    let chat = parse_chat(&read_fixture("en_us_android_12h"));
    let oks: Vec<_> = chat.messages.iter().filter(|m| m.body == "ok").collect();
    assert_eq!(oks.iter().map(|m| m.ordinal).collect::<Vec<_>>(), [0, 1]);
    assert_ne!(oks[0].dedupe_key(), oks[1].dedupe_key());
}

#[test]
fn line_at_a_time_matches_whole_text() {
    for (name, _) in FIXTURES {
        let text = read_fixture(name);
        let mut parser = ChatParser::default();
        for line in text.lines() {
            parser.push_line(line);
        }
        assert_eq!(parser.finish(), parse_chat(&text), "{name}");
    }
}

#[test]
fn crlf_and_lf_parse_alike() {
    let lf = read_fixture("en_us_android_12h");
    let crlf = lf.replace('\n', "\r\n");
    assert_eq!(parse_chat(&crlf), parse_chat(&lf));
}

#[test]
fn a_forced_date_order_overrides_inference() {
    let text = read_fixture("ambiguous_default");
    let forced = parse_chat_with(
        &text,
        ParseOptions {
            date_order: Some(DateOrder::MonthFirst),
        },
    );
    assert_eq!(forced.date_order.reason, DateOrderReason::Forced);
    assert_eq!(
        forced.messages[0].timestamp.to_string(),
        "2023-05-06T09:00:00"
    );

    // A forced order that the first header contradicts leaves it a problem,
    // and its text is not lost.
    let forced = parse_chat_with(
        "25/12/23, 10:00 - A: x\nmore\n01/02/23, 10:00 - B: y",
        ParseOptions {
            date_order: Some(DateOrder::MonthFirst),
        },
    );
    assert_eq!(forced.messages.len(), 1);
    let kinds: Vec<_> = forced.problems.iter().map(|p| (p.line, p.kind)).collect();
    assert_eq!(
        kinds,
        [
            (1, ProblemKind::InvalidDate),
            (2, ProblemKind::TextBeforeFirstMessage)
        ]
    );
}

#[test]
fn empty_and_header_less_input() {
    let chat = parse_chat("");
    assert!(chat.messages.is_empty() && chat.problems.is_empty() && chat.platform.is_none());
    let chat = parse_chat("hello\nworld\n");
    assert!(chat.messages.is_empty());
    assert_eq!(chat.problems.len(), 2);
}

/// Small deterministic generator, so the test needs no extra dependency.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound as u64) as usize
    }
}

#[test]
fn parsing_never_panics_on_mutated_input() {
    let alphabet: Vec<char> = "0123456789/.-,:[] APMapm\n\r\u{200E}\u{202F}\u{A0}\u{FEFF}<>é€😀"
        .chars()
        .collect();
    let mut random = Lcg(0x5eed);
    let mut total_messages = 0;
    for (name, _) in FIXTURES {
        let original: Vec<char> = read_fixture(name).chars().collect();
        for _ in 0..300 {
            let mut text = original.clone();
            for _ in 0..1 + random.below(12) {
                if text.is_empty() {
                    text.push('x');
                }
                let at = random.below(text.len());
                match random.below(4) {
                    0 => text[at] = alphabet[random.below(alphabet.len())],
                    1 => text.insert(at, alphabet[random.below(alphabet.len())]),
                    2 => {
                        text.remove(at);
                    }
                    _ => {
                        let end = (at + random.below(40)).min(text.len());
                        text.drain(at..end);
                    }
                }
            }
            let text: String = text.into_iter().collect();
            let chat = parse_chat(&text);
            // Every message starts on a line that exists.
            let line_count = text.split('\n').count();
            assert!(
                chat.messages
                    .iter()
                    .all(|m| m.line >= 1 && m.line <= line_count)
            );
            assert!(
                chat.problems
                    .iter()
                    .all(|p| p.line >= 1 && p.line <= line_count)
            );
            total_messages += chat.messages.len();
        }
    }
    assert!(total_messages > 0);
}

// Test helper: a failure to build the fixture zip is a failed test.
#[allow(clippy::unwrap_used)]
fn build_zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in entries {
        writer.start_file(*name, options).unwrap();
        writer.write_all(bytes).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

#[test]
fn zip_export_yields_chat_text_and_media() {
    let chat = "12/31/23, 9:41 PM - Ana: IMG-20231231-WA0001.jpg (file attached)\nthe view\n";
    let image: &[u8] = &[0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3];
    let zip = build_zip(&[
        ("WhatsApp Chat with Ana.txt", chat.as_bytes()),
        ("IMG-20231231-WA0001.jpg", image),
    ]);
    let archive = read_export_zip(Cursor::new(zip), &ArchiveLimits::default()).unwrap();
    assert_eq!(archive.chat_file_name, "WhatsApp Chat with Ana.txt");
    assert_eq!(archive.chat_text, chat);
    let parsed = parse_chat(&archive.chat_text);
    let MessageKind::Media {
        file_name: Some(file_name),
        ..
    } = &parsed.messages[0].kind
    else {
        panic!("expected media: {:?}", parsed.messages[0]);
    };
    let media = archive.media_file(file_name).unwrap();
    assert_eq!(media.bytes, image);
    assert_eq!(archive.media.len(), 1);
}

#[test]
fn zip_prefers_ios_chat_file_and_keeps_other_text_files_as_media() {
    let zip = build_zip(&[
        ("notes.txt", b"an attached text document"),
        ("Export/_chat.txt", b"[31/12/2023, 21:41:05] A: hi"),
        ("Export/00000001-PHOTO-2023-12-31-21-41-05.jpg", b"jpeg"),
    ]);
    let archive = read_export_zip(Cursor::new(zip), &ArchiveLimits::default()).unwrap();
    assert_eq!(archive.chat_file_name, "Export/_chat.txt");
    let names: Vec<_> = archive
        .media
        .iter()
        .map(|m| (m.file_name.as_str(), m.path.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            ("notes.txt", "notes.txt"),
            (
                "00000001-PHOTO-2023-12-31-21-41-05.jpg",
                "Export/00000001-PHOTO-2023-12-31-21-41-05.jpg"
            ),
        ]
    );
}

#[test]
fn zip_with_path_traversal_is_refused() {
    for evil in [
        "../../etc/cron.d/evil",
        "/etc/passwd",
        "media/../../escape.jpg",
        "..\\windows.jpg",
    ] {
        let zip = build_zip(&[("_chat.txt", b"[31/12/2023, 21:41:05] A: hi"), (evil, b"x")]);
        let error = read_export_zip(Cursor::new(zip), &ArchiveLimits::default()).unwrap_err();
        assert!(
            matches!(&error, ArchiveError::UnsafePath { path } if path == evil),
            "{evil}: {error}"
        );
    }
}

#[test]
fn zip_bigger_than_the_limit_is_refused() {
    // Ten megabytes of zeros compress to a few kilobytes: a small bomb.
    let zeros = vec![0u8; 10 * 1024 * 1024];
    let zip = build_zip(&[
        ("_chat.txt", b"[31/12/2023, 21:41:05] A: hi"),
        ("VID-1.mp4", &zeros),
    ]);
    assert!(zip.len() < 100 * 1024);
    let limits = ArchiveLimits {
        max_total_uncompressed_bytes: 1024 * 1024,
        ..ArchiveLimits::default()
    };
    let error = read_export_zip(Cursor::new(zip.clone()), &limits).unwrap_err();
    assert!(
        matches!(&error, ArchiveError::TooLarge { path, limit: 1_048_576 } if path == "VID-1.mp4")
    );
    assert!(
        error
            .to_string()
            .contains("more than the limit of 1048576 bytes")
    );

    let roomy = ArchiveLimits {
        max_total_uncompressed_bytes: 11 * 1024 * 1024,
        ..ArchiveLimits::default()
    };
    assert_eq!(
        read_export_zip(Cursor::new(zip), &roomy).unwrap().media[0]
            .bytes
            .len(),
        zeros.len()
    );
}

#[test]
fn zip_entry_count_is_limited() {
    let zip = build_zip(&[("_chat.txt", b""), ("a.jpg", b""), ("b.jpg", b"")]);
    let limits = ArchiveLimits {
        max_entries: 2,
        ..ArchiveLimits::default()
    };
    let error = read_export_zip(Cursor::new(zip), &limits).unwrap_err();
    assert!(matches!(
        error,
        ArchiveError::TooManyEntries {
            entries: 3,
            limit: 2
        }
    ));
}

#[test]
fn zip_without_a_clear_chat_file_is_refused() {
    let zip = build_zip(&[("IMG-1.jpg", b"x")]);
    let error = read_export_zip(Cursor::new(zip), &ArchiveLimits::default()).unwrap_err();
    assert!(matches!(error, ArchiveError::NoChatText));

    let zip = build_zip(&[("one.txt", b"a"), ("two.txt", b"b")]);
    let error = read_export_zip(Cursor::new(zip), &ArchiveLimits::default()).unwrap_err();
    assert!(
        matches!(error, ArchiveError::AmbiguousChatText { candidates } if candidates.len() == 2)
    );

    let zip = build_zip(&[("_chat.txt", &[0x41, 0xFF, 0x42])]);
    let error = read_export_zip(Cursor::new(zip), &ArchiveLimits::default()).unwrap_err();
    assert!(matches!(
        error,
        ArchiveError::ChatTextNotUtf8 { offset: 1, .. }
    ));

    let error = read_export_zip(
        Cursor::new(b"not a zip".to_vec()),
        &ArchiveLimits::default(),
    )
    .unwrap_err();
    assert!(matches!(error, ArchiveError::Zip(_)));
}

#[test]
fn a_zip_is_read_entry_by_entry_with_each_entry_bounded() {
    use std::io::Read;
    let chat = "[31/12/2023, 21:41:05] A: <attached: VID-1.mp4>\n[31/12/2023, 21:42:05] A: hi\r\n";
    let zeros = vec![0u8; 4 * 1024 * 1024];
    let zip = build_zip(&[("_chat.txt", chat.as_bytes()), ("VID-1.mp4", &zeros)]);
    let limits = ArchiveLimits {
        max_entry_uncompressed_bytes: 1024 * 1024,
        ..ArchiveLimits::default()
    };
    // The directory alone declares the entry too large.
    let error = match ExportZip::open(Cursor::new(zip.clone()), &limits) {
        Err(error) => error,
        Ok(_) => panic!("an entry over the limit was accepted"),
    };
    assert!(
        matches!(&error, ArchiveError::EntryTooLarge { path, limit: 1_048_576 } if path == "VID-1.mp4"),
        "{error}"
    );

    // Within the limits, the chat streams line by line into the parser,
    // the same as parsing the whole text, and media open one at a time.
    let mut export = ExportZip::open(Cursor::new(zip), &ArchiveLimits::default()).unwrap();
    assert_eq!(export.chat_file_name(), "_chat.txt");
    assert!(export.has_media("VID-1.mp4"));
    assert!(!export.has_media("_chat.txt"));
    let mut parser = ChatParser::default();
    let lines = export
        .read_chat_lines(|line| parser.push_line(line))
        .unwrap();
    assert_eq!(lines, 2);
    assert_eq!(parser.finish(), parse_chat(chat));
    let mut video = Vec::new();
    export
        .open_media("VID-1.mp4")
        .unwrap()
        .unwrap()
        .read_to_end(&mut video)
        .unwrap();
    assert_eq!(video.len(), zeros.len());
    assert!(export.open_media("missing.jpg").unwrap().is_none());
}

#[test]
fn the_chat_text_has_its_own_bound() {
    // Highly compressible text: the small zip that made ten 20 MB messages.
    let line = format!("[31/12/2023, 21:41:05] A: {}\n", "a".repeat(1024 * 1024));
    let chat = line.repeat(3);
    let zip = build_zip(&[("_chat.txt", chat.as_bytes())]);
    let limits = ArchiveLimits {
        max_chat_text_bytes: 2 * 1024 * 1024,
        ..ArchiveLimits::default()
    };
    let error = match ExportZip::open(Cursor::new(zip), &limits) {
        Err(error) => error,
        Ok(_) => panic!("a chat text over its limit was accepted"),
    };
    assert!(
        matches!(&error, ArchiveError::EntryTooLarge { path, limit: 2_097_152 } if path == "_chat.txt"),
        "{error}"
    );
}

#[test]
fn the_total_limit_refuses_an_archive_when_it_is_opened() {
    use std::io::Read;
    // The declared sizes are checked against the total when the archive is
    // opened; within it, a media file reads back whole.
    let zeros = vec![0u8; 3 * 1024 * 1024];
    let zip = build_zip(&[
        ("_chat.txt", b"[31/12/2023, 21:41:05] A: hi".as_slice()),
        ("a.bin", &zeros),
        ("b.bin", &zeros),
    ]);
    let limits = ArchiveLimits {
        max_total_uncompressed_bytes: 4 * 1024 * 1024,
        ..ArchiveLimits::default()
    };
    assert!(matches!(
        ExportZip::open(Cursor::new(zip), &limits),
        Err(ArchiveError::TooLarge { .. })
    ));
    let zip = build_zip(&[
        ("_chat.txt", b"[31/12/2023, 21:41:05] A: hi".as_slice()),
        ("a.bin", &zeros),
    ]);
    let mut export = ExportZip::open(Cursor::new(zip), &ArchiveLimits::default()).unwrap();
    let mut first = Vec::new();
    export
        .open_media("a.bin")
        .unwrap()
        .unwrap()
        .read_to_end(&mut first)
        .unwrap();
    assert_eq!(first.len(), zeros.len());
}

#[test]
fn streamed_text_that_is_not_utf8_names_the_offset() {
    let error = read_lines(
        Cursor::new(b"ok line\nbad \xFF byte\n".to_vec()),
        "chat.txt",
        |_| {},
    )
    .unwrap_err();
    assert!(matches!(
        error,
        ArchiveError::ChatTextNotUtf8 { offset: 12, .. }
    ));
}

/// One row per header form listed in docs/whatsapp-formats.md: a one-line
/// export, the local time it must be read as, and the author and text after
/// the header. The sample lines are written for these tests.
const HEADER_FORMS: &[(&str, &str, &str, &str)] = &[
    (
        "13/06/2018 \u{e0} 21:25 - Am\u{e9}lie: Bonsoir",
        "2018-06-13T21:25:00",
        "Am\u{e9}lie",
        "Bonsoir",
    ),
    (
        "[13/06/2018 \u{e0} 21:25:15] Am\u{e9}lie: Bonsoir",
        "2018-06-13T21:25:15",
        "Am\u{e9}lie",
        "Bonsoir",
    ),
    (
        "[2018. 6. 13. \u{c624}\u{d6c4} 9:25:15] \u{bbfc}\u{c900}: \u{c548}\u{b155}",
        "2018-06-13T21:25:15",
        "\u{bbfc}\u{c900}",
        "\u{c548}\u{b155}",
    ),
    (
        "2018. 6. 13. \u{c624}\u{c804} 12:05 - \u{bbfc}\u{c900}: \u{c548}\u{b155}",
        "2018-06-13T00:05:00",
        "\u{bbfc}\u{c900}",
        "\u{c548}\u{b155}",
    ),
    (
        "[2018/6/13 \u{4e0b}\u{5348}9:25:15] \u{738b}\u{4f1f}: \u{4f60}\u{597d}",
        "2018-06-13T21:25:15",
        "\u{738b}\u{4f1f}",
        "\u{4f60}\u{597d}",
    ),
    (
        "2018/6/13 \u{4e0a}\u{5348}11:25 - \u{738b}\u{4f1f}: \u{4f60}\u{597d}",
        "2018-06-13T11:25:00",
        "\u{738b}\u{4f1f}",
        "\u{4f60}\u{597d}",
    ),
    (
        "[2018/06/13 \u{5348}\u{5f8c}9:25:15] \u{592a}\u{90ce}: \u{3084}\u{3042}",
        "2018-06-13T21:25:15",
        "\u{592a}\u{90ce}",
        "\u{3084}\u{3042}",
    ),
    (
        "13.6.2018 klo 21.25 - Aino: Moi",
        "2018-06-13T21:25:00",
        "Aino",
        "Moi",
    ),
    (
        "[13.6.2018 klo 21.25.15] Aino: Moi",
        "2018-06-13T21:25:15",
        "Aino",
        "Moi",
    ),
    (
        "13.06.2018 kl. 21.25 - Freja: Hej",
        "2018-06-13T21:25:00",
        "Freja",
        "Hej",
    ),
    (
        "[13.06.18, 21.25.15] Lukas: Hallo",
        "2018-06-13T21:25:15",
        "Lukas",
        "Hallo",
    ),
    (
        "13. 6. 2018. 21:25:15 - Jana: Ahoj",
        "2018-06-13T21:25:15",
        "Jana",
        "Ahoj",
    ),
    (
        "[13. 6. 2018 21:25:15] Jana: Ahoj",
        "2018-06-13T21:25:15",
        "Jana",
        "Ahoj",
    ),
    (
        "13. 6. 2018. 21:25 - Jana: Ahoj",
        "2018-06-13T21:25:00",
        "Jana",
        "Ahoj",
    ),
    (
        "13. 06. 2018. u 21:25 - Ivan: Bok",
        "2018-06-13T21:25:00",
        "Ivan",
        "Bok",
    ),
    (
        "13.06.18 \u{433}., 21:25 - \u{418}\u{432}\u{430}\u{43d}: \u{417}\u{434}\u{440}\u{430}\u{432}\u{435}\u{439}",
        "2018-06-13T21:25:00",
        "\u{418}\u{432}\u{430}\u{43d}",
        "\u{417}\u{434}\u{440}\u{430}\u{432}\u{435}\u{439}",
    ),
    (
        "13/6/2018\u{60c} 9:25 \u{645} - Sami: Salam",
        "2018-06-13T21:25:00",
        "Sami",
        "Salam",
    ),
    (
        "\u{661}\u{663}/\u{666}/\u{662}\u{660}\u{661}\u{668}\u{60c} \u{669}:\u{662}\u{665} \u{635} - Sami: Salam",
        "2018-06-13T09:25:00",
        "Sami",
        "Salam",
    ),
    (
        "13/6/18, 9:25 \u{3bc}.\u{3bc}. - Nikos: Geia",
        "2018-06-13T21:25:00",
        "Nikos",
        "Geia",
    ),
    (
        "13/06/2018, 9:25 PTG - Aisyah: Hai",
        "2018-06-13T21:25:00",
        "Aisyah",
        "Hai",
    ),
    (
        "13/06/2561 21:25 - Somchai: Sawasdee",
        "2018-06-13T21:25:00",
        "Somchai",
        "Sawasdee",
    ),
    (
        "13/2018/06, 21:25 - Ana: Hola",
        "2018-06-13T21:25:00",
        "Ana",
        "Hola",
    ),
];

#[test]
fn each_header_form_reads_as_its_local_time() {
    for (line, timestamp, author, body) in HEADER_FORMS {
        let chat = parse_chat(line);
        assert!(chat.problems.is_empty(), "{line:?}: {:?}", chat.problems);
        let [message] = chat.messages.as_slice() else {
            panic!("{line:?}: {:?}", chat.messages);
        };
        assert_eq!(message.timestamp.to_string(), *timestamp, "{line:?}");
        assert_eq!(message.author.as_deref(), Some(*author), "{line:?}");
        assert_eq!(message.body, *body, "{line:?}");
    }
}

#[test]
fn ambiguous_dates_follow_the_order_in_which_time_runs_forward() {
    // Read day-first this runs 1 May, 1 June, 2 January: backwards.
    let month_first = "01/05/23, 10:00 - Ana: one\n\
                       01/06/23, 10:00 - Ben: two\n\
                       02/01/23, 10:00 - Ana: three\n";
    let chat = parse_chat(month_first);
    assert_eq!(chat.date_order.order, DateOrder::MonthFirst);
    assert_eq!(
        chat.date_order.reason,
        DateOrderReason::Chronology {
            day_first_backward_steps: 1,
            month_first_backward_steps: 0,
        }
    );
    assert_eq!(chat.date_order.confidence, DateOrderConfidence::High);
    let times: Vec<String> = chat
        .messages
        .iter()
        .map(|message| message.timestamp.to_string())
        .collect();
    assert_eq!(
        times,
        [
            "2023-01-05T10:00:00",
            "2023-01-06T10:00:00",
            "2023-02-01T10:00:00"
        ]
    );

    // An en-US style clock would suggest month-first, but only day-first
    // keeps time running forward.
    let day_first = "05/01/23, 9:00 AM - Ana: one\n\
                     06/01/23, 9:00 AM - Ben: two\n\
                     01/02/23, 9:00 AM - Ana: three\n";
    let chat = parse_chat(day_first);
    assert_eq!(chat.date_order.order, DateOrder::DayFirst);
    assert_eq!(
        chat.date_order.reason,
        DateOrderReason::Chronology {
            day_first_backward_steps: 0,
            month_first_backward_steps: 1,
        }
    );
    assert_eq!(
        chat.messages[2].timestamp.to_string(),
        "2023-02-01T09:00:00"
    );
}

#[test]
fn the_date_order_decision_says_how_sure_it_is() {
    let cases = [
        ("13/06/18, 21:25 - A: x\n", DateOrderConfidence::Certain),
        ("2018-06-13 21:25 - A: x\n", DateOrderConfidence::Certain),
        ("05.06.18, 21:25 - A: x\n", DateOrderConfidence::High),
        ("05/06/18, 9:25 PM - A: x\n", DateOrderConfidence::Low),
        ("05/06/18, 21:25 - A: x\n", DateOrderConfidence::Low),
    ];
    for (text, confidence) in cases {
        assert_eq!(
            parse_chat(text).date_order.confidence,
            confidence,
            "{text:?}"
        );
    }
    let forced = parse_chat_with(
        "05/06/18, 21:25 - A: x\n",
        ParseOptions {
            date_order: Some(DateOrder::MonthFirst),
        },
    );
    assert_eq!(forced.date_order.confidence, DateOrderConfidence::Certain);
}
