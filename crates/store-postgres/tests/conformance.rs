//! The backend-agnostic conformance suite, on PostgreSQL, plus the checks
//! that only a networked database needs: migrations racing and connections
//! dying.
//!
//! These tests need a real server: set `CONCLAVE_TEST_DATABASE_URL` (for
//! example `postgres://postgres@127.0.0.1:5432/test`). Without it each test
//! says it was skipped and passes. Each test works in its own throwaway
//! schema, dropped at the end even when the test fails.

// Test helpers outside `#[test]` functions panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use conclave_domain::{ChannelKind, Command, NewUser, Role};
use conclave_store::{Store, StoreError};
use conclave_store_postgres::PostgresStore;

const URL_VARIABLE: &str = "CONCLAVE_TEST_DATABASE_URL";

fn database_url() -> Option<String> {
    match std::env::var(URL_VARIABLE) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            println!("SKIPPED: {URL_VARIABLE} is not set; PostgreSQL conformance not run");
            None
        }
    }
}

/// A schema name no other test run uses.
fn unique_schema() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let count = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("conclave_test_{}_{nanos}_{count}", std::process::id())
}

async fn admin(url: &str) -> tokio_postgres::Client {
    let (client, driver) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(driver);
    client
}

/// Runs `test` against a fresh schema and drops the schema afterwards,
/// whether or not the test panicked.
async fn in_fresh_schema<F, Fut>(url: &str, create: bool, test: F)
where
    F: FnOnce(String, String) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let schema = unique_schema();
    let admin = admin(url).await;
    if create {
        admin
            .batch_execute(&format!("CREATE SCHEMA {schema}"))
            .await
            .unwrap();
    }
    let outcome = tokio::spawn(test(url.to_string(), schema.clone())).await;
    admin
        .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .await
        .unwrap();
    if let Err(error) = outcome {
        std::panic::resume_unwind(error.into_panic());
    }
}

/// Connects in `schema`, with a keystore of that schema's own (in the
/// temporary directory) that every reconnection finds again.
async fn open_in_schema(url: &str, schema: &str) -> conclave_store::StoreResult<PostgresStore> {
    let dir = std::env::temp_dir().join(format!("conclave-keys-{schema}"));
    let keyring = conclave_store::Keyring::open_in_dir(&dir)?;
    PostgresStore::connect_in_schema(url, schema, Arc::new(keyring)).await
}

fn new_user(handle: &str) -> NewUser {
    NewUser {
        email: format!("{handle}@example.com"),
        handle: handle.into(),
        name: handle.into(),
        role: Role::Member,
        password_hash: None,
        created_at: 1,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_passes_the_conformance_suite() {
    let Some(url) = database_url() else { return };
    in_fresh_schema(&url, true, |url, schema| async move {
        let store = open_in_schema(&url, &schema).await.unwrap();
        conclave_store::conformance::run_all(Arc::new(store)).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_are_idempotent_and_race_free() {
    let Some(url) = database_url() else { return };
    // The schema does not exist yet: both starters race to create it and
    // to migrate it, and the advisory lock lets exactly one do each.
    in_fresh_schema(&url, false, |url, schema| async move {
        let (first, second) =
            tokio::join!(open_in_schema(&url, &schema), open_in_schema(&url, &schema),);
        let (first, second) = (first.unwrap(), second.unwrap());
        first.create_user(new_user("a")).await.unwrap();
        assert_eq!(second.count_users().await.unwrap(), 1);
        drop((first, second));

        // Reconnecting finds the schema current and the data kept.
        let again = open_in_schema(&url, &schema).await.unwrap();
        assert_eq!(again.count_users().await.unwrap(), 1);
        let admin = admin(&url).await;
        let versions: Vec<i64> = admin
            .query(
                &format!("SELECT version FROM {schema}.schema_migrations ORDER BY version"),
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|row| row.get(0))
            .collect();
        let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))
            .unwrap()
            .count();
        let expected: Vec<i64> = (1..=i64::try_from(files).unwrap()).collect();
        assert_eq!(versions, expected, "each migration recorded once");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_schema_names_are_refused() {
    // No server needed: the name is checked before connecting.
    let refused = open_in_schema("postgres://nobody@127.0.0.1:1/none", "x; DROP").await;
    assert!(matches!(refused, Err(StoreError::Invalid(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_stores_share_one_gapless_journal() {
    let Some(url) = database_url() else { return };
    // Two stores stand for two server processes writing at once.
    in_fresh_schema(&url, true, |url, schema| async move {
        let first = Arc::new(open_in_schema(&url, &schema).await.unwrap());
        let second = Arc::new(open_in_schema(&url, &schema).await.unwrap());
        let owner = first.create_user(new_user("owner")).await.unwrap();
        let create = |name: &str| Command::CreateChannel {
            kind: ChannelKind::Public,
            name: name.into(),
            topic: String::new(),
            creator_id: owner.id,
            member_ids: vec![],
            conversation_key: None,
            read_only: false,
            at: 1,
        };
        let mut writers = Vec::new();
        for (index, store) in [first.clone(), second.clone()].into_iter().enumerate() {
            let commands: Vec<Vec<Command>> = (0..20)
                .map(|n| vec![create(&format!("s{index}-{n}"))])
                .collect();
            writers.push(tokio::spawn(async move {
                for batch in commands {
                    for outcome in store.apply(batch).await.unwrap() {
                        outcome.unwrap();
                    }
                }
            }));
        }
        for writer in writers {
            writer.await.unwrap();
        }
        assert_eq!(second.head_position().await.unwrap(), 40);
        assert_eq!(first.verify_journal().await.unwrap(), Ok(40));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_connections_are_replaced() {
    let Some(url) = database_url() else { return };
    in_fresh_schema(&url, true, |url, schema| async move {
        let application = format!("{schema}_app");
        let separator = if url.contains('?') { '&' } else { '?' };
        let tagged_url = format!("{url}{separator}application_name={application}");
        let store = open_in_schema(&tagged_url, &schema)
            .await
            .unwrap();
        store.create_user(new_user("before")).await.unwrap();

        let admin = admin(&url).await;
        let killed: i64 = admin
            .query_one(
                "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1",
                &[&application],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(killed, 5, "one writer and four readers");

        // Each connection may fail once, as unavailable, and is then
        // reopened: eight reads in a row pass through all four readers.
        let mut consecutive = 0;
        for attempt in 0.. {
            assert!(attempt < 100, "the readers never recovered");
            match store.ping().await {
                Ok(()) => consecutive += 1,
                Err(StoreError::Unavailable(_)) => consecutive = 0,
                Err(other) => panic!("unexpected error after a dropped connection: {other:?}"),
            }
            if consecutive == 8 {
                break;
            }
        }
        for attempt in 0.. {
            assert!(attempt < 10, "the writer never recovered");
            match store.create_user(new_user(&format!("after{attempt}"))).await {
                Ok(_) => break,
                Err(StoreError::Unavailable(_)) => {}
                Err(other) => panic!("unexpected error after a dropped connection: {other:?}"),
            }
        }
        assert!(store.user_by_email("before@example.com").await.unwrap().is_some());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_passes_the_scim_and_directory_conformance() {
    let Some(url) = database_url() else { return };
    in_fresh_schema(&url, true, |url, schema| async move {
        let store = open_in_schema(&url, &schema).await.unwrap();
        conclave_store::conformance_identity::run_scim(Arc::new(store)).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_passes_the_external_conformance() {
    let Some(url) = database_url() else { return };
    in_fresh_schema(&url, true, |url, schema| async move {
        let store = open_in_schema(&url, &schema).await.unwrap();
        conclave_store::conformance_external::run(Arc::new(store)).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_keys_stored_in_hex_survive_migration_7() {
    use conclave_store::conformance_external::{
        legacy_key_hex, legacy_keys_setup, legacy_keys_still_match,
    };
    let Some(url) = database_url() else { return };
    in_fresh_schema(&url, true, |url, schema| async move {
        let channel_id = {
            let store = open_in_schema(&url, &schema).await.unwrap();
            legacy_keys_setup(&store).await
        };
        // Back to schema 6, with keys as the import stored them then.
        let admin = admin(&url).await;
        admin
            .batch_execute(&format!(
                "SET search_path = {schema};
                 DROP TABLE onboarded_users;
                 DROP TABLE user_profiles;
                 DROP TABLE password_resets;
                 ALTER TABLE scim_tokens DROP COLUMN created_by;
                 DROP TABLE incoming_webhooks;
                 DROP TABLE whatsapp_import_digests;
                 DROP INDEX whatsapp_messages_unsent;
                 CREATE TABLE whatsapp_import_keys (
                     channel_id BIGINT NOT NULL,
                     dedupe_key TEXT NOT NULL,
                     message_id BIGINT NOT NULL,
                     kind       TEXT NOT NULL,
                     line       BIGINT NOT NULL,
                     PRIMARY KEY (channel_id, dedupe_key)
                 );
                 DELETE FROM schema_migrations WHERE version >= 7;"
            ))
            .await
            .unwrap();
        for key in [legacy_key_hex(), "not-a-digest".to_string()] {
            admin
                .execute(
                    "INSERT INTO whatsapp_import_keys VALUES ($1, $2, 1000, 'text', 1)",
                    &[&channel_id, &key],
                )
                .await
                .unwrap();
        }

        let store = open_in_schema(&url, &schema).await.unwrap();
        let carried: i64 = admin
            .query_one(
                "SELECT COUNT(*) FROM whatsapp_import_digests WHERE local_time = $1",
                &[&i64::MIN],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(
            carried, 1,
            "the hex digest is carried over; the other is not"
        );
        legacy_keys_still_match(&store, channel_id).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_claims_each_queued_send_for_one_process_only() {
    let Some(url) = database_url() else { return };
    in_fresh_schema(&url, true, |url, schema| async move {
        // Two stores on one schema: two server processes.
        let first = open_in_schema(&url, &schema).await.unwrap();
        let second = open_in_schema(&url, &schema).await.unwrap();
        conclave_store::conformance_external::claims_of_queued_sends(
            Arc::new(first),
            Arc::new(second),
        )
        .await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_passes_the_compliance_conformance_story() {
    let Some(url) = database_url() else { return };
    in_fresh_schema(&url, true, |url, schema| async move {
        let store = open_in_schema(&url, &schema).await.unwrap();
        conclave_store::conformance_compliance::run(Arc::new(store)).await;
    })
    .await;
}

/// Each way of altering stored history that `journal verify` must catch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_journal_verify_detects_altered_messages_versions_and_redactions() {
    use conclave_domain::command::OutcomeValue;
    use conclave_domain::compliance::{DAY_MILLIS, RetentionScope};
    use conclave_store::ComplianceStore;

    let Some(url) = database_url() else { return };
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
            "UPDATE events SET payload = jsonb_set(payload::jsonb, '{messages,1,text}', '\"\"')::text
               WHERE kind = 'messages_imported';
             UPDATE messages SET text = '' WHERE id IN (SELECT message_id FROM whatsapp_import_digests);
             UPDATE message_versions SET text = '' WHERE message_id IN (SELECT message_id FROM whatsapp_import_digests)",
        ),
        (
            "bulk redaction record",
            "DELETE FROM journal_redactions WHERE position IN (SELECT position FROM events WHERE kind = 'messages_imported')",
        ),
    ];
    for (what, tamper) in tampers {
        in_fresh_schema(&url, true, move |url, schema| async move {
            let store = open_in_schema(&url, &schema)
                .await
                .unwrap();
            let owner = store.create_user(new_user("owner")).await.unwrap();
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
            let admin = admin(&url).await;
            // Sealed at rest: no stored text or journal payload holds it.
            let plaintext: i64 = admin
                .query_one(
                    &format!(
                        "SELECT (SELECT COUNT(*) FROM {schema}.messages WHERE text LIKE '%kept%')
                              + (SELECT COUNT(*) FROM {schema}.message_versions WHERE text LIKE '%kept%')
                              + (SELECT COUNT(*) FROM {schema}.events WHERE payload::text LIKE '%kept%')"
                    ),
                    &[],
                )
                .await
                .unwrap()
                .get(0);
            assert_eq!(plaintext, 0, "plaintext stored");
            // Retention and erasure blanked their records in the bulk entry.
            let texts: Vec<String> = admin
                .query(
                    &format!(
                        "SELECT record ->> 'text'
                         FROM {schema}.events, jsonb_array_elements((payload::jsonb) -> 'messages') AS record
                         WHERE kind = 'messages_imported'"
                    ),
                    &[],
                )
                .await
                .unwrap()
                .iter()
                .map(|row| row.get(0))
                .collect();
            assert_eq!(texts.len(), 3);
            assert_eq!(
                texts.iter().filter(|text| !text.is_empty()).count(),
                1,
                "{texts:?}"
            );
            admin
                .batch_execute(&format!("SET search_path = {schema}; {tamper}"))
                .await
                .unwrap();
            assert!(
                store.verify_journal().await.unwrap().is_err(),
                "{what}: tampering went unnoticed"
            );
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_passes_the_authentication_conformance() {
    let Some(url) = database_url() else { return };
    in_fresh_schema(&url, true, |url, schema| async move {
        let store = open_in_schema(&url, &schema).await.unwrap();
        conclave_store::conformance_identity::run_auth(Arc::new(store)).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_passes_the_webhook_conformance() {
    let Some(url) = database_url() else { return };
    in_fresh_schema(&url, true, |url, schema| async move {
        let store = open_in_schema(&url, &schema).await.unwrap();
        conclave_store::conformance_webhooks::run(Arc::new(store)).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_passes_the_account_conformance() {
    let Some(url) = database_url() else { return };
    in_fresh_schema(&url, true, |url, schema| async move {
        let store = open_in_schema(&url, &schema).await.unwrap();
        conclave_store::conformance_accounts::run(Arc::new(store)).await;
    })
    .await;
}
