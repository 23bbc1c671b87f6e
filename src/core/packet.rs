//! VRRP advertisement codec: VRRPv2 (RFC 3768) and VRRPv3 (RFC 9568).
//!
//! CONTRACT (pinned; the state machine and the I/O shell build on these names):
//! `Version`, `Auth`, `Advert`, `ChecksumMode`, `ChecksumForm`, `DecodeError`,
//! `encode`, `decode`. Bodies are owned by the codec work.

use std::net::IpAddr;

/// VRRP protocol version.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Version {
    /// VRRPv2, RFC 3768 (IPv4 only, interval in seconds, optional simple-text auth).
    V2,
    /// VRRPv3, RFC 9568 (IPv4 and IPv6, interval in centiseconds).
    V3,
}

/// VRRPv2 authentication field (RFC 3768 section 5.3.6); always `None` for v3.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Auth {
    /// Auth type 0: no authentication (the 8 auth bytes are kept for byte-exact re-encoding).
    None([u8; 8]),
    /// Auth type 1: simple text password, zero padded to 8 bytes (keepalived `auth_type PASS`).
    Simple([u8; 8]),
}

/// One decoded VRRP advertisement (the VRRP message, not the IP header).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Advert {
    /// Protocol version.
    pub version: Version,
    /// Virtual router id, 1..=255 on the wire for valid adverts.
    pub vrid: u8,
    /// Sender priority; 0 means "master is leaving", 255 "address owner".
    pub priority: u8,
    /// Advertisement interval in centiseconds (v2: seconds * 100; v3: the 12-bit field).
    pub interval_cs: u16,
    /// VRRPv2 authentication; `None` for VRRPv3.
    pub auth: Option<Auth>,
    /// Virtual addresses, all of one family.
    pub addrs: Vec<IpAddr>,
}

/// How to compute the checksum of an IPv4 VRRPv3 advert we send.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub enum ChecksumMode {
    /// Include the IPv4 pseudo-header (keepalived, tcpdump, Wireshark).
    #[default]
    PseudoHeader,
    /// The VRRP message only (RFC 9568, Cisco, Juniper).
    Message,
}

/// Which checksum form a received advert used (counted per peer).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum ChecksumForm {
    /// Checksum over the VRRP message alone (VRRPv2; RFC 9568 IPv4 VRRPv3).
    Message,
    /// Checksum including the IP pseudo-header (always for IPv6; keepalived IPv4 VRRPv3).
    PseudoHeader,
}
