//! The error type of this crate (and of the log-file layer crypta-hints shares).

use std::path::PathBuf;

use crypta_compression::CompressionError;
use crypta_keys::KeyError;

/// What went wrong writing, recovering or replaying a log. Never contains key material.
///
/// Variants about a file name it and, where a position in it is known, the byte offset from
/// the start of the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CommitLogError {
    /// An operating system call on a log file or directory failed.
    #[error("{operation} {}: {source}", file.display())]
    Io {
        /// The file or directory.
        file: PathBuf,
        /// What was being done (`writing`, `syncing`, `creating`, ...).
        operation: &'static str,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },

    /// The file is not a log file of the expected kind.
    #[error("{} is not a crypta {expected} file (bad magic)", file.display())]
    WrongMagic {
        /// The file.
        file: PathBuf,
        /// The kind expected (`commit log segment`, `hints`).
        expected: &'static str,
    },

    /// The file was written by a format version this build cannot read.
    #[error("{} has format version {version}; this build reads version 1", file.display())]
    UnsupportedVersion {
        /// The file.
        file: PathBuf,
        /// The version found.
        version: u8,
    },

    /// The file is damaged at `offset`: not a torn tail that recovery may drop, but bytes
    /// that were written whole and no longer read back as written.
    #[error("{} is corrupt at offset {offset}: {reason}", file.display())]
    Corrupt {
        /// The file.
        file: PathBuf,
        /// Byte offset in the file of the damaged block (or header).
        offset: u64,
        /// What is wrong.
        reason: String,
    },

    /// The chunk at `offset` could not be decoded: checksum, key, cipher or decompression.
    #[error("{} chunk at offset {offset}: {source}", file.display())]
    Chunk {
        /// The file.
        file: PathBuf,
        /// Byte offset in the file of the chunk's block.
        offset: u64,
        /// What the chunk decoder said (names the key id when a key is missing).
        #[source]
        source: Box<CompressionError>,
    },

    /// A chunk could not be encoded (compression or encryption failed).
    #[error("cannot encode a chunk of {}: {source}", file.display())]
    Encode {
        /// The file being written.
        file: PathBuf,
        /// What the encoder said.
        #[source]
        source: Box<CompressionError>,
    },

    /// The key provider could not give the key to encrypt with.
    #[error("no key to encrypt {} with ({spec}): {source}", file.display())]
    CurrentKey {
        /// The file being written.
        file: PathBuf,
        /// The key spec asked for (`AES 128-bit`, ...).
        spec: String,
        /// What the provider said.
        #[source]
        source: Box<KeyError>,
    },

    /// The log refused a write because an earlier write or fsync failed: what was written
    /// since the last successful sync may be lost, so nothing more is acknowledged.
    #[error(
        "the log is unusable since an earlier failure ({cause}); reopen it to recover what was synced"
    )]
    Poisoned {
        /// The first failure, as text.
        cause: String,
    },

    /// The log was closed.
    #[error("the log is closed")]
    Closed,

    /// A record is larger than a segment may hold.
    #[error(
        "record of {len} bytes is larger than the {max} bytes a record may have (half a segment)"
    )]
    RecordTooLarge {
        /// The record's length.
        len: usize,
        /// The most allowed.
        max: usize,
    },

    /// The configuration cannot work.
    #[error("invalid log configuration: {reason}")]
    Config {
        /// What is wrong.
        reason: String,
    },

    /// The replay callback stopped the replay.
    #[error("replay stopped by the caller at {} offset {offset}: {source}", file.display())]
    ReplayAborted {
        /// The segment being replayed.
        file: PathBuf,
        /// Logical offset of the record the caller refused.
        offset: u64,
        /// The caller's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl CommitLogError {
    /// Wraps an OS error on `file` (for `map_err`).
    pub fn io(
        file: impl Into<PathBuf>,
        operation: &'static str,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let file = file.into();
        move |source| CommitLogError::Io {
            file,
            operation,
            source,
        }
    }

    /// A copy of this error for a second caller: the same OS error for `Io` (its code, or
    /// kind and text), `Poisoned` naming it for every other variant.
    pub(crate) fn duplicate(&self) -> Self {
        match self {
            CommitLogError::Io {
                file,
                operation,
                source,
            } => CommitLogError::Io {
                file: file.clone(),
                operation,
                source: match source.raw_os_error() {
                    Some(code) => std::io::Error::from_raw_os_error(code),
                    None => std::io::Error::new(source.kind(), source.to_string()),
                },
            },
            other => CommitLogError::Poisoned {
                cause: other.to_string(),
            },
        }
    }

    pub(crate) fn corrupt(
        file: impl Into<PathBuf>,
        offset: u64,
        reason: impl Into<String>,
    ) -> Self {
        CommitLogError::Corrupt {
            file: file.into(),
            offset,
            reason: reason.into(),
        }
    }
}
