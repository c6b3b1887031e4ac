//! The directory: how people are organised beyond their role. Departments
//! and teams (org units), the rules that put their members into channels
//! automatically, SCIM provisioning records and tokens, guest expiry, and
//! the filter administrators list users with.
//!
//! Pure values only; provisioning protocols and storage live at the edges.

use serde::{Deserialize, Serialize};

use crate::model::{ChannelId, Millis, Role, UserId};

pub type OrgUnitId = i64;

/// What kind of group an org unit is. A SCIM Group is a team; the SCIM
/// enterprise `department` attribute names a department.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrgUnitKind {
    Department,
    Team,
}

impl OrgUnitKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OrgUnitKind::Department => "department",
            OrgUnitKind::Team => "team",
        }
    }

    pub fn parse(text: &str) -> Option<OrgUnitKind> {
        [OrgUnitKind::Department, OrgUnitKind::Team]
            .into_iter()
            .find(|kind| kind.as_str() == text)
    }
}

/// A department or a team.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgUnit {
    pub id: OrgUnitId,
    pub kind: OrgUnitKind,
    /// Unique within its kind, compared case-insensitively.
    pub name: String,
    /// The identity provider's id for it, when it came from one.
    pub external_id: Option<String>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

#[derive(Debug, Clone)]
pub struct NewOrgUnit {
    pub kind: OrgUnitKind,
    pub name: String,
    pub external_id: Option<String>,
    pub at: Millis,
}

/// "Members of this org unit belong in this channel."
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutoMembershipRule {
    pub id: i64,
    pub unit_id: OrgUnitId,
    pub channel_id: ChannelId,
    /// The administrator who made the rule; none when made by the system.
    pub created_by: Option<UserId>,
    pub created_at: Millis,
}

/// A bearer token an identity provider uses for SCIM. Only its hash is
/// stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScimToken {
    pub id: i64,
    pub name: String,
    /// The owner or admin who minted it: SCIM acts with their rights,
    /// capped at admin, and only while they keep them. None for a token
    /// minted on the command line, which acts as an admin-capped operator.
    pub created_by: Option<UserId>,
    pub created_at: Millis,
    pub last_used_at: Option<Millis>,
    pub revoked_at: Option<Millis>,
}

/// What an identity provider told Conclave about a user through SCIM,
/// beyond the columns of the user itself: the provider's attributes as a
/// JSON document (names, emails, enterprise extension, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimUserRecord {
    pub user_id: UserId,
    /// JSON object text.
    pub document: String,
    /// Set when the provider deleted the user: the account stays (its
    /// messages are company records) but SCIM no longer shows it.
    pub deleted_at: Option<Millis>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// Which users an administrator lists; every field narrows the result.
#[derive(Debug, Clone, Default)]
pub struct UserListFilter {
    /// Text contained in the name, handle or email (case-insensitive).
    pub query: Option<String>,
    pub role: Option<Role>,
    pub active: Option<bool>,
    /// Users with ids above this one (for paging forwards).
    pub after_id: Option<UserId>,
    pub limit: i64,
}

/// The longest org unit name, in characters.
pub const MAX_ORG_UNIT_NAME_CHARS: usize = 200;

/// Validates an org unit's name: 1 to 200 characters, no control characters.
pub fn org_unit_name(name: &str) -> Result<(), crate::ValidationError> {
    let count = name.trim().chars().count();
    if count == 0 || count > MAX_ORG_UNIT_NAME_CHARS {
        return Err(crate::ValidationError {
            field: "name",
            problem: format!("must be 1 to {MAX_ORG_UNIT_NAME_CHARS} characters"),
        });
    }
    if name.chars().any(char::is_control) {
        return Err(crate::ValidationError {
            field: "name",
            problem: "must not contain control characters".into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip() {
        for kind in [OrgUnitKind::Department, OrgUnitKind::Team] {
            assert_eq!(OrgUnitKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(OrgUnitKind::parse("division"), None);
    }

    #[test]
    fn unit_names() {
        assert!(org_unit_name("Sales EMEA").is_ok());
        assert!(org_unit_name("  ").is_err());
        assert!(org_unit_name("a\u{7}b").is_err());
        assert!(org_unit_name(&"x".repeat(201)).is_err());
    }
}
