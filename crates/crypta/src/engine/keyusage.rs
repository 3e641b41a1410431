//! `crypta keys usage`: which files need which keys, read without decrypting anything.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crypta_keys::KeyId;

use super::Inner;
use super::table::read;
use crate::Result;

/// Key ids and the live files that need each.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyUsage {
    /// Key id to files (SSTables, commit log segments, hint files).
    pub by_key: BTreeMap<KeyId, Vec<PathBuf>>,
    /// Live files whose key ids could not be read, and why (SSTables of unavailable tables
    /// only: the others were read when they opened).
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
            match crypta_sstable::key_ids(path) {
                Ok(ids) => ids.into_iter().for_each(|id| usage.add(id, path.clone())),
                Err(e) => usage.unreadable.push((path.clone(), e.to_string())),
            }
        }
    }
    for path in inner.commitlog.segments() {
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            // Discarded meanwhile: it needs no key any more.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => {
                return Err(crate::Error::Io {
                    operation: "reading commit log segment",
                    path,
                    source,
                });
            }
        };
        let summary =
            crypta_commitlog::summarize_file(&path, crypta_commitlog::LogKind::CommitLog, &bytes)?;
        for id in summary.key_ids {
            usage.add(id, path.clone());
        }
    }
    let hints_dir = inner.hints.dir();
    let entries = std::fs::read_dir(hints_dir).map_err(|source| crate::Error::Io {
        operation: "listing the hints directory",
        path: hints_dir.to_path_buf(),
        source,
    })?;
    for e in entries.flatten() {
        let path = e.path();
        if path.extension().is_none_or(|x| x != "hints") {
            continue;
        }
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue, // delivered
            Err(source) => {
                return Err(crate::Error::Io {
                    operation: "reading hints file",
                    path,
                    source,
                });
            }
        };
        let summary =
            crypta_commitlog::summarize_file(&path, crypta_commitlog::LogKind::Hints, &bytes)?;
        for id in summary.key_ids {
            usage.add(id, path.clone());
        }
    }
    Ok(usage)
}
