//! The command line: `run`, `check`, `status`, `drain`, `resume`, `import`, `witness`,
//! `completions`.
//!
//! Exit codes: 0 success, 1 invalid configuration, a failed daemon or a refused drain, 2
//! usage errors and unreadable files (clap's own usage errors also exit 2), 3 no such
//! daemon or instance.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};

use crate::config::{self, Config, HookAction, LoadError};
use crate::daemon::status::{DaemonStatus, StatusReport};
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
    /// Show every instance of every running daemon (live over D-Bus, else from the state
    /// files): 0 shown, 3 no such daemon running.
    Status {
        /// Only the daemon of this unit instance / config stem (`vrrp-ha@NAME`).
        #[arg(value_name = "NAME")]
        name: Option<String>,
        /// Only the daemon running this configuration file.
        #[arg(short, long, value_name = "PATH", conflicts_with = "name")]
        config: Option<PathBuf>,
        /// Print JSON (the shape in vrrp-ha(8), with a "version" field).
        #[arg(long)]
        json: bool,
    },
    /// Take an instance out of service: a MASTER hands over at once, and the instance stays
    /// BACKUP until `resume`, also across reloads and restarts: 0 done, 1 refused, 3 no
    /// such instance.
    Drain {
        /// The instance (as in `instance "VI_1"`).
        #[arg(value_name = "INSTANCE")]
        instance: String,
        /// Drain at once even when no other router has been heard: the VIPs may go down
        /// (without it a MASTER keeps them until another router has taken over).
        #[arg(long)]
        force: bool,
        /// The daemon (config stem) running it, when several run an instance of that name.
        #[arg(long, value_name = "NAME")]
        daemon: Option<String>,
    },
    /// End a drain: the instance is electable again: 0 done, 1 refused, 3 no such instance.
    Resume {
        /// The instance.
        #[arg(value_name = "INSTANCE")]
        instance: String,
        /// The daemon (config stem) running it, when several run an instance of that name.
        #[arg(long, value_name = "NAME")]
        daemon: Option<String>,
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
        Command::Status { name, config, json } => {
            let wanted = name.or_else(|| config.as_deref().map(crate::daemon::status::stem));
            status(wanted.as_deref(), json)
        }
        Command::Drain {
            instance,
            force,
            daemon,
        } => control(Verb::Drain { force }, &instance, daemon.as_deref()),
        Command::Resume { instance, daemon } => control(Verb::Resume, &instance, daemon.as_deref()),
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
    let Ok(rt) = crate::daemon::runtime() else {
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

/// A runtime for the D-Bus client (`None` if one cannot be made: no D-Bus then).
fn runtime() -> Option<tokio::runtime::Runtime> {
    crate::daemon::runtime().ok()
}

/// Every running daemon's status: live over D-Bus, then the state files of those the bus
/// does not have (no bus, or a daemon without it); `wanted` keeps one config stem.
fn gather(wanted: Option<&str>) -> Vec<DaemonStatus> {
    use crate::daemon::status;
    let mut found: Vec<DaemonStatus> = Vec::new();
    if let Some(rt) = runtime() {
        rt.block_on(async {
            let conn = match crate::control::connect().await {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("vrrp-ha status: {e}; reading the state files");
                    return;
                }
            };
            let names = match crate::control::daemons(&conn).await {
                Ok(n) => n,
                Err(e) => {
                    eprintln!("vrrp-ha status: cannot list the daemons on the bus: {e}");
                    return;
                }
            };
            for name in names {
                if let Some(w) = wanted {
                    if name != crate::daemon::dbus::bus_name(w) {
                        continue;
                    }
                }
                match crate::control::status(&conn, &name).await {
                    Ok(d) => found.push(d),
                    Err(e) => eprintln!("vrrp-ha status: {name}: {e}"),
                }
            }
        });
    }
    let dir = status::state_dir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "json" || x == "state"))
                .collect()
        })
        .unwrap_or_default();
    // The JSON file before an old `.state` of the same stem.
    files.sort_by_key(|p| (status::stem(p), p.extension().is_some_and(|x| x == "state")));
    for file in files {
        let stem = status::stem(&file);
        if wanted.is_some_and(|w| w != stem) || found.iter().any(|d| d.name == stem) {
            continue;
        }
        match status::read(&file) {
            Ok(daemons) => {
                // A daemon killed without its clean exit leaves its file behind; the old
                // format has no pid, so look for a daemon running a config of that stem.
                found.extend(daemons.into_iter().filter(|d| {
                    if d.pid == 0 {
                        running_stems().contains(&d.name)
                    } else {
                        Path::new(&format!("/proc/{}", d.pid)).exists()
                    }
                }));
            }
            Err(e) => eprintln!("vrrp-ha status: {e}"),
        }
    }
    found
}

/// The config stems of the `vrrp-ha run` processes on this host, from /proc.
fn running_stems() -> Vec<String> {
    let mut stems = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return stems;
    };
    for e in entries.filter_map(Result::ok) {
        let Ok(cmdline) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        let is_run = args.first().is_some_and(|a| a.ends_with(b"vrrp-ha"))
            && args.iter().any(|a| *a == b"run");
        if !is_run {
            continue;
        }
        let config = args
            .windows(2)
            .find(|w| w[0] == b"--config" || w[0] == b"-c")
            .map_or(DEFAULT_CONFIG.as_bytes(), |w| w[1]);
        let path = PathBuf::from(String::from_utf8_lossy(config).into_owned());
        stems.push(crate::daemon::status::stem(&path));
    }
    stems
}

/// `vrrp-ha status [NAME] [--json]`.
fn status(wanted: Option<&str>, json: bool) -> ExitCode {
    let daemons = gather(wanted);
    if daemons.is_empty() {
        match wanted {
            Some(w) => eprintln!("vrrp-ha status: no running vrrp-ha daemon for {w:?}"),
            None => eprintln!("vrrp-ha status: no running vrrp-ha daemon found"),
        }
        return ExitCode::from(3);
    }
    let mut out = std::io::stdout().lock();
    let text = if json {
        StatusReport::of(daemons).to_json() + "\n"
    } else {
        human(&daemons, crate::daemon::status::unix_now())
    };
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
    ExitCode::SUCCESS
}

/// "3.2s ago", "5m ago", "2h ago".
fn ago(now: f64, then: f64) -> String {
    let s = (now - then).max(0.0);
    if s < 60.0 {
        format!("{s:.1}s ago")
    } else if s < 3600.0 {
        format!("{}m ago", (s / 60.0) as u64)
    } else if s < 172_800.0 {
        format!("{}h ago", (s / 3600.0) as u64)
    } else {
        format!("{}d ago", (s / 86_400.0) as u64)
    }
}

/// The human form of `vrrp-ha status`.
fn human(daemons: &[DaemonStatus], now: f64) -> String {
    use std::fmt::Write as _;
    let mut o = String::new();
    for d in daemons {
        let source = match d.source.as_str() {
            "dbus" => "live".to_string(),
            "state-file" => format!("state file, {}", ago(now, d.updated)),
            _ => "state file of an older vrrp-ha".to_string(),
        };
        let pid = if d.pid == 0 {
            String::new()
        } else {
            format!(", pid {}", d.pid)
        };
        let config = if d.config.is_empty() {
            String::new()
        } else {
            format!("{}, ", d.config)
        };
        let _ = writeln!(o, "{} ({config}{source}{pid}):", d.name);
        for i in &d.instances {
            let state = if i.drained {
                format!("{} (drained)", i.state)
            } else {
                i.state.clone()
            };
            let prio = if i.effective_priority == i.priority {
                format!("priority {}", i.priority)
            } else {
                format!(
                    "priority {} (configured {})",
                    i.effective_priority, i.priority
                )
            };
            let master = i.master.as_ref().map_or("-".to_string(), |m| {
                format!("{} ({})", m.address, m.priority)
            });
            let _ = writeln!(
                o,
                "  {:<16} vrid {:<3} {:<16} {prio}  master {master}",
                i.name, i.vrid, state
            );
            if let Some(w) = &i.waiting_for {
                let _ = writeln!(o, "    waiting for its {w} on {}", i.interface);
            }
            if !i.vips.is_empty() {
                let _ = writeln!(o, "    holds {}", i.vips.join(" "));
            }
            for t in &i.tracking {
                let state = t
                    .value
                    .map_or_else(|| t.state.clone(), |v| format!("value {v}"));
                let part = if t.fault {
                    "FAULT".to_string()
                } else {
                    format!("{:+}", t.delta)
                };
                let _ = writeln!(
                    o,
                    "    track {} {}: {state}, weight {}, {part}",
                    t.kind, t.name, t.weight
                );
            }
            if let Some(t) = &i.last_transition {
                let _ = writeln!(
                    o,
                    "    last transition {} -> {} {}: {}",
                    t.from,
                    t.to,
                    ago(now, t.time),
                    t.reason
                );
            }
            let c = &i.counters;
            if d.source != "state-file-v0" {
                let mut line = format!(
                    "    transitions {}, adverts sent {}, received {}",
                    c.transitions, c.adverts_sent, c.adverts_received
                );
                let drops: Vec<String> = c
                    .drops
                    .iter()
                    .chain(&c.malformed)
                    .map(|(r, n)| format!("{r} {n}"))
                    .collect();
                if !drops.is_empty() {
                    let _ = write!(line, ", dropped: {}", drops.join(", "));
                }
                if c.other_masters > 0 {
                    let _ = write!(line, ", other MASTER adverts {}", c.other_masters);
                }
                let _ = writeln!(o, "{line}");
            }
            for p in &i.peers {
                let _ = writeln!(
                    o,
                    "    peer {} priority {}, checksum {}, last seen {}",
                    p.address,
                    p.priority,
                    p.checksum,
                    ago(now, p.last_seen)
                );
            }
        }
        for u in &d.unknown_vrid {
            let _ = writeln!(
                o,
                "  {} packets for no configured VRID on {} ({})",
                u.packets, u.interface, u.family
            );
        }
    }
    o
}

/// `drain` or `resume`.
#[derive(Copy, Clone, Debug)]
enum Verb {
    Drain { force: bool },
    Resume,
}

/// `vrrp-ha drain|resume INSTANCE [--daemon NAME]` over D-Bus.
fn control(verb: Verb, instance: &str, daemon: Option<&str>) -> ExitCode {
    use crate::control::{self, ControlError};
    let what = match verb {
        Verb::Drain { .. } => "drain",
        Verb::Resume => "resume",
    };
    let Some(rt) = runtime() else {
        eprintln!("vrrp-ha {what}: cannot start the D-Bus client");
        return ExitCode::FAILURE;
    };
    rt.block_on(async {
        let conn = match control::connect().await {
            Ok(c) => c,
            Err(e) => {
                eprintln!("vrrp-ha {what}: {e}: no daemon can be reached");
                return ExitCode::from(3);
            }
        };
        let names = match control::daemons(&conn).await {
            Ok(n) => n,
            Err(e) => {
                eprintln!("vrrp-ha {what}: {e}");
                return ExitCode::from(3);
            }
        };
        let mut owners = Vec::new();
        for name in names {
            if daemon.is_some_and(|d| name != crate::daemon::dbus::bus_name(d)) {
                continue;
            }
            match control::status(&conn, &name).await {
                Ok(d) if d.instances.iter().any(|i| i.name == instance) => owners.push((name, d)),
                Ok(_) => {}
                Err(e) => eprintln!("vrrp-ha {what}: {name}: {e}"),
            }
        }
        let (name, d) = match owners.len() {
            0 => {
                eprintln!("vrrp-ha {what}: no running daemon has an instance {instance:?}");
                return ExitCode::from(3);
            }
            1 => owners.remove(0),
            _ => {
                let list: Vec<&str> = owners.iter().map(|(_, d)| d.name.as_str()).collect();
                eprintln!(
                    "vrrp-ha {what}: instance {instance:?} runs in the daemons {}; \
                     say which with --daemon",
                    list.join(", ")
                );
                return ExitCode::from(2);
            }
        };
        let done = match verb {
            Verb::Drain { force } => control::drain(&conn, &name, instance, force).await,
            Verb::Resume => control::resume(&conn, &name, instance).await,
        };
        match done {
            Ok(()) => {
                match verb {
                    Verb::Drain { .. } => println!(
                        "{}/{instance}: drained; it stays BACKUP until `vrrp-ha resume {instance}`",
                        d.name
                    ),
                    Verb::Resume => println!("{}/{instance}: resumed", d.name),
                }
                ExitCode::SUCCESS
            }
            Err(ControlError::Refused(why)) => {
                eprintln!("vrrp-ha {what}: refused: {why}");
                ExitCode::FAILURE
            }
            Err(e) => {
                eprintln!("vrrp-ha {what}: {e}");
                ExitCode::FAILURE
            }
        }
    })
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
