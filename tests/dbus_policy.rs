//! The D-Bus policy the package installs (debian/io.vrrpha.Daemon1.conf), on a real
//! dbus-daemon running Debian's own system-bus policy (/usr/share/dbus-1/system.conf,
//! less its socket, user, pid file and the policies of other packages).
//!
//! dbus-daemon refuses a configuration with a syntax error or an attribute it does not
//! know, and a refused file in /usr/share/dbus-1/system.d keeps the system bus from
//! starting at boot, so the first test starts a bus on it (and checks that a misspelt
//! copy is refused). The second has a root process own `io.vrrpha.Daemon1.VI_1` with a
//! stand-in object at /io/vrrpha/Daemon1, then, as `nobody` through `busctl` and
//! `dbus-monitor`: reading properties, introspecting, pinging and receiving signals
//! work; calling a method, setting a property and owning a name under
//! io.vrrpha.Daemon1 are refused by the bus; root may do all of it. Needs root (to
//! switch to uid 65534), `dbus-daemon`, `dbus-monitor` (package dbus) and `busctl`
//! (package systemd): without them the second test fails when `CI` is set and skips
//! with a reason otherwise. Both take well under a second.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::AsyncBufReadExt;
use zbus::interface;
use zbus::object_server::SignalEmitter;

const SYSTEM_CONF: &str = "/usr/share/dbus-1/system.conf";
const NOBODY: u32 = 65534;
const NAME: &str = "io.vrrpha.Daemon1.VI_1";
const PATH: &str = "/io/vrrpha/Daemon1";
const IFACE: &str = "io.vrrpha.Daemon1";

fn policy_file() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("debian/io.vrrpha.Daemon1.conf")
}

/// A scratch directory that `nobody` can enter (the bus socket is in it), removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("vrrp-ha-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Debian's system.conf with `policy` included and a socket at `socket` instead of the
/// machine's: its default policy (deny own, deny method calls, allow signals and
/// replies) is what the policy file punches holes in.
fn bus_config(socket: &Path, policy: &Path) -> String {
    let system = std::fs::read_to_string(SYSTEM_CONF)
        .unwrap_or_else(|e| panic!("{SYSTEM_CONF}: {e} (package dbus-system-bus-common)"));
    // What makes it this machine's bus: the socket, the user to switch to, the pid
    // file, forking, the setuid activation helper, and the other packages' policies.
    let machine_specific = [
        "<listen>",
        "<user>",
        "<pidfile>",
        "<fork/>",
        "<syslog/>",
        "<servicehelper>",
        "<standard_system_servicedirs/>",
        "<include ",
        "<include>",
        "<includedir>",
    ];
    let mut dropped = 0;
    let mut out = String::new();
    for line in system.lines() {
        if machine_specific
            .iter()
            .any(|m| line.trim_start().starts_with(m))
        {
            dropped += 1;
            continue;
        }
        if line.trim() == "</busconfig>" {
            out.push_str(&format!(
                "  <listen>unix:path={}</listen>\n  <include>{}</include>\n",
                socket.display(),
                policy.display()
            ));
        }
        out.push_str(line);
        out.push('\n');
    }
    // Each of those is one line in Debian 12's file; if it changes shape, say so.
    assert!(
        dropped >= 8,
        "{SYSTEM_CONF}: only {dropped} machine-specific lines found"
    );
    assert!(
        out.contains("<deny own=\"*\"/>") && out.contains("<deny send_type=\"method_call\"/>"),
        "{SYSTEM_CONF}: the default deny rules are missing"
    );
    out
}

/// A dbus-daemon on a private socket, killed by PID on drop.
struct Bus {
    child: Child,
    address: String,
}

impl Bus {
    /// Starts one on `config`; `Err` with dbus-daemon's complaint when it refuses it.
    fn start(dir: &Path, config: &str) -> Result<Bus, String> {
        let file = dir.join("bus.conf");
        std::fs::write(&file, config).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let mut child = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", file.display()))
            .arg("--nofork")
            .arg("--print-address")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run dbus-daemon: {e}"))?;
        // --print-address writes the line once the socket listens; EOF means it quit.
        let mut line = String::new();
        if let Some(out) = child.stdout.take() {
            let _ = BufReader::new(out).read_line(&mut line);
        }
        let address = line.trim().to_string();
        if address.starts_with("unix:") {
            return Ok(Bus { child, address });
        }
        let _ = child.kill();
        let _ = child.wait();
        let mut err = String::new();
        if let Some(mut e) = child.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        Err(err)
    }
}

impl Drop for Bus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether `tool` is an executable on `PATH` (dbus-monitor has no --version).
fn have(tool: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| {
            std::fs::metadata(dir.join(tool))
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
    })
}

/// Why the test cannot run here, if it cannot.
fn missing(needs_root: bool) -> Option<String> {
    if needs_root && !nix::unistd::Uid::effective().is_root() {
        return Some("needs root (to run busctl and dbus-monitor as nobody)".into());
    }
    if !Path::new(SYSTEM_CONF).exists() {
        return Some(format!("needs {SYSTEM_CONF} (apt-get install dbus)"));
    }
    for (tool, package) in [
        ("dbus-daemon", "dbus"),
        ("dbus-monitor", "dbus"),
        ("busctl", "systemd"),
    ] {
        if !have(tool) {
            return Some(format!("needs {tool} (apt-get install {package})"));
        }
    }
    None
}

/// True when the test should go on; panics under `CI` when it cannot.
fn can_run(test: &str, needs_root: bool) -> bool {
    match missing(needs_root) {
        None => true,
        Some(why) if std::env::var_os("CI").is_some() => {
            panic!("{test} cannot run under CI: {why}")
        }
        Some(why) => {
            eprintln!("SKIP {test}: {why}");
            false
        }
    }
}

#[test]
fn dbus_daemon_accepts_the_policy_file() {
    if !can_run("dbus_daemon_accepts_the_policy_file", false) {
        return;
    }
    let dir = Scratch::new("dbus-policy-syntax");
    let socket = dir.0.join("bus");
    let bus = Bus::start(&dir.0, &bus_config(&socket, &policy_file()));
    assert!(
        bus.is_ok(),
        "dbus-daemon refuses the policy: {}",
        bus.err().unwrap_or_default()
    );
    drop(bus);

    // The control: the same file with one attribute misspelt is refused, so a green
    // run means dbus-daemon really read it.
    let text = std::fs::read_to_string(policy_file()).expect("read the policy");
    assert!(
        text.contains("own_prefix="),
        "the policy has no own_prefix rule"
    );
    let bad = dir.0.join("misspelt.conf");
    std::fs::write(&bad, text.replace("own_prefix=", "own_prefx=")).expect("write the copy");
    match Bus::start(&dir.0, &bus_config(&socket, &bad)) {
        Ok(_) => panic!("dbus-daemon accepted an own_prefx attribute"),
        Err(e) => assert!(e.contains("own_prefx"), "unexpected complaint: {e}"),
    }
}

/// The stand-in for a daemon's object: a method only root may call, a property anyone
/// may read but only root set, and a signal.
struct Daemon {
    drains: Arc<AtomicUsize>,
    priority: u8,
}

#[interface(name = "io.vrrpha.Daemon1")]
impl Daemon {
    fn drain(&self) {
        self.drains.fetch_add(1, Ordering::SeqCst);
    }

    #[zbus(property)]
    fn priority(&self) -> u8 {
        self.priority
    }

    #[zbus(property)]
    fn set_priority(&mut self, p: u8) {
        self.priority = p;
    }

    #[zbus(signal)]
    async fn state_changed(
        emitter: &SignalEmitter<'_>,
        old: &str,
        new: &str,
        reason: &str,
    ) -> zbus::Result<()>;
}

/// The outcome of one `busctl` run.
struct Out {
    ok: bool,
    stdout: String,
    stderr: String,
}

/// `busctl --address=ADDRESS ARGS...` as `uid` (0 or nobody).
async fn busctl(address: &str, uid: u32, args: &[&str]) -> Out {
    let mut cmd = tokio::process::Command::new("busctl");
    cmd.arg(format!("--address={address}"))
        .arg("--timeout=5")
        .args(args)
        .stdin(Stdio::null());
    if uid != 0 {
        // std drops the supplementary groups along with the uid.
        cmd.uid(uid).gid(uid);
    }
    let out = cmd.output().await.expect("run busctl");
    Out {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn allowed(what: &str, out: &Out) -> String {
    assert!(out.ok, "{what}: refused: {}", out.stderr.trim());
    out.stdout.clone()
}

fn refused_by_the_bus(what: &str, out: &Out, marker: &str) {
    assert!(!out.ok, "{what}: allowed: {}", out.stdout.trim());
    assert!(
        out.stderr.contains(marker),
        "{what}: failed, but not by the bus policy: {}",
        out.stderr.trim()
    );
}

#[tokio::test]
async fn root_owns_and_calls_anyone_reads() {
    if !can_run("root_owns_and_calls_anyone_reads", true) {
        return;
    }
    let dir = Scratch::new("dbus-policy-access");
    let socket = dir.0.join("bus");
    let bus = Bus::start(&dir.0, &bus_config(&socket, &policy_file()))
        .unwrap_or_else(|e| panic!("dbus-daemon refuses the policy: {e}"));
    let address = bus.address.clone();

    // Root owns the name: the system bus denies every name unless a policy allows it.
    let drains = Arc::new(AtomicUsize::new(0));
    let daemon = Daemon {
        drains: drains.clone(),
        priority: 100,
    };
    let conn = zbus::connection::Builder::address(address.as_str())
        .name(NAME)
        .serve_at(PATH, daemon)
        .build()
        .await
        .unwrap_or_else(|e| panic!("root cannot own {NAME}: {e}"));

    let get = ["get-property", NAME, PATH, IFACE, "Priority"];
    assert_eq!(
        allowed("nobody: Get", &busctl(&address, NOBODY, &get).await).trim(),
        "y 100"
    );
    let get_all = [
        "call",
        NAME,
        PATH,
        "org.freedesktop.DBus.Properties",
        "GetAll",
        "s",
        IFACE,
    ];
    let all = allowed("nobody: GetAll", &busctl(&address, NOBODY, &get_all).await);
    assert!(all.contains("\"Priority\" y 100"), "GetAll: {all}");
    let introspect = [
        "call",
        NAME,
        PATH,
        "org.freedesktop.DBus.Introspectable",
        "Introspect",
    ];
    let xml = allowed(
        "nobody: Introspect",
        &busctl(&address, NOBODY, &introspect).await,
    );
    assert!(xml.contains("Drain"), "Introspect: {xml}");
    let ping = ["call", NAME, PATH, "org.freedesktop.DBus.Peer", "Ping"];
    allowed("nobody: Ping", &busctl(&address, NOBODY, &ping).await);

    // sd-bus reports org.freedesktop.DBus.Error.AccessDenied, which only the bus sends
    // here (the stand-in accepts every call), as EACCES.
    let rejected = "Access denied";
    let drain = ["call", NAME, PATH, IFACE, "Drain"];
    refused_by_the_bus(
        "nobody: Drain",
        &busctl(&address, NOBODY, &drain).await,
        rejected,
    );
    assert_eq!(drains.load(Ordering::SeqCst), 0, "Drain reached the daemon");
    let set = ["set-property", NAME, PATH, IFACE, "Priority", "y", "1"];
    refused_by_the_bus(
        "nobody: Set",
        &busctl(&address, NOBODY, &set).await,
        rejected,
    );
    let own = |name: &'static str| {
        [
            "call",
            "org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus",
            "RequestName",
            "su",
            name,
            "0",
        ]
    };
    refused_by_the_bus(
        "nobody: RequestName",
        &busctl(&address, NOBODY, &own("io.vrrpha.Daemon1.intruder")).await,
        rejected,
    );

    allowed("root: Drain", &busctl(&address, 0, &drain).await);
    assert_eq!(
        drains.load(Ordering::SeqCst),
        1,
        "root's Drain did not arrive"
    );
    allowed("root: Set", &busctl(&address, 0, &set).await);
    assert_eq!(
        allowed("root: Get", &busctl(&address, 0, &get).await).trim(),
        "y 1"
    );
    // 1: DBUS_REQUEST_NAME_REPLY_PRIMARY_OWNER.
    let reply = allowed(
        "root: RequestName",
        &busctl(&address, 0, &own("io.vrrpha.Daemon1.VI_2")).await,
    );
    assert_eq!(reply.trim(), "u 1");

    // Signals: nobody subscribes (dbus-monitor falls back from BecomeMonitor, which
    // only root may call, to an ordinary match rule) and must receive StateChanged.
    let mut monitor = tokio::process::Command::new("dbus-monitor")
        .arg("--address")
        .arg(&address)
        .arg(format!("type='signal',interface='{IFACE}'"))
        .uid(NOBODY)
        .gid(NOBODY)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("run dbus-monitor");
    let mut lines = tokio::io::BufReader::new(monitor.stdout.take().expect("stdout")).lines();
    let emitter = SignalEmitter::new(&conn, PATH).expect("emitter");
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut seen = Vec::new();
    // Emitted until it arrives: the monitor's match rule is in place some time after
    // it starts, and nothing says when.
    let received = loop {
        Daemon::state_changed(&emitter, "BACKUP", "MASTER", "test")
            .await
            .expect("emit StateChanged");
        match tokio::time::timeout(Duration::from_millis(200), lines.next_line()).await {
            Ok(Ok(Some(line))) => {
                if line.contains("member=StateChanged") {
                    break true;
                }
                seen.push(line);
            }
            Ok(_) => break false,
            Err(_) => {}
        }
        if Instant::now() > deadline {
            break false;
        }
    };
    let _ = monitor.start_kill();
    assert!(
        received,
        "nobody received no StateChanged within 5 s; dbus-monitor printed: {seen:?}"
    );
    drop(conn);
    drop(bus);
}
