#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on errors"
)]

//! Several encoder threads (`WriterOptions::encoder_threads`): tables written with 1, 2 and
//! 4 encoders hold the same entries and pass `verify`, and where frames carry no random IV
//! (plaintext, deflate) the files are the same byte for byte, so frames are written in chunk
//! order whichever encoder finishes first.

mod common;

use std::num::NonZeroUsize;
use std::path::Path;
use std::sync::Arc;

use common::*;
use crypta_compression::CompressionOptions;
use crypta_keys::KeyProvider;
use crypta_sstable::{SstableInfo, SstableWriter, WriterOptions, verify};

/// Entries per table: with 4 KiB chunks, about 600 chunks, so that every encoder gets
/// many and finishes them out of order.
const N: u64 = 20_000;

fn deflate() -> CompressionOptions {
    options("DeflateCompressor", None, 4)
}

fn encrypted_deflate() -> CompressionOptions {
    options(
        "EncryptingDeflateCompressor",
        Some(("AES/CBC/PKCS5Padding", 128)),
        4,
    )
}

fn write_with(
    path: &Path,
    opts: &CompressionOptions,
    keys: Arc<dyn KeyProvider>,
    threads: usize,
) -> SstableInfo {
    let wopts = WriterOptions {
        encoder_threads: NonZeroUsize::new(threads),
        ..WriterOptions::default()
    };
    write_n_with(path, opts, keys, N, wopts)
}

/// Writes the table with 1, 2 and 4 encoders, checks each, and returns their bytes.
fn round_trips(opts: &CompressionOptions) -> Vec<Vec<u8>> {
    let dir = tempfile::tempdir().unwrap();
    let keys = provider(dir.path());
    let mut files = Vec::new();
    for threads in [1, 2, 4] {
        let path = at(&dir, &format!("t{threads}.db"));
        let info = write_with(&path, opts, keys.clone(), threads);
        assert_eq!(info.metadata.entry_count, N, "{threads} encoders");
        let t = open(&path, keys.clone());
        assert!(
            t.chunk_offsets().len() > 100,
            "{threads} encoders: {} chunks",
            t.chunk_offsets().len()
        );
        check_n(&t, N);
        let report = verify(&path, keys.clone()).unwrap();
        assert_eq!(report.entries, N, "{threads} encoders");
        assert_eq!(report.chunks, t.chunk_offsets().len() as u64);
        files.push(std::fs::read(&path).unwrap());
    }
    files
}

#[test]
fn deflate_tables_are_the_same_byte_for_byte_with_any_number_of_encoders() {
    let files = round_trips(&deflate());
    assert!(files.iter().all(|f| f == &files[0]), "files differ");
}

#[test]
fn encrypted_deflate_tables_round_trip_with_any_number_of_encoders() {
    let files = round_trips(&encrypted_deflate());
    // Random IVs: the same lengths, different bytes.
    assert!(files.iter().all(|f| f.len() == files[0].len()));
    assert_ne!(files[0], files[1]);
}

#[test]
fn plaintext_and_cbc_tables_take_more_encoders_too() {
    // Codecs that do not compress get one encoder by default; more must work all the same
    // (and CBC's encoders take chunks in batches of several).
    let files = round_trips(&plain(4));
    assert!(files.iter().all(|f| f == &files[0]), "files differ");
    round_trips(&aes_cbc(4));
}

#[test]
fn empty_tables_and_values_of_many_chunks_work_with_several_encoders() {
    let dir = tempfile::tempdir().unwrap();
    let keys = provider(dir.path());
    for threads in [1, 4] {
        let wopts = WriterOptions {
            encoder_threads: NonZeroUsize::new(threads),
            ..WriterOptions::default()
        };
        let empty = at(&dir, &format!("empty{threads}.db"));
        SstableWriter::create(&empty, &deflate(), keys.clone(), wopts)
            .unwrap()
            .finish()
            .unwrap();
        assert_eq!(open(&empty, keys.clone()).iter().count(), 0);
        verify(&empty, keys.clone()).unwrap();

        // Values of many chunks each.
        let big = at(&dir, &format!("big{threads}.db"));
        let mut w = SstableWriter::create(&big, &encrypted_deflate(), keys.clone(), wopts).unwrap();
        let value = |i: u8| -> Vec<u8> { (0..100_000u32).map(|j| (j % 251) as u8 ^ i).collect() };
        for i in 0..5u8 {
            w.add(&[i], &crypta_sstable::Entry::value(value(i), 1))
                .unwrap();
        }
        w.finish().unwrap();
        let t = open(&big, keys.clone());
        for i in 0..5u8 {
            assert_eq!(
                t.get(&[i]).unwrap(),
                Some(crypta_sstable::Entry::value(value(i), 1))
            );
        }
        t.verify().unwrap();
    }
}
