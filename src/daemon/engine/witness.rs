//! Asking the witnesses: the core's question as tagged UDP queries, and the answers, once
//! checked, back to the core.
//!
//! One question per instance is outstanding at a time; an answer counts only if it comes
//! from a witness that was asked and has not answered yet, carries the question's nonce,
//! VRID and family, is tagged under the instance's key, and its timestamp is within
//! [`proto::WINDOW`] of the question's. Everything else is dropped and counted.

use std::net::SocketAddr;
use std::time::Duration;

use tracing::{debug, warn};

use super::{instance_err, Engine};
use crate::config;
use crate::core::instance::{Event, WitnessAnswer, WitnessHeard, WitnessQuery};
use crate::core::packet::Family;
use crate::core::reason::WitnessHold;
use crate::core::router::InstanceId;
use crate::daemon::ports::Ports;
use crate::daemon::DaemonError;
use crate::witness::proto::{self, Answer, Key, Query};

/// This side of an instance's witnesses.
#[derive(Debug)]
pub(super) struct WitnessIo {
    addrs: Vec<SocketAddr>,
    key: Key,
    pending: Option<Pending>,
    /// Answers dropped since the instance started.
    dropped: u64,
}

/// The question under way.
#[derive(Debug)]
struct Pending {
    nonce: [u8; 16],
    vrid: u8,
    family: Family,
    timestamp_ms: u64,
    /// Asked and not answered yet.
    waiting: Vec<SocketAddr>,
    asked_at: crate::core::time::Instant,
}

impl WitnessIo {
    /// The same witnesses with the question under way, if any, carried over (a reload).
    pub(super) fn carry_over(&mut self, old: Option<WitnessIo>) {
        if let Some(mut old) = old {
            if let Some(mut p) = old.pending.take() {
                p.waiting.retain(|a| self.addrs.contains(a));
                self.pending = Some(p);
            }
            self.dropped = old.dropped;
        }
    }
}

impl<P: Ports> Engine<P> {
    /// The witnesses of a configured instance, with its key read through the ports.
    pub(super) fn load_witness(
        &mut self,
        cfg: &config::Instance,
    ) -> Result<Option<WitnessIo>, DaemonError> {
        let Some(w) = &cfg.witness else {
            return Ok(None);
        };
        let key = self
            .ports
            .witness_key(&w.key)
            .map_err(|e| instance_err(cfg, e))?;
        Ok(Some(WitnessIo {
            addrs: w.addrs.clone(),
            key,
            pending: None,
            dropped: 0,
        }))
    }

    /// A reload left the instance as it was: its key is read again, and kept as it was
    /// when that fails.
    pub(super) fn reread_witness_key(&mut self, cfg: &config::Instance) {
        let (Some(w), Some(id)) = (&cfg.witness, self.router.id_of(&cfg.name)) else {
            return;
        };
        match self.ports.witness_key(&w.key) {
            Ok(key) => {
                if let Some(io) = self.router.io_mut(id).and_then(|io| io.witness.as_mut()) {
                    io.key = key;
                }
            }
            Err(e) => {
                warn!(vrrp_instance = %cfg.name, "reload: keeping the witness key in use: {e}")
            }
        }
    }

    /// The core's question, sent to every witness of the instance.
    pub(super) fn ask_witnesses(&mut self, id: InstanceId, q: WitnessQuery) {
        let stamp = self.ports.witness_stamp();
        let now = self.now;
        let Some(io) = self.router.io_mut(id) else {
            return;
        };
        let name = io.cfg.name.clone();
        let Some(w) = io.witness.as_mut() else {
            return;
        };
        let query = Query {
            vrid: q.vrid,
            family: q.family,
            timestamp_ms: stamp.unix_ms,
            nonce: stamp.nonce,
        };
        let bytes = query.encode(&w.key);
        let addrs = w.addrs.clone();
        w.pending = Some(Pending {
            nonce: stamp.nonce,
            vrid: q.vrid,
            family: q.family,
            timestamp_ms: stamp.unix_ms,
            waiting: addrs.clone(),
            asked_at: now,
        });
        debug!(
            vrrp_instance = %name, vrrp_vrid = q.vrid, witnesses = addrs.len(),
            master = ?q.master, master_down_ms = q.master_down.as_millis() as u64,
            "master down: asking the witnesses whether another MASTER is still heard \
             (waiting up to {} µs)",
            q.timeout.as_micros()
        );
        for to in addrs {
            if let Err(e) = self.ports.send_witness(to, &bytes) {
                if let Some(suppressed) = self.io_logs(id).witness.allow(now) {
                    warn!(vrrp_instance = %name, witness = %to, suppressed,
                        "cannot send a query to witness {to}: {e}");
                }
            }
        }
    }

    /// The core keeps the instance BACKUP on the witnesses' word.
    pub(super) fn witness_hold(&mut self, id: InstanceId, hold: WitnessHold) {
        let now = self.now;
        let Some(io) = self.router.io_mut(id) else {
            return;
        };
        let (name, vrid) = (io.cfg.name.clone(), io.cfg.vrid);
        let reason = hold.to_string();
        debug!(vrrp_instance = %name, vrrp_vrid = vrid, "witness hold: {reason}");
        if let Some(suppressed) = io.logs.witness_hold.allow(now) {
            warn!(vrrp_instance = %name, vrrp_vrid = vrid, vrrp_reason = %reason, suppressed,
                "{reason}");
        }
    }

    /// A datagram on a witness socket: an answer to one instance's question, or dropped.
    pub(super) fn on_witness(&mut self, from: SocketAddr, datagram: &[u8]) {
        let answer = match Answer::decode(datagram) {
            Ok(a) => a,
            Err(e) => return self.witness_dropped(None, from, &e.to_string()),
        };
        let owner = self.router.iter().find_map(|(id, s)| {
            let p = s.io.witness.as_ref()?.pending.as_ref()?;
            (p.nonce == answer.nonce).then_some(id)
        });
        let Some(id) = owner else {
            return self.witness_dropped(None, from, "no question of ours has its nonce");
        };
        let now = self.now;
        let checked = {
            let Some(w) = self.router.io_mut(id).and_then(|io| io.witness.as_mut()) else {
                return;
            };
            let Some(p) = w.pending.as_mut() else {
                return;
            };
            if let Err(e) = proto::verify(datagram, &w.key) {
                Err(e.to_string())
            } else if !p.waiting.contains(&from) {
                Err("not from a witness asked, or answered already".to_string())
            } else if answer.vrid != p.vrid || answer.family != p.family {
                Err("for another VRID or family".to_string())
            } else if proto::skew(answer.timestamp_ms, p.timestamp_ms) > proto::WINDOW {
                Err(format!(
                    "its clock is {} s off ours",
                    proto::skew(answer.timestamp_ms, p.timestamp_ms).as_secs()
                ))
            } else {
                p.waiting.retain(|a| *a != from);
                Ok(now.saturating_since(p.asked_at))
            }
        };
        match checked {
            Ok(rtt) => {
                let name = self
                    .router
                    .get(id)
                    .map(|s| s.io.cfg.name.clone())
                    .unwrap_or_default();
                debug!(
                    vrrp_instance = %name, witness = %from, rtt_us = rtt.as_micros() as u64,
                    listening_ms = answer.listening_ms, heard = ?answer.heard,
                    "witness {from} answered in {} µs", rtt.as_micros()
                );
                let ev = Event::WitnessAnswer(WitnessAnswer {
                    listening: Duration::from_millis(u64::from(answer.listening_ms)),
                    heard: answer
                        .heard
                        .iter()
                        .map(|h| WitnessHeard {
                            src: h.addr,
                            priority: h.priority,
                            ago: Duration::from_millis(u64::from(h.ago_ms)),
                        })
                        .collect(),
                });
                self.feed(id, ev);
            }
            Err(why) => self.witness_dropped(Some(id), from, &why),
        }
    }

    fn witness_dropped(&mut self, id: Option<InstanceId>, from: SocketAddr, why: &str) {
        let now = self.now;
        let name = id.and_then(|id| self.router.get(id).map(|s| s.io.cfg.name.clone()));
        if let Some(w) = id
            .and_then(|id| self.router.io_mut(id))
            .and_then(|io| io.witness.as_mut())
        {
            w.dropped += 1;
        }
        let logs = match id {
            Some(id) => self.io_logs(id),
            None => &mut self.logs,
        };
        if let Some(suppressed) = logs.witness.allow(now) {
            warn!(vrrp_instance = ?name, witness = %from, suppressed,
                "dropped a witness answer from {from}: {why}");
        }
    }
}
