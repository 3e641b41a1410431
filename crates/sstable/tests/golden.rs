#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on errors"
)]

//! The checked-in tables of format version 1 (`tests/data/`, made by the `make_golden_sstable`
//! example) still read back exactly, and the writer still produces the plain one byte for
//! byte: a format change shows up here.

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

/// The test key file, copied where the provider accepts it (mode 0600).
fn keys(dir: &tempfile::TempDir) -> Arc<dyn KeyProvider> {
    let path = dir.path().join("keys");
    std::fs::copy(data("v1-test-keys"), &path).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    Arc::new(LocalKeyProvider::open(path).unwrap())
}

fn check(t: &Sstable) {
    let all: Vec<(Vec<u8>, Entry)> = t.iter().map(Result::unwrap).collect();
    let want: Vec<(Vec<u8>, Entry)> = (0..300).map(golden_entry).collect();
    assert_eq!(all, want);
    for i in [0, 3, 150, 299] {
        let (k, e) = golden_entry(i);
        assert_eq!(t.get(&k).unwrap(), Some(e));
    }
    let m = t.metadata();
    assert_eq!(m.format_version, 1);
    assert_eq!((m.entry_count, m.tombstone_count), (300, 27));
    assert_eq!(m.min_key.as_deref(), Some(&b"golden-00000"[..]));
    assert_eq!(m.max_key.as_deref(), Some(&b"golden-00299"[..]));
    assert_eq!(m.chunk_length, 4096);
}

#[test]
fn v1_plain_table_reads_and_is_written_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let keys = keys(&dir);
    let path = data("v1-plain.db");
    let t = Sstable::open(&path, keys.clone(), None).unwrap();
    check(&t);
    assert!(key_ids(&path).unwrap().is_empty());
    assert_eq!(verify(&path, keys.clone()).unwrap().entries, 300);

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
        "the writer no longer produces format v1 byte for byte"
    );
}

#[test]
fn v1_encrypted_table_reads_with_its_key_file() {
    let dir = tempfile::tempdir().unwrap();
    let keys = keys(&dir);
    let path = data("v1-aes-cbc.db");
    let ids = key_ids(&path).unwrap();
    assert_eq!(ids.len(), 1);
    assert!(keys.key_by_id(&ids[0]).is_ok());
    let t = Sstable::open(&path, keys.clone(), None).unwrap();
    check(&t);
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
