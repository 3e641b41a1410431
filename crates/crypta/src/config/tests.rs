use super::*;

fn parse(y: &str) -> Result<Config, ConfigError> {
    Config::parse(
        y,
        Path::new("/etc/crypta/crypta.yaml"),
        Path::new("/etc/crypta"),
    )
}

#[test]
fn hcd_sections_paste_as_they_are() {
    let c = parse(
        r#"
data_file_directories:
    - /var/lib/crypta/data
commitlog_directory: /var/lib/crypta/commitlog
commitlog_sync: periodic
commitlog_sync_period_in_ms: 10000
system_info_encryption:
  enabled: true
  cipher_algorithm: AES
  secret_key_strength: 128
  key_provider: KmipKeyProviderFactory
  kmip_host: kmipgroup1
  chunk_length_kb: 64
kmip_hosts:
    kmipgroup1:
        hosts: kmip1.yourdomain.com, kmip2.yourdomain.com
        keystore_path: pathto/keystore.jks
        keystore_type: jks
        keystore_password: password
        truststore_path: pathto/truststore.jks
        truststore_type: jks
        truststore_password: password
        key_cache_millis: 300000
        timeout: 1000
"#,
    )
    .unwrap();
    assert_eq!(c.data_directory, PathBuf::from("/var/lib/crypta/data"));
    assert_eq!(c.hints_directory, PathBuf::from("/etc/crypta/hints"));
    assert_eq!(c.commitlog_sync, SyncMode::Periodic);
    let e = c.system_encryption().unwrap();
    assert_eq!(e.transformation.to_string(), "AES/CBC/PKCS5Padding");
    let g = &c.kmip_hosts["kmipgroup1"];
    assert_eq!(
        g.keystore_path,
        PathBuf::from("/etc/crypta/pathto/keystore.jks")
    );
    assert_eq!(g.key_cache_millis, 300_000);
    assert_eq!(g.timeout, 1000);
    assert!(!format!("{g:?}").contains("password\""), "{g:?}");
    assert!(c.warnings.is_empty());
}

#[test]
fn unknown_keys_warn_and_bad_values_name_the_key() {
    let c = parse("commitlog_sync: batch\nnum_tokens: 256\n").unwrap();
    assert_eq!(c.warnings.len(), 1);
    assert!(c.warnings[0].contains("num_tokens"));

    for (y, key) in [
        ("commitlog_sync: sometimes", "commitlog_sync"),
        (
            "commitlog_sync_period_in_ms: -5",
            "commitlog_sync_period_in_ms",
        ),
        ("memtable_size_mb: lots", "memtable_size_mb"),
        ("file_cache_size_in_mb: 0", "file_cache_size_in_mb"),
        (
            "system_info_encryption:\n  enabled: yes-ish",
            "system_info_encryption.enabled",
        ),
        (
            "system_info_encryption:\n  enabled: true\n  secret_key_strength: 100",
            "system_info_encryption.secret_key_strength",
        ),
        (
            "system_info_encryption:\n  enabled: true\n  cipher_algorithm: AES/CTR/NoPadding",
            "system_info_encryption.cipher_algorithm",
        ),
        (
            "system_info_encryption:\n  enabled: true\n  key_provider: KmipKeyProviderFactory\n  kmip_host: nope",
            "system_info_encryption.kmip_host",
        ),
        (
            "system_info_encryption:\n  colour: blue",
            "system_info_encryption.colour",
        ),
        (
            "kmip_hosts:\n  g1:\n    keystore_path: x",
            "kmip_hosts.g1.hosts",
        ),
        (
            "kmip_hosts:\n  g1:\n    hosts: a\n    keystore_path: k\n    truststore_path: t\n    timout: 5",
            "kmip_hosts.g1",
        ),
        ("data_file_directories: [a, b]", "data_file_directories"),
    ] {
        let err = parse(y).unwrap_err().to_string();
        assert!(err.contains(&format!("'{key}'")), "{y}: {err}");
        assert!(err.contains("/etc/crypta/crypta.yaml"), "{err}");
    }
    assert!(matches!(parse("- a\n- b"), Err(ConfigError::Syntax { .. })));
    // A key set twice is named with both its lines (the YAML parser would point at the
    // mapping's first line); a misspelt key under system_info_encryption is refused as such.
    let err = parse("# c\nmemtable_size_mb: 64\ncommitlog_sync: batch\nmemtable_size_mb: 32\n")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("duplicate key 'memtable_size_mb' at lines 2 and 4"),
        "{err}"
    );
    let err = parse("system_info_encryption:\n  enabeld: true")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("unknown key 'system_info_encryption.enabeld' (known: enabled,"),
        "{err}"
    );
}

#[test]
fn init_yaml_parses_to_the_embedded_default() {
    let dir = Path::new("/srv/crypta");
    let c = parse(&Config::init_yaml(dir)).unwrap();
    let mut d = Config::embedded_default(dir);
    d.commitlog_sync_period = c.commitlog_sync_period;
    assert_eq!(c, d);
    assert_eq!(
        c.local_key_file(),
        PathBuf::from("/srv/crypta/keys/system_key")
    );
}

#[test]
fn yaml_1_1_booleans_are_taken_as_cassandra_takes_them() {
    for (v, want) in [
        ("yes", true),
        ("On", true),
        ("TRUE", true),
        ("no", false),
        ("off", false),
    ] {
        let c = parse(&format!("system_info_encryption:\n  enabled: {v}\n")).unwrap();
        assert_eq!(c.system_info_encryption.enabled, want, "{v}");
    }
}

#[test]
fn a_misspelt_security_section_is_refused_and_other_near_misses_suggest_the_key() {
    for (y, meant) in [
        (
            "system_info_encyption:\n  enabled: true\n",
            "system_info_encryption",
        ),
        (
            "System_Info_Encryption:\n  enabled: true\n",
            "system_info_encryption",
        ),
        ("kmip_host:\n  g1:\n    hosts: a\n", "kmip_hosts"),
        ("system_key_directry: /keys\n", "system_key_directory"),
    ] {
        let err = parse(y).unwrap_err();
        assert!(
            matches!(&err, ConfigError::MisspeltKey { meant: m, .. } if *m == meant),
            "{y}: {err}"
        );
        let msg = err.to_string();
        assert!(msg.contains(&format!("did you mean '{meant}'?")), "{msg}");
        assert!(msg.contains("/etc/crypta/crypta.yaml"), "{msg}");
    }
    // Other near misses are warned about with the likely key; far ones without.
    let c = parse("memtable_size_md: 64\nnum_tokens: 256\n").unwrap();
    assert_eq!(c.warnings.len(), 2, "{:?}", c.warnings);
    assert!(
        c.warnings[0].contains("'memtable_size_md' ignored; did you mean 'memtable_size_mb'?"),
        "{:?}",
        c.warnings
    );
    assert!(!c.warnings[1].contains("did you mean"), "{:?}", c.warnings);
    // Every key the list knows is taken without a warning.
    for key in super::parse::TOP_LEVEL_KEYS {
        let value = match key {
            "system_info_encryption" => "\n  enabled: false",
            "kmip_hosts" => " {}",
            "commitlog_sync" => " batch",
            "commitlog_ignore_replay_errors" => " false",
            "data_file_directories"
            | "commitlog_directory"
            | "hints_directory"
            | "system_key_directory" => " d",
            _ => " 10",
        };
        let c = parse(&format!("{key}:{value}\n")).unwrap_or_else(|e| panic!("{key}: {e}"));
        assert!(c.warnings.is_empty(), "{key}: {:?}", c.warnings);
    }
}

#[test]
fn kmip_group_scalars_name_the_setting_and_never_show_a_password() {
    let group = |extra: &str| {
        format!(
            "kmip_hosts:\n  g1:\n    hosts: h1\n    keystore_path: k.jks\n    truststore_path: t.jks\n{extra}"
        )
    };
    for (extra, key) in [
        (
            "    keystore_password: 987654321\n",
            "kmip_hosts.g1.keystore_password",
        ),
        (
            "    truststore_password: 3.14159e7\n",
            "kmip_hosts.g1.truststore_password",
        ),
        (
            "    keystore_password: true\n",
            "kmip_hosts.g1.keystore_password",
        ),
    ] {
        let err = parse(&group(extra)).unwrap_err().to_string();
        assert!(
            err.contains(&format!("'{key}'")) && err.contains("quote it"),
            "{err}"
        );
        for secret in ["987654321", "3.14159", "31415900"] {
            assert!(!err.contains(secret), "{err}");
        }
    }
    let err = parse(&group("    timeout: 1s\n")).unwrap_err().to_string();
    assert!(
        err.contains("'kmip_hosts.g1.timeout'") && err.contains("whole number"),
        "{err}"
    );
    // Quoted numbers where numbers go, and numbers where text goes, are taken.
    let c = parse(&group(
        "    timeout: '2500'\n    key_cache_millis: 60000\n    keystore_password: '007'\n    protocol: 1.3\n",
    ))
    .unwrap();
    let g = &c.kmip_hosts["g1"];
    assert_eq!((g.timeout, g.key_cache_millis), (2500, 60000));
    assert_eq!(g.protocol.as_deref(), Some("1.3"));
}
