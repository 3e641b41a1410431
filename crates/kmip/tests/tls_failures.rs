//! TLS failures named as such: a server whose CA is not in the truststore, and a client
//! certificate the server does not trust.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a failure must fail the test"
)]

mod common;

use crypta_kmip::{KmipClient, KmipError, KmipGroupConfig, Password, Step, TlsProblem};

#[test]
fn server_signed_by_an_unknown_ca() {
    let e = common::env();
    let mut cfg = common::pem_config(&e.pki, &e.server.host());
    cfg.truststore_path = e.pki.unrelated_ca().unwrap();
    let c = KmipClient::new("g", &cfg).unwrap();
    let err = c.discover_versions().unwrap_err();
    let KmipError::AllHostsFailed { failures, .. } = &err else {
        panic!("{err:?}");
    };
    assert_eq!(failures[0].step, Step::TlsHandshake);
    assert_eq!(failures[0].tls, Some(TlsProblem::UnknownCa));
    let text = err.to_string();
    eprintln!("{text}");
    assert!(text.contains("TLS handshake failed"), "{text}");
    assert!(text.contains("unknown CA"), "{text}");
    let report = c.check();
    assert!(!report.all_ok());
    assert!(report.to_string().contains("unknown CA"), "{report}");
}

#[test]
fn client_certificate_the_server_does_not_trust() {
    let e = common::env();
    let rogue = e.pki.untrusted_client().unwrap();
    let ks = e.pki.keystore_pem(&rogue, "rogue-keystore").unwrap();
    let cfg = KmipGroupConfig::new(
        e.server.host(),
        ks,
        Password::default(),
        &e.pki.ca_cert,
        Password::default(),
    );
    let c = KmipClient::new("g", &cfg).unwrap();
    let err = c.discover_versions().unwrap_err();
    let KmipError::AllHostsFailed { failures, .. } = &err else {
        panic!("{err:?}");
    };
    assert_eq!(failures[0].step, Step::TlsHandshake, "{err}");
    assert!(
        matches!(
            failures[0].tls,
            Some(TlsProblem::ClientCertificateRejected { .. })
        ),
        "{err}"
    );
    let text = err.to_string();
    eprintln!("{text}");
    assert!(text.contains("client certificate"), "{text}");
}

#[test]
fn check_reports_tls_and_kmip_versions_per_host() {
    let e = common::env();
    let refused = crypta_testkit::refused_port().unwrap();
    let hosts = format!("{}, 127.0.0.1:{refused}", e.server.host());
    let c = KmipClient::new("g", &common::pem_config(&e.pki, &hosts)).unwrap();
    let report = c.check();
    assert_eq!(report.hosts.len(), 2);
    let ok = report.hosts[0].outcome.as_ref().unwrap();
    assert_eq!(ok.tls_version, "TLSv1_2");
    assert!(
        ok.cipher_suite.starts_with("TLS_ECDHE_ECDSA_WITH_AES"),
        "{ok:?}"
    );
    assert!(
        ok.kmip_versions
            .iter()
            .any(|v| v.major == 1 && v.minor == 2),
        "{ok:?}"
    );
    let failed = report.hosts[1].outcome.as_ref().unwrap_err();
    assert_eq!(failed.step, Step::TcpConnect);
    assert!(!report.all_ok());
    let text = report.to_string();
    assert!(text.contains("OK, TLSv1_2"), "{text}");
    assert!(text.contains("FAILED 127.0.0.1:"), "{text}");
}

#[test]
fn protocol_and_cipher_suite_settings() {
    let e = common::env();
    // TLS 1.3 only: PyKMIP speaks TLS 1.2 only, so the handshake fails and says why.
    let mut cfg = common::pem_config(&e.pki, &e.server.host());
    cfg.protocol = Some("TLSv1.3".into());
    let err = KmipClient::new("g", &cfg)
        .unwrap()
        .discover_versions()
        .unwrap_err();
    let KmipError::AllHostsFailed { failures, .. } = &err else {
        panic!("{err:?}");
    };
    assert_eq!(failures[0].step, Step::TlsHandshake, "{err}");
    // An explicit suite PyKMIP accepts works.
    let mut cfg = common::pem_config(&e.pki, &e.server.host());
    cfg.protocol = Some("TLSv1.2".into());
    cfg.cipher_suites = Some(crypta_kmip::CipherSuites::Text(
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384".into(),
    ));
    let c = KmipClient::new("g", &cfg).unwrap();
    let report = c.check();
    let ok = report.hosts[0].outcome.as_ref().unwrap();
    assert_eq!(ok.cipher_suite, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384");
    // Unknown names are configuration errors that list what exists.
    cfg.cipher_suites = Some(crypta_kmip::CipherSuites::Text(
        "TLS_RSA_WITH_RC4_128_MD5".into(),
    ));
    let err = KmipClient::new("g", &cfg).unwrap_err().to_string();
    assert!(
        err.contains("cipher_suites") && err.contains("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"),
        "{err}"
    );
    cfg.cipher_suites = None;
    cfg.protocol = Some("TLSv1.1".into());
    let err = KmipClient::new("g", &cfg).unwrap_err().to_string();
    assert!(
        err.contains("protocol") && err.contains("obsolete"),
        "{err}"
    );
}
