//! `KmipClient`: the KMIP operations crypta needs, on the hosts of one `kmip_hosts` group.

mod check;
mod transport;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crypta_keys::{Algorithm, KeyMaterial, KeyState, Timestamp};
use rustls::ClientConfig;

pub use check::{CheckReport, HostCheck, HostStatus};

use crate::attributes::{
    self, Attribute, ObjectAttributes, enum_attribute, int_attribute, kmip_algorithm, wire_length,
};
use crate::message::{Operation, ProtocolVersion};
use crate::ttlv::tags::*;
use crate::ttlv::{DecodeLimits, Ttlv};
use crate::{HostAddr, KmipError, KmipGroupConfig, StoreInfo, keystore, tls};

/// How long a host that failed is tried after the others (see [`KmipClient`]).
pub const FAILED_HOST_LAST_FOR: Duration = Duration::from_secs(30);

/// A KMIP client for the hosts of one `kmip_hosts` group.
///
/// Each request goes to the hosts in the order listed, moving to the next on a connection,
/// TLS or I/O failure or a timeout, never on a KMIP error reply, and never resending a
/// Create or Register that may have reached a server. A host that failed in the last
/// [`FAILED_HOST_LAST_FOR`] is tried after the others, so that a host that hangs costs one
/// timeout, not one per request. Shareable between threads.
pub struct KmipClient {
    group: String,
    hosts: Vec<HostAddr>,
    /// When each host (by index) last failed, if it has not answered since.
    failed_at: std::sync::Mutex<Vec<Option<std::time::Instant>>>,
    tls: Arc<ClientConfig>,
    timeout: Duration,
    limits: DecodeLimits,
    keystore: StoreInfo,
    truststore: StoreInfo,
}

impl fmt::Debug for KmipClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KmipClient")
            .field("group", &self.group)
            .field("hosts", &self.hosts)
            .field("timeout", &self.timeout)
            .field("keystore", &self.keystore)
            .field("truststore", &self.truststore)
            .finish_non_exhaustive()
    }
}

/// What a new symmetric key must be (for Create, or Register of a locally made key).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewKey {
    /// Cipher.
    pub algorithm: Algorithm,
    /// Strength in bits (DESede 112/168, DES 56: wire lengths are derived).
    pub strength: u32,
    /// Name attribute.
    pub name: Option<String>,
    /// Object Group attribute.
    pub object_group: Option<String>,
    /// Application Specific Information entries: (namespace, data).
    pub application_info: Vec<(String, String)>,
}

/// What Locate looks for; absent criteria match anything. Only symmetric keys are located.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LocateFilter {
    /// Cipher, and with it the strength.
    pub algorithm: Option<(Algorithm, Option<u32>)>,
    /// State.
    pub state: Option<KeyState>,
    /// Object Group.
    pub object_group: Option<String>,
    /// Name.
    pub name: Option<String>,
    /// At most this many results (the server returns the newest first).
    pub max_items: Option<i32>,
}

/// A symmetric key fetched with Get.
#[derive(Debug)]
pub struct FetchedKey {
    /// Unique Identifier.
    pub id: String,
    /// Cryptographic Algorithm and Length as crypta names them, if it knows them.
    pub algorithm: Option<(Algorithm, u32)>,
    /// The key bytes.
    pub material: KeyMaterial,
}

/// What Query said about the server.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServerInfo {
    /// Operations supported (KMIP values).
    pub operations: Vec<u32>,
    /// Object types supported (KMIP values).
    pub object_types: Vec<u32>,
    /// Vendor Identification.
    pub vendor: Option<String>,
}

impl KmipClient {
    /// Builds a client for group `group`: reads the keystore and truststore and checks the
    /// hosts, protocol and cipher suites. Connects to nothing yet.
    pub fn new(group: &str, config: &KmipGroupConfig) -> Result<Self, KmipError> {
        let hosts = config.host_addrs(group)?;
        let identity = keystore::load_identity(
            &config.keystore_path,
            config.keystore_type.as_deref(),
            &config.keystore_password,
        )?;
        let trust = keystore::load_trust(
            &config.truststore_path,
            config.truststore_type.as_deref(),
            &config.truststore_password,
        )?;
        let suites = config
            .cipher_suites
            .as_ref()
            .map(|c| c.names())
            .unwrap_or_default();
        let tls = tls::client_config(
            group,
            &identity,
            &trust,
            config.protocol.as_deref(),
            &suites,
        )?;
        Ok(KmipClient {
            group: group.to_string(),
            failed_at: std::sync::Mutex::new(vec![None; hosts.len()]),
            hosts,
            tls,
            timeout: config.timeout(),
            limits: DecodeLimits::default(),
            keystore: identity.info,
            truststore: trust.info,
        })
    }

    /// The group's name.
    pub fn group(&self) -> &str {
        &self.group
    }

    /// The hosts, in the order they are tried.
    pub fn hosts(&self) -> &[HostAddr] {
        &self.hosts
    }

    /// What the keystore was found to be.
    pub fn keystore_info(&self) -> &StoreInfo {
        &self.keystore
    }

    /// What the truststore was found to be.
    pub fn truststore_info(&self) -> &StoreInfo {
        &self.truststore
    }

    fn bad(&self, op: Operation, host: &str, detail: impl Into<String>) -> KmipError {
        KmipError::BadResponse {
            group: self.group.clone(),
            host: host.to_string(),
            operation: op.name(),
            detail: detail.into(),
        }
    }

    fn unique_id(&self, op: Operation, host: &str, payload: &Ttlv) -> Result<String, KmipError> {
        payload
            .child_text(UNIQUE_IDENTIFIER)
            .map(String::from)
            .ok_or_else(|| self.bad(op, host, "no Unique Identifier in the reply"))
    }

    /// Discover Versions: the protocol versions the first reachable server speaks.
    pub fn discover_versions(&self) -> Result<Vec<ProtocolVersion>, KmipError> {
        let payload = self.call(Operation::DiscoverVersions, vec![])?;
        Ok(payload
            .children(PROTOCOL_VERSION)
            .filter_map(ProtocolVersion::from_ttlv)
            .collect())
    }

    /// Query: the operations and object types the server supports, and its vendor.
    pub fn query(&self) -> Result<ServerInfo, KmipError> {
        let payload = self.call(
            Operation::Query,
            vec![
                Ttlv::enumeration(QUERY_FUNCTION, QUERY_OPERATIONS),
                Ttlv::enumeration(QUERY_FUNCTION, QUERY_OBJECTS),
                Ttlv::enumeration(QUERY_FUNCTION, QUERY_SERVER_INFORMATION),
            ],
        )?;
        Ok(ServerInfo {
            operations: payload
                .children(OPERATION)
                .filter_map(Ttlv::as_enum)
                .collect(),
            object_types: payload
                .children(OBJECT_TYPE)
                .filter_map(Ttlv::as_enum)
                .collect(),
            vendor: payload.child_text(VENDOR_IDENTIFICATION).map(String::from),
        })
    }

    fn template(key: &NewKey, include_usage: bool) -> Vec<Ttlv> {
        let mut attrs = vec![
            enum_attribute("Cryptographic Algorithm", kmip_algorithm(key.algorithm)),
            int_attribute(
                "Cryptographic Length",
                wire_length(key.algorithm, key.strength),
            ),
        ];
        if include_usage {
            attrs.push(Attribute::CryptographicUsageMask(USAGE_ENCRYPT_DECRYPT).to_ttlv(None));
        }
        if let Some(n) = &key.name {
            attrs.push(Attribute::Name(n.clone()).to_ttlv(None));
        }
        if let Some(g) = &key.object_group {
            attrs.push(Attribute::ObjectGroup(g.clone()).to_ttlv(None));
        }
        for (namespace, data) in &key.application_info {
            attrs.push(
                Attribute::ApplicationSpecificInformation {
                    namespace: namespace.clone(),
                    data: data.clone(),
                }
                .to_ttlv(None),
            );
        }
        attrs
    }

    fn check_spec(&self, key: &NewKey) -> Result<(), KmipError> {
        key.algorithm
            .check_strength(key.strength)
            .map_err(|e| KmipError::Config {
                group: self.group.clone(),
                field: "cipher",
                reason: e.to_string(),
            })
    }

    /// Create: the server makes a symmetric key (Pre-Active). Returns its unique identifier.
    pub fn create_symmetric_key(&self, key: &NewKey) -> Result<String, KmipError> {
        self.check_spec(key)?;
        let payload = vec![
            Ttlv::enumeration(OBJECT_TYPE, OBJECT_TYPE_SYMMETRIC_KEY),
            Ttlv::structure(TEMPLATE_ATTRIBUTE, Self::template(key, true)),
        ];
        let (host, reply) = self.call_at(Operation::Create, payload)?;
        self.unique_id(Operation::Create, &host, &reply)
    }

    /// Register: stores `material` (made by the caller) as a symmetric key (Pre-Active).
    pub fn register_symmetric_key(
        &self,
        key: &NewKey,
        material: &KeyMaterial,
    ) -> Result<String, KmipError> {
        self.check_spec(key)?;
        let wire = wire_length(key.algorithm, key.strength);
        let key_block = Ttlv::structure(
            KEY_BLOCK,
            vec![
                Ttlv::enumeration(KEY_FORMAT_TYPE, KEY_FORMAT_RAW),
                Ttlv::structure(
                    KEY_VALUE,
                    vec![Ttlv::bytes(KEY_MATERIAL, material.expose())],
                ),
                Ttlv::enumeration(CRYPTOGRAPHIC_ALGORITHM, kmip_algorithm(key.algorithm)),
                Ttlv::integer(CRYPTOGRAPHIC_LENGTH, wire),
            ],
        );
        let payload = vec![
            Ttlv::enumeration(OBJECT_TYPE, OBJECT_TYPE_SYMMETRIC_KEY),
            Ttlv::structure(TEMPLATE_ATTRIBUTE, Self::template(key, true)),
            Ttlv::structure(SYMMETRIC_KEY, vec![key_block]),
        ];
        let (host, reply) = self.call_at(Operation::Register, payload)?;
        self.unique_id(Operation::Register, &host, &reply)
    }

    /// Makes key material locally from the OS CSPRNG, sized for the wire length (DES and
    /// DESede with odd parity bits), for servers that refuse to Create the algorithm.
    pub fn generate_material(
        algorithm: Algorithm,
        strength: u32,
    ) -> Result<KeyMaterial, KmipError> {
        let len = usize::try_from(wire_length(algorithm, strength) / 8).unwrap_or(0);
        let mut bytes = zeroize::Zeroizing::new(vec![0u8; len]);
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
            .map_err(|_| KmipError::Rng("no randomness from the operating system".into()))?;
        if matches!(algorithm, Algorithm::Des | Algorithm::DesEde) {
            for b in bytes.iter_mut() {
                let high = *b & 0xFE;
                *b = high | u8::from(high.count_ones() % 2 == 0);
            }
        }
        Ok(KeyMaterial::from_slice(&bytes))
    }

    /// Activate: Pre-Active to Active.
    pub fn activate(&self, id: &str) -> Result<(), KmipError> {
        self.call(Operation::Activate, vec![Ttlv::text(UNIQUE_IDENTIFIER, id)])
            .map(drop)
    }

    /// Get: the key's material (in any state the server still returns it).
    pub fn get_symmetric_key(&self, id: &str) -> Result<FetchedKey, KmipError> {
        let op = Operation::Get;
        let reply = self.call(op, vec![Ttlv::text(UNIQUE_IDENTIFIER, id)])?;
        let block = reply
            .child(SYMMETRIC_KEY)
            .and_then(|k| k.child(KEY_BLOCK))
            .ok_or_else(|| KmipError::UnusableObject {
                group: self.group.clone(),
                id: id.to_string(),
                reason: "it is not a symmetric key (no Symmetric Key / Key Block in the Get reply)"
                    .into(),
            })?;
        let material = block.child(KEY_VALUE).and_then(|v| v.child(KEY_MATERIAL));
        // Raw keys carry the bytes directly; Transparent Symmetric Keys in a Key (0x42003F).
        let bytes = material.and_then(|m| m.as_bytes().or_else(|| m.child(KEY)?.as_bytes()));
        let bytes = bytes.ok_or_else(|| KmipError::UnusableObject {
            group: self.group.clone(),
            id: id.to_string(),
            reason: "the Get reply has no plain key material (wrapped keys are not supported)"
                .into(),
        })?;
        let algorithm = match (
            block.child_enum(CRYPTOGRAPHIC_ALGORITHM),
            block.child_int(CRYPTOGRAPHIC_LENGTH),
        ) {
            (Some(a), Some(l)) => attributes::from_wire(a, l),
            _ => None,
        };
        Ok(FetchedKey {
            id: reply
                .child_text(UNIQUE_IDENTIFIER)
                .unwrap_or(id)
                .to_string(),
            algorithm,
            material: KeyMaterial::from_slice(bytes),
        })
    }

    /// Get Attributes: every attribute the server returns for `id`.
    pub fn get_attributes(&self, id: &str) -> Result<ObjectAttributes, KmipError> {
        let reply = self.call(
            Operation::GetAttributes,
            vec![Ttlv::text(UNIQUE_IDENTIFIER, id)],
        )?;
        let mut attrs = ObjectAttributes::from_payload(&reply);
        if attrs.id.is_empty() {
            attrs.id = id.to_string();
        }
        Ok(attrs)
    }

    /// Get Attributes for many objects in one batched request; one result per id, in order.
    pub fn get_attributes_many(
        &self,
        ids: &[String],
    ) -> Result<Vec<Result<ObjectAttributes, KmipError>>, KmipError> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(64) {
            let items: Vec<_> = chunk
                .iter()
                .map(|id| {
                    (
                        Operation::GetAttributes,
                        vec![Ttlv::text(UNIQUE_IDENTIFIER, id.as_str())],
                    )
                })
                .collect();
            let (host, mut results) = self.send(&items)?;
            if results.len() != chunk.len()
                && let Some(whole) = results.pop()
            {
                // The server refused the batch as a whole.
                return Err(
                    match self.payload_of(Operation::GetAttributes, &host, whole) {
                        Err(e) => e,
                        Ok(_) => {
                            self.bad(Operation::GetAttributes, &host, "one batch item for many")
                        }
                    },
                );
            }
            for (id, result) in chunk.iter().zip(results) {
                out.push(
                    self.payload_of(Operation::GetAttributes, &host, result)
                        .map(|p| {
                            let mut a = ObjectAttributes::from_payload(&p);
                            if a.id.is_empty() {
                                a.id.clone_from(id);
                            }
                            a
                        }),
                );
            }
        }
        Ok(out)
    }

    /// Locate: unique identifiers of the symmetric keys matching `filter`, newest first as
    /// servers return them.
    pub fn locate(&self, filter: &LocateFilter) -> Result<Vec<String>, KmipError> {
        let mut payload = Vec::new();
        if let Some(max) = filter.max_items {
            payload.push(Ttlv::integer(MAXIMUM_ITEMS, max));
        }
        payload.push(enum_attribute("Object Type", OBJECT_TYPE_SYMMETRIC_KEY));
        if let Some((alg, strength)) = filter.algorithm {
            payload.push(enum_attribute(
                "Cryptographic Algorithm",
                kmip_algorithm(alg),
            ));
            if let Some(s) = strength {
                payload.push(int_attribute("Cryptographic Length", wire_length(alg, s)));
            }
        }
        if let Some(state) = filter.state {
            payload.push(enum_attribute("State", attributes::kmip_state(state)));
        }
        if let Some(g) = &filter.object_group {
            payload.push(Attribute::ObjectGroup(g.clone()).to_ttlv(None));
        }
        if let Some(n) = &filter.name {
            payload.push(Attribute::Name(n.clone()).to_ttlv(None));
        }
        let reply = self.call(Operation::Locate, payload)?;
        Ok(reply
            .children(UNIQUE_IDENTIFIER)
            .filter_map(Ttlv::as_text)
            .map(String::from)
            .collect())
    }

    /// Add Attribute.
    pub fn add_attribute(&self, id: &str, attribute: &Attribute) -> Result<(), KmipError> {
        self.call(
            Operation::AddAttribute,
            vec![Ttlv::text(UNIQUE_IDENTIFIER, id), attribute.to_ttlv(None)],
        )
        .map(drop)
    }

    /// Modify Attribute; `index` picks the instance of a multi-valued attribute.
    pub fn modify_attribute(
        &self,
        id: &str,
        attribute: &Attribute,
        index: Option<i32>,
    ) -> Result<(), KmipError> {
        self.call(
            Operation::ModifyAttribute,
            vec![Ttlv::text(UNIQUE_IDENTIFIER, id), attribute.to_ttlv(index)],
        )
        .map(drop)
    }

    /// Revoke: with reason Key Compromise (the key becomes Compromised) or Cessation of
    /// Operation (it becomes Deactivated).
    pub fn revoke(
        &self,
        id: &str,
        compromised: bool,
        message: Option<&str>,
    ) -> Result<(), KmipError> {
        let code = if compromised {
            REVOKE_KEY_COMPROMISE
        } else {
            REVOKE_CESSATION
        };
        let mut reason = vec![Ttlv::enumeration(REVOCATION_REASON_CODE, code)];
        if let Some(m) = message {
            reason.push(Ttlv::text(REVOCATION_MESSAGE, m));
        }
        let mut payload = vec![
            Ttlv::text(UNIQUE_IDENTIFIER, id),
            Ttlv::structure(REVOCATION_REASON, reason),
        ];
        if compromised {
            let now = i64::try_from(Timestamp::now().secs()).unwrap_or(i64::MAX);
            payload.push(Ttlv::date_time(COMPROMISE_OCCURRENCE_DATE, now));
        }
        self.call(Operation::Revoke, payload).map(drop)
    }

    /// Destroy: the server deletes the key material.
    pub fn destroy(&self, id: &str) -> Result<(), KmipError> {
        self.call(Operation::Destroy, vec![Ttlv::text(UNIQUE_IDENTIFIER, id)])
            .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_material_sizes_and_parity() {
        let des = KmipClient::generate_material(Algorithm::Des, 56).unwrap();
        assert_eq!(des.len(), 8);
        assert!(des.expose().iter().all(|b| b.count_ones() % 2 == 1));
        assert_eq!(
            KmipClient::generate_material(Algorithm::DesEde, 112)
                .unwrap()
                .len(),
            16
        );
        assert_eq!(
            KmipClient::generate_material(Algorithm::DesEde, 168)
                .unwrap()
                .len(),
            24
        );
        assert_eq!(
            KmipClient::generate_material(Algorithm::Rc2, 40)
                .unwrap()
                .len(),
            5
        );
        let a = KmipClient::generate_material(Algorithm::Aes, 256).unwrap();
        let b = KmipClient::generate_material(Algorithm::Aes, 256).unwrap();
        assert_eq!(a.len(), 32);
        assert_ne!(a.expose(), b.expose());
    }
}
