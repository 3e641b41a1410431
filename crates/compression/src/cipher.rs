//! Block ciphers and modes over whole chunks: a key prepared once (the key schedule), then
//! ECB, CBC or GCM over a buffer.
//!
//! HAZMAT: ECB and CBC do not authenticate. ECB also leaks patterns: equal 16-byte plaintext
//! blocks give equal ciphertext blocks. The chunk frame's CRC32 catches accidental corruption,
//! not a deliberate attacker; use `AES/GCM/NoPadding` where tampering matters.
#![deny(clippy::indexing_slicing)]

use aes::{Aes128, Aes192, Aes256};
use aes_gcm::aead::AeadInOut;
use blowfish::Blowfish;
use cipher::array::Array;
use cipher::{Block, BlockCipherDecrypt, BlockCipherEncrypt, BlockSizeUser, KeyInit};
use crypta_keys::{Algorithm, Key};
use des::{Des, TdesEde2, TdesEde3};
use rc2::Rc2;

use crate::{Mode, Transformation};

/// Why a decryption failed (the caller adds the key id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DecryptFailure {
    /// Ciphertext length is not a whole number of blocks, or too short.
    Length(&'static str),
    /// PKCS#5 padding is invalid after decryption.
    Padding,
    /// The GCM tag did not verify.
    Tag,
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

/// An AEAD key for AES-GCM.
#[expect(
    clippy::large_enum_variant,
    reason = "one GcmKey per cached key; boxing ring's key would add an indirection per chunk"
)]
pub(crate) enum GcmKey {
    /// ring's AES-GCM (AES-128 and AES-256).
    Ring(ring::aead::LessSafeKey),
    /// RustCrypto's AES-GCM for AES-192, which ring lacks.
    Aes192(Box<aes_gcm::AesGcm<Aes192, cipher::consts::U12>>),
}

/// A key prepared for one transformation.
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
            return Some(PreparedKey::Gcm(match m.len() {
                16 => GcmKey::Ring(ring::aead::LessSafeKey::new(
                    ring::aead::UnboundKey::new(&ring::aead::AES_128_GCM, m).ok()?,
                )),
                32 => GcmKey::Ring(ring::aead::LessSafeKey::new(
                    ring::aead::UnboundKey::new(&ring::aead::AES_256_GCM, m).ok()?,
                )),
                24 => GcmKey::Aes192(Box::new(aes_gcm::AesGcm::new_from_slice(m).ok()?)),
                _ => return None,
            }));
        }
        let bk = match (alg, m.len()) {
            (Algorithm::Aes, 16) => BlockKey::Aes128(Aes128::new_from_slice(m).ok()?),
            (Algorithm::Aes, 24) => BlockKey::Aes192(Aes192::new_from_slice(m).ok()?),
            (Algorithm::Aes, 32) => BlockKey::Aes256(Aes256::new_from_slice(m).ok()?),
            (Algorithm::Des, 8) => BlockKey::Des(Des::new_from_slice(m).ok()?),
            (Algorithm::DesEde, 16) => BlockKey::Tdes2(TdesEde2::new_from_slice(m).ok()?),
            (Algorithm::DesEde, 24) => BlockKey::Tdes3(TdesEde3::new_from_slice(m).ok()?),
            (Algorithm::Blowfish, _) => {
                BlockKey::Blowfish(Box::new(Blowfish::new_from_slice(m).ok()?))
            }
            (Algorithm::Rc2, 5..=16) => BlockKey::Rc2(Box::new(Rc2::new_with_eff_key_len(
                m,
                usize::try_from(key.info.strength).ok()?,
            ))),
            _ => return None,
        };
        Some(PreparedKey::Block(bk))
    }

    /// Encrypts `plaintext`, appending the ciphertext (and, for GCM, the 16-byte tag) to
    /// `out`. `iv` has the transformation's IV length; `aad` is authenticated by GCM only.
    pub(crate) fn encrypt(
        &self,
        mode: Mode,
        iv: &[u8],
        aad: &[u8],
        plaintext: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), DecryptFailure> {
        match self {
            PreparedKey::Block(k) => {
                with_block_key!(k, c => encrypt_blocks(c, mode, iv, plaintext, out))
            }
            PreparedKey::Gcm(k) => gcm_seal(k, iv, aad, plaintext, out),
        }
    }

    /// Decrypts `ciphertext`, appending the plaintext to `out`.
    pub(crate) fn decrypt(
        &self,
        mode: Mode,
        iv: &[u8],
        aad: &[u8],
        ciphertext: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), DecryptFailure> {
        match self {
            PreparedKey::Block(k) => {
                with_block_key!(k, c => decrypt_blocks(c, mode, iv, ciphertext, out))
            }
            PreparedKey::Gcm(k) => gcm_open(k, iv, aad, ciphertext, out),
        }
    }
}

/// Length of PKCS#5 padded `len` bytes with block size `bs`.
pub(crate) fn padded_len(len: usize, bs: usize) -> usize {
    (len / bs + 1) * bs
}

fn encrypt_blocks<C: BlockCipherEncrypt>(
    c: &C,
    mode: Mode,
    iv: &[u8],
    plaintext: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), DecryptFailure> {
    let bs = <C as BlockSizeUser>::block_size();
    let start = out.len();
    let pad = bs - plaintext.len() % bs;
    out.reserve(plaintext.len() + pad);
    out.extend_from_slice(plaintext);
    out.resize(
        start + plaintext.len() + pad,
        u8::try_from(pad).unwrap_or(0),
    );
    let buf = out
        .get_mut(start..)
        .ok_or(DecryptFailure::Length("buffer"))?;
    let (blocks, tail) = Array::slice_as_chunks_mut(buf);
    debug_assert!(tail.is_empty());
    match mode {
        Mode::Ecb => c.encrypt_blocks(blocks),
        Mode::Cbc => {
            let mut prev: Block<C> =
                Array::try_from(iv).map_err(|_| DecryptFailure::Length("iv"))?;
            for b in blocks.iter_mut() {
                for (x, p) in b.iter_mut().zip(prev.iter()) {
                    *x ^= p;
                }
                c.encrypt_block(b);
                prev.clone_from(b);
            }
        }
        Mode::Gcm => return Err(DecryptFailure::Length("mode")),
    }
    Ok(())
}

fn decrypt_blocks<C: BlockCipherDecrypt>(
    c: &C,
    mode: Mode,
    iv: &[u8],
    ciphertext: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), DecryptFailure> {
    let bs = <C as BlockSizeUser>::block_size();
    if ciphertext.is_empty() || !ciphertext.len().is_multiple_of(bs) {
        return Err(DecryptFailure::Length(
            "ciphertext is not a whole number of blocks",
        ));
    }
    let start = out.len();
    out.extend_from_slice(ciphertext);
    let buf = out
        .get_mut(start..)
        .ok_or(DecryptFailure::Length("buffer"))?;
    let (blocks, _) = Array::<u8, C::BlockSize>::slice_as_chunks_mut(buf);
    c.decrypt_blocks(blocks);
    if mode == Mode::Cbc {
        // P[i] = D(C[i]) ^ C[i-1], with C[-1] = IV; decrypting all blocks first lets the
        // cipher work on many blocks in parallel.
        let (ct_blocks, _) = Array::<u8, C::BlockSize>::slice_as_chunks(ciphertext);
        let ivb: &Block<C> = <&Block<C>>::try_from(iv).map_err(|_| DecryptFailure::Length("iv"))?;
        let prevs = std::iter::once(ivb).chain(ct_blocks.iter());
        for (b, p) in blocks.iter_mut().zip(prevs) {
            for (x, y) in b.iter_mut().zip(p.iter()) {
                *x ^= y;
            }
        }
    } else if mode == Mode::Gcm {
        return Err(DecryptFailure::Length("mode"));
    }
    // Check and strip PKCS#5 padding.
    let pad = usize::from(*out.last().ok_or(DecryptFailure::Padding)?);
    let body = out.len() - start;
    if pad == 0 || pad > bs || pad > body {
        return Err(DecryptFailure::Padding);
    }
    let ok = out
        .get(out.len() - pad..)
        .is_some_and(|p| p.iter().all(|&b| usize::from(b) == pad));
    if !ok {
        return Err(DecryptFailure::Padding);
    }
    out.truncate(out.len() - pad);
    Ok(())
}

const TAG_LEN: usize = 16;

fn gcm_seal(
    k: &GcmKey,
    iv: &[u8],
    aad: &[u8],
    plaintext: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), DecryptFailure> {
    let nonce: [u8; 12] = iv.try_into().map_err(|_| DecryptFailure::Length("nonce"))?;
    let start = out.len();
    out.extend_from_slice(plaintext);
    let buf = out
        .get_mut(start..)
        .ok_or(DecryptFailure::Length("buffer"))?;
    let tag: [u8; TAG_LEN] = match k {
        GcmKey::Ring(key) => {
            let tag = key
                .seal_in_place_separate_tag(
                    ring::aead::Nonce::assume_unique_for_key(nonce),
                    ring::aead::Aad::from(aad),
                    buf,
                )
                .map_err(|_| DecryptFailure::Length("plaintext too long for GCM"))?;
            tag.as_ref()
                .try_into()
                .map_err(|_| DecryptFailure::Length("tag"))?
        }
        GcmKey::Aes192(key) => {
            let tag = key
                .encrypt_inout_detached(&nonce.into(), aad, buf.into())
                .map_err(|_| DecryptFailure::Length("plaintext too long for GCM"))?;
            tag.into()
        }
    };
    out.extend_from_slice(&tag);
    Ok(())
}

fn gcm_open(
    k: &GcmKey,
    iv: &[u8],
    aad: &[u8],
    ciphertext: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), DecryptFailure> {
    let nonce: [u8; 12] = iv.try_into().map_err(|_| DecryptFailure::Length("nonce"))?;
    let body_len = ciphertext
        .len()
        .checked_sub(TAG_LEN)
        .ok_or(DecryptFailure::Length("shorter than the GCM tag"))?;
    let start = out.len();
    match k {
        GcmKey::Ring(key) => {
            out.extend_from_slice(ciphertext);
            let buf = out
                .get_mut(start..)
                .ok_or(DecryptFailure::Length("buffer"))?;
            let opened = key
                .open_in_place(
                    ring::aead::Nonce::assume_unique_for_key(nonce),
                    ring::aead::Aad::from(aad),
                    buf,
                )
                .map(|p| p.len());
            match opened {
                Ok(n) => out.truncate(start + n),
                Err(_) => {
                    out.truncate(start);
                    return Err(DecryptFailure::Tag);
                }
            }
        }
        GcmKey::Aes192(key) => {
            let (body, tag) = ciphertext.split_at(body_len);
            out.extend_from_slice(body);
            let buf = out
                .get_mut(start..)
                .ok_or(DecryptFailure::Length("buffer"))?;
            let tag = Array::try_from(tag).map_err(|_| DecryptFailure::Length("tag"))?;
            if key
                .decrypt_inout_detached(&nonce.into(), aad, buf.into(), &tag)
                .is_err()
            {
                out.truncate(start);
                return Err(DecryptFailure::Tag);
            }
        }
    }
    Ok(())
}
