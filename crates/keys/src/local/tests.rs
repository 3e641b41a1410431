use std::os::unix::fs::PermissionsExt;
use std::time::Instant;

use super::*;

fn spec(alg: Algorithm, bits: u32, ns: Option<&str>) -> KeySpec {
    KeySpec::new(alg, bits, ns.map(String::from)).unwrap()
}

fn provider(dir: &tempfile::TempDir) -> LocalKeyProvider {
    LocalKeyProvider::open(dir.path().join("keys/system_key"))
        .unwrap()
        .with_refresh(Duration::ZERO)
}

#[test]
fn generates_one_key_per_spec_and_persists_it_0600() {
    let dir = tempfile::tempdir().unwrap();
    let p = provider(&dir);
    let a = p.current_key(&spec(Algorithm::Aes, 128, None)).unwrap();
    let b = p.current_key(&spec(Algorithm::Aes, 128, None)).unwrap();
    assert_eq!(a.id(), b.id());
    assert_eq!(a.material().len(), 16);
    let c = p
        .current_key(&spec(Algorithm::Aes, 128, Some("ks1")))
        .unwrap();
    assert_ne!(a.id(), c.id());
    let d = p.current_key(&spec(Algorithm::DesEde, 112, None)).unwrap();
    let m = d.material().expose();
    assert_eq!(m.len(), 24);
    assert_eq!(m[..8], m[16..], "two-key 3DES repeats K1 as K3");
    assert!(m.iter().all(|b| b.count_ones() % 2 == 1), "DES parity");

    let mode = fs::metadata(p.path()).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let reopened = LocalKeyProvider::open(p.path()).unwrap();
    let again = reopened.key_by_id(a.id()).unwrap();
    assert_eq!(again.material(), a.material());
    assert_eq!(reopened.list().unwrap().len(), 3);
}

#[test]
fn revoke_stops_encryption_but_not_decryption() {
    let dir = tempfile::tempdir().unwrap();
    let p = provider(&dir);
    let s = spec(Algorithm::Aes, 256, None);
    let old = p.current_key(&s).unwrap();
    let info = p.revoke(old.id(), false).unwrap();
    assert_eq!(info.state, KeyState::Deactivated);
    let new = p.current_key(&s).unwrap();
    assert_ne!(new.id(), old.id());
    let back = p.key_by_id(old.id()).unwrap();
    assert_eq!(back.material(), old.material());
    assert_eq!(back.info.state, KeyState::Deactivated);
    // Revoking again is refused; compromise is still recordable.
    assert!(p.revoke(old.id(), false).is_err());
    assert_eq!(
        p.revoke(old.id(), true).unwrap().state,
        KeyState::Compromised
    );
}

#[test]
fn expire_in_the_past_rotates_and_in_the_future_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let p = provider(&dir);
    let s = spec(Algorithm::Blowfish, 128, None);
    let k = p.current_key(&s).unwrap();
    p.expire(k.id(), Timestamp::now().plus(Duration::from_secs(3600)))
        .unwrap();
    assert_eq!(p.current_key(&s).unwrap().id(), k.id());
    p.expire(k.id(), Timestamp(1)).unwrap();
    let k2 = p.current_key(&s).unwrap();
    assert_ne!(k2.id(), k.id());
    assert!(p.key_by_id(k.id()).is_ok(), "expired keys still decrypt");
}

#[test]
fn destroy_needs_revoke_first_and_then_reads_fail_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let p = provider(&dir);
    let k = p.current_key(&spec(Algorithm::Rc2, 64, None)).unwrap();
    let err = p.destroy(k.id()).unwrap_err().to_string();
    assert!(err.contains("revoke it first"), "{err}");
    p.revoke(k.id(), false).unwrap();
    assert_eq!(p.destroy(k.id()).unwrap().state, KeyState::Destroyed);
    let err = p.key_by_id(k.id()).unwrap_err();
    assert!(matches!(err, KeyError::Destroyed { .. }), "{err}");
    assert!(err.to_string().contains(k.id().as_str()));
    // The material is gone from the file too.
    let bytes = fs::read(p.path()).unwrap();
    let m = k.material().expose();
    assert!(!bytes.windows(m.len()).any(|w| w == m));
    // Unknown ids are NotFound, not Destroyed.
    let unknown = KeyId::new("nope").unwrap();
    assert!(matches!(
        p.key_by_id(&unknown).unwrap_err(),
        KeyError::NotFound { .. }
    ));
    let err = p.key_by_id(&unknown).unwrap_err().to_string();
    assert!(!err.contains("does not exist"), "{err}");
    // A process that finds no key file at all says so when asked for a key.
    fs::remove_file(p.path()).unwrap();
    let fresh = provider(&dir);
    let err = fresh.key_by_id(k.id()).unwrap_err().to_string();
    assert!(err.contains("(the file does not exist)"), "{err}");
    // ... and makes no new key file where one was (its lock file says so): a restored file
    // would otherwise lose what the new one's keys encrypted.
    let err = fresh
        .current_key(&spec(Algorithm::Rc2, 64, None))
        .unwrap_err();
    assert!(matches!(err, KeyError::KeyFileMissing { .. }), "{err}");
    assert!(err.to_string().contains("restore it from backup"), "{err}");
    assert!(!fresh.path().exists());
    // Deleting the lock file says the old keys are lost for good: a new file is made.
    fs::remove_file(file::lock_path(fresh.path())).unwrap();
    let new = fresh.current_key(&spec(Algorithm::Rc2, 64, None)).unwrap();
    assert_ne!(new.id(), k.id());
    assert!(fresh.path().is_file());
}

#[test]
fn two_providers_on_one_file_see_each_others_keys() {
    let dir = tempfile::tempdir().unwrap();
    let a = provider(&dir);
    let b = provider(&dir);
    let ka = a
        .current_key(&spec(Algorithm::Aes, 128, Some("x")))
        .unwrap();
    let kb = b
        .current_key(&spec(Algorithm::Aes, 128, Some("y")))
        .unwrap();
    // b's update re-read the file under the lock, so a's key survived.
    assert_eq!(b.key_by_id(ka.id()).unwrap().material(), ka.material());
    assert_eq!(a.key_by_id(kb.id()).unwrap().material(), kb.material());
    assert_eq!(a.list().unwrap().len(), 2);
    // a revoke in one is seen by the other at its next refresh.
    a.revoke(ka.id(), false).unwrap();
    let kb2 = b
        .current_key(&spec(Algorithm::Aes, 128, Some("x")))
        .unwrap();
    assert_ne!(kb2.id(), ka.id());
}

#[test]
fn refuses_group_readable_corrupt_and_vanished_files() {
    let dir = tempfile::tempdir().unwrap();
    let p = provider(&dir);
    p.current_key(&spec(Algorithm::Aes, 128, None)).unwrap();
    let path = p.path().to_path_buf();

    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    let err = LocalKeyProvider::open(&path).unwrap_err();
    assert!(matches!(err, KeyError::InsecurePermissions { .. }), "{err}");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();

    let mut bytes = fs::read(&path).unwrap();
    let last = bytes.len() - 10;
    bytes[last] ^= 1;
    fs::write(&path, &bytes).unwrap();
    let err = LocalKeyProvider::open(&path).unwrap_err().to_string();
    assert!(err.contains("checksum mismatch"), "{err}");
    assert!(err.contains("system_key"), "{err}");
    // The running provider refuses to overwrite a damaged file.
    assert!(p.current_key(&spec(Algorithm::Aes, 192, None)).is_err());

    fs::remove_file(&path).unwrap();
    let err = p.current_key(&spec(Algorithm::Aes, 256, None)).unwrap_err();
    assert!(
        matches!(err, KeyError::KeyFileVanished { keys: 1, .. }),
        "{err}"
    );
}

#[test]
fn invalid_specs_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = provider(&dir);
    let bad = KeySpec {
        algorithm: Algorithm::Aes,
        strength: 64,
        namespace: None,
    };
    assert!(matches!(
        p.current_key(&bad).unwrap_err(),
        KeyError::InvalidStrength { .. }
    ));
    assert!(!p.path().exists(), "nothing written for a refused spec");
}

/// A second provider on the file of `p`, caching for `refresh`.
fn other_instance(p: &LocalKeyProvider, refresh: Duration) -> LocalKeyProvider {
    LocalKeyProvider::open(p.path())
        .unwrap()
        .with_refresh(refresh)
}

const REFRESH: Duration = Duration::from_millis(300);
/// More than a kernel tick: the provider's coarse clock may find a check due this much early.
const TICK: Duration = Duration::from_millis(20);

#[test]
fn a_key_destroyed_by_another_instance_is_refused_after_the_refresh_period_even_if_cached() {
    let dir = tempfile::tempdir().unwrap();
    let admin = provider(&dir);
    let k = admin.current_key(&spec(Algorithm::Aes, 128, None)).unwrap();
    let reader = other_instance(&admin, REFRESH);
    let checked = Instant::now();
    assert_eq!(reader.key_by_id(k.id()).unwrap().material(), k.material());

    admin.revoke(k.id(), false).unwrap();
    admin.destroy(k.id()).unwrap();
    // Within the refresh period the reader may serve its cached copy (and does, unless this
    // thread was held up past the period).
    let early = reader.key_by_id(k.id());
    if checked.elapsed() + TICK < REFRESH {
        assert!(early.is_ok(), "served from the cache within the period");
    }
    std::thread::sleep(REFRESH);
    let err = reader.key_by_id(k.id()).unwrap_err();
    assert!(matches!(err, KeyError::Destroyed { .. }), "{err}");
    // And it stays refused.
    assert!(reader.key_by_id(k.id()).is_err());
}

#[test]
fn revoke_and_expire_by_another_instance_are_seen_after_the_refresh_period() {
    let dir = tempfile::tempdir().unwrap();
    let admin = provider(&dir);
    let s = spec(Algorithm::Aes, 256, Some("ks"));
    let k = admin.current_key(&s).unwrap();
    let reader = other_instance(&admin, REFRESH);
    assert_eq!(reader.current_key(&s).unwrap().id(), k.id());

    admin.revoke(k.id(), false).unwrap();
    std::thread::sleep(REFRESH);
    let back = reader.key_by_id(k.id()).unwrap();
    assert_eq!(
        back.info.state,
        KeyState::Deactivated,
        "revoked keys decrypt"
    );
    let k2 = reader.current_key(&s).unwrap();
    assert_ne!(k2.id(), k.id(), "a revoked key no longer encrypts");

    admin.expire(k2.id(), Timestamp(1)).unwrap();
    std::thread::sleep(REFRESH);
    let back = reader.key_by_id(k2.id()).unwrap();
    assert_eq!(
        back.info.protect_stop,
        Some(Timestamp(1)),
        "expired keys decrypt"
    );
    assert_ne!(reader.current_key(&s).unwrap().id(), k2.id());
}

#[test]
fn the_file_is_checked_once_per_refresh_period() {
    let dir = tempfile::tempdir().unwrap();
    let admin = provider(&dir);
    let k = admin.current_key(&spec(Algorithm::Aes, 128, None)).unwrap();
    let reader = other_instance(&admin, REFRESH);
    reader.key_by_id(k.id()).unwrap();
    // The first call after a period checks the file; the calls after it, within the next
    // period, do not.
    std::thread::sleep(REFRESH);
    let checked = Instant::now();
    reader.key_by_id(k.id()).unwrap();
    fs::remove_file(admin.path()).unwrap();
    let early = reader.key_by_id(k.id());
    if checked.elapsed() + TICK < REFRESH {
        assert!(early.is_ok(), "no check within the period");
    }
    std::thread::sleep(REFRESH);
    let err = reader.key_by_id(k.id()).unwrap_err();
    assert!(
        matches!(err, KeyError::KeyFileVanished { keys: 1, .. }),
        "{err}"
    );
}

#[test]
fn readers_on_many_threads_all_see_a_destroy_and_never_unsee_it() {
    let dir = tempfile::tempdir().unwrap();
    let admin = provider(&dir);
    let k = admin.current_key(&spec(Algorithm::Aes, 128, None)).unwrap();
    let reader = other_instance(&admin, Duration::from_millis(20));
    reader.key_by_id(k.id()).unwrap();
    admin.revoke(k.id(), false).unwrap();
    std::thread::scope(|s| {
        let threads: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    let deadline = Instant::now() + Duration::from_secs(20);
                    loop {
                        match reader.key_by_id(k.id()) {
                            Ok(key) => assert_eq!(key.material(), k.material()),
                            Err(KeyError::Destroyed { .. }) => break,
                            Err(e) => panic!("{e}"),
                        }
                        assert!(Instant::now() < deadline, "the destroy was never seen");
                    }
                    // Once refused, always refused.
                    for _ in 0..1000 {
                        let err = reader.key_by_id(k.id()).unwrap_err();
                        assert!(matches!(err, KeyError::Destroyed { .. }), "{err}");
                    }
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(50));
        admin.destroy(k.id()).unwrap();
        for t in threads {
            t.join().unwrap();
        }
    });
}
