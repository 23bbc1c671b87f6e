//! SIGHUP: what a new configuration changes, instance by instance.

use crate::config;

/// How each instance fares across a reload (indices into the old and new instance lists).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Identical: state, VIPs and timers untouched.
    pub keep: Vec<(usize, usize)>,
    /// Same identity, other settings: the core gets `Event::Reconfigure`.
    pub reconfigure: Vec<(usize, usize)>,
    /// Gone, or its identity changed: shut down as on SIGTERM.
    pub stop: Vec<usize>,
    /// New, or its identity changed: started afresh.
    pub start: Vec<usize>,
}

/// What cannot change under a running instance: where and how it speaks.
fn same_identity(a: &config::Instance, b: &config::Instance) -> bool {
    a.interface == b.interface
        && a.vrid == b.vrid
        && a.version == b.version
        && a.is_ipv6() == b.is_ipv6()
        && a.use_vmac == b.use_vmac
        && a.unicast_source == b.unicast_source
}

/// Match instances by name and sort them into the plan.
pub fn plan(old: &[config::Instance], new: &[config::Instance]) -> Plan {
    let mut p = Plan::default();
    for (oi, o) in old.iter().enumerate() {
        match new.iter().position(|n| n.name == o.name) {
            Some(ni) if new[ni] == *o => p.keep.push((oi, ni)),
            Some(ni) if same_identity(o, &new[ni]) => p.reconfigure.push((oi, ni)),
            Some(ni) => {
                p.stop.push(oi);
                p.start.push(ni);
            }
            None => p.stop.push(oi),
        }
    }
    for (ni, n) in new.iter().enumerate() {
        if !old.iter().any(|o| o.name == n.name) {
            p.start.push(ni);
        }
    }
    p.start.sort_unstable();
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(text: &str) -> config::Config {
        config::parse_str(text, "test.kdl").expect("valid test config")
    }

    const BASE: &str = r#"
instance "A" { interface "eth0"; vrid 1; virtual-ip "192.0.2.10/24" }
instance "B" { interface "eth0"; vrid 2; virtual-ip "192.0.2.11/24" }
instance "C" { interface "eth0"; vrid 3; virtual-ip "192.0.2.12/24" }
"#;

    #[test]
    fn sorts_instances() {
        let old = cfg(BASE);
        let new = cfg(r#"
instance "A" { interface "eth0"; vrid 1; virtual-ip "192.0.2.10/24" }
instance "B" { interface "eth0"; vrid 2; priority 50; virtual-ip "192.0.2.11/24" }
instance "C" { interface "eth0"; vrid 33; virtual-ip "192.0.2.12/24" }
instance "D" { interface "eth0"; vrid 4; virtual-ip "192.0.2.13/24" }
"#);
        let p = plan(&old.instances, &new.instances);
        assert_eq!(p.keep, vec![(0, 0)]);
        assert_eq!(p.reconfigure, vec![(1, 1)]);
        assert_eq!(p.stop, vec![2]);
        assert_eq!(p.start, vec![2, 3]);
    }

    #[test]
    fn removed_instance_stops() {
        let old = cfg(BASE);
        let new = cfg(r#"instance "B" { interface "eth0"; vrid 2; virtual-ip "192.0.2.11/24" }"#);
        let p = plan(&old.instances, &new.instances);
        assert_eq!(p.keep, vec![(1, 0)]);
        assert_eq!(p.stop, vec![0, 2]);
        assert!(p.start.is_empty() && p.reconfigure.is_empty());
    }
}
