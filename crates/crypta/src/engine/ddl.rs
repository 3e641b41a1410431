//! CQL statements against the engine: the schema change is applied to a copy of the
//! manifest state, every changed table's codec and key provider is resolved (its key fetched
//! from its KMIP group, its key file's directory checked) before the manifest is stored, and
//! only then do the running tables change.

use std::sync::{Arc, PoisonError};

use super::Inner;
use crate::Result;
use crate::manifest;
use crate::schema::{self, Applied, SYSTEM_KEYSPACE};

impl Inner {
    /// Runs one statement; once it succeeded, warns about the table properties it ignored.
    pub(super) fn execute(&self, stmt: &crate::cql::Statement) -> Result<String> {
        let out = self.execute_statement(stmt)?;
        if let crate::cql::Statement::CreateTable {
            keyspace,
            table,
            ignored,
            ..
        }
        | crate::cql::Statement::AlterTable {
            keyspace,
            table,
            ignored,
            ..
        } = stmt
            && !ignored.is_empty()
        {
            let names: Vec<&str> = ignored.iter().map(|(n, _)| n.as_str()).collect();
            log::warn!(
                "{keyspace}.{table}: ignored the table properties {} (crypta keeps only \
                 compression)",
                names.join(", ")
            );
        }
        Ok(out)
    }

    fn execute_statement(&self, stmt: &crate::cql::Statement) -> Result<String> {
        let mut state = self.lock_state();
        let mut next = state.clone();
        let applied = schema::apply(&mut next, stmt)?;
        match applied {
            Applied::Output(s) => Ok(s),
            Applied::Unchanged => Ok(String::new()),
            Applied::Changed | Applied::Dropped(_) => {
                // Resolve every table's provider before storing, so a bad key provider fails
                // the statement, not a later flush.
                let mut runtime = Vec::new();
                for def in next.tables.values() {
                    let old = state.tables.get(&def.id);
                    if old.is_none_or(|o| o.compression != def.compression) {
                        let codec = self.codec_for(def)?;
                        if let Some(e) = &codec.0.encryption {
                            self.keys.check_new_key_file(&e.key_provider)?;
                        }
                        self.check_kmip_key(&codec)?;
                        runtime.push((def.clone(), codec));
                    }
                }
                manifest::store(&self.data_dir, &next)?;
                *state = next;
                if !self.config.system_info_encryption.enabled {
                    for (def, (options, _)) in &runtime {
                        if options.encryption.is_some() && def.keyspace != SYSTEM_KEYSPACE {
                            log::warn!(
                                "{}.{} is encrypted, but system_info_encryption is disabled: its \
                                 rows stay in plaintext in the commit log ({}) until the segment \
                                 holding them is deleted (once flushed: full segments at once, \
                                 the last one when the engine closes), and in hints; enable \
                                 system_info_encryption in crypta.yaml to encrypt them",
                                def.keyspace,
                                def.name,
                                self.config.commitlog_directory.display()
                            );
                        }
                    }
                }
                let mut tables = self.tables.write().unwrap_or_else(PoisonError::into_inner);
                for (def, codec) in runtime {
                    match tables.get(&def.id) {
                        Some(t) => *t.codec.write().unwrap_or_else(PoisonError::into_inner) = codec,
                        None => {
                            tables.insert(def.id, Arc::new(self.new_table(&def, codec)));
                        }
                    }
                }
                if let Applied::Dropped(def) = applied {
                    tables.remove(&def.id);
                    // Every file the manifest listed, those that did not open included.
                    for name in &def.sstables {
                        let path = self.data_dir.join(name);
                        if let Err(e) = std::fs::remove_file(&path) {
                            log::warn!("could not remove {}: {e}", path.display());
                        }
                    }
                }
                Ok(String::new())
            }
        }
    }
}
