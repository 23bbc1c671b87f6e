//! The benchmark suite (`benches/run`, issue 12) must not rot between full runs: its dry
//! run renders every configuration of every mode and has both daemons check it, and,
//! as root, its smoke mode runs each kind of measurement for a second or two in the lab
//! against keepalived and this build. No figure is asserted: benchmarks are not tests.

mod lab;
mod prereq;

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A program from PATH (or the sbin directories); missing fails under CI and skips otherwise.
fn tool(test: &str, name: &str) -> Option<PathBuf> {
    let found = prereq::find(name);
    prereq::require(test, found.is_some(), &format!("{name} is missing"))
        .then_some(found)
        .flatten()
}

fn bench(py: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(py)
        .arg(root().join("benches/bench.py"))
        .args(["--vrrp-ha", env!("CARGO_BIN_EXE_vrrp-ha")])
        .args(args)
        .output()
        .expect("run benches/bench.py");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn bench_dry_run_configurations_are_accepted_by_both_daemons() {
    let Some(py) = tool("bench_dry_run", "python3") else {
        return;
    };
    let (ok, text) = bench(&py, &["--dry-run"]);
    assert!(ok, "benches/bench.py --dry-run failed:\n{text}");
    assert!(text.contains("all configurations valid"), "{text}");
    // Under CI keepalived is installed, so its half of the check must have run too.
    if std::env::var_os("CI").is_some() {
        assert!(!text.contains("not found"), "keepalived missing:\n{text}");
    }
}

#[test]
fn bench_smoke_runs_each_measurement_against_both_daemons() {
    if !lab::require_lab("bench_smoke", true) {
        return;
    }
    let Some(py) = tool("bench_smoke", "python3") else {
        return;
    };
    if tool("bench_smoke", "strace").is_none() {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let report = dir.path().join("report.md");
    let r = report.display().to_string();
    let (ok, text) = bench(&py, &["--smoke", "--report", &r]);
    assert!(ok, "benches/bench.py --smoke failed:\n{text}");
    let md = std::fs::read_to_string(&report).expect("smoke report written");
    for heading in [
        "## 1. Failover gap",
        "## 1b. SIGTERM",
        "## 1c. Maintenance",
        "## 4. Transition latency",
        "## 2b. False failovers under random VRRP loss",
        "## 3. Cost and stability at scale",
        "### System calls per advert",
        "## 5. Health-check cost",
    ] {
        assert!(md.contains(heading), "no {heading:?} in the report:\n{md}");
    }
    // Both daemons produced figures: the gap row has a number in both columns.
    let gap = md
        .lines()
        .find(|l| l.starts_with('|') && l.contains("gap median (ms)"))
        .unwrap_or_else(|| panic!("no gap row:\n{md}"));
    let cols: Vec<&str> = gap.split('|').map(str::trim).collect();
    assert!(
        cols.len() > 4 && cols[3].parse::<f64>().is_ok() && cols[4].parse::<f64>().is_ok(),
        "gap row without figures for both daemons: {gap}"
    );
}
