//! Fuzz the config parser: `parse_str` must never panic on any text, every
//! diagnostic must point inside the text and render, and every config it
//! accepts must be one the daemon can advertise exactly as written.
#![no_main]

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use libfuzzer_sys::fuzz_target;
use vrrp_ha::config::{parse_str, Instance};
use vrrp_ha::core::packet::{encode, Advert, Auth, ChecksumMode};

/// Stand-ins for the primary address and the group of each family.
const SRC4: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
const DST4: IpAddr = IpAddr::V4(Ipv4Addr::new(224, 0, 0, 18));
const SRC6: IpAddr = IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1));
const DST6: IpAddr = IpAddr::V6(Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12));

/// The advert the daemon would send for `inst`, without the daemon's clamping of
/// the interval: a value the config accepts must not be changed behind its back.
fn advert_of(inst: &Instance) -> Advert {
    Advert {
        version: inst.version,
        vrid: inst.vrid,
        priority: inst.priority,
        interval_cs: inst.interval_cs(),
        auth: inst.auth_bytes().map(Auth::Simple),
        addrs: inst.virtual_ips.iter().map(|v| v.addr).collect(),
    }
}

fuzz_target!(|data: &[u8]| {
    // Invalid UTF-8 is refused before parsing (`config::load`); the lossy text
    // keeps such inputs useful to the parser instead of discarding them.
    let text: Cow<str> = String::from_utf8_lossy(data);
    match parse_str(&text, "fuzz.kdl") {
        Ok(cfg) => {
            assert!(!cfg.instances.is_empty(), "accepted a config without instances");
            for inst in &cfg.instances {
                assert!(inst.vrid >= 1, "accepted vrid 0");
                assert!(inst.priority >= 1, "accepted priority 0");
                let (src, dst) = if inst.is_ipv6() { (SRC6, DST6) } else { (SRC4, DST4) };
                if let Err(e) = encode(&advert_of(inst), src, dst, ChecksumMode::PseudoHeader) {
                    panic!("accepted instance {} cannot be advertised: {e}", inst.name);
                }
            }
            let _ = cfg.summary();
        }
        Err(e) => {
            assert!(!e.problems().is_empty(), "an error without problems");
            for p in e.problems() {
                for (span, _) in &p.labels {
                    let end = span.offset() + span.len();
                    assert!(
                        end <= text.len(),
                        "span {}..{end} past the end ({}) in {:?}",
                        span.offset(),
                        text.len(),
                        p.message
                    );
                }
            }
            let _ = e.render_plain();
        }
    }
});
