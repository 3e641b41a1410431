use super::*;
use crate::Mode;
use crypta_keys::Algorithm;

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn parse(pairs: &[(&str, &str)]) -> Result<CompressionOptions, CompressionError> {
    CompressionOptions::parse(&map(pairs))
}

#[test]
fn hcd_docs_kmip_example() {
    let o = parse(&[
        ("class", "Encryptor"),
        ("key_provider", "KmipKeyProviderFactory"),
        ("kmip_host", "kmipgroup1"),
        ("cipher_algorithm", "AES/ECB/PKCS5Padding"),
        ("secret_key_strength", "128"),
        ("chunk_length_kb", "1"),
    ]);
    // 1 KiB chunks, the lowest value, which the DSE docs advise for Encryptor (each read
    // decrypts at most 1 KiB).
    assert_eq!(o.unwrap().chunk_length(), 1024);

    let o = parse(&[
        ("class", "com.datastax.bdp.cassandra.crypto.Encryptor"),
        ("key_provider", "KmipKeyProviderFactory"),
        ("kmip_host", "kmipgroup1"),
        ("cipher_algorithm", "AES/ECB/PKCS5Padding"),
        ("secret_key_strength", "128"),
    ])
    .unwrap();
    assert_eq!(o.class, CodecClass::Encryptor);
    let e = o.encryption.as_ref().unwrap();
    assert_eq!(e.transformation.mode, Mode::Ecb);
    assert_eq!(
        e.key_provider,
        KeyProviderChoice::Kmip {
            group: "kmipgroup1".into()
        }
    );
    assert_eq!(o.chunk_length(), 64 * 1024);
}

#[test]
fn defaults_are_local_aes_cbc_128() {
    let o = parse(&[("class", "EncryptingDeflateCompressor")]).unwrap();
    let e = o.encryption.unwrap();
    assert_eq!(e.transformation.to_string(), "AES/CBC/PKCS5Padding");
    assert_eq!(e.strength, 128);
    assert_eq!(
        e.key_provider,
        KeyProviderChoice::Local {
            secret_key_file: None
        }
    );
    assert_eq!(o.class.compressor(), Some(Compressor::Deflate));
}

#[test]
fn disabled_and_plain_classes() {
    assert_eq!(
        parse(&[("enabled", "false")]).unwrap().class,
        CodecClass::Disabled
    );
    assert_eq!(
        parse(&[("class", "org.apache.cassandra.io.compress.LZ4Compressor")])
            .unwrap()
            .class,
        CodecClass::Lz4
    );
    let err = parse(&[("class", "LZ4Compressor"), ("cipher_algorithm", "AES")])
        .unwrap_err()
        .to_string();
    assert!(err.contains("cipher_algorithm"), "{err}");
    // 'enabled': 'false' stands alone, as in Cassandra: with a class or encryption options it
    // would leave the table in plaintext without a word.
    for pairs in [
        &[("enabled", "false"), ("class", "Encryptor")][..],
        &[
            ("class", "EncryptingDeflateCompressor"),
            ("enabled", "FALSE"),
        ],
        &[
            ("class", "Encryptor"),
            ("enabled", "false"),
            ("cipher_algorithm", "AES/CBC/PKCS5Padding"),
        ],
        &[("enabled", "false"), ("sstable_compression", "Encryptor")],
        &[("enabled", "false"), ("secret_key_strength", "256")],
    ] {
        let err = parse(pairs).unwrap_err().to_string();
        assert!(
            err.contains("'enabled'") && err.contains("no class or encryption option"),
            "{pairs:?}: {err}"
        );
    }
    // The chunk length stays meaningful: plaintext tables are chunked too.
    assert_eq!(
        parse(&[("enabled", "false"), ("chunk_length_kb", "4")])
            .unwrap()
            .class,
        CodecClass::Disabled
    );
    // class and DSE's sstable_compression must agree when both are given.
    for pairs in [
        &[
            ("sstable_compression", "Encryptor"),
            ("class", "LZ4Compressor"),
        ][..],
        &[
            (
                "sstable_compression",
                "com.datastax.bdp.cassandra.crypto.Encryptor",
            ),
            ("class", ""),
        ],
        &[("class", "Encryptor"), ("sstable_compression", "")],
    ] {
        let err = parse(pairs).unwrap_err().to_string();
        assert!(
            err.contains("sstable_compression") && err.contains("names another class"),
            "{pairs:?}: {err}"
        );
    }
    let o = parse(&[
        (
            "sstable_compression",
            "com.datastax.bdp.cassandra.crypto.Encryptor",
        ),
        ("class", "Encryptor"),
    ])
    .unwrap();
    assert_eq!(o.class, CodecClass::Encryptor);
    assert!(parse(&[]).is_err());
}

#[test]
fn errors_name_the_option() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[("class", "Encryptor"), ("secret_key_strength", "64")],
            "secret_key_strength",
        ),
        (
            &[("class", "Encryptor"), ("secret_key_strength", "lots")],
            "secret_key_strength",
        ),
        (
            &[
                ("class", "Encryptor"),
                ("cipher_algorithm", "DESede/CBC/PKCS5Padding"),
                ("secret_key_strength", "128"),
            ],
            "112 (two-key) or 168",
        ),
        (
            &[
                ("class", "Encryptor"),
                ("key_provider", "KmipKeyProviderFactory"),
            ],
            "kmip_host",
        ),
        (&[("class", "Encryptor"), ("kmip_host", "g")], "kmip_host"),
        (
            &[
                ("class", "Encryptor"),
                ("key_provider", "ReplicatedKeyProviderFactory"),
            ],
            "key_provider",
        ),
        (&[("class", "SnappyCompressor")], "class"),
        (&[("class", "Whatever")], "class"),
        (
            &[("class", "Encryptor"), ("chunk_length_kb", "48")],
            "chunk_length_kb",
        ),
        (
            &[("class", "Encryptor"), ("chunk_length_kb", "2048")],
            "chunk_length_kb",
        ),
        (
            &[("class", "Encryptor"), ("chunk_length_kb", "0")],
            "chunk_length_kb",
        ),
        (
            &[("class", "Encryptor"), ("chunk_length_in_kb", "3")],
            "chunk_length_in_kb",
        ),
        (
            &[
                ("class", "Encryptor"),
                ("chunk_length_kb", "1"),
                ("chunk_length_in_kb", "4"),
            ],
            "\"4\" for compression option 'chunk_length_in_kb': chunk_length_kb is given too (\"1\")",
        ),
        (&[("class", "Encryptor"), ("colour", "blue")], "colour"),
        (&[("class", "Encryptor"), ("enabled", "maybe")], "enabled"),
        (
            &[("class", "Encryptor"), ("crc_check_chance", "2")],
            "crc_check_chance",
        ),
    ];
    for (pairs, needle) in cases {
        let err = parse(pairs).unwrap_err().to_string();
        assert!(err.contains(needle), "{pairs:?}: {err}");
    }
}

#[test]
fn every_algorithm_and_strength_parses_and_round_trips() {
    for alg in Algorithm::ALL {
        for bits in 0..=512u32 {
            let valid = alg.is_valid_strength(bits);
            let bits_s = bits.to_string();
            let r = parse(&[
                ("class", "Encryptor"),
                ("cipher_algorithm", alg.jce_name()),
                ("secret_key_strength", &bits_s),
            ]);
            assert_eq!(r.is_ok(), valid, "{alg} {bits}");
            if let Ok(o) = r {
                let again = CompressionOptions::parse(&o.to_map()).unwrap();
                assert_eq!(again, o);
            }
        }
    }
}

#[test]
fn canonical_map_and_cql_literal() {
    let o = parse(&[
        ("class", "EncryptingDeflateCompressor"),
        ("cipher_algorithm", "AES/GCM/NoPadding"),
        ("secret_key_strength", "256"),
        ("key_keyspace", "ks1"),
        ("chunk_length_in_kb", "16"),
    ])
    .unwrap();
    assert_eq!(
        o.to_string(),
        "{'chunk_length_kb': '16', 'cipher_algorithm': 'AES/GCM/NoPadding', \
         'class': 'EncryptingDeflateCompressor', 'key_keyspace': 'ks1', \
         'key_provider': 'LocalFileSystemKeyProviderFactory', 'secret_key_strength': '256'}"
    );
    assert_eq!(CompressionOptions::parse(&o.to_map()).unwrap(), o);
    assert_eq!(
        CompressionOptions::default().to_string(),
        "{'enabled': 'false'}"
    );
}

#[test]
fn dse_docs_local_key_example_with_system_key_file() {
    // The DSE/HCD docs' local-key table, as written there.
    let o = parse(&[
        ("class", "EncryptingLZ4Compressor"),
        ("cipher_algorithm", "DESede/CBC/PKCS5Padding"),
        ("secret_key_strength", "112"),
        ("system_key_file", "system_key"),
    ])
    .unwrap();
    let e = o.encryption.as_ref().unwrap();
    assert_eq!(e.transformation.algorithm, Algorithm::DesEde);
    assert_eq!(
        e.key_provider,
        KeyProviderChoice::Local {
            secret_key_file: Some(PathBuf::from("system_key"))
        }
    );
    // Printed back under the name it was given, and parses back to the same options.
    let m = o.to_map();
    assert_eq!(
        m.get("system_key_file").map(String::as_str),
        Some("system_key")
    );
    assert!(!m.contains_key("secret_key_file"));
    assert_eq!(CompressionOptions::parse(&m).unwrap(), o);

    // A path is printed as secret_key_file.
    let o = parse(&[
        ("class", "Encryptor"),
        ("secret_key_file", "/etc/crypta/keys/other"),
    ])
    .unwrap();
    assert_eq!(
        o.to_map().get("secret_key_file").map(String::as_str),
        Some("/etc/crypta/keys/other")
    );
}

#[test]
fn system_key_file_errors_name_the_option() {
    for (pairs, option) in [
        (
            vec![("class", "Encryptor"), ("system_key_file", "../elsewhere")],
            "system_key_file",
        ),
        (
            vec![("class", "Encryptor"), ("system_key_file", "/etc/keys/k")],
            "system_key_file",
        ),
        (
            vec![
                ("class", "Encryptor"),
                ("system_key_file", "a"),
                ("secret_key_file", "b"),
            ],
            "secret_key_file",
        ),
        (
            vec![
                ("class", "Encryptor"),
                ("key_provider", "KmipKeyProviderFactory"),
                ("kmip_host", "g"),
                ("system_key_file", "system_key"),
            ],
            "system_key_file",
        ),
        (
            vec![
                ("class", "LZ4Compressor"),
                ("system_key_file", "system_key"),
            ],
            "system_key_file",
        ),
    ] {
        let err = parse(&pairs).unwrap_err();
        assert!(
            matches!(&err, CompressionError::InvalidOption { option: o, .. } if o == option),
            "{pairs:?}: {err}"
        );
    }
}
