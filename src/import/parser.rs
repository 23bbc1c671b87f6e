//! keepalived's block layer (`process_stream()` and `alloc_value_block()` in its
//! lib/parser.c, 2.2.7) with the VRRP keyword tables, turning [`Tok`]s into a [`Model`].
//!
//! Mistakes keepalived tolerates are followed as it follows them, and reported: an unknown
//! keyword is skipped but the `{` after it is "unexpected" and ignored, so its contents are
//! read at the current level and its `}` closes the enclosing block; a value block
//! (`virtual_ipaddress`, `track_script`, ...) without `{` reads lines up to the next `}`;
//! an unclosed block ends at the end of the input.

use std::net::IpAddr;

use super::reader::{Line, Tok};
use super::{Diag, Level, Src};

/// A keepalived `vrrp_instance`, as read.
#[derive(Clone, Debug, Default)]
pub struct Inst {
    pub name: String,
    pub src: Src,
    /// `state MASTER` (true) or `BACKUP`.
    pub state: Option<(bool, Src)>,
    pub interface: Option<(String, Src)>,
    pub vrid: Option<(u8, Src)>,
    pub priority: Option<(u8, Src)>,
    /// `advert_int` in microseconds.
    pub advert_us: Option<(u64, Src)>,
    pub version: Option<(u8, Src)>,
    /// The address family keepalived deduced (from the first address that set it).
    pub ipv6: Option<bool>,
    pub native_ipv6: Option<Src>,
    pub nopreempt: Option<Src>,
    pub preempt_delay_us: Option<(u64, Src)>,
    pub auth_type: Option<(String, Src)>,
    pub auth_pass: Option<(String, Src)>,
    pub vips: Vec<Vip>,
    pub evips: Vec<Vip>,
    pub unicast_src: Option<(IpAddr, Src)>,
    pub peers: Vec<(IpAddr, Src)>,
    pub track_ifs: Vec<(String, i32, Src)>,
    pub track_scripts: Vec<(String, Option<i32>, Src)>,
    /// Track file path, weight (resolved when read), unused flag.
    pub track_files: Vec<(String, Option<i32>, bool, Src)>,
    pub notify: Option<Cmd>,
    pub notify_master: Option<Cmd>,
    pub notify_backup: Option<Cmd>,
    pub notify_fault: Option<Cmd>,
    pub notify_stop: Option<Cmd>,
    pub garp_delay: Option<(u32, Src)>,
    pub garp_repeat: Option<(u32, Src)>,
    pub garp_refresh: Option<(u32, Src)>,
    pub use_vmac: Option<Src>,
    pub accept: Option<(bool, Src)>,
    pub strict: Option<(bool, Src)>,
}

/// One `virtual_ipaddress` line.
#[derive(Clone, Debug)]
pub struct Vip {
    pub addr: IpAddr,
    pub prefix: u8,
    pub dev: Option<String>,
    pub label: Option<String>,
    pub src: Src,
}

/// A script line (`script`, `notify*`): keepalived's raw line and where it is.
#[derive(Clone, Debug)]
pub struct Cmd {
    /// The words as keepalived's quoted-escaped split gives them: keyword, command, user, group.
    pub words: Vec<String>,
    pub src: Src,
}

/// A `vrrp_script`.
#[derive(Clone, Debug, Default)]
pub struct Scr {
    pub name: String,
    pub src: Src,
    pub script: Option<Cmd>,
    pub interval: Option<(u32, Src)>,
    pub timeout: Option<(u32, Src)>,
    pub rise: Option<(u32, Src)>,
    pub fall: Option<(u32, Src)>,
    pub weight: Option<(i32, Src)>,
    pub user: Option<(String, Src)>,
}

/// A `vrrp_sync_group`.
#[derive(Clone, Debug, Default)]
pub struct Group {
    pub name: String,
    pub src: Src,
    pub members: Vec<(String, Src)>,
    pub notify: Option<Cmd>,
    pub notify_master: Option<Cmd>,
    pub notify_backup: Option<Cmd>,
    pub notify_fault: Option<Cmd>,
    pub notify_stop: Option<Cmd>,
}

/// A `track_file` / `vrrp_track_file`.
#[derive(Clone, Debug, Default)]
pub struct TFile {
    pub name: String,
    pub path: Option<(String, Src)>,
    pub weight: i32,
    pub reverse: bool,
    pub init: Option<Src>,
}

/// Everything the VRRP side of a keepalived configuration says that import translates.
#[derive(Clone, Debug, Default)]
pub struct Model {
    pub router_id: Option<(String, Src)>,
    pub vrrp_version: Option<(u8, Src)>,
    pub garp_delay: Option<(u32, Src)>,
    pub garp_repeat: Option<(u32, Src)>,
    pub garp_refresh: Option<(u32, Src)>,
    pub script_user: Option<(String, Src)>,
    pub script_security: Option<Src>,
    pub strict: Option<Src>,
    pub instances: Vec<Inst>,
    pub scripts: Vec<Scr>,
    pub groups: Vec<Group>,
    pub track_files: Vec<TFile>,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Ctx {
    Top,
    Global,
    Instance,
    Auth,
    Script,
    Group,
    TrackFile,
}

impl Ctx {
    fn name(self) -> &'static str {
        match self {
            Ctx::Top => "the top level",
            Ctx::Global => "global_defs",
            Ctx::Instance => "vrrp_instance",
            Ctx::Auth => "authentication",
            Ctx::Script => "vrrp_script",
            Ctx::Group => "vrrp_sync_group",
            Ctx::TrackFile => "track_file",
        }
    }
}

/// How a keyword takes its values.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Shape {
    /// Values on its own line.
    Leaf,
    /// A `{ ... }` block of value lines (`alloc_value_block()`).
    Value,
    /// A `{ ... }` block of keywords.
    Sub,
}

/// Translated (`true`) or only known to keepalived, and its shape.
fn keyword(ctx: Ctx, kw: &str) -> Option<(bool, Shape)> {
    use Shape::*;
    let t = |s| Some((true, s));
    let k = |s| Some((false, s));
    match (ctx, kw) {
        (Ctx::Top, "global_defs") => t(Sub),
        (Ctx::Top, "vrrp_instance" | "vrrp_script" | "vrrp_sync_group") => t(Sub),
        (Ctx::Top, "track_file" | "vrrp_track_file") => t(Sub),
        (
            Ctx::Top,
            "virtual_server"
            | "virtual_server_group"
            | "bfd_instance"
            | "vrrp_track_process"
            | "track_group"
            | "garp_group"
            | "SSL",
        ) => k(Sub),
        (
            Ctx::Top,
            "static_ipaddress"
            | "static_routes"
            | "static_rules"
            | "linkbeat_interfaces"
            | "interface_up_down_delays",
        ) => k(Value),
        (
            Ctx::Top,
            "net_namespace"
            | "net_namespace_ipvs"
            | "namespace_with_ipsets"
            | "use_pid_dir"
            | "instance"
            | "child_wait_time"
            | "linkbeat_use_polling",
        ) => k(Leaf),
        (
            Ctx::Global,
            "router_id"
            | "vrrp_version"
            | "vrrp_garp_master_delay"
            | "vrrp_garp_master_repeat"
            | "vrrp_garp_master_refresh"
            | "script_user"
            | "enable_script_security"
            | "vrrp_strict",
        ) => t(Leaf),
        (Ctx::Global, "notification_email") => k(Value),
        (Ctx::Global, kw) if GLOBAL_KEYWORDS.contains(&kw) => k(Leaf),
        (
            Ctx::Instance,
            "state"
            | "interface"
            | "virtual_router_id"
            | "priority"
            | "advert_int"
            | "version"
            | "native_ipv6"
            | "nopreempt"
            | "preempt"
            | "preempt_delay"
            | "unicast_src_ip"
            | "notify"
            | "notify_master"
            | "notify_backup"
            | "notify_fault"
            | "notify_stop"
            | "garp_master_delay"
            | "garp_master_repeat"
            | "garp_master_refresh"
            | "use_vmac"
            | "accept"
            | "no_accept"
            | "strict_mode",
        ) => t(Leaf),
        (
            Ctx::Instance,
            "virtual_ipaddress"
            | "virtual_ipaddress_excluded"
            | "unicast_peer"
            | "track_interface"
            | "track_script"
            | "track_file",
        ) => t(Value),
        (Ctx::Instance, "authentication") => t(Sub),
        (Ctx::Instance, "virtual_routes" | "virtual_rules" | "track_process" | "track_bfd") => {
            k(Value)
        }
        (Ctx::Instance, kw) if INSTANCE_KEYWORDS.contains(&kw) => k(Leaf),
        (Ctx::Auth, "auth_type" | "auth_pass") => t(Leaf),
        (Ctx::Script, "script" | "interval" | "timeout" | "weight" | "rise" | "fall" | "user") => {
            t(Leaf)
        }
        (Ctx::Script, "init_fail") => k(Leaf),
        (Ctx::Group, "group") => t(Value),
        (
            Ctx::Group,
            "notify" | "notify_master" | "notify_backup" | "notify_fault" | "notify_stop",
        ) => t(Leaf),
        (
            Ctx::Group,
            "track_interface" | "track_script" | "track_file" | "track_process" | "track_bfd",
        ) => k(Value),
        (
            Ctx::Group,
            "smtp_alert"
            | "global_tracking"
            | "sync_group_tracking_weight"
            | "notify_priority_changes",
        ) => k(Leaf),
        (Ctx::TrackFile, "file" | "weight" | "init_file") => t(Leaf),
        _ => None,
    }
}

/// keepalived 2.2.7's global_defs keywords (from its global_parser.c).
const GLOBAL_KEYWORDS: &[&str] = &[
    "bfd_cpu_affinity",
    "bfd_no_swap",
    "bfd_priority",
    "bfd_process_name",
    "bfd_rlimit_rtime",
    "bfd_rlimit_rttime",
    "bfd_rt_priority",
    "checker_cpu_affinity",
    "checker_log_all_failures",
    "checker_no_swap",
    "checker_priority",
    "checker_process_name",
    "checker_rlimit_rtime",
    "checker_rlimit_rttime",
    "checker_rt_priority",
    "config_save_dir",
    "data_use_instance",
    "dbus_service_name",
    "default_interface",
    "disable_local_igmp",
    "dynamic_interfaces",
    "enable_dbus",
    "enable_snmp_checker",
    "enable_snmp_keepalived",
    "enable_snmp_rfc",
    "enable_snmp_rfcv2",
    "enable_snmp_rfcv3",
    "enable_snmp_vrrp",
    "enable_traps",
    "fifo_write_vrrp_states_on_reload",
    "include_check",
    "log_unknown_vrids",
    "lvs_flush",
    "lvs_flush_on_stop",
    "lvs_flush_onstop",
    "lvs_id",
    "lvs_netlink_cmd_rcv_bufs",
    "lvs_netlink_cmd_rcv_bufs_force",
    "lvs_netlink_monitor_rcv_bufs",
    "lvs_netlink_monitor_rcv_bufs_force",
    "lvs_notify_fifo",
    "lvs_notify_fifo_script",
    "lvs_process_name",
    "lvs_sync_daemon",
    "lvs_timeouts",
    "max_auto_priority",
    "min_auto_priority_delay",
    "nftables",
    "nftables_counters",
    "nftables_ifindex",
    "nftables_ipvs",
    "nftables_ipvs_priority",
    "nftables_ipvs_start_fwmark",
    "nftables_priority",
    "no_checker_emails",
    "no_email_faults",
    "notification_email_from",
    "notify_fifo",
    "notify_fifo_script",
    "process_monitor_rcv_bufs",
    "process_monitor_rcv_bufs_force",
    "process_name",
    "process_names",
    "random_seed",
    "reload_check_config",
    "reload_file",
    "reload_repeat",
    "reload_time_file",
    "rs_init_notifies",
    "shutdown_script",
    "shutdown_script_timeout",
    "smtp_alert",
    "smtp_alert_checker",
    "smtp_alert_vrrp",
    "smtp_connect_timeout",
    "smtp_helo_name",
    "smtp_server",
    "snmp_socket",
    "startup_script",
    "startup_script_timeout",
    "tmp_config_directory",
    "umask",
    "vmac_addr_prefix",
    "vmac_prefix",
    "vrrp_check_unicast_src",
    "vrrp_cpu_affinity",
    "vrrp_down_timer_adverts",
    "vrrp_garp_extra_if",
    "vrrp_garp_interval",
    "vrrp_garp_lower_prio_delay",
    "vrrp_garp_lower_prio_repeat",
    "vrrp_garp_master_refresh_repeat",
    "vrrp_gna_interval",
    "vrrp_higher_prio_send_advert",
    "vrrp_ipsets",
    "vrrp_iptables",
    "vrrp_lower_prio_no_advert",
    "vrrp_mcast_group4",
    "vrrp_mcast_group6",
    "vrrp_min_garp",
    "vrrp_netlink_cmd_rcv_bufs",
    "vrrp_netlink_cmd_rcv_bufs_force",
    "vrrp_netlink_monitor_rcv_bufs",
    "vrrp_netlink_monitor_rcv_bufs_force",
    "vrrp_no_swap",
    "vrrp_notify_fifo",
    "vrrp_notify_fifo_script",
    "vrrp_notify_priority_changes",
    "vrrp_priority",
    "vrrp_process_name",
    "vrrp_rlimit_rtime",
    "vrrp_rlimit_rttime",
    "vrrp_rt_priority",
    "vrrp_rx_bufs_multiplier",
    "vrrp_rx_bufs_policy",
    "vrrp_skip_check_adv_addr",
    "vrrp_startup_delay",
    "vrrp_vmac_garp_intvl",
    "linkbeat_use_polling",
];

/// keepalived 2.2.7's other vrrp_instance keywords (from its vrrp_parser.c).
const INSTANCE_KEYWORDS: &[&str] = &[
    "use_vmac_addr",
    "vmac_xmit_base",
    "use_ipvlan",
    "unicast_fault_no_peer",
    "check_unicast_src",
    "old_unicast_checksum",
    "vrf",
    "dont_track_primary",
    "mcast_src_ip",
    "mcast_dst_ip",
    "track_src_ip",
    "unicast_ttl",
    "promote_secondaries",
    "linkbeat_use_polling",
    "skip_check_adv_addr",
    "debug",
    "notify_deleted",
    "notify_master_rx_lower_pri",
    "smtp_alert",
    "notify_priority_changes",
    "lvs_sync_daemon_interface",
    "garp_master_refresh_repeat",
    "garp_lower_prio_delay",
    "garp_lower_prio_repeat",
    "down_timer_adverts",
    "garp_extra_if",
    "vmac_garp_intvl",
    "lower_prio_no_advert",
    "higher_prio_send_advert",
    "kernel_rx_buf_size",
];

/// The translated keywords of each block, for "did you mean".
const TRANSLATED: &[(Ctx, &[&str])] = &[
    (
        Ctx::Top,
        &[
            "global_defs",
            "vrrp_instance",
            "vrrp_script",
            "vrrp_sync_group",
            "track_file",
            "vrrp_track_file",
        ],
    ),
    (
        Ctx::Global,
        &[
            "router_id",
            "vrrp_version",
            "vrrp_garp_master_delay",
            "vrrp_garp_master_repeat",
            "vrrp_garp_master_refresh",
            "script_user",
            "enable_script_security",
            "vrrp_strict",
        ],
    ),
    (
        Ctx::Instance,
        &[
            "state",
            "interface",
            "virtual_router_id",
            "priority",
            "advert_int",
            "version",
            "native_ipv6",
            "nopreempt",
            "preempt",
            "preempt_delay",
            "unicast_src_ip",
            "notify",
            "notify_master",
            "notify_backup",
            "notify_fault",
            "notify_stop",
            "garp_master_delay",
            "garp_master_repeat",
            "garp_master_refresh",
            "use_vmac",
            "accept",
            "no_accept",
            "strict_mode",
            "virtual_ipaddress",
            "virtual_ipaddress_excluded",
            "unicast_peer",
            "track_interface",
            "track_script",
            "track_file",
            "authentication",
        ],
    ),
    (Ctx::Auth, &["auth_type", "auth_pass"]),
    (
        Ctx::Script,
        &[
            "script", "interval", "timeout", "weight", "rise", "fall", "user",
        ],
    ),
    (
        Ctx::Group,
        &[
            "group",
            "notify",
            "notify_master",
            "notify_backup",
            "notify_fault",
            "notify_stop",
        ],
    ),
    (Ctx::TrackFile, &["file", "weight", "init_file"]),
];

/// The closest keyword of the block to a misspelt one (`priorty` -> `priority`).
fn did_you_mean(ctx: Ctx, kw: &str) -> Option<&'static str> {
    let known = TRANSLATED
        .iter()
        .find(|(c, _)| *c == ctx)
        .map_or(&[][..], |(_, k)| *k);
    let extra: &[&str] = match ctx {
        Ctx::Global => GLOBAL_KEYWORDS,
        Ctx::Instance => INSTANCE_KEYWORDS,
        _ => &[],
    };
    let norm = kw.replace('-', "_").to_ascii_lowercase();
    known
        .iter()
        .chain(extra)
        .map(|k| (strsim::levenshtein(&norm, k), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 5))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// What to do instead of a keyword import does not translate.
fn instead(kw: &str) -> &'static str {
    match kw {
        "virtual_server" | "virtual_server_group" | "SSL" | "real_server" => {
            "LVS load balancing stays with keepalived (run it with --check only) or moves to nginx/haproxy upstreams"
        }
        "bfd_instance" | "track_bfd" => {
            "vrrp-ha has no BFD; track the peer's reachability with a script (script \"...\" { exec ... })"
        }
        "vrrp_track_process" | "track_process" => {
            "track the process with a script, e.g. exec \"/usr/bin/pgrep\" \"-x\" \"nginx\""
        }
        "static_ipaddress" | "static_routes" | "static_rules" | "virtual_routes"
        | "virtual_rules" => {
            "configure addresses, routes and rules with systemd-networkd or ifupdown, or in on-master/on-backup exec actions"
        }
        "net_namespace" | "net_namespace_ipvs" | "namespace_with_ipsets" => {
            "run vrrp-ha inside the namespace instead: NetworkNamespacePath= in a drop-in for its unit"
        }
        "notification_email" | "notification_email_from" | "smtp_server" | "smtp_connect_timeout"
        | "smtp_alert" | "smtp_helo_name" | "smtp_alert_vrrp" | "smtp_alert_checker" => {
            "vrrp-ha sends no e-mail; send it from an on-master/on-fault exec action or watch the journal"
        }
        "enable_snmp_keepalived" | "enable_snmp_vrrp" | "enable_snmp_checker" | "enable_snmp_rfc"
        | "enable_snmp_rfcv2" | "enable_snmp_rfcv3" | "enable_traps" | "snmp_socket" => {
            "vrrp-ha has no SNMP agent; `vrrp-ha status` and the journal show the state"
        }
        "vrrp_iptables" | "vrrp_ipsets" | "nftables" | "nftables_priority" | "nftables_counters"
        | "nftables_ifindex" => {
            "vrrp-ha installs no firewall rules; write the rules you want with nftables"
        }
        "mcast_src_ip" => {
            "vrrp-ha sends multicast adverts from the interface's primary address; make that address the one you want"
        }
        "notify_fifo" | "vrrp_notify_fifo" | "notify_fifo_script" | "vrrp_notify_fifo_script" => {
            "use notify \"PATH\" or on-master/on-backup/on-fault actions instead of a FIFO"
        }
        "dont_track_primary" => {
            "vrrp-ha always tracks the instance's interface; it goes to FAULT while it is down"
        }
        _ => "see vrrp-ha.kdl(5) for what vrrp-ha offers; the journal and `vrrp-ha status` cover most monitoring",
    }
}

struct Parser<'a> {
    toks: &'a [Tok],
    i: usize,
    diags: &'a mut Vec<Diag>,
    m: Model,
}

/// Reads the tokens with keepalived's keyword tables.
pub fn parse(toks: &[Tok], diags: &mut Vec<Diag>) -> Model {
    let mut p = Parser {
        toks,
        i: 0,
        diags,
        m: Model::default(),
    };
    p.block(Ctx::Top, false, None);
    p.m
}

fn warn(src: Src, msg: impl Into<String>) -> Diag {
    Diag::new(Level::Warning, Some(src), msg)
}

fn note(src: Src, msg: impl Into<String>) -> Diag {
    Diag::new(Level::Note, Some(src), msg)
}

impl Parser<'_> {
    fn push(&mut self, d: Diag) {
        self.diags.push(d);
    }

    fn next(&mut self) -> Option<&Tok> {
        let t = self.toks.get(self.i)?;
        self.i += 1;
        Some(t)
    }

    fn peek_open(&self) -> bool {
        matches!(self.toks.get(self.i), Some(Tok::Open(_)))
    }

    /// keepalived's `process_stream()` for one block. `opener` is the keyword line that
    /// opened it (for "not closed" diagnostics).
    fn block(&mut self, ctx: Ctx, need_bob: bool, opener: Option<Src>) {
        let mut need_bob = need_bob;
        loop {
            let Some(tok) = self.next().cloned() else {
                if let Some(src) = opener {
                    self.push(
                        warn(
                            src,
                            format!(
                                "this {} block is not closed before the end of the input",
                                ctx.name()
                            ),
                        )
                        .label("opened here")
                        .help("keepalived reads it to the end of the file; add the missing `}`"),
                    );
                }
                return;
            };
            match tok {
                Tok::Open(src) => {
                    if need_bob {
                        need_bob = false;
                        continue;
                    }
                    self.push(
                        warn(src, "unexpected `{`; keepalived ignores it and reads what follows as part of the enclosing block")
                            .label("ignored")
                            .help("a `{` belongs after a keyword that takes a block; is the keyword before it misspelt or in the wrong block?"),
                    );
                }
                Tok::Close(src) => {
                    if ctx != Ctx::Top {
                        return;
                    }
                    self.push(
                        warn(src, "extra `}` at the top level; keepalived ignores it")
                            .label("closes nothing")
                            .help("remove it, or look for a block that was closed early"),
                    );
                }
                Tok::Line(line) => {
                    if need_bob {
                        need_bob = false;
                        self.push(
                            warn(line.src, "missing `{` at the beginning of the block; keepalived reads on as if it were there")
                                .label("expected `{` before this")
                                .help("put `{` after the block's keyword"),
                        );
                    }
                    self.keyword_line(ctx, &line);
                }
            }
        }
    }

    fn keyword_line(&mut self, ctx: Ctx, line: &Line) {
        let kw = line.kw().to_string();
        match keyword(ctx, &kw) {
            None => {
                let elsewhere = [
                    Ctx::Top,
                    Ctx::Global,
                    Ctx::Instance,
                    Ctx::Script,
                    Ctx::Group,
                ]
                .into_iter()
                .find(|c| *c != ctx && keyword(*c, &kw).is_some());
                let help = match elsewhere {
                    Some(c) => format!(
                        "`{kw}` belongs in {}, not in {}; keepalived ignores it here (and an `{{` after it, so its `}}` closes this block)",
                        c.name(),
                        ctx.name()
                    ),
                    None => match did_you_mean(ctx, &kw) {
                        Some(k) => format!("did you mean `{k}`? keepalived logs \"Unknown keyword '{kw}'\" and goes on"),
                        None => format!(
                            "keepalived logs \"Unknown keyword '{kw}'\" and goes on; check the spelling against keepalived.conf(5)"
                        ),
                    },
                };
                let msg = if elsewhere.is_some() {
                    format!("`{kw}` is not a keyword of {}", ctx.name())
                } else {
                    format!("unknown keyword `{kw}`")
                };
                self.push(
                    warn(line.at(0), msg)
                        .label("ignored by keepalived")
                        .help(help),
                );
            }
            Some((false, shape)) => {
                self.push(
                    warn(line.at(0), format!("`{kw}` is not translated"))
                        .label("left out")
                        .help(instead(&kw)),
                );
                match shape {
                    Shape::Leaf => {}
                    Shape::Value => {
                        self.value_block(line);
                    }
                    Shape::Sub => self.skip_block(),
                }
            }
            Some((true, shape)) => match shape {
                Shape::Leaf => self.leaf(ctx, line),
                Shape::Value => {
                    let values = self.value_block(line);
                    self.values(ctx, line, &values);
                }
                Shape::Sub => self.sub(ctx, line),
            },
        }
    }

    /// Skips a `{ ... }` block after a keyword that is not translated (keepalived's
    /// `skip_block()`): nothing to skip when no `{` follows.
    fn skip_block(&mut self) {
        if !self.peek_open() {
            return;
        }
        let mut depth = 0usize;
        while let Some(t) = self.next() {
            match t {
                Tok::Open(_) => depth += 1,
                Tok::Close(_) => {
                    depth -= 1;
                    if depth == 0 {
                        return;
                    }
                }
                Tok::Line(_) => {}
            }
        }
    }

    /// keepalived's `alloc_value_block()`: the lines up to the next `}`.
    fn value_block(&mut self, kw: &Line) -> Vec<Line> {
        if kw.words.len() > 1 {
            self.push(
                warn(kw.at(1), format!("`{}` takes a block; keepalived ignores the words after it on this line and reads the lines up to the next `}}` as its values", kw.kw()))
                    .label("ignored")
                    .help(format!("write `{} {{ {} }}`", kw.kw(), kw.words[1..].iter().map(|w| w.text.as_str()).collect::<Vec<_>>().join(" "))),
            );
        }
        let mut out = Vec::new();
        let mut first = true;
        loop {
            let Some(t) = self.next().cloned() else {
                self.push(
                    warn(
                        kw.src,
                        format!(
                            "the `{}` block is not closed before the end of the input",
                            kw.kw()
                        ),
                    )
                    .label("opened here")
                    .help("keepalived reads it to the end of the file; add the missing `}`"),
                );
                return out;
            };
            match t {
                Tok::Open(src) => {
                    if first {
                        first = false;
                        continue;
                    }
                    out.push(Line {
                        words: vec![super::reader::Word {
                            text: "{".to_string(),
                            src,
                        }],
                        raw: "{".to_string(),
                        src,
                    });
                }
                Tok::Close(_) => return out,
                Tok::Line(l) => {
                    if first {
                        first = false;
                        self.push(
                            warn(l.src, format!("`{{` missing after `{}`; keepalived reads this and the following lines up to the next `}}` as its values", kw.kw()))
                                .label("read as a value")
                                .help(format!("put `{{` after `{}`", kw.kw())),
                        );
                    }
                    out.push(l);
                }
            }
        }
    }

    fn sub(&mut self, ctx: Ctx, line: &Line) {
        let kw = line.kw();
        let named = |p: &mut Self| -> Option<String> {
            if line.words.len() != 2 {
                p.push(
                    warn(
                        line.src,
                        format!("`{kw}` needs exactly one name; keepalived skips the whole block"),
                    )
                    .label("skipped")
                    .help(format!("write `{kw} NAME {{ ... }}`")),
                );
                p.skip_block();
                return None;
            }
            Some(line.words[1].text.clone())
        };
        match (ctx, kw) {
            (Ctx::Top, "global_defs") => self.block(Ctx::Global, true, Some(line.src)),
            (Ctx::Top, "vrrp_instance") => {
                let Some(name) = named(self) else { return };
                if self.m.instances.iter().any(|i| i.name == name) {
                    self.push(
                        warn(line.at(1), format!("vrrp_instance {name} is already defined; keepalived skips this one"))
                            .label("skipped")
                            .help("give each vrrp_instance its own name"),
                    );
                    self.skip_block();
                    return;
                }
                self.m.instances.push(Inst {
                    name,
                    src: line.src,
                    ..Inst::default()
                });
                self.block(Ctx::Instance, true, Some(line.src));
            }
            (Ctx::Top, "vrrp_script") => {
                let Some(name) = named(self) else { return };
                self.m.scripts.push(Scr {
                    name,
                    src: line.src,
                    ..Scr::default()
                });
                self.block(Ctx::Script, true, Some(line.src));
            }
            (Ctx::Top, "vrrp_sync_group") => {
                let Some(name) = named(self) else { return };
                self.m.groups.push(Group {
                    name,
                    src: line.src,
                    ..Group::default()
                });
                self.block(Ctx::Group, true, Some(line.src));
            }
            (Ctx::Top, "track_file" | "vrrp_track_file") => {
                let Some(name) = named(self) else { return };
                self.m.track_files.push(TFile {
                    name,
                    weight: 1,
                    ..TFile::default()
                });
                self.block(Ctx::TrackFile, true, Some(line.src));
            }
            (Ctx::Instance, "authentication") => self.block(Ctx::Auth, true, Some(line.src)),
            _ => self.skip_block(),
        }
    }

    fn need_arg(&mut self, line: &Line) -> Option<(String, Src)> {
        match line.words.get(1) {
            Some(w) => Some((w.text.clone(), w.src)),
            None => {
                self.push(
                    warn(
                        line.src,
                        format!("`{}` needs a value; keepalived ignores it", line.kw()),
                    )
                    .label("no value")
                    .help("see keepalived.conf(5) for its value"),
                );
                None
            }
        }
    }

    fn bad(&mut self, src: Src, what: &str, v: &str, fallback: &str) {
        self.push(
            warn(
                src,
                format!("{what} `{v}` is not valid; keepalived {fallback}"),
            )
            .label("invalid")
            .help("see keepalived.conf(5) for the valid values"),
        );
    }

    /// A keepalived unsigned integer within `lo..=hi`.
    fn uint(&mut self, line: &Line, lo: u64, hi: u64, fallback: &str) -> Option<(u64, Src)> {
        let (v, src) = self.need_arg(line)?;
        match parse_uint(&v) {
            Some(n) if (lo..=hi).contains(&n) => Some((n, src)),
            _ => {
                self.bad(src, &format!("`{}` value", line.kw()), &v, fallback);
                None
            }
        }
    }

    fn int(&mut self, text: &str, src: Src, lo: i64, hi: i64, what: &str) -> Option<i32> {
        match text.parse::<i64>() {
            Ok(n) if (lo..=hi).contains(&n) => i32::try_from(n).ok(),
            _ => {
                self.push(
                    warn(src, format!("{what} `{text}` must be an integer from {lo} to {hi}; keepalived ignores it"))
                        .label("invalid")
                        .help(format!("write an integer from {lo} to {hi}")),
                );
                None
            }
        }
    }

    /// keepalived's decimal seconds with up to 6 decimals, in microseconds.
    fn timer(&mut self, line: &Line, lo_us: u64, hi_us: u64, fallback: &str) -> Option<(u64, Src)> {
        let (v, src) = self.need_arg(line)?;
        match parse_decimal_us(&v) {
            Some(n) if (lo_us..=hi_us).contains(&n) => Some((n, src)),
            _ => {
                self.bad(src, &format!("`{}` value", line.kw()), &v, fallback);
                None
            }
        }
    }

    fn cmd(&mut self, line: &Line) -> Option<Cmd> {
        match super::script::split(&line.raw) {
            Ok(words) if words.len() >= 2 => Some(Cmd {
                words,
                src: line.src,
            }),
            Ok(_) => {
                self.push(
                    warn(
                        line.src,
                        format!("`{}` needs a command; keepalived ignores it", line.kw()),
                    )
                    .label("no command")
                    .help("write the command, quoted when it has arguments"),
                );
                None
            }
            Err(e) => {
                self.push(
                    warn(line.src, format!("cannot split this command as keepalived does: {e}; keepalived ignores it"))
                        .label("not split")
                        .help("close the quotes and escapes"),
                );
                None
            }
        }
    }

    fn set_cmd(&mut self, slot_name: &str, owner: &str, line: &Line, slot: &mut Option<Cmd>) {
        if slot.is_some() {
            self.push(
                warn(line.src, format!("({owner}) {slot_name} script already specified; keepalived ignores this one"))
                    .label("ignored")
                    .help(format!("keep one {slot_name} line")),
            );
            return;
        }
        *slot = self.cmd(line);
    }

    fn leaf(&mut self, ctx: Ctx, line: &Line) {
        let kw = line.kw().to_string();
        let max = match kw.as_str() {
            "nopreempt"
            | "preempt"
            | "native_ipv6"
            | "accept"
            | "no_accept"
            | "enable_script_security"
            | "vrrp_strict" => Some(0),
            "strict_mode" | "use_vmac" => Some(1),
            "script_user" | "user" | "weight" | "init_file" => Some(2),
            "script" | "notify" | "notify_master" | "notify_backup" | "notify_fault"
            | "notify_stop" => None,
            _ => Some(1),
        };
        if let Some(max) = max {
            if line.words.len() > max + 1 {
                let extra: Vec<&str> = line.words[max + 1..]
                    .iter()
                    .map(|w| w.text.as_str())
                    .collect();
                self.push(
                    warn(line.at(max + 1), format!("keepalived ignores `{}` after `{kw}`", extra.join(" ")))
                        .label("ignored")
                        .help("one keyword a line: keepalived has no `;` separator, and a block's `{` and `}` are the only things it splits a line at"),
                );
            }
        }
        match ctx {
            Ctx::Global => self.global(&kw, line),
            Ctx::Instance => self.instance(&kw, line),
            Ctx::Auth => {
                let Some((v, src)) = self.need_arg(line) else {
                    return;
                };
                let Some(inst) = self.m.instances.last_mut() else {
                    return;
                };
                if kw == "auth_type" {
                    inst.auth_type = Some((v, src));
                } else {
                    inst.auth_pass = Some((v, src));
                }
            }
            Ctx::Script => self.script_kw(&kw, line),
            Ctx::Group => {
                let Some(mut g) = self.m.groups.pop() else {
                    return;
                };
                let owner = format!("vrrp group {}", g.name);
                match kw.as_str() {
                    "notify" => self.set_cmd("notify", &owner, line, &mut g.notify),
                    "notify_master" => {
                        self.set_cmd("notify_master", &owner, line, &mut g.notify_master)
                    }
                    "notify_backup" => {
                        self.set_cmd("notify_backup", &owner, line, &mut g.notify_backup)
                    }
                    "notify_fault" => {
                        self.set_cmd("notify_fault", &owner, line, &mut g.notify_fault)
                    }
                    "notify_stop" => self.set_cmd("notify_stop", &owner, line, &mut g.notify_stop),
                    _ => {}
                }
                self.m.groups.push(g);
            }
            Ctx::TrackFile => {
                let Some(mut tf) = self.m.track_files.pop() else {
                    return;
                };
                match kw.as_str() {
                    "file" => {
                        if tf.path.is_some() {
                            self.push(
                                warn(line.src, format!("file already set for track file {}; keepalived ignores this one", tf.name))
                                    .help("keep one file line"),
                            );
                        } else if let Some(v) = self.need_arg(line) {
                            tf.path = Some(v);
                        }
                    }
                    "weight" => {
                        if let Some((v, src)) = self.need_arg(line) {
                            if let Some(w) = self.int(&v, src, -254, 254, "track file weight") {
                                tf.weight = w;
                            }
                            match line.arg(2) {
                                Some("reverse") => tf.reverse = true,
                                Some(o) => self.push(
                                    warn(
                                        line.at(2),
                                        format!(
                                            "unknown weight option `{o}`; keepalived ignores it"
                                        ),
                                    )
                                    .help("the only option is `reverse`"),
                                ),
                                None => {}
                            }
                        }
                    }
                    _ => {
                        tf.init = Some(line.src);
                        self.push(
                            note(line.src, "init_file is not translated: vrrp-ha reads a missing file as 0 and never creates it")
                                .help("create the file at boot (systemd-tmpfiles) if it needs another initial value"),
                        );
                    }
                }
                self.m.track_files.push(tf);
            }
            Ctx::Top => {}
        }
    }

    fn global(&mut self, kw: &str, line: &Line) {
        match kw {
            "router_id" => {
                if let Some(v) = self.need_arg(line) {
                    self.m.router_id = Some(v);
                }
            }
            "vrrp_version" => {
                if let Some((v, src)) = self.uint(line, 2, 3, "keeps version 2") {
                    self.m.vrrp_version = Some((v as u8, src));
                }
            }
            "vrrp_garp_master_delay" => {
                if let Some((v, src)) = self.uint(line, 0, u64::from(u32::MAX), "ignores it") {
                    self.m.garp_delay = Some((v as u32, src));
                }
            }
            "vrrp_garp_master_repeat" => {
                if let Some((v, src)) = self.uint(line, 0, u64::from(u32::MAX), "ignores it") {
                    self.m.garp_repeat = Some((v.max(1) as u32, src));
                }
            }
            "vrrp_garp_master_refresh" => {
                if let Some((v, src)) = self.uint(line, 0, u64::from(u32::MAX), "ignores it") {
                    self.m.garp_refresh = Some((v as u32, src));
                }
            }
            "script_user" => {
                if let Some(v) = self.need_arg(line) {
                    if line.words.len() > 2 {
                        self.push(
                            warn(line.at(2), "the group of script_user is not translated; scripts run with the user's primary and supplementary groups")
                                .help("make the user's primary group the one the scripts need"),
                        );
                    }
                    self.m.script_user = Some(v);
                }
            }
            "enable_script_security" => self.m.script_security = Some(line.src),
            "vrrp_strict" => self.m.strict = Some(line.src),
            _ => {}
        }
    }

    fn instance(&mut self, kw: &str, line: &Line) {
        let Some(mut inst) = self.m.instances.pop() else {
            return;
        };
        let owner = inst.name.clone();
        match kw {
            "state" => {
                if let Some((v, src)) = self.need_arg(line) {
                    match v.as_str() {
                        "MASTER" => inst.state = Some((true, src)),
                        "BACKUP" => {
                            if matches!(inst.state, Some((true, _))) {
                                self.push(warn(src, format!("({owner}) state previously set as MASTER; keepalived ignores BACKUP")).help("keep one state line"));
                            } else {
                                inst.state = Some((false, src));
                            }
                        }
                        _ => {
                            self.bad(src, "state", &v, "uses BACKUP");
                            inst.state = Some((false, src));
                        }
                    }
                }
            }
            "interface" => {
                if let Some((v, src)) = self.need_arg(line) {
                    if v.len() >= 16 {
                        self.bad(src, "interface name", &v, "ignores it (at most 15 bytes)");
                    } else {
                        inst.interface = Some((v, src));
                    }
                }
            }
            "virtual_router_id" => {
                if let Some((v, src)) = self.uint(line, 1, 255, "ignores it") {
                    inst.vrid = Some((v as u8, src));
                }
            }
            "priority" => {
                let (v, src) = match self.need_arg(line) {
                    Some(x) => x,
                    None => {
                        self.m.instances.push(inst);
                        return;
                    }
                };
                match parse_uint(&v) {
                    Some(n) if (1..=255).contains(&n) => inst.priority = Some((n as u8, src)),
                    _ => {
                        self.bad(src, "priority", &v, "uses 100");
                        inst.priority = Some((100, src));
                    }
                }
            }
            "advert_int" => {
                if let Some(v) = self.timer(line, 1, 255_000_000, "ignores it") {
                    inst.advert_us = Some(v);
                }
            }
            "version" => {
                if let Some((v, src)) = self.uint(line, 2, 3, "ignores it") {
                    let v = v as u8;
                    if inst.version.is_some_and(|(old, _)| old != v)
                        || (v == 2 && inst.ipv6 == Some(true))
                    {
                        self.push(warn(src, format!("({owner}) version {v} conflicts with the configured or deduced version; keepalived ignores it")).help("IPv6 needs version 3"));
                    } else {
                        inst.version = Some((v, src));
                    }
                }
            }
            "native_ipv6" => {
                if inst.ipv6 == Some(false) {
                    self.push(
                        warn(
                            line.src,
                            format!(
                                "({owner}) native_ipv6 with IPv4 addresses; keepalived ignores it"
                            ),
                        )
                        .help("remove it or use IPv6 addresses"),
                    );
                } else {
                    inst.ipv6 = Some(true);
                    inst.native_ipv6 = Some(line.src);
                    inst.version = Some((3, line.src));
                }
            }
            "nopreempt" => inst.nopreempt = Some(line.src),
            "preempt" => inst.nopreempt = None,
            "preempt_delay" => {
                if let Some(v) = self.timer(line, 0, 1_000_000_000, "uses 0") {
                    inst.preempt_delay_us = Some(v);
                }
            }
            "unicast_src_ip" => {
                if let Some((v, src)) = self.need_arg(line) {
                    match v.parse::<IpAddr>() {
                        Ok(a) if inst.ipv6.is_none_or(|f| f == a.is_ipv6()) => {
                            inst.ipv6 = Some(a.is_ipv6());
                            inst.unicast_src = Some((a, src));
                        }
                        Ok(_) => self.push(warn(src, format!("({owner}) unicast_src_ip {v} is not of the instance's address family; keepalived ignores it")).help("use an address of the same family as the virtual addresses")),
                        Err(_) => self.bad(src, "unicast_src_ip", &v, "ignores it"),
                    }
                }
            }
            "notify" => self.set_cmd("notify", &owner, line, &mut inst.notify),
            "notify_master" => self.set_cmd("notify_master", &owner, line, &mut inst.notify_master),
            "notify_backup" => self.set_cmd("notify_backup", &owner, line, &mut inst.notify_backup),
            "notify_fault" => self.set_cmd("notify_fault", &owner, line, &mut inst.notify_fault),
            "notify_stop" => self.set_cmd("notify_stop", &owner, line, &mut inst.notify_stop),
            "garp_master_delay" => {
                if let Some((v, src)) = self.uint(line, 0, u64::from(u32::MAX), "ignores it") {
                    inst.garp_delay = Some((v as u32, src));
                }
            }
            "garp_master_repeat" => {
                if let Some((v, src)) = self.uint(line, 0, u64::from(u32::MAX), "ignores it") {
                    inst.garp_repeat = Some((v.max(1) as u32, src));
                }
            }
            "garp_master_refresh" => {
                if let Some((v, src)) = self.uint(line, 0, u64::from(u32::MAX), "uses 0") {
                    inst.garp_refresh = Some((v as u32, src));
                }
            }
            "use_vmac" => {
                if line.words.len() > 1 {
                    self.push(
                        warn(line.at(1), format!("the macvlan name `{}` is not translated; vrrp-ha names it vrrp.VRID", line.words[1].text))
                            .label("name dropped")
                            .help("scripts or firewall rules that use the old name need the new one"),
                    );
                }
                inst.use_vmac = Some(line.src);
            }
            "accept" => inst.accept = Some((true, line.src)),
            "no_accept" => inst.accept = Some((false, line.src)),
            "strict_mode" => {
                let v = match line.arg(1) {
                    None => Some(true),
                    Some(s) => true_false(s),
                };
                match v {
                    Some(b) => inst.strict = Some((b, line.src)),
                    None => self.bad(
                        line.at(1),
                        "strict_mode",
                        line.arg(1).unwrap_or(""),
                        "ignores it",
                    ),
                }
            }
            _ => {}
        }
        self.m.instances.push(inst);
    }

    fn values(&mut self, ctx: Ctx, kw: &Line, values: &[Line]) {
        if ctx == Ctx::Group {
            let Some(g) = self.m.groups.last_mut() else {
                return;
            };
            for l in values {
                for w in &l.words {
                    g.members.push((w.text.clone(), w.src));
                }
            }
            return;
        }
        let Some(mut inst) = self.m.instances.pop() else {
            return;
        };
        let owner = inst.name.clone();
        match kw.kw() {
            "virtual_ipaddress" | "virtual_ipaddress_excluded" => {
                let excluded = kw.kw() == "virtual_ipaddress_excluded";
                for l in values {
                    let Some(vip) = self.vip(l) else { continue };
                    if excluded {
                        inst.evips.push(vip);
                        continue;
                    }
                    let v6 = vip.addr.is_ipv6();
                    match inst.ipv6 {
                        Some(f) if f != v6 => {
                            self.push(
                                warn(l.at(0), format!("({owner}) address family must match the instance's; keepalived ignores {}", vip.addr))
                                    .label("other family")
                                    .help("put addresses of the other family in virtual_ipaddress_excluded, or in an instance of their own"),
                            );
                        }
                        _ => {
                            inst.ipv6 = Some(v6);
                            inst.vips.push(vip);
                        }
                    }
                }
            }
            "unicast_peer" => {
                for l in values {
                    let (text, src) = (l.kw(), l.at(0));
                    let Ok(a) = text.parse::<IpAddr>() else {
                        self.bad(src, "unicast peer", text, "ignores it");
                        continue;
                    };
                    if inst.ipv6.is_some_and(|f| f != a.is_ipv6()) {
                        self.push(warn(src, format!("({owner}) unicast peer {a} is not of the instance's address family; keepalived ignores it")).help("use a peer address of the instance's family"));
                        continue;
                    }
                    if l.words.len() > 1 {
                        self.push(
                            warn(l.at(1), "min_ttl / max_ttl of a unicast peer are not translated")
                                .label("left out")
                                .help("vrrp-ha accepts unicast adverts only from the listed peers, whatever their TTL"),
                        );
                    }
                    inst.peers.push((a, src));
                }
            }
            "track_interface" | "track_script" | "track_file" => {
                for l in values {
                    self.track(kw.kw(), l, &mut inst);
                }
            }
            _ => {}
        }
        self.m.instances.push(inst);
    }

    /// One line of track_interface / track_script / track_file, checked as keepalived's
    /// `alloc_track_if()` / `alloc_track_script()` / `vrrp_alloc_track_file()` check it:
    /// scripts and track files are looked up when the line is read, so one defined further
    /// down the file is not found.
    fn track(&mut self, kw: &str, l: &Line, inst: &mut Inst) {
        let owner = inst.name.clone();
        let name = l.kw().to_string();
        let src = l.at(0);
        let (base, base_rev) = match kw {
            "track_script" => {
                let found = self
                    .m
                    .scripts
                    .iter()
                    .find(|s| s.name == name && s.script.is_some());
                let Some(s) = found else {
                    self.push(
                        warn(src, format!("({owner}) track script {name} not found; keepalived ignores it"))
                            .label("no such vrrp_script above")
                            .help("keepalived looks the script up when it reads this line: define the vrrp_script (with a script line) before the vrrp_instance"),
                    );
                    return;
                };
                (s.weight.map_or(0, |(w, _)| w), false)
            }
            "track_file" => {
                let Some(tf) = self.m.track_files.iter().find(|t| t.name == name) else {
                    self.push(
                        warn(src, format!("({owner}) track file {name} not found; keepalived ignores it"))
                            .label("no such track_file above")
                            .help("keepalived looks it up when it reads this line: define track_file NAME { file PATH } before the vrrp_instance"),
                    );
                    return;
                };
                (tf.weight, tf.reverse)
            }
            _ => (0, false),
        };
        let dup = match kw {
            "track_interface" => inst.track_ifs.iter().any(|t| t.0 == name),
            "track_script" => inst.track_scripts.iter().any(|t| t.0 == name),
            _ => inst.track_files.iter().any(|t| t.0 == name),
        };
        if dup {
            self.push(
                warn(
                    src,
                    format!("({owner}) duplicate {kw} {name}; keepalived ignores it"),
                )
                .label("duplicate")
                .help("list each one once"),
            );
            return;
        }
        let mut weight = None;
        let mut reverse = base_rev;
        if let Some(opt) = l.arg(1) {
            if opt != "weight" {
                self.push(
                    warn(
                        l.at(1),
                        format!(
                            "({owner}) unknown {kw} option `{opt}`; keepalived ignores the line"
                        ),
                    )
                    .label("unknown option")
                    .help(format!("write `{name} weight N`")),
                );
                return;
            }
            let Some(w) = l.arg(2) else {
                self.push(
                    warn(l.at(1), format!("({owner}) weight without a value for {kw} {name}; keepalived ignores the line"))
                        .help("write `weight N`"),
                );
                return;
            };
            match w.parse::<i64>() {
                Ok(n) if (-254..=254).contains(&n) => {
                    let mut n = n as i32;
                    if kw != "track_file" && n.abs() == 254 {
                        self.push(
                            note(
                                l.at(2),
                                format!(
                                    "weight {n} becomes {}, as keepalived sets it",
                                    n.signum() * 253
                                ),
                            )
                            .help("use a weight from -253 to 253"),
                        );
                        n = n.signum() * 253;
                    }
                    weight = Some(n);
                }
                _ => {
                    let fallback = if kw == "track_interface" {
                        "uses weight 0 (down means FAULT)".to_string()
                    } else {
                        format!(
                            "uses the {} weight, {base}",
                            if kw == "track_file" {
                                "track file's"
                            } else {
                                "script's"
                            }
                        )
                    };
                    self.push(
                        warn(l.at(2), format!("({owner}) weight `{w}` must be an integer from -253 to 253; keepalived {fallback}"))
                            .label("invalid weight")
                            .help("write an integer weight from -253 to 253"),
                    );
                    if kw == "track_interface" {
                        weight = Some(0);
                    }
                }
            }
            match l.arg(3) {
                Some("reverse") => reverse = true,
                Some("noreverse") if kw != "track_interface" => reverse = false,
                Some(o) => {
                    self.push(
                        warn(
                            l.at(3),
                            format!(
                                "({owner}) unknown {kw} weight option `{o}`; keepalived ignores it"
                            ),
                        )
                        .help("the weight options are reverse and noreverse"),
                    );
                    if kw == "track_file" {
                        return;
                    }
                }
                None => {}
            }
        }
        match kw {
            "track_interface" => {
                if reverse {
                    self.push(
                        warn(l.at(3), "`reverse` tracking of an interface is not translated; the weight applies the normal way round")
                            .label("left out")
                            .help("vrrp-ha adds a positive weight while the interface is up and subtracts a negative one while it is down"),
                    );
                }
                inst.track_ifs.push((name, weight.unwrap_or(0), src));
            }
            "track_script" => {
                if reverse {
                    self.push(
                        warn(l.at(3), "`reverse` on a tracked script is not translated; the weight applies the normal way round")
                            .label("left out")
                            .help("invert the script's exit status instead (exec \"/bin/sh\" \"-c\" \"! ...\")"),
                    );
                }
                inst.track_scripts.push((name, weight, src));
            }
            _ => {
                let path = self
                    .m
                    .track_files
                    .iter()
                    .find(|t| t.name == name)
                    .and_then(|t| t.path.clone());
                let Some((path, _)) = path else {
                    self.push(
                        warn(
                            src,
                            format!("track file {name} has no file; keepalived ignores it"),
                        )
                        .help("add `file PATH` to its track_file block"),
                    );
                    return;
                };
                let w = weight.unwrap_or(base);
                // keepalived multiplies by -1 for reverse: the same as a negated weight.
                inst.track_files
                    .push((path, Some(if reverse { -w } else { w }), false, src));
            }
        }
    }

    /// One `virtual_ipaddress` line (keepalived's `alloc_ipaddress()`).
    fn vip(&mut self, l: &Line) -> Option<Vip> {
        let text = l.kw();
        let (a, p) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let Ok(addr) = a.parse::<IpAddr>() else {
            self.bad(l.at(0), "virtual address", text, "skips it");
            return None;
        };
        let max = if addr.is_ipv6() { 128 } else { 32 };
        let prefix = match p {
            None => max,
            Some(p) => {
                match p.parse::<u8>() {
                    Ok(n) if n <= max => n,
                    _ => {
                        self.push(warn(l.at(0), format!("invalid prefix length `{p}` for {addr}; keepalived uses /{max}")).help(format!("write a prefix from 0 to {max}")));
                        max
                    }
                }
            }
        };
        let mut vip = Vip {
            addr,
            prefix,
            dev: None,
            label: None,
            src: l.at(0),
        };
        let mut i = 1;
        while i < l.words.len() {
            let opt = l.words[i].text.as_str();
            let val = l.words.get(i + 1).map(|w| w.text.clone());
            let with_value = matches!(
                opt,
                "dev"
                    | "scope"
                    | "broadcast"
                    | "brd"
                    | "label"
                    | "peer"
                    | "preferred_lft"
                    | "track_group"
            );
            if with_value && val.is_none() {
                self.push(
                    warn(
                        l.at(i),
                        format!("no `{opt}` parameter specified for {addr}; keepalived ignores it"),
                    )
                    .help(format!("write `{opt} VALUE`")),
                );
                break;
            }
            match opt {
                "dev" => vip.dev = val,
                "label" => {
                    if val.as_ref().is_some_and(|v| v.len() > 15) {
                        self.push(
                            warn(l.at(i + 1), format!("address label longer than 15 bytes; keepalived removes the address {addr}"))
                                .label("too long")
                                .help("Linux address labels are at most 15 bytes, e.g. eth0:vip"),
                        );
                        return None;
                    }
                    if addr.is_ipv6() {
                        self.push(warn(l.at(i), format!("cannot label IPv6 address {addr}; keepalived ignores the label")).help("labels are IPv4 only"));
                    } else {
                        vip.label = val;
                    }
                }
                "scope" => {
                    let v = val.unwrap_or_default();
                    if v != "global" && v != "0" {
                        self.push(
                            warn(l.at(i), format!("scope `{v}` is not translated; vrrp-ha adds virtual addresses with scope global"))
                                .label("left out")
                                .help("a link- or host-scoped address is unusual for a service VIP; check that global is fine"),
                        );
                    }
                }
                "broadcast" | "brd" | "peer" | "preferred_lft" | "track_group" => {
                    self.push(
                        warn(l.at(i), format!("`{opt}` of a virtual address is not translated"))
                            .label("left out")
                            .help("vrrp-ha adds the address with its prefix only; the kernel computes the broadcast address"),
                    );
                }
                "home" | "-nodad" | "mngtmpaddr" | "noprefixroute" | "autojoin" | "no_track"
                | "use_vmac" => {
                    if opt == "-nodad" {
                        i += 1;
                        continue;
                    }
                    self.push(
                        warn(
                            l.at(i),
                            format!("`{opt}` of a virtual address is not translated"),
                        )
                        .label("left out")
                        .help(
                            "vrrp-ha adds virtual addresses as plain addresses (IPv6 without DAD)",
                        ),
                    );
                    i += 1;
                    continue;
                }
                _ => {
                    self.push(warn(l.at(i), format!("unknown option `{opt}` for a virtual address; keepalived ignores it")).help("see keepalived.conf(5) for the options of virtual_ipaddress"));
                    i += 1;
                    continue;
                }
            }
            i += 2;
        }
        Some(vip)
    }

    fn script_kw(&mut self, kw: &str, line: &Line) {
        let Some(mut s) = self.m.scripts.pop() else {
            return;
        };
        match kw {
            "script" => s.script = self.cmd(line),
            "interval" | "timeout" => {
                if let Some((v, src)) =
                    self.uint(line, 0, u64::from(u32::MAX) / 1_000_000, "ignores it")
                {
                    let v = (v.max(1)) as u32;
                    if kw == "interval" {
                        s.interval = Some((v, src));
                    } else {
                        s.timeout = Some((v, src));
                    }
                }
            }
            "rise" | "fall" => {
                let (v, src) = match self.need_arg(line) {
                    Some(x) => x,
                    None => {
                        self.m.scripts.push(s);
                        return;
                    }
                };
                let n = match parse_uint(&v) {
                    Some(n) if n >= 1 && n <= i32::MAX as u64 => n as u32,
                    _ => {
                        self.bad(src, kw, &v, "uses 1");
                        1
                    }
                };
                if kw == "rise" {
                    s.rise = Some((n, src));
                } else {
                    s.fall = Some((n, src));
                }
            }
            "weight" => {
                if let Some((v, src)) = self.need_arg(line) {
                    // keepalived stores the value even when it reports it out of range.
                    if let Some(w) = self.int(&v, src, -253, 253, "vrrp_script weight") {
                        s.weight = Some((w, src));
                    }
                    if line.arg(2) == Some("reverse") {
                        self.push(
                            warn(line.at(2), "`reverse` on a script's weight is not translated; the weight applies the normal way round")
                                .label("left out")
                                .help("invert the script's exit status instead (exec \"/bin/sh\" \"-c\" \"! ...\")"),
                        );
                    }
                }
            }
            "user" => {
                if let Some(v) = self.need_arg(line) {
                    if line.words.len() > 2 {
                        self.push(
                            warn(line.at(2), "the group of a script's user is not translated; it runs with the user's primary and supplementary groups")
                                .label("left out")
                                .help("make the user's primary group the one the script needs"),
                        );
                    }
                    s.user = Some(v);
                }
            }
            _ => {}
        }
        self.m.scripts.push(s);
    }
}

/// keepalived's `check_true_false()`.
fn true_false(s: &str) -> Option<bool> {
    match s {
        "true" | "on" | "yes" => Some(true),
        "false" | "off" | "no" => Some(false),
        _ => None,
    }
}

/// A decimal unsigned integer, as keepalived's `read_unsigned()` accepts it.
pub fn parse_uint(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Decimal seconds with up to 6 decimals (`1`, `0.5`, `2.000001`), in microseconds.
pub fn parse_decimal_us(s: &str) -> Option<u64> {
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, f),
        None => (s, ""),
    };
    if (int.is_empty() && frac.is_empty())
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
        || frac.len() > 6
    {
        return None;
    }
    let i: u64 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let mut f: u64 = if frac.is_empty() {
        0
    } else {
        frac.parse().ok()?
    };
    for _ in frac.len()..6 {
        f *= 10;
    }
    i.checked_mul(1_000_000)?.checked_add(f)
}
