//! KDL document -> [`Config`]: shape and type checks per node, then cross-checks,
//! collecting every problem instead of stopping at the first.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use kdl::{KdlDocument, KdlEntry, KdlNode, KdlValue};
use miette::SourceSpan;

use super::duration::parse_duration;
use super::error::{ConfigError, Problem, ProblemKind as K};
use super::model::*;
use super::schema::{self, did_you_mean, example, home_of, Block};
use crate::core::packet::{ChecksumMode, Version};

type Sp = SourceSpan;

/// Larger inputs are refused before parsing: the KDL parser is slow on megabytes of input.
const MAX_SOURCE_LEN: usize = 1 << 20;
/// Weights (track-interface, track-script, track-file, script) are bounded so one tracker
/// can move a priority across the whole 1..=254 range but never overflow it.
const WEIGHT_RANGE: (i64, i64) = (-254, 254);
/// Gratuitous ARP / NA bursts beyond this are a flood, not an announcement.
const GARP_REPEAT_MAX: i64 = 100;
/// keepalived caps preempt_delay at 1000 s; so do we.
const PREEMPT_DELAY_MAX: Duration = Duration::from_secs(1000);
/// Upper bound for garp-refresh and script interval/timeout: beyond an hour it is a typo.
const LONG_MAX: Duration = Duration::from_secs(3600);
/// Shortest script interval/timeout worth scheduling.
const SHORT_MIN: Duration = Duration::from_millis(10);
/// rise/fall counts.
const COUNT_RANGE: (i64, i64) = (1, 100);

/// Parses and validates a KDL 2.0 configuration; `file_name` is only used in diagnostics.
pub fn parse_str(source: &str, file_name: &str) -> Result<Config, ConfigError> {
    if source.len() > MAX_SOURCE_LEN {
        let problem = Problem::new(
            K::Syntax,
            format!("the file is {} bytes long", source.len()),
            Sp::new(MAX_SOURCE_LEN.into(), 0),
            "the limit is 1 MiB",
        )
        .help("a vrrp-ha configuration is a few kilobytes; is this the right file?");
        return Err(error(file_name, source, vec![problem]));
    }
    if let Some(span) = super::nesting::too_deep(source) {
        let problem = Problem::new(
            K::Syntax,
            "blocks or comments are nested too deeply",
            span,
            "too deep",
        )
        .help(format!(
            "configs nest at most 3 blocks (instance > on-master > action); the limit is {}",
            super::nesting::MAX_DEPTH
        ));
        return Err(error(file_name, source, vec![problem]));
    }
    let doc = match KdlDocument::parse_v2(source) {
        Ok(doc) => doc,
        Err(err) => {
            let problems = err
                .diagnostics
                .into_iter()
                .map(|d| syntax_problem(source, d))
                .collect();
            return Err(error(file_name, source, problems));
        }
    };
    let mut cx = Cx::default();
    let config = cx.document(&doc);
    if cx.problems.is_empty() {
        Ok(config)
    } else {
        Err(error(file_name, source, cx.problems))
    }
}

/// A KDL parse error as a [`Problem`], with a help line for the usual KDL 1 habits.
fn syntax_problem(source: &str, d: kdl::KdlDiagnostic) -> Problem {
    let text = source
        .get(d.span.offset()..d.span.offset() + d.span.len())
        .unwrap_or("");
    let help = match text.trim() {
        "true" | "false" => format!("KDL 2.0 writes booleans with a #: `#{}`", text.trim()),
        "null" => "KDL 2.0 writes null as `#null`".to_string(),
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

fn error(file_name: &str, source: &str, mut problems: Vec<Problem>) -> ConfigError {
    // File order reads best; the sort is stable so problems at one spot keep their order.
    problems.sort_by_key(|p| p.span().map_or(0, |s| s.offset()));
    ConfigError::new(file_name, source, problems)
}

/// The span covering `a` through `b`.
fn join(a: Sp, b: Sp) -> Sp {
    let start = a.offset().min(b.offset());
    let end = (a.offset() + a.len()).max(b.offset() + b.len());
    Sp::new(start.into(), end - start)
}

/// A node's name and values, without its children or trailing whitespace.
fn head(node: &KdlNode) -> Sp {
    match node.entries().last() {
        Some(last) => join(node.name().span(), last.span()),
        None => node.name().span(),
    }
}

fn describe(v: &KdlValue) -> String {
    match v {
        KdlValue::String(s) => format!("the string \"{}\"", s.escape_debug()),
        KdlValue::Integer(i) => format!("the number {i}"),
        KdlValue::Float(f) => format!("the number {f}"),
        KdlValue::Bool(b) => format!("#{b}"),
        KdlValue::Null => "#null".to_string(),
    }
}

fn family(a: &IpAddr) -> &'static str {
    if a.is_ipv4() {
        "IPv4"
    } else {
        "IPv6"
    }
}

fn for_example(node: &str) -> String {
    match example(node) {
        Some(e) => format!("for example: `{e}`"),
        None => String::new(),
    }
}

/// Remembers which once-only nodes a block has seen.
#[derive(Default)]
struct Seen(HashMap<String, Sp>);

impl Seen {
    /// True the first time; reports a duplicate afterwards.
    fn first(&mut self, cx: &mut Cx, node: &KdlNode) -> bool {
        let name = node.name().value();
        match self.0.get(name) {
            Some(first) => {
                cx.report(
                    Problem::new(
                        K::Duplicate,
                        format!("`{name}` is set twice"),
                        head(node),
                        "set again here",
                    )
                    .also(*first, "first set here")
                    .help(format!(
                        "`{name}` may appear only once in a block; keep one of them"
                    )),
                );
                false
            }
            None => {
                self.0.insert(name.to_string(), head(node));
                true
            }
        }
    }
}

/// Whether a node may (must) have a `{ ... }` block.
#[derive(Copy, Clone, PartialEq, Eq)]
enum Children {
    Forbidden,
    Required,
}

/// A parsed sync group, the span of its name, and its members with their spans.
type GroupDraft = (SyncGroup, Sp, Vec<(String, Sp)>);

/// An instance while being parsed, with the spans the cross-checks point at.
struct InstanceDraft {
    name: String,
    name_span: Sp,
    interface: Option<(String, Sp)>,
    vrid: Option<(u8, Sp)>,
    priority: Option<u8>,
    version: Option<(Version, Sp)>,
    advert_interval: Option<(Duration, Sp)>,
    preempt: Option<bool>,
    preempt_delay: Option<Duration>,
    accept: Option<bool>,
    authentication: Option<(String, Sp)>,
    vips: Vec<(VirtualIp, Sp)>,
    unicast_source: Option<(IpAddr, Sp)>,
    peers: Vec<(IpAddr, Sp)>,
    track_interfaces: Vec<TrackInterface>,
    track_scripts: Vec<(TrackScript, Sp)>,
    track_files: Vec<TrackFile>,
    garp_repeat: Option<u32>,
    garp_refresh: Option<Duration>,
    use_vmac: Option<bool>,
    v3_checksum: Option<ChecksumMode>,
    notify: Option<PathBuf>,
    hooks: Hooks,
}

#[derive(Default)]
struct Cx {
    problems: Vec<Problem>,
}

impl Cx {
    fn report(&mut self, p: Problem) {
        self.problems.push(p);
    }

    fn document(&mut self, doc: &KdlDocument) -> Config {
        let mut config = Config {
            router_id: None,
            instances: Vec::new(),
            scripts: Vec::new(),
            sync_groups: Vec::new(),
        };
        if doc.nodes().is_empty() {
            self.report(
                Problem::new(
                    K::Empty,
                    "the configuration is empty",
                    Sp::new(0.into(), 0),
                    "no nodes in this file",
                )
                .help(format!(
                    "define at least one instance, {}",
                    for_example("instance")
                )),
            );
            return config;
        }
        let mut seen = Seen::default();
        let mut instances: Vec<(InstanceDraft, Sp)> = Vec::new();
        let mut scripts: Vec<(Script, Sp)> = Vec::new();
        let mut groups: Vec<GroupDraft> = Vec::new();
        for node in doc.nodes() {
            match node.name().value() {
                "router-id" => {
                    if seen.first(self, node) {
                        if let Some((id, _)) = self.leaf_string(node) {
                            config.router_id = Some(id);
                        }
                    }
                }
                "instance" => {
                    if let Some(d) = self.instance(node) {
                        instances.push((d, head(node)));
                    }
                }
                "script" => {
                    if let Some(s) = self.script(node) {
                        scripts.push(s);
                    }
                }
                "sync-group" => {
                    if let Some(g) = self.sync_group(node) {
                        groups.push(g);
                    }
                }
                _ => self.unknown_node(node, Block::Top),
            }
        }
        if instances.is_empty() && !doc.nodes().iter().any(|n| n.name().value() == "instance") {
            self.report(
                Problem::new(
                    K::Empty,
                    "no `instance` is defined",
                    doc.nodes()[0].name().span(),
                    "the file starts here",
                )
                .help(format!(
                    "a configuration needs at least one instance, {}",
                    for_example("instance")
                )),
            );
        }
        self.cross_check(&instances, &scripts, &groups);
        config.scripts = scripts.into_iter().map(|(s, _)| s).collect();
        config.sync_groups = groups.into_iter().map(|(g, _, _)| g).collect();
        config.instances = instances
            .into_iter()
            .filter_map(|(d, _)| finish(d))
            .collect();
        config
    }

    /// Checks between blocks: unique names, unique (interface, vrid, family), references.
    fn cross_check(
        &mut self,
        instances: &[(InstanceDraft, Sp)],
        scripts: &[(Script, Sp)],
        groups: &[GroupDraft],
    ) {
        self.unique_names(
            "instance",
            instances
                .iter()
                .map(|(d, _)| (d.name.as_str(), d.name_span)),
        );
        self.unique_names(
            "script",
            scripts.iter().map(|(s, sp)| (s.name.as_str(), *sp)),
        );
        self.unique_names(
            "sync-group",
            groups.iter().map(|(g, sp, _)| (g.name.as_str(), *sp)),
        );

        let mut routers: HashMap<(String, u8, bool), (Sp, &str)> = HashMap::new();
        for (d, _) in instances {
            let (Some((ifname, _)), Some((vrid, vrid_span)), Some((vip, _))) =
                (&d.interface, &d.vrid, d.vips.first())
            else {
                continue;
            };
            let key = (ifname.clone(), *vrid, vip.addr.is_ipv6());
            if let Some((first, other)) = routers.get(&key) {
                self.report(
                    Problem::new(
                        K::Conflict,
                        format!(
                            "instances `{other}` and `{}` are the same virtual router: {} vrid {vrid} on `{ifname}`",
                            d.name,
                            family(&vip.addr)
                        ),
                        *vrid_span,
                        "this vrid",
                    )
                    .also(*first, "is already used here")
                    .help("each instance needs its own vrid on an interface (per address family); pick another vrid"),
                );
            } else {
                routers.insert(key, (*vrid_span, d.name.as_str()));
            }
        }

        let script_names: Vec<&str> = scripts.iter().map(|(s, _)| s.name.as_str()).collect();
        for (d, _) in instances {
            for (t, span) in &d.track_scripts {
                if !script_names.contains(&t.name.as_str()) {
                    self.report(undefined("script", &t.name, *span, &script_names));
                }
            }
        }

        let instance_names: Vec<&str> = instances.iter().map(|(d, _)| d.name.as_str()).collect();
        let mut member_of: HashMap<&str, (&str, Sp)> = HashMap::new();
        for (g, _, members) in groups {
            let mut here: HashMap<&str, Sp> = HashMap::new();
            for (m, span) in members {
                if !instance_names.contains(&m.as_str()) {
                    self.report(undefined("instance", m, *span, &instance_names));
                    continue;
                }
                if let Some(first) = here.get(m.as_str()) {
                    self.report(
                        Problem::new(
                            K::Duplicate,
                            format!("`{m}` is listed twice in sync-group `{}`", g.name),
                            *span,
                            "again here",
                        )
                        .also(*first, "first listed here")
                        .help("list each instance once"),
                    );
                    continue;
                }
                here.insert(m, *span);
                if let Some((other, first)) = member_of.get(m.as_str()) {
                    self.report(
                        Problem::new(
                            K::Conflict,
                            format!("instance `{m}` is in two sync groups: `{other}` and `{}`", g.name),
                            *span,
                            "second group",
                        )
                        .also(*first, "first group")
                        .help("an instance can follow only one sync group; remove it from one of them"),
                    );
                } else {
                    member_of.insert(m, (g.name.as_str(), *span));
                }
            }
        }
    }

    fn unique_names<'a>(&mut self, what: &str, names: impl Iterator<Item = (&'a str, Sp)>) {
        let mut seen: HashMap<&str, Sp> = HashMap::new();
        for (name, span) in names {
            if let Some(first) = seen.get(name) {
                self.report(
                    Problem::new(
                        K::Duplicate,
                        format!("two {what}s are named `{name}`"),
                        span,
                        "second definition",
                    )
                    .also(*first, "first definition")
                    .help(format!("{what} names must be unique; rename one of them")),
                );
            } else {
                seen.insert(name, span);
            }
        }
    }

    fn unknown_node(&mut self, node: &KdlNode, block: Block) {
        let name = node.name().value();
        let span = node.name().span();
        let help = if let Some(s) = did_you_mean(name, block.names()) {
            format!("did you mean `{s}`?")
        } else if let Some(home) = home_of(name, block) {
            format!(
                "`{name}` is not valid {} but {}",
                block.describe(),
                home.describe()
            )
        } else {
            format!("valid {}: {}", block.describe(), quoted_list(block.names()))
        };
        self.report(
            Problem::new(
                K::UnknownNode,
                format!("unknown node `{name}` {}", block.describe()),
                span,
                "unknown node",
            )
            .help(help),
        );
    }

    /// Common shape checks; returns the positional values and the properties.
    fn entries<'a>(
        &mut self,
        node: &'a KdlNode,
        props_allowed: &[&str],
        children: Children,
    ) -> (Vec<&'a KdlEntry>, HashMap<&'a str, &'a KdlEntry>) {
        let name = node.name().value();
        if let Some(ty) = node.ty() {
            self.report(
                Problem::new(
                    K::Shape,
                    format!("type annotation on `{name}`"),
                    ty.span(),
                    "not used",
                )
                .help("vrrp-ha does not use KDL type annotations; remove the `(...)`"),
            );
        }
        match (children, node.children()) {
            (Children::Forbidden, Some(block)) => self.report(
                Problem::new(
                    K::Shape,
                    format!("`{name}` does not take a `{{ ... }}` block"),
                    block.span(),
                    "unexpected block",
                )
                .help(format!("remove the braces; {}", for_example(name))),
            ),
            (Children::Required, None) => self.report(
                Problem::new(
                    K::Shape,
                    format!("`{name}` needs a `{{ ... }}` block"),
                    head(node),
                    "no block",
                )
                .help(for_example(name)),
            ),
            _ => {}
        }
        let mut args = Vec::new();
        let mut props: HashMap<&'a str, &'a KdlEntry> = HashMap::new();
        for entry in node.entries() {
            if let Some(ty) = entry.ty() {
                self.report(
                    Problem::new(
                        K::Shape,
                        "type annotation on a value",
                        ty.span(),
                        "not used",
                    )
                    .help("vrrp-ha does not use KDL type annotations; remove the `(...)`"),
                );
            }
            let Some(key) = entry.name() else {
                args.push(entry);
                continue;
            };
            let key_name = key.value();
            if !props_allowed.contains(&key_name) {
                let help = if props_allowed.is_empty() {
                    format!("`{name}` takes no properties; {}", for_example(name))
                } else if let Some(s) = did_you_mean(key_name, props_allowed) {
                    format!("did you mean `{s}`?")
                } else {
                    format!("`{name}` accepts {}", quoted_list(props_allowed))
                };
                self.report(
                    Problem::new(
                        K::UnknownProperty,
                        format!("unknown property `{key_name}` on `{name}`"),
                        entry.span(),
                        "unknown property",
                    )
                    .help(help),
                );
                continue;
            }
            if let Some(first) = props.get(key_name) {
                self.report(
                    Problem::new(
                        K::Duplicate,
                        format!("property `{key_name}` is given twice"),
                        entry.span(),
                        "again here",
                    )
                    .also(first.span(), "first here")
                    .help(format!("give `{key_name}=` once")),
                );
                continue;
            }
            props.insert(key_name, entry);
        }
        (args, props)
    }

    /// Exactly one positional value, reported otherwise.
    fn single<'a>(&mut self, node: &'a KdlNode, args: &[&'a KdlEntry]) -> Option<&'a KdlEntry> {
        let name = node.name().value();
        match args {
            [one] => Some(one),
            [] => {
                self.report(
                    Problem::new(
                        K::Shape,
                        format!("`{name}` needs a value"),
                        node.name().span(),
                        "no value",
                    )
                    .help(for_example(name)),
                );
                None
            }
            [_, rest @ ..] => {
                let extra = match (rest.first(), rest.last()) {
                    (Some(a), Some(b)) => join(a.span(), b.span()),
                    _ => node.name().span(),
                };
                self.report(
                    Problem::new(
                        K::Shape,
                        format!("`{name}` takes exactly one value"),
                        extra,
                        "extra values",
                    )
                    .help(for_example(name)),
                );
                None
            }
        }
    }

    fn wrong_type(&mut self, node: &str, entry: &KdlEntry, expected: &str) {
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
        self.report(
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

    fn string_of(&mut self, node: &str, entry: &KdlEntry) -> Option<String> {
        match entry.value() {
            KdlValue::String(s) => Some(s.clone()),
            _ => {
                self.wrong_type(node, entry, "a string");
                None
            }
        }
    }

    fn int_of(&mut self, node: &str, entry: &KdlEntry, (lo, hi): (i64, i64)) -> Option<i64> {
        let KdlValue::Integer(i) = entry.value() else {
            self.wrong_type(node, entry, "a whole number");
            return None;
        };
        let i = *i;
        if i < i128::from(lo) || i > i128::from(hi) {
            self.report(
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

    fn duration_of(&mut self, node: &str, entry: &KdlEntry) -> Option<Duration> {
        let text = match entry.value() {
            KdlValue::String(s) => s.clone(),
            // A bare number means seconds; Display of f64 is the shortest exact decimal.
            KdlValue::Integer(i) => i.to_string(),
            KdlValue::Float(f) => f.to_string(),
            _ => {
                self.wrong_type(node, entry, "a duration");
                return None;
            }
        };
        match parse_duration(&text) {
            Ok(d) => Some(d),
            Err(e) => {
                self.report(
                    Problem::new(K::BadValue, format!("`{node}`: \"{}\" is not a duration: {e}", text.escape_debug()), entry.span(), "not a duration")
                        .help("durations look like \"10ms\", \"1s\", \"1.5s\", \"2m\" or \"1h\"; a bare number means seconds"),
                );
                None
            }
        }
    }

    fn addr_of(&mut self, node: &str, entry: &KdlEntry) -> Option<IpAddr> {
        let text = self.string_of(node, entry)?;
        match text.parse::<IpAddr>() {
            Ok(a)
                if a.is_unspecified()
                    || a.is_multicast()
                    || a == IpAddr::from([255, 255, 255, 255]) =>
            {
                self.report(
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
                    "write an IPv4 or IPv6 address in quotes, e.g. \"192.0.2.10\" or \"2001:db8::10\"".to_string()
                };
                self.report(
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

    fn ifname_of(&mut self, node: &str, entry: &KdlEntry) -> Option<String> {
        let name = self.string_of(node, entry)?;
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
            self.report(
                Problem::new(K::BadValue, format!("\"{}\" is not a valid interface name", name.escape_debug()), entry.span(), "invalid interface name")
                    .help("Linux interface names are 1 to 15 characters without '/', ':' or spaces, e.g. \"eth0\""),
            );
            None
        }
    }

    fn path_of(&mut self, node: &str, entry: &KdlEntry) -> Option<PathBuf> {
        let p = self.string_of(node, entry)?;
        if p.starts_with('/') {
            Some(PathBuf::from(p))
        } else {
            self.report(
                Problem::new(K::BadValue, format!("`{node}`: \"{}\" is not an absolute path", p.escape_debug()), entry.span(), "relative path")
                    .help("the daemon's working directory is not defined: write the full path, starting with '/'"),
            );
            None
        }
    }

    /// A node with one value and nothing else.
    fn leaf<'a>(&mut self, node: &'a KdlNode) -> Option<&'a KdlEntry> {
        let (args, _) = self.entries(node, &[], Children::Forbidden);
        self.single(node, &args)
    }

    fn leaf_string(&mut self, node: &KdlNode) -> Option<(String, Sp)> {
        let entry = self.leaf(node)?;
        let s = self.string_of(node.name().value(), entry)?;
        if s.is_empty() {
            self.report(
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

    fn leaf_int(&mut self, node: &KdlNode, range: (i64, i64)) -> Option<(i64, Sp)> {
        let entry = self.leaf(node)?;
        Some((
            self.int_of(node.name().value(), entry, range)?,
            entry.span(),
        ))
    }

    fn leaf_bool(&mut self, node: &KdlNode) -> Option<bool> {
        let entry = self.leaf(node)?;
        match entry.value() {
            KdlValue::Bool(b) => Some(*b),
            _ => {
                self.wrong_type(node.name().value(), entry, "a boolean (#true or #false)");
                None
            }
        }
    }

    fn leaf_duration(
        &mut self,
        node: &KdlNode,
        min: Duration,
        max: Duration,
    ) -> Option<(Duration, Sp)> {
        let entry = self.leaf(node)?;
        let d = self.duration_of(node.name().value(), entry)?;
        if d < min || d > max {
            let name = node.name().value();
            self.report(
                Problem::new(
                    K::OutOfRange,
                    format!(
                        "`{name}` {} is out of range",
                        super::duration::format_duration(d)
                    ),
                    entry.span(),
                    format!(
                        "must be {}..={}",
                        super::duration::format_duration(min),
                        super::duration::format_duration(max)
                    ),
                )
                .help(for_example(name)),
            );
            return None;
        }
        Some((d, entry.span()))
    }

    /// The `"NAME"` of an `instance`, `script` or `sync-group` block.
    fn block_name(&mut self, node: &KdlNode, args: &[&KdlEntry]) -> Option<(String, Sp)> {
        let entry = self.single(node, args)?;
        let name = self.string_of(node.name().value(), entry)?;
        // Names end up in notify arguments, logs and D-Bus paths: keep them plain.
        let valid = !name.is_empty()
            && name.len() <= 64
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
        if !valid {
            self.report(
                Problem::new(K::BadValue, format!("\"{}\" is not a valid {} name", name.escape_debug(), node.name().value()), entry.span(), "invalid name")
                    .help("names are 1 to 64 characters: letters, digits, '_', '-' and '.', e.g. \"VI_1\""),
            );
            return None;
        }
        Some((name, entry.span()))
    }

    fn instance(&mut self, node: &KdlNode) -> Option<InstanceDraft> {
        let (args, _) = self.entries(node, &[], Children::Required);
        // A block with a bad name is still checked inside, then dropped.
        let named = self.block_name(node, &args);
        let (name, name_span) = named
            .clone()
            .unwrap_or_else(|| (String::new(), node.name().span()));
        let mut d = InstanceDraft {
            name,
            name_span,
            interface: None,
            vrid: None,
            priority: None,
            version: None,
            advert_interval: None,
            preempt: None,
            preempt_delay: None,
            accept: None,
            authentication: None,
            vips: Vec::new(),
            unicast_source: None,
            peers: Vec::new(),
            track_interfaces: Vec::new(),
            track_scripts: Vec::new(),
            track_files: Vec::new(),
            garp_repeat: None,
            garp_refresh: None,
            use_vmac: None,
            v3_checksum: None,
            notify: None,
            hooks: Hooks::default(),
        };
        let mut seen = Seen::default();
        let no_children = KdlDocument::new();
        for child in node.children().unwrap_or(&no_children).nodes() {
            let name = child.name().value();
            let once = schema::INSTANCE.contains(&name)
                && !matches!(
                    name,
                    "virtual-ip"
                        | "unicast-peer"
                        | "track-interface"
                        | "track-script"
                        | "track-file"
                );
            if once && !seen.first(self, child) {
                continue;
            }
            match name {
                "interface" => {
                    if let Some(e) = self.leaf(child) {
                        d.interface = self.ifname_of(name, e).map(|n| (n, e.span()));
                    }
                }
                "vrid" => d.vrid = self.leaf_int(child, (1, 255)).map(|(v, s)| (v as u8, s)),
                "priority" => d.priority = self.leaf_int(child, (1, 255)).map(|(v, _)| v as u8),
                "version" => {
                    if let Some(e) = self.leaf(child) {
                        d.version = match e.value() {
                            KdlValue::Integer(2) => Some((Version::V2, e.span())),
                            KdlValue::Integer(3) => Some((Version::V3, e.span())),
                            KdlValue::Integer(v) => {
                                self.report(
                                    Problem::new(K::OutOfRange, format!("VRRP version {v} does not exist"), e.span(), "must be 2 or 3")
                                        .help("use `version 2` (RFC 3768, IPv4 only) or `version 3` (RFC 9568, the default)"),
                                );
                                None
                            }
                            _ => {
                                self.wrong_type(name, e, "the number 2 or 3");
                                None
                            }
                        };
                    }
                }
                "advert-interval" => {
                    // The range depends on the version; checked once the whole block is read.
                    if let Some(e) = self.leaf(child) {
                        d.advert_interval = self.duration_of(name, e).map(|v| (v, e.span()));
                    }
                }
                "preempt" => d.preempt = self.leaf_bool(child),
                "preempt-delay" => {
                    d.preempt_delay = self
                        .leaf_duration(child, Duration::ZERO, PREEMPT_DELAY_MAX)
                        .map(|v| v.0)
                }
                "accept" => d.accept = self.leaf_bool(child),
                "authentication" => {
                    if let Some((pass, span)) = self.leaf_string(child) {
                        if pass.len() > 8 {
                            self.report(
                                Problem::new(K::OutOfRange, format!("authentication is {} bytes long", pass.len()), span, "longer than 8 bytes")
                                    .help("VRRPv2 simple-text passwords are at most 8 bytes (keepalived truncates silently; vrrp-ha refuses)"),
                            );
                        } else {
                            d.authentication = Some((pass, span));
                        }
                    }
                }
                "virtual-ip" => {
                    if let Some(v) = self.virtual_ip(child) {
                        d.vips.push(v);
                    }
                }
                "unicast-source" => {
                    if let Some(e) = self.leaf(child) {
                        d.unicast_source = self.addr_of(name, e).map(|a| (a, e.span()));
                    }
                }
                "unicast-peer" => {
                    if let Some(e) = self.leaf(child) {
                        if let Some(a) = self.addr_of(name, e) {
                            d.peers.push((a, e.span()));
                        }
                    }
                }
                "track-interface" => {
                    let (args, props) = self.entries(child, &["weight"], Children::Forbidden);
                    let ifname = self
                        .single(child, &args)
                        .and_then(|e| self.ifname_of(name, e));
                    let weight = self.weight_prop(&props, 0);
                    if let (Some(name), Some(weight)) = (ifname, weight) {
                        d.track_interfaces.push(TrackInterface { name, weight });
                    }
                }
                "track-script" => {
                    let (args, props) = self.entries(child, &["weight"], Children::Forbidden);
                    let script = self
                        .single(child, &args)
                        .and_then(|e| Some((self.string_of(name, e)?, e.span())));
                    let weight = match props.get("weight") {
                        Some(w) => self
                            .int_of("weight", w, WEIGHT_RANGE)
                            .map(|w| Some(w as i32)),
                        None => Some(None),
                    };
                    if let (Some((name, span)), Some(weight)) = (script, weight) {
                        d.track_scripts.push((TrackScript { name, weight }, span));
                    }
                }
                "track-file" => {
                    let (args, props) = self.entries(child, &["weight"], Children::Forbidden);
                    let path = self
                        .single(child, &args)
                        .and_then(|e| self.path_of(name, e));
                    let weight = self.weight_prop(&props, 1);
                    if let (Some(path), Some(weight)) = (path, weight) {
                        d.track_files.push(TrackFile { path, weight });
                    }
                }
                "garp-repeat" => {
                    d.garp_repeat = self
                        .leaf_int(child, (0, GARP_REPEAT_MAX))
                        .map(|(v, _)| v as u32)
                }
                "garp-refresh" => {
                    d.garp_refresh = self
                        .leaf_duration(child, Duration::ZERO, LONG_MAX)
                        .map(|v| v.0)
                }
                "use-vmac" => d.use_vmac = self.leaf_bool(child),
                "v3-checksum" => {
                    if let Some((mode, span)) = self.leaf_string(child) {
                        d.v3_checksum = match mode.as_str() {
                            "pseudo-header" => Some(ChecksumMode::PseudoHeader),
                            "message" => Some(ChecksumMode::Message),
                            other => {
                                let help = match did_you_mean(other, &["pseudo-header", "message"]) {
                                    Some(s) => format!("did you mean \"{s}\"?"),
                                    None => "use \"pseudo-header\" (keepalived, Wireshark) or \"message\" (RFC 9568, Cisco, Juniper)".to_string(),
                                };
                                self.report(
                                    Problem::new(
                                        K::BadValue,
                                        format!(
                                            "unknown checksum mode \"{}\"",
                                            other.escape_debug()
                                        ),
                                        span,
                                        "unknown mode",
                                    )
                                    .help(help),
                                );
                                None
                            }
                        };
                    }
                }
                "notify" => {
                    if let Some(e) = self.leaf(child) {
                        d.notify = self.path_of(name, e);
                    }
                }
                "on-master" => d.hooks.on_master = self.hook_block(child),
                "on-backup" => d.hooks.on_backup = self.hook_block(child),
                "on-fault" => d.hooks.on_fault = self.hook_block(child),
                "on-stop" => d.hooks.on_stop = self.hook_block(child),
                _ => self.unknown_node(child, Block::Instance),
            }
        }
        self.check_instance(node, &d);
        named.map(|_| d)
    }

    fn weight_prop(&mut self, props: &HashMap<&str, &KdlEntry>, default: i32) -> Option<i32> {
        match props.get("weight") {
            Some(w) => self.int_of("weight", w, WEIGHT_RANGE).map(|w| w as i32),
            None => Some(default),
        }
    }

    /// Checks within one instance once all its nodes are read.
    fn check_instance(&mut self, node: &KdlNode, d: &InstanceDraft) {
        let at = d.name_span;
        let this = if d.name.is_empty() {
            "this instance".to_string()
        } else {
            format!("instance `{}`", d.name)
        };
        for (present, what) in [
            (
                d.interface.is_some() || has_child(node, "interface"),
                "interface",
            ),
            (d.vrid.is_some() || has_child(node, "vrid"), "vrid"),
            (
                !d.vips.is_empty() || has_child(node, "virtual-ip"),
                "virtual-ip",
            ),
        ] {
            if !present {
                self.report(
                    Problem::new(
                        K::Missing,
                        format!("{this} has no `{what}`"),
                        at,
                        format!("`{what}` missing"),
                    )
                    .help(format!(
                        "`{what}` is required; add it inside the block, {}",
                        for_example(what)
                    )),
                );
            }
        }
        // An invalid `version` is reported already; checks that depend on it would mislead.
        let version_known = d.version.is_some() || !has_child(node, "version");
        let version = d.version.map_or(Version::V3, |v| v.0);
        let version_note = match d.version {
            Some(_) => "",
            None => " (the default version is 3)",
        };
        if let (true, Some((interval, span))) = (version_known, d.advert_interval) {
            let cs = interval.as_nanos() / 10_000_000;
            match version {
                Version::V2 => {
                    if interval.subsec_nanos() != 0 || !(1..=255).contains(&interval.as_secs()) {
                        let mut p = Problem::new(
                            K::OutOfRange,
                            format!("advert-interval {} cannot be sent in VRRPv2", super::duration::format_duration(interval)),
                            span,
                            "not whole seconds 1..=255",
                        )
                        .help("VRRPv2 adverts carry whole seconds from \"1s\" to \"255s\"; use `version 3` for sub-second intervals");
                        if let Some((_, vs)) = d.version {
                            p = p.also(vs, "version 2 set here");
                        }
                        self.report(p);
                    }
                }
                Version::V3 => {
                    if interval.as_nanos() % 10_000_000 != 0 || !(1..=4095).contains(&cs) {
                        self.report(
                            Problem::new(
                                K::OutOfRange,
                                format!(
                                    "advert-interval {} cannot be sent in VRRPv3{version_note}",
                                    super::duration::format_duration(interval)
                                ),
                                span,
                                "not 10ms..=40.95s in 10 ms steps",
                            )
                            .help("VRRPv3 adverts carry centiseconds: use \"10ms\" to \"40.95s\" in steps of 10 ms"),
                        );
                    }
                }
            }
        }
        if let (true, Version::V3, Some((_, span))) = (version_known, version, &d.authentication) {
            let mut p = Problem::new(
                K::Conflict,
                format!("authentication needs VRRPv2{version_note}"),
                *span,
                "only valid with version 2",
            )
            .help("VRRPv3 has no authentication (RFC 9568): add `version 2` or remove `authentication`");
            if let Some((_, vs)) = d.version {
                p = p.also(vs, "version 3 set here");
            }
            self.report(p);
        }
        // The first VIP sets the instance's family; everything else must follow it.
        if let Some((first, first_span)) = d.vips.first() {
            let v6 = first.addr.is_ipv6();
            for (vip, span) in &d.vips[1..] {
                if vip.addr.is_ipv6() != v6 {
                    self.report(
                        Problem::new(K::Conflict, format!("instance `{}` mixes IPv4 and IPv6 virtual IPs", d.name), *span, format!("{} address", family(&vip.addr)))
                            .also(*first_span, format!("the first virtual IP makes this an {} instance", family(&first.addr)))
                            .help("one VRRP instance carries one address family: put IPv4 and IPv6 VIPs in two instances (they may share the vrid)"),
                    );
                }
            }
            for (peer, span) in d.peers.iter().chain(d.unicast_source.iter()) {
                if peer.is_ipv6() != v6 {
                    self.report(
                        Problem::new(
                            K::Conflict,
                            format!(
                                "unicast address {peer} is {} but instance `{}` is {}",
                                family(peer),
                                d.name,
                                family(&first.addr)
                            ),
                            *span,
                            "wrong address family",
                        )
                        .also(*first_span, "the virtual IPs set the family")
                        .help(format!(
                            "use {} addresses for unicast-source and unicast-peer",
                            family(&first.addr)
                        )),
                    );
                }
            }
        }
        if version_known && version == Version::V2 {
            for (vip, span) in &d.vips {
                if vip.addr.is_ipv6() {
                    let mut p = Problem::new(
                        K::Conflict,
                        "IPv6 virtual IPs need VRRPv3",
                        *span,
                        "IPv6 address",
                    );
                    if let Some((_, vs)) = d.version {
                        p = p.also(vs, "version 2 set here");
                    }
                    self.report(p.help("VRRPv2 is IPv4 only (RFC 3768): use `version 3`"));
                    break;
                }
            }
        }
        let mut vips: HashMap<IpAddr, Sp> = HashMap::new();
        for (vip, span) in &d.vips {
            if let Some(first) = vips.insert(vip.addr, *span) {
                self.report(
                    Problem::new(
                        K::Duplicate,
                        format!("virtual IP {} is listed twice", vip.addr),
                        *span,
                        "again here",
                    )
                    .also(first, "first here")
                    .help("list each virtual IP once"),
                );
            }
        }
        let mut peers: HashMap<IpAddr, Sp> = HashMap::new();
        for (peer, span) in &d.peers {
            if let Some(first) = peers.insert(*peer, *span) {
                self.report(
                    Problem::new(
                        K::Duplicate,
                        format!("unicast-peer {peer} is listed twice"),
                        *span,
                        "again here",
                    )
                    .also(first, "first here")
                    .help("list each peer once"),
                );
            }
            if let Some((src, src_span)) = d.unicast_source {
                if src == *peer {
                    self.report(
                        Problem::new(
                            K::Conflict,
                            format!("unicast-peer {peer} is this node's own unicast-source"),
                            *span,
                            "own address",
                        )
                        .also(src_span, "unicast-source")
                        .help("list the other routers' addresses as peers, not this one's"),
                    );
                }
            }
        }
        if let (Some((_, span)), true) = (
            d.unicast_source,
            d.peers.is_empty() && !has_child(node, "unicast-peer"),
        ) {
            self.report(
                Problem::new(
                    K::Missing,
                    "unicast-source without any unicast-peer",
                    span,
                    "no peer to send to",
                )
                .help(format!(
                    "add the other routers, {}; or remove unicast-source to use multicast",
                    for_example("unicast-peer")
                )),
            );
        }
    }

    fn virtual_ip(&mut self, node: &KdlNode) -> Option<(VirtualIp, Sp)> {
        let name = node.name().value();
        let (args, props) = self.entries(node, &["dev", "label"], Children::Forbidden);
        let entry = self.single(node, &args)?;
        let text = self.string_of(name, entry)?;
        let span = entry.span();
        let (addr_text, prefix_text) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text.as_str(), None),
        };
        let Ok(addr) = addr_text.parse::<IpAddr>() else {
            self.report(
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
                    self.report(
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
            self.report(
                Problem::new(
                    K::BadValue,
                    format!("{addr} cannot be a virtual IP"),
                    span,
                    "not a unicast address",
                )
                .help(
                    "a virtual IP is a unicast address clients connect to, e.g. \"192.0.2.200/24\"",
                ),
            );
            return None;
        }
        let dev = match props.get("dev") {
            Some(e) => Some(self.ifname_of("dev", e)?),
            None => None,
        };
        let label = match props.get("label") {
            Some(e) => {
                let label = self.string_of("label", e)?;
                if addr.is_ipv6() {
                    self.report(
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
                    self.report(
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

    fn hook_block(&mut self, node: &KdlNode) -> Vec<HookAction> {
        let (args, _) = self.entries(node, &[], Children::Required);
        if let Some(first) = args.first() {
            self.report(
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
            let name = child.name().value();
            match name {
                "start" | "stop" | "restart" | "reload" => {
                    let Some((unit, span)) = self.leaf_string(child) else {
                        continue;
                    };
                    if !unit.contains('.') || unit.contains('/') || unit.starts_with('.') {
                        self.report(
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
                    actions.push(match name {
                        "start" => HookAction::Start(unit),
                        "stop" => HookAction::Stop(unit),
                        "restart" => HookAction::Restart(unit),
                        _ => HookAction::Reload(unit),
                    });
                }
                "exec" => {
                    if let Some(argv) = self.argv(child) {
                        actions.push(HookAction::Exec(argv));
                    }
                }
                _ => self.unknown_node(child, Block::Hook),
            }
        }
        actions
    }

    /// `exec "PROGRAM" "ARG"...`: one or more strings, the program non-empty.
    fn argv(&mut self, node: &KdlNode) -> Option<Vec<String>> {
        let name = node.name().value();
        let (args, _) = self.entries(node, &[], Children::Forbidden);
        if args.is_empty() {
            self.report(
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
            match self.string_of(name, e) {
                Some(s) => argv.push(s),
                None => ok = false,
            }
        }
        if ok && argv[0].is_empty() {
            self.report(
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
        ok.then_some(argv)
    }

    fn script(&mut self, node: &KdlNode) -> Option<(Script, Sp)> {
        let (args, _) = self.entries(node, &[], Children::Required);
        let named = self.block_name(node, &args);
        let (name, name_span) = named
            .clone()
            .unwrap_or_else(|| (String::new(), node.name().span()));
        let mut seen = Seen::default();
        let (mut exec, mut interval, mut timeout, mut rise, mut fall, mut weight, mut user) =
            (None, None, None, None, None, None, None);
        let no_children = KdlDocument::new();
        for child in node.children().unwrap_or(&no_children).nodes() {
            let child_name = child.name().value();
            if schema::SCRIPT.contains(&child_name) && !seen.first(self, child) {
                continue;
            }
            match child_name {
                "exec" => exec = self.argv(child),
                "interval" => {
                    interval = self.leaf_duration(child, SHORT_MIN, LONG_MAX).map(|v| v.0)
                }
                "timeout" => timeout = self.leaf_duration(child, SHORT_MIN, LONG_MAX).map(|v| v.0),
                "rise" => rise = self.leaf_int(child, COUNT_RANGE).map(|v| v.0 as u32),
                "fall" => fall = self.leaf_int(child, COUNT_RANGE).map(|v| v.0 as u32),
                "weight" => weight = self.leaf_int(child, WEIGHT_RANGE).map(|v| v.0 as i32),
                "user" => user = self.leaf_string(child).map(|v| v.0),
                _ => self.unknown_node(child, Block::Script),
            }
        }
        if named.is_some() && exec.is_none() && !has_child(node, "exec") {
            self.report(
                Problem::new(
                    K::Missing,
                    format!("script `{name}` has no `exec`"),
                    name_span,
                    "`exec` missing",
                )
                .help(format!(
                    "a script needs a command to run, {}",
                    for_example("exec")
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

    fn sync_group(&mut self, node: &KdlNode) -> Option<GroupDraft> {
        let (args, _) = self.entries(node, &[], Children::Required);
        let named = self.block_name(node, &args);
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
            if schema::SYNC_GROUP.contains(&child_name) && !seen.first(self, child) {
                continue;
            }
            match child_name {
                "instances" => {
                    let (args, _) = self.entries(child, &[], Children::Forbidden);
                    if args.is_empty() {
                        self.report(
                            Problem::new(
                                K::Shape,
                                "`instances` needs at least one instance name",
                                child.name().span(),
                                "no names",
                            )
                            .help(for_example("instances")),
                        );
                    }
                    for e in args {
                        if let Some(m) = self.string_of(child_name, e) {
                            members.push((m, e.span()));
                        }
                    }
                }
                "notify" => {
                    if let Some(e) = self.leaf(child) {
                        group.notify = self.path_of(child_name, e);
                    }
                }
                "on-master" => group.hooks.on_master = self.hook_block(child),
                "on-backup" => group.hooks.on_backup = self.hook_block(child),
                "on-fault" => group.hooks.on_fault = self.hook_block(child),
                "on-stop" => group.hooks.on_stop = self.hook_block(child),
                _ => self.unknown_node(child, Block::SyncGroup),
            }
        }
        if named.is_some() && !has_child(node, "instances") {
            self.report(
                Problem::new(
                    K::Missing,
                    format!("sync-group `{}` has no `instances`", group.name),
                    name_span,
                    "`instances` missing",
                )
                .help(format!(
                    "list the member instances, {}",
                    for_example("instances")
                )),
            );
        }
        group.instances = members.iter().map(|(m, _)| m.clone()).collect();
        named?;
        Some((group, name_span, members))
    }
}

fn has_child(node: &KdlNode, name: &str) -> bool {
    node.children()
        .is_some_and(|c| c.nodes().iter().any(|n| n.name().value() == name))
}

fn quoted_list(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn undefined(what: &str, name: &str, span: Sp, known: &[&str]) -> Problem {
    let help = match did_you_mean(name, known) {
        Some(s) => format!("did you mean `{s}`?"),
        None if known.is_empty() => {
            format!("no {what} is defined; define `{what} \"{name}\" {{ ... }}`")
        }
        None => format!("defined {what}s: {}", quoted_list(known)),
    };
    Problem::new(
        K::Undefined,
        format!("no {what} named `{name}`"),
        span,
        format!("undefined {what}"),
    )
    .help(help)
}

/// The validated instance, when all required parts are present.
fn finish(d: InstanceDraft) -> Option<Instance> {
    Some(Instance {
        name: d.name,
        interface: d.interface?.0,
        vrid: d.vrid?.0,
        priority: d.priority.unwrap_or(100),
        version: d.version.map_or(Version::V3, |v| v.0),
        advert_interval: d.advert_interval.map_or(Duration::from_secs(1), |v| v.0),
        preempt: d.preempt.unwrap_or(true),
        preempt_delay: d.preempt_delay.unwrap_or(Duration::ZERO),
        accept: d.accept.unwrap_or(true),
        authentication: d.authentication.map(|a| a.0),
        virtual_ips: d.vips.into_iter().map(|v| v.0).collect(),
        unicast_source: d.unicast_source.map(|v| v.0),
        unicast_peers: d.peers.into_iter().map(|v| v.0).collect(),
        track_interfaces: d.track_interfaces,
        track_scripts: d.track_scripts.into_iter().map(|v| v.0).collect(),
        track_files: d.track_files,
        garp_repeat: d.garp_repeat.unwrap_or(5),
        garp_refresh: d.garp_refresh.unwrap_or(Duration::ZERO),
        use_vmac: d.use_vmac.unwrap_or(false),
        v3_checksum: d.v3_checksum.unwrap_or_default(),
        notify: d.notify,
        hooks: d.hooks,
    })
}
