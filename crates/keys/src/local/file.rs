//! The local key file format (`docs/format/keyfile.md`) and its atomic replacement.
#![deny(clippy::indexing_slicing)]

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::wire::{Reader, WireError, WriteLe};
use crate::{Algorithm, KeyError, KeyId, KeyInfo, KeyMaterial, KeyState, Timestamp};

/// First bytes of every key file.
pub(crate) const MAGIC: &[u8; 8] = b"CRYPTAKF";
/// The format version written.
pub(crate) const VERSION: u8 = 1;

/// One key as stored: its description and, unless destroyed, its material.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    pub(crate) info: KeyInfo,
    pub(crate) material: Option<KeyMaterial>,
}

const HAS_NAME: u8 = 1;
const HAS_NAMESPACE: u8 = 2;
const HAS_ACTIVATED: u8 = 4;
const HAS_PROTECT_STOP: u8 = 8;
const HAS_DEACTIVATED: u8 = 16;

fn state_code(s: KeyState) -> u8 {
    match s {
        KeyState::PreActive => 1,
        KeyState::Active => 2,
        KeyState::Deactivated => 3,
        KeyState::Compromised => 4,
        KeyState::Destroyed => 5,
    }
}

fn state_from_code(c: u8) -> Option<KeyState> {
    Some(match c {
        1 => KeyState::PreActive,
        2 => KeyState::Active,
        3 => KeyState::Deactivated,
        4 => KeyState::Compromised,
        5 => KeyState::Destroyed,
        _ => return None,
    })
}

/// Serializes `entries` (header, entries, CRC32 of all that precedes it).
pub(crate) fn encode(entries: &[Entry]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(64 + entries.len() * 128);
    out.extend_from_slice(MAGIC);
    out.put_u8(VERSION);
    out.put_u8(0); // flags
    out.put_u16(0); // reserved
    out.put_u32(u32::try_from(entries.len()).map_err(|_| "too many keys")?);
    for e in entries {
        let i = &e.info;
        let mut flags = 0u8;
        for (present, bit) in [
            (i.name.is_some(), HAS_NAME),
            (i.namespace.is_some(), HAS_NAMESPACE),
            (i.activated.is_some(), HAS_ACTIVATED),
            (i.protect_stop.is_some(), HAS_PROTECT_STOP),
            (i.deactivated.is_some(), HAS_DEACTIVATED),
        ] {
            if present {
                flags |= bit;
            }
        }
        out.put_bytes_u8(i.id.as_str().as_bytes())
            .ok_or("key id too long")?;
        out.put_u8(flags);
        out.put_u8(i.algorithm.code());
        out.put_u16(u16::try_from(i.strength).map_err(|_| "strength out of range")?);
        out.put_u8(state_code(i.state));
        out.put_u64(i.created.0);
        if let Some(n) = &i.name {
            out.put_bytes_u16(n.as_bytes()).ok_or("key name too long")?;
        }
        if let Some(n) = &i.namespace {
            out.put_bytes_u16(n.as_bytes())
                .ok_or("namespace too long")?;
        }
        for t in [i.activated, i.protect_stop, i.deactivated]
            .into_iter()
            .flatten()
        {
            out.put_u64(t.0);
        }
        let material = e
            .material
            .as_ref()
            .map(KeyMaterial::expose)
            .unwrap_or_default();
        out.put_bytes_u16(material).ok_or("key material too long")?;
    }
    let crc = crc32fast::hash(&out);
    out.put_u32(crc);
    Ok(out)
}

/// Parses a key file's bytes, checking magic, version and checksum before anything else.
pub(crate) fn decode(bytes: &[u8]) -> Result<Vec<Entry>, String> {
    let wire = |e: WireError| e.to_string();
    if bytes.len() < MAGIC.len() || bytes.get(..MAGIC.len()) != Some(MAGIC.as_slice()) {
        return Err("not a crypta key file (bad magic)".into());
    }
    let body_len = bytes.len().checked_sub(4).ok_or("truncated")?;
    let (body, crc) = bytes.split_at(body_len);
    let stored = u32::from_le_bytes(crc.try_into().map_err(|_| "truncated")?);
    let actual = crc32fast::hash(body);
    if stored != actual {
        return Err(format!(
            "checksum mismatch (stored {stored:08x}, computed {actual:08x}): the file is damaged"
        ));
    }
    let mut r = Reader::new(body);
    r.take(MAGIC.len(), "magic").map_err(wire)?;
    let version = r.u8("version").map_err(wire)?;
    if version != VERSION {
        return Err(format!(
            "unsupported key file version {version} (this build reads version {VERSION})"
        ));
    }
    let _flags = r.u8("flags").map_err(wire)?;
    let _reserved = r.u16("reserved").map_err(wire)?;
    let count = r.u32("key count").map_err(wire)?;
    let mut entries = Vec::new();
    for n in 0..count {
        let bad = |what: &str| format!("key #{n}: {what}");
        let id = std::str::from_utf8(r.bytes_u8("key id").map_err(wire)?)
            .map_err(|_| bad("key id is not UTF-8"))?;
        let id = KeyId::new(id).map_err(|e| bad(&e.to_string()))?;
        let flags = r.u8("flags").map_err(wire)?;
        let algorithm = Algorithm::from_code(r.u8("algorithm").map_err(wire)?)
            .ok_or_else(|| bad("unknown algorithm code"))?;
        let strength = u32::from(r.u16("strength").map_err(wire)?);
        algorithm
            .check_strength(strength)
            .map_err(|e| bad(&e.to_string()))?;
        let state =
            state_from_code(r.u8("state").map_err(wire)?).ok_or_else(|| bad("unknown state"))?;
        let created = Timestamp(r.u64("created").map_err(wire)?);
        let mut text = |flag: u8, what: &'static str| -> Result<Option<String>, String> {
            if flags & flag == 0 {
                return Ok(None);
            }
            let b = r.bytes_u16(what).map_err(wire)?;
            String::from_utf8(b.to_vec())
                .map(Some)
                .map_err(|_| format!("key #{n}: {what} is not UTF-8"))
        };
        let name = text(HAS_NAME, "name")?;
        let namespace = text(HAS_NAMESPACE, "namespace")?;
        let mut time = |flag: u8, what: &'static str| -> Result<Option<Timestamp>, String> {
            if flags & flag == 0 {
                return Ok(None);
            }
            r.u64(what).map(|t| Some(Timestamp(t))).map_err(wire)
        };
        let activated = time(HAS_ACTIVATED, "activation date")?;
        let protect_stop = time(HAS_PROTECT_STOP, "protect stop date")?;
        let deactivated = time(HAS_DEACTIVATED, "deactivation date")?;
        let material = r.bytes_u16("key material").map_err(wire)?;
        let info = KeyInfo {
            id,
            name,
            algorithm,
            strength,
            state,
            namespace,
            created,
            activated,
            protect_stop,
            deactivated,
        };
        let material = match (state, material.is_empty()) {
            (KeyState::Destroyed, true) => None,
            (KeyState::Destroyed, false) => return Err(bad("destroyed key still has material")),
            (_, true) => return Err(bad("key has no material")),
            (_, false) if !algorithm.accepts_material_len(strength, material.len()) => {
                return Err(bad("key material length does not fit its algorithm"));
            }
            (_, false) => Some(KeyMaterial::from_slice(material)),
        };
        entries.push(Entry { info, material });
    }
    r.finish("key file").map_err(wire)?;
    Ok(entries)
}

/// What identifies one version of the file on disk, to notice changes by other processes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Stamp {
    ino: u64,
    len: u64,
    mtime_ns: i128,
}

/// The file's stamp, or `None` if it does not exist.
pub(crate) fn stamp(path: &Path) -> Result<Option<Stamp>, KeyError> {
    use std::os::unix::fs::MetadataExt;
    match fs::metadata(path) {
        Ok(m) => Ok(Some(Stamp {
            ino: m.ino(),
            len: m.len(),
            mtime_ns: i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
        })),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(source) => Err(KeyError::Io {
            path: path.to_path_buf(),
            operation: "checking",
            source,
        }),
    }
}

/// Reads and parses the file; `None` if it does not exist. Refuses files others can read.
pub(crate) fn load(path: &Path) -> Result<Option<(Vec<Entry>, Stamp)>, KeyError> {
    let io = |operation, source| KeyError::Io {
        path: path.to_path_buf(),
        operation,
        source,
    };
    let meta = match fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io("reading", e)),
    };
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyError::InsecurePermissions {
            path: path.to_path_buf(),
            mode,
        });
    }
    let bytes = fs::read(path).map_err(|e| io("reading", e))?;
    let entries = decode(&bytes).map_err(|reason| KeyError::KeyFileCorrupt {
        path: path.to_path_buf(),
        reason,
    })?;
    let st = stamp(path)?.ok_or_else(|| io("reading", ErrorKind::NotFound.into()))?;
    Ok(Some((entries, st)))
}

/// Replaces the file atomically: write a temporary file (mode 0600), fsync it, rename it over
/// the old one, fsync the directory. Returns the new stamp.
pub(crate) fn store(path: &Path, entries: &[Entry]) -> Result<Stamp, KeyError> {
    let io = |operation, source| KeyError::Io {
        path: path.to_path_buf(),
        operation,
        source,
    };
    let bytes = encode(entries).map_err(|reason| KeyError::KeyFileCorrupt {
        path: path.to_path_buf(),
        reason: format!("cannot be written: {reason}"),
    })?;
    let dir = parent_dir(path);
    let tmp = temp_path(path);
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| io("creating a temporary copy of", e))?;
        f.write_all(&bytes).map_err(|e| io("writing", e))?;
        f.sync_all().map_err(|e| io("syncing", e))?;
        drop(f);
        fs::rename(&tmp, path).map_err(|e| io("replacing", e))?;
        File::open(&dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| io("syncing the directory of", e))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result?;
    stamp(path)?.ok_or_else(|| io("reading back", ErrorKind::NotFound.into()))
}

/// The directory holding `path` (`.` for a bare file name).
pub(crate) fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".tmp.{}", std::process::id()));
    parent_dir(path).join(name)
}

/// The lock file that serializes updates between processes.
pub(crate) fn lock_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".lock");
    parent_dir(path).join(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str, state: KeyState, material: Option<Vec<u8>>) -> Entry {
        Entry {
            info: KeyInfo {
                id: KeyId::new(id).unwrap(),
                name: Some("n".into()),
                algorithm: Algorithm::Aes,
                strength: 128,
                state,
                namespace: Some("ks".into()),
                created: Timestamp(1),
                activated: Some(Timestamp(2)),
                protect_stop: None,
                deactivated: Some(Timestamp(3)),
            },
            material: material.map(KeyMaterial::new),
        }
    }

    #[test]
    fn round_trip() {
        let entries = vec![
            entry("a", KeyState::Active, Some(vec![1; 16])),
            entry("b", KeyState::Destroyed, None),
        ];
        let bytes = encode(&entries).unwrap();
        let back = decode(&bytes).unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!(back[0].info, entries[0].info);
        assert_eq!(back[0].material, entries[0].material);
        assert_eq!(back[1].info, entries[1].info);
        assert!(back[1].material.is_none());
    }

    #[test]
    fn every_flipped_bit_and_truncation_is_an_error() {
        let bytes = encode(&[entry("a", KeyState::Active, Some(vec![1; 16]))]).unwrap();
        for i in 0..bytes.len() {
            for bit in 0..8 {
                let mut b = bytes.clone();
                b[i] ^= 1 << bit;
                assert!(decode(&b).is_err(), "flip at {i}.{bit} accepted");
            }
        }
        for n in 0..bytes.len() {
            assert!(decode(&bytes[..n]).is_err(), "truncation to {n} accepted");
        }
    }
}
