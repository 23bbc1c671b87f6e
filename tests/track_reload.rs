//! Reloading the tracker keeps what it knows: no Init flap, runners of unchanged
//! scripts untouched, new weights applied at once.

use std::path::Path;
use std::time::Duration;

mod track_common;
use track_common::{next_update, wait_for, write_script};
use vrrp_ha::config::{Script, TrackFile, TrackScript};
use vrrp_ha::track::{InstanceTracks, ScriptState, TrackSpec, Tracker};

fn runs(log: &Path) -> usize {
    std::fs::read_to_string(log).map_or(0, |t| t.lines().count())
}

fn spec(script: &Script, weight: i32, file: Option<(&Path, i32)>) -> TrackSpec {
    TrackSpec {
        instances: vec![InstanceTracks {
            name: "VI_1".into(),
            scripts: vec![TrackScript {
                name: script.name.clone(),
                weight: Some(weight),
            }],
            files: file
                .into_iter()
                .map(|(p, weight)| TrackFile {
                    path: p.to_path_buf(),
                    weight,
                })
                .collect(),
            ..Default::default()
        }],
        scripts: vec![script.clone()],
    }
}

#[tokio::test]
async fn reload_keeps_state_and_applies_new_weights() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("runs");
    let path = write_script(dir.path(), "fail.sh", r#"echo run >> "$1"; exit 1"#);
    let script = Script {
        name: "chk".into(),
        exec: vec![path.display().to_string(), log.display().to_string()],
        interval: Duration::from_millis(300),
        timeout: Duration::from_secs(2),
        rise: 1,
        fall: 1,
        weight: 0,
        user: None,
    };
    let (mut tracker, mut rx) = Tracker::spawn_spec(spec(&script, -20, None));
    let u = next_update(&mut rx).await;
    assert_eq!((u.delta, u.fault), (-20, false));

    // Same config: nothing changes, the runner keeps its schedule.
    let before = runs(&log);
    tracker.reload_spec(spec(&script, -20, None));
    assert_eq!(
        tracker.initial("VI_1"),
        (-20, false),
        "no drop back to Init"
    );
    assert!(rx.try_recv().is_err(), "no update for an unchanged config");
    assert_eq!(runs(&log), before, "unchanged script not re-run at reload");

    // New track weight: applied at once from the known state.
    tracker.reload_spec(spec(&script, -30, None));
    let u = rx.try_recv().expect("update at reload");
    assert_eq!(
        (u.delta, u.fault, u.reason.as_str()),
        (-30, false, "configuration reloaded")
    );

    // Changed script definition: restarted, but still counted as failing.
    let mut changed = script.clone();
    changed.interval = Duration::from_millis(200);
    tracker.reload_spec(spec(&changed, -30, None));
    assert_eq!(tracker.initial("VI_1"), (-30, false));
    assert_eq!(
        tracker.script_states(),
        vec![("chk".to_string(), ScriptState::Bad)]
    );
    let n = runs(&log);
    wait_for("restarted runner to run", || runs(&log) > n).await;
    assert!(rx.try_recv().is_err(), "still failing: no update");

    // A new track file joins with its current value.
    let file = dir.path().join("prio");
    std::fs::write(&file, "4").expect("write");
    tracker.reload_spec(spec(&changed, -30, Some((&file, 5))));
    let u = rx.try_recv().expect("update at reload");
    assert_eq!(u.delta, -30 + 20);
    std::fs::write(&file, "1").expect("write");
    let u = next_update(&mut rx).await;
    assert_eq!(u.delta, -30 + 5);
}
