//! The commit log segment reader (`crypta_commitlog::decode_file`, `summarize_file`) on
//! arbitrary bytes: it must return a value or an error, never panic, hang or over-allocate.
#![no_main]

#[path = "fixed_key.rs"]
mod fixed_key;

use std::path::Path;

use crypta_commitlog::{LogKind, TailPolicy, decode_file, summarize_file};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Real segments are larger, but the decoder's per-block logic is what is under test;
    // bounding the input bounds what a decompression bomb of many blocks may claim.
    if data.len() > 1 << 16 {
        return;
    }
    let path = Path::new("CommitLog-1-1.log");
    for policy in [TailPolicy::MayBeTorn, TailPolicy::MustBeSealed] {
        match decode_file(path, LogKind::CommitLog, data, Some(fixed_key::keys()), policy) {
            Ok(d) => {
                let mut last = None;
                for r in d.records() {
                    assert!(r.offset + r.data.len() as u64 <= d.records_end);
                    assert!(last.is_none_or(|l| l < r.offset), "records in order");
                    last = Some(r.offset);
                }
                assert!(d.valid_len <= data.len() as u64);
            }
            Err(e) => {
                let _ = e.to_string();
            }
        }
    }
    if let Err(e) = summarize_file(path, LogKind::CommitLog, data) {
        let _ = e.to_string();
    }
});
