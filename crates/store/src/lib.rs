//! The storage boundary. Everything persistent goes through [`Store`]; the
//! server holds an `Arc<dyn Store>` and never sees SQL.
//!
//! Architecture invariant: this crate knows no SQL dialect and no transport.
//! Backends (SQLite, PostgreSQL) live in their own crates with their own
//! migrations, and both must pass [`conformance`].

mod error;
mod features;
mod group_commit;
pub mod journal;
pub mod sealing;
mod store;

#[cfg(feature = "conformance")]
pub mod conformance;
#[cfg(feature = "conformance")]
pub mod conformance_accounts;
#[cfg(feature = "conformance")]
pub mod conformance_compliance;
#[cfg(feature = "conformance")]
pub mod conformance_external;
#[cfg(feature = "conformance")]
pub mod conformance_identity;
#[cfg(feature = "conformance")]
pub mod conformance_webhooks;

pub use conclave_keys as keys;
pub use error::{StoreError, StoreResult};
pub use features::{
    AccountStore, AuditStore, ComplianceStore, ExternalStore, IdentityStore, WebhookStore,
};
pub use group_commit::{EventSink, GroupCommitter, GroupCommitterConfig, NoEvents};
pub use sealing::{KeyError, Keyring};
pub use store::{PublicChannel, Store};
