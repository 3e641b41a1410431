//! The engine, db_bench style: fillseq, fillrandom, readrandom and readseq over a million rows
//! of 16-byte keys and 100-byte values, for crypta with plaintext tables, `Encryptor` AES-128
//! (ECB and CBC), `DeflateCompressor`, `EncryptingDeflateCompressor` and
//! `EncryptingLZ4Compressor` (AES-128 CBC), and for fjall on the same
//! workload in the same run. Prints the summary table and the ratios that
//! `docs/performance.md` quotes (`-- --summary-only` stops there), then runs small criterion
//! benches of single puts and gets.
//!
//! Method (see `docs/performance.md`, "Engine"): wall clock, since both engines flush and
//! compact on background threads; every variant runs each round, in an order rotated from
//! round to round, its fills back to back and its reads interleaved with the other variants'
//! reads, so that a busy machine slows all of them alike; ops/s are medians of the rounds, and
//! each ratio is the median of the ratios within each round (with the lowest and highest).
//! `CRYPTA_BENCH_ROWS`, `CRYPTA_BENCH_READS` and `CRYPTA_BENCH_ROUNDS` override the sizes,
//! `CRYPTA_BENCH_ONLY` picks variants, `CRYPTA_BENCH_CHUNK_KB` sets crypta's `chunk_length_kb`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a bench fails loudly on errors"
)]

use std::hint::black_box;
use std::ops::Bound;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput};
use crypta::{Config, Engine, SyncMode};

const KEY_LEN: usize = 16;
const VALUE_LEN: usize = 100;
const TABLE: &str = "ks.t";
/// Both engines' block/chunk cache for the workloads: crypta's default `file_cache_size_in_mb`
/// (fjall's default is 32 MiB). It holds about half of the table.
const CACHE_MB: u32 = 64;
/// The cache of the second readrandom: it holds the whole table on both sides.
const BIG_CACHE_MB: u32 = 512;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The engines compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Variant {
    Crypta(&'static str, &'static str),
    Fjall,
}

impl Variant {
    fn name(self) -> &'static str {
        match self {
            Variant::Crypta(n, _) => n,
            Variant::Fjall => "fjall",
        }
    }
}

/// Every variant, or those whose name contains `CRYPTA_BENCH_ONLY` (comma-separated words).
fn variants() -> Vec<Variant> {
    let only = std::env::var("CRYPTA_BENCH_ONLY").unwrap_or_default();
    let mut all = all_variants();
    if !only.is_empty() {
        all.retain(|v| only.split(',').any(|w| v.name().contains(w)));
    }
    all
}

fn all_variants() -> Vec<Variant> {
    vec![
        Variant::Crypta("crypta plaintext", "{'enabled': 'false'}"),
        Variant::Crypta(
            "crypta AES-128 ECB",
            "{'class': 'Encryptor', 'cipher_algorithm': 'AES/ECB/PKCS5Padding', 'secret_key_strength': 128}",
        ),
        Variant::Crypta(
            "crypta AES-128 CBC",
            "{'class': 'Encryptor', 'cipher_algorithm': 'AES/CBC/PKCS5Padding', 'secret_key_strength': 128}",
        ),
        Variant::Crypta("crypta Deflate", "{'class': 'DeflateCompressor'}"),
        Variant::Crypta(
            "crypta Deflate+AES-128 CBC",
            "{'class': 'EncryptingDeflateCompressor', 'cipher_algorithm': 'AES/CBC/PKCS5Padding', 'secret_key_strength': 128}",
        ),
        // fjall compresses the blocks of its deeper levels with LZ4: the like-for-like crypta
        // codec for the compressed variants.
        Variant::Crypta(
            "crypta LZ4+AES-128 CBC",
            "{'class': 'EncryptingLZ4Compressor', 'cipher_algorithm': 'AES/CBC/PKCS5Padding', 'secret_key_strength': 128}",
        ),
        Variant::Fjall,
    ]
}

/// Keys and values of the workload, stored flat (generated before any timing).
struct Data {
    rows: usize,
    keys: Vec<u8>,
    values: Vec<u8>,
    /// A random permutation of `0..rows` (fillrandom's insertion order).
    shuffled: Vec<u32>,
    /// Random row numbers to look up (readrandom).
    probes: Vec<u32>,
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// 16-byte keys: the row number, zero-padded decimal (`0000000000012345`), so that key order
/// is row order.
fn key_of(i: usize) -> [u8; KEY_LEN] {
    let mut k = [0u8; KEY_LEN];
    k.copy_from_slice(format!("{i:016}").as_bytes());
    k
}

/// 100-byte values of printable text: words drawn at random from a 64-word vocabulary, with
/// the row number and a random number, as table rows look (the summary prints the share of
/// its size that deflate keeps: about 0.3, as for the JSON-like rows of the codec bench).
fn value_of(i: usize, rng: &mut Rng, out: &mut Vec<u8>) {
    const WORDS: [&str; 64] = [
        "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
        "juliet", "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra",
        "tango", "uniform", "victor", "whiskey", "xray", "yankee", "zulu", "red", "green", "blue",
        "amber", "paid", "pending", "shipped", "returned", "north", "south", "east", "west",
        "small", "large", "medium", "premium", "basic", "gold", "silver", "bronze", "active",
        "inactive", "open", "closed", "new", "used", "retail", "online", "store", "mobile",
        "desktop", "tablet", "visa", "cash", "card", "credit", "debit", "voucher",
    ];
    let start = out.len();
    let r = rng.next();
    out.extend_from_slice(format!("id={i} n={} ", r % 1_000_000).as_bytes());
    while out.len() - start < VALUE_LEN {
        let w = WORDS[(rng.next() >> 58) as usize];
        out.extend_from_slice(w.as_bytes());
        out.push(b' ');
    }
    out.truncate(start + VALUE_LEN);
}

impl Data {
    fn new(rows: usize, reads: usize) -> Data {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut keys = Vec::with_capacity(rows * KEY_LEN);
        let mut values = Vec::with_capacity(rows * VALUE_LEN + VALUE_LEN);
        for i in 0..rows {
            keys.extend_from_slice(&key_of(i));
            value_of(i, &mut rng, &mut values);
        }
        let mut shuffled: Vec<u32> = (0..rows as u32).collect();
        for i in (1..shuffled.len()).rev() {
            let j = (rng.next() % (i as u64 + 1)) as usize;
            shuffled.swap(i, j);
        }
        let probes = (0..reads)
            .map(|_| (rng.next() % rows as u64) as u32)
            .collect();
        Data {
            rows,
            keys,
            values,
            shuffled,
            probes,
        }
    }

    fn key(&self, i: u32) -> &[u8] {
        let i = i as usize;
        &self.keys[i * KEY_LEN..(i + 1) * KEY_LEN]
    }

    fn value(&self, i: u32) -> &[u8] {
        let i = i as usize;
        &self.values[i * VALUE_LEN..(i + 1) * VALUE_LEN]
    }

    /// Deflate (level 6) output size over input size, on the values in 64 KiB pieces.
    fn deflate_ratio(&self) -> f64 {
        use std::io::Write;
        let sample = &self.values[..self.values.len().min(64 << 20)];
        let mut out = 0usize;
        for piece in sample.chunks(64 << 10) {
            let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::new(6));
            e.write_all(piece).unwrap();
            out += e.finish().unwrap().len();
        }
        out as f64 / sample.len() as f64
    }
}

/// An open store of one variant.
enum Store {
    Crypta(Engine),
    Fjall(fjall::Database, fjall::Keyspace),
}

/// Opens the store of `v` in `dir` with a cache of `cache_mb`, creating its table first when
/// `create`.
fn open(v: Variant, dir: &Path, cache_mb: u32, create: bool) -> Store {
    match v {
        Variant::Crypta(_, compression) => {
            let mut config = Config::embedded_default(dir);
            // No fsync per write on either side: fjall's default hands each write to the OS
            // (a `write` per batch) and never fsyncs on its own; periodic sync here.
            config.commitlog_sync = SyncMode::Periodic;
            config.commitlog_sync_period = Duration::from_secs(10);
            config.memtable_size_mb = 64;
            config.file_cache_size_mb = cache_mb;
            let e = Engine::open(config).unwrap();
            if !create {
                return Store::Crypta(e);
            }
            e.execute_cql(
                "CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}",
            )
            .unwrap();
            // `CRYPTA_BENCH_CHUNK_KB` sets `chunk_length_kb` (default 64) on every crypta table.
            let compression = match std::env::var("CRYPTA_BENCH_CHUNK_KB") {
                Ok(kb) => format!(
                    "{}, 'chunk_length_kb': {kb}}}",
                    compression.trim_end_matches('}')
                ),
                Err(_) => compression.to_string(),
            };
            e.execute_cql(&format!(
                "CREATE TABLE {TABLE} (id text PRIMARY KEY, v text) WITH compression = {compression}"
            ))
            .unwrap();
            Store::Crypta(e)
        }
        Variant::Fjall => {
            let db = fjall::Database::builder(dir.join("fjall"))
                .cache_size(u64::from(cache_mb) << 20)
                .open()
                .unwrap();
            let ks = db
                .keyspace("t", fjall::KeyspaceCreateOptions::default)
                .unwrap();
            Store::Fjall(db, ks)
        }
    }
}

impl Store {
    fn put(&self, k: &[u8], v: &[u8]) {
        match self {
            Store::Crypta(e) => e.put(TABLE, k, v).unwrap(),
            Store::Fjall(_, ks) => ks.insert(k, v).unwrap(),
        }
    }

    fn get(&self, k: &[u8]) -> bool {
        match self {
            Store::Crypta(e) => e.get(TABLE, k).unwrap().is_some(),
            Store::Fjall(_, ks) => ks.get(k).unwrap().is_some(),
        }
    }

    /// Memtables to SSTables (fjall: rotate and wait for the flush), durably on both sides.
    fn flush(&self) {
        match self {
            Store::Crypta(e) => e.flush(&[]).unwrap(),
            Store::Fjall(db, ks) => {
                ks.rotate_memtable_and_wait().unwrap();
                db.persist(fjall::PersistMode::SyncData).unwrap();
            }
        }
    }

    /// One sorted run: every SSTable merged (fjall: its major compaction).
    fn compact(&self) {
        match self {
            Store::Crypta(e) => {
                e.compact(&[]).unwrap();
            }
            Store::Fjall(_, ks) => ks.major_compact().unwrap(),
        }
    }

    /// Rows seen by a full ordered scan.
    fn scan_all(&self) -> usize {
        match self {
            Store::Crypta(e) => {
                let mut n = 0;
                for row in e.range(TABLE, Bound::Unbounded, Bound::Unbounded).unwrap() {
                    black_box(row.unwrap());
                    n += 1;
                }
                n
            }
            Store::Fjall(_, ks) => {
                let mut n = 0;
                for g in ks.iter() {
                    black_box(g.into_inner().unwrap());
                    n += 1;
                }
                n
            }
        }
    }

    fn close(self) {
        match self {
            Store::Crypta(e) => e.close().unwrap(),
            Store::Fjall(db, ks) => {
                drop(ks);
                drop(db);
            }
        }
    }
}

const WORKLOADS: [&str; 5] = [
    "fillseq",
    "fillrandom",
    "readrandom",
    "readseq",
    "readrandom (cache > data)",
];

/// Point reads of the rows `probes` (existing keys); reads/s.
fn readrandom(v: Variant, s: &Store, data: &Data, probes: &[u32]) -> f64 {
    let t = Instant::now();
    let mut found = 0usize;
    for &i in probes {
        found += usize::from(s.get(data.key(i)));
    }
    let r = probes.len() as f64 / t.elapsed().as_secs_f64();
    assert_eq!(found, probes.len(), "{}: keys missing", v.name());
    r
}

/// Read passes of each read workload per round, every variant in turn (median taken).
const READ_PASSES: usize = 3;

/// One round: every variant in `order`. Fills run variant after variant (each is seconds
/// long); then the reads run variant by variant within each pass, so that the load of the
/// machine changes little between the variants they compare. Ops/s per variant, in `vs`'s
/// order.
fn round(vs: &[Variant], order: &[usize], data: &Data) -> Vec<[f64; 5]> {
    let rows = data.rows as f64;
    let mut out = vec![[0.0; 5]; vs.len()];
    let mut stores: Vec<Option<(tempfile::TempDir, Store)>> = vs.iter().map(|_| None).collect();
    for &i in order {
        let v = vs[i];
        // fillseq: puts in key order, then the flush to SSTables.
        let dir = tempfile::tempdir_in(bench_dir()).unwrap();
        let s = open(v, dir.path(), CACHE_MB, true);
        let t = Instant::now();
        for k in 0..data.rows as u32 {
            s.put(data.key(k), data.value(k));
        }
        s.flush();
        out[i][0] = rows / t.elapsed().as_secs_f64();
        s.close();
        drop(dir);

        // fillrandom: the same rows in random order, then the flush.
        let dir = tempfile::tempdir_in(bench_dir()).unwrap();
        let s = open(v, dir.path(), CACHE_MB, true);
        let t = Instant::now();
        for &k in &data.shuffled {
            s.put(data.key(k), data.value(k));
        }
        s.flush();
        out[i][1] = rows / t.elapsed().as_secs_f64();
        // Reads run on one sorted run on disk (untimed major compaction); the files are in
        // the OS page cache.
        s.compact();
        stores[i] = Some((dir, s));
    }

    // readrandom with 64 MiB caches: the first half of the probes warms them (untimed),
    // then timed passes of all of them, every variant in turn, READ_PASSES times (one pass
    // of about a second moved by a third from round to round on this machine).
    let half = &data.probes[..data.probes.len() / 2];
    for &i in order {
        if let Some((_, s)) = &stores[i] {
            readrandom(vs[i], s, data, half);
        }
    }
    let random = median_of_passes(order, &stores, |i, s| {
        readrandom(vs[i], s, data, &data.probes)
    });
    // readseq: full scans.
    let seq = median_of_passes(order, &stores, |i, s| {
        let t = Instant::now();
        let n = s.scan_all();
        let rate = n as f64 / t.elapsed().as_secs_f64();
        assert_eq!(n, data.rows, "{}: scan saw {n} rows", vs[i].name());
        rate
    });
    // Reopened with caches that hold the table, warmed by one untimed pass of the reads.
    for &i in order {
        if let Some((dir, s)) = stores[i].take() {
            s.close();
            let s = open(vs[i], dir.path(), BIG_CACHE_MB, false);
            readrandom(vs[i], &s, data, &data.probes);
            stores[i] = Some((dir, s));
        }
    }
    let cached = median_of_passes(order, &stores, |i, s| {
        readrandom(vs[i], s, data, &data.probes)
    });
    for (i, slot) in stores.into_iter().enumerate() {
        if let Some((dir, s)) = slot {
            s.close();
            drop(dir);
        }
        out[i][2] = random[i];
        out[i][3] = seq[i];
        out[i][4] = cached[i];
    }
    out
}

/// Runs `pass` (ops/s) on every open store, the variants in `order` in turn, [`READ_PASSES`]
/// times over, and returns each variant's median (every variant has its store open here).
fn median_of_passes(
    order: &[usize],
    stores: &[Option<(tempfile::TempDir, Store)>],
    mut pass: impl FnMut(usize, &Store) -> f64,
) -> Vec<f64> {
    let mut runs: Vec<Vec<f64>> = stores.iter().map(|_| Vec::new()).collect();
    for _ in 0..READ_PASSES {
        for &i in order {
            if let Some((_, s)) = &stores[i] {
                runs[i].push(pass(i, s));
            }
        }
    }
    runs.iter().map(|r| median(r)).collect()
}

/// Where the stores live: `CRYPTA_BENCH_DIR`, or the target directory (a real disk, not a
/// tmpfs `/tmp`).
fn bench_dir() -> std::path::PathBuf {
    let d = std::env::var_os("CRYPTA_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::env::var_os("CARGO_TARGET_DIR")
                .map(std::path::PathBuf::from)
                .unwrap_or_else(|| std::path::PathBuf::from("target"))
                .join("engine-bench")
        });
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn summary(data: &Data, rounds: usize) {
    let vs = variants();
    let mut all: Vec<Vec<[f64; 5]>> = vs.iter().map(|_| Vec::new()).collect();
    println!(
        "\n== Engine: {} rows, {KEY_LEN}-byte keys, {VALUE_LEN}-byte values (deflate level 6: {:.2} of the size), {} random reads, {rounds} rounds, wall clock",
        data.rows,
        data.deflate_ratio(),
        data.probes.len()
    );
    for r in 0..rounds {
        let before = loadavg();
        let start = Instant::now();
        let order: Vec<usize> = (0..vs.len()).map(|k| (k + r) % vs.len()).collect();
        let figures = round(&vs, &order, data);
        for &i in &order {
            let f = figures[i];
            println!(
                "round {r} {:<28} fillseq {:>8.0} fillrandom {:>8.0} readrandom {:>8.0} readseq {:>9.0} readrandom-cached {:>8.0}",
                vs[i].name(),
                f[0],
                f[1],
                f[2],
                f[3],
                f[4]
            );
            all[i].push(f);
        }
        println!(
            "round {r}: {:.0} s, load average before {before}, after {}",
            start.elapsed().as_secs_f64(),
            loadavg()
        );
    }
    let med: Vec<[f64; 5]> = all
        .iter()
        .map(|f| std::array::from_fn(|w| median(&f.iter().map(|x| x[w]).collect::<Vec<_>>())))
        .collect();
    println!("\nmedian ops/s of {rounds} rounds");
    print!("{:<28}", "variant");
    for w in WORKLOADS {
        print!(" {:>11}", w.split(' ').next().unwrap_or(w));
    }
    println!(" (last: cache > data)");
    for (v, m) in vs.iter().zip(&med) {
        print!("{:<28}", v.name());
        for x in m {
            print!(" {x:>11.0}");
        }
        println!();
    }
    let at = |name: &str| vs.iter().position(|v| v.name() == name);
    let against = |base: usize| -> Vec<RatioRow> {
        vs.iter()
            .zip(&all)
            .map(|(v, f)| (v.name(), f.as_slice(), all[base].as_slice()))
            .collect()
    };
    if let Some(p) = at("crypta plaintext") {
        ratios("ratio to crypta plaintext", &against(p));
    }
    if let (Some(d), Some(ed)) = (at("crypta Deflate"), at("crypta Deflate+AES-128 CBC")) {
        ratios(
            "ratio of the encrypting codec to the same codec without encryption",
            &[("Deflate+AES-128 CBC / Deflate", &all[ed], &all[d])],
        );
    }
    if let Some(f) = at("fjall") {
        ratios("ratio to fjall", &against(f));
    }
}

/// A row of [`ratios`]: a name, a variant's figures by round, and the figures by round of the
/// variant it is compared with.
type RatioRow<'a> = (&'a str, &'a [[f64; 5]], &'a [[f64; 5]]);

/// Prints a row per `(name, figures, base)`: for each workload, the median over the rounds of
/// the ratio of `figures` to `base` in the same round, and the lowest and highest of those
/// ratios. Variants in one round ran under the same conditions (their reads interleaved); the
/// ratio of two medians taken from different rounds would carry the machine's drift from
/// round to round, which moved every variant's random reads by up to a quarter here.
fn ratios(title: &str, rows: &[RatioRow]) {
    println!("\n{title}: median of the rounds' ratios (lowest-highest)");
    print!("{:<30}", "variant");
    for w in WORKLOADS {
        print!(" {:>17}", w.split(' ').next().unwrap_or(w));
    }
    println!(" (last: cache > data)");
    for (name, figures, base) in rows {
        print!("{name:<30}");
        for w in 0..WORKLOADS.len() {
            let r: Vec<f64> = figures
                .iter()
                .zip(*base)
                .map(|(x, y)| x[w] / y[w])
                .collect();
            let lo = r.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = r.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            print!(" {:>5.2} ({lo:.2}-{hi:.2})", median(&r));
        }
        println!();
    }
}

fn main() {
    let rows = env_u64("CRYPTA_BENCH_ROWS", 1_000_000) as usize;
    let reads = env_u64("CRYPTA_BENCH_READS", 200_000) as usize;
    let rounds = env_u64("CRYPTA_BENCH_ROUNDS", 5) as usize;
    let data = Data::new(rows, reads);
    summary(&data, rounds);
    if std::env::args().any(|a| a == "--summary-only") {
        return;
    }

    // Criterion: single puts into, and single gets from, a store of `rows` rows per variant.
    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    let stores: Vec<(Variant, tempfile::TempDir, Store)> = variants()
        .into_iter()
        .map(|v| {
            let dir = tempfile::tempdir_in(bench_dir()).unwrap();
            let s = open(v, dir.path(), CACHE_MB, true);
            for &i in &data.shuffled {
                s.put(data.key(i), data.value(i));
            }
            s.flush();
            s.compact();
            (v, dir, s)
        })
        .collect();
    let mut g = c.benchmark_group("engine_get");
    g.throughput(Throughput::Elements(1));
    for (v, _, s) in &stores {
        let mut n = 0usize;
        g.bench_function(BenchmarkId::from_parameter(v.name()), |b| {
            b.iter(|| {
                n = (n + 1) % data.probes.len();
                s.get(data.key(data.probes[n]))
            })
        });
    }
    g.finish();
    let mut g = c.benchmark_group("engine_put");
    g.throughput(Throughput::Elements(1));
    for (v, _, s) in &stores {
        let mut n = 0usize;
        g.bench_function(BenchmarkId::from_parameter(v.name()), |b| {
            b.iter(|| {
                n = (n + 1) % data.rows;
                s.put(data.key(n as u32), data.value(n as u32))
            })
        });
    }
    g.finish();
    for (_, dir, s) in stores {
        s.close();
        drop(dir);
    }
    c.final_summary();
}
