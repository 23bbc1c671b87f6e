//! Shared parts of the hostile-input, crash and storm suites (lab_hostile, lab_crash,
//! lab_storm, lab_envfail): raw frames built by hand and injected from a lab namespace,
//! pcap reading, and what a daemon's log and the kernel's counters say about it.
//!
//! Frames are whole Ethernet frames sent on an `AF_PACKET` socket, so that every header
//! field can be wrong on purpose: TTL, checksums, lengths, options, fragments, IPv6
//! extension headers. Nothing here sends outside the lab: the socket is opened inside a
//! lab namespace and bound to its `eth0`.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::time::{Duration, Instant};

use vrrp_ha::core::packet::{self, Advert, Auth, ChecksumForm, ChecksumMode, Version};

use crate::lab::{self, Host, Lab};

/// The Ethernet multicast MAC of 224.0.0.18.
pub const MCAST4_MAC: [u8; 6] = [0x01, 0x00, 0x5e, 0x00, 0x00, 0x12];
/// The Ethernet multicast MAC of ff02::12.
pub const MCAST6_MAC: [u8; 6] = [0x33, 0x33, 0x00, 0x00, 0x00, 0x12];
/// The VRRP IPv4 group.
pub const GROUP4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// The VRRP IPv6 group.
pub const GROUP6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);
/// IP protocol number of VRRP.
pub const PROTO_VRRP: u8 = 112;
/// EtherType of IPv4.
pub const ETH_IPV4: u16 = 0x0800;
/// EtherType of IPv6.
pub const ETH_IPV6: u16 = 0x86dd;

/// Parses `aa:bb:cc:dd:ee:ff`.
pub fn parse_mac(s: &str) -> [u8; 6] {
    let mut mac = [0u8; 6];
    let parts: Vec<u8> = s
        .split(':')
        .filter_map(|p| u8::from_str_radix(p, 16).ok())
        .collect();
    assert_eq!(parts.len(), 6, "not a MAC address: {s:?}");
    mac.copy_from_slice(&parts);
    mac
}

/// An Ethernet II frame.
pub fn ether(dst: [u8; 6], src: [u8; 6], ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(14 + payload.len());
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// The Internet checksum (RFC 1071) of `data`.
pub fn inet_checksum(data: &[u8]) -> u16 {
    pnet_packet::util::checksum(data, usize::MAX)
}

/// An IPv4 header with every field settable, for packets that are wrong on purpose.
#[derive(Clone, Debug)]
pub struct Ip4 {
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// Time to live.
    pub ttl: u8,
    /// Protocol (112 for VRRP).
    pub proto: u8,
    /// Identification, for fragments.
    pub id: u16,
    /// Flags (top 3 bits) and fragment offset in 8-byte units.
    pub frag: u16,
    /// Options, padded with end-of-options to a multiple of 4 bytes.
    pub options: Vec<u8>,
    /// Version nibble (4 unless testing a wrong one).
    pub version: u8,
    /// Overrides the IHL computed from the options.
    pub ihl: Option<u8>,
    /// Overrides the total length computed from the payload.
    pub total_len: Option<u16>,
    /// Overrides the header checksum (a correct one is computed otherwise).
    pub checksum: Option<u16>,
}

/// IPv4 "more fragments" flag in [`Ip4::frag`].
pub const IP_MF: u16 = 0x2000;

impl Ip4 {
    /// A correct VRRP header from `src` to `dst` with TTL 255.
    pub fn new(src: Ipv4Addr, dst: Ipv4Addr) -> Ip4 {
        Ip4 {
            src,
            dst,
            ttl: 255,
            proto: PROTO_VRRP,
            id: 0x4242,
            frag: 0,
            options: Vec::new(),
            version: 4,
            ihl: None,
            total_len: None,
            checksum: None,
        }
    }

    /// The header followed by `payload`.
    pub fn packet(&self, payload: &[u8]) -> Vec<u8> {
        let mut opts = self.options.clone();
        while !opts.len().is_multiple_of(4) {
            opts.push(0);
        }
        let hlen = 20 + opts.len();
        let ihl = self.ihl.unwrap_or((hlen / 4) as u8);
        let total = self
            .total_len
            .unwrap_or((hlen + payload.len()).min(usize::from(u16::MAX)) as u16);
        let mut h = Vec::with_capacity(hlen + payload.len());
        h.push((self.version << 4) | (ihl & 0x0f));
        h.push(0xc0);
        h.extend_from_slice(&total.to_be_bytes());
        h.extend_from_slice(&self.id.to_be_bytes());
        h.extend_from_slice(&self.frag.to_be_bytes());
        h.push(self.ttl);
        h.push(self.proto);
        h.extend_from_slice(&[0, 0]);
        h.extend_from_slice(&self.src.octets());
        h.extend_from_slice(&self.dst.octets());
        h.extend_from_slice(&opts);
        let sum = self.checksum.unwrap_or_else(|| inet_checksum(&h));
        h[10..12].copy_from_slice(&sum.to_be_bytes());
        h.extend_from_slice(payload);
        h
    }
}

/// An IPv6 header with optional extension headers, for packets that are wrong on purpose.
#[derive(Clone, Debug)]
pub struct Ip6 {
    /// Source address.
    pub src: Ipv6Addr,
    /// Destination address.
    pub dst: Ipv6Addr,
    /// Hop limit.
    pub hop: u8,
    /// Extension headers as (type, body without its next-header byte); the last one
    /// points at VRRP.
    pub ext: Vec<(u8, Vec<u8>)>,
}

/// IPv6 next-header numbers of the extension headers the suite sends.
pub const EXT_HOP_BY_HOP: u8 = 0;
/// Routing header.
pub const EXT_ROUTING: u8 = 43;
/// Fragment header.
pub const EXT_FRAGMENT: u8 = 44;

impl Ip6 {
    /// A correct VRRP header from `src` to `dst` with hop limit 255.
    pub fn new(src: Ipv6Addr, dst: Ipv6Addr) -> Ip6 {
        Ip6 {
            src,
            dst,
            hop: 255,
            ext: Vec::new(),
        }
    }

    /// The header, its extension headers, then `payload` (a VRRP message).
    pub fn packet(&self, payload: &[u8]) -> Vec<u8> {
        let mut chain = Vec::new();
        for (i, (_, body)) in self.ext.iter().enumerate() {
            let next = self.ext.get(i + 1).map_or(PROTO_VRRP, |e| e.0);
            chain.push(next);
            chain.extend_from_slice(body);
        }
        let first = self.ext.first().map_or(PROTO_VRRP, |e| e.0);
        let len = (chain.len() + payload.len()) as u16;
        let mut h = Vec::with_capacity(40 + chain.len() + payload.len());
        h.extend_from_slice(&[0x6c, 0, 0, 0]);
        h.extend_from_slice(&len.to_be_bytes());
        h.push(first);
        h.push(self.hop);
        h.extend_from_slice(&self.src.octets());
        h.extend_from_slice(&self.dst.octets());
        h.extend_from_slice(&chain);
        h.extend_from_slice(payload);
        h
    }
}

/// A VRRP advert as `vrrp-ha` and keepalived send it.
pub fn advert(
    version: Version,
    vrid: u8,
    priority: u8,
    interval_cs: u16,
    auth: Option<&str>,
    addrs: Vec<IpAddr>,
) -> Advert {
    Advert {
        version,
        vrid,
        priority,
        interval_cs,
        auth: auth.map(Auth::simple),
        addrs,
    }
}

/// Encodes `a` from `src` to `dst` (pseudo-header checksum for IPv4 VRRPv3).
pub fn encode(a: &Advert, src: IpAddr, dst: IpAddr) -> Vec<u8> {
    packet::encode(a, src, dst, ChecksumMode::PseudoHeader).expect("encodable advert")
}

/// Recomputes the checksum of a (mutated) VRRP message in place.
pub fn fix_checksum(msg: &mut [u8], src: IpAddr, dst: IpAddr) {
    if msg.len() < 8 {
        return;
    }
    let form = if msg[0] >> 4 == 3 {
        ChecksumForm::PseudoHeader
    } else {
        ChecksumForm::Message
    };
    msg[6..8].copy_from_slice(&[0, 0]);
    let sum = packet::checksum(msg, src, dst, form);
    msg[6..8].copy_from_slice(&sum.to_be_bytes());
}

/// A send-only `AF_PACKET` socket bound to `eth0` of a lab namespace.
pub struct Injector {
    fd: OwnedFd,
    /// The MAC of the interface it sends from.
    pub mac: [u8; 6],
}

impl Injector {
    /// Opens the socket inside `host`'s namespace (protocol 0: it receives nothing).
    pub fn open(lab: &Lab, host: Host) -> Injector {
        let mac = parse_mac(&lab.mac(host));
        let fd = lab::in_netns(&lab.ns(host), || -> io::Result<OwnedFd> {
            // SAFETY: plain socket(2); the fd is owned by the OwnedFd below.
            let raw = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, 0) };
            if raw < 0 {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: raw is a fresh, valid fd that nothing else owns.
            let fd = unsafe { OwnedFd::from_raw_fd(raw) };
            let name = std::ffi::CString::new("eth0").expect("name");
            // SAFETY: if_nametoindex reads a NUL-terminated string.
            let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) };
            if ifindex == 0 {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: sockaddr_ll is plain old data; zeroed is a valid value.
            let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
            sll.sll_family = libc::AF_PACKET as u16;
            sll.sll_ifindex = ifindex as i32;
            // SAFETY: bind with a sockaddr_ll of the right size on our own fd.
            let rc = unsafe {
                libc::bind(
                    fd.as_raw_fd(),
                    &sll as *const libc::sockaddr_ll as *const libc::sockaddr,
                    std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
                )
            };
            if rc != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(fd)
        })
        .expect("namespace thread")
        .expect("AF_PACKET socket on eth0");
        Injector { fd, mac }
    }

    /// Sends one whole Ethernet frame.
    pub fn send(&self, frame: &[u8]) -> io::Result<()> {
        // SAFETY: send(2) of a buffer we own on our own bound socket.
        let n = unsafe {
            libc::send(
                self.fd.as_raw_fd(),
                frame.as_ptr() as *const libc::c_void,
                frame.len(),
                0,
            )
        };
        if n < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }

    /// Sends `frames` round-robin at `rate` frames per second for `span`, paced against
    /// the clock in 1 ms steps; returns how many went out and how many the socket refused.
    pub fn flood(&self, frames: &[Vec<u8>], rate: u64, span: Duration) -> (u64, u64) {
        let start = Instant::now();
        let total = rate * span.as_millis() as u64 / 1000;
        let (mut sent, mut refused) = (0u64, 0u64);
        let mut i = 0usize;
        while sent + refused < total && start.elapsed() < span + Duration::from_secs(1) {
            let due = (start.elapsed().as_micros() as u64 * rate / 1_000_000).min(total);
            while sent + refused < due {
                match self.send(&frames[i % frames.len()]) {
                    Ok(()) => sent += 1,
                    Err(_) => refused += 1,
                }
                i += 1;
            }
            std::thread::sleep(Duration::from_micros(500));
        }
        (sent, refused)
    }
}

/// One packet of a pcap file.
#[derive(Clone, Debug)]
pub struct Frame {
    /// Capture time, seconds since the epoch.
    pub at: f64,
    /// The Ethernet frame.
    pub data: Vec<u8>,
}

/// The frames of a classic pcap file (microsecond or nanosecond timestamps); a truncated
/// last record (the capture still running) is left out.
pub fn read_pcap(path: &Path) -> Vec<Frame> {
    let Ok(b) = fs::read(path) else {
        return Vec::new();
    };
    if b.len() < 24 {
        return Vec::new();
    }
    let magic = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    let (le, nanos) = match magic {
        0xa1b2c3d4 => (true, false),
        0xa1b23c4d => (true, true),
        0xd4c3b2a1 => (false, false),
        0x4d3cb2a1 => (false, true),
        _ => return Vec::new(),
    };
    let u32_at = |i: usize| {
        let w = [b[i], b[i + 1], b[i + 2], b[i + 3]];
        if le {
            u32::from_le_bytes(w)
        } else {
            u32::from_be_bytes(w)
        }
    };
    let mut out = Vec::new();
    let mut i = 24;
    while i + 16 <= b.len() {
        let (sec, frac, incl) = (u32_at(i), u32_at(i + 4), u32_at(i + 8) as usize);
        if i + 16 + incl > b.len() {
            break;
        }
        let div = if nanos { 1e9 } else { 1e6 };
        out.push(Frame {
            at: f64::from(sec) + f64::from(frac) / div,
            data: b[i + 16..i + 16 + incl].to_vec(),
        });
        i += 16 + incl;
    }
    out
}

/// A VRRP advert seen on the wire.
#[derive(Clone, Debug)]
pub struct Seen {
    /// Capture time, seconds since the epoch.
    pub at: f64,
    /// Source MAC.
    pub mac: [u8; 6],
    /// IP source.
    pub src: IpAddr,
    /// TTL or hop limit.
    pub ttl: u8,
    /// The decoded advert.
    pub advert: Advert,
}

/// The decodable VRRP adverts among captured frames (IPv4 and IPv6, without extension
/// headers, as daemons send them).
pub fn adverts(frames: &[Frame]) -> Vec<Seen> {
    let mut out = Vec::new();
    for f in frames {
        let d = &f.data;
        if d.len() < 14 {
            continue;
        }
        let mut mac = [0u8; 6];
        mac.copy_from_slice(&d[6..12]);
        let ethertype = u16::from_be_bytes([d[12], d[13]]);
        let ip = &d[14..];
        let parsed = match ethertype {
            ETH_IPV4 if ip.len() >= 20 && ip[9] == PROTO_VRRP => {
                let hlen = usize::from(ip[0] & 0x0f) * 4;
                let total = usize::from(u16::from_be_bytes([ip[2], ip[3]])).min(ip.len());
                let src = IpAddr::V4(Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]));
                let dst = IpAddr::V4(Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]));
                (hlen >= 20 && total > hlen).then(|| (src, dst, ip[8], &ip[hlen..total]))
            }
            ETH_IPV6 if ip.len() >= 40 && ip[6] == PROTO_VRRP => {
                let mut s = [0u8; 16];
                s.copy_from_slice(&ip[8..24]);
                let mut t = [0u8; 16];
                t.copy_from_slice(&ip[24..40]);
                let len = usize::from(u16::from_be_bytes([ip[4], ip[5]]));
                let end = (40 + len).min(ip.len());
                Some((
                    IpAddr::V6(Ipv6Addr::from(s)),
                    IpAddr::V6(Ipv6Addr::from(t)),
                    ip[7],
                    &ip[40..end],
                ))
            }
            _ => None,
        };
        if let Some((src, dst, ttl, msg)) = parsed {
            if let Ok((advert, _)) = packet::decode(msg, src, dst) {
                out.push(Seen {
                    at: f.at,
                    mac,
                    src,
                    ttl,
                    advert,
                });
            }
        }
    }
    out
}

/// The largest gap between consecutive times, in milliseconds (0 for fewer than two).
pub fn max_gap_ms(times: &[f64]) -> f64 {
    times
        .windows(2)
        .map(|w| (w[1] - w[0]) * 1000.0)
        .fold(0.0, f64::max)
}

/// A tcpdump in `host`'s namespace in immediate mode writing `filter` matches to a pcap,
/// bounded to `max_packets` and `secs` seconds; waits until it listens.
pub fn capture(lab: &Lab, host: Host, filter: &str, max_packets: u32, secs: u32) -> lab::Capture {
    let pcap = lab.path(&format!("{}-wire", host.role()), "pcap");
    let p = pcap.display().to_string();
    let (n, t) = (max_packets.to_string(), secs.to_string());
    let proc = lab.spawn_in(
        host,
        "tcpdump-wire",
        &[
            "timeout",
            &t,
            "tcpdump",
            "-i",
            "eth0",
            "--immediate-mode",
            "-U",
            "-n",
            "-B",
            "4096",
            "-c",
            &n,
            "-w",
            &p,
            filter,
        ],
    );
    if lab::wait_until(Duration::from_secs(5), || {
        lab::read_log(&proc.log).contains("listening on")
    })
    .is_none()
    {
        panic!("tcpdump did not start:\n{}", lab::read_log(&proc.log));
    }
    lab::Capture { proc, pcap }
}

/// Stops a capture so that it flushes (SIGINT), falling back to SIGKILL; returns what
/// tcpdump said about drops.
pub fn stop_capture(lab: &Lab, cap: &lab::Capture) -> String {
    lab.signal(&cap.proc, libc::SIGINT);
    if lab.reap(&cap.proc, Duration::from_secs(3)).is_none() {
        lab.kill9(&cap.proc);
    }
    lab::read_log(&cap.proc.log)
        .lines()
        .filter(|l| l.contains("packets"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Drops per reason that a daemon has reported so far.
///
/// Read from its log today: `dropped advert from SRC: REASON ... reason=REASON` (checks
/// of RFC 3768 / RFC 9568 section 7.1), `dropped undecodable advert from SRC: ...
/// reason="REASON"` (the decoder) and
/// `dropped VRRP packet: unconfigured VRID` / `truncated` (before any instance). The log
/// is rate-limited to one drop line per instance (per socket before the instances) every
/// 10 s, so each line counts one drop and the result is a lower bound; the suites give
/// each kind of bad packet an instance of its own so that every drop is logged. When
/// `vrrp-ha status --json` reports drops per reason, read them here instead.
pub fn drop_counts(log: &Path) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for line in lab::read_log(log).lines() {
        let reason = if line.contains("dropped undecodable advert")
            || line.contains("dropped advert from ")
        {
            field(line, "reason")
        } else if let Some(rest) = line.split("dropped VRRP packet: ").nth(1) {
            let why = rest.split(" src=").next().unwrap_or(rest);
            let why = why.split(" interface=").next().unwrap_or(why);
            Some(why.trim().replace(' ', "_"))
        } else {
            None
        };
        if let Some(r) = reason {
            *out.entry(r).or_insert(0) += 1;
        }
    }
    out
}

/// The value of ` key=value` (quotes stripped) in a log line.
pub fn field(line: &str, key: &str) -> Option<String> {
    let pat = format!(" {key}=");
    let rest = line.split(&pat).nth(1)?;
    let v = if let Some(q) = rest.strip_prefix('"') {
        q.split('"').next()?
    } else {
        rest.split_whitespace().next()?
    };
    Some(v.to_string())
}

/// `b - a` per key, non-zero entries only.
pub fn delta(a: &BTreeMap<String, u64>, b: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    b.iter()
        .filter_map(|(k, v)| {
            let d = v.saturating_sub(a.get(k).copied().unwrap_or(0));
            (d > 0).then(|| (k.clone(), d))
        })
        .collect()
}

/// One state transition a daemon logged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transition {
    /// Instance name.
    pub instance: String,
    /// Previous state.
    pub from: String,
    /// New state.
    pub to: String,
    /// The whole log line.
    pub line: String,
}

/// Every transition in a daemon log (`VI_1: BACKUP -> MASTER (priority 100): reason`).
pub fn transitions(log: &Path) -> Vec<Transition> {
    const STATES: [&str; 4] = ["INIT", "BACKUP", "MASTER", "FAULT"];
    let mut out = Vec::new();
    for line in lab::read_log(log).lines() {
        let Some((head, rest)) = line.split_once(" -> ") else {
            continue;
        };
        let Some((pre, from)) = head.rsplit_once(": ") else {
            continue;
        };
        let to = rest.split_whitespace().next().unwrap_or("");
        if !STATES.contains(&from) || !(STATES.contains(&to) || to == "STOP") {
            continue;
        }
        let instance = pre.rsplit(' ').next().unwrap_or("").to_string();
        out.push(Transition {
            instance,
            from: from.to_string(),
            to: to.to_string(),
            line: line.to_string(),
        });
    }
    out
}

/// Kernel counters of a lab namespace that show packets dropped below the daemon:
/// `Ip*`/`IpExt*` (/proc/net/snmp, netstat), `Ip6*` (snmp6), and the `drops` of the
/// VRRP raw sockets (`raw4_drops`, `raw6_drops`).
pub fn kernel_counters(lab: &Lab, host: Host) -> BTreeMap<String, u64> {
    lab::in_netns(&lab.ns(host), || {
        let mut out = BTreeMap::new();
        let read = |f: &str| fs::read_to_string(format!("/proc/thread-self/net/{f}"));
        for f in ["snmp", "netstat"] {
            let text = read(f).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            for pair in lines.chunks(2) {
                let [names, values] = pair else { continue };
                let (Some((tag, names)), Some((_, values))) =
                    (names.split_once(": "), values.split_once(": "))
                else {
                    continue;
                };
                if tag != "Ip" && tag != "IpExt" {
                    continue;
                }
                for (n, v) in names.split_whitespace().zip(values.split_whitespace()) {
                    if let Ok(v) = v.parse::<u64>() {
                        out.insert(format!("{tag}{n}"), v);
                    }
                }
            }
        }
        for line in read("snmp6").unwrap_or_default().lines() {
            let mut w = line.split_whitespace();
            if let (Some(n), Some(v)) = (w.next(), w.next()) {
                if n.starts_with("Ip6") {
                    if let Ok(v) = v.parse::<u64>() {
                        out.insert(n.to_string(), v);
                    }
                }
            }
        }
        for (f, key) in [("raw", "raw4_drops"), ("raw6", "raw6_drops")] {
            let drops: u64 = read(f)
                .unwrap_or_default()
                .lines()
                .skip(1)
                .filter(|l| {
                    l.split_whitespace()
                        .nth(1)
                        .is_some_and(|local| local.ends_with(":0070"))
                })
                .filter_map(|l| l.split_whitespace().last()?.parse::<u64>().ok())
                .sum();
            out.insert(key.to_string(), drops);
        }
        out
    })
    .expect("namespace thread")
}

/// Resident set size of a process in KiB (VmRSS in /proc/PID/status).
pub fn rss_kib(pid: u32) -> Option<u64> {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// CPU time (user + system) a process has used, from /proc/PID/stat.
pub fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of stat, 12 and 13 after the comm.
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Some(Duration::from_millis(ticks * 1000 / hz))
}

/// The state files of a daemon run with `VRRP_HA_STATE_DIR=dir`: instance -> state.
pub fn states(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for e in fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.path().extension().is_some_and(|x| x == "json") {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(&lab::read_log(&e.path())) else {
                continue;
            };
            // A daemon's file, or a `status --json` with every daemon in it.
            let daemons = match v.get("daemons").and_then(|d| d.as_array()) {
                Some(all) => all.clone(),
                None => vec![v],
            };
            for d in &daemons {
                for i in d
                    .get("instances")
                    .and_then(|i| i.as_array())
                    .into_iter()
                    .flatten()
                {
                    if let (Some(n), Some(s)) = (
                        i.get("name").and_then(|n| n.as_str()),
                        i.get("state").and_then(|s| s.as_str()),
                    ) {
                        out.insert(n.to_string(), s.to_string());
                    }
                }
            }
        }
    }
    out
}

/// The macvlan links in `host`'s namespace: (name, is up).
pub fn macvlans(lab: &Lab, host: Host) -> Vec<(String, bool)> {
    let out = lab::run(&[
        "ip",
        "-n",
        &lab.ns(host),
        "-o",
        "link",
        "show",
        "type",
        "macvlan",
    ])
    .unwrap_or_default();
    out.lines()
        .filter_map(|l| {
            let name = l.split(": ").nth(1)?.split('@').next()?.to_string();
            let flags = l.split('<').nth(1)?.split('>').next()?;
            Some((name, flags.split(',').any(|f| f == "UP")))
        })
        .collect()
}
