//! A private dbus-daemon and a fake systemd Manager on it, so the real zbus client code of
//! `vrrp_ha::hooks::systemd` runs over a real bus.
//!
//! The fake answers by unit name: `*fail*` -> JobRemoved "failed", `*hang*` -> no JobRemoved
//! ever, `*slow*` -> "done" after 300 ms, `*nosuch*` -> method error (as for an unknown unit),
//! anything else -> "done" emitted *before* the method reply, which is the race the client must
//! survive by listening before it enqueues. Every job is preceded by a JobRemoved for some other
//! job, which the client must ignore. Started with [`FakeSystemd::start_with`], a
//! `ReloadUnit` of a unit given an `ExecReload=` command runs that command, as systemd
//! does, and the job's result is "done" when it exits 0 and "failed" otherwise.
//!
//! `LoadUnit` (what `vrrp-ha check` asks) answers with a unit object whose LoadState is
//! "loaded" for the names in [`UNIT_FILES`], "masked" for `*masked*`, "bad-setting" for
//! `*broken*` and "not-found" otherwise; `*invalid*` gets InvalidArgs, and `*hang*` no answer.
//! `ListUnitFiles` lists [`UNIT_FILES`].

#![allow(dead_code)]

use crate::prereq;
pub mod support;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use zbus::object_server::{ObjectServer, SignalEmitter};
use zbus::{fdo, interface, Connection, ObjectPath, OwnedObjectPath};

/// The unit files the fake has, as (path, state) for `ListUnitFiles`.
pub const UNIT_FILES: &[(&str, &str)] = &[
    ("/lib/systemd/system/nginx.service", "enabled"),
    ("/lib/systemd/system/haproxy.service", "disabled"),
    ("/etc/systemd/system/edge-up.service", "enabled"),
];

/// `dbus-daemon --session` on a private socket, killed by PID on drop.
pub struct DbusDaemon {
    child: Child,
    /// The bus address it printed.
    pub address: String,
}

impl DbusDaemon {
    /// Start one listening on `dir/bus`; `Err` with the reason when dbus-daemon is unusable.
    pub fn start(dir: &Path) -> Result<DbusDaemon, String> {
        let sock = dir.join("bus");
        let mut child = Command::new("dbus-daemon")
            .arg("--session")
            .arg(format!("--address=unix:path={}", sock.display()))
            .arg("--nofork")
            .arg("--print-address")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot run dbus-daemon: {e}"))?;
        let mut line = String::new();
        // --print-address writes the line once the socket listens; EOF means it died.
        let read = child
            .stdout
            .take()
            .map(|out| BufReader::new(out).read_line(&mut line));
        let address = line.trim().to_string();
        let mut bus = DbusDaemon { child, address };
        match read {
            Some(Ok(n)) if n > 0 && bus.address.starts_with("unix:") => Ok(bus),
            other => {
                let _ = bus.child.kill();
                Err(format!("dbus-daemon printed no address: {other:?}"))
            }
        }
    }

    /// The daemon's PID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for DbusDaemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Start a private bus, or explain why not: panics under `CI`, else prints the skip reason.
pub fn bus_or_skip(dir: &Path) -> Option<DbusDaemon> {
    match DbusDaemon::start(dir) {
        Ok(b) => Some(b),
        Err(why) => {
            prereq::go_on("a private D-Bus", Some(why));
            None
        }
    }
}

/// One method call the fake received.
#[derive(Clone, Debug)]
pub struct Call {
    /// D-Bus method name (`StartUnit`, ..., `Subscribe`).
    pub method: String,
    /// Unit name ("" for Subscribe).
    pub unit: String,
    /// Job mode ("" for Subscribe).
    pub mode: String,
    /// When it arrived.
    pub at: Instant,
}

/// Shared record of the fake's calls.
#[derive(Clone, Default)]
pub struct Recorder(Arc<Mutex<Vec<Call>>>);

impl Recorder {
    /// All calls so far.
    pub fn calls(&self) -> Vec<Call> {
        self.0.lock().unwrap().clone()
    }

    /// `"Method unit"` for each job call (StartUnit, StopUnit, RestartUnit, ReloadUnit), in arrival order.
    pub fn jobs(&self) -> Vec<String> {
        self.calls()
            .iter()
            .filter(|c| {
                ["StartUnit", "StopUnit", "RestartUnit", "ReloadUnit"].contains(&c.method.as_str())
            })
            .map(|c| format!("{} {}", c.method, c.unit))
            .collect()
    }

    /// How many times Subscribe was called.
    pub fn subscribes(&self) -> usize {
        self.calls()
            .iter()
            .filter(|c| c.method == "Subscribe")
            .count()
    }

    fn push(&self, method: &str, unit: &str, mode: &str) {
        self.0.lock().unwrap().push(Call {
            method: method.to_string(),
            unit: unit.to_string(),
            mode: mode.to_string(),
            at: Instant::now(),
        });
    }
}

struct Manager {
    rec: Recorder,
    next_id: u32,
    /// Unit name -> the argv its `ReloadUnit` runs.
    exec_reload: HashMap<String, Vec<String>>,
}

impl Manager {
    async fn enqueue(
        &mut self,
        method: &str,
        unit: &str,
        mode: &str,
        emitter: SignalEmitter<'_>,
    ) -> fdo::Result<OwnedObjectPath> {
        self.rec.push(method, unit, mode);
        if unit.contains("nosuch") {
            return Err(fdo::Error::Failed(format!("Unit {unit} not found.")));
        }
        self.next_id += 1;
        let id = self.next_id;
        let path = format!("/org/freedesktop/systemd1/job/{id}");
        let job = OwnedObjectPath::try_from(path.as_str())
            .map_err(|e| fdo::Error::Failed(e.to_string()))?;
        // Noise: somebody else's job ending, with a result that would fail ours if mistaken.
        let other = ObjectPath::try_from("/org/freedesktop/systemd1/job/999999")
            .map_err(|e| fdo::Error::Failed(e.to_string()))?;
        Self::job_removed(&emitter, 999_999, other, "other.service", "failed").await?;
        if let Some(argv) = self
            .exec_reload
            .get(unit)
            .filter(|_| method == "ReloadUnit")
            .cloned()
        {
            let emitter = emitter.to_owned();
            let job = job.clone();
            let unit = unit.to_string();
            tokio::spawn(async move {
                let ok = match argv.split_first() {
                    Some((prog, args)) => tokio::process::Command::new(prog)
                        .args(args)
                        .stdin(Stdio::null())
                        .stdout(Stdio::null())
                        .stderr(Stdio::null())
                        .status()
                        .await
                        .is_ok_and(|s| s.success()),
                    None => false,
                };
                let result = if ok { "done" } else { "failed" };
                let _ = Self::job_removed(&emitter, id, job.as_ref(), &unit, result).await;
            });
        } else if unit.contains("hang") {
            // Never finishes.
        } else if unit.contains("slow") {
            let emitter = emitter.to_owned();
            let job = job.clone();
            let unit = unit.to_string();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(300)).await;
                let _ = Self::job_removed(&emitter, id, job.as_ref(), &unit, "done").await;
            });
        } else {
            let result = if unit.contains("fail") {
                "failed"
            } else {
                "done"
            };
            // Before the reply: the client only learns the job path afterwards.
            Self::job_removed(&emitter, id, job.as_ref(), unit, result).await?;
        }
        Ok(job)
    }
}

#[interface(name = "org.freedesktop.systemd1.Manager")]
impl Manager {
    fn subscribe(&self) {
        self.rec.push("Subscribe", "", "");
    }

    async fn start_unit(
        &mut self,
        name: &str,
        mode: &str,
        #[zbus(signal_emitter)] emitter: SignalEmitter<'_>,
    ) -> fdo::Result<OwnedObjectPath> {
        self.enqueue("StartUnit", name, mode, emitter).await
    }

    async fn stop_unit(
        &mut self,
        name: &str,
        mode: &str,
        #[zbus(signal_emitter)] emitter: SignalEmitter<'_>,
    ) -> fdo::Result<OwnedObjectPath> {
        self.enqueue("StopUnit", name, mode, emitter).await
    }

    async fn restart_unit(
        &mut self,
        name: &str,
        mode: &str,
        #[zbus(signal_emitter)] emitter: SignalEmitter<'_>,
    ) -> fdo::Result<OwnedObjectPath> {
        self.enqueue("RestartUnit", name, mode, emitter).await
    }

    async fn reload_unit(
        &mut self,
        name: &str,
        mode: &str,
        #[zbus(signal_emitter)] emitter: SignalEmitter<'_>,
    ) -> fdo::Result<OwnedObjectPath> {
        self.enqueue("ReloadUnit", name, mode, emitter).await
    }

    async fn load_unit(
        &self,
        name: &str,
        #[zbus(object_server)] server: &ObjectServer,
    ) -> fdo::Result<OwnedObjectPath> {
        self.rec.push("LoadUnit", name, "");
        if name.contains("invalid") {
            return Err(fdo::Error::InvalidArgs(format!(
                "Unit name {name} is not valid."
            )));
        }
        if name.contains("hang") {
            std::future::pending::<()>().await;
        }
        let load_state = if UNIT_FILES
            .iter()
            .any(|(p, _)| p.ends_with(&format!("/{name}")))
        {
            "loaded"
        } else if name.contains("masked") {
            "masked"
        } else if name.contains("broken") {
            "bad-setting"
        } else {
            "not-found"
        };
        // systemd's escaping: anything but [A-Za-z0-9] as _XX.
        let escaped: String = name
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() {
                    (b as char).to_string()
                } else {
                    format!("_{b:02x}")
                }
            })
            .collect();
        let path = format!("/org/freedesktop/systemd1/unit/{escaped}");
        let unit = FakeUnit {
            load_state: load_state.to_string(),
        };
        // Ok(false) when the unit was loaded before: the object is there already.
        server
            .at(path.as_str(), unit)
            .await
            .map_err(|e| fdo::Error::Failed(e.to_string()))?;
        OwnedObjectPath::try_from(path).map_err(|e| fdo::Error::Failed(e.to_string()))
    }

    fn list_unit_files(&self) -> Vec<(String, String)> {
        self.rec.push("ListUnitFiles", "", "");
        UNIT_FILES
            .iter()
            .map(|(p, s)| (p.to_string(), s.to_string()))
            .collect()
    }

    #[zbus(signal)]
    async fn job_removed(
        emitter: &SignalEmitter<'_>,
        id: u32,
        job: ObjectPath<'_>,
        unit: &str,
        result: &str,
    ) -> zbus::Result<()>;
}

/// A unit object as `LoadUnit` returns it.
struct FakeUnit {
    load_state: String,
}

#[interface(name = "org.freedesktop.systemd1.Unit")]
impl FakeUnit {
    #[zbus(property)]
    fn load_state(&self) -> String {
        self.load_state.clone()
    }
}

/// The fake systemd: owns `org.freedesktop.systemd1` on the bus while alive.
pub struct FakeSystemd {
    _conn: Connection,
    /// What it was asked.
    pub rec: Recorder,
}

impl FakeSystemd {
    /// Connect to `address`, serve the Manager at /org/freedesktop/systemd1, take the name.
    pub async fn start(address: &str) -> FakeSystemd {
        FakeSystemd::start_with(address, HashMap::new()).await
    }

    /// Like [`FakeSystemd::start`]; `ReloadUnit` of a unit in `exec_reload` runs its argv.
    pub async fn start_with(
        address: &str,
        exec_reload: HashMap<String, Vec<String>>,
    ) -> FakeSystemd {
        let rec = Recorder::default();
        let manager = Manager {
            rec: rec.clone(),
            next_id: 0,
            exec_reload,
        };
        let conn = zbus::connection::Builder::address(address)
            .name("org.freedesktop.systemd1")
            .serve_at("/org/freedesktop/systemd1", manager)
            .build()
            .await
            .expect("fake systemd connects to the private bus");
        FakeSystemd { _conn: conn, rec }
    }
}
