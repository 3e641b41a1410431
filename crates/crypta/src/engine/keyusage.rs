//! `crypta keys usage`: which files need which keys, read without decrypting anything.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crypta_keys::KeyId;

use super::Inner;
use super::table::read;
use crate::{Config, Result};

/// Key ids and the live files that need each.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyUsage {
    /// Key id to files (SSTables, commit log segments, hint files).
    pub by_key: BTreeMap<KeyId, Vec<PathBuf>>,
    /// Live files whose key ids could not be read, and why: SSTables of unavailable tables
    /// (the others were read when they opened), or damaged commit log segments and hint files.
    pub unreadable: Vec<(PathBuf, String)>,
}

impl KeyUsage {
    /// The files that need `id`, if any.
    pub fn files_for(&self, id: &KeyId) -> Option<&[PathBuf]> {
        self.by_key.get(id).map(Vec::as_slice)
    }

    fn add(&mut self, id: KeyId, file: PathBuf) {
        let files = self.by_key.entry(id).or_default();
        if !files.contains(&file) {
            files.push(file);
        }
    }
}

pub(crate) fn collect(inner: &Inner) -> Result<KeyUsage> {
    let mut usage = KeyUsage::default();
    for t in read(&inner.tables).values() {
        for s in read(&t.sstables).iter() {
            for id in s.reader.key_ids() {
                usage.add(id.clone(), s.path.clone());
            }
        }
        for path in t.unavailable.iter().flat_map(|u| &u.files) {
            usage.add_sstable_file(path);
        }
    }
    usage.add_logs(inner.commitlog.segments(), Some(inner.hints.dir()))?;
    Ok(usage)
}

/// As [`collect`], for an engine that is not open: the SSTables that the manifest in
/// `config`'s data directory lists, the commit log segments and the hint files, each read
/// from its file without a key, so that it works while a KMIP group the engine would check at
/// startup is down. Holds the data directory's lock while it reads: no engine changes the
/// files meanwhile.
pub(crate) fn collect_offline(config: &Config) -> Result<KeyUsage> {
    let mut usage = KeyUsage::default();
    let data_dir = &config.data_directory;
    if !data_dir.is_dir() {
        return Ok(usage);
    }
    let _lock = super::open::lock_data_dir(data_dir)?;
    let state = crate::manifest::load(data_dir)?.unwrap_or_default();
    for t in state.tables.values() {
        for name in &t.sstables {
            usage.add_sstable_file(&data_dir.join(name));
        }
    }
    let segments = if config.commitlog_directory.is_dir() {
        crypta_commitlog::segment_paths(&config.commitlog_directory)?
    } else {
        Vec::new()
    };
    let hints = Some(config.hints_directory.as_path()).filter(|d| d.is_dir());
    usage.add_logs(segments, hints)?;
    Ok(usage)
}

impl KeyUsage {
    /// The key ids of the SSTable at `path`, or why they could not be read.
    fn add_sstable_file(&mut self, path: &Path) {
        match crypta_sstable::key_ids(path) {
            Ok(ids) => ids
                .into_iter()
                .for_each(|id| self.add(id, path.to_path_buf())),
            Err(e) => self.unreadable.push((path.to_path_buf(), e.to_string())),
        }
    }

    /// The key ids of the commit log `segments` and of the hint files in `hints_dir`.
    fn add_logs(&mut self, segments: Vec<PathBuf>, hints_dir: Option<&Path>) -> Result<()> {
        let hints = match hints_dir {
            Some(dir) => std::fs::read_dir(dir)
                .map_err(|source| crate::Error::Io {
                    operation: "listing the hints directory",
                    path: dir.to_path_buf(),
                    source,
                })?
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "hints"))
                .collect(),
            None => Vec::new(),
        };
        let logs = segments
            .into_iter()
            .map(|p| {
                (
                    p,
                    crypta_commitlog::LogKind::CommitLog,
                    "reading commit log segment",
                )
            })
            .chain(
                hints
                    .into_iter()
                    .map(|p| (p, crypta_commitlog::LogKind::Hints, "reading hints file")),
            );
        for (path, kind, operation) in logs {
            let bytes = match std::fs::read(&path) {
                Ok(b) => b,
                // Discarded (a segment) or delivered (hints) meanwhile: it needs no key any more.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(source) => {
                    return Err(crate::Error::Io {
                        operation,
                        path,
                        source,
                    });
                }
            };
            // A damaged log file is listed as unknown, like an unreadable SSTable: the others
            // still answer, and `keys destroy` refuses without `--force`.
            match crypta_commitlog::summarize_file(&path, kind, &bytes) {
                Ok(summary) => summary
                    .key_ids
                    .into_iter()
                    .for_each(|id| self.add(id, path.clone())),
                Err(e) => self.unreadable.push((path, e.to_string())),
            }
        }
        Ok(())
    }
}
