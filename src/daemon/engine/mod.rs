//! The engine: the daemon's logic between the world and the core, synchronous and
//! deterministic.
//!
//! It owns the core [`Router`] (one slot per instance: the state machine and this
//! side's [`Io`]), the [`Host`] picture of links and addresses, and the configuration.
//! Inputs come in with the time ([`Engine::handle`], [`Engine::handle_timeout`],
//! [`Engine::reload`], [`Engine::shutdown`]); the engine feeds the core and carries
//! out its outputs through [`Ports`]: packets are sent at once, slow work is submitted
//! as ordered [`Effect`]s, and nothing ever waits. The next deadline is the core's
//! ([`Engine::poll_timeout`]).
//!
//! An instance is started once it is *bound*: its interface exists, it has an address
//! to send from (IPv6: a link-local one out of DAD), its socket is open and its vmac
//! exists. Until then it simply waits; nothing else waits for it. A bound instance
//! whose interface disappears is told the link is down and rebinds when the interface
//! comes back under the same name.

mod act;
mod bind;
mod logs;
mod witness;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use tracing::{info, warn};

use super::host::{Change, Host};
use super::ports::{Completion, Effect, Input, Ports, SocketId};
use super::reload;
use super::setup::params_for;
use super::status::{InstanceStatus, Snapshot, Unknown};
use super::DaemonError;
use crate::config::{self, Config};
use crate::core::instance::{Event, Instance, State};
use crate::core::packet::Family;
use crate::core::router::{InstanceId, Router};
use crate::core::sync_group::SyncGroup;
use crate::core::time::Instant;
use crate::core::track::Tracking;
use crate::hooks;

pub use bind::Wait;
use logs::Logs;

/// This side's part of one instance.
#[derive(Debug)]
pub struct Io {
    /// The configured instance.
    cfg: config::Instance,
    /// Attached to its interface, or waiting for what it needs.
    bind: Bind,
    /// Startup has been fed to the core.
    started: bool,
    /// What the core was last told about the link.
    told_up: bool,
    /// The vmac created for it: (base interface index, vmac index).
    vmac: Option<(u32, u32)>,
    /// A `CreateVmac` is on its way for this base interface.
    vmac_pending: Option<u32>,
    /// The interface index it was last attached to.
    last_ifindex: Option<u32>,
    /// Its witnesses, with their key and the question under way.
    witness: Option<witness::WitnessIo>,
    logs: Logs,
}

/// Where an instance stands with its interface.
#[derive(Debug)]
enum Bind {
    /// Not attached yet, or no longer.
    Waiting(Wait),
    /// Attached.
    Bound(Binding),
}

/// An instance attached to its interface.
#[derive(Clone, Debug)]
struct Binding {
    /// The configured interface's index.
    ifindex: u32,
    /// The shared receiving socket of the interface and family.
    socket: SocketId,
    /// The vmac's send-only socket (IPv4 `use-vmac`).
    sender: Option<SocketId>,
    /// Where announcements go out, and with which MAC (the vmac's with `use-vmac`).
    announce_ifindex: u32,
    announce_mac: [u8; 6],
    /// The vmac's index.
    vmac: Option<u32>,
    /// Re-attached to an interface with no IPv4 address yet: the next one there becomes
    /// the advert source (until then the old one is kept).
    primary_pending: bool,
    /// The vmac is up (the executor said so): adverts can leave through it.
    vmac_up: bool,
    /// Adverts waiting for the vmac to come up (a new MASTER's first ones).
    held: Vec<crate::core::instance::Transmit>,
}

/// One sync group's side: its configuration and the state last reported.
#[derive(Debug)]
struct GroupIo {
    cfg: config::SyncGroup,
    reported: State,
}

/// A shared receiving socket.
#[derive(Clone, Copy, Debug)]
struct Sock {
    id: SocketId,
    ifindex: u32,
}

/// What a drain the core accepted is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DrainStarted {
    /// Drained (a MASTER handed over at once).
    Done,
    /// A MASTER that never heard another router waits for one to take over.
    HandingOver(InstanceId),
}

/// The daemon's logic; see the module documentation.
pub struct Engine<P: Ports> {
    ports: P,
    router: Router<Io>,
    host: Host,
    config: Config,
    groups: Vec<GroupIo>,
    sockets: BTreeMap<(String, Family), Sock>,
    demux: HashMap<(SocketId, u8), Vec<InstanceId>>,
    /// Packets no instance took, per receiving interface and family, with that socket's
    /// own log limit.
    unknown: BTreeMap<(String, Family), (u64, logs::RateLimit)>,
    logs: Logs,
    pending_hooks: Vec<hooks::Transition>,
    /// Drains the core refused in the batch being carried out.
    refusals: Vec<(InstanceId, String)>,
    /// Drains waiting for another router to take over (`Action::HandingOver`).
    handovers: BTreeSet<InstanceId>,
    /// How those ended, for [`Engine::take_drain_outcomes`].
    drain_outcomes: Vec<(InstanceId, Result<(), String>)>,
    /// The instances drained when the current reload began.
    drained_before: Vec<String>,
    dirty: bool,
    /// A drain began or ended: the drain file is written at the end of the batch.
    drains_dirty: bool,
    stopping: bool,
    now: Instant,
}

fn coordinators(groups: &[config::SyncGroup]) -> Vec<SyncGroup> {
    groups
        .iter()
        .map(|g| SyncGroup::new(g.name.clone(), g.instances.clone()))
        .collect()
}

fn unspecified(ipv6: bool) -> IpAddr {
    if ipv6 {
        IpAddr::V6(Ipv6Addr::UNSPECIFIED)
    } else {
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    }
}

fn instance_err(cfg: &config::Instance, problem: impl Into<String>) -> DaemonError {
    DaemonError::Instance {
        instance: cfg.name.clone(),
        problem: problem.into(),
    }
}

impl<P: Ports> Engine<P> {
    /// An engine for `config` on `host`; nothing runs until [`Engine::start`].
    pub fn new(config: Config, host: Host, ports: P) -> Engine<P> {
        let groups = config
            .sync_groups
            .iter()
            .map(|g| GroupIo {
                cfg: g.clone(),
                reported: State::Initialize,
            })
            .collect();
        Engine {
            ports,
            router: Router::new(coordinators(&config.sync_groups)),
            host,
            config,
            groups,
            sockets: BTreeMap::new(),
            demux: HashMap::new(),
            unknown: BTreeMap::new(),
            logs: Logs::default(),
            pending_hooks: Vec::new(),
            refusals: Vec::new(),
            handovers: BTreeSet::new(),
            drain_outcomes: Vec::new(),
            drained_before: Vec::new(),
            dirty: true,
            drains_dirty: false,
            stopping: false,
            now: Instant::ZERO,
        }
    }

    /// The ports, for the caller that owns them.
    pub fn ports(&self) -> &P {
        &self.ports
    }

    /// The ports, mutable.
    pub fn ports_mut(&mut self) -> &mut P {
        &mut self.ports
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Check that every instance can run on this host, then add and bind them all:
    /// those whose interface is ready start at once, the others when it is.
    /// `tracking` gives each instance's tracking aggregate as known now.
    pub fn start(
        &mut self,
        tracking: impl Fn(&str) -> Tracking,
        drained: &[String],
        now: Instant,
    ) -> Result<(), DaemonError> {
        self.now = now;
        for cfg in &self.config.instances {
            self.fits_host(cfg)?;
        }
        let instances = self.config.instances.clone();
        let mut witnesses = Vec::with_capacity(instances.len());
        for cfg in &instances {
            witnesses.push(self.load_witness(cfg)?);
        }
        for (cfg, w) in instances.into_iter().zip(witnesses) {
            let t = tracking(&cfg.name);
            let drain = drained.contains(&cfg.name);
            self.add(cfg, t, drain, w);
        }
        self.seed_tracked_links();
        self.flush();
        Ok(())
    }

    /// What would stop an instance from ever running here: its interface, or a `dev=`
    /// interface of a VIP, does not exist; an IPv4 instance has no address to send from.
    fn fits_host(&self, cfg: &config::Instance) -> Result<(), DaemonError> {
        let Some(link) = self.host.link_by_name(&cfg.interface) else {
            return Err(crate::net::NetError::NoSuchInterface(cfg.interface.clone()).into());
        };
        for v in &cfg.virtual_ips {
            if let Some(dev) = &v.dev {
                if self.host.link_by_name(dev).is_none() {
                    return Err(crate::net::NetError::NoSuchInterface(dev.clone()).into());
                }
            }
        }
        if !cfg.use_vmac && link.mac.is_none() {
            return Err(instance_err(
                cfg,
                format!("interface {} has no Ethernet address", cfg.interface),
            ));
        }
        let vips: Vec<IpAddr> = cfg.virtual_ips.iter().map(|v| v.addr).collect();
        if !cfg.is_ipv6()
            && cfg.unicast_source.is_none()
            && self.host.primary_v4(link.index, &vips).is_none()
        {
            return Err(instance_err(
                cfg,
                format!(
                    "interface {} has no IPv4 address to send adverts from (set unicast-source)",
                    cfg.interface
                ),
            ));
        }
        Ok(())
    }

    /// Add one instance (stopped; drained when it was before) and bind it if it can be.
    fn add(
        &mut self,
        cfg: config::Instance,
        tracking: Tracking,
        drained: bool,
        witness: Option<witness::WitnessIo>,
    ) {
        let params = params_for(&cfg, unspecified(cfg.is_ipv6()));
        let io = Io {
            cfg,
            bind: Bind::Waiting(Wait::Interface),
            started: false,
            told_up: true,
            vmac: None,
            vmac_pending: None,
            last_ifindex: None,
            witness,
            logs: Logs::default(),
        };
        let (id, _) = self.router.insert(Instance::new(params), io);
        if tracking != Tracking::default() {
            self.feed(id, Event::Track(tracking));
        }
        if drained {
            self.feed(id, Event::Drain { force: true });
        }
        self.try_bind(id);
    }

    /// `vrrp-ha drain NAME`: the core hands over and keeps the instance BACKUP; `Err` says
    /// why it refused (or that there is no such instance). A MASTER that never heard
    /// another router hands over first ([`DrainStarted::HandingOver`]): its outcome comes
    /// later from [`Engine::take_drain_outcomes`].
    pub fn drain(&mut self, name: &str, force: bool, now: Instant) -> Result<DrainStarted, String> {
        self.now = now;
        let id = self
            .router
            .id_of(name)
            .ok_or_else(|| format!("no instance {name:?}"))?;
        self.refusals.clear();
        self.feed(id, Event::Drain { force });
        let refused = self.refusals.drain(..).find(|(r, _)| *r == id);
        self.drains_dirty = true;
        self.flush();
        match refused {
            Some((_, why)) => Err(why),
            None if self.handovers.contains(&id) => Ok(DrainStarted::HandingOver(id)),
            None => {
                info!(vrrp_instance = %name, force, "drained by the operator");
                Ok(DrainStarted::Done)
            }
        }
    }

    /// How the handovers of [`DrainStarted::HandingOver`] ended since the last call:
    /// drained, or refused and why.
    pub fn take_drain_outcomes(&mut self) -> Vec<(InstanceId, Result<(), String>)> {
        std::mem::take(&mut self.drain_outcomes)
    }

    /// `vrrp-ha resume NAME`: electable again.
    pub fn resume(&mut self, name: &str, now: Instant) -> Result<(), String> {
        self.now = now;
        let id = self
            .router
            .id_of(name)
            .ok_or_else(|| format!("no instance {name:?}"))?;
        self.feed(id, Event::Resume);
        info!(vrrp_instance = %name, "resumed by the operator");
        self.drains_dirty = true;
        self.flush();
        Ok(())
    }

    /// The drained instances, for the ports to keep across restarts.
    fn persist_drains(&mut self) {
        let drained: Vec<String> = self
            .router
            .iter()
            .filter(|(_, s)| s.core().drained())
            .map(|(_, s)| s.io.cfg.name.clone())
            .collect();
        self.ports.persist_drains(&drained);
    }

    /// The earliest deadline of the core.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.router.poll_timeout()
    }

    /// Fire the core's due timers.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = now;
        let outputs = self.router.handle_timeout(now);
        self.carry_out(outputs);
        self.flush();
    }

    /// Act on one input at `now`.
    pub fn handle(&mut self, input: Input, now: Instant) {
        self.now = now;
        match input {
            Input::Packet { socket, packet } => self.on_packet(socket, packet),
            Input::Net(ev) => {
                let change = self.host.apply(&ev);
                self.on_change(change);
            }
            Input::Track(u) => {
                if let Some(id) = self.router.id_of(&u.instance) {
                    self.feed(id, Event::Track(u.tracking()));
                }
            }
            Input::Done(c) => self.on_done(c),
            Input::Witness { from, datagram } => self.on_witness(from, &datagram),
        }
        self.flush();
    }

    fn on_packet(&mut self, socket: SocketId, packet: crate::net::socket::Received) {
        let Some(&vrid) = packet.payload.get(1) else {
            self.count_unknown(socket, &packet, "truncated");
            return;
        };
        let Some(targets) = self.demux.get(&(socket, vrid)).cloned() else {
            self.count_unknown(socket, &packet, "unconfigured VRID");
            return;
        };
        let last = targets.len() - 1;
        let mut payload = Some(packet.payload);
        for (n, id) in targets.into_iter().enumerate() {
            // The last target takes the buffer; the rare others (one VRID on one
            // interface in two instances) get copies.
            let bytes = if n == last {
                payload.take().unwrap_or_default()
            } else {
                payload.clone().unwrap_or_default()
            };
            let ev = Event::Packet {
                src: packet.src,
                dst: packet.dst,
                ttl: packet.ttl,
                payload: bytes,
            };
            self.feed(id, ev);
        }
    }

    fn count_unknown(
        &mut self,
        socket: SocketId,
        packet: &crate::net::socket::Received,
        why: &str,
    ) {
        let key = self
            .sockets
            .iter()
            .find(|(_, s)| s.id == socket)
            .map(|(k, _)| k.clone());
        let Some(key) = key else {
            return;
        };
        let interface = key.0.clone();
        let (count, limit) = self.unknown.entry(key).or_default();
        *count += 1;
        let total = *count;
        if let Some(suppressed) = limit.allow(self.now) {
            let vrid = packet.payload.get(1).copied().unwrap_or(0);
            tracing::debug!(
                interface = %interface, src = %packet.src, vrid, total, suppressed,
                "dropped VRRP packet: {why}"
            );
        }
    }

    fn on_change(&mut self, change: Change) {
        match change {
            Change::None => {}
            Change::Link { index, .. } => {
                let Some(link) = self.host.link(index).cloned() else {
                    return;
                };
                self.track_link(&link.name, link.up);
                let ids: Vec<InstanceId> = self
                    .router
                    .iter()
                    .filter(|(_, s)| s.io.cfg.interface == link.name)
                    .map(|(id, _)| id)
                    .collect();
                for id in ids {
                    self.relink(id, index);
                }
            }
            Change::LinkGone { index, name } => {
                self.track_link(&name, false);
                let ids: Vec<InstanceId> = self
                    .router
                    .iter()
                    .filter(|(_, s)| match &s.io.bind {
                        Bind::Bound(b) => b.ifindex == index || b.vmac == Some(index),
                        Bind::Waiting(Wait::Vmac { parent }) => *parent == index,
                        Bind::Waiting(_) => false,
                    })
                    .map(|(id, _)| id)
                    .collect();
                for id in ids {
                    self.unbind(id);
                    self.try_bind(id);
                }
                self.drop_socket_of(index);
            }
            Change::AddrAdded { index, .. } => {
                let ids: Vec<InstanceId> = self
                    .router
                    .iter()
                    .filter(|(_, s)| match &s.io.bind {
                        Bind::Waiting(Wait::Address { ifindex }) => *ifindex == index,
                        Bind::Bound(b) => b.ifindex == index && b.primary_pending,
                        Bind::Waiting(_) => false,
                    })
                    .map(|(id, _)| id)
                    .collect();
                for id in ids {
                    self.address_arrived(id);
                }
            }
            Change::AddrRemoved { index, addr } => {
                // Whoever configures this VIP on this interface hears of it; the core
                // knows whether it had installed it (and as Master puts it back).
                let lost: Vec<(InstanceId, crate::core::instance::Vip)> = self
                    .router
                    .iter()
                    .filter_map(|(id, s)| {
                        let Bind::Bound(b) = &s.io.bind else {
                            return None;
                        };
                        crate::daemon::setup::vips_of(&s.io.cfg)
                            .into_iter()
                            .find(|v| v.addr == addr && self.vip_ifindex(v, b) == Some(index))
                            .map(|v| (id, v))
                    })
                    .collect();
                for (id, vip) in lost {
                    self.feed(id, Event::VipLost(vip));
                }
            }
        }
    }

    fn on_done(&mut self, c: Completion) {
        match c {
            Completion::VmacReady { id, result } => {
                let Some(io) = self.router.io_mut(id) else {
                    return;
                };
                let parent = io.vmac_pending.take();
                match (result, parent) {
                    (Ok(index), Some(parent)) => {
                        info!(vrrp_instance = %io.cfg.name, ifindex = index, "created vmac interface");
                        io.vmac = Some((parent, index));
                        self.try_bind(id);
                    }
                    (Ok(_), None) => {}
                    (Err(e), _) => {
                        warn!(vrrp_instance = %io.cfg.name, "cannot create the vmac interface: {e}");
                    }
                }
            }
            Completion::AddressAdded { id, vip } => self.feed(id, Event::VipInstalled(vip)),
            Completion::LinkUp { ifindex } => self.vmac_came_up(ifindex),
            Completion::AddressFailed { id, vip, error } => {
                if let Some(io) = self.router.get(id).map(|s| &s.io) {
                    // A MASTER without its VIP black-holes traffic: say so loudly.
                    tracing::error!(
                        vrrp_instance = %io.cfg.name,
                        "MASTER cannot install virtual IP {vip}: {error}"
                    );
                }
                self.feed(id, Event::VipFailed { vip, error });
            }
        }
    }

    /// Feed one event to an instance and carry out what follows.
    fn feed(&mut self, id: InstanceId, event: Event) {
        let outputs = self.router.handle(id, event, self.now);
        self.carry_out(outputs);
    }

    /// Hand the batch's hooks over (after its VIP effects, so that e.g. a reload of nginx
    /// never runs before the address is there) and publish the status if it changed.
    fn flush(&mut self) {
        if std::mem::take(&mut self.drains_dirty) {
            self.persist_drains();
        }
        for t in std::mem::take(&mut self.pending_hooks) {
            self.ports.submit(Effect::Hooks(t));
        }
        if self.dirty {
            self.dirty = false;
            let snapshot = self.snapshot();
            self.ports.publish(&snapshot);
        }
    }

    /// What `vrrp-ha status`, D-Bus, metrics and systemd's STATUS= show: every
    /// instance's report with its binding, and the packets no instance took.
    pub fn snapshot(&self) -> Snapshot {
        let instances = self
            .router
            .iter()
            .map(|(_, s)| InstanceStatus {
                report: s.core().report(),
                interface: s.io.cfg.interface.clone(),
                ipv6: s.io.cfg.is_ipv6(),
                waiting: match &s.io.bind {
                    Bind::Waiting(w) => Some(*w),
                    Bind::Bound(_) => None,
                },
            })
            .collect();
        let unknown = self
            .unknown
            .iter()
            .map(|((interface, family), (packets, _))| Unknown {
                interface: interface.clone(),
                family: *family,
                packets: *packets,
            })
            .collect();
        Snapshot {
            at: self.now,
            instances,
            unknown,
        }
    }

    /// Tell the tracker about every tracked interface, from the host picture.
    fn seed_tracked_links(&mut self) {
        let mut names: Vec<String> = self
            .config
            .instances
            .iter()
            .flat_map(|i| i.track_interfaces.iter().map(|t| t.name.clone()))
            .collect();
        names.sort_unstable();
        names.dedup();
        for name in names {
            let up = self.host.link_by_name(&name).is_some_and(|l| l.up);
            self.ports.track_link(&name, up);
        }
    }

    fn track_link(&mut self, name: &str, up: bool) {
        let tracked = self
            .config
            .instances
            .iter()
            .any(|i| i.track_interfaces.iter().any(|t| t.name == name));
        if tracked {
            self.ports.track_link(name, up);
        }
    }

    /// Whether every instance a reload to `new` would start or change can run on this
    /// host; `Err` lists those that cannot, and then nothing of `new` may be applied.
    pub fn fits(&self, new: &Config) -> Result<(), String> {
        let plan = reload::plan(&self.config.instances, &new.instances);
        let touched = plan
            .start
            .iter()
            .chain(plan.reconfigure.iter().map(|(_, ni)| ni))
            .map(|&ni| &new.instances[ni]);
        let problems: Vec<String> = touched
            .filter_map(|cfg| self.fits_host(cfg).err().map(|e| e.to_string()))
            .collect();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "new configuration refused, keeping the running one: {}",
                problems.join("; ")
            ))
        }
    }

    /// SIGHUP with a valid, vetted configuration: stop what is gone, reconfigure what
    /// changed, start what is new (each new instance as soon as it can bind), and move
    /// the sync groups over. Nothing waits.
    pub fn reload(&mut self, new: Config, tracking: impl Fn(&str) -> Tracking, now: Instant) {
        self.now = now;
        let plan = reload::plan(&self.config.instances, &new.instances);
        self.drained_before = self
            .router
            .iter()
            .filter(|(_, s)| s.core().drained())
            .map(|(_, s)| s.io.cfg.name.clone())
            .collect();
        // Stop removed instances first so that a re-created one can take over its VIPs.
        let mut stop = plan.stop.clone();
        stop.sort_unstable_by(|a, b| b.cmp(a));
        for &oi in &stop {
            let name = self.config.instances[oi].name.clone();
            let Some(id) = self.router.id_of(&name) else {
                continue;
            };
            info!(vrrp_instance = %name, "reload: stopping instance");
            self.stop_instance(id);
        }
        for &(_, ni) in &plan.reconfigure {
            let cfg = new.instances[ni].clone();
            let Some(id) = self.router.id_of(&cfg.name) else {
                continue;
            };
            if let Err(e) = self.fits_host(&cfg) {
                warn!(vrrp_instance = %cfg.name, "reload: keeping the old settings: {e}");
                continue;
            }
            let mut witness = match self.load_witness(&cfg) {
                Ok(w) => w,
                Err(e) => {
                    warn!(vrrp_instance = %cfg.name, "reload: keeping the old settings: {e}");
                    continue;
                }
            };
            info!(vrrp_instance = %cfg.name, "reload: applying changed settings");
            let primary = self
                .router
                .instance(id)
                .map_or(unspecified(cfg.is_ipv6()), |i| i.params().primary);
            let params = params_for(&cfg, primary);
            if let Some(io) = self.router.io_mut(id) {
                io.cfg = cfg;
                if let Some(w) = witness.as_mut() {
                    w.carry_over(io.witness.take());
                }
                io.witness = witness;
            }
            self.feed(id, Event::Reconfigure(params));
        }
        // An unchanged file may name a key file whose key was replaced (a new key rolled
        // out one node at a time): read the unchanged instances' keys again.
        for &(_, ni) in &plan.keep {
            self.reread_witness_key(&new.instances[ni]);
        }
        for &ni in &plan.start {
            let cfg = new.instances[ni].clone();
            if let Err(e) = self.fits_host(&cfg) {
                warn!(vrrp_instance = %cfg.name, "reload: cannot start: {e}");
                continue;
            }
            let witness = match self.load_witness(&cfg) {
                Ok(w) => w,
                Err(e) => {
                    warn!(vrrp_instance = %cfg.name, "reload: cannot start: {e}");
                    continue;
                }
            };
            info!(vrrp_instance = %cfg.name, "reload: starting instance");
            let t = tracking(&cfg.name);
            // A drained instance re-created by a reload (its identity changed) stays drained.
            let drained = self.drained_before.contains(&cfg.name);
            self.add(cfg, t, drained, witness);
        }
        if new.sync_groups != self.config.sync_groups {
            let outputs = self
                .router
                .set_groups(coordinators(&new.sync_groups), self.now);
            let old = std::mem::take(&mut self.groups);
            self.groups = new
                .sync_groups
                .iter()
                .map(|cfg| GroupIo {
                    cfg: cfg.clone(),
                    reported: old
                        .iter()
                        .find(|o| o.cfg.name == cfg.name)
                        .map_or(State::Initialize, |o| o.reported),
                })
                .collect();
            self.carry_out(outputs);
        }
        self.config = new;
        self.seed_tracked_links();
        self.drains_dirty = true;
        self.dirty = true;
        self.flush();
    }

    /// Shut one instance down and remove it (a reload dropped it).
    fn stop_instance(&mut self, id: InstanceId) {
        self.feed(id, Event::Shutdown);
        self.unbind(id);
        if let Some((_, io)) = self.router.remove(id) {
            if io.cfg.use_vmac {
                self.ports.submit(Effect::DeleteVmac {
                    name: crate::net::vmac::vmac_name(io.cfg.vrid, io.cfg.is_ipv6()),
                });
            }
        }
        self.close_unused_sockets();
        self.rebuild_demux();
        self.dirty = true;
    }

    /// SIGTERM: every instance resigns (a Master with priority 0), vmacs go, ARP
    /// settings are put back. The caller then waits for the effects and hooks to finish.
    pub fn shutdown(&mut self, now: Instant) {
        self.now = now;
        self.stopping = true;
        let ids: Vec<InstanceId> = self.router.iter().map(|(id, _)| id).collect();
        for &id in &ids {
            self.feed(id, Event::Shutdown);
        }
        for id in ids {
            let Some(io) = self.router.get(id).map(|s| &s.io) else {
                continue;
            };
            if io.cfg.use_vmac {
                let name = crate::net::vmac::vmac_name(io.cfg.vrid, io.cfg.is_ipv6());
                self.ports.submit(Effect::DeleteVmac { name });
            }
        }
        self.ports.submit(Effect::RestoreArp);
        self.dirty = true;
        self.flush();
    }
}
