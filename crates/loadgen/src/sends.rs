//! Scenario `sends`: durable message sends. N signed-in users each post M
//! messages to one channel, over the WebSocket `send` frame (the client hot
//! path; the server answers `ack` only once the message is on disk) or over
//! `POST /api/v1/channels/{id}/messages` (answers 201 once durable). Each
//! sender keeps `--in-flight` sends outstanding, so the server sees
//! senders × in-flight concurrent sends. Reports sends/s over the whole run
//! and the send-to-ack latency of every message.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use futures_util::SinkExt;
use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio::sync::Barrier;
use tokio_tungstenite::tungstenite::Message;

use crate::ServerArgs;
use crate::api::{Api, Session};
use crate::socket;
use crate::stats::{Latencies, round3};
use crate::users;

#[derive(Debug, Args)]
pub struct SendsArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// Concurrent senders, each its own signed-in user.
    #[arg(long, default_value_t = 20)]
    pub senders: usize,
    /// Messages each sender posts.
    #[arg(long, default_value_t = 200)]
    pub messages: usize,
    /// WebSocket `send`/`ack` (the client hot path) or REST POST.
    #[arg(long, value_enum, default_value_t = Via::Ws)]
    pub via: Via,
    /// Sends each sender keeps outstanding (one socket or request loop each).
    #[arg(long, default_value_t = 1)]
    pub in_flight: usize,
    /// Give every sender its own channel instead of one shared channel, so
    /// the run measures durable sends without the fan-out of every message
    /// to every sender's socket.
    #[arg(long)]
    pub channel_per_sender: bool,
    /// Length of each message's text, bytes.
    #[arg(long, default_value_t = 100)]
    pub text_bytes: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Via {
    Ws,
    Http,
}

impl Via {
    fn name(self) -> &'static str {
        match self {
            Via::Ws => "ws",
            Via::Http => "http",
        }
    }
}

/// What one lane (one socket or request loop) measured.
struct LaneResult {
    started: Instant,
    finished: Instant,
    latencies: Vec<Duration>,
    failures: usize,
    first_failure: Option<String>,
    events_received: u64,
}

pub async fn run(args: SendsArgs) -> anyhow::Result<String> {
    if args.senders == 0 || args.messages == 0 || args.in_flight == 0 {
        bail!("--senders, --messages and --in-flight must be at least 1");
    }
    let api = Api::new(&args.server.url)?;
    let admin = users::admin_session(&api, &args.server).await?;
    let senders = users::bench_users(&api, &args.server, &admin, args.senders).await?;
    let run_id = users::run_id();

    let channels: Vec<i64> = if args.channel_per_sender {
        let mut channels = Vec::with_capacity(senders.len());
        for (index, sender) in senders.iter().enumerate() {
            let name = format!("sends-{run_id}-{index}");
            channels.push(
                users::public_channel_with(&api, &admin, &name, std::slice::from_ref(sender), 1)
                    .await?,
            );
        }
        channels
    } else {
        let name = format!("sends-{run_id}");
        let channel = users::public_channel_with(
            &api,
            &admin,
            &name,
            &senders,
            args.server.setup_concurrency,
        )
        .await?;
        vec![channel; senders.len()]
    };

    let lanes = args.senders * args.in_flight;
    let barrier = Arc::new(Barrier::new(lanes));
    let text = message_text(args.text_bytes);
    let mut tasks = Vec::with_capacity(lanes);
    for (sender_index, sender) in senders.iter().enumerate() {
        for lane in 0..args.in_flight {
            // Spread the sender's messages over its lanes.
            let count =
                args.messages / args.in_flight + usize::from(lane < args.messages % args.in_flight);
            let plan = LanePlan {
                api: api.clone(),
                session: sender.clone(),
                channel_id: channels[sender_index],
                count,
                client_id_prefix: format!("{run_id}-{sender_index}-{lane}-"),
                text: text.clone(),
                barrier: Arc::clone(&barrier),
            };
            tasks.push(tokio::spawn(match args.via {
                Via::Ws => futures_util::future::Either::Left(ws_lane(plan)),
                Via::Http => futures_util::future::Either::Right(http_lane(plan)),
            }));
        }
    }
    eprintln!(
        "sends: {} senders × {} messages over {} ({} lanes)…",
        args.senders,
        args.messages,
        args.via.name(),
        lanes
    );
    let mut results = Vec::with_capacity(lanes);
    for task in tasks {
        results.push(task.await.context("a sender task panicked")??);
    }

    let started = results
        .iter()
        .map(|r| r.started)
        .min()
        .context("no lanes")?;
    let finished = results
        .iter()
        .map(|r| r.finished)
        .max()
        .context("no lanes")?;
    let elapsed = finished.duration_since(started).as_secs_f64();
    let failures: usize = results.iter().map(|r| r.failures).sum();
    let first_failure = results.iter().find_map(|r| r.first_failure.clone());
    let events_received: u64 = results.iter().map(|r| r.events_received).sum();
    let latencies =
        Latencies::from_samples(results.into_iter().flat_map(|r| r.latencies).collect());
    let acked = latencies.count;
    let per_second = if elapsed > 0.0 {
        acked as f64 / elapsed
    } else {
        0.0
    };

    let mut human = format!(
        "sends ({via}, {senders} senders × {messages} messages, {in_flight} in flight each, {channels}):\n  \
         {acked} acknowledged durable sends in {elapsed:.2} s = {per_second:.0} sends/s\n  \
         ack latency: {latency}\n  failures: {failures}",
        via = args.via.name(),
        senders = args.senders,
        messages = args.messages,
        in_flight = args.in_flight,
        channels = if args.channel_per_sender {
            "one channel per sender"
        } else {
            "one shared channel"
        },
        latency = latencies.human(),
    );
    if let Some(failure) = &first_failure {
        human.push_str(&format!(" (first: {failure})"));
    }
    if args.via == Via::Ws {
        human.push_str(&format!(
            "\n  events received by the senders' sockets meanwhile: {events_received}"
        ));
    }
    let report = json!({
        "scenario": "sends",
        "via": args.via.name(),
        "senders": args.senders,
        "messages_per_sender": args.messages,
        "in_flight_per_sender": args.in_flight,
        "shared_channel": !args.channel_per_sender,
        "text_bytes": args.text_bytes,
        "acknowledged": acked,
        "failures": failures,
        "elapsed_s": round3(elapsed),
        "sends_per_second": per_second.round(),
        "ack_latency_ms": latencies,
        "events_received": events_received,
    });
    Ok(format!("{human}\n{report}"))
}

struct LanePlan {
    api: Api,
    session: Session,
    channel_id: i64,
    count: usize,
    client_id_prefix: String,
    text: String,
    barrier: Arc<Barrier>,
}

async fn ws_lane(plan: LanePlan) -> anyhow::Result<LaneResult> {
    let socket = socket::connect(&plan.api.websocket_url(&plan.session.token)).await;
    // Every lane reaches the barrier, even one that failed to connect, so
    // the others are not left waiting.
    plan.barrier.wait().await;
    let mut socket = socket?;
    let started = Instant::now();
    let mut latencies = Vec::with_capacity(plan.count);
    let mut failures = 0;
    let mut first_failure = None;
    let mut events_received = 0u64;
    for index in 0..plan.count {
        let client_id = format!("{}{index}", plan.client_id_prefix);
        let frame = json!({
            "type": "send",
            "client_id": client_id,
            "channel_id": plan.channel_id,
            "text": plan.text,
        })
        .to_string();
        let sent_at = Instant::now();
        socket
            .send(Message::text(frame))
            .await
            .context("sending a message frame")?;
        // Read until this send's ack or nack; everything else (events of
        // other senders' messages, presence) is drained on the way.
        loop {
            let incoming = tokio::time::timeout(Duration::from_secs(60), socket.next())
                .await
                .context("no ack within 60 s")?;
            let text = match incoming {
                Some(Ok(Message::Text(text))) => text,
                Some(Ok(Message::Close(frame))) => bail!("the server closed the socket: {frame:?}"),
                Some(Ok(_)) => continue,
                Some(Err(error)) => return Err(error).context("reading the socket"),
                None => bail!("the socket ended"),
            };
            let text = text.as_str();
            if socket::answer_ping(&mut socket, text).await? {
                continue;
            }
            let is_ack = text.contains(r#""type":"ack""#);
            if !is_ack && !text.contains(r#""type":"nack""#) {
                events_received += 1;
                continue;
            }
            let reply: Value = serde_json::from_str(text).context("an ack that is not JSON")?;
            if reply.get("client_id").and_then(Value::as_str) != Some(client_id.as_str()) {
                continue;
            }
            if is_ack {
                latencies.push(sent_at.elapsed());
            } else {
                failures += 1;
                if first_failure.is_none() {
                    first_failure = Some(format!(
                        "nack {}: {}",
                        reply
                            .get("code")
                            .and_then(Value::as_str)
                            .unwrap_or_default(),
                        reply
                            .get("message")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                    ));
                }
            }
            break;
        }
    }
    let finished = Instant::now();
    let _ = tokio::time::timeout(Duration::from_secs(5), socket.close(None)).await;
    Ok(LaneResult {
        started,
        finished,
        latencies,
        failures,
        first_failure,
        events_received,
    })
}

async fn http_lane(plan: LanePlan) -> anyhow::Result<LaneResult> {
    plan.barrier.wait().await;
    let started = Instant::now();
    let mut latencies = Vec::with_capacity(plan.count);
    let mut failures = 0;
    let mut first_failure = None;
    for index in 0..plan.count {
        let client_id = format!("{}{index}", plan.client_id_prefix);
        let sent_at = Instant::now();
        match plan
            .api
            .post_message(&plan.session.token, plan.channel_id, &plan.text, &client_id)
            .await
        {
            Ok(()) => latencies.push(sent_at.elapsed()),
            Err(error) => {
                failures += 1;
                if first_failure.is_none() {
                    first_failure = Some(format!("{error:#}"));
                }
            }
        }
    }
    Ok(LaneResult {
        started,
        finished: Instant::now(),
        latencies,
        failures,
        first_failure,
        events_received: 0,
    })
}

/// A message body of exactly `bytes` ASCII bytes.
fn message_text(bytes: usize) -> String {
    let mut text = String::from("benchmark message ");
    while text.len() < bytes {
        text.push_str("lorem ipsum ");
    }
    text.truncate(bytes.saturating_sub(1).max(1));
    text.push('.');
    text
}
