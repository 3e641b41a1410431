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
