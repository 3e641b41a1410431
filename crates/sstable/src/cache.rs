//! The decoded-chunk cache: plaintext of data chunks, or of 4 KiB segments of them, keyed by
//! (file id, unit: [`whole`] chunk or chunk [`segment`]), bounded in bytes, shared by every
//! table that is opened with it.
//!
//! Sixteen shards, each under its own mutex, so that readers on different chunks rarely
//! contend. Each shard evicts by CLOCK (second chance), an approximation of LRU long used by
//! page caches: its entries sit in a ring of slots, a hit sets the entry's reference bit, and
//! eviction sweeps a hand around the ring, clearing set bits and evicting the first entry
//! whose bit is clear (one not used since the hand last passed it). A hit costs one hash
//! lookup and a store, an eviction a few slot visits on average, and no ordered structure is
//! kept up to date. (It replaced an exact LRU whose ordered map of use stamps, refiled on
//! eviction, took 3.5 % of the time of an engine random-read workload.) File ids come from a
//! process-wide counter at each open, so a cache entry can never be served for another file
//! (or for a file replaced under the same name). A few buffers of evicted entries that no
//! reader holds any more are kept per shard for the next misses to decode into
//! ([`ChunkCache::lookup`]): a miss then neither allocates nor zeroes a buffer, an eviction
//! frees none.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

const SHARDS: usize = 16;

/// Evicted buffers a shard keeps for the next miss to decode into, at most; and together at
/// most 1 / `SPARE_SHARE` of its capacity in bytes.
const SPARES: usize = 4;
const SPARE_SHARE: usize = 16;

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
    /// Where each entry's slot is in `ring`.
    map: HashMap<CacheKey, usize, BuildUnitHasher>,
    ring: Vec<Slot>,
    /// Empty slots of `ring`.
    free: Vec<usize>,
    hand: usize,
    bytes: usize,
    /// Buffers of evicted entries that no reader held any more, for misses to reuse (see
    /// [`ChunkCache::lookup`]); not counted in `bytes`.
    spares: Vec<Vec<u8>>,
    spare_bytes: usize,
}

struct Slot {
    key: CacheKey,
    /// `None` when the slot is empty.
    data: Option<Chunk>,
    /// Used since the hand last passed.
    referenced: bool,
}

impl Shard {
    /// Keeps `data`'s buffer for reuse if no reader holds it and there is room among the
    /// spares (`max_bytes` of them at most); drops it otherwise.
    fn keep_spare(&mut self, data: Chunk, max_bytes: usize) {
        if self.spares.len() < SPARES
            && let Ok(buf) = Arc::try_unwrap(data)
            && self.spare_bytes + buf.capacity() <= max_bytes
        {
            self.spare_bytes += buf.capacity();
            self.spares.push(buf);
        }
    }

    /// Evicts the entry under the hand's next clear reference bit, clearing the bits it
    /// passes, and returns its data. `None` if the shard holds nothing.
    fn evict_one(&mut self) -> Option<Chunk> {
        if self.map.is_empty() {
            return None;
        }
        // Every occupied slot is visited at most twice (once to clear its bit), so this
        // ends; the bound is a guard.
        for _ in 0..2 * self.ring.len() + 1 {
            if self.hand >= self.ring.len() {
                self.hand = 0;
            }
            let at = self.hand;
            self.hand += 1;
            let Some(slot) = self.ring.get_mut(at) else {
                continue;
            };
            if slot.data.is_none() {
                continue;
            }
            if slot.referenced {
                slot.referenced = false;
                continue;
            }
            let key = slot.key;
            let data = slot.data.take();
            if let Some(data) = &data {
                self.bytes -= data.capacity().max(1);
            }
            self.map.remove(&key);
            self.free.push(at);
            return data;
        }
        None
    }
}

/// Hashes cache keys (a file id from a process counter and a unit number, never chosen by
/// anyone outside the process, so no defence against crafted collisions is needed): a
/// multiply-xorshift mix, far cheaper than std's SipHash.
#[derive(Clone, Copy, Default)]
struct BuildUnitHasher;

#[derive(Default)]
struct UnitHasher(u64);

impl std::hash::BuildHasher for BuildUnitHasher {
    type Hasher = UnitHasher;
    fn build_hasher(&self) -> UnitHasher {
        UnitHasher(0)
    }
}

impl std::hash::Hasher for UnitHasher {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }

    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }

    fn finish(&self) -> u64 {
        self.0 ^ (self.0 >> 29)
    }
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
        lock(&self.shards[shard_index(key)])
    }

    pub(crate) fn get(&self, file: u64, chunk: u64) -> Option<Chunk> {
        self.lookup(file, chunk, None).ok()
    }

    /// The entry of (`file`, `chunk`), or on a miss, if `spare_for` is given, a buffer of an
    /// evicted entry with at least that capacity for the caller to decode into (its old
    /// bytes still in it: the caller writes over them), taken from the shard the entry will
    /// go to, whose next eviction gives one back. Reusing buffers spares a miss the
    /// allocation, an eviction the free, and a decryption the zeroing of a fresh buffer.
    pub(crate) fn lookup(
        &self,
        file: u64,
        chunk: u64,
        spare_for: Option<usize>,
    ) -> Result<Chunk, Option<Vec<u8>>> {
        let key = (file, chunk);
        let mut shard = self.shard(key);
        let shard = &mut *shard;
        let found = match shard.map.get(&key) {
            Some(&at) => shard.ring.get_mut(at).and_then(|slot| {
                slot.referenced = true;
                slot.data.clone()
            }),
            None => None,
        };
        if let Some(found) = found {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(found);
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let spare = spare_for.and_then(|len| {
            let at = shard.spares.iter().position(|b| b.capacity() >= len)?;
            let buf = shard.spares.swap_remove(at);
            shard.spare_bytes -= buf.capacity();
            Some(buf)
        });
        Err(spare)
    }

    pub(crate) fn insert(&self, file: u64, chunk: u64, data: Chunk) {
        let size = data.capacity().max(1);
        if size > self.shard_capacity {
            return;
        }
        let key = (file, chunk);
        let mut shard = self.shard(key);
        let shard = &mut *shard;
        if let Some(&at) = shard.map.get(&key) {
            if let Some(slot) = shard.ring.get_mut(at)
                && let Some(old) = slot.data.replace(data)
            {
                slot.referenced = true;
                shard.bytes = shard.bytes - old.capacity().max(1) + size;
            }
            return;
        }
        while shard.bytes + size > self.shard_capacity {
            match shard.evict_one() {
                Some(old) => shard.keep_spare(old, self.shard_capacity / SPARE_SHARE),
                None => break,
            }
        }
        let slot = Slot {
            key,
            data: Some(data),
            referenced: false,
        };
        let at = match shard.free.pop() {
            Some(at) if at < shard.ring.len() => {
                if let Some(s) = shard.ring.get_mut(at) {
                    *s = slot;
                }
                at
            }
            _ => {
                shard.ring.push(slot);
                shard.ring.len() - 1
            }
        };
        shard.map.insert(key, at);
        shard.bytes += size;
    }

    /// Drops every chunk of `file` (a table being closed).
    pub(crate) fn remove_file(&self, file: u64) {
        for shard in &self.shards {
            let mut shard = lock(shard);
            let shard = &mut *shard;
            let mut freed = 0;
            for (at, slot) in shard.ring.iter_mut().enumerate() {
                if slot.key.0 == file
                    && let Some(data) = slot.data.take()
                {
                    freed += data.capacity().max(1);
                    shard.free.push(at);
                }
            }
            shard.map.retain(|k, _| k.0 != file);
            shard.bytes -= freed;
        }
    }
}

/// The shard of `key`.
fn shard_index(key: CacheKey) -> usize {
    let h = key.0.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ key.1;
    (h.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 60) as usize % SHARDS
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

    /// The first `n` units of file 1 whose keys land in shard 0.
    fn one_shard(n: usize) -> Vec<u64> {
        (0u64..)
            .filter(|&c| shard_index((1, c)) == 0)
            .take(n)
            .collect()
    }

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
    fn evicts_what_was_not_used_since_the_hand_passed() {
        // Shards that hold 4 entries of 1000 bytes each, and keys that land in one shard.
        let cache = ChunkCache::new(SHARDS * 4000);
        let [a, b, c, d, e, f] = one_shard(6)[..] else {
            panic!("six keys")
        };
        for k in [a, b, c, d] {
            cache.insert(1, k, Arc::new(vec![0u8; 1000]));
        }
        // Use a and c: the hand passes a (clearing its bit) and evicts b, then passes c and
        // evicts d.
        assert!(cache.get(1, a).is_some());
        assert!(cache.get(1, c).is_some());
        cache.insert(1, e, Arc::new(vec![0u8; 1000]));
        assert!(cache.get(1, b).is_none(), "b was not used");
        cache.insert(1, f, Arc::new(vec![0u8; 1000]));
        assert!(cache.get(1, d).is_none(), "then d");
        for k in [a, c, e, f] {
            assert!(cache.get(1, k).is_some(), "{k} stays");
        }
    }

    #[test]
    fn accounting_holds_through_evictions_replacements_and_removals() {
        let cap = SHARDS * 10_000;
        let cache = ChunkCache::new(cap);
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut rand = |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        for op in 0..20_000 {
            match rand(100) {
                0 => cache.remove_file(1),
                _ => {
                    let (file, unit) = (1 + rand(2), rand(300));
                    let len = 100 + rand(2_900) as usize;
                    cache.insert(file, unit, Arc::new(vec![unit as u8; len]));
                }
            }
            if op % 1000 == 999 {
                // What the counters say is what the cache serves, within its capacity.
                let (mut chunks, mut bytes) = (0, 0);
                for file in 1..=2 {
                    for unit in 0..300 {
                        if let Some(c) = cache.get(file, unit) {
                            assert!(c.iter().all(|&b| b == unit as u8), "{file}/{unit}");
                            chunks += 1;
                            bytes += c.capacity();
                        }
                    }
                }
                let s = cache.stats();
                assert_eq!((s.chunks, s.bytes), (chunks, bytes));
                assert!(s.bytes <= cap, "{s:?}");
                assert!(s.chunks > 0);
            }
        }
        cache.remove_file(1);
        cache.remove_file(2);
        assert_eq!(cache.stats().chunks, 0);
        assert_eq!(cache.stats().bytes, 0);
    }

    #[test]
    fn misses_reuse_the_buffers_of_evicted_entries_no_reader_holds() {
        // Shards of 16 entries of 1000 bytes; spares up to 1000 bytes (a sixteenth).
        let cache = ChunkCache::new(SHARDS * 16_000);
        let keys = one_shard(40);
        let new = || Arc::new(vec![7u8; 1000]);
        // Nothing evicted yet: a miss gets no buffer.
        assert_eq!(cache.lookup(1, keys[0], Some(1000)).err(), Some(None));
        // A reader holds the first entry (as one that got it from the cache and still reads
        // it): its eviction cannot give its buffer away.
        let held = new();
        cache.insert(1, keys[0], held.clone());
        for &k in &keys[1..16] {
            cache.insert(1, k, new());
        }
        cache.insert(1, keys[16], new());
        assert!(cache.get(1, keys[0]).is_none(), "evicted");
        assert_eq!(cache.lookup(1, keys[30], Some(1000)).err(), Some(None));
        // An entry no reader holds: its buffer goes to the next miss that fits in it, once.
        cache.insert(1, keys[17], new());
        assert!(
            cache
                .lookup(1, keys[30], Some(1001))
                .err()
                .unwrap()
                .is_none(),
            "too small"
        );
        let spare = cache
            .lookup(1, keys[30], Some(1000))
            .err()
            .unwrap()
            .unwrap();
        assert!(spare.capacity() >= 1000);
        assert_eq!(cache.lookup(1, keys[30], Some(1000)).err(), Some(None));
        // Hits are served as ever, and spares are outside the byte count.
        assert!(cache.lookup(1, keys[17], Some(1000)).is_ok());
        let s = cache.stats();
        assert_eq!((s.chunks, s.bytes), (16, 16_000));
        // A spare bound of a sixteenth of the shard: one such buffer, not two.
        cache.insert(1, keys[18], new());
        cache.insert(1, keys[19], new());
        assert!(
            cache
                .lookup(1, keys[30], Some(1000))
                .err()
                .unwrap()
                .is_some()
        );
        assert_eq!(cache.lookup(1, keys[30], Some(1000)).err(), Some(None));
        drop(held);
    }

    #[test]
    fn too_large_chunks_are_not_cached() {
        let cache = ChunkCache::new(SHARDS * 100);
        cache.insert(1, 0, Arc::new(vec![0u8; 1000]));
        assert!(cache.get(1, 0).is_none());
    }
}
