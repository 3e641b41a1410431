//! The TTLV encoder.

use super::{Ttlv, TtlvError, Value};

impl Ttlv {
    /// Appends this item's encoding to `out`.
    ///
    /// Fails only if a value is longer than the 4-byte length field can say, or a big integer
    /// is not a multiple of 8 bytes.
    pub fn encode_into(&self, out: &mut Vec<u8>) -> Result<(), TtlvError> {
        let start = out.len();
        let [_, t0, t1, t2] = self.tag.0.to_be_bytes();
        out.extend_from_slice(&[t0, t1, t2, self.value.item_type().code()]);
        out.extend_from_slice(&[0; 4]); // length, patched below
        let value_start = out.len();
        match &self.value {
            Value::Structure(items) => {
                for item in items {
                    item.encode_into(out)?;
                }
            }
            Value::Integer(v) => out.extend_from_slice(&v.to_be_bytes()),
            Value::Enumeration(v) | Value::Interval(v) => out.extend_from_slice(&v.to_be_bytes()),
            Value::LongInteger(v) | Value::DateTime(v) => out.extend_from_slice(&v.to_be_bytes()),
            Value::Boolean(v) => out.extend_from_slice(&u64::from(*v).to_be_bytes()),
            Value::BigInteger(v) => {
                if v.len() % 8 != 0 {
                    return Err(TtlvError::Malformed {
                        offset: start,
                        tag: self.tag,
                        reason: format!("BigInteger length {} is not a multiple of 8", v.len()),
                    });
                }
                out.extend_from_slice(v);
            }
            Value::TextString(v) => out.extend_from_slice(v.as_bytes()),
            Value::ByteString(v) => out.extend_from_slice(v),
        }
        let len = out.len() - value_start;
        let len32 = u32::try_from(len).map_err(|_| TtlvError::TooLarge {
            len: len as u64,
            max: u32::MAX as usize,
        })?;
        if let Some(field) = out.get_mut(value_start - 4..value_start) {
            field.copy_from_slice(&len32.to_be_bytes());
        }
        let pad = (8 - len % 8) % 8;
        out.resize(out.len() + pad, 0);
        Ok(())
    }

    /// This item's encoding.
    pub fn encode(&self) -> Result<Vec<u8>, TtlvError> {
        let mut out = Vec::new();
        self.encode_into(&mut out)?;
        Ok(out)
    }
}
