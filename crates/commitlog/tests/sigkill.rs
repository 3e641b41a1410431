#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on errors"
)]

//! A process killed with SIGKILL while appending in batch mode loses no acknowledged record.
//!
//! The test re-runs its own binary as a child (selected by an environment variable) that
//! appends numbered records from several threads to an encrypted log and prints each number
//! once `append` has returned. The parent kills it at a random moment, replays, and checks
//! that every printed number is there with its exact bytes. Three rounds: each child first
//! recovers the log the previous one left.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::*;
use crypta_commitlog::{CommitLog, ReplayOptions, SyncMode};
use crypta_keys::KeyProvider;

const CHILD_ENV: &str = "CRYPTA_COMMITLOG_SIGKILL_CHILD";
const START_ENV: &str = "CRYPTA_COMMITLOG_SIGKILL_START";
const TEST_NAME: &str = "sigkill_in_batch_mode_loses_no_acknowledged_record";

fn record_for(seq: u64) -> Vec<u8> {
    record(seq, 16 + (seq as usize * 31) % 700)
}

/// The child: append until killed (or a minute passes), printing acknowledged numbers.
fn child(dir: &Path, start: u64) -> ! {
    let keys: Arc<dyn KeyProvider> = keys(dir);
    let log = Arc::new(
        CommitLog::open(
            dir.join("cl"),
            config(SyncMode::Batch, aes_cbc(), 64 * 1024),
            Some(keys),
        )
        .unwrap(),
    );
    let next = Arc::new(AtomicU64::new(start));
    let deadline = Instant::now() + Duration::from_secs(60);
    let threads: Vec<_> = (0..3)
        .map(|_| {
            let log = log.clone();
            let next = next.clone();
            std::thread::spawn(move || {
                while Instant::now() < deadline {
                    let seq = next.fetch_add(1, Ordering::SeqCst);
                    log.append(&record_for(seq)).unwrap();
                    let mut out = std::io::stdout().lock();
                    writeln!(out, "ack {seq}").unwrap();
                    out.flush().unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    std::process::exit(0)
}

fn random_below(n: u64) -> u64 {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).unwrap();
    u64::from_le_bytes(b) % n
}

#[test]
fn sigkill_in_batch_mode_loses_no_acknowledged_record() {
    if let Ok(dir) = std::env::var(CHILD_ENV) {
        let start = std::env::var(START_ENV).unwrap().parse().unwrap();
        child(Path::new(&dir), start);
    }
    let dir = tempfile::tempdir().unwrap();
    let mut acked: BTreeSet<u64> = BTreeSet::new();
    for round in 0..3u64 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", TEST_NAME, "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, dir.path())
            .env(START_ENV, (round * 1_000_000).to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<u64>();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(n) = line.strip_prefix("ack ") {
                    tx.send(n.parse().unwrap()).unwrap();
                }
            }
        });
        // Let it get going (some acknowledgements), then kill it at a random moment.
        let first = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the child acknowledges");
        acked.insert(first);
        std::thread::sleep(Duration::from_millis(50 + random_below(400)));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        reader.join().unwrap();
        let round_acks: Vec<u64> = rx.try_iter().collect();
        assert!(
            !round_acks.is_empty(),
            "round {round}: the child was writing"
        );
        acked.extend(round_acks);

        let keys = keys(dir.path());
        let mut found: BTreeMap<u64, usize> = BTreeMap::new();
        let (_, report) = {
            let mut v = Vec::new();
            let report = crypta_commitlog::replay(
                &dir.path().join("cl"),
                Some(keys.as_ref() as &dyn KeyProvider),
                ReplayOptions::default(),
                |_, r| {
                    let seq = u64::from_le_bytes(r[..8].try_into().unwrap());
                    assert_eq!(r, record_for(seq), "record {seq} has its bytes");
                    *found.entry(seq).or_default() += 1;
                    v.push(seq);
                    Ok(())
                },
            )
            .unwrap_or_else(|e| panic!("round {round}: replay failed: {e}"));
            (v, report)
        };
        let lost: Vec<_> = acked.iter().filter(|s| !found.contains_key(s)).collect();
        assert!(
            lost.is_empty(),
            "round {round}: acknowledged but lost: {lost:?}"
        );
        assert!(
            found.values().all(|&c| c == 1),
            "round {round}: no record twice"
        );
        eprintln!(
            "round {round}: {} acknowledged so far, {} replayed, torn tail: {:?}",
            acked.len(),
            found.len(),
            report.torn_tail.map(|t| t.reason)
        );
    }
}
