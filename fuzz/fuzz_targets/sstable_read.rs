//! The SSTable reader on arbitrary bytes: open, point lookups, scans (with and without
//! read-ahead, which must agree) and verify. Any panic, or an allocation past the RSS limit,
//! is a bug.
//!
//! Checksums would stop almost every mutation at the door, so each input is also tried with
//! the CRC of every chunk frame recomputed (walking the frames from the header on), and the
//! crate, built with `--cfg fuzzing`, does not enforce its file-level checksums: mutations then
//! reach the entry, index, filter, summary and manifest parsers.
//!
//! Seeds (`seeds/sstable_read/`) are real small tables, plain and encrypted under the shared
//! fixed key of `fixed_key.rs`, made by
//! `cargo run -p crypta-sstable --example make_fuzz_seeds -- fuzz/seeds/sstable_read`.
#![no_main]

use std::ops::Bound;
use std::sync::Arc;

use crypta_sstable::{ChunkCache, Entry, Scan, Sstable};
use libfuzzer_sys::fuzz_target;

#[path = "fixed_key.rs"]
mod fixed_key;

/// Recomputes the checksums of each chunk frame, walking them from the end of the header.
fn fix_frame_crcs(bytes: &mut [u8]) {
    let mut at = 16usize;
    while let Some(rest) = bytes.get_mut(at..) {
        match crypta_compression::hazmat::reseal_frame(rest, 1 << 20) {
            Ok(len) => at += len,
            Err(_) => return,
        }
    }
}

fuzz_target!(|data: &[u8]| {
    exercise(data.to_vec());
    let mut fixed = data.to_vec();
    fix_frame_crcs(&mut fixed);
    if fixed != data {
        exercise(fixed);
    }
});

fn exercise(data: Vec<u8>) {
    // Without a cache, lookups in plaintext, ECB and CBC tables read parts of chunks
    // (`CheckedFrame` windows); through a cache they read and cache 4 KiB segments (whole
    // chunks for other codecs and version 1 frames). Both, on the same bytes, must agree.
    let Ok(cold) = Sstable::from_bytes("fuzz.db", data.clone(), Arc::new(fixed_key::Shared), None) else {
        return;
    };
    let cache = Arc::new(ChunkCache::new(1 << 20));
    let Ok(t) = Sstable::from_bytes("fuzz.db", data, Arc::new(fixed_key::Shared), Some(cache)) else {
        panic!("opened without a cache but not with one");
    };
    let m = t.metadata().clone();
    let mut probes: Vec<Vec<u8>> = [
        m.min_key.clone(),
        m.max_key.clone(),
        Some(b"key-0000000100".to_vec()),
        Some(Vec::new()),
    ]
    .into_iter()
    .flatten()
    .collect();
    // Keys the table holds (up to a few hundred), and keys just after them.
    for item in t.iter().take(300) {
        let Ok((k, _)) = item else { break };
        let mut after = k.clone();
        after.push(0);
        probes.push(k);
        probes.push(after);
    }
    for k in &probes {
        let whole = t.get(k);
        let part = cold.get(k);
        match (&whole, &part) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "partial and whole reads disagree"),
            (Err(_), Err(_)) => {}
            _ => panic!("partial and whole reads disagree: {whole:?} / {part:?}"),
        }
    }
    // Scans with read-ahead (a thread decoding the chunks ahead, from the third chunk on) and
    // without give the same entries and fail at the same entry with the same error.
    let scan = |s: Scan| -> Vec<Result<(Vec<u8>, Entry), String>> {
        s.take(10_000)
            .map(|r| r.map_err(|e| e.to_string()))
            .collect()
    };
    assert_eq!(
        scan(t.iter()),
        scan(t.iter().read_ahead(false)),
        "read-ahead changes a cached scan"
    );
    assert_eq!(
        scan(cold.iter()),
        scan(cold.iter().read_ahead(false)),
        "read-ahead changes a scan"
    );
    let lo = m.min_key.unwrap_or_default();
    for item in t.range(Bound::Excluded(&lo), Bound::Unbounded).take(10_000) {
        if item.is_err() {
            break;
        }
    }
    let _ = t.verify();
}
