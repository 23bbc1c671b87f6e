//! Scenario tests as data: every `tests/scenarios/*.json` file is a recorded
//! event sequence with the exact actions expected after each event, replayed
//! against one `Instance` with a virtual clock. A new RFC case is a new file.
//! The format is described in `tests/scenarios/README.md`.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;
use vrrp_ha::core::instance::{Action, DropReason, Event, Instance, Params, State, Timer, Vip};
use vrrp_ha::core::packet::{Advert, Auth, ChecksumForm, ChecksumMode, Version};
use vrrp_ha::core::time::Instant;
use vrrp_ha::core::track::Tracking;

/// The instance parameters as written in a scenario (every field has a default).
#[derive(Deserialize, Clone, Debug)]
#[serde(default, deny_unknown_fields)]
struct TParams {
    name: String,
    vrid: u8,
    version: u8,
    priority: u8,
    interval_cs: u16,
    preempt: bool,
    preempt_delay_ms: u64,
    accept: bool,
    auth: Option<String>,
    vips: Vec<IpAddr>,
    primary: IpAddr,
    unicast_peers: Vec<IpAddr>,
    garp_refresh_ms: u64,
    garp_delay_ms: u64,
}

impl Default for TParams {
    fn default() -> Self {
        TParams {
            name: "vi".into(),
            vrid: 51,
            version: 3,
            priority: 100,
            interval_cs: 100,
            preempt: true,
            preempt_delay_ms: 0,
            accept: false,
            auth: None,
            vips: vec!["192.0.2.100".parse().expect("literal")],
            primary: "192.0.2.10".parse().expect("literal"),
            unicast_peers: vec![],
            garp_refresh_ms: 0,
            garp_delay_ms: 0,
        }
    }
}

fn version(v: u8) -> Result<Version, String> {
    match v {
        2 => Ok(Version::V2),
        3 => Ok(Version::V3),
        other => Err(format!("version must be 2 or 3, not {other}")),
    }
}

fn password(s: &str) -> Result<[u8; 8], String> {
    let bytes = s.as_bytes();
    if bytes.len() > 8 {
        return Err(format!("password {s:?} longer than 8 bytes"));
    }
    let mut pw = [0u8; 8];
    pw[..bytes.len()].copy_from_slice(bytes);
    Ok(pw)
}

impl TParams {
    fn to_core(&self) -> Result<Params, String> {
        Ok(Params {
            name: self.name.clone(),
            vrid: self.vrid,
            version: version(self.version)?,
            priority: self.priority,
            interval_cs: self.interval_cs,
            preempt: self.preempt,
            preempt_delay: Duration::from_millis(self.preempt_delay_ms),
            accept: self.accept,
            auth: self.auth.as_deref().map(password).transpose()?,
            vips: self
                .vips
                .iter()
                .map(|a| Vip::new(*a, if a.is_ipv6() { 64 } else { 24 }))
                .collect(),
            primary: self.primary,
            unicast_peers: self.unicast_peers.clone(),
            garp_repeat: 1,
            garp_delay: Duration::from_millis(self.garp_delay_ms),
            garp_refresh: Duration::from_millis(self.garp_refresh_ms),
            checksum: ChecksumMode::PseudoHeader,
            witness: None,
        })
    }
}

/// An input event. Advert fields left out default to a valid advert for our instance.
#[derive(Deserialize, Debug)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum TEvent {
    Startup,
    Shutdown,
    LinkUp,
    LinkDown,
    Timer {
        timer: String,
    },
    Track {
        #[serde(default)]
        delta: i32,
        #[serde(default)]
        fault: bool,
    },
    /// A patch merged into the scenario's current params.
    Reconfigure {
        params: Value,
    },
    Advert {
        src: IpAddr,
        priority: u8,
        #[serde(default)]
        ttl: Option<u8>,
        #[serde(default)]
        checksum: Option<String>,
        #[serde(default)]
        version: Option<u8>,
        #[serde(default)]
        vrid: Option<u8>,
        #[serde(default)]
        interval_cs: Option<u16>,
        /// "none" (type 0) or a password (type 1); default: as configured.
        #[serde(default)]
        auth: Option<String>,
        #[serde(default)]
        addrs: Option<Vec<IpAddr>>,
    },
}

/// An expected action. `at_ms` may be fractional (timers are exact to the nanosecond).
#[derive(Deserialize, Debug)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
enum TAction {
    SendAdvert {
        priority: u8,
    },
    AddVips,
    RemoveVips,
    Announce,
    ArmTimer {
        timer: String,
        at_ms: f64,
    },
    CancelTimer {
        timer: String,
    },
    Transition {
        from: String,
        to: String,
        reason: String,
    },
    Drop {
        reason: String,
    },
    AddressMismatch {
        src: IpAddr,
    },
}

/// Actions in a canonical, comparable and printable form.
#[derive(Clone, PartialEq, Debug)]
enum Canon {
    SendAdvert(u8),
    AddVips,
    RemoveVips,
    Announce,
    ArmTimer(String, u64),
    CancelTimer(String),
    Transition(String, String, String),
    Drop(String),
    AddressMismatch(IpAddr),
}

impl fmt::Display for Canon {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Canon::SendAdvert(p) => write!(f, r#"{{"action": "send_advert", "priority": {p}}}"#),
            Canon::AddVips => write!(f, r#"{{"action": "add_vips"}}"#),
            Canon::RemoveVips => write!(f, r#"{{"action": "remove_vips"}}"#),
            Canon::Announce => write!(f, r#"{{"action": "announce"}}"#),
            Canon::ArmTimer(t, ns) => write!(
                f,
                r#"{{"action": "arm_timer", "timer": "{t}", "at_ms": {}}}"#,
                *ns as f64 / 1e6
            ),
            Canon::CancelTimer(t) => write!(f, r#"{{"action": "cancel_timer", "timer": "{t}"}}"#),
            Canon::Transition(a, b, r) => write!(
                f,
                r#"{{"action": "transition", "from": "{a}", "to": "{b}", "reason": "{r}"}}"#
            ),
            Canon::Drop(r) => write!(f, r#"{{"action": "drop", "reason": "{r}"}}"#),
            Canon::AddressMismatch(s) => {
                write!(f, r#"{{"action": "address_mismatch", "src": "{s}"}}"#)
            }
        }
    }
}

fn canon_expected(a: &TAction) -> Canon {
    match a {
        TAction::SendAdvert { priority } => Canon::SendAdvert(*priority),
        TAction::AddVips => Canon::AddVips,
        TAction::RemoveVips => Canon::RemoveVips,
        TAction::Announce => Canon::Announce,
        TAction::ArmTimer { timer, at_ms } => {
            Canon::ArmTimer(timer.clone(), (at_ms * 1e6).round() as u64)
        }
        TAction::CancelTimer { timer } => Canon::CancelTimer(timer.clone()),
        TAction::Transition { from, to, reason } => {
            Canon::Transition(from.clone(), to.clone(), reason.clone())
        }
        TAction::Drop { reason } => Canon::Drop(reason.clone()),
        TAction::AddressMismatch { src } => Canon::AddressMismatch(*src),
    }
}

/// The core's action in the scenario vocabulary; `None` for what the vocabulary leaves
/// out (status notices, first-peer notices).
fn canon_actual(a: &Action) -> Option<Canon> {
    Some(match a {
        Action::Send(adv) => Canon::SendAdvert(adv.priority),
        Action::InstallVips(_) => Canon::AddVips,
        Action::RemoveVips(_) => Canon::RemoveVips,
        Action::Announce(_) => Canon::Announce,
        Action::Transition { from, to, reason } => {
            Canon::Transition(from.to_string(), to.to_string(), reason.to_string())
        }
        Action::Drop { reason, .. } => Canon::Drop(reason.as_str().into()),
        Action::AddressMismatch { src } => Canon::AddressMismatch(*src),
        Action::Malformed { .. }
        | Action::OtherMaster { .. }
        | Action::DrainRefused(_)
        | Action::HandingOver { .. }
        | Action::PeerSeen { .. }
        | Action::CannotEncode(_)
        | Action::AskWitnesses(_)
        | Action::WitnessHold(_)
        | Action::StatusChanged => return None,
    })
}

/// The instance's armed deadlines, per timer.
fn deadlines(inst: &Instance) -> Vec<(Timer, Option<Instant>)> {
    Timer::ALL.iter().map(|t| (*t, inst.deadline(*t))).collect()
}

/// The timer changes of one step in the scenario vocabulary: the core owns its timers
/// and reports deadlines, not arm/cancel actions, so they are derived from the
/// deadlines before and after.
fn timer_changes(before: &[(Timer, Option<Instant>)], inst: &Instance) -> Vec<Canon> {
    let mut out = Vec::new();
    for ((t, old), (_, new)) in before.iter().zip(deadlines(inst)) {
        if *old == new {
            continue;
        }
        out.push(match new {
            Some(at) => Canon::ArmTimer(
                t.as_str().into(),
                u64::try_from(at.since_origin().as_nanos()).unwrap_or(u64::MAX),
            ),
            None => Canon::CancelTimer(t.as_str().into()),
        });
    }
    out
}

fn is_timer(c: &Canon) -> bool {
    matches!(c, Canon::ArmTimer(..) | Canon::CancelTimer(_))
}

fn timer(name: &str) -> Result<Timer, String> {
    [
        Timer::Advert,
        Timer::MasterDown,
        Timer::PreemptDelay,
        Timer::GarpRefresh,
    ]
    .into_iter()
    .find(|t| t.as_str() == name)
    .ok_or_else(|| format!("unknown timer {name:?}"))
}

/// Counters checked at the end of a scenario (absent = not checked).
#[derive(Deserialize, Debug, Default)]
#[serde(default, deny_unknown_fields)]
struct TStats {
    drops: Option<BTreeMap<String, u64>>,
    transitions: Option<u64>,
    adverts_sent: Option<u64>,
    adverts_received: Option<u64>,
    address_mismatches: Option<u64>,
    master: Option<Option<IpAddr>>,
    /// Per sender: [message-only, pseudo-header].
    checksum_forms: Option<BTreeMap<IpAddr, (u64, u64)>>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct Step {
    at_ms: f64,
    event: TEvent,
    #[serde(default)]
    expect: Vec<TAction>,
    /// State after the step, if given.
    #[serde(default)]
    state: Option<String>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct Scenario {
    description: String,
    /// The rule(s) the case checks, e.g. "RFC 9568 section 6.4.3".
    rfc: String,
    #[serde(default)]
    params: Value,
    steps: Vec<Step>,
    #[serde(default)]
    stats: Option<TStats>,
}

fn merge(base: &mut Value, patch: &Value) {
    if let (Value::Object(b), Value::Object(p)) = (base, patch) {
        for (k, v) in p {
            b.insert(k.clone(), v.clone());
        }
    }
}

fn params_from(v: &Value) -> Result<TParams, String> {
    if v.is_null() {
        return Ok(TParams::default());
    }
    serde_json::from_value(v.clone()).map_err(|e| format!("params: {e}"))
}

fn build_event(e: &TEvent, params: &mut Value, current: &TParams) -> Result<Event, String> {
    Ok(match e {
        TEvent::Startup => Event::Startup,
        TEvent::Shutdown => Event::Shutdown,
        TEvent::LinkUp => Event::LinkUp,
        TEvent::LinkDown => Event::LinkDown,
        TEvent::Timer { timer: t } => Event::Timer(timer(t)?),
        TEvent::Track { delta, fault } => Event::Track(Tracking {
            delta: *delta,
            fault: *fault,
            items: vec![],
        }),
        TEvent::Reconfigure { params: patch } => {
            if params.is_null() {
                *params = Value::Object(Default::default());
            }
            merge(params, patch);
            Event::Reconfigure(params_from(params)?.to_core()?)
        }
        TEvent::Advert {
            src,
            priority,
            ttl,
            checksum,
            version: v,
            vrid,
            interval_cs,
            auth,
            addrs,
        } => {
            let version = version(v.unwrap_or(current.version))?;
            let auth = match version {
                Version::V3 => None,
                Version::V2 => Some(match auth.as_deref().or(current.auth.as_deref()) {
                    None | Some("none") => Auth::None([0; 8]),
                    Some(pw) => Auth::Simple(password(pw)?),
                }),
            };
            let checksum = match checksum.as_deref() {
                None | Some("message") => ChecksumForm::Message,
                Some("pseudo_header") => ChecksumForm::PseudoHeader,
                Some(other) => return Err(format!("unknown checksum form {other:?}")),
            };
            Event::Advert {
                src: *src,
                ttl: ttl.unwrap_or(255),
                checksum,
                advert: Advert {
                    version,
                    vrid: vrid.unwrap_or(current.vrid),
                    priority: *priority,
                    interval_cs: interval_cs.unwrap_or(current.interval_cs),
                    auth,
                    addrs: addrs.clone().unwrap_or_else(|| current.vips.clone()),
                },
            }
        }
    })
}

fn show(list: &[Canon]) -> String {
    if list.is_empty() {
        return "    (none)".into();
    }
    list.iter()
        .map(|c| format!("    {c}"))
        .collect::<Vec<_>>()
        .join(",\n")
}

fn check_stats(inst: &Instance, want: &TStats) -> Result<(), String> {
    let s = inst.stats();
    let mut errs = Vec::new();
    if let Some(drops) = &want.drops {
        let got: BTreeMap<String, u64> = DropReason::ALL
            .iter()
            .filter(|r| s.drops_for(**r) > 0)
            .map(|r| (r.as_str().to_string(), s.drops_for(*r)))
            .collect();
        if &got != drops {
            errs.push(format!("drops: want {drops:?}, got {got:?}"));
        }
    }
    let mut num = |name: &str, want: Option<u64>, got: u64| {
        if let Some(w) = want {
            if w != got {
                errs.push(format!("{name}: want {w}, got {got}"));
            }
        }
    };
    num("transitions", want.transitions, s.transitions);
    num("adverts_sent", want.adverts_sent, s.adverts_sent);
    num(
        "adverts_received",
        want.adverts_received,
        s.adverts_received,
    );
    num(
        "address_mismatches",
        want.address_mismatches,
        s.address_mismatches,
    );
    if let Some(m) = want.master {
        if m != s.master {
            errs.push(format!("master: want {m:?}, got {:?}", s.master));
        }
    }
    if let Some(forms) = &want.checksum_forms {
        if forms != &s.checksum_forms {
            errs.push(format!(
                "checksum_forms: want {forms:?}, got {:?}",
                s.checksum_forms
            ));
        }
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(format!("final stats differ:\n  {}", errs.join("\n  ")))
    }
}

fn run(path: &Path) -> Result<usize, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("read: {e}"))?;
    let sc: Scenario = serde_json::from_str(&text).map_err(|e| format!("parse: {e}"))?;
    if sc.description.trim().is_empty() || sc.rfc.trim().is_empty() {
        return Err("description and rfc must not be empty".into());
    }
    let mut params_json = sc.params.clone();
    let mut current = params_from(&params_json)?;
    let mut inst = Instance::new(current.to_core()?);
    let mut last_ms = f64::NEG_INFINITY;
    for (n, step) in sc.steps.iter().enumerate() {
        if step.at_ms < last_ms || step.at_ms < 0.0 {
            return Err(format!("step {n}: at_ms goes backwards"));
        }
        last_ms = step.at_ms;
        let now = Instant::from_origin(Duration::from_nanos((step.at_ms * 1e6).round() as u64));
        let event = build_event(&step.event, &mut params_json, &current)?;
        if let Event::Reconfigure(_) = &event {
            current = params_from(&params_json)?;
        }
        let mut before = deadlines(&inst);
        if let Event::Timer(fired) = &event {
            // A timer that fires is consumed by firing, not cancelled.
            for (t, at) in &mut before {
                if t == fired {
                    *at = None;
                }
            }
        }
        let actions = inst.handle(event, now);
        let got: Vec<Canon> = actions.iter().filter_map(canon_actual).collect();
        let got_timers = timer_changes(&before, &inst);
        let want: Vec<Canon> = step.expect.iter().map(canon_expected).collect();
        // Actions compare in order; timer changes as a set (they are not actions any more).
        let (want_timers, want_rest): (Vec<Canon>, Vec<Canon>) =
            want.iter().cloned().partition(is_timer);
        let same_timers = want_timers.len() == got_timers.len()
            && want_timers.iter().all(|t| got_timers.contains(t));
        if got != want_rest || !same_timers {
            let got: Vec<Canon> = got.into_iter().chain(got_timers).collect();
            return Err(format!(
                "step {n} (at {} ms, {:?}): actions differ\n  expected:\n{}\n  got:\n{}",
                step.at_ms,
                step.event,
                show(&want),
                show(&got)
            ));
        }
        if let Some(st) = &step.state {
            let now_state: State = inst.state();
            if &now_state.to_string() != st {
                return Err(format!("step {n}: state {now_state}, expected {st}"));
            }
        }
    }
    if let Some(want) = &sc.stats {
        check_stats(&inst, want)?;
    }
    Ok(sc.steps.len())
}

fn scenario_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
}

#[test]
fn scenarios_replay_exactly() {
    let files = scenario_files();
    assert!(
        files.len() >= 15,
        "expected at least 15 scenario files, found {}",
        files.len()
    );
    let mut failures = Vec::new();
    let mut steps = 0;
    for f in &files {
        match run(f) {
            Ok(n) => steps += n,
            Err(e) => failures.push(format!(
                "{}: {e}",
                f.file_name()
                    .map(|n| n.to_string_lossy())
                    .unwrap_or_default()
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} scenarios failed:\n\n{}",
        failures.len(),
        files.len(),
        failures.join("\n\n")
    );
    println!("{} scenarios, {steps} steps replayed", files.len());
}
