//! `/metrics` in the Prometheus text exposition format (0.0.4), served over HTTP/1 on the
//! address of the config's `metrics listen=` node.
//!
//! Nothing runs between scrapes: a scrape asks the loop for a snapshot and renders it,
//! with the process-wide observations of [`crate::metrics`] (tracked scripts, actions,
//! the process itself). Labels say `vrrp_instance`, not `instance`, which Prometheus
//! gives the scrape target.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use prometheus::core::Collector;
use prometheus::{Encoder, GaugeVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tracing::{debug, error, info, warn};

use super::api::Loop;
use super::status::DaemonStatus;
use crate::core::instance::DropReason;
use crate::core::instance::State;

/// Scrapers served at once; more wait for their turn.
const CONNECTIONS: usize = 8;
/// How long one connection may stay open.
const CONNECTION_TIME: Duration = Duration::from_secs(30);

/// Serve `/metrics` on `listen` until the daemon stops.
pub(super) async fn serve(listen: SocketAddr, lp: Loop) {
    let listener = match TcpListener::bind(listen).await {
        Ok(l) => l,
        Err(e) => {
            error!("metrics: cannot listen on {listen}: {e}; running without /metrics");
            return;
        }
    };
    info!(%listen, "metrics on http://{listen}/metrics");
    let slots = Arc::new(Semaphore::new(CONNECTIONS));
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let stream = match listener.accept().await {
            Ok((s, _)) => s,
            Err(e) => {
                warn!("metrics: accept: {e}");
                // Out of descriptors, typically: do not spin.
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let lp = lp.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| answer(req, lp.clone()));
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(5))
                .serve_connection(TokioIo::new(stream), service);
            // A scraper that stalls is dropped at CONNECTION_TIME.
            if let Ok(Err(e)) = tokio::time::timeout(CONNECTION_TIME, conn).await {
                debug!("metrics connection: {e}");
            }
            drop(permit);
        });
    }
}

fn reply(status: StatusCode, content_type: &str, body: Vec<u8>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    if let Ok(v) = content_type.parse() {
        r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    r
}

async fn answer(req: Request<Incoming>, lp: Loop) -> Result<Response<Full<Bytes>>, Infallible> {
    if req.uri().path() != "/metrics" {
        return Ok(reply(
            StatusCode::NOT_FOUND,
            "text/plain",
            b"vrrp-ha serves /metrics\n".to_vec(),
        ));
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return Ok(reply(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            b"GET /metrics\n".to_vec(),
        ));
    }
    let status = match lp.snapshot().await {
        Ok(s) => lp.to_json(&s, "metrics"),
        Err(e) => {
            return Ok(reply(
                StatusCode::SERVICE_UNAVAILABLE,
                "text/plain",
                format!("{e}\n").into_bytes(),
            ))
        }
    };
    match render(&status) {
        Ok(body) => Ok(reply(
            StatusCode::OK,
            TextEncoder::new().format_type(),
            body,
        )),
        Err(e) => {
            error!("metrics: {e}");
            Ok(reply(
                StatusCode::INTERNAL_SERVER_ERROR,
                "text/plain",
                format!("{e}\n").into_bytes(),
            ))
        }
    }
}

/// Metric families built for one scrape.
struct Families {
    registry: Registry,
}

impl Families {
    fn add<C: Collector + Clone + 'static>(&self, c: C) -> prometheus::Result<C> {
        self.registry.register(Box::new(c.clone()))?;
        Ok(c)
    }

    fn gauge(&self, name: &str, help: &str, labels: &[&str]) -> prometheus::Result<IntGaugeVec> {
        self.add(IntGaugeVec::new(Opts::new(name, help), labels)?)
    }

    fn float(&self, name: &str, help: &str, labels: &[&str]) -> prometheus::Result<GaugeVec> {
        self.add(GaugeVec::new(Opts::new(name, help), labels)?)
    }

    fn counter(
        &self,
        name: &str,
        help: &str,
        labels: &[&str],
    ) -> prometheus::Result<IntCounterVec> {
        self.add(IntCounterVec::new(Opts::new(name, help), labels)?)
    }
}

fn gauge_of(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// The text exposition of one daemon's status plus the process-wide observations.
pub fn render(status: &DaemonStatus) -> prometheus::Result<Vec<u8>> {
    let f = Families {
        registry: Registry::new(),
    };
    let inst = &["vrrp_instance", "vrid"];
    let info = f.gauge(
        "vrrp_ha_build_info",
        "Always 1: the vrrp-ha version and the configuration this daemon runs.",
        &["version", "config"],
    )?;
    info.with_label_values(&[status.vrrp_ha_version.as_str(), status.config.as_str()])
        .set(1);
    let state = f.gauge(
        "vrrp_ha_instance_state",
        "1 for the state the instance is in (INIT, BACKUP, MASTER, FAULT), 0 for the others.",
        &["vrrp_instance", "vrid", "interface", "state"],
    )?;
    let drained = f.gauge(
        "vrrp_ha_instance_drained",
        "1 while the operator keeps the instance drained (BACKUP, unelectable).",
        inst,
    )?;
    let bound = f.gauge(
        "vrrp_ha_instance_bound",
        "1 when the instance is attached to its interface, 0 while it waits for it.",
        inst,
    )?;
    let priority = f.gauge("vrrp_ha_instance_priority", "Configured priority.", inst)?;
    let effective = f.gauge(
        "vrrp_ha_instance_effective_priority",
        "Priority in effect: configured plus tracking.",
        inst,
    )?;
    let master_prio = f.gauge(
        "vrrp_ha_instance_master_priority",
        "Priority of the current master (0 when none is known).",
        inst,
    )?;
    let vips = f.gauge(
        "vrrp_ha_instance_vips_held",
        "Virtual IPs this instance holds.",
        inst,
    )?;
    let transitions = f.counter(
        "vrrp_ha_transitions_total",
        "State transitions, by the state entered (INIT counts stops).",
        &["vrrp_instance", "vrid", "to"],
    )?;
    let last = f.float(
        "vrrp_ha_last_transition_timestamp_seconds",
        "Unix time of the last transition.",
        inst,
    )?;
    let sent = f.counter("vrrp_ha_adverts_sent_total", "Adverts sent.", inst)?;
    let received = f.counter(
        "vrrp_ha_adverts_received_total",
        "Adverts received, valid or not.",
        inst,
    )?;
    let zero_sent = f.counter(
        "vrrp_ha_priority_zero_sent_total",
        "Priority-0 adverts sent (resignations).",
        inst,
    )?;
    let zero_received = f.counter(
        "vrrp_ha_priority_zero_received_total",
        "Priority-0 adverts received.",
        inst,
    )?;
    let dropped = f.counter(
        "vrrp_ha_adverts_dropped_total",
        "Adverts dropped, by reason: invalid for this instance (auth_mismatch, \
         interval_mismatch, ...) or undecodable (bad_checksum, truncated, ...).",
        &["vrrp_instance", "vrid", "reason"],
    )?;
    let mismatches = f.counter(
        "vrrp_ha_address_mismatches_total",
        "Adverts whose address list differs from ours.",
        inst,
    )?;
    let master_changes = f.counter(
        "vrrp_ha_master_changes_total",
        "Changes of the master from one router to another.",
        inst,
    )?;
    let other_masters = f.counter(
        "vrrp_ha_other_master_adverts_total",
        "Adverts of another MASTER received while MASTER: a split brain, or its end.",
        inst,
    )?;
    let vip_failures = f.counter(
        "vrrp_ha_vip_failures_total",
        "Virtual IPs that could not be installed or put back.",
        inst,
    )?;
    let vips_lost = f.counter(
        "vrrp_ha_vips_lost_total",
        "Virtual IPs removed by someone else while MASTER.",
        inst,
    )?;
    let track_delta = f.gauge(
        "vrrp_ha_track_delta",
        "What a tracked item adds to the instance's priority now.",
        &["vrrp_instance", "kind", "name"],
    )?;
    let track_ok = f.gauge(
        "vrrp_ha_track_ok",
        "1 when a tracked script succeeds or interface is up, 0 when failing or down, \
         -1 for a script without a result yet; files: 1 unless they hold the instance in FAULT.",
        &["vrrp_instance", "kind", "name"],
    )?;
    let track_fault = f.gauge(
        "vrrp_ha_track_fault",
        "1 when a tracked item holds the instance in FAULT.",
        &["vrrp_instance", "kind", "name"],
    )?;
    let peer_prio = f.gauge(
        "vrrp_ha_peer_priority",
        "Priority of the last valid advert of a router heard.",
        &["vrrp_instance", "vrid", "peer"],
    )?;
    let peer_seen = f.float(
        "vrrp_ha_peer_last_seen_timestamp_seconds",
        "Unix time of the last valid advert of a router heard.",
        &["vrrp_instance", "vrid", "peer"],
    )?;
    let unknown = f.counter(
        "vrrp_ha_unknown_vrid_packets_total",
        "VRRP packets for no configured VRID (or too short to tell), by interface.",
        &["interface", "family"],
    )?;

    for i in &status.instances {
        let vrid = i.vrid.to_string();
        let l = [i.name.as_str(), vrid.as_str()];
        for s in State::ALL {
            let on = i64::from(i.state == s.as_str());
            state
                .with_label_values(&[
                    i.name.as_str(),
                    vrid.as_str(),
                    i.interface.as_str(),
                    s.as_str(),
                ])
                .set(on);
            let n = i
                .counters
                .transitions_to
                .get(s.as_str())
                .copied()
                .unwrap_or(0);
            transitions
                .with_label_values(&[i.name.as_str(), vrid.as_str(), s.as_str()])
                .inc_by(n);
        }
        drained.with_label_values(&l).set(i64::from(i.drained));
        bound
            .with_label_values(&l)
            .set(i64::from(i.waiting_for.is_none()));
        priority.with_label_values(&l).set(i64::from(i.priority));
        effective
            .with_label_values(&l)
            .set(i64::from(i.effective_priority));
        master_prio
            .with_label_values(&l)
            .set(i.master.as_ref().map_or(0, |m| i64::from(m.priority)));
        vips.with_label_values(&l)
            .set(gauge_of(i.vips.len() as u64));
        if let Some(t) = &i.last_transition {
            last.with_label_values(&l).set(t.time);
        }
        let c = &i.counters;
        sent.with_label_values(&l).inc_by(c.adverts_sent);
        received.with_label_values(&l).inc_by(c.adverts_received);
        zero_sent.with_label_values(&l).inc_by(c.priority_zero_sent);
        zero_received
            .with_label_values(&l)
            .inc_by(c.priority_zero_received);
        for r in DropReason::ALL {
            let n = c.drops.get(r.as_str()).copied().unwrap_or(0);
            dropped
                .with_label_values(&[i.name.as_str(), vrid.as_str(), r.as_str()])
                .inc_by(n);
        }
        for (reason, n) in &c.malformed {
            dropped
                .with_label_values(&[i.name.as_str(), vrid.as_str(), reason.as_str()])
                .inc_by(*n);
        }
        mismatches
            .with_label_values(&l)
            .inc_by(c.address_mismatches);
        master_changes
            .with_label_values(&l)
            .inc_by(c.master_changes);
        other_masters.with_label_values(&l).inc_by(c.other_masters);
        vip_failures.with_label_values(&l).inc_by(c.vip_failures);
        vips_lost.with_label_values(&l).inc_by(c.vips_lost);
        for t in &i.tracking {
            let tl = [i.name.as_str(), t.kind.as_str(), t.name.as_str()];
            track_delta.with_label_values(&tl).set(i64::from(t.delta));
            track_fault.with_label_values(&tl).set(i64::from(t.fault));
            let ok = match t.state.as_str() {
                "good" | "up" => 1,
                "init" => -1,
                "failing" | "down" => 0,
                _ => i64::from(!t.fault),
            };
            track_ok.with_label_values(&tl).set(ok);
        }
        for p in &i.peers {
            let pl = [i.name.as_str(), vrid.as_str(), p.address.as_str()];
            peer_prio.with_label_values(&pl).set(i64::from(p.priority));
            peer_seen.with_label_values(&pl).set(p.last_seen);
        }
    }
    for u in &status.unknown_vrid {
        unknown
            .with_label_values(&[u.interface.as_str(), u.family.as_str()])
            .inc_by(u.packets);
    }

    let mut families = f.registry.gather();
    families.extend(crate::metrics::gather());
    families.sort_by(|a, b| a.name().cmp(b.name()));
    let mut out = Vec::new();
    TextEncoder::new().encode(&families, &mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::status::{CountersJson, InstanceJson, MasterJson, TrackJson};

    fn sample() -> DaemonStatus {
        let mut counters = CountersJson {
            transitions: 2,
            adverts_sent: 10,
            ..CountersJson::default()
        };
        counters.transitions_to.insert("MASTER".into(), 1);
        counters.drops.insert("auth_mismatch".into(), 3);
        counters.malformed.insert("bad_checksum".into(), 1);
        DaemonStatus {
            name: "VI_1".into(),
            config: "/etc/vrrp-ha/VI_1.kdl".into(),
            pid: 1,
            vrrp_ha_version: "0.1.0".into(),
            source: "metrics".into(),
            updated: 1.0,
            instances: vec![InstanceJson {
                name: "VI_1".into(),
                vrid: 51,
                vrrp_version: 3,
                family: "ipv4".into(),
                interface: "eth0".into(),
                waiting_for: None,
                state: "MASTER".into(),
                drained: false,
                priority: 100,
                effective_priority: 80,
                tracking: vec![TrackJson {
                    kind: "script".into(),
                    name: "nginx".into(),
                    weight: -20,
                    delta: -20,
                    fault: false,
                    state: "failing".into(),
                    value: None,
                }],
                master: Some(MasterJson {
                    address: "192.0.2.1".into(),
                    priority: 80,
                }),
                vips: vec!["192.0.2.200/24".into()],
                last_transition: None,
                counters,
                peers: Vec::new(),
            }],
            unknown_vrid: Vec::new(),
        }
    }

    #[test]
    fn renders_the_text_format() {
        crate::metrics::observe_action("VI_1", "MASTER", "reload", "ok", Duration::from_millis(5));
        let text = String::from_utf8(render(&sample()).expect("render")).expect("utf-8");
        if let Ok(dir) = std::env::var("VRRP_HA_METRICS_SAMPLE") {
            let _ = std::fs::write(dir, &text);
        }
        for line in [
            "vrrp_ha_instance_state{interface=\"eth0\",state=\"MASTER\",vrid=\"51\",vrrp_instance=\"VI_1\"} 1",
            "vrrp_ha_instance_state{interface=\"eth0\",state=\"FAULT\",vrid=\"51\",vrrp_instance=\"VI_1\"} 0",
            "vrrp_ha_instance_effective_priority{vrid=\"51\",vrrp_instance=\"VI_1\"} 80",
            "vrrp_ha_transitions_total{to=\"MASTER\",vrid=\"51\",vrrp_instance=\"VI_1\"} 1",
            "vrrp_ha_adverts_dropped_total{reason=\"auth_mismatch\",vrid=\"51\",vrrp_instance=\"VI_1\"} 3",
            "vrrp_ha_adverts_dropped_total{reason=\"bad_checksum\",vrid=\"51\",vrrp_instance=\"VI_1\"} 1",
            "vrrp_ha_track_delta{kind=\"script\",name=\"nginx\",vrrp_instance=\"VI_1\"} -20",
            "# TYPE vrrp_ha_action_duration_seconds histogram",
        ] {
            assert!(text.contains(line), "no {line} in\n{text}");
        }
    }
}
