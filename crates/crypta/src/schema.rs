//! Schema statements applied to the manifest state, and `DESC` output.

use std::collections::BTreeMap;

use crypta_compression::CompressionOptions;

use crate::cql::{Statement, quote_ident};
use crate::manifest::{KeyspaceDef, ManifestState, TableDef};

/// The keyspace of the engine's own tables.
pub const SYSTEM_KEYSPACE: &str = "system";

/// A schema statement that cannot be applied.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SchemaError {
    /// No such keyspace.
    #[error("keyspace '{0}' does not exist")]
    NoKeyspace(String),
    /// No such table.
    #[error("table '{0}.{1}' does not exist")]
    NoTable(String, String),
    /// Already exists.
    #[error("{0} already exists")]
    Exists(String),
    /// The keyspace still has tables.
    #[error("keyspace '{0}' still has tables ({1}); drop them first")]
    NotEmpty(String, String),
    /// The system keyspace is managed by crypta.
    #[error("the system keyspace is managed by crypta and cannot be changed")]
    SystemKeyspace,
    /// The compression options are invalid.
    #[error("{0}")]
    Options(#[from] crypta_compression::CompressionError),
}

/// What applying a statement did.
#[derive(Debug, PartialEq, Eq)]
pub enum Applied {
    /// The manifest changed and must be stored.
    Changed,
    /// Nothing to do (`IF NOT EXISTS` / `IF EXISTS`).
    Unchanged,
    /// A table was dropped: its files may be deleted once the manifest is stored.
    Dropped(TableDef),
    /// Text to print (`DESC`).
    Output(String),
}

/// Parses and validates a compression map, returning its canonical form.
pub fn canonical_compression(
    map: Option<&BTreeMap<String, String>>,
) -> Result<BTreeMap<String, String>, SchemaError> {
    match map {
        // Cassandra's default for new tables is LZ4; crypta's is the same.
        None => {
            let mut m = BTreeMap::new();
            m.insert("class".to_string(), "LZ4Compressor".to_string());
            Ok(CompressionOptions::parse(&m)?.to_map())
        }
        Some(m) => Ok(CompressionOptions::parse(m)?.to_map()),
    }
}

/// Applies a DDL statement (or answers a `DESC`) against `state`.
pub fn apply(state: &mut ManifestState, stmt: &Statement) -> Result<Applied, SchemaError> {
    match stmt {
        Statement::CreateKeyspace {
            name,
            if_not_exists,
            replication,
            durable_writes,
        } => {
            if name == SYSTEM_KEYSPACE {
                return Err(SchemaError::SystemKeyspace);
            }
            if state.keyspaces.contains_key(name) {
                return if *if_not_exists {
                    Ok(Applied::Unchanged)
                } else {
                    Err(SchemaError::Exists(format!("keyspace '{name}'")))
                };
            }
            state.keyspaces.insert(
                name.clone(),
                KeyspaceDef {
                    name: name.clone(),
                    replication: replication.clone(),
                    durable_writes: durable_writes.unwrap_or(true),
                },
            );
            Ok(Applied::Changed)
        }
        Statement::CreateTable {
            keyspace,
            table,
            if_not_exists,
            key,
            value,
            compression,
            ignored: _,
        } => {
            if keyspace == SYSTEM_KEYSPACE {
                return Err(SchemaError::SystemKeyspace);
            }
            if !state.keyspaces.contains_key(keyspace) {
                return Err(SchemaError::NoKeyspace(keyspace.clone()));
            }
            if state.table(keyspace, table).is_some() {
                return if *if_not_exists {
                    Ok(Applied::Unchanged)
                } else {
                    Err(SchemaError::Exists(format!("table '{keyspace}.{table}'")))
                };
            }
            let compression = canonical_compression(compression.as_ref())?;
            state.next_table_id += 1;
            let id = state.next_table_id;
            state.tables.insert(
                id,
                TableDef {
                    id,
                    keyspace: keyspace.clone(),
                    name: table.clone(),
                    key_column: key.clone(),
                    value_column: value.clone(),
                    compression,
                    sstables: Vec::new(),
                    flushed_position: [0, 0],
                },
            );
            Ok(Applied::Changed)
        }
        Statement::AlterTable {
            keyspace,
            table,
            compression,
            ignored: _,
        } => {
            let t = table_mut(state, keyspace, table)?;
            let Some(compression) = compression else {
                // Only properties crypta ignores: nothing changes.
                return Ok(Applied::Unchanged);
            };
            t.compression = canonical_compression(Some(compression))?;
            Ok(Applied::Changed)
        }
        Statement::DropTable {
            keyspace,
            table,
            if_exists,
        } => {
            if keyspace == SYSTEM_KEYSPACE {
                return Err(SchemaError::SystemKeyspace);
            }
            match state.table(keyspace, table).map(|t| t.id) {
                Some(id) => {
                    let def = state
                        .tables
                        .remove(&id)
                        .ok_or_else(|| SchemaError::NoTable(keyspace.clone(), table.clone()))?;
                    Ok(Applied::Dropped(def))
                }
                None if *if_exists => Ok(Applied::Unchanged),
                None => Err(SchemaError::NoTable(keyspace.clone(), table.clone())),
            }
        }
        Statement::DropKeyspace { name, if_exists } => {
            if name == SYSTEM_KEYSPACE {
                return Err(SchemaError::SystemKeyspace);
            }
            if !state.keyspaces.contains_key(name) {
                return if *if_exists {
                    Ok(Applied::Unchanged)
                } else {
                    Err(SchemaError::NoKeyspace(name.clone()))
                };
            }
            let tables: Vec<String> = state
                .tables
                .values()
                .filter(|t| &t.keyspace == name)
                .map(|t| t.name.clone())
                .collect();
            if !tables.is_empty() {
                return Err(SchemaError::NotEmpty(name.clone(), tables.join(", ")));
            }
            state.keyspaces.remove(name);
            Ok(Applied::Changed)
        }
        Statement::DescribeKeyspace(name) => Ok(Applied::Output(describe_keyspace(state, name)?)),
        Statement::DescribeTable { keyspace, table } => {
            let t = state
                .table(keyspace, table)
                .ok_or_else(|| SchemaError::NoTable(keyspace.clone(), table.clone()))?;
            Ok(Applied::Output(describe_table(t)))
        }
        Statement::DescribeSchema => {
            let mut out = Vec::new();
            for name in state.keyspaces.keys().filter(|k| *k != SYSTEM_KEYSPACE) {
                out.push(describe_keyspace(state, name)?);
            }
            Ok(Applied::Output(out.join("\n\n")))
        }
        Statement::DescribeKeyspaces => Ok(Applied::Output(
            state
                .keyspaces
                .keys()
                .map(|k| quote_ident(k))
                .collect::<Vec<_>>()
                .join(" "),
        )),
        Statement::DescribeTables => {
            let mut by_ks: BTreeMap<&str, Vec<String>> = BTreeMap::new();
            for t in state.tables.values() {
                by_ks
                    .entry(&t.keyspace)
                    .or_default()
                    .push(quote_ident(&t.name));
            }
            Ok(Applied::Output(
                by_ks
                    .into_iter()
                    .map(|(ks, ts)| format!("Keyspace {}\n{}", quote_ident(ks), ts.join(" ")))
                    .collect::<Vec<_>>()
                    .join("\n\n"),
            ))
        }
    }
}

fn table_mut<'a>(
    state: &'a mut ManifestState,
    keyspace: &str,
    table: &str,
) -> Result<&'a mut TableDef, SchemaError> {
    if keyspace == SYSTEM_KEYSPACE {
        return Err(SchemaError::SystemKeyspace);
    }
    state
        .tables
        .values_mut()
        .find(|t| t.keyspace == keyspace && t.name == table)
        .ok_or_else(|| SchemaError::NoTable(keyspace.to_string(), table.to_string()))
}

/// `CREATE TABLE` for `t`, compression options included.
pub fn describe_table(t: &TableDef) -> String {
    Statement::CreateTable {
        keyspace: t.keyspace.clone(),
        table: t.name.clone(),
        if_not_exists: false,
        key: t.key_column.clone(),
        value: t.value_column.clone(),
        compression: Some(t.compression.clone()),
        ignored: Vec::new(),
    }
    .to_string()
}

fn describe_keyspace(state: &ManifestState, name: &str) -> Result<String, SchemaError> {
    let ks = state
        .keyspaces
        .get(name)
        .ok_or_else(|| SchemaError::NoKeyspace(name.to_string()))?;
    let mut out = vec![
        Statement::CreateKeyspace {
            name: ks.name.clone(),
            if_not_exists: false,
            replication: ks.replication.clone(),
            durable_writes: Some(ks.durable_writes),
        }
        .to_string(),
    ];
    for t in state.tables.values().filter(|t| t.keyspace == name) {
        out.push(describe_table(t));
    }
    Ok(out.join("\n\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cql::parse;

    fn run(state: &mut ManifestState, cql: &str) -> Result<Applied, SchemaError> {
        apply(state, &parse(cql).unwrap())
    }

    #[test]
    fn ddl_and_desc_round_trip() {
        let mut s = ManifestState::default();
        assert!(run(&mut s, "CREATE TABLE ks.t (id text PRIMARY KEY, v text)").is_err());
        run(&mut s, "CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}").unwrap();
        run(&mut s, "CREATE TABLE ks.t (id text PRIMARY KEY, v text)").unwrap();
        assert_eq!(
            s.table("ks", "t").unwrap().compression["class"],
            "LZ4Compressor"
        );
        run(&mut s, "ALTER TABLE ks.t WITH compression = {'class': 'EncryptingDeflateCompressor', 'cipher_algorithm': 'AES/ECB/PKCS5Padding', 'secret_key_strength': 256}").unwrap();
        let Applied::Output(desc) = run(&mut s, "DESC KEYSPACE ks").unwrap() else {
            panic!()
        };
        assert!(
            desc.contains("'cipher_algorithm': 'AES/ECB/PKCS5Padding'"),
            "{desc}"
        );
        assert!(desc.contains("'secret_key_strength': '256'"), "{desc}");
        // DESC output recreates the same schema elsewhere.
        let mut copy = ManifestState::default();
        for stmt in desc.split("\n\n") {
            run(&mut copy, stmt).unwrap();
        }
        assert_eq!(
            copy.table("ks", "t").unwrap().compression,
            s.table("ks", "t").unwrap().compression
        );

        let err = run(&mut s, "ALTER TABLE ks.t WITH compression = {'class': 'Encryptor', 'secret_key_strength': 100}").unwrap_err();
        assert!(err.to_string().contains("secret_key_strength"), "{err}");
        assert!(run(&mut s, "DROP KEYSPACE ks").is_err());
        assert!(matches!(
            run(&mut s, "DROP TABLE ks.t").unwrap(),
            Applied::Dropped(_)
        ));
        assert_eq!(
            run(&mut s, "DROP TABLE IF EXISTS ks.t").unwrap(),
            Applied::Unchanged
        );
        run(&mut s, "DROP KEYSPACE ks").unwrap();
        assert!(matches!(
            run(
                &mut s,
                "CREATE KEYSPACE system WITH replication = {'class': 'LocalStrategy'}"
            ),
            Err(SchemaError::SystemKeyspace)
        ));
    }
}
