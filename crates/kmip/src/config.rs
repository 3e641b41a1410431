//! The `kmip_hosts` section of the configuration, exactly as `hcd.yaml` writes it.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use zeroize::Zeroizing;

use crate::KmipError;

/// The KMIP port when a host does not name one.
pub const DEFAULT_KMIP_PORT: u16 = 5696;
/// `key_cache_millis` when absent: 5 minutes.
pub const DEFAULT_KEY_CACHE_MILLIS: u64 = 300_000;
/// `timeout` when absent: 1 second.
pub const DEFAULT_TIMEOUT_MILLIS: u64 = 1_000;

/// The `kmip_hosts` section: group name to group settings.
///
/// ```yaml
/// kmip_hosts:
///   kmip_group1:
///     hosts: kmip1.example.com, kmip2.example.com:5697
///     keystore_path: /etc/crypta/kmip/keystore.jks
///     keystore_type: jks
///     keystore_password: cassandra
///     truststore_path: /etc/crypta/kmip/truststore.jks
///     truststore_type: jks
///     truststore_password: cassandra
///     key_cache_millis: 300000
///     timeout: 1000
/// ```
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct KmipHostsConfig {
    /// The groups, by name.
    pub groups: BTreeMap<String, KmipGroupConfig>,
}

impl KmipHostsConfig {
    /// The group called `name`.
    pub fn group(&self, name: &str) -> Option<&KmipGroupConfig> {
        self.groups.get(name)
    }

    /// The group called `name`, or an error that lists the groups there are (for a table's
    /// `kmip_host` option that names no group).
    pub fn require(&self, name: &str) -> Result<&KmipGroupConfig, KmipError> {
        self.groups.get(name).ok_or_else(|| KmipError::Config {
            group: name.to_string(),
            field: "kmip_host",
            reason: if self.groups.is_empty() {
                "kmip_hosts has no groups: add this group to the kmip_hosts section".to_string()
            } else {
                format!(
                    "no such group in kmip_hosts (groups: {})",
                    self.groups.keys().cloned().collect::<Vec<_>>().join(", ")
                )
            },
        })
    }
}

/// One `kmip_hosts` group. Field names are `hcd.yaml`'s; unknown fields are refused so that a
/// misspelt option is not silently ignored.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct KmipGroupConfig {
    /// Comma-separated `host[:port]` list, tried in this order.
    pub hosts: String,
    /// The client keystore: JKS, PKCS#12 or PEM (the format is detected from the bytes).
    pub keystore_path: PathBuf,
    /// `jks`, `pkcs12` or `pem`: what the operator believes the keystore is.
    #[serde(default)]
    pub keystore_type: Option<String>,
    /// The keystore's password (also the private key's, as keytool makes them).
    #[serde(default)]
    pub keystore_password: Password,
    /// The truststore: the CA certificates that may sign the servers' certificates.
    pub truststore_path: PathBuf,
    /// `jks`, `pkcs12` or `pem`.
    #[serde(default)]
    pub truststore_type: Option<String>,
    /// The truststore's password.
    #[serde(default)]
    pub truststore_password: Password,
    /// How long keys are cached before being checked with the server again, in milliseconds.
    #[serde(default = "default_key_cache_millis")]
    pub key_cache_millis: u64,
    /// The socket timeout, in milliseconds: for connecting, and for each read and write.
    #[serde(default = "default_timeout")]
    pub timeout: u64,
    /// TLS versions, e.g. `TLSv1.2` (or `TLS` for any); the rustls defaults when absent.
    #[serde(default)]
    pub protocol: Option<String>,
    /// TLS cipher suites by IANA name (`TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256`), a
    /// comma-separated string or a list; the rustls defaults when absent.
    #[serde(default)]
    pub cipher_suites: Option<CipherSuites>,
}

fn default_key_cache_millis() -> u64 {
    DEFAULT_KEY_CACHE_MILLIS
}

fn default_timeout() -> u64 {
    DEFAULT_TIMEOUT_MILLIS
}

/// `cipher_suites`: a comma-separated string or a YAML list.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum CipherSuites {
    /// `TLS_A, TLS_B`.
    Text(String),
    /// `[TLS_A, TLS_B]`.
    List(Vec<String>),
}

impl CipherSuites {
    /// The suite names, trimmed, empty ones dropped.
    pub fn names(&self) -> Vec<String> {
        let raw: Vec<&str> = match self {
            CipherSuites::Text(s) => s.split(',').collect(),
            CipherSuites::List(v) => v.iter().flat_map(|s| s.split(',')).collect(),
        };
        raw.into_iter()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect()
    }
}

/// A password from the configuration: zeroized on drop, never printed.
#[derive(Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(from = "String")]
pub struct Password(Zeroizing<String>);

impl Password {
    /// Wraps `s`.
    pub fn new(s: impl Into<String>) -> Self {
        Password(Zeroizing::new(s.into()))
    }

    /// The password. Callers must not log or keep it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Password {
    fn from(s: String) -> Self {
        Password::new(s)
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(redacted)")
    }
}

/// One KMIP server address.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HostAddr {
    /// The host name or IP address (without brackets for IPv6).
    pub host: String,
    /// The port.
    pub port: u16,
}

impl fmt::Display for HostAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

impl KmipGroupConfig {
    /// A group with the given hosts and stores and every other setting at its default.
    pub fn new(
        hosts: impl Into<String>,
        keystore_path: impl Into<PathBuf>,
        keystore_password: Password,
        truststore_path: impl Into<PathBuf>,
        truststore_password: Password,
    ) -> Self {
        KmipGroupConfig {
            hosts: hosts.into(),
            keystore_path: keystore_path.into(),
            keystore_type: None,
            keystore_password,
            truststore_path: truststore_path.into(),
            truststore_type: None,
            truststore_password,
            key_cache_millis: DEFAULT_KEY_CACHE_MILLIS,
            timeout: DEFAULT_TIMEOUT_MILLIS,
            protocol: None,
            cipher_suites: None,
        }
    }

    /// The hosts, in order, each with its port (5696 when not given).
    pub fn host_addrs(&self, group: &str) -> Result<Vec<HostAddr>, KmipError> {
        let bad = |reason: String| KmipError::Config {
            group: group.to_string(),
            field: "hosts",
            reason,
        };
        let mut out = Vec::new();
        for entry in self.hosts.split(',').map(str::trim) {
            if entry.is_empty() {
                continue;
            }
            let (host, port) = if let Some(rest) = entry.strip_prefix('[') {
                let (h, after) = rest
                    .split_once(']')
                    .ok_or_else(|| bad(format!("{entry:?}: missing ']' after an IPv6 address")))?;
                match after.strip_prefix(':') {
                    Some(p) => (h, Some(p)),
                    None if after.is_empty() => (h, None),
                    None => return Err(bad(format!("{entry:?}: expected ':PORT' after ']'"))),
                }
            } else if entry.matches(':').count() > 1 {
                return Err(bad(format!(
                    "{entry:?}: write IPv6 addresses in brackets, e.g. [::1]:5696"
                )));
            } else {
                match entry.split_once(':') {
                    Some((h, p)) => (h, Some(p)),
                    None => (entry, None),
                }
            };
            if host.is_empty() || host.chars().any(char::is_whitespace) {
                return Err(bad(format!("{entry:?}: not a host name or address")));
            }
            let port = match port {
                None => DEFAULT_KMIP_PORT,
                Some(p) => p
                    .parse::<u16>()
                    .ok()
                    .filter(|p| *p != 0)
                    .ok_or_else(|| bad(format!("{entry:?}: port {p:?} is not 1 to 65535")))?,
            };
            out.push(HostAddr {
                host: host.to_string(),
                port,
            });
        }
        if out.is_empty() {
            return Err(bad(
                "no hosts: write one or more host[:port], separated by commas".into(),
            ));
        }
        Ok(out)
    }

    /// The socket timeout.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout.max(1))
    }

    /// How long cached keys are used before being checked with the server again.
    pub fn key_cache(&self) -> Duration {
        Duration::from_millis(self.key_cache_millis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HCD: &str = r#"
kmip_hosts:
  kmip_groupname:
    hosts: kmip1.yourdomain.com, kmip2.yourdomain.com:5697, [::1]:7000, 10.0.0.1
    keystore_path: pathto/keystore.jks
    keystore_type: jks
    keystore_password: secret-ks
    truststore_path: pathto/truststore.jks
    truststore_type: jks
    truststore_password: secret-ts
    key_cache_millis: 300000
    timeout: 1000
    protocol: TLSv1.2
    cipher_suites: TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384
  minimal:
    hosts: localhost
    keystore_path: ks.p12
    truststore_path: ts.p12
"#;

    #[derive(Deserialize)]
    struct Root {
        kmip_hosts: KmipHostsConfig,
    }

    #[test]
    fn parses_hcd_yaml() {
        let root: Root = serde_yaml::from_str(HCD).unwrap();
        let g = root.kmip_hosts.group("kmip_groupname").unwrap();
        let hosts = g.host_addrs("kmip_groupname").unwrap();
        let shown: Vec<String> = hosts.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "kmip1.yourdomain.com:5696",
                "kmip2.yourdomain.com:5697",
                "[::1]:7000",
                "10.0.0.1:5696"
            ]
        );
        assert_eq!(g.keystore_password.expose(), "secret-ks");
        assert_eq!(g.timeout(), Duration::from_secs(1));
        assert_eq!(g.cipher_suites.as_ref().unwrap().names().len(), 2);
        let m = root.kmip_hosts.group("minimal").unwrap();
        assert_eq!(m.key_cache_millis, DEFAULT_KEY_CACHE_MILLIS);
        assert_eq!(m.timeout, DEFAULT_TIMEOUT_MILLIS);
        assert_eq!(m.keystore_password.expose(), "");
        assert!(m.protocol.is_none());
    }

    #[test]
    fn debug_never_shows_passwords() {
        let root: Root = serde_yaml::from_str(HCD).unwrap();
        let dbg = format!("{:?}", root.kmip_hosts);
        assert!(
            !dbg.contains("secret-ks") && !dbg.contains("secret-ts"),
            "{dbg}"
        );
        assert!(dbg.contains("redacted"));
    }

    #[test]
    fn refuses_misspelt_options_and_bad_hosts() {
        let typo =
            "g:\n  hosts: a\n  keystore_path: k\n  truststore_path: t\n  keystore_pasword: x\n";
        let err = serde_yaml::from_str::<KmipHostsConfig>(typo)
            .unwrap_err()
            .to_string();
        assert!(err.contains("keystore_pasword"), "{err}");
        for bad in ["", " , ", "a:0", "a:70000", "a:x", "::1", "[::1", "a b"] {
            let g = KmipGroupConfig::new(bad, "k", Password::default(), "t", Password::default());
            let err = g.host_addrs("g").unwrap_err().to_string();
            assert!(
                err.contains("kmip_hosts group \"g\": hosts:"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn unknown_group_lists_the_known_ones() {
        let root: Root = serde_yaml::from_str(HCD).unwrap();
        assert!(root.kmip_hosts.require("minimal").is_ok());
        let err = root.kmip_hosts.require("kmip2").unwrap_err().to_string();
        assert!(err.contains("kmip_groupname, minimal"), "{err}");
        let err = KmipHostsConfig::default()
            .require("g")
            .unwrap_err()
            .to_string();
        assert!(err.contains("has no groups"), "{err}");
    }

    #[test]
    fn cipher_suites_as_list() {
        let y = "g:\n  hosts: a\n  keystore_path: k\n  truststore_path: t\n  cipher_suites: [A, 'B, C']\n";
        let c: KmipHostsConfig = serde_yaml::from_str(y).unwrap();
        let names = c
            .group("g")
            .unwrap()
            .cipher_suites
            .as_ref()
            .unwrap()
            .names();
        assert_eq!(names, ["A", "B", "C"]);
    }
}
