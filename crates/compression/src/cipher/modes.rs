//! ECB and CBC over whole blocks, buffer to buffer.
//!
//! Each function makes one call into the cipher's backend (for AES, the AES-NI or VAES code
//! chosen at run time) and runs its whole loop inside it, so that the round keys stay in
//! registers and the parallel paths (8 blocks with AES-NI, 30 with VAES) are used where the
//! mode allows: ECB both ways and the block decryptions of CBC. CBC encryption is sequential by nature (each
//! block needs the previous ciphertext); its loop keeps the chaining value in a register.
//!
//! HAZMAT: neither mode authenticates; see the module above.
#![deny(clippy::indexing_slicing)]

use cipher::array::{Array, ArraySize};
use cipher::inout::{InOut, InOutBuf};
use cipher::{
    BlockCipherDecrypt, BlockCipherEncBackend, BlockCipherEncClosure, BlockCipherEncrypt,
    BlockModeDecrypt, BlockSizeUser, InnerIvInit,
};

use super::DecryptFailure;

pub(super) type Blk<BS> = Array<u8, BS>;

#[inline(always)]
pub(super) fn xor_in_place<BS: ArraySize>(a: &mut Blk<BS>, b: &Blk<BS>) {
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
///
/// Through the `cbc` crate's decryptor: its loop runs inside the cipher's backend and XORs each
/// parallel batch while it is still in registers. Measured on VAES hardware (64 KiB): this runs
/// at ECB speed, where decrypting everything first and XORing in a second pass ran at 0.75 of
/// it, and a batch-then-XOR closure of our own at 0.6.
pub(crate) fn cbc_decrypt<C: BlockCipherDecrypt>(
    c: &C,
    iv: &Blk<C::BlockSize>,
    input: &[Blk<C::BlockSize>],
    output: &mut [Blk<C::BlockSize>],
) -> Result<(), DecryptFailure> {
    let buf = InOutBuf::new(input, output).map_err(|_| DecryptFailure::Length("output buffer"))?;
    cbc::Decryptor::<&C>::inner_iv_init(c, iv).decrypt_blocks_inout(buf);
    Ok(())
}
