#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on errors"
)]

//! Read-ahead threads: at most one per core in the process, none outliving its scan. One test
//! alone in its binary, so that it counts only its own threads (Linux: `/proc/self/task`).

mod common;

use common::*;

/// The read-ahead threads of this process now (thread names are cut to 15 bytes).
#[cfg(target_os = "linux")]
fn read_ahead_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|name| name.starts_with("crypta-readahe"))
        .count()
}

#[cfg(target_os = "linux")]
#[test]
fn read_ahead_threads_are_bounded_by_the_cores_and_end_with_their_scans() {
    let dir = tempfile::tempdir().unwrap();
    let keys = provider(dir.path());
    let path = at(&dir, "t.db");
    write_n(
        &path,
        &options("DeflateCompressor", None, 4),
        keys.clone(),
        20_000,
    );
    let t = open(&path, keys);
    let per_chunk = 20_000 / t.chunk_offsets().len();
    assert_eq!(read_ahead_threads(), 0);

    // A long scan gets a thread once in its third chunk; dropping it mid-range ends the
    // thread, though it was blocked on a full queue.
    let mut scan = t.iter();
    for _ in 0..per_chunk * 3 / 2 {
        scan.next().unwrap().unwrap();
    }
    assert!(!scan.read_ahead_started(), "short scans read on their own");
    assert_eq!(read_ahead_threads(), 0);
    for _ in 0..per_chunk * 3 {
        scan.next().unwrap().unwrap();
    }
    assert!(scan.read_ahead_started());
    assert_eq!(read_ahead_threads(), 1);
    drop(scan);
    assert_eq!(
        read_ahead_threads(),
        0,
        "the thread is joined when its scan is dropped"
    );

    // More long scans than cores: one thread per core, the other scans read on their own and
    // give the same entries.
    let cores = std::thread::available_parallelism().unwrap().get();
    let mut scans: Vec<_> = (0..cores + 2).map(|_| t.iter()).collect();
    for scan in &mut scans {
        for _ in 0..per_chunk * 4 {
            scan.next().unwrap().unwrap();
        }
    }
    let started = scans.iter().filter(|s| s.read_ahead_started()).count();
    assert_eq!(started, cores);
    assert_eq!(read_ahead_threads(), cores);
    for scan in scans.iter_mut() {
        let rest: Vec<_> = scan.by_ref().map(Result::unwrap).collect();
        assert_eq!(rest.len(), 20_000 - per_chunk * 4);
        assert_eq!(rest.last().unwrap().0, key(19_999));
    }
    // A scan that ran to its end has let its thread go.
    assert_eq!(read_ahead_threads(), 0);
    drop(scans);

    // A slot freed is taken by the next long scan.
    let mut scan = t.iter();
    assert_eq!(scan.by_ref().count(), 20_000);
    assert!(scan.read_ahead_started());
    assert_eq!(read_ahead_threads(), 0);
}
