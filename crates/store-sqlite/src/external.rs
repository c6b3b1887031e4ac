//! The external feature's storage on SQLite (see conclave_store::ExternalStore).

use async_trait::async_trait;
use conclave_store::ExternalStore;

use crate::SqliteStore;

#[async_trait]
impl ExternalStore for SqliteStore {}
