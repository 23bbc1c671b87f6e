//! Raw VRRP sockets (IP protocol 112), one per interface and address family.
//!
//! The socket is non-blocking and wrapped in a tokio [`AsyncFd`]; every
//! instance on the interface shares it and the daemon demultiplexes by VRID.

use std::io::{self, IoSlice, IoSliceMut, Read};
use std::mem;
use std::net::{IpAddr, Ipv6Addr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, RawFd};

use nix::sys::socket::{
    recvmsg, sendmsg, ControlMessage, ControlMessageOwned, MsgFlags, SockaddrIn, SockaddrIn6,
};
use pnet_packet::ipv4::Ipv4Packet;
use pnet_packet::Packet;
use socket2::{Domain, InterfaceIndexOrAddress, Protocol, SockFilter, Socket, Type};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

use super::NetError;
use crate::core::packet::{Family, IPPROTO_VRRP, MULTICAST_V4, MULTICAST_V6, VRRP_TTL};

/// Offset of the checksum in the VRRP header (for IPV6_CHECKSUM).
const VRRP_CHECKSUM_OFFSET: libc::c_int = 6;
/// Classic BPF `ret #k`: with k = 0 the filter accepts no packet.
const BPF_RET_K: u16 = 0x06;
/// Internetwork control precedence, as keepalived and the RFC's routers send.
const TOS_INTERNETWORK_CONTROL: u32 = 0xc0;

/// One received VRRP packet with what the IP layer told us about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Received {
    /// IP source address.
    pub src: IpAddr,
    /// IP destination address (the group, or our address in unicast mode).
    pub dst: IpAddr,
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl: u8,
    /// The VRRP message (IP header stripped).
    pub payload: Vec<u8>,
}

/// A raw VRRP socket bound to one interface.
pub struct VrrpSocket {
    fd: AsyncFd<Socket>,
    family: Family,
    ifindex: u32,
    ifname: String,
}

impl std::fmt::Debug for VrrpSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VrrpSocket")
            .field("family", &self.family)
            .field("ifname", &self.ifname)
            .field("ifindex", &self.ifindex)
            .finish()
    }
}

fn setsockopt_int(
    fd: RawFd,
    level: libc::c_int,
    opt: libc::c_int,
    val: libc::c_int,
) -> io::Result<()> {
    // SAFETY: fd is a valid socket owned by the caller; the option value is a plain int.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            level,
            opt,
            &val as *const libc::c_int as *const libc::c_void,
            mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The receive buffer asked for: 255 instances at 100 ms are 2,550 adverts a second,
/// and the kernel's default (`net.core.rmem_default`, 208 KiB: a few hundred adverts
/// with the kernel's overhead for each) holds about a tenth of a second of them; a loop
/// busy for longer (start-up, a reload) would lose adverts and take instances over.
const RECEIVE_BUFFER: usize = 4 << 20;

/// Ask for [`RECEIVE_BUFFER`]: SO_RCVBUFFORCE passes `net.core.rmem_max` with
/// CAP_NET_ADMIN (which the daemon has); without it SO_RCVBUF gets what the limit allows.
fn set_receive_buffer(sock: &Socket) {
    let size = libc::c_int::try_from(RECEIVE_BUFFER).unwrap_or(libc::c_int::MAX);
    if setsockopt_int(
        sock.as_raw_fd(),
        libc::SOL_SOCKET,
        libc::SO_RCVBUFFORCE,
        size,
    )
    .is_err()
    {
        // Best effort: the default buffer still works, only with less room for a busy loop.
        let _ = sock.set_recv_buffer_size(RECEIVE_BUFFER);
    }
}

/// What every IPv4 VRRP sender needs: TTL 255 (RFC 3768 / RFC 9568 section 5.1.1.3),
/// the internetwork-control TOS keepalived uses, no loopback of our own adverts, and
/// multicast out of the right interface.
fn set_v4_send_options(
    sock: &Socket,
    ifindex: u32,
    ctx: &dyn Fn(&str) -> String,
) -> Result<(), NetError> {
    sock.set_multicast_ttl_v4(u32::from(VRRP_TTL))
        .map_err(|e| NetError::io(ctx("IP_MULTICAST_TTL"), e))?;
    sock.set_ttl_v4(u32::from(VRRP_TTL))
        .map_err(|e| NetError::io(ctx("IP_TTL"), e))?;
    sock.set_tos_v4(TOS_INTERNETWORK_CONTROL)
        .map_err(|e| NetError::io(ctx("IP_TOS"), e))?;
    sock.set_multicast_loop_v4(false)
        .map_err(|e| NetError::io(ctx("IP_MULTICAST_LOOP"), e))?;
    set_multicast_if_index_v4(sock.as_raw_fd(), ifindex)
        .map_err(|e| NetError::io(ctx("IP_MULTICAST_IF"), e))
}

impl VrrpSocket {
    /// Open the IPv4 VRRP socket on `ifname` (index `ifindex`) and join 224.0.0.18.
    pub fn open_v4(ifname: &str, ifindex: u32) -> Result<VrrpSocket, NetError> {
        let ctx = |what: &str| format!("IPv4 VRRP socket on {ifname}: {what}");
        let sock = Socket::new(
            Domain::IPV4,
            Type::RAW,
            Some(Protocol::from(i32::from(IPPROTO_VRRP))),
        )
        .map_err(|e| NetError::io(ctx("socket"), e))?;
        sock.bind_device(Some(ifname.as_bytes()))
            .map_err(|e| NetError::io(ctx("SO_BINDTODEVICE"), e))?;
        sock.join_multicast_v4_n(&MULTICAST_V4, &InterfaceIndexOrAddress::Index(ifindex))
            .map_err(|e| NetError::io(ctx("join 224.0.0.18"), e))?;
        set_v4_send_options(&sock, ifindex, &ctx)?;
        set_receive_buffer(&sock);
        Self::finish(sock, Family::V4, ifname, ifindex)
    }

    /// Open the IPv6 VRRP socket on `ifname` (index `ifindex`) and join ff02::12.
    pub fn open_v6(ifname: &str, ifindex: u32) -> Result<VrrpSocket, NetError> {
        let ctx = |what: &str| format!("IPv6 VRRP socket on {ifname}: {what}");
        let sock = Socket::new(
            Domain::IPV6,
            Type::RAW,
            Some(Protocol::from(i32::from(IPPROTO_VRRP))),
        )
        .map_err(|e| NetError::io(ctx("socket"), e))?;
        let fd = sock.as_raw_fd();
        sock.bind_device(Some(ifname.as_bytes()))
            .map_err(|e| NetError::io(ctx("SO_BINDTODEVICE"), e))?;
        sock.join_multicast_v6(&MULTICAST_V6, ifindex)
            .map_err(|e| NetError::io(ctx("join ff02::12"), e))?;
        sock.set_multicast_hops_v6(u32::from(VRRP_TTL))
            .map_err(|e| NetError::io(ctx("IPV6_MULTICAST_HOPS"), e))?;
        sock.set_unicast_hops_v6(u32::from(VRRP_TTL))
            .map_err(|e| NetError::io(ctx("IPV6_UNICAST_HOPS"), e))?;
        sock.set_multicast_loop_v6(false)
            .map_err(|e| NetError::io(ctx("IPV6_MULTICAST_LOOP"), e))?;
        sock.set_multicast_if_v6(ifindex)
            .map_err(|e| NetError::io(ctx("IPV6_MULTICAST_IF"), e))?;
        sock.set_recv_hoplimit_v6(true)
            .map_err(|e| NetError::io(ctx("IPV6_RECVHOPLIMIT"), e))?;
        setsockopt_int(fd, libc::IPPROTO_IPV6, libc::IPV6_RECVPKTINFO, 1)
            .map_err(|e| NetError::io(ctx("IPV6_RECVPKTINFO"), e))?;
        // The kernel fills the checksum on send and drops bad ones on receive.
        setsockopt_int(
            fd,
            libc::IPPROTO_IPV6,
            libc::IPV6_CHECKSUM,
            VRRP_CHECKSUM_OFFSET,
        )
        .map_err(|e| NetError::io(ctx("IPV6_CHECKSUM"), e))?;
        set_receive_buffer(&sock);
        Self::finish(sock, Family::V6, ifname, ifindex)
    }

    /// Open a send-only IPv4 VRRP socket on `ifname`: `use-vmac` adverts go out of the
    /// macvlan (its source MAC is the virtual MAC) while the base interface's socket receives.
    pub fn open_sender_v4(ifname: &str, ifindex: u32) -> Result<VrrpSocket, NetError> {
        let ctx = |what: &str| format!("IPv4 VRRP send socket on {ifname}: {what}");
        let sock = Socket::new(
            Domain::IPV4,
            Type::RAW,
            Some(Protocol::from(i32::from(IPPROTO_VRRP))),
        )
        .map_err(|e| NetError::io(ctx("socket"), e))?;
        // A raw socket sees every protocol-112 packet of its device; this one only sends.
        sock.attach_filter(&[SockFilter::new(BPF_RET_K, 0, 0, 0)])
            .map_err(|e| NetError::io(ctx("SO_ATTACH_FILTER"), e))?;
        sock.bind_device(Some(ifname.as_bytes()))
            .map_err(|e| NetError::io(ctx("SO_BINDTODEVICE"), e))?;
        set_v4_send_options(&sock, ifindex, &ctx)?;
        Self::finish(sock, Family::V4, ifname, ifindex)
    }

    /// Open the socket of `family` on an interface.
    pub fn open(family: Family, ifname: &str, ifindex: u32) -> Result<VrrpSocket, NetError> {
        match family {
            Family::V4 => Self::open_v4(ifname, ifindex),
            Family::V6 => Self::open_v6(ifname, ifindex),
        }
    }

    fn finish(
        sock: Socket,
        family: Family,
        ifname: &str,
        ifindex: u32,
    ) -> Result<VrrpSocket, NetError> {
        sock.set_nonblocking(true)
            .map_err(|e| NetError::io(format!("VRRP socket on {ifname}: O_NONBLOCK"), e))?;
        // Readable only: sends are non-blocking sendmsg calls that never wait, and a
        // writable interest would wake the loop after every advert sent.
        // SAFETY: the Socket owns its fd and AsyncFd owns the Socket, so the fd stays open
        // and the same for the AsyncFd's whole life.
        let fd =
            unsafe { AsyncFd::register_with_interest(sock, Interest::READABLE) }.map_err(|e| {
                NetError::io(
                    format!("VRRP socket on {ifname}: register with tokio"),
                    e.into_parts().1,
                )
            })?;
        Ok(VrrpSocket {
            fd,
            family,
            ifindex,
            ifname: ifname.to_string(),
        })
    }

    /// The address family.
    pub fn family(&self) -> Family {
        self.family
    }

    /// The interface name.
    pub fn ifname(&self) -> &str {
        &self.ifname
    }

    /// The interface index.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// Wait for the next packet. Packets the IP layer cannot describe are skipped.
    pub async fn recv(&self) -> io::Result<Received> {
        loop {
            let mut guard = self.fd.readable().await?;
            let res = guard.try_io(|inner| match self.family {
                Family::V4 => recv_v4(inner.get_ref()),
                Family::V6 => recv_v6(inner.get_ref().as_raw_fd()),
            });
            match res {
                Ok(Ok(Some(pkt))) => return Ok(pkt),
                // A runt IPv4 header or missing ancillary data: not a VRRP packet we can use.
                Ok(Ok(None)) => continue,
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => continue,
            }
        }
    }

    /// Send one VRRP message from `src` to `dst` (the group or a unicast peer).
    pub fn send(&self, payload: &[u8], src: IpAddr, dst: IpAddr) -> io::Result<()> {
        let fd = self.fd.get_ref().as_raw_fd();
        let iov = [IoSlice::new(payload)];
        let res = match (src, dst) {
            (IpAddr::V4(src), IpAddr::V4(dst)) => {
                // IP_PKTINFO picks the source address and the interface per packet, so one
                // socket serves instances with different unicast sources.
                let info = libc::in_pktinfo {
                    ipi_ifindex: self.ifindex as libc::c_int,
                    ipi_spec_dst: libc::in_addr {
                        s_addr: u32::from(src).to_be(),
                    },
                    ipi_addr: libc::in_addr { s_addr: 0 },
                };
                let to = SockaddrIn::from(SocketAddrV4::new(dst, 0));
                sendmsg(
                    fd,
                    &iov,
                    &[ControlMessage::Ipv4PacketInfo(&info)],
                    MsgFlags::MSG_DONTWAIT,
                    Some(&to),
                )
            }
            (IpAddr::V6(src), IpAddr::V6(dst)) => {
                let info = libc::in6_pktinfo {
                    ipi6_addr: libc::in6_addr {
                        s6_addr: src.octets(),
                    },
                    ipi6_ifindex: self.ifindex,
                };
                let to = SockaddrIn6::from(SocketAddrV6::new(dst, 0, 0, self.ifindex));
                sendmsg(
                    fd,
                    &iov,
                    &[ControlMessage::Ipv6PacketInfo(&info)],
                    MsgFlags::MSG_DONTWAIT,
                    Some(&to),
                )
            }
            _ => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "mixed address families",
                ))
            }
        };
        res.map(|_| ()).map_err(io::Error::from)
    }
}

fn set_multicast_if_index_v4(fd: RawFd, ifindex: u32) -> io::Result<()> {
    let mreqn = libc::ip_mreqn {
        imr_multiaddr: libc::in_addr { s_addr: 0 },
        imr_address: libc::in_addr { s_addr: 0 },
        imr_ifindex: ifindex as libc::c_int,
    };
    // SAFETY: fd is a valid socket; ip_mreqn is the documented argument of IP_MULTICAST_IF.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::IPPROTO_IP,
            libc::IP_MULTICAST_IF,
            &mreqn as *const libc::ip_mreqn as *const libc::c_void,
            mem::size_of::<libc::ip_mreqn>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Largest VRRP packet we accept: a full Ethernet MTU is plenty (255 IPv6 addresses fit in 4 KiB).
const RECV_BUF: usize = 4096 + 60;

fn recv_v4(sock: &Socket) -> io::Result<Option<Received>> {
    let mut buf = [0u8; RECV_BUF];
    let n = (&*sock).read(&mut buf)?;
    Ok(parse_ipv4(&buf[..n]))
}

/// Split a raw IPv4 packet (as a raw socket delivers it) into addresses, TTL and payload.
pub fn parse_ipv4(buf: &[u8]) -> Option<Received> {
    let ip = Ipv4Packet::new(buf)?;
    if ip.get_version() != 4 {
        return None;
    }
    let hlen = usize::from(ip.get_header_length()) * 4;
    let total = usize::from(ip.get_total_length()).min(buf.len());
    if hlen < 20 || total < hlen {
        return None;
    }
    Some(Received {
        src: IpAddr::V4(ip.get_source()),
        dst: IpAddr::V4(ip.get_destination()),
        ttl: ip.get_ttl(),
        payload: ip.packet()[hlen..total].to_vec(),
    })
}

fn recv_v6(fd: RawFd) -> io::Result<Option<Received>> {
    let mut buf = [0u8; RECV_BUF];
    let mut cmsg = nix::cmsg_space!(libc::in6_pktinfo, libc::c_int);
    let mut iov = [IoSliceMut::new(&mut buf)];
    let msg = recvmsg::<SockaddrIn6>(fd, &mut iov, Some(&mut cmsg), MsgFlags::MSG_DONTWAIT)
        .map_err(io::Error::from)?;
    let mut dst = None;
    let mut ttl = None;
    for c in msg.cmsgs().map_err(io::Error::from)? {
        match c {
            ControlMessageOwned::Ipv6PacketInfo(info) => {
                dst = Some(Ipv6Addr::from(info.ipi6_addr.s6_addr))
            }
            ControlMessageOwned::Ipv6HopLimit(h) => ttl = u8::try_from(h).ok(),
            _ => {}
        }
    }
    let n = msg.bytes;
    let src = msg.address.map(|a| a.ip());
    match (src, dst, ttl) {
        (Some(src), Some(dst), Some(ttl)) => Ok(Some(Received {
            src: IpAddr::V6(src),
            dst: IpAddr::V6(dst),
            ttl,
            payload: buf[..n].to_vec(),
        })),
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ipv4_header() {
        let mut pkt = vec![
            0x45, 0xc0, 0x00, 0x20, 0, 0, 0, 0, 255, 112, 0, 0, 192, 0, 2, 1, 224, 0, 0, 18,
        ];
        pkt.extend_from_slice(&[0x31, 51, 100, 1, 0, 100, 0, 0, 192, 0, 2, 200]);
        let r = parse_ipv4(&pkt).expect("valid header");
        assert_eq!(r.src, IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1)));
        assert_eq!(r.dst, IpAddr::V4(MULTICAST_V4));
        assert_eq!(r.ttl, 255);
        assert_eq!(r.payload.len(), 12);
        assert_eq!(r.payload[1], 51);
    }

    #[test]
    fn rejects_runt_and_bad_header() {
        assert!(parse_ipv4(&[0x45, 0, 0]).is_none());
        let mut pkt = vec![0u8; 20];
        pkt[0] = 0x65;
        assert!(parse_ipv4(&pkt).is_none());
        pkt[0] = 0x4f; // header length 60 > packet
        assert!(parse_ipv4(&pkt).is_none());
    }
}
