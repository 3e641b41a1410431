//! Encoding several chunks in one call: the same frames as [`ChunkEncoder::encode`] gives
//! one by one, with CBC encryption run side by side across the chunks (multi-buffer; see
//! `cipher::multi`). Each chunk still gets its own random IV, so a decoder cannot tell the
//! difference, and nothing in the frame format changes.
//!
//! Only CBC gains: its chain is serial within a chunk, so one chunk at a time runs at the
//! cipher's latency. ECB, GCM and interleaved CBC are already parallel within a chunk, and
//! plaintext frames have no cipher; for them (and for one chunk) the batch is a loop over
//! `encode`.

use std::sync::Arc;

use crypta_keys::Key;

use super::{ChunkEncoder, SCRATCH, compress_if_smaller};
use crate::cipher::{Lane, PreparedKey, ciphertext_len};
use crate::frame::{Unsealed, seal, write_header};
use crate::{CompressionError, Mode};

/// Where one frame of a batch lies in the output.
struct Placed {
    frame: Unsealed,
    payload_start: usize,
    payload_len: usize,
    iv: [u8; 16],
}

impl ChunkEncoder {
    /// Encodes `chunks` in order, all under `key`, appending their frames to `out`
    /// back to back; returns each frame's length. The frames are those
    /// [`encode`](Self::encode) gives chunk by chunk (each with its own random IV), but CBC
    /// encryption runs across the chunks side by side, several times faster than one chunk
    /// after another. `key` must be given exactly when the encoder encrypts.
    pub fn encode_batch(
        &self,
        chunks: &[&[u8]],
        key: Option<&Arc<Key>>,
        out: &mut Vec<u8>,
    ) -> Result<Vec<usize>, CompressionError> {
        self.encode_batch_spaced(chunks, key, 0, out)
    }

    /// As [`encode_batch`](Self::encode_batch), with `gap` zero bytes before each frame,
    /// left for the caller to fill (a container's block header, say): frame `i` starts
    /// `gap` bytes after the end of frame `i - 1`. Returns the frame lengths (gaps not
    /// included). On error, `out` is left as it was.
    pub fn encode_batch_spaced(
        &self,
        chunks: &[&[u8]],
        key: Option<&Arc<Key>>,
        gap: usize,
        out: &mut Vec<u8>,
    ) -> Result<Vec<usize>, CompressionError> {
        let start = out.len();
        let result = self.encode_batch_with_ivs(chunks, key, gap, out, &mut |iv| {
            getrandom::fill(iv).map_err(|e| CompressionError::Rng(e.to_string()))
        });
        if result.is_err() {
            out.truncate(start);
        }
        result
    }

    /// The batch encoder with the IVs taken from `ivs` (the OS CSPRNG, except in tests).
    pub(super) fn encode_batch_with_ivs(
        &self,
        chunks: &[&[u8]],
        key: Option<&Arc<Key>>,
        gap: usize,
        out: &mut Vec<u8>,
        ivs: &mut dyn FnMut(&mut [u8]) -> Result<(), CompressionError>,
    ) -> Result<Vec<usize>, CompressionError> {
        let cbc = match (self.transformation, key) {
            (Some(t), Some(k))
                if t.mode == Mode::Cbc && chunks.len() > 1 && !self.interleaves(t) =>
            {
                Some((t, k))
            }
            _ => None,
        };
        let Some((t, key)) = cbc else {
            let mut lens = Vec::with_capacity(chunks.len());
            for chunk in chunks {
                out.resize(out.len() + gap, 0);
                lens.push(self.encode(chunk, key, out)?);
            }
            return Ok(lens);
        };
        let prepared = self.cache.prepared(t, key)?;
        let PreparedKey::Block(block_key) = &*prepared else {
            return Err(CompressionError::Compress {
                reason: format!("{t} has no block cipher key"),
            });
        };
        let iv_len = t.iv_len();
        // Frames with their plaintext (or compressed) body and its padding in place.
        let mut placed = Vec::with_capacity(chunks.len());
        SCRATCH.with(|cell| {
            let mut scratch = cell.borrow_mut();
            for chunk in chunks {
                if chunk.len() > self.chunk_length {
                    return Err(CompressionError::ChunkTooLarge {
                        declared: chunk.len(),
                        max: self.chunk_length,
                    });
                }
                scratch.clear();
                let (compressor, body) =
                    compress_if_smaller(self.compressor, chunk, self.shift, &mut scratch)?;
                let mut iv = [0u8; 16];
                let iv_bytes = iv.get_mut(..iv_len).unwrap_or_default();
                ivs(iv_bytes)?;
                let payload_len = ciphertext_len(t, body.len());
                out.resize(out.len() + gap, 0);
                let frame = write_header(
                    out,
                    compressor,
                    Some(t),
                    false,
                    self.shift,
                    chunk.len(),
                    payload_len,
                    Some(key.id()),
                    iv_bytes,
                )?;
                let payload_start = frame.payload_start();
                out.extend_from_slice(body);
                // PKCS#5: 1 to `bs` bytes, each the pad length.
                let pad = payload_len - body.len();
                out.resize(out.len() + pad, u8::try_from(pad).unwrap_or(0));
                placed.push(Placed {
                    frame,
                    payload_start,
                    payload_len,
                    iv,
                });
            }
            Ok(())
        })?;
        // One lane per frame: disjoint slices of `out`, encrypted in place.
        let mut lanes = Vec::with_capacity(placed.len());
        let mut rest = out.as_mut_slice();
        let mut at = 0;
        for p in &placed {
            let (_, tail) = rest
                .split_at_mut_checked(p.payload_start - at)
                .ok_or_else(layout_error)?;
            let (data, tail) = tail
                .split_at_mut_checked(p.payload_len)
                .ok_or_else(layout_error)?;
            rest = tail;
            at = p.payload_start + p.payload_len;
            lanes.push(Lane {
                iv: p.iv.get(..iv_len).unwrap_or_default(),
                data,
            });
        }
        block_key
            .cbc_encrypt_lanes(&mut lanes)
            .map_err(|e| CompressionError::Compress {
                reason: format!("encryption with key {} failed: {e:?}", key.id()),
            })?;
        drop(lanes);
        // Checksums, now that the payloads are ciphertext.
        let mut lens = Vec::with_capacity(placed.len());
        for p in &placed {
            seal(out, &p.frame)?;
            lens.push(p.payload_start + p.payload_len - p.frame.frame_start());
        }
        Ok(lens)
    }
}

fn layout_error() -> CompressionError {
    CompressionError::Compress {
        reason: "batch frame layout does not fit its buffer".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hazmat::ChunkCipher;
    use crate::{ChunkDecoder, CompressionOptions, parse_header};
    use crypta_keys::{KeyProvider, KeySpec, LocalKeyProvider};
    use std::collections::BTreeMap;

    fn encoder(class: &str, cipher: &str, bits: u32) -> (ChunkEncoder, Option<KeySpec>) {
        let mut m = BTreeMap::new();
        m.insert("class".to_string(), class.to_string());
        m.insert("chunk_length_kb".to_string(), "4".to_string());
        if !cipher.is_empty() {
            m.insert("cipher_algorithm".to_string(), cipher.to_string());
            m.insert("secret_key_strength".to_string(), bits.to_string());
        }
        let o = CompressionOptions::parse(&m).unwrap();
        (ChunkEncoder::new(&o), o.key_spec())
    }

    fn chunks(n: usize) -> Vec<Vec<u8>> {
        (0..n)
            .map(|i| {
                let len = if i % 5 == 4 { (i * 37) % 4096 } else { 4096 };
                (0..len).map(|j| ((j / 7) * 13 + i) as u8).collect()
            })
            .collect()
    }

    /// Batch frames are byte for byte what `encode` gives chunk by chunk when the IVs are
    /// the same (taken from the single-chunk frames), the payloads are what the hazmat
    /// cipher gives for those IVs, and every frame decodes with the ordinary decoder.
    #[test]
    fn batch_frames_equal_single_frames_and_decode() {
        let dir = tempfile::tempdir().unwrap();
        let keys = LocalKeyProvider::open(dir.path().join("keys")).unwrap();
        let cases = [
            ("Encryptor", "AES/CBC/PKCS5Padding", 128),
            ("Encryptor", "AES/CBC/PKCS5Padding", 256),
            ("EncryptingDeflateCompressor", "AES/CBC/PKCS5Padding", 192),
            ("Encryptor", "DESede/CBC/PKCS5Padding", 168),
            ("Encryptor", "AES/ECB/PKCS5Padding", 128),
            ("Encryptor", "AES/GCM/NoPadding", 128),
            ("LZ4Compressor", "", 0),
            ("DeflateCompressor", "", 0),
        ];
        for (class, cipher, bits) in cases {
            let (enc, spec) = encoder(class, cipher, bits);
            let key = spec.map(|s| keys.current_key(&s).unwrap());
            for n in [1usize, 2, 7, 8, 9, 17, 31, 40] {
                let data = chunks(n);
                let refs: Vec<&[u8]> = data.iter().map(Vec::as_slice).collect();
                // One by one, with random IVs.
                let mut singles = Vec::new();
                let mut single_ivs = Vec::new();
                for c in &refs {
                    let mut f = Vec::new();
                    enc.encode(c, key.as_ref(), &mut f).unwrap();
                    let h = parse_header(&f, 4096).unwrap();
                    single_ivs.push(f[h.iv_offset..h.iv_offset + h.iv_len].to_vec());
                    singles.push(f);
                }
                // The batch, with those IVs and 9-byte gaps.
                let mut next = single_ivs.iter();
                let mut out = vec![0xAB; 3];
                let lens = enc
                    .encode_batch_with_ivs(&refs, key.as_ref(), 9, &mut out, &mut |iv| {
                        iv.copy_from_slice(next.next().unwrap());
                        Ok(())
                    })
                    .unwrap();
                let mut at = 3;
                for (i, (len, single)) in lens.iter().zip(&singles).enumerate() {
                    assert_eq!(&out[at..at + 9], &[0; 9]);
                    at += 9;
                    let frame = &out[at..at + len];
                    if cipher.contains("GCM") || cipher.is_empty() || n == 1 {
                        // Not the multi-buffer path: random IVs of its own; decode only.
                    } else {
                        assert_eq!(frame, &single[..], "{class} {cipher} {n} chunks, #{i}");
                        // And the payload is the hazmat cipher's output for that IV.
                        let h = parse_header(frame, 4096).unwrap();
                        if h.compressor.is_none() {
                            let t = h.transformation.unwrap();
                            let c = ChunkCipher::new(t, key.as_ref().unwrap()).unwrap();
                            let mut ct = vec![0; c.ciphertext_len(data[i].len())];
                            c.encrypt(&single_ivs[i], &[], &data[i], &mut ct).unwrap();
                            assert_eq!(
                                &frame[h.payload_offset..h.payload_offset + h.payload_len],
                                &ct[..]
                            );
                        }
                    }
                    let mut back = Vec::new();
                    let dec = ChunkDecoder::new(4096);
                    let used = dec
                        .decode(frame, Some(&keys as &dyn KeyProvider), &mut back)
                        .unwrap();
                    assert_eq!(used, *len);
                    assert_eq!(back, data[i]);
                    at += len;
                }
                assert_eq!(at, out.len());
                // The public API: random IVs, frames that decode.
                let mut out = Vec::new();
                let lens = enc.encode_batch(&refs, key.as_ref(), &mut out).unwrap();
                let mut at = 0;
                for (i, len) in lens.iter().enumerate() {
                    let mut back = Vec::new();
                    ChunkDecoder::new(4096)
                        .decode(&out[at..], Some(&keys as &dyn KeyProvider), &mut back)
                        .unwrap();
                    assert_eq!(back, data[i]);
                    at += len;
                }
            }
        }
    }

    #[test]
    fn batch_errors_leave_the_output_as_it_was() {
        let (enc, spec) = encoder("Encryptor", "AES/CBC/PKCS5Padding", 128);
        let dir = tempfile::tempdir().unwrap();
        let keys = LocalKeyProvider::open(dir.path().join("keys")).unwrap();
        let key = keys.current_key(&spec.unwrap()).unwrap();
        let big = vec![0u8; 4097];
        let small = vec![0u8; 10];
        let mut out = vec![1, 2, 3];
        assert!(matches!(
            enc.encode_batch(&[&small, &big], Some(&key), &mut out),
            Err(CompressionError::ChunkTooLarge { .. })
        ));
        assert!(enc.encode_batch(&[&small, &small], None, &mut out).is_err());
        assert_eq!(out, vec![1, 2, 3]);
    }
}
