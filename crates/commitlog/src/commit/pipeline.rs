//! The writer thread: takes runs off the queue, encodes and writes them in order, fsyncs as
//! the sync mode says, and publishes how far the log is durable.
//!
//! It wakes when a whole chunk is queued (or more), when an append has encoded a batch
//! ahead, when someone waits for durability (`sync_wanted` beyond `durable`: a batch/group
//! append or `sync()`), when the periodic sync is due, and when the log closes. Each round
//! writes the batch next in ticket order: one an append encoded, or runs it takes itself
//! under the state lock (whole chunks only, unless it syncs) and encodes with no lock held;
//! the I/O holds only the `io` lock, so that appends keep filling the next chunks meanwhile. An error poisons the log and ends the
//! thread; whatever waits is woken and told.

use std::sync::PoisonError;
use std::time::{Duration, Instant};

use super::state::{Batch, Run};
use super::{Shared, lock};
use crate::{CommitLogError, SyncMode};

/// Sets `writer_gone` when the thread ends however it ends, and poisons the log if it ends
/// while the log is open (so that no append waits forever on a thread that is not there).
struct Exit<'a>(&'a Shared);

impl Drop for Exit<'_> {
    fn drop(&mut self) {
        let mut st = lock(&self.0.state);
        st.writer_gone = true;
        if !st.closed && st.poisoned.is_none() {
            st.poison(CommitLogError::Config {
                reason: format!(
                    "the commit log writer thread of {} stopped",
                    self.0.dir.display()
                ),
            });
        }
        self.0.done.notify_all();
    }
}

/// What a writer round does.
enum Job {
    /// Write a batch an append encoded.
    Write(Batch),
    /// Encode and write runs taken from the queue (all of them, and fsync, if `sync`).
    Encode(Vec<Run>, u64, Vec<Vec<u8>>, bool),
}

impl Shared {
    /// The writer thread's loop. Returns when the log closes or is poisoned.
    pub(super) fn run_writer(&self) {
        let _exit = Exit(self);
        let period = match self.sync {
            SyncMode::Periodic(p) => Some(p),
            SyncMode::Batch | SyncMode::Group(_) => None,
        };
        let window = match self.sync {
            SyncMode::Group(w) if !w.is_zero() => Some(w),
            _ => None,
        };
        let chunk = self.codec.chunk_length();
        let mut next_sync = period.map(|p| Instant::now() + p);
        loop {
            let job = {
                let mut st = lock(&self.state);
                let job = loop {
                    if st.poisoned.is_some() {
                        return;
                    }
                    // A batch an append encoded ahead is next: write it.
                    let next = st.next_write;
                    if let Some(batch) = st.encoded.remove(&next) {
                        break Job::Write(batch);
                    }
                    // An append is encoding the next batch: wait for it (batches are
                    // written in the order they were taken).
                    if st.next_write < st.next_ticket {
                        st.writer_idle = true;
                        st = self.work.wait(st).unwrap_or_else(PoisonError::into_inner);
                        st.writer_idle = false;
                        continue;
                    }
                    let due = next_sync.is_some_and(|t| Instant::now() >= t);
                    if due && st.durable == st.lsn {
                        // Nothing to make durable this period.
                        next_sync = period.map(|p| Instant::now() + p);
                    }
                    let sync = st.sync_wanted > st.durable
                        || (due && st.durable < st.lsn)
                        || st.seal_wanted;
                    if sync || st.pending >= chunk {
                        if sync && let Some(w) = window {
                            // Group mode: let more appends join this fsync.
                            drop(st);
                            std::thread::sleep(w);
                            st = lock(&self.state);
                            if st.next_write < st.next_ticket {
                                continue;
                            }
                        }
                        st.seal_wanted = false;
                        let (runs, upto, bufs) = st.take_ticketed(sync, chunk);
                        break Job::Encode(runs, upto, bufs, sync);
                    }
                    if st.closed {
                        // `close` writes, seals and syncs what is left on its own thread.
                        return;
                    }
                    st.writer_idle = true;
                    st = match next_sync {
                        Some(t) => {
                            let left = t.saturating_duration_since(Instant::now());
                            self.work
                                .wait_timeout(st, left.max(Duration::from_millis(1)))
                                .unwrap_or_else(PoisonError::into_inner)
                                .0
                        }
                        None => self.work.wait(st).unwrap_or_else(PoisonError::into_inner),
                    };
                    st.writer_idle = false;
                };
                // Queue space was freed: appends held back by the bound may go on.
                if st.waiters > 0 {
                    self.done.notify_all();
                }
                job
            };
            let (batch, upto, sync) = match job {
                Job::Write(batch) => (Ok(batch), 0, false),
                // Encoded with no lock held: appends go on meanwhile.
                Job::Encode(runs, upto, bufs, sync) => (self.encode_runs(runs, bufs), upto, sync),
            };
            let mut io = lock(&self.io);
            if self.write_and_publish(&mut io, batch, upto, sync).is_err() {
                return;
            }
            if sync {
                next_sync = period.map(|p| Instant::now() + p);
            }
        }
    }
}
