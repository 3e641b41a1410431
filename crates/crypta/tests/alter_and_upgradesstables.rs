//! ALTER a plaintext table to EncryptingDeflateCompressor, upgradesstables -a: the marker is
//! gone from disk and every row still reads back. Then rekey: revoke the key, new writes get
//! a new one, upgradesstables rewrites, keys usage no longer lists the old key, destroy it.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod common;

use std::ops::Bound;

use common::{KS, files_containing, open};
use crypta::UpgradeOptions;
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
