//! Range scans: a streaming iterator over the entries within bounds, in key order.
#![deny(clippy::indexing_slicing)]

use std::ops::Bound;
use std::sync::Arc;

use super::Inner;
use super::cursor::Cursor;
use crate::entry::EntryHeader;
use crate::{Entry, SstableError};

/// The entries of a range, in key order, decoded one chunk at a time. Holds one decoded
/// chunk and the current entry: memory does not grow with the range. After an error it
/// yields nothing more.
pub struct Scan {
    cursor: Cursor,
    start: Bound<Vec<u8>>,
    end: Bound<Vec<u8>>,
    prev: Option<Vec<u8>>,
    done: bool,
}

impl std::fmt::Debug for Scan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scan")
            .field("file", &self.cursor.table().path())
            .field("position", &self.cursor.position())
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl Scan {
    pub(crate) fn new(table: Arc<Inner>, start: Bound<&[u8]>, end: Bound<&[u8]>) -> Self {
        let from = match start {
            Bound::Included(k) | Bound::Excluded(k) => {
                table.index().floor(k).map_or(0, |(_, _, p)| p)
            }
            Bound::Unbounded => 0,
        };
        let empty = match (start, end) {
            (Bound::Included(s), Bound::Included(e)) => s > e,
            (Bound::Included(s) | Bound::Excluded(s), Bound::Excluded(e))
            | (Bound::Excluded(s), Bound::Included(e)) => s >= e,
            _ => false,
        };
        let mut cursor = Cursor::new(table, from, false);
        cursor.allow_read_ahead(true);
        Scan {
            cursor,
            start: start.map(<[u8]>::to_vec),
            end: end.map(<[u8]>::to_vec),
            prev: None,
            done: empty,
        }
    }

    /// With `false`, the scan decodes every chunk on the calling thread. With `true` (the
    /// default), in a table whose chunks are compressed or sealed with GCM, once the scan has
    /// entered its third chunk a read-ahead thread decodes the chunks ahead while it parses
    /// the current one, if one of the process's read-ahead slots (one per core) is free. The
    /// entries and the errors are the same either way.
    pub fn read_ahead(mut self, on: bool) -> Scan {
        self.cursor.allow_read_ahead(on);
        self
    }

    /// Whether a read-ahead thread has decoded chunks for this scan.
    pub fn read_ahead_started(&self) -> bool {
        self.cursor.read_ahead_started()
    }

    /// The next entry with its position in the entry stream, without looking at the bounds.
    pub(crate) fn next_raw(&mut self) -> Result<Option<(u64, Vec<u8>, EntryHeader)>, SstableError> {
        if self.cursor.at_end() {
            return Ok(None);
        }
        let at = self.cursor.position();
        let h = self.cursor.next_header()?;
        let mut key = Vec::with_capacity(h.key_len);
        self.cursor.read_into(h.key_len as u64, &mut key)?;
        match &mut self.prev {
            Some(p) if *p >= key => return Err(self.cursor.out_of_order()),
            Some(p) => {
                p.clear();
                p.extend_from_slice(&key);
            }
            None => self.prev = Some(key.clone()),
        }
        Ok(Some((at, key, h)))
    }

    pub(crate) fn skip_value(&mut self, h: &EntryHeader) -> Result<(), SstableError> {
        self.cursor.skip(h.value_len as u64)
    }

    pub(crate) fn read_value(&mut self, h: &EntryHeader) -> Result<Entry, SstableError> {
        self.cursor.read_value(h)
    }

    fn step(&mut self) -> Result<Option<(Vec<u8>, Entry)>, SstableError> {
        loop {
            let Some((_, key, h)) = self.next_raw()? else {
                return Ok(None);
            };
            let before_start = match &self.start {
                Bound::Included(s) => key < *s,
                Bound::Excluded(s) => key <= *s,
                Bound::Unbounded => false,
            };
            if before_start {
                self.skip_value(&h)?;
                continue;
            }
            self.start = Bound::Unbounded; // keys only grow from here
            let past_end = match &self.end {
                Bound::Included(e) => key > *e,
                Bound::Excluded(e) => key >= *e,
                Bound::Unbounded => false,
            };
            if past_end {
                return Ok(None);
            }
            let entry = self.read_value(&h)?;
            return Ok(Some((key, entry)));
        }
    }
}

impl Iterator for Scan {
    type Item = Result<(Vec<u8>, Entry), SstableError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.step() {
            Ok(Some(e)) => Some(Ok(e)),
            Ok(None) => {
                self.done = true;
                self.cursor.end_read_ahead();
                None
            }
            Err(e) => {
                self.done = true;
                self.cursor.end_read_ahead();
                Some(Err(e))
            }
        }
    }
}
