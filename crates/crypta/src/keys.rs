//! Where the engine's keys come from: the local key file (the embedded default,
//! `system_key_directory/system_key`), other local key files named by a table's
//! `system_key_file` or `secret_key_file`, and KMIP groups from `kmip_hosts`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use crypta_compression::KeyProviderChoice;
use crypta_keys::{
    Key, KeyError, KeyId, KeyInfo, KeyManager, KeyProvider, KeySpec, LocalKeyProvider, Timestamp,
};

/// A provider that is also a manager (both local key files and KMIP groups are).
pub trait ManagedProvider: KeyProvider + KeyManager {}
impl<T: KeyProvider + KeyManager> ManagedProvider for T {}

/// The engine's key sources, by the name `crypta keys` shows (`local` or a KMIP group).
pub struct KeyRegistry {
    default_local: Arc<LocalKeyProvider>,
    other_local: Mutex<BTreeMap<PathBuf, Arc<LocalKeyProvider>>>,
    kmip: RwLock<BTreeMap<String, Arc<dyn ManagedProvider>>>,
}

impl fmt::Debug for KeyRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRegistry")
            .field("default_local", &self.default_local.path())
            .finish_non_exhaustive()
    }
}

impl KeyRegistry {
    /// A registry whose default provider is the local key file at `local_key_file`.
    pub fn new(local_key_file: &Path) -> Result<Self, KeyError> {
        Ok(KeyRegistry {
            default_local: Arc::new(LocalKeyProvider::open(local_key_file)?),
            other_local: Mutex::new(BTreeMap::new()),
            kmip: RwLock::new(BTreeMap::new()),
        })
    }

    /// Adds or replaces a KMIP group's provider.
    pub fn set_kmip_group(&self, group: &str, provider: Arc<dyn ManagedProvider>) {
        self.kmip
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(group.to_string(), provider);
    }

    /// The default local provider.
    pub fn local(&self) -> Arc<LocalKeyProvider> {
        self.default_local.clone()
    }

    /// Where a `secret_key_file` (or `system_key_file`) option points: a relative name is
    /// taken from `system_key_directory`, where the default key file also lives.
    pub fn local_path(&self, file: &Path) -> PathBuf {
        match self.default_local.path().parent() {
            Some(dir) if file.is_relative() => dir.join(file),
            _ => file.to_path_buf(),
        }
    }

    /// For a CREATE or ALTER TABLE naming a key file: refused, naming it, if its directory
    /// does not exist. A key file is made when a key is first needed, but not a directory for
    /// it: a misspelt absolute path would otherwise put keys where nobody looks for them (or
    /// backs them up). (Files of tables already created are not checked: a table whose key
    /// file went missing is unavailable alone, and can be dropped.)
    pub fn check_new_key_file(&self, choice: &KeyProviderChoice) -> Result<(), KeyError> {
        let KeyProviderChoice::Local {
            secret_key_file: Some(file),
        } = choice
        else {
            return Ok(());
        };
        let path = self.local_path(file);
        match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() && !dir.is_dir() => {
                Err(KeyError::Unavailable {
                    key_id: None,
                    provider: format!("local key file {}", path.display()),
                    reason: format!(
                        "its directory {} does not exist; crypta makes the key file when a \
                         key is first needed, not the directory: create it (mode 0700) or fix \
                         the path",
                        dir.display()
                    ),
                })
            }
            _ => Ok(()),
        }
    }

    /// The provider a table's (or system resource's) options name.
    pub fn provider_for(
        &self,
        choice: &KeyProviderChoice,
    ) -> Result<Arc<dyn KeyProvider>, KeyError> {
        match choice {
            KeyProviderChoice::Local {
                secret_key_file: None,
            } => Ok(self.default_local.clone()),
            KeyProviderChoice::Local {
                secret_key_file: Some(file),
            } => {
                let path = self.local_path(file);
                if path == self.default_local.path() {
                    return Ok(self.default_local.clone());
                }
                let mut others = self
                    .other_local
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                if let Some(p) = others.get(&path) {
                    return Ok(p.clone());
                }
                let p = Arc::new(LocalKeyProvider::open(&path)?);
                others.insert(path, p.clone());
                Ok(p)
            }
            KeyProviderChoice::Kmip { group } => self
                .kmip
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .get(group)
                .map(|p| p.clone() as Arc<dyn KeyProvider>)
                .ok_or_else(|| KeyError::Unavailable {
                    key_id: None,
                    provider: format!("KMIP group {group}"),
                    reason: "no such group under kmip_hosts in crypta.yaml".into(),
                }),
        }
    }

    /// Every provider by name: `local` (and `local:<file>` for others), then KMIP groups.
    pub fn managers(&self) -> Vec<(String, Arc<dyn ManagedProvider>)> {
        let mut out: Vec<(String, Arc<dyn ManagedProvider>)> =
            vec![("local".to_string(), self.default_local.clone())];
        for (path, p) in self
            .other_local
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
        {
            out.push((format!("local:{}", path.display()), p.clone()));
        }
        for (g, p) in self
            .kmip
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
        {
            out.push((g.clone(), p.clone()));
        }
        out
    }

    /// The manager named `name` (as [`KeyRegistry::managers`] names them).
    pub fn manager(&self, name: &str) -> Option<Arc<dyn ManagedProvider>> {
        self.managers()
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, p)| p)
    }

    /// Finds which manager holds key `id`: the one named `name` if given (as
    /// [`KeyRegistry::managers`] names them), else the only one that lists it. KMIP ids are
    /// unique only within a group, so an id two providers list must be given with its group.
    pub fn find(
        &self,
        id: &KeyId,
        name: Option<&str>,
    ) -> Result<(String, Arc<dyn ManagedProvider>, KeyInfo), KeyError> {
        let managers = self.managers();
        if let Some(want) = name
            && !managers.iter().any(|(n, _)| n == want)
        {
            let names: Vec<&str> = managers.iter().map(|(n, _)| n.as_str()).collect();
            return Err(KeyError::Unavailable {
                key_id: Some(id.clone()),
                provider: want.to_string(),
                reason: format!(
                    "no key provider has this name (the configured ones: {})",
                    names.join(", ")
                ),
            });
        }
        let mut found = Vec::new();
        let mut unreachable = None;
        for (n, m) in managers {
            if name.is_some_and(|want| want != n) {
                continue;
            }
            match m.list() {
                Ok(list) => {
                    if let Some(info) = list.into_iter().find(|i| &i.id == id) {
                        found.push((n, m, info));
                    }
                }
                // A provider that cannot be asked may hold it: say so if no other one does.
                Err(e) => unreachable = Some(e),
            }
        }
        if found.is_empty()
            && let Some(e) = unreachable
        {
            return Err(e);
        }
        if found.len() > 1 {
            let names: Vec<&str> = found.iter().map(|(n, _, _)| n.as_str()).collect();
            return Err(KeyError::Unavailable {
                key_id: Some(id.clone()),
                provider: names.join(" and "),
                reason: "several key providers have a key with this id: name one with --kmip-host"
                    .into(),
            });
        }
        found.pop().ok_or_else(|| KeyError::NotFound {
            key_id: id.clone(),
            provider: name.map_or_else(|| "any configured key provider".to_string(), String::from),
        })
    }
}

/// A provider that answers `key_by_id` from every source (for files whose provider is not
/// recorded, such as commit log segments written before a config change).
#[derive(Debug, Clone)]
pub struct AnyProvider(pub Arc<KeyRegistry>);

impl KeyProvider for AnyProvider {
    fn describe(&self) -> String {
        "any configured key provider".into()
    }

    fn current_key(&self, spec: &KeySpec) -> Result<Arc<Key>, KeyError> {
        self.0.default_local.current_key(spec)
    }

    fn key_by_id(&self, id: &KeyId) -> Result<Arc<Key>, KeyError> {
        let mut last = None;
        for (_, m) in self.0.managers() {
            match m.key_by_id(id) {
                Ok(k) => return Ok(k),
                Err(e @ KeyError::Destroyed { .. }) => return Err(e),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or(KeyError::NotFound {
            key_id: id.clone(),
            provider: self.describe(),
        }))
    }
}

/// Formats a key listing as the HCD docs' table does.
pub fn format_key_table(rows: &[(String, KeyInfo)]) -> String {
    let date = |t: Option<Timestamp>| t.map_or_else(|| "-".to_string(), |t| t.to_string());
    let mut lines = vec![[
        "ID".to_string(),
        "Name".into(),
        "Cipher".into(),
        "State".into(),
        "Activation Date".into(),
        "Creation Date".into(),
        "Protect Stop Date".into(),
        "Keyspace".into(),
        "Provider".into(),
    ]];
    for (provider, k) in rows {
        lines.push([
            k.id.to_string(),
            k.name.clone().unwrap_or_else(|| "-".into()),
            format!("{}/{}", k.algorithm, k.strength),
            k.state.to_string(),
            date(k.activated),
            date(Some(k.created)),
            date(k.protect_stop),
            k.namespace.clone().unwrap_or_else(|| "-".into()),
            provider.clone(),
        ]);
    }
    let widths: Vec<usize> = (0..9)
        .map(|c| {
            lines
                .iter()
                .map(|l| l.get(c).map_or(0, String::len))
                .max()
                .unwrap_or(0)
        })
        .collect();
    lines
        .iter()
        .map(|l| {
            l.iter()
                .zip(&widths)
                .map(|(s, w)| format!("{s:<w$}"))
                .collect::<Vec<_>>()
                .join("  ")
                .trim_end()
                .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}
