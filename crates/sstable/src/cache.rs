//! The decoded-chunk cache: plaintext of data chunks, or of 4 KiB segments of them, keyed by
//! (file id, unit: [`whole`] chunk or chunk [`segment`]), bounded in bytes, shared by every
//! table that is opened with it.
//!
//! Sixteen shards, each an LRU under its own mutex, so that readers on different chunks rarely
//! contend. File ids come from a process-wide counter at each open, so a cache entry can never
//! be served for another file (or for a file replaced under the same name).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

const SHARDS: usize = 16;

/// A decoded chunk: the plaintext of one data chunk (or of one segment of it).
pub(crate) type Chunk = Arc<Vec<u8>>;

/// The cache unit of a whole data chunk.
pub(crate) fn whole(chunk: u64) -> u64 {
    chunk << 16
}

/// The cache unit of segment `segment` of a data chunk (fewer than 2^16 per chunk: a chunk is
/// at most 1 MiB, a segment at least 1 KiB).
pub(crate) fn segment(chunk: u64, segment: usize) -> u64 {
    (chunk << 16) | ((segment as u64).min(0xfffe) + 1)
}

type CacheKey = (u64, u64);

/// A size-bounded cache of decoded data chunks, shared between tables (see the module docs).
///
/// Point lookups fill it; range scans read from it but do not fill it, so that one large scan
/// does not evict the hot chunks. Cached plaintext of encrypted tables lives in memory only.
pub struct ChunkCache {
    shards: [Mutex<Shard>; SHARDS],
    shard_capacity: usize,
    hits: AtomicU64,
    misses: AtomicU64,
}

#[derive(Default)]
struct Shard {
    map: HashMap<CacheKey, (Chunk, u64)>,
    lru: BTreeMap<u64, CacheKey>,
    tick: u64,
    bytes: usize,
}

/// Counters of a [`ChunkCache`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Lookups served from the cache.
    pub hits: u64,
    /// Lookups that had to decode the chunk.
    pub misses: u64,
    /// Chunks and chunk segments held.
    pub chunks: usize,
    /// Bytes of plaintext held.
    pub bytes: usize,
}

impl std::fmt::Debug for ChunkCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChunkCache")
            .field("capacity", &(self.shard_capacity * SHARDS))
            .field("stats", &self.stats())
            .finish()
    }
}

impl ChunkCache {
    /// A cache holding at most about `capacity_bytes` of decoded chunks.
    pub fn new(capacity_bytes: usize) -> Self {
        ChunkCache {
            shards: std::array::from_fn(|_| Mutex::new(Shard::default())),
            shard_capacity: capacity_bytes / SHARDS,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// Hits, misses and what is held now.
    pub fn stats(&self) -> CacheStats {
        let mut s = CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            ..CacheStats::default()
        };
        for shard in &self.shards {
            let shard = lock(shard);
            s.chunks += shard.map.len();
            s.bytes += shard.bytes;
        }
        s
    }

    fn shard(&self, key: CacheKey) -> MutexGuard<'_, Shard> {
        let h = key.0.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ key.1;
        let i = (h.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 60) as usize;
        lock(&self.shards[i % SHARDS])
    }

    pub(crate) fn get(&self, file: u64, chunk: u64) -> Option<Chunk> {
        let key = (file, chunk);
        let mut shard = self.shard(key);
        let shard = &mut *shard;
        shard.tick += 1;
        let tick = shard.tick;
        match shard.map.get_mut(&key) {
            Some((c, t)) => {
                shard.lru.remove(t);
                *t = tick;
                shard.lru.insert(tick, key);
                self.hits.fetch_add(1, Ordering::Relaxed);
                Some(c.clone())
            }
            None => {
                self.misses.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }

    pub(crate) fn insert(&self, file: u64, chunk: u64, data: Chunk) {
        let size = data.capacity().max(1);
        if size > self.shard_capacity {
            return;
        }
        let key = (file, chunk);
        let mut shard = self.shard(key);
        let shard = &mut *shard;
        if let Some((old, t)) = shard.map.remove(&key) {
            shard.lru.remove(&t);
            shard.bytes -= old.capacity().max(1);
        }
        while shard.bytes + size > self.shard_capacity {
            let Some((_, victim)) = shard.lru.pop_first() else {
                break;
            };
            if let Some((old, _)) = shard.map.remove(&victim) {
                shard.bytes -= old.capacity().max(1);
            }
        }
        shard.tick += 1;
        let tick = shard.tick;
        shard.lru.insert(tick, key);
        shard.map.insert(key, (data, tick));
        shard.bytes += size;
    }

    /// Drops every chunk of `file` (a table being closed).
    pub(crate) fn remove_file(&self, file: u64) {
        for shard in &self.shards {
            let mut shard = lock(shard);
            let shard = &mut *shard;
            let mut freed = 0;
            shard.map.retain(|k, (c, t)| {
                if k.0 == file {
                    shard.lru.remove(t);
                    freed += c.capacity().max(1);
                    false
                } else {
                    true
                }
            });
            shard.bytes -= freed;
        }
    }
}

fn lock(m: &Mutex<Shard>) -> MutexGuard<'_, Shard> {
    // The shard is consistent between statements that a panic could interrupt only in its
    // counters; a poisoned lock is still usable.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A new file id for the cache, unique in this process.
pub(crate) fn next_file_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_least_recently_used_within_capacity() {
        let cache = ChunkCache::new(SHARDS * 3000);
        for c in 0..200u64 {
            cache.insert(1, c, Arc::new(vec![0u8; 1000]));
            assert!(cache.get(1, c).is_some());
        }
        let s = cache.stats();
        assert!(s.bytes <= SHARDS * 3000, "{s:?}");
        assert!(s.chunks < 200);
        assert!(cache.get(1, 199).is_some(), "the newest stays");
        cache.remove_file(1);
        assert_eq!(cache.stats().chunks, 0);
        assert_eq!(cache.stats().bytes, 0);
    }

    #[test]
    fn too_large_chunks_are_not_cached() {
        let cache = ChunkCache::new(SHARDS * 100);
        cache.insert(1, 0, Arc::new(vec![0u8; 1000]));
        assert!(cache.get(1, 0).is_none());
    }
}
