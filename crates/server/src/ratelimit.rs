//! Token buckets keyed by user or address. A bucket refills continuously at
//! `rate` per second up to `burst`; each request takes one token.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

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
}

pub struct RateLimits {
    pub messages: Bucket,
    pub logins: Bucket,
    pub requests: Bucket,
    /// Posts through each incoming webhook, keyed by hook id.
    pub webhooks: Bucket,
}

impl RateLimits {
    pub fn new(limits: &Limits) -> RateLimits {
        RateLimits {
            messages: Bucket::new(limits.messages_per_second, limits.messages_burst),
            logins: Bucket::new(limits.logins_per_minute / 60.0, limits.logins_per_minute),
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

    pub fn check_login(&self, address: &str, email: &str) -> Result<(), ApiError> {
        self.logins
            .take(&format!("{address}|{email}"), Instant::now())
            .map_err(|retry_after_secs| ApiError::RateLimited { retry_after_secs })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

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
}
