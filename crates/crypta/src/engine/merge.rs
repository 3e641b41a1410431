//! Merging sorted sources with last-write-wins: the read path's scans, compaction and
//! `upgradesstables` all stream through [`MergeIter`].

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use crypta_sstable::Entry;

use crate::Result;

/// A sorted stream of (key, entry).
pub(crate) type Source<'a> = Box<dyn Iterator<Item = Result<(Vec<u8>, Entry)>> + Send + 'a>;

/// Whether `a` wins over `b`: larger timestamp; on a tie the tombstone, then the larger value
/// (the same rule as Cassandra, so that the answer does not depend on the order of sources).
pub(crate) fn supersedes(a: &Entry, b: &Entry) -> bool {
    match a.timestamp.cmp(&b.timestamp) {
        Ordering::Greater => true,
        Ordering::Less => false,
        Ordering::Equal => match (&a.value, &b.value) {
            (None, Some(_)) => true,
            (Some(_), None) | (None, None) => false,
            (Some(x), Some(y)) => x > y,
        },
    }
}

struct Head {
    key: Vec<u8>,
    entry: Entry,
    source: usize,
}

impl PartialEq for Head {
    fn eq(&self, o: &Self) -> bool {
        self.key == o.key && self.source == o.source
    }
}
impl Eq for Head {}
impl PartialOrd for Head {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Head {
    // BinaryHeap is a max-heap: reverse so the smallest key comes out first.
    fn cmp(&self, o: &Self) -> Ordering {
        o.key.cmp(&self.key).then(o.source.cmp(&self.source))
    }
}

/// Merges sorted sources into one sorted stream with one entry per key (the winner).
pub(crate) struct MergeIter<'a> {
    sources: Vec<Source<'a>>,
    heap: BinaryHeap<Head>,
    /// Sources to pull from after the current key (kept to reuse its allocation).
    refill: Vec<usize>,
    started: bool,
    failed: bool,
}

impl<'a> MergeIter<'a> {
    pub(crate) fn new(sources: Vec<Source<'a>>) -> Self {
        MergeIter {
            sources,
            heap: BinaryHeap::new(),
            refill: Vec::new(),
            started: false,
            failed: false,
        }
    }

    fn pull(&mut self, i: usize) -> Result<()> {
        if let Some(src) = self.sources.get_mut(i)
            && let Some(item) = src.next()
        {
            let (key, entry) = item?;
            self.heap.push(Head {
                key,
                entry,
                source: i,
            });
        }
        Ok(())
    }
}

impl Iterator for MergeIter<'_> {
    type Item = Result<(Vec<u8>, Entry)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        // One source (a table compacted to one SSTable, an SSTable being rewritten): its keys
        // are unique and sorted already, so entries pass straight through.
        if let [only] = self.sources.as_mut_slice() {
            let item = only.next()?;
            self.failed = item.is_err();
            return Some(item);
        }
        if !self.started {
            self.started = true;
            for i in 0..self.sources.len() {
                if let Err(e) = self.pull(i) {
                    self.failed = true;
                    return Some(Err(e));
                }
            }
        }
        let first = self.heap.pop()?;
        let key = first.key;
        let mut best = first.entry;
        let mut refill = std::mem::take(&mut self.refill);
        refill.clear();
        refill.push(first.source);
        while self.heap.peek().is_some_and(|h| h.key == key) {
            if let Some(h) = self.heap.pop() {
                if supersedes(&h.entry, &best) {
                    best = h.entry;
                }
                refill.push(h.source);
            }
        }
        for &i in &refill {
            if let Err(e) = self.pull(i) {
                self.failed = true;
                return Some(Err(e));
            }
        }
        self.refill = refill;
        Some(Ok((key, best)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(items: &[(&str, Option<&str>, i64)]) -> Source<'static> {
        let v: Vec<Result<(Vec<u8>, Entry)>> = items
            .iter()
            .map(|(k, v, t)| {
                Ok((
                    k.as_bytes().to_vec(),
                    Entry {
                        value: v.map(|s| s.as_bytes().to_vec()),
                        timestamp: *t,
                    },
                ))
            })
            .collect();
        Box::new(v.into_iter())
    }

    #[test]
    fn merges_with_last_write_wins() {
        let m = MergeIter::new(vec![
            src(&[("a", Some("1"), 1), ("c", Some("old"), 1), ("d", None, 9)]),
            src(&[
                ("b", Some("2"), 2),
                ("c", Some("new"), 5),
                ("d", Some("x"), 3),
            ]),
            src(&[]),
        ]);
        let got: Vec<(String, Option<String>)> = m
            .map(|r| {
                let (k, e) = r.unwrap();
                (
                    String::from_utf8(k).unwrap(),
                    e.value.map(|v| String::from_utf8(v).unwrap()),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("a".to_string(), Some("1".to_string())),
                ("b".into(), Some("2".into())),
                ("c".into(), Some("new".into())),
                ("d".into(), None),
            ]
        );
    }

    #[test]
    fn one_source_passes_through() {
        let items = [("a", Some("1"), 1), ("b", None, 2), ("c", Some("3"), 3)];
        let got: Vec<(Vec<u8>, Entry)> = MergeIter::new(vec![src(&items)])
            .map(|r| r.unwrap())
            .collect();
        let want: Vec<(Vec<u8>, Entry)> = src(&items).map(|r| r.unwrap()).collect();
        assert_eq!(got, want);
        assert_eq!(MergeIter::new(vec![]).count(), 0);
    }
}
