//! A key destroyed with `--force` while a table still needs it: the rows under it stop being
//! readable at once, including those the chunk cache held decoded (they are evicted), and the
//! error names the key.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod common;

use common::open_with_cbc_table;
use crypta_keys::KeyManager;

#[test]
fn forced_destroy_evicts_cached_plaintext() {
    let dir = tempfile::tempdir().unwrap();
    let e = open_with_cbc_table(dir.path(), false);
    for i in 0..500u32 {
        e.put(
            "ks.t",
            format!("k{i:04}").as_bytes(),
            format!("value {i}").as_bytes(),
        )
        .unwrap();
    }
    e.flush(&[]).unwrap();
    // Read every row twice: the second pass is served from the chunk cache.
    for _ in 0..2 {
        for i in 0..500u32 {
            let v = e.get("ks.t", format!("k{i:04}").as_bytes()).unwrap();
            assert_eq!(v, Some(format!("value {i}").into_bytes()));
        }
    }
    let usage = e.key_usage().unwrap();
    let key = usage
        .by_key
        .iter()
        .find(|(_, files)| files.iter().any(|f| f.to_string_lossy().contains("ks-t-")))
        .map(|(k, _)| k.clone())
        .expect("the table's key");
    // The HCD order: revoke (new writes get a new key), then destroy; forced, as the table's
    // SSTable was not rewritten.
    e.keys().local().revoke(&key, false).unwrap();
    e.destroy_key(&key, None, true).unwrap();
    for i in [0u32, 123, 499] {
        let err = e
            .get("ks.t", format!("k{i:04}").as_bytes())
            .expect_err("a row under a destroyed key must not be served from the cache");
        let text = err.to_string();
        assert!(text.contains(key.as_str()), "{text}");
    }
}
