//! The hints store: per-host files written like commit log segments, dispatched in order.

mod dispatch;
mod host;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crypta_commitlog::{
    CommitLogError, DecodedFile, FileHeader, LogCodec, LogKind, LogWriter, Recovery,
    create_log_dir, recover_file, remove_log_file, summarize_file,
};
use crypta_keys::{KeyProvider, Timestamp};

use crate::cursor::Cursor;
use crate::files::{self, cursor_file_name, hints_file_name};
use crate::{HintsConfig, HintsError, HostId, hint};
pub use dispatch::{Delivery, DispatchReport};
use host::{HostHints, HostState, OpenFile, SealedFile};

/// What became of a hint given to [`HintsStore::write_hint`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HintWrite {
    /// Stored (durable after the next [`HintsStore::flush`]).
    Stored,
    /// Not stored: it is already older than `max_hint_window`.
    Expired,
}

/// A host's pending hints, as `nodetool listpendinghints` shows them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingHints {
    /// The host.
    pub host: HostId,
    /// Hints not yet delivered (expired ones not yet dropped included).
    pub hints: u64,
    /// Hints files on disk.
    pub files: usize,
    /// Their total size in bytes (what is buffered included).
    pub bytes: u64,
    /// Creation time of the newest hint, if known.
    pub newest: Option<Timestamp>,
}

/// Hints for hosts that were down, kept in `dir`.
#[derive(Debug)]
pub struct HintsStore {
    dir: PathBuf,
    config: HintsConfig,
    codec: Arc<LogCodec>,
    hosts: Mutex<BTreeMap<HostId, Arc<HostHints>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // No code panics while holding these locks (callbacks run without them).
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl HintsStore {
    /// Opens the hints in `dir` (created mode 0700 if missing). For each host, a file its
    /// writer left unsealed (a crash) is recovered: its torn tail is cut off with a warning
    /// and it is sealed, keeping every whole hint before the tail. Files the delivery cursor
    /// has passed are deleted.
    ///
    /// `keys` is required when `config.compression` encrypts, and to read encrypted files.
    pub fn open(
        dir: impl Into<PathBuf>,
        config: HintsConfig,
        keys: Option<Arc<dyn KeyProvider>>,
    ) -> Result<HintsStore, HintsError> {
        config.validate()?;
        let dir = dir.into();
        create_log_dir(&dir)?;
        let codec = Arc::new(LogCodec::new(&config.compression, keys)?);
        let mut hosts = BTreeMap::new();
        for (host, found) in files::list(&dir)? {
            let state = load_host(&dir, &config, &codec, host, found)?;
            hosts.insert(
                host,
                Arc::new(HostHints {
                    state: Mutex::new(state),
                    dispatching: Mutex::new(()),
                }),
            );
        }
        Ok(HintsStore {
            dir,
            config,
            codec,
            hosts: Mutex::new(hosts),
        })
    }

    /// Stores a hint for `host`: the mutation it missed, created at `created`. A hint
    /// already past `max_hint_window` is not stored. Hints are buffered and written a chunk
    /// at a time; [`HintsStore::flush`] makes them durable.
    pub fn write_hint(
        &self,
        host: HostId,
        mutation: &[u8],
        created: Timestamp,
    ) -> Result<HintWrite, HintsError> {
        let max = self.config.max_hint_len();
        if mutation.len() > max {
            return Err(HintsError::HintTooLarge {
                len: mutation.len(),
                max,
            });
        }
        if self.config.expired(created.millis(), (self.config.clock)()) {
            return Ok(HintWrite::Expired);
        }
        let h = self.host(host);
        let mut st = lock(&h.state);
        check_poison(host, &st)?;
        let mut data = Vec::with_capacity(8 + mutation.len());
        hint::encode(created, mutation, &mut data);
        let result = self.push(host, &mut st, &data, created.millis());
        poison_on_error(host, &mut st, result)?;
        Ok(HintWrite::Stored)
    }

    fn push(
        &self,
        host: HostId,
        st: &mut HostState,
        data: &[u8],
        created: u64,
    ) -> Result<(), HintsError> {
        if st
            .open
            .as_ref()
            .is_some_and(|f| f.size() >= self.config.max_file_size)
            && let Some(full) = st.open.take()
        {
            let (id, sealed) = full.seal()?;
            st.sealed.insert(id, sealed);
        }
        let chunk = self.codec.chunk_length();
        let open = match &mut st.open {
            Some(f) => f,
            slot => {
                let id = st.next_id;
                let writer = self.create_file(host, id)?;
                st.next_id = id + 1;
                slot.insert(OpenFile {
                    id,
                    writer,
                    buf: Vec::new(),
                    records: 0,
                    times: None,
                })
            }
        };
        open.push(data, created, chunk)
    }

    fn create_file(&self, host: HostId, id: u64) -> Result<LogWriter, HintsError> {
        let header = FileHeader {
            kind: LogKind::Hints,
            id,
            created: (self.config.clock)(),
            chunk_length: u32::try_from(self.codec.chunk_length()).unwrap_or(u32::MAX),
            extra: host.0.to_vec(),
        };
        let path = self.dir.join(hints_file_name(host, id));
        Ok(LogWriter::create(
            self.config.storage.as_ref(),
            &path,
            &header,
            self.codec.clone(),
        )?)
    }

    /// Writes and fsyncs every host's buffered hints (Cassandra's `hints_flush_period_in_ms`
    /// does this periodically; the engine calls it).
    pub fn flush(&self) -> Result<(), HintsError> {
        for (host, h) in self.all_hosts() {
            let mut st = lock(&h.state);
            if st.poisoned.is_some() {
                continue;
            }
            let result = match &mut st.open {
                Some(f) => f.flush(),
                None => Ok(()),
            };
            poison_on_error(host, &mut st, result)?;
        }
        Ok(())
    }

    /// Pending hints per host (hosts with none are left out).
    pub fn pending(&self) -> Vec<PendingHints> {
        let mut out = Vec::new();
        for (host, h) in self.all_hosts() {
            let st = lock(&h.state);
            let mut p = PendingHints {
                host,
                hints: 0,
                files: 0,
                bytes: 0,
                newest: None,
            };
            for (id, f) in &st.sealed {
                p.files += 1;
                p.bytes += f.bytes;
                p.hints += f.records;
                if *id == st.cursor.file {
                    p.hints = p.hints.saturating_sub(st.cursor.done_in_file);
                }
                p.newest = p.newest.max(f.latest.map(Timestamp));
            }
            if let Some(f) = &st.open {
                p.files += 1;
                p.bytes += f.size();
                p.hints += f.records;
                p.newest = p.newest.max(f.times.map(|(_, hi)| Timestamp(hi)));
            }
            if p.hints > 0 {
                out.push(p);
            }
        }
        out
    }

    /// Deletes every complete file whose hints are all past `max_hint_window`, for every
    /// host; returns the files deleted.
    pub fn purge_expired(&self) -> Result<Vec<PathBuf>, HintsError> {
        let now = (self.config.clock)();
        let mut removed = Vec::new();
        for (_, h) in self.all_hosts() {
            let _one_dispatch = lock(&h.dispatching);
            let doomed: Vec<(u64, PathBuf)> = {
                let st = lock(&h.state);
                st.sealed
                    .iter()
                    .filter(|(_, f)| f.latest.is_some_and(|t| self.config.expired(t, now)))
                    .map(|(id, f)| (*id, f.path.clone()))
                    .collect()
            };
            for (id, path) in doomed {
                log::info!("dropping expired hints file {}", path.display());
                remove_log_file(&path)?;
                lock(&h.state).sealed.remove(&id);
                removed.push(path);
            }
        }
        if !removed.is_empty() {
            self.sync_dir()?;
        }
        Ok(removed)
    }

    /// Seals every host's current file. A store dropped without `close` does the same and
    /// logs any error.
    pub fn close(self) -> Result<(), HintsError> {
        self.seal_all()
    }

    fn seal_all(&self) -> Result<(), HintsError> {
        let mut first = Ok(());
        for (host, h) in self.all_hosts() {
            let mut st = lock(&h.state);
            if st.poisoned.is_some() {
                continue;
            }
            if let Some(f) = st.open.take() {
                let result = f.seal().map(|(id, sealed)| {
                    st.sealed.insert(id, sealed);
                });
                if let Err(e) = poison_on_error(host, &mut st, result) {
                    first = first.and(Err(e));
                }
            }
        }
        first
    }

    fn host(&self, host: HostId) -> Arc<HostHints> {
        let mut hosts = lock(&self.hosts);
        hosts
            .entry(host)
            .or_insert_with(|| {
                Arc::new(HostHints {
                    state: Mutex::new(HostState {
                        open: None,
                        sealed: BTreeMap::new(),
                        next_id: Timestamp::now().millis(),
                        cursor: Cursor::default(),
                        poisoned: None,
                    }),
                    dispatching: Mutex::new(()),
                })
            })
            .clone()
    }

    fn all_hosts(&self) -> Vec<(HostId, Arc<HostHints>)> {
        lock(&self.hosts)
            .iter()
            .map(|(k, v)| (*k, v.clone()))
            .collect()
    }

    fn sync_dir(&self) -> Result<(), HintsError> {
        self.config
            .storage
            .sync_dir(&self.dir)
            .map_err(CommitLogError::io(&self.dir, "syncing the directory"))?;
        Ok(())
    }

    fn cursor_path(&self, host: HostId) -> PathBuf {
        self.dir.join(cursor_file_name(host))
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for HintsStore {
    fn drop(&mut self) {
        if let Err(e) = self.seal_all() {
            log::error!("closing the hints in {}: {e}", self.dir.display());
        }
    }
}

fn check_poison(host: HostId, st: &HostState) -> Result<(), HintsError> {
    match &st.poisoned {
        Some(cause) => Err(HintsError::Poisoned {
            host: host.to_string(),
            cause: cause.clone(),
        }),
        None => Ok(()),
    }
}

/// A failed write leaves the host's current file in an unknown state: refuse its hints
/// until reopening recovers the file.
fn poison_on_error<T>(
    host: HostId,
    st: &mut HostState,
    result: Result<T, HintsError>,
) -> Result<T, HintsError> {
    if let Err(e) = &result {
        log::error!("hints for host {host} are poisoned: {e}");
        st.poisoned.get_or_insert_with(|| e.to_string());
    }
    result
}

/// Checks that a hints file's header names the host and id its file name does.
fn check_file(path: &Path, host: HostId, id: u64, d: &DecodedFile) -> Result<(), CommitLogError> {
    match &d.header {
        Some(h) if h.id != id || h.extra != host.0 => Err(CommitLogError::Corrupt {
            file: path.to_path_buf(),
            offset: 12,
            reason: format!("the header names another file than {host} #{id}"),
        }),
        _ => Ok(()),
    }
}

/// Loads a host's cursor and files at open, recovering its newest file.
fn load_host(
    dir: &Path,
    config: &HintsConfig,
    codec: &Arc<LogCodec>,
    host: HostId,
    mut found: files::HostFiles,
) -> Result<HostState, HintsError> {
    let cursor_path = dir.join(cursor_file_name(host));
    let cursor = if found.cursor {
        let bytes =
            std::fs::read(&cursor_path).map_err(CommitLogError::io(&cursor_path, "reading"))?;
        Cursor::decode(&cursor_path, host, &bytes)?
    } else {
        Cursor::default()
    };
    // Files the cursor passed were delivered; a crash came before their deletion.
    let delivered: Vec<u64> = found
        .hints
        .range(..cursor.file)
        .map(|(id, _)| *id)
        .collect();
    for id in delivered {
        if let Some(path) = found.hints.remove(&id) {
            remove_log_file(&path)?;
        }
    }
    let mut sealed = BTreeMap::new();
    let newest = found.hints.keys().next_back().copied();
    for (id, path) in &found.hints {
        let file = if Some(*id) == newest {
            let check = |d: &DecodedFile| check_file(path, host, *id, d);
            let time = |data: &[u8]| hint::decode(data).map(|(t, _)| t.millis());
            match recover_file(
                path,
                LogKind::Hints,
                config.storage.as_ref(),
                codec,
                &check,
                &time,
            )? {
                Recovery::Deleted => continue,
                Recovery::Sealed(t) | Recovery::Resealed(t) => SealedFile {
                    path: path.clone(),
                    records: t.records,
                    bytes: file_len(path)?,
                    latest: t.time_range.map(|(_, hi)| hi),
                },
            }
        } else {
            let bytes = std::fs::read(path).map_err(CommitLogError::io(path, "reading"))?;
            let s = summarize_file(path, LogKind::Hints, &bytes)?;
            if s.trailer.is_none() {
                log::error!(
                    "hints file {} is not sealed though it is not its host's newest: dispatch will report it",
                    path.display()
                );
            }
            SealedFile {
                path: path.clone(),
                records: s.trailer.as_ref().map_or(0, |t| t.records),
                bytes: bytes.len() as u64,
                latest: s.trailer.and_then(|t| t.time_range).map(|(_, hi)| hi),
            }
        };
        sealed.insert(*id, file);
    }
    let next_id = newest
        .map_or(0, |id| id + 1)
        .max(cursor.file)
        .max(Timestamp::now().millis());
    Ok(HostState {
        open: None,
        sealed,
        next_id,
        cursor,
        poisoned: None,
    })
}

fn file_len(path: &Path) -> Result<u64, HintsError> {
    Ok(std::fs::metadata(path)
        .map_err(CommitLogError::io(path, "reading the size of"))?
        .len())
}
