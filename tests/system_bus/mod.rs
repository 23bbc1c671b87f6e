//! A private system bus for tests: Debian's own system-bus configuration with a socket of
//! the test's and one policy file included, so the policy is judged by the real default
//! rules.

use std::path::Path;

/// Debian's system-bus configuration (package dbus-system-bus-common).
pub const SYSTEM_CONF: &str = "/usr/share/dbus-1/system.conf";

/// Debian's system.conf with `policy` included and a socket at `socket` instead of the
/// machine's: its default policy (deny own, deny method calls, allow signals and
/// replies) is what the policy file punches holes in.
pub fn config(socket: &Path, policy: &Path) -> String {
    let system = std::fs::read_to_string(SYSTEM_CONF)
        .unwrap_or_else(|e| panic!("{SYSTEM_CONF}: {e} (package dbus-system-bus-common)"));
    // What makes it this machine's bus: the socket, the user to switch to, the pid
    // file, forking, the setuid activation helper, and the other packages' policies.
    let machine_specific = [
        "<listen>",
        "<user>",
        "<pidfile>",
        "<fork/>",
        "<syslog/>",
        "<servicehelper>",
        "<standard_system_servicedirs/>",
        "<include ",
        "<include>",
        "<includedir>",
    ];
    let mut dropped = 0;
    let mut out = String::new();
    for line in system.lines() {
        if machine_specific
            .iter()
            .any(|m| line.trim_start().starts_with(m))
        {
            dropped += 1;
            continue;
        }
        if line.trim() == "</busconfig>" {
            out.push_str(&format!(
                "  <listen>unix:path={}</listen>\n  <include>{}</include>\n",
                socket.display(),
                policy.display()
            ));
        }
        out.push_str(line);
        out.push('\n');
    }
    // Each of those is one line in Debian 12's file; if it changes shape, say so.
    assert!(
        dropped >= 8,
        "{SYSTEM_CONF}: only {dropped} machine-specific lines found"
    );
    assert!(
        out.contains("<deny own=\"*\"/>") && out.contains("<deny send_type=\"method_call\"/>"),
        "{SYSTEM_CONF}: the default deny rules are missing"
    );
    out
}
