//! Keystores and truststores made exactly as the HCD docs describe (openssl pkcs12 -export,
//! keytool -importkeystore, keytool -import), real JKS, openssl PKCS#12 and PEM: each is
//! detected from its bytes and works against the server.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a failure must fail the test"
)]

mod common;

use std::path::PathBuf;

use crypta_kmip::{KmipClient, KmipError, KmipGroupConfig, Password, StoreFormat};

fn config(ks: PathBuf, ks_type: &str, ts: PathBuf, ts_type: &str) -> KmipGroupConfig {
    let e = common::env();
    let mut cfg = KmipGroupConfig::new(
        e.server.host(),
        ks,
        common::password(),
        ts,
        common::password(),
    );
    cfg.keystore_type = Some(ks_type.into());
    cfg.truststore_type = Some(ts_type.into());
    cfg
}

fn works(cfg: &KmipGroupConfig) -> KmipClient {
    let c = KmipClient::new("stores", cfg).unwrap();
    assert!(!c.discover_versions().unwrap().is_empty());
    c
}

#[test]
fn hcd_procedure_keytool_writes_pkcs12_into_jks_files() {
    let e = common::env();
    let ks = e
        .pki
        .keystore_jks(&e.pki.client, "hcd-keystore", false)
        .unwrap();
    let ts = e
        .pki
        .truststore_keytool(&e.pki.ca_cert, "hcd-truststore", false)
        .unwrap();
    let c = works(&config(ks, "jks", ts, "jks"));
    let ki = c.keystore_info();
    assert_eq!(ki.found, StoreFormat::Pkcs12);
    assert!(ki.type_mismatch());
    assert!(ki.to_string().contains("PKCS#12 (declared \"jks\""), "{ki}");
    assert_eq!(c.truststore_info().found, StoreFormat::Pkcs12);
    // Neither the client nor its config shows the store password.
    let cfg = config(
        e.pki.dir().join("hcd-keystore.jks"),
        "jks",
        e.pki.dir().join("hcd-truststore.jks"),
        "jks",
    );
    for dbg in [format!("{c:?}"), format!("{cfg:?}")] {
        assert!(!dbg.contains(crypta_testkit::STORE_PASSWORD), "{dbg}");
    }
}

#[test]
fn real_jks_keystore_and_truststore() {
    let e = common::env();
    let ks = e
        .pki
        .keystore_jks(&e.pki.client, "real-keystore", true)
        .unwrap();
    let ts = e
        .pki
        .truststore_keytool(&e.pki.ca_cert, "real-truststore", true)
        .unwrap();
    assert_eq!(&std::fs::read(&ks).unwrap()[..4], &[0xFE, 0xED, 0xFE, 0xED]);
    let c = works(&config(ks, "jks", ts, "jks"));
    assert_eq!(c.keystore_info().found, StoreFormat::Jks);
    assert!(!c.keystore_info().type_mismatch());
    assert_eq!(c.keystore_info().alias.as_deref(), Some("kmipclient"));
    assert_eq!(c.truststore_info().found, StoreFormat::Jks);
}

#[test]
fn openssl_pkcs12_keystore_and_truststore() {
    let e = common::env();
    let ks = e
        .pki
        .keystore_p12(&e.pki.client, "openssl-keystore")
        .unwrap();
    let ts = e
        .pki
        .truststore_p12_openssl(&e.pki.ca_cert, "openssl-truststore")
        .unwrap();
    let c = works(&config(ks, "PKCS12", ts, "pkcs12"));
    assert_eq!(c.keystore_info().found, StoreFormat::Pkcs12);
    assert_eq!(c.truststore_info().found, StoreFormat::Pkcs12);
    assert_eq!(c.truststore_info().certificates, 1);
}

#[test]
fn pem_keystore_declared_as_jks_is_read_as_pem() {
    let e = common::env();
    let ks = e.pki.keystore_pem(&e.pki.client, "pem-keystore").unwrap();
    let c = works(&config(ks, "jks", e.pki.ca_cert.clone(), "pem"));
    assert_eq!(c.keystore_info().found, StoreFormat::Pem);
    assert!(c.keystore_info().type_mismatch());
}

#[test]
fn wrong_passwords_are_named_and_never_shown() {
    let e = common::env();
    for real_jks in [false, true] {
        let name = format!("pw-keystore-{real_jks}");
        let ks = e.pki.keystore_jks(&e.pki.client, &name, real_jks).unwrap();
        let mut cfg = config(ks.clone(), "jks", e.pki.ca_cert.clone(), "pem");
        cfg.keystore_password = Password::new("Sw0rdfish-guess");
        let err = KmipClient::new("stores", &cfg).unwrap_err();
        assert!(
            matches!(
                err,
                KmipError::Store {
                    role: "keystore",
                    ..
                }
            ),
            "{err:?}"
        );
        let text = err.to_string();
        assert!(text.contains("password is wrong"), "{text}");
        assert!(text.contains(&ks.display().to_string()), "{text}");
        assert!(!text.contains("Sw0rdfish") && !format!("{err:?}").contains("Sw0rdfish"));
    }
    let mut cfg = config(e.pki.ca_cert.clone(), "pem", e.pki.ca_cert.clone(), "pem");
    cfg.keystore_path = e.pki.dir().join("missing.jks");
    let err = KmipClient::new("stores", &cfg).unwrap_err().to_string();
    assert!(
        err.contains("keystore") && err.contains("missing.jks") && err.contains("cannot read"),
        "{err}"
    );
    // A CA certificate alone is no keystore.
    let err = KmipClient::new(
        "stores",
        &config(e.pki.ca_cert.clone(), "pem", e.pki.ca_cert.clone(), "pem"),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("no private key"), "{err}");
}
