//! Helpers shared by the scenario tests: options, key providers, sample tables.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    dead_code,
    reason = "test helpers; each test file uses some of them"
)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crypta_compression::CompressionOptions;
use crypta_keys::{Algorithm, KeyProvider, LocalKeyProvider};
use crypta_sstable::{Component, Entry, Sstable, SstableInfo, SstableWriter, WriterOptions};

/// Options from a class name, an optional cipher and strength, and a chunk length.
pub fn options(class: &str, cipher: Option<(&str, u32)>, chunk_kb: u32) -> CompressionOptions {
    let mut m = BTreeMap::new();
    if class.is_empty() {
        m.insert("enabled".to_string(), "false".to_string());
    } else {
        m.insert("class".to_string(), class.to_string());
    }
    m.insert("chunk_length_kb".to_string(), chunk_kb.to_string());
    if let Some((t, bits)) = cipher {
        m.insert("cipher_algorithm".to_string(), t.to_string());
        m.insert("secret_key_strength".to_string(), bits.to_string());
    }
    CompressionOptions::parse(&m).unwrap()
}

/// The plaintext options of the tests.
pub fn plain(chunk_kb: u32) -> CompressionOptions {
    options("", None, chunk_kb)
}

/// `Encryptor` with AES/CBC/PKCS5Padding 128.
pub fn aes_cbc(chunk_kb: u32) -> CompressionOptions {
    options("Encryptor", Some(("AES/CBC/PKCS5Padding", 128)), chunk_kb)
}

/// A local key provider with its key file in `dir`, re-reading the file on every call.
pub fn provider(dir: &Path) -> Arc<LocalKeyProvider> {
    Arc::new(
        LocalKeyProvider::open(dir.join("keys/system_key"))
            .unwrap()
            .with_refresh(Duration::ZERO),
    )
}

/// Every JCE transformation with one or more strengths.
pub fn transformations() -> Vec<(String, u32)> {
    let mut v = Vec::new();
    for alg in Algorithm::ALL {
        let strengths: &[u32] = match alg {
            Algorithm::Aes => &[128, 192, 256],
            Algorithm::Des => &[56],
            Algorithm::DesEde => &[112, 168],
            Algorithm::Blowfish => &[128],
            Algorithm::Rc2 => &[128],
        };
        for &bits in strengths {
            for mode in ["ECB", "CBC"] {
                v.push((format!("{}/{mode}/PKCS5Padding", alg.jce_name()), bits));
            }
            if alg == Algorithm::Aes {
                v.push(("AES/GCM/NoPadding".to_string(), bits));
            }
        }
    }
    v
}

/// The key of entry `i`: sortable, varied lengths.
pub fn key(i: u64) -> Vec<u8> {
    format!("key-{i:010}-{}", "k".repeat((i % 7) as usize)).into_bytes()
}

/// The entry of `i`: tombstones every 13th, values of varied lengths.
pub fn entry(i: u64) -> Entry {
    if i % 13 == 5 {
        Entry::tombstone(1_000_000 + i as i64)
    } else {
        let len = (i * 31 % 200) as usize;
        let v: Vec<u8> = (0..len).map(|j| (i as usize * 7 + j) as u8).collect();
        Entry::value(v, 1_000_000 + i as i64)
    }
}

/// Writes entries `0..n` (by [`key`] and [`entry`]).
pub fn write_n(
    path: &Path,
    opts: &CompressionOptions,
    keys: Arc<dyn KeyProvider>,
    n: u64,
) -> SstableInfo {
    write_n_with(path, opts, keys, n, WriterOptions::default())
}

/// [`write_n`] with writer options (`expected_entries` is set to `n`).
pub fn write_n_with(
    path: &Path,
    opts: &CompressionOptions,
    keys: Arc<dyn KeyProvider>,
    n: u64,
    wopts: WriterOptions,
) -> SstableInfo {
    let mut w = SstableWriter::create(
        path,
        opts,
        keys,
        WriterOptions {
            expected_entries: n,
            ..wopts
        },
    )
    .unwrap();
    for i in 0..n {
        w.add(&key(i), &entry(i)).unwrap();
    }
    w.finish().unwrap()
}

/// Opens `path` without a cache.
pub fn open(path: &Path, keys: Arc<dyn KeyProvider>) -> Sstable {
    Sstable::open(path, keys, None).unwrap()
}

/// Checks that the table at `path` holds exactly entries `0..n`.
pub fn check_n(t: &Sstable, n: u64) {
    let mut i = 0;
    for item in t.iter() {
        let (k, e) = item.unwrap();
        assert_eq!(k, key(i), "key {i}");
        assert_eq!(e, entry(i), "entry {i}");
        i += 1;
    }
    assert_eq!(i, n);
    for j in (0..n).step_by(((n / 97) as usize).max(1)) {
        assert_eq!(t.get(&key(j)).unwrap(), Some(entry(j)), "get {j}");
    }
    assert_eq!(t.get(b"key-").unwrap(), None);
    assert_eq!(t.get(b"zzz").unwrap(), None);
    assert_eq!(t.metadata().entry_count, n);
}

/// `dir/name`.
pub fn at(dir: &tempfile::TempDir, name: &str) -> PathBuf {
    dir.path().join(name)
}

/// The file range `(start, end)` of each data frame of `t`, in chunk order.
pub fn frames(t: &Sstable) -> Vec<(u64, u64)> {
    let offsets = t.chunk_offsets();
    let data_end = t
        .layout()
        .iter()
        .find(|(c, _, _)| *c == Component::Data)
        .map(|(_, at, len)| at + len)
        .unwrap();
    let ends = offsets.iter().skip(1).copied().chain([data_end]);
    offsets.iter().copied().zip(ends).collect()
}
