//! Token buckets: how many queries a witness answers, per source and in all.

use std::time::Duration;

use crate::core::time::Instant;

/// A rate and a burst.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rate {
    /// Tokens added per second.
    pub per_second: f64,
    /// The most tokens a bucket holds (and starts with).
    pub burst: f64,
}

/// One token bucket, refilled from the caller's clock.
#[derive(Clone, Copy, Debug)]
pub struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    /// A full bucket.
    pub fn new(rate: Rate, now: Instant) -> Bucket {
        Bucket {
            tokens: rate.burst,
            at: now,
        }
    }

    fn refill(&mut self, rate: Rate, now: Instant) {
        let dt = now.saturating_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + dt * rate.per_second).min(rate.burst);
        self.at = self.at.max(now);
    }

    /// Take one token if there is one.
    pub fn take(&mut self, rate: Rate, now: Instant) -> bool {
        self.refill(rate, now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Whether the bucket would be full at `now` (its source has been quiet for long enough
    /// that forgetting it changes nothing).
    pub fn full_at(&self, rate: Rate, now: Instant) -> bool {
        let dt = now.saturating_since(self.at).as_secs_f64();
        self.tokens + dt * rate.per_second >= rate.burst
    }
}

/// How long a bucket at `rate` takes to fill from empty.
pub fn fill_time(rate: Rate) -> Duration {
    Duration::from_secs_f64(rate.burst / rate.per_second)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_gives_its_burst_then_its_rate() {
        let rate = Rate {
            per_second: 10.0,
            burst: 3.0,
        };
        let t = Instant::from_millis(1000);
        let mut b = Bucket::new(rate, t);
        assert!(b.take(rate, t) && b.take(rate, t) && b.take(rate, t));
        assert!(!b.take(rate, t));
        assert!(!b.take(rate, t + Duration::from_millis(50)));
        assert!(b.take(rate, t + Duration::from_millis(100)));
        assert!(!b.full_at(rate, t + Duration::from_millis(200)));
        assert!(b.full_at(rate, t + Duration::from_millis(400)));
        assert_eq!(fill_time(rate), Duration::from_millis(300));
    }
}
