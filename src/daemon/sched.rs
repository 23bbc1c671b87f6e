//! Scheduling and memory of the daemon: keepalived's `vrrp_rt_priority` and
//! `vrrp_no_swap`, for boxes so loaded that an advert would otherwise be late.
//!
//! The event loop runs on the thread that applies this. SCHED_RESET_ON_FORK keeps
//! real time to that thread: the blocking pool's threads and every child (health
//! checks, hooks) start with the normal policy, so a runaway script cannot starve the
//! host at real-time priority.

use tracing::{info, warn};

use crate::config::Config;

/// Apply `config`'s `realtime-priority` and `lock-memory` to the calling thread and process.
pub fn apply(config: &Config) {
    let on = config.realtime_priority > 0;
    let (policy, priority) = if on {
        (
            libc::SCHED_RR | libc::SCHED_RESET_ON_FORK,
            i32::from(config.realtime_priority),
        )
    } else {
        (libc::SCHED_OTHER, 0)
    };
    let param = libc::sched_param {
        sched_priority: priority,
    };
    // SAFETY: sched_setscheduler on the calling thread (pid 0) with a valid param.
    let rc = unsafe { libc::sched_setscheduler(0, policy, &param) };
    if rc != 0 {
        let e = std::io::Error::last_os_error();
        if on {
            warn!(
                "cannot run the event loop at real-time priority {priority}: {e} (it needs \
                 CAP_SYS_NICE; `realtime-priority 0` turns this off)"
            );
        }
    } else if on {
        info!("event loop at real-time priority {priority} (SCHED_RR)");
    }
    if config.lock_memory {
        // SAFETY: mlockall has no memory-safety preconditions.
        let rc = unsafe { libc::mlockall(libc::MCL_CURRENT | libc::MCL_FUTURE) };
        if rc != 0 {
            warn!(
                "cannot lock the daemon's memory: {} (it needs CAP_IPC_LOCK)",
                std::io::Error::last_os_error()
            );
        } else {
            info!("memory locked (no paging out under memory pressure)");
        }
    } else {
        // SAFETY: munlockall has no preconditions; undoes a lock-memory a reload removed.
        unsafe {
            libc::munlockall();
        }
    }
}

/// Hand the heap's free pages back to the system. glibc keeps freed memory mapped, and
/// parsing a configuration peaks at several times the running daemon's heap (the kdl
/// crate's document of a 255-instance file is about 3 MB), which would otherwise stay
/// resident, and locked under `lock-memory`, for the life of the process.
pub fn trim_heap() {
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim has no preconditions; it only releases free heap pages.
    unsafe {
        libc::malloc_trim(0);
    }
}
