#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests fail loudly on errors"
)]

//! Point lookups without a cache read only parts of chunks where the codec allows it
//! (plaintext, uncompressed ECB and CBC). They must find exactly what a scan and a lookup
//! through the cache (whole chunks) find: every key of tables in every codec, keys at chunk
//! and cipher block boundaries, entries spanning chunks, absent keys; and on corrupt frames
//! they must fail, or answer, exactly as whole-chunk reads do.

mod common;

use std::sync::Arc;

use common::*;
use crypta_keys::KeyProvider;
use crypta_sstable::{
    ChunkCache, Component, Entry, Sstable, SstableError, SstableWriter, WriterOptions,
};

/// Entries whose lengths step by one byte (so that entry starts fall on every offset within
/// a cipher block and near every chunk edge), a few larger than a 4 KiB chunk, tombstones.
fn entries() -> Vec<(Vec<u8>, Entry)> {
    (0..700u64)
        .map(|i| {
            let k = format!("k{i:05}{}", "x".repeat((i % 5) as usize)).into_bytes();
            let e = match i {
                _ if i % 11 == 3 => Entry::tombstone(i as i64),
                _ if i % 97 == 50 => Entry::value(vec![(i % 251) as u8; 9000 + i as usize], 7),
                _ => Entry::value(
                    (0..(i % 67) as usize)
                        .map(|j| (i + j as u64) as u8)
                        .collect::<Vec<u8>>(),
                    i as i64,
                ),
            };
            (k, e)
        })
        .collect()
}

fn write(
    path: &std::path::Path,
    opts: &crypta_compression::CompressionOptions,
    keys: Arc<dyn KeyProvider>,
    data: &[(Vec<u8>, Entry)],
    index_interval: usize,
) {
    let mut w = SstableWriter::create(
        path,
        opts,
        keys,
        WriterOptions {
            expected_entries: data.len() as u64,
            index_interval,
            ..WriterOptions::default()
        },
    )
    .unwrap();
    for (k, e) in data {
        w.add(k, e).unwrap();
    }
    w.finish().unwrap();
}

/// Keys that are not in the table: before, between and after the ones that are.
fn absent(data: &[(Vec<u8>, Entry)]) -> Vec<Vec<u8>> {
    let mut v = vec![b"".to_vec(), b"a".to_vec(), b"zzz".to_vec()];
    for (k, _) in data.iter().step_by(3) {
        let mut after = k.clone();
        after.push(0);
        v.push(after);
        let mut before = k.clone();
        before.pop();
        v.push(before);
    }
    v
}

fn all_codecs() -> Vec<crypta_compression::CompressionOptions> {
    let mut v = vec![plain(4)];
    for (t, bits) in transformations() {
        v.push(options("Encryptor", Some((&t, bits)), 4));
    }
    v.push(options(
        "EncryptingDeflateCompressor",
        Some(("AES/CBC/PKCS5Padding", 128)),
        4,
    ));
    v.push(options("LZ4Compressor", None, 4));
    // Chunks of several 4 KiB segments, each compressed on its own (format 3).
    v.push(options("DeflateCompressor", None, 16));
    v.push(options(
        "EncryptingDeflateCompressor",
        Some(("AES/CBC/PKCS5Padding", 128)),
        16,
    ));
    v.push(options(
        "EncryptingLZ4Compressor",
        Some(("AES/ECB/PKCS5Padding", 128)),
        16,
    ));
    v
}

#[test]
fn cold_lookups_find_every_key_in_every_codec() {
    let dir = tempfile::tempdir().unwrap();
    let keys: Arc<dyn KeyProvider> = provider(dir.path());
    let data = entries();
    let missing = absent(&data);
    for (n, opts) in all_codecs().iter().enumerate() {
        // The default index interval, and one that indexes (almost) every entry.
        for interval in [4096, 1] {
            let path = dir.path().join(format!("t{n}-{interval}.db"));
            write(&path, opts, keys.clone(), &data, interval);
            let cold = Sstable::open(&path, keys.clone(), None).unwrap();
            let cache = Arc::new(ChunkCache::new(1 << 20));
            let warm = Sstable::open(&path, keys.clone(), Some(cache)).unwrap();
            assert!(cold.metadata().data_chunks >= 3, "several chunks");
            for (k, e) in &data {
                assert_eq!(cold.get(k).unwrap().as_ref(), Some(e), "{opts:?}");
                assert_eq!(warm.get(k).unwrap().as_ref(), Some(e), "{opts:?}");
            }
            for k in &missing {
                assert_eq!(cold.get(k).unwrap(), None, "{opts:?}");
            }
            let scanned: Vec<(Vec<u8>, Entry)> = cold.iter().map(Result::unwrap).collect();
            assert_eq!(scanned, data);
        }
    }
}

/// A cold lookup and a lookup through a fresh cache (whole chunks) give the same answer,
/// or both fail.
fn same_answers(bytes: &[u8], keys: &Arc<dyn KeyProvider>, probes: &[Vec<u8>], what: &str) {
    let cold = Sstable::from_bytes("t.db", bytes.to_vec(), keys.clone(), None);
    let cached = Sstable::from_bytes(
        "t.db",
        bytes.to_vec(),
        keys.clone(),
        Some(Arc::new(ChunkCache::new(1 << 20))),
    );
    let (cold, cached) = match (cold, cached) {
        (Ok(c), Ok(w)) => (c, w),
        (Err(_), Err(_)) => return,
        (c, w) => panic!("{what}: open differs: {:?} / {:?}", c.err(), w.err()),
    };
    for k in probes {
        match (cold.get(k), cached.get(k)) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "{what}"),
            (Err(a), Err(_)) => {
                let text = a.to_string();
                assert!(text.contains("t.db"), "{what}: {text}");
            }
            (a, b) => panic!("{what}: cold {a:?}, cached {b:?}"),
        }
    }
}

#[test]
fn corrupt_data_frames_fail_cold_lookups_as_whole_reads_do() {
    let dir = tempfile::tempdir().unwrap();
    let keys: Arc<dyn KeyProvider> = provider(dir.path());
    let data: Vec<(Vec<u8>, Entry)> = entries().into_iter().take(120).collect();
    let mut probes: Vec<Vec<u8>> = data.iter().step_by(3).map(|(k, _)| k.clone()).collect();
    probes.extend(absent(&data).into_iter().step_by(4));
    for (n, opts) in [
        plain(4),
        options("Encryptor", Some(("AES/ECB/PKCS5Padding", 128)), 4),
        options("Encryptor", Some(("AES/CBC/PKCS5Padding", 128)), 4),
        options("Encryptor", Some(("DES/CBC/PKCS5Padding", 56)), 4),
        options("DeflateCompressor", None, 16),
        options(
            "EncryptingDeflateCompressor",
            Some(("AES/CBC/PKCS5Padding", 128)),
            16,
        ),
        options("Encryptor", Some(("AES/GCM/NoPadding", 128)), 16),
        options(
            "EncryptingDeflateCompressor",
            Some(("AES/GCM/NoPadding", 256)),
            16,
        ),
    ]
    .iter()
    .enumerate()
    {
        let path = dir.path().join(format!("c{n}.db"));
        write(&path, opts, keys.clone(), &data, 4096);
        let bytes = std::fs::read(&path).unwrap();
        let t = Sstable::open(&path, keys.clone(), None).unwrap();
        let offsets = t.chunk_offsets().to_vec();
        let frames = frames(&t);
        // Positions: every byte of each frame's header, and of its payload's first, middle
        // and last 48 bytes (the first and last cipher blocks, the padding) and its CRC.
        let mut positions = Vec::new();
        for &(start, end) in &frames {
            let mid = start + (end - start) / 2;
            positions.extend(start..(start + 100).min(end));
            positions.extend(mid..(mid + 48).min(end));
            positions.extend(end.saturating_sub(52).max(start)..end);
        }
        positions.sort_unstable();
        positions.dedup();
        // A flipped byte anywhere in the data section: the CRC fails, in a cold lookup as in a
        // whole read, with the file, the data component and the frame's offset.
        for &pos in positions.iter().step_by(2) {
            let mut b = bytes.clone();
            b[pos as usize] ^= 0x10;
            same_answers(&b, &keys, &probes, &format!("{opts:?} flip at {pos}"));
            let frame = *offsets.iter().rev().find(|&&o| o <= pos).unwrap();
            let cold = Sstable::from_bytes("t.db", b, keys.clone(), None).unwrap();
            let failed = data.iter().filter_map(|(k, _)| cold.get(k).err()).next();
            let e = failed.unwrap_or_else(|| panic!("{opts:?}: flip at {pos} not noticed"));
            match &e {
                SstableError::Chunk {
                    component, offset, ..
                }
                | SstableError::Corrupt {
                    component, offset, ..
                } => {
                    assert_eq!(*component, Component::Data, "{e}");
                    assert_eq!(*offset, frame, "{e}");
                }
                other => panic!("{other:?}"),
            }
        }
        // The same flips with the frame's checksums recomputed: what ECB and CBC cannot detect
        // (they do not authenticate) reads the same both ways; the rest fails both ways.
        for &pos in &positions {
            let mut b = bytes.clone();
            b[pos as usize] ^= 0x10;
            let i = offsets.iter().rposition(|&o| o <= pos).unwrap();
            let (start, end) = (frames[i].0 as usize, frames[i].1 as usize);
            // A flip that breaks the header's lengths leaves no frame to reseal.
            let max = opts.chunk_length();
            let _ = crypta_compression::hazmat::reseal_frame(&mut b[start..end], max);
            same_answers(
                &b,
                &keys,
                &probes,
                &format!("{opts:?} flip at {pos}, crc fixed"),
            );
        }
    }
}

#[test]
fn a_frame_with_other_segments_than_the_first_fails_cold_and_cached_lookups_alike() {
    // One encoder writes every frame of a table, so all have the first one's segment size
    // (the cache's segments are of that size). A frame re-declaring 16 KiB segments, its
    // checksums recomputed (a 4 KiB chunk has one payload segment either way, so the frame
    // stays well formed), is refused by lookups into it with and without a cache: found by
    // the sstable_read fuzz target, where the cold lookup read it and the cached one did not.
    let dir = tempfile::tempdir().unwrap();
    let keys: Arc<dyn KeyProvider> = provider(dir.path());
    let data: Vec<(Vec<u8>, Entry)> = entries().into_iter().take(200).collect();
    let path = dir.path().join("t.db");
    write(&path, &plain(4), keys.clone(), &data, 4096);
    let mut bytes = std::fs::read(&path).unwrap();
    let t = Sstable::open(&path, keys.clone(), None).unwrap();
    let offsets = t.chunk_offsets().to_vec();
    assert!(offsets.len() >= 3, "{offsets:?}");
    let (start, end) = (offsets[1] as usize, offsets[2] as usize);
    let h = crypta_compression::parse_header(&bytes[start..end], 4096).unwrap();
    let shift_at = start + h.aad_len - 1;
    assert_eq!(bytes[shift_at], 12);
    bytes[shift_at] = 14;
    crypta_compression::hazmat::reseal_frame(&mut bytes[start..end], 4096).unwrap();
    let cold = Sstable::from_bytes("t.db", bytes.clone(), keys.clone(), None).unwrap();
    let cached = Sstable::from_bytes(
        "t.db",
        bytes.clone(),
        keys.clone(),
        Some(Arc::new(ChunkCache::new(1 << 20))),
    )
    .unwrap();
    // The keys of chunk 1: its lookups fail both ways, naming the frame; the others read.
    let (mut failed, mut read) = (0, 0);
    for (k, e) in &data {
        match (cold.get(k), cached.get(k)) {
            (Ok(a), Ok(b)) => {
                assert_eq!(a.as_ref(), Some(e));
                assert_eq!(b.as_ref(), Some(e));
                read += 1;
            }
            (Err(a), Err(b)) => {
                for err in [a, b] {
                    assert!(err.to_string().contains("16384-byte segments"), "{err}");
                }
                failed += 1;
            }
            (a, b) => panic!("cold {a:?}, cached {b:?}"),
        }
    }
    assert!(failed > 0 && read > 0, "{failed} failed, {read} read");
    same_answers(&bytes, &keys, &absent(&data), "other segments");
}
