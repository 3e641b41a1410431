//! Java KeyStore (JKS) files: the format of `sun.security.provider.JavaKeyStore`.
//!
//! ```text
//! u32 magic FEEDFEED | u32 version (1 or 2) | u32 count | entries | 20-byte SHA-1 digest
//! entry: u32 tag (1 private key, 2 trusted certificate) | UTF alias | u64 date (ms)
//!   tag 1: u32 len, EncryptedPrivateKeyInfo | u32 n | n x ([v2: UTF type] u32 len, cert)
//!   tag 2: [v2: UTF type] u32 len, cert
//! digest = SHA-1(password as UTF-16BE || "Mighty Aphrodite" || every byte before it)
//! ```
//! Private keys are protected with Sun's `KeyProtector` (OID 1.3.6.1.4.1.42.2.17.1.1): a
//! keystream of chained SHA-1 digests of the password and a 20-byte salt, XORed with the
//! PKCS#8 key, and followed by SHA-1(password || key) as a check. All integers big-endian.
#![deny(clippy::indexing_slicing)]

use crypta_keys::wire::{Reader, WireError};
use ring::digest::{Context, SHA1_FOR_LEGACY_USE_ONLY as SHA1};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use zeroize::Zeroizing;

use super::der;

const MAGIC: u32 = 0xFEED_FEED;
const TAG_PRIVATE_KEY: u32 = 1;
const TAG_TRUSTED_CERT: u32 = 2;
const TAG_SECRET_KEY: u32 = 3;
/// DER of OID 1.3.6.1.4.1.42.2.17.1.1 (Sun's JKS KeyProtector).
const KEY_PROTECTOR_OID: &[u8] = &[0x2B, 0x06, 0x01, 0x04, 0x01, 0x2A, 0x02, 0x11, 0x01, 0x01];
/// At most this many entries (a keystore with more is damaged or hostile).
const MAX_ENTRIES: u32 = 10_000;

struct PrivateKeyEntry<'a> {
    alias: String,
    protected: &'a [u8],
    chain: Vec<CertificateDer<'static>>,
}

struct Parsed<'a> {
    keys: Vec<PrivateKeyEntry<'a>>,
    trusted: Vec<CertificateDer<'static>>,
}

fn wire(e: WireError) -> String {
    format!("damaged JKS file: {e}")
}

fn be_u32(r: &mut Reader<'_>, what: &'static str) -> Result<u32, String> {
    r.array::<4>(what).map(u32::from_be_bytes).map_err(wire)
}

fn utf(r: &mut Reader<'_>, what: &'static str) -> Result<String, String> {
    let len = r.array::<2>(what).map(u16::from_be_bytes).map_err(wire)?;
    let bytes = r.take(usize::from(len), what).map_err(wire)?;
    // Java's modified UTF-8 equals UTF-8 for the aliases keytool writes (no NULs, BMP only).
    Ok(String::from_utf8_lossy(bytes).into_owned())
}

fn cert<'a>(r: &mut Reader<'a>, version: u32) -> Result<CertificateDer<'static>, String> {
    if version == 2 {
        let kind = utf(r, "certificate type")?;
        if kind != "X.509" {
            return Err(format!(
                "certificate of type {kind:?}: only X.509 is supported"
            ));
        }
    }
    let len = be_u32(r, "certificate length")?;
    let bytes = r
        .take(usize::try_from(len).unwrap_or(usize::MAX), "certificate")
        .map_err(wire)?;
    Ok(CertificateDer::from(bytes.to_vec()))
}

fn password_bytes(password: &str) -> Zeroizing<Vec<u8>> {
    Zeroizing::new(password.encode_utf16().flat_map(u16::to_be_bytes).collect())
}

/// Parses the file and checks its integrity digest with `password`.
fn parse<'a>(bytes: &'a [u8], password: &str) -> Result<Parsed<'a>, String> {
    let body_len = bytes
        .len()
        .checked_sub(20)
        .ok_or_else(|| "damaged JKS file: shorter than its digest".to_string())?;
    let (body, digest) = bytes.split_at(body_len);
    let mut ctx = Context::new(&SHA1);
    ctx.update(&password_bytes(password));
    ctx.update(b"Mighty Aphrodite");
    ctx.update(body);
    if ctx.finish().as_ref() != digest {
        return Err(
            "the JKS integrity check failed: the password is wrong, or the file is damaged".into(),
        );
    }
    let mut r = Reader::new(body);
    if be_u32(&mut r, "magic")? != MAGIC {
        return Err("not a JKS file (no FEEDFEED magic)".into());
    }
    let version = be_u32(&mut r, "version")?;
    if version != 1 && version != 2 {
        return Err(format!("JKS version {version} is not supported (1 or 2)"));
    }
    let count = be_u32(&mut r, "entry count")?;
    if count > MAX_ENTRIES {
        return Err(format!("damaged JKS file: {count} entries"));
    }
    let mut parsed = Parsed {
        keys: Vec::new(),
        trusted: Vec::new(),
    };
    for _ in 0..count {
        let tag = be_u32(&mut r, "entry tag")?;
        let alias = utf(&mut r, "alias")?;
        r.take(8, "entry date").map_err(wire)?;
        match tag {
            TAG_PRIVATE_KEY => {
                let len = be_u32(&mut r, "key length")?;
                let protected = r
                    .take(usize::try_from(len).unwrap_or(usize::MAX), "protected key")
                    .map_err(wire)?;
                let n = be_u32(&mut r, "chain length")?;
                if n > MAX_ENTRIES {
                    return Err(format!("damaged JKS file: chain of {n} certificates"));
                }
                let mut chain = Vec::new();
                for _ in 0..n {
                    chain.push(cert(&mut r, version)?);
                }
                parsed.keys.push(PrivateKeyEntry {
                    alias,
                    protected,
                    chain,
                });
            }
            TAG_TRUSTED_CERT => parsed.trusted.push(cert(&mut r, version)?),
            TAG_SECRET_KEY => {
                return Err(format!(
                    "entry {alias:?} is a secret key, which JKS cannot hold: is this a JCEKS file?"
                ));
            }
            other => return Err(format!("damaged JKS file: entry tag {other}")),
        }
    }
    r.finish("JKS entries").map_err(wire)?;
    Ok(parsed)
}

/// Decrypts a `KeyProtector`-protected key into PKCS#8 DER.
fn unprotect(protected: &[u8], password: &str) -> Result<Zeroizing<Vec<u8>>, String> {
    let mut r = Reader::new(protected);
    let info = der::element(&mut r, der::SEQUENCE, "EncryptedPrivateKeyInfo")?;
    let mut info = Reader::new(info);
    let alg = der::element(&mut info, der::SEQUENCE, "key algorithm")?;
    let oid = der::element(&mut Reader::new(alg), der::OID, "key algorithm")?;
    if oid != KEY_PROTECTOR_OID {
        return Err(
            "the private key is not protected with the JKS key protector (unsupported algorithm)"
                .into(),
        );
    }
    let data = der::element(&mut info, der::OCTET_STRING, "encrypted key")?;
    let data_len = data.len();
    if data_len < 40 {
        return Err("damaged JKS private key: too short".into());
    }
    let (salt, rest) = data.split_at(20);
    let (encrypted, check) = rest.split_at(data_len - 40);
    let pw = password_bytes(password);
    let mut plain = Zeroizing::new(Vec::with_capacity(encrypted.len()));
    let mut digest: Vec<u8> = salt.to_vec();
    for block in encrypted.chunks(20) {
        let mut ctx = Context::new(&SHA1);
        ctx.update(&pw);
        ctx.update(&digest);
        digest = ctx.finish().as_ref().to_vec();
        plain.extend(block.iter().zip(&digest).map(|(c, k)| c ^ k));
    }
    let mut ctx = Context::new(&SHA1);
    ctx.update(&pw);
    ctx.update(&plain);
    if ctx.finish().as_ref() != check {
        return Err("cannot decrypt the private key: its password differs from keystore_password (keytool -keypasswd can make them equal)".into());
    }
    Ok(plain)
}

type IdentityParts = (
    Vec<CertificateDer<'static>>,
    PrivateKeyDer<'static>,
    Option<String>,
);

/// The first private key entry and its chain.
pub(super) fn identity(bytes: &[u8], password: &str) -> Result<IdentityParts, String> {
    let parsed = parse(bytes, password)?;
    let entry = parsed.keys.into_iter().next().ok_or_else(|| {
        "the JKS keystore has no private key entry: import the client certificate and key (keytool -importkeystore)".to_string()
    })?;
    if entry.chain.is_empty() {
        return Err(format!("key entry {:?} has no certificate", entry.alias));
    }
    let plain = unprotect(entry.protected, password)?;
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(plain.to_vec()));
    Ok((entry.chain, key, Some(entry.alias)))
}

/// The trusted certificate entries (and, failing those, the certificates of key entries).
pub(super) fn trusted(
    bytes: &[u8],
    password: &str,
) -> Result<Vec<CertificateDer<'static>>, String> {
    let parsed = parse(bytes, password)?;
    if parsed.trusted.is_empty() {
        return Ok(parsed.keys.into_iter().flat_map(|k| k.chain).collect());
    }
    Ok(parsed.trusted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(password: &str, entries: &[(u32, &str, &[u8])]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&MAGIC.to_be_bytes());
        v.extend_from_slice(&2u32.to_be_bytes());
        v.extend_from_slice(&(entries.len() as u32).to_be_bytes());
        for (tag, alias, cert) in entries {
            v.extend_from_slice(&tag.to_be_bytes());
            v.extend_from_slice(&(alias.len() as u16).to_be_bytes());
            v.extend_from_slice(alias.as_bytes());
            v.extend_from_slice(&0u64.to_be_bytes());
            v.extend_from_slice(&5u16.to_be_bytes());
            v.extend_from_slice(b"X.509");
            v.extend_from_slice(&(cert.len() as u32).to_be_bytes());
            v.extend_from_slice(cert);
        }
        let mut ctx = Context::new(&SHA1);
        ctx.update(&password_bytes(password));
        ctx.update(b"Mighty Aphrodite");
        ctx.update(&v);
        v.extend_from_slice(ctx.finish().as_ref());
        v
    }

    #[test]
    fn reads_trusted_entries_and_checks_the_password() {
        let file = build("changeit", &[(2, "ca", b"not really a cert")]);
        let certs = trusted(&file, "changeit").unwrap();
        assert_eq!(certs.len(), 1);
        assert_eq!(certs[0].as_ref(), b"not really a cert");
        let err = trusted(&file, "wrong").unwrap_err();
        assert!(err.contains("password is wrong"), "{err}");
    }

    #[test]
    fn truncations_are_errors_not_panics() {
        let file = build("pw", &[(2, "ca", b"abc"), (2, "ca2", b"defg")]);
        for cut in 0..file.len() {
            assert!(trusted(&file[..cut], "pw").is_err());
        }
        let no_key = identity(&file, "pw").unwrap_err();
        assert!(no_key.contains("no private key entry"), "{no_key}");
    }

    #[test]
    fn key_protector_round_trip() {
        // Protect a fake PKCS#8 blob the way KeyProtector does, then unprotect it.
        let key = b"0123456789abcdefghijklmnopqrstuvwxyz0123456789".to_vec();
        let pw = password_bytes("pw");
        let salt = [7u8; 20];
        let mut digest = salt.to_vec();
        let mut enc = Vec::new();
        for block in key.chunks(20) {
            let mut ctx = Context::new(&SHA1);
            ctx.update(&pw);
            ctx.update(&digest);
            digest = ctx.finish().as_ref().to_vec();
            enc.extend(block.iter().zip(&digest).map(|(c, k)| c ^ k));
        }
        let mut ctx = Context::new(&SHA1);
        ctx.update(&pw);
        ctx.update(&key);
        let mut data = salt.to_vec();
        data.extend_from_slice(&enc);
        data.extend_from_slice(ctx.finish().as_ref());
        let mut alg = vec![0x06, KEY_PROTECTOR_OID.len() as u8];
        alg.extend_from_slice(KEY_PROTECTOR_OID);
        alg.extend_from_slice(&[0x05, 0x00]);
        let mut info = vec![0x30, alg.len() as u8];
        info.extend_from_slice(&alg);
        info.extend_from_slice(&[0x04, 0x81, data.len() as u8]);
        info.extend_from_slice(&data);
        let mut der = vec![0x30, 0x81, info.len() as u8];
        der.extend_from_slice(&info);
        assert_eq!(unprotect(&der, "pw").unwrap().as_slice(), key.as_slice());
        let err = unprotect(&der, "other").unwrap_err();
        assert!(err.contains("password differs"), "{err}");
    }
}
