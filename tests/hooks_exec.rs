//! `exec` actions and `notify` scripts with real processes: environment and keepalived notify
//! arguments reach the child, output is logged, the timeout kills the whole process group.

#[path = "fake_systemd/support.rs"]
mod support;

use std::time::{Duration, Instant};

use support::{read_lines, script, wait_until, Logs, TempDir};
use vrrp_ha::config::model::HookAction;
use vrrp_ha::hooks::exec::{self, ExecError, ExecOutcome};
use vrrp_ha::hooks::{HookState, Runner, RunnerOptions, Scope, Transition};

fn sh(cmd: String) -> HookAction {
    HookAction::Exec(vec!["/bin/sh".into(), "-c".into(), cmd])
}

/// A runner that must never need the bus: unit actions would fail fast on this address.
fn runner(dir: &TempDir) -> Runner {
    Runner::spawn(RunnerOptions {
        bus_address: Some(format!("unix:path={}/no-bus", dir.path().display())),
        job_timeout: Duration::from_secs(2),
        exec_timeout: Duration::from_secs(5),
    })
}

#[tokio::test]
async fn env_and_notify_args_reach_the_child_notify_first() {
    let (logs, _g) = Logs::capture();
    let dir = TempDir::new("env");
    let d = dir.path().display().to_string();
    let notify = script(
        dir.path(),
        "notify.sh",
        &format!(
            "echo \"notify $*\" >> {d}/order\n\
             echo \"$@\" > {d}/notify-args\n\
             env | grep '^VRRP_' | sort > {d}/notify-env"
        ),
    );
    let r = runner(&dir);
    r.transition(Transition {
        scope: Scope::Instance,
        name: "VI_1".into(),
        state: HookState::Master,
        prev_state: HookState::Backup,
        priority: 150,
        vrid: Some(51),
        vips: vec!["192.0.2.10/24".into(), "2001:db8::10/64".into()],
        reason: "higher priority than master 192.0.2.2".into(),
        actions: vec![
            sh(format!(
                "echo exec >> {d}/order; env | grep '^VRRP_' | sort > {d}/exec-env"
            )),
            // argv goes through untouched, no shell splitting or globbing.
            HookAction::Exec(vec![
                "/bin/sh".into(),
                "-c".into(),
                format!("printf '%s|' \"$@\" > {d}/argv"),
                "argv0".into(),
                "two words".into(),
                "*".into(),
            ]),
        ],
        notify: Some(notify.clone()),
    });
    tokio::time::timeout(Duration::from_secs(10), r.idle())
        .await
        .expect("runner goes idle");

    assert_eq!(
        read_lines(&dir.path().join("order")),
        ["notify INSTANCE VI_1 MASTER 150", "exec"]
    );
    assert_eq!(
        read_lines(&dir.path().join("notify-args")),
        ["INSTANCE VI_1 MASTER 150"]
    );
    let want = [
        "VRRP_INSTANCE=VI_1",
        "VRRP_PREV_STATE=BACKUP",
        "VRRP_PRIORITY=150",
        "VRRP_REASON=higher priority than master 192.0.2.2",
        "VRRP_STATE=MASTER",
        "VRRP_VIPS=192.0.2.10/24 2001:db8::10/64",
        "VRRP_VRID=51",
    ];
    assert_eq!(read_lines(&dir.path().join("notify-env")), want);
    assert_eq!(read_lines(&dir.path().join("exec-env")), want);
    assert_eq!(read_lines(&dir.path().join("argv")), ["two words|*|"]);
    assert_eq!(logs.lines_with("exit 0").len(), 3, "logs:\n{}", logs.text());

    // A sync group: GROUP keyword, no VRID.
    r.transition(Transition {
        scope: Scope::Group,
        name: "G1".into(),
        state: HookState::Fault,
        prev_state: HookState::Master,
        priority: 0,
        vrid: None,
        vips: vec![],
        reason: "member VI_1 in FAULT".into(),
        actions: vec![],
        notify: Some(notify),
    });
    tokio::time::timeout(Duration::from_secs(10), r.idle())
        .await
        .expect("runner goes idle");
    assert_eq!(
        read_lines(&dir.path().join("notify-args")),
        ["GROUP G1 FAULT 0"]
    );
    let env = read_lines(&dir.path().join("notify-env"));
    assert!(env.contains(&"VRRP_VRID=".to_string()), "{env:?}");
    assert!(env.contains(&"VRRP_INSTANCE=G1".to_string()), "{env:?}");
}

/// Whether `pid` is gone: no such process, or a zombie nobody reaped yet (it cannot run).
fn gone(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

#[tokio::test]
async fn timeout_kills_the_whole_process_group() {
    let (logs, _g) = Logs::capture();
    let dir = TempDir::new("timeout");
    let d = dir.path().display().to_string();
    // The grandchild ignores nothing special; it just outlives the shell unless the group dies.
    let argv: Vec<String> = vec![
        "/bin/sh".into(),
        "-c".into(),
        format!("sleep 60 & echo $! > {d}/grandchild; echo $$ > {d}/child; wait"),
    ];
    let started = Instant::now();
    let outcome = exec::run_logged("VI_T", "exec", &argv, &[], Duration::from_millis(300))
        .await
        .expect("runs");
    let took = started.elapsed();
    assert_eq!(outcome, ExecOutcome::Timeout);
    assert!(took >= Duration::from_millis(300), "took {took:?}");
    assert!(took < Duration::from_secs(2), "took {took:?}");

    let pid = |f: &str| -> i32 {
        std::fs::read_to_string(dir.path().join(f))
            .expect("pid file written")
            .trim()
            .parse()
            .expect("pid")
    };
    let (child, grandchild) = (pid("child"), pid("grandchild"));
    assert!(
        wait_until(Duration::from_secs(2), || gone(child) && gone(grandchild)).await,
        "child {child} or grandchild {grandchild} still alive"
    );
    assert_eq!(
        logs.lines_with("timeout after 300ms, process group killed")
            .len(),
        1,
        "logs:\n{}",
        logs.text()
    );
}

#[tokio::test]
async fn output_and_failures_are_logged_with_the_instance() {
    let (logs, _g) = Logs::capture();
    let argv: Vec<String> = vec![
        "/bin/sh".into(),
        "-c".into(),
        "echo hello out; echo oops err >&2; exit 3".into(),
    ];
    let outcome = exec::run_logged("VI_9", "exec", &argv, &[], Duration::from_secs(5))
        .await
        .expect("runs");
    assert_eq!(outcome, ExecOutcome::Exited(3));
    let out = logs.lines_with("hello out");
    assert!(
        out.len() == 1 && out[0].contains("INFO") && out[0].contains("VI_9"),
        "{out:?}"
    );
    let err = logs.lines_with("oops err");
    assert!(
        err.len() == 1 && err[0].contains("WARN") && err[0].contains("VI_9"),
        "{err:?}"
    );
    let failed = logs.lines_with("failed with exit status 3");
    assert!(
        failed.len() == 1 && failed[0].contains("VI_9"),
        "{failed:?}"
    );

    let missing: Vec<String> = vec!["/nonexistent/vrrp-ha-hook".into()];
    let res = exec::run_logged("VI_9", "exec", &missing, &[], Duration::from_secs(5)).await;
    assert!(matches!(res, Err(ExecError::Spawn { .. })), "{res:?}");
    let lines = logs.lines_with("cannot run /nonexistent/vrrp-ha-hook");
    assert!(lines.len() == 1 && lines[0].contains("ERROR"), "{lines:?}");

    assert!(matches!(
        exec::run("VI_9", &[], &[], Duration::from_secs(1)).await,
        Err(ExecError::EmptyArgv)
    ));
}

#[tokio::test]
async fn a_backgrounded_grandchild_holding_the_pipes_does_not_stall_the_list() {
    let (_logs, _g) = Logs::capture();
    let dir = TempDir::new("daemonize");
    let d = dir.path().display().to_string();
    // The leader exits at once; its grandchild keeps stdout open for 30 s.
    let argv: Vec<String> = vec![
        "/bin/sh".into(),
        "-c".into(),
        format!("sleep 30 & echo $! > {d}/bg; exit 0"),
    ];
    let started = Instant::now();
    let outcome = exec::run("VI_D", &argv, &[], Duration::from_secs(10))
        .await
        .expect("runs");
    assert_eq!(outcome, ExecOutcome::Exited(0));
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    // Clean up the process we caused; it is ours (our process group child).
    if let Ok(pid) = std::fs::read_to_string(dir.path().join("bg")) {
        if let Ok(pid) = pid.trim().parse::<i32>() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

#[tokio::test]
async fn a_hung_exec_times_out_and_the_list_goes_on_without_blocking_the_caller() {
    let (logs, _g) = Logs::capture();
    let dir = TempDir::new("hung");
    let d = dir.path().display().to_string();
    let r = Runner::spawn(RunnerOptions {
        bus_address: Some(format!("unix:path={d}/no-bus")),
        job_timeout: Duration::from_secs(2),
        exec_timeout: Duration::from_millis(300),
    });
    let t = Transition {
        scope: Scope::Instance,
        name: "VI_H".into(),
        state: HookState::Master,
        prev_state: HookState::Backup,
        priority: 100,
        vrid: Some(9),
        vips: vec![],
        reason: "test".into(),
        actions: vec![
            sh(format!("echo hung >> {d}/marker; exec sleep 60")),
            sh(format!("echo next >> {d}/marker")),
        ],
        notify: None,
    };
    let call = Instant::now();
    r.transition(t);
    let returned = call.elapsed();
    assert!(
        returned < Duration::from_millis(200),
        "transition() took {returned:?}"
    );
    tokio::time::timeout(Duration::from_secs(5), r.idle())
        .await
        .expect("runner goes idle");
    let took = call.elapsed();
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(2),
        "list took {took:?}"
    );
    assert_eq!(read_lines(&dir.path().join("marker")), ["hung", "next"]);
    assert_eq!(
        logs.lines_with("process group killed").len(),
        1,
        "{}",
        logs.text()
    );
}
