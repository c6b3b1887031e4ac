//! Authentication rules and records: the password policy, sign-in lockout
//! state, TOTP enrolments, single sign-on flow state and the acceptable-use
//! policy with its acceptances.
//!
//! Pure values and rules only; the TOTP arithmetic, the OpenID Connect wire
//! protocol and the storage live at the edges (server, store backends).

use serde::{Deserialize, Serialize};

use crate::model::{Millis, UserId};
use crate::validate::{self, ValidationError};

/// Passwords so common that attackers try them first. Compared
/// case-insensitively after the length rule, so only entries of ten or more
/// characters matter here.
const COMMON_PASSWORDS: &[&str] = &[
    "1234567890",
    "12345678910",
    "123456789a",
    "0123456789",
    "0987654321",
    "1q2w3e4r5t",
    "1qaz2wsx3edc",
    "qwertyuiop",
    "qwerty123456",
    "qwertyuiop123",
    "asdfghjkl;",
    "password12",
    "password123",
    "password1234",
    "password!!",
    "passw0rd123",
    "iloveyou123",
    "letmein123",
    "welcome123",
    "welcome2024",
    "welcome2025",
    "welcome2026",
    "changeme123",
    "administrator",
    "admin12345",
    "abcdefghij",
    "abc1234567",
    "aaaaaaaaaa",
    "football123",
    "baseball123",
    "superman123",
    "princess123",
    "sunshine123",
    "trustno1234",
    "monkey12345",
    "dragon12345",
    "starwars123",
    "conclave123",
    "conclave2026",
];

/// The local-account password policy: the length rules of
/// [`validate::password`], not one of the most common passwords, not a run
/// of one character, and not the account's own email address (or its local
/// part).
pub fn check_password(password: &str, email: &str) -> Result<(), ValidationError> {
    validate::password(password)?;
    let lowered = password.trim().to_lowercase();
    let refuse = |problem: &str| {
        Err(ValidationError {
            field: "password",
            problem: problem.to_string(),
        })
    };
    if COMMON_PASSWORDS.contains(&lowered.as_str()) {
        return refuse("is one of the most common passwords; choose another");
    }
    let mut characters = lowered.chars();
    if let Some(first) = characters.next()
        && characters.all(|c| c == first)
    {
        return refuse("must not repeat one character");
    }
    let email = validate::normalize_email(email);
    let local_part = email.split('@').next().unwrap_or_default();
    if !email.is_empty() && (lowered == email || lowered == local_part) {
        return refuse("must not be the email address");
    }
    Ok(())
}

/// Consecutive failed sign-ins of one account, and the lock they caused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LoginThrottle {
    /// Failures since the last success or lock.
    pub failures: i64,
    /// Sign-in is refused until this time.
    pub locked_until: Option<Millis>,
}

impl LoginThrottle {
    pub fn is_locked(&self, now: Millis) -> bool {
        self.locked_until.is_some_and(|until| until > now)
    }
}

/// A user's TOTP authenticator. Unconfirmed until the user proves, with a
/// code, that their app holds the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct MfaEnrolment {
    pub user_id: UserId,
    /// The shared secret, raw bytes.
    pub secret: Vec<u8>,
    pub created_at: Millis,
    pub confirmed_at: Option<Millis>,
    /// The last TOTP time step accepted, so no code is accepted twice.
    pub last_step: Option<i64>,
}

impl MfaEnrolment {
    pub fn is_active(&self) -> bool {
        self.confirmed_at.is_some()
    }
}

/// The secret never appears in logs.
impl std::fmt::Debug for MfaEnrolment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MfaEnrolment")
            .field("user_id", &self.user_id)
            .field("secret", &"<redacted>")
            .field("created_at", &self.created_at)
            .field("confirmed_at", &self.confirmed_at)
            .field("last_step", &self.last_step)
            .finish()
    }
}

/// A single sign-on attempt between its start and the provider's callback.
#[derive(Clone, PartialEq, Eq)]
pub struct SsoAttempt {
    /// SHA-256 (hex) of the `state` parameter.
    pub state_hash: String,
    /// SHA-256 (hex) of the value in the browser's binding cookie, so a
    /// callback only completes in the browser that started the attempt.
    pub browser_hash: String,
    pub nonce: String,
    /// The PKCE code verifier.
    pub verifier: String,
    pub created_at: Millis,
    pub expires_at: Millis,
}

impl std::fmt::Debug for SsoAttempt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SsoAttempt")
            .field("state_hash", &self.state_hash)
            .field("created_at", &self.created_at)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// One published version of the acceptable-use policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcceptableUsePolicy {
    /// 1, 2, 3… in publication order.
    pub version: i64,
    pub text: String,
    pub published_at: Millis,
    pub published_by: Option<UserId>,
}

/// A user's acceptance of one policy version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyAcceptance {
    pub user_id: UserId,
    pub version: i64,
    pub accepted_at: Millis,
    pub address: Option<String>,
}

/// Longest acceptable-use policy text, in bytes.
pub const MAX_POLICY_BYTES: usize = 256 * 1024;

pub fn policy_text(text: &str) -> Result<(), ValidationError> {
    if text.trim().is_empty() {
        return Err(ValidationError {
            field: "text",
            problem: "must not be empty".into(),
        });
    }
    if text.len() > MAX_POLICY_BYTES {
        return Err(ValidationError {
            field: "text",
            problem: format!("must be at most {MAX_POLICY_BYTES} bytes"),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_policy_table() {
        let cases: &[(&str, &str, bool)] = &[
            ("long enough password", "alice@example.com", true),
            ("short", "alice@example.com", false),
            ("Password123", "alice@example.com", false),
            ("QWERTYUIOP", "alice@example.com", false),
            ("zzzzzzzzzzzz", "alice@example.com", false),
            ("alice.smith@example.com", "Alice.Smith@example.com", false),
            ("alice.smith.long", "alice.smith.long@example.com", false),
            ("alice.smith.long", "bob@example.com", true),
        ];
        for (password, email, allowed) in cases {
            assert_eq!(
                check_password(password, email).is_ok(),
                *allowed,
                "{password} for {email}"
            );
        }
    }

    #[test]
    fn every_common_password_is_long_enough_to_matter() {
        for password in COMMON_PASSWORDS {
            assert!(
                password.chars().count() >= validate::MIN_PASSWORD_CHARS,
                "{password}"
            );
            assert_eq!(*password, password.to_lowercase());
        }
    }

    #[test]
    fn locks_expire() {
        let throttle = LoginThrottle {
            failures: 0,
            locked_until: Some(1_000),
        };
        assert!(throttle.is_locked(999));
        assert!(!throttle.is_locked(1_000));
        assert!(!LoginThrottle::default().is_locked(0));
    }

    #[test]
    fn secrets_stay_out_of_debug() {
        let enrolment = MfaEnrolment {
            user_id: 1,
            secret: b"very secret bytes".to_vec(),
            created_at: 0,
            confirmed_at: None,
            last_step: None,
        };
        assert!(!format!("{enrolment:?}").contains("118"));
        let attempt = SsoAttempt {
            state_hash: "h".into(),
            browser_hash: "b".into(),
            nonce: "the-nonce".into(),
            verifier: "the-verifier".into(),
            created_at: 0,
            expires_at: 1,
        };
        let printed = format!("{attempt:?}");
        assert!(
            !printed.contains("the-verifier") && !printed.contains("the-nonce"),
            "{printed}"
        );
    }
}
