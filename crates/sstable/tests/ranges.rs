#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on errors"
)]

//! Range scans with every kind of bound return exactly what a sorted map returns.

mod common;

use std::collections::BTreeMap;
use std::ops::Bound;

use common::*;
use crypta_sstable::{Entry, Sstable};
use proptest::prelude::*;

type Range<'a> = (Bound<&'a [u8]>, Bound<&'a [u8]>);

fn model(n: u64) -> BTreeMap<Vec<u8>, Entry> {
    (0..n).map(|i| (key(i), entry(i))).collect()
}

fn bound(kind: u8, k: &[u8]) -> Bound<&[u8]> {
    match kind % 3 {
        0 => Bound::Included(k),
        1 => Bound::Excluded(k),
        _ => Bound::Unbounded,
    }
}

fn scan(t: &Sstable, start: Bound<&[u8]>, end: Bound<&[u8]>) -> Vec<(Vec<u8>, Entry)> {
    t.range(start, end).map(Result::unwrap).collect()
}

fn expected(
    m: &BTreeMap<Vec<u8>, Entry>,
    start: Bound<&[u8]>,
    end: Bound<&[u8]>,
) -> Vec<(Vec<u8>, Entry)> {
    let invalid = match (start, end) {
        (Bound::Included(s), Bound::Included(e)) => s > e,
        (Bound::Included(s) | Bound::Excluded(s), Bound::Excluded(e))
        | (Bound::Excluded(s), Bound::Included(e)) => s >= e,
        _ => false,
    };
    if invalid {
        return Vec::new();
    }
    m.range::<[u8], _>((start, end))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

#[test]
fn fixed_bounds() {
    let dir = tempfile::tempdir().unwrap();
    let keys = provider(dir.path());
    let path = at(&dir, "t.db");
    write_n(&path, &aes_cbc(4), keys.clone(), 5000);
    let t = open(&path, keys);
    let m = model(5000);
    let (k10, k20, k4999) = (key(10), key(20), key(4999));
    let cases: Vec<Range<'_>> = vec![
        (Bound::Unbounded, Bound::Unbounded),
        (Bound::Included(&k10), Bound::Included(&k20)),
        (Bound::Excluded(&k10), Bound::Excluded(&k20)),
        (Bound::Included(&k10), Bound::Excluded(&k10)),
        (Bound::Included(&k10), Bound::Included(&k10)),
        (Bound::Excluded(&k20), Bound::Included(&k10)),
        (Bound::Included(b"a"), Bound::Included(b"b")),
        (Bound::Included(b"zz"), Bound::Unbounded),
        (Bound::Unbounded, Bound::Excluded(b"key-")),
        (Bound::Included(&k4999), Bound::Unbounded),
        (Bound::Excluded(&k4999), Bound::Unbounded),
        (
            Bound::Included(b"key-0000001000"),
            Bound::Excluded(b"key-0000003000-"),
        ),
    ];
    for (s, e) in cases {
        assert_eq!(scan(&t, s, e), expected(&m, s, e), "{s:?}..{e:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn random_bounds_match_a_sorted_map(a in 0u64..2200, b in 0u64..2200, ka in 0u8..3, kb in 0u8..3, shift in 0u8..2) {
        use std::sync::OnceLock;
        static TABLE: OnceLock<(tempfile::TempDir, Sstable, BTreeMap<Vec<u8>, Entry>)> = OnceLock::new();
        let (_, t, m) = TABLE.get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let keys = provider(dir.path());
            let path = at(&dir, "p.db");
            write_n(&path, &options("EncryptingLZ4Compressor", Some(("AES/GCM/NoPadding", 256)), 4), keys.clone(), 2000);
            let t = open(&path, keys);
            (dir, t, model(2000))
        });
        // Bounds on existing keys and between them (a key with a suffix sorts after it).
        let mut sa = key(a);
        let mut sb = key(b);
        if shift == 1 {
            sa.push(b'!');
            sb.push(b'!');
        }
        let (s, e) = (bound(ka, &sa), bound(kb, &sb));
        prop_assert_eq!(scan(t, s, e), expected(m, s, e));
    }
}
