#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests fail loudly on errors"
)]

//! Range reads of checked frames: every range of every codec's frames reads what a whole
//! decode gives; `check_frame` accepts a frame exactly when `decode` does, corrupt or not;
//! reads outside the chunk, or from other bytes, are errors.

use std::collections::BTreeMap;

use crypta_compression::{ChunkDecoder, ChunkEncoder, CompressionOptions};
use crypta_keys::{Algorithm, KeyProvider, LocalKeyProvider};

fn options(class: &str, transformation: Option<(&str, u32)>, chunk_kb: u32) -> CompressionOptions {
    let mut m = BTreeMap::new();
    if class.is_empty() {
        m.insert("enabled".to_string(), "false".to_string());
    } else {
        m.insert("class".to_string(), class.to_string());
        m.insert("chunk_length_kb".to_string(), chunk_kb.to_string());
    }
    if let Some((t, bits)) = transformation {
        m.insert("cipher_algorithm".to_string(), t.to_string());
        m.insert("secret_key_strength".to_string(), bits.to_string());
    }
    CompressionOptions::parse(&m).unwrap()
}

fn sample(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Half text-like (compressible), half random.
            if i % 64 < 32 {
                b'a' + (i % 7) as u8
            } else {
                x as u8
            }
        })
        .collect()
}

/// Every codec: plain, each block cipher in ECB and CBC, GCM, and compressing ones.
fn codecs() -> Vec<CompressionOptions> {
    let mut v = vec![options("", None, 4), options("LZ4Compressor", None, 4)];
    for alg in Algorithm::ALL {
        let bits = match alg {
            Algorithm::Aes => 128,
            Algorithm::Des => 56,
            Algorithm::DesEde => 168,
            Algorithm::Blowfish => 128,
            Algorithm::Rc2 => 128,
        };
        for mode in ["ECB", "CBC"] {
            let t = format!("{}/{mode}/PKCS5Padding", alg.jce_name());
            v.push(options("Encryptor", Some((&t, bits)), 4));
        }
    }
    for bits in [128, 192, 256] {
        v.push(options(
            "Encryptor",
            Some(("AES/CBC/PKCS5Padding", bits)),
            4,
        ));
    }
    v.push(options("Encryptor", Some(("AES/GCM/NoPadding", 128)), 4));
    v.push(options(
        "EncryptingDeflateCompressor",
        Some(("AES/CBC/PKCS5Padding", 128)),
        4,
    ));
    v
}

/// Range boundaries around every block edge near the start, the middle and the end.
fn points(len: usize) -> Vec<usize> {
    let mut p = Vec::new();
    for base in [0, len / 2, len.saturating_sub(40)] {
        for d in 0..40 {
            if base + d <= len {
                p.push(base + d);
            }
        }
    }
    p.push(len);
    p.sort_unstable();
    p.dedup();
    p
}

#[test]
fn every_range_reads_what_a_whole_decode_gives() {
    let dir = tempfile::tempdir().unwrap();
    let keys = LocalKeyProvider::open(dir.path().join("keys")).unwrap();
    let keys: &dyn KeyProvider = &keys;
    for o in codecs() {
        let key = o.key_spec().map(|s| keys.current_key(&s).unwrap());
        let enc = ChunkEncoder::new(&o);
        let dec = ChunkDecoder::new(4096);
        for len in [0usize, 1, 7, 8, 9, 15, 16, 17, 100, 4095, 4096] {
            let plain = sample(len, len as u64);
            let mut frame = Vec::new();
            enc.encode(&plain, key.as_ref(), &mut frame).unwrap();
            frame.extend_from_slice(b"next frame"); // frames follow each other
            let checked = dec.check_frame(&frame, Some(keys)).unwrap();
            assert_eq!(checked.plaintext_len(), len);
            assert_eq!(checked.frame_len(), frame.len() - 10);
            // A compressing codec stores a chunk that does not shrink uncompressed.
            let partial = checked.header().compressor.is_none()
                && o.encryption
                    .as_ref()
                    .is_none_or(|e| e.transformation.mode != crypta_compression::Mode::Gcm);
            assert_eq!(checked.is_partial(), partial, "{o:?}");
            let pts = points(len);
            for &a in &pts {
                for &b in pts.iter().filter(|&&b| b >= a) {
                    let mut out = b"prefix".to_vec();
                    checked.read(&frame, a..b, &mut out).unwrap();
                    assert_eq!(&out[..6], b"prefix");
                    assert_eq!(&out[6..], &plain[a..b], "{o:?} len {len} range {a}..{b}");
                }
            }
            // Outside the chunk, or reversed: an error, nothing appended.
            #[allow(clippy::reversed_empty_ranges, reason = "the point of the test")]
            for r in [
                0..len + 1,
                len + 1..len + 2,
                1..0,
                usize::MAX - 1..usize::MAX,
            ] {
                let mut out = Vec::new();
                assert!(checked.read(&frame, r.clone(), &mut out).is_err(), "{r:?}");
                assert!(out.is_empty());
            }
            // Other bytes than the checked frame.
            let mut other = frame.clone();
            let crc_at = checked.frame_len() - 4;
            other[crc_at] ^= 1;
            assert!(checked.read(&other, 0..len, &mut Vec::new()).is_err());
            assert!(
                checked
                    .read(&frame[..crc_at], 0..len, &mut Vec::new())
                    .is_err()
            );
        }
    }
}

#[test]
fn check_frame_accepts_exactly_what_decode_accepts() {
    // Every byte flipped, the CRC recomputed so the flip reaches the cipher: `check_frame`
    // and `decode` agree on accepting it, and an accepted frame reads as it decodes (for ECB
    // and CBC, garbage both ways: they do not authenticate). Truncations too.
    let dir = tempfile::tempdir().unwrap();
    let keys = LocalKeyProvider::open(dir.path().join("keys")).unwrap();
    let keys: &dyn KeyProvider = &keys;
    for o in codecs() {
        let key = o.key_spec().map(|s| keys.current_key(&s).unwrap());
        let dec = ChunkDecoder::new(4096);
        let plain = sample(1000, 3);
        let mut frame = Vec::new();
        ChunkEncoder::new(&o)
            .encode(&plain, key.as_ref(), &mut frame)
            .unwrap();
        let body = frame.len() - 4;
        for i in 0..frame.len() {
            for fix_crc in [false, true] {
                let mut f = frame.clone();
                f[i] ^= 0x41;
                if fix_crc && i < body {
                    let crc = crc32fast::hash(&f[..body]);
                    f[body..].copy_from_slice(&crc.to_le_bytes());
                }
                let mut whole = Vec::new();
                let decoded = dec.decode(&f, Some(keys), &mut whole);
                let checked = dec.check_frame(&f, Some(keys));
                assert_eq!(
                    decoded.is_ok(),
                    checked.is_ok(),
                    "{o:?}: flip at {i} (crc fixed: {fix_crc}): decode {decoded:?}, check {checked:?}"
                );
                if let Ok(c) = checked {
                    let mut out = Vec::new();
                    c.read(&f, 0..c.plaintext_len(), &mut out).unwrap();
                    assert_eq!(out, whole, "{o:?}: flip at {i}");
                }
            }
        }
        for n in 0..frame.len() {
            assert!(dec.check_frame(&frame[..n], Some(keys)).is_err());
        }
        if key.is_some() {
            assert!(dec.check_frame(&frame, None).is_err(), "a key is required");
        }
    }
}

#[test]
fn debug_shows_no_key_material() {
    let dir = tempfile::tempdir().unwrap();
    let keys = LocalKeyProvider::open(dir.path().join("keys")).unwrap();
    let o = options("Encryptor", Some(("AES/CBC/PKCS5Padding", 128)), 4);
    let key = keys.current_key(&o.key_spec().unwrap()).unwrap();
    let mut frame = Vec::new();
    ChunkEncoder::new(&o)
        .encode(b"row", Some(&key), &mut frame)
        .unwrap();
    let c = ChunkDecoder::new(4096)
        .check_frame(&frame, Some(&keys))
        .unwrap();
    let d = format!("{c:?}");
    let hex: String = key
        .material()
        .expose()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert!(
        !d.contains(&hex) && !d.to_lowercase().contains("material"),
        "{d}"
    );
}
