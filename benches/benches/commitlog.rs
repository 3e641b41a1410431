//! Commit log throughput: records/s and MB/s for 100-byte and 1 KiB records, plaintext vs
//! AES-128 (`Encryptor`, `AES/CBC/PKCS5Padding`, DSE's `system_info_encryption` default), in
//! periodic mode (one writer; appends return once queued, the log's writer thread encrypts
//! and writes chunks as they fill, one fsync at the end) and group mode (8 writers; each
//! append returns after the fsync covering it). Every run ends with `sync()`: the time is
//! wall clock from the first append to durable data (thread CPU time would leave out the
//! writer thread).
//!
//! After the criterion groups it prints the table `docs/performance.md` quotes: medians of
//! `CRYPTA_BENCH_ROUNDS` rounds (default 7), each round running plaintext and every cipher
//! once, in an order that rotates from round to round, with the load average before and
//! after. Periodic mode is measured with AES-128 in CBC (the default), ECB and GCM; group
//! mode with CBC. Besides the ratio of the medians it prints the median of each round's ratio
//! to that round's plaintext run ("paired"), which the disk's slow and fast stretches (a
//! plaintext run ranges from 1.5 to 2.1 GB/s) disturb less. `CRYPTA_BENCH_SUMMARY_ONLY=1`
//! skips the criterion groups.
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

    /// Records per measured run, and writer threads. Periodic mode writes 64 MiB a run (two
    /// 32 MiB segments, about 40 ms): with the 8 MiB it wrote until 2026-11-30 a run lasted
    /// 4 to 6 ms, and the medians of three 21-round runs of the same build swung from 0.81
    /// to 0.99 for one cipher.
    fn workload(self, size: usize) -> (u64, u64) {
        match self {
            Mode::Periodic => ((64 << 20) / size as u64, 1),
            Mode::Group => (1600, 8),
        }
    }
}

/// What the log is written with: plaintext, or AES-128 in one of its modes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cipher {
    Plain,
    Cbc,
    Ecb,
    Gcm,
}

impl Cipher {
    fn name(self) -> &'static str {
        match self {
            Cipher::Plain => "plaintext",
            Cipher::Cbc => "AES-128-CBC",
            Cipher::Ecb => "AES-128-ECB",
            Cipher::Gcm => "AES-128-GCM",
        }
    }
}

fn options(cipher: Cipher) -> CompressionOptions {
    let transformation = match cipher {
        Cipher::Plain => return CompressionOptions::default(),
        Cipher::Cbc => "AES/CBC/PKCS5Padding",
        Cipher::Ecb => "AES/ECB/PKCS5Padding",
        Cipher::Gcm => "AES/GCM/NoPadding",
    };
    let mut m = BTreeMap::new();
    m.insert("class".to_string(), "Encryptor".to_string());
    m.insert("cipher_algorithm".to_string(), transformation.to_string());
    m.insert("secret_key_strength".to_string(), "128".to_string());
    CompressionOptions::parse(&m).expect("valid options")
}

/// Appends the mode's workload of `size`-byte records to a fresh log and syncs; returns the
/// wall-clock time from the first append to the end of the sync.
fn run(size: usize, cipher: Cipher, mode: Mode) -> Duration {
    let dir = tempfile::tempdir().expect("temp dir");
    let keys: Arc<dyn KeyProvider> =
        Arc::new(LocalKeyProvider::open(dir.path().join("keys")).expect("key file"));
    // Make the key before timing: generating it writes and fsyncs the key file, which an
    // engine does once, long before its commit log's hot path.
    if let Some(spec) = options(cipher).key_spec() {
        keys.current_key(&spec).expect("key");
    }
    let sync = match mode {
        Mode::Periodic => SyncMode::Periodic(Duration::from_secs(10)),
        Mode::Group => SyncMode::Group(Duration::ZERO),
    };
    let config = CommitLogConfig {
        sync,
        compression: options(cipher),
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
    if std::env::var_os("CRYPTA_BENCH_SUMMARY_ONLY").is_none() {
        for size in [100usize, 1024] {
            for mode in [Mode::Periodic, Mode::Group] {
                let (records, _) = mode.workload(size);
                let mut g = c.benchmark_group(format!("commitlog/{}/{size}B", mode.name()));
                g.sample_size(10);
                g.measurement_time(Duration::from_secs(5));
                g.throughput(Throughput::Elements(records));
                for cipher in [Cipher::Plain, Cipher::Cbc] {
                    let name = if cipher == Cipher::Plain {
                        "plaintext"
                    } else {
                        "aes128"
                    };
                    g.bench_function(name, |b| {
                        b.iter_custom(|iters| (0..iters).map(|_| run(size, cipher, mode)).sum())
                    });
                }
                g.finish();
            }
        }
    }
    summary();
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// Medians of alternating rounds, printed as the table `docs/performance.md` quotes.
fn summary() {
    let rounds: usize = std::env::var("CRYPTA_BENCH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(7)
        .max(1);
    println!();
    println!(
        "commit log summary: wall clock to durable, median of {rounds} rounds, variants alternating"
    );
    println!("load average before: {}", loadavg());
    println!(
        "(ratio: of the medians; paired: the median of each round's ratio to the plaintext run of"
    );
    println!("the same round, which cancels the disk's slow and fast stretches)");
    println!(
        "{:<9} {:>6} {:<12} {:>12} {:>9} {:>12} {:>9} {:>7} {:>7}",
        "mode", "record", "cipher", "plain rec/s", "MB/s", "enc rec/s", "MB/s", "ratio", "paired"
    );
    for mode in [Mode::Periodic, Mode::Group] {
        let ciphers: &[Cipher] = match mode {
            Mode::Periodic => &[Cipher::Plain, Cipher::Cbc, Cipher::Ecb, Cipher::Gcm],
            Mode::Group => &[Cipher::Plain, Cipher::Cbc],
        };
        for size in [100usize, 1024] {
            let (records, _) = mode.workload(size);
            let mut times: Vec<Vec<Duration>> = vec![Vec::new(); ciphers.len()];
            for round in 0..rounds {
                for k in 0..ciphers.len() {
                    let i = (k + round) % ciphers.len();
                    times[i].push(run(size, ciphers[i], mode));
                }
            }
            // Each round's encrypted / plaintext ratio, before the times are sorted.
            let paired: Vec<f64> = (1..ciphers.len())
                .map(|i| {
                    let mut r: Vec<f64> = times[0]
                        .iter()
                        .zip(&times[i])
                        .map(|(p, e)| p.as_secs_f64() / e.as_secs_f64())
                        .collect();
                    r.sort_by(f64::total_cmp);
                    r[r.len() / 2]
                })
                .collect();
            let rate = |t: &mut Vec<Duration>| {
                t.sort();
                records as f64 / t[t.len() / 2].as_secs_f64()
            };
            let mb = |r: f64| r * size as f64 / 1e6;
            let p = rate(&mut times[0]);
            for (i, cipher) in ciphers.iter().enumerate().skip(1) {
                let a = rate(&mut times[i]);
                println!(
                    "{:<9} {:>5}B {:<12} {:>12.0} {:>9.1} {:>12.0} {:>9.1} {:>7.3} {:>7.3}",
                    mode.name(),
                    size,
                    cipher.name(),
                    p,
                    mb(p),
                    a,
                    mb(a),
                    a / p,
                    paired[i - 1]
                );
            }
        }
    }
    println!("load average after: {}", loadavg());
}

criterion_group!(benches, bench);
criterion_main!(benches);
