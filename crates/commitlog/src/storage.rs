//! The few file operations the logs need, behind a trait so that tests can inject failures
//! (a failing fsync, a short disk) without mocking the OS.

use std::fmt::Debug;
use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::path::Path;

/// An open log file, written only at its end.
pub trait LogFile: Send + Debug {
    /// Appends all of `buf`.
    fn append(&mut self, buf: &[u8]) -> io::Result<()>;
    /// Makes everything appended so far durable (`fdatasync`).
    fn sync(&mut self) -> io::Result<()>;
}

/// Where log files live: creates, reopens and syncs them.
pub trait LogStorage: Send + Sync + Debug {
    /// Creates a new file at `path` (failing if it exists), mode 0600.
    fn create(&self, path: &Path) -> io::Result<Box<dyn LogFile>>;
    /// Opens an existing file, cuts it to `len` bytes and positions appends at its end.
    fn reopen_truncated(&self, path: &Path, len: u64) -> io::Result<Box<dyn LogFile>>;
    /// Makes the directory's entries (files created, renamed, removed) durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
}

/// The real file system.
#[derive(Clone, Copy, Debug, Default)]
pub struct OsStorage;

/// Bytes appended between two requests to start writing back (see [`OsFile`]).
const WRITEBACK_EVERY: u64 = 1 << 20;

/// A log file on the real file system. Every [`WRITEBACK_EVERY`] bytes appended it asks the
/// kernel to start writing them to disk (`posix_fadvise(POSIX_FADV_DONTNEED)`, which on Linux
/// starts writeback of the range's dirty pages without waiting, as `sync_file_range` with
/// `SYNC_FILE_RANGE_WRITE` does), so that the next fsync finds most of the data already
/// written instead of starting all of it (RocksDB's `wal_bytes_per_sync`). It also drops the
/// range's pages that are already clean from the page cache, which suits files read back only
/// at replay or hint dispatch. A hint: its failure changes nothing, the fsync still makes
/// everything durable.
#[derive(Debug)]
struct OsFile {
    file: File,
    /// Bytes in the file, and how far writeback was asked for.
    len: u64,
    hinted: u64,
}

impl OsFile {
    fn new(file: File, len: u64) -> Self {
        OsFile {
            file,
            len,
            hinted: len,
        }
    }
}

impl LogFile for OsFile {
    fn append(&mut self, buf: &[u8]) -> io::Result<()> {
        self.file.write_all(buf)?;
        self.len += buf.len() as u64;
        if let Some((from, len)) = writeback_range(self.hinted, self.len) {
            start_writeback(&self.file, from, len);
            self.hinted = from + len.get();
        }
        Ok(())
    }
    fn sync(&mut self) -> io::Result<()> {
        self.file.sync_data()
    }
}

/// Asks the kernel to start writing bytes `from .. from + len` of `file` back. A hint:
/// whether the kernel takes it changes nothing the log promises.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn start_writeback(file: &File, from: u64, len: std::num::NonZeroU64) {
    let _ = rustix::fs::fadvise(file, from, Some(len), rustix::fs::Advice::DontNeed);
}

/// Elsewhere the fsync does all of it.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn start_writeback(_file: &File, _from: u64, _len: std::num::NonZeroU64) {}

/// The range to ask writeback for, when [`WRITEBACK_EVERY`] bytes have been appended since
/// `hinted`: up to the last whole page of the `len` bytes, since the page the next append
/// continues would be written again.
fn writeback_range(hinted: u64, len: u64) -> Option<(u64, std::num::NonZeroU64)> {
    const PAGE: u64 = 4096;
    let end = len & !(PAGE - 1);
    if end.saturating_sub(hinted) < WRITEBACK_EVERY {
        return None;
    }
    std::num::NonZeroU64::new(end - hinted).map(|n| (hinted, n))
}

impl LogStorage for OsStorage {
    fn create(&self, path: &Path) -> io::Result<Box<dyn LogFile>> {
        use std::os::unix::fs::OpenOptionsExt;
        let f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)?;
        Ok(Box::new(OsFile::new(f, 0)))
    }

    fn reopen_truncated(&self, path: &Path, len: u64) -> io::Result<Box<dyn LogFile>> {
        let mut f = OpenOptions::new().write(true).open(path)?;
        f.set_len(len)?;
        f.seek(SeekFrom::Start(len))?;
        Ok(Box::new(OsFile::new(f, len)))
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }
}

/// Creates a log directory (and its parents) mode 0700 if missing.
pub fn create_log_dir(dir: &Path) -> Result<(), crate::CommitLogError> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(crate::CommitLogError::io(dir, "creating"))
}

/// Deletes a log file; one already gone is fine.
pub fn remove_log_file(path: &Path) -> Result<(), crate::CommitLogError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(crate::CommitLogError::io(path, "deleting")(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writeback_is_asked_for_whole_pages_every_mebibyte() {
        let mib = WRITEBACK_EVERY;
        assert_eq!(writeback_range(0, mib - 1), None);
        // 1 MiB and 100 bytes appended: the whole pages, the partial one left for later.
        let (from, len) = writeback_range(0, mib + 100).expect("due");
        assert_eq!((from, len.get()), (0, mib));
        // Counted from where the last request ended, not from the file's length.
        assert_eq!(writeback_range(mib, 2 * mib + 4095 - 4096), None);
        let (from, len) = writeback_range(mib, 2 * mib + 4095).expect("due");
        assert_eq!((from, len.get()), (mib, mib));
        // A reopened file starts unaligned: the first request starts there.
        let (from, len) = writeback_range(10, mib + 4096).expect("due");
        assert_eq!((from, len.get()), (10, mib + 4086));
    }

    #[test]
    fn appends_survive_writeback_requests() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("f");
        let mut f = OsStorage.create(&path).expect("create");
        let mut want = Vec::new();
        for i in 0..300u32 {
            let block: Vec<u8> = (0..10_007u32).map(|j| (i ^ j) as u8).collect();
            f.append(&block).expect("append");
            want.extend_from_slice(&block);
        }
        f.sync().expect("sync");
        drop(f);
        assert_eq!(std::fs::read(&path).expect("read"), want);
        // Reopened at a length that is no multiple of a page, it appends at its end.
        let cut = want.len() as u64 - 5_000;
        let mut f = OsStorage.reopen_truncated(&path, cut).expect("reopen");
        want.truncate(cut as usize);
        for _ in 0..200 {
            f.append(&[7u8; 9_999]).expect("append");
            want.extend_from_slice(&[7u8; 9_999]);
        }
        f.sync().expect("sync");
        drop(f);
        assert_eq!(std::fs::read(&path).expect("read"), want);
    }
}
