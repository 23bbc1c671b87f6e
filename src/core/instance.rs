//! One VRRP virtual router: the RFC 3768 / RFC 9568 state machine, sans-IO.
//!
//! CONTRACT (pinned; the I/O shell builds on these names): `Params`, `State`,
//! `Event`, `Action`, `Timer`, `DropReason`, `Instance::new`, `Instance::handle`,
//! `Instance::state`, `Instance::effective_priority`, `Instance::stats`.
//! The state machine work may add items; renaming or removing needs a reason.
//!
//! Rules are RFC 3768 (VRRPv2) and RFC 9568 (VRRPv3) sections 6 and 7.1; the
//! comment at each rule names its section. Where the RFCs leave room or
//! keepalived extends them, this module decides as follows:
//!
//! - Actions come in the order the shell must carry them out; a `Transition`
//!   always comes first, so logs read cause before effect. Entering Master:
//!   `Transition, [CancelTimer], AddVips, Announce, SendAdvert, ArmTimer(Advert)`.
//! - Timers: the instance remembers what it armed. A `Timer` event for a timer
//!   that is not armed (cancelled or re-armed meanwhile) is ignored.
//! - Effective priority (`effective_priority`): configured + track weights,
//!   clamped to 1..=254. The address owner (255) ignores weights as keepalived
//!   does, and always preempts (RFC 9568 section 6.1, Preempt_Mode note).
//! - Preempt-delay (keepalived's `preempt_delay`): the delay starts at the
//!   first lower-priority advert seen in Backup (since entering Backup or since
//!   the last advert of at least our priority); until it elapses that master is
//!   accepted as if it were higher; when `Timer::PreemptDelay` fires and the
//!   master is still lower, the Backup takes over at once.
//! - A Master hearing a lower priority sends an advert at once (RFC 9568
//!   section 6.4.3) and an `Announce` at most once per
//!   max(advert interval, `garp_refresh`), to win back hosts and switches after
//!   a split brain.
//! - Fault (keepalived's extension): `LinkDown` or a failing weight-0 track.
//!   No adverts, no VIPs, no timers; a Master leaving for Fault because of a
//!   track (link still up) first sends priority 0 so that backups take over
//!   after Skew_Time. Leaving Fault is a fresh election, as after Startup.
//! - An address-list mismatch is reported (`AddressMismatch`) and processed,
//!   as RFC 9568 section 7.1 and keepalived do (RFC 3768 would drop it).
//!   Adverts are validated in every state, but only Backup and Master act on them.
//! - `Reconfigure` while Master: a changed VIP set emits `RemoveVips` (what the
//!   shell installed), `AddVips` (the new `params().vips`) and `Announce`; any
//!   change is advertised at once. While Backup: Master_Down_Timer is re-armed
//!   if Master_Down_Interval changed. `vrid` and `version` must not change.
//! - `Timer::GarpRefresh` is never armed by the core (reserved).

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
    /// A sync-group command (keepalived's `vrrp_sync_group`): move with the other members.
    Sync {
        /// What the group asks of this member.
        command: SyncCommand,
        /// Why, for the transition reason.
        reason: String,
    },
}

/// What a sync group asks of one member (see [`crate::core::sync_group`]).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum SyncCommand {
    /// Another member became Master: a Backup follows at once.
    Master,
    /// Another member left Master for Backup: a Master follows.
    Backup,
    /// Another member is in Fault: follow it into Fault and stay there.
    Fault,
    /// No member is in Fault by its own cause any more: leave a group-caused Fault.
    Recover,
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
    /// Held in Fault by the sync group (another member's fault).
    sync_fault: bool,
    /// Master_Adver_Interval (RFC 9568 section 6.1), learned in Backup; v2 uses ours.
    master_adver_interval_cs: u16,
    heard: Option<Heard>,
    /// The last lower-priority advert ignored in Backup (we are about to preempt it).
    ignored: Option<Heard>,
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
            sync_fault: false,
            master_adver_interval_cs: interval,
            heard: None,
            ignored: None,
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

    /// In Fault (or bound for it) by a cause of its own: its link is down or a weight-0
    /// track fails. A sync group's hold does not count.
    pub fn own_fault(&self) -> bool {
        self.running && (self.track_fault || !self.link_up)
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
        skew_time(
            self.params.version,
            self.effective_priority(),
            self.mai_cs(),
        )
    }

    /// Master_Down_Interval for our effective priority and the current Master_Adver_Interval.
    pub fn master_down_interval(&self) -> Duration {
        master_down_interval(
            self.params.version,
            self.effective_priority(),
            self.mai_cs(),
        )
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
                if self.running
                    && self.state == State::Fault
                    && !self.track_fault
                    && !self.sync_fault
                {
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
            Event::Sync { command, reason } => self.on_sync(command, &reason, now, &mut out),
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
        self.ignored = None;
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
        self.ignored = None;
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
        self.ignored = None;
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
        } else if !fault
            && was_fault
            && self.state == State::Fault
            && self.link_up
            && !self.sync_fault
        {
            self.leave_fault("track weight-0 recovered", now, out);
        } else if self.state == State::Master && self.effective_priority() != old_priority {
            // Tell the backups at once so that a preempting backup need not wait
            // for the next periodic advert; in Backup the new priority takes
            // effect at the next advert received (RFC 9568 section 6.4.2).
            self.send_advert_now(now, out);
        }
    }

    /// keepalived's vrrp_sync_group: members move together. Commands only
    /// apply to a running member in the matching state, so a late command
    /// (the member moved on its own meanwhile) is a no-op.
    fn on_sync(&mut self, command: SyncCommand, reason: &str, now: Instant, out: &mut Vec<Action>) {
        match command {
            SyncCommand::Master if self.running && self.state == State::Backup => {
                self.become_master(reason.into(), now, out);
            }
            SyncCommand::Backup if self.running && self.state == State::Master => {
                self.become_backup(reason.into(), now, out);
            }
            SyncCommand::Fault => {
                self.sync_fault = true;
                if self.running && matches!(self.state, State::Backup | State::Master) {
                    self.enter_fault(reason, self.link_up, out);
                }
            }
            SyncCommand::Recover => {
                self.sync_fault = false;
                if self.running && self.state == State::Fault && self.link_up && !self.track_fault {
                    self.leave_fault(reason, now, out);
                }
            }
            _ => {}
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
        let lower = Heard {
            src,
            priority: advert.priority,
            at: now,
        };
        if self.params.preempt_delay.is_zero() {
            self.ignored = Some(lower);
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
        } else {
            self.ignored = Some(lower);
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
                let preempting = match (self.ignored, self.heard) {
                    (Some(l), Some(h)) if l.at < h.at => None,
                    (l, _) => l,
                };
                let reason = match (preempting, self.heard) {
                    (Some(l), _) => format!(
                        "master down timer expired: preempting lower priority {} from {}",
                        l.priority, l.src
                    ),
                    (None, Some(h)) if h.priority == 0 => format!(
                        "master down timer expired: {} resigned (priority 0) {} ms ago",
                        h.src,
                        now.saturating_since(h.at).as_millis()
                    ),
                    (None, Some(h)) => format!(
                        "master down timer expired: no advert from {} for {} ms",
                        h.src,
                        now.saturating_since(h.at).as_millis()
                    ),
                    (None, None) => format!(
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const VIP: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 100));
    const ME: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10));
    const LOW: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 5));
    const HIGH: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 201));

    fn params(version: Version, priority: u8) -> Params {
        Params {
            name: "vi".into(),
            vrid: 51,
            version,
            priority,
            interval_cs: 100,
            preempt: true,
            preempt_delay: Duration::ZERO,
            accept: false,
            auth: None,
            vips: vec![VIP],
            primary: ME,
            unicast_peers: vec![],
            garp_refresh: Duration::ZERO,
        }
    }

    fn advert(version: Version, priority: u8) -> Advert {
        Advert {
            version,
            vrid: 51,
            priority,
            interval_cs: 100,
            auth: match version {
                Version::V2 => Some(Auth::None([0; 8])),
                Version::V3 => None,
            },
            addrs: vec![VIP],
        }
    }

    fn ev(src: IpAddr, advert: Advert) -> Event {
        Event::Advert {
            src,
            ttl: 255,
            checksum: ChecksumForm::Message,
            advert,
        }
    }

    fn ms(ms: u64) -> Instant {
        Instant::from_millis(ms)
    }

    fn started(version: Version, priority: u8) -> Instance {
        let mut i = Instance::new(params(version, priority));
        i.handle(Event::Startup, ms(0));
        i
    }

    fn master(version: Version, priority: u8) -> Instance {
        let mut i = started(version, priority);
        if i.state() != State::Master {
            i.handle(Event::Timer(Timer::MasterDown), ms(5000));
        }
        assert_eq!(i.state(), State::Master);
        i
    }

    fn has(actions: &[Action], wanted: &Action) -> bool {
        actions.contains(wanted)
    }

    fn reason(actions: &[Action]) -> Option<&str> {
        actions.iter().find_map(|a| match a {
            Action::Transition { reason, .. } => Some(reason.as_str()),
            _ => None,
        })
    }

    #[test]
    fn skew_and_master_down_interval_v2_and_v3() {
        // RFC 3768 section 6.1: v2 skew is (256 - 100) / 256 s = 609.375 ms.
        assert_eq!(
            skew_time(Version::V2, 100, 300),
            Duration::from_micros(609_375)
        );
        assert_eq!(
            master_down_interval(Version::V2, 100, 100),
            Duration::from_micros(3_609_375)
        );
        // RFC 9568 section 6.1: v3 skew scales with Master_Adver_Interval.
        assert_eq!(
            skew_time(Version::V3, 100, 10),
            Duration::from_nanos(60_937_500)
        );
        assert_eq!(
            master_down_interval(Version::V3, 100, 10).as_micros(),
            360_937
        );
        assert_eq!(
            skew_time(Version::V3, 255, 100),
            Duration::from_nanos(3_906_250)
        );
    }

    #[test]
    fn effective_priority_clamps_and_keeps_owner() {
        assert_eq!(effective_priority(100, 50), 150);
        assert_eq!(effective_priority(100, 200), 254);
        assert_eq!(effective_priority(100, -200), 1);
        assert_eq!(effective_priority(254, 10), 254);
        assert_eq!(effective_priority(255, -50), 255);
        assert_eq!(effective_priority(1, i32::MIN), 1);
        assert_eq!(effective_priority(1, i32::MAX), 254);
    }

    #[test]
    fn address_tie_break_is_unsigned_network_order() {
        let a: IpAddr = "192.0.2.200".parse().unwrap();
        let b: IpAddr = "192.0.2.20".parse().unwrap();
        assert!(address_greater(a, b));
        let c: IpAddr = "2001:db8::ff00".parse().unwrap();
        let d: IpAddr = "2001:db8::1".parse().unwrap();
        assert!(address_greater(c, d));
        assert!(!address_greater(d, c));
    }

    #[test]
    fn names_are_stable() {
        assert_eq!(State::Master.to_string(), "MASTER");
        assert_eq!(State::Backup.to_string(), "BACKUP");
        assert_eq!(State::Fault.to_string(), "FAULT");
        assert_eq!(State::Initialize.to_string(), "INIT");
        let names: Vec<_> = DropReason::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(
            names,
            [
                "bad_ttl",
                "version_mismatch",
                "vrid_mismatch",
                "auth_mismatch",
                "interval_mismatch",
                "own_address",
                "not_a_peer",
                "no_addresses",
                "zero_interval"
            ]
        );
    }

    #[test]
    fn startup_owner_goes_master_directly() {
        let mut i = Instance::new(params(Version::V3, 255));
        let a = i.handle(Event::Startup, ms(0));
        assert_eq!(
            a,
            vec![
                Action::Transition {
                    from: State::Initialize,
                    to: State::Master,
                    reason: "startup as address owner (priority 255)".into()
                },
                Action::AddVips,
                Action::Announce,
                Action::SendAdvert { priority: 255 },
                Action::ArmTimer(Timer::Advert, ms(1000)),
            ]
        );
        assert_eq!(i.stats().master, Some(ME));
    }

    #[test]
    fn startup_non_owner_goes_backup_with_master_down_interval() {
        let mut i = Instance::new(params(Version::V3, 100));
        let a = i.handle(Event::Startup, ms(0));
        assert_eq!(i.state(), State::Backup);
        let mdi = Duration::from_millis(3000) + Duration::from_nanos(609_375_000);
        assert!(has(&a, &Action::ArmTimer(Timer::MasterDown, ms(0) + mdi)));
        // A second startup is ignored.
        assert!(i.handle(Event::Startup, ms(1)).is_empty());
    }

    #[test]
    fn master_down_expiry_makes_master_with_reason() {
        let mut i = started(Version::V3, 100);
        i.handle(ev(HIGH, advert(Version::V3, 200)), ms(1000));
        let a = i.handle(Event::Timer(Timer::MasterDown), ms(4609));
        assert_eq!(i.state(), State::Master);
        assert_eq!(
            reason(&a),
            Some("master down timer expired: no advert from 192.0.2.201 for 3609 ms")
        );
        assert!(has(&a, &Action::AddVips));
        assert!(has(&a, &Action::SendAdvert { priority: 100 }));
        assert!(has(&a, &Action::ArmTimer(Timer::Advert, ms(5609))));
    }

    #[test]
    fn stale_timer_is_ignored() {
        let mut i = started(Version::V3, 100);
        assert!(i.handle(Event::Timer(Timer::Advert), ms(10)).is_empty());
        assert_eq!(i.state(), State::Backup);
    }

    #[test]
    fn backup_rearms_on_higher_and_learns_v3_interval() {
        let mut i = started(Version::V3, 100);
        let mut adv = advert(Version::V3, 200);
        adv.interval_cs = 50;
        let a = i.handle(ev(HIGH, adv), ms(100));
        // MDI = 3 * 500 ms + 156 * 500 / 256 ms = 1804.6875 ms.
        let want = ms(100) + Duration::from_micros(1_804_687) + Duration::from_nanos(500);
        assert_eq!(a, vec![Action::ArmTimer(Timer::MasterDown, want)]);
        assert_eq!(i.master_adver_interval(), Duration::from_millis(500));
        assert_eq!(i.stats().master, Some(HIGH));
    }

    #[test]
    fn backup_v2_does_not_learn_interval() {
        let mut i = started(Version::V2, 100);
        i.handle(ev(HIGH, advert(Version::V2, 200)), ms(100));
        assert_eq!(i.master_adver_interval(), Duration::from_secs(1));
    }

    #[test]
    fn backup_priority_zero_arms_skew_time() {
        let mut i = started(Version::V3, 100);
        i.handle(ev(HIGH, advert(Version::V3, 200)), ms(100));
        let a = i.handle(ev(HIGH, advert(Version::V3, 0)), ms(200));
        let want = ms(200) + Duration::from_nanos(609_375_000);
        assert_eq!(a, vec![Action::ArmTimer(Timer::MasterDown, want)]);
        let a = i.handle(Event::Timer(Timer::MasterDown), want);
        assert_eq!(
            reason(&a),
            Some("master down timer expired: 192.0.2.201 resigned (priority 0) 609 ms ago")
        );
        assert_eq!(i.stats().priority_zero_received, 1);
    }

    #[test]
    fn backup_ignores_lower_priority_when_preempting() {
        let mut i = started(Version::V3, 100);
        let a = i.handle(ev(LOW, advert(Version::V3, 50)), ms(100));
        assert!(a.is_empty());
        assert_eq!(i.stats().master, None);
        let a = i.handle(Event::Timer(Timer::MasterDown), ms(3609));
        assert_eq!(
            reason(&a),
            Some("master down timer expired: preempting lower priority 50 from 192.0.2.5")
        );
    }

    #[test]
    fn backup_without_preempt_accepts_lower_priority() {
        let mut p = params(Version::V3, 100);
        p.preempt = false;
        let mut i = Instance::new(p);
        i.handle(Event::Startup, ms(0));
        let a = i.handle(ev(LOW, advert(Version::V3, 50)), ms(100));
        assert_eq!(a.len(), 1);
        assert!(matches!(a[0], Action::ArmTimer(Timer::MasterDown, _)));
        assert_eq!(i.stats().master, Some(LOW));
    }

    #[test]
    fn owner_always_preempts_even_with_preempt_off() {
        let mut p = params(Version::V3, 255);
        p.preempt = false;
        let mut i = Instance::new(p);
        i.handle(Event::LinkDown, ms(0));
        i.handle(Event::Startup, ms(0));
        assert_eq!(i.state(), State::Fault);
        let a = i.handle(Event::LinkUp, ms(10));
        assert_eq!(i.state(), State::Master);
        assert_eq!(
            reason(&a),
            Some("interface up: address owner (priority 255)")
        );
    }

    #[test]
    fn preempt_delay_accepts_lower_master_until_it_elapses() {
        let mut p = params(Version::V3, 150);
        p.preempt_delay = Duration::from_secs(5);
        let mut i = Instance::new(p);
        i.handle(Event::Startup, ms(0));
        let a = i.handle(ev(LOW, advert(Version::V3, 100)), ms(1000));
        assert!(has(&a, &Action::ArmTimer(Timer::PreemptDelay, ms(6000))));
        assert!(a
            .iter()
            .any(|x| matches!(x, Action::ArmTimer(Timer::MasterDown, _))));
        // Further lower adverts keep the same deadline.
        let a = i.handle(ev(LOW, advert(Version::V3, 100)), ms(2000));
        assert!(!a
            .iter()
            .any(|x| matches!(x, Action::ArmTimer(Timer::PreemptDelay, _))));
        let a = i.handle(Event::Timer(Timer::PreemptDelay), ms(6000));
        assert_eq!(i.state(), State::Master);
        assert_eq!(
            reason(&a),
            Some("preempt delay of 5000 ms elapsed: priority 150 beats 100 from 192.0.2.5")
        );
    }

    #[test]
    fn preempt_delay_reset_by_higher_master() {
        let mut p = params(Version::V3, 150);
        p.preempt_delay = Duration::from_secs(5);
        let mut i = Instance::new(p);
        i.handle(Event::Startup, ms(0));
        i.handle(ev(LOW, advert(Version::V3, 100)), ms(1000));
        let a = i.handle(ev(HIGH, advert(Version::V3, 200)), ms(2000));
        assert!(has(&a, &Action::CancelTimer(Timer::PreemptDelay)));
        assert_eq!(i.deadline(Timer::PreemptDelay), None);
    }

    #[test]
    fn master_priority_zero_sends_advert_at_once() {
        let mut i = master(Version::V3, 100);
        let a = i.handle(ev(LOW, advert(Version::V3, 0)), ms(6000));
        assert_eq!(
            a,
            vec![
                Action::SendAdvert { priority: 100 },
                Action::ArmTimer(Timer::Advert, ms(7000))
            ]
        );
    }

    #[test]
    fn master_yields_to_higher_priority() {
        let mut i = master(Version::V3, 100);
        let mut adv = advert(Version::V3, 200);
        adv.interval_cs = 200;
        let a = i.handle(ev(LOW, adv), ms(6000));
        assert_eq!(i.state(), State::Backup);
        assert_eq!(reason(&a), Some("higher priority 200 from 192.0.2.5"));
        assert!(has(&a, &Action::RemoveVips));
        assert!(has(&a, &Action::CancelTimer(Timer::Advert)));
        // MDI learnt from the 2 s interval: 6 s + 156 * 2 s / 256.
        let want = ms(6000) + Duration::from_millis(6000) + Duration::from_micros(1_218_750);
        assert!(has(&a, &Action::ArmTimer(Timer::MasterDown, want)));
        assert_eq!(i.stats().master, Some(LOW));
    }

    #[test]
    fn master_equal_priority_higher_address_wins() {
        let mut i = master(Version::V3, 100);
        let a = i.handle(ev(HIGH, advert(Version::V3, 100)), ms(6000));
        assert_eq!(i.state(), State::Backup);
        assert_eq!(
            reason(&a),
            Some("equal priority, higher address 192.0.2.201")
        );
    }

    #[test]
    fn master_equal_priority_lower_address_is_discarded() {
        let mut i = master(Version::V3, 100);
        let a = i.handle(ev(LOW, advert(Version::V3, 100)), ms(6000));
        assert_eq!(i.state(), State::Master);
        assert!(has(&a, &Action::SendAdvert { priority: 100 }));
    }

    #[test]
    fn master_lower_priority_sends_advert_and_rate_limited_announce() {
        let mut i = master(Version::V3, 100);
        // Became master at 5000 ms with an announce: within one interval no new one.
        let a = i.handle(ev(LOW, advert(Version::V3, 50)), ms(5500));
        assert_eq!(
            a,
            vec![
                Action::SendAdvert { priority: 100 },
                Action::ArmTimer(Timer::Advert, ms(6500))
            ]
        );
        let a = i.handle(ev(LOW, advert(Version::V3, 50)), ms(6000));
        assert!(has(&a, &Action::Announce));
        let a = i.handle(ev(LOW, advert(Version::V3, 50)), ms(6999));
        assert!(!has(&a, &Action::Announce));
        let a = i.handle(ev(LOW, advert(Version::V3, 50)), ms(7000));
        assert!(has(&a, &Action::Announce));
    }

    #[test]
    fn announce_spacing_honours_garp_refresh() {
        let mut p = params(Version::V3, 255);
        p.garp_refresh = Duration::from_secs(10);
        let mut i = Instance::new(p);
        i.handle(Event::Startup, ms(0));
        let a = i.handle(ev(LOW, advert(Version::V3, 50)), ms(5000));
        assert!(!has(&a, &Action::Announce));
        let a = i.handle(ev(LOW, advert(Version::V3, 50)), ms(10_000));
        assert!(has(&a, &Action::Announce));
    }

    #[test]
    fn advert_timer_resends_and_rearms() {
        let mut i = master(Version::V2, 255);
        let a = i.handle(Event::Timer(Timer::Advert), ms(1000));
        assert_eq!(
            a,
            vec![
                Action::SendAdvert { priority: 255 },
                Action::ArmTimer(Timer::Advert, ms(2000))
            ]
        );
    }

    #[test]
    fn shutdown_master_resigns() {
        let mut i = master(Version::V3, 100);
        let a = i.handle(Event::Shutdown, ms(6000));
        assert_eq!(
            a,
            vec![
                Action::Transition {
                    from: State::Master,
                    to: State::Initialize,
                    reason: "shutdown".into()
                },
                Action::SendAdvert { priority: 0 },
                Action::RemoveVips,
                Action::CancelTimer(Timer::Advert),
            ]
        );
        assert_eq!(i.stats().priority_zero_sent, 1);
        assert!(i.handle(Event::Shutdown, ms(6001)).is_empty());
    }

    #[test]
    fn shutdown_backup_cancels_timer() {
        let mut i = started(Version::V3, 100);
        let a = i.handle(Event::Shutdown, ms(10));
        assert!(has(&a, &Action::CancelTimer(Timer::MasterDown)));
        assert!(!has(&a, &Action::SendAdvert { priority: 0 }));
        assert_eq!(i.state(), State::Initialize);
    }

    #[test]
    fn link_down_master_goes_fault_without_advert() {
        let mut i = master(Version::V3, 100);
        let a = i.handle(Event::LinkDown, ms(6000));
        assert_eq!(i.state(), State::Fault);
        assert_eq!(reason(&a), Some("interface down"));
        assert!(has(&a, &Action::RemoveVips));
        assert!(has(&a, &Action::CancelTimer(Timer::Advert)));
        assert!(!a.iter().any(|x| matches!(x, Action::SendAdvert { .. })));
        // Adverts in Fault are not acted upon.
        let a = i.handle(ev(HIGH, advert(Version::V3, 200)), ms(6100));
        assert!(a.is_empty());
        let a = i.handle(Event::LinkUp, ms(7000));
        assert_eq!(i.state(), State::Backup);
        assert_eq!(reason(&a), Some("interface up"));
    }

    #[test]
    fn track_fault_master_resigns_with_priority_zero() {
        let mut i = master(Version::V3, 100);
        let a = i.handle(
            Event::Track {
                delta: 0,
                fault: true,
            },
            ms(6000),
        );
        assert_eq!(i.state(), State::Fault);
        assert_eq!(reason(&a), Some("track weight-0 failing"));
        assert!(has(&a, &Action::SendAdvert { priority: 0 }));
        // The link coming up does not clear a track fault.
        i.handle(Event::LinkUp, ms(6500));
        assert_eq!(i.state(), State::Fault);
        let a = i.handle(
            Event::Track {
                delta: 0,
                fault: false,
            },
            ms(7000),
        );
        assert_eq!(i.state(), State::Backup);
        assert_eq!(reason(&a), Some("track weight-0 recovered"));
    }

    #[test]
    fn startup_while_faulty_goes_fault() {
        let mut i = Instance::new(params(Version::V3, 100));
        i.handle(
            Event::Track {
                delta: 0,
                fault: true,
            },
            ms(0),
        );
        let a = i.handle(Event::Startup, ms(0));
        assert_eq!(i.state(), State::Fault);
        assert_eq!(reason(&a), Some("startup: track weight-0 failing"));
    }

    #[test]
    fn priority_change_while_master_advertises_at_once() {
        let mut i = master(Version::V3, 100);
        let a = i.handle(
            Event::Track {
                delta: -30,
                fault: false,
            },
            ms(5500),
        );
        assert_eq!(i.effective_priority(), 70);
        assert_eq!(
            a,
            vec![
                Action::SendAdvert { priority: 70 },
                Action::ArmTimer(Timer::Advert, ms(6500))
            ]
        );
        // Same priority again: nothing to say.
        assert!(i
            .handle(
                Event::Track {
                    delta: -30,
                    fault: false
                },
                ms(5600)
            )
            .is_empty());
    }

    #[test]
    fn priority_change_while_backup_decides_at_next_advert() {
        let mut i = started(Version::V3, 100);
        i.handle(ev(HIGH, advert(Version::V3, 120)), ms(100));
        assert!(i
            .handle(
                Event::Track {
                    delta: 50,
                    fault: false
                },
                ms(200)
            )
            .is_empty());
        // Now 150 > 120: the master's advert is ignored and the timer runs out.
        assert!(i
            .handle(ev(HIGH, advert(Version::V3, 120)), ms(1100))
            .is_empty());
    }

    #[test]
    fn owner_ignores_weights() {
        let mut i = master(Version::V3, 255);
        assert!(i
            .handle(
                Event::Track {
                    delta: -100,
                    fault: false
                },
                ms(10)
            )
            .is_empty());
        assert_eq!(i.effective_priority(), 255);
    }

    #[test]
    fn reconfigure_master_priority_and_vips() {
        let mut i = master(Version::V3, 100);
        let mut p = params(Version::V3, 120);
        let a = i.handle(Event::Reconfigure(p.clone()), ms(5500));
        assert_eq!(
            a,
            vec![
                Action::SendAdvert { priority: 120 },
                Action::ArmTimer(Timer::Advert, ms(6500))
            ]
        );
        p.vips.push("192.0.2.101".parse().unwrap());
        let a = i.handle(Event::Reconfigure(p.clone()), ms(5600));
        assert_eq!(
            &a[..3],
            &[Action::RemoveVips, Action::AddVips, Action::Announce]
        );
        assert!(i.handle(Event::Reconfigure(p), ms(5700)).is_empty());
    }

    #[test]
    fn reconfigure_backup_rearms_when_mdi_changes() {
        let mut i = started(Version::V2, 100);
        let mut p = params(Version::V2, 200);
        p.interval_cs = 200;
        let a = i.handle(Event::Reconfigure(p), ms(100));
        let mdi = Duration::from_secs(6) + Duration::from_nanos(56 * 1_000_000_000 / 256);
        assert_eq!(a, vec![Action::ArmTimer(Timer::MasterDown, ms(100) + mdi)]);
    }

    fn drop_of(i: &mut Instance, e: Event) -> Vec<Action> {
        i.handle(e, ms(100))
    }

    #[test]
    fn receive_checks_drop_and_count() {
        let mut i = started(Version::V2, 100);
        let good = advert(Version::V2, 200);
        let cases: Vec<(Event, DropReason)> = vec![
            (
                Event::Advert {
                    src: HIGH,
                    ttl: 254,
                    checksum: ChecksumForm::Message,
                    advert: good.clone(),
                },
                DropReason::BadTtl,
            ),
            (
                ev(HIGH, advert(Version::V3, 200)),
                DropReason::VersionMismatch,
            ),
            (
                ev(
                    HIGH,
                    Advert {
                        vrid: 52,
                        ..good.clone()
                    },
                ),
                DropReason::VridMismatch,
            ),
            (
                ev(
                    HIGH,
                    Advert {
                        auth: Some(Auth::Simple(*b"secret\0\0")),
                        ..good.clone()
                    },
                ),
                DropReason::AuthMismatch,
            ),
            (
                ev(
                    HIGH,
                    Advert {
                        interval_cs: 200,
                        ..good.clone()
                    },
                ),
                DropReason::IntervalMismatch,
            ),
            (ev(ME, good.clone()), DropReason::OwnAddress),
            (
                ev(
                    HIGH,
                    Advert {
                        addrs: vec![],
                        ..good.clone()
                    },
                ),
                DropReason::NoAddresses,
            ),
            (
                ev(
                    HIGH,
                    Advert {
                        interval_cs: 0,
                        ..good.clone()
                    },
                ),
                DropReason::ZeroInterval,
            ),
        ];
        let n = cases.len() as u64;
        for (e, why) in cases {
            assert_eq!(drop_of(&mut i, e), vec![Action::Drop(why)], "{why}");
            assert_eq!(i.stats().drops_for(why), 1);
        }
        assert_eq!(i.stats().total_drops(), n);
        assert_eq!(i.stats().adverts_received, n);
        assert!(i.stats().checksum_forms.is_empty());
        assert_eq!(i.state(), State::Backup);
    }

    #[test]
    fn v2_auth_must_match_configured_password() {
        let mut p = params(Version::V2, 100);
        p.auth = Some(*b"pass\0\0\0\0");
        let mut i = Instance::new(p);
        i.handle(Event::Startup, ms(0));
        let wrong = Advert {
            auth: Some(Auth::Simple(*b"word\0\0\0\0")),
            ..advert(Version::V2, 200)
        };
        assert_eq!(
            i.handle(ev(HIGH, wrong), ms(1)),
            vec![Action::Drop(DropReason::AuthMismatch)]
        );
        let none = advert(Version::V2, 200);
        assert_eq!(
            i.handle(ev(HIGH, none), ms(2)),
            vec![Action::Drop(DropReason::AuthMismatch)]
        );
        let right = Advert {
            auth: Some(Auth::Simple(*b"pass\0\0\0\0")),
            ..advert(Version::V2, 200)
        };
        let a = i.handle(ev(HIGH, right), ms(3));
        assert!(matches!(a[..], [Action::ArmTimer(Timer::MasterDown, _)]));
    }

    #[test]
    fn unicast_mode_drops_non_peers() {
        let mut p = params(Version::V3, 100);
        p.unicast_peers = vec![HIGH];
        let mut i = Instance::new(p);
        i.handle(Event::Startup, ms(0));
        assert_eq!(
            i.handle(ev(LOW, advert(Version::V3, 200)), ms(1)),
            vec![Action::Drop(DropReason::NotAPeer)]
        );
        assert_eq!(i.handle(ev(HIGH, advert(Version::V3, 200)), ms(1)).len(), 1);
    }

    #[test]
    fn address_mismatch_is_reported_but_processed() {
        let mut i = master(Version::V3, 100);
        let adv = Advert {
            addrs: vec!["192.0.2.99".parse().unwrap()],
            ..advert(Version::V3, 200)
        };
        let a = i.handle(ev(HIGH, adv), ms(6000));
        assert_eq!(a[0], Action::AddressMismatch { src: HIGH });
        assert_eq!(i.state(), State::Backup);
        assert_eq!(i.stats().address_mismatches, 1);
        // Order on the wire does not matter.
        let mut p = params(Version::V3, 100);
        p.vips = vec![
            "192.0.2.100".parse().unwrap(),
            "192.0.2.101".parse().unwrap(),
        ];
        let mut j = Instance::new(p.clone());
        j.handle(Event::Startup, ms(0));
        let adv = Advert {
            addrs: p.vips.iter().rev().copied().collect(),
            ..advert(Version::V3, 200)
        };
        assert!(!has(
            &j.handle(ev(HIGH, adv), ms(1)),
            &Action::AddressMismatch { src: HIGH }
        ));
    }

    #[test]
    fn checksum_forms_counted_per_peer() {
        let mut i = started(Version::V3, 100);
        for form in [
            ChecksumForm::Message,
            ChecksumForm::PseudoHeader,
            ChecksumForm::PseudoHeader,
        ] {
            i.handle(
                Event::Advert {
                    src: HIGH,
                    ttl: 255,
                    checksum: form,
                    advert: advert(Version::V3, 200),
                },
                ms(1),
            );
        }
        assert_eq!(i.stats().checksum_forms.get(&HIGH), Some(&(1, 2)));
    }

    #[test]
    fn reconfigure_preempt_off_cancels_pending_preempt_delay() {
        let mut p = params(Version::V3, 150);
        p.preempt_delay = Duration::from_secs(5);
        let mut i = Instance::new(p.clone());
        i.handle(Event::Startup, ms(0));
        i.handle(ev(LOW, advert(Version::V3, 100)), ms(1000));
        p.preempt = false;
        let a = i.handle(Event::Reconfigure(p), ms(1500));
        assert_eq!(a, vec![Action::CancelTimer(Timer::PreemptDelay)]);
    }

    #[test]
    fn link_down_backup_cancels_master_down() {
        let mut i = started(Version::V2, 100);
        let a = i.handle(Event::LinkDown, ms(10));
        assert_eq!(
            a,
            vec![
                Action::Transition {
                    from: State::Backup,
                    to: State::Fault,
                    reason: "interface down".into()
                },
                Action::CancelTimer(Timer::MasterDown)
            ]
        );
        assert_eq!(i.deadline(Timer::MasterDown), None);
    }

    #[test]
    fn events_before_startup_are_only_recorded() {
        let mut i = Instance::new(params(Version::V3, 100));
        assert!(i
            .handle(
                Event::Track {
                    delta: 20,
                    fault: false
                },
                ms(0)
            )
            .is_empty());
        assert!(i.handle(Event::LinkUp, ms(0)).is_empty());
        assert!(i.handle(Event::Timer(Timer::MasterDown), ms(0)).is_empty());
        assert_eq!(i.state(), State::Initialize);
        assert_eq!(i.effective_priority(), 120);
        let a = i.handle(Event::Startup, ms(0));
        // Skew uses the effective priority: (256 - 120) / 256 s.
        let mdi = Duration::from_secs(3) + Duration::from_nanos(136 * 1_000_000_000 / 256);
        assert!(has(&a, &Action::ArmTimer(Timer::MasterDown, ms(0) + mdi)));
    }

    #[test]
    fn stats_count_transitions_and_sends() {
        let mut i = master(Version::V3, 100);
        i.handle(Event::Timer(Timer::Advert), ms(6000));
        let s = i.stats();
        assert_eq!(s.transitions, 2);
        assert_eq!(s.became_master, 1);
        assert_eq!(s.adverts_sent, 2);
    }
}
