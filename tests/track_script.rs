//! Tracked scripts with real processes: rise/fall counted in runs, timeouts that
//! kill the whole process group, `user`, and the script security rule.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

mod prereq;
mod track_common;
use track_common::{next_update, wait_for, write_script};
use vrrp_ha::config::{Script, TrackScript};
use vrrp_ha::track::{check_script_security, InstanceTracks, SecurityError, TrackSpec, Tracker};

fn is_root() -> bool {
    nix::unistd::Uid::effective().is_root()
}

/// A temp dir readable by everyone (scripts may run as another user).
fn tempdir() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("vh-track-")
        .tempdir()
        .expect("tempdir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    dir
}

fn script(name: &str, exec: Vec<String>, interval_ms: u64, timeout_ms: u64) -> Script {
    Script {
        name: name.to_string(),
        exec,
        interval: Duration::from_millis(interval_ms),
        timeout: Duration::from_millis(timeout_ms),
        rise: 1,
        fall: 1,
        weight: 0,
        user: None,
    }
}

fn spec(script: Script, weight: Option<i32>) -> TrackSpec {
    TrackSpec {
        instances: vec![InstanceTracks {
            name: "VI_1".to_string(),
            scripts: vec![TrackScript {
                name: script.name.clone(),
                weight,
            }],
            ..Default::default()
        }],
        scripts: vec![script],
    }
}

/// Number of identical trailing lines equal to `word` in the run log.
fn trailing(log: &Path, word: &str) -> usize {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.lines().rev().take_while(|l| *l == word).count()
}

#[tokio::test]
async fn flips_after_exactly_fall_then_rise_runs() {
    const INTERVAL: u64 = 250;
    let dir = tempdir();
    let flag = dir.path().join("fail");
    let log = dir.path().join("runs");
    let path = write_script(
        dir.path(),
        "check.sh",
        r#"if [ -e "$1/fail" ]; then echo F >> "$1/runs"; exit 1; fi
echo S >> "$1/runs"; exit 0"#,
    );
    let mut s = script(
        "chk",
        vec![path.display().to_string(), dir.path().display().to_string()],
        INTERVAL,
        2000,
    );
    s.rise = 2;
    s.fall = 3;
    s.weight = 50; // overridden below
    let (tracker, mut rx) = Tracker::spawn_spec(spec(s, Some(-20)));
    assert_eq!(tracker.initial("VI_1"), (0, false));

    // First success: Init -> Good changes no priority for a negative weight, but the
    // item's state is news for status.
    wait_for("first run", || trailing(&log, "S") >= 1).await;
    let u = next_update(&mut rx).await;
    assert_eq!((u.delta, u.fault), (0, false), "{u:?}");
    assert_eq!(
        u.items[0].state,
        vrrp_ha::core::track::ItemState::Good,
        "{u:?}"
    );

    std::fs::write(&flag, "").expect("flag");
    let flipped = Instant::now();
    let u = next_update(&mut rx).await;
    let took = flipped.elapsed();
    let fails = trailing(&log, "F");
    assert_eq!((u.delta, u.fault), (-20, false), "{u:?}");
    assert_eq!(
        fails, 3,
        "state changed after {fails} failed runs, want fall=3"
    );
    assert_eq!(tracker.initial("VI_1"), (-20, false));
    eprintln!("fall=3 at {INTERVAL} ms: update {took:?} after the flip");
    let tol = Duration::from_millis(INTERVAL * 3 / 2);
    assert!(
        took >= Duration::from_millis(2 * INTERVAL)
            && took <= Duration::from_millis(3 * INTERVAL) + tol,
        "{took:?}"
    );

    std::fs::remove_file(&flag).expect("unflag");
    let flipped = Instant::now();
    let u = next_update(&mut rx).await;
    let took = flipped.elapsed();
    let oks = trailing(&log, "S");
    assert_eq!((u.delta, u.fault), (0, false), "{u:?}");
    assert_eq!(oks, 2, "state changed after {oks} good runs, want rise=2");
    assert!(u.reason.contains("chk"), "{}", u.reason);
    eprintln!("rise=2 at {INTERVAL} ms: update {took:?} after the flip");
    assert!(
        took >= Duration::from_millis(INTERVAL)
            && took <= Duration::from_millis(2 * INTERVAL) + tol,
        "{took:?}"
    );
    drop(tracker);
}

#[tokio::test]
async fn positive_and_zero_weights() {
    let dir = tempdir();
    let ok = write_script(dir.path(), "ok.sh", "exit 0");
    let bad = write_script(dir.path(), "bad.sh", "exit 3");
    let good = script("good", vec![ok.display().to_string()], 200, 1000);
    let failing = script("failing", vec![bad.display().to_string()], 200, 1000);
    let spec = TrackSpec {
        instances: vec![
            InstanceTracks {
                name: "plus".into(),
                scripts: vec![TrackScript {
                    name: "good".into(),
                    weight: Some(15),
                }],
                ..Default::default()
            },
            InstanceTracks {
                name: "zero".into(),
                scripts: vec![TrackScript {
                    name: "failing".into(),
                    weight: None,
                }],
                ..Default::default()
            },
        ],
        scripts: vec![good, failing],
    };
    let (tracker, mut rx) = Tracker::spawn_spec(spec);
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let u = next_update(&mut rx).await;
        seen.push((u.instance, u.delta, u.fault));
    }
    seen.sort();
    assert_eq!(
        seen,
        vec![("plus".into(), 15, false), ("zero".into(), 0, true)]
    );
    assert_eq!(tracker.initial("plus"), (15, false));
    assert_eq!(tracker.initial("zero"), (0, true));
}

fn process_gone(pid: i32) -> bool {
    // A zombie waiting for a reaper that is not us is as dead as it gets.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
    }
}

#[tokio::test]
async fn hung_script_is_killed_with_its_group_at_timeout() {
    const TIMEOUT: u64 = 300;
    let dir = tempdir();
    let path = write_script(
        dir.path(),
        "hang.sh",
        r#"echo $$ > "$1/leader"
sleep 30 &
echo $! > "$1/child"
wait"#,
    );
    let s = script(
        "hang",
        vec![path.display().to_string(), dir.path().display().to_string()],
        5000,
        TIMEOUT,
    );
    let started = Instant::now();
    let (_tracker, mut rx) = Tracker::spawn_spec(spec(s, None));
    let u = next_update(&mut rx).await;
    let took = started.elapsed();
    assert_eq!((u.delta, u.fault), (0, true), "{u:?}");
    eprintln!("timeout {TIMEOUT} ms: failure reported after {took:?}");
    assert!(took >= Duration::from_millis(TIMEOUT), "{took:?}");
    assert!(took <= Duration::from_millis(TIMEOUT + 700), "{took:?}");

    let read_pid = |name: &str| -> i32 {
        std::fs::read_to_string(dir.path().join(name))
            .expect("pid file")
            .trim()
            .parse()
            .expect("pid")
    };
    let leader = read_pid("leader");
    let child = read_pid("child");
    wait_for("script and its child to die", || {
        process_gone(leader) && process_gone(child)
    })
    .await;
}

#[tokio::test]
async fn runs_as_the_configured_user() {
    if !prereq::require(
        "track_script",
        is_root(),
        "running a script as another user needs root",
    ) {
        return;
    }
    let Ok(Some(nobody)) = nix::unistd::User::from_name("nobody") else {
        assert!(prereq::require("track_script", false, "user nobody exists"));
        return;
    };
    let dir = tempdir();
    let out = dir.path().join("out");
    std::fs::create_dir(&out).expect("mkdir");
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let path = write_script(
        dir.path(),
        "whoami.sh",
        r#"id -u > "$1/uid.tmp"; id -G > "$1/groups.tmp"
mv "$1/groups.tmp" "$1/groups"; mv "$1/uid.tmp" "$1/uid""#,
    );
    let mut s = script(
        "who",
        vec![path.display().to_string(), out.display().to_string()],
        200,
        2000,
    );
    s.user = Some("nobody".into());
    let (_tracker, _rx) = Tracker::spawn_spec(spec(s, None));
    wait_for("script output", || out.join("uid").exists()).await;
    let uid = std::fs::read_to_string(out.join("uid")).expect("uid");
    assert_eq!(uid.trim(), nobody.uid.to_string());
    let groups = std::fs::read_to_string(out.join("groups")).expect("groups");
    let groups: Vec<u32> = groups
        .split_whitespace()
        .map(|g| g.parse().expect("gid"))
        .collect();
    assert!(groups.contains(&nobody.gid.as_raw()), "{groups:?}");
    assert!(!groups.contains(&0), "root's group leaked: {groups:?}");
}

#[test]
fn security_rule_matches_keepalived() {
    let dir = tempdir();
    let safe = write_script(dir.path(), "safe.sh", "exit 0");

    let world = write_script(dir.path(), "world.sh", "exit 0");
    std::fs::set_permissions(&world, std::fs::Permissions::from_mode(0o757)).expect("chmod");
    // As non-root the temp dir itself (ours, not root's) is the first offender.
    let root = is_root();
    assert!(
        matches!(check_script_security(&world), Err(SecurityError::Insecure { ref path, .. }) if *path == world || !root),
        "world-writable script accepted"
    );

    let open_dir = dir.path().join("open");
    std::fs::create_dir(&open_dir).expect("mkdir");
    std::fs::set_permissions(&open_dir, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let inside = write_script(&open_dir, "inside.sh", "exit 0");
    match check_script_security(&inside) {
        Err(SecurityError::Insecure { path, why, .. }) => {
            assert!(path == open_dir || !root, "{path:?} {why}");
        }
        other => panic!("script in a world-writable directory accepted: {other:?}"),
    }

    // A symlink from a safe place into the open directory does not help.
    let link = dir.path().join("link.sh");
    std::os::unix::fs::symlink(&inside, &link).expect("symlink");
    assert!(
        check_script_security(&link).is_err(),
        "symlink into unsafe dir accepted"
    );

    assert!(matches!(
        check_script_security(dir.path().join("missing.sh")),
        Err(SecurityError::Access { .. })
    ));

    if !prereq::require(
        "track_script",
        is_root(),
        "ownership cases need root (files here belong to us)",
    ) {
        return;
    }
    check_script_security(&safe).expect("root-owned 0755 script in root-owned dirs");
    check_script_security("sh").expect("sh via PATH");

    // Sticky, world-writable directories (like /tmp) are fine; a world-writable
    // file in them is not.
    let sticky = dir.path().join("sticky");
    std::fs::create_dir(&sticky).expect("mkdir");
    std::fs::set_permissions(&sticky, std::fs::Permissions::from_mode(0o1777)).expect("chmod");
    let in_sticky = write_script(&sticky, "s.sh", "exit 0");
    check_script_security(&in_sticky).expect("script in sticky dir");

    // Group write is fine for group root, not for any other group.
    let grp = write_script(dir.path(), "grp.sh", "exit 0");
    std::fs::set_permissions(&grp, std::fs::Permissions::from_mode(0o775)).expect("chmod");
    check_script_security(&grp).expect("group-root writable");
    nix::unistd::chown(&grp, None, Some(nix::unistd::Gid::from_raw(100))).expect("chgrp");
    assert!(
        check_script_security(&grp).is_err(),
        "group-writable by gid 100 accepted"
    );

    // Owned by someone else.
    let owned = write_script(dir.path(), "owned.sh", "exit 0");
    nix::unistd::chown(&owned, Some(nix::unistd::Uid::from_raw(65534)), None).expect("chown");
    assert!(matches!(
        check_script_security(&owned),
        Err(SecurityError::Insecure { ref why, .. }) if why.contains("owned by uid 65534")
    ));
}

#[tokio::test]
async fn refused_script_never_runs_and_counts_as_failing() {
    if !prereq::require(
        "track_script",
        is_root(),
        "script security applies only when running as root",
    ) {
        return;
    }
    let dir = tempdir();
    let ran = dir.path().join("ran");
    let path = write_script(dir.path(), "evil.sh", r#"touch "$1/ran""#);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let s = script(
        "evil",
        vec![path.display().to_string(), dir.path().display().to_string()],
        100,
        1000,
    );
    let (_tracker, mut rx) = Tracker::spawn_spec(spec(s, None));
    let u = next_update(&mut rx).await;
    assert_eq!((u.delta, u.fault), (0, true), "{u:?}");
    assert!(!ran.exists(), "insecure script was run");
}

#[tokio::test]
async fn unknown_user_counts_as_failing() {
    let dir = tempdir();
    let ran = dir.path().join("ran");
    let path = write_script(dir.path(), "ok.sh", r#"touch "$1/ran""#);
    let mut s = script(
        "ghost",
        vec![path.display().to_string(), dir.path().display().to_string()],
        100,
        1000,
    );
    s.user = Some("vh-no-such-user".into());
    let (_tracker, mut rx) = Tracker::spawn_spec(spec(s, None));
    let u = next_update(&mut rx).await;
    assert_eq!((u.delta, u.fault), (0, true), "{u:?}");
    assert!(!ran.exists(), "ran without its user");
}

#[tokio::test]
async fn dropping_the_tracker_kills_running_scripts() {
    let dir = tempdir();
    let path = write_script(
        dir.path(),
        "long.sh",
        r#"sleep 30 &
echo $! > "$1/child.tmp"; mv "$1/child.tmp" "$1/child"
echo $$ > "$1/leader.tmp"; mv "$1/leader.tmp" "$1/leader"
wait"#,
    );
    let s = script(
        "long",
        vec![path.display().to_string(), dir.path().display().to_string()],
        60_000,
        60_000,
    );
    let (tracker, _rx) = Tracker::spawn_spec(spec(s, None));
    let leader_file = dir.path().join("leader");
    wait_for("script to start", || leader_file.exists()).await;
    let read_pid = |name: &str| -> i32 {
        std::fs::read_to_string(dir.path().join(name))
            .expect("pid file")
            .trim()
            .parse()
            .expect("pid")
    };
    let (leader, child) = (read_pid("leader"), read_pid("child"));
    assert!(!process_gone(leader) && !process_gone(child));
    drop(tracker);
    wait_for("script group to be killed", || {
        process_gone(leader) && process_gone(child)
    })
    .await;
}
