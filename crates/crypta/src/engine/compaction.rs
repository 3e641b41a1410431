//! Compaction: merging a table's SSTables into one, streaming (memory stays bounded by a few
//! chunks per input, whatever the table's size). Tombstones are kept: a single node has no
//! gc grace to wait out, and a tombstone may still shadow an older write being replayed.

use std::ops::Bound;
use std::sync::{Arc, PoisonError};

use crypta_sstable::{SstableWriter, WriterOptions};

use super::Inner;
use super::merge::{MergeIter, Source};
use super::table::{LiveSstable, Table, read};
use crate::{Error, Result};

/// What a compaction did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CompactionReport {
    /// Tables compacted.
    pub tables: usize,
    /// SSTables read.
    pub inputs: usize,
    /// SSTables written.
    pub outputs: usize,
    /// Entries written.
    pub entries: u64,
}

/// Size-tiered: a table with this many SSTables of similar size gets them merged.
pub(crate) const MIN_THRESHOLD: usize = 4;

/// Merges `inputs` (live SSTables of `t`) into one new SSTable written with the table's
/// current options and key, and installs it in their place atomically.
pub(crate) fn rewrite(inner: &Inner, t: &Arc<Table>, inputs: &[Arc<LiveSstable>]) -> Result<u64> {
    let (options, keys) = t.codec();
    let expected: u64 = inputs.iter().map(|s| s.reader.metadata().entry_count).sum();
    let (name, path) = inner.new_sstable_path(t)?;
    let mut w = SstableWriter::create(
        &path,
        &options,
        keys,
        WriterOptions {
            expected_entries: expected.max(1),
            ..WriterOptions::default()
        },
    )?;
    // Newest first, as the read path orders them (the merge picks winners by timestamp).
    // Without read-ahead threads: a rewrite runs in the background beside the writer's
    // encoder threads, and the process's read-ahead slots are left to the scans of clients.
    let sources: Vec<Source<'_>> = inputs
        .iter()
        .rev()
        .map(|s| {
            Box::new(
                s.reader
                    .range(Bound::Unbounded, Bound::Unbounded)
                    .read_ahead(false)
                    .map(|r| r.map_err(Error::from)),
            ) as Source<'_>
        })
        .collect();
    let mut n = 0u64;
    for item in MergeIter::new(sources) {
        let (k, e) = item?;
        w.add(&k, &e)?;
        n += 1;
    }
    w.finish()?;
    inner.install(t, inputs, name, path, None)?;
    Ok(n)
}

/// Major compaction of the named tables (all when empty).
pub(crate) fn compact_all(inner: &Inner, tables: &[String]) -> Result<CompactionReport> {
    let mut report = CompactionReport::default();
    for t in inner.select_tables(tables)? {
        if !t.selected(!tables.is_empty(), "compacting")? {
            continue;
        }
        let _c = t
            .compaction_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let inputs: Vec<Arc<LiveSstable>> = read(&t.sstables).clone();
        if inputs.len() < 2 {
            continue;
        }
        report.tables += 1;
        report.inputs += inputs.len();
        report.entries += rewrite(inner, &t, &inputs)?;
        report.outputs += 1;
    }
    Ok(report)
}

/// Size-tiered compaction of `t` if it has enough SSTables of similar size: files within half
/// to one and a half times their bucket's average are merged, smallest bucket first.
pub(crate) fn maybe_compact(inner: &Inner, t: &Arc<Table>) -> Result<bool> {
    if t.unavailable.is_some() {
        return Ok(false);
    }
    let Ok(_c) = t.compaction_lock.try_lock() else {
        return Ok(false); // one is running
    };
    let mut ssts: Vec<Arc<LiveSstable>> = read(&t.sstables).clone();
    ssts.sort_by_key(|s| s.reader.metadata().file_len);
    let mut bucket: Vec<Arc<LiveSstable>> = Vec::new();
    for s in ssts {
        let len = s.reader.metadata().file_len as f64;
        let avg = if bucket.is_empty() {
            len
        } else {
            bucket
                .iter()
                .map(|b| b.reader.metadata().file_len as f64)
                .sum::<f64>()
                / bucket.len() as f64
        };
        if bucket.is_empty() || (len >= avg * 0.5 && len <= avg * 1.5) {
            bucket.push(s);
        } else if bucket.len() >= MIN_THRESHOLD {
            break;
        } else {
            bucket = vec![s];
        }
    }
    if bucket.len() < MIN_THRESHOLD {
        return Ok(false);
    }
    // Keep the manifest's age order among the inputs.
    let order: Vec<Arc<LiveSstable>> = read(&t.sstables).clone();
    bucket.sort_by_key(|s| {
        order
            .iter()
            .position(|o| Arc::ptr_eq(o, s))
            .unwrap_or(usize::MAX)
    });
    rewrite(inner, t, &bucket)?;
    Ok(true)
}
