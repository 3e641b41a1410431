//! The reader: a table opened read-only (memory-mapped), its components checked at open,
//! point lookups and range scans over the data chunks.
#![deny(clippy::indexing_slicing)]

mod cursor;
mod mmap;
mod open;
mod readahead;
mod scan;

use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crypta_compression::{CheckedFrame, ChunkDecoder, CompressionError, FrameMemo, parse_header};
use crypta_keys::{KeyId, KeyProvider};

pub use scan::Scan;

use crate::cache::{self, Chunk, ChunkCache};
use crate::filter::Bloom;
use crate::format::Manifest;
use crate::index::Index;
use crate::{Component, Entry, Metadata, SstableError};
use cursor::Cursor;

/// The bytes of a table: a read-only mapping of its file, or bytes handed in.
enum Bytes {
    Map(memmap2::Mmap),
    Owned(Vec<u8>),
}

impl std::ops::Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Map(m) => m,
            Bytes::Owned(v) => v,
        }
    }
}

/// An open table. Cheap to clone (the clones share one mapping); `Send` and `Sync`.
#[derive(Clone)]
pub struct Sstable {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Sstable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sstable")
            .field("path", &self.inner.path)
            .field("metadata", &self.inner.metadata)
            .finish_non_exhaustive()
    }
}

pub(crate) struct Inner {
    path: PathBuf,
    bytes: Bytes,
    keys: Arc<dyn KeyProvider>,
    cache: Option<Arc<ChunkCache>>,
    file_id: u64,
    decoder: ChunkDecoder,
    manifest: Manifest,
    /// Whether every frame must be encrypted (the options' class encrypts).
    encrypted: bool,
    /// Whether the codec lets a lookup decrypt only the blocks it reads (plaintext, ECB or
    /// CBC; compressed only from format 3 on).
    partial_reads: bool,
    /// Whether long scans read ahead (see `readahead`): in tables whose chunks are
    /// compressed or sealed with GCM, where decoding a chunk costs more than handing it to
    /// another core.
    read_ahead: bool,
    /// With `partial_reads`, the size of the checksummed payload segments of the data frames
    /// (chunk frame version 2 or 3), which lookups through a cache read and cache one by one.
    segment_len: Option<usize>,
    metadata: Metadata,
    /// Absolute offset of each data frame, then the end of the data section.
    chunk_offsets: Vec<u64>,
    /// For an ECB or CBC table read in parts: what checking each data frame established that
    /// the next check of it may reuse (its padding, see
    /// `crypta_compression::ChunkDecoder::check_frame_memo`), 8 bytes a chunk; empty otherwise.
    frame_memos: Box<[FrameMemo]>,
    index: Index,
    bloom: Bloom,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(c) = &self.cache {
            c.remove_file(self.file_id);
        }
    }
}

impl Sstable {
    /// Opens the table at `path`: maps it, checks magic, version and the checksums of every
    /// component but the data (whose frames are checked as they are read; [`Sstable::verify`]
    /// checks them all), and decodes the index, filter and summary with keys from `keys`.
    /// `cache`, if given, holds decoded chunks for this and other tables.
    pub fn open(
        path: impl Into<PathBuf>,
        keys: Arc<dyn KeyProvider>,
        cache: Option<Arc<ChunkCache>>,
    ) -> Result<Self, SstableError> {
        let path = path.into();
        let io = |operation, source| SstableError::Io {
            file: path.clone(),
            operation,
            source,
        };
        let file = std::fs::File::open(&path).map_err(|e| io("opening", e))?;
        let len = file
            .metadata()
            .map_err(|e| io("reading the length of", e))?
            .len();
        let bytes = if len == 0 {
            Bytes::Owned(Vec::new())
        } else {
            Bytes::Map(mmap::map(&file).map_err(|e| io("mapping", e))?)
        };
        Self::from_parts(path, bytes, keys, cache)
    }

    /// Opens a table held in memory, as if read from `name` (errors name it). For tables
    /// received whole over the network, and for fuzzing.
    pub fn from_bytes(
        name: impl Into<PathBuf>,
        bytes: Vec<u8>,
        keys: Arc<dyn KeyProvider>,
        cache: Option<Arc<ChunkCache>>,
    ) -> Result<Self, SstableError> {
        Self::from_parts(name.into(), Bytes::Owned(bytes), keys, cache)
    }

    fn from_parts(
        path: PathBuf,
        bytes: Bytes,
        keys: Arc<dyn KeyProvider>,
        cache: Option<Arc<ChunkCache>>,
    ) -> Result<Self, SstableError> {
        Ok(Sstable {
            inner: Arc::new(open::open(path, bytes, keys, cache)?),
        })
    }

    /// The table's path (or the name it was opened from bytes with).
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// What the table says about itself.
    pub fn metadata(&self) -> &Metadata {
        &self.inner.metadata
    }

    /// Where each component lies in the file, in file order: `(component, offset, length)`.
    /// For tools that inspect files (and the corruption tests).
    pub fn layout(&self) -> Vec<(Component, u64, u64)> {
        let m = &self.inner.manifest;
        let manifest_at = m.chunk_offsets.end();
        let footer_at = self.inner.metadata.file_len - crate::format::FOOTER_LEN;
        vec![
            (Component::Header, 0, crate::format::HEADER_LEN),
            (Component::Data, m.data.offset, m.data.len),
            (Component::Index, m.index.offset, m.index.len),
            (Component::Filter, m.filter.offset, m.filter.len),
            (Component::Summary, m.summary.offset, m.summary.len),
            (
                Component::ChunkOffsets,
                m.chunk_offsets.offset,
                m.chunk_offsets.len,
            ),
            (Component::Manifest, manifest_at, footer_at - manifest_at),
            (Component::Footer, footer_at, crate::format::FOOTER_LEN),
        ]
    }

    /// The file offsets of the data frames, in chunk order.
    pub fn chunk_offsets(&self) -> &[u64] {
        let o = &self.inner.chunk_offsets;
        o.get(..o.len().saturating_sub(1)).unwrap_or_default()
    }

    /// The ids of every key the table needs (empty for a plaintext table).
    pub fn key_ids(&self) -> &[KeyId] {
        &self.inner.metadata.key_ids
    }

    /// Drops this table's decoded chunks and segments from the shared cache (if it has one),
    /// so that nothing read under a key that was just destroyed is served from memory.
    pub fn evict_cached(&self) {
        if let Some(c) = &self.inner.cache {
            c.remove_file(self.inner.file_id);
        }
    }

    /// The entry for `key`, if the table has one: the bloom filter, then the index, then one
    /// chunk decoded (or taken from the cache, which it fills). Without a cache, in a table
    /// whose codec allows it (plaintext, uncompressed ECB or CBC), the chunk's frame is
    /// checked whole (CRC first) and only the cipher blocks the lookup reads are decrypted.
    pub fn get(&self, key: &[u8]) -> Result<Option<Entry>, SstableError> {
        let t = &self.inner;
        let (Some(min), Some(max)) = (&t.metadata.min_key, &t.metadata.max_key) else {
            return Ok(None);
        };
        if key < min.as_slice() || key > max.as_slice() || !t.bloom.may_contain(key) {
            return Ok(None);
        }
        let Some((i, index_key, pos)) = t.index.floor(key) else {
            return Ok(None);
        };
        let mut cursor = Cursor::new(self.inner.clone(), pos, true);
        // The entry, if present, lies before the next indexed one; read that one's header and
        // key too (the loop below stops at it).
        let next = t.index.get(i + 1).map_or(t.manifest.data_len, |(_, p)| p);
        cursor.read_ahead_to(next.saturating_add(64));
        let mut k = Vec::new();
        let first = cursor.next_header()?;
        cursor.read_into(first.key_len as u64, &mut k)?;
        if k != index_key {
            return Err(t.corrupt(
                Component::Index,
                t.manifest.index.offset,
                format!("index entry for position {pos} does not match the entry there"),
            ));
        }
        let mut h = first;
        // The key before, in a buffer kept from entry to entry (no allocation per entry).
        let mut prev = Vec::new();
        loop {
            match k.as_slice().cmp(key) {
                std::cmp::Ordering::Less => cursor.skip(h.value_len as u64)?,
                std::cmp::Ordering::Equal => return cursor.read_value(&h).map(Some),
                std::cmp::Ordering::Greater => return Ok(None),
            }
            if cursor.at_end() {
                return Ok(None);
            }
            std::mem::swap(&mut k, &mut prev);
            k.clear();
            h = cursor.next_header()?;
            cursor.read_into(h.key_len as u64, &mut k)?;
            if k <= prev {
                return Err(cursor.out_of_order());
            }
        }
    }

    /// The entries with keys within `(start, end)`, in key order, as a streaming iterator
    /// that decodes one chunk at a time (reading from the cache when it holds the chunk,
    /// without filling it).
    pub fn range(&self, start: Bound<&[u8]>, end: Bound<&[u8]>) -> Scan {
        Scan::new(self.inner.clone(), start, end)
    }

    /// Every entry, in key order.
    pub fn iter(&self) -> Scan {
        self.range(Bound::Unbounded, Bound::Unbounded)
    }

    /// Reads and checks every chunk and component; see [`crate::verify`].
    pub fn verify(&self) -> Result<crate::VerifyReport, SstableError> {
        crate::verify::verify_table(&self.inner)
    }
}

impl Inner {
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    pub(crate) fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    pub(crate) fn index(&self) -> &Index {
        &self.index
    }

    pub(crate) fn bloom(&self) -> &Bloom {
        &self.bloom
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub(crate) fn corrupt(
        &self,
        component: Component,
        offset: u64,
        reason: impl Into<String>,
    ) -> SstableError {
        SstableError::Corrupt {
            file: self.path.clone(),
            component,
            offset,
            reason: reason.into(),
        }
    }

    /// The frame of `component` at `at` within `at..end` of the file, its header checked
    /// against the table: encrypted exactly when the table is, with a key the manifest lists.
    fn frame_at(&self, component: Component, at: u64, end: u64) -> Result<&[u8], SstableError> {
        let frame = usize::try_from(at)
            .ok()
            .zip(usize::try_from(end).ok())
            .and_then(|(a, e)| self.bytes.get(a..e))
            .ok_or_else(|| self.corrupt(component, at, "frame lies outside its section"))?;
        let h = parse_header(frame, self.manifest.chunk_length)
            .map_err(|source| self.chunk_error(component, at, source))?;
        if h.transformation.is_some() != self.encrypted {
            return Err(self.corrupt(
                component,
                at,
                if self.encrypted {
                    "plaintext frame in an encrypted table"
                } else {
                    "encrypted frame in a plaintext table"
                },
            ));
        }
        if let Some(id) = &h.key_id
            && !self.manifest.key_ids.contains(id)
        {
            return Err(self.corrupt(
                component,
                at,
                format!("frame is encrypted with key {id}, which the manifest does not list"),
            ));
        }
        Ok(frame)
    }

    fn check_frame_len(
        &self,
        component: Component,
        at: u64,
        end: u64,
        len: u64,
    ) -> Result<(), SstableError> {
        if len != end - at {
            return Err(self.corrupt(
                component,
                at,
                format!(
                    "frame of {len} bytes does not fill its {} byte slot",
                    end - at
                ),
            ));
        }
        Ok(())
    }

    /// Decodes the frame of `component` at `at`, within `at..end` of the file (exactly
    /// filling it if `exact`), appending its plaintext to `out`; returns the frame's length.
    /// The frame must be encrypted exactly when the table is, with a key the manifest lists.
    pub(crate) fn decode_frame(
        &self,
        component: Component,
        at: u64,
        end: u64,
        exact: bool,
        out: &mut Vec<u8>,
    ) -> Result<u64, SstableError> {
        let frame = self.frame_at(component, at, end)?;
        let len = self
            .decoder
            .decode(frame, Some(&*self.keys), out)
            .map_err(|source| self.chunk_error(component, at, source))? as u64;
        if exact {
            self.check_frame_len(component, at, end, len)?;
        }
        Ok(len)
    }

    pub(crate) fn chunk_error(
        &self,
        component: Component,
        offset: u64,
        e: CompressionError,
    ) -> SstableError {
        match e {
            CompressionError::Key { key_id, source } => SstableError::KeyUnavailable {
                file: self.path.clone(),
                component,
                offset,
                key_id,
                source: Box::new(source),
            },
            source => SstableError::Chunk {
                file: self.path.clone(),
                component,
                offset,
                source: Box::new(source),
            },
        }
    }

    /// Data chunks.
    pub(crate) fn chunks(&self) -> u64 {
        self.metadata.data_chunks
    }

    /// The plaintext of data chunk `i`: from the cache if it holds it, else decoded (and
    /// cached if `fill`). `reuse` is a buffer the caller no longer needs.
    pub(crate) fn chunk(
        &self,
        i: u64,
        fill: bool,
        reuse: Option<Chunk>,
    ) -> Result<Chunk, SstableError> {
        if let Some(c) = self
            .cache
            .as_ref()
            .and_then(|c| c.get(self.file_id, cache::whole(i)))
        {
            return Ok(c);
        }
        let (at, end) = self.chunk_slot(i)?;
        let mut buf = reuse
            .and_then(|r| Arc::try_unwrap(r).ok())
            .unwrap_or_else(|| Vec::with_capacity(self.manifest.chunk_length));
        buf.clear();
        self.decode_frame(Component::Data, at, end, true, &mut buf)?;
        self.check_chunk_len(i, at, buf.len())?;
        let chunk = Arc::new(buf);
        if fill && let Some(c) = &self.cache {
            c.insert(self.file_id, cache::whole(i), chunk.clone());
        }
        Ok(chunk)
    }

    /// The file range of data chunk `i`'s frame.
    fn chunk_slot(&self, i: u64) -> Result<(u64, u64), SstableError> {
        let idx = usize::try_from(i).unwrap_or(usize::MAX);
        match (
            self.chunk_offsets.get(idx),
            self.chunk_offsets.get(idx.saturating_add(1)),
        ) {
            (Some(&at), Some(&end)) => Ok((at, end)),
            _ => Err(self.corrupt(
                Component::Data,
                self.manifest.data.end(),
                format!("chunk {i} is past the last chunk"),
            )),
        }
    }

    /// Fails unless data chunk `i` (whose frame is at `at`) holds `len` bytes of plaintext:
    /// the chunk length, or what is left of the stream for the last chunk.
    fn check_chunk_len(&self, i: u64, at: u64, len: usize) -> Result<(), SstableError> {
        let want = self.chunk_plaintext_len(i);
        if len as u64 != want {
            return Err(self.corrupt(
                Component::Data,
                at,
                format!("chunk {i} holds {len} bytes of plaintext, expected {want}"),
            ));
        }
        Ok(())
    }

    /// The plaintext bytes of data chunk `i`: a whole chunk but for the last (0 past it).
    pub(crate) fn chunk_plaintext_len(&self, i: u64) -> u64 {
        let chunk_length = self.manifest.chunk_length as u64;
        self.manifest
            .data_len
            .saturating_sub(i.saturating_mul(chunk_length))
            .min(chunk_length)
    }

    /// Whether long scans of this table read ahead on another thread (see `readahead`).
    pub(crate) fn read_ahead(&self) -> bool {
        self.read_ahead
    }

    /// Whether lookups without a cache read parts of chunks ([`Inner::check_chunk`]).
    pub(crate) fn partial_reads(&self) -> bool {
        self.partial_reads && self.cache.is_none()
    }

    /// The segment size lookups through the cache read and cache (see [`Inner::segment`]), if
    /// they do: a cache, and a codec and frames that allow it.
    pub(crate) fn segment_reads(&self) -> Option<usize> {
        self.segment_len
            .filter(|_| self.partial_reads && self.cache.is_some())
    }

    /// Data chunk `i` checked for reads of parts of its plaintext, and its frame's file range:
    /// its slot, the frame header against the table, the header's checksum (a version 1
    /// frame's covers the whole frame), the key, the padding (its segment's checksum first),
    /// the lengths; reads then check the checksums of the segments they use before using any
    /// of their bytes and decrypt only the cipher blocks they cover
    /// (`crypta_compression::CheckedFrame`). For ECB and CBC each plaintext block depends
    /// only on its ciphertext block (and, for CBC, the one before it, which the segment's
    /// checksum covers too); a compressed chunk (format 3) is compressed in 4 KiB segments,
    /// each inflated from its own compressed bytes.
    pub(crate) fn check_chunk(&self, i: u64) -> Result<(CheckedFrame, u64, u64), SstableError> {
        let (at, end) = self.chunk_slot(i)?;
        let frame = self.frame_at(Component::Data, at, end)?;
        let memo = usize::try_from(i)
            .ok()
            .and_then(|i| self.frame_memos.get(i));
        let checked = self
            .decoder
            .check_frame_memo(frame, Some(&*self.keys), memo)
            .map_err(|source| self.chunk_error(Component::Data, at, source))?;
        self.check_frame_len(Component::Data, at, end, checked.frame_len() as u64)?;
        self.check_chunk_len(i, at, checked.plaintext_len())?;
        // One encoder wrote every frame: a frame whose segments differ from the first one's
        // is not the table's (and the cache's segments are of the first one's size).
        if let Some(want) = self.segment_len
            && checked.segment_len() != Some(want)
        {
            let has = match checked.segment_len() {
                Some(n) => format!("{n}-byte segments"),
                None => "no segments read one by one".into(),
            };
            return Err(self.corrupt(
                Component::Data,
                at,
                format!("chunk {i}'s frame has {has}, the table's first frame {want}-byte ones"),
            ));
        }
        Ok((checked, at, end))
    }

    /// Segment `s` (of `seg_len` bytes) of data chunk `i`'s plaintext: from the cache, or read
    /// from `frame` (checked here if `None` or another chunk's) and cached if `fill`.
    pub(crate) fn segment(
        &self,
        i: u64,
        s: usize,
        seg_len: usize,
        frame: &mut Option<(u64, CheckedFrame, (u64, u64))>,
        fill: bool,
    ) -> Result<Chunk, SstableError> {
        let unit = cache::segment(i, s);
        let cache = self.cache.as_ref();
        // A segment that will be cached may reuse an evicted one's buffer (one a scan reads
        // goes away with the scan: it takes none).
        let spare_for = fill.then_some(seg_len);
        let spare = match cache.map(|c| c.lookup(self.file_id, unit, spare_for)) {
            Some(Ok(hit)) => return Ok(hit),
            Some(Err(spare)) => spare,
            None => None,
        };
        if frame.as_ref().is_none_or(|(fi, _, _)| *fi != i) {
            // `check_chunk` refuses a frame whose segments are not `seg_len` (the first
            // frame's) bytes.
            let (checked, at, end) = self.check_chunk(i)?;
            *frame = Some((i, checked, (at, end)));
        }
        let Some((_, checked, slot)) = frame else {
            return Err(self.corrupt(Component::Data, 0, "no frame checked"));
        };
        let len = checked.plaintext_len();
        let from = s.saturating_mul(seg_len).min(len);
        let to = from.saturating_add(seg_len).min(len);
        let mut buf = spare.unwrap_or_else(|| Vec::with_capacity(to - from));
        self.read_chunk_range_over(checked, *slot, from..to, &mut buf)?;
        let seg = Arc::new(buf);
        if fill && let Some(c) = cache {
            c.insert(self.file_id, unit, seg.clone());
        }
        Ok(seg)
    }

    /// Sets `buf` to plaintext bytes `range` of data chunk `frame` (checked at file offset
    /// `at`, up to `end`), writing over the bytes it holds (`CheckedFrame::read_over`).
    pub(crate) fn read_chunk_range_over(
        &self,
        frame: &mut CheckedFrame,
        (at, end): (u64, u64),
        range: std::ops::Range<usize>,
        buf: &mut Vec<u8>,
    ) -> Result<(), SstableError> {
        let bytes = usize::try_from(at)
            .ok()
            .zip(usize::try_from(end).ok())
            .and_then(|(a, e)| self.bytes.get(a..e))
            .ok_or_else(|| self.corrupt(Component::Data, at, "frame lies outside its section"))?;
        frame
            .read_over(bytes, range, buf)
            .map_err(|source| self.chunk_error(Component::Data, at, source))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly on errors")]

    use std::collections::BTreeMap;
    use std::sync::Arc;

    use crypta_compression::CompressionOptions;
    use crypta_keys::LocalKeyProvider;

    use crate::{ChunkCache, Entry, Sstable, SstableError, SstableWriter, WriterOptions};

    /// Keys out of order inside an index interval, in a file whose checksums all hold (as a
    /// writer with a bug would leave it): a lookup that reads past the misplaced key fails
    /// naming the file, with and without a cache, plaintext and encrypted; one that stops
    /// before it answers.
    #[test]
    fn lookups_refuse_keys_out_of_order() {
        let dir = tempfile::tempdir().unwrap();
        let keys = Arc::new(LocalKeyProvider::open(dir.path().join("system_key")).unwrap());
        for (name, class) in [("plain", None), ("ecb", Some("AES/ECB/PKCS5Padding"))] {
            let mut m = BTreeMap::new();
            match class {
                None => m.insert("enabled".to_string(), "false".to_string()),
                Some(t) => {
                    m.insert("class".to_string(), "Encryptor".to_string());
                    m.insert("cipher_algorithm".to_string(), t.to_string())
                }
            };
            let opts = CompressionOptions::parse(&m).unwrap();
            let path = dir.path().join(format!("{name}.db"));
            let mut w = SstableWriter::create(&path, &opts, keys.clone(), WriterOptions::default())
                .unwrap();
            for k in ["k1", "k3", "k2", "k4"] {
                w.allow_next_out_of_order();
                w.add(k.as_bytes(), &Entry::value(k.as_bytes().to_vec(), 1))
                    .unwrap();
            }
            w.finish().unwrap();
            for cache in [None, Some(Arc::new(ChunkCache::new(1 << 20)))] {
                let t = Sstable::open(&path, keys.clone(), cache).unwrap();
                let got = t.get(b"k1").unwrap().and_then(|e| e.value);
                assert_eq!(got.as_deref(), Some(&b"k1"[..]), "{name}");
                // Stops at k3, past where k2 would be: absent, and rightly so for a lookup
                // that cannot know.
                assert_eq!(t.get(b"k2").unwrap(), None, "{name}");
                match t.get(b"k4") {
                    Err(SstableError::Corrupt { file, reason, .. }) => {
                        assert_eq!(file, path, "{name}");
                        assert!(reason.contains("increasing order"), "{name}: {reason}");
                    }
                    other => panic!("{name}: a lookup past keys out of order gave {other:?}"),
                }
            }
        }
    }
}
