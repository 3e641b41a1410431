//! Blocks: what follows the file header. Each block is a tag, a body length and a checksum of
//! those two, then the body: a chunk frame, or the trailer that seals the file.
#![deny(clippy::indexing_slicing)]

use std::collections::BTreeSet;
use std::path::Path;

use crypta_keys::KeyId;
use crypta_keys::wire::{Reader, WireError, WriteLe};

use crate::CommitLogError;

/// Tag of a block holding a chunk frame.
pub(crate) const TAG_CHUNK: u8 = 1;
/// Tag of the trailer block.
pub(crate) const TAG_TRAILER: u8 = 2;
/// Length of a block header: tag, body length, checksum.
pub(crate) const BLOCK_HEADER_LEN: usize = 9;
/// The longest trailer body accepted.
pub(crate) const MAX_TRAILER_LEN: usize = 1 << 20;

/// Trailer flag: the file was sealed by recovery after a crash; stream bytes after
/// `logical_len` are a record that was being written and is dropped.
const FLAG_RECOVERED: u8 = 1;

/// The block header for a body of `len` bytes.
pub(crate) fn block_header(tag: u8, len: u32) -> [u8; BLOCK_HEADER_LEN] {
    let mut h = [0u8; BLOCK_HEADER_LEN];
    let mut v = Vec::with_capacity(BLOCK_HEADER_LEN);
    v.put_u8(tag);
    v.put_u32(len);
    let crc = crc32fast::hash(&v);
    v.put_u32(crc);
    for (d, s) in h.iter_mut().zip(v) {
        *d = s;
    }
    h
}

/// Appends a block header for a body of `len` bytes.
pub(crate) fn put_block_header(out: &mut Vec<u8>, tag: u8, len: u32) {
    out.extend_from_slice(&block_header(tag, len));
}

/// A decoded block header.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BlockHeader {
    pub tag: u8,
    pub len: usize,
}

/// Why the bytes at a block's offset are not a complete block.
#[derive(Debug)]
pub(crate) enum BlockProblem {
    /// Fewer bytes than the block needs, or zeros to the end of the file: a write cut short.
    Torn(String),
    /// Bytes that cannot be a block.
    Corrupt(String),
}

/// Reads the block header at the start of `rest` (the bytes from the block to the end of the
/// file) and checks the whole block is there.
pub(crate) fn read_block_header(
    rest: &[u8],
    max_chunk_block: usize,
) -> Result<BlockHeader, BlockProblem> {
    if rest.iter().all(|b| *b == 0) {
        return Err(BlockProblem::Torn(format!(
            "{} zero bytes to the end of the file",
            rest.len()
        )));
    }
    let mut r = Reader::new(rest);
    let (Ok(tag), Ok(len), Ok(crc)) = (r.u8("tag"), r.u32("length"), r.u32("crc")) else {
        return Err(BlockProblem::Torn(format!(
            "block header cut after {} of {BLOCK_HEADER_LEN} bytes",
            rest.len()
        )));
    };
    let computed = crc32fast::hash(rest.get(..5).unwrap_or_default());
    if computed != crc {
        return Err(BlockProblem::Corrupt(format!(
            "block header checksum mismatch: stored {crc:08x}, computed {computed:08x}"
        )));
    }
    let len = usize::try_from(len).unwrap_or(usize::MAX);
    let max = match tag {
        TAG_CHUNK => max_chunk_block,
        TAG_TRAILER => MAX_TRAILER_LEN,
        t => return Err(BlockProblem::Corrupt(format!("unknown block tag {t}"))),
    };
    if len > max {
        return Err(BlockProblem::Corrupt(format!(
            "block declares {len} bytes, more than the {max} it may have"
        )));
    }
    let have = rest.len() - BLOCK_HEADER_LEN;
    if have < len {
        return Err(BlockProblem::Torn(format!(
            "block of {len} bytes cut after {have} bytes"
        )));
    }
    Ok(BlockHeader { tag, len })
}

/// What the trailer of a sealed file records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trailer {
    /// Length of the record stream: every record ends at or before it.
    pub logical_len: u64,
    /// Number of records in the file.
    pub records: u64,
    /// Earliest and latest record time (ms since the epoch), if the file has records. The
    /// commit log records write times, hints their creation times.
    pub time_range: Option<(u64, u64)>,
    /// Whether recovery sealed the file after a crash (dropping a partly written record).
    pub recovered: bool,
    /// Every key a chunk of the file was encrypted with.
    pub key_ids: BTreeSet<KeyId>,
}

impl Trailer {
    /// Appends the trailer block (header and body).
    pub(crate) fn encode_block(&self, out: &mut Vec<u8>) {
        let mut body = Vec::new();
        body.put_u64(self.logical_len);
        body.put_u64(self.records);
        let (lo, hi) = self.time_range.unwrap_or((u64::MAX, 0));
        body.put_u64(lo);
        body.put_u64(hi);
        body.put_u8(if self.recovered { FLAG_RECOVERED } else { 0 });
        let ids: Vec<&KeyId> = self.key_ids.iter().take(usize::from(u16::MAX)).collect();
        body.put_u16(u16::try_from(ids.len()).unwrap_or(u16::MAX));
        for id in ids {
            // Key ids are at most 255 bytes (KeyId validates), so this always fits.
            body.put_bytes_u8(id.as_str().as_bytes())
                .unwrap_or_default();
        }
        let crc = crc32fast::hash(&body);
        body.put_u32(crc);
        put_block_header(
            out,
            TAG_TRAILER,
            u32::try_from(body.len()).unwrap_or(u32::MAX),
        );
        out.extend_from_slice(&body);
    }

    /// Decodes a trailer body.
    pub(crate) fn decode(file: &Path, offset: u64, body: &[u8]) -> Result<Trailer, CommitLogError> {
        let corrupt = |reason: String| CommitLogError::corrupt(file, offset, reason);
        let wire = |e: WireError| corrupt(format!("trailer: {e}"));
        let Some(split) = body.len().checked_sub(4) else {
            return Err(corrupt("trailer shorter than its checksum".into()));
        };
        let (content, crc) = body.split_at(split);
        let stored = Reader::new(crc).u32("trailer checksum").map_err(wire)?;
        let computed = crc32fast::hash(content);
        if stored != computed {
            return Err(corrupt(format!(
                "trailer checksum mismatch: stored {stored:08x}, computed {computed:08x}"
            )));
        }
        let mut r = Reader::new(content);
        let logical_len = r.u64("logical length").map_err(wire)?;
        let records = r.u64("record count").map_err(wire)?;
        let lo = r.u64("earliest time").map_err(wire)?;
        let hi = r.u64("latest time").map_err(wire)?;
        let flags = r.u8("flags").map_err(wire)?;
        if flags & !FLAG_RECOVERED != 0 {
            return Err(corrupt(format!("unknown trailer flags {flags:#04x}")));
        }
        let n = r.u16("key id count").map_err(wire)?;
        let mut key_ids = BTreeSet::new();
        for _ in 0..n {
            let raw = r.bytes_u8("key id").map_err(wire)?;
            let id = std::str::from_utf8(raw)
                .ok()
                .and_then(|s| KeyId::new(s).ok())
                .ok_or_else(|| corrupt("trailer key id is not a printable ASCII id".into()))?;
            key_ids.insert(id);
        }
        r.finish("trailer").map_err(wire)?;
        // An empty range (earliest after latest) means no record times were kept.
        let time_range = (records > 0 && lo <= hi).then_some((lo, hi));
        Ok(Trailer {
            logical_len,
            records,
            time_range,
            recovered: flags & FLAG_RECOVERED != 0,
            key_ids,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailer_round_trips() {
        let t = Trailer {
            logical_len: 1234,
            records: 7,
            time_range: Some((5, 9)),
            recovered: true,
            key_ids: [KeyId::new("a").unwrap(), KeyId::new("local-b").unwrap()].into(),
        };
        let mut out = Vec::new();
        t.encode_block(&mut out);
        let h = read_block_header(&out, 0).unwrap();
        assert_eq!(h.tag, TAG_TRAILER);
        let back = Trailer::decode(Path::new("f"), 0, &out[BLOCK_HEADER_LEN..]).unwrap();
        assert_eq!(back, t);
        let mut bad = out.clone();
        bad[BLOCK_HEADER_LEN + 3] ^= 0x10;
        assert!(Trailer::decode(Path::new("f"), 0, &bad[BLOCK_HEADER_LEN..]).is_err());
    }

    #[test]
    fn block_headers_tell_torn_from_corrupt() {
        let mut out = Vec::new();
        put_block_header(&mut out, TAG_CHUNK, 10);
        out.extend_from_slice(&[1; 10]);
        assert!(read_block_header(&out, 100).is_ok());
        for cut in 1..out.len() {
            assert!(matches!(
                read_block_header(&out[..cut], 100),
                Err(BlockProblem::Torn(_))
            ));
        }
        assert!(matches!(
            read_block_header(&out, 5),
            Err(BlockProblem::Corrupt(_))
        ));
        let mut bad = out.clone();
        bad[2] ^= 1;
        assert!(matches!(
            read_block_header(&bad, 100),
            Err(BlockProblem::Corrupt(_))
        ));
        assert!(matches!(
            read_block_header(&[0; 40], 100),
            Err(BlockProblem::Torn(_))
        ));
    }
}
