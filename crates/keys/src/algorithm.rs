//! Cipher algorithms and the key strengths each allows.

use std::fmt;
use std::str::FromStr;

use crate::KeyError;

/// A symmetric cipher algorithm, named as JCE and the HCD/DSE options name it.
/// Closed on purpose: each algorithm has a code in every file format, so adding one is a
/// format change that must touch every match.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    /// AES (Rijndael with 128-bit blocks); strengths 128, 192, 256.
    Aes,
    /// Single DES; strength 56 (8 key bytes with parity bits).
    Des,
    /// Triple DES (EDE); strengths 112 (two-key) and 168 (three-key).
    DesEde,
    /// Blowfish; strengths 32 to 448 in steps of 8.
    Blowfish,
    /// RC2; strengths 40 to 128 in steps of 8 (the effective key bits equal the strength).
    Rc2,
}

impl Algorithm {
    /// Every algorithm, in the order used by listings and error messages.
    pub const ALL: [Algorithm; 5] = [
        Algorithm::Aes,
        Algorithm::Des,
        Algorithm::DesEde,
        Algorithm::Blowfish,
        Algorithm::Rc2,
    ];

    /// The JCE name: `AES`, `DES`, `DESede`, `Blowfish`, `RC2`.
    pub fn jce_name(self) -> &'static str {
        match self {
            Algorithm::Aes => "AES",
            Algorithm::Des => "DES",
            Algorithm::DesEde => "DESede",
            Algorithm::Blowfish => "Blowfish",
            Algorithm::Rc2 => "RC2",
        }
    }

    /// The algorithm's code in crypta's file formats (the key file, the chunk frame):
    /// 1 AES, 2 DES, 3 DESede, 4 Blowfish, 5 RC2. Never reuse or renumber a code.
    pub fn code(self) -> u8 {
        match self {
            Algorithm::Aes => 1,
            Algorithm::Des => 2,
            Algorithm::DesEde => 3,
            Algorithm::Blowfish => 4,
            Algorithm::Rc2 => 5,
        }
    }

    /// The algorithm with format code `code`, if any (see [`Algorithm::code`]).
    pub fn from_code(code: u8) -> Option<Algorithm> {
        Algorithm::ALL.into_iter().find(|a| a.code() == code)
    }

    /// Block size in bytes.
    pub fn block_size(self) -> usize {
        match self {
            Algorithm::Aes => 16,
            Algorithm::Des | Algorithm::DesEde | Algorithm::Blowfish | Algorithm::Rc2 => 8,
        }
    }

    /// Whether `bits` is a strength this algorithm accepts.
    pub fn is_valid_strength(self, bits: u32) -> bool {
        match self {
            Algorithm::Aes => matches!(bits, 128 | 192 | 256),
            Algorithm::Des => bits == 56,
            Algorithm::DesEde => matches!(bits, 112 | 168),
            Algorithm::Blowfish => (32..=448).contains(&bits) && bits.is_multiple_of(8),
            Algorithm::Rc2 => (40..=128).contains(&bits) && bits.is_multiple_of(8),
        }
    }

    /// The valid strengths, as a phrase for error messages.
    pub fn valid_strengths(self) -> &'static str {
        match self {
            Algorithm::Aes => "128, 192 or 256",
            Algorithm::Des => "56",
            Algorithm::DesEde => "112 (two-key) or 168 (three-key)",
            Algorithm::Blowfish => "32 to 448 in steps of 8",
            Algorithm::Rc2 => "40 to 128 in steps of 8",
        }
    }

    /// Checks `bits` against this algorithm, with an error that lists what is valid.
    pub fn check_strength(self, bits: u32) -> Result<(), KeyError> {
        if self.is_valid_strength(bits) {
            Ok(())
        } else {
            Err(KeyError::InvalidStrength {
                algorithm: self,
                bits,
            })
        }
    }

    /// Length in bytes of the key material crypta generates for `bits`.
    ///
    /// DES keys are 8 bytes (56 key bits and 8 parity bits), DESede keys 24 bytes
    /// (for 112 bits the third part repeats the first, as JCE's `DESede` key generator does).
    pub fn material_len(self, bits: u32) -> usize {
        match self {
            Algorithm::Des => 8,
            Algorithm::DesEde => 24,
            _ => (bits / 8) as usize,
        }
    }

    /// Whether `len` bytes of material can serve a key of this algorithm and strength.
    ///
    /// Besides [`Algorithm::material_len`], DESede accepts 16 bytes for 112 bits (K1 K2, the
    /// form KMIP servers hand out for a 128-bit wire length).
    pub fn accepts_material_len(self, bits: u32, len: usize) -> bool {
        len == self.material_len(bits) || (self == Algorithm::DesEde && bits == 112 && len == 16)
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.jce_name())
    }
}

impl FromStr for Algorithm {
    type Err = KeyError;

    /// Parses a JCE algorithm name, case-insensitively (`AES`, `DES`, `DESede`, `Blowfish`,
    /// `RC2`; `TripleDES` and `3DES` are taken as `DESede`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        match lower.as_str() {
            "aes" => Ok(Algorithm::Aes),
            "des" => Ok(Algorithm::Des),
            "desede" | "tripledes" | "3des" => Ok(Algorithm::DesEde),
            "blowfish" => Ok(Algorithm::Blowfish),
            "rc2" => Ok(Algorithm::Rc2),
            _ => Err(KeyError::UnknownAlgorithm(s.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_jce_names_case_insensitively() {
        for alg in Algorithm::ALL {
            assert_eq!(alg.jce_name().parse::<Algorithm>().unwrap(), alg);
            assert_eq!(
                alg.jce_name().to_uppercase().parse::<Algorithm>().unwrap(),
                alg
            );
        }
        assert!("Twofish".parse::<Algorithm>().is_err());
    }

    #[test]
    fn strengths() {
        assert!(Algorithm::Aes.is_valid_strength(192));
        assert!(!Algorithm::Aes.is_valid_strength(64));
        assert!(Algorithm::Des.is_valid_strength(56));
        assert!(!Algorithm::Des.is_valid_strength(64));
        assert!(Algorithm::DesEde.is_valid_strength(112));
        assert!(!Algorithm::DesEde.is_valid_strength(128));
        assert!(Algorithm::Blowfish.is_valid_strength(448));
        assert!(!Algorithm::Blowfish.is_valid_strength(450));
        assert!(!Algorithm::Blowfish.is_valid_strength(24));
        assert!(Algorithm::Rc2.is_valid_strength(40));
        assert!(!Algorithm::Rc2.is_valid_strength(136));
        let err = Algorithm::Rc2.check_strength(136).unwrap_err().to_string();
        assert!(err.contains("40 to 128"), "{err}");
    }

    #[test]
    fn format_codes_are_fixed() {
        let codes: Vec<u8> = Algorithm::ALL.iter().map(|a| a.code()).collect();
        assert_eq!(codes, [1, 2, 3, 4, 5]);
        for a in Algorithm::ALL {
            assert_eq!(Algorithm::from_code(a.code()), Some(a));
        }
        assert_eq!(Algorithm::from_code(0), None);
        assert_eq!(Algorithm::from_code(6), None);
    }

    #[test]
    fn material_lengths() {
        assert_eq!(Algorithm::Aes.material_len(256), 32);
        assert_eq!(Algorithm::Des.material_len(56), 8);
        assert_eq!(Algorithm::DesEde.material_len(112), 24);
        assert!(Algorithm::DesEde.accepts_material_len(112, 16));
        assert!(!Algorithm::DesEde.accepts_material_len(168, 16));
        assert_eq!(Algorithm::Blowfish.material_len(40), 5);
    }
}
