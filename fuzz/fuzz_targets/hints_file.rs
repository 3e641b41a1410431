//! The hints file reader (`crypta_hints::read_hints_file`) on arbitrary bytes: it must
//! return hints or an error, never panic, hang or over-allocate.
#![no_main]

#[path = "fixed_key.rs"]
mod fixed_key;

use std::path::Path;

use crypta_commitlog::TailPolicy;
use crypta_hints::{HostId, read_hints_file};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() > 1 << 16 {
        return;
    }
    let path = Path::new("hints-file");
    let expected = Some((HostId([0x11; 16]), 1));
    for policy in [TailPolicy::MayBeTorn, TailPolicy::MustBeSealed] {
        for expect in [None, expected] {
            match read_hints_file(path, data, Some(fixed_key::keys()), policy, expect) {
                Ok(f) => {
                    for h in f.hints() {
                        assert!(h.offset < h.next);
                        assert!(h.next <= f.file.records_end);
                        assert_eq!(h.hint.host, f.host);
                    }
                }
                Err(e) => {
                    let _ = e.to_string();
                }
            }
        }
    }
});
