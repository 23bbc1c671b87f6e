//! Unit actions over a real bus: a private dbus-daemon and a fake systemd Manager on it
//! (tests/fake_systemd), driven by the real zbus client in `vrrp_ha::hooks::systemd`.

mod fake_systemd;
mod prereq;

use std::time::{Duration, Instant};

use fake_systemd::support::{read_lines, wait_until, Logs, TempDir};
use fake_systemd::{bus_or_skip, FakeSystemd};
use vrrp_ha::config::model::HookAction;
use vrrp_ha::hooks::systemd::{JobOutcome, SystemdClient, SystemdError, UnitVerb};
use vrrp_ha::hooks::{HookState, Runner, RunnerOptions, Scope, Transition};

fn transition(name: &str, state: HookState, actions: Vec<HookAction>) -> Transition {
    Transition {
        scope: Scope::Instance,
        name: name.into(),
        state,
        prev_state: HookState::Backup,
        priority: 100,
        vrid: Some(7),
        vips: vec!["192.0.2.7/24".into()],
        reason: "test".into(),
        actions,
        notify: None,
    }
}

fn runner(address: &str, job_timeout: Duration) -> Runner {
    Runner::spawn(RunnerOptions {
        bus_address: Some(address.to_string()),
        job_timeout,
        exec_timeout: Duration::from_secs(10),
    })
}

async fn idle(r: &Runner, limit: Duration) {
    tokio::time::timeout(limit, r.idle())
        .await
        .expect("runner goes idle in time");
}

fn unit(verb: &str, u: &str) -> HookAction {
    match verb {
        "start" => HookAction::Start(u.into()),
        "stop" => HookAction::Stop(u.into()),
        "restart" => HookAction::Restart(u.into()),
        _ => HookAction::Reload(u.into()),
    }
}

/// An exec action appending `tag` to `file`, after `sleep` seconds when given.
fn mark(file: &std::path::Path, tag: &str, sleep: Option<&str>) -> HookAction {
    let f = file.display();
    let cmd = match sleep {
        None => format!("echo {tag} >> {f}"),
        Some(s) => format!("echo {tag}-start >> {f}; sleep {s}; echo {tag}-end >> {f}"),
    };
    HookAction::Exec(vec!["/bin/sh".into(), "-c".into(), cmd])
}

#[tokio::test]
async fn client_reports_done_failed_timeout_and_refused() {
    let dir = TempDir::new("client");
    let Some(bus) = bus_or_skip(dir.path()) else {
        return;
    };
    let fake = FakeSystemd::start(&bus.address).await;
    let client = SystemdClient::new(Some(bus.address.clone()), Duration::from_millis(400));

    assert_eq!(
        client.run(UnitVerb::Reload, "nginx.service").await.unwrap(),
        JobOutcome::Done
    );
    assert_eq!(
        client
            .run(UnitVerb::Reload, "nginx-fail.service")
            .await
            .unwrap(),
        JobOutcome::Failed("failed".into())
    );
    assert_eq!(
        client.run(UnitVerb::Start, "slow.service").await.unwrap(),
        JobOutcome::Done
    );
    let t0 = Instant::now();
    assert_eq!(
        client.run(UnitVerb::Start, "hang.service").await.unwrap(),
        JobOutcome::Timeout
    );
    let waited = t0.elapsed();
    assert!(
        waited >= Duration::from_millis(400) && waited < Duration::from_secs(2),
        "timeout took {waited:?}"
    );
    let err = client
        .run(UnitVerb::Stop, "nosuch.service")
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            SystemdError::Enqueue {
                verb: UnitVerb::Stop,
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string().contains("nosuch.service not found"),
        "{err}"
    );

    assert_eq!(fake.rec.subscribes(), 1, "Subscribe once per connection");
    let calls = fake.rec.calls();
    assert!(
        calls
            .iter()
            .all(|c| c.method == "Subscribe" || c.mode == "replace"),
        "{calls:?}"
    );
    assert_eq!(
        fake.rec.jobs(),
        [
            "ReloadUnit nginx.service",
            "ReloadUnit nginx-fail.service",
            "StartUnit slow.service",
            "StartUnit hang.service",
            "StopUnit nosuch.service"
        ]
    );
}

#[tokio::test]
async fn each_action_is_enqueued_in_order_and_its_result_awaited_and_logged() {
    let (logs, _g) = Logs::capture();
    let dir = TempDir::new("order");
    let Some(bus) = bus_or_skip(dir.path()) else {
        return;
    };
    let fake = FakeSystemd::start(&bus.address).await;
    let r = runner(&bus.address, Duration::from_secs(5));
    r.transition(transition(
        "VI_1",
        HookState::Master,
        vec![
            unit("start", "a.service"),
            unit("stop", "b.service"),
            unit("restart", "c.service"),
            unit("reload", "slow-nginx.service"),
            unit("reload", "nginx.service"),
        ],
    ));
    idle(&r, Duration::from_secs(10)).await;

    assert_eq!(
        fake.rec.jobs(),
        [
            "StartUnit a.service",
            "StopUnit b.service",
            "RestartUnit c.service",
            "ReloadUnit slow-nginx.service",
            "ReloadUnit nginx.service"
        ]
    );
    let calls = fake.rec.calls();
    assert!(
        calls
            .iter()
            .all(|c| c.method == "Subscribe" || c.mode == "replace"),
        "{calls:?}"
    );
    assert_eq!(fake.rec.subscribes(), 1);
    // The next job is only enqueued once the slow job's JobRemoved arrived (300 ms later).
    let at = |u: &str| calls.iter().find(|c| c.unit == u).map(|c| c.at).unwrap();
    let gap = at("nginx.service") - at("slow-nginx.service");
    assert!(
        gap >= Duration::from_millis(300),
        "next job enqueued after {gap:?}"
    );
    for line in [
        "start a.service: done",
        "stop b.service: done",
        "restart c.service: done",
        "reload slow-nginx.service: done",
        "reload nginx.service: done",
    ] {
        let found = logs.lines_with(line);
        assert!(
            found.len() == 1 && found[0].contains("VI_1"),
            "{line}: {}",
            logs.text()
        );
    }
}

#[tokio::test]
async fn failed_and_timed_out_jobs_are_reported_and_the_list_goes_on() {
    let (logs, _g) = Logs::capture();
    let dir = TempDir::new("fail");
    let Some(bus) = bus_or_skip(dir.path()) else {
        return;
    };
    let fake = FakeSystemd::start(&bus.address).await;
    let r = runner(&bus.address, Duration::from_millis(400));
    let t0 = Instant::now();
    r.transition(transition(
        "VI_2",
        HookState::Master,
        vec![
            unit("reload", "nginx-fail.service"),
            unit("start", "hang.service"),
            unit("start", "after.service"),
        ],
    ));
    idle(&r, Duration::from_secs(10)).await;
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_millis(400) && took < Duration::from_secs(3),
        "{took:?}"
    );
    assert_eq!(
        fake.rec.jobs(),
        [
            "ReloadUnit nginx-fail.service",
            "StartUnit hang.service",
            "StartUnit after.service"
        ]
    );
    let failed = logs.lines_with("reload nginx-fail.service: job failed (result failed)");
    assert!(
        failed.len() == 1 && failed[0].contains("WARN"),
        "{}",
        logs.text()
    );
    let timeout = logs.lines_with("start hang.service: timeout, no job result within 400ms");
    assert!(
        timeout.len() == 1 && timeout[0].contains("WARN"),
        "{}",
        logs.text()
    );
    assert_eq!(
        logs.lines_with("start after.service: done").len(),
        1,
        "{}",
        logs.text()
    );
}

#[tokio::test]
async fn no_bus_gives_one_clear_error_per_action_and_keeps_running() {
    let (logs, _g) = Logs::capture();
    let dir = TempDir::new("nobus");
    let marker = dir.path().join("marker");
    let nowhere = format!("unix:path={}/no-such-bus", dir.path().display());
    let r = runner(&nowhere, Duration::from_secs(2));
    let t0 = Instant::now();
    r.transition(transition(
        "VI_3",
        HookState::Master,
        vec![
            unit("start", "a.service"),
            mark(&marker, "ran", None),
            unit("reload", "b.service"),
        ],
    ));
    idle(&r, Duration::from_secs(10)).await;
    assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
    assert_eq!(read_lines(&marker), ["ran"]);
    let errors = logs.lines_with("cannot reach systemd on the bus");
    assert_eq!(errors.len(), 2, "{}", logs.text());
    assert!(errors[0].contains("ERROR") && errors[0].contains("start a.service not done"));
    assert!(errors[1].contains("reload b.service not done"));

    // A bus without systemd on it: Subscribe fails, again one error per action.
    let Some(bus) = bus_or_skip(dir.path()) else {
        return;
    };
    let r = runner(&bus.address, Duration::from_secs(2));
    r.transition(transition(
        "VI_4",
        HookState::Backup,
        vec![unit("stop", "a.service"), unit("stop", "b.service")],
    ));
    idle(&r, Duration::from_secs(10)).await;
    let errors: Vec<String> = logs
        .lines_with("cannot reach systemd")
        .into_iter()
        .filter(|l| l.contains("VI_4"))
        .collect();
    assert_eq!(errors.len(), 2, "{}", logs.text());
    assert!(
        errors[0].contains("org.freedesktop.systemd1"),
        "{}",
        errors[0]
    );

    // Once systemd shows up, the next action reconnects and succeeds.
    let fake = FakeSystemd::start(&bus.address).await;
    r.transition(transition(
        "VI_4",
        HookState::Master,
        vec![unit("start", "a.service")],
    ));
    idle(&r, Duration::from_secs(10)).await;
    assert_eq!(fake.rec.jobs(), ["StartUnit a.service"]);
    assert_eq!(
        logs.lines_with("start a.service: done").len(),
        1,
        "{}",
        logs.text()
    );
}

#[tokio::test]
async fn a_burst_of_transitions_skips_stale_lists_and_runs_the_last_one_complete() {
    let (logs, _g) = Logs::capture();
    let dir = TempDir::new("burst");
    let Some(bus) = bus_or_skip(dir.path()) else {
        return;
    };
    let fake = FakeSystemd::start(&bus.address).await;
    let marker = dir.path().join("marker");
    let r = runner(&bus.address, Duration::from_secs(5));

    let go = dir.path().join("go");
    // The first action runs until the test lets it go, so the burst surely lands meanwhile.
    let gated = HookAction::Exec(vec![
        "/bin/sh".into(),
        "-c".into(),
        format!(
            "echo m1-start >> {m}; while [ ! -e {g} ]; do sleep 0.01; done; echo m1-end >> {m}",
            m = marker.display(),
            g = go.display()
        ),
    ]);
    r.transition(transition(
        "VI_5",
        HookState::Master,
        vec![
            gated,
            unit("start", "m1-a.service"),
            mark(&marker, "m1-b", None),
            unit("start", "m1-c.service"),
        ],
    ));
    assert!(
        wait_until(Duration::from_secs(5), || read_lines(&marker)
            .contains(&"m1-start".into()))
        .await,
        "first action never started"
    );
    r.transition(transition(
        "VI_5",
        HookState::Backup,
        vec![unit("stop", "b2.service"), mark(&marker, "b2", None)],
    ));
    r.transition(transition(
        "VI_5",
        HookState::Master,
        vec![unit("start", "m3.service"), mark(&marker, "m3", None)],
    ));
    r.transition(transition(
        "VI_5",
        HookState::Backup,
        vec![
            mark(&marker, "b4-x", None),
            unit("stop", "b4-a.service"),
            mark(&marker, "b4-y", Some("0.05")),
            unit("stop", "slow-b4-b.service"),
            mark(&marker, "b4-z", None),
        ],
    ));
    std::fs::write(&go, "").unwrap();
    idle(&r, Duration::from_secs(10)).await;

    // The running action finished (not killed); the rest of its list and both intermediate
    // lists were skipped; the final BACKUP list ran last and complete.
    assert_eq!(
        read_lines(&marker),
        [
            "m1-start",
            "m1-end",
            "b4-x",
            "b4-y-start",
            "b4-y-end",
            "b4-z"
        ]
    );
    assert_eq!(
        fake.rec.jobs(),
        ["StopUnit b4-a.service", "StopUnit slow-b4-b.service"]
    );
    for line in [
        "skipped 3 stale actions of MASTER list, superseded by BACKUP",
        "skipped 2 stale actions of BACKUP list, superseded by BACKUP",
        "skipped 2 stale actions of MASTER list, superseded by BACKUP",
    ] {
        assert_eq!(logs.lines_with(line).len(), 1, "{line}:\n{}", logs.text());
    }

    // A burst submitted all at once (nothing started yet): only the last list runs.
    std::fs::remove_file(&marker).unwrap();
    for (i, state) in [
        HookState::Master,
        HookState::Backup,
        HookState::Master,
        HookState::Fault,
        HookState::Master,
    ]
    .into_iter()
    .enumerate()
    {
        r.transition(transition(
            "VI_5",
            state,
            vec![
                mark(&marker, &format!("{state}{i}"), None),
                unit("start", &format!("u{i}.service")),
            ],
        ));
    }
    idle(&r, Duration::from_secs(10)).await;
    assert_eq!(read_lines(&marker), ["MASTER4"]);
    assert_eq!(fake.rec.jobs()[2..], ["StartUnit u4.service"]);
}

#[tokio::test]
async fn different_instances_do_not_supersede_each_other() {
    let (_logs, _g) = Logs::capture();
    let dir = TempDir::new("indep");
    let Some(bus) = bus_or_skip(dir.path()) else {
        return;
    };
    let fake = FakeSystemd::start(&bus.address).await;
    let marker = dir.path().join("marker");
    let r = runner(&bus.address, Duration::from_secs(5));
    r.transition(transition(
        "VI_6",
        HookState::Master,
        vec![
            mark(&marker, "vi6", Some("0.3")),
            unit("start", "vi6.service"),
        ],
    ));
    r.transition(transition(
        "VI_7",
        HookState::Backup,
        vec![unit("stop", "vi7.service")],
    ));
    // Same name, other scope: a sync group named like an instance is its own queue.
    let mut group = transition("VI_6", HookState::Backup, vec![unit("stop", "g.service")]);
    group.scope = Scope::Group;
    r.transition(group);
    idle(&r, Duration::from_secs(10)).await;
    assert_eq!(read_lines(&marker), ["vi6-start", "vi6-end"]);
    let mut jobs = fake.rec.jobs();
    jobs.sort();
    assert_eq!(
        jobs,
        [
            "StartUnit vi6.service",
            "StopUnit g.service",
            "StopUnit vi7.service"
        ]
    );
}

#[tokio::test]
async fn a_restarted_bus_is_reconnected_without_losing_the_action() {
    let (logs, _g) = Logs::capture();
    let dir = TempDir::new("restart");
    let Some(bus) = bus_or_skip(dir.path()) else {
        return;
    };
    let address = format!("unix:path={}", dir.path().join("bus").display());
    let fake = FakeSystemd::start(&bus.address).await;
    let r = runner(&address, Duration::from_secs(5));
    r.transition(transition(
        "VI_8",
        HookState::Master,
        vec![unit("start", "a.service")],
    ));
    idle(&r, Duration::from_secs(10)).await;
    assert_eq!(fake.rec.jobs(), ["StartUnit a.service"]);

    drop(fake);
    drop(bus);
    let _ = std::fs::remove_file(dir.path().join("bus"));
    let Some(bus) = bus_or_skip(dir.path()) else {
        return;
    };
    let fake = FakeSystemd::start(&bus.address).await;
    r.transition(transition(
        "VI_8",
        HookState::Backup,
        vec![unit("stop", "a.service")],
    ));
    idle(&r, Duration::from_secs(10)).await;
    assert_eq!(fake.rec.jobs(), ["StopUnit a.service"]);
    assert_eq!(fake.rec.subscribes(), 1, "re-subscribed on the new bus");
    assert_eq!(
        logs.lines_with("stop a.service: done").len(),
        1,
        "{}",
        logs.text()
    );
}
