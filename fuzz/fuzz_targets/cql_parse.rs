//! The CQL parser of `crypta cql` on arbitrary text: never panics, and every statement it
//! parses prints (as `DESC` prints statements) to text that parses to the same statement.
//! Seeds: the HCD/DSE documentation's statements and a Cassandra `DESC TABLE` output
//! (fuzz/seeds/cql_parse).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(statements) = crypta::cql::parse_script(src) {
        for s in statements {
            let printed = s.to_string();
            let again = crypta::cql::parse(&printed)
                .unwrap_or_else(|e| panic!("{printed:?} does not parse: {e}"));
            assert_eq!(again, s, "{printed:?}");
        }
    }
});
