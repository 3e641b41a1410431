//! Just enough DER to open JKS's `EncryptedPrivateKeyInfo`.
#![deny(clippy::indexing_slicing)]

use crypta_keys::wire::Reader;

/// Reads one DER element with the expected `tag`; returns its contents.
pub(super) fn element<'a>(
    r: &mut Reader<'a>,
    tag: u8,
    what: &'static str,
) -> Result<&'a [u8], String> {
    let bad = |e: crypta_keys::wire::WireError| format!("malformed DER in {what}: {e}");
    let t = r.u8(what).map_err(bad)?;
    if t != tag {
        return Err(format!(
            "malformed DER in {what}: tag 0x{t:02X} where 0x{tag:02X} was expected"
        ));
    }
    let first = r.u8(what).map_err(bad)?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7F);
        if n == 0 || n > 4 {
            return Err(format!("malformed DER in {what}: length of {n} bytes"));
        }
        let mut len = 0usize;
        for b in r.take(n, what).map_err(bad)? {
            len = (len << 8) | usize::from(*b);
        }
        len
    };
    r.take(len, what).map_err(bad)
}

/// DER tag of SEQUENCE.
pub(super) const SEQUENCE: u8 = 0x30;
/// DER tag of OCTET STRING.
pub(super) const OCTET_STRING: u8 = 0x04;
/// DER tag of OBJECT IDENTIFIER.
pub(super) const OID: u8 = 0x06;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_short_and_long_lengths() {
        let mut r = Reader::new(&[0x04, 0x02, 0xAA, 0xBB]);
        assert_eq!(element(&mut r, OCTET_STRING, "x").unwrap(), &[0xAA, 0xBB]);
        let mut long = vec![0x04, 0x81, 0x80];
        long.extend_from_slice(&[7; 0x80]);
        let mut r = Reader::new(&long);
        assert_eq!(element(&mut r, OCTET_STRING, "x").unwrap().len(), 0x80);
        let mut r = Reader::new(&[0x04, 0x85, 1, 1, 1, 1, 1]);
        assert!(element(&mut r, OCTET_STRING, "x").is_err());
        let mut r = Reader::new(&[0x30, 0x05, 1]);
        assert!(element(&mut r, SEQUENCE, "x").is_err());
        let mut r = Reader::new(&[0x30, 0x00]);
        assert!(element(&mut r, OCTET_STRING, "x").is_err());
    }
}
