#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on errors"
)]

//! The writer refuses bad input, never overwrites a table, and leaves nothing that looks
//! like a table until `finish` has synced and renamed it.

mod common;

use common::*;
use crypta_sstable::{Entry, SstableError, SstableWriter, WriterOptions};

fn files(dir: &tempfile::TempDir) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "keys")
        .collect();
    v.sort();
    v
}

#[test]
fn out_of_order_and_duplicate_keys_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let keys = provider(dir.path());
    let mut w =
        SstableWriter::create(at(&dir, "t.db"), &plain(4), keys, WriterOptions::default()).unwrap();
    w.add(b"b", &Entry::value(b"1".to_vec(), 1)).unwrap();
    let e = w.add(b"b", &Entry::value(b"2".to_vec(), 2)).unwrap_err();
    assert!(
        matches!(
            e,
            SstableError::OutOfOrder {
                entry: 1,
                duplicate: true,
                ..
            }
        ),
        "{e:?}"
    );
    let e = w.add(b"a", &Entry::value(b"2".to_vec(), 2)).unwrap_err();
    assert!(
        matches!(
            e,
            SstableError::OutOfOrder {
                duplicate: false,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(
        !e.to_string().contains("\"a\""),
        "errors do not show keys: {e}"
    );
    // A refused entry does not spoil the writer.
    w.add(b"c", &Entry::value(b"3".to_vec(), 3)).unwrap();
    assert_eq!(w.finish().unwrap().metadata.entry_count, 2);
}

#[test]
fn oversized_keys_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let keys = provider(dir.path());
    let mut w =
        SstableWriter::create(at(&dir, "t.db"), &plain(4), keys, WriterOptions::default()).unwrap();
    let e = w.add(&vec![0; 70_000], &Entry::tombstone(1)).unwrap_err();
    assert!(
        matches!(
            e,
            SstableError::TooLarge {
                what: "key",
                len: 70_000,
                ..
            }
        ),
        "{e:?}"
    );
}

#[test]
fn nothing_visible_until_finish_and_no_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let keys = provider(dir.path());
    let path = at(&dir, "t.db");
    let mut w =
        SstableWriter::create(&path, &aes_cbc(4), keys.clone(), WriterOptions::default()).unwrap();
    for i in 0..5000 {
        w.add(&key(i), &entry(i)).unwrap();
    }
    assert!(!path.exists(), "the table is not visible before finish");
    assert_eq!(files(&dir), vec!["t.db.tmp".to_string()]);
    // What a crash now would leave is not a table.
    let partial = at(&dir, "t.db.tmp");
    assert!(crypta_sstable::Sstable::open(&partial, keys.clone(), None).is_err());
    w.finish().unwrap();
    assert_eq!(files(&dir), vec!["t.db".to_string()]);
    let again = SstableWriter::create(&path, &plain(4), keys.clone(), WriterOptions::default())
        .unwrap_err();
    assert!(
        matches!(again, SstableError::AlreadyExists { .. }),
        "{again:?}"
    );
    check_n(&open(&path, keys), 5000);
}

#[test]
fn dropping_an_unfinished_writer_removes_its_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    let keys = provider(dir.path());
    let mut w =
        SstableWriter::create(at(&dir, "t.db"), &plain(4), keys, WriterOptions::default()).unwrap();
    w.add(b"a", &Entry::tombstone(1)).unwrap();
    drop(w);
    assert!(files(&dir).is_empty(), "{:?}", files(&dir));
}
