//! Reads a hints file: the log file decoded, its header checked against the host, each
//! record split into creation time and mutation.
#![deny(clippy::indexing_slicing)]

use std::path::Path;

use crypta_commitlog::{CommitLogError, DecodedFile, LogKind, TailPolicy, decode_file};
use crypta_keys::{KeyProvider, Timestamp};

use crate::{Hint, HintsError, HostId, hint};

/// A hints file read back.
#[derive(Debug)]
pub struct HintsFile {
    /// The host its header names.
    pub host: HostId,
    /// The decoded log file (records, trailer, key ids).
    pub file: DecodedFile,
    /// (stream offset of the record, offset after it, creation time), one per record.
    hints: Vec<(u64, u64, Timestamp)>,
}

/// A hint read from a file, with where it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoredHint<'a> {
    /// Offset of its record in the file's stream.
    pub offset: u64,
    /// Offset of the next record.
    pub next: u64,
    /// The hint.
    pub hint: Hint<'a>,
}

impl HintsFile {
    /// The hints, oldest first.
    pub fn hints(&self) -> impl Iterator<Item = StoredHint<'_>> {
        self.file
            .records()
            .zip(self.hints.iter())
            .map(|(r, &(offset, next, created))| StoredHint {
                offset,
                next,
                hint: Hint {
                    host: self.host,
                    created,
                    mutation: r.data.get(8..).unwrap_or_default(),
                },
            })
    }
}

/// Decodes the bytes of hints file `path`. With `expect`, the header must name that host
/// and file id (the file name's). Errors name the file and offset.
pub fn read_hints_file(
    path: &Path,
    bytes: &[u8],
    keys: Option<&dyn KeyProvider>,
    policy: TailPolicy,
    expect: Option<(HostId, u64)>,
) -> Result<HintsFile, HintsError> {
    let file = decode_file(path, LogKind::Hints, bytes, keys, policy)?;
    let host = match &file.header {
        Some(h) => {
            let host = <[u8; 16]>::try_from(h.extra.as_slice())
                .map(HostId)
                .map_err(|_| CommitLogError::Corrupt {
                    file: path.to_path_buf(),
                    offset: 32,
                    reason: format!(
                        "a hints header holds a 16-byte host id, not {} bytes",
                        h.extra.len()
                    ),
                })?;
            if let Some((want_host, want_id)) = expect
                && (host != want_host || h.id != want_id)
            {
                return Err(CommitLogError::Corrupt {
                    file: path.to_path_buf(),
                    offset: 12,
                    reason: format!(
                        "the header names host {host} file {}, the file name host {want_host} file {want_id}",
                        h.id
                    ),
                }
                .into());
            }
            host
        }
        None => expect.map_or(HostId([0; 16]), |(h, _)| h),
    };
    let mut hints = Vec::with_capacity(file.records().len());
    for r in file.records() {
        let (created, _) = hint::decode(r.data).ok_or_else(|| HintsError::Corrupt {
            file: path.to_path_buf(),
            offset: file.file_offset_of(r.offset),
            reason: format!(
                "record at stream offset {} is too short for a hint",
                r.offset
            ),
        })?;
        let next = r.offset + (crypta_commitlog::RECORD_OVERHEAD + r.data.len()) as u64;
        hints.push((r.offset, next, created));
    }
    Ok(HintsFile { host, file, hints })
}
