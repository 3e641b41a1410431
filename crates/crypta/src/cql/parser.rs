//! Recursive-descent parser for the statements in [`Statement`].
#![deny(clippy::indexing_slicing)]

use std::collections::BTreeMap;

use super::lexer::{Tok, Token, tokenize};
use super::{CqlError, Statement};

const RESERVED: &[&str] = &[
    "add",
    "allow",
    "alter",
    "and",
    "apply",
    "asc",
    "authorize",
    "batch",
    "begin",
    "by",
    "columnfamily",
    "create",
    "delete",
    "desc",
    "describe",
    "drop",
    "entries",
    "execute",
    "from",
    "full",
    "grant",
    "if",
    "in",
    "index",
    "infinity",
    "insert",
    "into",
    "keyspace",
    "limit",
    "modify",
    "nan",
    "norecursive",
    "not",
    "null",
    "of",
    "on",
    "or",
    "order",
    "primary",
    "rename",
    "revoke",
    "schema",
    "select",
    "set",
    "table",
    "to",
    "token",
    "truncate",
    "unlogged",
    "update",
    "use",
    "using",
    "where",
    "with",
];

/// Checks a keyspace's replication map as Cassandra does for its two strategies: a
/// `SimpleStrategy` needs a `replication_factor` and nothing else, a
/// `NetworkTopologyStrategy` a factor per data center; factors are whole numbers (crypta is
/// one node and keeps the map for `DESC`). Other classes are kept as given.
fn check_replication(map: &BTreeMap<String, String>) -> Result<(), String> {
    let class = map.get("class").map(String::as_str).unwrap_or_default();
    let short = class.rsplit('.').next().unwrap_or_default();
    let factor = |k: &str, v: &str| match v.parse::<u32>() {
        Ok(_) => Ok(()),
        Err(_) => Err(format!(
            "replication option '{k}' of {short} must be a whole number, not '{v}'"
        )),
    };
    let options = map.iter().filter(|(k, _)| *k != "class");
    match short {
        "SimpleStrategy" => {
            for (k, v) in options {
                if k != "replication_factor" {
                    return Err(format!(
                        "unknown replication option '{k}' for SimpleStrategy (it takes replication_factor)"
                    ));
                }
                factor(k, v)?;
            }
            if !map.contains_key("replication_factor") {
                return Err("SimpleStrategy needs a 'replication_factor'".into());
            }
            Ok(())
        }
        "NetworkTopologyStrategy" => options.into_iter().try_for_each(|(k, v)| factor(k, v)),
        _ => Ok(()),
    }
}

/// The longest keyspace or table name (Cassandra's `SchemaConstants.NAME_LENGTH`).
const MAX_NAME_LEN: usize = 48;

/// CQL types a column may have. crypta stores bytes; the type is kept for `DESC`.
const TYPES: &[&str] = &[
    "ascii",
    "bigint",
    "blob",
    "boolean",
    "date",
    "decimal",
    "double",
    "float",
    "inet",
    "int",
    "smallint",
    "text",
    "time",
    "timestamp",
    "timeuuid",
    "tinyint",
    "uuid",
    "varchar",
    "varint",
];

pub(super) fn is_reserved(id: &str) -> bool {
    RESERVED.contains(&id)
}

/// What [`Parser::table_properties`] returns: the compression map if given, and the ignored
/// properties with the text of their values.
type TableProperties = (Option<BTreeMap<String, String>>, Vec<(String, String)>);

/// Table properties of Cassandra 3 to 5, DSE and HCD that `DESC TABLE` prints and crypta has
/// no use for: accepted, so that a schema pasted from a cluster runs, and reported as ignored
/// (`Engine::execute_cql` logs a warning naming them). crypta keeps only `compression`; it
/// checks the CRC of every chunk it reads whatever `crc_check_chance` says.
pub(crate) const IGNORED_TABLE_PROPERTIES: &[&str] = &[
    "additional_write_policy",
    "allow_auto_snapshot",
    "bloom_filter_fp_chance",
    "caching",
    "cdc",
    "comment",
    "compaction",
    "crc_check_chance",
    "dclocal_read_repair_chance",
    "default_time_to_live",
    "extensions",
    "gc_grace_seconds",
    "incremental_backups",
    "max_index_interval",
    "memtable",
    "memtable_flush_period_in_ms",
    "min_index_interval",
    "nodesync",
    "read_repair",
    "read_repair_chance",
    "speculative_retry",
];

struct Parser<'a> {
    src: &'a str,
    toks: Vec<Token>,
    at: usize,
}

/// Parses one statement (a trailing `;` is optional).
pub fn parse(src: &str) -> Result<Statement, CqlError> {
    let mut p = Parser {
        src,
        toks: tokenize(src)?,
        at: 0,
    };
    let stmt = p.statement()?;
    p.eat_punct(';');
    if !matches!(p.peek().kind, Tok::End) {
        return Err(p.error("unexpected text after the end of the statement"));
    }
    Ok(stmt)
}

/// Parses statements separated by `;` (the last one's `;` optional), as `DESC KEYSPACE`
/// prints them: all of them, before any runs, so that a syntax error anywhere runs nothing.
pub fn parse_script(src: &str) -> Result<Vec<Statement>, CqlError> {
    let mut p = Parser {
        src,
        toks: tokenize(src)?,
        at: 0,
    };
    let mut out = Vec::new();
    loop {
        out.push(p.statement()?);
        let ended = p.eat_punct(';');
        if matches!(p.peek().kind, Tok::End) {
            return Ok(out);
        }
        if !ended {
            return Err(p.error("expected ';' between statements"));
        }
    }
}

impl Parser<'_> {
    fn peek(&self) -> &Token {
        // tokenize always ends with End, and `advance` never moves past it.
        self.toks
            .get(self.at)
            .or_else(|| self.toks.last())
            .unwrap_or(&Token {
                kind: Tok::End,
                pos: 0,
                end: 0,
            })
    }

    fn advance(&mut self) -> Token {
        let t = self.peek().clone();
        if !matches!(t.kind, Tok::End) {
            self.at += 1;
        }
        t
    }

    fn error(&self, message: &str) -> CqlError {
        let t = self.peek();
        let found = match &t.kind {
            Tok::End => "end of input".to_string(),
            Tok::Ident { text, .. } => format!("'{text}'"),
            Tok::Str(s) => format!("string '{s}'"),
            Tok::Number(n) => format!("number {n}"),
            Tok::Punct(c) => format!("'{c}'"),
        };
        CqlError::at(self.src, t.pos, &format!("{message}, found {found}"))
    }

    fn is_keyword(&self, kw: &str) -> bool {
        matches!(&self.peek().kind, Tok::Ident { text, quoted: false } if text.eq_ignore_ascii_case(kw))
    }

    fn eat_keyword(&mut self, kw: &str) -> bool {
        if self.is_keyword(kw) {
            self.advance();
            true
        } else {
            false
        }
    }

    fn keyword(&mut self, kw: &str) -> Result<(), CqlError> {
        if self.eat_keyword(kw) {
            Ok(())
        } else {
            Err(self.error(&format!("expected {}", kw.to_uppercase())))
        }
    }

    fn eat_punct(&mut self, c: char) -> bool {
        if self.peek().kind == Tok::Punct(c) {
            self.advance();
            true
        } else {
            false
        }
    }

    fn punct(&mut self, c: char) -> Result<(), CqlError> {
        if self.eat_punct(c) {
            Ok(())
        } else {
            Err(self.error(&format!("expected '{c}'")))
        }
    }

    /// An identifier: unquoted ones are case-insensitive (lowercased), quoted ones exact.
    fn ident(&mut self, what: &str) -> Result<String, CqlError> {
        match &self.peek().kind {
            Tok::Ident { text, quoted: true } => {
                let t = text.clone();
                self.advance();
                Ok(t)
            }
            Tok::Ident {
                text,
                quoted: false,
            } if !is_reserved(&text.to_ascii_lowercase()) => {
                let t = text.to_ascii_lowercase();
                self.advance();
                Ok(t)
            }
            _ => Err(self.error(&format!("expected {what}"))),
        }
    }

    /// The name of a keyspace or table being created: as Cassandra allows, 1 to 48 ASCII
    /// letters, digits and underscores, quoted or not. (Names become parts of file names.)
    fn new_name(&mut self, what: &str) -> Result<String, CqlError> {
        let at = self.peek().pos;
        let name = self.ident(&format!("a {what} name"))?;
        if name.is_empty()
            || name.len() > MAX_NAME_LEN
            || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return Err(CqlError::at(
                self.src,
                at,
                &format!(
                    "{what} names are 1 to {MAX_NAME_LEN} letters, digits or underscores \
                     (got {name:?})"
                ),
            ));
        }
        Ok(name)
    }

    /// `ks.t`; the keyspace is required (crypta has no `USE`).
    fn qualified_table(&mut self) -> Result<(String, String), CqlError> {
        self.qualified(false)
    }

    /// `ks.t` for a table being created: its name is checked as [`Self::new_name`] does.
    fn qualified_new_table(&mut self) -> Result<(String, String), CqlError> {
        self.qualified(true)
    }

    fn qualified(&mut self, new: bool) -> Result<(String, String), CqlError> {
        let first = self.ident("a keyspace name")?;
        if !self.eat_punct('.') {
            return Err(self.error("expected '.' and a table name: write keyspace.table"));
        }
        let table = match new {
            true => self.new_name("table")?,
            false => self.ident("a table name")?,
        };
        Ok((first, table))
    }

    fn if_not_exists(&mut self) -> Result<bool, CqlError> {
        if self.eat_keyword("if") {
            self.keyword("not")?;
            self.keyword("exists")?;
            Ok(true)
        } else {
            Ok(false)
        }
    }

    fn if_exists(&mut self) -> Result<bool, CqlError> {
        if self.eat_keyword("if") {
            self.keyword("exists")?;
            Ok(true)
        } else {
            Ok(false)
        }
    }

    fn statement(&mut self) -> Result<Statement, CqlError> {
        if self.eat_keyword("create") {
            if self.eat_keyword("keyspace") || self.eat_keyword("schema") {
                self.create_keyspace()
            } else if self.eat_keyword("table") || self.eat_keyword("columnfamily") {
                self.create_table()
            } else {
                Err(self.error("expected KEYSPACE or TABLE after CREATE"))
            }
        } else if self.eat_keyword("alter") {
            if !(self.eat_keyword("table") || self.eat_keyword("columnfamily")) {
                return Err(
                    self.error("expected TABLE after ALTER (crypta alters table compression only)")
                );
            }
            let (keyspace, table) = self.qualified_table()?;
            self.keyword("with")?;
            let (compression, ignored) = self.table_properties()?;
            Ok(Statement::AlterTable {
                keyspace,
                table,
                compression,
                ignored,
            })
        } else if self.eat_keyword("drop") {
            if self.eat_keyword("table") || self.eat_keyword("columnfamily") {
                let if_exists = self.if_exists()?;
                let (keyspace, table) = self.qualified_table()?;
                Ok(Statement::DropTable {
                    keyspace,
                    table,
                    if_exists,
                })
            } else if self.eat_keyword("keyspace") || self.eat_keyword("schema") {
                let if_exists = self.if_exists()?;
                let name = self.ident("a keyspace name")?;
                Ok(Statement::DropKeyspace { name, if_exists })
            } else {
                Err(self.error("expected TABLE or KEYSPACE after DROP"))
            }
        } else if self.eat_keyword("desc") || self.eat_keyword("describe") {
            if self.eat_keyword("keyspaces") {
                Ok(Statement::DescribeKeyspaces)
            } else if self.eat_keyword("tables") {
                Ok(Statement::DescribeTables)
            } else if self.eat_keyword("schema") {
                if matches!(self.peek().kind, Tok::End | Tok::Punct(';')) {
                    Ok(Statement::DescribeSchema)
                } else {
                    Ok(Statement::DescribeKeyspace(self.ident("a keyspace name")?))
                }
            } else if self.eat_keyword("keyspace") {
                Ok(Statement::DescribeKeyspace(self.ident("a keyspace name")?))
            } else if self.eat_keyword("table") || self.eat_keyword("columnfamily") {
                let (keyspace, table) = self.qualified_table()?;
                Ok(Statement::DescribeTable { keyspace, table })
            } else {
                Err(self.error("expected KEYSPACE, TABLE, SCHEMA, KEYSPACES or TABLES after DESC"))
            }
        } else {
            Err(self.error(
                "expected CREATE, ALTER, DROP or DESC (crypta cql runs schema statements; use crypta put/get/scan for data)",
            ))
        }
    }

    fn create_keyspace(&mut self) -> Result<Statement, CqlError> {
        let if_not_exists = self.if_not_exists()?;
        let name = self.new_name("keyspace")?;
        self.keyword("with")?;
        let mut replication = None;
        let mut durable_writes = None;
        loop {
            let at = self.peek().pos;
            let prop = self.ident("a keyspace property")?;
            self.punct('=')?;
            match prop.as_str() {
                "replication" => {
                    let map_at = self.peek().pos;
                    let map = self.map()?;
                    check_replication(&map)
                        .map_err(|reason| CqlError::at(self.src, map_at, &reason))?;
                    replication = Some(map);
                }
                "durable_writes" => {
                    durable_writes = Some(if self.eat_keyword("true") {
                        true
                    } else if self.eat_keyword("false") {
                        false
                    } else {
                        return Err(self.error("expected true or false"));
                    })
                }
                other => {
                    return Err(CqlError::at(
                        self.src,
                        at,
                        &format!(
                            "unknown keyspace property '{other}' (known: replication, durable_writes)"
                        ),
                    ));
                }
            }
            if !self.eat_keyword("and") {
                break;
            }
        }
        let replication =
            replication.ok_or_else(|| self.error("CREATE KEYSPACE needs replication = {...}"))?;
        if !replication.contains_key("class") {
            return Err(self.error("the replication map needs a 'class'"));
        }
        Ok(Statement::CreateKeyspace {
            name,
            if_not_exists,
            replication,
            durable_writes,
        })
    }

    fn create_table(&mut self) -> Result<Statement, CqlError> {
        let if_not_exists = self.if_not_exists()?;
        let (keyspace, table) = self.qualified_new_table()?;
        let open = self.peek().pos;
        self.punct('(')?;
        let mut columns: Vec<(String, String, usize)> = Vec::new();
        let mut primary: Option<(String, usize)> = None;
        loop {
            let at = self.peek().pos;
            if self.eat_keyword("primary") {
                self.keyword("key")?;
                self.punct('(')?;
                let k = self.ident("the primary key column")?;
                if self.peek().kind == Tok::Punct(',') || self.peek().kind == Tok::Punct('(') {
                    return Err(self.error(
                        "crypta tables have a single-column primary key (one key column, one value column)",
                    ));
                }
                self.punct(')')?;
                if primary.replace((k, at)).is_some() {
                    return Err(CqlError::at(self.src, at, "the primary key is given twice"));
                }
            } else {
                let name = self.ident("a column name")?;
                let ty_at = self.peek().pos;
                let ty = self.ident("a column type")?;
                if !TYPES.contains(&ty.as_str()) {
                    return Err(CqlError::at(
                        self.src,
                        ty_at,
                        &format!(
                            "unsupported column type '{ty}' (crypta columns are scalar: {})",
                            TYPES.join(", ")
                        ),
                    ));
                }
                if self.eat_keyword("primary") {
                    self.keyword("key")?;
                    if primary.replace((name.clone(), at)).is_some() {
                        return Err(CqlError::at(self.src, at, "the primary key is given twice"));
                    }
                }
                columns.push((name, ty, at));
            }
            if !self.eat_punct(',') {
                break;
            }
        }
        self.punct(')')?;
        let (pk, pk_at) =
            primary.ok_or_else(|| CqlError::at(self.src, open, "the table needs a PRIMARY KEY"))?;
        if columns.len() != 2 {
            return Err(CqlError::at(
                self.src,
                open,
                &format!(
                    "crypta tables have exactly two columns, a key and a value; found {} \
                     (for example: ({} PRIMARY KEY, value text))",
                    columns.len(),
                    columns
                        .iter()
                        .find(|(n, _, _)| *n == pk)
                        .map_or_else(|| "id text".to_string(), |(n, t, _)| format!("{n} {t}"))
                ),
            ));
        }
        let key_index = columns
            .iter()
            .position(|(n, _, _)| *n == pk)
            .ok_or_else(|| {
                CqlError::at(
                    self.src,
                    pk_at,
                    &format!("primary key column '{pk}' is not defined"),
                )
            })?;
        if columns.iter().filter(|(n, _, _)| *n == pk).count() > 1 {
            return Err(CqlError::at(
                self.src,
                pk_at,
                &format!("column '{pk}' is defined twice"),
            ));
        }
        let key = columns.remove(key_index);
        let value = columns.remove(0);
        let (compression, ignored) = if self.eat_keyword("with") {
            self.table_properties()?
        } else {
            (None, Vec::new())
        };
        Ok(Statement::CreateTable {
            keyspace,
            table,
            if_not_exists,
            key: (key.0, key.1),
            value: (value.0, value.1),
            compression,
            ignored,
        })
    }

    /// `property = value [AND ...]`: the compression map, and the Cassandra table properties
    /// crypta ignores ([`IGNORED_TABLE_PROPERTIES`]) with the text of their values. Any other
    /// property is refused, naming the closest known one: a misspelt `compression` must not
    /// leave a table unencrypted.
    fn table_properties(&mut self) -> Result<TableProperties, CqlError> {
        let mut compression = None;
        let mut ignored: Vec<(String, String)> = Vec::new();
        loop {
            let at = self.peek().pos;
            let prop = self.ident("a table property")?;
            self.punct('=')?;
            match prop.as_str() {
                "compression" => {
                    if compression.replace(self.map()?).is_some() {
                        return Err(CqlError::at(self.src, at, "compression is given twice"));
                    }
                }
                known if IGNORED_TABLE_PROPERTIES.contains(&known) => {
                    let start = self.peek().pos;
                    let end = self.property_value()?;
                    let text = self.src.get(start..end).unwrap_or_default();
                    if ignored.iter().any(|(n, _)| *n == prop) {
                        return Err(CqlError::at(
                            self.src,
                            at,
                            &format!("{prop} is given twice"),
                        ));
                    }
                    ignored.push((prop.clone(), text.to_string()));
                }
                other => {
                    let names = std::iter::once("compression")
                        .chain(IGNORED_TABLE_PROPERTIES.iter().copied());
                    let hint = match crypta_compression::closest_name(other, names) {
                        Some(m) => format!("; did you mean '{m}'?"),
                        None => String::new(),
                    };
                    return Err(CqlError::at(
                        self.src,
                        at,
                        &format!("unknown table property '{other}'{hint}"),
                    ));
                }
            }
            if !self.eat_keyword("and") {
                break;
            }
        }
        Ok((compression, ignored))
    }

    /// The value of an ignored table property: a string, number, boolean or map literal.
    /// Returns where its last token ends (the value's text is the source up to there, without
    /// a comment that follows it).
    fn property_value(&mut self) -> Result<usize, CqlError> {
        if self.peek().kind == Tok::Punct('{') {
            self.map()?;
        } else if self.scalar().is_none() {
            return Err(self.error("expected a string, number, boolean or map value"));
        }
        Ok(self
            .at
            .checked_sub(1)
            .and_then(|i| self.toks.get(i))
            .map_or(self.src.len(), |t| t.end))
    }

    /// A string, number or boolean literal (`true`/`false` in any case), consumed, as its text
    /// (a boolean in lowercase); `None`, consuming nothing, if the next token is none of those.
    fn scalar(&mut self) -> Option<String> {
        let text = match self.peek().kind.clone() {
            Tok::Str(s) | Tok::Number(s) => s,
            Tok::Ident {
                text,
                quoted: false,
            } if text.eq_ignore_ascii_case("true") || text.eq_ignore_ascii_case("false") => {
                text.to_ascii_lowercase()
            }
            _ => return None,
        };
        self.advance();
        Some(text)
    }

    /// `{'k': 'v', 'n': 128, 'b': true}`; every value is kept as its text.
    fn map(&mut self) -> Result<BTreeMap<String, String>, CqlError> {
        self.punct('{')?;
        let mut map = BTreeMap::new();
        if self.eat_punct('}') {
            return Ok(map);
        }
        loop {
            let at = self.peek().pos;
            let k = match self.advance().kind {
                Tok::Str(s) => s,
                _ => {
                    self.at = self.at.saturating_sub(1);
                    return Err(self.error("expected a quoted map key"));
                }
            };
            self.punct(':')?;
            let Some(v) = self.scalar() else {
                return Err(self.error("expected a string, number or boolean value"));
            };
            if map.insert(k.clone(), v).is_some() {
                return Err(CqlError::at(
                    self.src,
                    at,
                    &format!("key '{k}' appears twice in the map"),
                ));
            }
            if self.eat_punct('}') {
                return Ok(map);
            }
            self.punct(',')?;
        }
    }
}
