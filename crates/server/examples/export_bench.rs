//! Measures eDiscovery export throughput (messages per second) for each
//! format on an embedded SQLite archive seeded with edits, threads and
//! deletions. Not a test: run it with
//! `cargo run --release -p conclave-server --example export_bench [MESSAGES] [FORMAT…]`
//! (every format when none is named).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Instant;

use conclave_domain::command::OutcomeValue;
use conclave_domain::compliance::ExportFilter;
use conclave_domain::{ChannelKind, Command, NewUser, Role};
use conclave_server::blobs::LocalBlobStore;
use conclave_server::compliance::export::{ExportFormat, ManifestFilters, write_export};
use conclave_store::Store;

#[tokio::main]
async fn main() {
    let total: i64 = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(200_000);
    let mut formats: Vec<ExportFormat> = std::env::args()
        .skip(2)
        .map(|name| ExportFormat::parse(&name).expect("jsonl, eml, actiance or csv"))
        .collect();
    if formats.is_empty() {
        formats = vec![
            ExportFormat::Jsonl,
            ExportFormat::Csv,
            ExportFormat::Actiance,
            ExportFormat::Eml,
        ];
    }
    let dir = std::env::temp_dir().join(format!("conclave-export-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let store: Arc<dyn Store> =
        Arc::new(conclave_store_sqlite::SqliteStore::open(&dir.join("conclave.db")).unwrap());
    let blobs = LocalBlobStore::new(dir.join("blobs"), store.keyring().clone()).unwrap();
    let mut people = Vec::new();
    for index in 0..20 {
        let user = store
            .create_user(NewUser {
                email: format!("person{index}@example.com"),
                handle: format!("person{index}"),
                name: format!("Person {index}"),
                role: Role::Member,
                password_hash: None,
                created_at: 1,
            })
            .await
            .unwrap();
        people.push(user.id);
    }
    let mut channels = Vec::new();
    for index in 0..10 {
        let outcome = store
            .apply(vec![Command::CreateChannel {
                kind: ChannelKind::Public,
                name: format!("room-{index}"),
                topic: String::new(),
                creator_id: people[0],
                member_ids: people.clone(),
                conversation_key: None,
                read_only: false,
                at: 1,
            }])
            .await
            .unwrap()
            .pop()
            .unwrap()
            .unwrap();
        let OutcomeValue::Channel(channel) = outcome.result else {
            panic!()
        };
        channels.push(channel.id);
    }
    let seeding = Instant::now();
    let mut written = 0i64;
    while written < total {
        let batch: Vec<Command> = (0..1000.min(total - written))
            .map(|offset| {
                let n = written + offset;
                Command::PostMessage {
                    channel_id: channels[(n % 10) as usize],
                    author_id: people[(n % 20) as usize],
                    thread_id: None,
                    text: format!("Message {n}: the quarterly numbers look fine, see the attached plan & notes <ok>"),
                    mentions: vec![],
                    attachment_ids: vec![],
                    client_id: None,
                    at: 1_700_000_000_000 + n * 1000,
                }
            })
            .collect();
        let outcomes = store.apply(batch).await.unwrap();
        // Every tenth message is edited, every fiftieth deleted.
        let mut follow_up = Vec::new();
        for outcome in outcomes {
            let OutcomeValue::Message(message) = outcome.unwrap().result else {
                panic!()
            };
            if message.id % 10 == 0 {
                follow_up.push(Command::EditMessage {
                    message_id: message.id,
                    editor_id: message.author_id,
                    text: format!("{} (edited)", message.text),
                    mentions: vec![],
                    at: message.created_at + 500,
                });
            }
            if message.id % 50 == 0 {
                follow_up.push(Command::DeleteMessage {
                    message_id: message.id,
                    actor_id: message.author_id,
                    at: message.created_at + 900,
                });
            }
        }
        store.apply(follow_up).await.unwrap();
        written += 1000;
    }
    println!(
        "seeded {total} messages in {:.1} s",
        seeding.elapsed().as_secs_f64()
    );
    for format in formats {
        let out = dir.join(format!("export-{}", format.as_str()));
        let started = Instant::now();
        let cpu_before = cpu_seconds();
        let manifest = write_export(
            &*store,
            &blobs,
            format,
            &ExportFilter::default(),
            ManifestFilters::default(),
            &out,
            "conclave.invalid",
            None,
        )
        .await
        .unwrap();
        let seconds = started.elapsed().as_secs_f64();
        let cpu = cpu_seconds() - cpu_before;
        let bytes: u64 = manifest.files.iter().map(|file| file.bytes).sum();
        println!(
            "{:>8}: {} messages in {:.2} s = {:.0} messages/s ({} files, {:.0} MB; {:.2} s CPU, user + system, all threads)",
            format.as_str(),
            manifest.counts.messages,
            seconds,
            manifest.counts.messages as f64 / seconds,
            manifest.counts.files,
            bytes as f64 / 1e6,
            cpu
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// User plus system CPU time of the whole process so far, from
/// `/proc/self/stat` (Linux; 0 elsewhere), so a busy machine's figures can
/// be told apart from a slow export.
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields overall, in clock ticks of 1/100 s.
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |index: usize| {
        fields
            .get(index)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}
