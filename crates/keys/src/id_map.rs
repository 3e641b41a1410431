//! [`KeyIdMap`]: keys by id, looked up on every decrypt, with a hash that costs a few
//! nanoseconds instead of SipHash's tens.
//!
//! Every encrypted chunk read looks its key up by id, so the hash of a [`KeyId`] is on the
//! read path. std's default SipHash-1-3 resists collision flooding by untrusted keys; it is
//! not needed here: the map is filled only with ids the key file or the key server gave, and
//! a lookup by a hostile id (read from a damaged or forged frame) costs one probe sequence
//! whatever its hash. [`KeyIdHasher`] multiplies in 8 bytes at a time and mixes the result
//! (murmur3's finalizer), so that ids sharing a prefix (`local-...`) spread over the buckets.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::KeyId;

/// A map from key ids, hashed with [`KeyIdHasher`]. Make one with `KeyIdMap::default()`.
pub type KeyIdMap<V> = HashMap<KeyId, V, BuildHasherDefault<KeyIdHasher>>;

/// A fast, unkeyed hasher for [`KeyId`]s (see the module docs for why unkeyed is enough).
#[derive(Clone, Copy, Debug, Default)]
pub struct KeyIdHasher(u64);

const MUL: u64 = 0x517c_c1b7_2722_0a95;

impl KeyIdHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(MUL);
    }
}

impl Hasher for KeyIdHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for w in &mut words {
            let mut word = [0u8; 8];
            word.copy_from_slice(w);
            self.add(u64::from_le_bytes(word));
        }
        let rest = words.remainder();
        // Little-endian, in registers (a copy into a buffer then a load stalls the store
        // forwarding, and costs as much as the rest of the hash).
        let tail = rest
            .iter()
            .rev()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
        // The length of the tail tells "ab" from "ab\0".
        self.add(tail ^ ((rest.len() as u64) << 56));
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        // murmur3 fmix64: every input bit reaches the low bits (the bucket) and the top seven
        // (hashbrown's tag).
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::hash::BuildHasher;

    use super::*;

    fn hash(id: &str) -> u64 {
        BuildHasherDefault::<KeyIdHasher>::default().hash_one(KeyId::new(id).unwrap())
    }

    #[test]
    fn finds_what_it_holds_and_nothing_else() {
        let mut m = KeyIdMap::default();
        for i in 0..1000u32 {
            m.insert(KeyId::new(format!("local-{i:032x}")).unwrap(), i);
        }
        for i in 0..1000u32 {
            let id = KeyId::new(format!("local-{i:032x}")).unwrap();
            assert_eq!(m.get(&id), Some(&i));
        }
        for miss in ["local-", "local-0", "1", "x".repeat(255).as_str()] {
            assert_eq!(m.get(&KeyId::new(miss).unwrap()), None, "{miss}");
        }
    }

    #[test]
    fn tails_and_lengths_matter() {
        // Same bytes up to zero padding, or differing only in the last byte of a word.
        let ids = [
            "a",
            "a!",
            "ab",
            "abcdefg",
            "abcdefgh",
            "abcdefgh1",
            "abcdefgi",
            "1",
            "2",
        ];
        let hashes: HashSet<u64> = ids.iter().map(|id| hash(id)).collect();
        assert_eq!(hashes.len(), ids.len());
    }

    #[test]
    fn ids_with_one_prefix_spread_over_low_and_high_bits() {
        // KMIP servers number keys ("1", "2", ...); local ids share `local-`. Both must fill
        // the buckets (low bits) and the tags (top 7 bits) evenly enough.
        for make in [
            |i: u32| format!("{i}"),
            |i: u32| format!("local-{:032x}", u128::from(i) << 64),
        ] {
            let hashes: Vec<u64> = (0..4096).map(|i| hash(&make(i))).collect();
            let low: HashSet<u64> = hashes.iter().map(|h| h & 0xfff).collect();
            let top: HashSet<u64> = hashes.iter().map(|h| h >> 57).collect();
            assert!(low.len() > 2400, "{} distinct low 12 bits", low.len());
            assert_eq!(top.len(), 128, "every 7-bit tag used");
        }
    }
}
