//! TTLV, the KMIP wire encoding: a tree of tag/type/length/value items.
//!
//! Every item is a 3-byte tag, a 1-byte type, a 4-byte big-endian length and the value, padded
//! with zeros to a multiple of 8 bytes (KMIP 1.x, section 9.1). This module knows the ten item
//! types and nothing about what the tags mean: [`Ttlv`] is a generic tree, so that a response
//! with tags this crate has never heard of still decodes (its unknown items are simply not
//! looked at), and the message layer (`message.rs`) picks out the items it needs.
//!
//! Byte strings (which carry key material) are zeroized when the tree is dropped, and `Debug`
//! shows only their length.

mod decode;
mod encode;
pub(crate) mod tags;

use std::fmt;

use zeroize::Zeroizing;

pub use decode::{DecodeLimits, decode, decode_with, message_length};

/// A KMIP tag: 24 bits, `0x42xxxx` for the standard ones, `0x54xxxx` for extensions.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag(pub u32);

impl fmt::Debug for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tag(0x{:06X})", self.0)
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:06X}", self.0)
    }
}

/// The type byte of a TTLV item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ItemType {
    /// 0x01: a sequence of items.
    Structure,
    /// 0x02: a signed 32-bit integer.
    Integer,
    /// 0x03: a signed 64-bit integer.
    LongInteger,
    /// 0x04: a two's complement big-endian integer, a multiple of 8 bytes.
    BigInteger,
    /// 0x05: an unsigned 32-bit enumeration value.
    Enumeration,
    /// 0x06: a boolean held in 8 bytes.
    Boolean,
    /// 0x07: UTF-8 text.
    TextString,
    /// 0x08: bytes.
    ByteString,
    /// 0x09: seconds since the Unix epoch, signed 64-bit.
    DateTime,
    /// 0x0A: an unsigned 32-bit number of seconds.
    Interval,
}

impl ItemType {
    /// The type byte.
    pub fn code(self) -> u8 {
        match self {
            ItemType::Structure => 0x01,
            ItemType::Integer => 0x02,
            ItemType::LongInteger => 0x03,
            ItemType::BigInteger => 0x04,
            ItemType::Enumeration => 0x05,
            ItemType::Boolean => 0x06,
            ItemType::TextString => 0x07,
            ItemType::ByteString => 0x08,
            ItemType::DateTime => 0x09,
            ItemType::Interval => 0x0A,
        }
    }

    /// The type for a type byte, if it is one of the ten.
    pub fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0x01 => ItemType::Structure,
            0x02 => ItemType::Integer,
            0x03 => ItemType::LongInteger,
            0x04 => ItemType::BigInteger,
            0x05 => ItemType::Enumeration,
            0x06 => ItemType::Boolean,
            0x07 => ItemType::TextString,
            0x08 => ItemType::ByteString,
            0x09 => ItemType::DateTime,
            0x0A => ItemType::Interval,
            _ => return None,
        })
    }
}

/// The value of a TTLV item.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Value {
    /// Child items, in order.
    Structure(Vec<Ttlv>),
    /// Signed 32-bit.
    Integer(i32),
    /// Signed 64-bit.
    LongInteger(i64),
    /// Two's complement, big-endian, a multiple of 8 bytes.
    BigInteger(Vec<u8>),
    /// Enumeration value.
    Enumeration(u32),
    /// Boolean.
    Boolean(bool),
    /// UTF-8 text.
    TextString(String),
    /// Bytes; zeroized on drop because key material travels in them.
    ByteString(Zeroizing<Vec<u8>>),
    /// Seconds since the Unix epoch.
    DateTime(i64),
    /// Seconds.
    Interval(u32),
}

impl Value {
    /// The item type of this value.
    pub fn item_type(&self) -> ItemType {
        match self {
            Value::Structure(_) => ItemType::Structure,
            Value::Integer(_) => ItemType::Integer,
            Value::LongInteger(_) => ItemType::LongInteger,
            Value::BigInteger(_) => ItemType::BigInteger,
            Value::Enumeration(_) => ItemType::Enumeration,
            Value::Boolean(_) => ItemType::Boolean,
            Value::TextString(_) => ItemType::TextString,
            Value::ByteString(_) => ItemType::ByteString,
            Value::DateTime(_) => ItemType::DateTime,
            Value::Interval(_) => ItemType::Interval,
        }
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Structure(items) => f.debug_list().entries(items).finish(),
            Value::Integer(v) => write!(f, "Integer({v})"),
            Value::LongInteger(v) => write!(f, "LongInteger({v})"),
            Value::BigInteger(v) => write!(f, "BigInteger({} bytes)", v.len()),
            Value::Enumeration(v) => write!(f, "Enumeration(0x{v:08X})"),
            Value::Boolean(v) => write!(f, "Boolean({v})"),
            Value::TextString(v) => write!(f, "TextString({v:?})"),
            Value::ByteString(v) => write!(f, "ByteString({} bytes, redacted)", v.len()),
            Value::DateTime(v) => write!(f, "DateTime({v})"),
            Value::Interval(v) => write!(f, "Interval({v})"),
        }
    }
}

/// One TTLV item: a tag and a value.
#[derive(Clone, PartialEq, Eq)]
pub struct Ttlv {
    /// The tag.
    pub tag: Tag,
    /// The value (its type is the item's type).
    pub value: Value,
}

impl fmt::Debug for Ttlv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {:?}", self.tag, self.value)
    }
}

impl Ttlv {
    /// An item.
    pub fn new(tag: u32, value: Value) -> Self {
        Ttlv {
            tag: Tag(tag),
            value,
        }
    }

    /// A structure of `items`.
    pub fn structure(tag: u32, items: Vec<Ttlv>) -> Self {
        Ttlv::new(tag, Value::Structure(items))
    }

    /// An integer.
    pub fn integer(tag: u32, v: i32) -> Self {
        Ttlv::new(tag, Value::Integer(v))
    }

    /// An enumeration.
    pub fn enumeration(tag: u32, v: u32) -> Self {
        Ttlv::new(tag, Value::Enumeration(v))
    }

    /// A text string.
    pub fn text(tag: u32, v: impl Into<String>) -> Self {
        Ttlv::new(tag, Value::TextString(v.into()))
    }

    /// A byte string (copied into a buffer that is zeroized on drop).
    pub fn bytes(tag: u32, v: &[u8]) -> Self {
        Ttlv::new(tag, Value::ByteString(Zeroizing::new(v.to_vec())))
    }

    /// A date-time, in seconds since the Unix epoch.
    pub fn date_time(tag: u32, secs: i64) -> Self {
        Ttlv::new(tag, Value::DateTime(secs))
    }

    /// The children, if this is a structure (an empty slice otherwise).
    pub fn items(&self) -> &[Ttlv] {
        match &self.value {
            Value::Structure(items) => items,
            _ => &[],
        }
    }

    /// The first child with `tag`.
    pub fn child(&self, tag: u32) -> Option<&Ttlv> {
        self.items().iter().find(|t| t.tag.0 == tag)
    }

    /// Every child with `tag`, in order.
    pub fn children(&self, tag: u32) -> impl Iterator<Item = &Ttlv> {
        self.items().iter().filter(move |t| t.tag.0 == tag)
    }

    /// The value as an enumeration.
    pub fn as_enum(&self) -> Option<u32> {
        match self.value {
            Value::Enumeration(v) => Some(v),
            _ => None,
        }
    }

    /// The value as an integer.
    pub fn as_int(&self) -> Option<i32> {
        match self.value {
            Value::Integer(v) => Some(v),
            _ => None,
        }
    }

    /// The value as text.
    pub fn as_text(&self) -> Option<&str> {
        match &self.value {
            Value::TextString(v) => Some(v),
            _ => None,
        }
    }

    /// The value as bytes.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match &self.value {
            Value::ByteString(v) => Some(v),
            _ => None,
        }
    }

    /// The value as a date-time (seconds since the epoch).
    pub fn as_date_time(&self) -> Option<i64> {
        match self.value {
            Value::DateTime(v) => Some(v),
            _ => None,
        }
    }

    /// The enumeration value of the child with `tag`.
    pub fn child_enum(&self, tag: u32) -> Option<u32> {
        self.child(tag).and_then(Ttlv::as_enum)
    }

    /// The integer value of the child with `tag`.
    pub fn child_int(&self, tag: u32) -> Option<i32> {
        self.child(tag).and_then(Ttlv::as_int)
    }

    /// The text of the child with `tag`.
    pub fn child_text(&self, tag: u32) -> Option<&str> {
        self.child(tag).and_then(Ttlv::as_text)
    }
}

/// What went wrong encoding or decoding TTLV. Never contains the bytes of a value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TtlvError {
    /// The input ended inside an item.
    #[error("TTLV truncated at offset {offset}: {what}")]
    Truncated {
        /// Where.
        offset: usize,
        /// What was being read.
        what: String,
    },
    /// An item is malformed.
    #[error("malformed TTLV item {tag} at offset {offset}: {reason}")]
    Malformed {
        /// Where the item starts.
        offset: usize,
        /// Its tag.
        tag: Tag,
        /// What is wrong.
        reason: String,
    },
    /// Structures nest deeper than the limit.
    #[error("TTLV nested deeper than {max} levels at offset {offset}")]
    TooDeep {
        /// Where.
        offset: usize,
        /// The limit.
        max: usize,
    },
    /// The message is larger than the limit.
    #[error("TTLV message of {len} bytes exceeds the limit of {max} bytes")]
    TooLarge {
        /// Its declared or actual length.
        len: u64,
        /// The limit.
        max: usize,
    },
    /// Bytes after the top-level item.
    #[error("{count} unexpected bytes after the TTLV message")]
    TrailingBytes {
        /// How many.
        count: usize,
    },
}

#[cfg(test)]
mod tests;
