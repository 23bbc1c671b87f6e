//! Configuration: the KDL language, parsed and validated with precise diagnostics.
//!
//! [`parse_str`] and [`load`] turn a KDL 2.0 file into a [`Config`], or into a
//! [`ConfigError`] holding every problem found (not only the first), each with its span.
//!
//! Limits beyond the ones the node docs in [`model`] state (the man page documents them too):
//! - `preempt-delay` 0s..=1000s (keepalived's cap); `garp-refresh` 0s..=1h;
//!   script `interval`/`timeout` 10ms..=1h; `rise`/`fall` 1..=100; `garp-repeat` 0..=100.
//! - Names of instances, scripts and sync groups: 1..=64 of `[A-Za-z0-9_.-]` (they end up in
//!   notify arguments, logs and D-Bus paths). Interface names: 1..=15 bytes, no `/`, `:`, space.
//! - `notify` and `track-file` paths must be absolute; `exec` argv\[0\] must not be empty.
//! - `start`/`stop`/`restart`/`reload` need a full unit name (`nginx.service`).
//! - `virtual-ip`: unicast only, no duplicates; `label=` is IPv4 only, at most 15 bytes.
//! - `unicast-source` needs at least one `unicast-peer`; a peer may not be the source or repeat.
//! - Files over 1 MiB or nesting deeper than 16 blocks are refused before KDL parsing.
//! - KDL type annotations (`(u8)51`) are refused; bare KDL identifiers count as strings.

pub mod duration;
mod error;
pub mod model;
mod nesting;
mod parse;
pub mod schema;

use std::fmt::Write as _;
use std::path::Path;

pub use error::{
    report_handler, ConfigError, LoadError, Problem, ProblemKind, LONG_LINE, MAX_RENDERED,
    RENDER_WIDTH,
};
pub use model::*;
pub use parse::parse_str;

/// Reads and validates a config file; the path as given is the file name in diagnostics.
pub fn load(path: &Path) -> Result<Config, LoadError> {
    let bytes = std::fs::read(path).map_err(|source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let name = path.display().to_string();
    match String::from_utf8(bytes) {
        Ok(text) => Ok(parse_str(&text, &name)?),
        Err(e) => {
            // Not UTF-8 is an invalid config (exit 1), not an unreadable file: point at the byte.
            let at = e.utf8_error().valid_up_to();
            let text = String::from_utf8_lossy(e.as_bytes()).into_owned();
            let problem = Problem::new(
                ProblemKind::Syntax,
                "the file is not valid UTF-8",
                miette::SourceSpan::new(at.into(), 1),
                "invalid byte",
            )
            .help("KDL files are UTF-8 text; re-save the file as UTF-8");
            Err(ConfigError::new(&name, &text, vec![problem]).into())
        }
    }
}

impl Config {
    /// Total number of virtual IPs over all instances.
    pub fn virtual_ip_count(&self) -> usize {
        self.instances.iter().map(|i| i.virtual_ips.len()).sum()
    }

    /// The `check` summary: `2 instances, 1 script, 3 virtual IPs`.
    pub fn summary(&self) -> String {
        fn count(n: usize, one: &str, many: &str) -> String {
            format!("{n} {}", if n == 1 { one } else { many })
        }
        format!(
            "{}, {}, {}",
            count(self.instances.len(), "instance", "instances"),
            count(self.scripts.len(), "script", "scripts"),
            count(self.virtual_ip_count(), "virtual IP", "virtual IPs")
        )
    }
}

/// `s` as a quoted KDL string, with every control and bidi character escaped so the
/// text reads as it parses.
pub fn kdl_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if c.is_control()
                || matches!(c, '\u{200E}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}') =>
            {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
