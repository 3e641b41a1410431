//! The CQL subset of `crypta cql`: keyspace and table DDL with the compression options users
//! know, and `DESC` to print the statements that recreate them.

mod lexer;
mod parser;

use std::collections::BTreeMap;
use std::fmt;

pub use parser::{parse, parse_script};

/// A parsed statement.
#[derive(Clone, Debug, PartialEq)]
pub enum Statement {
    /// `CREATE KEYSPACE [IF NOT EXISTS] ks WITH replication = {...} [AND durable_writes = ...]`.
    CreateKeyspace {
        /// Keyspace name.
        name: String,
        /// `IF NOT EXISTS` was given.
        if_not_exists: bool,
        /// The replication map, kept to print it back.
        replication: BTreeMap<String, String>,
        /// `durable_writes`, if given.
        durable_writes: Option<bool>,
    },
    /// `CREATE TABLE [IF NOT EXISTS] ks.t (k type PRIMARY KEY, v type) [WITH compression = {...}]`.
    CreateTable {
        /// Keyspace.
        keyspace: String,
        /// Table.
        table: String,
        /// `IF NOT EXISTS` was given.
        if_not_exists: bool,
        /// The key column: name and CQL type.
        key: (String, String),
        /// The value column: name and CQL type.
        value: (String, String),
        /// The `compression` map, if given (`None`: the default).
        compression: Option<BTreeMap<String, String>>,
        /// Cassandra table properties crypta has no use for (`gc_grace_seconds`, `caching`,
        /// ...), as pasted from `DESC` output, which it accepts and ignores: each name with
        /// the text of its value. Never kept in the schema.
        ignored: Vec<(String, String)>,
    },
    /// `ALTER TABLE ks.t WITH compression = {...}` (and ignored properties, see
    /// [`Statement::CreateTable`]).
    AlterTable {
        /// Keyspace.
        keyspace: String,
        /// Table.
        table: String,
        /// The new `compression` map; `None` when the statement sets only ignored properties
        /// (it then changes nothing).
        compression: Option<BTreeMap<String, String>>,
        /// Ignored table properties, as in [`Statement::CreateTable`].
        ignored: Vec<(String, String)>,
    },
    /// `DROP TABLE [IF EXISTS] ks.t`.
    DropTable {
        /// Keyspace.
        keyspace: String,
        /// Table.
        table: String,
        /// `IF EXISTS` was given.
        if_exists: bool,
    },
    /// `DROP KEYSPACE [IF EXISTS] ks`.
    DropKeyspace {
        /// Keyspace.
        name: String,
        /// `IF EXISTS` was given.
        if_exists: bool,
    },
    /// `DESC[RIBE] KEYSPACE ks`.
    DescribeKeyspace(String),
    /// `DESC[RIBE] TABLE ks.t`.
    DescribeTable {
        /// Keyspace.
        keyspace: String,
        /// Table.
        table: String,
    },
    /// `DESC[RIBE] SCHEMA` without a name: every keyspace but `system`, as cqlsh prints it.
    DescribeSchema,
    /// `DESC[RIBE] KEYSPACES`.
    DescribeKeyspaces,
    /// `DESC[RIBE] TABLES`.
    DescribeTables,
}

/// A statement that does not parse, with the position and a caret line pointing at it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}\n  {source_line}\n  {caret}")]
pub struct CqlError {
    /// What is wrong.
    pub message: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column (in characters).
    pub column: usize,
    /// The line of the statement where it went wrong.
    pub source_line: String,
    /// Spaces and a `^` under the offending column.
    pub caret: String,
}

impl CqlError {
    pub(crate) fn at(src: &str, pos: usize, message: &str) -> Self {
        let before = src.get(..pos).unwrap_or(src);
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = src
            .get(line_start..pos)
            .map_or(1, |s| s.chars().count() + 1);
        let source_line = src
            .get(line_start..)
            .unwrap_or_default()
            .lines()
            .next()
            .unwrap_or_default()
            .to_string();
        CqlError {
            message: message.to_string(),
            line,
            column,
            source_line,
            caret: format!("{}^", " ".repeat(column.saturating_sub(1))),
        }
    }
}

/// Quotes `s` as a CQL string literal.
pub fn quote_str(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Writes a map literal `{'k': 'v', ...}`.
pub fn map_literal(map: &BTreeMap<String, String>) -> String {
    let mut s = String::from("{");
    for (i, (k, v)) in map.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        s.push_str(&quote_str(k));
        s.push_str(": ");
        s.push_str(&quote_str(v));
    }
    s.push('}');
    s
}

/// Quotes an identifier if it needs it (not lowercase alphanumeric, or a keyword).
pub fn quote_ident(id: &str) -> String {
    let plain = id.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !parser::is_reserved(id);
    if plain {
        id.to_string()
    } else {
        format!("\"{}\"", id.replace('"', "\"\""))
    }
}

/// ` WITH compression = {...} AND name = value ...`, or nothing when there is no property.
fn write_properties(
    f: &mut fmt::Formatter<'_>,
    compression: Option<&BTreeMap<String, String>>,
    ignored: &[(String, String)],
) -> fmt::Result {
    let compression = compression.map(|c| ("compression".to_string(), map_literal(c)));
    for (i, (name, value)) in compression.iter().chain(ignored).enumerate() {
        let with = if i == 0 { " WITH" } else { " AND" };
        write!(f, "{with} {name} = {value}")?;
    }
    Ok(())
}

impl fmt::Display for Statement {
    /// The statement in canonical CQL.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Statement::CreateKeyspace {
                name,
                if_not_exists,
                replication,
                durable_writes,
            } => {
                write!(
                    f,
                    "CREATE KEYSPACE {}{} WITH replication = {}",
                    if *if_not_exists { "IF NOT EXISTS " } else { "" },
                    quote_ident(name),
                    map_literal(replication)
                )?;
                if let Some(d) = durable_writes {
                    write!(f, " AND durable_writes = {d}")?;
                }
                f.write_str(";")
            }
            Statement::CreateTable {
                keyspace,
                table,
                if_not_exists,
                key,
                value,
                compression,
                ignored,
            } => {
                write!(
                    f,
                    "CREATE TABLE {}{}.{} (\n    {} {} PRIMARY KEY,\n    {} {}\n)",
                    if *if_not_exists { "IF NOT EXISTS " } else { "" },
                    quote_ident(keyspace),
                    quote_ident(table),
                    quote_ident(&key.0),
                    key.1,
                    quote_ident(&value.0),
                    value.1
                )?;
                write_properties(f, compression.as_ref(), ignored)?;
                f.write_str(";")
            }
            Statement::AlterTable {
                keyspace,
                table,
                compression,
                ignored,
            } => {
                write!(
                    f,
                    "ALTER TABLE {}.{}",
                    quote_ident(keyspace),
                    quote_ident(table)
                )?;
                write_properties(f, compression.as_ref(), ignored)?;
                f.write_str(";")
            }
            Statement::DropTable {
                keyspace,
                table,
                if_exists,
            } => write!(
                f,
                "DROP TABLE {}{}.{};",
                if *if_exists { "IF EXISTS " } else { "" },
                quote_ident(keyspace),
                quote_ident(table)
            ),
            Statement::DropKeyspace { name, if_exists } => write!(
                f,
                "DROP KEYSPACE {}{};",
                if *if_exists { "IF EXISTS " } else { "" },
                quote_ident(name)
            ),
            Statement::DescribeKeyspace(k) => write!(f, "DESCRIBE KEYSPACE {};", quote_ident(k)),
            Statement::DescribeTable { keyspace, table } => write!(
                f,
                "DESCRIBE TABLE {}.{};",
                quote_ident(keyspace),
                quote_ident(table)
            ),
            Statement::DescribeSchema => f.write_str("DESCRIBE SCHEMA;"),
            Statement::DescribeKeyspaces => f.write_str("DESCRIBE KEYSPACES;"),
            Statement::DescribeTables => f.write_str("DESCRIBE TABLES;"),
        }
    }
}

#[cfg(test)]
mod tests;
