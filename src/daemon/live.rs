//! The live daemon: the tokio loop around the [`Engine`], and the real [`Ports`].
//!
//! One loop receives everything (packets from one reader task per socket, netlink
//! events, tracking updates, effect completions, the core's deadline, the watchdog
//! tick, signals) and hands it to the engine with the time. The engine's slow work
//! goes to one executor task that carries the effects out in order (netlink requests,
//! announcement frames, handing hooks to their runner); status goes to a writer task
//! that keeps only the latest snapshot, and to the D-Bus server; the D-Bus server and
//! the metrics endpoint send their requests (snapshots, drain, resume) into the loop
//! with a oneshot reply. Nothing on the loop waits for any of them.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::{mpsc, oneshot, watch};
use tracing::{debug, info, warn};

use super::api::{Loop, Request};
use super::deadline::Deadline;
use super::engine::{DrainStarted, Engine};
use super::host::Host;
use super::ports::{Completion, Effect, Input, Ports, SocketId};
use super::status::{self, Identity, Snapshot, StatusReport};
use super::witness_sockets::{self, WitnessSockets};
use super::DaemonError;
use crate::config::{Config, WitnessKey};
use crate::core::instance::Transmit;
use crate::core::packet::Family;
use crate::core::router::InstanceId;
use crate::core::time::Instant as CoreInstant;
use crate::hooks::{Runner, RunnerOptions};
use crate::net::garp::L2Socket;
use crate::net::netlink::{self, Netlink};
use crate::net::socket::{Received, VrrpSocket};
use crate::net::{vmac, NetError};
use crate::sdnotify::{self, Notifier};
use crate::track::Tracker;
use crate::witness::proto::Key;

/// How long a clean shutdown waits for the effects, `on-stop` actions and `notify` scripts.
const HOOKS_DRAIN: Duration = Duration::from_secs(30);
/// How many received packets may wait for the loop before the readers block.
const PACKET_QUEUE: usize = 256;

/// The real ports: raw sockets, the effect executor, the status writer.
struct LivePorts {
    sockets: HashMap<SocketId, (Arc<VrrpSocket>, Option<tokio::task::AbortHandle>)>,
    next: u32,
    packets: mpsc::Sender<(SocketId, Received)>,
    effects: mpsc::UnboundedSender<Effect>,
    submitted: u64,
    status: watch::Sender<Option<Snapshot>>,
    /// Tracked interfaces' states, for the tracker the loop owns.
    links: Vec<(String, bool)>,
    /// Where drained instances are remembered.
    drain_file: PathBuf,
    /// The UDP sockets witness queries leave from.
    witness: WitnessSockets,
}

impl LivePorts {
    fn register(&mut self, sock: VrrpSocket, receive: bool) -> SocketId {
        let id = SocketId(self.next);
        self.next += 1;
        let sock = Arc::new(sock);
        let reader = receive.then(|| spawn_reader(id, sock.clone(), self.packets.clone()));
        self.sockets.insert(id, (sock, reader));
        id
    }
}

impl Ports for LivePorts {
    fn open_socket(
        &mut self,
        family: Family,
        ifname: &str,
        ifindex: u32,
    ) -> Result<SocketId, NetError> {
        let sock = VrrpSocket::open(family, ifname, ifindex)?;
        Ok(self.register(sock, true))
    }

    fn open_sender(&mut self, ifname: &str, ifindex: u32) -> Result<SocketId, NetError> {
        let sock = VrrpSocket::open_sender_v4(ifname, ifindex)?;
        Ok(self.register(sock, false))
    }

    fn close_socket(&mut self, socket: SocketId) {
        // A socket bound to a deleted device would block its reader for ever.
        if let Some((_, Some(reader))) = self.sockets.remove(&socket) {
            reader.abort();
        }
    }

    fn send(&mut self, socket: SocketId, packet: &Transmit) -> io::Result<()> {
        match self.sockets.get(&socket) {
            Some((s, _)) => s.send(&packet.payload, packet.src, packet.dst),
            None => Err(io::Error::new(io::ErrorKind::NotFound, "socket closed")),
        }
    }

    fn witness_key(&mut self, source: &WitnessKey) -> Result<Key, String> {
        crate::witness::key::load(source).map_err(|e| e.to_string())
    }

    fn witness_stamp(&mut self) -> super::ports::Stamp {
        witness_sockets::stamp()
    }

    fn send_witness(&mut self, to: SocketAddr, datagram: &[u8]) -> io::Result<()> {
        self.witness.send(to, datagram)
    }

    fn submit(&mut self, effect: Effect) {
        self.submitted += 1;
        // The executor only ends with the daemon.
        let _ = self.effects.send(effect);
    }

    fn publish(&mut self, status: &Snapshot) {
        self.status.send_replace(Some(status.clone()));
    }

    fn track_link(&mut self, ifname: &str, up: bool) {
        self.links.push((ifname.to_string(), up));
    }

    fn persist_drains(&mut self, drained: &[String]) {
        let path = self.drain_file.clone();
        let drained = drained.to_vec();
        tokio::task::spawn_blocking(move || {
            if let Err(e) = status::write_drains(&path, &drained) {
                warn!("cannot record drained instances in {}: {e}", path.display());
            }
        });
    }
}

/// Read packets off one socket into the loop's channel until aborted.
fn spawn_reader(
    id: SocketId,
    sock: Arc<VrrpSocket>,
    tx: mpsc::Sender<(SocketId, Received)>,
) -> tokio::task::AbortHandle {
    tokio::spawn(async move {
        loop {
            match sock.recv().await {
                Ok(pkt) => {
                    if tx.send((id, pkt)).await.is_err() {
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
    })
    .abort_handle()
}

/// Carries the effects out, one after the other, in submission order.
struct Executor {
    nl: Netlink,
    l2: Option<L2Socket>,
    hooks: Runner,
    done: mpsc::UnboundedSender<Completion>,
    /// ARP settings of base interfaces changed for vmacs, restored on exit.
    arp_saved: HashMap<String, vmac::ArpSettings>,
    frame_errors: u64,
}

impl Executor {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Effect>, processed: watch::Sender<u64>) {
        while let Some(effect) = rx.recv().await {
            self.carry_out(effect).await;
            processed.send_modify(|n| *n += 1);
        }
    }

    async fn carry_out(&mut self, effect: Effect) {
        match effect {
            Effect::AddAddress { id, vip, ifindex } => {
                let done = match self
                    .nl
                    .add_address(ifindex, vip.addr, vip.prefix, vip.label.as_deref())
                    .await
                {
                    Ok(()) => Completion::AddressAdded { id, vip },
                    Err(e) => Completion::AddressFailed {
                        id,
                        vip,
                        error: error_text(&e),
                    },
                };
                let _ = self.done.send(done);
            }
            Effect::DelAddress { vip, ifindex } => {
                if let Err(e) = self.nl.del_address(ifindex, vip.addr, vip.prefix).await {
                    warn!("{e}");
                }
            }
            Effect::SetLinkUp { ifindex, up } => {
                let res = self.nl.set_link_up(ifindex, up).await;
                if up {
                    // Adverts waiting for the vmac go out either way: a failure shows there.
                    let _ = self.done.send(Completion::LinkUp { ifindex });
                }
                if let Err(e) = res {
                    // Deleting the base interface takes the vmac with it, often before
                    // we hear the base went down: then nothing is left to bring down.
                    match self.nl.link_by_index(ifindex).await {
                        Err(NetError::NoSuchInterface(_)) => debug!("vmac already gone: {e}"),
                        _ => warn!("{e}"),
                    }
                }
            }
            Effect::CreateVmac {
                id,
                name,
                parent,
                quiet_arp,
                mac,
            } => {
                let result = self
                    .create_vmac(&name, parent, quiet_arp.as_deref(), mac)
                    .await;
                let _ = self.done.send(Completion::VmacReady { id, result });
            }
            Effect::DeleteVmac { name } => {
                let res = match self.nl.link_by_name(&name).await {
                    Ok(l) => self.nl.delete_link(l.index).await,
                    Err(NetError::NoSuchInterface(_)) => Ok(()),
                    Err(e) => Err(e),
                };
                if let Err(e) = res {
                    warn!(vmac = %name, "{e}");
                }
            }
            Effect::SendFrames {
                id,
                ifindex,
                frames,
            } => {
                let Some(l2) = &self.l2 else { return };
                for (dst, frame) in &frames {
                    if let Err(e) = l2.send(ifindex, *dst, frame) {
                        self.frame_errors += 1;
                        if self.frame_errors == 1 || self.frame_errors.is_multiple_of(1000) {
                            warn!(instance = %id, ifindex, total = self.frame_errors,
                                "cannot send gratuitous ARP / NA: {e}");
                        }
                    }
                }
                debug!(instance = %id, ifindex, frames = frames.len(), "announced VIPs");
            }
            Effect::Hooks(t) => self.hooks.transition(t),
            Effect::RestoreArp => {
                for (iface, saved) in self.arp_saved.drain() {
                    if let Err(e) = saved.restore() {
                        warn!(interface = %iface, "cannot restore ARP settings: {e}");
                    }
                }
            }
        }
    }

    async fn create_vmac(
        &mut self,
        name: &str,
        parent: u32,
        quiet_arp: Option<&str>,
        mac: [u8; 6],
    ) -> Result<u32, String> {
        let link = self
            .nl
            .create_macvlan(name, parent, mac)
            .await
            .map_err(|e| e.to_string())?;
        if let Some(base) = quiet_arp {
            // A re-created interface has its defaults again: quiet it again, but keep the
            // settings saved from the first one to restore.
            match vmac::quiet_base_arp(base) {
                Ok(old) => {
                    self.arp_saved.entry(base.to_string()).or_insert(old);
                }
                Err(e) => {
                    warn!(interface = %base, "cannot set arp_ignore/arp_filter for use-vmac: {e}")
                }
            }
        }
        Ok(link.index)
    }
}

/// What went wrong, without the context the instance's log line already gives
/// (`Operation not permitted (os error 1)`).
fn error_text(e: &NetError) -> String {
    match e {
        NetError::Netlink { source, .. } => source.to_string(),
        other => other.to_string(),
    }
}

/// Writes the state file and systemd's STATUS= whenever the snapshot changes.
async fn write_status(
    state_file: PathBuf,
    notifier: Notifier,
    lp: Loop,
    mut rx: watch::Receiver<Option<Snapshot>>,
) {
    while rx.changed().await.is_ok() {
        let Some(snapshot) = rx.borrow_and_update().clone() else {
            continue;
        };
        if let Err(e) = notifier.status(&snapshot.summary()) {
            debug!("sd_notify STATUS: {e}");
        }
        let path = state_file.clone();
        let report = StatusReport::of(vec![lp.to_json(&snapshot, "state-file")]);
        let written = tokio::task::spawn_blocking(move || status::write(&path, &report)).await;
        match written {
            Ok(Ok(())) => {}
            Ok(Err(e)) => debug!("cannot write {}: {e}", state_file.display()),
            Err(e) => debug!("cannot write {}: {e}", state_file.display()),
        }
    }
}

/// The D-Bus callers of drains that wait for a handover, by instance.
type Handovers = Vec<(InstanceId, oneshot::Sender<Result<(), String>>)>;

/// Answer a request from the D-Bus server or the metrics endpoint; a drain that waits for
/// a handover is answered by [`answer_handovers`].
fn answer(engine: &mut Engine<LivePorts>, req: Request, now: CoreInstant, waiting: &mut Handovers) {
    match req {
        Request::Snapshot(reply) => {
            let _ = reply.send(engine.snapshot());
        }
        Request::Drain {
            instance,
            force,
            reply,
        } => match engine.drain(&instance, force, now) {
            Ok(DrainStarted::HandingOver(id)) => waiting.push((id, reply)),
            Ok(DrainStarted::Done) => {
                let _ = reply.send(Ok(()));
            }
            Err(why) => {
                let _ = reply.send(Err(why));
            }
        },
        Request::Resume { instance, reply } => {
            let _ = reply.send(engine.resume(&instance, now));
        }
    }
}

/// Tell the callers of drains whose handover ended how it went.
fn answer_handovers(engine: &mut Engine<LivePorts>, waiting: &mut Handovers) {
    for (id, outcome) in engine.take_drain_outcomes() {
        if let Some(at) = waiting.iter().position(|(w, _)| *w == id) {
            let (_, reply) = waiting.swap_remove(at);
            let _ = reply.send(outcome);
        }
    }
}

async fn tick_opt(iv: &mut Option<tokio::time::Interval>) {
    match iv {
        Some(iv) => {
            iv.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// Hand the tracked interfaces' states the engine reported to the tracker.
fn forward_links(engine: &mut Engine<LivePorts>, tracker: &Tracker) {
    for (name, up) in std::mem::take(&mut engine.ports_mut().links) {
        tracker.link_changed(&name, up);
    }
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
    super::sched::trim_heap();
    super::sched::apply(&config);
    let mut sigterm = signal(SignalKind::terminate()).map_err(DaemonError::Signal)?;
    let mut sigint = signal(SignalKind::interrupt()).map_err(DaemonError::Signal)?;
    let mut sighup = signal(SignalKind::hangup()).map_err(DaemonError::Signal)?;

    // Subscribe before the dump so that no change falls in between.
    let mut net_rx = netlink::monitor()?;
    let nl = Netlink::connect()?;
    let (links, addrs) = nl.dump().await?;
    let host = Host::new(links, addrs);

    let (pkt_tx, mut pkt_rx) = mpsc::channel(PACKET_QUEUE);
    let (witness_tx, mut witness_rx) = mpsc::channel(witness_sockets::QUEUE);
    let (done_tx, mut done_rx) = mpsc::unbounded_channel();
    let (effects_tx, effects_rx) = mpsc::unbounded_channel();
    let (processed_tx, processed_rx) = watch::channel(0u64);
    let hooks = Runner::spawn(RunnerOptions::default());
    let l2 = match L2Socket::open() {
        Ok(s) => Some(s),
        Err(e) => {
            warn!("gratuitous ARP / NA disabled: {e}");
            None
        }
    };
    let executor = Executor {
        nl,
        l2,
        hooks: hooks.clone(),
        done: done_tx,
        arp_saved: HashMap::new(),
        frame_errors: 0,
    };
    tokio::spawn(executor.run(effects_rx, processed_tx));
    let notifier = Notifier::from_env();
    let state_file = status::state_file(&config_path);
    // A file of the previous version would be shown beside ours.
    remove_state_file(&status::old_state_file(&config_path));
    let (status_tx, status_rx) = watch::channel(None);
    let mut clock = Deadline::new().map_err(|e| NetError::io("timerfd", e))?;
    let (req_tx, mut req_rx) = mpsc::channel(super::api::QUEUE);
    let lp = Loop::new(req_tx, clock.api_clock(), Identity::of(&config_path));
    let writer = tokio::spawn(write_status(
        state_file.clone(),
        notifier.clone(),
        lp.clone(),
        status_rx,
    ));
    let dbus = tokio::spawn(super::dbus::serve(lp.clone(), status_tx.subscribe()));
    let metrics_listen = config.metrics.as_ref().map(|m| m.listen);
    let metrics =
        metrics_listen.map(|listen| tokio::spawn(super::metrics::serve(listen, lp.clone())));

    let ports = LivePorts {
        sockets: HashMap::new(),
        next: 0,
        packets: pkt_tx,
        effects: effects_tx,
        submitted: 0,
        status: status_tx,
        links: Vec::new(),
        drain_file: status::drain_file(&config_path),
        witness: WitnessSockets::new(witness_tx),
    };
    let (mut tracker, mut track_rx) = Tracker::spawn(&config);
    let count = config.instances.len();
    let mut engine = Engine::new(config, host, ports);
    let drain_file = status::drain_file(&config_path);
    let drained = status::read_drains(&drain_file).unwrap_or_else(|e| {
        warn!(
            "cannot read {}: {e}; no instance starts drained",
            drain_file.display()
        );
        Vec::new()
    });
    for name in &drained {
        info!(vrrp_instance = %name, "drained before the restart: staying BACKUP until resumed");
    }
    engine.start(|name| tracker.tracking(name), &drained, clock.now())?;
    forward_links(&mut engine, &tracker);
    info!(instances = count, config = %config_path.display(), "vrrp-ha running");
    if let Err(e) = notifier.ready_with_status(&engine.snapshot().summary()) {
        warn!("sd_notify READY: {e}");
    }
    let mut watchdog = sdnotify::watchdog_interval().map(tokio::time::interval);
    let mut reloads = Reloads::default();
    let mut handovers = Handovers::new();

    loop {
        if let Err(e) = clock.set(engine.poll_timeout()) {
            warn!("cannot arm the timer: {e}");
        }
        tokio::select! {
            Some((socket, packet)) = pkt_rx.recv() => {
                engine.handle(Input::Packet { socket, packet }, clock.now());
            }
            Some(ev) = net_rx.recv() => engine.handle(Input::Net(ev), clock.now()),
            Some(u) = track_rx.recv() => engine.handle(Input::Track(u), clock.now()),
            Some(c) = done_rx.recv() => engine.handle(Input::Done(c), clock.now()),
            Some((from, datagram)) = witness_rx.recv() => {
                engine.handle(Input::Witness { from, datagram }, clock.now());
            }
            Some(req) = req_rx.recv() => answer(&mut engine, req, clock.now(), &mut handovers),
            res = clock.expired() => {
                if let Err(e) = res {
                    warn!("timer: {e}");
                }
                // A witness answer already received is heard before the deadline that
                // would give up on it (select! may pick the timer first after a stall).
                while let Ok((from, datagram)) = witness_rx.try_recv() {
                    engine.handle(Input::Witness { from, datagram }, clock.now());
                }
                let now = clock.now();
                engine.handle_timeout(now);
            }
            _ = tick_opt(&mut watchdog) => {
                if let Err(e) = notifier.watchdog() {
                    warn!("sd_notify WATCHDOG: {e}");
                }
            }
            _ = sigterm.recv() => { info!("SIGTERM: shutting down"); break; }
            _ = sigint.recv() => { info!("SIGINT: shutting down"); break; }
            _ = sighup.recv() => reloads.request(&config_path, &notifier),
            loaded = reloads.done() => {
                apply_reload(loaded, &mut engine, &mut tracker, clock.now());
                if std::mem::take(&mut reloads.again) {
                    reloads.request(&config_path, &notifier);
                } else if let Err(e) = notifier.ready_with_status(&engine.snapshot().summary()) {
                    warn!("sd_notify READY: {e}");
                }
            }
        }
        forward_links(&mut engine, &tracker);
        answer_handovers(&mut engine, &mut handovers);
    }

    if let Err(e) = notifier.stopping() {
        warn!("sd_notify STOPPING: {e}");
    }
    // Scripts must not flip priorities while we resign.
    drop(tracker);
    engine.shutdown(clock.now());
    let submitted = engine.ports().submitted;
    let drained = async {
        let mut rx = processed_rx;
        let _ = rx.wait_for(|n| *n >= submitted).await;
        hooks.idle().await;
    };
    // A second signal during the clean shutdown means "now".
    tokio::select! {
        res = tokio::time::timeout(HOOKS_DRAIN, drained) => {
            if res.is_err() {
                warn!("transition actions still running after {HOOKS_DRAIN:?}; exiting anyway");
            }
        }
        _ = sigterm.recv() => { warn!("second signal: exiting without cleanup"); std::process::exit(1); }
        _ = sigint.recv() => { warn!("second signal: exiting without cleanup"); std::process::exit(1); }
    }
    writer.abort();
    dbus.abort();
    if let Some(m) = metrics {
        m.abort();
    }
    remove_state_file(&state_file);
    info!("vrrp-ha stopped");
    Ok(())
}

fn remove_state_file(path: &Path) {
    if let Err(e) = std::fs::remove_file(path) {
        if e.kind() != io::ErrorKind::NotFound {
            debug!("remove {}: {e}", path.display());
        }
    }
}

/// What reading a new configuration on SIGHUP gave: a vetted configuration, or why
/// the running one stays.
type Loaded = Result<Config, String>;

/// Read, parse, vet (and on failure render) a new configuration, then hand the parser's
/// peak back to the system: slow for a large file (seconds for a megabyte in a debug
/// build), so it runs on the blocking pool while the loop keeps the adverts going.
fn load_vetted(path: &Path) -> Loaded {
    let loaded = parse_vetted(path);
    super::sched::trim_heap();
    loaded
}

fn parse_vetted(path: &Path) -> Loaded {
    match crate::config::load(path) {
        Ok(new) => {
            let verdict = crate::track::vet_programs(&new);
            for w in &verdict.warnings {
                warn!("{w}");
            }
            if verdict.refused.is_empty() {
                Ok(new)
            } else {
                Err(format!(
                    "new configuration refused, keeping the running one: {}",
                    verdict.refused.join("; ")
                ))
            }
        }
        Err(crate::config::LoadError::Invalid(e)) => Err(format!(
            "new configuration is invalid; keeping the running one:\n{}",
            e.render()
        )),
        Err(e) => Err(format!(
            "cannot reload, keeping the running configuration: {e}"
        )),
    }
}

/// SIGHUPs in flight: one reload reads at a time, and signals that arrive meanwhile are
/// folded into one more reload after it (of the file as it is then).
#[derive(Default)]
struct Reloads {
    reading: Option<tokio::task::JoinHandle<Loaded>>,
    again: bool,
}

impl Reloads {
    /// A SIGHUP: start reading unless a read is under way.
    fn request(&mut self, config_path: &Path, notifier: &Notifier) {
        if self.reading.is_some() {
            self.again = true;
            return;
        }
        info!(config = %config_path.display(), "SIGHUP: reloading configuration");
        if let Err(e) = notifier.reloading() {
            warn!("sd_notify RELOADING: {e}");
        }
        let path = config_path.to_path_buf();
        self.reading = Some(tokio::task::spawn_blocking(move || load_vetted(&path)));
    }

    /// Resolves with the result of the read under way (never while none is).
    async fn done(&mut self) -> Loaded {
        match self.reading.as_mut() {
            Some(task) => {
                let res = task.await;
                self.reading = None;
                res.unwrap_or_else(|e| Err(format!("cannot reload: {e}")))
            }
            None => std::future::pending().await,
        }
    }
}

/// Apply a configuration read for a SIGHUP: all of it, or nothing when an instance it
/// starts or changes cannot run on this host (its interface is missing, say).
fn apply_reload(
    loaded: Loaded,
    engine: &mut Engine<LivePorts>,
    tracker: &mut Tracker,
    now: CoreInstant,
) {
    match loaded.and_then(|new| engine.fits(&new).map(|()| new)) {
        Ok(new) => {
            if (new.realtime_priority, new.lock_memory)
                != (
                    engine.config().realtime_priority,
                    engine.config().lock_memory,
                )
            {
                super::sched::apply(&new);
            }
            if new.metrics != engine.config().metrics {
                warn!("the metrics node changed; the new listen address takes effect at the next restart");
            }
            // Script results, file values and link states carry over: no priority flap.
            tracker.reload(&new);
            engine.reload(new, |name| tracker.tracking(name), now);
        }
        Err(why) => warn!("{why}"),
    }
}
