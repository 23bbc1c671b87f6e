//! The witness: a third host on the clients' side that hears the adverts of its LAN and
//! tells a BACKUP, over authenticated UDP, whether the MASTER it no longer hears is still
//! advertising there (`vrrp-ha witness`).
//!
//! [`proto`] is the wire format, [`listener`] what a witness remembers and how it
//! answers (sans-IO), [`key`] where the shared key comes from, [`limit`] the token
//! buckets, [`serve`] the process around them.

pub mod key;
pub mod limit;
pub mod listener;
pub mod proto;
pub mod serve;
