#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on errors"
)]

//! Real tables with a byte flipped in every position class (header, frame headers, payloads,
//! frame CRCs, index, filter, summary, chunk offsets, manifest, footer), and truncated at many
//! offsets: each is an error on open, get, scan or verify that names the right component,
//! never a panic, never a wrong answer.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use common::*;
use crypta_keys::KeyProvider;
use crypta_sstable::{ChunkCache, Component, Entry, Sstable, SstableError, verify};

struct Fixture {
    _dir: tempfile::TempDir,
    keys: Arc<dyn KeyProvider>,
    bytes: Vec<u8>,
    layout: Vec<(Component, u64, u64)>,
    frames: Vec<u64>,
    truth: BTreeMap<Vec<u8>, Entry>,
}

fn fixture(name: &str, opts: &crypta_compression::CompressionOptions) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let keys: Arc<dyn KeyProvider> = provider(dir.path());
    let path = at(&dir, name);
    write_n(&path, opts, keys.clone(), 400);
    let t = open(&path, keys.clone());
    Fixture {
        bytes: std::fs::read(&path).unwrap(),
        layout: t.layout(),
        frames: t.chunk_offsets().to_vec(),
        truth: (0..400).map(|i| (key(i), entry(i))).collect(),
        keys,
        _dir: dir,
    }
}

/// Opens, reads every key, scans and verifies `bytes`; returns the first error. Panics if any
/// answer differs from the truth.
fn exercise(f: &Fixture, bytes: Vec<u8>) -> Option<SstableError> {
    let cache = Arc::new(ChunkCache::new(1 << 20));
    let t = match Sstable::from_bytes("corrupt.db", bytes, f.keys.clone(), Some(cache)) {
        Ok(t) => t,
        Err(e) => return Some(e),
    };
    let mut first = None;
    for (k, e) in f.truth.iter().step_by(7) {
        match t.get(k) {
            Ok(got) => assert_eq!(got.as_ref(), Some(e), "wrong answer for a key"),
            Err(err) => {
                first.get_or_insert(err);
            }
        }
    }
    let mut want = f.truth.iter();
    for item in t.iter() {
        match item {
            Ok((k, e)) => assert_eq!(Some((&k, &e)), want.next(), "wrong scan result"),
            Err(err) => {
                first.get_or_insert(err);
                break;
            }
        }
    }
    match t.verify() {
        Ok(_) => first,
        Err(err) => Some(first.unwrap_or(err)),
    }
}

fn component_of(err: &SstableError) -> Option<Component> {
    match err {
        SstableError::BadMagic { component, .. }
        | SstableError::UnsupportedVersion { component, .. }
        | SstableError::ChecksumMismatch { component, .. }
        | SstableError::Corrupt { component, .. }
        | SstableError::Chunk { component, .. }
        | SstableError::KeyUnavailable { component, .. } => Some(*component),
        _ => None,
    }
}

/// The positions to flip in each component: every byte of the small components; in the data,
/// every byte of each frame's first 48 (the frame header, key id and IV) and last 4 (CRC),
/// and every 29th byte of the payloads.
fn positions(f: &Fixture) -> Vec<(Component, usize)> {
    let mut v = Vec::new();
    for &(c, off, len) in &f.layout {
        for p in off..off + len {
            let in_data_header = f.frames.iter().any(|&fo| p >= fo && p < fo + 48);
            let near_frame_end = f.frames.iter().any(|&fo| p + 4 >= fo && p < fo);
            if c != Component::Data
                || in_data_header
                || near_frame_end
                || p % 29 == 0
                || p + 4 >= off + len
            {
                v.push((c, p as usize));
            }
        }
    }
    v
}

fn flip_everywhere(name: &str, opts: &crypta_compression::CompressionOptions) {
    let f = fixture(name, opts);
    assert!(f.frames.len() >= 3, "several data chunks");
    let mut per_class: BTreeMap<&str, usize> = BTreeMap::new();
    for (c, p) in positions(&f) {
        for mask in [0x01u8, 0x80] {
            let mut b = f.bytes.clone();
            b[p] ^= mask;
            let err = exercise(&f, b)
                .unwrap_or_else(|| panic!("{name}: flip {mask:#x} at {p} ({c}) went unnoticed"));
            let named = component_of(&err);
            assert_eq!(named, Some(c), "{name}: flip at {p} in the {c}: {err}");
            assert!(err.to_string().contains("corrupt.db"), "{err}");
        }
        *per_class.entry(c.name()).or_default() += 1;
    }
    assert_eq!(per_class.len(), 8, "{per_class:?}");
}

#[test]
fn flipped_bits_in_a_plain_table() {
    flip_everywhere("plain.db", &plain(4));
}

#[test]
fn flipped_bits_in_an_aes_cbc_table() {
    flip_everywhere("cbc.db", &aes_cbc(4));
}

#[test]
fn flipped_bits_in_an_encrypting_deflate_gcm_table() {
    flip_everywhere(
        "gcm.db",
        &options(
            "EncryptingDeflateCompressor",
            Some(("AES/GCM/NoPadding", 128)),
            4,
        ),
    );
}

#[test]
fn flipped_bits_in_an_encrypting_deflate_cbc_table() {
    // 16 KiB chunks: lookups inflate single 4 KiB segments of them.
    flip_everywhere(
        "deflate-cbc.db",
        &options(
            "EncryptingDeflateCompressor",
            Some(("AES/CBC/PKCS5Padding", 128)),
            16,
        ),
    );
}

#[test]
fn truncated_and_extended_files_fail_to_open() {
    let f = fixture("t.db", &aes_cbc(4));
    for len in 0..f.bytes.len() {
        let err = Sstable::from_bytes("corrupt.db", f.bytes[..len].to_vec(), f.keys.clone(), None)
            .expect_err("a truncated table opened");
        assert!(component_of(&err).is_some(), "{len}: {err}");
    }
    let mut longer = f.bytes.clone();
    longer.extend_from_slice(&[0; 7]);
    assert!(Sstable::from_bytes("corrupt.db", longer, f.keys.clone(), None).is_err());
}

#[test]
fn corrupt_files_on_disk_fail_through_the_mapped_reader() {
    let f = fixture("t.db", &aes_cbc(4));
    let dir = tempfile::tempdir().unwrap();
    for &(c, off, len) in &f.layout {
        let path = dir
            .path()
            .join(format!("{}.db", c.name().replace(' ', "_")));
        let mut b = f.bytes.clone();
        b[(off + len / 2) as usize] ^= 0x10;
        std::fs::write(&path, &b).unwrap();
        let err = match Sstable::open(&path, f.keys.clone(), None) {
            Err(e) => e,
            Ok(t) => {
                let scanned = t.iter().find_map(Result::err);
                scanned.unwrap_or_else(|| verify(&path, f.keys.clone()).unwrap_err())
            }
        };
        assert_eq!(component_of(&err), Some(c), "{err}");
        assert!(
            err.to_string().contains(&path.display().to_string()),
            "{err}"
        );
    }
    // A truncated file on disk: said to be a truncated SSTable (its header is intact), not
    // something else.
    let path = dir.path().join("short.db");
    std::fs::write(&path, &f.bytes[..f.bytes.len() / 2]).unwrap();
    for err in [
        Sstable::open(&path, f.keys.clone(), None).unwrap_err(),
        crypta_sstable::key_ids(&path).unwrap_err(),
    ] {
        let text = err.to_string();
        assert!(
            text.contains("short.db is a crypta SSTable truncated or damaged at its end"),
            "{text}"
        );
    }
    // A file that is no SSTable at all says so.
    let other = dir.path().join("other.db");
    std::fs::write(&other, vec![b'x'; f.bytes.len()]).unwrap();
    let text = Sstable::open(&other, f.keys.clone(), None)
        .unwrap_err()
        .to_string();
    assert!(text.contains("other.db is not a crypta SSTable"), "{text}");
}
