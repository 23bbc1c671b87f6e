//! Unit actions (`start`/`stop`/`restart`/`reload "unit"`) as jobs of systemd's Manager on D-Bus.
//!
//! Flow for one action: (re)use a bus connection on which `Subscribe` was called once, open the
//! `JobRemoved` signal stream, enqueue the job with mode `"replace"`, then wait for the
//! `JobRemoved` carrying our job path, bounded by a timeout. The stream is opened before the job
//! is enqueued because systemd may emit `JobRemoved` before its method reply reaches us.

use std::fmt;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::Mutex;
use zbus::{proxy, Connection, OwnedObjectPath};

/// Default bound on waiting for a job's `JobRemoved` (and on connecting to the bus).
pub const DEFAULT_JOB_TIMEOUT: Duration = Duration::from_secs(30);

/// The job mode: a conflicting queued job (say a `start` from a stale MASTER list) is replaced.
const JOB_MODE: &str = "replace";

/// The subset of `org.freedesktop.systemd1.Manager` used by transition actions.
#[proxy(
    interface = "org.freedesktop.systemd1.Manager",
    default_service = "org.freedesktop.systemd1",
    default_path = "/org/freedesktop/systemd1"
)]
pub trait Manager {
    /// Ask systemd to emit job and unit signals to this client.
    fn subscribe(&self) -> zbus::Result<()>;
    /// Enqueue a start job; returns the job object path.
    fn start_unit(&self, name: &str, mode: &str) -> zbus::Result<OwnedObjectPath>;
    /// Enqueue a stop job; returns the job object path.
    fn stop_unit(&self, name: &str, mode: &str) -> zbus::Result<OwnedObjectPath>;
    /// Enqueue a restart job; returns the job object path.
    fn restart_unit(&self, name: &str, mode: &str) -> zbus::Result<OwnedObjectPath>;
    /// Enqueue a reload job; returns the job object path.
    fn reload_unit(&self, name: &str, mode: &str) -> zbus::Result<OwnedObjectPath>;
    /// Load a unit (a stub with LoadState "not-found" when there is none); returns its path.
    fn load_unit(&self, name: &str) -> zbus::Result<OwnedObjectPath>;
    /// Every unit file systemd knows: (path, enablement state).
    fn list_unit_files(&self) -> zbus::Result<Vec<(String, String)>>;
    /// A job finished; `result` is "done", "canceled", "timeout", "failed", "dependency" or "skipped".
    #[zbus(signal)]
    fn job_removed(
        &self,
        id: u32,
        job: zbus::ObjectPath<'_>,
        unit: &str,
        result: &str,
    ) -> zbus::Result<()>;
}

/// The part of `org.freedesktop.systemd1.Unit` that says whether systemd knows a unit.
#[proxy(
    interface = "org.freedesktop.systemd1.Unit",
    default_service = "org.freedesktop.systemd1"
)]
pub trait Unit {
    /// "loaded", "not-found", "masked", "bad-setting", "error", ...
    #[zbus(property)]
    fn load_state(&self) -> zbus::Result<String>;
}

/// What to do with a unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnitVerb {
    /// `StartUnit`.
    Start,
    /// `StopUnit`.
    Stop,
    /// `RestartUnit`.
    Restart,
    /// `ReloadUnit`.
    Reload,
}

impl UnitVerb {
    /// The config keyword (`start`, `stop`, `restart`, `reload`).
    pub fn as_str(self) -> &'static str {
        match self {
            UnitVerb::Start => "start",
            UnitVerb::Stop => "stop",
            UnitVerb::Restart => "restart",
            UnitVerb::Reload => "reload",
        }
    }
}

impl fmt::Display for UnitVerb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a job ended, as far as we waited.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobOutcome {
    /// `JobRemoved` with result "done".
    Done,
    /// `JobRemoved` with any other result ("failed", "canceled", "dependency", ...).
    Failed(String),
    /// No `JobRemoved` for our job within the timeout; the job may still be queued or running.
    Timeout,
}

/// A unit action that could not be carried out (no outcome from systemd at all).
#[derive(Debug, thiserror::Error)]
pub enum SystemdError {
    /// The bus could not be reached or `Subscribe` failed.
    #[error("cannot reach systemd on the {bus}: {reason}")]
    Connect {
        /// Which bus ("system bus" or the test address).
        bus: String,
        /// Why.
        reason: String,
    },
    /// systemd refused to enqueue the job (unknown unit, not loaded, access denied, ...).
    #[error("systemd refused to {verb} {unit}: {source}")]
    Enqueue {
        /// The verb.
        verb: UnitVerb,
        /// The unit.
        unit: String,
        /// The D-Bus error.
        #[source]
        source: zbus::Error,
    },
    /// The signal stream ended before our job was removed (the bus connection dropped).
    #[error("lost the bus connection while waiting for {verb} {unit}")]
    StreamEnded {
        /// The verb.
        verb: UnitVerb,
        /// The unit.
        unit: String,
    },
}

/// A client of systemd's Manager that keeps one subscribed connection and reconnects on failure.
pub struct SystemdClient {
    address: Option<String>,
    job_timeout: Duration,
    conn: Mutex<Option<Connection>>,
}

impl SystemdClient {
    /// A client for `address` (a D-Bus address such as `unix:path=/run/x`), or the system bus
    /// when `None` (zbus honours `DBUS_SYSTEM_BUS_ADDRESS` there); nothing connects until first use.
    pub fn new(address: Option<String>, job_timeout: Duration) -> Self {
        SystemdClient {
            address,
            job_timeout,
            conn: Mutex::new(None),
        }
    }

    fn bus_name(&self) -> String {
        match &self.address {
            None => "system bus".to_string(),
            Some(a) => format!("bus {a}"),
        }
    }

    /// A subscribed connection and whether it is new: the cached one, or connect + `Subscribe`.
    async fn connection(&self) -> Result<(Connection, bool), SystemdError> {
        // Held across the connect so concurrent first actions share one connection.
        let mut slot = self.conn.lock().await;
        if let Some(c) = slot.as_ref() {
            return Ok((c.clone(), false));
        }
        let connect = async {
            let builder = match &self.address {
                Some(a) => zbus::connection::Builder::address(a.as_str()),
                None => zbus::connection::Builder::system(),
            };
            let conn = builder.build().await?;
            manager(&conn).await?.subscribe().await?;
            Ok::<_, zbus::Error>(conn)
        };
        let conn = match tokio::time::timeout(self.job_timeout, connect).await {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => {
                return Err(SystemdError::Connect {
                    bus: self.bus_name(),
                    reason: e.to_string(),
                })
            }
            Err(_) => {
                return Err(SystemdError::Connect {
                    bus: self.bus_name(),
                    reason: format!("no answer within {:?}", self.job_timeout),
                })
            }
        };
        *slot = Some(conn.clone());
        Ok((conn, true))
    }

    /// Forget `conn` if it is still the cached one, so the next action reconnects and re-subscribes.
    async fn drop_connection(&self, conn: &Connection) {
        let mut slot = self.conn.lock().await;
        if slot.as_ref().map(Connection::unique_name) == Some(conn.unique_name()) {
            *slot = None;
        }
    }

    /// Enqueue `verb unit` with mode "replace" and wait for its result (bounded by the job timeout).
    ///
    /// A cached connection found dead before the job was enqueued (the bus restarted) is
    /// replaced once and the action retried; after enqueueing nothing is retried, so a job is
    /// never enqueued twice knowingly.
    pub async fn run(&self, verb: UnitVerb, unit: &str) -> Result<JobOutcome, SystemdError> {
        let (conn, fresh) = self.connection().await?;
        let result = self.run_on(&conn, verb, unit).await;
        if !broken(&result) {
            return result;
        }
        self.drop_connection(&conn).await;
        // StreamEnded: the job was enqueued already.
        if fresh || matches!(result, Err(SystemdError::StreamEnded { .. })) {
            return result;
        }
        tracing::debug!(unit, verb = %verb, "bus connection lost, reconnecting");
        let (conn, _) = self.connection().await?;
        let result = self.run_on(&conn, verb, unit).await;
        if broken(&result) {
            self.drop_connection(&conn).await;
        }
        result
    }

    async fn run_on(
        &self,
        conn: &Connection,
        verb: UnitVerb,
        unit: &str,
    ) -> Result<JobOutcome, SystemdError> {
        let connect_err = |e: zbus::Error| SystemdError::Connect {
            bus: self.bus_name(),
            reason: e.to_string(),
        };
        let proxy = manager(conn).await.map_err(connect_err)?;
        let mut removed = proxy.receive_job_removed().await.map_err(connect_err)?;
        let deadline = tokio::time::Instant::now() + self.job_timeout;

        let enqueue = async {
            match verb {
                UnitVerb::Start => proxy.start_unit(unit, JOB_MODE).await,
                UnitVerb::Stop => proxy.stop_unit(unit, JOB_MODE).await,
                UnitVerb::Restart => proxy.restart_unit(unit, JOB_MODE).await,
                UnitVerb::Reload => proxy.reload_unit(unit, JOB_MODE).await,
            }
        };
        let job = match tokio::time::timeout_at(deadline, enqueue).await {
            Err(_) => return Ok(JobOutcome::Timeout),
            Ok(Err(source)) => {
                return Err(SystemdError::Enqueue {
                    verb,
                    unit: unit.to_string(),
                    source,
                })
            }
            Ok(Ok(job)) => job,
        };
        tracing::debug!(unit, verb = %verb, job = %job.as_str(), "job enqueued");

        let wait = async {
            while let Some(signal) = removed.next().await {
                // A malformed signal is someone else's problem; keep waiting for ours.
                let Ok(args) = signal.args() else { continue };
                if args.job().as_str() == job.as_str() {
                    return Some(args.result().to_string());
                }
            }
            None
        };
        match tokio::time::timeout_at(deadline, wait).await {
            Err(_) => Ok(JobOutcome::Timeout),
            Ok(None) => Err(SystemdError::StreamEnded {
                verb,
                unit: unit.to_string(),
            }),
            Ok(Some(result)) if result == "done" => Ok(JobOutcome::Done),
            Ok(Some(result)) => Ok(JobOutcome::Failed(result)),
        }
    }

    /// [`run`](Self::run), logging the outcome with the unit name; returns it for the caller too.
    pub async fn run_logged(
        &self,
        instance: &str,
        verb: UnitVerb,
        unit: &str,
    ) -> Result<JobOutcome, SystemdError> {
        let started = std::time::Instant::now();
        let outcome = self.run(verb, unit).await;
        let ms = started.elapsed().as_millis() as u64;
        match &outcome {
            Ok(JobOutcome::Done) => {
                tracing::info!(VRRP_INSTANCE = instance, unit, verb = %verb, ms, "{verb} {unit}: done")
            }
            Ok(JobOutcome::Failed(result)) => tracing::warn!(
                VRRP_INSTANCE = instance, unit, verb = %verb, ms, result = %result,
                "{verb} {unit}: job failed (result {result})"
            ),
            Ok(JobOutcome::Timeout) => tracing::warn!(
                VRRP_INSTANCE = instance, unit, verb = %verb, ms,
                "{verb} {unit}: timeout, no job result within {:?}", self.job_timeout
            ),
            Err(e) => tracing::error!(
                VRRP_INSTANCE = instance, unit, verb = %verb,
                "{verb} {unit} not done: {e}"
            ),
        }
        outcome
    }
}

/// A Manager proxy that never fetches properties: none are used, and systemd has hundreds.
async fn manager(conn: &Connection) -> zbus::Result<ManagerProxy<'static>> {
    ManagerProxy::builder(conn)
        .cache_properties(zbus::proxy::CacheProperties::No)
        .build()
        .await
}

/// Whether an action failed because the connection is unusable (rather than systemd saying no).
fn broken(result: &Result<JobOutcome, SystemdError>) -> bool {
    match result {
        Err(SystemdError::Connect { .. }) | Err(SystemdError::StreamEnded { .. }) => true,
        // An error reply from the bus or systemd means the connection works.
        Err(SystemdError::Enqueue { source, .. }) => {
            !matches!(source, zbus::Error::MethodError(..) | zbus::Error::FDO(_))
        }
        Ok(_) => false,
    }
}

/// What systemd says about a unit name an action uses (for `vrrp-ha check`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UnitLookup {
    /// systemd has the unit.
    Loaded,
    /// No such unit; the closest unit file name, when one is a likely typo.
    NotFound {
        /// The unit file name closest to the unknown one.
        closest: Option<String>,
    },
    /// The unit is masked: starting it fails.
    Masked,
    /// Any other LoadState ("bad-setting", "error", ...).
    Broken(String),
    /// systemd refused the name itself (an invalid unit name).
    Refused(String),
}

/// Asks systemd's Manager how it knows each of `units` (`LoadUnit`, then the unit's
/// `LoadState`), on the bus at `address` or the system bus (`DBUS_SYSTEM_BUS_ADDRESS`
/// honoured). `None` when no bus is reachable, systemd is not on it, or the answers do not
/// all come within `timeout`: the caller then says nothing rather than guess.
pub async fn lookup_units(
    address: Option<&str>,
    units: &[String],
    timeout: Duration,
) -> Option<Vec<(String, UnitLookup)>> {
    let ask = async {
        let builder = match address {
            Some(a) => zbus::connection::Builder::address(a),
            None => zbus::connection::Builder::system(),
        };
        let conn = builder.build().await?;
        let manager = manager(&conn).await?;
        let mut found = Vec::new();
        let mut unit_files: Option<Vec<String>> = None;
        for unit in units {
            let state = match manager.load_unit(unit).await {
                Ok(path) => {
                    UnitProxy::builder(&conn)
                        .path(path)
                        .cache_properties(zbus::proxy::CacheProperties::No)
                        .build()
                        .await?
                        .load_state()
                        .await?
                }
                Err(e) => match refusal(&e) {
                    Some(why) => {
                        found.push((unit.clone(), UnitLookup::Refused(why)));
                        continue;
                    }
                    None => return Err(e),
                },
            };
            let lookup = match state.as_str() {
                "loaded" => UnitLookup::Loaded,
                "not-found" => {
                    if unit_files.is_none() {
                        // Only for suggestions: an error here must not hide the finding.
                        let files = manager.list_unit_files().await.unwrap_or_default();
                        unit_files = Some(
                            files
                                .into_iter()
                                .filter_map(|(p, _)| file_name(&p))
                                .collect(),
                        );
                    }
                    UnitLookup::NotFound {
                        closest: closest_unit(unit, unit_files.as_deref().unwrap_or_default()),
                    }
                }
                "masked" => UnitLookup::Masked,
                other => UnitLookup::Broken(other.to_string()),
            };
            found.push((unit.clone(), lookup));
        }
        Ok::<_, zbus::Error>(found)
    };
    match tokio::time::timeout(timeout, ask).await {
        Ok(Ok(found)) => Some(found),
        Ok(Err(e)) => {
            tracing::debug!("unit names not checked: {e}");
            None
        }
        Err(_) => {
            tracing::debug!("unit names not checked: no answer within {timeout:?}");
            None
        }
    }
}

/// systemd's reason when a `LoadUnit` error is about the name; `None` when the error means
/// systemd cannot be asked (not on the bus, no reply, access denied).
fn refusal(e: &zbus::Error) -> Option<String> {
    match e {
        zbus::Error::MethodError(_, detail, _) => {
            Some(detail.clone().unwrap_or_else(|| e.to_string()))
        }
        zbus::Error::FDO(fdo) => match fdo.as_ref() {
            zbus::fdo::Error::InvalidArgs(why) => Some(why.clone()),
            _ => None,
        },
        _ => None,
    }
}

/// The file name of a unit file path.
fn file_name(path: &str) -> Option<String> {
    std::path::Path::new(path)
        .file_name()
        .and_then(|n| n.to_str())
        .map(str::to_string)
}

/// The known unit closest to `unit` when it is a likely typo of it (`ngnix.service`).
fn closest_unit(unit: &str, known: &[String]) -> Option<String> {
    let limit = (unit.len() / 5).clamp(1, 3);
    known
        .iter()
        .map(|k| (strsim::damerau_levenshtein(unit, k), k))
        .filter(|(d, _)| *d > 0 && *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closest_unit_finds_typos_only() {
        let known = ["nginx.service", "haproxy.service", "ssh.socket"].map(String::from);
        assert_eq!(
            closest_unit("ngnix.service", &known).as_deref(),
            Some("nginx.service")
        );
        assert_eq!(
            closest_unit("haproxy.socket", &known).as_deref(),
            None,
            "a different type is no typo"
        );
        assert_eq!(closest_unit("postgresql.service", &known), None);
        assert_eq!(closest_unit("nginx.service", &known), None);
    }
}
