//! ECB and CBC over whole blocks, buffer to buffer.
//!
//! Each function makes one call into the cipher's backend (for AES, the AES-NI or VAES code
//! chosen at run time) and runs its whole loop inside it, so that the round keys stay in
//! registers and the parallel paths (8 blocks with AES-NI, 30 with VAES-256, 64 with
//! VAES-512) are used where the mode allows: ECB both ways and the block decryptions of CBC
//! (each batch then XORed with the ciphertext before it). CBC encryption is
//! sequential by nature (each block needs the previous ciphertext); its loop keeps the
//! chaining value in a register.
//!
//! HAZMAT: neither mode authenticates; see the module above.
#![deny(clippy::indexing_slicing)]

use cipher::array::{Array, ArraySize};
use cipher::inout::{InOut, InOutBuf};
use cipher::{
    BlockCipherDecBackend, BlockCipherDecClosure, BlockCipherDecrypt, BlockCipherEncBackend,
    BlockCipherEncClosure, BlockCipherEncrypt, BlockSizeUser,
};

use super::DecryptFailure;

pub(super) type Blk<BS> = Array<u8, BS>;

/// `a ^= b`, eight bytes at a time (every block size here is 8 or 16 bytes). Byte by byte,
/// the compiler left the XOR of CBC decryption unvectorized in a portable build: one byte
/// load and store at a time, 3 GB/s where the decryption itself runs at 23.
#[inline(always)]
pub(super) fn xor_in_place<BS: ArraySize>(a: &mut Blk<BS>, b: &Blk<BS>) {
    let (aw, a_rest) = a.as_mut_slice().as_chunks_mut::<8>();
    let (bw, b_rest) = b.as_slice().as_chunks::<8>();
    for (x, y) in aw.iter_mut().zip(bw.iter()) {
        *x = (u64::from_ne_bytes(*x) ^ u64::from_ne_bytes(*y)).to_ne_bytes();
    }
    for (x, y) in a_rest.iter_mut().zip(b_rest.iter()) {
        *x ^= y;
    }
}

fn same_len(a: usize, b: usize) -> Result<(), DecryptFailure> {
    if a == b {
        Ok(())
    } else {
        Err(DecryptFailure::Length("output buffer"))
    }
}

/// ECB encryption of `input` into `output` (the same number of blocks).
pub(crate) fn ecb_encrypt<C: BlockCipherEncrypt>(
    c: &C,
    input: &[Blk<C::BlockSize>],
    output: &mut [Blk<C::BlockSize>],
) -> Result<(), DecryptFailure> {
    let buf = InOutBuf::new(input, output).map_err(|_| DecryptFailure::Length("output buffer"))?;
    c.encrypt_blocks_inout(buf);
    Ok(())
}

/// ECB decryption of `input` into `output` (the same number of blocks).
pub(crate) fn ecb_decrypt<C: BlockCipherDecrypt>(
    c: &C,
    input: &[Blk<C::BlockSize>],
    output: &mut [Blk<C::BlockSize>],
) -> Result<(), DecryptFailure> {
    let buf = InOutBuf::new(input, output).map_err(|_| DecryptFailure::Length("output buffer"))?;
    c.decrypt_blocks_inout(buf);
    Ok(())
}

/// CBC encryption of `input` into `output` starting from `iv`; returns the last ciphertext
/// block (the chaining value for what follows).
pub(crate) fn cbc_encrypt<C: BlockCipherEncrypt>(
    c: &C,
    iv: &Blk<C::BlockSize>,
    input: &[Blk<C::BlockSize>],
    output: &mut [Blk<C::BlockSize>],
) -> Result<Blk<C::BlockSize>, DecryptFailure> {
    same_len(input.len(), output.len())?;
    let mut chain = iv.clone();
    c.encrypt_with_backend(CbcEncrypt {
        chain: &mut chain,
        input,
        output,
    });
    Ok(chain)
}

struct CbcEncrypt<'a, BS: ArraySize> {
    chain: &'a mut Blk<BS>,
    input: &'a [Blk<BS>],
    output: &'a mut [Blk<BS>],
}

impl<BS: ArraySize> BlockSizeUser for CbcEncrypt<'_, BS> {
    type BlockSize = BS;
}

impl<BS: ArraySize> BlockCipherEncClosure for CbcEncrypt<'_, BS> {
    #[inline(always)]
    fn call<B: BlockCipherEncBackend<BlockSize = BS>>(self, backend: &B) {
        let mut chain = self.chain.clone();
        for (p, c) in self.input.iter().zip(self.output.iter_mut()) {
            xor_in_place(&mut chain, p);
            backend.encrypt_block(InOut::from(&mut chain));
            c.clone_from(&chain);
        }
        *self.chain = chain;
    }
}

/// CBC decryption of `input` into `output` starting from `iv`: P[i] = D(C[i]) ^ C[i-1].
///
/// One call into the backend: each batch of the backend's parallel width is decrypted from
/// `input` into a buffer on the stack (1 KiB with VAES-512, which stays in the L1 cache), then
/// XORed with the ciphertext blocks before it into `output`, written once. The `cbc` crate's
/// decryptor, used before, copies each batch twice onto the stack and once more out: with
/// the VAES-512 backend (64 blocks, 1 KiB a batch) CBC decrypted at 9 GB/s where ECB runs at
/// 23; it now runs at 16. Decrypting straight into `output` and XORing there, as until
/// session 12, ran as fast on a buffer in the L1 cache but read back every block just
/// written: into the cold buffer of an evicted cache entry (an SSTable lookup's cache miss),
/// the engine's random gets ran about 4 % slower. (Calling the ECB path per piece and
/// XORing after it measured as fast in a build for the host CPU, but in a portable build it
/// changed how the compiler inlined the `aes` crate's run-time dispatch, and ECB itself fell
/// from 23 to 9 GB/s.)
pub(crate) fn cbc_decrypt<C: BlockCipherDecrypt>(
    c: &C,
    iv: &Blk<C::BlockSize>,
    input: &[Blk<C::BlockSize>],
    output: &mut [Blk<C::BlockSize>],
) -> Result<(), DecryptFailure> {
    same_len(input.len(), output.len())?;
    c.decrypt_with_backend(CbcDecrypt { iv, input, output });
    Ok(())
}

struct CbcDecrypt<'a, BS: ArraySize> {
    iv: &'a Blk<BS>,
    input: &'a [Blk<BS>],
    output: &'a mut [Blk<BS>],
}

impl<BS: ArraySize> BlockSizeUser for CbcDecrypt<'_, BS> {
    type BlockSize = BS;
}

impl<BS: ArraySize> BlockCipherDecClosure for CbcDecrypt<'_, BS> {
    #[inline(always)]
    fn call<B: BlockCipherDecBackend<BlockSize = BS>>(self, backend: &B) {
        let (in_par, in_tail) = Array::<Blk<BS>, B::ParBlocksSize>::slice_as_chunks(self.input);
        let (out_par, out_tail) =
            Array::<Blk<BS>, B::ParBlocksSize>::slice_as_chunks_mut(self.output);
        let mut prev = self.iv;
        let mut scratch = Array::<Blk<BS>, B::ParBlocksSize>::default();
        for (ci, po) in in_par.iter().zip(out_par.iter_mut()) {
            backend.decrypt_par_blocks(InOut::from((ci, &mut scratch)));
            prev = xor_chained_into(prev, ci, &scratch, po);
        }
        for (ci, po) in in_tail.iter().zip(out_tail.iter_mut()) {
            backend.decrypt_block(InOut::from((ci, &mut *po)));
            xor_in_place(po, prev);
            prev = ci;
        }
    }
}

/// `out[i] = decrypted[i] ^ ciphertext[i - 1]` (`prev` before the first); returns the last
/// ciphertext block, the chaining value for what follows. The blocks after the first are
/// XORed as one run of bytes, which the compiler vectorizes (block by block, 16 bytes at a
/// time, it did not).
#[inline(always)]
fn xor_chained_into<'a, BS: ArraySize>(
    prev: &'a Blk<BS>,
    ciphertext: &'a [Blk<BS>],
    decrypted: &[Blk<BS>],
    out: &mut [Blk<BS>],
) -> &'a Blk<BS> {
    if let (Some((o0, o_rest)), Some((d0, d_rest))) =
        (out.split_first_mut(), decrypted.split_first())
    {
        o0.clone_from(d0);
        xor_in_place(o0, prev);
        let o_rest = Array::slice_as_flattened_mut(o_rest);
        let d_rest = Array::slice_as_flattened(d_rest);
        for ((o, d), c) in o_rest
            .iter_mut()
            .zip(d_rest)
            .zip(Array::slice_as_flattened(ciphertext))
        {
            *o = d ^ c;
        }
    }
    ciphertext.last().unwrap_or(prev)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing, reason = "test code")]

    use aes::Aes128;
    use cipher::KeyInit;

    use super::*;

    /// Decryption gives what CBC defines on every length around the parallel widths of the
    /// backends (8 blocks with AES-NI, 30 with VAES-256, 64 with VAES-512, 1 for DES), against
    /// the reference loop: each block decrypted alone and XORed with the one before.
    #[test]
    fn cbc_decrypt_matches_block_by_block() {
        check_cbc_decrypt(&Aes128::new_from_slice(&[7u8; 16]).unwrap());
        check_cbc_decrypt(&des::Des::new_from_slice(&[7u8; 8]).unwrap());
    }

    fn check_cbc_decrypt<C: BlockCipherEncrypt + BlockCipherDecrypt>(c: &C) {
        let iv = Blk::<C::BlockSize>::from_fn(|i| i as u8 ^ 9);
        for n in [0, 1, 2, 7, 8, 9, 29, 30, 31, 63, 64, 65, 127, 128, 129, 200] {
            let plain: Vec<Blk<C::BlockSize>> = (0..n)
                .map(|i| Blk::from_fn(|j| (i * 31 + j) as u8 ^ 0x5A))
                .collect();
            let mut ct = vec![Blk::default(); n];
            cbc_encrypt(c, &iv, &plain, &mut ct).unwrap();
            let mut back = vec![Blk::default(); n];
            cbc_decrypt(c, &iv, &ct, &mut back).unwrap();
            let mut reference = Vec::with_capacity(n);
            for i in 0..n {
                let mut b = ct[i].clone();
                c.decrypt_block(&mut b);
                xor_in_place(&mut b, if i == 0 { &iv } else { &ct[i - 1] });
                reference.push(b);
            }
            assert_eq!(back, reference, "{n} blocks");
            assert_eq!(back, plain, "{n} blocks");
        }
    }
}
