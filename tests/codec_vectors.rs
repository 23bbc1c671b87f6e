//! Real adverts from keepalived 2.2.7 (tests/vectors/, made by
//! scripts/capture-vectors.sh): decode each, check every field against the
//! configuration keepalived ran with, and re-encode byte for byte.

use std::net::IpAddr;

use vrrp_ha::core::packet::{
    decode, encode, Advert, Auth, ChecksumForm, ChecksumMode, DecodeError, Version, MULTICAST_V4,
    VRRP_TTL,
};

/// One captured advert.
struct Vector {
    line: usize,
    src: IpAddr,
    dst: IpAddr,
    ttl: u8,
    vrrp: Vec<u8>,
}

/// Parse the format documented in tests/vectors/README.
fn parse(name: &str, text: &str) -> Vec<Vector> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (mut src, mut dst, mut ttl, mut vrrp) = (None, None, None, None);
        for field in line.split_whitespace() {
            let (k, v) = field
                .split_once('=')
                .unwrap_or_else(|| panic!("{name}:{}: not key=value: {field}", i + 1));
            match k {
                "src" => src = Some(v.parse().expect("src")),
                "dst" => dst = Some(v.parse().expect("dst")),
                "ttl" => ttl = Some(v.parse().expect("ttl")),
                "vrrp" => {
                    assert!(v.len() % 2 == 0, "{name}:{}: odd hex length", i + 1);
                    vrrp = Some(
                        (0..v.len())
                            .step_by(2)
                            .map(|j| u8::from_str_radix(&v[j..j + 2], 16).expect("hex"))
                            .collect(),
                    )
                }
                other => panic!("{name}:{}: unknown key {other}", i + 1),
            }
        }
        out.push(Vector {
            line: i + 1,
            src: src.expect("src"),
            dst: dst.expect("dst"),
            ttl: ttl.expect("ttl"),
            vrrp: vrrp.expect("vrrp"),
        });
    }
    assert!(
        out.len() >= 2,
        "{name}: expected adverts and a priority 0 one"
    );
    out
}

/// What keepalived was configured with for one file.
struct Expect {
    version: Version,
    vrid: u8,
    priority: u8,
    interval_cs: u16,
    auth: Option<Auth>,
    addrs: &'static [&'static str],
    form: ChecksumForm,
    mode: ChecksumMode,
}

fn check(name: &str, text: &str, want: Expect) {
    let vectors = parse(name, text);
    let last = vectors.len() - 1;
    for (i, v) in vectors.iter().enumerate() {
        let at = format!("{name}:{}", v.line);
        assert_eq!(v.ttl, VRRP_TTL, "{at}: TTL");
        let (advert, form) = decode(&v.vrrp, v.src, v.dst).unwrap_or_else(|e| panic!("{at}: {e}"));
        // keepalived sends priority 0 once when it stops: the last line.
        let priority = if i == last { 0 } else { want.priority };
        let expected = Advert {
            version: want.version,
            vrid: want.vrid,
            priority,
            interval_cs: want.interval_cs,
            auth: want.auth.clone(),
            addrs: want.addrs.iter().map(|a| a.parse().unwrap()).collect(),
        };
        assert_eq!(advert, expected, "{at}: fields");
        assert_eq!(form, want.form, "{at}: checksum form");
        let again = encode(&advert, v.src, v.dst, want.mode).unwrap();
        assert_eq!(again, v.vrrp, "{at}: re-encoding differs");
    }
}

#[test]
fn keepalived_v2_pass() {
    check(
        "v2_pass",
        include_str!("vectors/v2_pass.txt"),
        Expect {
            version: Version::V2,
            vrid: 51,
            priority: 150,
            interval_cs: 100,
            auth: Some(Auth::simple("1111")),
            addrs: &["192.0.2.100", "192.0.2.101"],
            form: ChecksumForm::Message,
            mode: ChecksumMode::Message,
        },
    );
}

#[test]
fn keepalived_v3_ipv4_multicast_uses_pseudo_header() {
    let text = include_str!("vectors/v3_ipv4_multicast.txt");
    check(
        "v3_ipv4_multicast",
        text,
        Expect {
            version: Version::V3,
            vrid: 52,
            priority: 200,
            interval_cs: 100,
            auth: None,
            addrs: &["192.0.2.110"],
            form: ChecksumForm::PseudoHeader,
            mode: ChecksumMode::PseudoHeader,
        },
    );
    // The RFC 9568 message-only encoding is not what keepalived sends.
    for v in parse("v3_ipv4_multicast", text) {
        let (advert, _) = decode(&v.vrrp, v.src, v.dst).unwrap();
        assert_ne!(
            encode(&advert, v.src, v.dst, ChecksumMode::Message).unwrap(),
            v.vrrp
        );
    }
}

#[test]
fn keepalived_v3_ipv4_unicast_pseudo_header_has_peer_destination() {
    let text = include_str!("vectors/v3_ipv4_unicast.txt");
    check(
        "v3_ipv4_unicast",
        text,
        Expect {
            version: Version::V3,
            vrid: 53,
            priority: 120,
            interval_cs: 50,
            auth: None,
            addrs: &["192.0.2.120", "192.0.2.121", "192.0.2.122"],
            form: ChecksumForm::PseudoHeader,
            mode: ChecksumMode::PseudoHeader,
        },
    );
    for v in parse("v3_ipv4_unicast", text) {
        assert_eq!(v.dst, "192.0.2.2".parse::<IpAddr>().unwrap());
        // With the multicast group in the pseudo-header (keepalived's old
        // unicast_checksum_compatibility) the checksum would not match.
        assert!(matches!(
            decode(&v.vrrp, v.src, IpAddr::V4(MULTICAST_V4)),
            Err(DecodeError::BadChecksum { .. })
        ));
    }
}

#[test]
fn keepalived_v3_ipv6() {
    check(
        "v3_ipv6",
        include_str!("vectors/v3_ipv6.txt"),
        Expect {
            version: Version::V3,
            vrid: 54,
            priority: 254,
            interval_cs: 75,
            auth: None,
            addrs: &["2001:db8::140", "2001:db8::141"],
            form: ChecksumForm::PseudoHeader,
            mode: ChecksumMode::PseudoHeader,
        },
    );
}
