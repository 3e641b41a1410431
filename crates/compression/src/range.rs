//! Reading part of a chunk: a frame is checked once ([`ChunkDecoder::check_frame`]), then any
//! byte range of its plaintext is read ([`CheckedFrame::read`]), decrypting only the cipher
//! blocks that cover it where the frame allows.
//!
//! Which frames allow it: every frame of version 3 but interleaved CBC (mode code 4, which
//! only the logs write and read whole: `check_frame` decodes it whole), and uncompressed
//! plaintext, ECB and CBC frames of version 2. Uncompressed ECB and CBC ciphertext is the chunk block for block,
//! padding only after the end, so plaintext byte `x` lies in ciphertext block `x / block`: ECB
//! decrypts that block alone, CBC decrypts it and XORs the ciphertext block before it (the IV
//! for block 0); plaintext frames are read in place. GCM (version 3) seals each 4 KiB segment
//! of the body as a GCM message of its own (`gcm_segments.rs`): a read opens the segments it
//! covers, each verified by its tag before any of its plaintext is used. Compressed (version
//! 3), the body is a table of where each 4 KiB segment's compressed bytes end, then the
//! segments compressed one by one: `check_frame` decrypts the table, and a read decrypts the
//! bytes of each segment it covers the same way and inflates them. Compressed frames of
//! versions 1 and 2 must be inflated from their start, and a GCM frame of those versions is
//! one GCM message, whose plaintext is released only after the tag over all of it verified
//! (releasing unverified plaintext is what an AEAD forbids): those frames are decoded whole by
//! `check_frame` and reads copy from that.
//!
//! What `check_frame` checks before any read: the header and its checksum (in a version 1
//! frame, the CRC32 of the whole frame), the key by id and its algorithm; for ECB and CBC the
//! ciphertext length (whole blocks, the PKCS#5-padded length of the declared plaintext length)
//! and the padding, by decrypting the last block (after checking the checksum of the segment
//! that holds it); for a compressed chunk, the segment table against the body's length. Each
//! read then checks the checksums of the payload segments it decrypts
//! or copies, once per segment, before using any of their bytes: a read succeeds exactly when
//! everything it depends on is intact, and [`ChunkDecoder::decode`], which checks every
//! segment, fails on any corruption a read could meet. What neither can check: ECB and CBC
//! do not authenticate, so a payload altered with its checksums recomputed decrypts to
//! garbage both ways.
#![deny(clippy::indexing_slicing)]

use std::cell::RefCell;
use std::fmt;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crypta_keys::KeyProvider;

use crate::cipher::{GcmAead, PreparedKey, pkcs5_pad_len};
use crate::codec::key_for_frame;
use crate::compress::{decompress, in_segment, segment_table};
use crate::frame::{check_header, check_segments, parse_header};
use crate::gcm_segments;
use crate::{ChunkDecoder, CompressionError, Compressor, FrameHeader, Mode};

/// A frame whose CRC, key and (for ECB and CBC) padding were checked, ready for reads of its
/// plaintext. It holds the prepared key, never shown by `Debug`; reads take the frame's bytes
/// again (the same bytes that were checked: reads fail if the length or the stored CRC differ).
pub struct CheckedFrame {
    header: FrameHeader,
    /// The header's stored CRC32 (version 1: the frame's) and where it is.
    crc: [u8; 4],
    crc_at: usize,
    /// The payload segments whose checksums were checked, one bit each.
    checked: Vec<u64>,
    kind: Kind,
}

enum Kind {
    /// Uncompressed, not encrypted: the payload is the plaintext.
    Plain,
    /// Uncompressed ECB or CBC: reads decrypt the blocks they cover.
    Blocks(Cipher),
    /// Compressed segment by segment (frame version 3), in plaintext, ECB or CBC: reads
    /// decrypt the compressed bytes of the segments they cover and inflate those.
    Segments {
        compressor: Compressor,
        shift: u8,
        /// Where each segment's compressed bytes are in the body (the decrypted payload).
        ranges: Vec<Range<usize>>,
        cipher: Option<Cipher>,
    },
    /// Compressed in one stream, or GCM in one message (frame versions 1 and 2): decoded whole
    /// at check time.
    Whole(Vec<u8>),
}

/// What [`ChunkDecoder::check_frame_memo`] remembers of one frame: 8 bytes, the header
/// checksum of an ECB or CBC frame whose padding was checked and the body length it gave.
#[derive(Default)]
pub struct FrameMemo(AtomicU64);

impl fmt::Debug for FrameMemo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let held = self.0.load(Ordering::Relaxed) & MEMO_HELD != 0;
        f.debug_struct("FrameMemo").field("held", &held).finish()
    }
}

/// Bit 63: held; bits 32 to 62: the body length; bits 0 to 31: the header checksum.
const MEMO_HELD: u64 = 1 << 63;

impl FrameMemo {
    /// The body length remembered for a frame with header checksum `crc`, if any.
    fn body_len(&self, crc: [u8; 4]) -> Option<usize> {
        let v = self.0.load(Ordering::Relaxed);
        let same = v & MEMO_HELD != 0 && (v as u32) == u32::from_le_bytes(crc);
        same.then_some(((v & !MEMO_HELD) >> 32) as usize)
    }

    fn remember(&self, crc: [u8; 4], body_len: usize) {
        // Bodies are at most a few MiB (the decoder's bound); a longer one is not kept.
        if let Ok(len) = u32::try_from(body_len)
            && len < 1 << 31
        {
            let v = MEMO_HELD | u64::from(len) << 32 | u64::from(u32::from_le_bytes(crc));
            self.0.store(v, Ordering::Relaxed);
        }
    }
}

/// The prepared key of an ECB, CBC or GCM frame, for reads that decrypt some of its blocks
/// or open some of its sealed segments.
struct Cipher {
    key: Arc<PreparedKey>,
    mode: Mode,
    block: usize,
    /// A GCM frame of version 3: the frame's own key.
    frame_key: Option<GcmAead>,
}

impl fmt::Debug for CheckedFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.kind {
            Kind::Plain => "plain",
            Kind::Blocks(_) => "blocks",
            Kind::Segments { .. } => "compressed segments",
            Kind::Whole(_) => "whole",
        };
        f.debug_struct("CheckedFrame")
            .field("header", &self.header)
            .field("kind", &kind)
            .finish_non_exhaustive()
    }
}

impl ChunkDecoder {
    /// Checks the frame at the start of `buf` (everything [`ChunkDecoder::decode`] checks,
    /// in the same order: header, CRC, key, padding or tag, lengths) without decrypting more
    /// of an ECB or CBC frame than its last block and, compressed, its segment table (nothing
    /// of a GCM frame of version 3, but its segment table if compressed); GCM and compressed
    /// frames of versions 1 and 2 are decoded whole here (see the module docs of `range.rs`).
    /// Reads then take any range of the plaintext.
    pub fn check_frame(
        &self,
        buf: &[u8],
        keys: Option<&dyn KeyProvider>,
    ) -> Result<CheckedFrame, CompressionError> {
        self.check_frame_memo(buf, keys, None)
    }

    /// As [`ChunkDecoder::check_frame`], for a reader that checks the same frame again and
    /// again (an SSTable's lookups without a cache): `memo`, kept for this frame, remembers
    /// the body length the padding of an ECB or CBC frame gave, with the header checksum it
    /// was checked under. While the frame's header checksum is the one remembered (checked
    /// against the header first, as always), later checks take the length from the memo
    /// instead of checking the last segment's CRC and decrypting the last block again. Every
    /// other check runs each time; a read of the last segment still checks its CRC. The key
    /// is still fetched by id from `keys` every time, so a key destroyed meanwhile fails the
    /// check. (The key's bytes under an id cannot change: ids name one key for good, a local
    /// key file's are random 128-bit, a KMIP server's unique identifiers are immutable.)
    pub fn check_frame_memo(
        &self,
        buf: &[u8],
        keys: Option<&dyn KeyProvider>,
        memo: Option<&FrameMemo>,
    ) -> Result<CheckedFrame, CompressionError> {
        let header = parse_header(buf, self.max_plaintext)?;
        check_header(buf, &header)?;
        let crc_at = match header.segments {
            Some(_) => header.payload_offset - 4,
            None => header.payload_offset + header.payload_len,
        };
        let crc: [u8; 4] = buf
            .get(crc_at..crc_at + 4)
            .and_then(|c| c.try_into().ok())
            .ok_or_else(truncated)?;
        let mut checked = Vec::new();
        let segmented = header.compressed_segments();
        // Interleaved CBC (the commit log's and hints', read whole by their readers) is
        // decoded whole here too.
        let partial = (header.transformation.is_none_or(|t| t.mode != Mode::Gcm)
            || header.gcm_segments().is_some())
            && (header.compressor.is_none() || segmented.is_some())
            && !header.interleaved_cbc;
        let done = |checked, kind| {
            Ok(CheckedFrame {
                header: header.clone(),
                crc,
                crc_at,
                checked,
                kind,
            })
        };
        if !partial {
            let mut whole = Vec::with_capacity(header.plaintext_len);
            self.decode(buf, keys, &mut whole)?;
            return done(checked, Kind::Whole(whole));
        }
        let (cipher, body_len) = match (header.transformation, header.key_id.as_ref()) {
            (Some(t), Some(id)) => {
                let key = self.cache.prepared(t, &key_for_frame(keys, id)?)?;
                let frame_key = match header.gcm_segments() {
                    Some(_) => {
                        let iv = buf
                            .get(header.iv_offset..header.iv_offset + header.iv_len)
                            .ok_or_else(truncated)?;
                        let k = gcm_segments::frame_key(&key, iv).map_err(|e| e.into_error(id))?;
                        Some(k)
                    }
                    None => None,
                };
                let cipher = Cipher {
                    key,
                    mode: t.mode,
                    block: t.algorithm.block_size(),
                    frame_key,
                };
                let body_len =
                    match header.gcm_segments() {
                        Some(shift) => gcm_segments::body_len(header.payload_len, shift)
                            .ok_or_else(|| CompressionError::DecryptFailed {
                                key_id: id.clone(),
                                reason: "GCM payload length that no sealed segments give",
                            })?,
                        None => match memo.and_then(|m| m.body_len(crc)) {
                            Some(len) => len,
                            None => {
                                let len = cipher.check_padding(buf, &header, id, &mut checked)?;
                                if let Some(m) = memo {
                                    m.remember(crc, len);
                                }
                                len
                            }
                        },
                    };
                (Some(cipher), body_len)
            }
            _ => (None, header.payload_len),
        };
        match (header.compressor, segmented) {
            (Some(compressor), Some(shift)) => {
                let count = header.plaintext_len.div_ceil(1 << shift);
                let mut table = Vec::new();
                let at = 0..(4 * count).min(body_len);
                read_body(buf, &header, cipher.as_ref(), at, &mut checked, &mut table)?;
                let ranges = segment_table(&table, header.plaintext_len, shift, body_len)?;
                done(
                    checked,
                    Kind::Segments {
                        compressor,
                        shift,
                        ranges,
                        cipher,
                    },
                )
            }
            _ if body_len != header.plaintext_len => {
                Err(length_mismatch(body_len, header.plaintext_len))
            }
            _ => done(checked, cipher.map_or(Kind::Plain, Kind::Blocks)),
        }
    }

    fn frame_parts<'a>(buf: &'a [u8], h: &FrameHeader) -> Result<FrameParts<'a>, CompressionError> {
        let payload = buf
            .get(h.payload_offset..h.payload_offset + h.payload_len)
            .ok_or_else(truncated)?;
        let iv = buf
            .get(h.iv_offset..h.iv_offset + h.iv_len)
            .ok_or_else(truncated)?;
        Ok(FrameParts { payload, iv })
    }
}

struct FrameParts<'a> {
    payload: &'a [u8],
    iv: &'a [u8],
}

/// The ciphertext block before the one at `at` (the IV before block 0): CBC's chaining value.
fn previous_block<'a>(frame: &FrameParts<'a>, at: usize, block: usize) -> Option<&'a [u8]> {
    match at.checked_sub(block) {
        Some(p) => frame.payload.get(p..at),
        None => Some(frame.iv),
    }
}

fn decrypt_blocks(
    key: &PreparedKey,
    mode: Mode,
    prev: &[u8],
    ciphertext: &[u8],
    out: &mut [u8],
) -> Result<(), crate::cipher::DecryptFailure> {
    match key {
        PreparedKey::Block(k) => k.decrypt_unpadded(mode, prev, ciphertext, out),
        PreparedKey::Gcm(_) => Err(crate::cipher::DecryptFailure::Length("mode")),
    }
}

fn truncated() -> CompressionError {
    CompressionError::Malformed {
        reason: "frame is truncated".into(),
    }
}

fn length_mismatch(got: usize, declared: usize) -> CompressionError {
    CompressionError::Malformed {
        reason: format!("chunk holds {got} bytes of plaintext, its header declares {declared}"),
    }
}

impl CheckedFrame {
    /// The frame's header.
    pub fn header(&self) -> &FrameHeader {
        &self.header
    }

    /// Bytes of plaintext in the chunk.
    pub fn plaintext_len(&self) -> usize {
        self.header.plaintext_len
    }

    /// The frame's length in bytes.
    pub fn frame_len(&self) -> usize {
        self.header.frame_len()
    }

    /// Whether reads decode only what they cover (every frame of version 3; uncompressed
    /// plaintext, ECB and CBC frames of version 2), rather than copy from a chunk decoded whole.
    pub fn is_partial(&self) -> bool {
        !matches!(self.kind, Kind::Whole(_))
    }

    /// The size of the segments reads check one by one, when reads decode only what they
    /// cover (see [`CheckedFrame::is_partial`]). Reads of plaintext segment `i`, bytes
    /// `i * size .. (i + 1) * size`, use payload segment `i` in an uncompressed ECB, CBC or
    /// plaintext chunk; otherwise the payload segments that hold its sealed GCM segment or its
    /// compressed bytes (one to three), which are opened or inflated whole.
    pub fn segment_len(&self) -> Option<usize> {
        match self.kind {
            Kind::Whole(_) => None,
            _ => self.header.segments.map(|s| s.size()),
        }
    }

    /// The alignment at which [`CheckedFrame::read_over`] decrypts straight into its buffer:
    /// the cipher's block size in an uncompressed ECB or CBC frame, 1 otherwise (where it
    /// makes no difference). GCM frames are read a sealed segment at a time.
    pub fn read_alignment(&self) -> usize {
        match &self.kind {
            Kind::Blocks(cipher) if cipher.frame_key.is_none() => cipher.block,
            _ => 1,
        }
    }

    /// Appends plaintext bytes `range` of the chunk to `out`, first checking the checksums of
    /// the payload segments it needs (each once in the life of this `CheckedFrame`). `frame`
    /// must hold the bytes the frame was checked from (at its start). A range outside the
    /// plaintext is an error; on any error nothing is appended.
    pub fn read(
        &mut self,
        frame: &[u8],
        range: Range<usize>,
        out: &mut Vec<u8>,
    ) -> Result<(), CompressionError> {
        self.check_read(frame, &range)?;
        if range.is_empty() {
            return Ok(());
        }
        let h = &self.header;
        match &self.kind {
            Kind::Whole(plain) => {
                out.extend_from_slice(plain.get(range).ok_or_else(truncated)?);
            }
            Kind::Plain => {
                let parts = ChunkDecoder::frame_parts(frame, h)?;
                check_segments(frame, h, range.clone(), &mut self.checked)?;
                out.extend_from_slice(parts.payload.get(range).ok_or_else(truncated)?);
            }
            Kind::Blocks(cipher) => cipher.read(frame, h, range, &mut self.checked, out)?,
            Kind::Segments {
                compressor,
                shift,
                ranges,
                cipher,
            } => {
                let start = out.len();
                let result = read_segments(
                    frame,
                    h,
                    (*compressor, *shift, ranges, cipher.as_ref()),
                    range,
                    &mut self.checked,
                    out,
                );
                if result.is_err() {
                    out.truncate(start);
                }
                result?;
            }
        }
        Ok(())
    }

    /// As [`CheckedFrame::read`], but `buf` ends up holding bytes `range` alone, and its
    /// current bytes (a buffer reused from an earlier read) are written over rather than
    /// zeroed first: in an uncompressed ECB or CBC frame, a range that starts at a multiple of
    /// [`CheckedFrame::read_alignment`] is decrypted straight into `buf`. On error `buf` is
    /// empty.
    pub fn read_over(
        &mut self,
        frame: &[u8],
        range: Range<usize>,
        buf: &mut Vec<u8>,
    ) -> Result<(), CompressionError> {
        let result = match &self.kind {
            Kind::Blocks(cipher) => self.check_read(frame, &range).and_then(|()| {
                cipher.read_over(frame, &self.header, range, &mut self.checked, buf)
            }),
            _ => {
                buf.clear();
                self.read(frame, range, buf)
            }
        };
        if result.is_err() {
            buf.clear();
        }
        result
    }

    /// Fails unless `range` lies in the plaintext and `frame` looks like the bytes this frame
    /// was checked from (their length and stored CRC).
    fn check_read(&self, frame: &[u8], range: &Range<usize>) -> Result<(), CompressionError> {
        let h = &self.header;
        if range.start > range.end || range.end > h.plaintext_len {
            return Err(CompressionError::Malformed {
                reason: format!(
                    "read of bytes {}..{} of a chunk of {} bytes",
                    range.start, range.end, h.plaintext_len
                ),
            });
        }
        if frame.len() < h.frame_len()
            || frame.get(self.crc_at..self.crc_at + 4) != Some(self.crc.as_slice())
        {
            return Err(CompressionError::Malformed {
                reason: "read from other bytes than the frame checked".into(),
            });
        }
        Ok(())
    }
}

impl Cipher {
    /// The length of the body (the chunk, or its compressed form) of an ECB or CBC frame,
    /// from the padding of its last block, which is decrypted after the checksum of its
    /// segment is checked.
    fn check_padding(
        &self,
        buf: &[u8],
        header: &FrameHeader,
        id: &crypta_keys::KeyId,
        checked: &mut Vec<u64>,
    ) -> Result<usize, CompressionError> {
        let block = self.block;
        let len = header.payload_len;
        if len < block || !len.is_multiple_of(block) {
            return Err(CompressionError::DecryptFailed {
                key_id: id.clone(),
                reason: "ciphertext is not a whole number of blocks",
            });
        }
        let frame = ChunkDecoder::frame_parts(buf, header)?;
        let last_at = len - block;
        check_segments(buf, header, last_at..len, checked)?;
        let (Some(last), Some(prev)) = (
            frame.payload.get(last_at..),
            previous_block(&frame, last_at, block),
        ) else {
            return Err(truncated());
        };
        let mut plain = [0u8; 16];
        let plain = plain.get_mut(..block).ok_or_else(truncated)?;
        decrypt_blocks(&self.key, self.mode, prev, last, plain).map_err(|e| e.into_error(id))?;
        let pad = pkcs5_pad_len(plain).ok_or_else(|| CompressionError::DecryptFailed {
            key_id: id.clone(),
            reason: "invalid padding",
        })?;
        Ok(len - pad)
    }

    /// Appends bytes `range` of the body (the decrypted payload, padding included) to `out`,
    /// decrypting only the cipher blocks that cover it, after checking the checksums of the
    /// payload segments that hold them (and, for CBC, the chaining block before them). On
    /// error nothing is appended.
    fn read(
        &self,
        frame: &[u8],
        h: &FrameHeader,
        range: Range<usize>,
        checked: &mut Vec<u64>,
        out: &mut Vec<u8>,
    ) -> Result<(), CompressionError> {
        if range.is_empty() {
            return Ok(());
        }
        if let (Some(shift), Some(key)) = (h.gcm_segments(), &self.frame_key) {
            return open_segments(key, frame, h, shift, range, checked, out);
        }
        let block = self.block;
        let first = range.start / block * block;
        let end = range.end.div_ceil(block) * block;
        let (ciphertext, prev) = covering_blocks(frame, h, block, first..end, checked)?;
        // Decrypt the covering blocks into the end of `out`, then keep the range.
        let start = out.len();
        out.resize(start + ciphertext.len(), 0);
        let dst = out.get_mut(start..).unwrap_or_default();
        if let Err(e) = self.decrypt_into(h, prev, ciphertext, dst) {
            out.truncate(start);
            return Err(e);
        }
        let lead = range.start - first;
        let n = range.end - range.start;
        out.copy_within(start + lead..start + lead + n, start);
        out.truncate(start + n);
        Ok(())
    }

    /// [`Cipher::read`] into `buf`, replacing its bytes: from a block boundary of an ECB or
    /// CBC frame, the covering blocks are decrypted over `buf`'s current bytes (`resize`
    /// zeroes only what it adds), then `buf` is cut to the range; otherwise `buf` is emptied
    /// and the range appended.
    fn read_over(
        &self,
        frame: &[u8],
        h: &FrameHeader,
        range: Range<usize>,
        checked: &mut Vec<u64>,
        buf: &mut Vec<u8>,
    ) -> Result<(), CompressionError> {
        let block = self.block;
        let first = range.start;
        let end = range.end.div_ceil(block) * block;
        if self.frame_key.is_some() || !first.is_multiple_of(block) || first >= end {
            buf.clear();
            return self.read(frame, h, range, checked, buf);
        }
        let (ciphertext, prev) = covering_blocks(frame, h, block, first..end, checked)?;
        buf.resize(ciphertext.len(), 0);
        self.decrypt_into(h, prev, ciphertext, buf)?;
        buf.truncate(range.end - range.start);
        Ok(())
    }

    /// Decrypts whole blocks `ciphertext` (after `prev`, CBC's chaining block) into `dst`;
    /// an error names the frame's key.
    fn decrypt_into(
        &self,
        h: &FrameHeader,
        prev: &[u8],
        ciphertext: &[u8],
        dst: &mut [u8],
    ) -> Result<(), CompressionError> {
        decrypt_blocks(&self.key, self.mode, prev, ciphertext, dst).map_err(|e| {
            match h.key_id.as_ref() {
                Some(id) => e.into_error(id),
                None => truncated(),
            }
        })
    }
}

/// Payload bytes `blocks` (whole cipher blocks of `block` bytes) and the block before them
/// (the IV before block 0: CBC's chaining value), once the checksums of the payload segments
/// that hold them are checked (the segment of the first block covers the chaining block
/// before it, too).
fn covering_blocks<'a>(
    frame: &'a [u8],
    h: &FrameHeader,
    block: usize,
    blocks: Range<usize>,
    checked: &mut Vec<u64>,
) -> Result<(&'a [u8], &'a [u8]), CompressionError> {
    let parts = ChunkDecoder::frame_parts(frame, h)?;
    check_segments(frame, h, blocks.clone(), checked)?;
    match (
        parts.payload.get(blocks.clone()),
        previous_block(&parts, blocks.start, block),
    ) {
        (Some(ciphertext), Some(prev)) => Ok((ciphertext, prev)),
        _ => Err(truncated()),
    }
}

/// Appends bytes `range` of the body (the payload, decrypted if `cipher` is given) to `out`,
/// after checking the checksums of the payload segments they depend on (see
/// [`Cipher::read`]). On error nothing is appended.
fn read_body(
    frame: &[u8],
    h: &FrameHeader,
    cipher: Option<&Cipher>,
    range: Range<usize>,
    checked: &mut Vec<u64>,
    out: &mut Vec<u8>,
) -> Result<(), CompressionError> {
    match cipher {
        Some(c) => c.read(frame, h, range, checked, out),
        None => {
            check_segments(frame, h, range.clone(), checked)?;
            let payload = ChunkDecoder::frame_parts(frame, h)?.payload;
            out.extend_from_slice(payload.get(range).ok_or_else(truncated)?);
            Ok(())
        }
    }
}

/// [`Cipher::read`] for a GCM frame of version 3 (`key`: the frame's key): opens each sealed
/// segment the range covers (after checking the checksums of the payload segments that hold
/// it), each verified by its tag before any of its plaintext is used, and keeps the range.
fn open_segments(
    key: &GcmAead,
    frame: &[u8],
    h: &FrameHeader,
    shift: u8,
    range: Range<usize>,
    checked: &mut Vec<u64>,
    out: &mut Vec<u8>,
) -> Result<(), CompressionError> {
    let key_id = h.key_id.as_ref().ok_or_else(truncated)?;
    let payload = ChunkDecoder::frame_parts(frame, h)?.payload;
    let aad = frame.get(..h.aad_len).ok_or_else(truncated)?;
    let start = out.len();
    for j in (range.start >> shift)..=((range.end - 1) >> shift) {
        let sealed = gcm_segments::payload_range(j, shift, h.payload_len);
        let opened = check_segments(frame, h, sealed.clone(), checked).and_then(|()| {
            let sealed = payload.get(sealed).ok_or_else(truncated)?;
            let at = out.len();
            gcm_segments::open(key, aad, j, sealed, out).map_err(|e| e.into_error(key_id))?;
            // Keep the part of this segment in `range`.
            let seg_start = j << shift;
            let lo = range.start.max(seg_start) - seg_start;
            let hi = (range.end - seg_start).min(out.len() - at);
            if lo > hi {
                return Err(truncated());
            }
            // A window that starts at the segment (a lookup's, always) keeps it in place.
            if lo > 0 {
                out.copy_within(at + lo..at + hi, at);
            }
            out.truncate(at + hi - lo);
            Ok(())
        });
        if let Err(e) = opened {
            out.truncate(start);
            return Err(e);
        }
    }
    Ok(())
}

thread_local! {
    /// The compressed bytes of a segment being read, decrypted.
    static COMPRESSED: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Appends plaintext bytes `range` of a chunk compressed segment by segment to `out`: for
/// each segment it covers, its compressed bytes (decrypted if the frame is encrypted, their
/// payload segments' checksums checked first) are inflated, and the part in `range` kept.
/// Appends partial output on error (the caller truncates).
fn read_segments(
    frame: &[u8],
    h: &FrameHeader,
    (compressor, shift, ranges, cipher): (Compressor, u8, &[Range<usize>], Option<&Cipher>),
    range: Range<usize>,
    checked: &mut Vec<u64>,
    out: &mut Vec<u8>,
) -> Result<(), CompressionError> {
    let last = (range.end - 1) >> shift;
    for i in (range.start >> shift)..=last {
        let compressed = ranges.get(i).ok_or_else(truncated)?.clone();
        let seg_start = i << shift;
        let seg_len = (h.plaintext_len - seg_start).min(1 << shift);
        let at = out.len();
        COMPRESSED.with(|cell| {
            let mut scratch = cell.borrow_mut();
            scratch.clear();
            read_body(frame, h, cipher, compressed, checked, &mut scratch)?;
            decompress(compressor, &scratch, seg_len, out).map_err(|e| in_segment(i, e))
        })?;
        // Keep the part of this segment in `range`.
        let lo = range.start.max(seg_start) - seg_start;
        let hi = range.end.min(seg_start + seg_len) - seg_start;
        if lo > 0 {
            out.copy_within(at + lo..at + hi, at);
        }
        out.truncate(at + hi - lo);
    }
    Ok(())
}
