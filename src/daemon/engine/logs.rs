//! The rate limits of the warnings whose number the network decides (drops, send errors).

pub use crate::logging::RateLimit;

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
