//! Attaching instances to their interfaces: the socket, the vmac, the advert source,
//! and following an interface that is deleted and created again under the same name
//! (a VLAN or bond re-created by networkd or ifupdown, a veth plugged in again).

use std::net::IpAddr;

use tracing::{info, warn};

use super::{Bind, Binding, Engine, Sock};
use crate::core::instance::Event;
use crate::core::packet::Family;
use crate::core::router::InstanceId;
use crate::daemon::ports::{Effect, Ports, SocketId};
use crate::daemon::setup::params_for;
use crate::net::vmac;

/// What an instance that is not attached waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wait {
    /// Its interface does not exist (yet, or any more).
    Interface,
    /// Its vmac is being created over this base interface.
    Vmac {
        /// The base interface.
        parent: u32,
    },
    /// An address to send adverts from on this interface (IPv6: a link-local one out of DAD).
    Address {
        /// The interface.
        ifindex: u32,
    },
}

impl<P: Ports> Engine<P> {
    /// Attach instance `id` if everything it needs is there; start it the first time.
    pub(super) fn try_bind(&mut self, id: InstanceId) {
        let Some(slot) = self.router.get(id) else {
            return;
        };
        if matches!(slot.io.bind, Bind::Bound(_)) {
            return;
        }
        let cfg = slot.io.cfg.clone();
        let ipv6 = cfg.is_ipv6();
        let family = if ipv6 { Family::V6 } else { Family::V4 };
        let Some(link) = self.host.link_by_name(&cfg.interface).cloned() else {
            self.set_wait(id, super::Wait::Interface);
            return;
        };
        // The vmac first: its MAC decides the link-local address of nothing, but its
        // index is where VIPs and announcements go.
        let (have_vmac, vmac_pending) = (slot.io.vmac, slot.io.vmac_pending);
        let vmac = if cfg.use_vmac {
            match have_vmac {
                Some((parent, index)) if parent == link.index => Some(index),
                _ => {
                    if vmac_pending != Some(link.index) {
                        let name = vmac::vmac_name(cfg.vrid, ipv6);
                        let quiet_arp = (!ipv6).then(|| cfg.interface.clone());
                        self.ports.submit(Effect::CreateVmac {
                            id,
                            name,
                            parent: link.index,
                            quiet_arp,
                            mac: vmac::virtual_mac(cfg.vrid, ipv6),
                        });
                        if let Some(io) = self.router.io_mut(id) {
                            io.vmac_pending = Some(link.index);
                            io.vmac = None;
                        }
                    }
                    self.set_wait(id, super::Wait::Vmac { parent: link.index });
                    return;
                }
            }
        } else {
            None
        };
        let vips: Vec<IpAddr> = cfg.virtual_ips.iter().map(|v| v.addr).collect();
        let found = match cfg.unicast_source {
            Some(a) => Some(a),
            None if ipv6 => self.host.link_local(link.index, &vips).map(IpAddr::V6),
            None => self.host.primary_v4(link.index, &vips).map(IpAddr::V4),
        };
        let old_primary = self.router.instance(id).map(|i| i.params().primary);
        let started = self.router.get(id).is_some_and(|s| s.io.started);
        let (primary, primary_pending) = match (found, old_primary) {
            (Some(a), _) => (a, false),
            // Addresses usually follow a re-created link's creation: keep sending from
            // the old one until the first arrives.
            (None, Some(old)) if started && !ipv6 && !old.is_unspecified() => (old, true),
            (None, _) => {
                if ipv6 {
                    info!(vrrp_instance = %cfg.name, interface = %cfg.interface,
                        "no usable IPv6 link-local address yet; waiting for one");
                }
                self.set_wait(
                    id,
                    super::Wait::Address {
                        ifindex: link.index,
                    },
                );
                return;
            }
        };
        let socket = match self.socket_for(family, &cfg.interface, link.index) {
            Ok(s) => s,
            Err(e) => {
                warn!(vrrp_instance = %cfg.name, "{e}");
                self.set_wait(id, super::Wait::Interface);
                return;
            }
        };
        let (announce_ifindex, announce_mac, sender) = match vmac {
            Some(index) => {
                let sender = if ipv6 {
                    // IPv6 adverts stay on the base interface, whose link-local address
                    // they need; IPv4 ones leave through the vmac so that switches keep
                    // learning the virtual MAC.
                    None
                } else {
                    match self
                        .ports
                        .open_sender(&vmac::vmac_name(cfg.vrid, false), index)
                    {
                        Ok(s) => Some(s),
                        Err(e) => {
                            warn!(vrrp_instance = %cfg.name, "{e}");
                            None
                        }
                    }
                };
                (index, vmac::virtual_mac(cfg.vrid, ipv6), sender)
            }
            None => {
                let Some(mac) = link.mac else {
                    warn!(vrrp_instance = %cfg.name, interface = %cfg.interface,
                        "interface has no Ethernet address");
                    self.set_wait(id, super::Wait::Interface);
                    return;
                };
                (link.index, mac, None)
            }
        };
        let binding = Binding {
            ifindex: link.index,
            socket,
            sender,
            announce_ifindex,
            announce_mac,
            vmac,
            primary_pending,
            vmac_up: false,
            held: Vec::new(),
        };
        let previous = self.router.get(id).and_then(|s| s.io.last_ifindex);
        if let Some(io) = self.router.io_mut(id) {
            io.bind = Bind::Bound(binding);
            io.last_ifindex = Some(link.index);
        }
        if let Some(old) = previous.filter(|old| *old != link.index) {
            info!(vrrp_instance = %cfg.name, interface = %cfg.interface, old_ifindex = old,
                ifindex = link.index, "interface re-created: following its new index");
        }
        self.rebuild_demux();
        self.dirty = true;
        if old_primary != Some(primary) {
            if started {
                info!(vrrp_instance = %cfg.name, address = %primary, "advert source address");
            } else if ipv6 {
                info!(vrrp_instance = %cfg.name, address = %primary, "using IPv6 link-local address");
            }
            let params = params_for(&cfg, primary);
            self.feed(id, Event::Reconfigure(params));
        }
        if started {
            info!(vrrp_instance = %cfg.name, interface = %cfg.interface, ifindex = link.index,
                "attached to the interface");
            self.sync_link(id);
        } else {
            self.first_start(id);
        }
    }

    /// The first start: stale VIPs of a previous run removed, the link state told, Startup.
    fn first_start(&mut self, id: InstanceId) {
        let Some(slot) = self.router.get(id) else {
            return;
        };
        let cfg = slot.io.cfg.clone();
        let Bind::Bound(b) = &slot.io.bind else {
            return;
        };
        let b = b.clone();
        // A crash leaves the VIPs behind; the owner (255) keeps them as it becomes Master at once.
        if cfg.priority != 255 {
            for v in crate::daemon::setup::vips_of(&cfg) {
                let Some(ifindex) = self.vip_ifindex(&v, &b) else {
                    continue;
                };
                if self.host.has_addr(ifindex, v.addr) {
                    info!(vrrp_instance = %cfg.name, vip = %v.addr, "removing stale VIP left by a previous run");
                    self.ports.submit(Effect::DelAddress { vip: v, ifindex });
                }
            }
        }
        if let Some(io) = self.router.io_mut(id) {
            io.started = true;
        }
        self.sync_link(id);
        self.feed(id, Event::Startup);
    }

    /// Tell the core the link state when it differs from what it was told: up only when
    /// bound and the interface is up.
    pub(super) fn sync_link(&mut self, id: InstanceId) {
        let Some(slot) = self.router.get(id) else {
            return;
        };
        let up = match &slot.io.bind {
            Bind::Bound(b) => self.host.is_up(b.ifindex),
            Bind::Waiting(_) => false,
        };
        if up == slot.io.told_up {
            return;
        }
        let name = slot.io.cfg.name.clone();
        let interface = slot.io.cfg.interface.clone();
        if let Some(io) = self.router.io_mut(id) {
            io.told_up = up;
        }
        if slot_started(self.router.get(id).map(|s| s.io.started)) {
            info!(vrrp_instance = %name, interface = %interface, up, "link state changed");
        }
        self.feed(id, if up { Event::LinkUp } else { Event::LinkDown });
    }

    /// A link with the instance's interface name changed (or appeared under a new index).
    pub(super) fn relink(&mut self, id: InstanceId, index: u32) {
        let rebind = match self.router.get(id).map(|s| &s.io.bind) {
            Some(Bind::Bound(b)) => b.ifindex != index,
            Some(Bind::Waiting(_)) => true,
            None => return,
        };
        if rebind {
            self.unbind(id);
            self.try_bind(id);
        } else {
            self.sync_link(id);
        }
    }

    /// An address arrived where the instance waits for one.
    pub(super) fn address_arrived(&mut self, id: InstanceId) {
        let Some(slot) = self.router.get(id) else {
            return;
        };
        match &slot.io.bind {
            Bind::Waiting(_) => self.try_bind(id),
            Bind::Bound(b) if b.primary_pending => {
                let cfg = slot.io.cfg.clone();
                let vips: Vec<IpAddr> = cfg.virtual_ips.iter().map(|v| v.addr).collect();
                let Some(a) = self.host.primary_v4(b.ifindex, &vips) else {
                    return;
                };
                if let Some(io) = self.router.io_mut(id) {
                    if let Bind::Bound(b) = &mut io.bind {
                        b.primary_pending = false;
                    }
                }
                let current = self.router.instance(id).map(|i| i.params().primary);
                if current == Some(IpAddr::V4(a)) {
                    return;
                }
                info!(vrrp_instance = %cfg.name, address = %a, "advert source address changed");
                let params = params_for(&cfg, IpAddr::V4(a));
                self.feed(id, Event::Reconfigure(params));
            }
            Bind::Bound(_) => {}
        }
    }

    /// Detach an instance from its interface (gone, or re-created under another index):
    /// the core hears the link is down; the vmac's socket is closed.
    pub(super) fn unbind(&mut self, id: InstanceId) {
        let Some(io) = self.router.io_mut(id) else {
            return;
        };
        let old = std::mem::replace(&mut io.bind, Bind::Waiting(super::Wait::Interface));
        if let Bind::Bound(b) = old {
            if let Some(s) = b.sender {
                self.ports.close_socket(s);
            }
            // The vmac went with its base interface, or is re-created over the new one.
            if let Some(io) = self.router.io_mut(id) {
                io.vmac = None;
            }
        }
        self.rebuild_demux();
        self.sync_link(id);
        self.dirty = true;
    }

    fn set_wait(&mut self, id: InstanceId, wait: Wait) {
        if let Some(io) = self.router.io_mut(id) {
            io.bind = Bind::Waiting(wait);
        }
        self.dirty = true;
    }

    /// The shared receiving socket of `family` on an interface, opened (or re-opened for
    /// a re-created interface) when needed.
    fn socket_for(
        &mut self,
        family: Family,
        ifname: &str,
        ifindex: u32,
    ) -> Result<SocketId, crate::net::NetError> {
        let key = (ifname.to_string(), family);
        if let Some(s) = self.sockets.get(&key) {
            if s.ifindex == ifindex {
                return Ok(s.id);
            }
            // Bound to a device that no longer exists: it would stay silent for ever.
            let old = s.id;
            self.sockets.remove(&key);
            self.ports.close_socket(old);
        }
        let id = self.ports.open_socket(family, ifname, ifindex)?;
        self.sockets.insert(key, Sock { id, ifindex });
        Ok(id)
    }

    /// Close the sockets bound to a deleted interface.
    pub(super) fn drop_socket_of(&mut self, ifindex: u32) {
        let gone: Vec<(String, Family)> = self
            .sockets
            .iter()
            .filter(|(_, s)| s.ifindex == ifindex)
            .map(|(k, _)| k.clone())
            .collect();
        for key in gone {
            if let Some(s) = self.sockets.remove(&key) {
                self.ports.close_socket(s.id);
            }
        }
    }

    /// Close the sockets no bound instance uses.
    pub(super) fn close_unused_sockets(&mut self) {
        let used: Vec<SocketId> = self
            .router
            .iter()
            .filter_map(|(_, s)| match &s.io.bind {
                Bind::Bound(b) => Some(b.socket),
                Bind::Waiting(_) => None,
            })
            .collect();
        let unused: Vec<(String, Family)> = self
            .sockets
            .iter()
            .filter(|(_, s)| !used.contains(&s.id))
            .map(|(k, _)| k.clone())
            .collect();
        for key in unused {
            if let Some(s) = self.sockets.remove(&key) {
                self.ports.close_socket(s.id);
            }
        }
    }

    /// Which instances hear what arrives on each socket, by VRID.
    pub(super) fn rebuild_demux(&mut self) {
        self.demux.clear();
        for (id, slot) in self.router.iter() {
            if let Bind::Bound(b) = &slot.io.bind {
                self.demux
                    .entry((b.socket, slot.io.cfg.vrid))
                    .or_default()
                    .push(id);
            }
        }
    }

    /// The interface a VIP goes on: its `dev=`, else where the instance announces.
    pub(super) fn vip_ifindex(&self, vip: &crate::core::instance::Vip, b: &Binding) -> Option<u32> {
        match &vip.dev {
            Some(dev) => self.host.link_by_name(dev).map(|l| l.index),
            None => Some(b.announce_ifindex),
        }
    }
}

fn slot_started(started: Option<bool>) -> bool {
    started.unwrap_or(false)
}
