//! The sd_notify protocol: READY, STATUS, WATCHDOG, RELOADING, STOPPING.
