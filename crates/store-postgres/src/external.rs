//! The external feature's storage on PostgreSQL (see conclave_store::ExternalStore).

use async_trait::async_trait;
use conclave_store::ExternalStore;

use crate::PostgresStore;

#[async_trait]
impl ExternalStore for PostgresStore {}
