#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on errors"
)]

//! A failed fsync or write poisons the log: the first call to see it fails with the OS error,
//! every later append, sync and close fails saying why, and what was synced before is still
//! replayed after reopening.

mod common;

use std::io;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::*;
use crypta_commitlog::{
    CommitLog, CommitLogConfig, CommitLogError, LogFile, LogStorage, OsStorage, ReplayOptions,
    SyncMode,
};
use crypta_compression::CompressionOptions;

/// Real files whose writes or fsyncs fail on demand.
#[derive(Debug, Default)]
struct Faulty {
    fail_sync: Arc<AtomicBool>,
    fail_write: Arc<AtomicBool>,
}

#[derive(Debug)]
struct FaultyFile {
    inner: Box<dyn LogFile>,
    fail_sync: Arc<AtomicBool>,
    fail_write: Arc<AtomicBool>,
}

fn eio() -> io::Error {
    io::Error::from_raw_os_error(5) // EIO
}

impl LogFile for FaultyFile {
    fn append(&mut self, buf: &[u8]) -> io::Result<()> {
        if self.fail_write.load(Ordering::SeqCst) {
            // A short write: half reaches the file.
            self.inner.append(&buf[..buf.len() / 2])?;
            return Err(eio());
        }
        self.inner.append(buf)
    }
    fn sync(&mut self) -> io::Result<()> {
        if self.fail_sync.load(Ordering::SeqCst) {
            return Err(eio());
        }
        self.inner.sync()
    }
}

impl Faulty {
    fn wrap(&self, inner: Box<dyn LogFile>) -> Box<dyn LogFile> {
        Box::new(FaultyFile {
            inner,
            fail_sync: self.fail_sync.clone(),
            fail_write: self.fail_write.clone(),
        })
    }
}

impl LogStorage for Faulty {
    fn create(&self, path: &Path) -> io::Result<Box<dyn LogFile>> {
        Ok(self.wrap(OsStorage.create(path)?))
    }
    fn reopen_truncated(&self, path: &Path, len: u64) -> io::Result<Box<dyn LogFile>> {
        Ok(self.wrap(OsStorage.reopen_truncated(path, len)?))
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        OsStorage.sync_dir(dir)
    }
}

fn open(dir: &Path, sync: SyncMode, storage: Arc<Faulty>) -> CommitLog {
    CommitLog::open(
        dir,
        CommitLogConfig {
            storage,
            ..config(sync, CompressionOptions::default(), 1 << 20)
        },
        None,
    )
    .unwrap()
}

fn assert_poisoned(e: &CommitLogError) {
    assert!(
        matches!(e, CommitLogError::Poisoned { cause } if cause.contains("syncing") || cause.contains("writing")),
        "{e}"
    );
}

#[test]
fn a_failed_fsync_in_batch_mode_fails_the_append_and_poisons_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let faulty = Arc::new(Faulty::default());
    let log = open(dir.path(), SyncMode::Batch, faulty.clone());
    let first = record(1, 100);
    let p1 = log.append(&first).unwrap();
    faulty.fail_sync.store(true, Ordering::SeqCst);
    let err = log.append(&record(2, 100)).unwrap_err();
    assert!(
        matches!(&err, CommitLogError::Io { operation: "syncing", source, .. } if source.raw_os_error() == Some(5)),
        "{err}"
    );
    // Even once the disk is fine again, nothing more is acknowledged.
    faulty.fail_sync.store(false, Ordering::SeqCst);
    assert_poisoned(&log.append(&record(3, 100)).unwrap_err());
    assert_poisoned(&log.sync().unwrap_err());
    assert_poisoned(&log.close().unwrap_err());

    // Reopening recovers what reached the file; the synced record is there.
    let (got, _) = collect(dir.path(), None, ReplayOptions::default()).unwrap();
    assert_eq!(got[0], (p1, first));
    let log = open(dir.path(), SyncMode::Batch, Arc::new(Faulty::default()));
    log.append(&record(4, 10)).unwrap();
    log.close().unwrap();
}

#[test]
fn concurrent_waiters_see_the_poison_too() {
    let dir = tempfile::tempdir().unwrap();
    let faulty = Arc::new(Faulty::default());
    let log = Arc::new(open(dir.path(), SyncMode::Batch, faulty.clone()));
    log.append(&record(0, 10)).unwrap();
    faulty.fail_sync.store(true, Ordering::SeqCst);
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let log = log.clone();
            std::thread::spawn(move || log.append(&record(t, 50)).unwrap_err())
        })
        .collect();
    for h in handles {
        let e = h.join().unwrap();
        assert!(
            matches!(
                e,
                CommitLogError::Io { .. } | CommitLogError::Poisoned { .. }
            ),
            "{e}"
        );
    }
    assert_poisoned(&log.append(&record(9, 1)).unwrap_err());
}

#[test]
fn a_failed_write_in_periodic_mode_poisons_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let faulty = Arc::new(Faulty::default());
    let log = open(
        dir.path(),
        SyncMode::Periodic(Duration::from_secs(3600)),
        faulty.clone(),
    );
    let first = record(1, 100);
    let p1 = log.append(&first).unwrap();
    log.sync().unwrap();
    faulty.fail_write.store(true, Ordering::SeqCst);
    // Appends return once queued; the writer thread writes when a chunk (64 KiB) fills, and
    // fails. The failure reaches a later append, or the sync at the latest.
    let mut failure = None;
    for n in 0..200 {
        if let Err(e) = log.append(&record(n, 1000)) {
            failure = Some(e);
            break;
        }
    }
    let err = match failure {
        Some(e) => e,
        None => log.sync().expect_err("the chunks written fail"),
    };
    assert!(
        matches!(
            &err,
            CommitLogError::Io {
                operation: "writing",
                ..
            }
        ),
        "{err}"
    );
    faulty.fail_write.store(false, Ordering::SeqCst);
    assert_poisoned(&log.append(&record(7, 10)).unwrap_err());
    assert_poisoned(&log.sync().unwrap_err());
    drop(log);

    // The half-written write is a torn tail: recovery drops its cut chunk, the synced record
    // stays. The writer thread may have taken several chunks in that write, so whole chunks
    // before the cut can come back too: records never acknowledged as durable, but written,
    // and only ever in the order appended.
    let (got, report) = collect(dir.path(), None, ReplayOptions::default()).unwrap();
    assert_eq!(got[0], (p1, first));
    for (n, (_, rec)) in got.iter().skip(1).enumerate() {
        assert_eq!(rec, &record(n as u64, 1000));
    }
    assert!(report.torn_tail.is_some());
}
