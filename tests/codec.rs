//! Codec tests: round trips, every error, checksum known answers, and
//! property tests (arbitrary bytes never panic; encode -> decode is identity).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;
use vrrp_ha::core::packet::{
    checksum, decode, encode, Advert, Auth, ChecksumForm, ChecksumMode, DecodeError, EncodeError,
    Version, MULTICAST_V4, MULTICAST_V6,
};

fn v4(s: &str) -> IpAddr {
    IpAddr::V4(s.parse().unwrap())
}

fn v6(s: &str) -> IpAddr {
    IpAddr::V6(s.parse().unwrap())
}

const SRC4: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
const MC4: IpAddr = IpAddr::V4(MULTICAST_V4);
const MC6: IpAddr = IpAddr::V6(MULTICAST_V6);

fn src6() -> IpAddr {
    v6("fe80::5eff:fe00:a1")
}

fn v2_advert() -> Advert {
    Advert {
        version: Version::V2,
        vrid: 51,
        priority: 150,
        interval_cs: 100,
        auth: Some(Auth::simple("1111")),
        addrs: vec![v4("192.0.2.100"), v4("192.0.2.101")],
    }
}

fn v3_advert4() -> Advert {
    Advert {
        version: Version::V3,
        vrid: 52,
        priority: 200,
        interval_cs: 100,
        auth: None,
        addrs: vec![v4("192.0.2.110")],
    }
}

fn v3_advert6() -> Advert {
    Advert {
        version: Version::V3,
        vrid: 54,
        priority: 254,
        interval_cs: 75,
        auth: None,
        addrs: vec![v6("2001:db8::140"), v6("2001:db8::141")],
    }
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

// ---------------------------------------------------------------- round trips

#[test]
fn round_trip_v2_pass() {
    let a = v2_advert();
    let bytes = encode(&a, SRC4, MC4, ChecksumMode::PseudoHeader).unwrap();
    assert_eq!(bytes.len(), 8 + 2 * 4 + 8);
    assert_eq!(
        decode(&bytes, SRC4, MC4).unwrap(),
        (a, ChecksumForm::Message)
    );
}

#[test]
fn round_trip_v2_no_auth_and_none_auth_means_type_0() {
    let mut a = v2_advert();
    a.auth = Some(Auth::None([0; 8]));
    let bytes = encode(&a, SRC4, MC4, ChecksumMode::Message).unwrap();
    assert_eq!(bytes[4], 0, "auth type 0");
    assert_eq!(decode(&bytes, SRC4, MC4).unwrap().0, a);
    // `auth: None` on v2 is sent the same way.
    let mut b = a.clone();
    b.auth = None;
    assert_eq!(encode(&b, SRC4, MC4, ChecksumMode::Message).unwrap(), bytes);
}

#[test]
fn round_trip_v3_ipv4_both_modes() {
    let a = v3_advert4();
    for (mode, form) in [
        (ChecksumMode::PseudoHeader, ChecksumForm::PseudoHeader),
        (ChecksumMode::Message, ChecksumForm::Message),
    ] {
        let bytes = encode(&a, SRC4, MC4, mode).unwrap();
        assert_eq!(bytes.len(), 12);
        assert_eq!(decode(&bytes, SRC4, MC4).unwrap(), (a.clone(), form));
    }
}

#[test]
fn round_trip_v3_ipv6_ignores_mode() {
    let a = v3_advert6();
    let p = encode(&a, src6(), MC6, ChecksumMode::PseudoHeader).unwrap();
    let m = encode(&a, src6(), MC6, ChecksumMode::Message).unwrap();
    assert_eq!(p, m, "IPv6 always uses the pseudo-header");
    assert_eq!(p.len(), 8 + 2 * 16);
    assert_eq!(
        decode(&p, src6(), MC6).unwrap(),
        (a, ChecksumForm::PseudoHeader)
    );
}

#[test]
fn round_trip_v3_unicast_uses_real_destination() {
    let a = v3_advert4();
    let peer = v4("192.0.2.2");
    let bytes = encode(&a, SRC4, peer, ChecksumMode::PseudoHeader).unwrap();
    assert_eq!(
        decode(&bytes, SRC4, peer).unwrap().1,
        ChecksumForm::PseudoHeader
    );
    assert!(matches!(
        decode(&bytes, SRC4, MC4),
        Err(DecodeError::BadChecksum { .. })
    ));
}

#[test]
fn v3_interval_uses_12_bits_and_ignores_rsvd() {
    let mut a = v3_advert4();
    a.interval_cs = 4095;
    let mut bytes = encode(&a, SRC4, MC4, ChecksumMode::Message).unwrap();
    assert_eq!(&bytes[4..6], &[0x0f, 0xff]);
    assert_eq!(decode(&bytes, SRC4, MC4).unwrap().0.interval_cs, 4095);
    // RFC 9568 5.2.6: rsvd is ignored on reception (fix the checksum for the change).
    bytes[4] |= 0xf0;
    bytes[6] = 0;
    bytes[7] = 0;
    let ck = checksum(&bytes, SRC4, MC4, ChecksumForm::Message);
    bytes[6..8].copy_from_slice(&ck.to_be_bytes());
    assert_eq!(decode(&bytes, SRC4, MC4).unwrap().0.interval_cs, 4095);
}

#[test]
fn decode_accepts_count_zero_and_interval_zero() {
    // Both are receive-rule drops (RFC 9568 errata), counted by the instance,
    // not wire-format errors.
    let mut bytes = vec![0x31, 1, 100, 0, 0, 0, 0, 0];
    let ck = checksum(&bytes, SRC4, MC4, ChecksumForm::PseudoHeader);
    bytes[6..8].copy_from_slice(&ck.to_be_bytes());
    let (a, _) = decode(&bytes, SRC4, MC4).unwrap();
    assert!(a.addrs.is_empty());
    assert_eq!(a.interval_cs, 0);
}

#[test]
fn checksum_ffff_is_the_other_zero() {
    // Found by the fuzzer: a sender may put 0xffff where we compute 0x0000;
    // both are zero in one's complement (RFC 1071), so both must decode.
    let theirs = hex("210000050001ffffffff0000e5ffffffffff05050505fff9e5ffff05ffffff05050505e5");
    let (a, form) = decode(&theirs, SRC4, MC4).unwrap();
    assert_eq!(form, ChecksumForm::Message);
    let ours = encode(&a, SRC4, MC4, ChecksumMode::Message).unwrap();
    assert_eq!(&ours[6..8], &[0, 0]);
    assert_eq!(&ours[8..], &theirs[8..]);
    assert_eq!(decode(&ours, SRC4, MC4).unwrap().0, a);
}

// ------------------------------------------------------------ decode errors

#[test]
fn err_truncated_header() {
    for n in 0..8 {
        let bytes = vec![0x31; n];
        assert_eq!(
            decode(&bytes, SRC4, MC4),
            Err(DecodeError::Truncated { need: 8, got: n })
        );
    }
}

#[test]
fn err_truncated_v2_auth_data() {
    // A v2 header with count 0 but without the 8 auth data bytes.
    let bytes = [0x21, 1, 100, 0, 0, 1, 0, 0, 0, 0];
    assert_eq!(
        decode(&bytes, SRC4, MC4),
        Err(DecodeError::Truncated { need: 16, got: 10 })
    );
}

#[test]
fn err_bad_version() {
    let mut bytes = encode(&v3_advert4(), SRC4, MC4, ChecksumMode::PseudoHeader).unwrap();
    for v in [0u8, 1, 4, 15] {
        bytes[0] = (v << 4) | 1;
        assert_eq!(decode(&bytes, SRC4, MC4), Err(DecodeError::BadVersion(v)));
    }
}

#[test]
fn err_bad_type() {
    let mut bytes = encode(&v3_advert4(), SRC4, MC4, ChecksumMode::PseudoHeader).unwrap();
    bytes[0] = 0x32;
    assert_eq!(decode(&bytes, SRC4, MC4), Err(DecodeError::BadType(2)));
    bytes[0] = 0x30;
    assert_eq!(decode(&bytes, SRC4, MC4), Err(DecodeError::BadType(0)));
}

#[test]
fn err_address_family_mismatch() {
    let bytes = encode(&v3_advert4(), SRC4, MC4, ChecksumMode::PseudoHeader).unwrap();
    assert_eq!(
        decode(&bytes, SRC4, MC6),
        Err(DecodeError::AddressFamilyMismatch)
    );
    assert_eq!(
        decode(&bytes, src6(), MC4),
        Err(DecodeError::AddressFamilyMismatch)
    );
}

#[test]
fn err_v2_over_ipv6() {
    let bytes = encode(&v2_advert(), SRC4, MC4, ChecksumMode::Message).unwrap();
    assert_eq!(decode(&bytes, src6(), MC6), Err(DecodeError::V2OverIpv6));
}

#[test]
fn err_count_mismatch() {
    let bytes = encode(&v3_advert6(), src6(), MC6, ChecksumMode::PseudoHeader).unwrap();
    // Count says 2, but only one and a half addresses arrived.
    assert_eq!(
        decode(&bytes[..8 + 24], src6(), MC6),
        Err(DecodeError::CountMismatch { count: 2, room: 1 })
    );
    // A huge count with a short body must not be trusted.
    let mut lie = bytes.clone();
    lie[3] = 255;
    assert_eq!(
        decode(&lie, src6(), MC6),
        Err(DecodeError::CountMismatch {
            count: 255,
            room: 2
        })
    );
    let v2 = encode(&v2_advert(), SRC4, MC4, ChecksumMode::Message).unwrap();
    assert_eq!(
        decode(&v2[..v2.len() - 1], SRC4, MC4),
        Err(DecodeError::CountMismatch { count: 2, room: 1 })
    );
}

#[test]
fn err_trailing_bytes() {
    let mut bytes = encode(&v3_advert4(), SRC4, MC4, ChecksumMode::PseudoHeader).unwrap();
    bytes.extend_from_slice(&[0; 4]);
    assert_eq!(
        decode(&bytes, SRC4, MC4),
        Err(DecodeError::TrailingBytes {
            expected: 12,
            got: 16
        })
    );
}

#[test]
fn err_unknown_auth_type() {
    let mut bytes = encode(&v2_advert(), SRC4, MC4, ChecksumMode::Message).unwrap();
    bytes[4] = 2; // IP Authentication Header, RFC 2338; removed by RFC 3768.
    assert_eq!(
        decode(&bytes, SRC4, MC4),
        Err(DecodeError::UnknownAuthType(2))
    );
}

#[test]
fn err_bad_checksum_every_kind() {
    let cases = [
        (
            encode(&v2_advert(), SRC4, MC4, ChecksumMode::Message).unwrap(),
            SRC4,
            MC4,
        ),
        (
            encode(&v3_advert4(), SRC4, MC4, ChecksumMode::PseudoHeader).unwrap(),
            SRC4,
            MC4,
        ),
        (
            encode(&v3_advert4(), SRC4, MC4, ChecksumMode::Message).unwrap(),
            SRC4,
            MC4,
        ),
        (
            encode(&v3_advert6(), src6(), MC6, ChecksumMode::PseudoHeader).unwrap(),
            src6(),
            MC6,
        ),
    ];
    for (mut bytes, src, dst) in cases {
        bytes[2] ^= 0x01; // flip a priority bit
        match decode(&bytes, src, dst) {
            Err(DecodeError::BadChecksum { found, expected }) => assert_ne!(found, expected),
            other => panic!("expected BadChecksum, got {other:?}"),
        }
    }
}

#[test]
fn err_bad_checksum_wrong_source() {
    // The pseudo-header binds the checksum to the addresses.
    let bytes = encode(&v3_advert6(), src6(), MC6, ChecksumMode::PseudoHeader).unwrap();
    assert!(matches!(
        decode(&bytes, v6("fe80::2"), MC6),
        Err(DecodeError::BadChecksum { .. })
    ));
}

#[test]
fn decode_reasons_are_stable_and_distinct() {
    let all = [
        (DecodeError::Truncated { need: 8, got: 0 }, "truncated"),
        (DecodeError::BadVersion(1), "bad_version"),
        (DecodeError::BadType(2), "bad_type"),
        (
            DecodeError::AddressFamilyMismatch,
            "address_family_mismatch",
        ),
        (DecodeError::V2OverIpv6, "v2_over_ipv6"),
        (
            DecodeError::CountMismatch { count: 1, room: 0 },
            "count_mismatch",
        ),
        (
            DecodeError::TrailingBytes {
                expected: 1,
                got: 2,
            },
            "trailing_bytes",
        ),
        (DecodeError::UnknownAuthType(9), "unknown_auth_type"),
        (
            DecodeError::BadChecksum {
                found: 1,
                expected: 2,
            },
            "bad_checksum",
        ),
    ];
    for (e, reason) in &all {
        assert_eq!(e.reason(), *reason);
        assert!(!e.to_string().is_empty());
    }
}

// ------------------------------------------------------------ encode errors

#[test]
fn encode_errors() {
    let mut a = v3_advert4();
    a.addrs.push(v6("2001:db8::1"));
    assert_eq!(
        encode(&a, SRC4, MC4, ChecksumMode::PseudoHeader),
        Err(EncodeError::MixedFamilies)
    );
    assert_eq!(
        encode(&v3_advert4(), SRC4, MC6, ChecksumMode::PseudoHeader),
        Err(EncodeError::MixedFamilies)
    );
    assert_eq!(
        encode(&v3_advert4(), src6(), MC6, ChecksumMode::PseudoHeader),
        Err(EncodeError::MixedFamilies)
    );

    let mut a = v3_advert4();
    a.addrs = (0..256u32)
        .map(|i| IpAddr::V4(Ipv4Addr::from(0xc000_0200 + i)))
        .collect();
    assert_eq!(
        encode(&a, SRC4, MC4, ChecksumMode::Message),
        Err(EncodeError::TooManyAddresses(256))
    );
    a.addrs.pop();
    assert_eq!(
        encode(&a, SRC4, MC4, ChecksumMode::Message).unwrap().len(),
        8 + 255 * 4
    );

    let mut a = v3_advert4();
    a.addrs.clear();
    assert_eq!(
        encode(&a, SRC4, MC4, ChecksumMode::Message),
        Err(EncodeError::NoAddresses)
    );

    let mut a = v3_advert6();
    a.version = Version::V2;
    assert_eq!(
        encode(&a, src6(), MC6, ChecksumMode::Message),
        Err(EncodeError::V2OverIpv6)
    );

    for (version, cs) in [
        (Version::V2, 0),
        (Version::V2, 150),
        (Version::V2, 25600),
        (Version::V3, 0),
        (Version::V3, 4096),
    ] {
        let mut a = if version == Version::V2 {
            v2_advert()
        } else {
            v3_advert4()
        };
        a.interval_cs = cs;
        assert_eq!(
            encode(&a, SRC4, MC4, ChecksumMode::Message),
            Err(EncodeError::IntervalOutOfRange {
                version,
                interval_cs: cs
            })
        );
    }

    let mut a = v3_advert4();
    a.auth = Some(Auth::None([0; 8]));
    assert_eq!(
        encode(&a, SRC4, MC4, ChecksumMode::Message),
        Err(EncodeError::AuthOnV3)
    );
}

#[test]
fn encode_reasons_are_stable() {
    let all = [
        (EncodeError::MixedFamilies, "mixed_families"),
        (EncodeError::TooManyAddresses(300), "too_many_addresses"),
        (EncodeError::NoAddresses, "no_addresses"),
        (EncodeError::V2OverIpv6, "v2_over_ipv6"),
        (
            EncodeError::IntervalOutOfRange {
                version: Version::V3,
                interval_cs: 0,
            },
            "interval_out_of_range",
        ),
        (EncodeError::AuthOnV3, "auth_on_v3"),
    ];
    for (e, reason) in &all {
        assert_eq!(e.reason(), *reason);
    }
}

// ---------------------------------------------------- checksum known answers

#[test]
fn checksum_rfc1071_example() {
    // RFC 1071 section 3: the words 0001 f203 f4f5 f6f7 sum to ddf2 (folded).
    let bytes = hex("0001f203f4f5f6f7");
    assert_eq!(checksum(&bytes, SRC4, MC4, ChecksumForm::Message), !0xddf2);
    // An odd trailing byte is padded with zero.
    assert_eq!(checksum(&[0x01], SRC4, MC4, ChecksumForm::Message), !0x0100);
}

#[test]
fn checksum_known_answers_from_keepalived() {
    // Bytes keepalived 2.2.7 sent (tests/vectors/); our encoder must agree.
    let v2 = encode(&v2_advert(), SRC4, MC4, ChecksumMode::Message).unwrap();
    assert_eq!(v2, hex("213396020101609cc0000264c00002653131313100000000"));

    let v3 = encode(&v3_advert4(), SRC4, MC4, ChecksumMode::PseudoHeader).unwrap();
    assert_eq!(v3, hex("3134c8010064a166c000026e"));
    // The RFC 9568 message-only form of the same advert (worked out by hand:
    // !(0x3134 + 0xc801 + 0x0064 + 0xc000 + 0x026e, folded) = 0x43f7).
    let msg_only = encode(&v3_advert4(), SRC4, MC4, ChecksumMode::Message).unwrap();
    assert_eq!(&msg_only[6..8], &[0x43, 0xf7]);

    let v6a = encode(&v3_advert6(), src6(), MC6, ChecksumMode::PseudoHeader).unwrap();
    assert_eq!(
        v6a,
        hex("3136fe02004b16b920010db800000000000000000000014020010db8000000000000000000000141")
    );
}

// ---------------------------------------------------------- property tests

fn any_ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<u32>().prop_map(|a| IpAddr::V4(Ipv4Addr::from(a))),
        any::<u128>().prop_map(|a| IpAddr::V6(Ipv6Addr::from(a))),
    ]
}

/// A valid advert with matching src and dst for it.
fn valid_case() -> impl Strategy<Value = (Advert, IpAddr, IpAddr, ChecksumMode)> {
    let mode = prop_oneof![
        Just(ChecksumMode::PseudoHeader),
        Just(ChecksumMode::Message)
    ];
    let v2 = (
        any::<u8>(),
        any::<u8>(),
        1u16..=255,
        any::<bool>(),
        any::<[u8; 8]>(),
        prop::collection::vec(any::<u32>(), 1..=255),
        any::<u32>(),
        any::<u32>(),
    )
        .prop_map(|(vrid, priority, secs, simple, data, addrs, s, d)| {
            let advert = Advert {
                version: Version::V2,
                vrid,
                priority,
                interval_cs: secs * 100,
                auth: Some(if simple {
                    Auth::Simple(data)
                } else {
                    Auth::None(data)
                }),
                addrs: addrs
                    .into_iter()
                    .map(|a| IpAddr::V4(Ipv4Addr::from(a)))
                    .collect(),
            };
            (
                advert,
                IpAddr::V4(Ipv4Addr::from(s)),
                IpAddr::V4(Ipv4Addr::from(d)),
            )
        });
    let v3 = (
        any::<u8>(),
        any::<u8>(),
        1u16..=4095,
        any::<bool>(),
        prop::collection::vec(any::<u128>(), 1..=255),
        any::<u128>(),
        any::<u128>(),
    )
        .prop_map(|(vrid, priority, interval_cs, ipv6, addrs, s, d)| {
            let ip = |a: u128| {
                if ipv6 {
                    IpAddr::V6(Ipv6Addr::from(a))
                } else {
                    IpAddr::V4(Ipv4Addr::from(a as u32))
                }
            };
            let advert = Advert {
                version: Version::V3,
                vrid,
                priority,
                interval_cs,
                auth: None,
                addrs: addrs.into_iter().map(ip).collect(),
            };
            (advert, ip(s), ip(d))
        });
    (prop_oneof![v2, v3], mode).prop_map(|((a, s, d), m)| (a, s, d, m))
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(
        bytes in prop::collection::vec(any::<u8>(), 0..600),
        src in any_ip(),
        dst in any_ip(),
    ) {
        if let Err(e) = decode(&bytes, src, dst) {
            prop_assert!(!e.reason().is_empty());
        }
    }

    #[test]
    fn mutated_valid_adverts_never_panic(
        (advert, src, dst, mode) in valid_case(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let mut bytes = encode(&advert, src, dst, mode).unwrap();
        for (at, x) in flips {
            let i = at.index(bytes.len());
            bytes[i] ^= x;
        }
        if truncate {
            bytes.truncate(cut.index(bytes.len() + 1));
        }
        let _ = decode(&bytes, src, dst);
    }

    #[test]
    fn encode_then_decode_is_identity((advert, src, dst, mode) in valid_case()) {
        let bytes = encode(&advert, src, dst, mode).unwrap();
        let (back, form) = decode(&bytes, src, dst).unwrap();
        prop_assert_eq!(&back, &advert);
        let expected = match (advert.version, src, mode) {
            (Version::V2, _, _) => ChecksumForm::Message,
            (Version::V3, IpAddr::V6(_), _) => ChecksumForm::PseudoHeader,
            (Version::V3, IpAddr::V4(_), ChecksumMode::PseudoHeader) => ChecksumForm::PseudoHeader,
            (Version::V3, IpAddr::V4(_), ChecksumMode::Message) => ChecksumForm::Message,
        };
        if form != expected {
            // Only possible when the pseudo-header adds nothing mod 0xffff, so
            // both forms give the same checksum (about 1 in 65535 pairs).
            let mut zeroed = bytes.clone();
            zeroed[6] = 0;
            zeroed[7] = 0;
            prop_assert_eq!(
                checksum(&zeroed, src, dst, ChecksumForm::PseudoHeader),
                checksum(&zeroed, src, dst, ChecksumForm::Message)
            );
        }
        // Re-encoding what we decoded, in the form we found, gives the same bytes.
        let again_mode = match form {
            ChecksumForm::PseudoHeader => ChecksumMode::PseudoHeader,
            ChecksumForm::Message => ChecksumMode::Message,
        };
        prop_assert_eq!(encode(&back, src, dst, again_mode).unwrap(), bytes);
    }
}
