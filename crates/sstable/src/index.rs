//! The sampled partition index: some keys of the table with the position of their entry in
//! the entry stream, in key order. The writer samples the first entry that starts in each
//! data chunk and in each `index_interval` span of it (4 KiB by default, counted from the
//! chunk's start: the chunk's checksummed, compressed or sealed segments), so that a lookup
//! reads from the chunk and, unless its entry runs past it, the segment that holds its key,
//! and parses at most about `index_interval` bytes of entries. (Writers before 2026-11-29
//! sampled one entry `index_interval` bytes after the last one, wherever segments began; the
//! reader takes either.)
#![deny(clippy::indexing_slicing)]

use crypta_keys::wire::{Reader, WriteLe};

/// The span of a chunk whose first entry the index samples, by default.
pub const DEFAULT_INDEX_INTERVAL: usize = 4096;

/// Appends one index entry (`u16` key length, key, `u64` position) to `out`.
pub(crate) fn encode_entry(out: &mut Vec<u8>, key: &[u8], position: u64) -> Option<()> {
    out.put_bytes_u16(key)?;
    out.put_u64(position);
    Some(())
}

/// The decoded index, kept in memory by an open table: the index stream and where each entry
/// starts in it.
#[derive(Clone, Default)]
pub(crate) struct Index {
    stream: Vec<u8>,
    starts: Vec<usize>,
}

impl std::fmt::Debug for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Index({} entries, {} bytes)",
            self.starts.len(),
            self.stream.len()
        )
    }
}

impl Index {
    /// Parses the index stream, checking that keys strictly increase and positions strictly
    /// increase below `data_len`. `Err` is `(offset in the stream, reason)`.
    pub(crate) fn parse(stream: Vec<u8>, data_len: u64) -> Result<Self, (usize, String)> {
        let mut starts = Vec::new();
        let mut r = Reader::new(&stream);
        let mut prev: Option<(&[u8], u64)> = None;
        while r.remaining() > 0 {
            let at = r.position();
            let key = r.bytes_u16("index key").map_err(|e| (at, e.to_string()))?;
            let pos = r.u64("index position").map_err(|e| (at, e.to_string()))?;
            if pos >= data_len {
                return Err((
                    at,
                    format!("position {pos} is past the data ({data_len} bytes)"),
                ));
            }
            if let Some((pk, pp)) = prev
                && (pk >= key || pp >= pos)
            {
                return Err((at, "index entries are not in increasing order".into()));
            }
            if prev.is_none() && pos != 0 {
                return Err((at, "the first index entry is not the first entry".into()));
            }
            prev = Some((key, pos));
            starts.push(at);
        }
        Ok(Index { stream, starts })
    }

    pub(crate) fn len(&self) -> usize {
        self.starts.len()
    }

    /// Index entry `i`: its key and position.
    pub(crate) fn get(&self, i: usize) -> Option<(&[u8], u64)> {
        let at = *self.starts.get(i)?;
        let mut r = Reader::new(self.stream.get(at..)?);
        let key = r.bytes_u16("key").ok()?;
        let pos = r.u64("position").ok()?;
        Some((key, pos))
    }

    /// The last index entry whose key is at most `key`: where a search for `key` starts.
    /// `None` when `key` sorts before every key of the table.
    pub(crate) fn floor(&self, key: &[u8]) -> Option<(usize, &[u8], u64)> {
        // First entry with a key greater than `key`, minus one.
        let (mut lo, mut hi) = (0usize, self.starts.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.get(mid) {
                Some((k, _)) if k <= key => lo = mid + 1,
                _ => hi = mid,
            }
        }
        let i = lo.checked_sub(1)?;
        self.get(i).map(|(k, p)| (i, k, p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(entries: &[(&[u8], u64)]) -> Vec<u8> {
        let mut v = Vec::new();
        for (k, p) in entries {
            encode_entry(&mut v, k, *p).unwrap();
        }
        v
    }

    #[test]
    fn floor_finds_the_last_key_at_most() {
        let ix = Index::parse(index(&[(b"b", 0), (b"d", 10), (b"f", 20)]), 30).unwrap();
        assert_eq!(ix.len(), 3);
        assert_eq!(ix.floor(b"a"), None);
        assert_eq!(ix.floor(b"b").unwrap().2, 0);
        assert_eq!(ix.floor(b"c").unwrap().2, 0);
        assert_eq!(ix.floor(b"d").unwrap().2, 10);
        assert_eq!(ix.floor(b"zz").unwrap().2, 20);
    }

    #[test]
    fn rejects_disorder_and_bad_positions() {
        assert!(Index::parse(index(&[(b"b", 0), (b"a", 10)]), 30).is_err());
        assert!(Index::parse(index(&[(b"a", 0), (b"b", 0)]), 30).is_err());
        assert!(Index::parse(index(&[(b"a", 0), (b"b", 30)]), 30).is_err());
        assert!(Index::parse(index(&[(b"a", 5)]), 30).is_err());
        let mut v = index(&[(b"a", 0)]);
        v.pop();
        assert!(Index::parse(v, 30).is_err());
    }
}
