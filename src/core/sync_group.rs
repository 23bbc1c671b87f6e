//! Sync groups (keepalived's `vrrp_sync_group`): member instances move together.
//!
//! Pure like the rest of the core. The shell reports every member transition
//! here and feeds the returned commands ([`Event::Sync`]) to the members; the
//! member transitions those commands cause come back flagged `forced`, so they
//! update the group state without echoing further commands.
//!
//! Semantics, as keepalived's: a member becoming Master pulls the Backup
//! members to Master; a Master member falling to Backup pushes the other
//! Masters to Backup; a member in Fault holds every other member in Fault until
//! no member is in Fault by its own cause. The group state is Master only when
//! all members are Master, Fault when any member is, Backup otherwise.

use std::collections::BTreeSet;

use super::instance::{Event, State, SyncCommand};

/// A change of the group's state, for group-level hooks and logs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupTransition {
    /// Previous group state.
    pub from: State,
    /// New group state.
    pub to: State,
    /// Human-readable reason (the member transition that caused it).
    pub reason: String,
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
    /// Members in Fault by their own cause (not by this group's command).
    own_fault: BTreeSet<String>,
    state: State,
}

impl SyncGroup {
    /// A group of `members` (instance names), in state Initialize.
    pub fn new(name: impl Into<String>, members: Vec<String>) -> SyncGroup {
        SyncGroup {
            name: name.into(),
            members,
            own_fault: BTreeSet::new(),
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

    /// A member moved to `to` for `reason`; `forced` when this group's command
    /// caused it. `state_of` gives every member's current state (after the move).
    pub fn on_transition(
        &mut self,
        member: &str,
        to: State,
        forced: bool,
        reason: &str,
        state_of: impl Fn(&str) -> State,
    ) -> SyncOutcome {
        let mut commands = Vec::new();
        if !forced && self.contains(member) {
            let why = |what: &str| format!("sync group {}: {member} {what}", self.name);
            let was_fault = if to == State::Fault {
                self.own_fault.insert(member.to_string());
                false
            } else {
                self.own_fault.remove(member)
            };
            let mut send = |command: SyncCommand, reason: String| {
                for other in self.members.iter().filter(|m| *m != member) {
                    commands.push((
                        other.clone(),
                        Event::Sync {
                            command,
                            reason: reason.clone(),
                        },
                    ));
                }
            };
            if to == State::Fault {
                send(SyncCommand::Fault, why("is FAULT"));
            } else if was_fault && self.own_fault.is_empty() {
                send(SyncCommand::Recover, why("recovered from FAULT"));
            }
            match to {
                State::Master => send(SyncCommand::Master, why("became MASTER")),
                State::Backup if !was_fault => send(SyncCommand::Backup, why("became BACKUP")),
                _ => {}
            }
        }
        let new_state = self.compute(&state_of);
        let transition = (new_state != self.state).then(|| GroupTransition {
            from: self.state,
            to: new_state,
            reason: format!("{member} {to}: {reason}"),
        });
        self.state = new_state;
        SyncOutcome {
            commands,
            transition,
        }
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
