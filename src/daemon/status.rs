//! The state file `vrrp-ha status` reads: one line per instance, rewritten on every transition.
//!
//! Format (one line each, space separated `key=value`, values without spaces):
//! `instance=VI_1 vrid=51 state=MASTER priority=100 master=192.0.2.1`
//! (`master=-` when unknown). The file is `<dir>/<config stem>.state`, where `<dir>`
//! is `$VRRP_HA_STATE_DIR` or `/run/vrrp-ha`.

use std::io;
use std::path::{Path, PathBuf};

/// Default directory of the state files.
pub const DEFAULT_DIR: &str = "/run/vrrp-ha";

/// One instance's line in the state file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstanceStatus {
    /// Instance name.
    pub instance: String,
    /// Virtual router id.
    pub vrid: u8,
    /// State name (MASTER, BACKUP, FAULT, INIT).
    pub state: String,
    /// Effective priority.
    pub priority: u8,
    /// Current master's address, when known.
    pub master: Option<String>,
}

/// What the daemon publishes about its instances, whenever it changes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// One entry per configured instance, in configuration order.
    pub instances: Vec<InstanceStatus>,
}

impl Snapshot {
    /// One line for systemd's STATUS=: "VI_1 MASTER prio 100, VI_2 BACKUP prio 90".
    pub fn summary(&self) -> String {
        crate::sdnotify::summary(
            self.instances
                .iter()
                .map(|i| (i.instance.as_str(), i.state.as_str(), i.priority)),
        )
    }
}

/// The directory of the state files: `$VRRP_HA_STATE_DIR` or [`DEFAULT_DIR`].
pub fn state_dir() -> PathBuf {
    std::env::var_os("VRRP_HA_STATE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_DIR))
}

/// Where the state file of the config at `config_path` lives.
pub fn state_file(config_path: &Path) -> PathBuf {
    let dir = state_dir();
    let stem = config_path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "vrrp-ha".into());
    dir.join(format!("{stem}.state"))
}

/// Where drained instances are remembered across restarts and reboots:
/// `$VRRP_HA_DRAIN_DIR` or [`DRAIN_DIR`].
pub fn drain_file(config_path: &Path) -> PathBuf {
    let dir = std::env::var_os("VRRP_HA_DRAIN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DRAIN_DIR));
    let stem = config_path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "vrrp-ha".into());
    dir.join(format!("{stem}.drained"))
}

/// Default directory of the drain files (the unit's StateDirectory).
pub const DRAIN_DIR: &str = "/var/lib/vrrp-ha";

/// The drained instances recorded in `path` (none when it does not exist).
pub fn read_drains(path: &Path) -> io::Result<Vec<String>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// Record the drained instances (the file goes away when there are none).
pub fn write_drains(path: &Path, drained: &[String]) -> io::Result<()> {
    if drained.is_empty() {
        return match std::fs::remove_file(path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        };
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("drained.tmp");
    std::fs::write(&tmp, drained.join("\n") + "\n")?;
    std::fs::rename(&tmp, path)
}

/// Render the state file's content.
pub fn render(lines: &[InstanceStatus]) -> String {
    let mut out = String::new();
    for l in lines {
        out.push_str(&format!(
            "instance={} vrid={} state={} priority={} master={}\n",
            l.instance,
            l.vrid,
            l.state,
            l.priority,
            l.master.as_deref().unwrap_or("-")
        ));
    }
    out
}

/// Parse a state file's content (lines that do not parse are skipped).
pub fn parse(text: &str) -> Vec<InstanceStatus> {
    text.lines()
        .filter_map(|line| {
            let mut inst = None;
            let mut vrid = None;
            let mut state = None;
            let mut prio = None;
            let mut master = None;
            for kv in line.split_whitespace() {
                let (k, v) = kv.split_once('=')?;
                match k {
                    "instance" => inst = Some(v.to_string()),
                    "vrid" => vrid = v.parse().ok(),
                    "state" => state = Some(v.to_string()),
                    "priority" => prio = v.parse().ok(),
                    "master" => master = (v != "-").then(|| v.to_string()),
                    _ => {}
                }
            }
            Some(InstanceStatus {
                instance: inst?,
                vrid: vrid?,
                state: state?,
                priority: prio?,
                master,
            })
        })
        .collect()
}

/// Write the state file atomically (temp file + rename), creating its directory.
pub fn write(path: &Path, lines: &[InstanceStatus]) -> io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("state.tmp");
    std::fs::write(&tmp, render(lines))?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let lines = vec![
            InstanceStatus {
                instance: "VI_1".into(),
                vrid: 51,
                state: "MASTER".into(),
                priority: 100,
                master: Some("192.0.2.1".into()),
            },
            InstanceStatus {
                instance: "VI_6".into(),
                vrid: 52,
                state: "BACKUP".into(),
                priority: 90,
                master: None,
            },
        ];
        let text = render(&lines);
        assert!(
            text.starts_with("instance=VI_1 vrid=51 state=MASTER priority=100 master=192.0.2.1\n")
        );
        assert_eq!(parse(&text), lines);
    }
}
