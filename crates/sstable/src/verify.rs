//! `verify`: every byte of a table read and checked, the first problem reported.
#![deny(clippy::indexing_slicing)]

use std::path::Path;
use std::sync::Arc;

use crypta_keys::KeyProvider;

use std::ops::Bound;

use crate::format::crc_mismatch;
use crate::reader::{Inner, Scan};
use crate::{Component, Sstable, SstableError};

/// What [`verify`] read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifyReport {
    /// Entries read (tombstones included).
    pub entries: u64,
    /// Tombstones read.
    pub tombstones: u64,
    /// Data chunks decoded.
    pub chunks: u64,
    /// Bytes of the file.
    pub file_len: u64,
}

/// Opens the table at `path` and checks all of it: every component's checksum, every frame
/// (checksum, key, cipher, compression), every entry (order, lengths), and that the index,
/// filter, summary and manifest agree with the entries. Returns the first problem.
pub fn verify(
    path: impl AsRef<Path>,
    keys: Arc<dyn KeyProvider>,
) -> Result<VerifyReport, SstableError> {
    Sstable::open(path.as_ref(), keys, None)?.verify()
}

pub(crate) fn verify_table(t: &Arc<Inner>) -> Result<VerifyReport, SstableError> {
    let m = t.manifest();
    // Every frame decodes (in order, so that the first bad one is the one reported, at its
    // own offset), then the data section's checksum covers any byte between them.
    let mut buf = None;
    for i in 0..t.chunks() {
        buf = Some(t.chunk(i, false, buf)?);
    }
    // The data section's checksum (open checks all the others).
    let data = usize::try_from(m.data.offset)
        .ok()
        .zip(usize::try_from(m.data.end()).ok())
        .and_then(|(a, b)| t.bytes().get(a..b))
        .ok_or_else(|| {
            t.corrupt(
                Component::Data,
                m.data.offset,
                "data section lies outside the file",
            )
        })?;
    let actual = crc32fast::hash(data);
    if crc_mismatch(m.data.crc, actual) {
        return Err(SstableError::ChecksumMismatch {
            file: t.path().to_path_buf(),
            component: Component::Data,
            offset: m.data.offset,
            expected: m.data.crc,
            actual,
        });
    }
    // Every entry: in order, indexed where the index says, in the filter; the counts, keys
    // and timestamps the manifest and summary record.
    let mut scan = Scan::new(t.clone(), Bound::Unbounded, Bound::Unbounded);
    let index = t.index();
    let mut next_index = 0;
    let (mut entries, mut tombstones) = (0u64, 0u64);
    let (mut min_ts, mut max_ts) = (i64::MAX, i64::MIN);
    let mut first: Option<Vec<u8>> = None;
    let mut last = Vec::new();
    let mismatch = |what: &str| {
        t.corrupt(
            Component::Data,
            m.data.offset,
            format!("the entries disagree with the {what}"),
        )
    };
    while let Some((pos, key, h)) = scan.next_raw()? {
        if let Some((ikey, ipos)) = index.get(next_index) {
            if ipos < pos {
                return Err(t.corrupt(
                    Component::Index,
                    m.index.offset,
                    format!("index entry {next_index} points inside an entry (stream byte {ipos})"),
                ));
            }
            if ipos == pos {
                if ikey != key.as_slice() {
                    return Err(t.corrupt(
                        Component::Index,
                        m.index.offset,
                        format!("index entry {next_index} names another key than the entry at stream byte {pos}"),
                    ));
                }
                next_index += 1;
            }
        }
        if !t.bloom().may_contain(&key) {
            return Err(t.corrupt(
                Component::Filter,
                m.filter.offset,
                "a key of the table is missing from the bloom filter",
            ));
        }
        scan.skip_value(&h)?;
        entries += 1;
        tombstones += u64::from(h.tombstone);
        min_ts = min_ts.min(h.timestamp);
        max_ts = max_ts.max(h.timestamp);
        if first.is_none() {
            first = Some(key.clone());
        }
        last = key;
    }
    if next_index != index.len() {
        return Err(t.corrupt(
            Component::Index,
            m.index.offset,
            "index entries point past the last entry",
        ));
    }
    let md = t.metadata();
    if entries != m.entry_count || tombstones != m.tombstone_count {
        return Err(mismatch("manifest's counts"));
    }
    if entries > 0 && (min_ts != m.min_timestamp || max_ts != m.max_timestamp) {
        return Err(mismatch("manifest's timestamps"));
    }
    if first != md.min_key || (entries > 0 && Some(&last) != md.max_key.as_ref()) {
        return Err(t.corrupt(
            Component::Summary,
            m.summary.offset,
            "min or max key disagrees with the entries",
        ));
    }
    Ok(VerifyReport {
        entries,
        tombstones,
        chunks: t.chunks(),
        file_len: md.file_len,
    })
}
