//! What a key is: its id, what it is for, its lifecycle state and dates, and its material.

use std::fmt;
use std::str::FromStr;

use crate::{Algorithm, KeyError, KeyMaterial, Timestamp};

/// The longest key id accepted, in bytes (KMIP unique identifiers are short strings).
pub const MAX_KEY_ID_LEN: usize = 255;

/// A key's id: an opaque string, as KMIP unique identifiers are.
///
/// Non-empty, at most [`MAX_KEY_ID_LEN`] bytes, printable ASCII without spaces, so that it can
/// be framed in files, printed in errors and typed on a command line. Cloning one does not
/// copy the string (readers clone the id of every chunk they read).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(std::sync::Arc<str>);

impl KeyId {
    /// Validates and wraps `id`.
    pub fn new(id: impl Into<String>) -> Result<Self, KeyError> {
        let id = id.into();
        let ok = !id.is_empty()
            && id.len() <= MAX_KEY_ID_LEN
            && id.bytes().all(|b| b.is_ascii_graphic());
        if ok {
            Ok(KeyId(id.into()))
        } else {
            Err(KeyError::InvalidKeyId {
                len: id.len(),
                reason: "a key id is 1 to 255 printable ASCII characters without spaces",
            })
        }
    }

    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({})", self.0)
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for KeyId {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        KeyId::new(s)
    }
}

/// The KMIP lifecycle states of a key.
/// Closed on purpose: these are KMIP's states (and codes in the key file format).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyState {
    /// Created but not yet usable.
    PreActive,
    /// Usable to encrypt (until its protect stop date) and to decrypt.
    Active,
    /// Revoked for a reason other than compromise: decrypts, never encrypts again.
    Deactivated,
    /// Revoked because it was compromised: decrypts, never encrypts again.
    Compromised,
    /// Material gone: nothing it protected can be read any more.
    Destroyed,
}

impl KeyState {
    /// The name the HCD docs' key table uses.
    pub fn name(self) -> &'static str {
        match self {
            KeyState::PreActive => "Pre-Active",
            KeyState::Active => "Active",
            KeyState::Deactivated => "Deactivated",
            KeyState::Compromised => "Compromised",
            KeyState::Destroyed => "Destroyed",
        }
    }

    /// Whether data protected by a key in this state can still be decrypted.
    pub fn can_decrypt(self) -> bool {
        !matches!(self, KeyState::Destroyed)
    }
}

impl fmt::Display for KeyState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for KeyState {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().replace(['-', '_', ' '], "").as_str() {
            "preactive" => Ok(KeyState::PreActive),
            "active" => Ok(KeyState::Active),
            "deactivated" => Ok(KeyState::Deactivated),
            "compromised" => Ok(KeyState::Compromised),
            "destroyed" => Ok(KeyState::Destroyed),
            _ => Err(KeyError::Corrupt {
                what: format!("unknown key state {s:?}"),
            }),
        }
    }
}

/// What a key must be: the cipher, its strength, and the namespace (the `key_keyspace` option,
/// a KMIP Object Group) it belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct KeySpec {
    /// Cipher algorithm.
    pub algorithm: Algorithm,
    /// Strength in bits, valid for `algorithm`.
    pub strength: u32,
    /// Namespace; `None` is the default namespace.
    pub namespace: Option<String>,
}

impl KeySpec {
    /// A validated spec.
    pub fn new(
        algorithm: Algorithm,
        strength: u32,
        namespace: Option<String>,
    ) -> Result<Self, KeyError> {
        algorithm.check_strength(strength)?;
        Ok(KeySpec {
            algorithm,
            strength,
            namespace: namespace.filter(|n| !n.is_empty()),
        })
    }
}

impl fmt::Display for KeySpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}-bit", self.algorithm, self.strength)?;
        if let Some(ns) = &self.namespace {
            write!(f, " in namespace {ns:?}")?;
        }
        Ok(())
    }
}

/// Everything about a key except its material: safe to print and list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyInfo {
    /// Unique id.
    pub id: KeyId,
    /// Human-readable name (the KMIP Name attribute), if any.
    pub name: Option<String>,
    /// Cipher algorithm.
    pub algorithm: Algorithm,
    /// Strength in bits.
    pub strength: u32,
    /// Lifecycle state.
    pub state: KeyState,
    /// Namespace (`key_keyspace`, KMIP Object Group).
    pub namespace: Option<String>,
    /// When the key was made.
    pub created: Timestamp,
    /// When it became active, if it did.
    pub activated: Option<Timestamp>,
    /// After this instant the key no longer encrypts new data (it still decrypts).
    pub protect_stop: Option<Timestamp>,
    /// When it was revoked or destroyed, if it was.
    pub deactivated: Option<Timestamp>,
}

impl KeyInfo {
    /// The spec this key satisfies.
    pub fn spec(&self) -> KeySpec {
        KeySpec {
            algorithm: self.algorithm,
            strength: self.strength,
            namespace: self.namespace.clone(),
        }
    }

    /// Whether the key may encrypt new data at `now`: Active, not past its protect stop date.
    pub fn may_encrypt_at(&self, now: Timestamp) -> bool {
        self.state == KeyState::Active && self.protect_stop.is_none_or(|stop| now < stop)
    }

    /// Whether it satisfies `spec` (algorithm, strength and namespace all equal).
    pub fn matches(&self, spec: &KeySpec) -> bool {
        self.algorithm == spec.algorithm
            && self.strength == spec.strength
            && self.namespace == spec.namespace
    }
}

/// A usable key: its description and its material.
#[derive(Clone, Debug)]
pub struct Key {
    /// Description; safe to print.
    pub info: KeyInfo,
    material: KeyMaterial,
}

impl Key {
    /// Pairs `info` with `material`, checking that the material fits the algorithm and strength.
    pub fn new(info: KeyInfo, material: KeyMaterial) -> Result<Self, KeyError> {
        if !info
            .algorithm
            .accepts_material_len(info.strength, material.len())
        {
            return Err(KeyError::BadMaterial {
                key_id: info.id.clone(),
                reason: format!(
                    "{} bytes of material for a {}-bit {} key",
                    material.len(),
                    info.strength,
                    info.algorithm
                ),
            });
        }
        Ok(Key { info, material })
    }

    /// The key's id.
    pub fn id(&self) -> &KeyId {
        &self.info.id
    }

    /// The secret bytes.
    pub fn material(&self) -> &KeyMaterial {
        &self.material
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(state: KeyState, stop: Option<u64>) -> KeyInfo {
        KeyInfo {
            id: KeyId::new("k1").unwrap(),
            name: None,
            algorithm: Algorithm::Aes,
            strength: 128,
            state,
            namespace: None,
            created: Timestamp(0),
            activated: Some(Timestamp(0)),
            protect_stop: stop.map(Timestamp),
            deactivated: None,
        }
    }

    #[test]
    fn key_ids_are_validated() {
        assert!(KeyId::new("1").is_ok());
        assert!(KeyId::new("").is_err());
        assert!(KeyId::new("a b").is_err());
        assert!(KeyId::new("x".repeat(256)).is_err());
        assert!(KeyId::new("é").is_err());
    }

    #[test]
    fn encrypt_eligibility() {
        assert!(info(KeyState::Active, None).may_encrypt_at(Timestamp(5)));
        assert!(info(KeyState::Active, Some(10)).may_encrypt_at(Timestamp(5)));
        assert!(!info(KeyState::Active, Some(10)).may_encrypt_at(Timestamp(10)));
        assert!(!info(KeyState::Deactivated, None).may_encrypt_at(Timestamp(5)));
        assert!(!info(KeyState::Compromised, None).may_encrypt_at(Timestamp(5)));
    }

    #[test]
    fn key_checks_material_length_and_hides_it() {
        let i = info(KeyState::Active, None);
        assert!(Key::new(i.clone(), KeyMaterial::new(vec![1; 15])).is_err());
        let k = Key::new(i, KeyMaterial::new(vec![0x5A; 16])).unwrap();
        let dbg = format!("{k:?}");
        assert!(dbg.contains("redacted"), "{dbg}");
        assert!(!dbg.contains("90"), "{dbg}"); // 0x5A = 90
    }

    #[test]
    fn state_names_round_trip() {
        for s in [
            KeyState::PreActive,
            KeyState::Active,
            KeyState::Deactivated,
            KeyState::Compromised,
            KeyState::Destroyed,
        ] {
            assert_eq!(s.name().parse::<KeyState>().unwrap(), s);
        }
    }
}
