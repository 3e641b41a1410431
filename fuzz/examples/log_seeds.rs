//! Writes the commit log segment and hint file seeds as the logs encode chunks since
//! 2026-11-30 (64 KiB segments, CBC in interleaved chains: frame mode code 4), under the fuzz
//! targets' fixed key (`fuzz-key`):
//! `cargo run --example log_seeds` (from `fuzz/`). The other log seeds predate mode 4 and stay
//! (replay still reads them).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crypta_commitlog::{CommitLog, CommitLogConfig, SyncMode};
use crypta_compression::CompressionOptions;
use crypta_hints::{HintsConfig, HintsStore, HostId};
use crypta_keys::{KeyProvider, Timestamp};

#[path = "../fuzz_targets/fixed_key.rs"]
mod fixed_key;

fn provider() -> Arc<dyn KeyProvider> {
    Arc::new(fixed_key::Shared)
}

fn cbc() -> CompressionOptions {
    aes("AES/CBC/PKCS5Padding")
}

fn aes(transformation: &str) -> CompressionOptions {
    let mut m = BTreeMap::new();
    m.insert("class".to_string(), "Encryptor".to_string());
    m.insert("cipher_algorithm".to_string(), transformation.to_string());
    m.insert("secret_key_strength".to_string(), "128".to_string());
    m.insert("chunk_length_kb".to_string(), "4".to_string());
    CompressionOptions::parse(&m).expect("options")
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = std::env::temp_dir().join(format!("crypta-log-seeds-{}", std::process::id()));
    // Sealed commit log segments: records spanning chunks of 4 KiB, in CBC (interleaved
    // chains) and GCM (one sealed segment per chunk).
    for (name, transformation) in [
        ("aes-cbc-interleaved-sealed", "AES/CBC/PKCS5Padding"),
        ("aes-gcm-whole-sealed", "AES/GCM/NoPadding"),
    ] {
        let config = CommitLogConfig {
            sync: SyncMode::Periodic(Duration::from_secs(10)),
            compression: aes(transformation),
            ..CommitLogConfig::default()
        };
        let log = CommitLog::open(tmp.join(name), config, Some(provider()))?;
        for i in 0..40u32 {
            let record: Vec<u8> = format!("mutation {i}: ")
                .into_bytes()
                .into_iter()
                .chain(std::iter::repeat_n(b'x', (i as usize * 37) % 500))
                .collect();
            log.append(&record)?;
        }
        let segments = log.segments();
        log.close()?;
        let segment = segments.first().ok_or("no segment")?;
        std::fs::copy(segment, root.join("seeds/commitlog_segment").join(name))?;
    }
    // A sealed hint file.
    let config = HintsConfig {
        compression: cbc(),
        ..HintsConfig::default()
    };
    let store = HintsStore::open(tmp.join("hints"), config, Some(provider()))?;
    // The host the hints_file target expects.
    let host = HostId([0x11; 16]);
    for i in 0..20usize {
        let mutation = format!("hint {i};").repeat(i + 1);
        store.write_hint(host, mutation.as_bytes(), Timestamp::now())?;
    }
    store.close()?;
    let file = std::fs::read_dir(tmp.join("hints"))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "hints"))
        .ok_or("no hint file")?;
    std::fs::copy(
        file,
        root.join("seeds/hints_file/aes-cbc-interleaved-sealed"),
    )?;
    std::fs::remove_dir_all(&tmp)?;
    println!("3 seeds written");
    Ok(())
}
