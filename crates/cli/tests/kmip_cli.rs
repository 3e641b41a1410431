//! `crypta keys check` and `crypta keys list --kmip-host` against a real pykmip-server, with
//! stores made as the HCD docs make them (a PKCS#12 keystore, a keytool truststore).
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod common;

use common::{init, run};

use crypta_testkit::{KmipServer, Pki, STORE_PASSWORD, refused_port};

#[test]
fn keys_check_and_list_against_a_kmip_group() {
    let pki = Pki::new().unwrap();
    let mut server = KmipServer::start(&pki).unwrap();
    let (keystore, truststore) = pki.hcd_stores().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = init(dir.path());
    let group = |name: &str, hosts: &str| {
        format!(
            "    {name}:\n        hosts: {hosts}\n        keystore_path: {}\n        keystore_type: jks\n        keystore_password: {STORE_PASSWORD}\n        truststore_path: {}\n        truststore_type: jks\n        truststore_password: {STORE_PASSWORD}\n        timeout: 1000\n",
            keystore.display(),
            truststore.display()
        )
    };
    let dead = format!("127.0.0.1:{}", refused_port().unwrap());
    let mut yaml = std::fs::read_to_string(&config).unwrap();
    yaml.push_str("kmip_hosts:\n");
    yaml.push_str(&group("kmip_group1", &server.host()));
    yaml.push_str(&group("half_down", &format!("{dead}, {}", server.host())));
    std::fs::write(&config, yaml).unwrap();

    let o = run(&config, &["keys", "check", "--kmip-host", "kmip_group1"]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        text.contains(&server.host()) && text.contains("OK") && text.contains("TLS"),
        "{text}"
    );
    // The keystore is PKCS#12 despite its .jks name and type: said so.
    assert!(text.to_lowercase().contains("pkcs"), "{text}");
    assert!(!text.contains(STORE_PASSWORD), "{text}");

    // One host of the group is down: reported, and the exit status says so.
    let o = run(&config, &["keys", "check", "--kmip-host", "half_down"]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(!o.status.success(), "{text}");
    assert!(text.contains("FAILED") && text.contains(&dead), "{text}");

    // A table on the group, then its key in the group's listing.
    for stmt in [
        "CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}",
        "CREATE TABLE ks.t (id text PRIMARY KEY, v text) WITH COMPRESSION = {'class': 'Encryptor', 'key_provider': 'KmipKeyProviderFactory', 'kmip_host': 'kmip_group1', 'cipher_algorithm': 'AES/CBC/PKCS5Padding', 'secret_key_strength': 256, 'key_keyspace': 'ks'}",
    ] {
        let o = run(&config, &["cql", stmt]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let o = run(&config, &["put", "ks.t", "k", "v"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = run(&config, &["keys", "list", "--kmip-host", "kmip_group1"]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let header = text.lines().next().unwrap();
    for col in [
        "ID",
        "Name",
        "Cipher",
        "State",
        "Activation Date",
        "Creation Date",
        "Protect Stop Date",
        "Keyspace",
    ] {
        assert!(header.contains(col), "{header}");
    }
    assert!(
        text.lines()
            .any(|l| l.contains("AES/256") && l.contains("Active") && l.contains(" ks ")),
        "{text}"
    );
    let key_id = text
        .lines()
        .find(|l| l.contains("AES/256"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .to_string();

    // The server goes down: a command that opens the engine stops at its startup check,
    // naming the group, but `keys usage` still answers (it reads what the files record).
    let o = run(&config, &["flush"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    server.stop();
    let o = run(&config, &["get", "ks.t", "k"]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("kmip_group1"), "{err}");
    let o = run(&config, &["keys", "usage"]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let mut lines = text.lines();
    assert!(
        lines.any(|l| l.ends_with(&key_id)) && lines.next().is_some_and(|f| f.contains("ks-t-")),
        "{key_id}: {text}"
    );
}
