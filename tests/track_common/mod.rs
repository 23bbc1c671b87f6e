//! Helpers shared by the tracking tests with real processes.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio::sync::mpsc::UnboundedReceiver;
use vrrp_ha::track::TrackUpdate;

/// Generous wait for an update that must come; assertions on timing are separate.
pub const WAIT: Duration = Duration::from_secs(10);

/// The next tracking update, failing the test after [`WAIT`].
pub async fn next_update(rx: &mut UnboundedReceiver<TrackUpdate>) -> TrackUpdate {
    tokio::time::timeout(WAIT, rx.recv())
        .await
        .expect("no tracking update in time")
        .expect("tracker channel closed")
}

/// Polls `cond` until it holds or the deadline passes.
pub async fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// An executable `/bin/sh` script `name` in `dir` running `body`.
pub fn write_script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("write script");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path
}
