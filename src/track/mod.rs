//! Tracking: scripts, interfaces and files that move an instance's effective priority.
//!
//! [`Tracker::spawn`] starts one runner per tracked script and one watcher per
//! tracked file on the current tokio runtime; the daemon forwards link events with
//! [`Tracker::link_changed`]. Whenever an instance's aggregate (priority delta, fault)
//! changes, a [`TrackUpdate`] carrying the new absolute values is sent.
//!
//! Weights follow keepalived:
//! - script: weight 0 => failing is a fault; negative => added while failing;
//!   positive => added while succeeding. A script with no result yet counts as
//!   neither; its first result decides at once. `track-script weight=` overrides the
//!   script's own weight.
//! - interface: weight 0 => down is a fault; negative => added while down;
//!   positive => added while up. "Up" means IFF_UP and IFF_RUNNING (carrier).
//! - file: value x weight is added; with weight 0 a non-zero value is a fault, and a
//!   product below -253 is a fault too.

pub mod file;
pub mod script;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use tokio::task::JoinHandle;

use crate::config::{Config, Script, TrackFile, TrackInterface, TrackScript};
pub use script::{check_script, check_script_security, ScriptState, SecurityError};

/// Largest magnitude one tracked item may contribute (a priority span).
const MAX_CONTRIBUTION: i64 = 254;

/// A change of one instance's tracking aggregate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrackUpdate {
    /// Instance name.
    pub instance: String,
    /// Sum of the active weights, to add to the configured priority.
    pub delta: i32,
    /// Whether something tracked puts the instance in Fault.
    pub fault: bool,
    /// What changed, for the log and VRRP_REASON.
    pub reason: String,
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

/// One tracked item of an instance, pointing into the shared source tables.
#[derive(Clone, Debug)]
enum Item {
    Script { index: usize, weight: i32 },
    Interface { name: String, weight: i32 },
    File { index: usize, weight: i32 },
}

/// Per-instance aggregation state.
#[derive(Debug)]
struct InstanceState {
    name: String,
    items: Vec<Item>,
    current: (i32, bool),
}

/// The current value of every source, shared by runners and the daemon.
#[derive(Debug)]
struct State {
    instances: Vec<InstanceState>,
    script_names: Vec<String>,
    script_states: Vec<ScriptState>,
    file_paths: Vec<PathBuf>,
    file_values: Vec<i64>,
    links: HashMap<String, bool>,
}

/// What a change came from, to find the instances it affects.
enum Source<'a> {
    Script(usize),
    File(usize),
    Interface(&'a str),
}

impl State {
    /// Computes an instance's (delta, fault) from the current source values.
    fn aggregate(&self, items: &[Item]) -> (i32, bool) {
        let mut delta: i64 = 0;
        let mut fault = false;
        for item in items {
            match *item {
                Item::Script { index, weight } => {
                    let (d, f) = script_contribution(self.script_states[index], weight);
                    delta += i64::from(d);
                    fault |= f;
                }
                Item::Interface { ref name, weight } => {
                    let up = self.links.get(name).copied().unwrap_or(false);
                    let (d, f) = interface_contribution(up, weight);
                    delta += i64::from(d);
                    fault |= f;
                }
                Item::File { index, weight } => {
                    let (d, f) = file_contribution(self.file_values[index], weight);
                    delta += i64::from(d);
                    fault |= f;
                }
            }
        }
        let delta = delta.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32;
        (delta, fault)
    }

    /// Re-aggregates the instances that track `source`; returns their updates.
    fn refresh(&mut self, source: Source<'_>, reason: &str) -> Vec<TrackUpdate> {
        let mut updates = Vec::new();
        for i in 0..self.instances.len() {
            let uses = self.instances[i]
                .items
                .iter()
                .any(|item| match (item, &source) {
                    (Item::Script { index, .. }, Source::Script(s)) => index == s,
                    (Item::File { index, .. }, Source::File(f)) => index == f,
                    (Item::Interface { name, .. }, Source::Interface(n)) => name == n,
                    _ => false,
                });
            if !uses {
                continue;
            }
            let now = self.aggregate(&self.instances[i].items);
            let inst = &mut self.instances[i];
            if now != inst.current {
                inst.current = now;
                updates.push(TrackUpdate {
                    instance: inst.name.clone(),
                    delta: now.0,
                    fault: now.1,
                    reason: reason.to_string(),
                });
            }
        }
        updates
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

/// A track file's contribution (delta, fault) given its value and weight.
pub fn file_contribution(value: i64, weight: i32) -> (i32, bool) {
    if weight == 0 {
        return (0, value != 0);
    }
    let product = value.saturating_mul(i64::from(weight));
    if product < -253 {
        return (0, true);
    }
    (product.min(MAX_CONTRIBUTION) as i32, false)
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

/// Tracking for all instances; dropping it stops every runner and watcher (and kills
/// any script still running).
pub struct Tracker {
    state: Arc<Mutex<State>>,
    tx: UnboundedSender<TrackUpdate>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Tracker {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
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
        let mut script_names: Vec<String> = Vec::new();
        let mut script_defs: Vec<Option<Script>> = Vec::new();
        let mut file_paths: Vec<PathBuf> = Vec::new();
        let mut instances = Vec::new();
        for inst in &spec.instances {
            let mut items = Vec::new();
            for ts in &inst.scripts {
                let index = match script_names.iter().position(|n| *n == ts.name) {
                    Some(i) => i,
                    None => {
                        let def = spec.scripts.iter().find(|s| s.name == ts.name).cloned();
                        if def.is_none() {
                            tracing::error!(
                                instance = %inst.name,
                                "track-script `{}` names no script; counting it as failing",
                                ts.name
                            );
                        }
                        script_names.push(ts.name.clone());
                        script_defs.push(def);
                        script_names.len() - 1
                    }
                };
                let own = script_defs[index].as_ref().map_or(0, |s| s.weight);
                items.push(Item::Script {
                    index,
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
                let index = match file_paths.iter().position(|p| *p == tf.path) {
                    Some(i) => i,
                    None => {
                        file_paths.push(tf.path.clone());
                        file_paths.len() - 1
                    }
                };
                items.push(Item::File {
                    index,
                    weight: tf.weight,
                });
            }
            instances.push(InstanceState {
                name: inst.name.clone(),
                items,
                current: (0, false),
            });
        }
        let script_states = script_defs
            .iter()
            .map(|d| match d {
                Some(_) => ScriptState::Init,
                None => ScriptState::Bad,
            })
            .collect();
        let file_values = file_paths.iter().map(|p| file::read_value(p)).collect();
        let links = if instances.iter().any(|i| {
            i.items
                .iter()
                .any(|it| matches!(it, Item::Interface { .. }))
        }) {
            current_links()
        } else {
            HashMap::new()
        };
        let mut state = State {
            instances,
            script_names,
            script_states,
            file_paths: file_paths.clone(),
            file_values,
            links,
        };
        for i in 0..state.instances.len() {
            let now = state.aggregate(&state.instances[i].items);
            state.instances[i].current = now;
        }
        let state = Arc::new(Mutex::new(state));

        let mut tasks = Vec::new();
        for (index, def) in script_defs.into_iter().enumerate() {
            let Some(def) = def else { continue };
            let state = Arc::clone(&state);
            let tx = tx.clone();
            let name = def.name.clone();
            tasks.push(tokio::spawn(script::run_forever(
                def,
                move |new_state, detail| {
                    let word = match new_state {
                        ScriptState::Good => "succeeding",
                        ScriptState::Bad => "failing",
                        ScriptState::Init => "pending",
                    };
                    tracing::info!(script = %name, "script now {word} (last run {detail})");
                    let reason = format!("script {name} {word}");
                    let updates = {
                        let mut st = lock(&state);
                        st.script_states[index] = new_state;
                        st.refresh(Source::Script(index), &reason)
                    };
                    send_all(&tx, updates);
                },
            )));
        }
        for (index, path) in file_paths.into_iter().enumerate() {
            let initial = lock(&state).file_values[index];
            let state = Arc::clone(&state);
            let tx = tx.clone();
            let shown = path.display().to_string();
            tasks.push(tokio::spawn(file::watch_forever(
                path,
                initial,
                move |value| {
                    let reason = format!("file {shown} now {value}");
                    tracing::info!("track {reason}");
                    let updates = {
                        let mut st = lock(&state);
                        st.file_values[index] = value;
                        st.refresh(Source::File(index), &reason)
                    };
                    send_all(&tx, updates);
                },
            )));
        }
        (Tracker { state, tx, tasks }, rx)
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

    /// The current state of every tracked script, by name (for status output).
    pub fn script_states(&self) -> Vec<(String, ScriptState)> {
        let st = lock(&self.state);
        st.script_names
            .iter()
            .cloned()
            .zip(st.script_states.iter().copied())
            .collect()
    }

    /// The current value of every tracked file (for status output).
    pub fn file_values(&self) -> Vec<(PathBuf, i64)> {
        let st = lock(&self.state);
        st.file_paths
            .iter()
            .cloned()
            .zip(st.file_values.iter().copied())
            .collect()
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
        assert_eq!(file_contribution(i64::MAX, 2), (254, false));
    }

    #[test]
    fn link_flags() {
        let up = libc::IFF_UP as u32;
        let running = libc::IFF_RUNNING as u32;
        assert!(link_flags_up(up | running));
        assert!(!link_flags_up(up));
        assert!(!link_flags_up(running));
    }

    fn state_with(items: Vec<Item>) -> State {
        State {
            instances: vec![InstanceState {
                name: "VI_1".into(),
                items,
                current: (0, false),
            }],
            script_names: vec!["a".into(), "b".into()],
            script_states: vec![Init, Init],
            file_paths: vec![PathBuf::from("/f")],
            file_values: vec![0],
            links: HashMap::new(),
        }
    }

    #[test]
    fn aggregate_sums_and_ors() {
        let mut st = state_with(vec![
            Item::Script {
                index: 0,
                weight: -20,
            },
            Item::Script {
                index: 1,
                weight: 0,
            },
            Item::Interface {
                name: "eth0".into(),
                weight: 5,
            },
            Item::File {
                index: 0,
                weight: 2,
            },
        ]);
        st.links.insert("eth0".into(), true);
        st.file_values[0] = 4;
        st.script_states = vec![Bad, Good];
        assert_eq!(st.aggregate(&st.instances[0].items), (-20 + 5 + 8, false));
        st.script_states[1] = Bad;
        let ups = st.refresh(Source::Script(1), "script b failing");
        assert_eq!(
            ups,
            vec![TrackUpdate {
                instance: "VI_1".into(),
                delta: -7,
                fault: true,
                reason: "script b failing".into()
            }]
        );
        // No change, no update.
        assert!(st.refresh(Source::Script(1), "again").is_empty());
        // A source the instance does not track never produces updates.
        assert!(st.refresh(Source::Interface("eth9"), "x").is_empty());
    }
}
