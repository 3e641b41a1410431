//! GCM in frames of version 3: the body (the chunk, or its compressed form) is sealed 4 KiB
//! segment by segment under a key of the frame's own, derived from the table's key and the
//! frame's random IV as AES-GCM-SIV derives its keys (RFC 8452); segment `j` is the GCM
//! message with nonce `le32(j) || 0^64` and the frame's header (to the segment shift) as its
//! additional authenticated data. A read of part of a chunk opens only the segments it
//! covers, each verified by its own tag before any of its plaintext is released. See
//! `docs/format/chunk.md`, "GCM (version 3)".
#![deny(clippy::indexing_slicing)]

use std::ops::Range;

use crate::cipher::{DecryptFailure, GcmAead, PreparedKey, TAG_LEN};

/// The number of sealed segments of a body of `body_len` bytes: at least one, so that even an
/// empty body carries a tag over the header.
fn count(body_len: usize, shift: u8) -> usize {
    body_len.div_ceil(1 << shift).max(1)
}

/// The payload length of a body of `body_len` bytes: the body and a tag per segment.
pub(crate) fn payload_len(body_len: usize, shift: u8) -> usize {
    body_len + TAG_LEN * count(body_len, shift)
}

/// The body length of a payload of `payload_len` bytes, if some body gives that length.
pub(crate) fn body_len(payload_len: usize, shift: u8) -> Option<usize> {
    let n = payload_len.div_ceil((1 << shift) + TAG_LEN);
    let body = payload_len.checked_sub(TAG_LEN * n)?;
    (n >= 1 && count(body, shift) == n).then_some(body)
}

/// Where sealed segment `j` (ciphertext, then tag) lies in a payload of `payload_len` bytes.
pub(crate) fn payload_range(j: usize, shift: u8, payload_len: usize) -> Range<usize> {
    let step = (1 << shift) + TAG_LEN;
    (j * step).min(payload_len)..((j + 1) * step).min(payload_len)
}

/// The GCM key of the frame whose random IV is `frame_iv`, under the table's key `key`.
pub(crate) fn frame_key(key: &PreparedKey, frame_iv: &[u8]) -> Result<GcmAead, DecryptFailure> {
    match key {
        PreparedKey::Gcm(k) => k.derive(frame_iv),
        PreparedKey::Block(_) => Err(DecryptFailure::Length("mode")),
    }
}

/// The nonce of segment `j`: `j` as a `u32`, little-endian, then 8 zero bytes (unique under
/// the frame's key, which no other frame shares).
fn nonce(j: usize) -> Result<[u8; 12], DecryptFailure> {
    let j = u32::try_from(j).map_err(|_| DecryptFailure::Length("segment index"))?;
    let mut n = [0u8; 12];
    n.get_mut(..4)
        .ok_or(DecryptFailure::Length("nonce"))?
        .copy_from_slice(&j.to_le_bytes());
    Ok(n)
}

/// Seals `body` into `payload` (exactly [`payload_len`] bytes), segment by segment, under the
/// frame's key, each segment authenticating `header_aad` too.
pub(crate) fn seal(
    key: &GcmAead,
    header_aad: &[u8],
    body: &[u8],
    shift: u8,
    payload: &mut [u8],
) -> Result<(), DecryptFailure> {
    if payload.len() != payload_len(body.len(), shift) {
        return Err(DecryptFailure::Length("sealed segments"));
    }
    let plain = body
        .chunks(1 << shift)
        .chain(body.is_empty().then_some(&[][..]));
    let sealed = payload.chunks_mut((1 << shift) + TAG_LEN);
    for (j, (plain, out)) in plain.zip(sealed).enumerate() {
        key.seal(&nonce(j)?, header_aad, plain, out)?;
    }
    Ok(())
}

/// Opens sealed segment `j` (`sealed`: ciphertext, then tag), appending its plaintext to `out`
/// once its tag verified; on error nothing is appended.
pub(crate) fn open(
    key: &GcmAead,
    header_aad: &[u8],
    j: usize,
    sealed: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), DecryptFailure> {
    key.open_append(&nonce(j)?, header_aad, sealed, out)
}

/// Opens every segment of `payload`, appending the body to `out`; on error nothing is
/// appended.
pub(crate) fn open_all(
    key: &GcmAead,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_round_trip_and_odd_payloads_are_refused() {
        for shift in [10u8, 12, 16] {
            let s = 1usize << shift;
            for body in [0, 1, s - 1, s, s + 1, 3 * s, 3 * s + 7] {
                let p = payload_len(body, shift);
                assert_eq!(body_len(p, shift), Some(body), "{shift} {body}");
            }
            // Lengths between the ones bodies give: 0 to 15 bytes (no room for a tag), and
            // a segment's worth of tag missing.
            for p in [0, 1, 15, s + 16 + 1, s + 16 + 15] {
                assert_eq!(body_len(p, shift), None, "{shift} {p}");
            }
        }
    }
}
