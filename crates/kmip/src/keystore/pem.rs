//! PEM files: certificates, and for a keystore one private key (PKCS#8, PKCS#1 or SEC1), as
//! a KMIP agent hands them out (`client.pem` + `client.key` concatenated, or a CA bundle).

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// Every certificate in the file.
pub(super) fn certificates(bytes: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    CertificateDer::pem_slice_iter(bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("malformed PEM: {e}"))
}

type IdentityParts = (
    Vec<CertificateDer<'static>>,
    PrivateKeyDer<'static>,
    Option<String>,
);

/// The certificate chain (leaf first) and the private key.
pub(super) fn identity(bytes: &[u8]) -> Result<IdentityParts, String> {
    let chain = certificates(bytes)?;
    if chain.is_empty() {
        return Err("the PEM keystore holds no certificate: concatenate the client certificate and its private key into one file".into());
    }
    let key = PrivateKeyDer::from_pem_slice(bytes).map_err(|e| match e {
        rustls_pki_types::pem::Error::NoItemsFound => "the PEM keystore holds no private key (PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY): an encrypted key must be decrypted first (openssl pkey -in client.key -out client-plain.key)".to_string(),
        other => format!("malformed PEM private key: {other}"),
    })?;
    Ok((chain, key, None))
}
