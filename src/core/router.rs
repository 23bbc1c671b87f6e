//! All the instances of one daemon plus their sync groups, driven as one.
//!
//! The shell hands every event for an instance to [`Router::handle`]; the
//! router runs the instance, routes member transitions through their sync
//! group and feeds the group's commands back to the other members, so the
//! shell only carries out the outputs, in order.

use std::collections::VecDeque;

use super::instance::{Action, Event, Instance, State};
use super::sync_group::{GroupTransition, SyncGroup};
use super::time::Instant;

/// One thing for the shell to do, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// An action of one instance.
    Instance {
        /// Instance name.
        name: String,
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

/// The instances and sync groups of one daemon.
#[derive(Clone, Debug, Default)]
pub struct Router {
    instances: Vec<Instance>,
    groups: Vec<SyncGroup>,
}

impl Router {
    /// A router over `instances` (unique names) and `groups` (members by instance name).
    pub fn new(instances: Vec<Instance>, groups: Vec<SyncGroup>) -> Router {
        Router { instances, groups }
    }

    /// The instance called `name`.
    pub fn instance(&self, name: &str) -> Option<&Instance> {
        find(&self.instances, name)
    }

    /// Every instance, in configuration order.
    pub fn instances(&self) -> &[Instance] {
        &self.instances
    }

    /// Every sync group.
    pub fn groups(&self) -> &[SyncGroup] {
        &self.groups
    }

    /// Add an instance (a reload added it); it starts on `Event::Startup`.
    pub fn insert(&mut self, instance: Instance) {
        self.remove(&instance.params().name.clone());
        self.instances.push(instance);
    }

    /// Remove an instance (after its Shutdown); returns it.
    pub fn remove(&mut self, name: &str) -> Option<Instance> {
        let at = self
            .instances
            .iter()
            .position(|i| i.params().name == name)?;
        Some(self.instances.remove(at))
    }

    /// Replace the sync groups (a reload); group states start afresh.
    pub fn set_groups(&mut self, groups: Vec<SyncGroup>) {
        self.groups = groups;
    }

    /// Feed `event` to instance `name` at `now`; unknown names yield nothing.
    pub fn handle(&mut self, name: &str, event: Event, now: Instant) -> Vec<Output> {
        let mut out = Vec::new();
        if self.instance(name).is_none() {
            return out;
        }
        let mut queue = VecDeque::from([(name.to_string(), event, false)]);
        loop {
            while let Some((name, event, forced)) = queue.pop_front() {
                let Some(instance) = self.instances.iter_mut().find(|i| i.params().name == name)
                else {
                    continue;
                };
                for action in instance.handle(event, now) {
                    let transition = match &action {
                        Action::Transition { from, to, reason } => {
                            Some((*from, *to, reason.clone()))
                        }
                        _ => None,
                    };
                    out.push(Output::Instance {
                        name: name.clone(),
                        action,
                    });
                    if let Some((from, to, reason)) = transition {
                        let t = (from, to, forced, reason.as_str());
                        self.route_transition(&name, t, &mut queue, &mut out);
                    }
                }
            }
            // Fault holds follow the members' own causes, whatever event changed them;
            // the commands do not change those causes, so the second pass is quiet.
            let instances = &self.instances;
            let own_fault = |member: &str| find(instances, member).is_some_and(Instance::own_fault);
            for group in &mut self.groups {
                let commands = group.reconcile(own_fault);
                queue.extend(commands.into_iter().map(|(m, e)| (m, e, true)));
            }
            if queue.is_empty() {
                return out;
            }
        }
    }

    fn route_transition(
        &mut self,
        name: &str,
        (from, to, forced, reason): (State, State, bool, &str),
        queue: &mut VecDeque<(String, Event, bool)>,
        out: &mut Vec<Output>,
    ) {
        let instances = &self.instances;
        let state_of =
            |member: &str| find(instances, member).map_or(State::Initialize, Instance::state);
        for group in self.groups.iter_mut().filter(|g| g.contains(name)) {
            let outcome = group.on_transition(name, from, to, forced, reason, state_of);
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

/// The instance called `name` among `instances`.
fn find<'a>(instances: &'a [Instance], name: &str) -> Option<&'a Instance> {
    instances.iter().find(|i| i.params().name == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::instance::{Params, Timer};
    use crate::core::packet::{Advert, ChecksumForm, Version};
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
            vips: vec![format!("192.0.2.{}", 100 + vrid).parse().unwrap()],
            primary: "192.0.2.201".parse().unwrap(),
            unicast_peers: vec![],
            garp_refresh: Duration::ZERO,
        }
    }

    fn router() -> Router {
        Router::new(
            vec![
                Instance::new(params("VI_1", 1)),
                Instance::new(params("VI_2", 2)),
                Instance::new(params("VI_3", 3)),
            ],
            vec![SyncGroup::new("G1", vec!["VI_1".into(), "VI_2".into()])],
        )
    }

    fn state(r: &Router, name: &str) -> State {
        r.instance(name).map(Instance::state).unwrap()
    }

    fn groups(out: &[Output]) -> Vec<(State, State)> {
        out.iter()
            .filter_map(|o| match o {
                Output::Group { transition, .. } => Some((transition.from, transition.to)),
                _ => None,
            })
            .collect()
    }

    fn start(r: &mut Router) -> Vec<Output> {
        let mut out = Vec::new();
        for name in ["VI_1", "VI_2", "VI_3"] {
            out.extend(r.handle(name, Event::Startup, Instant::ZERO));
        }
        out
    }

    /// The reason of `name`'s transition among `out`.
    fn reason_of(out: &[Output], name: &str) -> Option<String> {
        out.iter().find_map(|o| match o {
            Output::Instance {
                name: n,
                action: Action::Transition { reason, .. },
            } if n == name => Some(reason.clone()),
            _ => None,
        })
    }

    /// VI_1's Master_Down_Timer fires (the tests start every instance at 0).
    fn vi1_master_down(r: &mut Router) -> Vec<Output> {
        r.handle(
            "VI_1",
            Event::Timer(Timer::MasterDown),
            Instant::from_millis(4000),
        )
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
        let vi2_reason = reason_of(&out, "VI_2");
        assert_eq!(
            vi2_reason.as_deref(),
            Some("sync group G1: VI_1 became MASTER")
        );
        // The VIPs of the forced member move too.
        assert!(out.contains(&Output::Instance {
            name: "VI_2".into(),
            action: Action::AddVips
        }));
    }

    #[test]
    fn one_member_backup_pushes_the_group_to_backup() {
        let mut r = router();
        start(&mut r);
        vi1_master_down(&mut r);
        let out = r.handle("VI_2", higher(2), Instant::from_millis(4100));
        assert_eq!(state(&r, "VI_2"), State::Backup);
        assert_eq!(state(&r, "VI_1"), State::Backup, "VI_1 follows VI_2");
        assert_eq!(groups(&out), vec![(State::Master, State::Backup)]);
        assert!(out.contains(&Output::Instance {
            name: "VI_1".into(),
            action: Action::RemoveVips
        }));
    }

    #[test]
    fn fault_holds_the_group_until_the_faulty_member_recovers() {
        let mut r = router();
        start(&mut r);
        vi1_master_down(&mut r);
        let out = r.handle("VI_1", Event::LinkDown, Instant::from_millis(4100));
        assert_eq!(state(&r, "VI_1"), State::Fault);
        assert_eq!(state(&r, "VI_2"), State::Fault, "VI_2 follows into FAULT");
        assert_eq!(groups(&out), vec![(State::Master, State::Fault)]);
        // VI_2's own link events do not release it while VI_1 is faulty.
        r.handle("VI_2", Event::LinkDown, Instant::from_millis(4200));
        let out = r.handle("VI_2", Event::LinkUp, Instant::from_millis(4300));
        assert!(groups(&out).is_empty());
        assert_eq!(state(&r, "VI_2"), State::Fault);
        let out = r.handle("VI_1", Event::LinkUp, Instant::from_millis(5000));
        assert_eq!(state(&r, "VI_1"), State::Backup);
        assert_eq!(state(&r, "VI_2"), State::Backup, "released by the group");
        assert_eq!(groups(&out), vec![(State::Fault, State::Backup)]);
    }

    #[test]
    fn a_cause_that_appears_while_held_keeps_the_others_in_fault() {
        let mut r = router();
        start(&mut r);
        r.handle("VI_1", Event::LinkDown, Instant::from_millis(100));
        assert_eq!(state(&r, "VI_2"), State::Fault, "held by VI_1");
        // VI_2 is already in Fault (held): its own track failing is no transition,
        // yet it must now hold VI_1 in turn.
        let out = r.handle(
            "VI_2",
            Event::Track {
                delta: 0,
                fault: true,
            },
            Instant::from_millis(150),
        );
        assert!(groups(&out).is_empty());
        r.handle("VI_1", Event::LinkUp, Instant::from_millis(200));
        assert_eq!(state(&r, "VI_1"), State::Fault, "held by VI_2's own fault");
        assert_eq!(state(&r, "VI_2"), State::Fault, "its own track still fails");
        let out = r.handle(
            "VI_2",
            Event::Track {
                delta: 0,
                fault: false,
            },
            Instant::from_millis(300),
        );
        assert_eq!(state(&r, "VI_1"), State::Backup);
        assert_eq!(state(&r, "VI_2"), State::Backup);
        assert_eq!(groups(&out), vec![(State::Fault, State::Backup)]);
        let reason = reason_of(&out, "VI_1");
        assert_eq!(
            reason.as_deref(),
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
        r.handle("VI_2", Event::LinkDown, Instant::from_millis(4100));
        assert_eq!(state(&r, "VI_1"), State::Fault);
        let out = r.handle("VI_2", Event::LinkUp, Instant::from_millis(4200));
        assert_eq!(state(&r, "VI_1"), State::Backup);
        assert_eq!(state(&r, "VI_2"), State::Backup);
        assert_eq!(groups(&out), vec![(State::Fault, State::Backup)]);
    }

    #[test]
    fn events_for_unknown_instances_are_ignored() {
        let mut r = router();
        assert!(r.handle("nope", Event::Startup, Instant::ZERO).is_empty());
    }
}
