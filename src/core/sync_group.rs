//! Sync groups (keepalived's `vrrp_sync_group`): member instances move together.
//!
//! Pure like the rest of the core. The shell reports every member transition
//! here and feeds the returned commands ([`Event::Sync`]) to the members; the
//! member transitions those commands cause come back flagged `forced`, so they
//! update the group state without echoing further commands.
//!
//! Semantics, as keepalived's: a member becoming Master pulls the Backup
//! members to Master; a Master member falling to Backup pushes the other
//! Masters to Backup; a member in Fault by a cause of its own (link down,
//! weight-0 track) holds every other member in Fault until no other member has
//! such a cause. That hold is derived from the members' own causes after every
//! event ([`SyncGroup::reconcile`]), not from transitions, so a cause that
//! appears while a member is already held in Fault is not missed. The group
//! state is Master only when all members are Master, Fault when any member is,
//! Backup otherwise.

use std::collections::BTreeSet;

use super::instance::{Event, State, SyncCommand};
use super::reason::{GroupReason, Reason, SyncReason};

/// A change of the group's state, for group-level hooks and logs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupTransition {
    /// Previous group state.
    pub from: State,
    /// New group state.
    pub to: State,
    /// The member transition that caused it.
    pub reason: GroupReason,
}

/// What the shell must do after a member transition.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncOutcome {
    /// Events to feed to other members, in order: (member name, event).
    pub commands: Vec<(String, Event)>,
    /// The group's own transition, if its state changed.
    pub transition: Option<GroupTransition>,
}

/// One sync group's coordinator.
#[derive(Clone, Debug)]
pub struct SyncGroup {
    name: String,
    members: Vec<String>,
    /// Members this group holds in Fault (another member has a fault of its own).
    held: BTreeSet<String>,
    state: State,
}

impl SyncGroup {
    /// A group of `members` (instance names), in state Initialize.
    pub fn new(name: impl Into<String>, members: Vec<String>) -> SyncGroup {
        SyncGroup {
            name: name.into(),
            members,
            held: BTreeSet::new(),
            state: State::Initialize,
        }
    }

    /// Group name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Member instance names.
    pub fn members(&self) -> &[String] {
        &self.members
    }

    /// Whether `instance` is a member.
    pub fn contains(&self, instance: &str) -> bool {
        self.members.iter().any(|m| m == instance)
    }

    /// Current group state.
    pub fn state(&self) -> State {
        self.state
    }

    /// Whether this group holds `member` in Fault.
    pub fn holds(&self, member: &str) -> bool {
        self.held.contains(member)
    }

    /// A member moved from `from` to `to` for `reason`; `forced` when this group's
    /// command caused it. `state_of` gives every member's current state (after the move).
    pub fn on_transition(
        &mut self,
        member: &str,
        from: State,
        to: State,
        forced: bool,
        reason: &Reason,
        state_of: impl Fn(&str) -> State,
    ) -> SyncOutcome {
        let mut commands = Vec::new();
        if !forced && self.contains(member) {
            let command = match (from, to) {
                (_, State::Master) => Some(SyncCommand::Master),
                // Only a fall from Master pushes the others; leaving Fault or
                // Initialize for Backup is a fresh election, not a loss.
                (State::Master, State::Backup) => Some(SyncCommand::Backup),
                _ => None,
            };
            if let Some(command) = command {
                let reason = SyncReason::Follow {
                    group: self.name.clone(),
                    member: member.to_string(),
                    to,
                };
                for other in self.members.iter().filter(|m| *m != member) {
                    commands.push((
                        other.clone(),
                        Event::Sync {
                            command,
                            reason: reason.clone(),
                        },
                    ));
                }
            }
        }
        let new_state = self.compute(&state_of);
        let transition = (new_state != self.state).then(|| GroupTransition {
            from: self.state,
            to: new_state,
            reason: GroupReason {
                member: member.to_string(),
                to,
                reason: reason.clone(),
            },
        });
        self.state = new_state;
        SyncOutcome {
            commands,
            transition,
        }
    }

    /// Hold in Fault every member while another member has a fault of its own
    /// (`own_fault`), release it when none has: the commands for members whose hold
    /// changed. Call after every event; it is idempotent.
    pub fn reconcile(&mut self, own_fault: impl Fn(&str) -> bool) -> Vec<(String, Event)> {
        let faulty: Vec<&String> = self.members.iter().filter(|m| own_fault(m)).collect();
        let mut commands = Vec::new();
        for member in &self.members {
            let cause = faulty.iter().find(|f| **f != member);
            let held = self.held.contains(member);
            match cause {
                Some(cause) if !held => {
                    self.held.insert(member.clone());
                    commands.push((
                        member.clone(),
                        Event::Sync {
                            command: SyncCommand::Fault,
                            reason: SyncReason::Held {
                                group: self.name.clone(),
                                cause: (*cause).clone(),
                            },
                        },
                    ));
                }
                None if held => {
                    self.held.remove(member);
                    commands.push((
                        member.clone(),
                        Event::Sync {
                            command: SyncCommand::Recover,
                            reason: SyncReason::Released {
                                group: self.name.clone(),
                            },
                        },
                    ));
                }
                _ => {}
            }
        }
        commands
    }

    fn compute(&self, state_of: &impl Fn(&str) -> State) -> State {
        let states: Vec<State> = self.members.iter().map(|m| state_of(m)).collect();
        if states.contains(&State::Fault) {
            State::Fault
        } else if states.iter().all(|s| *s == State::Master) {
            State::Master
        } else if states.iter().all(|s| *s == State::Initialize) {
            State::Initialize
        } else {
            State::Backup
        }
    }
}
