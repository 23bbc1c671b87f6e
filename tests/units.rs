//! The systemd units in `units/`: the settings the daemon relies on are there,
//! and `systemd-analyze verify` accepts the files without a single warning.

mod prereq;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// `section -> key -> values` (a key may repeat, e.g. ExecStartPre).
type Unit = BTreeMap<String, BTreeMap<String, Vec<String>>>;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Just enough of systemd's syntax for these files (no line continuations in them).
fn parse(text: &str) -> Unit {
    let mut unit = Unit::new();
    let mut section = String::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        assert!(
            !line.ends_with('\\'),
            "line {}: continuation lines are not expected",
            n + 1
        );
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.to_string();
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("line {}: not KEY=VALUE: {line}", n + 1));
        assert!(
            !section.is_empty(),
            "line {}: setting outside a section",
            n + 1
        );
        unit.entry(section.clone())
            .or_default()
            .entry(key.trim().to_string())
            .or_default()
            .push(value.trim().to_string());
    }
    unit
}

fn get<'a>(unit: &'a Unit, section: &str, key: &str) -> &'a str {
    match unit
        .get(section)
        .and_then(|s| s.get(key))
        .map(Vec::as_slice)
    {
        Some([one]) => one,
        other => panic!("[{section}] {key}: expected exactly one value, found {other:?}"),
    }
}

fn words(unit: &Unit, section: &str, key: &str) -> Vec<String> {
    get(unit, section, key)
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

fn check_unit(file: &str, config: &str) {
    let unit = parse(&read(&repo().join("units").join(file)));
    let has = |section: &str, key: &str, want: &str| {
        assert_eq!(get(&unit, section, key), want, "{file}: [{section}] {key}");
    };
    has("Service", "Type", "notify");
    has(
        "Service",
        "ExecStartPre",
        &format!("/usr/sbin/vrrp-ha check --config {config}"),
    );
    has(
        "Service",
        "ExecStart",
        &format!("/usr/sbin/vrrp-ha run --config {config}"),
    );
    // Debian 12's systemd 252 has no notify-reload: the daemon reloads on SIGHUP,
    // after a check, so that reloading an invalid file fails instead of reporting
    // success. The shell's own kill: /bin/kill (procps) is not on a minimal Debian 12.
    let reload = unit
        .get("Service")
        .and_then(|s| s.get("ExecReload"))
        .map(Vec::as_slice);
    let want = [
        format!("/usr/sbin/vrrp-ha check --config {config}"),
        "/bin/sh -c 'kill -HUP $$MAINPID'".to_string(),
    ];
    assert_eq!(reload, Some(&want[..]), "{file}: [Service] ExecReload");
    has("Service", "Restart", "on-failure");
    has("Service", "RestartSec", "1s");
    has("Service", "WatchdogSec", "10s");
    // Where `vrrp-ha drain` is remembered across restarts (status::DRAIN_DIR).
    has("Service", "StateDirectory", "vrrp-ha");
    assert_eq!(vrrp_ha::daemon::status::DRAIN_DIR, "/var/lib/vrrp-ha");
    // The daemon must get SIGTERM before anything else so a MASTER can send
    // priority 0 and release its VIPs; the default would signal scripts too.
    has("Service", "KillMode", "mixed");
    has("Unit", "After", "network-online.target");
    has("Unit", "Wants", "network-online.target");
    has("Unit", "Documentation", "man:vrrp-ha(8) man:vrrp-ha.kdl(5)");
    has("Install", "WantedBy", "multi-user.target");

    let caps = words(&unit, "Service", "CapabilityBoundingSet");
    for need in [
        "CAP_NET_RAW",
        "CAP_NET_ADMIN",
        "CAP_SETUID",
        "CAP_SETGID",
        "CAP_KILL",
    ] {
        assert!(
            caps.iter().any(|c| c == need),
            "{file}: CapabilityBoundingSet lacks {need}"
        );
    }
    let families = words(&unit, "Service", "RestrictAddressFamilies");
    for need in ["AF_UNIX", "AF_INET", "AF_INET6", "AF_NETLINK", "AF_PACKET"] {
        assert!(
            families.iter().any(|f| f == need),
            "{file}: RestrictAddressFamilies lacks {need}"
        );
    }
    // use-vmac writes per-interface sysctls; this would make /proc/sys read-only.
    assert!(
        unit.get("Service")
            .is_some_and(|s| !s.contains_key("ProtectKernelTunables")),
        "{file}: ProtectKernelTunables would break use-vmac"
    );
}

#[test]
fn template_unit_reads_one_file_per_instance() {
    check_unit("vrrp-ha@.service", "/etc/vrrp-ha/%i.kdl");
}

#[test]
fn plain_unit_reads_the_default_file() {
    check_unit("vrrp-ha.service", "/etc/vrrp-ha/vrrp-ha.kdl");
}

#[test]
fn units_differ_only_in_the_config_path() {
    let template = read(&repo().join("units/vrrp-ha@.service"));
    let plain = read(&repo().join("units/vrrp-ha.service"));
    let settings = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| !l.trim_start().starts_with('#') && !l.starts_with("Description="))
            .map(|l| l.replace("/etc/vrrp-ha/%i.kdl", "/etc/vrrp-ha/vrrp-ha.kdl"))
            .collect()
    };
    assert_eq!(
        settings(&template),
        settings(&plain),
        "the two units drifted apart"
    );
}

#[test]
fn witness_unit_is_hardened_to_a_raw_socket() {
    let file = "vrrp-ha-witness.service";
    let unit = parse(&read(&repo().join("units").join(file)));
    let has = |section: &str, key: &str, want: &str| {
        assert_eq!(get(&unit, section, key), want, "{file}: [{section}] {key}");
    };
    has("Service", "Type", "notify");
    has(
        "Service",
        "ExecStart",
        "/usr/sbin/vrrp-ha witness --interface ${WITNESS_INTERFACE} --listen ${WITNESS_LISTEN} \
         --key-file %d/witness.key",
    );
    has(
        "Service",
        "LoadCredential",
        "witness.key:/etc/vrrp-ha/witness.key",
    );
    has(
        "Service",
        "EnvironmentFile",
        "-/etc/default/vrrp-ha-witness",
    );
    // A raw socket is all it needs; it runs as a user of its own, with no other power.
    has("Service", "DynamicUser", "yes");
    has("Service", "CapabilityBoundingSet", "CAP_NET_RAW");
    has("Service", "AmbientCapabilities", "CAP_NET_RAW");
    has("Service", "NoNewPrivileges", "yes");
    has("Service", "ProtectSystem", "strict");
    has("Service", "PrivateDevices", "yes");
    has("Service", "MemoryDenyWriteExecute", "yes");
    has(
        "Service",
        "RestrictAddressFamilies",
        "AF_UNIX AF_INET AF_INET6",
    );
    has("Service", "Restart", "on-failure");
    // Scheduled at once even on a busy host: a BACKUP waits only witness-timeout.
    has("Service", "CPUSchedulingPolicy", "rr");
    has("Service", "CPUSchedulingPriority", "50");
    has("Service", "CPUSchedulingResetOnFork", "yes");
    has("Service", "RestrictRealtime", "yes");
    has("Unit", "Documentation", "man:vrrp-ha(8) man:vrrp-ha.kdl(5)");
    has("Install", "WantedBy", "multi-user.target");
    let filters = unit
        .get("Service")
        .and_then(|s| s.get("SystemCallFilter"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(filters, ["@system-service", "~@privileged @resources"]);
}

#[test]
fn the_package_ships_every_unit() {
    let manifest = read(&repo().join("Cargo.toml"));
    for entry in std::fs::read_dir(repo().join("units")).expect("list units") {
        let name = entry.expect("entry").file_name();
        let name = name.to_string_lossy();
        assert!(
            manifest.contains(&format!(
                "[\"units/{name}\", \"lib/systemd/system/\", \"644\"]"
            )),
            "Cargo.toml [package.metadata.deb] assets lack units/{name}"
        );
    }
}

/// A fresh scratch directory, removed on drop (also when the test fails).
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("vrrp-ha-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn systemd_analyze_verify_is_silent() {
    if !prereq::require(
        "systemd_analyze_verify_is_silent",
        prereq::runs("systemd-analyze"),
        "systemd-analyze not found (Debian package systemd)",
    ) {
        return;
    }
    let scratch = Scratch::new("units");
    // verify insists that ExecStart= binaries exist: point them at the one
    // cargo just built instead of /usr/sbin.
    let binary = env!("CARGO_BIN_EXE_vrrp-ha");
    for file in [
        "vrrp-ha.service",
        "vrrp-ha@.service",
        "vrrp-ha-witness.service",
    ] {
        let text = read(&repo().join("units").join(file)).replace("/usr/sbin/vrrp-ha", binary);
        std::fs::write(scratch.0.join(file), text).expect("write unit copy");
    }
    // verify also runs man(1) on every Documentation= page: give it ours.
    let manpath = scratch.0.join("man");
    for (section, page) in [("man5", "vrrp-ha.kdl.5"), ("man8", "vrrp-ha.8")] {
        std::fs::create_dir_all(manpath.join(section)).expect("mkdir man");
        std::fs::copy(
            repo().join("man").join(page),
            manpath.join(section).join(page),
        )
        .expect("copy man page");
    }
    // An instance name makes verify load the template with %i expanded.
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(scratch.0.join("vrrp-ha.service"))
        .arg(scratch.0.join("vrrp-ha@VI_1.service"))
        .arg(scratch.0.join("vrrp-ha-witness.service"))
        .env("MANPATH", &manpath)
        .env("SYSTEMD_LOG_COLOR", "0")
        .output()
        .expect("run systemd-analyze");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // verify exits 0 on unknown keys and bad values; its warnings are the signal.
    assert!(
        out.status.success() && report.trim().is_empty(),
        "systemd-analyze verify:\n{report}"
    );
}
