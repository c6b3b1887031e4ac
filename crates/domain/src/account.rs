//! A person's own account: password resets issued by administrators, and
//! the profile they edit themselves (status text, photo).
//!
//! Pure values and rules; the store keeps them and the server enforces
//! them.

use serde::{Deserialize, Serialize};

use crate::validate::ValidationError;
use crate::{Millis, Role, User, UserId};

/// How long a reset code stays valid: a day, so it survives a night but not
/// a week in someone's inbox.
pub const RESET_CODE_LIFETIME_MILLIS: Millis = 24 * 60 * 60 * 1000;

/// The longest status text, in characters.
pub const MAX_STATUS_TEXT_CHARS: usize = 100;

/// A one-time password reset issued by an administrator (or the command
/// line). Only the SHA-256 of the code is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordReset {
    pub id: i64,
    pub user_id: UserId,
    /// The administrator who issued it; `None` from the command line.
    pub created_by: Option<UserId>,
    pub created_at: Millis,
    pub expires_at: Millis,
    /// When it was redeemed or replaced by a newer reset.
    pub used_at: Option<Millis>,
}

/// What is needed to store a reset. The code itself never reaches the store.
#[derive(Clone, PartialEq, Eq)]
pub struct NewPasswordReset {
    pub user_id: UserId,
    pub code_hash: String,
    pub created_by: Option<UserId>,
    pub created_at: Millis,
    pub expires_at: Millis,
}

impl std::fmt::Debug for NewPasswordReset {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("NewPasswordReset")
            .field("user_id", &self.user_id)
            .field("code_hash", &"<redacted>")
            .field("created_by", &self.created_by)
            .field("created_at", &self.created_at)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// What a person shows about themselves beyond their name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserProfile {
    pub user_id: UserId,
    /// A short line such as "On leave until Monday"; empty for none.
    pub status_text: String,
    /// Where the blob store keeps the square photo; `None` for initials.
    pub avatar_key: Option<String>,
    pub updated_at: Millis,
}

/// Whether `actor` may issue a password reset for `target`: the same rule as
/// deactivation (docs/permissions.md): admins for anyone but owners and
/// admins, owners for everyone; nobody for themselves, who change their
/// password with the current one instead.
pub fn can_reset_password(actor: &User, target: &User) -> bool {
    if !actor.active || !actor.role.is_admin() || actor.id == target.id {
        return false;
    }
    !target.role.is_admin() || actor.role == Role::Owner
}

/// Whether the account was erased (right to erasure): its profile was
/// replaced by the anonymous `erased-ID@erased.invalid`. Such an account can
/// never be reactivated or given a password again.
pub fn is_erased(user: &User) -> bool {
    user.email == format!("erased-{}@erased.invalid", user.id)
}

/// Checks a status text: at most [`MAX_STATUS_TEXT_CHARS`] characters, no
/// control characters. Answers it trimmed.
pub fn status_text(text: &str) -> Result<String, ValidationError> {
    let trimmed = text.trim();
    if trimmed.chars().count() > MAX_STATUS_TEXT_CHARS {
        return Err(ValidationError {
            field: "status",
            problem: format!("must be at most {MAX_STATUS_TEXT_CHARS} characters"),
        });
    }
    if trimmed.chars().any(char::is_control) {
        return Err(ValidationError {
            field: "status",
            problem: "must not contain control characters".into(),
        });
    }
    Ok(trimmed.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: UserId, role: Role) -> User {
        User {
            id,
            email: format!("u{id}@example.com"),
            handle: format!("u{id}"),
            name: format!("U {id}"),
            role,
            active: true,
            created_at: 0,
            deactivated_at: None,
        }
    }

    #[test]
    fn who_may_reset_whose_password() {
        use Role::*;
        // (actor, target, allowed)
        let table = [
            (Owner, Owner, true),
            (Owner, Admin, true),
            (Owner, Member, true),
            (Admin, Owner, false),
            (Admin, Admin, false),
            (Admin, Member, true),
            (Admin, Guest, true),
            (Admin, Compliance, true),
            (Compliance, Member, false),
            (Member, Member, false),
            (Guest, Member, false),
        ];
        for (actor_role, target_role, allowed) in table {
            assert_eq!(
                can_reset_password(&user(1, actor_role), &user(2, target_role)),
                allowed,
                "{actor_role:?} resetting {target_role:?}"
            );
        }
        assert!(!can_reset_password(&user(1, Owner), &user(1, Owner)));
        let mut inactive = user(1, Owner);
        inactive.active = false;
        assert!(!can_reset_password(&inactive, &user(2, Member)));
    }

    #[test]
    fn erased_accounts_are_recognised_by_their_anonymous_address() {
        let mut erased = user(7, Role::Member);
        erased.email = "erased-7@erased.invalid".into();
        assert!(is_erased(&erased));
        assert!(!is_erased(&user(7, Role::Member)));
        erased.email = "erased-8@erased.invalid".into();
        assert!(
            !is_erased(&erased),
            "another id's address is not this erasure"
        );
    }

    #[test]
    fn status_texts_are_trimmed_and_bounded() {
        assert_eq!(status_text("  On leave  ").unwrap(), "On leave");
        assert_eq!(status_text("").unwrap(), "");
        assert!(status_text(&"x".repeat(101)).is_err());
        assert!(status_text(&"x".repeat(100)).is_ok());
        assert!(status_text("a\u{7}b").is_err());
    }
}
