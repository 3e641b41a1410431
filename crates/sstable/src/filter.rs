//! The bloom filter: MurmurHash3 x64 128 of the key (Cassandra's filter hash), `k` probes by
//! double hashing over `m = 64 * words` bits, stored as little-endian `u64` words.
#![deny(clippy::indexing_slicing)]

/// Bits per key when the writer is not told otherwise: about 1% false positives.
pub const DEFAULT_BITS_PER_KEY: u32 = 10;

/// A bloom filter over keys.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Bloom {
    words: Vec<u64>,
    hashes: u8,
}

impl std::fmt::Debug for Bloom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Bloom({} bits, {} hashes)",
            self.words.len() * 64,
            self.hashes
        )
    }
}

impl Bloom {
    /// An empty filter sized for `expected` keys at `bits_per_key`.
    pub(crate) fn with_capacity(expected: u64, bits_per_key: u32) -> Self {
        let bits_per_key = bits_per_key.clamp(1, 64);
        // At most 2^32 bits (512 MiB), whatever the caller expects.
        let bits = expected
            .max(1)
            .saturating_mul(u64::from(bits_per_key))
            .min(1 << 32);
        let words = usize::try_from(bits.div_ceil(64)).unwrap_or(usize::MAX / 8);
        // k = bits per key * ln 2, the count that minimises false positives.
        let hashes = (f64::from(bits_per_key) * std::f64::consts::LN_2).round();
        Bloom {
            words: vec![0; words.max(1)],
            hashes: (hashes as u8).clamp(1, 30),
        }
    }

    /// A filter from its stored parts.
    pub(crate) fn from_parts(words: Vec<u64>, hashes: u8) -> Self {
        Bloom { words, hashes }
    }

    pub(crate) fn hashes(&self) -> u8 {
        self.hashes
    }

    pub(crate) fn words(&self) -> &[u64] {
        &self.words
    }

    /// The bit positions of `key`, as `(word, mask)` pairs.
    fn probes(&self, key: &[u8]) -> impl Iterator<Item = (usize, u64)> + use<> {
        let bits = self.words.len() as u64 * 64;
        let (h1, h2) = murmur3_x64_128(key, 0);
        (0..u64::from(self.hashes)).map(move |i| {
            let bit = h1.wrapping_add(i.wrapping_mul(h2)) % bits.max(1);
            ((bit / 64) as usize, 1u64 << (bit % 64))
        })
    }

    pub(crate) fn insert(&mut self, key: &[u8]) {
        for (w, mask) in self.probes(key) {
            if let Some(word) = self.words.get_mut(w) {
                *word |= mask;
            }
        }
    }

    /// `false` means the key is certainly absent.
    pub(crate) fn may_contain(&self, key: &[u8]) -> bool {
        self.probes(key)
            .all(|(w, mask)| self.words.get(w).is_some_and(|word| word & mask != 0))
    }
}

/// MurmurHash3 x64 128 (Austin Appleby's reference `MurmurHash3_x64_128`), as two `u64`.
pub(crate) fn murmur3_x64_128(data: &[u8], seed: u64) -> (u64, u64) {
    const C1: u64 = 0x87c3_7b91_1142_53d5;
    const C2: u64 = 0x4cf5_ad43_2745_937f;
    let mut h1 = seed;
    let mut h2 = seed;
    let mut blocks = data.chunks_exact(16);
    for block in blocks.by_ref() {
        let (a, b) = block.split_at(8);
        let mut k1 = u64::from_le_bytes(a.try_into().unwrap_or_default());
        let mut k2 = u64::from_le_bytes(b.try_into().unwrap_or_default());
        k1 = k1.wrapping_mul(C1).rotate_left(31).wrapping_mul(C2);
        h1 ^= k1;
        h1 = h1
            .rotate_left(27)
            .wrapping_add(h2)
            .wrapping_mul(5)
            .wrapping_add(0x52dc_e729);
        k2 = k2.wrapping_mul(C2).rotate_left(33).wrapping_mul(C1);
        h2 ^= k2;
        h2 = h2
            .rotate_left(31)
            .wrapping_add(h1)
            .wrapping_mul(5)
            .wrapping_add(0x3849_5ab5);
    }
    let tail = blocks.remainder();
    let mut k1 = 0u64;
    let mut k2 = 0u64;
    for (i, &b) in tail.iter().enumerate() {
        if i < 8 {
            k1 ^= u64::from(b) << (8 * i);
        } else {
            k2 ^= u64::from(b) << (8 * (i - 8));
        }
    }
    if tail.len() > 8 {
        h2 ^= k2.wrapping_mul(C2).rotate_left(33).wrapping_mul(C1);
    }
    if !tail.is_empty() {
        h1 ^= k1.wrapping_mul(C1).rotate_left(31).wrapping_mul(C2);
    }
    let len = data.len() as u64;
    h1 ^= len;
    h2 ^= len;
    h1 = h1.wrapping_add(h2);
    h2 = h2.wrapping_add(h1);
    h1 = fmix64(h1);
    h2 = fmix64(h2);
    h1 = h1.wrapping_add(h2);
    h2 = h2.wrapping_add(h1);
    (h1, h2)
}

fn fmix64(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^= k >> 33;
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur3_reference_vectors() {
        assert_eq!(murmur3_x64_128(b"", 0), (0, 0));
        // The reference implementation's output for the pangram, seed 0.
        assert_eq!(
            murmur3_x64_128(b"The quick brown fox jumps over the lazy dog", 0),
            (0xe34b_bc7b_bc07_1b6c, 0x7a43_3ca9_c49a_9347)
        );
    }

    #[test]
    fn no_false_negatives_and_few_false_positives() {
        let mut b = Bloom::with_capacity(10_000, 10);
        for i in 0..10_000u32 {
            b.insert(format!("key-{i}").as_bytes());
        }
        assert!((0..10_000u32).all(|i| b.may_contain(format!("key-{i}").as_bytes())));
        let fp = (0..10_000u32)
            .filter(|i| b.may_contain(format!("other-{i}").as_bytes()))
            .count();
        assert!(fp < 300, "{fp} false positives in 10000");
    }
}
