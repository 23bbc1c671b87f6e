//! `vrrp-ha import` as a command: exit codes 0/1/2, `-o DIR` and `-`, `--split` with its
//! `systemctl enable` lines, `--config-id` and its default, and files that `vrrp-ha check`
//! (the real command) accepts.

use std::path::Path;
use std::process::{Command, Output};

fn vrrp_ha(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vrrp-ha"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .output()
        .expect("run vrrp-ha")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn corpus(name: &str) -> String {
    format!("tests/keepalived/{name}")
}

#[test]
fn everything_translated_exits_0_and_prints_kdl() {
    let out = vrrp_ha(&["import", &corpus("nginx-master.conf")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let kdl = text(&out.stdout);
    assert!(kdl.contains("instance \"VI_1\" {"), "{kdl}");
    assert!(
        kdl.contains("// tests/keepalived/nginx-master.conf:6: vrrp_instance VI_1"),
        "{kdl}"
    );
    assert!(kdl.contains("authentication \"1111\""), "{kdl}");
    let err = text(&out.stderr);
    assert!(err.contains("0 things not translated"), "{err}");
    assert!(err.contains("systemctl enable --now vrrp-ha"), "{err}");
}

#[test]
fn something_left_out_exits_1_and_still_writes_a_file_check_accepts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().display().to_string();
    let out = vrrp_ha(&["import", "-o", &d, &corpus("lvs-mixed.conf")]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("`virtual_server` is not translated"), "{err}");
    assert!(
        err.contains("tests/keepalived/lvs-mixed.conf:24:1"),
        "{err}"
    );
    assert_eq!(text(&out.stdout), "systemctl enable --now vrrp-ha\n");
    let file = dir.path().join("vrrp-ha.kdl");
    let check = vrrp_ha(&["check", "-c", &file.display().to_string()]);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check.stderr));
}

#[test]
fn unreadable_or_unparsable_exits_2_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().join("out").display().to_string();
    let missing = vrrp_ha(&["import", "-o", &d, "tests/keepalived/no-such.conf"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(text(&missing.stderr).contains("cannot read tests/keepalived/no-such.conf"));
    let quote = vrrp_ha(&["import", "-o", &d, &corpus("unterminated-quote.conf")]);
    assert_eq!(quote.status.code(), Some(2));
    let err = text(&quote.stderr);
    assert!(err.contains("unterminated quoted string"), "{err}");
    assert!(
        err.contains("tests/keepalived/unterminated-quote.conf:2:12"),
        "{err}"
    );
    assert!(!Path::new(&d).exists(), "an unparsable input wrote {d}");
    let usage = vrrp_ha(&["import"]);
    assert_eq!(usage.status.code(), Some(2));
}

#[test]
fn split_writes_one_file_per_sync_group_or_free_instance() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().display().to_string();
    let out = vrrp_ha(&["import", "--split", "-o", &d, &corpus("scripts-shell.conf")]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout), "systemctl enable --now vrrp-ha@VI_1\n");
    let out = vrrp_ha(&["import", "--split", "-o", &d, &corpus("v3-ipv6-sync.conf")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "systemctl enable --now vrrp-ha@EDGE\n");
    let edge = std::fs::read_to_string(dir.path().join("EDGE.kdl")).expect("EDGE.kdl");
    assert!(
        edge.contains("instance \"V6\"") && edge.contains("instance \"V4\""),
        "{edge}"
    );
    assert!(edge.contains("sync-group \"EDGE\""), "{edge}");
    let out = vrrp_ha(&["import", "--split", "-o", &d, &corpus("include-main.conf")]);
    assert_eq!(
        text(&out.stdout),
        "systemctl enable --now vrrp-ha@VI_1\nsystemctl enable --now vrrp-ha@VI_2\n"
    );
    // Each file carries the scripts its instances track, and only those.
    let vi2 = std::fs::read_to_string(dir.path().join("VI_2.kdl")).expect("VI_2.kdl");
    assert!(
        vi2.contains("script \"chk_b\"") && !vi2.contains("script \"chk_a\""),
        "{vi2}"
    );
    for name in ["VI_1", "VI_2", "EDGE"] {
        let f = dir.path().join(format!("{name}.kdl")).display().to_string();
        let check = vrrp_ha(&["check", "-c", &f]);
        assert_eq!(
            check.status.code(),
            Some(0),
            "{name}: {}",
            text(&check.stderr)
        );
    }
    // To stdout, the files follow each other under a header.
    let out = vrrp_ha(&["import", "--split", &corpus("include-main.conf")]);
    let all = text(&out.stdout);
    assert!(
        all.contains("// ===== VI_1.kdl =====") && all.contains("// ===== VI_2.kdl ====="),
        "{all}"
    );
}

#[test]
fn config_id_selects_at_lines_and_defaults_to_the_short_hostname() {
    let lb2 = vrrp_ha(&["import", "--config-id", "lb2", &corpus("config-id.conf")]);
    let kdl = text(&lb2.stdout);
    assert!(
        kdl.contains("router-id \"lb2\"") && kdl.contains("priority 90"),
        "{kdl}"
    );
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").expect("hostname");
    let short = host
        .trim()
        .split('.')
        .next()
        .unwrap_or_default()
        .to_string();
    let default = vrrp_ha(&["import", &corpus("config-id.conf")]);
    let explicit = vrrp_ha(&["import", "--config-id", &short, &corpus("config-id.conf")]);
    assert_eq!(text(&default.stdout), text(&explicit.stdout));
    assert_eq!(text(&default.stderr), text(&explicit.stderr));
}

/// Programs are vetted on the machine import runs on, as `check` vets them: one that others
/// could change, run as root, makes `check` refuse the file, so import says so (exit 1).
#[test]
fn programs_check_would_refuse_are_reported() {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: the script security checks only apply when run as root");
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let script = dir.path().join("check.sh");
    std::fs::write(&script, "#!/bin/sh\nexit 0\n").expect("write script");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let conf = dir.path().join("keepalived.conf");
    std::fs::write(
        &conf,
        format!(
            "vrrp_script chk {{\n script \"{}\"\n}}\nvrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 51\n virtual_ipaddress {{ 192.0.2.200/24 }}\n track_script {{ chk }}\n garp_master_delay 0\n}}\n",
            script.display()
        ),
    )
    .expect("write conf");
    let out = vrrp_ha(&["import", &conf.display().to_string()]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("`vrrp-ha check` will refuse this until it is fixed"),
        "{err}"
    );
}
