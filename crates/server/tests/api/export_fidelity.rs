//! Export fidelity: EML Message-IDs unique per installation and stable per
//! message; reactions in CSV, EML and Actiance; outside people labelled
//! external in Actiance and entered as participants. Read back with the
//! standard parsers (`mail-parser`, `csv`, `quick-xml`).

use std::collections::HashMap;
use std::io::Read;

use conclave_domain::external::{
    ExternalKind, ImportKey, ImportedKind, ImportedMessage, NewExternalParticipant,
    WhatsAppImportChannel,
};

use super::*;

/// Seeded: a public room where alice posts and bob and alice react, and a
/// WhatsApp import whose outside author (a name known only from the
/// export) wrote one message.
struct Seeded {
    officer: Person,
    posted_id: i64,
    customer_message_id: i64,
}

async fn seed(server: &Server) -> Seeded {
    let officer = server.person("officer", Role::Compliance).await;
    let alice = server.person("alice", Role::Member).await;
    let bob = server.person("bob", Role::Member).await;
    let room = server
        .ok(
            "POST",
            "/api/v1/channels",
            &alice,
            Some(json!({"name": "deal-room", "kind": "public", "member_ids": [bob.id]})),
        )
        .await;
    let room_id = room["channel"]["id"].as_i64().unwrap();
    server
        .ok(
            "POST",
            &format!("/api/v1/channels/{room_id}/join"),
            &bob,
            None,
        )
        .await;
    let posted = server
        .ok(
            "POST",
            &format!("/api/v1/channels/{room_id}/messages"),
            &alice,
            Some(json!({"text": "Signed the contract"})),
        )
        .await;
    let posted_id = posted["id"].as_i64().unwrap();
    for (who, emoji) in [(&bob, "%F0%9F%91%8D"), (&alice, "tada")] {
        server
            .ok(
                "PUT",
                &format!("/api/v1/messages/{posted_id}/reactions/{emoji}"),
                who,
                None,
            )
            .await;
    }

    let store = &server.state.store;
    let now = conclave_server::now_millis();
    let (archive, _) = store
        .open_whatsapp_import(WhatsAppImportChannel {
            name: "whatsapp-customer".into(),
            topic: String::new(),
            custodian_id: Some(alice.id),
            creator_id: alice.id,
            member_ids: vec![alice.id],
            at: now,
        })
        .await
        .unwrap();
    let customer = store
        .external_participant(NewExternalParticipant {
            kind: ExternalKind::Name,
            phone: None,
            display_name: "Anna Kunde".into(),
            channel_id: Some(archive.id),
            source: "whatsapp_export".into(),
            at: now,
        })
        .await
        .unwrap();
    let outcome = store
        .import_whatsapp_messages(
            archive.id,
            vec![ImportedMessage {
                dedupe_key: ImportKey {
                    local_time: now / 1000,
                    digest: [7; 32],
                },
                line: 1,
                author_id: customer.user_id,
                kind: ImportedKind::Text,
                text: "Where is my order?".into(),
                created_at: now,
                edited: false,
                attachments: Vec::new(),
            }],
            now,
        )
        .await
        .unwrap();
    assert_eq!(outcome.inserted, 1);
    let exported = store
        .export_messages(
            &conclave_domain::compliance::ExportFilter::default(),
            archive.id,
            0,
            10,
        )
        .await
        .unwrap();
    let customer_message_id = exported[0].message.id;
    Seeded {
        officer,
        posted_id,
        customer_message_id,
    }
}

/// Runs an export of everything and answers its files by name.
async fn export(server: &Server, officer: &Person, format: &str) -> HashMap<String, Vec<u8>> {
    let (status, export) = server
        .call(
            "POST",
            "/api/v1/compliance/exports",
            Some(&officer.token),
            Some(json!({"format": format})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{format}: {export}");
    let id = export["id"].as_str().unwrap();
    let mut files = HashMap::new();
    for entry in export["manifest"]["files"].as_array().unwrap() {
        let name = entry["name"].as_str().unwrap();
        let response = server
            .http
            .get(server.url(&format!("/api/v1/compliance/exports/{id}/files/{name}")))
            .bearer_auth(&officer.token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{name}");
        files.insert(name.to_string(), response.bytes().await.unwrap().to_vec());
    }
    files
}

/// Every `.eml` of an EML export, keyed by message id.
fn emls(files: &HashMap<String, Vec<u8>>) -> HashMap<i64, Vec<u8>> {
    let mut emls = HashMap::new();
    for (name, bytes) in files {
        if !name.ends_with(".zip") {
            continue;
        }
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
        for index in 0..archive.len() {
            let mut entry = archive.by_index(index).unwrap();
            let id = entry
                .name()
                .unwrap()
                .rsplit('/')
                .next()
                .and_then(|file| file.strip_suffix(".eml"))
                .and_then(|id| id.parse::<i64>().ok())
                .unwrap();
            let mut content = Vec::new();
            entry.read_to_end(&mut content).unwrap();
            emls.insert(id, content);
        }
    }
    emls
}

/// Every message's Message-ID in an EML export.
async fn message_ids(server: &Server, officer: &Person) -> HashMap<i64, String> {
    let parser = mail_parser::MessageParser::default();
    emls(&export(server, officer, "eml").await)
        .into_iter()
        .map(|(id, eml)| {
            let parsed = parser.parse(&eml).unwrap();
            (id, parsed.message_id().unwrap().to_string())
        })
        .collect()
}

/// The installation part of `message-ID.INSTALLATION@conclave.invalid`.
fn installation_of(id: i64, message_id: &str) -> String {
    let rest = message_id
        .strip_prefix(&format!("message-{id}."))
        .unwrap_or_else(|| panic!("{message_id}"));
    let installation = rest
        .strip_suffix("@conclave.invalid")
        .unwrap_or_else(|| panic!("{message_id}"));
    assert!(
        installation.len() >= 16 && installation.bytes().all(|b| b.is_ascii_alphanumeric()),
        "{message_id}"
    );
    installation.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eml_message_ids_are_stable_per_message_and_differ_between_installations() {
    for backend in backends() {
        let server = start(backend, |_| {}).await;
        let seeded = seed(&server).await;
        let first = message_ids(&server, &seeded.officer).await;
        assert_eq!(first.len(), 2, "{backend:?}: {first:?}");
        let installation = installation_of(seeded.posted_id, &first[&seeded.posted_id]);
        for (id, message_id) in &first {
            assert_eq!(installation_of(*id, message_id), installation);
        }
        assert_eq!(
            message_ids(&server, &seeded.officer).await,
            first,
            "{backend:?}: the same message keeps its id"
        );
        let server = server.restart(backend, |_| {}).await;
        let officer = server.person("officer2", Role::Compliance).await;
        assert_eq!(
            message_ids(&server, &officer).await,
            first,
            "{backend:?}: and across restarts"
        );

        // Another installation (a new database) numbers its messages from
        // the same start, but its ids are its own.
        let other = start(backend, |_| {}).await;
        let other_seeded = seed(&other).await;
        let theirs = message_ids(&other, &other_seeded.officer).await;
        assert_eq!(other_seeded.posted_id, seeded.posted_id, "same numbering");
        assert_ne!(
            theirs[&seeded.posted_id], first[&seeded.posted_id],
            "{backend:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reactions_are_in_csv_and_eml() {
    for backend in backends() {
        let server = start(backend, |_| {}).await;
        let seeded = seed(&server).await;

        let files = export(&server, &seeded.officer, "csv").await;
        let mut reader = csv::Reader::from_reader(files["messages.csv"].as_slice());
        let headers = reader.headers().unwrap().clone();
        let column = headers.iter().position(|name| name == "reactions");
        let column = column.unwrap_or_else(|| panic!("{backend:?}: {headers:?}"));
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert!(rows.iter().all(|row| row.len() == headers.len()));
        let posted = rows
            .iter()
            .find(|row| row.get(1) == Some(seeded.posted_id.to_string().as_str()))
            .unwrap();
        let reactions = &posted[column];
        assert!(
            reactions.contains("👍 bob@example.com")
                && reactions.contains("tada alice@example.com"),
            "{backend:?}: {reactions}"
        );

        let files = export(&server, &seeded.officer, "eml").await;
        let emls = emls(&files);
        // The header is RFC 2047 text (the emoji are not ASCII).
        let headers = mail_parser::MessageParser::new().header_text(
            mail_parser::HeaderName::Other("X-Conclave-Reactions".into()),
        );
        let with_header = headers.parse(&emls[&seeded.posted_id]).unwrap();
        let header = with_header
            .header("X-Conclave-Reactions")
            .and_then(|value| value.as_text())
            .unwrap_or_else(|| panic!("{backend:?}: no reactions header"));
        assert!(
            header.contains("👍 bob@example.com") && header.contains("tada alice@example.com"),
            "{header}"
        );
        let parser = mail_parser::MessageParser::default();
        let parsed = parser.parse(&emls[&seeded.posted_id]).unwrap();
        let body = parsed.body_text(0).unwrap();
        assert!(
            body.starts_with("Signed the contract")
                && body.contains("--- Reactions ---")
                && body.contains("👍 by bob <bob@example.com>"),
            "{backend:?}: {body}"
        );
        let unreacted = parser.parse(&emls[&seeded.customer_message_id]).unwrap();
        assert!(unreacted.header("X-Conclave-Reactions").is_none());
        assert_eq!(
            unreacted.body_text(0).unwrap().trim_end(),
            "Where is my order?"
        );
    }
}

/// Each element of `names` in the Actiance file, as its children's text.
fn actiance_elements(xml: &[u8], names: &[&str]) -> Vec<(String, HashMap<String, String>)> {
    use quick_xml::events::Event;
    let text = std::str::from_utf8(xml).unwrap();
    let mut reader = quick_xml::Reader::from_str(text);
    let mut found = Vec::new();
    let mut current: Option<(String, HashMap<String, String>)> = None;
    let mut child: Option<String> = None;
    let mut depth = 0;
    loop {
        match reader.read_event().unwrap() {
            Event::Start(element) => {
                depth += 1;
                let name = element.name().as_ref().to_string();
                if current.is_none() && names.contains(&name.as_str()) {
                    current = Some((name, HashMap::new()));
                } else if current.is_some() {
                    child = Some(name);
                }
            }
            Event::Text(text) => {
                if let (Some((_, fields)), Some(child)) = (current.as_mut(), child.as_ref()) {
                    fields
                        .entry(child.clone())
                        .or_default()
                        .push_str(&text.xml10_content());
                }
            }
            Event::End(element) => {
                depth -= 1;
                let name = element.name().as_ref().to_string();
                if current.as_ref().is_some_and(|(open, _)| *open == name) {
                    found.extend(current.take());
                }
                child = None;
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(depth, 0, "well-formed");
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actiance_labels_outside_people_external_enters_every_author_and_has_reactions() {
    for backend in backends() {
        let server = start(backend, |_| {}).await;
        let seeded = seed(&server).await;
        let files = export(&server, &seeded.officer, "actiance").await;
        let elements = actiance_elements(
            &files["actiance.xml"],
            &["Message", "ParticipantEntered", "Reaction"],
        );
        let of = |kind: &str| -> Vec<&HashMap<String, String>> {
            elements
                .iter()
                .filter(|(name, _)| name == kind)
                .map(|(_, fields)| fields)
                .collect()
        };
        let messages = of("Message");
        let by_id = |id: i64| {
            messages
                .iter()
                .find(|fields| fields["MessageID"] == id.to_string())
                .unwrap_or_else(|| panic!("{backend:?}: message {id}: {messages:?}"))
        };
        let customer = by_id(seeded.customer_message_id);
        assert_eq!(customer["UserName"], "Anna Kunde");
        assert_eq!(customer["UserType"], "External", "{backend:?}");
        assert_eq!(by_id(seeded.posted_id)["UserType"], "Internal");

        let entered = of("ParticipantEntered");
        let anna = entered
            .iter()
            .find(|fields| fields["LoginName"] == customer["LoginName"])
            .unwrap_or_else(|| panic!("{backend:?}: the author entered: {entered:?}"));
        assert_eq!(anna["InternalFlag"], "FALSE");
        assert_eq!(anna["UserType"], "External");
        let alice = entered
            .iter()
            .find(|fields| fields["LoginName"] == "alice@example.com")
            .unwrap();
        assert_eq!(alice["InternalFlag"], "TRUE");
        assert!(
            entered.iter().any(|f| f["LoginName"] == "bob@example.com"),
            "{entered:?}"
        );

        let reactions = of("Reaction");
        let mut seen: Vec<(String, String)> = reactions
            .iter()
            .map(|fields| (fields["LoginName"].clone(), fields["Content"].clone()))
            .collect();
        seen.sort();
        assert_eq!(
            seen,
            [
                ("alice@example.com".to_string(), "tada".to_string()),
                ("bob@example.com".to_string(), "👍".to_string()),
            ],
            "{backend:?}"
        );
        assert!(
            reactions
                .iter()
                .all(|fields| fields["MessageID"] == seeded.posted_id.to_string())
        );
    }
}
