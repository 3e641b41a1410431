//! Mutations as the commit log records them: one record holds one write or a whole batch, so
//! that replay applies all of a batch or none of it (`docs/format/mutation.md`).
#![deny(clippy::indexing_slicing)]

use crypta_keys::wire::{Reader, WireError, WriteLe};

use crate::memtable::Cell;

/// Version byte of the record body.
const VERSION: u8 = 1;
/// The largest key or value a mutation may carry.
pub const MAX_FIELD: usize = 256 * 1024 * 1024;

/// One write to one table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mutation {
    /// The table's id.
    pub table: u32,
    /// The key.
    pub key: Vec<u8>,
    /// The value or tombstone, with its timestamp.
    pub cell: Cell,
}

/// Encodes mutations into one commit log record.
pub fn encode(mutations: &[Mutation]) -> Vec<u8> {
    let size: usize = mutations
        .iter()
        .map(|m| 21 + m.key.len() + m.cell.value.as_ref().map_or(0, Vec::len))
        .sum();
    let mut out = Vec::with_capacity(5 + size);
    out.put_u8(VERSION);
    out.put_u32(u32::try_from(mutations.len()).unwrap_or(u32::MAX));
    for m in mutations {
        out.put_u32(m.table);
        out.put_u64(m.cell.timestamp.cast_unsigned());
        out.put_u8(u8::from(m.cell.value.is_none()));
        out.put_u32(u32::try_from(m.key.len()).unwrap_or(u32::MAX));
        out.extend_from_slice(&m.key);
        if let Some(v) = &m.cell.value {
            out.put_u32(u32::try_from(v.len()).unwrap_or(u32::MAX));
            out.extend_from_slice(v);
        }
    }
    out
}

/// Decodes a record written by [`encode`].
pub fn decode(bytes: &[u8]) -> Result<Vec<Mutation>, WireError> {
    let mut r = Reader::new(bytes);
    let version = r.u8("mutation record version")?;
    if version != VERSION {
        return Err(r.out_of_range("mutation record version"));
    }
    let count = r.u32("mutation count")?;
    let mut out = Vec::with_capacity(usize::try_from(count).unwrap_or(0).min(1024));
    for _ in 0..count {
        let table = r.u32("table id")?;
        let timestamp = r.u64("timestamp")?.cast_signed();
        let flags = r.u8("flags")?;
        if flags > 1 {
            return Err(r.out_of_range("mutation flags"));
        }
        let key = r.bytes_u32(MAX_FIELD, "key")?.to_vec();
        let value = if flags == 1 {
            None
        } else {
            Some(r.bytes_u32(MAX_FIELD, "value")?.to_vec())
        };
        out.push(Mutation {
            table,
            key,
            cell: Cell { value, timestamp },
        });
    }
    r.finish("mutation record")?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_no_panic_on_garbage() {
        let ms = vec![
            Mutation {
                table: 3,
                key: b"k1".to_vec(),
                cell: Cell {
                    value: Some(b"v".to_vec()),
                    timestamp: 9,
                },
            },
            Mutation {
                table: 4,
                key: vec![],
                cell: Cell {
                    value: None,
                    timestamp: i64::MAX,
                },
            },
        ];
        let bytes = encode(&ms);
        assert_eq!(decode(&bytes).unwrap(), ms);
        for n in 0..bytes.len() {
            assert!(decode(&bytes[..n]).is_err());
        }
        assert!(decode(&[1, 255, 255, 255, 255]).is_err());
    }
}
