//! The I/O shell's network side: VRRP sockets, rtnetlink, gratuitous ARP / NA.
