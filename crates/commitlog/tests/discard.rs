#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on errors"
)]

//! Segments roll at the configured size, are deleted once the engine has flushed past them,
//! ids keep growing across restarts, and periodic mode syncs in the background.

mod common;

use std::time::{Duration, Instant};

use common::*;
use crypta_commitlog::{CommitLog, ReplayOptions, SyncMode};

#[test]
fn discard_up_to_deletes_only_segments_before_the_position() {
    let dir = tempfile::tempdir().unwrap();
    let log = open_plain(dir.path(), SyncMode::Batch, 4096);
    let mut written = Vec::new();
    for n in 0..60 {
        let r = record(n, 200);
        written.push((log.append(&r).unwrap(), r));
    }
    let segments = log.segments();
    assert!(segments.len() >= 3, "{segments:?}");
    for f in &segments {
        // Records are at most 4096 bytes of stream per segment; chunk framing adds a little.
        assert!(std::fs::metadata(f).unwrap().len() < 4096 + 60 * 100);
    }
    // Flushed up to the start of the third segment: the first two go.
    let mid = written
        .iter()
        .map(|(p, _)| p.segment)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .nth(2)
        .unwrap();
    let removed = log
        .discard_up_to(crypta_commitlog::Position {
            segment: mid,
            offset: 0,
        })
        .unwrap();
    assert_eq!(removed, segments[..2].to_vec());
    assert!(removed.iter().all(|f| !f.exists()));
    let (got, _) = collect(dir.path(), None, ReplayOptions::default()).unwrap();
    let want: Vec<_> = written
        .iter()
        .filter(|(p, _)| p.segment >= mid)
        .cloned()
        .collect();
    assert_eq!(got, want);

    // Everything flushed: only the active segment remains.
    let now = log.current_position();
    log.discard_up_to(now).unwrap();
    assert_eq!(log.segments().len(), 1);
    log.close().unwrap();

    // A restart after discarding everything still gets higher ids.
    let log = open_plain(dir.path(), SyncMode::Batch, 4096);
    let p = log.append(b"after restart").unwrap();
    assert!(p > now, "{p:?} after {now:?}");
    log.close().unwrap();
}

#[test]
fn periodic_mode_returns_at_once_and_syncs_in_the_background() {
    let dir = tempfile::tempdir().unwrap();
    let keys = keys(dir.path());
    let log = CommitLog::open(
        dir.path().join("cl"),
        config(
            SyncMode::Periodic(Duration::from_millis(20)),
            aes_cbc(),
            1 << 20,
        ),
        Some(keys.clone() as _),
    )
    .unwrap();
    let r = record(1, 100);
    let p = log.append(&r).unwrap();
    // No sync call: the background thread writes and fsyncs the chunk within its period.
    // Wait for it (generously bounded; this checks that it happens, not how fast).
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (got, _) = collect(
            &dir.path().join("cl"),
            Some(keys.as_ref()),
            ReplayOptions::default(),
        )
        .unwrap();
        if !got.is_empty() {
            assert_eq!(got, vec![(p, r)]);
            break;
        }
        assert!(Instant::now() < deadline, "the periodic sync never ran");
        std::thread::sleep(Duration::from_millis(10));
    }
    log.close().unwrap();
}

/// `seal_active` ends the active segment (written out, sealed) in every sync mode, so that
/// `discard_up_to` the position after it deletes it; appends go on in a new segment, and a
/// log with nothing in its active segment has nothing to seal.
#[test]
fn seal_active_lets_the_active_segment_be_discarded() {
    for sync in [
        SyncMode::Periodic(Duration::from_secs(60)),
        SyncMode::Batch,
        SyncMode::Group(Duration::ZERO),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let log = open_plain(dir.path(), sync, 1 << 20);
        let first: Vec<_> = (0..10)
            .map(|n| log.append(&record(n, 100)).unwrap())
            .collect();
        let active = log.segments();
        assert_eq!(active.len(), 1, "{sync:?}");
        log.seal_active().unwrap();
        let after = log.current_position();
        assert_eq!(after.segment, first[0].segment + 1, "{sync:?}");
        assert_eq!(after.offset, 0, "{sync:?}");
        let removed = log.discard_up_to(after).unwrap();
        assert_eq!(removed, active, "{sync:?}");
        assert!(!active[0].exists(), "{sync:?}");
        // Nothing appended since: nothing to seal, nothing changes.
        log.seal_active().unwrap();
        assert_eq!(log.current_position(), after, "{sync:?}");
        let r = record(99, 100);
        let p = log.append(&r).unwrap();
        assert_eq!(p.segment, after.segment, "{sync:?}");
        log.sync().unwrap();
        drop(log);
        let (got, _) = collect(dir.path(), None, ReplayOptions::default()).unwrap();
        assert_eq!(got, vec![(p, r)], "{sync:?}");
    }
}
