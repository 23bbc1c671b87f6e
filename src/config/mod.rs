//! Configuration: the KDL language, parsed and validated with precise diagnostics.

pub mod model;

pub use model::*;
