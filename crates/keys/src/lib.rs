//! Keys for crypta: what a key is, where keys come from, and the local key file.
//!
//! - [`Key`], [`KeyInfo`], [`KeyId`], [`KeyState`], [`KeySpec`], [`Algorithm`]: a key's
//!   identity, purpose and lifecycle. [`KeyMaterial`] holds the secret bytes, zeroizes them on
//!   drop and never prints them.
//! - [`KeyProvider`]: the key to encrypt with for a spec, and any key by id to decrypt.
//!   [`KeyManager`]: the lifecycle operations (expire, revoke, destroy) of the HCD rekey
//!   procedure.
//! - [`LocalKeyProvider`]: the embedded default, a key file on local disk
//!   (`docs/format/keyfile.md`).
//! - [`KeyIdMap`]: a map by key id with a hash cheap enough for every chunk read.
//! - [`wire`]: the bounded reader every crypta decoder uses.
//!
//! This crate does no I/O beyond its key file, so that `crypta-compression` and `crypta-kmip`
//! can share it without depending on each other.
#![forbid(unsafe_code)]

mod algorithm;
mod error;
mod id_map;
mod key;
mod local;
mod material;
mod provider;
mod time;
pub mod wire;

pub use algorithm::Algorithm;
pub use error::KeyError;
pub use id_map::{KeyIdHasher, KeyIdMap};
pub use key::{Key, KeyId, KeyInfo, KeySpec, KeyState, MAX_KEY_ID_LEN};
pub use local::{DEFAULT_REFRESH, LocalKeyProvider};
pub use material::KeyMaterial;
pub use provider::{KeyManager, KeyProvider};
pub use time::Timestamp;
