#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on errors"
)]

//! A dispatch that fails mid-way resumes at the first undelivered hint: in the same
//! process, after a restart, and after a crash (at least once, at most `cursor_every`
//! redelivered). Files are deleted only when every hint in them is delivered.

mod common;

use common::*;
use crypta_hints::{Delivery, HintsConfig};

#[test]
fn failures_mid_way_resume_after_restart_without_loss_or_repeat() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new();
    let keys = keys(dir.path());
    let cfg = HintsConfig {
        max_file_size: 8192,
        ..config(&clock, aes_cbc())
    };
    let store = open(dir.path(), cfg.clone(), &keys);
    for n in 0..120 {
        store
            .write_hint(host(2), &mutation(n), clock.now())
            .unwrap();
    }
    store.flush().unwrap();
    let files_before = hints_files(dir.path()).len();
    assert!(files_before > 2);

    let mut delivered: Vec<u64> = Vec::new();
    // Fails on the 30th hint: 29 delivered.
    let mut calls = 0;
    let r = store
        .dispatch(host(2), |h| {
            calls += 1;
            if calls == 30 {
                return Delivery::Failed;
            }
            delivered.push(number(h.mutation));
            Delivery::Delivered
        })
        .unwrap();
    assert!(r.stopped_at_failure);
    assert_eq!(r.delivered, 29);
    assert_eq!(store.pending()[0].hints, 120 - 29);
    // Files holding undelivered hints are still there.
    let left = hints_files(dir.path()).len();
    assert_eq!(left, files_before - r.files_deleted);

    // Same process: resumes at hint 29, fails again 10 later.
    let mut calls = 0;
    store
        .dispatch(host(2), |h| {
            calls += 1;
            if calls == 11 {
                return Delivery::Failed;
            }
            delivered.push(number(h.mutation));
            Delivery::Delivered
        })
        .unwrap();
    assert_eq!(delivered, (0..39).collect::<Vec<_>>());

    // Restart: the persisted cursor says where to go on.
    drop(store);
    let store = open(dir.path(), cfg, &keys);
    assert_eq!(store.pending()[0].hints, 120 - 39);
    let (rest, report) = take_all(&store, host(2));
    assert!(!report.stopped_at_failure);
    delivered.extend(rest);
    assert_eq!(
        delivered,
        (0..120).collect::<Vec<_>>(),
        "in order, none lost, none twice"
    );
    assert!(hints_files(dir.path()).is_empty());
    assert!(store.pending().is_empty());
}

#[test]
fn a_crash_mid_dispatch_redelivers_at_most_cursor_every() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new();
    let keys = keys(dir.path());
    let cfg = HintsConfig {
        cursor_every: 8,
        ..config(&clock, aes_cbc())
    };
    let store = open(dir.path(), cfg.clone(), &keys);
    for n in 0..50 {
        store
            .write_hint(host(3), &mutation(n), clock.now())
            .unwrap();
    }
    store.flush().unwrap();
    // The dispatcher dies (a panic in the callback stands for the process dying) after 21
    // deliveries: the cursor was last persisted after 16.
    let mut seen = 0;
    let crash = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        store
            .dispatch(host(3), |_| {
                seen += 1;
                assert!(seen <= 21, "the process dies here");
                Delivery::Delivered
            })
            .unwrap();
    }));
    assert!(crash.is_err());
    std::mem::forget(store); // no orderly close
    let store = open(dir.path(), cfg, &keys);
    let (rest, _) = take_all(&store, host(3));
    assert_eq!(rest, (16..50).collect::<Vec<_>>());
}
