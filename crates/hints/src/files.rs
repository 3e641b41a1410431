//! Files in the hints directory: `<host uuid>-<file id>-1.hints` and `<host uuid>.cursor`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crypta_commitlog::{CommitLogError, FORMAT_VERSION};

use crate::{HintsError, HostId};

/// The name of a host's hints file `id`.
pub(crate) fn hints_file_name(host: HostId, id: u64) -> String {
    format!("{host}-{id}-{FORMAT_VERSION}.hints")
}

/// The name of a host's delivery cursor.
pub(crate) fn cursor_file_name(host: HostId) -> String {
    format!("{host}.cursor")
}

fn parse_hints_name(name: &str) -> Option<(HostId, u64)> {
    let stem = name.strip_suffix(".hints")?;
    let (rest, version) = stem.rsplit_once('-')?;
    version.parse::<u8>().ok()?;
    let (host, id) = rest.rsplit_once('-')?;
    Some((host.parse().ok()?, id.parse().ok()?))
}

fn parse_cursor_name(name: &str) -> Option<HostId> {
    name.strip_suffix(".cursor")?.parse().ok()
}

/// What the directory holds for each host.
#[derive(Debug, Default)]
pub(crate) struct HostFiles {
    /// Hints files by id.
    pub hints: BTreeMap<u64, PathBuf>,
    /// Whether a cursor file exists.
    pub cursor: bool,
}

/// Lists the hints and cursor files in `dir`, by host.
pub(crate) fn list(dir: &Path) -> Result<BTreeMap<HostId, HostFiles>, HintsError> {
    let mut out: BTreeMap<HostId, HostFiles> = BTreeMap::new();
    for e in std::fs::read_dir(dir).map_err(CommitLogError::io(dir, "listing"))? {
        let e = e.map_err(CommitLogError::io(dir, "listing"))?;
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some((host, id)) = parse_hints_name(name) {
            out.entry(host).or_default().hints.insert(id, e.path());
        } else if let Some(host) = parse_cursor_name(name) {
            out.entry(host).or_default().cursor = true;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        let h: HostId = "123e4567-e89b-12d3-a456-426614174000".parse().unwrap();
        assert_eq!(parse_hints_name(&hints_file_name(h, 42)), Some((h, 42)));
        assert_eq!(parse_cursor_name(&cursor_file_name(h)), Some(h));
        assert_eq!(parse_hints_name("x-1-1.hints"), None);
        assert_eq!(parse_hints_name(&(hints_file_name(h, 42) + ".tmp")), None);
    }
}
