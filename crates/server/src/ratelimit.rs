//! Token buckets keyed by user or address. A bucket refills continuously at
//! `rate` per second up to `burst`; each request takes one token.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use conclave_domain::UserId;

use crate::config::Limits;
use crate::error::ApiError;

pub struct Bucket {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl Bucket {
    pub fn new(rate: f64, burst: f64) -> Bucket {
        Bucket {
            rate: rate.max(0.001),
            burst: burst.max(1.0),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a token for `key`, or says how many seconds until one is free.
    pub fn take(&self, key: &str, now: Instant) -> Result<(), u64> {
        let Ok(mut buckets) = self.buckets.lock() else {
            return Ok(());
        };
        if buckets.len() > 100_000 {
            // Forget full buckets so a flood of keys cannot grow memory.
            let burst = self.burst;
            let rate = self.rate;
            buckets.retain(|_, (tokens, at)| {
                *tokens + now.duration_since(*at).as_secs_f64() * rate < burst
            });
        }
        let (tokens, at) = buckets.entry(key.to_string()).or_insert((self.burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * self.rate).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) / self.rate).ceil().max(1.0) as u64)
        }
    }

    /// Gives back a token taken for `key` (the request turned out not to
    /// count), never above the burst.
    pub fn give_back(&self, key: &str) {
        let Ok(mut buckets) = self.buckets.lock() else {
            return;
        };
        if let Some((tokens, _)) = buckets.get_mut(key) {
            *tokens = (*tokens + 1.0).min(self.burst);
        }
    }
}

/// Failed sign-ins for emails that name no account, counted and locked
/// exactly as an account's are (the store's `login_throttle`), so that the
/// answers (401, then 423 with a Retry-After) cannot tell a real account
/// from a made-up one. Kept in memory: a made-up email has no row to keep
/// them in, and an attacker gains nothing from a lock that another node
/// does not share, because both answers look alike on every node.
#[derive(Default)]
pub struct UnknownEmailLocks {
    /// Email → (failures since the last lock, locked until, in ms).
    entries: Mutex<HashMap<String, (i64, Option<i64>)>>,
}

/// Emails remembered at most; past it, entries that hold no lock are
/// forgotten first so a flood of made-up emails cannot grow memory.
const UNKNOWN_EMAILS_REMEMBERED: usize = 100_000;

impl UnknownEmailLocks {
    /// When the lock on `email` ends, if it is locked at `now`.
    pub fn locked_until(&self, email: &str, now: i64) -> Option<i64> {
        let entries = self.entries.lock().ok()?;
        entries
            .get(email)
            .and_then(|(_, until)| *until)
            .filter(|until| *until > now)
    }

    /// Counts a failure as `record_login_failure` does for an account;
    /// answers `lock_until` when this failure locked the email.
    pub fn record_failure(
        &self,
        email: &str,
        max_failures: i64,
        lock_until: i64,
        now: i64,
    ) -> Option<i64> {
        let mut entries = self.entries.lock().ok()?;
        if entries.len() >= UNKNOWN_EMAILS_REMEMBERED && !entries.contains_key(email) {
            entries.retain(|_, (_, until)| until.is_some_and(|until| until > now));
            if entries.len() >= UNKNOWN_EMAILS_REMEMBERED {
                entries.clear();
            }
        }
        let (failures, until) = entries.entry(email.to_string()).or_insert((0, None));
        if *failures + 1 >= max_failures {
            *failures = 0;
            *until = Some(lock_until);
            Some(lock_until)
        } else {
            *failures += 1;
            None
        }
    }
}

/// How long failed sign-ins take before any padding, so that every such
/// answer can be held to the same length (see `routes::auth`).
#[derive(Default)]
pub struct SignInFailureTiming {
    /// A moving average of the work a failed sign-in did, microseconds.
    typical_micros: std::sync::atomic::AtomicU64,
}

impl SignInFailureTiming {
    /// The least time a failed sign-in is answered in: twice the typical
    /// work (real accounts' failures do more than made-up emails'), and
    /// never under `floor`.
    pub fn answer_after(&self, floor: Duration) -> Duration {
        let typical = self
            .typical_micros
            .load(std::sync::atomic::Ordering::Relaxed);
        floor.max(Duration::from_micros(typical.saturating_mul(2)))
    }

    /// Records the work one failed sign-in did, before padding.
    pub fn record(&self, work: Duration) {
        let micros = u64::try_from(work.as_micros()).unwrap_or(u64::MAX);
        let _ = self.typical_micros.fetch_update(
            std::sync::atomic::Ordering::Relaxed,
            std::sync::atomic::Ordering::Relaxed,
            |typical| {
                Some(if typical == 0 {
                    micros
                } else {
                    typical - typical / 8 + micros / 8
                })
            },
        );
    }
}

pub struct RateLimits {
    pub messages: Bucket,
    pub logins: Bucket,
    /// Sign-in attempts from one address whatever the email; a successful
    /// sign-in gives its token back, so only failures spend the budget.
    pub login_failures: Bucket,
    /// Lockouts of emails that name no account.
    pub unknown_emails: UnknownEmailLocks,
    /// How long failed sign-ins take, to answer them all alike.
    pub sign_in_failures: SignInFailureTiming,
    pub requests: Bucket,
    /// Posts through each incoming webhook, keyed by hook id.
    pub webhooks: Bucket,
}

impl RateLimits {
    pub fn new(limits: &Limits) -> RateLimits {
        RateLimits {
            messages: Bucket::new(limits.messages_per_second, limits.messages_burst),
            logins: Bucket::new(limits.logins_per_minute / 60.0, limits.logins_per_minute),
            login_failures: Bucket::new(
                limits.failed_logins_per_address_per_minute / 60.0,
                limits.failed_logins_per_address_per_minute,
            ),
            unknown_emails: UnknownEmailLocks::default(),
            sign_in_failures: SignInFailureTiming::default(),
            requests: Bucket::new(limits.requests_per_second, limits.requests_burst),
            webhooks: Bucket::new(limits.webhook_posts_per_second, limits.webhook_burst),
        }
    }

    pub fn check_message(&self, user_id: UserId) -> Result<(), ApiError> {
        self.messages
            .take(&user_id.to_string(), Instant::now())
            .map_err(|retry_after_secs| ApiError::RateLimited { retry_after_secs })
    }

    pub fn check_request(&self, user_id: UserId) -> Result<(), ApiError> {
        self.requests
            .take(&user_id.to_string(), Instant::now())
            .map_err(|retry_after_secs| ApiError::RateLimited { retry_after_secs })
    }

    pub fn check_webhook(&self, webhook_id: i64) -> Result<(), ApiError> {
        self.webhooks
            .take(&webhook_id.to_string(), Instant::now())
            .map_err(|retry_after_secs| ApiError::RateLimited { retry_after_secs })
    }

    /// Takes a sign-in attempt from the address's budget and from the
    /// address-and-email budget. The address's token is taken before the
    /// password is checked, so concurrent guesses cannot all slip past an
    /// empty budget; [`RateLimits::login_succeeded`] gives it back.
    pub fn check_login(&self, address: &str, email: &str) -> Result<(), ApiError> {
        let now = Instant::now();
        self.login_failures
            .take(address, now)
            .map_err(|retry_after_secs| ApiError::RateLimited { retry_after_secs })?;
        self.logins
            .take(&format!("{address}|{email}"), now)
            .map_err(|retry_after_secs| ApiError::RateLimited { retry_after_secs })
    }

    /// A sign-in from `address` succeeded: it does not count against the
    /// address's failure budget.
    pub fn login_succeeded(&self, address: &str) {
        self.login_failures.give_back(address);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_then_refills() {
        let bucket = Bucket::new(2.0, 3.0);
        let start = Instant::now();
        for _ in 0..3 {
            assert!(bucket.take("k", start).is_ok());
        }
        assert_eq!(bucket.take("k", start), Err(1));
        assert!(bucket.take("other", start).is_ok(), "keys are independent");
        assert!(
            bucket.take("k", start + Duration::from_millis(500)).is_ok(),
            "one token after 0.5 s at 2/s"
        );
        assert!(
            bucket
                .take("k", start + Duration::from_millis(500))
                .is_err()
        );
    }

    #[test]
    fn unknown_emails_lock_after_the_same_number_of_failures_as_accounts() {
        let locks = UnknownEmailLocks::default();
        assert_eq!(locks.record_failure("x@example.com", 3, 9_000, 0), None);
        assert_eq!(locks.record_failure("x@example.com", 3, 9_000, 0), None);
        assert_eq!(locks.locked_until("x@example.com", 0), None);
        assert_eq!(
            locks.record_failure("x@example.com", 3, 9_000, 0),
            Some(9_000)
        );
        assert_eq!(locks.locked_until("x@example.com", 1_000), Some(9_000));
        assert_eq!(locks.locked_until("x@example.com", 9_000), None);
        assert_eq!(locks.locked_until("y@example.com", 1_000), None);
    }

    #[test]
    fn failed_sign_ins_are_held_to_twice_their_typical_work() {
        let timing = SignInFailureTiming::default();
        let floor = Duration::from_millis(150);
        assert_eq!(timing.answer_after(floor), floor);
        for _ in 0..50 {
            timing.record(Duration::from_millis(200));
        }
        let target = timing.answer_after(floor);
        assert!(
            target >= Duration::from_millis(390) && target <= Duration::from_millis(400),
            "{target:?}"
        );
    }

    #[test]
    fn a_given_back_token_can_be_taken_again_but_never_beyond_the_burst() {
        let bucket = Bucket::new(0.001, 2.0);
        let start = Instant::now();
        assert!(bucket.take("k", start).is_ok());
        assert!(bucket.take("k", start).is_ok());
        assert!(bucket.take("k", start).is_err());
        bucket.give_back("k");
        assert!(bucket.take("k", start).is_ok());
        bucket.give_back("k");
        bucket.give_back("k");
        bucket.give_back("k");
        assert!(bucket.take("k", start).is_ok());
        assert!(bucket.take("k", start).is_ok());
        assert!(bucket.take("k", start).is_err(), "capped at the burst");
    }
}
