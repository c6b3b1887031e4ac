//! The `conclave` binary as an operator uses it: a child process, the
//! command-line contract, and a crash under load.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod accounts;
mod compliance;
mod identity;
mod whatsapp;

const BINARY: &str = env!("CARGO_BIN_EXE_conclave");

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("conclave-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn conclave(data_dir: &Path) -> Command {
    let mut command = Command::new(BINARY);
    command
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("CONCLAVE_DATABASE_URL")
        .env("CONCLAVE_LOG", "warn");
    command
}

fn create_user(data_dir: &Path, email: &str, role: &str) -> Value {
    let mut child = conclave(data_dir)
        .args([
            "user",
            "create",
            "--email",
            email,
            "--name",
            "Test Person",
            "--role",
            role,
            "--password-stdin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"long enough password\n")
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

struct Running {
    child: Child,
    base: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(data_dir: &Path, port: u16) -> Running {
    let child = conclave(data_dir)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("CONCLAVE_LIMITS__MESSAGES_PER_SECOND", "100000")
        .env("CONCLAVE_LIMITS__MESSAGES_BURST", "100000")
        .env("CONCLAVE_LIMITS__REQUESTS_PER_SECOND", "100000")
        .env("CONCLAVE_LIMITS__REQUESTS_BURST", "100000")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if reqwest::blocking_get_status(&format!("{base}/readyz")).is_ok_and(|status| status == 200)
        {
            break;
        }
        assert!(Instant::now() < deadline, "the server did not become ready");
        std::thread::sleep(Duration::from_millis(50));
    }
    Running { child, base }
}

/// A tiny blocking readiness probe without a second HTTP client.
mod reqwest {
    pub use ::reqwest::*;

    pub fn blocking_get_status(url: &str) -> std::io::Result<u16> {
        use std::io::{Read, Write};
        let rest = url.trim_start_matches("http://");
        let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
        let mut stream = std::net::TcpStream::connect(host)?;
        stream.set_read_timeout(Some(std::time::Duration::from_secs(2)))?;
        write!(
            stream,
            "GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        )?;
        let mut response = String::new();
        stream.read_to_string(&mut response)?;
        response
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse().ok())
            .ok_or_else(|| std::io::Error::other("no status"))
    }
}

async fn login(client: &reqwest::Client, base: &str, email: &str) -> String {
    let response: Value = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"email": email, "password": "long enough password"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    response["token"]
        .as_str()
        .unwrap_or_else(|| panic!("login failed: {response}"))
        .to_string()
}

/// Runs the binary with `args` and answers whether it succeeded, with its
/// standard output and standard error as text.
fn run(dir: &Path, args: &[&str]) -> (bool, String, String) {
    let output = conclave(dir).args(args).output().unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Creates a public channel named `name` as the holder of `token` and
/// answers its id.
async fn create_channel(client: &reqwest::Client, base: &str, token: &str, name: &str) -> i64 {
    let created: Value = client
        .post(format!("{base}/api/v1/channels"))
        .bearer_auth(token)
        .json(&json!({"name": name, "kind": "public"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    created["channel"]["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("channel not created: {created}"))
}

/// Posts `text` to a channel and asserts that the server accepted it.
async fn post_message(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    channel_id: i64,
    text: &str,
) {
    let status = client
        .post(format!("{base}/api/v1/channels/{channel_id}/messages"))
        .bearer_auth(token)
        .json(&json!({"text": text}))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 201);
}

/// Fetches `url` as the holder of `token` and answers the JSON body.
async fn get_json(client: &reqwest::Client, url: &str, token: &str) -> Value {
    client
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Starts a server on `dir`, signs in as `email`, creates the public channel
/// `channel` and posts each of `texts` there, then stops the server and
/// answers the channel's id.
fn post_through_server(dir: &Path, email: &str, channel: &str, texts: &[&str]) -> i64 {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = serve(dir, free_port());
    runtime.block_on(async {
        let client = reqwest::Client::new();
        let token = login(&client, &server.base, email).await;
        let channel_id = create_channel(&client, &server.base, &token, channel).await;
        for text in texts {
            post_message(&client, &server.base, &token, channel_id, text).await;
        }
        channel_id
    })
}

#[test]
fn serve_without_flags_creates_the_data_dir_and_says_how_to_add_the_owner() {
    let cwd = temp_dir("noflags");
    let port = free_port();
    let mut child = Command::new(BINARY)
        .arg("serve")
        .current_dir(&cwd)
        .env_remove("CONCLAVE_DATA_DIR")
        .env_remove("CONCLAVE_DATABASE_URL")
        .env("CONCLAVE_LISTEN", format!("127.0.0.1:{port}"))
        .env("CONCLAVE_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let elapsed = started.elapsed();
    assert_eq!(
        first,
        format!("Conclave is running at http://127.0.0.1:{port}/")
    );
    let rest: Vec<String> = lines.by_ref().take(2).map(Result::unwrap).collect();
    assert!(
        rest[1].contains("conclave user create") && rest[1].contains("--role owner"),
        "{rest:?}"
    );
    assert!(cwd.join("conclave-data").join("conclave.db").is_file());
    // Start-up is measured by the benchmarks; this only catches a hang.
    assert!(elapsed < Duration::from_secs(10), "took {elapsed:?}");
    // SIGTERM shuts down gracefully.
    Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "graceful shutdown exits 0: {status:?}");
    std::fs::remove_dir_all(cwd).unwrap();
}

#[test]
fn user_commands_follow_the_contract() {
    let dir = temp_dir("users");
    let created = create_user(&dir, "Owner@Example.com", "owner");
    assert_eq!(created["email"], "owner@example.com");
    assert_eq!(created["role"], "owner");

    let (ok, _, stderr) = run(
        &dir,
        &[
            "user",
            "create",
            "--email",
            "owner@example.com",
            "--name",
            "Again",
        ],
    );
    assert!(!ok);
    assert!(stderr.contains("already exists"));
    let (ok, _, stderr) = run(
        &dir,
        &[
            "user",
            "create",
            "--email",
            "x@example.com",
            "--name",
            "X",
            "--role",
            "king",
        ],
    );
    assert!(!ok);
    assert!(stderr.contains("unknown role"));
    let mut weak = conclave(&dir)
        .args([
            "user",
            "create",
            "--email",
            "weak@example.com",
            "--name",
            "Weak",
            "--password-stdin",
        ])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    weak.stdin.take().unwrap().write_all(b"short\n").unwrap();
    let weak = weak.wait_with_output().unwrap();
    assert!(!weak.status.success());
    assert!(String::from_utf8_lossy(&weak.stderr).contains("password"));

    let (ok, _, _) = run(&dir, &["user", "deactivate", "nobody@example.com"]);
    assert!(!ok);
    // The only owner cannot be deactivated: nobody could administer the
    // workspace afterwards.
    let (ok, _, stderr) = run(&dir, &["user", "deactivate", "owner@example.com"]);
    assert!(!ok);
    assert!(stderr.contains("last active owner"));
    let (ok, _, _) = run(&dir, &["user", "role", "owner@example.com", "admin"]);
    assert!(!ok, "nor demoted");
    create_user(&dir, "member@example.com", "member");
    let (ok, stdout, _) = run(&dir, &["user", "deactivate", "member@example.com"]);
    assert!(ok);
    assert!(stdout.contains("deactivated"));
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deactivating_from_the_command_line_cuts_off_a_running_server_session() {
    let dir = temp_dir("deactivate");
    create_user(&dir, "leaver@example.com", "member");
    let server = serve(&dir, free_port());
    let client = reqwest::Client::new();
    let token = login(&client, &server.base, "leaver@example.com").await;
    let ws_url = format!(
        "{}/api/v1/ws?token={token}",
        server.base.replace("http://", "ws://")
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(ws_url).await.unwrap();
    let started = Instant::now();
    let output = conclave(&dir)
        .args(["user", "deactivate", "leaver@example.com"])
        .output()
        .unwrap();
    assert!(output.status.success());
    use futures_util::StreamExt;
    let closed = loop {
        match tokio::time::timeout(Duration::from_secs(3), socket.next()).await {
            Ok(Some(Ok(tokio_tungstenite::tungstenite::Message::Close(Some(frame))))) => {
                break u16::from(frame.code);
            }
            Ok(Some(Ok(_))) => continue,
            other => panic!("expected a close, got {other:?}"),
        }
    };
    assert_eq!(closed, 4001);
    // The command itself is a separate process start; the server notices
    // the change by polling every 200 ms.
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let status = client
        .get(format!("{}/api/v1/me", server.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 401);
    drop(server);
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_under_load_loses_no_acknowledged_message() {
    let dir = temp_dir("crash");
    create_user(&dir, "writer@example.com", "member");
    let port = free_port();
    let mut server = serve(&dir, port);
    let client = reqwest::Client::new();
    let token = login(&client, &server.base, "writer@example.com").await;
    let channel_id = create_channel(&client, &server.base, &token, "crash-test").await;

    let acknowledged: Arc<Mutex<Vec<(i64, String)>>> = Arc::default();
    let mut senders = Vec::new();
    for sender in 0..16 {
        let client = client.clone();
        let url = format!("{}/api/v1/channels/{channel_id}/messages", server.base);
        let token = token.clone();
        let acknowledged = Arc::clone(&acknowledged);
        senders.push(tokio::spawn(async move {
            for n in 0..100_000 {
                let text = format!("sender {sender} message {n}");
                let response = client
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&json!({"text": text}))
                    .send()
                    .await;
                match response {
                    Ok(response) if response.status() == 201 => {
                        let body: Value = match response.json().await {
                            Ok(body) => body,
                            Err(_) => return,
                        };
                        acknowledged
                            .lock()
                            .unwrap()
                            .push((body["id"].as_i64().unwrap(), text));
                    }
                    _ => return,
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // SIGKILL: no shutdown, no flush; only what was fsync'd survives.
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    for sender in senders {
        sender.await.unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() > 50,
        "the load ran: {} acknowledged",
        acknowledged.len()
    );

    let server = serve(&dir, port);
    let token = login(&client, &server.base, "writer@example.com").await;
    let mut stored = std::collections::HashMap::new();
    let mut before: Option<i64> = None;
    loop {
        let mut url = format!(
            "{}/api/v1/channels/{channel_id}/messages?limit=200",
            server.base
        );
        if let Some(id) = before {
            url.push_str(&format!("&before={id}"));
        }
        let page = get_json(&client, &url, &token).await;
        let messages = page["messages"].as_array().unwrap();
        for message in messages {
            stored.insert(
                message["id"].as_i64().unwrap(),
                message["text"].as_str().unwrap().to_string(),
            );
        }
        if !page["has_more_before"].as_bool().unwrap() || messages.is_empty() {
            break;
        }
        before = messages.first().and_then(|m| m["id"].as_i64());
    }
    for (id, text) in &acknowledged {
        assert_eq!(
            stored.get(id),
            Some(text),
            "acknowledged message {id} was lost"
        );
    }
    let (ok, stdout, _) = run(&dir, &["journal", "verify"]);
    assert!(ok, "{stdout}");
    drop(server);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn journal_verify_names_the_first_tampered_event() {
    let dir = temp_dir("journal");
    create_user(&dir, "a@example.com", "member");
    // Make some events through the real server path.
    post_through_server(
        &dir,
        "a@example.com",
        "ledger",
        &["first", "second", "third"],
    );
    let (ok, stdout, _) = run(&dir, &["journal", "verify"]);
    assert!(ok);
    // The member's first sign-in created and joined #general (one event),
    // then #ledger and its three messages.
    assert!(stdout.contains("5 events verified"), "{stdout}");

    let db = rusqlite::Connection::open(dir.join("conclave.db")).unwrap();
    db.execute(
        "UPDATE events SET payload = replace(payload, 'enc1:', 'enc1:A') WHERE position = 3",
        [],
    )
    .unwrap();
    drop(db);
    let verify = conclave(&dir).args(["journal", "verify"]).output().unwrap();
    assert_eq!(verify.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&verify.stdout).contains("broken at event 3"),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
    std::fs::remove_dir_all(dir).unwrap();
}
