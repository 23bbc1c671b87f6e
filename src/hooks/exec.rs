//! `exec` actions and `notify` scripts: an argv run by [`crate::process`] (no shell, its own
//! process group, output logged line by line, the whole group killed at the timeout).

use std::path::PathBuf;
use std::time::Duration;

use crate::process::{self, Output, Spec};

/// Default bound on one `exec` action or `notify` script.
pub const DEFAULT_EXEC_TIMEOUT: Duration = Duration::from_secs(30);

/// How a program ended.
pub type ExecOutcome = process::Outcome;

/// A program that could not be run at all.
pub type ExecError = process::RunError;

/// Run `argv` with `env` added to the daemon's environment, logging its output under `instance`;
/// at `timeout` the program's whole process group is killed.
pub async fn run(
    instance: &str,
    argv: &[String],
    env: &[(String, String)],
    timeout: Duration,
) -> Result<ExecOutcome, ExecError> {
    let Some(program) = argv.first() else {
        return Err(ExecError::EmptyArgv);
    };
    process::run(Spec {
        program: PathBuf::from(program),
        argv: argv.to_vec(),
        env: env.to_vec(),
        run_as: None,
        timeout,
        output: Output::Log(instance.to_string()),
    })
    .await
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
