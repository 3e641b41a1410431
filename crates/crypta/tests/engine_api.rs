//! The Rust API: schema, writes, reads, restarts, batches, compare-and-set, locks, errors.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod common;

use std::ops::Bound;

use common::{KS, config, open};
use crypta::{BatchOp, Engine, Error};

#[test]
fn put_get_delete_scan_survive_restart_with_and_without_flush() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path(), false);
    e.execute_cql(KS).unwrap();
    e.execute_cql("CREATE TABLE ks.t (id text PRIMARY KEY, v text) WITH compression = {'class': 'Encryptor', 'cipher_algorithm': 'AES/GCM/NoPadding'}").unwrap();
    for i in 0..500u32 {
        e.put(
            "ks.t",
            format!("k{i:04}").as_bytes(),
            format!("v{i}").as_bytes(),
        )
        .unwrap();
    }
    e.flush(&[]).unwrap();
    for i in 0..500u32 {
        if i % 2 == 0 {
            e.delete("ks.t", format!("k{i:04}").as_bytes()).unwrap();
        } else if i % 3 == 0 {
            e.put("ks.t", format!("k{i:04}").as_bytes(), b"updated")
                .unwrap();
        }
    }
    let check = |e: &Engine| {
        assert_eq!(e.get("ks.t", b"k0000").unwrap(), None);
        assert_eq!(e.get("ks.t", b"k0003").unwrap().unwrap(), b"updated");
        assert_eq!(e.get("ks.t", b"k0001").unwrap().unwrap(), b"v1");
        let rows = e
            .scan(
                "ks.t",
                Bound::Included(b"k0100".as_slice()),
                Bound::Excluded(b"k0200".as_slice()),
                None,
            )
            .unwrap();
        assert_eq!(rows.len(), 50);
        assert!(rows.windows(2).all(|w| w[0].0 < w[1].0));
        let limited = e
            .scan("ks.t", Bound::Unbounded, Bound::Unbounded, Some(7))
            .unwrap();
        assert_eq!(limited.len(), 7);
    };
    check(&e);
    // Drop without close: the commit log is all there is for the deletes.
    drop(e);
    let e = open(dir.path(), false);
    check(&e);
    e.compact(&[]).unwrap();
    check(&e);
    e.close().unwrap();
    let e = open(dir.path(), false);
    check(&e);
}

#[test]
fn second_opener_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let _e = open(dir.path(), false);
    let err = Engine::open(config(dir.path(), false, "")).unwrap_err();
    assert!(matches!(err, Error::Locked { .. }), "{err}");
    assert!(
        err.to_string().contains("in use by another crypta process"),
        "{err}"
    );
}

#[test]
fn logged_batches_and_compare_and_set() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path(), true);
    e.execute_cql(KS).unwrap();
    e.execute_cql("CREATE TABLE ks.a (id text PRIMARY KEY, v text)")
        .unwrap();
    e.execute_cql("CREATE TABLE ks.b (id text PRIMARY KEY, v text)")
        .unwrap();
    e.batch(&[
        BatchOp::Put {
            table: "ks.a".into(),
            key: b"x".to_vec(),
            value: b"1".to_vec(),
        },
        BatchOp::Put {
            table: "ks.b".into(),
            key: b"y".to_vec(),
            value: b"2".to_vec(),
        },
    ])
    .unwrap();
    assert_eq!(e.get("ks.a", b"x").unwrap().unwrap(), b"1");
    assert_eq!(e.get("ks.b", b"y").unwrap().unwrap(), b"2");
    // The batchlog is empty once the batch is applied.
    assert!(
        e.scan("system.batchlog", Bound::Unbounded, Bound::Unbounded, None)
            .unwrap()
            .is_empty()
    );

    assert!(
        e.compare_and_set("ks.a", b"c", None, Some(b"first"))
            .unwrap()
    );
    assert!(
        !e.compare_and_set("ks.a", b"c", None, Some(b"second"))
            .unwrap()
    );
    assert!(
        e.compare_and_set("ks.a", b"c", Some(b"first"), Some(b"third"))
            .unwrap()
    );
    assert_eq!(e.get("ks.a", b"c").unwrap().unwrap(), b"third");
    assert!(
        e.compare_and_set("ks.a", b"c", Some(b"third"), None)
            .unwrap()
    );
    assert_eq!(e.get("ks.a", b"c").unwrap(), None);
    let state = e.paxos().state("ks.a", b"c").unwrap();
    assert!(state.committed > crypta::Ballot::default());
    assert!(state.accepted.is_none());
}

#[test]
fn errors_name_what_failed() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path(), false);
    let err = e.put("ks.nope", b"k", b"v").unwrap_err().to_string();
    assert!(err.contains("ks.nope"), "{err}");
    let err = e
        .execute_cql("CREATE TABLE ks.t (id text PRIMARY KEY, v text")
        .unwrap_err()
        .to_string();
    assert!(err.contains("line 1"), "{err}");
    e.execute_cql(KS).unwrap();
    let err = e
        .execute_cql("CREATE TABLE ks.t (id text PRIMARY KEY, v text) WITH compression = {'class': 'Encryptor', 'key_provider': 'KmipKeyProviderFactory', 'kmip_host': 'nosuchgroup'}")
        .unwrap_err()
        .to_string();
    assert!(err.contains("nosuchgroup"), "{err}");
    let big = vec![0u8; crypta::MAX_KEY_LEN + 1];
    e.execute_cql("CREATE TABLE ks.t (id text PRIMARY KEY, v text)")
        .unwrap();
    assert!(matches!(
        e.put("ks.t", &big, b"v").unwrap_err(),
        Error::TooLarge { .. }
    ));
}

#[test]
fn memtable_limit_flushes_and_compaction_keeps_newest() {
    let dir = tempfile::tempdir().unwrap();
    let e = Engine::open(config(dir.path(), false, "memtable_size_mb: 1\n")).unwrap();
    e.execute_cql(KS).unwrap();
    e.execute_cql("CREATE TABLE ks.t (id text PRIMARY KEY, v text) WITH compression = {'class': 'EncryptingLZ4Compressor', 'cipher_algorithm': 'Blowfish/CBC/PKCS5Padding', 'secret_key_strength': 128}").unwrap();
    let value = vec![b'v'; 1000];
    for round in 0..3u8 {
        for i in 0..1500u32 {
            let mut v = value.clone();
            v[0] = b'0' + round;
            e.put("ks.t", format!("k{i:05}").as_bytes(), &v).unwrap();
        }
    }
    // Writes alone (no explicit flush) filled 1 MiB memtables several times over; the
    // background worker flushed them and size-tiered compaction merged every four.
    let m = e.manifest();
    let files = &m.table("ks", "t").unwrap().sstables;
    assert!(!files.is_empty(), "memtable limit should have flushed");
    assert!(
        m.next_file >= 4,
        "only {} files were ever written",
        m.next_file
    );
    e.compact(&[]).unwrap();
    assert_eq!(e.manifest().table("ks", "t").unwrap().sstables.len(), 1);
    for i in (0..1500u32).step_by(97) {
        assert_eq!(
            e.get("ks.t", format!("k{i:05}").as_bytes())
                .unwrap()
                .unwrap()[0],
            b'2'
        );
    }
}

#[test]
fn names_and_writes_the_engine_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path(), false);
    // Names become parts of file names: letters, digits and underscores, up to 48.
    for bad in [
        "CREATE KEYSPACE \"/tmp/abs\" WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}",
        "CREATE KEYSPACE \"a-b\" WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}",
        "CREATE KEYSPACE \"\" WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}",
    ] {
        let err = e.execute_cql(bad).unwrap_err().to_string();
        assert!(err.contains("letters, digits or underscores"), "{err}");
    }
    e.execute_cql(KS).unwrap();
    for bad in [
        "CREATE TABLE ks.\"x/y\" (id text PRIMARY KEY, v text)",
        "CREATE TABLE ks.\"../../evil\" (id text PRIMARY KEY, v text)",
        "CREATE TABLE ks.\"\" (id text PRIMARY KEY, v text)",
    ] {
        let err = e.execute_cql(bad).unwrap_err().to_string();
        assert!(err.contains("letters, digits or underscores"), "{err}");
    }
    let longest = "t".repeat(48);
    e.execute_cql(&format!(
        "CREATE TABLE ks.{longest} (id text PRIMARY KEY, v text)"
    ))
    .unwrap();
    let err = e
        .execute_cql(&format!(
            "CREATE TABLE ks.{longest}x (id text PRIMARY KEY, v text)"
        ))
        .unwrap_err()
        .to_string();
    assert!(err.contains("1 to 48"), "{err}");
    // Compression maps that would drop a named encrypting class are refused, in CREATE and
    // in ALTER (an audit found each left a table in plaintext without a word).
    e.execute_cql("CREATE TABLE ks.enc (id text PRIMARY KEY, v text) WITH compression = {'class': 'Encryptor'}")
        .unwrap();
    for bad in [
        "CREATE TABLE ks.p1 (id text PRIMARY KEY, v text) WITH compression = {'enabled': 'false', 'class': 'Encryptor'}",
        "CREATE TABLE ks.p2 (id text PRIMARY KEY, v text) WITH compression = {'sstable_compression': 'Encryptor', 'class': 'LZ4Compressor'}",
        "CREATE TABLE ks.p3 (id text PRIMARY KEY, v text) WITH compression = {'sstable_compression': 'com.datastax.bdp.cassandra.crypto.Encryptor', 'class': ''}",
        "ALTER TABLE ks.enc WITH compression = {'class': 'Encryptor', 'enabled': 'false'}",
    ] {
        let err = e.execute_cql(bad).unwrap_err().to_string();
        assert!(
            err.contains("'enabled'") || err.contains("sstable_compression"),
            "{bad}: {err}"
        );
    }
    assert!(
        e.execute_cql("DESC TABLE ks.enc")
            .unwrap()
            .contains("'class': 'Encryptor'")
    );
    for t in ["p1", "p2", "p3"] {
        assert!(e.execute_cql(&format!("DESC TABLE ks.{t}")).is_err());
    }
    // Quoted names that are valid keep their case.
    e.execute_cql("CREATE TABLE ks.\"Mixed_Case\" (id text PRIMARY KEY, v text)")
        .unwrap();
    e.put("ks.Mixed_Case", b"k", b"v").unwrap();
    e.flush(&[]).unwrap();
    for entry in std::fs::read_dir(dir.path().join("data")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().to_string();
        assert!(
            name.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b)),
            "{name}"
        );
    }

    // The system tables are written by the engine only; an empty key is no key.
    for table in ["system.batchlog", "system.paxos"] {
        match e.put(table, b"k", b"garbage") {
            Err(Error::WriteRefused { table: t, reason }) => {
                assert_eq!(t, table);
                assert!(reason.contains("system"), "{reason}");
            }
            other => panic!("{table}: {other:?}"),
        }
        assert!(matches!(
            e.delete(table, b"k"),
            Err(Error::WriteRefused { .. })
        ));
    }
    assert!(matches!(
        e.batch(&[BatchOp::Put {
            table: "system.batchlog".into(),
            key: b"k".to_vec(),
            value: b"v".to_vec(),
        }]),
        Err(Error::WriteRefused { .. })
    ));
    assert!(matches!(
        e.put("ks.Mixed_Case", b"", b"v"),
        Err(Error::WriteRefused { .. })
    ));
    // A limit of 0 returns no row (and still checks the table).
    assert_eq!(
        e.scan("ks.Mixed_Case", Bound::Unbounded, Bound::Unbounded, Some(0))
            .unwrap(),
        vec![]
    );
    assert!(matches!(
        e.scan("ks.nope", Bound::Unbounded, Bound::Unbounded, Some(0)),
        Err(Error::NoTable(_))
    ));
    drop(e);
    // None of it reached the commit log: the engine opens again.
    let e = open(dir.path(), false);
    assert_eq!(e.get("ks.Mixed_Case", b"k").unwrap(), Some(b"v".to_vec()));
}

#[test]
fn cache_stats_count_the_chunk_cache_hits_and_misses_of_reads() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path(), false);
    e.execute_cql(KS).unwrap();
    e.execute_cql("CREATE TABLE ks.t (id text PRIMARY KEY, v text) WITH compression = {'class': 'Encryptor', 'cipher_algorithm': 'AES/CBC/PKCS5Padding'}").unwrap();
    for i in 0..200u32 {
        e.put("ks.t", format!("k{i:04}").as_bytes(), &[b'v'; 100])
            .unwrap();
    }
    // From the memtable: the cache is not asked.
    assert!(e.get("ks.t", b"k0007").unwrap().is_some());
    let before = e.cache_stats();
    assert_eq!((before.hits, before.misses, before.chunks), (0, 0, 0));
    e.flush(&[]).unwrap();
    // The first read of the flushed table decodes a segment and caches it; the same read
    // again is served from the cache.
    assert!(e.get("ks.t", b"k0007").unwrap().is_some());
    let first = e.cache_stats();
    assert!(first.misses >= 1, "{first:?}");
    assert!(first.chunks >= 1 && first.bytes > 0, "{first:?}");
    assert!(e.get("ks.t", b"k0007").unwrap().is_some());
    let second = e.cache_stats();
    assert_eq!(second.misses, first.misses, "{second:?}");
    assert!(second.hits > first.hits, "{second:?}");
    e.close().unwrap();
}

/// `system_info_encryption` with `chunk_length_kb: 1`: commit log records longer than a chunk
/// replay after a crash (drop without close), and logged batches go through system.batchlog.
#[test]
fn system_info_encryption_with_1_kib_chunks_replays_records_longer_than_a_chunk() {
    let dir = tempfile::tempdir().unwrap();
    // `config` writes crypta.yaml with system_info_encryption on; its chunk length set to 1.
    config(dir.path(), true, "");
    let path = dir.path().join("crypta.yaml");
    let yaml = std::fs::read_to_string(&path).unwrap();
    assert!(yaml.contains("    chunk_length_kb: 64"), "{yaml}");
    std::fs::write(
        &path,
        yaml.replace("    chunk_length_kb: 64", "    chunk_length_kb: 1"),
    )
    .unwrap();
    let c = crypta::Config::load(&path).unwrap();
    assert_eq!(c.system_info_encryption.options.chunk_length(), 1024);
    let e = Engine::open(c.clone()).unwrap();
    e.execute_cql(KS).unwrap();
    e.execute_cql("CREATE TABLE ks.t (id text PRIMARY KEY, v text) WITH compression = {'class': 'Encryptor', 'chunk_length_kb': 1}").unwrap();
    let value = |i: u32| -> Vec<u8> { (0..3000 + i).map(|j| (j * 13 + i) as u8).collect() };
    for i in 0..50u32 {
        e.put("ks.t", format!("k{i:02}").as_bytes(), &value(i))
            .unwrap();
    }
    e.batch(&[BatchOp::Put {
        table: "ks.t".into(),
        key: b"batched".to_vec(),
        value: value(99),
    }])
    .unwrap();
    drop(e);
    let e = Engine::open(c).unwrap();
    for i in 0..50u32 {
        assert_eq!(
            e.get("ks.t", format!("k{i:02}").as_bytes()).unwrap(),
            Some(value(i))
        );
    }
    assert_eq!(e.get("ks.t", b"batched").unwrap(), Some(value(99)));
    e.flush(&[]).unwrap();
    assert_eq!(e.get("ks.t", b"k49").unwrap(), Some(value(49)));
    e.close().unwrap();
}

/// A table pasted from a cluster's `DESC TABLE` output, with the table properties crypta
/// ignores, is created encrypted as its compression says; an ALTER that sets only ignored
/// properties changes nothing (the table stays encrypted, its rows read back).
#[test]
fn ignored_table_properties_leave_compression_as_given() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path(), false);
    e.execute_cql(KS).unwrap();
    e.execute_cql(
        "CREATE TABLE ks.t (id text PRIMARY KEY, v text) WITH bloom_filter_fp_chance = 0.01
            AND caching = {'keys': 'ALL', 'rows_per_partition': 'NONE'}
            AND compression = {'class': 'Encryptor', 'cipher_algorithm': 'AES/CBC/PKCS5Padding', 'secret_key_strength': 256}
            AND crc_check_chance = 1.0 AND gc_grace_seconds = 864000;",
    )
    .unwrap();
    let desc = e.execute_cql("DESC TABLE ks.t").unwrap();
    assert!(
        desc.contains("'cipher_algorithm': 'AES/CBC/PKCS5Padding'"),
        "{desc}"
    );
    assert!(desc.contains("'secret_key_strength': '256'"), "{desc}");
    assert!(!desc.contains("gc_grace_seconds"), "{desc}");
    e.put("ks.t", b"k", b"v").unwrap();
    assert_eq!(
        e.execute_cql("ALTER TABLE ks.t WITH gc_grace_seconds = 0 AND comment = 'x'")
            .unwrap(),
        ""
    );
    assert_eq!(e.execute_cql("DESC TABLE ks.t").unwrap(), desc);
    // An ALTER of a table that does not exist fails, ignored properties or not.
    assert!(
        e.execute_cql("ALTER TABLE ks.nope WITH comment = 'x'")
            .is_err()
    );
    e.flush(&[]).unwrap();
    assert_eq!(e.get("ks.t", b"k").unwrap().as_deref(), Some(&b"v"[..]));
    e.close().unwrap();
}

/// What `DESC KEYSPACE` prints runs as it is (several statements) and recreates the keyspace,
/// compression options included, in another engine; a syntax error anywhere runs nothing, and
/// a statement that fails says which, after applying those before it.
#[test]
fn desc_keyspace_output_recreates_the_keyspace() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path(), false);
    e.execute_cql(KS).unwrap();
    e.execute_cql("CREATE TABLE ks.a (id text PRIMARY KEY, v text) WITH compression = {'class': 'EncryptingDeflateCompressor', 'cipher_algorithm': 'DESede/CBC/PKCS5Padding', 'secret_key_strength': 112, 'chunk_length_in_kb': 16}").unwrap();
    e.execute_cql(
        "CREATE TABLE ks.b (id int PRIMARY KEY, v blob) WITH compression = {'enabled': 'false'}",
    )
    .unwrap();
    let desc = e.execute_cql("DESC KEYSPACE ks").unwrap();
    assert_eq!(desc.matches("CREATE ").count(), 3, "{desc}");
    // DESC SCHEMA: every keyspace but system, as cqlsh prints it; DESC SCHEMA ks is ks's.
    e.execute_cql("CREATE KEYSPACE ks2 WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}").unwrap();
    let schema = e.execute_cql("DESC SCHEMA;").unwrap();
    assert!(schema.starts_with(&desc), "{schema}");
    assert!(schema.contains("CREATE KEYSPACE ks2 "), "{schema}");
    assert!(!schema.contains("system"), "{schema}");
    assert_eq!(e.execute_cql("DESC SCHEMA ks").unwrap(), desc);
    e.close().unwrap();

    let other = tempfile::tempdir().unwrap();
    let f = open(other.path(), false);
    f.execute_cql(&desc).unwrap();
    assert_eq!(f.execute_cql("DESC KEYSPACE ks").unwrap(), desc);
    f.put("ks.a", b"k", b"v").unwrap();

    // A syntax error in the second statement: nothing runs.
    let err = f
        .execute_cql("CREATE TABLE ks.c (id text PRIMARY KEY, v text); CREATE TABEL ks.d (id text PRIMARY KEY, v text)")
        .unwrap_err();
    assert!(matches!(err, Error::Cql(_)), "{err}");
    assert!(f.execute_cql("DESC TABLE ks.c").is_err());
    // Statements without a `;` between them are refused.
    assert!(matches!(
        f.execute_cql("DESC TABLE ks.a DESC TABLE ks.b")
            .unwrap_err(),
        Error::Cql(_)
    ));
    // The second of three fails (ks.a exists): the first applied, the third not run.
    let err = f
        .execute_cql(
            "CREATE TABLE ks.c (id text PRIMARY KEY, v text);\n\
             CREATE TABLE ks.a (id text PRIMARY KEY, v text);\n\
             CREATE TABLE ks.e (id text PRIMARY KEY, v text);",
        )
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Script {
                index: 2,
                count: 3,
                applied: 1,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("statement 2 of 3"), "{err}");
    assert!(f.execute_cql("DESC TABLE ks.c").is_ok());
    assert!(f.execute_cql("DESC TABLE ks.e").is_err());
    f.close().unwrap();
}

/// `Engine::offline_key_usage` (what `crypta keys usage` runs, without opening the engine)
/// lists the same SSTables under the same keys as the open engine's `key_usage`, takes the
/// data directory's lock (refused while an engine holds it), and answers for a directory that
/// was never used.
#[test]
fn offline_key_usage_lists_what_the_open_engine_lists() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), true, "");
    let e = Engine::open(cfg.clone()).unwrap();
    e.execute_cql(KS).unwrap();
    e.execute_cql("CREATE TABLE ks.a (id text PRIMARY KEY, v text) WITH compression = {'class': 'Encryptor', 'cipher_algorithm': 'AES/CBC/PKCS5Padding', 'secret_key_strength': 128}").unwrap();
    e.execute_cql("CREATE TABLE ks.b (id text PRIMARY KEY, v text) WITH compression = {'class': 'EncryptingDeflateCompressor', 'cipher_algorithm': 'AES/ECB/PKCS5Padding', 'secret_key_strength': 256}").unwrap();
    e.execute_cql(
        "CREATE TABLE ks.c (id text PRIMARY KEY, v text) WITH compression = {'enabled': 'false'}",
    )
    .unwrap();
    for t in ["ks.a", "ks.b", "ks.c"] {
        e.put(t, b"k1", b"v").unwrap();
        e.flush(&[]).unwrap();
        e.put(t, b"k2", b"v").unwrap();
    }
    e.flush(&[]).unwrap();
    let live = e.key_usage().unwrap();
    let err = Engine::offline_key_usage(&cfg).unwrap_err();
    assert!(matches!(err, Error::Locked { .. }), "{err}");
    e.close().unwrap();

    // The SSTables' part (the commit log's last segment goes when the engine closes).
    let data = &cfg.data_directory;
    let sstables = |u: &crypta::KeyUsage| -> Vec<(String, Vec<std::path::PathBuf>)> {
        u.by_key
            .iter()
            .map(|(id, files)| {
                let mut f: Vec<_> = files
                    .iter()
                    .filter(|p| p.starts_with(data))
                    .cloned()
                    .collect();
                f.sort();
                (id.to_string(), f)
            })
            .filter(|(_, f)| !f.is_empty())
            .collect()
    };
    let offline = Engine::offline_key_usage(&cfg).unwrap();
    assert!(offline.unreadable.is_empty(), "{offline:?}");
    assert_eq!(sstables(&offline), sstables(&live));
    // Two keys (one per algorithm and strength), each needed by its table's two SSTables;
    // the plaintext table's files need none.
    let listed = sstables(&offline);
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert!(listed.iter().all(|(_, f)| f.len() == 2), "{listed:?}");

    let unused = tempfile::tempdir().unwrap();
    let empty = Engine::offline_key_usage(&config(unused.path(), true, "")).unwrap();
    assert!(empty.by_key.is_empty() && empty.unreadable.is_empty());
}
