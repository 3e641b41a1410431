//! The binary: init, cql with positioned errors, put/get/delete/scan, DESC, keys, shell, load,
//! exit statuses and error messages.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod common;

use common::{BIN, init, ok, run};

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

#[test]
fn newcomer_session() {
    let dir = tempfile::tempdir().unwrap();
    let config = init(dir.path());
    ok(
        &config,
        &[
            "cql",
            "CREATE KEYSPACE test WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}",
        ],
    );
    // system_info_encryption is off in the embedded default: creating an encrypted table
    // says, on stderr, that its rows stay in plaintext in the commit log for a while.
    let o = run(
        &config,
        &[
            "cql",
            "CREATE TABLE test.encryption_test (id text PRIMARY KEY, value text) WITH COMPRESSION = {'class': 'Encryptor', 'cipher_algorithm': 'AES/ECB/PKCS5Padding', 'secret_key_strength': 128}",
        ],
    );
    assert!(o.status.success());
    assert!(o.stdout.is_empty());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.starts_with("crypta: warning: test.encryption_test is encrypted, but system_info_encryption is disabled")
            && err.contains("commit log"),
        "{err}"
    );
    // The engine's log lines reach the user: an unknown key in crypta.yaml is named.
    let yaml = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, format!("{yaml}commitlog_sync_perod_in_ms: 5\n")).unwrap();
    let o = run(&config, &["get", "test.encryption_test", "nothing"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("crypta.yaml: unknown key 'commitlog_sync_perod_in_ms' ignored"),
        "{err}"
    );
    std::fs::write(&config, yaml).unwrap();
    // Table properties pasted from a cluster's DESC output run, and stderr names those that
    // crypta ignores.
    let o = run(
        &config,
        &[
            "cql",
            "CREATE TABLE test.pasted (id uuid PRIMARY KEY, firstname text) WITH bloom_filter_fp_chance = 0.01 AND compression = {'chunk_length_in_kb': '16', 'class': 'org.apache.cassandra.io.compress.LZ4Compressor'} AND gc_grace_seconds = 864000",
        ],
    );
    assert!(o.status.success(), "{o:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(
            "test.pasted: ignored the table properties bloom_filter_fp_chance, gc_grace_seconds"
        ),
        "{err}"
    );
    let o = run(
        &config,
        &[
            "cql",
            "CREATE TABLE test.x (id text PRIMARY KEY value text)",
        ],
    );
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("line 1, column") && err.contains('^'), "{err}");
    // A failed command closes the engine too, deleting the segments before its own (they
    // piled up, one per failed command, until a command succeeded).
    let left: Vec<_> = std::fs::read_dir(dir.path().join("commitlog"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(left.len() <= 1, "{left:?}");

    ok(
        &config,
        &["put", "test.encryption_test", "k1", "hello world"],
    );
    assert_eq!(
        ok(&config, &["get", "test.encryption_test", "k1"]),
        "hello world\n"
    );
    let o = run(&config, &["get", "test.encryption_test", "missing"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty());
    ok(&config, &["put", "test.encryption_test", "k2", "two"]);
    ok(&config, &["delete", "test.encryption_test", "k1"]);
    assert_eq!(ok(&config, &["scan", "test.encryption_test"]), "k2\ttwo\n");
    ok(&config, &["flush"]);
    // Every file crypta made is its owner's only: crypta.yaml (it takes keystore passwords),
    // SSTables, the manifest and the lock, as the key file and the logs.
    {
        use std::os::unix::fs::PermissionsExt;
        let mut files = vec![config.clone()];
        for d in ["data", "commitlog", "keys"] {
            for e in std::fs::read_dir(dir.path().join(d)).unwrap() {
                files.push(e.unwrap().path());
            }
        }
        assert!(
            files
                .iter()
                .any(|f| f.extension().is_some_and(|x| x == "db"))
        );
        for f in files {
            let mode = std::fs::metadata(&f).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode & 0o077, 0, "{} is {mode:o}", f.display());
        }
    }
    let desc = ok(&config, &["cql", "DESC TABLE test.encryption_test"]);
    assert!(
        desc.contains("'cipher_algorithm': 'AES/ECB/PKCS5Padding'"),
        "{desc}"
    );
    let list = ok(&config, &["keys", "list"]);
    assert!(list.starts_with("ID"), "{list}");
    assert!(
        list.contains("AES/128") && list.contains("Active"),
        "{list}"
    );
    let usage = ok(&config, &["keys", "usage"]);
    assert!(usage.contains("test-encryption_test-"), "{usage}");
    // A key asked of a provider that does not exist: the error says so and lists the ones that do.
    let id = list
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap();
    let o = run(
        &config,
        &["keys", "expire", id, "--kmip-host", "nosuchgroup"],
    );
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("nosuchgroup")
            && err.contains("no key provider has this name")
            && err.contains("local"),
        "{err}"
    );
    ok(&config, &["verify"]);
    let load = ok(
        &config,
        &[
            "load",
            "test.encryption_test",
            "--rows",
            "2000",
            "--value-size",
            "50",
        ],
    );
    assert!(load.contains("loaded 2000 rows"), "{load}");
    let up = ok(&config, &["upgradesstables", "-a", "test"]);
    assert!(up.contains("upgradesstables: rewrote"), "{up}");
}

#[test]
fn shell_answers_each_command_as_it_is_done() {
    let dir = tempfile::tempdir().unwrap();
    let config = init(dir.path());
    let mut child = Command::new(BIN)
        .arg("--config")
        .arg(&config)
        .arg("shell")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "cql \"CREATE KEYSPACE ks WITH replication = {{'class': 'SimpleStrategy', 'replication_factor': 1}}\"").unwrap();
    writeln!(
        stdin,
        "cql \"CREATE TABLE ks.t (id text PRIMARY KEY, v text)\""
    )
    .unwrap();
    writeln!(stdin, "put ks.t a 'one two'").unwrap();
    writeln!(stdin, "get ks.t a").unwrap();
    writeln!(stdin, "get ks.t b").unwrap();
    writeln!(stdin, "put ks.nope a b").unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[..5], ["ok", "ok", "ok", "one two", "ok"], "{text}");
    assert_eq!(lines[5], "not found", "{text}");
    assert!(
        lines[6].starts_with("error:") && lines[6].contains("ks.nope"),
        "{text}"
    );
    assert_eq!(lines.len(), 7, "{text}");
    assert_eq!(out.status.code(), Some(1), "a command failed");
}

const KEYSPACE: &str =
    "CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}";

/// A fresh directory with keyspace `ks` and an encrypted table `ks.t`; the config path.
fn with_table(dir: &Path) -> PathBuf {
    let config = init(dir);
    ok(&config, &["cql", KEYSPACE]);
    ok(
        &config,
        &[
            "cql",
            "CREATE TABLE ks.t (id text PRIMARY KEY, v text) WITH compression = {'class': 'Encryptor', 'cipher_algorithm': 'AES/CBC/PKCS5Padding', 'secret_key_strength': 128}",
        ],
    );
    config
}

#[test]
fn scan_escapes_each_row_onto_one_line_and_get_prints_the_value_as_stored() {
    let dir = tempfile::tempdir().unwrap();
    let config = with_table(dir.path());
    ok(&config, &["put", "ks.t", "a\tb", "one\ntwo\r\\three"]);
    ok(&config, &["put", "ks.t", "b\\n", "tab\there"]);
    ok(&config, &["put", "ks.t", "c", "plain é"]);
    assert_eq!(
        ok(&config, &["scan", "ks.t"]),
        "a\\tb\tone\\ntwo\\r\\\\three\nb\\\\n\ttab\\there\nc\tplain é\n"
    );
    assert_eq!(ok(&config, &["get", "ks.t", "a\tb"]), "one\ntwo\r\\three\n");
    let help = ok(&config, &["scan", "--help"]);
    assert!(
        help.contains(r"a backslash is written `\\`, a tab `\t`, a newline `\n`"),
        "{help}"
    );
}

#[test]
fn upgradesstables_needs_at_least_one_job() {
    let dir = tempfile::tempdir().unwrap();
    let config = with_table(dir.path());
    let o = run(&config, &["upgradesstables", "-j", "0", "ks"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("'0'") && err.contains("--jobs"), "{err}");
    assert!(err.contains("at least 1 table at a time"), "{err}");
    assert!(!err.contains("18446744073709551615"), "{err}");
    assert!(o.stdout.is_empty());
    let up = ok(&config, &["upgradesstables", "-j", "1", "ks"]);
    assert!(up.starts_with("upgradesstables: rewrote"), "{up}");
    // The system tables under the names of the DSE 5.1 runbook and of DSE 6.8 / HCD's.
    for batchlog in ["batchlog", "batches"] {
        let up = ok(
            &config,
            &["upgradesstables", "-a", "system", batchlog, "paxos"],
        );
        assert!(up.starts_with("upgradesstables: rewrote"), "{up}");
    }
    let o = run(&config, &["upgradesstables", "-a", "system", "batchez"]);
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn load_splits_batches_by_size_and_starts_at_key_zero() {
    let dir = tempfile::tempdir().unwrap();
    let config = with_table(dir.path());
    // Three 9 MB rows: together more than a commit log record may hold (half a 32 MiB
    // segment), each alone well within it.
    let load = ok(
        &config,
        &["load", "ks.t", "--rows", "3", "--value-size", "9000000"],
    );
    assert!(load.starts_with("loaded 3 rows into ks.t"), "{load}");
    for r in 0..3 {
        let v = ok(&config, &["get", "ks.t", &format!("key-{r:012}")]);
        assert_eq!(v.len(), 9_000_001, "row {r}");
        assert!(v.starts_with(&format!("{r:012}{r:012}")), "row {r}");
    }
    let o = run(&config, &["get", "ks.t", "key-000000000003"]);
    assert_eq!(o.status.code(), Some(1));
    // What the help says about the keys is what load writes.
    let help = ok(&config, &["load", "--help"]);
    assert!(
        help.contains("keys key-000000000000, key-000000000001, ..."),
        "{help}"
    );
}

#[test]
fn init_names_a_path_that_is_not_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let config = init(dir.path());
    let o = Command::new(BIN).arg("init").arg(&config).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!(
            "{} exists and is not a directory",
            config.display()
        )),
        "{err}"
    );
    let o = Command::new(BIN)
        .arg("init")
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("crypta.yaml already exists"), "{err}");
}

#[test]
fn get_exits_1_when_absent_and_2_on_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = with_table(dir.path());
    let o = run(&config, &["get", "ks.t", "absent"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty() && o.stderr.is_empty());
    for (config, args, says) in [
        (config.as_path(), ["get", "ks.nope", "k"], "ks.nope"),
        (
            dir.path().join("missing.yaml").as_path(),
            ["get", "ks.t", "k"],
            "missing.yaml",
        ),
    ] {
        let o = run(config, &args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(o.stdout.is_empty(), "{args:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.starts_with("crypta: ") && err.contains(says), "{err}");
    }
    let get_help = ok(&config, &["get", "--help"]);
    assert!(get_help.contains("2 on an error"), "{get_help}");
    // The other commands: 1 on a problem.
    for args in [
        &["put", "ks.nope", "k", "v"][..],
        &["scan", "ks.nope"],
        &["verify", "nope"],
    ] {
        let o = run(&config, args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
    }
}

#[test]
fn config_errors_suggest_init_only_when_the_file_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let hint = "create one with `crypta init DIR`";
    let missing = dir.path().join("missing.yaml");
    let o = run(&missing, &["scan", "ks.t"]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("missing.yaml") && err.contains(hint), "{err}");
    let o = run(&missing, &["keys", "check", "--kmip-host", "g"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(hint), "{err}");

    let config = init(dir.path());
    let yaml = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        yaml.replace("commitlog_sync: batch", "commitlog_sync: sometimes"),
    )
    .unwrap();
    let o = run(&config, &["scan", "ks.t"]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("commitlog_sync"), "{err}");
    assert!(!err.contains(hint), "{err}");
}

/// Inside `crypta shell`, `get` answers on one line whatever the value holds: a value with a
/// newline followed by `ok` would otherwise end the answer early and leave a stray line for
/// the next command.
#[test]
fn shell_get_keeps_a_value_on_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = with_table(dir.path());
    ok(&config, &["put", "ks.t", "k", "first\nok\n\\x\tend"]);
    ok(&config, &["put", "ks.t", "k2", "line one\nok"]);
    let mut sh = Shell::start(&config);
    assert_eq!(sh.ask(b"get ks.t k"), ["first\\nok\\n\\\\x\\tend", "ok"]);
    assert_eq!(sh.ask(b"get ks.t k2"), ["line one\\nok", "ok"]);
    assert_eq!(sh.ask(b"get ks.t absent"), ["not found"]);
    assert_eq!(sh.finish(), Some(0));
    // Outside the shell, get still prints the value as stored.
    assert_eq!(ok(&config, &["get", "ks.t", "k2"]), "line one\nok\n");
}

/// A `crypta shell` child and a thread passing its stdout lines on.
struct Shell {
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    lines: mpsc::Receiver<String>,
}

impl Shell {
    fn start(config: &Path) -> Self {
        let mut child = Command::new(BIN)
            .arg("--config")
            .arg(config)
            .arg("shell")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Shell {
            child,
            stdin,
            lines,
        }
    }

    /// Sends `line` (raw bytes, newline added) and returns the answer's lines, up to and
    /// including the `ok`, `not found` or `error: ...` line, while stdin stays open: each
    /// answer must come as soon as its command is done.
    fn ask(&mut self, line: &[u8]) -> Vec<String> {
        self.stdin.write_all(line).unwrap();
        self.stdin.write_all(b"\n").unwrap();
        self.stdin.flush().unwrap();
        let mut answer = Vec::new();
        loop {
            let l = self
                .lines
                .recv_timeout(Duration::from_secs(60))
                .unwrap_or_else(|_| panic!("no answer to {:?}", String::from_utf8_lossy(line)));
            let end = l == "ok" || l == "not found" || l.starts_with("error:");
            answer.push(l);
            if end {
                return answer;
            }
        }
    }

    /// The one `error: ` line that answers `line`.
    fn error(&mut self, line: &str) -> String {
        let answer = self.ask(line.as_bytes());
        assert_eq!(answer.len(), 1, "{line}: {answer:?}");
        let [e] = &answer[..] else { unreachable!() };
        assert!(e.starts_with("error: "), "{line}: {e}");
        assert!(!e.starts_with("error: error:"), "{line}: {e}");
        e.clone()
    }

    /// Closes stdin; the exit status.
    fn finish(self) -> Option<i32> {
        let Shell {
            mut child, stdin, ..
        } = self;
        drop(stdin);
        child.wait().unwrap().code()
    }
}

#[test]
fn shell_help_errors_unquoted_cql_and_exit_status() {
    let dir = tempfile::tempdir().unwrap();
    let config = init(dir.path());

    let mut sh = Shell::start(&config);
    // `help`: the commands usable here, on stdout, without an error prefix.
    let help = sh.ask(b"help");
    assert_eq!(help.last().unwrap(), "ok", "{help:?}");
    assert!(help.iter().all(|l| !l.starts_with("error")), "{help:?}");
    let listed: Vec<&str> = help
        .iter()
        .filter_map(|l| l.strip_prefix("  "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    for usable in [
        "cql",
        "put",
        "get",
        "scan",
        "load",
        "upgradesstables",
        "keys",
    ] {
        assert!(listed.contains(&usable), "{usable} missing: {help:?}");
    }
    for refused in ["init", "shell", "demo"] {
        assert!(!listed.contains(&refused), "{refused} listed: {help:?}");
        let e = sh.error(&format!("{refused} x"));
        assert!(
            e.contains(&format!("{refused} is not available inside crypta shell")),
            "{e}"
        );
    }
    let get_help = sh.ask(b"help get");
    assert!(
        get_help[0].starts_with("Prints the value of KEY"),
        "{get_help:?}"
    );
    // Errors: one line each, one `error: ` prefix.
    let e = sh.error("bogus");
    assert!(
        e.starts_with("error: unrecognized subcommand 'bogus'"),
        "{e}"
    );
    let e = sh.error("put ks.t");
    assert!(
        e.contains("<KEY> <VALUE>") && e.contains("usage: put"),
        "{e}"
    );
    let e = sh.error("keys");
    assert!(e.contains("usage: keys <COMMAND>"), "{e}");
    let e = sh.error("put 'oops");
    assert!(e.contains("unterminated"), "{e}");
    // Unquoted CQL takes the rest of the line; quoted still works.
    let e = sh.error(KEYSPACE);
    assert!(
        e.starts_with("error: unrecognized subcommand 'CREATE'"),
        "{e}"
    );
    assert_eq!(sh.ask(format!("cql {KEYSPACE}").as_bytes()), ["ok"]);
    assert_eq!(
        sh.ask(b"cql CREATE TABLE ks.t (id text PRIMARY KEY, v text) WITH compression = {'class': 'Encryptor', 'cipher_algorithm': 'AES/ECB/PKCS5Padding', 'secret_key_strength': 128}"),
        ["ok"]
    );
    assert_eq!(
        sh.ask(b"cql \"CREATE TABLE ks.u (id text PRIMARY KEY, v text)\""),
        ["ok"]
    );
    let desc = sh.ask(b"cql DESC TABLE ks.t");
    assert!(
        desc.join("\n")
            .contains("'cipher_algorithm': 'AES/ECB/PKCS5Padding'"),
        "{desc:?}"
    );
    // A CQL error keeps its position, on one line (no caret lines).
    let e = sh.error("cql CREATE TABLE ks.x (id text PRIMARY KEY value text)");
    assert!(e.starts_with("error: line 1, column 40: "), "{e}");
    // A line that is not UTF-8 is one failed command; the shell goes on.
    let answer = sh.ask(b"put ks.t k \xff\xfe");
    assert_eq!(answer.len(), 1, "{answer:?}");
    assert!(answer[0].starts_with("error: "), "{answer:?}");
    assert_eq!(sh.ask(b"put ks.t k v"), ["ok"]);
    assert_eq!(sh.ask(b"get ks.t k"), ["v", "ok"]);
    assert_eq!(sh.ask(b"get ks.t absent"), ["not found"]);
    assert_eq!(sh.finish(), Some(1), "commands failed: exit status 1");

    // Nothing failed (an absent key is an answer, not a failure): exit status 0.
    let mut sh = Shell::start(&config);
    assert_eq!(sh.ask(b"get ks.t k"), ["v", "ok"]);
    assert_eq!(sh.ask(b"get ks.t absent"), ["not found"]);
    assert_eq!(sh.finish(), Some(0));

    // A failure before `exit` still counts.
    let mut sh = Shell::start(&config);
    sh.error("get ks.nope k");
    sh.stdin.write_all(b"exit\nput ks.nope a b\n").unwrap();
    assert_eq!(sh.finish(), Some(1));
}

/// `crypta scan ks.t | head -1`: when the reader goes away, crypta stops quietly with status 0
/// (as a command killed by SIGPIPE would), without "Broken pipe" on stderr.
#[test]
fn output_cut_short_by_its_reader_ends_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let config = with_table(dir.path());
    ok(&config, &["load", "ks.t", "--rows", "20000"]);
    let mut child = Command::new(BIN)
        .args(["--config", config.to_str().unwrap(), "scan", "ks.t"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.starts_with("key-000000000000\t"), "{first}");
    // The reader is dropped here, closing the pipe while crypta still has rows to write.
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!err.contains("Broken pipe"), "{err}");
    assert_eq!(o.status.code(), Some(0), "{err}");
}
