//! Records in a file's stream: a length, a checksum, the bytes. Records may span chunks.
#![deny(clippy::indexing_slicing)]

use crypta_keys::wire::Reader;

/// Bytes a record adds to its data: length and checksum.
pub const RECORD_OVERHEAD: usize = 8;

/// The checksum of a record: CRC32 of its length (4 bytes, little-endian) and its data.
fn record_crc(data: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&u32::try_from(data.len()).unwrap_or(u32::MAX).to_le_bytes());
    h.update(data);
    h.finalize()
}

/// The 8 bytes that go before `data` in the stream. `data` must be shorter than 4 GiB
/// (callers bound records far below that).
pub fn record_header(data: &[u8]) -> [u8; RECORD_OVERHEAD] {
    let mut h = [0u8; RECORD_OVERHEAD];
    let len = u32::try_from(data.len()).unwrap_or(u32::MAX).to_le_bytes();
    let crc = record_crc(data).to_le_bytes();
    for (dst, src) in h.iter_mut().zip(len.iter().chain(crc.iter())) {
        *dst = *src;
    }
    h
}

/// What is at a position of the stream.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Parsed<'a> {
    /// A whole record and the position after it.
    Record(&'a [u8], usize),
    /// The stream ends inside a record (of `needed` bytes in all, `have` present).
    Partial { needed: u64, have: usize },
    /// The record's checksum does not match.
    Corrupt(String),
}

/// Parses the record at `at` in `stream` (`at < stream.len()`).
pub(crate) fn parse_record(stream: &[u8], at: usize) -> Parsed<'_> {
    let rest = stream.get(at..).unwrap_or_default();
    let mut r = Reader::new(rest);
    let (Ok(len), Ok(crc)) = (r.u32("record length"), r.u32("record checksum")) else {
        return Parsed::Partial {
            needed: RECORD_OVERHEAD as u64,
            have: rest.len(),
        };
    };
    let Ok(data) = r.take(len as usize, "record") else {
        return Parsed::Partial {
            needed: RECORD_OVERHEAD as u64 + u64::from(len),
            have: rest.len(),
        };
    };
    let computed = record_crc(data);
    if computed != crc {
        return Parsed::Corrupt(format!(
            "record checksum mismatch: stored {crc:08x}, computed {computed:08x}"
        ));
    }
    Parsed::Record(data, at + RECORD_OVERHEAD + data.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_parse_and_partials_are_seen() {
        let mut s = Vec::new();
        for d in [&b""[..], b"a", b"hello world"] {
            s.extend_from_slice(&record_header(d));
            s.extend_from_slice(d);
        }
        let mut at = 0;
        let mut got = Vec::new();
        while at < s.len() {
            match parse_record(&s, at) {
                Parsed::Record(d, next) => {
                    got.push(d.to_vec());
                    at = next;
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(
            got,
            vec![b"".to_vec(), b"a".to_vec(), b"hello world".to_vec()]
        );
        let last = 8 + 9;
        for cut in last + 1..s.len() {
            assert!(matches!(
                parse_record(&s[..cut], last),
                Parsed::Partial { .. }
            ));
        }
        let mut bad = s.clone();
        bad[last + 9] ^= 1;
        assert!(matches!(parse_record(&bad, last), Parsed::Corrupt(_)));
    }
}
