//! The one rule for a test whose prerequisites are missing: under `CI` it fails loudly,
//! elsewhere it prints why it skips. It never passes silently.

#![allow(dead_code)]

use std::process::{Command, Stdio};

/// Whether `test` should go on: with something `missing`, panics under `CI` and otherwise
/// prints the skip reason and returns false.
pub fn go_on(test: &str, missing: Option<String>) -> bool {
    let Some(why) = missing else {
        return true;
    };
    if std::env::var_os("CI").is_some() {
        panic!("{test} cannot run under CI: {why}");
    }
    eprintln!("SKIP {test}: {why}");
    false
}

/// [`go_on`] for one condition: `what` names what is missing when `ok` is false.
pub fn require(test: &str, ok: bool, what: &str) -> bool {
    go_on(test, (!ok).then(|| what.to_string()))
}

/// Whether `tool --version` runs and succeeds.
pub fn runs(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether the process runs as root.
pub fn is_root() -> bool {
    nix::unistd::Uid::effective().is_root()
}

/// Whether `tool` is an executable file on `PATH` or in the sbin directories (for tools
/// without a `--version`).
pub fn on_path(tool: &str) -> bool {
    find(tool).is_some()
}

/// Where `tool` is: the first executable file of that name on `PATH` or in the sbin
/// directories.
pub fn find(tool: &str) -> Option<std::path::PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(std::path::PathBuf::from))
        .map(|dir| dir.join(tool))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}
