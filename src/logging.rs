//! Logging: the journal with structured VRRP_* fields when it is there, stderr otherwise.
//!
//! Under systemd the journald native protocol is used (tracing-journald, fields not
//! prefixed), so `journalctl -u vrrp-ha@VI_1 VRRP_STATE=MASTER` finds transitions.
//! tracing-journald upper-cases field names, which is why the transition event logs
//! `vrrp_instance` and friends. Run from a terminal, or where no journal exists,
//! human-readable lines go to stderr instead.

use std::io::IsTerminal;
use std::path::Path;

use std::sync::atomic::{AtomicBool, Ordering};

use tracing::Level;
use tracing_journald::{Priority, PriorityMappings};
use tracing_subscriber::filter::{filter_fn, Targets};
use tracing_subscriber::layer::{Layer, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;

/// The journald native-protocol socket (fixed inside tracing-journald).
pub const JOURNAL_SOCKET: &str = "/run/systemd/journal/socket";

/// Whether the journal socket was there at the last event.
static JOURNAL_UP: AtomicBool = AtomicBool::new(true);

/// Whether the journal can take events now. tracing-journald drops events silently when
/// its socket is gone (journald stopped or restarting), so every event asks; when the
/// answer changes, stderr (which systemd keeps apart from the native socket) is told.
fn journal_available() -> bool {
    let up = Path::new(JOURNAL_SOCKET).exists();
    let was = JOURNAL_UP.swap(up, Ordering::Relaxed);
    if was && !up {
        eprintln!("vrrp-ha: the journal socket {JOURNAL_SOCKET} is gone; logging to stderr until it returns");
    } else if !was && up {
        eprintln!(
            "vrrp-ha: the journal socket {JOURNAL_SOCKET} is back; logging to the journal again"
        );
    }
    up
}

/// Where [`init`] sends log events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sink {
    /// The systemd journal, with structured fields.
    Journal,
    /// Human-readable lines on stderr.
    Stderr,
    /// A global subscriber was already installed; nothing changed.
    AlreadySet,
}

/// Installs the global log subscriber at `level` (our own events) and returns where
/// events go. Dependencies log at most at INFO so `--log-level debug` stays readable.
///
/// The journal is used when its socket exists and stderr is not a terminal (a
/// person running the daemon by hand wants to see the log).
pub fn init(level: Level) -> Sink {
    let use_journal = Path::new(JOURNAL_SOCKET).exists() && !std::io::stderr().is_terminal();
    let filter = Targets::new()
        .with_target("vrrp_ha", level)
        .with_target("vrrp-ha", level)
        .with_default(std::cmp::min(level, Level::INFO));
    let mut journal_error = None;
    if use_journal {
        match tracing_journald::layer() {
            Ok(layer) => {
                // syslog levels as journalctl -p expects them: INFO is "info" (6),
                // not the crate's default "notice" (5).
                let priorities = PriorityMappings {
                    info: Priority::Informational,
                    debug: Priority::Debug,
                    ..PriorityMappings::new()
                };
                let layer = layer
                    .with_field_prefix(None)
                    .with_priority_mappings(priorities)
                    .with_syslog_identifier("vrrp-ha".to_string())
                    .with_filter(filter_fn(|_| journal_available()));
                // While the journal is gone, the same events go to stderr.
                let fallback =
                    stderr_layer().with_filter(filter_fn(|_| !JOURNAL_UP.load(Ordering::Relaxed)));
                return match tracing_subscriber::registry()
                    .with(layer)
                    .with(fallback)
                    .with(filter)
                    .try_init()
                {
                    Ok(()) => Sink::Journal,
                    Err(_) => Sink::AlreadySet,
                };
            }
            Err(e) => journal_error = Some(e),
        }
    }
    match tracing_subscriber::registry()
        .with(stderr_layer())
        .with(filter)
        .try_init()
    {
        Ok(()) => {
            if let Some(e) = journal_error {
                tracing::warn!("journal socket present but unusable ({e}); logging to stderr");
            }
            Sink::Stderr
        }
        Err(_) => Sink::AlreadySet,
    }
}

/// Human-readable lines on stderr. The VRRP_* fields exist for journal queries; on
/// stderr the message already says the same, so they are left out there.
fn stderr_layer<S>() -> impl Layer<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    let fields = tracing_subscriber::fmt::format::debug_fn(|w, field, value| match field.name() {
        "message" => write!(w, "{value:?}"),
        name if name.starts_with("vrrp_") => Ok(()),
        name => write!(w, " {name}={value:?}"),
    });
    tracing_subscriber::fmt::layer()
        .fmt_fields(fields)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
}

/// Logs one state transition as an INFO event whose journal fields are
/// VRRP_INSTANCE, VRRP_VRID, VRRP_STATE, VRRP_PREV_STATE, VRRP_PRIORITY and
/// VRRP_REASON (plus the usual MESSAGE, PRIORITY, ...).
pub fn transition(instance: &str, vrid: u8, prev: &str, state: &str, priority: u8, reason: &str) {
    tracing::info!(
        target: "vrrp_ha::transition",
        vrrp_instance = instance,
        vrrp_vrid = vrid,
        vrrp_state = state,
        vrrp_prev_state = prev,
        vrrp_priority = priority,
        vrrp_reason = reason,
        "{instance}: {prev} -> {state} (priority {priority}): {reason}"
    );
}

/// How often a repeated warning of one kind is logged at most.
pub const LOG_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// Logs the first occurrence, then at most once per [`LOG_EVERY`] with the count in between.
#[derive(Debug, Default)]
pub struct RateLimit {
    last: Option<crate::core::time::Instant>,
    suppressed: u64,
}

impl RateLimit {
    /// `Some(suppressed since the last log)` when this occurrence should be logged.
    pub fn allow(&mut self, now: crate::core::time::Instant) -> Option<u64> {
        match self.last {
            Some(last) if now.saturating_since(last) < LOG_EVERY => {
                self.suppressed += 1;
                None
            }
            _ => {
                self.last = Some(now);
                Some(std::mem::take(&mut self.suppressed))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::time::Instant;
    use std::time::Duration;

    #[test]
    fn rate_limit_logs_first_then_counts() {
        let t0 = Instant::from_millis(1000);
        let mut rl = RateLimit::default();
        assert_eq!(rl.allow(t0), Some(0));
        assert_eq!(rl.allow(t0 + Duration::from_secs(1)), None);
        assert_eq!(rl.allow(t0 + Duration::from_secs(2)), None);
        assert_eq!(rl.allow(t0 + LOG_EVERY), Some(2));
    }
}
