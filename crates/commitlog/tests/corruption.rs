#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on errors"
)]

//! Damage that is not a torn tail stops replay with an error naming the segment file and
//! the offset; the skip option replays around the bad segment and reports it; a destroyed
//! key is an error, never a torn tail.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::*;
use crypta_commitlog::{CommitLog, CommitLogError, Position, ReplayOptions, SyncMode};
use crypta_compression::CompressionError;
use crypta_keys::{KeyError, KeyManager, KeyProvider, LocalKeyProvider};

struct Written {
    _dir: tempfile::TempDir,
    logdir: PathBuf,
    keys: Arc<LocalKeyProvider>,
    records: Vec<(Position, Vec<u8>)>,
}

/// Several closed segments of AES-CBC chunks.
fn write_segments() -> Written {
    let dir = tempfile::tempdir().unwrap();
    let logdir = dir.path().join("cl");
    let keys = keys(dir.path());
    let log = CommitLog::open(
        &logdir,
        config(SyncMode::Batch, aes_cbc(), 8192),
        Some(keys.clone() as Arc<dyn KeyProvider>),
    )
    .unwrap();
    let mut records = Vec::new();
    for n in 0..60u64 {
        let r = record(n, 300);
        records.push((log.append(&r).unwrap(), r));
    }
    log.close().unwrap();
    Written {
        _dir: dir,
        logdir,
        keys,
        records,
    }
}

fn flip(path: &Path, at: usize) {
    let mut b = std::fs::read(path).unwrap();
    b[at] ^= 0x40;
    std::fs::write(path, b).unwrap();
}

fn error_site(e: &CommitLogError) -> (PathBuf, u64) {
    match e {
        CommitLogError::Corrupt { file, offset, .. }
        | CommitLogError::Chunk { file, offset, .. } => (file.clone(), *offset),
        other => panic!("not a located error: {other}"),
    }
}

#[test]
fn a_flipped_byte_in_an_older_segment_stops_replay_naming_file_and_offset() {
    let w = write_segments();
    let segs = segment_files(&w.logdir);
    assert!(segs.len() >= 3, "{segs:?}");
    let victim = &segs[1];
    let len = std::fs::metadata(victim).unwrap().len() as usize;
    let at = len / 2;
    flip(victim, at);
    let err = collect(&w.logdir, Some(w.keys.as_ref()), ReplayOptions::default()).unwrap_err();
    let (file, offset) = error_site(&err);
    assert_eq!(&file, victim);
    assert!(
        offset as usize <= at && at - (offset as usize) < 1000,
        "{offset} vs {at}"
    );
    let text = err.to_string();
    assert!(text.contains(&victim.display().to_string()), "{text}");
    assert!(text.contains(&format!("offset {offset}")), "{text}");
}

#[test]
fn the_skip_option_replays_the_other_segments_and_reports_the_bad_one() {
    let w = write_segments();
    let segs = segment_files(&w.logdir);
    let victim = &segs[1];
    let len = std::fs::metadata(victim).unwrap().len() as usize;
    flip(victim, len / 2);
    let (got, report) = collect(
        &w.logdir,
        Some(w.keys.as_ref()),
        ReplayOptions {
            skip_corrupt_segments: true,
        },
    )
    .unwrap();
    assert_eq!(report.skipped.len(), 1);
    assert_eq!(&report.skipped[0].file, victim);
    let (file, _) = error_site(&report.skipped[0].error);
    assert_eq!(&file, victim);
    let bad_id = w
        .records
        .iter()
        .map(|(p, _)| p.segment)
        .collect::<std::collections::BTreeSet<_>>();
    let bad_id = *bad_id.iter().nth(1).unwrap();
    let want: Vec<_> = w
        .records
        .iter()
        .filter(|(p, _)| p.segment != bad_id)
        .cloned()
        .collect();
    assert_eq!(got, want);
    assert!(got.len() < w.records.len());
}

#[test]
fn damage_inside_the_newest_segment_is_corruption_not_a_torn_tail() {
    let w = write_segments();
    let newest = segment_files(&w.logdir).pop().unwrap();
    // The second block header of the newest segment (header is 37 bytes; flip inside the
    // first chunk's payload so whole blocks follow it).
    flip(&newest, 37 + 9 + 60);
    let err = collect(&w.logdir, Some(w.keys.as_ref()), ReplayOptions::default()).unwrap_err();
    let (file, offset) = error_site(&err);
    assert_eq!((file, offset), (newest.clone(), 37));
    // A flipped block header is caught by its own checksum.
    let w = write_segments();
    let newest = segment_files(&w.logdir).pop().unwrap();
    flip(&newest, 37 + 2);
    let err = collect(&w.logdir, Some(w.keys.as_ref()), ReplayOptions::default()).unwrap_err();
    assert!(
        matches!(&err, CommitLogError::Corrupt { offset: 37, reason, .. } if reason.contains("block header")),
        "{err}"
    );
}

#[test]
fn an_older_segment_cut_short_is_an_error() {
    let w = write_segments();
    let segs = segment_files(&w.logdir);
    let victim = &segs[0];
    let len = std::fs::metadata(victim).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(victim)
        .unwrap()
        .set_len(len - 30)
        .unwrap();
    let err = collect(&w.logdir, Some(w.keys.as_ref()), ReplayOptions::default()).unwrap_err();
    let (file, _) = error_site(&err);
    assert_eq!(&file, victim);
    assert!(err.to_string().contains("must be complete"), "{err}");
}

#[test]
fn a_destroyed_key_is_an_error_naming_the_key_even_in_the_newest_segment() {
    let w = write_segments();
    let id = w.keys.list().unwrap().into_iter().next().unwrap().id;
    w.keys.revoke(&id, false).unwrap();
    w.keys.destroy(&id).unwrap();
    let err = collect(&w.logdir, Some(w.keys.as_ref()), ReplayOptions::default()).unwrap_err();
    match &err {
        CommitLogError::Chunk {
            file,
            offset,
            source,
        } => {
            assert_eq!(file, &segment_files(&w.logdir)[0]);
            assert_eq!(*offset, 37);
            assert!(
                matches!(&**source, CompressionError::Key { key_id, source: KeyError::Destroyed { .. } } if key_id == &id),
                "{source}"
            );
        }
        other => panic!("{other}"),
    }
    assert!(err.to_string().contains(id.as_str()), "{err}");
    // Without any provider the error says a provider is needed.
    let err = collect(&w.logdir, None, ReplayOptions::default()).unwrap_err();
    assert!(err.to_string().contains("no key provider"), "{err}");
}

#[test]
fn a_file_of_another_kind_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("CommitLog-1-5.log"),
        b"not a segment at all",
    )
    .unwrap();
    let err = collect(dir.path(), None, ReplayOptions::default()).unwrap_err();
    assert!(matches!(err, CommitLogError::WrongMagic { .. }), "{err}");
}
