//! A bounded little-endian reader and writer for crypta's binary formats.
//!
//! Every decoder in crypta reads through [`Reader`]: each read checks the remaining length and
//! returns a [`WireError`] with the offset instead of panicking, and [`Reader::finish`] rejects
//! trailing bytes (the habit of rustls' `codec.rs`). The crates that own a format wrap
//! `WireError` in their own error with the file and component.
#![deny(clippy::indexing_slicing)]

use std::fmt;

/// A read past the end of the input, or trailing bytes after a complete structure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WireError {
    /// Offset (from the start of the reader's input) where the problem was found.
    pub offset: usize,
    /// What was being read.
    pub what: &'static str,
    /// What was wrong.
    pub kind: WireErrorKind,
}

/// The kinds of [`WireError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WireErrorKind {
    /// The input ended `needed` bytes too early.
    Truncated {
        /// Bytes wanted.
        needed: usize,
        /// Bytes left.
        available: usize,
    },
    /// Bytes were left over after the structure.
    TrailingBytes(usize),
    /// A value was out of the allowed range.
    OutOfRange,
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            WireErrorKind::Truncated { needed, available } => write!(
                f,
                "truncated {} at offset {}: needs {needed} bytes, {available} left",
                self.what, self.offset
            ),
            WireErrorKind::TrailingBytes(n) => {
                write!(
                    f,
                    "{n} unexpected bytes after {} at offset {}",
                    self.what, self.offset
                )
            }
            WireErrorKind::OutOfRange => {
                write!(f, "{} out of range at offset {}", self.what, self.offset)
            }
        }
    }
}

impl std::error::Error for WireError {}

/// A cursor over a byte slice whose reads never panic.
#[derive(Clone, Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// Reads `buf` from its start.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// Bytes consumed so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Bytes not yet consumed.
    pub fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    /// The unread bytes, without consuming them.
    pub fn rest(&self) -> &'a [u8] {
        self.buf.get(self.pos..).unwrap_or_default()
    }

    /// An error of kind `OutOfRange` at the current offset.
    pub fn out_of_range(&self, what: &'static str) -> WireError {
        WireError {
            offset: self.pos,
            what,
            kind: WireErrorKind::OutOfRange,
        }
    }

    /// The next `n` bytes.
    pub fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], WireError> {
        let end = self.pos.checked_add(n);
        match end.and_then(|end| self.buf.get(self.pos..end)) {
            Some(s) => {
                self.pos += n;
                Ok(s)
            }
            None => Err(WireError {
                offset: self.pos,
                what,
                kind: WireErrorKind::Truncated {
                    needed: n,
                    available: self.remaining(),
                },
            }),
        }
    }

    /// The next `N` bytes as an array.
    pub fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], WireError> {
        let s = self.take(N, what)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    /// One byte.
    pub fn u8(&mut self, what: &'static str) -> Result<u8, WireError> {
        Ok(self.array::<1>(what)?[0])
    }

    /// A little-endian `u16`.
    pub fn u16(&mut self, what: &'static str) -> Result<u16, WireError> {
        self.array(what).map(u16::from_le_bytes)
    }

    /// A little-endian `u32`.
    pub fn u32(&mut self, what: &'static str) -> Result<u32, WireError> {
        self.array(what).map(u32::from_le_bytes)
    }

    /// A little-endian `u64`.
    pub fn u64(&mut self, what: &'static str) -> Result<u64, WireError> {
        self.array(what).map(u64::from_le_bytes)
    }

    /// A `u8` length followed by that many bytes.
    pub fn bytes_u8(&mut self, what: &'static str) -> Result<&'a [u8], WireError> {
        let n = self.u8(what)?;
        self.take(usize::from(n), what)
    }

    /// A little-endian `u16` length followed by that many bytes.
    pub fn bytes_u16(&mut self, what: &'static str) -> Result<&'a [u8], WireError> {
        let n = self.u16(what)?;
        self.take(usize::from(n), what)
    }

    /// A little-endian `u32` length (at most `max`) followed by that many bytes.
    pub fn bytes_u32(&mut self, max: usize, what: &'static str) -> Result<&'a [u8], WireError> {
        let at = self.pos;
        let n = usize::try_from(self.u32(what)?).unwrap_or(usize::MAX);
        if n > max {
            return Err(WireError {
                offset: at,
                what,
                kind: WireErrorKind::OutOfRange,
            });
        }
        self.take(n, what)
    }

    /// Succeeds only if every byte was consumed.
    pub fn finish(self, what: &'static str) -> Result<(), WireError> {
        match self.remaining() {
            0 => Ok(()),
            n => Err(WireError {
                offset: self.pos,
                what,
                kind: WireErrorKind::TrailingBytes(n),
            }),
        }
    }
}

/// Little-endian appends to a `Vec<u8>`, the counterpart of [`Reader`].
pub trait WriteLe {
    /// Appends one byte.
    fn put_u8(&mut self, v: u8);
    /// Appends a little-endian `u16`.
    fn put_u16(&mut self, v: u16);
    /// Appends a little-endian `u32`.
    fn put_u32(&mut self, v: u32);
    /// Appends a little-endian `u64`.
    fn put_u64(&mut self, v: u64);
    /// Appends a `u8` length and the bytes; `None` if they are longer than 255 bytes.
    fn put_bytes_u8(&mut self, b: &[u8]) -> Option<()>;
    /// Appends a `u16` length and the bytes; `None` if they are longer than 65,535 bytes.
    fn put_bytes_u16(&mut self, b: &[u8]) -> Option<()>;
}

impl WriteLe for Vec<u8> {
    fn put_u8(&mut self, v: u8) {
        self.push(v);
    }
    fn put_u16(&mut self, v: u16) {
        self.extend_from_slice(&v.to_le_bytes());
    }
    fn put_u32(&mut self, v: u32) {
        self.extend_from_slice(&v.to_le_bytes());
    }
    fn put_u64(&mut self, v: u64) {
        self.extend_from_slice(&v.to_le_bytes());
    }
    fn put_bytes_u8(&mut self, b: &[u8]) -> Option<()> {
        self.push(u8::try_from(b.len()).ok()?);
        self.extend_from_slice(b);
        Some(())
    }
    fn put_bytes_u16(&mut self, b: &[u8]) -> Option<()> {
        self.put_u16(u16::try_from(b.len()).ok()?);
        self.extend_from_slice(b);
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_bounds() {
        let mut v = Vec::new();
        v.put_u8(7);
        v.put_u16(0x0102);
        v.put_u32(0x0304_0506);
        v.put_u64(9);
        v.put_bytes_u8(b"abc").unwrap();
        let mut r = Reader::new(&v);
        assert_eq!(r.u8("a").unwrap(), 7);
        assert_eq!(r.u16("b").unwrap(), 0x0102);
        assert_eq!(r.u32("c").unwrap(), 0x0304_0506);
        assert_eq!(r.u64("d").unwrap(), 9);
        assert_eq!(r.bytes_u8("e").unwrap(), b"abc");
        assert!(r.clone().finish("x").is_ok());
        let err = r.u8("f").unwrap_err();
        assert_eq!(err.offset, v.len());
        assert!(err.to_string().contains("truncated f"));
    }

    #[test]
    fn trailing_and_huge_lengths() {
        let r = Reader::new(&[1, 2]);
        assert!(matches!(
            r.finish("s").unwrap_err().kind,
            WireErrorKind::TrailingBytes(2)
        ));
        let mut r = Reader::new(&[0xff, 0xff, 0xff, 0xff]);
        assert!(r.bytes_u32(1024, "blob").is_err());
        let mut r = Reader::new(&[]);
        assert!(r.take(usize::MAX, "big").is_err());
        assert!(vec![0u8; 0].put_bytes_u8(&[0; 256]).is_none());
    }
}
