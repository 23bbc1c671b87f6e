//! sd_notify datagrams, received on sockets standing in for systemd's.

use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

use vrrp_ha::sdnotify::{monotonic_usec, Notifier, NotifyError};

fn recv(sock: &UnixDatagram) -> String {
    let mut buf = [0u8; 4096];
    let n = sock.recv(&mut buf).expect("datagram");
    String::from_utf8(buf[..n].to_vec()).expect("utf8")
}

fn receiver(sock: &UnixDatagram) {
    sock.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
}

#[test]
fn every_message_on_a_path_socket() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("notify");
    let sock = UnixDatagram::bind(&path).expect("bind");
    receiver(&sock);
    let n = Notifier::new(Some(path.as_os_str()));
    assert!(n.is_enabled());

    n.ready().expect("ready");
    assert_eq!(recv(&sock), "READY=1\n");
    n.status("VI_1 MASTER prio 100; VI_2 BACKUP prio 90")
        .expect("status");
    assert_eq!(
        recv(&sock),
        "STATUS=VI_1 MASTER prio 100; VI_2 BACKUP prio 90\n"
    );
    n.status("two\nlines").expect("status");
    assert_eq!(recv(&sock), "STATUS=two lines\n");
    n.watchdog().expect("watchdog");
    assert_eq!(recv(&sock), "WATCHDOG=1\n");
    n.ready_with_status("VI_1 BACKUP prio 100").expect("ready");
    assert_eq!(recv(&sock), "READY=1\nSTATUS=VI_1 BACKUP prio 100\n");

    let before = monotonic_usec();
    n.reloading().expect("reloading");
    let after = monotonic_usec();
    let msg = recv(&sock);
    let mut lines = msg.lines();
    assert_eq!(lines.next(), Some("RELOADING=1"));
    let usec: u64 = lines
        .next()
        .and_then(|l| l.strip_prefix("MONOTONIC_USEC="))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("MONOTONIC_USEC in {msg:?}"));
    assert!(
        before <= usec && usec <= after,
        "{before} <= {usec} <= {after}"
    );
    assert!(msg.ends_with('\n'));

    n.stopping().expect("stopping");
    assert_eq!(recv(&sock), "STOPPING=1\n");
}

#[test]
fn abstract_socket() {
    let name = format!("vh-sdnotify-{}", std::process::id());
    let addr = SocketAddr::from_abstract_name(name.as_bytes()).expect("abstract addr");
    let sock = UnixDatagram::bind_addr(&addr).expect("bind abstract");
    receiver(&sock);
    let n = Notifier::new(Some(format!("@{name}")));
    n.ready().expect("ready");
    assert_eq!(recv(&sock), "READY=1\n");
}

#[test]
fn errors_are_returned_not_swallowed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let n = Notifier::new(Some(dir.path().join("nobody-listens")));
    match n.ready() {
        Err(NotifyError::Send { socket, .. }) => assert!(socket.ends_with("nobody-listens")),
        other => panic!("expected a send error, got {other:?}"),
    }
}

#[test]
fn unset_socket_is_a_noop() {
    let n = Notifier::new(None::<String>);
    assert!(!n.is_enabled());
    n.ready().expect("no-op");
    n.reloading().expect("no-op");
}
