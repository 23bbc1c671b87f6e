//! Carrying out the core's actions: adverts, VIPs, announcements, timers, logs, status.

use super::*;

impl Daemon {
    pub(super) async fn execute(&mut self, i: usize, action: Action) {
        match action {
            Action::SendAdvert { priority } => self.send_advert(i, priority),
            Action::AddVips => {
                let r = &self.routers[i];
                if let Some(vm) = r.vmac {
                    if let Err(e) = self.nl.set_link_up(vm, true).await {
                        warn!(vrrp_instance = %r.cfg.name, "{e}");
                    }
                }
                for v in &r.vips {
                    if let Err(e) = self
                        .nl
                        .add_address(v.ifindex, v.addr, v.prefix, v.label.as_deref())
                        .await
                    {
                        // A MASTER without its VIP black-holes traffic: say so loudly.
                        error!(
                            vrrp_instance = %r.cfg.name,
                            "MASTER cannot install virtual IP {}/{}: {e}", v.addr, v.prefix
                        );
                    }
                }
                let r = &mut self.routers[i];
                r.installed = r.vips.clone();
            }
            Action::RemoveVips => {
                let r = &mut self.routers[i];
                r.next_burst = None;
                let mut installed = std::mem::take(&mut r.installed);
                if r.replacing_vips {
                    installed.retain(|v| {
                        !r.vips.iter().any(|n| {
                            n.addr == v.addr && n.ifindex == v.ifindex && n.prefix == v.prefix
                        })
                    });
                }
                let r = &self.routers[i];
                for v in &installed {
                    if let Err(e) = self.nl.del_address(v.ifindex, v.addr, v.prefix).await {
                        warn!(vrrp_instance = %r.cfg.name, "{e}");
                    }
                }
                if let Some(vm) = r.vmac {
                    if let Err(e) = self.nl.set_link_up(vm, false).await {
                        // Deleting the base interface takes the vmac with it, often before
                        // we hear the base went down: then nothing is left to bring down.
                        match self.nl.link_by_index(vm).await {
                            Err(NetError::NoSuchInterface(_)) => {
                                debug!(vrrp_instance = %r.cfg.name, "vmac already gone: {e}")
                            }
                            _ => warn!(vrrp_instance = %r.cfg.name, "{e}"),
                        }
                    }
                }
            }
            Action::Announce => {
                self.announce(i);
                let r = &mut self.routers[i];
                let now = TokioInstant::now();
                r.next_burst = Some(if r.cfg.garp_refresh.is_zero() {
                    now + GARP_SECOND_BURST
                } else {
                    now + GARP_SECOND_BURST.min(r.cfg.garp_refresh)
                });
            }
            Action::ArmTimer(t, at) => {
                let at = self.clock.to_tokio(at);
                self.routers[i].timers.insert(t, at);
            }
            Action::CancelTimer(t) => {
                self.routers[i].timers.remove(&t);
            }
            Action::Transition { from, to, reason } => {
                let r = &mut self.routers[i];
                if to != State::Master {
                    r.next_burst = None;
                }
                let priority = self.core.instances()[i].effective_priority();
                crate::logging::transition(
                    &r.cfg.name,
                    r.cfg.vrid,
                    from.as_str(),
                    to.as_str(),
                    priority,
                    &reason,
                );
                // Initialize after Startup only comes from Shutdown: keepalived's STOP.
                let state = if to == State::Initialize {
                    "STOP"
                } else {
                    to.as_str()
                };
                self.pending_hooks.push(hooks::Transition {
                    scope: Scope::Instance,
                    name: r.cfg.name.clone(),
                    state,
                    prev_state: from.as_str(),
                    priority,
                    vrid: Some(r.cfg.vrid),
                    vips: r
                        .cfg
                        .virtual_ips
                        .iter()
                        .map(|v| format!("{}/{}", v.addr, v.prefix))
                        .collect(),
                    reason,
                    actions: hooks::list_for(&r.cfg.hooks, state).to_vec(),
                    notify: r.cfg.notify.clone(),
                });
            }
            Action::Drop(reason) => {
                let r = &mut self.routers[i];
                if let Some(suppressed) = r.drop_log.allow(TokioInstant::now()) {
                    warn!(
                        vrrp_instance = %r.cfg.name, vrrp_vrid = r.cfg.vrid,
                        reason = reason.as_str(), total = self.core.instances()[i].stats().drops_for(reason), suppressed,
                        "dropped advert: {reason}"
                    );
                }
            }
            Action::AddressMismatch { src } => {
                let r = &mut self.routers[i];
                if let Some(suppressed) = r.mismatch_log.allow(TokioInstant::now()) {
                    warn!(
                        vrrp_instance = %r.cfg.name, vrrp_vrid = r.cfg.vrid, src = %src, suppressed,
                        "advert from {src} lists other virtual addresses than ours"
                    );
                }
            }
        }
    }

    pub(super) fn send_advert(&mut self, i: usize, priority: u8) {
        let r = &mut self.routers[i];
        let p = self.core.instances()[i].params();
        let auth = match (p.version, p.auth) {
            (Version::V2, Some(pw)) => Some(Auth::Simple(pw)),
            _ => None,
        };
        let advert = Advert {
            version: p.version,
            vrid: p.vrid,
            priority,
            interval_cs: p.interval_cs,
            auth,
            addrs: p.vips.clone(),
        };
        let mode: ChecksumMode = r.cfg.v3_checksum;
        let src = p.primary;
        let sock = r.send_sock.as_ref().unwrap_or(&self.sockets[r.sock]);
        let dsts: Vec<IpAddr> = if p.unicast_peers.is_empty() {
            vec![sock.family().group()]
        } else {
            p.unicast_peers.clone()
        };
        for dst in dsts {
            let res = packet::encode(&advert, src, dst, mode)
                .map_err(|e| e.to_string())
                .and_then(|bytes| sock.send(&bytes, src, dst).map_err(|e| e.to_string()));
            if let Err(e) = res {
                if let Some(suppressed) = r.send_log.allow(TokioInstant::now()) {
                    warn!(vrrp_instance = %r.cfg.name, vrrp_vrid = r.cfg.vrid, dst = %dst, suppressed, "cannot send advert: {e}");
                }
            }
        }
    }

    /// One burst of `garp-repeat` gratuitous ARPs / unsolicited NAs per VIP, back to back
    /// (keepalived's default `garp_interval` is 0).
    pub(super) fn announce(&mut self, i: usize) {
        let Some(l2) = &self.l2 else { return };
        let r = &self.routers[i];
        for _ in 0..r.cfg.garp_repeat.max(1) {
            for v in &r.vips {
                // The VIP's own interface when `dev=` put it elsewhere; the frame still
                // carries the MAC that owns the VIP there.
                let (frame, dst) = match v.addr {
                    IpAddr::V4(a) => (build_garp(r.announce_mac, a), BROADCAST),
                    IpAddr::V6(a) => (build_unsolicited_na(r.announce_mac, a), ALL_NODES_MAC),
                };
                let ifindex = if v.ifindex == r.announce_ifindex {
                    r.announce_ifindex
                } else {
                    v.ifindex
                };
                if let Err(e) = l2.send(ifindex, dst, &frame) {
                    if let Some(suppressed) = self.l2_log.allow(TokioInstant::now()) {
                        warn!(vrrp_instance = %r.cfg.name, vip = %v.addr, suppressed, "cannot send gratuitous ARP / NA: {e}");
                    }
                }
            }
        }
        debug!(vrrp_instance = %r.cfg.name, repeat = r.cfg.garp_repeat, "announced VIPs");
    }

    /// One line for systemd's STATUS=: "VI_1 MASTER prio 100, VI_2 BACKUP prio 90".
    pub(super) fn summary(&self) -> String {
        sdnotify::summary(self.core.instances().iter().map(|x| {
            (
                x.params().name.as_str(),
                x.state().as_str(),
                x.effective_priority(),
            )
        }))
    }

    pub(super) fn write_status(&self) {
        if let Err(e) = self.notifier.status(&self.summary()) {
            debug!("sd_notify STATUS: {e}");
        }
        let lines: Vec<InstanceStatus> = self
            .core
            .instances()
            .iter()
            .map(|x| InstanceStatus {
                instance: x.params().name.clone(),
                vrid: x.params().vrid,
                state: x.state().as_str().to_string(),
                priority: x.effective_priority(),
                master: x.stats().master.map(|a| a.to_string()),
            })
            .collect();
        if let Err(e) = status::write(&self.state_file, &lines) {
            debug!("cannot write {}: {e}", self.state_file.display());
        }
    }
}
