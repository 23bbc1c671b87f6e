//! One VRRP virtual router: the RFC 3768 / RFC 9568 state machine, sans-IO.
//!
//! CONTRACT (pinned; the I/O shell builds on these names): `Params`, `State`,
//! `Event`, `Action`, `Timer`, `DropReason`, `Instance::new`, `Instance::handle`,
//! `Instance::state`, `Instance::effective_priority`, `Instance::stats`.
//! The state machine work may add items; renaming or removing needs a reason.

use std::net::IpAddr;
use std::time::Duration;

use super::packet::{Advert, ChecksumForm, Version};
use super::time::Instant;

/// The configuration the state machine needs, already validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Params {
    /// Instance name, for reasons and logs.
    pub name: String,
    /// Virtual router id.
    pub vrid: u8,
    /// Protocol version.
    pub version: Version,
    /// Configured priority 1..=255 (255 = address owner).
    pub priority: u8,
    /// Our advertisement interval in centiseconds (v2: whole seconds * 100).
    pub interval_cs: u16,
    /// Whether a higher-priority backup takes over from a lower-priority master.
    pub preempt: bool,
    /// How long a backup waits before preempting.
    pub preempt_delay: Duration,
    /// VRRPv3 accept mode (a flag for the shell; the core only reports it).
    pub accept: bool,
    /// VRRPv2 simple-text password, zero padded; `None` = no authentication.
    pub auth: Option<[u8; 8]>,
    /// Virtual addresses (one family).
    pub vips: Vec<IpAddr>,
    /// Our primary address on the interface (advert source, tie-break).
    pub primary: IpAddr,
    /// Unicast peers; empty = multicast. Adverts from other sources are dropped.
    pub unicast_peers: Vec<IpAddr>,
    /// Minimum spacing of the gratuitous ARP / NA re-announce a master sends on a lower-priority advert.
    pub garp_refresh: Duration,
}

/// VRRP state (operator-facing names as keepalived's).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum State {
    /// Not started, or stopped.
    Initialize,
    /// Listening for the master.
    Backup,
    /// Holding the virtual addresses (RFC 9568 "Active").
    Master,
    /// keepalived's extension: interface down or a weight-0 track failing.
    Fault,
}

/// Timers the instance arms as absolute deadlines.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Timer {
    /// Master: send the next advert.
    Advert,
    /// Backup: the master is presumed down.
    MasterDown,
    /// Backup: preempt-delay elapsed.
    PreemptDelay,
    /// Master: periodic gratuitous ARP / NA refresh.
    GarpRefresh,
}

/// Input to the state machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// The instance starts (RFC: Startup event).
    Startup,
    /// The instance stops (RFC: Shutdown event).
    Shutdown,
    /// An advert arrived, already decoded; `ttl` is the IP TTL / hop limit.
    Advert {
        /// IP source address.
        src: IpAddr,
        /// IP TTL or hop limit.
        ttl: u8,
        /// Which checksum form the advert used.
        checksum: ChecksumForm,
        /// The decoded message.
        advert: Advert,
    },
    /// A timer previously armed fired.
    Timer(Timer),
    /// The interface came up.
    LinkUp,
    /// The interface went down.
    LinkDown,
    /// Tracking changed: the sum of active weights, and whether a weight-0 track fails.
    Track {
        /// Sum of the weights currently in effect.
        delta: i32,
        /// A weight-0 track is failing: the instance must be in Fault.
        fault: bool,
    },
    /// New parameters from a config reload (same interface, vrid and version).
    Reconfigure(Params),
}

/// Why a received advert was dropped (RFC 3768 / RFC 9568 section 7.1).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DropReason {
    /// TTL / hop limit was not 255.
    BadTtl,
    /// Version differs from ours.
    VersionMismatch,
    /// VRID differs from ours.
    VridMismatch,
    /// VRRPv2 authentication mismatch.
    AuthMismatch,
    /// VRRPv2 advert interval differs from ours.
    IntervalMismatch,
    /// The advert came from one of our own addresses.
    OwnAddress,
    /// Unicast mode: the source is not a configured peer.
    NotAPeer,
    /// Address count 0 (RFC 9568 errata).
    NoAddresses,
    /// Max advert interval 0 (RFC 9568 errata).
    ZeroInterval,
}

/// Output of the state machine, for the shell to carry out in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Send an advert with this priority (the shell fills addresses, interval, auth from `Params`).
    SendAdvert {
        /// Priority to advertise (0 on shutdown).
        priority: u8,
    },
    /// Install the virtual addresses.
    AddVips,
    /// Remove the virtual addresses.
    RemoveVips,
    /// Send the gratuitous ARP / unsolicited NA burst for every VIP.
    Announce,
    /// Arm (or re-arm) a timer at an absolute deadline.
    ArmTimer(Timer, Instant),
    /// Cancel a timer.
    CancelTimer(Timer),
    /// The state changed.
    Transition {
        /// Previous state.
        from: State,
        /// New state.
        to: State,
        /// Human-readable reason, e.g. "higher priority 100 from 192.0.2.201".
        reason: String,
    },
    /// A received advert was dropped (count it, log rate-limited).
    Drop(DropReason),
    /// The master's address list differs from ours (log rate-limited, not dropped).
    AddressMismatch {
        /// The sender.
        src: IpAddr,
    },
}
