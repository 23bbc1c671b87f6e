//! `vrrp-ha check` asks systemd about the units that `start`/`stop`/`restart`/`reload` name,
//! over a real bus: a private dbus-daemon with the fake systemd Manager of tests/fake_systemd,
//! found through `DBUS_SYSTEM_BUS_ADDRESS` as the system bus would be.

mod fake_systemd;
mod prereq;

use std::time::{Duration, Instant};

use fake_systemd::support::TempDir;
use fake_systemd::{bus_or_skip, FakeSystemd};

/// A valid config whose MASTER list names `units` (verb, unit), and a sync group stopping one.
fn config(dir: &std::path::Path, units: &[(&str, &str)], group_stop: &str) -> String {
    let actions: String = units
        .iter()
        .map(|(verb, unit)| format!("        {verb} \"{unit}\"\n"))
        .collect();
    let text = format!(
        "instance \"VI_1\" {{\n    interface \"eth0\"\n    vrid 51\n    virtual-ip \"192.0.2.200/24\"\n    \
         on-master {{\n{actions}    }}\n}}\n\
         sync-group \"G1\" {{\n    instances \"VI_1\"\n    on-fault {{\n        stop \"{group_stop}\"\n    }}\n}}\n"
    );
    let path = dir.join("units.kdl");
    std::fs::write(&path, text).expect("write config");
    path.display().to_string()
}

/// `vrrp-ha check` with `bus` as the system bus; (exit code, stdout, stderr, time taken).
async fn check(path: &str, bus: &str) -> (Option<i32>, String, String, Duration) {
    let started = Instant::now();
    // Async, so the fake keeps answering on this test's runtime while check runs.
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_vrrp-ha"))
        .args(["check", "--config", path])
        .env("DBUS_SYSTEM_BUS_ADDRESS", bus)
        .env_remove("RUST_LOG")
        .output()
        .await
        .expect("run vrrp-ha check");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        started.elapsed(),
    )
}

#[tokio::test]
async fn check_warns_about_units_systemd_does_not_know() {
    let dir = TempDir::new("check-units");
    let Some(bus) = bus_or_skip(dir.path()) else {
        return;
    };
    let fake = FakeSystemd::start(&bus.address).await;
    let path = config(
        dir.path(),
        &[
            ("reload", "ngnix.service"),
            ("start", "nginx.service"),
            ("restart", "gone.service"),
            ("stop", "old-masked.service"),
            ("reload", "ngnix.service"),
        ],
        "broken.service",
    );
    let (code, stdout, stderr, took) = check(&path, &bus.address).await;
    assert_eq!(code, Some(0), "warnings only:\n{stderr}");
    assert_eq!(
        stdout,
        format!("{path}: OK: 1 instance, 0 scripts, 1 virtual IP\n")
    );
    let expected = [
        r#"warning: reload in on-master of instance "VI_1": systemd has no unit "ngnix.service"; did you mean "nginx.service"?"#,
        r#"warning: restart in on-master of instance "VI_1": systemd has no unit "gone.service"; is its package installed?"#,
        r#"warning: stop in on-master of instance "VI_1": unit "old-masked.service" is masked; systemd will refuse to act on it"#,
        r#"warning: reload in on-master of instance "VI_1": systemd has no unit "ngnix.service"; did you mean "nginx.service"?"#,
        r#"warning: stop in on-fault of group "G1": systemd cannot load unit "broken.service" (load state bad-setting); see `systemctl status broken.service`"#,
    ];
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), expected.len(), "{stderr}");
    for (line, want) in lines.iter().zip(expected) {
        assert_eq!(*line, format!("{path}: {want}"));
    }
    // One question per unit name, however often it is used.
    let loaded: Vec<String> = fake
        .rec
        .calls()
        .iter()
        .filter(|c| c.method == "LoadUnit")
        .map(|c| c.unit.clone())
        .collect();
    assert_eq!(
        loaded,
        [
            "broken.service",
            "gone.service",
            "nginx.service",
            "ngnix.service",
            "old-masked.service"
        ]
    );
    assert!(fake.rec.jobs().is_empty(), "check never starts a job");
    println!("check with 5 lookups took {took:?}");
}

#[tokio::test]
async fn check_is_silent_when_systemd_cannot_be_asked() {
    let dir = TempDir::new("check-nobus");
    let Some(bus) = bus_or_skip(dir.path()) else {
        return;
    };
    let path = config(dir.path(), &[("reload", "ngnix.service")], "gone.service");
    let ok = format!("{path}: OK: 1 instance, 0 scripts, 1 virtual IP\n");
    // No bus at all, then a bus without systemd on it.
    let missing = format!("unix:path={}", dir.path().join("no-bus").display());
    for address in [missing.as_str(), bus.address.as_str()] {
        let (code, stdout, stderr, took) = check(&path, address).await;
        assert_eq!(
            (code, stdout.as_str(), stderr.as_str()),
            (Some(0), ok.as_str(), "")
        );
        assert!(took < Duration::from_secs(2), "{address}: took {took:?}");
    }
}

#[tokio::test]
async fn check_gives_up_on_a_systemd_that_does_not_answer() {
    let dir = TempDir::new("check-hang");
    let Some(bus) = bus_or_skip(dir.path()) else {
        return;
    };
    let fake = FakeSystemd::start(&bus.address).await;
    let path = config(dir.path(), &[("reload", "gone.service")], "hang.service");
    let (code, stdout, stderr, took) = check(&path, &bus.address).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains(": OK: "), "{stdout}");
    // Half an answer is no answer: nothing is said rather than a partial list.
    assert_eq!(stderr, "");
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(5),
        "the lookup is bounded by its 2 s timeout: {took:?}"
    );
    assert!(fake.rec.calls().iter().any(|c| c.unit == "hang.service"));
}
