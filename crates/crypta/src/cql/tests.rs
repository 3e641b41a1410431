use super::*;

fn m(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn hcd_docs_statements() {
    let s = parse(
        "CREATE TABLE test.encryption_test (id text PRIMARY KEY, value text)
         WITH COMPRESSION = {'class': 'Encryptor', 'key_provider': 'KmipKeyProviderFactory',
           'kmip_host': 'kmipgroup1', 'cipher_algorithm': 'AES/ECB/PKCS5Padding',
           'secret_key_strength': 128, 'chunk_length_kb': 64};",
    )
    .unwrap();
    let Statement::CreateTable {
        keyspace,
        table,
        key,
        value,
        compression,
        ..
    } = &s
    else {
        panic!("{s:?}")
    };
    assert_eq!(
        (keyspace.as_str(), table.as_str()),
        ("test", "encryption_test")
    );
    assert_eq!(key, &("id".to_string(), "text".to_string()));
    assert_eq!(value.0, "value");
    let c = compression.as_ref().unwrap();
    assert_eq!(c["secret_key_strength"], "128");
    assert_eq!(c["cipher_algorithm"], "AES/ECB/PKCS5Padding");
    // Printing and parsing again gives the same statement.
    assert_eq!(parse(&s.to_string()).unwrap(), s);

    let s = parse(
        "ALTER TABLE ks.t WITH compression = {'class': 'EncryptingDeflateCompressor', 'cipher_algorithm': 'AES/CBC/PKCS5Padding', 'secret_key_strength': 256}",
    )
    .unwrap();
    assert!(matches!(s, Statement::AlterTable { .. }));
    assert_eq!(parse(&s.to_string()).unwrap(), s);

    let s = parse("CREATE KEYSPACE IF NOT EXISTS test WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1} AND durable_writes = true").unwrap();
    assert_eq!(
        s,
        Statement::CreateKeyspace {
            name: "test".into(),
            if_not_exists: true,
            replication: m(&[("class", "SimpleStrategy"), ("replication_factor", "1")]),
            durable_writes: Some(true),
        }
    );
    assert_eq!(parse(&s.to_string()).unwrap(), s);
}

#[test]
fn other_forms() {
    assert!(matches!(
        parse("create table KS.T (k blob, v blob, primary key (k)) with compression = {'enabled': 'false'}").unwrap(),
        Statement::CreateTable { ref keyspace, .. } if keyspace == "ks"
    ));
    assert_eq!(
        parse("DESC TABLE ks.t").unwrap(),
        Statement::DescribeTable {
            keyspace: "ks".into(),
            table: "t".into()
        }
    );
    assert_eq!(
        parse("describe keyspace \"MyKs\";").unwrap(),
        Statement::DescribeKeyspace("MyKs".into())
    );
    assert_eq!(
        parse("DROP TABLE IF EXISTS ks.t").unwrap(),
        Statement::DropTable {
            keyspace: "ks".into(),
            table: "t".into(),
            if_exists: true
        }
    );
    assert_eq!(
        parse("desc keyspaces").unwrap(),
        Statement::DescribeKeyspaces
    );
    let s = parse("CREATE TABLE ks.\"Weird_Name\" (\"Key\" text PRIMARY KEY, v text)").unwrap();
    assert!(s.to_string().contains("\"Weird_Name\""));
    assert_eq!(parse(&s.to_string()).unwrap(), s);
}

#[test]
fn errors_point_at_the_position() {
    let e =
        parse("CREATE TABLE ks.t (id text PRIMARY KEY, v text) WITH compresion = {}").unwrap_err();
    assert_eq!((e.line, e.column), (1, 54));
    assert!(e.message.contains("compresion"), "{e}");
    assert!(e.to_string().contains("^"));

    let e = parse("CREATE TABLE t (id text PRIMARY KEY, v text)").unwrap_err();
    assert!(e.message.contains("keyspace.table"), "{e}");

    let e = parse("CREATE TABLE ks.t (id text PRIMARY KEY, v text, w text)").unwrap_err();
    assert!(e.message.contains("exactly two columns"), "{e}");

    let e = parse("CREATE TABLE ks.t (a text, b text, PRIMARY KEY (a, b))").unwrap_err();
    assert!(e.message.contains("single-column"), "{e}");

    let e = parse("CREATE TABLE ks.t (id text PRIMARY KEY, v map<text,text>)").unwrap_err();
    assert!(e.message.contains("unsupported column type"), "{e}");

    let e = parse(
        "ALTER TABLE ks.t WITH compression = {'class': 'Encryptor',\n 'secret_key_strength' 128}",
    )
    .unwrap_err();
    assert_eq!(e.line, 2);
    assert!(e.message.contains("expected ':'"), "{e}");

    let e = parse("SELECT * FROM ks.t").unwrap_err();
    assert!(e.message.contains("crypta put/get/scan"), "{e}");

    let e = parse(
        "CREATE TABLE ks.t (id text PRIMARY KEY, v text) WITH compression = {'a': 'b', 'a': 'c'}",
    )
    .unwrap_err();
    assert!(e.message.contains("twice"), "{e}");

    let e = parse(
        "CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1} extra",
    )
        .unwrap_err();
    assert!(e.message.contains("unexpected text"), "{e}");

    assert!(
        parse("CREATE TABLE ks.t (id text PRIMARY KEY, v text) WITH compression = {'class': 'x")
            .is_err()
    );
}

/// `DESC TABLE` output of Cassandra 4 and 5, DSE and HCD carries table properties crypta has
/// no use for: they parse, with the text of each value, and print back; compression is kept
/// as given. Unknown properties are still refused, a misspelt `compression` with a hint, and
/// so are a repeated property and a value of no CQL literal form.
#[test]
fn cassandra_table_properties_are_accepted_and_listed_as_ignored() {
    let s = parse(
        "CREATE TABLE cycling.cyclist_name (
    id uuid PRIMARY KEY,
    firstname text
) WITH additional_write_policy = '99p'
    AND bloom_filter_fp_chance = 0.01
    AND caching = {'keys': 'ALL', 'rows_per_partition': 'NONE'}
    AND cdc = false
    AND comment = ''
    AND compaction = {'class': 'org.apache.cassandra.db.compaction.SizeTieredCompactionStrategy', 'max_threshold': '32', 'min_threshold': '4'}
    AND compression = {'class': 'Encryptor', 'cipher_algorithm': 'AES/ECB/PKCS5Padding', 'secret_key_strength': 128}
    AND memtable = 'default'
    AND crc_check_chance = 1.0
    AND default_time_to_live = 0
    AND extensions = {}
    AND gc_grace_seconds = 864000
    AND nodesync = {'enabled': 'true', 'incremental': 'true'}
    AND speculative_retry = '99PERCENTILE';",
    )
    .unwrap();
    let Statement::CreateTable {
        compression,
        ignored,
        ..
    } = &s
    else {
        panic!("{s:?}")
    };
    assert_eq!(
        compression.as_ref().unwrap()["cipher_algorithm"],
        "AES/ECB/PKCS5Padding"
    );
    let names: Vec<&str> = ignored.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "additional_write_policy",
            "bloom_filter_fp_chance",
            "caching",
            "cdc",
            "comment",
            "compaction",
            "memtable",
            "crc_check_chance",
            "default_time_to_live",
            "extensions",
            "gc_grace_seconds",
            "nodesync",
            "speculative_retry"
        ]
    );
    assert_eq!(
        ignored[2].1,
        "{'keys': 'ALL', 'rows_per_partition': 'NONE'}"
    );
    assert_eq!(ignored[3].1, "false");
    assert_eq!(ignored[4].1, "''");
    assert_eq!(parse(&s.to_string()).unwrap(), s);

    // ALTER with ignored properties only: no compression, and it prints back.
    let s = parse("ALTER TABLE ks.t WITH gc_grace_seconds = 10 AND comment = 'it''s'").unwrap();
    assert_eq!(
        s,
        Statement::AlterTable {
            keyspace: "ks".into(),
            table: "t".into(),
            compression: None,
            ignored: vec![
                ("gc_grace_seconds".into(), "10".into()),
                ("comment".into(), "'it''s'".into())
            ],
        }
    );
    assert_eq!(
        s.to_string(),
        "ALTER TABLE ks.t WITH gc_grace_seconds = 10 AND comment = 'it''s';"
    );
    // A comment after a value is not part of it.
    let s =
        parse("ALTER TABLE ks.t WITH comment = 'x' -- why\n  AND gc_grace_seconds = 1").unwrap();
    assert_eq!(
        s.to_string(),
        "ALTER TABLE ks.t WITH comment = 'x' AND gc_grace_seconds = 1;"
    );

    for (bad, says) in [
        (
            "ALTER TABLE ks.t WITH gc_grace_seconds = 10 AND compresion = {'class': 'Encryptor'}",
            "unknown table property 'compresion'; did you mean 'compression'?",
        ),
        (
            "ALTER TABLE ks.t WITH durable_writes = true",
            "unknown table property 'durable_writes'",
        ),
        (
            "ALTER TABLE ks.t WITH comment = 'a' AND comment = 'b'",
            "comment is given twice",
        ),
        (
            "ALTER TABLE ks.t WITH gc_grace_seconds = forever",
            "expected a string, number, boolean or map value",
        ),
    ] {
        let e = parse(bad).unwrap_err();
        assert!(e.message.contains(says), "{bad}: {e}");
    }
}

#[test]
fn replication_maps_are_checked_as_cassandra_does() {
    for ok in [
        "{'class': 'SimpleStrategy', 'replication_factor': 3}",
        "{'class': 'SimpleStrategy', 'replication_factor': '1'}",
        "{'class': 'org.apache.cassandra.locator.SimpleStrategy', 'replication_factor': 1}",
        "{'class': 'NetworkTopologyStrategy', 'dc1': 3, 'dc2': '2'}",
        "{'class': 'EverywhereStrategy'}",
    ] {
        parse(&format!("CREATE KEYSPACE k WITH replication = {ok}")).unwrap();
    }
    for (bad, says) in [
        (
            "{'class': 'SimpleStrategy'}",
            "needs a 'replication_factor'",
        ),
        (
            "{'class': 'SimpleStrategy', 'replication_factor': 'abc'}",
            "whole number, not 'abc'",
        ),
        (
            "{'class': 'SimpleStrategy', 'replication_factor': 1, 'dc1': 2}",
            "unknown replication option 'dc1'",
        ),
        (
            "{'class': 'NetworkTopologyStrategy', 'dc1': 'three'}",
            "'dc1' of NetworkTopologyStrategy",
        ),
    ] {
        let src = format!("CREATE KEYSPACE k WITH replication = {bad}");
        let e = parse(&src).unwrap_err();
        assert!(e.message.contains(says), "{bad}: {e}");
        // The caret points at the map.
        assert_eq!(e.column, src.find('{').unwrap() + 1, "{bad}");
    }
}

#[test]
fn new_names_are_checked_where_they_are() {
    let src = "CREATE TABLE ks.\"a b\" (id text PRIMARY KEY, v text)";
    let e = parse(src).unwrap_err();
    assert_eq!(e.column, src.find('"').unwrap() + 1);
    assert!(e.message.contains("\"a b\""), "{e}");
    // Names are only checked where they are made: an old table with any name can still be
    // described, altered or dropped.
    parse("DROP TABLE ks.\"a b\"").unwrap();
    parse("DESC TABLE ks.\"a-b\"").unwrap();
}
