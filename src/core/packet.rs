//! VRRP advertisement codec: VRRPv2 (RFC 3768) and VRRPv3 (RFC 9568).
//!
//! CONTRACT (pinned; the state machine and the I/O shell build on these names):
//! `Version`, `Auth`, `Advert`, `ChecksumMode`, `ChecksumForm`, `DecodeError`,
//! `encode`, `decode`. Bodies are owned by the codec work.
//!
//! Pure: bytes and addresses in, values out; no sockets, no clock. The shell
//! strips the IPv4 header (IPv6 raw sockets deliver the payload) and passes
//! the IP source and destination, which the VRRPv3 pseudo-header checksum
//! covers. `decode` checks the wire format only (RFC 3768 / RFC 9568 section
//! 7.1 length, version, type, auth type, checksum); the semantic receive rules
//! (TTL, VRID, count 0, interval 0, ...) are the instance's. Every error has a
//! stable `reason()` for drop counters.
//!
//! Seen on the wire from keepalived 2.2.7 (tests/vectors/): IPv4 VRRPv3 uses
//! the IPv4 pseudo-header with the real destination (the peer in unicast),
//! the v3 interval is in centiseconds (`advert_int 1` -> 100), and messages
//! carry no bytes beyond what the count implies.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

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

// ---------------------------------------------------------------------------
// Wire format.
//
// VRRPv2, RFC 3768 section 5.1 (IPv4 only; IP protocol 112, TTL 255,
// destination 224.0.0.18):
//
//    0                   1                   2                   3
//    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |Version| Type  | Virtual Rtr ID|   Priority    | Count IP Addrs|
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |   Auth Type   |   Adver Int   |          Checksum             |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |                         IP Address (1)                        |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |                            .                                  |
//   |                            .                                  |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |                         IP Address (n)                        |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |                     Authentication Data (1)                   |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |                     Authentication Data (2)                   |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// VRRPv3, RFC 9568 section 5.1 (IPv4: protocol 112, TTL 255, 224.0.0.18;
// IPv6: next header 112, hop limit 255, ff02::12):
//
//    0                   1                   2                   3
//    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |Version| Type  | Virtual Rtr ID|   Priority    |Count IPvX Addr|
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |(rsvd) |     Max Adver Int     |          Checksum             |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |                                                               |
//   +                                                               +
//   |                       IPvX Address(es)                        |
//   +                                                               +
//   +                                                               +
//   +                                                               +
//   +                                                               +
//   |                                                               |
//   +                                                               +
//   |                                                               |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Checksum (16-bit one's complement of the one's complement sum):
// - v2 (RFC 3768 5.3.8): over the VRRP message only.
// - v3 IPv6 (RFC 9568 5.2.8): over the message plus the RFC 8200 8.1
//   upper-layer pseudo-header (src, dst, 32-bit length, next header 112).
// - v3 IPv4: RFC 5798 5.2.8 said "the entire VRRP message starting with the
//   version field and a pseudo-header as defined in RFC 2460", which
//   keepalived, tcpdump and Wireshark read as the IPv4 pseudo-header (src,
//   dst, zero, protocol 112, 16-bit length); RFC 9568 5.2.8 clarifies that
//   IPv4 uses the message only (Cisco, Juniper). Both exist in the field, so
//   we send per `ChecksumMode` and accept either.
// ---------------------------------------------------------------------------

/// IP protocol / IPv6 next header number of VRRP (RFC 3768 5.2.4, RFC 9568 5.1.1.4).
pub const IPPROTO_VRRP: u8 = 112;

/// The TTL / hop limit every VRRP advert is sent with and must arrive with (RFC 9568 5.1.1.3).
pub const VRRP_TTL: u8 = 255;

/// The IPv4 multicast group of VRRP (RFC 9568 5.1.1.2).
pub const MULTICAST_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);

/// The IPv6 multicast group of VRRP (RFC 9568 5.1.2.2).
pub const MULTICAST_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);

/// Length of the fixed header common to both versions.
pub const HEADER_LEN: usize = 8;

/// Length of the VRRPv2 authentication data trailer (RFC 3768 5.3.10).
pub const AUTH_DATA_LEN: usize = 8;

/// Largest v3 advert interval in centiseconds: the field is 12 bits (RFC 9568 5.2.7).
pub const MAX_V3_INTERVAL_CS: u16 = 0x0fff;

/// Largest v2 advert interval in centiseconds: the field is 8 bits of seconds (RFC 3768 5.3.7).
pub const MAX_V2_INTERVAL_CS: u16 = 255 * 100;

/// Message type of an advertisement, the only type defined (RFC 9568 5.2.2).
const TYPE_ADVERT: u8 = 1;

/// v2 auth type "no authentication" (RFC 3768 5.3.6).
const AUTH_TYPE_NONE: u8 = 0;

/// v2 auth type 1, simple text password (RFC 2338 5.3.6.1; reserved in RFC 3768, still sent by keepalived `auth_type PASS`).
const AUTH_TYPE_SIMPLE: u8 = 1;

/// Why bytes could not be decoded as a VRRP advert.
#[derive(Clone, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum DecodeError {
    /// Shorter than the fixed part of the message (header, plus auth data for v2).
    #[error("truncated VRRP message: need at least {need} bytes, got {got}")]
    Truncated {
        /// Bytes the fixed part needs.
        need: usize,
        /// Bytes received.
        got: usize,
    },
    /// Version field is neither 2 nor 3.
    #[error("unsupported VRRP version {0}")]
    BadVersion(u8),
    /// Type field is not 1 (advertisement).
    #[error("unknown VRRP message type {0}")]
    BadType(u8),
    /// The source and destination addresses are of different families.
    #[error("IP source and destination are of different address families")]
    AddressFamilyMismatch,
    /// A VRRPv2 message arrived over IPv6, which RFC 3768 does not define.
    #[error("VRRPv2 message over IPv6")]
    V2OverIpv6,
    /// The message is too short for the addresses its count announces.
    #[error("address count {count} does not fit: room for {room} addresses")]
    CountMismatch {
        /// The Count IPvX Addrs field.
        count: u8,
        /// How many whole addresses the received bytes have room for.
        room: usize,
    },
    /// Bytes follow the message that its count does not account for.
    #[error("{got} bytes where the address count calls for {expected}")]
    TrailingBytes {
        /// Length implied by the count.
        expected: usize,
        /// Bytes received.
        got: usize,
    },
    /// VRRPv2 auth type other than 0 (none) or 1 (simple text).
    #[error("unknown VRRPv2 auth type {0}")]
    UnknownAuthType(u8),
    /// No checksum form the version and family allow matches.
    #[error("bad checksum {found:#06x}, expected {expected:#06x}")]
    BadChecksum {
        /// The checksum field as received.
        found: u16,
        /// The checksum we computed (the pseudo-header form for v3).
        expected: u16,
    },
}

impl DecodeError {
    /// A stable short name for counters and logs (snake_case, never changes).
    pub fn reason(&self) -> &'static str {
        match self {
            DecodeError::Truncated { .. } => "truncated",
            DecodeError::BadVersion(_) => "bad_version",
            DecodeError::BadType(_) => "bad_type",
            DecodeError::AddressFamilyMismatch => "address_family_mismatch",
            DecodeError::V2OverIpv6 => "v2_over_ipv6",
            DecodeError::CountMismatch { .. } => "count_mismatch",
            DecodeError::TrailingBytes { .. } => "trailing_bytes",
            DecodeError::UnknownAuthType(_) => "unknown_auth_type",
            DecodeError::BadChecksum { .. } => "bad_checksum",
        }
    }
}

/// Why an advert could not be encoded.
#[derive(Clone, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum EncodeError {
    /// Source, destination and virtual addresses are not all of one family.
    #[error("source, destination and virtual addresses must all be of one address family")]
    MixedFamilies,
    /// More virtual addresses than the 8-bit count field holds.
    #[error("{0} virtual addresses, at most 255 fit in one advert")]
    TooManyAddresses(usize),
    /// No virtual addresses: receivers drop such adverts (RFC 9568 errata 7.1).
    #[error("an advert needs at least one virtual address")]
    NoAddresses,
    /// VRRPv2 is IPv4 only (RFC 3768).
    #[error("VRRPv2 cannot be sent over IPv6")]
    V2OverIpv6,
    /// The interval does not fit the version's field (v2: whole seconds 1..=255; v3: 1..=4095 cs).
    #[error("advert interval {interval_cs} cs is out of range for {version:?}")]
    IntervalOutOfRange {
        /// The version the interval was checked for.
        version: Version,
        /// The interval asked for, in centiseconds.
        interval_cs: u16,
    },
    /// VRRPv3 has no authentication field (RFC 9568 removed it).
    #[error("VRRPv3 adverts carry no authentication")]
    AuthOnV3,
}

impl EncodeError {
    /// A stable short name for counters and logs.
    pub fn reason(&self) -> &'static str {
        match self {
            EncodeError::MixedFamilies => "mixed_families",
            EncodeError::TooManyAddresses(_) => "too_many_addresses",
            EncodeError::NoAddresses => "no_addresses",
            EncodeError::V2OverIpv6 => "v2_over_ipv6",
            EncodeError::IntervalOutOfRange { .. } => "interval_out_of_range",
            EncodeError::AuthOnV3 => "auth_on_v3",
        }
    }
}

impl Auth {
    /// The wire auth type (RFC 3768 5.3.6).
    pub fn type_code(&self) -> u8 {
        match self {
            Auth::None(_) => AUTH_TYPE_NONE,
            Auth::Simple(_) => AUTH_TYPE_SIMPLE,
        }
    }

    /// The 8 authentication data bytes as sent.
    pub fn data(&self) -> &[u8; 8] {
        match self {
            Auth::None(d) | Auth::Simple(d) => d,
        }
    }

    /// A simple-text password, truncated or zero padded to 8 bytes as keepalived does.
    pub fn simple(password: &str) -> Auth {
        let mut data = [0u8; AUTH_DATA_LEN];
        for (slot, byte) in data.iter_mut().zip(password.bytes()) {
            *slot = byte;
        }
        Auth::Simple(data)
    }
}

impl Version {
    /// The 4-bit version number on the wire.
    pub fn number(self) -> u8 {
        match self {
            Version::V2 => 2,
            Version::V3 => 3,
        }
    }
}

/// Address family of an advert, a socket or an address.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    /// IPv4.
    V4,
    /// IPv6.
    V6,
}

impl Family {
    /// The family of an address.
    pub fn of(addr: &IpAddr) -> Family {
        match addr {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }

    /// The VRRP multicast group of this family (RFC 9568 section 5.1.1.2 / 5.1.2.2).
    pub fn group(self) -> IpAddr {
        match self {
            Family::V4 => IpAddr::V4(MULTICAST_V4),
            Family::V6 => IpAddr::V6(MULTICAST_V6),
        }
    }

    fn addr_len(self) -> usize {
        match self {
            Family::V4 => 4,
            Family::V6 => 16,
        }
    }
}

/// Whether `a` is an IPv6 link-local unicast address (fe80::/10), the only source
/// an IPv6 advert may have (RFC 9568 section 5.1.2.1).
pub fn is_link_local(a: &Ipv6Addr) -> bool {
    (a.segments()[0] & 0xffc0) == 0xfe80
}

fn message_len(version: Version, family: Family, count: usize) -> usize {
    let trailer = match version {
        Version::V2 => AUTH_DATA_LEN,
        Version::V3 => 0,
    };
    HEADER_LEN + count * family.addr_len() + trailer
}

/// Encode `advert` as sent from `src` to `dst` (the IP header is the shell's job).
///
/// `dst` matters only to the pseudo-header checksum: the multicast group, or
/// the peer's address in unicast (what keepalived puts in its pseudo-header).
/// `mode` chooses the checksum of IPv4 VRRPv3 only; v2 always checksums the
/// message and IPv6 always uses the pseudo-header. A v2 advert whose `auth`
/// is `None` goes out with auth type 0 and zero auth data.
pub fn encode(
    advert: &Advert,
    src: IpAddr,
    dst: IpAddr,
    mode: ChecksumMode,
) -> Result<Vec<u8>, EncodeError> {
    let family = Family::of(&src);
    if Family::of(&dst) != family || advert.addrs.iter().any(|a| Family::of(a) != family) {
        return Err(EncodeError::MixedFamilies);
    }
    // RFC 3768 5.3.5 / RFC 9568 5.2.5: the count is one byte.
    let count = u8::try_from(advert.addrs.len())
        .map_err(|_| EncodeError::TooManyAddresses(advert.addrs.len()))?;
    if count == 0 {
        return Err(EncodeError::NoAddresses);
    }
    let out_of_range = || EncodeError::IntervalOutOfRange {
        version: advert.version,
        interval_cs: advert.interval_cs,
    };
    // Byte 4 is the auth type for v2 and rsvd + the interval's high nibble for v3.
    let (byte4, byte5) = match advert.version {
        Version::V2 => {
            if family == Family::V6 {
                return Err(EncodeError::V2OverIpv6);
            }
            // RFC 3768 5.3.7: whole seconds in 8 bits, and 0 would stall every peer.
            let cs = advert.interval_cs;
            if cs == 0 || cs > MAX_V2_INTERVAL_CS || !cs.is_multiple_of(100) {
                return Err(out_of_range());
            }
            let auth_type = advert.auth.as_ref().map_or(AUTH_TYPE_NONE, Auth::type_code);
            (auth_type, (cs / 100) as u8)
        }
        Version::V3 => {
            if advert.auth.is_some() {
                return Err(EncodeError::AuthOnV3);
            }
            // RFC 9568 5.2.7: 12 bits of centiseconds; rsvd (top 4 bits) MUST be zero.
            let cs = advert.interval_cs;
            if cs == 0 || cs > MAX_V3_INTERVAL_CS {
                return Err(out_of_range());
            }
            let [hi, lo] = cs.to_be_bytes();
            (hi, lo)
        }
    };

    let len = message_len(advert.version, family, advert.addrs.len());
    let mut buf = Vec::with_capacity(len);
    // RFC 9568 5.2.1 / 5.2.2: version in the high nibble, type 1 in the low one.
    buf.push((advert.version.number() << 4) | TYPE_ADVERT);
    buf.push(advert.vrid);
    buf.push(advert.priority);
    buf.push(count);
    buf.push(byte4);
    buf.push(byte5);
    // Checksum placeholder, filled in below (RFC 9568 5.2.8: zero while computing).
    buf.extend_from_slice(&[0, 0]);
    for addr in &advert.addrs {
        match addr {
            IpAddr::V4(a) => buf.extend_from_slice(&a.octets()),
            IpAddr::V6(a) => buf.extend_from_slice(&a.octets()),
        }
    }
    if advert.version == Version::V2 {
        let zero = [0u8; AUTH_DATA_LEN];
        let data = advert.auth.as_ref().map_or(&zero, Auth::data);
        buf.extend_from_slice(data);
    }
    debug_assert_eq!(buf.len(), len);

    let form = match (advert.version, family, mode) {
        (Version::V2, _, _) => ChecksumForm::Message,
        (Version::V3, Family::V6, _) => ChecksumForm::PseudoHeader,
        (Version::V3, Family::V4, ChecksumMode::PseudoHeader) => ChecksumForm::PseudoHeader,
        (Version::V3, Family::V4, ChecksumMode::Message) => ChecksumForm::Message,
    };
    let sum = checksum(&buf, src, dst, form);
    buf[6..8].copy_from_slice(&sum.to_be_bytes());
    Ok(buf)
}

/// Decode a VRRP message received from `src` to `dst` (the IP header already stripped).
///
/// Checks only what the wire format itself defines: length, version, type,
/// family, v2 auth type and checksum. Semantic receive rules (TTL, VRID,
/// count 0, interval 0, auth match, ...) belong to the instance. For IPv4
/// VRRPv3 either checksum form is accepted and reported; the pseudo-header
/// form wins in the (rare) case that both match.
pub fn decode(
    bytes: &[u8],
    src: IpAddr,
    dst: IpAddr,
) -> Result<(Advert, ChecksumForm), DecodeError> {
    // RFC 9568 7.1: "MUST verify that the received packet contains the
    // complete VRRP packet (including fixed fields, and IPvX address(es))".
    let [vt, vrid, priority, count, byte4, byte5, ck_hi, ck_lo, ..] = *bytes else {
        return Err(DecodeError::Truncated {
            need: HEADER_LEN,
            got: bytes.len(),
        });
    };
    // RFC 3768 7.1 / RFC 9568 7.1: "MUST verify the VRRP version field".
    let version = match vt >> 4 {
        2 => Version::V2,
        3 => Version::V3,
        other => return Err(DecodeError::BadVersion(other)),
    };
    // RFC 9568 5.2.2: "A packet with unknown type MUST be discarded."
    let kind = vt & 0x0f;
    if kind != TYPE_ADVERT {
        return Err(DecodeError::BadType(kind));
    }
    let family = Family::of(&src);
    if Family::of(&dst) != family {
        return Err(DecodeError::AddressFamilyMismatch);
    }
    if version == Version::V2 && family == Family::V6 {
        return Err(DecodeError::V2OverIpv6);
    }

    let fixed = message_len(version, family, 0);
    if bytes.len() < fixed {
        return Err(DecodeError::Truncated {
            need: fixed,
            got: bytes.len(),
        });
    }
    // Never trust the count: derive the length it implies and compare first.
    let expected = message_len(version, family, usize::from(count));
    if bytes.len() < expected {
        return Err(DecodeError::CountMismatch {
            count,
            room: (bytes.len() - fixed) / family.addr_len(),
        });
    }
    // RFC 9568 7.1 only asks for the complete packet, but keepalived 2.2.7
    // (vrrp_in_chk: "Received packet length mismatch") drops anything longer
    // than the count implies, and for v2 it reads the password from the end of
    // the IP packet, so extra bytes would shift it. Be as strict as the peer
    // we interoperate with; the drop is counted under its own reason.
    if bytes.len() > expected {
        return Err(DecodeError::TrailingBytes {
            expected,
            got: bytes.len(),
        });
    }

    let (interval_cs, auth) = match version {
        Version::V2 => {
            let mut data = [0u8; AUTH_DATA_LEN];
            data.copy_from_slice(&bytes[expected - AUTH_DATA_LEN..]);
            // RFC 3768 5.3.6: "A packet with unknown authentication type ... MUST be discarded."
            let auth = match byte4 {
                AUTH_TYPE_NONE => Auth::None(data),
                AUTH_TYPE_SIMPLE => Auth::Simple(data),
                other => return Err(DecodeError::UnknownAuthType(other)),
            };
            (u16::from(byte5) * 100, Some(auth))
        }
        // RFC 9568 5.2.6: rsvd "MUST be set to zero on transmission and ignored on reception".
        Version::V3 => (
            u16::from_be_bytes([byte4, byte5]) & MAX_V3_INTERVAL_CS,
            None,
        ),
    };

    // RFC 3768 7.1 / RFC 9568 7.1: "MUST verify the VRRP checksum". A message
    // whose checksum field is included sums to zero when it is right.
    let found = u16::from_be_bytes([ck_hi, ck_lo]);
    let primary = match version {
        Version::V2 => ChecksumForm::Message,
        Version::V3 => ChecksumForm::PseudoHeader,
    };
    let form = if verify(bytes, src, dst, primary) {
        primary
    } else if version == Version::V3
        && family == Family::V4
        && verify(bytes, src, dst, ChecksumForm::Message)
    {
        ChecksumForm::Message
    } else {
        let mut zeroed = bytes.to_vec();
        zeroed[6] = 0;
        zeroed[7] = 0;
        return Err(DecodeError::BadChecksum {
            found,
            expected: checksum(&zeroed, src, dst, primary),
        });
    };

    let addr_bytes = &bytes[HEADER_LEN..HEADER_LEN + usize::from(count) * family.addr_len()];
    let addrs = match family {
        Family::V4 => addr_bytes
            .chunks_exact(4)
            .map(|c| IpAddr::V4(Ipv4Addr::new(c[0], c[1], c[2], c[3])))
            .collect(),
        Family::V6 => addr_bytes
            .chunks_exact(16)
            .map(|c| {
                let mut o = [0u8; 16];
                o.copy_from_slice(c);
                IpAddr::V6(Ipv6Addr::from(o))
            })
            .collect(),
    };
    let advert = Advert {
        version,
        vrid,
        priority,
        interval_cs,
        auth,
        addrs,
    };
    Ok((advert, form))
}

/// The checksum to put in `msg` (whose checksum field must be zero) for `form`.
///
/// Exposed for tests and tools; `encode` and `decode` call it for you.
pub fn checksum(msg: &[u8], src: IpAddr, dst: IpAddr, form: ChecksumForm) -> u16 {
    !fold(sum_with(msg, src, dst, form))
}

/// Whether `msg`, checksum field included, is valid under `form`.
fn verify(msg: &[u8], src: IpAddr, dst: IpAddr, form: ChecksumForm) -> bool {
    // A correct one's complement checksum makes the whole sum 0xffff.
    fold(sum_with(msg, src, dst, form)) == 0xffff
}

/// One's complement sum (unfolded) of `msg` plus, for `PseudoHeader`, the pseudo-header.
fn sum_with(msg: &[u8], src: IpAddr, dst: IpAddr, form: ChecksumForm) -> u64 {
    let mut sum = sum_bytes(msg);
    if form == ChecksumForm::PseudoHeader {
        // A message is at most 8 + 255 * 16 bytes, so the length always fits.
        let len = msg.len() as u64;
        match (src, dst) {
            // RFC 768-style IPv4 pseudo-header: src, dst, zero, protocol, 16-bit length.
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                sum += sum_bytes(&s.octets()) + sum_bytes(&d.octets());
                sum += u64::from(IPPROTO_VRRP) + (len & 0xffff);
            }
            // RFC 8200 8.1: src, dst, 32-bit upper-layer length, 3 zero bytes, next header.
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                sum += sum_bytes(&s.octets()) + sum_bytes(&d.octets());
                sum += (len >> 16) + (len & 0xffff) + u64::from(IPPROTO_VRRP);
            }
            // Mixed families never reach here: encode and decode reject them first.
            _ => {}
        }
    }
    sum
}

/// Sum of big-endian 16-bit words, an odd last byte padded with zero (RFC 1071).
fn sum_bytes(bytes: &[u8]) -> u64 {
    let mut chunks = bytes.chunks_exact(2);
    let mut sum: u64 = chunks
        .by_ref()
        .map(|w| u64::from(u16::from_be_bytes([w[0], w[1]])))
        .sum();
    if let [last] = chunks.remainder() {
        sum += u64::from(*last) << 8;
    }
    sum
}

/// Fold carries back into 16 bits (one's complement addition).
fn fold(mut sum: u64) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}
