//! `crypta demo`: the embedded default end to end, before the engine exists.

use std::collections::BTreeMap;
use std::error::Error;
use std::fs;
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use crypta_compression::{ChunkDecoder, ChunkEncoder, CompressionOptions};
use crypta_keys::{KeyProvider, LocalKeyProvider};

const MARKER: &str = "CRYPTA-DEMO-PLAINTEXT-MARKER";

pub fn run(dir: Option<PathBuf>, mb: usize) -> Result<(), Box<dyn Error>> {
    let tmp;
    let dir = match dir {
        Some(d) => {
            fs::create_dir_all(&d)?;
            d
        }
        None => {
            tmp = tempfile::tempdir()?;
            tmp.path().to_path_buf()
        }
    };
    let keys = LocalKeyProvider::open(dir.join("keys/local_keys"))?;
    let mut map = BTreeMap::new();
    for (k, v) in [
        ("class", "EncryptingDeflateCompressor"),
        ("cipher_algorithm", "AES/CBC/PKCS5Padding"),
        ("secret_key_strength", "128"),
        ("chunk_length_kb", "64"),
    ] {
        map.insert(k.to_string(), v.to_string());
    }
    let options = CompressionOptions::parse(&map)?;
    let key = keys.current_key(&options.key_spec().ok_or("options do not encrypt")?)?;
    println!("table options  {options}");
    println!(
        "key            {} ({} {}-bit) from {}",
        key.id(),
        key.info.algorithm,
        key.info.strength,
        keys.describe()
    );

    // Sample rows, each carrying a marker that must not appear on disk.
    let target = mb.max(1) * 1024 * 1024;
    let mut plain = Vec::with_capacity(target + 128);
    let mut row = 0u64;
    while plain.len() < target {
        writeln!(
            plain,
            "{row:012}\t{MARKER} customer-{} balance={}",
            row % 9973,
            row * 37 % 100_000
        )?;
        row += 1;
    }

    let encoder = ChunkEncoder::new(&options);
    let path = dir.join("demo.chunks");
    let started = Instant::now();
    let mut frames = Vec::with_capacity(plain.len() / 2);
    for chunk in plain.chunks(encoder.chunk_length()) {
        encoder.encode(chunk, Some(&key), &mut frames)?;
    }
    fs::write(&path, &frames)?;
    let wrote = started.elapsed();

    let started = Instant::now();
    let bytes = fs::read(&path)?;
    let decoder = ChunkDecoder::new(encoder.chunk_length());
    let mut back = Vec::with_capacity(plain.len());
    let mut pos = 0;
    let mut chunks = 0usize;
    while pos < bytes.len() {
        let rest = bytes.get(pos..).ok_or("frame offset past end")?;
        pos += decoder.decode(rest, Some(&keys), &mut back)?;
        chunks += 1;
    }
    let read = started.elapsed();
    if back != plain {
        return Err("data read back differs from data written".into());
    }
    let leaked = bytes.windows(MARKER.len()).any(|w| w == MARKER.as_bytes());
    let mib = plain.len() as f64 / (1024.0 * 1024.0);
    println!(
        "rows           {row} ({mib:.1} MiB) in {chunks} chunks, {} bytes on disk",
        bytes.len()
    );
    println!(
        "write          {:.0} MiB/s (deflate + AES-CBC + CRC32)",
        mib / wrote.as_secs_f64()
    );
    println!(
        "read           {:.0} MiB/s (CRC32 + AES-CBC + inflate), all rows identical",
        mib / read.as_secs_f64()
    );
    if leaked {
        return Err(format!("plaintext marker found in {}", path.display()).into());
    }
    println!(
        "disk           marker {MARKER:?} not found in {}",
        path.display()
    );
    Ok(())
}
