//! crypta's commit log, and the log-file layer that hints share.
//!
//! Every write goes to the commit log before the memtable. Records (a mutation or a batch,
//! opaque bytes here) are framed with their length and a CRC32, buffered, and cut into
//! chunks on each sync or when a chunk fills; each chunk goes through the chunk codec
//! (compress, encrypt with a fresh IV under the provider's current key, checksum), so small
//! writes do not each pay a cipher block and an IV. Segments (`CommitLog-1-<id>.log`) hold
//! up to `commitlog_segment_size_in_mb` of records; a complete segment ends in a trailer
//! with its record count and the ids of every key it used, readable without decrypting.
//!
//! - [`CommitLog`]: open (recovering a crashed segment), [`CommitLog::append`],
//!   [`CommitLog::sync`], [`CommitLog::discard_up_to`], [`CommitLog::close`]. Sync modes
//!   ([`SyncMode`]) as Cassandra's `commitlog_sync`: periodic (the writer thread fsyncs
//!   every period), batch and group (an append returns after the fsync covering it;
//!   concurrent appends share it). A failed write or fsync poisons the log.
//! - [`replay`]: every whole record in order with its [`Position`]; a torn tail of the
//!   newest segment is dropped with a warning, any other damage is an error naming the file
//!   and offset (or a skipped segment, if asked).
//! - The log-file layer ([`LogWriter`], [`decode_file`], [`summarize_file`], [`LogCodec`],
//!   [`FileHeader`], [`Trailer`]): header, chunk blocks, records and trailer, shared with
//!   `crypta-hints`. Format: `docs/format/commitlog.md`.
//! - [`LogStorage`] / [`LogFile`]: the file operations, behind a trait so that tests can
//!   make an fsync fail.
//!
//! Each open [`CommitLog`] has one background thread, its writer: appends queue framed
//! records (a bounded queue: appends wait when it is full) and the writer encodes, writes
//! and fsyncs them, so that encryption runs beside the appending threads. Batch and group
//! appends return only after the writer's fsync covers them; periodic ones once queued.
#![forbid(unsafe_code)]

mod commit;
mod config;
mod error;
mod file;
mod replay;
mod storage;

pub use commit::{CommitLog, Position, segment_paths};
pub use config::{
    CommitLogConfig, DEFAULT_SEGMENT_SIZE, DEFAULT_SYNC_PERIOD, MAX_SEGMENT_SIZE, MIN_SEGMENT_SIZE,
    SyncMode,
};
pub use error::CommitLogError;
pub use file::{
    DecodedFile, FORMAT_VERSION, FileEnd, FileHeader, FileSummary, LogCodec, LogKind, LogWriter,
    MAX_CHUNK_LENGTH, MAX_HEADER_EXTRA, RECORD_OVERHEAD, RecordRef, Recovery, SealInfo, TailPolicy,
    TornTail, Trailer, decode_file, record_header, recover_file, summarize_file,
};
pub use replay::{ApplyResult, ReplayOptions, ReplayReport, SkippedSegment, replay};
pub use storage::{LogFile, LogStorage, OsStorage, create_log_dir, remove_log_file};
