//! The daemon: a tokio event loop driving the pure core and carrying out its actions.

// STUB: replaced by the daemon work
/// Runs the daemon until stopped (stub until the daemon lands).
pub fn run(
    config_path: std::path::PathBuf,
    config: crate::config::Config,
    log_level: tracing::Level,
) -> std::process::ExitCode {
    let _ = (config_path, config, log_level);
    eprintln!("vrrp-ha run: the daemon is not implemented yet");
    std::process::ExitCode::FAILURE
}
