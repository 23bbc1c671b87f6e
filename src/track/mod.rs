//! Tracking: scripts, interfaces and files that move an instance's effective priority.
//!
//! [`Tracker::spawn`] starts one runner per tracked script and one watcher per
//! tracked file on the current tokio runtime; the daemon forwards link events with
//! [`Tracker::link_changed`]. Whenever an instance's aggregate (priority delta, fault)
//! changes, a [`TrackUpdate`] carrying the new absolute values is sent.
//!
//! Weights follow keepalived:
//! - script: weight 0 => failing is a fault; negative => added while failing;
//!   positive => added while succeeding. `track-script weight=` overrides the
//!   script's own weight. A script with no result yet ("init") counts as neither
//!   failing nor succeeding, and its first result decides at once whatever rise/fall
//!   say (keepalived: "one success is enough", and a failure in init is a failure).
//!   keepalived additionally holds a weight-0 instance in its INIT state until that
//!   first result; here the first run starts at spawn and its result normally
//!   arrives long before a Backup's master-down timer (3+ adverts) could expire.
//! - interface: weight 0 => down is a fault; negative => added while down;
//!   positive => added while up. "Up" means IFF_UP and IFF_RUNNING (carrier).
//! - file: value x weight is added (clamped to -254..=253); with weight 0 a
//!   non-zero value is a fault, and a product of -254 or less is a fault too.

pub mod file;
pub mod script;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use tokio::task::JoinHandle;

use crate::config::{Config, Script, TrackFile, TrackInterface, TrackScript};
use crate::core::track::{Contribution, ItemState, TrackKind, Tracking};
pub use script::{check_script, check_script_security, ScriptState, SecurityError};

/// A change of one instance's tracking aggregate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrackUpdate {
    /// Instance name.
    pub instance: String,
    /// Sum of the active weights, to add to the configured priority.
    pub delta: i32,
    /// Whether something tracked puts the instance in Fault.
    pub fault: bool,
    /// What changed, for the log.
    pub reason: String,
    /// Each tracked item's part, for status and the core's reasons.
    pub items: Vec<Contribution>,
}

impl TrackUpdate {
    /// The aggregate as the core takes it.
    pub fn tracking(&self) -> Tracking {
        Tracking {
            delta: self.delta,
            fault: self.fault,
            items: self.items.clone(),
        }
    }
}

/// What one instance tracks (the tracking part of a config `instance`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InstanceTracks {
    /// Instance name.
    pub name: String,
    /// `track-script` nodes.
    pub scripts: Vec<TrackScript>,
    /// `track-interface` nodes.
    pub interfaces: Vec<TrackInterface>,
    /// `track-file` nodes.
    pub files: Vec<TrackFile>,
}

/// Everything the tracker needs from a configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrackSpec {
    /// Per-instance tracking.
    pub instances: Vec<InstanceTracks>,
    /// All `script` nodes (only the tracked ones are run).
    pub scripts: Vec<Script>,
}

impl TrackSpec {
    /// Extracts the tracking part of a configuration.
    pub fn from_config(config: &Config) -> Self {
        TrackSpec {
            instances: config
                .instances
                .iter()
                .map(|i| InstanceTracks {
                    name: i.name.clone(),
                    scripts: i.track_scripts.clone(),
                    interfaces: i.track_interfaces.clone(),
                    files: i.track_files.clone(),
                })
                .collect(),
            scripts: config.scripts.clone(),
        }
    }
}

/// One tracked item of an instance, naming its source.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Item {
    Script { name: String, weight: i32 },
    Interface { name: String, weight: i32 },
    File { path: PathBuf, weight: i32 },
}

/// Per-instance aggregation state.
#[derive(Debug)]
struct InstanceState {
    name: String,
    items: Vec<Item>,
    current: (i32, bool),
    /// The items' parts last sent.
    parts: Vec<Contribution>,
}

/// A tracked script's shared state; `generation` identifies the runner allowed to
/// write it, so a runner replaced by a reload cannot overwrite its successor.
#[derive(Clone, Copy, Debug)]
struct ScriptSlot {
    state: ScriptState,
    generation: u64,
}

/// The current value of every tracked source, shared by the script tasks, the file watchers and the daemon.
#[derive(Debug, Default)]
struct Sources {
    instances: Vec<InstanceState>,
    scripts: HashMap<String, ScriptSlot>,
    files: HashMap<PathBuf, i64>,
    links: HashMap<String, bool>,
}

/// What a change came from, to find the instances it affects.
enum Source<'a> {
    Script(&'a str),
    File(&'a Path),
    Interface(&'a str),
}

impl Sources {
    /// Computes an instance's (delta, fault) from the current source values.
    fn aggregate(&self, items: &[Item]) -> (i32, bool) {
        let parts = self.contributions(items);
        let delta: i64 = parts.iter().map(|c| i64::from(c.delta)).sum();
        let fault = parts.iter().any(|c| c.fault);
        let delta = delta.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32;
        (delta, fault)
    }

    /// Each item's part, from the current source values.
    fn contributions(&self, items: &[Item]) -> Vec<Contribution> {
        items
            .iter()
            .map(|item| {
                let (kind, name, weight, state, (delta, fault)) = match item {
                    Item::Script { name, weight } => {
                        // A script without a slot has no definition: failing.
                        let state = self.scripts.get(name).map_or(ScriptState::Bad, |s| s.state);
                        let shown = match state {
                            ScriptState::Init => ItemState::Init,
                            ScriptState::Good => ItemState::Good,
                            ScriptState::Bad => ItemState::Bad,
                        };
                        let part = script_contribution(state, *weight);
                        (TrackKind::Script, name.clone(), *weight, shown, part)
                    }
                    Item::Interface { name, weight } => {
                        let up = self.links.get(name).copied().unwrap_or(false);
                        let shown = if up { ItemState::Up } else { ItemState::Down };
                        let part = interface_contribution(up, *weight);
                        (TrackKind::Interface, name.clone(), *weight, shown, part)
                    }
                    Item::File { path, weight } => {
                        let value = self.files.get(path).copied().unwrap_or(0);
                        let part = file_contribution(value, *weight);
                        let name = path.display().to_string();
                        (
                            TrackKind::File,
                            name,
                            *weight,
                            ItemState::Value(value),
                            part,
                        )
                    }
                };
                Contribution {
                    kind,
                    name,
                    weight,
                    delta,
                    fault,
                    state,
                }
            })
            .collect()
    }

    /// Re-aggregates the instances that track `source`; returns their updates.
    fn refresh(&mut self, source: Source<'_>, reason: &str) -> Vec<TrackUpdate> {
        let mut updates = Vec::new();
        for i in 0..self.instances.len() {
            let uses = self.instances[i]
                .items
                .iter()
                .any(|item| match (item, &source) {
                    (Item::Script { name, .. }, Source::Script(s)) => name == s,
                    (Item::File { path, .. }, Source::File(f)) => path == f,
                    (Item::Interface { name, .. }, Source::Interface(n)) => name == n,
                    _ => false,
                });
            if !uses {
                continue;
            }
            if let Some(u) = self.reaggregate(i, reason) {
                updates.push(u);
            }
        }
        updates
    }

    /// Recomputes instance `i`; returns an update when its aggregate or an item changed.
    fn reaggregate(&mut self, i: usize, reason: &str) -> Option<TrackUpdate> {
        let now = self.aggregate(&self.instances[i].items);
        let items = self.contributions(&self.instances[i].items);
        let inst = &mut self.instances[i];
        if now == inst.current && items == inst.parts {
            return None;
        }
        inst.current = now;
        inst.parts = items.clone();
        let name = inst.name.clone();
        Some(TrackUpdate {
            instance: name,
            delta: now.0,
            fault: now.1,
            reason: reason.to_string(),
            items,
        })
    }
}

/// A script's contribution (delta, fault) in a given state with a given weight.
pub fn script_contribution(state: ScriptState, weight: i32) -> (i32, bool) {
    match (state, weight) {
        (ScriptState::Init, _) => (0, false),
        (ScriptState::Bad, 0) => (0, true),
        (ScriptState::Bad, w) if w < 0 => (w, false),
        (ScriptState::Good, w) if w > 0 => (w, false),
        _ => (0, false),
    }
}

/// An interface's contribution (delta, fault) given its link state and weight.
pub fn interface_contribution(up: bool, weight: i32) -> (i32, bool) {
    match (up, weight) {
        (false, 0) => (0, true),
        (false, w) if w < 0 => (w, false),
        (true, w) if w > 0 => (w, false),
        _ => (0, false),
    }
}

/// A track file's contribution (delta, fault) given its value and weight, as
/// keepalived computes it: value x weight clamped to -254..=253, where -254 (and
/// with weight 0 any non-zero value) means fault.
pub fn file_contribution(value: i64, weight: i32) -> (i32, bool) {
    if weight == 0 {
        return (0, value != 0);
    }
    let product = value
        .clamp(-file::VALUE_LIMIT, file::VALUE_LIMIT)
        .saturating_mul(i64::from(weight));
    if product <= -254 {
        return (0, true);
    }
    (product.min(253) as i32, false)
}

/// Whether interface flags (as in `ifi_flags`) mean "up" for tracking:
/// administratively up and with carrier.
pub fn link_flags_up(flags: u32) -> bool {
    let up = libc::IFF_UP as u32;
    let running = libc::IFF_RUNNING as u32;
    flags & up != 0 && flags & running != 0
}

/// The current up/down state of every interface, from getifaddrs (netlink).
fn current_links() -> HashMap<String, bool> {
    let mut links = HashMap::new();
    match nix::ifaddrs::getifaddrs() {
        Ok(addrs) => {
            for a in addrs {
                let up = link_flags_up(a.flags.bits() as u32);
                let entry = links.entry(a.interface_name).or_insert(false);
                *entry |= up;
            }
        }
        Err(e) => tracing::warn!("cannot list interfaces for tracking: {e}"),
    }
    links
}

/// A running script runner and the definition it runs.
struct ScriptTask {
    def: Script,
    task: JoinHandle<()>,
}

/// Tracking for all instances; dropping it stops every runner and watcher (and kills
/// any script still running).
pub struct Tracker {
    state: Arc<Mutex<Sources>>,
    tx: UnboundedSender<TrackUpdate>,
    runners: HashMap<String, ScriptTask>,
    watchers: HashMap<PathBuf, JoinHandle<()>>,
    generation: u64,
}

impl Drop for Tracker {
    fn drop(&mut self) {
        for runner in self.runners.values() {
            runner.task.abort();
        }
        for watcher in self.watchers.values() {
            watcher.abort();
        }
    }
}

fn lock(state: &Mutex<Sources>) -> MutexGuard<'_, Sources> {
    // A panic while holding the lock cannot leave the tables inconsistent (each
    // update is a single assignment), so a poisoned lock is still usable.
    state.lock().unwrap_or_else(|e| e.into_inner())
}

/// Sends updates, ignoring a receiver that is gone (the daemon is shutting down).
fn send_all(tx: &UnboundedSender<TrackUpdate>, updates: Vec<TrackUpdate>) {
    for u in updates {
        tracing::info!(
            instance = %u.instance,
            delta = u.delta,
            fault = u.fault,
            "tracking changed: {}",
            u.reason
        );
        let _ = tx.send(u);
    }
}

impl Tracker {
    /// Starts tracking for a configuration. Must be called inside a tokio runtime.
    pub fn spawn(config: &Config) -> (Tracker, UnboundedReceiver<TrackUpdate>) {
        Self::spawn_spec(TrackSpec::from_config(config))
    }

    /// Starts tracking for an explicit spec. Must be called inside a tokio runtime.
    pub fn spawn_spec(spec: TrackSpec) -> (Tracker, UnboundedReceiver<TrackUpdate>) {
        let (tx, rx) = unbounded_channel();
        let mut tracker = Tracker {
            state: Arc::new(Mutex::new(Sources::default())),
            tx,
            runners: HashMap::new(),
            watchers: HashMap::new(),
            generation: 0,
        };
        tracker.apply(spec);
        (tracker, rx)
    }

    /// Applies a reloaded configuration without losing what is known: scripts
    /// whose definition is unchanged keep running undisturbed, changed ones restart
    /// but keep their last good/bad state (so a reload never flaps priority),
    /// files and links keep their values. Instances whose aggregate changes get a
    /// [`TrackUpdate`] (reason "configuration reloaded"); new instances start from
    /// [`Tracker::initial`].
    pub fn reload(&mut self, config: &Config) {
        self.apply(TrackSpec::from_config(config));
    }

    /// [`Tracker::reload`] for an explicit spec.
    pub fn reload_spec(&mut self, spec: TrackSpec) {
        self.apply(spec);
    }

    fn apply(&mut self, spec: TrackSpec) {
        // Tracked scripts, in first-use order, with their definitions.
        let mut wanted: Vec<(String, Option<Script>)> = Vec::new();
        for inst in &spec.instances {
            for ts in &inst.scripts {
                if wanted.iter().any(|(n, _)| *n == ts.name) {
                    continue;
                }
                let def = spec.scripts.iter().find(|s| s.name == ts.name).cloned();
                if def.is_none() {
                    tracing::error!(
                        instance = %inst.name,
                        "track-script `{}` names no script; counting it as failing",
                        ts.name
                    );
                }
                wanted.push((ts.name.clone(), def));
            }
        }
        let wanted_files: Vec<PathBuf> = {
            let mut v: Vec<PathBuf> = Vec::new();
            for tf in spec.instances.iter().flat_map(|i| &i.files) {
                if !v.contains(&tf.path) {
                    v.push(tf.path.clone());
                }
            }
            v
        };
        let wanted_links: Vec<&str> = spec
            .instances
            .iter()
            .flat_map(|i| i.interfaces.iter().map(|t| t.name.as_str()))
            .collect();

        let instances: Vec<InstanceState> = spec
            .instances
            .iter()
            .map(|inst| {
                let mut items = Vec::new();
                for ts in &inst.scripts {
                    let own = wanted
                        .iter()
                        .find(|(n, _)| *n == ts.name)
                        .and_then(|(_, d)| d.as_ref())
                        .map_or(0, |d| d.weight);
                    items.push(Item::Script {
                        name: ts.name.clone(),
                        weight: ts.weight.unwrap_or(own),
                    });
                }
                for ti in &inst.interfaces {
                    items.push(Item::Interface {
                        name: ti.name.clone(),
                        weight: ti.weight,
                    });
                }
                for tf in &inst.files {
                    items.push(Item::File {
                        path: tf.path.clone(),
                        weight: tf.weight,
                    });
                }
                InstanceState {
                    name: inst.name.clone(),
                    items,
                    current: (0, false),
                    parts: Vec::new(),
                }
            })
            .collect();

        // Stop runners that are no longer wanted or whose definition changed.
        let mut to_start: Vec<(Script, u64, ScriptState)> = Vec::new();
        let updates = {
            let mut st = lock(&self.state);
            let old_runners: Vec<String> = self.runners.keys().cloned().collect();
            for name in old_runners {
                let keep = wanted.iter().any(|(n, d)| {
                    *n == name && d.as_ref() == self.runners.get(&name).map(|r| &r.def)
                });
                if !keep {
                    if let Some(r) = self.runners.remove(&name) {
                        r.task.abort();
                    }
                }
            }
            let mut scripts = HashMap::new();
            for (name, def) in &wanted {
                let previous = st.scripts.get(name).map(|s| s.state);
                match def {
                    // Unchanged and still running: keep its slot as it is.
                    Some(_) if self.runners.contains_key(name) => {
                        if let Some(slot) = st.scripts.get(name) {
                            scripts.insert(name.clone(), *slot);
                        }
                    }
                    Some(def) => {
                        self.generation += 1;
                        let state = previous.unwrap_or(ScriptState::Init);
                        scripts.insert(
                            name.clone(),
                            ScriptSlot {
                                state,
                                generation: self.generation,
                            },
                        );
                        to_start.push((def.clone(), self.generation, state));
                    }
                    None => {}
                }
            }
            st.scripts = scripts;

            // Files: keep known values, read new ones now.
            let mut files = HashMap::new();
            for path in &wanted_files {
                let value = match st.files.get(path) {
                    Some(v) => *v,
                    None => file::read_value(path),
                };
                files.insert(path.clone(), value);
            }
            st.files = files;

            // Links: events already received stay authoritative; ask the kernel
            // about the others.
            if wanted_links.iter().any(|n| !st.links.contains_key(*n)) {
                let kernel = current_links();
                for name in &wanted_links {
                    if !st.links.contains_key(*name) {
                        let up = kernel.get(*name).copied().unwrap_or(false);
                        st.links.insert(name.to_string(), up);
                    }
                }
            }

            type Before = ((i32, bool), Vec<Contribution>);
            let old: HashMap<String, Before> = st
                .instances
                .iter()
                .map(|i| (i.name.clone(), (i.current, i.parts.clone())))
                .collect();
            st.instances = instances;
            let mut updates = Vec::new();
            for i in 0..st.instances.len() {
                let now = st.aggregate(&st.instances[i].items);
                let parts = st.contributions(&st.instances[i].items);
                let name = st.instances[i].name.clone();
                st.instances[i].current = now;
                st.instances[i].parts = parts.clone();
                if let Some((before, before_parts)) = old.get(&name) {
                    if *before != now || *before_parts != parts {
                        updates.push(TrackUpdate {
                            instance: name,
                            delta: now.0,
                            fault: now.1,
                            reason: "configuration reloaded".to_string(),
                            items: parts,
                        });
                    }
                }
            }
            updates
        };
        send_all(&self.tx, updates);

        for (def, generation, initial) in to_start {
            let name = def.name.clone();
            let task = tokio::spawn(script::run_forever(
                def.clone(),
                initial,
                script_callback(
                    Arc::clone(&self.state),
                    self.tx.clone(),
                    name.clone(),
                    generation,
                ),
            ));
            self.runners.insert(name, ScriptTask { def, task });
        }

        let old_watchers: Vec<PathBuf> = self.watchers.keys().cloned().collect();
        for path in old_watchers {
            if !wanted_files.contains(&path) {
                if let Some(w) = self.watchers.remove(&path) {
                    w.abort();
                }
            }
        }
        for path in wanted_files {
            if self.watchers.contains_key(&path) {
                continue;
            }
            let initial = lock(&self.state).files.get(&path).copied().unwrap_or(0);
            let task = tokio::spawn(file::watch_forever(
                path.clone(),
                initial,
                file_callback(Arc::clone(&self.state), self.tx.clone(), path.clone()),
            ));
            self.watchers.insert(path, task);
        }
    }

    /// Records a link event from rtnetlink (`up` = IFF_UP and IFF_RUNNING, see
    /// [`link_flags_up`]); sends updates for instances tracking `ifname`.
    pub fn link_changed(&self, ifname: &str, up: bool) {
        let updates = {
            let mut st = lock(&self.state);
            if st.links.get(ifname) == Some(&up) {
                return;
            }
            st.links.insert(ifname.to_string(), up);
            let reason = format!("interface {ifname} {}", if up { "up" } else { "down" });
            st.refresh(Source::Interface(ifname), &reason)
        };
        send_all(&self.tx, updates);
    }

    /// The current (delta, fault) of an instance; (0, false) for an unknown name.
    pub fn initial(&self, instance: &str) -> (i32, bool) {
        let st = lock(&self.state);
        st.instances
            .iter()
            .find(|i| i.name == instance)
            .map_or((0, false), |i| i.current)
    }

    /// The current aggregate of an instance with its parts (empty for an unknown name).
    pub fn tracking(&self, instance: &str) -> Tracking {
        let st = lock(&self.state);
        st.instances
            .iter()
            .find(|i| i.name == instance)
            .map_or_else(Tracking::default, |i| Tracking {
                delta: i.current.0,
                fault: i.current.1,
                items: st.contributions(&i.items),
            })
    }

    /// The current state of every tracked script, by name (for status output).
    pub fn script_states(&self) -> Vec<(String, ScriptState)> {
        let st = lock(&self.state);
        let mut v: Vec<_> = st
            .scripts
            .iter()
            .map(|(n, s)| (n.clone(), s.state))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    /// The current value of every tracked file (for status output).
    pub fn file_values(&self) -> Vec<(PathBuf, i64)> {
        let st = lock(&self.state);
        let mut v: Vec<_> = st.files.iter().map(|(p, x)| (p.clone(), *x)).collect();
        v.sort();
        v
    }
}

/// What a script runner calls on a state change.
fn script_callback(
    state: Arc<Mutex<Sources>>,
    tx: UnboundedSender<TrackUpdate>,
    name: String,
    generation: u64,
) -> impl FnMut(ScriptState, &str) {
    move |new_state, detail| {
        let word = match new_state {
            ScriptState::Good => "succeeding",
            ScriptState::Bad => "failing",
            ScriptState::Init => "pending",
        };
        let updates = {
            let mut st = lock(&state);
            match st.scripts.get_mut(&name) {
                Some(slot) if slot.generation == generation => slot.state = new_state,
                // Replaced or removed by a reload.
                _ => return,
            }
            tracing::info!(script = %name, "script now {word} (last run {detail})");
            st.refresh(Source::Script(&name), &format!("script {name} {word}"))
        };
        send_all(&tx, updates);
    }
}

/// What a file watcher calls on a value change.
fn file_callback(
    state: Arc<Mutex<Sources>>,
    tx: UnboundedSender<TrackUpdate>,
    path: PathBuf,
) -> impl FnMut(i64) {
    move |value| {
        let reason = format!("file {} now {value}", path.display());
        let updates = {
            let mut st = lock(&state);
            match st.files.get_mut(&path) {
                Some(v) => *v = value,
                None => return,
            }
            tracing::info!("track {reason}");
            st.refresh(Source::File(&path), &reason)
        };
        send_all(&tx, updates);
    }
}

/// Checks every tracked script of a configuration as `vrrp-ha check` and start-up
/// do: returns (script name, error) for each one that cannot or must not run.
pub fn check_scripts(config: &Config) -> Vec<(String, SecurityError)> {
    let tracked: Vec<&str> = config
        .instances
        .iter()
        .flat_map(|i| i.track_scripts.iter().map(|t| t.name.as_str()))
        .collect();
    config
        .scripts
        .iter()
        .filter(|s| tracked.contains(&s.name.as_str()))
        .filter_map(|s| check_script(s).err().map(|e| (s.name.clone(), e)))
        .collect()
}

/// Every program a configuration makes the daemon run, checked as [`check_scripts`]
/// does: tracked scripts, `notify` scripts and `exec` actions (the latter two run as
/// the daemon's own user, root under systemd, as keepalived's notify scripts do).
/// Returns (what, error), `what` naming the config item ("script \"chk\"",
/// "notify of instance \"VI_1\"", "exec in on-master of group \"G1\"").
pub fn check_programs(config: &Config) -> Vec<(String, SecurityError)> {
    let mut found: Vec<(String, SecurityError)> = check_scripts(config)
        .into_iter()
        .map(|(name, e)| (format!("script {name:?}"), e))
        .collect();
    let scopes = config
        .instances
        .iter()
        .map(|i| (format!("instance {:?}", i.name), &i.notify, &i.hooks))
        .chain(
            config
                .sync_groups
                .iter()
                .map(|g| (format!("group {:?}", g.name), &g.notify, &g.hooks)),
        );
    for (scope, notify, hooks) in scopes {
        if let Some(path) = notify {
            let argv = [path.to_string_lossy().into_owned()];
            if let Err(e) = script::prepare(&argv, None) {
                found.push((format!("notify of {scope}"), e));
            }
        }
        let lists = [
            ("on-master", &hooks.on_master),
            ("on-backup", &hooks.on_backup),
            ("on-fault", &hooks.on_fault),
            ("on-stop", &hooks.on_stop),
        ];
        for (list, actions) in lists {
            for action in actions.iter() {
                if let crate::config::HookAction::Exec(argv) = action {
                    if let Err(e) = script::prepare(argv, None) {
                        found.push((format!("exec in {list} of {scope}"), e));
                    }
                }
            }
        }
    }
    found
}

/// The verdict on a configuration's programs (see [`check_programs`]).
#[derive(Debug, Default)]
pub struct ProgramVerdict {
    /// Programs others could change that would run as root: the configuration is refused.
    pub refused: Vec<String>,
    /// Programs that cannot run (missing, not executable, unknown user): a warning;
    /// a tracked script counts as failing, an action fails, until it is fixed.
    pub warnings: Vec<String>,
}

/// Sort [`check_programs`] into what refuses a configuration and what only warns,
/// the same way for `vrrp-ha check`, start-up and SIGHUP.
pub fn vet_programs(config: &Config) -> ProgramVerdict {
    let mut verdict = ProgramVerdict::default();
    for (what, e) in check_programs(config) {
        let line = format!("{what}: {e}");
        if matches!(e, SecurityError::Insecure { .. }) {
            verdict.refused.push(line);
        } else {
            verdict.warnings.push(line);
        }
    }
    verdict
}

#[cfg(test)]
mod tests {
    use super::*;
    use ScriptState::*;

    #[test]
    fn script_weights_follow_keepalived() {
        assert_eq!(script_contribution(Init, 0), (0, false));
        assert_eq!(script_contribution(Init, -10), (0, false));
        assert_eq!(script_contribution(Init, 10), (0, false));
        assert_eq!(script_contribution(Bad, 0), (0, true));
        assert_eq!(script_contribution(Good, 0), (0, false));
        assert_eq!(script_contribution(Bad, -10), (-10, false));
        assert_eq!(script_contribution(Good, -10), (0, false));
        assert_eq!(script_contribution(Good, 10), (10, false));
        assert_eq!(script_contribution(Bad, 10), (0, false));
    }

    #[test]
    fn interface_weights_follow_keepalived() {
        assert_eq!(interface_contribution(false, 0), (0, true));
        assert_eq!(interface_contribution(true, 0), (0, false));
        assert_eq!(interface_contribution(false, -5), (-5, false));
        assert_eq!(interface_contribution(true, -5), (0, false));
        assert_eq!(interface_contribution(true, 5), (5, false));
        assert_eq!(interface_contribution(false, 5), (0, false));
    }

    #[test]
    fn file_weights_follow_keepalived() {
        assert_eq!(file_contribution(0, 0), (0, false));
        assert_eq!(file_contribution(3, 0), (0, true));
        assert_eq!(file_contribution(3, 10), (30, false));
        assert_eq!(file_contribution(-3, 10), (-30, false));
        assert_eq!(file_contribution(-26, 10), (0, true));
        assert_eq!(file_contribution(-253, 1), (-253, false));
        assert_eq!(file_contribution(-254, 1), (0, true));
        assert_eq!(file_contribution(i64::MAX, 2), (253, false));
    }

    #[test]
    fn link_flags() {
        let up = libc::IFF_UP as u32;
        let running = libc::IFF_RUNNING as u32;
        assert!(link_flags_up(up | running));
        assert!(!link_flags_up(up));
        assert!(!link_flags_up(running));
    }

    fn state_with(items: Vec<Item>) -> Sources {
        let slot = |state| ScriptSlot {
            state,
            generation: 1,
        };
        Sources {
            instances: vec![InstanceState {
                name: "VI_1".into(),
                items,
                current: (0, false),
                parts: Vec::new(),
            }],
            scripts: [("a".to_string(), slot(Init)), ("b".to_string(), slot(Init))].into(),
            files: [(PathBuf::from("/f"), 0)].into(),
            links: HashMap::new(),
        }
    }

    #[test]
    fn aggregate_sums_and_ors() {
        let mut st = state_with(vec![
            Item::Script {
                name: "a".into(),
                weight: -20,
            },
            Item::Script {
                name: "b".into(),
                weight: 0,
            },
            Item::Interface {
                name: "eth0".into(),
                weight: 5,
            },
            Item::File {
                path: "/f".into(),
                weight: 2,
            },
        ]);
        st.links.insert("eth0".into(), true);
        st.files.insert("/f".into(), 4);
        st.scripts.get_mut("a").unwrap().state = Bad;
        st.scripts.get_mut("b").unwrap().state = Good;
        assert_eq!(st.aggregate(&st.instances[0].items), (-20 + 5 + 8, false));
        st.scripts.get_mut("b").unwrap().state = Bad;
        let ups = st.refresh(Source::Script("b"), "script b failing");
        assert_eq!(
            ups,
            vec![TrackUpdate {
                instance: "VI_1".into(),
                delta: -7,
                fault: true,
                reason: "script b failing".into(),
                items: st.contributions(&st.instances[0].items),
            }]
        );
        // No change, no update.
        assert!(st.refresh(Source::Script("b"), "again").is_empty());
        // A source the instance does not track never produces updates.
        assert!(st.refresh(Source::Interface("eth9"), "x").is_empty());
        // An item whose state changes while the aggregate stays is still news for status.
        st.scripts.get_mut("b").unwrap().state = Good;
        assert_eq!(st.refresh(Source::Script("b"), "b good").len(), 1);
        st.scripts.get_mut("b").unwrap().state = Init;
        let ups = st.refresh(Source::Script("b"), "b pending");
        assert_eq!(ups.len(), 1);
        assert_eq!((ups[0].delta, ups[0].fault), (-20 + 5 + 8, false));
        assert_eq!(ups[0].items[1].state, ItemState::Init);
    }
}
