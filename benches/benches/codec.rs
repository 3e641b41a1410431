#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "benches fail loudly on errors"
)]

//! Chunk codecs over 64 KiB chunks: the cipher alone (`hazmat::ChunkCipher`, every AES mode at
//! 128 and 256 bits, DES, DESede, Blowfish and RC2 CBC for reference) beside `openssl speed
//! -evp` for the same AES mode in the same run; every codec class through `ChunkEncoder` and
//! `ChunkDecoder` (framing, CRC32, compression, key lookup included), and the CBC and GCM
//! ciphers also as the commit log and hints encode (`ChunkEncoder::for_whole_reads`: 64 KiB
//! segments, CBC in interleaved chains); and the deflate backends.
//!
//! `cargo bench -p crypta-benches --bench codec` prints criterion's output, then the summary
//! tables `docs/performance.md` quotes. Times are CPU time of the measuring thread (see
//! `crypta_benches`), as `openssl speed` measures by default.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, Throughput};
use crypta_benches::{Figures, cpu_time_of, openssl_speed, paired_speed_ratio, table_rows};
use crypta_compression::hazmat::ChunkCipher;
use crypta_compression::{ChunkDecoder, ChunkEncoder, CompressionOptions, Transformation};
use crypta_keys::{Key, KeyProvider, LocalKeyProvider};

const CHUNK: usize = 64 * 1024;
const OPENSSL_SECONDS: u32 = 3;

/// (label, transformation, strength, whether `openssl speed` is the peer). AES labels are
/// openssl's cipher names.
const CIPHERS: &[(&str, &str, u32, bool)] = &[
    ("aes-128-ecb", "AES/ECB/PKCS5Padding", 128, true),
    ("aes-128-cbc", "AES/CBC/PKCS5Padding", 128, true),
    ("aes-128-gcm", "AES/GCM/NoPadding", 128, true),
    ("aes-256-ecb", "AES/ECB/PKCS5Padding", 256, true),
    ("aes-256-cbc", "AES/CBC/PKCS5Padding", 256, true),
    ("aes-256-gcm", "AES/GCM/NoPadding", 256, true),
    ("des-cbc", "DES/CBC/PKCS5Padding", 56, false),
    ("des-ede3-cbc", "DESede/CBC/PKCS5Padding", 168, false),
    ("bf-cbc", "Blowfish/CBC/PKCS5Padding", 128, false),
    ("rc2-cbc", "RC2/CBC/PKCS5Padding", 128, false),
];

/// (label, class, cipher and strength).
type Codec = (String, &'static str, Option<(&'static str, u32)>);

/// The codec classes, and Encryptor with every cipher above.
fn codecs() -> Vec<Codec> {
    let mut v = vec![
        ("none".to_string(), "", None),
        ("DeflateCompressor".to_string(), "DeflateCompressor", None),
        ("LZ4Compressor".to_string(), "LZ4Compressor", None),
    ];
    for class in ["EncryptingDeflateCompressor", "EncryptingLZ4Compressor"] {
        v.push((
            format!("{class}/aes-128-cbc"),
            class,
            Some(("AES/CBC/PKCS5Padding", 128)),
        ));
    }
    for &(label, t, bits, _) in CIPHERS {
        v.push((format!("Encryptor/{label}"), "Encryptor", Some((t, bits))));
    }
    // As the commit log and hints encode: 64 KiB segments, CBC in interleaved chains.
    for &(label, t, bits, _) in CIPHERS.iter().filter(|c| !c.1.contains("/ECB/")) {
        v.push((
            format!("Encryptor/{label}{LOGS}"),
            "Encryptor",
            Some((t, bits)),
        ));
    }
    v
}

/// The label suffix of codecs encoded with `ChunkEncoder::for_whole_reads`.
const LOGS: &str = " (logs)";

fn options(class: &str, cipher: Option<(&str, u32)>) -> CompressionOptions {
    if class.is_empty() {
        return CompressionOptions::default();
    }
    let mut m = BTreeMap::new();
    m.insert("class".to_string(), class.to_string());
    m.insert("chunk_length_kb".to_string(), (CHUNK / 1024).to_string());
    if let Some((t, bits)) = cipher {
        m.insert("cipher_algorithm".to_string(), t.to_string());
        m.insert("secret_key_strength".to_string(), bits.to_string());
    }
    CompressionOptions::parse(&m).unwrap()
}

fn key(keys: &LocalKeyProvider, t: &str, bits: u32) -> Arc<Key> {
    let o = options("Encryptor", Some((t, bits)));
    keys.current_key(&o.key_spec().unwrap()).unwrap()
}

/// The AES peers measured with `openssl speed`: label -> (encrypt, decrypt) MB/s.
type Peers = BTreeMap<&'static str, (f64, f64)>;

/// `openssl speed` for `label`: (encrypt, decrypt) MB/s.
fn openssl_pair(label: &str) -> (f64, f64) {
    (
        openssl_speed(label, false, CHUNK, OPENSSL_SECONDS).unwrap(),
        openssl_speed(label, true, CHUNK, OPENSSL_SECONDS).unwrap(),
    )
}

/// Whether the command line's filter (criterion's first free argument), taken as a substring
/// or containing the label, selects the cipher benches of `label`; no filter selects all.
fn c_matches(label: &str) -> bool {
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    filter
        .is_none_or(|f| format!("cipher/{label}/encrypt").contains(f.as_str()) || f.contains(label))
}

fn bench_ciphers(c: &mut Criterion, f: &Figures, keys: &LocalKeyProvider, plain: &[u8]) -> Peers {
    let mut peers = Peers::new();
    for &(label, t, bits, peer) in CIPHERS {
        let transformation: Transformation = t.parse().unwrap();
        let cipher = ChunkCipher::new(transformation, &key(keys, t, bits)).unwrap();
        let iv = vec![0x5Au8; transformation.iv_len()];
        let mut ct = vec![0u8; cipher.ciphertext_len(plain.len())];
        cipher.encrypt(&iv, &[], plain, &mut ct).unwrap();
        let mut out = vec![0u8; ct.len()];
        // The peer before and after, averaged, so that both see the same machine.
        let before = (peer && c_matches(label)).then(|| openssl_pair(label));
        let mut g = c.benchmark_group("cipher");
        g.throughput(Throughput::Bytes(CHUNK as u64));
        let name = format!("cipher/{label}/encrypt");
        g.bench_function(format!("{label}/encrypt"), |b| {
            b.iter_custom(|iters| {
                let d = cpu_time_of(iters, || {
                    cipher
                        .encrypt(&iv, &[], black_box(plain), &mut out)
                        .unwrap();
                });
                f.record(&name, iters, d);
                d
            })
        });
        let name = format!("cipher/{label}/decrypt");
        g.bench_function(format!("{label}/decrypt"), |b| {
            b.iter_custom(|iters| {
                let d = cpu_time_of(iters, || {
                    cipher.decrypt(&iv, &[], black_box(&ct), &mut out).unwrap();
                });
                f.record(&name, iters, d);
                d
            })
        });
        g.finish();
        if let Some((e1, d1)) = before {
            let (e2, d2) = openssl_pair(label);
            peers.insert(label, ((e1 + e2) / 2.0, (d1 + d2) / 2.0));
        }
    }
    peers
}

/// EncryptingDeflateCompressor (AES-128-CBC) against DeflateCompressor, measured in
/// alternation: (encode, decode) speed ratios.
fn paired_deflate(keys: &LocalKeyProvider, plain: &[u8]) -> (f64, f64) {
    let plain_o = options("DeflateCompressor", None);
    let enc_o = options(
        "EncryptingDeflateCompressor",
        Some(("AES/CBC/PKCS5Padding", 128)),
    );
    let key = key(keys, "AES/CBC/PKCS5Padding", 128);
    let (pe, ee) = (ChunkEncoder::new(&plain_o), ChunkEncoder::new(&enc_o));
    let dec = ChunkDecoder::new(CHUNK);
    let (mut pf, mut ef) = (Vec::new(), Vec::new());
    pe.encode(plain, None, &mut pf).unwrap();
    ee.encode(plain, Some(&key), &mut ef).unwrap();
    let (mut o1, mut o2) = (Vec::new(), Vec::new());
    let encode = paired_speed_ratio(
        40,
        2,
        || {
            o1.clear();
            ee.encode(black_box(plain), Some(&key), &mut o1).unwrap();
        },
        || {
            o2.clear();
            pe.encode(black_box(plain), None, &mut o2).unwrap();
        },
    );
    let provider: &dyn KeyProvider = keys;
    let decode = paired_speed_ratio(
        200,
        4,
        || {
            o1.clear();
            dec.decode(black_box(&ef), Some(provider), &mut o1).unwrap();
        },
        || {
            o2.clear();
            dec.decode(black_box(&pf), None, &mut o2).unwrap();
        },
    );
    (encode, decode)
}

fn bench_codecs(c: &mut Criterion, f: &Figures, keys: &LocalKeyProvider, plain: &[u8]) {
    let mut g = c.benchmark_group("codec");
    g.throughput(Throughput::Bytes(CHUNK as u64));
    for (label, class, cipher) in codecs() {
        let o = options(class, cipher);
        let key = cipher.map(|(t, bits)| key(keys, t, bits));
        let enc = if label.ends_with(LOGS) {
            ChunkEncoder::new(&o).for_whole_reads()
        } else {
            ChunkEncoder::new(&o)
        };
        let dec = ChunkDecoder::new(CHUNK);
        let mut frame = Vec::new();
        enc.encode(plain, key.as_ref(), &mut frame).unwrap();
        let mut out = Vec::with_capacity(2 * CHUNK);
        let name = format!("codec/{label}/encode");
        g.bench_function(format!("{label}/encode"), |b| {
            b.iter_custom(|iters| {
                let d = cpu_time_of(iters, || {
                    out.clear();
                    enc.encode(black_box(plain), key.as_ref(), &mut out)
                        .unwrap();
                });
                f.record(&name, iters, d);
                d
            })
        });
        let name = format!("codec/{label}/decode");
        let provider: &dyn KeyProvider = keys;
        g.bench_function(format!("{label}/decode"), |b| {
            b.iter_custom(|iters| {
                let d = cpu_time_of(iters, || {
                    out.clear();
                    dec.decode(black_box(&frame), Some(provider), &mut out)
                        .unwrap();
                });
                f.record(&name, iters, d);
                d
            })
        });
    }
    g.finish();
}

/// flate2 with zlib-rs (crypta's backend) against miniz_oxide, raw deflate at level 6.
fn bench_deflate_backends(c: &mut Criterion, f: &Figures, plain: &[u8]) {
    use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};
    let level = crypta_compression::DEFLATE_LEVEL;
    let mut g = c.benchmark_group("deflate");
    g.throughput(Throughput::Bytes(CHUNK as u64));
    let mut z = Compress::new(Compression::new(level), false);
    let mut out = Vec::with_capacity(2 * CHUNK);
    let name = "deflate/zlib-rs/compress";
    g.bench_function("zlib-rs/compress", |b| {
        b.iter_custom(|iters| {
            let d = cpu_time_of(iters, || {
                z.reset();
                out.clear();
                z.compress_vec(black_box(plain), &mut out, FlushCompress::Finish)
                    .unwrap();
            });
            f.record(name, iters, d);
            d
        })
    });
    let compressed = out.clone();
    let mut inflater = Decompress::new(false);
    let name = "deflate/zlib-rs/decompress";
    g.bench_function("zlib-rs/decompress", |b| {
        b.iter_custom(|iters| {
            let d = cpu_time_of(iters, || {
                inflater.reset(false);
                out.clear();
                inflater
                    .decompress_vec(black_box(&compressed), &mut out, FlushDecompress::Finish)
                    .unwrap();
            });
            f.record(name, iters, d);
            d
        })
    });
    let mut mz = miniz_oxide::deflate::core::CompressorOxide::new(
        miniz_oxide::deflate::core::create_comp_flags_from_zip_params(level as i32, 0, 0),
    );
    let mut buf = vec![0u8; 2 * CHUNK];
    let name = "deflate/miniz_oxide/compress";
    g.bench_function("miniz_oxide/compress", |b| {
        b.iter_custom(|iters| {
            let d = cpu_time_of(iters, || {
                mz.reset();
                let (status, _, n) = miniz_oxide::deflate::core::compress(
                    &mut mz,
                    black_box(plain),
                    &mut buf,
                    miniz_oxide::deflate::core::TDEFLFlush::Finish,
                );
                assert_eq!(status, miniz_oxide::deflate::core::TDEFLStatus::Done);
                black_box(n);
            });
            f.record(name, iters, d);
            d
        })
    });
    let mut inflate_state =
        miniz_oxide::inflate::stream::InflateState::new(miniz_oxide::DataFormat::Raw);
    let name = "deflate/miniz_oxide/decompress";
    g.bench_function("miniz_oxide/decompress", |b| {
        b.iter_custom(|iters| {
            let d = cpu_time_of(iters, || {
                inflate_state.reset(miniz_oxide::DataFormat::Raw);
                let r = miniz_oxide::inflate::stream::inflate(
                    &mut inflate_state,
                    black_box(&compressed),
                    &mut buf,
                    miniz_oxide::MZFlush::Finish,
                );
                assert_eq!(r.bytes_written, CHUNK);
            });
            f.record(name, iters, d);
            d
        })
    });
    g.finish();
}

fn fmt(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_string(), |v| format!("{v:.0}"))
}

fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}", a / b),
        _ => "-".to_string(),
    }
}

fn print_summary(f: &Figures, peers: &Peers, paired: (f64, f64)) {
    let mb = |name: &str| f.mb_per_s(name, CHUNK);
    println!();
    println!("== Chunk codecs: 64 KiB chunks, MB/s (10^6 bytes/s) of one core's CPU time ==");
    println!();
    println!("Cipher alone (hazmat::ChunkCipher) and openssl speed -evp, same run:");
    println!(
        "| {:<13} | {:>10} | {:>11} | {:>5} | {:>10} | {:>11} | {:>5} |",
        "cipher", "crypta enc", "openssl enc", "ratio", "crypta dec", "openssl dec", "ratio"
    );
    println!(
        "|{:-<15}|{:->12}|{:->13}|{:->7}|{:->12}|{:->13}|{:->7}|",
        "", "", "", "", "", "", ""
    );
    for &(label, ..) in CIPHERS {
        let enc = mb(&format!("cipher/{label}/encrypt"));
        let dec = mb(&format!("cipher/{label}/decrypt"));
        let (penc, pdec) = peers
            .get(label)
            .map_or((None, None), |&(e, d)| (Some(e), Some(d)));
        println!(
            "| {label:<13} | {:>10} | {:>11} | {:>5} | {:>10} | {:>11} | {:>5} |",
            fmt(enc),
            fmt(penc),
            ratio(enc, penc),
            fmt(dec),
            fmt(pdec),
            ratio(dec, pdec)
        );
    }
    println!();
    println!("Codecs (ChunkEncoder::encode / ChunkDecoder::decode: framing, CRC32, key lookup):");
    println!("| {:<40} | {:>8} | {:>8} |", "codec", "encode", "decode");
    println!("|{:-<42}|{:->10}|{:->10}|", "", "", "");
    for (label, ..) in codecs() {
        println!(
            "| {label:<40} | {:>8} | {:>8} |",
            fmt(mb(&format!("codec/{label}/encode"))),
            fmt(mb(&format!("codec/{label}/decode")))
        );
    }
    let d = "codec/DeflateCompressor";
    let e = "codec/EncryptingDeflateCompressor/aes-128-cbc";
    println!();
    println!(
        "EncryptingDeflateCompressor (AES-128-CBC) / DeflateCompressor: encode {}, decode {}",
        ratio(mb(&format!("{e}/encode")), mb(&format!("{d}/encode"))),
        ratio(mb(&format!("{e}/decode")), mb(&format!("{d}/decode")))
    );
    println!(
        "  measured in alternation (median of per-round ratios): encode {:.3}, decode {:.3}",
        paired.0, paired.1
    );
    println!();
    println!("Deflate level {}, raw:", crypta_compression::DEFLATE_LEVEL);
    println!("| {:<10} | {:>8} | {:>11} |", "", "zlib-rs", "miniz_oxide");
    println!("|{:-<12}|{:->10}|{:->13}|", "", "", "");
    for op in ["compress", "decompress"] {
        println!(
            "| {op:<10} | {:>8} | {:>11} |",
            fmt(mb(&format!("deflate/zlib-rs/{op}"))),
            fmt(mb(&format!("deflate/miniz_oxide/{op}")))
        );
    }
}

fn main() {
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20)
        .configure_from_args();
    let figures = Figures::default();
    let dir = tempfile::tempdir().unwrap();
    let keys = LocalKeyProvider::open(dir.path().join("keys")).unwrap();
    let plain = table_rows(CHUNK);
    let peers = bench_ciphers(&mut c, &figures, &keys, &plain);
    bench_codecs(&mut c, &figures, &keys, &plain);
    bench_deflate_backends(&mut c, &figures, &plain);
    c.final_summary();
    let paired = paired_deflate(&keys, &plain);
    print_summary(&figures, &peers, paired);
}
