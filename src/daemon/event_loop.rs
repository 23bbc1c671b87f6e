//! The one event loop: sockets, timers, link events and signals in; core events out;
//! core actions carried out in order.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;
use tokio::time::Instant as TokioInstant;
use tracing::{debug, info, warn};

use super::setup::{params_for, GARP_SECOND_BURST};
use super::status::{self, InstanceStatus};
use super::DaemonError;
use crate::config::{self, Config};
use crate::core::instance::{Action, Event, Instance, State, Timer};
use crate::core::packet::{self, Advert, Auth, ChecksumMode, Version};
use crate::core::time::Instant as CoreInstant;
use crate::hooks::{self, Runner, RunnerOptions, Scope};
use crate::net::garp::{build_garp, L2Socket, BROADCAST};
use crate::net::ndisc::{build_unsolicited_na, ALL_NODES_MAC};
use crate::net::netlink::{self, NetEvent, Netlink};
use crate::net::socket::{Family, Received, VrrpSocket};
use crate::net::{vmac, NetError};
use crate::sdnotify::{self, Notifier};
use crate::track::{SecurityError, TrackUpdate, Tracker};

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

/// One configured instance with its core and its resolved I/O.
struct Router {
    cfg: config::Instance,
    core: Instance,
    /// Index into `Daemon::sockets`.
    sock: usize,
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
}

struct Daemon {
    clock: Clock,
    nl: Netlink,
    l2: Option<L2Socket>,
    sockets: Vec<Arc<VrrpSocket>>,
    /// Per socket: VRID -> routers.
    demux: Vec<HashMap<u8, Vec<usize>>>,
    unknown_vrid: Vec<(u64, RateLimit)>,
    routers: Vec<Router>,
    /// Last seen up/down per interface index (netlink repeats NEWLINK for many reasons).
    link_up: HashMap<u32, bool>,
    state_file: PathBuf,
    l2_log: RateLimit,
    hooks: Runner,
    notifier: Notifier,
    config_path: PathBuf,
    config: Config,
    by_iface: HashMap<(String, Family), usize>,
    pkt_tx: mpsc::Sender<(usize, Received)>,
}

/// Set up every instance, run until a signal, shut down cleanly.
pub(super) async fn run(config_path: PathBuf, config: Config) -> Result<(), DaemonError> {
    // keepalived's script security: a root script others can change is refused at start.
    let mut insecure = Vec::new();
    for (name, e) in crate::track::check_scripts(&config) {
        if matches!(e, SecurityError::Insecure { .. }) {
            insecure.push(format!("script {name:?}: {e}"));
        } else {
            warn!("script {name:?}: {e}; it counts as failing until fixed");
        }
    }
    if !insecure.is_empty() {
        return Err(DaemonError::InsecureScripts(insecure.join("; ")));
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

fn instance_err(cfg: &config::Instance, problem: impl Into<String>) -> DaemonError {
    DaemonError::Instance {
        instance: cfg.name.clone(),
        problem: problem.into(),
    }
}

impl Daemon {
    async fn build(
        config_path: &Path,
        config: &Config,
        nl: Netlink,
        pkt_tx: mpsc::Sender<(usize, Received)>,
    ) -> Result<Daemon, DaemonError> {
        let mut d = Daemon {
            config_path: config_path.to_path_buf(),
            config: config.clone(),
            by_iface: HashMap::new(),
            pkt_tx,
            clock: Clock {
                origin: TokioInstant::now(),
            },
            nl,
            l2: None,
            sockets: Vec::new(),
            demux: Vec::new(),
            unknown_vrid: Vec::new(),
            routers: Vec::new(),
            link_up: HashMap::new(),
            state_file: status::state_file(config_path),
            l2_log: RateLimit::default(),
            hooks: Runner::spawn(RunnerOptions::default()),
            notifier: Notifier::from_env(),
        };
        match L2Socket::open() {
            Ok(s) => d.l2 = Some(s),
            Err(e) => warn!("gratuitous ARP / NA disabled: {e}"),
        }
        for cfg in &config.instances {
            let router = d.build_router(cfg).await?;
            d.routers.push(router);
        }
        d.rebuild_demux();
        Ok(d)
    }

    fn rebuild_demux(&mut self) {
        for m in &mut self.demux {
            m.clear();
        }
        for (i, r) in self.routers.iter().enumerate() {
            self.demux[r.sock].entry(r.cfg.vrid).or_default().push(i);
        }
    }

    async fn build_router(&mut self, cfg: &config::Instance) -> Result<Router, DaemonError> {
        let ipv6 = cfg.is_ipv6();
        let family = if ipv6 { Family::V6 } else { Family::V4 };
        let link = self.nl.link_by_name(&cfg.interface).await?;
        self.link_up.insert(link.index, link.up);
        let vip_addrs: Vec<IpAddr> = cfg.virtual_ips.iter().map(|v| v.addr).collect();

        let primary = match cfg.unicast_source {
            Some(a) => a,
            None if ipv6 => {
                // A down link has no link-local address yet: start (in Fault) with none and
                // learn it from the address events once the link is up.
                let wait = if link.up { LINK_LOCAL_WAIT } else { Duration::ZERO };
                match self.wait_link_local(link.index, &vip_addrs, wait).await? {
                    Some(ll) => IpAddr::V6(ll),
                    None => {
                        warn!(vrrp_instance = %cfg.name, interface = %cfg.interface,
                            "no usable IPv6 link-local address yet; waiting for one");
                        IpAddr::V6(Ipv6Addr::UNSPECIFIED)
                    }
                }
            }
            None => match self.nl.primary_v4(link.index, &vip_addrs).await? {
                Some(a) => IpAddr::V4(a),
                None => {
                    return Err(instance_err(
                        cfg,
                        format!("interface {} has no IPv4 address to send adverts from (set unicast-source)", cfg.interface),
                    ))
                }
            },
        };

        let sock = match self.by_iface.get(&(cfg.interface.clone(), family)) {
            Some(&i) => i,
            None => {
                let s = Arc::new(VrrpSocket::open(family, &cfg.interface, link.index)?);
                let i = self.sockets.len();
                self.sockets.push(s.clone());
                self.demux.push(HashMap::new());
                self.unknown_vrid.push((0, RateLimit::default()));
                self.by_iface.insert((cfg.interface.clone(), family), i);
                spawn_receiver(i, s, self.pkt_tx.clone());
                i
            }
        };

        let (announce_ifindex, announce_mac, vmac_index) = if cfg.use_vmac {
            let v = vmac::create(&self.nl, cfg.vrid, ipv6, link.index).await?;
            info!(vrrp_instance = %cfg.name, vmac = %v.name, "created vmac interface");
            (v.index, vmac::virtual_mac(cfg.vrid, ipv6), Some(v.index))
        } else {
            let mac = link.mac.ok_or_else(|| {
                instance_err(
                    cfg,
                    format!("interface {} has no Ethernet address", cfg.interface),
                )
            })?;
            (link.index, mac, None)
        };

        let vips = self.resolve_vips(cfg, announce_ifindex).await?;

        Ok(Router {
            cfg: cfg.clone(),
            core: Instance::new(params_for(cfg, primary)),
            sock,
            ifindex: link.index,
            announce_ifindex,
            announce_mac,
            vmac: vmac_index,
            vips,
            installed: Vec::new(),
            replacing_vips: false,
            timers: BTreeMap::new(),
            next_burst: None,
            drop_log: RateLimit::default(),
            mismatch_log: RateLimit::default(),
            send_log: RateLimit::default(),
            rx_errors: HashMap::new(),
        })
    }

    /// Each VIP with the index of the interface it goes on (`dev=`, else `default`).
    async fn resolve_vips(
        &self,
        cfg: &config::Instance,
        default: u32,
    ) -> Result<Vec<Vip>, DaemonError> {
        let mut vips = Vec::new();
        for v in &cfg.virtual_ips {
            let ifindex = match &v.dev {
                Some(dev) => self.nl.link_by_name(dev).await?.index,
                None => default,
            };
            vips.push(Vip {
                ifindex,
                addr: v.addr,
                prefix: v.prefix,
                label: v.label.clone(),
            });
        }
        Ok(vips)
    }

    /// The interface's usable link-local address, waiting up to `wait` for DAD to finish.
    async fn wait_link_local(
        &self,
        ifindex: u32,
        exclude: &[IpAddr],
        wait: Duration,
    ) -> Result<Option<Ipv6Addr>, NetError> {
        let deadline = TokioInstant::now() + wait;
        loop {
            let addrs = self.nl.addresses(ifindex).await?;
            let ll = addrs.iter().find_map(|a| match a.addr {
                IpAddr::V6(v6)
                    if (v6.segments()[0] & 0xffc0) == 0xfe80
                        && !a.tentative
                        && !exclude.contains(&a.addr) =>
                {
                    Some(v6)
                }
                _ => None,
            });
            if ll.is_some() || TokioInstant::now() >= deadline {
                return Ok(ll);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Tell the tracker the current state of every interface it tracks.
    async fn seed_tracker(&self, tracker: &Tracker, config: &Config) {
        let mut names: Vec<&str> = config
            .instances
            .iter()
            .flat_map(|i| i.track_interfaces.iter().map(|t| t.name.as_str()))
            .collect();
        names.sort_unstable();
        names.dedup();
        for name in names {
            match self.nl.link_by_name(name).await {
                Ok(l) => tracker.link_changed(name, l.up),
                Err(NetError::NoSuchInterface(_)) => tracker.link_changed(name, false),
                Err(e) => warn!("track-interface {name}: {e}"),
            }
        }
    }

    /// Remove stale VIPs, tell the cores about down links and tracking, start every instance.
    async fn start(&mut self, tracker: &Tracker) {
        for i in 0..self.routers.len() {
            self.start_one(i, tracker).await;
        }
        self.write_status();
    }

    async fn start_one(&mut self, i: usize, tracker: &Tracker) {
        {
            let r = &self.routers[i];
            // A crash leaves the VIPs behind; the owner (255) keeps them as it becomes Master at once.
            if r.cfg.priority != 255 {
                for v in &r.vips {
                    match self.nl.has_address(v.ifindex, v.addr).await {
                        Ok(true) => {
                            info!(vrrp_instance = %r.cfg.name, vip = %v.addr, "removing stale VIP left by a previous run");
                            if let Err(e) = self.nl.del_address(v.ifindex, v.addr, v.prefix).await {
                                warn!(vrrp_instance = %r.cfg.name, "{e}");
                            }
                        }
                        Ok(false) => {}
                        Err(e) => warn!(vrrp_instance = %r.cfg.name, "{e}"),
                    }
                }
            }
            let (delta, fault) = tracker.initial(&r.cfg.name);
            let link_down = self.link_up.get(&r.ifindex) == Some(&false);
            if delta != 0 || fault {
                self.feed(i, Event::Track { delta, fault }).await;
            }
            if link_down {
                self.feed(i, Event::LinkDown).await;
            }
            self.feed(i, Event::Startup).await;
        }
    }

    /// SIGHUP: re-read the config; keep the old one if it is invalid.
    async fn reload(&mut self, tracker: &mut Tracker) {
        info!(config = %self.config_path.display(), "SIGHUP: reloading configuration");
        if let Err(e) = self.notifier.reloading() {
            warn!("sd_notify RELOADING: {e}");
        }
        self.reload_inner(tracker).await;
        if let Err(e) = self.notifier.ready_with_status(&self.summary()) {
            warn!("sd_notify READY: {e}");
        }
    }

    async fn reload_inner(&mut self, tracker: &mut Tracker) {
        let new = match crate::config::load(&self.config_path) {
            Ok(c) => c,
            Err(crate::config::LoadError::Invalid(e)) => {
                warn!(
                    "new configuration is invalid; keeping the running one:\n{}",
                    e.render()
                );
                return;
            }
            Err(e) => {
                warn!("cannot reload, keeping the running configuration: {e}");
                return;
            }
        };
        // Script results, file values and link states carry over: no priority flap.
        tracker.reload(&new);
        self.seed_tracker(tracker, &new).await;
        let plan = super::reload::plan(&self.config.instances, &new.instances);
        // Stop removed instances first so that a re-created one can take over its VIPs.
        let mut stop = plan.stop.clone();
        stop.sort_unstable_by(|a, b| b.cmp(a));
        for &oi in &stop {
            let name = self.config.instances[oi].name.clone();
            let Some(i) = self.routers.iter().position(|r| r.cfg.name == name) else {
                continue;
            };
            info!(vrrp_instance = %name, "reload: stopping instance");
            self.feed(i, Event::Shutdown).await;
            let r = self.routers.remove(i);
            if r.vmac.is_some() {
                if let Err(e) = vmac::remove(&self.nl, r.cfg.vrid, r.cfg.is_ipv6()).await {
                    warn!(vrrp_instance = %r.cfg.name, "{e}");
                }
            }
        }
        self.rebuild_demux();
        for &(_, ni) in &plan.reconfigure {
            let cfg = new.instances[ni].clone();
            let Some(i) = self.routers.iter().position(|r| r.cfg.name == cfg.name) else {
                continue;
            };
            let default = self.routers[i].announce_ifindex;
            let vips = match self.resolve_vips(&cfg, default).await {
                Ok(v) => v,
                Err(e) => {
                    warn!(vrrp_instance = %cfg.name, "reload: keeping the old settings: {e}");
                    continue;
                }
            };
            info!(vrrp_instance = %cfg.name, "reload: applying changed settings");
            let primary = self.routers[i].core.params().primary;
            let params = params_for(&cfg, primary);
            let r = &mut self.routers[i];
            r.vips = vips;
            r.cfg = cfg;
            self.feed(i, Event::Reconfigure(params)).await;
        }
        for &ni in &plan.start {
            let cfg = new.instances[ni].clone();
            match self.build_router(&cfg).await {
                Ok(r) => {
                    info!(vrrp_instance = %cfg.name, "reload: starting instance");
                    self.routers.push(r);
                    self.rebuild_demux();
                    let i = self.routers.len() - 1;
                    self.start_one(i, tracker).await;
                }
                Err(e) => warn!(vrrp_instance = %cfg.name, "reload: cannot start: {e}"),
            }
        }
        self.write_status();
        self.config = new;
    }

    async fn shutdown(&mut self) {
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
                    if r.core.state() == State::Master {
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
                    let ev = Event::Advert {
                        src: pkt.src,
                        ttl: pkt.ttl,
                        checksum: form,
                        advert: advert.clone(),
                    };
                    self.feed(i, ev).await;
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
                r.ifindex == index && r.core.params().primary == IpAddr::V6(Ipv6Addr::UNSPECIFIED)
            })
            .collect();
        for i in waiting {
            let exclude = self.routers[i].core.params().vips.clone();
            // The event may announce a still-tentative address; DAD ending sends another.
            match self.wait_link_local(index, &exclude, Duration::ZERO).await {
                Ok(Some(ll)) => {
                    let r = &self.routers[i];
                    info!(vrrp_instance = %r.cfg.name, address = %ll, "using IPv6 link-local address");
                    let mut params = r.core.params().clone();
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
                (l.index, l.up)
            }
            NetEvent::LinkGone { index, name } => {
                tracker.link_changed(&name, false);
                (index, false)
            }
            NetEvent::AddrAdded {
                index,
                addr: IpAddr::V6(a),
            } if (a.segments()[0] & 0xffc0) == 0xfe80 => {
                self.learn_link_local(index).await;
                return;
            }
            NetEvent::AddrAdded { .. } | NetEvent::AddrRemoved { .. } => return,
        };
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

    async fn feed_at(&mut self, i: usize, ev: Event, now: CoreInstant) {
        let master_before = self.routers[i].core.stats().master;
        let actions = self.routers[i].core.handle(ev, now);
        // The core replaces the VIP list after a reload as RemoveVips then AddVips; VIPs in
        // both lists must stay put, or clients see them vanish for a moment.
        let replace = actions
            .iter()
            .position(|a| *a == Action::RemoveVips)
            .is_some_and(|r| actions[r..].contains(&Action::AddVips));
        self.routers[i].replacing_vips = replace;
        let mut changed = false;
        for a in actions {
            changed |= matches!(a, Action::Transition { .. });
            self.execute(i, a).await;
        }
        self.routers[i].replacing_vips = false;
        if changed || self.routers[i].core.stats().master != master_before {
            self.write_status();
        }
    }

    async fn execute(&mut self, i: usize, action: Action) {
        match action {
            Action::SendAdvert { priority } => self.send_advert(i, priority),
            Action::AddVips => {
                let r = &self.routers[i];
                if let Some(vm) = r.vmac {
                    if let Err(e) = self.nl.set_link_up(vm, true).await {
                        warn!(vrrp_instance = %r.cfg.name, "{e}");
                    }
                }
                for v in &r.vips {
                    if let Err(e) = self
                        .nl
                        .add_address(v.ifindex, v.addr, v.prefix, v.label.as_deref())
                        .await
                    {
                        warn!(vrrp_instance = %r.cfg.name, "{e}");
                    }
                }
                let r = &mut self.routers[i];
                r.installed = r.vips.clone();
            }
            Action::RemoveVips => {
                let r = &mut self.routers[i];
                r.next_burst = None;
                let mut installed = std::mem::take(&mut r.installed);
                if r.replacing_vips {
                    installed.retain(|v| {
                        !r.vips.iter().any(|n| {
                            n.addr == v.addr && n.ifindex == v.ifindex && n.prefix == v.prefix
                        })
                    });
                }
                let r = &self.routers[i];
                for v in &installed {
                    if let Err(e) = self.nl.del_address(v.ifindex, v.addr, v.prefix).await {
                        warn!(vrrp_instance = %r.cfg.name, "{e}");
                    }
                }
                if let Some(vm) = r.vmac {
                    if let Err(e) = self.nl.set_link_up(vm, false).await {
                        warn!(vrrp_instance = %r.cfg.name, "{e}");
                    }
                }
            }
            Action::Announce => {
                self.announce(i);
                let r = &mut self.routers[i];
                let now = TokioInstant::now();
                r.next_burst = Some(if r.cfg.garp_refresh.is_zero() {
                    now + GARP_SECOND_BURST
                } else {
                    now + GARP_SECOND_BURST.min(r.cfg.garp_refresh)
                });
            }
            Action::ArmTimer(t, at) => {
                let at = self.clock.to_tokio(at);
                self.routers[i].timers.insert(t, at);
            }
            Action::CancelTimer(t) => {
                self.routers[i].timers.remove(&t);
            }
            Action::Transition { from, to, reason } => {
                let r = &mut self.routers[i];
                if to != State::Master {
                    r.next_burst = None;
                }
                let priority = r.core.effective_priority();
                crate::logging::transition(
                    &r.cfg.name,
                    r.cfg.vrid,
                    from.as_str(),
                    to.as_str(),
                    priority,
                    &reason,
                );
                // Initialize after Startup only comes from Shutdown: keepalived's STOP.
                let state = if to == State::Initialize {
                    "STOP"
                } else {
                    to.as_str()
                };
                self.hooks.transition(hooks::Transition {
                    scope: Scope::Instance,
                    name: r.cfg.name.clone(),
                    state,
                    prev_state: from.as_str(),
                    priority,
                    vrid: Some(r.cfg.vrid),
                    vips: r
                        .cfg
                        .virtual_ips
                        .iter()
                        .map(|v| format!("{}/{}", v.addr, v.prefix))
                        .collect(),
                    reason,
                    actions: hooks::list_for(&r.cfg.hooks, state).to_vec(),
                    notify: r.cfg.notify.clone(),
                });
            }
            Action::Drop(reason) => {
                let r = &mut self.routers[i];
                if let Some(suppressed) = r.drop_log.allow(TokioInstant::now()) {
                    warn!(
                        vrrp_instance = %r.cfg.name, vrrp_vrid = r.cfg.vrid,
                        reason = reason.as_str(), total = r.core.stats().drops_for(reason), suppressed,
                        "dropped advert: {reason}"
                    );
                }
            }
            Action::AddressMismatch { src } => {
                let r = &mut self.routers[i];
                if let Some(suppressed) = r.mismatch_log.allow(TokioInstant::now()) {
                    warn!(
                        vrrp_instance = %r.cfg.name, vrrp_vrid = r.cfg.vrid, src = %src, suppressed,
                        "advert from {src} lists other virtual addresses than ours"
                    );
                }
            }
        }
    }

    fn send_advert(&mut self, i: usize, priority: u8) {
        let r = &mut self.routers[i];
        let p = r.core.params();
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
            addrs: p.vips.clone(),
        };
        let mode: ChecksumMode = r.cfg.v3_checksum;
        let src = p.primary;
        let sock = &self.sockets[r.sock];
        let dsts: Vec<IpAddr> = if p.unicast_peers.is_empty() {
            vec![sock.family().group()]
        } else {
            p.unicast_peers.clone()
        };
        for dst in dsts {
            let res = packet::encode(&advert, src, dst, mode)
                .map_err(|e| e.to_string())
                .and_then(|bytes| sock.send(&bytes, src, dst).map_err(|e| e.to_string()));
            if let Err(e) = res {
                if let Some(suppressed) = r.send_log.allow(TokioInstant::now()) {
                    warn!(vrrp_instance = %r.cfg.name, vrrp_vrid = r.cfg.vrid, dst = %dst, suppressed, "cannot send advert: {e}");
                }
            }
        }
    }

    /// One burst of `garp-repeat` gratuitous ARPs / unsolicited NAs per VIP, back to back
    /// (keepalived's default `garp_interval` is 0).
    fn announce(&mut self, i: usize) {
        let Some(l2) = &self.l2 else { return };
        let r = &self.routers[i];
        for _ in 0..r.cfg.garp_repeat.max(1) {
            for v in &r.vips {
                // The VIP's own interface when `dev=` put it elsewhere; the frame still
                // carries the MAC that owns the VIP there.
                let (frame, dst) = match v.addr {
                    IpAddr::V4(a) => (build_garp(r.announce_mac, a), BROADCAST),
                    IpAddr::V6(a) => (build_unsolicited_na(r.announce_mac, a), ALL_NODES_MAC),
                };
                let ifindex = if v.ifindex == r.announce_ifindex {
                    r.announce_ifindex
                } else {
                    v.ifindex
                };
                if let Err(e) = l2.send(ifindex, dst, &frame) {
                    if let Some(suppressed) = self.l2_log.allow(TokioInstant::now()) {
                        warn!(vrrp_instance = %r.cfg.name, vip = %v.addr, suppressed, "cannot send gratuitous ARP / NA: {e}");
                    }
                }
            }
        }
        debug!(vrrp_instance = %r.cfg.name, repeat = r.cfg.garp_repeat, "announced VIPs");
    }

    /// One line for systemd's STATUS=: "VI_1 MASTER prio 100, VI_2 BACKUP prio 90".
    fn summary(&self) -> String {
        sdnotify::summary(self.routers.iter().map(|r| {
            (
                r.cfg.name.as_str(),
                r.core.state().as_str(),
                r.core.effective_priority(),
            )
        }))
    }

    fn write_status(&self) {
        if let Err(e) = self.notifier.status(&self.summary()) {
            debug!("sd_notify STATUS: {e}");
        }
        let lines: Vec<InstanceStatus> = self
            .routers
            .iter()
            .map(|r| InstanceStatus {
                instance: r.cfg.name.clone(),
                vrid: r.cfg.vrid,
                state: r.core.state().as_str().to_string(),
                priority: r.core.effective_priority(),
                master: r.core.stats().master.map(|a| a.to_string()),
            })
            .collect();
        if let Err(e) = status::write(&self.state_file, &lines) {
            debug!("cannot write {}: {e}", self.state_file.display());
        }
    }
}

/// Read packets off one socket into the loop's channel, forever.
fn spawn_receiver(index: usize, sock: Arc<VrrpSocket>, tx: mpsc::Sender<(usize, Received)>) {
    tokio::spawn(async move {
        loop {
            match sock.recv().await {
                Ok(pkt) => {
                    if tx.send((index, pkt)).await.is_err() {
                        return;
                    }
                }
                Err(e) => {
                    warn!(interface = sock.ifname(), "VRRP socket receive error: {e}");
                    // A persistent error must not spin the loop.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    });
}
