//! Keystores and truststores: JKS, PKCS#12 and PEM, told apart by their bytes.
//!
//! `keystore_type` says what the operator believes the file is, but `keytool -importkeystore`
//! on Java 9 and later writes PKCS#12 into a file named `.jks` (and `keytool -import` into a
//! truststore likewise), so the format is detected from the first bytes: `FEEDFEED` is JKS,
//! a DER `SEQUENCE` is PKCS#12, `-----BEGIN` is PEM. What was found, and whether it differs
//! from the declared type, is reported in [`StoreInfo`].

mod der;
mod jks;
mod pem;
mod pkcs12;

use std::fmt;
use std::path::{Path, PathBuf};

use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::{KmipError, Password};

/// The format a store's bytes turned out to have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreFormat {
    /// Java KeyStore (magic `FEEDFEED`).
    Jks,
    /// PKCS#12 (`.p12`, `.pfx`, and what keytool on Java 9+ writes by default).
    Pkcs12,
    /// PEM text: certificates and, for a keystore, a private key.
    Pem,
}

impl fmt::Display for StoreFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StoreFormat::Jks => "JKS",
            StoreFormat::Pkcs12 => "PKCS#12",
            StoreFormat::Pem => "PEM",
        })
    }
}

/// What a keystore or truststore was found to hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreInfo {
    /// `keystore` or `truststore`.
    pub role: &'static str,
    /// The file.
    pub path: PathBuf,
    /// The configured `*_type`, if any.
    pub declared: Option<String>,
    /// The format detected from the bytes.
    pub found: StoreFormat,
    /// Certificates loaded (the chain of a keystore, the trust anchors of a truststore).
    pub certificates: usize,
    /// The alias of the private key entry used, for keystores that have aliases.
    pub alias: Option<String>,
}

impl StoreInfo {
    /// Whether the declared type names another format than the one found.
    pub fn type_mismatch(&self) -> bool {
        self.declared
            .as_deref()
            .and_then(declared_format)
            .is_some_and(|d| d != self.found)
    }
}

impl fmt::Display for StoreInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.role, self.path.display(), self.found)?;
        if self.type_mismatch() {
            write!(
                f,
                " (declared {:?}; the bytes decide, e.g. keytool on Java 9+ writes PKCS#12 into .jks files)",
                self.declared.as_deref().unwrap_or_default()
            )?;
        }
        if let Some(alias) = &self.alias {
            write!(f, ", key entry {alias:?}")?;
        }
        write!(f, ", {} certificate(s)", self.certificates)
    }
}

/// The client's certificate chain and private key, from a keystore.
#[derive(Debug)]
pub(crate) struct Identity {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
    pub info: StoreInfo,
}

/// Trust anchors from a truststore.
#[derive(Debug)]
pub(crate) struct Trust {
    pub certs: Vec<CertificateDer<'static>>,
    pub info: StoreInfo,
}

fn declared_format(declared: &str) -> Option<StoreFormat> {
    match declared.trim().to_ascii_lowercase().as_str() {
        "jks" => Some(StoreFormat::Jks),
        "pkcs12" | "pkcs#12" | "p12" | "pfx" => Some(StoreFormat::Pkcs12),
        "pem" => Some(StoreFormat::Pem),
        _ => None,
    }
}

fn detect(bytes: &[u8]) -> Option<StoreFormat> {
    if bytes.starts_with(&[0xFE, 0xED, 0xFE, 0xED]) {
        Some(StoreFormat::Jks)
    } else if bytes.first() == Some(&0x30) {
        Some(StoreFormat::Pkcs12)
    } else if bytes.trim_ascii_start().starts_with(b"-----BEGIN") {
        Some(StoreFormat::Pem)
    } else {
        None
    }
}

/// Reads `path` and detects its format, with errors that say what was expected.
fn read(
    role: &'static str,
    path: &Path,
    declared: Option<&str>,
) -> Result<(Vec<u8>, StoreFormat), KmipError> {
    let err = |reason: String| KmipError::Store {
        role,
        path: path.to_path_buf(),
        reason,
    };
    if let Some(d) = declared
        && !d.trim().is_empty()
        && declared_format(d).is_none()
    {
        return Err(err(format!(
            "{role}_type {d:?} is not one of jks, pkcs12, pem"
        )));
    }
    let bytes = std::fs::read(path).map_err(|e| err(format!("cannot read it: {e}")))?;
    if bytes.starts_with(&[0xCE, 0xCE, 0xCE, 0xCE]) {
        return Err(err("it is a JCEKS keystore, which is not supported: convert it with `keytool -importkeystore -srcstoretype jceks -deststoretype pkcs12`".into()));
    }
    let found = detect(&bytes)
        .ok_or_else(|| err("not a JKS (FEEDFEED), PKCS#12 (DER) or PEM file".to_string()))?;
    if let Some(d) = declared.and_then(declared_format)
        && d != found
    {
        log::info!(
            "{role} {} is {found} although {role}_type says {}; reading it as {found}",
            path.display(),
            declared.unwrap_or_default()
        );
    }
    Ok((bytes, found))
}

/// Loads the client certificate chain and private key from a keystore.
pub(crate) fn load_identity(
    path: &Path,
    declared: Option<&str>,
    password: &Password,
) -> Result<Identity, KmipError> {
    let role = "keystore";
    let (bytes, found) = read(role, path, declared)?;
    let err = |reason: String| KmipError::Store {
        role,
        path: path.to_path_buf(),
        reason,
    };
    let (chain, key, alias) = match found {
        StoreFormat::Jks => jks::identity(&bytes, password.expose()).map_err(err)?,
        StoreFormat::Pkcs12 => pkcs12::identity(&bytes, password.expose()).map_err(err)?,
        StoreFormat::Pem => pem::identity(&bytes).map_err(err)?,
    };
    Ok(Identity {
        info: StoreInfo {
            role,
            path: path.to_path_buf(),
            declared: declared.map(String::from),
            found,
            certificates: chain.len(),
            alias,
        },
        chain,
        key,
    })
}

/// Loads the trust anchors from a truststore.
pub(crate) fn load_trust(
    path: &Path,
    declared: Option<&str>,
    password: &Password,
) -> Result<Trust, KmipError> {
    let role = "truststore";
    let (bytes, found) = read(role, path, declared)?;
    let err = |reason: String| KmipError::Store {
        role,
        path: path.to_path_buf(),
        reason,
    };
    let certs = match found {
        StoreFormat::Jks => jks::trusted(&bytes, password.expose()).map_err(err)?,
        StoreFormat::Pkcs12 => pkcs12::trusted(&bytes, password.expose()).map_err(err)?,
        StoreFormat::Pem => pem::certificates(&bytes).map_err(err)?,
    };
    if certs.is_empty() {
        return Err(err(format!(
            "the {found} file holds no certificates: import the KMIP server's CA certificate into it"
        )));
    }
    Ok(Trust {
        info: StoreInfo {
            role,
            path: path.to_path_buf(),
            declared: declared.map(String::from),
            found,
            certificates: certs.len(),
            alias: None,
        },
        certs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_formats_from_bytes() {
        assert_eq!(
            detect(&[0xFE, 0xED, 0xFE, 0xED, 0, 0]),
            Some(StoreFormat::Jks)
        );
        assert_eq!(detect(&[0x30, 0x82, 0x01]), Some(StoreFormat::Pkcs12));
        assert_eq!(
            detect(b"\n-----BEGIN CERTIFICATE-----"),
            Some(StoreFormat::Pem)
        );
        assert_eq!(detect(b"hello"), None);
        assert_eq!(detect(&[]), None);
    }

    #[test]
    fn mismatch_is_reported() {
        let info = StoreInfo {
            role: "keystore",
            path: "/x/keystore.jks".into(),
            declared: Some("JKS".into()),
            found: StoreFormat::Pkcs12,
            certificates: 1,
            alias: Some("kmipclient".into()),
        };
        assert!(info.type_mismatch());
        let s = info.to_string();
        assert!(s.contains("PKCS#12 (declared \"JKS\""), "{s}");
    }
}
