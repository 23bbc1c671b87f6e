//! The names the config language knows, per block, with examples and keepalived equivalents,
//! so that an unknown name gets a helpful "did you mean".

/// Nodes allowed at the top level of a file.
pub const TOP: &[&str] = &["router-id", "instance", "script", "sync-group"];

/// Nodes allowed inside `instance "NAME" { ... }`.
pub const INSTANCE: &[&str] = &[
    "interface",
    "vrid",
    "priority",
    "version",
    "advert-interval",
    "preempt",
    "preempt-delay",
    "accept",
    "authentication",
    "virtual-ip",
    "unicast-source",
    "unicast-peer",
    "track-interface",
    "track-script",
    "track-file",
    "garp-repeat",
    "garp-refresh",
    "use-vmac",
    "v3-checksum",
    "notify",
    "on-master",
    "on-backup",
    "on-fault",
    "on-stop",
];

/// Nodes allowed inside `script "NAME" { ... }`.
pub const SCRIPT: &[&str] = &[
    "exec", "interval", "timeout", "rise", "fall", "weight", "user",
];

/// Nodes allowed inside `sync-group "NAME" { ... }`.
pub const SYNC_GROUP: &[&str] = &[
    "instances",
    "notify",
    "on-master",
    "on-backup",
    "on-fault",
    "on-stop",
];

/// Nodes allowed inside `on-master { ... }` and the other hook blocks.
pub const HOOK: &[&str] = &["start", "stop", "restart", "reload", "exec"];

/// Every node name of the language, each once (docs and tests check against it).
pub fn all_nodes() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = Vec::new();
    for name in [TOP, INSTANCE, SCRIPT, SYNC_GROUP, HOOK].concat() {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// Which block a node sits in.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Block {
    Top,
    Instance,
    Script,
    SyncGroup,
    Hook,
}

impl Block {
    /// The node names valid in this block.
    pub(crate) fn names(self) -> &'static [&'static str] {
        match self {
            Block::Top => TOP,
            Block::Instance => INSTANCE,
            Block::Script => SCRIPT,
            Block::SyncGroup => SYNC_GROUP,
            Block::Hook => HOOK,
        }
    }

    /// How the block is called in messages.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Block::Top => "at the top level",
            Block::Instance => "in an `instance` block",
            Block::Script => "in a `script` block",
            Block::SyncGroup => "in a `sync-group` block",
            Block::Hook => "in an `on-master`/`on-backup`/`on-fault`/`on-stop` block",
        }
    }
}

/// A one-line example of a node, for help lines.
pub(crate) fn example(node: &str) -> Option<&'static str> {
    Some(match node {
        "router-id" => "router-id \"lb1\"",
        "instance" => {
            "instance \"VI_1\" { interface \"eth0\"; vrid 51; virtual-ip \"192.0.2.200/24\" }"
        }
        "script" => "script \"nginx\" { exec \"/usr/bin/curl\" \"-fsS\" \"http://127.0.0.1/\" }",
        "sync-group" => "sync-group \"G1\" { instances \"VI_1\" \"VI_2\" }",
        "interface" => "interface \"eth0\"",
        "vrid" => "vrid 51",
        "priority" => "priority 100",
        "version" => "version 3",
        "advert-interval" => "advert-interval \"1s\"",
        "preempt" => "preempt #true",
        "preempt-delay" => "preempt-delay \"30s\"",
        "accept" => "accept #true",
        "authentication" => "authentication \"1111\"",
        "virtual-ip" => "virtual-ip \"192.0.2.200/24\" dev=\"eth1\" label=\"eth1:vip\"",
        "unicast-source" => "unicast-source \"192.0.2.201\"",
        "unicast-peer" => "unicast-peer \"192.0.2.202\"",
        "track-interface" => "track-interface \"eth1\" weight=-20",
        "track-script" => "track-script \"nginx\" weight=-30",
        "track-file" => "track-file \"/run/vrrp-ha/VI_1.prio\" weight=1",
        "garp-repeat" => "garp-repeat 5",
        "garp-refresh" => "garp-refresh \"60s\"",
        "use-vmac" => "use-vmac #false",
        "v3-checksum" => "v3-checksum \"pseudo-header\"",
        "notify" => "notify \"/etc/vrrp-ha/notify.sh\"",
        "on-master" | "on-backup" | "on-fault" | "on-stop" => {
            "on-master { reload \"nginx.service\" }"
        }
        "start" | "stop" | "restart" | "reload" => "reload \"nginx.service\"",
        "exec" => "exec \"/usr/bin/curl\" \"-fsS\" \"http://127.0.0.1/\"",
        "interval" => "interval \"2s\"",
        "timeout" => "timeout \"1s\"",
        "rise" => "rise 2",
        "fall" => "fall 2",
        "weight" => "weight -20",
        "user" => "user \"nobody\"",
        "instances" => "instances \"VI_1\" \"VI_2\"",
        _ => return None,
    })
}

/// keepalived keywords and what to write instead.
fn keepalived_alias(name: &str) -> Option<&'static str> {
    Some(match name {
        "vrrp_instance" => "instance",
        "vrrp_script" => "script",
        "vrrp_sync_group" => "sync-group",
        "virtual_router_id" => "vrid",
        "advert_int" => "advert-interval",
        "virtual_ipaddress" => "virtual-ip",
        "auth_pass" | "authentication_pass" => "authentication",
        "unicast_src_ip" => "unicast-source",
        "unicast_peer" => "unicast-peer",
        "track_interface" => "track-interface",
        "track_script" => "track-script",
        "track_file" => "track-file",
        "garp_master_repeat" => "garp-repeat",
        "garp_master_refresh" => "garp-refresh",
        "use_vmac" => "use-vmac",
        "notify_master" => "on-master",
        "notify_backup" => "on-backup",
        "notify_fault" => "on-fault",
        "notify_stop" => "on-stop",
        "router_id" => "router-id",
        "script" => "exec",
        "group" => "instances",
        _ => return None,
    })
}

/// The closest known name to an unknown one, if any is close enough to be a likely typo.
pub(crate) fn did_you_mean<'a>(name: &str, candidates: &[&'a str]) -> Option<&'a str> {
    if let Some(alias) = keepalived_alias(name) {
        if let Some(c) = candidates.iter().find(|c| **c == alias) {
            return Some(c);
        }
    }
    let normalized = name.to_ascii_lowercase().replace('_', "-");
    if let Some(c) = candidates.iter().find(|c| **c == normalized) {
        return Some(c);
    }
    candidates
        .iter()
        .map(|c| (strsim::damerau_levenshtein(&normalized, c), *c))
        .filter(|(d, c)| *d <= (c.chars().count() / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
        .or_else(|| {
            // "prio" for "priority", "device" for "dev": one name abbreviates the other.
            candidates.iter().copied().find(|c| {
                (normalized.len() >= 4 && c.starts_with(&normalized))
                    || (c.len() >= 3 && normalized.starts_with(c))
            })
        })
}

/// The other block a misplaced node name belongs to, if any.
pub(crate) fn home_of(name: &str, here: Block) -> Option<Block> {
    [
        Block::Top,
        Block::Instance,
        Block::Script,
        Block::SyncGroup,
        Block::Hook,
    ]
    .into_iter()
    .find(|b| *b != here && b.names().contains(&name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_typos_aliases_and_prefixes() {
        assert_eq!(did_you_mean("priorty", INSTANCE), Some("priority"));
        assert_eq!(did_you_mean("virtual_router_id", INSTANCE), Some("vrid"));
        assert_eq!(
            did_you_mean("advert_interval", INSTANCE),
            Some("advert-interval")
        );
        assert_eq!(did_you_mean("prio", INSTANCE), Some("priority"));
        assert_eq!(did_you_mean("zzzzzz", INSTANCE), None);
        assert_eq!(did_you_mean("devv", &["dev", "label"]), Some("dev"));
        assert_eq!(did_you_mean("device", &["dev", "label"]), Some("dev"));
    }
}
