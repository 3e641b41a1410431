//! `crypta.yaml` parsing (what `Engine::open` and every `crypta` command read first, and what
//! a live config edit is checked with) on arbitrary text: never panics, whatever the YAML
//! holds. Seeds: `crypta init`'s file and the hcd.yaml sections the docs paste
//! (fuzz/seeds/config_parse).
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(config) = crypta::Config::parse(text, Path::new("crypta.yaml"), Path::new("/base")) {
        // Debug output of a parsed config formats (and hides passwords; see config's tests).
        let _ = format!("{config:?}");
    }
});
