//! Replay: every whole record of every segment, in order, with its position.

use std::error::Error;
use std::path::{Path, PathBuf};

use crypta_keys::KeyProvider;

use crate::commit::list_segments;
use crate::{CommitLogError, LogKind, Position, TailPolicy, TornTail, decode_file};

/// How replay treats damage.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReplayOptions {
    /// Skip a segment that cannot be read (reporting it in [`ReplayReport::skipped`] and in
    /// an error log line) instead of stopping with its error. None of its records are
    /// replayed. Off by default: corruption stops replay.
    pub skip_corrupt_segments: bool,
}

/// A segment replay skipped.
#[derive(Debug)]
pub struct SkippedSegment {
    /// The segment file.
    pub file: PathBuf,
    /// Why (names the offset).
    pub error: CommitLogError,
}

/// What a replay found.
#[derive(Debug, Default)]
pub struct ReplayReport {
    /// Segments read (skipped ones included).
    pub segments: usize,
    /// Records handed to the caller.
    pub records: u64,
    /// The newest segment's torn tail, if a crash left one (it is dropped, with a warning).
    pub torn_tail: Option<TornTail>,
    /// Segments skipped under [`ReplayOptions::skip_corrupt_segments`].
    pub skipped: Vec<SkippedSegment>,
}

/// The caller's verdict on a replayed record.
pub type ApplyResult = Result<(), Box<dyn Error + Send + Sync>>;

/// Replays the commit log in `dir`: calls `apply` with every whole record of every segment,
/// oldest first, in append order. Reads only; changes no file.
///
/// The newest segment may end in a torn tail (its writer died mid-write): the tail is
/// dropped with a warning and reported. Any other damage (a bad checksum, a block cut short
/// in an older segment, a key that cannot be had) stops replay with an error naming the
/// segment file and offset, unless `options` says to skip that segment. An error from
/// `apply` stops replay too.
pub fn replay(
    dir: &Path,
    keys: Option<&dyn KeyProvider>,
    options: ReplayOptions,
    mut apply: impl FnMut(Position, &[u8]) -> ApplyResult,
) -> Result<ReplayReport, CommitLogError> {
    let segments = list_segments(dir)?;
    let mut report = ReplayReport::default();
    let newest = segments.last().map(|(id, _)| *id);
    for (id, path) in segments {
        report.segments += 1;
        let policy = if Some(id) == newest {
            TailPolicy::MayBeTorn
        } else {
            TailPolicy::MustBeSealed
        };
        let decoded = std::fs::read(&path)
            .map_err(CommitLogError::io(&path, "reading"))
            .and_then(|bytes| decode_file(&path, LogKind::CommitLog, &bytes, keys, policy))
            .and_then(|d| {
                crate::commit::check_segment_id(&path, id, d.header.as_ref().map(|h| h.id))?;
                Ok(d)
            });
        let decoded = match decoded {
            Ok(d) => d,
            Err(error) if options.skip_corrupt_segments => {
                log::error!("skipping commit log segment {}: {error}", path.display());
                report.skipped.push(SkippedSegment { file: path, error });
                continue;
            }
            Err(e) => return Err(e),
        };
        if let Some(t) = decoded.torn() {
            log::warn!(
                "commit log segment {} has a torn tail at offset {} ({}): dropped",
                path.display(),
                t.offset,
                t.reason
            );
            report.torn_tail = Some(t.clone());
        }
        for r in decoded.records() {
            let position = Position {
                segment: id,
                offset: r.offset,
            };
            apply(position, r.data).map_err(|source| CommitLogError::ReplayAborted {
                file: path.clone(),
                offset: r.offset,
                source,
            })?;
            report.records += 1;
        }
    }
    Ok(report)
}
