//! The manifest: the schema and the live SSTable set, replaced atomically on every change
//! (flush, compaction, rewrite, schema change), so a crash leaves the old or the new state.
//!
//! File `MANIFEST` in the data directory: magic `CRYPTAMF`, a version byte, a little-endian
//! `u32` length, that many bytes of JSON, and a CRC32 of everything before it
//! (`docs/format/manifest.md`). It holds names and options, never key material.
#![deny(clippy::indexing_slicing)]

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crypta_keys::wire::{Reader, WriteLe};
use serde::{Deserialize, Serialize};

const MAGIC: &[u8; 8] = b"CRYPTAMF";
const VERSION: u8 = 1;
const FILE: &str = "MANIFEST";
/// Manifests larger than this are refused as corrupt.
const MAX_LEN: usize = 256 * 1024 * 1024;

/// A keyspace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyspaceDef {
    /// Name.
    pub name: String,
    /// The replication map as written (kept for `DESC`; crypta is a single node).
    pub replication: BTreeMap<String, String>,
    /// `durable_writes`.
    pub durable_writes: bool,
}

/// A table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableDef {
    /// Engine-wide id; SSTable file names carry it.
    pub id: u32,
    /// Keyspace.
    pub keyspace: String,
    /// Name.
    pub name: String,
    /// Key column name and CQL type.
    pub key_column: (String, String),
    /// Value column name and CQL type.
    pub value_column: (String, String),
    /// Canonical compression options (`CompressionOptions::to_map`).
    pub compression: BTreeMap<String, String>,
    /// Live SSTable files (names within the data directory), oldest first.
    pub sstables: Vec<String>,
    /// Commit log records of this table before this position (segment, offset) are in
    /// SSTables.
    pub flushed_position: [u64; 2],
}

/// Everything the manifest records.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestState {
    /// Next number for new files.
    pub next_file: u64,
    /// Next table id.
    pub next_table_id: u32,
    /// Keyspaces by name.
    pub keyspaces: BTreeMap<String, KeyspaceDef>,
    /// Tables by id.
    pub tables: BTreeMap<u32, TableDef>,
}

impl ManifestState {
    /// The table `ks.t`.
    pub fn table(&self, keyspace: &str, name: &str) -> Option<&TableDef> {
        self.tables
            .values()
            .find(|t| t.keyspace == keyspace && t.name == name)
    }

    /// A fresh file number.
    pub fn allocate_file(&mut self) -> u64 {
        self.next_file += 1;
        self.next_file
    }
}

/// Why the manifest cannot be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    /// I/O failed.
    #[error("{operation} manifest {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What was being done.
        operation: &'static str,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The manifest is damaged or not a manifest.
    #[error("manifest {} is unusable: {reason}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// The manifest's path in `dir`.
pub fn path(dir: &Path) -> PathBuf {
    dir.join(FILE)
}

/// Reads the manifest in `dir`; `None` if there is none yet.
pub fn load(dir: &Path) -> Result<Option<ManifestState>, ManifestError> {
    let p = path(dir);
    let bytes = match fs::read(&p) {
        Ok(b) => b,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(ManifestError::Io {
                path: p,
                operation: "reading",
                source,
            });
        }
    };
    decode(&bytes)
        .map(Some)
        .map_err(|reason| ManifestError::Corrupt { path: p, reason })
}

fn decode(bytes: &[u8]) -> Result<ManifestState, String> {
    let body_len = bytes.len().checked_sub(4).ok_or("truncated")?;
    let (body, crc) = bytes.split_at(body_len);
    let stored = u32::from_le_bytes(crc.try_into().map_err(|_| "truncated")?);
    let computed = crc32fast::hash(body);
    let mut r = Reader::new(body);
    if r.take(MAGIC.len(), "magic").map_err(|e| e.to_string())? != MAGIC {
        return Err("not a crypta manifest (bad magic)".into());
    }
    if stored != computed {
        return Err(format!(
            "checksum mismatch (stored {stored:08x}, computed {computed:08x})"
        ));
    }
    let version = r.u8("version").map_err(|e| e.to_string())?;
    if version != VERSION {
        return Err(format!("unsupported manifest version {version}"));
    }
    let json = r.bytes_u32(MAX_LEN, "body").map_err(|e| e.to_string())?;
    r.finish("manifest").map_err(|e| e.to_string())?;
    serde_json::from_slice(json).map_err(|e| format!("invalid body: {e}"))
}

/// Writes `state` as the manifest of `dir`: temporary file, fsync, rename, fsync of `dir`.
pub fn store(dir: &Path, state: &ManifestState) -> Result<(), ManifestError> {
    let p = path(dir);
    let io = |operation, source| ManifestError::Io {
        path: p.clone(),
        operation,
        source,
    };
    let json = serde_json::to_vec(state).map_err(|e| ManifestError::Corrupt {
        path: p.clone(),
        reason: format!("cannot serialize: {e}"),
    })?;
    let mut out = Vec::with_capacity(json.len() + 17);
    out.extend_from_slice(MAGIC);
    out.put_u8(VERSION);
    out.put_u32(
        u32::try_from(json.len()).map_err(|_| ManifestError::Corrupt {
            path: p.clone(),
            reason: "too large".into(),
        })?,
    );
    out.extend_from_slice(&json);
    let crc = crc32fast::hash(&out);
    out.put_u32(crc);
    let tmp = dir.join(format!("{FILE}.tmp"));
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| io("creating", e))?;
    f.write_all(&out).map_err(|e| io("writing", e))?;
    f.sync_all().map_err(|e| io("syncing", e))?;
    drop(f);
    fs::rename(&tmp, &p).map_err(|e| io("replacing", e))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io("syncing the directory of", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_corruption() {
        let dir = tempfile::tempdir().unwrap();
        assert!(load(dir.path()).unwrap().is_none());
        let mut s = ManifestState::default();
        s.keyspaces.insert(
            "ks".into(),
            KeyspaceDef {
                name: "ks".into(),
                replication: BTreeMap::new(),
                durable_writes: true,
            },
        );
        s.tables.insert(
            1,
            TableDef {
                id: 1,
                keyspace: "ks".into(),
                name: "t".into(),
                key_column: ("id".into(), "text".into()),
                value_column: ("v".into(), "text".into()),
                compression: BTreeMap::new(),
                sstables: vec!["ks-t-1-000001.db".into()],
                flushed_position: [1, 7],
            },
        );
        s.allocate_file();
        store(dir.path(), &s).unwrap();
        assert_eq!(load(dir.path()).unwrap().unwrap(), s);
        let bytes = fs::read(path(dir.path())).unwrap();
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x10;
            assert!(decode(&b).is_err(), "flip at {i} accepted");
        }
        for n in 0..bytes.len() {
            assert!(decode(&bytes[..n]).is_err());
        }
    }
}
