//! `crypta.yaml`: directories and sync settings under cassandra.yaml's names, and the
//! `kmip_hosts` and `system_info_encryption` sections exactly as hcd.yaml writes them.
//!
//! Unknown keys are warned about (returned in [`Config::warnings`] and logged); invalid values
//! fail with a message naming the key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crypta_compression::{CompressionOptions, EncryptionOptions};
use crypta_kmip::KmipGroupConfig;
use serde_yaml::{Mapping, Value};

/// How the commit log syncs, under cassandra.yaml's `commitlog_sync`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncMode {
    /// fsync every `commitlog_sync_period_in_ms`; writes return at once.
    Periodic,
    /// Writes return after the fsync that covers them.
    Batch,
    /// Like batch, with concurrent writers sharing one fsync per window.
    Group,
}

/// The `system_info_encryption` section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SystemInfoEncryption {
    /// `enabled`.
    pub enabled: bool,
    /// The codec for the commit log, hints, `system.batchlog` and `system.paxos` when enabled:
    /// `Encryptor` with the section's cipher, strength, key provider and chunk length.
    pub options: CompressionOptions,
}

/// The whole configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// Where SSTables and the manifest live (`data_file_directories`, the first one).
    pub data_directory: PathBuf,
    /// `commitlog_directory`.
    pub commitlog_directory: PathBuf,
    /// `hints_directory`.
    pub hints_directory: PathBuf,
    /// `system_key_directory`: where the local key file (`system_key`) lives.
    pub system_key_directory: PathBuf,
    /// `commitlog_sync`.
    pub commitlog_sync: SyncMode,
    /// `commitlog_sync_period_in_ms`.
    pub commitlog_sync_period: Duration,
    /// `commitlog_sync_group_window_in_ms`.
    pub commitlog_sync_group_window: Duration,
    /// `commitlog_segment_size_in_mb`.
    pub commitlog_segment_size_mb: u32,
    /// `memtable_size_mb`: flush a table's memtable when it reaches this.
    pub memtable_size_mb: u32,
    /// `file_cache_size_in_mb` (cassandra.yaml's name for its chunk cache): how much decoded
    /// SSTable data point reads keep in memory, shared by all tables.
    pub file_cache_size_mb: u32,
    /// `max_hint_window_in_ms`.
    pub max_hint_window: Duration,
    /// `commitlog_ignore_replay_errors` (Cassandra's `cassandra.commitlog.ignorereplayerrors`
    /// property): at open, skip a commit log segment that cannot be read, losing its
    /// records, instead of refusing to open. Off by default; each skip is logged.
    pub commitlog_ignore_replay_errors: bool,
    /// `system_info_encryption`.
    pub system_info_encryption: SystemInfoEncryption,
    /// `kmip_hosts`: group name to its settings, as hcd.yaml writes them.
    pub kmip_hosts: BTreeMap<String, KmipGroupConfig>,
    /// The file this was read from, if any (watched for live changes).
    pub source: Option<PathBuf>,
    /// Keys that were not understood, one message each.
    pub warnings: Vec<String>,
}

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid YAML, or not a mapping.
    #[error("{}: not a valid crypta.yaml: {reason}", path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        reason: String,
    },
    /// A key `crypta.yaml` does not know, in a section where a misspelling could leave
    /// encryption off (`system_info_encryption`): refused, where unknown top-level keys are
    /// only warned about.
    #[error("{}: unknown key '{key}' (known: {known}); refused, as a misspelt key here could leave encryption off", path.display())]
    UnknownKey {
        /// The file.
        path: PathBuf,
        /// The key, dotted.
        key: String,
        /// The keys the section takes.
        known: &'static str,
    },
    /// An unknown top-level key within 2 edits of `system_info_encryption`, `kmip_hosts` or
    /// `system_key_directory`: refused, where other unknown top-level keys are only warned
    /// about, since the misspelt section would leave encryption off or keys elsewhere.
    #[error("{}: unknown key '{key}'; did you mean '{meant}'? Refused, as a misspelt '{meant}' would leave its settings unused (encryption off, or keys elsewhere)", path.display())]
    MisspeltKey {
        /// The file.
        path: PathBuf,
        /// The key as written.
        key: String,
        /// The known key it is closest to.
        meant: &'static str,
    },
    /// A key has a value that cannot be used.
    #[error("{}: invalid value for '{key}': {reason}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The key, dotted for nested ones (`system_info_encryption.cipher_algorithm`).
        key: String,
        /// Why and what is valid.
        reason: String,
    },
}

impl Config {
    /// The embedded default for a directory: everything under `dir`, local key file,
    /// batch sync, no system_info_encryption.
    pub fn embedded_default(dir: &Path) -> Self {
        Config {
            data_directory: dir.join("data"),
            commitlog_directory: dir.join("commitlog"),
            hints_directory: dir.join("hints"),
            system_key_directory: dir.join("keys"),
            commitlog_sync: SyncMode::Batch,
            commitlog_sync_period: Duration::from_millis(10_000),
            commitlog_sync_group_window: Duration::from_millis(15),
            commitlog_segment_size_mb: 32,
            memtable_size_mb: 64,
            file_cache_size_mb: 64,
            max_hint_window: Duration::from_millis(10_800_000),
            commitlog_ignore_replay_errors: false,
            system_info_encryption: SystemInfoEncryption {
                enabled: false,
                options: default_system_encryption(),
            },
            kmip_hosts: BTreeMap::new(),
            source: None,
            warnings: Vec::new(),
        }
    }

    /// Reads and validates `path`. Relative directories are relative to the file's directory.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let base = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let mut c = Self::parse(&text, path, base)?;
        c.source = Some(path.to_path_buf());
        Ok(c)
    }

    /// Parses YAML `text` (from `path`, for messages), resolving relative paths against `base`.
    pub fn parse(text: &str, path: &Path, base: &Path) -> Result<Self, ConfigError> {
        let root: Value = serde_yaml::from_str(text).map_err(|e| ConfigError::Syntax {
            path: path.to_path_buf(),
            // The YAML parser places a duplicate key at its mapping's start; the lines of a
            // duplicate top-level key are found here.
            reason: duplicate_top_level_key(text).unwrap_or_else(|| e.to_string()),
        })?;
        let map = match root {
            Value::Mapping(m) => m,
            Value::Null => Mapping::new(),
            _ => {
                return Err(ConfigError::Syntax {
                    path: path.to_path_buf(),
                    reason: "the top level must be a mapping of keys to values".into(),
                });
            }
        };
        parse::from_mapping(&map, path, base)
    }

    /// The encryption settings of system resources, if enabled.
    pub fn system_encryption(&self) -> Option<&EncryptionOptions> {
        if self.system_info_encryption.enabled {
            self.system_info_encryption.options.encryption.as_ref()
        } else {
            None
        }
    }

    /// The local key file.
    pub fn local_key_file(&self) -> PathBuf {
        self.system_key_directory.join("system_key")
    }

    /// The `crypta.yaml` that `crypta init DIR` writes: the embedded default, commented.
    pub fn init_yaml(dir: &Path) -> String {
        let d = dir.display();
        format!(
            "# crypta.yaml, written by `crypta init`. Keys follow cassandra.yaml and hcd.yaml.\n\
             data_file_directories:\n    - {d}/data\n\
             commitlog_directory: {d}/commitlog\n\
             hints_directory: {d}/hints\n\
             # The local key file (the embedded default key provider) lives here, mode 0600.\n\
             system_key_directory: {d}/keys\n\
             # periodic | batch | group\n\
             commitlog_sync: batch\n\
             commitlog_sync_period_in_ms: 10000\n\
             commitlog_segment_size_in_mb: 32\n\
             memtable_size_mb: 64\n\
             # Decoded SSTable chunks kept for point reads, all tables together.\n\
             file_cache_size_in_mb: 64\n\
             max_hint_window_in_ms: 10800000\n\
             # true for one start to skip commit log segments that cannot be read (their\n\
             # records are lost; each is logged) rather than refuse to open.\n\
             commitlog_ignore_replay_errors: false\n\
             \n\
             # Encrypts the commit log, hints, system.batchlog and system.paxos (as in hcd.yaml).\n\
             system_info_encryption:\n    enabled: false\n    cipher_algorithm: AES\n    secret_key_strength: 128\n    chunk_length_kb: 64\n\
             \x20   # key_provider: KmipKeyProviderFactory\n\
             \x20   # kmip_host: kmip_group_name\n\
             \n\
             # KMIP key servers (as in hcd.yaml); see docs/kmip.md.\n\
             # kmip_hosts:\n\
             #     kmip_group_name:\n\
             #         hosts: kmip1.example.com, kmip2.example.com\n\
             #         keystore_path: /path/to/kmip_keystore.jks\n\
             #         keystore_type: jks\n\
             #         keystore_password: password\n\
             #         truststore_path: /path/to/kmip_truststore.jks\n\
             #         truststore_type: jks\n\
             #         truststore_password: password\n\
             #         key_cache_millis: 300000\n\
             #         timeout: 1000\n"
        )
    }
}

/// hcd.yaml's defaults for `system_info_encryption`: `Encryptor`, AES (CBC/PKCS5Padding),
/// 128 bits, 64 KiB chunks, the local key provider.
fn default_system_encryption() -> CompressionOptions {
    CompressionOptions {
        class: crypta_compression::CodecClass::Encryptor,
        encryption: Some(EncryptionOptions {
            transformation: crypta_compression::Transformation {
                algorithm: crypta_keys::Algorithm::Aes,
                mode: crypta_compression::Mode::Cbc,
                padding: crypta_compression::Padding::Pkcs5,
            },
            strength: 128,
            key_provider: crypta_compression::KeyProviderChoice::Local {
                secret_key_file: None,
            },
            key_namespace: None,
        }),
        chunk_length_kb: crypta_compression::DEFAULT_CHUNK_LENGTH_KB,
    }
}

mod parse;

#[cfg(test)]
mod tests;

/// `duplicate key 'K' at lines A and B` for the first top-level key set twice in `text`
/// (lines that start with `K:`), if any.
fn duplicate_top_level_key(text: &str) -> Option<String> {
    let mut seen: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let starts_key = line.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_');
        let Some((key, _)) = line.split_once(':').filter(|_| starts_key) else {
            continue;
        };
        let key = key.trim_end();
        if let Some(first) = seen.insert(key, i + 1) {
            return Some(format!(
                "duplicate key '{key}' at lines {first} and {}",
                i + 1
            ));
        }
    }
    None
}
