//! The rustls client configuration of a group, and what a TLS failure means for a person.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::{
    AlertDescription, CertificateError, ClientConfig, RootCertStore, SupportedProtocolVersion,
};

use crate::keystore::{Identity, Trust};
use crate::{KmipError, TlsProblem};

/// Builds the client configuration: trust anchors from the truststore, the client
/// certificate from the keystore, and the versions and suites of `protocol` and
/// `cipher_suites` (rustls' defaults when absent).
pub(crate) fn client_config(
    group: &str,
    identity: &Identity,
    trust: &Trust,
    protocol: Option<&str>,
    cipher_suites: &[String],
) -> Result<Arc<ClientConfig>, KmipError> {
    let config_err = |field: &'static str, reason: String| KmipError::Config {
        group: group.to_string(),
        field,
        reason,
    };
    let mut provider = rustls::crypto::ring::default_provider();
    if !cipher_suites.is_empty() {
        let all = provider.cipher_suites.clone();
        let mut chosen = Vec::new();
        for name in cipher_suites {
            let wanted = normalize_suite(name);
            match all.iter().find(|s| suite_name(s) == wanted) {
                Some(s) => chosen.push(*s),
                None => {
                    return Err(config_err(
                        "cipher_suites",
                        format!(
                            "{name:?} is not a cipher suite rustls offers; use some of: {}",
                            all.iter().map(suite_name).collect::<Vec<_>>().join(", ")
                        ),
                    ));
                }
            }
        }
        provider.cipher_suites = chosen;
    }
    let versions = versions(protocol).map_err(|r| config_err("protocol", r))?;
    let provider: Arc<CryptoProvider> = Arc::new(provider);
    let mut roots = RootCertStore::empty();
    for (i, cert) in trust.certs.iter().enumerate() {
        roots.add(cert.clone()).map_err(|e| KmipError::Store {
            role: "truststore",
            path: trust.info.path.clone(),
            reason: format!("certificate {} cannot be a trust anchor: {e}", i + 1),
        })?;
    }
    let builder = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&versions)
        .map_err(|e| {
            config_err(
                "cipher_suites",
                format!("no chosen cipher suite works with the chosen protocol versions: {e}"),
            )
        })?
        .with_root_certificates(roots);
    let config = builder
        .with_client_auth_cert(identity.chain.clone(), identity.key.clone_key())
        .map_err(|e| KmipError::Store {
            role: "keystore",
            path: identity.info.path.clone(),
            reason: format!("the private key cannot be used with its certificate: {e}"),
        })?;
    Ok(Arc::new(config))
}

/// The IANA name of a suite (`TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256`, `TLS_AES_128_GCM_SHA256`).
pub(crate) fn suite_name(s: &rustls::SupportedCipherSuite) -> String {
    normalize_suite(&format!("{:?}", s.suite()))
}

/// rustls names TLS 1.3 suites `TLS13_...`; Java and IANA say `TLS_...`.
fn normalize_suite(name: &str) -> String {
    let upper = name.trim().to_ascii_uppercase();
    match upper.strip_prefix("TLS13_") {
        Some(rest) => format!("TLS_{rest}"),
        None => upper,
    }
}

fn versions(protocol: Option<&str>) -> Result<Vec<&'static SupportedProtocolVersion>, String> {
    let Some(protocol) = protocol.map(str::trim).filter(|p| !p.is_empty()) else {
        return Ok(rustls::DEFAULT_VERSIONS.to_vec());
    };
    let mut out = Vec::new();
    for p in protocol.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match p.to_ascii_uppercase().as_str() {
            "TLS" | "SSL" => return Ok(rustls::ALL_VERSIONS.to_vec()),
            "TLSV1.2" | "TLS1.2" => out.push(&rustls::version::TLS12),
            "TLSV1.3" | "TLS1.3" => out.push(&rustls::version::TLS13),
            "TLSV1" | "TLSV1.0" | "TLSV1.1" | "TLS1.0" | "TLS1.1" | "SSLV3" => {
                return Err(format!(
                    "{p} is obsolete and not supported: use TLSv1.2 or TLSv1.3 (or TLS for both)"
                ));
            }
            _ => {
                return Err(format!(
                    "{p:?} is not a TLS version: use TLSv1.2, TLSv1.3 or TLS"
                ));
            }
        }
    }
    Ok(out)
}

/// Explains a rustls error from the handshake.
pub(crate) fn explain(e: &rustls::Error) -> (TlsProblem, String) {
    use rustls::Error as E;
    match e {
        E::InvalidCertificate(CertificateError::UnknownIssuer) => (
            TlsProblem::UnknownCa,
            "the server's certificate is not signed by a CA in the truststore (unknown CA): import the CA that signed the KMIP server's certificate into the truststore".into(),
        ),
        E::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        ) => (
            TlsProblem::NameMismatch,
            format!("the server's certificate is not valid for this host name or address ({e}): dial the name in its subjectAltName"),
        ),
        E::InvalidCertificate(
            CertificateError::Expired
            | CertificateError::ExpiredContext { .. }
            | CertificateError::NotValidYet
            | CertificateError::NotValidYetContext { .. },
        ) => (
            TlsProblem::NotValidNow,
            format!("the server's certificate is outside its validity period ({e})"),
        ),
        E::AlertReceived(
            alert @ (AlertDescription::BadCertificate
            | AlertDescription::UnknownCA
            | AlertDescription::CertificateUnknown
            | AlertDescription::UnsupportedCertificate
            | AlertDescription::CertificateRevoked
            | AlertDescription::CertificateExpired
            | AlertDescription::AccessDenied
            | AlertDescription::CertificateRequired),
        ) => (
            TlsProblem::ClientCertificateRejected {
                alert: Some(format!("{alert:?}")),
            },
            format!("the server rejected our client certificate (alert {alert:?}): the keystore's certificate must be signed by a CA the KMIP server trusts and have extendedKeyUsage clientAuth"),
        ),
        E::AlertReceived(alert @ (AlertDescription::HandshakeFailure | AlertDescription::ProtocolVersion | AlertDescription::InsufficientSecurity)) => (
            TlsProblem::NoCommonParameters,
            format!("the server refused the handshake (alert {alert:?}): no TLS version or cipher suite in common; check protocol and cipher_suites (PyKMIP offers rustls only ECDHE-ECDSA AES-GCM suites with TLS 1.2, so its certificate must be ECDSA)"),
        ),
        E::PeerIncompatible(p) => (
            TlsProblem::NoCommonParameters,
            format!("the server is incompatible with our TLS settings: {p:?}; check protocol and cipher_suites"),
        ),
        other => (TlsProblem::Other, other.to_string()),
    }
}
