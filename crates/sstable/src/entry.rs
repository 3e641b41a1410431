//! What a table holds: entries of a key, a value or a tombstone, and a write timestamp; and
//! their encoding in the entry stream.
#![deny(clippy::indexing_slicing)]

/// The longest key an entry may have, in bytes (Cassandra's partition key limit).
pub const MAX_KEY_LEN: usize = u16::MAX as usize;
/// The longest value an entry may have, in bytes.
pub const MAX_VALUE_LEN: usize = u32::MAX as usize;

/// Bytes of an entry before its key: key length, flags, timestamp, value length.
pub(crate) const ENTRY_HEADER_LEN: usize = 2 + 1 + 8 + 4;
/// Flag bit: the entry is a tombstone.
const TOMBSTONE: u8 = 1;

/// The value of a key at a write timestamp, or its deletion.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Entry {
    /// The value; `None` is a tombstone (the key was deleted at `timestamp`).
    pub value: Option<Vec<u8>>,
    /// Write time, in microseconds since the Unix epoch (Cassandra's write timestamps).
    pub timestamp: i64,
}

impl Entry {
    /// A live value.
    pub fn value(value: impl Into<Vec<u8>>, timestamp: i64) -> Self {
        Entry {
            value: Some(value.into()),
            timestamp,
        }
    }

    /// A deletion.
    pub fn tombstone(timestamp: i64) -> Self {
        Entry {
            value: None,
            timestamp,
        }
    }

    /// Whether this entry deletes its key.
    pub fn is_tombstone(&self) -> bool {
        self.value.is_none()
    }
}

impl std::fmt::Debug for Entry {
    /// Shows lengths, never bytes: values of encrypted tables are secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.value {
            Some(v) => write!(
                f,
                "Entry {{ value: {} bytes, timestamp: {} }}",
                v.len(),
                self.timestamp
            ),
            None => write!(f, "Entry {{ tombstone, timestamp: {} }}", self.timestamp),
        }
    }
}

/// An entry's fixed-size header, as stored before its key and value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct EntryHeader {
    pub key_len: usize,
    pub tombstone: bool,
    pub timestamp: i64,
    pub value_len: usize,
}

impl EntryHeader {
    /// Bytes of key and value after the header.
    pub(crate) fn body_len(&self) -> u64 {
        self.key_len as u64 + self.value_len as u64
    }

    /// The header of an entry; the caller has checked the lengths.
    pub(crate) fn encode(
        key_len: u16,
        value: Option<u32>,
        timestamp: i64,
    ) -> [u8; ENTRY_HEADER_LEN] {
        let mut h = [0u8; ENTRY_HEADER_LEN];
        let (k, rest) = h.split_at_mut(2);
        k.copy_from_slice(&key_len.to_le_bytes());
        let (flags, rest) = rest.split_at_mut(1);
        let (ts, v) = rest.split_at_mut(8);
        if let Some(f) = flags.first_mut() {
            *f = if value.is_none() { TOMBSTONE } else { 0 };
        }
        ts.copy_from_slice(&timestamp.to_le_bytes());
        v.copy_from_slice(&value.unwrap_or(0).to_le_bytes());
        h
    }

    /// Parses a header; `Err` says what is wrong.
    pub(crate) fn decode(h: &[u8; ENTRY_HEADER_LEN]) -> Result<Self, &'static str> {
        let [
            k0,
            k1,
            flags,
            t0,
            t1,
            t2,
            t3,
            t4,
            t5,
            t6,
            t7,
            v0,
            v1,
            v2,
            v3,
        ] = *h;
        let value_len = u32::from_le_bytes([v0, v1, v2, v3]) as usize;
        let tombstone = match flags {
            0 => false,
            TOMBSTONE if value_len == 0 => true,
            TOMBSTONE => return Err("tombstone with a value length"),
            _ => return Err("unknown entry flags"),
        };
        Ok(EntryHeader {
            key_len: usize::from(u16::from_le_bytes([k0, k1])),
            tombstone,
            timestamp: i64::from_le_bytes([t0, t1, t2, t3, t4, t5, t6, t7]),
            value_len,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips_and_rejects_bad_flags() {
        let h = EntryHeader::encode(3, Some(70_000), -5);
        let d = EntryHeader::decode(&h).unwrap();
        assert_eq!(
            d,
            EntryHeader {
                key_len: 3,
                tombstone: false,
                timestamp: -5,
                value_len: 70_000
            }
        );
        let t = EntryHeader::decode(&EntryHeader::encode(0, None, i64::MAX)).unwrap();
        assert!(t.tombstone);
        assert_eq!(t.timestamp, i64::MAX);
        let mut bad = h;
        bad[2] = 4;
        assert!(EntryHeader::decode(&bad).is_err());
        bad[2] = 1;
        assert!(EntryHeader::decode(&bad).is_err(), "tombstone with value");
    }

    #[test]
    fn debug_hides_values() {
        let e = Entry::value(b"secret".to_vec(), 1);
        assert!(!format!("{e:?}").contains("secret"));
    }
}
