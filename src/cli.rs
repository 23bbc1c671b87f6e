//! The command line: `run`, `check`, `status`, `import`, `witness`, `completions`.
//!
//! Exit codes: 0 success, 1 invalid configuration (or a failed daemon), 2 usage errors and
//! unreadable files (clap's own usage errors also exit 2).

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};

use crate::config::{self, Config, HookAction, LoadError};
use crate::hooks::systemd::{lookup_units, UnitLookup};

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
    /// Show the state of running instances: 0 shown, 3 no daemon running for this config.
    Status {
        /// Show only the daemon running this configuration file (default: every daemon).
        #[arg(short, long, value_name = "PATH")]
        config: Option<PathBuf>,
    },
    /// Translate a keepalived.conf into vrrp-ha KDL: 0 all translated, 1 something left out, 2 unreadable.
    Import {
        /// keepalived's configuration file (its includes are read too).
        #[arg(value_name = "KEEPALIVED_CONF")]
        file: PathBuf,
        /// Write one NAME.kdl per sync group or free instance, for vrrp-ha@NAME units.
        #[arg(long)]
        split: bool,
        /// Directory to write the KDL file(s) into, or `-` for stdout.
        #[arg(short, long, value_name = "DIR|-", default_value = "-")]
        output: String,
        /// keepalived's config id, for `@NAME` lines (default: the short host name).
        #[arg(long, value_name = "NAME")]
        config_id: Option<String>,
    },
    /// Run a witness: hear the VRRP adverts on a LAN and tell the BACKUPs asking over UDP
    /// whether their MASTER is still heard there (against two-node split brain).
    Witness {
        /// The interface whose adverts to hear (the clients' side).
        #[arg(short, long, value_name = "IF")]
        interface: String,
        /// Where to answer queries.
        #[arg(short, long, value_name = "ADDR:PORT", default_value = "0.0.0.0:5112")]
        listen: SocketAddr,
        /// The key shared with the nodes; give it twice while replacing a key.
        #[arg(short, long = "key-file", value_name = "PATH", required = true)]
        key_file: Vec<PathBuf>,
    },
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
            Ok(cfg) => check_scripts(&config, &cfg),
            Err(code) => code,
        },
        Command::Status { config } => status(config.as_deref()),
        Command::Import {
            file,
            split,
            output,
            config_id,
        } => import(&file, split, &output, config_id),
        Command::Witness {
            interface,
            listen,
            key_file,
        } => crate::witness::serve::run(
            crate::witness::serve::Options {
                interface,
                listen,
                key_files: key_file,
            },
            cli.log_level.into(),
        ),
        Command::Completions { shell } => {
            let mut out = std::io::stdout().lock();
            clap_complete::generate(shell, &mut Cli::command(), "vrrp-ha", &mut out);
            // A closed pipe (`| head`) is not worth a panic.
            let _ = out.flush();
            ExitCode::SUCCESS
        }
    }
}

/// The rest of `check` once the file is valid: refuse programs others could change
/// that would run as root (keepalived's script security), warn about missing ones and
/// about units systemd does not know.
fn check_scripts(path: &Path, cfg: &Config) -> ExitCode {
    let mut verdict = crate::track::vet_programs(cfg);
    let keys = crate::witness::key::vet(cfg);
    verdict.warnings.extend(keys.warnings);
    verdict.refused.extend(keys.refused);
    for w in verdict.warnings.iter().chain(&unit_warnings(cfg)) {
        eprintln!("{}: warning: {w}", path.display());
    }
    if verdict.refused.is_empty() {
        println!("{}: OK: {}", path.display(), cfg.summary());
        return ExitCode::SUCCESS;
    }
    for r in &verdict.refused {
        eprintln!("{}: refused: {r}", path.display());
    }
    ExitCode::FAILURE
}

/// How long `check` waits for systemd's answers about the units the actions name.
const UNIT_LOOKUP_TIMEOUT: Duration = Duration::from_secs(2);

/// Each `start`/`stop`/`restart`/`reload` action with the unit it names, described as
/// "reload in on-master of instance \"VI_1\"".
fn unit_actions(cfg: &Config) -> Vec<(String, &str)> {
    let scopes = cfg
        .instances
        .iter()
        .map(|i| (format!("instance {:?}", i.name), &i.hooks))
        .chain(
            cfg.sync_groups
                .iter()
                .map(|g| (format!("group {:?}", g.name), &g.hooks)),
        );
    let mut found = Vec::new();
    for (scope, hooks) in scopes {
        for (list, actions) in [
            ("on-master", &hooks.on_master),
            ("on-backup", &hooks.on_backup),
            ("on-fault", &hooks.on_fault),
            ("on-stop", &hooks.on_stop),
        ] {
            for action in actions {
                let (verb, unit) = match action {
                    HookAction::Start(u) => ("start", u),
                    HookAction::Stop(u) => ("stop", u),
                    HookAction::Restart(u) => ("restart", u),
                    HookAction::Reload(u) => ("reload", u),
                    HookAction::Exec(_) => continue,
                };
                found.push((format!("{verb} in {list} of {scope}"), unit.as_str()));
            }
        }
    }
    found
}

/// Warnings for units that systemd does not have (a typo shows only at the next failover
/// otherwise). Asked of systemd on the system bus; without one, or without an answer within
/// [`UNIT_LOOKUP_TIMEOUT`], nothing is said.
fn unit_warnings(cfg: &Config) -> Vec<String> {
    let actions = unit_actions(cfg);
    let mut units: Vec<String> = actions.iter().map(|(_, u)| u.to_string()).collect();
    units.sort();
    units.dedup();
    if units.is_empty() {
        return Vec::new();
    }
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return Vec::new();
    };
    let Some(found) = rt.block_on(lookup_units(None, &units, UNIT_LOOKUP_TIMEOUT)) else {
        return Vec::new();
    };
    let mut warnings = Vec::new();
    for (what, unit) in actions {
        let Some((_, lookup)) = found.iter().find(|(u, _)| u == unit) else {
            continue;
        };
        let problem = match lookup {
            UnitLookup::Loaded => continue,
            UnitLookup::NotFound { closest: Some(c) } => {
                format!("systemd has no unit {unit:?}; did you mean {c:?}?")
            }
            UnitLookup::NotFound { closest: None } => {
                format!("systemd has no unit {unit:?}; is its package installed?")
            }
            UnitLookup::Masked => {
                format!("unit {unit:?} is masked; systemd will refuse to act on it")
            }
            UnitLookup::Broken(state) => format!(
                "systemd cannot load unit {unit:?} (load state {state}); see `systemctl status {unit}`"
            ),
            UnitLookup::Refused(why) => format!("systemd refuses the unit name {unit:?}: {why}"),
        };
        warnings.push(format!("{what}: {problem}"));
    }
    warnings
}

/// `vrrp-ha import`: translate, print the diagnostics, write the files.
fn import(file: &Path, split: bool, output: &str, config_id: Option<String>) -> ExitCode {
    use std::io::IsTerminal;
    let opts = crate::import::Options {
        config_id: config_id.or_else(crate::import::short_hostname),
        split,
        includes: true,
    };
    let result = crate::import::import_file(file, &opts);
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    eprint!(
        "{}",
        result.render_with(std::io::stderr().is_terminal() && !no_color)
    );
    let mut code = result.exit_code();
    if code == 2 {
        return ExitCode::from(2);
    }
    // The programs named are vetted on this machine, as `check` and `run` vet them here.
    for o in &result.outputs {
        let Ok(cfg) = config::parse_str(&o.text, &format!("{}.kdl", o.name)) else {
            continue;
        };
        let verdict = crate::track::vet_programs(&cfg);
        for w in &verdict.warnings {
            eprintln!("{}.kdl: warning: {w}", o.name);
        }
        for r in &verdict.refused {
            eprintln!(
                "{}.kdl: `vrrp-ha check` will refuse this until it is fixed: {r}",
                o.name
            );
            code = code.max(1);
        }
    }
    let units: Vec<String> = result
        .outputs
        .iter()
        .map(|o| {
            if split {
                format!("systemctl enable --now vrrp-ha@{}", o.name)
            } else {
                "systemctl enable --now vrrp-ha".to_string()
            }
        })
        .collect();
    if output == "-" {
        let mut out = std::io::stdout().lock();
        for (i, o) in result.outputs.iter().enumerate() {
            let sep = if i > 0 { "\n" } else { "" };
            let head = if split {
                format!("{sep}// ===== {}.kdl =====\n", o.name)
            } else {
                String::new()
            };
            if write!(out, "{head}{}", o.text).is_err() {
                return ExitCode::from(2);
            }
        }
        let _ = out.flush();
        for u in &units {
            eprintln!("{u}");
        }
    } else {
        let dir = Path::new(output);
        if let Err(e) = std::fs::create_dir_all(dir) {
            eprintln!("vrrp-ha import: cannot create {}: {e}", dir.display());
            return ExitCode::from(2);
        }
        for o in &result.outputs {
            let path = dir.join(format!("{}.kdl", o.name));
            if let Err(e) = std::fs::write(&path, &o.text) {
                eprintln!("vrrp-ha import: cannot write {}: {e}", path.display());
                return ExitCode::from(2);
            }
            eprintln!("wrote {}", path.display());
        }
        for u in &units {
            println!("{u}");
        }
    }
    ExitCode::from(code)
}

/// `vrrp-ha status`: print the state files the running daemons keep.
fn status(config: Option<&Path>) -> ExitCode {
    use crate::daemon::status;
    let files = match config {
        Some(path) => vec![status::state_file(path)],
        None => {
            let dir = status::state_dir();
            let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
                .map(|entries| {
                    entries
                        .filter_map(|e| e.ok().map(|e| e.path()))
                        .filter(|p| p.extension().is_some_and(|x| x == "state"))
                        .collect()
                })
                .unwrap_or_default();
            files.sort();
            files
        }
    };
    let mut shown = 0;
    for file in &files {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        let stem = file
            .file_stem()
            .map(|s| s.to_string_lossy())
            .unwrap_or_default();
        println!("{stem}:");
        for l in status::parse(&text) {
            println!(
                "  {:<16} vrid {:<3} {:<6} priority {:<3} master {}",
                l.instance,
                l.vrid,
                l.state,
                l.priority,
                l.master.as_deref().unwrap_or("-")
            );
        }
        shown += 1;
    }
    if shown == 0 {
        eprintln!("vrrp-ha status: no running vrrp-ha daemon found");
        return ExitCode::from(3);
    }
    ExitCode::SUCCESS
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
