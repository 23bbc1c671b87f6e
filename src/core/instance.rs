//! One VRRP virtual router: the RFC 3768 / RFC 9568 state machine, sans-IO.
//!
//! CONTRACT (pinned; the I/O shell builds on these names): `Params`, `State`,
//! `Event`, `Action`, `Timer`, `DropReason`, `Instance::new`, `Instance::handle`,
//! `Instance::state`, `Instance::effective_priority`, `Instance::stats`.
//! The state machine work may add items; renaming or removing needs a reason.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use super::packet::{Advert, Auth, ChecksumForm, Version};
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

impl State {
    /// The operator-facing name, as keepalived prints it.
    pub const fn as_str(self) -> &'static str {
        match self {
            State::Initialize => "INIT",
            State::Backup => "BACKUP",
            State::Master => "MASTER",
            State::Fault => "FAULT",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Timer {
    /// A stable short name for logs and test data.
    pub const fn as_str(self) -> &'static str {
        match self {
            Timer::Advert => "advert",
            Timer::MasterDown => "master_down",
            Timer::PreemptDelay => "preempt_delay",
            Timer::GarpRefresh => "garp_refresh",
        }
    }
}

impl DropReason {
    /// Every reason, in a stable order (for exporting counters).
    pub const ALL: [DropReason; 9] = [
        DropReason::BadTtl,
        DropReason::VersionMismatch,
        DropReason::VridMismatch,
        DropReason::AuthMismatch,
        DropReason::IntervalMismatch,
        DropReason::OwnAddress,
        DropReason::NotAPeer,
        DropReason::NoAddresses,
        DropReason::ZeroInterval,
    ];

    /// A stable short name for logs, metrics and test data.
    pub const fn as_str(self) -> &'static str {
        match self {
            DropReason::BadTtl => "bad_ttl",
            DropReason::VersionMismatch => "version_mismatch",
            DropReason::VridMismatch => "vrid_mismatch",
            DropReason::AuthMismatch => "auth_mismatch",
            DropReason::IntervalMismatch => "interval_mismatch",
            DropReason::OwnAddress => "own_address",
            DropReason::NotAPeer => "not_a_peer",
            DropReason::NoAddresses => "no_addresses",
            DropReason::ZeroInterval => "zero_interval",
        }
    }
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Counters kept by one instance (read by the shell for D-Bus / logs).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Every `Event::Advert` handed in, valid or not.
    pub adverts_received: u64,
    /// Every `Action::SendAdvert` emitted (including priority 0).
    pub adverts_sent: u64,
    /// Valid adverts with priority 0 received.
    pub priority_zero_received: u64,
    /// Adverts with priority 0 emitted (shutdown, weight-0 track fault).
    pub priority_zero_sent: u64,
    /// Dropped adverts per reason (absent = 0).
    pub drops: BTreeMap<DropReason, u64>,
    /// Valid adverts whose address list differs from ours.
    pub address_mismatches: u64,
    /// Checksum forms seen per sender of a valid advert: (message only, with pseudo-header).
    pub checksum_forms: BTreeMap<IpAddr, (u64, u64)>,
    /// State transitions, all kinds.
    pub transitions: u64,
    /// Transitions into Master.
    pub became_master: u64,
    /// The current master: the sender last accepted in Backup, our primary in Master, else `None`.
    pub master: Option<IpAddr>,
}

impl Stats {
    /// Drops counted for one reason.
    pub fn drops_for(&self, reason: DropReason) -> u64 {
        self.drops.get(&reason).copied().unwrap_or(0)
    }

    /// Drops counted over all reasons.
    pub fn total_drops(&self) -> u64 {
        self.drops.values().sum()
    }
}

/// Skew_Time (RFC 3768 section 6.1; RFC 9568 section 6.1) for a priority.
///
/// VRRPv2 uses `(256 - Priority) / 256` seconds whatever the interval; VRRPv3
/// scales by the master's advert interval: `((256 - Priority) * Master_Adver_Interval) / 256`.
/// Computed in nanoseconds, not whole centiseconds, so that low intervals keep
/// distinct skews per priority (keepalived likewise computes in microseconds).
pub fn skew_time(version: Version, priority: u8, master_adver_interval_cs: u16) -> Duration {
    let weight = 256 - u64::from(priority);
    match version {
        Version::V2 => Duration::from_nanos(weight * 1_000_000_000 / 256),
        Version::V3 => {
            Duration::from_nanos(u64::from(master_adver_interval_cs) * 10_000_000 * weight / 256)
        }
    }
}

/// Master_Down_Interval = 3 * Master_Adver_Interval + Skew_Time (RFC 3768 / RFC 9568 section 6.1).
pub fn master_down_interval(
    version: Version,
    priority: u8,
    master_adver_interval_cs: u16,
) -> Duration {
    centis(master_adver_interval_cs) * 3 + skew_time(version, priority, master_adver_interval_cs)
}

/// Effective priority: configured priority plus track weights, clamped to 1..=254.
///
/// An address owner (configured 255) keeps 255 whatever the weights, as
/// keepalived does (`vrrp_set_effective_priority`: "Don't change priority if
/// address owner"); a weight-0 track still sends it to Fault. No other router
/// can reach 255, which is reserved for the owner (RFC 9568 section 5.2.4).
pub fn effective_priority(configured: u8, delta: i32) -> u8 {
    if configured == 255 {
        return 255;
    }
    let sum = i64::from(configured) + i64::from(delta);
    // The clamp keeps the value in 1..=254, so the narrowing cannot fail.
    u8::try_from(sum.clamp(1, 254)).unwrap_or(254)
}

fn centis(cs: u16) -> Duration {
    Duration::from_millis(u64::from(cs) * 10)
}

/// True if `a` beats `b` in the equal-priority tie-break: the numerically
/// greater primary address, compared as unsigned integers in network byte
/// order (RFC 3768 / RFC 9568 section 6.4.3). Mixed families never happen on
/// one instance; they fall back to `IpAddr`'s order to stay total.
pub fn address_greater(a: IpAddr, b: IpAddr) -> bool {
    match (a, b) {
        (IpAddr::V4(x), IpAddr::V4(y)) => x.octets() > y.octets(),
        (IpAddr::V6(x), IpAddr::V6(y)) => x.octets() > y.octets(),
        _ => a > b,
    }
}

/// The last advert accepted from the current master (for timers and reasons).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Heard {
    src: IpAddr,
    priority: u8,
    at: Instant,
}

/// One VRRP virtual router: feed it events with the current time, carry out the actions.
#[derive(Clone, Debug)]
pub struct Instance {
    params: Params,
    state: State,
    /// Between Startup and Shutdown.
    running: bool,
    /// The link is assumed up until the shell says otherwise.
    link_up: bool,
    track_delta: i32,
    track_fault: bool,
    /// Master_Adver_Interval (RFC 9568 section 6.1), learned in Backup; v2 uses ours.
    master_adver_interval_cs: u16,
    heard: Option<Heard>,
    backup_since: Instant,
    last_announce: Option<Instant>,
    preempt_deadline: Option<Instant>,
    timers: BTreeMap<Timer, Instant>,
    stats: Stats,
}

impl Instance {
    /// A stopped instance (state Initialize); nothing happens until `Event::Startup`.
    pub fn new(params: Params) -> Instance {
        let interval = params.interval_cs;
        Instance {
            params,
            state: State::Initialize,
            running: false,
            link_up: true,
            track_delta: 0,
            track_fault: false,
            master_adver_interval_cs: interval,
            heard: None,
            backup_since: Instant::ZERO,
            last_announce: None,
            preempt_deadline: None,
            timers: BTreeMap::new(),
            stats: Stats::default(),
        }
    }

    /// Current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// Configured priority adjusted by track weights (see [`effective_priority`]).
    pub fn effective_priority(&self) -> u8 {
        effective_priority(self.params.priority, self.track_delta)
    }

    /// The parameters in force.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// Counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The deadline of an armed timer, as last announced by `ArmTimer`.
    pub fn deadline(&self, timer: Timer) -> Option<Instant> {
        self.timers.get(&timer).copied()
    }

    /// Master_Adver_Interval in force: the master's (learned in Backup, v3) or ours.
    pub fn master_adver_interval(&self) -> Duration {
        centis(self.mai_cs())
    }

    /// Skew_Time for our effective priority and the current Master_Adver_Interval.
    pub fn skew_time(&self) -> Duration {
        skew_time(self.params.version, self.effective_priority(), self.mai_cs())
    }

    /// Master_Down_Interval for our effective priority and the current Master_Adver_Interval.
    pub fn master_down_interval(&self) -> Duration {
        master_down_interval(self.params.version, self.effective_priority(), self.mai_cs())
    }

    /// Process one event at `now` (the caller's monotonic clock) and return what to do, in order.
    pub fn handle(&mut self, event: Event, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        match event {
            Event::Startup => self.on_startup(now, &mut out),
            Event::Shutdown => self.on_shutdown(&mut out),
            Event::Advert {
                src,
                ttl,
                checksum,
                advert,
            } => self.on_advert(src, ttl, checksum, &advert, now, &mut out),
            Event::Timer(timer) => self.on_timer(timer, now, &mut out),
            Event::LinkUp => {
                self.link_up = true;
                if self.running && self.state == State::Fault && !self.track_fault {
                    self.leave_fault("interface up", now, &mut out);
                }
            }
            Event::LinkDown => {
                self.link_up = false;
                if matches!(self.state, State::Backup | State::Master) {
                    self.enter_fault("interface down", false, &mut out);
                }
            }
            Event::Track { delta, fault } => self.on_track(delta, fault, now, &mut out),
            Event::Reconfigure(params) => self.on_reconfigure(params, now, &mut out),
        }
        for action in &out {
            match action {
                Action::SendAdvert { priority } => {
                    self.stats.adverts_sent += 1;
                    if *priority == 0 {
                        self.stats.priority_zero_sent += 1;
                    }
                }
                Action::Transition { to, .. } => {
                    self.stats.transitions += 1;
                    if *to == State::Master {
                        self.stats.became_master += 1;
                    }
                }
                _ => {}
            }
        }
        out
    }

    fn mai_cs(&self) -> u16 {
        // v2 backups never learn: adverts with another interval are dropped (RFC 3768 section 7.1).
        let cs = match self.params.version {
            Version::V2 => self.params.interval_cs,
            Version::V3 => self.master_adver_interval_cs,
        };
        cs.max(1)
    }

    fn advert_interval(&self) -> Duration {
        centis(self.params.interval_cs.max(1))
    }

    /// Preempt_Mode, except that the address owner always preempts (RFC 9568 section 6.1).
    fn preempts(&self) -> bool {
        self.params.preempt || self.effective_priority() == 255
    }

    fn arm(&mut self, timer: Timer, at: Instant, out: &mut Vec<Action>) {
        self.timers.insert(timer, at);
        out.push(Action::ArmTimer(timer, at));
    }

    fn cancel(&mut self, timer: Timer, out: &mut Vec<Action>) {
        if self.timers.remove(&timer).is_some() {
            out.push(Action::CancelTimer(timer));
        }
    }

    fn cancel_all(&mut self, out: &mut Vec<Action>) {
        for timer in std::mem::take(&mut self.timers).into_keys() {
            out.push(Action::CancelTimer(timer));
        }
    }

    fn transition(&mut self, to: State, reason: String, out: &mut Vec<Action>) {
        out.push(Action::Transition {
            from: self.state,
            to,
            reason,
        });
        self.state = to;
    }

    fn clear_preempt(&mut self, out: &mut Vec<Action>) {
        self.preempt_deadline = None;
        self.cancel(Timer::PreemptDelay, out);
    }

    /// RFC 3768 / RFC 9568 section 6.4.1: Startup in Initialize.
    fn on_startup(&mut self, now: Instant, out: &mut Vec<Action>) {
        if self.running {
            return;
        }
        self.running = true;
        if !self.link_up {
            self.transition(State::Fault, "startup: interface down".into(), out);
        } else if self.track_fault {
            self.transition(State::Fault, "startup: track weight-0 failing".into(), out);
        } else if self.effective_priority() == 255 {
            self.become_master("startup as address owner (priority 255)".into(), now, out);
        } else {
            self.become_backup("startup".into(), now, out);
        }
    }

    /// RFC 3768 / RFC 9568 sections 6.4.2 and 6.4.3: Shutdown.
    fn on_shutdown(&mut self, out: &mut Vec<Action>) {
        if !self.running {
            return;
        }
        self.running = false;
        let was_master = self.state == State::Master;
        self.transition(State::Initialize, "shutdown".into(), out);
        if was_master {
            // Priority 0 lets the backups take over after Skew_Time instead of
            // Master_Down_Interval (RFC 9568 section 6.4.3).
            out.push(Action::SendAdvert { priority: 0 });
            out.push(Action::RemoveVips);
        }
        self.cancel_all(out);
        self.forget_master();
    }

    fn forget_master(&mut self) {
        self.heard = None;
        self.preempt_deadline = None;
        self.stats.master = None;
        self.master_adver_interval_cs = self.params.interval_cs;
    }

    /// To Master from Initialize, Backup or Fault (RFC 9568 sections 6.4.1 and 6.4.2).
    fn become_master(&mut self, reason: String, now: Instant, out: &mut Vec<Action>) {
        self.transition(State::Master, reason, out);
        self.cancel(Timer::MasterDown, out);
        self.clear_preempt(out);
        out.push(Action::AddVips);
        out.push(Action::Announce);
        self.last_announce = Some(now);
        out.push(Action::SendAdvert {
            priority: self.effective_priority(),
        });
        let next = now + self.advert_interval();
        self.arm(Timer::Advert, next, out);
        self.heard = None;
        self.stats.master = Some(self.params.primary);
    }

    /// To Backup from Initialize, Fault (Master_Adver_Interval reset to ours,
    /// RFC 9568 section 6.4.1) or Master (interval learnt by the caller first).
    fn become_backup(&mut self, reason: String, now: Instant, out: &mut Vec<Action>) {
        let from = self.state;
        self.transition(State::Backup, reason, out);
        self.backup_since = now;
        if from == State::Master {
            out.push(Action::RemoveVips);
            self.cancel(Timer::Advert, out);
        } else {
            self.master_adver_interval_cs = self.params.interval_cs;
            self.heard = None;
            self.stats.master = None;
        }
        let deadline = now + self.master_down_interval();
        self.arm(Timer::MasterDown, deadline, out);
    }

    /// keepalived's Fault state: no adverts, no VIPs, no timers.
    fn enter_fault(&mut self, reason: &str, resign: bool, out: &mut Vec<Action>) {
        let was_master = self.state == State::Master;
        self.transition(State::Fault, reason.into(), out);
        if was_master {
            if resign {
                // The link still works: tell the backups to take over after
                // Skew_Time rather than Master_Down_Interval, as on shutdown.
                out.push(Action::SendAdvert { priority: 0 });
            }
            out.push(Action::RemoveVips);
        }
        self.cancel_all(out);
        self.forget_master();
    }

    /// Out of Fault: a fresh election, as after Startup (RFC 9568 section 6.4.1).
    fn leave_fault(&mut self, cause: &str, now: Instant, out: &mut Vec<Action>) {
        if self.effective_priority() == 255 {
            self.become_master(format!("{cause}: address owner (priority 255)"), now, out);
        } else {
            self.become_backup(cause.into(), now, out);
        }
    }

    fn on_track(&mut self, delta: i32, fault: bool, now: Instant, out: &mut Vec<Action>) {
        let old_priority = self.effective_priority();
        let was_fault = self.track_fault;
        self.track_delta = delta;
        self.track_fault = fault;
        if !self.running {
            return;
        }
        if fault && !was_fault && self.state != State::Fault {
            self.enter_fault("track weight-0 failing", self.link_up, out);
        } else if !fault && was_fault && self.state == State::Fault && self.link_up {
            self.leave_fault("track weight-0 recovered", now, out);
        } else if self.state == State::Master && self.effective_priority() != old_priority {
            // Tell the backups at once so that a preempting backup need not wait
            // for the next periodic advert; in Backup the new priority takes
            // effect at the next advert received (RFC 9568 section 6.4.2).
            self.send_advert_now(now, out);
        }
    }

    fn send_advert_now(&mut self, now: Instant, out: &mut Vec<Action>) {
        out.push(Action::SendAdvert {
            priority: self.effective_priority(),
        });
        let next = now + self.advert_interval();
        self.arm(Timer::Advert, next, out);
    }

    fn on_reconfigure(&mut self, params: Params, now: Instant, out: &mut Vec<Action>) {
        let old_mdi = self.master_down_interval();
        let old = std::mem::replace(&mut self.params, params);
        if !self.running {
            self.master_adver_interval_cs = self.params.interval_cs;
            return;
        }
        match self.state {
            State::Master => {
                if !same_set(&old.vips, &self.params.vips) {
                    // The shell removes what it installed and installs the new
                    // list; the core never diffs addresses itself.
                    out.push(Action::RemoveVips);
                    out.push(Action::AddVips);
                    out.push(Action::Announce);
                    self.last_announce = Some(now);
                }
                if old != self.params {
                    self.send_advert_now(now, out);
                }
            }
            State::Backup => {
                if !self.preempts() {
                    self.clear_preempt(out);
                }
                if self.master_down_interval() != old_mdi {
                    let deadline = now + self.master_down_interval();
                    self.arm(Timer::MasterDown, deadline, out);
                }
            }
            State::Initialize | State::Fault => {}
        }
    }

    /// Receive checks, RFC 3768 section 7.1 and RFC 9568 section 7.1.
    fn check(&self, src: IpAddr, ttl: u8, advert: &Advert) -> Option<DropReason> {
        let p = &self.params;
        // RFC 3768 / RFC 9568 section 7.1: TTL / hop limit must be 255.
        if ttl != 255 {
            return Some(DropReason::BadTtl);
        }
        // Section 7.1: the version must be ours.
        if advert.version != p.version {
            return Some(DropReason::VersionMismatch);
        }
        // Section 7.1: the VRID must be configured on this interface.
        if advert.vrid != p.vrid {
            return Some(DropReason::VridMismatch);
        }
        // RFC 3768 section 7.1: the auth type must match ours and the password
        // too (keepalived drops a type mismatch in both directions). VRRPv3
        // has no authentication (RFC 9568 section 9).
        if p.version == Version::V2 {
            let ok = match (&p.auth, &advert.auth) {
                (Some(ours), Some(Auth::Simple(theirs))) => ours == theirs,
                (None, None | Some(Auth::None(_))) => true,
                _ => false,
            };
            if !ok {
                return Some(DropReason::AuthMismatch);
            }
        }
        // Our own advert looped back (multicast loop, or a reflecting switch).
        if src == p.primary {
            return Some(DropReason::OwnAddress);
        }
        // Unicast mode: only configured peers may speak (keepalived's rule).
        if !p.unicast_peers.is_empty() && !p.unicast_peers.contains(&src) {
            return Some(DropReason::NotAPeer);
        }
        // RFC 9568 section 7.1 (errata): a count of 0 or an interval of 0 is invalid.
        if advert.addrs.is_empty() {
            return Some(DropReason::NoAddresses);
        }
        if advert.interval_cs == 0 {
            return Some(DropReason::ZeroInterval);
        }
        // RFC 3768 section 7.1: the v2 advert interval must equal ours.
        if p.version == Version::V2 && advert.interval_cs != p.interval_cs {
            return Some(DropReason::IntervalMismatch);
        }
        None
    }

    fn on_advert(
        &mut self,
        src: IpAddr,
        ttl: u8,
        checksum: ChecksumForm,
        advert: &Advert,
        now: Instant,
        out: &mut Vec<Action>,
    ) {
        self.stats.adverts_received += 1;
        if let Some(reason) = self.check(src, ttl, advert) {
            *self.stats.drops.entry(reason).or_insert(0) += 1;
            out.push(Action::Drop(reason));
            return;
        }
        // Counted only for valid adverts so that junk cannot grow the map.
        let forms = self.stats.checksum_forms.entry(src).or_insert((0, 0));
        match checksum {
            ChecksumForm::Message => forms.0 += 1,
            ChecksumForm::PseudoHeader => forms.1 += 1,
        }
        if advert.priority == 0 {
            self.stats.priority_zero_received += 1;
        }
        // RFC 3768 section 7.1 says MAY verify the address list and drop a
        // mismatch from a non-owner; RFC 9568 section 7.1 only logs it, and so
        // does keepalived: report it (the shell rate-limits) and carry on.
        if !same_set(&advert.addrs, &self.params.vips) {
            self.stats.address_mismatches += 1;
            out.push(Action::AddressMismatch { src });
        }
        match self.state {
            State::Backup => self.backup_rx(src, advert, now, out),
            State::Master => self.master_rx(src, advert, now, out),
            State::Initialize | State::Fault => {}
        }
    }

    /// Accept `src` as the master: learn its interval (v3) and re-arm
    /// Master_Down_Timer (RFC 9568 section 6.4.2).
    fn accept_master(&mut self, src: IpAddr, advert: &Advert, now: Instant, out: &mut Vec<Action>) {
        if self.params.version == Version::V3 {
            self.master_adver_interval_cs = advert.interval_cs;
        }
        self.heard = Some(Heard {
            src,
            priority: advert.priority,
            at: now,
        });
        self.stats.master = Some(src);
        let deadline = now + self.master_down_interval();
        self.arm(Timer::MasterDown, deadline, out);
    }

    /// Backup state, advert received: RFC 3768 section 6.4.2, RFC 9568 section 6.4.2.
    fn backup_rx(&mut self, src: IpAddr, advert: &Advert, now: Instant, out: &mut Vec<Action>) {
        let ours = self.effective_priority();
        if advert.priority == 0 {
            // The master resigns: take over after Skew_Time only.
            self.heard = Some(Heard {
                src,
                priority: 0,
                at: now,
            });
            let deadline = now + self.skew_time();
            self.arm(Timer::MasterDown, deadline, out);
            return;
        }
        if !self.preempts() || advert.priority >= ours {
            if advert.priority >= ours {
                self.clear_preempt(out);
            }
            self.accept_master(src, advert, now, out);
            return;
        }
        // A lower-priority master and we preempt. Without a delay the advert is
        // discarded and Master_Down_Timer runs out (RFC 9568 section 6.4.2).
        // With preempt-delay (keepalived's extension, as in its vrrp.c): the
        // delay starts at the first lower-priority advert since entering Backup
        // or since an advert of at least our priority; until it elapses the
        // lower master is accepted as if it were higher, and when it elapses
        // the PreemptDelay timer takes over at once.
        if self.params.preempt_delay.is_zero() {
            return;
        }
        let deadline = match self.preempt_deadline {
            Some(d) => d,
            None => {
                let d = now + self.params.preempt_delay;
                self.preempt_deadline = Some(d);
                self.arm(Timer::PreemptDelay, d, out);
                d
            }
        };
        if now < deadline {
            self.accept_master(src, advert, now, out);
        }
    }

    /// Master state, advert received: RFC 3768 section 6.4.3, RFC 9568 section 6.4.3.
    fn master_rx(&mut self, src: IpAddr, advert: &Advert, now: Instant, out: &mut Vec<Action>) {
        let ours = self.effective_priority();
        if advert.priority == 0 {
            // Another master resigned: assert ourselves at once.
            self.send_advert_now(now, out);
            return;
        }
        let yields = advert.priority > ours
            || (advert.priority == ours && address_greater(src, self.params.primary));
        if yields {
            let reason = if advert.priority > ours {
                format!("higher priority {} from {src}", advert.priority)
            } else {
                format!("equal priority, higher address {src}")
            };
            if self.params.version == Version::V3 {
                self.master_adver_interval_cs = advert.interval_cs;
            }
            self.become_backup(reason, now, out);
            // become_backup armed MasterDown with the learnt interval; record the master.
            self.heard = Some(Heard {
                src,
                priority: advert.priority,
                at: now,
            });
            self.stats.master = Some(src);
            return;
        }
        // Lower priority (or equal and lower address): discard, and send an
        // advert at once (RFC 9568 section 6.4.3) so that the other side
        // yields without waiting for our next periodic advert. Hosts and
        // switches may have followed the other master during a split brain:
        // re-announce the VIPs, rate-limited.
        self.send_advert_now(now, out);
        let spacing = self.advert_interval().max(self.params.garp_refresh);
        let due = match self.last_announce {
            Some(last) => now.saturating_since(last) >= spacing,
            None => true,
        };
        if due {
            out.push(Action::Announce);
            self.last_announce = Some(now);
        }
    }

    fn on_timer(&mut self, timer: Timer, now: Instant, out: &mut Vec<Action>) {
        // A timer we no longer have armed is a race with a cancel or re-arm in
        // the shell: ignore it.
        if self.timers.remove(&timer).is_none() {
            return;
        }
        match (self.state, timer) {
            // RFC 3768 / RFC 9568 section 6.4.3: Adver_Timer fires.
            (State::Master, Timer::Advert) => self.send_advert_now(now, out),
            // RFC 3768 / RFC 9568 section 6.4.2: Master_Down_Timer fires.
            (State::Backup, Timer::MasterDown) => {
                let reason = match self.heard {
                    Some(h) if h.priority == 0 => format!(
                        "master down timer expired: {} resigned (priority 0) {} ms ago",
                        h.src,
                        now.saturating_since(h.at).as_millis()
                    ),
                    Some(h) => format!(
                        "master down timer expired: no advert from {} for {} ms",
                        h.src,
                        now.saturating_since(h.at).as_millis()
                    ),
                    None => format!(
                        "master down timer expired: no advert for {} ms",
                        now.saturating_since(self.backup_since).as_millis()
                    ),
                };
                self.become_master(reason, now, out);
            }
            (State::Backup, Timer::PreemptDelay) => {
                self.preempt_deadline = None;
                let ours = self.effective_priority();
                if let Some(h) = self.heard {
                    if self.preempts() && h.priority != 0 && h.priority < ours {
                        let reason = format!(
                            "preempt delay of {} ms elapsed: priority {ours} beats {} from {}",
                            self.params.preempt_delay.as_millis(),
                            h.priority,
                            h.src
                        );
                        self.become_master(reason, now, out);
                    }
                }
            }
            _ => {}
        }
    }
}

/// Address lists compare as sets: order on the wire is not significant.
fn same_set(a: &[IpAddr], b: &[IpAddr]) -> bool {
    let mut a = a.to_vec();
    let mut b = b.to_vec();
    a.sort_unstable();
    a.dedup();
    b.sort_unstable();
    b.dedup();
    a == b
}
