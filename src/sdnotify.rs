//! The sd_notify protocol: READY, STATUS, WATCHDOG, RELOADING, STOPPING.
//!
//! A small datagram sender rather than the `sd-notify` crate: sd-notify 0.5 connects
//! to NOTIFY_SOCKET as a path, so it cannot reach the abstract `@name` sockets that
//! systemd allows (and that containers hand out), and it always reads the socket
//! from the environment, where the tests and the journal test need to name one.
//! Each message is one datagram on a fresh unbound socket, as libsystemd does; with
//! NOTIFY_SOCKET unset every call is a no-op. Errors are returned for the caller to
//! log as warnings.

use std::ffi::{OsStr, OsString};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

/// Why a notification could not be delivered.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// NOTIFY_SOCKET does not hold a usable socket address.
    #[error("NOTIFY_SOCKET `{socket}` is not a usable socket address: {source}")]
    Address {
        /// The value of NOTIFY_SOCKET.
        socket: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Sending the datagram failed.
    #[error("cannot notify systemd via `{socket}`: {source}")]
    Send {
        /// The value of NOTIFY_SOCKET.
        socket: String,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// A handle on the service manager's notification socket.
#[derive(Clone, Debug, Default)]
pub struct Notifier {
    socket: Option<OsString>,
}

impl Notifier {
    /// Uses NOTIFY_SOCKET from the environment; disabled when it is unset or empty.
    pub fn from_env() -> Self {
        Notifier::new(std::env::var_os("NOTIFY_SOCKET"))
    }

    /// Uses the given socket (a path, or `@name` for an abstract socket); `None`
    /// gives a notifier whose every call is a no-op.
    pub fn new(socket: Option<impl Into<OsString>>) -> Self {
        let socket = socket.map(Into::into).filter(|s| !s.is_empty());
        Notifier { socket }
    }

    /// Whether notifications are sent at all.
    pub fn is_enabled(&self) -> bool {
        self.socket.is_some()
    }

    /// Sends raw newline-separated `KEY=value` assignments.
    pub fn send(&self, message: &str) -> Result<(), NotifyError> {
        let Some(socket) = &self.socket else {
            return Ok(());
        };
        let shown = || socket.to_string_lossy().into_owned();
        let addr = socket_addr(socket).map_err(|source| NotifyError::Address {
            socket: shown(),
            source,
        })?;
        let sock = UnixDatagram::unbound().map_err(|source| NotifyError::Send {
            socket: shown(),
            source,
        })?;
        let sent = sock
            .send_to_addr(message.as_bytes(), &addr)
            .map_err(|source| NotifyError::Send {
                socket: shown(),
                source,
            })?;
        if sent != message.len() {
            return Err(NotifyError::Send {
                socket: shown(),
                source: std::io::Error::new(std::io::ErrorKind::WriteZero, "short datagram"),
            });
        }
        Ok(())
    }

    /// READY=1: start-up (or a reload) is complete.
    pub fn ready(&self) -> Result<(), NotifyError> {
        self.send("READY=1\n")
    }

    /// STATUS=...: a one-line status (newlines become spaces).
    pub fn status(&self, status: &str) -> Result<(), NotifyError> {
        self.send(&format!("STATUS={}\n", one_line(status)))
    }

    /// READY=1 and STATUS=... in one datagram.
    pub fn ready_with_status(&self, status: &str) -> Result<(), NotifyError> {
        self.send(&format!("READY=1\nSTATUS={}\n", one_line(status)))
    }

    /// WATCHDOG=1: the event loop is alive.
    pub fn watchdog(&self) -> Result<(), NotifyError> {
        self.send("WATCHDOG=1\n")
    }

    /// RELOADING=1 with MONOTONIC_USEC, as systemd wants for a reload.
    pub fn reloading(&self) -> Result<(), NotifyError> {
        self.send(&format!(
            "RELOADING=1\nMONOTONIC_USEC={}\n",
            monotonic_usec()
        ))
    }

    /// STOPPING=1: shutdown has begun.
    pub fn stopping(&self) -> Result<(), NotifyError> {
        self.send("STOPPING=1\n")
    }
}

/// The STATUS= summary: one "NAME STATE prio N" per instance, joined by ", "
/// (e.g. "VI_1 MASTER prio 100, VI_2 BACKUP prio 90").
pub fn summary<'a>(instances: impl IntoIterator<Item = (&'a str, &'a str, u8)>) -> String {
    instances
        .into_iter()
        .map(|(name, state, prio)| format!("{name} {state} prio {prio}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Replaces line breaks, which would end the assignment early.
fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

/// Turns a NOTIFY_SOCKET value into an address: `@name` is abstract.
fn socket_addr(socket: &OsStr) -> std::io::Result<SocketAddr> {
    let bytes = socket.as_bytes();
    match bytes.strip_prefix(b"@") {
        Some(name) => SocketAddr::from_abstract_name(name),
        None => SocketAddr::from_pathname(socket),
    }
}

/// CLOCK_MONOTONIC in microseconds, the clock systemd's MONOTONIC_USEC uses.
pub fn monotonic_usec() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes the timespec we pass; CLOCK_MONOTONIC is
    // always available on Linux.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    if rc != 0 {
        return 0;
    }
    (ts.tv_sec as u64) * 1_000_000 + (ts.tv_nsec as u64) / 1_000
}

/// How often to send WATCHDOG=1: half of WATCHDOG_USEC, when it is set and
/// WATCHDOG_PID is absent or names this process; `None` when no watchdog is asked for.
pub fn watchdog_interval() -> Option<Duration> {
    watchdog_interval_from(
        std::env::var("WATCHDOG_USEC").ok().as_deref(),
        std::env::var("WATCHDOG_PID").ok().as_deref(),
        std::process::id(),
    )
}

/// [`watchdog_interval`] on explicit values, for tests.
pub fn watchdog_interval_from(
    usec: Option<&str>,
    pid: Option<&str>,
    my_pid: u32,
) -> Option<Duration> {
    let usec: u64 = usec?.trim().parse().ok().filter(|&u| u > 0)?;
    if let Some(pid) = pid {
        let pid: u32 = pid.trim().parse().ok()?;
        if pid != my_pid {
            return None;
        }
    }
    Some(Duration::from_micros(usec / 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watchdog_is_half_of_usec() {
        let d = watchdog_interval_from(Some("10000000"), None, 42);
        assert_eq!(d, Some(Duration::from_secs(5)));
        assert_eq!(
            watchdog_interval_from(Some("10000000"), Some("42"), 42),
            Some(Duration::from_secs(5))
        );
    }

    #[test]
    fn watchdog_for_another_pid_or_unset_is_none() {
        assert_eq!(
            watchdog_interval_from(Some("10000000"), Some("7"), 42),
            None
        );
        assert_eq!(watchdog_interval_from(None, None, 42), None);
        assert_eq!(watchdog_interval_from(Some("0"), None, 42), None);
        assert_eq!(watchdog_interval_from(Some("x"), None, 42), None);
        assert_eq!(watchdog_interval_from(Some("10"), Some("y"), 42), None);
    }

    #[test]
    fn disabled_notifier_is_a_noop() {
        let n = Notifier::new(None::<OsString>);
        assert!(!n.is_enabled());
        assert!(n.ready().is_ok());
        let n = Notifier::new(Some(""));
        assert!(!n.is_enabled());
    }

    #[test]
    fn summary_lists_every_instance() {
        assert_eq!(
            summary([("VI_1", "MASTER", 100), ("VI_2", "BACKUP", 90)]),
            "VI_1 MASTER prio 100, VI_2 BACKUP prio 90"
        );
        assert_eq!(summary([]), "");
    }

    #[test]
    fn status_is_one_line() {
        assert_eq!(
            one_line("VI_1 MASTER\nVI_2 BACKUP"),
            "VI_1 MASTER VI_2 BACKUP"
        );
    }
}
