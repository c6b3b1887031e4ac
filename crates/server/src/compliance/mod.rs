//! The compliance archive at the edge: retention runs (on demand and on a
//! schedule) with blob removal, erasure, journal checkpoints, and the
//! eDiscovery export (`export`). Shared by the REST routes and the CLI so
//! both do exactly the same thing.
//!
//! This module never writes SQL; the store does the removal and the
//! journalling, this module removes the bytes the store says nothing refers
//! to any more.

mod archive;
pub mod export;
pub mod installation;
pub mod live;

use std::path::{Path, PathBuf};
use std::time::Duration;

use conclave_domain::Millis;
use conclave_domain::compliance::{ErasureOutcome, PurgeReport};
use conclave_domain::{UserId, compliance::ErasureReport};
use conclave_store::{Store, StoreResult};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::audit::{Actor, Change};
use crate::blobs::BlobStore;
use crate::state::AppState;

/// `[compliance]` in conclave.toml.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ComplianceConfig {
    /// How often the server applies retention, minutes; 0 turns the
    /// schedule off (`conclave retention run` still works).
    pub retention_interval_minutes: u64,
    /// The domain used in exported e-mail addresses of channels and in
    /// Message-IDs.
    pub mail_domain: String,
}

impl Default for ComplianceConfig {
    fn default() -> Self {
        ComplianceConfig {
            retention_interval_minutes: 60,
            mail_domain: "conclave.invalid".into(),
        }
    }
}

/// Where API exports are written: `DATA_DIR/exports`.
pub fn exports_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("exports")
}

/// Where the scheduled run appends journal checkpoints, one JSON per line.
pub fn checkpoints_file(data_dir: &Path) -> PathBuf {
    data_dir.join("journal-checkpoints.jsonl")
}

/// Parses a date for a filter: `YYYY-MM-DD` (UTC midnight; with
/// `end_of_day`, the following midnight, so `--to 2024-03-31` includes the
/// 31st) or an RFC 3339 time. Answers milliseconds since the epoch.
pub fn parse_time(text: &str, end_of_day: bool) -> Result<Millis, String> {
    let text = text.trim();
    let invalid = || {
        format!("{text:?} is not a date (YYYY-MM-DD) or an RFC 3339 time (2024-03-31T12:00:00Z)")
    };
    if let Ok(time) = OffsetDateTime::parse(text, &Rfc3339) {
        return Ok(millis_of(time));
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let date = time::Date::parse(text, &format).map_err(|_| invalid())?;
    let date = if end_of_day {
        date.next_day().ok_or_else(invalid)?
    } else {
        date
    };
    Ok(millis_of(date.midnight().assume_utc()))
}

fn millis_of(time: OffsetDateTime) -> Millis {
    i64::try_from(time.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// An RFC 3339 UTC time for `millis`, always with milliseconds
/// (`2024-03-31T12:00:00.000Z`). Written by hand: exports format several
/// times per message.
pub fn rfc3339(millis: Millis) -> String {
    match OffsetDateTime::from_unix_timestamp(millis.div_euclid(1000)) {
        Ok(time) => format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            time.year(),
            u8::from(time.month()),
            time.day(),
            time.hour(),
            time.minute(),
            time.second(),
            millis.rem_euclid(1000)
        ),
        Err(_) => millis.to_string(),
    }
}

/// Applies retention at `now` and removes the bytes of attachments nothing
/// refers to any more. The store journals the purge; the caller audits it.
pub async fn run_retention(
    store: &dyn Store,
    blobs: &dyn BlobStore,
    now: Millis,
) -> StoreResult<PurgeReport> {
    let report = store.purge_expired(now).await?;
    remove_blobs(blobs, &report.orphaned_blobs).await;
    Ok(report)
}

/// Erases one person (see `ComplianceStore::erase_user`) and removes their
/// attachment bytes.
pub async fn erase_person(
    store: &dyn Store,
    blobs: &dyn BlobStore,
    user_id: UserId,
    at: Millis,
) -> StoreResult<ErasureOutcome> {
    let outcome = store.erase_user(user_id, at).await?;
    if let ErasureOutcome::Erased(ErasureReport { orphaned_blobs, .. }) = &outcome {
        remove_blobs(blobs, orphaned_blobs).await;
        // The status text and photo identify the person too.
        if let Some(profile) = store.delete_user_profile(user_id).await? {
            remove_blobs(blobs, profile.avatar_key.as_slice()).await;
        }
    }
    Ok(outcome)
}

async fn remove_blobs(blobs: &dyn BlobStore, keys: &[String]) {
    for key in keys {
        if let Err(error) = blobs.delete(key).await {
            // The row is gone already; a leftover file is reported, not fatal.
            tracing::error!(%error, key, "could not delete an expired blob");
        }
    }
}

/// The journal head with a time, as an outside party keeps it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Checkpoint {
    pub position: i64,
    pub hash: String,
    /// When the checkpoint was taken (RFC 3339).
    pub at: String,
}

pub async fn checkpoint(store: &dyn Store) -> StoreResult<Checkpoint> {
    let (position, hash) = store.journal_head().await?;
    Ok(Checkpoint {
        position,
        hash,
        at: rfc3339(crate::now_millis()),
    })
}

/// Makes the installation id if there is none yet, then applies retention
/// every `retention_interval_minutes` and appends a journal checkpoint to `DATA_DIR/journal-checkpoints.jsonl` each time.
/// Runs until aborted.
pub async fn schedule(state: AppState) {
    // Made at first start, so that every later export agrees on it.
    if let Err(error) = installation::installation_id(&*state.store).await {
        tracing::error!(%error, "making the installation id failed");
    }
    let minutes = state.config.compliance.retention_interval_minutes;
    if minutes == 0 {
        return;
    }
    let period = Duration::from_secs(minutes.saturating_mul(60));
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    loop {
        ticker.tick().await;
        scheduled_run(&state).await;
    }
}

async fn scheduled_run(state: &AppState) {
    match run_retention(&*state.store, &*state.blobs, crate::now_millis()).await {
        Ok(report) if report.messages > 0 => {
            live::announce_purge(&state.hub, &report);
            tracing::info!(
                messages = report.messages,
                held = report.held,
                "retention purged expired messages"
            );
            let change = Change::new("retention.run", "retention", "scheduled").after(&report);
            if let Err(error) =
                crate::audit::record(&*state.store, &Actor::label("system", None), change).await
            {
                tracing::error!(%error, "could not audit a scheduled retention run");
            }
        }
        Ok(_) => {}
        Err(error) => tracing::error!(%error, "the scheduled retention run failed"),
    }
    match checkpoint(&*state.store).await {
        Ok(checkpoint) => {
            let line = serde_json::to_string(&checkpoint).unwrap_or_default() + "\n";
            let path = checkpoints_file(&state.config.data_dir);
            let written = async {
                use tokio::io::AsyncWriteExt;
                let mut file = tokio::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)
                    .await?;
                file.write_all(line.as_bytes()).await?;
                file.sync_data().await
            };
            if let Err(error) = written.await {
                tracing::error!(%error, path = %path.display(), "could not append a journal checkpoint");
            }
        }
        Err(error) => tracing::error!(%error, "could not read the journal head"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_parse_as_utc_days_or_rfc3339_and_bad_ones_say_why() {
        assert_eq!(parse_time("1970-01-02", false), Ok(86_400_000));
        assert_eq!(parse_time("1970-01-02", true), Ok(2 * 86_400_000));
        assert_eq!(parse_time("1970-01-01T00:00:01.5Z", false), Ok(1_500));
        assert_eq!(parse_time("1970-01-01T01:00:00+01:00", true), Ok(0));
        for bad in ["yesterday", "2024-13-01", "2024-02-30", "", "01/02/2024"] {
            let error = parse_time(bad, false).unwrap_err();
            assert!(error.contains("YYYY-MM-DD"), "{bad}: {error}");
        }
        assert_eq!(rfc3339(1_500), "1970-01-01T00:00:01.500Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59.999Z");
    }
}
