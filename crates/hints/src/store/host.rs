//! One host's hints: the file being written, the complete files, the delivery cursor.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Mutex;

use crypta_commitlog::{LogWriter, SealInfo, record_header};

use crate::HintsError;
use crate::cursor::Cursor;

/// The hints file a host's new hints go to.
pub(super) struct OpenFile {
    pub id: u64,
    pub writer: LogWriter,
    /// Framed records not yet written (less than a chunk, until a flush).
    pub buf: Vec<u8>,
    pub records: u64,
    pub times: Option<(u64, u64)>,
}

impl fmt::Debug for OpenFile {
    /// Sizes only: the buffer holds mutations.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenFile")
            .field("id", &self.id)
            .field("writer", &self.writer)
            .field("buffered", &self.buf.len())
            .field("records", &self.records)
            .finish_non_exhaustive()
    }
}

impl OpenFile {
    /// Buffers one hint record; writes whole chunks as they fill.
    pub fn push(&mut self, data: &[u8], created: u64, chunk: usize) -> Result<(), HintsError> {
        self.buf.extend_from_slice(&record_header(data));
        self.buf.extend_from_slice(data);
        self.records += 1;
        self.times = Some(self.times.map_or((created, created), |(lo, hi)| {
            (lo.min(created), hi.max(created))
        }));
        let whole = self.buf.len() / chunk.max(1) * chunk.max(1);
        if whole > 0 {
            self.writer
                .write(self.buf.get(..whole).unwrap_or_default())?;
            self.buf.drain(..whole);
        }
        Ok(())
    }

    /// Writes what is buffered and fsyncs.
    pub fn flush(&mut self) -> Result<(), HintsError> {
        self.writer.write(&self.buf)?;
        self.buf.clear();
        self.writer.sync()?;
        Ok(())
    }

    /// Bytes the file will have once the buffer is written.
    pub fn size(&self) -> u64 {
        self.writer.file_len() + self.buf.len() as u64
    }

    /// Writes the rest and the trailer: the file is complete.
    pub fn seal(mut self) -> Result<(u64, SealedFile), HintsError> {
        self.writer.write(&self.buf)?;
        let path = self.writer.path().to_path_buf();
        let bytes = self.writer.seal(SealInfo {
            records: self.records,
            time_range: self.times,
        })?;
        Ok((
            self.id,
            SealedFile {
                path,
                records: self.records,
                bytes,
                latest: self.times.map(|(_, hi)| hi),
            },
        ))
    }
}

/// A complete hints file.
#[derive(Clone, Debug)]
pub(super) struct SealedFile {
    pub path: PathBuf,
    pub records: u64,
    pub bytes: u64,
    /// The latest creation time of its hints (`None`: no hints, or unknown).
    pub latest: Option<u64>,
}

/// A host's hints state.
#[derive(Debug)]
pub(super) struct HostState {
    pub open: Option<OpenFile>,
    pub sealed: BTreeMap<u64, SealedFile>,
    pub next_id: u64,
    pub cursor: Cursor,
    pub poisoned: Option<String>,
}

/// A host's state, and the lock that lets one dispatch run at a time for it while hints
/// keep being written.
#[derive(Debug)]
pub(super) struct HostHints {
    pub state: Mutex<HostState>,
    pub dispatching: Mutex<()>,
}
