//! The backend-agnostic conformance suite, on SQLite.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use conclave_store_sqlite::SqliteStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_passes_the_conformance_suite() {
    let dir = std::env::temp_dir().join(format!("conclave-conformance-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("conclave.db");
    let _ = std::fs::remove_file(&path);
    let store = SqliteStore::open(&path).unwrap();
    conclave_store::conformance::run_all(Arc::new(store)).await;
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reopening_keeps_data_and_schema() {
    let dir = std::env::temp_dir().join(format!("conclave-reopen-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("conclave.db");
    let _ = std::fs::remove_file(&path);
    {
        let store = SqliteStore::open(&path).unwrap();
        use conclave_store::Store;
        store
            .create_user(conclave_domain::NewUser {
                email: "a@example.com".into(),
                handle: "a".into(),
                name: "A".into(),
                role: conclave_domain::Role::Owner,
                password_hash: None,
                created_at: 1,
            })
            .await
            .unwrap();
    }
    let store = SqliteStore::open(&path).unwrap();
    use conclave_store::Store;
    assert_eq!(store.count_users().await.unwrap(), 1);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_passes_the_scim_and_directory_conformance() {
    let dir =
        std::env::temp_dir().join(format!("conclave-conformance-scim-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("conclave.db");
    let _ = std::fs::remove_file(&path);
    let store = SqliteStore::open(&path).unwrap();
    conclave_store::conformance_identity::run_scim(Arc::new(store)).await;
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_passes_the_external_conformance() {
    let dir = std::env::temp_dir().join(format!(
        "conclave-conformance-external-{}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("conclave.db");
    let _ = std::fs::remove_file(&path);
    let store = SqliteStore::open(&path).unwrap();
    conclave_store::conformance_external::run(Arc::new(store)).await;
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_claims_each_queued_send_for_one_process_only() {
    let dir = std::env::temp_dir().join(format!(
        "conclave-conformance-claims-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("conclave.db");
    // Two stores on one file: two server processes.
    let first = SqliteStore::open(&path).unwrap();
    let second = SqliteStore::open(&path).unwrap();
    conclave_store::conformance_external::claims_of_queued_sends(Arc::new(first), Arc::new(second))
        .await;
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_passes_the_compliance_conformance_story() {
    let dir = std::env::temp_dir().join(format!("conclave-compliance-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let store = SqliteStore::open(&dir.join("conclave.db")).unwrap();
    conclave_store::conformance_compliance::run(Arc::new(store)).await;
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Each way of altering stored history that `journal verify` must catch,
/// each applied to a fresh copy of the same small archive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_journal_verify_detects_altered_messages_versions_and_redactions() {
    use conclave_domain::command::OutcomeValue;
    use conclave_domain::compliance::{DAY_MILLIS, RetentionScope};
    use conclave_domain::{ChannelKind, Command, NewUser, Role};
    use conclave_store::{ComplianceStore, Store};

    // Text is stored sealed, so each alteration is made on the sealed
    // form: replaced, replayed from another version, or edited in place.
    let tampers: [(&str, &str); 11] = [
        (
            "message text",
            "UPDATE messages SET text = 'forged' WHERE text <> ''",
        ),
        (
            "message text replayed from its first version",
            "UPDATE messages SET text = (SELECT v.text FROM message_versions AS v
                 WHERE v.message_id = messages.id AND v.version = 1) WHERE text <> ''",
        ),
        (
            "first version",
            "UPDATE message_versions SET text = 'forged' WHERE version = 1",
        ),
        (
            "journal payload",
            "UPDATE events SET payload = replace(payload, 'enc1:', 'enc1:A') WHERE kind = 'message_edited'",
        ),
        ("redaction record", "DELETE FROM journal_redactions"),
        (
            "version removed",
            "DELETE FROM message_versions WHERE version = 2",
        ),
        (
            "imported message text",
            "UPDATE messages SET text = 'forged'
             WHERE id IN (SELECT message_id FROM whatsapp_import_digests) AND text <> ''",
        ),
        (
            "imported first version",
            "UPDATE message_versions SET text = 'forged'
             WHERE message_id IN (SELECT message_id FROM whatsapp_import_digests) AND text <> ''",
        ),
        (
            "bulk journal payload",
            "UPDATE events SET payload = replace(payload, 'enc1:', 'enc1:A') WHERE kind = 'messages_imported'",
        ),
        (
            "bulk journal record blanked with its message",
            "UPDATE events SET payload = json_set(payload, '$.messages[1].text', '') WHERE kind = 'messages_imported';
             UPDATE messages SET text = '' WHERE id IN (SELECT message_id FROM whatsapp_import_digests);
             UPDATE message_versions SET text = '' WHERE message_id IN (SELECT message_id FROM whatsapp_import_digests)",
        ),
        (
            "bulk redaction record",
            "DELETE FROM journal_redactions WHERE position IN (SELECT position FROM events WHERE kind = 'messages_imported')",
        ),
    ];
    for (what, tamper) in tampers {
        let dir = std::env::temp_dir().join(format!(
            "conclave-tamper-{}-{}",
            std::process::id(),
            what.replace(' ', "-")
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("conclave.db");
        {
            let store = SqliteStore::open(&path).unwrap();
            let owner = store
                .create_user(NewUser {
                    email: "o@example.com".into(),
                    handle: "o".into(),
                    name: "O".into(),
                    role: Role::Owner,
                    password_hash: None,
                    created_at: 1,
                })
                .await
                .unwrap();
            let apply = |command| async {
                store
                    .apply(vec![command])
                    .await
                    .unwrap()
                    .pop()
                    .unwrap()
                    .unwrap()
            };
            let OutcomeValue::Channel(channel) = apply(Command::CreateChannel {
                kind: ChannelKind::Public,
                name: "general".into(),
                topic: String::new(),
                creator_id: owner.id,
                member_ids: vec![],
                conversation_key: None,
                read_only: false,
                at: 1,
            })
            .await
            .result
            else {
                panic!()
            };
            let post = |text: &str, at| Command::PostMessage {
                channel_id: channel.id,
                author_id: owner.id,
                thread_id: None,
                text: text.into(),
                mentions: vec![],
                attachment_ids: vec![],
                client_id: None,
                at,
            };
            apply(post("expired", 2)).await;
            let OutcomeValue::Message(kept) = apply(post("kept", 100 * DAY_MILLIS)).await.result
            else {
                panic!()
            };
            apply(Command::EditMessage {
                message_id: kept.id,
                editor_id: owner.id,
                text: "kept, edited".into(),
                mentions: vec![],
                at: 100 * DAY_MILLIS + 1,
            })
            .await;
            conclave_store::conformance_external::import_then_erase_for_tampering(&store, owner.id)
                .await;
            store
                .set_retention(RetentionScope::Global, Some(30), 3)
                .await
                .unwrap();
            assert_eq!(
                store
                    .purge_expired(100 * DAY_MILLIS)
                    .await
                    .unwrap()
                    .messages,
                2,
                "the expired post and the expired imported message"
            );
            assert!(
                store.verify_journal().await.unwrap().is_ok(),
                "intact before tampering"
            );
            // Sealed at rest: no file of the data directory (database, WAL,
            // keystore) holds the text.
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                let bytes = std::fs::read(&path).unwrap();
                assert!(
                    !bytes.windows(4).any(|window| window == b"kept"),
                    "{} holds plaintext",
                    path.display()
                );
            }
        }
        let raw = rusqlite::Connection::open(&path).unwrap();
        // Retention and erasure blanked their records in the bulk entry.
        let texts: Vec<String> = raw
            .prepare(
                "SELECT json_extract(record.value, '$.text')
                 FROM events, json_each(events.payload, '$.messages') AS record
                 WHERE kind = 'messages_imported'",
            )
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(texts.len(), 3);
        assert_eq!(
            texts.iter().filter(|text| !text.is_empty()).count(),
            1,
            "{texts:?}"
        );
        raw.execute_batch(tamper).unwrap();
        drop(raw);
        let store = SqliteStore::open(&path).unwrap();
        let verdict = store.verify_journal().await.unwrap();
        assert!(verdict.is_err(), "{what}: tampering went unnoticed");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_passes_the_authentication_conformance() {
    let dir =
        std::env::temp_dir().join(format!("conclave-conformance-auth-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("conclave.db");
    let _ = std::fs::remove_file(&path);
    let store = SqliteStore::open(&path).unwrap();
    conclave_store::conformance_identity::run_auth(Arc::new(store)).await;
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_keys_stored_in_hex_survive_migration_7() {
    use conclave_store::conformance_external::{
        legacy_key_hex, legacy_keys_setup, legacy_keys_still_match,
    };
    let dir = std::env::temp_dir().join(format!("conclave-legacy-keys-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("conclave.db");
    let _ = std::fs::remove_file(&path);
    let channel_id = legacy_keys_setup(&SqliteStore::open(&path).unwrap()).await;
    // Back to schema 6, with keys as the import stored them then.
    let raw = rusqlite::Connection::open(&path).unwrap();
    raw.execute_batch(
        "DROP TABLE onboarded_users;
         DROP TABLE user_profiles;
         DROP TABLE password_resets;
         DROP INDEX scim_tokens_created_by;
         CREATE TABLE scim_tokens_v6 (
             id           INTEGER PRIMARY KEY,
             name         TEXT NOT NULL,
             token_hash   TEXT NOT NULL UNIQUE,
             created_at   INTEGER NOT NULL,
             last_used_at INTEGER,
             revoked_at   INTEGER
         );
         INSERT INTO scim_tokens_v6
             SELECT id, name, token_hash, created_at, last_used_at, revoked_at FROM scim_tokens;
         DROP TABLE scim_tokens;
         ALTER TABLE scim_tokens_v6 RENAME TO scim_tokens;
         DROP TABLE incoming_webhooks;
         DROP TABLE whatsapp_import_digests;
         DROP INDEX whatsapp_messages_unsent;
         CREATE TABLE whatsapp_import_keys (
             channel_id INTEGER NOT NULL,
             dedupe_key TEXT NOT NULL,
             message_id INTEGER NOT NULL,
             kind       TEXT NOT NULL,
             line       INTEGER NOT NULL,
             PRIMARY KEY (channel_id, dedupe_key)
         ) WITHOUT ROWID;
         PRAGMA user_version = 6;",
    )
    .unwrap();
    for key in [legacy_key_hex(), "not-a-digest".to_string()] {
        raw.execute(
            "INSERT INTO whatsapp_import_keys VALUES (?1, ?2, 1000, 'text', 1)",
            rusqlite::params![channel_id, key],
        )
        .unwrap();
    }
    drop(raw);

    let store = SqliteStore::open(&path).unwrap();
    let raw = rusqlite::Connection::open(&path).unwrap();
    let (carried, time_type): (i64, String) = raw
        .query_row(
            "SELECT COUNT(*), MIN(typeof(local_time)) FROM whatsapp_import_digests WHERE local_time = ?1",
            [i64::MIN],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .unwrap();
    assert_eq!(
        (carried, time_type.as_str()),
        (1, "integer"),
        "the hex digest is carried over as an integer-timed key; the other is not"
    );
    legacy_keys_still_match(&store, channel_id).await;
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_passes_the_webhook_conformance() {
    let dir = std::env::temp_dir().join(format!(
        "conclave-conformance-webhooks-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("conclave.db");
    let store = SqliteStore::open(&path).unwrap();
    conclave_store::conformance_webhooks::run(Arc::new(store)).await;
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_passes_the_account_conformance() {
    let dir = std::env::temp_dir().join(format!(
        "conclave-conformance-accounts-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let store = SqliteStore::open(&dir.join("conclave.db")).unwrap();
    conclave_store::conformance_accounts::run(Arc::new(store)).await;
    std::fs::remove_dir_all(&dir).unwrap();
}
