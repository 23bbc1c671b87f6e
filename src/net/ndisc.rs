//! Unsolicited neighbour advertisements (RFC 4861 section 7.2.6) for IPv6 VIPs.
//!
//! Built by hand as a whole Ethernet frame so the source MAC can be the virtual
//! MAC with `use-vmac`, and sent over the same AF_PACKET socket as ARP.

use std::net::Ipv6Addr;

/// The all-nodes group the advertisement goes to.
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
/// The Ethernet multicast MAC of ff02::1.
pub const ALL_NODES_MAC: [u8; 6] = [0x33, 0x33, 0, 0, 0, 1];

const ICMPV6: u8 = 58;
const NA_TYPE: u8 = 136;
/// Override flag: replace what neighbours cached for the VIP.
const FLAG_OVERRIDE: u8 = 0x20;
/// Length of NA (24) plus the target link-layer address option (8).
const NA_LEN: usize = 32;

/// The ICMPv6 checksum over the IPv6 pseudo-header and `msg` (with its checksum field zero).
pub fn icmpv6_checksum(src: &Ipv6Addr, dst: &Ipv6Addr, msg: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut add = |bytes: &[u8]| {
        for chunk in bytes.chunks(2) {
            let word = if chunk.len() == 2 {
                u16::from_be_bytes([chunk[0], chunk[1]])
            } else {
                u16::from_be_bytes([chunk[0], 0])
            };
            sum += u32::from(word);
        }
    };
    add(&src.octets());
    add(&dst.octets());
    add(&(msg.len() as u32).to_be_bytes());
    add(&[0, 0, 0, ICMPV6]);
    add(msg);
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Build an unsolicited NA frame for `vip` owned by `mac` (source = the VIP, as keepalived sends).
pub fn build_unsolicited_na(mac: [u8; 6], vip: Ipv6Addr) -> Vec<u8> {
    let mut icmp = [0u8; NA_LEN];
    icmp[0] = NA_TYPE;
    icmp[4] = FLAG_OVERRIDE;
    icmp[8..24].copy_from_slice(&vip.octets());
    icmp[24] = 2; // option: target link-layer address
    icmp[25] = 1; // length in units of 8 bytes
    icmp[26..32].copy_from_slice(&mac);
    let ck = icmpv6_checksum(&vip, &ALL_NODES, &icmp);
    icmp[2..4].copy_from_slice(&ck.to_be_bytes());

    let mut f = Vec::with_capacity(14 + 40 + NA_LEN);
    f.extend_from_slice(&ALL_NODES_MAC);
    f.extend_from_slice(&mac);
    f.extend_from_slice(&[0x86, 0xdd]);
    f.extend_from_slice(&[0x60, 0, 0, 0]); // version 6, no traffic class or flow label
    f.extend_from_slice(&(NA_LEN as u16).to_be_bytes());
    f.push(ICMPV6);
    f.push(255); // hop limit: receivers ignore ND with anything else
    f.extend_from_slice(&vip.octets());
    f.extend_from_slice(&ALL_NODES.octets());
    f.extend_from_slice(&icmp);
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use pnet_packet::icmpv6::Icmpv6Packet;

    #[test]
    fn na_frame_layout() {
        let mac = [0x02, 0, 0, 0, 0, 0x01];
        let vip: Ipv6Addr = "2001:db8::200".parse().expect("literal");
        let f = build_unsolicited_na(mac, vip);
        assert_eq!(f.len(), 14 + 40 + 32);
        assert_eq!(&f[0..6], &ALL_NODES_MAC);
        assert_eq!(&f[6..12], &mac);
        assert_eq!(&f[12..14], &[0x86, 0xdd]);
        assert_eq!(f[14] >> 4, 6);
        assert_eq!(u16::from_be_bytes([f[18], f[19]]), 32);
        assert_eq!(f[20], 58);
        assert_eq!(f[21], 255);
        assert_eq!(&f[22..38], &vip.octets());
        assert_eq!(&f[38..54], &ALL_NODES.octets());
        let icmp = &f[54..];
        assert_eq!(icmp[0], 136);
        assert_eq!(icmp[1], 0);
        assert_eq!(&icmp[4..8], &[0x20, 0, 0, 0]);
        assert_eq!(&icmp[8..24], &vip.octets());
        assert_eq!(&icmp[24..32], &[2, 1, 0x02, 0, 0, 0, 0, 0x01]);
    }

    #[test]
    fn na_checksum_matches_pnet() {
        let mac = [0x00, 0x00, 0x5e, 0x00, 0x02, 0x33];
        let vip: Ipv6Addr = "2001:db8::200".parse().expect("literal");
        let f = build_unsolicited_na(mac, vip);
        let pkt = Icmpv6Packet::new(&f[54..]).expect("long enough");
        let ours = u16::from_be_bytes([f[56], f[57]]);
        assert_eq!(ours, pnet_packet::icmpv6::checksum(&pkt, &vip, &ALL_NODES));
        // A correct checksum sums the whole message to zero.
        assert_eq!(icmpv6_checksum(&vip, &ALL_NODES, &f[54..]), 0);
    }
}
