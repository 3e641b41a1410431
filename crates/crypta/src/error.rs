//! The engine's error: its own failures, and the crates' errors wrapped.

use std::path::PathBuf;

/// What went wrong in the engine. Every variant names the table, file, key or setting involved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration is unusable.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// A statement does not parse.
    #[error("{0}")]
    Cql(#[from] crate::cql::CqlError),
    /// A schema statement cannot be applied.
    #[error(transparent)]
    Schema(#[from] crate::schema::SchemaError),
    /// The manifest cannot be read or written.
    #[error(transparent)]
    Manifest(#[from] crate::manifest::ManifestError),
    /// A key is unavailable.
    #[error(transparent)]
    Key(#[from] crypta_keys::KeyError),
    /// Compression options or a chunk.
    #[error(transparent)]
    Compression(#[from] crypta_compression::CompressionError),
    /// An SSTable.
    #[error(transparent)]
    Sstable(#[from] crypta_sstable::SstableError),
    /// The commit log.
    #[error(transparent)]
    CommitLog(#[from] crypta_commitlog::CommitLogError),
    /// The hints.
    #[error(transparent)]
    Hints(#[from] crypta_hints::HintsError),
    /// A KMIP group cannot be used.
    #[error("KMIP group {group} ({}): {reason}", if hosts.is_empty() { "no hosts configured".to_string() } else { format!("hosts {hosts}") })]
    KmipGroup {
        /// The `kmip_hosts` group.
        group: String,
        /// Its hosts, as configured.
        hosts: String,
        /// What failed.
        reason: String,
    },
    /// Another process has the data directory open.
    #[error("data directory {} is in use by another crypta process (lock file {})", dir.display(), lock.display())]
    Locked {
        /// The data directory.
        dir: PathBuf,
        /// Its lock file.
        lock: PathBuf,
    },
    /// A file operation of the engine's own failed.
    #[error("{operation} {}: {source}", path.display())]
    Io {
        /// What was being done.
        operation: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// No such table.
    #[error("table '{0}' does not exist")]
    NoTable(String),
    /// A name that selects tables selects none.
    #[error("no keyspace or table named '{0}'")]
    NoKeyspaceOrTable(String),
    /// A table name that is not `keyspace.table`.
    #[error("'{0}' is not a table name: write keyspace.table")]
    BadTableName(String),
    /// A table some of whose SSTables did not open when the engine did.
    #[error(
        "table {table} is unavailable: {files} of its SSTables could not be opened when the engine started; the first: {reason}. Restore what they need and open the engine again, or DROP TABLE {table}"
    )]
    TableUnavailable {
        /// The table.
        table: String,
        /// How many of its files did not open.
        files: usize,
        /// The first file's error (it names the file).
        reason: String,
    },
    /// A key's users cannot all be known: a live file's key ids could not be read.
    #[error("cannot tell whether key {key_id} is still needed: the key ids of {} could not be read ({reason}); pass --force to destroy it anyway", file.display())]
    KeyUsageUnknown {
        /// The key.
        key_id: crypta_keys::KeyId,
        /// The file.
        file: PathBuf,
        /// Why.
        reason: String,
    },
    /// The commit log could not be replayed when the engine opened.
    #[error(
        "{source}; nothing was changed. To open anyway, losing the records of the segments that cannot be read, set commitlog_ignore_replay_errors: true in crypta.yaml for one start"
    )]
    Replay {
        /// What stopped replay (it names the segment and the offset).
        #[source]
        source: crypta_commitlog::CommitLogError,
    },
    /// A write the engine does not take.
    #[error("cannot write to {table}: {reason}")]
    WriteRefused {
        /// The table named.
        table: String,
        /// Why.
        reason: &'static str,
    },
    /// A key or value is too large.
    #[error("{what} of {len} bytes is larger than the {max} bytes allowed")]
    TooLarge {
        /// `key` or `value`.
        what: &'static str,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A key cannot be destroyed while files still need it.
    #[error("key {key_id} is still needed by {} file(s), e.g. {}; rewrite them first (crypta upgradesstables -a) or pass --force", files.len(), files.first().map(|f| f.display().to_string()).unwrap_or_default())]
    KeyInUse {
        /// The key.
        key_id: crypta_keys::KeyId,
        /// Files that need it.
        files: Vec<PathBuf>,
    },
    /// A replayed commit log record is not a mutation record.
    #[error("commit log record at {position} is not a valid mutation record: {reason}")]
    BadRecord {
        /// Where.
        position: String,
        /// Why.
        reason: String,
    },
    /// A statement of several run together failed; those before it were applied.
    #[error(
        "statement {index} of {count} failed ({applied} before it applied, none after): {source}"
    )]
    Script {
        /// Which statement failed, from 1.
        index: usize,
        /// How many there were.
        count: usize,
        /// How many before it were applied.
        applied: usize,
        /// Its error.
        source: Box<Error>,
    },
    /// A background task failed earlier; the engine refuses further writes.
    #[error("the engine stopped accepting writes after an earlier failure: {0}")]
    Poisoned(String),
}

/// The engine's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
