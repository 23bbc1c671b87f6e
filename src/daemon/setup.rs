//! Translating configured instances into core parameters and resolved interfaces.

use std::net::IpAddr;

use crate::config;
use crate::core::instance::{Params, Vip, WitnessParams, DEFAULT_GARP_DELAY};
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
    Params {
        name: cfg.name.clone(),
        vrid: cfg.vrid,
        version: cfg.version,
        priority: cfg.priority,
        interval_cs,
        preempt: cfg.preempt,
        preempt_delay: cfg.preempt_delay,
        accept: cfg.accept,
        auth: cfg.auth_bytes(),
        vips: vips_of(cfg),
        primary,
        unicast_peers: cfg.unicast_peers.clone(),
        garp_repeat: cfg.garp_repeat,
        garp_delay: DEFAULT_GARP_DELAY,
        garp_refresh: cfg.garp_refresh,
        checksum: cfg.v3_checksum,
        witness: cfg.witness.as_ref().map(|w| WitnessParams {
            count: w.addrs.len(),
            policy: w.policy,
            timeout: w.timeout,
        }),
    }
}

/// The configured VIPs as the core takes them.
pub fn vips_of(cfg: &config::Instance) -> Vec<Vip> {
    cfg.virtual_ips
        .iter()
        .map(|v| Vip {
            addr: v.addr,
            prefix: v.prefix,
            dev: v.dev.clone(),
            label: v.label.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Hooks, Instance, VirtualIp};
    use crate::core::packet::ChecksumMode;
    use std::time::Duration;

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
            witness: None,
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
            vec![Vip::new(
                "192.0.2.200".parse::<IpAddr>().expect("literal"),
                24
            )]
        );
        assert_eq!(p.garp_repeat, 5);
        assert_eq!(p.garp_delay, DEFAULT_GARP_DELAY);
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
