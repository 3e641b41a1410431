#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on errors"
)]

//! The checked-in commit log of format version 1 (`tests/data/`, made by the `make_golden_commitlog`
//! example) still replays exactly: plain, AES-CBC with a key rotation, and an unsealed
//! LZ4+AES-GCM segment with a torn tail. A format change shows up here.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;

use crypta_commitlog::{CommitLog, LogKind, ReplayOptions, summarize_file};
use crypta_keys::{KeyProvider, LocalKeyProvider};

fn golden_record(i: u64) -> Vec<u8> {
    format!("golden mutation {i};")
        .repeat(i as usize % 5 + 1)
        .into_bytes()
}

/// The golden data copied to a temp dir (key file mode 0600, as the provider demands).
fn golden() -> (tempfile::TempDir, Arc<dyn KeyProvider>) {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("cl")).unwrap();
    for e in std::fs::read_dir(data.join("commitlog")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), dir.path().join("cl").join(e.file_name())).unwrap();
    }
    let keys = dir.path().join("keys");
    std::fs::copy(data.join("v1-test-keys"), &keys).unwrap();
    std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o600)).unwrap();
    (dir, Arc::new(LocalKeyProvider::open(keys).unwrap()))
}

#[test]
fn the_v1_golden_log_replays_exactly() {
    let (dir, keys) = golden();
    let logdir = dir.path().join("cl");
    let (got, report) =
        common::collect(&logdir, Some(keys.as_ref()), ReplayOptions::default()).unwrap();
    let records: Vec<Vec<u8>> = got.iter().map(|(_, r)| r.clone()).collect();
    assert_eq!(records, (0..19).map(golden_record).collect::<Vec<_>>());
    assert_eq!(report.segments, 3);
    let torn = report.torn_tail.expect("the newest segment was cut");
    assert_eq!(torn.file, common::segment_files(&logdir)[2]);

    let keys_per_segment: Vec<usize> = common::segment_files(&logdir)
        .iter()
        .map(|f| {
            summarize_file(f, LogKind::CommitLog, &std::fs::read(f).unwrap())
                .unwrap()
                .key_ids
                .len()
        })
        .collect();
    assert_eq!(keys_per_segment, vec![0, 2, 1]);

    // Recovery seals the torn segment; the same records replay, now without a torn tail.
    CommitLog::open(
        &logdir,
        common::config(
            crypta_commitlog::SyncMode::Batch,
            common::aes_cbc(),
            1 << 20,
        ),
        Some(keys.clone()),
    )
    .unwrap()
    .close()
    .unwrap();
    let (again, report) =
        common::collect(&logdir, Some(keys.as_ref()), ReplayOptions::default()).unwrap();
    assert_eq!(again, got);
    assert!(report.torn_tail.is_none());
}
