//! The traits every key source implements.

use std::fmt::Debug;
use std::sync::Arc;

use crate::{Key, KeyError, KeyId, KeyInfo, KeySpec, Timestamp};

/// A source of keys: the key to encrypt new data with, and any key by id to decrypt old data.
///
/// Implementations cache as they see fit, are shared between threads, and never put key
/// material in errors or logs.
pub trait KeyProvider: Send + Sync + Debug {
    /// A short description for errors and logs, e.g. `local key file /var/lib/crypta/keys`
    /// or `KMIP group kmip1 (kmip1.example.com:5696)`.
    fn describe(&self) -> String;

    /// The key to encrypt new data with for `spec`: an Active key matching the algorithm,
    /// strength and namespace whose protect stop date has not passed. Providers that can make
    /// keys make one when there is none.
    fn current_key(&self, spec: &KeySpec) -> Result<Arc<Key>, KeyError>;

    /// The key with this id, in any state that can still decrypt (Active, Deactivated,
    /// Compromised, or past its protect stop date). A destroyed key is
    /// [`KeyError::Destroyed`]; an unknown one [`KeyError::NotFound`].
    fn key_by_id(&self, id: &KeyId) -> Result<Arc<Key>, KeyError>;
}

/// The lifecycle operations of the HCD rekey procedure, on the keys a provider holds.
pub trait KeyManager: Send + Sync + Debug {
    /// Every key the provider holds (destroyed ones included, without material).
    fn list(&self) -> Result<Vec<KeyInfo>, KeyError>;

    /// Sets the protect stop date: from `at` on, the key no longer encrypts new data; it still
    /// decrypts.
    fn expire(&self, id: &KeyId, at: Timestamp) -> Result<KeyInfo, KeyError>;

    /// Revokes the key now: it stops encrypting at once (a new key is made for new data) and
    /// still decrypts. `compromised` records that it was compromised rather than retired.
    fn revoke(&self, id: &KeyId, compromised: bool) -> Result<KeyInfo, KeyError>;

    /// Destroys the key's material. Data encrypted with it can no longer be read, and says so.
    /// Active keys must be revoked first.
    fn destroy(&self, id: &KeyId) -> Result<KeyInfo, KeyError>;
}
