//! The delivery cursor of a host: where its first undelivered hint is. Replaced atomically
//! (write a temporary file, fsync, rename, fsync the directory).
#![deny(clippy::indexing_slicing)]

use std::io::Write;
use std::path::Path;

use crypta_commitlog::{CommitLogError, LogStorage};
use crypta_keys::wire::{Reader, WriteLe};

use crate::{HintsError, HostId};

const MAGIC: [u8; 8] = *b"CRYPTAHC";
const VERSION: u8 = 1;
const LEN: usize = 53;

/// Every hint of the host's files with a lower id than `file`, and of `file` before stream
/// offset `offset`, was delivered (or dropped as expired).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Cursor {
    pub file: u64,
    pub offset: u64,
    /// Hints of `file` before `offset` (for pending counts).
    pub done_in_file: u64,
}

impl Cursor {
    fn encode(&self, host: HostId) -> Vec<u8> {
        let mut v = Vec::with_capacity(LEN);
        v.extend_from_slice(&MAGIC);
        v.put_u8(VERSION);
        v.extend_from_slice(&host.0);
        v.put_u64(self.file);
        v.put_u64(self.offset);
        v.put_u64(self.done_in_file);
        let crc = crc32fast::hash(&v);
        v.put_u32(crc);
        v
    }

    /// Decodes a cursor file's bytes for `host`.
    pub(crate) fn decode(path: &Path, host: HostId, bytes: &[u8]) -> Result<Cursor, HintsError> {
        let bad = |reason: String| HintsError::CorruptCursor {
            file: path.to_path_buf(),
            reason,
        };
        let mut r = Reader::new(bytes);
        let parsed = (|| {
            let magic = r.array::<8>("magic")?;
            let version = r.u8("version")?;
            let h = r.array::<16>("host id")?;
            let file = r.u64("file id")?;
            let offset = r.u64("offset")?;
            let done = r.u64("delivered count")?;
            let crc = r.u32("checksum")?;
            r.clone().finish("cursor")?;
            Ok::<_, crypta_keys::wire::WireError>((magic, version, h, file, offset, done, crc))
        })();
        let (magic, version, h, file, offset, done, crc) =
            parsed.map_err(|e| bad(e.to_string()))?;
        if magic != MAGIC {
            return Err(bad("not a delivery cursor (bad magic)".into()));
        }
        let computed = crc32fast::hash(bytes.get(..LEN - 4).unwrap_or_default());
        if computed != crc {
            return Err(bad(format!(
                "checksum mismatch: stored {crc:08x}, computed {computed:08x}"
            )));
        }
        if version != VERSION {
            return Err(bad(format!("format version {version}; this build reads 1")));
        }
        if HostId(h) != host {
            return Err(bad(format!("it is host {}'s cursor", HostId(h))));
        }
        Ok(Cursor {
            file,
            offset,
            done_in_file: done,
        })
    }

    /// Replaces the cursor file `path` with this cursor, durably.
    pub(crate) fn store(
        &self,
        path: &Path,
        host: HostId,
        storage: &dyn LogStorage,
    ) -> Result<(), HintsError> {
        let tmp = path.with_extension("cursor.tmp");
        let bytes = self.encode(host);
        let write = || -> std::io::Result<()> {
            use std::os::unix::fs::OpenOptionsExt;
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()
        };
        write().map_err(CommitLogError::io(&tmp, "writing"))?;
        std::fs::rename(&tmp, path).map_err(CommitLogError::io(path, "replacing"))?;
        let dir = path.parent().unwrap_or(Path::new("."));
        storage
            .sync_dir(dir)
            .map_err(CommitLogError::io(dir, "syncing the directory"))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_damage() {
        let host = HostId([3; 16]);
        let c = Cursor {
            file: 9,
            offset: 1234,
            done_in_file: 17,
        };
        let b = c.encode(host);
        assert_eq!(b.len(), LEN);
        let p = Path::new("c");
        assert_eq!(Cursor::decode(p, host, &b).unwrap(), c);
        assert!(Cursor::decode(p, HostId([4; 16]), &b).is_err());
        for cut in 0..b.len() {
            assert!(Cursor::decode(p, host, &b[..cut]).is_err());
        }
        let mut bad = b.clone();
        bad[30] ^= 1;
        assert!(Cursor::decode(p, host, &bad).is_err());
    }
}
