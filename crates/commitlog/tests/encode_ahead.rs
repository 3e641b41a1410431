#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on errors"
)]

//! Appends that find the queue full encode chunks ahead of the writer thread: with a slow
//! disk (so that the queue fills all the time), small chunks and small segments (so that
//! batches encoded ahead carry segment rollovers and seals), every record comes back once,
//! in order, at the position its append returned.

mod common;

use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use crypta_commitlog::{
    CommitLog, CommitLogConfig, LogFile, LogStorage, OsStorage, ReplayOptions, SyncMode,
};

/// Real files whose appends take a while.
#[derive(Debug)]
struct Slow;

#[derive(Debug)]
struct SlowFile(Box<dyn LogFile>);

impl LogFile for SlowFile {
    fn append(&mut self, buf: &[u8]) -> io::Result<()> {
        std::thread::sleep(Duration::from_millis(2));
        self.0.append(buf)
    }
    fn sync(&mut self) -> io::Result<()> {
        self.0.sync()
    }
}

impl LogStorage for Slow {
    fn create(&self, path: &Path) -> io::Result<Box<dyn LogFile>> {
        Ok(Box::new(SlowFile(OsStorage.create(path)?)))
    }
    fn reopen_truncated(&self, path: &Path, len: u64) -> io::Result<Box<dyn LogFile>> {
        OsStorage.reopen_truncated(path, len)
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        OsStorage.sync_dir(dir)
    }
}

#[test]
fn records_encoded_ahead_come_back_in_order_across_segments() {
    for cipher in [Some(("AES/CBC/PKCS5Padding", 128)), None] {
        let dir = tempfile::tempdir().unwrap();
        let keys = keys(dir.path());
        let class = if cipher.is_some() {
            "Encryptor"
        } else {
            "LZ4Compressor"
        };
        let log = CommitLog::open(
            dir.path(),
            CommitLogConfig {
                storage: Arc::new(Slow),
                ..config(
                    SyncMode::Periodic(Duration::from_secs(3600)),
                    options(class, cipher, 4),
                    64 << 10,
                )
            },
            Some(keys.clone()),
        )
        .unwrap();
        let mut positions = Vec::new();
        for n in 0..3000u64 {
            positions.push(
                log.append(&record(n, 100 + (n as usize * 37) % 900))
                    .unwrap(),
            );
        }
        log.close().unwrap();
        let (got, report) =
            collect(dir.path(), Some(keys.as_ref()), ReplayOptions::default()).unwrap();
        assert!(report.torn_tail.is_none());
        assert!(segment_files(dir.path()).len() > 10, "segments rolled");
        assert_eq!(got.len(), 3000);
        for (n, (pos, rec)) in got.iter().enumerate() {
            let n = n as u64;
            assert_eq!(rec, &record(n, 100 + (n as usize * 37) % 900), "{cipher:?}");
            assert_eq!(*pos, positions[n as usize]);
        }
    }
}
