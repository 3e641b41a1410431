//! Writes the seed corpus of the `chunk_decode` target and the key file it decodes with:
//! `cargo run --example chunk_decode_seeds` (from `fuzz/`). A frame of about 10 KiB of text
//! (16 KiB chunks) per codec class and cipher (and CBC in the logs' interleaved chains), and
//! one stream of two frames, named `v<frame version>-NN-...`; the seeds
//! of earlier frame versions stay (the decoder still reads them), so the key file is reused
//! when it exists.

use std::collections::BTreeMap;
use std::path::Path;

use std::os::unix::fs::PermissionsExt;

use crypta_compression::{ChunkEncoder, CompressionOptions, FRAME_VERSION};
use crypta_keys::{KeyProvider, LocalKeyProvider};

fn options(class: &str, cipher: Option<(&str, u32)>) -> CompressionOptions {
    let mut m = BTreeMap::new();
    m.insert("class".to_string(), class.to_string());
    m.insert("chunk_length_kb".to_string(), "16".to_string());
    if let Some((t, bits)) = cipher {
        m.insert("cipher_algorithm".to_string(), t.to_string());
        m.insert("secret_key_strength".to_string(), bits.to_string());
    }
    CompressionOptions::parse(&m).expect("options")
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let seeds = root.join("seeds/chunk_decode");
    std::fs::create_dir_all(&seeds)?;
    let tmp = std::env::temp_dir().join(format!("crypta-seeds-{}", std::process::id()));
    std::fs::create_dir_all(&tmp)?;
    let fixture = root.join("fixtures/chunk_decode.keys");
    if fixture.exists() {
        std::fs::copy(&fixture, tmp.join("keys"))?;
        std::fs::set_permissions(tmp.join("keys"), std::fs::Permissions::from_mode(0o600))?;
    }
    let keys = LocalKeyProvider::open(tmp.join("keys"))?;
    // About 10 KiB: three segments of 4 KiB, each compressed on its own by the compressing
    // classes.
    let text: Vec<u8> = (0..300)
        .flat_map(|i| format!("row-{i:04} value=alpha beta {};", i % 7).into_bytes())
        .collect();
    let mut n = 0;
    let mut write = |name: &str, bytes: &[u8]| -> std::io::Result<()> {
        n += 1;
        std::fs::write(seeds.join(format!("v{FRAME_VERSION}-{n:02}-{name}")), bytes)
    };
    let ciphers = [
        ("AES/CBC/PKCS5Padding", 128),
        ("AES/ECB/PKCS5Padding", 256),
        ("AES/GCM/NoPadding", 128),
        ("AES/GCM/NoPadding", 192),
        ("DES/CBC/PKCS5Padding", 56),
        ("DESede/ECB/PKCS5Padding", 168),
        ("Blowfish/CBC/PKCS5Padding", 128),
        ("RC2/ECB/PKCS5Padding", 40),
    ];
    for class in [
        "Encryptor",
        "EncryptingDeflateCompressor",
        "EncryptingLZ4Compressor",
    ] {
        for (t, bits) in ciphers {
            let o = options(class, Some((t, bits)));
            let key = keys.current_key(&o.key_spec().expect("spec"))?;
            let mut frame = Vec::new();
            ChunkEncoder::new(&o).encode(&text, Some(&key), &mut frame)?;
            let name = format!("{class}-{}-{bits}", t.replace('/', "-"));
            write(&name, &frame)?;
        }
    }
    for class in ["DeflateCompressor", "LZ4Compressor"] {
        let mut frame = Vec::new();
        ChunkEncoder::new(&options(class, None)).encode(&text, None, &mut frame)?;
        write(class, &frame)?;
    }
    let mut stream = Vec::new();
    let plain = ChunkEncoder::new(&CompressionOptions::default());
    plain.encode(b"plain chunk", None, &mut stream)?;
    write("disabled", &stream)?;
    let o = options("Encryptor", Some(("AES/CBC/PKCS5Padding", 128)));
    let key = keys.current_key(&o.key_spec().expect("spec"))?;
    ChunkEncoder::new(&o).encode(&text[..100], Some(&key), &mut stream)?;
    write("stream-of-two", &stream)?;
    // CBC as the commit log and hints write it: interleaved chains (mode code 4).
    for class in ["Encryptor", "EncryptingDeflateCompressor"] {
        for (t, bits) in [("AES/CBC/PKCS5Padding", 128), ("DES/CBC/PKCS5Padding", 56)] {
            let o = options(class, Some((t, bits)));
            let key = keys.current_key(&o.key_spec().expect("spec"))?;
            let mut frame = Vec::new();
            ChunkEncoder::new(&o)
                .for_whole_reads()
                .encode(&text, Some(&key), &mut frame)?;
            let name = format!("{class}-{}-{bits}-interleaved", t.replace('/', "-"));
            write(&name, &frame)?;
        }
    }
    std::fs::copy(tmp.join("keys"), root.join("fixtures/chunk_decode.keys"))?;
    std::fs::remove_dir_all(&tmp)?;
    println!("{n} seeds in {}", seeds.display());
    Ok(())
}
