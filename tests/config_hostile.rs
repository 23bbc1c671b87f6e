//! Hostile config files that once crashed the renderer of diagnostics: a labelled span
//! past column 65 535 of its line makes miette's graphical handler panic ("Formatting
//! argument out of range", a format width over u16::MAX), so `vrrp-ha check` exited 101
//! and a running daemon died on SIGHUP (found by tests/lab_storm.rs). Each file here
//! must give exit 1 and a diagnostic, from the library and from the CLI.

use std::process::Command;

use vrrp_ha::config::{self, parse_str};

/// A valid config to build the bad ones from.
const BASE: &str =
    "router-id \"lb1\"\ninstance \"VI_1\" {\n    interface \"eth0\"\n    vrid 51\n    \
                    priority 100\n    virtual-ip \"192.0.2.200/24\"\n}\n";

/// Files whose one problem sits past column 65 535: (name, bytes, what the message says).
fn long_lines() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    let pad = " ".repeat(70_000);
    vec![
        (
            "over the size limit on one line",
            format!("{BASE}{}", " ".repeat(2 << 20)).into_bytes(),
            "bytes long",
        ),
        (
            "an unknown node at column 70 000",
            format!("{}{pad}bogus 1\n", BASE.trim_end()).into_bytes(),
            "bogus",
        ),
        (
            "an out-of-range value at column 70 000",
            BASE.replace("priority 100", &format!("{pad}priority 300"))
                .into_bytes(),
            "out of range",
        ),
        (
            "a syntax error at column 70 000",
            format!("{BASE}{pad}instance {{{{\n").into_bytes(),
            "",
        ),
        (
            "an invalid UTF-8 byte at column 70 000",
            {
                let mut b = format!("{BASE}//{pad}").into_bytes();
                b.push(0xff);
                b
            },
            "UTF-8",
        ),
    ]
}

/// `parse_str` (via `config::load`) refuses each file and renders its diagnostic.
#[test]
fn diagnostics_past_column_65535_render() {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, bytes, says) in long_lines() {
        let path = dir.path().join("long.kdl");
        std::fs::write(&path, &bytes).expect("write");
        let err = match config::load(&path) {
            Ok(_) => panic!("{name}: accepted"),
            Err(config::LoadError::Invalid(e)) => e,
            Err(e) => panic!("{name}: {e}"),
        };
        let text = std::panic::catch_unwind(|| err.render_plain())
            .unwrap_or_else(|_| panic!("{name}: rendering the diagnostic panicked"));
        assert!(text.contains(says), "{name}: {text}");
        // A diagnostic that echoes a 70 000-character line floods the journal.
        let longest = text.lines().map(str::len).max().unwrap_or(0);
        assert!(
            longest <= 1000,
            "{name}: a {longest}-byte line in the diagnostic"
        );
    }
    // The same text straight through parse_str, as the fuzz target calls it.
    let (_, bytes, _) = &long_lines()[1];
    let text = String::from_utf8_lossy(bytes);
    let err = parse_str(&text, "long.kdl").expect_err("unknown node");
    assert!(std::panic::catch_unwind(|| err.render_plain()).is_ok());
}

/// `vrrp-ha check` exits 1 with the diagnostic, never 101 with a panic.
#[test]
fn check_exits_1_on_diagnostics_past_column_65535() {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, bytes, _) in long_lines() {
        let path = dir.path().join("long.kdl");
        std::fs::write(&path, &bytes).expect("write");
        let out = Command::new(env!("CARGO_BIN_EXE_vrrp-ha"))
            .arg("check")
            .arg("--config")
            .arg(&path)
            .env("NO_COLOR", "1")
            .output()
            .expect("run vrrp-ha check");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{name}: {}",
            &stderr[..stderr.len().min(2000)]
        );
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
    }
}

/// The same files with the problem on a short line: these render today, and keep
/// doing so (the size limit, an unknown node, a range check, invalid UTF-8).
#[test]
fn diagnostics_on_short_lines_of_big_files_render() {
    let big = "// padding\n".repeat(100_000);
    let pad = "// padding\n".repeat(2_000);
    let cases = [
        (format!("{BASE}{big}"), "bytes long"),
        (format!("{pad}{BASE}bogus 1\n"), "bogus"),
        (
            BASE.replace("priority 100", "priority 300") + &pad,
            "out of range",
        ),
    ];
    for (text, says) in cases {
        let err = parse_str(&text, "big.kdl").expect_err("invalid");
        let out = err.render_plain();
        assert!(out.contains(says), "{out}");
    }
}
