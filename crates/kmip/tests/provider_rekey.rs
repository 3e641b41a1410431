//! The HCD rekey procedure on the key provider: revoke, new writes under a new key within
//! key_cache_millis, old data still decrypts, destroy, then a clear error.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a failure must fail the test"
)]

mod common;

use std::time::Duration;

use crypta_keys::{Algorithm, KeyError, KeyManager, KeyProvider, KeyState};

#[test]
fn revoke_wait_then_destroy() {
    let cache = 1_500;
    let node_a = common::provider(cache);
    let node_b = common::provider(cache);
    let spec = common::spec(Algorithm::Aes, 128, "ks_rekey");
    let old = node_a.current_key(&spec).unwrap();
    assert_eq!(node_b.current_key(&spec).unwrap().id(), old.id());
    assert_eq!(node_b.key_by_id(old.id()).unwrap().id(), old.id());

    // Revoke through node A (`crypta keys revoke`): A switches at once.
    let info = node_a.revoke(old.id(), false).unwrap();
    assert_eq!(info.state, KeyState::Deactivated);
    let new = node_a.current_key(&spec).unwrap();
    assert_ne!(new.id(), old.id());
    // Node B keeps its cached key until key_cache_millis passes, then switches.
    assert_eq!(node_b.current_key(&spec).unwrap().id(), old.id());
    std::thread::sleep(Duration::from_millis(cache + 200));
    assert_eq!(node_b.current_key(&spec).unwrap().id(), new.id());

    // Data under the revoked key still decrypts, on both nodes and on a fresh one.
    for p in [&node_a, &node_b, &common::provider(cache)] {
        let k = p.key_by_id(old.id()).unwrap();
        assert_eq!(k.material().expose(), old.material().expose());
        assert_eq!(k.info.state, KeyState::Deactivated);
    }

    // Revoking twice, or destroying an Active key, is refused with a hint.
    let err = node_a.revoke(old.id(), false).unwrap_err();
    assert!(matches!(err, KeyError::InvalidTransition { .. }), "{err}");
    let err = node_a.destroy(new.id()).unwrap_err().to_string();
    assert!(
        err.contains("cannot destroy key") && err.contains("revoke it first"),
        "{err}"
    );

    // Destroy the old key: nodes that had it cached say it was destroyed after the cache
    // expires; a node that never had it says the server does not have it.
    let info = node_a.destroy(old.id()).unwrap();
    assert_eq!(info.state, KeyState::Destroyed);
    let err = node_a.key_by_id(old.id()).unwrap_err();
    assert!(matches!(err, KeyError::NotFound { .. }), "{err}");
    std::thread::sleep(Duration::from_millis(cache + 200));
    let err = node_b.key_by_id(old.id()).unwrap_err();
    assert!(matches!(err, KeyError::Destroyed { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains(old.id().as_str()) && text.contains("KMIP group kmip_group1 (127.0.0.1:"),
        "{text}"
    );
    let err = common::provider(cache).key_by_id(old.id()).unwrap_err();
    assert!(matches!(err, KeyError::NotFound { .. }), "{err}");
    assert!(
        err.to_string().contains("destroyed, or never existed"),
        "{err}"
    );
    // It is gone from the list.
    assert!(node_a.list().unwrap().iter().all(|k| k.id != *old.id()));
    // The new key carries on.
    assert_eq!(node_b.current_key(&spec).unwrap().id(), new.id());
}

#[test]
fn compromised_keys_decrypt_but_never_encrypt() {
    let p = common::provider(60_000);
    let spec = common::spec(Algorithm::Aes, 256, "ks_compromised");
    let old = p.current_key(&spec).unwrap();
    let info = p.revoke(old.id(), true).unwrap();
    assert_eq!(info.state, KeyState::Compromised);
    assert_ne!(p.current_key(&spec).unwrap().id(), old.id());
    assert_eq!(
        p.key_by_id(old.id()).unwrap().info.state,
        KeyState::Compromised
    );
}
