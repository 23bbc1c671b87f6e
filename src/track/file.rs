//! Tracked files: an integer read from a file, re-read whenever it changes.
//!
//! Watching uses inotify on the file's directory (so creating, deleting and the
//! usual write-to-temp-then-rename replacement are all seen at once), plus a re-read
//! every [`POLL_INTERVAL`] as a safety net for what inotify cannot see: a directory
//! that does not exist yet, files on network or FUSE file systems, or an exhausted
//! inotify watch limit.

use std::ffi::OsString;
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

/// How often a tracked file is re-read even without an inotify event.
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// Longest file prefix read; a tracked file holds one small number.
const MAX_READ: u64 = 4096;

/// Largest magnitude of a value read from a track file (keepalived clamps too).
pub const VALUE_LIMIT: i64 = 254;

/// Parses a track file's content as keepalived does (`strtol(buf, NULL, 0)`, then
/// clamped to -254..=254): leading whitespace, optional sign, then the longest
/// prefix of decimal, `0x` hex or `0` octal digits; no digits at all gives 0.
pub fn parse_value(text: &str) -> i64 {
    let s = text.trim_start().as_bytes();
    let (negative, s) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let (radix, digits) = if (s.starts_with(b"0x") || s.starts_with(b"0X"))
        && s.get(2).is_some_and(u8::is_ascii_hexdigit)
    {
        (16, &s[2..])
    } else if s.starts_with(b"0") {
        (8, s)
    } else {
        (10, s)
    };
    let mut value: i64 = 0;
    for &b in digits {
        let Some(d) = char::from(b).to_digit(radix) else {
            break;
        };
        // Saturating like strtol's LONG_MAX; the clamp below makes it moot anyway.
        value = value
            .saturating_mul(i64::from(radix))
            .saturating_add(i64::from(d));
    }
    let value = if negative { -value } else { value };
    value.clamp(-VALUE_LIMIT, VALUE_LIMIT)
}

/// Reads a track file's value; a missing or unreadable file counts as 0.
///
/// Opened non-blocking so a FIFO put there by mistake cannot hang the event loop.
pub fn read_value(path: &Path) -> i64 {
    let Ok(file) = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
    else {
        return 0;
    };
    let mut buf = Vec::new();
    if file.take(MAX_READ).read_to_end(&mut buf).is_err() {
        return 0;
    }
    parse_value(&String::from_utf8_lossy(&buf))
}

/// An inotify instance that tokio can wait on.
struct Watch {
    inotify: Inotify,
    name: OsString,
}

impl AsRawFd for Watch {
    fn as_raw_fd(&self) -> RawFd {
        self.inotify.as_fd().as_raw_fd()
    }
}

/// Sets up an inotify watch on the directory holding `path`; `None` when that is
/// not possible (the poll covers it).
fn watch_dir(path: &Path) -> Option<AsyncFd<Watch>> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path.file_name()?.to_os_string();
    let inotify = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC).ok()?;
    // Only "finished" events: IN_MODIFY or IN_CREATE would fire between the
    // truncate and the write of `echo 5 > file` and read a transient 0, which
    // would flap the priority.
    let flags = AddWatchFlags::IN_CLOSE_WRITE
        | AddWatchFlags::IN_MOVED_TO
        | AddWatchFlags::IN_MOVED_FROM
        | AddWatchFlags::IN_DELETE
        | AddWatchFlags::IN_ONLYDIR;
    inotify.add_watch(dir, flags).ok()?;
    // SAFETY: the fd belongs to the Inotify moved into the AsyncFd; it stays open
    // and unchanged until the AsyncFd (and with it the Inotify) is dropped.
    unsafe { AsyncFd::register_with_interest(Watch { inotify, name }, Interest::READABLE) }.ok()
}

/// Waits until the watched file may have changed. Returns `false` when the watch
/// is gone (directory removed, read error) and should be set up again.
async fn changed(watch: &AsyncFd<Watch>) -> bool {
    loop {
        let Ok(mut guard) = watch.readable().await else {
            return false;
        };
        match guard.try_io(|w| {
            w.get_ref()
                .inotify
                .read_events()
                .map_err(std::io::Error::from)
        }) {
            Ok(Ok(events)) => {
                let name = &watch.get_ref().name;
                let mut relevant = false;
                for event in &events {
                    if event.mask.contains(AddWatchFlags::IN_IGNORED) {
                        return false;
                    }
                    if event.mask.contains(AddWatchFlags::IN_Q_OVERFLOW)
                        || event.name.as_ref() == Some(name)
                    {
                        relevant = true;
                    }
                }
                if relevant {
                    return true;
                }
            }
            Ok(Err(_)) => return false,
            // Spurious readiness: wait again.
            Err(_would_block) => continue,
        }
    }
}

/// Watches `path` until the task is dropped, calling `on_change` with each new
/// value (`initial` is the value already known to the caller).
pub async fn watch_forever(path: PathBuf, initial: i64, mut on_change: impl FnMut(i64)) {
    let mut value = initial;
    let mut poll = tokio::time::interval(POLL_INTERVAL);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut watch = watch_dir(&path);
    loop {
        match &watch {
            Some(w) => {
                tokio::select! {
                    alive = changed(w) => {
                        if !alive {
                            watch = None;
                        }
                    }
                    _ = poll.tick() => {}
                }
            }
            None => {
                poll.tick().await;
                watch = watch_dir(&path);
            }
        }
        let now = read_value(&path);
        if now != value {
            value = now;
            on_change(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_keepalived() {
        assert_eq!(parse_value("42\n"), 42);
        assert_eq!(parse_value("  -7  trailing words"), -7);
        assert_eq!(parse_value("+3"), 3);
        assert_eq!(parse_value(""), 0);
        assert_eq!(parse_value("abc"), 0);
        assert_eq!(parse_value("12abc"), 12);
        assert_eq!(parse_value("0x1f"), 31);
        assert_eq!(parse_value("010"), 8);
        assert_eq!(parse_value("08"), 0);
        assert_eq!(parse_value("-"), 0);
        assert_eq!(parse_value("1000"), 254);
        assert_eq!(parse_value("-99999999999999999999999"), -254);
    }

    #[test]
    fn missing_file_is_zero() {
        assert_eq!(read_value(Path::new("/nonexistent/vrrp-ha/track")), 0);
    }
}
