//! The compliance commands: `export`, `retention set|run`, `hold
//! create|release|list`, `erase` and `journal checkpoint`. Names and flags
//! follow PRODUCT.md. Each talks to the store directly, as the server would,
//! through the same functions in `conclave_server::compliance`, and audits
//! what it changes.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{ArgGroup, Args, Subcommand};
use conclave_domain::compliance::{ErasureOutcome, ExportFilter, NewLegalHold, RetentionScope};
use conclave_server::audit::Change;
use conclave_server::blobs::LocalBlobStore;
use conclave_server::compliance::export::{ExportFormat, ManifestFilters, write_export};
use conclave_server::compliance::{Checkpoint, parse_time};
use conclave_server::config::ServerConfig;
use conclave_store::Store;

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// jsonl (messages.jsonl), eml (messages-0001.zip, … each holding one
    /// .eml file per message), actiance (actiance.xml) or csv (messages.csv).
    #[arg(long)]
    format: String,
    /// The directory to write into (created when missing; must not hold an export).
    #[arg(long)]
    out: PathBuf,
    /// Messages at or after this day (YYYY-MM-DD, UTC) or RFC 3339 time.
    #[arg(long)]
    from: Option<String>,
    /// Messages up to and including this day, or before this RFC 3339 time.
    #[arg(long)]
    to: Option<String>,
    /// Everything this person wrote or received (repeatable).
    #[arg(long = "custodian", value_name = "EMAIL")]
    custodians: Vec<String>,
    /// Only this channel (repeatable).
    #[arg(long = "channel", value_name = "NAME")]
    channels: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum RetentionCommand {
    /// Sets how long messages are kept: globally, for a team or a channel.
    #[command(group(ArgGroup::new("scope").required(true).args(["global", "team", "channel"])))]
    Set {
        #[arg(long)]
        global: bool,
        /// Applies once channels belong to teams.
        #[arg(long, value_name = "NAME")]
        team: Option<String>,
        #[arg(long, value_name = "NAME")]
        channel: Option<String>,
        /// A number of days, or `forever`.
        #[arg(long, value_name = "N|forever")]
        days: String,
    },
    /// Applies retention now.
    Run,
    /// Lists the policies.
    List,
}

#[derive(Debug, Subcommand)]
pub enum HoldCommand {
    /// Places a legal hold on custodians and/or channels.
    #[command(group(ArgGroup::new("subjects").required(true).multiple(true).args(["custodians", "channels"])))]
    Create {
        #[arg(long)]
        name: String,
        #[arg(long = "custodian", value_name = "EMAIL")]
        custodians: Vec<String>,
        #[arg(long = "channel", value_name = "NAME")]
        channels: Vec<String>,
        #[arg(long)]
        from: Option<String>,
        #[arg(long)]
        to: Option<String>,
    },
    /// Releases the hold with this name.
    Release { name: String },
    /// Lists the active holds (all with --all).
    List {
        #[arg(long)]
        all: bool,
    },
}

#[derive(Debug, Args)]
pub struct EraseArgs {
    /// The person to erase.
    #[arg(long, value_name = "EMAIL")]
    user: String,
}

#[derive(Debug, Args)]
pub struct CheckpointArgs {
    /// Check a checkpoint saved earlier (its JSON) against the journal
    /// instead of printing a new one; exits 1 when they disagree.
    #[arg(long, value_name = "FILE")]
    verify: Option<PathBuf>,
}

fn blobs(settings: &ServerConfig, store: &dyn Store) -> anyhow::Result<LocalBlobStore> {
    LocalBlobStore::new(settings.data_dir.join("blobs"), store.keyring().clone())
        .context("opening the blob store")
}

async fn user_id(store: &dyn Store, email: &str) -> anyhow::Result<i64> {
    let email = conclave_domain::validate::normalize_email(email);
    Ok(store
        .user_by_email(&email)
        .await?
        .with_context(|| format!("no user with email {email}"))?
        .id)
}

async fn channel_id(store: &dyn Store, name: &str) -> anyhow::Result<i64> {
    let name = name.trim_start_matches('#');
    Ok(store
        .channel_by_name(name)
        .await?
        .with_context(|| format!("no channel named {name}"))?
        .id)
}

fn optional_time(text: Option<&str>, end_of_day: bool, flag: &str) -> anyhow::Result<Option<i64>> {
    text.map(|text| {
        parse_time(text, end_of_day).map_err(|problem| anyhow::anyhow!("--{flag}: {problem}"))
    })
    .transpose()
}

pub async fn export(
    store: Arc<dyn Store>,
    settings: &ServerConfig,
    args: ExportArgs,
) -> anyhow::Result<ExitCode> {
    let format = ExportFormat::parse(&args.format).with_context(|| {
        format!(
            "unknown format {:?}; use jsonl, eml, actiance or csv",
            args.format
        )
    })?;
    let from = optional_time(args.from.as_deref(), false, "from")?;
    let to = optional_time(args.to.as_deref(), true, "to")?;
    if let (Some(from), Some(to)) = (from, to)
        && from >= to
    {
        bail!("--to must be after --from");
    }
    let mut custodian_ids = Vec::new();
    for email in &args.custodians {
        custodian_ids.push(user_id(&*store, email).await?);
    }
    let mut channel_ids = Vec::new();
    for name in &args.channels {
        channel_ids.push(channel_id(&*store, name).await?);
    }
    let filter = ExportFilter {
        from,
        to,
        custodian_ids,
        channel_ids,
    };
    let filters = ManifestFilters {
        from: args.from,
        to: args.to,
        custodians: args.custodians,
        channels: args.channels,
    };
    let blobs = blobs(settings, &*store)?;
    let started = std::time::Instant::now();
    let manifest = write_export(
        &*store,
        &blobs,
        format,
        &filter,
        filters,
        &args.out,
        &settings.compliance.mail_domain,
        // The deliverable, in a directory the officer chose: as it is.
        None,
    )
    .await
    .map_err(|error| anyhow::anyhow!("{error}"))?;
    let elapsed = started.elapsed();
    crate::audit(
        &*store,
        Change::new("export.create", "export", args.out.display())
            .after(&serde_json::json!({"format": format, "filters": manifest.filters, "counts": manifest.counts})),
    )
    .await?;
    let per_second = manifest.counts.messages as f64 / elapsed.as_secs_f64().max(1e-9);
    println!(
        "{}",
        serde_json::json!({
            "out": args.out,
            "format": format,
            "counts": manifest.counts,
            "elapsed_ms": elapsed.as_millis() as u64,
            "messages_per_second": per_second.round(),
        })
    );
    Ok(ExitCode::SUCCESS)
}

fn parse_days(text: &str) -> anyhow::Result<Option<i64>> {
    if text.eq_ignore_ascii_case("forever") {
        return Ok(None);
    }
    let days: i64 = text
        .parse()
        .with_context(|| format!("--days {text:?} is neither a number of days nor `forever`"))?;
    conclave_domain::compliance::check_retention_days(Some(days))
        .map_err(|problem| anyhow::anyhow!("--days: {problem}"))?;
    Ok(Some(days))
}

pub async fn retention(
    store: Arc<dyn Store>,
    settings: &ServerConfig,
    command: RetentionCommand,
) -> anyhow::Result<ExitCode> {
    match command {
        RetentionCommand::Set {
            global,
            team,
            channel,
            days,
        } => {
            let days = parse_days(&days)?;
            let scope = match (global, team, channel) {
                (true, None, None) => RetentionScope::Global,
                (false, Some(team), None) if !team.trim().is_empty() => {
                    RetentionScope::Team(team.trim().to_string())
                }
                (false, None, Some(channel)) => {
                    RetentionScope::Channel(channel_id(&*store, &channel).await?)
                }
                _ => bail!("give exactly one of --global, --team NAME or --channel NAME"),
            };
            let before = store
                .retention_policies()
                .await?
                .into_iter()
                .find(|policy| policy.scope == scope);
            let policy = store
                .set_retention(scope, days, conclave_server::now_millis())
                .await?;
            let after = serde_json::json!({"scope": policy.scope.key(), "days": policy.days});
            let mut change =
                Change::new("retention.set", "retention_policy", policy.scope.key()).after(&after);
            if let Some(before) = before {
                change = change
                    .before(&serde_json::json!({"scope": before.scope.key(), "days": before.days}));
            }
            crate::audit(&*store, change).await?;
            println!("{after}");
        }
        RetentionCommand::Run => {
            let blobs = blobs(settings, &*store)?;
            let report = conclave_server::compliance::run_retention(
                &*store,
                &blobs,
                conclave_server::now_millis(),
            )
            .await?;
            crate::audit(
                &*store,
                Change::new("retention.run", "retention", "cli").after(&report),
            )
            .await?;
            println!("{}", serde_json::to_string(&report)?);
        }
        RetentionCommand::List => {
            for policy in store.retention_policies().await? {
                println!(
                    "{}",
                    serde_json::json!({"scope": policy.scope.key(), "days": policy.days, "updated_at": policy.updated_at})
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn hold(store: Arc<dyn Store>, command: HoldCommand) -> anyhow::Result<ExitCode> {
    match command {
        HoldCommand::Create {
            name,
            custodians,
            channels,
            from,
            to,
        } => {
            let mut custodian_ids = Vec::new();
            for email in &custodians {
                custodian_ids.push(user_id(&*store, email).await?);
            }
            let mut channel_ids = Vec::new();
            for channel in &channels {
                channel_ids.push(channel_id(&*store, channel).await?);
            }
            let new = NewLegalHold {
                name: name.trim().to_string(),
                custodian_ids,
                channel_ids,
                from: optional_time(from.as_deref(), false, "from")?,
                to: optional_time(to.as_deref(), true, "to")?,
                created_at: conclave_server::now_millis(),
            };
            new.check()
                .map_err(|problem| anyhow::anyhow!("{problem}"))?;
            let hold = store.create_hold(new).await?;
            crate::audit(
                &*store,
                Change::new("hold.create", "legal_hold", hold.id).after(&hold),
            )
            .await?;
            println!("{}", serde_json::to_string(&hold)?);
        }
        HoldCommand::Release { name } => {
            let hold = store
                .hold_by_name(name.trim())
                .await?
                .with_context(|| format!("no hold named {name:?}"))?;
            let released = store
                .release_hold(hold.id, conclave_server::now_millis())
                .await?;
            crate::audit(
                &*store,
                Change::new("hold.release", "legal_hold", hold.id)
                    .before(&hold)
                    .after(&released),
            )
            .await?;
            println!("{}", serde_json::to_string(&released)?);
        }
        HoldCommand::List { all } => {
            for hold in store.holds(all).await? {
                println!("{}", serde_json::to_string(&hold)?);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn erase(
    store: Arc<dyn Store>,
    settings: &ServerConfig,
    args: EraseArgs,
) -> anyhow::Result<ExitCode> {
    let id = user_id(&*store, &args.user).await?;
    let blobs = blobs(settings, &*store)?;
    match conclave_server::compliance::erase_person(
        &*store,
        &blobs,
        id,
        conclave_server::now_millis(),
    )
    .await?
    {
        ErasureOutcome::RefusedByHold { hold } => {
            crate::audit(
                &*store,
                Change::new("erasure.refused", "user", id)
                    .after(&serde_json::json!({"hold": hold})),
            )
            .await?;
            bail!(
                "refused: the legal hold {hold:?} covers {}; release it before erasing",
                args.user
            )
        }
        ErasureOutcome::Erased(report) => {
            crate::audit(
                &*store,
                Change::new("erasure.complete", "user", id).after(&report),
            )
            .await?;
            println!("{}", serde_json::to_string(&report)?);
            Ok(ExitCode::SUCCESS)
        }
    }
}

pub async fn checkpoint(store: Arc<dyn Store>, args: CheckpointArgs) -> anyhow::Result<ExitCode> {
    match args.verify {
        None => {
            let checkpoint = conclave_server::compliance::checkpoint(&*store).await?;
            println!("{}", serde_json::to_string(&checkpoint)?);
            Ok(ExitCode::SUCCESS)
        }
        Some(path) => verify_checkpoint(&*store, &path).await,
    }
}

async fn verify_checkpoint(store: &dyn Store, path: &Path) -> anyhow::Result<ExitCode> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let checkpoint: Checkpoint = serde_json::from_str(text.trim())
        .with_context(|| format!("{} is not a checkpoint", path.display()))?;
    match store.journal_hash_at(checkpoint.position).await? {
        Some(hash) if hash == checkpoint.hash => {
            println!(
                "checkpoint matches: event {} has hash {hash}",
                checkpoint.position
            );
            Ok(ExitCode::SUCCESS)
        }
        Some(hash) => {
            println!(
                "checkpoint does not match: event {} has hash {hash}, the checkpoint says {}",
                checkpoint.position, checkpoint.hash
            );
            Ok(ExitCode::from(1))
        }
        None => {
            println!(
                "checkpoint does not match: the journal has no event {}",
                checkpoint.position
            );
            Ok(ExitCode::from(1))
        }
    }
}
