#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on errors"
)]

//! Records written under every codec the options allow (plain, compressed, and every cipher
//! in ECB, CBC and GCM at every strength class) replay exactly, in order, with the positions
//! `append` returned; encrypted segments hold no plaintext and name their keys.

mod common;

use std::sync::Arc;

use common::*;
use crypta_commitlog::{CommitLog, LogKind, ReplayOptions, SyncMode, summarize_file};
use crypta_compression::CompressionOptions;
use crypta_keys::KeyProvider;

fn ciphers() -> Vec<(String, u32)> {
    let mut v = Vec::new();
    for (alg, bits) in [
        ("AES", 128),
        ("AES", 192),
        ("AES", 256),
        ("DES", 56),
        ("DESede", 112),
        ("DESede", 168),
        ("Blowfish", 128),
        ("RC2", 128),
    ] {
        for mode in ["ECB", "CBC"] {
            v.push((format!("{alg}/{mode}/PKCS5Padding"), bits));
        }
    }
    for bits in [128, 192, 256] {
        v.push(("AES/GCM/NoPadding".to_string(), bits));
    }
    v
}

fn round_trip(o: CompressionOptions, what: &str) {
    let dir = tempfile::tempdir().unwrap();
    let logdir = dir.path().join("commitlog");
    let keys = keys(dir.path());
    let provider: Option<Arc<dyn KeyProvider>> = o.encryption.is_some().then(|| keys.clone() as _);
    let periodic = SyncMode::Periodic(std::time::Duration::from_secs(3600));
    let log = CommitLog::open(
        &logdir,
        config(periodic, o.clone(), 16 * 1024),
        provider.clone(),
    )
    .unwrap();
    let mut written = Vec::new();
    // Sizes from empty to several chunks (4 KiB); chunks cut by syncs and by size.
    for n in 0..60u64 {
        let len = [0usize, 1, 9, 100, 1000, 5000][n as usize % 6];
        let r = record(n, len);
        let pos = log.append(&r).unwrap();
        written.push((pos, r));
        if n % 5 == 0 {
            log.sync().unwrap();
        }
    }
    log.close().unwrap();
    let (got, report) = collect(&logdir, provider.as_deref(), ReplayOptions::default()).unwrap();
    assert!(report.torn_tail.is_none(), "{what}");
    assert!(report.segments > 1, "{what}: 16 KiB segments roll");
    assert_eq!(got.len(), written.len(), "{what}");
    assert_eq!(got, written, "{what}");
    for (i, f) in segment_files(&logdir).into_iter().enumerate() {
        let bytes = std::fs::read(&f).unwrap();
        let s = summarize_file(&f, LogKind::CommitLog, &bytes).unwrap();
        let trailer = s.trailer.expect("closed segments are sealed");
        assert_eq!(trailer.key_ids, s.key_ids, "{what}");
        if o.encryption.is_some() {
            assert_eq!(s.key_ids.len(), 1, "{what}");
        }
        if o.encryption.is_some() && i == 0 {
            // Record 5 (1000 bytes) is in the first segment.
            let r = record(5, 1000);
            let pieces: std::collections::HashSet<&[u8]> = r.windows(32).collect();
            assert!(
                !bytes.windows(32).any(|w| pieces.contains(w)),
                "{what}: plaintext visible"
            );
        }
        if o.encryption.is_none() {
            assert!(s.key_ids.is_empty());
        }
    }
}

#[test]
fn every_cipher_round_trips() {
    for (t, bits) in ciphers() {
        round_trip(
            options("Encryptor", Some((&t, bits)), 4),
            &format!("{t} {bits}"),
        );
    }
}

#[test]
fn compressing_and_plain_classes_round_trip() {
    round_trip(CompressionOptions::default(), "disabled");
    round_trip(options("LZ4Compressor", None, 4), "LZ4");
    round_trip(options("DeflateCompressor", None, 4), "deflate");
    round_trip(
        options(
            "EncryptingLZ4Compressor",
            Some(("AES/CBC/PKCS5Padding", 256)),
            4,
        ),
        "encrypting LZ4",
    );
    round_trip(
        options(
            "EncryptingDeflateCompressor",
            Some(("AES/GCM/NoPadding", 128)),
            4,
        ),
        "encrypting deflate",
    );
}

#[test]
fn reopening_appends_new_segments_after_the_old_ones() {
    let dir = tempfile::tempdir().unwrap();
    let keys = keys(dir.path());
    let p: Arc<dyn KeyProvider> = keys;
    let mut all = Vec::new();
    for round in 0..3u64 {
        let log = CommitLog::open(
            dir.path().join("cl"),
            config(
                SyncMode::Periodic(std::time::Duration::from_secs(3600)),
                aes_cbc(),
                64 * 1024,
            ),
            Some(p.clone()),
        )
        .unwrap();
        for n in 0..100 {
            let r = record(round * 1000 + n, 300);
            all.push((log.append(&r).unwrap(), r));
        }
        log.close().unwrap();
    }
    let (got, _) = collect(
        &dir.path().join("cl"),
        Some(p.as_ref()),
        ReplayOptions::default(),
    )
    .unwrap();
    assert_eq!(got, all);
    assert!(got.windows(2).all(|w| w[0].0 < w[1].0), "positions grow");
}

#[test]
fn encrypting_without_a_key_provider_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let err = CommitLog::open(
        dir.path(),
        config(SyncMode::Batch, aes_cbc(), 1 << 20),
        None,
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("key provider is required"),
        "{err}"
    );
}

#[test]
fn records_larger_than_half_a_segment_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let log = open_plain(dir.path(), SyncMode::Batch, 8192);
    let err = log.append(&[0; 5000]).unwrap_err();
    assert!(
        matches!(
            err,
            crypta_commitlog::CommitLogError::RecordTooLarge { len: 5000, .. }
        ),
        "{err}"
    );
    log.append(&[0; 4000]).unwrap();
}

#[test]
fn debug_output_never_shows_record_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let keys = keys(dir.path());
    let log = CommitLog::open(
        dir.path().join("cl"),
        config(
            SyncMode::Periodic(std::time::Duration::from_secs(3600)),
            aes_cbc(),
            1 << 20,
        ),
        Some(keys.clone() as Arc<dyn KeyProvider>),
    )
    .unwrap();
    let secret = b"SECRET-MUTATION-PAYLOAD";
    log.append(secret).unwrap(); // buffered, not yet written
    let shown = format!("{log:?}");
    assert!(!shown.contains("SECRET"), "{shown}");
    // Bytes would print as numbers: 83 = 'S', 69 = 'E'.
    assert!(!shown.contains("83, 69, 67"), "{shown}");
    log.close().unwrap();
    let seg = segment_files(&dir.path().join("cl")).pop().unwrap();
    let decoded = crypta_commitlog::decode_file(
        &seg,
        LogKind::CommitLog,
        &std::fs::read(&seg).unwrap(),
        Some(keys.as_ref()),
        crypta_commitlog::TailPolicy::MustBeSealed,
    )
    .unwrap();
    assert_eq!(decoded.records().next().unwrap().data, secret);
    let shown = format!("{decoded:?}");
    assert!(!shown.contains("83, 69, 67"), "{shown}");
}
