//! All the instances of one daemon plus their sync groups, driven as one.
//!
//! Each instance lives in one slot, found by its [`InstanceId`], holding its core
//! half (the [`Instance`]) and whatever the shell keeps for it (`T`: sockets,
//! interfaces). The shell hands every event for an instance to [`Router::handle`];
//! the router runs the instance, routes member transitions through their sync group
//! and feeds the group's commands back to the other members, so the shell only
//! carries out the outputs, in order. Deadlines are the router's too: the shell asks
//! [`Router::poll_timeout`] when to come back and calls [`Router::handle_timeout`]
//! then (an index keeps both cheap with hundreds of instances).

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::fmt;

use super::instance::{Action, Event, Instance, State, SyncCommand};
use super::reason::SyncReason;
use super::sync_group::{GroupTransition, SyncGroup};
use super::time::Instant;

/// Identifies one instance for its whole life in the router (never reused).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InstanceId(u32);

impl fmt::Display for InstanceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// One thing for the shell to do, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// An action of one instance.
    Instance {
        /// Which instance.
        id: InstanceId,
        /// What to do.
        action: Action,
    },
    /// A sync group changed state (run its hooks once).
    Group {
        /// Group name.
        name: String,
        /// The change.
        transition: GroupTransition,
    },
}

/// One instance: its state machine and the shell's part.
#[derive(Clone, Debug)]
pub struct Slot<T> {
    core: Instance,
    /// The shell's part of this instance.
    pub io: T,
    deadline: Option<Instant>,
}

impl<T> Slot<T> {
    /// The state machine.
    pub fn core(&self) -> &Instance {
        &self.core
    }
}

/// The instances and sync groups of one daemon.
#[derive(Clone, Debug)]
pub struct Router<T> {
    slots: BTreeMap<InstanceId, Slot<T>>,
    names: HashMap<String, InstanceId>,
    groups: Vec<SyncGroup>,
    deadlines: BTreeSet<(Instant, InstanceId)>,
    next_id: u32,
}

impl<T> Default for Router<T> {
    fn default() -> Self {
        Router {
            slots: BTreeMap::new(),
            names: HashMap::new(),
            groups: Vec::new(),
            deadlines: BTreeSet::new(),
            next_id: 0,
        }
    }
}

impl<T> Router<T> {
    /// An empty router with these sync groups (members by instance name).
    pub fn new(groups: Vec<SyncGroup>) -> Router<T> {
        Router {
            groups,
            ..Router::default()
        }
    }

    /// Add an instance (stopped; it starts on `Event::Startup`). Its name must be unique:
    /// an instance of the same name is removed first and returned.
    pub fn insert(&mut self, core: Instance, io: T) -> (InstanceId, Option<(Instance, T)>) {
        let old = self
            .names
            .get(&core.params().name)
            .copied()
            .and_then(|id| self.remove(id));
        let id = InstanceId(self.next_id);
        self.next_id += 1;
        self.names.insert(core.params().name.clone(), id);
        let deadline = core.poll_timeout();
        if let Some(at) = deadline {
            self.deadlines.insert((at, id));
        }
        self.slots.insert(id, Slot { core, io, deadline });
        (id, old)
    }

    /// Remove an instance (after its Shutdown); returns both halves.
    pub fn remove(&mut self, id: InstanceId) -> Option<(Instance, T)> {
        let slot = self.slots.remove(&id)?;
        if let Some(at) = slot.deadline {
            self.deadlines.remove(&(at, id));
        }
        self.names.remove(&slot.core.params().name);
        Some((slot.core, slot.io))
    }

    /// The instance called `name`.
    pub fn id_of(&self, name: &str) -> Option<InstanceId> {
        self.names.get(name).copied()
    }

    /// One slot.
    pub fn get(&self, id: InstanceId) -> Option<&Slot<T>> {
        self.slots.get(&id)
    }

    /// The shell's part of one instance.
    pub fn io_mut(&mut self, id: InstanceId) -> Option<&mut T> {
        self.slots.get_mut(&id).map(|s| &mut s.io)
    }

    /// The state machine of one instance.
    pub fn instance(&self, id: InstanceId) -> Option<&Instance> {
        self.slots.get(&id).map(|s| &s.core)
    }

    /// Every slot, in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (InstanceId, &Slot<T>)> {
        self.slots.iter().map(|(id, s)| (*id, s))
    }

    /// Every slot's shell part, mutable, in insertion order.
    pub fn iter_io_mut(&mut self) -> impl Iterator<Item = (InstanceId, &mut T)> {
        self.slots.iter_mut().map(|(id, s)| (*id, &mut s.io))
    }

    /// Number of instances.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// No instances.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Every sync group.
    pub fn groups(&self) -> &[SyncGroup] {
        &self.groups
    }

    /// The earliest deadline of any instance: when [`Router::handle_timeout`] has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadlines.first().map(|(at, _)| *at)
    }

    /// Fire every timer due at `now`, instance by instance in deadline order.
    pub fn handle_timeout(&mut self, now: Instant) -> Vec<Output> {
        let mut out = Vec::new();
        let due: Vec<InstanceId> = self
            .deadlines
            .iter()
            .take_while(|(at, _)| *at <= now)
            .map(|(_, id)| *id)
            .collect();
        for id in due {
            let Some(slot) = self.slots.get_mut(&id) else {
                continue;
            };
            let actions = slot.core.handle_timeout(now);
            self.reindex(id);
            self.route(id, actions, now, &mut out);
        }
        out
    }

    /// Feed `event` to instance `id` at `now`; unknown ids yield nothing.
    pub fn handle(&mut self, id: InstanceId, event: Event, now: Instant) -> Vec<Output> {
        let mut out = Vec::new();
        let Some(slot) = self.slots.get_mut(&id) else {
            return out;
        };
        let actions = slot.core.handle(event, now);
        self.reindex(id);
        self.route(id, actions, now, &mut out);
        out
    }

    /// Replace the sync groups (a reload). Groups whose name and members are unchanged
    /// keep their state, so they do not re-run their actions; a member that a removed or
    /// changed group held in Fault is released unless a new group holds it again.
    pub fn set_groups(&mut self, groups: Vec<SyncGroup>, now: Instant) -> Vec<Output> {
        let mut old = std::mem::take(&mut self.groups);
        let mut next = Vec::with_capacity(groups.len());
        for g in groups {
            let kept = old
                .iter()
                .position(|o| o.name() == g.name() && o.members() == g.members());
            next.push(match kept {
                Some(i) => old.remove(i),
                None => g,
            });
        }
        self.groups = next;
        // What the leaving groups held, and by whom, for the release reason.
        let mut released: Vec<(String, String)> = Vec::new();
        for g in &old {
            for m in g.members() {
                if g.holds(m) && !released.iter().any(|(n, _)| n == m) {
                    released.push((m.clone(), g.name().to_string()));
                }
            }
        }
        let mut out = Vec::new();
        let mut queue = VecDeque::new();
        self.reconcile(&mut queue);
        for (member, group) in released {
            if self.groups.iter().any(|g| g.holds(&member)) {
                continue;
            }
            let event = Event::Sync {
                command: SyncCommand::Recover,
                reason: SyncReason::GroupRemoved { group },
            };
            queue.push_back((member, event, true));
        }
        self.drain(&mut queue, now, &mut out);
        out
    }

    fn reindex(&mut self, id: InstanceId) {
        let Some(slot) = self.slots.get_mut(&id) else {
            return;
        };
        let next = slot.core.poll_timeout();
        if next != slot.deadline {
            if let Some(at) = slot.deadline {
                self.deadlines.remove(&(at, id));
            }
            if let Some(at) = next {
                self.deadlines.insert((at, id));
            }
            slot.deadline = next;
        }
    }

    /// Emit `actions` of instance `id` and run whatever its sync groups make of them.
    fn route(&mut self, id: InstanceId, actions: Vec<Action>, now: Instant, out: &mut Vec<Output>) {
        let mut queue = VecDeque::new();
        self.emit(id, actions, false, &mut queue, out);
        self.drain(&mut queue, now, out);
    }

    fn drain(
        &mut self,
        queue: &mut VecDeque<(String, Event, bool)>,
        now: Instant,
        out: &mut Vec<Output>,
    ) {
        loop {
            while let Some((name, event, forced)) = queue.pop_front() {
                let Some(id) = self.id_of(&name) else {
                    continue;
                };
                let Some(slot) = self.slots.get_mut(&id) else {
                    continue;
                };
                let actions = slot.core.handle(event, now);
                self.reindex(id);
                self.emit(id, actions, forced, queue, out);
            }
            // Fault holds follow the members' own causes, whatever event changed them;
            // the commands do not change those causes, so the second pass is quiet.
            self.reconcile(queue);
            if queue.is_empty() {
                return;
            }
        }
    }

    fn reconcile(&mut self, queue: &mut VecDeque<(String, Event, bool)>) {
        let slots = &self.slots;
        let names = &self.names;
        let own_fault = |member: &str| {
            names
                .get(member)
                .and_then(|id| slots.get(id))
                .is_some_and(|s| s.core.own_fault())
        };
        for group in &mut self.groups {
            let commands = group.reconcile(own_fault);
            queue.extend(commands.into_iter().map(|(m, e)| (m, e, true)));
        }
    }

    fn emit(
        &mut self,
        id: InstanceId,
        actions: Vec<Action>,
        forced: bool,
        queue: &mut VecDeque<(String, Event, bool)>,
        out: &mut Vec<Output>,
    ) {
        let name = match self.slots.get(&id) {
            Some(s) => s.core.params().name.clone(),
            None => return,
        };
        for action in actions {
            let transition = match &action {
                Action::Transition { from, to, reason } => Some((*from, *to, reason.clone())),
                _ => None,
            };
            out.push(Output::Instance { id, action });
            if let Some((from, to, reason)) = transition {
                let slots = &self.slots;
                let names = &self.names;
                let state_of = |member: &str| {
                    names
                        .get(member)
                        .and_then(|id| slots.get(id))
                        .map_or(State::Initialize, |s| s.core.state())
                };
                for group in self.groups.iter_mut().filter(|g| g.contains(&name)) {
                    let outcome = group.on_transition(&name, from, to, forced, &reason, state_of);
                    // Commands only come from unforced transitions, so this terminates.
                    queue.extend(outcome.commands.into_iter().map(|(m, e)| (m, e, true)));
                    if let Some(transition) = outcome.transition {
                        out.push(Output::Group {
                            name: group.name().to_string(),
                            transition,
                        });
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::instance::{Params, Timer, Vip};
    use crate::core::packet::{Advert, ChecksumForm, ChecksumMode, Version};
    use crate::core::track::Tracking;
    use std::net::IpAddr;
    use std::time::Duration;

    fn params(name: &str, vrid: u8) -> Params {
        Params {
            name: name.into(),
            vrid,
            version: Version::V3,
            priority: 100,
            interval_cs: 100,
            preempt: true,
            preempt_delay: Duration::ZERO,
            accept: true,
            auth: None,
            vips: vec![Vip::new(
                format!("192.0.2.{}", 100 + vrid).parse().unwrap(),
                24,
            )],
            primary: "192.0.2.201".parse().unwrap(),
            unicast_peers: vec![],
            garp_repeat: 1,
            garp_delay: Duration::ZERO,
            garp_refresh: Duration::ZERO,
            checksum: ChecksumMode::PseudoHeader,
            witness: None,
        }
    }

    fn g1() -> SyncGroup {
        SyncGroup::new("G1", vec!["VI_1".into(), "VI_2".into()])
    }

    fn router() -> Router<()> {
        let mut r = Router::new(vec![g1()]);
        for (name, vrid) in [("VI_1", 1), ("VI_2", 2), ("VI_3", 3)] {
            r.insert(Instance::new(params(name, vrid)), ());
        }
        r
    }

    fn id(r: &Router<()>, name: &str) -> InstanceId {
        r.id_of(name).unwrap()
    }

    fn state(r: &Router<()>, name: &str) -> State {
        r.instance(id(r, name)).map(Instance::state).unwrap()
    }

    fn handle(r: &mut Router<()>, name: &str, event: Event, ms: u64) -> Vec<Output> {
        let i = id(r, name);
        r.handle(i, event, Instant::from_millis(ms))
    }

    fn groups(out: &[Output]) -> Vec<(State, State)> {
        out.iter()
            .filter_map(|o| match o {
                Output::Group { transition, .. } => Some((transition.from, transition.to)),
                _ => None,
            })
            .collect()
    }

    fn start(r: &mut Router<()>) -> Vec<Output> {
        let mut out = Vec::new();
        for name in ["VI_1", "VI_2", "VI_3"] {
            out.extend(handle(r, name, Event::Startup, 0));
        }
        out
    }

    /// The reason of `name`'s transition among `out`.
    fn reason_of(r: &Router<()>, out: &[Output], name: &str) -> Option<String> {
        let want = id(r, name);
        out.iter().find_map(|o| match o {
            Output::Instance {
                id,
                action: Action::Transition { reason, .. },
            } if *id == want => Some(reason.to_string()),
            _ => None,
        })
    }

    /// Whether `name` got an action of this kind among `out`.
    fn did(r: &Router<()>, out: &[Output], name: &str, kind: fn(&Action) -> bool) -> bool {
        let want = id(r, name);
        out.iter()
            .any(|o| matches!(o, Output::Instance { id, action } if *id == want && kind(action)))
    }

    /// VI_1's Master_Down_Timer fires (the tests start every instance at 0).
    fn vi1_master_down(r: &mut Router<()>) -> Vec<Output> {
        handle(r, "VI_1", Event::Timer(Timer::MasterDown), 4000)
    }

    fn higher(vrid: u8) -> Event {
        Event::Advert {
            src: "192.0.2.202".parse::<IpAddr>().unwrap(),
            ttl: 255,
            checksum: ChecksumForm::PseudoHeader,
            advert: Advert {
                version: Version::V3,
                vrid,
                priority: 200,
                interval_cs: 100,
                auth: None,
                addrs: vec![format!("192.0.2.{}", 100 + vrid).parse().unwrap()],
            },
        }
    }

    fn track_fault(fault: bool) -> Event {
        Event::Track(Tracking {
            delta: 0,
            fault,
            items: vec![],
        })
    }

    #[test]
    fn one_member_master_pulls_the_group_to_master_once() {
        let mut r = router();
        assert_eq!(
            groups(&start(&mut r)),
            vec![(State::Initialize, State::Backup)]
        );
        let out = vi1_master_down(&mut r);
        assert_eq!(state(&r, "VI_1"), State::Master);
        assert_eq!(state(&r, "VI_2"), State::Master, "VI_2 follows VI_1");
        assert_eq!(state(&r, "VI_3"), State::Backup, "VI_3 is in no group");
        assert_eq!(groups(&out), vec![(State::Backup, State::Master)]);
        assert_eq!(
            reason_of(&r, &out, "VI_2").as_deref(),
            Some("sync group G1: VI_1 became MASTER")
        );
        // The VIPs of the forced member move too.
        assert!(did(&r, &out, "VI_2", |a| matches!(
            a,
            Action::InstallVips(_)
        )));
    }

    #[test]
    fn one_member_backup_pushes_the_group_to_backup() {
        let mut r = router();
        start(&mut r);
        vi1_master_down(&mut r);
        let out = handle(&mut r, "VI_2", higher(2), 4100);
        assert_eq!(state(&r, "VI_2"), State::Backup);
        assert_eq!(state(&r, "VI_1"), State::Backup, "VI_1 follows VI_2");
        assert_eq!(groups(&out), vec![(State::Master, State::Backup)]);
        assert!(did(&r, &out, "VI_1", |a| matches!(
            a,
            Action::RemoveVips(_)
        )));
    }

    #[test]
    fn fault_holds_the_group_until_the_faulty_member_recovers() {
        let mut r = router();
        start(&mut r);
        vi1_master_down(&mut r);
        let out = handle(&mut r, "VI_1", Event::LinkDown, 4100);
        assert_eq!(state(&r, "VI_1"), State::Fault);
        assert_eq!(state(&r, "VI_2"), State::Fault, "VI_2 follows into FAULT");
        assert_eq!(groups(&out), vec![(State::Master, State::Fault)]);
        // VI_2's own link events do not release it while VI_1 is faulty.
        handle(&mut r, "VI_2", Event::LinkDown, 4200);
        let out = handle(&mut r, "VI_2", Event::LinkUp, 4300);
        assert!(groups(&out).is_empty());
        assert_eq!(state(&r, "VI_2"), State::Fault);
        let out = handle(&mut r, "VI_1", Event::LinkUp, 5000);
        assert_eq!(state(&r, "VI_1"), State::Backup);
        assert_eq!(state(&r, "VI_2"), State::Backup, "released by the group");
        assert_eq!(groups(&out), vec![(State::Fault, State::Backup)]);
    }

    #[test]
    fn a_cause_that_appears_while_held_keeps_the_others_in_fault() {
        let mut r = router();
        start(&mut r);
        handle(&mut r, "VI_1", Event::LinkDown, 100);
        assert_eq!(state(&r, "VI_2"), State::Fault, "held by VI_1");
        // VI_2 is already in Fault (held): its own track failing is no transition,
        // yet it must now hold VI_1 in turn.
        let out = handle(&mut r, "VI_2", track_fault(true), 150);
        assert!(groups(&out).is_empty());
        handle(&mut r, "VI_1", Event::LinkUp, 200);
        assert_eq!(state(&r, "VI_1"), State::Fault, "held by VI_2's own fault");
        assert_eq!(state(&r, "VI_2"), State::Fault, "its own track still fails");
        let out = handle(&mut r, "VI_2", track_fault(false), 300);
        assert_eq!(state(&r, "VI_1"), State::Backup);
        assert_eq!(state(&r, "VI_2"), State::Backup);
        assert_eq!(groups(&out), vec![(State::Fault, State::Backup)]);
        assert_eq!(
            reason_of(&r, &out, "VI_1").as_deref(),
            Some("sync group G1: no other member is FAULT any more")
        );
    }

    #[test]
    fn leaving_fault_for_backup_does_not_push_a_master_member_down() {
        let mut r = router();
        start(&mut r);
        // VI_3 is in no group; VI_1 and VI_2 both master, then VI_2 loses and regains
        // its link alone: a fall to Fault pulls VI_1 along, the way back does not
        // push anybody.
        vi1_master_down(&mut r);
        handle(&mut r, "VI_2", Event::LinkDown, 4100);
        assert_eq!(state(&r, "VI_1"), State::Fault);
        let out = handle(&mut r, "VI_2", Event::LinkUp, 4200);
        assert_eq!(state(&r, "VI_1"), State::Backup);
        assert_eq!(state(&r, "VI_2"), State::Backup);
        assert_eq!(groups(&out), vec![(State::Fault, State::Backup)]);
    }

    #[test]
    fn events_for_unknown_instances_are_ignored() {
        let mut r = router();
        let gone = id(&r, "VI_3");
        r.remove(gone);
        assert!(r.handle(gone, Event::Startup, Instant::ZERO).is_empty());
        assert_eq!(r.id_of("VI_3"), None);
    }

    #[test]
    fn a_reload_that_removes_the_group_releases_the_members_it_held() {
        let mut r = router();
        start(&mut r);
        handle(&mut r, "VI_1", Event::LinkDown, 100);
        assert_eq!(state(&r, "VI_2"), State::Fault, "held by VI_1 through G1");
        let out = r.set_groups(vec![], Instant::from_millis(200));
        assert_eq!(state(&r, "VI_2"), State::Backup, "released: G1 is gone");
        assert_eq!(
            reason_of(&r, &out, "VI_2").as_deref(),
            Some("sync group G1 removed by a reload")
        );
        assert_eq!(
            state(&r, "VI_1"),
            State::Fault,
            "its own link is still down"
        );
    }

    #[test]
    fn a_reload_that_keeps_the_group_keeps_its_state_and_holds() {
        let mut r = router();
        start(&mut r);
        handle(&mut r, "VI_1", Event::LinkDown, 100);
        let out = r.set_groups(vec![g1()], Instant::from_millis(200));
        assert!(out.is_empty(), "nothing moves: {out:?}");
        assert_eq!(state(&r, "VI_2"), State::Fault);
        assert_eq!(r.groups()[0].state(), State::Fault);
    }

    #[test]
    fn a_changed_group_holds_again_what_it_must() {
        let mut r = router();
        start(&mut r);
        handle(&mut r, "VI_1", Event::LinkDown, 100);
        // G1 gains VI_3: a new coordinator, which holds VI_2 and VI_3 at once.
        let g = SyncGroup::new("G1", vec!["VI_1".into(), "VI_2".into(), "VI_3".into()]);
        r.set_groups(vec![g], Instant::from_millis(200));
        assert_eq!(state(&r, "VI_2"), State::Fault, "still held");
        assert_eq!(state(&r, "VI_3"), State::Fault, "now held too");
    }

    #[test]
    fn poll_timeout_is_the_earliest_deadline_and_handle_timeout_fires_it() {
        let mut r = router();
        assert_eq!(r.poll_timeout(), None);
        start(&mut r);
        // Master_Down_Interval at priority 100 and 1 s: 3609.375 ms for all three.
        let first = r.poll_timeout().expect("armed");
        assert_eq!(first.since_origin(), Duration::from_nanos(3_609_375_000));
        assert!(r.handle_timeout(Instant::from_millis(3000)).is_empty());
        let out = r.handle_timeout(first);
        assert_eq!(state(&r, "VI_1"), State::Master);
        assert_eq!(state(&r, "VI_3"), State::Master);
        assert!(did(&r, &out, "VI_3", |a| matches!(a, Action::Send(_))));
        // Now the advert timers, 1 s later.
        let next = r.poll_timeout().expect("armed");
        assert_eq!(next, first + Duration::from_secs(1));
    }
}
