//! Compressors applied before encryption: deflate and LZ4, with bounded decompression.
#![deny(clippy::indexing_slicing)]

use std::cell::RefCell;

use flate2::{Compress, Decompress, FlushCompress, FlushDecompress, Status};

use crate::{CompressionError, Compressor};

/// Deflate level: 6, the `java.util.zip.Deflater` default that DSE's `DeflateCompressor` uses.
pub const DEFLATE_LEVEL: u32 = 6;

thread_local! {
    static DEFLATER: RefCell<Option<Compress>> = const { RefCell::new(None) };
    static INFLATER: RefCell<Option<Decompress>> = const { RefCell::new(None) };
}

/// Appends the compressed form of `input` to `out`.
pub(crate) fn compress(
    c: Compressor,
    input: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), CompressionError> {
    match c {
        Compressor::Lz4 => {
            let start = out.len();
            out.resize(
                start + lz4_flex::block::get_maximum_output_size(input.len()),
                0,
            );
            let dst = out.get_mut(start..).unwrap_or_default();
            let n = lz4_flex::block::compress_into(input, dst).map_err(|e| {
                CompressionError::Compress {
                    reason: e.to_string(),
                }
            })?;
            out.truncate(start + n);
            Ok(())
        }
        Compressor::Deflate => DEFLATER.with(|cell| {
            let mut slot = cell.borrow_mut();
            let d = slot.get_or_insert_with(|| {
                Compress::new(flate2::Compression::new(DEFLATE_LEVEL), false)
            });
            d.reset();
            // Worst case of deflate: stored blocks, 5 bytes per 16 KiB plus a little.
            out.reserve(input.len() + input.len() / 1000 + 64);
            loop {
                let consumed = usize::try_from(d.total_in()).unwrap_or(usize::MAX);
                let rest = input.get(consumed..).unwrap_or_default();
                let status = d
                    .compress_vec(rest, out, FlushCompress::Finish)
                    .map_err(|e| CompressionError::Compress {
                        reason: e.to_string(),
                    })?;
                match status {
                    Status::StreamEnd => return Ok(()),
                    Status::Ok | Status::BufError => out.reserve(out.capacity().max(1024)),
                }
            }
        }),
    }
}

/// Appends the decompressed form of `input` to `out`, which must be exactly `expected` bytes:
/// never allocates more than that, whatever the input says.
pub(crate) fn decompress(
    c: Compressor,
    input: &[u8],
    expected: usize,
    out: &mut Vec<u8>,
) -> Result<(), CompressionError> {
    let bad = |reason: String| CompressionError::Decompress { reason };
    let start = out.len();
    match c {
        Compressor::Lz4 => {
            out.resize(start + expected, 0);
            let dst = out.get_mut(start..).unwrap_or_default();
            let n = lz4_flex::block::decompress_into(input, dst)
                .map_err(|e| bad(format!("lz4: {e}")))?;
            if n != expected {
                out.truncate(start);
                return Err(bad(format!("lz4 gave {n} bytes, the frame declares {expected}")));
            }
            Ok(())
        }
        Compressor::Deflate => INFLATER.with(|cell| {
            let mut slot = cell.borrow_mut();
            let d = slot.get_or_insert_with(|| Decompress::new(false));
            d.reset(false);
            // One byte of slack so that output longer than declared is detected;
            // decompress_vec writes only into spare capacity, so nothing grows past it.
            out.reserve_exact(expected + 1);
            while out.len() - start <= expected {
                let consumed = usize::try_from(d.total_in()).unwrap_or(usize::MAX);
                let rest = input.get(consumed..).unwrap_or_default();
                let before = (d.total_in(), d.total_out());
                match d.decompress_vec(rest, out, FlushDecompress::Finish) {
                    Ok(Status::StreamEnd) => break,
                    Ok(_) if (d.total_in(), d.total_out()) == before => {
                        out.truncate(start);
                        return Err(bad("deflate stream is truncated".into()));
                    }
                    Ok(_) => {}
                    Err(e) => {
                        out.truncate(start);
                        return Err(bad(format!("deflate: {e}")));
                    }
                }
            }
            let produced = out.len() - start;
            let used = usize::try_from(d.total_in()).unwrap_or(usize::MAX);
            if produced != expected || used != input.len() {
                out.truncate(start);
                return Err(bad(format!(
                    "deflate gave {produced} bytes from {used} of {} input bytes, the frame declares {expected}",
                    input.len()
                )));
            }
            Ok(())
        }),
    }
}

/// The compressed body of a chunk frame of version 3: the chunk cut into segments of
/// `1 << shift` plaintext bytes (the last may be shorter), each compressed on its own, after
/// a table of one `u32` per segment, the end of that segment's compressed bytes (counted from
/// the end of the table). A read of part of the chunk inflates only the segments it covers.
pub(crate) fn compress_segments(
    c: Compressor,
    input: &[u8],
    shift: u8,
    out: &mut Vec<u8>,
) -> Result<(), CompressionError> {
    let table_at = out.len();
    let count = input.len().div_ceil(1 << shift);
    out.resize(table_at + 4 * count, 0);
    let body_at = out.len();
    for (i, segment) in input.chunks(1 << shift).enumerate() {
        compress(c, segment, out)?;
        let end = u32::try_from(out.len() - body_at).map_err(|_| CompressionError::Compress {
            reason: "compressed chunk does not fit a chunk frame".into(),
        })?;
        out.get_mut(table_at + 4 * i..table_at + 4 * i + 4)
            .ok_or_else(|| CompressionError::Compress {
                reason: "segment table does not fit its buffer".into(),
            })?
            .copy_from_slice(&end.to_le_bytes());
    }
    Ok(())
}

/// The segment table at the start of a version 3 compressed body of `body_len` bytes that
/// holds `plaintext_len` bytes in segments of `1 << shift`: the compressed range of each
/// segment within the body. `table` holds at least the table's bytes (`4 * count`). Checks
/// that the ranges follow each other and end exactly at the end of the body.
pub(crate) fn segment_table(
    table: &[u8],
    plaintext_len: usize,
    shift: u8,
    body_len: usize,
) -> Result<Vec<std::ops::Range<usize>>, CompressionError> {
    let count = plaintext_len.div_ceil(1 << shift);
    let bad = |reason: String| CompressionError::Decompress { reason };
    let table = table
        .get(..4 * count)
        .filter(|_| 4 * count <= body_len)
        .ok_or_else(|| {
            bad(format!(
                "a compressed body of {body_len} bytes cannot hold the table of {count} segments"
            ))
        })?;
    let mut ranges = Vec::with_capacity(count);
    let mut start = 4 * count;
    for (i, e) in table.chunks_exact(4).enumerate() {
        let end = e
            .try_into()
            .map(u32::from_le_bytes)
            .ok()
            .and_then(|e| usize::try_from(e).ok())
            .and_then(|e| e.checked_add(4 * count))
            .filter(|&end| end >= start && end <= body_len)
            .ok_or_else(|| bad(format!("segment {i} ends outside the compressed body")))?;
        ranges.push(start..end);
        start = end;
    }
    if start != body_len {
        return Err(bad(format!(
            "the compressed segments end at byte {start} of a body of {body_len}"
        )));
    }
    Ok(ranges)
}

/// Appends the plaintext of a version 3 compressed body (see [`compress_segments`]), which
/// must be exactly `expected` bytes, to `out`; on error nothing is appended.
pub(crate) fn decompress_segments(
    c: Compressor,
    body: &[u8],
    expected: usize,
    shift: u8,
    out: &mut Vec<u8>,
) -> Result<(), CompressionError> {
    let start = out.len();
    let result = segment_table(body, expected, shift, body.len()).and_then(|ranges| {
        for (i, r) in ranges.into_iter().enumerate() {
            let len = (expected - (i << shift)).min(1 << shift);
            let segment = body.get(r).unwrap_or_default();
            decompress(c, segment, len, out).map_err(|e| in_segment(i, e))?;
        }
        Ok(())
    });
    if result.is_err() {
        out.truncate(start);
    }
    result
}

/// `e`, saying which compressed segment it is about.
pub(crate) fn in_segment(i: usize, e: CompressionError) -> CompressionError {
    match e {
        CompressionError::Decompress { reason } => CompressionError::Decompress {
            reason: format!("compressed segment {i}: {reason}"),
        },
        e => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_bounds() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        for c in [Compressor::Deflate, Compressor::Lz4] {
            let mut z = Vec::new();
            compress(c, &data, &mut z).unwrap();
            assert!(z.len() < data.len() / 2, "{c:?} compresses");
            let mut out = vec![9u8];
            decompress(c, &z, data.len(), &mut out).unwrap();
            assert_eq!(&out[1..], &data[..]);
            // A wrong declared length is an error, and nothing is left appended.
            let mut out = Vec::new();
            assert!(decompress(c, &z, data.len() - 1, &mut out).is_err());
            assert!(out.len() < data.len());
            let mut out = Vec::new();
            assert!(decompress(c, &z, data.len() + 1, &mut out).is_err());
            // Truncated input is an error.
            let mut out = Vec::new();
            assert!(decompress(c, &z[..z.len() / 2], data.len(), &mut out).is_err());
        }
    }

    #[test]
    fn segments_round_trip_and_bad_tables_are_refused() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i % 13) as u8).collect();
        for c in [Compressor::Deflate, Compressor::Lz4] {
            let mut body = vec![7u8];
            compress_segments(c, &data, 12, &mut body).unwrap();
            let body = &body[1..];
            let ranges = segment_table(body, data.len(), 12, body.len()).unwrap();
            assert_eq!(ranges.len(), 3);
            assert_eq!(ranges[0].start, 12);
            assert_eq!(ranges[2].end, body.len());
            // Each segment inflates on its own.
            for (i, r) in ranges.iter().enumerate() {
                let want = &data[i * 4096..((i + 1) * 4096).min(data.len())];
                let mut out = Vec::new();
                decompress(c, &body[r.clone()], want.len(), &mut out).unwrap();
                assert_eq!(out, want);
            }
            let mut out = vec![1u8];
            decompress_segments(c, body, data.len(), 12, &mut out).unwrap();
            assert_eq!(&out[1..], &data[..]);
            // Tables that do not describe the body: nothing appended.
            let end = |b: &mut Vec<u8>, i: usize, v: u32| {
                b[4 * i..4 * i + 4].copy_from_slice(&v.to_le_bytes());
            };
            let e0 = ranges[0].end as u32 - 12;
            let mut cases: Vec<Vec<u8>> = Vec::new();
            let mut b = body.to_vec();
            end(&mut b, 1, e0 - 1); // goes backwards
            cases.push(b);
            let mut b = body.to_vec();
            end(&mut b, 2, u32::MAX); // past the end
            cases.push(b);
            let mut b = body.to_vec();
            b.push(0); // the segments end before the body does
            cases.push(b);
            let mut b = body.to_vec();
            end(&mut b, 0, e0 + 1); // segment 0 one byte too long, segment 1 one short
            cases.push(b);
            cases.push(body[..8].to_vec()); // not even the table
            for bad in cases {
                let mut out = vec![1u8];
                assert!(decompress_segments(c, &bad, data.len(), 12, &mut out).is_err());
                assert_eq!(out, [1]);
            }
            // A declared length that needs another segment count.
            let mut out = Vec::new();
            assert!(decompress_segments(c, body, data.len() + 4096, 12, &mut out).is_err());
            assert!(decompress_segments(c, body, data.len() - 1, 12, &mut out).is_err());
            assert!(out.is_empty());
        }
    }

    #[test]
    fn empty_input() {
        for c in [Compressor::Deflate, Compressor::Lz4] {
            let mut z = Vec::new();
            compress(c, &[], &mut z).unwrap();
            let mut out = Vec::new();
            decompress(c, &z, 0, &mut out).unwrap();
            assert!(out.is_empty());
        }
    }
}
