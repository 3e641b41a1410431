#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on errors"
)]

//! Many threads appending in batch and group mode lose nothing: every acknowledged record
//! replays, each thread's records in its order, and concurrent appends share fsyncs.

mod common;

use std::io;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use common::*;
use crypta_commitlog::{
    CommitLog, CommitLogConfig, LogFile, LogStorage, OsStorage, Position, ReplayOptions, SyncMode,
};
use crypta_keys::KeyProvider;

/// Counts fsyncs of log files.
#[derive(Debug, Default)]
struct Counting {
    syncs: Arc<AtomicU64>,
}

#[derive(Debug)]
struct CountingFile(Box<dyn LogFile>, Arc<AtomicU64>);

impl LogFile for CountingFile {
    fn append(&mut self, buf: &[u8]) -> io::Result<()> {
        self.0.append(buf)
    }
    fn sync(&mut self) -> io::Result<()> {
        self.1.fetch_add(1, Ordering::Relaxed);
        self.0.sync()
    }
}

impl LogStorage for Counting {
    fn create(&self, path: &Path) -> io::Result<Box<dyn LogFile>> {
        Ok(Box::new(CountingFile(
            OsStorage.create(path)?,
            self.syncs.clone(),
        )))
    }
    fn reopen_truncated(&self, path: &Path, len: u64) -> io::Result<Box<dyn LogFile>> {
        Ok(Box::new(CountingFile(
            OsStorage.reopen_truncated(path, len)?,
            self.syncs.clone(),
        )))
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        OsStorage.sync_dir(dir)
    }
}

fn hammer(sync: SyncMode, threads: u64, per_thread: u64) {
    let dir = tempfile::tempdir().unwrap();
    let keys: Arc<dyn KeyProvider> = keys(dir.path());
    let logdir = dir.path().join("cl");
    let storage = Arc::new(Counting::default());
    let syncs = storage.syncs.clone();
    let log = Arc::new(
        CommitLog::open(
            &logdir,
            CommitLogConfig {
                storage,
                ..config(sync, aes_cbc(), 64 * 1024)
            },
            Some(keys.clone()),
        )
        .unwrap(),
    );
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let log = log.clone();
            std::thread::spawn(move || {
                let mut mine: Vec<(Position, Vec<u8>)> = Vec::new();
                for i in 0..per_thread {
                    let r = record(t * 1_000_000 + i, 20 + (i as usize * 7) % 300);
                    mine.push((log.append(&r).unwrap(), r));
                }
                mine
            })
        })
        .collect();
    let mut acked: Vec<(Position, Vec<u8>)> = Vec::new();
    for h in handles {
        let mine = h.join().unwrap();
        assert!(
            mine.windows(2).all(|w| w[0].0 < w[1].0),
            "a thread's positions grow"
        );
        acked.extend(mine);
    }
    let appends = threads * per_thread;
    let fsyncs = syncs.load(Ordering::Relaxed);
    Arc::into_inner(log).unwrap().close().unwrap();
    acked.sort();
    let (got, report) = collect(&logdir, Some(keys.as_ref()), ReplayOptions::default()).unwrap();
    assert!(report.segments > 1, "64 KiB segments roll");
    assert_eq!(got.len() as u64, appends);
    assert_eq!(got, acked, "every acknowledged record, at its position");
    assert!(
        fsyncs < appends,
        "{appends} appends from {threads} threads share fsyncs ({fsyncs})"
    );
}

#[test]
fn batch_mode_with_eight_threads() {
    hammer(SyncMode::Batch, 8, 250);
}

#[test]
fn group_mode_with_a_window() {
    hammer(SyncMode::Group(Duration::from_millis(2)), 6, 150);
}
