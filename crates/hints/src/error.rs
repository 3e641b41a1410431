//! The error type of this crate.

use std::path::PathBuf;

use crypta_commitlog::CommitLogError;

/// What went wrong storing or dispatching hints. Never contains key material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HintsError {
    /// A hints file or the directory could not be written or read (names the file, and
    /// the offset where one is known).
    #[error(transparent)]
    Log(#[from] CommitLogError),

    /// A delivery cursor file is damaged.
    #[error("delivery cursor {} is unusable: {reason}", file.display())]
    CorruptCursor {
        /// The cursor file.
        file: PathBuf,
        /// What is wrong.
        reason: String,
    },

    /// A record of a hints file is not a hint, or a file belongs to another host.
    #[error("{} is corrupt at offset {offset}: {reason}", file.display())]
    Corrupt {
        /// The hints file.
        file: PathBuf,
        /// Byte offset of the chunk holding the bad hint.
        offset: u64,
        /// What is wrong.
        reason: String,
    },

    /// A host id is not a UUID.
    #[error("invalid host id {0:?}: expected a UUID like 123e4567-e89b-12d3-a456-426614174000")]
    InvalidHostId(String),

    /// A hint is larger than a hints file may hold.
    #[error("hint of {len} bytes is larger than the {max} a hint may have")]
    HintTooLarge {
        /// The mutation's length.
        len: usize,
        /// The most allowed.
        max: usize,
    },

    /// Writing this host's hints failed earlier; they are refused until the store is
    /// reopened (which recovers what reached the disk).
    #[error(
        "hints for host {host} are unusable since an earlier failure ({cause}); reopen the store"
    )]
    Poisoned {
        /// The host.
        host: String,
        /// The first failure.
        cause: String,
    },

    /// The configuration cannot work.
    #[error("invalid hints configuration: {reason}")]
    Config {
        /// What is wrong.
        reason: String,
    },
}
