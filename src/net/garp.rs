//! Gratuitous ARP (RFC 5227 announcement form) over an AF_PACKET socket.
//!
//! The frame is an ARP request with sender = target = the VIP, to broadcast, so
//! hosts and switches learn the VIP's (possibly virtual) MAC after a failover.

use std::io;
use std::mem;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use pnet_base::MacAddr;
use pnet_packet::arp::{ArpHardwareTypes, ArpOperations, MutableArpPacket};
use pnet_packet::ethernet::{EtherTypes, MutableEthernetPacket};

use super::NetError;

/// Ethernet broadcast address.
pub const BROADCAST: [u8; 6] = [0xff; 6];
/// Minimum Ethernet frame without FCS; short frames are padded so any NIC accepts them.
const MIN_FRAME: usize = 60;

/// Build a gratuitous ARP request frame for `vip` from `mac`.
pub fn build_garp(mac: [u8; 6], vip: Ipv4Addr) -> Vec<u8> {
    let mut buf = vec![0u8; MIN_FRAME];
    // Both builders only fail on a short buffer; the sizes are fixed above.
    if let Some(mut eth) = MutableEthernetPacket::new(&mut buf) {
        eth.set_destination(MacAddr::from(BROADCAST));
        eth.set_source(MacAddr::from(mac));
        eth.set_ethertype(EtherTypes::Arp);
    }
    if let Some(mut arp) = MutableArpPacket::new(&mut buf[14..]) {
        arp.set_hardware_type(ArpHardwareTypes::Ethernet);
        arp.set_protocol_type(EtherTypes::Ipv4);
        arp.set_hw_addr_len(6);
        arp.set_proto_addr_len(4);
        arp.set_operation(ArpOperations::Request);
        arp.set_sender_hw_addr(MacAddr::from(mac));
        arp.set_sender_proto_addr(vip);
        arp.set_target_hw_addr(MacAddr::from(BROADCAST));
        arp.set_target_proto_addr(vip);
    }
    buf
}

/// A send-only AF_PACKET socket for hand-built Ethernet frames.
#[derive(Debug)]
pub struct L2Socket {
    fd: OwnedFd,
}

impl L2Socket {
    /// Open the socket; protocol 0 means the kernel delivers nothing to it.
    pub fn open() -> Result<L2Socket, NetError> {
        // SAFETY: plain socket(2) call; the returned fd is checked and then owned.
        let fd = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                0,
            )
        };
        if fd < 0 {
            return Err(NetError::io("AF_PACKET socket", io::Error::last_os_error()));
        }
        // SAFETY: fd is a fresh valid descriptor nobody else owns.
        Ok(L2Socket {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    /// Send a complete Ethernet frame out of interface `ifindex` to `dst`.
    pub fn send(&self, ifindex: u32, dst: [u8; 6], frame: &[u8]) -> io::Result<()> {
        // SAFETY: sockaddr_ll is plain data; zeroed is a valid starting value.
        let mut sll: libc::sockaddr_ll = unsafe { mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_ifindex = ifindex as i32;
        sll.sll_halen = 6;
        sll.sll_addr[..6].copy_from_slice(&dst);
        // SAFETY: frame and sll outlive the call; the lengths passed match them.
        let n = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                frame.as_ptr() as *const libc::c_void,
                frame.len(),
                0,
                &sll as *const libc::sockaddr_ll as *const libc::sockaddr,
                mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if n < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garp_bytes() {
        let mac = [0x02, 0, 0, 0, 0, 0x01];
        let f = build_garp(mac, Ipv4Addr::new(192, 0, 2, 200));
        assert_eq!(f.len(), 60);
        let expected: Vec<u8> = [
            &BROADCAST[..],
            &mac,
            &[0x08, 0x06],          // ARP
            &[0, 1, 0x08, 0, 6, 4], // Ethernet / IPv4
            &[0, 1],                // request
            &mac,
            &[192, 0, 2, 200],
            &BROADCAST[..],
            &[192, 0, 2, 200],
        ]
        .concat();
        assert_eq!(&f[..42], &expected[..]);
        assert!(f[42..].iter().all(|b| *b == 0));
    }
}
