//! Crash recovery at open: the newest segment, if its writer died, is cut after its last
//! whole block and sealed, so that every segment but the active one is complete.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::{
    CommitLogError, FileEnd, LogCodec, LogKind, LogStorage, LogWriter, SealInfo, TailPolicy,
    decode_file,
};

/// Recovers the newest of `segments` (id, path; oldest first) if it is unsealed. A segment
/// torn while its header was being written holds nothing and is deleted (and dropped from
/// `segments`).
pub(super) fn recover_newest(
    dir: &Path,
    segments: &mut Vec<(u64, PathBuf)>,
    storage: &dyn LogStorage,
    codec: &Arc<LogCodec>,
) -> Result<(), CommitLogError> {
    let Some((id, path)) = segments.last().cloned() else {
        return Ok(());
    };
    let bytes = std::fs::read(&path).map_err(CommitLogError::io(&path, "reading"))?;
    let decoded = decode_file(
        &path,
        LogKind::CommitLog,
        &bytes,
        codec.key_provider(),
        TailPolicy::MayBeTorn,
    )?;
    check_id(&path, id, decoded.header.as_ref().map(|h| h.id))?;
    if let FileEnd::Sealed(_) = decoded.end {
        return Ok(());
    }
    if let Some(t) = decoded.torn() {
        log::warn!(
            "commit log segment {} has a torn tail at offset {}: {}; {} bytes after it are dropped",
            path.display(),
            t.offset,
            t.reason,
            bytes.len() as u64 - decoded.valid_len
        );
    }
    if decoded.header.is_none() {
        log::warn!(
            "commit log segment {} was being created when its writer died; deleting it",
            path.display()
        );
        std::fs::remove_file(&path).map_err(CommitLogError::io(&path, "deleting"))?;
        storage
            .sync_dir(dir)
            .map_err(CommitLogError::io(dir, "syncing the directory"))?;
        segments.pop();
        return Ok(());
    }
    let records = decoded.records().len() as u64;
    LogWriter::reopen_for_seal(storage, &decoded, codec.clone())?.seal(SealInfo {
        records,
        time_range: None,
    })?;
    log::info!(
        "recovered commit log segment {} ({records} records) and sealed it",
        path.display()
    );
    Ok(())
}

/// Checks that a segment's header names the id its file name does.
pub(crate) fn check_id(path: &Path, named: u64, header: Option<u64>) -> Result<(), CommitLogError> {
    match header {
        Some(h) if h != named => Err(CommitLogError::corrupt(
            path,
            12,
            format!("the header says segment {h}, the file name segment {named}"),
        )),
        _ => Ok(()),
    }
}
