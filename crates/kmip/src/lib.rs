//! KMIP for crypta: a KMIP 1.x client over rustls, with the keystores HCD/DSE operators use.
//!
//! # Layers
//!
//! - [`ttlv`]: the wire encoding, a generic tag/type/length/value tree with a bounded,
//!   depth-limited decoder that never panics (fuzzed by `fuzz/fuzz_targets/ttlv_decode.rs`).
//! - `message`, `attributes` (private): KMIP 1.2 request and response messages and the
//!   attributes crypta reads and writes, over the tree.
//! - [`KmipClient`]: the operations (Discover Versions, Query, Create, Register, Activate,
//!   Get, Get Attributes, Locate, Add/Modify Attribute, Revoke, Destroy) on the hosts of one
//!   `kmip_hosts` group ([`KmipGroupConfig`]), with mutual TLS from a keystore and a
//!   truststore (JKS, PKCS#12 or PEM, detected from the bytes: [`StoreInfo`]).
//! - [`KmipKeyProvider`]: crypta's [`crypta_keys::KeyProvider`] and
//!   [`crypta_keys::KeyManager`] for one group: the current key of a spec (Locate an Active
//!   key of the algorithm, length and Object Group, else Create and Activate one), keys by id
//!   for decryption in any state but destroyed, a cache refreshed every `key_cache_millis`
//!   that keeps serving while the servers are down, and the rekey operations. The engine
//!   builds one per group with [`KmipKeyProvider::from_hosts`] and reports
//!   [`KmipKeyProvider::check`] for `crypta keys check`.
//!
//! # Why a codec of our own
//!
//! `kmip-protocol` pins rustls 0.19 and webpki 0.21 (no IP-address server names, open
//! advisories), keeps one batch item per request and a `RefCell` in its client. `kmip-ttlv`
//! lacks Interval and Big Integer serialization and maps TTLV onto serde structs, which makes
//! tolerating unknown tags and bounding the decoder harder to audit. TTLV is ten item types
//! and an 8-byte header: a few hundred lines of our own, decoded with the same bounded
//! [`crypta_keys::wire::Reader`] every crypta decoder uses, is smaller to review than either.
//!
//! # Failover and what is never resent
//!
//! Hosts are tried in the order listed. A connection refused, a TLS failure, an I/O error or a
//! timeout (the group's `timeout`, applied to connecting and to every read and write) moves to
//! the next host; a KMIP error reply does not (another server of the same cluster would give
//! the same answer). Once the bytes of a Create or Register may have reached a server, a
//! failure is reported as [`KmipError::OutcomeUnknown`] instead of being retried elsewhere,
//! which could leave two keys. When every host fails, [`KmipError::AllHostsFailed`] lists each
//! host with the step that failed ([`Step`]) and, for TLS, why ([`TlsProblem`]).
//!
//! # Secrets
//!
//! Passwords ([`Password`]) and key material ([`crypta_keys::KeyMaterial`], TTLV byte strings)
//! are zeroized on drop and never appear in `Debug`, `Display`, errors or logs.
#![forbid(unsafe_code)]

mod attributes;
mod client;
mod config;
mod error;
mod keystore;
mod message;
mod provider;

mod tls;
pub mod ttlv;

pub use attributes::{Attribute, CRYPTA_APP_NAMESPACE, ObjectAttributes};
pub use client::{
    CheckReport, FetchedKey, HostCheck, HostStatus, KmipClient, LocateFilter, NewKey, ServerInfo,
};
pub use config::{
    CipherSuites, DEFAULT_KEY_CACHE_MILLIS, DEFAULT_KMIP_PORT, DEFAULT_TIMEOUT_MILLIS, HostAddr,
    KmipGroupConfig, KmipHostsConfig, Password,
};
pub use error::{HostFailure, KmipError, ResultReason, Step, TlsProblem};
pub use keystore::{StoreFormat, StoreInfo};
pub use message::ProtocolVersion;
pub use provider::{DEFAULT_OBJECT_GROUP, KmipKeyProvider, object_group};
