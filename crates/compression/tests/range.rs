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

use crypta_compression::hazmat::ChunkCipher;
use crypta_compression::{ChunkDecoder, ChunkEncoder, CompressionOptions, Mode, parse_header};
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

/// A local key file in a fresh directory (kept while the directory lives).
fn key_file() -> (tempfile::TempDir, LocalKeyProvider) {
    let dir = tempfile::tempdir().unwrap();
    let keys = LocalKeyProvider::open(dir.path().join("keys")).unwrap();
    (dir, keys)
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
    let mut v = vec![options("", None, 16), options("LZ4Compressor", None, 16)];
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
            v.push(options("Encryptor", Some((&t, bits)), 16));
        }
    }
    for bits in [128, 192, 256] {
        v.push(options(
            "Encryptor",
            Some(("AES/CBC/PKCS5Padding", bits)),
            16,
        ));
    }
    v.push(options("Encryptor", Some(("AES/GCM/NoPadding", 128)), 16));
    v.push(options("DeflateCompressor", None, 16));
    for (class, t) in [
        ("EncryptingDeflateCompressor", "AES/CBC/PKCS5Padding"),
        ("EncryptingDeflateCompressor", "AES/ECB/PKCS5Padding"),
        ("EncryptingDeflateCompressor", "AES/GCM/NoPadding"),
        ("EncryptingDeflateCompressor", "Blowfish/CBC/PKCS5Padding"),
        ("EncryptingLZ4Compressor", "AES/CBC/PKCS5Padding"),
    ] {
        v.push(options(class, Some((t, 128)), 16));
    }
    v
}

fn gcm(o: &CompressionOptions) -> bool {
    o.encryption
        .as_ref()
        .is_some_and(|e| e.transformation.mode == Mode::Gcm)
}

/// Range boundaries around every block edge near the start, the middle, the 4 KiB segment
/// edges and the end.
fn points(len: usize) -> Vec<usize> {
    let mut p = Vec::new();
    for base in [0, 4096 - 10, 8192 - 10, len.saturating_sub(20)] {
        for d in 0..20 {
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
    let (_dir, keys) = key_file();
    let keys: &dyn KeyProvider = &keys;
    for o in codecs() {
        let key = o.key_spec().map(|s| keys.current_key(&s).unwrap());
        let enc = ChunkEncoder::new(&o);
        let dec = ChunkDecoder::new(16384);
        for len in [0usize, 1, 7, 8, 9, 17, 100, 4095, 4096, 8197, 16384] {
            let plain = sample(len, len as u64);
            let mut frame = Vec::new();
            enc.encode(&plain, key.as_ref(), &mut frame).unwrap();
            frame.extend_from_slice(b"next frame"); // frames follow each other
            let mut checked = dec.check_frame(&frame, Some(keys)).unwrap();
            assert_eq!(checked.plaintext_len(), len);
            assert_eq!(checked.frame_len(), frame.len() - 10);
            // Frames of version 3 are read in parts whatever the codec (compressed chunks are
            // compressed segment by segment, GCM seals segment by segment).
            assert!(checked.is_partial(), "{o:?}");
            assert_eq!(
                checked.header().gcm_segments(),
                gcm(&o).then_some(12),
                "{o:?}"
            );
            let segments = checked.header().compressed_segments();
            let compressed = checked.header().compressor.is_some();
            // Uncompressed ECB and CBC chunks decrypt straight into a buffer from any block
            // edge.
            let block = o
                .encryption
                .as_ref()
                .map_or(1, |e| e.transformation.algorithm.block_size());
            assert_eq!(
                checked.read_alignment(),
                if compressed || gcm(&o) { 1 } else { block },
                "{o:?} len {len}"
            );
            assert_eq!(segments, compressed.then_some(12), "{o:?} len {len}");
            if o.class.compressor().is_some() && len >= 4096 {
                assert!(compressed, "{o:?}: a chunk of {len} bytes compresses");
            }
            let pts = points(len);
            for &a in &pts {
                for &b in pts.iter().filter(|&&b| b >= a) {
                    let mut out = b"prefix".to_vec();
                    checked.read(&frame, a..b, &mut out).unwrap();
                    assert_eq!(&out[..6], b"prefix");
                    assert_eq!(&out[6..], &plain[a..b], "{o:?} len {len} range {a}..{b}");
                    // Over a buffer holding an earlier read's bytes, longer or shorter.
                    let mut over = vec![0xEE; (a * 7 + b) % 5000];
                    checked.read_over(&frame, a..b, &mut over).unwrap();
                    assert_eq!(over, &plain[a..b], "{o:?} len {len} over {a}..{b}");
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
                let mut over = vec![0xEE; 64];
                assert!(checked.read_over(&frame, r.clone(), &mut over).is_err());
                assert!(over.is_empty(), "{r:?}: a failed read leaves nothing");
            }
            // Other bytes than the checked frame.
            let mut other = frame.clone();
            let crc_at = checked.header().payload_offset - 4;
            other[crc_at] ^= 1;
            assert!(checked.read(&other, 0..len, &mut Vec::new()).is_err());
            let end = checked.frame_len();
            assert!(
                checked
                    .read(&frame[..end - 1], 0..len, &mut Vec::new())
                    .is_err()
            );
        }
    }
}

/// `sample(len, seed)` and its frame under `o` (and `key` when `o` encrypts).
fn encoded(
    o: &CompressionOptions,
    key: Option<&std::sync::Arc<crypta_keys::Key>>,
    len: usize,
    seed: u64,
) -> (Vec<u8>, Vec<u8>) {
    let plain = sample(len, seed);
    let mut frame = Vec::new();
    ChunkEncoder::new(o)
        .encode(&plain, key, &mut frame)
        .unwrap();
    (plain, frame)
}

fn reseal(f: &mut [u8], max: usize) {
    // A flip may break the header so that no frame parses: nothing to reseal then.
    let _ = crypta_compression::hazmat::reseal_frame(f, max);
}

/// The version 1 form of an uncompressed version 3 frame: the same header fields to the IV, the payload,
/// one CRC32 over all of it. GCM frames are left out (their tag covers the version byte).
fn to_v1(f: &[u8], max: usize) -> Vec<u8> {
    let h = parse_header(f, max).unwrap();
    let mut v = f[..h.aad_len - 1].to_vec();
    v[0] = 1;
    v.extend_from_slice(&f[h.payload_offset..h.payload_offset + h.payload_len]);
    let crc = crc32fast::hash(&v);
    v.extend_from_slice(&crc.to_le_bytes());
    v
}

#[test]
fn a_whole_read_accepts_exactly_what_decode_accepts() {
    // Every byte flipped, with the checksums left or recomputed (so the flip reaches the
    // cipher): decoding the frame succeeds exactly when checking it and reading all of it
    // does, and then both give the same bytes (for ECB and CBC, garbage both ways: they do
    // not authenticate). Truncations too.
    let (_dir, keys) = key_file();
    let keys: &dyn KeyProvider = &keys;
    let max = 16384;
    for o in codecs() {
        let key = o.key_spec().map(|s| keys.current_key(&s).unwrap());
        let dec = ChunkDecoder::new(max);
        let (_, frame) = encoded(&o, key.as_ref(), 9000, 3);
        // Every byte of the header and around the segment edges; a sample of the rest.
        let h = parse_header(&frame, max).unwrap();
        let positions = (0..frame.len()).filter(|&i| {
            let p = i.wrapping_sub(h.payload_offset);
            i < h.payload_offset + 20 || p % 4096 < 20 || p % 4096 > 4076 || i % 211 == 0
        });
        for i in positions {
            for fix_crc in [false, true] {
                let mut f = frame.clone();
                f[i] ^= 0x41;
                if fix_crc {
                    reseal(&mut f, max);
                }
                let mut whole = Vec::new();
                let decoded = dec.decode(&f, Some(keys), &mut whole);
                let mut out = Vec::new();
                let read = dec
                    .check_frame(&f, Some(keys))
                    .and_then(|mut c| c.read(&f, 0..c.plaintext_len(), &mut out));
                assert_eq!(
                    decoded.is_ok(),
                    read.is_ok(),
                    "{o:?}: flip at {i} (crc fixed: {fix_crc}): decode {decoded:?}, read {read:?}"
                );
                assert_eq!(out, whole, "{o:?}: flip at {i}");
                if !fix_crc {
                    assert!(decoded.is_err(), "{o:?}: flip at {i} passed the checksums");
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
fn reads_check_only_the_segments_they_use() {
    // A payload byte flipped in the third 4 KiB segment: reads of the first two segments
    // succeed, any read that touches the third fails naming it, and so does a whole decode.
    let (_dir, keys) = key_file();
    let keys: &dyn KeyProvider = &keys;
    let max = 16384;
    for o in codecs() {
        let key = o.key_spec().map(|s| keys.current_key(&s).unwrap());
        let dec = ChunkDecoder::new(max);
        let (plain, frame) = encoded(&o, key.as_ref(), 14000, 5);
        let h = parse_header(&frame, max).unwrap();
        let c = dec.check_frame(&frame, Some(keys)).unwrap();
        if c.segment_len().is_none() {
            assert!(
                !c.is_partial(),
                "{o:?}: partial reads of a version 3 frame use segments"
            );
            continue;
        }
        if gcm(&o) {
            gcm_reads_check_only_their_segments(&o, keys, key.as_ref());
            continue;
        }
        if h.compressor.is_some() {
            compressed_reads_check_only_their_segments(&o, keys, key.as_ref());
            continue;
        }
        assert_eq!(c.segment_len(), Some(4096), "{o:?}");
        assert_eq!(h.segment_count(), h.payload_len.div_ceil(4096));
        let mut f = frame.clone();
        f[h.payload_offset + 2 * 4096 + 100] ^= 1;
        let mut c = dec.check_frame(&f, Some(keys)).unwrap();
        let mut out = Vec::new();
        c.read(&f, 10..8192, &mut out).unwrap();
        assert_eq!(out, plain[10..8192], "{o:?}");
        let err = c.read(&f, 8000..8200, &mut out).unwrap_err().to_string();
        assert!(err.contains("payload segment 2"), "{o:?}: {err}");
        assert_eq!(out, plain[10..8192], "nothing appended on error");
        assert!(dec.decode(&f, Some(keys), &mut Vec::new()).is_err());
        // The last CBC block of segment 1 is segment 2's chaining block: its checksum covers
        // it, so a flip there fails reads of segment 2 as well as of segment 1.
        let mut f = frame.clone();
        f[h.payload_offset + 2 * 4096 - 1] ^= 1;
        let mut c = dec.check_frame(&f, Some(keys)).unwrap();
        assert!(c.read(&f, 0..4096, &mut Vec::new()).is_ok());
        let at_edge = c.read(&f, 8192..8200, &mut Vec::new());
        let cbc = o
            .encryption
            .as_ref()
            .is_some_and(|e| e.transformation.mode == Mode::Cbc);
        assert_eq!(at_edge.is_err(), cbc, "{o:?}: {at_edge:?}");
        assert!(c.read(&f, 4096..8192, &mut Vec::new()).is_err());
        // The segment holding the padding is checked with the frame.
        let mut f = frame.clone();
        let last = f.len() - 1;
        f[last] ^= 1;
        assert!(
            dec.check_frame(&f, Some(keys)).is_err() || o.encryption.is_none(),
            "{o:?}"
        );
    }
}

/// `check_frame_memo`: a frame checked once is checked again without its padding, while its
/// header checksum is the one remembered; everything else is checked each time.
#[test]
fn a_memo_skips_only_the_padding_check_of_the_same_frame() {
    let (_dir, keys) = key_file();
    let keys: &dyn KeyProvider = &keys;
    let max = 16384;
    for o in codecs() {
        let key = o.key_spec().map(|s| keys.current_key(&s).unwrap());
        let dec = ChunkDecoder::new(max);
        let (plain, frame) = encoded(&o, key.as_ref(), 14000, 9);
        let padded = o
            .encryption
            .as_ref()
            .is_some_and(|e| e.transformation.mode != Mode::Gcm);
        let memo = crypta_compression::FrameMemo::default();
        let mut c = dec
            .check_frame_memo(&frame, Some(keys), Some(&memo))
            .unwrap();
        let mut out = Vec::new();
        c.read(&frame, 0..plain.len(), &mut out).unwrap();
        assert_eq!(out, plain, "{o:?}");
        // The segment holding the padding, altered with the header (and its checksums)
        // left as they were: a check without the memo fails on it; with the memo the check
        // passes, reads that do not use that segment succeed and reads that do fail.
        let mut f = frame.clone();
        let last = f.len() - 1;
        f[last] ^= 1;
        assert_eq!(dec.check_frame(&f, Some(keys)).is_err(), padded, "{o:?}");
        let again = dec.check_frame_memo(&f, Some(keys), Some(&memo));
        if !padded {
            // Nothing is remembered of other frames: the memo changes nothing.
            assert_eq!(
                again.is_ok(),
                dec.check_frame(&f, Some(keys)).is_ok(),
                "{o:?}"
            );
            continue;
        }
        let h = parse_header(&frame, max).unwrap();
        let mut c = again.unwrap_or_else(|e| panic!("{o:?}: {e}"));
        if h.compressor.is_none() {
            let mut out = Vec::new();
            c.read(&f, 0..4096, &mut out).unwrap();
            assert_eq!(out, plain[..4096], "{o:?}");
        }
        assert!(
            c.read(&f, 0..plain.len(), &mut Vec::new()).is_err(),
            "{o:?}"
        );
        assert!(
            dec.decode(&f, Some(keys), &mut Vec::new()).is_err(),
            "{o:?}"
        );
        // Another frame (other bytes, so another header checksum) is checked whole, even
        // with the memo of the first one: its padding, destroyed, fails the check.
        let (_, mut other) = encoded(&o, key.as_ref(), 14000, 10);
        assert!(other != frame, "{o:?}");
        let last = other.len() - 1;
        other[last] ^= 1;
        reseal(&mut other, max);
        assert!(
            dec.check_frame_memo(&other, Some(keys), Some(&memo))
                .is_err(),
            "{o:?}"
        );
    }
}

/// A compressed chunk of four 4 KiB segments whose payload spans three 4 KiB payload
/// segments, with a byte flipped in payload segment 1: the read of each plaintext segment
/// fails exactly when the cipher blocks of its compressed bytes (its bytes, unencrypted) lie
/// in payload segment 1, naming it; the others read right.
fn compressed_reads_check_only_their_segments(
    o: &CompressionOptions,
    keys: &dyn KeyProvider,
    key: Option<&std::sync::Arc<crypta_keys::Key>>,
) {
    let max = 16384;
    let dec = ChunkDecoder::new(max);
    let plain = sample(max, 9);
    let mut frame = Vec::new();
    ChunkEncoder::new(o)
        .encode(&plain, key, &mut frame)
        .unwrap();
    let h = parse_header(&frame, max).unwrap();
    assert_eq!(h.compressed_segments(), Some(12), "{o:?}");
    assert_eq!(
        h.segment_count(),
        3,
        "{o:?}: {} payload bytes",
        h.payload_len
    );
    // The body (the decrypted payload) and its segment table: where each plaintext
    // segment's compressed bytes are, and the cipher blocks a read of them decrypts.
    let payload = &frame[h.payload_offset..h.payload_offset + h.payload_len];
    let (body, block) = match (o.encryption.as_ref(), key) {
        (Some(e), Some(k)) => {
            let cipher = ChunkCipher::new(e.transformation, k).unwrap();
            let iv = &frame[h.iv_offset..h.iv_offset + h.iv_len];
            let mut out = vec![0; payload.len()];
            let n = cipher.decrypt(iv, &[], payload, &mut out).unwrap();
            out.truncate(n);
            (out, e.transformation.algorithm.block_size())
        }
        _ => (payload.to_vec(), 1),
    };
    let mut f = frame.clone();
    f[h.payload_offset + 4096 + 100] ^= 1;
    let mut c = dec.check_frame(&f, Some(keys)).unwrap();
    let (mut ok, mut failed) = (0, 0);
    let mut start = 16;
    for j in 0..4 {
        let end = 16 + u32::from_le_bytes(body[4 * j..4 * j + 4].try_into().unwrap()) as usize;
        let blocks = start / block * block..end.div_ceil(block) * block;
        start = end;
        let touches = blocks.start < 8192 && blocks.end > 4096;
        let mut out = Vec::new();
        match c.read(&f, j * 4096 + 1..j * 4096 + 4095, &mut out) {
            Ok(()) => {
                assert!(!touches, "{o:?}: segment {j} read over a bad checksum");
                assert_eq!(out, plain[j * 4096 + 1..j * 4096 + 4095], "{o:?}");
                ok += 1;
            }
            Err(e) => {
                assert!(touches, "{o:?}: segment {j}: {e}");
                assert!(e.to_string().contains("payload segment 1"), "{o:?}: {e}");
                assert!(out.is_empty(), "nothing appended on error");
                failed += 1;
            }
        }
    }
    assert!(
        ok > 0 && failed > 0,
        "{o:?}: {ok} reads ok, {failed} failed"
    );
    assert!(dec.decode(&f, Some(keys), &mut Vec::new()).is_err());
}

/// A GCM chunk (version 3: sealed 4 KiB segment by segment, each sealed segment 16 bytes
/// longer than its plaintext and checksummed on its own) of four segments, with a byte
/// flipped in sealed segment 2: the read of plaintext segment 2 fails naming payload segment
/// 2 (uncompressed; compressed, the reads whose compressed bytes lie in it), the others read
/// right, and a whole decode fails. The same flip with the checksums recomputed fails the
/// same reads on the tag instead.
fn gcm_reads_check_only_their_segments(
    o: &CompressionOptions,
    keys: &dyn KeyProvider,
    key: Option<&std::sync::Arc<crypta_keys::Key>>,
) {
    let max = 16384;
    let dec = ChunkDecoder::new(max);
    let compressed = o.class.compressor().is_some();
    // Compressed, a longer chunk, so that the payload still spans three payload segments.
    let len = if compressed { 16384 } else { 14000 };
    let (plain, frame) = encoded(o, key, len, 11);
    let h = parse_header(&frame, max).unwrap();
    assert_eq!(h.gcm_segments(), Some(12), "{o:?}");
    assert_eq!(h.compressor.is_some(), compressed, "{o:?}");
    let flip = 2 * 4096 + 100;
    assert!(
        h.payload_len > flip + 500,
        "{o:?}: {} payload bytes",
        h.payload_len
    );
    if !compressed {
        assert_eq!(h.payload_len, 14000 + 4 * 16);
    }
    for fix_crc in [false, true] {
        let mut f = frame.clone();
        f[h.payload_offset + flip] ^= 1;
        if fix_crc {
            reseal(&mut f, max);
        }
        let mut c = dec.check_frame(&f, Some(keys)).unwrap();
        let (mut ok, mut failed) = (0, 0);
        for j in 0..4 {
            let range = j * 4096 + 1..(j * 4096 + 4095).min(len);
            let mut out = Vec::new();
            let read = c.read(&f, range.clone(), &mut out);
            if !compressed {
                let sealed = j * 4112..((j + 1) * 4112).min(h.payload_len);
                // Each sealed segment has a checksum of its own: only the one holding the
                // flip fails, on its checksum or (fixed) on its tag.
                assert_eq!(
                    read.is_err(),
                    sealed.contains(&flip),
                    "{o:?} segment {j}: {read:?}"
                );
            }
            match read {
                Ok(()) => {
                    assert_eq!(out, plain[range], "{o:?}");
                    ok += 1;
                }
                Err(e) => {
                    let text = e.to_string();
                    if fix_crc {
                        assert!(
                            matches!(
                                e,
                                crypta_compression::CompressionError::AuthenticationFailed { .. }
                            ),
                            "{o:?}: {text}"
                        );
                    } else {
                        assert!(text.contains("payload segment 2"), "{o:?}: {text}");
                    }
                    assert!(out.is_empty(), "nothing appended on error");
                    failed += 1;
                }
            }
        }
        assert!(
            ok > 0 && failed > 0,
            "{o:?}: {ok} reads ok, {failed} failed"
        );
        assert!(dec.decode(&f, Some(keys), &mut Vec::new()).is_err());
    }
}

#[test]
fn version_1_frames_still_read() {
    let (_dir, keys) = key_file();
    let keys: &dyn KeyProvider = &keys;
    let max = 16384;
    for o in codecs() {
        // Compressed chunks were one stream in version 1 (tests/legacy.rs builds those).
        if gcm(&o) || o.class.compressor().is_some() {
            continue;
        }
        let key = o.key_spec().map(|s| keys.current_key(&s).unwrap());
        let dec = ChunkDecoder::new(max);
        let (plain, frame) = encoded(&o, key.as_ref(), 9000, 7);
        let v1 = to_v1(&frame, max);
        let h = parse_header(&v1, max).unwrap();
        assert_eq!((h.version, h.segments, h.frame_len()), (1, None, v1.len()));
        let mut out = Vec::new();
        assert_eq!(dec.decode(&v1, Some(keys), &mut out).unwrap(), v1.len());
        assert_eq!(out, plain, "{o:?}");
        let mut c = dec.check_frame(&v1, Some(keys)).unwrap();
        assert_eq!(c.segment_len(), None);
        let mut out = Vec::new();
        c.read(&v1, 100..5000, &mut out).unwrap();
        assert_eq!(out, plain[100..5000]);
        let mut bad = v1.clone();
        bad[h.payload_offset + h.payload_len / 2] ^= 1;
        assert!(
            dec.check_frame(&bad, Some(keys)).is_err(),
            "whole-frame CRC"
        );
        assert!(dec.decode(&bad, Some(keys), &mut Vec::new()).is_err());
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

#[test]
fn gcm_segments_are_bound_to_their_frame_and_place() {
    // Version 3 seals each 4 KiB segment as a GCM message of its own under the frame's own
    // key (derived from the key and the frame's random IV), its nonce the segment's index, its
    // AAD the frame's header (with its lengths): sealed segments swapped within a frame,
    // moved from another frame under the same key, or cut off the end (lengths rewritten to
    // match), checksums recomputed each time, fail on the tag; the untouched segments still
    // read.
    let (_dir, keys) = key_file();
    let keys: &dyn KeyProvider = &keys;
    let max = 16384;
    let o = options("Encryptor", Some(("AES/GCM/NoPadding", 128)), 16);
    let key = keys.current_key(&o.key_spec().unwrap()).unwrap();
    let dec = ChunkDecoder::new(max);
    let (plain, a) = encoded(&o, Some(&key), 14000, 21);
    let (_, b) = encoded(&o, Some(&key), 14000, 22);
    let h = parse_header(&a, max).unwrap();
    let p = h.payload_offset;
    let sealed = |j: usize| p + j * 4112..p + (j + 1) * 4112;
    let tag_fails = |f: &[u8], bad: &[usize]| {
        let e = dec.decode(f, Some(keys), &mut Vec::new()).unwrap_err();
        assert!(
            matches!(
                e,
                crypta_compression::CompressionError::AuthenticationFailed { .. }
            ),
            "{e}"
        );
        let mut c = dec.check_frame(f, Some(keys)).unwrap();
        for j in 0..4 {
            let range = j * 4096..((j + 1) * 4096).min(14000);
            let mut out = Vec::new();
            let read = c.read(f, range.clone(), &mut out);
            assert_eq!(read.is_err(), bad.contains(&j), "segment {j}: {read:?}");
            if read.is_ok() {
                assert_eq!(out, plain[range]);
            }
        }
    };
    // Swapped within the frame.
    let mut f = a.clone();
    let (s0, s1) = (a[sealed(0)].to_vec(), a[sealed(1)].to_vec());
    f[sealed(0)].copy_from_slice(&s1);
    f[sealed(1)].copy_from_slice(&s0);
    reseal(&mut f, max);
    tag_fails(&f, &[0, 1]);
    // Moved from another frame, at the same place.
    let mut f = a.clone();
    f[sealed(1)].copy_from_slice(&b[sealed(1)]);
    reseal(&mut f, max);
    tag_fails(&f, &[1]);
    // The last segment cut off, the header's lengths rewritten to match: three sealed
    // segments, so three checksums where there were four.
    assert_eq!(h.segment_count(), 4);
    let mut g = a[..h.aad_len].to_vec();
    g[4..8].copy_from_slice(&(3 * 4096u32).to_le_bytes());
    g[8..12].copy_from_slice(&(3 * 4112u32).to_le_bytes());
    g.extend_from_slice(&[0; 3 * 4 + 4]);
    g.extend_from_slice(&a[p..sealed(2).end]);
    reseal(&mut g, max);
    assert_eq!(parse_header(&g, max).unwrap().segment_count(), 3);
    let e = dec.decode(&g, Some(keys), &mut Vec::new()).unwrap_err();
    assert!(
        matches!(
            e,
            crypta_compression::CompressionError::AuthenticationFailed { .. }
        ),
        "{e}"
    );
    let mut c = dec.check_frame(&g, Some(keys)).unwrap();
    for j in 0..3 {
        assert!(
            c.read(&g, j * 4096..j * 4096 + 10, &mut Vec::new())
                .is_err()
        );
    }
}
