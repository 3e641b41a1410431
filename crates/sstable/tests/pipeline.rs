#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on errors"
)]

//! The writer's encoder threads: an encoding error reaches the caller (on `add` or `finish`)
//! with the file name, nothing of the failed table stays, and no thread outlives a writer,
//! whether it finished, failed or was dropped, with one encoder or several. One test in this
//! file, so that no other test of this binary starts threads while it counts them.

mod common;

use std::num::NonZeroUsize;
use std::sync::Arc;

use common::*;
use crypta_keys::{
    Algorithm, Key, KeyError, KeyId, KeyInfo, KeyMaterial, KeyProvider, KeySpec, KeyState,
    Timestamp,
};
use crypta_sstable::{Entry, MAX_AUTO_ENCODER_THREADS, SstableError, SstableWriter, WriterOptions};

/// Hands out a DES key whatever is asked for: an AES table's encoder refuses it.
#[derive(Debug)]
struct WrongKey(Arc<Key>);

impl WrongKey {
    fn new() -> Self {
        let info = KeyInfo {
            id: KeyId::new("wrong-algorithm").unwrap(),
            name: None,
            algorithm: Algorithm::Des,
            strength: 56,
            state: KeyState::Active,
            namespace: None,
            created: Timestamp::now(),
            activated: Some(Timestamp::now()),
            protect_stop: None,
            deactivated: None,
        };
        WrongKey(Arc::new(
            Key::new(info, KeyMaterial::from_slice(&[7u8; 8])).unwrap(),
        ))
    }
}

impl KeyProvider for WrongKey {
    fn describe(&self) -> String {
        "a provider of wrong keys".into()
    }
    fn current_key(&self, _: &KeySpec) -> Result<Arc<Key>, KeyError> {
        Ok(self.0.clone())
    }
    fn key_by_id(&self, _: &KeyId) -> Result<Arc<Key>, KeyError> {
        Ok(self.0.clone())
    }
}

/// Threads of this process (Linux).
/// The thread count once it has come down to `expected`, or after 5 s. A joined thread can
/// still be counted for a moment: `join` returns when the thread has finished running, a
/// little before the kernel takes it off the process's task list. A leaked thread never
/// leaves it, so the assertions that follow still catch one.
fn threads_settled(expected: usize) -> usize {
    for _ in 0..500 {
        if threads() <= expected {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    threads()
}

fn threads() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

fn files(dir: &tempfile::TempDir) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "keys")
        .collect();
    v.sort();
    v
}

fn is_encode_error_naming(e: &SstableError, name: &str) -> bool {
    matches!(e, SstableError::Encode { file, .. } if file.ends_with(name))
}

#[test]
fn encoder_errors_reach_the_caller_and_no_thread_outlives_a_writer() {
    let dir = tempfile::tempdir().unwrap();
    let before = threads();
    let wrong: Arc<dyn KeyProvider> = Arc::new(WrongKey::new());

    // 1. The encoder fails on the first chunk: a later `add` says so, naming the file. The
    //    caller can get at most a few chunks ahead (the queue and the buffers are bounded).
    let mut w = SstableWriter::create(
        at(&dir, "a.db"),
        &aes_cbc(4),
        wrong.clone(),
        WriterOptions::default(),
    )
    .unwrap();
    let mut failed = None;
    for i in 0..100_000 {
        if let Err(e) = w.add(&key(i), &Entry::value(vec![1; 100], 1)) {
            failed = Some((i, e));
            break;
        }
    }
    let (at_entry, e) = failed.expect("the encoder's error reaches add");
    assert!(is_encode_error_naming(&e, "a.db.tmp"), "{e:?}");
    assert!(e.to_string().contains("a.db.tmp"), "{e}");
    // About 35 entries a chunk: the error shows within the chunks in flight (at most 18
    // for CBC, whose encoder takes 8 chunks at a time).
    assert!(at_entry < 35 * 19, "error seen only at entry {at_entry}");
    let again = w.add(&key(1_000_000), &Entry::tombstone(1)).unwrap_err();
    assert!(matches!(again, SstableError::Poisoned { .. }), "{again:?}");
    assert!(matches!(
        w.finish().unwrap_err(),
        SstableError::Poisoned { .. }
    ));
    assert!(files(&dir).is_empty(), "{:?}", files(&dir));
    assert_eq!(
        threads_settled(before),
        before,
        "the failed writer's thread is gone"
    );

    // 2. Less than a chunk: the error shows at `finish`.
    let mut w = SstableWriter::create(
        at(&dir, "b.db"),
        &aes_cbc(4),
        wrong.clone(),
        WriterOptions::default(),
    )
    .unwrap();
    w.add(b"k", &Entry::value(vec![1; 10], 1)).unwrap();
    let e = w.finish().unwrap_err();
    assert!(is_encode_error_naming(&e, "b.db.tmp"), "{e:?}");
    assert!(files(&dir).is_empty(), "{:?}", files(&dir));
    assert_eq!(threads_settled(before), before);

    // 3. Dropped unfinished with chunks queued: the thread stops, the file goes.
    let keys = provider(dir.path());
    let mut w = SstableWriter::create(
        at(&dir, "c.db"),
        &aes_cbc(4),
        keys.clone(),
        WriterOptions::default(),
    )
    .unwrap();
    for i in 0..20_000 {
        w.add(&key(i), &entry(i)).unwrap();
    }
    drop(w);
    assert!(files(&dir).is_empty(), "{:?}", files(&dir));
    assert_eq!(threads_settled(before), before);

    // 4. Finished: the table is whole (frames in order) and the thread is gone.
    let info = write_n(&at(&dir, "d.db"), &aes_cbc(4), keys.clone(), 20_000);
    assert_eq!(info.metadata.entry_count, 20_000);
    assert_eq!(threads_settled(before), before);
    let t = open(&info.path, keys.clone());
    check_n(&t, 20_000);
    t.verify().unwrap();

    // 5. Huge values (many chunks each) and an exactly full last chunk.
    let mut w = SstableWriter::create(
        at(&dir, "e.db"),
        &aes_cbc(4),
        keys.clone(),
        WriterOptions::default(),
    )
    .unwrap();
    let big = |i: u8| vec![i; 100_000];
    for i in 0..5u8 {
        w.add(&[i], &Entry::value(big(i), 1)).unwrap();
    }
    let info = w.finish().unwrap();
    let t = open(&info.path, keys.clone());
    for i in 0..5u8 {
        assert_eq!(t.get(&[i]).unwrap(), Some(Entry::value(big(i), 1)));
    }
    t.verify().unwrap();
    assert_eq!(threads_settled(before), before);

    // 6. Several encoders, all failing: the first error reaches `add`, all threads go.
    let deflate_cbc = options(
        "EncryptingDeflateCompressor",
        Some(("AES/CBC/PKCS5Padding", 128)),
        4,
    );
    let four = WriterOptions {
        encoder_threads: NonZeroUsize::new(4),
        ..WriterOptions::default()
    };
    let mut w = SstableWriter::create(at(&dir, "f.db"), &deflate_cbc, wrong.clone(), four).unwrap();
    assert_eq!(threads(), before + 4, "four encoder threads");
    let mut failed = None;
    for i in 0..100_000 {
        if let Err(e) = w.add(&key(i), &Entry::value(vec![1; 100], 1)) {
            failed = Some((i, e));
            break;
        }
    }
    let (at_entry, e) = failed.expect("the encoders' error reaches add");
    assert!(is_encode_error_naming(&e, "f.db.tmp"), "{e:?}");
    // 4 encoders hold at most 2 x 4 + 2 chunks.
    assert!(at_entry < 35 * 12, "error seen only at entry {at_entry}");
    assert_eq!(threads_settled(before), before, "joined on the error");
    drop(w);
    assert_eq!(files(&dir), ["d.db", "e.db"], "nothing of f.db");

    // 7. Several encoders, dropped mid-write with chunks queued: all threads stop.
    let deflate = options("DeflateCompressor", None, 4);
    let mut w = SstableWriter::create(at(&dir, "g.db"), &deflate, keys.clone(), four).unwrap();
    for i in 0..20_000 {
        w.add(&key(i), &entry(i)).unwrap();
    }
    assert_eq!(threads(), before + 4, "four encoder threads");
    drop(w);
    assert_eq!(files(&dir), ["d.db", "e.db"], "nothing of g.db");
    assert_eq!(threads_settled(before), before);

    // 8. The default for a compressing codec: as many encoders as cores (at most 4), all
    //    joined at `finish`; one for a codec that does not compress.
    let cores = std::thread::available_parallelism().unwrap().get();
    let mut w = SstableWriter::create(
        at(&dir, "h.db"),
        &deflate,
        keys.clone(),
        WriterOptions::default(),
    )
    .unwrap();
    assert_eq!(threads(), before + cores.min(MAX_AUTO_ENCODER_THREADS));
    w.add(b"k", &Entry::value(vec![1; 10], 1)).unwrap();
    w.finish().unwrap();
    assert_eq!(threads_settled(before), before);
    let w = SstableWriter::create(
        at(&dir, "i.db"),
        &aes_cbc(4),
        keys.clone(),
        WriterOptions::default(),
    )
    .unwrap();
    assert_eq!(threads(), before + 1);
    drop(w);
    assert_eq!(threads_settled(before), before);
}
