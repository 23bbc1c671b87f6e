//! Running a child program: one set of rules for health checks, `exec` actions and
//! `notify` scripts.
//!
//! - The argv runs directly, never through a shell.
//! - fork and exec happen on the blocking pool, never on the event loop's thread.
//! - The child is the leader of its own process group, so a timeout reaches whatever it
//!   forked: at the timeout the whole group gets SIGKILL at once (a health check or a
//!   notify script needs no grace period; keepalived sends SIGTERM first). A run that
//!   is abandoned (its task dropped, the daemon shutting down) kills its group too.
//!   Background children of a program that exited by itself are its own business.
//! - systemd's NOTIFY_SOCKET and WATCHDOG_* are removed from the environment, so no
//!   child can speak for the daemon to its service manager; the caller's variables
//!   (VRRP_*) are added.
//! - stdin is /dev/null; stdout and stderr are logged line by line under the instance
//!   (cut at [`MAX_LINE`] bytes) or discarded.
//! - Optionally it runs as another user, resolved before the fork.

use std::ffi::CString;
use std::io;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{killpg, Signal};
use nix::unistd::{Gid, Pid, Uid, User};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

/// The variables of systemd's notification protocol, which children must not inherit.
pub const SERVICE_MANAGER_VARS: [&str; 3] = ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"];

/// How long output still in the pipes is waited for once the program exited; a backgrounded
/// grandchild may hold the pipes open for ever, so after this the readers carry on detached.
const OUTPUT_GRACE: Duration = Duration::from_millis(200);

/// Longest output line logged as is; longer lines are cut so a runaway script cannot flood the log.
pub const MAX_LINE: usize = 4096;

/// The identity a program runs as, resolved once so nothing touches the account
/// database between fork and exec.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunAs {
    /// User name.
    pub name: String,
    /// User id.
    pub uid: Uid,
    /// Primary group.
    pub gid: Gid,
    /// Supplementary groups, as `initgroups` would set them.
    pub groups: Vec<Gid>,
}

/// Why a user could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    /// `user` names no account.
    #[error("unknown user `{0}`")]
    Unknown(String),
    /// The account database could not be read.
    #[error("cannot look up user `{user}`: {source}")]
    Lookup {
        /// The user name.
        user: String,
        /// The underlying error.
        source: nix::Error,
    },
}

impl RunAs {
    /// Resolves a user name into its uid, primary gid and supplementary groups.
    pub fn lookup(name: &str) -> Result<Self, UserError> {
        let user = User::from_name(name)
            .map_err(|source| UserError::Lookup {
                user: name.to_string(),
                source,
            })?
            .ok_or_else(|| UserError::Unknown(name.to_string()))?;
        let cname = CString::new(name).map_err(|_| UserError::Unknown(name.to_string()))?;
        let groups =
            nix::unistd::getgrouplist(&cname, user.gid).map_err(|source| UserError::Lookup {
                user: name.to_string(),
                source,
            })?;
        Ok(RunAs {
            name: name.to_string(),
            uid: user.uid,
            gid: user.gid,
            groups,
        })
    }
}

/// What to do with the child's output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// /dev/null (health checks: only the exit status counts).
    Discard,
    /// Log each line under this instance name (stdout at INFO, stderr at WARN).
    Log(String),
}

/// One program to run.
#[derive(Clone, Debug)]
pub struct Spec {
    /// The file to execute (a bare name is looked up in PATH).
    pub program: PathBuf,
    /// The argv, argv\[0\] as configured.
    pub argv: Vec<String>,
    /// Variables added to the daemon's environment.
    pub env: Vec<(String, String)>,
    /// Who to run as; `None` keeps the daemon's identity.
    pub run_as: Option<RunAs>,
    /// When the process group is killed.
    pub timeout: Duration,
    /// What happens to stdout and stderr.
    pub output: Output,
}

/// How a program ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Exited by itself with this status (0 = success).
    Exited(i32),
    /// Killed by this signal (not by us).
    Signaled(i32),
    /// Ran past the timeout; its whole process group was killed with SIGKILL.
    Timeout,
}

impl Outcome {
    /// Exit status 0.
    pub fn success(&self) -> bool {
        *self == Outcome::Exited(0)
    }
}

/// A program that could not be run at all.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The argv was empty (config validation should prevent this).
    #[error("empty argv")]
    EmptyArgv,
    /// fork/exec failed (missing file, not executable, ...).
    #[error("cannot run {program}: {source}")]
    Spawn {
        /// argv\[0\].
        program: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// Waiting for the child failed.
    #[error("lost track of {program}: {source}")]
    Wait {
        /// argv\[0\].
        program: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}

/// Kills a process group when dropped, so a run abandoned half way leaves nothing behind.
struct GroupGuard(Option<Pid>);

impl GroupGuard {
    fn kill(&mut self) {
        if let Some(pgid) = self.0.take() {
            // ESRCH just means everything already exited.
            let _ = killpg(pgid, Signal::SIGKILL);
        }
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Run `spec` to its end or its timeout.
pub async fn run(spec: Spec) -> Result<Outcome, RunError> {
    let Some(argv0) = spec.argv.first() else {
        return Err(RunError::EmptyArgv);
    };
    let program = argv0.clone();
    let mut cmd = tokio::process::Command::new(&spec.program);
    cmd.arg0(argv0)
        .args(spec.argv.iter().skip(1))
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .process_group(0)
        .kill_on_drop(true);
    for var in SERVICE_MANAGER_VARS {
        cmd.env_remove(var);
    }
    let log_as = match &spec.output {
        Output::Discard => {
            cmd.stdout(Stdio::null()).stderr(Stdio::null());
            None
        }
        Output::Log(instance) => {
            cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
            Some(instance.clone())
        }
    };
    if let Some(run_as) = spec.run_as.clone() {
        // SAFETY: the closure runs between fork and exec and only makes the
        // setgroups/setgid/setuid system calls on data resolved beforehand: no
        // allocation, no locks, no account database.
        unsafe {
            cmd.pre_exec(move || {
                nix::unistd::setgroups(&run_as.groups)?;
                nix::unistd::setgid(run_as.gid)?;
                nix::unistd::setuid(run_as.uid)?;
                Ok(())
            });
        }
    }
    let spawned = tokio::task::spawn_blocking(move || cmd.spawn()).await;
    let mut child = match spawned {
        Ok(Ok(child)) => child,
        Ok(Err(source)) => return Err(RunError::Spawn { program, source }),
        Err(e) => {
            return Err(RunError::Spawn {
                program,
                source: io::Error::other(e),
            })
        }
    };
    let mut group = GroupGuard(
        child
            .id()
            .and_then(|id| i32::try_from(id).ok())
            .map(Pid::from_raw),
    );
    let mut readers = Vec::new();
    if let Some(instance) = log_as {
        if let Some(out) = child.stdout.take() {
            readers.push(tokio::spawn(log_lines(
                out,
                instance.clone(),
                program.clone(),
                false,
            )));
        }
        if let Some(err) = child.stderr.take() {
            readers.push(tokio::spawn(log_lines(
                err,
                instance,
                program.clone(),
                true,
            )));
        }
    }
    let status = match tokio::time::timeout(spec.timeout, child.wait()).await {
        Ok(Ok(status)) => status,
        Ok(Err(source)) => return Err(RunError::Wait { program, source }),
        Err(_) => {
            group.kill();
            // Reap the leader; it got SIGKILL so this returns promptly.
            let _ = child.wait().await;
            drain(readers).await;
            return Ok(Outcome::Timeout);
        }
    };
    // Exited by itself: leftovers in its group are not ours to kill.
    group.0 = None;
    drain(readers).await;
    Ok(match (status.code(), status.signal()) {
        (Some(code), _) => Outcome::Exited(code),
        (None, Some(sig)) => Outcome::Signaled(sig),
        // Neither code nor signal does not happen for a waited child on Unix.
        (None, None) => Outcome::Exited(-1),
    })
}

/// Wait briefly for the output readers so a program's lines are logged before its outcome.
async fn drain(readers: Vec<tokio::task::JoinHandle<()>>) {
    let all = futures_util::future::join_all(readers);
    let _ = tokio::time::timeout(OUTPUT_GRACE, all).await;
}

async fn log_lines<R: AsyncRead + Unpin>(pipe: R, instance: String, program: String, stderr: bool) {
    let mut reader = BufReader::new(pipe);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            buf.pop();
        }
        buf.truncate(MAX_LINE);
        let line = String::from_utf8_lossy(&buf);
        if stderr {
            tracing::warn!(VRRP_INSTANCE = %instance, program = %program, stream = "stderr", "{program}: {line}");
        } else {
            tracing::info!(VRRP_INSTANCE = %instance, program = %program, stream = "stdout", "{program}: {line}");
        }
    }
}
