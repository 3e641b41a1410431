//! SSTable throughput: write MB/s, point lookups/s (cold: one chunk decoded per lookup; warm:
//! from the chunk cache) and scan MB/s, for plaintext, `Encryptor` AES-128 ECB/CBC/GCM and
//! `EncryptingDeflateCompressor` (AES-128 CBC), the latter with the writer's default encoder
//! threads (one per core, at most 4) and with one (`deflate+cbc 1 thread`). Prints a summary measured in one run with the
//! encrypted/plaintext ratios that `docs/performance.md` quotes, then runs the criterion
//! benches of the same operations.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a bench fails loudly on errors"
)]

use std::collections::BTreeMap;
use std::fs::File;
use std::hint::black_box;
use std::num::NonZeroUsize;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput};
use crypta_benches::thread_cpu_time;
use crypta_compression::CompressionOptions;
use crypta_keys::{KeyProvider, LocalKeyProvider};
use crypta_sstable::{ChunkCache, Entry, Sstable, SstableWriter, WriterOptions};

/// Entries per table: 60,000 entries of about 130 bytes, 7.9 MB of entry stream.
const ENTRIES: u64 = 60_000;
const LOOKUPS: usize = 10_000;

/// Name, options, and encoder threads (`None`: the writer's default for the codec).
fn codecs() -> Vec<(&'static str, CompressionOptions, Option<NonZeroUsize>)> {
    let opts = |pairs: &[(&str, &str)]| {
        let m: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        CompressionOptions::parse(&m).unwrap()
    };
    let enc = |t: &str| {
        opts(&[
            ("class", "Encryptor"),
            ("cipher_algorithm", t),
            ("secret_key_strength", "128"),
        ])
    };
    let deflate_cbc = opts(&[
        ("class", "EncryptingDeflateCompressor"),
        ("cipher_algorithm", "AES/CBC/PKCS5Padding"),
        ("secret_key_strength", "128"),
    ]);
    vec![
        ("plaintext", opts(&[("enabled", "false")]), None),
        ("aes128-ecb", enc("AES/ECB/PKCS5Padding"), None),
        ("aes128-cbc", enc("AES/CBC/PKCS5Padding"), None),
        ("aes128-gcm", enc("AES/GCM/NoPadding"), None),
        ("deflate+aes128-cbc", deflate_cbc.clone(), None),
        ("deflate+cbc 1 thread", deflate_cbc, NonZeroUsize::new(1)),
    ]
}

fn key(i: u64) -> Vec<u8> {
    format!(
        "user:{:016x}",
        i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 8 | i << 56
    )
    .into_bytes()
}

/// The 100-byte value of row `i`: JSON-like text (compressible, as rows usually are).
fn value(i: u64) -> Vec<u8> {
    let mut value = format!(
        "{{\"id\":{i},\"name\":\"user {i}\",\"balance\":{},\"tags\":[\"a\",\"b\"]}}",
        i * 37 % 10_007
    )
    .into_bytes();
    value.resize(100, b' ');
    value
}

/// Sorted keys and their [`value`]s.
fn dataset() -> Vec<(Vec<u8>, Entry)> {
    let mut v: Vec<(Vec<u8>, Entry)> = (0..ENTRIES)
        .map(|i| {
            (
                key(i),
                Entry::value(value(i), 1_700_000_000_000_000 + i as i64),
            )
        })
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

fn write(
    path: &Path,
    opts: &CompressionOptions,
    keys: Arc<dyn KeyProvider>,
    data: &[(Vec<u8>, Entry)],
    encoder_threads: Option<NonZeroUsize>,
) -> u64 {
    let _ = std::fs::remove_file(path);
    let mut w = SstableWriter::create(
        path,
        opts,
        keys,
        WriterOptions {
            expected_entries: data.len() as u64,
            encoder_threads,
            ..WriterOptions::default()
        },
    )
    .unwrap();
    for (k, e) in data {
        w.add(k, e).unwrap();
    }
    w.finish().unwrap().metadata.data_len
}

fn lookup_keys(data: &[(Vec<u8>, Entry)]) -> Vec<Vec<u8>> {
    let mut x = 0x2545_f491_4f6c_dd1du64;
    (0..LOOKUPS)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            data[(x % data.len() as u64) as usize].0.clone()
        })
        .collect()
}

/// The median of `runs` timings of `f`, in CPU time of this thread
/// (`CLOCK_THREAD_CPUTIME_ID`): the machine is shared, and wall-clock figures swing with the
/// load while CPU time does not. For lookups and scans, which run on the calling thread only;
/// writes are timed in wall-clock time ([`wall_median`]), since the writer encodes on encoder
/// threads whose work this thread's CPU time would not count.
fn median(runs: usize, mut f: impl FnMut()) -> Duration {
    let mut t: Vec<Duration> = (0..runs)
        .map(|_| {
            let s = thread_cpu_time();
            f();
            thread_cpu_time().saturating_sub(s)
        })
        .collect();
    t.sort();
    t[runs / 2]
}

/// The same in wall-clock time: for writes (whose encoding runs on the writer's encoder
/// threads, and whose fsync is part of a write) and for the pread comparison (whose cost is
/// partly in the kernel).
fn wall_median(runs: usize, mut f: impl FnMut()) -> Duration {
    let mut t: Vec<Duration> = (0..runs)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed()
        })
        .collect();
    t.sort();
    t[runs / 2]
}

#[derive(Default)]
struct Figures {
    write_mb_s: Vec<f64>,
    /// Writes per CPU second of the calling thread only (what wall-clock approaches when the
    /// encoder thread has a core of its own), and of all threads (the work done in all).
    write_caller_cpu_mb_s: Vec<f64>,
    write_all_cpu_mb_s: Vec<f64>,
    cold_lookups_s: Vec<f64>,
    warm_lookups_s: Vec<f64>,
    scan_mb_s: Vec<f64>,
    /// Scans decoding on the calling thread only (`read_ahead(false)`), also in wall-clock
    /// time.
    scan_one_thread_mb_s: Vec<f64>,
}

fn med(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// One measurement of each operation on one codec, added to `f`.
fn measure_once(
    dir: &Path,
    name: &str,
    (opts, encoders): (&CompressionOptions, Option<NonZeroUsize>),
    keys: Arc<dyn KeyProvider>,
    data: &[(Vec<u8>, Entry)],
    f: &mut Figures,
) {
    let path = dir.join(format!("{name}.db"));
    let mut data_len = 0;
    let (cpu0, all0) = (thread_cpu_time(), process_cpu_time());
    let w = wall_median(1, || {
        data_len = write(&path, opts, keys.clone(), data, encoders)
    });
    let (cpu1, all1) = (thread_cpu_time(), process_cpu_time());
    let mb = data_len as f64 / 1e6;
    let probes = lookup_keys(data);
    let cold = Sstable::open(&path, keys.clone(), None).unwrap();
    let c = median(1, || {
        for k in &probes {
            black_box(cold.get(k).unwrap());
        }
    });
    let cache = Arc::new(ChunkCache::new(64 << 20));
    let warm = Sstable::open(&path, keys.clone(), Some(cache)).unwrap();
    for k in &probes {
        warm.get(k).unwrap();
    }
    let h = median(3, || {
        for k in &probes {
            black_box(warm.get(k).unwrap());
        }
    });
    // Scans read ahead on a second thread (the default), and on one thread, in wall-clock
    // time, after one untimed scan (the first scan of a file after the lookups ran slower,
    // whichever kind it was).
    assert_eq!(cold.iter().read_ahead(false).count() as u64, ENTRIES);
    let s = wall_median(1, || {
        let mut n = 0u64;
        for r in cold.iter() {
            black_box(r.unwrap());
            n += 1;
        }
        assert_eq!(n, ENTRIES);
    });
    let s1 = wall_median(1, || {
        let mut n = 0u64;
        for r in cold.iter().read_ahead(false) {
            black_box(r.unwrap());
            n += 1;
        }
        assert_eq!(n, ENTRIES);
    });
    f.write_mb_s.push(mb / w.as_secs_f64());
    f.write_caller_cpu_mb_s
        .push(mb / cpu1.saturating_sub(cpu0).as_secs_f64());
    f.write_all_cpu_mb_s
        .push(mb / all1.saturating_sub(all0).as_secs_f64());
    f.cold_lookups_s.push(LOOKUPS as f64 / c.as_secs_f64());
    f.warm_lookups_s.push(LOOKUPS as f64 / h.as_secs_f64());
    f.scan_mb_s.push(mb / s.as_secs_f64());
    f.scan_one_thread_mb_s.push(mb / s1.as_secs_f64());
}

/// What a `pread` of each chunk would add to a cold lookup: the copy out of the page cache
/// that the memory map avoids.
fn pread_cost(path: &Path, keys: Arc<dyn KeyProvider>) -> Duration {
    let t = Sstable::open(path, keys, None).unwrap();
    let offsets = t.chunk_offsets().to_vec();
    let file = File::open(path).unwrap();
    let mut buf = vec![0u8; 80 * 1024];
    let d = wall_median(5, || {
        for (i, w) in offsets.windows(2).enumerate().cycle().take(LOOKUPS) {
            let len = (w[1] - w[0]) as usize;
            file.read_exact_at(&mut buf[..len], w[0]).unwrap();
            black_box((i, &buf));
        }
    });
    d / LOOKUPS as u32
}

/// Rounds of every codec in turn (each round starting at the next codec), so that a busy
/// machine slows all of them alike; medians.
fn summary(dir: &Path, keys: Arc<dyn KeyProvider>, data: &[(Vec<u8>, Entry)]) {
    const ROUNDS: usize = 15;
    let load_before = load_average();
    let codecs = codecs();
    let mut all: Vec<Figures> = codecs.iter().map(|_| Figures::default()).collect();
    for round in 0..ROUNDS {
        // Each round starts at another codec, so that none is always measured first.
        for i in (0..codecs.len()).map(|i| (i + round) % codecs.len()) {
            let (name, opts, encoders) = &codecs[i];
            let codec = (opts, *encoders);
            measure_once(dir, name, codec, keys.clone(), data, &mut all[i]);
        }
    }
    let m = |f: &Figures| {
        [
            med(&f.write_mb_s),
            med(&f.cold_lookups_s),
            med(&f.warm_lookups_s),
            med(&f.scan_mb_s),
            med(&f.scan_one_thread_mb_s),
        ]
    };
    let base = m(&all[0]);
    println!(
        "\n== SSTable summary: {ENTRIES} entries, 64 KiB chunks, {LOOKUPS} random lookups, median of {ROUNDS} interleaved rotating rounds; writes and scans (with read-ahead on a second thread, and on one thread) in wall-clock time (writes from create to finish, fsync included), lookups in thread CPU time"
    );
    println!(
        "load average (1, 5, 15 min) before: {load_before}; after: {}",
        load_average()
    );
    println!(
        "{:<20} {:>10} {:>7} {:>12} {:>7} {:>12} {:>7} {:>10} {:>7} {:>10} {:>7}",
        "codec",
        "write MB/s",
        "ratio",
        "cold get/s",
        "ratio",
        "warm get/s",
        "ratio",
        "scan MB/s",
        "ratio",
        "1-thr scan",
        "ratio"
    );
    for ((name, ..), f) in codecs.iter().zip(&all) {
        let v = m(f);
        println!(
            "{:<20} {:>10.0} {:>7.2} {:>12.0} {:>7.2} {:>12.0} {:>7.2} {:>10.0} {:>7.2} {:>10.0} {:>7.2}",
            name,
            v[0],
            v[0] / base[0],
            v[1],
            v[1] / base[1],
            v[2],
            v[2] / base[2],
            v[3],
            v[3] / base[3],
            v[4],
            v[4] / base[4],
        );
    }
    println!(
        "write in CPU time (not the figure quoted: the encoder thread's work is not the caller's): MB per CPU second of the calling thread, and of all threads"
    );
    let c0 = med(&all[0].write_caller_cpu_mb_s);
    let a0 = med(&all[0].write_all_cpu_mb_s);
    for ((name, ..), f) in codecs.iter().zip(&all) {
        let (c, a) = (med(&f.write_caller_cpu_mb_s), med(&f.write_all_cpu_mb_s));
        println!(
            "{:<20} caller {:>6.0} MB/s {:>5.2}   all threads {:>6.0} MB/s {:>5.2}",
            name,
            c,
            c / c0,
            a,
            a / a0
        );
    }
    let p = pread_cost(&dir.join("aes128-cbc.db"), keys);
    println!(
        "pread of one chunk frame (what a pread reader adds per cold lookup): {:.2} us; a cold aes128-cbc lookup takes {:.2} us, a cold plaintext one {:.2} us",
        p.as_secs_f64() * 1e6,
        1e6 / m(&all[2])[1],
        1e6 / base[1]
    );
}

/// CPU time of every thread of this process (the writer's encoder thread included).
fn process_cpu_time() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    Duration::new(
        u64::try_from(t.tv_sec).unwrap_or(0),
        u32::try_from(t.tv_nsec).unwrap_or(0),
    )
}

/// Long scans, with and without read-ahead: one table of [`LONG_ENTRIES`] entries per codec
/// (about 72 MB of entry stream, more than this machine's L3 cache, where the summary's table
/// fits in it), scanned whole in wall-clock time, with read-ahead and without in an order that
/// alternates from round to round; medians.
fn long_scans(dir: &Path, keys: Arc<dyn KeyProvider>) {
    const LONG_ENTRIES: u64 = 600_000;
    const ROUNDS: usize = 7;
    let load_before = load_average();
    let codecs: Vec<_> = codecs().into_iter().filter(|c| c.2.is_none()).collect();
    let mut tables = Vec::new();
    for (name, opts, _) in &codecs {
        let path = dir.join(format!("long-{name}.db"));
        let mut w = SstableWriter::create(
            &path,
            opts,
            keys.clone(),
            WriterOptions {
                expected_entries: LONG_ENTRIES,
                ..WriterOptions::default()
            },
        )
        .unwrap();
        for i in 0..LONG_ENTRIES {
            let k = format!("user:{i:018}");
            w.add(k.as_bytes(), &Entry::value(value(i), i as i64))
                .unwrap();
        }
        let mb = w.finish().unwrap().metadata.data_len as f64 / 1e6;
        tables.push((Sstable::open(&path, keys.clone(), None).unwrap(), mb));
    }
    let mut mb_s = vec![[Vec::new(), Vec::new()]; codecs.len()];
    for round in 0..ROUNDS {
        for (i, (t, mb)) in tables.iter().enumerate() {
            for ahead in [round % 2 == 0, round % 2 == 1] {
                let s = Instant::now();
                assert_eq!(t.iter().read_ahead(ahead).count() as u64, LONG_ENTRIES);
                mb_s[i][usize::from(ahead)].push(mb / s.elapsed().as_secs_f64());
            }
        }
    }
    println!(
        "\n== Long scans: {LONG_ENTRIES} entries (about 72 MB), wall clock, median of {ROUNDS} rounds"
    );
    println!(
        "load average (1, 5, 15 min) before: {load_before}; after: {}",
        load_average()
    );
    println!(
        "{:<20} {:>14} {:>7} {:>14} {:>7} {:>9}",
        "codec", "read-ahead MB/s", "ratio", "1 thread MB/s", "ratio", "gain"
    );
    let (base_on, base_off) = (med(&mb_s[0][1]), med(&mb_s[0][0]));
    for ((name, ..), m) in codecs.iter().zip(&mb_s) {
        let (on, off) = (med(&m[1]), med(&m[0]));
        println!(
            "{:<20} {:>14.0} {:>7.2} {:>14.0} {:>7.2} {:>9.2}",
            name,
            on,
            on / base_on,
            off,
            off / base_off,
            on / off
        );
    }
    for (t, _) in tables {
        let path = t.path().to_path_buf();
        drop(t);
        let _ = std::fs::remove_file(path);
    }
}

/// `/proc/loadavg`'s first three fields, for the record of how busy the machine was.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn main() {
    // Tables on tmpfs where there is one: an fsync to disk takes tens of milliseconds here, a
    // fixed cost per table that would dilute the codecs' differences in wall-clock writes.
    // `CRYPTA_BENCH_DIR` picks another place.
    let base = std::env::var_os("CRYPTA_BENCH_DIR")
        .map(PathBuf::from)
        .or_else(|| Some(PathBuf::from("/dev/shm")).filter(|p| p.is_dir()));
    let dir = match base {
        Some(b) => tempfile::tempdir_in(b).unwrap(),
        None => tempfile::tempdir().unwrap(),
    };
    println!("tables in {}", dir.path().display());
    let keys: Arc<dyn KeyProvider> =
        Arc::new(LocalKeyProvider::open(dir.path().join("keys")).unwrap());
    let data = dataset();
    summary(dir.path(), keys.clone(), &data);
    long_scans(dir.path(), keys.clone());
    if std::env::args().any(|a| a == "--summary-only") {
        return;
    }

    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    type Bench = (
        &'static str,
        CompressionOptions,
        PathBuf,
        Option<NonZeroUsize>,
    );
    let paths: Vec<Bench> = codecs()
        .into_iter()
        .map(|(n, o, e)| (n, o, dir.path().join(format!("c-{n}.db")), e))
        .collect();
    let mut g = c.benchmark_group("sstable_write");
    let bytes = write(&paths[0].2, &paths[0].1, keys.clone(), &data, None);
    g.throughput(Throughput::Bytes(bytes));
    for (n, o, p, e) in &paths {
        g.bench_function(BenchmarkId::from_parameter(n), |b| {
            b.iter(|| write(p, o, keys.clone(), &data, *e))
        });
    }
    g.finish();
    let probes = lookup_keys(&data);
    // Cold: no chunk cache; cached: each table with its own cache that holds it.
    for (group, cached) in [("sstable_get_cold", false), ("sstable_get_cached", true)] {
        let mut g = c.benchmark_group(group);
        g.throughput(Throughput::Elements(LOOKUPS as u64));
        for (n, _, p, _) in &paths {
            let cache = cached.then(|| Arc::new(ChunkCache::new(64 << 20)));
            let t = Sstable::open(p, keys.clone(), cache).unwrap();
            g.bench_function(BenchmarkId::from_parameter(n), |b| {
                b.iter(|| {
                    probes
                        .iter()
                        .filter(|k| t.get(k).unwrap().is_some())
                        .count()
                })
            });
        }
        g.finish();
    }
    let mut g = c.benchmark_group("sstable_scan");
    g.throughput(Throughput::Bytes(bytes));
    for (n, _, p, _) in &paths {
        let t = Sstable::open(p, keys.clone(), None).unwrap();
        g.bench_function(BenchmarkId::from_parameter(n), |b| {
            b.iter(|| t.iter().count())
        });
    }
    g.finish();
    c.final_summary();
}
