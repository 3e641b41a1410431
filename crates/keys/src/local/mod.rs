//! `LocalKeyProvider`: the embedded default key source (DSE's
//! `LocalFileSystemKeyProviderFactory`), a key file on local disk.
//!
//! One key file holds every key: one Active key per (algorithm, strength, namespace) at a time,
//! generated from the OS CSPRNG on first use, with the KMIP lifecycle (expire, revoke, destroy).
//! Updates take an exclusive lock on `<file>.lock`, re-read the file, apply the change and
//! replace the file atomically, so that two processes sharing a key file never lose each
//! other's keys. Readers notice changes made by other processes (a key revoked with
//! `crypta keys revoke` while the engine runs) within the refresh interval.
//!
//! Every encrypted chunk read asks for its key by id, so that path is kept short: one clock
//! read and an atomic load to see whether the file is due for a check, a shared (read) lock,
//! a [`KeyIdMap`] lookup and an `Arc` clone; nothing is allocated. Checking the file (a
//! `stat`, and a re-read if it changed) takes the exclusive lock, once per refresh interval.

mod clock;
mod file;

use std::fs::{self, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use file::{Entry, Stamp};

use crate::{
    Algorithm, Key, KeyError, KeyId, KeyIdMap, KeyInfo, KeyManager, KeyMaterial, KeyProvider,
    KeySpec, KeyState, Timestamp,
};

/// How often, by default, the key file is checked for changes made by other processes.
pub const DEFAULT_REFRESH: Duration = Duration::from_secs(1);

/// Keys kept in a local key file. See the module docs.
#[derive(Debug)]
pub struct LocalKeyProvider {
    path: PathBuf,
    refresh: Duration,
    state: RwLock<State>,
    /// The clock of `checked`.
    clock: clock::Clock,
    /// When the file was last checked for changes, in nanoseconds of `clock`. Written
    /// only with `state` locked for writing; read without the lock to decide whether a check
    /// is due.
    checked: AtomicU64,
}

#[derive(Debug)]
struct State {
    entries: Vec<Entry>,
    /// Usable keys by id, built from `entries`.
    keys: KeyIdMap<Arc<Key>>,
    stamp: Option<Stamp>,
}

impl State {
    fn new(entries: Vec<Entry>, stamp: Option<Stamp>) -> Result<Self, KeyError> {
        let mut keys = KeyIdMap::default();
        for e in &entries {
            if let Some(m) = &e.material {
                keys.insert(
                    e.info.id.clone(),
                    Arc::new(Key::new(e.info.clone(), m.clone())?),
                );
            }
        }
        Ok(State {
            entries,
            keys,
            stamp,
        })
    }

    fn current(&self, spec: &KeySpec, now: Timestamp) -> Option<Arc<Key>> {
        self.entries
            .iter()
            .filter(|e| e.info.matches(spec) && e.info.may_encrypt_at(now))
            .max_by_key(|e| (e.info.activated, e.info.created))
            .and_then(|e| self.keys.get(&e.info.id).cloned())
    }
}

impl LocalKeyProvider {
    /// Opens the key file at `path` (created, mode 0600, when the first key is made; its
    /// directory is created mode 0700 if missing). An existing file must be a valid key file
    /// readable by its owner only. A key file is made only where none was before: a missing
    /// file whose lock file (`<file>.lock`, left by every update) is still there is refused
    /// ([`KeyError::KeyFileMissing`]).
    pub fn open(path: impl Into<PathBuf>) -> Result<Self, KeyError> {
        let path = path.into();
        let (entries, stamp) = match file::load(&path)? {
            Some((e, s)) => (e, Some(s)),
            None => (Vec::new(), None),
        };
        Ok(LocalKeyProvider {
            state: RwLock::new(State::new(entries, stamp)?),
            path,
            refresh: DEFAULT_REFRESH,
            clock: clock::Clock::new(),
            checked: AtomicU64::new(0),
        })
    }

    /// Sets how often the file is checked for changes made by other processes.
    pub fn with_refresh(mut self, refresh: Duration) -> Self {
        self.refresh = refresh;
        self
    }

    /// The key file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    // A panic while holding the lock cannot leave `State` half-updated (it is replaced
    // whole), so a poisoned lock is still usable.
    fn write_state(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// The keys, checking the file first if the refresh interval has passed since the last
    /// check.
    fn read_state(&self) -> Result<RwLockReadGuard<'_, State>, KeyError> {
        if self.check_due() {
            let mut state = self.write_state();
            // Another thread may have checked while this one waited for the lock.
            if self.check_due() {
                self.reload(&mut state)?;
            }
        }
        Ok(self.state.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Whether the refresh interval has passed since the last check (or may have: within the
    /// clock's resolution, a check falls due early rather than late).
    fn check_due(&self) -> bool {
        let refresh = u64::try_from(self.refresh.as_nanos()).unwrap_or(u64::MAX);
        let since = self
            .clock
            .now()
            .saturating_sub(self.checked.load(Ordering::Relaxed));
        since.saturating_add(self.clock.slack()) >= refresh
    }

    /// Re-reads the file if it changed on disk since it was last read.
    fn reload(&self, state: &mut State) -> Result<(), KeyError> {
        // The time before the stat: a change made during it is seen at the next check.
        let now = self.clock.now();
        let now_stamp = file::stamp(&self.path)?;
        self.checked.store(now, Ordering::Relaxed);
        if now_stamp == state.stamp {
            return Ok(());
        }
        match file::load(&self.path)? {
            Some((entries, stamp)) => *state = State::new(entries, Some(stamp))?,
            None if !state.entries.is_empty() => {
                return Err(KeyError::KeyFileVanished {
                    path: self.path.clone(),
                    keys: state.entries.len(),
                });
            }
            None => state.stamp = None,
        }
        Ok(())
    }

    /// Applies `change` to the freshest entries under the inter-process lock and stores them.
    fn update<T>(
        &self,
        change: impl FnOnce(&mut Vec<Entry>) -> Result<T, KeyError>,
    ) -> Result<T, KeyError> {
        let io = |operation, source| KeyError::Io {
            path: self.path.clone(),
            operation,
            source,
        };
        let dir = file::parent_dir(&self.path);
        if !dir.exists() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&dir)
                .map_err(|e| io("creating the directory of", e))?;
        }
        // Every update leaves the lock file behind: if it is there but the key file is not,
        // the key file was moved or deleted after keys were made in it.
        let lock_path = file::lock_path(&self.path);
        let lock_existed = lock_path.exists();
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&lock_path)
            .map_err(|e| io("opening the lock of", e))?;
        lock.lock().map_err(|e| io("locking", e))?;
        let mut state = self.write_state();
        self.reload(&mut state)?;
        if lock_existed && state.stamp.is_none() {
            // Making a new key file here would hide the loss, and a restored file would then
            // lose whatever the new one's keys encrypted.
            return Err(KeyError::KeyFileMissing {
                path: self.path.clone(),
                lock: lock_path,
            });
        }
        let mut entries = state.entries.clone();
        let out = change(&mut entries)?;
        let stamp = file::store(&self.path, &entries)?;
        *state = State::new(entries, Some(stamp))?;
        drop(state);
        drop(lock); // releases the flock
        Ok(out)
    }

    fn generate(spec: &KeySpec, now: Timestamp) -> Result<Entry, KeyError> {
        let mut raw = [0u8; 16];
        getrandom::fill(&mut raw)?;
        let id = KeyId::new(format!("local-{}", to_hex(&raw)))?;
        let len = spec.algorithm.material_len(spec.strength);
        let mut material = KeyMaterial::random(len)?.expose().to_vec();
        if matches!(spec.algorithm, Algorithm::Des | Algorithm::DesEde) {
            if spec.algorithm == Algorithm::DesEde && spec.strength == 112 {
                // Two-key triple DES: K3 = K1, as JCE's DESede key generator makes it.
                let (k12, k3) = material.split_at_mut(16);
                k3.copy_from_slice(&k12[..8]);
            }
            set_des_parity(&mut material);
        }
        let name = match &spec.namespace {
            Some(ns) => format!("{}_{}_{ns}", spec.algorithm, spec.strength),
            None => format!("{}_{}", spec.algorithm, spec.strength),
        };
        let info = KeyInfo {
            id,
            name: Some(name),
            algorithm: spec.algorithm,
            strength: spec.strength,
            state: KeyState::Active,
            namespace: spec.namespace.clone(),
            created: now,
            activated: Some(now),
            protect_stop: None,
            deactivated: None,
        };
        let material = KeyMaterial::new(material);
        Ok(Entry {
            info,
            material: Some(material),
        })
    }

    fn modify(
        &self,
        id: &KeyId,
        change: impl FnOnce(&mut Entry) -> Result<(), KeyError>,
    ) -> Result<KeyInfo, KeyError> {
        self.update(|entries| {
            let entry = entries
                .iter_mut()
                .find(|e| &e.info.id == id)
                .ok_or_else(|| KeyError::NotFound {
                    key_id: id.clone(),
                    provider: self.describe(),
                })?;
            change(entry)?;
            Ok(entry.info.clone())
        })
    }
}

/// Sets the low bit of each byte so that it has odd parity, as DES keys are written.
fn set_des_parity(key: &mut [u8]) {
    for b in key {
        let high = *b & 0xFE;
        *b = high | u8::from(high.count_ones() % 2 == 0);
    }
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl KeyProvider for LocalKeyProvider {
    fn describe(&self) -> String {
        format!("local key file {}", self.path.display())
    }

    fn current_key(&self, spec: &KeySpec) -> Result<Arc<Key>, KeyError> {
        spec.algorithm.check_strength(spec.strength)?;
        if let Some(k) = self.read_state()?.current(spec, Timestamp::now()) {
            return Ok(k);
        }
        let id = self.update(|entries| {
            let now = Timestamp::now();
            if let Some(e) = entries
                .iter()
                .find(|e| e.info.matches(spec) && e.info.may_encrypt_at(now))
            {
                return Ok(e.info.id.clone()); // another process made one meanwhile
            }
            let e = Self::generate(spec, now)?;
            log::info!(
                "generated key {} ({spec}) in {}",
                e.info.id,
                self.path.display()
            );
            let id = e.info.id.clone();
            entries.push(e);
            Ok(id)
        })?;
        let state = self.state.read().unwrap_or_else(PoisonError::into_inner);
        state
            .current(spec, Timestamp::now())
            .or_else(|| state.keys.get(&id).cloned())
            .ok_or_else(|| KeyError::NoKeyFor {
                spec: spec.clone(),
                provider: self.describe(),
                reason: "the key just generated is not usable".into(),
            })
    }

    fn key_by_id(&self, id: &KeyId) -> Result<Arc<Key>, KeyError> {
        if let Some(k) = self.read_state()?.keys.get(id) {
            return Ok(k.clone());
        }
        // Perhaps another process made it since we last looked.
        let mut state = self.write_state();
        self.reload(&mut state)?;
        if let Some(k) = state.keys.get(id) {
            return Ok(k.clone());
        }
        match state.entries.iter().find(|e| &e.info.id == id) {
            Some(_) => Err(KeyError::Destroyed {
                key_id: id.clone(),
                provider: self.describe(),
            }),
            None => Err(KeyError::NotFound {
                key_id: id.clone(),
                provider: match self.path.exists() {
                    true => self.describe(),
                    // Say so: a deleted or moved key file is the likely cause.
                    false => format!("{} (the file does not exist)", self.describe()),
                },
            }),
        }
    }
}

impl KeyManager for LocalKeyProvider {
    fn list(&self) -> Result<Vec<KeyInfo>, KeyError> {
        let mut state = self.write_state();
        self.reload(&mut state)?;
        Ok(state.entries.iter().map(|e| e.info.clone()).collect())
    }

    fn expire(&self, id: &KeyId, at: Timestamp) -> Result<KeyInfo, KeyError> {
        self.modify(id, |e| match e.info.state {
            KeyState::Active | KeyState::PreActive => {
                e.info.protect_stop = Some(at);
                Ok(())
            }
            state => Err(KeyError::InvalidTransition {
                key_id: id.clone(),
                operation: "expire",
                state,
                hint: Some("it already encrypts nothing new"),
            }),
        })
    }

    fn revoke(&self, id: &KeyId, compromised: bool) -> Result<KeyInfo, KeyError> {
        self.modify(id, |e| {
            let allowed = match e.info.state {
                KeyState::Active | KeyState::PreActive => true,
                KeyState::Deactivated => compromised,
                KeyState::Compromised | KeyState::Destroyed => false,
            };
            if !allowed {
                return Err(KeyError::InvalidTransition {
                    key_id: id.clone(),
                    operation: "revoke",
                    state: e.info.state,
                    hint: None,
                });
            }
            e.info.state = if compromised {
                KeyState::Compromised
            } else {
                KeyState::Deactivated
            };
            e.info.deactivated = Some(Timestamp::now());
            Ok(())
        })
    }

    fn destroy(&self, id: &KeyId) -> Result<KeyInfo, KeyError> {
        self.modify(id, |e| match e.info.state {
            KeyState::Active => Err(KeyError::InvalidTransition {
                key_id: id.clone(),
                operation: "destroy",
                state: KeyState::Active,
                hint: Some("revoke it first (crypta keys revoke ID), then rewrite the data under it with upgradesstables"),
            }),
            KeyState::Destroyed => Err(KeyError::InvalidTransition {
                key_id: id.clone(),
                operation: "destroy",
                state: KeyState::Destroyed,
                hint: None,
            }),
            _ => {
                e.info.state = KeyState::Destroyed;
                e.material = None; // dropped, hence zeroized
                Ok(())
            }
        })
    }
}

#[cfg(test)]
mod tests;
