//! Crash recovery of one file: the newest file of a log, if its writer died, is cut after
//! its last whole block and sealed, so that every file but the one being written is
//! complete.

use std::path::Path;
use std::sync::Arc;

use crate::{
    CommitLogError, DecodedFile, FileEnd, LogCodec, LogKind, LogStorage, LogWriter, SealInfo,
    TailPolicy, Trailer, decode_file,
};

/// What recovery did to a file.
#[derive(Debug)]
pub enum Recovery {
    /// It was sealed already: nothing to do.
    Sealed(Trailer),
    /// It was unsealed (its writer died); its torn tail, if any, was cut off and it was
    /// sealed with the recovery flag. The trailer is what it now ends with.
    Resealed(Trailer),
    /// It was torn while its header was written: it held nothing and was deleted.
    Deleted,
}

/// Recovers the log file `path` (the newest of its log): reads it with its torn tail
/// tolerated, then seals it if unsealed. `check` inspects the decoded file first (ids,
/// kind-specific header); `record_time` gives a record's time for the trailer's range.
pub fn recover_file(
    path: &Path,
    kind: LogKind,
    storage: &dyn LogStorage,
    codec: &Arc<LogCodec>,
    check: &dyn Fn(&DecodedFile) -> Result<(), CommitLogError>,
    record_time: &dyn Fn(&[u8]) -> Option<u64>,
) -> Result<Recovery, CommitLogError> {
    let bytes = std::fs::read(path).map_err(CommitLogError::io(path, "reading"))?;
    let decoded = decode_file(
        path,
        kind,
        &bytes,
        codec.key_provider(),
        TailPolicy::MayBeTorn,
    )?;
    check(&decoded)?;
    if let FileEnd::Sealed(t) = decoded.end {
        return Ok(Recovery::Sealed(t));
    }
    if let Some(t) = decoded.torn() {
        log::warn!(
            "{} {} has a torn tail at offset {}: {}; {} bytes after it are dropped",
            kind.name(),
            path.display(),
            t.offset,
            t.reason,
            bytes.len() as u64 - decoded.valid_len
        );
    }
    if decoded.header.is_none() {
        log::warn!(
            "{} {} was being created when its writer died; deleting it",
            kind.name(),
            path.display()
        );
        std::fs::remove_file(path).map_err(CommitLogError::io(path, "deleting"))?;
        let dir = path.parent().unwrap_or(Path::new("."));
        storage
            .sync_dir(dir)
            .map_err(CommitLogError::io(dir, "syncing the directory"))?;
        return Ok(Recovery::Deleted);
    }
    let records = decoded.records().len() as u64;
    let time_range = decoded
        .records()
        .filter_map(|r| record_time(r.data))
        .fold(None, |acc: Option<(u64, u64)>, t| {
            Some(acc.map_or((t, t), |(lo, hi)| (lo.min(t), hi.max(t))))
        });
    let trailer = Trailer {
        logical_len: decoded.records_end,
        records,
        time_range,
        recovered: true,
        key_ids: decoded.key_ids.clone(),
    };
    LogWriter::reopen_for_seal(storage, &decoded, codec.clone())?.seal(SealInfo {
        records,
        time_range,
    })?;
    log::info!(
        "recovered {} {} ({records} records) and sealed it",
        kind.name(),
        path.display()
    );
    Ok(Recovery::Resealed(trailer))
}
