//! What appends and the writer thread share under one short lock: the records not yet handed
//! to I/O (the queue), grouped by the segment they belong to, how far the log is durable, and
//! what the writer has been asked to do.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;

use crypta_keys::KeyId;

use crate::{CommitLogError, Position};

/// Emptied run buffers kept for reuse.
const MAX_SPARE: usize = 4;

/// Records of one segment waiting for I/O.
#[derive(Default)]
pub(super) struct Run {
    /// The segment they belong to.
    pub segment: u64,
    /// Framed records (header and data).
    pub bytes: Vec<u8>,
    /// Set when the segment is complete: its record count, for the trailer.
    pub seal: Option<u64>,
}

impl fmt::Debug for Run {
    /// Sizes only: the bytes are records (mutations), not for logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Run")
            .field("segment", &self.segment)
            .field("bytes", &self.bytes.len())
            .field("seal", &self.seal)
            .finish()
    }
}

/// A run encoded, ready to write: the chunk blocks of its segment, the stream bytes they
/// hold, the keys they used, and the seal that follows.
pub(super) struct Encoded {
    pub segment: u64,
    pub blocks: Vec<u8>,
    pub logical_len: u64,
    pub key_ids: BTreeSet<KeyId>,
    pub seal: Option<u64>,
}

/// Encoded runs of one take, and the emptied record buffers.
pub(super) type Batch = (Vec<Encoded>, Vec<Vec<u8>>);

/// The append side of the log.
pub(super) struct State {
    runs: VecDeque<Run>,
    /// Bytes in `runs`.
    pub pending: usize,
    /// Bytes appended since the log was opened (the end of the last append).
    pub lsn: u64,
    /// Every append ending at or before this is durable.
    pub durable: u64,
    /// The segment new appends go to, its stream length and record count.
    pub segment: u64,
    seg_len: u64,
    seg_records: u64,
    segment_size: u64,
    /// The first failure, once the log is poisoned.
    pub poisoned: Option<String>,
    /// The first failure itself, until one caller has been handed it (later callers get
    /// `Poisoned` naming it).
    pub failure: Option<CommitLogError>,
    pub closed: bool,
    /// Someone waits for everything up to this lsn to be durable.
    pub sync_wanted: u64,
    /// The writer thread sleeps on the `work` condvar and must be woken.
    pub writer_idle: bool,
    /// The writer thread has ended.
    pub writer_gone: bool,
    /// Threads sleeping on the `done` condvar (durability or queue space).
    pub waiters: usize,
    /// Emptied buffers kept for the next runs.
    spare: Vec<Vec<u8>>,
    /// Emptied encoding buffers kept for the next batches.
    out_spare: Vec<Vec<u8>>,
    /// Each take of runs gets a ticket; batches are written in ticket order.
    pub next_ticket: u64,
    /// The ticket of the next batch to write.
    pub next_write: u64,
    /// Batches an append encoded ahead (while the writer thread was busy), by ticket.
    pub encoded: BTreeMap<u64, Batch>,
    /// An append is encoding a batch ahead.
    pub helping: bool,
    /// [`CommitLog::seal_active`](super::CommitLog::seal_active) waits for the writer thread
    /// to write out the segment it sealed.
    pub seal_wanted: bool,
}

impl fmt::Debug for State {
    /// Positions and sizes only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("State")
            .field("runs", &self.runs)
            .field("pending", &self.pending)
            .field("lsn", &self.lsn)
            .field("durable", &self.durable)
            .field("segment", &self.segment)
            .field("seg_len", &self.seg_len)
            .field("poisoned", &self.poisoned)
            .field("closed", &self.closed)
            .field("sync_wanted", &self.sync_wanted)
            .finish_non_exhaustive()
    }
}

impl State {
    pub fn new(segment: u64, segment_size: u64) -> Self {
        State {
            runs: VecDeque::new(),
            pending: 0,
            lsn: 0,
            durable: 0,
            segment,
            seg_len: 0,
            seg_records: 0,
            segment_size,
            poisoned: None,
            failure: None,
            closed: false,
            sync_wanted: 0,
            writer_idle: false,
            writer_gone: false,
            waiters: 0,
            spare: Vec::new(),
            out_spare: Vec::new(),
            next_ticket: 0,
            next_write: 0,
            encoded: BTreeMap::new(),
            helping: false,
            seal_wanted: false,
        }
    }

    /// Fails if the log no longer takes appends.
    pub fn check(&mut self) -> Result<(), CommitLogError> {
        self.failed()?;
        if self.closed {
            return Err(CommitLogError::Closed);
        }
        Ok(())
    }

    /// The failure, if the log is poisoned: the original error for the first caller to see
    /// it, `Poisoned` naming it for everyone after.
    pub fn failed(&mut self) -> Result<(), CommitLogError> {
        match (&self.poisoned, self.failure.take()) {
            (_, Some(e)) => Err(e),
            (Some(cause), None) => Err(CommitLogError::Poisoned {
                cause: cause.clone(),
            }),
            (None, None) => Ok(()),
        }
    }

    /// Records `e` as the failure that poisons the log (the first one wins).
    pub fn poison(&mut self, e: CommitLogError) {
        if self.poisoned.is_none() {
            self.poisoned = Some(e.to_string());
            self.failure = Some(e);
        }
    }

    /// Whether nothing waits for I/O.
    pub fn is_idle(&self) -> bool {
        self.runs.is_empty() && self.encoded.is_empty()
    }

    /// [`take`](Self::take) with a ticket (the next one) and output buffers for encoding.
    pub fn take_ticketed(&mut self, all: bool, chunk: usize) -> (Vec<Run>, u64, Vec<Vec<u8>>) {
        let (runs, upto) = self.take(all, chunk);
        self.next_ticket += 1;
        let n = runs.len().min(self.out_spare.len());
        let bufs = self.out_spare.split_off(self.out_spare.len() - n);
        (runs, upto, bufs)
    }

    /// Keeps emptied encoding buffers for reuse (a few, of at most 4 MiB each).
    pub fn recycle_out(&mut self, buffers: impl IntoIterator<Item = Vec<u8>>) {
        for bytes in buffers {
            if self.out_spare.len() < MAX_SPARE && bytes.capacity() <= 4 << 20 {
                self.out_spare.push(bytes);
            }
        }
    }

    /// Where the next append goes.
    pub fn position(&self) -> Position {
        Position {
            segment: self.segment,
            offset: self.seg_len,
        }
    }

    /// Appends one framed record; returns its position and the lsn after it.
    pub fn append(&mut self, header: &[u8], data: &[u8]) -> (Position, u64) {
        let need = (header.len() + data.len()) as u64;
        if self.seg_len + need > self.segment_size {
            self.end_segment();
        }
        let pos = self.position();
        let segment = self.segment;
        let open = matches!(self.runs.back(), Some(r) if r.segment == segment && r.seal.is_none());
        if !open {
            let bytes = self.spare.pop().unwrap_or_default();
            self.runs.push_back(Run {
                segment,
                bytes,
                seal: None,
            });
        }
        if let Some(run) = self.runs.back_mut() {
            run.bytes.extend_from_slice(header);
            run.bytes.extend_from_slice(data);
        }
        self.seg_len += need;
        self.seg_records += 1;
        self.lsn += need;
        self.pending += need as usize;
        (pos, self.lsn)
    }

    /// Seals the current segment if it holds records and moves appends to the next one;
    /// returns the sealed segment's id.
    pub fn end_segment(&mut self) -> Option<u64> {
        if self.seg_len == 0 {
            return None;
        }
        let sealed = self.segment;
        self.seal_segment();
        self.segment += 1;
        Some(sealed)
    }

    /// Marks the current segment complete; later appends go to a new one.
    pub fn seal_segment(&mut self) {
        let records = self.seg_records;
        match self.runs.back_mut() {
            Some(r) if r.segment == self.segment && r.seal.is_none() => r.seal = Some(records),
            _ => self.runs.push_back(Run {
                segment: self.segment,
                bytes: Vec::new(),
                seal: Some(records),
            }),
        }
        self.seg_len = 0;
        self.seg_records = 0;
    }

    /// Hands runs to I/O: all of them (for a sync), or only whole chunks (a write-behind,
    /// which leaves the last partial chunk to grow). Returns them and the lsn they reach
    /// when all were taken.
    pub fn take(&mut self, all: bool, chunk: usize) -> (Vec<Run>, u64) {
        let mut out: Vec<Run> = Vec::with_capacity(self.runs.len());
        if all {
            out.extend(self.runs.drain(..));
            self.pending = 0;
            return (out, self.lsn);
        }
        while self.runs.len() > 1 {
            if let Some(r) = self.runs.pop_front() {
                self.pending -= r.bytes.len();
                out.push(r);
            }
        }
        if let Some(last) = self.runs.back_mut() {
            let whole = last.bytes.len() / chunk.max(1) * chunk.max(1);
            if last.seal.is_some() || whole == last.bytes.len() {
                if let Some(r) = self.runs.pop_back() {
                    self.pending -= r.bytes.len();
                    out.push(r);
                }
            } else if whole > 0 {
                // The partial chunk moves to a spare buffer (less than a chunk to copy) and
                // the full buffer goes to I/O, so that appends rarely grow a buffer.
                let mut rest = self.spare.pop().unwrap_or_default();
                rest.clear();
                rest.extend_from_slice(last.bytes.get(whole..).unwrap_or_default());
                last.bytes.truncate(whole);
                let head = std::mem::replace(&mut last.bytes, rest);
                self.pending -= head.len();
                out.push(Run {
                    segment: last.segment,
                    bytes: head,
                    seal: None,
                });
            }
        }
        (out, self.lsn)
    }

    /// Keeps emptied run buffers for reuse (a few, of at most 4 MiB each).
    pub fn recycle(&mut self, buffers: impl IntoIterator<Item = Vec<u8>>) {
        for mut bytes in buffers {
            if self.spare.len() < MAX_SPARE && bytes.capacity() <= 4 << 20 {
                bytes.clear();
                self.spare.push(bytes);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rolls_segments_and_takes_whole_chunks() {
        let mut s = State::new(10, 100);
        let (p, end) = s.append(&[0; 8], &[1; 40]);
        assert_eq!((p.segment, p.offset, end), (10, 0, 48));
        let (p, _) = s.append(&[0; 8], &[1; 40]);
        assert_eq!((p.segment, p.offset), (10, 48));
        let (p, end) = s.append(&[0; 8], &[1; 40]);
        assert_eq!((p.segment, p.offset, end), (11, 0, 144));
        // Write-behind with 32-byte chunks: all of segment 10 (sealed), 32 bytes of 11.
        let (runs, _) = s.take(false, 32);
        assert_eq!(runs.len(), 2);
        assert_eq!(
            (runs[0].segment, runs[0].bytes.len(), runs[0].seal),
            (10, 96, Some(2))
        );
        assert_eq!(
            (runs[1].segment, runs[1].bytes.len(), runs[1].seal),
            (11, 32, None)
        );
        assert_eq!(s.pending, 16);
        let (runs, lsn) = s.take(true, 32);
        assert_eq!((runs.len(), runs[0].bytes.len(), lsn), (1, 16, 144));
        assert_eq!(s.pending, 0);
    }

    #[test]
    fn a_record_larger_than_the_rest_of_an_empty_segment_still_goes_in() {
        let mut s = State::new(1, 10);
        let (p, _) = s.append(&[0; 8], &[1; 30]);
        assert_eq!((p.segment, p.offset), (1, 0));
        s.seal_segment();
        let (runs, _) = s.take(true, 8);
        assert_eq!(runs[0].seal, Some(1));
    }
}
