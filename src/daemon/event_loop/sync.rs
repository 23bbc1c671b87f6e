//! Sync groups (keepalived's `vrrp_sync_group`): a member's own fault puts every other
//! member in Fault too, and the group's actions run once per group state change.
//!
//! Not yet: forcing the other members to Backup when one falls back from Master, or
//! holding Master back until all members can take it; the core has no event for that.

use super::*;

/// One `sync-group` at run time.
pub(super) struct Group {
    /// The configured group.
    pub(super) cfg: config::SyncGroup,
    /// Group state last reported: MASTER, BACKUP, FAULT, STOP, or INIT before the first.
    pub(super) state: &'static str,
}

impl Group {
    /// A group not yet reported in any state.
    pub(super) fn new(cfg: config::SyncGroup) -> Group {
        Group { cfg, state: "INIT" }
    }
}

/// The group state its members' states add up to; `None` while they are in between
/// (some started, some not).
fn group_state(members: &[State]) -> Option<&'static str> {
    if members.is_empty() {
        None
    } else if members.contains(&State::Fault) {
        Some("FAULT")
    } else if members.iter().all(|s| *s == State::Master) {
        Some("MASTER")
    } else if members.iter().all(|s| *s == State::Initialize) {
        Some("STOP")
    } else if members.contains(&State::Backup) {
        Some("BACKUP")
    } else {
        None
    }
}

impl Daemon {
    /// A member's own fault: its link is down or a weight-0 track fails (not its group).
    fn own_fault(&self, i: usize) -> bool {
        let r = &self.routers[i];
        r.track.1 || self.link_up.get(&r.ifindex) == Some(&false)
    }

    fn members(&self, g: &Group) -> Vec<usize> {
        g.cfg
            .instances
            .iter()
            .filter_map(|n| self.routers.iter().position(|r| r.cfg.name == *n))
            .collect()
    }

    /// Propagate faults inside each group and report group transitions. Called after every
    /// event; cheap without groups. Own faults never depend on group faults, so one pass
    /// settles.
    pub(super) async fn sync_groups(&mut self) {
        // A reload may have dissolved a group: release what it forced.
        for m in 0..self.routers.len() {
            let grouped = self
                .groups
                .iter()
                .any(|g| g.cfg.instances.contains(&self.routers[m].cfg.name));
            if self.routers[m].group_fault && !grouped {
                self.routers[m].group_fault = false;
                let (delta, fault) = self.routers[m].track;
                self.feed(m, Event::Track { delta, fault }).await;
            }
        }
        for gi in 0..self.groups.len() {
            let members = self.members(&self.groups[gi]);
            for &m in &members {
                let forced = members.iter().any(|&n| n != m && self.own_fault(n));
                if self.routers[m].group_fault != forced {
                    self.routers[m].group_fault = forced;
                    let (delta, fault) = self.routers[m].track;
                    let fault = fault || forced;
                    self.feed(m, Event::Track { delta, fault }).await;
                }
            }
            let states: Vec<State> = members
                .iter()
                .map(|&m| self.routers[m].core.state())
                .collect();
            let Some(state) = group_state(&states) else {
                continue;
            };
            let g = &self.groups[gi];
            if state == g.state || (state == "STOP" && g.state == "INIT") {
                continue;
            }
            let prev = g.state;
            let detail: Vec<String> = members
                .iter()
                .map(|&m| {
                    format!(
                        "{} {}",
                        self.routers[m].cfg.name,
                        self.routers[m].core.state()
                    )
                })
                .collect();
            let reason = format!("members: {}", detail.join(", "));
            info!(vrrp_group = %g.cfg.name, vrrp_state = state, vrrp_prev_state = prev, vrrp_reason = %reason,
                "sync group {}: {prev} -> {state} ({reason})", g.cfg.name);
            let vips = members
                .iter()
                .flat_map(|&m| self.routers[m].cfg.virtual_ips.iter())
                .map(|v| format!("{}/{}", v.addr, v.prefix))
                .collect();
            self.hooks.transition(hooks::Transition {
                scope: Scope::Group,
                name: g.cfg.name.clone(),
                state,
                prev_state: prev,
                priority: members
                    .iter()
                    .map(|&m| self.routers[m].core.effective_priority())
                    .max()
                    .unwrap_or(0),
                vrid: None,
                vips,
                reason,
                actions: hooks::list_for(&g.cfg.hooks, state).to_vec(),
                notify: g.cfg.notify.clone(),
            });
            self.groups[gi].state = state;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_state_from_members() {
        use State::*;
        assert_eq!(group_state(&[Master, Master]), Some("MASTER"));
        assert_eq!(group_state(&[Master, Backup]), Some("BACKUP"));
        assert_eq!(group_state(&[Master, Fault]), Some("FAULT"));
        assert_eq!(group_state(&[Initialize, Initialize]), Some("STOP"));
        assert_eq!(group_state(&[Initialize, Master]), None);
        assert_eq!(group_state(&[]), None);
    }
}
