//! The validated configuration: what `vrrp-ha.kdl` means once parsed.
//!
//! CONTRACT (pinned; the daemon builds on these names). The config work may add
//! fields; renaming or removing needs a reason.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use crate::core::instance::WitnessPolicy;
use crate::core::packet::{ChecksumMode, Version};

/// The event loop's real-time priority unless `realtime-priority` says otherwise: on a
/// loaded box (4 busy loops on 2 cores) a pair at 10 ms adverts made 340 false
/// failovers in 30 s without it and none with it.
pub const DEFAULT_REALTIME_PRIORITY: u8 = 10;

/// A whole configuration file.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// `router-id`; defaults to the hostname when absent.
    pub router_id: Option<String>,
    /// `instance` nodes, in file order.
    pub instances: Vec<Instance>,
    /// `script` nodes, in file order.
    pub scripts: Vec<Script>,
    /// `sync-group` nodes, in file order.
    pub sync_groups: Vec<SyncGroup>,
    /// `realtime-priority` 0..=99, default [`DEFAULT_REALTIME_PRIORITY`]: the event loop
    /// runs SCHED_RR at this priority; 0 leaves it SCHED_OTHER.
    pub realtime_priority: u8,
    /// `lock-memory`: keep the daemon's memory resident (mlockall).
    pub lock_memory: bool,
    /// `metrics`: serve Prometheus metrics (off without the node).
    pub metrics: Option<Metrics>,
}

/// The `metrics` node: where `/metrics` is served.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Metrics {
    /// `listen=`, default [`Metrics::DEFAULT_LISTEN`].
    pub listen: SocketAddr,
}

impl Metrics {
    /// Loopback only unless the operator says otherwise: the metrics are not secret, but
    /// nothing outside the host needs them without a scraper configured for it.
    pub const DEFAULT_LISTEN: &'static str = "127.0.0.1:9650";
}

/// One `instance` node: a VRRP virtual router.
#[derive(Clone, Debug, PartialEq)]
pub struct Instance {
    /// Instance name (`instance "VI_1"`).
    pub name: String,
    /// `interface`.
    pub interface: String,
    /// `vrid` 1..=255.
    pub vrid: u8,
    /// `priority` 1..=255, default 100.
    pub priority: u8,
    /// `version`, default 3.
    pub version: Version,
    /// `advert-interval`, default 1 s.
    pub advert_interval: Duration,
    /// `preempt`, default true.
    pub preempt: bool,
    /// `preempt-delay`, default 0.
    pub preempt_delay: Duration,
    /// `accept` (VRRPv3 accept mode), default true.
    pub accept: bool,
    /// `authentication` (v2 PASS), at most 8 bytes.
    pub authentication: Option<String>,
    /// `virtual-ip` nodes.
    pub virtual_ips: Vec<VirtualIp>,
    /// `unicast-source`.
    pub unicast_source: Option<IpAddr>,
    /// `unicast-peer` nodes.
    pub unicast_peers: Vec<IpAddr>,
    /// `track-interface` nodes.
    pub track_interfaces: Vec<TrackInterface>,
    /// `track-script` nodes.
    pub track_scripts: Vec<TrackScript>,
    /// `track-file` nodes.
    pub track_files: Vec<TrackFile>,
    /// `garp-repeat`, default 5.
    pub garp_repeat: u32,
    /// `garp-refresh`, default 0 (off).
    pub garp_refresh: Duration,
    /// `use-vmac`, default false.
    pub use_vmac: bool,
    /// `v3-checksum`, default pseudo-header.
    pub v3_checksum: ChecksumMode,
    /// `notify` script path.
    pub notify: Option<PathBuf>,
    /// `on-master`, `on-backup`, `on-fault`, `on-stop` action lists.
    pub hooks: Hooks,
    /// `witness` nodes and their settings; `None` without any `witness`.
    pub witness: Option<Witness>,
}

impl Instance {
    /// The address family of this instance's VIPs (all VIPs share one family).
    pub fn is_ipv6(&self) -> bool {
        self.virtual_ips.first().is_some_and(|v| v.addr.is_ipv6())
    }

    /// The VRRPv2 PASS authentication field: the password zero-padded to 8 bytes; `None`
    /// without `authentication` or for VRRPv3 (validation guarantees <= 8 bytes).
    pub fn auth_bytes(&self) -> Option<[u8; 8]> {
        if self.version != Version::V2 {
            return None;
        }
        let pass = self.authentication.as_ref()?.as_bytes();
        let mut out = [0u8; 8];
        let n = pass.len().min(8);
        out[..n].copy_from_slice(&pass[..n]);
        Some(out)
    }

    /// `advert-interval` in centiseconds, as VRRPv3 carries it (saturating; validation keeps
    /// v3 intervals within 1..=4095 and v2 within 100..=25500).
    pub fn interval_cs(&self) -> u16 {
        u16::try_from(self.advert_interval.as_millis() / 10).unwrap_or(u16::MAX)
    }
}

/// The witnesses a BACKUP asks before it takes over from a silent master.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Witness {
    /// `witness "ADDR[:PORT]"` nodes (port 5112 when omitted).
    pub addrs: Vec<SocketAddr>,
    /// `witness-policy`, default available.
    pub policy: WitnessPolicy,
    /// `witness-timeout`, default [`WITNESS_TIMEOUT`].
    pub timeout: Duration,
    /// `witness-key-file` or `witness-key-credential`.
    pub key: WitnessKey,
}

/// How long a BACKUP waits for its witnesses unless `witness-timeout` says otherwise.
pub const WITNESS_TIMEOUT: Duration = Duration::from_millis(5);

/// Where the witness key comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WitnessKey {
    /// `witness-key-file "/PATH"`.
    File(PathBuf),
    /// `witness-key-credential "NAME"`: `$CREDENTIALS_DIRECTORY/NAME` (systemd's `LoadCredential=`).
    Credential(String),
}

/// One `virtual-ip "ADDR/PREFIX" dev=".." label=".."`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VirtualIp {
    /// The address.
    pub addr: IpAddr,
    /// Prefix length (default /32 or /128 when omitted).
    pub prefix: u8,
    /// `dev=`: interface to put it on, default the instance interface.
    pub dev: Option<String>,
    /// `label=`: IPv4 address label.
    pub label: Option<String>,
}

/// `track-interface "NAME" weight=N`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrackInterface {
    /// Interface name.
    pub name: String,
    /// Weight -254..=254; 0 = down means FAULT.
    pub weight: i32,
}

/// `track-script "NAME" weight=N`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrackScript {
    /// Name of a `script` node.
    pub name: String,
    /// Overrides the script's own weight when set.
    pub weight: Option<i32>,
}

/// `track-file "PATH" weight=N`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrackFile {
    /// File holding an integer.
    pub path: PathBuf,
    /// Multiplier, default 1.
    pub weight: i32,
}

/// Transition action lists.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Hooks {
    /// `on-master`.
    pub on_master: Vec<HookAction>,
    /// `on-backup`.
    pub on_backup: Vec<HookAction>,
    /// `on-fault`.
    pub on_fault: Vec<HookAction>,
    /// `on-stop`.
    pub on_stop: Vec<HookAction>,
}

/// One action inside `on-master { ... }` and friends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HookAction {
    /// `start "unit"`.
    Start(String),
    /// `stop "unit"`.
    Stop(String),
    /// `restart "unit"`.
    Restart(String),
    /// `reload "unit"`.
    Reload(String),
    /// `exec "argv0" "arg"...`: no shell.
    Exec(Vec<String>),
}

/// One `script` node: a tracked health check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Script {
    /// Script name.
    pub name: String,
    /// `exec` argv.
    pub exec: Vec<String>,
    /// `interval`, default 1 s.
    pub interval: Duration,
    /// `timeout`, default = interval.
    pub timeout: Duration,
    /// `rise`, default 1.
    pub rise: u32,
    /// `fall`, default 1.
    pub fall: u32,
    /// `weight` -254..=254, default 0.
    pub weight: i32,
    /// `user` to run as.
    pub user: Option<String>,
}

/// One `sync-group` node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncGroup {
    /// Group name.
    pub name: String,
    /// Member instance names.
    pub instances: Vec<String>,
    /// `notify` script path.
    pub notify: Option<PathBuf>,
    /// Group-level action lists.
    pub hooks: Hooks,
}
