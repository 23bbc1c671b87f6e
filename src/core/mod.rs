//! The pure, deterministic protocol core: codec and state machine.
//!
//! Nothing in here does I/O or reads a clock: callers pass time in and carry
//! the returned actions out.

pub mod instance;
pub mod packet;
pub mod reason;
pub mod router;
pub mod sync_group;
pub mod time;
pub mod track;
