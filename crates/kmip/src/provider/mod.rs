//! `KmipKeyProvider`: crypta's keys from the KMIP servers of one `kmip_hosts` group.
//!
//! - **Encrypting** ([`KeyProvider::current_key`]): Locate the Active symmetric keys of the
//!   spec's algorithm, wire length and Object Group (the `key_keyspace` namespace, or
//!   [`DEFAULT_OBJECT_GROUP`]), newest first; use the first whose protect stop date has not
//!   passed; if there is none, Create one (or, when the server refuses to Create that cipher,
//!   as PyKMIP does DES and RC2, generate it from the OS CSPRNG and Register it) with a Name,
//!   the Object Group and crypta's Application Specific Information record, and Activate it.
//! - **Decrypting** ([`KeyProvider::key_by_id`]): Get Attributes and Get, whatever the state
//!   (Active, Deactivated, Compromised) as long as the server has the key.
//! - **Cache**: keys are kept for `key_cache_millis`. At the next use after that, the current
//!   key of a spec is looked up again (a key revoked or past its protect stop date stops
//!   encrypting then) and cached keys are checked (a destroyed key stops decrypting). If no
//!   server answers, cached keys go on serving with a warning at each refresh; a key never
//!   fetched fails with [`KeyError::Unavailable`] naming the group and hosts.
//!   Serving a cached key takes a shared lock, one clock read and a [`KeyIdMap`] lookup:
//!   concurrent readers do not wait for each other, and nothing is allocated.
//! - **Protect Stop Date**: PyKMIP cannot store it (Create templates with date attributes fail,
//!   Modify Attribute refuses it, Add Attribute is not implemented). crypta therefore records
//!   it, and the activation date, in an Application Specific Information entry of namespace
//!   [`CRYPTA_APP_NAMESPACE`] (`v=1;activated=SECS;protect_stop=SECS`) made with every key, and
//!   honours the server's own Protect Stop Date attribute first where a server keeps one.

mod manage;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use crypta_keys::{Key, KeyError, KeyId, KeyIdMap, KeyInfo, KeyProvider, KeySpec, Timestamp};

use crate::attributes::{Attribute, CryptaRecord, ObjectAttributes};
use crate::{
    CRYPTA_APP_NAMESPACE, CheckReport, KmipClient, KmipError, KmipGroupConfig, LocateFilter,
    NewKey, ResultReason,
};

/// The Object Group of keys whose spec has no namespace (no `key_keyspace`).
pub const DEFAULT_OBJECT_GROUP: &str = "crypta-default";

/// Keys from the KMIP servers of one `kmip_hosts` group. See the module docs.
pub struct KmipKeyProvider {
    client: KmipClient,
    ttl: Duration,
    /// Read on every decrypt (a shared lock); written when a key is fetched or checked.
    cache: RwLock<Cache>,
    /// Held during server round trips, so that threads missing the cache together ask once.
    refresh: Mutex<()>,
}

#[derive(Clone, Default)]
struct Cache {
    current: HashMap<KeySpec, Checked<KeyId>>,
    keys: KeyIdMap<Checked<Arc<Key>>>,
}

#[derive(Clone)]
struct Checked<T> {
    value: T,
    at: Instant,
}

impl<T> Checked<T> {
    fn now(value: T) -> Self {
        Checked {
            value,
            at: Instant::now(),
        }
    }
}

impl fmt::Debug for KmipKeyProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KmipKeyProvider")
            .field("client", &self.client)
            .field("key_cache", &self.ttl)
            .finish_non_exhaustive()
    }
}

// The cache holds no invariant a panic could break half-way: a poisoned lock is usable.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn read<T>(m: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    m.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(m: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    m.write().unwrap_or_else(PoisonError::into_inner)
}

/// The Object Group that holds the keys of a namespace.
pub fn object_group(namespace: Option<&str>) -> String {
    namespace.unwrap_or(DEFAULT_OBJECT_GROUP).to_string()
}

impl KmipKeyProvider {
    /// A provider for group `group` of the `kmip_hosts` section. Reads the stores; connects
    /// to nothing until a key is asked for (or [`KmipKeyProvider::check`] runs).
    pub fn new(group: &str, config: &KmipGroupConfig) -> Result<Self, KmipError> {
        Ok(Self::with_client(
            KmipClient::new(group, config)?,
            config.key_cache(),
        ))
    }

    /// The provider of group `group` of the `kmip_hosts` section (what the engine builds for
    /// a table whose `kmip_host` names the group).
    pub fn from_hosts(hosts: &crate::KmipHostsConfig, group: &str) -> Result<Self, KmipError> {
        Self::new(group, hosts.require(group)?)
    }

    /// A provider over `client`, caching keys for `key_cache`.
    pub fn with_client(client: KmipClient, key_cache: Duration) -> Self {
        KmipKeyProvider {
            client,
            ttl: key_cache,
            cache: RwLock::new(Cache::default()),
            refresh: Mutex::new(()),
        }
    }

    /// Takes over the keys `old` holds in its cache, with their ages: an edit of the group's
    /// settings while the engine runs replaces its provider, and must not drop the keys it
    /// holds (during an outage, all there is to read and write with). They expire
    /// `key_cache_millis` after `old` fetched them, as they would have.
    pub fn adopt_cache_of(&self, old: &KmipKeyProvider) {
        let cached = read(&old.cache).clone();
        *write(&self.cache) = cached;
    }

    /// The client (for `crypta keys check` and diagnostics).
    pub fn client(&self) -> &KmipClient {
        &self.client
    }

    /// Connects to each host and reports TLS and protocol versions (`crypta keys check`).
    pub fn check(&self) -> CheckReport {
        self.client.check()
    }

    fn hosts(&self) -> String {
        self.client
            .hosts()
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// A KMIP failure as a key error naming the key, the group and its hosts.
    fn key_error(&self, key_id: Option<&KeyId>, e: KmipError) -> KeyError {
        match (key_id, e.result_reason()) {
            (Some(id), Some(ResultReason::ITEM_NOT_FOUND)) => KeyError::NotFound {
                key_id: id.clone(),
                provider: format!(
                    "{} (the server has no such object: it was destroyed, or never existed there)",
                    self.describe()
                ),
            },
            _ => KeyError::Unavailable {
                key_id: key_id.cloned(),
                provider: self.describe(),
                reason: e.to_string(),
            },
        }
    }

    /// What crypta knows of a KMIP object, from its attributes.
    fn key_info(&self, attrs: &ObjectAttributes) -> Result<KeyInfo, KeyError> {
        let id = KeyId::new(attrs.id.clone())?;
        let (algorithm, strength) =
            attrs
                .crypta_algorithm()
                .ok_or_else(|| KeyError::BadMaterial {
                    key_id: id.clone(),
                    reason: format!(
                        "KMIP object with algorithm {:?} and length {:?} is not a symmetric key of a cipher crypta knows",
                        attrs.algorithm, attrs.length
                    ),
                })?;
        let state = attrs.key_state().ok_or_else(|| KeyError::Unavailable {
            key_id: Some(id.clone()),
            provider: self.describe(),
            reason: format!("the server reported no usable State ({:?})", attrs.state),
        })?;
        Ok(KeyInfo {
            id,
            name: attrs.names.first().cloned(),
            algorithm,
            strength,
            state,
            namespace: attrs
                .object_groups
                .first()
                .filter(|g| *g != DEFAULT_OBJECT_GROUP)
                .cloned(),
            created: attrs.initial_date.unwrap_or(Timestamp(0)),
            activated: attrs.activated(),
            protect_stop: attrs.protect_stop(),
            deactivated: attrs.deactivation_date,
        })
    }

    /// Gets the key's attributes and material.
    fn fetch(&self, id: &KeyId) -> Result<Arc<Key>, KeyError> {
        let attrs = self
            .client
            .get_attributes(id.as_str())
            .map_err(|e| self.key_error(Some(id), e))?;
        let info = self.key_info(&attrs)?;
        if !info.state.can_decrypt() {
            return Err(KeyError::Destroyed {
                key_id: id.clone(),
                provider: self.describe(),
            });
        }
        let fetched = self
            .client
            .get_symmetric_key(id.as_str())
            .map_err(|e| self.key_error(Some(id), e))?;
        Ok(Arc::new(Key::new(info, fetched.material)?))
    }

    /// Locates a key that may encrypt for `spec`, or makes one.
    fn find_or_create(&self, spec: &KeySpec, now: Timestamp) -> Result<Arc<Key>, KeyError> {
        let group = object_group(spec.namespace.as_deref());
        let filter = LocateFilter {
            algorithm: Some((spec.algorithm, Some(spec.strength))),
            state: Some(crypta_keys::KeyState::Active),
            object_group: Some(group.clone()),
            ..LocateFilter::default()
        };
        let ids = self
            .client
            .locate(&filter)
            .map_err(|e| self.key_error(None, e))?;
        if !ids.is_empty() {
            let attrs = self
                .client
                .get_attributes_many(&ids)
                .map_err(|e| self.key_error(None, e))?;
            for a in attrs.into_iter().flatten() {
                let Ok(info) = self.key_info(&a) else {
                    continue;
                };
                if info.matches(spec) && info.may_encrypt_at(now) {
                    let cached = read(&self.cache)
                        .keys
                        .get(&info.id)
                        .map(|c| c.value.clone());
                    return match cached {
                        Some(k) => Ok(Arc::new(Key::new(info, k.material().clone())?)),
                        None => self.fetch(&info.id),
                    };
                }
            }
        }
        self.create(spec, &group, now)
    }

    /// Creates (or registers) and activates a key for `spec`.
    fn create(&self, spec: &KeySpec, group: &str, now: Timestamp) -> Result<Arc<Key>, KeyError> {
        let mut suffix = [0u8; 4];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut suffix)
            .map_err(|_| KeyError::Rng("no randomness for a key name".into()))?;
        let name = format!(
            "crypta_{group}_{}_{}_{}_{:08x}",
            spec.algorithm,
            spec.strength,
            now.secs(),
            u32::from_be_bytes(suffix)
        );
        let new = NewKey {
            algorithm: spec.algorithm,
            strength: spec.strength,
            name: Some(name),
            object_group: Some(group.to_string()),
            application_info: vec![(
                CRYPTA_APP_NAMESPACE.to_string(),
                CryptaRecord::default().encode(),
            )],
        };
        let err = |e| self.key_error(None, e);
        let id = match self.client.create_symmetric_key(&new) {
            Ok(id) => id,
            Err(refused) if refused.result_reason().is_some() => {
                log::info!(
                    "{} refused to create a {spec} key ({refused}); registering one generated locally",
                    self.describe()
                );
                let material =
                    KmipClient::generate_material(spec.algorithm, spec.strength).map_err(err)?;
                self.client
                    .register_symmetric_key(&new, &material)
                    .map_err(err)?
            }
            Err(e) => return Err(err(e)),
        };
        self.client.activate(&id).map_err(err)?;
        let record = CryptaRecord {
            activated: Some(now),
            protect_stop: None,
        };
        let asi = Attribute::ApplicationSpecificInformation {
            namespace: CRYPTA_APP_NAMESPACE.to_string(),
            data: record.encode(),
        };
        if let Err(e) = self.client.modify_attribute(&id, &asi, Some(0)) {
            log::warn!(
                "{}: cannot record the activation date of key {id}: {e}",
                self.describe()
            );
        }
        log::info!("{}: created key {id} for {spec}", self.describe());
        self.fetch(&KeyId::new(id)?)
    }

    /// Forgets the current-key choice of every spec using `id` (after expire or revoke).
    fn forget_current(&self, id: &KeyId) {
        write(&self.cache).current.retain(|_, c| &c.value != id);
    }
}

impl KeyProvider for KmipKeyProvider {
    fn describe(&self) -> String {
        format!("KMIP group {} ({})", self.client.group(), self.hosts())
    }

    fn current_key(&self, spec: &KeySpec) -> Result<Arc<Key>, KeyError> {
        let cached = |fresh_only: bool| {
            let cache = read(&self.cache);
            let cur = cache.current.get(spec)?;
            if fresh_only && cur.at.elapsed() >= self.ttl {
                return None;
            }
            let key = cache.keys.get(&cur.value)?.value.clone();
            key.info.may_encrypt_at(Timestamp::now()).then_some(key)
        };
        if let Some(k) = cached(true) {
            return Ok(k);
        }
        let _refreshing = lock(&self.refresh);
        if let Some(k) = cached(true) {
            return Ok(k);
        }
        let now = Timestamp::now();
        match self.find_or_create(spec, now) {
            Ok(key) => {
                let mut cache = write(&self.cache);
                cache
                    .current
                    .insert(spec.clone(), Checked::now(key.id().clone()));
                cache
                    .keys
                    .insert(key.id().clone(), Checked::now(key.clone()));
                Ok(key)
            }
            Err(e) => match cached(false) {
                Some(key) => {
                    log::warn!(
                        "{}: cannot refresh the key for {spec}: {e}; still encrypting with cached key {} until the next refresh",
                        self.describe(),
                        key.id()
                    );
                    if let Some(c) = write(&self.cache).current.get_mut(spec) {
                        c.at = Instant::now();
                    }
                    Ok(key)
                }
                None => Err(match e {
                    KeyError::Unavailable { reason, .. } => KeyError::NoKeyFor {
                        spec: spec.clone(),
                        provider: self.describe(),
                        reason,
                    },
                    other => other,
                }),
            },
        }
    }

    fn key_by_id(&self, id: &KeyId) -> Result<Arc<Key>, KeyError> {
        let cached = |fresh_only: bool| {
            let cache = read(&self.cache);
            let c = cache.keys.get(id)?;
            (!fresh_only || c.at.elapsed() < self.ttl).then(|| c.value.clone())
        };
        if let Some(k) = cached(true) {
            return Ok(k);
        }
        let _refreshing = lock(&self.refresh);
        if let Some(k) = cached(true) {
            return Ok(k);
        }
        let refreshed = match cached(false) {
            // Known key: its material does not change; check that the server still has it.
            Some(old) => self
                .client
                .get_attributes(id.as_str())
                .map_err(|e| self.key_error(Some(id), e))
                .and_then(|a| self.key_info(&a))
                .and_then(|info| {
                    if info.state.can_decrypt() {
                        Ok(Arc::new(Key::new(info, old.material().clone())?))
                    } else {
                        Err(KeyError::Destroyed {
                            key_id: id.clone(),
                            provider: self.describe(),
                        })
                    }
                }),
            None => self.fetch(id),
        };
        match refreshed {
            Ok(key) => {
                write(&self.cache)
                    .keys
                    .insert(id.clone(), Checked::now(key.clone()));
                Ok(key)
            }
            Err(KeyError::NotFound { .. } | KeyError::Destroyed { .. })
                if cached(false).is_some() =>
            {
                // It was known and the server no longer has it: it was destroyed.
                write(&self.cache).keys.remove(id);
                self.forget_current(id);
                Err(KeyError::Destroyed {
                    key_id: id.clone(),
                    provider: self.describe(),
                })
            }
            Err(e @ KeyError::Unavailable { .. }) => match cached(false) {
                Some(key) => {
                    log::warn!(
                        "{}: cannot check key {id}: {e}; still serving the cached key until the next refresh",
                        self.describe()
                    );
                    if let Some(c) = write(&self.cache).keys.get_mut(id) {
                        c.at = Instant::now();
                    }
                    Ok(key)
                }
                None => Err(match e {
                    KeyError::Unavailable {
                        key_id,
                        provider,
                        reason,
                    } => KeyError::Unavailable {
                        key_id,
                        provider,
                        reason: format!(
                            "{reason}; this key was never fetched while a server answered, so there is no cached copy"
                        ),
                    },
                    other => other,
                }),
            },
            Err(e) => Err(e),
        }
    }
}
