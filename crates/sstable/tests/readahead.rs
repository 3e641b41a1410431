#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on errors"
)]

//! Scans with read-ahead (a thread decoding the chunks ahead) give the same entries, and fail
//! at the same entry with the same error, as scans decoding on their own thread, for every
//! kind of codec, with and without a cache.

mod common;

use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;

use common::*;
use crypta_compression::CompressionOptions;
use crypta_sstable::{ChunkCache, Entry, Scan, Sstable};

type Rows = Vec<(Vec<u8>, Entry)>;

/// The entries of a scan until its end or first error, the error as text.
fn drain(scan: &mut Scan) -> (Rows, Option<String>) {
    let mut rows = Vec::new();
    for item in scan.by_ref() {
        match item {
            Ok(row) => rows.push(row),
            Err(e) => return (rows, Some(e.to_string())),
        }
    }
    (rows, None)
}

/// What `make()` scans to, with read-ahead, retried until a read-ahead slot was free (other
/// tests of this binary take them for a moment).
fn with_read_ahead(make: impl Fn() -> Scan) -> (Rows, Option<String>) {
    for _ in 0..2000 {
        let mut scan = make();
        let out = drain(&mut scan);
        if scan.read_ahead_started() {
            return out;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    panic!("no read-ahead slot came free in 10 seconds");
}

/// Codecs of every kind, in chunks of 16 KiB (four 4 KiB segments).
fn codecs() -> Vec<(&'static str, CompressionOptions)> {
    vec![
        ("plaintext", plain(16)),
        (
            "AES ECB",
            options("Encryptor", Some(("AES/ECB/PKCS5Padding", 128)), 16),
        ),
        ("AES CBC", aes_cbc(16)),
        (
            "AES GCM",
            options("Encryptor", Some(("AES/GCM/NoPadding", 128)), 16),
        ),
        (
            "Deflate + AES CBC",
            options(
                "EncryptingDeflateCompressor",
                Some(("AES/CBC/PKCS5Padding", 128)),
                16,
            ),
        ),
        ("LZ4", options("LZ4Compressor", None, 16)),
    ]
}

fn bounds(t: &Sstable) -> Vec<Box<dyn Fn() -> Scan + '_>> {
    let (a, b) = (key(700), key(5400));
    vec![
        Box::new(move || t.iter()),
        Box::new(move || t.range(Bound::Included(&a), Bound::Excluded(&b))),
        Box::new(move || t.range(Bound::Excluded(&key(1)), Bound::Unbounded)),
    ]
}

#[test]
fn read_ahead_gives_the_entries_of_a_scan_on_one_thread() {
    let dir = tempfile::tempdir().unwrap();
    let keys = provider(dir.path());
    for (name, opts) in codecs() {
        let path = at(&dir, &format!("{}.db", name.replace(' ', "-")));
        write_n(&path, &opts, keys.clone(), 6000);
        let cache = Arc::new(ChunkCache::new(1 << 20));
        for cached in [false, true] {
            let t = Sstable::open(&path, keys.clone(), cached.then(|| cache.clone())).unwrap();
            assert!(
                t.chunk_offsets().len() > 20,
                "{name}: enough chunks to read ahead"
            );
            if cached {
                // Half the segments in the cache: read-ahead takes those from it.
                for i in (0..6000).step_by(80) {
                    assert_eq!(t.get(&key(i)).unwrap(), Some(entry(i)));
                }
            }
            for (n, make) in bounds(&t).into_iter().enumerate() {
                let alone = drain(&mut make().read_ahead(false));
                assert!(alone.1.is_none(), "{name}: {:?}", alone.1);
                assert!(alone.0.len() > 1000, "{name}, scan {n}");
                assert_eq!(
                    with_read_ahead(&make),
                    alone,
                    "{name}, cached: {cached}, scan {n}"
                );
            }
            let (rows, _) = with_read_ahead(|| t.iter());
            for (i, (k, e)) in rows.iter().enumerate() {
                assert_eq!((k, e), (&key(i as u64), &entry(i as u64)));
            }
        }
    }
}

/// Flips one byte of the payload of data frame `chunk`, in its second half.
fn damage(path: &Path, t: &Sstable, chunk: usize) {
    let (start, end) = frames(t)[chunk];
    let mut bytes = std::fs::read(path).unwrap();
    let at = usize::try_from(start + (end - start) * 3 / 4).unwrap();
    bytes[at] ^= 0x20;
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn a_damaged_chunk_fails_the_scan_at_the_same_entry_with_or_without_read_ahead() {
    let dir = tempfile::tempdir().unwrap();
    let keys = provider(dir.path());
    for (name, opts) in codecs() {
        let path = at(&dir, &format!("{}.db", name.replace(' ', "-")));
        write_n(&path, &opts, keys.clone(), 6000);
        damage(&path, &common::open(&path, keys.clone()), 9);
        for cached in [false, true] {
            let cache = cached.then(|| Arc::new(ChunkCache::new(1 << 20)));
            let t = Sstable::open(&path, keys.clone(), cache).unwrap();
            let alone = drain(&mut t.iter().read_ahead(false));
            let error = alone
                .1
                .as_deref()
                .unwrap_or_else(|| panic!("{name}: no error"));
            assert!(error.contains("data"), "{name}: {error}");
            assert!(alone.0.len() > 100, "{name}: the chunks before are read");
            assert_eq!(
                with_read_ahead(|| t.iter()),
                alone,
                "{name}, cached: {cached}"
            );
        }
    }
}
