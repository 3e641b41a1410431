//! Reads a whole log file back: header, chunks (checksum first, then key, cipher,
//! decompression), trailer, and the records of the stream, telling a torn tail from
//! corruption.
#![deny(clippy::indexing_slicing)]

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use crypta_compression::{ChunkDecoder, CompressionError, frame_key_id};
use crypta_keys::{KeyId, KeyProvider};

use super::block::{BLOCK_HEADER_LEN, BlockProblem, TAG_CHUNK, Trailer, read_block_header};
use super::codec::max_chunk_block;
use super::header::decode_header;
use super::record::{Parsed, parse_record};
use super::writer::chunk_key_id;
use crate::{CommitLogError, FileHeader, LogKind};

/// Whether a file may end in a torn tail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TailPolicy {
    /// The file may have been being written when its writer died (the newest file of a log):
    /// an incomplete last block, or a stream ending inside a record, is a torn tail.
    MayBeTorn,
    /// The file must be complete and sealed; anything else is corruption.
    MustBeSealed,
}

/// Where a torn tail starts and why it is one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TornTail {
    /// The file.
    pub file: PathBuf,
    /// Byte offset in the file from which nothing was kept (a block, or the chunk holding
    /// the start of a partly written record).
    pub offset: u64,
    /// What was found there.
    pub reason: String,
}

/// How a decoded file ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileEnd {
    /// With a trailer: the file was completed.
    Sealed(Trailer),
    /// Without a trailer, after its last whole block: the file was still being written (or
    /// its writer stopped between two writes).
    Open,
    /// Without a trailer, cut inside a block or a record.
    Torn(TornTail),
}

/// A whole record of a decoded file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordRef<'a> {
    /// Offset of the record in the file's stream (the concatenated plaintext of its chunks).
    pub offset: u64,
    /// The record's bytes.
    pub data: &'a [u8],
}

/// A log file decoded: its header, plaintext stream, records and how it ends.
pub struct DecodedFile {
    /// The file.
    pub path: PathBuf,
    /// Its header; `None` when the file was torn while its header was being written.
    pub header: Option<FileHeader>,
    /// How it ends.
    pub end: FileEnd,
    /// Keys its chunks were encrypted with (read from the chunk headers).
    pub key_ids: BTreeSet<KeyId>,
    /// Bytes of the file that are a whole header and whole blocks (where recovery cuts).
    pub valid_len: u64,
    /// Offset in the stream after the last whole record.
    pub records_end: u64,
    stream: Vec<u8>,
    /// (stream offset, file offset) of each chunk.
    chunks: Vec<(u64, u64)>,
    /// (stream offset of the record, start of data, end of data) in `stream`.
    records: Vec<(u64, usize, usize)>,
}

impl fmt::Debug for DecodedFile {
    /// Everything but the decrypted bytes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DecodedFile")
            .field("path", &self.path)
            .field("header", &self.header)
            .field("end", &self.end)
            .field("key_ids", &self.key_ids)
            .field("valid_len", &self.valid_len)
            .field("records_end", &self.records_end)
            .field("stream_len", &self.stream.len())
            .field("chunks", &self.chunks.len())
            .field("records", &self.records.len())
            .finish()
    }
}

impl DecodedFile {
    /// The records, in order.
    pub fn records(&self) -> impl ExactSizeIterator<Item = RecordRef<'_>> {
        self.records.iter().map(|&(offset, s, e)| RecordRef {
            offset,
            data: self.stream.get(s..e).unwrap_or_default(),
        })
    }

    /// The torn tail, if the file has one.
    pub fn torn(&self) -> Option<&TornTail> {
        match &self.end {
            FileEnd::Torn(t) => Some(t),
            _ => None,
        }
    }

    /// The file offset of the chunk holding stream offset `at`.
    pub fn file_offset_of(&self, at: u64) -> u64 {
        let i = self.chunks.partition_point(|&(s, _)| s <= at);
        i.checked_sub(1)
            .and_then(|i| self.chunks.get(i))
            .map_or(self.valid_len, |&(_, f)| f)
    }
}

fn chunk_error(path: &Path, offset: u64, source: CompressionError) -> CommitLogError {
    CommitLogError::Chunk {
        file: path.to_path_buf(),
        offset,
        source: Box::new(source),
    }
}

/// Decodes the bytes of the log file `path`. Encrypted chunks get their keys from `keys`.
///
/// Errors name the file and the offset of the damaged block. With
/// [`TailPolicy::MayBeTorn`], an incomplete last block (or zeros to the end, or a last chunk
/// whose checksum fails) ends the file as [`FileEnd::Torn`] instead, and a stream ending
/// inside a record drops that record.
pub fn decode_file(
    path: &Path,
    kind: LogKind,
    bytes: &[u8],
    keys: Option<&dyn KeyProvider>,
    policy: TailPolicy,
) -> Result<DecodedFile, CommitLogError> {
    let corrupt = |offset: u64, reason: String| CommitLogError::corrupt(path, offset, reason);
    let torn = |offset: u64, reason: String| -> Result<FileEnd, CommitLogError> {
        match policy {
            TailPolicy::MayBeTorn => Ok(FileEnd::Torn(TornTail {
                file: path.to_path_buf(),
                offset,
                reason,
            })),
            TailPolicy::MustBeSealed => Err(corrupt(
                offset,
                format!("{reason}, and this file must be complete"),
            )),
        }
    };
    let mut decoded = DecodedFile {
        path: path.to_path_buf(),
        header: None,
        end: FileEnd::Open,
        key_ids: BTreeSet::new(),
        valid_len: 0,
        records_end: 0,
        stream: Vec::new(),
        chunks: Vec::new(),
        records: Vec::new(),
    };
    let (header, header_len) = match decode_header(path, kind, bytes)? {
        Ok(h) => h,
        Err(_) => {
            decoded.end = torn(0, format!("header cut short ({} bytes)", bytes.len()))?;
            return Ok(decoded);
        }
    };
    let chunk_length = header.chunk_length as usize;
    decoded.header = Some(header);
    let decoder = ChunkDecoder::new(chunk_length);
    let mut blocks = Blocks::new(bytes, header_len, chunk_length);
    decoded.end = loop {
        decoded.valid_len = blocks.pos as u64;
        let block = match blocks.next() {
            None => break FileEnd::Open,
            Some(Ok(b)) => b,
            Some(Err((offset, BlockProblem::Torn(reason)))) => break torn(offset, reason)?,
            Some(Err((offset, BlockProblem::Corrupt(reason)))) => {
                return Err(corrupt(offset, reason));
            }
        };
        let offset = block.offset;
        if block.tag != TAG_CHUNK {
            let trailer = Trailer::decode(path, offset, block.body)?;
            if !block.last {
                return Err(corrupt(offset, "bytes after the trailer".into()));
            }
            decoded.valid_len = bytes.len() as u64;
            break FileEnd::Sealed(trailer);
        }
        let start = decoded.stream.len() as u64;
        match decoder.decode(block.body, keys, &mut decoded.stream) {
            Ok(n) if n == block.body.len() => {}
            Ok(n) => {
                return Err(corrupt(
                    offset,
                    format!(
                        "chunk frame of {n} bytes in a block of {}",
                        block.body.len()
                    ),
                ));
            }
            Err(CompressionError::ChecksumMismatch {
                region,
                stored,
                computed,
            }) if block.last && policy == TailPolicy::MayBeTorn => {
                break torn(
                    offset,
                    format!(
                        "last chunk fails the checksum of {region} (stored {stored:08x}, computed {computed:08x}): written only in part"
                    ),
                )?;
            }
            Err(e) => return Err(chunk_error(path, offset, e)),
        }
        if let Some(id) = chunk_key_id(block.body, chunk_length) {
            decoded.key_ids.insert(id);
        }
        decoded.chunks.push((start, offset));
    };
    if decoded.end == FileEnd::Open && policy == TailPolicy::MustBeSealed {
        return Err(corrupt(
            decoded.valid_len,
            "the file ends without a trailer: it was cut short".into(),
        ));
    }
    parse_records(&mut decoded, policy)?;
    Ok(decoded)
}

/// Splits the stream into records, applying the trailer's or the torn-tail rules.
fn parse_records(d: &mut DecodedFile, policy: TailPolicy) -> Result<(), CommitLogError> {
    let stream_len = d.stream.len();
    let limit = match &d.end {
        FileEnd::Sealed(t) => {
            let l = usize::try_from(t.logical_len).unwrap_or(usize::MAX);
            if l > stream_len || (l < stream_len && !t.recovered) {
                return Err(CommitLogError::corrupt(
                    &d.path,
                    d.valid_len,
                    format!(
                        "the trailer records a stream of {} bytes, the chunks hold {stream_len}",
                        t.logical_len
                    ),
                ));
            }
            l
        }
        FileEnd::Open | FileEnd::Torn(_) => stream_len,
    };
    let sealed = matches!(d.end, FileEnd::Sealed(_));
    let mut at = 0usize;
    while at < limit {
        let window = d.stream.get(..limit).unwrap_or_default();
        match parse_record(window, at) {
            Parsed::Record(data, next) => {
                d.records.push((at as u64, next - data.len(), next));
                at = next;
            }
            Parsed::Corrupt(reason) => {
                return Err(CommitLogError::corrupt(
                    &d.path,
                    d.file_offset_of(at as u64),
                    format!("{reason} (record at stream offset {at})"),
                ));
            }
            Parsed::Partial { needed, have } => {
                let reason = format!(
                    "record at stream offset {at} needs {needed} bytes, {have} were written"
                );
                let offset = d.file_offset_of(at as u64);
                if sealed || policy == TailPolicy::MustBeSealed {
                    return Err(CommitLogError::corrupt(&d.path, offset, reason));
                }
                if d.torn().is_none() {
                    d.end = FileEnd::Torn(TornTail {
                        file: d.path.clone(),
                        offset,
                        reason,
                    });
                }
                break;
            }
        }
    }
    d.records_end = at as u64;
    if let FileEnd::Sealed(t) = &d.end
        && t.records != d.records.len() as u64
    {
        return Err(CommitLogError::corrupt(
            &d.path,
            d.valid_len,
            format!(
                "the trailer records {} records, the stream holds {}",
                t.records,
                d.records.len()
            ),
        ));
    }
    Ok(())
}

/// A whole block of a file.
struct Block<'a> {
    offset: u64,
    tag: u8,
    body: &'a [u8],
    /// Whether the block ends at the end of the file.
    last: bool,
}

/// The blocks after a file's header, in order; stops after the first problem.
struct Blocks<'a> {
    bytes: &'a [u8],
    pos: usize,
    max_block: usize,
    done: bool,
}

impl<'a> Blocks<'a> {
    fn new(bytes: &'a [u8], header_len: usize, chunk_length: usize) -> Self {
        Blocks {
            bytes,
            pos: header_len,
            max_block: max_chunk_block(chunk_length),
            done: false,
        }
    }
}

impl<'a> Iterator for Blocks<'a> {
    type Item = Result<Block<'a>, (u64, BlockProblem)>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.bytes.get(self.pos..).unwrap_or_default();
        if self.done || rest.is_empty() {
            return None;
        }
        let offset = self.pos as u64;
        let h = match read_block_header(rest, self.max_block) {
            Ok(h) => h,
            Err(p) => {
                self.done = true;
                return Some(Err((offset, p)));
            }
        };
        let end = BLOCK_HEADER_LEN + h.len;
        self.pos += end;
        Some(Ok(Block {
            offset,
            tag: h.tag,
            body: rest.get(BLOCK_HEADER_LEN..end).unwrap_or_default(),
            last: end == rest.len(),
        }))
    }
}

/// What a log file says about itself without decrypting anything: its header, the keys its
/// chunks name (each chunk's checksum is verified) and its trailer if sealed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileSummary {
    /// The header; `None` if torn.
    pub header: Option<FileHeader>,
    /// Keys named by the chunks.
    pub key_ids: BTreeSet<KeyId>,
    /// The trailer, if the file is sealed.
    pub trailer: Option<Trailer>,
    /// Number of chunks.
    pub chunks: u64,
}

/// Reads a log file's header, chunk key ids and trailer without decrypting (`crypta keys
/// usage`). A torn tail ends the scan; corruption before it is an error.
pub fn summarize_file(
    path: &Path,
    kind: LogKind,
    bytes: &[u8],
) -> Result<FileSummary, CommitLogError> {
    let mut s = FileSummary {
        header: None,
        key_ids: BTreeSet::new(),
        trailer: None,
        chunks: 0,
    };
    let Ok((header, header_len)) = decode_header(path, kind, bytes)? else {
        return Ok(s);
    };
    let chunk_length = header.chunk_length as usize;
    s.header = Some(header);
    for block in Blocks::new(bytes, header_len, chunk_length) {
        let block = match block {
            Ok(b) => b,
            Err((_, BlockProblem::Torn(_))) => break,
            Err((offset, BlockProblem::Corrupt(reason))) => {
                return Err(CommitLogError::corrupt(path, offset, reason));
            }
        };
        if block.tag == TAG_CHUNK {
            match frame_key_id(block.body, chunk_length) {
                Ok(id) => s.key_ids.extend(id),
                Err(_) if block.last => break,
                Err(e) => return Err(chunk_error(path, block.offset, e)),
            }
            s.chunks += 1;
        } else {
            s.trailer = Some(Trailer::decode(path, block.offset, block.body)?);
        }
    }
    Ok(s)
}
