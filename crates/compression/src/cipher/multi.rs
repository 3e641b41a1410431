//! Multi-buffer CBC encryption: several independent CBC chains (one per chunk) advanced
//! side by side inside one backend call.
//!
//! CBC encryption is serial within a chunk: each block waits for the previous ciphertext, so
//! one chain runs at the cipher's latency (about 40 cycles a block for AES-128 with AES-NI),
//! not its throughput. Chains of different chunks are independent, so encrypting block `i`
//! of several chunks in turn lets the core overlap them (OpenSSL's "multi-buffer CBC"). Two
//! ways are used, as the backend allows:
//!
//! - lanes in groups of the backend's parallel width (`ParBlocksSize`: 8 blocks with AES-NI,
//!   30 with VAES-256, 64 with VAES-512): one `encrypt_par_blocks` call per step, which costs
//!   about the same whatever number of its lanes carry data. Used when a group has enough
//!   lanes (`PAR_MIN_FILL`, `PAR_LANES_ENOUGH`).
//! - a group too thin for that: each lane alone, as single-chunk CBC runs.
//!
//! The output is exactly that of encrypting each chain alone (tests compare them).
//!
//! HAZMAT: CBC does not authenticate; see the module above.
#![deny(clippy::indexing_slicing)]

use cipher::array::{Array, ArraySize};
use cipher::inout::InOut;
use cipher::typenum::Unsigned;
use cipher::{
    BlockCipherEncBackend, BlockCipherEncClosure, BlockCipherEncrypt, BlockSizeUser, ParBlocks,
};

use super::modes::{Blk, xor_in_place};
use super::{BlockKey, DecryptFailure, iv_block};

/// One CBC chain: its IV, and whole blocks encrypted in place.
pub(crate) struct Lane<'a> {
    pub iv: &'a [u8],
    pub data: &'a mut [u8],
}

impl BlockKey {
    /// CBC-encrypts every lane in place, each from its own IV; `data` must be whole blocks of
    /// this cipher and `iv` one block.
    pub(crate) fn cbc_encrypt_lanes(&self, lanes: &mut [Lane<'_>]) -> Result<(), DecryptFailure> {
        with_block_key!(self, c => cbc_encrypt_lanes(c, lanes))
    }
}

fn cbc_encrypt_lanes<C: BlockCipherEncrypt>(
    c: &C,
    lanes: &mut [Lane<'_>],
) -> Result<(), DecryptFailure> {
    let mut chains = Vec::with_capacity(lanes.len());
    let mut blocks = Vec::with_capacity(lanes.len());
    for lane in lanes.iter_mut() {
        chains.push(iv_block::<C>(lane.iv)?);
        let (b, tail) = Array::slice_as_chunks_mut(&mut *lane.data);
        if !tail.is_empty() {
            return Err(DecryptFailure::Length("not whole blocks"));
        }
        blocks.push(b);
    }
    c.encrypt_with_backend(CbcLanes {
        chains: &mut chains,
        blocks: &mut blocks,
    });
    Ok(())
}

struct CbcLanes<'a, 'b, BS: ArraySize> {
    chains: &'a mut [Blk<BS>],
    blocks: &'a mut [&'b mut [Blk<BS>]],
}

impl<BS: ArraySize> BlockSizeUser for CbcLanes<'_, '_, BS> {
    type BlockSize = BS;
}

impl<BS: ArraySize> BlockCipherEncClosure for CbcLanes<'_, '_, BS> {
    #[inline(always)]
    fn call<B: BlockCipherEncBackend<BlockSize = BS>>(self, backend: &B) {
        let width = B::ParBlocksSize::USIZE.max(1);
        for (chains, blocks) in self
            .chains
            .chunks_mut(width)
            .zip(self.blocks.chunks_mut(width))
        {
            let min_lanes = width.div_ceil(PAR_MIN_FILL).clamp(2, PAR_LANES_ENOUGH);
            if width > 1 && chains.len() >= min_lanes {
                par_group(backend, chains, blocks);
            } else {
                lane_by_lane(backend, chains, blocks);
            }
        }
    }
}

/// A group of lanes goes through `encrypt_par_blocks` when it fills at least 1/this of the
/// backend's width (a parallel call costs about the same however many lanes carry data), or
/// has [`PAR_LANES_ENOUGH`] lanes, and at least 2. Measured, AES-128, 64 KiB lanes, MB/s in
/// all: one chain alone 1,100 to 1,350; with AES-NI (width 8) 2 lanes 1,450 and 8 lanes
/// 3,000; with VAES-256 (width 30) 8 lanes 2,260, 16 lanes 3,360, 30 lanes 4,000, so that
/// parallel calls paid from about 5 lanes (5 × 6 = 30). (Those figures predate the word-wise
/// XOR of `xor_in_place`, which sped up the lane gathering.)
const PAR_MIN_FILL: usize = 6;

/// Lanes from which a parallel call pays whatever the width. VAES-512 (width 64, AMD Zen 4),
/// with the word-wise XOR: one chain alone 1,353 MB/s; through parallel calls 4 lanes 1,287,
/// 5 lanes 1,546, 8 lanes 2,318, 16 lanes 3,707, 64 lanes 5,817.
const PAR_LANES_ENOUGH: usize = 5;

/// Each lane alone, its chaining value in a local (a register), as single-chunk CBC runs.
/// Interleaving thin groups block by block kept the chaining values in memory: measured
/// with `target-cpu=native` (VAES backend), 2 to 16 lanes ran at 550–580 MB/s in all where
/// one chain alone runs at 1,100.
#[inline(always)]
fn lane_by_lane<B: BlockCipherEncBackend>(
    backend: &B,
    chains: &mut [Blk<B::BlockSize>],
    blocks: &mut [&mut [Blk<B::BlockSize>]],
) {
    for (chain, lane) in chains.iter_mut().zip(blocks.iter_mut()) {
        let mut c = chain.clone();
        for p in lane.iter_mut() {
            xor_in_place(&mut c, p);
            backend.encrypt_block(InOut::from(&mut c));
            p.clone_from(&c);
        }
        *chain = c;
    }
}

/// One block of each lane per step, all in one `encrypt_par_blocks` call. The chaining
/// values live in the parallel buffer itself; slots of lanes that have ended (or that the
/// group does not fill) carry leftovers whose output is never used.
#[inline(always)]
fn par_group<B: BlockCipherEncBackend>(
    backend: &B,
    chains: &mut [Blk<B::BlockSize>],
    blocks: &mut [&mut [Blk<B::BlockSize>]],
) {
    let steps = blocks.iter().map(|b| b.len()).max().unwrap_or(0);
    let mut par = ParBlocks::<B>::default();
    for (slot, chain) in par.iter_mut().zip(chains.iter()) {
        slot.clone_from(chain);
    }
    for step in 0..steps {
        for (slot, lane) in par.iter_mut().zip(blocks.iter()) {
            if let Some(p) = lane.get(step) {
                xor_in_place(slot, p);
            }
        }
        backend.encrypt_par_blocks(InOut::from(&mut par));
        for (slot, lane) in par.iter().zip(blocks.iter_mut()) {
            if let Some(p) = lane.get_mut(step) {
                p.clone_from(slot);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Mode;

    /// Multi-lane output equals each lane encrypted alone, for every lane count around the
    /// backends' widths and lanes of different lengths.
    #[test]
    fn lanes_match_single_chains() {
        let keys = [
            BlockKey::new(crypta_keys::Algorithm::Aes, &[7u8; 16], 128).unwrap(),
            BlockKey::new(crypta_keys::Algorithm::Aes, &[9u8; 32], 256).unwrap(),
            BlockKey::new(crypta_keys::Algorithm::DesEde, &[3u8; 24], 192).unwrap(),
        ];
        for key in &keys {
            let bs = if matches!(key, BlockKey::Tdes3(_)) {
                8
            } else {
                16
            };
            for n in [1usize, 2, 3, 4, 5, 7, 8, 9, 16, 29, 30, 31, 61, 64, 65, 69] {
                let ivs: Vec<Vec<u8>> = (0..n).map(|i| vec![i as u8 ^ 0x5c; bs]).collect();
                let plain: Vec<Vec<u8>> = (0..n)
                    .map(|i| {
                        let blocks = 1 + (i * 7) % 13;
                        (0..blocks * bs).map(|j| (j * 31 + i) as u8).collect()
                    })
                    .collect();
                let mut expected = Vec::new();
                for (iv, p) in ivs.iter().zip(&plain) {
                    let mut out = vec![0u8; p.len()];
                    key.encrypt_unpadded(Mode::Cbc, iv, p, &mut out).unwrap();
                    expected.push(out);
                }
                let mut data = plain.clone();
                let mut lanes: Vec<Lane<'_>> = ivs
                    .iter()
                    .zip(data.iter_mut())
                    .map(|(iv, d)| Lane { iv, data: d })
                    .collect();
                key.cbc_encrypt_lanes(&mut lanes).unwrap();
                assert_eq!(data, expected, "{n} lanes");
            }
            // Not whole blocks, or a wrong IV: an error, not a panic.
            let mut d = vec![0u8; bs + 1];
            let iv = vec![0u8; bs];
            assert!(
                key.cbc_encrypt_lanes(&mut [Lane {
                    iv: &iv,
                    data: &mut d
                }])
                .is_err()
            );
            let mut d = vec![0u8; bs];
            assert!(
                key.cbc_encrypt_lanes(&mut [Lane {
                    iv: &iv[1..],
                    data: &mut d
                }])
                .is_err()
            );
        }
    }
}
