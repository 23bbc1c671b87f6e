//! Cross-check our encoder with Wireshark's VRRP dissector: encode adverts of
//! every kind, frame them in Ethernet + IPv4/IPv6 (TTL 255, the VRRP
//! multicast MAC and group, or a unicast peer), write a pcap and ask tshark
//! what it sees. A frame with a deliberately broken checksum proves that
//! tshark really checks. Needs tshark: fails without it when `CI` is set,
//! else skips with a printed reason.

mod prereq;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::process::Command;

use pnet_packet::ip::IpNextHeaderProtocols;
use pnet_packet::ipv4::{self, MutableIpv4Packet};
use pnet_packet::ipv6::MutableIpv6Packet;
use vrrp_ha::core::packet::{
    encode, Advert, Auth, ChecksumMode, Version, MULTICAST_V4, MULTICAST_V6, VRRP_TTL,
};

const SRC4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const PEER4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);

fn src6() -> Ipv6Addr {
    "fe80::5eff:fe00:a1".parse().unwrap()
}

/// tshark, or None when the test should skip (outside CI only).
fn tshark() -> Option<&'static str> {
    prereq::require(
        "codec_tshark",
        prereq::runs("tshark"),
        "tshark is missing (apt-get install -y --no-install-recommends tshark)",
    )
    .then_some("tshark")
}

/// Ethernet + IP framing of a VRRP message, as the kernel would send it.
fn frame(src: IpAddr, dst: IpAddr, vrid: u8, vrrp: &[u8]) -> Vec<u8> {
    // Source: the VRRP virtual MAC (RFC 9568 7.3); destination: the group's MAC.
    let (dst_mac, src_mac, ethertype): ([u8; 6], [u8; 6], u16) = match dst {
        IpAddr::V4(d) if d.is_multicast() => {
            let o = d.octets();
            (
                [0x01, 0x00, 0x5e, o[1] & 0x7f, o[2], o[3]],
                [0, 0, 0x5e, 0, 1, vrid],
                0x0800,
            )
        }
        IpAddr::V4(_) => (
            [0x02, 0, 0x5e, 0, 0, 0xb1],
            [0, 0, 0x5e, 0, 1, vrid],
            0x0800,
        ),
        IpAddr::V6(d) => {
            let o = d.octets();
            (
                [0x33, 0x33, o[12], o[13], o[14], o[15]],
                [0, 0, 0x5e, 0, 2, vrid],
                0x86dd,
            )
        }
    };
    let mut out = Vec::new();
    out.extend_from_slice(&dst_mac);
    out.extend_from_slice(&src_mac);
    out.extend_from_slice(&ethertype.to_be_bytes());
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let mut buf = vec![0u8; 20 + vrrp.len()];
            let mut ip = MutableIpv4Packet::new(&mut buf).unwrap();
            ip.set_version(4);
            ip.set_header_length(5);
            ip.set_dscp(48); // CS6, as keepalived sets (0xc0 TOS)
            ip.set_total_length((20 + vrrp.len()) as u16);
            ip.set_ttl(VRRP_TTL);
            ip.set_next_level_protocol(IpNextHeaderProtocols::Vrrp);
            ip.set_source(s);
            ip.set_destination(d);
            ip.set_payload(vrrp);
            let ck = ipv4::checksum(&ip.to_immutable());
            ip.set_checksum(ck);
            out.extend_from_slice(&buf);
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let mut buf = vec![0u8; 40 + vrrp.len()];
            let mut ip = MutableIpv6Packet::new(&mut buf).unwrap();
            ip.set_version(6);
            ip.set_payload_length(vrrp.len() as u16);
            ip.set_next_header(IpNextHeaderProtocols::Vrrp);
            ip.set_hop_limit(VRRP_TTL);
            ip.set_source(s);
            ip.set_destination(d);
            ip.set_payload(vrrp);
            out.extend_from_slice(&buf);
        }
        _ => unreachable!("test frames are of one family"),
    }
    out
}

/// Write a classic pcap file (LINKTYPE_ETHERNET, microsecond timestamps).
fn write_pcap(path: &Path, frames: &[Vec<u8>]) {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&0i32.to_le_bytes()); // thiszone
    out.extend_from_slice(&0u32.to_le_bytes()); // sigfigs
    out.extend_from_slice(&65535u32.to_le_bytes()); // snaplen
    out.extend_from_slice(&1u32.to_le_bytes()); // Ethernet
    for (i, f) in frames.iter().enumerate() {
        out.extend_from_slice(&(i as u32).to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&(f.len() as u32).to_le_bytes());
        out.extend_from_slice(&(f.len() as u32).to_le_bytes());
        out.extend_from_slice(f);
    }
    std::fs::write(path, out).unwrap();
}

/// A pcap file removed when the test ends, pass or fail.
struct TempPcap(PathBuf);

impl TempPcap {
    fn new(tag: &str) -> TempPcap {
        let name = format!("vrrp-ha-codec-tshark-{}-{tag}.pcap", std::process::id());
        TempPcap(std::env::temp_dir().join(name))
    }
}

impl Drop for TempPcap {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

const FIELDS: &[&str] = &[
    "vrrp.version",
    "vrrp.type",
    "vrrp.virt_rtr_id",
    "vrrp.prio",
    "vrrp.addr_count",
    "vrrp.auth_type",
    "vrrp.adver_int",
    "vrrp.short_adver_int",
    "vrrp.checksum.status",
    "vrrp.ip_addr",
    "vrrp.ipv6_addr",
    "vrrp.auth_string",
    "ip.ttl",
    "ipv6.hlim",
];

/// Run tshark on `pcap` with extra `-o` preferences: the verbose text, and one
/// map of FIELDS per frame.
fn dissect(bin: &str, pcap: &Path, prefs: &[&str]) -> (String, Vec<Vec<(String, String)>>) {
    let mut verbose = Command::new(bin);
    verbose.arg("-r").arg(pcap).arg("-V");
    let mut fields = Command::new(bin);
    fields
        .arg("-r")
        .arg(pcap)
        .args(["-T", "fields", "-E", "separator=\t"]);
    for p in prefs {
        verbose.args(["-o", p]);
        fields.args(["-o", p]);
    }
    for f in FIELDS {
        fields.args(["-e", f]);
    }
    let v = verbose.output().unwrap();
    assert!(
        v.status.success(),
        "tshark -V failed: {}",
        String::from_utf8_lossy(&v.stderr)
    );
    let f = fields.output().unwrap();
    assert!(
        f.status.success(),
        "tshark -T fields failed: {}",
        String::from_utf8_lossy(&f.stderr)
    );
    let rows = String::from_utf8_lossy(&f.stdout)
        .lines()
        .map(|line| {
            FIELDS
                .iter()
                .zip(line.split('\t'))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .collect();
    (String::from_utf8_lossy(&v.stdout).into_owned(), rows)
}

fn get<'a>(row: &'a [(String, String)], key: &str) -> &'a str {
    row.iter()
        .find(|(k, _)| k == key)
        .map_or("", |(_, v)| v.as_str())
}

/// What tshark must report for one advert.
fn assert_row(row: &[(String, String)], a: &Advert, what: &str) {
    let num = match a.version {
        Version::V2 => "2",
        Version::V3 => "3",
    };
    assert_eq!(get(row, "vrrp.version"), num, "{what}: version");
    assert_eq!(get(row, "vrrp.type"), "1", "{what}: type");
    assert_eq!(
        get(row, "vrrp.virt_rtr_id"),
        a.vrid.to_string(),
        "{what}: vrid"
    );
    assert_eq!(
        get(row, "vrrp.prio"),
        a.priority.to_string(),
        "{what}: priority"
    );
    assert_eq!(
        get(row, "vrrp.addr_count"),
        a.addrs.len().to_string(),
        "{what}: count"
    );
    // Wireshark: PROTO_CHECKSUM_E_GOOD == 1.
    assert_eq!(
        get(row, "vrrp.checksum.status"),
        "1",
        "{what}: checksum status"
    );
    let addrs: Vec<String> = a.addrs.iter().map(|x| x.to_string()).collect();
    match a.version {
        Version::V2 => {
            assert_eq!(
                get(row, "vrrp.adver_int"),
                (a.interval_cs / 100).to_string(),
                "{what}"
            );
            let auth = a.auth.as_ref().unwrap();
            assert_eq!(
                get(row, "vrrp.auth_type"),
                auth.type_code().to_string(),
                "{what}"
            );
            if let Auth::Simple(pw) = auth {
                let text: String = pw
                    .iter()
                    .take_while(|b| **b != 0)
                    .map(|b| char::from(*b))
                    .collect();
                assert_eq!(get(row, "vrrp.auth_string"), text, "{what}: password");
            }
            assert_eq!(
                get(row, "vrrp.ip_addr"),
                addrs.join(","),
                "{what}: addresses"
            );
            assert_eq!(get(row, "ip.ttl"), "255", "{what}: ttl");
        }
        Version::V3 => {
            assert_eq!(
                get(row, "vrrp.short_adver_int"),
                a.interval_cs.to_string(),
                "{what}"
            );
            let key = if a.addrs[0].is_ipv4() {
                "vrrp.ip_addr"
            } else {
                "vrrp.ipv6_addr"
            };
            // tshark prints IPv6 addresses in their canonical short form, as Rust does.
            assert_eq!(get(row, key), addrs.join(","), "{what}: addresses");
            let ttl = if a.addrs[0].is_ipv4() {
                "ip.ttl"
            } else {
                "ipv6.hlim"
            };
            assert_eq!(get(row, ttl), "255", "{what}: ttl");
        }
    }
}

struct Case {
    what: &'static str,
    advert: Advert,
    src: IpAddr,
    dst: IpAddr,
}

fn cases() -> Vec<Case> {
    let v4 = |s: &str| s.parse::<IpAddr>().unwrap();
    vec![
        Case {
            what: "v2 PASS multicast",
            advert: Advert {
                version: Version::V2,
                vrid: 51,
                priority: 150,
                interval_cs: 300,
                auth: Some(Auth::simple("1111")),
                addrs: vec![v4("192.0.2.100"), v4("192.0.2.101")],
            },
            src: IpAddr::V4(SRC4),
            dst: IpAddr::V4(MULTICAST_V4),
        },
        Case {
            what: "v2 no auth",
            advert: Advert {
                version: Version::V2,
                vrid: 7,
                priority: 255,
                interval_cs: 100,
                auth: Some(Auth::None([0; 8])),
                addrs: vec![v4("192.0.2.7")],
            },
            src: IpAddr::V4(SRC4),
            dst: IpAddr::V4(MULTICAST_V4),
        },
        Case {
            what: "v3 IPv4 multicast",
            advert: Advert {
                version: Version::V3,
                vrid: 52,
                priority: 200,
                interval_cs: 100,
                auth: None,
                addrs: vec![v4("192.0.2.110")],
            },
            src: IpAddr::V4(SRC4),
            dst: IpAddr::V4(MULTICAST_V4),
        },
        Case {
            what: "v3 IPv4 unicast",
            advert: Advert {
                version: Version::V3,
                vrid: 53,
                priority: 1,
                interval_cs: 4095,
                auth: None,
                addrs: vec![v4("192.0.2.120"), v4("192.0.2.121"), v4("192.0.2.122")],
            },
            src: IpAddr::V4(SRC4),
            dst: IpAddr::V4(PEER4),
        },
        Case {
            what: "v3 IPv6 multicast",
            advert: Advert {
                version: Version::V3,
                vrid: 54,
                priority: 0,
                interval_cs: 75,
                auth: None,
                addrs: vec![v4("2001:db8::140"), v4("2001:db8::141")],
            },
            src: IpAddr::V6(src6()),
            dst: IpAddr::V6(MULTICAST_V6),
        },
    ]
}

#[test]
fn tshark_accepts_our_adverts() {
    let Some(bin) = tshark() else { return };

    // Pseudo-header mode: Wireshark's default reading of IPv4 VRRPv3.
    let cases = cases();
    let mut frames: Vec<Vec<u8>> = cases
        .iter()
        .map(|c| {
            let bytes = encode(&c.advert, c.src, c.dst, ChecksumMode::PseudoHeader).unwrap();
            frame(c.src, c.dst, c.advert.vrid, &bytes)
        })
        .collect();
    // Control: a frame with a broken checksum, which tshark must call incorrect.
    let mut bad = encode(
        &cases[2].advert,
        cases[2].src,
        cases[2].dst,
        ChecksumMode::PseudoHeader,
    )
    .unwrap();
    bad[7] ^= 0xff;
    frames.push(frame(cases[2].src, cases[2].dst, 52, &bad));

    let pcap = TempPcap::new("pseudo");
    write_pcap(&pcap.0, &frames);
    let (text, rows) = dissect(bin, &pcap.0, &[]);
    assert_eq!(rows.len(), frames.len(), "tshark saw every frame:\n{text}");
    for (c, row) in cases.iter().zip(&rows) {
        assert_row(row, &c.advert, c.what);
    }
    assert_eq!(
        get(&rows[cases.len()], "vrrp.checksum.status"),
        "0",
        "control frame"
    );
    assert_eq!(
        text.matches("incorrect").count(),
        1,
        "only the control frame has an incorrect checksum:\n{text}"
    );
    assert_eq!(text.matches("[correct]").count(), cases.len(), "{text}");
}

#[test]
fn tshark_accepts_rfc9568_message_checksum() {
    let Some(bin) = tshark() else { return };
    let cases: Vec<Case> = cases()
        .into_iter()
        .filter(|c| c.advert.version == Version::V3 && c.src.is_ipv4())
        .collect();
    let frames: Vec<Vec<u8>> = cases
        .iter()
        .map(|c| {
            let bytes = encode(&c.advert, c.src, c.dst, ChecksumMode::Message).unwrap();
            frame(c.src, c.dst, c.advert.vrid, &bytes)
        })
        .collect();
    let pcap = TempPcap::new("message");
    write_pcap(&pcap.0, &frames);

    // Wireshark's preference for the RFC 9568 / Cisco reading.
    let (text, rows) = dissect(bin, &pcap.0, &["vrrp.v3_checksum_as_in_v2:TRUE"]);
    assert_eq!(rows.len(), frames.len());
    for (c, row) in cases.iter().zip(&rows) {
        assert_row(row, &c.advert, c.what);
    }
    assert!(!text.contains("incorrect"), "{text}");

    // And under the default preference the same frames are flagged: the two
    // forms really differ on the wire.
    let (text, _) = dissect(bin, &pcap.0, &[]);
    assert_eq!(text.matches("incorrect").count(), frames.len(), "{text}");
}
