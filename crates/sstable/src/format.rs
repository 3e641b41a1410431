//! The fixed parts of the file, byte by byte as in `docs/format/sstable.md`: header, footer and
//! manifest, and the section table the manifest carries.
#![deny(clippy::indexing_slicing)]

use std::collections::BTreeMap;
use std::path::Path;

use crypta_keys::KeyId;
use crypta_keys::wire::{Reader, WireError, WriteLe};

use crate::{Component, SstableError};

/// The format version this build writes. It reads this one and every earlier one
/// ([`READS_VERSIONS`]).
pub const FORMAT_VERSION: u8 = 3;

/// The format versions this build reads: 1 (chunk frames of version 1, one CRC32 each), 2
/// (chunk frames of version 2, a CRC32 per 4 KiB payload segment) and 3 (chunk frames of
/// version 3: compressed chunks compressed 4 KiB segment by segment). Nothing else differs.
pub const READS_VERSIONS: std::ops::RangeInclusive<u8> = 1..=FORMAT_VERSION;
/// The first 8 bytes of every SSTable.
pub(crate) const HEADER_MAGIC: [u8; 8] = *b"CRYPTSST";
/// The last 8 bytes of every complete SSTable.
pub(crate) const FOOTER_MAGIC: [u8; 8] = *b"CRYPTEND";
/// Header length in bytes.
pub(crate) const HEADER_LEN: u64 = 16;
/// Footer length in bytes.
pub(crate) const FOOTER_LEN: u64 = 32;
/// The largest manifest accepted (it holds options, key ids and fixed fields only).
pub(crate) const MAX_MANIFEST_LEN: u64 = 1 << 20;
/// Chunk lengths the format allows (the `chunk_length_kb` range of the codecs).
pub(crate) const MIN_CHUNK_LENGTH: usize = 1024;
/// See [`MIN_CHUNK_LENGTH`].
pub(crate) const MAX_CHUNK_LENGTH: usize = 1024 * 1024;

/// Whether a stored CRC32 differs from the computed one.
///
/// Built for fuzzing (`--cfg fuzzing`, set by cargo-fuzz) the file-level checksums (header,
/// footer, manifest, sections) are computed but not enforced, so that the fuzzer reaches the
/// parsers behind them; chunk frames keep their own CRC check. Never in any other build.
pub(crate) fn crc_mismatch(stored: u32, actual: u32) -> bool {
    stored != actual && !cfg!(fuzzing)
}

/// The 16-byte header.
pub(crate) fn encode_header() -> Vec<u8> {
    let mut h = Vec::with_capacity(16);
    h.extend_from_slice(&HEADER_MAGIC);
    h.put_u8(FORMAT_VERSION);
    h.extend_from_slice(&[0, 0, 0]);
    let crc = crc32fast::hash(&h);
    h.put_u32(crc);
    h
}

/// Checks the header at the start of `buf` (at least [`HEADER_LEN`] bytes).
pub(crate) fn check_header(file: &Path, buf: &[u8]) -> Result<(), SstableError> {
    let corrupt = |offset: u64, reason: String| SstableError::Corrupt {
        file: file.to_path_buf(),
        component: Component::Header,
        offset,
        reason,
    };
    let h = buf
        .get(..16)
        .ok_or_else(|| corrupt(0, format!("file of {} bytes has no header", buf.len())))?;
    if h.get(..8) != Some(HEADER_MAGIC.as_slice()) {
        return Err(SstableError::BadMagic {
            file: file.to_path_buf(),
            component: Component::Header,
            offset: 0,
        });
    }
    let mut r = Reader::new(h);
    r.take(8, "magic")
        .map_err(|e| wire(file, Component::Header, 0, &e))?;
    let version = r
        .u8("version")
        .map_err(|e| wire(file, Component::Header, 0, &e))?;
    let reserved = r
        .array::<3>("reserved")
        .map_err(|e| wire(file, Component::Header, 0, &e))?;
    let stored = r
        .u32("header checksum")
        .map_err(|e| wire(file, Component::Header, 0, &e))?;
    let actual = crc32fast::hash(h.get(..12).unwrap_or_default());
    if crc_mismatch(stored, actual) {
        return Err(SstableError::ChecksumMismatch {
            file: file.to_path_buf(),
            component: Component::Header,
            offset: 0,
            expected: stored,
            actual,
        });
    }
    if !READS_VERSIONS.contains(&version) {
        return Err(SstableError::UnsupportedVersion {
            file: file.to_path_buf(),
            component: Component::Header,
            version,
            supported: FORMAT_VERSION,
        });
    }
    if reserved != [0, 0, 0] {
        return Err(corrupt(9, "reserved header bytes are not zero".into()));
    }
    Ok(())
}

/// Where the manifest is, as the footer says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Footer {
    pub manifest_offset: u64,
    pub manifest_len: u64,
    pub manifest_crc: u32,
}

impl Footer {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut f = Vec::with_capacity(32);
        f.put_u64(self.manifest_offset);
        f.put_u32(u32::try_from(self.manifest_len).unwrap_or(u32::MAX));
        f.put_u32(self.manifest_crc);
        f.put_u8(FORMAT_VERSION);
        f.extend_from_slice(&[0, 0, 0]);
        let crc = crc32fast::hash(&f);
        f.put_u32(crc);
        f.extend_from_slice(&FOOTER_MAGIC);
        f
    }

    /// Parses the footer of a file of `file_len` bytes from `buf`, its last 32 bytes, and
    /// checks that the manifest it points to lies between the header and the footer.
    pub(crate) fn decode(file: &Path, file_len: u64, buf: &[u8]) -> Result<Self, SstableError> {
        let at = file_len.saturating_sub(FOOTER_LEN);
        let corrupt = |offset: u64, reason: String| SstableError::Corrupt {
            file: file.to_path_buf(),
            component: Component::Footer,
            offset,
            reason,
        };
        if buf.get(24..32) != Some(FOOTER_MAGIC.as_slice()) {
            return Err(SstableError::BadMagic {
                file: file.to_path_buf(),
                component: Component::Footer,
                offset: at + 24,
            });
        }
        let w = |e: WireError| wire(file, Component::Footer, at, &e);
        let mut r = Reader::new(buf);
        let manifest_offset = r.u64("manifest offset").map_err(w)?;
        let manifest_len = u64::from(r.u32("manifest length").map_err(w)?);
        let manifest_crc = r.u32("manifest checksum").map_err(w)?;
        let version = r.u8("version").map_err(w)?;
        let reserved = r.array::<3>("reserved").map_err(w)?;
        let stored = r.u32("footer checksum").map_err(w)?;
        let actual = crc32fast::hash(buf.get(..20).unwrap_or_default());
        if crc_mismatch(stored, actual) {
            return Err(SstableError::ChecksumMismatch {
                file: file.to_path_buf(),
                component: Component::Footer,
                offset: at,
                expected: stored,
                actual,
            });
        }
        if !READS_VERSIONS.contains(&version) {
            return Err(SstableError::UnsupportedVersion {
                file: file.to_path_buf(),
                component: Component::Footer,
                version,
                supported: FORMAT_VERSION,
            });
        }
        if reserved != [0, 0, 0] {
            return Err(corrupt(
                at + 17,
                "reserved footer bytes are not zero".into(),
            ));
        }
        let end = manifest_offset.checked_add(manifest_len);
        if manifest_offset < HEADER_LEN || end != Some(at) || manifest_len > MAX_MANIFEST_LEN {
            return Err(corrupt(
                at,
                format!(
                    "manifest of {manifest_len} bytes at offset {manifest_offset} does not end \
                     where the footer starts ({at})"
                ),
            ));
        }
        Ok(Footer {
            manifest_offset,
            manifest_len,
            manifest_crc,
        })
    }
}

/// One section's place and checksum.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Section {
    /// Offset in the file.
    pub offset: u64,
    /// Length in bytes.
    pub len: u64,
    /// CRC32 of those bytes.
    pub crc: u32,
}

impl Section {
    pub(crate) fn end(&self) -> u64 {
        self.offset.saturating_add(self.len)
    }
}

/// Everything the manifest records. Holds no key bytes: those are in the summary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Manifest {
    /// The format version the manifest was written in (written: [`FORMAT_VERSION`]).
    pub version: u8,
    pub chunk_length: usize,
    pub options: BTreeMap<String, String>,
    pub key_ids: Vec<KeyId>,
    pub entry_count: u64,
    pub tombstone_count: u64,
    pub min_timestamp: i64,
    pub max_timestamp: i64,
    /// Plaintext bytes of the entry stream.
    pub data_len: u64,
    /// Plaintext bytes of the index stream.
    pub index_len: u64,
    pub index_entries: u64,
    pub filter_hashes: u8,
    pub filter_words: u64,
    /// Plaintext bytes of the summary stream.
    pub summary_len: u64,
    pub data: Section,
    pub index: Section,
    pub filter: Section,
    pub summary: Section,
    pub chunk_offsets: Section,
}

/// How many chunks a stream of `len` plaintext bytes is cut into.
pub(crate) fn chunk_count(len: u64, chunk_length: usize) -> u64 {
    len.div_ceil(chunk_length as u64)
}

impl Manifest {
    pub(crate) fn encode(&self) -> Option<Vec<u8>> {
        let mut m = Vec::new();
        m.put_u8(FORMAT_VERSION);
        m.put_u32(u32::try_from(self.chunk_length).ok()?);
        m.put_u16(u16::try_from(self.options.len()).ok()?);
        for (k, v) in &self.options {
            m.put_bytes_u16(k.as_bytes())?;
            m.put_bytes_u16(v.as_bytes())?;
        }
        m.put_u16(u16::try_from(self.key_ids.len()).ok()?);
        for id in &self.key_ids {
            m.put_bytes_u8(id.as_str().as_bytes())?;
        }
        m.put_u64(self.entry_count);
        m.put_u64(self.tombstone_count);
        m.put_u64(self.min_timestamp.cast_unsigned());
        m.put_u64(self.max_timestamp.cast_unsigned());
        m.put_u64(self.data_len);
        m.put_u64(self.index_len);
        m.put_u64(self.index_entries);
        m.put_u8(self.filter_hashes);
        m.put_u64(self.filter_words);
        m.put_u64(self.summary_len);
        for s in self.sections() {
            m.put_u64(s.offset);
            m.put_u64(s.len);
            m.put_u32(s.crc);
        }
        Some(m)
    }

    /// The sections in file order, with the components they are.
    pub(crate) fn sections(&self) -> [Section; 5] {
        [
            self.data,
            self.index,
            self.filter,
            self.summary,
            self.chunk_offsets,
        ]
    }

    /// Parses and validates the manifest found at `offset` in `file`.
    pub(crate) fn decode(file: &Path, offset: u64, buf: &[u8]) -> Result<Self, SstableError> {
        let w = |e: WireError| wire(file, Component::Manifest, offset, &e);
        let mut r = Reader::new(buf);
        let version = r.u8("version").map_err(w)?;
        if !READS_VERSIONS.contains(&version) {
            return Err(SstableError::UnsupportedVersion {
                file: file.to_path_buf(),
                component: Component::Manifest,
                version,
                supported: FORMAT_VERSION,
            });
        }
        let at = |r: &Reader<'_>| offset + r.position() as u64;
        let corrupt = |o: u64, reason: String| SstableError::Corrupt {
            file: file.to_path_buf(),
            component: Component::Manifest,
            offset: o,
            reason,
        };
        let chunk_at = at(&r);
        let chunk_length = r.u32("chunk length").map_err(w)? as usize;
        if !(MIN_CHUNK_LENGTH..=MAX_CHUNK_LENGTH).contains(&chunk_length)
            || !chunk_length.is_power_of_two()
        {
            return Err(corrupt(
                chunk_at,
                format!("chunk length {chunk_length} is not a power of two from 1 KiB to 1 MiB"),
            ));
        }
        let mut options = BTreeMap::new();
        for _ in 0..r.u16("option count").map_err(w)? {
            let o = at(&r);
            let k = r.bytes_u16("option name").map_err(w)?;
            let v = r.bytes_u16("option value").map_err(w)?;
            let (Ok(k), Ok(v)) = (std::str::from_utf8(k), std::str::from_utf8(v)) else {
                return Err(corrupt(o, "option is not UTF-8".into()));
            };
            if options.insert(k.to_string(), v.to_string()).is_some() {
                return Err(corrupt(o, format!("option {k:?} given twice")));
            }
        }
        let mut key_ids = Vec::new();
        for _ in 0..r.u16("key id count").map_err(w)? {
            let o = at(&r);
            let id = r.bytes_u8("key id").map_err(w)?;
            let id = std::str::from_utf8(id)
                .ok()
                .and_then(|s| KeyId::new(s).ok())
                .ok_or_else(|| corrupt(o, "key id is not a printable ASCII id".into()))?;
            key_ids.push(id);
        }
        let m = Manifest {
            version,
            chunk_length,
            options,
            key_ids,
            entry_count: r.u64("entry count").map_err(w)?,
            tombstone_count: r.u64("tombstone count").map_err(w)?,
            min_timestamp: r.u64("min timestamp").map_err(w)?.cast_signed(),
            max_timestamp: r.u64("max timestamp").map_err(w)?.cast_signed(),
            data_len: r.u64("data length").map_err(w)?,
            index_len: r.u64("index length").map_err(w)?,
            index_entries: r.u64("index entries").map_err(w)?,
            filter_hashes: r.u8("filter hashes").map_err(w)?,
            filter_words: r.u64("filter words").map_err(w)?,
            summary_len: r.u64("summary length").map_err(w)?,
            data: section(&mut r).map_err(w)?,
            index: section(&mut r).map_err(w)?,
            filter: section(&mut r).map_err(w)?,
            summary: section(&mut r).map_err(w)?,
            chunk_offsets: section(&mut r).map_err(w)?,
        };
        r.finish("manifest").map_err(w)?;
        m.validate(file, offset)?;
        Ok(m)
    }

    /// Cross-checks the fields: sections tile the file from the header to the manifest,
    /// counts agree with each other.
    fn validate(&self, file: &Path, offset: u64) -> Result<(), SstableError> {
        let bad = |reason: String| {
            Err(SstableError::Corrupt {
                file: file.to_path_buf(),
                component: Component::Manifest,
                offset,
                reason,
            })
        };
        let mut expect = HEADER_LEN;
        for (s, name) in
            self.sections()
                .iter()
                .zip(["data", "index", "filter", "summary", "chunk offsets"])
        {
            if s.offset != expect || s.offset.checked_add(s.len).is_none() {
                return bad(format!(
                    "{name} section at offset {} (length {}) should start at {expect}",
                    s.offset, s.len
                ));
            }
            expect = s.end();
        }
        if expect != offset {
            return bad(format!(
                "sections end at {expect}, the manifest starts at {offset}"
            ));
        }
        let chunks = chunk_count(self.data_len, self.chunk_length);
        if chunks.checked_mul(8) != Some(self.chunk_offsets.len) {
            return bad(format!(
                "{chunks} data chunks need {} bytes of chunk offsets, the section has {}",
                chunks.saturating_mul(8),
                self.chunk_offsets.len
            ));
        }
        if (self.entry_count == 0) != (self.data_len == 0)
            || self.tombstone_count > self.entry_count
            || self.min_timestamp > self.max_timestamp
            || self.index_entries > self.entry_count
            || (self.entry_count > 0 && self.index_entries == 0)
        {
            return bad("entry, tombstone, index and timestamp counts disagree".into());
        }
        if self.filter_words.checked_mul(8).is_none()
            || (self.filter_words > 0) != (1..=30).contains(&self.filter_hashes)
        {
            return bad(format!(
                "filter of {} words with {} hashes",
                self.filter_words, self.filter_hashes
            ));
        }
        Ok(())
    }
}

fn section(r: &mut Reader<'_>) -> Result<Section, WireError> {
    Ok(Section {
        offset: r.u64("section offset")?,
        len: r.u64("section length")?,
        crc: r.u32("section checksum")?,
    })
}

/// A wire error at `base` + its offset, as a corruption of `component`.
pub(crate) fn wire(file: &Path, component: Component, base: u64, e: &WireError) -> SstableError {
    SstableError::Corrupt {
        file: file.to_path_buf(),
        component,
        offset: base + e.offset as u64,
        reason: e.to_string(),
    }
}
