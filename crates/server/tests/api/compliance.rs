//! Server tests for the compliance feature; the harness (start, person, call, socket) is in main.rs.

use sha2::{Digest, Sha256};

use super::*;

const DAY: i64 = 86_400_000;

async fn upload(
    server: &Server,
    who: &Person,
    channel_id: i64,
    name: &str,
    bytes: Vec<u8>,
) -> Value {
    let response = server
        .http
        .post(server.url(&format!(
            "/api/v1/files?channel_id={channel_id}&name={name}"
        )))
        .bearer_auth(&who.token)
        .body(bytes)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json().await.unwrap()
}

async fn download(server: &Server, who: &Person, path: &str) -> (StatusCode, Vec<u8>) {
    let response = server
        .http
        .get(server.url(path))
        .bearer_auth(&who.token)
        .send()
        .await
        .unwrap();
    (response.status(), response.bytes().await.unwrap().to_vec())
}

/// Every file under `dir`, recursively, concatenated.
fn all_bytes(dir: &std::path::Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            bytes.extend(all_bytes(&path));
        } else {
            bytes.extend(std::fs::read(&path).unwrap_or_default());
        }
    }
    bytes
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

fn hex_sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

async fn audit_actions(server: &Server, who: &Person) -> Vec<String> {
    let entries = server
        .ok("GET", "/api/v1/audit?limit=1000", who, None)
        .await;
    entries
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["action"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn officers_manage_holds_and_retention_and_nobody_else_may() {
    for backend in backends() {
        let server = start(backend, |_| {}).await;
        let officer = server.person("officer", Role::Compliance).await;
        let admin = server.person("admin", Role::Admin).await;
        let member = server.person("member", Role::Member).await;
        let room = server
            .ok(
                "POST",
                "/api/v1/channels",
                &member,
                Some(json!({"name": "deals", "kind": "public"})),
            )
            .await;
        let room_id = room["channel"]["id"].as_i64().unwrap();
        let secret = server
            .ok(
                "POST",
                "/api/v1/channels",
                &member,
                Some(json!({"name": "board", "kind": "private"})),
            )
            .await;
        // Officers see every named channel, private ones they are not in too.
        let named = server
            .ok("GET", "/api/v1/compliance/channels", &officer, None)
            .await;
        let names: Vec<&str> = named
            .as_array()
            .unwrap()
            .iter()
            .map(|entry| entry["channel"]["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, vec!["board", "deals"], "{named}");
        assert_eq!(named[0]["channel"]["id"], secret["channel"]["id"]);

        for who in [&member, &admin] {
            for (method, path, body) in [
                ("GET", "/api/v1/compliance/channels", None),
                ("GET", "/api/v1/compliance/holds", None),
                (
                    "POST",
                    "/api/v1/compliance/holds",
                    Some(json!({"name": "x", "channel_ids": [room_id]})),
                ),
                (
                    "PUT",
                    "/api/v1/compliance/retention",
                    Some(json!({"scope": "global", "days": 5})),
                ),
                ("POST", "/api/v1/compliance/retention/run", None),
                (
                    "POST",
                    "/api/v1/compliance/exports",
                    Some(json!({"format": "jsonl"})),
                ),
                (
                    "POST",
                    "/api/v1/compliance/erasures",
                    Some(json!({"user_id": officer.id})),
                ),
            ] {
                let (status, body) = server.call(method, path, Some(&who.token), body).await;
                assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {body}");
                assert_eq!(body["code"], "forbidden");
            }
        }

        for (body, expected) in [
            (
                json!({"name": "Case", "channel_ids": [room_id], "from": "last week"}),
                StatusCode::BAD_REQUEST,
            ),
            (
                json!({"name": "Case", "channel_ids": [room_id], "from": "2024-03-02", "to": "2024-03-01"}),
                StatusCode::BAD_REQUEST,
            ),
            (json!({"name": "Case"}), StatusCode::BAD_REQUEST),
            (
                json!({"name": "Case", "custodian_ids": [999_999]}),
                StatusCode::NOT_FOUND,
            ),
        ] {
            let (status, answer) = server
                .call(
                    "POST",
                    "/api/v1/compliance/holds",
                    Some(&officer.token),
                    Some(body.clone()),
                )
                .await;
            assert_eq!(status, expected, "{body}: {answer}");
            assert!(
                answer["message"].as_str().is_some_and(|m| !m.is_empty()),
                "{answer}"
            );
        }
        let (status, hold) = server
            .call(
                "POST",
                "/api/v1/compliance/holds",
                Some(&officer.token),
                Some(json!({"name": "Case 12", "custodian_ids": [member.id], "channel_ids": [room_id], "from": "2024-01-01", "to": "2024-12-31"})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{hold}");
        assert_eq!(hold["active"], true);
        assert_eq!(hold["from"], 1_704_067_200_000i64);
        assert_eq!(
            hold["to"], 1_735_689_600_000i64,
            "the whole last day is included"
        );
        let (status, _) = server
            .call(
                "POST",
                "/api/v1/compliance/holds",
                Some(&officer.token),
                Some(json!({"name": "Case 12", "channel_ids": [room_id]})),
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT);
        let listed = server
            .ok("GET", "/api/v1/compliance/holds", &officer, None)
            .await;
        assert_eq!(listed.as_array().unwrap().len(), 1);
        let hold_id = hold["id"].as_i64().unwrap();
        let released = server
            .ok(
                "POST",
                &format!("/api/v1/compliance/holds/{hold_id}/release"),
                &officer,
                None,
            )
            .await;
        assert_eq!(released["active"], false);
        let (status, _) = server
            .call(
                "POST",
                &format!("/api/v1/compliance/holds/{hold_id}/release"),
                Some(&officer.token),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(
            server
                .ok("GET", "/api/v1/compliance/holds", &officer, None)
                .await
                .as_array()
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            server
                .ok(
                    "GET",
                    "/api/v1/compliance/holds?include_released=true",
                    &officer,
                    None
                )
                .await
                .as_array()
                .unwrap()
                .len(),
            1
        );

        for (body, expected) in [
            (
                json!({"scope": "global", "days": 0}),
                StatusCode::BAD_REQUEST,
            ),
            (
                json!({"scope": "channel", "days": 5}),
                StatusCode::BAD_REQUEST,
            ),
            (
                json!({"scope": "channel", "channel_id": 999_999, "days": 5}),
                StatusCode::NOT_FOUND,
            ),
            (
                json!({"scope": "galaxy", "days": 5}),
                StatusCode::BAD_REQUEST,
            ),
        ] {
            let (status, answer) = server
                .call(
                    "PUT",
                    "/api/v1/compliance/retention",
                    Some(&officer.token),
                    Some(body.clone()),
                )
                .await;
            assert_eq!(status, expected, "{body}: {answer}");
        }
        server
            .ok(
                "PUT",
                "/api/v1/compliance/retention",
                &officer,
                Some(json!({"scope": "global", "days": 365})),
            )
            .await;
        server
            .ok(
                "PUT",
                "/api/v1/compliance/retention",
                &officer,
                Some(json!({"scope": "channel", "channel_id": room_id, "days": null})),
            )
            .await;
        server
            .ok(
                "PUT",
                "/api/v1/compliance/retention",
                &officer,
                Some(json!({"scope": "team", "team": "sales", "days": 30})),
            )
            .await;
        let policies = server
            .ok("GET", "/api/v1/compliance/retention", &officer, None)
            .await;
        assert_eq!(policies.as_array().unwrap().len(), 3, "{policies}");

        let actions = audit_actions(&server, &officer).await;
        for action in ["hold.create", "hold.release", "retention.set"] {
            assert!(
                actions.iter().any(|a| a == action),
                "{action} not audited: {actions:?}"
            );
        }
        let verdict = server
            .ok("GET", "/api/v1/compliance/journal/verify", &officer, None)
            .await;
        assert_eq!(verdict["intact"], true, "{verdict}");
        let checkpoint = server
            .ok(
                "GET",
                "/api/v1/compliance/journal/checkpoint",
                &officer,
                None,
            )
            .await;
        assert_eq!(
            checkpoint["position"],
            server.state.store.head_position().await.unwrap()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_purges_expired_messages_and_leaves_no_plaintext_in_the_data_dir() {
    for backend in backends() {
        let server = start(backend, |_| {}).await;
        let officer = server.person("officer", Role::Compliance).await;
        let alice = server.person("alice", Role::Member).await;
        let doomed = server
            .ok(
                "POST",
                "/api/v1/channels",
                &alice,
                Some(json!({"name": "chatter", "kind": "public"})),
            )
            .await;
        let doomed_id = doomed["channel"]["id"].as_i64().unwrap();
        let held = server
            .ok(
                "POST",
                "/api/v1/channels",
                &alice,
                Some(json!({"name": "litigation", "kind": "public"})),
            )
            .await;
        let held_id = held["channel"]["id"].as_i64().unwrap();

        let file = upload(
            &server,
            &alice,
            doomed_id,
            "secret.txt",
            b"ATTACHMARK-7f3a9c file body".to_vec(),
        )
        .await;
        let sent = server
            .ok(
                "POST",
                &format!("/api/v1/channels/{doomed_id}/messages"),
                &alice,
                Some(json!({"text": "PURGEMARK-41d7 first", "attachment_ids": [file["id"]]})),
            )
            .await;
        let sent_id = sent["id"].as_i64().unwrap();
        server
            .ok(
                "PATCH",
                &format!("/api/v1/messages/{sent_id}"),
                &alice,
                Some(json!({"text": "PURGEMARK-41d7 edited"})),
            )
            .await;
        server
            .ok(
                "PUT",
                &format!("/api/v1/messages/{sent_id}/reactions/%F0%9F%91%8D"),
                &alice,
                None,
            )
            .await;
        let kept = server
            .ok(
                "POST",
                &format!("/api/v1/channels/{held_id}/messages"),
                &alice,
                Some(json!({"text": "HELDMARK-88b2 keep me"})),
            )
            .await;
        server
            .ok(
                "POST",
                "/api/v1/compliance/holds",
                &officer,
                Some(json!({"name": "Litigation", "channel_ids": [held_id]})),
            )
            .await;
        server
            .ok(
                "PUT",
                "/api/v1/compliance/retention",
                &officer,
                Some(json!({"scope": "global", "days": 1})),
            )
            .await;

        // Nothing has expired yet.
        let report = server
            .ok("POST", "/api/v1/compliance/retention/run", &officer, None)
            .await;
        assert_eq!(report["messages"], 0, "{report}");

        // Two days later (an injected clock, not a sleep).
        let later = conclave_server::now_millis() + 2 * DAY;
        let report = conclave_server::compliance::run_retention(
            &*server.state.store,
            &*server.state.blobs,
            later,
        )
        .await
        .unwrap();
        assert_eq!(
            (
                report.messages,
                report.versions,
                report.attachments,
                report.held
            ),
            (1, 2, 1, 1),
            "{report:?}"
        );
        let (status, _) = server
            .call(
                "GET",
                &format!("/api/v1/messages/{sent_id}"),
                Some(&alice.token),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = download(&server, &alice, &format!("/api/v1/files/{}", file["id"])).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = server
            .call(
                "GET",
                &format!("/api/v1/messages/{}", kept["id"]),
                Some(&alice.token),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "the held message stays");
        let verdict = server
            .ok("GET", "/api/v1/compliance/journal/verify", &officer, None)
            .await;
        assert_eq!(verdict["intact"], true, "{verdict}");

        // The text is gone from the files themselves: database, WAL, blobs.
        // (On PostgreSQL the database's files are not in the data dir; the
        // blobs are, and the conformance story checks the rows.) What is
        // kept is sealed, so it is not in them as text either.
        let bytes = all_bytes(&server.dir);
        if matches!(backend, Backend::Sqlite) {
            assert!(
                contains(&bytes, "litigation"),
                "the scan must see stored metadata at all"
            );
        }
        for mark in ["PURGEMARK-41d7", "ATTACHMARK-7f3a9c", "HELDMARK-88b2"] {
            assert!(
                !contains(&bytes, mark),
                "{backend:?}: {mark} lingers in the data dir"
            );
        }
        // A reconnecting client's backlog carries no purged text either.
        let (mut socket, _) = server.socket(&alice, Some(0)).await;
        let frames = drain(&mut socket).await;
        let backlog = serde_json::to_string(&frames).unwrap();
        assert!(!backlog.contains("PURGEMARK-41d7"), "{backlog}");
        assert!(backlog.contains("HELDMARK-88b2"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_in_every_format_parse_and_match_their_manifests() {
    for backend in backends() {
        let server = start(backend, |_| {}).await;
        let officer = server.person("officer", Role::Compliance).await;
        let alice = server.person("alice", Role::Member).await;
        let bob = server.person("bob", Role::Member).await;
        let carol = server.person("carol", Role::Member).await;
        let room = server
            .ok(
                "POST",
                "/api/v1/channels",
                &alice,
                Some(json!({"name": "deal-room", "kind": "private", "member_ids": [bob.id]})),
            )
            .await;
        let room_id = room["channel"]["id"].as_i64().unwrap();
        let other = server
            .ok(
                "POST",
                "/api/v1/channels",
                &carol,
                Some(json!({"name": "elsewhere", "kind": "public"})),
            )
            .await;
        let other_id = other["channel"]["id"].as_i64().unwrap();
        server
            .ok(
                "POST",
                &format!("/api/v1/channels/{other_id}/messages"),
                &carol,
                Some(json!({"text": "not alice's business"})),
            )
            .await;

        let attachment_bytes = b"quarterly numbers \x00\x01\x02 binary".to_vec();
        let file = upload(
            &server,
            &alice,
            room_id,
            "numbers.bin",
            attachment_bytes.clone(),
        )
        .await;
        let root = server
            .ok(
                "POST",
                &format!("/api/v1/channels/{room_id}/messages"),
                &alice,
                Some(json!({"text": "Offer <v1> & \"terms\"", "attachment_ids": [file["id"]]})),
            )
            .await;
        let root_id = root["id"].as_i64().unwrap();
        server
            .ok(
                "PATCH",
                &format!("/api/v1/messages/{root_id}"),
                &alice,
                Some(json!({"text": "Offer v2, Grüße"})),
            )
            .await;
        let reply = server
            .ok(
                "POST",
                &format!("/api/v1/channels/{room_id}/messages"),
                &bob,
                Some(json!({"text": "Agreed", "thread_id": root_id})),
            )
            .await;
        let reply_id = reply["id"].as_i64().unwrap();
        let gone = server
            .ok(
                "POST",
                &format!("/api/v1/channels/{room_id}/messages"),
                &bob,
                Some(json!({"text": "oops, wrong room"})),
            )
            .await;
        let (status, _) = server
            .call(
                "DELETE",
                &format!("/api/v1/messages/{}", gone["id"]),
                Some(&bob.token),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        server
            .ok(
                "POST",
                &format!("/api/v1/channels/{room_id}/members"),
                &alice,
                Some(json!({"user_id": carol.id})),
            )
            .await;
        let (status, _) = server
            .call(
                "DELETE",
                &format!("/api/v1/channels/{room_id}/members/{}", carol.id),
                Some(&alice.token),
                None,
            )
            .await;
        assert!(status.is_success());

        let (status, body) = server
            .call(
                "POST",
                "/api/v1/compliance/exports",
                Some(&officer.token),
                Some(json!({"format": "pdf"})),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        let (status, body) = server
            .call(
                "POST",
                "/api/v1/compliance/exports",
                Some(&officer.token),
                Some(json!({"format": "csv", "from": "tomorrow"})),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(
            body["message"].as_str().unwrap().contains("YYYY-MM-DD"),
            "{body}"
        );

        for format in ["jsonl", "eml", "actiance", "csv"] {
            let (status, export) = server
                .call(
                    "POST",
                    "/api/v1/compliance/exports",
                    Some(&officer.token),
                    Some(json!({"format": format, "custodian_ids": [alice.id]})),
                )
                .await;
            assert_eq!(status, StatusCode::CREATED, "{format}: {export}");
            let id = export["id"].as_str().unwrap();
            let manifest = &export["manifest"];
            assert_eq!(manifest["format"], format);
            assert_eq!(
                manifest["filters"]["custodians"],
                json!(["alice@example.com"])
            );
            let counts = &manifest["counts"];
            assert_eq!(
                (counts["channels"].as_u64(), counts["messages"].as_u64()),
                (Some(1), Some(3)),
                "{format}: {counts}"
            );
            assert_eq!(
                (
                    counts["edits"].as_u64(),
                    counts["deletions"].as_u64(),
                    counts["attachments"].as_u64()
                ),
                (Some(1), Some(1), Some(1))
            );
            let again = server
                .ok(
                    "GET",
                    &format!("/api/v1/compliance/exports/{id}"),
                    &officer,
                    None,
                )
                .await;
            assert_eq!(&again["manifest"], manifest);

            // Every file downloads and matches its checksum.
            let mut files: HashMap<String, Vec<u8>> = HashMap::new();
            for entry in manifest["files"].as_array().unwrap() {
                let name = entry["name"].as_str().unwrap();
                let (status, bytes) = download(
                    &server,
                    &officer,
                    &format!("/api/v1/compliance/exports/{id}/files/{name}"),
                )
                .await;
                assert_eq!(status, StatusCode::OK, "{name}");
                assert_eq!(
                    hex::encode(Sha256::digest(&bytes)),
                    entry["sha256"].as_str().unwrap(),
                    "{format}: {name}"
                );
                assert_eq!(bytes.len() as u64, entry["bytes"].as_u64().unwrap());
                files.insert(name.to_string(), bytes);
            }
            let (status, _) = download(
                &server,
                &officer,
                &format!("/api/v1/compliance/exports/{id}/files/..%2Fmanifest.json"),
            )
            .await;
            assert_eq!(status, StatusCode::NOT_FOUND);
            let (status, _) = download(
                &server,
                &alice,
                &format!("/api/v1/compliance/exports/{id}/files/manifest.json"),
            )
            .await;
            assert_eq!(status, StatusCode::FORBIDDEN);
            let everything: Vec<u8> = files.values().flatten().copied().collect();
            assert!(
                !contains(&everything, "not alice's business"),
                "{format}: another channel leaked into the export"
            );
            // Downloads carry the text; the export kept in the data
            // directory is sealed at rest.
            assert!(contains(&everything, "Agreed"), "{format}");
            assert!(
                !contains(&all_bytes(&server.dir.join("exports").join(id)), "Agreed"),
                "{format}: an export kept in the data dir is readable"
            );

            match format {
                "jsonl" => check_jsonl(&files, root_id, reply_id, &attachment_bytes),
                "eml" => check_eml(&files, manifest, root_id, reply_id, &attachment_bytes),
                "actiance" => check_actiance(&files),
                _ => check_csv(&files),
            }
        }
        let listed = server
            .ok("GET", "/api/v1/compliance/exports", &officer, None)
            .await;
        assert_eq!(listed.as_array().unwrap().len(), 4);
        let actions = audit_actions(&server, &officer).await;
        assert_eq!(
            actions.iter().filter(|a| *a == "export.create").count(),
            4,
            "{actions:?}"
        );
        assert!(actions.iter().any(|a| a == "export.download"));
    }
}

fn check_jsonl(files: &HashMap<String, Vec<u8>>, root_id: i64, reply_id: i64, attachment: &[u8]) {
    let text = std::str::from_utf8(&files["messages.jsonl"]).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let messages: Vec<&Value> = lines
        .iter()
        .filter(|line| line["type"] == "message")
        .collect();
    assert_eq!(messages.len(), 3);
    let root = messages.iter().find(|m| m["id"] == root_id).unwrap();
    assert_eq!(root["text"], "Offer v2, Grüße");
    assert_eq!(root["author"]["email"], "alice@example.com");
    assert_eq!(root["channel"]["name"], "deal-room");
    assert_eq!(root["versions"].as_array().unwrap().len(), 2);
    assert_eq!(root["versions"][0]["text"], "Offer <v1> & \"terms\"");
    assert!(
        root["created_at"].as_str().unwrap().ends_with('Z'),
        "ISO-8601 UTC: {}",
        root["created_at"]
    );
    let stored = root["attachments"][0]["file"].as_str().unwrap();
    assert_eq!(files[stored], attachment);
    let reply = messages.iter().find(|m| m["id"] == reply_id).unwrap();
    assert_eq!(reply["thread_id"], root_id);
    let deleted = messages
        .iter()
        .find(|m| !m["deleted_at"].is_null())
        .unwrap();
    assert_eq!(
        deleted["text"], "oops, wrong room",
        "deletions keep their text for compliance"
    );
    assert_eq!(deleted["deleted_by"]["email"], "bob@example.com");
    let memberships: Vec<&Value> = lines
        .iter()
        .filter(|line| line["type"] == "membership")
        .collect();
    assert!(
        memberships
            .iter()
            .any(|m| m["user"]["email"] == "carol@example.com" && m["action"] == "left"),
        "{memberships:?}"
    );
}

/// Reads every `.eml` out of the export's ZIP archives with the `zip`
/// crate (which checks each entry's CRC-32), keyed by message id, after
/// checking each archive's message count in the manifest.
fn eml_entries(files: &HashMap<String, Vec<u8>>, manifest: &Value) -> HashMap<i64, Vec<u8>> {
    use std::io::Read;
    let mut messages = HashMap::new();
    for entry in manifest["files"].as_array().unwrap() {
        let name = entry["name"].as_str().unwrap();
        assert!(
            name.starts_with("messages-") && name.ends_with(".zip"),
            "only archives: {name}"
        );
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(&files[name])).unwrap();
        assert_eq!(entry["messages"].as_u64(), Some(archive.len() as u64));
        for index in 0..archive.len() {
            let mut eml = archive.by_index(index).unwrap();
            assert_eq!(eml.compression(), zip::CompressionMethod::Stored);
            let path = eml.name().unwrap().to_string();
            let id = path
                .strip_suffix(".eml")
                .and_then(|rest| rest.rsplit('/').next())
                .and_then(|id| id.parse::<i64>().ok())
                .unwrap_or_else(|| panic!("not <channel>/<id>.eml: {path}"));
            assert!(path.contains("-deal-room/"), "{path}");
            let mut bytes = Vec::new();
            eml.read_to_end(&mut bytes).unwrap();
            assert!(messages.insert(id, bytes).is_none(), "{path} twice");
        }
    }
    messages
}

fn check_eml(
    files: &HashMap<String, Vec<u8>>,
    manifest: &Value,
    root_id: i64,
    reply_id: i64,
    attachment: &[u8],
) {
    let emls = eml_entries(files, manifest);
    assert_eq!(emls.len(), 3, "one .eml per message");
    let parser = mail_parser::MessageParser::default();
    // `<message-ID.INSTALLATION@conclave.invalid>`; the installation id is
    // the same in every message (tests/api/export_fidelity.rs checks it).
    let installation = parser
        .parse(&emls[&root_id])
        .and_then(|root| {
            let id = root.message_id()?;
            let rest = id.strip_prefix(&format!("message-{root_id}."))?;
            Some(rest.strip_suffix("@conclave.invalid")?.to_string())
        })
        .unwrap();
    let message_id =
        |id: i64, installation: &str| format!("message-{id}.{installation}@conclave.invalid");
    for (id, eml) in &emls {
        let parsed = parser.parse(eml).unwrap();
        assert_eq!(
            parsed.message_id(),
            Some(message_id(*id, &installation).as_str())
        );
        assert!(parsed.from().is_some() && parsed.to().is_some() && parsed.date().is_some());
    }
    let root = parser.parse(&emls[&root_id]).unwrap();
    assert_eq!(
        root.from().unwrap().first().unwrap().address().unwrap(),
        "alice@example.com"
    );
    let to: Vec<String> = root
        .to()
        .unwrap()
        .iter()
        .filter_map(|a| a.address().map(str::to_string))
        .collect();
    assert!(to.contains(&"bob@example.com".to_string()), "{to:?}");
    assert!(root.date().is_some(), "a parseable RFC 2822 date");
    assert_eq!(
        root.message_id().unwrap(),
        message_id(root_id, &installation)
    );
    assert!(
        root.subject().unwrap().contains("Offer v2, Grüße"),
        "{:?}",
        root.subject()
    );
    let body = root.body_text(0).unwrap();
    assert!(
        body.contains("Offer v2, Grüße") && body.contains("Offer <v1> & \"terms\""),
        "edit history in the body: {body}"
    );
    let parts: Vec<_> = root.attachments().collect();
    assert_eq!(parts.len(), 1);
    assert_eq!(parts[0].contents(), attachment);
    assert_eq!(
        mail_parser::MimeHeaders::attachment_name(parts[0]),
        Some("numbers.bin")
    );
    let reply = parser.parse(&emls[&reply_id]).unwrap();
    assert_eq!(
        reply.in_reply_to().as_text(),
        Some(message_id(root_id, &installation).as_str())
    );
    assert!(reply.references().as_text_list().is_some_and(|list| {
        list.iter()
            .any(|id| id == &message_id(root_id, &installation))
    }));
}

fn check_actiance(files: &HashMap<String, Vec<u8>>) {
    use quick_xml::events::Event;
    let text = std::str::from_utf8(&files["actiance.xml"]).unwrap();
    let mut reader = quick_xml::Reader::from_str(text);
    let mut counts: HashMap<String, usize> = HashMap::new();
    let mut stack: Vec<String> = Vec::new();
    let mut contents = Vec::new();
    loop {
        match reader.read_event().unwrap() {
            Event::Start(element) => {
                let name = element.name().as_ref().to_string();
                *counts.entry(name.clone()).or_default() += 1;
                stack.push(name);
            }
            Event::End(_) => {
                stack.pop();
            }
            Event::Text(text) if stack.last().is_some_and(|name| name == "Content") => {
                contents.push(text.xml10_content().into_owned());
            }
            Event::GeneralRef(reference) if stack.last().is_some_and(|name| name == "Content") => {
                contents.push(format!("&{};", reference.into_inner()));
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert!(stack.is_empty(), "well-formed");
    assert_eq!(counts.get("FileDump"), Some(&1));
    assert_eq!(counts.get("Conversation"), Some(&1));
    assert_eq!(counts.get("Message"), Some(&3));
    assert_eq!(counts.get("MessageEdited"), Some(&1));
    assert_eq!(counts.get("MessageDeleted"), Some(&1));
    assert_eq!(counts.get("FileTransferStarted"), Some(&1));
    assert_eq!(counts.get("ParticipantLeft"), Some(&1));
    assert!(
        counts.get("ParticipantEntered").is_some_and(|n| *n >= 3),
        "{counts:?}"
    );
    let joined = contents.concat();
    assert!(
        joined.contains("Offer") && joined.contains("&lt;v1&gt;") || joined.contains("<v1>"),
        "{contents:?}"
    );
}

fn check_csv(files: &HashMap<String, Vec<u8>>) {
    let mut reader = csv::Reader::from_reader(files["messages.csv"].as_slice());
    let headers = reader.headers().unwrap().clone();
    assert_eq!(&headers[0], "event");
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let events: Vec<&str> = rows.iter().map(|row| row.get(0).unwrap()).collect();
    assert_eq!(
        events.iter().filter(|e| **e == "posted").count(),
        3,
        "{events:?}"
    );
    assert_eq!(events.iter().filter(|e| **e == "edited").count(), 1);
    assert_eq!(events.iter().filter(|e| **e == "deleted").count(), 1);
    assert!(events.contains(&"left"));
    assert!(
        rows.iter()
            .any(|row| row.get(10) == Some("Offer <v1> & \"terms\"")),
        "quotes survive the round trip"
    );
    assert!(rows.iter().all(|row| row.len() == headers.len()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasure_is_refused_under_a_hold_and_then_removes_the_person() {
    for backend in backends() {
        let server = start(backend, |_| {}).await;
        let officer = server.person("officer", Role::Compliance).await;
        let leaver = server.person("leaver", Role::Member).await;
        let peer = server.person("peer", Role::Member).await;
        let dm = server
            .ok(
                "POST",
                "/api/v1/conversations",
                &leaver,
                Some(json!({"user_ids": [peer.id]})),
            )
            .await;
        let dm_id = dm["channel"]["id"].as_i64().unwrap();
        let file = upload(
            &server,
            &leaver,
            dm_id,
            "cv.txt",
            b"ERASEFILE-19ce".to_vec(),
        )
        .await;
        let sent = server
            .ok(
                "POST",
                &format!("/api/v1/channels/{dm_id}/messages"),
                &leaver,
                Some(json!({"text": "ERASEMARK-5e21", "attachment_ids": [file["id"]]})),
            )
            .await;
        let answer = server
            .ok(
                "POST",
                &format!("/api/v1/channels/{dm_id}/messages"),
                &peer,
                Some(json!({"text": "peer keeps this"})),
            )
            .await;

        let hold = server
            .ok(
                "POST",
                "/api/v1/compliance/holds",
                &officer,
                Some(json!({"name": "Leaver review", "custodian_ids": [leaver.id]})),
            )
            .await;
        let (status, body) = server
            .call(
                "POST",
                "/api/v1/compliance/erasures",
                Some(&officer.token),
                Some(json!({"user_id": leaver.id})),
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        assert!(
            body["message"].as_str().unwrap().contains("Leaver review"),
            "the refusal names the hold: {body}"
        );
        server
            .ok(
                "POST",
                &format!("/api/v1/compliance/holds/{}/release", hold["id"]),
                &officer,
                None,
            )
            .await;

        // A backup taken before the erasure: the blobs, and on SQLite the
        // database too.
        let backup = server.dir.join("backup");
        copy_dir(&server.dir.join("blobs"), &backup.join("blobs"));
        if matches!(backend, Backend::Sqlite) {
            server.state.store.verify_journal().await.unwrap().unwrap();
            for name in ["conclave.db", "conclave.db-wal"] {
                if server.dir.join(name).exists() {
                    std::fs::copy(server.dir.join(name), backup.join(name)).unwrap();
                }
            }
        }

        let report = server
            .ok(
                "POST",
                "/api/v1/compliance/erasures",
                &officer,
                Some(json!({"user_id": leaver.id})),
            )
            .await;
        assert_eq!(
            (
                report["messages"].as_u64(),
                report["attachments"].as_u64(),
                report["keys_destroyed"].as_u64()
            ),
            (Some(1), Some(1), Some(1)),
            "{report}"
        );

        // Restoring that backup with today's keys brings everyone back but
        // the erased person: their key is destroyed (crypto-shredding).
        let keyring = server.state.store.keyring().clone();
        let restored_blobs =
            conclave_server::blobs::LocalBlobStore::new(backup.join("blobs"), keyring.clone())
                .unwrap();
        let file_key = conclave_server::blobs::content_key(
            "sha256",
            &hex_sha256(b"ERASEFILE-19ce"),
            leaver.id,
        );
        assert!(backup.join("blobs").exists());
        let unreadable = conclave_server::blobs::BlobStore::read_all(&restored_blobs, &file_key)
            .await
            .unwrap_err();
        assert_eq!(
            unreadable.kind(),
            std::io::ErrorKind::NotFound,
            "{unreadable}"
        );
        if matches!(backend, Backend::Sqlite) {
            let restored = conclave_store_sqlite::SqliteStore::open_with_keyring(
                &backup.join("conclave.db"),
                keyring,
            )
            .unwrap();
            let sent_id = sent["id"].as_i64().unwrap();
            let answer_id = answer["id"].as_i64().unwrap();
            let old = restored.message_by_id(sent_id).await.unwrap().unwrap();
            assert_eq!(old.text, "", "the erased person's words stay unreadable");
            assert!(
                restored
                    .message_versions(sent_id)
                    .await
                    .unwrap()
                    .iter()
                    .all(|version| version.text.is_empty())
            );
            let kept = restored.message_by_id(answer_id).await.unwrap().unwrap();
            assert_eq!(kept.text, "peer keeps this");
        }
        let message = server
            .ok(
                "GET",
                &format!("/api/v1/messages/{}", sent["id"]),
                &peer,
                None,
            )
            .await;
        assert_eq!(message["text"], "");
        let versions = server
            .ok(
                "GET",
                &format!(
                    "/api/v1/messages/{}/versions?reason=erasure%20check",
                    sent["id"]
                ),
                &officer,
                None,
            )
            .await;
        assert!(
            versions.as_array().unwrap().iter().all(|v| v["text"] == ""),
            "{versions}"
        );
        assert_eq!(
            server
                .ok(
                    "GET",
                    &format!("/api/v1/messages/{}", answer["id"]),
                    &peer,
                    None
                )
                .await["text"],
            "peer keeps this"
        );
        let (status, _) = server
            .call("GET", "/api/v1/me", Some(&leaver.token), None)
            .await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "the erased person's sessions end"
        );
        let (status, _) = server
            .call(
                "POST",
                "/api/v1/auth/login",
                None,
                Some(json!({"email": "leaver@example.com", "password": "long enough password"})),
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let verdict = server
            .ok("GET", "/api/v1/compliance/journal/verify", &officer, None)
            .await;
        assert_eq!(verdict["intact"], true, "{verdict}");
        let bytes = all_bytes(&server.dir);
        for mark in ["ERASEMARK-5e21", "ERASEFILE-19ce"] {
            assert!(
                !contains(&bytes, mark),
                "{backend:?}: {mark} lingers in the data dir"
            );
        }
        let actions = audit_actions(&server, &officer).await;
        assert!(
            actions.iter().any(|a| a == "erasure.refused")
                && actions.iter().any(|a| a == "erasure.complete"),
            "{actions:?}"
        );
    }
}

use std::collections::HashMap;
