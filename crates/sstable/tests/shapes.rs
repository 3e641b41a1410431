#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on errors"
)]

//! Tables of every shape: empty, one entry, tombstones only, empty keys and values, single
//! values far larger than a chunk, and a large table streamed through.

mod common;

use std::ops::Bound;

use common::*;
use crypta_sstable::{Entry, Sstable, SstableWriter, WriterOptions, verify};

#[test]
fn empty_tables_open_scan_and_verify() {
    let dir = tempfile::tempdir().unwrap();
    let keys = provider(dir.path());
    for (name, opts) in [("plain.db", plain(4)), ("enc.db", aes_cbc(4))] {
        let path = at(&dir, name);
        let info = write_n(&path, &opts, keys.clone(), 0);
        assert_eq!(info.metadata.entry_count, 0);
        assert_eq!(info.metadata.min_key, None);
        let t = open(&path, keys.clone());
        assert_eq!(t.get(b"").unwrap(), None);
        assert_eq!(t.get(b"x").unwrap(), None);
        assert_eq!(t.iter().count(), 0);
        assert_eq!(verify(&path, keys.clone()).unwrap().entries, 0);
    }
}

#[test]
fn tombstones_are_kept_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let keys = provider(dir.path());
    let path = at(&dir, "t.db");
    let mut w =
        SstableWriter::create(&path, &aes_cbc(4), keys.clone(), WriterOptions::default()).unwrap();
    for i in 0..100u64 {
        w.add(&key(i), &Entry::tombstone(i as i64 - 50)).unwrap();
    }
    let info = w.finish().unwrap();
    assert_eq!(info.metadata.tombstone_count, 100);
    assert_eq!(info.metadata.min_timestamp, -50);
    assert_eq!(info.metadata.max_timestamp, 49);
    let t = open(&path, keys);
    let got = t.get(&key(42)).unwrap().unwrap();
    assert!(got.is_tombstone());
    assert_eq!(got.timestamp, -8);
    assert!(t.iter().all(|e| e.unwrap().1.is_tombstone()));
}

#[test]
fn tiny_empty_and_huge_values() {
    let dir = tempfile::tempdir().unwrap();
    let keys = provider(dir.path());
    for (name, opts) in [
        ("plain.db", plain(4)),
        (
            "gcm.db",
            options(
                "EncryptingDeflateCompressor",
                Some(("AES/GCM/NoPadding", 128)),
                4,
            ),
        ),
    ] {
        let path = at(&dir, name);
        let huge: Vec<u8> = (0..3_000_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let entries = vec![
            (b"".to_vec(), Entry::value(Vec::new(), 1)),
            (b"a".to_vec(), Entry::value(vec![7], 2)),
            (b"b".to_vec(), Entry::value(huge.clone(), 3)),
            (b"c".to_vec(), Entry::tombstone(4)),
            (vec![b'd'; 60_000], Entry::value(huge[..5000].to_vec(), 5)),
            (b"e".to_vec(), Entry::value(huge[..4096].to_vec(), 6)),
            (b"f".to_vec(), Entry::value(b"last".to_vec(), 7)),
        ];
        let mut w =
            SstableWriter::create(&path, &opts, keys.clone(), WriterOptions::default()).unwrap();
        for (k, e) in &entries {
            w.add(k, e).unwrap();
        }
        let info = w.finish().unwrap();
        assert!(
            info.metadata.data_chunks > 700,
            "the huge value spans chunks"
        );
        let t = open(&path, keys.clone());
        for (k, e) in &entries {
            assert_eq!(
                t.get(k).unwrap().as_ref(),
                Some(e),
                "{name} key of {} bytes",
                k.len()
            );
        }
        let all: Vec<(Vec<u8>, Entry)> = t.iter().map(Result::unwrap).collect();
        assert_eq!(all, entries);
        let after_b: Vec<Vec<u8>> = t
            .range(Bound::Excluded(b"b"), Bound::Included(b"e"))
            .map(|r| r.unwrap().0)
            .collect();
        assert_eq!(
            after_b,
            vec![b"c".to_vec(), vec![b'd'; 60_000], b"e".to_vec()]
        );
        verify(&path, keys.clone()).unwrap();
    }
}

#[test]
fn two_million_entries_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let keys = provider(dir.path());
    let path = at(&dir, "big.db");
    let n = 2_000_000u64;
    let opts = aes_cbc(64);
    let mut w = SstableWriter::create(
        &path,
        &opts,
        keys.clone(),
        WriterOptions {
            expected_entries: n,
            ..WriterOptions::default()
        },
    )
    .unwrap();
    for i in 0..n {
        w.add(
            format!("{i:012}").as_bytes(),
            &Entry::value(i.to_le_bytes().to_vec(), i as i64),
        )
        .unwrap();
    }
    let info = w.finish().unwrap();
    assert_eq!(info.metadata.entry_count, n);
    let t = Sstable::open(&path, keys.clone(), None).unwrap();
    let mut i = 0u64;
    for item in t.iter() {
        let (k, e) = item.unwrap();
        assert_eq!(k, format!("{i:012}").as_bytes());
        assert_eq!(e.value.as_deref(), Some(&i.to_le_bytes()[..]));
        i += 1;
    }
    assert_eq!(i, n);
    for j in (0..n).step_by(9973) {
        let e = t.get(format!("{j:012}").as_bytes()).unwrap().unwrap();
        assert_eq!(e.timestamp, j as i64);
    }
    assert_eq!(t.get(b"000000000000x").unwrap(), None);
    assert_eq!(verify(&path, keys).unwrap().entries, n);
}
