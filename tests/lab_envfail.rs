//! Environment failures (issue 11), each with the real daemon in the lab pair: no system
//! bus at start and a bus that comes back, systemd refusing a job, an nginx whose reload
//! fails, a hung hook, the journal socket gone. Each must give a clear error and leave
//! VRRP alone: lb1's adverts keep their spacing as lb2 sees them, failovers still happen.
//!
//! The bus is a private dbus-daemon with the fake systemd Manager of tests/fake_systemd
//! (reached through `DBUS_SYSTEM_BUS_ADDRESS`), the journal a datagram socket bound
//! over /run/systemd/journal in a private mount namespace (as tests/logging_journald.rs
//! does). Namespaces are `vhho..`; needs root, iproute2, tcpdump, nftables, nginx,
//! dbus-daemon and unshare; skips with a reason, or fails under `CI`, without them.

mod fake_systemd;
mod hostile;
mod lab;
mod prereq;

use std::collections::HashMap;
use std::fs;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use fake_systemd::{DbusDaemon, FakeSystemd, Recorder};
use lab::{wait_until, Host, Lab, Proc, Vrrp, VIP4};

use Host::{Lb1, Lb2};

/// Joins a fresh lab or skips; dbus-daemon and unshare are checked here, the rest by
/// the harness.
fn setup(test: &str, needs: &[&str]) -> Option<Lab> {
    if !lab::require_lab(test, false) {
        return None;
    }
    let missing: Vec<&str> = needs.iter().copied().filter(|t| !prereq::runs(t)).collect();
    if !prereq::go_on(
        test,
        (!missing.is_empty()).then(|| format!("prerequisites missing: {}", missing.join(", "))),
    ) {
        return None;
    }
    Some(Lab::with_prefix(test, "vhho"))
}

/// Wall-clock seconds since the epoch (the clock of pcap timestamps).
fn wall() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The running pair: lb1 with `hooks` and a track file that moves it below lb2, lb2
/// plain; a capture of lb1's adverts at lb2.
struct Pair {
    lb1: Proc,
    lb2: Proc,
    track: PathBuf,
    wire: lab::Capture,
}

/// lb1's config: the lab's VI_1 with `track-file` (weight -20: 100 -> 80 < 90) and
/// `hooks` inside the instance.
fn lb1_config(track: &Path, hooks: &str) -> String {
    let base = Vrrp::v3(Lb1).to_kdl();
    let body = base.trim_end().strip_suffix('}').unwrap_or(&base);
    format!(
        "{body}    track-file \"{}\" weight=-20\n{hooks}\n}}\n",
        track.display()
    )
}

/// Starts lb1 (through `wrap` in front of its argv, with `env`) and lb2, and waits for
/// lb1 MASTER / lb2 BACKUP.
fn pair(lab: &Lab, hooks: &str, env: &[(&str, &str)], wrap: &[&str]) -> Pair {
    let track = lab.dir.join("lb1.track");
    fs::write(&track, "0\n").expect("track file");
    let conf1 = lab.path("lb1-env", "kdl");
    fs::write(&conf1, lb1_config(&track, hooks)).expect("config");
    let conf2 = lab.path("lb2-env", "kdl");
    fs::write(&conf2, Vrrp::v3(Lb2).to_kdl()).expect("config");
    let wire = hostile::capture(
        lab,
        Lb2,
        &format!("ip proto 112 and ether src {}", lab.mac(Lb1)),
        2_000,
        100,
    );
    let lb1 = lab.run_vrrp_ha_under(Lb1, &conf1, env, wrap);
    wait_until(Duration::from_secs(5), || lab.has_addr(Lb1, VIP4))
        .unwrap_or_else(|| panic!("lb1 not master:\n{}", lab::read_log(&lb1.log)));
    let lb2 = lab.run_vrrp_ha(Lb2, &conf2, &[]);
    let c2 = Vrrp::v3(Lb2);
    if let Err(t) = lab::holds_for(c2.master_down() + c2.advert, || {
        lab.is_sole_master(Lb1, VIP4.into())
    }) {
        panic!("lb1 stopped being the sole master {t:?} after lb2 started");
    }
    Pair {
        lb1,
        lb2,
        track,
        wire,
    }
}

impl Pair {
    /// Moves lb1 to 80 (`down`) or back to 100 and waits until the VIP has moved; returns
    /// how long that took.
    fn flip(&self, lab: &Lab, down: bool) -> Duration {
        let (value, master) = if down { ("1\n", Lb2) } else { ("0\n", Lb1) };
        let t0 = Instant::now();
        fs::write(&self.track, value).expect("write track file");
        wait_until(Duration::from_secs(5), || {
            lab.is_sole_master(master, VIP4.into())
        })
        .unwrap_or_else(|| {
            panic!(
                "{} not sole master 5 s after the track file said {value:?}:\n{}",
                master.role(),
                lab::read_log(&self.lb1.log)
            )
        });
        t0.elapsed()
    }

    /// lb1's advert gaps (ms) as lb2 saw them between two wall-clock times, leaving out
    /// the gaps that end in a priority change (advertised at once, on purpose).
    fn gaps(&self, from: f64, to: f64) -> Vec<f64> {
        let seen: Vec<(f64, u8)> = hostile::adverts(&hostile::read_pcap(&self.wire.pcap))
            .iter()
            .filter(|s| s.advert.vrid == lab::VRID && s.at >= from && s.at <= to)
            .map(|s| (s.at, s.advert.priority))
            .collect();
        seen.windows(2)
            .filter(|w| w[0].1 == w[1].1 && w[1].1 != 0)
            .map(|w| (w[1].0 - w[0].0) * 1000.0)
            .collect()
    }

    /// Asserts that lb1 advertised on time between `from` and `to` while it was master
    /// (at least `min` adverts); returns "N adverts, max X ms, mean Y ms".
    fn on_time(&self, from: f64, to: f64, min: usize, what: &str) -> String {
        let gaps = self.gaps(from, to);
        let max = gaps.iter().copied().fold(0.0, f64::max);
        let mean = gaps.iter().sum::<f64>() / gaps.len().max(1) as f64;
        let text = format!("{} gaps, max {max:.1} ms, mean {mean:.1} ms", gaps.len());
        assert!(gaps.len() >= min, "{what}: only {text}");
        assert!(max < 200.0, "{what}: advert gap {max:.1} ms ({text})");
        assert!((90.0..=110.0).contains(&mean), "{what}: {text}");
        text
    }
}

/// A private bus with the fake systemd Manager on it, served from a thread of its own;
/// both end when this is dropped.
struct Bus {
    _daemon: DbusDaemon,
    rec: Recorder,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Bus {
    /// dbus-daemon listening on `dir/bus`, and the fake Manager on it.
    fn start(dir: &Path, exec_reload: HashMap<String, Vec<String>>) -> Bus {
        let daemon = DbusDaemon::start(dir).unwrap_or_else(|e| panic!("dbus-daemon: {e}"));
        let address = daemon.address.clone();
        let (rec_tx, rec_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("tokio runtime");
            rt.block_on(async move {
                let fake = FakeSystemd::start_with(&address, exec_reload).await;
                let _ = rec_tx.send(fake.rec.clone());
                let _ = stopped.await;
                drop(fake);
            });
        });
        let rec = rec_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("fake systemd on the bus");
        Bus {
            _daemon: daemon,
            rec,
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for Bus {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The first line of `log` containing `what`, waiting up to `limit` for it.
fn line_with(log: &Path, what: &str, limit: Duration) -> Option<String> {
    let find = || {
        lab::read_log(log)
            .lines()
            .find(|l| l.contains(what))
            .map(str::to_string)
    };
    wait_until(limit, || find().is_some()).and_then(|_| find())
}

/// Test 1: no system bus at start. The on-master reload fails with one clear error and
/// VRRP carries on; once a bus with systemd appears, the next transition's reload is
/// done over it.
#[test]
fn e1_no_bus_at_start_then_a_bus_that_comes_back() {
    let Some(lab) = setup("e1", &["dbus-daemon"]) else {
        return;
    };
    let bus_dir = lab.dir.join("bus-dir");
    fs::create_dir_all(&bus_dir).expect("bus dir");
    let address = format!("unix:path={}", bus_dir.join("bus").display());
    let hooks = "    on-master {\n        reload \"nginx.service\"\n    }";
    let t_start = wall();
    let p = pair(&lab, hooks, &[("DBUS_SYSTEM_BUS_ADDRESS", &address)], &[]);
    let error = line_with(
        &p.lb1.log,
        "reload nginx.service not done",
        Duration::from_secs(5),
    )
    .unwrap_or_else(|| panic!("no error for the reload:\n{}", lab::read_log(&p.lb1.log)));
    println!("without a bus: {error}");
    assert!(error.contains("ERROR"), "not logged as an error: {error}");
    assert!(
        error.contains("cannot reach systemd"),
        "the error does not say what failed: {error}"
    );
    // Watch lb1 stay master and on time while the action has failed.
    std::thread::sleep(Duration::from_secs(2));
    let spacing = p.on_time(t_start, wall(), 15, "without a bus");

    let bus = Bus::start(&bus_dir, HashMap::new());
    let down = p.flip(&lab, true);
    let up = p.flip(&lab, false);
    let done = line_with(
        &p.lb1.log,
        "reload nginx.service: done",
        Duration::from_secs(5),
    );
    println!(
        "lb1 adverts without a bus: {spacing}; with the bus up: failover {down:.0?}, back {up:.0?}; \
         jobs on the bus: {:?}; {done:?}",
        bus.rec.jobs()
    );
    assert!(done.is_some(), "the reload was not done once the bus came");
    assert_eq!(bus.rec.jobs(), ["ReloadUnit nginx.service"]);
    assert!(lab.alive(&p.lb1) && lab.alive(&p.lb2), "a daemon died");
}

/// Test 2: systemd refuses one job (unknown unit) and fails another: both are reported
/// clearly, the rest of the list still runs, and lb1 stays master on time.
#[test]
fn e2_systemd_refusing_a_job() {
    let Some(lab) = setup("e2", &["dbus-daemon"]) else {
        return;
    };
    let bus_dir = lab.dir.join("bus-dir");
    fs::create_dir_all(&bus_dir).expect("bus dir");
    let bus = Bus::start(&bus_dir, HashMap::new());
    let address = format!("unix:path={}", bus_dir.join("bus").display());
    let marker = lab.dir.join("after.out.log");
    let hooks = format!(
        "    on-master {{\n        start \"nosuch.service\"\n        reload \"nginx-fail.service\"\n        \
         reload \"nginx.service\"\n        exec \"/bin/sh\" \"-c\" \"echo ran >> {}\"\n    }}",
        marker.display()
    );
    let t_start = wall();
    let p = pair(&lab, &hooks, &[("DBUS_SYSTEM_BUS_ADDRESS", &address)], &[]);
    let refused = line_with(
        &p.lb1.log,
        "start nosuch.service not done",
        Duration::from_secs(5),
    );
    let failed = line_with(
        &p.lb1.log,
        "reload nginx-fail.service: job failed",
        Duration::from_secs(5),
    );
    let done = line_with(
        &p.lb1.log,
        "reload nginx.service: done",
        Duration::from_secs(5),
    );
    let ran = wait_until(Duration::from_secs(5), || {
        lab::read_log(&marker).contains("ran")
    });
    // Watch lb1 advertise for a while after the failures.
    std::thread::sleep(Duration::from_secs(2));
    let spacing = p.on_time(t_start, wall(), 15, "with refused jobs");
    println!(
        "refused: {refused:?}\nfailed: {failed:?}\ndone: {done:?}\nexec after them ran: {}; jobs {:?}; lb1 adverts {spacing}",
        ran.is_some(),
        bus.rec.jobs()
    );
    let refused = refused.expect("no error for the refused job");
    assert!(
        refused.contains("ERROR")
            && refused.contains("systemd refused")
            && refused.contains("nosuch.service not found"),
        "unclear: {refused}"
    );
    let failed = failed.expect("no warning for the failed job");
    assert!(
        failed.contains("WARN") && failed.contains("result failed"),
        "{failed}"
    );
    assert!(done.is_some(), "the next job was not run");
    assert!(ran.is_some(), "the exec after the failed jobs did not run");
    assert_eq!(
        bus.rec.jobs(),
        [
            "StartUnit nosuch.service",
            "ReloadUnit nginx-fail.service",
            "ReloadUnit nginx.service"
        ]
    );
    assert!(lab.is_sole_master(Lb1, VIP4.into()), "lb1 lost the VIP");
}

/// Test 3: a real nginx whose new config is broken. `reload "nginx.service"` (systemd
/// runs `nginx -s reload`, here the fake Manager does) fails as a job, the same reload
/// as an `exec` fails with nginx's own message in the log, nginx keeps serving its old
/// config through the VIP, and lb1 stays master on time.
#[test]
fn e3_nginx_reload_failing() {
    let Some(lab) = setup("e3", &["dbus-daemon"]) else {
        return;
    };
    lab.start_nginx(Host::Web);
    let nginx = lab.start_nginx(Lb1);
    let root = lab.dir.join("nginx-lb1");
    let conf = root.join("nginx.conf").display().to_string();
    let err = root.join("error.log").display().to_string();
    let good = fs::read_to_string(&conf).expect("nginx.conf");
    fs::write(&conf, format!("{good}bogus_directive on;\n")).expect("break nginx.conf");
    let nginx_bin = ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("nginx binary");
    let reload: Vec<String> = [nginx_bin, "-e", &err, "-c", &conf, "-s", "reload"]
        .map(String::from)
        .to_vec();
    let bus_dir = lab.dir.join("bus-dir");
    fs::create_dir_all(&bus_dir).expect("bus dir");
    let bus = Bus::start(
        &bus_dir,
        HashMap::from([("nginx.service".to_string(), reload.clone())]),
    );
    let address = format!("unix:path={}", bus_dir.join("bus").display());
    let argv = reload
        .iter()
        .map(|a| format!("\"{a}\""))
        .collect::<Vec<_>>()
        .join(" ");
    let hooks =
        format!("    on-master {{\n        reload \"nginx.service\"\n        exec {argv}\n    }}");
    let t_start = wall();
    let p = pair(&lab, &hooks, &[("DBUS_SYSTEM_BUS_ADDRESS", &address)], &[]);
    let job = line_with(
        &p.lb1.log,
        "reload nginx.service: job failed",
        Duration::from_secs(10),
    );
    let exit = line_with(
        &p.lb1.log,
        "failed with exit status",
        Duration::from_secs(10),
    );
    let said = line_with(&p.lb1.log, "bogus_directive", Duration::from_secs(2));
    let served = lab.http_via(VIP4, Lb1, Instant::now(), Duration::from_secs(3));
    // Watch lb1 advertise for a while after the failures.
    std::thread::sleep(Duration::from_secs(2));
    let spacing = p.on_time(t_start, wall(), 15, "with a failing nginx reload");
    println!(
        "systemd path: {job:?}\nexec path: {exit:?}\nnginx said: {said:?}\nHTTP via the VIP after the failed reloads: {served:?}; lb1 adverts {spacing}"
    );
    assert!(job.is_some_and(|l| l.contains("WARN") && l.contains("result failed")));
    assert!(exit.is_some_and(|l| l.contains("WARN") && l.contains(nginx_bin)));
    assert!(
        said.is_some_and(|l| l.contains("unknown directive")),
        "nginx's own error is not in the log"
    );
    assert!(served.is_some(), "nginx stopped serving through the VIP");
    assert!(lab.alive(&nginx), "nginx died");
    assert_eq!(bus.rec.jobs(), ["ReloadUnit nginx.service"]);
    assert!(lab.is_sole_master(Lb1, VIP4.into()), "lb1 lost the VIP");
}

/// PIDs of lb1's descendants whose command line contains `what`.
fn hook_pids(root: u32, what: &str) -> Vec<u32> {
    lab::descendants_of(root)
        .into_iter()
        .filter(|pid| {
            fs::read(format!("/proc/{pid}/cmdline"))
                .map(|b| {
                    String::from_utf8_lossy(&b)
                        .replace('\0', " ")
                        .contains(what)
                })
                .unwrap_or(false)
        })
        .collect()
}

/// True while a process exists and is not a zombie.
fn running(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, r)| r.trim_start().starts_with('Z'))
        })
        .is_some_and(|zombie| !zombie)
}

/// Test 4: an `on-master` exec that never ends (a shell with a background child): it is
/// killed with its whole process group at the 30 s exec timeout, and lb1's adverts keep
/// their spacing the whole time.
#[test]
fn e4_hung_hook_killed_at_its_timeout() {
    let Some(lab) = setup("e4", &[]) else {
        return;
    };
    let hooks =
        "    on-master {\n        exec \"/bin/sh\" \"-c\" \"sleep 3601 & sleep 3602\"\n    }";
    let t_start = wall();
    let t0 = Instant::now();
    let p = pair(&lab, hooks, &[], &[]);
    let hung = wait_until(Duration::from_secs(3), || {
        hook_pids(p.lb1.pid, "sleep 360").len() >= 2
    });
    let pids = hook_pids(p.lb1.pid, "sleep 360");
    assert!(hung.is_some(), "the hung hook is not running: {pids:?}");
    let timeout = line_with(&p.lb1.log, "process group killed", Duration::from_secs(40))
        .unwrap_or_else(|| panic!("no timeout logged:\n{}", lab::read_log(&p.lb1.log)));
    let killed_after = t0.elapsed();
    let gone = wait_until(Duration::from_secs(2), || !pids.iter().any(|&p| running(p)));
    let spacing = p.on_time(t_start, wall(), 280, "while a hook hangs");
    println!(
        "hung hook {pids:?}: {timeout}\nkilled {killed_after:.1?} after lb1 started; all gone: {}; lb1 adverts {spacing}",
        gone.is_some()
    );
    assert!(
        timeout.contains("WARN") && timeout.contains("timeout after 30s"),
        "{timeout}"
    );
    assert!(
        gone.is_some(),
        "hook processes left after the timeout: {pids:?}"
    );
    assert!(lab.is_sole_master(Lb1, VIP4.into()), "lb1 lost the VIP");
    // The instance still moves: the hung list is over, the next one runs.
    let down = p.flip(&lab, true);
    println!("failover after the timeout: {down:.0?}");
}

/// One field of a journald native-protocol datagram: `KEY=value\n`, or `KEY\n` + a
/// 64-bit little-endian length + the value + `\n` (what tracing-journald sends).
fn native_field(d: &[u8], key: &str) -> Option<String> {
    let mut i = 0;
    while i < d.len() {
        let nl = d[i..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(d.len(), |p| i + p);
        let line = &d[i..nl];
        let (name, value, next) = match line.iter().position(|&b| b == b'=') {
            Some(eq) => (&line[..eq], &line[eq + 1..], nl + 1),
            None => {
                let len_bytes: [u8; 8] = d.get(nl + 1..nl + 9)?.try_into().ok()?;
                let len = u64::from_le_bytes(len_bytes) as usize;
                let start = nl + 9;
                (line, d.get(start..start + len)?, start + len + 1)
            }
        };
        if name == key.as_bytes() {
            return Some(String::from_utf8_lossy(value).into_owned());
        }
        i = next;
    }
    None
}

/// The fake journald: a datagram socket at `dir/socket` whose messages are collected.
struct Journal {
    dir: PathBuf,
    messages: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Journal {
    fn open(dir: &Path) -> Journal {
        let path = dir.join("socket");
        let _ = fs::remove_file(&path);
        let sock = UnixDatagram::bind(&path).expect("bind fake journald");
        sock.set_read_timeout(Some(Duration::from_millis(50)))
            .expect("timeout");
        let messages = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (m, s) = (messages.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut buf = vec![0u8; 64 * 1024];
            while !s.load(Ordering::Relaxed) {
                if let Ok(n) = sock.recv(&mut buf) {
                    if let Some(msg) = native_field(&buf[..n], "MESSAGE") {
                        m.lock().expect("journal lock").push(msg);
                    }
                }
            }
        });
        Journal {
            dir: dir.to_path_buf(),
            messages,
            stop,
            thread: Some(thread),
        }
    }

    fn has(&self, what: &str) -> bool {
        self.messages
            .lock()
            .expect("journal lock")
            .iter()
            .any(|m| m.contains(what))
    }

    /// Closes the socket and removes its file: the journal is gone.
    fn close(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = fs::remove_file(self.dir.join("socket"));
    }
}

/// The journal-gone scenario; returns lb1's stderr log and whether logging resumed.
fn journal_gone(lab: &Lab) -> (String, bool) {
    let jdir = lab.dir.join("journal");
    fs::create_dir_all(&jdir).expect("journal dir");
    let journal = Journal::open(&jdir);
    let setup = r#"mount -t tmpfs vh-run /run && mkdir -p /run/systemd/journal && mount --bind "$1" /run/systemd/journal && shift && exec "$@""#;
    let j = jdir.display().to_string();
    let wrap = [
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "--",
        "sh",
        "-c",
        setup,
        "sh",
        &j,
    ];
    let t_start = wall();
    let p = pair(lab, "", &[], &wrap);
    let to_journal = wait_until(Duration::from_secs(3), || {
        journal.has("VI_1: BACKUP -> MASTER")
    });
    assert!(
        to_journal.is_some(),
        "lb1 did not log its transition to the journal (it got {:?}); its stderr:\n{}",
        journal
            .messages
            .lock()
            .map(|m| m.clone())
            .unwrap_or_default(),
        lab::read_log(&p.lb1.log)
    );
    // Watch lb1 advertise with its journal for a while.
    std::thread::sleep(Duration::from_secs(1));
    let before = p.on_time(t_start, wall(), 10, "with the journal");
    journal.close();
    // Without the journal: transitions and their timing as usual.
    let t_gone = wall();
    let down = p.flip(lab, true);
    let up = p.flip(lab, false);
    std::thread::sleep(Duration::from_secs(1));
    let during = p.on_time(t_gone + up.as_secs_f64(), wall(), 5, "without the journal");
    assert!(lab.alive(&p.lb1), "lb1 died without its journal");
    // The journal comes back: logging resumes.
    let journal = Journal::open(&jdir);
    let again = p.flip(lab, true);
    let resumed = wait_until(Duration::from_secs(3), || {
        journal.has("VI_1: MASTER -> BACKUP")
    });
    println!(
        "journal: lb1 adverts with it {before}; gone: failover {down:.0?}, back {up:.0?}, adverts {during}; \
         back: failover {again:.0?}, logged again: {}",
        resumed.is_some()
    );
    journal.close();
    (lab::read_log(&p.lb1.log), resumed.is_some())
}

/// Test 5: the journal socket disappears under a running daemon: it keeps running and
/// failing over on time, and logs to the journal again once the socket is back.
#[test]
fn e5_journal_socket_gone() {
    let Some(lab) = setup("e5", &["unshare"]) else {
        return;
    };
    let (_, resumed) = journal_gone(&lab);
    assert!(resumed, "logging did not resume when the journal came back");
}

/// Test 6: while the journal is gone, the daemon says so somewhere (stderr, which
/// systemd keeps apart from the native socket) instead of dropping its log silently.
#[test]
fn e6_journal_socket_gone_is_reported() {
    let Some(lab) = setup("e6", &["unshare"]) else {
        return;
    };
    let (stderr, _) = journal_gone(&lab);
    assert!(
        stderr.to_lowercase().contains("journal"),
        "nothing on stderr about the lost journal:\n{stderr}"
    );
    assert!(
        stderr.contains("VI_1: MASTER -> BACKUP"),
        "the transitions while the journal was gone are lost:\n{stderr}"
    );
}
