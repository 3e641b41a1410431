//! The KMIP TTLV decoder on arbitrary bytes: never panics, and whatever decodes re-encodes to
//! bytes that decode to the same tree. Seeds: PyKMIP 0.11 responses (fuzz/seeds/ttlv_decode).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(item) = crypta_kmip::ttlv::decode(data) {
        let bytes = item.encode().expect("a decoded tree re-encodes");
        let again = crypta_kmip::ttlv::decode(&bytes).expect("re-encoded bytes decode");
        assert_eq!(item, again);
    }
});
