//! End-to-end failover of two vrrp-ha nodes in network namespaces (issue 4, tests 1-6).
//!
//! Needs root, iproute2, nginx, tcpdump, nftables and curl; skips with a reason (or
//! fails under `CI`) without them. `VH_LAB_IMPL=keepalived` runs the same tests with
//! keepalived on both sides, which proves the harness and the bounds independently.

mod lab;
mod prereq;

use lab::{
    holds_for, vip_of, wait_until, wait_until_from, Host, Impl, Lab, Vrrp, SLACK, VIP4, VIP6,
};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use Host::{Client, Lb1, Lb2};

fn setup(test: &str) -> Option<(Lab, Impl)> {
    let imp = Impl::from_env();
    if !lab::require_lab(test, imp == Impl::Keepalived) {
        return None;
    }
    let lab = Lab::new(test);
    lab.start_all_nginx();
    Some((lab, imp))
}

/// Polls for `lb` holding the VIP and HTTP through the VIP being served by `lb`, both
/// measured from `t0`; prints and returns (vip, http) times.
fn takeover(
    lab: &Lab,
    lb: Host,
    vip: IpAddr,
    t0: Instant,
    limit: Duration,
    what: &str,
) -> (Duration, Duration) {
    let t_vip = wait_until_from(t0, limit, || lab.has_addr(lb, vip)).unwrap_or_else(|| {
        panic!(
            "{what}: {} did not take the VIP within {limit:?}",
            lb.role()
        )
    });
    let t_http = lab.http_via(vip, lb, t0, limit).unwrap_or_else(|| {
        panic!(
            "{what}: HTTP via {} did not work within {limit:?}",
            lb.role()
        )
    });
    println!(
        "{what}: {} holds VIP after {t_vip:?}, serves HTTP through the VIP after {t_http:?}",
        lb.role()
    );
    (t_vip, t_http)
}

fn has_garp(text: &str, ip: &str, mac: &str) -> bool {
    text.lines().any(|l| {
        l.contains(mac)
            && ((l.contains(&format!("who-has {ip} ")) && l.contains(&format!("tell {ip},")))
                || l.contains(&format!("Reply {ip} is-at")))
    })
}

/// lb2 took over from a master that fell silent: HTTP within `bound`, and the VIP not
/// before lb2's Master_Down_Interval less the one interval since it last heard lb1 (an
/// earlier takeover means a timer that fires too soon).
fn assert_silent_master_takeover(c2: &Vrrp, t_vip: Duration, t_http: Duration, bound: Duration) {
    assert!(t_http <= bound, "HTTP via lb2 after {t_http:?} > {bound:?}");
    let floor = c2.master_down() - c2.advert - Duration::from_millis(10);
    assert!(
        t_vip >= floor,
        "lb2 took over after {t_vip:?}, before {floor:?}"
    );
}

fn has_unsolicited_na(text: &str, ip: &str, mac: &str) -> bool {
    text.lines().any(|l| {
        l.contains(mac)
            && l.contains("neighbor advertisement")
            && l.contains(&format!("tgt is {ip}"))
            && l.contains("override")
    })
}

/// Test 1: lb1 becomes master, holds the VIP, announces it with gratuitous ARP, serves
/// HTTP through it; lb2 holds no VIP.
#[test]
fn t1_master_holds_vip_sends_garp_serves_http() {
    let Some((lab, imp)) = setup("t1") else {
        return;
    };
    let cap = lab.capture(Client, "arp");
    let (c1, c2) = (Vrrp::v3(Lb1), Vrrp::v3(Lb2));
    lab.converge(imp, &c1, imp, &c2);
    assert!(!lab.has_addr(Lb2, VIP4), "lb2 must hold no VIP");
    let mac1 = lab.mac(Lb1);
    let seen = wait_until(Duration::from_secs(2), || {
        has_garp(&lab.capture_text(&cap), "192.0.2.200", &mac1)
    });
    assert!(
        seen.is_some(),
        "no gratuitous ARP for the VIP from lb1 ({mac1}):\n{}",
        lab.capture_text(&cap)
    );
    let r = lab
        .http_get(Client, "http://192.0.2.200/")
        .expect("HTTP through the VIP");
    assert_eq!(r.status, 200);
    assert_eq!(r.lb.as_deref(), Some("lb1"), "served via lb1: {r:?}");
    assert!(r.body.contains("served by web"), "{r:?}");
}

/// Test 2a: kill -9 of the master's daemon: lb2 serves HTTP through the VIP within
/// Master_Down_Interval + 100 ms of the kill.
#[test]
fn t2a_kill9_master_fails_over_within_master_down_interval() {
    let Some((lab, imp)) = setup("t2a") else {
        return;
    };
    let (c1, c2) = (Vrrp::v3(Lb1), Vrrp::v3(Lb2));
    let (d1, _d2) = lab.converge(imp, &c1, imp, &c2);
    lab.http_via(VIP4, Lb1, Instant::now(), Duration::from_secs(2))
        .expect("HTTP via lb1");
    let bound = c2.master_down() + SLACK;
    let t0 = Instant::now();
    lab.kill9(&d1);
    let (t_vip, t_http) = takeover(
        &lab,
        Lb2,
        VIP4.into(),
        t0,
        bound + Duration::from_secs(2),
        "kill -9",
    );
    println!(
        "Master_Down_Interval {:?}, bound {bound:?}",
        c2.master_down()
    );
    assert_silent_master_takeover(&c2, t_vip, t_http, bound);
}

/// Test 2b: lb1's link goes down: same bound; link back up: lb1 preempts again.
#[test]
fn t2b_link_down_fails_over_within_master_down_interval() {
    let Some((lab, imp)) = setup("t2b") else {
        return;
    };
    let (c1, c2) = (Vrrp::v3(Lb1), Vrrp::v3(Lb2));
    lab.converge(imp, &c1, imp, &c2);
    lab.http_via(VIP4, Lb1, Instant::now(), Duration::from_secs(2))
        .expect("HTTP via lb1");
    let bound = c2.master_down() + SLACK;
    let t0 = Instant::now();
    lab.link(Lb1, false);
    let (t_vip, t_http) = takeover(
        &lab,
        Lb2,
        VIP4.into(),
        t0,
        bound + Duration::from_secs(2),
        "link down",
    );
    assert_silent_master_takeover(&c2, t_vip, t_http, bound);
    let t1 = Instant::now();
    lab.link(Lb1, true);
    let limit = c1.master_down() + Duration::from_secs(2);
    let t = wait_until_from(t1, limit, || lab.is_sole_master(Lb1, VIP4.into()))
        .unwrap_or_else(|| panic!("lb1 not sole master within {limit:?} of link up"));
    println!("link up: lb1 sole master again after {t:?}");
    lab.http_via(VIP4, Lb1, t1, limit)
        .expect("HTTP via lb1 after link up");
}

/// Stops lb1 with SIGTERM and waits for lb2 to hold the VIP.
fn stop_lb1(lab: &Lab, d1: &lab::Proc) {
    let st = lab
        .term(d1, Duration::from_secs(3))
        .expect("lb1 exits on SIGTERM");
    assert!(st.success(), "lb1 exit status {st}");
    wait_until(Duration::from_secs(2), || {
        lab.is_sole_master(Lb2, VIP4.into())
    })
    .expect("lb2 master after lb1 stopped");
}

/// Test 3a: lb1 comes back and preempts lb2 after its Master_Down_Interval.
#[test]
fn t3a_returning_master_preempts() {
    let Some((lab, imp)) = setup("t3a") else {
        return;
    };
    let (c1, c2) = (Vrrp::v3(Lb1), Vrrp::v3(Lb2));
    let (d1, _d2) = lab.converge(imp, &c1, imp, &c2);
    stop_lb1(&lab, &d1);
    let t0 = Instant::now();
    lab.start_vrrp(Lb1, imp, &c1);
    let limit = c1.master_down() + Duration::from_millis(500);
    let t = wait_until_from(t0, limit + Duration::from_secs(2), || {
        lab.is_sole_master(Lb1, VIP4.into())
    })
    .unwrap_or_else(|| panic!("lb1 did not preempt"));
    println!(
        "preempt: lb1 sole master {t:?} after restart (MDI {:?})",
        c1.master_down()
    );
    assert!(t <= limit, "preemption after {t:?} > {limit:?}");
    assert!(
        t >= c1.master_down() - Duration::from_millis(10),
        "preempted after {t:?}, before its Master_Down_Interval"
    );
    lab.http_via(VIP4, Lb1, Instant::now(), Duration::from_secs(1))
        .expect("HTTP via lb1");
}

/// Test 3b: with `preempt #false` the returning higher-priority node stays backup.
#[test]
fn t3b_no_preempt_keeps_current_master() {
    let Some((lab, imp)) = setup("t3b") else {
        return;
    };
    let c1 = Vrrp {
        preempt: false,
        ..Vrrp::v3(Lb1)
    };
    let c2 = Vrrp {
        preempt: false,
        ..Vrrp::v3(Lb2)
    };
    let (d1, _d2) = lab.converge(imp, &c1, imp, &c2);
    stop_lb1(&lab, &d1);
    lab.start_vrrp(Lb1, imp, &c1);
    let span = (c1.master_down() * 5).max(Duration::from_secs(2));
    if let Err(t) = holds_for(span, || lab.is_sole_master(Lb2, VIP4.into())) {
        panic!("lb2 lost mastership {t:?} after lb1 restarted with preempt #false");
    }
    lab.http_via(VIP4, Lb2, Instant::now(), Duration::from_secs(1))
        .expect("HTTP via lb2");
}

/// Test 3c: with `preempt-delay` the returning node waits at least the delay.
#[test]
fn t3c_preempt_delay_waits() {
    let Some((lab, imp)) = setup("t3c") else {
        return;
    };
    let delay = Duration::from_secs(1);
    let c1 = Vrrp {
        preempt_delay: Some(delay),
        ..Vrrp::v3(Lb1)
    };
    let c2 = Vrrp::v3(Lb2);
    let (d1, _d2) = lab.converge(imp, &c1, imp, &c2);
    stop_lb1(&lab, &d1);
    let t0 = Instant::now();
    lab.start_vrrp(Lb1, imp, &c1);
    let limit = delay + c1.master_down() + Duration::from_millis(500);
    let t = wait_until_from(t0, limit + Duration::from_secs(2), || {
        lab.has_addr(Lb1, VIP4)
    })
    .unwrap_or_else(|| panic!("lb1 did not preempt after the delay"));
    println!("preempt-delay {delay:?}: lb1 master {t:?} after restart");
    assert!(
        t >= delay,
        "preempted after {t:?}, before preempt-delay {delay:?}"
    );
    assert!(t <= limit, "preempted after {t:?} > {limit:?}");
    wait_until(Duration::from_secs(1), || {
        lab.is_sole_master(Lb1, VIP4.into())
    })
    .expect("lb2 released the VIP");
}

/// Test 4: SIGTERM on the master makes it send priority 0, so lb2 takes over within
/// Skew_Time + 100 ms, not Master_Down_Interval; the master exits 0 without its VIP.
#[test]
fn t4_sigterm_master_hands_over_within_skew_time() {
    let Some((lab, imp)) = setup("t4") else {
        return;
    };
    let (c1, c2) = (Vrrp::v3(Lb1), Vrrp::v3(Lb2));
    let (d1, _d2) = lab.converge(imp, &c1, imp, &c2);
    lab.http_via(VIP4, Lb1, Instant::now(), Duration::from_secs(2))
        .expect("HTTP via lb1");
    let bound = c2.skew() + SLACK;
    let t0 = Instant::now();
    lab.signal(&d1, libc::SIGTERM);
    let (t_vip, t_http) = takeover(
        &lab,
        Lb2,
        VIP4.into(),
        t0,
        bound + Duration::from_secs(2),
        "SIGTERM",
    );
    println!("Skew_Time {:?}, bound {bound:?}", c2.skew());
    assert!(
        t_vip <= bound,
        "lb2 took the VIP after {t_vip:?} > {bound:?}"
    );
    assert!(
        t_http <= bound + Duration::from_millis(50),
        "HTTP via lb2 after {t_http:?}"
    );
    let st = lab
        .reap(&d1, Duration::from_secs(3))
        .expect("lb1 exited after SIGTERM");
    assert!(st.success(), "lb1 exit status {st}");
    assert!(!lab.has_addr(Lb1, VIP4), "lb1 kept its VIP after SIGTERM");
}

/// Test 5a: equal priorities: when both are master, the higher primary address (lb2)
/// wins. Which side reaches master first on a plain start is a race the RFC leaves to
/// timing (a backup defers to an equal-priority master), so the test makes both master
/// behind an nftables partition and then lifts it.
#[test]
fn t5a_equal_priority_higher_address_wins() {
    let Some((lab, imp)) = setup("t5a") else {
        return;
    };
    let c1 = Vrrp {
        priority: 100,
        ..Vrrp::v3(Lb1)
    };
    let c2 = Vrrp {
        priority: 100,
        ..Vrrp::v3(Lb2)
    };
    lab.drop_vrrp_multicast(Lb1);
    lab.start_vrrp(Lb1, imp, &c1);
    lab.start_vrrp(Lb2, imp, &c2);
    wait_until(c1.master_down() + Duration::from_secs(3), || {
        lab.has_addr(Lb1, VIP4) && lab.has_addr(Lb2, VIP4)
    })
    .unwrap_or_else(|| panic!("partitioned nodes did not both become master"));
    let t0 = Instant::now();
    lab.allow_vrrp_multicast(Lb1);
    let bound = c1.advert + SLACK;
    let t = wait_until_from(t0, bound + Duration::from_secs(2), || {
        lab.is_sole_master(Lb2, VIP4.into())
    })
    .unwrap_or_else(|| panic!("lb2 (higher address) did not become sole master"));
    println!("equal priority: lb2 sole master {t:?} after the partition healed (bound {bound:?})");
    assert!(t <= bound, "lb1 stepped down after {t:?} > {bound:?}");
    if let Err(t) = holds_for(c1.master_down() * 3, || {
        lab.is_sole_master(Lb2, VIP4.into())
    }) {
        panic!("lb2 lost sole mastership after {t:?}");
    }
}

/// Test 5b: unicast adverts keep the pair working while multicast VRRP is dropped by
/// nftables on both nodes, and no multicast advert is even attempted.
#[test]
fn t5b_unicast_works_with_multicast_dropped() {
    let Some((lab, imp)) = setup("t5b") else {
        return;
    };
    lab.drop_vrrp_multicast(Lb1);
    lab.drop_vrrp_multicast(Lb2);
    let c1 = Vrrp::v3(Lb1).unicast(Lb1);
    let c2 = Vrrp::v3(Lb2).unicast(Lb2);
    let (d1, _d2) = lab.converge(imp, &c1, imp, &c2);
    assert_eq!(
        lab.dropped_multicast(Lb1),
        0,
        "lb1 sent or got multicast VRRP in unicast mode"
    );
    assert_eq!(
        lab.dropped_multicast(Lb2),
        0,
        "lb2 sent or got multicast VRRP in unicast mode"
    );
    let bound = c2.master_down() + SLACK;
    let t0 = Instant::now();
    lab.kill9(&d1);
    let (t_vip, t_http) = takeover(
        &lab,
        Lb2,
        VIP4.into(),
        t0,
        bound + Duration::from_secs(2),
        "unicast kill -9",
    );
    assert_silent_master_takeover(&c2, t_vip, t_http, bound);
}

/// Test 6a: an IPv6 VIP (v3) is announced with unsolicited neighbour advertisements
/// (override flag), serves HTTP, and fails over.
#[test]
fn t6a_ipv6_vip_unsolicited_na_and_failover() {
    let Some((lab, imp)) = setup("t6a") else {
        return;
    };
    let cap = lab.capture(Client, "icmp6");
    let (c1, c2) = (Vrrp::v3_ipv6(Lb1), Vrrp::v3_ipv6(Lb2));
    let vip = vip_of(&c1);
    let (d1, _d2) = lab.converge(imp, &c1, imp, &c2);
    let (mac1, mac2) = (lab.mac(Lb1), lab.mac(Lb2));
    let seen = wait_until(Duration::from_secs(2), || {
        has_unsolicited_na(&lab.capture_text(&cap), "2001:db8::200", &mac1)
    });
    assert!(
        seen.is_some(),
        "no unsolicited NA for the VIP from lb1 ({mac1}):\n{}",
        lab.capture_text(&cap)
    );
    lab.http_via(VIP6, Lb1, Instant::now(), Duration::from_secs(2))
        .expect("HTTP over IPv6 via lb1");
    let bound = c2.master_down() + SLACK;
    let t0 = Instant::now();
    lab.kill9(&d1);
    let (_, t_http) = takeover(
        &lab,
        Lb2,
        vip,
        t0,
        bound + Duration::from_secs(2),
        "IPv6 kill -9",
    );
    assert!(t_http <= bound, "HTTP via lb2 after {t_http:?} > {bound:?}");
    let seen = wait_until(Duration::from_secs(1), || {
        has_unsolicited_na(&lab.capture_text(&cap), "2001:db8::200", &mac2)
    });
    assert!(
        seen.is_some(),
        "no unsolicited NA for the VIP from lb2 ({mac2})"
    );
}

/// Test 6b: a daemon restarted after kill -9 removes the VIP it left behind.
#[test]
fn t6b_restart_cleans_stale_vip() {
    let Some((lab, imp)) = setup("t6b") else {
        return;
    };
    let (c1, c2) = (Vrrp::v3(Lb1), Vrrp::v3(Lb2));
    let (d1, _d2) = lab.converge(imp, &c1, imp, &c2);
    lab.kill9(&d1);
    wait_until(Duration::from_secs(2), || lab.has_addr(Lb2, VIP4)).expect("lb2 master");
    assert!(
        lab.has_addr(Lb1, VIP4),
        "kill -9 should leave lb1's VIP behind"
    );
    // Restart as a lower-priority backup so it never re-wins: the VIP must go at start-up.
    let c1b = Vrrp { priority: 80, ..c1 };
    let t0 = Instant::now();
    lab.start_vrrp(Lb1, imp, &c1b);
    let t = wait_until_from(t0, Duration::from_secs(2), || !lab.has_addr(Lb1, VIP4))
        .unwrap_or_else(|| panic!("restarted lb1 kept the stale VIP"));
    println!("stale VIP removed {t:?} after restart");
    if let Err(t) = holds_for(c1b.master_down() * 2, || {
        lab.is_sole_master(Lb2, VIP4.into())
    }) {
        panic!("lb2 lost sole mastership {t:?} after lb1 restarted");
    }
}

/// Test 6c: restarted with its old config after kill -9, the node first clears the stale
/// VIP (it starts as backup) and only holds it again once it has won after its
/// Master_Down_Interval.
#[test]
fn t6c_restart_clears_stale_vip_before_winning_again() {
    let Some((lab, imp)) = setup("t6c") else {
        return;
    };
    let (c1, c2) = (Vrrp::v3(Lb1), Vrrp::v3(Lb2));
    let (d1, _d2) = lab.converge(imp, &c1, imp, &c2);
    lab.kill9(&d1);
    wait_until(Duration::from_secs(2), || lab.has_addr(Lb2, VIP4)).expect("lb2 master");
    assert!(
        lab.has_addr(Lb1, VIP4),
        "kill -9 should leave lb1's VIP behind"
    );
    let t0 = Instant::now();
    lab.start_vrrp(Lb1, imp, &c1);
    let cleared = wait_until_from(t0, Duration::from_secs(2), || !lab.has_addr(Lb1, VIP4))
        .unwrap_or_else(|| panic!("restarted lb1 kept the stale VIP"));
    let won = wait_until_from(t0, c1.master_down() + Duration::from_secs(2), || {
        lab.is_sole_master(Lb1, VIP4.into())
    })
    .unwrap_or_else(|| panic!("restarted lb1 did not win back"));
    println!("restart: stale VIP cleared after {cleared:?}, lb1 sole master after {won:?}");
    assert!(
        won >= c1.master_down() - Duration::from_millis(10),
        "lb1 won after {won:?}, before its Master_Down_Interval"
    );
    lab.http_via(VIP4, Lb1, Instant::now(), Duration::from_secs(1))
        .expect("HTTP via lb1");
}

/// The neighbour entry (MAC) the client has for `ip`, if any.
fn client_neigh(lab: &Lab, ip: &str) -> String {
    lab.exec_in(Client, &["ip", "neigh", "show", ip])
        .unwrap_or_default()
        .split_whitespace()
        .skip_while(|w| *w != "lladdr")
        .nth(1)
        .unwrap_or_default()
        .to_string()
}

/// Beyond the numbered tests: `use-vmac` carries the VIP on a macvlan with the RFC
/// virtual MAC 00:00:5e:00:01:VRID, so after a failover the client's neighbour entry
/// stays the same and traffic follows the MAC. (With `VH_LAB_IMPL=keepalived` this one
/// fails: keepalived 2.2.7 lets the client resolve the VIP to lb1's base MAC.)
#[test]
fn t8_use_vmac_virtual_mac_moves_with_the_vip() {
    let Some((lab, imp)) = setup("t8") else {
        return;
    };
    let c1 = Vrrp {
        use_vmac: true,
        ..Vrrp::v3(Lb1)
    };
    let c2 = Vrrp {
        use_vmac: true,
        ..Vrrp::v3(Lb2)
    };
    let vmac = format!("00:00:5e:00:01:{:02x}", lab::VRID);
    let (d1, _d2) = lab.converge(imp, &c1, imp, &c2);
    let link = lab
        .exec_in(Lb1, &["ip", "-o", "addr", "show", "to", "192.0.2.200"])
        .expect("ip addr");
    let dev = link
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_string();
    let dev = dev.split('@').next().unwrap_or_default().to_string();
    assert!(
        dev != "eth0" && !dev.is_empty(),
        "VIP should be on the macvlan, not {dev:?}"
    );
    let l = lab
        .exec_in(Lb1, &["ip", "-o", "link", "show", &dev])
        .expect("ip link");
    assert!(l.contains(&vmac), "{dev} does not have {vmac}: {l}");
    lab.http_via(VIP4, Lb1, Instant::now(), Duration::from_secs(2))
        .expect("HTTP via lb1");
    assert_eq!(
        client_neigh(&lab, "192.0.2.200"),
        vmac,
        "client resolves the VIP to the virtual MAC"
    );
    let bound = c2.master_down() + SLACK;
    let t0 = Instant::now();
    lab.kill9(&d1);
    let (_, t_http) = takeover(
        &lab,
        Lb2,
        VIP4.into(),
        t0,
        bound + Duration::from_secs(2),
        "vmac kill -9",
    );
    assert!(t_http <= bound, "HTTP via lb2 after {t_http:?} > {bound:?}");
    assert_eq!(
        client_neigh(&lab, "192.0.2.200"),
        vmac,
        "the client's neighbour entry kept the virtual MAC"
    );
}
