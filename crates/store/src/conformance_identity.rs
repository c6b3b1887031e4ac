//! The identity feature's part of the conformance suite; each backend's
//! tests/conformance.rs runs it on an empty database.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use crate::Store;

/// Runs the identity checks against `store`, which must start empty.
pub async fn run(store: Arc<dyn Store>) {
    // Filled in with the feature.
    let _ = store;
}
