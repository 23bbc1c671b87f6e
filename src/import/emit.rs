//! The model as vrrp-ha KDL: keepalived's defaults and corrections applied (as its
//! `vrrp_complete_instance()` applies them), values written out explicitly where the two
//! daemons' defaults differ, and every file proven to pass [`crate::config::parse_str`]:
//! whatever `check` would reject is left out and reported at its source line.

use std::collections::HashSet;
use std::fmt::Write as _;

use super::parser::{Cmd, Group, Inst, Model, Scr};
use super::script;
use super::{Diag, Level, SourceFile, Src};

/// One KDL file the import produced.
#[derive(Clone, Debug)]
pub struct OutFile {
    /// `vrrp-ha` for the single file, or the sync group / instance name with `--split`.
    pub name: String,
    /// The KDL text; it passes `vrrp-ha check`.
    pub text: String,
}

/// A KDL node: its line, where it came from, and its children.
#[derive(Clone, Debug)]
struct Node {
    line: String,
    src: Option<Src>,
    /// Removing it breaks its parent: the whole top-level block goes instead.
    essential: bool,
    children: Option<Vec<Node>>,
    comment: Option<String>,
}

impl Node {
    fn leaf(line: String, src: Option<Src>) -> Self {
        Node {
            line,
            src,
            essential: false,
            children: None,
            comment: None,
        }
    }

    fn essential(mut self) -> Self {
        self.essential = true;
        self
    }
}

/// A top-level block with the names it needs and defines (for `--split`).
#[derive(Clone, Debug)]
struct Top {
    node: Node,
    kind: Kind,
    name: String,
    /// Scripts an instance tracks, members of a sync group.
    uses: Vec<String>,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Kind {
    RouterId,
    Instance,
    Script,
    Group,
}

/// KDL string literal.
pub fn q(s: &str) -> String {
    crate::config::kdl_string(s)
}

/// A duration in microseconds as vrrp-ha writes it (`"1s"`, `"100ms"`), rounded to ms.
fn dur(us: u64) -> String {
    if us.is_multiple_of(1_000_000) {
        format!("\"{}s\"", us / 1_000_000)
    } else {
        format!("\"{}ms\"", (us + 500) / 1000)
    }
}

fn warn(src: Src, msg: impl Into<String>) -> Diag {
    Diag::new(Level::Warning, Some(src), msg)
}

fn note(src: Src, msg: impl Into<String>) -> Diag {
    Diag::new(Level::Note, Some(src), msg)
}

struct Em<'a> {
    /// The note about keepalived's second gratuitous ARP burst was made.
    garp_noted: bool,
    m: &'a Model,
    files: &'a [SourceFile],
    diags: &'a mut Vec<Diag>,
}

/// Translates the model into KDL files (one, or one per sync group / free instance).
pub fn emit(m: &Model, files: &[SourceFile], split: bool, diags: &mut Vec<Diag>) -> Vec<OutFile> {
    let mut em = Em {
        garp_noted: false,
        m,
        files,
        diags,
    };
    let tops = em.tops();
    if !tops.iter().any(|t| t.kind == Kind::Instance) {
        em.diags.push(
            Diag::new(Level::Fatal, None, "no vrrp_instance to translate")
                .help("import translates the VRRP side of keepalived; a configuration with only virtual_server blocks stays with keepalived"),
        );
        return Vec::new();
    }
    let sets: Vec<(String, Vec<Top>)> = if split {
        em.split(&tops)
    } else {
        vec![("vrrp-ha".to_string(), tops)]
    };
    let mut out = Vec::new();
    for (name, set) in sets {
        if let Some(text) = em.proven(&name, set) {
            out.push(OutFile { name, text });
        }
    }
    if out.is_empty() {
        em.diags.push(
            Diag::new(
                Level::Fatal,
                None,
                "nothing left that vrrp-ha check accepts",
            )
            .help("see the diagnostics above for what was left out and why"),
        );
    }
    out
}

impl Em<'_> {
    fn file_line(&self, src: Src) -> String {
        let name = self.files.get(src.file).map_or("?", |f| f.name.as_str());
        format!("{name}:{}", src.line)
    }

    fn tops(&mut self) -> Vec<Top> {
        let mut tops = Vec::new();
        if let Some((rid, src)) = &self.m.router_id {
            let mut n = Node::leaf(format!("router-id {}", q(rid)), Some(*src));
            n.comment = Some(format!("{}: router_id", self.file_line(*src)));
            tops.push(Top {
                node: n,
                kind: Kind::RouterId,
                name: String::new(),
                uses: Vec::new(),
            });
        }
        self.globals_notes();
        let scripts: Vec<&Scr> = self.m.scripts.iter().collect();
        let mut script_names = HashSet::new();
        for s in &scripts {
            if let Some(t) = self.script(s) {
                script_names.insert(t.name.clone());
                tops.push(t);
            }
        }
        let mut inst_names = HashSet::new();
        for inst in &self.m.instances {
            let t = self.instance(inst, &script_names);
            inst_names.insert(t.name.clone());
            tops.push(t);
        }
        let mut grouped = HashSet::new();
        for g in &self.m.groups {
            if let Some(t) = self.group(g, &inst_names, &mut grouped) {
                tops.push(t);
            }
        }
        tops
    }

    fn globals_notes(&mut self) {
        if let Some(src) = self.m.script_security {
            self.diags.push(
                note(src, "enable_script_security is always on in vrrp-ha when it runs as root")
                    .label("nothing to translate")
                    .help("vrrp-ha refuses programs others could change that would run as root, at check, start and reload; without this keyword keepalived only warns about them"),
            );
        }
        if let Some(src) = self.m.strict {
            self.diags.push(
                warn(src, "vrrp_strict's firewall rules are not translated")
                    .label("left out")
                    .help("the protocol side of strict mode is applied (no authentication, accept off unless the address owner); add nftables rules yourself if you relied on keepalived's"),
            );
        }
    }

    /// A command line (`script` or `notify*`) as keepalived would run it, as an argv.
    fn argv(&mut self, cmd: &Cmd, script_kw: bool) -> Option<Vec<String>> {
        let command = cmd.words.get(1)?.clone();
        if script_kw && cmd.words.len() > 2 {
            let rest = cmd.words[2..].join(" ");
            self.diags.push(
                warn(cmd.src, format!("keepalived runs only `{command}` here and ignores `{rest}`: words after the first unquoted one are not part of a vrrp_script's script"))
                    .label("imported as keepalived runs it")
                    .help(format!("if `{command} {rest}` was meant, quote the whole command: script \"{command} {rest}\"")),
            );
        }
        let argv = match script::split(&command) {
            Ok(a) if !a.is_empty() => a,
            Ok(_) => {
                self.diags.push(
                    warn(cmd.src, "empty command; keepalived ignores it")
                        .help("write the command to run"),
                );
                return None;
            }
            Err(e) => {
                self.diags.push(
                    warn(
                        cmd.src,
                        format!("cannot split `{command}` as keepalived does: {e}"),
                    )
                    .help("close the quotes and escapes"),
                );
                return None;
            }
        };
        if command.starts_with('<') && command[1..].trim_start().starts_with('/') {
            self.diags.push(
                note(cmd.src, "keepalived runs a `</PATH` check through /bin/sh; so does the import")
                    .label("/bin/sh -c")
                    .help("/dev/tcp/HOST/PORT is a bash feature: Debian's /bin/sh (dash) fails it always, under keepalived too; for a TCP check write exec \"/bin/bash\" \"-c\" \"</dev/tcp/127.0.0.1/80\""),
            );
            return Some(vec!["/bin/sh".to_string(), "-c".to_string(), command]);
        }
        if let Some(what) = script::needs_shell(&command, &argv) {
            self.diags.push(
                warn(cmd.src, format!("this command needs a shell ({what}); imported as /bin/sh -c"))
                    .label("runs in a shell now")
                    .help(format!(
                        "keepalived 2.2.7 runs it without a shell: it execve()s `{}` with the rest as literal arguments, so the shell syntax never worked as written; check that the shell's reading is what you want",
                        argv[0]
                    )),
            );
            return Some(vec!["/bin/sh".to_string(), "-c".to_string(), command]);
        }
        Some(argv)
    }

    /// A notify_* line as an action; with a user (keepalived's third and fourth words, or
    /// script_user) wrapped in runuser.
    fn action(&mut self, cmd: &Cmd, owner: &str) -> Option<Node> {
        let argv = self.argv(cmd, false)?;
        let (user, group) = (cmd.words.get(2).cloned(), cmd.words.get(3).cloned());
        let user = match user {
            Some(u) => {
                self.diags.push(
                    warn(cmd.src, format!("keepalived runs this as user `{u}`{}: unquoted words after the command are the user and group", group.as_ref().map(|g| format!(" and group `{g}`")).unwrap_or_default()))
                        .label("user and group")
                        .help(format!("imported with runuser as keepalived reads it; if `{u}` was meant as an argument, quote the whole command")),
                );
                Some(u)
            }
            None => self
                .m
                .script_user
                .as_ref()
                .map(|(u, _)| u.clone())
                .filter(|u| u != "root"),
        };
        let _ = owner;
        if user.is_none() {
            if let Some((verb, unit)) = script::unit_action(&argv) {
                return Some(Node::leaf(format!("{verb} {}", q(&unit)), Some(cmd.src)));
            }
        }
        let mut full = Vec::new();
        if let Some(u) = user {
            full.extend(["/usr/sbin/runuser".to_string(), "-u".to_string(), u]);
            if let Some(g) = group {
                full.extend(["-g".to_string(), g]);
            }
            full.push("--".to_string());
        }
        full.extend(argv);
        let line = std::iter::once("exec".to_string())
            .chain(full.iter().map(|a| q(a)))
            .collect::<Vec<_>>()
            .join(" ");
        Some(Node::leaf(line, Some(cmd.src)))
    }

    /// `notify` (the generic script): vrrp-ha's notify takes a program path only.
    fn notify(&mut self, cmd: &Cmd) -> Option<Node> {
        let argv = self.argv(cmd, false)?;
        if cmd.words.len() > 2 {
            self.diags.push(
                warn(cmd.src, "the user and group of a notify script are not translated; vrrp-ha runs it as the daemon's user")
                    .label("left out")
                    .help("quote the command if the words after it were meant as arguments, or switch user inside the script"),
            );
        }
        if argv.len() != 1 || !argv[0].starts_with('/') || argv[0] == "/bin/sh" {
            self.diags.push(
                warn(cmd.src, "vrrp-ha's notify takes the absolute path of one program, without arguments")
                    .label("left out")
                    .help("keepalived appends INSTANCE NAME STATE PRIORITY to the command; put the command in a script and name its path here, or use on-master/on-backup/on-fault/on-stop actions"),
            );
            return None;
        }
        Some(Node::leaf(format!("notify {}", q(&argv[0])), Some(cmd.src)))
    }

    fn script(&mut self, s: &Scr) -> Option<Top> {
        let Some(cmd) = &s.script else {
            self.diags.push(
                warn(
                    s.src,
                    format!(
                        "vrrp_script {} has no script; keepalived removes it",
                        s.name
                    ),
                )
                .label("left out")
                .help("add a `script \"COMMAND\"` line"),
            );
            return None;
        };
        let argv = self.argv(cmd, true)?;
        let mut kids = vec![Node::leaf(
            std::iter::once("exec".to_string())
                .chain(argv.iter().map(|a| q(a)))
                .collect::<Vec<_>>()
                .join(" "),
            Some(cmd.src),
        )
        .essential()];
        let interval = s.interval.map_or(1, |(v, _)| v);
        kids.push(Node::leaf(
            format!("interval {}", dur(u64::from(interval) * 1_000_000)),
            s.interval.map(|(_, src)| src),
        ));
        if let Some((t, src)) = s.timeout {
            kids.push(Node::leaf(
                format!("timeout {}", dur(u64::from(t) * 1_000_000)),
                Some(src),
            ));
        }
        for (kw, v) in [("rise", s.rise), ("fall", s.fall)] {
            if let Some((n, src)) = v {
                if n > 100 {
                    self.diags.push(
                        warn(
                            src,
                            format!("{kw} {n} is more than vrrp-ha's 100; imported as 100"),
                        )
                        .help(format!("lower {kw}, or lengthen the interval")),
                    );
                }
                kids.push(Node::leaf(format!("{kw} {}", n.min(100)), Some(src)));
            }
        }
        if let Some((w, src)) = s.weight {
            kids.push(Node::leaf(format!("weight {w}"), Some(src)));
        }
        let user = s.user.clone().or_else(|| self.m.script_user.clone());
        if let Some((u, src)) = user {
            kids.push(Node::leaf(format!("user {}", q(&u)), Some(src)));
        }
        Some(Top {
            node: Node {
                line: format!("script {}", q(&s.name)),
                src: Some(s.src),
                essential: false,
                children: Some(kids),
                comment: Some(format!("{}: vrrp_script {}", self.file_line(s.src), s.name)),
            },
            kind: Kind::Script,
            name: s.name.clone(),
            uses: Vec::new(),
        })
    }

    fn instance(&mut self, i: &Inst, scripts: &HashSet<String>) -> Top {
        let m = self.m;
        let mut kids = Vec::new();
        let strict = match i.strict {
            Some((b, _)) => b,
            None => m.strict.is_some(),
        };
        if let Some((true, src)) = i.strict {
            self.diags.push(
                warn(src, "strict_mode's firewall rules are not translated")
                    .label("left out")
                    .help("the protocol side of strict mode is applied (no authentication, accept off unless the address owner); add nftables rules yourself if you relied on keepalived's"),
            );
        }
        let ipv6 = i.ipv6.unwrap_or(false);
        match &i.interface {
            Some((ifname, src)) => {
                kids.push(Node::leaf(format!("interface {}", q(ifname)), Some(*src)).essential())
            }
            None => self.diags.push(
                warn(i.src, format!("vrrp_instance {} has no interface", i.name))
                    .label("no interface")
                    .help("vrrp-ha needs `interface`; keepalived would use default_interface"),
            ),
        }
        match i.vrid {
            Some((v, src)) => kids.push(Node::leaf(format!("vrid {v}"), Some(src)).essential()),
            None => self.diags.push(
                warn(
                    i.src,
                    format!("vrrp_instance {} has no virtual_router_id", i.name),
                )
                .label("no vrid")
                .help("keepalived refuses such an instance too; add virtual_router_id"),
            ),
        }
        let master = matches!(i.state, Some((true, _)));
        let priority = match i.priority {
            Some((p, src)) => (p, Some(src)),
            None if master => {
                let src = i.state.map(|(_, s)| s).unwrap_or(i.src);
                self.diags.push(
                    note(src, "state MASTER without priority: keepalived makes this router the address owner, priority 255")
                        .label("priority 255")
                        .help("give a priority (1-254) if this router does not own the virtual addresses"),
                );
                (255, Some(src))
            }
            None => (100, None),
        };
        kids.push(Node::leaf(format!("priority {}", priority.0), priority.1));
        if let Some((m_, src)) = i.state {
            let msg = if m_ {
                "state MASTER is dropped: vrrp-ha starts every instance as BACKUP, as keepalived 2.2.7 starts one below priority 255 whatever its state; both take over when no better advert arrives within Master_Down_Interval"
            } else {
                "state BACKUP is vrrp-ha's start-up state; nothing to translate"
            };
            self.diags.push(note(src, msg).label("dropped").help(
                "priorities decide who is MASTER, as they do in keepalived once both nodes run",
            ));
        }
        // keepalived's version: the instance's, else IPv6 means 3, else vrrp_version (2).
        let version = if ipv6 {
            match i.version {
                Some((2, src)) if !strict => {
                    self.diags.push(
                        warn(src, "keepalived runs VRRP version 2 over IPv6 here; vrrp-ha only speaks version 3 over IPv6")
                            .label("imported as version 3")
                            .help("set version 3 on the keepalived peers too"),
                    );
                    3
                }
                _ => 3,
            }
        } else {
            i.version
                .map(|(v, _)| v)
                .or(m.vrrp_version.map(|(v, _)| v))
                .unwrap_or(2)
        };
        let vsrc = i.version.map(|(_, s)| s).or(m.vrrp_version.map(|(_, s)| s));
        kids.push(Node::leaf(format!("version {version}"), vsrc));
        let (adv_us, adv_src) = match i.advert_us {
            Some((us, src)) => (us, Some(src)),
            None => (1_000_000, None),
        };
        let adv = if version == 2 {
            let mut a = adv_us.min(255_000_000);
            if a % 1_000_000 != 0 {
                a = ((a + 500_000) / 1_000_000).max(1) * 1_000_000;
            }
            a
        } else {
            let mut a = adv_us.min(40_950_000);
            if a % 10_000 != 0 {
                a = ((a + 5_000) / 10_000).max(1) * 10_000;
            }
            a
        };
        if adv != adv_us {
            if let Some(src) = adv_src {
                self.diags.push(
                    note(src, format!("advert_int rounded to {} for version {version}, as keepalived rounds it", dur(adv).trim_matches('"')))
                        .help("version 2 carries whole seconds (1-255), version 3 centiseconds (up to 40.95 s)"),
                );
            }
        }
        kids.push(Node::leaf(format!("advert-interval {}", dur(adv)), adv_src));
        let owner = priority.0 == 255;
        let mut nopreempt = i.nopreempt;
        if let (Some(src), true) = (nopreempt, owner) {
            self.diags.push(
                note(src, "nopreempt does not apply to the address owner (priority 255); keepalived resets it")
                    .help("remove nopreempt, or lower the priority"),
            );
            nopreempt = None;
        }
        if let (Some(src), true) = (nopreempt, master) {
            self.diags.push(
                warn(src, "nopreempt with state MASTER: keepalived starts as MASTER anyway, vrrp-ha starts as BACKUP and does not preempt")
                    .label("start-up differs")
                    .help("keepalived documents nopreempt for state BACKUP only; use state BACKUP on every node with nopreempt"),
            );
        }
        match nopreempt {
            Some(src) => kids.push(Node::leaf("preempt #false".to_string(), Some(src))),
            None => kids.push(Node::leaf("preempt #true".to_string(), None)),
        }
        if let Some((d, src)) = i.preempt_delay_us {
            let why = if master {
                Some("with state MASTER")
            } else if strict {
                Some("in strict mode")
            } else if nopreempt.is_some() {
                Some("with nopreempt")
            } else {
                None
            };
            match why {
                Some(why) if d > 0 => self.diags.push(
                    note(
                        src,
                        format!("keepalived ignores preempt_delay {why}; so does the import"),
                    )
                    .help("remove it, or use state BACKUP"),
                ),
                _ if d > 0 => {
                    if d % 1000 != 0 {
                        self.diags.push(
                            note(src, "preempt_delay rounded to milliseconds")
                                .help("vrrp-ha counts durations in milliseconds"),
                        );
                    }
                    kids.push(Node::leaf(format!("preempt-delay {}", dur(d)), Some(src)));
                }
                _ => {}
            }
        }
        let accept = match i.accept {
            Some((b, _)) => b,
            None => owner || !strict,
        };
        let accept = accept && !(strict && !owner && version == 2);
        if !accept {
            kids.push(Node::leaf(
                "accept #false".to_string(),
                i.accept.map(|(_, s)| s),
            ));
        }
        self.auth(i, strict, version, ipv6, &mut kids);
        let vmac = i.use_vmac.is_some();
        for v in &i.vips {
            let mut line = format!("virtual-ip {}", q(&format!("{}/{}", v.addr, v.prefix)));
            if let Some(d) = &v.dev {
                let _ = write!(line, " dev={}", q(d));
            }
            if let Some(l) = &v.label {
                let _ = write!(line, " label={}", q(l));
            }
            kids.push(Node::leaf(line, Some(v.src)));
        }
        if i.vips.is_empty() {
            self.diags.push(
                warn(i.src, format!("vrrp_instance {} has no virtual_ipaddress", i.name))
                    .label("no virtual address")
                    .help("vrrp-ha needs at least one virtual-ip; keepalived runs such an instance for its notify scripts only"),
            );
        }
        match (&i.unicast_src, i.peers.is_empty()) {
            (Some((a, src)), false) => kids.push(Node::leaf(format!("unicast-source {}", q(&a.to_string())), Some(*src))),
            (Some((_, src)), true) => self.diags.push(
                warn(*src, "unicast_src_ip without unicast_peer: keepalived sends multicast adverts from this address; not translated")
                    .label("left out")
                    .help("vrrp-ha sends multicast adverts from the interface's primary address"),
            ),
            _ => {}
        }
        for (a, src) in &i.peers {
            kids.push(Node::leaf(
                format!("unicast-peer {}", q(&a.to_string())),
                Some(*src),
            ));
        }
        for (name, w, src) in &i.track_ifs {
            let line = if *w == 0 {
                format!("track-interface {}", q(name))
            } else {
                format!("track-interface {} weight={w}", q(name))
            };
            kids.push(Node::leaf(line, Some(*src)));
        }
        let mut uses = Vec::new();
        for (name, w, src) in &i.track_scripts {
            if !scripts.contains(name) {
                self.diags.push(
                    warn(
                        *src,
                        format!(
                            "track script {name} not found (or left out); keepalived ignores it"
                        ),
                    )
                    .label("no such vrrp_script")
                    .help("define the vrrp_script, or remove it from track_script"),
                );
                continue;
            }
            uses.push(name.clone());
            let line = match w {
                Some(w) => format!("track-script {} weight={w}", q(name)),
                None => format!("track-script {}", q(name)),
            };
            kids.push(Node::leaf(line, Some(*src)));
        }
        for (path, w, _, src) in &i.track_files {
            let weight = w.unwrap_or(1);
            kids.push(Node::leaf(
                format!("track-file {} weight={weight}", q(path)),
                Some(*src),
            ));
        }
        let garp_repeat = i.garp_repeat.or(m.garp_repeat);
        let (rep, rsrc) = garp_repeat.map_or((5, None), |(n, s)| (n, Some(s)));
        if rep > 100 {
            if let Some(src) = rsrc {
                self.diags.push(
                    warn(
                        src,
                        format!(
                            "garp_master_repeat {rep} is more than vrrp-ha's 100; imported as 100"
                        ),
                    )
                    .help("100 announcements per address are plenty"),
                );
            }
        }
        kids.push(Node::leaf(format!("garp-repeat {}", rep.min(100)), rsrc));
        if let Some((r, src)) = i.garp_refresh.or(m.garp_refresh) {
            if r > 0 {
                if r > 3600 {
                    self.diags.push(warn(src, format!("garp_master_refresh {r} is more than vrrp-ha's 1 hour; imported as 3600")).help("refresh at most hourly"));
                }
                kids.push(Node::leaf(
                    format!("garp-refresh {}", dur(u64::from(r.min(3600)) * 1_000_000)),
                    Some(src),
                ));
            }
        }
        match i.garp_delay.or(m.garp_delay) {
            Some((0, _)) => {}
            Some((d, src)) => self.diags.push(
                note(src, format!("keepalived sends a second burst of gratuitous ARPs {d} s after becoming MASTER; vrrp-ha sends one burst"))
                    .help("set garp-refresh if neighbours need reminding"),
            ),
            None if !self.garp_noted => {
                self.garp_noted = true;
                self.diags.push(
                    note(i.src, "keepalived sends a second burst of gratuitous ARPs 5 s after an instance becomes MASTER (garp_master_delay); vrrp-ha sends one burst")
                        .label("this and every other vrrp_instance")
                        .help("set garp-refresh if neighbours need reminding; vrrp_garp_master_delay 0 in keepalived's global_defs makes both the same"),
                );
            }
            None => {}
        }
        if vmac {
            kids.push(Node::leaf("use-vmac #true".to_string(), i.use_vmac));
        }
        if let Some(c) = &i.notify {
            if let Some(n) = self.notify(c) {
                kids.push(n);
            }
        }
        self.hooks(&mut kids, i, vmac);
        Top {
            node: Node {
                line: format!("instance {}", q(&i.name)),
                src: Some(i.src),
                essential: false,
                children: Some(kids),
                comment: Some(format!(
                    "{}: vrrp_instance {}",
                    self.file_line(i.src),
                    i.name
                )),
            },
            kind: Kind::Instance,
            name: i.name.clone(),
            uses,
        }
    }

    fn auth(&mut self, i: &Inst, strict: bool, version: u8, ipv6: bool, kids: &mut Vec<Node>) {
        let Some((ty, tsrc)) = &i.auth_type else {
            if let Some((_, src)) = &i.auth_pass {
                self.diags.push(
                    note(
                        *src,
                        "auth_pass without auth_type: keepalived sends no authentication",
                    )
                    .help("add auth_type PASS"),
                );
            }
            return;
        };
        let src = *tsrc;
        match ty.as_str() {
            "PASS" | "AH" => {}
            other => {
                self.diags.push(
                    warn(
                        src,
                        format!("unknown authentication type `{other}`; keepalived sends none"),
                    )
                    .help("auth_type is PASS or AH"),
                );
                return;
            }
        }
        let why = if strict {
            Some("strict mode does not support authentication")
        } else if version == 3 {
            Some("VRRP version 3 does not support authentication")
        } else if i.auth_pass.is_none() {
            Some("authentication without auth_pass")
        } else if ipv6 && ty == "AH" {
            Some("AH authentication with IPv6")
        } else {
            None
        };
        if let Some(why) = why {
            self.diags.push(
                note(
                    src,
                    format!("{why}: keepalived sends none; neither does the import"),
                )
                .help("remove the authentication block"),
            );
            return;
        }
        if ty == "AH" {
            self.diags.push(
                warn(src, "AH authentication is not translated")
                    .label("left out")
                    .help("vrrp-ha does PASS only (RFC 3768); AH was dropped from VRRP by RFC 3768 too: use PASS on both sides, or none"),
            );
            return;
        }
        let Some((pass, psrc)) = &i.auth_pass else {
            return;
        };
        let mut p = pass.clone();
        if p.len() > 8 {
            let mut n = 8;
            while !p.is_char_boundary(n) {
                n -= 1;
            }
            p.truncate(n);
            self.diags.push(
                note(
                    *psrc,
                    format!("auth_pass truncated to 8 bytes, `{p}`, as keepalived truncates it"),
                )
                .help("write at most 8 characters"),
            );
        }
        kids.push(Node::leaf(format!("authentication {}", q(&p)), Some(*psrc)));
    }

    /// notify_master/backup/fault/stop, and virtual_ipaddress_excluded as `ip` actions.
    fn hooks(&mut self, kids: &mut Vec<Node>, i: &Inst, vmac: bool) {
        let ifname = i
            .interface
            .as_ref()
            .map(|(n, _)| n.clone())
            .unwrap_or_default();
        let mut lists: [(&str, Vec<Node>); 4] = [
            ("on-master", Vec::new()),
            ("on-backup", Vec::new()),
            ("on-fault", Vec::new()),
            ("on-stop", Vec::new()),
        ];
        for v in &i.evips {
            let dev = v.dev.clone().unwrap_or_else(|| ifname.clone());
            let addr = format!("{}/{}", v.addr, v.prefix);
            let mut args = vec![
                "/usr/sbin/ip".to_string(),
                "address".to_string(),
                "add".to_string(),
                addr.clone(),
                "dev".to_string(),
                dev.clone(),
            ];
            if let Some(l) = &v.label {
                args.extend(["label".to_string(), l.clone()]);
            }
            if v.addr.is_ipv6() {
                args.push("nodad".to_string());
            }
            let line = |a: &[String]| {
                std::iter::once("exec".to_string())
                    .chain(a.iter().map(|x| q(x)))
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            lists[0].1.push(Node::leaf(line(&args), Some(v.src)));
            let del = vec![
                "/usr/sbin/ip".to_string(),
                "address".to_string(),
                "del".to_string(),
                addr,
                "dev".to_string(),
                dev,
            ];
            for l in lists.iter_mut().skip(1) {
                l.1.push(Node::leaf(line(&del), Some(v.src)));
            }
            self.diags.push(
                note(v.src, "virtual_ipaddress_excluded becomes `ip address` actions: added on MASTER, removed on BACKUP, FAULT and stop, not in adverts")
                    .label("as on-master / on-backup actions")
                    .help(if vmac {
                        "keepalived puts excluded addresses on the macvlan with use_vmac; these go on the interface named here. No gratuitous ARP is sent for them; a removal that finds no address only logs a failed action"
                    } else {
                        "no gratuitous ARP is sent for them; a removal that finds no address only logs a failed action"
                    }),
            );
        }
        for (idx, c) in [
            &i.notify_master,
            &i.notify_backup,
            &i.notify_fault,
            &i.notify_stop,
        ]
        .into_iter()
        .enumerate()
        {
            if let Some(c) = c {
                if let Some(n) = self.action(c, &i.name) {
                    lists[idx].1.push(n);
                }
            }
        }
        for (name, list) in lists {
            if !list.is_empty() {
                kids.push(Node {
                    line: name.to_string(),
                    src: list[0].src,
                    essential: false,
                    children: Some(list),
                    comment: None,
                });
            }
        }
    }

    fn group(
        &mut self,
        g: &Group,
        instances: &HashSet<String>,
        grouped: &mut HashSet<String>,
    ) -> Option<Top> {
        let mut members = Vec::new();
        for (name, src) in &g.members {
            if !instances.contains(name) {
                self.diags.push(
                    warn(*src, format!("virtual router {name} of sync group {} does not exist; keepalived ignores it", g.name))
                        .label("no such vrrp_instance")
                        .help("name instances defined by vrrp_instance"),
                );
                continue;
            }
            if !grouped.insert(name.clone()) {
                self.diags.push(
                    warn(*src, format!("vrrp_instance {name} is already in another sync group; keepalived ignores it here"))
                        .help("an instance belongs to one sync group"),
                );
                continue;
            }
            members.push(name.clone());
        }
        if members.is_empty() {
            self.diags.push(
                warn(
                    g.src,
                    format!("sync group {} has no member left; not translated", g.name),
                )
                .help("list its instances in group { ... }"),
            );
            return None;
        }
        let mut kids = vec![Node::leaf(
            format!(
                "instances {}",
                members.iter().map(|n| q(n)).collect::<Vec<_>>().join(" ")
            ),
            g.members.first().map(|(_, s)| *s),
        )
        .essential()];
        if let Some(c) = &g.notify {
            if let Some(n) = self.notify(c) {
                kids.push(n);
            }
        }
        for (name, c) in [
            ("on-master", &g.notify_master),
            ("on-backup", &g.notify_backup),
            ("on-fault", &g.notify_fault),
            ("on-stop", &g.notify_stop),
        ] {
            if let Some(c) = c {
                if let Some(n) = self.action(c, &g.name) {
                    kids.push(Node {
                        line: name.to_string(),
                        src: n.src,
                        essential: false,
                        children: Some(vec![n]),
                        comment: None,
                    });
                }
            }
        }
        Some(Top {
            node: Node {
                line: format!("sync-group {}", q(&g.name)),
                src: Some(g.src),
                essential: false,
                children: Some(kids),
                comment: Some(format!(
                    "{}: vrrp_sync_group {}",
                    self.file_line(g.src),
                    g.name
                )),
            },
            kind: Kind::Group,
            name: g.name.clone(),
            uses: members,
        })
    }

    /// One set per sync group and per instance in no group, each with the router id and
    /// the scripts its instances track.
    fn split(&mut self, tops: &[Top]) -> Vec<(String, Vec<Top>)> {
        let rid: Vec<Top> = tops
            .iter()
            .filter(|t| t.kind == Kind::RouterId)
            .cloned()
            .collect();
        let find = |kind: Kind, name: &str| {
            tops.iter()
                .find(|t| t.kind == kind && t.name == name)
                .cloned()
        };
        let mut sets = Vec::new();
        let mut placed = HashSet::new();
        let with_scripts = |insts: Vec<Top>, extra: Vec<Top>| {
            let mut set = rid.clone();
            let mut seen = HashSet::new();
            let mut scripts = Vec::new();
            for i in &insts {
                for s in &i.uses {
                    if seen.insert(s.clone()) {
                        if let Some(t) = find(Kind::Script, s) {
                            scripts.push(t);
                        }
                    }
                }
            }
            set.extend(insts);
            set.extend(scripts);
            set.extend(extra);
            set
        };
        for g in tops.iter().filter(|t| t.kind == Kind::Group) {
            let insts: Vec<Top> = g
                .uses
                .iter()
                .filter_map(|n| find(Kind::Instance, n))
                .collect();
            placed.extend(g.uses.iter().cloned());
            sets.push((g.name.clone(), with_scripts(insts, vec![g.clone()])));
        }
        for i in tops.iter().filter(|t| t.kind == Kind::Instance) {
            if placed.contains(&i.name) {
                continue;
            }
            sets.push((i.name.clone(), with_scripts(vec![i.clone()], Vec::new())));
        }
        let used: HashSet<&String> = tops.iter().flat_map(|t| t.uses.iter()).collect();
        for s in tops
            .iter()
            .filter(|t| t.kind == Kind::Script && !used.contains(&t.name))
        {
            if let Some(src) = s.node.src {
                self.diags.push(
                    note(src, format!("vrrp_script {} is tracked by no instance; with --split it goes in no file", s.name))
                        .help("keepalived does not run it either"),
                );
            }
        }
        sets
    }

    /// Renders `set`, leaving out whatever `check` rejects until it accepts the rest.
    fn proven(&mut self, name: &str, mut set: Vec<Top>) -> Option<String> {
        for _ in 0..200 {
            if !set.iter().any(|t| t.kind == Kind::Instance) {
                return None;
            }
            let (text, map) = render(&set);
            let file = format!("{name}.kdl");
            let err = match crate::config::parse_str(&text, &file) {
                Ok(_) => return Some(text),
                Err(e) => e,
            };
            let mut removals: Vec<(usize, Option<usize>, Option<usize>)> = Vec::new();
            for p in err.problems() {
                let Some(span) = p.span() else { continue };
                let at = span.offset().min(text.len());
                let line = text.as_bytes()[..at]
                    .iter()
                    .filter(|&&b| b == b'\n')
                    .count();
                let Some(Some(path)) = map.get(line) else {
                    continue;
                };
                let (t, c, g) = *path;
                let top = &set[t].node;
                let node = match (c, g) {
                    (Some(c), Some(g)) => &top
                        .children
                        .as_ref()
                        .map(|k| &k[c])
                        .and_then(|k| k.children.as_ref())
                        .map(|k| &k[g]),
                    (Some(c), None) => &top.children.as_ref().map(|k| &k[c]),
                    _ => &Some(top),
                };
                let Some(node) = node else { continue };
                let whole = node.essential || c.is_none();
                let target = if whole { (t, None, None) } else { (t, c, g) };
                let what = if whole {
                    top.line.clone()
                } else {
                    node.line.clone()
                };
                let src = if whole { top.src } else { node.src.or(top.src) };
                if !removals.contains(&target) {
                    removals.push(target);
                    let mut d = Diag::new(
                        Level::Warning,
                        src,
                        format!(
                            "vrrp-ha check would reject `{what}`: {}; left out",
                            p.message
                        ),
                    )
                    .label("rejected by check");
                    if let Some(h) = &p.help {
                        d = d.help(h.clone());
                    }
                    self.diags.push(d);
                }
            }
            if removals.is_empty() {
                self.diags.push(
                    Diag::new(Level::Fatal, None, format!("the translation of {name} does not pass check: {}", err.problems().first().map_or(String::new(), |p| p.message.clone())))
                        .help("this is a bug in vrrp-ha import; please report it with the keepalived configuration"),
                );
                return None;
            }
            // A removed node takes its children with it; then deepest first, so that
            // indices stay valid.
            let whole: Vec<Path3> = removals.clone();
            removals.retain(|&(t, c, g)| {
                !whole.iter().any(|&(t2, c2, g2)| {
                    t2 == t
                        && ((c2.is_none() && c.is_some())
                            || (g2.is_none() && c2 == c && g.is_some()))
                })
            });
            removals.sort_by(|a, b| b.cmp(a));
            for (t, c, g) in removals {
                match (c, g) {
                    (Some(c), Some(g)) => {
                        if let Some(kids) = set[t].node.children.as_mut() {
                            if let Some(k) = kids.get_mut(c).and_then(|k| k.children.as_mut()) {
                                if g < k.len() {
                                    k.remove(g);
                                }
                                if k.is_empty() {
                                    kids.remove(c);
                                }
                            }
                        }
                    }
                    (Some(c), None) => {
                        if let Some(kids) = set[t].node.children.as_mut() {
                            if c < kids.len() {
                                kids.remove(c);
                            }
                        }
                    }
                    _ => {
                        if t < set.len() {
                            set.remove(t);
                        }
                    }
                }
            }
        }
        None
    }
}

type Path3 = (usize, Option<usize>, Option<usize>);

/// The KDL text, and for each of its lines the node it belongs to.
fn render(set: &[Top]) -> (String, Vec<Option<Path3>>) {
    let mut s = String::new();
    let mut map: Vec<Option<Path3>> = Vec::new();
    let line = |s: &mut String, map: &mut Vec<Option<Path3>>, text: &str, path: Option<Path3>| {
        s.push_str(text);
        s.push('\n');
        map.push(path);
    };
    line(
        &mut s,
        &mut map,
        "// Translated from keepalived's configuration by `vrrp-ha import`.",
        None,
    );
    line(
        &mut s,
        &mut map,
        "// Review the diagnostics it printed; `vrrp-ha check -c FILE` validates this file.",
        None,
    );
    for (t, top) in set.iter().enumerate() {
        line(&mut s, &mut map, "", None);
        if let Some(c) = &top.node.comment {
            line(&mut s, &mut map, &format!("// {c}"), None);
        }
        match &top.node.children {
            None => line(&mut s, &mut map, &top.node.line, Some((t, None, None))),
            Some(kids) => {
                line(
                    &mut s,
                    &mut map,
                    &format!("{} {{", top.node.line),
                    Some((t, None, None)),
                );
                for (c, k) in kids.iter().enumerate() {
                    match &k.children {
                        None => line(
                            &mut s,
                            &mut map,
                            &format!("    {}", k.line),
                            Some((t, Some(c), None)),
                        ),
                        Some(gk) => {
                            line(
                                &mut s,
                                &mut map,
                                &format!("    {} {{", k.line),
                                Some((t, Some(c), None)),
                            );
                            for (g, n) in gk.iter().enumerate() {
                                line(
                                    &mut s,
                                    &mut map,
                                    &format!("        {}", n.line),
                                    Some((t, Some(c), Some(g))),
                                );
                            }
                            line(&mut s, &mut map, "    }", Some((t, Some(c), None)));
                        }
                    }
                }
                line(&mut s, &mut map, "}", Some((t, None, None)));
            }
        }
    }
    (s, map)
}
