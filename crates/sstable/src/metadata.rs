//! What a table says about itself.

use std::collections::BTreeMap;

use crypta_keys::KeyId;

use crate::format::{Manifest, chunk_count};

/// A table's metadata: from its manifest (plaintext) and its summary (encrypted with the
/// table's key when the table is encrypted).
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Metadata {
    /// The file's format version.
    pub format_version: u8,
    /// The codec class and options the table was written with, without secrets
    /// (`CompressionOptions::to_map`).
    pub options: BTreeMap<String, String>,
    /// Plaintext bytes per chunk.
    pub chunk_length: usize,
    /// Every key the file needs to be read (empty for a plaintext table).
    pub key_ids: Vec<KeyId>,
    /// Entries, tombstones included.
    pub entry_count: u64,
    /// Tombstones.
    pub tombstone_count: u64,
    /// Smallest write timestamp (0 for an empty table).
    pub min_timestamp: i64,
    /// Largest write timestamp (0 for an empty table).
    pub max_timestamp: i64,
    /// Smallest key (`None` for an empty table).
    pub min_key: Option<Vec<u8>>,
    /// Largest key (`None` for an empty table).
    pub max_key: Option<Vec<u8>>,
    /// Plaintext bytes of the entry stream.
    pub data_len: u64,
    /// Data chunks.
    pub data_chunks: u64,
    /// Sampled index entries.
    pub index_entries: u64,
    /// The file's length in bytes.
    pub file_len: u64,
}

impl std::fmt::Debug for Metadata {
    /// Shows key lengths, never key bytes: the keys of an encrypted table are secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metadata")
            .field("format_version", &self.format_version)
            .field("options", &self.options)
            .field("chunk_length", &self.chunk_length)
            .field("key_ids", &self.key_ids)
            .field("entry_count", &self.entry_count)
            .field("tombstone_count", &self.tombstone_count)
            .field("min_timestamp", &self.min_timestamp)
            .field("max_timestamp", &self.max_timestamp)
            .field("min_key_len", &self.min_key.as_ref().map(Vec::len))
            .field("max_key_len", &self.max_key.as_ref().map(Vec::len))
            .field("data_len", &self.data_len)
            .field("data_chunks", &self.data_chunks)
            .field("index_entries", &self.index_entries)
            .field("file_len", &self.file_len)
            .finish()
    }
}

impl Metadata {
    pub(crate) fn new(
        m: &Manifest,
        min_max: Option<(Vec<u8>, Vec<u8>)>,
        file_len: u64,
        format_version: u8,
    ) -> Self {
        let (min_key, max_key) = match min_max {
            Some((a, b)) => (Some(a), Some(b)),
            None => (None, None),
        };
        Metadata {
            format_version,
            options: m.options.clone(),
            chunk_length: m.chunk_length,
            key_ids: m.key_ids.clone(),
            entry_count: m.entry_count,
            tombstone_count: m.tombstone_count,
            min_timestamp: m.min_timestamp,
            max_timestamp: m.max_timestamp,
            min_key,
            max_key,
            data_len: m.data_len,
            data_chunks: chunk_count(m.data_len, m.chunk_length),
            index_entries: m.index_entries,
            file_len,
        }
    }
}
