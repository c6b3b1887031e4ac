//! Scenario `idle`: the cost of an idle connection. Opens K authenticated
//! WebSockets that only answer heartbeats, waits for the connection-time
//! traffic to settle, and compares the server's resident memory (VmRSS in
//! /proc/PID/status) and the kernel's socket memory before and after.
//!
//! Kernel memory is read from /proc/net/sockstat (`TCP: mem`, buffer pages)
//! and /proc/meminfo (`Slab`, where socket, file and epoll structures
//! live). Over loopback both ends of every connection live in the same
//! kernel, so half of each kernel delta is attributed to the server.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use futures_util::{StreamExt, stream};
use serde_json::json;
use tokio::sync::watch;

use crate::ServerArgs;
use crate::api::Api;
use crate::procfs::{self, MemorySnapshot};
use crate::socket;
use crate::stats::round3;
use crate::users;

#[derive(Debug, Args)]
pub struct IdleArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// Idle WebSockets to open.
    #[arg(long, default_value_t = 1000)]
    pub connections: usize,
    /// Distinct users the connections belong to (round-robin); default one
    /// user per connection. Fewer users save setup time (argon2 per user).
    #[arg(long)]
    pub users: Option<usize>,
    /// PID of the server process whose memory is measured.
    #[arg(long)]
    pub server_pid: u32,
    /// WebSocket handshakes in flight while connecting.
    #[arg(long, default_value_t = 64)]
    pub connect_concurrency: usize,
    /// Seconds to hold the connections idle before the second reading.
    #[arg(long, default_value_t = 3)]
    pub hold_secs: u64,
}

pub async fn run(args: IdleArgs) -> anyhow::Result<String> {
    if args.connections == 0 {
        bail!("--connections must be at least 1");
    }
    let api = Api::new(&args.server.url)?;
    let admin = users::admin_session(&api, &args.server).await?;
    let user_count = args
        .users
        .unwrap_or(args.connections)
        .clamp(1, args.connections);
    let people = users::bench_users(&api, &args.server, &admin, user_count).await?;

    // Let the sign-in work finish before the first reading.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = procfs::snapshot(args.server_pid)?;

    let frames = Arc::new(AtomicU64::new(0));
    let (stop_tx, stop_rx) = watch::channel(false);
    let connect_started = Instant::now();
    eprintln!(
        "idle: opening {} sockets for {} users…",
        args.connections,
        people.len()
    );
    let connected: Vec<anyhow::Result<_>> = stream::iter(0..args.connections)
        .map(|index| {
            let url = api.websocket_url(&people[index % people.len()].token);
            let frames = Arc::clone(&frames);
            let stop = stop_rx.clone();
            async move {
                let socket = socket::connect(&url).await?;
                Ok(tokio::spawn(socket::read_until_stopped(
                    socket,
                    stop,
                    frames,
                    |_| {},
                )))
            }
        })
        .buffer_unordered(args.connect_concurrency.max(1))
        .collect()
        .await;
    let connect_seconds = connect_started.elapsed().as_secs_f64();
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
    eprintln!(
        "idle: {} sockets open in {connect_seconds:.1} s; settling…",
        readers.len()
    );
    socket::wait_until_quiet(
        &frames,
        quiet_threshold(readers.len()),
        Duration::from_millis(500),
        Duration::from_secs(120),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(args.hold_secs)).await;
    let after = procfs::snapshot(args.server_pid)?;

    let _ = stop_tx.send(true);
    let mut ends = Vec::with_capacity(readers.len());
    for reader in readers {
        ends.push(reader.await.context("a reader panicked")?);
    }
    let (lost, lost_reasons) = socket::lost_summary(&ends);
    let open = (ends.len() - lost).max(1) as f64;

    let delta = |pick: fn(&MemorySnapshot) -> u64| pick(&after) as f64 - pick(&before) as f64;
    let user_space = delta(|s| s.server_rss_bytes) / open;
    let kernel_buffers = delta(|s| s.tcp_buffer_bytes) / 2.0 / open;
    let kernel_slab = delta(|s| s.slab_bytes) / 2.0 / open;
    let kernel = kernel_buffers + kernel_slab;
    let total = user_space + kernel;
    let client_side = delta(|s| s.client_rss_bytes) / open;
    let sockets_added = delta(|s| s.tcp_sockets_in_use);

    let kib = |bytes: f64| bytes / 1024.0;
    let mut human = format!(
        "idle ({open} idle WebSockets for {users} users):\n  \
         server RSS before {rss_before:.1} MiB, after {rss_after:.1} MiB\n  \
         per connection: user space {user:.2} KiB + kernel {kernel:.2} KiB \
         (slab {slab:.2} KiB, TCP buffers {buffers:.2} KiB; half of loopback's two ends) = {total:.2} KiB\n  \
         TCP sockets in use grew by {sockets_added} (both ends); this tool's own RSS grew {client:.2} KiB per connection\n  \
         connections: {connect_seconds:.1} s to open, {connect_failures} failed, {lost} lost while idle",
        open = open as usize,
        users = people.len(),
        rss_before = before.server_rss_bytes as f64 / 1048576.0,
        rss_after = after.server_rss_bytes as f64 / 1048576.0,
        user = kib(user_space),
        kernel = kib(kernel),
        slab = kib(kernel_slab),
        buffers = kib(kernel_buffers),
        total = kib(total),
        client = kib(client_side),
    );
    if let Some(failure) = &first_connect_failure {
        human.push_str(&format!("\n  first connect failure: {failure}"));
    }
    if !lost_reasons.is_empty() {
        human.push_str(&format!("\n  lost sockets: {lost_reasons:?}"));
    }
    let report = json!({
        "scenario": "idle",
        "connections": args.connections,
        "open": open as usize,
        "users": people.len(),
        "connect_failures": connect_failures,
        "sockets_lost": lost,
        "connect_seconds": round3(connect_seconds),
        "server_rss_before_bytes": before.server_rss_bytes,
        "server_rss_after_bytes": after.server_rss_bytes,
        "per_connection_bytes": {
            "user_space": user_space.round(),
            "kernel": kernel.round(),
            "kernel_slab": kernel_slab.round(),
            "kernel_tcp_buffers": kernel_buffers.round(),
            "total": total.round(),
            "client_user_space": client_side.round(),
        },
        "before": before,
        "after": after,
    });
    Ok(format!("{human}\n{report}"))
}

/// Frames per half second that count as quiet: heartbeat pings (one per
/// connection every 25 s by default) with a wide margin.
fn quiet_threshold(connections: usize) -> u64 {
    (connections as u64 / 10).max(5)
}
