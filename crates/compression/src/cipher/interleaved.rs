//! Interleaved CBC: the commit log's and hints' CBC (chunk frame mode code 4).
//!
//! Plain CBC is serial within a chunk: each block waits for the ciphertext of the one before,
//! so one chunk encrypts at the cipher's latency (1.35 GB/s for AES-128 on the machine of
//! `docs/performance.md`, where ECB runs at 23 GB/s). The commit log writes one chunk after
//! another as records arrive, so it cannot always gather enough chunks to run them side by
//! side (`multi.rs`), and the serial chain made an encrypted log slower than a plaintext one.
//!
//! Here each payload segment (64 KiB as the logs write it, `ChunkEncoder::for_whole_reads`) is
//! cut into [`CHAINS`] CBC chains, block `i` of the segment in chain `i mod CHAINS`: block `i`
//! is encrypted as
//! `E(P_i XOR C_(i-CHAINS))`, and the first block of chain `j` is XORed with that chain's IV.
//! Each chain is plain CBC of its own blocks; blocks `i .. i + CHAINS` are independent, so
//! they go through the cipher in one parallel call, as ECB does.
//!
//! The IVs: chain `j` of segment `s` has `IV(s, j) = E(N XOR be32(s * CHAINS + j))`, where
//! `N` is the frame's IV field (one block, fresh from the OS CSPRNG for every frame) and the
//! 32-bit index is XORed into its last four bytes. Encrypting a value used once under the same
//! key is how NIST SP 800-38A (appendix C) makes CBC IVs unpredictable: no chain's IV can be
//! known or chosen before the frame is written, which is what CBC's confidentiality needs.
//!
//! The payload is the PKCS#5-padded body, as in plain CBC; only the chaining differs.
//!
//! HAZMAT: like CBC, this does not authenticate.
#![deny(clippy::indexing_slicing)]

use cipher::array::{Array, ArraySize};
use cipher::inout::InOut;
use cipher::{
    BlockCipherDecrypt, BlockCipherEncBackend, BlockCipherEncClosure, BlockCipherEncrypt,
    BlockSizeUser,
};

use super::modes::{Blk, ecb_decrypt};
use super::{BlockKey, DecryptFailure, iv_block, padded_len, pkcs5_pad_len};

/// CBC chains per payload segment. 64 blocks is the widest parallel call of the AES backends
/// (VAES-512); narrower backends (8 blocks with AES-NI) split it.
pub(crate) const CHAINS: usize = 64;

impl BlockKey {
    /// Pads `plaintext` (PKCS#5) into `out`, which must be exactly its padded length, and
    /// encrypts it in interleaved CBC with `iv` (one block) and segments of `segment` bytes.
    pub(crate) fn icbc_encrypt_padded(
        &self,
        iv: &[u8],
        segment: usize,
        plaintext: &[u8],
        out: &mut [u8],
    ) -> Result<(), DecryptFailure> {
        with_block_key!(self, c => icbc_encrypt_padded(c, iv, segment, plaintext, out))
    }

    /// Decrypts an interleaved CBC payload into the start of `out` (at least as long) and
    /// checks its padding; returns the plaintext length.
    pub(crate) fn icbc_decrypt_padded(
        &self,
        iv: &[u8],
        segment: usize,
        ciphertext: &[u8],
        out: &mut [u8],
    ) -> Result<usize, DecryptFailure> {
        with_block_key!(self, c => icbc_decrypt_padded(c, iv, segment, ciphertext, out))
    }
}

/// Blocks per segment for a payload of `len` bytes, checking that a segment is whole blocks
/// and that every chain index of the payload fits the 32 bits XORed into the nonce.
fn blocks_per_segment(segment: usize, bs: usize, len: usize) -> Result<usize, DecryptFailure> {
    if segment == 0 || !segment.is_multiple_of(bs) {
        return Err(DecryptFailure::Length("segment size"));
    }
    if u32::try_from(len.div_ceil(segment).saturating_mul(CHAINS)).is_err() {
        return Err(DecryptFailure::Length("payload"));
    }
    Ok(segment / bs)
}

fn icbc_encrypt_padded<C: BlockCipherEncrypt>(
    c: &C,
    iv: &[u8],
    segment: usize,
    plaintext: &[u8],
    out: &mut [u8],
) -> Result<(), DecryptFailure> {
    let bs = <C as BlockSizeUser>::block_size();
    if out.len() != padded_len(plaintext.len(), bs) {
        return Err(DecryptFailure::Length("output buffer"));
    }
    let per_segment = blocks_per_segment(segment, bs, out.len())?;
    let nonce = iv_block::<C>(iv)?;
    // The whole blocks of the plaintext are read where they are; the last block (what is
    // left of the plaintext, then `pad` bytes of value `pad`) is built here.
    let (input, tail) = Array::slice_as_chunks(plaintext);
    let pad = u8::try_from(bs - tail.len()).map_err(|_| DecryptFailure::Length("block"))?;
    let mut last = Blk::<C::BlockSize>::default();
    for (i, b) in last.iter_mut().enumerate() {
        *b = tail.get(i).copied().unwrap_or(pad);
    }
    let (out, _) = Array::slice_as_chunks_mut(out);
    c.encrypt_with_backend(IcbcEncrypt {
        nonce: &nonce,
        per_segment,
        input,
        last: &last,
        out,
    });
    Ok(())
}

/// The whole encryption in one call into the backend (round keys stay in registers, one
/// run-time dispatch): for each run of [`CHAINS`] blocks, the plaintext XORed with the chains'
/// previous ciphertext (or IVs) straight into the output, then the run through the backend's
/// parallel path in place.
struct IcbcEncrypt<'a, BS: ArraySize> {
    nonce: &'a Blk<BS>,
    per_segment: usize,
    /// The plaintext's whole blocks; `last` (padded) follows them.
    input: &'a [Blk<BS>],
    last: &'a Blk<BS>,
    /// One block more than `input`.
    out: &'a mut [Blk<BS>],
}

impl<BS: ArraySize> BlockSizeUser for IcbcEncrypt<'_, BS> {
    type BlockSize = BS;
}

impl<BS: ArraySize> BlockCipherEncClosure for IcbcEncrypt<'_, BS> {
    #[inline(always)]
    fn call<B: BlockCipherEncBackend<BlockSize = BS>>(self, backend: &B) {
        let mut ivs = vec![Blk::<BS>::default(); CHAINS];
        let whole = self.input.len();
        let mut seg_start = 0;
        for (s, seg) in self.out.chunks_mut(self.per_segment).enumerate() {
            let first = seg.len().min(CHAINS);
            let ivs = ivs.get_mut(..first).unwrap_or_default();
            nonce_blocks(self.nonce, s, ivs);
            encrypt_run(backend, ivs);
            let mut at = 0;
            while at < seg.len() {
                let end = (at + CHAINS).min(seg.len());
                let (done, rest) = seg.split_at_mut(at);
                let prev: &[Blk<BS>] = if at == 0 {
                    ivs
                } else {
                    done.get(at - CHAINS..).unwrap_or_default()
                };
                let cur = rest.get_mut(..end - at).unwrap_or_default();
                // The run's plaintext: whole blocks of the input, and the padded last block
                // if the run reaches it.
                let (g0, g1) = (seg_start + at, seg_start + end);
                let src = self
                    .input
                    .get(g0.min(whole)..g1.min(whole))
                    .unwrap_or_default();
                let n = src.len();
                xor_into(
                    Array::slice_as_flattened_mut(cur.get_mut(..n).unwrap_or_default()),
                    Array::slice_as_flattened(src),
                    Array::slice_as_flattened(prev.get(..n).unwrap_or_default()),
                );
                if g1 > whole
                    && let (Some(o), Some(p)) = (cur.get_mut(n), prev.get(n))
                {
                    xor_into(o, self.last, p);
                }
                encrypt_run(backend, cur);
                at = end;
            }
            seg_start += seg.len();
        }
    }
}

/// `out = a ^ b` over the shortest of the three, byte by byte: over a run of blocks (1 KiB of
/// AES) the compiler vectorizes it, where it did not over 16-byte blocks one at a time (see
/// `xor_in_place`).
#[inline(always)]
fn xor_into(out: &mut [u8], a: &[u8], b: &[u8]) {
    for ((o, x), y) in out.iter_mut().zip(a).zip(b) {
        *o = x ^ y;
    }
}

/// Encrypts `blocks` in place, independently: whole parallel batches, then one at a time.
#[inline(always)]
fn encrypt_run<B: BlockCipherEncBackend>(backend: &B, blocks: &mut [Blk<B::BlockSize>]) {
    let (par, tail) = Array::<Blk<B::BlockSize>, B::ParBlocksSize>::slice_as_chunks_mut(blocks);
    for p in par {
        backend.encrypt_par_blocks(InOut::from(p));
    }
    for b in tail {
        backend.encrypt_block(InOut::from(b));
    }
}

/// The nonce XORed with each chain's index (`be32(s * CHAINS + j)` into its last four
/// bytes), to be encrypted into the chains' IVs. The caller checked that the indexes fit.
#[inline(always)]
fn nonce_blocks<BS: ArraySize>(nonce: &Blk<BS>, s: usize, ivs: &mut [Blk<BS>]) {
    for (j, iv) in ivs.iter_mut().enumerate() {
        let index = u32::try_from(s * CHAINS + j).unwrap_or(u32::MAX);
        iv.clone_from(nonce);
        let bs = iv.len();
        if let Some(tail) = iv.get_mut(bs.saturating_sub(4)..) {
            for (x, y) in tail.iter_mut().zip(index.to_be_bytes()) {
                *x ^= y;
            }
        }
    }
}

fn icbc_decrypt_padded<C: BlockCipherEncrypt + BlockCipherDecrypt>(
    c: &C,
    iv: &[u8],
    segment: usize,
    ciphertext: &[u8],
    out: &mut [u8],
) -> Result<usize, DecryptFailure> {
    let bs = <C as BlockSizeUser>::block_size();
    let per_segment = blocks_per_segment(segment, bs, ciphertext.len())?;
    let nonce = iv_block::<C>(iv)?;
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
    // Every block through the cipher in one call (they are independent), then each XORed
    // with its chain's previous ciphertext block or IV.
    ecb_decrypt(c, in_blocks, out_blocks)?;
    let mut ivs = vec![Blk::<C::BlockSize>::default(); CHAINS];
    for (s, (seg_out, seg_in)) in out_blocks
        .chunks_mut(per_segment)
        .zip(in_blocks.chunks(per_segment))
        .enumerate()
    {
        let first = seg_out.len().min(CHAINS);
        let ivs = ivs.get_mut(..first).unwrap_or_default();
        nonce_blocks(&nonce, s, ivs);
        c.encrypt_blocks(ivs);
        let (head, rest) = seg_out.split_at_mut(first);
        xor_all(head, ivs);
        xor_all(rest, seg_in);
    }
    let last = out_blocks.last().ok_or(DecryptFailure::Padding)?;
    let pad = pkcs5_pad_len(last).ok_or(DecryptFailure::Padding)?;
    Ok(ciphertext.len() - pad)
}

/// `a[i] ^= b[i]` for every block `i` of the shorter, over their bytes (vectorized, as
/// `xor_into`).
#[inline(always)]
fn xor_all<BS: ArraySize>(a: &mut [Blk<BS>], b: &[Blk<BS>]) {
    let a = Array::slice_as_flattened_mut(a);
    for (x, y) in a.iter_mut().zip(Array::slice_as_flattened(b)) {
        *x ^= y;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Mode;

    /// Interleaved CBC is, chain by chain, plain CBC of the chain's blocks under the IV
    /// `E(N XOR index)`: checked against the block-by-block CBC reference, for every
    /// algorithm family's block size, and lengths around the chain count and the segment.
    #[test]
    fn each_chain_is_plain_cbc_under_its_derived_iv() {
        let keys = [
            (
                BlockKey::new(crypta_keys::Algorithm::Aes, &[7u8; 16], 128).unwrap(),
                16,
            ),
            (
                BlockKey::new(crypta_keys::Algorithm::Aes, &[9u8; 32], 256).unwrap(),
                16,
            ),
            (
                BlockKey::new(crypta_keys::Algorithm::DesEde, &[3u8; 24], 192).unwrap(),
                8,
            ),
            (
                BlockKey::new(crypta_keys::Algorithm::Blowfish, &[5u8; 16], 128).unwrap(),
                8,
            ),
        ];
        let segment = 1024;
        for (key, bs) in &keys {
            let nonce: Vec<u8> = (0..*bs).map(|i| (i * 29 + 3) as u8).collect();
            let per_seg = segment / bs;
            for len in [
                0usize,
                1,
                bs - 1,
                *bs,
                63 * bs,
                64 * bs - 1,
                64 * bs,
                65 * bs + 3,
                segment - 1,
                segment,
                segment + 1,
                3 * segment + 130 * bs + 5,
            ] {
                let plain: Vec<u8> = (0..len).map(|i| (i * 7 + len) as u8).collect();
                let mut ct = vec![0u8; padded_len(len, *bs)];
                key.icbc_encrypt_padded(&nonce, segment, &plain, &mut ct)
                    .unwrap();
                // The reference: pad, cut into segments and chains, CBC each chain alone.
                let mut padded = plain.clone();
                let pad = ct.len() - len;
                padded.resize(ct.len(), pad as u8);
                let blocks: Vec<&[u8]> = padded.chunks(*bs).collect();
                let ct_blocks: Vec<&[u8]> = ct.chunks(*bs).collect();
                for (s, seg) in blocks.chunks(per_seg).enumerate() {
                    for j in 0..CHAINS.min(seg.len()) {
                        let mut x = nonce.clone();
                        let index = ((s * CHAINS + j) as u32).to_be_bytes();
                        for (a, b) in x[bs - 4..].iter_mut().zip(index) {
                            *a ^= b;
                        }
                        let mut iv = vec![0u8; *bs];
                        key.encrypt_blocks_ecb(&x, &mut iv).unwrap();
                        let chain: Vec<u8> = seg
                            .iter()
                            .skip(j)
                            .step_by(CHAINS)
                            .flat_map(|b| b.to_vec())
                            .collect();
                        let mut want = vec![0u8; chain.len()];
                        key.encrypt_unpadded(Mode::Cbc, &iv, &chain, &mut want)
                            .unwrap();
                        let got: Vec<u8> = ct_blocks
                            .iter()
                            .skip(s * per_seg)
                            .take(seg.len())
                            .skip(j)
                            .step_by(CHAINS)
                            .flat_map(|b| b.to_vec())
                            .collect();
                        assert_eq!(got, want, "bs {bs} len {len} segment {s} chain {j}");
                    }
                }
                let mut back = vec![0u8; ct.len()];
                let n = key
                    .icbc_decrypt_padded(&nonce, segment, &ct, &mut back)
                    .unwrap();
                assert_eq!(&back[..n], &plain[..], "bs {bs} len {len}");
            }
        }
    }

    /// A flipped ciphertext bit changes the plaintext only in its own block (garbled) and the
    /// next block of its chain (the same bit), never elsewhere; a wrong last block fails the
    /// padding check most of the time, as in CBC.
    #[test]
    fn a_flipped_bit_reaches_its_block_and_the_next_of_its_chain() {
        let key = BlockKey::new(crypta_keys::Algorithm::Aes, &[1u8; 16], 128).unwrap();
        let nonce = [0x42u8; 16];
        let plain: Vec<u8> = (0..4000).map(|i| (i % 251) as u8).collect();
        let mut ct = vec![0u8; padded_len(plain.len(), 16)];
        key.icbc_encrypt_padded(&nonce, 4096, &plain, &mut ct)
            .unwrap();
        ct[10 * 16 + 3] ^= 0x80;
        let mut back = vec![0u8; ct.len()];
        let n = key
            .icbc_decrypt_padded(&nonce, 4096, &ct, &mut back)
            .unwrap();
        assert_eq!(n, plain.len());
        for (i, (a, b)) in back[..n].chunks(16).zip(plain.chunks(16)).enumerate() {
            match i {
                10 => assert_ne!(a, b),
                74 => {
                    let diff: Vec<u8> = a.iter().zip(b).map(|(x, y)| x ^ y).collect();
                    let mut want = [0u8; 16];
                    want[3] = 0x80;
                    assert_eq!(diff, want);
                }
                _ => assert_eq!(a, b, "block {i}"),
            }
        }
    }

    #[test]
    fn bad_lengths_are_errors() {
        let key = BlockKey::new(crypta_keys::Algorithm::Aes, &[1u8; 16], 128).unwrap();
        let mut out = vec![0u8; 32];
        assert!(
            key.icbc_encrypt_padded(&[0; 16], 4096, &[1; 20], &mut out[..16])
                .is_err()
        );
        assert!(
            key.icbc_encrypt_padded(&[0; 8], 4096, &[1; 20], &mut out)
                .is_err()
        );
        assert!(
            key.icbc_encrypt_padded(&[0; 16], 100, &[1; 20], &mut out)
                .is_err()
        );
        assert!(
            key.icbc_decrypt_padded(&[0; 16], 4096, &[1; 20], &mut out)
                .is_err()
        );
        assert!(
            key.icbc_decrypt_padded(&[0; 16], 4096, &[], &mut out)
                .is_err()
        );
        assert!(
            key.icbc_decrypt_padded(&[0; 16], 4096, &[1; 32], &mut out[..16])
                .is_err()
        );
    }
}
