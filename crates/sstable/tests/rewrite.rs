#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on errors"
)]

//! Compaction and `upgradesstables`: entries streamed from open tables into a new writer,
//! under a new key and another codec, after which the old key can be destroyed.

mod common;

use common::*;
use crypta_keys::{KeyManager, KeyProvider};
use crypta_sstable::{SstableWriter, WriterOptions, key_ids};

#[test]
fn stream_two_tables_into_one_under_a_new_key() {
    let dir = tempfile::tempdir().unwrap();
    let keys = provider(dir.path());
    let cbc = aes_cbc(4);
    // Two tables: even and odd entries, under the first key.
    let (a, b) = (at(&dir, "a.db"), at(&dir, "b.db"));
    for (path, parity) in [(&a, 0), (&b, 1)] {
        let mut w =
            SstableWriter::create(path, &cbc, keys.clone(), WriterOptions::default()).unwrap();
        for i in (parity..3000).step_by(2) {
            w.add(&key(i), &entry(i)).unwrap();
        }
        w.finish().unwrap();
    }
    let old = keys.current_key(&cbc.key_spec().unwrap()).unwrap();
    keys.revoke(old.id(), false).unwrap();

    // Merge them into a GCM + LZ4 table under the new key, one entry at a time.
    let gcm = options(
        "EncryptingLZ4Compressor",
        Some(("AES/GCM/NoPadding", 128)),
        8,
    );
    let (ta, tb) = (open(&a, keys.clone()), open(&b, keys.clone()));
    let mut ia = ta.iter().peekable();
    let mut ib = tb.iter().peekable();
    let out = at(&dir, "merged.db");
    let mut w = SstableWriter::create(&out, &gcm, keys.clone(), WriterOptions::default()).unwrap();
    loop {
        let take_a = match (ia.peek(), ib.peek()) {
            (Some(x), Some(y)) => x.as_ref().unwrap().0 < y.as_ref().unwrap().0,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        let (k, e) = if take_a { ia.next() } else { ib.next() }.unwrap().unwrap();
        w.add_parts(&k, e.value.as_deref(), e.timestamp).unwrap();
    }
    let info = w.finish().unwrap();
    let new = keys.current_key(&gcm.key_spec().unwrap()).unwrap();
    assert_ne!(new.id(), old.id());
    assert_eq!(key_ids(&out).unwrap(), vec![new.id().clone()]);
    assert_eq!(info.metadata.entry_count, 3000);

    // The old key can go: the merged table does not need it.
    drop((ta, tb));
    keys.destroy(old.id()).unwrap();
    check_n(&open(&out, keys.clone()), 3000);
    crypta_sstable::verify(&out, keys).unwrap();
}
