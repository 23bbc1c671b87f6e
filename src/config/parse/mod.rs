//! KDL document -> [`Config`]: shape and type checks per node, then cross-checks,
//! collecting every problem instead of stopping at the first.
//!
//! The stages, each its own module:
//! - [`syntax`]: what is refused before or by the KDL parser (size, nesting, a keepalived.conf,
//!   KDL syntax errors with hints);
//! - [`shape`]: a node's form (values, properties, block, once-only nodes, unknown names);
//! - [`values`]: typed leaf values (strings, numbers, durations, addresses, paths, names);
//! - [`instance`] and [`blocks`]: the `instance` block, and `script`, `sync-group`, hook
//!   blocks, `exec` and `virtual-ip`;
//! - [`cross`]: the checks over the whole document (unique names, references, vrids).
//!
//! This module drives them over the top level of the document.

mod blocks;
mod cross;
mod instance;
mod shape;
mod syntax;
mod values;

use kdl::KdlDocument;
use miette::SourceSpan;

use super::error::{ConfigError, Problem, ProblemKind as K};
use super::model::Config;
use super::schema::{Block, Count, TopNode};
use shape::{for_example, head, Seen};

type Sp = SourceSpan;

/// Parses and validates a KDL 2.0 configuration; `file_name` is only used in diagnostics.
pub fn parse_str(source: &str, file_name: &str) -> Result<Config, ConfigError> {
    let doc = syntax::parse(source, file_name).map_err(|p| error(file_name, source, p))?;
    let mut cx = Cx::default();
    let config = document(&mut cx, &doc);
    if cx.problems.is_empty() {
        Ok(config)
    } else {
        Err(error(file_name, source, cx.problems))
    }
}

/// The error for `problems`, in file order.
fn error(file_name: &str, source: &str, mut problems: Vec<Problem>) -> ConfigError {
    // File order reads best; the sort is stable so problems at one spot keep their order.
    problems.sort_by_key(|p| p.span().map_or(0, |s| s.offset()));
    ConfigError::new(file_name, source, problems)
}

/// The problems found so far; every stage reports into it and goes on.
#[derive(Default)]
struct Cx {
    problems: Vec<Problem>,
}

impl Cx {
    fn report(&mut self, p: Problem) {
        self.problems.push(p);
    }
}

/// The top level: each node to its block parser, then the whole-document checks.
fn document(cx: &mut Cx, doc: &KdlDocument) -> Config {
    let mut config = Config {
        router_id: None,
        instances: Vec::new(),
        scripts: Vec::new(),
        sync_groups: Vec::new(),
        realtime_priority: crate::config::DEFAULT_REALTIME_PRIORITY,
        lock_memory: false,
        metrics: None,
    };
    if doc.nodes().is_empty() {
        cx.report(
            Problem::new(
                K::Empty,
                "the configuration is empty",
                Sp::new(0.into(), 0),
                "no nodes in this file",
            )
            .help(format!(
                "define at least one instance, {}",
                for_example(TopNode::Instance.name())
            )),
        );
        return config;
    }
    let mut seen = Seen::default();
    let mut instances = Vec::new();
    let mut scripts = Vec::new();
    let mut groups = Vec::new();
    for node in doc.nodes() {
        let Some(top) = TopNode::from_name(node.name().value()) else {
            shape::unknown_node(cx, node, Block::Top);
            continue;
        };
        if top.info().count == Count::Once && !seen.first(cx, node) {
            continue;
        }
        match top {
            TopNode::RouterId => {
                if let Some((id, _)) = values::leaf_string(cx, node) {
                    config.router_id = Some(id);
                }
            }
            TopNode::Instance => {
                if let Some(d) = instance::instance(cx, node) {
                    instances.push((d, head(node)));
                }
            }
            TopNode::Script => {
                if let Some(s) = blocks::script(cx, node) {
                    scripts.push(s);
                }
            }
            TopNode::SyncGroup => {
                if let Some(g) = blocks::sync_group(cx, node) {
                    groups.push(g);
                }
            }
            TopNode::RealtimePriority => {
                if let Some((p, _)) = values::leaf_int(cx, node, (0, 99)) {
                    config.realtime_priority = u8::try_from(p).unwrap_or(0);
                }
            }
            TopNode::LockMemory => {
                if let Some(b) = values::leaf_bool(cx, node) {
                    config.lock_memory = b;
                }
            }
            TopNode::Metrics => config.metrics = blocks::metrics(cx, node),
        }
    }
    if instances.is_empty()
        && !doc
            .nodes()
            .iter()
            .any(|n| n.name().value() == TopNode::Instance.name())
    {
        cx.report(
            Problem::new(
                K::Empty,
                "no `instance` is defined",
                doc.nodes()[0].name().span(),
                "the file starts here",
            )
            .help(format!(
                "a configuration needs at least one instance, {}",
                for_example(TopNode::Instance.name())
            )),
        );
    }
    cross::cross_check(cx, &instances, &scripts, &groups);
    config.scripts = scripts.into_iter().map(|(s, _)| s).collect();
    config.sync_groups = groups.into_iter().map(|g| g.group).collect();
    config.instances = instances
        .into_iter()
        .filter_map(|(d, _)| d.finish())
        .collect();
    config
}
