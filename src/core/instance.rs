//! One VRRP virtual router: the RFC 3768 / RFC 9568 state machine, sans-IO.
//!
//! Feed it [`Event`]s with the current time ([`Instance::handle`]); ask it when it
//! next needs the clock ([`Instance::poll_timeout`]) and let it fire its timers
//! ([`Instance::handle_timeout`]). It returns complete instructions ([`Action`]): the
//! encoded adverts with their destinations, the exact VIPs to install or remove, the
//! announcements with their VIPs; the shell carries them out and never reads state
//! back to decide anything.
//!
//! Rules are RFC 3768 (VRRPv2) and RFC 9568 (VRRPv3) sections 6 and 7.1; the
//! comment at each rule names its section. Where the RFCs leave room or
//! keepalived extends them, this module decides as follows:
//!
//! - Actions come in the order the shell must carry them out; a `Transition`
//!   always comes first, so logs read cause before effect. Entering Master:
//!   `Transition, InstallVips, Announce, Send`.
//! - Timers are the instance's own: it arms and cancels them and reports the
//!   earliest deadline. A `Timer` event for a timer that is not armed is ignored.
//! - Effective priority (`effective_priority`): configured + track weights,
//!   clamped to 1..=254. The address owner (255) ignores weights as keepalived
//!   does, and always preempts (RFC 9568 section 6.1, Preempt_Mode note).
//! - Preempt-delay (keepalived's `preempt_delay`): the delay starts at the
//!   first lower-priority advert seen in Backup (since entering Backup or since
//!   the last advert of at least our priority); until it elapses that master is
//!   accepted as if it were higher; when `Timer::PreemptDelay` fires and the
//!   master is still lower, the Backup takes over at once.
//! - Announcements (gratuitous ARP / unsolicited NA): on entering Master, and
//!   again `garp_delay` later (keepalived's `garp_master_delay`, a second burst
//!   for switches and hosts that missed the first); with `garp_refresh` set,
//!   the second burst comes after min(`garp_delay`, `garp_refresh`) and then every
//!   `garp_refresh` while Master (`Timer::GarpRefresh` schedules both).
//! - A Master hearing a lower priority sends an advert at once (RFC 9568
//!   section 6.4.3) and an `Announce` at most once per advert interval, to win
//!   back hosts and switches after a split brain. A Master that yields sends one
//!   last advert at its own priority, so that a winner whose advert arrived first
//!   (and which would never hear a lower priority) re-announces too. Every advert
//!   with a non-zero priority heard while Master is reported (`OtherMaster`).
//! - A VIP that cannot be installed (`VipFailed`): a Master resigns with
//!   priority 0 into Fault, and after a back-off (1 s, doubling to 60 s) rejoins as
//!   a Backup that takes over only from a silent master (no preemption) until an
//!   install succeeds (`VipInstalled`). A VIP removed by someone else (`VipLost`) is
//!   put back and announced; if that fails, the same.
//! - Drain (`Drain`, `Resume`, the operator's): a Master hands over as on
//!   shutdown (priority 0, VIPs released) and the instance stays Backup, never
//!   Master, until resumed. Without `force`, when no other router has ever been heard
//!   for the VRID, a Backup refuses (nobody would hold the VIPs), and a Master, which
//!   never hears its backups (they are silent), makes before it breaks
//!   (`HandingOver`): it sends priority 0, keeps its VIPs and stays silent until an
//!   advert from another router shows that one took over (then it releases them and
//!   is drained), or, after `Timer::Handover`, refuses and advertises again as Master.
//! - Fault (keepalived's extension): `LinkDown` or a failing weight-0 track.
//!   No adverts, no VIPs, no timers; a Master leaving for Fault because of a
//!   track (link still up) first sends priority 0 so that backups take over
//!   after Skew_Time. Leaving Fault is a fresh election, as after Startup.
//! - An address-list mismatch is reported (`AddressMismatch`) and processed,
//!   as RFC 9568 section 7.1 and keepalived do (RFC 3768 would drop it).
//!   Adverts are validated in every state, but only Backup and Master act on them.
//! - Witnesses (`Params::witness`): when Master_Down_Timer fires because the master
//!   went silent (or none was ever heard), the Backup first asks its witnesses
//!   (`AskWitnesses`) and waits at most `timeout` (`Timer::Witness`). An answer that
//!   names another router (not us) with a priority above 0 heard less than
//!   Master_Down_Interval minus one Master_Adver_Interval ago keeps it Backup
//!   (`WitnessHold`, Master_Down_Timer re-armed): the master is alive, only unreachable
//!   from here. The interval off is the margin between the two cases: a master that
//!   died was last heard by the witness about when we last heard it, a whole
//!   Master_Down_Interval ago; one still advertising was heard at most an interval ago
//!   (two if the witness missed one advert). Once every witness has answered
//!   otherwise, or at the deadline with at least one such answer, it takes over. With
//!   no useful answer (none, or only from witnesses that have listened for less than
//!   Master_Down_Interval) `WitnessPolicy::Available` takes over as VRRP says and
//!   `Strict` stays Backup. A resigning master (priority 0) and a lower master being
//!   preempted spoke for themselves: no witness is asked.
//! - `Reconfigure` while Master: the VIPs are diffed here: `RemoveVips` with the
//!   installed ones no longer configured, `InstallVips` with the new ones, then
//!   an `Announce` of the whole set; any change is advertised at once. While
//!   Backup: Master_Down_Timer is re-armed if Master_Down_Interval changed.
//!   `vrid` and `version` must not change.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use super::packet::{
    self, Advert, Auth, ChecksumForm, ChecksumMode, DecodeError, EncodeError, Family, Version,
};
use super::reason::{
    FaultCause, MasterDown, Reason, RecoveryCause, SyncReason, WitnessHold, WitnessVerdict,
};
use super::time::Instant;
use super::track::{Contribution, Tracking};

/// At most this many peers are remembered per instance (only senders of valid adverts count).
pub const MAX_PEERS: usize = 32;

/// A timer that fires this much later than its deadline fires at the time it is handled,
/// not at its deadline: after a stall the instance does not replay the missed adverts.
pub const LATE_TOLERANCE: Duration = Duration::from_millis(5);

/// The first back-off after a VIP could not be installed; it doubles up to [`VIP_RETRY_MAX`].
pub const VIP_RETRY_MIN: Duration = Duration::from_secs(1);

/// The longest back-off between attempts to install a VIP that failed.
pub const VIP_RETRY_MAX: Duration = Duration::from_secs(60);

/// keepalived's `garp_master_delay` default: the second announcement burst after entering Master.
pub const DEFAULT_GARP_DELAY: Duration = Duration::from_secs(5);

/// One virtual address as configured: where it goes and how it is labelled.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Vip {
    /// The address.
    pub addr: IpAddr,
    /// Prefix length.
    pub prefix: u8,
    /// The interface it goes on when not the instance's own (`dev=`).
    pub dev: Option<String>,
    /// IPv4 address label (`label=`).
    pub label: Option<String>,
}

impl Vip {
    /// A VIP on the instance's own interface, without a label.
    pub fn new(addr: IpAddr, prefix: u8) -> Vip {
        Vip {
            addr,
            prefix,
            dev: None,
            label: None,
        }
    }
}

impl fmt::Display for Vip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

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
    pub vips: Vec<Vip>,
    /// Our primary address on the interface (advert source, tie-break).
    pub primary: IpAddr,
    /// Unicast peers; empty = multicast. Adverts from other sources are dropped.
    pub unicast_peers: Vec<IpAddr>,
    /// Gratuitous ARPs / NAs per VIP in each announcement burst.
    pub garp_repeat: u32,
    /// When the second announcement burst follows the first (zero: none).
    pub garp_delay: Duration,
    /// Period of the announcement refresh while Master (zero: none), and the minimum
    /// spacing of the re-announce a master sends on a lower-priority advert.
    pub garp_refresh: Duration,
    /// Checksum form of IPv4 VRRPv3 adverts we send.
    pub checksum: ChecksumMode,
    /// The witnesses asked before taking over from a silent master; `None`: plain VRRP.
    pub witness: Option<WitnessParams>,
}

/// What a Backup does when no witness gives a useful answer in time.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub enum WitnessPolicy {
    /// Take over as VRRP says: availability first (a split brain stays possible).
    #[default]
    Available,
    /// Stay Backup: no split brain, but no MASTER at all if the master really died
    /// while the witnesses are unreachable.
    Strict,
}

/// How an instance uses its witnesses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WitnessParams {
    /// How many witnesses the shell asks.
    pub count: usize,
    /// What to do without a useful answer.
    pub policy: WitnessPolicy,
    /// How long to wait for the answers.
    pub timeout: Duration,
}

/// The question for the witnesses: everything the shell needs to ask them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WitnessQuery {
    /// Virtual router id.
    pub vrid: u8,
    /// Address family of the instance.
    pub family: Family,
    /// The master last heard and its priority, if any.
    pub master: Option<(IpAddr, u8)>,
    /// Master_Down_Interval: a router heard more recently than this is alive.
    pub master_down: Duration,
    /// How long the instance waits for the answers.
    pub timeout: Duration,
}

/// One router a witness heard advertising.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WitnessHeard {
    /// Its address.
    pub src: IpAddr,
    /// The priority of its last advert.
    pub priority: u8,
    /// Time between its last advert and the answer.
    pub ago: Duration,
}

/// One witness's answer to the current question (the shell checked that it is one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WitnessAnswer {
    /// How long the witness has been hearing adverts.
    pub listening: Duration,
    /// The routers it heard recently for the VRID and family.
    pub heard: Vec<WitnessHeard>,
}

/// VRRP state (operator-facing names as keepalived's).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
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
    /// Master: the next announcement burst (the second one, then each refresh).
    GarpRefresh,
    /// Fault: the back-off after a VIP that could not be installed ran out.
    Retry,
    /// Backup: the deadline for the witnesses' answers.
    Witness,
    /// Master handing over on a drain: the deadline for another router to take over.
    Handover,
}

/// How many timers an instance has.
const TIMERS: usize = 7;

impl Timer {
    /// Every timer, in a stable order.
    pub const ALL: [Timer; TIMERS] = [
        Timer::Advert,
        Timer::MasterDown,
        Timer::PreemptDelay,
        Timer::GarpRefresh,
        Timer::Retry,
        Timer::Witness,
        Timer::Handover,
    ];

    const fn index(self) -> usize {
        match self {
            Timer::Advert => 0,
            Timer::MasterDown => 1,
            Timer::PreemptDelay => 2,
            Timer::GarpRefresh => 3,
            Timer::Retry => 4,
            Timer::Witness => 5,
            Timer::Handover => 6,
        }
    }
}

/// Input to the state machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// The instance starts (RFC: Startup event).
    Startup,
    /// The instance stops (RFC: Shutdown event).
    Shutdown,
    /// A VRRP packet arrived on our interface for our VRID: decoded and checked here.
    Packet {
        /// IP source address.
        src: IpAddr,
        /// IP destination address (the group, or our address in unicast mode).
        dst: IpAddr,
        /// IP TTL or hop limit.
        ttl: u8,
        /// The VRRP message (IP header stripped).
        payload: Vec<u8>,
    },
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
    /// A timer fired (the instance ignores it when it is not armed).
    Timer(Timer),
    /// The interface came up.
    LinkUp,
    /// The interface went down.
    LinkDown,
    /// Tracking changed: the new aggregate with its parts.
    Track(Tracking),
    /// New parameters from a config reload (same interface, vrid and version).
    Reconfigure(Params),
    /// A sync-group command (keepalived's `vrrp_sync_group`): move with the other members.
    Sync {
        /// What the group asks of this member.
        command: SyncCommand,
        /// Why, for the transition reason.
        reason: SyncReason,
    },
    /// The operator drains the instance: hand over, then stay BACKUP until [`Event::Resume`].
    /// Without `force`, when no other router has been heard for this VRID, a Backup refuses
    /// and a Master hands over only once another router has taken over (see the module doc).
    Drain {
        /// Drain even though nobody may take over.
        force: bool,
    },
    /// The operator ends a drain: the instance is electable again.
    Resume,
    /// A VIP of an `InstallVips` is on the link now.
    VipInstalled(Vip),
    /// A VIP of an `InstallVips` could not be installed.
    VipFailed {
        /// The VIP.
        vip: Vip,
        /// What the system said.
        error: String,
    },
    /// An installed VIP was removed from the link by someone else.
    VipLost(Vip),
    /// A witness answered the question of the last `AskWitnesses`.
    WitnessAnswer(WitnessAnswer),
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

/// One encoded advert and where it goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit {
    /// IP source address (our primary, or `unicast-source`).
    pub src: IpAddr,
    /// IP destination: the multicast group or one unicast peer.
    pub dst: IpAddr,
    /// The VRRP message, checksum included (the IP header is the socket's).
    pub payload: Arc<[u8]>,
}

/// An advert to send: its priority and one packet per destination.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Advertise {
    /// The priority advertised (0 on shutdown and resignation).
    pub priority: u8,
    /// The packets, in destination order.
    pub packets: Vec<Transmit>,
}

/// A burst of gratuitous ARPs (IPv4) or unsolicited NAs (IPv6) for these VIPs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Announce {
    /// The VIPs to announce.
    pub vips: Vec<Vip>,
    /// How many times each, back to back.
    pub repeat: u32,
}

/// Output of the state machine, for the shell to carry out in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// The state changed.
    Transition {
        /// Previous state.
        from: State,
        /// New state.
        to: State,
        /// Why.
        reason: Reason,
    },
    /// Send these adverts now.
    Send(Advertise),
    /// Install these virtual addresses.
    InstallVips(Vec<Vip>),
    /// Remove these virtual addresses (the ones installed before).
    RemoveVips(Vec<Vip>),
    /// Announce these VIPs on the link.
    Announce(Announce),
    /// A received advert was dropped (counted here; the shell logs rate-limited).
    Drop {
        /// The sender.
        src: IpAddr,
        /// Why.
        reason: DropReason,
    },
    /// A received packet was not a valid VRRP message (counted here).
    Malformed {
        /// The sender.
        src: IpAddr,
        /// What was wrong with it.
        error: DecodeError,
    },
    /// The master's address list differs from ours (log rate-limited, not dropped).
    AddressMismatch {
        /// The sender.
        src: IpAddr,
    },
    /// The first valid advert from this sender.
    PeerSeen {
        /// The sender.
        src: IpAddr,
        /// Its priority.
        priority: u8,
        /// The checksum form it used.
        checksum: ChecksumForm,
        /// The checksum form we send (IPv4 VRRPv3 peers may drop the other form).
        ours: ChecksumForm,
    },
    /// An advert could not be encoded (the configuration let through what the codec refuses).
    CannotEncode(EncodeError),
    /// While Master, an advert with a non-zero priority came from another router that
    /// believes it is Master too: a split brain, or its end.
    OtherMaster {
        /// The other router.
        src: IpAddr,
        /// Its priority.
        priority: u8,
        /// Whether we yielded to it.
        yielded: bool,
    },
    /// A drain was refused, and why.
    DrainRefused(String),
    /// A drained Master that had never heard another router sent priority 0 and keeps
    /// its VIPs until another router's advert shows it took over, for at most `within`;
    /// then either the transition to Backup (drained) or `DrainRefused` follows.
    HandingOver {
        /// How long it waits.
        within: Duration,
    },
    /// Master_Down_Timer fired: ask the witnesses before taking over.
    AskWitnesses(WitnessQuery),
    /// The witnesses keep the instance Backup (Master_Down_Timer is re-armed).
    WitnessHold(WitnessHold),
    /// Something the instance reports changed: state, priority, master, VIPs, tracking or peers.
    StatusChanged,
}

impl State {
    /// Every state, in the order of [`Stats::transitions_to`].
    pub const ALL: [State; 4] = [
        State::Initialize,
        State::Backup,
        State::Master,
        State::Fault,
    ];

    /// The state's index in [`State::ALL`].
    pub const fn index(self) -> usize {
        match self {
            State::Initialize => 0,
            State::Backup => 1,
            State::Master => 2,
            State::Fault => 3,
        }
    }

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
            Timer::Retry => "retry",
            Timer::Witness => "witness",
            Timer::Handover => "handover",
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

/// Counters kept by one instance.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Every advert handed in (decoded or not), valid or not.
    pub adverts_received: u64,
    /// Every advert emitted (including priority 0), whatever its destinations.
    pub adverts_sent: u64,
    /// Valid adverts with priority 0 received.
    pub priority_zero_received: u64,
    /// Adverts with priority 0 emitted (shutdown, weight-0 track fault).
    pub priority_zero_sent: u64,
    /// Dropped adverts per reason (absent = 0).
    pub drops: BTreeMap<DropReason, u64>,
    /// Packets that were not valid VRRP messages, per decode reason (absent = 0).
    pub malformed: BTreeMap<&'static str, u64>,
    /// Valid adverts whose address list differs from ours.
    pub address_mismatches: u64,
    /// Checksum forms seen per sender of a valid advert: (message only, with pseudo-header).
    pub checksum_forms: BTreeMap<IpAddr, (u64, u64)>,
    /// State transitions, all kinds.
    pub transitions: u64,
    /// Transitions into Master.
    pub became_master: u64,
    /// Transitions by the state entered: Initialize, Backup, Master, Fault.
    pub transitions_to: [u64; 4],
    /// How often the master changed from one router to another (a gap without a
    /// master in between does not count).
    pub master_changes: u64,
    /// The current master: the sender last accepted in Backup, our primary in Master, else `None`.
    pub master: Option<IpAddr>,
    /// Adverts from another router claiming Master while we were Master.
    pub other_masters: u64,
    /// VIPs that could not be installed or put back.
    pub vip_failures: u64,
    /// VIPs removed by someone else while we were Master.
    pub vips_lost: u64,
    /// Times the witnesses were asked.
    pub witness_queries: u64,
    /// Times the witnesses kept the instance Backup.
    pub witness_holds: u64,
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

/// A router heard on the link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Peer {
    /// Its address.
    pub addr: IpAddr,
    /// The priority of its last valid advert.
    pub priority: u8,
    /// The checksum form of its last valid advert.
    pub checksum: ChecksumForm,
    /// When its last valid advert arrived.
    pub last_seen: Instant,
    /// Valid adverts from it.
    pub adverts: u64,
}

/// The last transition, for status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LastTransition {
    /// When.
    pub at: Instant,
    /// From which state.
    pub from: State,
    /// To which state.
    pub to: State,
    /// Why.
    pub reason: Reason,
}

/// Everything the instance reports about itself, as plain data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// Instance name.
    pub name: String,
    /// Virtual router id.
    pub vrid: u8,
    /// Protocol version.
    pub version: Version,
    /// Current state.
    pub state: State,
    /// Configured priority.
    pub priority: u8,
    /// Effective priority.
    pub effective_priority: u8,
    /// What each tracked item contributes.
    pub tracking: Vec<Contribution>,
    /// The current master and its priority, when known.
    pub master: Option<(IpAddr, u8)>,
    /// The VIPs installed.
    pub vips: Vec<Vip>,
    /// The last transition.
    pub last_transition: Option<LastTransition>,
    /// Counters.
    pub stats: Stats,
    /// Routers heard, by address.
    pub peers: Vec<Peer>,
    /// Drained by the operator.
    pub drained: bool,
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

/// A question to the witnesses under way.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Asking {
    /// Why Master_Down_Timer fired.
    down: MasterDown,
    /// When the question went out.
    since: Instant,
    /// Answers so far.
    answers: usize,
    /// Answers from witnesses that had listened long enough and heard no other master.
    agreed: usize,
}

/// What the report depends on, compared before and after each event.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Fingerprint {
    state: State,
    priority: u8,
    master: Option<(IpAddr, u8)>,
    vips: usize,
    track_gen: u64,
    peers_gen: u64,
    drained: bool,
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
    tracking: Tracking,
    /// The name of the weight-0 item that put us in Fault, for the recovery reason.
    track_fault_label: Option<String>,
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
    /// Master_Down_Timer fired and the witnesses are being asked.
    asking: Option<Asking>,
    timers: [Option<Instant>; TIMERS],
    /// What InstallVips put on the link, for RemoveVips and reload diffs.
    installed: Vec<Vip>,
    /// The adverts of the last priority sent, reused while nothing changes.
    encoded: Option<Advertise>,
    peers: BTreeMap<IpAddr, Peer>,
    last_transition: Option<LastTransition>,
    track_gen: u64,
    peers_gen: u64,
    /// Drained by the operator: never Master until resumed.
    drained: bool,
    /// In Fault because a VIP could not be installed.
    vip_fault: bool,
    /// Since a VIP could not be installed: take over only from a silent master (no
    /// preemption) until an install succeeds.
    cautious: bool,
    /// The next back-off after a VIP failure.
    vip_backoff: Duration,
    /// The last master known, for counting changes across gaps.
    last_master: Option<IpAddr>,
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
            tracking: Tracking::default(),
            track_fault_label: None,
            sync_fault: false,
            master_adver_interval_cs: interval,
            heard: None,
            ignored: None,
            backup_since: Instant::ZERO,
            last_announce: None,
            preempt_deadline: None,
            asking: None,
            timers: [None; TIMERS],
            installed: Vec::new(),
            encoded: None,
            peers: BTreeMap::new(),
            last_transition: None,
            track_gen: 0,
            peers_gen: 0,
            drained: false,
            vip_fault: false,
            cautious: false,
            vip_backoff: VIP_RETRY_MIN,
            last_master: None,
            stats: Stats::default(),
        }
    }

    /// Current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// Configured priority adjusted by track weights (see [`effective_priority`]).
    pub fn effective_priority(&self) -> u8 {
        effective_priority(self.params.priority, self.tracking.delta)
    }

    /// The parameters in force.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// In Fault (or bound for it) by a cause of its own: its link is down or a weight-0
    /// track fails. A sync group's hold does not count.
    pub fn own_fault(&self) -> bool {
        self.running && (self.tracking.fault || !self.link_up || self.vip_fault)
    }

    /// Drained by the operator.
    pub fn drained(&self) -> bool {
        self.drained
    }

    /// Held in Fault by a sync group.
    pub fn held_by_group(&self) -> bool {
        self.sync_fault
    }

    /// Counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The deadline of an armed timer.
    pub fn deadline(&self, timer: Timer) -> Option<Instant> {
        self.timers[timer.index()]
    }

    /// The earliest armed deadline: when [`Instance::handle_timeout`] has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.iter().flatten().min().copied()
    }

    /// Fire every timer due at `now`, each at its own deadline (or at `now` when it is
    /// more than [`LATE_TOLERANCE`] late), in deadline order.
    pub fn handle_timeout(&mut self, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        let mut due: Vec<(Instant, Timer)> = Timer::ALL
            .iter()
            .filter_map(|t| self.deadline(*t).map(|at| (at, *t)))
            .filter(|(at, _)| *at <= now)
            .collect();
        due.sort();
        for (at, timer) in due {
            // An earlier timer's handling may have cancelled or moved this one.
            if self.deadline(timer) != Some(at) {
                continue;
            }
            let fire_at = if now.saturating_since(at) > LATE_TOLERANCE {
                now
            } else {
                at
            };
            out.extend(self.handle_at(Event::Timer(timer), fire_at, now));
        }
        out
    }

    /// Everything the instance reports, as plain data.
    pub fn report(&self) -> Report {
        Report {
            name: self.params.name.clone(),
            vrid: self.params.vrid,
            version: self.params.version,
            state: self.state,
            priority: self.params.priority,
            effective_priority: self.effective_priority(),
            tracking: self.tracking.items.clone(),
            master: self.master(),
            vips: self.installed.clone(),
            last_transition: self.last_transition.clone(),
            stats: self.stats.clone(),
            peers: self.peers.values().cloned().collect(),
            drained: self.drained,
        }
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
        self.handle_at(event, now, now)
    }

    /// Process one event at `now`; `acting` is when the shell carries the actions out,
    /// later than `now` for a timer fired at its (slightly missed) deadline.
    fn handle_at(&mut self, event: Event, now: Instant, acting: Instant) -> Vec<Action> {
        let before = self.fingerprint();
        let mut out = Vec::new();
        match event {
            Event::Startup => self.on_startup(now, &mut out),
            Event::Shutdown => self.on_shutdown(now, &mut out),
            Event::Packet {
                src,
                dst,
                ttl,
                payload,
            } => match packet::decode(&payload, src, dst) {
                Ok((advert, checksum)) => {
                    self.on_advert(src, ttl, checksum, &advert, now, &mut out)
                }
                Err(error) => {
                    self.stats.adverts_received += 1;
                    *self.stats.malformed.entry(error.reason()).or_insert(0) += 1;
                    out.push(Action::Malformed { src, error });
                }
            },
            Event::Advert {
                src,
                ttl,
                checksum,
                advert,
            } => self.on_advert(src, ttl, checksum, &advert, now, &mut out),
            Event::Timer(timer) => self.on_timer(timer, now, acting, &mut out),
            Event::LinkUp => {
                self.link_up = true;
                if self.running
                    && self.state == State::Fault
                    && !self.tracking.fault
                    && !self.sync_fault
                    && !self.vip_fault
                {
                    self.leave_fault(RecoveryCause::InterfaceUp, now, &mut out);
                }
            }
            Event::LinkDown => {
                self.link_up = false;
                if matches!(self.state, State::Backup | State::Master) {
                    self.enter_fault(FaultCause::InterfaceDown, false, now, &mut out);
                }
            }
            Event::Track(tracking) => self.on_track(tracking, now, &mut out),
            Event::Reconfigure(params) => self.on_reconfigure(params, now, &mut out),
            Event::Sync { command, reason } => self.on_sync(command, reason, now, &mut out),
            Event::Drain { force } => self.on_drain(force, now, &mut out),
            Event::Resume => self.on_resume(now, &mut out),
            Event::VipInstalled(vip) => {
                if self.state == State::Master && self.installed.contains(&vip) {
                    self.cautious = false;
                    self.vip_backoff = VIP_RETRY_MIN;
                }
            }
            Event::VipFailed { vip, error } => self.on_vip_failed(vip, error, now, &mut out),
            Event::WitnessAnswer(answer) => self.on_witness_answer(answer, now, &mut out),
            Event::VipLost(vip) => {
                if self.state == State::Master && self.installed.contains(&vip) {
                    // Put it back at once and tell the link again; if that fails too,
                    // VipFailed steps down.
                    self.stats.vips_lost += 1;
                    out.push(Action::InstallVips(vec![vip.clone()]));
                    out.push(Action::Announce(Announce {
                        vips: vec![vip],
                        repeat: self.params.garp_repeat,
                    }));
                }
            }
        }
        for action in &out {
            match action {
                Action::Send(a) => {
                    self.stats.adverts_sent += 1;
                    if a.priority == 0 {
                        self.stats.priority_zero_sent += 1;
                    }
                }
                Action::Transition { to, .. } => {
                    self.stats.transitions += 1;
                    self.stats.transitions_to[to.index()] += 1;
                    if *to == State::Master {
                        self.stats.became_master += 1;
                    }
                }
                _ => {}
            }
        }
        if let Some(master) = self.stats.master {
            if self.last_master.is_some_and(|m| m != master) {
                self.stats.master_changes += 1;
            }
            self.last_master = Some(master);
        }
        if self.fingerprint() != before {
            out.push(Action::StatusChanged);
        }
        out
    }

    fn fingerprint(&self) -> Fingerprint {
        Fingerprint {
            state: self.state,
            priority: self.effective_priority(),
            master: self.master(),
            vips: self.installed.len(),
            track_gen: self.track_gen,
            peers_gen: self.peers_gen,
            drained: self.drained,
        }
    }

    fn master(&self) -> Option<(IpAddr, u8)> {
        match self.state {
            State::Master => Some((self.params.primary, self.effective_priority())),
            State::Backup => self.heard.map(|h| (h.src, h.priority)),
            State::Initialize | State::Fault => None,
        }
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
        // A drained instance follows whoever is Master, whatever its priority.
        !self.cautious && !self.drained && (self.params.preempt || self.effective_priority() == 255)
    }

    fn arm(&mut self, timer: Timer, at: Instant) {
        self.timers[timer.index()] = Some(at);
    }

    fn cancel(&mut self, timer: Timer) {
        self.timers[timer.index()] = None;
    }

    fn cancel_all(&mut self) {
        self.timers = [None; TIMERS];
        self.asking = None;
    }

    /// Forget a question to the witnesses: the answers no longer matter.
    fn stop_asking(&mut self) {
        self.asking = None;
        self.cancel(Timer::Witness);
    }

    fn transition(&mut self, to: State, reason: Reason, now: Instant, out: &mut Vec<Action>) {
        self.stop_asking();
        // Leaving Master any other way (shutdown, fault, a VIP failure) ends a handover.
        self.cancel(Timer::Handover);
        self.last_transition = Some(LastTransition {
            at: now,
            from: self.state,
            to,
            reason: reason.clone(),
        });
        out.push(Action::Transition {
            from: self.state,
            to,
            reason,
        });
        self.state = to;
    }

    fn clear_preempt(&mut self) {
        self.preempt_deadline = None;
        self.cancel(Timer::PreemptDelay);
    }

    /// The adverts for `priority` to every destination: the group, or each unicast peer
    /// (RFC 9568 section 5.1.1.2 / keepalived's unicast mode).
    fn advertise(&mut self, priority: u8, out: &mut Vec<Action>) {
        if let Some(cached) = self.encoded.as_ref().filter(|a| a.priority == priority) {
            out.push(Action::Send(cached.clone()));
            return;
        }
        let p = &self.params;
        let auth = match (p.version, p.auth) {
            (Version::V2, Some(pw)) => Some(Auth::Simple(pw)),
            _ => None,
        };
        let advert = Advert {
            version: p.version,
            vrid: p.vrid,
            priority,
            interval_cs: p.interval_cs,
            auth,
            addrs: p.vips.iter().map(|v| v.addr).collect(),
        };
        let dsts: Vec<IpAddr> = if p.unicast_peers.is_empty() {
            vec![packet::Family::of(&p.primary).group()]
        } else {
            p.unicast_peers.clone()
        };
        let mut packets = Vec::with_capacity(dsts.len());
        for dst in dsts {
            match packet::encode(&advert, p.primary, dst, p.checksum) {
                Ok(bytes) => packets.push(Transmit {
                    src: p.primary,
                    dst,
                    payload: bytes.into(),
                }),
                Err(e) => {
                    out.push(Action::CannotEncode(e));
                    return;
                }
            }
        }
        let a = Advertise { priority, packets };
        self.encoded = Some(a.clone());
        out.push(Action::Send(a));
    }

    /// The checksum form of the adverts we send.
    fn our_checksum_form(&self) -> ChecksumForm {
        match (
            self.params.version,
            self.params.primary,
            self.params.checksum,
        ) {
            (Version::V2, _, _) => ChecksumForm::Message,
            (Version::V3, IpAddr::V6(_), _) => ChecksumForm::PseudoHeader,
            (Version::V3, IpAddr::V4(_), ChecksumMode::PseudoHeader) => ChecksumForm::PseudoHeader,
            (Version::V3, IpAddr::V4(_), ChecksumMode::Message) => ChecksumForm::Message,
        }
    }

    fn install_all(&mut self, out: &mut Vec<Action>) {
        self.installed = self.params.vips.clone();
        out.push(Action::InstallVips(self.installed.clone()));
    }

    fn remove_all(&mut self, out: &mut Vec<Action>) {
        let vips = std::mem::take(&mut self.installed);
        out.push(Action::RemoveVips(vips));
    }

    /// An announcement burst now, and the timer for the next one.
    fn announce(&mut self, now: Instant, out: &mut Vec<Action>) {
        out.push(Action::Announce(Announce {
            vips: self.installed.clone(),
            repeat: self.params.garp_repeat,
        }));
        self.last_announce = Some(now);
        let refresh = self.params.garp_refresh;
        let next = match (self.params.garp_delay.is_zero(), refresh.is_zero()) {
            (true, true) => None,
            (false, true) => Some(self.params.garp_delay),
            (true, false) => Some(refresh),
            (false, false) => Some(self.params.garp_delay.min(refresh)),
        };
        match next {
            Some(d) => self.arm(Timer::GarpRefresh, now + d),
            None => self.cancel(Timer::GarpRefresh),
        }
    }

    /// RFC 3768 / RFC 9568 section 6.4.1: Startup in Initialize.
    fn on_startup(&mut self, now: Instant, out: &mut Vec<Action>) {
        if self.running {
            return;
        }
        self.running = true;
        if !self.link_up {
            let r = Reason::StartupFault(FaultCause::InterfaceDown);
            self.transition(State::Fault, r, now, out);
        } else if self.tracking.fault {
            self.track_fault_label = self.tracking.fault_label();
            let r = Reason::StartupFault(FaultCause::Track(self.track_fault_label.clone()));
            self.transition(State::Fault, r, now, out);
        } else if self.effective_priority() == 255 && !self.drained {
            self.become_master(Reason::StartupOwner, now, out);
        } else {
            self.become_backup(Reason::Startup, now, out);
        }
    }

    /// RFC 3768 / RFC 9568 sections 6.4.2 and 6.4.3: Shutdown.
    fn on_shutdown(&mut self, now: Instant, out: &mut Vec<Action>) {
        if !self.running {
            return;
        }
        self.running = false;
        let was_master = self.state == State::Master;
        self.transition(State::Initialize, Reason::Shutdown, now, out);
        if was_master {
            // Priority 0 lets the backups take over after Skew_Time instead of
            // Master_Down_Interval (RFC 9568 section 6.4.3).
            self.advertise(0, out);
            self.remove_all(out);
        }
        self.cancel_all();
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
    fn become_master(&mut self, reason: Reason, now: Instant, out: &mut Vec<Action>) {
        self.transition(State::Master, reason, now, out);
        self.cancel(Timer::MasterDown);
        self.clear_preempt();
        self.install_all(out);
        self.announce(now, out);
        self.send_advert_now(now, out);
        self.heard = None;
        self.ignored = None;
        self.stats.master = Some(self.params.primary);
    }

    /// To Backup from Initialize, Fault (Master_Adver_Interval reset to ours,
    /// RFC 9568 section 6.4.1) or Master (interval learnt by the caller first).
    fn become_backup(&mut self, reason: Reason, now: Instant, out: &mut Vec<Action>) {
        let from = self.state;
        self.transition(State::Backup, reason, now, out);
        self.backup_since = now;
        if from == State::Master {
            self.remove_all(out);
            self.cancel(Timer::Advert);
            self.cancel(Timer::GarpRefresh);
        } else {
            self.master_adver_interval_cs = self.params.interval_cs;
            self.heard = None;
            self.stats.master = None;
        }
        self.ignored = None;
        let deadline = now + self.master_down_interval();
        self.arm(Timer::MasterDown, deadline);
    }

    /// keepalived's Fault state: no adverts, no VIPs, no timers.
    fn enter_fault(
        &mut self,
        cause: FaultCause,
        resign: bool,
        now: Instant,
        out: &mut Vec<Action>,
    ) {
        self.enter_fault_for(Reason::Fault(cause), resign, now, out);
    }

    fn enter_fault_for(
        &mut self,
        reason: Reason,
        resign: bool,
        now: Instant,
        out: &mut Vec<Action>,
    ) {
        let was_master = self.state == State::Master;
        self.transition(State::Fault, reason, now, out);
        if was_master {
            if resign {
                // The link still works: tell the backups to take over after
                // Skew_Time rather than Master_Down_Interval, as on shutdown.
                self.advertise(0, out);
            }
            self.remove_all(out);
        }
        self.cancel_all();
        self.forget_master();
    }

    /// Out of Fault: a fresh election, as after Startup (RFC 9568 section 6.4.1).
    fn leave_fault(&mut self, cause: RecoveryCause, now: Instant, out: &mut Vec<Action>) {
        if self.effective_priority() == 255 && !self.drained && !self.cautious {
            let r = Reason::Recovered { cause, owner: true };
            self.become_master(r, now, out);
        } else {
            let r = Reason::Recovered {
                cause,
                owner: false,
            };
            self.become_backup(r, now, out);
        }
    }

    fn on_track(&mut self, tracking: Tracking, now: Instant, out: &mut Vec<Action>) {
        let old_priority = self.effective_priority();
        let was_fault = self.tracking.fault;
        if tracking.items != self.tracking.items {
            self.track_gen += 1;
        }
        self.tracking = tracking;
        let fault = self.tracking.fault;
        if fault && !was_fault {
            self.track_fault_label = self.tracking.fault_label();
        }
        if !self.running {
            return;
        }
        if fault && !was_fault && self.state != State::Fault {
            let cause = FaultCause::Track(self.track_fault_label.clone());
            self.enter_fault(cause, self.link_up, now, out);
        } else if !fault
            && was_fault
            && self.state == State::Fault
            && self.link_up
            && !self.sync_fault
            && !self.vip_fault
        {
            let cause = RecoveryCause::Track(self.track_fault_label.take());
            self.leave_fault(cause, now, out);
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
    fn on_sync(
        &mut self,
        command: SyncCommand,
        reason: SyncReason,
        now: Instant,
        out: &mut Vec<Action>,
    ) {
        match command {
            SyncCommand::Master if self.running && self.state == State::Backup && !self.drained => {
                self.become_master(Reason::Sync(reason), now, out);
            }
            SyncCommand::Backup if self.running && self.state == State::Master => {
                self.become_backup(Reason::Sync(reason), now, out);
            }
            SyncCommand::Fault => {
                self.sync_fault = true;
                if self.running && matches!(self.state, State::Backup | State::Master) {
                    self.enter_fault_for(Reason::Sync(reason), self.link_up, now, out);
                }
            }
            SyncCommand::Recover => {
                self.sync_fault = false;
                if self.running
                    && self.state == State::Fault
                    && self.link_up
                    && !self.tracking.fault
                    && !self.vip_fault
                {
                    self.leave_fault(RecoveryCause::Sync(reason), now, out);
                }
            }
            _ => {}
        }
    }

    /// `vrrp-ha drain`: a MASTER hands over at once as on shutdown (priority 0, VIPs
    /// released, BACKUP's actions), and the instance stays BACKUP, never claiming
    /// mastership, until resumed. When no other router has ever been heard for this VRID
    /// (and not `force`), nobody might take the VIPs over: a BACKUP refuses; a MASTER,
    /// which cannot have heard its backups (silent in VRRP), hands over with a check.
    fn on_drain(&mut self, force: bool, now: Instant, out: &mut Vec<Action>) {
        if self.drained || self.handing_over() {
            return;
        }
        if !force && self.running && self.peers.is_empty() && self.state == State::Master {
            self.start_handover(now, out);
            return;
        }
        if !force && self.running && self.peers.is_empty() {
            out.push(Action::DrainRefused(format!(
                "no other router has been heard for VRID {} since the instance started: \
                 draining {} could take its virtual IPs down; check the other node, or drain \
                 with --force",
                self.params.vrid, self.params.name
            )));
            return;
        }
        self.drained = true;
        self.clear_preempt();
        self.stop_asking();
        if self.state == State::Master {
            self.transition(State::Backup, Reason::Drained, now, out);
            // Priority 0 lets the backups take over after Skew_Time (RFC 9568 6.4.3).
            self.advertise(0, out);
            self.leave_master_drained(now, out);
        }
    }

    /// A drained Master's VIPs go and it waits as Backup, electable by nobody.
    fn leave_master_drained(&mut self, now: Instant, out: &mut Vec<Action>) {
        self.remove_all(out);
        self.cancel(Timer::Advert);
        self.cancel(Timer::GarpRefresh);
        self.backup_since = now;
        self.heard = None;
        self.ignored = None;
        self.stats.master = None;
        let deadline = now + self.master_down_interval();
        self.arm(Timer::MasterDown, deadline);
    }

    /// A drained Master waiting for another router to take over: `Timer::Handover` is
    /// armed (the timer fires, or is cancelled, as the handover ends). No adverts, no
    /// announcements meanwhile, the VIPs kept.
    fn handing_over(&self) -> bool {
        self.timers[Timer::Handover.index()].is_some()
    }

    /// How long a handing-over Master waits: a backup takes over Skew_Time after the
    /// priority-0 advert (RFC 9568 section 6.4.2), or, had it missed that advert,
    /// Master_Down_Interval after our last advert: 3 intervals plus a Skew_Time of less
    /// than one, whatever its priority.
    fn handover_wait(&self) -> Duration {
        self.advert_interval() * 4
    }

    /// Offer the VIPs (priority 0) but keep them, silent, until another router's advert.
    fn start_handover(&mut self, now: Instant, out: &mut Vec<Action>) {
        self.clear_preempt();
        self.advertise(0, out);
        self.cancel(Timer::Advert);
        // An announcement now would pull the hosts back from the router taking over.
        self.cancel(Timer::GarpRefresh);
        let within = self.handover_wait();
        self.arm(Timer::Handover, now + within);
        out.push(Action::HandingOver { within });
    }

    /// An advert from another router while handing over: it took over, so the drain
    /// completes; only now do our VIPs go.
    fn finish_handover(
        &mut self,
        src: IpAddr,
        advert: &Advert,
        now: Instant,
        out: &mut Vec<Action>,
    ) {
        self.cancel(Timer::Handover);
        self.drained = true;
        self.transition(State::Backup, Reason::Drained, now, out);
        self.leave_master_drained(now, out);
        self.accept_master(src, advert, now);
    }

    /// Nobody took over within [`Self::handover_wait`]: stay Master and say so.
    fn abort_handover(&mut self, why: String, now: Instant, out: &mut Vec<Action>) {
        self.cancel(Timer::Handover);
        out.push(Action::DrainRefused(why));
        self.send_advert_now(now, out);
        if !self.params.garp_refresh.is_zero() {
            self.arm(Timer::GarpRefresh, now + self.params.garp_refresh);
        }
    }

    /// `vrrp-ha resume`: electable again; a BACKUP takes over after Master_Down_Interval
    /// unless it hears a master (and preempts a lower one at its next advert).
    fn on_resume(&mut self, now: Instant, out: &mut Vec<Action>) {
        if self.handing_over() {
            let why = "resumed before another router took over".to_string();
            self.abort_handover(why, now, out);
            return;
        }
        if !self.drained {
            return;
        }
        self.drained = false;
        if self.running && self.state == State::Backup {
            let deadline = now + self.master_down_interval();
            self.arm(Timer::MasterDown, deadline);
        }
    }

    /// A VIP could not be installed: a MASTER without its VIP black-holes traffic, so it
    /// steps down (priority 0 first, so the backups take over after Skew_Time) into
    /// FAULT, and tries again after a back-off, as a BACKUP that takes over only from a
    /// silent master until an install succeeds.
    fn on_vip_failed(&mut self, vip: Vip, error: String, now: Instant, out: &mut Vec<Action>) {
        if self.state != State::Master || !self.installed.contains(&vip) {
            return;
        }
        self.stats.vip_failures += 1;
        self.installed.retain(|v| *v != vip);
        self.vip_fault = true;
        self.cautious = true;
        let cause = FaultCause::Vip {
            vip: vip.to_string(),
            error,
        };
        self.enter_fault(cause, self.link_up, now, out);
        let wait = self.vip_backoff;
        self.vip_backoff = (self.vip_backoff * 2).min(VIP_RETRY_MAX);
        self.arm(Timer::Retry, now + wait);
    }

    fn send_advert_now(&mut self, now: Instant, out: &mut Vec<Action>) {
        if self.handing_over() {
            // Silent until another router takes over, or the handover is given up.
            return;
        }
        self.advertise(self.effective_priority(), out);
        let next = now + self.advert_interval();
        self.arm(Timer::Advert, next);
    }

    fn on_reconfigure(&mut self, params: Params, now: Instant, out: &mut Vec<Action>) {
        let old_mdi = self.master_down_interval();
        let old = std::mem::replace(&mut self.params, params);
        self.encoded = None;
        if !self.running {
            self.master_adver_interval_cs = self.params.interval_cs;
            return;
        }
        match self.state {
            State::Master => {
                if !same_vips(&self.installed, &self.params.vips) {
                    // Only what changed moves: a VIP in both lists stays put, so clients
                    // never see it vanish for a moment.
                    let removed: Vec<Vip> = self
                        .installed
                        .iter()
                        .filter(|v| !self.params.vips.contains(v))
                        .cloned()
                        .collect();
                    let added: Vec<Vip> = self
                        .params
                        .vips
                        .iter()
                        .filter(|v| !self.installed.contains(v))
                        .cloned()
                        .collect();
                    self.installed = self.params.vips.clone();
                    if !removed.is_empty() {
                        out.push(Action::RemoveVips(removed));
                    }
                    if !added.is_empty() {
                        out.push(Action::InstallVips(added));
                    }
                    self.announce(now, out);
                }
                if old != self.params {
                    self.send_advert_now(now, out);
                }
                if self.params.garp_refresh.is_zero() && self.params.garp_delay.is_zero() {
                    self.cancel(Timer::GarpRefresh);
                }
            }
            State::Backup => {
                if !self.preempts() {
                    self.clear_preempt();
                }
                if self.master_down_interval() != old_mdi {
                    let deadline = now + self.master_down_interval();
                    self.arm(Timer::MasterDown, deadline);
                }
            }
            State::Initialize | State::Fault => {}
        }
    }

    /// Receive checks, RFC 3768 section 7.1 and RFC 9568 section 7.1.
    fn check(&self, src: IpAddr, ttl: u8, advert: &Advert) -> Option<DropReason> {
        let p = &self.params;
        // RFC 3768 / RFC 9568 section 7.1: TTL / hop limit must be 255.
        if ttl != packet::VRRP_TTL {
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
            out.push(Action::Drop { src, reason });
            return;
        }
        self.note_peer(src, advert.priority, checksum, now, out);
        if advert.priority == 0 {
            self.stats.priority_zero_received += 1;
        }
        // RFC 3768 section 7.1 says MAY verify the address list and drop a
        // mismatch from a non-owner; RFC 9568 section 7.1 only logs it, and so
        // does keepalived: report it (the shell rate-limits) and carry on.
        if !same_addrs(&advert.addrs, &self.params.vips) {
            self.stats.address_mismatches += 1;
            out.push(Action::AddressMismatch { src });
        }
        match self.state {
            State::Backup => self.backup_rx(src, advert, now),
            State::Master => self.master_rx(src, advert, now, out),
            State::Initialize | State::Fault => {}
        }
    }

    /// Remember a sender of a valid advert (bounded: the least recently heard goes).
    fn note_peer(
        &mut self,
        src: IpAddr,
        priority: u8,
        checksum: ChecksumForm,
        now: Instant,
        out: &mut Vec<Action>,
    ) {
        // Counted only for valid adverts so that junk cannot grow the maps.
        if self.stats.checksum_forms.len() < MAX_PEERS
            || self.stats.checksum_forms.contains_key(&src)
        {
            let forms = self.stats.checksum_forms.entry(src).or_insert((0, 0));
            match checksum {
                ChecksumForm::Message => forms.0 += 1,
                ChecksumForm::PseudoHeader => forms.1 += 1,
            }
        }
        match self.peers.get_mut(&src) {
            Some(p) => {
                if p.priority != priority || p.checksum != checksum {
                    self.peers_gen += 1;
                }
                p.priority = priority;
                p.checksum = checksum;
                p.last_seen = now;
                p.adverts += 1;
            }
            None => {
                if self.peers.len() >= MAX_PEERS {
                    let stalest = self
                        .peers
                        .values()
                        .min_by_key(|p| p.last_seen)
                        .map(|p| p.addr);
                    if let Some(a) = stalest {
                        self.peers.remove(&a);
                    }
                }
                self.peers.insert(
                    src,
                    Peer {
                        addr: src,
                        priority,
                        checksum,
                        last_seen: now,
                        adverts: 1,
                    },
                );
                self.peers_gen += 1;
                out.push(Action::PeerSeen {
                    src,
                    priority,
                    checksum,
                    ours: self.our_checksum_form(),
                });
            }
        }
    }

    /// Accept `src` as the master: learn its interval (v3) and re-arm
    /// Master_Down_Timer (RFC 9568 section 6.4.2).
    fn accept_master(&mut self, src: IpAddr, advert: &Advert, now: Instant) {
        self.stop_asking();
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
        self.arm(Timer::MasterDown, deadline);
    }

    /// Backup state, advert received: RFC 3768 section 6.4.2, RFC 9568 section 6.4.2.
    fn backup_rx(&mut self, src: IpAddr, advert: &Advert, now: Instant) {
        let ours = self.effective_priority();
        if advert.priority == 0 {
            // The master resigns: take over after Skew_Time only, without the witnesses.
            self.stop_asking();
            self.heard = Some(Heard {
                src,
                priority: 0,
                at: now,
            });
            let deadline = now + self.skew_time();
            self.arm(Timer::MasterDown, deadline);
            return;
        }
        if !self.preempts() || advert.priority >= ours {
            if advert.priority >= ours {
                self.clear_preempt();
            }
            self.accept_master(src, advert, now);
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
                self.arm(Timer::PreemptDelay, d);
                d
            }
        };
        if now < deadline {
            self.accept_master(src, advert, now);
        } else {
            self.ignored = Some(lower);
        }
    }

    /// Master state, advert received: RFC 3768 section 6.4.3, RFC 9568 section 6.4.3.
    fn master_rx(&mut self, src: IpAddr, advert: &Advert, now: Instant, out: &mut Vec<Action>) {
        if self.handing_over() {
            // Whoever advertises now has taken over after our priority 0.
            if advert.priority > 0 {
                self.finish_handover(src, advert, now, out);
            }
            return;
        }
        let ours = self.effective_priority();
        if advert.priority == 0 {
            // Another master resigned: assert ourselves at once.
            self.send_advert_now(now, out);
            return;
        }
        let yields = advert.priority > ours
            || (advert.priority == ours && address_greater(src, self.params.primary));
        self.stats.other_masters += 1;
        out.push(Action::OtherMaster {
            src,
            priority: advert.priority,
            yielded: yields,
        });
        if yields {
            let reason = if advert.priority > ours {
                Reason::HigherPriority {
                    priority: advert.priority,
                    src,
                }
            } else {
                Reason::EqualPriorityHigherAddress { src }
            };
            if self.params.version == Version::V3 {
                self.master_adver_interval_cs = advert.interval_cs;
            }
            let ours_now = self.effective_priority();
            self.become_backup(reason, now, out);
            // A split brain just ended and we lost. The winner may never hear a lower
            // priority (its advert reached us first), and only a MASTER hearing one
            // re-announces the VIPs to the hosts that followed us: one last advert at our
            // own priority tells it. To RFC 9568 peers (keepalived, FRR) it is just a
            // lower-priority advert, which a Master answers with an advert of its own.
            self.advertise(ours_now, out);
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
        // Once per advert interval at most: another master may keep advertising while it
        // cannot hear us (a one-way link), and the announcements need not follow each one.
        let spacing = self.advert_interval();
        let due = match self.last_announce {
            Some(last) => now.saturating_since(last) >= spacing,
            None => true,
        };
        if due {
            self.announce(now, out);
        }
    }

    /// Master_Down_Timer fired with witnesses configured: the question, and its deadline.
    ///
    /// `now` is when the question goes out, not the timer's deadline: a Master_Down_Timer
    /// handled a few milliseconds late must not eat the witnesses' whole window (the
    /// default window equals [`LATE_TOLERANCE`]).
    fn ask_witnesses(
        &mut self,
        down: MasterDown,
        timeout: Duration,
        now: Instant,
        out: &mut Vec<Action>,
    ) {
        self.stats.witness_queries += 1;
        self.asking = Some(Asking {
            down,
            since: now,
            answers: 0,
            agreed: 0,
        });
        self.arm(Timer::Witness, now + timeout);
        out.push(Action::AskWitnesses(WitnessQuery {
            vrid: self.params.vrid,
            family: Family::of(&self.params.primary),
            master: self.heard.map(|h| (h.src, h.priority)),
            master_down: self.master_down_interval(),
            timeout,
        }));
    }

    /// One witness answered: another master alive keeps us Backup at once; once all have
    /// answered, the answers decide.
    fn on_witness_answer(&mut self, answer: WitnessAnswer, now: Instant, out: &mut Vec<Action>) {
        if self.state != State::Backup || self.drained || self.asking.is_none() {
            return;
        }
        let mdi = self.master_down_interval();
        let fresh = mdi.saturating_sub(self.master_adver_interval());
        let primary = self.params.primary;
        let count = self.params.witness.as_ref().map_or(0, |w| w.count);
        let alive = answer
            .heard
            .iter()
            .filter(|h| h.priority > 0 && h.src != primary && h.ago < fresh)
            .min_by_key(|h| h.ago);
        if let Some(h) = alive {
            let hold = WitnessHold::PeerAlive {
                src: h.src,
                priority: h.priority,
                ago: h.ago,
            };
            self.hold(hold, now, out);
            return;
        }
        let Some(asking) = self.asking.as_mut() else {
            return;
        };
        asking.answers += 1;
        // A witness that has not heard a whole Master_Down_Interval yet cannot tell a
        // silent master from one it has not heard yet.
        if answer.listening >= mdi {
            asking.agreed += 1;
        }
        if asking.answers >= count {
            self.witness_decide(now, out);
        }
    }

    /// The deadline for the witnesses' answers.
    fn witness_deadline(&mut self, now: Instant, out: &mut Vec<Action>) {
        if self.asking.is_some() {
            self.witness_decide(now, out);
        }
    }

    /// No witness objected: take over if one agreed, else as the policy says.
    fn witness_decide(&mut self, now: Instant, out: &mut Vec<Action>) {
        let Some(asking) = self.asking.take() else {
            return;
        };
        self.cancel(Timer::Witness);
        let waited = now.saturating_since(asking.since);
        let asked = self.params.witness.as_ref().map_or(0, |w| w.count);
        let policy = self
            .params
            .witness
            .as_ref()
            .map_or(WitnessPolicy::Available, |w| w.policy);
        let uninformed = asking.answers - asking.agreed;
        let verdict = if asking.agreed > 0 {
            WitnessVerdict::Agreed {
                answered: asking.agreed,
                asked,
                after: waited,
            }
        } else if policy == WitnessPolicy::Available {
            WitnessVerdict::NoAnswer { waited, uninformed }
        } else {
            self.hold(WitnessHold::NoAnswerStrict { waited, uninformed }, now, out);
            return;
        };
        let reason = Reason::MasterDownWitness {
            down: asking.down,
            verdict,
        };
        self.become_master(reason, now, out);
    }

    /// Stay Backup for now: Master_Down_Timer starts again.
    fn hold(&mut self, hold: WitnessHold, now: Instant, out: &mut Vec<Action>) {
        self.stop_asking();
        self.stats.witness_holds += 1;
        let deadline = now + self.master_down_interval();
        self.arm(Timer::MasterDown, deadline);
        out.push(Action::WitnessHold(hold));
    }

    fn on_timer(&mut self, timer: Timer, now: Instant, acting: Instant, out: &mut Vec<Action>) {
        // A timer we no longer have armed is a race with a cancel or re-arm in
        // the shell: ignore it.
        if self.timers[timer.index()].take().is_none() {
            return;
        }
        match (self.state, timer) {
            // RFC 3768 / RFC 9568 section 6.4.3: Adver_Timer fires.
            (State::Master, Timer::Advert) => self.send_advert_now(now, out),
            (State::Master, Timer::Handover) => {
                let why = format!(
                    "no other router took over within {} ms of the priority-0 advert: {} stays \
                     MASTER; check the other node, or drain with --force",
                    self.handover_wait().as_millis(),
                    self.params.name
                );
                self.abort_handover(why, now, out);
            }
            // The second announcement burst, then each refresh (keepalived's
            // garp_master_delay and garp_master_refresh).
            (State::Master, Timer::GarpRefresh) => {
                out.push(Action::Announce(Announce {
                    vips: self.installed.clone(),
                    repeat: self.params.garp_repeat,
                }));
                if !self.params.garp_refresh.is_zero() {
                    self.arm(Timer::GarpRefresh, now + self.params.garp_refresh);
                }
            }
            (State::Fault, Timer::Retry) => {
                self.vip_fault = false;
                if self.link_up && !self.tracking.fault && !self.sync_fault {
                    let after = self
                        .vip_backoff
                        .checked_div(2)
                        .unwrap_or(VIP_RETRY_MIN)
                        .max(VIP_RETRY_MIN);
                    self.leave_fault(RecoveryCause::VipRetry { after }, now, out);
                }
            }
            // Drained: no master heard any more, and none to become.
            (State::Backup, Timer::MasterDown) if self.drained => {
                self.heard = None;
                self.stats.master = None;
            }
            // RFC 3768 / RFC 9568 section 6.4.2: Master_Down_Timer fires.
            (State::Backup, Timer::MasterDown) => {
                let preempting = match (self.ignored, self.heard) {
                    (Some(l), Some(h)) if l.at < h.at => None,
                    (l, _) => l,
                };
                let why = match (preempting, self.heard) {
                    (Some(l), _) => MasterDown::Preempting {
                        priority: l.priority,
                        src: l.src,
                    },
                    (None, Some(h)) if h.priority == 0 => MasterDown::Resigned {
                        src: h.src,
                        ago: now.saturating_since(h.at),
                    },
                    (None, Some(h)) => MasterDown::Silent {
                        src: h.src,
                        ago: now.saturating_since(h.at),
                    },
                    (None, None) => MasterDown::NeverHeard {
                        waited: now.saturating_since(self.backup_since),
                    },
                };
                match (&self.params.witness, &why) {
                    // Only a silent master may be alive behind a broken link; one that
                    // resigned or is being preempted spoke for itself.
                    (Some(w), MasterDown::Silent { .. } | MasterDown::NeverHeard { .. }) => {
                        let timeout = w.timeout;
                        self.ask_witnesses(why, timeout, acting, out);
                    }
                    _ => self.become_master(Reason::MasterDown(why), now, out),
                }
            }
            (State::Backup, Timer::Witness) => self.witness_deadline(now, out),
            (State::Backup, Timer::PreemptDelay) if self.drained => {
                self.preempt_deadline = None;
            }
            (State::Backup, Timer::PreemptDelay) => {
                self.preempt_deadline = None;
                let ours = self.effective_priority();
                if let Some(h) = self.heard {
                    if self.preempts() && h.priority != 0 && h.priority < ours {
                        let reason = Reason::PreemptDelayElapsed {
                            delay: self.params.preempt_delay,
                            ours,
                            theirs: h.priority,
                            src: h.src,
                        };
                        self.become_master(reason, now, out);
                    }
                }
            }
            _ => {}
        }
    }
}

/// Address lists compare as sets: order on the wire is not significant.
fn same_addrs(a: &[IpAddr], vips: &[Vip]) -> bool {
    let mut a = a.to_vec();
    let mut b: Vec<IpAddr> = vips.iter().map(|v| v.addr).collect();
    a.sort_unstable();
    a.dedup();
    b.sort_unstable();
    b.dedup();
    a == b
}

/// VIP lists compare as sets of whole VIPs (address, prefix, interface, label).
fn same_vips(a: &[Vip], b: &[Vip]) -> bool {
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
    use crate::core::track::{ItemState, TrackKind};
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
            vips: vec![Vip::new(VIP, 24)],
            primary: ME,
            unicast_peers: vec![],
            garp_repeat: 5,
            garp_delay: Duration::ZERO,
            garp_refresh: Duration::ZERO,
            checksum: ChecksumMode::PseudoHeader,
            witness: None,
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

    fn track(delta: i32, fault: bool) -> Event {
        Event::Track(Tracking {
            delta,
            fault,
            items: vec![],
        })
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

    /// The actions without the status notices, which the shell only uses to refresh status.
    fn acts(actions: Vec<Action>) -> Vec<Action> {
        actions
            .into_iter()
            .filter(|a| *a != Action::StatusChanged && !matches!(a, Action::PeerSeen { .. }))
            .collect()
    }

    /// The priorities of the adverts sent, in order.
    fn sent(actions: &[Action]) -> Vec<u8> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Send(s) => Some(s.priority),
                _ => None,
            })
            .collect()
    }

    fn count(actions: &[Action], kind: fn(&Action) -> bool) -> usize {
        actions.iter().filter(|a| kind(a)).count()
    }

    fn installs(a: &Action) -> bool {
        matches!(a, Action::InstallVips(_))
    }

    fn removes(a: &Action) -> bool {
        matches!(a, Action::RemoveVips(_))
    }

    fn announces(a: &Action) -> bool {
        matches!(a, Action::Announce(_))
    }

    fn reason(actions: &[Action]) -> Option<String> {
        actions.iter().find_map(|a| match a {
            Action::Transition { reason, .. } => Some(reason.to_string()),
            _ => None,
        })
    }

    fn kinds(actions: &[Action]) -> Vec<&'static str> {
        actions
            .iter()
            .map(|a| match a {
                Action::Transition { .. } => "transition",
                Action::Send(_) => "send",
                Action::InstallVips(_) => "install",
                Action::RemoveVips(_) => "remove",
                Action::Announce(_) => "announce",
                Action::Drop { .. } => "drop",
                Action::Malformed { .. } => "malformed",
                Action::AddressMismatch { .. } => "mismatch",
                Action::PeerSeen { .. } => "peer",
                Action::CannotEncode(_) => "cannot_encode",
                Action::OtherMaster { .. } => "other_master",
                Action::DrainRefused(_) => "drain_refused",
                Action::HandingOver { .. } => "handing_over",
                Action::AskWitnesses(_) => "ask_witnesses",
                Action::WitnessHold(_) => "witness_hold",
                Action::StatusChanged => "status",
            })
            .collect()
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
        let a = acts(i.handle(Event::Startup, ms(0)));
        assert_eq!(
            a[0],
            Action::Transition {
                from: State::Initialize,
                to: State::Master,
                reason: Reason::StartupOwner,
            }
        );
        assert_eq!(
            a[0..4]
                .iter()
                .map(|x| kinds(std::slice::from_ref(x))[0])
                .collect::<Vec<_>>(),
            ["transition", "install", "announce", "send"]
        );
        assert_eq!(a[1], Action::InstallVips(vec![Vip::new(VIP, 24)]));
        assert_eq!(sent(&a), [255]);
        assert_eq!(a.len(), 4);
        assert_eq!(i.deadline(Timer::Advert), Some(ms(1000)));
        assert_eq!(i.stats().master, Some(ME));
        assert_eq!(
            reason(&a).as_deref(),
            Some("startup as address owner (priority 255)")
        );
    }

    #[test]
    fn adverts_are_complete_and_encoded_once_per_priority() {
        let mut p = params(Version::V3, 255);
        p.unicast_peers = vec![LOW, HIGH];
        let mut i = Instance::new(p);
        let a = i.handle(Event::Startup, ms(0));
        let Some(Action::Send(s)) = a.iter().find(|x| matches!(x, Action::Send(_))) else {
            panic!("no advert in {a:?}");
        };
        let dsts: Vec<IpAddr> = s.packets.iter().map(|t| t.dst).collect();
        assert_eq!(dsts, [LOW, HIGH]);
        for t in &s.packets {
            assert_eq!(t.src, ME);
            let (decoded, form) = packet::decode(&t.payload, t.src, t.dst).expect("valid");
            assert_eq!(decoded.priority, 255);
            assert_eq!(decoded.addrs, vec![VIP]);
            assert_eq!(form, ChecksumForm::PseudoHeader);
        }
        let first = s.packets[0].payload.clone();
        let a = i.handle(Event::Timer(Timer::Advert), ms(1000));
        let Some(Action::Send(again)) = a.first() else {
            panic!("no advert in {a:?}");
        };
        assert!(Arc::ptr_eq(&first, &again.packets[0].payload), "re-encoded");
    }

    #[test]
    fn startup_non_owner_goes_backup_with_master_down_interval() {
        let mut i = Instance::new(params(Version::V3, 100));
        i.handle(Event::Startup, ms(0));
        assert_eq!(i.state(), State::Backup);
        let mdi = Duration::from_millis(3000) + Duration::from_nanos(609_375_000);
        assert_eq!(i.deadline(Timer::MasterDown), Some(ms(0) + mdi));
        assert_eq!(i.poll_timeout(), Some(ms(0) + mdi));
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
            reason(&a).as_deref(),
            Some("master down timer expired: no advert from 192.0.2.201 for 3609 ms")
        );
        assert_eq!(count(&a, installs), 1);
        assert_eq!(sent(&a), [100]);
        assert_eq!(i.deadline(Timer::Advert), Some(ms(5609)));
        assert_eq!(i.deadline(Timer::MasterDown), None);
    }

    #[test]
    fn handle_timeout_fires_at_the_deadline_unless_late() {
        let mut i = master(Version::V3, 100);
        // Advert due at 6000; handled 2 ms late: fired at its deadline, next at 7000.
        i.handle_timeout(ms(6002));
        assert_eq!(i.deadline(Timer::Advert), Some(ms(7000)));
        // Handled 3 s late (a stall): fired once, at the time handled.
        let a = i.handle_timeout(ms(10_000));
        assert_eq!(sent(&a), [100]);
        assert_eq!(i.deadline(Timer::Advert), Some(ms(11_000)));
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
        let a = acts(i.handle(ev(HIGH, adv), ms(100)));
        // MDI = 3 * 500 ms + 156 * 500 / 256 ms = 1804.6875 ms.
        let want = ms(100) + Duration::from_micros(1_804_687) + Duration::from_nanos(500);
        assert!(a.is_empty(), "{a:?}");
        assert_eq!(i.deadline(Timer::MasterDown), Some(want));
        assert_eq!(i.master_adver_interval(), Duration::from_millis(500));
        assert_eq!(i.stats().master, Some(HIGH));
        assert_eq!(i.report().master, Some((HIGH, 200)));
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
        let a = acts(i.handle(ev(HIGH, advert(Version::V3, 0)), ms(200)));
        let want = ms(200) + Duration::from_nanos(609_375_000);
        assert!(a.is_empty(), "{a:?}");
        assert_eq!(i.deadline(Timer::MasterDown), Some(want));
        let a = i.handle(Event::Timer(Timer::MasterDown), want);
        assert_eq!(
            reason(&a).as_deref(),
            Some("master down timer expired: 192.0.2.201 resigned (priority 0) 609 ms ago")
        );
        assert_eq!(i.stats().priority_zero_received, 1);
    }

    #[test]
    fn backup_ignores_lower_priority_when_preempting() {
        let mut i = started(Version::V3, 100);
        let before = i.deadline(Timer::MasterDown);
        let a = acts(i.handle(ev(LOW, advert(Version::V3, 50)), ms(100)));
        assert!(a.is_empty());
        assert_eq!(i.deadline(Timer::MasterDown), before, "not re-armed");
        assert_eq!(i.stats().master, None);
        let a = i.handle(Event::Timer(Timer::MasterDown), ms(3609));
        assert_eq!(
            reason(&a).as_deref(),
            Some("master down timer expired: preempting lower priority 50 from 192.0.2.5")
        );
    }

    #[test]
    fn backup_without_preempt_accepts_lower_priority() {
        let mut p = params(Version::V3, 100);
        p.preempt = false;
        let mut i = Instance::new(p);
        i.handle(Event::Startup, ms(0));
        let a = acts(i.handle(ev(LOW, advert(Version::V3, 50)), ms(100)));
        assert!(a.is_empty());
        assert_eq!(
            i.deadline(Timer::MasterDown),
            Some(ms(100) + i.master_down_interval())
        );
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
            reason(&a).as_deref(),
            Some("interface up: address owner (priority 255)")
        );
    }

    #[test]
    fn preempt_delay_accepts_lower_master_until_it_elapses() {
        let mut p = params(Version::V3, 150);
        p.preempt_delay = Duration::from_secs(5);
        let mut i = Instance::new(p);
        i.handle(Event::Startup, ms(0));
        i.handle(ev(LOW, advert(Version::V3, 100)), ms(1000));
        assert_eq!(i.deadline(Timer::PreemptDelay), Some(ms(6000)));
        assert_eq!(
            i.deadline(Timer::MasterDown),
            Some(ms(1000) + i.master_down_interval())
        );
        // Further lower adverts keep the same deadline.
        i.handle(ev(LOW, advert(Version::V3, 100)), ms(2000));
        assert_eq!(i.deadline(Timer::PreemptDelay), Some(ms(6000)));
        let a = i.handle(Event::Timer(Timer::PreemptDelay), ms(6000));
        assert_eq!(i.state(), State::Master);
        assert_eq!(
            reason(&a).as_deref(),
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
        i.handle(ev(HIGH, advert(Version::V3, 200)), ms(2000));
        assert_eq!(i.deadline(Timer::PreemptDelay), None);
    }

    #[test]
    fn master_priority_zero_sends_advert_at_once() {
        let mut i = master(Version::V3, 100);
        let a = acts(i.handle(ev(LOW, advert(Version::V3, 0)), ms(6000)));
        assert_eq!(kinds(&a), ["send"]);
        assert_eq!(sent(&a), [100]);
        assert_eq!(i.deadline(Timer::Advert), Some(ms(7000)));
    }

    #[test]
    fn master_yields_to_higher_priority() {
        let mut i = master(Version::V3, 100);
        let mut adv = advert(Version::V3, 200);
        adv.interval_cs = 200;
        let a = i.handle(ev(LOW, adv), ms(6000));
        assert_eq!(i.state(), State::Backup);
        assert_eq!(
            reason(&a).as_deref(),
            Some("higher priority 200 from 192.0.2.5")
        );
        assert!(a.contains(&Action::RemoveVips(vec![Vip::new(VIP, 24)])));
        assert_eq!(i.deadline(Timer::Advert), None);
        // MDI learnt from the 2 s interval: 6 s + 156 * 2 s / 256.
        let want = ms(6000) + Duration::from_millis(6000) + Duration::from_micros(1_218_750);
        assert_eq!(i.deadline(Timer::MasterDown), Some(want));
        assert_eq!(i.stats().master, Some(LOW));
    }

    #[test]
    fn master_equal_priority_higher_address_wins() {
        let mut i = master(Version::V3, 100);
        let a = i.handle(ev(HIGH, advert(Version::V3, 100)), ms(6000));
        assert_eq!(i.state(), State::Backup);
        assert_eq!(
            reason(&a).as_deref(),
            Some("equal priority, higher address 192.0.2.201")
        );
    }

    #[test]
    fn master_equal_priority_lower_address_is_discarded() {
        let mut i = master(Version::V3, 100);
        let a = i.handle(ev(LOW, advert(Version::V3, 100)), ms(6000));
        assert_eq!(i.state(), State::Master);
        assert_eq!(sent(&a), [100]);
    }

    #[test]
    fn master_lower_priority_sends_advert_and_rate_limited_announce() {
        let mut i = master(Version::V3, 100);
        // Became master at 5000 ms with an announce: within one interval no new one.
        let a = acts(i.handle(ev(LOW, advert(Version::V3, 50)), ms(5500)));
        assert_eq!(kinds(&a), ["other_master", "send"]);
        assert_eq!(i.deadline(Timer::Advert), Some(ms(6500)));
        let a = i.handle(ev(LOW, advert(Version::V3, 50)), ms(6000));
        assert_eq!(count(&a, announces), 1);
        let a = i.handle(ev(LOW, advert(Version::V3, 50)), ms(6999));
        assert_eq!(count(&a, announces), 0);
        let a = i.handle(ev(LOW, advert(Version::V3, 50)), ms(7000));
        assert_eq!(count(&a, announces), 1);
    }

    #[test]
    fn heal_announce_is_not_held_back_by_a_long_garp_refresh() {
        // A one-minute refresh (a common keepalived setting) must not delay the
        // re-announce that wins the hosts back after a split brain.
        let mut p = params(Version::V3, 255);
        p.garp_refresh = Duration::from_secs(60);
        let mut i = Instance::new(p);
        i.handle(Event::Startup, ms(0));
        let a = i.handle(ev(LOW, advert(Version::V3, 50)), ms(500));
        assert_eq!(count(&a, announces), 0, "within one interval of the first");
        let a = i.handle(ev(LOW, advert(Version::V3, 50)), ms(1000));
        assert_eq!(count(&a, announces), 1);
    }

    #[test]
    fn a_master_that_yields_sends_one_last_advert_so_the_winner_re_announces() {
        // lb2 (90) and lb1 (100) were both MASTER; lb1's advert reaches lb2 first.
        let mut loser = master(Version::V3, 90);
        let a = acts(loser.handle(ev(HIGH, advert(Version::V3, 100)), ms(6000)));
        assert_eq!(
            kinds(&a),
            ["other_master", "transition", "remove", "send"],
            "{a:?}"
        );
        assert_eq!(
            sent(&a),
            [90],
            "its own priority, not 0: it yields, it does not resign"
        );
        assert_eq!(
            loser.deadline(Timer::Advert),
            None,
            "no more periodic adverts"
        );
        // The winner hears that lower priority and re-announces at once.
        let mut winner = master(Version::V3, 100);
        let a = winner.handle(ev(LOW, advert(Version::V3, 90)), ms(6001));
        assert_eq!(count(&a, announces), 1);
        assert_eq!(sent(&a), [100]);
    }

    #[test]
    fn second_burst_and_refresh_are_scheduled_by_the_core() {
        let mut p = params(Version::V3, 255);
        p.garp_delay = DEFAULT_GARP_DELAY;
        let mut i = Instance::new(p.clone());
        let a = i.handle(Event::Startup, ms(0));
        assert_eq!(
            a.iter().find(|x| announces(x)),
            Some(&Action::Announce(Announce {
                vips: vec![Vip::new(VIP, 24)],
                repeat: 5
            }))
        );
        // keepalived's garp_master_delay: a second burst 5 s later, and no more.
        assert_eq!(i.deadline(Timer::GarpRefresh), Some(ms(5000)));
        let a = i.handle_timeout(ms(5000));
        assert_eq!(count(&a, announces), 1);
        assert_eq!(i.deadline(Timer::GarpRefresh), None);
        // With a refresh of 2 s: the second burst after 2 s, then every 2 s.
        p.garp_refresh = Duration::from_secs(2);
        let mut i = Instance::new(p);
        i.handle(Event::Startup, ms(0));
        assert_eq!(i.deadline(Timer::GarpRefresh), Some(ms(2000)));
        i.handle_timeout(ms(2000));
        assert_eq!(i.deadline(Timer::GarpRefresh), Some(ms(4000)));
        // Leaving Master stops it.
        i.handle(Event::LinkDown, ms(2500));
        assert_eq!(i.deadline(Timer::GarpRefresh), None);
    }

    #[test]
    fn advert_timer_resends_and_rearms() {
        let mut i = master(Version::V2, 255);
        let a = acts(i.handle(Event::Timer(Timer::Advert), ms(1000)));
        assert_eq!(sent(&a), [255]);
        assert_eq!(a.len(), 1);
        assert_eq!(i.deadline(Timer::Advert), Some(ms(2000)));
    }

    #[test]
    fn shutdown_master_resigns() {
        let mut i = master(Version::V3, 100);
        let a = acts(i.handle(Event::Shutdown, ms(6000)));
        assert_eq!(kinds(&a), ["transition", "send", "remove"]);
        assert_eq!(
            a[0],
            Action::Transition {
                from: State::Master,
                to: State::Initialize,
                reason: Reason::Shutdown,
            }
        );
        assert_eq!(sent(&a), [0]);
        assert_eq!(a[2], Action::RemoveVips(vec![Vip::new(VIP, 24)]));
        assert_eq!(i.poll_timeout(), None);
        assert_eq!(i.stats().priority_zero_sent, 1);
        assert!(i.handle(Event::Shutdown, ms(6001)).is_empty());
    }

    #[test]
    fn shutdown_backup_cancels_timer() {
        let mut i = started(Version::V3, 100);
        let a = i.handle(Event::Shutdown, ms(10));
        assert_eq!(i.deadline(Timer::MasterDown), None);
        assert!(sent(&a).is_empty());
        assert_eq!(i.state(), State::Initialize);
    }

    #[test]
    fn link_down_master_goes_fault_without_advert() {
        let mut i = master(Version::V3, 100);
        let a = i.handle(Event::LinkDown, ms(6000));
        assert_eq!(i.state(), State::Fault);
        assert_eq!(reason(&a).as_deref(), Some("interface down"));
        assert_eq!(count(&a, removes), 1);
        assert_eq!(i.poll_timeout(), None);
        assert!(sent(&a).is_empty());
        // Adverts in Fault are not acted upon.
        let a = acts(i.handle(ev(HIGH, advert(Version::V3, 200)), ms(6100)));
        assert!(a.is_empty());
        let a = i.handle(Event::LinkUp, ms(7000));
        assert_eq!(i.state(), State::Backup);
        assert_eq!(reason(&a).as_deref(), Some("interface up"));
    }

    #[test]
    fn track_fault_master_resigns_with_priority_zero() {
        let mut i = master(Version::V3, 100);
        let a = i.handle(track(0, true), ms(6000));
        assert_eq!(i.state(), State::Fault);
        assert_eq!(reason(&a).as_deref(), Some("track weight-0 failing"));
        assert_eq!(sent(&a), [0]);
        // The link coming up does not clear a track fault.
        i.handle(Event::LinkUp, ms(6500));
        assert_eq!(i.state(), State::Fault);
        let a = i.handle(track(0, false), ms(7000));
        assert_eq!(i.state(), State::Backup);
        assert_eq!(reason(&a).as_deref(), Some("track weight-0 recovered"));
    }

    #[test]
    fn track_reasons_name_the_item() {
        let mut i = master(Version::V3, 100);
        let item = |fault| Contribution {
            kind: TrackKind::Script,
            name: "nginx".into(),
            weight: 0,
            delta: 0,
            fault,
            state: if fault {
                ItemState::Bad
            } else {
                ItemState::Good
            },
        };
        let failing = Tracking {
            delta: 0,
            fault: true,
            items: vec![item(true)],
        };
        let a = i.handle(Event::Track(failing), ms(6000));
        assert_eq!(
            reason(&a).as_deref(),
            Some("track weight-0 failing: script nginx")
        );
        assert_eq!(i.report().tracking, vec![item(true)]);
        let ok = Tracking {
            delta: 0,
            fault: false,
            items: vec![item(false)],
        };
        let a = i.handle(Event::Track(ok), ms(7000));
        assert_eq!(
            reason(&a).as_deref(),
            Some("track weight-0 recovered: script nginx")
        );
    }

    #[test]
    fn startup_while_faulty_goes_fault() {
        let mut i = Instance::new(params(Version::V3, 100));
        i.handle(track(0, true), ms(0));
        let a = i.handle(Event::Startup, ms(0));
        assert_eq!(i.state(), State::Fault);
        assert_eq!(
            reason(&a).as_deref(),
            Some("startup: track weight-0 failing")
        );
    }

    #[test]
    fn priority_change_while_master_advertises_at_once() {
        let mut i = master(Version::V3, 100);
        let a = i.handle(track(-30, false), ms(5500));
        assert_eq!(i.effective_priority(), 70);
        assert_eq!(kinds(&a), ["send", "status"]);
        assert_eq!(sent(&a), [70]);
        assert_eq!(i.deadline(Timer::Advert), Some(ms(6500)));
        // Same priority again: nothing to say.
        assert!(i.handle(track(-30, false), ms(5600)).is_empty());
    }

    #[test]
    fn priority_change_while_backup_decides_at_next_advert() {
        let mut i = started(Version::V3, 100);
        i.handle(ev(HIGH, advert(Version::V3, 120)), ms(100));
        let a = i.handle(track(50, false), ms(200));
        assert_eq!(
            kinds(&a),
            ["status"],
            "only the priority in the report changed"
        );
        // Now 150 > 120: the master's advert is ignored and the timer runs out.
        let before = i.deadline(Timer::MasterDown);
        assert!(acts(i.handle(ev(HIGH, advert(Version::V3, 120)), ms(1100))).is_empty());
        assert_eq!(i.deadline(Timer::MasterDown), before);
    }

    #[test]
    fn owner_ignores_weights() {
        let mut i = master(Version::V3, 255);
        assert!(i.handle(track(-100, false), ms(10)).is_empty());
        assert_eq!(i.effective_priority(), 255);
    }

    #[test]
    fn reconfigure_master_priority_and_vips() {
        let mut i = master(Version::V3, 100);
        let mut p = params(Version::V3, 120);
        let a = acts(i.handle(Event::Reconfigure(p.clone()), ms(5500)));
        assert_eq!(kinds(&a), ["send"]);
        assert_eq!(sent(&a), [120]);
        assert_eq!(i.deadline(Timer::Advert), Some(ms(6500)));
        let extra = Vip::new("192.0.2.101".parse().unwrap(), 24);
        p.vips.push(extra.clone());
        let a = acts(i.handle(Event::Reconfigure(p.clone()), ms(5600)));
        // The core diffs: the unchanged VIP stays, only the new one is installed.
        assert_eq!(kinds(&a), ["install", "announce", "send"]);
        assert_eq!(a[0], Action::InstallVips(vec![extra.clone()]));
        assert!(i.handle(Event::Reconfigure(p.clone()), ms(5700)).is_empty());
        p.vips.remove(0);
        let a = acts(i.handle(Event::Reconfigure(p), ms(5800)));
        assert_eq!(a[0], Action::RemoveVips(vec![Vip::new(VIP, 24)]));
        assert_eq!(i.report().vips, vec![extra]);
    }

    #[test]
    fn reconfigure_backup_rearms_when_mdi_changes() {
        let mut i = started(Version::V2, 100);
        let mut p = params(Version::V2, 200);
        p.interval_cs = 200;
        i.handle(Event::Reconfigure(p), ms(100));
        let mdi = Duration::from_secs(6) + Duration::from_nanos(56 * 1_000_000_000 / 256);
        assert_eq!(i.deadline(Timer::MasterDown), Some(ms(100) + mdi));
    }

    fn drop_of(i: &mut Instance, e: Event) -> Vec<Action> {
        acts(i.handle(e, ms(100)))
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
            let src = match &e {
                Event::Advert { src, .. } => *src,
                _ => unreachable!(),
            };
            assert_eq!(
                drop_of(&mut i, e),
                vec![Action::Drop { src, reason: why }],
                "{why}"
            );
            assert_eq!(i.stats().drops_for(why), 1);
        }
        assert_eq!(i.stats().total_drops(), n);
        assert_eq!(i.stats().adverts_received, n);
        assert!(i.stats().checksum_forms.is_empty());
        assert!(i.report().peers.is_empty());
        assert_eq!(i.state(), State::Backup);
    }

    #[test]
    fn packets_are_decoded_here_and_bad_ones_counted() {
        let mut i = started(Version::V3, 100);
        let group: IpAddr = packet::MULTICAST_V4.into();
        let bytes = packet::encode(
            &advert(Version::V3, 200),
            HIGH,
            group,
            ChecksumMode::PseudoHeader,
        )
        .expect("encodes");
        let a = i.handle(
            Event::Packet {
                src: HIGH,
                dst: group,
                ttl: 255,
                payload: bytes.clone(),
            },
            ms(100),
        );
        assert_eq!(
            a.iter().find(|x| matches!(x, Action::PeerSeen { .. })),
            Some(&Action::PeerSeen {
                src: HIGH,
                priority: 200,
                checksum: ChecksumForm::PseudoHeader,
                ours: ChecksumForm::PseudoHeader,
            })
        );
        assert_eq!(i.stats().master, Some(HIGH));
        let mut bad = bytes;
        bad[6] ^= 0xff;
        let a = i.handle(
            Event::Packet {
                src: HIGH,
                dst: group,
                ttl: 255,
                payload: bad,
            },
            ms(200),
        );
        assert!(matches!(
            a[..],
            [Action::Malformed {
                error: DecodeError::BadChecksum { .. },
                ..
            }]
        ));
        assert_eq!(i.stats().malformed.get("bad_checksum"), Some(&1));
        assert_eq!(i.stats().adverts_received, 2);
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
        let auth = |src| {
            vec![Action::Drop {
                src,
                reason: DropReason::AuthMismatch,
            }]
        };
        assert_eq!(i.handle(ev(HIGH, wrong), ms(1)), auth(HIGH));
        let none = advert(Version::V2, 200);
        assert_eq!(i.handle(ev(HIGH, none), ms(2)), auth(HIGH));
        let right = Advert {
            auth: Some(Auth::Simple(*b"pass\0\0\0\0")),
            ..advert(Version::V2, 200)
        };
        let a = acts(i.handle(ev(HIGH, right), ms(3)));
        assert!(a.is_empty());
        assert_eq!(
            i.deadline(Timer::MasterDown),
            Some(ms(3) + i.master_down_interval())
        );
    }

    #[test]
    fn unicast_mode_drops_non_peers() {
        let mut p = params(Version::V3, 100);
        p.unicast_peers = vec![HIGH];
        let mut i = Instance::new(p);
        i.handle(Event::Startup, ms(0));
        assert_eq!(
            i.handle(ev(LOW, advert(Version::V3, 200)), ms(1)),
            vec![Action::Drop {
                src: LOW,
                reason: DropReason::NotAPeer
            }]
        );
        i.handle(ev(HIGH, advert(Version::V3, 200)), ms(1));
        assert_eq!(i.stats().master, Some(HIGH));
    }

    #[test]
    fn address_mismatch_is_reported_but_processed() {
        let mut i = master(Version::V3, 100);
        let adv = Advert {
            addrs: vec!["192.0.2.99".parse().unwrap()],
            ..advert(Version::V3, 200)
        };
        let a = acts(i.handle(ev(HIGH, adv), ms(6000)));
        assert_eq!(a[0], Action::AddressMismatch { src: HIGH });
        assert_eq!(i.state(), State::Backup);
        assert_eq!(i.stats().address_mismatches, 1);
        // Order on the wire does not matter.
        let mut p = params(Version::V3, 100);
        p.vips = vec![
            Vip::new("192.0.2.100".parse().unwrap(), 24),
            Vip::new("192.0.2.101".parse().unwrap(), 24),
        ];
        let mut j = Instance::new(p.clone());
        j.handle(Event::Startup, ms(0));
        let adv = Advert {
            addrs: p.vips.iter().rev().map(|v| v.addr).collect(),
            ..advert(Version::V3, 200)
        };
        assert!(!j
            .handle(ev(HIGH, adv), ms(1))
            .contains(&Action::AddressMismatch { src: HIGH }));
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
        let peers = i.report().peers;
        assert_eq!(peers.len(), 1);
        assert_eq!(peers[0].adverts, 3);
        assert_eq!(peers[0].checksum, ChecksumForm::PseudoHeader);
    }

    #[test]
    fn peers_are_bounded() {
        let mut i = started(Version::V3, 100);
        for n in 0..(MAX_PEERS as u32 + 10) {
            let src = IpAddr::V4(Ipv4Addr::from(0xc000_0300 + n));
            i.handle(ev(src, advert(Version::V3, 50)), ms(u64::from(n)));
        }
        assert_eq!(i.report().peers.len(), MAX_PEERS);
        assert!(i.stats().checksum_forms.len() <= MAX_PEERS);
    }

    #[test]
    fn reconfigure_preempt_off_cancels_pending_preempt_delay() {
        let mut p = params(Version::V3, 150);
        p.preempt_delay = Duration::from_secs(5);
        let mut i = Instance::new(p.clone());
        i.handle(Event::Startup, ms(0));
        i.handle(ev(LOW, advert(Version::V3, 100)), ms(1000));
        assert!(i.deadline(Timer::PreemptDelay).is_some());
        p.preempt = false;
        let a = i.handle(Event::Reconfigure(p), ms(1500));
        assert!(a.is_empty(), "{a:?}");
        assert_eq!(i.deadline(Timer::PreemptDelay), None);
    }

    #[test]
    fn link_down_backup_cancels_master_down() {
        let mut i = started(Version::V2, 100);
        let a = i.handle(Event::LinkDown, ms(10));
        assert_eq!(
            acts(a),
            vec![Action::Transition {
                from: State::Backup,
                to: State::Fault,
                reason: Reason::Fault(FaultCause::InterfaceDown),
            }]
        );
        assert_eq!(i.deadline(Timer::MasterDown), None);
    }

    #[test]
    fn events_before_startup_are_only_recorded() {
        let mut i = Instance::new(params(Version::V3, 100));
        assert_eq!(
            i.handle(track(20, false), ms(0)),
            vec![Action::StatusChanged]
        );
        assert!(i.handle(Event::LinkUp, ms(0)).is_empty());
        assert!(i.handle(Event::Timer(Timer::MasterDown), ms(0)).is_empty());
        assert_eq!(i.state(), State::Initialize);
        assert_eq!(i.effective_priority(), 120);
        i.handle(Event::Startup, ms(0));
        // Skew uses the effective priority: (256 - 120) / 256 s.
        let mdi = Duration::from_secs(3) + Duration::from_nanos(136 * 1_000_000_000 / 256);
        assert_eq!(i.deadline(Timer::MasterDown), Some(ms(0) + mdi));
    }

    #[test]
    fn stats_count_transitions_and_sends() {
        let mut i = master(Version::V3, 100);
        i.handle(Event::Timer(Timer::Advert), ms(6000));
        let s = i.stats();
        assert_eq!(s.transitions, 2);
        assert_eq!(s.became_master, 1);
        assert_eq!(s.adverts_sent, 2);
        let last = i.report().last_transition.expect("one");
        assert_eq!(
            (last.from, last.to, last.at),
            (State::Backup, State::Master, ms(5000))
        );
    }

    fn with_witnesses(count: usize, policy: WitnessPolicy) -> Instance {
        let mut p = params(Version::V3, 100);
        p.witness = Some(WitnessParams {
            count,
            policy,
            timeout: Duration::from_millis(5),
        });
        let mut i = Instance::new(p);
        i.handle(Event::Startup, ms(0));
        i
    }

    /// Master HIGH (priority 200) heard at 100 ms; Master_Down_Timer fires at 3709.375 ms.
    fn master_goes_silent(i: &mut Instance) -> (Instant, Vec<Action>) {
        i.handle(ev(HIGH, advert(Version::V3, 200)), ms(100));
        let at = i.deadline(Timer::MasterDown).expect("armed");
        (at, acts(i.handle_timeout(at)))
    }

    fn answer(listening_ms: u64, heard: &[(IpAddr, u8, u64)]) -> Event {
        Event::WitnessAnswer(WitnessAnswer {
            listening: Duration::from_millis(listening_ms),
            heard: heard
                .iter()
                .map(|&(src, priority, ago)| WitnessHeard {
                    src,
                    priority,
                    ago: Duration::from_millis(ago),
                })
                .collect(),
        })
    }

    fn us(d: u64) -> Duration {
        Duration::from_micros(d)
    }

    #[test]
    fn a_silent_master_is_asked_about_before_taking_over() {
        let mut i = with_witnesses(1, WitnessPolicy::Available);
        let (at, a) = master_goes_silent(&mut i);
        let mdi = Duration::from_nanos(3_609_375_000);
        assert_eq!(at, ms(100) + mdi);
        assert_eq!(
            a,
            vec![Action::AskWitnesses(WitnessQuery {
                vrid: 51,
                family: Family::V4,
                master: Some((HIGH, 200)),
                master_down: mdi,
                timeout: Duration::from_millis(5),
            })]
        );
        assert_eq!(i.state(), State::Backup);
        assert_eq!(i.deadline(Timer::MasterDown), None);
        assert_eq!(
            i.deadline(Timer::Witness),
            Some(at + Duration::from_millis(5))
        );
        assert_eq!(i.stats().witness_queries, 1);
    }

    #[test]
    fn a_master_down_timer_handled_late_still_gives_the_witnesses_their_whole_window() {
        let mut i = with_witnesses(1, WitnessPolicy::Available);
        i.handle(ev(HIGH, advert(Version::V3, 200)), ms(100));
        let at = i.deadline(Timer::MasterDown).expect("armed");
        // A loop woken 4 ms late fires the timer at its deadline (within LATE_TOLERANCE),
        // but the question only goes out now: the window starts now.
        let handled = at + Duration::from_millis(4);
        let a = acts(i.handle_timeout(handled));
        assert!(matches!(a[..], [Action::AskWitnesses(_)]), "{a:?}");
        assert_eq!(
            i.deadline(Timer::Witness),
            Some(handled + Duration::from_millis(5))
        );
        assert!(acts(i.handle_timeout(at + Duration::from_millis(5))).is_empty());
        let a = acts(i.handle(answer(60_000, &[(HIGH, 200, 36)]), handled + us(1930)));
        assert!(matches!(a[..], [Action::WitnessHold(_)]), "{a:?}");
        assert_eq!(i.state(), State::Backup);
    }

    #[test]
    fn a_witness_that_still_hears_the_master_keeps_the_backup() {
        let mut i = with_witnesses(1, WitnessPolicy::Available);
        let (at, _) = master_goes_silent(&mut i);
        let now = at + us(300);
        let a = acts(i.handle(answer(60_000, &[(HIGH, 200, 40)]), now));
        assert_eq!(
            a,
            vec![Action::WitnessHold(WitnessHold::PeerAlive {
                src: HIGH,
                priority: 200,
                ago: Duration::from_millis(40),
            })]
        );
        assert_eq!(
            a[0].clone(),
            Action::WitnessHold(WitnessHold::PeerAlive {
                src: HIGH,
                priority: 200,
                ago: Duration::from_millis(40)
            })
        );
        assert_eq!(i.state(), State::Backup);
        assert_eq!(i.deadline(Timer::Witness), None);
        assert_eq!(
            i.deadline(Timer::MasterDown),
            Some(now + i.master_down_interval())
        );
        assert_eq!(i.stats().witness_holds, 1);
        // The question is answered: the deadline and late answers change nothing.
        assert!(acts(i.handle(answer(60_000, &[]), now + us(100))).is_empty());
        assert!(acts(i.handle_timeout(at + Duration::from_millis(5))).is_empty());
        // Next time round the master is still unreachable: asked again.
        let next = i.deadline(Timer::MasterDown).expect("armed");
        assert!(matches!(
            acts(i.handle_timeout(next))[..],
            [Action::AskWitnesses(_)]
        ));
    }

    #[test]
    fn a_witness_that_hears_nobody_lets_the_backup_take_over_at_once() {
        let mut i = with_witnesses(1, WitnessPolicy::Available);
        let (at, _) = master_goes_silent(&mut i);
        let a = acts(i.handle(answer(60_000, &[]), at + us(412)));
        assert_eq!(
            kinds(&a),
            ["transition", "install", "announce", "send"],
            "{a:?}"
        );
        assert_eq!(
            reason(&a).as_deref(),
            Some(
                "master down timer expired: no advert from 192.0.2.201 for 3609 ms; witness \
                 agreed: 1 of 1 heard no other MASTER (answered in 412 µs)"
            )
        );
        assert_eq!(i.deadline(Timer::Witness), None);
    }

    #[test]
    fn only_another_router_with_priority_heard_within_master_down_counts() {
        let mut i = with_witnesses(1, WitnessPolicy::Available);
        let (at, _) = master_goes_silent(&mut i);
        // Ourselves, a resignation, a router not heard for longer than Master_Down_Interval,
        // and the master's last advert before it died, heard when we heard it too.
        let heard = [
            (ME, 100, 0),
            (HIGH, 0, 10),
            (LOW, 50, 3700),
            (HIGH, 200, 3609),
        ];
        let a = acts(i.handle(answer(60_000, &heard), at + us(500)));
        assert_eq!(i.state(), State::Master, "{a:?}");
        assert!(reason(&a).is_some_and(|r| r.contains("witness agreed")));
    }

    #[test]
    fn a_master_heard_one_interval_after_our_last_advert_is_alive() {
        // Master_Down_Interval 3609 ms, interval 1 s: anything under 2609 ms holds, even
        // with one advert lost on the way to the witness.
        for (ago, holds) in [(2000, true), (2608, true), (2610, false)] {
            let mut i = with_witnesses(1, WitnessPolicy::Available);
            let (at, _) = master_goes_silent(&mut i);
            i.handle(answer(60_000, &[(HIGH, 200, ago)]), at + us(300));
            assert_eq!(i.state() == State::Backup, holds, "ago {ago} ms");
        }
    }

    #[test]
    fn no_answer_by_the_deadline_follows_the_policy() {
        let mut i = with_witnesses(1, WitnessPolicy::Available);
        let (at, _) = master_goes_silent(&mut i);
        let a = acts(i.handle_timeout(at + Duration::from_millis(5)));
        assert_eq!(i.state(), State::Master);
        assert_eq!(
            reason(&a).as_deref(),
            Some(
                "master down timer expired: no advert from 192.0.2.201 for 3609 ms; no witness \
                 answered within 5000 µs, taking over as VRRP says (witness-policy available)"
            )
        );

        let mut i = with_witnesses(1, WitnessPolicy::Strict);
        let (at, _) = master_goes_silent(&mut i);
        let deadline = at + Duration::from_millis(5);
        let a = acts(i.handle_timeout(deadline));
        assert_eq!(
            a,
            vec![Action::WitnessHold(WitnessHold::NoAnswerStrict {
                waited: Duration::from_millis(5),
                uninformed: 0,
            })]
        );
        assert_eq!(i.state(), State::Backup);
        assert_eq!(
            i.deadline(Timer::MasterDown),
            Some(deadline + i.master_down_interval())
        );
    }

    #[test]
    fn a_witness_that_has_not_listened_long_enough_is_no_answer() {
        let mut i = with_witnesses(1, WitnessPolicy::Strict);
        let (at, _) = master_goes_silent(&mut i);
        let a = acts(i.handle(answer(1000, &[]), at + us(300)));
        assert_eq!(
            a,
            vec![Action::WitnessHold(WitnessHold::NoAnswerStrict {
                waited: us(300),
                uninformed: 1,
            })]
        );
        let mut i = with_witnesses(1, WitnessPolicy::Available);
        let (at, _) = master_goes_silent(&mut i);
        let a = acts(i.handle(answer(1000, &[]), at + us(300)));
        assert_eq!(i.state(), State::Master);
        assert!(reason(&a).is_some_and(|r| r.contains("had listened for less than")));
    }

    #[test]
    fn with_several_witnesses_every_answer_counts() {
        // One says silent, the other still hears the master: stay.
        let mut i = with_witnesses(2, WitnessPolicy::Available);
        let (at, _) = master_goes_silent(&mut i);
        assert!(acts(i.handle(answer(60_000, &[]), at + us(200))).is_empty());
        assert_eq!(i.state(), State::Backup);
        let a = acts(i.handle(answer(60_000, &[(HIGH, 200, 30)]), at + us(300)));
        assert!(matches!(
            a[..],
            [Action::WitnessHold(WitnessHold::PeerAlive { .. })]
        ));
        // One says silent, the other never answers: the deadline takes over.
        let mut i = with_witnesses(2, WitnessPolicy::Strict);
        let (at, _) = master_goes_silent(&mut i);
        i.handle(answer(60_000, &[]), at + us(200));
        let a = acts(i.handle_timeout(at + Duration::from_millis(5)));
        assert_eq!(i.state(), State::Master);
        assert!(reason(&a).is_some_and(|r| r.contains("witness agreed: 1 of 2")));
    }

    #[test]
    fn a_master_that_speaks_needs_no_witness() {
        // It resigns: Skew_Time, then Master at once.
        let mut i = with_witnesses(1, WitnessPolicy::Strict);
        i.handle(ev(HIGH, advert(Version::V3, 0)), ms(100));
        let at = i.deadline(Timer::MasterDown).expect("armed");
        let a = acts(i.handle_timeout(at));
        assert_eq!(i.state(), State::Master, "{a:?}");
        assert!(reason(&a).is_some_and(|r| r.contains("resigned")));
        // A lower master is preempted.
        let mut i = with_witnesses(1, WitnessPolicy::Strict);
        i.handle(ev(LOW, advert(Version::V3, 50)), ms(100));
        let at = i.deadline(Timer::MasterDown).expect("armed");
        let a = acts(i.handle_timeout(at));
        assert_eq!(i.state(), State::Master, "{a:?}");
        assert!(reason(&a).is_some_and(|r| r.contains("preempting")));
        assert_eq!(i.stats().witness_queries, 0);
    }

    #[test]
    fn hearing_the_master_again_ends_the_question() {
        let mut i = with_witnesses(1, WitnessPolicy::Available);
        let (at, _) = master_goes_silent(&mut i);
        i.handle(ev(HIGH, advert(Version::V3, 200)), at + us(100));
        assert_eq!(i.deadline(Timer::Witness), None);
        assert!(acts(i.handle(answer(60_000, &[]), at + us(200))).is_empty());
        assert_eq!(i.state(), State::Backup);
        // A drain while asking ends it too.
        let (at, _) = {
            let at = i.deadline(Timer::MasterDown).expect("armed");
            (at, acts(i.handle_timeout(at)))
        };
        i.handle(Event::Drain { force: true }, at + us(100));
        assert!(acts(i.handle(answer(60_000, &[]), at + us(200))).is_empty());
        assert_eq!(i.state(), State::Backup);
        // Without witnesses nothing is asked.
        let mut plain = started(Version::V3, 100);
        let (_, a) = master_goes_silent(&mut plain);
        assert_eq!(kinds(&a)[0], "transition");
    }

    #[test]
    fn a_backup_that_never_heard_a_master_asks_too() {
        let mut i = with_witnesses(1, WitnessPolicy::Available);
        let at = i.deadline(Timer::MasterDown).expect("armed");
        let a = acts(i.handle_timeout(at));
        assert!(matches!(
            &a[..],
            [Action::AskWitnesses(WitnessQuery { master: None, .. })]
        ));
        let a = acts(i.handle(answer(60_000, &[(HIGH, 200, 20)]), at + us(100)));
        assert!(matches!(a[..], [Action::WitnessHold(_)]));
    }

    #[test]
    fn a_backup_that_heard_nobody_refuses_a_drain() {
        let mut i = started(Version::V3, 100);
        let a = acts(i.handle(Event::Drain { force: false }, ms(100)));
        assert!(matches!(a[..], [Action::DrainRefused(_)]), "{a:?}");
        assert!(!i.drained());
        i.handle(Event::Drain { force: true }, ms(200));
        assert!(i.drained());
    }

    #[test]
    fn a_lone_master_keeps_its_vips_and_stays_master_when_nobody_takes_over() {
        let mut i = master(Version::V3, 100);
        let at = ms(6000);
        let a = acts(i.handle(Event::Drain { force: false }, at));
        assert_eq!(sent(&a), vec![0], "priority 0 offers the VIPs: {a:?}");
        assert!(a.contains(&Action::HandingOver {
            within: Duration::from_secs(4)
        }));
        assert_eq!(
            count(&a, removes),
            0,
            "the VIPs stay until someone takes over"
        );
        assert_eq!(i.state(), State::Master);
        assert_eq!(i.deadline(Timer::Advert), None, "silent while handing over");
        assert_eq!(
            i.deadline(Timer::Handover),
            Some(at + Duration::from_secs(4))
        );
        // A track change would advertise at once as Master: not while handing over.
        let a = acts(i.handle(track(-10, false), at + Duration::from_secs(1)));
        assert_eq!(sent(&a), Vec::<u8>::new(), "{a:?}");

        let a = acts(i.handle_timeout(at + Duration::from_secs(4)));
        assert!(
            matches!(&a[..], [Action::DrainRefused(why), Action::Send(s)]
                if why.contains("no other router took over within 4000 ms") && s.priority == 90),
            "{a:?}"
        );
        assert_eq!(i.state(), State::Master);
        assert!(!i.drained());
        assert_eq!(
            i.deadline(Timer::Advert),
            Some(at + Duration::from_secs(5)),
            "advertising again"
        );
    }

    #[test]
    fn a_master_releases_its_vips_only_when_another_router_took_over() {
        let mut i = master(Version::V3, 100);
        let at = ms(6000);
        i.handle(Event::Drain { force: false }, at);
        // Another resignation or our own echo is no takeover.
        let a = acts(i.handle(
            ev(LOW, advert(Version::V3, 0)),
            at + Duration::from_millis(10),
        ));
        assert_eq!(i.state(), State::Master, "{a:?}");
        let took = at + Duration::from_millis(612);
        let a = acts(i.handle(ev(LOW, advert(Version::V3, 90)), took));
        assert_eq!(kinds(&a), ["transition", "remove"], "{a:?}");
        assert_eq!(reason(&a).as_deref(), Some("drained by the operator"));
        assert_eq!(i.state(), State::Backup);
        assert!(i.drained());
        assert_eq!(i.deadline(Timer::Handover), None);
        // Drained, it follows the lower master instead of preempting it.
        i.handle(
            ev(LOW, advert(Version::V3, 90)),
            took + Duration::from_secs(1),
        );
        assert_eq!(i.report().master, Some((LOW, 90)));
        let a = acts(i.handle_timeout(took + Duration::from_secs(2)));
        assert_eq!(i.state(), State::Backup, "{a:?}");
    }

    #[test]
    fn resume_or_a_fault_ends_a_handover() {
        let mut i = master(Version::V3, 100);
        let at = ms(6000);
        i.handle(Event::Drain { force: false }, at);
        let a = acts(i.handle(Event::Resume, at + Duration::from_millis(100)));
        assert!(
            matches!(&a[..], [Action::DrainRefused(why), Action::Send(s)]
                if why.contains("resumed") && s.priority == 100),
            "{a:?}"
        );
        assert_eq!(i.deadline(Timer::Handover), None);

        let mut i = master(Version::V3, 100);
        i.handle(Event::Drain { force: false }, at);
        let a = acts(i.handle(Event::LinkDown, at + Duration::from_millis(100)));
        assert_eq!(i.state(), State::Fault, "{a:?}");
        assert_eq!(i.deadline(Timer::Handover), None);
        assert!(!i.drained());
    }
}
