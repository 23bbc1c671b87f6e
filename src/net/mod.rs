//! The I/O shell's network side: VRRP sockets, rtnetlink, gratuitous ARP / NA.

pub mod garp;
pub mod ndisc;
pub mod netlink;
pub mod socket;
pub mod vmac;

use std::io;

/// A failure of the network side, with the operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// A socket or system call failed.
    #[error("{what}: {source}")]
    Io {
        /// What we were doing.
        what: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// An rtnetlink request failed.
    #[error("{what}: {source}")]
    Netlink {
        /// What we were doing.
        what: String,
        /// The netlink error.
        #[source]
        source: rtnetlink::Error,
    },
    /// A named interface does not exist.
    #[error("interface {0:?} not found")]
    NoSuchInterface(String),
    /// An interface lacks an address we need (e.g. no IPv6 link-local yet).
    #[error("interface {iface:?} has no {what}")]
    NoAddress {
        /// Interface name.
        iface: String,
        /// Which kind of address is missing.
        what: &'static str,
    },
}

impl NetError {
    /// Wrap an I/O error with what we were doing.
    pub fn io(what: impl Into<String>, source: io::Error) -> NetError {
        NetError::Io {
            what: what.into(),
            source,
        }
    }
}
