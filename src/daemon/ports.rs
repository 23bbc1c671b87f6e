//! The boundary between the engine and the world: what goes in ([`Input`]), what goes out
//! ([`Ports`], [`Effect`]), and what comes back from slow work ([`Completion`]).
//!
//! The engine is synchronous and never waits: quick operations (sending a packet on a
//! raw socket, opening one) are calls on [`Ports`]; everything slow (netlink requests,
//! announcement frames that must follow their addresses, hooks) is an [`Effect`],
//! carried out in submission order by an executor, whose results come back as
//! [`Completion`]s. The live daemon implements `Ports` with real sockets and tasks; the
//! conformance tests implement it with a recorder.

use std::io;
use std::net::SocketAddr;

use crate::config::WitnessKey;
use crate::core::instance::{Transmit, Vip};
use crate::core::packet::Family;
use crate::core::router::InstanceId;
use crate::hooks;
use crate::net::netlink::NetEvent;
use crate::net::socket::Received;
use crate::net::NetError;
use crate::track::TrackUpdate;
use crate::witness::proto::Key;

use super::status::Snapshot;

/// One Ethernet frame with its destination MAC.
pub type Frame = ([u8; 6], Vec<u8>);

/// A socket the ports opened for the engine.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SocketId(pub u32);

/// Something that happened, for the engine to act on.
#[derive(Clone, Debug)]
pub enum Input {
    /// A VRRP packet arrived on a socket.
    Packet {
        /// The socket it arrived on.
        socket: SocketId,
        /// What the IP layer told about it.
        packet: Received,
    },
    /// A link or address changed.
    Net(NetEvent),
    /// An instance's tracking aggregate changed.
    Track(TrackUpdate),
    /// Slow work finished.
    Done(Completion),
    /// A UDP datagram arrived on a witness socket (an answer, if it checks out).
    Witness {
        /// Where it came from.
        from: SocketAddr,
        /// Its bytes.
        datagram: Vec<u8>,
    },
}

/// What a witness query needs from the world: the wall clock and a fresh random nonce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp {
    /// Milliseconds since the Unix epoch.
    pub unix_ms: u64,
    /// Never used before.
    pub nonce: [u8; 16],
}

/// Slow work, carried out in submission order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Put a VIP on an interface (already present is success).
    AddAddress {
        /// The instance it belongs to (its failure is reported for it).
        id: InstanceId,
        /// The VIP.
        vip: Vip,
        /// The interface.
        ifindex: u32,
    },
    /// Take a VIP off an interface (already absent is success).
    DelAddress {
        /// The VIP.
        vip: Vip,
        /// The interface.
        ifindex: u32,
    },
    /// Bring a link (a vmac) up or down.
    SetLinkUp {
        /// The link.
        ifindex: u32,
        /// Up or down.
        up: bool,
    },
    /// Create (or re-create) an instance's macvlan, down, and make its base interface
    /// leave ARP for the VIPs to it (IPv4); the result comes back as
    /// [`Completion::VmacReady`].
    CreateVmac {
        /// The instance.
        id: InstanceId,
        /// The macvlan's name (`vrrp.51`).
        name: String,
        /// The base interface.
        parent: u32,
        /// The base interface's name, for its ARP settings (IPv4 only).
        quiet_arp: Option<String>,
        /// The virtual MAC.
        mac: [u8; 6],
    },
    /// Delete a macvlan by name (already gone is success).
    DeleteVmac {
        /// Its name.
        name: String,
    },
    /// Send Ethernet frames (gratuitous ARP, unsolicited NA) after what came before.
    SendFrames {
        /// The instance, for logs.
        id: InstanceId,
        /// Out of this interface.
        ifindex: u32,
        /// The frames.
        frames: Vec<Frame>,
    },
    /// Start a transition's hooks (they run on their own; this only hands them over).
    Hooks(hooks::Transition),
    /// Put back the ARP settings `CreateVmac` changed (on shutdown).
    RestoreArp,
}

/// The result of an [`Effect`] that the engine must know about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Completion {
    /// A macvlan exists now, with this index (or could not be created).
    VmacReady {
        /// The instance.
        id: InstanceId,
        /// Its index, or why it failed.
        result: Result<u32, String>,
    },
    /// A link (a vmac) is up now.
    LinkUp {
        /// The link.
        ifindex: u32,
    },
    /// A VIP is installed.
    AddressAdded {
        /// The instance.
        id: InstanceId,
        /// The VIP.
        vip: Vip,
    },
    /// A VIP could not be installed.
    AddressFailed {
        /// The instance.
        id: InstanceId,
        /// The VIP.
        vip: Vip,
        /// Why.
        error: String,
    },
}

/// What the engine does to the world.
pub trait Ports {
    /// Open the receiving (and sending) VRRP socket of `family` on an interface.
    fn open_socket(
        &mut self,
        family: Family,
        ifname: &str,
        ifindex: u32,
    ) -> Result<SocketId, NetError>;
    /// Open a send-only IPv4 VRRP socket on a vmac, so adverts carry the virtual MAC.
    fn open_sender(&mut self, ifname: &str, ifindex: u32) -> Result<SocketId, NetError>;
    /// Close a socket (its interface is gone, or nobody uses it any more).
    fn close_socket(&mut self, socket: SocketId);
    /// Send one advert now (non-blocking).
    fn send(&mut self, socket: SocketId, packet: &Transmit) -> io::Result<()>;
    /// Read the witness key an instance names (a small local file, at start and reload).
    fn witness_key(&mut self, source: &WitnessKey) -> Result<Key, String>;
    /// The wall clock and a fresh nonce for one witness query.
    fn witness_stamp(&mut self) -> Stamp;
    /// Send one witness query now (non-blocking); answers come back as [`Input::Witness`].
    fn send_witness(&mut self, to: SocketAddr, datagram: &[u8]) -> io::Result<()>;
    /// Queue slow work, carried out in submission order.
    fn submit(&mut self, effect: Effect);
    /// Publish the status (state file, `STATUS=` for systemd).
    fn publish(&mut self, status: &Snapshot);
    /// A tracked interface is up or down (for the tracker).
    fn track_link(&mut self, ifname: &str, up: bool);
    /// Keep the names of the drained instances where a restart finds them.
    fn persist_drains(&mut self, drained: &[String]);
}
