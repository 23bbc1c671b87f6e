//! The witness protocol: one UDP query, one UDP answer, both tagged with HMAC-SHA256.
//!
//! Every message starts with the same 32-byte header and ends with a 32-byte tag, the
//! HMAC-SHA256 under the shared key of every byte before it. Integers are big-endian.
//!
//! ```text
//!  0      4 magic "VRHW"
//!  4      1 version (1)
//!  5      1 type: 1 query, 2 answer
//!  6      1 VRID (1..=255)
//!  7      1 address family: 4 or 6
//!  8      8 timestamp: the sender's wall clock, ms since the Unix epoch
//! 16     16 nonce: random in a query, the query's echoed in its answer
//! query:  32 tag                                              (64 bytes)
//! answer: 32 4 listening: ms the witness has been hearing adverts (saturating)
//!         36 1 N, the routers heard (0..=8), most recent first
//!         37 N x (address 4 or 16 bytes, priority 1, ms since its last advert 4)
//!            32 tag                                    (at most 69 + 8 x 21 = 237 bytes)
//! ```
//!
//! Decoding checks the structure only; [`verify`] checks the tag (in constant time).
//! Freshness is the receivers': a witness refuses queries whose timestamp is off by more
//! than [`WINDOW`] or whose nonce it has seen; a node accepts an answer only for its one
//! outstanding query (the nonce) from a witness it asked.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::core::packet::Family;

/// The first four bytes of every message.
pub const MAGIC: [u8; 4] = *b"VRHW";
/// The protocol version this code speaks.
pub const VERSION: u8 = 1;
/// The UDP port a witness listens on unless told otherwise (not IANA-assigned).
pub const DEFAULT_PORT: u16 = 5112;
/// The header shared by queries and answers.
pub const HEADER_LEN: usize = 32;
/// The HMAC-SHA256 tag at the end of every message.
pub const TAG_LEN: usize = 32;
/// A query is a header and a tag.
pub const QUERY_LEN: usize = HEADER_LEN + TAG_LEN;
/// An answer lists at most this many routers.
pub const MAX_HEARD: usize = 8;
/// The longest answer (IPv6, [`MAX_HEARD`] routers).
pub const MAX_ANSWER_LEN: usize = HEADER_LEN + 5 + MAX_HEARD * (16 + 5) + TAG_LEN;
/// How far a query's timestamp may be from the witness's clock (the clocks need NTP).
pub const WINDOW: Duration = Duration::from_secs(30);
/// The shortest key accepted (128 bits).
pub const MIN_KEY_LEN: usize = 16;
/// The longest key accepted.
pub const MAX_KEY_LEN: usize = 1024;

const TYPE_QUERY: u8 = 1;
const TYPE_ANSWER: u8 = 2;

type HmacSha256 = Hmac<Sha256>;

/// A shared witness key, ready to tag and verify (its bytes are never printed).
#[derive(Clone)]
pub struct Key(Arc<HmacSha256>);

impl Key {
    /// A key from its bytes ([`MIN_KEY_LEN`]..=[`MAX_KEY_LEN`] of them).
    pub fn new(bytes: &[u8]) -> Result<Key, KeyLengthError> {
        if !(MIN_KEY_LEN..=MAX_KEY_LEN).contains(&bytes.len()) {
            return Err(KeyLengthError(bytes.len()));
        }
        // HMAC takes keys of any length; the range above is ours.
        let mac = HmacSha256::new_from_slice(bytes).map_err(|_| KeyLengthError(bytes.len()))?;
        Ok(Key(Arc::new(mac)))
    }

    fn tag(&self, message: &[u8]) -> [u8; TAG_LEN] {
        let mut mac = (*self.0).clone();
        mac.update(message);
        mac.finalize().into_bytes().into()
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key(..)")
    }
}

/// A key of a length outside [`MIN_KEY_LEN`]..=[`MAX_KEY_LEN`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a witness key must be {MIN_KEY_LEN} to {MAX_KEY_LEN} bytes long, this one has {0}")]
pub struct KeyLengthError(pub usize);

/// Why bytes are not a witness message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ProtoError {
    /// Shorter than a header and a tag.
    #[error("{0} bytes is too short for a witness message")]
    TooShort(usize),
    /// Not our magic.
    #[error("not a witness message (bad magic)")]
    BadMagic,
    /// A version this code does not speak.
    #[error("witness protocol version {0} is not supported (this is version {VERSION})")]
    Version(u8),
    /// Neither a query nor an answer, or not the kind expected.
    #[error("unexpected message type {0}")]
    Type(u8),
    /// VRID 0.
    #[error("VRID 0 is not valid")]
    Vrid,
    /// Neither 4 nor 6.
    #[error("unknown address family {0}")]
    Family(u8),
    /// The length does not match what the message says it holds.
    #[error("length {got} does not match the {expected} bytes the message describes")]
    Length {
        /// What the fields imply.
        expected: usize,
        /// What arrived.
        got: usize,
    },
    /// More routers than an answer may list.
    #[error("an answer lists {0} routers, at most {MAX_HEARD} are allowed")]
    TooMany(u8),
    /// The tag does not match under the key.
    #[error("bad authentication tag (wrong key, or altered)")]
    BadTag,
}

impl ProtoError {
    /// A stable short name for logs and counters.
    pub const fn as_str(self) -> &'static str {
        match self {
            ProtoError::TooShort(_) => "too_short",
            ProtoError::BadMagic => "bad_magic",
            ProtoError::Version(_) => "version",
            ProtoError::Type(_) => "type",
            ProtoError::Vrid => "vrid",
            ProtoError::Family(_) => "family",
            ProtoError::Length { .. } => "length",
            ProtoError::TooMany(_) => "too_many",
            ProtoError::BadTag => "bad_tag",
        }
    }
}

/// "For VRID v / family f, who is MASTER?"
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Query {
    /// The virtual router.
    pub vrid: u8,
    /// Its address family.
    pub family: Family,
    /// The asker's wall clock, ms since the Unix epoch.
    pub timestamp_ms: u64,
    /// Random, never reused.
    pub nonce: [u8; 16],
}

/// One router a witness heard advertising.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Heard {
    /// Its address (the advert's IP source).
    pub addr: IpAddr,
    /// The priority of its last advert.
    pub priority: u8,
    /// Milliseconds since its last advert, when the query arrived.
    pub ago_ms: u32,
}

/// What a witness heard for the VRID and family of a query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// The query's VRID.
    pub vrid: u8,
    /// The query's family.
    pub family: Family,
    /// The witness's wall clock, ms since the Unix epoch.
    pub timestamp_ms: u64,
    /// The query's nonce.
    pub nonce: [u8; 16],
    /// How long the witness has been hearing adverts, in ms: an answer that heard nobody
    /// means something only after a whole Master_Down_Interval.
    pub listening_ms: u32,
    /// The routers heard recently, most recent first (at most [`MAX_HEARD`]).
    pub heard: Vec<Heard>,
}

fn family_byte(f: Family) -> u8 {
    match f {
        Family::V4 => 4,
        Family::V6 => 6,
    }
}

fn addr_len(f: Family) -> usize {
    match f {
        Family::V4 => 4,
        Family::V6 => 16,
    }
}

fn header(out: &mut Vec<u8>, kind: u8, vrid: u8, family: Family, ts: u64, nonce: &[u8; 16]) {
    out.extend_from_slice(&MAGIC);
    out.push(VERSION);
    out.push(kind);
    out.push(vrid);
    out.push(family_byte(family));
    out.extend_from_slice(&ts.to_be_bytes());
    out.extend_from_slice(nonce);
}

/// The header's fields, checked.
struct Head {
    kind: u8,
    vrid: u8,
    family: Family,
    timestamp_ms: u64,
    nonce: [u8; 16],
}

fn parse_header(bytes: &[u8]) -> Result<Head, ProtoError> {
    if bytes.len() < HEADER_LEN + TAG_LEN {
        return Err(ProtoError::TooShort(bytes.len()));
    }
    if bytes[0..4] != MAGIC {
        return Err(ProtoError::BadMagic);
    }
    if bytes[4] != VERSION {
        return Err(ProtoError::Version(bytes[4]));
    }
    let kind = bytes[5];
    if kind != TYPE_QUERY && kind != TYPE_ANSWER {
        return Err(ProtoError::Type(kind));
    }
    let vrid = bytes[6];
    if vrid == 0 {
        return Err(ProtoError::Vrid);
    }
    let family = match bytes[7] {
        4 => Family::V4,
        6 => Family::V6,
        other => return Err(ProtoError::Family(other)),
    };
    let mut ts = [0u8; 8];
    ts.copy_from_slice(&bytes[8..16]);
    let mut nonce = [0u8; 16];
    nonce.copy_from_slice(&bytes[16..32]);
    Ok(Head {
        kind,
        vrid,
        family,
        timestamp_ms: u64::from_be_bytes(ts),
        nonce,
    })
}

impl Query {
    /// The message, tagged under `key`.
    pub fn encode(&self, key: &Key) -> Vec<u8> {
        let mut out = Vec::with_capacity(QUERY_LEN);
        header(
            &mut out,
            TYPE_QUERY,
            self.vrid,
            self.family,
            self.timestamp_ms,
            &self.nonce,
        );
        let tag = key.tag(&out);
        out.extend_from_slice(&tag);
        out
    }

    /// The query in `bytes`, structure checked (not the tag: see [`verify`]).
    pub fn decode(bytes: &[u8]) -> Result<Query, ProtoError> {
        let h = parse_header(bytes)?;
        if h.kind != TYPE_QUERY {
            return Err(ProtoError::Type(h.kind));
        }
        if bytes.len() != QUERY_LEN {
            return Err(ProtoError::Length {
                expected: QUERY_LEN,
                got: bytes.len(),
            });
        }
        Ok(Query {
            vrid: h.vrid,
            family: h.family,
            timestamp_ms: h.timestamp_ms,
            nonce: h.nonce,
        })
    }
}

impl Answer {
    /// The message, tagged under `key`. Routers past [`MAX_HEARD`] and addresses of the
    /// other family are left out; ages saturate.
    pub fn encode(&self, key: &Key) -> Vec<u8> {
        let mut out = Vec::with_capacity(MAX_ANSWER_LEN);
        header(
            &mut out,
            TYPE_ANSWER,
            self.vrid,
            self.family,
            self.timestamp_ms,
            &self.nonce,
        );
        out.extend_from_slice(&self.listening_ms.to_be_bytes());
        let heard: Vec<&Heard> = self
            .heard
            .iter()
            .filter(|h| Family::of(&h.addr) == self.family)
            .take(MAX_HEARD)
            .collect();
        // At most MAX_HEARD (8) entries: the count fits in a byte.
        out.push(heard.len() as u8);
        for h in heard {
            match h.addr {
                IpAddr::V4(a) => out.extend_from_slice(&a.octets()),
                IpAddr::V6(a) => out.extend_from_slice(&a.octets()),
            }
            out.push(h.priority);
            out.extend_from_slice(&h.ago_ms.to_be_bytes());
        }
        let tag = key.tag(&out);
        out.extend_from_slice(&tag);
        out
    }

    /// The answer in `bytes`, structure checked (not the tag: see [`verify`]).
    pub fn decode(bytes: &[u8]) -> Result<Answer, ProtoError> {
        let h = parse_header(bytes)?;
        if h.kind != TYPE_ANSWER {
            return Err(ProtoError::Type(h.kind));
        }
        let fixed = HEADER_LEN + 5 + TAG_LEN;
        if bytes.len() < fixed {
            return Err(ProtoError::Length {
                expected: fixed,
                got: bytes.len(),
            });
        }
        let mut listening = [0u8; 4];
        listening.copy_from_slice(&bytes[32..36]);
        let count = bytes[36];
        if usize::from(count) > MAX_HEARD {
            return Err(ProtoError::TooMany(count));
        }
        let alen = addr_len(h.family);
        let entry = alen + 5;
        let expected = fixed + usize::from(count) * entry;
        if bytes.len() != expected {
            return Err(ProtoError::Length {
                expected,
                got: bytes.len(),
            });
        }
        let mut heard = Vec::with_capacity(usize::from(count));
        for e in bytes[37..expected - TAG_LEN].chunks_exact(entry) {
            let addr = match h.family {
                Family::V4 => {
                    let mut a = [0u8; 4];
                    a.copy_from_slice(&e[..4]);
                    IpAddr::V4(Ipv4Addr::from(a))
                }
                Family::V6 => {
                    let mut a = [0u8; 16];
                    a.copy_from_slice(&e[..16]);
                    IpAddr::V6(Ipv6Addr::from(a))
                }
            };
            let mut ago = [0u8; 4];
            ago.copy_from_slice(&e[alen + 1..alen + 5]);
            heard.push(Heard {
                addr,
                priority: e[alen],
                ago_ms: u32::from_be_bytes(ago),
            });
        }
        Ok(Answer {
            vrid: h.vrid,
            family: h.family,
            timestamp_ms: h.timestamp_ms,
            nonce: h.nonce,
            listening_ms: u32::from_be_bytes(listening),
            heard,
        })
    }
}

/// Check the tag at the end of `bytes` under `key`, in constant time.
pub fn verify(bytes: &[u8], key: &Key) -> Result<(), ProtoError> {
    let Some(split) = bytes.len().checked_sub(TAG_LEN) else {
        return Err(ProtoError::TooShort(bytes.len()));
    };
    let (message, tag) = bytes.split_at(split);
    let mut mac = (*key.0).clone();
    mac.update(message);
    mac.verify_slice(tag).map_err(|_| ProtoError::BadTag)
}

/// The distance between two wall-clock timestamps in ms.
pub fn skew(a_ms: u64, b_ms: u64) -> Duration {
    Duration::from_millis(a_ms.abs_diff(b_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> Key {
        Key::new(b"0123456789abcdef0123456789abcdef").expect("valid key")
    }

    fn query() -> Query {
        Query {
            vrid: 51,
            family: Family::V4,
            timestamp_ms: 1_700_000_000_123,
            nonce: [7; 16],
        }
    }

    fn answer(family: Family, n: usize) -> Answer {
        let addr = |i: usize| match family {
            Family::V4 => IpAddr::V4(Ipv4Addr::new(192, 0, 2, i as u8)),
            Family::V6 => IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, i as u16)),
        };
        Answer {
            vrid: 51,
            family,
            timestamp_ms: 1_700_000_000_456,
            nonce: [7; 16],
            listening_ms: 60_000,
            heard: (0..n)
                .map(|i| Heard {
                    addr: addr(i + 1),
                    priority: 100 + i as u8,
                    ago_ms: 40 * i as u32,
                })
                .collect(),
        }
    }

    #[test]
    fn query_layout_is_fixed() {
        let bytes = query().encode(&key());
        assert_eq!(bytes.len(), QUERY_LEN);
        assert_eq!(&bytes[..8], b"VRHW\x01\x01\x33\x04");
        assert_eq!(&bytes[8..16], &1_700_000_000_123u64.to_be_bytes());
        assert_eq!(&bytes[16..32], &[7; 16]);
        assert_eq!(Query::decode(&bytes), Ok(query()));
        assert_eq!(verify(&bytes, &key()), Ok(()));
    }

    #[test]
    fn answers_round_trip_in_both_families() {
        for family in [Family::V4, Family::V6] {
            for n in [0, 1, MAX_HEARD] {
                let a = answer(family, n);
                let bytes = a.encode(&key());
                assert_eq!(
                    bytes.len(),
                    HEADER_LEN + 5 + n * (addr_len(family) + 5) + TAG_LEN
                );
                assert_eq!(Answer::decode(&bytes), Ok(a));
                assert_eq!(verify(&bytes, &key()), Ok(()));
            }
        }
        assert_eq!(
            answer(Family::V6, MAX_HEARD).encode(&key()).len(),
            MAX_ANSWER_LEN
        );
    }

    #[test]
    fn encoding_drops_what_cannot_be_sent() {
        let mut a = answer(Family::V4, MAX_HEARD);
        a.heard.push(a.heard[0].clone());
        a.heard.insert(
            0,
            Heard {
                addr: "2001:db8::1".parse().expect("literal"),
                priority: 1,
                ago_ms: 0,
            },
        );
        let back = Answer::decode(&a.encode(&key())).expect("decodes");
        assert_eq!(back.heard, answer(Family::V4, MAX_HEARD).heard);
    }

    #[test]
    fn a_wrong_key_or_a_flipped_bit_fails_the_tag() {
        let other = Key::new(b"fedcba9876543210fedcba9876543210").expect("valid key");
        let bytes = query().encode(&key());
        assert_eq!(verify(&bytes, &other), Err(ProtoError::BadTag));
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x01;
            assert_eq!(
                verify(&b, &key()),
                Err(ProtoError::BadTag),
                "bit in byte {i}"
            );
        }
        assert_eq!(verify(&bytes[..10], &key()), Err(ProtoError::TooShort(10)));
    }

    #[test]
    fn malformed_messages_get_typed_errors() {
        let q = query().encode(&key());
        let a = answer(Family::V4, 2).encode(&key());
        let with = |b: &[u8], i: usize, v: u8| {
            let mut b = b.to_vec();
            b[i] = v;
            b
        };
        assert_eq!(Query::decode(&q[..63]), Err(ProtoError::TooShort(63)));
        assert_eq!(Query::decode(&with(&q, 0, b'X')), Err(ProtoError::BadMagic));
        assert_eq!(Query::decode(&with(&q, 4, 2)), Err(ProtoError::Version(2)));
        assert_eq!(Query::decode(&with(&q, 5, 9)), Err(ProtoError::Type(9)));
        assert_eq!(Query::decode(&with(&q, 6, 0)), Err(ProtoError::Vrid));
        assert_eq!(Query::decode(&with(&q, 7, 5)), Err(ProtoError::Family(5)));
        assert_eq!(Query::decode(&a), Err(ProtoError::Type(2)));
        assert_eq!(Answer::decode(&q), Err(ProtoError::Type(1)));
        let mut long = q.clone();
        long.push(0);
        assert_eq!(
            Query::decode(&long),
            Err(ProtoError::Length {
                expected: 64,
                got: 65
            })
        );
        assert_eq!(
            Answer::decode(&with(&a, 36, 9)),
            Err(ProtoError::TooMany(9))
        );
        assert_eq!(
            Answer::decode(&with(&a, 36, 3)),
            Err(ProtoError::Length {
                expected: 69 + 27,
                got: 69 + 18
            })
        );
        // A query's length as an answer: shorter than the fixed part.
        let short_answer = with(&q, 5, 2);
        assert_eq!(
            Answer::decode(&short_answer),
            Err(ProtoError::Length {
                expected: 69,
                got: 64
            })
        );
    }

    #[test]
    fn keys_have_bounds_and_never_print() {
        assert_eq!(Key::new(&[1; 15]).err(), Some(KeyLengthError(15)));
        assert!(Key::new(&[1; 16]).is_ok());
        assert!(Key::new(&[1; 1025]).is_err());
        assert_eq!(format!("{:?}", key()), "Key(..)");
    }
}
