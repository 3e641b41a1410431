//! Key material: bytes that are zeroized on drop and never printed.

use std::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop};

/// Secret key bytes.
///
/// `Debug` shows only the length; there is no `Display`. The bytes are overwritten with zeros
/// when the value is dropped. Clone deliberately: each clone is zeroized on its own drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop, PartialEq, Eq)]
pub struct KeyMaterial(Vec<u8>);

impl KeyMaterial {
    /// Takes ownership of `bytes`.
    pub fn new(bytes: Vec<u8>) -> Self {
        KeyMaterial(bytes)
    }

    /// Copies `bytes`.
    pub fn from_slice(bytes: &[u8]) -> Self {
        KeyMaterial(bytes.to_vec())
    }

    /// `len` bytes from the operating system's CSPRNG.
    pub fn random(len: usize) -> Result<Self, getrandom::Error> {
        let mut bytes = vec![0u8; len];
        getrandom::fill(&mut bytes)?;
        Ok(KeyMaterial(bytes))
    }

    /// The secret bytes. Callers must not copy them into anything that is logged or kept.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyMaterial({} bytes, redacted)", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_bytes() {
        let m = KeyMaterial::new(vec![0xAB; 16]);
        let s = format!("{m:?}");
        assert_eq!(s, "KeyMaterial(16 bytes, redacted)");
        assert!(!s.to_lowercase().contains("ab"));
    }

    #[test]
    fn random_is_random() {
        let a = KeyMaterial::random(32).unwrap();
        let b = KeyMaterial::random(32).unwrap();
        assert_eq!(a.len(), 32);
        assert_ne!(a.expose(), b.expose());
    }
}
