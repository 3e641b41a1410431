//! The log-file layer the commit log and hints share: a header with magic, version and id;
//! records (length, checksum, bytes) in a stream cut into chunks that the chunk codec
//! compresses, encrypts and checksums; each chunk in a block with its own small checksummed
//! header; a trailer that seals a finished file with its record count, time range and key
//! ids. Byte by byte in `docs/format/commitlog.md`.

mod block;
mod codec;
mod header;
mod reader;
mod record;
mod recover;
mod writer;

pub use block::Trailer;
pub use codec::LogCodec;
pub use header::{FORMAT_VERSION, FileHeader, LogKind, MAX_CHUNK_LENGTH, MAX_HEADER_EXTRA};
pub use reader::{
    DecodedFile, FileEnd, FileSummary, RecordRef, TailPolicy, TornTail, decode_file, summarize_file,
};
pub use record::{RECORD_OVERHEAD, record_header};
pub use recover::{Recovery, recover_file};
pub(crate) use writer::encode_stream;
pub use writer::{LogWriter, SealInfo};
