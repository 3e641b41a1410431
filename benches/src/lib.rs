//! Helpers shared by the benches in `benches/benches/`: sample data, a CPU-time clock, a
//! record of the figures measured, and peers measured in the same run (`openssl speed`) so
//! that `docs/performance.md` can quote ratios.
//!
//! Figures are CPU time of the measuring thread, as `openssl speed` measures by default (user
//! plus system time of its process): on a shared or loaded machine, wall time would charge
//! each side with other processes' time slices, and the ratio would depend on the load.

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

/// CPU time the calling thread has used so far (`CLOCK_THREAD_CPUTIME_ID`, nanosecond
/// resolution; `/proc/thread-self/schedstat` is only updated at scheduler ticks).
pub fn thread_cpu_time() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Duration::new(
        u64::try_from(t.tv_sec).unwrap_or(0),
        u32::try_from(t.tv_nsec).unwrap_or(0),
    )
}

/// Runs `f` `iters` times and returns the CPU time it took (for criterion's `iter_custom`).
pub fn cpu_time_of(iters: u64, mut f: impl FnMut()) -> Duration {
    let start = thread_cpu_time();
    for _ in 0..iters {
        f();
    }
    thread_cpu_time().saturating_sub(start)
}

/// The per-iteration times of each bench, to print a summary after criterion's own output.
#[derive(Debug, Default)]
pub struct Figures {
    samples: Mutex<BTreeMap<String, Vec<f64>>>,
}

impl Figures {
    /// Records that `iters` iterations of `name` took `d`.
    pub fn record(&self, name: &str, iters: u64, d: Duration) {
        if iters == 0 {
            return;
        }
        let mut m = self
            .samples
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        m.entry(name.to_string())
            .or_default()
            .push(d.as_secs_f64() / iters as f64);
    }

    /// Throughput of `name` in MB/s (10^6 bytes per second) for `bytes` per iteration, from
    /// the median per-iteration time; `None` if it was not run (filtered out).
    pub fn mb_per_s(&self, name: &str, bytes: usize) -> Option<f64> {
        let m = self
            .samples
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut v = m.get(name)?.clone();
        v.sort_by(f64::total_cmp);
        let median = *v.get(v.len() / 2)?;
        (median > 0.0).then(|| bytes as f64 / median / 1e6)
    }
}

/// `openssl speed -evp CIPHER -bytes BYTES -seconds SECONDS [-decrypt]`: MB/s (10^6 bytes per
/// second of CPU time, openssl's default measure), one core.
pub fn openssl_speed(
    cipher: &str,
    decrypt: bool,
    bytes: usize,
    seconds: u32,
) -> Result<f64, String> {
    let mut cmd = Command::new("openssl");
    cmd.args(["speed", "-mr", "-evp", cipher, "-bytes", &bytes.to_string()]);
    cmd.args(["-seconds", &seconds.to_string()]);
    if decrypt {
        cmd.arg("-decrypt");
    }
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run openssl speed: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    // Machine-readable result: "+F:<n>:<CIPHER>:<bytes per second>".
    text.lines()
        .filter_map(|l| l.strip_prefix("+F:"))
        .filter_map(|l| l.rsplit(':').next())
        .filter_map(|v| v.trim().parse::<f64>().ok())
        .next()
        .map(|bps| bps / 1e6)
        .ok_or_else(|| {
            format!(
                "no result from openssl speed -evp {cipher}: {}{}",
                text,
                String::from_utf8_lossy(&out.stderr)
            )
        })
}

/// `len` bytes that look like table rows: compressible, not trivially (deflate at level 6
/// shrinks them to about a third).
pub fn table_rows(len: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(len + 64);
    let mut i = 0u64;
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let row = format!(
            "{{\"id\":{i},\"user\":\"user{:05}\",\"score\":{},\"tags\":[\"t{}\",\"t{}\"]}}\n",
            x % 50_000,
            (x >> 20) % 1_000_000,
            (x >> 40) % 40,
            (x >> 50) % 40
        );
        v.extend_from_slice(row.as_bytes());
        i += 1;
    }
    v.truncate(len);
    v
}

/// The speed of `a` relative to `b` (above 1: `a` is faster), measured in alternation: `rounds`
/// rounds each time `iters` runs of `b` then of `a` in CPU time, and the median of the
/// per-round ratios. Alternating cancels the drift of a loaded machine, which separate
/// criterion runs of a few seconds each do not.
pub fn paired_speed_ratio(
    rounds: usize,
    iters: u64,
    mut a: impl FnMut(),
    mut b: impl FnMut(),
) -> f64 {
    let mut ratios: Vec<f64> = (0..rounds)
        .map(|_| {
            let tb = cpu_time_of(iters, &mut b).as_secs_f64();
            let ta = cpu_time_of(iters, &mut a).as_secs_f64();
            if ta > 0.0 { tb / ta } else { f64::NAN }
        })
        .filter(|r| r.is_finite())
        .collect();
    ratios.sort_by(f64::total_cmp);
    ratios.get(ratios.len() / 2).copied().unwrap_or(f64::NAN)
}
