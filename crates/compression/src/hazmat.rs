//! Hazmat: the chunk cipher alone, with an IV the caller chooses.
//!
//! [`ChunkCipher`] is what [`crate::ChunkEncoder`] and [`crate::ChunkDecoder`] run between
//! framing and compression: one transformation keyed once, encrypting a buffer into another.
//! It exists for cross-checks, test vectors and benchmarks (`benches/benches/codec.rs` measures
//! it beside `openssl speed`). It does no framing, no checksum and no IV generation: reusing
//! an IV with CBC leaks equal prefixes, and reusing a GCM nonce under one key loses both
//! confidentiality and authenticity. ECB and CBC do not authenticate. Use the chunk codecs.

use std::fmt;

use crypta_keys::{Key, KeyId};

use crate::cipher::{PreparedKey, ciphertext_len, prepare};
use crate::{CompressionError, Transformation};

/// Recomputes every checksum of the chunk frame at the start of `frame` from its bytes as they
/// are, as someone who altered the frame would; returns the frame's length. For tests that
/// need a change to reach the cipher (checksums are not a MAC: only GCM's tag stops this).
pub fn reseal_frame(frame: &mut [u8], max_plaintext: usize) -> Result<usize, CompressionError> {
    crate::frame::reseal(frame, max_plaintext)
}

/// One transformation with its key schedule computed. `Debug` shows the transformation and
/// the key id, never key material (which the key schedule holds, zeroized on drop by the
/// cipher crates).
pub struct ChunkCipher {
    transformation: Transformation,
    key_id: KeyId,
    prepared: PreparedKey,
}

impl fmt::Debug for ChunkCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChunkCipher")
            .field("transformation", &self.transformation)
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl ChunkCipher {
    /// Keys `t` with `key`, which must be a key of `t`'s algorithm.
    pub fn new(t: Transformation, key: &Key) -> Result<Self, CompressionError> {
        Ok(ChunkCipher {
            transformation: t,
            key_id: key.id().clone(),
            prepared: prepare(t, key)?,
        })
    }

    /// The transformation.
    pub fn transformation(&self) -> Transformation {
        self.transformation
    }

    /// Bytes of ciphertext for `plaintext_len` bytes of plaintext: PKCS#5-padded to whole
    /// blocks for ECB and CBC, plus the 16-byte tag for GCM.
    pub fn ciphertext_len(&self, plaintext_len: usize) -> usize {
        ciphertext_len(self.transformation, plaintext_len)
    }

    /// Encrypts `plaintext` into the start of `out` (at least
    /// [`ciphertext_len`](Self::ciphertext_len) bytes) and returns the ciphertext length.
    /// `iv` is the transformation's IV length (0 for ECB, the block size for CBC, 12 for GCM);
    /// `aad` is authenticated by GCM and ignored otherwise.
    pub fn encrypt(
        &self,
        iv: &[u8],
        aad: &[u8],
        plaintext: &[u8],
        out: &mut [u8],
    ) -> Result<usize, CompressionError> {
        let n = self.ciphertext_len(plaintext.len());
        let have = out.len();
        let dst = out.get_mut(..n).ok_or_else(|| CompressionError::Compress {
            reason: format!("output buffer of {have} bytes, {n} needed"),
        })?;
        self.check_iv(iv)?;
        self.prepared
            .encrypt(self.transformation.mode, iv, aad, plaintext, dst)
            .map_err(|e| e.into_error(&self.key_id))?;
        Ok(n)
    }

    /// Decrypts `ciphertext` into the start of `out` (at least `ciphertext.len()` bytes) and
    /// returns the plaintext length: padding checked and removed, or the GCM tag verified.
    /// On error the contents of `out` are unspecified and must be discarded.
    pub fn decrypt(
        &self,
        iv: &[u8],
        aad: &[u8],
        ciphertext: &[u8],
        out: &mut [u8],
    ) -> Result<usize, CompressionError> {
        self.check_iv(iv)?;
        self.prepared
            .decrypt(self.transformation.mode, iv, aad, ciphertext, out)
            .map_err(|e| e.into_error(&self.key_id))
    }

    fn check_iv(&self, iv: &[u8]) -> Result<(), CompressionError> {
        let want = self.transformation.iv_len();
        if iv.len() == want {
            Ok(())
        } else {
            Err(CompressionError::InvalidOption {
                option: "iv".into(),
                value: format!("{} bytes", iv.len()),
                reason: format!("{} takes a {want}-byte IV", self.transformation),
            })
        }
    }
}
