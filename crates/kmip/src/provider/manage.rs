//! The lifecycle operations of the HCD rekey procedure (`crypta keys list/expire/revoke/
//! destroy`), acting on the server.

use std::sync::Arc;

use crypta_keys::{Key, KeyError, KeyId, KeyInfo, KeyManager, KeyProvider, KeyState, Timestamp};

use super::{Checked, KmipKeyProvider, write};
use crate::attributes::Attribute;
use crate::{CRYPTA_APP_NAMESPACE, LocateFilter};

impl KmipKeyProvider {
    fn info(&self, id: &KeyId) -> Result<(KeyInfo, crate::ObjectAttributes), KeyError> {
        let attrs = self
            .client
            .get_attributes(id.as_str())
            .map_err(|e| self.key_error(Some(id), e))?;
        Ok((self.key_info(&attrs)?, attrs))
    }

    /// Updates the cached copy of `id` (if any) with fresh `info`.
    fn update_cached(&self, info: &KeyInfo) {
        let mut cache = write(&self.cache);
        if let Some(c) = cache.keys.get(&info.id)
            && let Ok(k) = Key::new(info.clone(), c.value.material().clone())
        {
            cache
                .keys
                .insert(info.id.clone(), Checked::now(Arc::new(k)));
        }
    }
}

impl KeyManager for KmipKeyProvider {
    /// Every symmetric key of a cipher crypta knows that the server lets this client see.
    fn list(&self) -> Result<Vec<KeyInfo>, KeyError> {
        let ids = self
            .client
            .locate(&LocateFilter::default())
            .map_err(|e| self.key_error(None, e))?;
        let attrs = self
            .client
            .get_attributes_many(&ids)
            .map_err(|e| self.key_error(None, e))?;
        let mut out = Vec::new();
        for a in attrs {
            match a
                .map_err(|e| self.key_error(None, e))
                .and_then(|a| self.key_info(&a))
            {
                Ok(info) => out.push(info),
                Err(e) => log::debug!("{}: not listed: {e}", self.describe()),
            }
        }
        out.sort_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)));
        Ok(out)
    }

    /// Sets the protect stop date: on the server's Protect Stop Date attribute where the
    /// server keeps one, else in crypta's Application Specific Information record.
    fn expire(&self, id: &KeyId, at: Timestamp) -> Result<KeyInfo, KeyError> {
        let (info, attrs) = self.info(id)?;
        if info.state == KeyState::Destroyed {
            return Err(KeyError::InvalidTransition {
                key_id: id.clone(),
                operation: "expire",
                state: info.state,
                hint: None,
            });
        }
        let attr = Attribute::ProtectStopDate(at);
        let on_server = if attrs.protect_stop_date.is_some() {
            self.client.modify_attribute(id.as_str(), &attr, None)
        } else {
            self.client.add_attribute(id.as_str(), &attr)
        };
        match on_server {
            Ok(()) => {}
            Err(e) if e.result_reason().is_some() => {
                // The server refused the attribute (PyKMIP cannot store it): record it.
                let Some((index, mut record)) = attrs.crypta_record() else {
                    return Err(KeyError::Unavailable {
                        key_id: Some(id.clone()),
                        provider: self.describe(),
                        reason: format!(
                            "the server refused Protect Stop Date ({e}) and the key has no crypta record to keep it in (it was not made by crypta)"
                        ),
                    });
                };
                record.protect_stop = Some(at);
                let asi = Attribute::ApplicationSpecificInformation {
                    namespace: CRYPTA_APP_NAMESPACE.to_string(),
                    data: record.encode(),
                };
                let index = i32::try_from(index).unwrap_or(i32::MAX);
                self.client
                    .modify_attribute(id.as_str(), &asi, Some(index))
                    .map_err(|e| self.key_error(Some(id), e))?;
            }
            Err(e) => return Err(self.key_error(Some(id), e)),
        }
        self.forget_current(id);
        let (info, _) = self.info(id)?;
        self.update_cached(&info);
        Ok(info)
    }

    fn revoke(&self, id: &KeyId, compromised: bool) -> Result<KeyInfo, KeyError> {
        let (info, _) = self.info(id)?;
        let allowed = match info.state {
            KeyState::Active => true,
            KeyState::Deactivated | KeyState::PreActive => compromised,
            _ => false,
        };
        if !allowed {
            return Err(KeyError::InvalidTransition {
                key_id: id.clone(),
                operation: "revoke",
                state: info.state,
                hint: match info.state {
                    KeyState::Deactivated => Some("it is already revoked"),
                    KeyState::Compromised => Some("it is already revoked as compromised"),
                    KeyState::PreActive => Some("it never encrypted anything: destroy it instead"),
                    _ => None,
                },
            });
        }
        let message = if compromised {
            "crypta keys revoke: compromised"
        } else {
            "crypta keys revoke"
        };
        self.client
            .revoke(id.as_str(), compromised, Some(message))
            .map_err(|e| self.key_error(Some(id), e))?;
        self.forget_current(id);
        let (info, _) = self.info(id)?;
        self.update_cached(&info);
        Ok(info)
    }

    fn destroy(&self, id: &KeyId) -> Result<KeyInfo, KeyError> {
        let (mut info, _) = self.info(id)?;
        if matches!(info.state, KeyState::Active | KeyState::Destroyed) {
            return Err(KeyError::InvalidTransition {
                key_id: id.clone(),
                operation: "destroy",
                state: info.state,
                hint: (info.state == KeyState::Active).then_some(
                    "revoke it first, wait key_cache_millis, and re-encrypt what it protects",
                ),
            });
        }
        self.client
            .destroy(id.as_str())
            .map_err(|e| self.key_error(Some(id), e))?;
        {
            let mut cache = write(&self.cache);
            cache.keys.remove(id);
            cache.current.retain(|_, c| &c.value != id);
        }
        info.state = KeyState::Destroyed;
        info.deactivated = info.deactivated.or(Some(Timestamp::now()));
        log::info!("{}: destroyed key {id}", self.describe());
        Ok(info)
    }
}
