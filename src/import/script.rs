//! Command strings as keepalived splits them (`alloc_strvec_quoted_escaped()` in its
//! lib/parser.c) and what they become in vrrp-ha: an argv, a systemd unit action, or
//! `/bin/sh -c` when the string only works in a shell.

/// keepalived's white space.
const WHITE: &[u8] = b" \t\x0c\n\r\x0b";

/// Splits like keepalived's `alloc_strvec_quoted_escaped()`: words at white space, `"..."`
/// and `'...'` quote (and are removed), `\` escapes as in C (`\n`, `\t`, `\x41`, `\101`,
/// `\cX`, any other character stands for itself) inside and outside quotes.
pub fn split(src: &str) -> Result<Vec<String>, String> {
    let b = src.as_bytes();
    let mut words = Vec::new();
    let mut i = 0;
    loop {
        while i < b.len() && WHITE.contains(&b[i]) {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        let mut word: Vec<u8> = Vec::new();
        let mut quote: u8 = 0;
        while i < b.len() {
            let c = b[i];
            if c == b'\\' {
                i += 1;
                if i >= b.len() {
                    return Err("a `\\` at the end escapes nothing".to_string());
                }
                let e = b[i];
                if e == b'x' && i + 1 < b.len() && b[i + 1].is_ascii_hexdigit() {
                    i += 1;
                    let mut v: u8 = 0;
                    while i < b.len() && b[i].is_ascii_hexdigit() {
                        v = (v << 4) | hex(b[i]);
                        i += 1;
                    }
                    word.push(v);
                } else if e == b'c' && i + 1 < b.len() {
                    word.push(b[i + 1] & 0x1f);
                    i += 2;
                } else if (b'0'..=b'7').contains(&e) {
                    let mut v: u8 = e - b'0';
                    i += 1;
                    for _ in 0..2 {
                        if i < b.len() && (b'0'..=b'7').contains(&b[i]) {
                            v = (v << 3).wrapping_add(b[i] - b'0');
                            i += 1;
                        }
                    }
                    word.push(v);
                } else {
                    word.push(match e {
                        b'a' => 0x07,
                        b'b' => 0x08,
                        b'E' => 0x1b,
                        b'f' => 0x0c,
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'v' => 0x0b,
                        other => other,
                    });
                    i += 1;
                }
                continue;
            }
            if quote != 0 {
                if c == quote {
                    quote = 0;
                } else {
                    word.push(c);
                }
                i += 1;
                continue;
            }
            if c == b'"' || c == b'\'' {
                quote = c;
                i += 1;
                continue;
            }
            if WHITE.contains(&c) {
                break;
            }
            word.push(c);
            i += 1;
        }
        if quote != 0 {
            return Err(format!("missing terminating {}", quote as char));
        }
        words.push(String::from_utf8_lossy(&word).into_owned());
    }
    Ok(words)
}

fn hex(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => c - b'A' + 10,
    }
}

/// Why a command needs a shell: the first shell construct found in it, if any. keepalived
/// itself never uses a shell for these (it `execve()`s the words), so such a line only
/// worked by accident or not at all.
pub fn needs_shell(command: &str, argv: &[String]) -> Option<&'static str> {
    const OPS: &[(&str, &str)] = &[
        ("$(", "a command substitution `$(...)`"),
        ("`", "a command substitution in backquotes"),
        ("&&", "`&&`"),
        ("||", "`||`"),
        ("|", "a pipe `|`"),
        (">", "a redirection `>`"),
        ("<", "a redirection `<`"),
        (";", "`;`"),
        ("&", "`&`"),
        ("${", "a variable `${...}`"),
    ];
    for (op, what) in OPS {
        if argv.iter().any(|w| w.contains(op)) || command.trim_start().starts_with(op) {
            return Some(what);
        }
    }
    if argv.iter().any(|w| {
        w.starts_with('$') && w[1..].starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
    }) {
        return Some("a shell variable `$NAME`");
    }
    None
}

/// `systemctl VERB UNIT` (or `service NAME VERB`) as a systemd unit action of vrrp-ha:
/// the action name and the full unit name.
pub fn unit_action(argv: &[String]) -> Option<(&'static str, String)> {
    let prog = argv.first()?.as_str();
    let verb_of = |v: &str| match v {
        "start" => Some("start"),
        "stop" => Some("stop"),
        "restart" => Some("restart"),
        "reload" => Some("reload"),
        _ => None,
    };
    let (verb, unit) = match prog {
        "systemctl" | "/bin/systemctl" | "/usr/bin/systemctl" if argv.len() == 3 => {
            (verb_of(&argv[1])?, argv[2].as_str())
        }
        "service" | "/sbin/service" | "/usr/sbin/service" if argv.len() == 3 => {
            (verb_of(&argv[2])?, argv[1].as_str())
        }
        _ => return None,
    };
    if unit.starts_with('-') || unit.is_empty() || unit.contains(['/', ' ']) {
        return None;
    }
    let unit = if unit.contains('.') {
        unit.to_string()
    } else {
        format!("{unit}.service")
    };
    Some((verb, unit))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn splits_like_keepalived() {
        assert_eq!(
            split(r#"/bin/a -x "b c" 'd e'f g\ h"#).unwrap(),
            s(&["/bin/a", "-x", "b c", "d ef", "g h"])
        );
        assert_eq!(split(r"a\x41\101\tb").unwrap(), s(&["aAA\tb"]));
        assert!(split("a 'b").is_err());
        assert!(split("a \\").is_err());
    }

    #[test]
    fn shell_constructs() {
        let c = "pidof nginx | wc -l";
        assert!(needs_shell(c, &split(c).unwrap()).is_some());
        let c = "/usr/bin/curl -fs http://127.0.0.1/";
        assert!(needs_shell(c, &split(c).unwrap()).is_none());
        let c = "</dev/tcp/127.0.0.1/80";
        assert!(needs_shell(c, &split(c).unwrap()).is_some());
    }

    #[test]
    fn systemctl_becomes_a_unit_action() {
        assert_eq!(
            unit_action(&s(&["/usr/bin/systemctl", "reload", "nginx"])),
            Some(("reload", "nginx.service".to_string()))
        );
        assert_eq!(
            unit_action(&s(&["service", "haproxy", "restart"])),
            Some(("restart", "haproxy.service".to_string()))
        );
        assert_eq!(
            unit_action(&s(&["systemctl", "--no-block", "reload", "x"])),
            None
        );
    }
}
