//! Shared network-namespace lab for the end-to-end tests (issue 4).
//!
//! A [`Lab`] builds a client, two load balancers and a web node on one bridge that
//! lives in its own namespace, all under a unique per-test prefix, and tears every
//! namespace and every process it started down again in `Drop` (also on panic, when it
//! prints the daemons' logs first). Nothing here touches the machine's own interfaces.

#![allow(dead_code)]

use crate::prereq;

#[path = "../system_bus/mod.rs"]
pub mod system_bus;

use std::cell::RefCell;
use std::collections::HashSet;
use std::fmt::Write as _;
use std::fs;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// A small deterministic generator (xorshift64*), so that a printed seed replays a run.
pub struct Rng {
    state: u64,
    /// The seed it started from.
    pub seed: u64,
}

impl Rng {
    /// Seeded from the environment variable `var`, or from the clock; the seed is printed
    /// with the line that replays it.
    pub fn from_env(var: &str) -> Rng {
        let seed = std::env::var(var)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(1, |d| d.as_nanos() as u64)
            })
            | 1;
        println!("seed {seed} (replay with {var}={seed})");
        Rng { state: seed, seed }
    }

    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.state = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A duration in `lo..hi`.
    pub fn between(&mut self, lo: Duration, hi: Duration) -> Duration {
        let span = (hi - lo).as_micros().max(1) as u64;
        lo + Duration::from_micros(self.next() % span)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// The IPv4 virtual address the lab's VRRP instances share.
pub const VIP4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 200);
/// The IPv6 virtual address the lab's VRRP instances share.
pub const VIP6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x200);
/// The virtual router id every lab instance uses.
pub const VRID: u8 = 51;
/// Scheduling slack on a loaded 2-core CI box, added to protocol bounds.
pub const SLACK: Duration = Duration::from_millis(100);

/// Lab tests share fixed addresses and are timing-sensitive: run them one at a time.
static LAB_LOCK: Mutex<()> = Mutex::new(());

/// The four hosts on the lab bridge.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Host {
    /// Sends HTTP requests to the VIP.
    Client,
    /// First load balancer (normally the VRRP master).
    Lb1,
    /// Second load balancer (normally the VRRP backup).
    Lb2,
    /// The upstream web server behind both load balancers.
    Web,
}

impl Host {
    /// Every host, in set-up order.
    pub const ALL: [Host; 4] = [Host::Client, Host::Lb1, Host::Lb2, Host::Web];

    /// Short role name, used in namespace, link and log names.
    pub fn role(self) -> &'static str {
        match self {
            Host::Client => "client",
            Host::Lb1 => "lb1",
            Host::Lb2 => "lb2",
            Host::Web => "web",
        }
    }

    fn last_octet(self) -> u8 {
        match self {
            Host::Client => 10,
            Host::Lb1 => 201,
            Host::Lb2 => 202,
            Host::Web => 50,
        }
    }

    /// The host's own IPv4 address on eth0.
    pub fn v4(self) -> Ipv4Addr {
        Ipv4Addr::new(192, 0, 2, self.last_octet())
    }

    /// The host's own IPv6 address on eth0 (2001:db8::X with X the decimal octet as hex digits).
    pub fn v6(self) -> Ipv6Addr {
        let x = u16::from_str_radix(&self.last_octet().to_string(), 16).unwrap_or(0);
        Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, x)
    }

    /// The other load balancer.
    pub fn peer(self) -> Host {
        match self {
            Host::Lb1 => Host::Lb2,
            Host::Lb2 => Host::Lb1,
            h => h,
        }
    }
}

/// Which VRRP implementation runs on a load balancer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Impl {
    /// This crate's daemon, `vrrp-ha run --config FILE`.
    VrrpHa,
    /// keepalived 2.2.7 from Debian, VRRP subsystem only.
    Keepalived,
}

impl Impl {
    /// The implementation the failover tests run on both sides: vrrp-ha unless
    /// `VH_LAB_IMPL=keepalived` (used to prove the harness itself against keepalived).
    pub fn from_env() -> Impl {
        match std::env::var("VH_LAB_IMPL").as_deref() {
            Ok("keepalived") => Impl::Keepalived,
            _ => Impl::VrrpHa,
        }
    }

    /// Short name for log files.
    pub fn name(self) -> &'static str {
        match self {
            Impl::VrrpHa => "vrrp-ha",
            Impl::Keepalived => "keepalived",
        }
    }
}

/// One VRRP instance's settings, rendered as KDL for vrrp-ha or as keepalived.conf.
#[derive(Clone, Debug)]
pub struct Vrrp {
    /// Router id / node name (also the nginx X-LB value of the node).
    pub router_id: String,
    /// Interface inside the namespace.
    pub interface: String,
    /// Virtual router id.
    pub vrid: u8,
    /// Priority 1..=255.
    pub priority: u8,
    /// VRRP version, 2 or 3.
    pub version: u8,
    /// Advertisement interval.
    pub advert: Duration,
    /// Virtual addresses with prefix length, e.g. "192.0.2.200/24".
    pub vips: Vec<String>,
    /// Preempt a lower-priority master.
    pub preempt: bool,
    /// Wait this long before preempting.
    pub preempt_delay: Option<Duration>,
    /// VRRPv2 simple-text password.
    pub auth: Option<String>,
    /// Unicast source address; with `unicast_peers`, adverts go unicast.
    pub unicast_source: Option<IpAddr>,
    /// Unicast peers.
    pub unicast_peers: Vec<IpAddr>,
    /// Gratuitous ARPs / unsolicited NAs on becoming master.
    pub garp_repeat: u32,
    /// Carry the VIPs on a macvlan with the RFC virtual MAC.
    pub use_vmac: bool,
}

/// The first VIP of a config, without its prefix length.
pub fn vip_of(cfg: &Vrrp) -> IpAddr {
    cfg.vips
        .first()
        .and_then(|v| v.split('/').next())
        .and_then(|v| v.parse().ok())
        .expect("config has a VIP")
}

impl Vrrp {
    /// The classic pair: lb1 priority 100, lb2 priority 90, VRRPv3, 100 ms, IPv4 VIP .200/24.
    pub fn v3(host: Host) -> Vrrp {
        Vrrp {
            router_id: host.role().to_string(),
            interface: "eth0".to_string(),
            vrid: VRID,
            priority: if host == Host::Lb1 { 100 } else { 90 },
            version: 3,
            advert: Duration::from_millis(100),
            vips: vec![format!("{VIP4}/24")],
            preempt: true,
            preempt_delay: None,
            auth: None,
            unicast_source: None,
            unicast_peers: Vec::new(),
            garp_repeat: 5,
            use_vmac: false,
        }
    }

    /// Like [`Vrrp::v3`] with an IPv6 VIP.
    pub fn v3_ipv6(host: Host) -> Vrrp {
        Vrrp {
            vips: vec![format!("{VIP6}/64")],
            ..Vrrp::v3(host)
        }
    }

    /// VRRPv2 with PASS "1111" and a 1 s interval.
    pub fn v2_pass(host: Host) -> Vrrp {
        Vrrp {
            version: 2,
            advert: Duration::from_secs(1),
            auth: Some("1111".to_string()),
            ..Vrrp::v3(host)
        }
    }

    /// Unicast to the other load balancer from this host's own address.
    pub fn unicast(mut self, host: Host) -> Vrrp {
        let v6 = self.is_ipv6();
        let addr = |h: Host| {
            if v6 {
                IpAddr::V6(h.v6())
            } else {
                IpAddr::V4(h.v4())
            }
        };
        self.unicast_source = Some(addr(host));
        self.unicast_peers = vec![addr(host.peer())];
        self
    }

    /// True when the VIPs are IPv6.
    pub fn is_ipv6(&self) -> bool {
        self.vips.iter().any(|v| v.contains(':'))
    }

    /// RFC 9568 / RFC 3768 Skew_Time: ((256 - Priority) * Advertisement_Interval) / 256
    /// (RFC 3768 uses one second for the interval).
    pub fn skew(&self) -> Duration {
        let interval = if self.version == 2 {
            Duration::from_secs(1)
        } else {
            self.advert
        };
        interval * (256 - u32::from(self.priority)) / 256
    }

    /// RFC Master_Down_Interval = 3 * Advertisement_Interval + Skew_Time.
    pub fn master_down(&self) -> Duration {
        self.advert * 3 + self.skew()
    }

    /// The config as vrrp-ha KDL (issue 2's language).
    pub fn to_kdl(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "router-id \"{}\"", self.router_id);
        let _ = writeln!(s, "instance \"VI_1\" {{");
        let _ = writeln!(s, "    interface \"{}\"", self.interface);
        let _ = writeln!(s, "    vrid {}", self.vrid);
        let _ = writeln!(s, "    priority {}", self.priority);
        let _ = writeln!(s, "    version {}", self.version);
        let _ = writeln!(s, "    advert-interval \"{}ms\"", self.advert.as_millis());
        let _ = writeln!(
            s,
            "    preempt {}",
            if self.preempt { "#true" } else { "#false" }
        );
        if let Some(d) = self.preempt_delay {
            let _ = writeln!(s, "    preempt-delay \"{}ms\"", d.as_millis());
        }
        if let Some(a) = &self.auth {
            let _ = writeln!(s, "    authentication \"{a}\"");
        }
        for v in &self.vips {
            let _ = writeln!(s, "    virtual-ip \"{v}\"");
        }
        if let Some(src) = self.unicast_source {
            let _ = writeln!(s, "    unicast-source \"{src}\"");
        }
        for p in &self.unicast_peers {
            let _ = writeln!(s, "    unicast-peer \"{p}\"");
        }
        let _ = writeln!(s, "    garp-repeat {}", self.garp_repeat);
        if self.use_vmac {
            let _ = writeln!(s, "    use-vmac #true");
        }
        let _ = writeln!(s, "}}");
        s
    }

    /// The same instance as a keepalived 2.2.7 configuration.
    pub fn to_keepalived(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "global_defs {{");
        let _ = writeln!(s, "    router_id {}", self.router_id);
        let _ = writeln!(s, "    vrrp_garp_master_repeat {}", self.garp_repeat);
        let _ = writeln!(s, "    vrrp_garp_master_delay 0");
        let _ = writeln!(s, "}}");
        let _ = writeln!(s, "vrrp_instance VI_1 {{");
        // BACKUP everywhere: nopreempt/preempt_delay require it, and the RFC start-up path
        // (Backup, then Master_Down_Interval) is what vrrp-ha does too.
        let _ = writeln!(s, "    state BACKUP");
        let _ = writeln!(s, "    interface {}", self.interface);
        let _ = writeln!(s, "    virtual_router_id {}", self.vrid);
        let _ = writeln!(s, "    priority {}", self.priority);
        let _ = writeln!(s, "    version {}", self.version);
        let _ = writeln!(s, "    advert_int {}", self.advert.as_secs_f64());
        if self.is_ipv6() {
            let _ = writeln!(s, "    native_ipv6");
        }
        if self.use_vmac {
            let _ = writeln!(s, "    use_vmac");
        }
        if !self.preempt {
            let _ = writeln!(s, "    nopreempt");
        }
        if let Some(d) = self.preempt_delay {
            let _ = writeln!(s, "    preempt_delay {}", d.as_secs_f64());
        }
        if let Some(a) = &self.auth {
            let _ = writeln!(
                s,
                "    authentication {{\n        auth_type PASS\n        auth_pass {a}\n    }}"
            );
        }
        if let Some(src) = self.unicast_source {
            let _ = writeln!(s, "    unicast_src_ip {src}");
            let _ = writeln!(s, "    unicast_peer {{");
            for p in &self.unicast_peers {
                let _ = writeln!(s, "        {p}");
            }
            let _ = writeln!(s, "    }}");
        }
        let _ = writeln!(s, "    virtual_ipaddress {{");
        for v in &self.vips {
            // With use_vmac keepalived puts VIPs without `dev` on the macvlan.
            if self.use_vmac {
                let _ = writeln!(s, "        {v}");
            } else {
                let _ = writeln!(s, "        {v} dev {}", self.interface);
            }
        }
        let _ = writeln!(s, "    }}");
        let _ = writeln!(s, "}}");
        s
    }
}

/// Checks the lab's prerequisites. Missing ones fail the test when `CI` is set and
/// otherwise print a skip reason; returns whether the test should run.
pub fn require_lab(test: &str, needs_keepalived: bool) -> bool {
    let mut missing = Vec::new();
    if !prereq::is_root() {
        missing.push("root".to_string());
    }
    let mut tools = vec!["ip", "nginx", "tcpdump", "nft", "curl", "sysctl"];
    if needs_keepalived {
        tools.push("keepalived");
    }
    for t in tools {
        if !prereq::on_path(t) {
            missing.push(t.to_string());
        }
    }
    prereq::go_on(
        test,
        (!missing.is_empty()).then(|| format!("lab prerequisites missing: {}", missing.join(", "))),
    )
}

/// Polls `cond` every 10 ms until it holds (returns the elapsed time) or `limit` passes.
pub fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> Option<Duration> {
    wait_until_from(Instant::now(), limit, &mut cond)
}

/// Like [`wait_until`] but measures from `start` (e.g. the instant of a kill).
pub fn wait_until_from(
    start: Instant,
    limit: Duration,
    mut cond: impl FnMut() -> bool,
) -> Option<Duration> {
    loop {
        if cond() {
            return Some(start.elapsed());
        }
        if start.elapsed() >= limit {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Checks that `cond` holds on every poll for the whole of `span`; returns the first
/// elapsed time at which it did not.
pub fn holds_for(span: Duration, mut cond: impl FnMut() -> bool) -> Result<(), Duration> {
    let start = Instant::now();
    loop {
        if !cond() {
            return Err(start.elapsed());
        }
        if start.elapsed() >= span {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(15));
    }
}

/// Runs `f` on a fresh thread that has joined the network namespace `ns`, so sockets
/// and netlink queries it makes happen inside the lab without spawning a process.
pub fn in_netns<T: Send + 'static>(
    ns: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, String> {
    let path = format!("/run/netns/{ns}");
    std::thread::spawn(move || {
        let file = fs::File::open(&path).map_err(|e| format!("open {path}: {e}"))?;
        // SAFETY: setns on a valid namespace fd only changes this thread's network namespace.
        let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        if rc != 0 {
            return Err(format!("setns {path}: {}", std::io::Error::last_os_error()));
        }
        Ok(f())
    })
    .join()
    .map_err(|_| "namespace thread panicked".to_string())?
}

/// The addresses configured in the current thread's namespace.
fn local_addrs() -> Result<Vec<IpAddr>, String> {
    let addrs = nix::ifaddrs::getifaddrs().map_err(|e| format!("getifaddrs: {e}"))?;
    Ok(addrs
        .filter_map(|a| a.address)
        .filter_map(|a| {
            if let Some(v4) = a.as_sockaddr_in() {
                Some(IpAddr::V4(v4.ip()))
            } else {
                a.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip()))
            }
        })
        .collect())
}

/// What one HTTP request through the lab returned.
#[derive(Clone, Debug)]
pub struct HttpReply {
    /// Status code.
    pub status: u16,
    /// The X-LB header, naming the load balancer that proxied the request.
    pub lb: Option<String>,
    /// The body.
    pub body: String,
}

fn parse_http(raw: &str) -> Option<HttpReply> {
    let (head, body) = raw.split_once("\r\n\r\n")?;
    let mut lines = head.lines();
    let status = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let lb = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("x-lb"))
        .map(|(_, v)| v.trim().to_string());
    Some(HttpReply {
        status,
        lb,
        body: body.to_string(),
    })
}

fn http_once(addr: SocketAddr, timeout: Duration) -> Option<HttpReply> {
    let mut s = TcpStream::connect_timeout(&addr, timeout).ok()?;
    s.set_read_timeout(Some(timeout)).ok()?;
    s.set_write_timeout(Some(timeout)).ok()?;
    let host = match addr {
        SocketAddr::V4(a) => a.ip().to_string(),
        SocketAddr::V6(a) => format!("[{}]", a.ip()),
    };
    let req = format!("GET / HTTP/1.0\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).ok()?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).ok()?;
    parse_http(&String::from_utf8_lossy(&buf))
}

/// A process the lab started (by PID), with its log file.
#[derive(Clone, Debug)]
pub struct Proc {
    /// The PID of the process (`ip netns exec` execs it, so this is the program itself).
    pub pid: u32,
    /// Label used in log dumps.
    pub name: String,
    /// stdout+stderr of the process.
    pub log: PathBuf,
}

/// A packet capture running in a namespace.
#[derive(Clone, Debug)]
pub struct Capture {
    /// The tcpdump process.
    pub proc: Proc,
    /// The pcap file it writes.
    pub pcap: PathBuf,
}

/// The lab: namespaces, processes and a temp dir, all removed on drop.
pub struct Lab {
    /// Unique prefix of every namespace name, e.g. `vh3f2a`.
    pub prefix: String,
    /// Per-test temp dir holding configs, logs, pid files and captures.
    pub dir: PathBuf,
    namespaces: Vec<String>,
    children: RefCell<Vec<(Proc, Child)>>,
    seq: RefCell<u32>,
    _serial: MutexGuard<'static, ()>,
}

impl Lab {
    /// Builds the bridge, the four hosts and their addresses. `test` makes the prefix unique.
    pub fn new(test: &str) -> Lab {
        Lab::create(test, |h| format!("vh{:04x}", h & 0xffff))
    }

    /// Like [`Lab::new`], with namespace names that start with `stem` (e.g. `vhho`)
    /// followed by two hex digits, so that a suite's namespaces are recognisable as its own.
    pub fn with_prefix(test: &str, stem: &str) -> Lab {
        Lab::create(test, |h| format!("{stem}{:02x}", h & 0xff))
    }

    /// [`Lab::with_prefix`] with the arguments the other way round.
    pub fn new_prefixed(base: &str, test: &str) -> Lab {
        Lab::with_prefix(test, base)
    }

    /// Takes the lab lock, picks the first free prefix `name(hash)` (the hash of `test`,
    /// the PID and a salt) and builds the lab under it.
    fn create(test: &str, name: impl Fn(u32) -> String) -> Lab {
        let serial = LAB_LOCK.lock().unwrap_or_else(|p| p.into_inner());
        let mut salt = 0u32;
        let prefix = loop {
            let mut h: u32 = 2166136261;
            for b in test
                .bytes()
                .chain(std::process::id().to_le_bytes())
                .chain(salt.to_le_bytes())
            {
                h = (h ^ u32::from(b)).wrapping_mul(16777619);
            }
            let p = name(h);
            if !Path::new(&format!("/run/netns/{p}sw")).exists() {
                break p;
            }
            salt += 1;
        };
        let dir = std::env::temp_dir().join(format!("{prefix}-{test}"));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create lab temp dir");
        // nginx workers run as nobody and must reach their temp paths.
        let _ = Command::new("chmod").arg("755").arg(&dir).status();
        let mut lab = Lab {
            prefix,
            dir,
            namespaces: Vec::new(),
            children: RefCell::new(Vec::new()),
            seq: RefCell::new(0),
            _serial: serial,
        };
        lab.build();
        lab
    }

    /// The namespace name of a host.
    pub fn ns(&self, host: Host) -> String {
        format!("{}{}", self.prefix, host.role())
    }

    /// The switch namespace holding the bridge.
    pub fn sw(&self) -> String {
        format!("{}sw", self.prefix)
    }

    fn add_ns(&mut self, name: &str) {
        run(&["ip", "netns", "add", name]).expect("ip netns add");
        self.namespaces.push(name.to_string());
    }

    fn build(&mut self) {
        let sw = self.sw();
        self.add_ns(&sw);
        let must = |argv: &[&str]| {
            if let Err(e) = run(argv) {
                panic!("lab set-up: {e}");
            }
        };
        must(&[
            "ip",
            "netns",
            "exec",
            &sw,
            "sysctl",
            "-qw",
            "net.ipv6.conf.all.disable_ipv6=1",
        ]);
        must(&[
            "ip",
            "netns",
            "exec",
            &sw,
            "sysctl",
            "-qw",
            "net.ipv6.conf.default.disable_ipv6=1",
        ]);
        must(&["ip", "-n", &sw, "link", "set", "lo", "up"]);
        // No snooping: VRRP multicast (224.0.0.18, ff02::12) must reach every port.
        must(&[
            "ip",
            "-n",
            &sw,
            "link",
            "add",
            "br0",
            "type",
            "bridge",
            "mcast_snooping",
            "0",
            "stp_state",
            "0",
            "forward_delay",
            "0",
        ]);
        must(&["ip", "-n", &sw, "link", "set", "br0", "up"]);
        for host in Host::ALL {
            let ns = self.ns(host);
            self.add_ns(&ns);
            let port = host.role();
            must(&[
                "ip", "-n", &sw, "link", "add", port, "type", "veth", "peer", "name", "eth0",
                "netns", &ns,
            ]);
            must(&["ip", "-n", &sw, "link", "set", port, "master", "br0", "up"]);
            // DAD off before link up, or IPv6 adverts fail with EINVAL until the
            // link-local address leaves the tentative state.
            must(&[
                "ip",
                "netns",
                "exec",
                &ns,
                "sysctl",
                "-qw",
                "net.ipv6.conf.all.accept_dad=0",
                "net.ipv6.conf.default.accept_dad=0",
                "net.ipv6.conf.eth0.accept_dad=0",
                "net.ipv6.conf.eth0.keep_addr_on_down=1",
            ]);
            must(&["ip", "-n", &ns, "link", "set", "lo", "up"]);
            let v4 = format!("{}/24", host.v4());
            let v6 = format!("{}/64", host.v6());
            must(&["ip", "-n", &ns, "addr", "add", &v4, "dev", "eth0"]);
            must(&["ip", "-n", &ns, "addr", "add", &v6, "dev", "eth0", "nodad"]);
            must(&["ip", "-n", &ns, "link", "set", "eth0", "up"]);
        }
    }

    fn next_seq(&self) -> u32 {
        let mut s = self.seq.borrow_mut();
        *s += 1;
        *s
    }

    /// A fresh path in the lab dir: `<stem>-<n>.<ext>`.
    pub fn path(&self, stem: &str, ext: &str) -> PathBuf {
        self.dir.join(format!("{stem}-{}.{ext}", self.next_seq()))
    }

    /// Runs `argv` in `host`'s namespace and returns its stdout, or the error with stderr.
    pub fn exec_in(&self, host: Host, argv: &[&str]) -> Result<String, String> {
        let ns = self.ns(host);
        let mut full = vec!["ip", "netns", "exec", ns.as_str()];
        full.extend_from_slice(argv);
        run(&full)
    }

    /// Starts `argv` in `host`'s namespace with stdout+stderr in a log file; the lab
    /// kills it (and its descendants) on drop.
    pub fn spawn_in(&self, host: Host, name: &str, argv: &[&str]) -> Proc {
        self.spawn_in_env(host, name, argv, &[])
    }

    /// [`Lab::spawn_in`] with extra environment variables.
    pub fn spawn_in_env(
        &self,
        host: Host,
        name: &str,
        argv: &[&str],
        env: &[(&str, &str)],
    ) -> Proc {
        let log = self.path(&format!("{}-{name}", host.role()), "log");
        let out = fs::File::create(&log).expect("create log");
        let err = out.try_clone().expect("dup log");
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.ns(host)])
            .args(argv)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            // Own process group: a ^C on the test runner must not reach lab daemons
            // before the Lab guard tears them down in order.
            .process_group(0);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {argv:?}: {e}"));
        let proc = Proc {
            pid: child.id(),
            name: format!("{} {name}", host.role()),
            log,
        };
        self.children.borrow_mut().push((proc.clone(), child));
        proc
    }

    /// Sends `sig` to the process only (not its descendants).
    pub fn signal(&self, p: &Proc, sig: i32) {
        // SAFETY: kill(2) with a PID this lab spawned and has not reaped yet.
        unsafe {
            libc::kill(p.pid as i32, sig);
        }
    }

    /// kill -9 of the process and all its descendants (keepalived forks a VRRP child),
    /// then reaps it.
    pub fn kill9(&self, p: &Proc) {
        kill_tree(p.pid, libc::SIGKILL);
        self.reap(p, Duration::from_secs(2));
    }

    /// SIGTERM to the process; returns its exit status once it exited within `limit`.
    pub fn term(&self, p: &Proc, limit: Duration) -> Option<std::process::ExitStatus> {
        self.signal(p, libc::SIGTERM);
        self.reap(p, limit)
    }

    /// True while the process has not exited.
    pub fn alive(&self, p: &Proc) -> bool {
        let mut kids = self.children.borrow_mut();
        match kids.iter_mut().find(|(q, _)| q.pid == p.pid) {
            Some((_, c)) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Waits up to `limit` for the process to exit and forgets it; `None` if it is still running.
    pub fn reap(&self, p: &Proc, limit: Duration) -> Option<std::process::ExitStatus> {
        let mut status = None;
        wait_until(limit, || {
            let mut kids = self.children.borrow_mut();
            match kids.iter_mut().find(|(q, _)| q.pid == p.pid) {
                Some((_, c)) => match c.try_wait() {
                    Ok(Some(s)) => {
                        status = Some(s);
                        true
                    }
                    Ok(None) => false,
                    Err(_) => true,
                },
                None => true,
            }
        });
        if status.is_some() {
            self.children.borrow_mut().retain(|(q, _)| q.pid != p.pid);
        }
        status
    }

    /// True when `ip` is configured on any interface in `host`'s namespace.
    pub fn has_addr(&self, host: Host, ip: impl Into<IpAddr>) -> bool {
        let ip = ip.into();
        // A failed query must not read as "no VIP": negative checks rely on this.
        match in_netns(&self.ns(host), local_addrs) {
            Ok(Ok(addrs)) => addrs.contains(&ip),
            Ok(Err(e)) | Err(e) => panic!("address query in {}: {e}", self.ns(host)),
        }
    }

    /// The MAC address of a host's eth0.
    pub fn mac(&self, host: Host) -> String {
        let out =
            run(&["ip", "-n", &self.ns(host), "-o", "link", "show", "eth0"]).unwrap_or_default();
        out.split_whitespace()
            .skip_while(|w| *w != "link/ether")
            .nth(1)
            .unwrap_or_default()
            .to_string()
    }

    /// GET `url` with curl from `host` (1 s timeout); returns the body with the headers
    /// folded into an [`HttpReply`].
    pub fn http_get(&self, host: Host, url: &str) -> Result<HttpReply, String> {
        let out = self.exec_in(
            host,
            &[
                "curl",
                "-sS",
                "-i",
                "--connect-timeout",
                "0.5",
                "--max-time",
                "1",
                "-g",
                url,
            ],
        )?;
        parse_http(&out).ok_or_else(|| format!("unparsable reply from {url}: {out:?}"))
    }

    /// One fast in-process HTTP GET from `host` to `ip`:80 with a short timeout.
    pub fn http_probe(
        &self,
        host: Host,
        ip: impl Into<IpAddr>,
        timeout: Duration,
    ) -> Option<HttpReply> {
        let addr = SocketAddr::new(ip.into(), 80);
        in_netns(&self.ns(host), move || http_once(addr, timeout))
            .ok()
            .flatten()
    }

    /// Polls HTTP from the client to `vip` until load balancer `lb` answers it;
    /// returns the time since `start`.
    pub fn http_via(
        &self,
        vip: impl Into<IpAddr>,
        lb: Host,
        start: Instant,
        limit: Duration,
    ) -> Option<Duration> {
        let vip = vip.into();
        wait_until_from(start, limit, || {
            self.http_probe(Host::Client, vip, Duration::from_millis(40))
                .is_some_and(|r| r.status == 200 && r.lb.as_deref() == Some(lb.role()))
        })
    }

    /// Starts nginx on `host`: the web node answers "served by web", a load balancer
    /// proxies to the web node and adds `X-LB: <role>`.
    pub fn start_nginx(&self, host: Host) -> Proc {
        let root = self.dir.join(format!("nginx-{}", host.role()));
        fs::create_dir_all(&root).expect("nginx dir");
        let r = root.display();
        let server = if host == Host::Web {
            "location / { return 200 \"served by web\\n\"; }".to_string()
        } else {
            format!(
                "location / {{ proxy_pass http://{}:80; proxy_connect_timeout 1s; \
                 add_header X-LB {} always; }}",
                Host::Web.v4(),
                host.role()
            )
        };
        let conf = format!(
            "worker_processes 1;\n\
             pid {r}/nginx.pid;\n\
             error_log {r}/error.log info;\n\
             events {{ worker_connections 128; }}\n\
             http {{\n\
               access_log {r}/access.log;\n\
               client_body_temp_path {r}/body;\n\
               proxy_temp_path {r}/proxy;\n\
               fastcgi_temp_path {r}/fastcgi;\n\
               uwsgi_temp_path {r}/uwsgi;\n\
               scgi_temp_path {r}/scgi;\n\
               server {{ listen 80; listen [::]:80; {server} }}\n\
             }}\n"
        );
        let path = root.join("nginx.conf");
        fs::write(&path, conf).expect("write nginx.conf");
        let _ = Command::new("chmod")
            .arg("-R")
            .arg("755")
            .arg(&root)
            .status();
        let p = path.display().to_string();
        let e = format!("{r}/error.log");
        let proc = self.spawn_in(
            host,
            "nginx",
            &["nginx", "-e", &e, "-c", &p, "-g", "daemon off;"],
        );
        let ip = host.v4();
        if wait_until(Duration::from_secs(5), || {
            self.http_probe(host, ip, Duration::from_millis(200))
                .is_some()
        })
        .is_none()
        {
            panic!(
                "nginx on {} did not answer:\n{}",
                host.role(),
                read_log(&proc.log)
            );
        }
        proc
    }

    /// Starts web nginx and nginx on both load balancers.
    pub fn start_all_nginx(&self) {
        self.start_nginx(Host::Web);
        self.start_nginx(Host::Lb1);
        self.start_nginx(Host::Lb2);
    }

    /// Starts tcpdump on `host`'s eth0 writing `filter` matches to a pcap (bounded to
    /// 2000 packets and 120 s), and waits until it listens.
    pub fn capture(&self, host: Host, filter: &str) -> Capture {
        let pcap = self.path(&format!("{}-cap", host.role()), "pcap");
        let p = pcap.display().to_string();
        let proc = self.spawn_in(
            host,
            "tcpdump",
            &[
                "timeout", "120", "tcpdump", "-i", "eth0", "-U", "-n", "-c", "2000", "-w", &p,
                filter,
            ],
        );
        if wait_until(Duration::from_secs(5), || {
            read_log(&proc.log).contains("listening on")
        })
        .is_none()
        {
            panic!("tcpdump did not start:\n{}", read_log(&proc.log));
        }
        Capture { proc, pcap }
    }

    /// Decodes what a capture has written so far (`tcpdump -r -nn -e -vv`).
    pub fn capture_text(&self, cap: &Capture) -> String {
        let p = cap.pcap.display().to_string();
        run(&["tcpdump", "-r", &p, "-nn", "-e", "-vv"]).unwrap_or_else(|e| e)
    }

    /// Starts `vrrp-ha run` on `host` with the config file `conf`, debug logs and
    /// `env` added to its environment.
    pub fn run_vrrp_ha(&self, host: Host, conf: &Path, env: &[(&str, &str)]) -> Proc {
        self.run_vrrp_ha_under(host, conf, env, &[])
    }

    /// [`Lab::run_vrrp_ha`] with `wrap` in front of the daemon's command line (e.g.
    /// `capsh --drop=… --`, `unshare …`).
    pub fn run_vrrp_ha_under(
        &self,
        host: Host,
        conf: &Path,
        env: &[(&str, &str)],
        wrap: &[&str],
    ) -> Proc {
        let c = conf.display().to_string();
        let (state, drain) = self.daemon_dirs(host);
        // The lab's own state and drain files, and no system bus unless the test gives
        // one: a lab daemon must leave nothing in the host's /run or /var/lib, nor appear
        // on its bus. The test's own variables come later and win.
        let mut all_env = vec![
            ("RUST_LOG", "debug"),
            ("NO_COLOR", "1"),
            ("VRRP_HA_STATE_DIR", state.as_str()),
            ("VRRP_HA_DRAIN_DIR", drain.as_str()),
            (
                "DBUS_SYSTEM_BUS_ADDRESS",
                "unix:path=/nonexistent/vrrp-ha-lab-bus",
            ),
        ];
        all_env.extend_from_slice(env);
        let mut argv = wrap.to_vec();
        argv.extend([
            env!("CARGO_BIN_EXE_vrrp-ha"),
            "run",
            "--config",
            &c,
            "--log-level",
            "debug",
        ]);
        self.spawn_in_env(host, "vrrp-ha", &argv, &all_env)
    }

    /// Where a daemon on `host` keeps its state and drain files: in the lab's directory.
    pub fn daemon_dirs(&self, host: Host) -> (String, String) {
        let base = self.dir.join(format!("{}-vrrp-ha", host.role()));
        (
            base.join("state").display().to_string(),
            base.join("drain").display().to_string(),
        )
    }

    /// Writes a config for `imp` and starts it on `host`.
    pub fn start_vrrp(&self, host: Host, imp: Impl, cfg: &Vrrp) -> Proc {
        match imp {
            Impl::VrrpHa => {
                let conf = self.path(&format!("{}-vrrp-ha", host.role()), "kdl");
                fs::write(&conf, cfg.to_kdl()).expect("write kdl");
                self.run_vrrp_ha(host, &conf, &[])
            }
            Impl::Keepalived => {
                let conf = self.path(&format!("{}-keepalived", host.role()), "conf");
                fs::write(&conf, cfg.to_keepalived()).expect("write keepalived.conf");
                self.run_keepalived(host, &conf, &[])
            }
        }
    }

    /// Starts keepalived's VRRP subsystem on `host` with the config file `conf` and
    /// `extra` arguments (e.g. `-i lb2` for `@lb2` lines).
    pub fn run_keepalived(&self, host: Host, conf: &Path, extra: &[&str]) -> Proc {
        // Fresh pid files on every start: after a kill -9 the VRRP child can
        // linger and a reused pid file makes keepalived refuse to start.
        let n = self.next_seq();
        let pid = |k: &str| {
            self.dir
                .join(format!("{}-ka-{k}-{n}.pid", host.role()))
                .display()
                .to_string()
        };
        let (c, p, r, k) = (
            conf.display().to_string(),
            pid("main"),
            pid("vrrp"),
            pid("chk"),
        );
        let mut argv = vec![
            "keepalived",
            "--dont-fork",
            "--log-console",
            "--log-detail",
            "--vrrp",
            "-f",
            &c,
            "-p",
            &p,
            "-r",
            &r,
            "-c",
            &k,
        ];
        argv.extend_from_slice(extra);
        self.spawn_in(host, "keepalived", &argv)
    }

    /// True when `master` holds `vip` and the other load balancer does not.
    pub fn is_sole_master(&self, master: Host, vip: IpAddr) -> bool {
        self.has_addr(master, vip) && !self.has_addr(master.peer(), vip)
    }

    /// Starts lb1 and waits until it is master, then starts lb2 and checks that lb1
    /// stays the sole master for longer than lb2's Master_Down_Interval (so lb2 is a
    /// working backup that hears lb1). Returns both daemons.
    pub fn converge(&self, imp1: Impl, c1: &Vrrp, imp2: Impl, c2: &Vrrp) -> (Proc, Proc) {
        let vip = vip_of(c1);
        let t0 = Instant::now();
        let d1 = self.start_vrrp(Host::Lb1, imp1, c1);
        let limit = c1.master_down() + Duration::from_secs(3);
        match wait_until_from(t0, limit, || self.has_addr(Host::Lb1, vip)) {
            Some(t) => println!(
                "lb1 ({}) master {:?} after start (MDI {:?})",
                imp1.name(),
                t,
                c1.master_down()
            ),
            None => panic!(
                "lb1 ({}) did not become master within {limit:?}",
                imp1.name()
            ),
        }
        let d2 = self.start_vrrp(Host::Lb2, imp2, c2);
        if let Err(t) = holds_for(c2.master_down() + c2.advert, || {
            self.is_sole_master(Host::Lb1, vip)
        }) {
            panic!(
                "lb1 stopped being the sole master {t:?} after lb2 ({}) started (lb1 VIP {}, lb2 VIP {})",
                imp2.name(),
                self.has_addr(Host::Lb1, vip),
                self.has_addr(Host::Lb2, vip)
            );
        }
        (d1, d2)
    }

    /// Cuts lb1 and lb2 off from each other (`on`) or heals the cut, with bridge port
    /// isolation: isolated ports do not reach each other but still reach the client
    /// and the web host, the partition two load balancers suffer when their own link
    /// fails while the clients' side works.
    pub fn isolate_lbs(&self, on: bool) {
        let state = if on { "on" } else { "off" };
        for host in [Host::Lb1, Host::Lb2] {
            run(&[
                "bridge",
                "-n",
                &self.sw(),
                "link",
                "set",
                "dev",
                host.role(),
                "isolated",
                state,
            ])
            .expect("bridge link set isolated");
        }
    }

    /// The MAC address `host`'s neighbour table holds for `ip`, if any.
    pub fn neigh_mac(&self, host: Host, ip: IpAddr) -> Option<String> {
        let out = run(&["ip", "-n", &self.ns(host), "neigh", "show", &ip.to_string()]).ok()?;
        out.split_whitespace()
            .skip_while(|w| *w != "lladdr")
            .nth(1)
            .map(str::to_string)
    }

    /// The bridge port the switch has learnt `mac` on, if any.
    pub fn fdb_port(&self, mac: &str) -> Option<String> {
        let out = run(&["bridge", "-n", &self.sw(), "fdb", "show", "br", "br0"]).ok()?;
        out.lines()
            .filter(|l| l.starts_with(mac) && !l.contains("permanent"))
            .find_map(|l| {
                l.split_whitespace()
                    .skip_while(|w| *w != "dev")
                    .nth(1)
                    .map(str::to_string)
            })
    }

    /// Sets `host`'s eth0 down or up.
    pub fn link(&self, host: Host, up: bool) {
        let state = if up { "up" } else { "down" };
        run(&["ip", "-n", &self.ns(host), "link", "set", "eth0", state]).expect("ip link set");
    }

    /// Drops multicast VRRP (224.0.0.18 and ff02::12) in and out of `host` with nftables.
    pub fn drop_vrrp_multicast(&self, host: Host) {
        let rules = "table inet vhlab {\n\
             chain in { type filter hook input priority 0; ip daddr 224.0.0.18 counter drop; ip6 daddr ff02::12 counter drop; }\n\
             chain out { type filter hook output priority 0; ip daddr 224.0.0.18 counter drop; ip6 daddr ff02::12 counter drop; }\n\
             }\n";
        let f = self.path(&format!("{}-nft", host.role()), "nft");
        fs::write(&f, rules).expect("write nft rules");
        self.exec_in(host, &["nft", "-f", &f.display().to_string()])
            .expect("nft -f");
    }

    /// Removes the rules of [`Lab::drop_vrrp_multicast`] again.
    pub fn allow_vrrp_multicast(&self, host: Host) {
        self.exec_in(host, &["nft", "delete", "table", "inet", "vhlab"])
            .expect("nft delete table");
    }

    /// The packets the multicast-drop rules of `host` have dropped so far (in + out).
    pub fn dropped_multicast(&self, host: Host) -> u64 {
        let out = self
            .exec_in(host, &["nft", "list", "table", "inet", "vhlab"])
            .unwrap_or_default();
        out.split_whitespace()
            .collect::<Vec<_>>()
            .windows(2)
            .filter(|w| w[0] == "packets")
            .filter_map(|w| w[1].parse::<u64>().ok())
            .sum()
    }

    /// A private system bus: dbus-daemon with Debian's system-bus policy (less what makes
    /// it this machine's bus) and the package's policy for vrrp-ha, its socket in the lab
    /// dir (which `nobody` can enter). Returns its address; the lab ends it on drop.
    pub fn system_bus(&self) -> String {
        let policy = Path::new(env!("CARGO_MANIFEST_DIR")).join("debian/io.vrrpha.Daemon1.conf");
        let socket = self.dir.join("system_bus_socket");
        let conf = system_bus::config(&socket, &policy);
        let file = self.dir.join("system-bus.conf");
        fs::write(&file, conf).expect("write bus config");
        let log = self.path("system-bus", "log");
        let out = fs::File::create(&log).expect("create log");
        let err = out.try_clone().expect("dup log");
        let mut child = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", file.display()))
            .arg("--nofork")
            .arg("--print-address")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(err)
            .process_group(0)
            .spawn()
            .expect("run dbus-daemon");
        let mut line = String::new();
        if let Some(mut stdout) = child.stdout.take() {
            // One line once it listens (then EOF when it exits).
            let mut byte = [0u8; 1];
            while stdout.read(&mut byte).map(|n| n == 1).unwrap_or(false) && byte[0] != b'\n' {
                line.push(byte[0] as char);
            }
        }
        drop(out);
        let proc = Proc {
            pid: child.id(),
            name: "system bus".to_string(),
            log,
        };
        self.children.borrow_mut().push((proc, child));
        assert!(
            line.starts_with("unix:"),
            "dbus-daemon did not start: {line:?}"
        );
        line.trim().to_string()
    }

    /// Prints every log the lab collected (daemons, nginx, tcpdump).
    pub fn dump_logs(&self) {
        let mut entries: Vec<_> = fs::read_dir(&self.dir)
            .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
            .unwrap_or_default();
        entries.sort();
        for p in entries {
            if p.extension().is_some_and(|e| e == "log") {
                eprintln!("===== {} =====\n{}", p.display(), tail(&read_log(&p), 300));
            }
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let failed = std::thread::panicking();
        let mut kids = std::mem::take(&mut *self.children.borrow_mut());
        for (p, _) in &kids {
            kill_tree(p.pid, libc::SIGKILL);
        }
        for (_, c) in &mut kids {
            let _ = c.wait();
        }
        if failed {
            self.dump_logs();
            eprintln!("lab files kept in {}", self.dir.display());
        }
        for ns in self.namespaces.iter().rev() {
            let _ = run(&["ip", "netns", "del", ns]);
        }
        if !failed && std::env::var_os("VH_LAB_KEEP").is_none() {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// Runs a command to completion; stdout on success, a message with stderr otherwise.
pub fn run(argv: &[&str]) -> Result<String, String> {
    let out = Command::new(argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{argv:?}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{argv:?}: {}: {}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        ))
    }
}

/// A log file's text (empty if unreadable).
pub fn read_log(p: &Path) -> String {
    fs::read(p)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

fn tail(s: &str, n: usize) -> String {
    let lines: Vec<_> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The lines of a log matching any of the case-insensitive words.
pub fn grep_log(p: &Path, words: &[&str]) -> Vec<String> {
    read_log(p)
        .lines()
        .filter(|l| {
            let l = l.to_ascii_lowercase();
            words.iter().any(|w| l.contains(w))
        })
        .map(str::to_string)
        .collect()
}

/// PIDs of every descendant of `root`, from /proc (e.g. the hooks a daemon runs).
pub fn descendants_of(root: u32) -> Vec<u32> {
    descendants(root)
}

/// PIDs of every descendant of `root`, from /proc.
fn descendants(root: u32) -> Vec<u32> {
    let mut parent = Vec::new();
    if let Ok(d) = fs::read_dir("/proc") {
        for e in d.filter_map(|e| e.ok()) {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            // The comm field may hold spaces and parens: ppid follows the last ')'.
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|s| s.parse::<u32>().ok());
            if let Some(ppid) = ppid {
                parent.push((pid, ppid));
            }
        }
    }
    let mut out = Vec::new();
    let mut seen = HashSet::from([root]);
    let mut frontier = vec![root];
    while let Some(p) = frontier.pop() {
        for &(c, pp) in &parent {
            if pp == p && seen.insert(c) {
                out.push(c);
                frontier.push(c);
            }
        }
    }
    out
}

/// Signals `root` and all its descendants, collected before any is signalled. For
/// SIGKILL everything is stopped first (and seen stopped), then killed leaves first, so
/// that no process sees a relative die and reacts: keepalived's VRRP child sends a
/// priority-0 advert when its parent goes, which would turn a crash into a clean stop.
fn kill_tree(root: u32, sig: i32) {
    let all = std::iter::once(root)
        .chain(descendants(root))
        .collect::<Vec<_>>();
    if std::env::var_os("VH_LAB_DEBUG").is_some() {
        eprintln!("kill_tree {root} sig {sig}: {all:?}");
    }
    let send = |s: i32, pids: &mut dyn Iterator<Item = &u32>| {
        for &pid in pids {
            // SAFETY: kill(2) on PIDs that are this lab's own children or their descendants.
            unsafe {
                libc::kill(pid as i32, s);
            }
        }
    };
    if sig != libc::SIGKILL {
        send(sig, &mut all.iter());
        return;
    }
    send(libc::SIGSTOP, &mut all.iter());
    wait_until(Duration::from_millis(500), || {
        all.iter()
            .all(|pid| matches!(proc_state(*pid), None | Some('T' | 't' | 'Z' | 'X')))
    });
    send(libc::SIGKILL, &mut all.iter().rev());
}

/// The state letter of a process from /proc, `None` once it is gone.
fn proc_state(pid: u32) -> Option<char> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .next()?
        .chars()
        .next()
}
