//! The `vrrp-ha` binary's command line: exit codes 0/1/2, the `check` summary and
//! diagnostics, `--version`, `completions`, and `check` on every file in `examples/`.

use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_vrrp-ha");

/// Runs the binary from the package root so relative paths in output are stable, with no
/// system bus: `check` would otherwise warn about units (haproxy.service in the examples)
/// that the host's systemd may not have. tests/config_check_units.rs covers that lookup.
fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("RUST_LOG")
        .env(
            "DBUS_SYSTEM_BUS_ADDRESS",
            "unix:path=/nonexistent/vrrp-ha-test-bus",
        )
        .output()
        .expect("run vrrp-ha")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn check_accepts_every_example() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("list examples")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".kdl"))
        .collect();
    names.sort();
    for wanted in [
        "nginx-master.kdl",
        "nginx-backup.kdl",
        "unicast.kdl",
        "ipv6.kdl",
        "full.kdl",
    ] {
        assert!(
            names.iter().any(|n| n == wanted),
            "examples/{wanted} is missing"
        );
    }
    for name in names {
        let path = format!("examples/{name}");
        let out = run(&["check", "--config", &path]);
        assert_eq!(out.status.code(), Some(0), "{path}: {}", text(&out.stderr));
        let stdout = text(&out.stdout);
        assert!(stdout.starts_with(&format!("{path}: OK: ")), "{stdout}");
        assert_eq!(stdout.lines().count(), 1, "one summary line: {stdout}");
        // The examples name hook scripts under /etc/vrrp-ha/ that exist only where
        // they are deployed: a warning each, nothing else.
        for line in text(&out.stderr).lines() {
            assert!(
                line.contains(": warning: ") && line.contains("cannot access `/etc/vrrp-ha/"),
                "{path}: unexpected diagnostic: {line}"
            );
        }
    }
}

#[test]
fn check_summary_counts() {
    let out = run(&["check", "-c", "examples/full.kdl"]);
    assert_eq!(
        text(&out.stdout),
        "examples/full.kdl: OK: 2 instances, 1 script, 3 virtual IPs\n"
    );
    let out = run(&["check", "-c", "examples/nginx-master.kdl"]);
    assert_eq!(
        text(&out.stdout),
        "examples/nginx-master.kdl: OK: 1 instance, 1 script, 1 virtual IP\n"
    );
}

#[test]
fn check_invalid_exits_1_with_the_snapshot_diagnostic() {
    let path = "tests/configs/invalid/vrid-zero.kdl";
    let out = run(&["check", "--config", path]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let expected = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/configs/invalid/vrid-zero.stderr"),
    )
    .expect("snapshot");
    assert_eq!(
        text(&out.stderr),
        expected,
        "stderr is not a tty: no colours, same as the snapshot"
    );
}

#[test]
fn check_reports_every_error() {
    let out = run(&["check", "--config", "tests/configs/three-errors.kdl"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("3 errors"), "{stderr}");
    assert_eq!(stderr.matches("help:").count(), 3, "{stderr}");
    assert!(
        !stderr.contains('\u{1b}'),
        "no ANSI colours when stderr is not a terminal"
    );
}

#[test]
fn unreadable_file_exits_2() {
    let out = run(&["check", "--config", "tests/configs/does-not-exist.kdl"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("cannot read tests/configs/does-not-exist.kdl"),
        "{stderr}"
    );
    // A directory is unreadable as a file, too.
    let out = run(&["check", "--config", "tests"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &["frobnicate"][..],
        &[][..],
        &["check", "--no-such-flag"][..],
        &["check", "--config"][..],
        &["--log-level", "loud", "status"][..],
        &["completions", "tcsh"][..],
    ] {
        let out = run(args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
}

#[test]
fn run_with_an_invalid_config_exits_1() {
    let out = run(&["run", "--config", "tests/configs/invalid/vrid-zero.kdl"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("`vrid` 0 is out of range"));
    let out = run(&["run", "--config", "tests/configs/does-not-exist.kdl"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn default_config_path_is_documented() {
    let out = run(&["check", "--help"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains("/etc/vrrp-ha/vrrp-ha.kdl"));
    let out = run(&["run", "--help"]);
    assert!(text(&out.stdout).contains("/etc/vrrp-ha/vrrp-ha.kdl"));
}

#[test]
fn version_and_help() {
    let out = run(&["--version"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        text(&out.stdout).trim(),
        format!("vrrp-ha {}", env!("CARGO_PKG_VERSION"))
    );
    let out = run(&["check", "--version"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "--version works on subcommands too"
    );
    for sub in [
        &["--help"][..],
        &["run", "--help"],
        &["check", "--help"],
        &["status", "--help"],
        &["completions", "--help"],
    ] {
        let out = run(sub);
        assert_eq!(out.status.code(), Some(0), "{sub:?}");
        assert!(text(&out.stdout).contains("Usage:"), "{sub:?}");
    }
    let help = text(&run(&["--help"]).stdout);
    for word in ["run", "check", "status", "completions", "--log-level"] {
        assert!(help.contains(word), "--help lacks {word}");
    }
}

#[test]
fn log_level_is_global() {
    for level in ["error", "warn", "info", "debug", "trace"] {
        let out = run(&["check", "--log-level", level, "-c", "examples/unicast.kdl"]);
        assert_eq!(out.status.code(), Some(0), "{level}");
        let out = run(&["--log-level", level, "check", "-c", "examples/unicast.kdl"]);
        assert_eq!(out.status.code(), Some(0), "{level}");
    }
}

#[test]
fn completions_for_each_shell() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = run(&["completions", shell]);
        assert_eq!(out.status.code(), Some(0), "{shell}");
        let script = text(&out.stdout);
        assert!(
            script.contains("vrrp-ha") || script.contains("vrrp_ha"),
            "{shell}"
        );
        assert!(
            script.contains("check"),
            "{shell} completion lacks subcommands"
        );
    }
}

#[test]
fn status_reads_the_state_files_and_exits_3_without_a_daemon() {
    let dir = tempfile::tempdir().expect("tempdir");
    let status = |args: &[&str]| {
        Command::new(BIN)
            .args(args)
            .env("VRRP_HA_STATE_DIR", dir.path())
            // No bus: the state files are all there is.
            .env("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/bus")
            .output()
            .expect("run vrrp-ha")
    };
    let out = status(&["status"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("no running vrrp-ha daemon"));
    // vrrp-ha 0.1's file has no pid: it counts only while a daemon runs a config of
    // that stem, and none does here.
    std::fs::write(
        dir.path().join("VI_1.state"),
        "instance=VI_1 vrid=51 state=MASTER priority=100 master=192.0.2.201\n",
    )
    .expect("write state file");
    let out = status(&["status"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stdout));

    // The JSON file of a running daemon (this test's pid stands for it) wins over the old
    // file of the same stem; one of a dead daemon is not shown.
    let report = |pid: u32, state: &str| {
        format!(
            "{{\"version\":1,\"daemons\":[{{\"name\":\"VI_1\",\"config\":\"/etc/vrrp-ha/VI_1.kdl\",\
             \"pid\":{pid},\"vrrp_ha_version\":\"0.1.0\",\"source\":\"state-file\",\"updated\":1.0,\
             \"instances\":[{{\"name\":\"VI_1\",\"vrid\":51,\"vrrp_version\":3,\"family\":\"ipv4\",\
             \"interface\":\"eth0\",\"waiting_for\":null,\"state\":\"{state}\",\"drained\":true,\
             \"priority\":100,\"effective_priority\":80,\"tracking\":[],\"master\":null,\"vips\":[],\
             \"last_transition\":null,\"counters\":{{\"transitions\":1,\"became_master\":0,\
             \"transitions_to\":{{}},\"master_changes\":0,\"adverts_sent\":0,\"adverts_received\":0,\
             \"priority_zero_sent\":0,\"priority_zero_received\":0,\"drops\":{{}},\"malformed\":{{}},\
             \"address_mismatches\":0,\"other_masters\":0,\"vip_failures\":0,\"vips_lost\":0}},\
             \"peers\":[]}}],\"unknown_vrid\":[]}}]}}"
        )
    };
    std::fs::write(
        dir.path().join("VI_1.json"),
        report(std::process::id(), "BACKUP"),
    )
    .expect("write state file");
    let out = status(&["status", "--json", "VI_1"]);
    assert_eq!(out.status.code(), Some(0));
    let json = text(&out.stdout);
    // The package's postinst finds MASTERs by this compact spelling.
    assert!(json.starts_with("{\"version\":1,"), "{json}");
    assert!(json.contains("\"state\":\"BACKUP\""), "{json}");
    assert!(!json.contains("MASTER"), "{json}");
    let out = status(&["status", "VI_1"]);
    let shown = text(&out.stdout);
    assert!(shown.contains("BACKUP (drained)"), "{shown}");
    assert!(shown.contains("priority 80 (configured 100)"), "{shown}");
    // A pid beyond pid_max runs no daemon: its file is stale.
    std::fs::write(dir.path().join("VI_1.json"), report(4_194_305, "BACKUP")).expect("write");
    let out = status(&["status", "--json", "VI_1"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stdout));
    // `status --json --config FILE`, as the package's postinst asks it.
    std::fs::write(
        dir.path().join("VI_1.json"),
        report(std::process::id(), "MASTER"),
    )
    .expect("write");
    let out = status(&["status", "--json", "--config", "/etc/vrrp-ha/VI_1.kdl"]);
    assert!(text(&out.stdout).contains("\"state\":\"MASTER\""));
    let out = status(&["status", "--config", "/etc/vrrp-ha/VI_2.kdl"]);
    assert_eq!(out.status.code(), Some(3));
}

#[test]
fn check_refuses_programs_others_can_change_when_root() {
    if !nix_is_root() {
        eprintln!("SKIP: script security only applies when running as root");
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let script = dir.path().join("chk.sh");
    std::fs::write(&script, "#!/bin/sh\nexit 0\n").expect("write script");
    let chmod = |path: &Path, mode: u32| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod")
    };
    chmod(&script, 0o757);
    chmod(dir.path(), 0o755);
    let s = script.display();
    let cfg = dir.path().join("c.kdl");
    std::fs::write(
        &cfg,
        format!(
            "instance \"VI_1\" {{\n interface \"eth0\"\n vrid 1\n virtual-ip \"192.0.2.200/24\"\n \
             track-script \"chk\"\n notify \"{s}\"\n on-master {{\n exec \"{s}\" \"master\"\n }}\n}}\n\
             script \"chk\" {{\n exec \"{s}\"\n}}\n\
             instance \"VI_2\" {{\n interface \"eth0\"\n vrid 2\n virtual-ip \"192.0.2.201/24\"\n \
             on-backup {{\n exec \"/no/such/program\"\n }}\n}}\n"
        ),
    )
    .expect("write config");
    let path = cfg.to_str().expect("utf-8 path");
    let out = run(&["check", "--config", path]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let err = text(&out.stderr);
    for what in [
        "refused: script \"chk\": refusing to run",
        "refused: notify of instance \"VI_1\": refusing to run",
        "refused: exec in on-master of instance \"VI_1\": refusing to run",
        "warning: exec in on-backup of instance \"VI_2\": cannot access `/no/such/program`",
    ] {
        assert!(err.contains(what), "{what:?} missing in:\n{err}");
    }
    // Fixed: only the warning about the missing program is left, and it does not fail.
    chmod(&script, 0o755);
    let out = run(&["check", "--config", path]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("warning: exec in on-backup"));
}

fn nix_is_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false)
}

#[test]
fn run_refuses_a_whole_command_in_exec() {
    // `run` loads the file as `check` and SIGHUP do: the daemon never starts on it.
    let out = run(&[
        "run",
        "--config",
        "tests/configs/invalid/exec-whole-command.kdl",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("contains spaces and is not a file")
            && stderr.contains(r#"exec "/usr/bin/curl" "-fsS" "http://127.0.0.1/""#),
        "{stderr}"
    );
}

#[test]
fn check_points_a_keepalived_conf_to_import() {
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = dir.path().join("keepalived.conf");
    std::fs::write(
        &conf,
        "# keepalived, as installed\n\
         vrrp_script chk_nginx {\n    script \"/usr/bin/pgrep nginx\"\n    interval 2\n}\n\
         vrrp_instance VI_1\n{\n    state BACKUP\n    interface eth0\n    virtual_router_id 51\n\
         \x20   virtual_ipaddress {\n        192.0.2.200/24 dev eth0\n    }\n    \
         track_script {\n        chk_nginx\n    }\n}\n",
    )
    .expect("write keepalived.conf");
    let path = conf.to_str().expect("utf-8 path");
    let out = run(&["check", "--config", path]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("invalid configuration, 1 error"),
        "{stderr}"
    );
    assert!(
        stderr.contains("this looks like a keepalived.conf"),
        "{stderr}"
    );
    assert!(stderr.contains(":2:1]"), "points at vrrp_script: {stderr}");
    assert!(stderr.contains("vrrp-ha import"), "{stderr}");
}

#[test]
fn check_reads_the_witness_keys() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let key = dir.path().join("witness.key");
    let conf = dir.path().join("witness.kdl");
    let kdl = |key: &Path| {
        format!(
            "instance \"VI_1\" {{\n    interface \"eth0\"\n    vrid 51\n    virtual-ip \
             \"192.0.2.200/24\"\n    witness \"192.0.2.10\"\n    witness-key-file \"{}\"\n}}\n",
            key.display()
        )
    };
    std::fs::write(&conf, kdl(&key)).expect("write config");
    let c = conf.display().to_string();
    // Not there yet: a warning, as for a script that is not deployed here.
    let out = run(&["check", "--config", &c]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("witness key: cannot access"),
        "{}",
        text(&out.stderr)
    );
    // A usable key: nothing to say.
    std::fs::write(&key, "0123456789abcdef0123456789abcdef\n").expect("write key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let out = run(&["check", "--config", &c]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "");
    // Readable by anyone, or too short: refused, as the daemon would refuse it.
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let out = run(&["check", "--config", &c]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("refused: instance \"VI_1\": witness key")
            && text(&out.stderr).contains("(mode 0644)"),
        "{}",
        text(&out.stderr)
    );
    std::fs::write(&key, "short").expect("write key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let out = run(&["check", "--config", &c]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("holds 5 bytes"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn witness_refuses_what_it_cannot_use() {
    // No key: a usage error.
    let out = run(&["witness", "--interface", "lo"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    // A key file that is not there: exit 2, one that is no key: exit 1.
    let out = run(&["witness", "-i", "lo", "-k", "/nonexistent/witness.key"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("cannot read witness key /nonexistent/witness.key"),
        "{}",
        text(&out.stderr)
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let key = dir.path().join("short.key");
    std::fs::write(&key, "short").expect("write key");
    let out = run(&["witness", "-i", "lo", "-k", &key.display().to_string()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
}
