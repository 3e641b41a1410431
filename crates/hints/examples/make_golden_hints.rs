//! Writes the golden hints of format version 1 that `tests/golden.rs` reads:
//! `cargo run -p crypta-hints --example make_golden_hints -- crates/hints/tests/data`.
//!
//! In `<dir>/hints`, AES-128-CBC: host 11…11 has hints 0-9 in a sealed file; host 22…22 has
//! hints 10-14 in a file left unsealed by a "crash" and cut 3 bytes short (hint 14 torn).
//! Hint `i` was created at `T0 + i` seconds. The key file is `<dir>/v1-test-keys`: test key
//! material only, protecting nothing.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a generator stops loudly"
)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use crypta_compression::CompressionOptions;
use crypta_hints::{HintsConfig, HintsStore, HostId};
use crypta_keys::{KeyProvider, LocalKeyProvider, Timestamp};

const T0: u64 = 1_800_000_000_000;

/// Hint `i`'s mutation (as in `tests/golden.rs`).
fn golden_mutation(i: u64) -> Vec<u8> {
    format!("golden hint {i};")
        .repeat(i as usize % 4 + 1)
        .into_bytes()
}

fn main() {
    let out = PathBuf::from(
        std::env::args()
            .nth(1)
            .expect("usage: make_golden_hints DIR"),
    );
    let dir = out.join("hints");
    if dir.exists() {
        std::fs::remove_dir_all(&dir).unwrap();
    }
    let keyfile = out.join("v1-test-keys");
    let _ = std::fs::remove_file(&keyfile);
    let keys: Arc<dyn KeyProvider> = Arc::new(LocalKeyProvider::open(&keyfile).unwrap());
    let mut m = BTreeMap::new();
    m.insert("class".to_string(), "Encryptor".to_string());
    m.insert(
        "cipher_algorithm".to_string(),
        "AES/CBC/PKCS5Padding".to_string(),
    );
    let config = HintsConfig {
        compression: CompressionOptions::parse(&m).unwrap(),
        clock: Arc::new(|| Timestamp(T0)),
        ..HintsConfig::default()
    };
    let store = HintsStore::open(&dir, config, Some(keys)).unwrap();
    for i in 0..15 {
        let host = if i < 10 {
            HostId([0x11; 16])
        } else {
            HostId([0x22; 16])
        };
        store
            .write_hint(host, &golden_mutation(i), Timestamp(T0 + i * 1000))
            .unwrap();
        store.flush().unwrap(); // each hint its own chunk: a torn tail loses only the last
    }
    // A dispatch that fails at once seals host 11's file and writes its cursor (at hint 0).
    store
        .dispatch(HostId([0x11; 16]), |_| crypta_hints::Delivery::Failed)
        .unwrap();
    std::mem::forget(store); // a crash: host 22's file stays unsealed
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains("22222222-2222"))
        .filter(|p| p.extension().is_some_and(|e| e == "hints"))
        .collect();
    let torn = files.pop().unwrap();
    let len = std::fs::metadata(&torn).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&torn)
        .unwrap()
        .set_len(len - 3)
        .unwrap();
    let _ = std::fs::remove_file(out.join("v1-test-keys.lock"));
    println!("wrote {}", dir.display());
}
