#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on errors"
)]

//! The checked-in hints of format version 1 (`tests/data/`, made by the `make_golden_hints`
//! example) still read back exactly: a sealed AES-CBC file with its delivery cursor, and a
//! file a crash left unsealed with a torn tail. A format change shows up here.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;

use common::*;
use crypta_hints::{Delivery, HintsStore, HostId};
use crypta_keys::{KeyProvider, LocalKeyProvider, Timestamp};

const GOLDEN_T0: u64 = 1_800_000_000_000;

fn golden_mutation(i: u64) -> Vec<u8> {
    format!("golden hint {i};")
        .repeat(i as usize % 4 + 1)
        .into_bytes()
}

#[test]
fn the_v1_golden_hints_dispatch_exactly() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("hints")).unwrap();
    for e in std::fs::read_dir(data.join("hints")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), dir.path().join("hints").join(e.file_name())).unwrap();
    }
    let keyfile = dir.path().join("keys");
    std::fs::copy(data.join("v1-test-keys"), &keyfile).unwrap();
    std::fs::set_permissions(&keyfile, std::fs::Permissions::from_mode(0o600)).unwrap();
    let keys: Arc<dyn KeyProvider> = Arc::new(LocalKeyProvider::open(keyfile).unwrap());

    let clock = ManualClock::new();
    clock
        .0
        .store(GOLDEN_T0 + 60_000, std::sync::atomic::Ordering::SeqCst);
    let store = HintsStore::open(
        dir.path().join("hints"),
        config(&clock, aes_cbc()),
        Some(keys),
    )
    .unwrap();
    let pending: Vec<(HostId, u64)> = store.pending().iter().map(|p| (p.host, p.hints)).collect();
    assert_eq!(
        pending,
        vec![(HostId([0x11; 16]), 10), (HostId([0x22; 16]), 4)]
    );
    for (host, range) in [(0x11u8, 0..10u64), (0x22, 10..14)] {
        let mut got = Vec::new();
        let report = store
            .dispatch(HostId([host; 16]), |h| {
                got.push((h.created, h.mutation.to_vec()));
                Delivery::Delivered
            })
            .unwrap();
        let want: Vec<_> = range
            .map(|i| (Timestamp(GOLDEN_T0 + i * 1000), golden_mutation(i)))
            .collect();
        assert_eq!(got, want);
        assert_eq!(report.files_deleted, 1);
    }
    assert!(store.pending().is_empty());
}
