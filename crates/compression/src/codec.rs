//! Chunk encoder and decoder: compress, encrypt, frame; and back, checking everything.
#![deny(clippy::indexing_slicing)]

mod batch;
#[cfg(test)]
mod key_cache_tests;

use std::cell::RefCell;
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

use crypta_keys::{Key, KeyId, KeyProvider};

use crate::cipher::{PreparedKey, ciphertext_len, prepare};
use crate::compress::{compress_segments, decompress, decompress_segments};
use crate::frame::{
    SEGMENT_SHIFT, WHOLE_READ_SEGMENT_SHIFT, check_all, check_header, parse_header, seal,
    write_header,
};
use crate::{CompressionError, CompressionOptions, Compressor, Mode, Transformation, gcm_segments};

/// How many prepared keys a codec keeps (key schedules are cheap for AES, not for Blowfish).
const CACHE_CAP: usize = 64;

thread_local! {
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Prepared keys by (key, transformation), each remembered with the `Arc<Key>` it was made
/// from and served only for that same `Arc`, so that a key the provider hands out anew
/// (reloaded, destroyed) is never served stale.
///
/// Looked up on every chunk: a shared lock and a scan comparing `Arc` pointers and
/// transformations (a codec sees a handful of keys), so a hit neither hashes nor clones the
/// key id nor allocates. A miss prepares the key outside the lock (Blowfish's key schedule is
/// slow) and replaces the entry of the same key id and transformation, if any.
#[derive(Default)]
pub(crate) struct KeyCache {
    entries: RwLock<Vec<CacheEntry>>,
}

struct CacheEntry {
    key: Arc<Key>,
    transformation: Transformation,
    prepared: Arc<PreparedKey>,
}

impl KeyCache {
    pub(crate) fn prepared(
        &self,
        t: Transformation,
        key: &Arc<Key>,
    ) -> Result<Arc<PreparedKey>, CompressionError> {
        {
            let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(e) = entries
                .iter()
                .find(|e| Arc::ptr_eq(&e.key, key) && e.transformation == t)
            {
                return Ok(e.prepared.clone());
            }
        }
        let prepared = Arc::new(prepare(t, key)?);
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        let same = entries
            .iter_mut()
            .find(|e| e.transformation == t && e.key.id() == key.id());
        match same {
            Some(e) => {
                e.key = key.clone();
                e.prepared = prepared.clone();
            }
            None => {
                if entries.len() >= CACHE_CAP {
                    entries.clear();
                }
                entries.push(CacheEntry {
                    key: key.clone(),
                    transformation: t,
                    prepared: prepared.clone(),
                });
            }
        }
        Ok(prepared)
    }
}

/// Turns chunks of plaintext into frames, as a table's compression options say.
pub struct ChunkEncoder {
    compressor: Option<Compressor>,
    transformation: Option<Transformation>,
    /// CBC frames in interleaved chains (mode code 4), see [`ChunkEncoder::for_whole_reads`].
    interleaved_cbc: bool,
    /// The segment shift written.
    shift: u8,
    chunk_length: usize,
    cache: KeyCache,
}

impl fmt::Debug for ChunkEncoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChunkEncoder")
            .field("compressor", &self.compressor)
            .field("transformation", &self.transformation)
            .field("interleaved_cbc", &self.interleaved_cbc)
            .field("shift", &self.shift)
            .field("chunk_length", &self.chunk_length)
            .finish_non_exhaustive()
    }
}

impl ChunkEncoder {
    /// An encoder for `options`.
    pub fn new(options: &CompressionOptions) -> Self {
        ChunkEncoder {
            compressor: options.class.compressor(),
            transformation: options.encryption.as_ref().map(|e| e.transformation),
            interleaved_cbc: false,
            shift: SEGMENT_SHIFT,
            chunk_length: options.chunk_length(),
            cache: KeyCache::default(),
        }
    }

    /// This encoder, for frames that are only ever decoded whole, as a log's are (the commit
    /// log, hints; an SSTable's lookups read 4 KiB segments of their frames):
    /// - CBC in interleaved chains (frame mode code 4, `docs/format/chunk.md`: 64 CBC chains
    ///   per segment, each from its own IV) instead of one chain per chunk. The chains encrypt
    ///   side by side, so a chunk encrypts several times faster than in one chain, which runs
    ///   at the cipher's latency;
    /// - segments of 64 KiB instead of 4 KiB: one GCM message, one CRC32 and one set of
    ///   chain IVs per 64 KiB instead of per 4 KiB (what 4 KiB segments buy, reading part of a
    ///   frame, such frames do not use).
    #[must_use]
    pub fn for_whole_reads(mut self) -> Self {
        self.interleaved_cbc = true;
        self.shift = WHOLE_READ_SEGMENT_SHIFT;
        self
    }

    /// Whether CBC frames are written in interleaved chains.
    fn interleaves(&self, t: Transformation) -> bool {
        self.interleaved_cbc && t.mode == Mode::Cbc
    }

    /// Plaintext bytes per chunk: callers cut their data into chunks of at most this.
    pub fn chunk_length(&self) -> usize {
        self.chunk_length
    }

    /// Whether frames are encrypted (and `encode` needs a key).
    pub fn encrypts(&self) -> bool {
        self.transformation.is_some()
    }

    /// Appends the frame of one chunk to `out` and returns its length. `key` must be given
    /// exactly when the encoder encrypts, and be a key of the transformation's algorithm.
    pub fn encode(
        &self,
        plaintext: &[u8],
        key: Option<&Arc<Key>>,
        out: &mut Vec<u8>,
    ) -> Result<usize, CompressionError> {
        if plaintext.len() > self.chunk_length {
            return Err(CompressionError::ChunkTooLarge {
                declared: plaintext.len(),
                max: self.chunk_length,
            });
        }
        let start = out.len();
        let prepared = match (self.transformation, key) {
            (Some(t), Some(k)) => Some((t, k, self.cache.prepared(t, k)?)),
            (None, None) => None,
            (Some(_), None) => {
                return Err(CompressionError::KeyRequired(
                    "this codec encrypts: a key is required",
                ));
            }
            (None, Some(_)) => {
                return Err(CompressionError::KeyRequired(
                    "this codec does not encrypt: no key may be given",
                ));
            }
        };
        SCRATCH.with(|cell| {
            let mut scratch = cell.borrow_mut();
            scratch.clear();
            let (compressor, body) =
                compress_if_smaller(self.compressor, plaintext, self.shift, &mut scratch)?;
            let frame = match prepared {
                None => {
                    let frame = write_header(
                        out,
                        compressor,
                        None,
                        false,
                        self.shift,
                        plaintext.len(),
                        body.len(),
                        None,
                        &[],
                    )?;
                    out.extend_from_slice(body);
                    frame
                }
                Some((t, key, p)) => {
                    let mut iv = [0u8; 16];
                    let iv = iv.get_mut(..t.iv_len()).unwrap_or_default();
                    getrandom::fill(iv).map_err(|e| CompressionError::Rng(e.to_string()))?;
                    let payload_len = match t.mode {
                        Mode::Gcm => gcm_segments::payload_len(body.len(), self.shift),
                        _ => ciphertext_len(t, body.len()),
                    };
                    let interleaved = self.interleaves(t);
                    let frame = write_header(
                        out,
                        compressor,
                        Some(t),
                        interleaved,
                        self.shift,
                        plaintext.len(),
                        payload_len,
                        Some(key.id()),
                        iv,
                    )?;
                    let header_end = out.len();
                    out.resize(header_end + payload_len, 0);
                    // The header up to the segment shift is GCM's additional authenticated
                    // data (the checksums after it are of the ciphertext).
                    let (head, payload) = out.split_at_mut(header_end);
                    let aad = head.get(frame.aad_range()).unwrap_or_default();
                    let sealed = match t.mode {
                        // GCM seals the body 4 KiB segment by segment, under the frame's
                        // own key (derived from the key and the frame's random IV).
                        Mode::Gcm => gcm_segments::frame_key(&p, iv)
                            .and_then(|k| gcm_segments::seal(&k, aad, body, self.shift, payload)),
                        Mode::Cbc if interleaved => {
                            p.encrypt_interleaved(iv, 1 << self.shift, body, payload)
                        }
                        _ => p.encrypt(t.mode, iv, aad, body, payload),
                    };
                    sealed.map_err(|e| CompressionError::Compress {
                        reason: format!("encryption with key {} failed: {e:?}", key.id()),
                    })?;
                    frame
                }
            };
            seal(out, &frame)?;
            Ok(out.len() - start)
        })
    }
}

/// Turns frames back into plaintext, checking the CRC before anything else, then the key,
/// the cipher (padding or GCM tag) and the decompressed length.
pub struct ChunkDecoder {
    pub(crate) max_plaintext: usize,
    pub(crate) cache: KeyCache,
}

impl fmt::Debug for ChunkDecoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChunkDecoder")
            .field("max_plaintext", &self.max_plaintext)
            .finish_non_exhaustive()
    }
}

impl ChunkDecoder {
    /// A decoder for frames of at most `max_plaintext` bytes of plaintext (the chunk length
    /// of the file they come from). It never allocates more than that for a frame.
    pub fn new(max_plaintext: usize) -> Self {
        ChunkDecoder {
            max_plaintext,
            cache: KeyCache::default(),
        }
    }

    /// Decodes the frame at the start of `buf`, appending its plaintext to `out`; returns the
    /// frame's length (more frames may follow it in `buf`). Encrypted frames get their key
    /// from `keys` by the id they carry.
    pub fn decode(
        &self,
        buf: &[u8],
        keys: Option<&dyn KeyProvider>,
        out: &mut Vec<u8>,
    ) -> Result<usize, CompressionError> {
        let h = parse_header(buf, self.max_plaintext)?;
        check_all(buf, &h)?;
        let payload = buf
            .get(h.payload_offset..h.payload_offset + h.payload_len)
            .unwrap_or_default();
        let start = out.len();
        let result = SCRATCH.with(|cell| {
            let mut scratch = cell.borrow_mut();
            scratch.clear();
            let body: &[u8] = match (&h.transformation, &h.key_id) {
                (Some(t), Some(id)) => {
                    let key = key_for_frame(keys, id)?;
                    let p = self.cache.prepared(*t, &key)?;
                    let iv = buf
                        .get(h.iv_offset..h.iv_offset + h.iv_len)
                        .unwrap_or_default();
                    let aad = buf.get(..h.aad_len).unwrap_or_default();
                    let target: &mut Vec<u8> = if h.compressor.is_some() {
                        &mut scratch
                    } else {
                        &mut *out
                    };
                    match (h.gcm_segments(), h.segments) {
                        (Some(shift), _) => gcm_segments::frame_key(&p, iv)
                            .and_then(|k| gcm_segments::open_all(&k, aad, payload, shift, target)),
                        (None, Some(s)) if h.interleaved_cbc => {
                            p.decrypt_interleaved_append(iv, s.size(), payload, target)
                        }
                        _ => p.decrypt_append(t.mode, iv, aad, payload, target),
                    }
                    .map_err(|e| e.into_error(id))?;
                    if h.compressor.is_some() {
                        scratch.as_slice()
                    } else {
                        &[]
                    }
                }
                _ => {
                    if h.compressor.is_none() {
                        out.extend_from_slice(payload);
                    }
                    payload
                }
            };
            match (h.compressor, h.compressed_segments()) {
                (Some(c), Some(shift)) => {
                    decompress_segments(c, body, h.plaintext_len, shift, out)?;
                }
                (Some(c), None) => decompress(c, body, h.plaintext_len, out)?,
                (None, _) => {
                    let got = out.len() - start;
                    if got != h.plaintext_len {
                        return Err(CompressionError::Malformed {
                            reason: format!(
                                "chunk holds {got} bytes of plaintext, its header declares {}",
                                h.plaintext_len
                            ),
                        });
                    }
                }
            }
            Ok(h.frame_len())
        });
        if result.is_err() {
            out.truncate(start);
        }
        result
    }
}

/// The id of the key a frame was encrypted with (`None` for a plaintext frame), read from
/// its header without decrypting anything. The header's checksum is checked (in a version 1
/// frame, the whole frame's).
pub fn frame_key_id(buf: &[u8], max_plaintext: usize) -> Result<Option<KeyId>, CompressionError> {
    let h = parse_header(buf, max_plaintext)?;
    check_header(buf, &h)?;
    Ok(h.key_id)
}

/// Compresses `chunk` into `scratch` with `compressor`, if any, segment by segment (a frame
/// of version 3), and keeps the compressed form only if it is smaller: the compressor the
/// frame records (none when the chunk is stored as it is) and the body to encrypt.
pub(crate) fn compress_if_smaller<'a>(
    compressor: Option<Compressor>,
    chunk: &'a [u8],
    shift: u8,
    scratch: &'a mut Vec<u8>,
) -> Result<(Option<Compressor>, &'a [u8]), CompressionError> {
    if let Some(c) = compressor {
        compress_segments(c, chunk, shift, scratch)?;
        if scratch.len() < chunk.len() {
            return Ok((Some(c), scratch.as_slice()));
        }
    }
    Ok((None, chunk))
}

/// The key an encrypted frame names, from `keys`: an error if no provider was given or the
/// provider cannot give that key (naming the key id).
pub(crate) fn key_for_frame(
    keys: Option<&dyn KeyProvider>,
    id: &KeyId,
) -> Result<Arc<Key>, CompressionError> {
    let keys = keys.ok_or(CompressionError::KeyRequired(
        "the chunk is encrypted but no key provider was given",
    ))?;
    keys.key_by_id(id).map_err(|source| CompressionError::Key {
        key_id: id.clone(),
        source,
    })
}
