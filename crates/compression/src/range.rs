//! Reading part of a chunk: a frame is checked once ([`ChunkDecoder::check_frame`]), then any
//! byte range of its plaintext is read ([`CheckedFrame::read`]), decrypting only the cipher
//! blocks that cover it where the frame allows.
//!
//! Which frames allow it: uncompressed ECB and CBC (the `Encryptor` class). Their ciphertext
//! is the chunk block for block, padding only after the end, so plaintext byte `x` lies in
//! ciphertext block `x / block`: ECB decrypts that block alone, CBC decrypts it and XORs the
//! ciphertext block before it (the IV for block 0). Uncompressed plaintext frames are read in
//! place. Compressed frames must be inflated from their start, and GCM's tag covers the whole
//! chunk: a GCM plaintext byte is released only after the tag over all of them verified
//! (releasing unverified plaintext is what an AEAD forbids), so those frames are decoded whole
//! by `check_frame` and reads copy from that.
//!
//! What `check_frame` checks before any read: the header and its checksum (in a version 1
//! frame, the CRC32 of the whole frame), the key by id and its algorithm; for ECB and CBC the
//! ciphertext length (whole blocks, the PKCS#5-padded length of the declared plaintext length)
//! and the padding, by decrypting the last block (after checking the checksum of the segment
//! that holds it). Each read then checks the checksums of the payload segments it decrypts
//! or copies, once per segment, before using any of their bytes: a read succeeds exactly when
//! everything it depends on is intact, and [`ChunkDecoder::decode`], which checks every
//! segment, fails on any corruption a read could meet. What neither can check: ECB and CBC
//! do not authenticate, so a payload altered with its checksums recomputed decrypts to
//! garbage both ways.
#![deny(clippy::indexing_slicing)]

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use crypta_keys::KeyProvider;

use crate::cipher::{PreparedKey, pkcs5_pad_len};
use crate::codec::key_for_frame;
use crate::frame::{check_header, check_segments, parse_header};
use crate::{ChunkDecoder, CompressionError, FrameHeader, Mode};

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
    Blocks {
        key: Arc<PreparedKey>,
        mode: Mode,
        block: usize,
    },
    /// Compressed or GCM: decoded whole at check time.
    Whole(Vec<u8>),
}

impl fmt::Debug for CheckedFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.kind {
            Kind::Plain => "plain",
            Kind::Blocks { .. } => "blocks",
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
    /// than one block of an ECB or CBC frame; compressed and GCM frames are decoded whole here
    /// (see the module docs of `range.rs`). Reads then take any range of the plaintext.
    pub fn check_frame(
        &self,
        buf: &[u8],
        keys: Option<&dyn KeyProvider>,
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
        let partial = header.compressor.is_none()
            && header.transformation.is_none_or(|t| t.mode != Mode::Gcm);
        if !partial {
            let mut whole = Vec::with_capacity(header.plaintext_len);
            self.decode(buf, keys, &mut whole)?;
            return Ok(CheckedFrame {
                header,
                crc,
                crc_at,
                checked,
                kind: Kind::Whole(whole),
            });
        }
        let (Some(t), Some(id)) = (header.transformation, header.key_id.as_ref()) else {
            if header.payload_len != header.plaintext_len {
                return Err(length_mismatch(header.payload_len, header.plaintext_len));
            }
            return Ok(CheckedFrame {
                header,
                crc,
                crc_at,
                checked,
                kind: Kind::Plain,
            });
        };
        let key = key_for_frame(keys, id)?;
        let prepared = self.cache.prepared(t, &key)?;
        let block = t.algorithm.block_size();
        let len = header.payload_len;
        if len < block || len % block != 0 {
            return Err(CompressionError::DecryptFailed {
                key_id: id.clone(),
                reason: "ciphertext is not a whole number of blocks",
            });
        }
        // The last block: its padding says how long the plaintext is.
        let frame = Self::frame_parts(buf, &header)?;
        let last_at = len - block;
        check_segments(buf, &header, last_at..len, &mut checked)?;
        let (Some(last), Some(prev)) = (
            frame.payload.get(last_at..),
            previous_block(&frame, last_at, block),
        ) else {
            return Err(truncated());
        };
        let mut plain = [0u8; 16];
        let plain = plain.get_mut(..block).ok_or_else(truncated)?;
        decrypt_blocks(&prepared, t.mode, prev, last, plain).map_err(|e| e.into_error(id))?;
        let pad = pkcs5_pad_len(plain).ok_or_else(|| CompressionError::DecryptFailed {
            key_id: id.clone(),
            reason: "invalid padding",
        })?;
        if len - pad != header.plaintext_len {
            return Err(length_mismatch(len - pad, header.plaintext_len));
        }
        Ok(CheckedFrame {
            header,
            crc,
            crc_at,
            checked,
            kind: Kind::Blocks {
                key: prepared,
                mode: t.mode,
                block,
            },
        })
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

    /// Whether reads decode only what they cover (uncompressed plaintext, ECB and CBC
    /// frames), rather than copy from a chunk decoded whole.
    pub fn is_partial(&self) -> bool {
        !matches!(self.kind, Kind::Whole(_))
    }

    /// The size of the payload segments reads check one by one, when reads decode only what
    /// they cover (a version 2 frame that is not compressed or GCM): plaintext segment `i`,
    /// bytes `i * size .. (i + 1) * size`, lies in payload segment `i`.
    pub fn segment_len(&self) -> Option<usize> {
        match self.kind {
            Kind::Whole(_) => None,
            _ => self.header.segments.map(|s| s.size()),
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
        if range.is_empty() {
            return Ok(());
        }
        match &self.kind {
            Kind::Whole(plain) => {
                out.extend_from_slice(plain.get(range).ok_or_else(truncated)?);
            }
            Kind::Plain => {
                let parts = ChunkDecoder::frame_parts(frame, h)?;
                check_segments(frame, h, range.clone(), &mut self.checked)?;
                out.extend_from_slice(parts.payload.get(range).ok_or_else(truncated)?);
            }
            Kind::Blocks { key, mode, block } => {
                let block = *block;
                let parts = ChunkDecoder::frame_parts(frame, h)?;
                let first = range.start / block * block;
                let end = range.end.div_ceil(block) * block;
                // The segment of `first` covers the CBC chaining block before it, too.
                check_segments(frame, h, first..end, &mut self.checked)?;
                let (Some(ciphertext), Some(prev)) = (
                    parts.payload.get(first..end),
                    previous_block(&parts, first, block),
                ) else {
                    return Err(truncated());
                };
                // Decrypt the covering blocks into the end of `out`, then keep the range.
                let start = out.len();
                out.resize(start + ciphertext.len(), 0);
                let dst = out.get_mut(start..).unwrap_or_default();
                if let Err(e) = decrypt_blocks(key, *mode, prev, ciphertext, dst) {
                    out.truncate(start);
                    let key_id = h.key_id.as_ref().ok_or_else(truncated)?;
                    return Err(e.into_error(key_id));
                }
                let lead = range.start - first;
                let n = range.end - range.start;
                out.copy_within(start + lead..start + lead + n, start);
                out.truncate(start + n);
            }
        }
        Ok(())
    }
}
