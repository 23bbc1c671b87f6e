//! `exec` actions and `notify` scripts: an argv run directly (no shell) in its own process group,
//! its output logged line by line, the whole group killed at the timeout.

use std::io;
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Command;

/// Default bound on one `exec` action or `notify` script.
pub const DEFAULT_EXEC_TIMEOUT: Duration = Duration::from_secs(30);

/// How long output still in the pipes is waited for once the program exited; a backgrounded
/// grandchild may hold the pipes open for ever, so after this the readers carry on detached.
const OUTPUT_GRACE: Duration = Duration::from_millis(200);

/// Longest output line logged as is; longer lines are cut so a runaway script cannot flood the log.
const MAX_LINE: usize = 4096;

/// How a program ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExecOutcome {
    /// Exited by itself with this status (0 = success).
    Exited(i32),
    /// Killed by this signal (not by us).
    Signaled(i32),
    /// Ran past the timeout; its whole process group was killed with SIGKILL.
    Timeout,
}

impl ExecOutcome {
    /// Exit status 0.
    pub fn success(&self) -> bool {
        *self == ExecOutcome::Exited(0)
    }
}

/// A program that could not be run at all.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The argv was empty (config validation should prevent this).
    #[error("empty argv")]
    EmptyArgv,
    /// fork/exec failed (missing file, not executable, ...).
    #[error("cannot run {program}: {source}")]
    Spawn {
        /// argv[0].
        program: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// Waiting for the child failed.
    #[error("lost track of {program}: {source}")]
    Wait {
        /// argv[0].
        program: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}

/// Run `argv` with `env` added to the daemon's environment, logging its output under `instance`;
/// at `timeout` the program's whole process group is killed.
pub async fn run(
    instance: &str,
    argv: &[String],
    env: &[(String, String)],
    timeout: Duration,
) -> Result<ExecOutcome, ExecError> {
    let Some((program, args)) = argv.split_first() else {
        return Err(ExecError::EmptyArgv);
    };
    let mut cmd = Command::new(program);
    cmd.args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own group, so the timeout also reaches whatever it forked.
        .process_group(0)
        .kill_on_drop(false);
    let mut child = cmd.spawn().map_err(|source| ExecError::Spawn {
        program: program.clone(),
        source,
    })?;
    let pid = child.id();

    let mut readers = Vec::new();
    if let Some(out) = child.stdout.take() {
        readers.push(tokio::spawn(log_lines(
            out,
            instance.to_string(),
            program.clone(),
            false,
        )));
    }
    if let Some(err) = child.stderr.take() {
        readers.push(tokio::spawn(log_lines(
            err,
            instance.to_string(),
            program.clone(),
            true,
        )));
    }

    let status = match tokio::time::timeout(timeout, child.wait()).await {
        Ok(res) => res.map_err(|source| ExecError::Wait {
            program: program.clone(),
            source,
        })?,
        Err(_) => {
            // Not yet reaped, so the pid (= pgid) cannot have been reused.
            if let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) {
                if let Err(e) = killpg(Pid::from_raw(pid), Signal::SIGKILL) {
                    tracing::warn!(VRRP_INSTANCE = instance, program = %program, "killpg {pid}: {e}");
                }
            }
            // Reap the leader; it got SIGKILL so this returns promptly.
            let _ = child.wait().await;
            drain(readers).await;
            return Ok(ExecOutcome::Timeout);
        }
    };
    drain(readers).await;
    Ok(match (status.code(), status.signal()) {
        (Some(code), _) => ExecOutcome::Exited(code),
        (None, Some(sig)) => ExecOutcome::Signaled(sig),
        // Neither code nor signal does not happen for a waited child on Unix.
        (None, None) => ExecOutcome::Exited(-1),
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

/// [`run`], logging the outcome; returns it for the caller too.
pub async fn run_logged(
    instance: &str,
    what: &str,
    argv: &[String],
    env: &[(String, String)],
    timeout: Duration,
) -> Result<ExecOutcome, ExecError> {
    let started = std::time::Instant::now();
    let outcome = run(instance, argv, env, timeout).await;
    let ms = started.elapsed().as_millis() as u64;
    let program = argv.first().map(String::as_str).unwrap_or("");
    match &outcome {
        Ok(ExecOutcome::Exited(0)) => {
            tracing::info!(
                VRRP_INSTANCE = instance,
                program,
                ms,
                "{what} {program}: exit 0"
            )
        }
        Ok(ExecOutcome::Exited(code)) => tracing::warn!(
            VRRP_INSTANCE = instance,
            program,
            ms,
            "{what} {program}: failed with exit status {code}"
        ),
        Ok(ExecOutcome::Signaled(sig)) => tracing::warn!(
            VRRP_INSTANCE = instance,
            program,
            ms,
            "{what} {program}: killed by signal {sig}"
        ),
        Ok(ExecOutcome::Timeout) => tracing::warn!(
            VRRP_INSTANCE = instance,
            program,
            ms,
            "{what} {program}: timeout after {timeout:?}, process group killed"
        ),
        Err(e) => tracing::error!(VRRP_INSTANCE = instance, program, "{what}: {e}"),
    }
    outcome
}
