//! rtnetlink: interface lookup, virtual addresses, macvlans, and link/address events.

use std::net::IpAddr;

use futures_util::stream::{StreamExt, TryStreamExt};
use rtnetlink::packet_core::NetlinkPayload;
use rtnetlink::packet_route::address::{
    AddressAttribute, AddressFlags, AddressHeaderFlags, AddressMessage,
};
use rtnetlink::packet_route::link::{LinkAttribute, LinkFlags, LinkMessage, MacVlanMode};
use rtnetlink::packet_route::RouteNetlinkMessage;
use rtnetlink::{Handle, LinkMacVlan, LinkUnspec, MulticastGroup};
use tokio::sync::mpsc;

use super::NetError;

/// What we know about one interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkInfo {
    /// Interface index.
    pub index: u32,
    /// Interface name.
    pub name: String,
    /// Hardware address, when it is a 6-byte Ethernet one.
    pub mac: Option<[u8; 6]>,
    /// Administratively up and with carrier (IFF_UP and IFF_RUNNING).
    pub up: bool,
}

/// One address on an interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddrInfo {
    /// The address.
    pub addr: IpAddr,
    /// Prefix length.
    pub prefix: u8,
    /// IPv4 secondary address (IFA_F_SECONDARY).
    pub secondary: bool,
    /// IPv6 address still in duplicate address detection.
    pub tentative: bool,
}

/// A change the kernel reported on the monitor connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NetEvent {
    /// A link appeared or changed (up = IFF_UP and IFF_RUNNING).
    Link(LinkInfo),
    /// A link was deleted.
    LinkGone {
        /// Interface index.
        index: u32,
        /// Interface name.
        name: String,
    },
    /// An address was added, or its flags changed (an IPv6 address leaving DAD).
    AddrAdded {
        /// Interface index.
        index: u32,
        /// The address and its flags.
        info: AddrInfo,
    },
    /// An address was removed.
    AddrRemoved {
        /// Interface index.
        index: u32,
        /// The address and its flags.
        info: AddrInfo,
    },
}

/// A request connection to the kernel's routing netlink.
#[derive(Clone, Debug)]
pub struct Netlink {
    handle: Handle,
}

fn nl_err(what: impl Into<String>) -> impl FnOnce(rtnetlink::Error) -> NetError {
    let what = what.into();
    move |source| NetError::Netlink { what, source }
}

/// The errno a netlink error carries (positive), if any.
fn errno(e: &rtnetlink::Error) -> Option<i32> {
    match e {
        rtnetlink::Error::NetlinkError(m) => Some(m.raw_code().abs()),
        _ => None,
    }
}

fn link_info(msg: &LinkMessage) -> LinkInfo {
    let mut name = String::new();
    let mut mac = None;
    for a in &msg.attributes {
        match a {
            LinkAttribute::IfName(n) => name = n.clone(),
            LinkAttribute::Address(b) => mac = <[u8; 6]>::try_from(b.as_slice()).ok(),
            _ => {}
        }
    }
    let f = msg.header.flags;
    LinkInfo {
        index: msg.header.index,
        name,
        mac,
        up: f.contains(LinkFlags::Up) && f.contains(LinkFlags::Running),
    }
}

fn addr_info(msg: &AddressMessage) -> Option<AddrInfo> {
    let mut addr = None;
    let mut flags = AddressFlags::empty();
    for a in &msg.attributes {
        match a {
            // IFA_LOCAL is the local address on point-to-point links; IFA_ADDRESS otherwise.
            AddressAttribute::Local(x) => addr = Some(*x),
            AddressAttribute::Address(x) if addr.is_none() => addr = Some(*x),
            AddressAttribute::Flags(f) => flags = *f,
            _ => {}
        }
    }
    let hdr = msg.header.flags;
    Some(AddrInfo {
        addr: addr?,
        prefix: msg.header.prefix_len,
        secondary: hdr.contains(AddressHeaderFlags::Secondary)
            || flags.contains(AddressFlags::Secondary),
        tentative: hdr.contains(AddressHeaderFlags::Tentative)
            || flags.contains(AddressFlags::Tentative),
    })
}

impl Netlink {
    /// Open a request connection; its driver runs as a task on the current tokio runtime.
    pub fn connect() -> Result<Netlink, NetError> {
        let (conn, handle, _) =
            rtnetlink::new_connection().map_err(|e| NetError::io("open rtnetlink socket", e))?;
        tokio::spawn(conn);
        Ok(Netlink { handle })
    }

    /// Look an interface up by name.
    pub async fn link_by_name(&self, name: &str) -> Result<LinkInfo, NetError> {
        let mut s = self.handle.link().get().match_name(name).execute();
        match s.try_next().await {
            Ok(Some(msg)) => Ok(link_info(&msg)),
            Ok(None) => Err(NetError::NoSuchInterface(name.to_string())),
            Err(e) if errno(&e) == Some(libc::ENODEV) => {
                Err(NetError::NoSuchInterface(name.to_string()))
            }
            Err(e) => Err(nl_err(format!("look up interface {name}"))(e)),
        }
    }

    /// Look an interface up by index.
    pub async fn link_by_index(&self, index: u32) -> Result<LinkInfo, NetError> {
        let mut s = self.handle.link().get().match_index(index).execute();
        match s.try_next().await {
            Ok(Some(msg)) => Ok(link_info(&msg)),
            Ok(None) => Err(NetError::NoSuchInterface(format!("#{index}"))),
            Err(e) if errno(&e) == Some(libc::ENODEV) => {
                Err(NetError::NoSuchInterface(format!("#{index}")))
            }
            Err(e) => Err(nl_err(format!("look up interface #{index}"))(e)),
        }
    }

    /// Every link and every address of the namespace, in the kernel's order.
    pub async fn dump(&self) -> Result<(Vec<LinkInfo>, Vec<(u32, AddrInfo)>), NetError> {
        let links: Vec<LinkMessage> = self
            .handle
            .link()
            .get()
            .execute()
            .try_collect()
            .await
            .map_err(nl_err("list links"))?;
        let addrs: Vec<AddressMessage> = self
            .handle
            .address()
            .get()
            .execute()
            .try_collect()
            .await
            .map_err(nl_err("list addresses"))?;
        Ok((
            links.iter().map(link_info).collect(),
            addrs
                .iter()
                .filter_map(|m| addr_info(m).map(|a| (m.header.index, a)))
                .collect(),
        ))
    }

    /// All addresses on an interface, in the kernel's order.
    pub async fn addresses(&self, index: u32) -> Result<Vec<AddrInfo>, NetError> {
        let msgs: Vec<AddressMessage> = self
            .handle
            .address()
            .get()
            .set_link_index_filter(index)
            .execute()
            .try_collect()
            .await
            .map_err(nl_err(format!("list addresses of interface #{index}")))?;
        Ok(msgs.iter().filter_map(addr_info).collect())
    }

    /// Add an address; already present is success. IPv6 addresses skip DAD.
    pub async fn add_address(
        &self,
        index: u32,
        addr: IpAddr,
        prefix: u8,
        label: Option<&str>,
    ) -> Result<(), NetError> {
        let mut req = self.handle.address().add(index, addr, prefix);
        let msg = req.message_mut();
        if addr.is_ipv6() {
            // A VIP that moves between routers must not sit tentative for a second of DAD.
            msg.header.flags |= AddressHeaderFlags::Nodad;
            msg.attributes
                .push(AddressAttribute::Flags(AddressFlags::Nodad));
        } else if let Some(label) = label {
            msg.attributes
                .push(AddressAttribute::Label(label.to_string()));
        }
        match req.execute().await {
            Ok(()) => Ok(()),
            Err(e) if errno(&e) == Some(libc::EEXIST) => Ok(()),
            Err(e) => Err(nl_err(format!("add {addr}/{prefix} on interface #{index}"))(e)),
        }
    }

    /// Remove an address; already absent is success.
    pub async fn del_address(&self, index: u32, addr: IpAddr, prefix: u8) -> Result<(), NetError> {
        let mut msg = AddressMessage::default();
        msg.header.family = match addr {
            IpAddr::V4(_) => rtnetlink::packet_route::AddressFamily::Inet,
            IpAddr::V6(_) => rtnetlink::packet_route::AddressFamily::Inet6,
        };
        msg.header.index = index;
        msg.header.prefix_len = prefix;
        msg.attributes.push(AddressAttribute::Local(addr));
        if addr.is_ipv6() {
            msg.attributes.push(AddressAttribute::Address(addr));
        }
        match self.handle.address().del(msg).execute().await {
            Ok(()) => Ok(()),
            Err(e) if matches!(errno(&e), Some(libc::EADDRNOTAVAIL) | Some(libc::ENODEV)) => Ok(()),
            Err(e) => Err(nl_err(format!(
                "remove {addr}/{prefix} from interface #{index}"
            ))(e)),
        }
    }

    /// Create a bridge-mode macvlan `name` over `parent` with `mac`, left down.
    /// An existing link of that name (left by a crash) is deleted first.
    ///
    /// Bridge, not private mode: every node of the virtual router sends its adverts
    /// from the same virtual MAC, and the kernel hands a multicast frame whose source
    /// MAC is one of our own private-mode macvlans to that macvlan alone, so the base
    /// interface (where we listen) would never see the other MASTER's adverts and a
    /// split brain would never heal. In bridge mode the frame also reaches the base
    /// interface.
    pub async fn create_macvlan(
        &self,
        name: &str,
        parent: u32,
        mac: [u8; 6],
    ) -> Result<LinkInfo, NetError> {
        if let Ok(old) = self.link_by_name(name).await {
            self.delete_link(old.index).await?;
        }
        let msg = LinkMacVlan::new(name, parent, MacVlanMode::Bridge)
            .address(mac.to_vec())
            .build();
        self.handle
            .link()
            .add(msg)
            .execute()
            .await
            .map_err(nl_err(format!("create macvlan {name}")))?;
        self.link_by_name(name).await
    }

    /// Set a link administratively up or down.
    pub async fn set_link_up(&self, index: u32, up: bool) -> Result<(), NetError> {
        let b = LinkUnspec::new_with_index(index);
        let msg = if up { b.up() } else { b.down() }.build();
        self.handle
            .link()
            .change(msg)
            .execute()
            .await
            .map_err(nl_err(format!(
                "set link #{index} {}",
                if up { "up" } else { "down" }
            )))
    }

    /// Delete a link; already gone is success.
    pub async fn delete_link(&self, index: u32) -> Result<(), NetError> {
        match self.handle.link().del(index).execute().await {
            Ok(()) => Ok(()),
            Err(e) if errno(&e) == Some(libc::ENODEV) => Ok(()),
            Err(e) => Err(nl_err(format!("delete link #{index}"))(e)),
        }
    }
}

/// Subscribe to link and address changes; events arrive on the returned channel.
/// The driver and translator run as tasks on the current tokio runtime.
pub fn monitor() -> Result<mpsc::UnboundedReceiver<NetEvent>, NetError> {
    let (conn, _handle, mut messages) = rtnetlink::new_multicast_connection(&[
        MulticastGroup::Link,
        MulticastGroup::Ipv4Ifaddr,
        MulticastGroup::Ipv6Ifaddr,
    ])
    .map_err(|e| NetError::io("subscribe to rtnetlink link/address groups", e))?;
    tokio::spawn(conn);
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some((msg, _)) = messages.next().await {
            let NetlinkPayload::InnerMessage(inner) = msg.payload else {
                continue;
            };
            let ev = match inner {
                RouteNetlinkMessage::NewLink(m) => Some(NetEvent::Link(link_info(&m))),
                RouteNetlinkMessage::DelLink(m) => {
                    let i = link_info(&m);
                    Some(NetEvent::LinkGone {
                        index: i.index,
                        name: i.name,
                    })
                }
                RouteNetlinkMessage::NewAddress(m) => {
                    addr_info(&m).map(|info| NetEvent::AddrAdded {
                        index: m.header.index,
                        info,
                    })
                }
                RouteNetlinkMessage::DelAddress(m) => {
                    addr_info(&m).map(|info| NetEvent::AddrRemoved {
                        index: m.header.index,
                        info,
                    })
                }
                _ => None,
            };
            if let Some(ev) = ev {
                if tx.send(ev).is_err() {
                    break;
                }
            }
        }
    });
    Ok(rx)
}
