#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on errors"
)]

//! The decoded-chunk cache: shared by tables, filled by lookups, not by scans, bounded, and
//! never serving one file's chunk for another.

mod common;

use std::sync::Arc;

use common::*;
use crypta_sstable::{ChunkCache, Sstable};

#[test]
fn lookups_fill_and_hit_scans_do_not_fill() {
    let dir = tempfile::tempdir().unwrap();
    let keys = provider(dir.path());
    let cache = Arc::new(ChunkCache::new(1 << 20));
    let (a, b) = (at(&dir, "a.db"), at(&dir, "b.db"));
    write_n(&a, &aes_cbc(4), keys.clone(), 2000);
    write_n(&b, &plain(4), keys.clone(), 1000);
    let ta = Sstable::open(&a, keys.clone(), Some(cache.clone())).unwrap();
    let tb = Sstable::open(&b, keys.clone(), Some(cache.clone())).unwrap();

    assert_eq!(ta.iter().count(), 2000);
    assert_eq!(cache.stats().chunks, 0, "scans do not fill the cache");

    for _ in 0..3 {
        for i in (0..1000).step_by(10) {
            assert_eq!(ta.get(&key(i)).unwrap(), Some(entry(i)));
            assert_eq!(tb.get(&key(i)).unwrap(), Some(entry(i)));
        }
    }
    let s = cache.stats();
    assert!(s.hits > s.misses, "{s:?}");
    assert!(s.bytes <= 1 << 20);
    // Both files' chunk 0 are cached separately: each table reads its own.
    assert_eq!(ta.get(&key(0)).unwrap(), Some(entry(0)));
    assert_eq!(tb.get(&key(0)).unwrap(), Some(entry(0)));
    // A scan reads from the cache.
    let before = cache.stats().hits;
    assert_eq!(tb.iter().count(), 1000);
    assert!(cache.stats().hits > before);
    // Closing a table drops its chunks.
    let held = cache.stats().chunks;
    drop(ta);
    assert!(cache.stats().chunks < held);
}

#[test]
fn a_small_cache_stays_within_its_bound() {
    let dir = tempfile::tempdir().unwrap();
    let keys = provider(dir.path());
    let cache = Arc::new(ChunkCache::new(64 * 1024));
    let path = at(&dir, "a.db");
    write_n(&path, &plain(4), keys.clone(), 5000);
    let t = Sstable::open(&path, keys, Some(cache.clone())).unwrap();
    for i in 0..5000 {
        assert_eq!(t.get(&key(i)).unwrap(), Some(entry(i)));
    }
    assert!(cache.stats().bytes <= 64 * 1024, "{:?}", cache.stats());
}

/// The index samples the first entry of each 4 KiB segment of a chunk, so a lookup through the
/// cache reads the segment holding its key and no other, unless its entry runs into the next
/// segment (sampling every 4 KiB from the last sampled entry read two segments for about half
/// the lookups).
#[test]
fn a_lookup_reads_the_one_segment_of_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let keys = provider(dir.path());
    for (name, opts) in [
        ("plaintext", plain(64)),
        ("AES CBC", aes_cbc(64)),
        ("Deflate", options("DeflateCompressor", None, 64)),
    ] {
        let path = at(&dir, &format!("{}.db", name.replace(' ', "-")));
        write_n(&path, &opts, keys.clone(), 4000);
        let (mut lookups, mut segments) = (0, 0);
        for i in (0..4000).step_by(7) {
            let cache = Arc::new(ChunkCache::new(1 << 20));
            let t = Sstable::open(&path, keys.clone(), Some(cache.clone())).unwrap();
            assert_eq!(t.get(&key(i)).unwrap(), Some(entry(i)), "{name}");
            lookups += 1;
            segments += cache.stats().misses;
        }
        // Entries of about 110 bytes: one in about 37 runs into the next segment.
        assert!(
            segments * 100 <= lookups * 106,
            "{name}: {segments} segments read for {lookups} lookups"
        );
    }
}
