//! Rows with a marker in an encrypted table, with system_info_encryption on, leave no trace
//! of the marker anywhere under the directory; a control table without encryption does.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod common;

use std::ops::Bound;

use common::{KS, files_containing, open, open_with_cbc_table};

const SECRET: &[u8] = b"SECRET-MARKER-7f3a9c";
const CONTROL: &[u8] = b"CONTROL-MARKER-0b1d2e";

#[test]
fn encrypted_table_and_system_resources_hide_the_marker() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path(), true);
    e.execute_cql(KS).unwrap();
    e.execute_cql(
        "CREATE TABLE ks.secret (id text PRIMARY KEY, v text) WITH compression = \
         {'class': 'Encryptor', 'cipher_algorithm': 'AES/ECB/PKCS5Padding', 'secret_key_strength': 128}",
    )
    .unwrap();
    e.execute_cql("CREATE TABLE ks.plain (id text PRIMARY KEY, v text) WITH compression = {'enabled': 'false'}")
        .unwrap();
    for i in 0..2000u32 {
        let mut v = SECRET.to_vec();
        v.extend_from_slice(format!(" row {i}").as_bytes());
        e.put(
            "ks.secret",
            format!("{}-{i}", String::from_utf8_lossy(SECRET)).as_bytes(),
            &v,
        )
        .unwrap();
        let mut c = CONTROL.to_vec();
        c.extend_from_slice(format!(" row {i}").as_bytes());
        e.put("ks.plain", format!("k{i}").as_bytes(), &c).unwrap();
    }
    // A logged batch and a compare-and-set go through system.batchlog and system.paxos.
    e.batch(&[crypta::BatchOp::Put {
        table: "ks.secret".into(),
        key: b"batched".to_vec(),
        value: SECRET.to_vec(),
    }])
    .unwrap();
    assert!(
        e.compare_and_set("ks.secret", b"cas", None, Some(SECRET))
            .unwrap()
    );
    e.flush(&[]).unwrap();
    // Some data stays in the commit log only (written after the flush).
    e.put("ks.secret", b"late", SECRET).unwrap();
    e.put("ks.plain", b"late", CONTROL).unwrap();

    let hits = files_containing(dir.path(), SECRET);
    assert!(hits.is_empty(), "secret marker on disk in {hits:?}");
    let control = files_containing(dir.path(), CONTROL);
    assert!(
        !control.is_empty(),
        "control marker must be on disk (the search works)"
    );

    // And everything reads back, before and after a restart.
    assert_eq!(
        e.scan("ks.secret", Bound::Unbounded, Bound::Unbounded, None)
            .unwrap()
            .len(),
        2003
    );
    e.close().unwrap();
    let e = open(dir.path(), true);
    assert_eq!(e.get("ks.secret", b"late").unwrap().unwrap(), SECRET);
    assert_eq!(e.get("ks.secret", b"cas").unwrap().unwrap(), SECRET);
    assert_eq!(
        e.scan("ks.secret", Bound::Unbounded, Bound::Unbounded, None)
            .unwrap()
            .len(),
        2003
    );
}

#[test]
fn hints_are_encrypted_with_system_info_encryption_and_delivered_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path(), true);
    let host: crypta_hints::HostId = "6f1f8a4e-0000-4000-8000-00000000abcd".parse().unwrap();
    for i in 0..50u32 {
        let mut m = SECRET.to_vec();
        m.extend_from_slice(format!("-{i}").as_bytes());
        e.hints()
            .write_hint(host, &m, crypta_keys::Timestamp::now())
            .unwrap();
    }
    e.hints().flush().unwrap();
    assert!(
        files_containing(dir.path(), SECRET).is_empty(),
        "hint plaintext on disk"
    );
    let usage = e.key_usage().unwrap();
    assert!(
        usage
            .by_key
            .values()
            .flatten()
            .any(|p| p.extension().is_some_and(|x| x == "hints")),
        "hint files list their key: {usage:?}"
    );
    let mut got = Vec::new();
    e.hints()
        .dispatch(host, |h| {
            got.push(h.mutation.to_vec());
            crypta_hints::Delivery::Delivered
        })
        .unwrap();
    assert_eq!(got.len(), 50);
    assert!(got[49].ends_with(b"-49"));
    e.close().unwrap();
}

/// The DSE/HCD docs' local-key table: `'system_key_file': 'system_key'` names the default key
/// file in `system_key_directory`; another name makes a second key file beside it (never in
/// the working directory).
#[test]
fn dse_docs_system_key_file_tables() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path(), false);
    e.execute_cql(KS).unwrap();
    e.execute_cql(
        "CREATE TABLE ks.encryption_test (d text PRIMARY KEY, v text) WITH COMPRESSION = {
          'class': 'EncryptingLZ4Compressor',
          'cipher_algorithm' : 'DESede/CBC/PKCS5Padding',
          'secret_key_strength' : 112,
          'system_key_file' : 'system_key' };",
    )
    .unwrap();
    e.execute_cql(
        "CREATE TABLE ks.other (d text PRIMARY KEY, v text) WITH COMPRESSION = {
          'class': 'Encryptor', 'cipher_algorithm' : 'AES/ECB/PKCS5Padding',
          'secret_key_strength' : 128, 'system_key_file' : 'table_key' };",
    )
    .unwrap();
    let desc = e.execute_cql("DESC TABLE ks.encryption_test").unwrap();
    assert!(desc.contains("'system_key_file': 'system_key'"), "{desc}");
    for i in 0..500u32 {
        e.put("ks.encryption_test", format!("k{i}").as_bytes(), SECRET)
            .unwrap();
        e.put("ks.other", format!("k{i}").as_bytes(), SECRET)
            .unwrap();
    }
    e.flush(&[]).unwrap();
    // The commit log is plaintext here (system_info_encryption off): only SSTables count.
    let hits: Vec<_> = files_containing(dir.path(), SECRET)
        .into_iter()
        .filter(|p| !p.starts_with(dir.path().join("commitlog")))
        .collect();
    assert!(hits.is_empty(), "secret marker in {hits:?}");

    let keys_dir = e.config().system_key_directory.clone();
    let mut names: Vec<String> = std::fs::read_dir(&keys_dir)
        .unwrap()
        .map(|f| f.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.') && !n.ends_with(".lock") && !n.ends_with(".tmp"))
        .collect();
    names.sort();
    assert_eq!(names, ["system_key", "table_key"], "in {keys_dir:?}");
    let providers: Vec<String> = e.keys().managers().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        providers,
        [
            "local".to_string(),
            format!("local:{}", keys_dir.join("table_key").display())
        ]
    );
    e.close().unwrap();

    let e = open(dir.path(), false);
    assert_eq!(e.get("ks.encryption_test", b"k7").unwrap().unwrap(), SECRET);
    assert_eq!(e.get("ks.other", b"k499").unwrap().unwrap(), SECRET);
}

/// The DSE docs' "encryption, but no compression" example, word for word: `ALTER TABLE ...
/// 'sstable_compression' : 'Encryptor', ... 'chunk_length_kb' : 1`, then `upgradesstables -a`:
/// the rows now sit in 1 KiB encrypted chunks and the marker is gone from disk.
#[test]
fn dse_docs_alter_to_encryptor_with_1_kib_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path(), true);
    e.execute_cql(KS).unwrap();
    e.execute_cql("CREATE TABLE ks.users (name text PRIMARY KEY, bio text)")
        .unwrap();
    for i in 0..3000u32 {
        let mut v = SECRET.to_vec();
        v.extend_from_slice(format!(" bio of user {i}").as_bytes());
        e.put("ks.users", format!("user{i:05}").as_bytes(), &v)
            .unwrap();
    }
    e.flush(&[]).unwrap();
    assert!(!files_containing(dir.path(), SECRET).is_empty());

    e.execute_cql(
        "ALTER TABLE ks.users WITH compression = { 'sstable_compression' : 'Encryptor', \
         'cipher_algorithm' : 'AES/ECB/PKCS5Padding', 'secret_key_strength' : 128, \
         'chunk_length_kb' : 1 };",
    )
    .unwrap();
    let desc = e.execute_cql("DESC TABLE ks.users").unwrap();
    assert!(desc.contains("'chunk_length_kb': '1'"), "{desc}");
    let r = e
        .upgradesstables(
            &["ks.users".into()],
            &crypta::UpgradeOptions {
                include_all: true,
                jobs: 1,
            },
            &|_| {},
        )
        .unwrap();
    assert!(r.rewritten >= 1, "{r:?}");
    let hits = files_containing(dir.path(), SECRET);
    assert!(hits.is_empty(), "secret marker on disk in {hits:?}");
    for i in (0..3000u32).step_by(37) {
        let v = e
            .get("ks.users", format!("user{i:05}").as_bytes())
            .unwrap()
            .unwrap();
        assert!(v.ends_with(format!(" bio of user {i}").as_bytes()));
    }
    let rows = e
        .scan("ks.users", Bound::Unbounded, Bound::Unbounded, None)
        .unwrap();
    assert_eq!(rows.len(), 3000);
    let verified = e.verify(&["ks.users".into()]).unwrap();
    assert!(!verified.is_empty());
    assert_eq!(verified.iter().map(|(_, r)| r.entries).sum::<u64>(), 3000);
    e.close().unwrap();
}

/// With system_info_encryption off (the embedded default), an encrypted table's rows sit in
/// plaintext in the commit log until the segment holding them is deleted: after they are
/// flushed, a clean close deletes the active segment too, so nothing of them is left.
#[test]
fn a_clean_close_leaves_no_commit_log_plaintext_without_system_info_encryption() {
    let dir = tempfile::tempdir().unwrap();
    let e = open_with_cbc_table(dir.path(), false);
    for i in 0..100u32 {
        let mut v = SECRET.to_vec();
        v.extend_from_slice(format!(" {i}").as_bytes());
        e.put("ks.t", format!("k{i:03}").as_bytes(), &v).unwrap();
    }
    // Before the close, the commit log holds them in plaintext: the point of the warning.
    let before = files_containing(&dir.path().join("commitlog"), SECRET);
    assert!(!before.is_empty());
    e.close().unwrap();
    assert_eq!(
        files_containing(dir.path(), SECRET),
        Vec::<std::path::PathBuf>::new()
    );
    let e = open(dir.path(), false);
    for i in 0..100u32 {
        let v = e
            .get("ks.t", format!("k{i:03}").as_bytes())
            .unwrap()
            .unwrap();
        assert!(v.starts_with(SECRET));
    }
    // Rows written after the reopen and not flushed stay in the log until then.
    e.put("ks.t", b"late", SECRET).unwrap();
    drop(e);
    let e = open(dir.path(), false);
    assert_eq!(e.get("ks.t", b"late").unwrap(), Some(SECRET.to_vec()));
}

/// The HCD flat-file example names its key file by absolute path: a file in an existing
/// directory is made when first needed; a directory that does not exist (a misspelt path) is
/// refused at CREATE TABLE, naming it, and nothing is made there.
#[test]
fn secret_key_file_in_a_missing_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path(), false);
    e.execute_cql(KS).unwrap();
    let keys = tempfile::tempdir().unwrap();
    let create = |table: &str, file: &std::path::Path| {
        e.execute_cql(&format!(
            "CREATE TABLE ks.{table} (id text PRIMARY KEY, v text) WITH compression = \
             {{'class': 'Encryptor', 'key_provider': 'LocalFileSystemKeyProviderFactory', \
             'secret_key_file': '{}'}}",
            file.display()
        ))
    };
    let missing = keys.path().join("conf-typo").join("system_key");
    let err = create("a", &missing).unwrap_err().to_string();
    assert!(
        err.contains(&missing.display().to_string()) && err.contains("does not exist"),
        "{err}"
    );
    assert!(!keys.path().join("conf-typo").exists());
    assert!(e.execute_cql("DESC TABLE ks.a").is_err());

    let good = keys.path().join("system_key");
    create("b", &good).unwrap();
    e.put("ks.b", b"k", SECRET).unwrap();
    e.flush(&[]).unwrap();
    assert!(good.is_file());
    assert_eq!(e.get("ks.b", b"k").unwrap().unwrap(), SECRET);
    e.close().unwrap();

    // The key file's directory gone later: the engine still opens, that table is unavailable
    // alone, naming why, and can be dropped.
    std::fs::rename(keys.path(), keys.path().with_extension("moved")).unwrap();
    let e = open(dir.path(), false);
    let err = e.get("ks.b", b"k").unwrap_err().to_string();
    assert!(err.contains("ks.b"), "{err}");
    e.execute_cql("DROP TABLE ks.b").unwrap();
    e.close().unwrap();
    std::fs::rename(keys.path().with_extension("moved"), keys.path()).unwrap();
}
