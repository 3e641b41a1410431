//! Writes the golden tables of the current format version into a directory:
//! `cargo run -p crypta-sstable --example make_golden_sstable -- crates/sstable/tests/data`.
//!
//! `tests/golden.rs` reads them back; keep both in step with `golden_entry` below.

use std::collections::BTreeMap;
use std::error::Error;
use std::path::PathBuf;
use std::sync::Arc;

use crypta_compression::CompressionOptions;
use crypta_keys::LocalKeyProvider;
use crypta_sstable::{Entry, FORMAT_VERSION, SstableWriter, WriterOptions};

/// Entry `i` of the golden tables (`tests/golden.rs` has the same function).
fn golden_entry(i: u32) -> (Vec<u8>, Entry) {
    let key = format!("golden-{i:05}").into_bytes();
    let ts = 1_700_000_000_000_000 + i64::from(i);
    if i % 11 == 3 {
        return (key, Entry::tombstone(ts));
    }
    let value = format!("value {i};").repeat((i % 9) as usize).into_bytes();
    (key, Entry::value(value, ts))
}

fn main() -> Result<(), Box<dyn Error>> {
    let out = PathBuf::from(
        std::env::args()
            .nth(1)
            .ok_or("usage: make_golden_sstable DIR")?,
    );
    let keys = Arc::new(LocalKeyProvider::open(
        out.join(format!("v{FORMAT_VERSION}-test-keys")),
    )?);
    for (name, opts) in [
        ("plain", BTreeMap::from([("enabled", "false")])),
        (
            "aes-cbc",
            BTreeMap::from([
                ("class", "Encryptor"),
                ("cipher_algorithm", "AES/CBC/PKCS5Padding"),
                ("secret_key_strength", "128"),
                ("chunk_length_kb", "4"),
            ]),
        ),
        (
            "aes-gcm",
            BTreeMap::from([
                ("class", "Encryptor"),
                ("cipher_algorithm", "AES/GCM/NoPadding"),
                ("secret_key_strength", "128"),
                ("chunk_length_kb", "16"),
            ]),
        ),
        (
            "deflate-aes-cbc",
            BTreeMap::from([
                ("class", "EncryptingDeflateCompressor"),
                ("cipher_algorithm", "AES/CBC/PKCS5Padding"),
                ("secret_key_strength", "128"),
                ("chunk_length_kb", "16"),
            ]),
        ),
    ] {
        let mut map: BTreeMap<String, String> = opts
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        map.entry("chunk_length_kb".into())
            .or_insert_with(|| "4".into());
        let opts = CompressionOptions::parse(&map)?;
        let path = out.join(format!("v{FORMAT_VERSION}-{name}.db"));
        let wopts = WriterOptions {
            expected_entries: 300,
            ..WriterOptions::default()
        };
        let mut w = SstableWriter::create(&path, &opts, keys.clone(), wopts)?;
        for i in 0..300 {
            let (k, e) = golden_entry(i);
            w.add(&k, &e)?;
        }
        let info = w.finish()?;
        println!("{}: {:?}", path.display(), info.metadata);
    }
    // The key file's lock is not part of the fixture.
    match std::fs::remove_file(out.join(format!("v{FORMAT_VERSION}-test-keys.lock"))) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
        _ => {}
    }
    Ok(())
}
