//! AES-GCM with a 96-bit nonce and a 128-bit tag.
//!
//! AES-128 and AES-256 use ring (its VAES/AVX2 and AES-NI/CLMUL assembly, both directions);
//! AES-192, which ring lacks, uses RustCrypto's `aes-gcm`. Both are checked against the
//! published GCM vectors in `tests/data/aes_gcm.txt`.
#![deny(clippy::indexing_slicing)]

use aes::Aes192;
use aes_gcm::aead::AeadInOut;
use cipher::KeyInit;
use cipher::array::Array;
use cipher::inout::InOutBuf;

use super::DecryptFailure;

/// The GCM tag length.
pub(crate) const TAG_LEN: usize = 16;

/// An AEAD key for AES-GCM.
#[expect(
    clippy::large_enum_variant,
    reason = "one GcmKey per cached key; boxing ring's key would add an indirection per chunk"
)]
pub(crate) enum GcmKey {
    /// ring's AES-GCM (AES-128 and AES-256).
    Ring(ring::aead::LessSafeKey),
    /// RustCrypto's AES-GCM for AES-192.
    Aes192(Box<aes_gcm::AesGcm<Aes192, cipher::consts::U12>>),
}

fn nonce(iv: &[u8]) -> Result<[u8; 12], DecryptFailure> {
    iv.try_into().map_err(|_| DecryptFailure::Length("nonce"))
}

impl GcmKey {
    /// The key for `m` (16, 24 or 32 bytes).
    pub(crate) fn new(m: &[u8]) -> Option<Self> {
        let ring_key = |alg| {
            ring::aead::UnboundKey::new(alg, m)
                .ok()
                .map(|k| GcmKey::Ring(ring::aead::LessSafeKey::new(k)))
        };
        match m.len() {
            16 => ring_key(&ring::aead::AES_128_GCM),
            32 => ring_key(&ring::aead::AES_256_GCM),
            24 => Some(GcmKey::Aes192(Box::new(
                aes_gcm::AesGcm::new_from_slice(m).ok()?,
            ))),
            _ => None,
        }
    }

    /// Encrypts `plaintext` into `out` (exactly `plaintext.len() + 16` bytes: ciphertext,
    /// then tag), authenticating `aad` too.
    pub(crate) fn seal(
        &self,
        iv: &[u8],
        aad: &[u8],
        plaintext: &[u8],
        out: &mut [u8],
    ) -> Result<(), DecryptFailure> {
        let nonce = nonce(iv)?;
        if out.len() != plaintext.len() + TAG_LEN {
            return Err(DecryptFailure::Length("output buffer"));
        }
        let (body, tag_out) = out.split_at_mut(plaintext.len());
        let tag: [u8; TAG_LEN] = match self {
            GcmKey::Ring(key) => {
                body.copy_from_slice(plaintext);
                let tag = key
                    .seal_in_place_separate_tag(
                        ring::aead::Nonce::assume_unique_for_key(nonce),
                        ring::aead::Aad::from(aad),
                        body,
                    )
                    .map_err(|_| DecryptFailure::Length("plaintext too long for GCM"))?;
                tag.as_ref()
                    .try_into()
                    .map_err(|_| DecryptFailure::Length("tag"))?
            }
            GcmKey::Aes192(key) => {
                let buf = InOutBuf::new(plaintext, body)
                    .map_err(|_| DecryptFailure::Length("output buffer"))?;
                key.encrypt_inout_detached(&nonce.into(), aad, buf)
                    .map_err(|_| DecryptFailure::Length("plaintext too long for GCM"))?
                    .into()
            }
        };
        tag_out.copy_from_slice(&tag);
        Ok(())
    }

    /// Checks the tag of `ciphertext` (ciphertext then 16-byte tag) over `aad` and the
    /// ciphertext, and decrypts it into the start of `out`; returns the plaintext length.
    /// On error the contents of `out` are unspecified (ring decrypts while it hashes): the
    /// caller discards them.
    pub(crate) fn open(
        &self,
        iv: &[u8],
        aad: &[u8],
        ciphertext: &[u8],
        out: &mut [u8],
    ) -> Result<usize, DecryptFailure> {
        let nonce = nonce(iv)?;
        let body_len = ciphertext
            .len()
            .checked_sub(TAG_LEN)
            .ok_or(DecryptFailure::Length("shorter than the GCM tag"))?;
        let (body, tag) = ciphertext.split_at(body_len);
        let dst = out
            .get_mut(..body_len)
            .ok_or(DecryptFailure::Length("output buffer"))?;
        match self {
            GcmKey::Ring(key) => {
                let tag: [u8; TAG_LEN] =
                    tag.try_into().map_err(|_| DecryptFailure::Length("tag"))?;
                dst.copy_from_slice(body);
                key.open_in_place_separate_tag(
                    ring::aead::Nonce::assume_unique_for_key(nonce),
                    ring::aead::Aad::from(aad),
                    ring::aead::Tag::from(tag),
                    dst,
                    0..,
                )
                .map_err(|_| DecryptFailure::Tag)?;
            }
            GcmKey::Aes192(key) => {
                let tag = Array::try_from(tag).map_err(|_| DecryptFailure::Length("tag"))?;
                let buf = InOutBuf::new(body, dst)
                    .map_err(|_| DecryptFailure::Length("output buffer"))?;
                key.decrypt_inout_detached(&nonce.into(), aad, buf, &tag)
                    .map_err(|_| DecryptFailure::Tag)?;
            }
        }
        Ok(body_len)
    }
}
