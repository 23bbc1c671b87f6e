//! The one event loop: sockets, timers, link events and signals in; core events out;
//! core actions carried out in order.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{IpAddr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;
use tokio::time::Instant as TokioInstant;
use tracing::{debug, error, info, warn};

mod actions;
mod instances;
mod reconfigure;
mod relink;
mod sync;

use super::setup::{params_for, GARP_SECOND_BURST};
use super::status::{self, InstanceStatus};
use super::DaemonError;
use crate::config::{self, Config};
use crate::core::instance::{Action, Event, Instance, State, Timer};
use crate::core::packet::{self, Advert, Auth, ChecksumForm, ChecksumMode, Version};
use crate::core::router::{Output, Router as CoreRouter};
use crate::core::time::Instant as CoreInstant;
use crate::hooks::{self, Runner, RunnerOptions, Scope};
use crate::net::garp::{build_garp, L2Socket, BROADCAST};
use crate::net::ndisc::{build_unsolicited_na, ALL_NODES_MAC};
use crate::net::netlink::{self, LinkInfo, NetEvent, Netlink};
use crate::net::socket::{Family, Received, VrrpSocket};
use crate::net::{vmac, NetError};
use crate::sdnotify::{self, Notifier};
use crate::track::{TrackUpdate, Tracker};

/// How often a repeated warning of one kind is logged at most.
const LOG_EVERY: Duration = Duration::from_secs(10);
/// How long to wait at start-up for an IPv6 link-local address to leave DAD.
const LINK_LOCAL_WAIT: Duration = Duration::from_secs(3);
/// How long a clean shutdown waits for `on-stop` actions and `notify` scripts.
const HOOKS_DRAIN: Duration = Duration::from_secs(30);

/// Logs the first occurrence, then at most once per [`LOG_EVERY`] with the count in between.
#[derive(Debug, Default)]
struct RateLimit {
    last: Option<TokioInstant>,
    suppressed: u64,
}

impl RateLimit {
    /// `Some(suppressed since the last log)` when this occurrence should be logged.
    fn allow(&mut self, now: TokioInstant) -> Option<u64> {
        match self.last {
            Some(last) if now.duration_since(last) < LOG_EVERY => {
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

/// Maps the core's clock (time since an origin) to tokio's.
#[derive(Copy, Clone, Debug)]
struct Clock {
    origin: TokioInstant,
}

impl Clock {
    fn core_now(self) -> CoreInstant {
        CoreInstant::from_origin(TokioInstant::now().duration_since(self.origin))
    }
    fn to_tokio(self, at: CoreInstant) -> TokioInstant {
        self.origin + at.since_origin()
    }
    fn to_core(self, at: TokioInstant) -> CoreInstant {
        CoreInstant::from_origin(at.saturating_duration_since(self.origin))
    }
}

/// One VIP with the interface it goes on.
#[derive(Clone, Debug)]
struct Vip {
    ifindex: u32,
    addr: IpAddr,
    prefix: u8,
    label: Option<String>,
}

/// One configured instance's resolved I/O; its state machine is the core router's
/// instance at the same index (`Daemon::inst`).
struct Router {
    cfg: config::Instance,
    /// Index into `Daemon::sockets`.
    sock: usize,
    /// Send-only socket on the vmac (IPv4 `use-vmac`): adverts carry the virtual MAC.
    send_sock: Option<Arc<VrrpSocket>>,
    /// The configured interface (link events, adverts).
    ifindex: u32,
    /// Interface and MAC the gratuitous ARP / NA go out with (the vmac when `use-vmac`).
    announce_ifindex: u32,
    announce_mac: [u8; 6],
    vmac: Option<u32>,
    vips: Vec<Vip>,
    /// What AddVips actually put on the interfaces (a reload may change `vips` meanwhile).
    installed: Vec<Vip>,
    /// The current batch of actions replaces the VIP list (see `feed_at`).
    replacing_vips: bool,
    timers: BTreeMap<Timer, TokioInstant>,
    /// Daemon-side announce bursts: keepalived's second burst and `garp-refresh`.
    next_burst: Option<TokioInstant>,
    drop_log: RateLimit,
    mismatch_log: RateLimit,
    send_log: RateLimit,
    rx_errors: HashMap<&'static str, u64>,
    /// Re-attached to a re-created interface that had no IPv4 address yet: the next
    /// one added there becomes the advert source (see `relink`).
    primary_pending: bool,
}

struct Daemon {
    clock: Clock,
    /// The core: every instance's state machine and the sync-group coordinators.
    core: CoreRouter,
    nl: Netlink,
    l2: Option<L2Socket>,
    sockets: Vec<Arc<VrrpSocket>>,
    /// Per socket: its receive task, ended when the socket is replaced.
    receivers: Vec<tokio::task::AbortHandle>,
    /// Interfaces (by index) whose ARP settings `use-vmac` already changed.
    arp_quieted: HashSet<u32>,
    /// Per socket: VRID -> routers.
    demux: Vec<HashMap<u8, Vec<usize>>>,
    unknown_vrid: Vec<(u64, RateLimit)>,
    routers: Vec<Router>,
    /// Last seen up/down per interface index (netlink repeats NEWLINK for many reasons).
    link_up: HashMap<u32, bool>,
    state_file: PathBuf,
    l2_log: RateLimit,
    hooks: Runner,
    /// Transition actions of the batch being carried out: queued only after its VIPs
    /// moved, so that e.g. a reload of nginx never runs before the address is there.
    pending_hooks: Vec<hooks::Transition>,
    notifier: Notifier,
    groups: Vec<sync::Group>,
    /// Shutting down: every instance is being stopped.
    stopping: bool,
    /// ARP settings of base interfaces changed for vmacs, restored on exit.
    arp_saved: HashMap<String, vmac::ArpSettings>,
    config_path: PathBuf,
    config: Config,
    by_iface: HashMap<(String, Family), usize>,
    pkt_tx: mpsc::Sender<(usize, Received)>,
}

/// Set up every instance, run until a signal, shut down cleanly.
pub(super) async fn run(config_path: PathBuf, config: Config) -> Result<(), DaemonError> {
    // keepalived's script security: a root program others can change is refused at start.
    let verdict = crate::track::vet_programs(&config);
    for w in &verdict.warnings {
        warn!("{w}");
    }
    if !verdict.refused.is_empty() {
        return Err(DaemonError::InsecureScripts(verdict.refused.join("; ")));
    }
    let mut sigterm = signal(SignalKind::terminate()).map_err(DaemonError::Signal)?;
    let mut sigint = signal(SignalKind::interrupt()).map_err(DaemonError::Signal)?;
    let mut sighup = signal(SignalKind::hangup()).map_err(DaemonError::Signal)?;

    // Subscribe before reading link state so that no change falls in between.
    let mut link_rx = netlink::monitor()?;
    let nl = Netlink::connect()?;
    let (pkt_tx, mut pkt_rx) = mpsc::channel::<(usize, Received)>(256);
    let mut d = Daemon::build(&config_path, &config, nl, pkt_tx).await?;
    let (mut tracker, mut track_rx) = Tracker::spawn(&config);
    d.seed_tracker(&tracker, &config).await;
    d.start(&tracker).await;
    info!(
        instances = d.routers.len(),
        config = %config_path.display(),
        "vrrp-ha running"
    );
    if let Err(e) = d.notifier.ready_with_status(&d.summary()) {
        warn!("sd_notify READY: {e}");
    }
    let mut watchdog = sdnotify::watchdog_interval().map(tokio::time::interval);

    loop {
        let next = d.next_deadline();
        let mut reload = false;
        tokio::select! {
            Some((si, pkt)) = pkt_rx.recv() => d.on_packet(si, pkt).await,
            Some(ev) = link_rx.recv() => d.on_net_event(ev, &tracker).await,
            Some(u) = track_rx.recv() => d.on_track(u).await,
            _ = sleep_until_opt(next) => d.on_deadline().await,
            _ = tick_opt(&mut watchdog) => {
                if let Err(e) = d.notifier.watchdog() {
                    warn!("sd_notify WATCHDOG: {e}");
                }
            }
            _ = sigterm.recv() => { info!("SIGTERM: shutting down"); break; }
            _ = sigint.recv() => { info!("SIGINT: shutting down"); break; }
            _ = sighup.recv() => reload = true,
        }
        if reload {
            d.reload(&mut tracker).await;
        }
    }

    if let Err(e) = d.notifier.stopping() {
        warn!("sd_notify STOPPING: {e}");
    }
    // Scripts must not flip priorities while we resign.
    drop(tracker);
    // A second signal during the clean shutdown means "now".
    tokio::select! {
        _ = d.shutdown() => {}
        _ = sigterm.recv() => { warn!("second signal: exiting without cleanup"); std::process::exit(1); }
        _ = sigint.recv() => { warn!("second signal: exiting without cleanup"); std::process::exit(1); }
    }
    info!("vrrp-ha stopped");
    Ok(())
}

async fn tick_opt(iv: &mut Option<tokio::time::Interval>) {
    match iv {
        Some(iv) => {
            iv.tick().await;
        }
        None => std::future::pending().await,
    }
}

async fn sleep_until_opt(at: Option<TokioInstant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

impl Daemon {
    async fn shutdown(&mut self) {
        self.stopping = true;
        for i in 0..self.routers.len() {
            self.feed(i, Event::Shutdown).await;
        }
        // `on-stop` actions (e.g. stopping nginx) get a bounded chance to finish.
        if tokio::time::timeout(HOOKS_DRAIN, self.hooks.idle())
            .await
            .is_err()
        {
            warn!("transition actions still running after {HOOKS_DRAIN:?}; exiting anyway");
        }
        for (iface, saved) in self.arp_saved.drain() {
            if let Err(e) = saved.restore() {
                warn!(interface = %iface, "cannot restore ARP settings: {e}");
            }
        }
        for r in &self.routers {
            if r.vmac.is_some() {
                if let Err(e) = vmac::remove(&self.nl, r.cfg.vrid, r.cfg.is_ipv6()).await {
                    warn!(vrrp_instance = %r.cfg.name, "{e}");
                }
            }
        }
        if let Err(e) = std::fs::remove_file(&self.state_file) {
            if e.kind() != std::io::ErrorKind::NotFound {
                debug!("remove {}: {e}", self.state_file.display());
            }
        }
    }

    fn next_deadline(&self) -> Option<TokioInstant> {
        self.routers
            .iter()
            .flat_map(|r| r.timers.values().copied().chain(r.next_burst))
            .min()
    }

    async fn on_deadline(&mut self) {
        let now = TokioInstant::now();
        let mut due: Vec<(TokioInstant, usize, Option<Timer>)> = Vec::new();
        for (i, r) in self.routers.iter().enumerate() {
            for (t, at) in &r.timers {
                if *at <= now {
                    due.push((*at, i, Some(*t)));
                }
            }
            if let Some(at) = r.next_burst {
                if at <= now {
                    due.push((at, i, None));
                }
            }
        }
        due.sort_by_key(|(at, i, _)| (*at, *i));
        for (at, i, timer) in due {
            match timer {
                Some(t) => {
                    self.routers[i].timers.remove(&t);
                    // The core sees the timer fire at its deadline, not at our (late by up to
                    // a millisecond or so) wake-up: adverts keep their exact spacing.
                    let at = self.clock.to_core(at);
                    self.feed_at(i, Event::Timer(t), at).await;
                }
                None => {
                    let r = &mut self.routers[i];
                    r.next_burst = None;
                    if self.core.instances()[i].state() == State::Master {
                        if !r.cfg.garp_refresh.is_zero() {
                            r.next_burst = Some(now + r.cfg.garp_refresh);
                        }
                        self.announce(i);
                    }
                }
            }
        }
    }

    async fn on_packet(&mut self, si: usize, pkt: Received) {
        let Some(&vrid) = pkt.payload.get(1) else {
            self.count_unknown(si, &pkt, "truncated");
            return;
        };
        let Some(targets) = self.demux[si].get(&vrid).cloned() else {
            self.count_unknown(si, &pkt, "unconfigured VRID");
            return;
        };
        match packet::decode(&pkt.payload, pkt.src, pkt.dst) {
            Ok((advert, form)) => {
                for i in targets {
                    let first = !self.inst(i).stats().checksum_forms.contains_key(&pkt.src);
                    let ev = Event::Advert {
                        src: pkt.src,
                        ttl: pkt.ttl,
                        checksum: form,
                        advert: advert.clone(),
                    };
                    self.feed(i, ev).await;
                    let counted = self.inst(i).stats().checksum_forms.contains_key(&pkt.src);
                    if first && counted && advert.version == Version::V3 && pkt.src.is_ipv4() {
                        self.log_peer_checksum(i, pkt.src, form);
                    }
                }
            }
            Err(e) => {
                let now = TokioInstant::now();
                for i in targets {
                    let r = &mut self.routers[i];
                    *r.rx_errors.entry(e.reason()).or_insert(0) += 1;
                    if let Some(suppressed) = r.drop_log.allow(now) {
                        warn!(
                            vrrp_instance = %r.cfg.name, vrrp_vrid = vrid, src = %pkt.src,
                            reason = e.reason(), suppressed,
                            "dropped undecodable advert: {e}"
                        );
                    }
                }
            }
        }
    }

    /// IPv4 VRRPv3 checksums come in two forms in the field; a peer that uses the other
    /// one probably drops our adverts, which splits the brain: say so when first heard.
    fn log_peer_checksum(&self, i: usize, src: IpAddr, form: ChecksumForm) {
        let r = &self.routers[i];
        let ours = match r.cfg.v3_checksum {
            ChecksumMode::PseudoHeader => ChecksumForm::PseudoHeader,
            ChecksumMode::Message => ChecksumForm::Message,
        };
        let describe = |f: ChecksumForm| match f {
            ChecksumForm::PseudoHeader => "\"pseudo-header\" (keepalived, Wireshark)",
            ChecksumForm::Message => "\"message\" (RFC 9568, Cisco, Juniper)",
        };
        if form == ours {
            info!(
                vrrp_instance = %r.cfg.name, src = %src,
                "peer {src} uses the VRRPv3 checksum form {}, as we do", describe(form)
            );
        } else {
            warn!(
                vrrp_instance = %r.cfg.name, src = %src,
                "peer {src} uses the VRRPv3 checksum form {} but we send {}: it may drop our \
                 adverts; set v3-checksum to match it",
                describe(form),
                describe(ours)
            );
        }
    }

    fn count_unknown(&mut self, si: usize, pkt: &Received, why: &str) {
        let (count, log) = &mut self.unknown_vrid[si];
        *count += 1;
        if let Some(suppressed) = log.allow(TokioInstant::now()) {
            let vrid = pkt.payload.get(1).copied().unwrap_or(0);
            debug!(
                interface = self.sockets[si].ifname(), src = %pkt.src, vrid, total = *count, suppressed,
                "dropped VRRP packet: {why}"
            );
        }
    }

    /// IPv6 instances started without a link-local address take the first usable one.
    async fn learn_link_local(&mut self, index: u32) {
        let waiting: Vec<usize> = (0..self.routers.len())
            .filter(|&i| {
                let r = &self.routers[i];
                r.ifindex == index
                    && self.inst(i).params().primary == IpAddr::V6(Ipv6Addr::UNSPECIFIED)
            })
            .collect();
        for i in waiting {
            let exclude = self.inst(i).params().vips.clone();
            // The event may announce a still-tentative address; DAD ending sends another.
            match self.wait_link_local(index, &exclude, Duration::ZERO).await {
                Ok(Some(ll)) => {
                    let r = &self.routers[i];
                    info!(vrrp_instance = %r.cfg.name, address = %ll, "using IPv6 link-local address");
                    let mut params = self.inst(i).params().clone();
                    params.primary = IpAddr::V6(ll);
                    self.feed(i, Event::Reconfigure(params)).await;
                }
                Ok(None) => {}
                Err(e) => warn!(vrrp_instance = %self.routers[i].cfg.name, "{e}"),
            }
        }
    }

    async fn on_track(&mut self, u: TrackUpdate) {
        let targets: Vec<usize> = (0..self.routers.len())
            .filter(|&i| self.routers[i].cfg.name == u.instance)
            .collect();
        for i in targets {
            self.feed(
                i,
                Event::Track {
                    delta: u.delta,
                    fault: u.fault,
                },
            )
            .await;
        }
    }

    async fn on_net_event(&mut self, ev: NetEvent, tracker: &Tracker) {
        let (index, up) = match ev {
            NetEvent::Link(l) => {
                tracker.link_changed(&l.name, l.up);
                self.relink(&l).await;
                (l.index, l.up)
            }
            NetEvent::LinkGone { index, name } => {
                tracker.link_changed(&name, false);
                self.link_gone(index).await;
                return;
            }
            NetEvent::AddrAdded {
                index,
                addr: IpAddr::V6(a),
            } if (a.segments()[0] & 0xffc0) == 0xfe80 => {
                self.learn_link_local(index).await;
                return;
            }
            NetEvent::AddrAdded {
                index,
                addr: IpAddr::V4(_),
            } => {
                self.learn_primary_v4(index).await;
                return;
            }
            NetEvent::AddrAdded { .. } | NetEvent::AddrRemoved { .. } => return,
        };
        self.link_changed(index, up).await;
    }

    /// Feed LinkUp / LinkDown to the instances on `index` when its state really changed.
    async fn link_changed(&mut self, index: u32, up: bool) {
        let Some(prev) = self.link_up.get_mut(&index) else {
            return;
        };
        if *prev == up {
            return;
        }
        *prev = up;
        let targets: Vec<usize> = (0..self.routers.len())
            .filter(|&i| self.routers[i].ifindex == index)
            .collect();
        for i in targets {
            info!(vrrp_instance = %self.routers[i].cfg.name, interface = %self.routers[i].cfg.interface, up, "link state changed");
            self.feed(i, if up { Event::LinkUp } else { Event::LinkDown })
                .await;
        }
    }

    /// Hand one event to router `i`'s core and carry out the actions in order.
    async fn feed(&mut self, i: usize, ev: Event) {
        let now = self.clock.core_now();
        self.feed_at(i, ev, now).await;
    }

    /// The state machine of instance `i` (the core router keeps the same order as
    /// `routers`: both are pushed and removed together).
    fn inst(&self, i: usize) -> &Instance {
        &self.core.instances()[i]
    }

    /// Feed `ev` to instance `i` at `now` through the core router (which also moves its
    /// sync group) and carry out every output in order.
    async fn feed_at(&mut self, i: usize, ev: Event, now: CoreInstant) {
        let name = self.routers[i].cfg.name.clone();
        let masters_before: Vec<_> = self
            .core
            .instances()
            .iter()
            .map(|x| x.stats().master)
            .collect();
        let outputs = self.core.handle(&name, ev, now);
        // The core replaces the VIP list after a reload as RemoveVips then AddVips; VIPs in
        // both lists must stay put, or clients see them vanish for a moment.
        let mut replacing: Vec<&str> = Vec::new();
        let mut removed: Vec<&str> = Vec::new();
        for o in &outputs {
            if let Output::Instance { name, action } = o {
                match action {
                    Action::RemoveVips => removed.push(name),
                    Action::AddVips if removed.contains(&name.as_str()) => replacing.push(name),
                    _ => {}
                }
            }
        }
        for r in &mut self.routers {
            r.replacing_vips = replacing.contains(&r.cfg.name.as_str());
        }
        let mut changed = false;
        for o in outputs {
            match o {
                Output::Instance { name, action } => {
                    let Some(j) = self.routers.iter().position(|r| r.cfg.name == name) else {
                        continue;
                    };
                    changed |= matches!(action, Action::Transition { .. });
                    self.execute(j, action).await;
                }
                Output::Group { name, transition } => self.report_group(&name, transition),
            }
        }
        for r in &mut self.routers {
            r.replacing_vips = false;
        }
        for t in std::mem::take(&mut self.pending_hooks) {
            self.hooks.transition(t);
        }
        let masters_after = self.core.instances().iter().map(|x| x.stats().master);
        if changed || !masters_after.eq(masters_before) {
            self.write_status();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limit_logs_first_then_counts() {
        let t0 = TokioInstant::now();
        let mut rl = RateLimit::default();
        assert_eq!(rl.allow(t0), Some(0));
        assert_eq!(rl.allow(t0 + Duration::from_secs(1)), None);
        assert_eq!(rl.allow(t0 + Duration::from_secs(2)), None);
        assert_eq!(rl.allow(t0 + LOG_EVERY), Some(2));
    }

    #[test]
    fn clock_round_trips() {
        let c = Clock {
            origin: TokioInstant::now(),
        };
        let at = CoreInstant::from_millis(1234);
        assert_eq!(c.to_core(c.to_tokio(at)), at);
        // Before the origin clamps to it rather than wrapping.
        assert_eq!(
            c.to_core(c.origin - Duration::from_millis(5)),
            CoreInstant::ZERO
        );
    }
}
