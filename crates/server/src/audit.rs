//! Writing the audit log from the edge: who (a user, or a label such as
//! "cli" or "scim"), what, to what, from where, before and after.

use conclave_domain::{NewAuditEntry, User};
use conclave_store::Store;
use serde::Serialize;

use crate::error::ApiResult;

/// Who performed an audited action.
#[derive(Debug, Clone)]
pub enum Actor {
    User {
        id: i64,
        address: Option<String>,
    },
    /// A non-person actor: "cli", "scim", "system", or an unknown caller.
    Label {
        label: String,
        address: Option<String>,
    },
    /// A credential acting for a person: `label` names the credential
    /// (`scim:token-3`), `id` the person whose rights it carries.
    Delegate {
        id: i64,
        label: String,
        address: Option<String>,
    },
}

impl Actor {
    pub fn user(user: &User, address: Option<String>) -> Actor {
        Actor::User {
            id: user.id,
            address,
        }
    }

    pub fn label(label: &str, address: Option<String>) -> Actor {
        Actor::Label {
            label: label.to_string(),
            address,
        }
    }
}

/// The parts of an audited change.
pub struct Change<'a> {
    pub action: &'a str,
    pub target_kind: &'a str,
    pub target_id: Option<String>,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

impl<'a> Change<'a> {
    pub fn new(action: &'a str, target_kind: &'a str, target_id: impl ToString) -> Change<'a> {
        Change {
            action,
            target_kind,
            target_id: Some(target_id.to_string()),
            before: None,
            after: None,
        }
    }

    pub fn before(mut self, value: &impl Serialize) -> Self {
        self.before = serde_json::to_value(value).ok();
        self
    }

    pub fn after(mut self, value: &impl Serialize) -> Self {
        self.after = serde_json::to_value(value).ok();
        self
    }
}

/// Appends one entry. An action whose audit entry cannot be written is
/// reported as failed, so nothing audited happens unrecorded.
pub async fn record(store: &dyn Store, actor: &Actor, change: Change<'_>) -> ApiResult<()> {
    let (actor_id, actor_label, address) = match actor {
        Actor::User { id, address } => (Some(*id), "user".to_string(), address.clone()),
        Actor::Label { label, address } => (None, label.clone(), address.clone()),
        Actor::Delegate { id, label, address } => (Some(*id), label.clone(), address.clone()),
    };
    store
        .append_audit(NewAuditEntry {
            at: crate::now_millis(),
            actor_id,
            actor_label,
            action: change.action.to_string(),
            target_kind: change.target_kind.to_string(),
            target_id: change.target_id,
            address,
            before: change.before.map(|value| value.to_string()),
            after: change.after.map(|value| value.to_string()),
        })
        .await?;
    Ok(())
}
