//! The error type of this crate.

use crypta_keys::{Algorithm, KeyError, KeyId};

/// What went wrong parsing options, encoding or decoding a chunk. Never contains key material.
///
/// Decoding errors say what is wrong with the frame; the crate that read the frame from a file
/// wraps them with the file and offset.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CompressionError {
    /// A compression option has a value crypta cannot use.
    #[error("invalid value {value:?} for compression option '{option}': {reason}")]
    InvalidOption {
        /// The option's name.
        option: String,
        /// The value given.
        value: String,
        /// Why it is refused and what is valid.
        reason: String,
    },

    /// A compression option crypta does not know.
    #[error(
        "unknown compression option '{option}'{} (known: {known})",
        did_you_mean(option, known)
    )]
    UnknownOption {
        /// The option's name.
        option: String,
        /// The options that are known.
        known: &'static str,
    },

    /// A required option is missing.
    #[error("compression option '{option}' is required {when}")]
    MissingOption {
        /// The option's name.
        option: &'static str,
        /// When it is required.
        when: &'static str,
    },

    /// The frame's checksum does not match its bytes.
    #[error("chunk checksum mismatch in {region}: stored {stored:08x}, computed {computed:08x}")]
    ChecksumMismatch {
        /// What the checksum covers: the frame's header, a payload segment (with its byte
        /// range in the frame) or, in version 1 frames, the whole frame.
        region: String,
        /// The CRC32 stored in the frame.
        stored: u32,
        /// The CRC32 of the bytes read.
        computed: u32,
    },

    /// The frame is malformed (bad lengths, unknown codes, truncated, ...).
    #[error("malformed chunk frame: {reason}")]
    Malformed {
        /// What is wrong, with the offset within the frame where known.
        reason: String,
    },

    /// A frame of a format version this build cannot read.
    #[error("unsupported chunk frame version {0} (this build reads versions 1 and 2)")]
    UnsupportedVersion(u8),

    /// A chunk declares more plaintext than the file's chunk length allows.
    #[error("chunk declares {declared} bytes of plaintext, more than the {max} its file allows")]
    ChunkTooLarge {
        /// What the frame declares.
        declared: usize,
        /// The file's chunk length.
        max: usize,
    },

    /// The key a chunk needs could not be had.
    #[error("chunk needs key {key_id}: {source}")]
    Key {
        /// The key the chunk was encrypted with.
        key_id: KeyId,
        /// Why it is unavailable.
        #[source]
        source: KeyError,
    },

    /// Encryption was asked for without a key, or a key was given to a plain codec.
    #[error("{0}")]
    KeyRequired(&'static str),

    /// The key is for another cipher than the chunk's.
    #[error("key {key_id} is a {key} key but the chunk was encrypted with {chunk}")]
    KeyMismatch {
        /// The key.
        key_id: KeyId,
        /// The key's algorithm.
        key: Algorithm,
        /// The chunk's algorithm.
        chunk: Algorithm,
    },

    /// Decryption produced garbage (bad padding): the wrong key, or corruption the checksum
    /// could not see.
    #[error("cannot decrypt chunk with key {key_id}: {reason} (wrong key or corrupt data)")]
    DecryptFailed {
        /// The key used.
        key_id: KeyId,
        /// What failed.
        reason: &'static str,
    },

    /// The GCM tag did not verify: the data was altered or the key is wrong.
    #[error("chunk failed authentication with key {key_id}: altered data or wrong key")]
    AuthenticationFailed {
        /// The key used.
        key_id: KeyId,
    },

    /// The compressed payload is not valid or does not inflate to the declared length.
    #[error("cannot decompress chunk: {reason}")]
    Decompress {
        /// What failed.
        reason: String,
    },

    /// Compression failed.
    #[error("cannot compress chunk: {reason}")]
    Compress {
        /// What failed.
        reason: String,
    },

    /// The operating system's random number generator failed.
    #[error("the OS random number generator failed: {0}")]
    Rng(String),
}

/// `; did you mean 'X'?` for the known name (of a comma-separated list) closest to `given`
/// when it is at most 2 edits away, else nothing.
fn did_you_mean(given: &str, known: &str) -> String {
    closest_name(
        given,
        known
            .split(',')
            .flat_map(|k| k.split(" (or "))
            .map(|k| k.trim().trim_end_matches(')')),
    )
    .map(|k| format!("; did you mean '{k}'?"))
    .unwrap_or_default()
}

/// The name of `known` closest to `given` (ignoring ASCII case) when it is at most 2 edits
/// away: what a misspelt option or configuration key most likely meant.
pub fn closest_name<'a>(given: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let given = given.to_ascii_lowercase();
    known
        .into_iter()
        .map(|k| (edit_distance(&given, k), k))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, k)| k)
}

/// Levenshtein distance between two short ASCII names.
fn edit_distance(a: &str, b: &str) -> usize {
    let b = b.as_bytes();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.bytes().enumerate() {
        let mut diag = row.first().copied().unwrap_or_default();
        if let Some(first) = row.first_mut() {
            *first = i + 1;
        }
        for (j, cb) in b.iter().enumerate() {
            let above = row.get(j + 1).copied().unwrap_or_default();
            let left = row.get(j).copied().unwrap_or_default();
            let value = (diag + usize::from(ca != *cb)).min(above + 1).min(left + 1);
            diag = above;
            if let Some(cell) = row.get_mut(j + 1) {
                *cell = value;
            }
        }
    }
    row.last().copied().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::CompressionError;

    #[test]
    fn unknown_options_suggest_the_closest_known_one() {
        let e = |option: &str| {
            CompressionError::UnknownOption {
                option: option.into(),
                known: "class, cipher_algorithm, secret_key_file (or system_key_file), chunk_length_kb",
            }
            .to_string()
        };
        assert!(
            e("cipher_algoritm").contains("; did you mean 'cipher_algorithm'?"),
            "{}",
            e("cipher_algoritm")
        );
        assert!(e("Chunk_Length_KB").contains("did you mean 'chunk_length_kb'"));
        assert!(e("system_keyfile").contains("did you mean 'system_key_file'?"));
        assert!(!e("colour").contains("did you mean"), "{}", e("colour"));
    }
}
