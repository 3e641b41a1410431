//! Writes one log file: header, chunk blocks, trailer.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crypta_compression::parse_header;
use crypta_keys::{Key, KeyId};

use super::block::{BLOCK_HEADER_LEN, TAG_CHUNK, Trailer, block_header};
use super::codec::max_chunk_block;
use super::reader::DecodedFile;
use crate::{CommitLogError, FileHeader, LogCodec, LogFile, LogStorage};

/// How a file is sealed: what its trailer says beyond what the writer knows itself.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SealInfo {
    /// Records in the file.
    pub records: u64,
    /// Earliest and latest record time, if any.
    pub time_range: Option<(u64, u64)>,
}

/// Appends chunks to one log file. After any error the writer must not be used again: what
/// reached the file is unknown.
pub struct LogWriter {
    path: PathBuf,
    file: Box<dyn LogFile>,
    codec: Arc<LogCodec>,
    file_len: u64,
    logical_len: u64,
    key_ids: BTreeSet<KeyId>,
    out: Vec<u8>,
    recovered: bool,
}

impl fmt::Debug for LogWriter {
    /// Path, sizes and key ids; never the buffered bytes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogWriter")
            .field("path", &self.path)
            .field("file_len", &self.file_len)
            .field("logical_len", &self.logical_len)
            .field("key_ids", &self.key_ids)
            .field("recovered", &self.recovered)
            .finish_non_exhaustive()
    }
}

impl LogWriter {
    /// Creates the file at `path`, writes `header`, and makes both durable (the file and its
    /// directory entry) before returning.
    pub fn create(
        storage: &dyn LogStorage,
        path: &Path,
        header: &FileHeader,
        codec: Arc<LogCodec>,
    ) -> Result<Self, CommitLogError> {
        if header.chunk_length as usize != codec.chunk_length() {
            return Err(CommitLogError::Config {
                reason: format!(
                    "header chunk length {} differs from the codec's {}",
                    header.chunk_length,
                    codec.chunk_length()
                ),
            });
        }
        let mut file = storage
            .create(path)
            .map_err(CommitLogError::io(path, "creating"))?;
        let mut out = Vec::with_capacity(header.encoded_len());
        header.encode(&mut out);
        file.append(&out)
            .map_err(CommitLogError::io(path, "writing the header of"))?;
        file.sync().map_err(CommitLogError::io(path, "syncing"))?;
        let dir = path.parent().unwrap_or(Path::new("."));
        storage
            .sync_dir(dir)
            .map_err(CommitLogError::io(dir, "syncing the directory"))?;
        Ok(LogWriter {
            path: path.to_path_buf(),
            file,
            codec,
            file_len: out.len() as u64,
            logical_len: 0,
            key_ids: BTreeSet::new(),
            out,
            recovered: false,
        })
    }

    /// Reopens a file that recovery decoded, cutting off its torn tail, so that it can be
    /// sealed. Stream bytes after the last whole record are dropped by the trailer.
    pub fn reopen_for_seal(
        storage: &dyn LogStorage,
        decoded: &DecodedFile,
        codec: Arc<LogCodec>,
    ) -> Result<Self, CommitLogError> {
        let path = decoded.path.clone();
        let file = storage
            .reopen_truncated(&path, decoded.valid_len)
            .map_err(CommitLogError::io(&path, "truncating the torn tail of"))?;
        Ok(LogWriter {
            path,
            file,
            codec,
            file_len: decoded.valid_len,
            logical_len: decoded.records_end,
            key_ids: decoded.key_ids.clone(),
            out: Vec::new(),
            recovered: true,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes in the file.
    pub fn file_len(&self) -> u64 {
        self.file_len
    }

    /// Bytes of record stream written.
    pub fn logical_len(&self) -> u64 {
        self.logical_len
    }

    /// Keys the chunks written so far were encrypted with.
    pub fn key_ids(&self) -> &BTreeSet<KeyId> {
        &self.key_ids
    }

    /// Appends `stream` (record bytes; it may end inside a record that the next call
    /// continues) as chunks of at most the codec's chunk length, in one write. The key is
    /// asked of the provider for every chunk (a rotated key is used from the next chunk on);
    /// chunks under the same key are encoded together (`ChunkEncoder::encode_batch_spaced`;
    /// the log's CBC is interleaved, parallel within each chunk).
    pub fn write(&mut self, stream: &[u8]) -> Result<(), CommitLogError> {
        if stream.is_empty() {
            return Ok(());
        }
        let mut out = std::mem::take(&mut self.out);
        out.clear();
        let result = encode_stream(&self.codec, &self.path, stream, &mut out)
            .and_then(|ids| self.write_encoded(&out, stream.len() as u64, ids));
        self.out = out;
        result
    }

    /// Appends blocks that [`encode_stream`] made for this file from `logical_len` bytes of
    /// stream with the keys `key_ids`, in one write.
    pub(crate) fn write_encoded(
        &mut self,
        blocks: &[u8],
        logical_len: u64,
        key_ids: BTreeSet<KeyId>,
    ) -> Result<(), CommitLogError> {
        self.file
            .append(blocks)
            .map_err(CommitLogError::io(&self.path, "writing"))?;
        self.file_len += blocks.len() as u64;
        self.logical_len += logical_len;
        self.key_ids.extend(key_ids);
        Ok(())
    }

    /// Makes everything written durable.
    pub fn sync(&mut self) -> Result<(), CommitLogError> {
        self.file
            .sync()
            .map_err(CommitLogError::io(&self.path, "syncing"))
    }

    /// Writes the trailer and syncs: the file is complete. Returns its length.
    pub fn seal(mut self, info: SealInfo) -> Result<u64, CommitLogError> {
        let trailer = Trailer {
            logical_len: self.logical_len,
            records: info.records,
            time_range: info.time_range,
            recovered: self.recovered,
            key_ids: std::mem::take(&mut self.key_ids),
        };
        self.out.clear();
        trailer.encode_block(&mut self.out);
        self.file
            .append(&self.out)
            .map_err(CommitLogError::io(&self.path, "writing the trailer of"))?;
        self.sync()?;
        Ok(self.file_len + self.out.len() as u64)
    }
}

/// Encodes `stream` as the chunk blocks of `file` (see [`LogWriter::write`]), appending them
/// to `out`; returns the ids of the keys used. Pure: it may run on any thread, ahead of the
/// write.
pub(crate) fn encode_stream(
    codec: &LogCodec,
    file: &Path,
    stream: &[u8],
    out: &mut Vec<u8>,
) -> Result<BTreeSet<KeyId>, CommitLogError> {
    let mut ids = BTreeSet::new();
    let chunks: Vec<&[u8]> = stream.chunks(codec.chunk_length()).collect();
    let mut keys = Vec::with_capacity(chunks.len());
    for _ in &chunks {
        keys.push(codec.current_key(file)?);
    }
    let mut done = 0;
    while let Some(key) = keys.get(done) {
        let same = keys
            .get(done..)
            .unwrap_or_default()
            .iter()
            .take_while(|k| same_key(k, key))
            .count();
        let group = chunks.get(done..done + same).unwrap_or_default();
        encode_group(codec, file, group, key.as_ref(), out)?;
        if let Some(k) = key {
            ids.insert(k.id().clone());
        }
        done += same.max(1);
    }
    Ok(ids)
}

/// Appends the blocks of `chunks`, all under `key`, to `out`.
fn encode_group(
    codec: &LogCodec,
    file: &Path,
    chunks: &[&[u8]],
    key: Option<&Arc<Key>>,
    out: &mut Vec<u8>,
) -> Result<(), CommitLogError> {
    let max_block = max_chunk_block(codec.chunk_length());
    let mut at = out.len();
    let lens = codec
        .encoder()
        .encode_batch_spaced(chunks, key, BLOCK_HEADER_LEN, out)
        .map_err(|source| CommitLogError::Encode {
            file: file.to_path_buf(),
            source: Box::new(source),
        })?;
    // Each frame follows the room left for its block header, which now gets its length.
    for n in lens {
        if n > max_block {
            return Err(CommitLogError::Config {
                reason: format!("a frame of {n} bytes exceeds the {max_block} a block holds"),
            });
        }
        let header = block_header(TAG_CHUNK, u32::try_from(n).unwrap_or(u32::MAX));
        if let Some(slot) = out.get_mut(at..at + BLOCK_HEADER_LEN) {
            slot.copy_from_slice(&header);
        }
        at += BLOCK_HEADER_LEN + n;
    }
    Ok(())
}

/// Whether two chunks get the same key (the same key id from the provider, or none).
fn same_key(a: &Option<Arc<Key>>, b: &Option<Arc<Key>>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => Arc::ptr_eq(a, b) || a.id() == b.id(),
        (None, None) => true,
        _ => false,
    }
}

/// The key id a chunk frame names, read from its header without decrypting.
pub(crate) fn chunk_key_id(frame: &[u8], chunk_length: usize) -> Option<KeyId> {
    parse_header(frame, chunk_length)
        .ok()
        .and_then(|h| h.key_id)
}
