//! One table whose SSTable cannot be opened (its key destroyed, the file damaged) makes that
//! table unavailable, not the engine: other tables read and write, the table refuses reads,
//! writes and rewrites with an error naming it and the file, its rows replayed from the
//! commit log stay there, `keys usage` still counts its file, and it can be dropped.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod common;

use std::ops::Bound;

use common::{KS, open};
use crypta::Error;
use crypta_keys::KeyManager;

const ENC: &str = "CREATE TABLE ks.enc (id text PRIMARY KEY, v text) WITH compression = \
     {'class': 'Encryptor', 'cipher_algorithm': 'AES/CBC/PKCS5Padding', 'secret_key_strength': 256}";

fn unavailable(r: Result<impl std::fmt::Debug, Error>, file: &str) {
    match r {
        Err(Error::TableUnavailable {
            table,
            files,
            reason,
        }) => {
            assert_eq!((table.as_str(), files), ("ks.enc", 1));
            assert!(reason.contains(file), "{reason}");
        }
        other => panic!("expected ks.enc to be unavailable, got {other:?}"),
    }
}

#[test]
fn a_table_whose_file_does_not_open_is_unavailable_alone() {
    for damage in ["destroyed key", "flipped byte"] {
        let dir = tempfile::tempdir().unwrap();
        let e = open(dir.path(), true);
        e.execute_cql(KS).unwrap();
        e.execute_cql("CREATE TABLE ks.plain (id text PRIMARY KEY, v text)")
            .unwrap();
        e.execute_cql(ENC).unwrap();
        e.put("ks.plain", b"p", b"plain row").unwrap();
        e.put("ks.enc", b"e", b"secret row").unwrap();
        e.flush(&[]).unwrap();
        // Written after the flush: only in the commit log when the engine reopens.
        e.put("ks.enc", b"late", b"in the log").unwrap();
        let usage = e.key_usage().unwrap();
        let (key, files) = usage
            .by_key
            .iter()
            .find(|(_, files)| {
                files
                    .iter()
                    .any(|f| f.to_string_lossy().contains("ks-enc-"))
            })
            .map(|(k, f)| (k.clone(), f.clone()))
            .unwrap();
        let sstable = files
            .iter()
            .find(|f| f.to_string_lossy().contains("ks-enc-"))
            .unwrap()
            .clone();
        let name = sstable.file_name().unwrap().to_string_lossy().to_string();
        match damage {
            "destroyed key" => {
                e.keys().local().revoke(&key, false).unwrap();
                e.destroy_key(&key, None, true).unwrap();
            }
            _ => {
                let mut bytes = std::fs::read(&sstable).unwrap();
                bytes[3] ^= 0x10;
                std::fs::write(&sstable, bytes).unwrap();
            }
        }
        drop(e);

        let e = open(dir.path(), true);
        assert_eq!(
            e.get("ks.plain", b"p").unwrap(),
            Some(b"plain row".to_vec())
        );
        e.put("ks.plain", b"p2", b"more").unwrap();
        unavailable(e.get("ks.enc", b"e"), &name);
        // The row replayed from the log is not served either: the table's answer would be
        // partial.
        unavailable(e.get("ks.enc", b"late"), &name);
        unavailable(e.put("ks.enc", b"x", b"y"), &name);
        unavailable(
            e.scan("ks.enc", Bound::Unbounded, Bound::Unbounded, None),
            &name,
        );
        unavailable(e.verify(&["ks.enc".to_string()]), &name);
        unavailable(e.compact(&["ks.enc".to_string()]), &name);
        let named = crypta::UpgradeOptions {
            include_all: true,
            ..Default::default()
        };
        unavailable(
            e.upgradesstables(&["ks.enc".to_string()], &named, &|_| {}),
            &name,
        );
        // Over all tables, it is skipped.
        e.compact(&[]).unwrap();
        e.flush(&[]).unwrap();
        // Its file still counts for its key (read without decrypting), or is reported as
        // unreadable; either way a destroy without --force cannot overlook it.
        let usage = e.key_usage().unwrap();
        let counted = usage.files_for(&key).is_some_and(|f| f.contains(&sstable));
        let unreadable = usage.unreadable.iter().any(|(f, _)| f == &sstable);
        assert!(counted != unreadable, "{damage}: {usage:?}");
        if unreadable {
            let other = usage.by_key.keys().next().unwrap().clone();
            assert!(matches!(
                e.destroy_key(&other, None, false),
                Err(Error::KeyUsageUnknown { .. })
            ));
        }
        drop(e);

        // Reopened: still unavailable, and the row written before the reopen is still in
        // the commit log (nothing was flushed without the table's files).
        let e = open(dir.path(), true);
        unavailable(e.get("ks.enc", b"late"), &name);
        e.execute_cql("DROP TABLE ks.enc").unwrap();
        assert!(
            !sstable.exists(),
            "{damage}: the dropped table's file stays"
        );
        assert!(matches!(e.get("ks.enc", b"e"), Err(Error::NoTable(_))));
        assert_eq!(e.get("ks.plain", b"p2").unwrap(), Some(b"more".to_vec()));
        drop(e);
        let e = open(dir.path(), true);
        e.verify(&[]).unwrap();
    }
}

/// The local key file moved away (not its directory): the engine opens (the tables under
/// its keys unavailable, so that they can still be dropped), but makes no new key file where
/// one was: the first write, whose commit log record needs a key under
/// system_info_encryption, fails saying what happened (an audit found a new key file made
/// there, and writes acknowledged under its key lost once the old file was restored).
/// Restored, everything reads back and writes go on.
#[test]
fn a_moved_key_file_is_not_replaced_by_a_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path(), true);
    e.execute_cql(KS).unwrap();
    e.execute_cql(ENC).unwrap();
    e.execute_cql("CREATE TABLE ks.plain (id text PRIMARY KEY, v text) WITH compression = {'enabled': 'false'}")
        .unwrap();
    e.put("ks.enc", b"k", b"v").unwrap();
    e.flush(&[]).unwrap();
    let key_file = e.config().local_key_file();
    e.close().unwrap();

    let aside = key_file.with_extension("moved");
    std::fs::rename(&key_file, &aside).unwrap();
    let e = open(dir.path(), true);
    unavailable(e.get("ks.enc", b"k"), "does not exist");
    let err = e.put("ks.plain", b"p", b"q").unwrap_err().to_string();
    assert!(
        err.contains("does not exist, but its lock file") && err.contains("restore it"),
        "{err}"
    );
    assert!(!key_file.exists());
    drop(e);

    std::fs::rename(&aside, &key_file).unwrap();
    let e = open(dir.path(), true);
    assert_eq!(e.get("ks.enc", b"k").unwrap().as_deref(), Some(&b"v"[..]));
    e.put("ks.plain", b"p", b"q").unwrap();
    e.close().unwrap();
}
