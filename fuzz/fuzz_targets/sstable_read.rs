//! The SSTable reader on arbitrary bytes: open, point lookups, a range scan and verify. Any
//! panic, or an allocation past the RSS limit, is a bug.
//!
//! Checksums would stop almost every mutation at the door, so each input is also tried with
//! the CRC of every chunk frame recomputed (walking the frames from the header on), and the
//! crate, built with `--cfg fuzzing`, does not enforce its file-level checksums: mutations then
//! reach the entry, index, filter, summary and manifest parsers. Seeds (`seeds/sstable_read/`) are real
//! small tables, plain and encrypted under the fixed key below (made by
//! `cargo run -p crypta-sstable --example make_fuzz_seeds -- fuzz/seeds/sstable_read`).
#![no_main]

use std::ops::Bound;
use std::sync::Arc;

use crypta_keys::{
    Algorithm, Key, KeyError, KeyId, KeyInfo, KeyMaterial, KeyProvider, KeySpec, KeyState,
    Timestamp,
};
use crypta_sstable::{ChunkCache, Sstable};
use libfuzzer_sys::fuzz_target;

/// One AES-128 key, `fuzz-aes-128`, of sixteen 0x42 bytes (the seeds' key).
#[derive(Debug)]
struct FixedKey(Arc<Key>);

impl FixedKey {
    fn new() -> Option<Self> {
        let info = KeyInfo {
            id: KeyId::new("fuzz-aes-128").ok()?,
            name: None,
            algorithm: Algorithm::Aes,
            strength: 128,
            state: KeyState::Active,
            namespace: None,
            created: Timestamp(0),
            activated: Some(Timestamp(0)),
            protect_stop: None,
            deactivated: None,
        };
        Some(FixedKey(Arc::new(Key::new(info, KeyMaterial::new(vec![0x42; 16])).ok()?)))
    }
}

impl KeyProvider for FixedKey {
    fn describe(&self) -> String {
        "fuzz fixed key".into()
    }
    fn current_key(&self, _: &KeySpec) -> Result<Arc<Key>, KeyError> {
        Ok(self.0.clone())
    }
    fn key_by_id(&self, id: &KeyId) -> Result<Arc<Key>, KeyError> {
        if id == self.0.id() {
            Ok(self.0.clone())
        } else {
            Err(KeyError::NotFound { key_id: id.clone(), provider: self.describe() })
        }
    }
}

/// Recomputes the CRC of each chunk frame, walking them from the end of the header.
fn fix_frame_crcs(bytes: &mut [u8]) {
    let mut at = 16usize;
    while let Some(rest) = bytes.get(at..) {
        let Ok(h) = crypta_compression::parse_header(rest, 1 << 20) else {
            return;
        };
        let body = h.payload_offset + h.payload_len;
        let crc = crc32fast::hash(&rest[..body]);
        bytes[at + body..at + body + 4].copy_from_slice(&crc.to_le_bytes());
        at += h.frame_len();
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
    let Some(keys) = FixedKey::new() else { return };
    let cache = Arc::new(ChunkCache::new(1 << 20));
    let Ok(t) = Sstable::from_bytes("fuzz.db", data, Arc::new(keys), Some(cache)) else {
        return;
    };
    let m = t.metadata().clone();
    let probes: Vec<Vec<u8>> = [m.min_key.clone(), m.max_key.clone(), Some(b"key-0000000100".to_vec()), Some(Vec::new())]
        .into_iter()
        .flatten()
        .collect();
    for k in &probes {
        let _ = t.get(k);
    }
    let lo = m.min_key.unwrap_or_default();
    for item in t.range(Bound::Excluded(&lo), Bound::Unbounded).take(10_000) {
        if item.is_err() {
            break;
        }
    }
    let _ = t.verify();
}
