//! JCE transformations (`AES/CBC/PKCS5Padding`, ...), as users write `cipher_algorithm`.

use std::fmt;
use std::str::FromStr;

use crypta_keys::Algorithm;

use crate::CompressionError;

/// A block cipher mode of operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Mode {
    /// Electronic codebook: each block encrypted alone. Leaks patterns (equal plaintext blocks
    /// give equal ciphertext blocks) and does not authenticate. Offered because HCD/DSE users
    /// have tables configured with it.
    Ecb,
    /// Cipher block chaining with a fresh random IV per chunk. Hides patterns, does not
    /// authenticate: the chunk checksum is what catches corruption.
    Cbc,
    /// Galois/counter mode (AES only), a fresh random 96-bit nonce per chunk. Authenticated: a
    /// wrong key or a flipped bit fails the tag check.
    Gcm,
}

impl Mode {
    /// The JCE name.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Ecb => "ECB",
            Mode::Cbc => "CBC",
            Mode::Gcm => "GCM",
        }
    }
}

/// A padding scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Padding {
    /// PKCS#5/PKCS#7 padding: 1 to block-size bytes, each holding the pad length.
    Pkcs5,
    /// No padding (GCM, a stream mode).
    NoPadding,
}

impl Padding {
    /// The JCE name.
    pub fn name(self) -> &'static str {
        match self {
            Padding::Pkcs5 => "PKCS5Padding",
            Padding::NoPadding => "NoPadding",
        }
    }
}

/// A cipher transformation: algorithm, mode and padding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Transformation {
    /// The block cipher.
    pub algorithm: Algorithm,
    /// The mode of operation.
    pub mode: Mode,
    /// The padding.
    pub padding: Padding,
}

/// The transformations crypta accepts, for error messages.
pub const VALID_TRANSFORMATIONS: &str = "AES/ECB/PKCS5Padding, AES/CBC/PKCS5Padding, AES/GCM/NoPadding, \
     and the ECB and CBC forms with PKCS5Padding of DES, DESede, Blowfish and RC2 \
     (a bare algorithm name means CBC/PKCS5Padding)";

impl Transformation {
    /// Length of the IV (or GCM nonce) each chunk carries: 0 for ECB.
    pub fn iv_len(self) -> usize {
        match self.mode {
            Mode::Ecb => 0,
            Mode::Cbc => self.algorithm.block_size(),
            Mode::Gcm => 12,
        }
    }

    /// Whether the mode authenticates the ciphertext.
    pub fn is_authenticated(self) -> bool {
        self.mode == Mode::Gcm
    }
}

impl fmt::Display for Transformation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}/{}",
            self.algorithm.jce_name(),
            self.mode.name(),
            self.padding.name()
        )
    }
}

impl FromStr for Transformation {
    type Err = CompressionError;

    /// Parses `ALGORITHM[/MODE/PADDING]`, case-insensitively.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |reason: String| CompressionError::InvalidOption {
            option: "cipher_algorithm".into(),
            value: s.to_string(),
            reason,
        };
        let parts: Vec<&str> = s.trim().split('/').map(str::trim).collect();
        let (alg, mode, padding) = match parts.as_slice() {
            [alg] => (*alg, "CBC", "PKCS5Padding"),
            [alg, mode, padding] => (*alg, *mode, *padding),
            _ => {
                return Err(bad(format!(
                    "expected ALGORITHM/MODE/PADDING; valid: {VALID_TRANSFORMATIONS}"
                )));
            }
        };
        let algorithm: Algorithm = alg.parse().map_err(|e| bad(format!("{e}")))?;
        let mode = match mode.to_ascii_uppercase().as_str() {
            "ECB" => Mode::Ecb,
            "CBC" => Mode::Cbc,
            "GCM" => Mode::Gcm,
            other => {
                return Err(bad(format!(
                    "mode {other} is not supported; valid: {VALID_TRANSFORMATIONS}"
                )));
            }
        };
        let padding = match padding.to_ascii_uppercase().as_str() {
            "PKCS5PADDING" | "PKCS7PADDING" => Padding::Pkcs5,
            "NOPADDING" => Padding::NoPadding,
            other => {
                return Err(bad(format!(
                    "padding {other} is not supported; valid: {VALID_TRANSFORMATIONS}"
                )));
            }
        };
        match (algorithm, mode, padding) {
            (Algorithm::Aes, Mode::Gcm, Padding::NoPadding) => {}
            (_, Mode::Gcm, _) => {
                return Err(bad(format!(
                    "GCM is available with AES and NoPadding only; valid: {VALID_TRANSFORMATIONS}"
                )));
            }
            (_, Mode::Ecb | Mode::Cbc, Padding::NoPadding) => {
                return Err(bad(format!(
                    "{} needs PKCS5Padding: chunks are not whole blocks; valid: {VALID_TRANSFORMATIONS}",
                    mode.name()
                )));
            }
            _ => {}
        }
        Ok(Transformation {
            algorithm,
            mode,
            padding,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_documented_form() {
        for alg in ["AES", "DES", "DESede", "Blowfish", "RC2"] {
            for mode in ["ECB", "CBC"] {
                let s = format!("{alg}/{mode}/PKCS5Padding");
                let t: Transformation = s.parse().unwrap();
                assert_eq!(t.to_string(), s);
            }
            let bare: Transformation = alg.parse().unwrap();
            assert_eq!(bare.to_string(), format!("{alg}/CBC/PKCS5Padding"));
        }
        let gcm: Transformation = "aes/gcm/nopadding".parse().unwrap();
        assert_eq!(gcm.to_string(), "AES/GCM/NoPadding");
        assert_eq!(gcm.iv_len(), 12);
    }

    #[test]
    fn rejects_with_the_list_of_valid_forms() {
        for s in [
            "AES/CTR/NoPadding",
            "DES/GCM/NoPadding",
            "AES/CBC/NoPadding",
            "AES/CBC",
            "Twofish/CBC/PKCS5Padding",
            "AES/CBC/ISO10126Padding",
        ] {
            let err = s.parse::<Transformation>().unwrap_err().to_string();
            assert!(err.contains("cipher_algorithm"), "{err}");
        }
        let err = "AES/CTR/NoPadding"
            .parse::<Transformation>()
            .unwrap_err()
            .to_string();
        assert!(err.contains("AES/GCM/NoPadding"), "{err}");
    }
}
