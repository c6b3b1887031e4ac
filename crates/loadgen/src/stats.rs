//! Latency summaries: nearest-rank percentiles over every sample (no
//! sampling, no histogram buckets, so p99 and max are exact).

use std::time::Duration;

use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Latencies {
    pub count: usize,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Latencies {
    pub fn from_samples(mut samples: Vec<Duration>) -> Latencies {
        samples.sort_unstable();
        let count = samples.len();
        let at = |quantile: f64| -> f64 {
            if count == 0 {
                return 0.0;
            }
            let rank = ((quantile * count as f64).ceil() as usize).clamp(1, count);
            millis(samples[rank - 1])
        };
        let total: Duration = samples.iter().sum();
        Latencies {
            count,
            mean_ms: if count == 0 {
                0.0
            } else {
                millis(total) / count as f64
            },
            p50_ms: at(0.50),
            p90_ms: at(0.90),
            p99_ms: at(0.99),
            max_ms: samples.last().copied().map_or(0.0, millis),
        }
    }

    /// One line for people: `p50 1.2 ms, p99 3.4 ms, max 5.6 ms`.
    pub fn human(&self) -> String {
        format!(
            "p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms, mean {:.2} ms (n = {})",
            self.p50_ms, self.p90_ms, self.p99_ms, self.max_ms, self.mean_ms, self.count
        )
    }
}

pub fn millis(duration: Duration) -> f64 {
    (duration.as_secs_f64() * 1_000_000.0).round() / 1000.0
}

/// Rounds for reports: three decimals are plenty.
pub fn round3(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let samples = (1..=100).map(Duration::from_millis).collect();
        let latencies = Latencies::from_samples(samples);
        assert_eq!(latencies.count, 100);
        assert_eq!(latencies.p50_ms, 50.0);
        assert_eq!(latencies.p99_ms, 99.0);
        assert_eq!(latencies.max_ms, 100.0);
        assert_eq!(latencies.mean_ms, 50.5);
    }

    #[test]
    fn empty_is_all_zero() {
        let latencies = Latencies::from_samples(Vec::new());
        assert_eq!(latencies.count, 0);
        assert_eq!(latencies.p99_ms, 0.0);
    }
}
