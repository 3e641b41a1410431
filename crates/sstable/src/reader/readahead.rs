//! Read-ahead for long scans of compressed and GCM tables: a thread that checks, decrypts and
//! inflates the next chunks while the scan parses the current one.
//!
//! A scan decodes every chunk it passes; on its own thread that work and the parsing of
//! entries add up. In a table whose chunks are compressed (Deflate or LZ4, encrypted or not)
//! or sealed with GCM, a scan that enters its third chunk is taken to be long and, if a
//! read-ahead slot is free, gets a thread that decodes the chunks in order from there into a
//! queue of [`QUEUED`], so memory stays bounded by a few chunks whatever the range. Tables of
//! plaintext, ECB or CBC chunks do not read ahead: the scan reading a chunk that another core
//! wrote costs about what moving a checksum and AES-ECB or CBC decryption off its thread saves
//! (`docs/performance.md`: plaintext scans 7–10 % slower with read-ahead, ECB within ±5 %;
//! GCM 1–38 % faster, Deflate 30–38 %).
//!
//! - At most one read-ahead thread per core runs in the process ([`slots`]); a scan that finds
//!   none free decodes on its own thread, as short scans always do.
//! - The thread reads a chunk as the scan would have: whole, or in a table whose lookups
//!   cache segments, segment by segment from the cache where it holds them (not filling it).
//!   It stops at the first error and hands over what decoded before it with the error, so a
//!   scan returns the same entries and fails at the same entry with the same error with or
//!   without read-ahead.
//! - Dropping the read-ahead (the scan ends, fails or is dropped) disconnects the queue and
//!   joins the thread, which stops after the chunk it is decoding: no thread outlives a scan,
//!   and none holds the table open after it.
#![deny(clippy::indexing_slicing)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use super::Inner;
use crate::SstableError;
use crate::cache::Chunk;

/// Decoded chunks waiting for the scan, besides the one the thread is decoding.
const QUEUED: usize = 2;

/// The chunks a scan reads on its own thread before it asks for read-ahead.
pub(crate) const START_AFTER: u32 = 2;

/// Read-ahead threads running now.
static RUNNING: AtomicUsize = AtomicUsize::new(0);

/// How many read-ahead threads may run at once: one per core.
fn slots() -> usize {
    static SLOTS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *SLOTS.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// A running slot, released when dropped (by the thread, at its end).
struct Slot;

impl Slot {
    fn take() -> Option<Slot> {
        RUNNING
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < slots()).then_some(n + 1)
            })
            .ok()
            .map(|_| Slot)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        RUNNING.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A decoded chunk, or as much of it as decoded before an error.
pub(crate) struct Ahead {
    pub(crate) chunk: Chunk,
    pub(crate) error: Option<SstableError>,
}

pub(crate) struct ReadAhead {
    queue: Option<Receiver<Ahead>>,
    /// Chunks the scan is done with, for the thread to decode into again.
    spent: SyncSender<Chunk>,
    /// The chunk the queue hands over next.
    next: u64,
    thread: Option<JoinHandle<()>>,
}

impl ReadAhead {
    /// A thread decoding chunks `from..` of `table`, or `None` when every slot is taken or
    /// the thread cannot be started.
    pub(crate) fn start(table: Arc<Inner>, from: u64) -> Option<ReadAhead> {
        let slot = Slot::take()?;
        let count = table.chunks();
        let (tx, rx) = sync_channel(QUEUED);
        let (spent, spent_rx) = sync_channel::<Chunk>(QUEUED + 2);
        let thread = std::thread::Builder::new()
            .name("crypta-readahead".into())
            .spawn(move || {
                let _slot = slot;
                for i in from..count {
                    let reuse = spent_rx.try_recv().ok();
                    let ahead = decode(&table, i, reuse);
                    let failed = ahead.error.is_some();
                    if tx.send(ahead).is_err() || failed {
                        break;
                    }
                }
            })
            .ok()?;
        Some(ReadAhead {
            queue: Some(rx),
            spent,
            next: from,
            thread: Some(thread),
        })
    }

    /// Chunk `i` if the thread will hand it over (it is the next one or further on: the
    /// chunks in between are dropped unread, as a scan without read-ahead skips them), waiting
    /// for it; `None` if not (an earlier chunk, or the thread ended before it).
    pub(crate) fn take(&mut self, i: u64) -> Option<Ahead> {
        let queue = self.queue.as_ref()?;
        while self.next <= i {
            let ahead = queue.recv().ok()?;
            self.next += 1;
            if self.next > i {
                return Some(ahead);
            }
        }
        None
    }

    /// Hands back a chunk the scan is done with, for its buffer to be decoded into again
    /// (dropped if the thread has enough of them).
    pub(crate) fn recycle(&self, chunk: Chunk) {
        let _ = self.spent.try_send(chunk);
    }
}

/// Chunk `i` as a scan on its own thread would read it: whole, or segment by segment from
/// the cache where it holds them (without filling it) in a table whose lookups cache segments,
/// stopping at the first segment that fails.
/// `reuse` is a chunk the scan is done with.
fn decode(table: &Inner, i: u64, reuse: Option<Chunk>) -> Ahead {
    let Some(seg_len) = table.segment_reads() else {
        return match table.chunk(i, false, reuse) {
            Ok(chunk) => Ahead { chunk, error: None },
            Err(e) => Ahead {
                chunk: Chunk::default(),
                error: Some(e),
            },
        };
    };
    let len = usize::try_from(table.chunk_plaintext_len(i)).unwrap_or(0);
    let mut buf = reuse
        .and_then(|r| Arc::try_unwrap(r).ok())
        .unwrap_or_default();
    buf.clear();
    buf.reserve(len);
    let mut checked = None;
    let mut error = None;
    for s in 0..len.div_ceil(seg_len.max(1)) {
        match table.segment(i, s, seg_len, &mut checked, false) {
            Ok(seg) => buf.extend_from_slice(&seg),
            Err(e) => {
                error = Some(e);
                break;
            }
        }
    }
    Ahead {
        chunk: Arc::new(buf),
        error,
    }
}

impl Drop for ReadAhead {
    fn drop(&mut self) {
        // Disconnect first: a thread blocked on a full queue then fails its send and ends.
        drop(self.queue.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
