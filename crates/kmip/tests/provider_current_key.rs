//! The key provider makes, finds and caches the key to encrypt with, for every cipher.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a failure must fail the test"
)]

mod common;

use crypta_keys::{Algorithm, KeyManager, KeyProvider, KeySpec, KeyState, Timestamp};
use crypta_kmip::{DEFAULT_OBJECT_GROUP, KmipClient, LocateFilter};

#[test]
fn creates_activates_and_reuses_one_key_per_spec() {
    let p = common::provider(60_000);
    let spec = common::spec(Algorithm::Aes, 256, "ks_reuse");
    let before = Timestamp::now();
    let k1 = p.current_key(&spec).unwrap();
    assert_eq!(k1.info.state, KeyState::Active);
    assert_eq!(k1.info.namespace.as_deref(), Some("ks_reuse"));
    assert_eq!(k1.material().len(), 32);
    assert!(
        k1.info
            .name
            .as_deref()
            .unwrap()
            .starts_with("crypta_ks_reuse_AES_256_")
    );
    let activated = k1.info.activated.unwrap();
    assert!(
        activated.secs() + 1 >= before.secs(),
        "{activated} vs {before}"
    );
    // Cached: the same key.
    assert_eq!(p.current_key(&spec).unwrap().id(), k1.id());
    // Another node (no cache) locates the same key instead of making a second one.
    let other = common::provider(60_000);
    let k2 = other.current_key(&spec).unwrap();
    assert_eq!(k2.id(), k1.id());
    assert_eq!(k2.material().expose(), k1.material().expose());
    // And decrypts with it by id.
    let by_id = common::provider(60_000).key_by_id(k1.id()).unwrap();
    assert_eq!(by_id.material().expose(), k1.material().expose());
    // Exactly one key exists in the group.
    let ids = common::client()
        .locate(&LocateFilter {
            object_group: Some("ks_reuse".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(ids, [k1.id().to_string()]);
}

#[test]
fn every_cipher_and_strength() {
    let p = common::provider(60_000);
    for (alg, bits, len) in [
        (Algorithm::Aes, 128, 16),
        (Algorithm::Aes, 192, 24),
        (Algorithm::DesEde, 112, 16),
        (Algorithm::DesEde, 168, 24),
        (Algorithm::Blowfish, 448, 56),
        (Algorithm::Des, 56, 8),
        (Algorithm::Rc2, 128, 16),
    ] {
        let spec = common::spec(alg, bits, "ks_ciphers");
        let k = p.current_key(&spec).unwrap();
        assert_eq!((k.info.algorithm, k.info.strength), (alg, bits));
        assert_eq!(k.material().len(), len, "{alg} {bits}");
        assert_eq!(p.current_key(&spec).unwrap().id(), k.id());
    }
}

#[test]
fn namespaces_are_object_groups() {
    let p = common::provider(60_000);
    let a = p
        .current_key(&common::spec(Algorithm::Aes, 128, "ks_a"))
        .unwrap();
    let b = p
        .current_key(&common::spec(Algorithm::Aes, 128, "ks_b"))
        .unwrap();
    assert_ne!(a.id(), b.id());
    let d = p
        .current_key(&KeySpec::new(Algorithm::Aes, 128, None).unwrap())
        .unwrap();
    assert_eq!(d.info.namespace, None);
    let attrs = common::client().get_attributes(d.id().as_str()).unwrap();
    assert_eq!(attrs.object_groups, [DEFAULT_OBJECT_GROUP]);
    let attrs = common::client().get_attributes(a.id().as_str()).unwrap();
    assert_eq!(attrs.object_groups, ["ks_a"]);
}

#[test]
fn skips_active_keys_past_their_protect_stop_date() {
    let p = common::provider(60_000);
    let spec = common::spec(Algorithm::Aes, 128, "ks_stop");
    let old = p.current_key(&spec).unwrap();
    // Expire it now: the server stays Active, but crypta must not encrypt with it again.
    let info = p.expire(old.id(), Timestamp::now()).unwrap();
    assert!(info.protect_stop.is_some());
    assert_eq!(info.state, KeyState::Active);
    let new = p.current_key(&spec).unwrap();
    assert_ne!(new.id(), old.id());
    // Another node, without cache, also skips it.
    assert_eq!(
        common::provider(60_000).current_key(&spec).unwrap().id(),
        new.id()
    );
    // Still decrypts.
    assert_eq!(
        p.key_by_id(old.id()).unwrap().material().expose(),
        old.material().expose()
    );
    // The list shows what the HCD table shows.
    let listed = p.list().unwrap();
    let row = listed.iter().find(|k| k.id == *old.id()).unwrap();
    assert_eq!(row.protect_stop, info.protect_stop);
    assert_eq!(row.namespace.as_deref(), Some("ks_stop"));
    assert!(row.activated.is_some() && row.name.is_some());
    assert!(row.created.secs() > 0);
    // A future protect stop date leaves the key in use.
    let later = Timestamp::now().plus(std::time::Duration::from_secs(3600));
    p.expire(new.id(), later).unwrap();
    assert_eq!(
        common::provider(60_000).current_key(&spec).unwrap().id(),
        new.id()
    );
}

#[test]
fn keys_made_elsewhere_are_found_by_locate() {
    // A key made and activated by another tool in the group is used rather than a new one.
    let c: KmipClient = common::client();
    let id = c
        .create_symmetric_key(&crypta_kmip::NewKey {
            algorithm: Algorithm::Aes,
            strength: 192,
            name: Some("made-by-hand".into()),
            object_group: Some("ks_foreign".into()),
            application_info: vec![],
        })
        .unwrap();
    c.activate(&id).unwrap();
    let k = common::provider(60_000)
        .current_key(&common::spec(Algorithm::Aes, 192, "ks_foreign"))
        .unwrap();
    assert_eq!(k.id().as_str(), id);
    assert_eq!(k.info.name.as_deref(), Some("made-by-hand"));
}
