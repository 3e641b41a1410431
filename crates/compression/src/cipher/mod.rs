//! Block ciphers and modes over whole chunks: a key prepared once (the key schedule), then
//! ECB or CBC with PKCS#5 padding, or GCM, from one buffer into another.
//!
//! HAZMAT: ECB and CBC do not authenticate. ECB also leaks patterns: equal plaintext blocks
//! give equal ciphertext blocks. The chunk frame's CRC32 catches accidental corruption, not a
//! deliberate attacker (who can recompute it); use `AES/GCM/NoPadding` where tampering
//! matters. A wrong key or a forged CBC/ECB chunk is noticed only if its padding happens to be
//! invalid.
//!
//! - [`modes`]: ECB and CBC over whole blocks, in one call into the cipher's backend.
//! - [`multi`]: CBC encryption of several chunks side by side (multi-buffer).
//! - [`interleaved`]: CBC in 64 interleaved chains per segment (the commit log's and hints').
//! - [`gcm`]: AES-GCM (ring for 128 and 256 bits, RustCrypto for 192).
//! - `vectors` (tests): the published test vectors of `tests/data/`.
#![deny(clippy::indexing_slicing)]

mod gcm;
mod modes;
#[cfg(test)]
mod vectors;

use aes::{Aes128, Aes192, Aes256};
use blowfish::Blowfish;
use cipher::array::Array;
use cipher::{Block, BlockCipherDecrypt, BlockCipherEncrypt, BlockSizeUser, KeyInit};
use crypta_keys::{Algorithm, Key, KeyError, KeyId};
use des::{Des, TdesEde2, TdesEde3};
use rc2::Rc2;

pub(crate) use gcm::{GcmAead, GcmKey, TAG_LEN};

use crate::{CompressionError, Mode, Transformation};

/// Why a decryption (or an encryption into a wrong-sized buffer) failed; the caller adds the
/// key id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DecryptFailure {
    /// Ciphertext length is not a whole number of blocks, too short, or a buffer has the
    /// wrong size.
    Length(&'static str),
    /// PKCS#5 padding is invalid after decryption.
    Padding,
    /// The GCM tag did not verify.
    Tag,
}

impl DecryptFailure {
    /// The crate error for this failure with `key_id`.
    pub(crate) fn into_error(self, key_id: &KeyId) -> CompressionError {
        let key_id = key_id.clone();
        match self {
            DecryptFailure::Tag => CompressionError::AuthenticationFailed { key_id },
            DecryptFailure::Padding => CompressionError::DecryptFailed {
                key_id,
                reason: "invalid padding",
            },
            DecryptFailure::Length(reason) => CompressionError::DecryptFailed { key_id, reason },
        }
    }
}

/// Prepares `key` for `t`, with errors that name the key: another algorithm than the
/// transformation's, or material that does not fit it.
pub(crate) fn prepare(t: Transformation, key: &Key) -> Result<PreparedKey, CompressionError> {
    let id = key.id();
    if key.info.algorithm != t.algorithm {
        return Err(CompressionError::KeyMismatch {
            key_id: id.clone(),
            key: key.info.algorithm,
            chunk: t.algorithm,
        });
    }
    PreparedKey::new(t, key).ok_or_else(|| CompressionError::Key {
        key_id: id.clone(),
        source: KeyError::BadMaterial {
            key_id: id.clone(),
            reason: format!(
                "{} bytes of material cannot key {t} at {} bits",
                key.material().len(),
                key.info.strength
            ),
        },
    })
}

/// A block cipher with its key schedule computed.
pub(crate) enum BlockKey {
    Aes128(Aes128),
    Aes192(Aes192),
    Aes256(Aes256),
    Des(Des),
    Tdes2(TdesEde2),
    Tdes3(TdesEde3),
    Blowfish(Box<Blowfish>),
    Rc2(Box<Rc2>),
}

/// A key prepared for one transformation.
#[expect(
    clippy::large_enum_variant,
    reason = "prepared keys live in an Arc, one per cached key; boxing would add an indirection per chunk"
)]
pub(crate) enum PreparedKey {
    Block(BlockKey),
    Gcm(GcmKey),
}

macro_rules! with_block_key {
    ($key:expr, $c:ident => $body:expr) => {
        match $key {
            BlockKey::Aes128($c) => $body,
            BlockKey::Aes192($c) => $body,
            BlockKey::Aes256($c) => $body,
            BlockKey::Des($c) => $body,
            BlockKey::Tdes2($c) => $body,
            BlockKey::Tdes3($c) => $body,
            BlockKey::Blowfish($c) => {
                let $c = &**$c;
                $body
            }
            BlockKey::Rc2($c) => {
                let $c = &**$c;
                $body
            }
        }
    };
}

// After the macro, which they use.
mod interleaved;
mod multi;
pub(crate) use multi::Lane;

impl BlockKey {
    /// The key schedule of `alg` for `material`. `rc2_effective_bits` is RC2's effective key
    /// length (crypta always uses the key's strength; the RFC 2268 vectors use others).
    /// `None` if the material does not fit the algorithm.
    pub(crate) fn new(alg: Algorithm, m: &[u8], rc2_effective_bits: u32) -> Option<Self> {
        Some(match (alg, m.len()) {
            (Algorithm::Aes, 16) => BlockKey::Aes128(Aes128::new_from_slice(m).ok()?),
            (Algorithm::Aes, 24) => BlockKey::Aes192(Aes192::new_from_slice(m).ok()?),
            (Algorithm::Aes, 32) => BlockKey::Aes256(Aes256::new_from_slice(m).ok()?),
            (Algorithm::Des, 8) => BlockKey::Des(Des::new_from_slice(m).ok()?),
            (Algorithm::DesEde, 16) => BlockKey::Tdes2(TdesEde2::new_from_slice(m).ok()?),
            (Algorithm::DesEde, 24) => BlockKey::Tdes3(TdesEde3::new_from_slice(m).ok()?),
            (Algorithm::Blowfish, 4..=56) => {
                BlockKey::Blowfish(Box::new(Blowfish::new_from_slice(m).ok()?))
            }
            (Algorithm::Rc2, 1..=128) => BlockKey::Rc2(Box::new(Rc2::new_with_eff_key_len(
                m,
                usize::try_from(rc2_effective_bits).ok()?,
            ))),
            _ => return None,
        })
    }

    /// Encrypts whole blocks, without padding (the published vectors' form).
    #[cfg(test)]
    pub(crate) fn encrypt_unpadded(
        &self,
        mode: Mode,
        iv: &[u8],
        input: &[u8],
        output: &mut [u8],
    ) -> Result<(), DecryptFailure> {
        with_block_key!(self, c => encrypt_unpadded(c, mode, iv, input, output))
    }

    /// Encrypts whole blocks in ECB, without padding (AES as the key derivation of GCM frames
    /// of version 3).
    pub(crate) fn encrypt_blocks_ecb(
        &self,
        input: &[u8],
        output: &mut [u8],
    ) -> Result<(), DecryptFailure> {
        with_block_key!(self, c => encrypt_unpadded(c, Mode::Ecb, &[], input, output))
    }

    /// Decrypts whole blocks, without padding (the published vectors' form, and the covering
    /// blocks of a range read, `range.rs`). For CBC, `iv` is the ciphertext block before the
    /// first one given (the IV for block 0).
    pub(crate) fn decrypt_unpadded(
        &self,
        mode: Mode,
        iv: &[u8],
        input: &[u8],
        output: &mut [u8],
    ) -> Result<(), DecryptFailure> {
        with_block_key!(self, c => decrypt_unpadded(c, mode, iv, input, output))
    }
}

impl PreparedKey {
    /// Computes the key schedule of `key` for `t`. `None` if the material does not fit (the
    /// caller reports which key).
    pub(crate) fn new(t: Transformation, key: &Key) -> Option<Self> {
        let m = key.material().expose();
        let alg = key.info.algorithm;
        if alg != t.algorithm || !alg.accepts_material_len(key.info.strength, m.len()) {
            return None;
        }
        if t.mode == Mode::Gcm {
            return GcmKey::new(m).map(PreparedKey::Gcm);
        }
        BlockKey::new(alg, m, key.info.strength).map(PreparedKey::Block)
    }

    /// Encrypts `plaintext` into `out`, which must be exactly [`ciphertext_len`] bytes: the
    /// PKCS#5-padded ciphertext, or for GCM the ciphertext and its 16-byte tag. `iv` has the
    /// transformation's IV length; `aad` is authenticated by GCM only.
    pub(crate) fn encrypt(
        &self,
        mode: Mode,
        iv: &[u8],
        aad: &[u8],
        plaintext: &[u8],
        out: &mut [u8],
    ) -> Result<(), DecryptFailure> {
        match self {
            PreparedKey::Block(k) => {
                with_block_key!(k, c => encrypt_padded(c, mode, iv, plaintext, out))
            }
            PreparedKey::Gcm(k) => k.aead().seal(iv, aad, plaintext, out),
        }
    }

    /// Decrypts `ciphertext` into the start of `out` (at least `ciphertext.len()` bytes) and
    /// returns the plaintext length. On error the contents of `out` are unspecified.
    pub(crate) fn decrypt(
        &self,
        mode: Mode,
        iv: &[u8],
        aad: &[u8],
        ciphertext: &[u8],
        out: &mut [u8],
    ) -> Result<usize, DecryptFailure> {
        match self {
            PreparedKey::Block(k) => {
                with_block_key!(k, c => decrypt_padded(c, mode, iv, ciphertext, out))
            }
            PreparedKey::Gcm(k) => k.aead().open(iv, aad, ciphertext, out),
        }
    }

    /// Interleaved CBC (`interleaved.rs`): pads `plaintext` and encrypts it into `out`, which
    /// must be exactly its padded length, with segments of `segment` bytes.
    pub(crate) fn encrypt_interleaved(
        &self,
        iv: &[u8],
        segment: usize,
        plaintext: &[u8],
        out: &mut [u8],
    ) -> Result<(), DecryptFailure> {
        match self {
            PreparedKey::Block(k) => k.icbc_encrypt_padded(iv, segment, plaintext, out),
            PreparedKey::Gcm(_) => Err(DecryptFailure::Length("mode")),
        }
    }

    /// Interleaved CBC: decrypts `ciphertext` (segments of `segment` bytes), appending the
    /// plaintext to `out`; on error `out` is left as it was.
    pub(crate) fn decrypt_interleaved_append(
        &self,
        iv: &[u8],
        segment: usize,
        ciphertext: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), DecryptFailure> {
        let PreparedKey::Block(k) = self else {
            return Err(DecryptFailure::Length("mode"));
        };
        append_with(out, ciphertext.len(), |dst| {
            k.icbc_decrypt_padded(iv, segment, ciphertext, dst)
        })
    }

    /// Decrypts `ciphertext`, appending the plaintext to `out`; on error `out` is left as it
    /// was.
    pub(crate) fn decrypt_append(
        &self,
        mode: Mode,
        iv: &[u8],
        aad: &[u8],
        ciphertext: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), DecryptFailure> {
        if let PreparedKey::Gcm(k) = self {
            return k.aead().open_append(iv, aad, ciphertext, out);
        }
        append_with(out, ciphertext.len(), |dst| {
            self.decrypt(mode, iv, aad, ciphertext, dst)
        })
    }
}

/// Runs `decrypt` on `max` bytes of new room at the end of `out` and keeps the number of
/// bytes it returns; on error `out` is left as it was.
pub(crate) fn append_with(
    out: &mut Vec<u8>,
    max: usize,
    decrypt: impl FnOnce(&mut [u8]) -> Result<usize, DecryptFailure>,
) -> Result<(), DecryptFailure> {
    let start = out.len();
    out.resize(start + max, 0);
    let dst = out.get_mut(start..).unwrap_or_default();
    match decrypt(dst) {
        Ok(n) => {
            out.truncate(start + n);
            Ok(())
        }
        Err(e) => {
            out.truncate(start);
            Err(e)
        }
    }
}

/// Length of the ciphertext of `len` bytes of plaintext under `t`: PKCS#5-padded to whole
/// blocks, or for GCM the plaintext length plus the tag.
pub(crate) fn ciphertext_len(t: Transformation, len: usize) -> usize {
    match t.mode {
        Mode::Gcm => len + TAG_LEN,
        Mode::Ecb | Mode::Cbc => padded_len(len, t.algorithm.block_size()),
    }
}

/// Length of PKCS#5 padded `len` bytes with block size `bs`.
pub(crate) fn padded_len(len: usize, bs: usize) -> usize {
    (len / bs + 1) * bs
}

fn encrypt_unpadded<C: BlockCipherEncrypt>(
    c: &C,
    mode: Mode,
    iv: &[u8],
    input: &[u8],
    output: &mut [u8],
) -> Result<(), DecryptFailure> {
    let (ib, itail) = Array::slice_as_chunks(input);
    let (ob, otail) = Array::slice_as_chunks_mut(output);
    if !itail.is_empty() || !otail.is_empty() {
        return Err(DecryptFailure::Length("not whole blocks"));
    }
    match mode {
        Mode::Ecb => modes::ecb_encrypt(c, ib, ob),
        Mode::Cbc => modes::cbc_encrypt(c, &iv_block::<C>(iv)?, ib, ob).map(|_| ()),
        Mode::Gcm => Err(DecryptFailure::Length("mode")),
    }
}

fn decrypt_unpadded<C: BlockCipherDecrypt>(
    c: &C,
    mode: Mode,
    iv: &[u8],
    input: &[u8],
    output: &mut [u8],
) -> Result<(), DecryptFailure> {
    let (ib, itail) = Array::slice_as_chunks(input);
    let (ob, otail) = Array::slice_as_chunks_mut(output);
    if !itail.is_empty() || !otail.is_empty() {
        return Err(DecryptFailure::Length("not whole blocks"));
    }
    match mode {
        Mode::Ecb => modes::ecb_decrypt(c, ib, ob),
        Mode::Cbc => modes::cbc_decrypt(c, &iv_block::<C>(iv)?, ib, ob),
        Mode::Gcm => Err(DecryptFailure::Length("mode")),
    }
}

fn iv_block<C: BlockSizeUser>(iv: &[u8]) -> Result<Block<C>, DecryptFailure> {
    Array::try_from(iv).map_err(|_| DecryptFailure::Length("iv"))
}

/// ECB or CBC with PKCS#5 padding: the whole blocks of `plaintext` go from buffer to buffer,
/// the last (partial or empty) block is padded in a local block.
fn encrypt_padded<C: BlockCipherEncrypt>(
    c: &C,
    mode: Mode,
    iv: &[u8],
    plaintext: &[u8],
    out: &mut [u8],
) -> Result<(), DecryptFailure> {
    let bs = <C as BlockSizeUser>::block_size();
    if out.len() != padded_len(plaintext.len(), bs) {
        return Err(DecryptFailure::Length("output buffer"));
    }
    let (in_blocks, tail) = Array::slice_as_chunks(plaintext);
    let (out_blocks, out_last) = Array::slice_as_chunks_mut(out);
    let (out_blocks, out_last) = match out_blocks.split_last_mut() {
        Some((last, body)) if out_last.is_empty() => (body, last),
        _ => return Err(DecryptFailure::Length("output buffer")),
    };
    // The last block: what is left of the plaintext, then `pad` bytes of value `pad`.
    let pad = u8::try_from(bs - tail.len()).map_err(|_| DecryptFailure::Length("block"))?;
    let mut last = Block::<C>::default();
    for (i, b) in last.iter_mut().enumerate() {
        *b = tail.get(i).copied().unwrap_or(pad);
    }
    match mode {
        Mode::Ecb => {
            modes::ecb_encrypt(c, in_blocks, out_blocks)?;
            c.encrypt_block_b2b(&last, out_last);
        }
        Mode::Cbc => {
            let chain = modes::cbc_encrypt(c, &iv_block::<C>(iv)?, in_blocks, out_blocks)?;
            for (x, y) in last.iter_mut().zip(chain.iter()) {
                *x ^= y;
            }
            c.encrypt_block_b2b(&last, out_last);
        }
        Mode::Gcm => return Err(DecryptFailure::Length("mode")),
    }
    Ok(())
}

/// ECB or CBC decryption into `out`, then the PKCS#5 padding check (over the whole last
/// block, without data-dependent branches); returns the plaintext length.
fn decrypt_padded<C: BlockCipherDecrypt>(
    c: &C,
    mode: Mode,
    iv: &[u8],
    ciphertext: &[u8],
    out: &mut [u8],
) -> Result<usize, DecryptFailure> {
    let (in_blocks, tail) = Array::slice_as_chunks(ciphertext);
    if in_blocks.is_empty() || !tail.is_empty() {
        return Err(DecryptFailure::Length(
            "ciphertext is not a whole number of blocks",
        ));
    }
    let dst = out
        .get_mut(..ciphertext.len())
        .ok_or(DecryptFailure::Length("output buffer"))?;
    let (out_blocks, _) = Array::slice_as_chunks_mut(dst);
    match mode {
        Mode::Ecb => modes::ecb_decrypt(c, in_blocks, out_blocks)?,
        Mode::Cbc => modes::cbc_decrypt(c, &iv_block::<C>(iv)?, in_blocks, out_blocks)?,
        Mode::Gcm => return Err(DecryptFailure::Length("mode")),
    }
    let last: &Block<C> = out_blocks.last().ok_or(DecryptFailure::Padding)?;
    let pad = pkcs5_pad_len(last).ok_or(DecryptFailure::Padding)?;
    Ok(ciphertext.len() - pad)
}

/// The PKCS#5 pad length of a decrypted last block, or `None` if the padding is invalid.
/// Looks at every byte of the block whatever the pad length, so that its timing does not
/// depend on where the padding goes wrong.
pub(crate) fn pkcs5_pad_len(last: &[u8]) -> Option<usize> {
    let bs = last.len();
    let pad = usize::from(*last.last()?);
    let mut bad = usize::from(pad == 0) | usize::from(pad > bs);
    for (i, &b) in last.iter().rev().enumerate() {
        // i < pad: this byte is padding and must equal pad.
        let in_pad = usize::from(i < pad);
        bad |= in_pad & usize::from(usize::from(b) != pad);
    }
    (bad == 0).then_some(pad)
}
