//! Helpers shared by the hints scenarios.
#![allow(dead_code, reason = "each scenario uses a subset")]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crypta_compression::CompressionOptions;
use crypta_hints::{Delivery, DispatchReport, HintsConfig, HintsStore, HostId};
use crypta_keys::{KeyProvider, LocalKeyProvider, Timestamp};

pub const T0: u64 = 1_700_000_000_000;

/// A clock the test moves by hand.
#[derive(Clone)]
pub struct ManualClock(pub Arc<AtomicU64>);

impl ManualClock {
    pub fn new() -> Self {
        ManualClock(Arc::new(AtomicU64::new(T0)))
    }
    pub fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
    pub fn advance(&self, d: Duration) {
        self.0.fetch_add(d.as_millis() as u64, Ordering::SeqCst);
    }
}

pub fn aes_cbc() -> CompressionOptions {
    let mut m = BTreeMap::new();
    m.insert("class".to_string(), "Encryptor".to_string());
    m.insert(
        "cipher_algorithm".to_string(),
        "AES/CBC/PKCS5Padding".to_string(),
    );
    m.insert("secret_key_strength".to_string(), "128".to_string());
    m.insert("chunk_length_kb".to_string(), "4".to_string());
    CompressionOptions::parse(&m).unwrap()
}

pub fn keys(dir: &Path) -> Arc<dyn KeyProvider> {
    Arc::new(
        LocalKeyProvider::open(dir.join("keys/system_key"))
            .unwrap()
            .with_refresh(Duration::ZERO),
    )
}

pub fn config(clock: &ManualClock, compression: CompressionOptions) -> HintsConfig {
    let c = clock.clone();
    HintsConfig {
        compression,
        clock: Arc::new(move || c.now()),
        ..HintsConfig::default()
    }
}

pub fn open(dir: &Path, config: HintsConfig, keys: &Arc<dyn KeyProvider>) -> HintsStore {
    HintsStore::open(dir.join("hints"), config, Some(keys.clone())).unwrap()
}

pub fn host(n: u8) -> HostId {
    HostId([n; 16])
}

/// The mutation of hint `n`.
pub fn mutation(n: u64) -> Vec<u8> {
    let mut v = format!("mutation {n} ").into_bytes();
    v.resize(20 + (n as usize * 13) % 300, b'x');
    v
}

/// The number a mutation carries.
pub fn number(m: &[u8]) -> u64 {
    let s = std::str::from_utf8(m).unwrap();
    s.split(' ').nth(1).unwrap().parse().unwrap()
}

/// Dispatches `host`, taking everything, returning the numbers delivered.
pub fn take_all(store: &HintsStore, host: HostId) -> (Vec<u64>, DispatchReport) {
    let mut got = Vec::new();
    let report = store
        .dispatch(host, |h| {
            assert_eq!(h.host, host);
            got.push(number(h.mutation));
            Delivery::Delivered
        })
        .unwrap();
    (got, report)
}

/// The hints files in the store's directory.
pub fn hints_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir.join("hints"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "hints"))
        .collect();
    v.sort();
    v
}
