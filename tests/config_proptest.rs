//! No input may panic the config parser: arbitrary strings, arbitrary bytes, and
//! near-valid documents built from the language's own tokens (which reach the validator).
//! 256 cases per property keeps this test in seconds on a loaded 2-core machine.

use proptest::prelude::*;
use vrrp_ha::config;

/// Values and KDL syntax; with the language's node names (from the parser's own
/// list) they make documents that often parse as KDL and exercise the validation and
/// rendering paths, not just the KDL lexer.
const VALUE_TOKENS: &[&str] = &[
    "\"VI_1\"",
    "\"eth0\"",
    "\"192.0.2.1/24\"",
    "\"2001:db8::1/64\"",
    "\"192.0.2.300\"",
    "\"1s\"",
    "\"10ms\"",
    "\"1.5s\"",
    "\"-1s\"",
    "\"99999999999999999999h\"",
    "\"nginx\"",
    "\"nginx.service\"",
    "\"/bin/true\"",
    "\"\"",
    "\"é\u{1F600}\"",
    "0",
    "1",
    "2",
    "3",
    "51",
    "255",
    "256",
    "-1",
    "1.5",
    "1e400",
    "-0.0",
    "0x7fffffffffffffffffffffffffffffff",
    "#true",
    "#false",
    "#null",
    "#inf",
    "#nan",
    "weight=",
    "dev=",
    "label=",
    "=",
    "{",
    "}",
    ";",
    "\n",
    " ",
    "(u8)",
    "//",
    "/-",
    "/*",
    "*/",
    "\\",
    "\"\"\"",
    "#\"",
    "\"#",
];

fn tokens() -> Vec<&'static str> {
    let mut all = config::schema::all_nodes();
    all.extend_from_slice(VALUE_TOKENS);
    all
}

fn render_all(src: &str) {
    if let Err(e) = config::parse_str(src, "fuzz.kdl") {
        assert!(
            !e.problems().is_empty(),
            "an error without problems for {src:?}"
        );
        let _ = e.render_plain();
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_strings_never_panic(src in any::<String>()) {
        render_all(&src);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        render_all(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn token_soup_never_panics(tokens in proptest::collection::vec(proptest::sample::select(tokens()), 0..80)) {
        render_all(&tokens.join(" "));
    }

    #[test]
    fn mutated_examples_never_panic(
        which in 0usize..3,
        cut in any::<prop::sample::Index>(),
        insert in proptest::sample::select(tokens()),
    ) {
        let examples = [
            include_str!("../examples/full.kdl"),
            include_str!("../examples/nginx-master.kdl"),
            include_str!("../tests/configs/valid/tracking.kdl"),
        ];
        let src = examples[which];
        let mut at = cut.index(src.len() + 1);
        while !src.is_char_boundary(at) {
            at -= 1;
        }
        render_all(&format!("{}{insert}{}", &src[..at], &src[at..]));
    }
}

/// keepalived.conf words and the habits vrrp-ha has hints for: whatever they make, parsing
/// never panics, and a file recognised as keepalived's gets that one diagnostic alone.
const KEEPALIVED_TOKENS: &[&str] = &[
    "global_defs",
    "vrrp_instance",
    "vrrp_script",
    "vrrp_sync_group",
    "include",
    "VI_1",
    "chk_nginx",
    "state",
    "MASTER",
    "nopreempt",
    "virtual_ipaddress",
    "192.0.2.1/24",
    "2001:db8::1",
    "100ms",
    "1.5s",
    "exec",
    "\"/usr/bin/curl -fsS http://127.0.0.1/\"",
    "\"/bin/sh -c 'exit 0' | cat\"",
    "{",
    "}",
    "\n",
    "!",
    "#",
    "\"",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn keepalived_soup_never_panics(
        tokens in proptest::collection::vec(
            proptest::sample::select([tokens(), KEEPALIVED_TOKENS.to_vec()].concat()),
            0..60,
        )
    ) {
        let src = tokens.join(" ");
        render_all(&src);
        if let Err(e) = config::parse_str(&src, "fuzz.conf") {
            let foreign = e.problems().iter().any(|p| p.kind == config::ProblemKind::Foreign);
            prop_assert!(!foreign || e.problems().len() == 1, "{src:?}");
        }
    }
}
