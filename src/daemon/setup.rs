//! Translating configured instances into core parameters and resolved interfaces.

use std::net::IpAddr;
use std::time::Duration;

use crate::config;
use crate::core::instance::Params;
use crate::core::packet::Version;

/// Core parameters for a configured instance whose primary address is `primary`.
pub fn params_for(cfg: &config::Instance, primary: IpAddr) -> Params {
    let cs = cfg.advert_interval.as_millis() / 10;
    // The config validates the range; clamping keeps a bad value from wrapping.
    let mut interval_cs = u16::try_from(cs).unwrap_or(u16::MAX).clamp(1, 4095);
    if cfg.version == Version::V2 {
        // v2 carries whole seconds.
        interval_cs = (interval_cs / 100).clamp(1, 255) * 100;
    }
    let auth = cfg.authentication.as_deref().map(|pw| {
        let mut buf = [0u8; 8];
        let n = pw.len().min(8);
        buf[..n].copy_from_slice(&pw.as_bytes()[..n]);
        buf
    });
    Params {
        name: cfg.name.clone(),
        vrid: cfg.vrid,
        version: cfg.version,
        priority: cfg.priority,
        interval_cs,
        preempt: cfg.preempt,
        preempt_delay: cfg.preempt_delay,
        accept: cfg.accept,
        auth,
        vips: cfg.virtual_ips.iter().map(|v| v.addr).collect(),
        primary,
        unicast_peers: cfg.unicast_peers.clone(),
        garp_refresh: cfg.garp_refresh,
    }
}

/// keepalived's `garp_master_delay` default: a second burst this long after becoming Master.
pub const GARP_SECOND_BURST: Duration = Duration::from_secs(5);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Hooks, Instance, VirtualIp};
    use crate::core::packet::ChecksumMode;

    fn inst() -> Instance {
        Instance {
            name: "VI_1".into(),
            interface: "eth0".into(),
            vrid: 51,
            priority: 100,
            version: Version::V2,
            advert_interval: Duration::from_secs(1),
            preempt: true,
            preempt_delay: Duration::ZERO,
            accept: true,
            authentication: Some("secret".into()),
            virtual_ips: vec![VirtualIp {
                addr: "192.0.2.200".parse().expect("literal"),
                prefix: 24,
                dev: None,
                label: None,
            }],
            unicast_source: None,
            unicast_peers: vec![],
            track_interfaces: vec![],
            track_scripts: vec![],
            track_files: vec![],
            garp_repeat: 5,
            garp_refresh: Duration::ZERO,
            use_vmac: false,
            v3_checksum: ChecksumMode::PseudoHeader,
            notify: None,
            hooks: Hooks::default(),
        }
    }

    #[test]
    fn params_from_config() {
        let primary: IpAddr = "192.0.2.1".parse().expect("literal");
        let p = params_for(&inst(), primary);
        assert_eq!(p.interval_cs, 100);
        assert_eq!(p.auth, Some(*b"secret\0\0"));
        assert_eq!(
            p.vips,
            vec!["192.0.2.200".parse::<IpAddr>().expect("literal")]
        );
        assert_eq!(p.primary, primary);
        let mut v3 = inst();
        v3.version = Version::V3;
        v3.authentication = None;
        v3.advert_interval = Duration::from_millis(100);
        let p = params_for(&v3, primary);
        assert_eq!(p.interval_cs, 10);
        assert_eq!(p.auth, None);
    }
}
