//! Host ids: the UUID a node is known by (Cassandra's host id).
#![deny(clippy::indexing_slicing)]

use std::fmt;
use std::str::FromStr;

use crate::HintsError;

/// A target host's id: 16 bytes, written as a UUID.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HostId(pub [u8; 16]);

impl fmt::Display for HostId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for HostId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HostId({self})")
    }
}

impl FromStr for HostId {
    type Err = HintsError;

    /// Parses `123e4567-e89b-12d3-a456-426614174000` (hyphens where a UUID has them, or none).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || HintsError::InvalidHostId(s.to_string());
        let groups: Vec<&str> = s.split('-').collect();
        let shape_ok = match groups.as_slice() {
            [one] => one.len() == 32,
            [a, b, c, d, e] => [a.len(), b.len(), c.len(), d.len(), e.len()] == [8, 4, 4, 4, 12],
            _ => false,
        };
        if !shape_ok {
            return Err(bad());
        }
        let hex: String = groups.concat();
        if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        let mut out = [0u8; 16];
        for (i, byte) in out.iter_mut().enumerate() {
            let pair = hex.get(i * 2..i * 2 + 2).ok_or_else(bad)?;
            *byte = u8::from_str_radix(pair, 16).map_err(|_| bad())?;
        }
        Ok(HostId(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_round_trip() {
        let s = "123e4567-e89b-12d3-a456-426614174000";
        let h: HostId = s.parse().unwrap();
        assert_eq!(h.to_string(), s);
        assert_eq!(
            "123e4567e89b12d3a456426614174000"
                .parse::<HostId>()
                .unwrap(),
            h
        );
        for bad in [
            "",
            "123e4567-e89b-12d3-a456-42661417400",
            "123e4567-e89b-12d3-a456-42661417400g",
            "+23e4567-e89b-12d3-a456-426614174000",
        ] {
            assert!(bad.parse::<HostId>().is_err(), "{bad}");
        }
    }
}
