//! The commit log: appends framed records to the active segment's buffer, cuts them into
//! chunks on sync or when a chunk fills, and makes them durable as the sync mode says.
//!
//! Two locks: `state` (short: appends copy their record into the pending runs) and `io` (the
//! active segment file; held while chunks are encoded, written and fsynced). A writer that
//! must wait for durability takes `io` itself and syncs everything pending: writers that
//! queued behind it find their records already covered when they get the lock, so one
//! fsync serves them all (group commit). Any I/O failure poisons the log.

mod recover;
mod segments;
mod state;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, TryLockError};
use std::thread::JoinHandle;
use std::time::Duration;

use crypta_keys::{KeyProvider, Timestamp};

use crate::{
    CommitLogConfig, CommitLogError, FileHeader, LogCodec, LogKind, LogStorage, LogWriter,
    SealInfo, SyncMode, create_log_dir, record_header, remove_log_file,
};
pub(crate) use recover::check_id as check_segment_id;
pub(crate) use segments::{list_segments, segment_file_name};
use state::{Run, State};

/// Where a record is: its segment and its offset in that segment's record stream.
/// Positions order as the records were appended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    /// The segment id (in the file name `CommitLog-1-<id>.log`).
    pub segment: u64,
    /// Offset of the record in the segment's stream (its chunks' plaintext, concatenated).
    pub offset: u64,
}

/// Pending bytes beyond which a periodic-mode append waits for the I/O lock to write some.
const BACKPRESSURE: usize = 16 << 20;

/// An open commit log.
#[derive(Debug)]
pub struct CommitLog {
    shared: Arc<Shared>,
    syncer: Option<JoinHandle<()>>,
}

#[derive(Debug)]
struct Shared {
    dir: PathBuf,
    sync: SyncMode,
    storage: Arc<dyn LogStorage>,
    codec: Arc<LogCodec>,
    max_record: usize,
    state: Mutex<State>,
    cond: Condvar,
    io: Mutex<Io>,
}

#[derive(Debug)]
struct Io {
    active: Option<Active>,
    /// Complete segments on disk, by id.
    sealed: BTreeMap<u64, PathBuf>,
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
            state: Mutex::new(State::new(first, config.segment_size)),
            cond: Condvar::new(),
            io: Mutex::new(Io {
                active: Some(Active {
                    id: first,
                    writer,
                    times: None,
                }),
                sealed: existing.into_iter().collect(),
            }),
            codec,
        });
        let syncer = match config.sync {
            SyncMode::Periodic(period) => {
                let s = shared.clone();
                Some(
                    std::thread::Builder::new()
                        .name("crypta-commitlog-sync".into())
                        .spawn(move || s.run_syncer(period))
                        .map_err(CommitLogError::io(
                            &shared.dir,
                            "starting the sync thread for",
                        ))?,
                )
            }
            SyncMode::Batch | SyncMode::Group(_) => None,
        };
        Ok(CommitLog { shared, syncer })
    }

    /// Appends `record`. In periodic mode it returns at once; in batch and group mode only
    /// once the record is durable. Fails if the log is poisoned or closed, or the record is
    /// larger than half a segment.
    pub fn append(&self, record: &[u8]) -> Result<Position, CommitLogError> {
        let sh = &self.shared;
        if record.len() > sh.max_record {
            return Err(CommitLogError::RecordTooLarge {
                len: record.len(),
                max: sh.max_record,
            });
        }
        let header = record_header(record);
        let (pos, end, pending) = {
            let mut st = lock(&sh.state);
            st.check()?;
            let (pos, end) = st.append(&header, record);
            (pos, end, st.pending)
        };
        if sh.sync.acknowledges_after_sync() {
            sh.wait_durable(end)?;
        } else if pending >= sh.codec.chunk_length() {
            sh.write_behind(pending >= BACKPRESSURE)?;
        }
        Ok(pos)
    }

    /// Makes every record appended so far durable (whatever the sync mode).
    pub fn sync(&self) -> Result<(), CommitLogError> {
        let end = {
            let st = lock(&self.shared.state);
            st.check()?;
            st.lsn
        };
        self.shared.wait_durable(end)
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
            std::mem::replace(&mut io.sealed, keep)
                .into_values()
                .collect()
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

    /// Syncs what is pending, seals the active segment and stops the sync thread. A log that
    /// is dropped without `close` does the same and logs any error.
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
            self.shared.cond.notify_all();
        }
        if let Some(h) = self.syncer.take()
            && h.join().is_err()
        {
            log::error!("the commit log sync thread panicked");
        }
        let mut io = lock(&self.shared.io);
        {
            let mut st = lock(&self.shared.state);
            if let Some(cause) = &st.poisoned {
                return Err(CommitLogError::Poisoned {
                    cause: cause.clone(),
                });
            }
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
    /// Waits until everything up to `end` is durable, syncing itself when no one else is.
    fn wait_durable(&self, end: u64) -> Result<(), CommitLogError> {
        let covered = |st: &State| -> Result<bool, CommitLogError> {
            if st.durable >= end {
                return Ok(true);
            }
            if let Some(cause) = &st.poisoned {
                return Err(CommitLogError::Poisoned {
                    cause: cause.clone(),
                });
            }
            Ok(false)
        };
        loop {
            if covered(&lock(&self.state))? {
                return Ok(());
            }
            let mut io = lock(&self.io);
            if covered(&lock(&self.state))? {
                return Ok(());
            }
            if let SyncMode::Group(window) = self.sync
                && !window.is_zero()
            {
                std::thread::sleep(window);
            }
            self.flush(&mut io, true)?;
        }
    }

    /// Writes the whole chunks pending (periodic mode, when a chunk has filled). Skips if
    /// another thread is doing I/O, unless `must` (too much is pending).
    fn write_behind(&self, must: bool) -> Result<(), CommitLogError> {
        let mut io = match self.io.try_lock() {
            Ok(io) => io,
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
            Err(TryLockError::WouldBlock) if must => lock(&self.io),
            Err(TryLockError::WouldBlock) => return Ok(()),
        };
        self.flush(&mut io, false)
    }

    /// Takes pending runs (all if `sync`, else whole chunks), writes them and, if `sync`,
    /// fsyncs. The caller holds `io`.
    fn flush(&self, io: &mut Io, sync: bool) -> Result<(), CommitLogError> {
        let (runs, upto) = {
            let mut st = lock(&self.state);
            if let Some(cause) = &st.poisoned {
                return Err(CommitLogError::Poisoned {
                    cause: cause.clone(),
                });
            }
            if sync && st.durable == st.lsn && st.is_idle() {
                return Ok(());
            }
            st.take(sync, self.codec.chunk_length())
        };
        let mut spare = Vec::new();
        let result = self.write_runs(io, runs, sync, &mut spare);
        let mut st = lock(&self.state);
        st.recycle(spare);
        match result {
            Ok(()) => {
                if sync {
                    st.durable = st.durable.max(upto);
                }
                self.cond.notify_all();
                Ok(())
            }
            Err(e) => {
                log::error!("commit log in {} is poisoned: {e}", self.dir.display());
                st.poisoned.get_or_insert_with(|| e.to_string());
                self.cond.notify_all();
                Err(e)
            }
        }
    }

    fn write_runs(
        &self,
        io: &mut Io,
        runs: Vec<Run>,
        sync: bool,
        spare: &mut Vec<u8>,
    ) -> Result<(), CommitLogError> {
        for run in runs {
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
            if !run.bytes.is_empty() {
                active.writer.write(&run.bytes)?;
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
            *spare = run.bytes;
        }
        if sync && let Some(a) = &mut io.active {
            a.writer.sync()?;
        }
        Ok(())
    }

    fn run_syncer(&self, period: Duration) {
        loop {
            {
                let st = lock(&self.state);
                let (st, _) = self
                    .cond
                    .wait_timeout_while(st, period, |s| !s.closed)
                    .unwrap_or_else(PoisonError::into_inner);
                if st.closed || st.poisoned.is_some() {
                    return;
                }
            }
            let mut io = lock(&self.io);
            if let Err(e) = self.flush(&mut io, true) {
                log::error!("periodic commit log sync failed: {e}");
                return;
            }
        }
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
