//! Table compression options, parsed from the map users write in CQL
//! (`WITH COMPRESSION = {'class': 'Encryptor', 'cipher_algorithm': ..., ...}`).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crypta_keys::KeySpec;

use crate::{CompressionError, Transformation};

/// The default chunk length: 64 KiB of plaintext per chunk.
pub const DEFAULT_CHUNK_LENGTH_KB: u32 = 64;

/// The codec classes, named as the table options name them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CodecClass {
    /// No compression, no encryption (`{'enabled': 'false'}`).
    Disabled,
    /// `DeflateCompressor`: deflate only.
    Deflate,
    /// `LZ4Compressor`: LZ4 only.
    Lz4,
    /// `Encryptor`: encryption only.
    Encryptor,
    /// `EncryptingDeflateCompressor`: deflate, then encrypt.
    EncryptingDeflate,
    /// `EncryptingLZ4Compressor`: LZ4, then encrypt.
    EncryptingLz4,
}

/// A compression algorithm applied before encryption.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Compressor {
    /// Raw deflate (RFC 1951), level 6 (the `java.util.zip.Deflater` default).
    Deflate,
    /// LZ4 block format.
    Lz4,
}

impl CodecClass {
    /// The class name as written in options (`None` for disabled).
    pub fn name(self) -> Option<&'static str> {
        match self {
            CodecClass::Disabled => None,
            CodecClass::Deflate => Some("DeflateCompressor"),
            CodecClass::Lz4 => Some("LZ4Compressor"),
            CodecClass::Encryptor => Some("Encryptor"),
            CodecClass::EncryptingDeflate => Some("EncryptingDeflateCompressor"),
            CodecClass::EncryptingLz4 => Some("EncryptingLZ4Compressor"),
        }
    }

    /// Whether the class encrypts.
    pub fn encrypts(self) -> bool {
        matches!(
            self,
            CodecClass::Encryptor | CodecClass::EncryptingDeflate | CodecClass::EncryptingLz4
        )
    }

    /// The compressor the class applies, if any.
    pub fn compressor(self) -> Option<Compressor> {
        match self {
            CodecClass::Deflate | CodecClass::EncryptingDeflate => Some(Compressor::Deflate),
            CodecClass::Lz4 | CodecClass::EncryptingLz4 => Some(Compressor::Lz4),
            CodecClass::Disabled | CodecClass::Encryptor => None,
        }
    }

    /// Parses a class name, short (`Encryptor`) or fully qualified
    /// (`com.datastax.bdp.cassandra.crypto.Encryptor`, `org.apache.cassandra.io.compress.LZ4Compressor`).
    pub fn parse(name: &str) -> Result<Self, CompressionError> {
        let short = name.trim().rsplit('.').next().unwrap_or_default();
        let bad = |reason: &str| CompressionError::InvalidOption {
            option: "class".into(),
            value: name.to_string(),
            reason: reason.to_string(),
        };
        match short {
            "Encryptor" => Ok(CodecClass::Encryptor),
            "EncryptingDeflateCompressor" => Ok(CodecClass::EncryptingDeflate),
            "EncryptingLZ4Compressor" => Ok(CodecClass::EncryptingLz4),
            "DeflateCompressor" => Ok(CodecClass::Deflate),
            "LZ4Compressor" => Ok(CodecClass::Lz4),
            "SnappyCompressor" | "ZstdCompressor" | "EncryptingSnappyCompressor" => Err(bad(
                "this codec is not available in crypta; use LZ4Compressor, DeflateCompressor, \
                 Encryptor, EncryptingLZ4Compressor or EncryptingDeflateCompressor",
            )),
            _ => Err(bad(
                "unknown class; valid: Encryptor, EncryptingDeflateCompressor, \
                 EncryptingLZ4Compressor, DeflateCompressor, LZ4Compressor \
                 (or {'enabled': 'false'} for none)",
            )),
        }
    }
}

/// Where an encrypting table's keys come from.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum KeyProviderChoice {
    /// The local key file (`LocalFileSystemKeyProviderFactory`, the default). DSE's and HCD's
    /// `system_key_file` (a file name in `system_key_directory`, `system_key` being the
    /// engine's default key file) or `secret_key_file` (a path; relative ones are taken from
    /// `system_key_directory` too) names the key file; none means the default one.
    Local {
        /// The key file named by `system_key_file` or `secret_key_file`, if given: a bare file
        /// name (printed back as `system_key_file`) or a path (printed as `secret_key_file`).
        secret_key_file: Option<PathBuf>,
    },
    /// A KMIP group from `kmip_hosts` (`KmipKeyProviderFactory` with `kmip_host`).
    Kmip {
        /// The `kmip_host` option: a group name under `kmip_hosts`.
        group: String,
    },
}

/// How a table (or a system resource) encrypts.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EncryptionOptions {
    /// `cipher_algorithm`.
    pub transformation: Transformation,
    /// `secret_key_strength`, in bits.
    pub strength: u32,
    /// `key_provider` and its options.
    pub key_provider: KeyProviderChoice,
    /// `key_keyspace`: the key namespace (KMIP Object Group).
    pub key_namespace: Option<String>,
}

impl EncryptionOptions {
    /// The key spec this encryption asks its provider for.
    pub fn key_spec(&self) -> KeySpec {
        KeySpec {
            algorithm: self.transformation.algorithm,
            strength: self.strength,
            namespace: self.key_namespace.clone(),
        }
    }
}

/// Parsed, validated compression options.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CompressionOptions {
    /// The codec class.
    pub class: CodecClass,
    /// Encryption settings, present exactly when the class encrypts.
    pub encryption: Option<EncryptionOptions>,
    /// Plaintext bytes per chunk, in KiB.
    pub chunk_length_kb: u32,
}

const KNOWN: &str = "class, enabled, chunk_length_kb (or chunk_length_in_kb), crc_check_chance, \
     cipher_algorithm, secret_key_strength, key_provider, kmip_host, system_key_file, \
     secret_key_file, key_keyspace";

const LOCAL_PROVIDER: &str = "LocalFileSystemKeyProviderFactory";
const KMIP_PROVIDER: &str = "KmipKeyProviderFactory";

impl Default for CompressionOptions {
    /// No compression, no encryption.
    fn default() -> Self {
        CompressionOptions {
            class: CodecClass::Disabled,
            encryption: None,
            chunk_length_kb: DEFAULT_CHUNK_LENGTH_KB,
        }
    }
}

impl CompressionOptions {
    /// Plaintext bytes per chunk.
    pub fn chunk_length(&self) -> usize {
        self.chunk_length_kb as usize * 1024
    }

    /// The key spec to ask the provider for, if the class encrypts.
    pub fn key_spec(&self) -> Option<KeySpec> {
        self.encryption.as_ref().map(EncryptionOptions::key_spec)
    }

    /// Parses the options map as written in CQL. Option names are case-sensitive, as in
    /// Cassandra; every unknown name and every bad value is an error naming the option.
    pub fn parse(map: &BTreeMap<String, String>) -> Result<Self, CompressionError> {
        for key in map.keys() {
            if !KNOWN
                .split(", ")
                .flat_map(|k| k.split(" (or "))
                .any(|k| k.trim_end_matches(')') == key)
                && key != "sstable_compression"
            {
                return Err(CompressionError::UnknownOption {
                    option: key.clone(),
                    known: KNOWN,
                });
            }
        }
        let get = |k: &str| map.get(k).map(|v| v.trim());
        let invalid = |option: &str, value: &str, reason: &str| CompressionError::InvalidOption {
            option: option.into(),
            value: value.into(),
            reason: reason.into(),
        };

        let enabled = match get("enabled") {
            None => true,
            Some(v) if v.eq_ignore_ascii_case("true") => true,
            Some(v) if v.eq_ignore_ascii_case("false") => false,
            Some(v) => return Err(invalid("enabled", v, "expected 'true' or 'false'")),
        };
        let chunk_length_kb = match (get("chunk_length_kb"), get("chunk_length_in_kb")) {
            (Some(kb), Some(in_kb)) => {
                return Err(invalid(
                    "chunk_length_in_kb",
                    in_kb,
                    &format!(
                        "chunk_length_kb is given too ({kb:?}); give chunk_length_kb or \
                         chunk_length_in_kb, not both"
                    ),
                ));
            }
            (Some(v), None) => parse_chunk_length("chunk_length_kb", v)?,
            (None, Some(v)) => parse_chunk_length("chunk_length_in_kb", v)?,
            (None, None) => DEFAULT_CHUNK_LENGTH_KB,
        };
        if let Some(v) = get("crc_check_chance") {
            let ok = v.parse::<f64>().is_ok_and(|c| (0.0..=1.0).contains(&c));
            if !ok {
                return Err(invalid(
                    "crc_check_chance",
                    v,
                    "expected a number from 0.0 to 1.0 (crypta checks every chunk's checksum whatever its value)",
                ));
            }
        }
        // As Cassandra: `'enabled': 'false'` takes no class and no encryption option. Given
        // with one it would silently leave the table in plaintext. (The chunk length and
        // crc_check_chance may stay: crypta chunks plaintext tables too.)
        if !enabled
            && let Some((k, v)) = map.iter().find(|(k, _)| {
                !matches!(
                    k.as_str(),
                    "enabled" | "chunk_length_kb" | "chunk_length_in_kb" | "crc_check_chance"
                )
            })
        {
            return Err(invalid(
                "enabled",
                "false",
                &format!(
                    "no class or encryption option may be given with it (as in Cassandra), and \
                     '{k}' is ({v:?}): remove 'enabled' to compress or encrypt, or '{k}' for \
                     neither"
                ),
            ));
        }
        // DSE's `sstable_compression` and Cassandra's `class` name the same thing: both may
        // be given only if they agree, so that neither silently overrides an encrypting one.
        if let (Some(c), Some(s)) = (get("class"), get("sstable_compression")) {
            let same = match (c.is_empty(), s.is_empty()) {
                (true, true) => true,
                (false, false) => CodecClass::parse(c)? == CodecClass::parse(s)?,
                _ => false,
            };
            if !same {
                return Err(invalid(
                    "sstable_compression",
                    s,
                    &format!(
                        "'class' is given too and names another class ({c:?}); give one of them"
                    ),
                ));
            }
        }
        let class_name = get("class").or_else(|| get("sstable_compression"));
        let class = match (enabled, class_name) {
            (false, _) => CodecClass::Disabled,
            (true, Some("")) => CodecClass::Disabled,
            (true, Some(name)) => CodecClass::parse(name)?,
            (true, None) => {
                return Err(CompressionError::MissingOption {
                    option: "class",
                    when: "unless 'enabled' is 'false'",
                });
            }
        };
        let encryption_keys = [
            "cipher_algorithm",
            "secret_key_strength",
            "key_provider",
            "kmip_host",
            "system_key_file",
            "secret_key_file",
            "key_keyspace",
        ];
        if !class.encrypts() {
            if let Some(k) = encryption_keys.iter().find(|k| map.contains_key(**k)) {
                return Err(invalid(
                    k,
                    get(k).unwrap_or_default(),
                    "only encrypting classes (Encryptor, EncryptingDeflateCompressor, EncryptingLZ4Compressor) take encryption options",
                ));
            }
            return Ok(CompressionOptions {
                class,
                encryption: None,
                chunk_length_kb,
            });
        }

        let transformation: Transformation = get("cipher_algorithm")
            .unwrap_or("AES/CBC/PKCS5Padding")
            .parse()?;
        let strength = match get("secret_key_strength") {
            None => 128,
            Some(v) => v
                .parse::<u32>()
                .map_err(|_| invalid("secret_key_strength", v, "expected a number of bits"))?,
        };
        if !transformation.algorithm.is_valid_strength(strength) {
            return Err(invalid(
                "secret_key_strength",
                &strength.to_string(),
                &format!(
                    "{} takes {}",
                    transformation.algorithm,
                    transformation.algorithm.valid_strengths()
                ),
            ));
        }
        let provider_name = get("key_provider").map(|p| p.rsplit('.').next().unwrap_or_default());
        let kmip_host = get("kmip_host").filter(|h| !h.is_empty());
        let key_provider = match provider_name {
            None | Some(LOCAL_PROVIDER) => {
                if let Some(h) = kmip_host {
                    return Err(invalid(
                        "kmip_host",
                        h,
                        "kmip_host needs 'key_provider': 'KmipKeyProviderFactory'",
                    ));
                }
                let system_key_file = get("system_key_file").filter(|f| !f.is_empty());
                let secret_key_file = get("secret_key_file").filter(|f| !f.is_empty());
                let file = match (system_key_file, secret_key_file) {
                    (Some(_), Some(f)) => {
                        return Err(invalid(
                            "secret_key_file",
                            f,
                            "give system_key_file or secret_key_file, not both",
                        ));
                    }
                    (Some(name), None) => {
                        if !is_bare_file_name(Path::new(name)) {
                            return Err(invalid(
                                "system_key_file",
                                name,
                                "expected the name of a key file in system_key_directory \
                                 (use secret_key_file for a path)",
                            ));
                        }
                        Some(PathBuf::from(name))
                    }
                    (None, f) => f.map(PathBuf::from),
                };
                KeyProviderChoice::Local {
                    secret_key_file: file,
                }
            }
            Some(KMIP_PROVIDER) => {
                for option in ["system_key_file", "secret_key_file"] {
                    if let Some(f) = get(option) {
                        return Err(invalid(
                            option,
                            f,
                            &format!(
                                "{option} applies to LocalFileSystemKeyProviderFactory, not KMIP"
                            ),
                        ));
                    }
                }
                KeyProviderChoice::Kmip {
                    group: kmip_host
                        .ok_or(CompressionError::MissingOption {
                            option: "kmip_host",
                            when: "with 'key_provider': 'KmipKeyProviderFactory'",
                        })?
                        .to_string(),
                }
            }
            Some(other) => {
                return Err(invalid(
                    "key_provider",
                    other,
                    "valid: KmipKeyProviderFactory, LocalFileSystemKeyProviderFactory \
                     (the default); ReplicatedKeyProviderFactory is not available in crypta",
                ));
            }
        };
        Ok(CompressionOptions {
            class,
            encryption: Some(EncryptionOptions {
                transformation,
                strength,
                key_provider,
                key_namespace: get("key_keyspace")
                    .filter(|k| !k.is_empty())
                    .map(String::from),
            }),
            chunk_length_kb,
        })
    }

    /// The canonical options map: what `DESC TABLE` prints and what files record. It parses
    /// back to the same options and holds no secrets.
    pub fn to_map(&self) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        let Some(class) = self.class.name() else {
            m.insert("enabled".into(), "false".into());
            return m;
        };
        m.insert("class".into(), class.into());
        m.insert("chunk_length_kb".into(), self.chunk_length_kb.to_string());
        if let Some(e) = &self.encryption {
            m.insert("cipher_algorithm".into(), e.transformation.to_string());
            m.insert("secret_key_strength".into(), e.strength.to_string());
            match &e.key_provider {
                KeyProviderChoice::Local { secret_key_file } => {
                    m.insert("key_provider".into(), LOCAL_PROVIDER.into());
                    if let Some(f) = secret_key_file {
                        let option = if is_bare_file_name(f) {
                            "system_key_file"
                        } else {
                            "secret_key_file"
                        };
                        m.insert(option.into(), f.display().to_string());
                    }
                }
                KeyProviderChoice::Kmip { group } => {
                    m.insert("key_provider".into(), KMIP_PROVIDER.into());
                    m.insert("kmip_host".into(), group.clone());
                }
            }
            if let Some(ns) = &e.key_namespace {
                m.insert("key_keyspace".into(), ns.clone());
            }
        }
        m
    }
}

impl fmt::Display for CompressionOptions {
    /// The options as a CQL map literal: `{'class': 'Encryptor', ...}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, (k, v)) in self.to_map().iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(
                f,
                "'{}': '{}'",
                k.replace('\'', "''"),
                v.replace('\'', "''")
            )?;
        }
        f.write_str("}")
    }
}

fn parse_chunk_length(option: &str, v: &str) -> Result<u32, CompressionError> {
    match v.parse::<u32>() {
        Ok(n) if (1..=1024).contains(&n) && n.is_power_of_two() => Ok(n),
        _ => Err(CompressionError::InvalidOption {
            option: option.into(),
            value: v.into(),
            reason: "expected a power of two from 1 to 1024 (KiB)".into(),
        }),
    }
}

#[cfg(test)]
mod tests;

/// Whether `p` is a plain file name (one normal component: no directory, no `..`).
fn is_bare_file_name(p: &Path) -> bool {
    let mut c = p.components();
    matches!(
        (c.next(), c.next()),
        (Some(std::path::Component::Normal(_)), None)
    )
}
