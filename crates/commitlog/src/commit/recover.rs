//! Crash recovery at open: the newest segment, if its writer died, is cut after its last
//! whole block and sealed, so that every segment but the active one is complete.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::{CommitLogError, LogCodec, LogKind, LogStorage, Recovery, recover_file};

/// Recovers the newest of `segments` (id, path; oldest first) if it is unsealed. A segment
/// torn while its header was being written holds nothing: it is deleted and dropped from
/// `segments`.
pub(super) fn recover_newest(
    segments: &mut Vec<(u64, PathBuf)>,
    storage: &dyn LogStorage,
    codec: &Arc<LogCodec>,
) -> Result<(), CommitLogError> {
    let Some((id, path)) = segments.last().cloned() else {
        return Ok(());
    };
    let check = |d: &crate::DecodedFile| check_id(&path, id, d.header.as_ref().map(|h| h.id));
    let recovery = recover_file(&path, LogKind::CommitLog, storage, codec, &check, &|_| None)?;
    if let Recovery::Deleted = recovery {
        segments.pop();
    }
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
