//! The error type of this crate.

use std::path::PathBuf;

use crate::{Algorithm, KeyId, KeySpec, KeyState};

/// What went wrong with a key, a key spec or a key file. Never contains key material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The cipher algorithm name is not one crypta knows.
    #[error("unknown cipher algorithm {0:?}: expected one of AES, DES, DESede, Blowfish, RC2")]
    UnknownAlgorithm(String),

    /// The strength is not valid for the algorithm.
    #[error("{bits} bits is not a valid strength for {algorithm}: use {}", algorithm.valid_strengths())]
    InvalidStrength {
        /// The algorithm.
        algorithm: Algorithm,
        /// The strength asked for.
        bits: u32,
    },

    /// A key id is empty, too long, or has characters that cannot be framed or printed.
    #[error("invalid key id ({len} bytes): {reason}")]
    InvalidKeyId {
        /// Its length in bytes.
        len: usize,
        /// What is wrong.
        reason: &'static str,
    },

    /// A time could not be parsed.
    #[error(
        "invalid time {0:?}: use YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS]Z (UTC), YYYY-MM-DD HH:MM:SS:T (as dsetool) or @SECONDS since the epoch"
    )]
    InvalidTime(String),

    /// No key with this id is known to the provider.
    #[error("key {key_id} not found in {provider}")]
    NotFound {
        /// The id asked for.
        key_id: KeyId,
        /// Which provider was asked, e.g. `local key file /var/lib/crypta/keys`.
        provider: String,
    },

    /// The key was destroyed: what it protected cannot be read any more.
    #[error("key {key_id} was destroyed in {provider}: data encrypted with it cannot be read")]
    Destroyed {
        /// The destroyed key.
        key_id: KeyId,
        /// Which provider destroyed it.
        provider: String,
    },

    /// The provider could not be asked (server down, file unreadable, ...).
    #[error("key {} unavailable from {provider}: {reason}", key_id.as_ref().map_or("(current)", KeyId::as_str))]
    Unavailable {
        /// The id asked for, if any.
        key_id: Option<KeyId>,
        /// The provider.
        provider: String,
        /// Why.
        reason: String,
    },

    /// No key for the spec can be found or made.
    #[error("no key for {spec} from {provider}: {reason}")]
    NoKeyFor {
        /// The spec asked for.
        spec: KeySpec,
        /// The provider.
        provider: String,
        /// Why.
        reason: String,
    },

    /// Key material of the wrong length for the key's algorithm and strength.
    #[error("key {key_id} has unusable material: {reason}")]
    BadMaterial {
        /// The key.
        key_id: KeyId,
        /// What is wrong (lengths only, never bytes).
        reason: String,
    },

    /// A lifecycle operation that the key's state does not allow.
    #[error("cannot {operation} key {key_id}: it is {state}{}", hint.map(|h| format!("; {h}")).unwrap_or_default())]
    InvalidTransition {
        /// The key.
        key_id: KeyId,
        /// The operation refused (`revoke`, `destroy`, `expire`).
        operation: &'static str,
        /// Its current state.
        state: KeyState,
        /// What to do instead, if anything.
        hint: Option<&'static str>,
    },

    /// Reading or writing the key file failed.
    #[error("{operation} key file {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What was being done (`reading`, `writing`, `locking`, ...).
        operation: &'static str,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },

    /// The key file is not a crypta key file, or is damaged.
    #[error("key file {} is unusable: {reason}", path.display())]
    KeyFileCorrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// The key file is readable by other users.
    #[error(
        "key file {} has mode {mode:o}: it must be readable by its owner only (chmod 600 it)",
        path.display()
    )]
    InsecurePermissions {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },

    /// A new key file would be made where one existed before: the file is missing but the
    /// lock file that every update of it leaves beside it is there.
    #[error(
        "key file {} does not exist, but its lock file {} does: the key file was moved or deleted after keys were made in it, and a new one would not hold them; restore it from backup (data under its keys cannot be read without it); if those keys are lost for good, delete {} and crypta will make a new key file",
        path.display(),
        lock.display(),
        lock.display()
    )]
    KeyFileMissing {
        /// The key file.
        path: PathBuf,
        /// Its lock file.
        lock: PathBuf,
    },

    /// The key file disappeared while this process knew keys from it.
    #[error(
        "key file {} disappeared while it held {keys} keys; refusing to start a new one that would lose them (restore it from backup)",
        path.display()
    )]
    KeyFileVanished {
        /// The file.
        path: PathBuf,
        /// How many keys it held.
        keys: usize,
    },

    /// The operating system's random number generator failed.
    #[error("the OS random number generator failed: {0}")]
    Rng(String),

    /// Bytes being decoded are malformed (used by other crates' headers too).
    #[error("malformed key data: {what}")]
    Corrupt {
        /// What is wrong.
        what: String,
    },
}

impl From<getrandom::Error> for KeyError {
    fn from(e: getrandom::Error) -> Self {
        KeyError::Rng(e.to_string())
    }
}
