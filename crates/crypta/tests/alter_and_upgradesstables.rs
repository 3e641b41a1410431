//! ALTER a plaintext table to EncryptingDeflateCompressor, upgradesstables -a: the marker is
//! gone from disk and every row still reads back. Then rekey: revoke the key, new writes get
//! a new one, upgradesstables rewrites, keys usage no longer lists the old key, destroy it.
//!
//! And an older format: a table whose live SSTable is the golden format 1 file of
//! crypta-sstable reads correctly, and upgradesstables without `-a` rewrites exactly that
//! file to the current format, leaving the table's current SSTable alone.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod common;

use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use common::{KS, files_containing, open};
use crypta::keys::AnyProvider;
use crypta::{Engine, UpgradeOptions, UpgradeReport};
use crypta_keys::KeyManager;

const MARKER: &[u8] = b"UPGRADE-MARKER-55aa";

#[test]
fn encrypt_an_existing_table_then_rekey() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path(), true);
    e.execute_cql(KS).unwrap();
    e.execute_cql("CREATE TABLE ks.t (id text PRIMARY KEY, v text) WITH compression = {'class': 'LZ4Compressor'}")
        .unwrap();
    for i in 0..3000u32 {
        let mut v = MARKER.to_vec();
        v.extend_from_slice(format!("-{i}").as_bytes());
        e.put("ks.t", format!("k{i:05}").as_bytes(), &v).unwrap();
        if i % 1000 == 999 {
            e.flush(&[]).unwrap();
        }
    }
    assert!(
        !files_containing(dir.path(), MARKER).is_empty(),
        "plaintext table shows the marker"
    );

    e.execute_cql(
        "ALTER TABLE ks.t WITH compression = {'class': 'EncryptingDeflateCompressor', \
         'cipher_algorithm': 'AES/CBC/PKCS5Padding', 'secret_key_strength': 256}",
    )
    .unwrap();
    let desc = e.execute_cql("DESC TABLE ks.t").unwrap();
    assert!(desc.contains("EncryptingDeflateCompressor"), "{desc}");

    // Without -a, the three plaintext SSTables are outdated (other options) and rewritten.
    let r = e
        .upgradesstables(
            &["ks.t".into()],
            &UpgradeOptions {
                include_all: false,
                jobs: 2,
            },
            &|_| {},
        )
        .unwrap();
    assert_eq!(r.rewritten, 3);
    assert!(
        files_containing(dir.path(), MARKER).is_empty(),
        "marker still on disk"
    );
    let rows = e
        .scan("ks.t", Bound::Unbounded, Bound::Unbounded, None)
        .unwrap();
    assert_eq!(rows.len(), 3000);
    // A second run finds nothing to do.
    let r = e
        .upgradesstables(
            &["ks.t".into()],
            &UpgradeOptions {
                include_all: false,
                jobs: 1,
            },
            &|_| {},
        )
        .unwrap();
    assert_eq!(r.rewritten, 0);

    // Rekey: revoke the table's key.
    let usage = e.key_usage().unwrap();
    let table_keys: Vec<_> = usage
        .by_key
        .iter()
        .filter(|(_, files)| files.iter().any(|f| f.to_string_lossy().contains("ks-t-")))
        .map(|(k, _)| k.clone())
        .collect();
    assert_eq!(table_keys.len(), 1, "{usage:?}");
    let old = table_keys[0].clone();
    e.keys().local().revoke(&old, false).unwrap();
    // Destroy is refused while files need it.
    let err = e.destroy_key(&old, None, false).unwrap_err().to_string();
    assert!(
        err.contains(old.as_str()) && err.contains("upgradesstables"),
        "{err}"
    );
    // Old data still reads; new writes use a new key.
    e.put("ks.t", b"after-revoke", b"v").unwrap();
    e.flush(&["ks.t".into()]).unwrap();
    let r = e
        .upgradesstables(
            &["ks.t".into()],
            &UpgradeOptions {
                include_all: true,
                jobs: 2,
            },
            &|_| {},
        )
        .unwrap();
    assert!(r.rewritten >= 1);
    let usage = e.key_usage().unwrap();
    assert!(
        usage
            .files_for(&old)
            .is_none_or(|f| f.iter().all(|p| !p.to_string_lossy().contains("ks-t-"))),
        "old key still used by table files: {usage:?}"
    );
    // The commit log may still hold records under the table's old key? No: the commit log
    // uses system_info_encryption's key, not the table's.
    e.destroy_key(&old, None, false).unwrap();
    e.close().unwrap();
    let e = open(dir.path(), true);
    assert_eq!(
        e.scan("ks.t", Bound::Unbounded, Bound::Unbounded, None)
            .unwrap()
            .len(),
        3001
    );
}

/// Row `i` of crypta-sstable's golden tables (`crates/sstable/tests/golden.rs`) as the engine
/// reads it: the key, and the value or `None` for a tombstone.
fn golden_row(i: u32) -> (Vec<u8>, Option<Vec<u8>>) {
    let key = format!("golden-{i:05}").into_bytes();
    if i % 11 == 3 {
        return (key, None);
    }
    let repeat = usize::try_from(i % 9).unwrap();
    (key, Some(format!("value {i};").repeat(repeat).into_bytes()))
}

/// The live golden rows with `lo <= i < hi`, as a scan returns them.
fn golden_live(lo: u32, hi: u32) -> Vec<(Vec<u8>, Vec<u8>)> {
    (lo..hi)
        .filter_map(|i| {
            let (k, v) = golden_row(i);
            Some((k, v?))
        })
        .collect()
}

/// The live SSTables of `ks.old`, oldest first, as paths.
fn sstables_of_old(e: &Engine) -> Vec<PathBuf> {
    let m = e.manifest();
    let def = m
        .tables
        .values()
        .find(|t| t.keyspace == "ks" && t.name == "old")
        .unwrap();
    def.sstables
        .iter()
        .map(|n| e.config().data_directory.join(n))
        .collect()
}

/// The format version recorded in the SSTable at `path` (no engine API exposes it).
fn format_version(e: &Engine, path: &Path) -> u8 {
    let keys = Arc::new(AnyProvider(e.keys().clone()));
    crypta_sstable::Sstable::open(path, keys, None)
        .unwrap()
        .metadata()
        .format_version
}

/// Every golden row through gets and scans, plus the row the engine wrote itself.
fn check_rows(e: &Engine) {
    for i in 0..300 {
        let (k, v) = golden_row(i);
        assert_eq!(
            e.get("ks.old", &k).unwrap(),
            v,
            "{}",
            String::from_utf8_lossy(&k)
        );
    }
    // A live row with an empty value (i % 9 == 0) is present, not absent.
    assert_eq!(e.get("ks.old", b"golden-00009").unwrap(), Some(Vec::new()));
    assert_eq!(
        e.get("ks.old", b"golden-00010").unwrap().as_deref(),
        Some(&b"value 10;"[..])
    );
    // Tombstoned in the golden file.
    assert_eq!(e.get("ks.old", b"golden-00003").unwrap(), None);
    assert_eq!(e.get("ks.old", b"golden-00014").unwrap(), None);
    // Absent: past the golden keys, between two of them, and the row the planted file replaced.
    assert_eq!(e.get("ks.old", b"golden-00300").unwrap(), None);
    assert_eq!(e.get("ks.old", b"golden-00001x").unwrap(), None);
    assert_eq!(e.get("ks.old", b"planted-over").unwrap(), None);
    assert_eq!(
        e.get("ks.old", b"written-now").unwrap().as_deref(),
        Some(&b"current"[..])
    );

    // A range inside the golden file: golden-00014 and golden-00025 are tombstones.
    let part = e
        .scan(
            "ks.old",
            Bound::Included(b"golden-00010"),
            Bound::Excluded(b"golden-00030"),
            None,
        )
        .unwrap();
    assert_eq!(part, golden_live(10, 30));
    assert_eq!(part.len(), 18);
    // Everything: the 273 live golden rows, then the row of the current SSTable.
    let all = e
        .scan("ks.old", Bound::Unbounded, Bound::Unbounded, None)
        .unwrap();
    let mut want = golden_live(0, 300);
    assert_eq!(want.len(), 273);
    want.push((b"written-now".to_vec(), b"current".to_vec()));
    assert_eq!(all, want);
}

#[test]
fn upgradesstables_rewrites_only_the_format_1_sstable() {
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sstable/tests/data/v1-plain.db");
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path(), false);
    e.execute_cql(KS).unwrap();
    // Options as the golden file records them (`{'enabled': 'false'}`), so only its format
    // version makes it outdated.
    e.execute_cql(
        "CREATE TABLE ks.old (id text PRIMARY KEY, v text) WITH compression = {'enabled': 'false'}",
    )
    .unwrap();
    // Two SSTables: the first to be replaced by the golden file, the second current.
    e.put("ks.old", b"planted-over", b"gone").unwrap();
    e.flush(&["ks.old".into()]).unwrap();
    e.put("ks.old", b"written-now", b"current").unwrap();
    e.flush(&["ks.old".into()]).unwrap();
    let files = sstables_of_old(&e);
    assert_eq!(files.len(), 2, "{files:?}");
    e.close().unwrap();
    // The manifest keeps names only (docs/format/manifest.md), so the file can be swapped.
    // `write` keeps the engine's file and its mode.
    std::fs::write(&files[0], std::fs::read(&golden).unwrap()).unwrap();

    let e = open(dir.path(), false);
    assert_eq!(sstables_of_old(&e), files);
    assert_eq!(format_version(&e, &files[0]), 1);
    assert_eq!(
        format_version(&e, &files[1]),
        crypta_sstable::FORMAT_VERSION
    );
    assert_eq!(crypta_sstable::FORMAT_VERSION, 3);
    check_rows(&e);

    let rewritten = Mutex::new(Vec::new());
    let options = UpgradeOptions {
        include_all: false,
        jobs: 1,
    };
    let r = e
        .upgradesstables(&["ks.old".into()], &options, &|p| {
            rewritten.lock().unwrap().push(p.file.clone());
        })
        .unwrap();
    assert_eq!(
        r,
        UpgradeReport {
            rewritten: 1,
            skipped: 1,
            entries: 300,
        }
    );
    assert_eq!(rewritten.into_inner().unwrap(), [files[0].clone()]);
    let after = sstables_of_old(&e);
    assert_eq!(after.len(), 2, "{after:?}");
    assert!(
        after.contains(&files[1]),
        "the current SSTable was rewritten"
    );
    assert!(!after.contains(&files[0]) && !files[0].exists());
    let upgraded = after.iter().find(|p| **p != files[1]).unwrap();
    assert_eq!(format_version(&e, upgraded), 3);
    check_rows(&e);

    let verified = e.verify(&["ks.old".into()]).unwrap();
    assert_eq!(verified.len(), 2);
    let v = &verified.iter().find(|(p, _)| p == upgraded).unwrap().1;
    assert_eq!((v.entries, v.tombstones), (300, 27));

    // Nothing is outdated any more.
    let r = e
        .upgradesstables(&["ks.old".into()], &options, &|_| {})
        .unwrap();
    assert_eq!(
        r,
        UpgradeReport {
            rewritten: 0,
            skipped: 2,
            entries: 0,
        }
    );
    assert_eq!(sstables_of_old(&e), after);
    e.close().unwrap();
}
