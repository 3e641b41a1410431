//! Segment files in the commit log directory: `CommitLog-1-<id>.log`.

use std::path::{Path, PathBuf};

use crypta_keys::Timestamp;

use crate::{CommitLogError, FORMAT_VERSION};

/// The file name of segment `id`.
pub(crate) fn segment_file_name(id: u64) -> String {
    format!("CommitLog-{FORMAT_VERSION}-{id}.log")
}

/// The segment id a file name names, if it is a segment's.
fn parse_name(name: &str) -> Option<u64> {
    let rest = name.strip_prefix("CommitLog-")?.strip_suffix(".log")?;
    let (version, id) = rest.split_once('-')?;
    version.parse::<u8>().ok()?;
    id.parse().ok()
}

/// The segments in `dir`, oldest (lowest id) first.
pub(crate) fn list_segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>, CommitLogError> {
    let mut v = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(CommitLogError::io(dir, "listing"))?;
    for e in entries {
        let e = e.map_err(CommitLogError::io(dir, "listing"))?;
        if let Some(id) = e.file_name().to_str().and_then(parse_name) {
            v.push((id, e.path()));
        }
    }
    v.sort();
    Ok(v)
}

/// The commit log segments in `dir`, oldest first: what a reader that does not open the log
/// (`crypta keys usage` without an engine) lists.
pub fn segment_paths(dir: &Path) -> Result<Vec<PathBuf>, CommitLogError> {
    Ok(list_segments(dir)?.into_iter().map(|(_, p)| p).collect())
}

/// The id of the first segment a log opened now writes: after every existing one, and at
/// least the time in milliseconds, so that ids keep growing across restarts even when every
/// segment was discarded (positions the engine persisted stay comparable).
pub(crate) fn first_new_id(existing: &[(u64, PathBuf)]) -> u64 {
    let after = existing.last().map_or(0, |(id, _)| id.saturating_add(1));
    after.max(Timestamp::now().millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        assert_eq!(parse_name(&segment_file_name(17)), Some(17));
        assert_eq!(parse_name("CommitLog-1-x.log"), None);
        assert_eq!(parse_name("CommitLog-1-5.log.tmp"), None);
        assert_eq!(parse_name("other"), None);
    }
}
