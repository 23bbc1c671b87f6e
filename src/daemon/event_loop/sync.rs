//! Sync groups (keepalived's `vrrp_sync_group`): the core's coordinator
//! ([`crate::core::sync_group`]) decides; this feeds it member transitions, hands its
//! commands back to the members, and runs the group's actions on group transitions.

use super::*;
use crate::core::sync_group::{GroupTransition, SyncGroup};

/// One `sync-group` at run time.
pub(super) struct Group {
    /// The configured group (actions, notify).
    pub(super) cfg: config::SyncGroup,
    /// The core's coordinator.
    pub(super) core: SyncGroup,
    /// The group state last reported to the log and the hooks.
    pub(super) reported: State,
}

impl Group {
    /// A group in state Initialize.
    pub(super) fn new(cfg: config::SyncGroup) -> Group {
        let core = SyncGroup::new(cfg.name.clone(), cfg.instances.clone());
        Group {
            cfg,
            core,
            reported: State::Initialize,
        }
    }
}

/// The hooks' spelling of a group state: Initialize after running is keepalived's STOP.
fn hook_state(s: State) -> &'static str {
    if s == State::Initialize {
        "STOP"
    } else {
        s.as_str()
    }
}

impl Daemon {
    /// Router `i` moved to `to`; `forced` when a group command caused it. Returns the
    /// commands its groups send to other members, as (router index, event).
    pub(super) fn group_transition(
        &mut self,
        i: usize,
        to: State,
        forced: bool,
        reason: &str,
    ) -> Vec<(usize, Event)> {
        let name = self.routers[i].cfg.name.clone();
        let mut commands = Vec::new();
        for gi in 0..self.groups.len() {
            if !self.groups[gi].core.contains(&name) {
                continue;
            }
            let routers = &self.routers;
            let state_of = |m: &str| {
                routers
                    .iter()
                    .find(|r| r.cfg.name == m)
                    .map_or(State::Initialize, |r| r.core.state())
            };
            let out = self.groups[gi]
                .core
                .on_transition(&name, to, forced, reason, state_of);
            for (member, ev) in out.commands {
                if let Some(j) = self.routers.iter().position(|r| r.cfg.name == member) {
                    commands.push((j, ev));
                }
            }
            if let Some(t) = out.transition {
                // While stopping, members reach INIT one by one; only the final STOP
                // is a group transition worth acting on.
                if !self.stopping || t.to == State::Initialize {
                    self.report_group(gi, t);
                }
            }
        }
        commands
    }

    fn report_group(&mut self, gi: usize, t: GroupTransition) {
        // Not `t.from`: transitions hidden while stopping must not show as the previous state.
        let from = std::mem::replace(&mut self.groups[gi].reported, t.to);
        let g = &self.groups[gi];
        let state = hook_state(t.to);
        let prev = if from == State::Initialize {
            "INIT"
        } else {
            hook_state(from)
        };
        info!(
            vrrp_group = %g.cfg.name, vrrp_state = state, vrrp_prev_state = prev,
            vrrp_reason = %t.reason,
            "sync group {}: {prev} -> {state}: {}", g.cfg.name, t.reason
        );
        let members: Vec<&Router> = self
            .routers
            .iter()
            .filter(|r| g.core.contains(&r.cfg.name))
            .collect();
        self.hooks.transition(hooks::Transition {
            scope: Scope::Group,
            name: g.cfg.name.clone(),
            state,
            prev_state: prev,
            priority: members
                .iter()
                .map(|r| r.core.effective_priority())
                .max()
                .unwrap_or(0),
            vrid: None,
            vips: members
                .iter()
                .flat_map(|r| r.cfg.virtual_ips.iter())
                .map(|v| format!("{}/{}", v.addr, v.prefix))
                .collect(),
            reason: t.reason,
            actions: hooks::list_for(&g.cfg.hooks, state).to_vec(),
            notify: g.cfg.notify.clone(),
        });
    }
}
