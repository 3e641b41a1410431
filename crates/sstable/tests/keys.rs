#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on errors"
)]

//! Keys: the ids a file needs are listed without any key; a destroyed key, an unknown key
//! and a provider without the key each fail clearly, naming the key id.

mod common;

use std::sync::Arc;

use common::*;
use crypta_keys::{KeyManager, KeyProvider};
use crypta_sstable::{Component, Sstable, SstableError, key_ids, verify};

#[test]
fn key_ids_are_listed_without_keys() {
    let dir = tempfile::tempdir().unwrap();
    let keys = provider(dir.path());
    let path = at(&dir, "t.db");
    let info = write_n(&path, &aes_cbc(4), keys.clone(), 500);
    // Take the key file away: listing still works, opening does not.
    std::fs::rename(keys.path(), dir.path().join("elsewhere")).unwrap();
    let empty = dir.tempdir_keys();
    assert_eq!(key_ids(&path).unwrap(), info.metadata.key_ids);
    assert_eq!(info.metadata.key_ids.len(), 1);
    let err = Sstable::open(&path, empty, None).unwrap_err();
    match &err {
        SstableError::KeyUnavailable {
            key_id, component, ..
        } => {
            assert_eq!(key_id, &info.metadata.key_ids[0]);
            assert_eq!(*component, Component::Index);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(
        err.to_string().contains(info.metadata.key_ids[0].as_str()),
        "{err}"
    );
}

trait TempKeys {
    fn tempdir_keys(&self) -> Arc<dyn KeyProvider>;
}

impl TempKeys for tempfile::TempDir {
    /// A provider over a fresh, empty key file.
    fn tempdir_keys(&self) -> Arc<dyn KeyProvider> {
        provider(&self.path().join("other"))
    }
}

#[test]
fn destroyed_key_fails_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let keys = provider(dir.path());
    let path = at(&dir, "t.db");
    let opts = aes_cbc(4);
    write_n(&path, &opts, keys.clone(), 2000);
    let open_before = open(&path, keys.clone());
    let k = keys.current_key(&opts.key_spec().unwrap()).unwrap();
    keys.revoke(k.id(), false).unwrap();
    // Revoked keys still decrypt.
    check_n(&open(&path, keys.clone()), 2000);
    keys.destroy(k.id()).unwrap();
    let err = Sstable::open(&path, keys.clone(), None).unwrap_err();
    assert!(
        matches!(&err, SstableError::KeyUnavailable { key_id, source, .. }
            if key_id == k.id() && matches!(**source, crypta_keys::KeyError::Destroyed { .. })),
        "{err:?}"
    );
    assert!(err.to_string().contains("destroyed"), "{err}");
    // A table opened before the key was destroyed fails on the next chunk it decodes.
    let err = open_before.get(&key(1500)).unwrap_err();
    assert!(
        matches!(&err, SstableError::KeyUnavailable { key_id, component: Component::Data, .. } if key_id == k.id()),
        "{err:?}"
    );
    let err = verify(&path, keys).unwrap_err();
    assert!(
        matches!(err, SstableError::KeyUnavailable { .. }),
        "{err:?}"
    );
    // The ids are still listed, so `keys usage` can tell the file is lost with the key.
    assert_eq!(key_ids(&path).unwrap(), vec![k.id().clone()]);
}

#[test]
fn wrong_provider_fails_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let keys = provider(dir.path());
    let other = provider(&dir.path().join("other"));
    let path = at(&dir, "t.db");
    let opts = aes_cbc(4);
    let info = write_n(&path, &opts, keys.clone(), 100);
    // The other provider has a key for the same spec, with another id.
    other.current_key(&opts.key_spec().unwrap()).unwrap();
    let err = Sstable::open(&path, other, None).unwrap_err();
    let SstableError::KeyUnavailable { key_id, source, .. } = &err else {
        panic!("unexpected {err:?}");
    };
    assert_eq!(key_id, &info.metadata.key_ids[0]);
    assert!(matches!(**source, crypta_keys::KeyError::NotFound { .. }));
    let msg = err.to_string();
    assert!(
        msg.contains("t.db") && msg.contains(key_id.as_str()),
        "{msg}"
    );
}

#[test]
fn plaintext_tables_need_no_key() {
    let dir = tempfile::tempdir().unwrap();
    let keys = provider(dir.path());
    let path = at(&dir, "t.db");
    write_n(&path, &plain(4), keys, 100);
    let none = provider(&dir.path().join("none"));
    check_n(&open(&path, none), 100);
}
