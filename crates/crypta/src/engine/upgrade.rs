//! `upgradesstables`: rewriting SSTables under the table's current format, options and key,
//! one SSTable at a time (each rewrite atomic), tables in parallel with `-j`.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use super::Inner;
use super::compaction::rewrite;
use super::table::{LiveSstable, Table, read};
use crate::Result;

/// Options of `upgradesstables`.
#[derive(Clone, Debug, Default)]
pub struct UpgradeOptions {
    /// `-a` / `--include-all-sstables`: rewrite every SSTable, current or not.
    pub include_all: bool,
    /// `-j N`: tables rewritten in parallel (at least 1).
    pub jobs: usize,
}

/// Progress, reported after each SSTable.
#[derive(Clone, Debug)]
pub struct UpgradeProgress {
    /// `keyspace.table`.
    pub table: String,
    /// The SSTable just rewritten.
    pub file: PathBuf,
    /// SSTables done so far (all tables).
    pub done: usize,
    /// SSTables to do (all tables).
    pub total: usize,
}

/// What `upgradesstables` did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UpgradeReport {
    /// SSTables rewritten.
    pub rewritten: usize,
    /// SSTables already current and left alone.
    pub skipped: usize,
    /// Entries written.
    pub entries: u64,
}

/// Whether `s` differs from what `t` writes now: an older format, other options, or a key
/// that is no longer the one to encrypt with.
fn outdated(t: &Table, s: &LiveSstable, current_key: Option<&crypta_keys::KeyId>) -> bool {
    let m = s.reader.metadata();
    let (options, _) = t.codec();
    if m.format_version < crypta_sstable::FORMAT_VERSION || m.options != options.to_map() {
        return true;
    }
    match current_key {
        Some(k) => m.key_ids.iter().any(|id| id != k),
        None => !m.key_ids.is_empty(),
    }
}

pub(crate) fn run(
    inner: &Inner,
    tables: &[String],
    options: &UpgradeOptions,
    progress: &(dyn Fn(&UpgradeProgress) + Sync),
) -> Result<UpgradeReport> {
    let selected = inner.select_tables(tables)?;
    // Decide the work first, so progress has a total.
    let mut work: Vec<(Arc<Table>, Vec<Arc<LiveSstable>>)> = Vec::new();
    let mut report = UpgradeReport::default();
    for t in selected {
        if !t.selected(!tables.is_empty(), "rewriting")? {
            continue;
        }
        let (opts, keys) = t.codec();
        let current = match opts.key_spec() {
            Some(spec) => Some(keys.current_key(&spec)?.id().clone()),
            None => None,
        };
        let all: Vec<Arc<LiveSstable>> = read(&t.sstables).clone();
        let todo: Vec<Arc<LiveSstable>> = all
            .iter()
            .filter(|s| options.include_all || outdated(&t, s, current.as_ref()))
            .cloned()
            .collect();
        report.skipped += all.len() - todo.len();
        if !todo.is_empty() {
            work.push((t, todo));
        }
    }
    let total: usize = work.iter().map(|(_, w)| w.len()).sum();
    let done = AtomicUsize::new(0);
    let next = AtomicUsize::new(0);
    let outcome: Mutex<(UpgradeReport, Option<crate::Error>)> = Mutex::new((report, None));
    let jobs = options.jobs.max(1).min(work.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some((t, files)) = work.get(i) else {
                        return;
                    };
                    let _c = t
                        .compaction_lock
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner);
                    for s in files {
                        if outcome
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .1
                            .is_some()
                        {
                            return;
                        }
                        // Compaction may have replaced it meanwhile: then it is already current.
                        if !read(&t.sstables).iter().any(|l| Arc::ptr_eq(l, s)) {
                            continue;
                        }
                        match rewrite(inner, t, std::slice::from_ref(s)) {
                            Ok(n) => {
                                let mut o = outcome.lock().unwrap_or_else(PoisonError::into_inner);
                                o.0.rewritten += 1;
                                o.0.entries += n;
                                drop(o);
                                let d = done.fetch_add(1, Ordering::SeqCst) + 1;
                                progress(&UpgradeProgress {
                                    table: t.qualified(),
                                    file: s.path.clone(),
                                    done: d,
                                    total,
                                });
                            }
                            Err(e) => {
                                outcome
                                    .lock()
                                    .unwrap_or_else(PoisonError::into_inner)
                                    .1
                                    .get_or_insert(e);
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
    let (report, err) = outcome.into_inner().unwrap_or_else(PoisonError::into_inner);
    match err {
        Some(e) => Err(e),
        None => Ok(report),
    }
}
