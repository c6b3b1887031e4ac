//! The compliance feature's storage on PostgreSQL (see conclave_store::ComplianceStore).

use async_trait::async_trait;
use conclave_store::ComplianceStore;

use crate::PostgresStore;

#[async_trait]
impl ComplianceStore for PostgresStore {}
