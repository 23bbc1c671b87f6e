//! The live daemon's witness side: the UDP sockets queries leave from (one per family,
//! opened on first use), their readers, and the stamp of each query.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tracing::warn;

use super::ports::Stamp;
use crate::witness::proto::MAX_ANSWER_LEN;

/// How many answers may wait for the loop; more are dropped (the deadline decides then).
pub(super) const QUEUE: usize = 64;

/// The sockets (queries leave through the std half, answers arrive on the tokio half of
/// the same socket) and the channel their readers feed.
pub(super) struct WitnessSockets {
    v4: Option<std::net::UdpSocket>,
    v6: Option<std::net::UdpSocket>,
    answers: mpsc::Sender<(SocketAddr, Vec<u8>)>,
}

impl WitnessSockets {
    /// No socket yet; answers will go to `answers`.
    pub(super) fn new(answers: mpsc::Sender<(SocketAddr, Vec<u8>)>) -> WitnessSockets {
        WitnessSockets {
            v4: None,
            v6: None,
            answers,
        }
    }

    /// Send one query now; the socket of its family is opened the first time.
    pub(super) fn send(&mut self, to: SocketAddr, datagram: &[u8]) -> io::Result<()> {
        let slot = if to.is_ipv4() {
            &mut self.v4
        } else {
            &mut self.v6
        };
        if slot.is_none() {
            let (send, recv) = open(to.is_ipv4())?;
            spawn_reader(Arc::new(recv), self.answers.clone());
            *slot = Some(send);
        }
        match slot {
            // Non-blocking: a full send buffer is an error, not a wait. Not through tokio,
            // whose readiness of a new socket is unknown until its reactor has polled it.
            Some(sock) => sock.send_to(datagram, to).map(|_| ()),
            None => Err(io::Error::other("no witness socket")),
        }
    }
}

/// One UDP socket on an ephemeral port: a non-blocking handle to send from and a tokio
/// handle on the same socket to receive with.
fn open(v4: bool) -> io::Result<(std::net::UdpSocket, UdpSocket)> {
    let any: SocketAddr = if v4 {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let send = std::net::UdpSocket::bind(any)?;
    send.set_nonblocking(true)?;
    let recv = UdpSocket::from_std(send.try_clone()?)?;
    Ok((send, recv))
}

fn spawn_reader(sock: Arc<UdpSocket>, tx: mpsc::Sender<(SocketAddr, Vec<u8>)>) {
    tokio::spawn(async move {
        // One byte more than the longest answer tells an oversized datagram apart.
        let mut buf = vec![0u8; MAX_ANSWER_LEN + 1];
        loop {
            match sock.recv_from(&mut buf).await {
                Ok((n, from)) => {
                    // A full queue means the loop is far behind: the deadline decides.
                    let _ = tx.try_send((from, buf[..n].to_vec()));
                }
                Err(e) => {
                    warn!("witness socket receive error: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            }
        }
    });
}

/// The wall clock and a nonce from the kernel's random source.
pub(super) fn stamp() -> Stamp {
    static FALLBACK: AtomicU64 = AtomicU64::new(0);
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let unix_ms = u64::try_from(since.as_millis()).unwrap_or(u64::MAX);
    let mut nonce = [0u8; 16];
    if getrandom::fill(&mut nonce).is_err() {
        // Without a random source the nonce still must never repeat: the clock in ns,
        // a counter and the PID make it unique to this process and moment.
        let n = FALLBACK.fetch_add(1, Ordering::Relaxed);
        nonce[..8].copy_from_slice(&(since.as_nanos() as u64).to_be_bytes());
        nonce[8..12].copy_from_slice(&(n as u32).to_be_bytes());
        nonce[12..].copy_from_slice(&std::process::id().to_be_bytes());
    }
    Stamp { unix_ms, nonce }
}
