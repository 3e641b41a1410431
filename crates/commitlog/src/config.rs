//! How a commit log is configured: the cassandra.yaml settings it honours.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crypta_compression::CompressionOptions;

use crate::{CommitLogError, LogStorage, OsStorage};

/// `commitlog_segment_size_in_mb`'s default: 32 MiB.
pub const DEFAULT_SEGMENT_SIZE: u64 = 32 * 1024 * 1024;

/// `commitlog_sync_period_in_ms`'s default: 10 seconds.
pub const DEFAULT_SYNC_PERIOD: Duration = Duration::from_secs(10);

/// The smallest segment size accepted (tests use small segments to exercise rolling).
pub const MIN_SEGMENT_SIZE: u64 = 4096;

/// The largest segment size accepted (Cassandra's limit too).
pub const MAX_SEGMENT_SIZE: u64 = 2047 * 1024 * 1024;

/// When appends are made durable (`commitlog_sync`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SyncMode {
    /// `periodic`: an append returns at once; a background thread fsyncs every period
    /// (`commitlog_sync_period_in_ms`). A crash loses at most the last period's appends.
    Periodic(Duration),
    /// `batch`: an append returns after the fsync that covers it. Appends that arrive while
    /// an fsync runs share the next one (group commit).
    Batch,
    /// `group`: as `batch`, but each fsync first waits this window
    /// (`commitlog_sync_group_window_in_ms`) for more appends to join it.
    Group(Duration),
}

impl SyncMode {
    /// Parses `commitlog_sync` with its period or window in milliseconds, as cassandra.yaml
    /// writes them.
    pub fn from_cassandra(
        name: &str,
        period_ms: Option<u64>,
        window_ms: Option<u64>,
    ) -> Result<Self, CommitLogError> {
        match name.trim() {
            "periodic" => Ok(SyncMode::Periodic(
                period_ms.map_or(DEFAULT_SYNC_PERIOD, Duration::from_millis),
            )),
            "batch" => Ok(SyncMode::Batch),
            "group" => Ok(SyncMode::Group(Duration::from_millis(
                window_ms.unwrap_or(15),
            ))),
            other => Err(CommitLogError::Config {
                reason: format!("commitlog_sync is {other:?}: expected periodic, batch or group"),
            }),
        }
    }

    /// Whether an append waits for its fsync.
    pub fn acknowledges_after_sync(self) -> bool {
        !matches!(self, SyncMode::Periodic(_))
    }
}

/// A commit log's configuration.
#[derive(Clone)]
pub struct CommitLogConfig {
    /// Most record bytes in a segment (`commitlog_segment_size_in_mb`); a record may be at
    /// most half of it. The file adds chunk framing to this (tens of bytes per chunk).
    pub segment_size: u64,
    /// When appends become durable.
    pub sync: SyncMode,
    /// How chunks are compressed and encrypted: `system_info_encryption`'s settings as an
    /// encrypting class, or plain.
    pub compression: CompressionOptions,
    /// Where files live (the OS by default; tests inject failures here).
    pub storage: Arc<dyn LogStorage>,
}

impl fmt::Debug for CommitLogConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CommitLogConfig")
            .field("segment_size", &self.segment_size)
            .field("sync", &self.sync)
            .field("compression", &self.compression.to_string())
            .field("storage", &self.storage)
            .finish()
    }
}

impl Default for CommitLogConfig {
    /// 32 MiB segments, periodic sync every 10 s, no compression or encryption.
    fn default() -> Self {
        CommitLogConfig {
            segment_size: DEFAULT_SEGMENT_SIZE,
            sync: SyncMode::Periodic(DEFAULT_SYNC_PERIOD),
            compression: CompressionOptions::default(),
            storage: Arc::new(OsStorage),
        }
    }
}

impl CommitLogConfig {
    /// The largest record accepted: half a segment, less the record framing.
    pub fn max_record_len(&self) -> usize {
        usize::try_from(self.segment_size / 2).unwrap_or(usize::MAX) - crate::RECORD_OVERHEAD
    }

    pub(crate) fn validate(&self) -> Result<(), CommitLogError> {
        if !(MIN_SEGMENT_SIZE..=MAX_SEGMENT_SIZE).contains(&self.segment_size) {
            return Err(CommitLogError::Config {
                reason: format!(
                    "segment size {} is outside {MIN_SEGMENT_SIZE} to {MAX_SEGMENT_SIZE} bytes",
                    self.segment_size
                ),
            });
        }
        if let SyncMode::Periodic(p) = self.sync
            && p.is_zero()
        {
            return Err(CommitLogError::Config {
                reason: "a periodic sync period must be more than zero".into(),
            });
        }
        Ok(())
    }
}
