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

#[derive(Debug)]
struct OsFile(File);

impl LogFile for OsFile {
    fn append(&mut self, buf: &[u8]) -> io::Result<()> {
        self.0.write_all(buf)
    }
    fn sync(&mut self) -> io::Result<()> {
        self.0.sync_data()
    }
}

impl LogStorage for OsStorage {
    fn create(&self, path: &Path) -> io::Result<Box<dyn LogFile>> {
        use std::os::unix::fs::OpenOptionsExt;
        let f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)?;
        Ok(Box::new(OsFile(f)))
    }

    fn reopen_truncated(&self, path: &Path, len: u64) -> io::Result<Box<dyn LogFile>> {
        let mut f = OpenOptions::new().write(true).open(path)?;
        f.set_len(len)?;
        f.seek(SeekFrom::Start(len))?;
        Ok(Box::new(OsFile(f)))
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
