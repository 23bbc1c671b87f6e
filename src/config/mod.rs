//! Configuration: the KDL language, parsed and validated with precise diagnostics.
//!
//! [`parse_str`] and [`load`] turn a KDL 2.0 file into a [`Config`], or into a
//! [`ConfigError`] holding every problem found (not only the first), each with its span.

pub mod duration;
mod error;
pub mod model;
mod parse;
mod schema;

use std::path::Path;

pub use error::{ConfigError, LoadError, Problem, ProblemKind, RENDER_WIDTH};
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
