//! ECB and CBC over whole blocks, buffer to buffer.
//!
//! Each function makes one call into the cipher's backend (for AES, the AES-NI or VAES code
//! chosen at run time) and runs its whole loop inside it, so that the round keys stay in
//! registers and the parallel paths (8 blocks with AES-NI, 30 with VAES) are used where the
//! mode allows: ECB both ways and CBC decryption. CBC encryption is sequential by nature (each
//! block needs the previous ciphertext); its loop keeps the chaining value in a register.
//!
//! HAZMAT: neither mode authenticates; see the module above.
#![deny(clippy::indexing_slicing)]

use cipher::array::{Array, ArraySize};
use cipher::inout::{InOut, InOutBuf};
use cipher::typenum::Unsigned;
use cipher::{
    BlockCipherDecBackend, BlockCipherDecClosure, BlockCipherDecrypt, BlockCipherEncBackend,
    BlockCipherEncClosure, BlockCipherEncrypt, BlockSizeUser, ParBlocksSizeUser,
};

use super::DecryptFailure;

type Blk<BS> = Array<u8, BS>;

#[inline(always)]
fn xor_in_place<BS: ArraySize>(a: &mut Blk<BS>, b: &Blk<BS>) {
    for (x, y) in a.iter_mut().zip(b.iter()) {
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
/// The block decryptions are independent, so they run on the backend's parallel path.
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
        let par = <B as ParBlocksSizeUser>::ParBlocksSize::USIZE;
        let mut prev = self.iv;
        let mut input = self.input;
        let mut output = self.output;
        // Whole groups of `par` blocks on the parallel path, then the rest one by one.
        while input.len() >= par && par > 1 {
            let (ci, rest_in) = input.split_at(par);
            let (co, rest_out) = output.split_at_mut(par);
            let (ci_par, _) = Array::<Blk<BS>, B::ParBlocksSize>::slice_as_chunks(ci);
            let (co_par, _) = Array::<Blk<BS>, B::ParBlocksSize>::slice_as_chunks_mut(co);
            if let (Some(i), Some(o)) = (ci_par.first(), co_par.first_mut()) {
                backend.decrypt_par_blocks(InOut::from((i, o)));
            }
            for (o, p) in co.iter_mut().zip(std::iter::once(prev).chain(ci.iter())) {
                xor_in_place(o, p);
            }
            if let Some(last) = ci.last() {
                prev = last;
            }
            input = rest_in;
            output = rest_out;
        }
        for (ci, co) in input.iter().zip(output.iter_mut()) {
            backend.decrypt_block(InOut::from((ci, &mut *co)));
            xor_in_place(co, prev);
            prev = ci;
        }
    }
}
