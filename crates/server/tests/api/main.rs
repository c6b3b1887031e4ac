//! End-to-end tests of the server over real HTTP and WebSocket connections.
//! Each test starts its own server on 127.0.0.1:0. The messaging stories run
//! on SQLite, and on PostgreSQL too when CONCLAVE_TEST_DATABASE_URL is set.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use conclave_domain::{Command, Role};
use conclave_server::AppState;
use conclave_server::blobs::LocalBlobStore;
use conclave_server::config::ServerConfig;
use conclave_store::Store;
use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

mod accounts;
mod compliance;
mod connectors;
mod export_fidelity;
mod fuzz_corpus;
mod identity;
mod inbox_attachments;
mod inbox_preview;
mod scim;
mod security_privilege;
mod security_resources;
mod security_scim;
mod security_sockets;
mod webhooks;

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

struct Server {
    address: SocketAddr,
    state: AppState,
    http: reqwest::Client,
    dir: std::path::PathBuf,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    /// The PostgreSQL schema this server's store lives in, dropped with it.
    schema: Option<String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        let _ = std::fs::remove_dir_all(&self.dir);
        if let (Some(schema), Ok(url)) = (
            self.schema.take(),
            std::env::var("CONCLAVE_TEST_DATABASE_URL"),
        ) {
            // Drop cannot await: a thread with its own runtime removes the
            // schema so test runs do not pile up tables in the database.
            let dropped = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .ok()?;
                runtime.block_on(async {
                    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                        .await
                        .ok()?;
                    tokio::spawn(connection);
                    client
                        .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                        .await
                        .ok()
                })
            });
            let _ = dropped.join();
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Backend {
    Sqlite,
    Postgres,
}

/// The backends to run the stories on.
fn backends() -> Vec<Backend> {
    if std::env::var("CONCLAVE_TEST_DATABASE_URL").is_ok() {
        vec![Backend::Sqlite, Backend::Postgres]
    } else {
        eprintln!(
            "SKIPPED on PostgreSQL: CONCLAVE_TEST_DATABASE_URL is not set; these stories run on SQLite only"
        );
        vec![Backend::Sqlite]
    }
}

fn unique(prefix: &str) -> String {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{prefix}_{}_{nanos}_{n}", std::process::id())
}

async fn start(backend: Backend, tweak: impl FnOnce(&mut ServerConfig)) -> Server {
    let dir = std::env::temp_dir().join(unique("conclave_api"));
    std::fs::create_dir_all(&dir).unwrap();
    let schema = matches!(backend, Backend::Postgres).then(|| unique("conclave_api"));
    start_in(backend, dir, schema, tweak).await
}

/// Starts a server on an existing data directory (and PostgreSQL schema).
async fn start_in(
    backend: Backend,
    dir: std::path::PathBuf,
    schema: Option<String>,
    tweak: impl FnOnce(&mut ServerConfig),
) -> Server {
    let store: Arc<dyn Store> = match backend {
        Backend::Sqlite => {
            Arc::new(conclave_store_sqlite::SqliteStore::open(&dir.join("conclave.db")).unwrap())
        }
        Backend::Postgres => {
            let url = std::env::var("CONCLAVE_TEST_DATABASE_URL").unwrap();
            Arc::new(
                conclave_store_postgres::PostgresStore::connect_in_schema(
                    &url,
                    schema.as_deref().unwrap_or_default(),
                    Arc::new(conclave_store::Keyring::open_in_dir(&dir).unwrap()),
                )
                .await
                .unwrap(),
            )
        }
    };
    let mut config = ServerConfig {
        data_dir: dir.clone(),
        ..ServerConfig::default()
    };
    config.limits.logins_per_minute = 1000.0;
    config.limits.messages_burst = 1000.0;
    config.limits.requests_burst = 10_000.0;
    config.websocket.heartbeat_secs = 2;
    // Stories start from an empty workspace; tests/api/accounts.rs turns
    // the default channel back on.
    config.onboarding.default_channel = String::new();
    tweak(&mut config);
    let blobs = Arc::new(LocalBlobStore::new(dir.join("blobs"), store.keyring().clone()).unwrap());
    let state = AppState::new(store, blobs, config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (shutdown, stop) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(conclave_server::run(listener, state.clone(), async move {
        let _ = stop.await;
    }));
    Server {
        address,
        state,
        // The server closes a keep-alive connection idle for its header
        // timeout (10 s); a client that reuses one for longer than that can
        // race the close, so the test client lets idle connections go first,
        // as browsers do.
        http: reqwest::Client::builder()
            .pool_idle_timeout(Duration::from_secs(4))
            .build()
            .unwrap(),
        dir,
        shutdown: Some(shutdown),
        schema,
    }
}

struct Person {
    id: i64,
    token: String,
}

impl Server {
    /// Shuts the server down gracefully, waits until its background
    /// WhatsApp sends have ended, and starts a new one on the same data
    /// directory and database.
    async fn restart(mut self, backend: Backend, tweak: impl FnOnce(&mut ServerConfig)) -> Server {
        let dir = std::mem::take(&mut self.dir);
        let schema = self.schema.take();
        let state = self.state.clone();
        drop(self);
        tokio::time::timeout(Duration::from_secs(20), state.connector.sends.wait())
            .await
            .expect("the old server's sends end at shutdown");
        drop(state);
        start_in(backend, dir, schema, tweak).await
    }

    /// A second server process on this one's data directory and database,
    /// as another node of a deployment; it leaves both to this one to
    /// remove.
    async fn beside(&self, backend: Backend, tweak: impl FnOnce(&mut ServerConfig)) -> Server {
        let mut other = start_in(backend, self.dir.clone(), self.schema.clone(), tweak).await;
        other.dir = std::env::temp_dir().join(unique("conclave_beside"));
        other.schema = None;
        other
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    async fn person(&self, handle: &str, role: Role) -> Person {
        let email = format!("{handle}@example.com");
        let user = conclave_server::routes::users::create_user_in(
            &*self.state.store,
            &email,
            handle,
            role,
            Some("long enough password"),
        )
        .await
        .unwrap();
        let (status, body) = self
            .call(
                "POST",
                "/api/v1/auth/login",
                None,
                Some(json!({"email": email, "password": "long enough password"})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        Person {
            id: user.id,
            token: body["token"].as_str().unwrap().to_string(),
        }
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.http.request(method.parse().unwrap(), self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn ok(&self, method: &str, path: &str, who: &Person, body: Option<Value>) -> Value {
        let (status, value) = self.call(method, path, Some(&who.token), body).await;
        assert!(status.is_success(), "{method} {path}: {status} {value}");
        value
    }

    async fn socket(&self, who: &Person, since: Option<i64>) -> (Socket, Value) {
        let mut url = format!("ws://{}/api/v1/ws?token={}", self.address, who.token);
        if let Some(since) = since {
            url.push_str(&format!("&since={since}"));
        }
        let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        let hello = next_frame(&mut socket).await.expect("hello");
        assert_eq!(hello["type"], "hello");
        (socket, hello)
    }
}

/// The next JSON frame, skipping pings and presence; None on close or after
/// two seconds of silence.
async fn next_frame(socket: &mut Socket) -> Option<Value> {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(2), socket.next())
            .await
            .ok()??
            .ok()?;
        match message {
            WsMessage::Text(text) => {
                let value: Value = serde_json::from_str(text.as_str()).unwrap();
                if value["type"] == "ping"
                    || value["type"] == "presence"
                    || value["type"] == "typing"
                {
                    continue;
                }
                return Some(value);
            }
            WsMessage::Close(_) => return None,
            _ => continue,
        }
    }
}

/// The next event frame of the given kind, skipping others.
async fn next_event(socket: &mut Socket, kind: &str) -> Value {
    loop {
        let frame = next_frame(socket)
            .await
            .unwrap_or_else(|| panic!("socket ended before a {kind} event"));
        if frame["type"] == "event" && frame["event"]["kind"] == kind {
            return frame;
        }
    }
}

/// Every frame until two seconds of silence.
async fn drain(socket: &mut Socket) -> Vec<Value> {
    let mut frames = Vec::new();
    while let Some(frame) = next_frame(socket).await {
        frames.push(frame);
    }
    frames
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_channel_members_chat_and_outsiders_see_nothing() {
    for backend in backends() {
        let server = start(backend, |_| {}).await;
        let alice = server.person("alice", Role::Member).await;
        let bob = server.person("bob", Role::Member).await;
        let carol = server.person("carol", Role::Member).await;

        let channel = server
            .ok(
                "POST",
                "/api/v1/channels",
                &alice,
                Some(json!({"name": "Deal Room", "kind": "private", "member_ids": [bob.id]})),
            )
            .await;
        let channel_id = channel["channel"]["id"].as_i64().unwrap();
        assert_eq!(channel["channel"]["name"], "deal-room");
        let (mut bob_socket, _) = server.socket(&bob, None).await;
        let (mut carol_socket, _) = server.socket(&carol, None).await;
        assert_eq!(
            next_frame(&mut bob_socket).await.unwrap()["type"],
            "caught_up"
        );
        assert_eq!(
            next_frame(&mut carol_socket).await.unwrap()["type"],
            "caught_up"
        );

        let sent = server
            .ok(
                "POST",
                &format!("/api/v1/channels/{channel_id}/messages"),
                &alice,
                Some(json!({"text": "hi @bob, numbers attached"})),
            )
            .await;
        assert_eq!(sent["mentions"], json!([bob.id]));
        let live = next_event(&mut bob_socket, "message_created").await;
        assert_eq!(
            live["event"]["message"]["text"], "hi @bob, numbers attached",
            "{backend:?}"
        );

        let (status, _) = server
            .call(
                "POST",
                &format!("/api/v1/channels/{channel_id}/messages"),
                Some(&bob.token),
                Some(json!({"text": "hello alice"})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);

        // Carol learns nothing: not the channel, not its messages, not live.
        for path in [
            format!("/api/v1/channels/{channel_id}"),
            format!("/api/v1/channels/{channel_id}/messages"),
            format!("/api/v1/messages/{}", sent["id"]),
            format!("/api/v1/channels/{channel_id}/members"),
        ] {
            let (status, body) = server.call("GET", &path, Some(&carol.token), None).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
            assert_eq!(body["code"], "not_found");
        }
        let (status, _) = server
            .call(
                "POST",
                &format!("/api/v1/channels/{channel_id}/messages"),
                Some(&carol.token),
                Some(json!({"text": "let me in"})),
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = server
            .call(
                "POST",
                &format!("/api/v1/channels/{channel_id}/join"),
                Some(&carol.token),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let carol_saw = drain(&mut carol_socket).await;
        assert!(carol_saw.is_empty(), "carol received {carol_saw:?}");
        let sidebar = server.ok("GET", "/api/v1/channels", &carol, None).await;
        assert!(
            sidebar
                .as_array()
                .unwrap()
                .iter()
                .all(|s| s["channel"]["id"] != channel_id)
        );
        let browse = server
            .ok("GET", "/api/v1/channels/browse", &carol, None)
            .await;
        assert!(
            browse
                .as_array()
                .unwrap()
                .iter()
                .all(|s| s["channel"]["id"] != channel_id),
            "private channels are not browsable"
        );

        // Bob's sidebar counts alice's mention until he reads it.
        let bob_sidebar = server
            .ok("GET", &format!("/api/v1/channels/{channel_id}"), &bob, None)
            .await;
        assert_eq!(
            bob_sidebar["mention_count"], 0,
            "bob posted after the mention, which marks it read"
        );
        let history = server
            .ok(
                "GET",
                &format!("/api/v1/channels/{channel_id}/messages"),
                &bob,
                None,
            )
            .await;
        let texts: Vec<&str> = history["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["text"].as_str().unwrap())
            .collect();
        assert_eq!(texts, vec!["hi @bob, numbers attached", "hello alice"]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn threads_edits_and_deletes_reach_each_party_correctly() {
    for backend in backends() {
        let server = start(backend, |_| {}).await;
        let alice = server.person("alice", Role::Member).await;
        let bob = server.person("bob", Role::Member).await;
        let officer = server.person("officer", Role::Compliance).await;
        let dm = server
            .ok(
                "POST",
                "/api/v1/conversations",
                &alice,
                Some(json!({"user_ids": [bob.id]})),
            )
            .await;
        let dm_id = dm["channel"]["id"].as_i64().unwrap();
        assert_eq!(dm["channel"]["kind"], "direct");
        let again = server
            .ok(
                "POST",
                "/api/v1/conversations",
                &bob,
                Some(json!({"user_ids": [alice.id]})),
            )
            .await;
        assert_eq!(
            again["channel"]["id"], dm_id,
            "the same two people share one conversation"
        );

        let (mut bob_socket, _) = server.socket(&bob, None).await;
        next_frame(&mut bob_socket).await;
        let root = server
            .ok(
                "POST",
                &format!("/api/v1/channels/{dm_id}/messages"),
                &alice,
                Some(json!({"text": "Proposal v1"})),
            )
            .await;
        let root_id = root["id"].as_i64().unwrap();
        next_event(&mut bob_socket, "message_created").await;
        let reply = server
            .ok(
                "POST",
                &format!("/api/v1/channels/{dm_id}/messages"),
                &bob,
                Some(json!({"text": "looks good", "thread_id": root_id})),
            )
            .await;
        assert_eq!(reply["thread_id"], root_id);
        let root_now = server
            .ok("GET", &format!("/api/v1/messages/{root_id}"), &bob, None)
            .await;
        assert_eq!(root_now["reply_count"], 1);
        let thread = server
            .ok(
                "GET",
                &format!("/api/v1/channels/{dm_id}/messages?thread={root_id}"),
                &alice,
                None,
            )
            .await;
        assert_eq!(thread["messages"].as_array().unwrap().len(), 2);
        let top = server
            .ok(
                "GET",
                &format!("/api/v1/channels/{dm_id}/messages"),
                &alice,
                None,
            )
            .await;
        assert_eq!(
            top["messages"].as_array().unwrap().len(),
            1,
            "replies stay in their thread"
        );

        // Edit: bob sees the new text live; the old one stays in history.
        let (status, body) = server
            .call(
                "PATCH",
                &format!("/api/v1/messages/{root_id}"),
                Some(&bob.token),
                Some(json!({"text": "hijack"})),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        server
            .ok(
                "PATCH",
                &format!("/api/v1/messages/{root_id}"),
                &alice,
                Some(json!({"text": "Proposal v2"})),
            )
            .await;
        let edited = next_event(&mut bob_socket, "message_edited").await;
        assert_eq!(edited["event"]["message"]["text"], "Proposal v2");
        assert!(edited["event"]["message"]["edited_at"].is_i64());
        let versions = server
            .ok(
                "GET",
                &format!("/api/v1/messages/{root_id}/versions"),
                &alice,
                None,
            )
            .await;
        let texts: Vec<&str> = versions
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["text"].as_str().unwrap())
            .collect();
        assert_eq!(texts, vec!["Proposal v1", "Proposal v2"]);
        let (status, _) = server
            .call(
                "GET",
                &format!("/api/v1/messages/{root_id}/versions"),
                Some(&bob.token),
                None,
            )
            .await;
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "only the author and compliance see prior versions"
        );
        let (status, _) = server
            .call(
                "GET",
                &format!("/api/v1/messages/{root_id}/versions"),
                Some(&officer.token),
                None,
            )
            .await;
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "compliance reads outside one's own conversations say why"
        );
        let (status, _) = server
            .call(
                "GET",
                &format!("/api/v1/messages/{root_id}/versions?reason=case%2042"),
                Some(&officer.token),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK);

        // Delete: bob gets a tombstone, never the text; compliance keeps it.
        let (status, _) = server
            .call(
                "DELETE",
                &format!("/api/v1/messages/{root_id}"),
                Some(&bob.token),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _) = server
            .call(
                "DELETE",
                &format!("/api/v1/messages/{root_id}"),
                Some(&alice.token),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let deleted = next_event(&mut bob_socket, "message_deleted").await;
        assert_eq!(deleted["event"]["message_id"], root_id);
        let tombstone = server
            .ok("GET", &format!("/api/v1/messages/{root_id}"), &bob, None)
            .await;
        assert_eq!(tombstone["text"], "");
        assert!(tombstone["deleted_at"].is_i64());
        let stored = server
            .state
            .store
            .message_by_id(root_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            stored.text, "Proposal v2",
            "deleted text is retained for compliance"
        );
        let versions = server
            .ok(
                "GET",
                &format!("/api/v1/messages/{root_id}/versions?reason=case%2042"),
                &officer,
                None,
            )
            .await;
        assert_eq!(versions.as_array().unwrap().len(), 2);

        // Reactions and pins, live.
        let reply_id = reply["id"].as_i64().unwrap();
        server
            .ok(
                "PUT",
                &format!("/api/v1/messages/{reply_id}/reactions/%F0%9F%91%8D"),
                &alice,
                None,
            )
            .await;
        let reaction = next_event(&mut bob_socket, "reaction_added").await;
        assert_eq!(reaction["event"]["emoji"], "👍");
        server
            .ok(
                "PUT",
                &format!("/api/v1/messages/{reply_id}/pin"),
                &alice,
                None,
            )
            .await;
        next_event(&mut bob_socket, "message_pinned").await;
        let pins = server
            .ok("GET", &format!("/api/v1/channels/{dm_id}/pins"), &bob, None)
            .await;
        assert_eq!(pins[0]["id"], reply_id);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnecting_with_a_position_delivers_exactly_the_missed_events() {
    for backend in backends() {
        let server = start(backend, |_| {}).await;
        let alice = server.person("alice", Role::Member).await;
        let bob = server.person("bob", Role::Member).await;
        let channel = server
            .ok(
                "POST",
                "/api/v1/channels",
                &alice,
                Some(json!({"name": "ops", "kind": "public", "member_ids": [bob.id]})),
            )
            .await;
        let channel_id = channel["channel"]["id"].as_i64().unwrap();
        let post = |text: &'static str| {
            let server = &server;
            let alice = &alice;
            async move {
                server
                    .ok(
                        "POST",
                        &format!("/api/v1/channels/{channel_id}/messages"),
                        alice,
                        Some(json!({"text": text})),
                    )
                    .await
            }
        };

        let (mut socket, _) = server.socket(&bob, None).await;
        next_frame(&mut socket).await;
        post("one").await;
        let first = next_event(&mut socket, "message_created").await;
        let last_seen = first["position"].as_i64().unwrap();
        socket.close(None).await.unwrap();

        // While bob is away.
        let two = post("two").await;
        post("three").await;
        server
            .ok(
                "PUT",
                &format!("/api/v1/messages/{}/reactions/tada", two["id"]),
                &alice,
                None,
            )
            .await;
        server
            .ok(
                "PATCH",
                &format!("/api/v1/messages/{}", two["id"]),
                &alice,
                Some(json!({"text": "two (fixed)"})),
            )
            .await;

        let (mut socket, _) = server.socket(&bob, Some(last_seen)).await;
        // Something new arrives while the backlog is being read.
        post("four").await;
        let frames = drain(&mut socket).await;
        let events: Vec<(i64, String)> = frames
            .iter()
            .filter(|f| f["type"] == "event")
            .map(|f| {
                (
                    f["position"].as_i64().unwrap(),
                    f["event"]["kind"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        let kinds: Vec<&str> = events.iter().map(|(_, k)| k.as_str()).collect();
        assert_eq!(
            kinds,
            vec![
                "message_created",
                "message_created",
                "reaction_added",
                "message_edited",
                "message_created"
            ],
            "{backend:?}: {frames:?}"
        );
        assert!(
            events.windows(2).all(|w| w[0].0 < w[1].0),
            "in order, no repeats: {events:?}"
        );
        assert!(
            events.iter().all(|(p, _)| *p > last_seen),
            "nothing already seen"
        );
        assert!(frames.iter().any(|f| f["type"] == "caught_up"));
        let texts: Vec<&str> = frames
            .iter()
            .filter(|f| f["event"]["kind"] == "message_created")
            .map(|f| f["event"]["message"]["text"].as_str().unwrap())
            .collect();
        assert_eq!(texts, vec!["two", "three", "four"]);

        // Reconnecting from the newest position replays nothing.
        let newest = events.last().unwrap().0;
        let (mut socket, _) = server.socket(&bob, Some(newest)).await;
        let frames = drain(&mut socket).await;
        assert!(frames.iter().all(|f| f["type"] != "event"), "{frames:?}");
    }
}

fn png_bytes() -> Vec<u8> {
    let image =
        image::RgbImage::from_fn(64, 48, |x, y| image::Rgb([x as u8 * 4, y as u8 * 5, 128]));
    let mut bytes = std::io::Cursor::new(Vec::new());
    image.write_to(&mut bytes, image::ImageFormat::Png).unwrap();
    bytes.into_inner()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_are_downloadable_by_members_only() {
    for backend in backends() {
        let server = start(backend, |config| config.limits.max_upload_bytes = 64 * 1024).await;
        let alice = server.person("alice", Role::Member).await;
        let bob = server.person("bob", Role::Member).await;
        let carol = server.person("carol", Role::Member).await;
        assert_eq!(
            server.ok("GET", "/api/v1/me/security", &alice, None).await["max_upload_bytes"],
            64 * 1024,
            "clients learn the upload limit before they send"
        );
        let channel = server
            .ok(
                "POST",
                "/api/v1/channels",
                &alice,
                Some(json!({"name": "design", "kind": "private", "member_ids": [bob.id]})),
            )
            .await;
        let channel_id = channel["channel"]["id"].as_i64().unwrap();
        let png = png_bytes();
        let upload = |who: &Person, bytes: Vec<u8>, name: &str| {
            server
                .http
                .post(server.url(&format!(
                    "/api/v1/files?channel_id={channel_id}&name={name}"
                )))
                .bearer_auth(&who.token)
                .header("content-type", "text/plain")
                .body(bytes)
                .send()
        };
        // The client claims text/plain and a .txt name; the bytes say PNG.
        let response = upload(&alice, png.clone(), "mockup.txt").await.unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        let attachment: Value = response.json().await.unwrap();
        assert_eq!(attachment["content_type"], "image/png");
        assert_eq!(attachment["width"], 64);
        assert_eq!(attachment["has_thumbnail"], true);
        let file_id = attachment["id"].as_i64().unwrap();

        let (status, _) = server
            .call(
                "GET",
                &format!("/api/v1/files/{file_id}"),
                Some(&bob.token),
                None,
            )
            .await;
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "unsent uploads are the uploader's alone"
        );
        let message = server
            .ok(
                "POST",
                &format!("/api/v1/channels/{channel_id}/messages"),
                &alice,
                Some(json!({"text": "", "attachment_ids": [file_id]})),
            )
            .await;
        assert_eq!(message["attachments"][0]["id"], file_id);

        let download = server
            .http
            .get(server.url(&format!("/api/v1/files/{file_id}")))
            .bearer_auth(&bob.token)
            .send()
            .await
            .unwrap();
        assert_eq!(download.status(), StatusCode::OK);
        assert_eq!(download.headers()["content-type"], "image/png");
        assert_eq!(download.headers()["x-content-type-options"], "nosniff");
        assert_eq!(download.bytes().await.unwrap().to_vec(), png);
        let thumbnail = server
            .http
            .get(server.url(&format!("/api/v1/files/{file_id}/thumbnail")))
            .bearer_auth(&bob.token)
            .send()
            .await
            .unwrap();
        assert_eq!(thumbnail.status(), StatusCode::OK);
        assert_eq!(
            &thumbnail.bytes().await.unwrap()[..2],
            &[0xFF, 0xD8],
            "a JPEG"
        );

        for path in [
            format!("/api/v1/files/{file_id}"),
            format!("/api/v1/files/{file_id}/thumbnail"),
        ] {
            let (status, _) = server.call("GET", &path, Some(&carol.token), None).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        }
        let response = upload(&carol, b"sneaky".to_vec(), "x.txt").await.unwrap();
        assert_eq!(
            response.status(),
            StatusCode::NOT_FOUND,
            "outsiders cannot upload into the channel"
        );

        let response = upload(&alice, vec![7u8; 64 * 1024 + 1], "big.bin")
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], "payload_too_large");

        // Once the message is deleted, the file is gone for members too.
        server
            .ok(
                "DELETE",
                &format!("/api/v1/messages/{}", message["id"]),
                &alice,
                None,
            )
            .await;
        let (status, _) = server
            .call(
                "GET",
                &format!("/api/v1/files/{file_id}"),
                Some(&bob.token),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_json_errors_with_stable_codes() {
    let server = start(Backend::Sqlite, |config| {
        config.limits.max_json_bytes = 64 * 1024;
        config.limits.messages_burst = 3.0;
        config.limits.messages_per_second = 0.1;
    })
    .await;
    let alice = server.person("alice", Role::Member).await;
    let channel = server
        .ok(
            "POST",
            "/api/v1/channels",
            &alice,
            Some(json!({"name": "general", "kind": "public"})),
        )
        .await;
    let channel_id = channel["channel"]["id"].as_i64().unwrap();
    let messages = format!("/api/v1/channels/{channel_id}/messages");

    // (method, path, token, body, expected status, expected code)
    type Case<'a> = (
        &'a str,
        String,
        Option<&'a str>,
        Option<String>,
        StatusCode,
        &'a str,
    );
    let cases: Vec<Case> = vec![
        (
            "GET",
            "/api/v1/me".into(),
            None,
            None,
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
        ),
        (
            "GET",
            "/api/v1/me".into(),
            Some("nonsense"),
            None,
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
        ),
        (
            "POST",
            messages.clone(),
            Some(&alice.token),
            Some("{not json".into()),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "POST",
            messages.clone(),
            Some(&alice.token),
            Some(json!({"text": "x".repeat(16 * 1024 + 1)}).to_string()),
            StatusCode::BAD_REQUEST,
            "validation_failed",
        ),
        (
            "POST",
            messages.clone(),
            Some(&alice.token),
            Some(json!({"text": "   "}).to_string()),
            StatusCode::BAD_REQUEST,
            "validation_failed",
        ),
        (
            "POST",
            messages.clone(),
            Some(&alice.token),
            Some(json!({"text": "y".repeat(70 * 1024)}).to_string()),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
        (
            "POST",
            "/api/v1/channels".into(),
            Some(&alice.token),
            Some(json!({"name": "general", "kind": "public"}).to_string()),
            StatusCode::CONFLICT,
            "conflict",
        ),
        (
            "POST",
            "/api/v1/channels".into(),
            Some(&alice.token),
            Some(json!({"name": "!!!", "kind": "public"}).to_string()),
            StatusCode::BAD_REQUEST,
            "validation_failed",
        ),
        (
            "POST",
            "/api/v1/channels".into(),
            Some(&alice.token),
            Some(json!({"name": "x", "kind": "secret"}).to_string()),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "GET",
            "/api/v1/channels/abc".into(),
            Some(&alice.token),
            None,
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "GET",
            "/api/v1/channels/999999".into(),
            Some(&alice.token),
            None,
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            "GET",
            "/api/v1/nowhere".into(),
            Some(&alice.token),
            None,
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            "GET",
            format!("{messages}?before=1&after=2"),
            Some(&alice.token),
            None,
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "GET",
            format!("{messages}?limit=0"),
            Some(&alice.token),
            None,
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "POST",
            "/api/v1/auth/login".into(),
            None,
            Some(json!({"email": "alice@example.com", "password": "wrong password"}).to_string()),
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
        ),
        (
            "POST",
            "/api/v1/auth/login".into(),
            None,
            Some(json!({"email": "nobody@example.com", "password": "wrong password"}).to_string()),
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
        ),
        (
            "POST",
            "/api/v1/users".into(),
            Some(&alice.token),
            Some(
                json!({"email": "x@example.com", "name": "X", "password": "long enough password"})
                    .to_string(),
            ),
            StatusCode::FORBIDDEN,
            "forbidden",
        ),
    ];
    for (method, path, token, body, status, code) in cases {
        let mut request = server
            .http
            .request(method.parse().unwrap(), server.url(&path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), status, "{method} {path}");
        let json: Value = response
            .json()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: not JSON: {e}"));
        assert_eq!(json["code"], code, "{method} {path}: {json}");
        assert!(json["message"].as_str().is_some_and(|m| !m.is_empty()));
    }

    // Posting is rate limited per user, with Retry-After.
    let mut limited = None;
    for n in 0..10 {
        let response = server
            .http
            .post(server.url(&messages))
            .bearer_auth(&alice.token)
            .json(&json!({"text": format!("m{n}")}))
            .send()
            .await
            .unwrap();
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(response);
            break;
        }
    }
    let limited = limited.expect("the burst of 3 is exceeded");
    assert!(limited.headers().contains_key("retry-after"));
    let body: Value = limited.json().await.unwrap();
    assert_eq!(body["code"], "rate_limited");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_sends_are_acknowledged_once_durable_and_idempotent() {
    let server = start(Backend::Sqlite, |_| {}).await;
    let alice = server.person("alice", Role::Member).await;
    let bob = server.person("bob", Role::Member).await;
    let channel = server
        .ok(
            "POST",
            "/api/v1/channels",
            &alice,
            Some(json!({"name": "ws", "kind": "public", "member_ids": [bob.id]})),
        )
        .await;
    let channel_id = channel["channel"]["id"].as_i64().unwrap();
    let (mut socket, _) = server.socket(&alice, None).await;
    next_frame(&mut socket).await;
    let send = json!({"type": "send", "client_id": "c-1", "channel_id": channel_id, "text": "over the socket"}).to_string();
    socket.send(WsMessage::text(send.clone())).await.unwrap();
    let mut ack = None;
    while let Some(frame) = next_frame(&mut socket).await {
        if frame["type"] == "ack" {
            ack = Some(frame);
            break;
        }
    }
    let ack = ack.expect("an ack");
    assert_eq!(ack["client_id"], "c-1");
    let id = ack["message"]["id"].as_i64().unwrap();
    // The acknowledged message is in the store already.
    assert!(
        server
            .state
            .store
            .message_by_id(id)
            .await
            .unwrap()
            .is_some()
    );
    // A resend after a lost ack gets the same message, not a second one.
    socket.send(WsMessage::text(send)).await.unwrap();
    loop {
        let frame = next_frame(&mut socket).await.expect("second ack");
        if frame["type"] == "ack" {
            assert_eq!(frame["message"]["id"], id);
            break;
        }
    }
    let history = server
        .ok(
            "GET",
            &format!("/api/v1/channels/{channel_id}/messages"),
            &bob,
            None,
        )
        .await;
    assert_eq!(history["messages"].as_array().unwrap().len(), 1);

    socket
        .send(WsMessage::text(
            json!({"type": "send", "client_id": "c-2", "channel_id": 424242, "text": "nowhere"})
                .to_string(),
        ))
        .await
        .unwrap();
    loop {
        let frame = next_frame(&mut socket).await.expect("nack");
        if frame["type"] == "nack" {
            assert_eq!(frame["code"], "not_found");
            break;
        }
    }
    socket.send(WsMessage::text("not json")).await.unwrap();
    loop {
        let frame = next_frame(&mut socket).await.expect("error frame");
        if frame["type"] == "error" {
            assert_eq!(frame["code"], "invalid_request");
            break;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deactivation_closes_open_sockets_within_a_second_and_revokes_tokens() {
    let server = start(Backend::Sqlite, |_| {}).await;
    let leaver = server.person("leaver", Role::Member).await;
    let (mut socket, _) = server.socket(&leaver, None).await;
    next_frame(&mut socket).await;
    // Deactivate as the command line does: straight through the store, in
    // another "process", so the server must notice by itself.
    let started = Instant::now();
    server
        .state
        .store
        .apply(vec![Command::DeactivateUser {
            user_id: leaver.id,
            at: conclave_server::now_millis(),
        }])
        .await
        .unwrap();
    let code = loop {
        match tokio::time::timeout(Duration::from_secs(2), socket.next()).await {
            Ok(Some(Ok(WsMessage::Close(Some(frame))))) => break u16::from(frame.code),
            Ok(Some(Ok(_))) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    let elapsed = started.elapsed();
    assert_eq!(code, 4001);
    assert!(elapsed < Duration::from_secs(1), "closed after {elapsed:?}");
    let (status, body) = server
        .call("GET", "/api/v1/me", Some(&leaver.token), None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (status, body) = server
        .call(
            "POST",
            "/api/v1/auth/login",
            None,
            Some(json!({"email": "leaver@example.com", "password": "long enough password"})),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("account_deactivated"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_revokes_the_token_and_its_sockets() {
    let server = start(Backend::Sqlite, |_| {}).await;
    let alice = server.person("alice", Role::Member).await;
    let (mut socket, _) = server.socket(&alice, None).await;
    next_frame(&mut socket).await;
    let sessions = server.ok("GET", "/api/v1/me/sessions", &alice, None).await;
    assert_eq!(sessions.as_array().unwrap().len(), 1);
    assert_eq!(sessions[0]["current"], true);
    let (status, _) = server
        .call("POST", "/api/v1/auth/logout", Some(&alice.token), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(next_frame(&mut socket).await.is_none(), "the socket closes");
    let (status, _) = server
        .call("GET", "/api/v1/me", Some(&alice.token), None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let refused = tokio_tungstenite::connect_async(format!(
        "ws://{}/api/v1/ws?token={}",
        server.address, alice.token
    ))
    .await;
    assert!(refused.is_err(), "a revoked token cannot open a socket");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_openapi_and_web_client_are_served() {
    let server = start(Backend::Sqlite, |_| {}).await;
    let (status, body) = server.call("GET", "/healthz", None, None).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("ok"))
    );
    let (status, _) = server.call("GET", "/readyz", None, None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, doc) = server.call("GET", "/api/v1/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["openapi"], "3.1.0");
    for path in [
        "/api/v1/auth/login",
        "/api/v1/channels/{id}/messages",
        "/api/v1/files",
        "/healthz",
        "/readyz",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} is documented");
    }
    assert!(doc["components"]["schemas"]["MessageDto"].is_object());
    let page = server.http.get(server.url("/")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let deep_link = server
        .http
        .get(server.url("/channels/42"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        deep_link.status(),
        StatusCode::OK,
        "client routes fall back to the app shell"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_actions_are_in_the_audit_log_for_admins_and_compliance_only() {
    let server = start(Backend::Sqlite, |_| {}).await;
    let admin = server.person("admin", Role::Admin).await;
    let officer = server.person("officer", Role::Compliance).await;
    let member = server.person("member", Role::Member).await;
    let (status, _) = server
        .call(
            "POST",
            "/api/v1/auth/login",
            None,
            Some(json!({"email": "member@example.com", "password": "not the password"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let created = server
        .ok("POST", "/api/v1/users", &admin, Some(json!({"email": "new@example.com", "name": "New Person", "password": "long enough password", "role": "guest"})))
        .await;
    assert_eq!(created["role"], "guest");

    let (status, body) = server
        .call("GET", "/api/v1/audit", Some(&member.token), None)
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden"))
    );
    let entries = server
        .ok("GET", "/api/v1/audit?limit=100", &officer, None)
        .await;
    let actions: Vec<&str> = entries
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions[0], "user.create", "newest first: {actions:?}");
    assert!(actions.contains(&"auth.sign_in_failed"));
    assert_eq!(actions.iter().filter(|a| **a == "auth.sign_in").count(), 3);
    let creation = &entries[0];
    assert_eq!(creation["actor_id"], admin.id);
    assert_eq!(creation["after"]["email"], "new@example.com");
    assert_eq!(
        creation["address"], "127.0.0.1",
        "the source address is recorded"
    );
    let failed = entries
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "auth.sign_in_failed")
        .unwrap();
    assert_eq!(failed["target_id"], "member@example.com");

    let filtered = server
        .ok("GET", "/api/v1/audit?action=auth.", &admin, None)
        .await;
    assert!(
        filtered
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["action"].as_str().unwrap().starts_with("auth."))
    );
    let export = server
        .http
        .get(server.url("/api/v1/audit/export"))
        .bearer_auth(&officer.token)
        .send()
        .await
        .unwrap();
    assert_eq!(export.headers()["content-type"], "application/x-ndjson");
    let text = export.text().await.unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert!(lines.len() >= 5);
    let after = server
        .ok("GET", "/api/v1/audit?limit=1", &admin, None)
        .await;
    assert_eq!(
        after[0]["action"], "audit.export",
        "exports are themselves audited"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_closes_sockets_with_going_away() {
    let mut server = start(Backend::Sqlite, |_| {}).await;
    let alice = server.person("alice", Role::Member).await;
    let (mut socket, _) = server.socket(&alice, None).await;
    next_frame(&mut socket).await;
    server.shutdown.take().unwrap().send(()).unwrap();
    let code = loop {
        match tokio::time::timeout(Duration::from_secs(3), socket.next()).await {
            Ok(Some(Ok(WsMessage::Close(Some(frame))))) => break u16::from(frame.code),
            Ok(Some(Ok(_))) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    assert_eq!(code, 1001, "going away");
    // New connections are refused once the server has stopped.
    let refused = tokio::time::timeout(Duration::from_secs(3), async {
        loop {
            if server.http.get(server.url("/readyz")).send().await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(refused.is_ok(), "the listener closes");
}

/// The next presence frame, skipping everything else.
async fn next_presence(socket: &mut Socket) -> Option<Value> {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(2), socket.next())
            .await
            .ok()??
            .ok()?;
        if let WsMessage::Text(text) = message {
            let value: Value = serde_json::from_str(text.as_str()).unwrap();
            if value["type"] == "presence" || value["type"] == "presence_snapshot" {
                return Some(value);
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_reaches_conversation_partners_and_subscribers_only() {
    // Test clients do not answer heartbeats; keep them out of the way.
    let server = start(Backend::Sqlite, |config| {
        config.websocket.heartbeat_secs = 60
    })
    .await;
    let alice = server.person("alice", Role::Member).await;
    let bob = server.person("bob", Role::Member).await;
    let carol = server.person("carol", Role::Member).await;
    let dave = server.person("dave", Role::Member).await;
    server
        .ok(
            "POST",
            "/api/v1/conversations",
            &alice,
            Some(json!({"user_ids": [bob.id]})),
        )
        .await;

    let (mut bob_socket, _) = server.socket(&bob, None).await;
    let (mut carol_socket, _) = server.socket(&carol, None).await;
    let (mut dave_socket, _) = server.socket(&dave, None).await;
    dave_socket
        .send(WsMessage::text(
            json!({"type": "presence_subscribe", "user_ids": [alice.id, bob.id]}).to_string(),
        ))
        .await
        .unwrap();
    let snapshot = next_presence(&mut dave_socket).await.unwrap();
    assert_eq!(snapshot["type"], "presence_snapshot");
    assert_eq!(
        snapshot["online_user_ids"],
        json!([bob.id]),
        "bob is online, alice not yet"
    );

    let (alice_socket, hello) = server.socket(&alice, None).await;
    assert_eq!(
        hello["online_user_ids"],
        json!([bob.id]),
        "alice sees her partner online"
    );
    let seen = next_presence(&mut bob_socket).await.unwrap();
    assert_eq!(
        (seen["user_id"].as_i64(), seen["status"].as_str()),
        (Some(alice.id), Some("online"))
    );
    let watched = next_presence(&mut dave_socket).await.unwrap();
    assert_eq!(watched["user_id"], alice.id, "subscribers hear it too");
    assert!(
        next_presence(&mut carol_socket).await.is_none(),
        "strangers hear nothing"
    );

    drop(alice_socket);
    let gone = next_presence(&mut bob_socket).await.unwrap();
    assert_eq!(
        (gone["user_id"].as_i64(), gone["status"].as_str()),
        (Some(alice.id), Some("offline"))
    );
}
