//! Following a configured interface that is deleted and re-created (a VLAN or bond
//! re-created by networkd or ifupdown, a veth plugged in again): it comes back with a new
//! index, so sockets, vmacs and VIPs are attached to it afresh, as at start-up.

use super::instances::spawn_receiver;
use super::*;

impl Daemon {
    /// A link was deleted: its instances go to Fault; what lived on it (VIPs, vmacs over
    /// it) went with it, so nothing is removed from it later.
    pub(super) async fn link_gone(&mut self, index: u32) {
        // The kernel deletes a macvlan with its parent, usually before telling of the
        // parent: nothing is left to bring down.
        for r in self.routers.iter_mut().filter(|r| r.vmac == Some(index)) {
            r.installed.retain(|v| v.ifindex != index);
            r.vmac = None;
            r.send_sock = None;
        }
        for r in self.routers.iter_mut().filter(|r| r.ifindex == index) {
            let on_it = |v: &Vip| v.ifindex == index || Some(v.ifindex) == r.vmac;
            r.installed.retain(|v| !on_it(v));
            if r.vmac.take().is_some() {
                r.send_sock = None;
            }
        }
        self.link_changed(index, false).await;
        self.link_up.remove(&index);
        self.arp_quieted.remove(&index);
    }

    /// A link appeared or changed: when it carries the name of a configured interface
    /// under a new index, move every socket and instance of that interface onto it. The
    /// instances stay in Fault until the caller sees the link up.
    pub(super) async fn relink(&mut self, link: &LinkInfo) {
        let moved: Vec<usize> = (0..self.routers.len())
            .filter(|&i| {
                let r = &self.routers[i];
                r.cfg.interface == link.name && r.ifindex != link.index
            })
            .collect();
        if moved.is_empty() {
            return;
        }
        // A missed deletion (netlink dropped it) still has to pass through Fault.
        let mut old: Vec<u32> = moved.iter().map(|&i| self.routers[i].ifindex).collect();
        old.sort_unstable();
        old.dedup();
        for &o in &old {
            if self.link_up.contains_key(&o) {
                self.link_gone(o).await;
            }
        }
        info!(interface = %link.name, old_ifindex = ?old, ifindex = link.index,
            "interface re-created: following its new index");
        // Sockets first: should one fail, the instances stay on the old index and the
        // next event for this link retries.
        for family in [Family::V4, Family::V6] {
            let Some(&si) = self.by_iface.get(&(link.name.clone(), family)) else {
                continue;
            };
            if self.sockets[si].ifindex() == link.index {
                continue;
            }
            let s = match VrrpSocket::open(family, &link.name, link.index) {
                Ok(s) => Arc::new(s),
                Err(e) => {
                    warn!(interface = %link.name, "cannot reopen the VRRP socket: {e}");
                    return;
                }
            };
            // Its old socket stays bound to a device that no longer exists and would
            // block for ever: end its reader here.
            self.receivers[si].abort();
            self.sockets[si] = s.clone();
            self.receivers[si] = spawn_receiver(si, s, self.pkt_tx.clone());
        }
        self.link_up.insert(link.index, false);
        for i in moved {
            self.reattach(i, link).await;
        }
    }

    /// Move instance `i` onto `link`: announce interface and MAC, vmac, VIPs, advert source.
    async fn reattach(&mut self, i: usize, link: &LinkInfo) {
        let cfg = self.routers[i].cfg.clone();
        let attached = match self.attach(&cfg, link).await {
            Ok(a) => a,
            Err(e) => {
                warn!(vrrp_instance = %cfg.name, "cannot follow the re-created interface: {e}");
                return;
            }
        };
        let vips = match self.resolve_vips(&cfg, attached.ifindex).await {
            Ok(v) => v,
            Err(e) => {
                warn!(vrrp_instance = %cfg.name, "cannot follow the re-created interface: {e}");
                return;
            }
        };
        let primary = self.resolve_primary(&cfg, link.index, Duration::ZERO).await;
        let r = &mut self.routers[i];
        r.ifindex = link.index;
        r.announce_ifindex = attached.ifindex;
        r.announce_mac = attached.mac;
        r.vmac = attached.vmac;
        r.send_sock = attached.send_sock;
        r.vips = vips;
        r.primary_pending = false;
        info!(vrrp_instance = %cfg.name, interface = %cfg.interface, ifindex = link.index,
            "attached to the re-created interface");
        let new_primary = match primary {
            Ok(Some(a)) => a,
            // Its link-local address depends on the new MAC: learn it once it is there.
            Ok(None) if cfg.is_ipv6() => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            // Addresses usually follow the link's creation: keep sending from the old
            // one until the first arrives.
            Ok(None) => {
                r.primary_pending = true;
                return;
            }
            Err(e) => {
                warn!(vrrp_instance = %cfg.name, "{e}");
                return;
            }
        };
        self.set_primary(i, new_primary).await;
    }

    /// An IPv4 address arrived on `index`: instances waiting for one there take it.
    pub(super) async fn learn_primary_v4(&mut self, index: u32) {
        let waiting: Vec<usize> = (0..self.routers.len())
            .filter(|&i| self.routers[i].ifindex == index && self.routers[i].primary_pending)
            .collect();
        for i in waiting {
            let cfg = self.routers[i].cfg.clone();
            match self.resolve_primary(&cfg, index, Duration::ZERO).await {
                Ok(Some(a)) => {
                    self.routers[i].primary_pending = false;
                    self.set_primary(i, a).await;
                }
                Ok(None) => {}
                Err(e) => warn!(vrrp_instance = %cfg.name, "{e}"),
            }
        }
    }

    /// Make `addr` instance `i`'s advert source, if it is not already.
    async fn set_primary(&mut self, i: usize, addr: IpAddr) {
        if self.inst(i).params().primary == addr {
            return;
        }
        let name = &self.routers[i].cfg.name;
        if addr == IpAddr::V6(Ipv6Addr::UNSPECIFIED) {
            info!(vrrp_instance = %name, "waiting for the new interface's IPv6 link-local address");
        } else {
            info!(vrrp_instance = %name, address = %addr, "advert source address changed");
        }
        let mut params = self.inst(i).params().clone();
        params.primary = addr;
        self.feed(i, Event::Reconfigure(params)).await;
    }
}
