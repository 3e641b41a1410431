#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on errors"
)]

//! The checked-in tables of every format version (`tests/data/`, made by the
//! `make_golden_sstable` example) still read back exactly, through every read path, and the
//! writer still produces the plain one of the current version byte for byte: a format change
//! shows up here.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crypta_keys::{KeyProvider, LocalKeyProvider};
use crypta_sstable::{Entry, Sstable, SstableWriter, WriterOptions, key_ids, verify};

/// Entry `i` of the golden tables (as in `examples/make_golden_sstable.rs`).
fn golden_entry(i: u32) -> (Vec<u8>, Entry) {
    let key = format!("golden-{i:05}").into_bytes();
    let ts = 1_700_000_000_000_000 + i64::from(i);
    if i % 11 == 3 {
        return (key, Entry::tombstone(ts));
    }
    let value = format!("value {i};").repeat((i % 9) as usize).into_bytes();
    (key, Entry::value(value, ts))
}

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// The test key file of format `version`, copied where the provider accepts it (mode 0600).
fn keys(dir: &tempfile::TempDir, version: u8) -> Arc<dyn KeyProvider> {
    let path = dir.path().join("keys");
    std::fs::copy(data(&format!("v{version}-test-keys")), &path).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    Arc::new(LocalKeyProvider::open(path).unwrap())
}

/// Opens the golden table at `path` without a cache and with one, and checks every entry
/// through scans and lookups of both.
fn check(path: &Path, keys: &Arc<dyn KeyProvider>, version: u8, chunk_length: usize) -> Sstable {
    let want: Vec<(Vec<u8>, Entry)> = (0..300).map(golden_entry).collect();
    let cache = Arc::new(crypta_sstable::ChunkCache::new(1 << 20));
    let cold = Sstable::open(path, keys.clone(), None).unwrap();
    let cached = Sstable::open(path, keys.clone(), Some(cache)).unwrap();
    for t in [&cold, &cached] {
        let all: Vec<(Vec<u8>, Entry)> = t.iter().map(Result::unwrap).collect();
        assert_eq!(all, want);
        for _ in 0..2 {
            for (k, e) in &want {
                assert_eq!(t.get(k).unwrap().as_ref(), Some(e));
            }
        }
        assert_eq!(t.get(b"golden-00000x").unwrap(), None);
    }
    let t = cold;
    let m = t.metadata();
    assert_eq!(m.format_version, version);
    assert_eq!((m.entry_count, m.tombstone_count), (300, 27));
    assert_eq!(m.min_key.as_deref(), Some(&b"golden-00000"[..]));
    assert_eq!(m.max_key.as_deref(), Some(&b"golden-00299"[..]));
    assert_eq!(m.chunk_length, chunk_length);
    t
}

#[test]
fn plain_tables_read_and_the_current_one_is_written_byte_for_byte() {
    for version in crypta_sstable::READS_VERSIONS {
        let dir = tempfile::tempdir().unwrap();
        let keys = keys(&dir, version);
        let path = data(&format!("v{version}-plain.db"));
        check(&path, &keys, version, 4096);
        assert!(key_ids(&path).unwrap().is_empty());
        assert_eq!(verify(&path, keys.clone()).unwrap().entries, 300);
        if version != crypta_sstable::FORMAT_VERSION {
            continue;
        }
        let mut map = std::collections::BTreeMap::new();
        map.insert("enabled".to_string(), "false".to_string());
        map.insert("chunk_length_kb".to_string(), "4".to_string());
        let opts = crypta_compression::CompressionOptions::parse(&map).unwrap();
        let again = dir.path().join("again.db");
        let mut w = SstableWriter::create(
            &again,
            &opts,
            keys,
            WriterOptions {
                expected_entries: 300,
                ..WriterOptions::default()
            },
        )
        .unwrap();
        for i in 0..300 {
            let (k, e) = golden_entry(i);
            w.add(&k, &e).unwrap();
        }
        w.finish().unwrap();
        assert!(
            std::fs::read(&again).unwrap() == std::fs::read(&path).unwrap(),
            "the writer no longer produces format v{version} byte for byte"
        );
    }
}

#[test]
fn encrypted_tables_read_with_their_key_files() {
    for version in crypta_sstable::READS_VERSIONS {
        let dir = tempfile::tempdir().unwrap();
        let keys = keys(&dir, version);
        let path = data(&format!("v{version}-aes-cbc.db"));
        let ids = key_ids(&path).unwrap();
        assert_eq!(ids.len(), 1);
        assert!(keys.key_by_id(&ids[0]).is_ok());
        let t = check(&path, &keys, version, 4096);
        assert_eq!(t.key_ids(), ids.as_slice());
        assert_eq!(
            t.metadata()
                .options
                .get("cipher_algorithm")
                .map(String::as_str),
            Some("AES/CBC/PKCS5Padding")
        );
        assert_eq!(verify(&path, keys).unwrap().entries, 300);
        let bytes = std::fs::read(&path).unwrap();
        assert!(
            !bytes.windows(7).any(|w| w == b"golden-"),
            "keys are encrypted"
        );
    }
}

#[test]
fn compressed_and_gcm_tables_read_from_format_3() {
    // Format 3 compresses each 4 KiB segment of a chunk on its own, and GCM seals each on its
    // own, so that lookups inflate or open one segment (16 KiB chunks here: four segments
    // each).
    for version in 3..=crypta_sstable::FORMAT_VERSION {
        for (name, class, cipher) in [
            (
                "deflate-aes-cbc",
                "EncryptingDeflateCompressor",
                "AES/CBC/PKCS5Padding",
            ),
            ("aes-gcm", "Encryptor", "AES/GCM/NoPadding"),
        ] {
            let dir = tempfile::tempdir().unwrap();
            let keys = keys(&dir, version);
            let path = data(&format!("v{version}-{name}.db"));
            let t = check(&path, &keys, version, 16384);
            let options = &t.metadata().options;
            assert_eq!(options.get("class").map(String::as_str), Some(class));
            assert_eq!(
                options.get("cipher_algorithm").map(String::as_str),
                Some(cipher)
            );
            assert_eq!(verify(&path, keys).unwrap().entries, 300);
            let bytes = std::fs::read(&path).unwrap();
            if class != "Encryptor" {
                assert!(bytes.len() < 18537 / 2, "compressed: {} bytes", bytes.len());
            }
            assert!(
                !bytes.windows(7).any(|w| w == b"golden-" || w == b"value 1"),
                "keys and values are encrypted"
            );
        }
    }
}
