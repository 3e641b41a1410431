//! Helpers shared by the binary's scenario tests: running `crypta --config PATH ...`.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers; each test file uses some of them"
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `crypta` binary Cargo built for these tests.
pub const BIN: &str = env!("CARGO_BIN_EXE_crypta");

/// Runs `crypta --config CONFIG ARGS...` to completion.
pub fn run(config: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .unwrap()
}

/// As [`run`], requiring success; its stdout.
pub fn ok(config: &Path, args: &[&str]) -> String {
    let o = run(config, args);
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

/// Runs `crypta init DIR`, requiring success; the path of the `crypta.yaml` it wrote.
pub fn init(dir: &Path) -> PathBuf {
    let o = Command::new(BIN).arg("init").arg(dir).output().unwrap();
    assert!(
        o.status.success(),
        "crypta init: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    dir.join("crypta.yaml")
}
