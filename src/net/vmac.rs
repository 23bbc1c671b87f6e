//! `use-vmac`: a macvlan carrying the RFC's virtual MAC, so the MAC moves with the VIP.

use std::io;
use std::path::PathBuf;

use super::netlink::{LinkInfo, Netlink};
use super::NetError;

/// The RFC 5798 virtual router MAC: 00:00:5e:00:01:VRID (IPv4) or 00:00:5e:00:02:VRID (IPv6).
pub fn virtual_mac(vrid: u8, ipv6: bool) -> [u8; 6] {
    [0x00, 0x00, 0x5e, 0x00, if ipv6 { 0x02 } else { 0x01 }, vrid]
}

/// Name of the macvlan for a VRID: `vrrp.VRID` as keepalived, `vrrp6.VRID` for IPv6 so both
/// families of one VRID can coexist.
pub fn vmac_name(vrid: u8, ipv6: bool) -> String {
    if ipv6 {
        format!("vrrp6.{vrid}")
    } else {
        format!("vrrp.{vrid}")
    }
}

/// Create (or re-create) the macvlan for `vrid` over interface `parent`, down.
///
/// The daemon brings it up only while Master: a backup's copy would otherwise send
/// IPv6 autoconfiguration and MLD traffic from the shared virtual MAC and pull the
/// switches' forwarding entry away from the master.
pub async fn create(nl: &Netlink, vrid: u8, ipv6: bool, parent: u32) -> Result<LinkInfo, NetError> {
    nl.create_macvlan(&vmac_name(vrid, ipv6), parent, virtual_mac(vrid, ipv6))
        .await
}

/// Remove the macvlan of `vrid`, if present.
pub async fn remove(nl: &Netlink, vrid: u8, ipv6: bool) -> Result<(), NetError> {
    match nl.link_by_name(&vmac_name(vrid, ipv6)).await {
        Ok(l) => nl.delete_link(l.index).await,
        Err(NetError::NoSuchInterface(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

/// The base interface's ARP settings that `use-vmac` changes, kept to restore on exit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArpSettings {
    iface: String,
    arp_ignore: String,
    arp_filter: String,
    arp_announce: String,
}

fn sysctl_path(iface: &str, key: &str) -> PathBuf {
    PathBuf::from(format!("/proc/sys/net/ipv4/conf/{iface}/{key}"))
}

/// Make the base interface leave ARP for the VIPs to the macvlan: `arp_ignore=1` answers
/// only for addresses on the receiving interface, `arp_filter=1` keeps the base from
/// answering for its siblings, and `arp_announce=2` keeps its own requests from naming a
/// VIP as sender (which would re-point neighbours at the base MAC). Returns the old values.
pub fn quiet_base_arp(iface: &str) -> io::Result<ArpSettings> {
    let read =
        |k: &str| std::fs::read_to_string(sysctl_path(iface, k)).map(|v| v.trim().to_string());
    let old = ArpSettings {
        iface: iface.to_string(),
        arp_ignore: read("arp_ignore")?,
        arp_filter: read("arp_filter")?,
        arp_announce: read("arp_announce")?,
    };
    std::fs::write(sysctl_path(iface, "arp_ignore"), "1")?;
    std::fs::write(sysctl_path(iface, "arp_filter"), "1")?;
    std::fs::write(sysctl_path(iface, "arp_announce"), "2")?;
    Ok(old)
}

impl ArpSettings {
    /// Put the saved values back.
    pub fn restore(&self) -> io::Result<()> {
        std::fs::write(sysctl_path(&self.iface, "arp_ignore"), &self.arp_ignore)?;
        std::fs::write(sysctl_path(&self.iface, "arp_filter"), &self.arp_filter)?;
        std::fs::write(sysctl_path(&self.iface, "arp_announce"), &self.arp_announce)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_macs() {
        assert_eq!(virtual_mac(51, false), [0, 0, 0x5e, 0, 1, 51]);
        assert_eq!(virtual_mac(7, true), [0, 0, 0x5e, 0, 2, 7]);
        assert_eq!(vmac_name(255, false), "vrrp.255");
        assert!(vmac_name(255, true).len() <= 15);
    }
}
