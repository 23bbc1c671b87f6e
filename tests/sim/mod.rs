//! A deterministic simulation of N VRRP routers on one virtual LAN.
//!
//! Packets get a uniform random delay in [0, max_delay] but stay in order per
//! sender and receiver, as on one Ethernet segment.
//!
//! Time is virtual: a priority queue holds timer deadlines, packet deliveries
//! and scripted operations, ordered by (time, insertion sequence), so equal
//! deadlines are processed first-armed-first. All randomness (packet loss and
//! per-packet delay) comes from one seeded RNG: the same spec and seed replay
//! the same run, event for event. The last trace lines are kept for failure
//! reports.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use proptest::prelude::RngExt;
use proptest::test_runner::{RngAlgorithm, TestRng};
use vrrp_ha::core::instance::{
    effective_priority, Action, Event, Instance, Params, State, Timer, Vip,
};
use vrrp_ha::core::packet::{Advert, Auth, ChecksumForm, ChecksumMode, Version};
use vrrp_ha::core::time::Instant;
use vrrp_ha::core::track::Tracking;

/// How many trace lines a failure report shows.
const TRACE_LINES: usize = 400;

/// One router's configuration.
#[derive(Clone, Debug)]
pub struct RouterSpec {
    /// Configured priority (255 = address owner).
    pub priority: u8,
    /// Initial sum of track weights.
    pub delta: i32,
}

/// The LAN: protocol settings shared by all routers, and the network model.
#[derive(Clone, Debug)]
pub struct LanSpec {
    /// Protocol version of every router.
    pub version: Version,
    /// IPv6 addresses (VRRPv3 only) instead of IPv4.
    pub ipv6: bool,
    /// Advert interval of every router, centiseconds.
    pub interval_cs: u16,
    /// The routers; router `i` has primary address `...::{i+1}` / `192.0.2.{i+1}`.
    pub routers: Vec<RouterSpec>,
    /// Upper bound of the uniform per-packet delay.
    pub max_delay: Duration,
    /// Seed for loss and delay.
    pub seed: u64,
}

impl LanSpec {
    /// The advert interval.
    pub fn interval(&self) -> Duration {
        Duration::from_millis(u64::from(self.interval_cs) * 10)
    }

    /// The largest Master_Down_Interval on this LAN (priority 1 has the largest skew).
    pub fn max_mdi(&self) -> Duration {
        rfc_mdi(self.version, 1, self.interval_cs)
    }
}

/// A scripted operation, applied at its time like any other queued item.
#[derive(Clone, Debug)]
pub enum Op {
    /// Event::Startup.
    Start(usize),
    /// The router's process dies: no more packets, no shutdown advert.
    Crash(usize),
    /// A crashed router starts again with a fresh instance.
    Restart(usize),
    /// Graceful Event::Shutdown.
    Shutdown(usize),
    /// The router's interface goes down (it neither sends nor receives).
    LinkDown(usize),
    /// The router's interface comes back.
    LinkUp(usize),
    /// A weight-0 track fails or recovers.
    TrackFault(usize, bool),
    /// New sum of track weights; skipped if it would tie another router's priority.
    Weight(usize, i32),
    /// Put router i in group `groups[i]`; packets only flow inside a group.
    Partition(Vec<u32>),
    /// Everybody back in one group.
    Heal,
    /// Packet loss probability from now on.
    Loss(f64),
}

enum Item {
    Timer {
        router: usize,
        timer: Timer,
    },
    Deliver {
        to: usize,
        from: usize,
        advert: Advert,
    },
    Op(Op),
}

struct Queued {
    at: Instant,
    seq: u64,
    item: Item,
}

impl PartialEq for Queued {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Queued {}
impl PartialOrd for Queued {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Queued {
    // Reversed: BinaryHeap is a max-heap and we want the earliest first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// One simulated router: a core instance plus what its shell would know.
pub struct Router {
    /// The state machine.
    pub inst: Instance,
    /// Primary address.
    pub addr: IpAddr,
    /// False once crashed (until restarted).
    pub alive: bool,
    /// Shut down gracefully (until started again).
    pub stopped: bool,
    /// Interface state.
    pub link_up: bool,
    /// Current sum of track weights.
    pub delta: i32,
    /// A weight-0 track is failing.
    pub track_fault: bool,
    /// Partition group.
    pub group: u32,
    /// When this router last sent an advert with a non-zero priority.
    pub last_sent: Option<Instant>,
    params: Params,
    timers: BTreeMap<Timer, Instant>,
}

impl Router {
    /// Effective priority as the core computes it.
    pub fn priority(&self) -> u8 {
        effective_priority(self.params.priority, self.delta)
    }

    /// Alive, link up, no failing track: a candidate for Master.
    pub fn eligible(&self) -> bool {
        self.alive && !self.stopped && self.link_up && !self.track_fault
    }
}

/// A state change seen during the run.
#[derive(Clone, Debug)]
pub struct Change {
    /// When.
    pub at: Instant,
    /// Which router.
    pub router: usize,
    /// From state.
    pub from: State,
    /// To state.
    pub to: State,
}

/// The virtual LAN and its clock.
pub struct Sim {
    /// Virtual now.
    pub now: Instant,
    /// The routers, indexed as in the spec.
    pub routers: Vec<Router>,
    /// Every transition, in order.
    pub changes: Vec<Change>,
    /// The spec this run was built from.
    pub spec: LanSpec,
    queue: BinaryHeap<Queued>,
    seq: u64,
    rng: TestRng,
    loss: f64,
    trace: VecDeque<String>,
    handled: u64,
    /// Last delivery time per (from, to): one segment does not reorder a sender's packets.
    fifo: BTreeMap<(usize, usize), Instant>,
}

fn addr(ipv6: bool, i: usize) -> IpAddr {
    let host = u8::try_from(i + 1).unwrap_or(u8::MAX);
    if ipv6 {
        IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, u16::from(host)))
    } else {
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, host))
    }
}

/// The sum of weights and the weight-0 fault, as the tracker would report them.
fn track(delta: i32, fault: bool) -> Event {
    Event::Track(Tracking {
        delta,
        fault,
        items: vec![],
    })
}

fn ms(t: Instant) -> f64 {
    t.since_origin().as_nanos() as f64 / 1e6
}

impl Sim {
    /// Build the LAN; nothing runs until `Op::Start` items are scheduled.
    pub fn new(spec: LanSpec) -> Sim {
        let vip = if spec.ipv6 {
            IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x100))
        } else {
            IpAddr::V4(Ipv4Addr::new(192, 0, 2, 100))
        };
        let routers = spec
            .routers
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let params = Params {
                    name: format!("r{i}"),
                    vrid: 7,
                    version: spec.version,
                    priority: r.priority,
                    interval_cs: spec.interval_cs,
                    preempt: true,
                    preempt_delay: Duration::ZERO,
                    accept: false,
                    auth: None,
                    vips: vec![Vip::new(vip, if spec.ipv6 { 64 } else { 24 })],
                    primary: addr(spec.ipv6, i),
                    unicast_peers: vec![],
                    garp_repeat: 1,
                    garp_delay: Duration::ZERO,
                    garp_refresh: Duration::ZERO,
                    checksum: ChecksumMode::PseudoHeader,
                    witness: None,
                };
                let mut inst = Instance::new(params.clone());
                inst.handle(track(r.delta, false), Instant::ZERO);
                Router {
                    inst,
                    addr: params.primary,
                    alive: true,
                    stopped: false,
                    link_up: true,
                    delta: r.delta,
                    track_fault: false,
                    group: 0,
                    last_sent: None,
                    params,
                    timers: BTreeMap::new(),
                }
            })
            .collect();
        let mut seed = [0u8; 32];
        seed[..8].copy_from_slice(&spec.seed.to_le_bytes());
        Sim {
            now: Instant::ZERO,
            routers,
            changes: Vec::new(),
            queue: BinaryHeap::new(),
            seq: 0,
            rng: TestRng::from_seed(RngAlgorithm::ChaCha, &seed),
            loss: 0.0,
            trace: VecDeque::new(),
            handled: 0,
            fifo: BTreeMap::new(),
            spec,
        }
    }

    fn push(&mut self, at: Instant, item: Item) {
        self.seq += 1;
        self.queue.push(Queued {
            at,
            seq: self.seq,
            item,
        });
    }

    /// Schedule an operation at an absolute time.
    pub fn at(&mut self, at: Instant, op: Op) {
        self.push(at, Item::Op(op));
    }

    fn log(&mut self, line: String) {
        if self.trace.len() == TRACE_LINES {
            self.trace.pop_front();
        }
        self.trace.push_back(line);
    }

    /// The last trace lines, one per line.
    pub fn trace(&self) -> String {
        let mut s = String::new();
        for l in &self.trace {
            let _ = writeln!(s, "{l}");
        }
        s
    }

    /// Events handed to instances so far.
    pub fn handled(&self) -> u64 {
        self.handled
    }

    /// Alive routers currently in Master.
    pub fn masters(&self) -> Vec<usize> {
        (0..self.routers.len())
            .filter(|&i| self.routers[i].alive && self.routers[i].inst.state() == State::Master)
            .collect()
    }

    /// The router that should be Master: the highest effective priority among
    /// eligible routers, ties broken by the higher address.
    pub fn expected_master(&self) -> Option<usize> {
        (0..self.routers.len())
            .filter(|&i| self.routers[i].eligible())
            .max_by_key(|&i| (self.routers[i].priority(), addr_key(self.routers[i].addr)))
    }

    fn handle(&mut self, r: usize, event: Event) {
        let ev = format!("{event:?}");
        let actions = self.routers[r].inst.handle(event, self.now);
        self.handled += 1;
        let now = self.now;
        self.log(format!("{:>12.3} r{r} <- {}", ms(now), short(&ev)));
        for a in actions {
            match a {
                Action::Send(adv) => {
                    let priority = adv.priority;
                    self.log(format!(
                        "{:>12.3} r{r} -> advert priority {priority}",
                        ms(now)
                    ));
                    if priority > 0 {
                        self.routers[r].last_sent = Some(now);
                    }
                    self.broadcast(r, priority);
                }
                Action::Transition { from, to, reason } => {
                    self.log(format!("{:>12.3} r{r} {from} -> {to}: {reason}", ms(now)));
                    self.changes.push(Change {
                        at: now,
                        router: r,
                        from,
                        to,
                    });
                }
                Action::Drop { reason, .. } => {
                    self.log(format!("{:>12.3} r{r} dropped: {reason}", ms(now)))
                }
                _ => {}
            }
        }
        // The instance owns its timers: queue whatever deadline it has now.
        for timer in Timer::ALL {
            let at = self.routers[r].inst.deadline(timer);
            if at == self.routers[r].timers.get(&timer).copied() {
                continue;
            }
            match at {
                Some(at) => {
                    self.routers[r].timers.insert(timer, at);
                    self.push(at.max(now), Item::Timer { router: r, timer });
                }
                None => {
                    self.routers[r].timers.remove(&timer);
                }
            }
        }
    }

    fn broadcast(&mut self, from: usize, priority: u8) {
        let advert = {
            let p = &self.routers[from].params;
            Advert {
                version: p.version,
                vrid: p.vrid,
                priority,
                interval_cs: p.interval_cs,
                auth: match p.version {
                    Version::V2 => Some(Auth::None([0; 8])),
                    Version::V3 => None,
                },
                addrs: p.vips.iter().map(|v| v.addr).collect(),
            }
        };
        for to in 0..self.routers.len() {
            if to == from || self.routers[to].group != self.routers[from].group {
                continue;
            }
            if self.loss > 0.0 && self.rng.random_bool(self.loss) {
                self.log(format!("{:>12.3} lost r{from} -> r{to}", ms(self.now)));
                continue;
            }
            let max = u64::try_from(self.spec.max_delay.as_nanos()).unwrap_or(u64::MAX);
            let delay = Duration::from_nanos(self.rng.random_range(0..=max));
            let floor = self.fifo.get(&(from, to)).copied().unwrap_or(Instant::ZERO);
            let at = (self.now + delay).max(floor);
            self.fifo.insert((from, to), at);
            self.push(
                at,
                Item::Deliver {
                    to,
                    from,
                    advert: advert.clone(),
                },
            );
        }
    }

    fn apply(&mut self, op: Op) {
        self.log(format!("{:>12.3} op {op:?}", ms(self.now)));
        match op {
            Op::Start(r) => {
                self.routers[r].stopped = false;
                self.handle(r, Event::Startup);
            }
            Op::Shutdown(r) => {
                self.routers[r].stopped = true;
                self.handle(r, Event::Shutdown);
            }
            Op::Crash(r) => {
                self.routers[r].alive = false;
                self.routers[r].timers.clear();
            }
            Op::Restart(r) => {
                if self.routers[r].alive {
                    return;
                }
                let rt = &mut self.routers[r];
                rt.alive = true;
                rt.stopped = false;
                rt.inst = Instance::new(rt.params.clone());
                let (delta, fault, link) = (rt.delta, rt.track_fault, rt.link_up);
                self.handle(r, track(delta, fault));
                if !link {
                    self.handle(r, Event::LinkDown);
                }
                self.handle(r, Event::Startup);
            }
            Op::LinkDown(r) => {
                self.routers[r].link_up = false;
                if self.routers[r].alive {
                    self.handle(r, Event::LinkDown);
                }
            }
            Op::LinkUp(r) => {
                self.routers[r].link_up = true;
                if self.routers[r].alive {
                    self.handle(r, Event::LinkUp);
                }
            }
            Op::TrackFault(r, fault) => {
                self.routers[r].track_fault = fault;
                if self.routers[r].alive {
                    let delta = self.routers[r].delta;
                    self.handle(r, track(delta, fault));
                }
            }
            Op::Weight(r, delta) => {
                let new = effective_priority(self.routers[r].params.priority, delta);
                let ties =
                    (0..self.routers.len()).any(|j| j != r && self.routers[j].priority() == new);
                if ties {
                    self.log(format!("{:>12.3} weight skipped: would tie", ms(self.now)));
                    return;
                }
                self.routers[r].delta = delta;
                if self.routers[r].alive {
                    let fault = self.routers[r].track_fault;
                    self.handle(r, track(delta, fault));
                }
            }
            Op::Partition(groups) => {
                for (r, g) in self.routers.iter_mut().zip(groups) {
                    r.group = g;
                }
            }
            Op::Heal => {
                for r in &mut self.routers {
                    r.group = 0;
                }
            }
            Op::Loss(p) => self.loss = p,
        }
    }

    /// Process everything due up to and including `until`, calling `check`
    /// after each item; stops at the first error.
    pub fn run_until(
        &mut self,
        until: Instant,
        mut check: impl FnMut(&Sim) -> Result<(), String>,
    ) -> Result<(), String> {
        while let Some(next) = self.queue.peek() {
            if next.at > until {
                break;
            }
            let Some(q) = self.queue.pop() else { break };
            self.now = q.at;
            match q.item {
                Item::Op(op) => self.apply(op),
                Item::Timer { router, timer } => {
                    let rt = &self.routers[router];
                    // Only the latest arming counts; a cancelled or re-armed timer is stale.
                    if rt.alive && rt.timers.get(&timer) == Some(&q.at) {
                        self.routers[router].timers.remove(&timer);
                        self.handle(router, Event::Timer(timer));
                    }
                }
                Item::Deliver { to, from, advert } => {
                    let (t, f) = (&self.routers[to], &self.routers[from]);
                    if t.alive && t.link_up && t.group == f.group {
                        let src = f.addr;
                        self.handle(
                            to,
                            Event::Advert {
                                src,
                                ttl: 255,
                                checksum: ChecksumForm::Message,
                                advert,
                            },
                        );
                    }
                }
            }
            check(self)?;
        }
        self.now = self.now.max(until);
        Ok(())
    }

    /// Run with no check.
    pub fn run(&mut self, until: Instant) {
        let _ = self.run_until(until, |_| Ok(()));
    }

    /// A failure report: the spec, the seed and the last trace lines.
    pub fn report(&self, what: &str) -> String {
        format!(
            "{what}\nat {:.3} ms; seed {}; spec {:?}\nrouters: {}\nlast {} trace lines:\n{}",
            ms(self.now),
            self.spec.seed,
            self.spec,
            self.routers
                .iter()
                .enumerate()
                .map(|(i, r)| format!(
                    "r{i}({} prio {} {}{})",
                    r.addr,
                    r.priority(),
                    r.inst.state(),
                    if r.alive { "" } else { " dead" }
                ))
                .collect::<Vec<_>>()
                .join(", "),
            self.trace.len(),
            self.trace()
        )
    }
}

/// Unsigned network-order key of an address, for the tie-break.
pub fn addr_key(a: IpAddr) -> [u8; 16] {
    match a {
        IpAddr::V4(v) => v.to_ipv6_mapped().octets(),
        IpAddr::V6(v) => v.octets(),
    }
}

fn short(ev: &str) -> String {
    // Adverts are long in Debug form; the trace only needs the gist.
    if let Some(rest) = ev.strip_prefix("Advert { src: ") {
        let src = rest.split(',').next().unwrap_or("?");
        let prio = rest
            .split("priority: ")
            .nth(1)
            .and_then(|s| s.split(',').next())
            .unwrap_or("?");
        return format!("advert from {src} priority {prio}");
    }
    ev.to_string()
}

/// Master_Down_Interval of router `r` as it stands (own priority, LAN interval).
pub fn mdi_of(sim: &Sim, r: usize) -> Duration {
    rfc_mdi(
        sim.spec.version,
        sim.routers[r].priority(),
        sim.spec.interval_cs,
    )
}

/// Skew_Time, computed here independently of the core so that the
/// simulation checks the core's timers rather than trusting them
/// (RFC 3768 / RFC 9568 section 6.1).
pub fn rfc_skew(version: Version, priority: u8, interval_cs: u16) -> Duration {
    let interval_ns = u64::from(interval_cs) * 10_000_000;
    let base = match version {
        Version::V2 => 1_000_000_000,
        Version::V3 => interval_ns,
    };
    Duration::from_nanos(base * (256 - u64::from(priority)) / 256)
}

/// Master_Down_Interval = 3 * Master_Adver_Interval + Skew_Time, independently computed.
pub fn rfc_mdi(version: Version, priority: u8, interval_cs: u16) -> Duration {
    Duration::from_millis(u64::from(interval_cs) * 30) + rfc_skew(version, priority, interval_cs)
}
