//! Unsolicited neighbour advertisements (RFC 4861 section 7.2.6) for IPv6 VIPs.
//!
//! Built as a whole Ethernet frame (pnet's packet types) so the source MAC can be the
//! virtual MAC with `use-vmac`, and sent over the same AF_PACKET socket as ARP.

use std::net::Ipv6Addr;

use pnet_base::MacAddr;
use pnet_packet::ethernet::{EtherTypes, MutableEthernetPacket};
use pnet_packet::icmpv6::ndp::{
    MutableNeighborAdvertPacket, NdpOption, NdpOptionTypes, NeighborAdvertFlags,
};
use pnet_packet::icmpv6::{self, Icmpv6Packet, Icmpv6Types};
use pnet_packet::ip::IpNextHeaderProtocols;
use pnet_packet::ipv6::MutableIpv6Packet;

/// The all-nodes group the advertisement goes to.
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
/// The Ethernet multicast MAC of ff02::1.
pub const ALL_NODES_MAC: [u8; 6] = [0x33, 0x33, 0, 0, 0, 1];

/// Length of NA (24) plus the target link-layer address option (8).
const NA_LEN: usize = 32;
const ETH_LEN: usize = 14;
const IPV6_LEN: usize = 40;
/// Receivers ignore neighbour discovery with any other hop limit (RFC 4861 section 7.1.2).
const ND_HOP_LIMIT: u8 = 255;

/// Build an unsolicited NA frame for `vip` owned by `mac` (source = the VIP, as keepalived
/// sends), with the override flag so neighbours replace what they cached.
pub fn build_unsolicited_na(mac: [u8; 6], vip: Ipv6Addr) -> Vec<u8> {
    let mut frame = vec![0u8; ETH_LEN + IPV6_LEN + NA_LEN];
    let (eth_part, rest) = frame.split_at_mut(ETH_LEN);
    let (ip_part, icmp_part) = rest.split_at_mut(IPV6_LEN);
    // The builders only fail on a short buffer; the sizes are fixed above.
    if let Some(mut na) = MutableNeighborAdvertPacket::new(icmp_part) {
        na.set_icmpv6_type(Icmpv6Types::NeighborAdvert);
        na.set_flags(NeighborAdvertFlags::Override);
        na.set_target_addr(vip);
        na.set_options(&[NdpOption {
            option_type: NdpOptionTypes::TargetLLAddr,
            length: 1,
            data: mac.to_vec(),
        }]);
    }
    let checksum = Icmpv6Packet::new(icmp_part).map(|p| icmpv6::checksum(&p, &vip, &ALL_NODES));
    if let (Some(ck), Some(mut na)) = (checksum, MutableNeighborAdvertPacket::new(icmp_part)) {
        na.set_checksum(ck);
    }
    if let Some(mut ip) = MutableIpv6Packet::new(ip_part) {
        ip.set_version(6);
        ip.set_payload_length(NA_LEN as u16);
        ip.set_next_header(IpNextHeaderProtocols::Icmpv6);
        ip.set_hop_limit(ND_HOP_LIMIT);
        ip.set_source(vip);
        ip.set_destination(ALL_NODES);
    }
    if let Some(mut eth) = MutableEthernetPacket::new(eth_part) {
        eth.set_destination(MacAddr::from(ALL_NODES_MAC));
        eth.set_source(MacAddr::from(mac));
        eth.set_ethertype(EtherTypes::Ipv6);
    }
    frame
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn na_checksum_verifies() {
        let mac = [0x00, 0x00, 0x5e, 0x00, 0x02, 0x33];
        let vip: Ipv6Addr = "2001:db8::200".parse().expect("literal");
        let f = build_unsolicited_na(mac, vip);
        let mut zeroed = f[54..].to_vec();
        zeroed[2] = 0;
        zeroed[3] = 0;
        let pkt = Icmpv6Packet::new(&zeroed).expect("long enough");
        let want = icmpv6::checksum(&pkt, &vip, &ALL_NODES);
        assert_eq!(u16::from_be_bytes([f[56], f[57]]), want);
        // An independent one's-complement sum over pseudo-header and message is zero.
        let mut sum: u32 = 0;
        let mut add = |b: &[u8]| {
            for c in b.chunks(2) {
                sum += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
            }
        };
        add(&vip.octets());
        add(&ALL_NODES.octets());
        add(&(NA_LEN as u32).to_be_bytes());
        add(&[0, 0, 0, 58]);
        add(&f[54..]);
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        assert_eq!(sum, 0xffff);
    }
}
