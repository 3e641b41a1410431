//! Helpers shared by the scenario tests.
#![allow(dead_code, reason = "each scenario uses a subset")]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crypta_commitlog::{
    CommitLogConfig, CommitLogError, Position, ReplayOptions, ReplayReport, SyncMode, replay,
};
use crypta_compression::CompressionOptions;
use crypta_keys::{KeyProvider, LocalKeyProvider};

/// Options for `class` with `cipher` at `bits` (no cipher for plain classes).
pub fn options(class: &str, cipher: Option<(&str, u32)>, chunk_kb: u32) -> CompressionOptions {
    let mut m = BTreeMap::new();
    m.insert("class".to_string(), class.to_string());
    m.insert("chunk_length_kb".to_string(), chunk_kb.to_string());
    if let Some((t, bits)) = cipher {
        m.insert("cipher_algorithm".to_string(), t.to_string());
        m.insert("secret_key_strength".to_string(), bits.to_string());
    }
    CompressionOptions::parse(&m).unwrap()
}

/// AES/CBC/PKCS5Padding 128, DSE's system_info_encryption default.
pub fn aes_cbc() -> CompressionOptions {
    options("Encryptor", Some(("AES/CBC/PKCS5Padding", 128)), 4)
}

/// A local key file provider in `dir` that sees key changes at once.
pub fn keys(dir: &Path) -> Arc<LocalKeyProvider> {
    Arc::new(
        LocalKeyProvider::open(dir.join("keys/system_key"))
            .unwrap()
            .with_refresh(Duration::ZERO),
    )
}

/// A config with small segments.
pub fn config(
    sync: SyncMode,
    compression: CompressionOptions,
    segment_size: u64,
) -> CommitLogConfig {
    CommitLogConfig {
        segment_size,
        sync,
        compression,
        ..CommitLogConfig::default()
    }
}

/// A plaintext log in `dir` with `sync` and segments of `segment_size` bytes.
pub fn open_plain(dir: &Path, sync: SyncMode, segment_size: u64) -> crypta_commitlog::CommitLog {
    crypta_commitlog::CommitLog::open(
        dir,
        config(sync, CompressionOptions::default(), segment_size),
        None,
    )
    .unwrap()
}

/// A record whose content says its number and has `len` bytes.
pub fn record(n: u64, len: usize) -> Vec<u8> {
    let mut v = n.to_le_bytes().to_vec();
    let mut x = n.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.push((x % 251) as u8);
    }
    v.truncate(len.max(8));
    v
}

/// Every record replayed, with its position.
pub type Replayed = Vec<(Position, Vec<u8>)>;

/// Replays `dir`, collecting every record.
pub fn collect(
    dir: &Path,
    keys: Option<&dyn KeyProvider>,
    options: ReplayOptions,
) -> Result<(Replayed, ReplayReport), CommitLogError> {
    let mut v = Vec::new();
    let report = replay(dir, keys, options, |p, r| {
        v.push((p, r.to_vec()));
        Ok(())
    })?;
    Ok((v, report))
}

/// The segment files in `dir`, oldest first.
pub fn segment_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    v.sort_by_key(|p| {
        p.file_stem()
            .and_then(|s| s.to_str())
            .and_then(|s| s.rsplit('-').next())
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap()
    });
    v
}
