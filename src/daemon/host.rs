//! The daemon's one picture of the host's links and addresses.
//!
//! Filled by one rtnetlink dump at start and kept current by the link and address
//! events that follow (subscribed before the dump, so nothing falls in between), it
//! answers every question the engine has about interfaces without a netlink round
//! trip: which index a name has now, whether a link is up, which address adverts go
//! out from. It is the only place that holds link state in the shell.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::core::packet::is_link_local;
use crate::net::netlink::{AddrInfo, LinkInfo, NetEvent};

/// The links and addresses of the daemon's network namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Host {
    links: BTreeMap<u32, LinkInfo>,
    /// Addresses per interface index, in the kernel's order.
    addrs: BTreeMap<u32, Vec<AddrInfo>>,
}

/// What an event changed, as far as the engine cares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// Nothing the engine acts on (a repeated NEWLINK, an unrelated flag).
    None,
    /// A link appeared, was renamed or re-created, or went up or down.
    Link {
        /// Its index.
        index: u32,
        /// Whether it existed under this index before.
        new: bool,
    },
    /// A link was deleted.
    LinkGone {
        /// Its index.
        index: u32,
        /// Its name.
        name: String,
    },
    /// An address appeared on a link or left DAD.
    AddrAdded {
        /// The link.
        index: u32,
        /// The address.
        addr: IpAddr,
    },
    /// An address was removed from a link.
    AddrRemoved {
        /// The link.
        index: u32,
        /// The address.
        addr: IpAddr,
    },
}

impl Host {
    /// A host with these links and addresses (an rtnetlink dump).
    pub fn new(links: Vec<LinkInfo>, addrs: Vec<(u32, AddrInfo)>) -> Host {
        let mut h = Host {
            links: links.into_iter().map(|l| (l.index, l)).collect(),
            addrs: BTreeMap::new(),
        };
        for (index, a) in addrs {
            h.addrs.entry(index).or_default().push(a);
        }
        h
    }

    /// Apply one event; returns what changed.
    pub fn apply(&mut self, ev: &NetEvent) -> Change {
        match ev {
            NetEvent::Link(l) => {
                let old = self.links.insert(l.index, l.clone());
                match old {
                    Some(o) if o == *l => Change::None,
                    Some(_) => Change::Link {
                        index: l.index,
                        new: false,
                    },
                    None => Change::Link {
                        index: l.index,
                        new: true,
                    },
                }
            }
            NetEvent::LinkGone { index, name } => {
                self.addrs.remove(index);
                match self.links.remove(index) {
                    Some(_) => Change::LinkGone {
                        index: *index,
                        name: name.clone(),
                    },
                    None => Change::None,
                }
            }
            NetEvent::AddrAdded { index, info } => {
                let list = self.addrs.entry(*index).or_default();
                match list.iter_mut().find(|a| a.addr == info.addr) {
                    Some(a) if a == info => Change::None,
                    Some(a) => {
                        *a = info.clone();
                        Change::AddrAdded {
                            index: *index,
                            addr: info.addr,
                        }
                    }
                    None => {
                        list.push(info.clone());
                        Change::AddrAdded {
                            index: *index,
                            addr: info.addr,
                        }
                    }
                }
            }
            NetEvent::AddrRemoved { index, info } => {
                let Some(list) = self.addrs.get_mut(index) else {
                    return Change::None;
                };
                let before = list.len();
                list.retain(|a| a.addr != info.addr);
                if list.len() == before {
                    Change::None
                } else {
                    Change::AddrRemoved {
                        index: *index,
                        addr: info.addr,
                    }
                }
            }
        }
    }

    /// The link called `name` now.
    pub fn link_by_name(&self, name: &str) -> Option<&LinkInfo> {
        self.links.values().find(|l| l.name == name)
    }

    /// The link with this index.
    pub fn link(&self, index: u32) -> Option<&LinkInfo> {
        self.links.get(&index)
    }

    /// Whether the link is up (IFF_UP and IFF_RUNNING); absent links are down.
    pub fn is_up(&self, index: u32) -> bool {
        self.links.get(&index).is_some_and(|l| l.up)
    }

    /// Whether `addr` is on the link.
    pub fn has_addr(&self, index: u32, addr: IpAddr) -> bool {
        self.addrs
            .get(&index)
            .is_some_and(|l| l.iter().any(|a| a.addr == addr))
    }

    /// The link's primary IPv4 address (the first non-secondary one), skipping `exclude`
    /// (our own VIPs).
    pub fn primary_v4(&self, index: u32, exclude: &[IpAddr]) -> Option<Ipv4Addr> {
        self.addrs.get(&index)?.iter().find_map(|a| match a.addr {
            IpAddr::V4(v4) if !a.secondary && !exclude.contains(&a.addr) => Some(v4),
            _ => None,
        })
    }

    /// The link's usable IPv6 link-local address: fe80::/10, out of DAD, not one of `exclude`.
    pub fn link_local(&self, index: u32, exclude: &[IpAddr]) -> Option<Ipv6Addr> {
        self.addrs.get(&index)?.iter().find_map(|a| match a.addr {
            IpAddr::V6(v6) if is_link_local(&v6) && !a.tentative && !exclude.contains(&a.addr) => {
                Some(v6)
            }
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(index: u32, name: &str, up: bool) -> LinkInfo {
        LinkInfo {
            index,
            name: name.into(),
            mac: Some([2, 0, 0, 0, 0, index as u8]),
            up,
        }
    }

    fn addr(a: &str, secondary: bool, tentative: bool) -> AddrInfo {
        AddrInfo {
            addr: a.parse().expect("literal"),
            prefix: 24,
            secondary,
            tentative,
        }
    }

    #[test]
    fn follows_links_and_addresses() {
        let mut h = Host::new(
            vec![link(2, "eth0", true)],
            vec![
                (2, addr("192.0.2.200", false, false)),
                (2, addr("192.0.2.1", false, false)),
                (2, addr("192.0.2.2", true, false)),
                (2, addr("fe80::1", false, true)),
            ],
        );
        let vip: IpAddr = "192.0.2.200".parse().expect("literal");
        assert_eq!(h.primary_v4(2, &[vip]), Some(Ipv4Addr::new(192, 0, 2, 1)));
        assert_eq!(h.link_local(2, &[]), None, "still tentative");
        let out_of_dad = NetEvent::AddrAdded {
            index: 2,
            info: addr("fe80::1", false, false),
        };
        assert!(matches!(h.apply(&out_of_dad), Change::AddrAdded { .. }));
        assert_eq!(
            h.link_local(2, &[]),
            Some("fe80::1".parse().expect("literal"))
        );
        assert_eq!(h.apply(&out_of_dad), Change::None, "repeated");
        let down = NetEvent::Link(link(2, "eth0", false));
        assert_eq!(
            h.apply(&down),
            Change::Link {
                index: 2,
                new: false
            }
        );
        assert!(!h.is_up(2));
        let gone = NetEvent::LinkGone {
            index: 2,
            name: "eth0".into(),
        };
        assert!(matches!(h.apply(&gone), Change::LinkGone { index: 2, .. }));
        assert!(!h.has_addr(2, vip));
        assert_eq!(h.link_by_name("eth0"), None);
        assert_eq!(
            h.apply(&NetEvent::Link(link(7, "eth0", true))),
            Change::Link {
                index: 7,
                new: true
            }
        );
        assert_eq!(h.link_by_name("eth0").map(|l| l.index), Some(7));
    }
}
