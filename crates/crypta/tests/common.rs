//! Helpers shared by the engine's scenario tests.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers"
)]

use std::path::{Path, PathBuf};

use crypta::{Config, Engine};

/// A config for `dir` with `system_info_encryption` on or off and `extra` YAML appended.
pub fn config(dir: &Path, system_encryption: bool, extra: &str) -> Config {
    let mut yaml = Config::init_yaml(dir);
    if system_encryption {
        yaml = yaml.replace("    enabled: false", "    enabled: true");
    }
    // Each line of `extra` replaces the line setting the same top-level key, if any.
    for line in extra.lines() {
        let key = line.split(':').next().unwrap_or_default();
        match yaml.lines().position(|l| l.starts_with(&format!("{key}:"))) {
            Some(i) => {
                let mut lines: Vec<String> = yaml.lines().map(String::from).collect();
                lines[i] = line.to_string();
                yaml = lines.join("\n") + "\n";
            }
            None => {
                yaml.push_str(line);
                yaml.push('\n');
            }
        }
    }
    let path = dir.join("crypta.yaml");
    std::fs::write(&path, yaml).unwrap();
    Config::load(&path).unwrap()
}

pub fn open(dir: &Path, system_encryption: bool) -> Engine {
    Engine::open(config(dir, system_encryption, "")).unwrap()
}

/// Every file under `dir` containing `needle`.
pub fn files_containing(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    let mut hits = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            if e.file_type().unwrap().is_dir() {
                stack.push(p);
            } else if std::fs::read(&p)
                .unwrap()
                .windows(needle.len())
                .any(|w| w == needle)
            {
                hits.push(p);
            }
        }
    }
    hits
}

pub const KS: &str =
    "CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}";

/// An engine on `dir` (`system_info_encryption` as given) with keyspace `ks` and table
/// `ks.t` under `Encryptor` AES-128 CBC.
pub fn open_with_cbc_table(dir: &Path, system_encryption: bool) -> Engine {
    let e = open(dir, system_encryption);
    e.execute_cql(KS).unwrap();
    e.execute_cql(
        "CREATE TABLE ks.t (id text PRIMARY KEY, v text) WITH compression = \
         {'class': 'Encryptor', 'cipher_algorithm': 'AES/CBC/PKCS5Padding', 'secret_key_strength': 128}",
    )
    .unwrap();
    e
}
