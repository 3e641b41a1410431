//! Writes the golden commit log of format version 1 that `tests/golden.rs` reads:
//! `cargo run -p crypta-commitlog --example make_golden_commitlog -- crates/commitlog/tests/data`.
//!
//! Three segments in `<dir>/commitlog`: plain (records 0-4, sealed); AES-128-CBC with a key
//! rotation inside (records 5-14, sealed, two key ids); LZ4 then AES-128-GCM left unsealed by
//! a "crash" and cut 3 bytes short (records 15-18 whole, record 19 torn). The key file is
//! `<dir>/v1-test-keys`: test key material only, protecting nothing.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a generator stops loudly"
)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use crypta_commitlog::{CommitLog, CommitLogConfig, SyncMode};
use crypta_compression::CompressionOptions;
use crypta_keys::{KeyManager, KeyProvider, LocalKeyProvider};

/// Record `i` of the golden log (as in `tests/golden.rs`).
fn golden_record(i: u64) -> Vec<u8> {
    format!("golden mutation {i};")
        .repeat(i as usize % 5 + 1)
        .into_bytes()
}

fn options(class: &str, cipher: Option<&str>) -> CompressionOptions {
    let mut m = BTreeMap::new();
    m.insert("class".to_string(), class.to_string());
    m.insert("chunk_length_kb".to_string(), "4".to_string());
    if let Some(c) = cipher {
        m.insert("cipher_algorithm".to_string(), c.to_string());
        m.insert("secret_key_strength".to_string(), "128".to_string());
    }
    CompressionOptions::parse(&m).unwrap()
}

fn main() {
    let out = PathBuf::from(
        std::env::args()
            .nth(1)
            .expect("usage: make_golden_commitlog DIR"),
    );
    let logdir = out.join("commitlog");
    if logdir.exists() {
        std::fs::remove_dir_all(&logdir).unwrap();
    }
    let keyfile = out.join("v1-test-keys");
    let _ = std::fs::remove_file(&keyfile);
    let local = Arc::new(LocalKeyProvider::open(&keyfile).unwrap());
    let keys: Arc<dyn KeyProvider> = local.clone();
    let config = |compression| CommitLogConfig {
        sync: SyncMode::Batch,
        compression,
        ..CommitLogConfig::default()
    };

    let log = CommitLog::open(
        &logdir,
        config(CompressionOptions::default()),
        Some(keys.clone()),
    )
    .unwrap();
    for i in 0..5 {
        log.append(&golden_record(i)).unwrap();
    }
    log.close().unwrap();

    let cbc = options("Encryptor", Some("AES/CBC/PKCS5Padding"));
    let spec = cbc.key_spec().unwrap();
    let log = CommitLog::open(&logdir, config(cbc), Some(keys.clone())).unwrap();
    for i in 5..10 {
        log.append(&golden_record(i)).unwrap();
    }
    let first = keys.current_key(&spec).unwrap().id().clone();
    local.revoke(&first, false).unwrap();
    for i in 10..15 {
        log.append(&golden_record(i)).unwrap();
    }
    log.close().unwrap();

    let gcm = options("EncryptingLZ4Compressor", Some("AES/GCM/NoPadding"));
    let log = CommitLog::open(&logdir, config(gcm), Some(keys)).unwrap();
    for i in 15..20 {
        log.append(&golden_record(i)).unwrap();
    }
    let newest = log.segments().pop().unwrap();
    std::mem::forget(log); // a crash: no trailer
    let len = std::fs::metadata(&newest).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&newest)
        .unwrap()
        .set_len(len - 3)
        .unwrap();
    let _ = std::fs::remove_file(out.join("v1-test-keys.lock"));
    println!("wrote {}", logdir.display());
}
