//! The command line: `run`, `check`, `status`, `completions`.
//!
//! Exit codes: 0 success, 1 invalid configuration (or a failed daemon), 2 usage errors and
//! unreadable files (clap's own usage errors also exit 2).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};

use crate::config::{self, Config, LoadError};

/// Where `run` and `check` look without `--config` (`vrrp-ha.service`'s file).
pub const DEFAULT_CONFIG: &str = "/etc/vrrp-ha/vrrp-ha.kdl";

/// VRRP (RFC 3768 / RFC 9568) high-availability daemon, configured in KDL.
#[derive(Debug, Parser)]
#[command(name = "vrrp-ha", version, about, propagate_version = true)]
pub struct Cli {
    /// Log verbosity.
    #[arg(long, global = true, value_enum, default_value_t = LogLevel::Info)]
    pub log_level: LogLevel,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon in the foreground (systemd style, no forking).
    Run {
        /// Configuration file.
        #[arg(short, long, value_name = "PATH", default_value = DEFAULT_CONFIG)]
        config: PathBuf,
    },
    /// Check a configuration file and exit: 0 valid, 1 invalid, 2 unreadable.
    Check {
        /// Configuration file.
        #[arg(short, long, value_name = "PATH", default_value = DEFAULT_CONFIG)]
        config: PathBuf,
    },
    /// Show the state of the running instances (not implemented yet).
    Status,
    /// Print a shell completion script to stdout.
    Completions {
        /// The shell to generate completions for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// `--log-level` values.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogLevel {
    /// Errors only.
    Error,
    /// Warnings and errors.
    Warn,
    /// Normal operation: state changes, actions.
    Info,
    /// Details for troubleshooting.
    Debug,
    /// Everything, including each packet.
    Trace,
}

impl From<LogLevel> for tracing::Level {
    fn from(l: LogLevel) -> Self {
        match l {
            LogLevel::Error => tracing::Level::ERROR,
            LogLevel::Warn => tracing::Level::WARN,
            LogLevel::Info => tracing::Level::INFO,
            LogLevel::Debug => tracing::Level::DEBUG,
            LogLevel::Trace => tracing::Level::TRACE,
        }
    }
}

/// Entry point of the `vrrp-ha` binary.
pub fn main() -> ExitCode {
    // parse() prints help/version (exit 0) and usage errors (exit 2) itself.
    let cli = Cli::parse();
    match cli.command {
        Command::Run { config } => match load(&config) {
            Ok(cfg) => crate::daemon::run(config, cfg, cli.log_level.into()),
            Err(code) => code,
        },
        Command::Check { config } => match load(&config) {
            Ok(cfg) => {
                println!("{}: OK: {}", config.display(), cfg.summary());
                ExitCode::SUCCESS
            }
            Err(code) => code,
        },
        Command::Status => {
            eprintln!("vrrp-ha status: not implemented yet");
            ExitCode::FAILURE
        }
        Command::Completions { shell } => {
            let mut out = std::io::stdout().lock();
            clap_complete::generate(shell, &mut Cli::command(), "vrrp-ha", &mut out);
            // A closed pipe (`| head`) is not worth a panic.
            let _ = out.flush();
            ExitCode::SUCCESS
        }
    }
}

/// Loads a config, printing diagnostics and mapping failures to exit codes (1 invalid, 2 unreadable).
fn load(path: &Path) -> Result<Config, ExitCode> {
    match config::load(path) {
        Ok(cfg) => Ok(cfg),
        Err(LoadError::Io { path, source }) => {
            eprintln!("vrrp-ha: cannot read {}: {source}", path.display());
            Err(ExitCode::from(2))
        }
        Err(LoadError::Invalid(err)) => {
            eprint!("{}", err.render());
            Err(ExitCode::FAILURE)
        }
    }
}
