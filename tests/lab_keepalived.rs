//! Wire interop of vrrp-ha with keepalived 2.2.7 in network namespaces (issue 4, test 7).
//!
//! For VRRPv2 with PASS authentication, VRRPv3 over IPv4 and VRRPv3 over IPv6, in both
//! orientations (vrrp-ha master with keepalived backup, and the reverse): the
//! higher-priority side becomes master and the other follows; a kill -9 of the master
//! hands over to the other implementation; the returning node with `preempt #false`
//! stays backup (so it hears and accepts the other's adverts); SIGTERM of the master
//! hands back within Skew_Time. Neither implementation may log receive errors about
//! the other's packets.

mod lab;
mod prereq;

use lab::{
    grep_log, holds_for, vip_of, wait_until, wait_until_from, Host, Impl, Lab, Proc, Vrrp, SLACK,
};
use std::time::{Duration, Instant};

use Host::{Lb1, Lb2};

/// keepalived log words that mean it rejected or misparsed a packet.
const KEEPALIVED_ERRORS: &[&str] = &["bad", "invalid", "checksum", "mismatch", "malformed"];
/// vrrp-ha log words that mean it dropped or rejected a packet.
const VRRP_HA_ERRORS: &[&str] = &["drop", "invalid", "checksum", "malformed"];

fn receive_errors(imp: Impl, p: &Proc) -> Vec<String> {
    let words = match imp {
        Impl::Keepalived => KEEPALIVED_ERRORS,
        Impl::VrrpHa => VRRP_HA_ERRORS,
    };
    grep_log(&p.log, words)
        .into_iter()
        // keepalived's start-up banner echoes its command line and config tips.
        .filter(|l| !l.contains("Command line") && !l.contains("NOTICE"))
        // vrrp-ha logs every dropped or suspicious advert at WARN or above; INFO lines
        // (e.g. the checksum form a peer uses, when it matches ours) are not errors.
        .filter(|l| imp == Impl::Keepalived || l.contains(" WARN ") || l.contains(" ERROR "))
        .collect()
}

fn interop(test: &str, mk: fn(Host) -> Vrrp, imp1: Impl, imp2: Impl) {
    if !lab::require_lab(test, true) {
        return;
    }
    // VH_LAB_IMPL=keepalived swaps vrrp-ha out, to prove the harness on its own.
    let swap = |i: Impl| {
        if Impl::from_env() == Impl::Keepalived {
            Impl::Keepalived
        } else {
            i
        }
    };
    let (imp1, imp2) = (swap(imp1), swap(imp2));
    let lab = Lab::new(test);
    lab.start_all_nginx();
    let (c1, c2) = (mk(Lb1), mk(Lb2));
    let vip = vip_of(&c1);
    let who = |h: Host| {
        let imp = if h == Lb1 { imp1 } else { imp2 };
        format!("{} ({})", h.role(), imp.name())
    };
    let (d1, d2) = lab.converge(imp1, &c1, imp2, &c2);
    lab.http_via(vip, Lb1, Instant::now(), Duration::from_secs(2))
        .unwrap_or_else(|| panic!("HTTP via {}", who(Lb1)));

    // The master dies hard: the other implementation takes over.
    let bound = c2.master_down() + SLACK;
    let t0 = Instant::now();
    lab.kill9(&d1);
    let t = wait_until_from(t0, bound + Duration::from_secs(2), || {
        lab.has_addr(Lb2, vip)
    })
    .unwrap_or_else(|| panic!("{} did not take over from {}", who(Lb2), who(Lb1)));
    println!(
        "{test}: kill -9 {} -> {} master after {t:?} (bound {bound:?})",
        who(Lb1),
        who(Lb2)
    );
    assert!(t <= bound, "takeover after {t:?} > {bound:?}");
    // Sooner than this means the dead master still spoke (a priority-0 advert).
    let floor = c2.master_down() - c2.advert - Duration::from_millis(10);
    assert!(t >= floor, "takeover after {t:?}, before {floor:?}");
    lab.http_via(vip, Lb2, t0, bound + Duration::from_secs(1))
        .unwrap_or_else(|| panic!("HTTP via {}", who(Lb2)));
    let d1_dead_log = d1.clone();

    // Back without preemption: it must hear the other's adverts and stay backup.
    let c1_nopreempt = Vrrp {
        preempt: false,
        ..c1.clone()
    };
    let d1 = lab.start_vrrp(Lb1, imp1, &c1_nopreempt);
    // kill -9 left lb1's VIP behind; the restarted daemon removes it at start-up.
    wait_until_from(Instant::now(), Duration::from_secs(2), || {
        lab.is_sole_master(Lb2, vip)
    })
    .unwrap_or_else(|| {
        panic!(
            "{} not sole master 2 s after {} restarted: VIP on lb1 {}, on lb2 {}",
            who(Lb2),
            who(Lb1),
            lab.has_addr(Lb1, vip),
            lab.has_addr(Lb2, vip)
        )
    });
    if let Err(t) = holds_for(c1.master_down() * 2, || lab.is_sole_master(Lb2, vip)) {
        panic!(
            "{} lost mastership {t:?} after {} returned with nopreempt",
            who(Lb2),
            who(Lb1)
        );
    }

    // The other master stops cleanly: priority 0 hands back within Skew_Time.
    let bound = c1.skew() + SLACK;
    let t0 = Instant::now();
    lab.signal(&d2, libc::SIGTERM);
    let t = wait_until_from(t0, bound + Duration::from_secs(2), || {
        lab.is_sole_master(Lb1, vip)
    })
    .unwrap_or_else(|| {
        panic!(
            "{} did not take over from {} after SIGTERM",
            who(Lb1),
            who(Lb2)
        )
    });
    println!(
        "{test}: SIGTERM {} -> {} master after {t:?} (bound {bound:?})",
        who(Lb2),
        who(Lb1)
    );
    assert!(t <= bound, "takeover after SIGTERM after {t:?} > {bound:?}");
    lab.http_via(vip, Lb1, t0, Duration::from_secs(2))
        .unwrap_or_else(|| panic!("HTTP via {}", who(Lb1)));
    let st = lab
        .reap(&d2, Duration::from_secs(3))
        .expect("SIGTERMed master exits");
    assert!(st.success(), "{} exit status {st}", who(Lb2));

    let mut errors = Vec::new();
    for (imp, p) in [(imp1, &d1_dead_log), (imp1, &d1), (imp2, &d2)] {
        for l in receive_errors(imp, p) {
            errors.push(format!("{} ({}): {l}", p.name, imp.name()));
        }
    }
    assert!(
        errors.is_empty(),
        "receive errors logged:\n{}",
        errors.join("\n")
    );
}

/// VRRPv2, PASS 1111, 1 s: vrrp-ha master, keepalived backup.
#[test]
fn t7_v2_pass_vrrp_ha_master_keepalived_backup() {
    interop("t7v2a", Vrrp::v2_pass, Impl::VrrpHa, Impl::Keepalived);
}

/// VRRPv2, PASS 1111, 1 s: keepalived master, vrrp-ha backup.
#[test]
fn t7_v2_pass_keepalived_master_vrrp_ha_backup() {
    interop("t7v2b", Vrrp::v2_pass, Impl::Keepalived, Impl::VrrpHa);
}

/// VRRPv3 IPv4, 100 ms: vrrp-ha master, keepalived backup.
#[test]
fn t7_v3_ipv4_vrrp_ha_master_keepalived_backup() {
    interop("t7v4a", Vrrp::v3, Impl::VrrpHa, Impl::Keepalived);
}

/// VRRPv3 IPv4, 100 ms: keepalived master, vrrp-ha backup.
#[test]
fn t7_v3_ipv4_keepalived_master_vrrp_ha_backup() {
    interop("t7v4b", Vrrp::v3, Impl::Keepalived, Impl::VrrpHa);
}

/// VRRPv3 IPv6, 100 ms: vrrp-ha master, keepalived backup.
#[test]
fn t7_v3_ipv6_vrrp_ha_master_keepalived_backup() {
    interop("t7v6a", Vrrp::v3_ipv6, Impl::VrrpHa, Impl::Keepalived);
}

/// VRRPv3 IPv6, 100 ms: keepalived master, vrrp-ha backup.
#[test]
fn t7_v3_ipv6_keepalived_master_vrrp_ha_backup() {
    interop("t7v6b", Vrrp::v3_ipv6, Impl::Keepalived, Impl::VrrpHa);
}

/// The harness itself with keepalived on both sides (v3 IPv4), so a failure of the
/// interop tests can be told apart from a broken lab.
#[test]
fn t7_control_keepalived_both_sides() {
    interop("t7ctl", Vrrp::v3, Impl::Keepalived, Impl::Keepalived);
}

/// Negative control for the log checks above: with different PASS passwords each
/// side must drop the other's adverts, both end up master, and both logs say why.
#[test]
fn t7_control_wrong_password_is_logged_by_both() {
    if !lab::require_lab("t7pw", true) {
        return;
    }
    let lab = Lab::new("t7pw");
    let c1 = Vrrp::v2_pass(Lb1);
    let c2 = Vrrp {
        auth: Some("2222".to_string()),
        ..Vrrp::v2_pass(Lb2)
    };
    let vip = vip_of(&c1);
    let d1 = lab.start_vrrp(Lb1, Impl::VrrpHa, &c1);
    let d2 = lab.start_vrrp(Lb2, Impl::Keepalived, &c2);
    let limit = c2.master_down() + Duration::from_secs(2);
    wait_until_from(Instant::now(), limit, || {
        lab.has_addr(Lb1, vip) && lab.has_addr(Lb2, vip)
    })
    .unwrap_or_else(|| panic!("a password mismatch should leave both master"));
    // Both are master once each has sent an advert; the other's complaint about it may
    // be logged a moment later: wait for both, with a deadline.
    wait_until(Duration::from_secs(3), || {
        !receive_errors(Impl::VrrpHa, &d1).is_empty()
            && !receive_errors(Impl::Keepalived, &d2).is_empty()
    });
    let (e1, e2) = (
        receive_errors(Impl::VrrpHa, &d1),
        receive_errors(Impl::Keepalived, &d2),
    );
    println!("vrrp-ha: {e1:#?}\nkeepalived: {e2:#?}");
    assert!(
        !e1.is_empty(),
        "vrrp-ha logged nothing about keepalived's wrong password"
    );
    assert!(
        !e2.is_empty(),
        "keepalived logged nothing about vrrp-ha's wrong password"
    );
}
