//! The chunk frame, byte by byte as in `docs/format/chunk.md`.
//!
//! Version 3 (written) has the header of version 2 and compresses each segment of the chunk
//! on its own, so that a read of part of a compressed chunk inflates only the segments it
//! covers. Version 2 (still read) checksums the header and each segment of the payload apart,
//! so that a read of part of a chunk checks only the segments it uses; version 1 (still read)
//! has one CRC32 over the whole frame, at its end.
#![deny(clippy::indexing_slicing)]

use std::ops::Range;

use crypta_keys::wire::{Reader, WireError, WriteLe};
use crypta_keys::{Algorithm, KeyId};

use crate::{CompressionError, Compressor, Mode, Transformation};

/// The frame format version written.
pub const FRAME_VERSION: u8 = 3;

/// log2 of the segment size written: 4 KiB payload segments, each with its own CRC32, and
/// (version 3) 4 KiB plaintext segments, each compressed on its own.
pub const SEGMENT_SHIFT: u8 = 12;

/// log2 of the segment size of frames that are only ever read whole (the commit log's and
/// hints', `ChunkEncoder::for_whole_reads`): 64 KiB, the largest a frame may declare.
pub const WHOLE_READ_SEGMENT_SHIFT: u8 = 16;

/// The segment shifts a frame of version 2 or 3 may declare: 1 KiB to 64 KiB segments (a multiple
/// of every cipher's block size).
const SEGMENT_SHIFTS: std::ops::RangeInclusive<u8> = 10..=16;

/// Bytes of a version 2 or 3 frame besides its key id, IV, segment checksums and payload: the
/// fixed header, the segment shift and the header CRC.
pub const FRAME_FIXED_OVERHEAD: usize = 14 + 1 + 4;

/// The most bytes a frame can add to its plaintext: header, the longest key id and IV, the
/// segment checksums, the worst compression expansion and a padding block or GCM tags.
pub fn max_frame_overhead(plaintext_len: usize) -> usize {
    let max_payload = max_payload(plaintext_len);
    FRAME_FIXED_OVERHEAD + 255 + 16 + 4 * max_payload.div_ceil(1 << SEGMENT_SHIFT) + max_payload
        - plaintext_len
}

/// The longest payload a chunk of `plaintext_len` bytes can need: the worst compression
/// expansion, then a padding block, or a GCM tag per segment (of the smallest segments a
/// frame may declare).
fn max_payload(plaintext_len: usize) -> usize {
    let body = plaintext_len + max_expansion(plaintext_len);
    body + 16 * body.div_ceil(1 << SEGMENT_SHIFTS.start()).max(1)
}

/// The worst growth of `len` bytes through deflate or LZ4.
fn max_expansion(len: usize) -> usize {
    len / 255 + len / 1000 + 64
}

/// The fixed-size part of a frame and the positions of its variable parts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// The frame format version (1, 2 or 3).
    pub version: u8,
    /// Compressor applied to the plaintext, if any.
    pub compressor: Option<Compressor>,
    /// Cipher, if encrypted.
    pub transformation: Option<Transformation>,
    /// CBC in interleaved chains (mode code 4, version 3: the commit log's and hints' CBC;
    /// see `docs/format/chunk.md`), rather than one chain (mode code 2).
    pub interleaved_cbc: bool,
    /// Plaintext length of the chunk.
    pub plaintext_len: usize,
    /// Length of the payload (compressed and/or encrypted bytes, GCM tag included).
    pub payload_len: usize,
    /// The key the chunk was encrypted with.
    pub key_id: Option<KeyId>,
    /// Offset of the IV within the frame.
    pub iv_offset: usize,
    /// IV length (0 for ECB and plaintext).
    pub iv_len: usize,
    /// Length of the header GCM authenticates (its additional authenticated data): versions
    /// 2 and 3 from the version byte to the segment shift, version 1 the whole header.
    pub aad_len: usize,
    /// Versions 2 and 3: the payload segments and where their checksums are.
    pub segments: Option<Segments>,
    /// Offset of the payload within the frame.
    pub payload_offset: usize,
}

/// How a version 2 or 3 frame's payload is cut into checksummed segments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segments {
    /// log2 of the segment size (of plaintext, and of payload but in GCM frames of version 3).
    pub shift: u8,
    /// Payload bytes per checksummed segment: the segment size, or in a GCM frame of version 3
    /// the size of a sealed segment (the segment size and its 16-byte tag), so that each
    /// sealed segment has a checksum of its own.
    pub stride: usize,
    /// Bytes before each segment (but the first) that its checksum covers as well: a CBC
    /// frame's cipher block size (the chaining block its first block decrypts with), else 0
    /// (interleaved CBC's chains start afresh in each segment).
    pub overlap: usize,
    /// Offset of the first segment CRC32 within the frame; the header CRC32 follows the last.
    pub table_offset: usize,
}

impl Segments {
    /// The segment size in bytes (of plaintext: what a read of one segment returns).
    pub fn size(&self) -> usize {
        1 << self.shift
    }
}

/// Payload bytes per checksummed segment of a frame of `version` (see [`Segments::stride`]).
fn stride(version: u8, transformation: Option<Transformation>, shift: u8) -> usize {
    match transformation {
        Some(t) if version >= 3 && t.mode == Mode::Gcm => (1 << shift) + crate::cipher::TAG_LEN,
        _ => 1 << shift,
    }
}

impl FrameHeader {
    /// Total frame length: header (with the checksums) and payload, and for version 1 the
    /// trailing CRC.
    pub fn frame_len(&self) -> usize {
        match self.segments {
            Some(_) => self.payload_offset + self.payload_len,
            None => self.payload_offset + self.payload_len + 4,
        }
    }

    /// The number of payload segments (versions 2 and 3; 0 for version 1).
    pub fn segment_count(&self) -> usize {
        self.segments
            .map_or(0, |s| self.payload_len.div_ceil(s.stride))
    }

    /// The segment shift of a compressed chunk whose segments are compressed one by one
    /// (version 3; `None` for an uncompressed chunk, or a version 1 or 2 frame, whose
    /// compressed chunk is one stream).
    pub fn compressed_segments(&self) -> Option<u8> {
        match (self.version, self.compressor, self.segments) {
            (3.., Some(_), Some(s)) => Some(s.shift),
            _ => None,
        }
    }

    /// The segment shift of a GCM frame whose body is sealed segment by segment (version 3;
    /// `None` for other modes, or a version 2 or 1 frame, whose body is one GCM message).
    pub fn gcm_segments(&self) -> Option<u8> {
        match (self.version, self.transformation, self.segments) {
            (3.., Some(t), Some(s)) if t.mode == Mode::Gcm => Some(s.shift),
            _ => None,
        }
    }

    /// Payload bytes (relative to the payload) segment `i`'s checksum covers.
    fn segment_range(&self, s: &Segments, i: usize) -> Range<usize> {
        segment_bounds(i, s.stride, s.overlap, self.payload_len)
    }
}

fn compressor_code(c: Option<Compressor>) -> u8 {
    match c {
        None => 0,
        Some(Compressor::Deflate) => 1,
        Some(Compressor::Lz4) => 2,
    }
}

fn mode_code(m: Mode, interleaved_cbc: bool) -> u8 {
    match m {
        Mode::Ecb => 1,
        Mode::Cbc if interleaved_cbc => 4,
        Mode::Cbc => 2,
        Mode::Gcm => 3,
    }
}

fn malformed(e: WireError) -> CompressionError {
    CompressionError::Malformed {
        reason: e.to_string(),
    }
}

/// A frame whose header is written and whose payload is being filled in: [`seal`] then
/// writes its checksums.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Unsealed {
    frame_start: usize,
    table_offset: usize,
    payload_start: usize,
    payload_len: usize,
    overlap: usize,
    stride: usize,
}

impl Unsealed {
    /// Where the payload starts in the output buffer.
    pub(crate) fn payload_start(&self) -> usize {
        self.payload_start
    }

    /// Where the frame starts in the output buffer.
    pub(crate) fn frame_start(&self) -> usize {
        self.frame_start
    }

    /// Bytes of the frame's header GCM authenticates, from the frame's start.
    pub(crate) fn aad_range(&self) -> Range<usize> {
        self.frame_start..self.table_offset
    }
}

/// Writes the header of a version 3 frame (everything before the payload) to `out`, with
/// room for its checksums, which [`seal`] writes once the payload follows. `interleaved_cbc`
/// (with a CBC transformation) writes mode code 4; `shift` is the segment shift.
#[expect(
    clippy::too_many_arguments,
    reason = "one argument per header field; a struct would only be built here"
)]
pub(crate) fn write_header(
    out: &mut Vec<u8>,
    compressor: Option<Compressor>,
    transformation: Option<Transformation>,
    interleaved_cbc: bool,
    shift: u8,
    plaintext_len: usize,
    payload_len: usize,
    key_id: Option<&KeyId>,
    iv: &[u8],
) -> Result<Unsealed, CompressionError> {
    if !SEGMENT_SHIFTS.contains(&shift) {
        return Err(CompressionError::Compress {
            reason: format!("segment shift {shift} is outside what a frame may declare"),
        });
    }
    let too_long = |what: &str| CompressionError::Compress {
        reason: format!("{what} does not fit a chunk frame"),
    };
    let frame_start = out.len();
    out.put_u8(FRAME_VERSION);
    out.put_u8(compressor_code(compressor));
    match transformation {
        None => {
            out.put_u8(0);
            out.put_u8(0);
        }
        Some(t) => {
            out.put_u8(t.algorithm.code());
            out.put_u8(mode_code(t.mode, interleaved_cbc));
        }
    }
    out.put_u32(u32::try_from(plaintext_len).map_err(|_| too_long("chunk"))?);
    out.put_u32(u32::try_from(payload_len).map_err(|_| too_long("payload"))?);
    out.put_bytes_u8(key_id.map(|k| k.as_str().as_bytes()).unwrap_or_default())
        .ok_or_else(|| too_long("key id"))?;
    out.put_bytes_u8(iv).ok_or_else(|| too_long("iv"))?;
    out.put_u8(shift);
    let table_offset = out.len();
    let stride = stride(FRAME_VERSION, transformation, shift);
    let segments = payload_len.div_ceil(stride);
    out.resize(table_offset + 4 * segments + 4, 0);
    Ok(Unsealed {
        frame_start,
        table_offset,
        payload_start: out.len(),
        payload_len,
        overlap: chaining_overlap(transformation, interleaved_cbc),
        stride,
    })
}

/// Writes the segment checksums and the header checksum of a frame whose payload is in place
/// in `out`.
pub(crate) fn seal(out: &mut [u8], f: &Unsealed) -> Result<(), CompressionError> {
    let layout = || CompressionError::Compress {
        reason: "chunk frame layout does not fit its buffer".into(),
    };
    let (head, rest) = out
        .split_at_mut_checked(f.payload_start)
        .ok_or_else(layout)?;
    let payload = rest.get(..f.payload_len).ok_or_else(layout)?;
    let table = head
        .get_mut(f.table_offset..f.payload_start)
        .ok_or_else(layout)?;
    let crcs = table
        .get_mut(..table.len().saturating_sub(4))
        .ok_or_else(layout)?;
    for (i, slot) in crcs.chunks_exact_mut(4).enumerate() {
        let covered = segment_bounds(i, f.stride, f.overlap, f.payload_len);
        let crc = crc32fast::hash(payload.get(covered).ok_or_else(layout)?);
        slot.copy_from_slice(&crc.to_le_bytes());
    }
    let crc_at = f.payload_start - 4;
    let crc = crc32fast::hash(head.get(f.frame_start..crc_at).ok_or_else(layout)?);
    head.get_mut(crc_at..f.payload_start)
        .ok_or_else(layout)?
        .copy_from_slice(&crc.to_le_bytes());
    Ok(())
}

/// Recomputes every checksum of the frame at the start of `buf` from its bytes as they are
/// (for [`crate::hazmat::reseal_frame`]); returns the frame's length.
pub(crate) fn reseal(buf: &mut [u8], max_plaintext: usize) -> Result<usize, CompressionError> {
    let h = parse_header(buf, max_plaintext)?;
    match h.segments {
        Some(s) => seal(
            buf,
            &Unsealed {
                frame_start: 0,
                table_offset: s.table_offset,
                payload_start: h.payload_offset,
                payload_len: h.payload_len,
                overlap: s.overlap,
                stride: s.stride,
            },
        )?,
        None => {
            let end = h.payload_offset + h.payload_len;
            let crc = crc32fast::hash(buf.get(..end).ok_or_else(truncated)?);
            buf.get_mut(end..end + 4)
                .ok_or_else(truncated)?
                .copy_from_slice(&crc.to_le_bytes());
        }
    }
    Ok(h.frame_len())
}

/// The payload bytes segment `i`'s checksum covers: the segment, and for `i > 0` the
/// `overlap` bytes before it.
fn segment_bounds(i: usize, stride: usize, overlap: usize, payload_len: usize) -> Range<usize> {
    let start = (i * stride).saturating_sub(if i == 0 { 0 } else { overlap });
    let end = ((i + 1) * stride).min(payload_len);
    start..end
}

/// Bytes before a segment that its checksum covers too (see [`Segments::overlap`]): none in
/// interleaved CBC, whose chains start afresh in each segment.
fn chaining_overlap(t: Option<Transformation>, interleaved_cbc: bool) -> usize {
    match t {
        Some(t) if t.mode == Mode::Cbc && !interleaved_cbc => t.algorithm.block_size(),
        _ => 0,
    }
}

thread_local! {
    /// The last key id [`key_id`] made on this thread: the frames a reader reads one after
    /// another name the same key, and cloning it costs no allocation.
    static LAST_KEY_ID: std::cell::RefCell<Option<KeyId>> = const { std::cell::RefCell::new(None) };
}

/// The key id in `bytes`, if valid (as [`KeyId::new`] checks): the last one made on this
/// thread if `bytes` spell it.
fn key_id(bytes: &[u8]) -> Option<KeyId> {
    LAST_KEY_ID.with(|last| {
        let mut last = last.borrow_mut();
        if let Some(id) = last.as_ref()
            && id.as_str().as_bytes() == bytes
        {
            return Some(id.clone());
        }
        let id = std::str::from_utf8(bytes)
            .ok()
            .and_then(|s| KeyId::new(s).ok())?;
        *last = Some(id.clone());
        Some(id)
    })
}

/// Parses a frame's header from the start of `buf` (which may hold more frames after it),
/// checking every field and that `buf` holds the whole frame. Does not check the CRC.
///
/// `max_plaintext` bounds what the frame may declare (the file's chunk length).
pub fn parse_header(buf: &[u8], max_plaintext: usize) -> Result<FrameHeader, CompressionError> {
    let mut r = Reader::new(buf);
    let version = r.u8("frame version").map_err(malformed)?;
    if !(1..=FRAME_VERSION).contains(&version) {
        return Err(CompressionError::UnsupportedVersion(version));
    }
    let compressor = match r.u8("compressor").map_err(malformed)? {
        0 => None,
        1 => Some(Compressor::Deflate),
        2 => Some(Compressor::Lz4),
        c => {
            return Err(CompressionError::Malformed {
                reason: format!("unknown compressor code {c} at offset 1"),
            });
        }
    };
    let alg = r.u8("algorithm").map_err(malformed)?;
    let mode = r.u8("mode").map_err(malformed)?;
    let interleaved_cbc = mode == 4 && version >= 3;
    let transformation = match (alg, mode) {
        (0, 0) => None,
        (a, m) => {
            let Some(algorithm) = Algorithm::from_code(a) else {
                return Err(CompressionError::Malformed {
                    reason: format!("unknown algorithm code {a} at offset 2"),
                });
            };
            let mode = match (m, algorithm) {
                (1, _) => Mode::Ecb,
                (2, _) => Mode::Cbc,
                (4, _) if interleaved_cbc => Mode::Cbc,
                (3, Algorithm::Aes) => Mode::Gcm,
                _ => {
                    return Err(CompressionError::Malformed {
                        reason: format!("invalid mode code {m} for {algorithm} at offset 3"),
                    });
                }
            };
            let padding = if mode == Mode::Gcm {
                crate::Padding::NoPadding
            } else {
                crate::Padding::Pkcs5
            };
            Some(Transformation {
                algorithm,
                mode,
                padding,
            })
        }
    };
    let plaintext_len = r.u32("plaintext length").map_err(malformed)? as usize;
    if plaintext_len > max_plaintext {
        return Err(CompressionError::ChunkTooLarge {
            declared: plaintext_len,
            max: max_plaintext,
        });
    }
    let payload_len = r.u32("payload length").map_err(malformed)? as usize;
    if payload_len > max_payload(max_plaintext) {
        return Err(CompressionError::Malformed {
            reason: format!(
                "payload length {payload_len} is more than a {max_plaintext}-byte chunk can need"
            ),
        });
    }
    let key_bytes = r.bytes_u8("key id").map_err(malformed)?;
    let key_id = match (key_bytes.is_empty(), transformation.is_some()) {
        (true, false) => None,
        (false, true) => Some(
            key_id(key_bytes).ok_or_else(|| CompressionError::Malformed {
                reason: "key id at offset 13 is not a printable ASCII id".into(),
            })?,
        ),
        (true, true) => {
            return Err(CompressionError::Malformed {
                reason: "encrypted chunk without a key id".into(),
            });
        }
        (false, false) => {
            return Err(CompressionError::Malformed {
                reason: "plaintext chunk with a key id".into(),
            });
        }
    };
    let iv_at = r.position();
    let iv = r.bytes_u8("iv").map_err(malformed)?;
    let want_iv = transformation.map_or(0, Transformation::iv_len);
    if iv.len() != want_iv {
        return Err(CompressionError::Malformed {
            reason: format!(
                "iv of {} bytes at offset {iv_at}, the cipher needs {want_iv}",
                iv.len()
            ),
        });
    }
    let aad_len;
    let segments = if version == 1 {
        aad_len = r.position();
        None
    } else {
        let at = r.position();
        let shift = r.u8("segment shift").map_err(malformed)?;
        if !SEGMENT_SHIFTS.contains(&shift) {
            return Err(CompressionError::Malformed {
                reason: format!(
                    "segment shift {shift} at offset {at} is outside {}..={}",
                    SEGMENT_SHIFTS.start(),
                    SEGMENT_SHIFTS.end()
                ),
            });
        }
        aad_len = r.position();
        let stride = stride(version, transformation, shift);
        let count = payload_len.div_ceil(stride);
        r.take(4 * count + 4, "segment checksums")
            .map_err(malformed)?;
        Some(Segments {
            shift,
            stride,
            overlap: chaining_overlap(transformation, interleaved_cbc),
            table_offset: aad_len,
        })
    };
    let header = FrameHeader {
        version,
        compressor,
        transformation,
        interleaved_cbc,
        plaintext_len,
        payload_len,
        key_id,
        iv_offset: iv_at + 1,
        iv_len: iv.len(),
        aad_len,
        segments,
        payload_offset: r.position(),
    };
    let need = header.frame_len();
    if buf.len() < need {
        return Err(CompressionError::Malformed {
            reason: format!("frame of {need} bytes is truncated to {} bytes", buf.len()),
        });
    }
    Ok(header)
}

fn stored_crc(buf: &[u8], at: usize) -> Result<u32, CompressionError> {
    buf.get(at..at + 4)
        .and_then(|b| b.try_into().ok())
        .map(u32::from_le_bytes)
        .ok_or_else(|| CompressionError::Malformed {
            reason: "frame is truncated".into(),
        })
}

fn compare(
    region: impl FnOnce() -> String,
    stored: u32,
    bytes: &[u8],
) -> Result<(), CompressionError> {
    let computed = crc32fast::hash(bytes);
    if stored != computed {
        return Err(CompressionError::ChecksumMismatch {
            region: region(),
            stored,
            computed,
        });
    }
    Ok(())
}

/// Checks what must hold before any byte of the frame described by `h` at the start of `buf`
/// is used: versions 2 and 3, the header's CRC32 (which covers the segment checksums); version 1, the
/// CRC32 of the whole frame.
pub(crate) fn check_header(buf: &[u8], h: &FrameHeader) -> Result<(), CompressionError> {
    match h.segments {
        Some(_) => {
            let crc_at = h.payload_offset - 4;
            let header = buf.get(..crc_at).ok_or_else(truncated)?;
            compare(|| "the header".into(), stored_crc(buf, crc_at)?, header)
        }
        None => {
            let body_end = h.payload_offset + h.payload_len;
            let body = buf.get(..body_end).ok_or_else(truncated)?;
            compare(|| "the frame".into(), stored_crc(buf, body_end)?, body)
        }
    }
}

/// Checks the checksums of the payload segments that cover payload bytes `range` (versions
/// 2 and 3; version 1 frames were checked whole by [`check_header`]), skipping and then marking
/// those `done` says were checked already (one bit per segment).
pub(crate) fn check_segments(
    buf: &[u8],
    h: &FrameHeader,
    range: Range<usize>,
    done: &mut Vec<u64>,
) -> Result<(), CompressionError> {
    let Some(s) = h.segments else {
        return Ok(());
    };
    if range.is_empty() {
        return Ok(());
    }
    let payload = buf
        .get(h.payload_offset..h.payload_offset + h.payload_len)
        .ok_or_else(truncated)?;
    let last = ((range.end - 1) / s.stride).min(h.segment_count().saturating_sub(1));
    for i in (range.start / s.stride)..=last {
        let (word, bit) = (i / 64, 1u64 << (i % 64));
        if done.len() <= word {
            done.resize(word + 1, 0);
        }
        if done.get(word).is_some_and(|w| w & bit != 0) {
            continue;
        }
        let covered = h.segment_range(&s, i);
        let bytes = payload.get(covered.clone()).ok_or_else(truncated)?;
        let stored = stored_crc(buf, s.table_offset + 4 * i)?;
        compare(
            || {
                format!(
                    "payload segment {i} (frame bytes {}..{})",
                    h.payload_offset + covered.start,
                    h.payload_offset + covered.end
                )
            },
            stored,
            bytes,
        )?;
        if let Some(w) = done.get_mut(word) {
            *w |= bit;
        }
    }
    Ok(())
}

/// Checks every checksum of the frame: header and all segments (versions 2 and 3), or the whole
/// frame's (version 1).
pub(crate) fn check_all(buf: &[u8], h: &FrameHeader) -> Result<(), CompressionError> {
    check_header(buf, h)?;
    let mut done = Vec::new();
    check_segments(buf, h, 0..h.payload_len, &mut done)
}

fn truncated() -> CompressionError {
    CompressionError::Malformed {
        reason: "frame is truncated".into(),
    }
}
