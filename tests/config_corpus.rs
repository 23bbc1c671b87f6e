//! The config corpus: every `tests/configs/invalid/*.kdl` must be rejected with exactly the
//! diagnostic stored next to it in `NAME.stderr` (rewrite them with `UPDATE_SNAPSHOTS=1`),
//! every `tests/configs/valid/*.kdl` must be accepted.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use vrrp_ha::config::{self, HookAction, LoadError, ProblemKind, WitnessKey, WITNESS_TIMEOUT};
use vrrp_ha::core::instance::WitnessPolicy;
use vrrp_ha::core::packet::{ChecksumMode, Version};

/// Corpus files, sorted, as paths relative to the package root (cargo runs tests there),
/// so the file names inside diagnostics are the same on every machine.
fn corpus(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(dir))
            .unwrap_or_else(|e| panic!("cannot list {dir}: {e}"))
            .filter_map(|e| e.ok())
            .map(|e| Path::new(dir).join(e.file_name()))
            .filter(|p| p.extension().is_some_and(|x| x == "kdl"))
            .collect();
    files.sort();
    files
}

fn invalid(path: &Path) -> config::ConfigError {
    match config::load(path) {
        Ok(_) => panic!("{} was accepted", path.display()),
        Err(LoadError::Io { source, .. }) => panic!("{}: {source}", path.display()),
        Err(LoadError::Invalid(e)) => e,
    }
}

#[test]
fn invalid_corpus_matches_snapshots() {
    let update = std::env::var_os("UPDATE_SNAPSHOTS").is_some_and(|v| v == "1");
    let files = corpus("tests/configs/invalid");
    assert!(files.len() >= 45, "only {} invalid configs", files.len());
    let mut failures = Vec::new();
    for path in &files {
        let err = match config::load(path) {
            Ok(_) => {
                failures.push(format!("{}: accepted", path.display()));
                continue;
            }
            Err(LoadError::Io { source, .. }) => {
                failures.push(format!("{}: {source}", path.display()));
                continue;
            }
            Err(LoadError::Invalid(e)) => e,
        };
        // One error class per file keeps each snapshot about one rule.
        let kinds: HashSet<ProblemKind> = err.problems().iter().map(|p| p.kind).collect();
        if kinds.len() != 1 {
            failures.push(format!(
                "{}: several error classes {kinds:?}",
                path.display()
            ));
        }
        for p in err.problems() {
            if p.help.is_none() {
                failures.push(format!(
                    "{}: `{}` has no help line",
                    path.display(),
                    p.message
                ));
            }
        }
        let rendered = err.render_plain();
        if !rendered.contains(&format!("{}:", path.display())) {
            failures.push(format!(
                "{}: file name missing from the diagnostic",
                path.display()
            ));
        }
        let snapshot = Path::new(env!("CARGO_MANIFEST_DIR")).join(path.with_extension("stderr"));
        if update {
            std::fs::write(&snapshot, &rendered).expect("write snapshot");
            continue;
        }
        match std::fs::read_to_string(&snapshot) {
            Ok(expected) if expected == rendered => {}
            Ok(expected) => failures.push(format!(
                "{}: diagnostic differs from {}\n--- expected\n{expected}\n--- got\n{rendered}",
                path.display(),
                snapshot.display()
            )),
            Err(_) => failures.push(format!(
                "{}: no snapshot {}; run with UPDATE_SNAPSHOTS=1\n{rendered}",
                path.display(),
                snapshot.display()
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}

#[test]
fn every_snapshot_has_its_config() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/configs/invalid");
    for entry in std::fs::read_dir(&dir)
        .expect("list corpus")
        .filter_map(|e| e.ok())
    {
        let path = entry.path();
        if path.extension().is_some_and(|x| x == "stderr") {
            assert!(
                path.with_extension("kdl").exists(),
                "stale snapshot {}",
                path.display()
            );
        }
    }
}

#[test]
fn valid_corpus_is_accepted() {
    let files = corpus("tests/configs/valid");
    assert!(files.len() >= 5);
    for path in files {
        if let Err(e) = config::load(&path) {
            match e {
                LoadError::Invalid(e) => panic!("{}", e.render_plain()),
                e => panic!("{e}"),
            }
        }
    }
}

#[test]
fn all_three_errors_are_reported() {
    let err = invalid(Path::new("tests/configs/three-errors.kdl"));
    let kinds: Vec<ProblemKind> = err.problems().iter().map(|p| p.kind).collect();
    assert_eq!(
        kinds,
        [
            ProblemKind::OutOfRange,
            ProblemKind::UnknownNode,
            ProblemKind::Undefined
        ]
    );
    let text = err.render_plain();
    for needle in [
        "3 errors",
        "[tests/configs/three-errors.kdl:4:10]",
        "`vrid` 300 is out of range",
        "[tests/configs/three-errors.kdl:5:5]",
        "did you mean `priority`?",
        "[tests/configs/three-errors.kdl:7:18]",
        "no script named `missing`",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
}

#[test]
fn defaults_are_filled_in() {
    let cfg = config::load(Path::new("tests/configs/valid/minimal.kdl")).expect("valid");
    assert_eq!(cfg.router_id, None);
    let i = &cfg.instances[0];
    assert_eq!(
        (i.name.as_str(), i.interface.as_str(), i.vrid, i.priority),
        ("VI_1", "eth0", 51, 100)
    );
    assert_eq!(i.version, Version::V3);
    assert_eq!(i.advert_interval, Duration::from_secs(1));
    assert_eq!(i.interval_cs(), 100);
    assert!(i.preempt && i.accept && !i.use_vmac);
    assert_eq!(i.preempt_delay, Duration::ZERO);
    assert_eq!(i.garp_repeat, 5);
    assert_eq!(i.garp_refresh, Duration::ZERO);
    assert_eq!(i.v3_checksum, ChecksumMode::PseudoHeader);
    assert_eq!(i.virtual_ips[0].prefix, 32);
    assert_eq!(i.auth_bytes(), None);
    assert!(!i.is_ipv6());
    // No metrics without the node.
    assert_eq!(cfg.metrics, None);
    assert_eq!(cfg.instances[0].witness, None);
}

#[test]
fn metrics_listen_defaults_to_loopback() {
    let cfg = config::load(Path::new("tests/configs/valid/metrics.kdl")).expect("valid");
    let listen = cfg.metrics.expect("metrics node").listen;
    assert_eq!(listen.to_string(), "127.0.0.1:9650");
    let bare = "metrics\ninstance \"VI_1\" { interface \"eth0\"; vrid 51; virtual-ip \"192.0.2.200/24\" }\n";
    let cfg = config::parse_str(bare, "bare.kdl").expect("valid");
    assert_eq!(
        cfg.metrics.map(|m| m.listen.to_string()).as_deref(),
        Some(config::Metrics::DEFAULT_LISTEN)
    );
    let v6 = bare.replace("metrics\n", "metrics listen=\"[::1]:9100\"\n");
    let cfg = config::parse_str(&v6, "v6.kdl").expect("valid");
    assert_eq!(cfg.metrics.map(|m| m.listen.port()), Some(9100));
}

#[test]
fn witness_settings_are_read_exactly() {
    let cfg = config::load(Path::new("tests/configs/valid/witness.kdl")).expect("valid");
    let w = cfg.instances[0].witness.as_ref().expect("witnesses");
    assert_eq!(
        w.addrs,
        [
            "192.0.2.10:5112".parse().expect("literal"),
            "192.0.2.11:6000".parse().expect("literal")
        ]
    );
    assert_eq!(w.policy, WitnessPolicy::Strict);
    assert_eq!(w.timeout, Duration::from_millis(8));
    assert_eq!(w.key, WitnessKey::File("/etc/vrrp-ha/witness.key".into()));
    let w = cfg.instances[1].witness.as_ref().expect("witnesses");
    assert_eq!(w.addrs, ["[2001:db8::10]:5112".parse().expect("literal")]);
    assert_eq!(w.policy, WitnessPolicy::Available);
    assert_eq!(w.timeout, WITNESS_TIMEOUT);
    assert_eq!(w.key, WitnessKey::Credential("witness.key".into()));
}

#[test]
fn values_are_read_exactly() {
    let cfg = config::load(Path::new("tests/configs/valid/v2-pass.kdl")).expect("valid");
    let i = &cfg.instances[0];
    assert_eq!(i.version, Version::V2);
    assert_eq!(i.priority, 255);
    assert_eq!(i.advert_interval, Duration::from_secs(3));
    assert_eq!(i.interval_cs(), 300);
    assert_eq!(i.auth_bytes(), Some(*b"12345678"));
    assert_eq!(i.virtual_ips[1].dev.as_deref(), Some("eth1"));
    assert_eq!(i.virtual_ips[1].label.as_deref(), Some("eth1:vip"));
    assert_eq!(i.virtual_ips[1].prefix, 24);

    let cfg = config::load(Path::new("tests/configs/valid/v3-fast.kdl")).expect("valid");
    let (fast, slow) = (&cfg.instances[0], &cfg.instances[1]);
    assert_eq!(fast.interval_cs(), 1);
    assert_eq!(slow.interval_cs(), 4095);
    assert_eq!(fast.preempt_delay, Duration::from_millis(1500));
    assert!(!fast.preempt && !fast.accept);
    assert_eq!(fast.v3_checksum, ChecksumMode::Message);

    let cfg = config::load(Path::new("tests/configs/valid/tracking.kdl")).expect("valid");
    assert_eq!(cfg.router_id.as_deref(), Some("lb1"));
    let i = &cfg.instances[0];
    assert_eq!(i.track_interfaces[0].weight, 0);
    assert_eq!(i.track_interfaces[1].weight, -254);
    assert_eq!(i.track_scripts[0].weight, None);
    assert_eq!(i.track_scripts[1].weight, Some(254));
    assert_eq!(i.track_files[0].weight, 1);
    assert_eq!(i.garp_refresh, Duration::from_secs(120));
    assert_eq!(
        i.hooks.on_master,
        [
            HookAction::Start("a.service".into()),
            HookAction::Stop("b.socket".into()),
            HookAction::Restart("c.target".into()),
            HookAction::Reload("nginx.service".into()),
            HookAction::Exec(vec!["/bin/logger".into(), "master".into()]),
        ]
    );
    assert_eq!(cfg.instances[1].interface, "eth1");
    let (chk, chk2) = (&cfg.scripts[0], &cfg.scripts[1]);
    assert_eq!(
        (chk.interval, chk.timeout, chk.rise, chk.fall, chk.weight),
        (Duration::from_secs(1), Duration::from_secs(1), 1, 1, 0)
    );
    assert_eq!(chk2.exec, ["/bin/sh", "-c", "exit 0"]);
    assert_eq!(
        (chk2.interval, chk2.timeout),
        (Duration::from_millis(100), Duration::from_millis(50))
    );
    assert_eq!(
        (chk2.rise, chk2.fall, chk2.weight, chk2.user.as_deref()),
        (100, 3, -254, Some("nobody"))
    );
    let g = &cfg.sync_groups[0];
    assert_eq!(g.instances, ["VI_1", "VI_2"]);
    assert_eq!(g.hooks.on_fault, [HookAction::Stop("nginx.service".into())]);
    assert_eq!(cfg.summary(), "2 instances, 2 scripts, 2 virtual IPs");
}

#[test]
fn parse_str_uses_the_given_name() {
    let err = config::parse_str("instance \"x\" {}", "some/where.kdl").expect_err("invalid");
    assert_eq!(err.file_name(), "some/where.kdl");
    assert!(err.render_plain().contains("[some/where.kdl:1:"));
    assert_eq!(
        err.problems().len(),
        3,
        "interface, vrid and virtual-ip are all missing"
    );
}

#[test]
fn thousands_of_errors_render_quickly_and_capped() {
    let mut src = String::from(
        "instance \"VI_1\" {\n    interface \"eth0\"\n    vrid 51\n    virtual-ip \"192.0.2.1\"\n",
    );
    src.push_str(&"    colour 1\n".repeat(2000));
    src.push_str("}\n");
    let started = std::time::Instant::now();
    let err = config::parse_str(&src, "many.kdl").expect_err("invalid");
    assert_eq!(err.problems().len(), 2000, "every problem is collected");
    let text = err.render_plain();
    assert_eq!(
        text.matches("unknown node `colour`").count(),
        config::MAX_RENDERED
    );
    assert!(text.contains(&format!(
        "and {} more errors not shown",
        2000 - config::MAX_RENDERED
    )));
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn oversized_and_deeply_nested_input_is_refused_without_a_crash() {
    let huge = format!(
        "instance \"VI_1\" {{ }}\n{}",
        "// padding\n".repeat(200_000)
    );
    let err = config::parse_str(&huge, "huge.kdl").expect_err("too large");
    assert!(err.problems()[0].message.contains("bytes long"));
    // Deep enough to overflow the KDL parser's stack if it ever got there.
    let deep = format!("{}{}", "a { ".repeat(100_000), "} ".repeat(100_000));
    let err = config::parse_str(&deep, "deep.kdl").expect_err("too deep");
    assert!(err.problems()[0].message.contains("nested too deeply"));
    let comments = "/* ".repeat(100_000);
    assert!(config::parse_str(&comments, "c.kdl").is_err());
}

#[test]
fn a_program_with_spaces_in_its_path_is_accepted_while_it_exists() {
    let dir = tempfile::tempdir().expect("tempdir");
    let program = dir.path().join("my checks").join("ok.sh");
    std::fs::create_dir_all(program.parent().expect("parent")).expect("mkdir");
    std::fs::write(&program, "#!/bin/sh\nexit 0\n").expect("write program");
    let src = format!(
        "instance \"VI_1\" {{\n interface \"eth0\"\n vrid 51\n virtual-ip \"192.0.2.200/24\"\n \
         track-script \"chk\"\n}}\nscript \"chk\" {{\n exec \"{}\" \"-q\"\n}}\n",
        program.display()
    );
    let cfg = config::parse_str(&src, "spaces.kdl").expect("an existing program is a program");
    assert_eq!(cfg.scripts[0].exec[0], program.display().to_string());

    std::fs::remove_file(&program).expect("remove program");
    let err = config::parse_str(&src, "spaces.kdl").expect_err("now a command line");
    let p = &err.problems()[0];
    assert_eq!(p.kind, ProblemKind::BadValue);
    let (before, after) = program
        .to_str()
        .expect("utf-8 path")
        .split_once(' ')
        .expect("a space");
    let split = format!("`exec \"{before}\" \"{after}\" \"-q\"`");
    let help = p.help.as_deref().unwrap_or_default();
    assert!(help.contains(&split), "{split} not in {help}");
}
