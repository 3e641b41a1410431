//! The binary on a table whose live SSTable is crypta-sstable's golden format 1 file: get and
//! scan read it, `upgradesstables` (without `-a`) rewrites exactly that file to the current
//! format and leaves the current one alone, `verify` passes, a second run rewrites nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod common;

use common::{init, ok, run};

use std::path::{Path, PathBuf};

/// `get` of a key that is not there: exit status 1, nothing on stdout.
fn absent(config: &Path, key: &str) {
    let o = run(config, &["get", "ks.old", key]);
    assert_eq!(o.status.code(), Some(1), "{key}");
    assert!(o.stdout.is_empty(), "{key}");
}

/// The SSTables of `ks.old` in the data directory, oldest first (names end in a zero-padded
/// file number).
fn sstables(data: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(data)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.starts_with("ks-old-") && name.ends_with(".db")
        })
        .collect();
    files.sort();
    files
}

/// The format version byte of an SSTable's header (offset 8, `docs/format/sstable.md`).
fn format_version(path: &Path) -> u8 {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..8], b"CRYPTSST");
    bytes[8]
}

/// What `scan` prints for the golden rows `lo <= i < hi` (as in
/// `crates/sstable/tests/golden.rs`: a tombstone when `i % 11 == 3`).
fn golden_scan(lo: u32, hi: u32) -> String {
    (lo..hi)
        .filter(|i| i % 11 != 3)
        .map(|i| {
            let repeat = usize::try_from(i % 9).unwrap();
            format!("golden-{i:05}\t{}\n", format!("value {i};").repeat(repeat))
        })
        .collect()
}

fn check_rows(config: &Path) {
    assert_eq!(
        ok(config, &["get", "ks.old", "golden-00010"]),
        "value 10;\n"
    );
    assert_eq!(
        ok(config, &["get", "ks.old", "golden-00299"]),
        "value 299;".repeat(2) + "\n"
    );
    // Present with an empty value.
    assert_eq!(ok(config, &["get", "ks.old", "golden-00009"]), "\n");
    absent(config, "golden-00003"); // a tombstone in the golden file
    absent(config, "golden-00300");
    absent(config, "planted-over"); // in the file the golden one replaced
    assert_eq!(ok(config, &["get", "ks.old", "written-now"]), "current\n");
    let part = ok(
        config,
        &[
            "scan",
            "ks.old",
            "--start",
            "golden-00010",
            "--end",
            "golden-00030",
        ],
    );
    assert_eq!(part, golden_scan(10, 30));
    assert_eq!(part.lines().count(), 18);
    let all = ok(config, &["scan", "ks.old"]);
    assert_eq!(all, golden_scan(0, 300) + "written-now\tcurrent\n");
}

#[test]
fn upgradesstables_rewrites_a_format_1_sstable() {
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sstable/tests/data/v1-plain.db");
    let dir = tempfile::tempdir().unwrap();
    let config = init(dir.path());
    let data = dir.path().join("data");
    ok(
        &config,
        &[
            "cql",
            "CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}",
        ],
    );
    // Options as the golden file records them, so only its format makes it outdated.
    ok(
        &config,
        &[
            "cql",
            "CREATE TABLE ks.old (id text PRIMARY KEY, v text) WITH compression = {'enabled': 'false'}",
        ],
    );
    ok(&config, &["put", "ks.old", "planted-over", "gone"]);
    ok(&config, &["flush", "ks", "old"]);
    ok(&config, &["put", "ks.old", "written-now", "current"]);
    ok(&config, &["flush", "ks", "old"]);
    let files = sstables(&data);
    assert_eq!(files.len(), 2, "{files:?}");
    std::fs::write(&files[0], std::fs::read(&golden).unwrap()).unwrap();
    assert_eq!(format_version(&files[0]), 1);
    assert_eq!(format_version(&files[1]), 3);

    check_rows(&config);
    let up = ok(&config, &["upgradesstables", "ks", "old"]);
    assert!(
        up.starts_with("upgradesstables: rewrote 1 SSTables (300 entries), 1 already current, in "),
        "{up}"
    );
    let after = sstables(&data);
    assert_eq!(after.len(), 2, "{after:?}");
    assert_eq!(after[0], files[1], "the current SSTable was rewritten");
    assert!(!files[0].exists());
    assert_eq!(format_version(&after[1]), 3);
    check_rows(&config);
    assert_eq!(
        ok(&config, &["verify", "ks", "old"]),
        "verified 2 SSTables: every chunk and component checks\n"
    );
    let up = ok(&config, &["upgradesstables", "ks", "old"]);
    assert!(
        up.starts_with("upgradesstables: rewrote 0 SSTables (0 entries), 2 already current, in "),
        "{up}"
    );
    assert_eq!(sstables(&data), after);
}
