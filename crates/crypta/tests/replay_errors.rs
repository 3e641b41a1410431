//! A commit log segment damaged in its middle (not a torn tail) stops the engine from opening
//! with an error naming the segment and the way out; `commitlog_ignore_replay_errors: true`
//! opens it without that segment's records and keeps every other one.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod common;

use common::{KS, config};
use crypta::{Engine, Error};

#[test]
fn a_damaged_segment_stops_open_unless_told_to_skip_it() {
    let dir = tempfile::tempdir().unwrap();
    let small = "commitlog_segment_size_in_mb: 1\n";
    let e = Engine::open(config(dir.path(), true, small)).unwrap();
    e.execute_cql(KS).unwrap();
    e.execute_cql("CREATE TABLE ks.t (id text PRIMARY KEY, v text)")
        .unwrap();
    // About 3 MiB of rows: three segments or more, none flushed.
    let value = vec![b'v'; 1000];
    let rows = 3000u32;
    for i in 0..rows {
        e.put("ks.t", format!("k{i:05}").as_bytes(), &value)
            .unwrap();
    }
    drop(e); // no close: the rows are in the commit log only
    let mut segments: Vec<_> = std::fs::read_dir(dir.path().join("commitlog"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    segments.sort();
    assert!(segments.len() >= 3, "{segments:?}");
    let first = &segments[0];
    let mut bytes = std::fs::read(first).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    std::fs::write(first, &bytes).unwrap();

    // `keys usage` (without opening the engine) lists the damaged segment as unknown and
    // the other segments under the system key.
    let usage = Engine::offline_key_usage(&config(dir.path(), true, small)).unwrap();
    assert_eq!(
        usage.unreadable.iter().map(|(p, _)| p).collect::<Vec<_>>(),
        [first],
        "{usage:?}"
    );
    let listed: Vec<_> = usage.by_key.values().flatten().collect();
    assert!(
        segments[1..].iter().all(|s| listed.contains(&s)),
        "{usage:?}"
    );

    let err = match Engine::open(config(dir.path(), true, small)) {
        Err(e) => e,
        Ok(_) => panic!("a damaged segment must stop the engine from opening"),
    };
    assert!(matches!(err, Error::Replay { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains(&first.file_name().unwrap().to_string_lossy().to_string()),
        "{text}"
    );
    assert!(
        text.contains("commitlog_ignore_replay_errors: true"),
        "{text}"
    );

    let skip = format!("{small}commitlog_ignore_replay_errors: true\n");
    let e = Engine::open(config(dir.path(), true, &skip)).unwrap();
    let mut present = 0u32;
    for i in 0..rows {
        if let Some(v) = e.get("ks.t", format!("k{i:05}").as_bytes()).unwrap() {
            assert_eq!(v, value);
            present += 1;
        }
    }
    // The first segment's rows are gone, every later one's are there: the last row is.
    assert!(present < rows && present > rows / 3, "{present} of {rows}");
    assert!(
        e.get("ks.t", format!("k{:05}", rows - 1).as_bytes())
            .unwrap()
            .is_some()
    );
    e.close().unwrap();
    // Flushed and closed: the engine opens with the default again.
    let e = Engine::open(config(dir.path(), true, small)).unwrap();
    assert!(
        e.get("ks.t", format!("k{:05}", rows - 1).as_bytes())
            .unwrap()
            .is_some()
    );
}
