//! The organisation's sign-in policy (lockout, "MFA required") and the gate
//! that keeps a signed-in session restricted until its user has enrolled in
//! MFA (when required) and accepted the current acceptable-use policy.
//!
//! The gate is consulted by [`crate::auth::Authed`] on every request. Its
//! answers are cached so that an unrestricted user costs no extra query:
//! the organisation-wide facts (current policy version, the MFA setting) for
//! one second, "has MFA" per user for thirty seconds (an MFA reset from the
//! command line or another node takes effect within that), and "accepted
//! version N" per user for good, since acceptances are never withdrawn.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use conclave_domain::UserId;
use serde::{Deserialize, Serialize};

use crate::auth::Authed;
use crate::error::{ApiError, ApiResult};
use crate::hub::close_code;
use crate::state::AppState;

/// `[auth]` in conclave.toml.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AuthPolicyConfig {
    /// Consecutive failed sign-ins (wrong password or code) that lock an
    /// account.
    pub max_failed_logins: i64,
    /// How long a locked account stays locked, seconds.
    pub lockout_secs: i64,
    /// Every account with a password must enrol in TOTP MFA. When false,
    /// admins can still require it from the API; this setting cannot be
    /// turned off from there.
    pub mfa_required: bool,
    /// The issuer name authenticator apps show next to the account.
    pub totp_issuer: String,
}

impl Default for AuthPolicyConfig {
    fn default() -> Self {
        AuthPolicyConfig {
            max_failed_logins: 5,
            lockout_secs: 15 * 60,
            mfa_required: false,
            totp_issuer: "Conclave".into(),
        }
    }
}

/// The `auth_settings` key of the admins' "MFA required" switch.
pub const MFA_REQUIRED_SETTING: &str = "mfa_required";

/// Why a session may not use Conclave yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restriction {
    MfaEnrolment,
    PolicyAcceptance,
}

impl Restriction {
    pub fn error(self) -> ApiError {
        match self {
            Restriction::MfaEnrolment => ApiError::MfaEnrolmentRequired,
            Restriction::PolicyAcceptance => ApiError::PolicyAcceptanceRequired,
        }
    }

    /// The close code of a socket whose user became restricted.
    pub fn close_code(self) -> u16 {
        match self {
            Restriction::MfaEnrolment => close_code::MFA_ENROLMENT_REQUIRED,
            Restriction::PolicyAcceptance => close_code::POLICY_ACCEPTANCE_REQUIRED,
        }
    }
}

/// What a user must still do; both false for most users.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Requirements {
    pub mfa_enrolment: bool,
    pub policy_acceptance: bool,
}

impl Requirements {
    /// The restriction these requirements impose; MFA enrolment comes
    /// first.
    pub fn restriction(self) -> Option<Restriction> {
        if self.mfa_enrolment {
            Some(Restriction::MfaEnrolment)
        } else if self.policy_acceptance {
            Some(Restriction::PolicyAcceptance)
        } else {
            None
        }
    }
}

/// Endpoints a restricted session may still call: who am I, sign out, and
/// what it takes to lift the restriction. Relative to `/api/v1`, as the
/// nested API router sees request paths.
pub const UNRESTRICTED_PATHS: &[&str] = &[
    "/me",
    "/me/security",
    "/me/mfa/totp",
    "/me/mfa/totp/confirm",
    "/auth/logout",
    "/policy",
    "/policy/accept",
];

const ORGANISATION_FACTS_TTL: Duration = Duration::from_secs(1);
const MFA_SATISFIED_TTL: Duration = Duration::from_secs(30);

#[derive(Default)]
struct Cache {
    facts: Option<(Instant, OrganisationFacts)>,
    /// Users known to have active MFA, or no password (SSO-only accounts,
    /// whose second factor is the identity provider's).
    mfa_satisfied: HashMap<UserId, Instant>,
    /// The newest policy version each user is known to have accepted.
    accepted: HashMap<UserId, i64>,
}

/// The organisation-wide facts the gate decides on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrganisationFacts {
    pub mfa_required: bool,
    pub policy_version: Option<i64>,
}

impl OrganisationFacts {
    /// Whether going from `earlier` to these facts can restrict someone
    /// who was not restricted: a new policy version, or MFA turned on.
    pub fn restrict_more_than(&self, earlier: &OrganisationFacts) -> bool {
        (self.policy_version.is_some() && self.policy_version != earlier.policy_version)
            || (self.mfa_required && !earlier.mfa_required)
    }
}

/// See the module documentation.
#[derive(Default)]
pub struct AccessGate {
    cache: Mutex<Cache>,
    /// Signalled by [`AccessGate::refresh`], so the server's sweep closes
    /// the sockets a change restricts at once rather than at its next tick.
    pub changed: tokio::sync::Notify,
}

impl AccessGate {
    pub fn new() -> AccessGate {
        AccessGate::default()
    }

    /// Whether MFA is required: by configuration, or by the admins' switch.
    pub async fn mfa_required(&self, state: &AppState) -> ApiResult<bool> {
        Ok(self.facts(state).await?.mfa_required)
    }

    /// What `user_id` must still do before using Conclave.
    pub async fn requirements(&self, state: &AppState, user_id: UserId) -> ApiResult<Requirements> {
        let facts = self.facts(state).await?;
        self.requirements_under(state, user_id, facts).await
    }

    /// What `user_id` must still do under `facts`.
    pub async fn requirements_under(
        &self,
        state: &AppState,
        user_id: UserId,
        facts: OrganisationFacts,
    ) -> ApiResult<Requirements> {
        let mut pending = Requirements::default();
        let satisfied = self
            .lock()
            .mfa_satisfied
            .get(&user_id)
            .is_some_and(|at| at.elapsed() < MFA_SATISFIED_TTL);
        if facts.mfa_required && !satisfied {
            let enrolled = state
                .store
                .mfa_enrolment(user_id)
                .await?
                .is_some_and(|enrolment| enrolment.is_active());
            let password_account = state.store.password_hash(user_id).await?.is_some();
            if enrolled || !password_account {
                self.note_mfa_enrolled(user_id);
            } else {
                pending.mfa_enrolment = true;
            }
        }
        if let Some(version) = facts.policy_version {
            let known = self.lock().accepted.get(&user_id).copied();
            if known.is_none_or(|accepted| accepted < version) {
                if state
                    .store
                    .policy_acceptance(user_id, version)
                    .await?
                    .is_some()
                {
                    self.note_accepted(user_id, version);
                } else {
                    pending.policy_acceptance = true;
                }
            }
        }
        Ok(pending)
    }

    /// The current restriction of `user_id`'s sessions, if any; MFA
    /// enrolment comes first.
    pub async fn restriction(
        &self,
        state: &AppState,
        user_id: UserId,
    ) -> ApiResult<Option<Restriction>> {
        Ok(self.requirements(state, user_id).await?.restriction())
    }

    /// Like [`AccessGate::restriction`], but with the organisation's facts
    /// read from the store now rather than from the cache.
    pub async fn restriction_now(
        &self,
        state: &AppState,
        user_id: UserId,
    ) -> ApiResult<Option<Restriction>> {
        let facts = self.facts_now(state).await?;
        Ok(self
            .requirements_under(state, user_id, facts)
            .await?
            .restriction())
    }

    /// Refuses `authed`'s request to `path` while its user is restricted,
    /// unless the path is one a restricted session needs.
    pub async fn enforce(
        &self,
        state: &AppState,
        authed: &Authed,
        path: Option<&str>,
    ) -> ApiResult<()> {
        let relative = path.map(|path| {
            path.strip_prefix("/api/v1")
                .unwrap_or(path)
                .trim_end_matches('/')
        });
        if relative.is_some_and(|path| UNRESTRICTED_PATHS.contains(&path)) {
            return Ok(());
        }
        match self.restriction(state, authed.user.id).await? {
            Some(restriction) => Err(restriction.error()),
            None => Ok(()),
        }
    }

    pub fn note_accepted(&self, user_id: UserId, version: i64) {
        let mut cache = self.lock();
        let entry = cache.accepted.entry(user_id).or_insert(version);
        *entry = (*entry).max(version);
    }

    pub fn note_mfa_enrolled(&self, user_id: UserId) {
        let mut cache = self.lock();
        if cache.mfa_satisfied.len() > 100_000 {
            cache
                .mfa_satisfied
                .retain(|_, at| at.elapsed() < MFA_SATISFIED_TTL);
        }
        cache.mfa_satisfied.insert(user_id, Instant::now());
    }

    /// After a user's MFA was removed.
    pub fn forget_mfa(&self, user_id: UserId) {
        self.lock().mfa_satisfied.remove(&user_id);
    }

    /// After an organisation-wide change (a policy published, the MFA
    /// switch flipped), so this node sees it at once.
    pub fn refresh(&self) {
        self.forget_facts();
        self.changed.notify_one();
    }

    /// Drops the cached organisation facts without waking the sweep.
    pub fn forget_facts(&self) {
        self.lock().facts = None;
    }

    async fn facts(&self, state: &AppState) -> ApiResult<OrganisationFacts> {
        if let Some((at, facts)) = self.lock().facts
            && at.elapsed() < ORGANISATION_FACTS_TTL
        {
            return Ok(facts);
        }
        let facts = self.facts_now(state).await?;
        self.lock().facts = Some((Instant::now(), facts));
        Ok(facts)
    }

    /// The organisation's facts as the store has them now, uncached.
    pub async fn facts_now(&self, state: &AppState) -> ApiResult<OrganisationFacts> {
        let switched_on = state
            .store
            .auth_setting(MFA_REQUIRED_SETTING)
            .await?
            .as_deref()
            == Some("true");
        let facts = OrganisationFacts {
            mfa_required: state.config.auth.mfa_required || switched_on,
            policy_version: state
                .store
                .current_policy()
                .await?
                .map(|policy| policy.version),
        };
        Ok(facts)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The authentication services a running server keeps: the access gate and
/// the single sign-on client (with its cached provider metadata).
#[derive(Default)]
pub struct AuthServices {
    pub gate: AccessGate,
    pub sso: crate::oidc::SsoClient,
}
