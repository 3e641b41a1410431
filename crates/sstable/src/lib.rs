//! crypta's SSTables: immutable sorted tables of entries (key, value or tombstone, write
//! timestamp), cut into chunks that pass through the table's codec (plain, compressed,
//! encrypted), with a sampled index, a bloom filter and checksummed metadata.
//!
//! - [`SstableWriter`] takes entries in key order and streams them to disk chunk by chunk,
//!   each full chunk encoded by encoder threads (several for codecs that compress,
//!   [`WriterOptions::encoder_threads`]) while the caller fills the next, and written in
//!   chunk order (the threads live only as long as the writer); its memory is a few chunks plus the bloom
//!   filter, whatever the table's size. The file appears under its name only when complete
//!   and synced.
//! - [`Sstable`] opens a table, checks every component but the data at open, and serves
//!   point lookups ([`Sstable::get`]: bloom filter, index, one chunk; in a plaintext, ECB or
//!   CBC table, the chunk's frame header is checked and only the cipher blocks the lookup
//!   reads are decrypted, and in a compressed one of format 3 only the 4 KiB segments it reads
//!   inflated) and range scans
//!   ([`Sstable::range`], a streaming iterator). A [`ChunkCache`] shared by tables keeps hot
//!   decoded chunks.
//! - [`verify`] reads and checks everything; [`key_ids`] lists the keys a file needs without
//!   decrypting anything.
//!
//! The file format is specified byte by byte in `docs/format/sstable.md`. In an encrypted
//! table everything that reveals row keys (the index, the filter, the min and max key) is
//! encrypted with the data's key; the plaintext manifest holds only options (no secrets),
//! key ids, counts, timestamps and the section table.
//!
//! Every error names the file, the component and the offset ([`SstableError`]); nothing read
//! from a file can make this crate panic, and a frame is never decrypted before its checksum
//! is checked.
//!
//! # Unsafe
//! The workspace denies `unsafe_code`; this crate has one exception, `reader/mmap.rs`, which
//! maps table files read-only with `memmap2` (one `unsafe` call with its `// SAFETY:` note).
//! Mapping is sound because tables are immutable once renamed into place and crypta removes
//! them only by unlinking. [`Sstable::from_bytes`] reads a table held in memory instead.
//! `docs/performance.md` compares the mapped reads with `pread` copies.

mod cache;
mod entry;
mod error;
mod filter;
mod format;
mod index;
mod key_ids;
mod metadata;
mod reader;
mod verify;
mod writer;

pub use cache::{CacheStats, ChunkCache};
pub use entry::{Entry, MAX_KEY_LEN, MAX_VALUE_LEN};
pub use error::{Component, Result, SstableError};
pub use filter::DEFAULT_BITS_PER_KEY;
pub use format::{FORMAT_VERSION, READS_VERSIONS};
pub use index::DEFAULT_INDEX_INTERVAL;
pub use key_ids::{key_ids, recorded_options};
pub use metadata::Metadata;
pub use reader::{Scan, Sstable};
pub use verify::{VerifyReport, verify};
pub use writer::{MAX_AUTO_ENCODER_THREADS, SstableInfo, SstableWriter, WriterOptions};
