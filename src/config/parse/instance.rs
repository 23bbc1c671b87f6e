//! The `instance` block: its nodes, and the checks between them once the block is read
//! (required nodes, version against interval and authentication, address families, repeats).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use kdl::{KdlDocument, KdlNode, KdlValue};

use super::blocks::{hook_block, virtual_ip};
use super::shape::{entries, for_example, has_child, single, unknown_node, Children, Seen};
use super::values::{
    addr_of, block_name, duration_of, family, ifname_of, int_of, leaf, leaf_bool, leaf_duration,
    leaf_int, leaf_string, path_of, socket_addr_of, string_of, weight_prop, wrong_type, LONG_MAX,
    WEIGHT_RANGE,
};
use super::{Cx, Sp};
use crate::config::duration::format_duration;
use crate::config::error::{Problem, ProblemKind as K};
use crate::config::model::*;
use crate::config::schema::{did_you_mean, Block, Count, InstanceNode as N};
use crate::core::instance::WitnessPolicy;
use crate::core::packet::{ChecksumMode, Version};
use crate::witness::proto::DEFAULT_PORT;

/// Gratuitous ARP / NA bursts beyond this are a flood, not an announcement.
const GARP_REPEAT_MAX: i64 = 100;
/// keepalived caps preempt_delay at 1000 s; so do we.
const PREEMPT_DELAY_MAX: Duration = Duration::from_secs(1000);
/// A witness is on the LAN: its answer takes a round trip, and every millisecond waited
/// delays a real failover while the witness is down.
const WITNESS_TIMEOUT_RANGE: (Duration, Duration) =
    (Duration::from_millis(1), Duration::from_secs(1));

/// An instance while being parsed, with the spans the cross-checks point at.
pub(super) struct InstanceDraft {
    pub(super) name: String,
    pub(super) name_span: Sp,
    pub(super) interface: Option<(String, Sp)>,
    pub(super) vrid: Option<(u8, Sp)>,
    priority: Option<u8>,
    version: Option<(Version, Sp)>,
    advert_interval: Option<(Duration, Sp)>,
    preempt: Option<bool>,
    preempt_delay: Option<Duration>,
    accept: Option<bool>,
    authentication: Option<(String, Sp)>,
    pub(super) vips: Vec<(VirtualIp, Sp)>,
    unicast_source: Option<(IpAddr, Sp)>,
    peers: Vec<(IpAddr, Sp)>,
    track_interfaces: Vec<TrackInterface>,
    pub(super) track_scripts: Vec<(TrackScript, Sp)>,
    track_files: Vec<TrackFile>,
    garp_repeat: Option<u32>,
    garp_refresh: Option<Duration>,
    use_vmac: Option<bool>,
    v3_checksum: Option<ChecksumMode>,
    notify: Option<PathBuf>,
    hooks: Hooks,
    witnesses: Vec<(SocketAddr, Sp)>,
    witness_policy: Option<(WitnessPolicy, Sp)>,
    witness_timeout: Option<(Duration, Sp)>,
    witness_key_file: Option<(PathBuf, Sp)>,
    witness_key_credential: Option<(String, Sp)>,
}

/// `instance "NAME" { ... }`: every node, then the checks within the block; `None` when
/// the name is invalid (the block is still checked).
pub(super) fn instance(cx: &mut Cx, node: &KdlNode) -> Option<InstanceDraft> {
    let (args, _) = entries(cx, node, &[], Children::Required);
    // A block with a bad name is still checked inside, then dropped.
    let named = block_name(cx, node, &args);
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
        witnesses: Vec::new(),
        witness_policy: None,
        witness_timeout: None,
        witness_key_file: None,
        witness_key_credential: None,
    };
    let mut seen = Seen::default();
    let no_children = KdlDocument::new();
    for child in node.children().unwrap_or(&no_children).nodes() {
        let name = child.name().value();
        let Some(n) = N::from_name(name) else {
            unknown_node(cx, child, Block::Instance);
            continue;
        };
        if n.info().count == Count::Once && !seen.first(cx, child) {
            continue;
        }
        match n {
            N::Interface => {
                if let Some(e) = leaf(cx, child) {
                    d.interface = ifname_of(cx, name, e).map(|n| (n, e.span()));
                }
            }
            N::Vrid => d.vrid = leaf_int(cx, child, (1, 255)).map(|(v, s)| (v as u8, s)),
            N::Priority => d.priority = leaf_int(cx, child, (1, 255)).map(|(v, _)| v as u8),
            N::Version => {
                if let Some(e) = leaf(cx, child) {
                    d.version = match e.value() {
                        KdlValue::Integer(2) => Some((Version::V2, e.span())),
                        KdlValue::Integer(3) => Some((Version::V3, e.span())),
                        KdlValue::Integer(v) => {
                            cx.report(
                                Problem::new(K::OutOfRange, format!("VRRP version {v} does not exist"), e.span(), "must be 2 or 3")
                                    .help("use `version 2` (RFC 3768, IPv4 only) or `version 3` (RFC 9568, the default)"),
                            );
                            None
                        }
                        _ => {
                            wrong_type(cx, name, e, "the number 2 or 3");
                            None
                        }
                    };
                }
            }
            N::AdvertInterval => {
                // The range depends on the version; checked once the whole block is read.
                if let Some(e) = leaf(cx, child) {
                    d.advert_interval = duration_of(cx, name, e).map(|v| (v, e.span()));
                }
            }
            N::Preempt => d.preempt = leaf_bool(cx, child),
            N::PreemptDelay => {
                d.preempt_delay =
                    leaf_duration(cx, child, Duration::ZERO, PREEMPT_DELAY_MAX).map(|v| v.0)
            }
            N::Accept => d.accept = leaf_bool(cx, child),
            N::Authentication => {
                if let Some((pass, span)) = leaf_string(cx, child) {
                    if pass.len() > 8 {
                        cx.report(
                            Problem::new(K::OutOfRange, format!("authentication is {} bytes long", pass.len()), span, "longer than 8 bytes")
                                .help("VRRPv2 simple-text passwords are at most 8 bytes (keepalived truncates silently; vrrp-ha refuses)"),
                        );
                    } else {
                        d.authentication = Some((pass, span));
                    }
                }
            }
            N::VirtualIp => {
                if let Some(v) = virtual_ip(cx, child) {
                    d.vips.push(v);
                }
            }
            N::UnicastSource => {
                if let Some(e) = leaf(cx, child) {
                    d.unicast_source = addr_of(cx, name, e).map(|a| (a, e.span()));
                }
            }
            N::UnicastPeer => {
                if let Some(e) = leaf(cx, child) {
                    if let Some(a) = addr_of(cx, name, e) {
                        d.peers.push((a, e.span()));
                    }
                }
            }
            N::TrackInterface => {
                let (args, props) = entries(cx, child, &["weight"], Children::Forbidden);
                let ifname = single(cx, child, &args).and_then(|e| ifname_of(cx, name, e));
                let weight = weight_prop(cx, &props, 0);
                if let (Some(name), Some(weight)) = (ifname, weight) {
                    d.track_interfaces.push(TrackInterface { name, weight });
                }
            }
            N::TrackScript => {
                let (args, props) = entries(cx, child, &["weight"], Children::Forbidden);
                let script = single(cx, child, &args)
                    .and_then(|e| Some((string_of(cx, name, e)?, e.span())));
                let weight = match props.get("weight") {
                    Some(w) => int_of(cx, "weight", w, WEIGHT_RANGE).map(|w| Some(w as i32)),
                    None => Some(None),
                };
                if let (Some((name, span)), Some(weight)) = (script, weight) {
                    d.track_scripts.push((TrackScript { name, weight }, span));
                }
            }
            N::TrackFile => {
                let (args, props) = entries(cx, child, &["weight"], Children::Forbidden);
                let path = single(cx, child, &args).and_then(|e| path_of(cx, name, e));
                let weight = weight_prop(cx, &props, 1);
                if let (Some(path), Some(weight)) = (path, weight) {
                    d.track_files.push(TrackFile { path, weight });
                }
            }
            N::GarpRepeat => {
                d.garp_repeat = leaf_int(cx, child, (0, GARP_REPEAT_MAX)).map(|(v, _)| v as u32)
            }
            N::GarpRefresh => {
                d.garp_refresh = leaf_duration(cx, child, Duration::ZERO, LONG_MAX).map(|v| v.0)
            }
            N::UseVmac => d.use_vmac = leaf_bool(cx, child),
            N::V3Checksum => {
                if let Some((mode, span)) = leaf_string(cx, child) {
                    d.v3_checksum = match mode.as_str() {
                        "pseudo-header" => Some(ChecksumMode::PseudoHeader),
                        "message" => Some(ChecksumMode::Message),
                        other => {
                            let help = match did_you_mean(other, &["pseudo-header", "message"]) {
                                Some(s) => format!("did you mean \"{s}\"?"),
                                None => "use \"pseudo-header\" (keepalived, Wireshark) or \"message\" (RFC 9568, Cisco, Juniper)".to_string(),
                            };
                            cx.report(
                                Problem::new(
                                    K::BadValue,
                                    format!("unknown checksum mode \"{}\"", other.escape_debug()),
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
            N::Witness => {
                if let Some(e) = leaf(cx, child) {
                    if let Some(a) = socket_addr_of(cx, name, e, DEFAULT_PORT) {
                        d.witnesses.push((a, e.span()));
                    }
                }
            }
            N::WitnessPolicy => {
                if let Some((policy, span)) = leaf_string(cx, child) {
                    d.witness_policy = match policy.as_str() {
                        "available" => Some((WitnessPolicy::Available, span)),
                        "strict" => Some((WitnessPolicy::Strict, span)),
                        other => {
                            let help = match did_you_mean(other, &["available", "strict"]) {
                                Some(s) => format!("did you mean \"{s}\"?"),
                                None => "use \"available\" (take over as VRRP says when no witness answers) or \"strict\" (stay BACKUP)".to_string(),
                            };
                            cx.report(
                                Problem::new(
                                    K::BadValue,
                                    format!("unknown witness policy \"{}\"", other.escape_debug()),
                                    span,
                                    "unknown policy",
                                )
                                .help(help),
                            );
                            None
                        }
                    };
                }
            }
            N::WitnessTimeout => {
                let (min, max) = WITNESS_TIMEOUT_RANGE;
                d.witness_timeout = leaf_duration(cx, child, min, max);
            }
            N::WitnessKeyFile => {
                if let Some(e) = leaf(cx, child) {
                    d.witness_key_file = path_of(cx, name, e).map(|p| (p, e.span()));
                }
            }
            N::WitnessKeyCredential => {
                if let Some((cred, span)) = leaf_string(cx, child) {
                    // systemd's credential names are file names in $CREDENTIALS_DIRECTORY.
                    if cred.is_empty()
                        || cred.contains('/')
                        || cred == "."
                        || cred == ".."
                        || cred.len() > 255
                    {
                        cx.report(
                            Problem::new(
                                K::BadValue,
                                format!("\"{}\" is not a credential name", cred.escape_debug()),
                                span,
                                "not a file name",
                            )
                            .help("a credential is named as in the unit's `LoadCredential=NAME:/path`: a file name without '/', e.g. \"witness.key\""),
                        );
                    } else {
                        d.witness_key_credential = Some((cred, span));
                    }
                }
            }
            N::Notify => {
                if let Some(e) = leaf(cx, child) {
                    d.notify = path_of(cx, name, e);
                }
            }
            N::OnMaster => d.hooks.on_master = hook_block(cx, child),
            N::OnBackup => d.hooks.on_backup = hook_block(cx, child),
            N::OnFault => d.hooks.on_fault = hook_block(cx, child),
            N::OnStop => d.hooks.on_stop = hook_block(cx, child),
        }
    }
    check_instance(cx, node, &d);
    named.map(|_| d)
}

/// Checks within one instance once all its nodes are read.
fn check_instance(cx: &mut Cx, node: &KdlNode, d: &InstanceDraft) {
    let at = d.name_span;
    let this = if d.name.is_empty() {
        "this instance".to_string()
    } else {
        format!("instance `{}`", d.name)
    };
    for (parsed, required) in [
        (d.interface.is_some(), N::Interface),
        (d.vrid.is_some(), N::Vrid),
        (!d.vips.is_empty(), N::VirtualIp),
    ] {
        let what = required.name();
        if !parsed && !has_child(node, what) {
            cx.report(
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
    let version_known = d.version.is_some() || !has_child(node, N::Version.name());
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
                        format!("advert-interval {} cannot be sent in VRRPv2", format_duration(interval)),
                        span,
                        "not whole seconds 1..=255",
                    )
                    .help("VRRPv2 adverts carry whole seconds from \"1s\" to \"255s\"; use `version 3` for sub-second intervals");
                    if let Some((_, vs)) = d.version {
                        p = p.also(vs, "version 2 set here");
                    }
                    cx.report(p);
                }
            }
            Version::V3 => {
                if interval.as_nanos() % 10_000_000 != 0 || !(1..=4095).contains(&cs) {
                    cx.report(
                        Problem::new(
                            K::OutOfRange,
                            format!(
                                "advert-interval {} cannot be sent in VRRPv3{version_note}",
                                format_duration(interval)
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
        .help(
            "VRRPv3 has no authentication (RFC 9568): add `version 2` or remove `authentication`",
        );
        if let Some((_, vs)) = d.version {
            p = p.also(vs, "version 3 set here");
        }
        cx.report(p);
    }
    // The first VIP sets the instance's family; everything else must follow it.
    if let Some((first, first_span)) = d.vips.first() {
        let v6 = first.addr.is_ipv6();
        for (vip, span) in &d.vips[1..] {
            if vip.addr.is_ipv6() != v6 {
                cx.report(
                    Problem::new(K::Conflict, format!("instance `{}` mixes IPv4 and IPv6 virtual IPs", d.name), *span, format!("{} address", family(&vip.addr)))
                        .also(*first_span, format!("the first virtual IP makes this an {} instance", family(&first.addr)))
                        .help("one VRRP instance carries one address family: put IPv4 and IPv6 VIPs in two instances (they may share the vrid)"),
                );
            }
        }
        for (peer, span) in d.peers.iter().chain(d.unicast_source.iter()) {
            if peer.is_ipv6() != v6 {
                cx.report(
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
                cx.report(p.help("VRRPv2 is IPv4 only (RFC 3768): use `version 3`"));
                break;
            }
        }
    }
    let mut vips: HashMap<IpAddr, Sp> = HashMap::new();
    for (vip, span) in &d.vips {
        if let Some(first) = vips.insert(vip.addr, *span) {
            cx.report(
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
            cx.report(
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
                cx.report(
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
    check_witness(cx, node, d, &this);
    if let (Some((_, span)), true) = (
        d.unicast_source,
        d.peers.is_empty() && !has_child(node, N::UnicastPeer.name()),
    ) {
        cx.report(
            Problem::new(
                K::Missing,
                "unicast-source without any unicast-peer",
                span,
                "no peer to send to",
            )
            .help(format!(
                "add the other routers, {}; or remove unicast-source to use multicast",
                for_example(N::UnicastPeer.name())
            )),
        );
    }
}

/// The witness settings of one instance, together.
fn check_witness(cx: &mut Cx, node: &KdlNode, d: &InstanceDraft, this: &str) {
    let any_witness = !d.witnesses.is_empty() || has_child(node, N::Witness.name());
    let key_given = d.witness_key_file.is_some()
        || d.witness_key_credential.is_some()
        || has_child(node, N::WitnessKeyFile.name())
        || has_child(node, N::WitnessKeyCredential.name());
    if let (Some((_, first)), false) = (d.witnesses.first(), key_given) {
        cx.report(
            Problem::new(
                K::Missing,
                format!("{this} has a witness but no witness key"),
                *first,
                "witness without a key",
            )
            .help(
                "add the key the nodes share with their witnesses: `witness-key-file \
                 \"/etc/vrrp-ha/witness.key\"`, or `witness-key-credential \"witness.key\"` \
                 with systemd's LoadCredential= (a witness answers only authenticated queries)",
            ),
        );
    }
    if let (Some((_, file)), Some((_, cred))) = (&d.witness_key_file, &d.witness_key_credential) {
        cx.report(
            Problem::new(K::Conflict, "two witness keys", *cred, "second key source")
                .also(*file, "first key source")
                .help("give the key once: `witness-key-file` or `witness-key-credential`"),
        );
    }
    if !any_witness {
        let spans = [
            (N::WitnessPolicy, d.witness_policy.map(|v| v.1)),
            (N::WitnessTimeout, d.witness_timeout.map(|v| v.1)),
            (N::WitnessKeyFile, d.witness_key_file.as_ref().map(|v| v.1)),
            (
                N::WitnessKeyCredential,
                d.witness_key_credential.as_ref().map(|v| v.1),
            ),
        ];
        for (n, span) in spans {
            if let Some(span) = span {
                cx.report(
                    Problem::new(
                        K::Missing,
                        format!("`{}` without any `witness`", n.name()),
                        span,
                        "no witness to use it for",
                    )
                    .help(format!(
                        "add the witnesses, {}; or remove `{}`",
                        for_example(N::Witness.name()),
                        n.name()
                    )),
                );
            }
        }
    }
    let mut seen: HashMap<SocketAddr, Sp> = HashMap::new();
    for (addr, span) in &d.witnesses {
        if let Some(first) = seen.insert(*addr, *span) {
            cx.report(
                Problem::new(
                    K::Duplicate,
                    format!("witness {addr} is listed twice"),
                    *span,
                    "again here",
                )
                .also(first, "first here")
                .help("list each witness once"),
            );
        }
    }
}

impl InstanceDraft {
    /// The witness settings, when there are witnesses and a key.
    fn witness(&self) -> Option<Witness> {
        if self.witnesses.is_empty() {
            return None;
        }
        let key = match (&self.witness_key_file, &self.witness_key_credential) {
            (Some((p, _)), _) => WitnessKey::File(p.clone()),
            (None, Some((c, _))) => WitnessKey::Credential(c.clone()),
            (None, None) => return None,
        };
        Some(Witness {
            addrs: self.witnesses.iter().map(|w| w.0).collect(),
            policy: self
                .witness_policy
                .map_or(WitnessPolicy::Available, |v| v.0),
            timeout: self.witness_timeout.map_or(WITNESS_TIMEOUT, |v| v.0),
            key,
        })
    }

    /// The validated instance, when all required parts are present.
    pub(super) fn finish(self) -> Option<Instance> {
        let d = self;
        let witness = d.witness();
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
            witness,
        })
    }
}
