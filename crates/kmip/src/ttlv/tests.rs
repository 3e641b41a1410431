use proptest::prelude::*;

use super::*;

fn hex(s: &str) -> Vec<u8> {
    let s: String = s
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '|')
        .collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// The encoding examples of KMIP 1.2 section 9.1.2.
#[test]
fn spec_examples() {
    let cases: Vec<(Ttlv, &str)> = vec![
        (
            Ttlv::integer(0x420020, 8),
            "42 00 20 | 02 | 00 00 00 04 | 00 00 00 08 00 00 00 00",
        ),
        (
            Ttlv::new(0x420020, Value::LongInteger(123_456_789_000_000_000)),
            "42 00 20 | 03 | 00 00 00 08 | 01 B6 9B 4B A5 74 92 00",
        ),
        (
            Ttlv::new(
                0x420020,
                Value::BigInteger(hex("00 00 00 00 03 FD 35 EB 6B C2 DF 46 18 08 00 00")),
            ),
            "42 00 20 | 04 | 00 00 00 10 | 00 00 00 00 03 FD 35 EB 6B C2 DF 46 18 08 00 00",
        ),
        (
            Ttlv::enumeration(0x420020, 255),
            "42 00 20 | 05 | 00 00 00 04 | 00 00 00 FF 00 00 00 00",
        ),
        (
            Ttlv::new(0x420020, Value::Boolean(true)),
            "42 00 20 | 06 | 00 00 00 08 | 00 00 00 00 00 00 00 01",
        ),
        (
            Ttlv::text(0x420020, "Hello World"),
            "42 00 20 | 07 | 00 00 00 0B | 48 65 6C 6C 6F 20 57 6F 72 6C 64 00 00 00 00 00",
        ),
        (
            Ttlv::bytes(0x420020, &[1, 2, 3]),
            "42 00 20 | 08 | 00 00 00 03 | 01 02 03 00 00 00 00 00",
        ),
        (
            Ttlv::date_time(0x420020, 0x47DA67F8),
            "42 00 20 | 09 | 00 00 00 08 | 00 00 00 00 47 DA 67 F8",
        ),
        (
            Ttlv::new(0x420020, Value::Interval(864_000)),
            "42 00 20 | 0A | 00 00 00 04 | 00 0D 2F 00 00 00 00 00",
        ),
        (
            Ttlv::structure(
                0x420020,
                vec![
                    Ttlv::enumeration(0x420004, 254),
                    Ttlv::integer(0x420005, 255),
                ],
            ),
            "42 00 20 | 01 | 00 00 00 20 | 42 00 04 | 05 | 00 00 00 04 | 00 00 00 FE 00 00 00 00 | 42 00 05 | 02 | 00 00 00 04 | 00 00 00 FF 00 00 00 00",
        ),
    ];
    for (item, bytes) in cases {
        let want = hex(bytes);
        assert_eq!(item.encode().unwrap(), want, "{item:?}");
        assert_eq!(decode(&want).unwrap(), item);
    }
}

#[test]
fn unknown_tags_decode_and_are_kept() {
    let item = Ttlv::structure(
        0x42007B,
        vec![Ttlv::text(0x54FFFF, "vendor"), Ttlv::integer(0x420001, 1)],
    );
    let back = decode(&item.encode().unwrap()).unwrap();
    assert_eq!(back.child_text(0x54FFFF), Some("vendor"));
    assert_eq!(back.child_int(0x420001), Some(1));
}

#[test]
fn rejects_malformed_items() {
    // Integer with length 8.
    let bad_len = hex("42 00 20 02 00 00 00 08 00 00 00 08 00 00 00 00");
    assert!(matches!(decode(&bad_len), Err(TtlvError::Malformed { .. })));
    // Unknown type 0x0B.
    let bad_type = hex("42 00 20 0B 00 00 00 00");
    let err = decode(&bad_type).unwrap_err().to_string();
    assert!(err.contains("unknown item type 0x0B"), "{err}");
    // Boolean 2.
    let bad_bool = hex("42 00 20 06 00 00 00 08 00 00 00 00 00 00 00 02");
    assert!(decode(&bad_bool).is_err());
    // Text that is not UTF-8.
    let bad_text = hex("42 00 20 07 00 00 00 01 FF 00 00 00 00 00 00 00");
    assert!(decode(&bad_text).unwrap_err().to_string().contains("UTF-8"));
    // Length past the end.
    let short = hex("42 00 20 08 00 00 00 10 01 02 03 00 00 00 00 00");
    assert!(matches!(decode(&short), Err(TtlvError::Truncated { .. })));
    // Structure whose child overruns it.
    let overrun = hex("42 00 20 01 00 00 00 08 42 00 04 05 00 00 00 04");
    assert!(decode(&overrun).is_err());
    // Trailing bytes.
    let mut trailing = Ttlv::integer(0x420020, 1).encode().unwrap();
    trailing.extend_from_slice(&[0; 8]);
    assert_eq!(
        decode(&trailing),
        Err(TtlvError::TrailingBytes { count: 8 })
    );
    // Empty input and a header alone.
    assert!(decode(&[]).is_err());
    assert!(decode(&hex("42 00 20")).is_err());
    // A huge declared length is a clean error, not an allocation.
    let huge = hex("42 00 20 08 FF FF FF FF");
    assert!(decode(&huge).is_err());
}

#[test]
fn depth_and_size_limits() {
    let mut item = Ttlv::integer(0x420020, 1);
    for _ in 0..40 {
        item = Ttlv::structure(0x420020, vec![item]);
    }
    let bytes = item.encode().unwrap();
    assert!(matches!(
        decode(&bytes),
        Err(TtlvError::TooDeep { max: 32, .. })
    ));
    let limits = DecodeLimits {
        max_size: 64,
        max_depth: 64,
    };
    assert!(matches!(
        decode_with(&bytes, limits),
        Err(TtlvError::TooLarge { .. })
    ));
    let wide = DecodeLimits {
        max_size: 1 << 20,
        max_depth: 64,
    };
    assert_eq!(decode_with(&bytes, wide).unwrap(), item);
    let header: [u8; 8] = bytes[..8].try_into().unwrap();
    assert_eq!(message_length(&header, 1 << 20).unwrap(), bytes.len());
    assert!(message_length(&header, 16).is_err());
}

#[test]
fn debug_hides_byte_strings() {
    let item = Ttlv::bytes(0x420043, &[0xAB; 16]);
    let dbg = format!("{item:?}");
    assert!(dbg.contains("16 bytes, redacted"), "{dbg}");
    assert!(!dbg.to_lowercase().contains("ab, "), "{dbg}");
}

fn arb_ttlv() -> impl Strategy<Value = Ttlv> {
    let tag = 0x420000u32..0x420100;
    let leaf = (
        tag.clone(),
        prop_oneof![
            any::<i32>().prop_map(Value::Integer),
            any::<i64>().prop_map(Value::LongInteger),
            prop::collection::vec(any::<u8>(), 0..3).prop_map(|v| Value::BigInteger(v.repeat(8))),
            any::<u32>().prop_map(Value::Enumeration),
            any::<bool>().prop_map(Value::Boolean),
            ".{0,20}".prop_map(Value::TextString),
            prop::collection::vec(any::<u8>(), 0..40)
                .prop_map(|v| Value::ByteString(zeroize::Zeroizing::new(v))),
            any::<i64>().prop_map(Value::DateTime),
            any::<u32>().prop_map(Value::Interval),
        ],
    )
        .prop_map(|(t, v)| Ttlv::new(t, v));
    leaf.prop_recursive(4, 32, 6, move |inner| {
        (0x420000u32..0x420100, prop::collection::vec(inner, 0..6))
            .prop_map(|(t, items)| Ttlv::structure(t, items))
    })
}

proptest! {
    #[test]
    fn round_trips(item in arb_ttlv()) {
        let bytes = item.encode().unwrap();
        prop_assert_eq!(bytes.len() % 8, 0);
        prop_assert_eq!(decode(&bytes).unwrap(), item);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode(&bytes);
    }

    #[test]
    fn mutated_messages_never_panic(item in arb_ttlv(), flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)) {
        let mut bytes = item.encode().unwrap();
        for (i, b) in flips {
            let i = i.index(bytes.len());
            bytes[i] ^= b;
        }
        let _ = decode(&bytes);
    }
}

/// Responses captured from PyKMIP 0.11 (the fuzz seeds) decode, re-encode byte for byte, and
/// parse as KMIP response messages.
#[test]
fn pykmip_responses_decode_and_round_trip() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/ttlv_decode");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        let item = decode(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(item.encode().unwrap(), bytes, "{}", path.display());
        let items = crate::message::parse_response(item, 1).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        assert_eq!(items[0].status != 0, name == "get_not_found", "{name}");
        seen += 1;
    }
    assert!(seen >= 8, "seeds missing in {}", dir.display());
}
