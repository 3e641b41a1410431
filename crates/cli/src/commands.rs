//! The commands, shared by one-shot invocations and `crypta shell` (`shell.rs`).

use std::error::Error;
use std::io::{IsTerminal, Write};
use std::ops::Bound;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::Subcommand;
use crypta::{Config, Engine, UpgradeOptions};
use crypta_keys::{KeyId, Timestamp};

pub type Res<T> = Result<T, Box<dyn Error>>;

/// Every command of the tool.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Writes DIR/crypta.yaml with the embedded default (local key file, directories under DIR).
    Init {
        /// The directory.
        dir: PathBuf,
    },
    /// Runs CQL schema statements (CREATE/ALTER/DROP/DESC): one, or several separated by `;`
    /// (what DESC KEYSPACE prints, e.g. `crypta cql "$(cat schema.cql)"`).
    Cql {
        /// The statement, or statements separated by `;`.
        statement: String,
    },
    /// Sets KEY to VALUE in KS.T.
    Put {
        /// keyspace.table
        table: String,
        /// Key.
        key: String,
        /// Value.
        value: String,
    },
    /// Prints the value of KEY as stored (exit status 1 and nothing on stdout when absent, 2 on
    /// an error). Inside `crypta shell` the value is escaped as `scan` escapes it, on one line.
    Get {
        /// keyspace.table
        table: String,
        /// Key.
        key: String,
    },
    /// Deletes KEY.
    Delete {
        /// keyspace.table
        table: String,
        /// Key.
        key: String,
    },
    /// Prints rows in key order, one key<TAB>value per line (backslash, tab, newline, CR escaped).
    ///
    /// Keys and values are escaped so that each row stays on one line: a backslash is written
    /// `\\`, a tab `\t`, a newline `\n` and a carriage return `\r`; every other byte is written
    /// as it is (bytes that are not UTF-8 too).
    Scan {
        /// keyspace.table
        table: String,
        /// First key (inclusive).
        #[arg(long)]
        start: Option<String>,
        /// Last key (exclusive).
        #[arg(long)]
        end: Option<String>,
        /// At most this many rows.
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Loads N generated rows (keys key-000000000000, key-000000000001, ..., values of B bytes).
    Load {
        /// keyspace.table
        table: String,
        /// Number of rows.
        #[arg(long)]
        rows: u64,
        /// Bytes per value.
        #[arg(long, default_value_t = 100)]
        value_size: usize,
    },
    /// Flushes memtables of KS [T...] (all when omitted) to SSTables.
    Flush {
        /// Keyspace, then tables.
        names: Vec<String>,
    },
    /// Compacts the SSTables of KS [T...] into one per table.
    Compact {
        /// Keyspace, then tables.
        names: Vec<String>,
    },
    /// Rewrites SSTables under the current options and key (as nodetool upgradesstables).
    Upgradesstables {
        /// Rewrite every SSTable, not only outdated ones.
        #[arg(short = 'a', long = "include-all-sstables")]
        include_all: bool,
        /// Tables rewritten in parallel (at least 1).
        #[arg(
            short = 'j',
            long = "jobs",
            default_value_t = 2,
            value_parser = parse_jobs
        )]
        jobs: usize,
        /// Keyspace, then tables.
        names: Vec<String>,
    },
    /// Reads and checks every chunk of KS [T...] (exit status 1 and the failing file on error).
    Verify {
        /// Keyspace, then tables.
        names: Vec<String>,
    },
    /// Key management.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Reads commands, one per line, from stdin against one open engine.
    ///
    /// Each line is a command as on the command line, without `crypta` and the options
    /// (`help` lists them; init, shell and demo are not available). `cql` takes the rest of the
    /// line as its statement, quoted or not. Blank lines and lines starting with `#` are
    /// skipped; `exit` or `quit` stops reading.
    ///
    /// Each command is answered on stdout as soon as it is done: its output, if any, then
    /// `ok`; `not found` for a `get` of an absent key; or, when it fails, a single line
    /// starting with `error: `. The shell goes on with the next line after a failure, and
    /// exits with status 1 at the end if any command failed (a `get` of an absent key is not a
    /// failure).
    Shell,
    /// Encrypts sample rows with a local key, reads them back, checks the disk for plaintext.
    Demo {
        /// Directory to work in (a fresh temporary directory if absent).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Rows to write.
        #[arg(long, default_value_t = 200_000)]
        rows: u64,
    },
}

/// `crypta keys ...`.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Lists keys (ID, Name, Cipher, State, dates, Keyspace).
    List {
        /// Only this KMIP group (or `local`).
        #[arg(long = "kmip-host")]
        kmip_host: Option<String>,
    },
    /// Stops a key encrypting new data from TIME (default now); it still decrypts.
    Expire {
        /// Key id.
        id: String,
        /// The kmip_hosts group (or `local`) that holds the key.
        #[arg(long = "kmip-host")]
        kmip_host: Option<String>,
        /// When: YYYY-MM-DD[THH:MM[:SS]Z] (UTC), DSE's "YYYY-MM-DD HH:MM:SS:T", or @SECONDS.
        #[arg(long)]
        at: Option<String>,
    },
    /// Revokes a key now: new data gets a new key; old data still decrypts.
    Revoke {
        /// Key id.
        id: String,
        /// The kmip_hosts group (or `local`) that holds the key.
        #[arg(long = "kmip-host")]
        kmip_host: Option<String>,
        /// Record that the key was compromised.
        #[arg(long)]
        compromised: bool,
    },
    /// Destroys a key (refused while live files need it, unless --force).
    Destroy {
        /// Key id.
        id: String,
        /// The kmip_hosts group (or `local`) that holds the key.
        #[arg(long = "kmip-host")]
        kmip_host: Option<String>,
        /// Destroy even if files still need it (they become unreadable).
        #[arg(long)]
        force: bool,
    },
    /// Lists each key id with the files that need it.
    Usage,
    /// Connects to each host of a KMIP group and reports TLS and KMIP versions (exit status 1
    /// if any host fails).
    Check {
        /// The kmip_hosts group.
        #[arg(long = "kmip-host")]
        kmip_host: String,
    },
}

/// The exit status of a command that failed: 2 for `get` (whose 1 means "absent", as grep's
/// does), 1 for the others.
pub fn error_status(command: &Command) -> ExitCode {
    match command {
        Command::Get { .. } => ExitCode::from(2),
        _ => ExitCode::FAILURE,
    }
}

/// Reads `config`, with a hint on making one when it does not exist.
fn load_config(config: &Path) -> Res<Config> {
    Config::load(config).map_err(|e| -> Box<dyn Error> {
        match &e {
            crypta::ConfigError::Read { source, .. }
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                format!(
                    "{e}\n(create one with `crypta init DIR` and pass --config DIR/crypta.yaml)"
                )
                .into()
            }
            _ => e.into(),
        }
    })
}

fn open(config: &Path) -> Res<Engine> {
    Ok(Engine::open(load_config(config)?)?)
}

/// `crypta init DIR`: writes DIR/crypta.yaml, never over an existing one.
fn init(dir: &Path, out: &mut dyn Write) -> Res<()> {
    if dir.exists() && !dir.is_dir() {
        return Err(format!(
            "{} exists and is not a directory: `crypta init` takes the directory to write \
             crypta.yaml into",
            dir.display()
        )
        .into());
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("cannot create directory {}: {e}", dir.display()))?;
    let dir = std::fs::canonicalize(dir)
        .map_err(|e| format!("cannot resolve directory {}: {e}", dir.display()))?;
    let path = dir.join("crypta.yaml");
    // Owner only: the file takes hcd.yaml's kmip_hosts sections, keystore passwords included.
    let mut file = match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(format!("{} already exists", path.display()).into());
        }
        Err(e) => return Err(format!("cannot create {}: {e}", path.display()).into()),
    };
    file.write_all(Config::init_yaml(&dir).as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    writeln!(out, "wrote {}", path.display())?;
    Ok(())
}

/// Runs one command from the command line.
pub fn run(config: &Path, command: Command, out: &mut dyn Write) -> Res<ExitCode> {
    match command {
        Command::Init { dir } => {
            init(&dir, out)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo { dir, rows } => {
            crate::demo::run(dir, rows, out)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Keys {
            command: KeysCommand::Check { kmip_host },
        } => {
            // Needs no engine: this is what an operator runs before encrypting anything.
            let cfg = load_config(config)?;
            let group = cfg.kmip_hosts.get(&kmip_host).ok_or_else(|| {
                format!(
                    "no group {kmip_host} under kmip_hosts in {}",
                    config.display()
                )
            })?;
            let report = crypta_kmip::KmipKeyProvider::new(&kmip_host, group)?.check();
            write!(out, "{report}")?;
            Ok(if report.all_ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Keys {
            command: KeysCommand::Usage,
        } => {
            // Without opening the engine: it reads only what each file records, so it also
            // answers while a KMIP group in use is down (the engine's startup would stop).
            print_key_usage(&Engine::offline_key_usage(&load_config(config)?)?, out)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Shell => {
            let all_ok = with_engine(config, |engine| crate::shell::run(engine, out))?;
            Ok(if all_ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        other => with_engine(config, |engine| execute(engine, other, out)),
    }
}

/// Opens the engine of `config`, runs `f` on it and closes it whatever `f` gave (a failed
/// command left its empty commit log segment behind otherwise); `f`'s error comes first.
fn with_engine<T>(config: &Path, f: impl FnOnce(&Engine) -> Res<T>) -> Res<T> {
    let engine = open(config)?;
    let result = f(&engine);
    let closed = engine.close();
    let value = result?;
    closed?;
    Ok(value)
}

fn bound(b: Option<&String>, inclusive: bool) -> Bound<&[u8]> {
    match b {
        None => Bound::Unbounded,
        Some(k) if inclusive => Bound::Included(k.as_bytes()),
        Some(k) => Bound::Excluded(k.as_bytes()),
    }
}

/// Runs a command against an open engine.
pub fn execute(engine: &Engine, command: Command, out: &mut dyn Write) -> Res<ExitCode> {
    match command {
        Command::Cql { statement } => {
            let text = engine.execute_cql(&statement)?;
            if !text.is_empty() {
                writeln!(out, "{text}")?;
            }
        }
        Command::Put { table, key, value } => {
            engine.put(&table, key.as_bytes(), value.as_bytes())?
        }
        Command::Get { table, key } => return get(engine, &table, &key, false, out),
        Command::Delete { table, key } => engine.delete(&table, key.as_bytes())?,
        Command::Scan {
            table,
            start,
            end,
            limit,
        } => {
            for (k, v) in engine.scan(
                &table,
                bound(start.as_ref(), true),
                bound(end.as_ref(), false),
                limit,
            )? {
                write_escaped(out, &k)?;
                out.write_all(b"\t")?;
                write_escaped(out, &v)?;
                out.write_all(b"\n")?;
            }
        }
        Command::Load {
            table,
            rows,
            value_size,
        } => load(engine, &table, rows, value_size, out)?,
        Command::Flush { names } => engine.flush(&qualify(&names))?,
        Command::Compact { names } => {
            let r = engine.compact(&qualify(&names))?;
            writeln!(
                out,
                "compacted {} tables: {} SSTables into {}, {} entries",
                r.tables, r.inputs, r.outputs, r.entries
            )?;
        }
        Command::Upgradesstables {
            include_all,
            jobs,
            names,
        } => {
            let tty = std::io::stderr().is_terminal();
            let started = Instant::now();
            let r = engine.upgradesstables(
                &qualify(&names),
                &UpgradeOptions { include_all, jobs },
                &|p| {
                    if tty {
                        eprint!(
                            "\rupgradesstables: {}/{} SSTables ({})   ",
                            p.done, p.total, p.table
                        );
                    }
                },
            )?;
            if tty {
                eprintln!();
            }
            writeln!(
                out,
                "upgradesstables: rewrote {} SSTables ({} entries), {} already current, in {:.1}s",
                r.rewritten,
                r.entries,
                r.skipped,
                started.elapsed().as_secs_f64()
            )?;
        }
        Command::Verify { names } => {
            let mut files = 0;
            for (path, report) in engine
                .verify(&qualify(&names))
                .map_err(|e| format!("verify failed: {e}"))?
            {
                files += 1;
                let _ = (path, report);
            }
            writeln!(
                out,
                "verified {files} SSTables: every chunk and component checks"
            )?;
        }
        Command::Keys { command } => keys(engine, command, out)?,
        Command::Init { .. } | Command::Shell | Command::Demo { .. } => {
            return Err("not available here".into());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `get`: the value of `key` and a newline, as stored or (`escaped`, inside `crypta shell`)
/// escaped as `scan` escapes it, so that it stays on one line; exit status 1 and nothing
/// printed when the key is absent.
pub(crate) fn get(
    engine: &Engine,
    table: &str,
    key: &str,
    escaped: bool,
    out: &mut dyn Write,
) -> Res<ExitCode> {
    let Some(v) = engine.get(table, key.as_bytes())? else {
        return Ok(ExitCode::from(1));
    };
    if escaped {
        write_escaped(out, &v)?;
    } else {
        out.write_all(&v)?;
    }
    writeln!(out)?;
    Ok(ExitCode::SUCCESS)
}

/// `-j N` of upgradesstables: a whole number of tables at a time, at least 1 (clap adds the
/// value and the option to the message).
fn parse_jobs(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("at least 1 table at a time is needed".to_string()),
        Ok(n) => Ok(n),
        Err(_) => Err("expected a whole number of tables at a time (at least 1)".to_string()),
    }
}

/// Writes `bytes` with backslash, tab, newline and carriage return escaped (`\\`, `\t`, `\n`,
/// `\r`) and every other byte as it is, so that a scan row stays on one line. None of the four
/// can be part of a multi-byte UTF-8 sequence, so UTF-8 text stays UTF-8.
fn write_escaped(out: &mut dyn Write, bytes: &[u8]) -> std::io::Result<()> {
    let mut rest = bytes;
    while let Some(i) = rest
        .iter()
        .position(|b| matches!(b, b'\\' | b'\t' | b'\n' | b'\r'))
    {
        let (plain, special) = rest.split_at(i);
        out.write_all(plain)?;
        let Some((&b, tail)) = special.split_first() else {
            break;
        };
        out.write_all(match b {
            b'\t' => b"\\t",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            _ => b"\\\\",
        })?;
        rest = tail;
    }
    out.write_all(rest)
}

/// `flush ks t1 t2` names tables as `ks t1 t2`; the engine takes `ks.t1`, `ks.t2` (or `ks`).
fn qualify(names: &[String]) -> Vec<String> {
    match names.split_first() {
        None => Vec::new(),
        Some((ks, [])) => vec![ks.clone()],
        Some((ks, tables)) => tables
            .iter()
            .map(|t| {
                if t.contains('.') {
                    t.clone()
                } else {
                    format!("{ks}.{t}")
                }
            })
            .collect(),
    }
}

/// Rows per batch record of `load`.
const LOAD_BATCH_ROWS: usize = 256;
/// Bytes of keys and values per batch record of `load`, at most: well under the half segment a
/// commit log record may have with the default 32 MiB segments.
const LOAD_BATCH_BYTES: usize = 4 << 20;

fn load(
    engine: &Engine,
    table: &str,
    rows: u64,
    value_size: usize,
    out: &mut dyn Write,
) -> Res<()> {
    let tty = std::io::stderr().is_terminal();
    let started = Instant::now();
    // A batch is one commit log record, which may hold half a segment: a batch is cut before
    // it would pass a quarter of a segment (or LOAD_BATCH_BYTES), so that any row that fits a
    // record on its own loads, alone in its batch if need be.
    let segment = usize::try_from(engine.config().commitlog_segment_size_mb)
        .unwrap_or(usize::MAX)
        .saturating_mul(1 << 20);
    let max_bytes = LOAD_BATCH_BYTES.min(segment / 4);
    let mut ops: Vec<crypta::BatchOp> = Vec::with_capacity(LOAD_BATCH_ROWS);
    let mut bytes = 0usize;
    let mut written = 0u64;
    let mut shown = None;
    let mut write = |ops: &mut Vec<crypta::BatchOp>| -> Res<()> {
        engine.batch_unlogged(ops)?;
        written += ops.len() as u64;
        ops.clear();
        let pct = written * 100 / rows.max(1);
        if tty && shown != Some(pct) {
            shown = Some(pct);
            let bar = "#".repeat((pct / 4) as usize);
            eprint!("\rload [{bar:<25}] {pct:>3}% {written}/{rows} rows");
        }
        Ok(())
    };
    for r in 0..rows {
        let key = format!("key-{r:012}").into_bytes();
        let mut value = format!("{r:012}")
            .repeat(value_size.div_ceil(12))
            .into_bytes();
        value.truncate(value_size);
        let size = key.len() + value.len();
        if !ops.is_empty() && (ops.len() >= LOAD_BATCH_ROWS || bytes + size > max_bytes) {
            write(&mut ops)?;
            bytes = 0;
        }
        bytes += size;
        ops.push(crypta::BatchOp::Put {
            table: table.to_string(),
            key,
            value,
        });
    }
    if !ops.is_empty() {
        write(&mut ops)?;
    }
    if tty {
        eprintln!();
    }
    let secs = started.elapsed().as_secs_f64();
    writeln!(
        out,
        "loaded {rows} rows into {table} in {secs:.1}s ({:.0} rows/s)",
        rows as f64 / secs.max(1e-9)
    )?;
    Ok(())
}

fn keys(engine: &Engine, command: KeysCommand, out: &mut dyn Write) -> Res<()> {
    let reg = engine.keys();
    match command {
        KeysCommand::List { kmip_host } => {
            let mut rows = Vec::new();
            for (name, m) in reg.managers() {
                if kmip_host.as_ref().is_some_and(|h| h != &name) {
                    continue;
                }
                for k in m.list()? {
                    rows.push((name.clone(), k));
                }
            }
            if let Some(h) = &kmip_host
                && reg.manager(h).is_none()
            {
                return Err(
                    format!("no key provider named {h} (kmip_hosts groups and 'local')").into(),
                );
            }
            writeln!(out, "{}", crypta::keys::format_key_table(&rows))?;
        }
        KeysCommand::Expire { id, kmip_host, at } => {
            let id: KeyId = id.parse()?;
            let at = match at {
                Some(t) => t.parse::<Timestamp>()?,
                None => Timestamp::now(),
            };
            let (_, m, _) = reg.find(&id, kmip_host.as_deref())?;
            let info = m.expire(&id, at)?;
            writeln!(out, "key {} stops encrypting new data at {}", info.id, at)?;
        }
        KeysCommand::Revoke {
            id,
            kmip_host,
            compromised,
        } => {
            let id: KeyId = id.parse()?;
            let (_, m, _) = reg.find(&id, kmip_host.as_deref())?;
            let info = m.revoke(&id, compromised)?;
            writeln!(
                out,
                "key {} is now {}: it decrypts existing data, new data gets a new key",
                info.id, info.state
            )?;
        }
        KeysCommand::Destroy {
            id,
            kmip_host,
            force,
        } => {
            let id: KeyId = id.parse()?;
            let info = engine.destroy_key(&id, kmip_host.as_deref(), force)?;
            writeln!(out, "key {} is {}", info.id, info.state)?;
        }
        KeysCommand::Check { kmip_host } => {
            // The group as the engine uses it now, edits to crypta.yaml included.
            let group = engine
                .kmip_group(&kmip_host)
                .ok_or_else(|| format!("no group {kmip_host} under kmip_hosts"))?;
            let report = crypta_kmip::KmipKeyProvider::new(&kmip_host, &group)?.check();
            write!(out, "{report}")?;
            if !report.all_ok() {
                return Err(format!("some hosts of {kmip_host} failed").into());
            }
        }
        KeysCommand::Usage => print_key_usage(&engine.key_usage()?, out)?,
    }
    Ok(())
}

/// `keys usage`: each key id with the files that need it, then the files whose key ids could
/// not be read.
fn print_key_usage(usage: &crypta::KeyUsage, out: &mut dyn Write) -> Res<()> {
    if usage.by_key.is_empty() && usage.unreadable.is_empty() {
        writeln!(out, "no file needs any key")?;
    }
    for (id, files) in &usage.by_key {
        writeln!(out, "{id}")?;
        for f in files {
            writeln!(out, "    {}", f.display())?;
        }
    }
    if !usage.unreadable.is_empty() {
        writeln!(out, "unknown (key ids unreadable)")?;
        for (f, reason) in &usage.unreadable {
            writeln!(out, "    {}: {reason}", f.display())?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn scan_escaping_keeps_a_row_on_one_line() {
        let escaped = |bytes: &[u8]| {
            let mut out = Vec::new();
            super::write_escaped(&mut out, bytes).unwrap();
            out
        };
        assert_eq!(escaped(b"plain"), b"plain");
        assert_eq!(escaped(b""), b"");
        assert_eq!(escaped(b"a\tb\nc\rd\\e\\\\"), b"a\\tb\\nc\\rd\\\\e\\\\\\\\");
        // Bytes that are not UTF-8 are written as they are; only the four are escaped.
        assert_eq!(escaped(b"\xff\n\xfe\x00"), b"\xff\\n\xfe\x00");
        assert_eq!(escaped("é\t".as_bytes()), "é\\t".as_bytes());
    }
}
