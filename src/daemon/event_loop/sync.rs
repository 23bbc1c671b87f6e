//! Sync groups (keepalived's `vrrp_sync_group`): the core router moves the members
//! ([`crate::core::sync_group`]); this runs the group's actions on group transitions.

use super::*;
use crate::core::sync_group::{GroupTransition, SyncGroup};

/// One `sync-group`'s shell side.
pub(super) struct Group {
    /// The configured group (actions, notify).
    pub(super) cfg: config::SyncGroup,
    /// The group state last reported to the log and the hooks.
    pub(super) reported: State,
}

impl Group {
    /// A group not yet reported in any state.
    pub(super) fn new(cfg: config::SyncGroup) -> Group {
        Group {
            cfg,
            reported: State::Initialize,
        }
    }
}

/// The core's coordinators for the configured groups.
pub(super) fn coordinators(groups: &[config::SyncGroup]) -> Vec<SyncGroup> {
    groups
        .iter()
        .map(|g| SyncGroup::new(g.name.clone(), g.instances.clone()))
        .collect()
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
    /// Log group `name`'s transition and queue its actions and notify script.
    pub(super) fn report_group(&mut self, name: &str, t: GroupTransition) {
        // While stopping, members reach INIT one by one; only the final STOP is a group
        // transition worth acting on.
        if self.stopping && t.to != State::Initialize {
            return;
        }
        let Some(gi) = self.groups.iter().position(|g| g.cfg.name == name) else {
            return;
        };
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
        let members: Vec<(&Router, &Instance)> = self
            .routers
            .iter()
            .zip(self.core.instances())
            .filter(|(r, _)| g.cfg.instances.contains(&r.cfg.name))
            .collect();
        self.pending_hooks.push(hooks::Transition {
            scope: Scope::Group,
            name: g.cfg.name.clone(),
            state,
            prev_state: prev,
            priority: members
                .iter()
                .map(|(_, x)| x.effective_priority())
                .max()
                .unwrap_or(0),
            vrid: None,
            vips: members
                .iter()
                .flat_map(|(r, _)| r.cfg.virtual_ips.iter())
                .map(|v| format!("{}/{}", v.addr, v.prefix))
                .collect(),
            reason: t.reason,
            actions: hooks::list_for(&g.cfg.hooks, state).to_vec(),
            notify: g.cfg.notify.clone(),
        });
    }
}
