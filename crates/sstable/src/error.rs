//! The error type of this crate.

use std::fmt;
use std::path::PathBuf;

use crypta_compression::CompressionError;
use crypta_keys::{KeyError, KeyId};

/// The parts of an SSTable file (`docs/format/sstable.md`), as errors name them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Component {
    /// The 16-byte file header (magic, version).
    Header,
    /// The data section: frames of the entry stream.
    Data,
    /// The index section: frames of the sampled partition index.
    Index,
    /// The filter section: frames of the bloom filter.
    Filter,
    /// The summary section: frames holding the min and max key.
    Summary,
    /// The chunk offsets of the data section (Cassandra's CompressionInfo).
    ChunkOffsets,
    /// The plaintext manifest: options, key ids, counts, section table.
    Manifest,
    /// The 32-byte footer that locates the manifest.
    Footer,
}

impl Component {
    /// The name used in errors and the format doc.
    pub fn name(self) -> &'static str {
        match self {
            Component::Header => "header",
            Component::Data => "data",
            Component::Index => "index",
            Component::Filter => "filter",
            Component::Summary => "summary",
            Component::ChunkOffsets => "chunk offsets",
            Component::Manifest => "manifest",
            Component::Footer => "footer",
        }
    }
}

impl fmt::Display for Component {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What went wrong writing, opening, reading or verifying an SSTable.
///
/// Errors about a file name it, the component and the byte offset in the file (for the data
/// stream, the offset of the frame that failed). They never contain key material, and never
/// the bytes of row keys or values: the keys of an encrypted table are secret too.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SstableError {
    /// A system call on the file failed.
    #[error("{operation} {}: {source}", file.display())]
    Io {
        /// The file.
        file: PathBuf,
        /// What was being done (`creating`, `writing`, `syncing`, `renaming`, ...).
        operation: &'static str,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },

    /// The file does not start or end with the SSTable magic: not an SSTable (the header's is
    /// checked first), or one truncated or damaged at its end (its header's magic is right).
    #[error("{}", bad_magic(file, *component, *offset))]
    BadMagic {
        /// The file.
        file: PathBuf,
        /// Header or footer.
        component: Component,
        /// Where the magic was expected.
        offset: u64,
    },

    /// A format version this build cannot read.
    #[error(
        "{} has SSTable format version {version} in its {component}; this build reads versions 1 to {supported}",
        file.display()
    )]
    UnsupportedVersion {
        /// The file.
        file: PathBuf,
        /// Where the version was read.
        component: Component,
        /// The version found.
        version: u8,
        /// The newest version this build reads (it reads every one from 1).
        supported: u8,
    },

    /// A stored checksum does not match the bytes it covers.
    #[error(
        "{}: checksum mismatch in the {component} at offset {offset}: stored {expected:08x}, computed {actual:08x}",
        file.display()
    )]
    ChecksumMismatch {
        /// The file.
        file: PathBuf,
        /// The component whose checksum failed.
        component: Component,
        /// Where the checksummed bytes start.
        offset: u64,
        /// The checksum stored in the file.
        expected: u32,
        /// The checksum of the bytes read.
        actual: u32,
    },

    /// A component is malformed: bad lengths, out-of-range values, keys out of order,
    /// counts that disagree, a truncated file.
    #[error("{}: corrupt {component} at offset {offset}: {reason}", file.display())]
    Corrupt {
        /// The file.
        file: PathBuf,
        /// The component.
        component: Component,
        /// Where the problem was found.
        offset: u64,
        /// What is wrong.
        reason: String,
    },

    /// A chunk frame could not be decoded: its checksum, cipher or compression failed.
    #[error("{}: cannot decode the {component} frame at offset {offset}: {source}", file.display())]
    Chunk {
        /// The file.
        file: PathBuf,
        /// The component the frame belongs to.
        component: Component,
        /// The frame's offset in the file.
        offset: u64,
        /// What the codec said.
        #[source]
        source: Box<CompressionError>,
    },

    /// The key a frame needs is destroyed, unknown to the provider, or unreachable.
    #[error(
        "{}: the {component} frame at offset {offset} needs key {key_id}: {source}",
        file.display()
    )]
    KeyUnavailable {
        /// The file.
        file: PathBuf,
        /// The component the frame belongs to.
        component: Component,
        /// The frame's offset in the file.
        offset: u64,
        /// The key the frame was encrypted with.
        key_id: KeyId,
        /// What the key provider said.
        #[source]
        source: Box<KeyError>,
    },

    /// The writer could not get the key to encrypt the new file with.
    #[error("{}: no key to encrypt the new SSTable with: {source}", file.display())]
    NoKey {
        /// The file being written.
        file: PathBuf,
        /// What the key provider said.
        #[source]
        source: Box<KeyError>,
    },

    /// The writer's codec refused a chunk (options and key do not fit each other).
    #[error("{}: cannot encode a chunk: {source}", file.display())]
    Encode {
        /// The file being written.
        file: PathBuf,
        /// What the codec said.
        #[source]
        source: Box<CompressionError>,
    },

    /// Entries were added out of key order, or the same key twice.
    #[error(
        "{}: entry {entry} is {} the entry before it; entries must be added in strictly increasing key order",
        file.display(),
        if *duplicate { "a duplicate of" } else { "ordered before" }
    )]
    OutOfOrder {
        /// The file being written.
        file: PathBuf,
        /// Index (from 0) of the refused entry.
        entry: u64,
        /// The key equals the previous one (rather than sorting before it).
        duplicate: bool,
    },

    /// A key or value larger than the format allows.
    #[error("{}: {what} of {len} bytes is larger than the {max} bytes an SSTable entry allows", file.display())]
    TooLarge {
        /// The file being written.
        file: PathBuf,
        /// `key` or `value`.
        what: &'static str,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },

    /// The target of a new SSTable already exists.
    #[error("{} already exists: SSTables are never overwritten", file.display())]
    AlreadyExists {
        /// The file.
        file: PathBuf,
    },

    /// An earlier write failed; the writer refuses to go on (its file would be incomplete).
    #[error("{}: an earlier write failed; this writer is unusable, start a new table", file.display())]
    Poisoned {
        /// The file being written.
        file: PathBuf,
    },
}

/// The crate's result type.
pub type Result<T, E = SstableError> = std::result::Result<T, E>;

fn bad_magic(file: &std::path::Path, component: Component, offset: u64) -> String {
    match component {
        Component::Footer => format!(
            "{} is a crypta SSTable truncated or damaged at its end: no footer magic at offset \
             {offset} (its header is intact; restore the file, or drop or rewrite its table)",
            file.display()
        ),
        _ => format!(
            "{} is not a crypta SSTable: bad magic in the {component} at offset {offset}",
            file.display()
        ),
    }
}
