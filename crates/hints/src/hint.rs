//! A hint and its record in a hints file: creation time, then the mutation.
#![deny(clippy::indexing_slicing)]

use crypta_keys::Timestamp;
use crypta_keys::wire::Reader;

use crate::HostId;

/// A hint being delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hint<'a> {
    /// The host it is for.
    pub host: HostId,
    /// When the mutation was first attempted (the coordinator's write time).
    pub created: Timestamp,
    /// The mutation, as the engine serialized it.
    pub mutation: &'a [u8],
}

/// The record data of a hint.
pub(crate) fn encode(created: Timestamp, mutation: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&created.millis().to_le_bytes());
    out.extend_from_slice(mutation);
}

/// Splits a record into creation time and mutation; `None` if it is shorter than a time.
pub(crate) fn decode(data: &[u8]) -> Option<(Timestamp, &[u8])> {
    let mut r = Reader::new(data);
    let created = r.u64("hint creation time").ok()?;
    Some((Timestamp(created), r.rest()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let mut v = Vec::new();
        encode(Timestamp(77), b"mutation", &mut v);
        assert_eq!(decode(&v), Some((Timestamp(77), &b"mutation"[..])));
        assert_eq!(decode(&v[..7]), None);
    }
}
