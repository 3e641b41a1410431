//! `KeyCache`: one prepared key per (key, transformation), served only for the very `Arc<Key>`
//! it was made from.

use std::sync::Arc;

use crypta_keys::{Algorithm, Key, KeyId, KeyInfo, KeyMaterial, KeyState, Timestamp};

use super::{CACHE_CAP, KeyCache};
use crate::Transformation;

fn key(id: &str, byte: u8) -> Arc<Key> {
    let info = KeyInfo {
        id: KeyId::new(id).unwrap(),
        name: None,
        algorithm: Algorithm::Aes,
        strength: 128,
        state: KeyState::Active,
        namespace: None,
        created: Timestamp(0),
        activated: Some(Timestamp(0)),
        protect_stop: None,
        deactivated: None,
    };
    Arc::new(Key::new(info, KeyMaterial::new(vec![byte; 16])).unwrap())
}

fn t(s: &str) -> Transformation {
    s.parse().unwrap()
}

fn len(cache: &KeyCache) -> usize {
    cache.entries.read().unwrap().len()
}

#[test]
fn one_prepared_key_per_key_and_transformation() {
    let cache = KeyCache::default();
    let k = key("k1", 1);
    let cbc = cache.prepared(t("AES/CBC/PKCS5Padding"), &k).unwrap();
    let again = cache.prepared(t("AES/CBC/PKCS5Padding"), &k).unwrap();
    assert!(Arc::ptr_eq(&cbc, &again));
    let ecb = cache.prepared(t("AES/ECB/PKCS5Padding"), &k).unwrap();
    assert!(
        !Arc::ptr_eq(&cbc, &ecb),
        "another transformation, another entry"
    );
    assert!(Arc::ptr_eq(
        &ecb,
        &cache.prepared(t("AES/ECB/PKCS5Padding"), &k).unwrap()
    ));
    let other = cache
        .prepared(t("AES/CBC/PKCS5Padding"), &key("k2", 2))
        .unwrap();
    assert!(!Arc::ptr_eq(&cbc, &other), "another key, another entry");
    assert_eq!(len(&cache), 3);
}

#[test]
fn a_key_handed_out_anew_is_prepared_anew_and_replaces_the_old_entry() {
    // A provider that reloads its file hands out a new `Arc<Key>` with the same id (possibly
    // new state or material): never serve what was prepared from the old one.
    let cache = KeyCache::default();
    let cbc = t("AES/CBC/PKCS5Padding");
    let old = key("k1", 1);
    let new = key("k1", 9);
    let p_old = cache.prepared(cbc, &old).unwrap();
    let p_new = cache.prepared(cbc, &new).unwrap();
    assert!(!Arc::ptr_eq(&p_old, &p_new));
    assert_eq!(len(&cache), 1, "one entry per id and transformation");
    // The old key again (a reader still holding it): prepared again, not served the new one.
    let p_old2 = cache.prepared(cbc, &old).unwrap();
    assert!(!Arc::ptr_eq(&p_old2, &p_new) && !Arc::ptr_eq(&p_old2, &p_old));
    assert_eq!(len(&cache), 1);
    // Same id, same material, but a distinct Arc: still a miss (identity, not equality).
    let twin = key("k1", 1);
    assert!(!Arc::ptr_eq(&cache.prepared(cbc, &twin).unwrap(), &p_old2));
}

#[test]
fn holds_at_most_the_cap_and_refuses_a_key_of_another_algorithm() {
    let cache = KeyCache::default();
    let cbc = t("AES/CBC/PKCS5Padding");
    for i in 0..3 * CACHE_CAP {
        cache.prepared(cbc, &key(&format!("k{i}"), 1)).unwrap();
        assert!(len(&cache) <= CACHE_CAP);
    }
    let before = len(&cache);
    assert!(
        cache
            .prepared(t("DES/CBC/PKCS5Padding"), &key("aes", 1))
            .is_err()
    );
    assert_eq!(len(&cache), before, "nothing cached for a refused key");
}
