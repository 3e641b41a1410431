//! Which keys a table needs, read from its plaintext manifest without decrypting anything.

use std::collections::BTreeMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

use crypta_keys::KeyId;

use crate::format::{self, FOOTER_LEN, Footer, HEADER_LEN, Manifest, crc_mismatch};
use crate::{Component, SstableError};

/// The ids of every key the table at `path` needs to be read (empty for a plaintext table),
/// from its manifest: reads the header, footer and manifest only, needs no key, decrypts
/// nothing. For `crypta keys usage`: a key no table lists may be destroyed.
pub fn key_ids(path: impl AsRef<Path>) -> Result<Vec<KeyId>, SstableError> {
    Ok(read_manifest(path.as_ref())?.key_ids)
}

/// The compression options (no secrets) the table at `path` was written with, read like
/// [`key_ids`]: they name the key provider (local key file or KMIP group) whose keys the
/// table needs, so that a reader can ask the right one before decrypting anything.
pub fn recorded_options(path: impl AsRef<Path>) -> Result<BTreeMap<String, String>, SstableError> {
    Ok(read_manifest(path.as_ref())?.options)
}

fn read_manifest(path: &Path) -> Result<Manifest, SstableError> {
    let io = |operation, source| SstableError::Io {
        file: path.to_path_buf(),
        operation,
        source,
    };
    let file = File::open(path).map_err(|e| io("opening", e))?;
    let len = file
        .metadata()
        .map_err(|e| io("reading the length of", e))?
        .len();
    let read = |offset: u64, n: u64| -> Result<Vec<u8>, SstableError> {
        let mut buf = vec![0u8; usize::try_from(n).unwrap_or(0)];
        file.read_exact_at(&mut buf, offset)
            .map_err(|e| io("reading", e))?;
        Ok(buf)
    };
    let header = read(0, HEADER_LEN.min(len))?;
    format::check_header(path, &header)?;
    if len < HEADER_LEN + FOOTER_LEN {
        return Err(SstableError::Corrupt {
            file: path.to_path_buf(),
            component: Component::Footer,
            offset: len,
            reason: format!("file of {len} bytes is truncated: it has no footer"),
        });
    }
    let footer = Footer::decode(path, len, &read(len - FOOTER_LEN, FOOTER_LEN)?)?;
    let manifest = read(footer.manifest_offset, footer.manifest_len)?;
    let actual = crc32fast::hash(&manifest);
    if crc_mismatch(footer.manifest_crc, actual) {
        return Err(SstableError::ChecksumMismatch {
            file: path.to_path_buf(),
            component: Component::Manifest,
            offset: footer.manifest_offset,
            expected: footer.manifest_crc,
            actual,
        });
    }
    Manifest::decode(path, footer.manifest_offset, &manifest)
}
