//! What a witness knows and how it answers, sans-IO: adverts and queries in with the
//! time, answers out.
//!
//! It keeps, per (VRID, family), the routers whose adverts it heard in the last four of
//! their advert intervals (Master_Down_Interval is less than that), at most
//! [`MAX_HEARD`] each: sender, priority, when. Nothing else outlives a few intervals but
//! the rate-limit buckets and the nonces of the queries answered in the last
//! 2 x [`WINDOW`], both bounded.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::time::Duration;

use super::limit::{Bucket, Rate};
use super::proto::{self, Answer, Heard, Key, ProtoError, Query, MAX_HEARD, WINDOW};
use crate::core::packet::{self, Family, VRRP_TTL};
use crate::core::time::Instant;

/// Queries answered per source address: a node asks once per instance whose
/// Master_Down_Timer fires, so a burst covers many instances failing over at once.
pub const PER_SOURCE: Rate = Rate {
    per_second: 32.0,
    burst: 64.0,
};
/// Queries answered in all.
pub const GLOBAL: Rate = Rate {
    per_second: 256.0,
    burst: 512.0,
};
/// Sources whose buckets are remembered at most.
pub const MAX_SOURCES: usize = 4096;
/// Nonces remembered at most (the global rate over the window, both ways, fits).
pub const MAX_NONCES: usize = 16_384;
/// A router is remembered for this many of its advert intervals.
pub const KEEP_INTERVALS: u32 = 4;

/// Why an advert taught the witness nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ignored {
    /// TTL / hop limit not 255: not from this link (RFC 9568 section 7.1).
    Ttl,
    /// Not a valid VRRP advert.
    Malformed(&'static str),
    /// No addresses or a zero interval (RFC 9568 section 7.1, errata).
    Invalid,
}

/// Why a query got no answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// Its source asked too often.
    SourceRate,
    /// Not a well-formed query.
    Malformed(ProtoError),
    /// Not tagged under any of the witness's keys.
    BadTag,
    /// Its timestamp is off by more than [`WINDOW`] from the witness's clock.
    Stale {
        /// By how much.
        skew: Duration,
    },
    /// Its nonce was seen before.
    Replayed,
    /// Too many queries in all.
    GlobalRate,
}

impl Refused {
    /// A stable short name for logs and counters.
    pub const fn as_str(self) -> &'static str {
        match self {
            Refused::SourceRate => "source_rate",
            Refused::Malformed(e) => e.as_str(),
            Refused::BadTag => "bad_tag",
            Refused::Stale { .. } => "stale",
            Refused::Replayed => "replayed",
            Refused::GlobalRate => "global_rate",
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Sender {
    addr: IpAddr,
    priority: u8,
    at: Instant,
    keep: Duration,
}

/// Counters of one witness.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Adverts that told who advertises.
    pub adverts: u64,
    /// Packets ignored, per reason.
    pub ignored: BTreeMap<&'static str, u64>,
    /// Queries answered.
    pub answered: u64,
    /// Queries refused, per reason.
    pub refused: BTreeMap<&'static str, u64>,
}

/// A witness's memory and its rules; see the module documentation.
#[derive(Debug)]
pub struct Listener {
    keys: Vec<Key>,
    since: Instant,
    heard: HashMap<(u8, Family), Vec<Sender>>,
    sources: HashMap<IpAddr, Bucket>,
    global: Bucket,
    /// Nonce -> the witness's wall clock (ms) after which it may be forgotten.
    nonces: HashMap<[u8; 16], u64>,
    stats: Stats,
}

fn to_ms(d: Duration) -> u32 {
    u32::try_from(d.as_millis()).unwrap_or(u32::MAX)
}

/// An IPv4 address seen through a dual-stack socket is that IPv4 address.
fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
        v4 => v4,
    }
}

impl Listener {
    /// A witness that starts listening at `now` and answers queries tagged under any of
    /// `keys` (several let a key be replaced one node at a time).
    pub fn new(keys: Vec<Key>, now: Instant) -> Listener {
        Listener {
            keys,
            since: now,
            heard: HashMap::new(),
            sources: HashMap::new(),
            global: Bucket::new(GLOBAL, now),
            nonces: HashMap::new(),
            stats: Stats::default(),
        }
    }

    /// Answer queries tagged under these keys from now on (what was heard is kept).
    pub fn set_keys(&mut self, keys: Vec<Key>) {
        self.keys = keys;
    }

    /// Counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// A VRRP packet heard on the link (IP header stripped, as the raw socket gives it).
    pub fn advert(
        &mut self,
        src: IpAddr,
        dst: IpAddr,
        ttl: u8,
        payload: &[u8],
        now: Instant,
    ) -> Result<(), Ignored> {
        let r = self.learn(src, dst, ttl, payload, now);
        match r {
            Ok(()) => self.stats.adverts += 1,
            Err(why) => {
                let name = match why {
                    Ignored::Ttl => "bad_ttl",
                    Ignored::Malformed(m) => m,
                    Ignored::Invalid => "invalid",
                };
                *self.stats.ignored.entry(name).or_insert(0) += 1;
            }
        }
        r
    }

    fn learn(
        &mut self,
        src: IpAddr,
        dst: IpAddr,
        ttl: u8,
        payload: &[u8],
        now: Instant,
    ) -> Result<(), Ignored> {
        // RFC 3768 / RFC 9568 section 7.1: an advert from off the link is not the link's.
        if ttl != VRRP_TTL {
            return Err(Ignored::Ttl);
        }
        let (advert, _) =
            packet::decode(payload, src, dst).map_err(|e| Ignored::Malformed(e.reason()))?;
        // RFC 9568 section 7.1 (errata): a count or an interval of 0 is invalid.
        if advert.addrs.is_empty() || advert.interval_cs == 0 {
            return Err(Ignored::Invalid);
        }
        let keep = Duration::from_millis(u64::from(advert.interval_cs) * 10) * KEEP_INTERVALS;
        let senders = self
            .heard
            .entry((advert.vrid, Family::of(&src)))
            .or_default();
        senders.retain(|s| now.saturating_since(s.at) <= s.keep);
        let fresh = Sender {
            addr: src,
            priority: advert.priority,
            at: now,
            keep,
        };
        match senders.iter_mut().find(|s| s.addr == src) {
            Some(s) => *s = fresh,
            None => {
                if senders.len() >= MAX_HEARD {
                    if let Some(i) = senders
                        .iter()
                        .enumerate()
                        .min_by_key(|(_, s)| s.at)
                        .map(|(i, _)| i)
                    {
                        senders.swap_remove(i);
                    }
                }
                senders.push(fresh);
            }
        }
        Ok(())
    }

    /// Forget what is older than its intervals allow, and buckets and nonces that no longer
    /// matter (call about once a second).
    pub fn prune(&mut self, now: Instant, wall_ms: u64) {
        self.heard.retain(|_, senders| {
            senders.retain(|s| now.saturating_since(s.at) <= s.keep);
            !senders.is_empty()
        });
        self.sources.retain(|_, b| !b.full_at(PER_SOURCE, now));
        self.nonces.retain(|_, until| *until > wall_ms);
    }

    /// A UDP datagram from `from`: the answer to send back, or why there is none.
    pub fn query(
        &mut self,
        from: IpAddr,
        bytes: &[u8],
        now: Instant,
        wall_ms: u64,
    ) -> Result<Vec<u8>, Refused> {
        let r = self.answer(canonical(from), bytes, now, wall_ms);
        match &r {
            Ok(_) => self.stats.answered += 1,
            Err(why) => *self.stats.refused.entry(why.as_str()).or_insert(0) += 1,
        }
        r
    }

    fn answer(
        &mut self,
        from: IpAddr,
        bytes: &[u8],
        now: Instant,
        wall_ms: u64,
    ) -> Result<Vec<u8>, Refused> {
        // The cheap checks first, so that a flood costs little: the source's bucket, the
        // structure, then the tag.
        if !self.sources.contains_key(&from) && self.sources.len() >= MAX_SOURCES {
            self.sources.retain(|_, b| !b.full_at(PER_SOURCE, now));
        }
        if !self.sources.contains_key(&from) && self.sources.len() >= MAX_SOURCES {
            return Err(Refused::SourceRate);
        }
        let bucket = self
            .sources
            .entry(from)
            .or_insert_with(|| Bucket::new(PER_SOURCE, now));
        if !bucket.take(PER_SOURCE, now) {
            return Err(Refused::SourceRate);
        }
        let q = Query::decode(bytes).map_err(Refused::Malformed)?;
        let Some(key) = self
            .keys
            .iter()
            .find(|k| proto::verify(bytes, k).is_ok())
            .cloned()
        else {
            return Err(Refused::BadTag);
        };
        let skew = proto::skew(q.timestamp_ms, wall_ms);
        if skew > WINDOW {
            return Err(Refused::Stale { skew });
        }
        if self.nonces.contains_key(&q.nonce) {
            return Err(Refused::Replayed);
        }
        if !self.global.take(GLOBAL, now) {
            return Err(Refused::GlobalRate);
        }
        if self.nonces.len() >= MAX_NONCES {
            self.nonces.retain(|_, until| *until > wall_ms);
            if self.nonces.len() >= MAX_NONCES {
                return Err(Refused::GlobalRate);
            }
        }
        // Until the query's timestamp leaves the window on the witness's clock.
        let window = u64::try_from(WINDOW.as_millis()).unwrap_or(u64::MAX);
        let until = q.timestamp_ms.max(wall_ms).saturating_add(window);
        self.nonces.insert(q.nonce, until);
        let mut heard: Vec<Sender> = self
            .heard
            .get(&(q.vrid, q.family))
            .map(|s| {
                s.iter()
                    .filter(|s| now.saturating_since(s.at) <= s.keep)
                    .copied()
                    .collect()
            })
            .unwrap_or_default();
        heard.sort_by_key(|s| std::cmp::Reverse(s.at));
        let answer = Answer {
            vrid: q.vrid,
            family: q.family,
            timestamp_ms: wall_ms,
            nonce: q.nonce,
            listening_ms: to_ms(now.saturating_since(self.since)),
            heard: heard
                .iter()
                .map(|s| Heard {
                    addr: s.addr,
                    priority: s.priority,
                    ago_ms: to_ms(now.saturating_since(s.at)),
                })
                .collect(),
        };
        Ok(answer.encode(&key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::packet::{encode, Advert, ChecksumMode, Version};

    const T0: u64 = 1_700_000_000_000;

    fn key(b: u8) -> Key {
        Key::new(&[b; 32]).expect("valid key")
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("literal")
    }

    fn ms(ms: u64) -> Instant {
        Instant::from_millis(ms)
    }

    fn advert_bytes(
        src: &str,
        vrid: u8,
        priority: u8,
        interval_cs: u16,
    ) -> (IpAddr, IpAddr, Vec<u8>) {
        let src = ip(src);
        let dst = Family::of(&src).group();
        let a = Advert {
            version: Version::V3,
            vrid,
            priority,
            interval_cs,
            auth: None,
            addrs: vec![if src.is_ipv4() {
                ip("192.0.2.200")
            } else {
                ip("2001:db8::200")
            }],
        };
        let bytes = encode(&a, src, dst, ChecksumMode::PseudoHeader).expect("encodes");
        (src, dst, bytes)
    }

    fn hear(w: &mut Listener, src: &str, vrid: u8, priority: u8, at: u64) {
        let (s, d, b) = advert_bytes(src, vrid, priority, 10);
        w.advert(s, d, 255, &b, ms(at)).expect("learnt");
    }

    fn ask(
        w: &mut Listener,
        vrid: u8,
        family: Family,
        nonce: u8,
        at: u64,
    ) -> Result<Answer, Refused> {
        let q = Query {
            vrid,
            family,
            timestamp_ms: T0 + at,
            nonce: [nonce; 16],
        };
        let bytes = w.query(ip("192.0.2.202"), &q.encode(&key(1)), ms(at), T0 + at)?;
        proto::verify(&bytes, &key(1)).expect("tagged under the query's key");
        Ok(Answer::decode(&bytes).expect("decodes"))
    }

    #[test]
    fn answers_who_advertised_recently_most_recent_first() {
        let mut w = Listener::new(vec![key(1)], ms(0));
        hear(&mut w, "192.0.2.201", 51, 100, 1000);
        hear(&mut w, "192.0.2.203", 51, 50, 1010);
        hear(&mut w, "2001:db8::201", 51, 100, 1020);
        hear(&mut w, "192.0.2.201", 52, 100, 1030);
        let a = ask(&mut w, 51, Family::V4, 1, 1040).expect("answered");
        assert_eq!(a.listening_ms, 1040);
        assert_eq!(a.nonce, [1; 16]);
        assert_eq!(
            a.heard,
            vec![
                Heard {
                    addr: ip("192.0.2.203"),
                    priority: 50,
                    ago_ms: 30
                },
                Heard {
                    addr: ip("192.0.2.201"),
                    priority: 100,
                    ago_ms: 40
                },
            ]
        );
        let a = ask(&mut w, 51, Family::V6, 2, 1040).expect("answered");
        assert_eq!(a.heard.len(), 1);
        // Four 100 ms intervals later the routers are forgotten.
        let a = ask(&mut w, 51, Family::V4, 3, 1405).expect("answered");
        assert_eq!(
            a.heard,
            vec![Heard {
                addr: ip("192.0.2.203"),
                priority: 50,
                ago_ms: 395
            }]
        );
        let a = ask(&mut w, 51, Family::V4, 4, 1500).expect("answered");
        assert!(a.heard.is_empty());
    }

    #[test]
    fn the_last_advert_of_a_router_counts_and_the_stalest_goes() {
        let mut w = Listener::new(vec![key(1)], ms(0));
        hear(&mut w, "192.0.2.201", 51, 100, 0);
        hear(&mut w, "192.0.2.201", 51, 0, 10);
        let a = ask(&mut w, 51, Family::V4, 1, 20).expect("answered");
        assert_eq!(
            a.heard,
            vec![Heard {
                addr: ip("192.0.2.201"),
                priority: 0,
                ago_ms: 10
            }]
        );
        for i in 0..20u64 {
            hear(&mut w, &format!("192.0.2.{}", 10 + i), 51, 10, 30 + i);
        }
        let a = ask(&mut w, 51, Family::V4, 2, 60).expect("answered");
        assert_eq!(a.heard.len(), MAX_HEARD);
        assert_eq!(a.heard[0].addr, ip("192.0.2.29"));
        assert_eq!(a.heard[MAX_HEARD - 1].addr, ip("192.0.2.22"));
    }

    #[test]
    fn off_link_and_bad_adverts_teach_nothing() {
        let mut w = Listener::new(vec![key(1)], ms(0));
        let (s, d, b) = advert_bytes("192.0.2.201", 51, 100, 10);
        assert_eq!(w.advert(s, d, 64, &b, ms(1)), Err(Ignored::Ttl));
        assert!(matches!(
            w.advert(s, d, 255, &b[..5], ms(1)),
            Err(Ignored::Malformed(_))
        ));
        // Interval 0, checksum made right again.
        let mut b = b;
        b[4] &= 0xf0;
        b[5] = 0;
        b[6] = 0;
        b[7] = 0;
        let ck = packet::checksum(&b, s, d, packet::ChecksumForm::PseudoHeader);
        b[6..8].copy_from_slice(&ck.to_be_bytes());
        assert_eq!(w.advert(s, d, 255, &b, ms(1)), Err(Ignored::Invalid));
        assert!(ask(&mut w, 51, Family::V4, 1, 2)
            .expect("answered")
            .heard
            .is_empty());
        assert_eq!(w.stats().ignored.values().sum::<u64>(), 3);
    }

    #[test]
    fn queries_must_be_tagged_fresh_and_new() {
        let mut w = Listener::new(vec![key(1)], ms(0));
        let q = Query {
            vrid: 51,
            family: Family::V4,
            timestamp_ms: T0,
            nonce: [9; 16],
        };
        let from = ip("192.0.2.202");
        assert_eq!(
            w.query(from, &q.encode(&key(2)), ms(0), T0),
            Err(Refused::BadTag)
        );
        assert_eq!(
            w.query(from, &[0; 10], ms(0), T0),
            Err(Refused::Malformed(ProtoError::TooShort(10)))
        );
        let late = T0 + WINDOW.as_millis() as u64 + 1;
        assert!(matches!(
            w.query(from, &q.encode(&key(1)), ms(0), late),
            Err(Refused::Stale { .. })
        ));
        assert!(w.query(from, &q.encode(&key(1)), ms(0), T0).is_ok());
        assert_eq!(
            w.query(from, &q.encode(&key(1)), ms(1), T0 + 1),
            Err(Refused::Replayed)
        );
        // Forgotten once the window has passed, and then too old anyway.
        w.prune(ms(100_000), T0 + 100_000);
        assert!(matches!(
            w.query(from, &q.encode(&key(1)), ms(100_000), T0 + 100_000),
            Err(Refused::Stale { .. })
        ));
        assert_eq!(w.stats().answered, 1);
    }

    #[test]
    fn any_of_several_keys_and_the_answer_uses_the_query_s() {
        let mut w = Listener::new(vec![key(1), key(2)], ms(0));
        let q = Query {
            vrid: 51,
            family: Family::V4,
            timestamp_ms: T0,
            nonce: [3; 16],
        };
        let bytes = w
            .query(ip("192.0.2.202"), &q.encode(&key(2)), ms(0), T0)
            .expect("answered");
        assert_eq!(proto::verify(&bytes, &key(2)), Ok(()));
        assert_eq!(proto::verify(&bytes, &key(1)), Err(ProtoError::BadTag));
    }

    #[test]
    fn rates_are_bounded_per_source_and_in_all() {
        let mut w = Listener::new(vec![key(1)], ms(0));
        let mut n = 0u32;
        let mut ask_from = |w: &mut Listener, from: IpAddr, at: u64| {
            n += 1;
            let mut nonce = [0u8; 16];
            nonce[..4].copy_from_slice(&n.to_be_bytes());
            let q = Query {
                vrid: 51,
                family: Family::V4,
                timestamp_ms: T0,
                nonce,
            };
            w.query(from, &q.encode(&key(1)), ms(at), T0)
        };
        let one = ip("192.0.2.202");
        let answered = (0..100)
            .filter(|_| ask_from(&mut w, one, 0).is_ok())
            .count();
        assert_eq!(answered, PER_SOURCE.burst as usize);
        assert_eq!(ask_from(&mut w, one, 0), Err(Refused::SourceRate));
        assert!(ask_from(&mut w, one, 1000 / PER_SOURCE.per_second as u64 + 1).is_ok());
        // Many sources: the global bucket runs dry.
        let mut global = 0;
        for i in 0..1000u32 {
            let from = IpAddr::V4(std::net::Ipv4Addr::from(0xc612_0000 + i));
            if ask_from(&mut w, from, 40) == Err(Refused::GlobalRate) {
                global += 1;
            }
        }
        assert!(global > 0);
        // Refusals of bad tags cost a source token too: a flood cannot hide behind them.
        let mut flood = Listener::new(vec![key(1)], ms(0));
        for _ in 0..PER_SOURCE.burst as usize {
            let _ = flood.query(one, &[0; 64], ms(0), T0);
        }
        assert_eq!(
            flood.query(one, &[0; 64], ms(0), T0),
            Err(Refused::SourceRate)
        );
    }

    #[test]
    fn mapped_ipv4_sources_share_the_ipv4_bucket() {
        assert_eq!(canonical(ip("::ffff:192.0.2.1")), ip("192.0.2.1"));
        assert_eq!(canonical(ip("2001:db8::1")), ip("2001:db8::1"));
    }
}
