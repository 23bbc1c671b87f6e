//! Fuzz `decode`: no input may panic, and whatever decodes must re-encode to
//! the same bytes whenever the encoder accepts it.
#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use libfuzzer_sys::fuzz_target;
use vrrp_ha::core::packet::{decode, encode, ChecksumForm, ChecksumMode, Version};

fuzz_target!(|data: &[u8]| {
    // The first byte picks the address families, the next 32 the addresses,
    // so the fuzzer can also reach the pseudo-header paths.
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let (addr_bytes, msg) = rest.split_at(rest.len().min(32));
    let mut a = [0u8; 32];
    a[..addr_bytes.len()].copy_from_slice(addr_bytes);
    let v4 = |o: &[u8]| IpAddr::V4(Ipv4Addr::new(o[0], o[1], o[2], o[3]));
    let v6 = |o: &[u8]| {
        let mut b = [0u8; 16];
        b.copy_from_slice(o);
        IpAddr::V6(Ipv6Addr::from(b))
    };
    let (src, dst) = match sel % 4 {
        0 => (v4(&a[0..4]), v4(&a[4..8])),
        1 => (v6(&a[0..16]), v6(&a[16..32])),
        2 => (v4(&a[0..4]), v6(&a[16..32])),
        _ => (v6(&a[0..16]), v4(&a[4..8])),
    };
    if let Ok((advert, form)) = decode(msg, src, dst) {
        let mode = match form {
            ChecksumForm::PseudoHeader => ChecksumMode::PseudoHeader,
            ChecksumForm::Message => ChecksumMode::Message,
        };
        // v3 rsvd bits are ignored on receipt and zero when sent.
        let rsvd_zero = advert.version == Version::V2 || msg[4] & 0xf0 == 0;
        if let (Ok(bytes), true) = (encode(&advert, src, dst, mode), rsvd_zero) {
            // One's complement has two zeros: a received 0xffff checksum is as
            // valid as the 0x0000 we compute (RFC 1071), so compare modulo that.
            let mut want = msg.to_vec();
            if want[6..8] == [0xff, 0xff] && bytes[6..8] == [0, 0] {
                want[6..8].copy_from_slice(&[0, 0]);
            }
            assert_eq!(bytes, want, "decode -> encode changed the bytes");
        }
    }
});
