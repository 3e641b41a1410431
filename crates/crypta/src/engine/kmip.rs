//! KMIP groups in the engine: providers built from `kmip_hosts`, the startup check that every
//! group in use answers with a usable key, and live reload of `kmip_hosts` edits.

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError, Weak};
use std::time::{Duration, SystemTime};

use crypta_compression::{CompressionOptions, KeyProviderChoice};
use crypta_keys::KeySpec;
use crypta_kmip::{KmipGroupConfig, KmipKeyProvider};

use super::Inner;
use crate::config::Config;
use crate::keys::KeyRegistry;
use crate::manifest::ManifestState;
use crate::{Error, Result};

/// How often the configuration file is checked for edits.
pub(crate) const CONFIG_POLL: Duration = Duration::from_secs(1);

pub(crate) fn provider(group: &str, cfg: &KmipGroupConfig) -> Result<Arc<KmipKeyProvider>> {
    KmipKeyProvider::new(group, cfg)
        .map(Arc::new)
        .map_err(|e| Error::KmipGroup {
            group: group.to_string(),
            hosts: cfg.hosts.clone(),
            reason: e.to_string(),
        })
}

/// Every (KMIP group, key spec) that the schema or `system_info_encryption` uses.
fn groups_in_use(
    state: &ManifestState,
    system: &CompressionOptions,
) -> Result<BTreeSet<(String, KeySpecKey)>> {
    let mut out = BTreeSet::new();
    let mut add = |o: &CompressionOptions| {
        if let Some(e) = &o.encryption
            && let KeyProviderChoice::Kmip { group } = &e.key_provider
        {
            out.insert((group.clone(), KeySpecKey::from(&e.key_spec())));
        }
    };
    add(system);
    for t in state.tables.values() {
        add(&CompressionOptions::parse(&t.compression)?);
    }
    Ok(out)
}

/// A `KeySpec` that orders, for sets.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct KeySpecKey(crypta_keys::Algorithm, u32, Option<String>);

impl From<&KeySpec> for KeySpecKey {
    fn from(s: &KeySpec) -> Self {
        KeySpecKey(s.algorithm, s.strength, s.namespace.clone())
    }
}

/// Fails startup, naming the group and its hosts, if a group in use cannot be reached or
/// cannot supply a key of the configured cipher and strength.
pub(crate) fn check_groups_in_use(
    config: &Config,
    keys: &KeyRegistry,
    state: &ManifestState,
    system: &CompressionOptions,
) -> Result<()> {
    for (group, KeySpecKey(algorithm, strength, namespace)) in groups_in_use(state, system)? {
        let hosts = config
            .kmip_hosts
            .get(&group)
            .map(|g| g.hosts.clone())
            .unwrap_or_default();
        let fail = |reason: String| Error::KmipGroup {
            group: group.clone(),
            hosts: hosts.clone(),
            reason,
        };
        if hosts.is_empty() {
            return Err(fail(
                "the schema or system_info_encryption uses it, but kmip_hosts has no such group"
                    .into(),
            ));
        }
        let provider = keys.provider_for(&KeyProviderChoice::Kmip {
            group: group.clone(),
        })?;
        let spec = KeySpec {
            algorithm,
            strength,
            namespace,
        };
        provider
            .current_key(&spec)
            .map_err(|e| fail(format!("cannot supply a key ({spec}): {e}")))?;
    }
    Ok(())
}

impl Inner {
    /// For a table's new options under a KMIP group: fetches (or has the group create) the
    /// key they encrypt with, so that a CREATE or ALTER TABLE naming a group that cannot
    /// supply one fails (as DSE's "Failed to initialize Encryptor"), naming the group and its
    /// hosts, instead of succeeding and leaving a schema the next start refuses.
    pub(crate) fn check_kmip_key(
        &self,
        (options, provider): &(CompressionOptions, Arc<dyn crypta_keys::KeyProvider>),
    ) -> Result<()> {
        let Some(e) = &options.encryption else {
            return Ok(());
        };
        let KeyProviderChoice::Kmip { group } = &e.key_provider else {
            return Ok(());
        };
        let spec = e.key_spec();
        provider.current_key(&spec).map(|_| ()).map_err(|err| {
            let hosts = self
                .live_kmip
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(group)
                .map(|(g, _)| g.hosts.clone())
                .unwrap_or_default();
            Error::KmipGroup {
                group: group.clone(),
                hosts,
                reason: format!("cannot supply a key ({spec}), so the statement is refused: {err}"),
            }
        })
    }

    /// Re-reads the configuration file; applies what can change live (KMIP groups and their
    /// key cache settings). A broken edit is logged and ignored: the running config stays.
    pub(crate) fn reload_config(&self) -> Result<usize> {
        let Some(path) = self.config.source.clone() else {
            return Ok(0);
        };
        let new = Config::load(&path)?;
        let mut live = self
            .live_kmip
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut changed = 0;
        for (group, gc) in &new.kmip_hosts {
            let old = live.get(group);
            if old.map(|(c, _)| c) != Some(gc) {
                let p = provider(group, gc)?;
                // The keys the group's provider holds stay (see `adopt_cache_of`).
                if let Some((_, old)) = old {
                    p.adopt_cache_of(old);
                }
                self.keys.set_kmip_group(group, p.clone());
                log::info!("kmip_hosts group {group} ({}) is now in effect", gc.hosts);
                live.insert(group.clone(), (gc.clone(), p));
                changed += 1;
            }
        }
        for group in live.keys().filter(|g| !new.kmip_hosts.contains_key(*g)) {
            log::warn!(
                "kmip_hosts group {group} was removed from {}; it stays in use until restart, \
                 since files may need its keys",
                path.display()
            );
        }
        Ok(changed)
    }

    pub(crate) fn start_config_watcher(self: &Arc<Self>) -> Result<()> {
        let Some(path) = self.config.source.clone() else {
            return Ok(());
        };
        let weak: Weak<Inner> = Arc::downgrade(self);
        let stamp = |p: &std::path::Path| {
            std::fs::metadata(p)
                .ok()
                .map(|m| (m.len(), m.modified().unwrap_or(SystemTime::UNIX_EPOCH)))
        };
        let mut last = stamp(&path);
        std::thread::Builder::new()
            .name("crypta-config-watch".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(CONFIG_POLL);
                    let Some(inner) = weak.upgrade() else { return };
                    if inner.closed.load(Ordering::SeqCst) {
                        return;
                    }
                    let now = stamp(&path);
                    if now == last {
                        continue;
                    }
                    last = now;
                    if let Err(e) = inner.reload_config() {
                        log::error!(
                            "rejected the edit of {}: {e}; the running configuration stays",
                            path.display()
                        );
                    }
                }
            })
            .map_err(|source| Error::Io {
                operation: "starting the configuration watcher for",
                path: self.data_dir.clone(),
                source,
            })?;
        Ok(())
    }
}
