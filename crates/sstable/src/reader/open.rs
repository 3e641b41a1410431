//! Opening a table: header, footer, manifest, then every component but the data checked and
//! decoded.
#![deny(clippy::indexing_slicing)]

use std::path::PathBuf;
use std::sync::Arc;

use crypta_compression::{ChunkDecoder, CompressionOptions, FrameMemo, Mode};
use crypta_keys::KeyProvider;
use crypta_keys::wire::Reader;

use super::{Bytes, Inner};
use crate::cache::{ChunkCache, next_file_id};
use crate::filter::Bloom;
use crate::format::{
    self, FOOTER_LEN, Footer, HEADER_LEN, Manifest, Section, chunk_count, crc_mismatch,
};
use crate::index::Index;
use crate::{Component, Metadata, SstableError};

pub(super) fn open(
    path: PathBuf,
    bytes: Bytes,
    keys: Arc<dyn KeyProvider>,
    cache: Option<Arc<ChunkCache>>,
) -> Result<Inner, SstableError> {
    let len = bytes.len() as u64;
    format::check_header(&path, &bytes)?;
    if len < HEADER_LEN + FOOTER_LEN {
        return Err(SstableError::Corrupt {
            file: path,
            component: Component::Footer,
            offset: len,
            reason: format!("file of {len} bytes is truncated: it has no footer"),
        });
    }
    let tail = bytes
        .get(bytes.len().saturating_sub(32)..)
        .unwrap_or_default();
    let footer = Footer::decode(&path, len, tail)?;
    let manifest_bytes =
        slice(&bytes, footer.manifest_offset, footer.manifest_len).ok_or_else(|| {
            SstableError::Corrupt {
                file: path.clone(),
                component: Component::Manifest,
                offset: footer.manifest_offset,
                reason: "manifest lies outside the file".into(),
            }
        })?;
    let actual = crc32fast::hash(manifest_bytes);
    if crc_mismatch(footer.manifest_crc, actual) {
        return Err(SstableError::ChecksumMismatch {
            file: path,
            component: Component::Manifest,
            offset: footer.manifest_offset,
            expected: footer.manifest_crc,
            actual,
        });
    }
    let manifest = Manifest::decode(&path, footer.manifest_offset, manifest_bytes)?;
    let bad_manifest = |reason: String| SstableError::Corrupt {
        file: path.clone(),
        component: Component::Manifest,
        offset: footer.manifest_offset,
        reason,
    };
    let options = CompressionOptions::parse(&manifest.options)
        .map_err(|e| bad_manifest(format!("recorded compression options are invalid: {e}")))?;
    let encrypted = options.class.encrypts();
    if encrypted == manifest.key_ids.is_empty() {
        return Err(bad_manifest(format!(
            "a table written with {} lists {} key ids",
            options.class.name().unwrap_or("no codec"),
            manifest.key_ids.len()
        )));
    }
    // A disabled codec's options map (`{'enabled': 'false'}`) does not record the chunk length.
    if options.class.name().is_some() && options.chunk_length() != manifest.chunk_length {
        return Err(bad_manifest(format!(
            "chunk length {} disagrees with the options' {}",
            manifest.chunk_length,
            options.chunk_length()
        )));
    }
    // Lookups read only the cipher blocks, compressed segments and GCM segments they need
    // where the format allows it: every codec since format 3; before it, no compression and
    // no GCM, whose chunks were one compressed stream or one GCM message (see
    // `Inner::check_chunk`).
    let gcm = options
        .encryption
        .as_ref()
        .is_some_and(|e| e.transformation.mode == Mode::Gcm);
    let partial_reads = manifest.version >= 3 || (options.class.compressor().is_none() && !gcm);
    let mut t = Inner {
        decoder: ChunkDecoder::new(manifest.chunk_length),
        partial_reads,
        read_ahead: options.class.compressor().is_some() || gcm,
        segment_len: None,
        metadata: Metadata::new(&manifest, None, len, manifest.version),
        chunk_offsets: Vec::new(),
        frame_memos: Box::default(),
        index: Index::default(),
        bloom: Bloom::from_parts(Vec::new(), 0),
        file_id: next_file_id(),
        encrypted,
        manifest,
        path,
        bytes,
        keys,
        cache,
    };
    t.chunk_offsets = chunk_offsets(&t)?;
    // Only ECB and CBC frames have a padding to remember.
    if t.encrypted && !gcm && t.partial_reads {
        let chunks = t.chunk_offsets.len().saturating_sub(1);
        t.frame_memos = (0..chunks).map(|_| FrameMemo::default()).collect();
    }
    t.segment_len = first_segment_len(&t);
    let m = &t.manifest;
    let index_stream = read_stream(&t, Component::Index, m.index, m.index_len)?;
    let index = Index::parse(index_stream, m.data_len).map_err(|(at, reason)| {
        t.corrupt(
            Component::Index,
            m.index.offset,
            format!("at byte {at} of the index stream: {reason}"),
        )
    })?;
    if index.len() as u64 != m.index_entries {
        return Err(t.corrupt(
            Component::Index,
            m.index.offset,
            format!(
                "{} index entries, the manifest says {}",
                index.len(),
                m.index_entries
            ),
        ));
    }
    let filter_len = m.filter_words.saturating_mul(8);
    let filter = read_stream(&t, Component::Filter, m.filter, filter_len)?;
    let words = filter
        .chunks_exact(8)
        .map(|w| u64::from_le_bytes(w.try_into().unwrap_or_default()))
        .collect();
    let summary = read_stream(&t, Component::Summary, m.summary, m.summary_len)?;
    let min_max = parse_summary(&t, &summary, &index)?;
    t.metadata = Metadata::new(&t.manifest, min_max, len, t.manifest.version);
    t.bloom = Bloom::from_parts(words, t.manifest.filter_hashes);
    t.index = index;
    Ok(t)
}

fn slice(bytes: &[u8], offset: u64, len: u64) -> Option<&[u8]> {
    let start = usize::try_from(offset).ok()?;
    let end = usize::try_from(offset.checked_add(len)?).ok()?;
    bytes.get(start..end)
}

/// The bytes of `section`, after checking its CRC.
fn section_bytes(t: &Inner, component: Component, s: Section) -> Result<&[u8], SstableError> {
    let bytes = slice(t.bytes(), s.offset, s.len)
        .ok_or_else(|| t.corrupt(component, s.offset, "section lies outside the file"))?;
    let actual = crc32fast::hash(bytes);
    if crc_mismatch(s.crc, actual) {
        return Err(SstableError::ChecksumMismatch {
            file: t.path().to_path_buf(),
            component,
            offset: s.offset,
            expected: s.crc,
            actual,
        });
    }
    Ok(bytes)
}

/// The data frames' offsets, checked: the first at the data section's start, strictly
/// increasing, all inside the data section; the data section's end appended.
fn chunk_offsets(t: &Inner) -> Result<Vec<u64>, SstableError> {
    let m = t.manifest();
    let bytes = section_bytes(t, Component::ChunkOffsets, m.chunk_offsets)?;
    let mut r = Reader::new(bytes);
    let mut offsets = Vec::with_capacity(bytes.len() / 8 + 1);
    let mut expect_first = true;
    let mut prev = 0;
    for i in 0..chunk_count(m.data_len, m.chunk_length) {
        let at = m.chunk_offsets.offset + r.position() as u64;
        let o = r.u64("chunk offset").map_err(|e| {
            format::wire(
                t.path(),
                Component::ChunkOffsets,
                m.chunk_offsets.offset,
                &e,
            )
        })?;
        let ok = if expect_first {
            o == m.data.offset
        } else {
            o > prev && o < m.data.end()
        };
        if !ok {
            return Err(t.corrupt(
                Component::ChunkOffsets,
                at,
                format!("offset {o} of chunk {i} is out of order or outside the data section"),
            ));
        }
        expect_first = false;
        prev = o;
        offsets.push(o);
    }
    r.finish("chunk offsets").map_err(|e| {
        format::wire(
            t.path(),
            Component::ChunkOffsets,
            m.chunk_offsets.offset,
            &e,
        )
    })?;
    offsets.push(m.data.end());
    Ok(offsets)
}

/// Decodes the frames of a section (checking the section's CRC first) into its plaintext
/// stream, which must be `plain_len` bytes, every frame but the last a whole chunk.
fn read_stream(
    t: &Inner,
    component: Component,
    s: Section,
    plain_len: u64,
) -> Result<Vec<u8>, SstableError> {
    section_bytes(t, component, s)?;
    let chunk_length = t.manifest().chunk_length as u64;
    let mut out = Vec::new();
    let mut at = s.offset;
    while at < s.end() {
        if !(out.len() as u64).is_multiple_of(chunk_length) {
            return Err(t.corrupt(component, at, "a frame after a short frame"));
        }
        let before = out.len();
        at += t.decode_frame(component, at, s.end(), false, &mut out)?;
        if out.len() as u64 > plain_len || out.len() == before {
            return Err(t.corrupt(
                component,
                s.offset,
                format!("frames hold more than the {plain_len} bytes the manifest says"),
            ));
        }
    }
    if out.len() as u64 != plain_len {
        return Err(t.corrupt(
            component,
            s.offset,
            format!(
                "frames hold {} bytes, the manifest says {plain_len}",
                out.len()
            ),
        ));
    }
    Ok(out)
}

/// The smallest and largest key.
type MinMax = (Vec<u8>, Vec<u8>);

/// The min and max key from the summary stream, checked against the index.
fn parse_summary(t: &Inner, summary: &[u8], index: &Index) -> Result<Option<MinMax>, SstableError> {
    let at = t.manifest().summary.offset;
    if t.manifest().entry_count == 0 {
        return if summary.is_empty() {
            Ok(None)
        } else {
            Err(t.corrupt(Component::Summary, at, "an empty table with a summary"))
        };
    }
    let mut r = Reader::new(summary);
    let w = |e| format::wire(t.path(), Component::Summary, at, &e);
    let min = r.bytes_u16("min key").map_err(w)?;
    let max = r.bytes_u16("max key").map_err(w)?;
    r.finish("summary").map_err(w)?;
    let first = index.get(0).map(|(k, _)| k);
    if min > max || first != Some(min) {
        return Err(t.corrupt(
            Component::Summary,
            at,
            "min and max keys disagree with each other or with the index",
        ));
    }
    Ok(Some((min.to_vec(), max.to_vec())))
}

/// The segment size of the first data frame (chunk frame version 2 or 3), which every data frame of
/// the file shares (one encoder wrote them): lookups through a cache read segments of this
/// size. Read from the header without checking it; each frame is checked, and its segment
/// size compared, before any read (`Inner::segment`).
fn first_segment_len(t: &Inner) -> Option<usize> {
    if t.chunk_offsets.len() < 2 {
        return None;
    }
    let at = usize::try_from(*t.chunk_offsets.first()?).ok()?;
    let frame = t.bytes().get(at..)?;
    let h = crypta_compression::parse_header(frame, t.manifest().chunk_length).ok()?;
    h.segments.map(|s| s.size())
}
