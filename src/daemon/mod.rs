//! The daemon: the I/O shell around the pure core.
//!
//! Data flows one way: the [`engine`] turns inputs (packets, link and address events,
//! tracking, completions, signals) into core events, and the core's outputs into
//! effects on the [`ports`]; the [`live`] loop supplies real inputs and real ports.
//! All protocol decisions live in [`crate::core`].

mod api;
pub mod dbus;
mod deadline;
pub mod engine;
pub mod host;
mod live;
pub mod metrics;
pub mod ports;
pub mod reload;
mod sched;
mod setup;
pub mod status;
mod witness_sockets;

use std::path::PathBuf;
use std::process::ExitCode;

use crate::config::Config;
use crate::net::NetError;

pub use setup::{params_for, vips_of};

/// Why the daemon could not start or had to stop.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The network side failed while setting up.
    #[error("{0}")]
    Net(#[from] NetError),
    /// An instance cannot be started as configured on this host.
    #[error("instance {instance:?}: {problem}")]
    Instance {
        /// Instance name.
        instance: String,
        /// What is wrong.
        problem: String,
    },
    /// A program (tracked script, notify, exec action) would run as root but others can change it.
    #[error("refusing to start: {0}")]
    InsecureScripts(String),
    /// Signal handlers could not be installed.
    #[error("install signal handler: {0}")]
    Signal(std::io::Error),
}

/// Set up logging at `level`: the journal under systemd, stderr otherwise
/// (see [`crate::logging::init`]); a subscriber already installed is kept.
pub fn init_logging(level: tracing::Level) {
    let _sink = crate::logging::init(level);
}

/// Run the daemon for `config` (read from `config_path`) until SIGTERM / SIGINT.
pub fn run(config_path: PathBuf, config: Config, log_level: tracing::Level) -> ExitCode {
    init_logging(log_level);
    block_on_to_exit(live::run(config_path, config))
}

/// The single-threaded runtime every vrrp-ha process runs on: one event loop, so the
/// order of events is the order they were read.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

/// Run `main` on [`runtime`]; its error, or a runtime that cannot start, is logged and
/// ends the process with a failure.
pub fn block_on_to_exit<E: std::fmt::Display>(
    main: impl std::future::Future<Output = Result<(), E>>,
) -> ExitCode {
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("cannot start the tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(main) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::FAILURE
        }
    }
}
