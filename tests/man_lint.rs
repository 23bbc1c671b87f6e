//! The man pages lint clean with both mandoc and groff, and document what the
//! code pins: every config node and every journal field.

mod prereq;

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
    prereq::require(
        "man_lint",
        prereq::on_path(tool),
        &format!("{tool} not found (Debian package {package})"),
    )
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
    // The parser's own list: a node added to the language must be documented.
    let nodes = vrrp_ha::config::schema::all_nodes();
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

/// The configuration examples in vrrp-ha.kdl(5): the `.nf`/`.fi` blocks that
/// define an instance, with roff escapes undone.
fn man_examples() -> Vec<String> {
    let text = page("man/vrrp-ha.kdl.5").1;
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        match (line, current.as_mut()) {
            (".nf", None) => current = Some(String::new()),
            (".fi", Some(_)) => blocks.extend(current.take()),
            (_, Some(block)) => {
                block.push_str(&plain(line).replace("\\e", "\\").replace("\\(dq", "\""));
                block.push('\n');
            }
            _ => {}
        }
    }
    blocks.retain(|b| b.contains("instance \""));
    blocks
}

/// The ```kdl blocks of README.md.
fn readme_examples() -> Vec<String> {
    let text = page("README.md").1;
    text.split("```kdl\n")
        .skip(1)
        .filter_map(|rest| {
            rest.split_once("\n```")
                .map(|(block, _)| format!("{block}\n"))
        })
        .collect()
}

#[test]
fn documented_examples_pass_check() {
    let examples: Vec<(String, String)> = man_examples()
        .into_iter()
        .enumerate()
        .map(|(i, b)| (format!("vrrp-ha.kdl(5) example {}", i + 1), b))
        .chain(
            readme_examples()
                .into_iter()
                .enumerate()
                .map(|(i, b)| (format!("README.md kdl block {}", i + 1), b)),
        )
        .collect();
    assert!(
        examples.len() >= 3,
        "expected at least 2 man page examples and 1 README example"
    );
    let dir = std::env::temp_dir().join(format!("vrrp-ha-doc-examples-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let mut failures = String::new();
    for (i, (name, body)) in examples.iter().enumerate() {
        let file = dir.join(format!("example{i}.kdl"));
        std::fs::write(&file, body).expect("write example");
        let out = Command::new(env!("CARGO_BIN_EXE_vrrp-ha"))
            .arg("check")
            .arg("--config")
            .arg(&file)
            .output()
            .expect("run vrrp-ha check");
        if !out.status.success() {
            failures.push_str(&format!(
                "{name} ({}):\n{body}\n{}{}\n",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        failures.is_empty(),
        "documented examples that `vrrp-ha check` rejects:\n{failures}"
    );
}
