#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on errors"
)]

//! Scans with read-ahead (a thread decoding the chunks ahead, in compressed and GCM tables)
//! give the same entries, and fail at the same entry with the same error, as scans decoding
//! on their own thread, for every kind of table that reads ahead, with and without a cache.

mod common;

use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;

use common::*;
use crypta_compression::CompressionOptions;
use crypta_keys::LocalKeyProvider;
use crypta_sstable::{ChunkCache, Entry, Scan, Sstable, SstableWriter, WriterOptions};

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

/// The tables that read ahead: compressed ones of every kind, and GCM, in chunks of 16 KiB
/// (four 4 KiB segments).
fn codecs() -> Vec<(&'static str, CompressionOptions)> {
    vec![
        ("Deflate", options("DeflateCompressor", None, 16)),
        (
            "Deflate + AES CBC",
            options(
                "EncryptingDeflateCompressor",
                Some(("AES/CBC/PKCS5Padding", 128)),
                16,
            ),
        ),
        (
            "Deflate + AES GCM",
            options(
                "EncryptingDeflateCompressor",
                Some(("AES/GCM/NoPadding", 128)),
                16,
            ),
        ),
        ("LZ4", options("LZ4Compressor", None, 16)),
        (
            "AES GCM",
            options("Encryptor", Some(("AES/GCM/NoPadding", 128)), 16),
        ),
        (
            "LZ4 + AES ECB",
            options(
                "EncryptingLZ4Compressor",
                Some(("AES/ECB/PKCS5Padding", 128)),
                16,
            ),
        ),
    ]
}

#[test]
fn tables_of_plaintext_ecb_and_cbc_chunks_do_not_read_ahead() {
    let dir = tempfile::tempdir().unwrap();
    let keys = provider(dir.path());
    let cheap = [
        ("plaintext", plain(4)),
        (
            "AES ECB",
            options("Encryptor", Some(("AES/ECB/PKCS5Padding", 128)), 4),
        ),
        ("AES CBC", aes_cbc(4)),
    ];
    for (name, opts) in cheap {
        let path = at(&dir, &format!("{}.db", name.replace(' ', "-")));
        write_n(&path, &opts, keys.clone(), 3000);
        let t = common::open(&path, keys.clone());
        assert!(t.chunk_offsets().len() > 20, "{name}");
        let mut scan = t.iter();
        assert_eq!(scan.by_ref().count(), 3000, "{name}");
        assert!(!scan.read_ahead_started(), "{name}");
    }
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

/// Writes `n` entries whose values are random bytes (incompressible: a compressed chunk spans
/// several checksummed payload segments), returning them.
fn write_random(
    path: &Path,
    opts: &CompressionOptions,
    keys: Arc<LocalKeyProvider>,
    n: u64,
) -> Rows {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut rows = Vec::new();
    let mut w = SstableWriter::create(path, opts, keys, WriterOptions::default()).unwrap();
    for i in 0..n {
        let value: Vec<u8> = (0..150)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        let e = Entry::value(value, i as i64);
        w.add(&key(i), &e).unwrap();
        rows.push((key(i), e));
    }
    w.finish().unwrap();
    rows
}

#[test]
fn a_damaged_chunk_fails_the_scan_at_the_same_entry_with_or_without_read_ahead() {
    let dir = tempfile::tempdir().unwrap();
    let keys = provider(dir.path());
    for (name, opts) in codecs() {
        let path = at(&dir, &format!("{}.db", name.replace(' ', "-")));
        let rows = write_random(&path, &opts, keys.clone(), 3000);
        let sound = common::open(&path, keys.clone());
        let per_chunk = rows.len() / sound.chunk_offsets().len();
        damage(&path, &sound, 9);
        drop(sound);
        for cached in [false, true] {
            let cache = cached.then(|| Arc::new(ChunkCache::new(1 << 20)));
            let t = Sstable::open(&path, keys.clone(), cache).unwrap();
            let alone = drain(&mut t.iter().read_ahead(false));
            let error = alone
                .1
                .as_deref()
                .unwrap_or_else(|| panic!("{name}: no error"));
            assert!(error.contains("data frame"), "{name}: {error}");
            assert_eq!(
                alone.0,
                rows[..alone.0.len()],
                "{name}: the entries before are right"
            );
            // Through a cache a scan reads segment by segment: the entries of the chunk's
            // sound segments come before the error.
            let in_chunk = alone.0.len().saturating_sub(9 * per_chunk);
            assert_eq!(
                cached,
                in_chunk > per_chunk / 3,
                "{name}: {in_chunk} entries of chunk 9"
            );
            assert_eq!(
                with_read_ahead(|| t.iter()),
                alone,
                "{name}, cached: {cached}"
            );
        }
    }
}
