//! What a daemon reports about its instances: the [`Snapshot`] the engine publishes
//! whenever the core says a report changed, and its stable JSON form ([`StatusReport`],
//! `"version": 1`) that the state file, the D-Bus `Status()` method and
//! `vrrp-ha status --json` share (documented in vrrp-ha(8)).
//!
//! The state file is `<dir>/<config stem>.json`, where `<dir>` is `$VRRP_HA_STATE_DIR`
//! or `/run/vrrp-ha`. The key=value `<stem>.state` files of vrrp-ha 0.1 (one line per
//! instance) are still read, so that `vrrp-ha status` of a new package sees a daemon of
//! the old one while an upgrade restarts it.

use std::collections::BTreeMap;
use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::core::instance::{Report, State};
use crate::core::packet::{ChecksumForm, Family, Version};
use crate::core::time::Instant;
use crate::core::track::{ItemState, TrackKind};

use super::engine::Wait;

/// Default directory of the state files.
pub const DEFAULT_DIR: &str = "/run/vrrp-ha";

/// The version of the JSON shape; bumped only when a field changes meaning or goes.
/// New fields may appear in any release.
pub const JSON_VERSION: u32 = 1;

/// One instance as the engine sees it: the core's report and the shell's part.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstanceStatus {
    /// Everything the core reports.
    pub report: Report,
    /// The configured interface.
    pub interface: String,
    /// IPv6 (the VIPs' family).
    pub ipv6: bool,
    /// What an instance that is not attached to its interface waits for (`None`: bound).
    pub waiting: Option<Wait>,
}

/// Packets for no configured VRID (or too short to tell), per receiving interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unknown {
    /// The interface.
    pub interface: String,
    /// The socket's family.
    pub family: Family,
    /// Packets counted.
    pub packets: u64,
}

/// What the daemon publishes about its instances, whenever it changes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// When it was taken, on the core's clock.
    pub at: Instant,
    /// One entry per instance, in the order they were added.
    pub instances: Vec<InstanceStatus>,
    /// Packets no instance took.
    pub unknown: Vec<Unknown>,
}

impl Default for Snapshot {
    fn default() -> Self {
        Snapshot {
            at: Instant::ZERO,
            instances: Vec::new(),
            unknown: Vec::new(),
        }
    }
}

impl Snapshot {
    /// One line for systemd's STATUS=: "VI_1 MASTER prio 100, VI_2 BACKUP prio 90".
    pub fn summary(&self) -> String {
        crate::sdnotify::summary(self.instances.iter().map(|i| {
            let state = if i.report.drained {
                "DRAINED"
            } else {
                i.report.state.as_str()
            };
            (i.report.name.as_str(), state, i.report.effective_priority)
        }))
    }
}

impl Wait {
    /// What `status` shows: `interface`, `vmac`, `address`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Wait::Interface => "interface",
            Wait::Vmac { .. } => "vmac",
            Wait::Address { .. } => "address",
        }
    }
}

/// `vrrp-ha status --json`, the state file and D-Bus `Status()`: one or more daemons.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StatusReport {
    /// [`JSON_VERSION`].
    pub version: u32,
    /// One entry per daemon.
    pub daemons: Vec<DaemonStatus>,
}

/// One daemon.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DaemonStatus {
    /// The config file's stem: the `vrrp-ha@NAME` unit instance.
    pub name: String,
    /// The configuration file.
    pub config: String,
    /// Its process id.
    pub pid: u32,
    /// The vrrp-ha version it runs.
    pub vrrp_ha_version: String,
    /// Where the data came from: `dbus` (live), `state-file`, or `state-file-v0` (an old
    /// daemon's file: state, effective priority and master only).
    pub source: String,
    /// When the data was taken (Unix time, seconds).
    pub updated: f64,
    /// The instances, in configuration order.
    pub instances: Vec<InstanceJson>,
    /// Packets no instance took (an unconfigured VRID, or too short to tell).
    pub unknown_vrid: Vec<UnknownJson>,
}

/// One instance.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InstanceJson {
    /// Instance name.
    pub name: String,
    /// Virtual router id.
    pub vrid: u8,
    /// VRRP version, 2 or 3.
    pub vrrp_version: u8,
    /// `ipv4` or `ipv6`.
    pub family: String,
    /// The configured interface.
    pub interface: String,
    /// `null` when attached to its interface, else what it waits for:
    /// `interface`, `vmac` or `address`.
    pub waiting_for: Option<String>,
    /// `INIT`, `BACKUP`, `MASTER`, `FAULT`.
    pub state: String,
    /// Drained by the operator: BACKUP and unelectable until resumed.
    pub drained: bool,
    /// Configured priority.
    pub priority: u8,
    /// Priority in effect (configured plus tracking).
    pub effective_priority: u8,
    /// What each tracked item contributes.
    pub tracking: Vec<TrackJson>,
    /// The master and its priority, when known.
    pub master: Option<MasterJson>,
    /// VIPs held (installed), `ADDRESS/PREFIX`.
    pub vips: Vec<String>,
    /// The last transition.
    pub last_transition: Option<TransitionJson>,
    /// Counters since the instance started.
    pub counters: CountersJson,
    /// Routers heard, by address.
    pub peers: Vec<PeerJson>,
}

/// One tracked item's part.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrackJson {
    /// `script`, `interface` or `file`.
    pub kind: String,
    /// Script name, interface name or file path.
    pub name: String,
    /// The weight in effect.
    pub weight: i32,
    /// What it adds to the priority now.
    pub delta: i32,
    /// Whether it holds the instance in FAULT.
    pub fault: bool,
    /// `init`, `good`, `failing` (scripts), `up`, `down` (interfaces), `value` (files).
    pub state: String,
    /// A file's value.
    pub value: Option<i64>,
}

/// The master.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MasterJson {
    /// Its address (ours when MASTER).
    pub address: String,
    /// Its priority.
    pub priority: u8,
}

/// A transition.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TransitionJson {
    /// From state.
    pub from: String,
    /// To state.
    pub to: String,
    /// Why, as in the journal's `VRRP_REASON=`.
    pub reason: String,
    /// When (Unix time, seconds).
    pub time: f64,
}

/// Counters of one instance.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CountersJson {
    /// State transitions.
    pub transitions: u64,
    /// Transitions into MASTER.
    pub became_master: u64,
    /// Transitions by the state entered (`INIT` counts stops): `{"MASTER": 2, ...}`.
    pub transitions_to: BTreeMap<String, u64>,
    /// How often the master changed from one router to another.
    pub master_changes: u64,
    /// Adverts sent (priority 0 included).
    pub adverts_sent: u64,
    /// Adverts received (valid or not).
    pub adverts_received: u64,
    /// Priority-0 adverts sent.
    pub priority_zero_sent: u64,
    /// Priority-0 adverts received.
    pub priority_zero_received: u64,
    /// Dropped adverts by reason (`auth_mismatch`, ...); absent reasons are 0.
    pub drops: BTreeMap<String, u64>,
    /// Undecodable packets by reason (`bad_checksum`, ...); absent reasons are 0.
    pub malformed: BTreeMap<String, u64>,
    /// Adverts whose address list differs from ours.
    pub address_mismatches: u64,
    /// Adverts of another MASTER while we were MASTER (split brain).
    pub other_masters: u64,
    /// VIPs that could not be installed or put back.
    pub vip_failures: u64,
    /// VIPs removed by someone else while MASTER.
    pub vips_lost: u64,
}

/// A router heard.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PeerJson {
    /// Its address.
    pub address: String,
    /// The priority of its last valid advert.
    pub priority: u8,
    /// The checksum form it uses: `message` or `pseudo-header`.
    pub checksum: String,
    /// When its last valid advert arrived (Unix time, seconds).
    pub last_seen: f64,
    /// Valid adverts from it.
    pub adverts: u64,
}

/// Packets no instance took on one interface.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UnknownJson {
    /// The interface.
    pub interface: String,
    /// `ipv4` or `ipv6`.
    pub family: String,
    /// Packets counted.
    pub packets: u64,
}

/// Who is reporting, for [`DaemonStatus`].
#[derive(Clone, Debug)]
pub struct Identity {
    /// Config stem.
    pub name: String,
    /// Config path.
    pub config: String,
    /// Process id.
    pub pid: u32,
}

impl Identity {
    /// This process, running `config_path`.
    pub fn of(config_path: &Path) -> Identity {
        Identity {
            name: stem(config_path),
            config: config_path.display().to_string(),
            pid: std::process::id(),
        }
    }
}

/// The name of a checksum form, as `v3-checksum` spells it.
pub fn checksum_name(form: ChecksumForm) -> &'static str {
    match form {
        ChecksumForm::Message => "message",
        ChecksumForm::PseudoHeader => "pseudo-header",
    }
}

fn family_name(ipv6: bool) -> &'static str {
    if ipv6 {
        "ipv6"
    } else {
        "ipv4"
    }
}

/// A tracked item's state word and value.
pub fn item_state(state: ItemState) -> (&'static str, Option<i64>) {
    match state {
        ItemState::Init => ("init", None),
        ItemState::Good => ("good", None),
        ItemState::Bad => ("failing", None),
        ItemState::Up => ("up", None),
        ItemState::Down => ("down", None),
        ItemState::Value(v) => ("value", Some(v)),
    }
}

fn kind_name(kind: TrackKind) -> &'static str {
    kind.as_str()
}

/// Unix time of `at` on the core's clock, given the wall-clock time `wall_now` of `now`.
fn wall(at: Instant, now: Instant, wall_now: f64) -> f64 {
    let back = now.saturating_since(at).as_secs_f64();
    // Milliseconds are all an operator or an alert needs, and keep the JSON short.
    ((wall_now - back) * 1000.0).round() / 1000.0
}

/// The current Unix time in seconds.
pub fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

impl InstanceStatus {
    /// The JSON form; `now`/`wall_now` map the core's clock to Unix time.
    pub fn to_json(&self, now: Instant, wall_now: f64) -> InstanceJson {
        let r = &self.report;
        let s = &r.stats;
        InstanceJson {
            name: r.name.clone(),
            vrid: r.vrid,
            vrrp_version: match r.version {
                Version::V2 => 2,
                Version::V3 => 3,
            },
            family: family_name(self.ipv6).to_string(),
            interface: self.interface.clone(),
            waiting_for: self.waiting.map(|w| w.as_str().to_string()),
            state: r.state.as_str().to_string(),
            drained: r.drained,
            priority: r.priority,
            effective_priority: r.effective_priority,
            tracking: r
                .tracking
                .iter()
                .map(|c| {
                    let (state, value) = item_state(c.state);
                    TrackJson {
                        kind: kind_name(c.kind).to_string(),
                        name: c.name.clone(),
                        weight: c.weight,
                        delta: c.delta,
                        fault: c.fault,
                        state: state.to_string(),
                        value,
                    }
                })
                .collect(),
            master: r.master.map(|(a, p)| MasterJson {
                address: a.to_string(),
                priority: p,
            }),
            vips: r.vips.iter().map(ToString::to_string).collect(),
            last_transition: r.last_transition.as_ref().map(|t| TransitionJson {
                from: t.from.as_str().to_string(),
                to: t.to.as_str().to_string(),
                reason: t.reason.to_string(),
                time: wall(t.at, now, wall_now),
            }),
            counters: CountersJson {
                transitions: s.transitions,
                became_master: s.became_master,
                transitions_to: State::ALL
                    .iter()
                    .zip(self.report.stats.transitions_to)
                    .map(|(st, n)| (st.as_str().to_string(), n))
                    .collect(),
                master_changes: self.report.stats.master_changes,
                adverts_sent: s.adverts_sent,
                adverts_received: s.adverts_received,
                priority_zero_sent: s.priority_zero_sent,
                priority_zero_received: s.priority_zero_received,
                drops: s
                    .drops
                    .iter()
                    .map(|(k, v)| (k.as_str().to_string(), *v))
                    .collect(),
                malformed: s
                    .malformed
                    .iter()
                    .map(|(k, v)| ((*k).to_string(), *v))
                    .collect(),
                address_mismatches: s.address_mismatches,
                other_masters: s.other_masters,
                vip_failures: s.vip_failures,
                vips_lost: s.vips_lost,
            },
            peers: r
                .peers
                .iter()
                .map(|p| PeerJson {
                    address: p.addr.to_string(),
                    priority: p.priority,
                    checksum: checksum_name(p.checksum).to_string(),
                    last_seen: wall(p.last_seen, now, wall_now),
                    adverts: p.adverts,
                })
                .collect(),
        }
    }
}

impl Snapshot {
    /// The JSON form of this daemon; `now` is the core's clock at `wall_now` (Unix time).
    pub fn to_json(
        &self,
        who: &Identity,
        source: &str,
        now: Instant,
        wall_now: f64,
    ) -> DaemonStatus {
        DaemonStatus {
            name: who.name.clone(),
            config: who.config.clone(),
            pid: who.pid,
            vrrp_ha_version: env!("CARGO_PKG_VERSION").to_string(),
            source: source.to_string(),
            updated: wall(self.at, now, wall_now),
            instances: self
                .instances
                .iter()
                .map(|i| i.to_json(now, wall_now))
                .collect(),
            unknown_vrid: self
                .unknown
                .iter()
                .map(|u| UnknownJson {
                    interface: u.interface.clone(),
                    family: family_name(u.family == Family::V6).to_string(),
                    packets: u.packets,
                })
                .collect(),
        }
    }
}

impl StatusReport {
    /// A report of these daemons.
    pub fn of(daemons: Vec<DaemonStatus>) -> StatusReport {
        StatusReport {
            version: JSON_VERSION,
            daemons,
        }
    }

    /// Compact JSON, one line (`"state":"MASTER"` as scripts grep for it).
    pub fn to_json(&self) -> String {
        // Plain data of strings and numbers: serialising cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// The directory of the state files: `$VRRP_HA_STATE_DIR` or [`DEFAULT_DIR`].
pub fn state_dir() -> PathBuf {
    std::env::var_os("VRRP_HA_STATE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_DIR))
}

/// A config file's stem (`/etc/vrrp-ha/VI_1.kdl` -> `VI_1`).
pub fn stem(config_path: &Path) -> String {
    config_path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "vrrp-ha".into())
}

/// Where the state file of the config at `config_path` lives.
pub fn state_file(config_path: &Path) -> PathBuf {
    state_dir().join(format!("{}.json", stem(config_path)))
}

/// Where vrrp-ha 0.1 kept the state file of the config at `config_path`.
pub fn old_state_file(config_path: &Path) -> PathBuf {
    state_dir().join(format!("{}.state", stem(config_path)))
}

/// Where drained instances are remembered across restarts and reboots:
/// `$VRRP_HA_DRAIN_DIR` or [`DRAIN_DIR`].
pub fn drain_file(config_path: &Path) -> PathBuf {
    let dir = std::env::var_os("VRRP_HA_DRAIN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DRAIN_DIR));
    dir.join(format!("{}.drained", stem(config_path)))
}

/// Default directory of the drain files (the unit's StateDirectory).
pub const DRAIN_DIR: &str = "/var/lib/vrrp-ha";

/// The drained instances recorded in `path` (none when it does not exist).
pub fn read_drains(path: &Path) -> io::Result<Vec<String>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// Record the drained instances (the file goes away when there are none).
pub fn write_drains(path: &Path, drained: &[String]) -> io::Result<()> {
    if drained.is_empty() {
        return match std::fs::remove_file(path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        };
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("drained.tmp");
    std::fs::write(&tmp, drained.join("\n") + "\n")?;
    std::fs::rename(&tmp, path)
}

/// Write the state file atomically (temp file + rename), creating its directory.
pub fn write(path: &Path, report: &StatusReport) -> io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, report.to_json() + "\n")?;
    std::fs::rename(&tmp, path)
}

/// Why a state file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// It could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// It is not a status report of a version this program knows.
    #[error("{path} is not a vrrp-ha status file: {why}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
}

/// Read a state file: JSON (`<stem>.json`) or vrrp-ha 0.1's key=value (`<stem>.state`).
pub fn read(path: &Path) -> Result<Vec<DaemonStatus>, ReadError> {
    let text = std::fs::read_to_string(path).map_err(|source| ReadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let format = |why: String| ReadError::Format {
        path: path.to_path_buf(),
        why,
    };
    if path.extension().is_some_and(|e| e == "state") {
        return Ok(vec![parse_v0(&stem(path), &text)]);
    }
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format(e.to_string()))?;
    match value.get("version").and_then(serde_json::Value::as_u64) {
        Some(v) if v == u64::from(JSON_VERSION) => {}
        Some(v) => {
            return Err(format(format!(
                "JSON version {v}, this program reads {JSON_VERSION}"
            )))
        }
        None => return Err(format("no \"version\"".into())),
    }
    let mut report: StatusReport =
        serde_json::from_value(value).map_err(|e| format(e.to_string()))?;
    for d in &mut report.daemons {
        d.source = "state-file".into();
    }
    Ok(report.daemons)
}

/// vrrp-ha 0.1's state file: `instance=VI_1 vrid=51 state=MASTER priority=100 master=192.0.2.1`
/// per line (lines that do not parse are skipped).
fn parse_v0(name: &str, text: &str) -> DaemonStatus {
    let instances = text
        .lines()
        .filter_map(|line| {
            let mut inst = None;
            let mut vrid = None;
            let mut state = None;
            let mut prio = None;
            let mut master = None;
            for kv in line.split_whitespace() {
                let (k, v) = kv.split_once('=')?;
                match k {
                    "instance" => inst = Some(v.to_string()),
                    "vrid" => vrid = v.parse::<u8>().ok(),
                    "state" => state = Some(v.to_string()),
                    "priority" => prio = v.parse::<u8>().ok(),
                    "master" => master = v.parse::<IpAddr>().ok(),
                    _ => {}
                }
            }
            let priority = prio?;
            let state = state?;
            Some(InstanceJson {
                name: inst?,
                vrid: vrid?,
                vrrp_version: 0,
                family: String::new(),
                interface: String::new(),
                waiting_for: None,
                master: master.map(|a| MasterJson {
                    address: a.to_string(),
                    priority: if state == "MASTER" { priority } else { 0 },
                }),
                state,
                drained: false,
                priority,
                effective_priority: priority,
                tracking: Vec::new(),
                vips: Vec::new(),
                last_transition: None,
                counters: CountersJson::default(),
                peers: Vec::new(),
            })
        })
        .collect();
    DaemonStatus {
        name: name.to_string(),
        config: String::new(),
        pid: 0,
        vrrp_ha_version: String::new(),
        source: "state-file-v0".into(),
        updated: 0.0,
        instances,
        unknown_vrid: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_old_key_value_file() {
        let d = parse_v0(
            "VI_1",
            "instance=VI_1 vrid=51 state=MASTER priority=100 master=192.0.2.1\n\
             garbage\ninstance=VI_6 vrid=52 state=BACKUP priority=90 master=-\n",
        );
        assert_eq!(d.instances.len(), 2);
        assert_eq!(d.instances[0].state, "MASTER");
        assert_eq!(
            d.instances[0].master.as_ref().map(|m| m.address.as_str()),
            Some("192.0.2.1")
        );
        assert_eq!(d.instances[1].effective_priority, 90);
        assert!(d.instances[1].master.is_none());
    }

    #[test]
    fn json_spells_state_compactly_and_round_trips() {
        let mut i = parse_v0(
            "x",
            "instance=VI_1 vrid=51 state=MASTER priority=100 master=-\n",
        );
        i.source = "state-file".into();
        let r = StatusReport::of(vec![i]);
        let text = r.to_json();
        assert!(text.contains("\"state\":\"MASTER\""), "{text}");
        assert!(text.starts_with("{\"version\":1,"), "{text}");
        let back: StatusReport = serde_json::from_str(&text).expect("parse");
        assert_eq!(back, r);
    }

    #[test]
    fn wall_clock_of_core_instants() {
        let now = Instant::from_millis(10_000);
        assert_eq!(wall(Instant::from_millis(9_000), now, 1000.0), 999.0);
        assert_eq!(wall(now, now, 1000.5), 1000.5);
    }
}
