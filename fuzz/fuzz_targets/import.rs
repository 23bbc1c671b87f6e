//! Fuzz `import`: no keepalived configuration may panic the reader, the parser or the
//! translator, and every KDL file it produces must pass `check`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vrrp_ha::import::{import_str, Options};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for split in [false, true] {
        let opts = Options {
            config_id: Some("lb1".to_string()),
            split,
            // The input must not make the fuzzer read files from the disk.
            includes: false,
        };
        let result = import_str(text, "fuzz.conf", &opts);
        for out in &result.outputs {
            if let Err(e) = vrrp_ha::config::parse_str(&out.text, &out.name) {
                panic!("import produced KDL that check rejects:\n{}\n{}", out.text, e.render_plain());
            }
        }
        assert!(result.exit_code() == 2 || !result.outputs.is_empty());
        let _ = result.render_plain();
    }
});
