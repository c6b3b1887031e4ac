//! WebSocket connections as the web client opens them, and a reader loop
//! that keeps an idle or listening connection healthy: it drains every
//! frame (a connection that stops reading is closed by the server as too
//! slow) and answers the server's heartbeat pings.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The heartbeat the server sends, and the answer it expects.
const PING: &str = r#"{"type":"ping"}"#;
const PONG: &str = r#"{"type":"pong"}"#;

/// Opens an authenticated socket and waits for the server's `hello`.
/// Buffers are kept small because the idle scenario opens thousands.
pub async fn connect(url: &str) -> anyhow::Result<Socket> {
    let config = WebSocketConfig::default()
        .read_buffer_size(8 * 1024)
        .write_buffer_size(0)
        .max_write_buffer_size(1024 * 1024);
    let (mut socket, _response) = tokio::time::timeout(
        Duration::from_secs(60),
        tokio_tungstenite::connect_async_with_config(url, Some(config), true),
    )
    .await
    .context("the WebSocket handshake timed out")?
    .context("opening the WebSocket")?;
    let first = tokio::time::timeout(Duration::from_secs(60), socket.next())
        .await
        .context("no hello within 60 s")?;
    match first {
        Some(Ok(Message::Text(text))) if text.as_str().contains(r#""type":"hello""#) => Ok(socket),
        Some(Ok(other)) => bail!("expected hello, got {other:?}"),
        Some(Err(error)) => Err(error).context("reading hello"),
        None => bail!("the server closed the socket before hello"),
    }
}

/// Answers a heartbeat ping; says whether `text` was one.
pub async fn answer_ping(socket: &mut Socket, text: &str) -> anyhow::Result<bool> {
    if text == PING {
        socket
            .send(Message::text(PONG))
            .await
            .context("answering a ping")?;
        return Ok(true);
    }
    Ok(false)
}

/// How a reader loop ended.
#[derive(Debug, Default, Clone)]
pub struct ReadEnd {
    /// The close code, when the server closed the connection.
    pub closed_by_server: Option<u16>,
    /// A transport error, if one ended the loop.
    pub error: Option<String>,
}

impl ReadEnd {
    /// Whether the connection was lost before the scenario stopped it.
    pub fn lost(&self) -> bool {
        self.closed_by_server.is_some() || self.error.is_some()
    }
}

/// Reads until `stop` turns true or the connection ends, counting frames in
/// `frames` and handing every text frame except pings to `on_text`. Closes
/// the socket politely when stopped.
pub async fn read_until_stopped(
    mut socket: Socket,
    mut stop: watch::Receiver<bool>,
    frames: Arc<AtomicU64>,
    mut on_text: impl FnMut(&str),
) -> ReadEnd {
    loop {
        if *stop.borrow() {
            let _ = tokio::time::timeout(Duration::from_secs(5), socket.close(None)).await;
            return ReadEnd::default();
        }
        tokio::select! {
            changed = stop.changed() => {
                if changed.is_err() {
                    return ReadEnd::default();
                }
            }
            incoming = socket.next() => {
                frames.fetch_add(1, Ordering::Relaxed);
                match incoming {
                    Some(Ok(Message::Text(text))) => {
                        match answer_ping(&mut socket, text.as_str()).await {
                            Ok(true) => {}
                            Ok(false) => on_text(text.as_str()),
                            Err(error) => return ReadEnd { closed_by_server: None, error: Some(format!("{error:#}")) },
                        }
                    }
                    Some(Ok(Message::Close(frame))) => {
                        return ReadEnd {
                            closed_by_server: Some(frame.map_or(1005, |frame| u16::from(frame.code))),
                            error: None,
                        };
                    }
                    Some(Ok(_)) => {}
                    Some(Err(error)) => return ReadEnd { closed_by_server: None, error: Some(error.to_string()) },
                    None => return ReadEnd { closed_by_server: Some(1006), error: None },
                }
            }
        }
    }
}

/// Waits until the sockets together receive at most `background` frames
/// per `quiet` interval (heartbeats never stop), or `limit` passed; used to
/// let connection-time bursts (presence) drain before measuring.
pub async fn wait_until_quiet(
    frames: &AtomicU64,
    background: u64,
    quiet: Duration,
    limit: Duration,
) {
    let started = tokio::time::Instant::now();
    let deadline = started + limit;
    let mut last = frames.load(Ordering::Relaxed);
    let mut reported = started;
    loop {
        tokio::time::sleep(quiet).await;
        let now = frames.load(Ordering::Relaxed);
        if now - last <= background {
            return;
        }
        if tokio::time::Instant::now() >= deadline {
            eprintln!(
                "settle: frames still arriving after {} s; going on",
                limit.as_secs()
            );
            return;
        }
        if reported.elapsed() >= Duration::from_secs(10) {
            eprintln!(
                "settle: {now} frames received so far, {:.0} s",
                started.elapsed().as_secs_f64()
            );
            reported = tokio::time::Instant::now();
        }
        last = now;
    }
}

/// Summarises how many connections ended early and why.
pub fn lost_summary(ends: &[ReadEnd]) -> (usize, std::collections::BTreeMap<String, usize>) {
    let mut reasons = std::collections::BTreeMap::new();
    let mut lost = 0;
    for end in ends.iter().filter(|end| end.lost()) {
        lost += 1;
        let reason = match (&end.closed_by_server, &end.error) {
            (Some(code), _) => format!("closed {code}"),
            (None, Some(error)) => error.clone(),
            (None, None) => "unknown".to_string(),
        };
        *reasons.entry(reason).or_insert(0) += 1;
    }
    (lost, reasons)
}
