//! The loop's one timer: a timerfd armed at the core's next deadline.
//!
//! The core's clock is CLOCK_MONOTONIC since the daemon started. A timerfd armed with
//! the absolute deadline wakes the loop once, at the deadline; tokio's timer wheel
//! would first wake it at a slot boundary to cascade the entry and then again at the
//! deadline, and re-creating a sleep on every pass costs a wake-up of its own.

use std::io;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::time::Duration;

use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};
use nix::time::{clock_gettime, ClockId as Clock};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

use crate::core::time::Instant;

/// CLOCK_MONOTONIC now.
fn monotonic() -> io::Result<Duration> {
    let ts = clock_gettime(Clock::CLOCK_MONOTONIC).map_err(io::Error::from)?;
    Ok(Duration::from(ts))
}

/// A timerfd tokio can poll.
struct Fd(TimerFd);

impl AsRawFd for Fd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}

/// The core's clock and the timer that wakes the loop at its deadlines.
pub struct Deadline {
    fd: AsyncFd<Fd>,
    /// CLOCK_MONOTONIC at the core's time zero.
    origin: Duration,
    /// The same moment on std's (also CLOCK_MONOTONIC) clock, for the tasks that convert
    /// core times.
    origin_instant: std::time::Instant,
    armed: Option<Instant>,
}

impl Deadline {
    /// A clock starting now, and a disarmed timer.
    pub fn new() -> io::Result<Deadline> {
        let fd = TimerFd::new(
            ClockId::CLOCK_MONOTONIC,
            TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC,
        )
        .map_err(io::Error::from)?;
        // SAFETY: the TimerFd owns its descriptor and the AsyncFd owns the TimerFd, so the
        // descriptor stays open and the same for the AsyncFd's whole life.
        let fd = unsafe { AsyncFd::register_with_interest(Fd(fd), Interest::READABLE) }
            .map_err(|e| e.into_parts().1)?;
        let origin_instant = std::time::Instant::now();
        Ok(Deadline {
            fd,
            origin: monotonic()?,
            origin_instant,
            armed: None,
        })
    }

    /// The same clock for the tasks that serve operators.
    pub(crate) fn api_clock(&self) -> super::api::Clock {
        super::api::Clock {
            origin: tokio::time::Instant::from_std(self.origin_instant),
        }
    }

    /// The core's time now.
    pub fn now(&self) -> Instant {
        let now = monotonic().unwrap_or(self.origin);
        Instant::from_origin(now.saturating_sub(self.origin))
    }

    /// The deadline the timer is armed for.
    #[cfg(test)]
    pub fn armed(&self) -> Option<Instant> {
        self.armed
    }

    /// Arm the timer for `at` (disarm it for `None`); a deadline already past fires at once.
    pub fn set(&mut self, at: Option<Instant>) -> io::Result<()> {
        if at == self.armed {
            return Ok(());
        }
        match at {
            Some(at) => {
                // Zero means "disarm" to timerfd: never hand it an absolute zero.
                let abs = (self.origin + at.since_origin()).max(Duration::from_nanos(1));
                self.fd
                    .get_ref()
                    .0
                    .set(
                        Expiration::OneShot(TimeSpec::from(abs)),
                        TimerSetTimeFlags::TFD_TIMER_ABSTIME,
                    )
                    .map_err(io::Error::from)?;
            }
            None => self.fd.get_ref().0.unset().map_err(io::Error::from)?,
        }
        self.armed = at;
        Ok(())
    }

    /// Resolves when the armed deadline has passed (never while disarmed); the timer
    /// counts as disarmed then.
    ///
    /// The expiration count is not read: the next `set` (timerfd_settime) resets it, so
    /// one wake-up costs the epoll_wait alone. A wake-up before the deadline (which
    /// timerfd does not give) would only make the caller find nothing due.
    pub async fn expired(&mut self) -> io::Result<()> {
        if self.armed.is_none() {
            return std::future::pending().await;
        }
        let mut guard = self.fd.readable().await?;
        guard.clear_ready();
        self.armed = None;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn wakes_at_the_deadline_and_not_before() {
        let mut d = Deadline::new().expect("timerfd");
        let start = d.now();
        let at = start + Duration::from_millis(30);
        d.set(Some(at)).expect("arm");
        d.expired().await.expect("fires");
        let now = d.now();
        assert!(now >= at, "woke at {now:?} before {at:?}");
        assert!(
            now.saturating_since(at) < Duration::from_millis(20),
            "late: {now:?}"
        );
        assert_eq!(d.armed(), None);
        // A deadline in the past fires at once.
        d.set(Some(start)).expect("arm");
        tokio::time::timeout(Duration::from_millis(200), d.expired())
            .await
            .expect("past deadline fires")
            .expect("no error");
    }
}
