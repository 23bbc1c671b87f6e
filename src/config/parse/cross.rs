//! Checks over the whole document: unique names, one instance per (interface, vrid, family),
//! and references from `track-script` and `instances` to blocks that exist.

use std::collections::HashMap;

use super::blocks::GroupDraft;
use super::instance::InstanceDraft;
use super::shape::quoted_list;
use super::values::family;
use super::{Cx, Sp};
use crate::config::error::{Problem, ProblemKind as K};
use crate::config::model::Script;
use crate::config::schema::{did_you_mean, TopNode};

/// Checks between blocks: unique names, unique (interface, vrid, family), references.
pub(super) fn cross_check(
    cx: &mut Cx,
    instances: &[(InstanceDraft, Sp)],
    scripts: &[(Script, Sp)],
    groups: &[GroupDraft],
) {
    unique_names(
        cx,
        TopNode::Instance.name(),
        instances
            .iter()
            .map(|(d, _)| (d.name.as_str(), d.name_span)),
    );
    unique_names(
        cx,
        TopNode::Script.name(),
        scripts.iter().map(|(s, sp)| (s.name.as_str(), *sp)),
    );
    unique_names(
        cx,
        TopNode::SyncGroup.name(),
        groups.iter().map(|g| (g.group.name.as_str(), g.name_span)),
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
            cx.report(
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
                cx.report(undefined(
                    TopNode::Script.name(),
                    &t.name,
                    *span,
                    &script_names,
                ));
            }
        }
    }

    let instance_names: Vec<&str> = instances.iter().map(|(d, _)| d.name.as_str()).collect();
    let mut member_of: HashMap<&str, (&str, Sp)> = HashMap::new();
    for GroupDraft {
        group: g, members, ..
    } in groups
    {
        let mut here: HashMap<&str, Sp> = HashMap::new();
        for (m, span) in members {
            if !instance_names.contains(&m.as_str()) {
                cx.report(undefined(
                    TopNode::Instance.name(),
                    m,
                    *span,
                    &instance_names,
                ));
                continue;
            }
            if let Some(first) = here.get(m.as_str()) {
                cx.report(
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
                cx.report(
                    Problem::new(
                        K::Conflict,
                        format!(
                            "instance `{m}` is in two sync groups: `{other}` and `{}`",
                            g.name
                        ),
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

/// Reports every name given twice among `names`, pointing at both.
fn unique_names<'a>(cx: &mut Cx, what: &str, names: impl Iterator<Item = (&'a str, Sp)>) {
    let mut seen: HashMap<&str, Sp> = HashMap::new();
    for (name, span) in names {
        if let Some(first) = seen.get(name) {
            cx.report(
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

/// A reference to a block that does not exist, with the closest defined name.
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
