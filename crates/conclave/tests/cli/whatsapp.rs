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
