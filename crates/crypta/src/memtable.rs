//! The memtable: a concurrent skiplist of the latest write per key, last write wins.

use std::ops::Bound;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use crate::engine::supersedes;

use crossbeam_skiplist::SkipMap;
use crypta_commitlog::Position;

/// A cell: a value or a tombstone, with its write timestamp (microseconds since the epoch).
pub use crypta_sstable::Entry as Cell;

fn weight(key: &[u8], cell: &Cell) -> usize {
    key.len() + cell.value.as_ref().map_or(0, Vec::len) + 48
}

/// One table's memtable.
#[derive(Debug, Default)]
pub struct Memtable {
    map: SkipMap<Vec<u8>, Cell>,
    bytes: AtomicUsize,
    /// The smallest commit log position whose record this memtable holds.
    first_position: Mutex<Option<Position>>,
}

impl Memtable {
    /// An empty memtable.
    pub fn new() -> Self {
        Memtable {
            map: SkipMap::new(),
            bytes: AtomicUsize::new(0),
            first_position: Mutex::new(None),
        }
    }

    /// Applies a write unless the memtable holds a newer one for the key.
    pub fn apply(&self, key: &[u8], cell: Cell, log_position: Position) {
        let w = weight(key, &cell);
        let entry = self
            .map
            .compare_insert(key.to_vec(), cell.clone(), |old| supersedes(&cell, old));
        if entry.value() == &cell {
            self.bytes.fetch_add(w, Ordering::Relaxed);
        }
        let mut first = self
            .first_position
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if first.is_none_or(|f| log_position < f) {
            *first = Some(log_position);
        }
    }

    /// The cell for `key`, tombstones included.
    pub fn get(&self, key: &[u8]) -> Option<Cell> {
        self.map.get(key).map(|e| e.value().clone())
    }

    /// Cells in key order within the bounds.
    pub fn range<'a>(
        &'a self,
        start: Bound<&'a [u8]>,
        end: Bound<&'a [u8]>,
    ) -> impl Iterator<Item = (Vec<u8>, Cell)> + 'a {
        self.map
            .range::<[u8], _>((start, end))
            .map(|e| (e.key().clone(), e.value().clone()))
    }

    /// Approximate bytes held.
    pub fn size_bytes(&self) -> usize {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The smallest commit log position of the records it holds, if any.
    pub fn first_position(&self) -> Option<Position> {
        *self
            .first_position
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos(offset: u64) -> Position {
        Position { segment: 1, offset }
    }

    fn cell(v: Option<&str>, ts: i64) -> Cell {
        Cell {
            value: v.map(|s| s.as_bytes().to_vec()),
            timestamp: ts,
        }
    }

    #[test]
    fn last_write_wins_whatever_the_arrival_order() {
        let m = Memtable::new();
        m.apply(b"k", cell(Some("new"), 20), pos(5));
        m.apply(b"k", cell(Some("old"), 10), pos(3));
        assert_eq!(m.get(b"k").unwrap(), cell(Some("new"), 20));
        m.apply(b"k", cell(None, 30), pos(7));
        assert_eq!(m.get(b"k").unwrap().value, None);
        assert_eq!(m.first_position(), Some(pos(3)));
        // Ties: the tombstone wins, then the larger value.
        m.apply(b"t", cell(Some("a"), 1), pos(8));
        m.apply(b"t", cell(Some("b"), 1), pos(8));
        assert_eq!(m.get(b"t").unwrap().value.unwrap(), b"b");
        m.apply(b"t", cell(None, 1), pos(8));
        assert_eq!(m.get(b"t").unwrap().value, None);
    }

    #[test]
    fn ranges_are_ordered_and_bounded() {
        let m = Memtable::new();
        for k in ["d", "a", "c", "b", "e"] {
            m.apply(k.as_bytes(), cell(Some(k), 1), pos(0));
        }
        let keys: Vec<_> = m
            .range(
                Bound::Included(b"b".as_slice()),
                Bound::Excluded(b"e".as_slice()),
            )
            .map(|(k, _)| String::from_utf8(k).unwrap())
            .collect();
        assert_eq!(keys, ["b", "c", "d"]);
        assert_eq!(m.len(), 5);
        assert!(m.size_bytes() > 0);
    }
}
