//! `crypta demo`: the embedded default end to end. Creates an engine with a local key file
//! and `system_info_encryption` on, an encrypted table, loads rows carrying a marker, flushes,
//! reads every row back, and searches every byte under the directory for the marker.

use std::error::Error;
use std::io::Write;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crypta::{BatchOp, Config, Engine};

const MARKER: &str = "CRYPTA-DEMO-PLAINTEXT-MARKER";

/// Files under `dir` that contain `needle`.
pub fn files_containing(dir: &Path, needle: &[u8]) -> std::io::Result<Vec<PathBuf>> {
    let mut hits = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d)? {
            let e = e?;
            let p = e.path();
            if e.file_type()?.is_dir() {
                stack.push(p);
            } else if std::fs::read(&p)?
                .windows(needle.len())
                .any(|w| w == needle)
            {
                hits.push(p);
            }
        }
    }
    Ok(hits)
}

pub fn run(dir: Option<PathBuf>, rows: u64, out: &mut dyn Write) -> Result<(), Box<dyn Error>> {
    let tmp;
    let dir = match dir {
        Some(d) => {
            std::fs::create_dir_all(&d)
                .map_err(|e| format!("cannot create directory {}: {e}", d.display()))?;
            d
        }
        None => {
            tmp = tempfile::tempdir()?;
            tmp.path().to_path_buf()
        }
    };
    let yaml = Config::init_yaml(&dir).replace("    enabled: false", "    enabled: true");
    let config_path = dir.join("crypta.yaml");
    std::fs::write(&config_path, yaml)?;
    let engine = Engine::open(Config::load(&config_path)?)?;
    for stmt in [
        "CREATE KEYSPACE IF NOT EXISTS demo WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}",
        "CREATE TABLE IF NOT EXISTS demo.accounts (id text PRIMARY KEY, v text) WITH compression = \
         {'class': 'EncryptingDeflateCompressor', 'cipher_algorithm': 'AES/CBC/PKCS5Padding', 'secret_key_strength': 128}",
    ] {
        engine.execute_cql(stmt)?;
    }
    writeln!(
        out,
        "config         {} (local key file, system_info_encryption on)",
        config_path.display()
    )?;
    writeln!(
        out,
        "table          {}",
        engine
            .execute_cql("DESC TABLE demo.accounts")?
            .replace('\n', " ")
    )?;

    let started = Instant::now();
    let mut i = 0u64;
    while i < rows {
        let n = 500.min(rows - i);
        let ops: Vec<BatchOp> = (i..i + n)
            .map(|r| BatchOp::Put {
                table: "demo.accounts".into(),
                key: format!("customer-{r:010}").into_bytes(),
                value: format!(
                    "{MARKER} balance={} since=2026-{:02}-01",
                    r * 37 % 100_000,
                    r % 12 + 1
                )
                .into_bytes(),
            })
            .collect();
        engine.batch_unlogged(&ops)?;
        i += n;
    }
    engine.flush(&[])?;
    let wrote = started.elapsed().as_secs_f64();

    let started = Instant::now();
    let back = engine.scan("demo.accounts", Bound::Unbounded, Bound::Unbounded, None)?;
    let read = started.elapsed().as_secs_f64();
    if back.len() as u64 != rows {
        return Err(format!("wrote {rows} rows, read back {}", back.len()).into());
    }
    for (n, (k, v)) in back.iter().enumerate() {
        let want = format!("customer-{n:010}");
        if k != want.as_bytes() || !v.starts_with(MARKER.as_bytes()) {
            return Err(format!("row {n} read back wrong").into());
        }
    }
    let usage = engine.key_usage()?;
    engine.close()?;
    writeln!(
        out,
        "rows           {rows} written and flushed in {wrote:.2}s, all read back in {read:.2}s"
    )?;
    for (id, files) in &usage.by_key {
        writeln!(out, "key            {id} protects {} file(s)", files.len())?;
    }
    let hits = files_containing(&dir, MARKER.as_bytes())?;
    if !hits.is_empty() {
        return Err(format!("plaintext marker found in {hits:?}").into());
    }
    writeln!(
        out,
        "disk           marker {MARKER:?} found in no file under {}",
        dir.display()
    )?;
    Ok(())
}
