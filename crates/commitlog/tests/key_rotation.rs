#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on errors"
)]

//! When the provider hands out a new key while the log runs, the next chunk uses it; the
//! segment records both key ids (readable without decrypting) and replays with both.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use common::*;
use crypta_commitlog::{CommitLog, LogKind, ReplayOptions, SyncMode, summarize_file};
use crypta_keys::{KeyManager, KeyProvider, Timestamp};

#[test]
fn a_rotated_key_is_used_from_the_next_chunk_and_both_are_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let keys = keys(dir.path());
    let provider: Arc<dyn KeyProvider> = keys.clone();
    let logdir = dir.path().join("cl");
    let log = CommitLog::open(
        &logdir,
        config(SyncMode::Batch, aes_cbc(), 1 << 20),
        Some(provider.clone()),
    )
    .unwrap();
    let spec = aes_cbc().key_spec().unwrap();
    let mut written = Vec::new();
    for n in 0..10 {
        let r = record(n, 200);
        written.push((log.append(&r).unwrap(), r));
    }
    let k1 = provider.current_key(&spec).unwrap().id().clone();
    keys.revoke(&k1, false).unwrap(); // rotate: a new key for new data
    for n in 10..20 {
        let r = record(n, 200);
        written.push((log.append(&r).unwrap(), r));
    }
    let k2 = provider.current_key(&spec).unwrap().id().clone();
    assert_ne!(k1, k2);
    // Expiring the second key rotates again, within the same segment.
    keys.expire(&k2, Timestamp(1)).unwrap();
    for n in 20..30 {
        let r = record(n, 200);
        written.push((log.append(&r).unwrap(), r));
    }
    let k3 = provider.current_key(&spec).unwrap().id().clone();
    assert!(
        written
            .iter()
            .all(|(p, _)| p.segment == written[0].0.segment),
        "one segment"
    );

    // While the segment is open its chunks name the keys.
    let seg = segment_files(&logdir).pop().unwrap();
    let open = summarize_file(&seg, LogKind::CommitLog, &std::fs::read(&seg).unwrap()).unwrap();
    let all: BTreeSet<_> = [k1.clone(), k2.clone(), k3.clone()].into();
    assert_eq!(open.key_ids, all);
    assert!(open.trailer.is_none());
    log.close().unwrap();

    let sealed = summarize_file(&seg, LogKind::CommitLog, &std::fs::read(&seg).unwrap()).unwrap();
    assert_eq!(sealed.trailer.unwrap().key_ids, all);
    let (got, _) = collect(&logdir, Some(provider.as_ref()), ReplayOptions::default()).unwrap();
    assert_eq!(got, written);
}

#[test]
fn rotation_across_segments_keeps_old_segments_readable() {
    let dir = tempfile::tempdir().unwrap();
    let keys = keys(dir.path());
    let provider: Arc<dyn KeyProvider> = keys.clone();
    let logdir = dir.path().join("cl");
    let log = CommitLog::open(
        &logdir,
        config(SyncMode::Batch, aes_cbc(), 4096),
        Some(provider.clone()),
    )
    .unwrap();
    let spec = aes_cbc().key_spec().unwrap();
    let mut written = Vec::new();
    for round in 0..3u64 {
        for n in 0..15 {
            let r = record(round * 100 + n, 500);
            written.push((log.append(&r).unwrap(), r));
        }
        let k = provider.current_key(&spec).unwrap().id().clone();
        keys.revoke(&k, round == 1).unwrap();
    }
    log.close().unwrap();
    let mut per_segment = Vec::new();
    for seg in segment_files(&logdir) {
        let s = summarize_file(&seg, LogKind::CommitLog, &std::fs::read(&seg).unwrap()).unwrap();
        per_segment.push(s.key_ids.len());
    }
    assert!(per_segment.len() > 3, "{per_segment:?}");
    assert_eq!(keys.list().unwrap().len(), 3, "a key per round");
    let (got, _) = collect(&logdir, Some(provider.as_ref()), ReplayOptions::default()).unwrap();
    assert_eq!(got, written);
}
