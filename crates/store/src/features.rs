//! Feature traits that [`crate::Store`] requires. Each feature owns its
//! trait here and its implementation in its own file of each backend
//! (`audit.rs`, `compliance.rs`, `external.rs`, `identity.rs`), so features
//! grow without touching one another.

use async_trait::async_trait;
use conclave_domain::{AuditEntry, AuditFilter, NewAuditEntry};

use crate::StoreResult;

/// The append-only audit log of administrative and security actions.
#[async_trait]
pub trait AuditStore: Send + Sync {
    async fn append_audit(&self, entry: NewAuditEntry) -> StoreResult<AuditEntry>;
    /// Newest first, narrowed by `filter`.
    async fn audit_entries(&self, filter: AuditFilter) -> StoreResult<Vec<AuditEntry>>;
}

/// Retention, legal holds, eDiscovery export and erasure (issue: compliance
/// archive).
#[async_trait]
pub trait ComplianceStore: Send + Sync {}

/// Conversations captured from outside: WhatsApp imports and the Cloud API
/// connector.
#[async_trait]
pub trait ExternalStore: Send + Sync {}

/// Identity administration: SCIM, groups, departments, MFA, policies.
#[async_trait]
pub trait IdentityStore: Send + Sync {}
