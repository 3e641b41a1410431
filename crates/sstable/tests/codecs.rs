#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on errors"
)]

//! Every codec class, and every cipher with every mode, round trips a table: scans, point
//! lookups and verify see what was written, and the encrypted ones list their key.

mod common;

use common::*;
use crypta_keys::KeyProvider;
use std::sync::Arc;

use crypta_sstable::{ChunkCache, Entry, Sstable, SstableWriter, WriterOptions, key_ids, verify};

#[test]
fn plain_and_compressing_classes_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let keys = provider(dir.path());
    for class in ["", "DeflateCompressor", "LZ4Compressor"] {
        let path = at(&dir, &format!("plain-{class}.db"));
        let info = write_n(&path, &options(class, None, 4), keys.clone(), 3000);
        assert!(info.metadata.key_ids.is_empty());
        assert!(info.metadata.data_chunks > 10, "{:?}", info.metadata);
        let t = open(&path, keys.clone());
        check_n(&t, 3000);
        assert_eq!(t.metadata(), &info.metadata);
        let report = verify(&path, keys.clone()).unwrap();
        assert_eq!(report.entries, 3000);
        assert!(key_ids(&path).unwrap().is_empty());
    }
}

#[test]
fn every_encrypting_class_and_cipher_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let keys = provider(dir.path());
    for class in [
        "Encryptor",
        "EncryptingDeflateCompressor",
        "EncryptingLZ4Compressor",
    ] {
        for (t, bits) in transformations() {
            let name = format!("{class}-{}-{bits}.db", t.replace('/', "_"));
            let path = at(&dir, &name);
            let opts = options(class, Some((&t, bits)), 4);
            let info = write_n(&path, &opts, keys.clone(), 700);
            let key = keys.current_key(&opts.key_spec().unwrap()).unwrap();
            assert_eq!(info.metadata.key_ids, vec![key.id().clone()], "{name}");
            assert_eq!(info.metadata.options, opts.to_map());
            let table = open(&path, keys.clone());
            check_n(&table, 700);
            verify(&path, keys.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(key_ids(&path).unwrap(), vec![key.id().clone()]);
            if class == "Encryptor" {
                // No key of the table appears in the file: data, index, filter and summary
                // are all encrypted.
                let bytes = std::fs::read(&path).unwrap();
                assert!(
                    !bytes.windows(14).any(|w| w.starts_with(b"key-00000")),
                    "{name}: a row key is visible in the file"
                );
            }
        }
    }
}

/// 1 and 2 KiB chunks (`chunk_length_kb: 1`, which the DSE docs advise for `Encryptor`: each
/// read decrypts at most 1 KiB), smaller than the 4 KiB payload segments, in every class and
/// mode: scans, lookups with and without a cache, verify, and a value several chunks long.
#[test]
fn chunks_of_1_and_2_kib_round_trip_in_every_class() {
    let dir = tempfile::tempdir().unwrap();
    let keys = provider(dir.path());
    let mut cases: Vec<(&str, Option<(String, u32)>)> = vec![
        ("", None),
        ("DeflateCompressor", None),
        ("LZ4Compressor", None),
    ];
    for (t, bits) in transformations()
        .into_iter()
        .filter(|(t, bits)| t.starts_with("AES/") && *bits == 128 || t.starts_with("DESede/CBC"))
    {
        cases.push(("Encryptor", Some((t, bits))));
    }
    cases.push((
        "EncryptingDeflateCompressor",
        Some(("AES/CBC/PKCS5Padding".into(), 128)),
    ));
    cases.push((
        "EncryptingLZ4Compressor",
        Some(("AES/GCM/NoPadding".into(), 128)),
    ));
    for kb in [1, 2] {
        for (class, cipher) in &cases {
            let cipher = cipher.as_ref().map(|(t, b)| (t.as_str(), *b));
            let name = format!("{kb}k-{class}-{cipher:?}").replace(['/', ' ', '"'], "_");
            let opts = options(class, cipher, kb);
            let path = at(&dir, &format!("{name}.db"));
            let info = write_n(&path, &opts, keys.clone(), 1500);
            assert!(
                info.metadata.data_chunks as u64 >= 1500 * 100 / (kb as u64 * 1024) / 4,
                "{name}: {:?}",
                info.metadata
            );
            check_n(&open(&path, keys.clone()), 1500);
            let cache = Arc::new(ChunkCache::new(1 << 20));
            let cached = Sstable::open(&path, keys.clone(), Some(cache.clone())).unwrap();
            for round in 0..2 {
                for j in (0..1500).step_by(7) {
                    assert_eq!(cached.get(&key(j)).unwrap(), Some(entry(j)), "{name} {j}");
                }
                if round == 1 {
                    assert!(cache.stats().hits > 0, "{name}: {:?}", cache.stats());
                }
            }
            assert_eq!(verify(&path, keys.clone()).unwrap().entries, 1500, "{name}");

            // One value of 5 KiB between two small ones.
            let path = at(&dir, &format!("{name}-big.db"));
            let big: Vec<u8> = (0..5 * 1024 + 3).map(|i| (i * 7 % 251) as u8).collect();
            let mut w = SstableWriter::create(&path, &opts, keys.clone(), WriterOptions::default())
                .unwrap();
            w.add(b"a", &Entry::value(b"x".to_vec(), 1)).unwrap();
            w.add(b"b", &Entry::value(big.clone(), 2)).unwrap();
            w.add(b"c", &Entry::value(b"z".to_vec(), 3)).unwrap();
            w.finish().unwrap();
            let t = Sstable::open(&path, keys.clone(), None).unwrap();
            assert_eq!(
                t.get(b"b").unwrap(),
                Some(Entry::value(big.clone(), 2)),
                "{name}"
            );
            assert_eq!(
                t.get(b"c").unwrap(),
                Some(Entry::value(b"z".to_vec(), 3)),
                "{name}"
            );
            assert_eq!(t.iter().count(), 3, "{name}");
            verify(&path, keys.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }
}
