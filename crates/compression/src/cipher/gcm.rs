//! AES-GCM with a 96-bit nonce and a 128-bit tag.
//!
//! AES-128 and AES-256 use ring (its VAES/AVX2 and AES-NI/CLMUL assembly, both directions);
//! AES-192, which ring lacks, uses RustCrypto's `aes-gcm`. Both are checked against the
//! published GCM vectors in `tests/data/aes_gcm.txt`.
#![deny(clippy::indexing_slicing)]

use aes::Aes192;
use aes_gcm::aead::AeadInOut;
use cipher::KeyInit;
use cipher::inout::InOutBuf;

use crypta_keys::Algorithm;
use zeroize::Zeroizing;

use super::{BlockKey, DecryptFailure};

/// The GCM tag length.
pub(crate) const TAG_LEN: usize = 16;

/// An AES-GCM key, and the same key as a block cipher for deriving the key of each frame of
/// version 3 ([`GcmKey::derive`]).
pub(crate) struct GcmKey {
    aead: GcmAead,
    kdf: BlockKey,
}

impl GcmKey {
    /// The key for `m` (16, 24 or 32 bytes).
    pub(crate) fn new(m: &[u8]) -> Option<Self> {
        Some(GcmKey {
            aead: GcmAead::new(m)?,
            kdf: BlockKey::new(Algorithm::Aes, m, 0)?,
        })
    }

    /// The AEAD under this key itself (GCM frames of versions 1 and 2, and the hazmat cipher).
    pub(crate) fn aead(&self) -> &GcmAead {
        &self.aead
    }

    /// The GCM key of a frame of version 3 whose random IV is `frame_iv` (12 bytes): as long
    /// as this key, made of the first 8 bytes of each of the blocks `AES-K(le32(i) || frame_iv)`
    /// for `i` = 0, 1, ... (the key derivation of AES-GCM-SIV, RFC 8452 section 4). Each
    /// frame gets a key of its own, so that its segments can take the nonces 0, 1, 2, ...
    pub(crate) fn derive(&self, frame_iv: &[u8]) -> Result<GcmAead, DecryptFailure> {
        let iv: &[u8; 12] = frame_iv
            .try_into()
            .map_err(|_| DecryptFailure::Length("frame nonce"))?;
        let len = match self.kdf {
            BlockKey::Aes128(_) => 16,
            BlockKey::Aes192(_) => 24,
            _ => 32,
        };
        let mut input = Zeroizing::new([0u8; 64]);
        for (i, block) in input.chunks_exact_mut(16).enumerate() {
            let (counter, nonce) = block.split_at_mut(4);
            counter.copy_from_slice(&(i as u32).to_le_bytes());
            nonce.copy_from_slice(iv);
        }
        let blocks = len / 8;
        let mut output = Zeroizing::new([0u8; 64]);
        let (Some(input), Some(out)) = (input.get(..16 * blocks), output.get_mut(..16 * blocks))
        else {
            return Err(DecryptFailure::Length("derived key"));
        };
        self.kdf.encrypt_blocks_ecb(input, out)?;
        let mut material = Zeroizing::new([0u8; 32]);
        for (half, block) in material.chunks_exact_mut(8).zip(out.chunks_exact(16)) {
            half.copy_from_slice(block.get(..8).unwrap_or_default());
        }
        GcmAead::new(material.get(..len).unwrap_or_default())
            .ok_or(DecryptFailure::Length("derived key"))
    }
}

/// An AEAD key for AES-GCM.
#[expect(
    clippy::large_enum_variant,
    reason = "one GcmKey per cached key; boxing ring's key would add an indirection per chunk"
)]
pub(crate) enum GcmAead {
    /// ring's AES-GCM (AES-128 and AES-256).
    Ring(ring::aead::LessSafeKey),
    /// RustCrypto's AES-GCM for AES-192.
    Aes192(Box<aes_gcm::AesGcm<Aes192, cipher::consts::U12>>),
}

fn nonce(iv: &[u8]) -> Result<[u8; 12], DecryptFailure> {
    iv.try_into().map_err(|_| DecryptFailure::Length("nonce"))
}

/// A GCM message to open: its nonce, its ciphertext and its tag.
struct Sealed<'c> {
    nonce: [u8; 12],
    body: &'c [u8],
    tag: [u8; TAG_LEN],
}

/// The nonce of `iv`, and sealed `ciphertext` split into its body and its tag.
fn split_sealed<'c>(iv: &[u8], ciphertext: &'c [u8]) -> Result<Sealed<'c>, DecryptFailure> {
    let body_len = ciphertext
        .len()
        .checked_sub(TAG_LEN)
        .ok_or(DecryptFailure::Length("shorter than the GCM tag"))?;
    let (body, tag) = ciphertext.split_at(body_len);
    let tag = tag.try_into().map_err(|_| DecryptFailure::Length("tag"))?;
    Ok(Sealed {
        nonce: nonce(iv)?,
        body,
        tag,
    })
}

impl GcmAead {
    /// The key for `m` (16, 24 or 32 bytes).
    pub(crate) fn new(m: &[u8]) -> Option<Self> {
        let ring_key = |alg| {
            ring::aead::UnboundKey::new(alg, m)
                .ok()
                .map(|k| GcmAead::Ring(ring::aead::LessSafeKey::new(k)))
        };
        match m.len() {
            16 => ring_key(&ring::aead::AES_128_GCM),
            32 => ring_key(&ring::aead::AES_256_GCM),
            24 => Some(GcmAead::Aes192(Box::new(
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
            GcmAead::Ring(key) => {
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
            GcmAead::Aes192(key) => {
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
        let sealed = split_sealed(iv, ciphertext)?;
        let dst = out
            .get_mut(..sealed.body.len())
            .ok_or(DecryptFailure::Length("output buffer"))?;
        dst.copy_from_slice(sealed.body);
        self.open_in_place(&sealed, aad, dst)?;
        Ok(sealed.body.len())
    }

    /// As [`GcmAead::open`], appending the plaintext to `out`: the ciphertext is copied to the
    /// end of `out` and opened there in place (no room zeroed for it first). On error `out`
    /// is left as it was.
    pub(crate) fn open_append(
        &self,
        iv: &[u8],
        aad: &[u8],
        ciphertext: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), DecryptFailure> {
        let sealed = split_sealed(iv, ciphertext)?;
        let start = out.len();
        out.extend_from_slice(sealed.body);
        let opened = self.open_in_place(&sealed, aad, out.get_mut(start..).unwrap_or_default());
        if opened.is_err() {
            out.truncate(start);
        }
        opened
    }

    /// Checks `sealed`'s tag over `aad` and `in_out` (a copy of its ciphertext), decrypting
    /// `in_out` in place.
    fn open_in_place(
        &self,
        sealed: &Sealed<'_>,
        aad: &[u8],
        in_out: &mut [u8],
    ) -> Result<(), DecryptFailure> {
        let (nonce, tag) = (sealed.nonce, sealed.tag);
        match self {
            GcmAead::Ring(key) => key
                .open_in_place_separate_tag(
                    ring::aead::Nonce::assume_unique_for_key(nonce),
                    ring::aead::Aad::from(aad),
                    ring::aead::Tag::from(tag),
                    in_out,
                    0..,
                )
                .map(|_| ())
                .map_err(|_| DecryptFailure::Tag),
            GcmAead::Aes192(key) => key
                .decrypt_inout_detached(&nonce.into(), aad, InOutBuf::from(in_out), &tag.into())
                .map_err(|_| DecryptFailure::Tag),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_append_appends_what_open_gives_or_nothing() {
        for len in [16usize, 24, 32] {
            let key = GcmAead::new(&vec![7u8; len]).unwrap();
            let (iv, aad) = ([3u8; 12], b"header");
            let plain: Vec<u8> = (0..1000u32).map(|i| (i * 31) as u8).collect();
            let mut sealed = vec![0u8; plain.len() + TAG_LEN];
            key.seal(&iv, aad, &plain, &mut sealed).unwrap();
            let mut out = b"prefix".to_vec();
            key.open_append(&iv, aad, &sealed, &mut out).unwrap();
            assert_eq!(&out[..6], b"prefix");
            assert_eq!(&out[6..], &plain[..], "{len}-byte key");
            // A flipped bit anywhere, the wrong AAD, or too short: an error, `out` unchanged.
            for at in [0, 500, plain.len() + 3] {
                let mut bad = sealed.clone();
                bad[at] ^= 1;
                let mut out = b"prefix".to_vec();
                assert!(key.open_append(&iv, aad, &bad, &mut out).is_err());
                assert_eq!(out, b"prefix", "{len}-byte key, bit at {at}");
            }
            let mut out = b"prefix".to_vec();
            assert!(key.open_append(&iv, b"other", &sealed, &mut out).is_err());
            assert!(key.open_append(&iv, aad, &sealed[..15], &mut out).is_err());
            assert_eq!(out, b"prefix");
        }
    }
}
