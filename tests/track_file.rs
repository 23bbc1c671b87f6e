//! Tracked files: value x weight, re-read on change (inotify), missing = 0.

use std::path::Path;
use std::time::{Duration, Instant};

use tokio::sync::mpsc::UnboundedReceiver;
use vrrp_ha::config::TrackFile;
use vrrp_ha::track::{InstanceTracks, TrackSpec, TrackUpdate, Tracker};

const WAIT: Duration = Duration::from_secs(10);

/// inotify should see a change at once; the 1 s poll is only a safety net.
const PROMPT: Duration = Duration::from_millis(500);

async fn next_update(rx: &mut UnboundedReceiver<TrackUpdate>) -> (TrackUpdate, Duration) {
    let start = Instant::now();
    let u = tokio::time::timeout(WAIT, rx.recv())
        .await
        .expect("no tracking update in time")
        .expect("tracker channel closed");
    (u, start.elapsed())
}

/// Replaces the file the way tools usually do: write a temp file, rename over.
fn replace(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).expect("write");
    std::fs::rename(&tmp, path).expect("rename");
}

fn spec(files: Vec<(&Path, i32)>) -> TrackSpec {
    TrackSpec {
        instances: vec![InstanceTracks {
            name: "VI_1".into(),
            files: files
                .into_iter()
                .map(|(p, weight)| TrackFile {
                    path: p.to_path_buf(),
                    weight,
                })
                .collect(),
            ..Default::default()
        }],
        scripts: vec![],
    }
}

#[tokio::test]
async fn value_times_weight_follows_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("prio");
    std::fs::write(&path, "2\n").expect("write");
    let (tracker, mut rx) = Tracker::spawn_spec(spec(vec![(&path, 10)]));
    assert_eq!(tracker.initial("VI_1"), (20, false));

    replace(&path, "-3\n");
    let (u, took) = next_update(&mut rx).await;
    assert_eq!((u.delta, u.fault), (-30, false), "{u:?}");
    eprintln!("rename-replace seen after {took:?}");
    assert!(took < PROMPT, "{took:?}");

    // In-place rewrite.
    std::fs::write(&path, "5").expect("write");
    let (u, took) = next_update(&mut rx).await;
    assert_eq!((u.delta, u.fault), (50, false), "{u:?}");
    eprintln!("in-place write seen after {took:?}");
    assert!(took < PROMPT, "{took:?}");

    replace(&path, "not a number");
    let (u, _) = next_update(&mut rx).await;
    assert_eq!((u.delta, u.fault), (0, false), "{u:?}");

    std::fs::write(&path, "1").expect("write");
    let (u, _) = next_update(&mut rx).await;
    assert_eq!(u.delta, 10);
    std::fs::remove_file(&path).expect("rm");
    let (u, took) = next_update(&mut rx).await;
    assert_eq!(
        (u.delta, u.fault),
        (0, false),
        "missing file counts as 0: {u:?}"
    );
    assert!(took < PROMPT, "{took:?}");

    // Far enough below zero is a fault, like keepalived's -253 floor.
    replace(&path, "-30");
    let (u, _) = next_update(&mut rx).await;
    assert_eq!((u.delta, u.fault), (0, true), "{u:?}");
    assert!(u.reason.contains("prio"), "{}", u.reason);
}

#[tokio::test]
async fn weight_zero_means_nonzero_is_fault() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("maint");
    let (tracker, mut rx) = Tracker::spawn_spec(spec(vec![(&path, 0)]));
    assert_eq!(
        tracker.initial("VI_1"),
        (0, false),
        "missing file = 0 = fine"
    );
    std::fs::write(&path, "1").expect("write");
    let (u, _) = next_update(&mut rx).await;
    assert_eq!((u.delta, u.fault), (0, true), "{u:?}");
    std::fs::write(&path, "0").expect("write");
    let (u, _) = next_update(&mut rx).await;
    assert_eq!((u.delta, u.fault), (0, false), "{u:?}");
}

#[tokio::test]
async fn directory_created_later_is_picked_up_by_the_poll() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sub = dir.path().join("later");
    let path = sub.join("prio");
    let (_tracker, mut rx) = Tracker::spawn_spec(spec(vec![(&path, 1)]));
    // Let the watcher start (and fail to watch the missing directory) first; this
    // sets up the scenario, it does not wait for a condition.
    tokio::time::sleep(Duration::from_millis(100)).await;
    std::fs::create_dir(&sub).expect("mkdir");
    std::fs::write(&path, "7").expect("write");
    let (u, took) = next_update(&mut rx).await;
    assert_eq!(u.delta, 7);
    eprintln!("file in a late directory seen after {took:?}");
    assert!(took < Duration::from_millis(2500), "{took:?}");
}
