//! vrrp-ha: a VRRP (RFC 3768 / RFC 9568) daemon that keeps nginx and other
//! services highly available behind virtual IPs.
//!
//! Data flows one way: [`config`] -> instances -> [`core`] -> actions -> effects
//! ([`net`], [`hooks`], [`daemon`]). The [`core`] is pure: no sockets, no clock, no tokio.

pub mod cli;
pub mod config;
pub mod control;
pub mod core;
pub mod daemon;
pub mod hooks;
pub mod import;
pub mod logging;
pub mod metrics;
pub mod net;
pub mod process;
pub mod sdnotify;
pub mod track;
pub mod witness;
