//! The engine: opening a data directory, the write and read paths, flush.

mod compaction;
mod ddl;
mod keyusage;
mod kmip;
mod merge;
mod open;
mod system;
mod table;
mod upgrade;

use std::collections::HashMap;
use std::fs::File;
use std::ops::Bound;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock, Weak, mpsc};

use crypta_commitlog::{CommitLog, Position};
use crypta_compression::CompressionOptions;
use crypta_keys::KeyProvider;
use crypta_sstable::{ChunkCache, Entry, SstableWriter, WriterOptions};

pub use compaction::CompactionReport;
pub use keyusage::KeyUsage;
pub use system::{Ballot, Paxos, PaxosState};
pub use upgrade::{UpgradeOptions, UpgradeProgress, UpgradeReport};

use crate::config::Config;
use crate::keys::{AnyProvider, KeyRegistry};
use crate::manifest::{self, ManifestState, TableDef};
use crate::memtable::Memtable;
use crate::mutation::{self, Mutation};
use crate::schema::SYSTEM_KEYSPACE;
use crate::{Error, Result};
pub(crate) use merge::supersedes;
use merge::{MergeIter, Source};
use table::{LiveSstable, Table, read};

/// The largest key accepted (Cassandra's partition key limit).
pub const MAX_KEY_LEN: usize = crypta_sstable::MAX_KEY_LEN;
/// The largest value accepted in one write.
pub const MAX_VALUE_LEN: usize = 128 * 1024 * 1024;

/// One write of a batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BatchOp {
    /// Sets `key` to `value` in `table` (`keyspace.table`).
    Put {
        /// `keyspace.table`.
        table: String,
        /// Key.
        key: Vec<u8>,
        /// Value.
        value: Vec<u8>,
    },
    /// Deletes `key` in `table`.
    Delete {
        /// `keyspace.table`.
        table: String,
        /// Key.
        key: Vec<u8>,
    },
}

/// Live rows of a table in key order, as [`Engine::range`] streams them: `(key, value)`, or
/// the error of the SSTable that could not be read (after which it ends).
pub struct Rows {
    merged: MergeIter<'static>,
}

impl std::fmt::Debug for Rows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rows").finish_non_exhaustive()
    }
}

impl Iterator for Rows {
    type Item = Result<(Vec<u8>, Vec<u8>)>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            match self.merged.next()? {
                Ok((k, Entry { value: Some(v), .. })) => return Some(Ok((k, v))),
                Ok(_) => continue, // a tombstone
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

/// An open engine. Cheap to clone; all clones share one engine.
#[derive(Clone, Debug)]
pub struct Engine {
    inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    config: Config,
    data_dir: PathBuf,
    _lock: File,
    keys: Arc<KeyRegistry>,
    commitlog: CommitLog,
    hints: crypta_hints::HintsStore,
    state: Mutex<ManifestState>,
    tables: RwLock<HashMap<u32, Arc<Table>>>,
    cache: Arc<ChunkCache>,
    clock: AtomicI64,
    /// Writers hold it shared from commit log append to memtable apply; memtable switches
    /// and commit log discards hold it exclusively, so that no record is between the two.
    gate: RwLock<()>,
    poisoned: Mutex<Option<String>>,
    closed: AtomicBool,
    /// Requests to the background worker (flush, then size-tiered compaction, of a table).
    worker: Mutex<Option<mpsc::Sender<u32>>>,
    worker_thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// Serializes paxos acceptor updates.
    pub(crate) paxos_lock: Mutex<()>,
    /// The `kmip_hosts` groups in effect (changed live by config reloads).
    live_kmip: Mutex<
        std::collections::BTreeMap<
            String,
            (
                crypta_kmip::KmipGroupConfig,
                Arc<crypta_kmip::KmipKeyProvider>,
            ),
        >,
    >,
}

/// Splits `keyspace.table`.
pub fn split_table(qualified: &str) -> Result<(&str, &str)> {
    qualified
        .split_once('.')
        .filter(|(k, t)| !k.is_empty() && !t.is_empty())
        .ok_or_else(|| Error::BadTableName(qualified.to_string()))
}

fn now_micros() -> i64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

impl Engine {
    /// Opens (creating if needed) the engine described by `config`: takes the data
    /// directory's lock, reads the manifest, replays the commit log, finishes interrupted
    /// batches, and removes files no manifest refers to.
    pub fn open(config: Config) -> Result<Engine> {
        open::open(config)
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Re-reads the configuration file now (it is also watched, every second) and applies
    /// what can change live: KMIP groups and their settings. Returns how many groups changed;
    /// a broken file is an error and changes nothing.
    pub fn reload_config(&self) -> Result<usize> {
        self.inner.reload_config()
    }

    /// Hints for replicas that were down (`Engine::hints()`): stored per target host,
    /// encrypted like the commit log when `system_info_encryption` is on.
    pub fn hints(&self) -> &crypta_hints::HintsStore {
        &self.inner.hints
    }

    /// The key sources.
    pub fn keys(&self) -> &Arc<KeyRegistry> {
        &self.inner.keys
    }

    /// Runs schema statements (`CREATE`, `ALTER`, `DROP`, `DESC`): one, or several separated
    /// by `;` (what `DESC KEYSPACE` prints), all parsed before any runs, then run in order
    /// until one fails ([`Error::Script`] says which, and how many before it applied).
    /// Returns what the `DESC` statements print, or an empty string.
    pub fn execute_cql(&self, cql: &str) -> Result<String> {
        let stmts = crate::cql::parse_script(cql)?;
        if let [one] = stmts.as_slice() {
            return self.inner.execute(one);
        }
        let mut out = Vec::new();
        for (i, stmt) in stmts.iter().enumerate() {
            match self.inner.execute(stmt) {
                Ok(s) if s.is_empty() => {}
                Ok(s) => out.push(s),
                Err(e) => {
                    return Err(Error::Script {
                        index: i + 1,
                        count: stmts.len(),
                        applied: i,
                        source: Box::new(e),
                    });
                }
            }
        }
        Ok(out.join("\n"))
    }

    /// A snapshot of the schema and live files.
    pub fn manifest(&self) -> ManifestState {
        self.inner.lock_state().clone()
    }

    /// Sets `key` to `value` in `keyspace.table`.
    pub fn put(&self, table: &str, key: &[u8], value: &[u8]) -> Result<()> {
        let ts = self.inner.next_timestamp();
        let m = self.inner.mutation(table, key, Some(value), ts)?;
        self.inner.write(std::slice::from_ref(&m))
    }

    /// Deletes `key` in `keyspace.table`.
    pub fn delete(&self, table: &str, key: &[u8]) -> Result<()> {
        let ts = self.inner.next_timestamp();
        let m = self.inner.mutation(table, key, None, ts)?;
        self.inner.write(std::slice::from_ref(&m))
    }

    /// Applies several writes as one commit log record: after a crash, all or none of them
    /// are there.
    pub fn batch_unlogged(&self, ops: &[BatchOp]) -> Result<()> {
        let muts = self.inner.mutations(ops)?;
        self.inner.write(&muts)
    }

    /// A logged batch across tables: recorded in `system.batchlog` first, then applied, then
    /// removed from the batchlog; a batch interrupted by a crash is finished at the next open.
    pub fn batch(&self, ops: &[BatchOp]) -> Result<()> {
        system::logged_batch(&self.inner, ops)
    }

    /// The value of `key`, if present.
    pub fn get(&self, table: &str, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let t = self.inner.table(table)?;
        Ok(self.inner.get_entry(&t, key)?.and_then(|e| e.value))
    }

    /// The settings of `kmip_hosts` group `name` now in effect: those read at open, or of the
    /// last edit the engine took while running ([`Engine::reload_config`]).
    pub fn kmip_group(&self, name: &str) -> Option<crypta_kmip::KmipGroupConfig> {
        self.inner
            .live_kmip
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .map(|(c, _)| c.clone())
    }

    /// The chunk cache's counters (`file_cache_size_in_mb`): hits and misses since the
    /// engine opened, and the chunks and bytes of plaintext it holds now.
    pub fn cache_stats(&self) -> crypta_sstable::CacheStats {
        self.inner.cache.stats()
    }

    /// Live rows of `keyspace.table` in key order within the bounds, at most `limit`.
    pub fn scan(
        &self,
        table: &str,
        start: Bound<&[u8]>,
        end: Bound<&[u8]>,
        limit: Option<usize>,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        // `take` stops before asking for the row after the last one wanted, which would read
        // (and may decode a chunk) for nothing.
        self.range(table, start, end)?
            .take(limit.unwrap_or(usize::MAX))
            .collect()
    }

    /// Live rows of `keyspace.table` in key order within the bounds, streamed: SSTables are
    /// read a chunk at a time as the iterator advances (the memtables are copied at the
    /// start). The iterator reads the tables as they were when it was made.
    pub fn range(&self, table: &str, start: Bound<&[u8]>, end: Bound<&[u8]>) -> Result<Rows> {
        let t = self.inner.table(table)?;
        t.usable()?;
        Ok(Rows {
            merged: self.inner.merged_range(&t, start, end),
        })
    }

    /// Flushes the memtables of the named tables (all tables when `tables` is empty).
    pub fn flush(&self, tables: &[String]) -> Result<()> {
        let selected = self.inner.select_tables(tables)?;
        for t in &selected {
            self.inner.flush_table(t)?;
        }
        self.inner.discard_commitlog()?;
        for t in &selected {
            compaction::maybe_compact(&self.inner, t)?;
        }
        Ok(())
    }

    /// Compacts the SSTables of the named tables (all when empty) into one each.
    pub fn compact(&self, tables: &[String]) -> Result<CompactionReport> {
        compaction::compact_all(&self.inner, tables)
    }

    /// `nodetool upgradesstables`: rewrites SSTables on another format, other compression or
    /// encryption settings, or a key that is no longer the one to encrypt with (all of them
    /// with `include_all`).
    pub fn upgradesstables(
        &self,
        tables: &[String],
        options: &UpgradeOptions,
        progress: &(dyn Fn(&UpgradeProgress) + Sync),
    ) -> Result<UpgradeReport> {
        upgrade::run(&self.inner, tables, options, progress)
    }

    /// Reads and checks every chunk of every live SSTable of the named tables.
    pub fn verify(
        &self,
        tables: &[String],
    ) -> Result<Vec<(PathBuf, crypta_sstable::VerifyReport)>> {
        let mut out = Vec::new();
        for t in self.inner.select_tables(tables)? {
            t.usable()?;
            for s in read(&t.sstables).iter() {
                out.push((s.path.clone(), s.reader.verify()?));
            }
        }
        Ok(out)
    }

    /// Which files need which keys, read without decrypting anything.
    pub fn key_usage(&self) -> Result<KeyUsage> {
        keyusage::collect(&self.inner)
    }

    /// As [`Engine::key_usage`], for the engine of `config` without opening it: reads the
    /// manifest, the SSTables it lists, the commit log segments and the hint files, without a
    /// key and without the startup check of the KMIP groups in use, so it answers while their
    /// servers are down. Takes the data directory's lock while it reads (refused while an
    /// engine has it open, as a second opener is).
    pub fn offline_key_usage(config: &Config) -> Result<KeyUsage> {
        keyusage::collect_offline(config)
    }

    /// Destroys a key (of provider `provider`, as `crypta keys list` names them, or the only
    /// one that has it), refusing while any live file needs it unless `force`.
    pub fn destroy_key(
        &self,
        id: &crypta_keys::KeyId,
        provider: Option<&str>,
        force: bool,
    ) -> Result<crypta_keys::KeyInfo> {
        let usage = self.key_usage()?;
        if let Some((file, reason)) = usage.unreadable.first()
            && !force
        {
            return Err(Error::KeyUsageUnknown {
                key_id: id.clone(),
                file: file.clone(),
                reason: reason.clone(),
            });
        }
        if let Some(files) = usage.files_for(id)
            && !files.is_empty()
            && !force
        {
            return Err(Error::KeyInUse {
                key_id: id.clone(),
                files: files.to_vec(),
            });
        }
        let (_, manager, _) = self.inner.keys.find(id, provider)?;
        let info = manager.destroy(id)?;
        // Plaintext already decoded under the key must not outlive it in the chunk cache.
        for t in read(&self.inner.tables).values() {
            for s in read(&t.sstables).iter() {
                if s.reader.key_ids().contains(id) {
                    s.reader.evict_cached();
                }
            }
        }
        Ok(info)
    }

    /// The paxos acceptor of this node (`system.paxos`), for conditional writes.
    pub fn paxos(&self) -> Paxos {
        Paxos::new(self.inner.clone())
    }

    /// Compare-and-set on one key: sets it to `new` (deletes it for `None`) only if its
    /// current value is `expected` (`None`: absent). Runs paxos promise/accept/commit against
    /// this node's acceptor. Returns whether it applied.
    pub fn compare_and_set(
        &self,
        table: &str,
        key: &[u8],
        expected: Option<&[u8]>,
        new: Option<&[u8]>,
    ) -> Result<bool> {
        system::compare_and_set(&self.inner, table, key, expected, new)
    }

    /// Stops the background worker, flushes everything and syncs the commit log.
    pub fn close(self) -> Result<()> {
        self.inner.stop_worker();
        self.flush(&[])?;
        self.inner.closed.store(true, Ordering::SeqCst);
        // Everything is in SSTables now: end the active segment too and delete it with the
        // others, so that no segment outlives the rows it held (in plaintext, with
        // system_info_encryption off). A table that could not flush (unavailable) keeps the
        // segments its rows are in.
        self.inner.commitlog.seal_active()?;
        self.inner.discard_commitlog()?;
        self.inner.commitlog.sync()?;
        self.inner.hints.flush()?;
        Ok(())
    }
}

impl Inner {
    pub(crate) fn lock_state(&self) -> std::sync::MutexGuard<'_, ManifestState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn check_poisoned(&self) -> Result<()> {
        match &*self.poisoned.lock().unwrap_or_else(PoisonError::into_inner) {
            Some(reason) => Err(Error::Poisoned(reason.clone())),
            None => Ok(()),
        }
    }

    pub(crate) fn poison(&self, reason: String) {
        log::error!("engine refuses further writes: {reason}");
        let mut p = self.poisoned.lock().unwrap_or_else(PoisonError::into_inner);
        p.get_or_insert(reason);
    }

    /// A write timestamp: microseconds since the epoch, strictly increasing in this engine.
    pub(crate) fn next_timestamp(&self) -> i64 {
        let now = now_micros();
        let mut last = self.clock.load(Ordering::Relaxed);
        loop {
            let next = now.max(last.saturating_add(1));
            match self
                .clock
                .compare_exchange_weak(last, next, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => return next,
                Err(l) => last = l,
            }
        }
    }

    pub(crate) fn table(&self, qualified: &str) -> Result<Arc<Table>> {
        let (ks, name) = split_table(qualified)?;
        let tables = read(&self.tables);
        tables
            .values()
            .find(|t| t.keyspace == ks && t.name == name)
            .cloned()
            .ok_or_else(|| Error::NoTable(qualified.to_string()))
    }

    pub(crate) fn select_tables(&self, names: &[String]) -> Result<Vec<Arc<Table>>> {
        let tables = read(&self.tables);
        let mut all: Vec<Arc<Table>> = tables.values().cloned().collect();
        all.sort_by_key(|t| t.id);
        if names.is_empty() {
            return Ok(all);
        }
        let mut out = Vec::new();
        for n in names {
            // DSE 6.8 and HCD call the batchlog `batches` (their runbook says
            // `nodetool upgradesstables -a system batches paxos`).
            let n = match n.as_str() {
                "system.batches" => "system.batchlog",
                n => n,
            };
            // A bare keyspace name selects all its tables.
            let matched: Vec<Arc<Table>> = match n.split_once('.') {
                Some(_) => vec![self.table(n)?],
                None => all.iter().filter(|t| t.keyspace == n).cloned().collect(),
            };
            if matched.is_empty() {
                return Err(Error::NoKeyspaceOrTable(n.to_string()));
            }
            out.extend(matched);
        }
        Ok(out)
    }

    pub(crate) fn mutations(&self, ops: &[BatchOp]) -> Result<Vec<Mutation>> {
        let ts = self.next_timestamp();
        ops.iter()
            .map(|op| match op {
                BatchOp::Put { table, key, value } => self.mutation(table, key, Some(value), ts),
                BatchOp::Delete { table, key } => self.mutation(table, key, None, ts),
            })
            .collect()
    }

    /// One write, checked: sizes within limits, the table exists.
    pub(crate) fn mutation(
        &self,
        table: &str,
        key: &[u8],
        value: Option<&[u8]>,
        ts: i64,
    ) -> Result<Mutation> {
        let t = self.table(table)?;
        if t.keyspace == SYSTEM_KEYSPACE {
            return Err(Error::WriteRefused {
                table: t.qualified(),
                reason: "the system keyspace is written by crypta only",
            });
        }
        t.usable()?;
        if key.is_empty() {
            return Err(Error::WriteRefused {
                table: t.qualified(),
                reason: "a key may not be empty",
            });
        }
        if key.len() > MAX_KEY_LEN {
            return Err(Error::TooLarge {
                what: "key",
                len: key.len(),
                max: MAX_KEY_LEN,
            });
        }
        if let Some(v) = value
            && v.len() > MAX_VALUE_LEN
        {
            return Err(Error::TooLarge {
                what: "value",
                len: v.len(),
                max: MAX_VALUE_LEN,
            });
        }
        Ok(Mutation {
            table: t.id,
            key: key.to_vec(),
            cell: Entry {
                value: value.map(<[u8]>::to_vec),
                timestamp: ts,
            },
        })
    }

    /// Commit log, then memtables. Returns once the record is as durable as the sync mode
    /// promises.
    pub(crate) fn write(&self, muts: &[Mutation]) -> Result<()> {
        self.check_poisoned()?;
        if self.closed.load(Ordering::SeqCst) {
            return Err(Error::Poisoned("the engine is closed".into()));
        }
        let record = mutation::encode(muts);
        let mut full = Vec::new();
        {
            let _gate = self.gate.read().unwrap_or_else(PoisonError::into_inner);
            let pos = self.commitlog.append(&record)?;
            let tables = read(&self.tables);
            for m in muts {
                let t = tables.get(&m.table).ok_or_else(|| Error::WriteRefused {
                    table: format!("table id {}", m.table),
                    reason: "the table was dropped",
                })?;
                let mem = read(&t.active).clone();
                mem.apply(&m.key, m.cell.clone(), pos);
                if mem.size_bytes() >= self.memtable_limit() {
                    full.push(t.clone());
                }
            }
        }
        for t in full {
            // The worker flushes in the background; a writer that outruns it (a second
            // memtable full while one is still being written) flushes itself, which holds
            // memory to about two memtables per table.
            let backlog = !read(&t.flushing).is_empty();
            if backlog || !self.request_flush(t.id) {
                self.flush_table(&t)?;
                self.discard_commitlog()?;
            }
        }
        Ok(())
    }

    /// Asks the worker to flush (then maybe compact) table `id`; false if there is no worker.
    fn request_flush(&self, id: u32) -> bool {
        let worker = self.worker.lock().unwrap_or_else(PoisonError::into_inner);
        worker.as_ref().is_some_and(|tx| tx.send(id).is_ok())
    }

    pub(crate) fn start_worker(self: &Arc<Self>) -> Result<()> {
        let (tx, rx) = mpsc::channel::<u32>();
        let weak: Weak<Inner> = Arc::downgrade(self);
        let handle = std::thread::Builder::new()
            .name("crypta-flush-compact".into())
            .spawn(move || {
                while let Ok(id) = rx.recv() {
                    let Some(inner) = weak.upgrade() else { return };
                    let Some(t) = read(&inner.tables).get(&id).cloned() else {
                        continue;
                    };
                    if read(&t.active).size_bytes() >= inner.memtable_limit()
                        && let Err(e) = inner
                            .flush_table(&t)
                            .and_then(|()| inner.discard_commitlog())
                    {
                        log::error!("background flush of {} failed: {e}", t.qualified());
                        continue;
                    }
                    if let Err(e) = compaction::maybe_compact(&inner, &t) {
                        log::error!("compaction of {} failed: {e}", t.qualified());
                    }
                }
            })
            .map_err(|source| Error::Io {
                operation: "starting the flush and compaction thread for",
                path: self.data_dir.clone(),
                source,
            })?;
        *self.worker.lock().unwrap_or_else(PoisonError::into_inner) = Some(tx);
        *self
            .worker_thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(handle);
        Ok(())
    }

    fn stop_worker(&self) {
        self.worker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let handle = self
            .worker_thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(h) = handle
            && h.join().is_err()
        {
            log::error!("the flush and compaction thread panicked");
        }
    }

    fn memtable_limit(&self) -> usize {
        self.config.memtable_size_mb as usize * 1024 * 1024
    }

    /// The newest entry for `key`, tombstones included.
    pub(crate) fn get_entry(&self, t: &Table, key: &[u8]) -> Result<Option<Entry>> {
        t.usable()?;
        let (mems, ssts) = t.read_view();
        let mut best: Option<Entry> = None;
        fn consider(best: &mut Option<Entry>, e: Entry) {
            if best.as_ref().is_none_or(|b| merge::supersedes(&e, b)) {
                *best = Some(e);
            }
        }
        for m in &mems {
            if let Some(e) = m.get(key) {
                consider(&mut best, e);
            }
        }
        for s in &ssts {
            // A file whose newest write is older than the best entry so far cannot win.
            if best
                .as_ref()
                .is_some_and(|b| s.reader.metadata().max_timestamp < b.timestamp)
            {
                continue;
            }
            if let Some(e) = s.reader.get(key)? {
                consider(&mut best, e);
            }
        }
        Ok(best)
    }

    /// Every source of `t` merged, tombstones included.
    pub(crate) fn merged_range<'a>(
        &self,
        t: &Table,
        start: Bound<&'a [u8]>,
        end: Bound<&'a [u8]>,
    ) -> MergeIter<'static> {
        let (mems, ssts) = t.read_view();
        let own = |b: Bound<&[u8]>| match b {
            Bound::Included(k) => Bound::Included(k.to_vec()),
            Bound::Excluded(k) => Bound::Excluded(k.to_vec()),
            Bound::Unbounded => Bound::Unbounded,
        };
        let (start, end) = (own(start), own(end));
        let mut sources: Vec<Source<'static>> = Vec::new();
        for m in mems {
            let items: Vec<Result<(Vec<u8>, Entry)>> =
                m.range(as_ref(&start), as_ref(&end)).map(Ok).collect();
            if !items.is_empty() {
                sources.push(Box::new(items.into_iter()));
            }
        }
        for s in ssts {
            let scan = s.reader.range(as_ref(&start), as_ref(&end));
            sources.push(Box::new(scan.map(|r| r.map_err(Error::from))));
        }
        MergeIter::new(sources)
    }

    /// Switches `t`'s memtable and writes the old one to an SSTable, then records it in the
    /// manifest (with the commit log position up to which `t` is now on disk).
    pub(crate) fn flush_table(&self, t: &Arc<Table>) -> Result<()> {
        if let Err(e) = t.usable() {
            // What the commit log replayed into it stays there, kept with its segments,
            // until the table opens again.
            if !read(&t.active).is_empty() {
                log::warn!("not flushing: {e}");
            }
            return Ok(());
        }
        let _flush = t.flush_lock.lock().unwrap_or_else(PoisonError::into_inner);
        let (old, switch_pos) = {
            let _gate = self.gate.write().unwrap_or_else(PoisonError::into_inner);
            let mut active = t.active.write().unwrap_or_else(PoisonError::into_inner);
            if active.is_empty() {
                return Ok(());
            }
            let old = std::mem::replace(&mut *active, Arc::new(Memtable::new()));
            t.flushing
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .push(old.clone());
            (old, self.commitlog.current_position())
        };
        let result = self.write_memtable(t, &old, switch_pos);
        // Whatever happened, the memtable leaves the flushing list only once its SSTable is
        // live (on success); on failure it stays readable and the engine stops writing.
        match result {
            Ok(()) => {
                t.flushing
                    .write()
                    .unwrap_or_else(PoisonError::into_inner)
                    .retain(|m| !Arc::ptr_eq(m, &old));
                Ok(())
            }
            Err(e) => {
                self.poison(format!("flush of {} failed: {e}", t.qualified()));
                Err(e)
            }
        }
    }

    fn write_memtable(&self, t: &Arc<Table>, mem: &Memtable, switch_pos: Position) -> Result<()> {
        let (options, keys) = t.codec();
        let (name, path) = self.new_sstable_path(t)?;
        let mut w = SstableWriter::create(
            &path,
            &options,
            keys,
            WriterOptions {
                expected_entries: mem.len() as u64,
                ..WriterOptions::default()
            },
        )?;
        for (k, e) in mem.range(Bound::Unbounded, Bound::Unbounded) {
            w.add(&k, &e)?;
        }
        w.finish()?;
        self.install(t, &[], name, path, Some(switch_pos))
    }

    /// A fresh SSTable name for `t` (allocated in the manifest).
    pub(crate) fn new_sstable_path(&self, t: &Table) -> Result<(String, PathBuf)> {
        let n = self.lock_state().allocate_file();
        // Names are letters, digits and underscores since they are checked at creation;
        // a table created before that may have others, which stay out of the file name.
        let safe = |s: &str| -> String {
            s.chars()
                .map(|c| match c.is_ascii_alphanumeric() || c == '_' {
                    true => c,
                    false => '_',
                })
                .collect()
        };
        let name = format!("{}-{}-{}-{n:08}.db", safe(&t.keyspace), safe(&t.name), t.id);
        let path = self.data_dir.join(&name);
        Ok((name, path))
    }

    /// Makes `new` live in place of `replaced` atomically: the manifest is stored first, then
    /// the in-memory set changes, then replaced files are deleted.
    pub(crate) fn install(
        &self,
        t: &Arc<Table>,
        replaced: &[Arc<LiveSstable>],
        name: String,
        path: PathBuf,
        flushed: Option<Position>,
    ) -> Result<()> {
        let keys = self.provider_for_options(&crypta_sstable::recorded_options(&path)?)?;
        let reader = crypta_sstable::Sstable::open(&path, keys, Some(self.cache.clone()))?;
        let live = Arc::new(LiveSstable {
            name: name.clone(),
            path,
            reader,
        });
        {
            let mut state = self.lock_state();
            let mut next = state.clone();
            let def = next
                .tables
                .get_mut(&t.id)
                .ok_or_else(|| Error::NoTable(t.qualified()))?;
            def.sstables
                .retain(|n| !replaced.iter().any(|r| &r.name == n));
            if replaced.is_empty() {
                def.sstables.push(name);
            } else {
                // A rewrite takes the place of the oldest file it replaces.
                let at = replaced
                    .iter()
                    .filter_map(|r| {
                        state
                            .tables
                            .get(&t.id)?
                            .sstables
                            .iter()
                            .position(|n| n == &r.name)
                    })
                    .min()
                    .unwrap_or(def.sstables.len())
                    .min(def.sstables.len());
                def.sstables.insert(at, name);
            }
            if let Some(p) = flushed {
                def.flushed_position = [p.segment, p.offset];
            }
            manifest::store(&self.data_dir, &next)?;
            *state = next;
            let mut ssts = t.sstables.write().unwrap_or_else(PoisonError::into_inner);
            let order: Vec<String> = state
                .tables
                .get(&t.id)
                .map(|d| d.sstables.clone())
                .unwrap_or_default();
            let mut all: Vec<Arc<LiveSstable>> = ssts
                .iter()
                .filter(|s| !replaced.iter().any(|r| Arc::ptr_eq(r, s)))
                .cloned()
                .chain(std::iter::once(live))
                .collect();
            all.sort_by_key(|s| {
                order
                    .iter()
                    .position(|n| n == &s.name)
                    .unwrap_or(usize::MAX)
            });
            *ssts = all;
        }
        for r in replaced {
            if let Err(e) = std::fs::remove_file(&r.path) {
                log::warn!(
                    "could not remove replaced SSTable {}: {e}",
                    r.path.display()
                );
            }
        }
        Ok(())
    }

    /// Every configured source, by key id: for files that need no key, and for commit log
    /// segments written before a change of `system_info_encryption`'s provider.
    pub(crate) fn any_keys(&self) -> Arc<dyn KeyProvider> {
        Arc::new(AnyProvider(self.keys.clone()))
    }

    /// The provider that holds the keys of a file written with `options` (a canonical
    /// options map, as SSTables record it): KMIP ids are only unique within one group, so a
    /// file is read with the group that made its keys, never with another one.
    pub(crate) fn provider_for_options(
        &self,
        options: &std::collections::BTreeMap<String, String>,
    ) -> Result<Arc<dyn KeyProvider>> {
        match CompressionOptions::parse(options)?.encryption {
            Some(e) => Ok(self.keys.provider_for(&e.key_provider)?),
            None => Ok(self.any_keys()),
        }
    }

    /// Deletes commit log segments whose every record is in SSTables.
    pub(crate) fn discard_commitlog(&self) -> Result<()> {
        let bound = {
            let _gate = self.gate.write().unwrap_or_else(PoisonError::into_inner);
            let mut bound = self.commitlog.current_position();
            for t in read(&self.tables).values() {
                let (mems, _) = t.read_view();
                for m in mems {
                    if let Some(p) = m.first_position() {
                        bound = bound.min(p);
                    }
                }
            }
            bound
        };
        self.commitlog.discard_up_to(bound)?;
        Ok(())
    }

    pub(crate) fn codec_for(
        &self,
        def: &TableDef,
    ) -> Result<(CompressionOptions, Arc<dyn KeyProvider>)> {
        let options = CompressionOptions::parse(&def.compression)?;
        let provider = match &options.encryption {
            Some(e) => self.keys.provider_for(&e.key_provider)?,
            None => Arc::new(AnyProvider(self.keys.clone())) as Arc<dyn KeyProvider>,
        };
        Ok((options, provider))
    }

    pub(crate) fn new_table(
        &self,
        def: &TableDef,
        codec: (CompressionOptions, Arc<dyn KeyProvider>),
    ) -> Table {
        Table {
            id: def.id,
            keyspace: def.keyspace.clone(),
            name: def.name.clone(),
            codec: RwLock::new(codec),
            active: RwLock::new(Arc::new(Memtable::new())),
            flushing: RwLock::new(Vec::new()),
            sstables: RwLock::new(Vec::new()),
            flush_lock: Mutex::new(()),
            compaction_lock: Mutex::new(()),
            unavailable: None,
        }
    }
}

fn as_ref(b: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    match b {
        Bound::Included(k) => Bound::Included(k.as_slice()),
        Bound::Excluded(k) => Bound::Excluded(k.as_slice()),
        Bound::Unbounded => Bound::Unbounded,
    }
}
