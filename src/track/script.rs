//! Tracked scripts: run a health check's argv on a timer, off the event loop, and
//! turn its exit codes into a good/bad state with keepalived's rise/fall hysteresis.
//!
//! Each run follows the common rules of [`crate::process`] (own process group, forked
//! off the loop thread, the whole group killed at `timeout`); a timeout counts as a
//! failure. Runs start every `interval` from the first one at spawn; a run that
//! overruns delays the next. Scripts that would run as root are refused when they, or
//! any directory above them, could be changed by a non-root user (keepalived's
//! `enable_script_security`, always on here).

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use nix::unistd::Uid;

use crate::config::Script;
pub use crate::process::RunAs;
use crate::process::{self, Outcome, Output, Spec, UserError};

/// PATH used to resolve a bare `argv[0]` when the environment has none.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Why a script was refused or cannot be run.
#[derive(Debug, thiserror::Error)]
pub enum SecurityError {
    /// The `exec` argv is empty.
    #[error("script has an empty exec argv")]
    EmptyArgv,
    /// A bare program name was not found in PATH.
    #[error("`{0}` not found in PATH")]
    NotInPath(String),
    /// The program or one of its directories could not be examined.
    #[error("cannot access `{path}`: {source}")]
    Access {
        /// The path that failed.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The program is not a regular file with an execute bit.
    #[error("`{0}` is not an executable file")]
    NotExecutable(PathBuf),
    /// The program would run as root but a non-root user could change it.
    #[error("refusing to run `{script}` as root: `{path}` {why}")]
    Insecure {
        /// The program that was checked.
        script: PathBuf,
        /// The offending path component (the file itself or a directory above it).
        path: PathBuf,
        /// What is wrong with it.
        why: String,
    },
    /// `user` could not be resolved.
    #[error(transparent)]
    User(#[from] UserError),
}

/// Finds the file a program name refers to: names with a `/` are taken as they are,
/// bare names are searched in PATH (first executable regular file wins).
pub fn resolve_program(argv0: &str) -> Result<PathBuf, SecurityError> {
    if argv0.is_empty() {
        return Err(SecurityError::EmptyArgv);
    }
    if argv0.contains('/') {
        return Ok(PathBuf::from(argv0));
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| DEFAULT_PATH.into());
    for dir in std::env::split_paths(&path) {
        // An empty PATH entry means the working directory; a daemon must not run
        // whatever happens to lie there.
        if dir.as_os_str().is_empty() || dir.is_relative() {
            continue;
        }
        let candidate = dir.join(argv0);
        if let Ok(meta) = std::fs::metadata(&candidate) {
            if meta.is_file() && meta.permissions().mode() & 0o111 != 0 {
                return Ok(candidate);
            }
        }
    }
    Err(SecurityError::NotInPath(argv0.to_string()))
}

/// Checks that no non-root user can change the program (bare names are resolved via
/// PATH first): the file and every directory above it must be owned by root and
/// writable by nobody else (group write is fine for group root; sticky directories
/// such as /tmp are fine). Both the path as written and its symlink-free form are
/// checked, so a symlink cannot lead around the rule. Same rule as keepalived's
/// script security.
pub fn check_script_security(path: impl AsRef<Path>) -> Result<(), SecurityError> {
    let given = path.as_ref();
    let program = match given.to_str() {
        Some(s) if !s.contains('/') => resolve_program(s)?,
        _ => given.to_path_buf(),
    };
    let absolute = std::path::absolute(&program).map_err(|source| SecurityError::Access {
        path: program.clone(),
        source,
    })?;
    let canonical = std::fs::canonicalize(&absolute).map_err(|source| SecurityError::Access {
        path: absolute.clone(),
        source,
    })?;
    for checked in [&absolute, &canonical] {
        let mut prefix = PathBuf::new();
        for component in checked.components() {
            match component {
                Component::CurDir => continue,
                c => prefix.push(c.as_os_str()),
            }
            check_component(&program, &prefix)?;
        }
    }
    Ok(())
}

/// Applies keepalived's per-component rule to one path (symlinks followed).
fn check_component(script: &Path, path: &Path) -> Result<(), SecurityError> {
    let meta = std::fs::metadata(path).map_err(|source| SecurityError::Access {
        path: path.to_path_buf(),
        source,
    })?;
    let insecure = |why: String| SecurityError::Insecure {
        script: script.to_path_buf(),
        path: path.to_path_buf(),
        why,
    };
    if meta.uid() != 0 {
        return Err(insecure(format!("is owned by uid {}", meta.uid())));
    }
    let mode = meta.mode();
    let sticky_dir = meta.is_dir() && mode & 0o1000 != 0;
    if sticky_dir {
        return Ok(());
    }
    if meta.gid() != 0 && mode & 0o020 != 0 {
        return Err(insecure(format!("is writable by group {}", meta.gid())));
    }
    if mode & 0o002 != 0 {
        return Err(insecure("is writable by everyone".to_string()));
    }
    Ok(())
}

/// A script ready to run: the resolved program, its argv and identity.
#[derive(Clone, Debug)]
pub struct Prepared {
    /// The file that is executed (PATH already resolved).
    pub program: PathBuf,
    /// The argv as configured (argv\[0\] kept as written).
    pub argv: Vec<String>,
    /// Who to run as; `None` keeps the daemon's identity.
    pub run_as: Option<RunAs>,
}

/// Resolves and checks a program before running it: PATH lookup, execute bit, the
/// `user` account, and the security rule when the daemon is root and the program
/// would run as root. Used at start (before every run) and by `vrrp-ha check`.
pub fn prepare(argv: &[String], user: Option<&str>) -> Result<Prepared, SecurityError> {
    let run_as = user.map(RunAs::lookup).transpose()?;
    prepare_as(argv, run_as)
}

/// [`prepare`] with the identity already resolved (runners look the user up once,
/// not before every run: a slow directory service must not stall the loop).
pub fn prepare_as(argv: &[String], run_as: Option<RunAs>) -> Result<Prepared, SecurityError> {
    let argv0 = argv.first().ok_or(SecurityError::EmptyArgv)?;
    let program = resolve_program(argv0)?;
    let meta = std::fs::metadata(&program).map_err(|source| SecurityError::Access {
        path: program.clone(),
        source,
    })?;
    if !meta.is_file() || meta.permissions().mode() & 0o111 == 0 {
        return Err(SecurityError::NotExecutable(program));
    }
    let runs_as_root = run_as
        .as_ref()
        .map_or(Uid::effective().is_root(), |r| r.uid.is_root());
    if Uid::effective().is_root() && runs_as_root {
        check_script_security(&program)?;
    }
    Ok(Prepared {
        program,
        argv: argv.to_vec(),
        run_as,
    })
}

/// [`prepare`] for a configured `script` node.
pub fn check_script(script: &Script) -> Result<Prepared, SecurityError> {
    prepare(&script.exec, script.user.as_deref())
}

/// Runs a prepared script once by the common process rules ([`crate::process`]): output
/// discarded, the whole group killed at `timeout`. Returns whether it succeeded and how
/// it ended, in words.
pub async fn run_once(prepared: &Prepared, timeout: Duration) -> (bool, String) {
    let (ok, detail, _) = run_once_classified(prepared, timeout).await;
    (ok, detail)
}

/// [`run_once`] with the result's class for the metrics: `ok`, `failed`, `timeout`, `error`.
async fn run_once_classified(
    prepared: &Prepared,
    timeout: Duration,
) -> (bool, String, &'static str) {
    let spec = Spec {
        program: prepared.program.clone(),
        argv: prepared.argv.clone(),
        env: Vec::new(),
        run_as: prepared.run_as.clone(),
        timeout,
        output: Output::Discard,
    };
    match process::run(spec).await {
        Ok(Outcome::Exited(0)) => (true, "succeeded".to_string(), "ok"),
        Ok(Outcome::Exited(code)) => (false, format!("failed (exit status {code})"), "failed"),
        Ok(Outcome::Signaled(sig)) => (false, format!("failed (killed by signal {sig})"), "failed"),
        Ok(Outcome::Timeout) => (false, format!("timed out after {timeout:?}"), "timeout"),
        Err(e) => {
            tracing::warn!(program = %prepared.program.display(), "script could not run: {e}");
            (false, format!("could not run: {e}"), "error")
        }
    }
}

/// Runs a check that touches the file system or the account database (either may
/// be slow: NFS, LDAP) on the blocking pool.
async fn off_loop<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, SecurityError> + Send + 'static,
) -> Result<T, SecurityError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(result) => result,
        Err(e) => Err(SecurityError::Access {
            path: PathBuf::new(),
            source: std::io::Error::other(e),
        }),
    }
}

/// A tracked script's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScriptState {
    /// No result yet: neither adds nor subtracts weight, never a fault.
    Init,
    /// Succeeding.
    Good,
    /// Failing.
    Bad,
}

/// keepalived's rise/fall rule: `fall` consecutive failures turn Good into Bad,
/// `rise` consecutive successes turn Bad into Good; from Init the first result
/// decides at once (keepalived starts a script one success short of good, and a
/// failure while still in init marks it failed).
#[derive(Clone, Debug)]
pub struct Hysteresis {
    rise: u32,
    fall: u32,
    state: ScriptState,
    streak: u32,
}

impl Hysteresis {
    /// A new counter in [`ScriptState::Init`]; rise/fall of 0 are taken as 1.
    pub fn new(rise: u32, fall: u32) -> Self {
        Hysteresis {
            rise: rise.max(1),
            fall: fall.max(1),
            state: ScriptState::Init,
            streak: 0,
        }
    }

    /// A counter that starts in `state` (a reloaded script keeps its last result
    /// instead of dropping back to Init, which would flap the priority).
    pub fn with_state(rise: u32, fall: u32, state: ScriptState) -> Self {
        Hysteresis {
            state,
            ..Hysteresis::new(rise, fall)
        }
    }

    /// The current state.
    pub fn state(&self) -> ScriptState {
        self.state
    }

    /// Records one result; returns the new state when it changed.
    pub fn record(&mut self, ok: bool) -> Option<ScriptState> {
        let next = match (self.state, ok) {
            (ScriptState::Init, true) => ScriptState::Good,
            (ScriptState::Init, false) => ScriptState::Bad,
            (ScriptState::Good, true) | (ScriptState::Bad, false) => {
                self.streak = 0;
                return None;
            }
            (ScriptState::Good, false) => {
                self.streak += 1;
                if self.streak < self.fall {
                    return None;
                }
                ScriptState::Bad
            }
            (ScriptState::Bad, true) => {
                self.streak += 1;
                if self.streak < self.rise {
                    return None;
                }
                ScriptState::Good
            }
        };
        self.state = next;
        self.streak = 0;
        Some(next)
    }
}

/// Runs `script` every `interval` (first run at once) until the task is dropped,
/// starting from `initial` and calling `on_change` with each state change. The
/// program is re-checked before every run, so a script that becomes unsafe or
/// disappears counts as failing.
pub async fn run_forever(
    script: Script,
    initial: ScriptState,
    mut on_change: impl FnMut(ScriptState, &str),
) {
    let mut hysteresis = Hysteresis::with_state(script.rise, script.fall, initial);
    let interval = if script.interval.is_zero() {
        Duration::from_secs(1)
    } else {
        script.interval
    };
    let timeout = if script.timeout.is_zero() {
        interval
    } else {
        script.timeout
    };
    let mut ticker = tokio::time::interval(interval);
    // A run that overruns its interval delays the next one rather than causing a
    // burst of catch-up runs (keepalived skips a run while one is in progress).
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_error: Option<String> = None;
    let mut identity: Option<Option<RunAs>> = None;
    loop {
        ticker.tick().await;
        if identity.is_none() {
            // Looked up until it resolves once, then kept for this definition.
            let user = script.user.clone();
            let looked_up =
                off_loop(move || Ok(user.as_deref().map(RunAs::lookup).transpose()?)).await;
            match looked_up {
                Ok(run_as) => identity = Some(run_as),
                Err(e) => {
                    let msg = e.to_string();
                    if last_error.as_deref() != Some(msg.as_str()) {
                        tracing::error!(script = %script.name, "script refused: {msg}");
                    }
                    last_error = Some(msg.clone());
                    if let Some(state) = hysteresis.record(false) {
                        on_change(state, &format!("refused: {msg}"));
                    }
                    continue;
                }
            }
        }
        let run_as = identity.clone().flatten();
        let exec = script.exec.clone();
        let started = std::time::Instant::now();
        let (ok, detail) = match off_loop(move || prepare_as(&exec, run_as)).await {
            Ok(prepared) => {
                last_error = None;
                let (ok, detail, class) = run_once_classified(&prepared, timeout).await;
                crate::metrics::observe_check(&script.name, class, started.elapsed());
                (ok, detail)
            }
            Err(e) => {
                let msg = e.to_string();
                if last_error.as_deref() != Some(msg.as_str()) {
                    tracing::error!(script = %script.name, "script refused: {msg}");
                }
                last_error = Some(msg.clone());
                crate::metrics::observe_check(&script.name, "error", started.elapsed());
                (false, format!("refused: {msg}"))
            }
        };
        tracing::debug!(script = %script.name, "script run {detail}");
        if let Some(state) = hysteresis.record(ok) {
            on_change(state, &detail);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(h: &mut Hysteresis, results: &[bool]) -> Vec<Option<ScriptState>> {
        results.iter().map(|&ok| h.record(ok)).collect()
    }

    #[test]
    fn first_result_decides_from_init() {
        let mut h = Hysteresis::new(3, 3);
        assert_eq!(h.record(true), Some(ScriptState::Good));
        let mut h = Hysteresis::new(3, 3);
        assert_eq!(h.record(false), Some(ScriptState::Bad));
    }

    #[test]
    fn fall_needs_consecutive_failures() {
        let mut h = Hysteresis::new(2, 3);
        h.record(true);
        // Two failures, a success resets, then exactly three failures flip it.
        let got = feed(&mut h, &[false, false, true, false, false, false]);
        assert_eq!(
            got,
            vec![None, None, None, None, None, Some(ScriptState::Bad)]
        );
    }

    #[test]
    fn rise_needs_consecutive_successes() {
        let mut h = Hysteresis::new(2, 3);
        h.record(false);
        let got = feed(&mut h, &[true, false, true, true]);
        assert_eq!(got, vec![None, None, None, Some(ScriptState::Good)]);
        assert_eq!(h.state(), ScriptState::Good);
    }

    #[test]
    fn rise_and_fall_of_one_follow_every_result() {
        let mut h = Hysteresis::new(1, 1);
        let got = feed(&mut h, &[true, false, true, true, false]);
        assert_eq!(
            got,
            vec![
                Some(ScriptState::Good),
                Some(ScriptState::Bad),
                Some(ScriptState::Good),
                None,
                Some(ScriptState::Bad)
            ]
        );
    }

    #[test]
    fn with_state_keeps_counting_from_there() {
        let mut h = Hysteresis::with_state(1, 2, ScriptState::Bad);
        assert_eq!(h.record(false), None);
        assert_eq!(h.record(true), Some(ScriptState::Good));
        assert_eq!(h.record(false), None);
        assert_eq!(h.record(false), Some(ScriptState::Bad));
    }

    #[test]
    fn zero_rise_fall_behave_as_one() {
        let mut h = Hysteresis::new(0, 0);
        let got = feed(&mut h, &[true, false, true]);
        assert!(got.iter().all(Option::is_some));
    }

    #[test]
    fn bare_names_resolve_via_path() {
        let sh = resolve_program("sh").expect("sh in PATH");
        assert!(sh.is_absolute());
        assert!(matches!(
            resolve_program("vh-no-such-program-here"),
            Err(SecurityError::NotInPath(_))
        ));
        assert!(matches!(resolve_program(""), Err(SecurityError::EmptyArgv)));
    }
}
