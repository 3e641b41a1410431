//! Test harness of crypta: a throwaway PKI made with the `openssl` and `keytool` command lines
//! exactly as the HCD docs describe, real `pykmip-server` processes on loopback ports, and
//! misbehaving listeners (refused ports, servers that accept and never answer).
//!
//! Nothing here skips: when `openssl`, `keytool` or `pykmip-server` is missing or fails, the
//! functions return a [`HarnessError`] that says what to install, and tests that unwrap it fail.
//!
//! `pykmip-server` is found at `$CRYPTA_PYKMIP_SERVER` (set by `scripts/test-all`), else at
//! `<workspace>/.venv/bin/pykmip-server`.
#![forbid(unsafe_code)]

mod listener;
mod pki;
mod server;

use std::fmt;

pub use listener::{HangingListener, SilentTlsServer, refused_port};
pub use pki::{ClientFiles, Pki, STORE_PASSWORD};
pub use server::{KmipServer, pykmip_server_path};

/// Why the harness could not set something up.
pub struct HarnessError(pub String);

impl fmt::Debug for HarnessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Tests print errors with {:?} when they unwrap: show the message as is.
        f.write_str(&self.0)
    }
}

impl fmt::Display for HarnessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HarnessError {}

/// Shorthand for harness results.
pub type Result<T> = std::result::Result<T, HarnessError>;

fn err(msg: impl Into<String>) -> HarnessError {
    HarnessError(msg.into())
}
