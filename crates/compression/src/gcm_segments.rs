//! GCM in frames of version 3: the body (the chunk, or its compressed form) is sealed 4 KiB
//! segment by segment, each segment a GCM message of its own with a random 96-bit nonce and a
//! tag, its additional authenticated data the frame's header (to the segment shift) and the
//! segment's index. A read of part of a chunk opens only the segments it covers, each
//! verified by its own tag before any of its plaintext is released. See
//! `docs/format/chunk.md`, "GCM (version 3)".
#![deny(clippy::indexing_slicing)]

use std::ops::Range;

use crate::Mode;
use crate::cipher::{DecryptFailure, PreparedKey};

/// Bytes a sealed segment adds to its plaintext: its nonce before it, its tag after it.
pub(crate) const SEGMENT_OVERHEAD: usize = NONCE_LEN + TAG_LEN;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// The number of sealed segments of a body of `body_len` bytes: at least one, so that even an
/// empty body carries a tag over the header.
fn count(body_len: usize, shift: u8) -> usize {
    body_len.div_ceil(1 << shift).max(1)
}

/// Random bytes the nonces of a body of `body_len` bytes take.
pub(crate) fn nonces_len(body_len: usize, shift: u8) -> usize {
    NONCE_LEN * count(body_len, shift)
}

/// The payload length of a body of `body_len` bytes.
pub(crate) fn payload_len(body_len: usize, shift: u8) -> usize {
    body_len + SEGMENT_OVERHEAD * count(body_len, shift)
}

/// The body length of a payload of `payload_len` bytes, if some body gives that length.
pub(crate) fn body_len(payload_len: usize, shift: u8) -> Option<usize> {
    let n = payload_len.div_ceil((1 << shift) + SEGMENT_OVERHEAD);
    let body = payload_len.checked_sub(SEGMENT_OVERHEAD * n)?;
    (n >= 1 && count(body, shift) == n).then_some(body)
}

/// Where sealed segment `j` (nonce, ciphertext, tag) lies in a payload of `payload_len`.
pub(crate) fn payload_range(j: usize, shift: u8, payload_len: usize) -> Range<usize> {
    let step = (1 << shift) + SEGMENT_OVERHEAD;
    (j * step).min(payload_len)..((j + 1) * step).min(payload_len)
}

/// The additional authenticated data of segment `j`: the header's (`header_aad`), then `j` as
/// a `u32`, little-endian. Written into `buf`.
fn aad<'a>(buf: &'a mut Vec<u8>, header_aad: &[u8], j: usize) -> Result<&'a [u8], DecryptFailure> {
    let j = u32::try_from(j).map_err(|_| DecryptFailure::Length("segment index"))?;
    buf.clear();
    buf.extend_from_slice(header_aad);
    buf.extend_from_slice(&j.to_le_bytes());
    Ok(buf.as_slice())
}

/// Seals `body` into `payload` (exactly [`payload_len`] bytes), segment by segment, with
/// nonces from `nonces` (12 random bytes per segment, in order).
pub(crate) fn seal(
    key: &PreparedKey,
    header_aad: &[u8],
    body: &[u8],
    shift: u8,
    nonces: &[u8],
    payload: &mut [u8],
) -> Result<(), DecryptFailure> {
    if payload.len() != payload_len(body.len(), shift)
        || nonces.len() != nonces_len(body.len(), shift)
    {
        return Err(DecryptFailure::Length("sealed segments"));
    }
    let mut buf = Vec::with_capacity(header_aad.len() + 4);
    let plain = body
        .chunks(1 << shift)
        .chain(body.is_empty().then_some(&[][..]));
    let sealed = payload.chunks_mut((1 << shift) + SEGMENT_OVERHEAD);
    for (j, ((plain, out), nonce)) in plain
        .zip(sealed)
        .zip(nonces.chunks_exact(NONCE_LEN))
        .enumerate()
    {
        let (nonce_out, rest) = out
            .split_at_mut_checked(NONCE_LEN)
            .ok_or(DecryptFailure::Length("sealed segment"))?;
        nonce_out.copy_from_slice(nonce);
        key.encrypt(Mode::Gcm, nonce, aad(&mut buf, header_aad, j)?, plain, rest)?;
    }
    Ok(())
}

/// Opens sealed segment `j` (`sealed`: nonce, ciphertext, tag), appending its plaintext to
/// `out` once its tag verified; on error nothing is appended.
pub(crate) fn open(
    key: &PreparedKey,
    header_aad: &[u8],
    j: usize,
    sealed: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), DecryptFailure> {
    let (nonce, rest) = sealed
        .split_at_checked(NONCE_LEN)
        .ok_or(DecryptFailure::Length("sealed segment"))?;
    let mut buf = Vec::with_capacity(header_aad.len() + 4);
    key.decrypt_append(Mode::Gcm, nonce, aad(&mut buf, header_aad, j)?, rest, out)
}

/// Opens every segment of `payload`, appending the body to `out`; on error nothing is
/// appended.
pub(crate) fn open_all(
    key: &PreparedKey,
    header_aad: &[u8],
    payload: &[u8],
    shift: u8,
    out: &mut Vec<u8>,
) -> Result<(), DecryptFailure> {
    let start = out.len();
    let body = body_len(payload.len(), shift).ok_or(DecryptFailure::Length(
        "GCM payload length that no sealed segments give",
    ))?;
    for j in 0..count(body, shift) {
        let sealed = payload
            .get(payload_range(j, shift, payload.len()))
            .unwrap_or_default();
        if let Err(e) = open(key, header_aad, j, sealed, out) {
            out.truncate(start);
            return Err(e);
        }
    }
    Ok(())
}
