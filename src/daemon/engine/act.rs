//! Carrying out the core's outputs: adverts sent at once, VIPs, announcements and hooks
//! submitted as ordered effects, logs (rate-limited where the network decides how many).

use std::collections::BTreeMap;
use std::net::IpAddr;

use tracing::{debug, error, info, warn};

use super::{Bind, Binding, Engine};
use crate::core::instance::{Action, Advertise, Announce, State, Vip};
use crate::core::packet::{ChecksumForm, Version};
use crate::core::reason::Reason;
use crate::core::router::{InstanceId, Output};
use crate::core::sync_group::GroupTransition;
use crate::daemon::ports::{Effect, Frame, Ports};
use crate::hooks::{self, HookState, Scope};
use crate::net::garp::{build_garp, BROADCAST};
use crate::net::ndisc::{build_unsolicited_na, ALL_NODES_MAC};

/// At most this many adverts wait for a vmac to come up.
const MAX_HELD: usize = 8;

impl<P: Ports> Engine<P> {
    /// Carry out a batch of outputs in order.
    pub(super) fn carry_out(&mut self, outputs: Vec<Output>) {
        for o in outputs {
            match o {
                Output::Instance { id, action } => self.act(id, action),
                Output::Group { name, transition } => self.group_transition(&name, transition),
            }
        }
    }

    fn binding(&self, id: InstanceId) -> Option<Binding> {
        match &self.router.get(id)?.io.bind {
            Bind::Bound(b) => Some(b.clone()),
            Bind::Waiting(_) => None,
        }
    }

    fn act(&mut self, id: InstanceId, action: Action) {
        let Some(slot) = self.router.get(id) else {
            return;
        };
        let name = slot.io.cfg.name.clone();
        let vrid = slot.io.cfg.vrid;
        let now = self.now;
        match action {
            Action::Transition { from, to, reason } => self.transition(id, from, to, reason),
            Action::Send(adv) => self.send(id, &adv),
            Action::InstallVips(vips) => self.install(id, vips),
            Action::RemoveVips(vips) => self.remove(id, vips),
            Action::Announce(a) => self.announce(id, &a),
            Action::Drop { src, reason } => {
                let total = slot.core().stats().drops_for(reason);
                if let Some(suppressed) = self.io_logs(id).drop.allow(now) {
                    warn!(
                        vrrp_instance = %name, vrrp_vrid = vrid, src = %src,
                        reason = reason.as_str(), total, suppressed,
                        "dropped advert from {src}: {reason}"
                    );
                }
            }
            Action::Malformed { src, error } => {
                if let Some(suppressed) = self.io_logs(id).drop.allow(now) {
                    warn!(
                        vrrp_instance = %name, vrrp_vrid = vrid, src = %src,
                        reason = error.reason(), suppressed,
                        "dropped undecodable advert from {src}: {error}"
                    );
                }
            }
            Action::AddressMismatch { src } => {
                if let Some(suppressed) = self.io_logs(id).mismatch.allow(now) {
                    warn!(
                        vrrp_instance = %name, vrrp_vrid = vrid, src = %src, suppressed,
                        "advert from {src} lists other virtual addresses than ours"
                    );
                }
            }
            Action::PeerSeen {
                src,
                priority,
                checksum,
                ours,
            } => {
                let v3_v4 = slot.core().params().version == Version::V3 && src.is_ipv4();
                debug!(vrrp_instance = %name, src = %src, priority, "first advert from peer {src}");
                if v3_v4 {
                    log_checksum_form(&name, src, checksum, ours);
                }
            }
            Action::CannotEncode(e) => {
                if let Some(suppressed) = self.io_logs(id).send.allow(now) {
                    error!(vrrp_instance = %name, suppressed, "cannot encode advert: {e}");
                }
            }
            Action::OtherMaster {
                src,
                priority,
                yielded,
            } => {
                if let Some(suppressed) = self.io_logs(id).other_master.allow(now) {
                    let ours = slot_priority(&self.router, id);
                    warn!(
                        vrrp_instance = %name, vrrp_vrid = vrid, vrrp_peer = %src,
                        vrrp_peer_priority = priority, suppressed,
                        "another MASTER for VRID {vrid}: {src} with priority {priority} (ours {ours}){}",
                        if yielded { "; yielding to it" } else { "; it should yield" }
                    );
                }
            }
            Action::DrainRefused(why) => {
                warn!(vrrp_instance = %name, "drain refused: {why}");
                if self.handovers.remove(&id) {
                    self.drain_outcomes.push((id, Err(why)));
                } else {
                    self.refusals.push((id, why));
                }
            }
            Action::HandingOver { within } => {
                info!(
                    vrrp_instance = %name,
                    "drain: priority 0 sent; the VIPs stay until another router takes over \
                     (at most {} ms)",
                    within.as_millis()
                );
                self.handovers.insert(id);
            }
            Action::AskWitnesses(q) => self.ask_witnesses(id, q),
            Action::WitnessHold(hold) => self.witness_hold(id, hold),
            Action::StatusChanged => self.dirty = true,
        }
    }

    pub(super) fn io_logs(&mut self, id: InstanceId) -> &mut super::Logs {
        match self.router.io_mut(id) {
            Some(io) => &mut io.logs,
            None => &mut self.logs,
        }
    }

    fn transition(&mut self, id: InstanceId, from: State, to: State, reason: Reason) {
        let drained = to == State::Backup && reason == Reason::Drained;
        let handed_over = self.handovers.remove(&id);
        if handed_over {
            self.drain_outcomes.push((
                id,
                if drained {
                    Ok(())
                } else {
                    Err(format!("the handover ended {from} -> {to}: {reason}"))
                },
            ));
            self.drains_dirty |= drained;
        }
        let Some(slot) = self.router.get(id) else {
            return;
        };
        let cfg = &slot.io.cfg;
        if handed_over && drained {
            info!(vrrp_instance = %cfg.name, "drained by the operator");
        }
        let priority = slot.core().effective_priority();
        let text = reason.to_string();
        crate::logging::transition(
            &cfg.name,
            cfg.vrid,
            from.as_str(),
            to.as_str(),
            priority,
            &text,
        );
        let state = HookState::entered(to);
        self.pending_hooks.push(hooks::Transition {
            scope: Scope::Instance,
            name: cfg.name.clone(),
            state,
            prev_state: HookState::left(from),
            priority,
            vrid: Some(cfg.vrid),
            vips: cfg
                .virtual_ips
                .iter()
                .map(|v| format!("{}/{}", v.addr, v.prefix))
                .collect(),
            reason: text,
            actions: hooks::list_for(&cfg.hooks, state).to_vec(),
            notify: cfg.notify.clone(),
        });
        self.dirty = true;
    }

    fn send(&mut self, id: InstanceId, adv: &Advertise) {
        let Some(b) = self.binding(id) else {
            return;
        };
        if b.sender.is_some() && !b.vmac_up {
            // The vmac is still coming up (its SetLinkUp is queued): the advert waits for
            // it, as the virtual MAC must be its source.
            if let Some(Bind::Bound(b)) = self.router.io_mut(id).map(|io| &mut io.bind) {
                if b.held.len() < MAX_HELD {
                    b.held.extend(adv.packets.iter().cloned());
                }
            }
            return;
        }
        let socket = b.sender.unwrap_or(b.socket);
        for t in &adv.packets {
            if let Err(e) = self.ports.send(socket, t) {
                let now = self.now;
                let name = self.router.get(id).map(|s| s.io.cfg.name.clone());
                if let Some(suppressed) = self.io_logs(id).send.allow(now) {
                    warn!(vrrp_instance = ?name, dst = %t.dst, suppressed, "cannot send advert: {e}");
                }
            }
        }
    }

    /// The executor brought a vmac up: send what waited for it.
    pub(super) fn vmac_came_up(&mut self, ifindex: u32) {
        let ids: Vec<InstanceId> = self
            .router
            .iter()
            .filter(|(_, s)| matches!(&s.io.bind, Bind::Bound(b) if b.vmac == Some(ifindex)))
            .map(|(id, _)| id)
            .collect();
        for id in ids {
            let held = match self.router.io_mut(id).map(|io| &mut io.bind) {
                Some(Bind::Bound(b)) => {
                    b.vmac_up = true;
                    std::mem::take(&mut b.held)
                }
                _ => continue,
            };
            if !held.is_empty() {
                let priority = self
                    .router
                    .instance(id)
                    .map_or(0, |i| i.effective_priority());
                self.send(
                    id,
                    &Advertise {
                        priority,
                        packets: held,
                    },
                );
            }
        }
    }

    fn install(&mut self, id: InstanceId, vips: Vec<Vip>) {
        let Some(b) = self.binding(id) else {
            return;
        };
        if let Some(vm) = b.vmac {
            self.ports.submit(Effect::SetLinkUp {
                ifindex: vm,
                up: true,
            });
        }
        for vip in vips {
            match self.vip_ifindex(&vip, &b) {
                Some(ifindex) => self.ports.submit(Effect::AddAddress { id, vip, ifindex }),
                None => {
                    let name = self.router.get(id).map(|s| s.io.cfg.name.clone());
                    error!(vrrp_instance = ?name, "MASTER cannot install virtual IP {vip}: its interface {:?} does not exist", vip.dev);
                }
            }
        }
    }

    fn remove(&mut self, id: InstanceId, vips: Vec<Vip>) {
        let Some(b) = self.binding(id) else {
            // Unbound: the interface went away, and its addresses with it.
            return;
        };
        for vip in vips {
            if let Some(ifindex) = self.vip_ifindex(&vip, &b) {
                self.ports.submit(Effect::DelAddress { vip, ifindex });
            }
        }
        if let Some(vm) = b.vmac {
            self.ports.submit(Effect::SetLinkUp {
                ifindex: vm,
                up: false,
            });
            if let Some(Bind::Bound(b)) = self.router.io_mut(id).map(|io| &mut io.bind) {
                b.vmac_up = false;
            }
        }
    }

    /// One burst of `repeat` gratuitous ARPs / unsolicited NAs per VIP, back to back
    /// (keepalived's default `garp_interval` is 0), on the VIP's own interface when
    /// `dev=` put it elsewhere; the frames carry the MAC that owns the VIP there.
    fn announce(&mut self, id: InstanceId, a: &Announce) {
        let Some(b) = self.binding(id) else {
            return;
        };
        let mut by_ifindex: BTreeMap<u32, Vec<Frame>> = BTreeMap::new();
        for _ in 0..a.repeat.max(1) {
            for v in &a.vips {
                let Some(ifindex) = self.vip_ifindex(v, &b) else {
                    continue;
                };
                let frame = match v.addr {
                    IpAddr::V4(addr) => (BROADCAST, build_garp(b.announce_mac, addr)),
                    IpAddr::V6(addr) => (ALL_NODES_MAC, build_unsolicited_na(b.announce_mac, addr)),
                };
                by_ifindex.entry(ifindex).or_default().push(frame);
            }
        }
        for (ifindex, frames) in by_ifindex {
            self.ports.submit(Effect::SendFrames {
                id,
                ifindex,
                frames,
            });
        }
    }

    /// Log a sync group's transition and queue its actions and notify script.
    fn group_transition(&mut self, name: &str, t: GroupTransition) {
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
        let state = HookState::entered(t.to);
        let prev = HookState::left(from);
        let reason = t.reason.to_string();
        info!(
            vrrp_group = %g.cfg.name, vrrp_state = state.as_str(), vrrp_prev_state = prev.as_str(),
            vrrp_reason = %reason,
            "sync group {}: {prev} -> {state}: {reason}", g.cfg.name
        );
        let members: Vec<_> = self
            .router
            .iter()
            .filter(|(_, s)| g.cfg.instances.contains(&s.io.cfg.name))
            .collect();
        let transition = hooks::Transition {
            scope: Scope::Group,
            name: g.cfg.name.clone(),
            state,
            prev_state: prev,
            priority: members
                .iter()
                .map(|(_, s)| s.core().effective_priority())
                .max()
                .unwrap_or(0),
            vrid: None,
            vips: members
                .iter()
                .flat_map(|(_, s)| s.io.cfg.virtual_ips.iter())
                .map(|v| format!("{}/{}", v.addr, v.prefix))
                .collect(),
            reason,
            actions: hooks::list_for(&g.cfg.hooks, state).to_vec(),
            notify: g.cfg.notify.clone(),
        };
        self.pending_hooks.push(transition);
    }
}

fn slot_priority<T>(router: &crate::core::router::Router<T>, id: InstanceId) -> u8 {
    router.instance(id).map_or(0, |i| i.effective_priority())
}

/// IPv4 VRRPv3 checksums come in two forms in the field; a peer that uses the other
/// one probably drops our adverts, which splits the brain: say so when first heard.
fn log_checksum_form(name: &str, src: IpAddr, form: ChecksumForm, ours: ChecksumForm) {
    let describe = |f: ChecksumForm| match f {
        ChecksumForm::PseudoHeader => "\"pseudo-header\" (keepalived, Wireshark)",
        ChecksumForm::Message => "\"message\" (RFC 9568, Cisco, Juniper)",
    };
    if form == ours {
        info!(
            vrrp_instance = %name, src = %src,
            "peer {src} uses the VRRPv3 checksum form {}, as we do", describe(form)
        );
    } else {
        warn!(
            vrrp_instance = %name, src = %src,
            "peer {src} uses the VRRPv3 checksum form {} but we send {}: it may drop our \
             adverts; set v3-checksum to match it",
            describe(form),
            describe(ours)
        );
    }
}
