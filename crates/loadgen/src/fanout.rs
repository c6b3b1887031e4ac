//! Scenario `fanout`: delivery to a large channel. M bench users join one
//! public channel and each holds an open WebSocket; the admin then posts K
//! messages over its own socket, paced at `--rate` per second (0: each as
//! soon as the previous one is acknowledged). Every member connection
//! notes when each `message_created` event reaches it. Reports deliveries/s
//! (every delivery, divided by the time from the first send to the last
//! delivery) and, per message, the latency from send to its last recipient.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use futures_util::{SinkExt, StreamExt, stream};
use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::Message;

use crate::ServerArgs;
use crate::api::Api;
use crate::socket::{self, ReadEnd};
use crate::stats::{Latencies, round3};
use crate::users;

#[derive(Debug, Args)]
pub struct FanoutArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// Channel members, each a bench user with one open WebSocket.
    #[arg(long, default_value_t = 500)]
    pub members: usize,
    /// Messages the sender posts.
    #[arg(long, default_value_t = 50)]
    pub messages: usize,
    /// Messages per second; 0 sends each as soon as the previous is acknowledged.
    #[arg(long, default_value_t = 20.0)]
    pub rate: f64,
    /// WebSocket handshakes in flight while connecting the members.
    #[arg(long, default_value_t = 64)]
    pub connect_concurrency: usize,
    /// Seconds to wait for outstanding deliveries after the last send.
    #[arg(long, default_value_t = 30)]
    pub drain_timeout_secs: u64,
}

pub async fn run(args: FanoutArgs) -> anyhow::Result<String> {
    if args.members == 0 || args.messages == 0 || args.rate.is_nan() || args.rate < 0.0 {
        bail!("--members and --messages must be at least 1 and --rate not negative");
    }
    let api = Api::new(&args.server.url)?;
    let admin = users::admin_session(&api, &args.server).await?;
    let members = users::bench_users(&api, &args.server, &admin, args.members).await?;
    let run_id = users::run_id();
    let channel_name = format!("fanout-{run_id}");
    let channel_id = users::public_channel_with(
        &api,
        &admin,
        &channel_name,
        &members,
        args.server.setup_concurrency,
    )
    .await?;

    // Connect every member and start its reader.
    let marker = Arc::<str>::from(format!("fanout-{run_id}#"));
    let frames = Arc::new(AtomicU64::new(0));
    let delivered = Arc::new(AtomicU64::new(0));
    let (stop_tx, stop_rx) = watch::channel(false);
    let connect_started = Instant::now();
    eprintln!("fanout: opening {} member sockets…", members.len());
    let connected: Vec<anyhow::Result<_>> = stream::iter(&members)
        .map(|member| {
            let url = api.websocket_url(&member.token);
            let marker = Arc::clone(&marker);
            let frames = Arc::clone(&frames);
            let delivered = Arc::clone(&delivered);
            let stop = stop_rx.clone();
            let count = args.messages;
            async move {
                let socket = socket::connect(&url).await?;
                Ok(tokio::spawn(member_reader(
                    socket, stop, frames, delivered, marker, count,
                )))
            }
        })
        .buffer_unordered(args.connect_concurrency.max(1))
        .collect()
        .await;
    let mut readers = Vec::with_capacity(connected.len());
    let mut connect_failures = 0usize;
    let mut first_connect_failure = None;
    for outcome in connected {
        match outcome {
            Ok(reader) => readers.push(reader),
            Err(error) => {
                connect_failures += 1;
                first_connect_failure.get_or_insert_with(|| format!("{error:#}"));
            }
        }
    }
    let connect_seconds = connect_started.elapsed().as_secs_f64();
    eprintln!(
        "fanout: {} sockets open in {connect_seconds:.1} s ({connect_failures} failed); waiting for presence traffic to settle…",
        readers.len()
    );
    // Every connection announces presence to everyone connected; let that
    // burst drain so it does not count against the messages.
    let settle_started = Instant::now();
    socket::wait_until_quiet(
        &frames,
        quiet_threshold(readers.len()),
        Duration::from_millis(500),
        Duration::from_secs(180),
    )
    .await;
    let settle_seconds = settle_started.elapsed().as_secs_f64();
    let frames_before_sends = frames.load(Ordering::Relaxed);

    // The sender: the admin's own socket, written by this task and read by
    // a helper that collects acks.
    let sender = socket::connect(&api.websocket_url(&admin.token)).await?;
    let (mut sink, mut source) = sender.split();
    let (ack_tx, mut ack_rx) = mpsc::unbounded_channel::<(usize, Instant, bool)>();
    let (ping_tx, mut ping_rx) = mpsc::unbounded_channel::<()>();
    let ack_prefix = format!("{run_id}-");
    let ack_reader = tokio::spawn(async move {
        while let Some(Ok(incoming)) = source.next().await {
            let Message::Text(text) = incoming else {
                continue;
            };
            let text = text.as_str();
            if text == r#"{"type":"ping"}"# {
                let _ = ping_tx.send(());
                continue;
            }
            let ok = text.contains(r#""type":"ack""#);
            if !ok && !text.contains(r#""type":"nack""#) {
                continue;
            }
            let Ok(reply) = serde_json::from_str::<Value>(text) else {
                continue;
            };
            let index = reply
                .get("client_id")
                .and_then(Value::as_str)
                .and_then(|id| id.strip_prefix(ack_prefix.as_str()))
                .and_then(|index| index.parse::<usize>().ok());
            if let Some(index) = index {
                let _ = ack_tx.send((index, Instant::now(), ok));
            }
        }
    });

    eprintln!(
        "fanout: sending {} messages to {} members at {}…",
        args.messages,
        readers.len(),
        if args.rate > 0.0 {
            format!("{} msg/s", args.rate)
        } else {
            "full speed".to_string()
        }
    );
    let mut sent_at: Vec<Instant> = Vec::with_capacity(args.messages);
    let mut acks: Vec<Option<(Instant, bool)>> = vec![None; args.messages];
    let first_send = Instant::now();
    for index in 0..args.messages {
        if args.rate > 0.0 {
            let due = first_send + Duration::from_secs_f64(index as f64 / args.rate);
            tokio::time::sleep_until(due.into()).await;
        }
        while ping_rx.try_recv().is_ok() {
            sink.send(Message::text(r#"{"type":"pong"}"#))
                .await
                .context("answering a ping")?;
        }
        let frame = json!({
            "type": "send",
            "client_id": format!("{run_id}-{index}"),
            "channel_id": channel_id,
            "text": format!("{marker}{index} fan-out benchmark message"),
        })
        .to_string();
        sent_at.push(Instant::now());
        sink.send(Message::text(frame))
            .await
            .context("sending a message")?;
        if args.rate == 0.0 {
            // Closed loop: the next send waits for this one's ack.
            loop {
                let (acked, at, ok) = tokio::time::timeout(Duration::from_secs(60), ack_rx.recv())
                    .await
                    .context("no ack within 60 s")?
                    .context("the sender socket closed")?;
                if let Some(slot) = acks.get_mut(acked) {
                    *slot = Some((at, ok));
                }
                if acked == index {
                    break;
                }
            }
        }
    }
    let last_send = Instant::now();

    // Wait for every delivery (or the drain timeout).
    let expected = (readers.len() * args.messages) as u64;
    let deadline = last_send + Duration::from_secs(args.drain_timeout_secs);
    while delivered.load(Ordering::Relaxed) < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    // Collect the remaining acks.
    while acks.iter().any(Option::is_none) && Instant::now() < deadline + Duration::from_secs(5) {
        match tokio::time::timeout(Duration::from_millis(200), ack_rx.recv()).await {
            Ok(Some((acked, at, ok))) => {
                if let Some(slot) = acks.get_mut(acked) {
                    *slot = Some((at, ok));
                }
            }
            Ok(None) => break,
            Err(_) => {}
        }
    }
    let _ = stop_tx.send(true);
    let _ = sink.close().await;
    ack_reader.abort();
    let mut receipts = Vec::with_capacity(readers.len());
    let mut ends = Vec::with_capacity(readers.len());
    for reader in readers {
        let (times, end) = reader.await.context("a member reader panicked")?;
        receipts.push(times);
        ends.push(end);
    }
    let frames_during = frames.load(Ordering::Relaxed) - frames_before_sends;

    // Per message: the latency to its last recipient, when all got it.
    let mut to_last = Vec::with_capacity(args.messages);
    let mut per_delivery = Vec::with_capacity(receipts.len() * args.messages);
    let mut incomplete_messages = 0usize;
    let mut last_delivery = first_send;
    let mut deliveries = 0u64;
    for (index, sent) in sent_at.iter().enumerate() {
        let mut latest: Option<Instant> = None;
        let mut complete = true;
        for member in &receipts {
            match member.get(index).copied().flatten() {
                Some(at) => {
                    deliveries += 1;
                    per_delivery.push(at.saturating_duration_since(*sent));
                    latest = Some(latest.map_or(at, |latest| latest.max(at)));
                    last_delivery = last_delivery.max(at);
                }
                None => complete = false,
            }
        }
        match latest {
            Some(latest) if complete => to_last.push(latest.saturating_duration_since(*sent)),
            _ => incomplete_messages += 1,
        }
    }
    let ack_latencies = Latencies::from_samples(
        acks.iter()
            .zip(&sent_at)
            .filter_map(|(ack, sent)| {
                ack.filter(|(_, ok)| *ok)
                    .map(|(at, _)| at.saturating_duration_since(*sent))
            })
            .collect(),
    );
    let nacks = acks
        .iter()
        .filter(|ack| matches!(ack, Some((_, false))))
        .count();
    let elapsed = last_delivery
        .saturating_duration_since(first_send)
        .as_secs_f64();
    let per_second = if elapsed > 0.0 {
        deliveries as f64 / elapsed
    } else {
        0.0
    };
    let offered = if args.rate > 0.0 {
        args.rate * receipts.len() as f64
    } else {
        0.0
    };
    let send_seconds = last_send.duration_since(first_send).as_secs_f64();
    let to_last = Latencies::from_samples(to_last);
    let per_delivery = Latencies::from_samples(per_delivery);
    let (lost, lost_reasons) = socket::lost_summary(&ends);

    let mut human = format!(
        "fanout ({members} members with open sockets, {messages} messages at {rate}):\n  \
         {deliveries} of {expected} deliveries in {elapsed:.3} s (first send to last delivery) = {per_second:.0} deliveries/s\n  \
         send-to-last-recipient: {to_last}\n  \
         send-to-each-recipient: {per_delivery}\n  \
         sender ack: {acks}\n  \
         messages not delivered to every member: {incomplete_messages}; nacks: {nacks}; sockets lost: {lost}\n  \
         setup: {connected} sockets connected in {connect_seconds:.1} s ({connect_failures} failed), presence settled in {settle_seconds:.1} s",
        members = receipts.len(),
        messages = args.messages,
        rate = if args.rate > 0.0 {
            format!("{}/s", args.rate)
        } else {
            "full speed".to_string()
        },
        to_last = to_last.human(),
        per_delivery = per_delivery.human(),
        acks = ack_latencies.human(),
        connected = receipts.len(),
    );
    if let Some(failure) = &first_connect_failure {
        human.push_str(&format!("\n  first connect failure: {failure}"));
    }
    if !lost_reasons.is_empty() {
        human.push_str(&format!("\n  lost sockets: {lost_reasons:?}"));
    }
    let report = json!({
        "scenario": "fanout",
        "members": args.members,
        "connected": receipts.len(),
        "connect_failures": connect_failures,
        "messages": args.messages,
        "rate_per_second": args.rate,
        "offered_deliveries_per_second": offered.round(),
        "send_seconds": round3(send_seconds),
        "deliveries": deliveries,
        "expected_deliveries": expected,
        "elapsed_s": round3(elapsed),
        "deliveries_per_second": per_second.round(),
        "send_to_last_recipient_ms": to_last,
        "send_to_each_recipient_ms": per_delivery,
        "sender_ack_ms": ack_latencies,
        "incomplete_messages": incomplete_messages,
        "nacks": nacks,
        "sockets_lost": lost,
        "lost_reasons": lost_reasons,
        "frames_received_during_sends": frames_during,
        "connect_seconds": round3(connect_seconds),
        "presence_settle_seconds": round3(settle_seconds),
    });
    Ok(format!("{human}\n{report}"))
}

/// One member's connection: notes when each benchmark message arrives.
async fn member_reader(
    socket: socket::Socket,
    stop: watch::Receiver<bool>,
    frames: Arc<AtomicU64>,
    delivered: Arc<AtomicU64>,
    marker: Arc<str>,
    count: usize,
) -> (Vec<Option<Instant>>, ReadEnd) {
    let mut times: Vec<Option<Instant>> = vec![None; count];
    let end = socket::read_until_stopped(socket, stop, frames, |text| {
        let Some(position) = text.find(&*marker) else {
            return;
        };
        if !text.contains("message_created") {
            return;
        }
        let digits: String = text[position + marker.len()..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        if let Ok(index) = digits.parse::<usize>()
            && let Some(slot @ None) = times.get_mut(index)
        {
            *slot = Some(Instant::now());
            delivered.fetch_add(1, Ordering::Relaxed);
        }
    })
    .await;
    (times, end)
}

/// Frames per half second that count as quiet: heartbeat pings (one per
/// connection every 25 s by default) with a wide margin.
fn quiet_threshold(connections: usize) -> u64 {
    (connections as u64 / 10).max(5)
}
