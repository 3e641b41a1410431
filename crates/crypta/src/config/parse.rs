//! Walking the YAML mapping of `crypta.yaml`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crypta_compression::{CodecClass, CompressionOptions};
use crypta_kmip::KmipGroupConfig;
use serde_yaml::{Mapping, Value};

use super::{Config, ConfigError, SyncMode, SystemInfoEncryption};

/// A scalar as text: strings as they are, numbers and booleans printed.
fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

struct Ctx<'a> {
    path: &'a Path,
    base: &'a Path,
}

impl Ctx<'_> {
    fn invalid(&self, key: &str, reason: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            path: self.path.to_path_buf(),
            key: key.to_string(),
            reason: reason.into(),
        }
    }

    fn text(&self, key: &str, v: &Value) -> Result<String, ConfigError> {
        scalar(v).ok_or_else(|| self.invalid(key, "expected a single value"))
    }

    fn dir(&self, key: &str, v: &Value) -> Result<PathBuf, ConfigError> {
        let s = match v {
            Value::Sequence(items) => match items.as_slice() {
                [one] => self.text(key, one)?,
                _ => return Err(self.invalid(key, "crypta uses exactly one data directory")),
            },
            other => self.text(key, other)?,
        };
        if s.is_empty() {
            return Err(self.invalid(key, "expected a directory"));
        }
        Ok(self.base.join(s))
    }

    fn number(&self, key: &str, v: &Value, min: u64, max: u64) -> Result<u64, ConfigError> {
        let s = self.text(key, v)?;
        match s.parse::<u64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(n),
            _ => Err(self.invalid(
                key,
                format!("expected a whole number from {min} to {max}, got {s:?}"),
            )),
        }
    }

    /// `true` or `false`, or YAML 1.1's `yes`/`no`/`on`/`off`, which cassandra.yaml's reader
    /// (SnakeYAML) also takes as booleans.
    fn boolean(&self, key: &str, v: &Value) -> Result<bool, ConfigError> {
        match self.text(key, v)?.to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" => Ok(true),
            "false" | "no" | "off" => Ok(false),
            other => Err(self.invalid(key, format!("expected true or false, got {other:?}"))),
        }
    }
}

/// Every top-level key `from_mapping` takes.
pub(super) const TOP_LEVEL_KEYS: [&str; 15] = [
    "data_file_directories",
    "commitlog_directory",
    "hints_directory",
    "system_key_directory",
    "commitlog_sync",
    "commitlog_sync_period_in_ms",
    "commitlog_sync_group_window_in_ms",
    "commitlog_sync_batch_window_in_ms",
    "commitlog_segment_size_in_mb",
    "memtable_size_mb",
    "file_cache_size_in_mb",
    "max_hint_window_in_ms",
    "commitlog_ignore_replay_errors",
    "system_info_encryption",
    "kmip_hosts",
];

/// Keys whose misspelling is refused rather than warned about.
const REFUSED_NEAR_MISSES: [&str; 3] = [
    "system_info_encryption",
    "kmip_hosts",
    "system_key_directory",
];

pub(super) fn from_mapping(map: &Mapping, path: &Path, base: &Path) -> Result<Config, ConfigError> {
    let cx = Ctx { path, base };
    let mut c = Config::embedded_default(base);
    c.data_directory = base.join("data");
    for (k, v) in map {
        let Some(key) = k.as_str() else {
            return Err(cx.invalid(&format!("{k:?}"), "keys must be strings"));
        };
        match key {
            "data_file_directories" => c.data_directory = cx.dir(key, v)?,
            "commitlog_directory" => c.commitlog_directory = cx.dir(key, v)?,
            "hints_directory" => c.hints_directory = cx.dir(key, v)?,
            "system_key_directory" => c.system_key_directory = cx.dir(key, v)?,
            "commitlog_sync" => {
                c.commitlog_sync = match cx.text(key, v)?.to_ascii_lowercase().as_str() {
                    "periodic" => SyncMode::Periodic,
                    "batch" => SyncMode::Batch,
                    "group" => SyncMode::Group,
                    other => {
                        return Err(cx.invalid(
                            key,
                            format!("expected periodic, batch or group, got {other:?}"),
                        ));
                    }
                }
            }
            "commitlog_sync_period_in_ms" => {
                c.commitlog_sync_period = Duration::from_millis(cx.number(key, v, 1, 3_600_000)?)
            }
            "commitlog_sync_group_window_in_ms" => {
                c.commitlog_sync_group_window = Duration::from_millis(cx.number(key, v, 1, 60_000)?)
            }
            "commitlog_sync_batch_window_in_ms" => {} // accepted and ignored, as Cassandra 4 does
            "commitlog_segment_size_in_mb" => {
                c.commitlog_segment_size_mb =
                    u32::try_from(cx.number(key, v, 1, 2048)?).unwrap_or(32)
            }
            "memtable_size_mb" => {
                c.memtable_size_mb = u32::try_from(cx.number(key, v, 1, 65_536)?).unwrap_or(64)
            }
            "file_cache_size_in_mb" => {
                c.file_cache_size_mb = u32::try_from(cx.number(key, v, 1, 1_048_576)?).unwrap_or(64)
            }
            "max_hint_window_in_ms" => {
                c.max_hint_window =
                    Duration::from_millis(cx.number(key, v, 0, u64::from(u32::MAX))?)
            }
            "commitlog_ignore_replay_errors" => {
                c.commitlog_ignore_replay_errors = cx.boolean(key, v)?
            }
            "system_info_encryption" => c.system_info_encryption = system_info(&cx, v)?,
            "kmip_hosts" => c.kmip_hosts = kmip_hosts(&cx, v)?,
            other => {
                let meant = crypta_compression::closest_name(other, TOP_LEVEL_KEYS.iter().copied());
                if let Some(meant) =
                    meant.and_then(|m| REFUSED_NEAR_MISSES.iter().find(|k| **k == m))
                {
                    return Err(ConfigError::MisspeltKey {
                        path: path.to_path_buf(),
                        key: other.to_string(),
                        meant,
                    });
                }
                c.warnings.push(format!(
                    "{}: unknown key '{other}' ignored{}",
                    path.display(),
                    meant
                        .map(|m| format!("; did you mean '{m}'?"))
                        .unwrap_or_default()
                ))
            }
        }
    }
    if let Some(e) = c.system_encryption()
        && let crypta_compression::KeyProviderChoice::Kmip { group } = &e.key_provider
        && !c.kmip_hosts.contains_key(group)
    {
        return Err(cx.invalid(
            "system_info_encryption.kmip_host",
            format!("no group '{group}' under kmip_hosts"),
        ));
    }
    for w in &c.warnings {
        log::warn!("{w}");
    }
    Ok(c)
}

fn system_info(cx: &Ctx<'_>, v: &Value) -> Result<SystemInfoEncryption, ConfigError> {
    let section = "system_info_encryption";
    let Value::Mapping(m) = v else {
        return Err(cx.invalid(
            section,
            "expected a mapping (enabled, cipher_algorithm, ...)",
        ));
    };
    let mut enabled = false;
    let mut opts: BTreeMap<String, String> = BTreeMap::new();
    opts.insert("class".into(), "Encryptor".into());
    for (k, v) in m {
        let key = k.as_str().unwrap_or_default();
        let dotted = format!("{section}.{key}");
        match key {
            "enabled" => enabled = cx.boolean(&dotted, v)?,
            "cipher_algorithm"
            | "secret_key_strength"
            | "chunk_length_kb"
            | "key_provider"
            | "kmip_host"
            | "key_keyspace" => {
                opts.insert(key.to_string(), cx.text(&dotted, v)?);
            }
            other => {
                return Err(ConfigError::UnknownKey {
                    path: cx.path.to_path_buf(),
                    key: format!("{section}.{other}"),
                    known: "enabled, cipher_algorithm, secret_key_strength, chunk_length_kb, key_provider, kmip_host, key_keyspace",
                });
            }
        }
    }
    let options = CompressionOptions::parse(&opts).map_err(|e| {
        let key = match &e {
            crypta_compression::CompressionError::InvalidOption { option, .. } => option.clone(),
            crypta_compression::CompressionError::MissingOption { option, .. } => {
                option.to_string()
            }
            _ => String::new(),
        };
        cx.invalid(&format!("{section}.{key}"), e.to_string())
    })?;
    debug_assert_eq!(options.class, CodecClass::Encryptor);
    Ok(SystemInfoEncryption { enabled, options })
}

/// A `kmip_hosts` group's scalars as its settings take them, checked before they are
/// deserialized so that an error names the setting and never shows a password: a password
/// YAML reads as a number or boolean is refused (it may not be the text written:
/// `007` reads as 7); numbers where text is expected (`hosts`, paths, types) become text;
/// `timeout` and `key_cache_millis` take a whole number, quoted or not.
fn kmip_group_scalars(cx: &Ctx<'_>, group: &str, g: &Mapping) -> Result<Mapping, ConfigError> {
    let mut out = Mapping::new();
    for (k, v) in g {
        let key = k.as_str().unwrap_or_default();
        let dotted = format!("kmip_hosts.{group}.{key}");
        let v = match (key, v) {
            ("keystore_password" | "truststore_password", Value::String(_) | Value::Null) => {
                v.clone()
            }
            ("keystore_password" | "truststore_password", _) => {
                return Err(cx.invalid(
                    &dotted,
                    "YAML reads this password as a number, boolean or structure, which may not \
                     be the text written; quote it ('...')",
                ));
            }
            ("timeout" | "key_cache_millis", Value::String(s)) => match s.trim().parse::<u64>() {
                Ok(n) => Value::Number(n.into()),
                Err(_) => {
                    return Err(cx.invalid(
                        &dotted,
                        format!("expected milliseconds as a whole number, got {s:?}"),
                    ));
                }
            },
            ("timeout" | "key_cache_millis", Value::Number(n)) if n.as_u64().is_some() => v.clone(),
            ("timeout" | "key_cache_millis", _) => {
                return Err(cx.invalid(&dotted, "expected milliseconds as a whole number"));
            }
            (
                "hosts" | "keystore_path" | "keystore_type" | "truststore_path" | "truststore_type"
                | "protocol",
                Value::Number(_) | Value::Bool(_),
            ) => Value::String(cx.text(&dotted, v)?),
            _ => v.clone(),
        };
        out.insert(k.clone(), v);
    }
    Ok(out)
}

fn kmip_hosts(cx: &Ctx<'_>, v: &Value) -> Result<BTreeMap<String, KmipGroupConfig>, ConfigError> {
    let Value::Mapping(m) = v else {
        if v.is_null() {
            return Ok(BTreeMap::new());
        }
        return Err(cx.invalid(
            "kmip_hosts",
            "expected a mapping of group names to their settings",
        ));
    };
    let mut out = BTreeMap::new();
    for (k, v) in m {
        let group = k.as_str().unwrap_or_default().to_string();
        let Value::Mapping(g) = v else {
            return Err(cx.invalid(
                &format!("kmip_hosts.{group}"),
                "expected hosts, keystore_path, ...",
            ));
        };
        if !g.contains_key("hosts") {
            return Err(cx.invalid(
                &format!("kmip_hosts.{group}.hosts"),
                "required: comma-separated host[:port] list",
            ));
        }
        let g = kmip_group_scalars(cx, &group, g)?;
        let mut cfg: KmipGroupConfig = serde_yaml::from_value(Value::Mapping(g))
            .map_err(|e| cx.invalid(&format!("kmip_hosts.{group}"), e.to_string()))?;
        // Relative store paths are relative to the configuration file.
        cfg.keystore_path = cx.base.join(&cfg.keystore_path);
        cfg.truststore_path = cx.base.join(&cfg.truststore_path);
        out.insert(group, cfg);
    }
    Ok(out)
}
