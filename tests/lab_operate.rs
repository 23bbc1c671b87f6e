//! Day-2 operations on two vrrp-ha nodes in network namespaces, driven the way an
//! operator does: `vrrp-ha drain`, `resume` and `status --json` over a private system bus
//! (dbus-daemon with Debian's system policy and the package's policy for vrrp-ha), and
//! `/metrics` scraped during a failover and checked by `promtool check metrics`.
//!
//! - `drain_hands_over_and_holds_through_reload_and_restart`: a drain is refused while no
//!   other router was heard; `nobody` reads status but is refused a drain; a drained
//!   MASTER hands over within Skew_Time plus one interval, shows as drained in status,
//!   the log's `vrrp_reason` and the metrics, stays BACKUP through a reload and a daemon
//!   restart, and takes the VIP back only after `resume`. The backup's metrics, scraped
//!   during the handover, pass promtool.
//! - `status_follows_a_track_change_within_one_interval`: a tracked file's value moves
//!   the effective priority; `vrrp-ha status --json` shows it within one advert interval.
//!
//! Needs root, iproute2, dbus-daemon, curl and promtool (package prometheus); skips with
//! a reason (or fails under `CI`) without them.

mod lab;
mod prereq;

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use lab::{holds_for, vip_of, wait_until, wait_until_from, Host, Lab, Vrrp, SLACK};
use Host::{Lb1, Lb2};

const NOBODY: u32 = 65534;
const METRICS: &str = "http://127.0.0.1:9650/metrics";

fn setup(test: &str) -> Option<Lab> {
    if !lab::require_lab(test, false) {
        return None;
    }
    let missing: Vec<&str> = ["dbus-daemon", "curl", "promtool"]
        .into_iter()
        .filter(|t| !prereq::on_path(t))
        .collect();
    if !prereq::go_on(
        test,
        (!missing.is_empty())
            .then(|| format!("needs {missing:?} (packages dbus, curl, prometheus)")),
    ) {
        return None;
    }
    Some(Lab::new_prefixed("vhop", test))
}

/// A node's config file `<dir>/<host>.kdl` (stem = the host's role, so its bus name is
/// `io.vrrpha.Daemon1.lb1`), with metrics, an on-master exec and a tracked script.
fn write_config(lab: &Lab, host: Host, cfg: &Vrrp, instance_extra: &str) -> PathBuf {
    let kdl = cfg.to_kdl();
    let body = kdl.trim_end().strip_suffix('}').expect("an instance block");
    let text = format!(
        "metrics listen=\"127.0.0.1:9650\"\n{body}    on-master {{\n        exec \"/bin/true\"\n    }}\n\
         {instance_extra}}}\nscript \"chk\" {{\n    exec \"/bin/true\"\n    interval \"1s\"\n}}\n"
    );
    let path = lab.dir.join(format!("{}.kdl", host.role()));
    std::fs::write(&path, text).expect("write config");
    path
}

/// The environment of every daemon and CLI call of a test.
fn env(lab: &Lab, bus: &str) -> Vec<(String, String)> {
    vec![
        ("DBUS_SYSTEM_BUS_ADDRESS".into(), bus.into()),
        (
            "VRRP_HA_STATE_DIR".into(),
            lab.dir.join("state").display().to_string(),
        ),
        (
            "VRRP_HA_DRAIN_DIR".into(),
            lab.dir.join("drains").display().to_string(),
        ),
    ]
}

fn start(lab: &Lab, host: Host, conf: &Path, env: &[(String, String)]) -> lab::Proc {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    lab.run_vrrp_ha(host, conf, &env)
}

/// `vrrp-ha ARGS` in the test's own namespace as `uid`: (exit code, stdout, stderr).
fn cli(env: &[(String, String)], uid: u32, args: &[&str]) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vrrp-ha"));
    cmd.args(args).stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    if uid != 0 {
        cmd.uid(uid).gid(uid);
    }
    let out = cmd.output().expect("run vrrp-ha");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The one instance of daemon `name`, from `vrrp-ha status --json NAME`.
fn status_of(env: &[(String, String)], name: &str) -> Option<serde_json::Value> {
    let (code, out, _) = cli(env, 0, &["status", "--json", name]);
    if code != 0 {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(&out).ok()?;
    assert_eq!(v["version"], 1, "{out}");
    let d = &v["daemons"][0];
    (d["source"] == "dbus").then(|| d["instances"][0].clone())
}

fn scrape(lab: &Lab, host: Host) -> Option<String> {
    lab.exec_in(host, &["curl", "-fsS", "--max-time", "2", METRICS])
        .ok()
}

/// `promtool check metrics` on one scrape; its complaint when it has one.
fn promtool(text: &str) -> Result<(), String> {
    use std::io::Write;
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(text.as_bytes())
            .map_err(|e| e.to_string())?;
    }
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn metric(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[test]
fn drain_hands_over_and_holds_through_reload_and_restart() {
    let Some(lab) = setup("drain_hands_over_and_holds_through_reload_and_restart") else {
        return;
    };
    let test_start = Instant::now();
    let bus = lab.system_bus();
    let env = env(&lab, &bus);
    let c1 = Vrrp::v3(Lb1);
    let c2 = Vrrp::v3(Lb2);
    let vip = vip_of(&c1);
    let conf1 = write_config(&lab, Lb1, &c1, "    track-script \"chk\" weight=-10\n");
    let conf2 = write_config(&lab, Lb2, &c2, "");

    // lb2 alone: MASTER, and no other router heard: the drain offers the VIP (priority 0),
    // nobody takes it within four intervals, and it is refused with the VIP kept.
    let d2 = start(&lab, Lb2, &conf2, &env);
    wait_until(c2.master_down() + Duration::from_secs(3), || {
        lab.has_addr(Lb2, vip)
    })
    .expect("lb2 never became MASTER");
    wait_until(Duration::from_secs(5), || status_of(&env, "lb2").is_some())
        .expect("lb2 never showed on the bus");
    let asked = Instant::now();
    let (code, _, err) = cli(&env, 0, &["drain", "VI_1", "--daemon", "lb2"]);
    let waited = asked.elapsed();
    assert_eq!(code, 1, "drain of a lone MASTER: {err}");
    assert!(
        waited >= c2.advert * 4,
        "refused after {waited:?}, before four intervals"
    );
    assert!(
        err.contains("--force") && err.contains("no other router"),
        "{err}"
    );
    assert!(lab.has_addr(Lb2, vip), "a refused drain released the VIP");
    let (code, _, err) = cli(&env, 0, &["drain", "VI_9"]);
    assert_eq!(code, 3, "drain of no instance: {err}");

    // lb1 starts, hears lb2 and preempts it (priority 100 > 90).
    let d1 = start(&lab, Lb1, &conf1, &env);
    wait_until(c1.master_down() + Duration::from_secs(3), || {
        lab.is_sole_master(Lb1, vip)
    })
    .expect("lb1 never preempted lb2");
    wait_until(Duration::from_secs(5), || {
        status_of(&env, "lb1").is_some_and(|i| i["state"] == "MASTER")
    })
    .expect("lb1 never showed as MASTER on the bus");

    // Anyone reads; only root drains.
    let (code, out, err) = cli(&env, NOBODY, &["status", "--json", "lb1"]);
    assert_eq!(code, 0, "nobody: status: {err}");
    assert!(
        out.contains("\"state\":\"MASTER\"") && out.contains("\"source\":\"dbus\""),
        "{out}"
    );
    let (code, _, err) = cli(&env, NOBODY, &["drain", "VI_1", "--daemon", "lb1"]);
    assert_eq!(code, 1, "nobody: drain: {err}");
    assert!(err.contains("access denied"), "nobody: drain: {err}");
    assert!(lab.is_sole_master(Lb1, vip), "nobody's drain had an effect");
    let (code, _, err) = cli(&env, 0, &["drain", "VI_1"]);
    assert_eq!(code, 2, "an instance name two daemons run: {err}");

    // Drain lb1 while scraping lb2, the one taking over.
    let mut scrapes = vec![scrape(&lab, Lb2).expect("lb2 /metrics")];
    let (code, out, err) = cli(&env, 0, &["drain", "VI_1", "--daemon", "lb1"]);
    let drained_at = Instant::now();
    assert_eq!(code, 0, "drain: {out}{err}");
    // Priority 0 makes lb2 take over after its Skew_Time (RFC 9568 section 6.4.2).
    let bound = c2.skew() + c2.advert + SLACK;
    let took = loop {
        if let Some(s) = scrape(&lab, Lb2) {
            scrapes.push(s);
        }
        if lab.is_sole_master(Lb2, vip) {
            break drained_at.elapsed();
        }
        assert!(
            drained_at.elapsed() < Duration::from_secs(3),
            "lb2 did not take over within 3 s of the drain"
        );
    };
    println!("drained MASTER handed over in {took:?} (bound {bound:?})");
    assert!(took <= bound, "handover took {took:?} > {bound:?}");
    scrapes.push(scrape(&lab, Lb2).expect("lb2 /metrics"));
    for (n, s) in scrapes.iter().enumerate() {
        if let Err(e) = promtool(s) {
            panic!("promtool refuses scrape {n} of lb2:\n{e}\n{s}");
        }
    }
    let last = scrapes.last().expect("a scrape");
    let state = "vrrp_ha_instance_state{interface=\"eth0\",state=\"MASTER\",vrid=\"51\",vrrp_instance=\"VI_1\"}";
    assert_eq!(metric(last, state), Some(1.0), "{last}");
    assert_eq!(
        metric(
            last,
            "vrrp_ha_transitions_total{to=\"MASTER\",vrid=\"51\",vrrp_instance=\"VI_1\"}"
        ),
        Some(2.0),
        "lb2 became MASTER twice: alone, then after the drain\n{last}"
    );
    assert!(
        metric(last, "vrrp_ha_action_duration_seconds_count{action=\"exec\",name=\"VI_1\",result=\"ok\",state=\"MASTER\"}")
            >= Some(2.0),
        "{last}"
    );
    assert!(last.contains("process_cpu_seconds_total"), "{last}");
    println!(
        "{} scrapes of lb2 during the handover pass promtool",
        scrapes.len()
    );

    // lb1: drained in status, log and metrics.
    let i = status_of(&env, "lb1").expect("lb1 status");
    assert_eq!(
        (i["state"].as_str(), i["drained"].as_bool()),
        (Some("BACKUP"), Some(true)),
        "{i}"
    );
    let m1 = scrape(&lab, Lb1).expect("lb1 /metrics");
    promtool(&m1).unwrap_or_else(|e| panic!("promtool refuses lb1's scrape:\n{e}"));
    assert_eq!(
        metric(
            &m1,
            "vrrp_ha_instance_drained{vrid=\"51\",vrrp_instance=\"VI_1\"}"
        ),
        Some(1.0),
        "{m1}"
    );
    assert!(
        metric(
            &m1,
            "vrrp_ha_track_check_duration_seconds_count{result=\"ok\",script=\"chk\"}"
        ) >= Some(1.0),
        "{m1}"
    );
    // The transition's line: logging::transition writes this reason as the journal's
    // VRRP_REASON= (tests/logging_journald.rs checks the fields on a journal socket).
    let logged = lab::grep_log(&d1.log, &["drained by the operator"]);
    let line = "VI_1: MASTER -> BACKUP (priority 100): drained by the operator";
    assert!(
        logged.iter().any(|l| l.contains(line)),
        "no transition naming the drain in lb1's log: {logged:?}"
    );

    // Neither a reload nor a restart ends the drain.
    let hold = c1.master_down() + c1.advert * 2;
    lab.signal(&d1, libc::SIGHUP);
    if let Err(t) = holds_for(hold, || lab.is_sole_master(Lb2, vip)) {
        panic!("lb1 took the VIP {t:?} after a reload while drained");
    }
    lab.term(&d1, Duration::from_secs(10))
        .expect("lb1 did not stop on SIGTERM");
    let d1 = start(&lab, Lb1, &conf1, &env);
    wait_until(Duration::from_secs(5), || {
        status_of(&env, "lb1").is_some_and(|i| i["drained"] == true && i["state"] == "BACKUP")
    })
    .expect("lb1 not drained on the bus after its restart");
    if let Err(t) = holds_for(hold, || lab.is_sole_master(Lb2, vip)) {
        panic!("lb1 took the VIP {t:?} after a restart while drained");
    }

    // Resume: lb1 preempts lb2 again (it hears 90 < 100 at lb2's next advert).
    let (code, out, err) = cli(&env, 0, &["resume", "VI_1", "--daemon", "lb1"]);
    let resumed = Instant::now();
    assert_eq!(code, 0, "resume: {out}{err}");
    let limit = c1.master_down() + c1.advert + SLACK;
    let t = wait_until_from(resumed, limit, || lab.is_sole_master(Lb1, vip))
        .unwrap_or_else(|| panic!("lb1 did not take the VIP back within {limit:?} of resume"));
    println!("resumed lb1 took the VIP back in {t:?}");
    let i = status_of(&env, "lb1").expect("lb1 status");
    assert_eq!(i["drained"], false, "{i}");

    // The usual maintenance case: lb1 MASTER since it started, lb2 a silent BACKUP that
    // lb1 never heard. The drain needs no --force: lb1 keeps the VIP until lb2's advert
    // shows it took over, so some node holds the VIP throughout.
    lab.term(&d2, Duration::from_secs(10))
        .expect("lb2 did not stop");
    lab.term(&d1, Duration::from_secs(10))
        .expect("lb1 did not stop");
    let d1 = start(&lab, Lb1, &conf1, &env);
    wait_until(c1.master_down() + Duration::from_secs(3), || {
        lab.is_sole_master(Lb1, vip)
    })
    .expect("lb1 alone never became MASTER");
    let _d2 = start(&lab, Lb2, &conf2, &env);
    wait_until(Duration::from_secs(5), || {
        status_of(&env, "lb2").is_some_and(|i| i["state"] == "BACKUP")
    })
    .expect("lb2 never showed as BACKUP on the bus");
    let asked = Instant::now();
    let drain = std::thread::spawn({
        let env = env.clone();
        move || cli(&env, 0, &["drain", "VI_1", "--daemon", "lb1"])
    });
    let mut gaps = 0;
    while !drain.is_finished() {
        if !lab.has_addr(Lb1, vip) && !lab.has_addr(Lb2, vip) {
            gaps += 1;
        }
        assert!(
            asked.elapsed() < Duration::from_secs(5),
            "the drain never returned"
        );
    }
    let (code, out, err) = drain.join().expect("drain thread");
    let answered = asked.elapsed();
    assert_eq!(
        code, 0,
        "drain of a MASTER that never heard its backup: {out}{err}"
    );
    assert!(
        lab.is_sole_master(Lb2, vip),
        "lb2 does not hold the VIP alone"
    );
    assert_eq!(gaps, 0, "no node held the VIP during the handover");
    assert!(answered <= bound + SLACK, "answered after {answered:?}");
    println!("drain without --force answered in {answered:?}, the VIP held throughout");
    let _ = d1;
    println!("test took {:?}", test_start.elapsed());
}

#[test]
fn status_follows_a_track_change_within_one_interval() {
    let Some(lab) = setup("status_follows_a_track_change_within_one_interval") else {
        return;
    };
    let bus = lab.system_bus();
    let env = env(&lab, &bus);
    let c1 = Vrrp {
        advert: Duration::from_secs(1),
        ..Vrrp::v3(Lb1)
    };
    let weight = lab.dir.join("weight");
    std::fs::write(&weight, "0\n").expect("write weight file");
    let track = format!("    track-file \"{}\" weight=-1\n", weight.display());
    let conf1 = write_config(&lab, Lb1, &c1, &track);
    let _d1 = start(&lab, Lb1, &conf1, &env);
    wait_until(Duration::from_secs(10), || {
        status_of(&env, "lb1").is_some_and(|i| i["state"] == "MASTER")
    })
    .expect("lb1 never showed as MASTER on the bus");

    for (value, want) in [(30, 70), (5, 95), (0, 100)] {
        std::fs::write(&weight, format!("{value}\n")).expect("write weight file");
        let written = Instant::now();
        let shown = wait_until_from(written, c1.advert + SLACK, || {
            status_of(&env, "lb1").is_some_and(|i| {
                i["effective_priority"] == want
                    && i["tracking"][0]["value"] == value
                    && i["priority"] == 100
            })
        });
        let took = shown.unwrap_or_else(|| {
            panic!(
                "status did not show priority {want} within one interval ({:?}) of the file \
                 change: {:?}",
                c1.advert,
                status_of(&env, "lb1")
            )
        });
        println!("file value {value}: status --json shows priority {want} after {took:?}");
        // The state file follows too (its writer is a task of its own).
        let file = lab.dir.join("state/lb1.json");
        let want_text = format!("\"effective_priority\":{want}");
        wait_until(SLACK, || {
            std::fs::read_to_string(&file).is_ok_and(|t| t.contains(&want_text))
        })
        .unwrap_or_else(|| panic!("state file: {:?}", std::fs::read_to_string(&file)));
    }
}
