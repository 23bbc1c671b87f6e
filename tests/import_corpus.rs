//! The keepalived corpus: every `tests/keepalived/*.conf` is imported (config id `lb1`)
//! and must give exactly the KDL stored in `NAME.kdl` and the diagnostics (with the exit
//! code) stored in `NAME.stderr`; rewrite them with `UPDATE_SNAPSHOTS=1`. Every KDL
//! produced must pass `vrrp_ha::config::parse_str`, and every diagnostic must have a help
//! line and, where it points at the input, the file name and line.

use std::path::{Path, PathBuf};

use vrrp_ha::import::{self, Level, Options};

const DIR: &str = "tests/keepalived";

/// Corpus files, sorted, relative to the package root so diagnostics name them the same
/// on every machine.
fn corpus() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(DIR))
            .unwrap_or_else(|e| panic!("cannot list {DIR}: {e}"))
            .filter_map(|e| e.ok())
            .map(|e| Path::new(DIR).join(e.file_name()))
            .filter(|p| p.extension().is_some_and(|x| x == "conf"))
            .collect();
    files.sort();
    files
}

fn opts() -> Options {
    Options {
        config_id: Some("lb1".to_string()),
        split: false,
        includes: true,
    }
}

fn snapshot(path: &Path, ext: &str, got: &str, update: bool, failures: &mut Vec<String>) {
    let snap = Path::new(env!("CARGO_MANIFEST_DIR")).join(path.with_extension(ext));
    if update {
        if got.is_empty() {
            let _ = std::fs::remove_file(&snap);
        } else {
            std::fs::write(&snap, got).expect("write snapshot");
        }
        return;
    }
    let expected = std::fs::read_to_string(&snap).unwrap_or_default();
    if expected != got {
        failures.push(format!(
            "{}: differs from {}\n--- expected\n{expected}\n--- got\n{got}",
            path.display(),
            snap.display()
        ));
    }
}

#[test]
fn corpus_matches_snapshots_and_passes_check() {
    // The corpus runs from the package root: include paths and file names are relative.
    std::env::set_current_dir(env!("CARGO_MANIFEST_DIR")).expect("cd to the package root");
    let update = std::env::var_os("UPDATE_SNAPSHOTS").is_some_and(|v| v == "1");
    let files = corpus();
    assert!(files.len() >= 25, "only {} corpus configs", files.len());
    let mut failures = Vec::new();
    for path in &files {
        let result = import::import_file(path, &opts());
        for o in &result.outputs {
            if let Err(e) = vrrp_ha::config::parse_str(&o.text, &format!("{}.kdl", o.name)) {
                failures.push(format!(
                    "{}: output does not pass check:\n{}",
                    path.display(),
                    e.render_plain()
                ));
            }
        }
        for d in &result.diags {
            if d.help.is_none() {
                failures.push(format!("{}: `{}` has no help", path.display(), d.message));
            }
        }
        let rendered = result.render_plain();
        if result.diags.iter().any(|d| d.level != Level::Fatal)
            && !rendered.contains(&format!("{}:", path.display()))
        {
            failures.push(format!(
                "{}: file name missing from diagnostics",
                path.display()
            ));
        }
        let stderr = format!("exit {}\n{rendered}", result.exit_code());
        snapshot(path, "stderr", &stderr, update, &mut failures);
        let kdl = result
            .outputs
            .iter()
            .map(|o| o.text.as_str())
            .collect::<Vec<_>>()
            .join("\n");
        snapshot(path, "kdl", &kdl, update, &mut failures);
    }
    assert!(
        failures.is_empty(),
        "{} failures over {} configs:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}

#[test]
fn every_snapshot_has_its_config() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(DIR);
    for entry in std::fs::read_dir(&dir)
        .expect("list corpus")
        .filter_map(|e| e.ok())
    {
        let p = entry.path();
        if p.extension().is_some_and(|x| x == "stderr" || x == "kdl") {
            assert!(
                p.with_extension("conf").exists(),
                "stale snapshot {}",
                p.display()
            );
        }
    }
}

/// The corpus together uses every keyword the translation covers (issue 10's list).
#[test]
fn corpus_covers_every_translated_keyword() {
    let all: String = corpus()
        .iter()
        .chain(
            std::fs::read_dir(
                Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join(DIR)
                    .join("include"),
            )
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.path())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
            .iter(),
        )
        .map(|p| {
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(p))
                .unwrap_or_default()
        })
        .collect();
    let words: std::collections::HashSet<&str> = all
        .split(|c: char| c.is_whitespace() || c == '{' || c == '}')
        .collect();
    let mut missing = Vec::new();
    for kw in [
        "global_defs",
        "router_id",
        "vrrp_version",
        "vrrp_garp_master_delay",
        "vrrp_garp_master_repeat",
        "vrrp_garp_master_refresh",
        "script_user",
        "enable_script_security",
        "vrrp_instance",
        "state",
        "interface",
        "virtual_router_id",
        "priority",
        "advert_int",
        "version",
        "nopreempt",
        "preempt_delay",
        "authentication",
        "auth_type",
        "auth_pass",
        "PASS",
        "virtual_ipaddress",
        "dev",
        "label",
        "scope",
        "virtual_ipaddress_excluded",
        "unicast_src_ip",
        "unicast_peer",
        "track_interface",
        "track_script",
        "track_file",
        "weight",
        "notify",
        "notify_master",
        "notify_backup",
        "notify_fault",
        "notify_stop",
        "garp_master_delay",
        "garp_master_repeat",
        "garp_master_refresh",
        "use_vmac",
        "accept",
        "no_accept",
        "strict_mode",
        "vrrp_strict",
        "vrrp_script",
        "script",
        "interval",
        "timeout",
        "rise",
        "fall",
        "user",
        "vrrp_sync_group",
        "group",
        "vrrp_track_file",
        "file",
        "include",
        "native_ipv6",
        "virtual_server",
        "bfd_instance",
        "vrrp_track_process",
        "static_routes",
        "net_namespace",
        "enable_snmp_vrrp",
        "notification_email",
        "smtp_alert",
    ] {
        if !words.contains(kw) {
            missing.push(kw);
        }
    }
    assert!(
        all.contains("\n@lb1 ") && all.contains("\n@^lb1 "),
        "no @name lines"
    );
    assert!(
        all.contains("\n$") && all.contains("${"),
        "no $VAR definitions"
    );
    assert!(
        missing.is_empty(),
        "keywords not in the corpus: {missing:?}"
    );
}
