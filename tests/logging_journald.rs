//! Journal fields of a transition, checked on a fake journald socket.
//!
//! tracing-journald always sends to /run/systemd/journal/socket, so the test re-runs
//! itself (the ignored helper test below) in a private mount namespace where a
//! temp dir holding our datagram socket is bind-mounted over /run/systemd/journal.
//! That exercises the real `logging::init` path, unchanged.

mod prereq;

use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

const CHILD_ENV: &str = "VH_LOGGING_CHILD";

/// Runs in the child: set up logging as the daemon does and log one transition.
#[test]
#[ignore = "helper, run by the tests below inside a private mount namespace"]
fn child_logs_a_transition() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    let sink = vrrp_ha::logging::init(tracing::Level::INFO);
    println!("SINK={sink:?}");
    vrrp_ha::logging::transition(
        "VI_1",
        51,
        "BACKUP",
        "MASTER",
        100,
        "higher priority\nthan peer",
    );
}

fn prerequisites() -> bool {
    prereq::require(
        "logging_journald",
        prereq::is_root(),
        "a private mount namespace needs root",
    ) && prereq::require(
        "logging_journald",
        prereq::runs("unshare"),
        "unshare (util-linux) installed",
    )
}

/// Starts the helper test in a private mount namespace with an empty /run, and
/// with `journal_dir` bind-mounted over /run/systemd/journal when given.
fn spawn_child(journal_dir: Option<&Path>) -> std::process::Child {
    let exe = std::env::current_exe().expect("test binary");
    let setup = match journal_dir {
        Some(_) => {
            r#"mount -t tmpfs vh-run /run && mkdir -p /run/systemd/journal && mount --bind "$1" /run/systemd/journal && shift && exec "$@""#
        }
        None => r#"mount -t tmpfs vh-run /run && shift && exec "$@""#,
    };
    let dir = journal_dir.map_or_else(String::new, |d| d.display().to_string());
    Command::new("unshare")
        .args([
            "--mount",
            "--propagation",
            "private",
            "--",
            "sh",
            "-c",
            setup,
            "sh",
        ])
        .arg(dir)
        .arg(exe)
        .args([
            "--ignored",
            "--exact",
            "child_logs_a_transition",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn unshare")
}

fn finish(child: std::process::Child) -> Output {
    let out = child.wait_with_output().expect("child output");
    assert!(
        out.status.success(),
        "child failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Parses one journald native-protocol datagram: `KEY=value\n` fields, or
/// `KEY\n` + 64-bit little-endian length + value + `\n` for binary-safe values.
fn parse_native(d: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut fields = Vec::new();
    let mut i = 0;
    while i < d.len() {
        let nl = d[i..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(d.len(), |p| i + p);
        let line = &d[i..nl];
        if let Some(eq) = line.iter().position(|&b| b == b'=') {
            fields.push((
                String::from_utf8_lossy(&line[..eq]).into_owned(),
                line[eq + 1..].to_vec(),
            ));
            i = nl + 1;
        } else {
            let len_at = nl + 1;
            let len_bytes: [u8; 8] = d[len_at..len_at + 8].try_into().expect("length");
            let len = u64::from_le_bytes(len_bytes) as usize;
            let start = len_at + 8;
            fields.push((
                String::from_utf8_lossy(line).into_owned(),
                d[start..start + len].to_vec(),
            ));
            assert_eq!(
                d.get(start + len),
                Some(&b'\n'),
                "value not newline-terminated"
            );
            i = start + len + 1;
        }
    }
    fields
}

#[test]
fn journal_fields_of_a_transition() {
    if !prerequisites() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let sock = UnixDatagram::bind(dir.path().join("socket")).expect("bind fake journald");
    sock.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let child = spawn_child(Some(dir.path()));

    let mut buf = vec![0u8; 64 * 1024];
    let fields = loop {
        let n = sock
            .recv(&mut buf)
            .expect("no journal datagram from the child");
        let fields = parse_native(&buf[..n]);
        if fields.iter().any(|(k, _)| k == "VRRP_INSTANCE") {
            break fields;
        }
    };
    let out = finish(child);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("SINK=Journal"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    let get = |key: &str| -> String {
        let vals: Vec<_> = fields.iter().filter(|(k, _)| k == key).collect();
        assert_eq!(vals.len(), 1, "{key} present once: {fields:?}");
        String::from_utf8_lossy(&vals[0].1).into_owned()
    };
    assert_eq!(get("VRRP_INSTANCE"), "VI_1");
    assert_eq!(get("VRRP_VRID"), "51");
    assert_eq!(get("VRRP_STATE"), "MASTER");
    assert_eq!(get("VRRP_PREV_STATE"), "BACKUP");
    assert_eq!(get("VRRP_PRIORITY"), "100");
    assert_eq!(get("VRRP_REASON"), "higher priority\nthan peer");
    assert_eq!(get("PRIORITY"), "6", "info level");
    assert_eq!(get("SYSLOG_IDENTIFIER"), "vrrp-ha");
    assert!(get("MESSAGE").starts_with("VI_1: BACKUP -> MASTER (priority 100)"));
    assert!(
        fields.iter().all(|(k, _)| !k.starts_with("F_")),
        "no F_ prefix: {fields:?}"
    );
}

#[test]
fn stderr_lines_without_a_journal() {
    if !prerequisites() {
        return;
    }
    let out = finish(spawn_child(None));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stdout.contains("SINK=Stderr"), "{stdout}");
    assert!(
        stderr.contains("VI_1: BACKUP -> MASTER (priority 100)"),
        "{stderr}"
    );
    assert!(stderr.contains("INFO"), "{stderr}");
}
