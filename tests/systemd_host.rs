//! vrrp-ha on a real systemd: a stock Debian 12 booted under systemd-nspawn.
//!
//! `units_on_a_real_systemd`: the binary and units/ copied in, then `systemctl
//! enable --now vrrp-ha@VI_1`, the journal, sd_notify, reload (a refused one
//! included), stop and a refused invalid config behave as issue 5 asks.
//! `package_on_a_real_systemd`: the Debian package built twice by
//! scripts/build-deb.sh (the second with a higher revision), installed with
//! `apt-get install ./vrrp-ha_*.deb`, used, upgraded, removed and purged, as
//! issue 9 asks, plus lintian and the binary's glibc symbol versions.
//!
//! The work is done by `scripts/systemd-host.sh run|package ...`, which builds
//! (once, cached under /var/cache/vrrp-ha-tests) a Debian 12 rootfs with
//! debootstrap and boots a throw-away overlay of it in network namespaces of its
//! own; see the script for the individual checks. Needs root, `debootstrap` and
//! `systemd-nspawn` (package systemd-container); the package test also `lintian`,
//! `objdump` (binutils) and `dpkg-shlibdeps` (dpkg-dev), and installs cargo-deb
//! when missing. Without them a test fails when `CI` is set and skips with a
//! reason otherwise. The first run builds the rootfs (about 60 s on the
//! development machine); later runs take about 20 s (units, most of it waiting
//! for the watchdog) and about 30 s (package, plus a release build when there is
//! none yet).

mod prereq;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A cold cache means debootstrap; a warm run takes seconds.
const DEADLINE: Duration = Duration::from_secs(15 * 60);

/// Whether `cmd flag` runs.
fn runs(cmd: &str, flag: &str) -> bool {
    Command::new(cmd)
        .arg(flag)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Why the test cannot run here, if it cannot; `extra`: tools beyond the common ones.
fn missing_prerequisite(extra: &[(&str, &str, &str)]) -> Option<String> {
    if !nix::unistd::Uid::effective().is_root() {
        return Some("needs root (debootstrap, systemd-nspawn, network namespaces)".into());
    }
    let common = [
        ("systemd-nspawn", "--version", "systemd-container"),
        ("debootstrap", "--version", "debootstrap"),
        ("ip", "-V", "iproute2"),
    ];
    for (tool, flag, package) in common.iter().chain(extra) {
        if !runs(tool, flag) && !runs(&format!("/usr/sbin/{tool}"), flag) {
            return Some(format!("needs {tool} (apt-get install {package})"));
        }
    }
    None
}

/// Runs `cmd` to the end (output inherited, so progress shows as it happens), or
/// ends it with SIGTERM after `deadline`, so that the script's trap powers the
/// container off and removes its namespaces and overlay.
fn run(what: &str, mut cmd: Command, deadline: Duration) {
    eprintln!("{what}: {cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if start.elapsed() < deadline => {
                std::thread::sleep(Duration::from_millis(200))
            }
            Ok(None) => {
                let pid = nix::unistd::Pid::from_raw(child.id() as i32);
                let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
                let _ = child.wait();
                panic!("{what} did not finish within {deadline:?}");
            }
            Err(e) => panic!("waiting for {what}: {e}"),
        }
    };
    eprintln!("{what}: finished in {:.1} s", start.elapsed().as_secs_f64());
    assert!(
        status.success(),
        "{what} failed ({status}); its log is above"
    );
}

#[test]
fn units_on_a_real_systemd() {
    if !prereq::go_on("units_on_a_real_systemd", missing_prerequisite(&[])) {
        return;
    }
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut cmd = Command::new(repo.join("scripts/systemd-host.sh"));
    cmd.arg("run")
        .arg(env!("CARGO_BIN_EXE_vrrp-ha"))
        .arg(repo.join("units"));
    run("systemd-host.sh run", cmd, DEADLINE);
}

#[test]
fn package_on_a_real_systemd() {
    let tools = [
        ("lintian", "--version", "lintian"),
        ("objdump", "--version", "binutils"),
        ("dpkg-shlibdeps", "--version", "dpkg-dev"),
    ];
    if !prereq::go_on("package_on_a_real_systemd", missing_prerequisite(&tools)) {
        return;
    }
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let out = tempfile::tempdir().expect("temp dir");
    // The package a user builds, and the same rebuilt with a higher revision, the
    // upgrade. A cold release build takes minutes on two cores.
    for revision in ["1", "2"] {
        let mut build = Command::new(repo.join("scripts/build-deb.sh"));
        build
            .arg("--deb-revision")
            .arg(revision)
            .arg("--output")
            .arg(out.path());
        run("build-deb.sh", build, DEADLINE);
    }
    let version = env!("CARGO_PKG_VERSION");
    let deb = |rev: &str| {
        out.path()
            .join(format!("vrrp-ha_{version}-{rev}_amd64.deb"))
    };
    let mut cmd = Command::new(repo.join("scripts/systemd-host.sh"));
    cmd.arg("package").arg(deb("1")).arg(deb("2"));
    run("systemd-host.sh package", cmd, DEADLINE);
}
