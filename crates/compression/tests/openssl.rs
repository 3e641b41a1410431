#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on errors"
)]

//! Cross-checks against the `openssl` command line (OpenSSL 3, `openssl enc`): a chunk crypta
//! encrypts decrypts with `openssl enc -d` given the same key and IV, and what `openssl enc -e`
//! encrypts, framed by hand as `docs/format/chunk.md` says, decodes with crypta. The published
//! vectors of `tests/data/` are re-checked against `openssl enc` too. These tests fail (never
//! skip) when `openssl` is missing.
//!
//! What `openssl enc` can take, and so what is covered here:
//! - AES-128/192/256 in ECB and CBC (`aes-N-ecb`, `aes-N-cbc`).
//! - DES in ECB and CBC (`des-ecb`, `des-cbc`, legacy provider).
//! - DESede 112 and 168 in ECB and CBC (`des-ede3`, `des-ede3-cbc`: crypta's two-key keys are
//!   24 bytes with K3 = K1, as JCE makes them; the 16-byte K1 K2 form is also run through
//!   `des-ede` and `des-ede-cbc`).
//! - Blowfish 128 only (`bf-ecb`, `bf-cbc`, legacy provider): `openssl enc` fixes Blowfish keys
//!   at 16 bytes and zero-pads a shorter `-K`, which is another key. The other strengths are
//!   covered by Schneier's set-key vectors (4 to 24-byte keys) in `tests/data/blowfish.txt`.
//! - RC2 128 in ECB and CBC (`rc2-ecb`, `rc2-cbc`), RC2 64 and 40 in CBC only (`rc2-64-cbc`,
//!   `rc2-40-cbc`, legacy provider); `openssl enc` has no other RC2 key lengths and no ECB at
//!   64 or 40 bits. RFC 2268's vectors (`tests/data/rc2.txt`) cover the effective key bits.
//! - Not AES-GCM: `openssl enc` refuses AEAD ciphers. GCM is checked against the GCM spec's
//!   vectors in `tests/data/aes_gcm.txt` (verified with OpenSSL's EVP interface when they
//!   were typed in) and by the tag tests of `roundtrip.rs`.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;

use crypta_compression::{ChunkDecoder, ChunkEncoder, CompressionOptions, parse_header};
use crypta_keys::{Key, KeyProvider, LocalKeyProvider};

/// Runs `openssl enc` with `args`, feeding `input`; panics with openssl's stderr on failure.
fn openssl_enc(args: &[&str], input: &[u8]) -> Vec<u8> {
    let mut child = Command::new("openssl")
        .arg("enc")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the openssl command line is required by these tests (apt-get install openssl)");
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "openssl enc {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

const LEGACY: &[&str] = &["-provider", "legacy", "-provider", "default"];

/// One configuration `openssl enc` can check: crypta's transformation and strength, the
/// openssl cipher, and how much of crypta's key material openssl takes.
struct Case {
    transformation: &'static str,
    bits: u32,
    openssl: &'static str,
    key_bytes: Option<usize>,
    legacy: bool,
}

const fn case(transformation: &'static str, bits: u32, openssl: &'static str) -> Case {
    Case {
        transformation,
        bits,
        openssl,
        key_bytes: None,
        legacy: false,
    }
}

const fn legacy(transformation: &'static str, bits: u32, openssl: &'static str) -> Case {
    Case {
        transformation,
        bits,
        openssl,
        key_bytes: None,
        legacy: true,
    }
}

const CASES: &[Case] = &[
    case("AES/ECB/PKCS5Padding", 128, "aes-128-ecb"),
    case("AES/CBC/PKCS5Padding", 128, "aes-128-cbc"),
    case("AES/ECB/PKCS5Padding", 192, "aes-192-ecb"),
    case("AES/CBC/PKCS5Padding", 192, "aes-192-cbc"),
    case("AES/ECB/PKCS5Padding", 256, "aes-256-ecb"),
    case("AES/CBC/PKCS5Padding", 256, "aes-256-cbc"),
    legacy("DES/ECB/PKCS5Padding", 56, "des-ecb"),
    legacy("DES/CBC/PKCS5Padding", 56, "des-cbc"),
    case("DESede/ECB/PKCS5Padding", 168, "des-ede3"),
    case("DESede/CBC/PKCS5Padding", 168, "des-ede3-cbc"),
    case("DESede/ECB/PKCS5Padding", 112, "des-ede3"),
    case("DESede/CBC/PKCS5Padding", 112, "des-ede3-cbc"),
    Case {
        key_bytes: Some(16),
        ..case("DESede/ECB/PKCS5Padding", 112, "des-ede")
    },
    Case {
        key_bytes: Some(16),
        ..case("DESede/CBC/PKCS5Padding", 112, "des-ede-cbc")
    },
    legacy("Blowfish/ECB/PKCS5Padding", 128, "bf-ecb"),
    legacy("Blowfish/CBC/PKCS5Padding", 128, "bf-cbc"),
    legacy("RC2/ECB/PKCS5Padding", 128, "rc2-ecb"),
    legacy("RC2/CBC/PKCS5Padding", 128, "rc2-cbc"),
    legacy("RC2/CBC/PKCS5Padding", 64, "rc2-64-cbc"),
    legacy("RC2/CBC/PKCS5Padding", 40, "rc2-40-cbc"),
];

fn options(transformation: &str, bits: u32) -> CompressionOptions {
    let mut m = BTreeMap::new();
    m.insert("class".to_string(), "Encryptor".to_string());
    m.insert("chunk_length_kb".to_string(), "4".to_string());
    m.insert("cipher_algorithm".to_string(), transformation.to_string());
    m.insert("secret_key_strength".to_string(), bits.to_string());
    CompressionOptions::parse(&m).unwrap()
}

fn sample(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 8) as u8)
        .collect()
}

/// `openssl enc` arguments for `c` with `key`, and `iv` (empty for ECB).
fn args(c: &Case, key: &Key, iv: &[u8], decrypt: bool) -> Vec<String> {
    let m = key.material().expose();
    let m = &m[..c.key_bytes.unwrap_or(m.len())];
    let mut a = vec![
        if decrypt { "-d" } else { "-e" }.to_string(),
        format!("-{}", c.openssl),
        "-K".to_string(),
        hex::encode(m),
    ];
    if !iv.is_empty() {
        a.extend(["-iv".to_string(), hex::encode(iv)]);
    }
    if c.legacy {
        a.extend(LEGACY.iter().map(|s| s.to_string()));
    }
    a
}

const LENS: [usize; 4] = [0, 1, 1001, 4096];

#[test]
fn crypta_chunks_decrypt_with_openssl_enc() {
    let dir = tempfile::tempdir().unwrap();
    let keys = LocalKeyProvider::open(dir.path().join("keys")).unwrap();
    for c in CASES {
        let o = options(c.transformation, c.bits);
        let key = keys.current_key(&o.key_spec().unwrap()).unwrap();
        let enc = ChunkEncoder::new(&o);
        for (i, len) in LENS.into_iter().enumerate() {
            let plain = sample(len, i as u8);
            let mut frame = Vec::new();
            enc.encode(&plain, Some(&key), &mut frame).unwrap();
            // Take the frame apart as docs/format/chunk.md says: IV and payload.
            let h = parse_header(&frame, 4096).unwrap();
            assert_eq!(h.plaintext_len, len);
            let iv = &frame[h.iv_offset..h.iv_offset + h.iv_len];
            let payload = &frame[h.payload_offset..h.payload_offset + h.payload_len];
            let a = args(c, &key, iv, true);
            let a: Vec<&str> = a.iter().map(String::as_str).collect();
            let got = openssl_enc(&a, payload);
            assert_eq!(
                got, plain,
                "{} {} bits, {len} bytes: openssl enc -d -{} disagrees",
                c.transformation, c.bits, c.openssl
            );
        }
    }
}

/// A frame built by hand from `docs/format/chunk.md`: Encryptor (no compressor), the
/// algorithm and mode codes, the lengths, key id, IV, payload and CRC32.
fn frame_by_hand(
    transformation: &str,
    key: &Key,
    iv: &[u8],
    plain_len: usize,
    payload: &[u8],
) -> Vec<u8> {
    let (alg, mode) = transformation.split_once('/').unwrap();
    let alg_code = match alg {
        "AES" => 1,
        "DES" => 2,
        "DESede" => 3,
        "Blowfish" => 4,
        "RC2" => 5,
        _ => unreachable!(),
    };
    let mode_code = if mode.starts_with("ECB") { 1 } else { 2 };
    let mut f = vec![1u8, 0, alg_code, mode_code];
    f.extend_from_slice(&(plain_len as u32).to_le_bytes());
    f.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    let id = key.id().as_str().as_bytes();
    f.push(id.len() as u8);
    f.extend_from_slice(id);
    f.push(iv.len() as u8);
    f.extend_from_slice(iv);
    f.extend_from_slice(payload);
    let crc = crc32fast::hash(&f);
    f.extend_from_slice(&crc.to_le_bytes());
    f
}

#[test]
fn openssl_enc_output_decodes_with_crypta() {
    let dir = tempfile::tempdir().unwrap();
    let keys = LocalKeyProvider::open(dir.path().join("keys")).unwrap();
    let dec = ChunkDecoder::new(4096);
    for c in CASES {
        let o = options(c.transformation, c.bits);
        let key: Arc<Key> = keys.current_key(&o.key_spec().unwrap()).unwrap();
        let t = o.encryption.as_ref().unwrap().transformation;
        for (i, len) in LENS.into_iter().enumerate() {
            let plain = sample(len, 100 + i as u8);
            let iv = sample(t.iv_len(), 200 + i as u8);
            let a = args(c, &key, &iv, false);
            let a: Vec<&str> = a.iter().map(String::as_str).collect();
            let payload = openssl_enc(&a, &plain);
            let frame = frame_by_hand(c.transformation, &key, &iv, len, &payload);
            let mut out = Vec::new();
            let used = dec
                .decode(&frame, Some(&keys as &dyn KeyProvider), &mut out)
                .unwrap_or_else(|e| {
                    panic!("{} {} bits, {len} bytes: {e}", c.transformation, c.bits)
                });
            assert_eq!(used, frame.len());
            assert_eq!(
                out, plain,
                "{} {} bits, {len} bytes",
                c.transformation, c.bits
            );
        }
    }
}

/// The `openssl enc` cipher for a published vector, if `openssl enc` takes its key as is.
fn vector_cipher(r: &BTreeMap<String, String>) -> Option<(String, bool)> {
    let (alg, mode) = (r["algorithm"].as_str(), r["mode"].to_lowercase());
    let key_len = r["key"].len() / 2;
    let eff = r
        .get("effective_bits")
        .map_or(key_len * 8, |e| e.parse().unwrap());
    Some(match (alg, key_len) {
        ("AES", n) => (format!("aes-{}-{mode}", n * 8), false),
        ("DES", 8) => (format!("des-{mode}"), true),
        ("DESede", 24) => (
            format!("des-ede3{}", if mode == "cbc" { "-cbc" } else { "" }),
            false,
        ),
        ("DESede", 16) => (
            format!("des-ede{}", if mode == "cbc" { "-cbc" } else { "" }),
            false,
        ),
        ("Blowfish", 16) => (format!("bf-{mode}"), true),
        ("RC2", 16) if eff == 128 => (format!("rc2-{mode}"), true),
        _ => return None,
    })
}

#[test]
fn published_vectors_agree_with_openssl_enc() {
    let mut checked = 0;
    for file in [
        "aes.txt",
        "des.txt",
        "desede.txt",
        "blowfish.txt",
        "rc2.txt",
    ] {
        let path = format!("{}/tests/data/{file}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap();
        for block in text.split("\n\n") {
            let r: BTreeMap<String, String> = block
                .lines()
                .filter(|l| !l.trim_start().starts_with('#'))
                .filter_map(|l| l.split_once('='))
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .collect();
            if r.is_empty() {
                continue;
            }
            let Some((cipher, legacy)) = vector_cipher(&r) else {
                continue;
            };
            let mut a = vec!["-e", "-nopad", "-K", &r["key"]];
            let cipher = format!("-{cipher}");
            a.push(&cipher);
            if let Some(iv) = r.get("iv").filter(|iv| !iv.is_empty()) {
                a.extend(["-iv", iv]);
            }
            if legacy {
                a.extend(LEGACY);
            }
            let got = openssl_enc(&a, &hex::decode(&r["plaintext"]).unwrap());
            assert_eq!(hex::encode(got), r["ciphertext"], "{file}: {}", r["name"]);
            checked += 1;
        }
    }
    // Every AES, DES and DESede vector, Blowfish's 16-byte-key ones and RFC 2268's 128-bit one.
    assert_eq!(checked, 9 + 25 + 17 + 2 + 1);
}

/// The `openssl enc` ECB cipher with the key of a CBC case, if openssl has one (it has no
/// ECB for RC2 at 64 or 40 bits).
fn ecb_twin(c: &Case) -> Option<String> {
    let name = match c.openssl {
        "des-ede3-cbc" => "des-ede3".to_string(),
        "des-ede-cbc" => "des-ede".to_string(),
        "rc2-64-cbc" | "rc2-40-cbc" => return None,
        n => n.strip_suffix("-cbc")?.to_string() + "-ecb",
    };
    Some(name)
}

/// The commit log's and hints' CBC (interleaved chains, frame mode code 4, 64 KiB segments)
/// rebuilt with `openssl enc` from `docs/format/chunk.md` alone: every block decrypted in ECB,
/// XORed with the ciphertext block 64 before it in its segment, or for the first 64 blocks of
/// a segment with their chain's IV, `E(N XOR be32(segment * 64 + chain))` (also computed by
/// `openssl enc`, in ECB); then the PKCS#5 padding. Lengths from one block to two segments
/// and a third, for every CBC cipher and strength that `openssl enc` has in ECB too.
#[test]
fn interleaved_cbc_chunks_decrypt_with_openssl_enc() {
    let dir = tempfile::tempdir().unwrap();
    let keys = LocalKeyProvider::open(dir.path().join("keys")).unwrap();
    let mut checked = 0;
    for c in CASES.iter().filter(|c| c.transformation.contains("/CBC/")) {
        let Some(ecb) = ecb_twin(c) else { continue };
        let ecb_case = Case {
            openssl: Box::leak(ecb.into_boxed_str()),
            ..*c
        };
        let mut m = BTreeMap::new();
        m.insert("class".to_string(), "Encryptor".to_string());
        m.insert("chunk_length_kb".to_string(), "256".to_string());
        m.insert("cipher_algorithm".to_string(), c.transformation.to_string());
        m.insert("secret_key_strength".to_string(), c.bits.to_string());
        let o = CompressionOptions::parse(&m).unwrap();
        let key = keys.current_key(&o.key_spec().unwrap()).unwrap();
        let enc = ChunkEncoder::new(&o).for_whole_reads();
        for (i, len) in [0usize, 15, 1001, 65_535, 65_536, 150_000]
            .into_iter()
            .enumerate()
        {
            let plain = sample(len, 50 + i as u8);
            let mut frame = Vec::new();
            enc.encode(&plain, Some(&key), &mut frame).unwrap();
            assert_eq!(frame[3], 4, "mode code of interleaved CBC");
            let h = parse_header(&frame, 256 << 10).unwrap();
            let shift = h.segments.unwrap().shift;
            assert_eq!(shift, 16, "the logs' 64 KiB segments");
            let nonce = frame[h.iv_offset..h.iv_offset + h.iv_len].to_vec();
            let payload = &frame[h.payload_offset..h.payload_offset + h.payload_len];
            let bs = nonce.len();
            let per_segment = (1 << shift) / bs;
            let blocks: Vec<&[u8]> = payload.chunks(bs).collect();
            // The chain IVs: the nonce XOR each index, encrypted in ECB.
            let mut indexed = Vec::new();
            for (b, _) in blocks.iter().enumerate() {
                let (s, k) = (b / per_segment, b % per_segment);
                if k < 64 {
                    let mut x = nonce.clone();
                    let index = ((s * 64 + k) as u32).to_be_bytes();
                    for (a, y) in x[bs - 4..].iter_mut().zip(index) {
                        *a ^= y;
                    }
                    indexed.extend(x);
                }
            }
            let mut a = args(&ecb_case, &key, &[], false);
            a.push("-nopad".to_string());
            let a: Vec<&str> = a.iter().map(String::as_str).collect();
            let ivs = openssl_enc(&a, &indexed);
            let mut a = args(&ecb_case, &key, &[], true);
            a.push("-nopad".to_string());
            let a: Vec<&str> = a.iter().map(String::as_str).collect();
            let raw = openssl_enc(&a, payload);
            let mut got = Vec::new();
            let mut next_iv = ivs.chunks(bs);
            for (b, d) in raw.chunks(bs).enumerate() {
                let k = b % per_segment;
                let before: &[u8] = if k < 64 {
                    next_iv.next().unwrap()
                } else {
                    blocks[b - 64]
                };
                got.extend(d.iter().zip(before).map(|(x, y)| x ^ y));
            }
            let pad = *got.last().unwrap() as usize;
            assert!((1..=bs).contains(&pad), "{} {len}: padding", c.openssl);
            assert!(got[got.len() - pad..].iter().all(|&p| p as usize == pad));
            got.truncate(got.len() - pad);
            assert_eq!(
                got, plain,
                "{} {} bits, {len} bytes: interleaved CBC rebuilt with openssl enc -{} disagrees",
                c.transformation, c.bits, ecb_case.openssl
            );
            checked += 1;
        }
    }
    // AES 128/192/256, DES, DESede (three keyings), Blowfish and RC2 128: 9 ciphers.
    assert_eq!(checked, 9 * 6);
}
