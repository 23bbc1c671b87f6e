//! Conformance of the daemon's shell, without root: the real [`Engine`] (the same code
//! the live daemon runs) against recording ports, on a virtual clock and a virtual LAN.
//!
//! Every `tests/conformance/NAME.json` gives one or more routers (a host picture of
//! links and addresses, a KDL configuration) and timed inputs: starts, packets as
//! bytes (or adverts the harness encodes), link and address events, tracking results,
//! reloads, shutdowns. What each router sends between them crosses the virtual LAN.
//! The complete effect stream (every packet sent as bytes, every address installed or
//! removed, every ARP/NA frame, every hook started, every socket, every status
//! published, every witness query and answer) is compared with `NAME.out`; `UPDATE_SNAPSHOTS=1` rewrites those files,
//! which are then reviewed like code. The lab tests remain the proof on real kernels.

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use vrrp_ha::config::WitnessKey;
use vrrp_ha::core::instance::Transmit;
use vrrp_ha::core::packet::{self, Advert, Auth, ChecksumMode, Family, Version};
use vrrp_ha::core::time::Instant;
use vrrp_ha::core::track::{Contribution, ItemState, TrackKind};
use vrrp_ha::daemon::engine::Engine;
use vrrp_ha::daemon::host::Host;
use vrrp_ha::daemon::ports::{Completion, Effect, Input, Ports, SocketId, Stamp};
use vrrp_ha::daemon::status::Snapshot;
use vrrp_ha::net::netlink::{AddrInfo, LinkInfo, NetEvent};
use vrrp_ha::net::socket::Received;
use vrrp_ha::net::NetError;
use vrrp_ha::track::{
    file_contribution, interface_contribution, script_contribution, ScriptState, TrackUpdate,
};
use vrrp_ha::witness::listener::Listener;
use vrrp_ha::witness::proto::{Answer, Key};

/// The key every router and the witness share here.
const WITNESS_KEY: &[u8] = b"conformance witness key, 32 byte";
/// The wall clock of every router and of the witness (their clocks agree).
const WALL_MS: u64 = 1_700_000_000_000;

fn witness_key() -> Key {
    Key::new(WITNESS_KEY).expect("the test key has a valid length")
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct Scenario {
    description: String,
    routers: BTreeMap<String, RouterSpec>,
    /// A witness on the clients' side: it hears every advert, also while the LAN
    /// between the routers is cut, and answers the queries sent to its address.
    #[serde(default)]
    witness: Option<WitnessSpec>,
    steps: Vec<Step>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct WitnessSpec {
    addr: SocketAddr,
    /// When it started listening (default: with the scenario).
    #[serde(default)]
    since_ms: f64,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct RouterSpec {
    links: Vec<LinkSpec>,
    #[serde(default)]
    addrs: Vec<AddrSpec>,
    config: String,
    /// VIPs whose installation fails (as with EPERM).
    #[serde(default)]
    fail_addresses: Vec<IpAddr>,
}

#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
struct LinkSpec {
    index: u32,
    name: String,
    #[serde(default)]
    mac: Option<String>,
    #[serde(default = "yes")]
    up: bool,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
struct AddrSpec {
    index: u32,
    /// `192.0.2.1/24`.
    addr: String,
    #[serde(default)]
    tentative: bool,
    #[serde(default)]
    secondary: bool,
}

#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
struct ItemSpec {
    kind: String,
    name: String,
    weight: i32,
    /// Scripts: `init`, `good`, `bad`; interfaces: `up`, `down`; files: a number.
    state: serde_json::Value,
}

#[derive(Deserialize, Debug, Clone)]
#[serde(tag = "do", rename_all = "snake_case")]
enum Do {
    /// Start the daemon (check and bind every instance).
    Start,
    /// Only let time pass.
    Run,
    /// A packet as bytes on an interface.
    Packet {
        iface: String,
        src: IpAddr,
        dst: IpAddr,
        #[serde(default = "ttl255")]
        ttl: u8,
        hex: String,
    },
    /// An advert the harness encodes (to the group unless `dst` is given).
    Advert {
        iface: String,
        src: IpAddr,
        #[serde(default)]
        dst: Option<IpAddr>,
        priority: u8,
        #[serde(default = "vrid51")]
        vrid: u8,
        #[serde(default = "v3")]
        version: u8,
        #[serde(default = "cs100")]
        interval_cs: u16,
        addrs: Vec<IpAddr>,
        #[serde(default)]
        password: Option<String>,
        #[serde(default = "ttl255")]
        ttl: u8,
    },
    /// A link appears or changes.
    Link {
        index: u32,
        name: String,
        #[serde(default)]
        mac: Option<String>,
        up: bool,
    },
    /// A link is deleted.
    LinkGone { index: u32, name: String },
    /// An address appears (or leaves DAD).
    Addr {
        index: u32,
        addr: String,
        #[serde(default)]
        tentative: bool,
    },
    /// Tracking of one instance, item by item.
    Track {
        instance: String,
        items: Vec<ItemSpec>,
    },
    /// An address is removed (by someone else).
    AddrGone { index: u32, addr: String },
    /// `vrrp-ha drain INSTANCE [--force]`.
    Drain {
        instance: String,
        #[serde(default)]
        force: bool,
    },
    /// `vrrp-ha resume INSTANCE`.
    Resume { instance: String },
    /// SIGHUP with this configuration.
    Reload { config: String },
    /// SIGTERM.
    Shutdown,
    /// Cut the LAN between the routers (true) or heal it (false).
    Partition { cut: bool },
    /// The witness stops answering (false) or answers again (true); it keeps listening.
    Witness { up: bool },
    /// kill -9: the router stops without a word.
    Crash,
}

fn ttl255() -> u8 {
    255
}
fn vrid51() -> u8 {
    51
}
fn v3() -> u8 {
    3
}
fn cs100() -> u16 {
    100
}

/// One timed input (serde cannot refuse unknown fields through `flatten`).
#[derive(Deserialize, Debug)]
struct Step {
    at_ms: f64,
    #[serde(default)]
    router: Option<String>,
    #[serde(flatten)]
    what: Do,
}

/// Ports that record everything and carry nothing out, but answer like the real ones.
struct Recorder {
    log: Vec<String>,
    sockets: BTreeMap<SocketId, (String, Family)>,
    next_socket: u32,
    sent: Vec<(SocketId, Transmit)>,
    done: VecDeque<Completion>,
    /// What the kernel tells the daemon back about its own changes (NEWADDR, DELADDR).
    kernel: VecDeque<NetEvent>,
    next_ifindex: u32,
    fail: Vec<IpAddr>,
    /// Witness queries sent, for the witness.
    queries: Vec<(SocketAddr, Vec<u8>)>,
    /// The last nonce, unique across the routers of a scenario.
    nonces: u32,
}

impl Recorder {
    fn new(fail: Vec<IpAddr>, router: u32) -> Recorder {
        Recorder {
            log: Vec::new(),
            sockets: BTreeMap::new(),
            next_socket: 0,
            sent: Vec::new(),
            done: VecDeque::new(),
            kernel: VecDeque::new(),
            next_ifindex: 100,
            fail,
            queries: Vec::new(),
            nonces: router << 16,
        }
    }

    fn socket(&mut self, what: String, family: Family) -> SocketId {
        let id = SocketId(self.next_socket);
        self.next_socket += 1;
        self.log.push(format!("{what} -> s{}", id.0));
        self.sockets.insert(id, (what, family));
        id
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn mac_text(mac: &[u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

impl Ports for Recorder {
    fn open_socket(
        &mut self,
        family: Family,
        ifname: &str,
        ifindex: u32,
    ) -> Result<SocketId, NetError> {
        let f = if family == Family::V4 { "v4" } else { "v6" };
        Ok(self.socket(format!("open-socket {f} {ifname}#{ifindex}"), family))
    }

    fn open_sender(&mut self, ifname: &str, ifindex: u32) -> Result<SocketId, NetError> {
        Ok(self.socket(format!("open-sender {ifname}#{ifindex}"), Family::V4))
    }

    fn close_socket(&mut self, socket: SocketId) {
        self.sockets.remove(&socket);
        self.log.push(format!("close-socket s{}", socket.0));
    }

    fn send(&mut self, socket: SocketId, t: &Transmit) -> io::Result<()> {
        self.log.push(format!(
            "send s{} {} > {}: {}",
            socket.0,
            t.src,
            t.dst,
            hex(&t.payload)
        ));
        self.sent.push((socket, t.clone()));
        Ok(())
    }

    fn witness_key(&mut self, source: &WitnessKey) -> Result<Key, String> {
        self.log.push(format!("witness-key {source:?}"));
        Ok(witness_key())
    }

    fn witness_stamp(&mut self) -> Stamp {
        self.nonces += 1;
        let mut nonce = [0u8; 16];
        nonce[12..].copy_from_slice(&self.nonces.to_be_bytes());
        Stamp {
            unix_ms: WALL_MS,
            nonce,
        }
    }

    fn send_witness(&mut self, to: SocketAddr, datagram: &[u8]) -> io::Result<()> {
        self.log
            .push(format!("witness-query to {to}: {}", hex(datagram)));
        self.queries.push((to, datagram.to_vec()));
        Ok(())
    }

    fn submit(&mut self, effect: Effect) {
        let line = match &effect {
            Effect::AddAddress { id, vip, ifindex } => {
                self.done.push_back(if self.fail.contains(&vip.addr) {
                    Completion::AddressFailed {
                        id: *id,
                        vip: vip.clone(),
                        error: "Operation not permitted (os error 1)".into(),
                    }
                } else {
                    self.kernel.push_back(NetEvent::AddrAdded {
                        index: *ifindex,
                        info: AddrInfo {
                            addr: vip.addr,
                            prefix: vip.prefix,
                            secondary: false,
                            tentative: false,
                        },
                    });
                    Completion::AddressAdded {
                        id: *id,
                        vip: vip.clone(),
                    }
                });
                format!(
                    "add-address {vip} label {:?} on #{ifindex} for {id}",
                    vip.label
                )
            }
            Effect::DelAddress { vip, ifindex } => {
                self.kernel.push_back(NetEvent::AddrRemoved {
                    index: *ifindex,
                    info: AddrInfo {
                        addr: vip.addr,
                        prefix: vip.prefix,
                        secondary: false,
                        tentative: false,
                    },
                });
                format!("del-address {vip} on #{ifindex}")
            }
            Effect::SetLinkUp { ifindex, up } => {
                if *up {
                    self.done
                        .push_back(Completion::LinkUp { ifindex: *ifindex });
                }
                format!("set-link #{ifindex} up={up}")
            }
            Effect::CreateVmac {
                id,
                name,
                parent,
                quiet_arp,
                mac,
            } => {
                let index = self.next_ifindex;
                self.next_ifindex += 1;
                self.done.push_back(Completion::VmacReady {
                    id: *id,
                    result: Ok(index),
                });
                format!(
                    "create-vmac {name} over #{parent} mac {} quiet-arp {quiet_arp:?} for {id} (becomes #{index})",
                    mac_text(mac)
                )
            }
            Effect::DeleteVmac { name } => format!("delete-vmac {name}"),
            Effect::SendFrames {
                id,
                ifindex,
                frames,
            } => {
                let mut s = format!("frames on #{ifindex} for {id}:");
                let mut counted: Vec<(&[u8; 6], &Vec<u8>, usize)> = Vec::new();
                for (dst, f) in frames {
                    match counted.iter_mut().find(|(d, g, _)| *d == dst && *g == f) {
                        Some(c) => c.2 += 1,
                        None => counted.push((dst, f, 1)),
                    }
                }
                for (dst, f, n) in counted {
                    let _ = write!(s, " {n} x to {} {}", mac_text(dst), hex(f));
                }
                s
            }
            Effect::Hooks(t) => format!(
                "hooks {} {} {} -> {} prio {} vips [{}] actions {} notify {:?}: {}",
                t.scope,
                t.name,
                t.prev_state,
                t.state,
                t.priority,
                t.vips.join(" "),
                t.actions.len(),
                t.notify,
                t.reason
            ),
            Effect::RestoreArp => "restore-arp".into(),
        };
        self.log.push(line);
    }

    fn publish(&mut self, status: &Snapshot) {
        let parts: Vec<String> = status
            .instances
            .iter()
            .map(|i| {
                let r = &i.report;
                let mut line = format!(
                    "{} {} {}/{} master={}",
                    r.name,
                    r.state,
                    r.effective_priority,
                    r.priority,
                    r.master
                        .map_or("-".to_string(), |(a, p)| format!("{a}@{p}"))
                );
                if !r.vips.is_empty() {
                    let vips: Vec<String> = r.vips.iter().map(ToString::to_string).collect();
                    let _ = write!(line, " vips=[{}]", vips.join(" "));
                }
                if r.drained {
                    line.push_str(" drained");
                }
                if let Some(w) = i.waiting {
                    let _ = write!(line, " waiting={}", w.as_str());
                }
                for t in &r.tracking {
                    let _ = write!(line, " {}:{}={}", t.kind, t.name, t.state);
                }
                line
            })
            .collect();
        let unknown: Vec<String> = status
            .unknown
            .iter()
            .map(|u| format!(" unknown {}={}", u.interface, u.packets))
            .collect();
        self.log
            .push(format!("publish {}{}", parts.join("; "), unknown.concat()));
    }

    fn track_link(&mut self, ifname: &str, up: bool) {
        self.log.push(format!("track-link {ifname} up={up}"));
    }

    fn persist_drains(&mut self, drained: &[String]) {
        self.log
            .push(format!("persist-drains [{}]", drained.join(" ")));
    }
}

fn parse_mac(s: &str) -> Result<[u8; 6], String> {
    let v: Vec<u8> = s
        .split(':')
        .map(|p| u8::from_str_radix(p, 16).map_err(|e| format!("mac {s}: {e}")))
        .collect::<Result<_, _>>()?;
    v.try_into().map_err(|_| format!("mac {s}: six bytes"))
}

fn addr_info(spec: &str, tentative: bool, secondary: bool) -> Result<AddrInfo, String> {
    let (a, p) = spec.split_once('/').ok_or(format!("{spec}: no prefix"))?;
    Ok(AddrInfo {
        addr: a.parse().map_err(|e| format!("{spec}: {e}"))?,
        prefix: p.parse().map_err(|e| format!("{spec}: {e}"))?,
        secondary,
        tentative,
    })
}

fn link_info(index: u32, name: &str, mac: &Option<String>, up: bool) -> Result<LinkInfo, String> {
    Ok(LinkInfo {
        index,
        name: name.to_string(),
        mac: match mac {
            Some(m) => Some(parse_mac(m)?),
            None => Some([2, 0, 0, 0, 0, index as u8]),
        },
        up,
    })
}

fn from_hex(s: &str) -> Result<Vec<u8>, String> {
    if !s.len().is_multiple_of(2) {
        return Err(format!("odd hex {s:?}"));
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).map_err(|e| format!("hex: {e}")))
        .collect()
}

fn contribution(it: &ItemSpec) -> Result<Contribution, String> {
    let bad = || format!("track item {}: state {}", it.name, it.state);
    let (kind, state, (delta, fault)) = match it.kind.as_str() {
        "script" => {
            let s = match it.state.as_str() {
                Some("init") => ScriptState::Init,
                Some("good") => ScriptState::Good,
                Some("bad") => ScriptState::Bad,
                _ => return Err(bad()),
            };
            let shown = match s {
                ScriptState::Init => ItemState::Init,
                ScriptState::Good => ItemState::Good,
                ScriptState::Bad => ItemState::Bad,
            };
            (TrackKind::Script, shown, script_contribution(s, it.weight))
        }
        "interface" => {
            let up = match it.state.as_str() {
                Some("up") => true,
                Some("down") => false,
                _ => return Err(bad()),
            };
            let shown = if up { ItemState::Up } else { ItemState::Down };
            (
                TrackKind::Interface,
                shown,
                interface_contribution(up, it.weight),
            )
        }
        "file" => {
            let v = it.state.as_i64().ok_or_else(bad)?;
            (
                TrackKind::File,
                ItemState::Value(v),
                file_contribution(v, it.weight),
            )
        }
        other => return Err(format!("unknown track kind {other:?}")),
    };
    Ok(Contribution {
        kind,
        name: it.name.clone(),
        weight: it.weight,
        delta,
        fault,
        state,
    })
}

struct Router {
    name: String,
    engine: Option<Engine<Recorder>>,
    pending: Option<(vrrp_ha::config::Config, Host, Recorder)>,
}

impl Router {
    fn engine(&mut self) -> Result<&mut Engine<Recorder>, String> {
        self.engine
            .as_mut()
            .ok_or_else(|| format!("{} is not started", self.name))
    }
}

struct Lan {
    routers: Vec<Router>,
    out: String,
    cut: bool,
    witness: Option<VirtualWitness>,
}

/// The real witness logic on the virtual LAN.
struct VirtualWitness {
    addr: SocketAddr,
    listener: Listener,
    up: bool,
}

/// An answer as the stream shows it: what it says, and its size.
fn describe_answer(bytes: &[u8]) -> String {
    match Answer::decode(bytes) {
        Ok(a) => {
            let heard: Vec<String> = a
                .heard
                .iter()
                .map(|h| format!("{} prio {} {} ms ago", h.addr, h.priority, h.ago_ms))
                .collect();
            format!(
                "listening {} ms, heard [{}] ({} bytes)",
                a.listening_ms,
                heard.join(", "),
                bytes.len()
            )
        }
        Err(e) => format!("undecodable: {e}"),
    }
}

fn ms(t: Instant) -> f64 {
    t.since_origin().as_nanos() as f64 / 1e6
}

impl Lan {
    fn index(&self, name: &str) -> Result<usize, String> {
        self.routers
            .iter()
            .position(|r| r.name == name)
            .ok_or_else(|| format!("no router {name:?}"))
    }

    /// Move what a router's engine did into the stream, feed its completions back, and
    /// carry its adverts to the others (at the same instant, in send order).
    fn settle(&mut self, now: Instant) -> Result<(), String> {
        let mut work: VecDeque<usize> = (0..self.routers.len()).collect();
        let mut rounds = 0;
        while let Some(i) = work.pop_front() {
            rounds += 1;
            if rounds > 10_000 {
                return Err("the routers never settle".into());
            }
            let name = self.routers[i].name.clone();
            let Some(engine) = self.routers[i].engine.as_mut() else {
                continue;
            };
            // The reply a drain caller waiting on a handover gets.
            let outcomes = engine.take_drain_outcomes();
            let ports = engine.ports_mut();
            for line in std::mem::take(&mut ports.log) {
                let _ = writeln!(self.out, "{:>10.3} {name} {line}", ms(now));
            }
            for (_, outcome) in outcomes {
                let _ = writeln!(
                    self.out,
                    "{:>10.3} {name} drain answered: {outcome:?}",
                    ms(now)
                );
            }
            let done: Vec<Completion> = ports.done.drain(..).collect();
            let kernel: Vec<NetEvent> = ports.kernel.drain(..).collect();
            let sent = std::mem::take(&mut ports.sent);
            let queries = std::mem::take(&mut ports.queries);
            let sockets = ports.sockets.clone();
            let asker = self.routers[i]
                .engine
                .as_ref()
                .and_then(|e| e.config().instances.first())
                .and_then(|c| c.unicast_source);
            for (to, q) in queries {
                let Some(w) = self.witness.as_mut().filter(|w| w.up && w.addr == to) else {
                    continue;
                };
                let from = asker.unwrap_or(IpAddr::from([192, 0, 2, 250]));
                let line = match w.listener.query(from, &q, now, WALL_MS) {
                    Ok(answer) => {
                        let _ = writeln!(
                            self.out,
                            "{:>10.3} witness -> {name}: {}",
                            ms(now),
                            describe_answer(&answer)
                        );
                        Some(answer)
                    }
                    Err(why) => {
                        let _ = writeln!(
                            self.out,
                            "{:>10.3} witness refuses {name}: {}",
                            ms(now),
                            why.as_str()
                        );
                        None
                    }
                };
                if let (Some(answer), Some(engine)) = (line, self.routers[i].engine.as_mut()) {
                    engine.handle(
                        Input::Witness {
                            from: to,
                            datagram: answer,
                        },
                        now,
                    );
                    work.push_back(i);
                }
            }
            let Some(engine) = self.routers[i].engine.as_mut() else {
                continue;
            };
            for c in done {
                engine.handle(Input::Done(c), now);
                work.push_back(i);
            }
            for ev in kernel {
                engine.handle(Input::Net(ev), now);
                work.push_back(i);
            }
            if let Some(w) = self.witness.as_mut() {
                for (_, t) in &sent {
                    let _ = w.listener.advert(t.src, t.dst, 255, &t.payload, now);
                }
            }
            if self.cut {
                continue;
            }
            for (socket, t) in sent {
                let family = sockets.get(&socket).map(|s| s.1);
                for j in 0..self.routers.len() {
                    if j == i {
                        continue;
                    }
                    let Some(other) = self.routers[j].engine.as_mut() else {
                        continue;
                    };
                    let target = other
                        .ports()
                        .sockets
                        .iter()
                        .find(|(_, (what, f))| {
                            Some(*f) == family && what.starts_with("open-socket")
                        })
                        .map(|(id, _)| *id);
                    let Some(target) = target else { continue };
                    // Unicast adverts reach only the router that owns the destination.
                    if !t.dst.is_multicast()
                        && !other
                            .config()
                            .instances
                            .iter()
                            .any(|c| c.unicast_source == Some(t.dst))
                    {
                        continue;
                    }
                    let packet = Received {
                        src: t.src,
                        dst: t.dst,
                        ttl: 255,
                        payload: t.payload.to_vec(),
                    };
                    other.handle(
                        Input::Packet {
                            socket: target,
                            packet,
                        },
                        now,
                    );
                    work.push_back(j);
                }
            }
        }
        Ok(())
    }

    /// Fire every deadline up to `until`, router by router in deadline order.
    fn run_until(&mut self, until: Instant) -> Result<(), String> {
        loop {
            let next = self
                .routers
                .iter()
                .enumerate()
                .filter_map(|(i, r)| {
                    r.engine
                        .as_ref()
                        .and_then(|e| e.poll_timeout())
                        .map(|d| (d, i))
                })
                .min();
            let Some((at, i)) = next.filter(|(at, _)| *at <= until) else {
                return Ok(());
            };
            if let Some(e) = self.routers[i].engine.as_mut() {
                e.handle_timeout(at);
            }
            self.settle(at)?;
        }
    }

    fn apply(&mut self, step: &Step, now: Instant) -> Result<(), String> {
        if let Do::Partition { cut } = step.what {
            self.cut = cut;
            let _ = writeln!(
                self.out,
                "{:>10.3} -- the LAN is {}",
                ms(now),
                if cut { "cut" } else { "healed" }
            );
            return Ok(());
        }
        if let Do::Run = step.what {
            return Ok(());
        }
        if let Do::Witness { up } = step.what {
            if let Some(w) = self.witness.as_mut() {
                w.up = up;
            }
            let _ = writeln!(
                self.out,
                "{:>10.3} -- the witness is {}",
                ms(now),
                if up { "up" } else { "down" }
            );
            return Ok(());
        }
        let name = step
            .router
            .clone()
            .ok_or_else(|| format!("{:?} needs a router", step.what))?;
        let i = self.index(&name)?;
        let _ = writeln!(
            self.out,
            "{:>10.3} {name} <- {}",
            ms(now),
            describe(&step.what)
        );
        let r = &mut self.routers[i];
        match &step.what {
            Do::Start => {
                let (config, host, ports) = r
                    .pending
                    .take()
                    .ok_or_else(|| format!("{name} started twice"))?;
                let mut engine = Engine::new(config, host, ports);
                engine
                    .start(|_| Default::default(), &[], now)
                    .map_err(|e| format!("{name}: start: {e}"))?;
                r.engine = Some(engine);
            }
            Do::Packet {
                iface,
                src,
                dst,
                ttl,
                hex,
            } => {
                let payload = from_hex(hex)?;
                inject(r.engine()?, iface, *src, *dst, *ttl, payload, now)?;
            }
            Do::Advert {
                iface,
                src,
                dst,
                priority,
                vrid,
                version,
                interval_cs,
                addrs,
                password,
                ttl,
            } => {
                let version = if *version == 2 {
                    Version::V2
                } else {
                    Version::V3
                };
                let advert = Advert {
                    version,
                    vrid: *vrid,
                    priority: *priority,
                    interval_cs: *interval_cs,
                    auth: match (version, password) {
                        (Version::V2, Some(p)) => Some(Auth::simple(p)),
                        (Version::V2, None) => Some(Auth::None([0; 8])),
                        (Version::V3, _) => None,
                    },
                    addrs: addrs.clone(),
                };
                let dst = dst.unwrap_or_else(|| Family::of(src).group());
                let payload = packet::encode(&advert, *src, dst, ChecksumMode::PseudoHeader)
                    .map_err(|e| format!("encode: {e}"))?;
                inject(r.engine()?, iface, *src, dst, *ttl, payload, now)?;
            }
            Do::Link {
                index,
                name,
                mac,
                up,
            } => {
                let l = link_info(*index, name, mac, *up)?;
                r.engine()?.handle(Input::Net(NetEvent::Link(l)), now);
            }
            Do::LinkGone { index, name } => {
                let ev = NetEvent::LinkGone {
                    index: *index,
                    name: name.clone(),
                };
                r.engine()?.handle(Input::Net(ev), now);
            }
            Do::Addr {
                index,
                addr,
                tentative,
            } => {
                let info = addr_info(addr, *tentative, false)?;
                let ev = NetEvent::AddrAdded {
                    index: *index,
                    info,
                };
                r.engine()?.handle(Input::Net(ev), now);
            }
            Do::AddrGone { index, addr } => {
                let info = addr_info(addr, false, false)?;
                let ev = NetEvent::AddrRemoved {
                    index: *index,
                    info,
                };
                r.engine()?.handle(Input::Net(ev), now);
            }
            Do::Drain { instance, force } => {
                let result = r.engine()?.drain(instance, *force, now);
                let _ = writeln!(self.out, "{:>10.3} {name} drain: {result:?}", ms(now));
            }
            Do::Resume { instance } => {
                let result = r.engine()?.resume(instance, now);
                let _ = writeln!(self.out, "{:>10.3} {name} resume: {result:?}", ms(now));
            }
            Do::Track { instance, items } => {
                let items: Vec<Contribution> =
                    items.iter().map(contribution).collect::<Result<_, _>>()?;
                let u = TrackUpdate {
                    instance: instance.clone(),
                    delta: items.iter().map(|c| c.delta).sum(),
                    fault: items.iter().any(|c| c.fault),
                    reason: "conformance".into(),
                    items,
                };
                r.engine()?.handle(Input::Track(u), now);
            }
            Do::Reload { config } => {
                let new = vrrp_ha::config::parse_str(config, "reload.kdl")
                    .map_err(|e| format!("reload config: {}", e.render()))?;
                r.engine()?.reload(new, |_| Default::default(), now);
            }
            Do::Shutdown => r.engine()?.shutdown(now),
            Do::Crash => {
                r.engine()?;
                r.engine = None;
            }
            Do::Run | Do::Partition { .. } | Do::Witness { .. } => {}
        }
        self.settle(now)
    }
}

fn describe(d: &Do) -> String {
    match d {
        Do::Packet { .. } | Do::Advert { .. } => {
            let s = format!("{d:?}");
            s.split_whitespace().take(12).collect::<Vec<_>>().join(" ")
        }
        Do::Reload { .. } => "reload".into(),
        other => format!("{other:?}"),
    }
}

fn inject(
    engine: &mut Engine<Recorder>,
    iface: &str,
    src: IpAddr,
    dst: IpAddr,
    ttl: u8,
    payload: Vec<u8>,
    now: Instant,
) -> Result<(), String> {
    let family = Family::of(&src);
    let socket = engine
        .ports()
        .sockets
        .iter()
        .find(|(_, (what, f))| {
            *f == family && what.starts_with("open-socket") && what.contains(&format!(" {iface}#"))
        })
        .map(|(id, _)| *id)
        .ok_or_else(|| format!("no {family:?} socket on {iface}"))?;
    let packet = Received {
        src,
        dst,
        ttl,
        payload,
    };
    engine.handle(Input::Packet { socket, packet }, now);
    Ok(())
}

fn run(path: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("read: {e}"))?;
    let sc: Scenario = serde_json::from_str(&text).map_err(|e| format!("parse: {e}"))?;
    let mut lan = Lan {
        routers: Vec::new(),
        out: String::new(),
        cut: false,
        witness: sc.witness.as_ref().map(|w| VirtualWitness {
            addr: w.addr,
            listener: Listener::new(
                vec![witness_key()],
                Instant::from_origin(Duration::from_nanos((w.since_ms * 1e6).round() as u64)),
            ),
            up: true,
        }),
    };
    let _ = writeln!(lan.out, "# {}", sc.description);
    for (name, spec) in &sc.routers {
        let config = vrrp_ha::config::parse_str(&spec.config, &format!("{name}.kdl"))
            .map_err(|e| format!("{name} config: {}", e.render()))?;
        let links = spec
            .links
            .iter()
            .map(|l| link_info(l.index, &l.name, &l.mac, l.up))
            .collect::<Result<Vec<_>, _>>()?;
        let addrs = spec
            .addrs
            .iter()
            .map(|a| addr_info(&a.addr, a.tentative, a.secondary).map(|i| (a.index, i)))
            .collect::<Result<Vec<_>, _>>()?;
        lan.routers.push(Router {
            name: name.clone(),
            engine: None,
            pending: Some((
                config,
                Host::new(links, addrs),
                Recorder::new(spec.fail_addresses.clone(), lan.routers.len() as u32),
            )),
        });
    }
    let mut last = 0.0;
    for (n, step) in sc.steps.iter().enumerate() {
        if step.at_ms < last {
            return Err(format!("step {n}: at_ms goes backwards"));
        }
        last = step.at_ms;
        let now = Instant::from_origin(Duration::from_nanos((step.at_ms * 1e6).round() as u64));
        lan.run_until(now)?;
        lan.apply(step, now).map_err(|e| format!("step {n}: {e}"))?;
    }
    Ok(lan.out)
}

fn files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    v.sort();
    v
}

#[test]
fn effect_streams_match_their_recordings() {
    let update = std::env::var_os("UPDATE_SNAPSHOTS").is_some_and(|v| v == "1");
    let files = files();
    assert!(
        files.len() >= 6,
        "expected at least 6 conformance scenarios"
    );
    let mut failures = Vec::new();
    for f in &files {
        let out_path = f.with_extension("out");
        match run(f) {
            Ok(got) => {
                if update {
                    std::fs::write(&out_path, &got).expect("write snapshot");
                    continue;
                }
                let want = std::fs::read_to_string(&out_path).unwrap_or_default();
                if want != got {
                    let first = want
                        .lines()
                        .zip(got.lines())
                        .position(|(a, b)| a != b)
                        .unwrap_or(want.lines().count().min(got.lines().count()));
                    failures.push(format!(
                        "{}: differs from {} at line {}:\n  want: {}\n  got:  {}\n(UPDATE_SNAPSHOTS=1 rewrites it)",
                        f.display(),
                        out_path.display(),
                        first + 1,
                        want.lines().nth(first).unwrap_or("<end>"),
                        got.lines().nth(first).unwrap_or("<end>")
                    ));
                }
            }
            Err(e) => failures.push(format!("{}: {e}", f.display())),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
