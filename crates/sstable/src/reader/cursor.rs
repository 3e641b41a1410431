//! A position in the entry stream, reading across chunk boundaries, loading each chunk once.
//!
//! In a table whose format allows it (every codec since format 3; before, plaintext and
//! uncompressed ECB or CBC), reads take parts of chunks; each chunk they enter is checked once
//! (the frame header and its checksum, the key, the padding; for a compressed chunk the
//! table of its compressed segments), then
//! - lookups without a cache decrypt only windows of it as they read on: [`WINDOW`] bytes at a
//!   time within one 4 KiB segment (the whole segment in a compressed or GCM chunk, whose
//!   segments are inflated or opened whole), never past where the lookup's search ends (the next indexed
//!   entry's header and key), and never the values it skips beyond a window (in a format 1
//!   table, whose frames have one CRC, checking the chunk checks the whole frame);
//! - with a cache, in a table of format 2 or later (frames with a checksum per 4 KiB segment),
//!   lookups and scans read it one segment at a time, from the cache when it holds the
//!   segment; lookups cache what they read (as a block cache holds blocks), scans do not.
//!
//! Either way a read checks the checksums of the payload segments it uses first. Other
//! tables, and scans without a cache, load whole chunks (through the cache if there is one,
//! which lookups fill and scans only read). From its third chunk on, a scan of a compressed or
//! GCM table takes its chunks from a read-ahead thread when one is free ([`readahead`]), which
//! reads them as the scan would have.
#![deny(clippy::indexing_slicing)]

use std::sync::Arc;

use crypta_compression::CheckedFrame;

use super::Inner;
use super::readahead::{self, ReadAhead};
use crate::cache::Chunk;
use crate::entry::{ENTRY_HEADER_LEN, EntryHeader};
use crate::{Component, Entry, SstableError};

/// Bytes a window decrypts at most: a lookup reads on average half an index interval (4 KiB
/// by default) from its indexed entry; windows of 1 KiB decrypt about 2.5 KiB of it where one
/// window to the next indexed entry would decrypt 4 KiB.
const WINDOW: u64 = 1024;

pub(crate) struct Cursor {
    table: Arc<Inner>,
    pos: u64,
    chunk: Option<(u64, Chunk)>,
    fill_cache: bool,
    /// Reading parts of chunks (see the module docs), and where the first window ends.
    partial: bool,
    read_ahead: u64,
    window: Option<Window>,
    /// Reading cached segments of this size (see the module docs): the segment held, its
    /// stream position, and the last chunk checked to read segments from.
    segments: Option<usize>,
    segment: Option<(u64, Chunk)>,
    checked: Option<(u64, CheckedFrame, (u64, u64))>,
    /// For scans: whether read-ahead may start (see [`readahead`]), the running one, the
    /// chunks entered so far and the last one.
    may_read_ahead: bool,
    ahead: Option<ReadAhead>,
    /// The error that ended the read-ahead thread's decoding of the chunk held, after the
    /// part of it held.
    ahead_error: Option<SstableError>,
    ahead_ended: bool,
    ahead_used: bool,
    entered: u32,
    last_entered: Option<u64>,
}

/// A decoded part of a checked chunk.
struct Window {
    chunk: u64,
    frame: CheckedFrame,
    /// The frame's file range.
    slot: (u64, u64),
    /// The stream position of `buf`'s first byte.
    start: u64,
    /// The window's bytes once `held` (before, bytes of an earlier window, written over by
    /// the next read rather than zeroed first).
    buf: Vec<u8>,
    held: bool,
}

thread_local! {
    /// A window buffer left by the thread's last cursor, for its next one: a lookup without a
    /// cache then neither allocates one nor zeroes it before decrypting into it.
    static WINDOW_BUF: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

impl Drop for Cursor {
    fn drop(&mut self) {
        if let Some(w) = self.window.take() {
            WINDOW_BUF.set(w.buf);
        }
    }
}

impl Cursor {
    pub(crate) fn new(table: Arc<Inner>, pos: u64, fill_cache: bool) -> Self {
        Cursor {
            partial: fill_cache && table.partial_reads(),
            segments: table.segment_reads(),
            table,
            pos,
            chunk: None,
            fill_cache,
            read_ahead: 0,
            window: None,
            segment: None,
            checked: None,
            may_read_ahead: false,
            ahead: None,
            ahead_error: None,
            ahead_ended: false,
            ahead_used: false,
            entered: 0,
            last_entered: None,
        }
    }

    /// For a scan: lets a read-ahead thread decode the chunks ahead once the scan has entered
    /// its third chunk, in a table whose chunks are compressed or sealed with GCM (see
    /// [`readahead`]).
    pub(crate) fn allow_read_ahead(&mut self, allow: bool) {
        self.may_read_ahead = allow && self.table.read_ahead();
        if !allow {
            self.ahead = None;
        }
    }

    /// Ends read-ahead for good (the scan is over), joining the thread.
    pub(crate) fn end_read_ahead(&mut self) {
        self.ahead = None;
        self.ahead_ended = true;
    }

    /// Whether a read-ahead thread has decoded chunks for this cursor.
    pub(crate) fn read_ahead_started(&self) -> bool {
        self.ahead_used
    }

    /// For a lookup: it will read up to stream position `end` (a hint; reads may go on).
    pub(crate) fn read_ahead_to(&mut self, end: u64) {
        self.read_ahead = end;
    }

    pub(crate) fn table(&self) -> &Inner {
        &self.table
    }

    pub(crate) fn position(&self) -> u64 {
        self.pos
    }

    pub(crate) fn at_end(&self) -> bool {
        self.pos >= self.table.manifest().data_len
    }

    /// The file offset of the frame holding the current position, for errors.
    pub(crate) fn frame_offset(&self) -> u64 {
        let m = self.table.manifest();
        let i = usize::try_from(self.pos / m.chunk_length as u64).unwrap_or(usize::MAX);
        self.table
            .chunk_offsets
            .get(i)
            .copied()
            .unwrap_or(m.data.end())
    }

    pub(crate) fn corrupt(&self, reason: impl Into<String>) -> SstableError {
        let reason = format!("entry stream byte {}: {}", self.pos, reason.into());
        self.table
            .corrupt(Component::Data, self.frame_offset(), reason)
    }

    pub(crate) fn out_of_order(&self) -> SstableError {
        self.corrupt("keys are not in increasing order")
    }

    /// The rest of the current chunk from the position (loading the chunk if needed), or for
    /// partial reads the rest of the current window.
    fn available(&mut self) -> Result<&[u8], SstableError> {
        if self.partial {
            return self.available_window();
        }
        let chunk_length = self.table.manifest().chunk_length as u64;
        let i = self.pos / chunk_length;
        let off = (self.pos % chunk_length) as usize;
        if self.may_read_ahead && self.chunk_from_read_ahead(i, off)? {
            // `self.chunk` holds chunk `i`.
        } else if let Some(seg_len) = self.segments {
            return self.available_segment(seg_len);
        } else if self.chunk.as_ref().is_none_or(|(ci, _)| *ci != i) {
            let reuse = self.chunk.take().map(|(_, c)| c);
            let c = self.table.chunk(i, self.fill_cache, reuse)?;
            self.chunk = Some((i, c));
        }
        match &self.chunk {
            Some((_, c)) => Ok(c.get(off..).unwrap_or_default()),
            None => Ok(&[]),
        }
    }

    /// Whether chunk `i` came from the read-ahead thread into `self.chunk`: counts the chunks
    /// entered, starts the thread after [`readahead::START_AFTER`] of them if a slot is free,
    /// and takes the chunk from it. Returns the thread's error for the chunk once the position
    /// is past the part of it that decoded.
    fn chunk_from_read_ahead(&mut self, i: u64, off: usize) -> Result<bool, SstableError> {
        if self.last_entered != Some(i) {
            self.last_entered = Some(i);
            self.entered = self.entered.saturating_add(1);
            if self.ahead.is_none() && !self.ahead_ended && self.entered > readahead::START_AFTER {
                self.ahead = ReadAhead::start(self.table.clone(), i);
            }
            let Some(ahead) = &mut self.ahead else {
                return Ok(false);
            };
            match ahead.take(i) {
                Some(a) => {
                    self.ahead_used = true;
                    if let Some((_, spent)) = self.chunk.replace((i, a.chunk)) {
                        ahead.recycle(spent);
                    }
                    self.ahead_error = a.error;
                    if self.ahead_error.is_some() {
                        self.ahead = None;
                        self.ahead_ended = true;
                    }
                }
                None => {
                    // The thread ended before chunk `i` (after an error in a chunk the scan
                    // skipped): read on without it.
                    self.ahead = None;
                    self.ahead_ended = true;
                    return Ok(false);
                }
            }
        }
        let held = match &self.chunk {
            Some((c, chunk)) if *c == i && (self.ahead.is_some() || self.ahead_error.is_some()) => {
                chunk.len()
            }
            _ => return Ok(false),
        };
        if off >= held
            && let Some(e) = self.ahead_error.take()
        {
            return Err(e);
        }
        Ok(true)
    }

    /// The rest of the window holding the position, decoding a new one if needed: from the
    /// position, [`WINDOW`] bytes or up to the read-ahead mark, within the chunk.
    fn available_window(&mut self) -> Result<&[u8], SstableError> {
        let chunk_length = self.table.manifest().chunk_length as u64;
        let i = self.pos / chunk_length;
        let chunk_start = i * chunk_length;
        if self.window.as_ref().is_none_or(|w| w.chunk != i) {
            let buf = match self.window.take() {
                Some(w) => w.buf,
                None => WINDOW_BUF.take(),
            };
            let (frame, at, end) = self.table.check_chunk(i)?;
            self.window = Some(Window {
                chunk: i,
                frame,
                slot: (at, end),
                start: self.pos,
                buf,
                held: false,
            });
        }
        let Some(w) = &mut self.window else {
            return Ok(&[]);
        };
        let held = w.start..w.start + w.buf.len() as u64;
        if !w.held || !held.contains(&self.pos) {
            let chunk_len = w.frame.plaintext_len() as u64;
            let mut from = self.pos - chunk_start;
            let mut to = self.pos.saturating_add(WINDOW);
            if self.read_ahead > self.pos {
                to = to.min(self.read_ahead);
            }
            to = to.saturating_sub(chunk_start).min(chunk_len);
            // A window stays in one checksummed segment, so that a lookup reads the segments
            // its search enters and no other (as one through the cache does); a compressed
            // segment is inflated whole, and a GCM segment opened whole, whatever part of it
            // is read, so the window keeps it all.
            if let Some(seg) = w.frame.segment_len().map(|s| s as u64) {
                let seg_start = from / seg * seg;
                let seg_end = (seg_start + seg).min(chunk_len);
                to = to.min(seg_end);
                let h = w.frame.header();
                if h.compressed_segments().is_some() || h.gcm_segments().is_some() {
                    (from, to) = (seg_start, seg_end);
                }
            }
            // From the cipher block that holds the position: the blocks are decrypted into
            // the window's buffer in place, over its last window's bytes.
            let align = w.frame.read_alignment() as u64;
            from = from / align * align;
            w.start = chunk_start + from;
            let range = usize::try_from(from)
                .ok()
                .zip(usize::try_from(to.max(from)).ok())
                .map(|(a, b)| a..b)
                .unwrap_or_default();
            w.held = false;
            self.table
                .read_chunk_range_over(&mut w.frame, w.slot, range, &mut w.buf)?;
            w.held = true;
        }
        let off = usize::try_from(self.pos - w.start).unwrap_or(usize::MAX);
        Ok(w.buf.get(off..).unwrap_or_default())
    }

    /// The rest of the segment holding the position, from the cache or read and cached.
    fn available_segment(&mut self, seg_len: usize) -> Result<&[u8], SstableError> {
        let chunk_length = self.table.manifest().chunk_length as u64;
        let i = self.pos / chunk_length;
        let in_chunk = usize::try_from(self.pos % chunk_length).unwrap_or(usize::MAX);
        let s = in_chunk / seg_len;
        let start = i * chunk_length + (s * seg_len) as u64;
        if self.segment.as_ref().is_none_or(|(at, _)| *at != start) {
            let seg = self
                .table
                .segment(i, s, seg_len, &mut self.checked, self.fill_cache)?;
            self.segment = Some((start, seg));
        }
        match &self.segment {
            Some((at, seg)) => {
                let off = usize::try_from(self.pos - at).unwrap_or(usize::MAX);
                Ok(seg.get(off..).unwrap_or_default())
            }
            None => Ok(&[]),
        }
    }

    /// Fails unless `n` more bytes exist in the stream.
    fn check_len(&self, n: u64) -> Result<(), SstableError> {
        let end = self.pos.checked_add(n);
        if end.is_none_or(|e| e > self.table.manifest().data_len) {
            return Err(self.corrupt(format!("an entry needs {n} bytes past the end of the data")));
        }
        Ok(())
    }

    /// Appends the next `n` bytes to `out`.
    pub(crate) fn read_into(&mut self, n: u64, out: &mut Vec<u8>) -> Result<(), SstableError> {
        self.check_len(n)?;
        let mut left = n;
        while left > 0 {
            let avail = self.available()?;
            if avail.is_empty() {
                return Err(self.corrupt("chunk ended early"));
            }
            let take = avail.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            out.extend_from_slice(avail.get(..take).unwrap_or_default());
            self.pos += take as u64;
            left -= take as u64;
        }
        Ok(())
    }

    /// Moves past the next `n` bytes without decoding the chunks they lie in wholly.
    pub(crate) fn skip(&mut self, n: u64) -> Result<(), SstableError> {
        self.check_len(n)?;
        self.pos += n;
        Ok(())
    }

    /// Reads the next entry header.
    pub(crate) fn next_header(&mut self) -> Result<EntryHeader, SstableError> {
        let mut h = [0u8; ENTRY_HEADER_LEN];
        let avail = self.available()?;
        if let Some(src) = avail.get(..ENTRY_HEADER_LEN) {
            h.copy_from_slice(src);
            self.pos += ENTRY_HEADER_LEN as u64;
        } else {
            let mut v = Vec::with_capacity(ENTRY_HEADER_LEN);
            self.read_into(ENTRY_HEADER_LEN as u64, &mut v)?;
            h.copy_from_slice(v.get(..ENTRY_HEADER_LEN).unwrap_or(&[0; ENTRY_HEADER_LEN]));
        }
        let header = EntryHeader::decode(&h).map_err(|reason| self.corrupt(reason))?;
        self.check_len(header.body_len())?;
        Ok(header)
    }

    /// Reads the value after a key: an entry.
    pub(crate) fn read_value(&mut self, h: &EntryHeader) -> Result<Entry, SstableError> {
        if h.tombstone {
            return Ok(Entry::tombstone(h.timestamp));
        }
        // The length is checked against the data left; allocation still grows with what is
        // actually read beyond a first megabyte.
        let mut v = Vec::with_capacity(h.value_len.min(1 << 20));
        self.read_into(h.value_len as u64, &mut v)?;
        Ok(Entry::value(v, h.timestamp))
    }
}
