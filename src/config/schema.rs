//! The names the config language knows, per block, with examples and keepalived equivalents:
//! the one list the parser dispatches on, that "did you mean" searches, and that the man page
//! and the property tests are checked against.

/// How often a node may appear in its block.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Count {
    /// At most once; a second one is reported as a duplicate.
    Once,
    /// Any number of times.
    Many,
}

/// What the language knows about one node.
#[derive(Debug)]
pub(crate) struct NodeInfo {
    /// The node's name in the config language.
    pub(crate) name: &'static str,
    /// Whether it may be repeated in its block.
    pub(crate) count: Count,
    /// A one-line example, for help lines.
    pub(crate) example: &'static str,
    /// The keepalived keywords it replaces.
    pub(crate) keepalived: &'static [&'static str],
}

/// Declares one block's nodes from one list: an enum the parser matches on (so a node added
/// here must be parsed), the public list of names, and each node's [`NodeInfo`].
macro_rules! nodes {
    (
        $(#[$list_meta:meta])*
        pub const $LIST:ident;
        $(#[$enum_meta:meta])*
        enum $Enum:ident {
            $( $Variant:ident = $name:literal, $count:ident, $example:literal
               $(, keepalived $($alias:literal)|+ )? ; )+
        }
    ) => {
        $(#[$enum_meta])*
        #[derive(Copy, Clone, Debug, PartialEq, Eq)]
        pub(crate) enum $Enum {
            $(
                #[doc = concat!("`", $name, "`")]
                $Variant,
            )+
        }

        // Not every block's parser needs every accessor (hook actions are all repeatable).
        #[allow(dead_code)]
        impl $Enum {
            /// Every node of the block, in the order of the list (the enum's order).
            const INFO: &'static [NodeInfo] = &[$(NodeInfo {
                name: $name,
                count: Count::$count,
                example: $example,
                keepalived: &[$($($alias),+)?],
            }),+];

            /// The node of this block called `name`, if any.
            pub(crate) fn from_name(name: &str) -> Option<Self> {
                match name {
                    $($name => Some($Enum::$Variant),)+
                    _ => None,
                }
            }

            /// What the language knows about the node.
            pub(crate) const fn info(self) -> &'static NodeInfo {
                &Self::INFO[self as usize]
            }

            /// The node's name in the config language.
            pub(crate) const fn name(self) -> &'static str {
                self.info().name
            }
        }

        $(#[$list_meta])*
        pub const $LIST: &[&str] = &[$($name),+];
    };
}

nodes! {
    /// Nodes allowed at the top level of a file.
    pub const TOP;
    /// A node at the top level of a file.
    enum TopNode {
        RouterId = "router-id", Once, "router-id \"lb1\"", keepalived "router_id";
        Instance = "instance", Many,
            "instance \"VI_1\" { interface \"eth0\"; vrid 51; virtual-ip \"192.0.2.200/24\" }",
            keepalived "vrrp_instance";
        Script = "script", Many,
            "script \"nginx\" { exec \"/usr/bin/curl\" \"-fsS\" \"http://127.0.0.1/\" }",
            keepalived "vrrp_script";
        SyncGroup = "sync-group", Many, "sync-group \"G1\" { instances \"VI_1\" \"VI_2\" }",
            keepalived "vrrp_sync_group";
        RealtimePriority = "realtime-priority", Once, "realtime-priority 10",
            keepalived "vrrp_rt_priority";
        LockMemory = "lock-memory", Once, "lock-memory #true", keepalived "vrrp_no_swap";
        Metrics = "metrics", Once, "metrics listen=\"127.0.0.1:9650\"";
    }
}

nodes! {
    /// Nodes allowed inside `instance "NAME" { ... }`.
    pub const INSTANCE;
    /// A node inside an `instance` block.
    enum InstanceNode {
        Interface = "interface", Once, "interface \"eth0\"";
        Vrid = "vrid", Once, "vrid 51", keepalived "virtual_router_id";
        Priority = "priority", Once, "priority 100";
        Version = "version", Once, "version 3", keepalived "vrrp_version";
        AdvertInterval = "advert-interval", Once, "advert-interval \"1s\"", keepalived "advert_int";
        Preempt = "preempt", Once, "preempt #true";
        PreemptDelay = "preempt-delay", Once, "preempt-delay \"30s\"";
        Accept = "accept", Once, "accept #true";
        Authentication = "authentication", Once, "authentication \"1111\"",
            keepalived "auth_pass" | "authentication_pass";
        VirtualIp = "virtual-ip", Many,
            "virtual-ip \"192.0.2.200/24\" dev=\"eth1\" label=\"eth1:vip\"",
            keepalived "virtual_ipaddress";
        UnicastSource = "unicast-source", Once, "unicast-source \"192.0.2.201\"",
            keepalived "unicast_src_ip";
        UnicastPeer = "unicast-peer", Many, "unicast-peer \"192.0.2.202\"",
            keepalived "unicast_peer";
        TrackInterface = "track-interface", Many, "track-interface \"eth1\" weight=-20",
            keepalived "track_interface";
        TrackScript = "track-script", Many, "track-script \"nginx\" weight=-30",
            keepalived "track_script";
        TrackFile = "track-file", Many, "track-file \"/run/vrrp-ha/VI_1.prio\" weight=1",
            keepalived "track_file";
        GarpRepeat = "garp-repeat", Once, "garp-repeat 5", keepalived "garp_master_repeat";
        GarpRefresh = "garp-refresh", Once, "garp-refresh \"60s\"",
            keepalived "garp_master_refresh";
        UseVmac = "use-vmac", Once, "use-vmac #false", keepalived "use_vmac";
        V3Checksum = "v3-checksum", Once, "v3-checksum \"pseudo-header\"";
        Witness = "witness", Many, "witness \"192.0.2.10:5112\"";
        WitnessPolicy = "witness-policy", Once, "witness-policy \"available\"";
        WitnessTimeout = "witness-timeout", Once, "witness-timeout \"5ms\"";
        WitnessKeyFile = "witness-key-file", Once,
            "witness-key-file \"/etc/vrrp-ha/witness.key\"";
        WitnessKeyCredential = "witness-key-credential", Once,
            "witness-key-credential \"witness.key\"";
        Notify = "notify", Once, "notify \"/etc/vrrp-ha/notify.sh\"";
        OnMaster = "on-master", Once, "on-master { reload \"nginx.service\" }",
            keepalived "notify_master";
        OnBackup = "on-backup", Once, "on-backup { start \"sorry-page.service\" }",
            keepalived "notify_backup";
        OnFault = "on-fault", Once, "on-fault { exec \"/etc/vrrp-ha/page-oncall.sh\" }",
            keepalived "notify_fault";
        OnStop = "on-stop", Once, "on-stop { stop \"sorry-page.service\" }",
            keepalived "notify_stop";
    }
}

nodes! {
    /// Nodes allowed inside `script "NAME" { ... }`.
    pub const SCRIPT;
    /// A node inside a `script` block.
    enum ScriptNode {
        Exec = "exec", Once, "exec \"/usr/bin/curl\" \"-fsS\" \"http://127.0.0.1/\"",
            keepalived "script";
        Interval = "interval", Once, "interval \"2s\"";
        Timeout = "timeout", Once, "timeout \"1s\"";
        Rise = "rise", Once, "rise 2";
        Fall = "fall", Once, "fall 2";
        Weight = "weight", Once, "weight -20";
        User = "user", Once, "user \"nobody\"";
    }
}

nodes! {
    /// Nodes allowed inside `sync-group "NAME" { ... }`.
    pub const SYNC_GROUP;
    /// A node inside a `sync-group` block.
    enum SyncGroupNode {
        Instances = "instances", Once, "instances \"VI_1\" \"VI_2\"", keepalived "group";
        Notify = "notify", Once, "notify \"/etc/vrrp-ha/notify.sh\"";
        OnMaster = "on-master", Once, "on-master { reload \"nginx.service\" }",
            keepalived "notify_master";
        OnBackup = "on-backup", Once, "on-backup { start \"sorry-page.service\" }",
            keepalived "notify_backup";
        OnFault = "on-fault", Once, "on-fault { exec \"/etc/vrrp-ha/page-oncall.sh\" }",
            keepalived "notify_fault";
        OnStop = "on-stop", Once, "on-stop { stop \"sorry-page.service\" }",
            keepalived "notify_stop";
    }
}

nodes! {
    /// Nodes allowed inside `on-master { ... }` and the other hook blocks.
    pub const HOOK;
    /// An action inside an `on-master`/`on-backup`/`on-fault`/`on-stop` block.
    enum HookNode {
        Start = "start", Many, "start \"sorry-page.service\"";
        Stop = "stop", Many, "stop \"sorry-page.service\"";
        Restart = "restart", Many, "restart \"nginx.service\"";
        Reload = "reload", Many, "reload \"nginx.service\"";
        Exec = "exec", Many, "exec \"/usr/bin/curl\" \"-fsS\" \"http://127.0.0.1/\"",
            keepalived "script";
    }
}

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
    /// Every block.
    const ALL: [Block; 5] = [
        Block::Top,
        Block::Instance,
        Block::Script,
        Block::SyncGroup,
        Block::Hook,
    ];

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

    /// What the language knows about each node of this block.
    fn info(self) -> &'static [NodeInfo] {
        match self {
            Block::Top => TopNode::INFO,
            Block::Instance => InstanceNode::INFO,
            Block::Script => ScriptNode::INFO,
            Block::SyncGroup => SyncGroupNode::INFO,
            Block::Hook => HookNode::INFO,
        }
    }
}

/// Every node of every block (a name in several blocks appears once per block).
fn every_node() -> impl Iterator<Item = &'static NodeInfo> {
    Block::ALL.into_iter().flat_map(|b| b.info().iter())
}

/// A one-line example of a node, for help lines.
pub(crate) fn example(node: &str) -> Option<&'static str> {
    every_node().find(|n| n.name == node).map(|n| n.example)
}

/// The vrrp-ha node that replaces a keepalived keyword, if any.
fn keepalived_alias(keyword: &str) -> Option<&'static str> {
    every_node()
        .find(|n| n.keepalived.contains(&keyword))
        .map(|n| n.name)
}

/// keepalived keywords that have no node of their own here, with what to write instead;
/// `value` is the node's first value, when it has one (`MASTER` in `state MASTER`).
pub(crate) fn keepalived_hint(keyword: &str, value: Option<&str>) -> Option<String> {
    let elect = "vrrp-ha has no `state`: it elects by priority, the highest `priority` is MASTER";
    Some(match keyword {
        "nopreempt" => "keepalived's `nopreempt` is `preempt #false` here".to_string(),
        "no_accept" => "keepalived's `no_accept` is `accept #false` here".to_string(),
        "state" => match value.map(str::to_ascii_uppercase).as_deref() {
            Some("MASTER") => format!(
                "{elect}; remove `state` and give this node the higher priority, \
                 e.g. `priority 100` here and `priority 90` on the backup"
            ),
            Some("BACKUP") => format!(
                "{elect}; remove `state` and give this node a lower priority than the \
                 master's, e.g. `priority 90` here and `priority 100` on the master"
            ),
            _ => format!("{elect}; remove `state` and set `priority`"),
        },
        _ => return None,
    })
}

/// keepalived.conf's top-level blocks and statements: a line starting with one of these,
/// followed by an unquoted word or a `{`, is keepalived's language, not KDL.
pub(crate) const KEEPALIVED_TOP: &[&str] = &[
    "global_defs",
    "vrrp_instance",
    "vrrp_sync_group",
    "vrrp_script",
    "vrrp_track_file",
    "vrrp_track_process",
    "track_file",
    "track_process",
    "virtual_server",
    "virtual_server_group",
    "static_ipaddress",
    "static_routes",
    "static_rules",
    "linkbeat_interfaces",
    "bfd_instance",
    "include",
];

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
    Block::ALL
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

    #[test]
    fn every_example_shows_its_own_node() {
        for info in [
            TopNode::INFO,
            InstanceNode::INFO,
            ScriptNode::INFO,
            SyncGroupNode::INFO,
            HookNode::INFO,
        ]
        .into_iter()
        .flatten()
        {
            let first = info.example.split([' ', '{']).next();
            assert_eq!(first, Some(info.name), "example of `{}`", info.name);
        }
    }

    #[test]
    fn one_list_per_block() {
        fn same<T: Copy + std::fmt::Debug + PartialEq>(
            info: &[NodeInfo],
            list: &[&str],
            from_name: impl Fn(&str) -> Option<T>,
            name: impl Fn(T) -> &'static str,
        ) {
            let names: Vec<&str> = info.iter().map(|n| n.name).collect();
            assert_eq!(names, list);
            for n in list {
                let node = from_name(n).expect("every listed name parses");
                assert_eq!(name(node), *n);
            }
            assert!(from_name("no-such-node").is_none());
        }
        same(TopNode::INFO, TOP, TopNode::from_name, TopNode::name);
        same(
            InstanceNode::INFO,
            INSTANCE,
            InstanceNode::from_name,
            InstanceNode::name,
        );
        same(
            ScriptNode::INFO,
            SCRIPT,
            ScriptNode::from_name,
            ScriptNode::name,
        );
        same(
            SyncGroupNode::INFO,
            SYNC_GROUP,
            SyncGroupNode::from_name,
            SyncGroupNode::name,
        );
        same(HookNode::INFO, HOOK, HookNode::from_name, HookNode::name);
    }

    #[test]
    fn a_name_means_the_same_in_every_block() {
        // `example` and `keepalived_alias` look names up across blocks: a node in two
        // blocks must have one example, and a keepalived keyword must name one node.
        for a in every_node() {
            for b in every_node().filter(|b| b.name == a.name) {
                assert_eq!(a.example, b.example, "{}", a.name);
            }
            for alias in a.keepalived {
                assert_eq!(keepalived_alias(alias), Some(a.name), "{alias}");
            }
            assert!(example(a.name).is_some());
        }
    }

    #[test]
    fn keepalived_hints() {
        let hint = |k, v| keepalived_hint(k, v).unwrap_or_default();
        assert!(hint("nopreempt", None).contains("`preempt #false`"));
        assert!(hint("state", Some("MASTER")).contains("the higher priority"));
        assert!(hint("state", Some("backup")).contains("a lower priority"));
        assert!(hint("state", None).contains("set `priority`"));
        assert_eq!(keepalived_hint("priority", None), None);
    }
}
