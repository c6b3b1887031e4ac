//! `conclave-loadgen`: the benchmark load tool. Each subcommand is one
//! scenario that drives an already running Conclave server over real
//! loopback sockets (REST and WebSocket, exactly as a client would), stops
//! by itself after a bounded amount of work, and prints its results twice:
//! as human-readable lines and as one JSON line (starting with `{`) that
//! documentation can be regenerated from.
//!
//! It must not reach into the server's crates: everything it knows about
//! Conclave comes from the public API in `docs/api.md`.

mod api;
mod fanout;
mod idle;
mod procfs;
mod sends;
mod socket;
mod stats;
mod users;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "conclave-loadgen",
    about = "Benchmark scenarios against a running Conclave server"
)]
struct Cli {
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Debug, Subcommand)]
enum Scenario {
    /// Concurrent senders post to one channel; reports sends/s and ack latency.
    Sends(sends::SendsArgs),
    /// One sender posts to a large channel whose members all hold open
    /// WebSockets; reports deliveries/s and send-to-last-recipient latency.
    Fanout(fanout::FanoutArgs),
    /// Opens idle authenticated WebSockets; reports memory per connection.
    Idle(idle::IdleArgs),
}

/// Where the server is and how the tool signs in; shared by every scenario.
#[derive(Debug, Clone, Args)]
pub struct ServerArgs {
    /// Base URL of the running server (loopback).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// An owner or admin account that creates the bench users and channels.
    #[arg(long, env = "CONCLAVE_BENCH_ADMIN_EMAIL")]
    pub admin_email: String,
    #[arg(long, env = "CONCLAVE_BENCH_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: String,
    /// Password given to every bench user the tool creates (10+ characters).
    #[arg(long, env = "CONCLAVE_BENCH_PASSWORD", hide_env_values = true)]
    pub password: String,
    /// Bench users are `PREFIX-N@bench.example.com`.
    #[arg(long, default_value = "bench")]
    pub users_prefix: String,
    /// Concurrent requests while creating users and signing them in. Each
    /// costs the server an argon2 hash (19 MiB); more than a few at once
    /// only grows the server's memory, not the rate.
    #[arg(long, default_value_t = 4)]
    pub setup_concurrency: usize,
    /// A file of signed-in sessions kept between runs, so each bench user
    /// signs in once per server rather than once per scenario.
    #[arg(long)]
    pub session_cache: Option<std::path::PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let report = match cli.scenario {
        Scenario::Sends(args) => sends::run(args).await?,
        Scenario::Fanout(args) => fanout::run(args).await?,
        Scenario::Idle(args) => idle::run(args).await?,
    };
    println!("{report}");
    Ok(())
}
