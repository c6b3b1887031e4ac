//! The identity feature's storage on PostgreSQL (see conclave_store::IdentityStore).

use async_trait::async_trait;
use conclave_store::IdentityStore;

use crate::PostgresStore;

#[async_trait]
impl IdentityStore for PostgresStore {}
