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
