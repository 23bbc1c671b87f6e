//! Rate limits for warnings whose number the network decides (drops, send errors).

use std::time::Duration;

use crate::core::time::Instant;

/// How often a repeated warning of one kind is logged at most.
pub const LOG_EVERY: Duration = Duration::from_secs(10);

/// Logs the first occurrence, then at most once per [`LOG_EVERY`] with the count in between.
#[derive(Debug, Default)]
pub struct RateLimit {
    last: Option<Instant>,
    suppressed: u64,
}

impl RateLimit {
    /// `Some(suppressed since the last log)` when this occurrence should be logged.
    pub fn allow(&mut self, now: Instant) -> Option<u64> {
        match self.last {
            Some(last) if now.saturating_since(last) < LOG_EVERY => {
                self.suppressed += 1;
                None
            }
            _ => {
                self.last = Some(now);
                Some(std::mem::take(&mut self.suppressed))
            }
        }
    }
}

/// The rate limits of one instance (or of the engine, for packets no instance takes).
#[derive(Debug, Default)]
pub struct Logs {
    /// Dropped and undecodable adverts.
    pub drop: RateLimit,
    /// Adverts listing other VIPs.
    pub mismatch: RateLimit,
    /// Adverts that could not be sent or encoded.
    pub send: RateLimit,
    /// Adverts of another router claiming Master.
    pub other_master: RateLimit,
    /// Witness queries that could not be sent, answers dropped.
    pub witness: RateLimit,
    /// The witnesses keeping the instance BACKUP.
    pub witness_hold: RateLimit,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limit_logs_first_then_counts() {
        let t0 = Instant::from_millis(1000);
        let mut rl = RateLimit::default();
        assert_eq!(rl.allow(t0), Some(0));
        assert_eq!(rl.allow(t0 + Duration::from_secs(1)), None);
        assert_eq!(rl.allow(t0 + Duration::from_secs(2)), None);
        assert_eq!(rl.allow(t0 + LOG_EVERY), Some(2));
    }
}
