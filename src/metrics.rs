//! Process-wide observations for `/metrics`: how tracked scripts and transition actions
//! ended and how long they took, recorded where they run (no periodic work), plus the
//! process metrics of the `prometheus` crate. The per-instance metrics are built from a
//! status snapshot at scrape time (see `daemon::metrics`).

use std::sync::LazyLock;
use std::time::Duration;

use prometheus::{HistogramOpts, HistogramVec, Registry};

/// Seconds: a check or action of 1 ms to two minutes (the action timeouts are 30 s).
const BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 120.0,
];

struct Observed {
    registry: Registry,
    checks: HistogramVec,
    actions: HistogramVec,
}

fn histogram(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> HistogramVec {
    let opts = HistogramOpts::new(name, help).buckets(BUCKETS.to_vec());
    // Constant names, labels and buckets (the test below builds them all).
    let h = HistogramVec::new(opts, labels).expect("a valid constant histogram");
    // Registered once, in a registry of its own: names cannot collide.
    let _ = registry.register(Box::new(h.clone()));
    h
}

static OBSERVED: LazyLock<Observed> = LazyLock::new(|| {
    let registry = Registry::new();
    let checks = histogram(
        &registry,
        "vrrp_ha_track_check_duration_seconds",
        "Runs of tracked scripts, by script and result (ok, failed, timeout, error).",
        &["script", "result"],
    );
    let actions = histogram(
        &registry,
        "vrrp_ha_action_duration_seconds",
        "Transition actions and notify scripts run, by instance or sync group, the state \
         entered, the action (notify, exec, start, stop, restart, reload) and result \
         (ok, failed, timeout, error).",
        &["name", "state", "action", "result"],
    );
    let process = prometheus::process_collector::ProcessCollector::for_self();
    let _ = registry.register(Box::new(process));
    Observed {
        registry,
        checks,
        actions,
    }
});

/// One run of tracked script `script` ended with `result` after `took`.
pub fn observe_check(script: &str, result: &str, took: Duration) {
    OBSERVED
        .checks
        .with_label_values(&[script, result])
        .observe(took.as_secs_f64());
}

/// One action of `name`'s (instance or group) list for `state` ended with `result`.
pub fn observe_action(name: &str, state: &str, action: &str, result: &str, took: Duration) {
    OBSERVED
        .actions
        .with_label_values(&[name, state, action, result])
        .observe(took.as_secs_f64());
}

/// The process-wide metric families (checks, actions, process), for a scrape.
pub fn gather() -> Vec<prometheus::proto::MetricFamily> {
    OBSERVED.registry.gather()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_show_up() {
        observe_check("chk", "ok", Duration::from_millis(3));
        observe_action("VI_1", "MASTER", "reload", "ok", Duration::from_millis(40));
        let names: Vec<String> = gather().iter().map(|f| f.name().to_string()).collect();
        assert!(names.contains(&"vrrp_ha_track_check_duration_seconds".to_string()));
        assert!(names.contains(&"vrrp_ha_action_duration_seconds".to_string()));
        assert!(names.iter().any(|n| n.starts_with("process_")), "{names:?}");
    }
}
