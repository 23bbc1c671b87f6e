//! `vrrp-ha witness`: the process around a [`Listener`].
//!
//! One loop hears VRRP adverts on one interface (a raw socket per family, as the daemon
//! opens them: CAP_NET_RAW is the only privilege it needs), answers queries on one UDP
//! socket, forgets what is too old once a second, re-reads its keys on SIGHUP and stops
//! on SIGTERM. Nothing it learns is written anywhere.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::net::UdpSocket;
use tokio::signal::unix::{signal, SignalKind};
use tokio::time::Instant as TokioInstant;
use tracing::{debug, info, warn};

use super::key::{self, KeyError};
use super::listener::{Listener, Refused};
use super::proto::{Key, QUERY_LEN};
use crate::core::time::Instant;
use crate::logging::RateLimit;
use crate::net::socket::{Received, VrrpSocket};
use crate::sdnotify::{self, Notifier};

/// What `vrrp-ha witness` was told.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// The interface whose adverts it hears.
    pub interface: String,
    /// Where it answers queries.
    pub listen: SocketAddr,
    /// Its keys (several while one replaces another).
    pub key_files: Vec<PathBuf>,
}

/// Why the witness could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A key file is not usable.
    #[error("{0}")]
    Key(#[from] KeyError),
    /// No interface of that name.
    #[error("interface {0:?} not found")]
    NoInterface(String),
    /// Neither an IPv4 nor an IPv6 VRRP socket could be opened.
    #[error("cannot hear VRRP on {interface}: {v4}; {v6}")]
    Sockets {
        /// The interface.
        interface: String,
        /// Why IPv4 failed.
        v4: String,
        /// Why IPv6 failed.
        v6: String,
    },
    /// The UDP socket could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// Signal handlers could not be installed, or the runtime not started.
    #[error("{0}")]
    Setup(std::io::Error),
}

/// Run the witness until SIGTERM / SIGINT.
pub fn run(opts: Options, level: tracing::Level) -> ExitCode {
    crate::daemon::init_logging(level);
    let keys = match load_keys(&opts.key_files) {
        Ok(k) => k,
        Err(e) => {
            tracing::error!("{e}");
            // An unreadable file is a usage error, a file that is no key an invalid one.
            return match e {
                KeyError::Io { .. } => ExitCode::from(2),
                _ => ExitCode::FAILURE,
            };
        }
    };
    crate::daemon::block_on_to_exit(serve(opts, keys))
}

fn load_keys(files: &[PathBuf]) -> Result<Vec<Key>, KeyError> {
    files.iter().map(|f| key::load_file(f)).collect()
}

fn wall_ms() -> u64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
}

async fn recv_opt(sock: &Option<VrrpSocket>) -> std::io::Result<Received> {
    match sock {
        Some(s) => s.recv().await,
        None => std::future::pending().await,
    }
}

async fn tick_opt(iv: &mut Option<tokio::time::Interval>) {
    match iv {
        Some(iv) => {
            iv.tick().await;
        }
        None => std::future::pending().await,
    }
}

async fn serve(opts: Options, keys: Vec<Key>) -> Result<(), ServeError> {
    let ifindex = nix::net::if_::if_nametoindex(opts.interface.as_str())
        .map_err(|_| ServeError::NoInterface(opts.interface.clone()))?;
    let v4 = VrrpSocket::open_v4(&opts.interface, ifindex);
    let v6 = VrrpSocket::open_v6(&opts.interface, ifindex);
    let (v4, v6) = match (v4, v6) {
        (Err(a), Err(b)) => {
            return Err(ServeError::Sockets {
                interface: opts.interface.clone(),
                v4: a.to_string(),
                v6: b.to_string(),
            })
        }
        (a, b) => {
            if let Err(e) = &a {
                warn!("not hearing IPv4 VRRP: {e}");
            }
            if let Err(e) = &b {
                warn!("not hearing IPv6 VRRP: {e}");
            }
            (a.ok(), b.ok())
        }
    };
    let udp = UdpSocket::bind(opts.listen)
        .await
        .map_err(|source| ServeError::Listen {
            addr: opts.listen,
            source,
        })?;
    let mut sigterm = signal(SignalKind::terminate()).map_err(ServeError::Setup)?;
    let mut sigint = signal(SignalKind::interrupt()).map_err(ServeError::Setup)?;
    let mut sighup = signal(SignalKind::hangup()).map_err(ServeError::Setup)?;
    let origin = TokioInstant::now();
    let now = || Instant::from_origin(origin.elapsed());
    let mut listener = Listener::new(keys, now());
    let notifier = Notifier::from_env();
    info!(
        interface = %opts.interface, listen = %opts.listen, ipv4 = v4.is_some(),
        ipv6 = v6.is_some(), keys = opts.key_files.len(),
        "vrrp-ha witness listening on {} and answering on {}", opts.interface, opts.listen
    );
    if let Err(e) = notifier.ready_with_status(&format!("hearing {}", opts.interface)) {
        warn!("sd_notify READY: {e}");
    }
    let mut prune = tokio::time::interval(Duration::from_secs(1));
    let mut watchdog = sdnotify::watchdog_interval().map(tokio::time::interval);
    // One byte more than a query tells an oversized datagram apart.
    let mut buf = vec![0u8; QUERY_LEN + 1];
    let mut quiet_refused = RateLimit::default();
    let mut quiet_send = RateLimit::default();
    let mut quiet_recv = RateLimit::default();
    let mut last_status = (u64::MAX, u64::MAX);
    loop {
        tokio::select! {
            r = recv_opt(&v4) => heard(&mut listener, r, now(), &mut quiet_recv),
            r = recv_opt(&v6) => heard(&mut listener, r, now(), &mut quiet_recv),
            r = udp.recv_from(&mut buf) => match r {
                Ok((n, from)) => match listener.query(from.ip(), &buf[..n], now(), wall_ms()) {
                    Ok(answer) => {
                        debug!(%from, "answered a query");
                        if let Err(e) = udp.try_send_to(&answer, from) {
                            if let Some(suppressed) = quiet_send.allow(now()) {
                                warn!(%from, suppressed, "cannot send an answer to {from}: {e}");
                            }
                        }
                    }
                    Err(why) => refused(&mut quiet_refused, from, why, now()),
                },
                Err(e) => {
                    if let Some(suppressed) = quiet_recv.allow(now()) {
                        warn!(suppressed, "witness socket receive error: {e}");
                    }
                }
            },
            _ = prune.tick() => {
                listener.prune(now(), wall_ms());
                let s = listener.stats();
                let counts = (s.answered, s.refused.values().sum::<u64>());
                if counts != last_status {
                    last_status = counts;
                    let status = format!(
                        "hearing {}: {} queries answered, {} refused",
                        opts.interface, counts.0, counts.1
                    );
                    if let Err(e) = notifier.status(&status) {
                        debug!("sd_notify STATUS: {e}");
                    }
                }
            }
            _ = tick_opt(&mut watchdog) => {
                if let Err(e) = notifier.watchdog() {
                    warn!("sd_notify WATCHDOG: {e}");
                }
            }
            _ = sighup.recv() => match load_keys(&opts.key_files) {
                Ok(keys) => {
                    info!(keys = keys.len(), "SIGHUP: keys re-read");
                    listener.set_keys(keys);
                }
                Err(e) => warn!("SIGHUP: keeping the keys in use: {e}"),
            },
            _ = sigterm.recv() => { info!("SIGTERM: stopping"); break; }
            _ = sigint.recv() => { info!("SIGINT: stopping"); break; }
        }
    }
    if let Err(e) = notifier.stopping() {
        debug!("sd_notify STOPPING: {e}");
    }
    let s = listener.stats();
    info!(
        answered = s.answered, refused = ?s.refused, adverts = s.adverts,
        "vrrp-ha witness stopped"
    );
    Ok(())
}

fn heard(
    listener: &mut Listener,
    r: std::io::Result<Received>,
    now: Instant,
    quiet: &mut RateLimit,
) {
    match r {
        Ok(p) => {
            if let Err(why) = listener.advert(p.src, p.dst, p.ttl, &p.payload, now) {
                tracing::trace!(src = %p.src, "advert ignored: {why:?}");
            }
        }
        Err(e) => {
            if let Some(suppressed) = quiet.allow(now) {
                warn!(suppressed, "VRRP socket receive error: {e}");
            }
        }
    }
}

/// Refusals an operator should hear of (a wrong key, a clock off) are warnings; floods
/// are debug lines; both rate-limited together.
fn refused(quiet: &mut RateLimit, from: SocketAddr, why: Refused, now: Instant) {
    let Some(suppressed) = quiet.allow(now) else {
        return;
    };
    let reason = why.as_str();
    match why {
        Refused::BadTag => warn!(%from, reason, suppressed,
            "refused a query from {from}: not tagged under our key (is the key the same on the nodes?)"),
        Refused::Stale { skew } => warn!(%from, reason, suppressed,
            "refused a query from {from}: its clock is {} s off ours (run NTP on both)",
            skew.as_secs()),
        other => debug!(%from, reason, suppressed, "refused a query from {from}: {other:?}"),
    }
}
