//! The commit log: appends frame records into the queue of pending runs (the current chunk
//! and those behind it); a writer thread encodes, writes and fsyncs them in order.
//!
//! Pipeline. An append takes the short `state` lock, waits while the queue holds
//! [`QUEUE_CHUNKS`] chunks or more (backpressure: memory stays bounded), copies its framed
//! record in and returns (periodic), or asks for durability and sleeps until the writer's
//! fsync covers its record (batch and group: the ack comes only after the fsync, which comes
//! after the record's chunk is encoded and written). The writer thread (`pipeline`) takes
//! whole chunks (or everything, when someone waits for a sync or the period is due), encodes
//! them holding only the `io` lock, writes them in one call per run, fsyncs if asked, and
//! publishes the new durable position: appends that arrived during an fsync share the next
//! one (group commit). Any write or fsync failure poisons the log: the first caller to see it
//! gets the error itself (naming the segment), every later append, sync and close fails with
//! `Poisoned`. `close` (or drop) stops the thread, then writes, seals and syncs the rest.
//!
//! Encoding ahead. An append that finds the queue full would only wait; instead it takes
//! the whole chunks queued and encodes them itself (one such batch at a time), and the
//! writer thread just writes that batch when its turn comes. Every take gets a ticket and
//! batches are written in ticket order, so the file order is the append order whoever
//! encodes. This spreads the cipher work over both threads when the writer is the
//! bottleneck (periodic mode with encryption).

mod pipeline;
mod recover;
mod segments;
mod state;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

use crypta_keys::{KeyProvider, Timestamp};

use crate::file::encode_stream;
use crate::{
    CommitLogConfig, CommitLogError, FileHeader, LogCodec, LogKind, LogStorage, LogWriter,
    SealInfo, SyncMode, create_log_dir, record_header, remove_log_file,
};
pub(crate) use recover::check_id as check_segment_id;
pub use segments::segment_paths;
pub(crate) use segments::{list_segments, segment_file_name};
use state::{Encoded, Run, State};

/// Where a record is: its segment and its offset in that segment's record stream.
/// Positions order as the records were appended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    /// The segment id (in the file name `CommitLog-1-<id>.log`).
    pub segment: u64,
    /// Offset of the record in the segment's stream (its chunks' plaintext, concatenated).
    pub offset: u64,
}

/// Chunks the queue may hold before appends wait for the writer thread (16 chunks: 1 MiB
/// with the default 64 KiB chunks). The writer takes them all at once.
pub(crate) const QUEUE_CHUNKS: usize = 16;

/// An open commit log.
#[derive(Debug)]
pub struct CommitLog {
    shared: Arc<Shared>,
    writer: Option<JoinHandle<()>>,
}

#[derive(Debug)]
struct Shared {
    dir: PathBuf,
    sync: SyncMode,
    storage: Arc<dyn LogStorage>,
    codec: Arc<LogCodec>,
    max_record: usize,
    /// Queued bytes at which appends wait.
    queue_bound: usize,
    state: Mutex<State>,
    /// The writer thread sleeps here for work.
    work: Condvar,
    /// Appends and syncs sleep here for durability or queue space.
    done: Condvar,
    io: Mutex<Io>,
}

#[derive(Debug)]
struct Io {
    active: Option<Active>,
    /// Complete segments on disk, by id.
    sealed: BTreeMap<u64, PathBuf>,
    /// The newest segment discarded so far (segments are sealed in id order, so every one
    /// up to it was sealed).
    discarded_through: Option<u64>,
}

#[derive(Debug)]
struct Active {
    id: u64,
    writer: LogWriter,
    times: Option<(u64, u64)>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing panics while holding these locks (no unwraps, no callbacks), and a poisoned
    // `state` still says truthfully what was appended; failures are tracked in `poisoned`.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl CommitLog {
    /// Opens the commit log in `dir` (created mode 0700 if missing). The newest existing
    /// segment, if a crash left it unsealed, is recovered first: its torn tail is cut off
    /// (with a warning) and it is sealed, so that replay finds every older segment complete.
    /// Then a new segment is created for appends. Existing segments are left for
    /// [`replay`](crate::replay) and [`CommitLog::discard_up_to`].
    ///
    /// `keys` is required when `config.compression` encrypts, and to recover an encrypted
    /// segment.
    pub fn open(
        dir: impl Into<PathBuf>,
        config: CommitLogConfig,
        keys: Option<Arc<dyn KeyProvider>>,
    ) -> Result<CommitLog, CommitLogError> {
        config.validate()?;
        let dir = dir.into();
        create_log_dir(&dir)?;
        let codec = Arc::new(LogCodec::new(&config.compression, keys)?);
        let mut existing = list_segments(&dir)?;
        recover::recover_newest(&mut existing, config.storage.as_ref(), &codec)?;
        let first = segments::first_new_id(&existing);
        let writer = create_segment(&dir, first, config.storage.as_ref(), &codec)?;
        let shared = Arc::new(Shared {
            dir,
            sync: config.sync,
            storage: config.storage.clone(),
            max_record: config.max_record_len(),
            queue_bound: codec.chunk_length().saturating_mul(QUEUE_CHUNKS),
            state: Mutex::new(State::new(first, config.segment_size)),
            work: Condvar::new(),
            done: Condvar::new(),
            io: Mutex::new(Io {
                active: Some(Active {
                    id: first,
                    writer,
                    times: None,
                }),
                sealed: existing.into_iter().collect(),
                discarded_through: None,
            }),
            codec,
        });
        let s = shared.clone();
        let writer = std::thread::Builder::new()
            .name("crypta-commitlog-writer".into())
            .spawn(move || s.run_writer())
            .map_err(CommitLogError::io(
                &shared.dir,
                "starting the writer thread for",
            ))?;
        Ok(CommitLog {
            shared,
            writer: Some(writer),
        })
    }

    /// Appends `record`. In periodic mode it returns once the record is queued (waiting
    /// first if the queue is full); in batch and group mode only once the fsync covering it
    /// is done. Fails if the log is poisoned or closed, or the record is larger than half a
    /// segment.
    pub fn append(&self, record: &[u8]) -> Result<Position, CommitLogError> {
        let sh = &self.shared;
        if record.len() > sh.max_record {
            return Err(CommitLogError::RecordTooLarge {
                len: record.len(),
                max: sh.max_record,
            });
        }
        let header = record_header(record);
        let (pos, end) = {
            let mut st = lock(&sh.state);
            st.check()?;
            if st.pending >= sh.queue_bound {
                st.waiters += 1;
                while st.pending >= sh.queue_bound && st.poisoned.is_none() && !st.writer_gone {
                    let helped;
                    (st, helped) = sh.help_encode(st);
                    if !helped {
                        sh.wake_writer(&mut st);
                        st = sh.done.wait(st).unwrap_or_else(PoisonError::into_inner);
                    }
                }
                st.waiters -= 1;
                st.check()?;
                if st.writer_gone {
                    return Err(CommitLogError::Closed);
                }
            }
            let (pos, end) = st.append(&header, record);
            if st.pending >= sh.codec.chunk_length() {
                sh.wake_writer(&mut st);
            }
            (pos, end)
        };
        if sh.sync.acknowledges_after_sync() {
            sh.wait_durable(end)?;
        }
        Ok(pos)
    }

    /// Makes every record appended so far durable (whatever the sync mode).
    pub fn sync(&self) -> Result<(), CommitLogError> {
        let end = {
            let mut st = lock(&self.shared.state);
            st.check()?;
            st.lsn
        };
        self.shared.wait_durable(end)
    }

    /// Ends the active segment if it holds records: the writer thread writes out what is
    /// queued, seals the segment and syncs, and the next append starts a new segment. Once
    /// the engine has flushed everything before [`CommitLog::current_position`],
    /// [`CommitLog::discard_up_to`] with that position then deletes it too (an engine's clean
    /// close does, so that no segment outlives the rows it held).
    pub fn seal_active(&self) -> Result<(), CommitLogError> {
        let sh = &self.shared;
        let sealed = {
            let mut st = lock(&sh.state);
            st.check()?;
            let Some(sealed) = st.end_segment() else {
                return Ok(());
            };
            st.seal_wanted = true;
            sh.wake_writer(&mut st);
            sealed
        };
        // The writer thread moves the segment to the sealed set once its seal is written
        // (where a `discard_up_to` meanwhile may already have deleted it).
        loop {
            {
                let io = lock(&sh.io);
                if io.sealed.contains_key(&sealed)
                    || io.discarded_through.is_some_and(|d| d >= sealed)
                {
                    return Ok(());
                }
            }
            let mut st = lock(&sh.state);
            st.failed()?;
            if st.writer_gone {
                return Err(CommitLogError::Closed);
            }
            let _ = sh
                .done
                .wait_timeout(st, std::time::Duration::from_millis(1))
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Where the next record will go. Once the engine has flushed everything appended
    /// before this position, [`CommitLog::discard_up_to`] with it frees the segments.
    pub fn current_position(&self) -> Position {
        lock(&self.shared.state).position()
    }

    /// Deletes every complete segment whose records all come before `position` (those with
    /// a lower segment id): the engine has flushed their data. The active segment is never
    /// deleted. Returns the files removed.
    pub fn discard_up_to(&self, position: Position) -> Result<Vec<PathBuf>, CommitLogError> {
        let doomed: Vec<PathBuf> = {
            let mut io = lock(&self.shared.io);
            let keep = io.sealed.split_off(&position.segment);
            let doomed = std::mem::replace(&mut io.sealed, keep);
            if let Some((&newest, _)) = doomed.last_key_value() {
                io.discarded_through = Some(newest);
            }
            doomed.into_values().collect()
        };
        for path in &doomed {
            remove_log_file(path)?;
        }
        if !doomed.is_empty() {
            let dir = &self.shared.dir;
            self.shared
                .storage
                .sync_dir(dir)
                .map_err(CommitLogError::io(dir, "syncing the directory"))?;
        }
        Ok(doomed)
    }

    /// The segment files on disk, oldest first (complete ones and the active one).
    pub fn segments(&self) -> Vec<PathBuf> {
        let io = lock(&self.shared.io);
        let mut v: Vec<PathBuf> = io.sealed.values().cloned().collect();
        v.extend(io.active.as_ref().map(|a| a.writer.path().to_path_buf()));
        v
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }

    /// Stops the writer thread, then writes what is pending, seals the active segment and
    /// syncs it. A log that is dropped without `close` does the same and logs any error.
    pub fn close(mut self) -> Result<(), CommitLogError> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<(), CommitLogError> {
        {
            let mut st = lock(&self.shared.state);
            if st.closed {
                return Ok(());
            }
            st.closed = true;
            st.writer_idle = false;
            self.shared.work.notify_all();
        }
        if let Some(h) = self.writer.take()
            && h.join().is_err()
        {
            log::error!("the commit log writer thread panicked");
        }
        let mut io = lock(&self.shared.io);
        {
            let mut st = lock(&self.shared.state);
            st.failed()?;
            st.seal_segment();
        }
        self.shared.flush(&mut io, true)
    }
}

impl Drop for CommitLog {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown() {
            log::error!(
                "closing the commit log in {}: {e}",
                self.shared.dir.display()
            );
        }
    }
}

impl Shared {
    /// Waits until everything up to `end` is durable: asks the writer thread for it and
    /// sleeps until its fsync covers `end` or the log is poisoned.
    fn wait_durable(&self, end: u64) -> Result<(), CommitLogError> {
        let mut st = lock(&self.state);
        if st.durable >= end {
            return Ok(());
        }
        st.failed()?;
        if st.sync_wanted < end {
            st.sync_wanted = end;
            self.wake_writer(&mut st);
        }
        st.waiters += 1;
        let result = loop {
            if st.durable >= end {
                break Ok(());
            }
            if let Err(e) = st.failed() {
                break Err(e);
            }
            if st.writer_gone {
                break Err(CommitLogError::Closed);
            }
            st = self.done.wait(st).unwrap_or_else(PoisonError::into_inner);
        };
        st.waiters -= 1;
        result
    }

    /// Wakes the writer thread if it sleeps.
    fn wake_writer(&self, st: &mut State) {
        if st.writer_idle {
            st.writer_idle = false;
            self.work.notify_one();
        }
    }

    /// Writes everything queued (and fsyncs if `sync`) on the caller's thread: used by
    /// close, once the writer thread has stopped. Batches appends encoded ahead go first.
    fn flush(&self, io: &mut Io, sync: bool) -> Result<(), CommitLogError> {
        loop {
            let ahead = {
                let mut st = lock(&self.state);
                st.failed()?;
                let next = st.next_write;
                st.encoded.remove(&next)
            };
            match ahead {
                Some(batch) => self.write_and_publish(io, Ok(batch), 0, false)?,
                None => break,
            }
        }
        let (runs, upto, bufs) = {
            let mut st = lock(&self.state);
            st.failed()?;
            if sync && st.durable == st.lsn && st.is_idle() {
                return Ok(());
            }
            st.take_ticketed(sync, self.codec.chunk_length())
        };
        let encoded = self.encode_runs(runs, bufs);
        self.write_and_publish(io, encoded, upto, sync)
    }

    /// Encodes runs (no lock held: appends and the writer's I/O go on meanwhile), into the
    /// output buffers `bufs` (reused, or new ones).
    fn encode_runs(
        &self,
        runs: Vec<Run>,
        mut bufs: Vec<Vec<u8>>,
    ) -> Result<(Vec<Encoded>, Vec<Vec<u8>>), CommitLogError> {
        let mut out = Vec::with_capacity(runs.len());
        let mut emptied = Vec::with_capacity(runs.len());
        for run in runs {
            let mut blocks = bufs.pop().unwrap_or_default();
            blocks.clear();
            let file = self.dir.join(segment_file_name(run.segment));
            let key_ids = if run.bytes.is_empty() {
                BTreeSet::new()
            } else {
                encode_stream(&self.codec, &file, &run.bytes, &mut blocks)?
            };
            out.push(Encoded {
                segment: run.segment,
                logical_len: run.bytes.len() as u64,
                blocks,
                key_ids,
                seal: run.seal,
            });
            emptied.push(run.bytes);
        }
        Ok((out, emptied))
    }

    /// Writes an encoded batch (and fsyncs if `sync`), then publishes the outcome: the
    /// batch's ticket is done, `durable` moves to `upto` after an fsync, or the log is
    /// poisoned. Wakes whoever waits.
    fn write_and_publish(
        &self,
        io: &mut Io,
        batch: Result<(Vec<Encoded>, Vec<Vec<u8>>), CommitLogError>,
        upto: u64,
        sync: bool,
    ) -> Result<(), CommitLogError> {
        let mut spent = Vec::new();
        let (result, emptied) = match batch {
            Ok((encoded, emptied)) => (self.write_encoded(io, encoded, sync, &mut spent), emptied),
            Err(e) => (Err(e), Vec::new()),
        };
        let mut st = lock(&self.state);
        st.recycle(emptied);
        st.recycle_out(spent);
        let out = match result {
            Ok(()) => {
                st.next_write += 1;
                if sync {
                    st.durable = st.durable.max(upto);
                }
                Ok(())
            }
            Err(e) => {
                log::error!("commit log in {} is poisoned: {e}", self.dir.display());
                let echo = e.duplicate();
                st.poison(e);
                Err(echo)
            }
        };
        if st.waiters > 0 {
            self.done.notify_all();
        }
        out
    }

    fn write_encoded(
        &self,
        io: &mut Io,
        batch: Vec<Encoded>,
        sync: bool,
        spent: &mut Vec<Vec<u8>>,
    ) -> Result<(), CommitLogError> {
        for run in batch {
            let active = match &mut io.active {
                Some(a) if a.id == run.segment => a,
                slot => {
                    if let Some(old) = slot.take() {
                        // Unreachable by construction (a segment's seal run comes before the
                        // next segment's records); refuse rather than leave it unsealed.
                        return Err(CommitLogError::Config {
                            reason: format!(
                                "segment {} was not sealed before segment {}",
                                old.id, run.segment
                            ),
                        });
                    }
                    let writer =
                        create_segment(&self.dir, run.segment, self.storage.as_ref(), &self.codec)?;
                    slot.insert(Active {
                        id: run.segment,
                        writer,
                        times: None,
                    })
                }
            };
            if run.logical_len > 0 {
                active
                    .writer
                    .write_encoded(&run.blocks, run.logical_len, run.key_ids)?;
                let now = Timestamp::now().millis();
                active.times = Some(active.times.map_or((now, now), |(lo, _)| (lo, now)));
            }
            if let Some(records) = run.seal
                && let Some(done) = io.active.take()
            {
                let path = done.writer.path().to_path_buf();
                done.writer.seal(SealInfo {
                    records,
                    time_range: done.times,
                })?;
                io.sealed.insert(done.id, path);
            }
            spent.push(run.blocks);
        }
        if sync && let Some(a) = &mut io.active {
            a.writer.sync()?;
        }
        Ok(())
    }

    /// Called by an append that found the queue full: if no one else is encoding ahead and
    /// no encoded batch waits, takes the whole chunks queued and encodes them here, so that
    /// the writer thread only has to write them (the appending thread would otherwise just
    /// wait). Returns the state lock, and whether it helped.
    fn help_encode<'a>(&'a self, mut st: MutexGuard<'a, State>) -> (MutexGuard<'a, State>, bool) {
        if st.helping || !st.encoded.is_empty() {
            return (st, false);
        }
        let ticket = st.next_ticket;
        let (runs, _, bufs) = st.take_ticketed(false, self.codec.chunk_length());
        if runs.is_empty() {
            // Nothing whole to take: the ticket was not used.
            st.next_ticket = ticket;
            st.recycle_out(bufs);
            return (st, false);
        }
        st.helping = true;
        // Queue space was freed: other appends held back by the bound may go on.
        if st.waiters > 1 {
            self.done.notify_all();
        }
        drop(st);
        let result = self.encode_runs(runs, bufs);
        let mut st = lock(&self.state);
        st.helping = false;
        match result {
            Ok(batch) => {
                st.encoded.insert(ticket, batch);
            }
            Err(e) => {
                log::error!("commit log in {} is poisoned: {e}", self.dir.display());
                st.poison(e);
                self.done.notify_all();
            }
        }
        self.wake_writer(&mut st);
        (st, true)
    }
}

fn create_segment(
    dir: &Path,
    id: u64,
    storage: &dyn LogStorage,
    codec: &Arc<LogCodec>,
) -> Result<LogWriter, CommitLogError> {
    let header = FileHeader {
        kind: LogKind::CommitLog,
        id,
        created: Timestamp::now(),
        chunk_length: u32::try_from(codec.chunk_length()).unwrap_or(u32::MAX),
        extra: Vec::new(),
    };
    LogWriter::create(
        storage,
        &dir.join(segment_file_name(id)),
        &header,
        codec.clone(),
    )
}
