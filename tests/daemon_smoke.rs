//! Smoke test of `vrrp-ha run` on real Linux networking: two daemons in two network
//! namespaces joined by a veth pair (192.0.2.0/24). Needs root and iproute2.
//!
//! Checks: the priority-100 node becomes Master and holds the VIP, the other does not;
//! SIGTERM on the Master moves the VIP to the backup within Skew_Time plus a margin,
//! and the stopped daemon exits 0 having removed its VIP. SIGHUP: an invalid config
//! is kept out, a lowered priority hands the VIP over. An interface deleted and created
//! again (a new index) is followed: three namespaces around a bridge, the Master's
//! veth is deleted and plugged in again, and the Master preempts on the new one.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod prereq;

const VIP: &str = "192.0.2.200";

/// Why the test cannot run here, if it cannot.
fn prerequisites() -> Result<(), String> {
    if !nix::unistd::Uid::effective().is_root() {
        return Err("needs root (network namespaces, raw sockets)".into());
    }
    let ip = Command::new("ip").arg("-V").output();
    if !ip.is_ok_and(|o| o.status.success()) {
        return Err("needs iproute2's `ip`".into());
    }
    Ok(())
}

fn sh(args: &[&str]) {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("run {args:?}: {e}"));
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Namespaces, daemons and a scratch directory, all removed on drop (also on failure).
struct Lab {
    ns: Vec<String>,
    children: Vec<(String, Child)>,
    dir: PathBuf,
}

impl Lab {
    fn new(prefix: &str) -> Lab {
        let dir = std::env::temp_dir().join(format!("{prefix}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("scratch dir");
        Lab {
            ns: Vec::new(),
            children: Vec::new(),
            dir,
        }
    }

    fn log(&self, name: &str) -> String {
        fs::read_to_string(self.dir.join(format!("{name}.log"))).unwrap_or_default()
    }

    fn write_config(&self, name: &str, config: &str) -> PathBuf {
        let cfg = self.dir.join(format!("{name}.kdl"));
        fs::write(&cfg, config).expect("write config");
        cfg
    }

    fn start(&mut self, name: &str, ns: &str, config: &str) {
        let cfg = self.write_config(name, config);
        let log = fs::File::create(self.dir.join(format!("{name}.log"))).expect("log file");
        let child = Command::new("ip")
            .args([
                "netns",
                "exec",
                ns,
                env!("CARGO_BIN_EXE_vrrp-ha"),
                "run",
                "-c",
            ])
            .arg(&cfg)
            .env("VRRP_HA_STATE_DIR", self.dir.join("state"))
            .env("VRRP_HA_DRAIN_DIR", self.dir.join("drain"))
            .env(
                "DBUS_SYSTEM_BUS_ADDRESS",
                "unix:path=/nonexistent/vrrp-ha-lab-bus",
            )
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup log"))
            .stderr(log)
            .spawn()
            .expect("spawn vrrp-ha");
        self.children.push((name.to_string(), child));
    }

    fn signal(&self, name: &str, sig: nix::sys::signal::Signal) {
        let (_, child) = self
            .children
            .iter()
            .find(|(n, _)| n == name)
            .expect("known daemon");
        // `ip netns exec` execs the daemon, so this PID is the daemon's.
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        nix::sys::signal::kill(pid, sig).expect("signal daemon");
    }

    fn wait_exit(&mut self, name: &str, within: Duration) -> Option<i32> {
        let deadline = Instant::now() + within;
        let (_, child) = self
            .children
            .iter_mut()
            .find(|(n, _)| n == name)
            .expect("known daemon");
        loop {
            if let Ok(Some(st)) = child.try_wait() {
                return st.code();
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for (_, c) in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        if std::thread::panicking() {
            for (name, _) in &self.children {
                eprintln!("----- {name} log -----\n{}", self.log(name));
            }
        }
        for ns in &self.ns {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn has_vip(ns: &str) -> bool {
    Command::new("ip")
        .args(["-n", ns, "-o", "addr", "show"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains(&format!("inet {VIP}/")))
        .unwrap_or(false)
}

/// Poll `cond` until it holds or `within` passes; returns the time it took.
fn wait_for(within: Duration, mut cond: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    loop {
        if cond() {
            return Some(start.elapsed());
        }
        if start.elapsed() >= within {
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn config(iface: &str, priority: u8) -> String {
    format!(
        "instance \"VI_1\" {{\n    interface \"{iface}\"\n    vrid 51\n    priority {priority}\n    \
         advert-interval \"100ms\"\n    virtual-ip \"{VIP}/24\"\n}}\n"
    )
}

fn setup(lab: &mut Lab, a: &str, b: &str) {
    for ns in [a, b] {
        sh(&["ip", "netns", "add", ns]);
        lab.ns.push(ns.to_string());
        sh(&["ip", "-n", ns, "link", "set", "lo", "up"]);
    }
    sh(&[
        "ip", "-n", a, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", b,
    ]);
    for (ns, addr) in [(a, "192.0.2.1/24"), (b, "192.0.2.2/24")] {
        sh(&["ip", "-n", ns, "addr", "add", addr, "dev", "eth0"]);
        sh(&["ip", "-n", ns, "link", "set", "eth0", "up"]);
    }
    // The kernel reports the carrier (IFF_RUNNING) up to a second after both ends are up
    // (linkwatch); a daemon started before that starts in FAULT, as it should.
    for ns in [a, b] {
        wait_for(Duration::from_secs(3), || carrier(ns, "eth0"))
            .unwrap_or_else(|| panic!("{ns}: eth0 has no carrier"));
    }
}

/// Whether `dev` in `ns` is up with carrier (what the daemon calls up).
fn carrier(ns: &str, dev: &str) -> bool {
    Command::new("ip")
        .args(["-n", ns, "-o", "link", "show", dev])
        .output()
        .is_ok_and(|o| {
            let t = String::from_utf8_lossy(&o.stdout);
            t.contains("LOWER_UP") && t.contains(",UP")
        })
}

#[test]
fn two_daemons_elect_one_master_and_fail_over_on_sigterm() {
    if !prereq::go_on("daemon_smoke", prerequisites().err()) {
        return;
    }
    let pid = std::process::id();
    let (a, b) = (format!("vhsmA{pid}"), format!("vhsmB{pid}"));
    let mut lab = Lab::new("vhsmoke");
    setup(&mut lab, &a, &b);

    lab.start("lb1", &a, &config("eth0", 100));
    lab.start("lb2", &b, &config("eth0", 90));

    // Master_Down_Interval is 365 ms here; 5 s leaves room for a loaded CI machine.
    let took = wait_for(Duration::from_secs(5), || has_vip(&a));
    assert!(took.is_some(), "lb1 never became Master");
    // Let an election settle: both have heard each other for several adverts.
    std::thread::sleep(Duration::from_millis(500));
    assert!(has_vip(&a), "lb1 lost the VIP");
    assert!(!has_vip(&b), "lb2 holds the VIP too (split brain)");
    let state = fs::read_to_string(lab.dir.join("state/lb1.json")).unwrap_or_default();
    assert!(
        state.contains("\"state\":\"MASTER\""),
        "lb1 state file: {state:?}"
    );

    lab.signal("lb1", nix::sys::signal::Signal::SIGTERM);
    // Priority 0 lets lb2 take over after Skew_Time (65 ms), well before
    // Master_Down_Interval (365 ms); allow for scheduling but stay below the latter + slack.
    let took = wait_for(Duration::from_secs(2), || has_vip(&b)).expect("lb2 never took over");
    eprintln!("failover after SIGTERM: {took:?}");
    assert!(
        took < Duration::from_millis(350),
        "took {took:?}: priority 0 not honoured?"
    );
    assert_eq!(
        lab.wait_exit("lb1", Duration::from_secs(3)),
        Some(0),
        "lb1 exit status"
    );
    assert!(!has_vip(&a), "lb1 left its VIP behind");
}

#[test]
fn sighup_keeps_invalid_config_out_and_applies_priority() {
    if !prereq::go_on("daemon_smoke", prerequisites().err()) {
        return;
    }
    let pid = std::process::id();
    let (a, b) = (format!("vhrlA{pid}"), format!("vhrlB{pid}"));
    let mut lab = Lab::new("vhreload");
    setup(&mut lab, &a, &b);
    lab.start("lb1", &a, &config("eth0", 100));
    lab.start("lb2", &b, &config("eth0", 90));
    assert!(
        wait_for(Duration::from_secs(5), || has_vip(&a)).is_some(),
        "lb1 never became Master"
    );

    lab.write_config("lb1", "instance \"VI_1\" { bogus 1 }\n");
    lab.signal("lb1", nix::sys::signal::Signal::SIGHUP);
    let rejected = wait_for(Duration::from_secs(3), || {
        lab.log("lb1").contains("keeping the running one")
    });
    assert!(rejected.is_some(), "invalid config not reported");
    assert!(
        has_vip(&a) && !has_vip(&b),
        "an invalid reload moved the VIP"
    );

    lab.write_config("lb1", &config("eth0", 50));
    lab.signal("lb1", nix::sys::signal::Signal::SIGHUP);
    // lb1 advertises 50 at once; lb2 (90, preempt) takes over after Master_Down_Interval.
    let took = wait_for(Duration::from_secs(3), || has_vip(&b) && !has_vip(&a));
    assert!(took.is_some(), "lowered priority did not hand the VIP over");
}

fn has_addr(ns: &str, addr: &str) -> bool {
    Command::new("ip")
        .args(["-n", ns, "-o", "addr", "show"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains(&format!("inet {addr}/")))
        .unwrap_or(false)
}

fn group_config(iface: &str, priority: u8, fault_file: Option<&Path>) -> String {
    let track = fault_file
        .map(|p| format!("    track-file \"{}\" weight=0\n", p.display()))
        .unwrap_or_default();
    format!(
        "instance \"VI_1\" {{\n    interface \"{iface}\"\n    vrid 51\n    priority {priority}\n    \
         advert-interval \"100ms\"\n    virtual-ip \"192.0.2.200/24\"\n}}\n\
         instance \"VI_2\" {{\n    interface \"{iface}\"\n    vrid 52\n    priority {priority}\n    \
         advert-interval \"100ms\"\n    virtual-ip \"192.0.2.201/24\"\n{track}}}\n\
         sync-group \"G1\" {{\n    instances \"VI_1\" \"VI_2\"\n}}\n"
    )
}

#[test]
fn sync_group_member_fault_moves_the_whole_group() {
    if !prereq::go_on("daemon_smoke", prerequisites().err()) {
        return;
    }
    let pid = std::process::id();
    let (a, b) = (format!("vhsgA{pid}"), format!("vhsgB{pid}"));
    let mut lab = Lab::new("vhsync");
    setup(&mut lab, &a, &b);
    let fault = lab.dir.join("fault");
    fs::write(&fault, "0\n").expect("write track file");
    lab.start("lb1", &a, &group_config("eth0", 100, Some(&fault)));
    lab.start("lb2", &b, &group_config("eth0", 90, None));
    let both = |ns: &str| has_addr(ns, "192.0.2.200") && has_addr(ns, "192.0.2.201");
    assert!(
        wait_for(Duration::from_secs(5), || both(&a)).is_some(),
        "lb1 never became Master of both"
    );

    // VI_2 alone faults (weight-0 track file); the group takes VI_1 down with it.
    fs::write(&fault, "1\n").expect("write track file");
    let moved = wait_for(Duration::from_secs(3), || both(&b) && !has_vip(&a));
    assert!(moved.is_some(), "the group did not move as one");

    fs::write(&fault, "0\n").expect("write track file");
    let back = wait_for(Duration::from_secs(3), || both(&a) && !has_vip(&b));
    assert!(back.is_some(), "the group did not come back");
}

fn link_exists(ns: &str, name: &str) -> bool {
    Command::new("ip")
        .args(["-n", ns, "link", "show", name])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn use_vmac_carries_the_vip_and_is_removed_on_exit() {
    if !prereq::go_on("daemon_smoke", prerequisites().err()) {
        return;
    }
    let pid = std::process::id();
    let (a, b) = (format!("vhvmA{pid}"), format!("vhvmB{pid}"));
    let mut lab = Lab::new("vhvmac");
    setup(&mut lab, &a, &b);
    let cfg = with_vmac(&config("eth0", 100));
    lab.start("lb1", &a, &cfg);
    let on_vmac = || {
        Command::new("ip")
            .args(["-n", &a, "-o", "addr", "show", "dev", "vrrp.51"])
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(&format!("inet {VIP}/")))
    };
    assert!(
        wait_for(Duration::from_secs(5), on_vmac).is_some(),
        "the VIP never appeared on vrrp.51"
    );
    let link = Command::new("ip")
        .args(["-n", &a, "-o", "link", "show", "vrrp.51"])
        .output()
        .expect("ip link");
    assert!(
        String::from_utf8_lossy(&link.stdout).contains("00:00:5e:00:01:33"),
        "vrrp.51 lacks the virtual MAC: {}",
        String::from_utf8_lossy(&link.stdout)
    );
    lab.signal("lb1", nix::sys::signal::Signal::SIGTERM);
    assert_eq!(
        lab.wait_exit("lb1", Duration::from_secs(3)),
        Some(0),
        "lb1 exit status"
    );
    assert!(!link_exists(&a, "vrrp.51"), "vrrp.51 left behind");
}

/// IPv4 VRRPv3 checksums come in two forms: each side accepts both, and the one whose
/// peer uses the other form says so, naming the setting that fixes it.
#[test]
fn a_peer_with_the_other_v3_checksum_form_is_named_in_the_log() {
    if !prereq::go_on("daemon_smoke", prerequisites().err()) {
        return;
    }
    let pid = std::process::id();
    let (a, b) = (format!("vhckA{pid}"), format!("vhckB{pid}"));
    let mut lab = Lab::new("vhcksum");
    setup(&mut lab, &a, &b);
    let message = config("eth0", 100).replace(
        "    virtual-ip",
        "    v3-checksum \"message\"\n    virtual-ip",
    );
    lab.start("lb1", &a, &message);
    lab.start("lb2", &b, &config("eth0", 90));
    wait_for(Duration::from_secs(5), || has_vip(&a)).expect("lb1 never became Master");
    let warned = wait_for(Duration::from_secs(3), || {
        lab.log("lb2")
            .contains("peer 192.0.2.1 uses the VRRPv3 checksum form \"message\"")
    });
    assert!(warned.is_some(), "lb2 log:\n{}", lab.log("lb2"));
    let lb2 = lab.log("lb2");
    assert!(lb2.contains("but we send \"pseudo-header\""), "{lb2}");
    assert!(lb2.contains("set v3-checksum to match it"), "{lb2}");
    assert_eq!(
        lb2.matches("uses the VRRPv3 checksum form").count(),
        1,
        "logged once: {lb2}"
    );
    // lb1 only hears lb2 if lb2 is Master; the election itself is unaffected.
    assert!(!has_vip(&b), "lb2 holds the VIP too (split brain)");
}

/// `cfg` with `use-vmac #true` added to its instance.
fn with_vmac(cfg: &str) -> String {
    cfg.replace(
        "    advert-interval",
        "    use-vmac #true\n    advert-interval",
    )
}

/// Namespaces `<tag>A<pid>` (192.0.2.1) and `<tag>B<pid>` (192.0.2.2), each plugged by
/// its `eth0` into a bridge in `<tag>S<pid>`. DAD is off: a new link-local address
/// would otherwise add a second to an IPv6 take-over.
fn bridged(lab: &mut Lab, tag: &str) -> (String, String, String) {
    let pid = std::process::id();
    let (a, b, sw) = (
        format!("{tag}A{pid}"),
        format!("{tag}B{pid}"),
        format!("{tag}S{pid}"),
    );
    for ns in [&a, &b, &sw] {
        sh(&["ip", "netns", "add", ns]);
        lab.ns.push(ns.to_string());
        sh(&["ip", "-n", ns, "link", "set", "lo", "up"]);
        for conf in ["all", "default"] {
            sh(&[
                "ip",
                "netns",
                "exec",
                ns,
                "sysctl",
                "-qw",
                &format!("net.ipv6.conf.{conf}.accept_dad=0"),
            ]);
        }
    }
    sh(&["ip", "-n", &sw, "link", "add", "br0", "type", "bridge"]);
    sh(&["ip", "-n", &sw, "link", "set", "br0", "up"]);
    plug(&a, &sw, "pa", "192.0.2.1/24");
    plug(&b, &sw, "pb", "192.0.2.2/24");
    (a, b, sw)
}

/// Plug `ns`'s `eth0` into the bridge `br0` of namespace `sw` (port `port`), addressed and up.
fn plug(ns: &str, sw: &str, port: &str, addr: &str) {
    sh(&[
        "ip", "-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", port, "netns", sw,
    ]);
    sh(&["ip", "-n", sw, "link", "set", port, "master", "br0", "up"]);
    sh(&["ip", "-n", ns, "addr", "add", addr, "dev", "eth0"]);
    sh(&["ip", "-n", ns, "link", "set", "eth0", "up"]);
}

/// The interface index of `name` in `ns`.
fn ifindex(ns: &str, name: &str) -> u32 {
    let out = Command::new("ip")
        .args(["-n", ns, "-o", "link", "show", name])
        .output()
        .expect("ip link");
    let text = String::from_utf8_lossy(&out.stdout);
    text.split(':')
        .next()
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no index for {name} in {ns}: {text}"))
}

fn has_vip_on(ns: &str, dev: &str) -> bool {
    Command::new("ip")
        .args(["-n", ns, "-o", "addr", "show", "dev", dev])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(&format!("inet {VIP}/")))
}

/// The Master's interface is deleted (its peer takes over) and re-created under the same
/// name with a new index: the daemon follows it and, with the higher priority, preempts.
#[test]
fn a_re_created_interface_is_followed_and_its_master_preempts_again() {
    relink_scenario("vhfo", None, false);
}

/// The same with `use-vmac`: the vmac went with its parent and is made again over the new one.
#[test]
fn a_re_created_interface_gets_its_vmac_again() {
    relink_scenario("vhfv", Some("vrrp.51"), false);
}

/// The same with an IPv6 instance beside the IPv4 one: both sockets of the interface are
/// reopened and the IPv6 one learns the new link-local address.
#[test]
fn a_re_created_interface_is_followed_by_both_families() {
    relink_scenario("vhf6", None, true);
}

/// The IPv6 VIP of [`relink_scenario`]'s second instance.
const VIP6: &str = "2001:db8::200";

/// See the tests above; `vmac`: the interface the VIP goes on with `use-vmac`; `ipv6`: add
/// an IPv6 instance (same vrid, its own family) that must follow too.
fn relink_scenario(tag: &str, vmac: Option<&str>, ipv6: bool) {
    if !prereq::go_on("daemon_smoke", prerequisites().err()) {
        return;
    }
    let mut lab = Lab::new(tag);
    let (a, b, sw) = bridged(&mut lab, tag);
    let vip_dev = vmac.unwrap_or("eth0");
    let vmac_if = |cfg: String| match vmac {
        Some(_) => with_vmac(&cfg),
        None => cfg,
    };
    let with_v6 = |cfg: String, priority: u8| {
        if !ipv6 {
            return cfg;
        }
        let v6 = config("eth0", priority)
            .replace("VI_1", "VI_6")
            .replace(&format!("{VIP}/24"), &format!("{VIP6}/64"));
        cfg + &v6
    };
    let has_v6 = |ns: &str| {
        Command::new("ip")
            .args(["-n", ns, "-o", "addr", "show", "dev", "eth0"])
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(&format!("inet6 {VIP6}/")))
    };
    // Master holds every VIP on its interface (`a`), the other none of them.
    let master = |m: &str, o: &str| {
        let dev = if m == a { vip_dev } else { "eth0" };
        has_vip_on(m, dev) && !has_vip(o) && (!ipv6 || (has_v6(m) && !has_v6(o)))
    };
    lab.start("lb1", &a, &with_v6(vmac_if(config("eth0", 100)), 100));
    // Only lb1 uses a vmac, so that the VIP's device tells the nodes apart (both using
    // one is `two_vmac_masters_hear_each_other_and_converge`).
    lab.start("lb2", &b, &with_v6(config("eth0", 90), 90));
    assert!(
        wait_for(Duration::from_secs(5), || master(&a, &b)).is_some(),
        "lb1 never became the only master"
    );
    let old_index = ifindex(&a, "eth0");

    // Master_Down_Interval of the backup (priority 90, 100 ms): 3 * 100 + 65 ms.
    sh(&["ip", "-n", &a, "link", "del", "eth0"]);
    let took = wait_for(Duration::from_secs(2), || master(&b, &a))
        .expect("lb2 did not take over after lb1's interface was deleted");
    eprintln!("lb2 took over {took:?} after lb1's eth0 was deleted");
    assert!(
        !has_vip(&a),
        "lb1 still holds the VIP without its interface"
    );

    // Give the new eth0 a different index for sure, then plug it in again.
    plug(&a, &sw, "pa", "192.0.2.1/24");
    let plugged = Instant::now();
    let new_index = ifindex(&a, "eth0");
    assert_ne!(new_index, old_index, "the re-created eth0 kept its index");
    // lb1 comes up as Backup and preempts after its Master_Down_Interval (3 * 100 +
    // 61 ms): well within 2 s unless it failed to follow the new interface.
    let took = wait_for(Duration::from_secs(2), || master(&a, &b)).unwrap_or_else(|| {
        panic!(
            "lb1 did not preempt on its re-created {vip_dev} within 2 s:\n{}",
            lab.log("lb1")
        )
    });
    eprintln!(
        "lb1 master again {took:?} after its eth0 was re-created ({:?} since it was up)",
        plugged.elapsed()
    );
    let log = lab.log("lb1");
    assert!(
        log.contains("following its new index") && log.contains(&format!("ifindex={new_index}")),
        "lb1's log does not show it followed ifindex {new_index}:\n{log}"
    );
    // It stays master: the new interface carries its adverts to lb2 (a backup that
    // heard nothing would take over again after 365 ms).
    let flapped = wait_for(Duration::from_millis(800), || !master(&a, &b));
    assert!(flapped.is_none(), "mastership flapped after {flapped:?}");
    if std::env::var_os("VH_SHOW_LOGS").is_some() {
        eprintln!(
            "----- lb1 -----\n{log}\n----- lb2 -----\n{}",
            lab.log("lb2")
        );
    }
}

/// Both nodes use `use-vmac`, so both send adverts from the same virtual MAC. A node
/// whose own macvlan is up (a MASTER) must still hear the other's adverts: start lb2
/// first (MASTER, vmac up), then lb1, which preempts; lb2 must step down, and after a
/// partition that made both MASTER, the two must converge again.
#[test]
fn two_vmac_masters_hear_each_other_and_converge() {
    if !prereq::go_on("daemon_smoke", prerequisites().err()) {
        return;
    }
    let mut lab = Lab::new("vh2v");
    let (a, b, sw) = bridged(&mut lab, "vh2v");
    let vmac = |priority: u8| with_vmac(&config("eth0", priority));
    let sole = |m: &str, o: &str| has_vip_on(m, "vrrp.51") && !has_vip(o);
    lab.start("lb2", &b, &vmac(90));
    wait_for(Duration::from_secs(5), || has_vip_on(&b, "vrrp.51"))
        .expect("lb2 alone never became MASTER");
    lab.start("lb1", &a, &vmac(100));
    let took = wait_for(Duration::from_secs(3), || sole(&a, &b));
    assert!(
        took.is_some(),
        "lb1 and lb2 never converged on lb1 (lb1 VIP: {}, lb2 VIP: {})",
        has_vip(&a),
        has_vip(&b)
    );
    eprintln!("lb1 sole MASTER {:?} after it started", took);
    // Partition (both ports isolated from each other), both become MASTER, heal.
    for port in ["pa", "pb"] {
        sh(&[
            "ip",
            "-n",
            &sw,
            "link",
            "set",
            port,
            "type",
            "bridge_slave",
            "isolated",
            "on",
        ]);
    }
    wait_for(Duration::from_secs(3), || has_vip(&a) && has_vip(&b))
        .expect("partition did not make both MASTER");
    for port in ["pa", "pb"] {
        sh(&[
            "ip",
            "-n",
            &sw,
            "link",
            "set",
            port,
            "type",
            "bridge_slave",
            "isolated",
            "off",
        ]);
    }
    // The lower priority hears the higher and steps down within about one advert interval.
    let healed = wait_for(Duration::from_secs(3), || sole(&a, &b));
    assert!(
        healed.is_some(),
        "split brain persists after the partition healed"
    );
    eprintln!("converged {:?} after the partition healed", healed);
    assert!(
        healed.unwrap_or_default() < Duration::from_millis(600),
        "slow convergence: {healed:?}"
    );
}

/// A SIGHUP that adds an IPv6 instance on a new interface whose link-local address
/// stays tentative (DAD) for about 2 s: the new instance simply starts once the address
/// is usable, and meanwhile the running instance's 100 ms adverts go on, so its peer
/// never takes over (a loop that waited for the address would fall silent for 2 s,
/// six times the peer's Master_Down_Interval).
#[test]
fn a_reload_waiting_for_a_link_local_address_stalls_no_other_instance() {
    if !prereq::go_on("daemon_smoke", prerequisites().err()) {
        return;
    }
    let pid = std::process::id();
    let (a, b) = (format!("vhllA{pid}"), format!("vhllB{pid}"));
    let mut lab = Lab::new("vhll");
    setup(&mut lab, &a, &b);
    lab.start("lb1", &a, &config("eth0", 100));
    lab.start("lb2", &b, &config("eth0", 90));
    wait_for(Duration::from_secs(5), || has_vip(&a) && !has_vip(&b))
        .expect("lb1 never became the only master");

    // eth1: DAD with 2 probes 1 s apart keeps its link-local address tentative ~2 s.
    sh(&[
        "ip", "-n", &a, "link", "add", "eth1", "type", "veth", "peer", "name", "eth1", "netns", &b,
    ]);
    for key in [
        "conf.eth1.accept_dad=1",
        "conf.eth1.dad_transmits=2",
        "neigh.eth1.retrans_time_ms=1000",
    ] {
        sh(&[
            "ip",
            "netns",
            "exec",
            &a,
            "sysctl",
            "-qw",
            &format!("net.ipv6.{key}"),
        ]);
    }
    sh(&["ip", "-n", &b, "link", "set", "eth1", "up"]);
    sh(&["ip", "-n", &a, "link", "set", "eth1", "up"]);
    let v6 = config("eth1", 100)
        .replace("VI_1", "VI_6")
        .replace("vrid 51", "vrid 52")
        .replace(&format!("{VIP}/24"), "2001:db8::52/64");
    lab.write_config("lb1", &(config("eth0", 100) + &v6));
    let tentative = |ns: &str| {
        Command::new("ip")
            .args([
                "-n", ns, "-6", "-o", "addr", "show", "dev", "eth1", "scope", "link",
            ])
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("tentative"))
    };
    wait_for(Duration::from_secs(2), || tentative(&a)).expect("eth1's link-local never tentative");
    let reloaded = Instant::now();
    lab.signal("lb1", nix::sys::signal::Signal::SIGHUP);

    // Until VI_6 is up and a second longer, lb2 must never take VI_1 over.
    let v6_master = |ns: &str| {
        Command::new("ip")
            .args(["-n", ns, "-6", "-o", "addr", "show", "dev", "eth1"])
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("inet6 2001:db8::52/"))
    };
    let mut started = None;
    while reloaded.elapsed() < Duration::from_secs(6) {
        assert!(
            !has_vip(&b) && has_vip(&a),
            "VI_1 moved {:?} after the SIGHUP (lb1 fell silent?):\n{}",
            reloaded.elapsed(),
            lab.log("lb1")
        );
        if started.is_none() && v6_master(&a) {
            started = Some(reloaded.elapsed());
        }
        if started.is_some_and(|s| reloaded.elapsed() > s + Duration::from_secs(1)) {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let started = started.unwrap_or_else(|| {
        panic!(
            "VI_6 never became MASTER after its address left DAD:\n{}",
            lab.log("lb1")
        )
    });
    eprintln!("VI_6 master {started:?} after the SIGHUP; VI_1 stayed on lb1 throughout");
    // DAD took its ~2 s: VI_6 could not have started sooner.
    assert!(
        started >= Duration::from_millis(1000),
        "VI_6 up {started:?} after the SIGHUP: was eth1's address really tentative?"
    );
}

/// The scheduling policy of a thread (field 41 of /proc/PID/task/TID/stat): 0 normal,
/// 2 SCHED_RR.
fn policies(pid: u32) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for t in tasks.flatten() {
        let Ok(stat) = fs::read_to_string(t.path().join("stat")) else {
            continue;
        };
        // The command name may hold spaces: fields are counted after its closing paren.
        let after = stat.rsplit_once(')').map_or("", |(_, a)| a);
        let policy = after
            .split_whitespace()
            .nth(41 - 3)
            .and_then(|p| p.parse().ok());
        let tid = t.file_name().to_string_lossy().parse().ok();
        if let (Some(tid), Some(policy)) = (tid, policy) {
            out.push((tid, policy));
        }
    }
    out
}

/// `realtime-priority` (on by default): the event loop runs SCHED_RR, and the other
/// threads (the blocking pool that forks scripts and hooks) keep the normal policy;
/// `realtime-priority 0` leaves the loop normal too.
#[test]
fn the_event_loop_runs_at_real_time_priority_and_nothing_else_does() {
    if !prereq::go_on("daemon_smoke", prerequisites().err()) {
        return;
    }
    let pid = std::process::id();
    let (a, b) = (format!("vhrtA{pid}"), format!("vhrtB{pid}"));
    let mut lab = Lab::new("vhrt");
    setup(&mut lab, &a, &b);
    // A tracked script makes the blocking pool start threads.
    let script = "script \"ok\" {\n    exec \"/bin/true\"\n    interval \"100ms\"\n}\n";
    let tracked = config("eth0", 100)
        .replace("    virtual-ip", "    track-script \"ok\"\n    virtual-ip")
        + script;
    lab.start("lb1", &a, &tracked);
    lab.start(
        "lb2",
        &b,
        &format!("realtime-priority 0\n{}", config("eth0", 90)),
    );
    wait_for(Duration::from_secs(5), || has_vip(&a)).expect("lb1 never became Master");
    std::thread::sleep(Duration::from_millis(300));
    let pid_of = |name: &str| {
        lab.children
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, c)| c.id())
    };
    let lb1 = policies(pid_of("lb1").expect("lb1 runs"));
    let main_tid = pid_of("lb1").expect("lb1 runs");
    let main = lb1.iter().find(|(t, _)| *t == main_tid).map(|(_, p)| *p);
    assert_eq!(main, Some(2), "lb1's event loop is not SCHED_RR: {lb1:?}");
    assert!(lb1.len() > 1, "no other threads to check: {lb1:?}");
    assert!(
        lb1.iter()
            .filter(|(t, _)| *t != main_tid)
            .all(|(_, p)| *p == 0),
        "a thread besides the loop inherited real time: {lb1:?}"
    );
    let lb2 = policies(pid_of("lb2").expect("lb2 runs"));
    assert!(
        lb2.iter().all(|(_, p)| *p == 0),
        "realtime-priority 0: {lb2:?}"
    );
}
