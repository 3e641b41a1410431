//! How a hints store is configured: the cassandra.yaml settings it honours.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crypta_commitlog::{LogStorage, OsStorage};
use crypta_compression::CompressionOptions;
use crypta_keys::Timestamp;

use crate::HintsError;

/// `max_hint_window_in_ms`'s default: 3 hours.
pub const DEFAULT_MAX_HINT_WINDOW: Duration = Duration::from_secs(3 * 3600);

/// `max_hints_file_size_in_mb`'s default: 128 MiB.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 128 * 1024 * 1024;

/// How many delivered hints may go by before the delivery cursor is persisted again.
pub const DEFAULT_CURSOR_EVERY: u64 = 64;

/// A source of the current time (tests move it by hand).
pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// A hints store's configuration.
#[derive(Clone)]
pub struct HintsConfig {
    /// Hints older than this (by creation time) are dropped, not delivered
    /// (`max_hint_window_in_ms`).
    pub max_hint_window: Duration,
    /// A host's current file is sealed and a new one started past this size
    /// (`max_hints_file_size_in_mb`).
    pub max_file_size: u64,
    /// How chunks are compressed and encrypted (`system_info_encryption`), as for the commit
    /// log.
    pub compression: CompressionOptions,
    /// After this many deliveries the cursor is persisted even without a failure: a crash
    /// redelivers at most this many hints (delivery is at least once).
    pub cursor_every: u64,
    /// Where files live.
    pub storage: Arc<dyn LogStorage>,
    /// The current time.
    pub clock: Clock,
}

impl fmt::Debug for HintsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HintsConfig")
            .field("max_hint_window", &self.max_hint_window)
            .field("max_file_size", &self.max_file_size)
            .field("compression", &self.compression.to_string())
            .field("cursor_every", &self.cursor_every)
            .field("storage", &self.storage)
            .finish_non_exhaustive()
    }
}

impl Default for HintsConfig {
    /// A 3-hour window, 128 MiB files, plain chunks, the system clock.
    fn default() -> Self {
        HintsConfig {
            max_hint_window: DEFAULT_MAX_HINT_WINDOW,
            max_file_size: DEFAULT_MAX_FILE_SIZE,
            compression: CompressionOptions::default(),
            cursor_every: DEFAULT_CURSOR_EVERY,
            storage: Arc::new(OsStorage),
            clock: Arc::new(Timestamp::now),
        }
    }
}

impl HintsConfig {
    /// The largest mutation a hint may carry: half a file.
    pub fn max_hint_len(&self) -> usize {
        usize::try_from(self.max_file_size / 2).unwrap_or(usize::MAX)
    }

    pub(crate) fn validate(&self) -> Result<(), HintsError> {
        let bad = |reason: &str| {
            Err(HintsError::Config {
                reason: reason.to_string(),
            })
        };
        if self.max_hint_window.is_zero() {
            return bad("max_hint_window_in_ms must be more than zero");
        }
        if !(4096..=(2047 << 20)).contains(&self.max_file_size) {
            return bad("max_hints_file_size must be from 4 KiB to 2047 MiB");
        }
        if self.cursor_every == 0 {
            return bad("cursor_every must be at least 1");
        }
        Ok(())
    }

    /// Whether a hint created at `created` is past the window at `now`.
    pub(crate) fn expired(&self, created: u64, now: Timestamp) -> bool {
        Timestamp(created).plus(self.max_hint_window) <= now
    }
}
