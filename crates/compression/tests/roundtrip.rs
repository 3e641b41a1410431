#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on errors"
)]

//! Every codec class with every transformation and strength: frames decode to what was
//! encoded, carry the key id, and every corruption is an error.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use crypta_compression::{
    ChunkDecoder, ChunkEncoder, CompressionError, CompressionOptions, frame_key_id, parse_header,
};
use crypta_keys::{Algorithm, KeyManager, KeyProvider, LocalKeyProvider};

fn options(
    class: &str,
    transformation: Option<&str>,
    bits: u32,
    chunk_kb: u32,
) -> CompressionOptions {
    let mut m = BTreeMap::new();
    m.insert("class".to_string(), class.to_string());
    m.insert("chunk_length_kb".to_string(), chunk_kb.to_string());
    if let Some(t) = transformation {
        m.insert("cipher_algorithm".to_string(), t.to_string());
        m.insert("secret_key_strength".to_string(), bits.to_string());
    }
    CompressionOptions::parse(&m).unwrap()
}

fn sample(len: usize, seed: u8) -> Vec<u8> {
    // Compressible but not trivial: text-like rows.
    let mut v = Vec::with_capacity(len);
    let mut i = 0u32;
    while v.len() < len {
        v.extend_from_slice(
            format!("row-{seed}-{i:08} value=alpha beta gamma {};", i % 97).as_bytes(),
        );
        i += 1;
    }
    v.truncate(len);
    v
}

fn strengths(alg: Algorithm) -> Vec<u32> {
    match alg {
        Algorithm::Aes => vec![128, 192, 256],
        Algorithm::Des => vec![56],
        Algorithm::DesEde => vec![112, 168],
        Algorithm::Blowfish => vec![32, 40, 128, 448],
        Algorithm::Rc2 => vec![40, 64, 128],
    }
}

fn transformations() -> Vec<(String, u32)> {
    let mut v = Vec::new();
    for alg in Algorithm::ALL {
        for bits in strengths(alg) {
            for mode in ["ECB", "CBC"] {
                v.push((format!("{}/{mode}/PKCS5Padding", alg.jce_name()), bits));
            }
            if alg == Algorithm::Aes {
                v.push(("AES/GCM/NoPadding".to_string(), bits));
            }
        }
    }
    v
}

#[test]
fn every_class_and_transformation_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let keys = LocalKeyProvider::open(dir.path().join("keys")).unwrap();
    let lens = [0usize, 1, 7, 8, 15, 16, 17, 1000, 4096];
    for class in [
        "Encryptor",
        "EncryptingDeflateCompressor",
        "EncryptingLZ4Compressor",
    ] {
        for ((t, bits), interleaved) in transformations()
            .into_iter()
            .flat_map(|t| [(t.clone(), false), (t, true)])
        {
            let o = options(class, Some(&t), bits, 4);
            let key = keys.current_key(&o.key_spec().unwrap()).unwrap();
            // The commit log's and hints' encoder: CBC in interleaved chains (mode code 4) and
            // 64 KiB segments.
            let enc = if interleaved {
                ChunkEncoder::new(&o).for_whole_reads()
            } else {
                ChunkEncoder::new(&o)
            };
            let dec = ChunkDecoder::new(o.chunk_length());
            for &len in &lens {
                let plain = sample(len, 1);
                let mut frame = Vec::new();
                let n = enc.encode(&plain, Some(&key), &mut frame).unwrap();
                assert_eq!(n, frame.len());
                let mode = match t.split('/').nth(1) {
                    Some("ECB") => 1,
                    Some("CBC") if interleaved => 4,
                    Some("CBC") => 2,
                    _ => 3,
                };
                assert_eq!(frame[3], mode, "{t} mode code");
                let shift = parse_header(&frame, 4096).unwrap().segments.unwrap().shift;
                assert_eq!(shift, if interleaved { 16 } else { 12 }, "{t} segments");
                // Reads of part of the chunk give the same bytes as the whole decode.
                let mut checked = dec
                    .check_frame(&frame, Some(&keys as &dyn KeyProvider))
                    .unwrap_or_else(|e| panic!("{class} {t} {bits} len {len}: {e}"));
                let mut part = Vec::new();
                checked.read(&frame, len / 3..len, &mut part).unwrap();
                assert_eq!(part, plain[len / 3..], "{class} {t} {bits} len {len}");
                let mut out = Vec::new();
                let used = dec
                    .decode(&frame, Some(&keys as &dyn KeyProvider), &mut out)
                    .unwrap_or_else(|e| panic!("{class} {t} {bits} len {len}: {e}"));
                assert_eq!(used, frame.len());
                assert_eq!(out, plain, "{class} {t} {bits} len {len}");
                assert_eq!(frame_key_id(&frame, 4096).unwrap().as_ref(), Some(key.id()));
                if len >= 16 && class == "Encryptor" {
                    // No 16-byte run of the plaintext appears anywhere in the frame (a set of
                    // the plaintext's windows: the pairwise scan was quadratic and took 20 s).
                    let windows: HashSet<&[u8]> = plain.windows(16).collect();
                    assert!(
                        !frame.windows(16).any(|w| windows.contains(w)),
                        "{t}: plaintext visible in frame"
                    );
                }
            }
        }
    }
}

#[test]
fn plain_classes_round_trip_without_keys() {
    for class in ["DeflateCompressor", "LZ4Compressor"] {
        let o = options(class, None, 0, 64);
        let enc = ChunkEncoder::new(&o);
        let dec = ChunkDecoder::new(o.chunk_length());
        let plain = sample(65536, 2);
        let mut frame = Vec::new();
        enc.encode(&plain, None, &mut frame).unwrap();
        assert!(frame.len() < plain.len() / 2, "{class} compresses");
        let mut out = Vec::new();
        dec.decode(&frame, None, &mut out).unwrap();
        assert_eq!(out, plain);
        assert_eq!(frame_key_id(&frame, 65536).unwrap(), None);
    }
    let disabled = CompressionOptions::default();
    let enc = ChunkEncoder::new(&disabled);
    let mut frame = Vec::new();
    enc.encode(b"hello", None, &mut frame).unwrap();
    let mut out = Vec::new();
    ChunkDecoder::new(65536)
        .decode(&frame, None, &mut out)
        .unwrap();
    assert_eq!(out, b"hello");
}

#[test]
fn consecutive_frames_decode_in_sequence_and_ivs_differ() {
    let dir = tempfile::tempdir().unwrap();
    let keys = LocalKeyProvider::open(dir.path().join("keys")).unwrap();
    let o = options("Encryptor", Some("AES/CBC/PKCS5Padding"), 128, 4);
    let key = keys.current_key(&o.key_spec().unwrap()).unwrap();
    let enc = ChunkEncoder::new(&o);
    let plain = sample(4096, 3);
    let mut stream = Vec::new();
    let a = enc.encode(&plain, Some(&key), &mut stream).unwrap();
    enc.encode(&plain, Some(&key), &mut stream).unwrap();
    assert_ne!(
        stream[..a],
        stream[a..],
        "same plaintext, fresh IV, different frames"
    );
    let dec = ChunkDecoder::new(4096);
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < stream.len() {
        pos += dec.decode(&stream[pos..], Some(&keys), &mut out).unwrap();
    }
    assert_eq!(out.len(), 8192);
}

/// A frame of 3,000 bytes under `t` (suffixed " logs": as the commit log and hints encode it,
/// `ChunkEncoder::for_whole_reads`) and `class`.
fn encrypted_frame(
    t: &str,
    class: &str,
) -> (tempfile::TempDir, LocalKeyProvider, Vec<u8>, Vec<u8>) {
    let (t, whole_reads) = match t.strip_suffix(" logs") {
        Some(t) => (t, true),
        None => (t, false),
    };
    let dir = tempfile::tempdir().unwrap();
    let keys = LocalKeyProvider::open(dir.path().join("keys")).unwrap();
    let o = options(class, Some(t), 128, 4);
    let key = keys.current_key(&o.key_spec().unwrap()).unwrap();
    let plain = sample(3000, 4);
    let mut frame = Vec::new();
    let enc = ChunkEncoder::new(&o);
    let enc = if whole_reads {
        enc.for_whole_reads()
    } else {
        enc
    };
    enc.encode(&plain, Some(&key), &mut frame).unwrap();
    (dir, keys, frame, plain)
}

#[test]
fn every_single_bit_flip_is_detected() {
    for (t, class) in [
        ("AES/CBC/PKCS5Padding", "EncryptingDeflateCompressor"),
        ("AES/CBC/PKCS5Padding logs", "Encryptor"),
        ("AES/GCM/NoPadding logs", "EncryptingDeflateCompressor"),
        ("Blowfish/CBC/PKCS5Padding logs", "EncryptingLZ4Compressor"),
        ("AES/GCM/NoPadding", "Encryptor"),
        ("Blowfish/ECB/PKCS5Padding", "EncryptingLZ4Compressor"),
    ] {
        let (_dir, keys, frame, plain) = encrypted_frame(t, class);
        let dec = ChunkDecoder::new(4096);
        for i in 0..frame.len() {
            for bit in [0, 3, 7] {
                let mut f = frame.clone();
                f[i] ^= 1 << bit;
                let mut out = Vec::new();
                match dec.decode(&f, Some(&keys), &mut out) {
                    Err(_) => assert!(out.is_empty(), "partial output left on error"),
                    Ok(_) => panic!(
                        "{t}: flip of bit {bit} at {i} accepted ({} bytes, equal: {})",
                        out.len(),
                        out == plain
                    ),
                }
            }
        }
        for n in 0..frame.len() {
            assert!(
                dec.decode(&frame[..n], Some(&keys), &mut Vec::new())
                    .is_err()
            );
        }
    }
}

#[test]
fn wrong_destroyed_and_missing_keys_are_named() {
    let (_dir, keys, frame, _) = encrypted_frame("AES/CBC/PKCS5Padding", "Encryptor");
    let id = frame_key_id(&frame, 4096).unwrap().unwrap();
    let dec = ChunkDecoder::new(4096);

    // Another provider that does not know the key.
    let other_dir = tempfile::tempdir().unwrap();
    let other = LocalKeyProvider::open(other_dir.path().join("keys")).unwrap();
    let err = dec
        .decode(&frame, Some(&other), &mut Vec::new())
        .unwrap_err();
    assert!(matches!(err, CompressionError::Key { .. }), "{err}");
    assert!(err.to_string().contains(id.as_str()), "{err}");

    let err = dec.decode(&frame, None, &mut Vec::new()).unwrap_err();
    assert!(matches!(err, CompressionError::KeyRequired(_)), "{err}");

    // Decrypts after revoke, refuses after destroy, even with a warm cache.
    let mut out = Vec::new();
    dec.decode(&frame, Some(&keys), &mut out).unwrap();
    keys.revoke(&id, false).unwrap();
    dec.decode(&frame, Some(&keys), &mut Vec::new()).unwrap();
    keys.destroy(&id).unwrap();
    let err = dec
        .decode(&frame, Some(&keys), &mut Vec::new())
        .unwrap_err();
    assert!(err.to_string().contains("destroyed"), "{err}");
    assert!(err.to_string().contains(id.as_str()), "{err}");
}

#[test]
fn gcm_detects_a_wrong_key_with_a_valid_crc() {
    // Re-key the frame's CRC after swapping in another key id of the same algorithm: CBC may
    // or may not notice (padding), GCM must.
    let dir = tempfile::tempdir().unwrap();
    let keys = LocalKeyProvider::open(dir.path().join("keys")).unwrap();
    let o = options("Encryptor", Some("AES/GCM/NoPadding"), 128, 4);
    let spec = o.key_spec().unwrap();
    let k1 = keys.current_key(&spec).unwrap();
    keys.revoke(k1.id(), false).unwrap();
    let k2 = keys.current_key(&spec).unwrap();
    assert_eq!(k1.id().as_str().len(), k2.id().as_str().len());
    let mut frame = Vec::new();
    ChunkEncoder::new(&o)
        .encode(b"secret row", Some(&k1), &mut frame)
        .unwrap();
    let pos = frame
        .windows(k1.id().as_str().len())
        .position(|w| w == k1.id().as_str().as_bytes())
        .unwrap();
    frame[pos..pos + k2.id().as_str().len()].copy_from_slice(k2.id().as_str().as_bytes());
    crypta_compression::hazmat::reseal_frame(&mut frame, 4096).unwrap();
    let err = ChunkDecoder::new(4096)
        .decode(&frame, Some(&keys), &mut Vec::new())
        .unwrap_err();
    assert!(
        matches!(err, CompressionError::AuthenticationFailed { .. }),
        "{err}"
    );
}

#[test]
fn oversized_chunks_are_refused_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let keys = LocalKeyProvider::open(dir.path().join("keys")).unwrap();
    let o = options("Encryptor", Some("AES/ECB/PKCS5Padding"), 128, 4);
    let key = Arc::clone(&keys.current_key(&o.key_spec().unwrap()).unwrap());
    let enc = ChunkEncoder::new(&o);
    assert!(
        enc.encode(&vec![0u8; 4097], Some(&key), &mut Vec::new())
            .is_err()
    );
    let mut frame = Vec::new();
    enc.encode(&vec![0u8; 4096], Some(&key), &mut frame)
        .unwrap();
    let err = ChunkDecoder::new(1024)
        .decode(&frame, Some(&keys), &mut Vec::new())
        .unwrap_err();
    assert!(
        matches!(
            err,
            CompressionError::ChunkTooLarge {
                declared: 4096,
                max: 1024
            }
        ),
        "{err}"
    );
    // Key given to a plain codec, or missing for an encrypting one.
    assert!(enc.encode(b"x", None, &mut Vec::new()).is_err());
    let plain = ChunkEncoder::new(&CompressionOptions::default());
    assert!(plain.encode(b"x", Some(&key), &mut Vec::new()).is_err());
}

#[test]
fn hazmat_chunk_cipher_reproduces_frame_payloads() {
    use crypta_compression::hazmat::ChunkCipher;
    use crypta_compression::parse_header;
    let dir = tempfile::tempdir().unwrap();
    let keys = LocalKeyProvider::open(dir.path().join("keys")).unwrap();
    for (t, bits) in transformations() {
        let o = options("Encryptor", Some(&t), bits, 4);
        let key = keys.current_key(&o.key_spec().unwrap()).unwrap();
        let plain = sample(1000, 5);
        let mut frame = Vec::new();
        ChunkEncoder::new(&o)
            .encode(&plain, Some(&key), &mut frame)
            .unwrap();
        let h = parse_header(&frame, 4096).unwrap();
        let mut iv = &frame[h.iv_offset..h.iv_offset + h.iv_len];
        let header = &frame[..h.aad_len];
        let payload = &frame[h.payload_offset..h.payload_offset + h.payload_len];
        let t = o.encryption.as_ref().unwrap().transformation;
        let mut c = ChunkCipher::new(t, &key).unwrap();
        if h.gcm_segments().is_some() {
            // GCM (frame version 3) seals 4 KiB segments, here one, under the frame's key:
            // the first 8 bytes of each AES-K(le32(i) || frame IV) (RFC 8452's derivation,
            // done here with the hazmat ECB cipher), with the nonce le32(0) || 0^64.
            let ecb = ChunkCipher::new("AES/ECB/PKCS5Padding".parse().unwrap(), &key).unwrap();
            let blocks: Vec<u8> = (0..bits / 64)
                .flat_map(|i| [i.to_le_bytes().as_slice(), iv].concat())
                .collect();
            let mut out = vec![0u8; blocks.len() + 16];
            ecb.encrypt(&[], &[], &blocks, &mut out).unwrap();
            let derived: Vec<u8> = out
                .chunks(16)
                .take(blocks.len() / 16)
                .flat_map(|b| b[..8].to_vec())
                .collect();
            let info = crypta_keys::KeyInfo {
                id: crypta_keys::KeyId::new("frame-key").unwrap(),
                ..key.info.clone()
            };
            let frame_key =
                crypta_keys::Key::new(info, crypta_keys::KeyMaterial::new(derived)).unwrap();
            c = ChunkCipher::new(t, &frame_key).unwrap();
            iv = &[0; 12];
        }
        // Same key, IV and (for GCM) header as AAD: the same payload, and back.
        let mut ct = vec![0u8; c.ciphertext_len(plain.len())];
        assert_eq!(c.encrypt(iv, header, &plain, &mut ct).unwrap(), ct.len());
        assert_eq!(ct, payload, "{t} {bits}");
        let mut pt = vec![0u8; ct.len()];
        let n = c.decrypt(iv, header, &ct, &mut pt).unwrap();
        assert_eq!(&pt[..n], &plain[..], "{t} {bits}");
        // Wrong IV length and short buffers are errors, not panics.
        let bad_iv = vec![0u8; iv.len() + 1];
        assert!(c.encrypt(&bad_iv, header, &plain, &mut ct).is_err());
        assert!(c.encrypt(iv, header, &plain, &mut ct[..10]).is_err());
        assert!(c.decrypt(iv, header, &ct, &mut pt[..10]).is_err());
    }
    // A key of another algorithm is refused with both ids named.
    let aes = keys
        .current_key(&crypta_keys::KeySpec::new(Algorithm::Aes, 128, None).unwrap())
        .unwrap();
    let err = ChunkCipher::new("DES/CBC/PKCS5Padding".parse().unwrap(), &aes).unwrap_err();
    assert!(matches!(err, CompressionError::KeyMismatch { .. }), "{err}");
}

#[test]
fn full_chunks_of_every_length_round_trip_and_fit_the_overhead_bound() {
    // Incompressible chunks of exactly the chunk length, for the smallest, the default and
    // the largest `chunk_length_kb`: the frame stays within `max_frame_overhead`, parses under
    // the decoder's bound for that chunk length, and decodes and reads back. (A GCM frame of
    // version 3 carries a tag per 4 KiB segment: 4,096 bytes of tags in a 1 MiB chunk.)
    let dir = tempfile::tempdir().unwrap();
    let keys = LocalKeyProvider::open(dir.path().join("keys")).unwrap();
    for kb in [4usize, 64, 1024] {
        let len = kb * 1024;
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let plain: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        for (class, t) in [
            ("Encryptor", Some("AES/GCM/NoPadding")),
            ("EncryptingDeflateCompressor", Some("AES/GCM/NoPadding")),
            ("Encryptor", Some("AES/CBC/PKCS5Padding")),
            ("EncryptingLZ4Compressor", Some("AES/ECB/PKCS5Padding")),
            ("DeflateCompressor", None),
        ] {
            let o = options(class, t, 128, kb as u32);
            let key = o.key_spec().map(|s| keys.current_key(&s).unwrap());
            let mut frame = Vec::new();
            let n = ChunkEncoder::new(&o)
                .encode(&plain, key.as_ref(), &mut frame)
                .unwrap();
            assert!(
                n - len <= crypta_compression::max_frame_overhead(len),
                "{class} {t:?} {kb} KiB: {} bytes over",
                n - len
            );
            let dec = ChunkDecoder::new(len);
            let mut out = Vec::new();
            assert_eq!(dec.decode(&frame, Some(&keys), &mut out).unwrap(), n);
            assert!(out == plain, "{class} {t:?} {kb} KiB");
            let mut c = dec.check_frame(&frame, Some(&keys)).unwrap();
            let mut part = Vec::new();
            c.read(&frame, len / 3..len - 1, &mut part).unwrap();
            assert!(part == plain[len / 3..len - 1], "{class} {t:?} {kb} KiB");
        }
    }
}
