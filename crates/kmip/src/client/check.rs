//! `check()`: connect to every host of a group and say what works (`crypta keys check`).

use std::fmt;

use crypta_keys::Timestamp;

use super::KmipClient;
use super::transport::AttemptError;
use crate::message::{self, Operation, ProtocolVersion};
use crate::ttlv::tags::{PROTOCOL_VERSION, STATUS_SUCCESS};
use crate::{HostFailure, Step, StoreInfo};

/// One host's result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostCheck {
    /// The host.
    pub host: String,
    /// What worked, or what failed.
    pub outcome: Result<HostStatus, HostFailure>,
}

/// A host that answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostStatus {
    /// The TLS version negotiated, e.g. `TLSv1_2`.
    pub tls_version: String,
    /// The cipher suite negotiated.
    pub cipher_suite: String,
    /// The KMIP protocol versions the server speaks (Discover Versions), newest first.
    pub kmip_versions: Vec<ProtocolVersion>,
}

/// The result of [`KmipClient::check`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckReport {
    /// The group.
    pub group: String,
    /// What the keystore was found to be.
    pub keystore: StoreInfo,
    /// What the truststore was found to be.
    pub truststore: StoreInfo,
    /// Every host, in order.
    pub hosts: Vec<HostCheck>,
}

impl CheckReport {
    /// Whether every host answered.
    pub fn all_ok(&self) -> bool {
        self.hosts.iter().all(|h| h.outcome.is_ok())
    }
}

impl fmt::Display for CheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "KMIP group {}", self.group)?;
        writeln!(f, "  {}", self.keystore)?;
        writeln!(f, "  {}", self.truststore)?;
        for h in &self.hosts {
            match &h.outcome {
                Ok(s) => writeln!(
                    f,
                    "  {}: OK, {} {}, KMIP {}",
                    h.host,
                    s.tls_version,
                    s.cipher_suite,
                    s.kmip_versions
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                )?,
                Err(e) => writeln!(f, "  FAILED {e}")?,
            }
        }
        Ok(())
    }
}

impl KmipClient {
    /// Connects to each host (not just the first that works), completes the TLS handshake and
    /// asks Discover Versions. Never fails as a whole: each host's outcome is in the report.
    pub fn check(&self) -> CheckReport {
        let request = message::request(&[(Operation::DiscoverVersions, vec![])], Timestamp::now());
        let mut hosts = Vec::new();
        for host in &self.hosts {
            let outcome = match request.encode() {
                Err(e) => Err(HostFailure {
                    host: host.to_string(),
                    step: Step::SendRequest,
                    timed_out: false,
                    tls: None,
                    detail: e.to_string(),
                }),
                Ok(bytes) => match self.attempt(host, &bytes) {
                    Err(AttemptError::BeforeSend(f) | AttemptError::AfterSend(f)) => Err(f),
                    Ok((msg, negotiated)) => {
                        let fail = |detail: String| HostFailure {
                            host: host.to_string(),
                            step: Step::DecodeResponse,
                            timed_out: false,
                            tls: None,
                            detail,
                        };
                        match message::parse_response(msg, 1) {
                            Err(d) => Err(fail(d)),
                            Ok(mut items) => match items.pop() {
                                Some(item) if item.status == STATUS_SUCCESS => Ok(HostStatus {
                                    tls_version: negotiated.version,
                                    cipher_suite: negotiated.suite,
                                    kmip_versions: item
                                        .payload
                                        .iter()
                                        .flat_map(|p| p.children(PROTOCOL_VERSION))
                                        .filter_map(ProtocolVersion::from_ttlv)
                                        .collect(),
                                }),
                                Some(item) => Err(fail(format!(
                                    "Discover Versions refused: {}",
                                    item.message.unwrap_or_default()
                                ))),
                                None => Err(fail("no batch item".into())),
                            },
                        }
                    }
                },
            };
            hosts.push(HostCheck {
                host: host.to_string(),
                outcome,
            });
        }
        CheckReport {
            group: self.group.clone(),
            keystore: self.keystore.clone(),
            truststore: self.truststore.clone(),
            hosts,
        }
    }
}
