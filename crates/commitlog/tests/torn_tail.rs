#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on errors"
)]

//! A crash mid-write leaves the newest segment cut at any byte. Truncating it at every byte
//! offset of its last record (and its trailer) must replay every complete record and nothing
//! more, and recovery at open must seal it so that appends continue after it.

mod common;

use std::fs::OpenOptions;
use std::path::Path;
use std::sync::Arc;

use common::*;
use crypta_commitlog::{CommitLog, ReplayOptions, SyncMode};
use crypta_compression::CompressionOptions;
use crypta_keys::KeyProvider;

struct Case {
    name: &'static str,
    options: CompressionOptions,
    last_len: usize,
    closed: bool,
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

fn run(case: Case) {
    let dir = tempfile::tempdir().unwrap();
    let logdir = dir.path().join("cl");
    let keys: Arc<dyn KeyProvider> = keys(dir.path());
    let log = CommitLog::open(
        &logdir,
        config(SyncMode::Batch, case.options.clone(), 1 << 20),
        Some(keys.clone()),
    )
    .unwrap();
    let mut written = Vec::new();
    for n in 0..9u64 {
        let r = record(n, 40 + 37 * n as usize);
        written.push((log.append(&r).unwrap(), r));
    }
    let segment = segment_files(&logdir).pop().unwrap();
    let before_last = std::fs::metadata(&segment).unwrap().len();
    let last = record(99, case.last_len);
    written.push((log.append(&last).unwrap(), last));
    let end_of_last = std::fs::metadata(&segment).unwrap().len();
    if case.closed {
        log.close().unwrap();
    } else {
        std::mem::forget(log); // a crash: no trailer
    }
    let full = std::fs::metadata(&segment).unwrap().len();
    assert!(end_of_last > before_last);

    let stride = ((full - before_last) / 16).max(1);
    let file = OpenOptions::new().write(true).open(&segment).unwrap();
    for cut in (before_last..=full).rev() {
        file.set_len(cut).unwrap();
        let want = if cut >= end_of_last { 10 } else { 9 };
        let (got, report) = collect(&logdir, Some(keys.as_ref()), ReplayOptions::default())
            .unwrap_or_else(|e| panic!("{}: cut at {cut}: {e}", case.name));
        assert_eq!(got.len(), want, "{}: cut at {cut}", case.name);
        assert_eq!(got[..], written[..want], "{}: cut at {cut}", case.name);
        let torn = report.torn_tail.is_some();
        let clean_end = cut == before_last || cut == end_of_last || cut == full;
        assert_eq!(torn, !clean_end, "{}: cut at {cut}: {report:?}", case.name);

        // Recovery at open seals what is left; appends go on after it. (About 16 offsets
        // spread over the range, and those around the block edges: each recovery costs a
        // few fsyncs.)
        let near_edge = [before_last, end_of_last, full]
            .iter()
            .any(|e| e.abs_diff(cut) <= 4);
        if cut % stride == 0 || near_edge {
            let copy = dir.path().join(format!("copy-{cut}"));
            copy_dir(&logdir, &copy);
            let log = CommitLog::open(
                &copy,
                config(SyncMode::Batch, case.options.clone(), 1 << 20),
                Some(keys.clone()),
            )
            .unwrap_or_else(|e| panic!("{}: recovering cut at {cut}: {e}", case.name));
            let extra = record(1000, 64);
            let p = log.append(&extra).unwrap();
            log.close().unwrap();
            let (again, report) =
                collect(&copy, Some(keys.as_ref()), ReplayOptions::default()).unwrap();
            assert!(report.torn_tail.is_none(), "{}: cut at {cut}", case.name);
            assert_eq!(again.len(), want + 1, "{}: cut at {cut}", case.name);
            assert_eq!(again[..want], written[..want]);
            assert_eq!(again[want], (p, extra));
            std::fs::remove_dir_all(&copy).unwrap();
        }
    }
}

#[test]
fn plaintext_small_last_record() {
    run(Case {
        name: "plain",
        options: CompressionOptions::default(),
        last_len: 120,
        closed: false,
    });
}

#[test]
fn aes_cbc_small_last_record_of_a_closed_segment() {
    run(Case {
        name: "AES/CBC",
        options: aes_cbc(),
        last_len: 200,
        closed: true,
    });
}

#[test]
fn aes_gcm_last_record_spanning_two_chunks() {
    run(Case {
        name: "AES/GCM",
        options: options("Encryptor", Some(("AES/GCM/NoPadding", 128)), 4),
        last_len: 4_500,
        closed: false,
    });
}

#[test]
fn encrypting_lz4_last_record_spanning_chunks_closed() {
    run(Case {
        name: "EncryptingLZ4",
        options: options(
            "EncryptingLZ4Compressor",
            Some(("AES/CBC/PKCS5Padding", 256)),
            4,
        ),
        last_len: 4_200,
        closed: true,
    });
}

#[test]
fn a_segment_torn_while_its_header_was_written_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let logdir = dir.path().join("cl");
    let log = open_plain(&logdir, SyncMode::Batch, 1 << 20);
    let r = record(1, 100);
    let p = log.append(&r).unwrap();
    log.close().unwrap();
    // A newer segment whose header was cut short.
    let full = std::fs::read(segment_files(&logdir).pop().unwrap()).unwrap();
    let torn = logdir.join(format!("CommitLog-1-{}.log", p.segment + 1));
    std::fs::write(&torn, &full[..20]).unwrap();
    let (got, report) = collect(&logdir, None, ReplayOptions::default()).unwrap();
    assert_eq!(got, vec![(p, r.clone())]);
    assert_eq!(report.torn_tail.unwrap().offset, 0);
    let log = open_plain(&logdir, SyncMode::Batch, 1 << 20);
    // Recovery deletes it. The new segment may take its name: ids are the time in
    // milliseconds, at least one past the newest segment left, and this test runs within a
    // millisecond or two. If so, the file holds the new segment's whole header (37 bytes),
    // not the 20 torn bytes.
    match std::fs::read(&torn) {
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::NotFound),
        Ok(now) => {
            assert!(
                now.len() > 20,
                "recovery deletes it: {} bytes left",
                now.len()
            );
            assert_eq!(
                log.segments().last(),
                Some(&torn),
                "the active segment took its name"
            );
        }
    }
    log.close().unwrap();
    let (got, report) = collect(&logdir, None, ReplayOptions::default()).unwrap();
    assert_eq!(got, vec![(p, r)]);
    assert!(report.torn_tail.is_none());
}
