#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on errors"
)]

//! Hints older than `max_hint_window` are not stored, not delivered, and whole expired
//! files are dropped.

mod common;

use std::time::Duration;

use common::*;
use crypta_hints::{HintWrite, HintsConfig};
use crypta_keys::Timestamp;

const HOUR: Duration = Duration::from_secs(3600);

#[test]
fn the_default_window_is_three_hours() {
    assert_eq!(HintsConfig::default().max_hint_window, 3 * HOUR);
}

#[test]
fn hints_past_the_window_are_refused_skipped_and_purged() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new();
    let keys = keys(dir.path());
    let cfg = config(&clock, aes_cbc());
    let store = open(dir.path(), cfg.clone(), &keys);
    let now = clock.now();
    // Already too old: not stored.
    let old = Timestamp(now.millis() - 3 * 3600 * 1000);
    assert_eq!(
        store.write_hint(host(1), &mutation(0), old).unwrap(),
        HintWrite::Expired
    );
    // Created 2h59m ago, 1h ago, and now.
    let t1 = Timestamp(now.millis() - (3 * 3600 - 60) * 1000);
    let t2 = Timestamp(now.millis() - 3600 * 1000);
    for n in 1..=10 {
        store.write_hint(host(1), &mutation(n), t1).unwrap();
    }
    for n in 11..=20 {
        store.write_hint(host(1), &mutation(n), t2).unwrap();
    }
    for n in 21..=30 {
        store.write_hint(host(1), &mutation(n), now).unwrap();
    }
    assert_eq!(store.pending()[0].hints, 30);
    // Two minutes on, the first ten are past the window: skipped, counted.
    clock.advance(Duration::from_secs(120));
    let (got, report) = take_all(&store, host(1));
    assert_eq!(got, (11..=30).collect::<Vec<_>>());
    assert_eq!(report.expired, 10);
    assert_eq!(report.delivered, 20);
}

#[test]
fn whole_expired_files_are_dropped_without_delivery() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new();
    let keys = keys(dir.path());
    let cfg = HintsConfig {
        max_file_size: 4096,
        ..config(&clock, aes_cbc())
    };
    let store = open(dir.path(), cfg.clone(), &keys);
    for n in 0..60 {
        store
            .write_hint(host(4), &mutation(n), clock.now())
            .unwrap();
    }
    store.close().unwrap(); // the newer hints go to a file of their own
    let store = open(dir.path(), cfg.clone(), &keys);
    clock.advance(2 * HOUR);
    for n in 60..70 {
        store
            .write_hint(host(4), &mutation(n), clock.now())
            .unwrap();
    }
    store.close().unwrap();
    let store = open(dir.path(), cfg, &keys);
    let files = hints_files(dir.path()).len();
    assert!(files >= 3, "{files}");
    // 1h30 later the first batch is past the window; the last file is not.
    clock.advance(HOUR + HOUR / 2);
    let purged = store.purge_expired().unwrap();
    assert_eq!(purged.len(), files - 1, "every file but the newest");
    assert!(purged.iter().all(|p| !p.exists()));
    assert_eq!(store.pending()[0].hints, 10);
    let (got, report) = take_all(&store, host(4));
    assert_eq!(got, (60..70).collect::<Vec<_>>());
    assert_eq!(report.expired, 0);
    // Expired files not purged beforehand are dropped by dispatch, unread.
    for n in 70..80 {
        store
            .write_hint(host(4), &mutation(n), clock.now())
            .unwrap();
    }
    store.flush().unwrap();
    clock.advance(4 * HOUR);
    let (got, report) = take_all(&store, host(4));
    assert!(got.is_empty());
    assert_eq!((report.expired, report.files_deleted), (10, 1));
}
