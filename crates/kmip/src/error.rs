//! The error type of this crate, and the per-host failure it lists.

use std::fmt;
use std::path::PathBuf;

use crate::ttlv::TtlvError;

/// The step of talking to one KMIP host that failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Step {
    /// Resolving the host name.
    Resolve,
    /// Opening the TCP connection.
    TcpConnect,
    /// The TLS handshake (server verification, client authentication).
    TlsHandshake,
    /// Sending the request.
    SendRequest,
    /// Reading the response.
    ReadResponse,
    /// Decoding the response.
    DecodeResponse,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Step::Resolve => "resolving the host name",
            Step::TcpConnect => "TCP connect",
            Step::TlsHandshake => "TLS handshake",
            Step::SendRequest => "sending the request",
            Step::ReadResponse => "reading the response",
            Step::DecodeResponse => "decoding the response",
        })
    }
}

/// Why a TLS handshake failed, when it can be told.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlsProblem {
    /// The server's certificate does not chain to any certificate of the truststore.
    UnknownCa,
    /// The server's certificate is not valid for the host name or address dialled.
    NameMismatch,
    /// The server's certificate is expired or not yet valid.
    NotValidNow,
    /// The server refused our client certificate (it answered with this alert, or closed the
    /// connection right after receiving it).
    ClientCertificateRejected {
        /// The alert the server sent, if it sent one.
        alert: Option<String>,
    },
    /// No TLS version or cipher suite in common.
    NoCommonParameters,
    /// Anything else rustls reported.
    Other,
}

/// One host's failure, as listed by [`KmipError::AllHostsFailed`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostFailure {
    /// The host as configured (`host:port`).
    pub host: String,
    /// The step that failed.
    pub step: Step,
    /// Whether it failed by timing out.
    pub timed_out: bool,
    /// For TLS handshake failures, what kind.
    pub tls: Option<TlsProblem>,
    /// What happened, for a person.
    pub detail: String,
}

impl fmt::Display for HostFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} failed: {}", self.host, self.step, self.detail)
    }
}

/// Formats a list of host failures as `[1] ...; [2] ...`.
fn list(failures: &[HostFailure]) -> String {
    failures
        .iter()
        .enumerate()
        .map(|(i, h)| format!("[{}] {h}", i + 1))
        .collect::<Vec<_>>()
        .join("; ")
}

/// A KMIP result reason (KMIP 1.2, 9.1.3.2.29), with its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ResultReason(pub u32);

impl ResultReason {
    /// Item Not Found.
    pub const ITEM_NOT_FOUND: ResultReason = ResultReason(0x01);
    /// Operation Not Supported.
    pub const OPERATION_NOT_SUPPORTED: ResultReason = ResultReason(0x05);
    /// Invalid Field.
    pub const INVALID_FIELD: ResultReason = ResultReason(0x07);
    /// Permission Denied.
    pub const PERMISSION_DENIED: ResultReason = ResultReason(0x0C);

    /// The name the KMIP specification gives this reason.
    pub fn name(self) -> &'static str {
        match self.0 {
            0x01 => "Item Not Found",
            0x02 => "Response Too Large",
            0x03 => "Authentication Not Successful",
            0x04 => "Invalid Message",
            0x05 => "Operation Not Supported",
            0x06 => "Missing Data",
            0x07 => "Invalid Field",
            0x08 => "Feature Not Supported",
            0x09 => "Operation Canceled By Requester",
            0x0A => "Cryptographic Failure",
            0x0B => "Illegal Operation",
            0x0C => "Permission Denied",
            0x0D => "Object Archived",
            0x0E => "Index Out of Bounds",
            0x0F => "Application Namespace Not Supported",
            0x10 => "Key Format Type Not Supported",
            0x11 => "Key Compression Type Not Supported",
            0x12 => "Encoding Option Error",
            0x13 => "Key Value Not Present",
            0x14 => "Attestation Required",
            0x15 => "Attestation Failed",
            0x100 => "General Failure",
            _ => "unknown result reason",
        }
    }
}

impl fmt::Display for ResultReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (0x{:02X})", self.name(), self.0)
    }
}

/// Everything that can go wrong in this crate. Never contains passwords or key material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KmipError {
    /// A `kmip_hosts` group's settings are unusable.
    #[error("kmip_hosts group {group:?}: {field}: {reason}")]
    Config {
        /// The group.
        group: String,
        /// The setting.
        field: &'static str,
        /// What is wrong and what to write instead.
        reason: String,
    },

    /// A keystore or truststore could not be read or used.
    #[error("{role} {}: {reason}", path.display())]
    Store {
        /// `keystore` or `truststore`.
        role: &'static str,
        /// Its path.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },

    /// Every host of the group failed before a KMIP reply came back.
    #[error(
        "KMIP group {group:?}: {operation} failed on every host: {}",
        list(failures)
    )]
    AllHostsFailed {
        /// The group.
        group: String,
        /// The KMIP operation.
        operation: &'static str,
        /// Each host's failure, in the order tried.
        failures: Vec<HostFailure>,
    },

    /// A request that creates an object may have reached a server, but no reply came back.
    /// It is not resent (that could make a duplicate key).
    #[error(
        "KMIP group {group:?}: outcome of {operation} on {host} is unknown: {detail}; the request may have reached the server, so it was not resent to another host (that could create a duplicate key); list the group's keys to see whether it was made{}",
        if earlier.is_empty() { String::new() } else { format!(" (hosts tried before: {})", list(earlier)) }
    )]
    OutcomeUnknown {
        /// The group.
        group: String,
        /// The host the request was sent to.
        host: String,
        /// The KMIP operation.
        operation: &'static str,
        /// What happened after the request was sent.
        detail: String,
        /// Hosts that failed before it.
        earlier: Vec<HostFailure>,
    },

    /// The server answered with a KMIP error.
    #[error(
        "KMIP {operation} refused by {host} (group {group:?}): {}{}",
        reason.map_or_else(|| "no result reason given".to_string(), |r| r.to_string()),
        message.as_ref().map(|m| format!(": {m}")).unwrap_or_default()
    )]
    Operation {
        /// The group.
        group: String,
        /// The host that answered.
        host: String,
        /// The KMIP operation.
        operation: &'static str,
        /// The result reason.
        reason: Option<ResultReason>,
        /// The server's result message.
        message: Option<String>,
    },

    /// The server's reply decoded, but is not what the operation must return.
    #[error("KMIP {operation} reply from {host} (group {group:?}) is unusable: {detail}")]
    BadResponse {
        /// The group.
        group: String,
        /// The host.
        host: String,
        /// The KMIP operation.
        operation: &'static str,
        /// What is missing or wrong.
        detail: String,
    },

    /// A request could not be encoded.
    #[error("cannot encode KMIP request: {0}")]
    Encode(#[from] TtlvError),

    /// A key does not have what crypta needs (an algorithm or length it knows, material).
    #[error("KMIP object {id} on group {group:?}: {reason}")]
    UnusableObject {
        /// The group.
        group: String,
        /// The object's unique identifier.
        id: String,
        /// What is wrong.
        reason: String,
    },

    /// The operating system's random number generator failed.
    #[error("the OS random number generator failed: {0}")]
    Rng(String),
}

impl KmipError {
    /// The KMIP result reason, if the server answered with an error.
    pub fn result_reason(&self) -> Option<ResultReason> {
        match self {
            KmipError::Operation { reason, .. } => *reason,
            _ => None,
        }
    }

    /// Whether no server could be reached (every host failed before a KMIP reply).
    pub fn is_unreachable(&self) -> bool {
        matches!(self, KmipError::AllHostsFailed { .. })
    }
}
