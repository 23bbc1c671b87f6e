//! The man pages lint clean with both mandoc and groff, and document what the
//! code pins: every config node and every journal field.

use std::path::PathBuf;
use std::process::Command;

const PAGES: [&str; 2] = ["man/vrrp-ha.kdl.5", "man/vrrp-ha.8"];

fn page(path: &str) -> (PathBuf, String) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (path, text)
}

/// Whether `tool` runs at all; without it the test fails in CI and skips elsewhere.
fn require(tool: &str, package: &str) -> bool {
    if Command::new(tool).arg("--version").output().is_ok() {
        return true;
    }
    let why = format!("{tool} not found (Debian package {package})");
    assert!(std::env::var_os("CI").is_none(), "{why}");
    eprintln!("skipped: {why}");
    false
}

/// Runs a linter on every page; any output at all is a finding.
fn lint(tool: &str, args: &[&str]) {
    let mut findings = String::new();
    for name in PAGES {
        let (path, _) = page(name);
        let out = Command::new(tool)
            .args(args)
            .arg(&path)
            .output()
            .unwrap_or_else(|e| panic!("run {tool}: {e}"));
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if !out.status.success() || !text.trim().is_empty() {
            findings.push_str(&format!("{name} ({}):\n{text}\n", out.status));
        }
    }
    assert!(
        findings.is_empty(),
        "{tool} {}:\n{findings}",
        args.join(" ")
    );
}

#[test]
fn mandoc_lint_is_clean() {
    if require("mandoc", "mandoc") {
        lint("mandoc", &["-T", "lint", "-W", "warning"]);
    }
}

#[test]
fn groff_is_silent() {
    if require("groff", "groff") {
        lint("groff", &["-man", "-ww", "-z"]);
    }
}

/// roff writes a literal hyphen as `\-`; undo that to search the text.
fn plain(text: &str) -> String {
    text.replace("\\-", "-")
}

#[test]
fn config_page_documents_every_node() {
    let text = plain(&page("man/vrrp-ha.kdl.5").1);
    let nodes = [
        // top level
        "router-id",
        "instance",
        "script",
        "sync-group",
        // instance
        "interface",
        "vrid",
        "priority",
        "version",
        "advert-interval",
        "preempt",
        "preempt-delay",
        "accept",
        "authentication",
        "virtual-ip",
        "unicast-source",
        "unicast-peer",
        "track-interface",
        "track-script",
        "track-file",
        "garp-repeat",
        "garp-refresh",
        "use-vmac",
        "v3-checksum",
        "notify",
        "on-master",
        "on-backup",
        "on-fault",
        "on-stop",
        // actions
        "start",
        "stop",
        "restart",
        "reload",
        "exec",
        // script
        "interval",
        "timeout",
        "rise",
        "fall",
        "weight",
        "user",
        // sync-group
        "instances",
    ];
    // Each node is documented by a .TP tag that starts with its name.
    let missing: Vec<_> = nodes
        .iter()
        .filter(|node| {
            !text.lines().any(|l| {
                let l = l
                    .trim_start_matches(".BI ")
                    .trim_start_matches(".BR ")
                    .trim_start_matches(".B ");
                l.trim_start_matches('"').starts_with(&format!("{node} "))
                    || l.trim_start_matches('"') == **node
            })
        })
        .collect();
    assert!(
        missing.is_empty(),
        "vrrp-ha.kdl(5) has no entry for {missing:?}"
    );
    for property in ["dev=", "label=", "weight="] {
        assert!(
            text.contains(property),
            "vrrp-ha.kdl(5) does not mention {property}"
        );
    }
}

#[test]
fn daemon_page_documents_cli_signals_and_journal_fields() {
    let text = plain(&page("man/vrrp-ha.8").1);
    for needle in [
        "run",
        "check",
        "status",
        "completions",
        "--config",
        "--log-level",
        "--version",
        "--help",
        "SIGTERM",
        "SIGINT",
        "SIGHUP",
        "VRRP_INSTANCE",
        "VRRP_VRID",
        "VRRP_STATE",
        "VRRP_PREV_STATE",
        "VRRP_PRIORITY",
        "VRRP_REASON",
        "journalctl -u vrrp-ha@VI_1 VRRP_STATE=MASTER",
        "/etc/vrrp-ha/vrrp-ha.kdl",
    ] {
        assert!(
            text.contains(needle),
            "vrrp-ha(8) does not mention {needle}"
        );
    }
    for code in ["0", "1", "2"] {
        assert!(
            text.contains(&format!(".TP\n.B {code}\n")),
            "vrrp-ha(8) EXIT STATUS has no entry for {code}"
        );
    }
}
