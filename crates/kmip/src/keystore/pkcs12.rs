//! PKCS#12 files (openssl `pkcs12 -export`, keytool's default since Java 9), read with the
//! `p12-keystore` crate (PBES2/AES and the legacy PBES1 schemes, HMAC-SHA1/SHA2 MACs).

use p12_keystore::{KeyStore, Pkcs12Archive, Pkcs12ImportPolicy};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

fn open(bytes: &[u8], password: &str) -> Result<KeyStore, String> {
    // Relaxed: keep a key even when no certificate is linked to it (reported below).
    KeyStore::from_pkcs12(bytes, password, Pkcs12ImportPolicy::Relaxed).map_err(explain)
}

fn explain(e: p12_keystore::error::Error) -> String {
    match e {
        p12_keystore::error::Error::MacError(_) => {
            "the PKCS#12 integrity check failed: the password is wrong, or the file is damaged"
                .to_string()
        }
        other => format!("cannot read the PKCS#12 file: {other}"),
    }
}

type IdentityParts = (
    Vec<CertificateDer<'static>>,
    PrivateKeyDer<'static>,
    Option<String>,
);

/// The private key entry and its chain.
pub(super) fn identity(bytes: &[u8], password: &str) -> Result<IdentityParts, String> {
    let store = open(bytes, password)?;
    let (alias, chain) = store.private_key_chain().ok_or_else(|| {
        "the PKCS#12 keystore has no private key: export the client certificate together with its key (openssl pkcs12 -export -in client.pem -inkey client.key)".to_string()
    })?;
    if chain.certs().is_empty() {
        return Err(format!(
            "key entry {alias:?} has no certificate matching its key"
        ));
    }
    let certs = chain
        .certs()
        .iter()
        .map(|c| CertificateDer::from(c.as_der().to_vec()))
        .collect();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(chain.key().as_der().to_vec()));
    Ok((certs, key, Some(alias.to_string())))
}

/// The certificates not paired with a private key (keytool marks them trusted, openssl
/// `-nokeys` does not), and failing those every certificate in the file.
pub(super) fn trusted(
    bytes: &[u8],
    password: &str,
) -> Result<Vec<CertificateDer<'static>>, String> {
    let archive = Pkcs12Archive::from_pkcs12(bytes, password).map_err(explain)?;
    let der = |b: &p12_keystore::CertificateBag| CertificateDer::from(b.cert.as_der().to_vec());
    let anchors: Vec<_> = archive
        .certs
        .iter()
        .filter(|b| b.local_key_id.is_none())
        .map(der)
        .collect();
    if anchors.is_empty() {
        return Ok(archive.certs.iter().map(der).collect());
    }
    Ok(anchors)
}
