#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on errors"
)]

//! A crash mid-write cuts a host's current hints file anywhere: truncated at every byte
//! offset of its last hint, reopening recovers every hint before it (and the last one only
//! when whole), and nothing else.

mod common;

use std::path::Path;

use common::*;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.path().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

#[test]
fn truncation_at_every_offset_of_the_last_hint_keeps_the_hints_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new();
    let keys = keys(dir.path());
    let store = open(dir.path(), config(&clock, aes_cbc()), &keys);
    for n in 0..20 {
        store
            .write_hint(host(5), &mutation(n), clock.now())
            .unwrap();
        store.flush().unwrap(); // each hint its own chunk
    }
    let file = hints_files(dir.path()).pop().unwrap();
    let before_last = std::fs::metadata(&file).unwrap().len();
    // A short last hint keeps the number of reopenings (a few fsyncs each) small.
    store
        .write_hint(host(5), b"mutation 20 ", clock.now())
        .unwrap();
    store.flush().unwrap();
    let end = std::fs::metadata(&file).unwrap().len();
    std::mem::forget(store); // crash: the file stays unsealed

    let name = file.file_name().unwrap().to_owned();
    for cut in before_last..=end {
        let copy = dir.path().join(format!("copy-{cut}"));
        copy_dir(&dir.path().join("hints"), &copy.join("hints"));
        std::fs::OpenOptions::new()
            .write(true)
            .open(copy.join("hints").join(&name))
            .unwrap()
            .set_len(cut)
            .unwrap();
        let store = open(&copy, config(&clock, aes_cbc()), &keys);
        let want = if cut == end { 21 } else { 20 };
        assert_eq!(store.pending()[0].hints, want, "cut at {cut}");
        let (got, _) = take_all(&store, host(5));
        assert_eq!(got, (0..want).collect::<Vec<_>>(), "cut at {cut}");
        drop(store);
        std::fs::remove_dir_all(&copy).unwrap();
    }
}
