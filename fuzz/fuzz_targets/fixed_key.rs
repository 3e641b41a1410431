//! A key provider with one fixed AES-128 key (`fuzz-key`, 16 bytes of 0x42), so that the
//! encrypted seeds decrypt and the fuzzer reaches the record parsers behind the cipher.
//! Shared by the log and SSTable targets (and `examples/log_seeds.rs`) through `#[path]`;
//! [`Shared`] is the owned provider a table or a log holds.

use std::sync::{Arc, OnceLock};

use crypta_keys::{
    Algorithm, Key, KeyError, KeyId, KeyInfo, KeyMaterial, KeyProvider, KeySpec, KeyState,
    Timestamp,
};

#[derive(Debug)]
pub struct FixedKey(Option<Arc<Key>>);

impl FixedKey {
    fn new() -> Self {
        let info = KeyId::new("fuzz-key").ok().map(|id| KeyInfo {
            id,
            name: None,
            algorithm: Algorithm::Aes,
            strength: 128,
            state: KeyState::Active,
            namespace: None,
            created: Timestamp(0),
            activated: Some(Timestamp(0)),
            protect_stop: None,
            deactivated: None,
        });
        FixedKey(info.and_then(|i| Key::new(i, KeyMaterial::new(vec![0x42; 16])).ok().map(Arc::new)))
    }

    fn unavailable(&self, id: Option<&KeyId>) -> KeyError {
        KeyError::Unavailable {
            key_id: id.cloned(),
            provider: self.describe(),
            reason: "only fuzz-key is known".into(),
        }
    }
}

impl KeyProvider for FixedKey {
    fn describe(&self) -> String {
        "the fixed fuzz key".into()
    }

    fn current_key(&self, _spec: &KeySpec) -> Result<Arc<Key>, KeyError> {
        self.0.clone().ok_or_else(|| self.unavailable(None))
    }

    fn key_by_id(&self, id: &KeyId) -> Result<Arc<Key>, KeyError> {
        match &self.0 {
            Some(k) if k.id() == id => Ok(k.clone()),
            _ => Err(self.unavailable(Some(id))),
        }
    }
}

/// The shared provider.
pub fn keys() -> &'static FixedKey {
    static KEYS: OnceLock<FixedKey> = OnceLock::new();
    KEYS.get_or_init(FixedKey::new)
}

/// The shared provider as an owned one (what a table or a log holds: `Arc<dyn KeyProvider>`).
#[derive(Debug)]
#[allow(dead_code, reason = "used by some of the files that include this one")]
pub struct Shared;

impl KeyProvider for Shared {
    fn describe(&self) -> String {
        keys().describe()
    }
    fn current_key(&self, spec: &KeySpec) -> Result<Arc<Key>, KeyError> {
        keys().current_key(spec)
    }
    fn key_by_id(&self, id: &KeyId) -> Result<Arc<Key>, KeyError> {
        keys().key_by_id(id)
    }
}
