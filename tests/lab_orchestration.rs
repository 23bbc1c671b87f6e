//! End-to-end orchestration in network namespaces (issue 5, "Proof"): tracked scripts
//! that fail over, hung scripts and hung actions that leave advert timing alone, SIGHUP
//! reloads without VIP flap, notify/exec hooks in keepalived's order, sd_notify, and
//! stale action lists skipped under a burst of transitions.
//!
//! Every test runs the real daemon (`vrrp-ha run --config FILE`) on the shared lab of
//! `tests/lab/mod.rs`. Needs root, iproute2, nginx, tcpdump, nftables and curl; skips
//! with a reason (or fails under `CI`) without them.

mod lab;
mod prereq;

use lab::{holds_for, read_log, wait_until, wait_until_from, Host, Lab, Proc, Vrrp, SLACK, VIP4};
use std::fs;
use std::net::{IpAddr, Ipv4Addr};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use Host::{Lb1, Lb2};

/// Timer and capture granularity tolerated below an RFC lower bound.
const TICK: Duration = Duration::from_millis(10);

/// The VIP of the second instance (VI_2, vrid 52), unchanged across reloads.
const VIP2: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 210);

/// Joins the lab or skips: root and the lab tools are checked by the harness.
fn setup(test: &str) -> Option<Lab> {
    if !lab::require_lab(test, false) {
        return None;
    }
    Some(Lab::new(test))
}

/// The lab's classic VI_1 block for `host` with `extra` KDL lines inside the instance,
/// followed by `rest` (further instances, `script` blocks) at top level.
fn kdl(cfg: &Vrrp, extra: &str, rest: &str) -> String {
    let base = cfg.to_kdl();
    // to_kdl ends with the instance's closing brace: reopen it for the extra lines.
    let body = base.trim_end().strip_suffix('}').unwrap_or(&base);
    format!("{body}{extra}\n}}\n{rest}")
}

/// A second instance with the lab's settings but its own name, vrid and VIP.
fn instance_block(cfg: &Vrrp, name: &str) -> String {
    cfg.to_kdl()
        .lines()
        .filter(|l| !l.starts_with("router-id"))
        .map(|l| l.replace("instance \"VI_1\"", &format!("instance \"{name}\"")))
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// VI_2 of `host`: vrid 52, VIP 192.0.2.210/24, lab priorities (lb1 100, lb2 90).
fn vi2(host: Host) -> String {
    let c = Vrrp {
        vrid: 52,
        vips: vec![format!("{VIP2}/24")],
        ..Vrrp::v3(host)
    };
    instance_block(&c, "VI_2")
}

/// A running daemon and the config file it reads (rewritten for reloads).
struct Daemon {
    proc: Proc,
    config: PathBuf,
}

/// Writes `text` as `host`'s config and starts `vrrp-ha run` on it with `env`.
fn start(lab: &Lab, host: Host, text: &str, env: &[(&str, &str)]) -> Daemon {
    let config = lab.path(&format!("{}-orch", host.role()), "kdl");
    fs::write(&config, text).expect("write config");
    let proc = lab.run_vrrp_ha(host, &config, env);
    Daemon { proc, config }
}

/// Starts lb1 and waits until it holds `vip`, then lb2, and checks that lb1 stays the
/// sole holder for longer than lb2's Master_Down_Interval (lb2 hears lb1).
fn converge(lab: &Lab, k1: &str, k2: &str, vip: IpAddr) -> (Daemon, Daemon) {
    let c2 = Vrrp::v3(Lb2);
    let t0 = Instant::now();
    let d1 = start(lab, Lb1, k1, &[]);
    let limit = Vrrp::v3(Lb1).master_down() + Duration::from_secs(3);
    let t = wait_until_from(t0, limit, || lab.has_addr(Lb1, vip))
        .unwrap_or_else(|| panic!("lb1 did not become master within {limit:?}"));
    println!("lb1 master {t:?} after start");
    let d2 = start(lab, Lb2, k2, &[]);
    if let Err(t) = holds_for(c2.master_down() + c2.advert, || {
        lab.is_sole_master(Lb1, vip)
    }) {
        panic!("lb1 stopped being the sole master {t:?} after lb2 started");
    }
    (d1, d2)
}

/// A temp dir owned by root, mode 0755, for scripts the daemon must accept as secure
/// (the lab dir lives under the sticky /tmp, which the security rule allows).
fn script_dir(lab: &Lab) -> PathBuf {
    let dir = lab.dir.join("scripts");
    fs::create_dir_all(&dir).expect("script dir");
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).expect("chmod script dir");
    dir
}

/// Writes an executable root-owned 0755 shell script.
fn write_script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("write script");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).expect("chmod script");
    path
}

/// Lines of the daemon log matching `word` (for failure messages).
fn log_lines(p: &Proc, word: &str) -> String {
    lab::grep_log(&p.log, &[word]).join("\n")
}

/// Test 1: a tracked script that starts failing (fall 2 at 200 ms, weight -20 takes lb1
/// from 100 to 80 < 90) makes lb2 master within fall * interval + MDI; when it succeeds
/// again (rise 2) lb1 preempts back.
#[test]
fn o1_tracked_script_fails_over_and_back() {
    let Some(lab) = setup("o1") else {
        return;
    };
    let flag = lab.dir.join("fail-flag");
    let f = flag.display().to_string();
    let interval = Duration::from_millis(200);
    let (fall, rise) = (2u32, 2u32);
    let script = format!(
        "script \"chk\" {{\n    exec \"/bin/sh\" \"-c\" \"test ! -e {f}\"\n    \
         interval \"{}ms\"\n    timeout \"150ms\"\n    rise {rise}\n    fall {fall}\n    \
         weight -20\n}}\n",
        interval.as_millis()
    );
    let c1 = Vrrp::v3(Lb1);
    let c2 = Vrrp::v3(Lb2);
    let k1 = kdl(&c1, "    track-script \"chk\"", &script);
    let k2 = c2.to_kdl();
    let (cap, pcap) = capture_now(&lab, Lb2, "ip proto 112 and src host 192.0.2.201");
    let (d1, _d2) = converge(&lab, &k1, &k2, VIP4.into());

    // Failing: lb1 advertises 80; lb2 (90, preempt) ignores those adverts and takes over
    // when its Master_Down_Interval since the last priority-100 advert runs out.
    let t0 = Instant::now();
    let wall0 = epoch_secs();
    fs::write(&flag, "").expect("create flag");
    let upper = interval * fall + c2.master_down() + SLACK;
    // `fall` failing runs take at least (fall - 1) intervals; lb2 heard a priority-100
    // advert at most one advert interval before that.
    let lower = interval * (fall - 1) + c2.master_down() - c2.advert - TICK;
    let t = wait_until_from(t0, upper + Duration::from_secs(3), || {
        lab.is_sole_master(Lb2, VIP4.into())
    })
    .unwrap_or_else(|| {
        panic!(
            "lb2 not sole master after the script failed:\n{}",
            log_lines(&d1.proc, "chk")
        )
    });
    println!(
        "script failing: lb2 sole master after {t:?} (bounds {lower:?}..={upper:?}, fall*interval {:?}, lb2 MDI {:?})",
        interval * fall,
        c2.master_down()
    );
    assert!(
        t >= lower,
        "failover after {t:?} < {lower:?}: fall not counted"
    );
    assert!(t <= upper, "failover after {t:?} > {upper:?}");

    // Recovering: lb1 back to 100 after `rise` runs; it ignores lb2's 90 adverts as a
    // preempting backup and takes over after its own Master_Down_Interval. The timer
    // was last armed while lb1 was at 80, so the skew of priority 80 bounds it.
    let c1_80 = Vrrp {
        priority: 80,
        ..c1.clone()
    };
    let t1 = Instant::now();
    let wall1 = epoch_secs();
    fs::remove_file(&flag).expect("remove flag");
    let upper = interval * rise + c1_80.master_down() + SLACK;
    let lower = interval * (rise - 1) + c1.master_down() - c2.advert - TICK;
    let t = wait_until_from(t1, upper + Duration::from_secs(3), || {
        lab.is_sole_master(Lb1, VIP4.into())
    })
    .unwrap_or_else(|| {
        panic!(
            "lb1 did not preempt back after the script recovered:\n{}",
            log_lines(&d1.proc, "chk")
        )
    });
    println!(
        "script recovered: lb1 sole master after {t:?} (bounds {lower:?}..={upper:?}, lb1 MDI {:?})",
        c1_80.master_down()
    );
    assert!(
        t >= lower,
        "preempt after {t:?} < {lower:?}: rise not counted"
    );
    assert!(t <= upper, "preempt after {t:?} > {upper:?}");
    assert!(lab.alive(&d1.proc), "lb1 daemon died");

    // The priority itself moved after exactly fall / rise runs: the tracker's log and,
    // for the fall, the first priority-80 advert on the wire. A run takes a fork and
    // exec of /bin/sh on top of the schedule, hence SLACK.
    stop_capture(&lab, &cap);
    let changes = log_times(&d1.proc.log, "tracking changed: script chk");
    let after = |w: f64| changes.iter().copied().find(|&t| t >= w).map(|t| t - w);
    let (fell, rose) = (after(wall0), after(wall1));
    let wire = pcap_adverts(&pcap, lab::VRID)
        .into_iter()
        .find(|&(t, p)| t >= wall0 && p == 80)
        .map(|(t, _)| t - wall0);
    println!(
        "priority change after the flag: fall logged {fell:?} s, on the wire {wire:?} s; rise logged {rose:?} s"
    );
    let within = |d: Option<f64>, runs: u32| {
        d.is_some_and(|d| {
            let d = Duration::from_secs_f64(d.max(0.0));
            d + TICK >= interval * (runs - 1) && d <= interval * runs + SLACK
        })
    };
    assert!(
        within(fell, fall),
        "fall logged after {fell:?} s, not within {fall} runs"
    );
    assert!(
        within(wire, fall),
        "priority 80 on the wire after {wire:?} s"
    );
    assert!(
        within(rose, rise),
        "rise logged after {rose:?} s, not within {rise} runs"
    );
}

/// Wall-clock seconds since the epoch, the clock of pcap and log timestamps.
fn epoch_secs() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Epoch seconds of an RFC 3339 UTC log timestamp such as `2026-11-26T01:58:28.884640Z`.
fn parse_log_time(ts: &str) -> Option<f64> {
    let (date, time) = ts.strip_suffix('Z')?.split_once('T')?;
    let mut d = date.split('-').map(|v| v.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let mut t = time.split(':');
    let (h, min) = (
        t.next()?.parse::<i64>().ok()?,
        t.next()?.parse::<i64>().ok()?,
    );
    let sec = t.next()?.parse::<f64>().ok()?;
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    Some((days * 86400 + h * 3600 + min * 60) as f64 + sec)
}

/// Epoch times of the daemon log lines containing `what`.
fn log_times(log: &Path, what: &str) -> Vec<f64> {
    read_log(log)
        .lines()
        .filter(|l| l.contains(what))
        .filter_map(|l| parse_log_time(l.split_whitespace().next()?))
        .collect()
}

/// A tcpdump in `host`'s namespace in immediate mode: the harness's capture leaves
/// packets in the kernel ring for up to its 1 s buffer timeout, too coarse for spacing.
fn capture_now(lab: &Lab, host: Host, filter: &str) -> (Proc, PathBuf) {
    let pcap = lab.path(&format!("{}-adverts", host.role()), "pcap");
    let p = pcap.display().to_string();
    let proc = lab.spawn_in(
        host,
        "tcpdump-adverts",
        &[
            "timeout",
            "60",
            "tcpdump",
            "-i",
            "eth0",
            "--immediate-mode",
            "-U",
            "-n",
            "-c",
            "1000",
            "-w",
            &p,
            filter,
        ],
    );
    let listening = wait_until(Duration::from_secs(5), || {
        read_log(&proc.log).contains("listening on")
    });
    assert!(
        listening.is_some(),
        "tcpdump did not start:\n{}",
        read_log(&proc.log)
    );
    (proc, pcap)
}

/// Stops a capture so that it flushes (SIGINT), falling back to SIGKILL.
fn stop_capture(lab: &Lab, proc: &Proc) {
    lab.signal(proc, libc::SIGINT);
    if lab.reap(proc, Duration::from_secs(3)).is_none() {
        lab.kill9(proc);
    }
}

/// The command lines of every descendant of `root` (from /proc), args joined by spaces.
fn descendant_cmdlines(root: u32) -> Vec<String> {
    let mut procs = Vec::new();
    for e in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // comm may hold spaces and parens: ppid is the second field after the last ')'.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|s| s.parse::<u32>().ok());
        let cmd = fs::read(format!("/proc/{pid}/cmdline"))
            .map(|b| {
                String::from_utf8_lossy(&b)
                    .replace('\0', " ")
                    .trim()
                    .to_string()
            })
            .unwrap_or_default();
        if let Some(ppid) = ppid {
            procs.push((pid, ppid, cmd));
        }
    }
    let mut out = Vec::new();
    let mut frontier = vec![root];
    while let Some(p) = frontier.pop() {
        for (pid, ppid, cmd) in &procs {
            if *ppid == p && !out.iter().any(|(q, _)| q == pid) {
                out.push((*pid, cmd.clone()));
                frontier.push(*pid);
            }
        }
    }
    out.into_iter().map(|(_, c)| c).collect()
}

/// (receive time in seconds, advertised priority) of each advert for `vrid` in a pcap.
fn pcap_adverts(pcap: &Path, vrid: u8) -> Vec<(f64, u8)> {
    let want = format!("vrid {vrid}");
    let p = pcap.display().to_string();
    let text = lab::run(&["tcpdump", "-r", &p, "-tt", "-nn", "-v"]).unwrap_or_default();
    let mut out = Vec::new();
    let mut at = None;
    for l in text.lines() {
        if !l.starts_with(' ') {
            at = l
                .split_whitespace()
                .next()
                .and_then(|t| t.parse::<f64>().ok());
        }
        let fields: Vec<&str> = l.split(", ").collect();
        let prio = fields
            .iter()
            .find_map(|f| f.strip_prefix("prio "))
            .and_then(|v| v.parse::<u8>().ok())
            .filter(|_| fields.contains(&want.as_str()));
        if let (Some(t), Some(p)) = (at, prio) {
            out.push((t, p));
            at = None;
        }
    }
    out
}

/// Test 2: with a tracked script that always hangs (killed at its 1 s timeout) and
/// `on-master` / `on-backup` execs that hang for 5 s, lb1's adverts on the wire keep
/// their 100 ms spacing.
#[test]
fn o2_hung_script_and_hung_exec_keep_advert_timing() {
    let Some(lab) = setup("o2") else {
        return;
    };
    // weight -5: lb1 drops to 95 when the script times out, still above lb2's 90, so
    // the capture measures a master that keeps running hung work the whole time.
    let script = "script \"hang\" {\n    exec \"/bin/sh\" \"-c\" \"sleep 30\"\n    \
                  interval \"1s\"\n    timeout \"1s\"\n    fall 1\n    rise 1\n    weight -5\n}\n";
    let hooks = "    track-script \"hang\"\n    \
                 on-master {\n        exec \"/bin/sleep\" \"5\"\n    }\n    \
                 on-backup {\n        exec \"/bin/sleep\" \"5\"\n    }";
    let c1 = Vrrp::v3(Lb1);
    let k1 = kdl(&c1, hooks, script);
    let k2 = Vrrp::v3(Lb2).to_kdl();
    let (cap, pcap) = capture_now(&lab, Lb2, "ip proto 112 and src host 192.0.2.201");
    let (d1, _d2) = converge(&lab, &k1, &k2, VIP4.into());
    // By now the on-backup and on-master sleeps and a hung script run are in flight.
    let hung = descendant_cmdlines(d1.proc.pid);
    assert!(
        hung.iter().any(|c| c == "/bin/sleep 5") && hung.iter().any(|c| c.contains("sleep 30")),
        "hung exec and hung script not both running under lb1: {hung:?}"
    );
    let window = Duration::from_secs(3);
    if let Err(t) = holds_for(window, || lab.alive(&d1.proc) && lab.has_addr(Lb1, VIP4)) {
        panic!("lb1 lost the VIP or died {t:?} into the capture");
    }
    stop_capture(&lab, &cap);
    let timeouts = lab::grep_log(&d1.proc.log, &["timed out"]).len();
    let adverts = pcap_adverts(&pcap, lab::VRID);
    assert!(
        adverts.len() >= 30,
        "only {} adverts from lb1 captured: {adverts:?}",
        adverts.len()
    );
    // A priority change is advertised at once (the hung script's timeout takes lb1 to
    // 95): that early advert restarts the interval and is no timing fault.
    let mut gaps = Vec::new();
    let mut early = Vec::new();
    for w in adverts.windows(2) {
        let gap = (w[1].0 - w[0].0) * 1000.0;
        if w[1].1 != w[0].1 {
            early.push(format!("{gap:.1} ms before the prio {} advert", w[1].1));
        } else {
            gaps.push(gap);
        }
    }
    let min = gaps.iter().copied().fold(f64::INFINITY, f64::min);
    let max = gaps.iter().copied().fold(0.0, f64::max);
    let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
    println!(
        "advert spacing over {} gaps ({:.1} s): min {min:.1} ms, max {max:.1} ms, mean {mean:.1} ms; \
         priority-change adverts: {early:?}; script timeouts logged: {timeouts}",
        gaps.len(),
        adverts.last().map_or(0.0, |l| l.0) - adverts[0].0
    );
    assert!(
        timeouts >= 2,
        "the script timed out {timeouts} times: the test did not exercise hung work"
    );
    assert!(
        early.len() <= 1,
        "priority changed more than once: {early:?}"
    );
    let bad: Vec<String> = gaps
        .iter()
        .enumerate()
        .filter(|(_, g)| !(70.0..=130.0).contains(*g))
        .map(|(i, g)| format!("gap {i}: {g:.1} ms"))
        .collect();
    assert!(max <= 150.0, "advert gap of {max:.1} ms: {bad:?}");
    assert!(
        bad.is_empty(),
        "advert gaps outside 100 ms ± 30 ms: {bad:?}"
    );
    assert!(
        (90.0..=110.0).contains(&mean),
        "mean advert gap {mean:.1} ms"
    );
}

/// Starts `ip monitor address` in `host`'s namespace (bounded by `timeout 60`) and
/// waits until it provably listens, by adding and seeing a marker address on `lo`.
fn monitor_addresses(lab: &Lab, host: Host) -> Proc {
    let mon = lab.spawn_in(
        host,
        "ipmon",
        &["timeout", "60", "ip", "-ts", "monitor", "address"],
    );
    let ns = lab.ns(host);
    let marker = "192.0.2.99";
    let listening = wait_until(Duration::from_secs(5), || {
        let _ = lab::run(&["ip", "-n", &ns, "addr", "del", "192.0.2.99/32", "dev", "lo"]);
        let _ = lab::run(&["ip", "-n", &ns, "addr", "add", "192.0.2.99/32", "dev", "lo"]);
        wait_until(Duration::from_millis(200), || {
            read_log(&mon.log).contains(marker)
        })
        .is_some()
    });
    assert!(
        listening.is_some(),
        "ip monitor did not report the marker:\n{}",
        read_log(&mon.log)
    );
    mon
}

/// Lines of an `ip monitor address` log that delete `ip`.
fn deletions(log: &str, ip: Ipv4Addr) -> Vec<String> {
    let needle = format!("inet {ip}/");
    log.lines()
        .filter(|l| l.contains("Deleted") && l.contains(&needle))
        .map(str::to_string)
        .collect()
}

/// Test 3a: SIGHUP with lb1's VI_1 priority lowered to 80 moves VIP .200 to lb2, while
/// the unchanged VI_2 keeps VIP .210 on lb1 without a single removal in rtnetlink.
#[test]
fn o3a_reload_priority_change_fails_over_without_flap() {
    let Some(lab) = setup("o3a") else {
        return;
    };
    let c1 = Vrrp::v3(Lb1);
    let c2 = Vrrp::v3(Lb2);
    let k1 = format!("{}{}", c1.to_kdl(), vi2(Lb1));
    let k2 = format!("{}{}", c2.to_kdl(), vi2(Lb2));
    let (cap, pcap) = capture_now(&lab, Lb2, "ip proto 112 and src host 192.0.2.201");
    let (d1, d2) = converge(&lab, &k1, &k2, VIP4.into());
    wait_until(Duration::from_secs(2), || {
        lab.is_sole_master(Lb1, VIP2.into())
    })
    .expect("lb1 sole master of VI_2");
    let mon = monitor_addresses(&lab, Lb1);

    let lowered = Vrrp {
        priority: 80,
        ..c1.clone()
    };
    fs::write(&d1.config, format!("{}{}", lowered.to_kdl(), vi2(Lb1))).expect("rewrite");
    let t0 = Instant::now();
    let wall0 = epoch_secs();
    lab.signal(&d1.proc, libc::SIGHUP);
    let upper = c2.master_down() + c2.advert + SLACK;
    let t = wait_until_from(t0, upper + Duration::from_secs(3), || {
        lab.is_sole_master(Lb2, VIP4.into())
    })
    .unwrap_or_else(|| panic!("VIP .200 did not move to lb2 after the reload"));
    println!(
        "reload to priority 80: lb2 sole master of VI_1 after {t:?} (bounds {:?}..={upper:?})",
        c2.master_down() - c2.advert - TICK
    );
    assert!(t <= upper, "failover after {t:?} > {upper:?}");
    // lb2 heard priority 100 at most one advert interval before the reload.
    let lower = c2.master_down() - c2.advert - TICK;
    assert!(t >= lower, "failover after {t:?} < {lower:?}");
    // Let VI_2 run on for a few of lb2's Master_Down_Intervals: a reset VI_2 would show
    // up as a deletion here or as lb2 taking .210.
    if let Err(t) = holds_for(c2.master_down() * 3, || {
        lab.is_sole_master(Lb1, VIP2.into())
    }) {
        panic!("lb1 lost sole mastership of unchanged VI_2 {t:?} after the reload");
    }
    lab.kill9(&mon);
    let log = read_log(&mon.log);
    let gone = deletions(&log, VIP2);
    assert!(
        gone.is_empty(),
        "VIP {VIP2} of unchanged VI_2 was removed during the reload:\n{log}"
    );
    assert!(
        !deletions(&log, VIP4).is_empty(),
        "no removal of {VIP4} from lb1 seen by ip monitor:\n{log}"
    );
    assert!(lab.alive(&d1.proc) && lab.alive(&d2.proc), "a daemon died");
    let reload_lines = log_lines(&d1.proc, "reload");
    println!("lb1 reload log:\n{reload_lines}");

    // VI_1 advertised its new priority at once; VI_2 kept its rhythm across the reload.
    stop_capture(&lab, &cap);
    let vi1 = pcap_adverts(&pcap, lab::VRID);
    let first80 = vi1
        .iter()
        .find(|&&(t, p)| t >= wall0 && p == 80)
        .map(|&(t, _)| (t - wall0) * 1000.0);
    let vi2_times: Vec<f64> = pcap_adverts(&pcap, 52)
        .into_iter()
        .map(|(t, _)| t)
        .filter(|&t| t >= wall0 - 1.0)
        .collect();
    let gaps: Vec<f64> = vi2_times
        .windows(2)
        .map(|w| (w[1] - w[0]) * 1000.0)
        .collect();
    let max = gaps.iter().copied().fold(0.0, f64::max);
    let min = gaps.iter().copied().fold(f64::INFINITY, f64::min);
    println!(
        "reload: VI_1 priority 80 on the wire {first80:?} ms after SIGHUP; VI_2 advert gaps around it: \
         {} gaps, min {min:.1} ms, max {max:.1} ms",
        gaps.len()
    );
    assert!(
        first80.is_some_and(|ms| ms <= (c1.advert + SLACK).as_secs_f64() * 1000.0),
        "new priority not advertised at once: {first80:?} ms"
    );
    assert!(
        gaps.len() >= 15,
        "too few VI_2 adverts captured: {vi2_times:?}"
    );
    assert!(
        (70.0..=130.0).contains(&min) && max <= 130.0,
        "VI_2 advert spacing disturbed by the reload: min {min:.1} ms, max {max:.1} ms"
    );
}

/// Test 3b: an invalid config on SIGHUP is reported and the old one keeps running
/// (lb1 stays master, its process alive); a valid one afterwards still applies.
#[test]
fn o3b_invalid_reload_keeps_running_config() {
    let Some(lab) = setup("o3b") else {
        return;
    };
    let c1 = Vrrp::v3(Lb1);
    let c2 = Vrrp::v3(Lb2);
    let (d1, _d2) = converge(&lab, &c1.to_kdl(), &c2.to_kdl(), VIP4.into());
    // Lower priority (which would fail over if applied) plus an unknown node.
    let lowered = Vrrp {
        priority: 80,
        ..c1.clone()
    };
    let bad = kdl(&lowered, "    priorty 70", "");
    fs::write(&d1.config, bad).expect("write invalid config");
    lab.signal(&d1.proc, libc::SIGHUP);
    let seen = wait_until(Duration::from_secs(3), || {
        read_log(&d1.proc.log).contains("invalid")
    });
    assert!(
        seen.is_some(),
        "no diagnostic logged for the invalid config:\n{}",
        read_log(&d1.proc.log)
    );
    let diag = log_lines(&d1.proc, "priorty");
    println!("diagnostic lines naming the bad node:\n{diag}");
    assert!(
        !diag.is_empty(),
        "the diagnostic does not point at `priorty`:\n{}",
        read_log(&d1.proc.log)
    );
    if let Err(t) = holds_for(c2.master_down() * 3, || {
        lab.alive(&d1.proc) && lab.is_sole_master(Lb1, VIP4.into())
    }) {
        panic!("lb1 died or lost mastership {t:?} after an invalid reload");
    }
    // The daemon still reloads: the same change, now valid, fails over.
    fs::write(&d1.config, lowered.to_kdl()).expect("write valid config");
    let t0 = Instant::now();
    lab.signal(&d1.proc, libc::SIGHUP);
    let upper = c2.master_down() + c2.advert + SLACK;
    let t = wait_until_from(t0, upper + Duration::from_secs(3), || {
        lab.is_sole_master(Lb2, VIP4.into())
    })
    .unwrap_or_else(|| panic!("valid reload after an invalid one did not apply"));
    println!("valid reload after the invalid one: lb2 sole master after {t:?}");
}

/// The lines the hooks of test 4 wrote, waiting until `n` are there.
fn hook_lines(out: &Path, n: usize, limit: Duration) -> Vec<String> {
    let lines = || -> Vec<String> { read_log(out).lines().map(str::to_string).collect() };
    let _ = wait_until(limit, || lines().len() >= n);
    lines()
}

/// Test 4: the `notify` script gets keepalived's generic-notify argv and the VRRP_*
/// environment, runs before the `on-*` exec list, and transitions arrive in order:
/// BACKUP at start, MASTER, STOP on SIGTERM on lb1; BACKUP then MASTER on lb2.
#[test]
fn o4_notify_and_exec_hooks_fire_in_order() {
    let Some(lab) = setup("o4") else {
        return;
    };
    let dir = script_dir(&lab);
    let out1 = lab.dir.join("hooks-lb1.out.log");
    let out2 = lab.dir.join("hooks-lb2.out.log");
    let notify = write_script(
        &dir,
        "notify.sh",
        "out=\"$1\"; shift\n\
         echo \"NOTIFY $* | $VRRP_INSTANCE $VRRP_STATE $VRRP_PREV_STATE $VRRP_PRIORITY $VRRP_VRID $VRRP_VIPS | $VRRP_REASON\" >> \"$out\"",
    );
    // keepalived calls notify with exactly its four arguments: a wrapper per host puts
    // the output file in front.
    let wrap = |host: Host, out: &Path| {
        write_script(
            &dir,
            &format!("notify-{}.sh", host.role()),
            &format!("exec {} {} \"$@\"", notify.display(), out.display()),
        )
    };
    let (n1, n2) = (wrap(Lb1, &out1), wrap(Lb2, &out2));
    let hooks = |n: &Path, out: &Path| {
        let o = out.display();
        let ex = |tag: &str| {
            format!(
                "exec \"/bin/sh\" \"-c\" \"echo EXEC {tag} $VRRP_STATE $VRRP_PREV_STATE \
                 vip=$(ip -o addr show to {VIP4}/32 | wc -l) >> {o}\""
            )
        };
        format!(
            "    notify \"{}\"\n    on-master {{\n        {}\n        {}\n    }}\n    \
             on-backup {{\n        {}\n    }}\n    on-stop {{\n        {}\n    }}",
            n.display(),
            ex("master-1"),
            ex("master-2"),
            ex("backup"),
            ex("stop")
        )
    };
    let c1 = Vrrp::v3(Lb1);
    let c2 = Vrrp::v3(Lb2);
    let k1 = kdl(&c1, &hooks(&n1, &out1), "");
    let k2 = kdl(&c2, &hooks(&n2, &out2), "");
    let (d1, _d2) = converge(&lab, &k1, &k2, VIP4.into());
    let l1 = hook_lines(&out1, 5, Duration::from_secs(3));
    let l2 = hook_lines(&out2, 2, Duration::from_secs(3));
    println!("lb1 hooks after start:\n{}", l1.join("\n"));
    println!("lb2 hooks after start:\n{}", l2.join("\n"));

    // Stopping lb1: its STOP hooks, then lb2's MASTER hooks.
    let st = lab
        .term(&d1.proc, Duration::from_secs(5))
        .expect("lb1 exits on SIGTERM");
    assert!(st.success(), "lb1 exit status {st}");
    wait_until(Duration::from_secs(2), || {
        lab.is_sole_master(Lb2, VIP4.into())
    })
    .expect("lb2 master after lb1 stopped");
    let l1 = hook_lines(&out1, 7, Duration::from_secs(3));
    let l2 = hook_lines(&out2, 5, Duration::from_secs(3));
    println!("lb1 hooks:\n{}", l1.join("\n"));
    println!("lb2 hooks:\n{}", l2.join("\n"));

    // Argv and state part only: the reason text is free-form.
    let head = |l: &String| l.split(" | ").take(2).collect::<Vec<_>>().join(" | ");
    let want1 = [
        "NOTIFY INSTANCE VI_1 BACKUP 100 | VI_1 BACKUP INIT 100 51 192.0.2.200/24",
        "EXEC backup BACKUP INIT vip=0",
        "NOTIFY INSTANCE VI_1 MASTER 100 | VI_1 MASTER BACKUP 100 51 192.0.2.200/24",
        "EXEC master-1 MASTER BACKUP vip=1",
        "EXEC master-2 MASTER BACKUP vip=1",
        "NOTIFY INSTANCE VI_1 STOP 100 | VI_1 STOP MASTER 100 51 192.0.2.200/24",
        "EXEC stop STOP MASTER vip=0",
    ];
    let want2 = [
        "NOTIFY INSTANCE VI_1 BACKUP 90 | VI_1 BACKUP INIT 90 51 192.0.2.200/24",
        "EXEC backup BACKUP INIT vip=0",
        "NOTIFY INSTANCE VI_1 MASTER 90 | VI_1 MASTER BACKUP 90 51 192.0.2.200/24",
        "EXEC master-1 MASTER BACKUP vip=1",
        "EXEC master-2 MASTER BACKUP vip=1",
    ];
    let got1: Vec<String> = l1.iter().map(head).collect();
    let got2: Vec<String> = l2.iter().map(head).collect();
    assert_eq!(got1, want1, "lb1 hook sequence");
    assert_eq!(got2, want2, "lb2 hook sequence");
    for l in l1.iter().chain(&l2).filter(|l| l.starts_with("NOTIFY")) {
        let reason = l.split(" | ").nth(2).unwrap_or("");
        assert!(!reason.trim().is_empty(), "empty VRRP_REASON in {l:?}");
    }
}

/// One sd_notify datagram and when it arrived.
struct Note {
    at: Instant,
    text: String,
}

/// Receives datagrams until `done` holds for what arrived so far or `limit` passes.
fn collect_notes(
    sock: &UnixDatagram,
    notes: &mut Vec<Note>,
    limit: Duration,
    mut done: impl FnMut(&[Note]) -> bool,
) -> bool {
    let start = Instant::now();
    let mut buf = [0u8; 4096];
    loop {
        if done(notes) {
            return true;
        }
        let left = limit.saturating_sub(start.elapsed());
        if left.is_zero() {
            return false;
        }
        let _ = sock.set_read_timeout(Some(left.min(Duration::from_millis(100))));
        if let Ok(n) = sock.recv(&mut buf) {
            notes.push(Note {
                at: Instant::now(),
                text: String::from_utf8_lossy(&buf[..n]).into_owned(),
            });
        }
    }
}

fn has_line(n: &Note, line: &str) -> bool {
    n.text.lines().any(|l| l == line)
}

/// True when the namespace holds a raw IPPROTO_VRRP (112) socket (/proc/net/raw lists
/// the protocol as the local "port": 0070).
fn has_vrrp_socket(lab: &Lab, host: Host) -> bool {
    ["/proc/net/raw", "/proc/net/raw6"].iter().any(|f| {
        lab.exec_in(host, &["cat", f])
            .unwrap_or_default()
            .lines()
            .skip(1)
            .filter_map(|l| l.split_whitespace().nth(1))
            .any(|local| local.ends_with(":0070"))
    })
}

fn monotonic_usec() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000 + ts.tv_nsec as u64 / 1000
}

/// Test 5: sd_notify over a socket the test binds: READY=1 (with STATUS naming VI_1)
/// once the VRRP socket is open, WATCHDOG=1 every WATCHDOG_USEC/2, and on SIGHUP
/// RELOADING=1 with MONOTONIC_USEC, then READY=1.
#[test]
fn o5_sd_notify_ready_status_watchdog_reload() {
    let Some(lab) = setup("o5") else {
        return;
    };
    let path = lab.dir.join("notify.sock");
    let sock = UnixDatagram::bind(&path).expect("bind notify socket");
    let p = path.display().to_string();
    let c1 = Vrrp::v3(Lb1);
    let t0 = Instant::now();
    let d1 = start(
        &lab,
        Lb1,
        &c1.to_kdl(),
        &[("NOTIFY_SOCKET", &p), ("WATCHDOG_USEC", "2000000")],
    );
    let mut notes = Vec::new();
    let ready = collect_notes(&sock, &mut notes, Duration::from_secs(5), |n| {
        n.iter().any(|n| has_line(n, "READY=1"))
    });
    assert!(ready, "no READY=1 within 5 s of start");
    let socket_open = has_vrrp_socket(&lab, Lb1);
    let r = notes
        .iter()
        .find(|n| has_line(n, "READY=1"))
        .expect("READY note");
    println!(
        "READY after {:?}: {:?}",
        r.at.duration_since(t0),
        r.text.trim()
    );
    assert!(
        socket_open,
        "READY=1 sent but no VRRP raw socket open in lb1"
    );
    assert!(
        r.text
            .lines()
            .any(|l| l.starts_with("STATUS=") && l.contains("VI_1")),
        "READY without a STATUS naming VI_1: {:?}",
        r.text
    );
    assert!(
        read_log(&d1.proc.log).contains("vrrp-ha running"),
        "READY before the daemon logged that it runs"
    );

    // Mastership shows in STATUS; the watchdog keeps ticking every second meanwhile.
    let got = collect_notes(&sock, &mut notes, Duration::from_secs(5), |n| {
        let master = n
            .iter()
            .any(|n| n.text.contains("STATUS=") && n.text.contains("VI_1 MASTER prio 100"));
        master && n.iter().filter(|n| has_line(n, "WATCHDOG=1")).count() >= 4
    });
    let dogs: Vec<Instant> = notes
        .iter()
        .filter(|n| has_line(n, "WATCHDOG=1"))
        .map(|n| n.at)
        .collect();
    assert!(
        got,
        "no STATUS with VI_1 MASTER or fewer than 4 watchdogs: {:?}",
        notes.iter().map(|n| n.text.trim()).collect::<Vec<_>>()
    );
    let gaps: Vec<Duration> = dogs.windows(2).map(|w| w[1] - w[0]).collect();
    println!("watchdog gaps: {gaps:?}");
    for g in &gaps {
        assert!(
            *g >= Duration::from_millis(900) && *g <= Duration::from_millis(1100) + SLACK,
            "watchdog gap {g:?} not about 1 s: {gaps:?}"
        );
    }

    // Reload: RELOADING=1 with a current MONOTONIC_USEC, then READY=1.
    notes.clear();
    let before = monotonic_usec();
    lab.signal(&d1.proc, libc::SIGHUP);
    let done = collect_notes(&sock, &mut notes, Duration::from_secs(5), |n| {
        n.iter()
            .position(|n| has_line(n, "RELOADING=1"))
            .is_some_and(|i| n[i + 1..].iter().any(|n| has_line(n, "READY=1")))
    });
    let after = monotonic_usec();
    let texts: Vec<&str> = notes.iter().map(|n| n.text.trim()).collect();
    assert!(done, "no RELOADING=1 then READY=1 after SIGHUP: {texts:?}");
    let reloading = notes
        .iter()
        .find(|n| has_line(n, "RELOADING=1"))
        .expect("RELOADING note");
    let usec: u64 = reloading
        .text
        .lines()
        .find_map(|l| l.strip_prefix("MONOTONIC_USEC="))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no MONOTONIC_USEC with RELOADING=1: {texts:?}"));
    assert!(
        before <= usec && usec <= after,
        "MONOTONIC_USEC {usec} outside the reload window {before}..={after}"
    );
    println!("reload notes: {texts:?}");
    assert!(
        lab.has_addr(Lb1, VIP4),
        "lb1 lost its VIP over a reload of an unchanged config"
    );

    // SIGTERM: STOPPING=1.
    notes.clear();
    lab.signal(&d1.proc, libc::SIGTERM);
    let stopping = collect_notes(&sock, &mut notes, Duration::from_secs(5), |n| {
        n.iter().any(|n| has_line(n, "STOPPING=1"))
    });
    assert!(stopping, "no STOPPING=1 after SIGTERM");
    let st = lab
        .reap(&d1.proc, Duration::from_secs(5))
        .expect("lb1 exits");
    assert!(st.success(), "exit status {st}");
}

/// Test 6: the stale-list rule under a burst of transitions. lb1's `on-master` list
/// starts with a 4 s action; while it runs, a track-file flips lb1 MASTER -> BACKUP ->
/// MASTER -> BACKUP. The running action finishes, the rest of the stale MASTER list and
/// the superseded lists are skipped, and only the newest (BACKUP) list runs after it.
#[test]
fn o6_stale_action_lists_skipped_under_a_burst() {
    let Some(lab) = setup("o6") else {
        return;
    };
    let out = lab.dir.join("stale.out.log");
    let file = lab.dir.join("lb1.prio");
    fs::write(&file, "0\n").expect("write track file");
    let o = out.display();
    let hooks = format!(
        "    track-file \"{}\" weight=-20\n    \
         on-master {{\n        \
         exec \"/bin/sh\" \"-c\" \"echo m1-start >> {o}; sleep 4; echo m1-end >> {o}\"\n        \
         exec \"/bin/sh\" \"-c\" \"echo m2 >> {o}\"\n    }}\n    \
         on-backup {{\n        exec \"/bin/sh\" \"-c\" \"echo backup >> {o}\"\n    }}",
        file.display()
    );
    let c1 = Vrrp::v3(Lb1);
    let k1 = kdl(&c1, &hooks, "");
    let (d1, _d2) = converge(&lab, &k1, &Vrrp::v3(Lb2).to_kdl(), VIP4.into());
    let lines = || -> Vec<String> { read_log(&out).lines().map(str::to_string).collect() };
    assert_eq!(lines(), ["backup", "m1-start"], "hooks before the burst");
    let burst = Instant::now();
    let limit = Duration::from_secs(3);
    for (value, master) in [("1\n", Lb2), ("0\n", Lb1), ("1\n", Lb2)] {
        fs::write(&file, value).expect("write track file");
        wait_until(limit, || lab.is_sole_master(master, VIP4.into())).unwrap_or_else(|| {
            panic!(
                "{} not master after track file {value:?}:\n{}",
                master.role(),
                log_lines(&d1.proc, "->")
            )
        });
    }
    let took = burst.elapsed();
    println!("burst MASTER->BACKUP->MASTER->BACKUP took {took:?}");
    // The burst must end while m1 still sleeps, or nothing was stale.
    assert!(
        !lines().iter().any(|l| l == "m1-end"),
        "m1 ended before the burst did ({took:?}): lines {:?}",
        lines()
    );
    wait_until(Duration::from_secs(8), || lines().len() >= 4)
        .unwrap_or_else(|| panic!("the newest list never ran: {:?}", lines()));
    // Nothing else may follow (a late stale list would show up here).
    let settled = lines();
    if let Err(t) = holds_for(Duration::from_secs(1), || lines() == settled) {
        panic!(
            "more hook output {t:?} after the newest list: {:?}",
            lines()
        );
    }
    println!(
        "hook lines: {settled:?}\nlb1 transitions:\n{}",
        log_lines(&d1.proc, "->")
    );
    assert_eq!(settled, ["backup", "m1-start", "m1-end", "backup"]);
}

/// Test 7: script security as root. A tracked script in a directory anyone may write
/// is refused by `vrrp-ha check` and at start (the daemon exits non-zero, holds no VIP,
/// names the directory); the same script in a root-owned 0755 directory runs.
#[test]
fn o7_insecure_script_refused_secure_one_runs() {
    let Some(lab) = setup("o7") else {
        return;
    };
    let open_dir = lab.dir.join("open");
    fs::create_dir_all(&open_dir).expect("open dir");
    fs::set_permissions(&open_dir, fs::Permissions::from_mode(0o777)).expect("chmod 777");
    let bad = write_script(&open_dir, "chk.sh", "exit 0");
    let good = write_script(&script_dir(&lab), "chk.sh", "exit 0");
    let with_script = |path: &Path| {
        let script = format!(
            "script \"chk\" {{\n    exec \"{}\"\n    interval \"200ms\"\n    weight -20\n}}\n",
            path.display()
        );
        kdl(&Vrrp::v3(Lb1), "    track-script \"chk\"", &script)
    };

    let d = start(&lab, Lb1, &with_script(&bad), &[]);
    let st = lab
        .reap(&d.proc, Duration::from_secs(5))
        .unwrap_or_else(|| panic!("daemon kept running with an insecure script"));
    let log = read_log(&d.proc.log);
    println!("start: {st}\n{log}");
    assert!(!st.success(), "daemon exited {st} with an insecure script");
    assert!(
        log.contains(&open_dir.display().to_string()),
        "the start-up error does not name the writable directory:\n{log}"
    );
    assert!(!lab.has_addr(Lb1, VIP4), "refused daemon left a VIP");

    let d = start(&lab, Lb1, &with_script(&good), &[]);
    let limit = Vrrp::v3(Lb1).master_down() + Duration::from_secs(3);
    wait_until(limit, || lab.has_addr(Lb1, VIP4))
        .unwrap_or_else(|| panic!("daemon with a secure script did not become master"));
    wait_until(Duration::from_secs(2), || {
        read_log(&d.proc.log).contains("script run succeeded")
    })
    .unwrap_or_else(|| panic!("the secure script never ran:\n{}", read_log(&d.proc.log)));

    // Last, so that a failure here leaves the start-up checks above proven.
    let conf = lab.path("lb1-insecure", "kdl");
    fs::write(&conf, with_script(&bad)).expect("write config");
    let c = conf.display().to_string();
    let check = std::process::Command::new(env!("CARGO_BIN_EXE_vrrp-ha"))
        .args(["check", "--config", &c])
        .env("NO_COLOR", "1")
        .output()
        .expect("run vrrp-ha check");
    let said = String::from_utf8_lossy(&check.stderr).into_owned()
        + &String::from_utf8_lossy(&check.stdout);
    println!("check: {}\n{said}", check.status);
    assert!(!check.status.success(), "check accepted an insecure script");
    assert!(
        said.contains(&open_dir.display().to_string()),
        "check does not name the writable directory:\n{said}"
    );
}
