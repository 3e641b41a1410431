#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests fail loudly on errors"
)]

//! Compressed chunks of chunk frame versions 1 and 2, where the chunk was compressed as one
//! stream (version 3 compresses each 4 KiB segment on its own), and GCM chunks of those
//! versions, sealed as one GCM message (version 3 seals each 4 KiB segment on its own), still
//! decode and read through `check_frame`. The frames are built here byte by byte as `docs/format/chunk.md` specifies
//! them, with the chunk deflated (or LZ4-compressed) whole and encrypted by the hazmat cipher.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;

use crypta_compression::hazmat::{ChunkCipher, reseal_frame};
use crypta_compression::{
    ChunkDecoder, CompressionOptions, Compressor, DEFLATE_LEVEL, Mode, parse_header,
};
use crypta_keys::{Key, KeyProvider, LocalKeyProvider};

fn options(class: &str, transformation: Option<&str>) -> CompressionOptions {
    let mut m = BTreeMap::new();
    m.insert("class".to_string(), class.to_string());
    m.insert("chunk_length_kb".to_string(), "16".to_string());
    if let Some(t) = transformation {
        m.insert("cipher_algorithm".to_string(), t.to_string());
        m.insert("secret_key_strength".to_string(), "128".to_string());
    }
    CompressionOptions::parse(&m).unwrap()
}

fn sample(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| {
            if i % 64 < 40 {
                b'a' + (i % 7) as u8
            } else {
                (i * 7919 % 251) as u8
            }
        })
        .collect()
}

/// A frame of `version` (1 or 2) holding `plain` compressed whole as `o` says, encrypted
/// under `key` with `iv` if `o` encrypts.
fn legacy_frame(
    version: u8,
    o: &CompressionOptions,
    key: Option<&Arc<Key>>,
    iv: &[u8],
    plain: &[u8],
) -> Vec<u8> {
    let (code, body) = match o.class.compressor() {
        None => (0u8, plain.to_vec()),
        Some(Compressor::Deflate) => {
            let mut e = flate2::write::DeflateEncoder::new(
                Vec::new(),
                flate2::Compression::new(DEFLATE_LEVEL),
            );
            e.write_all(plain).unwrap();
            (1u8, e.finish().unwrap())
        }
        Some(Compressor::Lz4) => (2, lz4_flex::block::compress(plain)),
        Some(c) => panic!("no code for {c:?}"),
    };
    assert!(
        code == 0 || body.len() < plain.len(),
        "the sample compresses"
    );
    let t = o.encryption.as_ref().map(|e| e.transformation);
    let cipher = t.map(|t| ChunkCipher::new(t, key.unwrap()).unwrap());
    let payload_len = cipher
        .as_ref()
        .map_or(body.len(), |c| c.ciphertext_len(body.len()));
    let mut f = vec![version, code];
    match t {
        None => f.extend_from_slice(&[0, 0]),
        Some(t) => {
            let mode = match t.mode {
                Mode::Ecb => 1,
                Mode::Cbc => 2,
                Mode::Gcm => 3,
                m => panic!("no code for {m:?}"),
            };
            f.extend_from_slice(&[t.algorithm.code(), mode]);
        }
    }
    f.extend_from_slice(&(plain.len() as u32).to_le_bytes());
    f.extend_from_slice(&(payload_len as u32).to_le_bytes());
    let id = key
        .map(|k| k.id().as_str().as_bytes().to_vec())
        .unwrap_or_default();
    f.push(id.len() as u8);
    f.extend_from_slice(&id);
    f.push(iv.len() as u8);
    f.extend_from_slice(iv);
    if version == 2 {
        f.push(12);
    }
    let aad = f.clone();
    if version == 2 {
        f.resize(f.len() + 4 * payload_len.div_ceil(4096) + 4, 0);
    }
    let at = f.len();
    f.resize(at + payload_len, 0);
    match &cipher {
        Some(c) => {
            c.encrypt(iv, &aad, &body, &mut f[at..]).unwrap();
        }
        None => f[at..].copy_from_slice(&body),
    }
    if version == 1 {
        f.extend_from_slice(&[0; 4]);
    }
    assert_eq!(reseal_frame(&mut f, 16384).unwrap(), f.len());
    f
}

#[test]
fn whole_stream_frames_of_versions_1_and_2_still_read() {
    let dir = tempfile::tempdir().unwrap();
    let keys = LocalKeyProvider::open(dir.path().join("keys")).unwrap();
    let keys: &dyn KeyProvider = &keys;
    let plain = sample(14000);
    let dec = ChunkDecoder::new(16384);
    for (class, t) in [
        ("DeflateCompressor", None),
        ("LZ4Compressor", None),
        ("EncryptingDeflateCompressor", Some("AES/CBC/PKCS5Padding")),
        ("EncryptingDeflateCompressor", Some("AES/ECB/PKCS5Padding")),
        ("EncryptingDeflateCompressor", Some("AES/GCM/NoPadding")),
        ("Encryptor", Some("AES/GCM/NoPadding")),
        (
            "EncryptingDeflateCompressor",
            Some("Blowfish/CBC/PKCS5Padding"),
        ),
        ("EncryptingLZ4Compressor", Some("AES/CBC/PKCS5Padding")),
    ] {
        let o = options(class, t);
        let key = o.key_spec().map(|s| keys.current_key(&s).unwrap());
        let iv_len = o
            .encryption
            .as_ref()
            .map_or(0, |e| e.transformation.iv_len());
        let iv: Vec<u8> = (0..iv_len as u8).map(|i| i.wrapping_mul(37)).collect();
        for version in [1, 2] {
            let what = format!("{class} {t:?} version {version}");
            let frame = legacy_frame(version, &o, key.as_ref(), &iv, &plain);
            let h = parse_header(&frame, 16384).unwrap();
            assert_eq!(
                (h.version, h.compressed_segments(), h.gcm_segments()),
                (version, None, None),
                "{what}"
            );
            let mut out = b"x".to_vec();
            assert_eq!(
                dec.decode(&frame, Some(keys), &mut out).unwrap(),
                frame.len()
            );
            assert_eq!(&out[1..], &plain[..], "{what}");
            // Decoded whole at check time: reads copy from it.
            let mut c = dec.check_frame(&frame, Some(keys)).unwrap();
            assert!(!c.is_partial() && c.segment_len().is_none(), "{what}");
            let mut out = Vec::new();
            c.read(&frame, 5000..9100, &mut out).unwrap();
            assert_eq!(out, plain[5000..9100], "{what}");
            // Still checked: a flipped payload byte fails both ways.
            let mut bad = frame.clone();
            bad[h.payload_offset + h.payload_len / 2] ^= 4;
            assert!(
                dec.decode(&bad, Some(keys), &mut Vec::new()).is_err(),
                "{what}"
            );
            assert!(dec.check_frame(&bad, Some(keys)).is_err(), "{what}");
        }
    }
}
