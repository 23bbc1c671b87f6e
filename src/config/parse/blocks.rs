//! The blocks beside `instance`: `script`, `sync-group`, the hook blocks (`on-master`, ...)
//! with their actions, the `exec` argv they share, and `virtual-ip`.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use kdl::{KdlDocument, KdlNode};

use super::shape::{entries, for_example, has_child, single, unknown_node, Children, Seen};
use super::values::{
    block_name, family, ifname_of, leaf, leaf_duration, leaf_int, leaf_string, path_of, string_of,
    LONG_MAX, WEIGHT_RANGE,
};
use super::{Cx, Sp};
use crate::config::error::{Problem, ProblemKind as K};
use crate::config::model::*;
use crate::config::schema::{Block, Count, HookNode, ScriptNode, SyncGroupNode};

/// Shortest script interval/timeout worth scheduling.
const SHORT_MIN: Duration = Duration::from_millis(10);
/// rise/fall counts.
const COUNT_RANGE: (i64, i64) = (1, 100);

/// A parsed sync group, the span of its name, and its members with their spans.
pub(super) struct GroupDraft {
    pub(super) group: SyncGroup,
    pub(super) name_span: Sp,
    pub(super) members: Vec<(String, Sp)>,
}

/// `virtual-ip "ADDRESS[/PREFIX]" dev= label=`: a unicast address, its prefix and options.
pub(super) fn virtual_ip(cx: &mut Cx, node: &KdlNode) -> Option<(VirtualIp, Sp)> {
    let name = node.name().value();
    let (args, props) = entries(cx, node, &["dev", "label"], Children::Forbidden);
    let entry = single(cx, node, &args)?;
    let text = string_of(cx, name, entry)?;
    let span = entry.span();
    let (addr_text, prefix_text) = match text.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (text.as_str(), None),
    };
    let Ok(addr) = addr_text.parse::<IpAddr>() else {
        cx.report(
            Problem::new(
                K::BadValue,
                format!("\"{}\" is not an IP address", text.escape_debug()),
                span,
                "not ADDRESS/PREFIX",
            )
            .help("write \"ADDRESS/PREFIX\", e.g. \"192.0.2.200/24\" or \"2001:db8::200/64\""),
        );
        return None;
    };
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix_text {
        None => max,
        Some(p) => match p.parse::<u8>() {
            Ok(p) if p <= max => p,
            _ => {
                cx.report(
                    Problem::new(
                        K::OutOfRange,
                        format!(
                            "\"/{}\" is not a valid {} prefix length",
                            p.escape_debug(),
                            family(&addr)
                        ),
                        span,
                        format!("prefix must be 0..={max}"),
                    )
                    .help(format!(
                        "{} prefixes are 0 to {max}; omit it for /{max}",
                        family(&addr)
                    )),
                );
                return None;
            }
        },
    };
    if addr.is_unspecified()
        || addr.is_multicast()
        || addr.is_loopback()
        || addr == IpAddr::from([255, 255, 255, 255])
    {
        cx.report(
            Problem::new(
                K::BadValue,
                format!("{addr} cannot be a virtual IP"),
                span,
                "not a unicast address",
            )
            .help("a virtual IP is a unicast address clients connect to, e.g. \"192.0.2.200/24\""),
        );
        return None;
    }
    let dev = match props.get("dev") {
        Some(e) => Some(ifname_of(cx, "dev", e)?),
        None => None,
    };
    let label = match props.get("label") {
        Some(e) => {
            let label = string_of(cx, "label", e)?;
            if addr.is_ipv6() {
                cx.report(
                    Problem::new(
                        K::Conflict,
                        "IPv6 addresses have no labels",
                        e.span(),
                        "IPv4 only",
                    )
                    .help("remove `label=`: Linux labels only IPv4 addresses"),
                );
                return None;
            }
            if label.is_empty() || label.len() > 15 {
                cx.report(
                    Problem::new(
                        K::OutOfRange,
                        format!("label \"{}\" is not 1 to 15 bytes", label.escape_debug()),
                        e.span(),
                        "invalid label",
                    )
                    .help("Linux address labels are at most 15 bytes, e.g. \"eth0:vip\""),
                );
                return None;
            }
            Some(label)
        }
        None => None,
    };
    Some((
        VirtualIp {
            addr,
            prefix,
            dev,
            label,
        },
        span,
    ))
}

/// `on-master { ... }` and the other hook blocks: the unit and `exec` actions, in order.
pub(super) fn hook_block(cx: &mut Cx, node: &KdlNode) -> Vec<HookAction> {
    let (args, _) = entries(cx, node, &[], Children::Required);
    if let Some(first) = args.first() {
        cx.report(
            Problem::new(
                K::Shape,
                format!("`{}` takes no values, only a block", node.name().value()),
                first.span(),
                "unexpected value",
            )
            .help(for_example(node.name().value())),
        );
    }
    let mut actions = Vec::new();
    let Some(children) = node.children() else {
        return actions;
    };
    for child in children.nodes() {
        let Some(action) = HookNode::from_name(child.name().value()) else {
            unknown_node(cx, child, Block::Hook);
            continue;
        };
        match action {
            HookNode::Start | HookNode::Stop | HookNode::Restart | HookNode::Reload => {
                let Some((unit, span)) = leaf_string(cx, child) else {
                    continue;
                };
                if !unit.contains('.') || unit.contains('/') || unit.starts_with('.') {
                    cx.report(
                        Problem::new(
                            K::BadValue,
                            format!("\"{}\" is not a systemd unit name", unit.escape_debug()),
                            span,
                            "no unit type",
                        )
                        .help(format!(
                            "systemd needs the full unit name: did you mean \"{}.service\"?",
                            unit.trim_matches('.').replace('/', "-")
                        )),
                    );
                    continue;
                }
                actions.push(match action {
                    HookNode::Start => HookAction::Start(unit),
                    HookNode::Stop => HookAction::Stop(unit),
                    HookNode::Restart => HookAction::Restart(unit),
                    _ => HookAction::Reload(unit),
                });
            }
            HookNode::Exec => {
                if let Some(argv) = argv(cx, child) {
                    actions.push(HookAction::Exec(argv));
                }
            }
        }
    }
    actions
}

/// `exec "PROGRAM" "ARG"...`: one or more strings, the program non-empty and not a whole
/// command line.
pub(super) fn argv(cx: &mut Cx, node: &KdlNode) -> Option<Vec<String>> {
    let name = node.name().value();
    let (args, _) = entries(cx, node, &[], Children::Forbidden);
    if args.is_empty() {
        cx.report(
            Problem::new(
                K::Shape,
                format!("`{name}` needs a program to run"),
                node.name().span(),
                "no program",
            )
            .help(for_example(name)),
        );
        return None;
    }
    let mut argv = Vec::new();
    let mut ok = true;
    for e in &args {
        match string_of(cx, name, e) {
            Some(s) => argv.push(s),
            None => ok = false,
        }
    }
    if ok && argv[0].is_empty() {
        cx.report(
            Problem::new(
                K::BadValue,
                "the program to run is empty",
                args[0].span(),
                "empty",
            )
            .help(for_example(name)),
        );
        return None;
    }
    if ok && whole_command(&argv[0]) {
        cx.report(
            Problem::new(
                K::BadValue,
                format!(
                    "the program \"{}\" contains spaces and is not a file",
                    argv[0].escape_debug()
                ),
                args[0].span(),
                "a whole command in one string",
            )
            .help(split_argv(name, &argv)),
        );
        return None;
    }
    ok.then_some(argv)
}

/// Whether `program` is a whole command line rather than a program: it has whitespace and
/// names no file (the way the runner would look for it: a path, or a name in PATH). Run as
/// given, it would fail at every run, and a tracked script would lower the priority forever.
fn whole_command(program: &str) -> bool {
    if !program.chars().any(char::is_whitespace) {
        return false;
    }
    if program.contains('/') {
        return !Path::new(program).exists();
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| DEFAULT_PATH.into());
    !std::env::split_paths(&path).any(|dir| dir.is_absolute() && dir.join(program).is_file())
}

/// The PATH a daemon started without one gets (systemd's default).
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The help for [`whole_command`]: the argv split as a shell would split it, or `/bin/sh -c`
/// when the command needs a shell (pipes, redirections, variables, ...).
fn split_argv(node: &str, argv: &[String]) -> String {
    let needs_shell = argv[0].contains(['|', '&', ';', '<', '>', '(', ')', '$', '`', '*', '?']);
    let words = match shlex::split(&argv[0]) {
        Some(words) if !needs_shell && !words.is_empty() => words,
        _ => {
            return format!(
                "this command needs a shell; run one: `{node} \"/bin/sh\" \"-c\" {}`",
                crate::config::kdl_string(&argv[0])
            )
        }
    };
    let split: Vec<String> = words
        .iter()
        .chain(&argv[1..])
        .map(|w| crate::config::kdl_string(w))
        .collect();
    format!(
        "each argument is a string of its own: `{node} {}`",
        split.join(" ")
    )
}

/// `script "NAME" { ... }`, with defaults filled in, and the span of its name.
pub(super) fn script(cx: &mut Cx, node: &KdlNode) -> Option<(Script, Sp)> {
    let (args, _) = entries(cx, node, &[], Children::Required);
    let named = block_name(cx, node, &args);
    let (name, name_span) = named
        .clone()
        .unwrap_or_else(|| (String::new(), node.name().span()));
    let mut seen = Seen::default();
    let (mut exec, mut interval, mut timeout, mut rise, mut fall, mut weight, mut user) =
        (None, None, None, None, None, None, None);
    let no_children = KdlDocument::new();
    for child in node.children().unwrap_or(&no_children).nodes() {
        let Some(n) = ScriptNode::from_name(child.name().value()) else {
            unknown_node(cx, child, Block::Script);
            continue;
        };
        if n.info().count == Count::Once && !seen.first(cx, child) {
            continue;
        }
        match n {
            ScriptNode::Exec => exec = argv(cx, child),
            ScriptNode::Interval => {
                interval = leaf_duration(cx, child, SHORT_MIN, LONG_MAX).map(|v| v.0)
            }
            ScriptNode::Timeout => {
                timeout = leaf_duration(cx, child, SHORT_MIN, LONG_MAX).map(|v| v.0)
            }
            ScriptNode::Rise => rise = leaf_int(cx, child, COUNT_RANGE).map(|v| v.0 as u32),
            ScriptNode::Fall => fall = leaf_int(cx, child, COUNT_RANGE).map(|v| v.0 as u32),
            ScriptNode::Weight => weight = leaf_int(cx, child, WEIGHT_RANGE).map(|v| v.0 as i32),
            ScriptNode::User => user = leaf_string(cx, child).map(|v| v.0),
        }
    }
    let exec_name = ScriptNode::Exec.name();
    if named.is_some() && exec.is_none() && !has_child(node, exec_name) {
        cx.report(
            Problem::new(
                K::Missing,
                format!("script `{name}` has no `exec`"),
                name_span,
                "`exec` missing",
            )
            .help(format!(
                "a script needs a command to run, {}",
                for_example(exec_name)
            )),
        );
    }
    let interval = interval.unwrap_or(Duration::from_secs(1));
    named?;
    Some((
        Script {
            name,
            exec: exec.unwrap_or_default(),
            interval,
            timeout: timeout.unwrap_or(interval),
            rise: rise.unwrap_or(1),
            fall: fall.unwrap_or(1),
            weight: weight.unwrap_or(0),
            user,
        },
        name_span,
    ))
}

/// `sync-group "NAME" { ... }`; its members are checked against the instances later.
pub(super) fn sync_group(cx: &mut Cx, node: &KdlNode) -> Option<GroupDraft> {
    let (args, _) = entries(cx, node, &[], Children::Required);
    let named = block_name(cx, node, &args);
    let (name, name_span) = named
        .clone()
        .unwrap_or_else(|| (String::new(), node.name().span()));
    let mut group = SyncGroup {
        name,
        instances: Vec::new(),
        notify: None,
        hooks: Hooks::default(),
    };
    let mut members = Vec::new();
    let mut seen = Seen::default();
    let no_children = KdlDocument::new();
    for child in node.children().unwrap_or(&no_children).nodes() {
        let child_name = child.name().value();
        let Some(n) = SyncGroupNode::from_name(child_name) else {
            unknown_node(cx, child, Block::SyncGroup);
            continue;
        };
        if n.info().count == Count::Once && !seen.first(cx, child) {
            continue;
        }
        match n {
            SyncGroupNode::Instances => {
                let (args, _) = entries(cx, child, &[], Children::Forbidden);
                if args.is_empty() {
                    cx.report(
                        Problem::new(
                            K::Shape,
                            "`instances` needs at least one instance name",
                            child.name().span(),
                            "no names",
                        )
                        .help(for_example(child_name)),
                    );
                }
                for e in args {
                    if let Some(m) = string_of(cx, child_name, e) {
                        members.push((m, e.span()));
                    }
                }
            }
            SyncGroupNode::Notify => {
                if let Some(e) = leaf(cx, child) {
                    group.notify = path_of(cx, child_name, e);
                }
            }
            SyncGroupNode::OnMaster => group.hooks.on_master = hook_block(cx, child),
            SyncGroupNode::OnBackup => group.hooks.on_backup = hook_block(cx, child),
            SyncGroupNode::OnFault => group.hooks.on_fault = hook_block(cx, child),
            SyncGroupNode::OnStop => group.hooks.on_stop = hook_block(cx, child),
        }
    }
    let instances = SyncGroupNode::Instances.name();
    if named.is_some() && !has_child(node, instances) {
        cx.report(
            Problem::new(
                K::Missing,
                format!("sync-group `{}` has no `instances`", group.name),
                name_span,
                "`instances` missing",
            )
            .help(format!(
                "list the member instances, {}",
                for_example(instances)
            )),
        );
    }
    group.instances = members.iter().map(|(m, _)| m.clone()).collect();
    named?;
    Some(GroupDraft {
        group,
        name_span,
        members,
    })
}

/// `metrics listen="ADDRESS:PORT"`: serve `/metrics` there (loopback by default).
pub(super) fn metrics(cx: &mut Cx, node: &KdlNode) -> Option<Metrics> {
    let (args, props) = entries(cx, node, &["listen"], Children::Forbidden);
    if let Some(extra) = args.first() {
        cx.report(
            Problem::new(
                K::Shape,
                "`metrics` takes no value",
                extra.span(),
                "unexpected value",
            )
            .help(format!(
                "give the address as `listen=`; {}",
                for_example("metrics")
            )),
        );
        return None;
    }
    let Some(entry) = props.get("listen") else {
        return Some(Metrics {
            listen: Metrics::DEFAULT_LISTEN.parse().ok()?,
        });
    };
    let text = string_of(cx, "listen", entry)?;
    match text.parse::<SocketAddr>() {
        Ok(listen) if listen.port() != 0 => Some(Metrics { listen }),
        _ => {
            cx.report(
                Problem::new(
                    K::BadValue,
                    format!("`listen`: \"{}\" is not ADDRESS:PORT", text.escape_debug()),
                    entry.span(),
                    "not an address and port",
                )
                .help(
                    "write an address and a port other than 0, e.g. \"127.0.0.1:9650\" or \"[::1]:9650\"",
                ),
            );
            None
        }
    }
}
