//! Typed values: a KDL entry read as a string, whole number, duration, address, interface
//! name, absolute path or block name, and leaf nodes (`NAME VALUE`) of each type.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use kdl::{KdlEntry, KdlNode, KdlValue};

use super::shape::{entries, for_example, single, Children};
use super::{Cx, Sp};
use crate::config::duration::{format_duration, parse_duration};
use crate::config::error::{Problem, ProblemKind as K};

/// Weights (track-interface, track-script, track-file, script) are bounded so one tracker
/// can move a priority across the whole 1..=254 range but never overflow it.
pub(super) const WEIGHT_RANGE: (i64, i64) = (-254, 254);
/// Upper bound for garp-refresh and script interval/timeout: beyond an hour it is a typo.
pub(super) const LONG_MAX: Duration = Duration::from_secs(3600);

/// "the string \"x\"", "the number 3", "#true": a value as messages show it.
fn describe(v: &KdlValue) -> String {
    match v {
        KdlValue::String(s) => format!("the string \"{}\"", s.escape_debug()),
        KdlValue::Integer(i) => format!("the number {i}"),
        KdlValue::Float(f) => format!("the number {f}"),
        KdlValue::Bool(b) => format!("#{b}"),
        KdlValue::Null => "#null".to_string(),
    }
}

/// "IPv4" or "IPv6".
pub(super) fn family(a: &IpAddr) -> &'static str {
    if a.is_ipv4() {
        "IPv4"
    } else {
        "IPv6"
    }
}

/// Reports a value of the wrong KDL type.
pub(super) fn wrong_type(cx: &mut Cx, node: &str, entry: &KdlEntry, expected: &str) {
    let mut help = for_example(node);
    if let KdlValue::String(s) = entry.value() {
        if s.parse::<i64>().is_ok() && expected.contains("number") {
            help = format!("write the number without quotes; {help}");
        }
        if matches!(s.as_str(), "true" | "false" | "yes" | "no" | "on" | "off")
            && expected.contains("boolean")
        {
            help = "KDL 2.0 booleans are written #true and #false".to_string();
        }
    }
    cx.report(
        Problem::new(
            K::WrongType,
            format!(
                "`{node}` expects {expected}, found {}",
                describe(entry.value())
            ),
            entry.span(),
            format!("expected {expected}"),
        )
        .help(help),
    );
}

/// A string value.
pub(super) fn string_of(cx: &mut Cx, node: &str, entry: &KdlEntry) -> Option<String> {
    match entry.value() {
        KdlValue::String(s) => Some(s.clone()),
        _ => {
            wrong_type(cx, node, entry, "a string");
            None
        }
    }
}

/// A whole number within `lo..=hi`.
pub(super) fn int_of(
    cx: &mut Cx,
    node: &str,
    entry: &KdlEntry,
    (lo, hi): (i64, i64),
) -> Option<i64> {
    let KdlValue::Integer(i) = entry.value() else {
        wrong_type(cx, node, entry, "a whole number");
        return None;
    };
    let i = *i;
    if i < i128::from(lo) || i > i128::from(hi) {
        cx.report(
            Problem::new(
                K::OutOfRange,
                format!("`{node}` {i} is out of range"),
                entry.span(),
                format!("must be {lo}..={hi}"),
            )
            .help(format!(
                "use a value from {lo} to {hi}; {}",
                for_example(node)
            )),
        );
        return None;
    }
    i64::try_from(i).ok()
}

/// A duration: a string such as "1.5s", or a bare number of seconds.
pub(super) fn duration_of(cx: &mut Cx, node: &str, entry: &KdlEntry) -> Option<Duration> {
    let text = match entry.value() {
        KdlValue::String(s) => s.clone(),
        // A bare number means seconds; Display of f64 is the shortest exact decimal.
        KdlValue::Integer(i) => i.to_string(),
        KdlValue::Float(f) => f.to_string(),
        _ => {
            wrong_type(cx, node, entry, "a duration");
            return None;
        }
    };
    match parse_duration(&text) {
        Ok(d) => Some(d),
        Err(e) => {
            cx.report(
                Problem::new(K::BadValue, format!("`{node}`: \"{}\" is not a duration: {e}", text.escape_debug()), entry.span(), "not a duration")
                    .help("durations look like \"10ms\", \"1s\", \"1.5s\", \"2m\" or \"1h\"; a bare number means seconds"),
            );
            None
        }
    }
}

/// A unicast IPv4 or IPv6 address, without a prefix.
pub(super) fn addr_of(cx: &mut Cx, node: &str, entry: &KdlEntry) -> Option<IpAddr> {
    let text = string_of(cx, node, entry)?;
    match text.parse::<IpAddr>() {
        Ok(a)
            if a.is_unspecified()
                || a.is_multicast()
                || a == IpAddr::from([255, 255, 255, 255]) =>
        {
            cx.report(
                Problem::new(K::BadValue, format!("`{node}`: {a} is not a unicast address"), entry.span(), "not usable here")
                    .help("use a unicast address of this network, e.g. \"192.0.2.10\" or \"2001:db8::10\""),
            );
            None
        }
        Ok(a) => Some(a),
        Err(_) => {
            let help = if text.contains('/') {
                "write the address without a /prefix here".to_string()
            } else {
                "write an IPv4 or IPv6 address in quotes, e.g. \"192.0.2.10\" or \"2001:db8::10\""
                    .to_string()
            };
            cx.report(
                Problem::new(
                    K::BadValue,
                    format!("`{node}`: \"{}\" is not an IP address", text.escape_debug()),
                    entry.span(),
                    "not an IP address",
                )
                .help(help),
            );
            None
        }
    }
}

/// A string that Linux accepts as an interface name.
pub(super) fn ifname_of(cx: &mut Cx, node: &str, entry: &KdlEntry) -> Option<String> {
    let name = string_of(cx, node, entry)?;
    let valid = !name.is_empty()
        && name.len() <= 15
        && name != "."
        && name != ".."
        && !name
            .chars()
            .any(|c| c == '/' || c == ':' || c.is_whitespace() || c.is_control());
    if valid {
        Some(name)
    } else {
        cx.report(
            Problem::new(K::BadValue, format!("\"{}\" is not a valid interface name", name.escape_debug()), entry.span(), "invalid interface name")
                .help("Linux interface names are 1 to 15 characters without '/', ':' or spaces, e.g. \"eth0\""),
        );
        None
    }
}

/// A witness's address, `"ADDR"` or `"ADDR:PORT"` (`"[V6]:PORT"`), port `default_port`
/// when omitted.
pub(super) fn socket_addr_of(
    cx: &mut Cx,
    node: &str,
    entry: &KdlEntry,
    default_port: u16,
) -> Option<SocketAddr> {
    let text = string_of(cx, node, entry)?;
    let parsed = text.parse::<SocketAddr>().ok().or_else(|| {
        text.parse::<IpAddr>()
            .ok()
            .map(|a| SocketAddr::new(a, default_port))
    });
    let bad = |cx: &mut Cx, message: String, label: &str| {
        cx.report(
            Problem::new(K::BadValue, message, entry.span(), label.to_string()).help(format!(
                "write a unicast address with an optional port in quotes, e.g. \"192.0.2.10\", \
                 \"192.0.2.10:{default_port}\" or \"[2001:db8::10]:{default_port}\""
            )),
        );
    };
    match parsed {
        Some(a) if a.port() == 0 => {
            bad(cx, format!("`{node}`: port 0 cannot be asked"), "port 0");
            None
        }
        Some(a)
            if a.ip().is_unspecified()
                || a.ip().is_multicast()
                || a.ip() == IpAddr::from([255, 255, 255, 255]) =>
        {
            bad(
                cx,
                format!("`{node}`: {} is not a unicast address", a.ip()),
                "not usable here",
            );
            None
        }
        Some(a) => Some(a),
        None => {
            bad(
                cx,
                format!(
                    "`{node}`: \"{}\" is not an address or an address:port",
                    text.escape_debug()
                ),
                "not an address",
            );
            None
        }
    }
}

/// An absolute path.
pub(super) fn path_of(cx: &mut Cx, node: &str, entry: &KdlEntry) -> Option<PathBuf> {
    let p = string_of(cx, node, entry)?;
    if p.starts_with('/') {
        Some(PathBuf::from(p))
    } else {
        cx.report(
            Problem::new(K::BadValue, format!("`{node}`: \"{}\" is not an absolute path", p.escape_debug()), entry.span(), "relative path")
                .help("the daemon's working directory is not defined: write the full path, starting with '/'"),
        );
        None
    }
}

/// The `weight=` property, or `default` without one.
pub(super) fn weight_prop(
    cx: &mut Cx,
    props: &HashMap<&str, &KdlEntry>,
    default: i32,
) -> Option<i32> {
    match props.get("weight") {
        Some(w) => int_of(cx, "weight", w, WEIGHT_RANGE).map(|w| w as i32),
        None => Some(default),
    }
}

/// A node with one value and nothing else.
pub(super) fn leaf<'a>(cx: &mut Cx, node: &'a KdlNode) -> Option<&'a KdlEntry> {
    let (args, _) = entries(cx, node, &[], Children::Forbidden);
    single(cx, node, &args)
}

/// A leaf with a non-empty string, and the span of the value.
pub(super) fn leaf_string(cx: &mut Cx, node: &KdlNode) -> Option<(String, Sp)> {
    let entry = leaf(cx, node)?;
    let s = string_of(cx, node.name().value(), entry)?;
    if s.is_empty() {
        cx.report(
            Problem::new(
                K::BadValue,
                format!("`{}` is empty", node.name().value()),
                entry.span(),
                "empty string",
            )
            .help(for_example(node.name().value())),
        );
        return None;
    }
    Some((s, entry.span()))
}

/// A leaf with a whole number within `range`, and the span of the value.
pub(super) fn leaf_int(cx: &mut Cx, node: &KdlNode, range: (i64, i64)) -> Option<(i64, Sp)> {
    let entry = leaf(cx, node)?;
    Some((int_of(cx, node.name().value(), entry, range)?, entry.span()))
}

/// A leaf with `#true` or `#false`.
pub(super) fn leaf_bool(cx: &mut Cx, node: &KdlNode) -> Option<bool> {
    let entry = leaf(cx, node)?;
    match entry.value() {
        KdlValue::Bool(b) => Some(*b),
        _ => {
            wrong_type(
                cx,
                node.name().value(),
                entry,
                "a boolean (#true or #false)",
            );
            None
        }
    }
}

/// A leaf with a duration within `min..=max`, and the span of the value.
pub(super) fn leaf_duration(
    cx: &mut Cx,
    node: &KdlNode,
    min: Duration,
    max: Duration,
) -> Option<(Duration, Sp)> {
    let entry = leaf(cx, node)?;
    let d = duration_of(cx, node.name().value(), entry)?;
    if d < min || d > max {
        let name = node.name().value();
        cx.report(
            Problem::new(
                K::OutOfRange,
                format!("`{name}` {} is out of range", format_duration(d)),
                entry.span(),
                format!(
                    "must be {}..={}",
                    format_duration(min),
                    format_duration(max)
                ),
            )
            .help(for_example(name)),
        );
        return None;
    }
    Some((d, entry.span()))
}

/// The `"NAME"` of an `instance`, `script` or `sync-group` block.
pub(super) fn block_name(cx: &mut Cx, node: &KdlNode, args: &[&KdlEntry]) -> Option<(String, Sp)> {
    let entry = single(cx, node, args)?;
    let name = string_of(cx, node.name().value(), entry)?;
    // Names end up in notify arguments, logs and D-Bus paths: keep them plain.
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if !valid {
        cx.report(
            Problem::new(
                K::BadValue,
                format!(
                    "\"{}\" is not a valid {} name",
                    name.escape_debug(),
                    node.name().value()
                ),
                entry.span(),
                "invalid name",
            )
            .help("names are 1 to 64 characters: letters, digits, '_', '-' and '.', e.g. \"VI_1\""),
        );
        return None;
    }
    Some((name, entry.span()))
}
