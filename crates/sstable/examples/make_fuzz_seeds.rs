//! Writes small real tables as seeds of the `sstable_read` fuzz target:
//! `cargo run -p crypta-sstable --example make_fuzz_seeds -- fuzz/seeds/sstable_read`.
//! Files are named `v<format version>-<codec>.db`; seeds of earlier versions stay.
//!
//! The encrypted ones use the fuzz target's fixed key (`fuzz-key`, sixteen 0x42 bytes, `fuzz/fuzz_targets/fixed_key.rs`).

use std::collections::BTreeMap;
use std::error::Error;
use std::path::PathBuf;
use std::sync::Arc;

use crypta_compression::CompressionOptions;
use crypta_keys::{
    Algorithm, Key, KeyError, KeyId, KeyInfo, KeyMaterial, KeyProvider, KeySpec, KeyState,
    Timestamp,
};
use crypta_sstable::{Entry, FORMAT_VERSION, SstableWriter, WriterOptions};

/// The fuzz target's key provider.
#[derive(Debug)]
struct FixedKey(Arc<Key>);

impl KeyProvider for FixedKey {
    fn describe(&self) -> String {
        "fuzz fixed key".into()
    }
    fn current_key(&self, _: &KeySpec) -> Result<Arc<Key>, KeyError> {
        Ok(self.0.clone())
    }
    fn key_by_id(&self, id: &KeyId) -> Result<Arc<Key>, KeyError> {
        Err(KeyError::NotFound {
            key_id: id.clone(),
            provider: self.describe(),
        })
    }
}

/// A seed: its name, its options, its entry count.
type Seed<'a> = (&'a str, &'a [(&'a str, &'a str)], u32);

fn main() -> Result<(), Box<dyn Error>> {
    let out = PathBuf::from(
        std::env::args()
            .nth(1)
            .ok_or("usage: make_fuzz_seeds DIR")?,
    );
    let info = KeyInfo {
        id: KeyId::new("fuzz-key")?,
        name: None,
        algorithm: Algorithm::Aes,
        strength: 128,
        state: KeyState::Active,
        namespace: None,
        created: Timestamp(0),
        activated: Some(Timestamp(0)),
        protect_stop: None,
        deactivated: None,
    };
    let keys = Arc::new(FixedKey(Arc::new(Key::new(
        info,
        KeyMaterial::new(vec![0x42; 16]),
    )?)));
    let seeds: [Seed<'_>; 7] = [
        ("plain", &[("enabled", "false")], 200),
        ("lz4", &[("class", "LZ4Compressor")], 300),
        ("empty", &[("enabled", "false")], 0),
        (
            "aes-cbc",
            &[
                ("class", "Encryptor"),
                ("cipher_algorithm", "AES/CBC/PKCS5Padding"),
            ],
            150,
        ),
        (
            "deflate-gcm",
            &[
                ("class", "EncryptingDeflateCompressor"),
                ("cipher_algorithm", "AES/GCM/NoPadding"),
            ],
            300,
        ),
        (
            "deflate-cbc-16k",
            &[
                ("class", "EncryptingDeflateCompressor"),
                ("cipher_algorithm", "AES/CBC/PKCS5Padding"),
                ("chunk_length_kb", "16"),
            ],
            400,
        ),
        (
            "aes-ecb-1k",
            &[
                ("class", "Encryptor"),
                ("cipher_algorithm", "AES/ECB/PKCS5Padding"),
                ("chunk_length_kb", "1"),
            ],
            120,
        ),
    ];
    for (name, opts, n) in seeds {
        let mut map: BTreeMap<String, String> = opts
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        map.entry("chunk_length_kb".into())
            .or_insert_with(|| "4".into());
        let opts = CompressionOptions::parse(&map)?;
        let path = out.join(format!("v{FORMAT_VERSION}-{name}.db"));
        let wopts = WriterOptions {
            expected_entries: u64::from(n),
            index_interval: 512,
            ..WriterOptions::default()
        };
        let mut w = SstableWriter::create(&path, &opts, keys.clone(), wopts)?;
        for i in 0..n {
            let key = format!("key-{i:010}");
            let e = if i % 7 == 3 {
                Entry::tombstone(i64::from(i))
            } else {
                Entry::value(format!("v{i}").repeat((i % 5) as usize), i64::from(i))
            };
            w.add(key.as_bytes(), &e)?;
        }
        w.finish()?;
    }
    Ok(())
}
