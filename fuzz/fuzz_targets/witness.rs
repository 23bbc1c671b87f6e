//! Fuzz the witness protocol: the query and answer decoders and a witness's whole query
//! path. No input may panic; whatever decodes re-encodes to the same bytes (the tag
//! aside); a witness answers only what is tagged under its key, and its answer to a
//! tagged, fresh query decodes, verifies, echoes the question and refuses a replay.
#![no_main]

use std::net::IpAddr;

use libfuzzer_sys::fuzz_target;
use vrrp_ha::core::packet::{encode, Advert, ChecksumMode, Family, Version};
use vrrp_ha::core::time::Instant;
use vrrp_ha::witness::listener::{Listener, Refused};
use vrrp_ha::witness::proto::{self, Answer, Key, Query, TAG_LEN};

const KEY: &[u8] = b"fuzzing witness key, 32 bytes!!!";
const WALL_MS: u64 = 1_700_000_000_000;

fn key() -> Key {
    Key::new(KEY).expect("the fuzzing key has a valid length")
}

/// A witness that heard two routers on each family for VRID 51.
fn witness() -> Listener {
    let mut w = Listener::new(vec![key()], Instant::ZERO);
    for (src, prio, at) in [
        ("192.0.2.201", 100, 400),
        ("192.0.2.202", 90, 450),
        ("2001:db8::201", 100, 420),
        ("2001:db8::202", 0, 470),
    ] {
        let src: IpAddr = src.parse().expect("literal");
        let dst = Family::of(&src).group();
        let vip: IpAddr = if src.is_ipv4() {
            "192.0.2.200".parse().expect("literal")
        } else {
            "2001:db8::200".parse().expect("literal")
        };
        let advert = Advert {
            version: Version::V3,
            vrid: 51,
            priority: prio,
            interval_cs: 10,
            auth: None,
            addrs: vec![vip],
        };
        let bytes = encode(&advert, src, dst, ChecksumMode::PseudoHeader).expect("encodes");
        w.advert(src, dst, 255, &bytes, Instant::from_millis(at))
            .expect("a valid advert is learnt");
    }
    w
}

fn check_answer(bytes: &[u8], q: &Query) {
    proto::verify(bytes, &key()).expect("answers are tagged under the query's key");
    let a = Answer::decode(bytes).expect("answers decode");
    assert_eq!((a.vrid, a.family, a.nonce), (q.vrid, q.family, q.nonce));
    assert!(a.heard.iter().all(|h| Family::of(&h.addr) == q.family));
}

fuzz_target!(|data: &[u8]| {
    let key = key();
    let tagged = proto::verify(data, &key).is_ok();
    let query = Query::decode(data);
    if let Ok(q) = &query {
        let again = q.encode(&key);
        assert_eq!(again.len(), data.len());
        assert_eq!(again[..again.len() - TAG_LEN], data[..data.len() - TAG_LEN]);
        assert_eq!(tagged, again == data);
    }
    if let Ok(a) = Answer::decode(data) {
        let again = a.encode(&key);
        assert_eq!(again.len(), data.len());
        assert_eq!(again[..again.len() - TAG_LEN], data[..data.len() - TAG_LEN]);
        assert_eq!(Answer::decode(&again).as_ref(), Ok(&a));
    }
    let from: IpAddr = "192.0.2.202".parse().expect("literal");
    let now = Instant::from_millis(500);
    // The bytes as they arrive: only a tagged query is ever answered.
    let mut w = witness();
    if let Ok(answer) = w.query(from, data, now, WALL_MS) {
        let q = query.as_ref().expect("only queries are answered");
        assert!(tagged, "answered an untagged query");
        check_answer(&answer, q);
    }
    // The same question tagged and fresh: answered once, refused as a replay after.
    if let Ok(q) = &query {
        let bytes = q.encode(&key);
        let mut w = witness();
        let answer = w
            .query(from, &bytes, now, q.timestamp_ms)
            .expect("a tagged, fresh, new query is answered");
        check_answer(&answer, q);
        assert_eq!(
            w.query(from, &bytes, now, q.timestamp_ms),
            Err(Refused::Replayed)
        );
    }
});
