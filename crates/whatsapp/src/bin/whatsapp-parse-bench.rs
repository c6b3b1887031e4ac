//! Measures parsing throughput on generated chats.
//!
//! Usage: `whatsapp-parse-bench [--lines N] [--rounds R] [--write FILE]`. It
//! writes N lines of chat in memory, split across four export formats (Android
//! en-US 12-hour, Android de-DE dotted, iOS en-GB with seconds and U+200E
//! marks, ISO dates), with multi-line messages, media markers and system
//! lines, then parses them R times and reports the best round in lines per
//! second. Run it in release.
//!
//! With `--write FILE` it instead writes one chat of N lines in the Android
//! en-US format to FILE, an export to feed `conclave import whatsapp`.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use conclave_whatsapp::parse_chat;

fn main() -> ExitCode {
    let mut lines: usize = 1_000_000;
    let mut rounds: usize = 5;
    let mut write_to: Option<String> = None;
    let mut arguments = std::env::args().skip(1);
    while let Some(argument) = arguments.next() {
        let value = arguments.next();
        let number = value
            .as_deref()
            .and_then(|value| value.parse::<usize>().ok());
        match (argument.as_str(), number, value) {
            ("--lines", Some(number), _) if number > 0 => lines = number,
            ("--rounds", Some(number), _) if number > 0 => rounds = number,
            ("--write", _, Some(path)) => write_to = Some(path),
            _ => {
                eprintln!("usage: whatsapp-parse-bench [--lines N] [--rounds R] [--write FILE]");
                return ExitCode::FAILURE;
            }
        }
    }
    if let Some(path) = write_to {
        let chat = generate_chat(Style::AndroidUs, lines, 1);
        if let Err(error) = std::fs::write(&path, &chat) {
            eprintln!("writing {path}: {error}");
            return ExitCode::FAILURE;
        }
        println!("wrote {} lines to {path}", chat.lines().count());
        return ExitCode::SUCCESS;
    }

    let styles = [
        Style::AndroidUs,
        Style::AndroidGerman,
        Style::IosBritish,
        Style::Iso,
    ];
    let chats: Vec<String> = styles
        .iter()
        .enumerate()
        .map(|(index, style)| generate_chat(*style, lines / styles.len(), index as u64 + 1))
        .collect();
    let total_lines: usize = chats.iter().map(|chat| chat.lines().count()).sum();
    let total_bytes: usize = chats.iter().map(String::len).sum();

    let mut best = Duration::MAX;
    let mut messages = 0;
    let mut problems = 0;
    for _ in 0..rounds {
        let started = Instant::now();
        messages = 0;
        problems = 0;
        for chat in &chats {
            let parsed = parse_chat(chat);
            messages += parsed.messages.len();
            problems += parsed.problems.len();
        }
        best = best.min(started.elapsed());
    }
    let seconds = best.as_secs_f64();
    println!(
        "parsed {total_lines} lines ({:.1} MiB, {messages} messages, {problems} problems) in {:.3} s (best of {rounds})",
        total_bytes as f64 / (1024.0 * 1024.0),
        seconds,
    );
    println!(
        "throughput: {:.0} lines/s, {:.1} MiB/s",
        total_lines as f64 / seconds,
        total_bytes as f64 / (1024.0 * 1024.0) / seconds
    );
    if problems == 0 {
        ExitCode::SUCCESS
    } else {
        eprintln!("generated chats should parse without problems");
        ExitCode::FAILURE
    }
}

#[derive(Debug, Clone, Copy)]
enum Style {
    AndroidUs,
    AndroidGerman,
    IosBritish,
    Iso,
}

const PEOPLE: &[&str] = &[
    "Alice Walker",
    "Bob Stone",
    "+49 170 1234567",
    "Jürgen Müller",
    "Priya Shah",
    "Ana García",
];

const TEXTS: &[&str] = &[
    "ok",
    "See you at the standup tomorrow, I'll bring the numbers.",
    "Can someone check the invoice from last week? The total looks off by about 12%.",
    "👍",
    "Thanks!",
    "The customer called again about order 4711: they want delivery before Friday.",
    "Running late, 10 min",
];

fn generate_chat(style: Style, line_budget: usize, seed: u64) -> String {
    let mut random = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut next = move |bound: usize| {
        random ^= random << 13;
        random ^= random >> 7;
        random ^= random << 17;
        (random % bound as u64) as usize
    };
    let mut out = String::with_capacity(line_budget * 80);
    let mut minutes: u64 = 0;
    let mut written = 0;
    while written < line_budget {
        minutes += 1 + next(90) as u64;
        let header = format_header(style, minutes);
        let author = PEOPLE[next(PEOPLE.len())];
        let roll = next(100);
        let (body, extra_lines) = if roll < 3 {
            out.push_str(&header);
            out.push_str(&format!("{author} left\n"));
            written += 1;
            continue;
        } else if roll < 13 {
            (media_marker(style, minutes), 0)
        } else if roll < 25 {
            let extra = 1 + next(4);
            let mut body = String::from(TEXTS[next(TEXTS.len())]);
            for _ in 0..extra {
                body.push('\n');
                body.push_str(TEXTS[next(TEXTS.len())]);
            }
            (body, extra)
        } else {
            (TEXTS[next(TEXTS.len())].to_owned(), 0)
        };
        out.push_str(&header);
        out.push_str(author);
        out.push_str(": ");
        out.push_str(&body);
        out.push('\n');
        written += 1 + extra_lines;
    }
    out
}

/// Formats a header for `minutes` after 2023-01-01 00:00, using a 28-day
/// month and 12-month year: the calendar does not matter for throughput, only
/// that every date is valid.
fn format_header(style: Style, minutes: u64) -> String {
    let minute = minutes % 60;
    let hour = (minutes / 60) % 24;
    let days = minutes / (60 * 24);
    let day = days % 28 + 1;
    let month = (days / 28) % 12 + 1;
    let year = 2023 + days / (28 * 12);
    match style {
        Style::AndroidUs => {
            let (hour12, meridiem) = match hour {
                0 => (12, "AM"),
                1..=11 => (hour, "AM"),
                12 => (12, "PM"),
                _ => (hour - 12, "PM"),
            };
            format!(
                "{month}/{day}/{}, {hour12}:{minute:02}\u{202F}{meridiem} - ",
                year % 100
            )
        }
        Style::AndroidGerman => format!(
            "{day:02}.{month:02}.{:02}, {hour:02}:{minute:02} - ",
            year % 100
        ),
        Style::IosBritish => format!(
            "\u{200E}[{day:02}/{month:02}/{year}, {hour:02}:{minute:02}:{:02}] ",
            minutes % 59
        ),
        Style::Iso => format!("{year}-{month:02}-{day:02} {hour:02}:{minute:02} - "),
    }
}

fn media_marker(style: Style, minutes: u64) -> String {
    match style {
        Style::AndroidUs => String::from("<Media omitted>"),
        Style::AndroidGerman => format!(
            "IMG-2023{:04}-WA{:04}.jpg (Datei angehängt)",
            minutes % 10_000,
            minutes % 10_000
        ),
        Style::IosBritish => format!(
            "\u{200E}<attached: {:08}-PHOTO-2023-01-01-00-00-00.jpg>",
            minutes % 100_000_000
        ),
        Style::Iso => format!(
            "PTT-2023{:04}-WA{:04}.opus (file attached)",
            minutes % 10_000,
            minutes % 10_000
        ),
    }
}
