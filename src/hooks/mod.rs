//! Transition actions: systemd units over D-Bus, `exec` argv, keepalived-style `notify`.
//!
//! The daemon hands every state change to [`Runner::transition`], which returns at once: VRRP
//! timing never waits for actions. Per instance (or sync group) the actions run in order on a
//! task of their own, with these rules:
//!
//! - The `notify` script runs first (keepalived's generic-notify arguments), then the list
//!   (`on-master` / `on-backup` / `on-fault` / `on-stop`) in config order.
//! - A failed action (job result other than "done", non-zero exit, timeout, no bus) is logged and
//!   the list goes on: the actions are independent of each other.
//! - If the same instance transitions again before its list has finished, the rest of the stale
//!   list is skipped and the newest transition's list runs next; transitions that were queued
//!   behind it and are themselves superseded are skipped whole. So a MASTER list can never
//!   finish after a later BACKUP list.
//! - The action already in progress when a newer transition arrives is not cancelled: an `exec`
//!   runs to its end or its timeout, a unit job is awaited until its result or the job timeout.
//!   Killing a half-done script would leave worse state than letting it end, and the timeouts
//!   bound the delay.

pub mod exec;
pub mod systemd;

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::watch;

use crate::config::model::{HookAction, Hooks};
use crate::core::instance::State;
use systemd::{SystemdClient, UnitVerb};

/// Whether a transition belongs to an instance or to a sync group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    /// A VRRP instance.
    Instance,
    /// A sync group.
    Group,
}

impl Scope {
    /// keepalived's notify keyword: `INSTANCE` or `GROUP`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Instance => "INSTANCE",
            Scope::Group => "GROUP",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A state as hooks name it: keepalived's words, with STOP for a stopped instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HookState {
    /// Not started yet (only ever a previous state).
    Init,
    /// MASTER.
    Master,
    /// BACKUP.
    Backup,
    /// FAULT.
    Fault,
    /// Stopped after running (keepalived's STOP).
    Stop,
}

impl HookState {
    /// keepalived's spelling: `MASTER`, `BACKUP`, `FAULT`, `STOP`, `INIT`.
    pub const fn as_str(self) -> &'static str {
        match self {
            HookState::Init => "INIT",
            HookState::Master => "MASTER",
            HookState::Backup => "BACKUP",
            HookState::Fault => "FAULT",
            HookState::Stop => "STOP",
        }
    }

    /// The hook name of a core state reached by a transition: Initialize after running is STOP.
    pub fn entered(state: State) -> HookState {
        match state {
            State::Initialize => HookState::Stop,
            State::Backup => HookState::Backup,
            State::Master => HookState::Master,
            State::Fault => HookState::Fault,
        }
    }

    /// The hook name of a core state left by a transition (Initialize is INIT).
    pub fn left(state: State) -> HookState {
        match state {
            State::Initialize => HookState::Init,
            other => HookState::entered(other),
        }
    }
}

impl fmt::Display for HookState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One state change of an instance or group, with the actions it triggers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transition {
    /// Instance or group.
    pub scope: Scope,
    /// Instance or group name.
    pub name: String,
    /// New state.
    pub state: HookState,
    /// Previous state.
    pub prev_state: HookState,
    /// Effective priority at the transition.
    pub priority: u8,
    /// VRID; `None` for a group.
    pub vrid: Option<u8>,
    /// Virtual IPs as text (`192.0.2.10/24`).
    pub vips: Vec<String>,
    /// Why the state changed, for the log and VRRP_REASON.
    pub reason: String,
    /// The list for the new state, in config order.
    pub actions: Vec<HookAction>,
    /// The `notify` script, run first.
    pub notify: Option<PathBuf>,
}

impl Transition {
    /// The environment every `exec` action and `notify` script gets (added to the daemon's own).
    pub fn env(&self) -> Vec<(String, String)> {
        let vrid = self.vrid.map(|v| v.to_string()).unwrap_or_default();
        [
            ("VRRP_INSTANCE", self.name.clone()),
            ("VRRP_STATE", self.state.as_str().to_string()),
            ("VRRP_PREV_STATE", self.prev_state.as_str().to_string()),
            ("VRRP_PRIORITY", self.priority.to_string()),
            ("VRRP_VRID", vrid),
            ("VRRP_VIPS", self.vips.join(" ")),
            ("VRRP_REASON", self.reason.clone()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// The argv of the `notify` script: keepalived's `PATH INSTANCE|GROUP NAME STATE PRIORITY`.
    pub fn notify_argv(&self, path: &std::path::Path) -> Vec<String> {
        vec![
            path.to_string_lossy().into_owned(),
            self.scope.as_str().to_string(),
            self.name.clone(),
            self.state.as_str().to_string(),
            self.priority.to_string(),
        ]
    }

    /// How many steps this transition runs: the notify script plus the list.
    fn steps(&self) -> usize {
        usize::from(self.notify.is_some()) + self.actions.len()
    }
}

/// The configured list for `state`; empty for INIT.
pub fn list_for(hooks: &Hooks, state: HookState) -> &[HookAction] {
    match state {
        HookState::Master => &hooks.on_master,
        HookState::Backup => &hooks.on_backup,
        HookState::Fault => &hooks.on_fault,
        HookState::Stop => &hooks.on_stop,
        HookState::Init => &[],
    }
}

/// Settings of a [`Runner`].
#[derive(Clone, Debug)]
pub struct RunnerOptions {
    /// D-Bus address of the bus systemd is on; `None` = the system bus (zbus honours
    /// `DBUS_SYSTEM_BUS_ADDRESS`, else `/var/run/dbus/system_bus_socket`).
    pub bus_address: Option<String>,
    /// Bound on connecting and on waiting for one unit job's result.
    pub job_timeout: Duration,
    /// Bound on one `exec` action or `notify` script; then its process group is killed.
    pub exec_timeout: Duration,
}

impl Default for RunnerOptions {
    fn default() -> Self {
        RunnerOptions {
            bus_address: None,
            job_timeout: systemd::DEFAULT_JOB_TIMEOUT,
            exec_timeout: exec::DEFAULT_EXEC_TIMEOUT,
        }
    }
}

type Key = (Scope, String);

/// Per instance/group: transitions waiting to run, and how far the worker got.
#[derive(Default)]
struct KeyState {
    queue: VecDeque<(u64, Transition)>,
    submitted: u64,
    done: u64,
    running: bool,
}

struct Shared {
    handle: tokio::runtime::Handle,
    systemd: SystemdClient,
    exec_timeout: Duration,
    keys: Mutex<HashMap<Key, KeyState>>,
    /// Bumped whenever a worker finishes a transition, so [`Runner::idle`] can re-check.
    progress: watch::Sender<u64>,
}

/// Runs transition actions off the caller's task, in order per instance/group, skipping stale lists.
#[derive(Clone)]
pub struct Runner {
    shared: Arc<Shared>,
}

impl Runner {
    /// Start a runner on the current tokio runtime (panics outside one, like `tokio::spawn`).
    pub fn spawn(opts: RunnerOptions) -> Runner {
        Runner {
            shared: Arc::new(Shared {
                handle: tokio::runtime::Handle::current(),
                systemd: SystemdClient::new(opts.bus_address, opts.job_timeout),
                exec_timeout: opts.exec_timeout,
                keys: Mutex::new(HashMap::new()),
                progress: watch::Sender::new(0),
            }),
        }
    }

    /// Queue the actions of `t`; returns at once (callable from any thread).
    pub fn transition(&self, t: Transition) {
        let key = (t.scope, t.name.clone());
        let mut keys = self.shared.lock();
        let st = keys.entry(key.clone()).or_default();
        st.submitted += 1;
        tracing::debug!(
            VRRP_INSTANCE = %t.name, VRRP_ACTIONS = t.state.as_str(),
            "queued {} actions for {} {} {}", t.steps(), t.scope, t.name, t.state
        );
        st.queue.push_back((st.submitted, t));
        if !st.running {
            st.running = true;
            let shared = self.shared.clone();
            self.shared.handle.spawn(worker(shared, key));
        }
    }

    /// Resolves once every queued transition has been run or skipped.
    pub fn idle(&self) -> impl Future<Output = ()> + Send + 'static {
        let shared = self.shared.clone();
        async move {
            loop {
                // Subscribe before checking so a finish in between still wakes us.
                let mut rx = shared.progress.subscribe();
                if shared.lock().values().all(|s| s.done == s.submitted) {
                    return;
                }
                if rx.changed().await.is_err() {
                    return;
                }
            }
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, HashMap<Key, KeyState>> {
        // Nothing panics while holding it; if it ever did, the map is still consistent.
        self.keys.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The next transition to run for `key`, skipping the superseded ones; `None` ends the worker.
    fn next(&self, key: &Key) -> Option<(u64, Transition)> {
        let mut keys = self.lock();
        let st = keys.get_mut(key)?;
        while st.queue.len() > 1 {
            if let Some((gen, old)) = st.queue.pop_front() {
                let newer = st.queue.back().map_or("", |(_, t)| t.state.as_str());
                tracing::info!(
                    VRRP_INSTANCE = %old.name, VRRP_ACTIONS = old.state.as_str(),
                    "{} {}: skipped {} stale actions of {} list, superseded by {}",
                    old.scope, old.name, old.steps(), old.state, newer
                );
                st.done = gen;
            }
        }
        match st.queue.pop_front() {
            Some(next) => Some(next),
            None => {
                st.running = false;
                None
            }
        }
    }

    /// The state of the newest queued transition for `key`, if one is waiting.
    fn superseded_by(&self, key: &Key) -> Option<HookState> {
        self.lock()
            .get(key)
            .and_then(|st| st.queue.back().map(|(_, t)| t.state))
    }

    fn finish(&self, key: &Key, gen: u64) {
        if let Some(st) = self.lock().get_mut(key) {
            st.done = st.done.max(gen);
        }
        self.progress.send_modify(|n| *n = n.wrapping_add(1));
    }

    async fn run_list(&self, key: &Key, t: &Transition) {
        let env = t.env();
        let total = t.steps();
        tracing::info!(
            VRRP_INSTANCE = %t.name, VRRP_ACTIONS = t.state.as_str(),
            "{} {}: {} -> {}, running {} actions", t.scope, t.name, t.prev_state, t.state, total
        );
        let notify = t.notify.iter().map(Step::Notify);
        let steps = notify.chain(t.actions.iter().map(Step::Action));
        for (i, step) in steps.enumerate() {
            if let Some(newer) = self.superseded_by(key) {
                tracing::info!(
                    VRRP_INSTANCE = %t.name, VRRP_ACTIONS = t.state.as_str(),
                    "{} {}: skipped {} stale actions of {} list, superseded by {}",
                    t.scope, t.name, total - i, t.state, newer
                );
                return;
            }
            let started = std::time::Instant::now();
            let (action, result) = match step {
                Step::Notify(path) => {
                    let argv = t.notify_argv(path);
                    let r =
                        exec::run_logged(&t.name, "notify", &argv, &env, self.exec_timeout).await;
                    ("notify", exec_result(&r))
                }
                Step::Action(HookAction::Exec(argv)) => {
                    let r = exec::run_logged(&t.name, "exec", argv, &env, self.exec_timeout).await;
                    ("exec", exec_result(&r))
                }
                Step::Action(HookAction::Start(unit)) => {
                    ("start", self.unit(t, UnitVerb::Start, unit).await)
                }
                Step::Action(HookAction::Stop(unit)) => {
                    ("stop", self.unit(t, UnitVerb::Stop, unit).await)
                }
                Step::Action(HookAction::Restart(unit)) => {
                    ("restart", self.unit(t, UnitVerb::Restart, unit).await)
                }
                Step::Action(HookAction::Reload(unit)) => {
                    ("reload", self.unit(t, UnitVerb::Reload, unit).await)
                }
            };
            crate::metrics::observe_action(
                &t.name,
                t.state.as_str(),
                action,
                result,
                started.elapsed(),
            );
        }
    }

    /// Run a unit job; its result for the metrics.
    async fn unit(&self, t: &Transition, verb: UnitVerb, unit: &str) -> &'static str {
        match self.systemd.run_logged(&t.name, verb, unit).await {
            Ok(systemd::JobOutcome::Done) => "ok",
            Ok(systemd::JobOutcome::Failed(_)) => "failed",
            Ok(systemd::JobOutcome::Timeout) => "timeout",
            Err(_) => "error",
        }
    }
}

/// An `exec` or `notify` outcome for the metrics.
fn exec_result(r: &Result<exec::ExecOutcome, exec::ExecError>) -> &'static str {
    match r {
        Ok(exec::ExecOutcome::Exited(0)) => "ok",
        Ok(exec::ExecOutcome::Exited(_) | exec::ExecOutcome::Signaled(_)) => "failed",
        Ok(exec::ExecOutcome::Timeout) => "timeout",
        Err(_) => "error",
    }
}

enum Step<'a> {
    Notify(&'a PathBuf),
    Action(&'a HookAction),
}

async fn worker(shared: Arc<Shared>, key: Key) {
    while let Some((gen, t)) = shared.next(&key) {
        shared.run_list(&key, &t).await;
        shared.finish(&key, gen);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_for_picks_the_state_list() {
        let hooks = Hooks {
            on_master: vec![HookAction::Start("m".into())],
            on_backup: vec![HookAction::Stop("b".into())],
            on_fault: vec![HookAction::Stop("f".into())],
            on_stop: vec![HookAction::Stop("s".into())],
        };
        assert_eq!(
            list_for(&hooks, HookState::Master),
            [HookAction::Start("m".into())]
        );
        assert_eq!(
            list_for(&hooks, HookState::Backup),
            [HookAction::Stop("b".into())]
        );
        assert_eq!(
            list_for(&hooks, HookState::Fault),
            [HookAction::Stop("f".into())]
        );
        assert_eq!(
            list_for(&hooks, HookState::Stop),
            [HookAction::Stop("s".into())]
        );
        assert!(list_for(&hooks, HookState::Init).is_empty());
    }

    #[test]
    fn env_and_notify_argv_follow_keepalived() {
        let t = Transition {
            scope: Scope::Group,
            name: "G".into(),
            state: HookState::Backup,
            prev_state: HookState::Master,
            priority: 90,
            vrid: None,
            vips: vec!["192.0.2.1/24".into(), "192.0.2.2/24".into()],
            reason: "r".into(),
            actions: vec![],
            notify: None,
        };
        let argv = t.notify_argv(std::path::Path::new("/etc/n.sh"));
        assert_eq!(argv, ["/etc/n.sh", "GROUP", "G", "BACKUP", "90"]);
        let env = t.env();
        assert!(env.contains(&("VRRP_VRID".into(), String::new())));
        assert!(env.contains(&("VRRP_VIPS".into(), "192.0.2.1/24 192.0.2.2/24".into())));
    }
}
