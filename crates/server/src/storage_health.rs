//! Whether storage has room, for readiness. A write that finds the disk or
//! the database full is answered 507 `storage_full`; from then on readiness
//! says "not ready" until a probe write beside the blobs succeeds again, so
//! a load balancer stops sending writes to a node that cannot keep them and
//! sends them again once space is freed. Nothing here decides whether a
//! write succeeds: every write still tries, and answers for itself.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;

use crate::blobs::BlobStore;
use crate::state::AppState;

/// After a write found storage full, readiness stays "not ready" at least
/// this long, even when the probe finds room: a full database (or a
/// PostgreSQL server's disk) is not what the probe writes to, and the next
/// write that fails marks it full again.
const NOT_READY_AT_LEAST: Duration = Duration::from_secs(2);

#[derive(Debug, Default)]
pub struct StorageHealth {
    /// When a write last found storage full, until room is found again.
    full_since: Mutex<Option<Instant>>,
}

impl StorageHealth {
    /// A write found storage full.
    pub fn mark_full(&self) {
        if let Ok(mut full_since) = self.full_since.lock() {
            if full_since.is_none() {
                tracing::error!(
                    "storage is full: readiness reports not ready until space is freed"
                );
            }
            *full_since = Some(Instant::now());
        }
    }

    /// Whether storage is (still) full: false unless a write found it
    /// full; then true until a probe write succeeds.
    pub async fn is_full(&self, blobs: &dyn BlobStore) -> bool {
        let since = match self.full_since.lock() {
            Ok(full_since) => *full_since,
            Err(_) => None,
        };
        let Some(since) = since else {
            return false;
        };
        if since.elapsed() < NOT_READY_AT_LEAST || !blobs.has_room().await {
            return true;
        }
        if let Ok(mut full_since) = self.full_since.lock()
            && *full_since == Some(since)
        {
            *full_since = None;
            tracing::info!("storage has room again: readiness reports ready");
        }
        false
    }
}

/// Marks storage full whenever an answer says so (507 `storage_full`).
pub async fn watch(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    if response.status() == StatusCode::INSUFFICIENT_STORAGE {
        state.storage.mark_full();
    }
    response
}
