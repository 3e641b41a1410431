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
}

pub(crate) fn read<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(PoisonError::into_inner)
}

impl Table {
    pub(crate) fn qualified(&self) -> String {
        format!("{}.{}", self.keyspace, self.name)
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
