//! The D-Bus policy the package installs (debian/io.vrrpha.Daemon1.conf), on a real
//! dbus-daemon running Debian's own system-bus policy (/usr/share/dbus-1/system.conf,
//! less its socket, user, pid file and the policies of other packages).
//!
//! dbus-daemon refuses a configuration with a syntax error or an attribute it does not
//! know, and a refused file in /usr/share/dbus-1/system.d keeps the system bus from
//! starting at boot, so the first test starts a bus on it (and checks that a misspelt
//! copy is refused). dbus-broker instead ignores an attribute it does not know and keeps
//! the rule, broadened: the second test checks that every attribute is one dbus-broker
//! implements (its list, from dbus-broker 33's launcher), so the policy means the same
//! on both. The third has a root process own `io.vrrpha.Daemon1.VI_1` with stand-ins of
//! the daemon's objects (/io/vrrpha/Daemon1 with ObjectManager, and an instance object
//! below it), then, as `nobody` through `busctl` and `dbus-monitor`: reading the daemon
//! object's properties, every instance's properties through GetManagedObjects and
//! Status(), introspecting, pinging and receiving signals work; calling Drain, reading
//! an object at another path, and owning a name under io.vrrpha.Daemon1 are refused by
//! the bus; root may call Drain and read and introspect any object. Needs root (to
//! switch to uid 65534), `dbus-daemon`, `dbus-monitor` (package dbus) and `busctl`
//! (package systemd): without them the third test fails when `CI` is set and skips
//! with a reason otherwise. All take well under a second.

mod prereq;
mod system_bus;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::AsyncBufReadExt;
use zbus::interface;
use zbus::object_server::SignalEmitter;

use system_bus::{config as bus_config, SYSTEM_CONF};
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
        if !prereq::on_path(tool) {
            return Some(format!("needs {tool} (apt-get install {package})"));
        }
    }
    None
}

#[test]
fn dbus_daemon_accepts_the_policy_file() {
    if !prereq::go_on("dbus_daemon_accepts_the_policy_file", missing(false)) {
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

/// Every attribute of `<allow>`/`<deny>` that dbus-broker's launcher implements
/// (src/launch/config.c); it warns about any other and keeps the rule without it.
const BROKER_ATTRIBUTES: &[&str] = &[
    "send_interface",
    "send_member",
    "send_error",
    "send_destination",
    "send_path",
    "send_type",
    "send_broadcast",
    "send_requested_reply",
    "receive_interface",
    "receive_member",
    "receive_error",
    "receive_sender",
    "receive_path",
    "receive_type",
    "receive_requested_reply",
    "own",
    "own_prefix",
    "user",
    "group",
    "eavesdrop",
    "log",
];

#[test]
fn every_rule_means_the_same_to_dbus_broker() {
    let text = std::fs::read_to_string(policy_file()).expect("read the policy");
    // Outside the comment: the elements, their attributes `name="value"`.
    let body = &text[text.find("<busconfig>").expect("a busconfig element")..];
    let mut rules = 0;
    let mut for_everyone = false;
    for element in body.split('<').skip(1) {
        let (tag, rest) = element
            .split_once(char::is_whitespace)
            .unwrap_or((element, ""));
        if tag == "policy" {
            for_everyone = rest.contains("context=\"default\"");
            continue;
        }
        if tag != "allow" && tag != "deny" {
            continue;
        }
        rules += 1;
        for attr in rest.split('"').step_by(2) {
            let name = attr.trim().trim_end_matches('=').trim();
            if name.is_empty() || name.starts_with('/') {
                continue;
            }
            assert!(
                BROKER_ATTRIBUTES.contains(&name),
                "dbus-broker does not implement `{name}` in <{tag} {rest}"
            );
        }
        // A rule for everyone without a path or one of our interfaces would reach every
        // service on the bus.
        if for_everyone {
            assert!(
                rest.contains("send_path=\"/io/vrrpha/Daemon1\"")
                    || rest.contains("send_interface=\"io.vrrpha."),
                "a rule for everyone that reaches other services: <{tag} {rest}"
            );
        }
    }
    assert!(rules >= 8, "only {rules} rules found");
}

/// The stand-in for a daemon's object at /io/vrrpha/Daemon1.
struct Daemon;

#[interface(name = "io.vrrpha.Daemon1")]
impl Daemon {
    fn status(&self) -> String {
        "{\"version\":1,\"daemons\":[]}".to_string()
    }

    #[zbus(property)]
    fn version(&self) -> String {
        "0.1.0".to_string()
    }
}

/// The stand-in for an instance object: a method only root may call, a property, a signal.
struct Instance {
    drains: Arc<AtomicUsize>,
}

#[interface(name = "io.vrrpha.Instance1")]
impl Instance {
    fn drain(&self, _force: bool) {
        self.drains.fetch_add(1, Ordering::SeqCst);
    }

    #[zbus(property)]
    fn effective_priority(&self) -> u8 {
        100
    }

    #[zbus(signal, name = "StateChanged")]
    async fn transitioned(
        emitter: &SignalEmitter<'_>,
        old: &str,
        new: &str,
        reason: &str,
    ) -> zbus::Result<()>;
}

/// Something of the same service at another path: nobody may read it.
struct Elsewhere;

#[interface(name = "org.example.Elsewhere")]
impl Elsewhere {
    #[zbus(property)]
    fn secret(&self) -> u8 {
        42
    }
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

const INSTANCE: &str = "/io/vrrpha/Daemon1/instance/VI_1";
const INSTANCE_IFACE: &str = "io.vrrpha.Instance1";

#[tokio::test]
async fn root_owns_and_calls_anyone_reads() {
    if !prereq::go_on("root_owns_and_calls_anyone_reads", missing(true)) {
        return;
    }
    let dir = Scratch::new("dbus-policy-access");
    let socket = dir.0.join("bus");
    let bus = Bus::start(&dir.0, &bus_config(&socket, &policy_file()))
        .unwrap_or_else(|e| panic!("dbus-daemon refuses the policy: {e}"));
    let address = bus.address.clone();

    // Root owns the name: the system bus denies every name unless a policy allows it.
    let drains = Arc::new(AtomicUsize::new(0));
    let conn = zbus::connection::Builder::address(address.as_str())
        .serve_at(PATH, Daemon)
        .serve_at(PATH, zbus::fdo::ObjectManager)
        .serve_at(
            INSTANCE,
            Instance {
                drains: drains.clone(),
            },
        )
        .serve_at("/org/example/Elsewhere", Elsewhere)
        .name(NAME)
        .build()
        .await
        .unwrap_or_else(|e| panic!("root cannot own {NAME}: {e}"));

    let get = ["get-property", NAME, PATH, IFACE, "Version"];
    assert_eq!(
        allowed("nobody: Get", &busctl(&address, NOBODY, &get).await).trim(),
        "s \"0.1.0\""
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
    assert!(all.contains("\"Version\" s \"0.1.0\""), "GetAll: {all}");
    // Every instance's properties, at the daemon's path.
    let managed = [
        "call",
        NAME,
        PATH,
        "org.freedesktop.DBus.ObjectManager",
        "GetManagedObjects",
    ];
    let objects = allowed(
        "nobody: GetManagedObjects",
        &busctl(&address, NOBODY, &managed).await,
    );
    assert!(
        objects.contains(INSTANCE) && objects.contains("\"EffectivePriority\" y 100"),
        "GetManagedObjects: {objects}"
    );
    let status = ["call", NAME, PATH, IFACE, "Status"];
    let json = allowed("nobody: Status", &busctl(&address, NOBODY, &status).await);
    assert!(json.contains("version"), "Status: {json}");
    let introspect = |path: &'static str| {
        [
            "call",
            NAME,
            path,
            "org.freedesktop.DBus.Introspectable",
            "Introspect",
        ]
    };
    let xml = allowed(
        "nobody: Introspect",
        &busctl(&address, NOBODY, &introspect(PATH)).await,
    );
    assert!(
        xml.contains("Status") && xml.contains("instance"),
        "Introspect: {xml}"
    );
    let ping = ["call", NAME, PATH, "org.freedesktop.DBus.Peer", "Ping"];
    allowed("nobody: Ping", &busctl(&address, NOBODY, &ping).await);

    // sd-bus reports org.freedesktop.DBus.Error.AccessDenied, which only the bus sends
    // here (the stand-in accepts every call), as EACCES.
    let rejected = "Access denied";
    let drain = [
        "call",
        NAME,
        INSTANCE,
        INSTANCE_IFACE,
        "Drain",
        "b",
        "false",
    ];
    refused_by_the_bus(
        "nobody: Drain",
        &busctl(&address, NOBODY, &drain).await,
        rejected,
    );
    assert_eq!(drains.load(Ordering::SeqCst), 0, "Drain reached the daemon");
    let elsewhere = [
        "get-property",
        NAME,
        "/org/example/Elsewhere",
        "org.example.Elsewhere",
        "Secret",
    ];
    refused_by_the_bus(
        "nobody: Get at another path",
        &busctl(&address, NOBODY, &elsewhere).await,
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
    let get_instance = [
        "get-property",
        NAME,
        INSTANCE,
        INSTANCE_IFACE,
        "EffectivePriority",
    ];
    assert_eq!(
        allowed("root: Get", &busctl(&address, 0, &get_instance).await).trim(),
        "y 100"
    );
    let xml = allowed(
        "root: Introspect an instance",
        &busctl(&address, 0, &introspect(INSTANCE)).await,
    );
    assert!(xml.contains("Drain"), "Introspect: {xml}");
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
        .arg(format!("type='signal',interface='{INSTANCE_IFACE}'"))
        .uid(NOBODY)
        .gid(NOBODY)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("run dbus-monitor");
    let mut lines = tokio::io::BufReader::new(monitor.stdout.take().expect("stdout")).lines();
    let emitter = SignalEmitter::new(&conn, INSTANCE).expect("emitter");
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut seen = Vec::new();
    // Emitted until it arrives: the monitor's match rule is in place some time after
    // it starts, and nothing says when.
    let received = loop {
        Instance::transitioned(&emitter, "BACKUP", "MASTER", "test")
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
