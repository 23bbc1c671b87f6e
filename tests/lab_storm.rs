//! A SIGHUP storm (issue 11): 100 SIGHUPs in 10 s to each node of a running pair while
//! its config file is swapped between valid variants (comments, a changed `garp-repeat`,
//! a second instance added and removed) and invalid ones (a syntax error, an out-of-range
//! value, an empty file, bytes that are not UTF-8, a missing file, nesting past the
//! limit, a script in a directory anyone may write). Single SIGHUPs with files that
//! break the daemon today follow: a diagnostic past column 65 535 of a line (s2), big
//! files that block the event loop while they are read (s3), an instance moved to an
//! interface that does not exist (s4).
//!
//! No flap: lb1 stays MASTER of VI_1 and lb2 BACKUP throughout, neither logs a VI_1
//! transition, and the wire shows lb1 advertising priority 100 on time and lb2 silent.
//! RSS flat: VmRSS before, halfway and after. Namespaces are `vhho..`; needs root,
//! iproute2, tcpdump and nftables (see tests/lab/mod.rs); skips with a reason, or fails
//! under `CI`, without them.

mod hostile;
mod lab;
mod prereq;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use lab::{wait_until, Host, Lab, Proc, Vrrp, VIP4};

use Host::{Lb1, Lb2};

/// SIGHUPs per node.
const SIGHUPS: u32 = 100;
/// The storm's length.
const STORM: Duration = Duration::from_secs(10);

/// The VIP of the instance some valid variants add.
const VIP2: &str = "192.0.2.210";

/// One version of a node's config file.
enum Variant {
    /// A valid config with this text.
    Valid(&'static str, String),
    /// An invalid file with these bytes.
    Invalid(&'static str, Vec<u8>),
    /// No file at all.
    Missing,
}

/// The variants of `host`'s file, valid ones first.
fn variants(host: Host, open_dir: &Path) -> (Vec<Variant>, Vec<Variant>) {
    let base = Vrrp {
        garp_repeat: 1,
        ..Vrrp::v3(host)
    }
    .to_kdl();
    let commented = format!(
        "// storm variant\n\n{}\n// end\n",
        base.replace('\n', "\n\n")
    );
    let garp = base.replace("garp-repeat 1", "garp-repeat 2");
    let vi2 = Vrrp {
        vrid: 52,
        vips: vec![format!("{VIP2}/24")],
        garp_repeat: 1,
        ..Vrrp::v3(host)
    }
    .to_kdl()
    .lines()
    .filter(|l| !l.starts_with("router-id"))
    .map(|l| l.replace("instance \"VI_1\"", "instance \"VI_2\""))
    .collect::<Vec<_>>()
    .join("\n");
    let two = format!("{base}{vi2}\n");
    let valid = vec![
        Variant::Valid("the running config", base.clone()),
        Variant::Valid("with comments and blank lines", commented),
        Variant::Valid("garp-repeat changed", garp),
        Variant::Valid("a second instance added", two),
    ];
    let bad_script = format!(
        "{}script \"chk\" {{\n    exec \"{}/chk.sh\"\n    interval \"1s\"\n}}\n",
        base.replace(
            "    garp-repeat 1\n",
            "    garp-repeat 1\n    track-script \"chk\"\n"
        ),
        open_dir.display()
    );
    let invalid = vec![
        Variant::Invalid(
            "syntax error",
            base.trim_end().trim_end_matches('}').as_bytes().to_vec(),
        ),
        Variant::Invalid(
            "priority 300",
            base.replace("priority 100", "priority 300")
                .replace("priority 90", "priority 300")
                .into_bytes(),
        ),
        Variant::Invalid("empty", Vec::new()),
        Variant::Invalid("not UTF-8", vec![0xff, 0xfe, b'{', 0x80, 0x00, 0xc3]),
        Variant::Missing,
        Variant::Invalid("nested 100 deep", {
            let mut s = base.clone();
            s.push_str(&"x {".repeat(100));
            s.push_str(&"}".repeat(100));
            s.into_bytes()
        }),
        Variant::Invalid(
            "script in a world-writable directory",
            bad_script.into_bytes(),
        ),
    ];
    (valid, invalid)
}

impl Variant {
    fn name(&self) -> &'static str {
        match self {
            Variant::Valid(n, _) | Variant::Invalid(n, _) => n,
            Variant::Missing => "missing file",
        }
    }

    /// Puts the variant in place: by rename (as editors and config management do) or
    /// by rewriting the file in place.
    fn install(&self, path: &Path, by_rename: bool) {
        let bytes: &[u8] = match self {
            Variant::Valid(_, t) => t.as_bytes(),
            Variant::Invalid(_, b) => b,
            Variant::Missing => {
                let _ = fs::remove_file(path);
                return;
            }
        };
        if by_rename {
            let tmp = path.with_extension("tmp");
            fs::write(&tmp, bytes).expect("write temp config");
            fs::rename(&tmp, path).expect("rename config");
        } else {
            fs::write(path, bytes).expect("write config");
        }
    }
}

/// RSS of a daemon in KiB.
fn rss(p: &Proc) -> u64 {
    hostile::rss_kib(p.pid).unwrap_or(0)
}

/// 100 SIGHUPs in 10 s to each node with valid and invalid files mixed in.
#[test]
fn s1_sighup_storm_with_invalid_files_no_flap_rss_flat() {
    if !lab::require_lab("s1", false) {
        return;
    }
    let lab = Lab::with_prefix("s1", "vhho");
    let t_test = Instant::now();
    let open_dir = lab.dir.join("open");
    fs::create_dir_all(&open_dir).expect("open dir");
    fs::set_permissions(&open_dir, fs::Permissions::from_mode(0o777)).expect("chmod 777");
    fs::write(open_dir.join("chk.sh"), "#!/bin/sh\nexit 0\n").expect("script");
    fs::set_permissions(open_dir.join("chk.sh"), fs::Permissions::from_mode(0o755)).expect("chmod");

    let mut files: Vec<PathBuf> = Vec::new();
    let mut procs: Vec<Proc> = Vec::new();
    let mut sets = Vec::new();
    for h in [Lb1, Lb2] {
        let (valid, invalid) = variants(h, &open_dir);
        let path = lab.path(&format!("{}-storm", h.role()), "kdl");
        valid[0].install(&path, false);
        files.push(path);
        sets.push((valid, invalid));
    }
    procs.push(lab.run_vrrp_ha(Lb1, &files[0], &[]));
    wait_until(Duration::from_secs(5), || lab.has_addr(Lb1, VIP4))
        .unwrap_or_else(|| panic!("lb1 not master:\n{}", lab::read_log(&procs[0].log)));
    procs.push(lab.run_vrrp_ha(Lb2, &files[1], &[]));
    let c2 = Vrrp::v3(Lb2);
    if let Err(t) = lab::holds_for(c2.master_down() + c2.advert, || {
        lab.is_sole_master(Lb1, VIP4.into())
    }) {
        panic!("lb1 stopped being the sole master {t:?} after lb2 started");
    }
    let wire = hostile::capture(
        &lab,
        Lb2,
        &format!(
            "(ip proto 112) and (ether src {} or ether src {})",
            lab.mac(Lb1),
            lab.mac(Lb2)
        ),
        5_000,
        60,
    );
    let skip: Vec<usize> = procs
        .iter()
        .map(|p| hostile::transitions(&p.log).len())
        .collect();
    let rss0: Vec<u64> = procs.iter().map(rss).collect();

    // lb1 at 0, 100, 200 ms ...; lb2 50 ms later; the files alternate valid, invalid.
    let t0 = Instant::now();
    let step = STORM / SIGHUPS;
    let mut flaps = Vec::new();
    let mut rss_mid = Vec::new();
    let mut order: Vec<Vec<&'static str>> = vec![Vec::new(), Vec::new()];
    for i in 0..SIGHUPS {
        for n in 0..2 {
            let due = step * i + step / 2 * n as u32;
            if let Some(wait) = due.checked_sub(t0.elapsed()) {
                std::thread::sleep(wait);
            }
            let (valid, invalid) = &sets[n];
            let v = if i % 2 == 0 {
                &valid[(i as usize / 2) % valid.len()]
            } else {
                &invalid[(i as usize / 2) % invalid.len()]
            };
            // The last file of the storm is the running config again.
            let v = if i == SIGHUPS - 1 { &valid[0] } else { v };
            v.install(&files[n], i % 3 == 0);
            order[n].push(v.name());
            lab.signal(&procs[n], libc::SIGHUP);
            if !lab.is_sole_master(Lb1, VIP4.into()) {
                flaps.push(format!(
                    "after SIGHUP {i} to {} ({}), at {:?}: lb1 VIP {}, lb2 VIP {}",
                    ["lb1", "lb2"][n],
                    v.name(),
                    t0.elapsed(),
                    lab.has_addr(Lb1, VIP4),
                    lab.has_addr(Lb2, VIP4)
                ));
            }
        }
        if i == SIGHUPS / 2 {
            rss_mid = procs.iter().map(rss).collect();
        }
    }
    let took = t0.elapsed();
    // Everything the storm queued is done once the final reload has been logged.
    let reloads = |p: &Proc| lab::grep_log(&p.log, &["sighup: reloading configuration"]).len();
    // The storm is over once neither daemon has started another reload for 300 ms.
    let (mut prev, mut stable) = (Vec::new(), 0);
    let settled = wait_until(Duration::from_secs(5), || {
        let now: Vec<usize> = procs.iter().map(reloads).collect();
        stable = if now == prev { stable + 1 } else { 0 };
        prev = now;
        stable >= 30
    });
    let hold = lab::holds_for(c2.master_down() + c2.advert, || {
        lab.is_sole_master(Lb1, VIP4.into())
    });
    let rss1: Vec<u64> = procs.iter().map(rss).collect();
    let tcpdump = hostile::stop_capture(&lab, &wire);
    let seen = hostile::adverts(&hostile::read_pcap(&wire.pcap));
    let lb1_mac = hostile::parse_mac(&lab.mac(Lb1));
    let vi1: Vec<&hostile::Seen> = seen.iter().filter(|s| s.advert.vrid == lab::VRID).collect();
    let off: Vec<String> = vi1
        .iter()
        .filter(|s| s.mac != lb1_mac || s.advert.priority != 100)
        .map(|s| format!("{} prio {} at {:.3}", s.src, s.advert.priority, s.at))
        .collect();
    let times: Vec<f64> = vi1
        .iter()
        .filter(|s| s.mac == lb1_mac)
        .map(|s| s.at)
        .collect();
    let max_gap = hostile::max_gap_ms(&times);

    for (n, p) in procs.iter().enumerate() {
        let log = lab::read_log(&p.log);
        let count = |w: &str| log.lines().filter(|l| l.contains(w)).count();
        println!(
            "{}: {} SIGHUPs sent, {} reloads logged; kept the running config on {} invalid, {} unreadable, {} refused; \
             applied {} changed instances, started {}, stopped {}; VmRSS {} KiB before, {} KiB halfway, {} KiB after ({:+} KiB)",
            ["lb1", "lb2"][n],
            order[n].len(),
            reloads(p),
            count("new configuration is invalid"),
            count("cannot reload, keeping"),
            count("new configuration refused"),
            count("reload: applying changed settings"),
            count("reload: starting instance"),
            count("reload: stopping instance"),
            rss0[n],
            rss_mid.get(n).copied().unwrap_or(0),
            rss1[n],
            rss1[n] as i64 - rss0[n] as i64
        );
    }
    println!(
        "storm {took:.2?}; VI_1 adverts from lb1 seen by lb2: {} (tcpdump: {tcpdump}), max gap {max_gap:.1} ms; \
         not lb1 at priority 100: {}; test took {:.1?}",
        times.len(),
        off.len(),
        t_test.elapsed()
    );
    for p in &procs {
        assert!(lab.alive(p), "{} died:\n{}", p.name, lab::read_log(&p.log));
    }
    assert!(flaps.is_empty(), "VIP moved during the storm: {flaps:?}");
    assert!(
        settled.is_some(),
        "a daemon was still reloading 5 s after the storm"
    );
    if let Err(t) = hold {
        panic!("lb1 lost sole mastership {t:?} after the storm");
    }
    for (n, p) in procs.iter().enumerate() {
        let moved: Vec<String> = hostile::transitions(&p.log)
            .into_iter()
            .skip(skip[n])
            .filter(|t| t.instance == "VI_1")
            .map(|t| t.line)
            .collect();
        assert!(
            moved.is_empty(),
            "{}: VI_1 changed state: {moved:?}",
            p.name
        );
        // Coalesced signals are fine; most must have been acted on.
        assert!(reloads(p) >= 50, "{}: only {} reloads", p.name, reloads(p));
    }
    assert!(off.is_empty(), "the wire shows a flap: {off:?}");
    assert!(
        times.len() >= 90,
        "only {} lb1 adverts captured",
        times.len()
    );
    assert!(
        max_gap < 200.0,
        "lb1 advert gap {max_gap:.1} ms during the storm"
    );
    for n in 0..2 {
        // A leak of even a few hundred bytes per reload would show over 100 of them.
        let grew = rss1[n].saturating_sub(rss_mid[n]);
        assert!(
            grew <= 512,
            "{}: VmRSS grew {grew} KiB over the second half of the storm ({} -> {} KiB)",
            ["lb1", "lb2"][n],
            rss_mid[n],
            rss1[n]
        );
        assert!(
            rss1[n] <= rss0[n] + 4096,
            "{}: VmRSS {} KiB before, {} KiB after",
            ["lb1", "lb2"][n],
            rss0[n],
            rss1[n]
        );
    }
}

/// One SIGHUP with a 2 MiB config on a single line: the daemon must log the diagnostic
/// and keep running its config, as for every other invalid file.
#[test]
fn s2_sighup_with_a_one_line_2_mib_file_keeps_running() {
    if !lab::require_lab("s2", false) {
        return;
    }
    let lab = Lab::with_prefix("s2", "vhho");
    let base = Vrrp::v3(Lb1).to_kdl();
    let path = lab.path("lb1-long", "kdl");
    fs::write(&path, &base).expect("write config");
    let p = lab.run_vrrp_ha(Lb1, &path, &[]);
    wait_until(Duration::from_secs(5), || lab.has_addr(Lb1, VIP4))
        .unwrap_or_else(|| panic!("lb1 not master:\n{}", lab::read_log(&p.log)));
    fs::write(&path, format!("{base}{}", " ".repeat(2 << 20))).expect("write long line");
    lab.signal(&p, libc::SIGHUP);
    let said = wait_until(Duration::from_secs(5), || {
        lab::read_log(&p.log).contains("bytes long") || !lab.alive(&p)
    });
    assert!(said.is_some(), "no diagnostic within 5 s");
    assert!(
        lab.alive(&p),
        "the daemon died on SIGHUP:\n{}",
        lab::read_log(&p.log)
            .lines()
            .filter(|l| l.contains("panicked") || l.contains("Formatting"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    if let Err(t) = lab::holds_for(Duration::from_millis(500), || lab.has_addr(Lb1, VIP4)) {
        panic!("lb1 lost its VIP {t:?} after the SIGHUP");
    }
}

/// Starts lb1 (on `lb1_text`) and lb2 on the lab pair's configs, waits for lb1 MASTER /
/// lb2 BACKUP and starts a capture of lb1's adverts at lb2.
fn pair(lab: &Lab, lb1_text: &str) -> (PathBuf, Proc, Proc, lab::Capture) {
    let path = lab.path("lb1-reload", "kdl");
    fs::write(&path, lb1_text).expect("write config");
    let p1 = lab.run_vrrp_ha(Lb1, &path, &[]);
    wait_until(Duration::from_secs(5), || lab.has_addr(Lb1, VIP4))
        .unwrap_or_else(|| panic!("lb1 not master:\n{}", lab::read_log(&p1.log)));
    let path2 = lab.path("lb2-reload", "kdl");
    fs::write(&path2, Vrrp::v3(Lb2).to_kdl()).expect("write config");
    let p2 = lab.run_vrrp_ha(Lb2, &path2, &[]);
    let c2 = Vrrp::v3(Lb2);
    if let Err(t) = lab::holds_for(c2.master_down() + c2.advert, || {
        lab.is_sole_master(Lb1, VIP4.into())
    }) {
        panic!("lb1 stopped being the sole master {t:?} after lb2 started");
    }
    let wire = hostile::capture(
        lab,
        Lb2,
        &format!("ip proto 112 and ether src {}", lab.mac(Lb1)),
        2_000,
        60,
    );
    (path, p1, p2, wire)
}

/// VI_1 transitions logged so far by each node.
fn seen(p1: &Proc, p2: &Proc) -> [usize; 2] {
    [p1, p2].map(|p| hostile::transitions(&p.log).len())
}

/// After a SIGHUP: lb1 stays the sole master for three of lb2's Master_Down_Intervals,
/// neither node logs a VI_1 transition, and lb1's adverts (as lb2 saw them) keep their
/// spacing. Prints and returns the largest gap in ms.
fn after_reload(
    lab: &Lab,
    p1: &Proc,
    p2: &Proc,
    wire: &lab::Capture,
    skip: [usize; 2],
    what: &str,
) -> f64 {
    let c2 = Vrrp::v3(Lb2);
    let held = lab::holds_for(c2.master_down() * 3, || {
        lab.is_sole_master(Lb1, VIP4.into())
    });
    hostile::stop_capture(lab, wire);
    let times: Vec<f64> = hostile::adverts(&hostile::read_pcap(&wire.pcap))
        .iter()
        .filter(|s| s.advert.vrid == lab::VRID && s.advert.priority == 100)
        .map(|s| s.at)
        .collect();
    let gap = hostile::max_gap_ms(&times);
    let moved: Vec<String> = [p1, p2]
        .iter()
        .zip(skip)
        .flat_map(|(p, n)| hostile::transitions(&p.log).into_iter().skip(n))
        .filter(|t| t.instance == "VI_1")
        .map(|t| t.line)
        .collect();
    println!("{what}: lb1 advert max gap {gap:.1} ms; VI_1 transitions since: {moved:?}");
    assert!(lab.alive(p1), "lb1 died:\n{}", lab::read_log(&p1.log));
    if let Err(t) = held {
        panic!("{what}: lb1 lost sole mastership {t:?} after the SIGHUP: {moved:?}");
    }
    assert!(moved.is_empty(), "{what}: VI_1 changed state: {moved:?}");
    assert!(gap < 200.0, "{what}: lb1 advert gap {gap:.1} ms");
    gap
}

/// SIGHUPs with big files: a valid 1 MB config (comments) and a 2 MiB one over the size
/// limit. Reading, parsing and rendering them must not hold up the adverts.
#[test]
fn s3_sighup_with_big_files_keeps_advert_timing() {
    if !lab::require_lab("s3", false) {
        return;
    }
    let lab = Lab::with_prefix("s3", "vhho");
    let base = Vrrp::v3(Lb1).to_kdl();
    for (what, text) in [
        (
            "a 2 MiB config over the size limit",
            format!(
                "{base}{}",
                "// padding past the size limit\n".repeat(70_000)
            ),
        ),
        (
            "a valid 1 MB config",
            format!(
                "{base}{}",
                "// a comment line, 29 bytes\n".repeat(1_000_000 / 29)
            ),
        ),
    ] {
        let (path, p1, p2, wire) = pair(&lab, &base);
        fs::write(&path, text).expect("write big config");
        let skip = seen(&p1, &p2);
        let t0 = Instant::now();
        lab.signal(&p1, libc::SIGHUP);
        // Done when the next reload (of the running file) has been logged after it.
        let reloads = || lab::grep_log(&p1.log, &["sighup: reloading"]).len();
        wait_until(Duration::from_secs(1), || reloads() == 1);
        fs::write(&path, &base).expect("write config");
        lab.signal(&p1, libc::SIGHUP);
        let done = wait_until(Duration::from_secs(30), || reloads() == 2);
        println!(
            "{what}: both reloads logged {:?} after the first SIGHUP ({})",
            t0.elapsed(),
            lab::grep_log(&p1.log, &["bytes long", "invalid configuration"]).join(" | ")
        );
        assert!(done.is_some(), "{what}: the second reload never came");
        after_reload(&lab, &p1, &p2, &wire, skip, what);
        for p in [&p1, &p2] {
            assert!(
                lab.term(p, Duration::from_secs(10)).is_some(),
                "{} did not stop",
                p.name
            );
        }
    }
}

/// A SIGHUP that moves VI_1 to an interface that does not exist: the new file is valid
/// but cannot be applied, so the running VI_1 must stay as it is (nothing half applied).
#[test]
fn s4_sighup_to_a_missing_interface_keeps_the_running_instance() {
    if !lab::require_lab("s4", false) {
        return;
    }
    let lab = Lab::with_prefix("s4", "vhho");
    let base = Vrrp::v3(Lb1).to_kdl();
    let (path, p1, p2, wire) = pair(&lab, &base);
    fs::write(
        &path,
        base.replace("interface \"eth0\"", "interface \"eth9\""),
    )
    .expect("write");
    let skip = seen(&p1, &p2);
    lab.signal(&p1, libc::SIGHUP);
    wait_until(Duration::from_secs(5), || {
        lab::read_log(&p1.log).contains("eth9")
    });
    let said = lab::grep_log(&p1.log, &["eth9"]);
    println!("lb1 on the reload: {said:?}");
    after_reload(&lab, &p1, &p2, &wire, skip, "VI_1 moved to eth9");
}
