//! Logging: the journal with structured VRRP_* fields when it is there, stderr otherwise.
