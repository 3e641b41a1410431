//! The file header every log file starts with (`docs/format/commitlog.md`, "File header").
#![deny(clippy::indexing_slicing)]

use std::path::Path;

use crypta_keys::Timestamp;
use crypta_keys::wire::{Reader, WriteLe};

use crate::CommitLogError;

/// The format version this build writes and reads.
pub const FORMAT_VERSION: u8 = 1;

/// The longest kind-specific header field (`extra`).
pub const MAX_HEADER_EXTRA: usize = 64;

/// The largest chunk length a header may declare (the options' maximum, 1 MiB).
pub const MAX_CHUNK_LENGTH: u32 = 1024 * 1024;

/// The kinds of log file, told apart by their magic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LogKind {
    /// A commit log segment.
    CommitLog,
    /// A hints file.
    Hints,
}

impl LogKind {
    /// The 8-byte magic the file starts with.
    pub fn magic(self) -> [u8; 8] {
        match self {
            LogKind::CommitLog => *b"CRYPTACL",
            LogKind::Hints => *b"CRYPTAHT",
        }
    }

    /// The kind's name in errors.
    pub fn name(self) -> &'static str {
        match self {
            LogKind::CommitLog => "commit log segment",
            LogKind::Hints => "hints",
        }
    }
}

/// What a log file's header says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileHeader {
    /// Which kind of log.
    pub kind: LogKind,
    /// The file's id: the segment id, or the hints file's sequence number.
    pub id: u64,
    /// When the file was created.
    pub created: Timestamp,
    /// The most plaintext bytes a chunk of this file holds.
    pub chunk_length: u32,
    /// Kind-specific bytes (a hints file's 16-byte host id), at most [`MAX_HEADER_EXTRA`].
    pub extra: Vec<u8>,
}

/// Length of the header before `extra`.
const FIXED: usize = 33;

impl FileHeader {
    /// The encoded header's length.
    pub fn encoded_len(&self) -> usize {
        FIXED + self.extra.len() + 4
    }

    /// Appends the encoded header to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&self.kind.magic());
        out.put_u8(FORMAT_VERSION);
        out.extend_from_slice(&[0; 3]);
        out.put_u64(self.id);
        out.put_u64(self.created.millis());
        out.put_u32(self.chunk_length);
        let extra = self
            .extra
            .get(..MAX_HEADER_EXTRA.min(self.extra.len()))
            .unwrap_or_default();
        out.put_bytes_u8(extra).unwrap_or_default();
        let crc = crc32fast::hash(out.get(start..).unwrap_or_default());
        out.put_u32(crc);
    }
}

/// A header that was only partly written (a crash while the file was being created).
#[derive(Debug)]
pub(crate) struct TornHeader;

/// Decodes the header at the start of `buf`. `Ok(Err(TornHeader))` when `buf` is shorter than
/// a header or all zeros: the file was being created when the writer died.
pub(crate) fn decode_header(
    file: &Path,
    kind: LogKind,
    buf: &[u8],
) -> Result<Result<(FileHeader, usize), TornHeader>, CommitLogError> {
    let corrupt =
        |offset: usize, reason: String| CommitLogError::corrupt(file, offset as u64, reason);
    if buf.iter().all(|b| *b == 0) {
        return Ok(Err(TornHeader));
    }
    let mut r = Reader::new(buf);
    let Ok(magic) = r.array::<8>("magic") else {
        return if kind.magic().starts_with(buf) {
            Ok(Err(TornHeader))
        } else {
            Err(CommitLogError::WrongMagic {
                file: file.to_path_buf(),
                expected: kind.name(),
            })
        };
    };
    if magic != kind.magic() {
        return Err(CommitLogError::WrongMagic {
            file: file.to_path_buf(),
            expected: kind.name(),
        });
    }
    let parsed = (|| {
        let version = r.u8("version")?;
        let reserved = r.array::<3>("reserved")?;
        let id = r.u64("file id")?;
        let created = r.u64("creation time")?;
        let chunk_length = r.u32("chunk length")?;
        let extra = r.bytes_u8("header extra")?;
        let body_len = r.position();
        let crc = r.u32("header checksum")?;
        Ok::<_, crypta_keys::wire::WireError>((
            version,
            reserved,
            id,
            created,
            chunk_length,
            extra,
            body_len,
            crc,
        ))
    })();
    let (version, reserved, id, created, chunk_length, extra, body_len, crc) = match parsed {
        Ok(p) => p,
        Err(_) => return Ok(Err(TornHeader)),
    };
    if version != FORMAT_VERSION {
        return Err(CommitLogError::UnsupportedVersion {
            file: file.to_path_buf(),
            version,
        });
    }
    let computed = crc32fast::hash(buf.get(..body_len).unwrap_or_default());
    if computed != crc {
        return Err(corrupt(
            0,
            format!("header checksum mismatch: stored {crc:08x}, computed {computed:08x}"),
        ));
    }
    if reserved != [0; 3] {
        return Err(corrupt(9, "reserved header bytes are not zero".into()));
    }
    if chunk_length == 0 || chunk_length > MAX_CHUNK_LENGTH {
        return Err(corrupt(
            28,
            format!("chunk length {chunk_length} is out of range"),
        ));
    }
    if extra.len() > MAX_HEADER_EXTRA {
        return Err(corrupt(
            32,
            format!(
                "{} bytes of header extra, at most {MAX_HEADER_EXTRA}",
                extra.len()
            ),
        ));
    }
    Ok(Ok((
        FileHeader {
            kind,
            id,
            created: Timestamp(created),
            chunk_length,
            extra: extra.to_vec(),
        },
        body_len + 4,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_detects_damage() {
        let h = FileHeader {
            kind: LogKind::Hints,
            id: 42,
            created: Timestamp(1_700_000_000_000),
            chunk_length: 65536,
            extra: vec![7; 16],
        };
        let mut buf = Vec::new();
        h.encode(&mut buf);
        assert_eq!(buf.len(), h.encoded_len());
        let p = Path::new("f");
        let (back, len) = decode_header(p, LogKind::Hints, &buf).unwrap().unwrap();
        assert_eq!((back, len), (h, buf.len()));
        for cut in 0..buf.len() {
            assert!(
                decode_header(p, LogKind::Hints, &buf[..cut])
                    .unwrap()
                    .is_err(),
                "a header cut at {cut} is torn"
            );
        }
        assert!(matches!(
            decode_header(p, LogKind::CommitLog, &buf),
            Err(CommitLogError::WrongMagic { .. })
        ));
        let mut bad = buf.clone();
        bad[20] ^= 1;
        assert!(matches!(
            decode_header(p, LogKind::Hints, &bad),
            Err(CommitLogError::Corrupt { offset: 0, .. })
        ));
        let mut v2 = buf.clone();
        v2[8] = 2;
        assert!(matches!(
            decode_header(p, LogKind::Hints, &v2),
            Err(CommitLogError::UnsupportedVersion { version: 2, .. })
        ));
    }
}
