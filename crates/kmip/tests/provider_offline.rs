//! While no server answers, cached keys keep serving; keys never fetched fail clearly; a
//! group that cannot be reached at startup is named with its hosts.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a failure must fail the test"
)]

mod common;

use std::time::Duration;

use crypta_keys::{Algorithm, KeyError, KeyId, KeyProvider};
use crypta_kmip::KmipKeyProvider;
use crypta_testkit::{KmipServer, refused_port};

#[test]
fn cached_keys_serve_while_the_server_is_stopped() {
    let e = common::env();
    // A server of this test's own, since it is stopped.
    let mut server = KmipServer::start(&e.pki).unwrap();
    let mut cfg = common::pem_config(&e.pki, &server.host());
    cfg.key_cache_millis = 300;
    cfg.timeout = 300;
    let p = KmipKeyProvider::new("offline", &cfg).unwrap();
    let spec = common::spec(Algorithm::Aes, 128, "ks_offline");
    let current = p.current_key(&spec).unwrap();
    let other = p
        .current_key(&common::spec(Algorithm::Aes, 256, "ks_offline"))
        .unwrap();
    let never = KmipKeyProvider::new("offline", &cfg)
        .unwrap()
        .current_key(&common::spec(Algorithm::Aes, 192, "ks_offline"))
        .unwrap();
    server.stop();
    std::thread::sleep(Duration::from_millis(400));
    // Past key_cache_millis, with the server down: the cached keys still serve.
    for _ in 0..2 {
        assert_eq!(p.current_key(&spec).unwrap().id(), current.id());
        assert_eq!(
            p.key_by_id(other.id()).unwrap().material().expose(),
            other.material().expose()
        );
        std::thread::sleep(Duration::from_millis(350));
    }
    // A key this node never fetched cannot be served, and the error says why.
    let err = p.key_by_id(never.id()).unwrap_err();
    assert!(matches!(err, KeyError::Unavailable { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains(never.id().as_str()), "{text}");
    assert!(text.contains("KMIP group offline (127.0.0.1:"), "{text}");
    assert!(text.contains("never fetched"), "{text}");
    assert!(text.contains("TCP connect failed"), "{text}");
    // Nor a spec it never had a key for.
    let err = p
        .current_key(&common::spec(Algorithm::Blowfish, 128, "ks_offline"))
        .unwrap_err();
    assert!(matches!(err, KeyError::NoKeyFor { .. }), "{err}");
}

#[test]
fn unreachable_group_at_startup_names_group_and_hosts() {
    let e = common::env();
    let (a, b) = (refused_port().unwrap(), refused_port().unwrap());
    let cfg = common::pem_config(&e.pki, &format!("127.0.0.1:{a}, 127.0.0.1:{b}"));
    let p = KmipKeyProvider::new("kmip_down", &cfg).unwrap();
    let err = p
        .current_key(&common::spec(Algorithm::Aes, 128, "ks"))
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("kmip_down"), "{text}");
    assert!(
        text.contains(&format!("127.0.0.1:{a}")) && text.contains(&format!("127.0.0.1:{b}")),
        "{text}"
    );
    let err = p.key_by_id(&KeyId::new("1").unwrap()).unwrap_err();
    assert!(matches!(err, KeyError::Unavailable { .. }), "{err}");
}
