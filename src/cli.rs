//! The command line: `run`, `check`, `status`, `completions`.

use std::process::ExitCode;

/// Entry point of the `vrrp-ha` binary.
pub fn main() -> ExitCode {
    ExitCode::SUCCESS
}
