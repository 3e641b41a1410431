//! The TTLV decoder: bounded, depth-limited, and panic-free on any input.
#![deny(clippy::indexing_slicing)]
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crypta_keys::wire::{Reader, WireError};
use zeroize::Zeroizing;

use super::{ItemType, Tag, Ttlv, TtlvError, Value};

/// Bounds on what [`decode_with`] accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodeLimits {
    /// The largest message, header included, in bytes.
    pub max_size: usize,
    /// The deepest nesting of structures (the top-level item is depth 1).
    pub max_depth: usize,
}

impl Default for DecodeLimits {
    /// 4 MiB and 32 levels: KMIP 1.x responses nest about 8 deep, and the largest ones
    /// (Locate over many keys, Get of a large key) stay well below a megabyte.
    fn default() -> Self {
        DecodeLimits {
            max_size: 4 << 20,
            max_depth: 32,
        }
    }
}

/// The length of the value, type and item header of a TTLV item, from its first 8 bytes:
/// what a reader must read in total to have the whole message. Refuses lengths over `max`.
pub fn message_length(header: &[u8; 8], max: usize) -> Result<usize, TtlvError> {
    let [_, _, _, _, l0, l1, l2, l3] = *header;
    let len = u32::from_be_bytes([l0, l1, l2, l3]);
    let total = u64::from(len) + 8;
    match usize::try_from(total) {
        Ok(t) if t <= max => Ok(t),
        _ => Err(TtlvError::TooLarge { len: total, max }),
    }
}

/// Decodes exactly one item (with the default limits), rejecting trailing bytes.
pub fn decode(bytes: &[u8]) -> Result<Ttlv, TtlvError> {
    decode_with(bytes, DecodeLimits::default())
}

/// Decodes exactly one item within `limits`, rejecting trailing bytes.
pub fn decode_with(bytes: &[u8], limits: DecodeLimits) -> Result<Ttlv, TtlvError> {
    if bytes.len() > limits.max_size {
        return Err(TtlvError::TooLarge {
            len: bytes.len() as u64,
            max: limits.max_size,
        });
    }
    let mut r = Reader::new(bytes);
    let item = item(&mut r, 0, 1, limits.max_depth)?;
    if r.remaining() != 0 {
        return Err(TtlvError::TrailingBytes {
            count: r.remaining(),
        });
    }
    Ok(item)
}

fn truncated(base: usize, e: WireError) -> TtlvError {
    TtlvError::Truncated {
        offset: base + e.offset,
        what: e.what.to_string(),
    }
}

/// Reads one item. `base` is the offset of `r`'s input within the whole message.
fn item(
    r: &mut Reader<'_>,
    base: usize,
    depth: usize,
    max_depth: usize,
) -> Result<Ttlv, TtlvError> {
    let start = base + r.position();
    let [t0, t1, t2] = r.array::<3>("item tag").map_err(|e| truncated(base, e))?;
    let tag = Tag(u32::from_be_bytes([0, t0, t1, t2]));
    let type_code = r.u8("item type").map_err(|e| truncated(base, e))?;
    let len = r
        .array::<4>("item length")
        .map(u32::from_be_bytes)
        .map_err(|e| truncated(base, e))?;
    let malformed = |reason: String| TtlvError::Malformed {
        offset: start,
        tag,
        reason,
    };
    let Some(kind) = ItemType::from_code(type_code) else {
        return Err(malformed(format!("unknown item type 0x{type_code:02X}")));
    };
    let len = usize::try_from(len).map_err(|_| malformed("length out of range".into()))?;
    let padded = len
        .checked_add(7)
        .map(|l| l & !7)
        .ok_or_else(|| malformed("length out of range".into()))?;
    if padded > r.remaining() {
        return Err(TtlvError::Truncated {
            offset: base + r.position(),
            what: format!(
                "value of item {tag}: {len} bytes declared, {} left",
                r.remaining()
            ),
        });
    }
    let value_offset = base + r.position();
    let raw = r
        .take(padded, "item value")
        .map_err(|e| truncated(base, e))?;
    let value_bytes = raw
        .get(..len)
        .ok_or_else(|| malformed("length out of range".into()))?;
    let fixed = |want: usize| -> Result<(), TtlvError> {
        if len == want {
            Ok(())
        } else {
            Err(TtlvError::Malformed {
                offset: start,
                tag,
                reason: format!("{kind:?} must be {want} bytes long, not {len}"),
            })
        }
    };
    let value = match kind {
        ItemType::Structure => {
            if depth >= max_depth {
                return Err(TtlvError::TooDeep {
                    offset: start,
                    max: max_depth,
                });
            }
            let mut inner = Reader::new(value_bytes);
            let mut items = Vec::new();
            while inner.remaining() > 0 {
                items.push(item(&mut inner, value_offset, depth + 1, max_depth)?);
            }
            Value::Structure(items)
        }
        ItemType::Integer => {
            fixed(4)?;
            Value::Integer(i32::from_be_bytes(be4(value_bytes)))
        }
        ItemType::Enumeration => {
            fixed(4)?;
            Value::Enumeration(u32::from_be_bytes(be4(value_bytes)))
        }
        ItemType::Interval => {
            fixed(4)?;
            Value::Interval(u32::from_be_bytes(be4(value_bytes)))
        }
        ItemType::LongInteger => {
            fixed(8)?;
            Value::LongInteger(i64::from_be_bytes(be8(value_bytes)))
        }
        ItemType::DateTime => {
            fixed(8)?;
            Value::DateTime(i64::from_be_bytes(be8(value_bytes)))
        }
        ItemType::Boolean => {
            fixed(8)?;
            match u64::from_be_bytes(be8(value_bytes)) {
                0 => Value::Boolean(false),
                1 => Value::Boolean(true),
                other => {
                    return Err(malformed(format!(
                        "Boolean value {other} is neither 0 nor 1"
                    )));
                }
            }
        }
        ItemType::BigInteger => {
            if len % 8 != 0 {
                return Err(malformed(format!(
                    "BigInteger length {len} is not a multiple of 8"
                )));
            }
            Value::BigInteger(value_bytes.to_vec())
        }
        ItemType::TextString => match std::str::from_utf8(value_bytes) {
            Ok(s) => Value::TextString(s.to_string()),
            Err(e) => {
                return Err(malformed(format!(
                    "TextString is not UTF-8 (invalid byte at {})",
                    e.valid_up_to()
                )));
            }
        },
        ItemType::ByteString => Value::ByteString(Zeroizing::new(value_bytes.to_vec())),
    };
    Ok(Ttlv { tag, value })
}

/// The first 4 bytes (the caller checked the length).
fn be4(b: &[u8]) -> [u8; 4] {
    let mut a = [0u8; 4];
    for (d, s) in a.iter_mut().zip(b) {
        *d = *s;
    }
    a
}

/// The first 8 bytes (the caller checked the length).
fn be8(b: &[u8]) -> [u8; 8] {
    let mut a = [0u8; 8];
    for (d, s) in a.iter_mut().zip(b) {
        *d = *s;
    }
    a
}
