//! Wire equivalence of `vrrp-ha import` (issue 10): keepalived 2.2.7 runs a corpus
//! configuration on one load balancer and vrrp-ha runs the same file imported on the other,
//! both ways round, in network namespaces. They must agree on who is MASTER (the higher
//! priority, lb1), hand over on a kill -9 of the master within Master_Down_Interval, let the
//! returning higher-priority node preempt again, hand over at once on a clean stop
//! (priority 0), and neither may log a receive error about the other's adverts: exactly what
//! two keepalived nodes do with these files (the controls run keepalived on both).

mod lab;
mod prereq;

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use lab::{grep_log, holds_for, wait_until_from, Host, Lab, Proc, SLACK, VIP4, VIP6};

use Host::{Lb1, Lb2};

/// keepalived log words that mean it rejected or misparsed a packet.
const KEEPALIVED_ERRORS: &[&str] = &["bad", "invalid", "checksum", "mismatch", "malformed"];
/// vrrp-ha log words that mean it dropped or rejected a packet.
const VRRP_HA_ERRORS: &[&str] = &["drop", "invalid", "checksum", "malformed"];

/// Which daemon runs a node.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Side {
    /// keepalived on the original file.
    Keepalived,
    /// vrrp-ha on the file `vrrp-ha import` made of it.
    Imported,
}

/// One corpus scenario: the files of lb1 and lb2 (the same file with `@lb1`/`@lb2` lines,
/// read with keepalived's `-i` and import's `--config-id`), their VIPs and timing.
struct Case {
    lb1: &'static str,
    lb2: &'static str,
    vips: &'static [IpAddr],
    advert: Duration,
    version: u8,
    prio1: u32,
    prio2: u32,
}

const V4: &[IpAddr] = &[IpAddr::V4(VIP4)];
const BOTH: &[IpAddr] = &[IpAddr::V6(VIP6), IpAddr::V4(VIP4)];

const NGINX: Case = Case {
    lb1: "nginx-master.conf",
    lb2: "nginx-backup.conf",
    vips: V4,
    advert: Duration::from_secs(1),
    version: 2,
    prio1: 100,
    prio2: 90,
};
const V2_PASS: Case = Case {
    lb1: "v2-pass.conf",
    lb2: "v2-pass.conf",
    vips: V4,
    advert: Duration::from_secs(1),
    version: 2,
    prio1: 120,
    prio2: 110,
};
const V3_UNICAST: Case = Case {
    lb1: "v3-unicast.conf",
    lb2: "v3-unicast.conf",
    vips: V4,
    advert: Duration::from_millis(500),
    version: 3,
    prio1: 150,
    prio2: 140,
};
const V3_IPV6_SYNC: Case = Case {
    lb1: "v3-ipv6-sync.conf",
    lb2: "v3-ipv6-sync.conf",
    vips: BOTH,
    advert: Duration::from_millis(200),
    version: 3,
    prio1: 150,
    prio2: 140,
};

/// RFC 9568 section 6.1 Skew_Time (RFC 3768 section 6.1 for version 2: in whole seconds' terms).
fn skew(c: &Case, prio: u32) -> Duration {
    if c.version == 2 {
        Duration::from_secs_f64(f64::from(256 - prio) / 256.0)
    } else {
        c.advert * (256 - prio) / 256
    }
}

/// Master_Down_Interval: three adverts plus the skew.
fn master_down(c: &Case, prio: u32) -> Duration {
    c.advert * 3 + skew(c, prio)
}

fn corpus(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/keepalived")
        .join(file)
}

/// Runs `vrrp-ha import` on the corpus file for `host` and returns the KDL file written.
fn import(lab: &Lab, file: &str, host: Host) -> PathBuf {
    let dir = lab.path(&format!("{}-import", host.role()), "d");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vrrp-ha"))
        .args(["import", "--config-id", host.role(), "-o"])
        .arg(&dir)
        .arg(corpus(file))
        .output()
        .expect("run vrrp-ha import");
    assert_eq!(
        out.status.code(),
        Some(0),
        "import of {file} for {}: {}",
        host.role(),
        String::from_utf8_lossy(&out.stderr)
    );
    dir.join("vrrp-ha.kdl")
}

fn start(lab: &Lab, host: Host, side: Side, c: &Case, kdl: &Path) -> Proc {
    let file = if host == Lb1 { c.lb1 } else { c.lb2 };
    match side {
        Side::Keepalived => {
            let conf = corpus(file).display().to_string();
            lab.run_keepalived(host, Path::new(&conf), &["-i", host.role()])
        }
        Side::Imported => lab.run_vrrp_ha(host, kdl, &[]),
    }
}

fn sole_master(lab: &Lab, host: Host, vips: &[IpAddr]) -> bool {
    vips.iter()
        .all(|v| lab.has_addr(host, *v) && !lab.has_addr(host.peer(), *v))
}

fn receive_errors(side: Side, p: &Proc) -> Vec<String> {
    let words = match side {
        Side::Keepalived => KEEPALIVED_ERRORS,
        Side::Imported => VRRP_HA_ERRORS,
    };
    grep_log(&p.log, words)
        .into_iter()
        // keepalived's start-up banner echoes its command line and config tips.
        .filter(|l| !l.contains("Command line") && !l.contains("NOTICE"))
        .filter(|l| side == Side::Keepalived || l.contains(" WARN ") || l.contains(" ERROR "))
        .collect()
}

fn equivalence(test: &str, c: &Case, side1: Side) {
    let side2 = match side1 {
        Side::Keepalived => Side::Imported,
        Side::Imported => Side::Keepalived,
    };
    scenario(test, c, side1, side2);
}

/// The scenario with `side1` on lb1 and `side2` on lb2.
fn scenario(test: &str, c: &Case, side1: Side, side2: Side) {
    if !lab::require_lab(test, true) {
        return;
    }
    let started = Instant::now();
    let lab = Lab::with_prefix(test, "vhim");
    let who = |h: Host| {
        let s = if h == Lb1 { side1 } else { side2 };
        format!("{} ({s:?})", h.role())
    };
    let kdl1 = import(&lab, c.lb1, Lb1);
    let kdl2 = import(&lab, c.lb2, Lb2);
    let (mdi1, mdi2) = (master_down(c, c.prio1), master_down(c, c.prio2));

    // Who is MASTER: lb1 (higher priority) first, lb2 joins and stays BACKUP.
    let t0 = Instant::now();
    let d1 = start(&lab, Lb1, side1, c, &kdl1);
    let limit = mdi1 + Duration::from_secs(3);
    wait_until_from(t0, limit, || sole_master(&lab, Lb1, c.vips))
        .unwrap_or_else(|| panic!("{} did not become master within {limit:?}", who(Lb1)));
    let d2 = start(&lab, Lb2, side2, c, &kdl2);
    if let Err(t) = holds_for(mdi2 + c.advert, || sole_master(&lab, Lb1, c.vips)) {
        panic!(
            "{} stopped being the sole master {t:?} after {} started",
            who(Lb1),
            who(Lb2)
        );
    }

    // Failover: the master dies hard, the other takes over after Master_Down_Interval
    // (keepalived, as the taker on a loaded machine, runs up to half an advert late).
    let bound = mdi2 + SLACK + c.advert / 2;
    let t0 = Instant::now();
    lab.kill9(&d1);
    let d1_killed = d1.clone();
    // kill -9 leaves lb1's addresses behind: only lb2's side counts here.
    let t = wait_until_from(t0, bound + Duration::from_secs(2), || {
        c.vips.iter().all(|v| lab.has_addr(Lb2, *v))
    })
    .unwrap_or_else(|| panic!("{} did not take over from {}", who(Lb2), who(Lb1)));
    println!(
        "{test}: kill -9 {} -> {} master after {t:?} (bound {bound:?})",
        who(Lb1),
        who(Lb2)
    );
    assert!(t <= bound, "takeover after {t:?} > {bound:?}");
    let floor = mdi2.saturating_sub(c.advert + Duration::from_millis(10));
    assert!(
        t >= floor,
        "takeover after {t:?}, before {floor:?}: the dead master still spoke"
    );

    // Preemption: lb1 comes back and, being higher, takes over again; lb2 lets go.
    let t0 = Instant::now();
    let d1 = start(&lab, Lb1, side1, c, &kdl1);
    // keepalived takes a few hundred ms to start before its timer runs.
    let bound = mdi1 + Duration::from_millis(1500);
    let t = wait_until_from(t0, bound + Duration::from_secs(2), || {
        sole_master(&lab, Lb1, c.vips)
    })
    .unwrap_or_else(|| panic!("{} did not preempt {}", who(Lb1), who(Lb2)));
    println!(
        "{test}: {} back -> preempts after {t:?} (bound {bound:?})",
        who(Lb1)
    );
    assert!(t <= bound, "preemption after {t:?} > {bound:?}");

    // Clean stop: priority 0 hands over within Skew_Time (plus the stopping daemon's
    // time to send it), well before Master_Down_Interval.
    let bound = skew(c, c.prio2) + SLACK + Duration::from_millis(400);
    let t0 = Instant::now();
    lab.signal(&d1, libc::SIGTERM);
    let t = wait_until_from(t0, bound + Duration::from_secs(2), || {
        sole_master(&lab, Lb2, c.vips)
    })
    .unwrap_or_else(|| {
        panic!(
            "{} did not take over after SIGTERM of {}",
            who(Lb2),
            who(Lb1)
        )
    });
    println!(
        "{test}: SIGTERM {} -> {} master after {t:?} (bound {bound:?})",
        who(Lb1),
        who(Lb2)
    );
    assert!(t <= bound, "takeover after SIGTERM after {t:?} > {bound:?}");

    let mut errors = Vec::new();
    for (side, p) in [(side1, &d1_killed), (side1, &d1), (side2, &d2)] {
        for l in receive_errors(side, p) {
            errors.push(format!("{} ({side:?}): {l}", p.name));
        }
    }
    assert!(
        errors.is_empty(),
        "receive errors logged:\n{}",
        errors.join("\n")
    );
    println!("{test}: took {:?}", started.elapsed());
}

/// The classic nginx pair: keepalived on the master's file, the backup's file imported.
#[test]
fn nginx_pair_keepalived_master_imported_backup() {
    equivalence("imnga", &NGINX, Side::Keepalived);
}

/// The classic nginx pair: the master's file imported, keepalived on the backup's.
#[test]
fn nginx_pair_imported_master_keepalived_backup() {
    equivalence("imngb", &NGINX, Side::Imported);
}

/// VRRPv2 with PASS: keepalived on lb1, imported on lb2.
#[test]
fn v2_pass_keepalived_lb1_imported_lb2() {
    equivalence("imv2a", &V2_PASS, Side::Keepalived);
}

/// VRRPv2 with PASS: imported on lb1, keepalived on lb2.
#[test]
fn v2_pass_imported_lb1_keepalived_lb2() {
    equivalence("imv2b", &V2_PASS, Side::Imported);
}

/// VRRPv3 IPv4 unicast: keepalived on lb1, imported on lb2.
#[test]
fn v3_unicast_keepalived_lb1_imported_lb2() {
    equivalence("imuca", &V3_UNICAST, Side::Keepalived);
}

/// VRRPv3 IPv4 unicast: imported on lb1, keepalived on lb2.
#[test]
fn v3_unicast_imported_lb1_keepalived_lb2() {
    equivalence("imucb", &V3_UNICAST, Side::Imported);
}

/// VRRPv3 IPv6 and IPv4 in a sync group: keepalived on lb1, imported on lb2.
#[test]
fn v3_ipv6_sync_group_keepalived_lb1_imported_lb2() {
    equivalence("im6sa", &V3_IPV6_SYNC, Side::Keepalived);
}

/// VRRPv3 IPv6 and IPv4 in a sync group: imported on lb1, keepalived on lb2.
#[test]
fn v3_ipv6_sync_group_imported_lb1_keepalived_lb2() {
    equivalence("im6sb", &V3_IPV6_SYNC, Side::Imported);
}

/// Control: the nginx pair with keepalived on both nodes passes the same checks, so the
/// bounds above are what two keepalived nodes do.
#[test]
fn nginx_pair_control_keepalived_both() {
    scenario("imngc", &NGINX, Side::Keepalived, Side::Keepalived);
}

/// Control: the IPv6 sync group with keepalived on both nodes.
#[test]
fn v3_ipv6_sync_group_control_keepalived_both() {
    scenario("im6sc", &V3_IPV6_SYNC, Side::Keepalived, Side::Keepalived);
}
