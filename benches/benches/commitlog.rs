//! Commit log throughput: records/s and MB/s for 100-byte and 1 KiB records, plaintext vs
//! AES-128 (`Encryptor`, `AES/CBC/PKCS5Padding`, DSE's `system_info_encryption` default), in
//! periodic mode (one writer; appends return at once, chunks are encrypted and written as
//! they fill, one fsync at the end) and group mode (8 writers; each append returns after the
//! fsync covering it). After the criterion groups it prints the table and the
//! encrypted/plaintext ratios that `docs/performance.md` quotes.
#![allow(
    clippy::expect_used,
    reason = "a bench stops loudly when its setup fails"
)]

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use crypta_commitlog::{CommitLog, CommitLogConfig, SyncMode};
use crypta_compression::CompressionOptions;
use crypta_keys::{KeyProvider, LocalKeyProvider};

#[derive(Clone, Copy, Debug)]
enum Mode {
    Periodic,
    Group,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Periodic => "periodic",
            Mode::Group => "group",
        }
    }

    /// Records per measured run, and writer threads.
    fn workload(self, size: usize) -> (u64, u64) {
        match self {
            Mode::Periodic => ((8 << 20) / size as u64, 1),
            Mode::Group => (1600, 8),
        }
    }
}

fn options(encrypted: bool) -> CompressionOptions {
    if !encrypted {
        return CompressionOptions::default();
    }
    let mut m = BTreeMap::new();
    m.insert("class".to_string(), "Encryptor".to_string());
    m.insert(
        "cipher_algorithm".to_string(),
        "AES/CBC/PKCS5Padding".to_string(),
    );
    m.insert("secret_key_strength".to_string(), "128".to_string());
    CompressionOptions::parse(&m).expect("valid options")
}

/// Appends the mode's workload of `size`-byte records to a fresh log and syncs; returns the
/// time from the first append to the end of the sync.
fn run(size: usize, encrypted: bool, mode: Mode) -> Duration {
    let dir = tempfile::tempdir().expect("temp dir");
    let keys: Arc<dyn KeyProvider> =
        Arc::new(LocalKeyProvider::open(dir.path().join("keys")).expect("key file"));
    // Make the key before timing: generating it writes and fsyncs the key file, which an
    // engine does once, long before its commit log's hot path.
    if let Some(spec) = options(encrypted).key_spec() {
        keys.current_key(&spec).expect("key");
    }
    let sync = match mode {
        Mode::Periodic => SyncMode::Periodic(Duration::from_secs(10)),
        Mode::Group => SyncMode::Group(Duration::ZERO),
    };
    let config = CommitLogConfig {
        sync,
        compression: options(encrypted),
        ..CommitLogConfig::default()
    };
    let log = Arc::new(CommitLog::open(dir.path().join("cl"), config, Some(keys)).expect("open"));
    let (records, threads) = mode.workload(size);
    let record = vec![0x5Au8; size];
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            let log = &log;
            let record = &record;
            s.spawn(move || {
                for _ in 0..records / threads {
                    black_box(log.append(record).expect("append"));
                }
            });
        }
    });
    log.sync().expect("sync");
    let elapsed = start.elapsed();
    drop(log);
    elapsed
}

fn bench(c: &mut Criterion) {
    for size in [100usize, 1024] {
        for mode in [Mode::Periodic, Mode::Group] {
            let (records, _) = mode.workload(size);
            let mut g = c.benchmark_group(format!("commitlog/{}/{size}B", mode.name()));
            g.sample_size(10);
            g.measurement_time(Duration::from_secs(5));
            g.throughput(Throughput::Elements(records));
            for encrypted in [false, true] {
                let name = if encrypted { "aes128" } else { "plaintext" };
                g.bench_function(name, |b| {
                    b.iter_custom(|iters| (0..iters).map(|_| run(size, encrypted, mode)).sum())
                });
            }
            g.finish();
        }
    }
    summary();
}

/// Median of `runs` alternating measurements of plaintext and encrypted, printed as the
/// table `docs/performance.md` quotes.
fn summary() {
    println!();
    println!("commit log summary (median of 5 runs each, plaintext and AES-128 alternating)");
    println!(
        "{:<9} {:>6} {:>12} {:>9} {:>12} {:>9} {:>7}",
        "mode", "record", "plain rec/s", "MB/s", "aes rec/s", "MB/s", "ratio"
    );
    for mode in [Mode::Periodic, Mode::Group] {
        for size in [100usize, 1024] {
            let (records, _) = mode.workload(size);
            let mut plain = Vec::new();
            let mut aes = Vec::new();
            for _ in 0..5 {
                plain.push(run(size, false, mode));
                aes.push(run(size, true, mode));
            }
            plain.sort();
            aes.sort();
            let rate = |d: Duration| records as f64 / d.as_secs_f64();
            let (p, a) = (rate(plain[2]), rate(aes[2]));
            let mb = |r: f64| r * size as f64 / 1e6;
            println!(
                "{:<9} {:>5}B {:>12.0} {:>9.1} {:>12.0} {:>9.1} {:>7.3}",
                mode.name(),
                size,
                p,
                mb(p),
                a,
                mb(a),
                a / p
            );
        }
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
