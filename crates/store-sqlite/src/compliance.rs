//! The compliance feature's storage on SQLite (see conclave_store::ComplianceStore).

use async_trait::async_trait;
use conclave_store::ComplianceStore;

use crate::SqliteStore;

#[async_trait]
impl ComplianceStore for SqliteStore {}
