//! KMIP end to end against a real pykmip-server: tables and system resources encrypted with
//! keys from a `kmip_hosts` group (stores made as the HCD docs make them), the HCD rekey
//! procedure, startup failure when the group is unreachable, and a group added live.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod common;

use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{KS, files_containing};
use crypta::{Config, Engine, Error, UpgradeOptions};
use crypta_testkit::{KmipServer, Pki, STORE_PASSWORD};

const MARKER: &[u8] = b"KMIP-ROW-MARKER-31c4";
const CACHE_MS: u64 = 800;

fn group_yaml(name: &str, hosts: &str, keystore: &Path, truststore: &Path) -> String {
    format!(
        "    {name}:\n        hosts: {hosts}\n        keystore_path: {}\n        keystore_type: jks\n        keystore_password: {STORE_PASSWORD}\n        truststore_path: {}\n        truststore_type: jks\n        truststore_password: {STORE_PASSWORD}\n        key_cache_millis: {CACHE_MS}\n        timeout: 2000\n",
        keystore.display(),
        truststore.display()
    )
}

fn write_config(dir: &Path, groups: &str) -> Config {
    let yaml = Config::init_yaml(dir).replace(
        "    enabled: false\n    cipher_algorithm: AES\n    secret_key_strength: 128\n    chunk_length_kb: 64\n",
        "    enabled: true\n    cipher_algorithm: AES\n    secret_key_strength: 128\n    chunk_length_kb: 64\n    key_provider: KmipKeyProviderFactory\n    kmip_host: kmip_group1\n",
    ) + "kmip_hosts:\n" + groups;
    let path = dir.join("crypta.yaml");
    std::fs::write(&path, yaml).unwrap();
    Config::load(&path).unwrap()
}

fn rows(e: &Engine) -> usize {
    e.scan("ks.t", Bound::Unbounded, Bound::Unbounded, None)
        .unwrap()
        .len()
}

/// A CA, a running pykmip-server, and the client's keystore and truststore made as the HCD
/// docs make them: `openssl pkcs12 -export`, then `keytool -importkeystore` into a `.jks` name
/// (which Java 17 writes as PKCS#12), and `keytool -import` of the CA into a truststore.
struct Kmip {
    pki: Pki,
    server: KmipServer,
    keystore: PathBuf,
    truststore: PathBuf,
}

impl Kmip {
    fn start() -> Kmip {
        let pki = Pki::new().unwrap();
        let server = KmipServer::start(&pki).unwrap();
        let (keystore, truststore) = pki.hcd_stores().unwrap();
        Kmip {
            pki,
            server,
            keystore,
            truststore,
        }
    }

    /// The `kmip_hosts` entry of group `name` on `hosts`, with these stores.
    fn group(&self, name: &str, hosts: &str) -> String {
        group_yaml(name, hosts, &self.keystore, &self.truststore)
    }
}

#[test]
fn hcd_rekey_procedure_with_a_real_kmip_server() {
    let Kmip {
        pki,
        mut server,
        keystore,
        truststore,
    } = Kmip::start();
    let dir = tempfile::tempdir().unwrap();
    let groups = group_yaml("kmip_group1", &server.host(), &keystore, &truststore);
    let e = Engine::open(write_config(dir.path(), &groups)).unwrap();

    e.execute_cql(KS).unwrap();
    e.execute_cql(
        "CREATE TABLE ks.t (id text PRIMARY KEY, v text) WITH COMPRESSION = {'class': 'Encryptor', \
         'key_provider': 'KmipKeyProviderFactory', 'kmip_host': 'kmip_group1', \
         'cipher_algorithm': 'AES/ECB/PKCS5Padding', 'secret_key_strength': 128, 'key_keyspace': 'ks'}",
    )
    .unwrap();
    for i in 0..300u32 {
        e.put("ks.t", format!("a{i:04}").as_bytes(), MARKER)
            .unwrap();
    }
    e.flush(&[]).unwrap();
    let table_key = |e: &Engine| {
        let usage = e.key_usage().unwrap();
        usage
            .by_key
            .iter()
            .filter(|(_, f)| f.iter().any(|p| p.to_string_lossy().contains("/ks-t-")))
            .map(|(k, _)| k.clone())
            .collect::<Vec<_>>()
    };
    let k1 = table_key(&e);
    assert_eq!(k1.len(), 1);
    let k1 = k1[0].clone();
    let group = e.keys().manager("kmip_group1").unwrap();
    let listed = group.list().unwrap();
    let info = listed
        .iter()
        .find(|k| k.id == k1)
        .expect("table key listed by the group");
    assert_eq!(info.namespace.as_deref(), Some("ks"));
    assert_eq!(info.state, crypta_keys::KeyState::Active);

    // 1. Revoke the key on the server.
    group.revoke(&k1, false).unwrap();
    // 2. Wait key_cache_millis: new writes then get a new key.
    std::thread::sleep(Duration::from_millis(CACHE_MS + 400));
    for i in 0..100u32 {
        e.put("ks.t", format!("b{i:04}").as_bytes(), MARKER)
            .unwrap();
    }
    e.flush(&[]).unwrap();
    let keys_now = table_key(&e);
    assert_eq!(keys_now.len(), 2, "old and new key in use: {keys_now:?}");
    // Data under the revoked key still reads.
    assert_eq!(rows(&e), 400);
    // 3. Destroy is refused while files need it.
    assert!(matches!(
        e.destroy_key(&k1, Some("kmip_group1"), false),
        Err(Error::KeyInUse { .. })
    ));
    // 4. upgradesstables --include-all-sstables, then keys usage shows nothing under k1.
    e.upgradesstables(
        &["ks".into()],
        &UpgradeOptions {
            include_all: true,
            jobs: 2,
        },
        &|_| {},
    )
    .unwrap();
    let keys_now = table_key(&e);
    assert_eq!(keys_now.len(), 1);
    assert_ne!(keys_now[0], k1);
    assert!(e.key_usage().unwrap().files_for(&k1).is_none());
    // 5. Destroy it, restart, read everything.
    e.destroy_key(&k1, Some("kmip_group1"), false).unwrap();
    e.close().unwrap();
    let e = Engine::open(Config::load(&dir.path().join("crypta.yaml")).unwrap()).unwrap();
    assert_eq!(rows(&e), 400);
    assert!(
        files_containing(dir.path(), MARKER).is_empty(),
        "marker on disk"
    );

    // A group added to the file while the engine runs is taken up without restart.
    let second = KmipServer::start(&pki).unwrap();
    let both = format!(
        "{groups}{}",
        group_yaml("kmip_group2", &second.host(), &keystore, &truststore)
    );
    write_config(dir.path(), &both);
    let deadline = Instant::now() + Duration::from_secs(10);
    while e.keys().manager("kmip_group2").is_none() {
        assert!(
            Instant::now() < deadline,
            "kmip_group2 not picked up from the edited file"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    e.execute_cql(
        "CREATE TABLE ks.t2 (id text PRIMARY KEY, v text) WITH COMPRESSION = {'class': 'Encryptor', \
         'key_provider': 'KmipKeyProviderFactory', 'kmip_host': 'kmip_group2'}",
    )
    .unwrap();
    e.put("ks.t2", b"k", b"v").unwrap();
    e.flush(&["ks.t2".into()]).unwrap();
    // A broken edit is rejected and the running configuration stays.
    std::fs::write(
        dir.path().join("crypta.yaml"),
        "kmip_hosts: [not, a, mapping]\n",
    )
    .unwrap();
    assert!(e.reload_config().is_err());
    assert_eq!(e.get("ks.t2", b"k").unwrap().unwrap(), b"v");
    write_config(dir.path(), &both);
    e.close().unwrap();

    // Startup fails, naming the group and its hosts, when the group in use is unreachable.
    server.stop();
    let err = Engine::open(Config::load(&dir.path().join("crypta.yaml")).unwrap()).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::KmipGroup { .. }), "{msg}");
    assert!(
        msg.contains("kmip_group1") && msg.contains(&server.host()),
        "{msg}"
    );
}

/// A CREATE or ALTER TABLE naming a group that cannot supply a key (here: its one host
/// refuses connections) fails at once, naming the group and its hosts, and changes nothing:
/// the schema the next start checks stays one it can open.
#[test]
fn create_or_alter_table_under_an_unreachable_group_is_refused() {
    let k = Kmip::start();
    let dir = tempfile::tempdir().unwrap();
    let groups = k.group("kmip_group1", &k.server.host()) + &k.group("kmip_down", "127.0.0.1:1");
    let e = Engine::open(write_config(dir.path(), &groups)).unwrap();
    e.execute_cql(KS).unwrap();
    let under = |group: &str| {
        format!(
            "{{'class': 'Encryptor', 'key_provider': 'KmipKeyProviderFactory', \
             'kmip_host': '{group}', 'cipher_algorithm': 'AES/ECB/PKCS5Padding', \
             'secret_key_strength': 128}}"
        )
    };
    let refused = |stmt: &str| {
        let err = e.execute_cql(stmt).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, Error::KmipGroup { .. }), "{msg}");
        assert!(
            msg.contains("kmip_down") && msg.contains("127.0.0.1:1"),
            "{msg}"
        );
    };
    refused(&format!(
        "CREATE TABLE ks.down (id text PRIMARY KEY, v text) WITH compression = {}",
        under("kmip_down")
    ));
    assert!(e.execute_cql("DESC TABLE ks.down").is_err());

    e.execute_cql(&format!(
        "CREATE TABLE ks.t (id text PRIMARY KEY, v text) WITH compression = {}",
        under("kmip_group1")
    ))
    .unwrap();
    e.put("ks.t", b"k", MARKER).unwrap();
    refused(&format!(
        "ALTER TABLE ks.t WITH compression = {}",
        under("kmip_down")
    ));
    let desc = e.execute_cql("DESC TABLE ks.t").unwrap();
    assert!(
        desc.contains("kmip_group1") && !desc.contains("kmip_down"),
        "{desc}"
    );
    e.flush(&[]).unwrap();
    e.close().unwrap();

    let e = Engine::open(Config::load(&dir.path().join("crypta.yaml")).unwrap()).unwrap();
    assert_eq!(e.get("ks.t", b"k").unwrap().unwrap(), MARKER);
    e.close().unwrap();
}

/// An edit of a group's settings while the engine runs and the server is down keeps the keys
/// the group holds in its cache: writes, flushes and reads go on with them (they used to be
/// dropped with the old settings' provider, and the next flush failed and stopped writes).
#[test]
fn a_kmip_hosts_edit_during_an_outage_keeps_the_cached_keys() {
    let mut k = Kmip::start();
    let dir = tempfile::tempdir().unwrap();
    let groups = k.group("kmip_group1", &k.server.host());
    let e = Engine::open(write_config(dir.path(), &groups)).unwrap();
    e.execute_cql(KS).unwrap();
    e.execute_cql(
        "CREATE TABLE ks.t (id text PRIMARY KEY, v text) WITH COMPRESSION = {'class': 'Encryptor', \
         'key_provider': 'KmipKeyProviderFactory', 'kmip_host': 'kmip_group1', \
         'cipher_algorithm': 'AES/CBC/PKCS5Padding', 'secret_key_strength': 128}",
    )
    .unwrap();
    e.put("ks.t", b"before", MARKER).unwrap();
    e.flush(&[]).unwrap();

    k.server.stop();
    // Only the timeout changes.
    write_config(
        dir.path(),
        &groups.replace("timeout: 2000", "timeout: 1500"),
    );
    // 1, or 0 if the engine's config watcher took the edit first.
    assert!(e.reload_config().unwrap() <= 1);
    // What `keys check` in a running shell reads: the edited settings.
    assert_eq!(e.kmip_group("kmip_group1").unwrap().timeout, 1500);
    assert!(e.kmip_group("kmip_group2").is_none());
    e.put("ks.t", b"after", MARKER).unwrap();
    e.flush(&[]).unwrap();
    assert_eq!(e.get("ks.t", b"before").unwrap().unwrap(), MARKER);
    assert_eq!(e.get("ks.t", b"after").unwrap().unwrap(), MARKER);
    assert_eq!(rows(&e), 2);
    e.close().unwrap();
}
