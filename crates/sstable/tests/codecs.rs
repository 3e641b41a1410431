#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on errors"
)]

//! Every codec class, and every cipher with every mode, round trips a table: scans, point
//! lookups and verify see what was written, and the encrypted ones list their key.

mod common;

use common::*;
use crypta_keys::KeyProvider;
use crypta_sstable::{key_ids, verify};

#[test]
fn plain_and_compressing_classes_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let keys = provider(dir.path());
    for class in ["", "DeflateCompressor", "LZ4Compressor"] {
        let path = at(&dir, &format!("plain-{class}.db"));
        let info = write_n(&path, &options(class, None, 4), keys.clone(), 3000);
        assert!(info.metadata.key_ids.is_empty());
        assert!(info.metadata.data_chunks > 10, "{:?}", info.metadata);
        let t = open(&path, keys.clone());
        check_n(&t, 3000);
        assert_eq!(t.metadata(), &info.metadata);
        let report = verify(&path, keys.clone()).unwrap();
        assert_eq!(report.entries, 3000);
        assert!(key_ids(&path).unwrap().is_empty());
    }
}

#[test]
fn every_encrypting_class_and_cipher_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let keys = provider(dir.path());
    for class in [
        "Encryptor",
        "EncryptingDeflateCompressor",
        "EncryptingLZ4Compressor",
    ] {
        for (t, bits) in transformations() {
            let name = format!("{class}-{}-{bits}.db", t.replace('/', "_"));
            let path = at(&dir, &name);
            let opts = options(class, Some((&t, bits)), 4);
            let info = write_n(&path, &opts, keys.clone(), 700);
            let key = keys.current_key(&opts.key_spec().unwrap()).unwrap();
            assert_eq!(info.metadata.key_ids, vec![key.id().clone()], "{name}");
            assert_eq!(info.metadata.options, opts.to_map());
            let table = open(&path, keys.clone());
            check_n(&table, 700);
            verify(&path, keys.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(key_ids(&path).unwrap(), vec![key.id().clone()]);
            if class == "Encryptor" {
                // No key of the table appears in the file: data, index, filter and summary
                // are all encrypted.
                let bytes = std::fs::read(&path).unwrap();
                assert!(
                    !bytes.windows(14).any(|w| w.starts_with(b"key-00000")),
                    "{name}: a row key is visible in the file"
                );
            }
        }
    }
}
