//! A node's form, whatever its values mean: positional values and properties, a `{ ... }`
//! block or none, once-only nodes, type annotations, and names the block does not know.

use std::collections::HashMap;

use kdl::{KdlEntry, KdlNode};

use super::{Cx, Sp};
use crate::config::error::{Problem, ProblemKind as K};
use crate::config::schema::{did_you_mean, example, home_of, keepalived_hint, Block};

/// The span covering `a` through `b`.
pub(super) fn join(a: Sp, b: Sp) -> Sp {
    let start = a.offset().min(b.offset());
    let end = (a.offset() + a.len()).max(b.offset() + b.len());
    Sp::new(start.into(), end - start)
}

/// A node's name and values, without its children or trailing whitespace.
pub(super) fn head(node: &KdlNode) -> Sp {
    match node.entries().last() {
        Some(last) => join(node.name().span(), last.span()),
        None => node.name().span(),
    }
}

/// "for example: `...`" for a node name, or nothing when the name has no example.
pub(super) fn for_example(node: &str) -> String {
    match example(node) {
        Some(e) => format!("for example: `{e}`"),
        None => String::new(),
    }
}

/// `` `a`, `b`, `c` ``.
pub(super) fn quoted_list(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether `node`'s block has a child called `name` (valid or not).
pub(super) fn has_child(node: &KdlNode, name: &str) -> bool {
    node.children()
        .is_some_and(|c| c.nodes().iter().any(|n| n.name().value() == name))
}

/// Remembers which once-only nodes a block has seen.
#[derive(Default)]
pub(super) struct Seen(HashMap<String, Sp>);

impl Seen {
    /// True the first time; reports a duplicate afterwards.
    pub(super) fn first(&mut self, cx: &mut Cx, node: &KdlNode) -> bool {
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
pub(super) enum Children {
    Forbidden,
    Required,
}

/// A node name that `block` does not know: a keepalived hint, a likely typo, the block it
/// belongs to, or the list of valid names.
pub(super) fn unknown_node(cx: &mut Cx, node: &KdlNode, block: Block) {
    let name = node.name().value();
    let span = node.name().span();
    let value = node
        .entries()
        .iter()
        .find(|e| e.name().is_none())
        .and_then(|e| e.value().as_string());
    let help = if let Some(hint) = keepalived_hint(name, value) {
        hint
    } else if let Some(s) = did_you_mean(name, block.names()) {
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
    cx.report(
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
pub(super) fn entries<'a>(
    cx: &mut Cx,
    node: &'a KdlNode,
    props_allowed: &[&str],
    children: Children,
) -> (Vec<&'a KdlEntry>, HashMap<&'a str, &'a KdlEntry>) {
    let name = node.name().value();
    if let Some(ty) = node.ty() {
        cx.report(
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
        (Children::Forbidden, Some(block)) => cx.report(
            Problem::new(
                K::Shape,
                format!("`{name}` does not take a `{{ ... }}` block"),
                block.span(),
                "unexpected block",
            )
            .help(format!("remove the braces; {}", for_example(name))),
        ),
        (Children::Required, None) => cx.report(
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
            cx.report(
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
            cx.report(
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
            cx.report(
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
pub(super) fn single<'a>(
    cx: &mut Cx,
    node: &'a KdlNode,
    args: &[&'a KdlEntry],
) -> Option<&'a KdlEntry> {
    let name = node.name().value();
    match args {
        [one] => Some(one),
        [] => {
            cx.report(
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
            cx.report(
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
