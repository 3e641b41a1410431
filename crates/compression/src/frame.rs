//! The chunk frame, byte by byte as in `docs/format/chunk.md`.
#![deny(clippy::indexing_slicing)]

use crypta_keys::wire::{Reader, WireError, WriteLe};
use crypta_keys::{Algorithm, KeyId};

use crate::{CompressionError, Compressor, Mode, Transformation};

/// The frame format version written.
pub const FRAME_VERSION: u8 = 1;

/// Bytes of a frame besides its key id, IV and payload: the fixed header and the CRC.
pub const FRAME_FIXED_OVERHEAD: usize = 14 + 4;

/// The most bytes a frame can add to its plaintext: header, the longest key id and IV, the
/// worst compression expansion, a padding block or GCM tag, and the CRC.
pub fn max_frame_overhead(plaintext_len: usize) -> usize {
    FRAME_FIXED_OVERHEAD + 255 + 16 + max_expansion(plaintext_len) + 16
}

/// The worst growth of `len` bytes through deflate or LZ4.
fn max_expansion(len: usize) -> usize {
    len / 255 + len / 1000 + 64
}

/// The fixed-size part of a frame and the positions of its variable parts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// Compressor applied to the plaintext, if any.
    pub compressor: Option<Compressor>,
    /// Cipher, if encrypted.
    pub transformation: Option<Transformation>,
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
    /// Offset of the payload within the frame (also the length of the authenticated header).
    pub payload_offset: usize,
}

impl FrameHeader {
    /// Total frame length: header, payload and CRC.
    pub fn frame_len(&self) -> usize {
        self.payload_offset + self.payload_len + 4
    }
}

fn compressor_code(c: Option<Compressor>) -> u8 {
    match c {
        None => 0,
        Some(Compressor::Deflate) => 1,
        Some(Compressor::Lz4) => 2,
    }
}

fn mode_code(m: Mode) -> u8 {
    match m {
        Mode::Ecb => 1,
        Mode::Cbc => 2,
        Mode::Gcm => 3,
    }
}

fn malformed(e: WireError) -> CompressionError {
    CompressionError::Malformed {
        reason: e.to_string(),
    }
}

/// Writes the header of a frame (everything before the payload) to `out`.
pub(crate) fn write_header(
    out: &mut Vec<u8>,
    compressor: Option<Compressor>,
    transformation: Option<Transformation>,
    plaintext_len: usize,
    payload_len: usize,
    key_id: Option<&KeyId>,
    iv: &[u8],
) -> Result<(), CompressionError> {
    let too_long = |what: &str| CompressionError::Compress {
        reason: format!("{what} does not fit a chunk frame"),
    };
    out.put_u8(FRAME_VERSION);
    out.put_u8(compressor_code(compressor));
    match transformation {
        None => {
            out.put_u8(0);
            out.put_u8(0);
        }
        Some(t) => {
            out.put_u8(t.algorithm.code());
            out.put_u8(mode_code(t.mode));
        }
    }
    out.put_u32(u32::try_from(plaintext_len).map_err(|_| too_long("chunk"))?);
    out.put_u32(u32::try_from(payload_len).map_err(|_| too_long("payload"))?);
    out.put_bytes_u8(key_id.map(|k| k.as_str().as_bytes()).unwrap_or_default())
        .ok_or_else(|| too_long("key id"))?;
    out.put_bytes_u8(iv).ok_or_else(|| too_long("iv"))?;
    Ok(())
}

/// Parses a frame's header from the start of `buf` (which may hold more frames after it),
/// checking every field and that `buf` holds the whole frame. Does not check the CRC.
///
/// `max_plaintext` bounds what the frame may declare (the file's chunk length).
pub fn parse_header(buf: &[u8], max_plaintext: usize) -> Result<FrameHeader, CompressionError> {
    let mut r = Reader::new(buf);
    let version = r.u8("frame version").map_err(malformed)?;
    if version != FRAME_VERSION {
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
    let max_payload = max_plaintext + max_expansion(max_plaintext) + 16;
    if payload_len > max_payload {
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
            std::str::from_utf8(key_bytes)
                .ok()
                .and_then(|s| KeyId::new(s).ok())
                .ok_or_else(|| CompressionError::Malformed {
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
    let header = FrameHeader {
        compressor,
        transformation,
        plaintext_len,
        payload_len,
        key_id,
        iv_offset: iv_at + 1,
        iv_len: iv.len(),
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

/// Checks the CRC32 of the frame described by `h` at the start of `buf`.
pub(crate) fn check_crc(buf: &[u8], h: &FrameHeader) -> Result<(), CompressionError> {
    let body_end = h.payload_offset + h.payload_len;
    let (Some(body), Some(crc)) = (buf.get(..body_end), buf.get(body_end..body_end + 4)) else {
        return Err(CompressionError::Malformed {
            reason: "frame is truncated".into(),
        });
    };
    let stored = u32::from_le_bytes(crc.try_into().unwrap_or_default());
    let computed = crc32fast::hash(body);
    if stored != computed {
        return Err(CompressionError::ChecksumMismatch { stored, computed });
    }
    Ok(())
}
