#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on errors"
)]

//! The writer thread: appends stop at the queue bound while the disk is stuck (bounded
//! memory) and go on once it moves; everything comes back in order; the thread is gone after
//! close and after drop, in every sync mode.
//!
//! One scenario per process matters here: the thread check lists the threads of this
//! process, so this file holds that one test and the backpressure test, which runs first.

mod common;

use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use common::*;
use crypta_commitlog::{
    CommitLog, CommitLogConfig, LogFile, LogStorage, OsStorage, ReplayOptions, SyncMode,
};

/// Real files whose appends wait while a gate is closed.
#[derive(Debug, Default)]
struct Gated {
    closed: Arc<(Mutex<bool>, Condvar)>,
    /// Appends that reached the gate while it was closed.
    blocked: Arc<AtomicU64>,
}

#[derive(Debug)]
struct GatedFile {
    inner: Box<dyn LogFile>,
    closed: Arc<(Mutex<bool>, Condvar)>,
    blocked: Arc<AtomicU64>,
}

impl LogFile for GatedFile {
    fn append(&mut self, buf: &[u8]) -> io::Result<()> {
        let (m, c) = &*self.closed;
        let mut shut = m.lock().unwrap();
        if *shut {
            self.blocked.fetch_add(1, Ordering::SeqCst);
        }
        while *shut {
            shut = c.wait(shut).unwrap();
        }
        drop(shut);
        self.inner.append(buf)
    }
    fn sync(&mut self) -> io::Result<()> {
        self.inner.sync()
    }
}

impl LogStorage for Gated {
    fn create(&self, path: &Path) -> io::Result<Box<dyn LogFile>> {
        Ok(Box::new(GatedFile {
            inner: OsStorage.create(path)?,
            closed: self.closed.clone(),
            blocked: self.blocked.clone(),
        }))
    }
    fn reopen_truncated(&self, path: &Path, len: u64) -> io::Result<Box<dyn LogFile>> {
        OsStorage.reopen_truncated(path, len)
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        OsStorage.sync_dir(dir)
    }
}

impl Gated {
    fn set(&self, closed: bool) {
        let (m, c) = &*self.closed;
        *m.lock().unwrap() = closed;
        c.notify_all();
    }
}

/// Threads of this process named like the commit log's writer (Linux only: elsewhere the
/// check is skipped and 0 is returned).
fn writer_threads() -> usize {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|name| name.starts_with("crypta-commitl"))
        .count()
}

/// The writer threads once their count has come down to `expected`, or after 5 s. A joined
/// thread can still be listed for a moment: `join` returns when the thread has finished
/// running, a little before the kernel takes it off `/proc/self/task`. A leaked thread never
/// leaves it, so the assertions that follow still catch one.
fn writer_threads_settled(expected: usize) -> usize {
    for _ in 0..500 {
        if writer_threads() <= expected {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    writer_threads()
}

#[test]
fn appends_wait_at_the_queue_bound_and_the_writer_thread_never_outlives_the_log() {
    // Backpressure: 1 KiB records, 4 KiB chunks; the disk stops accepting writes.
    let dir = tempfile::tempdir().unwrap();
    let gated = Arc::new(Gated::default());
    let log = Arc::new(
        CommitLog::open(
            dir.path(),
            CommitLogConfig {
                storage: gated.clone(),
                ..config(
                    SyncMode::Periodic(Duration::from_secs(3600)),
                    options("Encryptor", Some(("AES/CBC/PKCS5Padding", 128)), 4),
                    1 << 20,
                )
            },
            Some(keys(dir.path())),
        )
        .unwrap(),
    );
    gated.set(true);
    let appended = Arc::new(AtomicU64::new(0));
    let total = 400u64; // 100 chunks: far beyond the 16-chunk queue.
    let appender = {
        let (log, appended) = (log.clone(), appended.clone());
        std::thread::spawn(move || {
            for n in 0..total {
                log.append(&record(n, 1000)).unwrap();
                appended.fetch_add(1, Ordering::SeqCst);
            }
        })
    };
    // Wait until the writer is stuck in a write, then give the appender ample time.
    while gated.blocked.load(Ordering::SeqCst) == 0 {
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(300));
    // At most the writer's round, a batch an append encoded ahead, and a full queue (16
    // chunks and a record each), in records of 1,000 bytes and their framing.
    let most = 3 * (16 * 4096 + 1100) / 1000 + 3;
    let seen = appended.load(Ordering::SeqCst);
    assert!(
        seen <= most as u64,
        "{seen} appends went through a stuck disk"
    );
    assert!(seen < total);
    gated.set(false);
    appender.join().unwrap();
    log.sync().unwrap();
    assert_eq!(writer_threads(), 1);
    Arc::into_inner(log).unwrap().close().unwrap();
    assert_eq!(writer_threads_settled(0), 0);
    let k = keys(dir.path());
    let (got, _) = collect(dir.path(), Some(k.as_ref()), ReplayOptions::default()).unwrap();
    assert_eq!(got.len() as u64, total);
    for (n, (_, rec)) in got.iter().enumerate() {
        assert_eq!(rec, &record(n as u64, 1000));
    }

    // No thread left behind: after close and after drop, in each sync mode.
    for sync in [
        SyncMode::Periodic(Duration::from_millis(5)),
        SyncMode::Batch,
        SyncMode::Group(Duration::from_millis(1)),
    ] {
        for close in [true, false] {
            let dir = tempfile::tempdir().unwrap();
            let log = open_plain(dir.path(), sync, 1 << 20);
            for n in 0..50 {
                log.append(&record(n, 300)).unwrap();
            }
            // The thread names itself once it runs: give it the time to start.
            for _ in 0..500 {
                if writer_threads() == 1 {
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            assert_eq!(writer_threads(), 1, "{sync:?}");
            if close {
                log.close().unwrap();
            } else {
                drop(log);
            }
            assert_eq!(writer_threads_settled(0), 0, "{sync:?}, close: {close}");
            let (got, _) = collect(dir.path(), None, ReplayOptions::default()).unwrap();
            assert_eq!(got.len(), 50);
        }
    }
}
