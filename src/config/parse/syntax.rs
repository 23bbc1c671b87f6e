//! Before the document is read: what is refused ahead of the KDL parser (too large, nested too
//! deeply, a keepalived.conf), and KDL syntax errors turned into problems with hints.

use kdl::KdlDocument;

use super::Sp;
use crate::config::error::{Problem, ProblemKind as K};
use crate::config::nesting;
use crate::config::schema::KEEPALIVED_TOP;

/// Larger inputs are refused before parsing: the KDL parser is slow on megabytes of input.
const MAX_SOURCE_LEN: usize = 1 << 20;

/// The KDL document, or the problems that stop before it.
pub(super) fn parse(source: &str, file_name: &str) -> Result<KdlDocument, Vec<Problem>> {
    if source.len() > MAX_SOURCE_LEN {
        let problem = Problem::new(
            K::Syntax,
            format!("the file is {} bytes long", source.len()),
            Sp::new(MAX_SOURCE_LEN.into(), 0),
            "the limit is 1 MiB",
        )
        .help("a vrrp-ha configuration is a few kilobytes; is this the right file?");
        return Err(vec![problem]);
    }
    if let Some(span) = nesting::too_deep(source) {
        let problem = Problem::new(
            K::Syntax,
            "blocks or comments are nested too deeply",
            span,
            "too deep",
        )
        .help(format!(
            "configs nest at most 3 blocks (instance > on-master > action); the limit is {}",
            nesting::MAX_DEPTH
        ));
        return Err(vec![problem]);
    }
    if let Some(problem) = keepalived_conf(source, file_name) {
        return Err(vec![problem]);
    }
    KdlDocument::parse_v2(source).map_err(|err| {
        err.diagnostics
            .into_iter()
            .map(|d| syntax_problem(source, d))
            .collect()
    })
}

/// A KDL parse error as a [`Problem`], with a help line for the usual KDL 1 habits and for
/// addresses and durations written without quotes.
fn syntax_problem(source: &str, d: kdl::KdlDiagnostic) -> Problem {
    let text = source
        .get(d.span.offset()..d.span.offset() + d.span.len())
        .unwrap_or("");
    let help = match text.trim() {
        "true" | "false" => format!("KDL 2.0 writes booleans with a #: `#{}`", text.trim()),
        "null" => "KDL 2.0 writes null as `#null`".to_string(),
        bare if unquoted_value(bare) => {
            // The node name (or `key=`) before the value, so the help shows the whole line.
            let head = source.get(..d.span.offset()).unwrap_or("");
            let before = head[head.rfind('\n').map_or(0, |i| i + 1)..].trim_start();
            let before = if before.contains(['"', '{', '}', ';']) {
                ""
            } else {
                before
            };
            format!(
                "quote it: `{before}\"{bare}\"`; KDL reads a bare value that starts with a \
                 digit as a number, and addresses and durations are strings"
            )
        }
        _ => d.help.unwrap_or_else(|| {
            "the file must be KDL 2.0 (https://kdl.dev): strings in quotes, booleans as #true/#false"
                .to_string()
        }),
    };
    Problem {
        kind: K::Syntax,
        message: d
            .message
            .unwrap_or_else(|| "invalid KDL syntax".to_string()),
        labels: vec![(d.span, d.label.unwrap_or_else(|| "here".to_string()))],
        help: Some(help),
    }
}

/// Whether a token the KDL parser choked on is an address (`192.0.2.1/24`, `2001:db8::1`)
/// or a duration (`100ms`, `1.5s`) written without quotes.
fn unquoted_value(token: &str) -> bool {
    let Some(first) = token.chars().next() else {
        return false;
    };
    if !first.is_ascii_digit() {
        return false;
    }
    let address = token
        .chars()
        .all(|c| c.is_ascii_hexdigit() || matches!(c, '.' | ':' | '/'))
        && (token.contains(':') || token.contains('/') || token.matches('.').count() >= 2);
    let number_end = token
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(token.len());
    let (number, unit) = token.split_at(number_end);
    let duration = !unit.is_empty()
        && unit.chars().all(|c| c.is_ascii_alphabetic())
        && number.matches('.').count() <= 1
        && !number.ends_with('.');
    address || duration
}

/// One problem for a file in keepalived's language, instead of a screenful of KDL errors:
/// the first line that opens a keepalived block (`vrrp_instance VI_1 {`, `global_defs {`)
/// or includes a file (`include /etc/keepalived/*.conf`).
fn keepalived_conf(source: &str, file_name: &str) -> Option<Problem> {
    let mut offset = 0;
    let mut lines = source.split_inclusive('\n').peekable();
    while let Some(line) = lines.next() {
        let at = offset;
        offset += line.len();
        // keepalived comments start with `#` or `!`, anywhere on a line.
        let code = line
            .find(['#', '!'])
            .map_or(line, |i| &line[..i])
            .trim_end();
        let indent = code.len() - code.trim_start().len();
        let mut words = code.split_whitespace();
        let Some(keyword) = words.next() else {
            continue;
        };
        if !KEEPALIVED_TOP.contains(&keyword) {
            continue;
        }
        let rest: Vec<&str> = words.collect();
        // KDL would quote a name (`vrrp_script "chk" {`): that is a vrrp-ha file with a
        // keepalived word in it, answered by "did you mean".
        if rest
            .first()
            .is_some_and(|w| w.starts_with('"') || w.starts_with('#'))
        {
            continue;
        }
        let keepalived = if keyword == "include" {
            !rest.is_empty()
        } else {
            // The block opens on this line or, keepalived allows that too, on the next.
            rest.iter().any(|w| w.contains('{'))
                || lines
                    .peek()
                    .is_some_and(|l| l.trim_start().starts_with('{'))
        };
        if !keepalived {
            continue;
        }
        let span = Sp::new((at + indent).into(), keyword.len());
        return Some(
            Problem::new(
                K::Foreign,
                "this looks like a keepalived.conf, not a vrrp-ha configuration",
                span,
                "keepalived syntax",
            )
            .help(format!(
                "vrrp-ha reads KDL; convert the file with `vrrp-ha import {file_name}`"
            )),
        );
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unquoted_addresses_and_durations() {
        for yes in [
            "192.0.2.1/24",
            "192.0.2.1",
            "2001:db8::1",
            "2001:db8::1/64",
            "100ms",
            "1.5s",
            "30s",
        ] {
            assert!(unquoted_value(yes), "{yes}");
        }
        for no in ["1.", "1.5", "0x7f", "1e400", "", "eth0", "-1s", "1.2.s"] {
            assert!(!unquoted_value(no), "{no}");
        }
    }

    #[test]
    fn recognises_keepalived_conf() {
        let found = |src: &str| keepalived_conf(src, "k.conf").and_then(|p| p.span());
        let conf =
            "! Configuration File for keepalived\n\nvrrp_instance VI_1 {\n state MASTER\n}\n";
        let span = found(conf).expect("keepalived");
        assert_eq!(
            (span.offset(), span.len()),
            (conf.find("vrrp_instance").unwrap(), 13)
        );
        assert!(found("global_defs {\n router_id lb1\n}\n").is_some());
        assert!(found("global_defs\n{\n router_id lb1\n}\n").is_some());
        assert!(found("  vrrp_script chk_nginx { # check\n").is_some());
        assert!(found("include /etc/keepalived/conf.d/*.conf\n").is_some());
        assert!(found("vrrp_script chk { script \"/bin/true\" }\n").is_some());
        // A KDL file with a keepalived word and a quoted name is a vrrp-ha file.
        assert!(found("vrrp_script \"chk\" {\n exec \"/bin/true\"\n}\n").is_none());
        assert!(found("instance \"VI_1\" { interface \"eth0\" }\n").is_none());
        assert!(found("include\n").is_none());
        assert!(found("// vrrp_instance VI_1 {\n").is_none());
    }
}
