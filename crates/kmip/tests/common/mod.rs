//! Shared setup of the KMIP integration tests: a PKI and a real pykmip-server.
#![allow(
    dead_code,
    reason = "each test binary uses a different part of this module"
)]
#![expect(
    clippy::unwrap_used,
    reason = "test setup: a failure must fail the test"
)]

use std::sync::OnceLock;

use crypta_kmip::{KmipClient, KmipGroupConfig, Password};
use crypta_testkit::{KmipServer, Pki, STORE_PASSWORD};

/// A PKI and a server shared by the tests of one test binary. The server is killed when the
/// test process exits (its supervisor sees its stdin close).
pub struct Env {
    pub pki: Pki,
    pub server: KmipServer,
}

pub fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| {
        // Under target/tmp: a static is never dropped, so its directory is not removed.
        let pki = Pki::new_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
        let server = KmipServer::start(&pki).unwrap();
        Env { pki, server }
    })
}

/// A group config for `hosts` with PEM stores made from the PKI's client files.
pub fn pem_config(pki: &Pki, hosts: &str) -> KmipGroupConfig {
    static KEYSTORE: OnceLock<std::path::PathBuf> = OnceLock::new();
    let ks = if std::ptr::eq(pki, &env().pki) {
        KEYSTORE
            .get_or_init(|| pki.keystore_pem(&pki.client, "client-keystore").unwrap())
            .clone()
    } else {
        pki.keystore_pem(&pki.client, "client-keystore").unwrap()
    };
    KmipGroupConfig::new(
        hosts,
        ks,
        Password::default(),
        &pki.ca_cert,
        Password::default(),
    )
}

/// A client of the shared server with PEM stores.
pub fn client() -> KmipClient {
    let e = env();
    KmipClient::new("g1", &pem_config(&e.pki, &e.server.host())).unwrap()
}

pub fn password() -> Password {
    Password::new(STORE_PASSWORD)
}

/// A key provider for the shared server with a key cache of `cache_ms`.
pub fn provider(cache_ms: u64) -> crypta_kmip::KmipKeyProvider {
    let e = env();
    let mut cfg = pem_config(&e.pki, &e.server.host());
    cfg.key_cache_millis = cache_ms;
    crypta_kmip::KmipKeyProvider::new("kmip_group1", &cfg).unwrap()
}

/// A spec in a namespace of its own (so that tests sharing a server do not see each other's
/// keys).
pub fn spec(alg: crypta_keys::Algorithm, bits: u32, ns: &str) -> crypta_keys::KeySpec {
    crypta_keys::KeySpec::new(alg, bits, Some(ns.to_string())).unwrap()
}
