//! Command-line tests for the whatsapp feature; helpers (conclave, create_user, serve, temp_dir) are in main.rs.
//!
//! `conclave import whatsapp` as an operator runs it: a fixture .txt and a
//! generated .zip with media, each imported twice, then read back through
//! the running server's history and file APIs.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{create_user, get_json, login, run, serve, temp_dir};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../whatsapp/tests/fixtures")
        .join(name)
}

fn import(dir: &Path, arguments: &[&str]) -> Value {
    let (ok, stdout, stderr) = run(dir, &[&["import", "whatsapp"], arguments].concat());
    assert!(ok, "import failed: {stderr}");
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

const PNG: &[u8] =
    b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_text_export_is_imported_once_with_authors_and_original_times() {
    let dir = temp_dir("wa-txt");
    let alice = create_user(&dir, "alice@example.com", "member");
    let bob = create_user(&dir, "bob@example.com", "member");
    create_user(&dir, "carol@example.com", "member");
    let path = fixture("en_us_android_12h.txt");
    let arguments = [
        path.to_str().unwrap(),
        "--channel",
        "Launch Q1",
        "--custodian",
        "alice@example.com",
        "--map",
        "Alice Walker=alice@example.com",
        "--map",
        "Bob Stone=BOB@example.com",
        "--utc-offset",
        "-08:00",
    ];
    let first = import(&dir, &arguments);
    assert_eq!(first["channel"], "launch-q1");
    assert_eq!(first["created"], true);
    assert_eq!(
        (
            first["messages"].as_u64(),
            first["system_events"].as_u64(),
            first["media"].as_u64()
        ),
        (Some(8), Some(9), Some(0))
    );
    assert_eq!(first["duplicates_skipped"], 0);
    assert_eq!(first["problems"], serde_json::json!([]));
    assert_eq!(first["lines"], 21);
    let participants = first["participants"].as_array().unwrap();
    assert_eq!(participants.len(), 3);
    assert_eq!(
        (
            participants[0]["user_id"].as_i64(),
            participants[0]["external"].as_bool()
        ),
        (alice["id"].as_i64(), Some(false))
    );
    assert_eq!(
        (
            participants[1]["user_id"].as_i64(),
            participants[1]["external"].as_bool()
        ),
        (bob["id"].as_i64(), Some(false))
    );
    assert_eq!(
        (
            participants[2]["phone"].as_str(),
            participants[2]["external"].as_bool()
        ),
        (Some("+14155550100"), Some(true))
    );
    let carla_id = participants[2]["user_id"].as_i64().unwrap();

    let second = import(&dir, &arguments);
    assert_eq!(
        (
            second["messages"].as_u64(),
            second["system_events"].as_u64(),
            second["duplicates_skipped"].as_u64()
        ),
        (Some(0), Some(0), Some(17))
    );
    assert_eq!(second["created"], false);

    let server = serve(&dir, super::free_port());
    let client = reqwest::Client::new();
    let token = login(&client, &server.base, "alice@example.com").await;
    let channel_id = first["channel_id"].as_i64().unwrap();
    let page = get_json(
        &client,
        &format!(
            "{}/api/v1/channels/{channel_id}/messages?limit=100",
            server.base
        ),
        &token,
    )
    .await;
    let messages = page["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 17, "{page}");
    let welcome = &messages[4];
    assert_eq!(
        welcome["text"],
        "Welcome everyone!\nAgenda for this week:\n- kickoff\n\n- budget: draft"
    );
    assert_eq!(welcome["author_id"], alice["id"]);
    // 2 Jan 2024, 12:00 PM at UTC-8 is 20:00 UTC.
    assert_eq!(welcome["created_at"], 1_704_225_600_000_i64);
    assert_eq!(
        messages[6]["author_id"], carla_id,
        "an unmapped number is an external participant"
    );
    assert_eq!(messages[6]["text"], "Hi, this is Carla");
    assert!(
        messages[8]["deleted_at"].is_i64(),
        "deleted markers are deleted messages"
    );
    assert_eq!(messages[8]["text"], "", "members see a tombstone");
    assert!(messages[10]["edited_at"].is_i64());
    let channels = get_json(
        &client,
        &format!("{}/api/v1/channels/{channel_id}", server.base),
        &token,
    )
    .await;
    assert_eq!(channels["channel"]["read_only"], true);
    let post = client
        .post(format!(
            "{}/api/v1/channels/{channel_id}/messages",
            server.base
        ))
        .bearer_auth(&token)
        .json(&serde_json::json!({"text": "sneaking in"}))
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 403, "the archive accepts no new posts");
    let carol = login(&client, &server.base, "carol@example.com").await;
    let status = client
        .get(format!(
            "{}/api/v1/channels/{channel_id}/messages",
            server.base
        ))
        .bearer_auth(&carol)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 404, "non-members cannot read the archive");
    drop(server);

    let (ok, stdout, _) = run(&dir, &["journal", "verify"]);
    assert!(ok, "{stdout}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zip_export_brings_its_media_and_problems_are_reported_by_line() {
    let dir = temp_dir("wa-zip");
    create_user(&dir, "officer@example.com", "compliance");
    let chat = "[02/01/2024, 10:00:00] Team: \u{200e}Messages and calls are end-to-end encrypted.\n\
                [02/01/2024, 10:00:05] Priya Shah: \u{200e}<attached: 00000012-PHOTO-2024-01-02-10-00-05.jpg>\n\
                The damaged box\n\
                [02/01/2024, 10:01:00] +44 7700 900123: \u{200e}<attached: 00000013-PHOTO-2024-01-02-10-01-00.jpg>\n\
                [02/01/2024, 10:02:00] Priya Shah: Thanks, refund is on its way\n";
    let zip_path = dir.join("WhatsApp Chat - Team.zip");
    {
        let file = std::fs::File::create(&zip_path).unwrap();
        let mut zip = zip::ZipWriter::new(file);
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        zip.start_file("_chat.txt", options).unwrap();
        zip.write_all(chat.as_bytes()).unwrap();
        zip.start_file("00000012-PHOTO-2024-01-02-10-00-05.jpg", options)
            .unwrap();
        zip.write_all(PNG).unwrap();
        zip.finish().unwrap();
    }
    let arguments = [
        zip_path.to_str().unwrap(),
        "--channel",
        "wa-team",
        "--custodian",
        "officer@example.com",
        "--utc-offset",
        "+01:00",
    ];
    let first = import(&dir, &arguments);
    assert_eq!(
        (
            first["messages"].as_u64(),
            first["system_events"].as_u64(),
            first["media"].as_u64()
        ),
        (Some(3), Some(1), Some(1)),
        "{first}"
    );
    assert_eq!(
        first["problems"],
        serde_json::json!([{"line": 4, "kind": "media_not_in_export", "text": "00000013-PHOTO-2024-01-02-10-01-00.jpg"}])
    );
    assert_eq!(
        first["participants"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["external"] == true)
            .count(),
        2
    );
    let second = import(&dir, &arguments);
    assert_eq!(
        (
            second["messages"].as_u64(),
            second["media"].as_u64(),
            second["duplicates_skipped"].as_u64()
        ),
        (Some(0), Some(0), Some(4))
    );

    let junk = import(
        &dir,
        &[
            fixture("junk_and_problems.txt").to_str().unwrap(),
            "--channel",
            "wa-junk",
        ],
    );
    let lines: Vec<(u64, &str)> = junk["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["line"].as_u64().unwrap(), p["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(
        lines,
        vec![
            (1, "text_before_first_message"),
            (3, "text_before_first_message"),
            (5, "foreign_header_format"),
            (7, "invalid_date"),
            (10, "invalid_date")
        ]
    );
    assert_eq!(junk["messages"], 4);

    let server = serve(&dir, super::free_port());
    let client = reqwest::Client::new();
    let token = login(&client, &server.base, "officer@example.com").await;
    let page = get_json(
        &client,
        &format!(
            "{}/api/v1/channels/{}/messages",
            server.base, first["channel_id"]
        ),
        &token,
    )
    .await;
    let photo = &page["messages"][1];
    assert_eq!(photo["text"], "The damaged box");
    // 10:00:05 at UTC+1 is 09:00:05 UTC.
    assert_eq!(photo["created_at"], 1_704_186_005_000_i64);
    let attachment = &photo["attachments"][0];
    assert_eq!(attachment["name"], "00000012-PHOTO-2024-01-02-10-00-05.jpg");
    assert_eq!(
        attachment["content_type"], "image/png",
        "sniffed from the bytes"
    );
    let bytes = client
        .get(format!("{}/api/v1/files/{}", server.base, attachment["id"]))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(&bytes[..], PNG);
    assert_eq!(
        page["messages"][2]["text"], "<attached: 00000013-PHOTO-2024-01-02-10-01-00.jpg>",
        "a missing file keeps its marker"
    );
    drop(server);
    assert!(
        dir.join("blobs/sha256").is_dir(),
        "media live in the content-addressed blob store"
    );

    // Mistakes are refused with a reason.
    let zip_argument = zip_path.to_str().unwrap();
    let (ok, _, stderr) = run(
        &dir,
        &[
            "import",
            "whatsapp",
            zip_argument,
            "--channel",
            "x",
            "--custodian",
            "nobody@example.com",
        ],
    );
    assert!(!ok);
    assert!(stderr.contains("nobody@example.com"));
    let (_, _, stderr) = run(
        &dir,
        &[
            "import",
            "whatsapp",
            zip_argument,
            "--channel",
            "x",
            "--utc-offset",
            "two hours",
        ],
    );
    assert!(stderr.contains("--utc-offset"));
    std::fs::remove_dir_all(dir).unwrap();
}

/// Writes a zip export holding `entries` (name, bytes), deflated.
fn write_zip(path: &Path, entries: &[(&str, &[u8])]) {
    let file = std::fs::File::create(path).unwrap();
    let mut zip = zip::ZipWriter::new(std::io::BufWriter::new(file));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(true);
    for (name, bytes) in entries {
        zip.start_file(*name, options).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_over_the_size_limit_are_stored_in_parts_and_reimport_adds_nothing() {
    let dir = temp_dir("wa-long");
    create_user(&dir, "officer@example.com", "compliance");
    // 40,000 bytes in one message, over two lines, then an ordinary one.
    let long_body = format!("{}\n{}", "a".repeat(30_000), "é".repeat(4_999));
    let chat = format!(
        "[02/01/2024, 10:00:00] Priya Shah: {long_body}\n\
         [02/01/2024, 10:01:00] Priya Shah: short and sweet\n"
    );
    let zip_path = dir.join("long.zip");
    write_zip(&zip_path, &[("_chat.txt", chat.as_bytes())]);
    let arguments = [
        zip_path.to_str().unwrap(),
        "--channel",
        "wa-long",
        "--custodian",
        "officer@example.com",
    ];
    let first = import(&dir, &arguments);
    assert_eq!(
        first["messages"], 4,
        "three parts and the short one: {first}"
    );
    let problems = first["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1, "{first}");
    assert_eq!(
        (problems[0]["line"].as_u64(), problems[0]["kind"].as_str()),
        (Some(1), Some("message_split"))
    );
    let again = import(&dir, &arguments);
    assert_eq!(
        (
            again["messages"].as_u64(),
            again["duplicates_skipped"].as_u64()
        ),
        (Some(0), Some(4)),
        "{again}"
    );

    let server = serve(&dir, super::free_port());
    let client = reqwest::Client::new();
    let token = login(&client, &server.base, "officer@example.com").await;
    let channel_id = first["channel_id"].as_i64().unwrap();
    let page = get_json(
        &client,
        &format!(
            "{}/api/v1/channels/{channel_id}/messages?limit=100",
            server.base
        ),
        &token,
    )
    .await;
    let texts: Vec<&str> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|message| message["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts.len(), 4);
    assert!(
        texts.iter().all(|text| text.len() <= 16 * 1024),
        "a stored message is over the limit"
    );
    assert_eq!(texts[..3].concat(), long_body, "nothing was cut away");
    assert_eq!(texts[3], "short and sweet");
    drop(server);
    std::fs::remove_dir_all(dir).unwrap();
}

/// The most memory the child has held at once (VmHWM), in bytes, watched
/// until it exits; and its standard output.
fn run_watching_memory(mut command: std::process::Command) -> (bool, u64, String) {
    use std::io::Read;
    let mut child = command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .unwrap();
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak = 0u64;
    let status = loop {
        if let Ok(status) = std::fs::read_to_string(&status_path)
            && let Some(kilobytes) = status
                .lines()
                .find_map(|line| line.strip_prefix("VmHWM:"))
                .and_then(|value| {
                    value
                        .trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse::<u64>()
                        .ok()
                })
        {
            peak = peak.max(kilobytes * 1024);
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    (status.success(), peak, stdout)
}

#[test]
fn a_zip_import_unpacks_media_as_a_stream_not_into_memory() {
    let dir = temp_dir("wa-stream");
    create_user(&dir, "officer@example.com", "compliance");
    // 128 MB of one file that compresses to a few hundred kilobytes; held
    // whole (and copied once for sealing) it would take 256 MB.
    let video = vec![0u8; 128 * 1024 * 1024];
    let chat = "[02/01/2024, 10:00:05] Priya Shah: \u{200e}<attached: 00000012-VIDEO-2024-01-02-10-00-05.mp4>\n\
                [02/01/2024, 10:02:00] Priya Shah: that is the whole recording\n";
    let zip_path = dir.join("video.zip");
    write_zip(
        &zip_path,
        &[
            ("_chat.txt", chat.as_bytes()),
            ("00000012-VIDEO-2024-01-02-10-00-05.mp4", &video),
        ],
    );
    drop(video);
    assert!(std::fs::metadata(&zip_path).unwrap().len() < 2 * 1024 * 1024);
    let mut command = super::conclave(&dir);
    command.args([
        "import",
        "whatsapp",
        zip_path.to_str().unwrap(),
        "--channel",
        "wa-video",
        "--custodian",
        "officer@example.com",
    ]);
    let (ok, peak, stdout) = run_watching_memory(command);
    assert!(ok, "{stdout}");
    let summary: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(summary["media"], 1, "{summary}");
    assert!(
        peak < 96 * 1024 * 1024,
        "the import held {} MB at its peak for a 128 MB file",
        peak / (1024 * 1024)
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn an_export_with_no_readable_header_fails_loudly_and_stores_nothing() {
    let dir = temp_dir("wa-unreadable");
    create_user(&dir, "alice@example.com", "member");
    // Month names are not a header form the parser reads.
    let unreadable = dir.join("unreadable.txt");
    std::fs::write(
        &unreadable,
        "13 juin 2018 21:25 - Am\u{e9}lie: Bonsoir\n13 juin 2018 21:26 - Luc: Salut\n",
    )
    .unwrap();
    let (ok, stdout, stderr) = run(
        &dir,
        &[
            "import",
            "whatsapp",
            unreadable.to_str().unwrap(),
            "--channel",
            "soiree",
        ],
    );
    assert!(!ok, "an unreadable export must fail: {stdout}");
    let summary: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {stdout} {stderr}"));
    assert_eq!(summary["unreadable"], true);
    assert_eq!(summary["error"]["code"], "unreadable_export");
    assert_eq!(summary["messages"], 0);
    assert_eq!(summary["problems_total"], 2);
    assert_eq!(summary["problems"][0]["kind"], "text_before_first_message");

    // The same chat in the header form French phones write is read, and the
    // channel is new: the failed run created nothing.
    let readable = dir.join("readable.txt");
    std::fs::write(
        &readable,
        "13/06/2018 \u{e0} 21:25 - Am\u{e9}lie: Bonsoir\n13/06/2018 \u{e0} 21:26 - Luc: Salut\n",
    )
    .unwrap();
    let summary = import(&dir, &[readable.to_str().unwrap(), "--channel", "soiree"]);
    assert_eq!(summary["unreadable"], false);
    assert_eq!(summary["created"], true);
    assert_eq!(summary["messages"], 2);
    assert_eq!(summary["date_order"], "DayFirst");
    assert_eq!(summary["date_order_reason"], "Evidence { line: 1 }");
    assert_eq!(summary["date_order_confidence"], "certain");
}
