//! For generated keepalived configurations within the translated subset (global_defs,
//! vrrp_script, vrrp_instance, vrrp_sync_group, track files, written with random layout),
//! `import` never panics, produces output unless the input is fatal, and every file it
//! produces passes `check`. 128 cases per property keeps this in seconds.

use proptest::prelude::*;
use vrrp_ha::import::{import_str, Options};

fn ifname() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["eth0", "eth1", "bond0", "ens3.100", "br-lan"]).prop_map(String::from)
}

fn addr(v6: bool) -> BoxedStrategy<String> {
    if v6 {
        (1u16..0xfff, prop::option::of(48u8..=128))
            .prop_map(|(h, p)| match p {
                Some(p) => format!("2001:db8::{h:x}/{p}"),
                None => format!("2001:db8::{h:x}"),
            })
            .boxed()
    } else {
        (1u8..255, prop::option::of(8u8..=32))
            .prop_map(|(h, p)| match p {
                Some(p) => format!("192.0.2.{h}/{p}"),
                None => format!("192.0.2.{h}"),
            })
            .boxed()
    }
}

fn command() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "\"/usr/bin/pgrep -x nginx\"",
        "\"/usr/bin/systemctl reload nginx\"",
        "\"/usr/sbin/service haproxy restart\"",
        "\"/usr/local/bin/x 'a b' \\\"c\\\" d\\te\"",
        "\"/bin/true | /bin/false\"",
        "\"test -f /x && echo $(date)\"",
        "/usr/local/bin/hook",
        "/usr/local/bin/hook arg",
        "\"</dev/tcp/127.0.0.1/80\"",
        "\"\"",
        "\"systemctl\"",
    ])
    .prop_map(String::from)
}

/// One vrrp_instance's lines.
fn instance(n: usize, scripts: usize) -> impl Strategy<Value = Vec<String>> {
    let v6 = any::<bool>();
    v6.prop_flat_map(move |v6| {
        (
            (
                prop::collection::vec(addr(v6), 1..4),
                prop::option::of(addr(!v6)),
            ),
            ifname(),
            1u16..=256,
            prop::option::of(0u16..=256),
            prop::option::of(prop::sample::select(vec![
                "1", "2", "0.5", "0.01", "3.33", "255", "40.95",
            ])),
            prop::option::of(2u8..=4),
            prop::collection::vec(
                prop::sample::select(vec![
                    "nopreempt",
                    "preempt",
                    "accept",
                    "no_accept",
                    "use_vmac",
                    "native_ipv6",
                    "strict_mode",
                    "strict_mode off",
                    "state MASTER",
                    "state BACKUP",
                    "preempt_delay 5",
                    "preempt_delay 1.5",
                    "garp_master_delay 0",
                    "garp_master_repeat 3",
                    "garp_master_refresh 60",
                    "garp_master_repeat 1000",
                ]),
                0..5,
            ),
            prop::option::of("[a-z0-9]{1,12}"),
            prop::collection::vec((0..scripts.max(1), prop::option::of(-300i32..300)), 0..3),
            prop::collection::vec((ifname(), prop::option::of(-300i32..300)), 0..3),
            prop::option::of(prop::collection::vec(addr(v6), 1..3)),
            prop::collection::vec((0usize..5, command()), 0..4),
        )
    })
    .prop_map(
        move |((vips, other), ifn, vrid, prio, adv, ver, flags, pass, ts, ti, peers, notifies)| {
            let mut l = vec![
                format!("vrrp_instance VI_{n} {{"),
                format!("interface {ifn}"),
            ];
            l.push(format!("virtual_router_id {vrid}"));
            if let Some(p) = prio {
                l.push(format!("priority {p}"));
            }
            if let Some(a) = adv {
                l.push(format!("advert_int {a}"));
            }
            if let Some(v) = ver {
                l.push(format!("version {v}"));
            }
            l.extend(flags.iter().map(|f| f.to_string()));
            if let Some(p) = pass {
                l.push(format!(
                    "authentication {{\nauth_type PASS\nauth_pass {p}\n}}"
                ));
            }
            l.push("virtual_ipaddress {".to_string());
            for (i, v) in vips.iter().enumerate() {
                l.push(if i == 1 {
                    format!("{v} dev eth1 label eth1:v{n}")
                } else {
                    v.clone()
                });
            }
            l.push("}".to_string());
            if let Some(o) = other {
                l.push(format!("virtual_ipaddress_excluded {{ {o} }}"));
            }
            if let Some(ps) = peers {
                l.push(format!(
                    "unicast_src_ip {}",
                    ps[0].split('/').next().unwrap_or("")
                ));
                l.push("unicast_peer {".to_string());
                for p in &ps[1..] {
                    l.push(p.split('/').next().unwrap_or("").to_string());
                }
                l.push("}".to_string());
            }
            if !ts.is_empty() {
                l.push("track_script {".to_string());
                for (s, w) in &ts {
                    l.push(match w {
                        Some(w) => format!("chk_{s} weight {w}"),
                        None => format!("chk_{s}"),
                    });
                }
                l.push("}".to_string());
            }
            if !ti.is_empty() {
                l.push("track_interface {".to_string());
                for (i, w) in &ti {
                    l.push(match w {
                        Some(w) => format!("{i} weight {w}"),
                        None => i.clone(),
                    });
                }
                l.push("}".to_string());
            }
            l.push("track_file { drain weight -2 }".to_string());
            for (k, c) in &notifies {
                let kw = [
                    "notify",
                    "notify_master",
                    "notify_backup",
                    "notify_fault",
                    "notify_stop",
                ][*k];
                l.push(format!("{kw} {c}"));
            }
            l.push("}".to_string());
            l
        },
    )
}

fn script(n: usize) -> impl Strategy<Value = Vec<String>> {
    (
        command(),
        prop::option::of(0u32..100),
        prop::option::of(0u32..10),
        prop::option::of(0u32..200),
        prop::option::of(-300i32..300),
        prop::option::of(prop::sample::select(vec![
            "nobody",
            "root",
            "www-data www-data",
        ])),
    )
        .prop_map(move |(c, interval, timeout, rise, weight, user)| {
            let mut l = vec![format!("vrrp_script chk_{n} {{"), format!("script {c}")];
            if let Some(i) = interval {
                l.push(format!("interval {i}"));
            }
            if let Some(t) = timeout {
                l.push(format!("timeout {t}"));
            }
            if let Some(r) = rise {
                l.push(format!("rise {r}"));
                l.push(format!("fall {r}"));
            }
            if let Some(w) = weight {
                l.push(format!("weight {w}"));
            }
            if let Some(u) = user {
                l.push(format!("user {u}"));
            }
            l.push("}".to_string());
            l
        })
}

fn config() -> impl Strategy<Value = String> {
    (1usize..4, 0usize..4).prop_flat_map(|(ni, ns)| {
        (
            prop::collection::vec(any::<u8>(), 6),
            (0..ns).map(script).collect::<Vec<_>>(),
            (0..ni).map(move |i| instance(i, ns)).collect::<Vec<_>>(),
            prop::collection::vec(prop::collection::vec(0..ni, 1..3), 0..2),
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(move |(g, scripts, instances, groups, one_line, comments)| {
                let mut lines = vec!["global_defs {".to_string()];
                if g[0] % 2 == 0 {
                    lines.push("router_id lb1".to_string());
                }
                if g[1] % 3 == 0 {
                    lines.push(format!("vrrp_version {}", 2 + g[1] % 2));
                }
                if g[2] % 4 == 0 {
                    lines.push("vrrp_garp_master_delay 0".to_string());
                }
                if g[3] % 4 == 0 {
                    lines.push("script_user nobody".to_string());
                }
                if g[4] % 5 == 0 {
                    lines.push("enable_script_security".to_string());
                }
                if g[5] % 7 == 0 {
                    lines.push("vrrp_strict".to_string());
                }
                lines.push("}".to_string());
                lines.push("vrrp_track_file drain {\nfile /run/drain\n}".to_string());
                for s in scripts {
                    lines.extend(s);
                }
                for i in instances {
                    lines.extend(i);
                }
                for (k, members) in groups.iter().enumerate() {
                    let names: Vec<String> = members.iter().map(|m| format!("VI_{m}")).collect();
                    lines.push(format!("vrrp_sync_group G{k} {{\ngroup {{ {} }}\nnotify_master \"/usr/bin/systemctl start x\"\n}}", names.join(" ")));
                }
                // keepalived splits lines only at braces, so a layout may only vary
                // white space and comments, not join keywords on one line.
                let mut text = String::new();
                for l in lines {
                    if one_line {
                        text.push_str("\t  ");
                    }
                    text.push_str(&l);
                    text.push_str(if comments {
                        " # c\n"
                    } else if one_line {
                        " \t\n\n"
                    } else {
                        "\n"
                    });
                }
                text
            })
    })
}

fn check(text: &str, split: bool) -> Result<(), TestCaseError> {
    let opts = Options {
        config_id: Some("lb1".to_string()),
        split,
        includes: false,
    };
    let result = import_str(text, "gen.conf", &opts);
    for out in &result.outputs {
        if let Err(e) = vrrp_ha::config::parse_str(&out.text, &out.name) {
            return Err(TestCaseError::fail(format!(
                "output does not pass check:\n{text}\n---\n{}\n{}",
                out.text,
                e.render_plain()
            )));
        }
    }
    prop_assert!(result.exit_code() == 2 || !result.outputs.is_empty());
    let _ = result.render_plain();
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn generated_configs_import_and_pass_check(text in config()) {
        check(&text, false)?;
    }

    #[test]
    fn generated_configs_split_and_pass_check(text in config()) {
        check(&text, true)?;
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,400}") {
        check(&text, false)?;
    }
}
