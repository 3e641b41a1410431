//! A table at run time: its options, memtables and live SSTables.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError, RwLock, RwLockReadGuard};

use crypta_compression::CompressionOptions;
use crypta_keys::KeyProvider;
use crypta_sstable::Sstable;

use crate::memtable::Memtable;

/// A live SSTable and its file name in the data directory.
#[derive(Debug)]
pub(crate) struct LiveSstable {
    pub(crate) name: String,
    pub(crate) path: PathBuf,
    pub(crate) reader: Sstable,
}

/// One table's run-time state.
#[derive(Debug)]
pub(crate) struct Table {
    pub(crate) id: u32,
    pub(crate) keyspace: String,
    pub(crate) name: String,
    /// Current compression options and the provider of their keys.
    pub(crate) codec: RwLock<(CompressionOptions, Arc<dyn KeyProvider>)>,
    /// The memtable writes go to.
    pub(crate) active: RwLock<Arc<Memtable>>,
    /// Memtables being flushed, oldest first.
    pub(crate) flushing: RwLock<Vec<Arc<Memtable>>>,
    /// Live SSTables, oldest first.
    pub(crate) sstables: RwLock<Vec<Arc<LiveSstable>>>,
    /// Serializes flushes of this table (memtables reach disk in order).
    pub(crate) flush_lock: Mutex<()>,
    /// Serializes compactions and rewrites of this table's SSTables.
    pub(crate) compaction_lock: Mutex<()>,
    /// Set when some of its SSTables could not be opened with the engine (a key destroyed,
    /// a damaged file): the table then refuses reads, writes, flushes and rewrites, which
    /// would answer or merge without those files, until the engine is opened again; it can
    /// still be dropped. Other tables are not affected.
    pub(crate) unavailable: Option<Unavailable>,
}

/// Why a table is unavailable: the files that did not open and the first one's error.
#[derive(Debug)]
pub(crate) struct Unavailable {
    pub(crate) files: Vec<PathBuf>,
    pub(crate) reason: String,
}

pub(crate) fn read<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(PoisonError::into_inner)
}

impl Table {
    pub(crate) fn qualified(&self) -> String {
        format!("{}.{}", self.keyspace, self.name)
    }

    /// Fails if the table is unavailable (see [`Table::unavailable`]).
    pub(crate) fn usable(&self) -> crate::Result<()> {
        match &self.unavailable {
            None => Ok(()),
            Some(u) => Err(crate::Error::TableUnavailable {
                table: self.qualified(),
                files: u.files.len(),
                reason: u.reason.clone(),
            }),
        }
    }

    /// For a command over tables (`compact`, `upgradesstables`): whether to work on this
    /// one. An unavailable table is an error where the command named tables, and skipped
    /// with a warning where it runs over all of them.
    pub(crate) fn selected(&self, named: bool, doing: &str) -> crate::Result<bool> {
        match self.usable() {
            Ok(()) => Ok(true),
            Err(e) if named => Err(e),
            Err(e) => {
                log::warn!("not {doing}: {e}");
                Ok(false)
            }
        }
    }

    pub(crate) fn codec(&self) -> (CompressionOptions, Arc<dyn KeyProvider>) {
        read(&self.codec).clone()
    }

    /// A snapshot of everything to read: active memtable, flushing ones (newest first), and
    /// SSTables (newest first).
    pub(crate) fn read_view(&self) -> (Vec<Arc<Memtable>>, Vec<Arc<LiveSstable>>) {
        let mut mems = vec![read(&self.active).clone()];
        mems.extend(read(&self.flushing).iter().rev().cloned());
        let ssts = read(&self.sstables).iter().rev().cloned().collect();
        (mems, ssts)
    }
}
