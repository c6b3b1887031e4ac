//! The identity feature's storage on SQLite (see conclave_store::IdentityStore).

use async_trait::async_trait;
use conclave_store::IdentityStore;

use crate::SqliteStore;

#[async_trait]
impl IdentityStore for SqliteStore {}
