#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on errors"
)]

//! Hints for several hosts, plain and encrypted, are delivered in order to the right host,
//! survive a restart, and their files are deleted once delivered.

mod common;

use common::*;
use crypta_commitlog::{LogKind, summarize_file};
use crypta_compression::CompressionOptions;
use crypta_hints::{HintWrite, HintsConfig, HintsError, HintsStore};

fn round_trip(compression: CompressionOptions, encrypted: bool) {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new();
    let keys = keys(dir.path());
    let store = open(dir.path(), config(&clock, compression.clone()), &keys);
    for n in 0..300u64 {
        let h = host((n % 3) as u8);
        assert_eq!(
            store.write_hint(h, &mutation(n), clock.now()).unwrap(),
            HintWrite::Stored
        );
    }
    store.flush().unwrap();
    // Host 0 is dispatched now; hosts 1 and 2 after a restart.
    let (got, report) = take_all(&store, host(0));
    assert_eq!(got, (0..300).filter(|n| n % 3 == 0).collect::<Vec<_>>());
    assert_eq!(report.delivered, 100);
    assert_eq!(report.files_deleted, 1);
    drop(store);

    for f in hints_files(dir.path()) {
        let bytes = std::fs::read(&f).unwrap();
        let s = summarize_file(&f, LogKind::Hints, &bytes).unwrap();
        let t = s.trailer.expect("sealed at close");
        assert_eq!(t.records, 100);
        assert_eq!(t.key_ids.len(), usize::from(encrypted));
        if encrypted {
            assert!(
                !bytes.windows(8).any(|w| w == b"mutation"),
                "plaintext visible"
            );
        }
    }
    let store = open(dir.path(), config(&clock, compression), &keys);
    for h in [1u8, 2] {
        let (got, _) = take_all(&store, host(h));
        let want: Vec<u64> = (0..300).filter(|n| n % 3 == u64::from(h)).collect();
        assert_eq!(got, want);
    }
    assert!(store.pending().is_empty());
    assert!(
        hints_files(dir.path()).is_empty(),
        "every file delivered and deleted"
    );
    assert_eq!(take_all(&store, host(1)).0, Vec::<u64>::new());
}

#[test]
fn plain_hints_round_trip() {
    round_trip(CompressionOptions::default(), false);
}

#[test]
fn encrypted_hints_round_trip() {
    round_trip(aes_cbc(), true);
}

#[test]
fn hints_written_during_a_dispatch_wait_for_the_next_one() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new();
    let keys = keys(dir.path());
    let store = open(dir.path(), config(&clock, aes_cbc()), &keys);
    for n in 0..10 {
        store
            .write_hint(host(1), &mutation(n), clock.now())
            .unwrap();
    }
    let (got, _) = take_all(&store, host(1));
    assert_eq!(got, (0..10).collect::<Vec<_>>());
    for n in 10..20 {
        store
            .write_hint(host(1), &mutation(n), clock.now())
            .unwrap();
    }
    let (got, _) = take_all(&store, host(1));
    assert_eq!(got, (10..20).collect::<Vec<_>>());
}

#[test]
fn files_roll_at_the_size_limit_and_are_dispatched_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new();
    let keys = keys(dir.path());
    let cfg = HintsConfig {
        max_file_size: 8192,
        ..config(&clock, aes_cbc())
    };
    let store = open(dir.path(), cfg.clone(), &keys);
    for n in 0..200 {
        store
            .write_hint(host(7), &mutation(n), clock.now())
            .unwrap();
    }
    store.flush().unwrap();
    let p = store.pending();
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].hints, 200);
    assert!(p[0].files > 3, "{p:?}");
    let on_disk: u64 = hints_files(dir.path())
        .iter()
        .map(|f| std::fs::metadata(f).unwrap().len())
        .sum();
    assert_eq!(p[0].bytes, on_disk);
    let (got, report) = take_all(&store, host(7));
    assert_eq!(got, (0..200).collect::<Vec<_>>());
    assert_eq!(report.files_deleted, p[0].files);
    let err = store
        .write_hint(host(7), &vec![0; 5000], clock.now())
        .unwrap_err();
    assert!(matches!(err, HintsError::HintTooLarge { .. }), "{err}");
}

#[test]
fn encrypting_without_keys_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let err =
        HintsStore::open(dir.path(), config(&ManualClock::new(), aes_cbc()), None).unwrap_err();
    assert!(
        err.to_string().contains("key provider is required"),
        "{err}"
    );
}
