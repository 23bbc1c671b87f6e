//! The D-Bus API on the system bus (`DBUS_SYSTEM_BUS_ADDRESS` when set).
//!
//! Each daemon owns `io.vrrpha.Daemon1.<NAME>` (NAME: its configuration file's stem,
//! sanitised to `[A-Za-z0-9_]`) and serves:
//! - `/io/vrrpha/Daemon1`: `io.vrrpha.Daemon1` (config path, version, pid, the instance
//!   objects, `Status()` returning the JSON of vrrp-ha(8)) and
//!   `org.freedesktop.DBus.ObjectManager` (every instance's properties in one call);
//! - `/io/vrrpha/Daemon1/instance/<name>`: `io.vrrpha.Instance1` per instance, with the
//!   status properties (`PropertiesChanged` on every change of those that signal it),
//!   the `StateChanged(old, new, reason)` signal and the methods `Drain(force)` and
//!   `Resume()`.
//!
//! The server is a task of its own: property updates come from the snapshots the engine
//! publishes, methods and live counters are [`Request`](super::api::Request)s to the
//! loop, so nothing here ever blocks the loop. Without a bus the daemon runs without the API.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use tokio::sync::watch;
use tracing::{debug, info, warn};
use zbus::object_server::SignalEmitter;
use zbus::{interface, Connection, OwnedObjectPath};

use super::api::Loop;
use super::status::{InstanceJson, Snapshot, StatusReport};

/// The prefix of every daemon's well-known name.
pub const NAME_PREFIX: &str = "io.vrrpha.Daemon1";
/// The daemon object's path.
pub const PATH: &str = "/io/vrrpha/Daemon1";
/// The daemon object's interface.
pub const DAEMON_INTERFACE: &str = "io.vrrpha.Daemon1";
/// The instance objects' interface.
pub const INSTANCE_INTERFACE: &str = "io.vrrpha.Instance1";

/// How long connecting to the bus and taking the name may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The well-known name of the daemon running the config with this stem:
/// `io.vrrpha.Daemon1.VI_1` (other characters become `_`; a leading digit gets a `_`).
pub fn bus_name(stem: &str) -> String {
    let mut element: String = stem
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if element.is_empty() || element.starts_with(|c: char| c.is_ascii_digit()) {
        element.insert(0, '_');
    }
    format!("{NAME_PREFIX}.{element}")
}

/// The object path of an instance: `/io/vrrpha/Daemon1/instance/VI_1` (`-` and `.`,
/// which paths cannot hold, become `_2d` and `_2e`).
pub fn instance_path(name: &str) -> String {
    let mut path = format!("{PATH}/instance/");
    for c in name.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            path.push(c);
        } else {
            let _ = write!(path, "_{:02x}", u32::from(c));
        }
    }
    path
}

/// Errors the methods return.
#[derive(Debug, zbus::DBusError)]
#[zbus(prefix = "io.vrrpha.Error")]
pub enum ApiError {
    /// A transport error.
    #[zbus(error)]
    ZBus(zbus::Error),
    /// The daemon refused, and says why (`io.vrrpha.Error.Refused`).
    Refused(String),
    /// The daemon is stopping (`io.vrrpha.Error.Stopping`).
    Stopping(String),
}

fn refused(why: String) -> ApiError {
    if why == super::api::STOPPING {
        ApiError::Stopping(why)
    } else {
        ApiError::Refused(why)
    }
}

/// `/io/vrrpha/Daemon1`.
struct DaemonObject {
    lp: Loop,
    instances: Vec<OwnedObjectPath>,
}

#[interface(name = "io.vrrpha.Daemon1")]
impl DaemonObject {
    /// The configuration file.
    #[zbus(property(emits_changed_signal = "const"))]
    fn config_path(&self) -> String {
        self.lp.identity().config.clone()
    }

    /// The vrrp-ha version.
    #[zbus(property(emits_changed_signal = "const"))]
    fn version(&self) -> String {
        env!("CARGO_PKG_VERSION").to_string()
    }

    /// The daemon's process id.
    #[zbus(property(emits_changed_signal = "const"))]
    fn pid(&self) -> u32 {
        self.lp.identity().pid
    }

    /// The instance objects, in configuration order.
    #[zbus(property)]
    fn instances(&self) -> Vec<OwnedObjectPath> {
        self.instances.clone()
    }

    /// The status of this daemon as `vrrp-ha status --json` prints it (live counters).
    async fn status(&self) -> Result<String, ApiError> {
        let status = self.lp.fresh().await.map_err(ApiError::Stopping)?;
        Ok(StatusReport::of(vec![(*status).clone()]).to_json())
    }
}

/// `/io/vrrpha/Daemon1/instance/<name>`.
struct InstanceObject {
    s: InstanceJson,
    lp: Loop,
}

impl InstanceObject {
    /// The live JSON of this instance (for the counters, which do not signal).
    async fn live(&self) -> zbus::fdo::Result<InstanceJson> {
        let status = self.lp.fresh().await.map_err(zbus::fdo::Error::Failed)?;
        status
            .instances
            .iter()
            .find(|i| i.name == self.s.name)
            .cloned()
            .ok_or_else(|| zbus::fdo::Error::UnknownObject(self.s.name.clone()))
    }
}

#[interface(name = "io.vrrpha.Instance1")]
impl InstanceObject {
    /// Instance name.
    #[zbus(property(emits_changed_signal = "const"))]
    fn name(&self) -> String {
        self.s.name.clone()
    }

    /// Virtual router id.
    #[zbus(property)]
    fn vrid(&self) -> u8 {
        self.s.vrid
    }

    /// VRRP version, 2 or 3.
    #[zbus(property)]
    fn vrrp_version(&self) -> u8 {
        self.s.vrrp_version
    }

    /// `ipv4` or `ipv6`.
    #[zbus(property)]
    fn family(&self) -> String {
        self.s.family.clone()
    }

    /// The configured interface.
    #[zbus(property)]
    fn interface(&self) -> String {
        self.s.interface.clone()
    }

    /// Empty when attached to its interface, else `interface`, `vmac` or `address`.
    #[zbus(property)]
    fn waiting_for(&self) -> String {
        self.s.waiting_for.clone().unwrap_or_default()
    }

    /// `INIT`, `BACKUP`, `MASTER` or `FAULT`.
    #[zbus(property, name = "State")]
    fn current_state(&self) -> String {
        self.s.state.clone()
    }

    /// Drained by the operator.
    #[zbus(property)]
    fn drained(&self) -> bool {
        self.s.drained
    }

    /// Configured priority.
    #[zbus(property)]
    fn priority(&self) -> u8 {
        self.s.priority
    }

    /// Priority in effect.
    #[zbus(property)]
    fn effective_priority(&self) -> u8 {
        self.s.effective_priority
    }

    /// Each tracked item: kind, name, weight, delta, fault, state (a file's value).
    #[zbus(property)]
    fn tracking(&self) -> Vec<(String, String, i32, i32, bool, String)> {
        self.s
            .tracking
            .iter()
            .map(|t| {
                let state = t.value.map_or_else(|| t.state.clone(), |v| v.to_string());
                (
                    t.kind.clone(),
                    t.name.clone(),
                    t.weight,
                    t.delta,
                    t.fault,
                    state,
                )
            })
            .collect()
    }

    /// The master's address (empty when unknown).
    #[zbus(property)]
    fn master_address(&self) -> String {
        self.s
            .master
            .as_ref()
            .map(|m| m.address.clone())
            .unwrap_or_default()
    }

    /// The master's priority (0 when unknown).
    #[zbus(property)]
    fn master_priority(&self) -> u8 {
        self.s.master.as_ref().map_or(0, |m| m.priority)
    }

    /// VIPs held, `ADDRESS/PREFIX`.
    #[zbus(property)]
    fn vips(&self) -> Vec<String> {
        self.s.vips.clone()
    }

    /// The last transition: from, to, reason, Unix time (all empty and 0 before the first).
    #[zbus(property)]
    fn last_transition(&self) -> (String, String, String, f64) {
        self.s.last_transition.as_ref().map_or_else(
            || (String::new(), String::new(), String::new(), 0.0),
            |t| (t.from.clone(), t.to.clone(), t.reason.clone(), t.time),
        )
    }

    /// State transitions since the start.
    #[zbus(property)]
    fn transitions(&self) -> u64 {
        self.s.counters.transitions
    }

    /// Adverts sent (read live; no change signal).
    #[zbus(property(emits_changed_signal = "false"))]
    async fn adverts_sent(&self) -> zbus::fdo::Result<u64> {
        Ok(self.live().await?.counters.adverts_sent)
    }

    /// Adverts received (read live; no change signal).
    #[zbus(property(emits_changed_signal = "false"))]
    async fn adverts_received(&self) -> zbus::fdo::Result<u64> {
        Ok(self.live().await?.counters.adverts_received)
    }

    /// Dropped adverts by reason (read live; no change signal).
    #[zbus(property(emits_changed_signal = "false"))]
    async fn drops(&self) -> zbus::fdo::Result<BTreeMap<String, u64>> {
        Ok(self.live().await?.counters.drops)
    }

    /// Undecodable packets by reason (read live; no change signal).
    #[zbus(property(emits_changed_signal = "false"))]
    async fn malformed(&self) -> zbus::fdo::Result<BTreeMap<String, u64>> {
        Ok(self.live().await?.counters.malformed)
    }

    /// Adverts of another MASTER while MASTER (read live; no change signal).
    #[zbus(property(emits_changed_signal = "false"))]
    async fn other_masters(&self) -> zbus::fdo::Result<u64> {
        Ok(self.live().await?.counters.other_masters)
    }

    /// VIPs that could not be installed (read live; no change signal).
    #[zbus(property(emits_changed_signal = "false"))]
    async fn vip_failures(&self) -> zbus::fdo::Result<u64> {
        Ok(self.live().await?.counters.vip_failures)
    }

    /// Routers heard: address, priority, checksum form, last seen (Unix time), adverts
    /// (read live; no change signal).
    #[zbus(property(emits_changed_signal = "false"))]
    async fn peers(&self) -> zbus::fdo::Result<Vec<(String, u8, String, f64, u64)>> {
        Ok(self
            .live()
            .await?
            .peers
            .into_iter()
            .map(|p| (p.address, p.priority, p.checksum, p.last_seen, p.adverts))
            .collect())
    }

    /// Hand over and stay BACKUP until `Resume`; without `force`, a MASTER that never
    /// heard another router returns once one took over (or refuses), a BACKUP refuses.
    async fn drain(&self, force: bool) -> Result<(), ApiError> {
        self.lp.drain(&self.s.name, force).await.map_err(refused)
    }

    /// End a drain: electable again.
    async fn resume(&self) -> Result<(), ApiError> {
        self.lp.resume(&self.s.name).await.map_err(refused)
    }

    /// The instance changed state (the last change, when several came in quick succession).
    #[zbus(signal, name = "StateChanged")]
    async fn transitioned(
        emitter: &SignalEmitter<'_>,
        old: &str,
        new: &str,
        reason: &str,
    ) -> zbus::Result<()>;
}

/// Connect, serve the daemon object and the object manager, take the name.
async fn connect(lp: &Loop) -> zbus::Result<Connection> {
    let daemon = DaemonObject {
        lp: lp.clone(),
        instances: Vec::new(),
    };
    zbus::connection::Builder::system()
        .serve_at(PATH, daemon)
        .serve_at(PATH, zbus::fdo::ObjectManager)
        .name(bus_name(&lp.identity().name))
        .build()
        .await
}

/// Serve the API until the daemon stops; returns at once without a bus.
pub(super) async fn serve(lp: Loop, mut published: watch::Receiver<Option<Snapshot>>) {
    let name = bus_name(&lp.identity().name);
    let conn = match tokio::time::timeout(CONNECT_TIMEOUT, connect(&lp)).await {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => {
            warn!("no D-Bus API: cannot own {name} on the system bus: {e}");
            return;
        }
        Err(_) => {
            warn!("no D-Bus API: the system bus did not answer within {CONNECT_TIMEOUT:?}");
            return;
        }
    };
    info!(dbus_name = %name, "D-Bus API on the system bus");
    let mut shown: BTreeMap<String, InstanceJson> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    loop {
        let snapshot = published.borrow_and_update().clone();
        if let Some(s) = snapshot {
            if let Err(e) = sync(&conn, &lp, &mut shown, &mut order, &s).await {
                debug!("D-Bus update: {e}");
            }
        }
        if published.changed().await.is_err() {
            return;
        }
    }
}

/// Bring the objects in line with a snapshot: add, remove, update and signal.
async fn sync(
    conn: &Connection,
    lp: &Loop,
    shown: &mut BTreeMap<String, InstanceJson>,
    order: &mut Vec<String>,
    snapshot: &Snapshot,
) -> zbus::Result<()> {
    let status = lp.to_json(snapshot, "dbus");
    let server = conn.object_server();
    let now: Vec<String> = status.instances.iter().map(|i| i.name.clone()).collect();
    for gone in order.iter().filter(|n| !now.contains(n)) {
        server
            .remove::<InstanceObject, _>(instance_path(gone).as_str())
            .await?;
        shown.remove(gone);
    }
    for inst in status.instances {
        let path = instance_path(&inst.name);
        let Some(old) = shown.get(&inst.name).cloned() else {
            shown.insert(inst.name.clone(), inst.clone());
            let obj = InstanceObject {
                s: inst,
                lp: lp.clone(),
            };
            server.at(path.as_str(), obj).await?;
            continue;
        };
        if old == inst {
            continue;
        }
        shown.insert(inst.name.clone(), inst.clone());
        let iface = server.interface::<_, InstanceObject>(path.as_str()).await?;
        let e = iface.signal_emitter();
        let obj = {
            let mut guard = iface.get_mut().await;
            guard.s = inst.clone();
            drop(guard);
            iface.get().await
        };
        let new = &inst;
        if old.vrid != new.vrid {
            obj.vrid_changed(e).await?;
        }
        if old.vrrp_version != new.vrrp_version {
            obj.vrrp_version_changed(e).await?;
        }
        if old.family != new.family {
            obj.family_changed(e).await?;
        }
        if old.interface != new.interface {
            obj.interface_changed(e).await?;
        }
        if old.waiting_for != new.waiting_for {
            obj.waiting_for_changed(e).await?;
        }
        if old.state != new.state {
            obj.state_changed(e).await?;
        }
        if old.drained != new.drained {
            obj.drained_changed(e).await?;
        }
        if old.priority != new.priority {
            obj.priority_changed(e).await?;
        }
        if old.effective_priority != new.effective_priority {
            obj.effective_priority_changed(e).await?;
        }
        if old.tracking != new.tracking {
            obj.tracking_changed(e).await?;
        }
        if old.master != new.master {
            obj.master_address_changed(e).await?;
            obj.master_priority_changed(e).await?;
        }
        if old.vips != new.vips {
            obj.vips_changed(e).await?;
        }
        if old.last_transition != new.last_transition {
            obj.last_transition_changed(e).await?;
        }
        if old.counters.transitions != new.counters.transitions {
            obj.transitions_changed(e).await?;
            if let Some(t) = &new.last_transition {
                InstanceObject::transitioned(e, &t.from, &t.to, &t.reason).await?;
            }
        }
    }
    if *order != now {
        *order = now;
        let paths: Vec<OwnedObjectPath> = order
            .iter()
            .filter_map(|n| OwnedObjectPath::try_from(instance_path(n)).ok())
            .collect();
        let iface = server.interface::<_, DaemonObject>(PATH).await?;
        iface.get_mut().await.instances = paths;
        iface
            .get()
            .await
            .instances_changed(iface.signal_emitter())
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_paths_are_valid_dbus() {
        assert_eq!(bus_name("VI_1"), "io.vrrpha.Daemon1.VI_1");
        assert_eq!(bus_name("lb-1.prod"), "io.vrrpha.Daemon1.lb_1_prod");
        assert_eq!(bus_name("1st"), "io.vrrpha.Daemon1._1st");
        assert_eq!(bus_name(""), "io.vrrpha.Daemon1._");
        for stem in ["VI_1", "lb-1.prod", "1st", ""] {
            assert!(zbus::names::WellKnownName::try_from(bus_name(stem)).is_ok());
        }
        assert_eq!(instance_path("VI_1"), "/io/vrrpha/Daemon1/instance/VI_1");
        assert_eq!(
            instance_path("web-1.a"),
            "/io/vrrpha/Daemon1/instance/web_2d1_2ea"
        );
        assert!(zbus::ObjectPath::try_from(instance_path("web-1.a")).is_ok());
    }
}
