//! The writer: entries in key order in, one complete file out, or nothing.
//!
//! Entries are streamed into the data section chunk by chunk, each full chunk encoded
//! (compressed, encrypted, framed, checksummed) by encoder threads while the caller fills the
//! next one, and the frames written in chunk order (`pipeline.rs`; several encoders for
//! codecs that compress, see [`WriterOptions::encoder_threads`]); index entries are framed into an
//! anonymous spool file as they are sampled and copied after the data at `finish`; the bloom
//! filter is the only structure that grows with the table (`bits_per_key` bits per expected
//! entry). Everything is written to `<name>.tmp`, synced, renamed to `<name>` and the directory
//! synced: a crash leaves at most a `.tmp` file, never a table that looks whole.

mod pipeline;
mod section;

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::num::NonZeroUsize;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use crypta_compression::{ChunkEncoder, CompressionOptions, Mode};
use crypta_keys::{KeyId, KeyProvider};

use pipeline::{DataPipeline, Tuning};
use section::{Codec, Fail, Finished, SectionWriter};

use crate::entry::{ENTRY_HEADER_LEN, EntryHeader};
use crate::filter::{Bloom, DEFAULT_BITS_PER_KEY};
use crate::format::{self, FORMAT_VERSION, Footer, HEADER_LEN, Manifest, Section};
use crate::index::{self, DEFAULT_INDEX_INTERVAL};
use crate::{Entry, MAX_KEY_LEN, MAX_VALUE_LEN, Metadata, SstableError};

/// How the writer sizes the filter, samples the index and spreads the encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WriterOptions {
    /// Entries expected: the bloom filter is sized for this many (the engine knows it: the
    /// memtable's count at flush, the inputs' counts at compaction). More entries still work,
    /// with more false positives.
    pub expected_entries: u64,
    /// Bloom filter bits per expected entry (10 gives about 1% false positives).
    pub bits_per_key: u32,
    /// The index samples the first entry that starts in each span of this many bytes of a
    /// chunk (and the first of each chunk).
    pub index_interval: usize,
    /// Threads that encode (compress, encrypt, frame) the data chunks while the caller adds
    /// entries; frames are written in chunk order whatever their number, so the file is the
    /// same (but for the random IVs). Each thread lives only as long as the writer, and the
    /// writer holds at most `2 × threads + 2` chunks in flight (with their frames), or
    /// `2 × 8 + 2` for CBC, whose encoder takes 8 chunks at a time.
    ///
    /// `None` (the default) chooses by codec: for codecs that compress (`DeflateCompressor`
    /// and `EncryptingDeflateCompressor`, where deflate is the bottleneck of a write, and the
    /// LZ4 ones) as many as [`std::thread::available_parallelism`] says, at most
    /// [`MAX_AUTO_ENCODER_THREADS`]; for the others (plaintext, `Encryptor`), whose encoding
    /// runs faster than the caller fills chunks, one.
    pub encoder_threads: Option<NonZeroUsize>,
}

/// The most encoder threads [`WriterOptions::encoder_threads`] chooses by itself.
pub const MAX_AUTO_ENCODER_THREADS: usize = 4;

/// CBC chunks an encoder takes at once: `ChunkEncoder::encode_batch` runs their chains side
/// by side (8 lanes fill the AES-NI backend's parallel path: 3,000 MB/s against 1,100 for one
/// chain; with the VAES backend of a `target-cpu=native` build, 2,260).
const CBC_BATCH: usize = 8;

impl WriterOptions {
    /// How many encoders and how large a batch `options`' codec gets.
    fn tuning(&self, options: &CompressionOptions) -> Tuning {
        let compresses = options.class.compressor().is_some();
        let encoders = match self.encoder_threads {
            Some(n) => n.get(),
            None if compresses => available_cores().min(MAX_AUTO_ENCODER_THREADS),
            None => 1,
        };
        let cbc = options
            .encryption
            .as_ref()
            .is_some_and(|e| e.transformation.mode == Mode::Cbc);
        Tuning {
            encoders,
            batch: if cbc && !compresses { CBC_BATCH } else { 1 },
        }
    }
}

/// `available_parallelism`, asked once (it reads cgroup files on Linux).
fn available_cores() -> usize {
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, NonZeroUsize::get))
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            expected_entries: 10_000,
            bits_per_key: DEFAULT_BITS_PER_KEY,
            index_interval: DEFAULT_INDEX_INTERVAL,
            encoder_threads: None,
        }
    }
}

/// What `finish` wrote: the table's path and metadata.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SstableInfo {
    /// The table, now visible under its name.
    pub path: PathBuf,
    /// Its metadata, as a reader sees it.
    pub metadata: Metadata,
}

/// Writes one SSTable (see the module docs). Dropping it without `finish` removes the
/// temporary file.
#[derive(Debug)]
pub struct SstableWriter {
    path: PathBuf,
    tmp_path: PathBuf,
    /// The file, once the data section is written (the encoder thread has it until then).
    file: Option<BufWriter<File>>,
    spool: BufWriter<File>,
    codec: Arc<Codec>,
    options: CompressionOptions,
    key_ids: Vec<KeyId>,
    opts: WriterOptions,
    /// The data section, until `finish`.
    data: Option<DataPipeline>,
    index: SectionWriter,
    bloom: Bloom,
    entries: u64,
    tombstones: u64,
    min_ts: i64,
    max_ts: i64,
    first_key: Option<Vec<u8>>,
    last_key: Vec<u8>,
    last_indexed: Option<u64>,
    index_entries: u64,
    scratch: Vec<u8>,
    poisoned: bool,
    renamed: bool,
}

impl SstableWriter {
    /// Starts a table at `path` (which must not exist) with the codec of `options`. An
    /// encrypting codec gets its key now, once, from `keys`: the whole file uses that key.
    pub fn create(
        path: impl Into<PathBuf>,
        options: &CompressionOptions,
        keys: Arc<dyn KeyProvider>,
        opts: WriterOptions,
    ) -> Result<Self, SstableError> {
        let path = path.into();
        let key = match options.key_spec() {
            Some(spec) => Some(
                keys.current_key(&spec)
                    .map_err(|source| SstableError::NoKey {
                        file: path.clone(),
                        source: Box::new(source),
                    })?,
            ),
            None => None,
        };
        if path.exists() {
            return Err(SstableError::AlreadyExists { file: path });
        }
        let tmp_path = tmp_name(&path);
        let io = |operation, source| SstableError::Io {
            file: tmp_path.clone(),
            operation,
            source,
        };
        // Owner only, like the commit log and the key file: a plaintext table's file holds
        // its rows, and a copy of any keeps the mode.
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp_path)
            .map_err(|e| io("creating", e))?;
        let dir = parent(&path);
        let spool =
            tempfile::tempfile_in(&dir).map_err(|e| io("creating the index spool beside", e))?;
        file.write_all(&format::encode_header())
            .map_err(|e| io("writing", e))?;
        let chunk_length = options.chunk_length();
        let key_ids = key.iter().map(|k| k.id().clone()).collect();
        let codec = Arc::new(Codec {
            encoder: ChunkEncoder::new(options),
            key,
        });
        let file = BufWriter::with_capacity(256 * 1024, file);
        let data = DataPipeline::start(chunk_length, codec.clone(), file, opts.tuning(options))
            .map_err(|e| io("starting the encoder threads for", e))?;
        Ok(SstableWriter {
            key_ids,
            codec,
            options: options.clone(),
            file: None,
            spool: BufWriter::with_capacity(64 * 1024, spool),
            data: Some(data),
            index: SectionWriter::new(chunk_length, false),
            bloom: Bloom::with_capacity(opts.expected_entries, opts.bits_per_key),
            opts: WriterOptions {
                index_interval: opts.index_interval.max(1),
                ..opts
            },
            entries: 0,
            tombstones: 0,
            min_ts: i64::MAX,
            max_ts: i64::MIN,
            first_key: None,
            last_key: Vec::new(),
            last_indexed: None,
            index_entries: 0,
            scratch: Vec::new(),
            poisoned: false,
            renamed: false,
            path,
            tmp_path,
        })
    }

    /// The table's final path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Entries added so far.
    pub fn entries(&self) -> u64 {
        self.entries
    }

    /// Encoded bytes of data written so far (the encoder threads may still hold the last few
    /// chunks added).
    pub fn data_bytes(&self) -> u64 {
        self.data.as_ref().map_or(0, DataPipeline::bytes)
    }

    fn fail(&mut self, f: Fail) -> SstableError {
        self.poisoned = true;
        match f {
            Fail::Io(operation, source) => SstableError::Io {
                file: self.tmp_path.clone(),
                operation,
                source,
            },
            Fail::Encode(source) => SstableError::Encode {
                file: self.tmp_path.clone(),
                source: Box::new(source),
            },
        }
    }

    /// Lets the next key through whatever the last one was: for tests of readers facing
    /// keys out of order in a file whose checksums all hold.
    #[cfg(test)]
    pub(crate) fn allow_next_out_of_order(&mut self) {
        self.last_key.clear();
    }

    /// Adds `key` with `entry`. Keys must strictly increase.
    pub fn add(&mut self, key: &[u8], entry: &Entry) -> Result<(), SstableError> {
        self.add_parts(key, entry.value.as_deref(), entry.timestamp)
    }

    /// Adds `key` with a value (`None`: a tombstone) written at `timestamp`, without needing
    /// an owned [`Entry`] (compaction streams borrowed values through this).
    pub fn add_parts(
        &mut self,
        key: &[u8],
        value: Option<&[u8]>,
        timestamp: i64,
    ) -> Result<(), SstableError> {
        if self.poisoned {
            return Err(SstableError::Poisoned {
                file: self.tmp_path.clone(),
            });
        }
        let too_large = |what, len, max| SstableError::TooLarge {
            file: self.path.clone(),
            what,
            len,
            max,
        };
        let key_len =
            u16::try_from(key.len()).map_err(|_| too_large("key", key.len(), MAX_KEY_LEN))?;
        let value_len = match value {
            Some(v) => Some(
                u32::try_from(v.len()).map_err(|_| too_large("value", v.len(), MAX_VALUE_LEN))?,
            ),
            None => None,
        };
        if self.entries > 0 && key <= self.last_key.as_slice() {
            return Err(SstableError::OutOfOrder {
                file: self.path.clone(),
                entry: self.entries,
                duplicate: key == self.last_key.as_slice(),
            });
        }
        let chunk_length = self.data_chunk_length();
        let Some(data) = self.data.as_mut() else {
            return Err(SstableError::Poisoned {
                file: self.tmp_path.clone(),
            });
        };
        let pos = data.position();
        let chunk = |p: u64| p / chunk_length;
        // The first entry that starts in each chunk and in each `index_interval` span of it
        // (spans counted from the chunk's start, so that with the default interval they are
        // the chunk's 4 KiB segments): a lookup then starts in the segment that holds its
        // entry and reads that one segment, unless its entry runs into the next.
        let interval = self.opts.index_interval as u64;
        let span = |p: u64| (chunk(p), (p % chunk_length) / interval);
        let sample = self.last_indexed.is_none_or(|last| span(last) != span(pos));
        let mut r = Ok(());
        if sample {
            self.scratch.clear();
            if index::encode_entry(&mut self.scratch, key, pos).is_some() {
                r = self
                    .index
                    .write(&self.scratch, &self.codec, &mut self.spool);
            }
            self.last_indexed = Some(pos);
            self.index_entries += 1;
        }
        let header: [u8; ENTRY_HEADER_LEN] = EntryHeader::encode(key_len, value_len, timestamp);
        let r = r
            .and_then(|()| data.write(&header))
            .and_then(|()| data.write(key))
            .and_then(|()| data.write(value.unwrap_or_default()));
        if let Err(f) = r {
            return Err(self.fail(f));
        }
        self.bloom.insert(key);
        self.entries += 1;
        self.tombstones += u64::from(value.is_none());
        self.min_ts = self.min_ts.min(timestamp);
        self.max_ts = self.max_ts.max(timestamp);
        if self.first_key.is_none() {
            self.first_key = Some(key.to_vec());
        }
        self.last_key.clear();
        self.last_key.extend_from_slice(key);
        Ok(())
    }

    fn data_chunk_length(&self) -> u64 {
        self.options.chunk_length() as u64
    }

    /// Writes the index, filter, summary, chunk offsets, manifest and footer, syncs, and makes
    /// the table visible under its name.
    pub fn finish(mut self) -> Result<SstableInfo, SstableError> {
        if self.poisoned {
            return Err(SstableError::Poisoned {
                file: self.tmp_path.clone(),
            });
        }
        let metadata = match self.write_rest() {
            Ok(m) => m,
            Err(f) => return Err(self.fail(f)),
        };
        let io = |operation, source| SstableError::Io {
            file: self.path.clone(),
            operation,
            source,
        };
        let file = self.file.take();
        if let Some(file) = file {
            let file = file
                .into_inner()
                .map_err(|e| io("writing", e.into_error()))?;
            file.sync_all().map_err(|e| io("syncing", e))?;
        }
        if self.path.exists() {
            return Err(SstableError::AlreadyExists {
                file: self.path.clone(),
            });
        }
        std::fs::rename(&self.tmp_path, &self.path)
            .map_err(|e| io("renaming the temporary file to", e))?;
        self.renamed = true;
        File::open(parent(&self.path))
            .and_then(|d| d.sync_all())
            .map_err(|e| io("syncing the directory of", e))?;
        Ok(SstableInfo {
            path: self.path.clone(),
            metadata,
        })
    }

    fn write_rest(&mut self) -> Result<Metadata, Fail> {
        let chunk_length = self.options.chunk_length();
        let Some(data) = self.data.take() else {
            return Err(Fail::Io(
                "writing",
                std::io::Error::other("writer already closed"),
            ));
        };
        // Wait for the encoder threads to write the data section and give the file back.
        let (mut file, data) = data.finish()?;
        let r = self.write_sections(&mut file, data, chunk_length);
        self.file = Some(file);
        r
    }

    fn write_sections(
        &mut self,
        file: &mut BufWriter<File>,
        data: Finished,
        chunk_length: usize,
    ) -> Result<Metadata, Fail> {
        let codec = &*self.codec;
        let data_section = Section {
            offset: HEADER_LEN,
            len: data.len,
            crc: data.crc,
        };
        // Index: frame what is pending into the spool, then copy the spool after the data.
        let index = std::mem::replace(&mut self.index, SectionWriter::new(chunk_length, false))
            .finish(codec, &mut self.spool)?;
        self.spool
            .flush()
            .map_err(|e| Fail::Io("writing the index spool of", e))?;
        let spool = self.spool.get_mut();
        spool
            .seek(SeekFrom::Start(0))
            .map_err(|e| Fail::Io("reading the index spool of", e))?;
        let copied =
            std::io::copy(spool, file).map_err(|e| Fail::Io("copying the index into", e))?;
        if copied != index.len {
            return Err(Fail::Io(
                "copying the index into",
                std::io::Error::other(format!("copied {copied} of {} bytes", index.len)),
            ));
        }
        let index_section = Section {
            offset: data_section.end(),
            len: index.len,
            crc: index.crc,
        };
        // Filter.
        let (filter_words, filter_hashes) = if self.entries == 0 {
            (0, 0)
        } else {
            (self.bloom.words().len() as u64, self.bloom.hashes())
        };
        let mut filter = SectionWriter::new(chunk_length, false);
        if self.entries > 0 {
            let mut buf = Vec::with_capacity(chunk_length);
            for words in self.bloom.words().chunks(chunk_length / 8) {
                buf.clear();
                for w in words {
                    buf.extend_from_slice(&w.to_le_bytes());
                }
                filter.write(&buf, codec, file)?;
            }
        }
        let filter = filter.finish(codec, file)?;
        let filter_section = Section {
            offset: index_section.end(),
            len: filter.len,
            crc: filter.crc,
        };
        // Summary: the min and max key.
        let mut summary_plain = Vec::new();
        let first = self.first_key.clone().unwrap_or_default();
        if self.entries > 0 {
            use crypta_keys::wire::WriteLe;
            summary_plain.put_bytes_u16(&first);
            summary_plain.put_bytes_u16(&self.last_key);
        }
        let mut summary = SectionWriter::new(chunk_length, false);
        summary.write(&summary_plain, codec, file)?;
        let summary = summary.finish(codec, file)?;
        let summary_section = Section {
            offset: filter_section.end(),
            len: summary.len,
            crc: summary.crc,
        };
        // Chunk offsets, absolute.
        let mut offsets = Vec::with_capacity(data.frame_offsets.len() * 8);
        for o in &data.frame_offsets {
            offsets.extend_from_slice(&(HEADER_LEN + o).to_le_bytes());
        }
        file.write_all(&offsets)
            .map_err(|e| Fail::Io("writing", e))?;
        let offsets_section = Section {
            offset: summary_section.end(),
            len: offsets.len() as u64,
            crc: crc32fast::hash(&offsets),
        };
        let empty = self.entries == 0;
        let manifest = Manifest {
            version: crate::FORMAT_VERSION,
            chunk_length,
            options: self.options.to_map(),
            key_ids: self.key_ids.clone(),
            entry_count: self.entries,
            tombstone_count: self.tombstones,
            min_timestamp: if empty { 0 } else { self.min_ts },
            max_timestamp: if empty { 0 } else { self.max_ts },
            data_len: data.plain_len,
            index_len: index.plain_len,
            index_entries: self.index_entries,
            filter_hashes,
            filter_words,
            summary_len: summary.plain_len,
            data: data_section,
            index: index_section,
            filter: filter_section,
            summary: summary_section,
            chunk_offsets: offsets_section,
        };
        let encoded = manifest.encode().ok_or_else(|| {
            Fail::Io(
                "encoding the manifest of",
                std::io::Error::other("options or key ids too long for the manifest"),
            )
        })?;
        let footer = Footer {
            manifest_offset: offsets_section.end(),
            manifest_len: encoded.len() as u64,
            manifest_crc: crc32fast::hash(&encoded),
        };
        file.write_all(&encoded)
            .map_err(|e| Fail::Io("writing", e))?;
        file.write_all(&footer.encode())
            .map_err(|e| Fail::Io("writing", e))?;
        let file_len = footer.manifest_offset + footer.manifest_len + format::FOOTER_LEN;
        Ok(Metadata::new(
            &manifest,
            (!empty).then_some((first, self.last_key.clone())),
            file_len,
            FORMAT_VERSION,
        ))
    }
}

impl Drop for SstableWriter {
    fn drop(&mut self) {
        // Stops and joins the encoder threads (if still running) before the file goes.
        drop(self.data.take());
        if !self.renamed {
            // Not finished, or failed: the temporary file is garbage. Best effort.
            let _ = std::fs::remove_file(&self.tmp_path);
        }
    }
}

/// `<dir>/<name>.tmp`.
fn tmp_name(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

fn parent(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}
