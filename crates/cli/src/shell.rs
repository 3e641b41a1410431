//! `crypta shell`: commands read one per line from stdin, run against one open engine, each
//! answered on stdout as soon as it is done (its output, then `ok`; `not found`; or one
//! `error: ` line). `get` prints the value escaped as `scan` prints it, so that a value holding
//! a newline (or the line `ok`) cannot pass for the end of the answer.

use std::error::Error;
use std::io::{BufRead, Write};
use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::{CommandFactory, FromArgMatches, Parser};
use crypta::Engine;

use crate::commands::{Command, Res, execute, get};

/// The commands of `crypta shell`, one per line. Each is answered by its output, if any, then
/// `ok`; by `not found` (get of an absent key); or by one line starting with `error: `.
#[derive(Debug, Parser)]
#[command(name = "", no_binary_name = true, override_usage = SHELL_USAGE)]
struct ShellLine {
    #[command(subcommand)]
    command: Command,
}

/// The usage line of `crypta shell`'s `help`.
const SHELL_USAGE: &str = "<COMMAND> [ARGS]...";

/// The commands that make no sense inside `crypta shell`: hidden from its `help`, refused.
const NOT_IN_SHELL: [&str; 3] = ["init", "shell", "demo"];

/// What one line of `crypta shell` asks for.
enum ShellAnswer {
    /// A command to run.
    Run(Command),
    /// `help`, `--help` and the like: the text to print.
    Help(String),
}

/// Parses one line of `crypta shell`; an error is one line, without the `error: ` prefix.
fn parse_line(parser: &mut clap::Command, line: &str) -> Result<ShellAnswer, String> {
    let words = crate::words::command_words(line)?;
    let refused = match words.as_slice() {
        [first, ..] if NOT_IN_SHELL.contains(&first.as_str()) => Some(first),
        [help, second, ..] if help == "help" && NOT_IN_SHELL.contains(&second.as_str()) => {
            Some(second)
        }
        _ => None,
    };
    if let Some(name) = refused {
        return Err(format!(
            "{name} is not available inside crypta shell (run `crypta {name}` on its own)"
        ));
    }
    match parser.try_get_matches_from_mut(words) {
        Ok(m) => ShellLine::from_arg_matches(&m)
            .map(|l| ShellAnswer::Run(l.command))
            .map_err(|e| clap_error_line(&e)),
        Err(e) if e.kind() == ErrorKind::DisplayHelp => {
            Ok(ShellAnswer::Help(e.render().to_string()))
        }
        Err(e) => Err(clap_error_line(&e)),
    }
}

/// A clap error as one line: its message without clap's `error: `, with the usage of the
/// command in parentheses, or a pointer to `help` when the command itself is unknown.
fn clap_error_line(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let mut message = String::new();
    let mut usage = None;
    // `keys` alone: clap's answer is the help of `keys`, here its usage line alone.
    let missing = e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand;
    if missing {
        message.push_str("a subcommand or argument is missing");
    }
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if let Some(u) = line.strip_prefix("Usage:") {
            usage = Some(u.trim().to_string());
        } else if missing || line.starts_with("For more information") {
            continue;
        } else if message.is_empty() {
            message = line
                .strip_prefix("error:")
                .unwrap_or(line)
                .trim()
                .to_string();
        } else {
            message.push(' ');
            message.push_str(line);
        }
    }
    match usage {
        None => message,
        Some(u) if u == SHELL_USAGE => format!("{message} (`help` lists the commands)"),
        Some(u) => format!("{message} (usage: {u})"),
    }
}

/// An error as one line of `crypta shell`'s answers: a CQL error without its caret lines, any
/// other multi-line message joined.
fn error_line(e: &(dyn Error + 'static)) -> String {
    if let Some(crypta::Error::Cql(c)) = e.downcast_ref::<crypta::Error>() {
        return format!("line {}, column {}: {}", c.line, c.column, c.message);
    }
    let text = e.to_string();
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    lines.join(" ")
}

/// Runs `crypta shell` until the end of stdin or `exit`; false if any command failed.
pub fn run(engine: &Engine, out: &mut dyn Write) -> Res<bool> {
    let mut parser = ShellLine::command();
    for name in NOT_IN_SHELL {
        parser = parser.mut_subcommand(name, |c| c.hide(true));
    }
    let mut all_ok = true;
    let mut stdin = std::io::stdin().lock();
    let mut buf = Vec::new();
    loop {
        buf.clear();
        if stdin.read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        let bytes = buf.strip_suffix(b"\n").unwrap_or(&buf);
        let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
        // A line that is not UTF-8 is answered like any failed command; the next still runs.
        let result = match std::str::from_utf8(bytes) {
            Err(_) => Err("the line is not valid UTF-8".to_string()),
            Ok(line) => {
                let trimmed = line.trim();
                if trimmed.is_empty() || trimmed.starts_with('#') {
                    continue;
                }
                if matches!(trimmed, "exit" | "quit") {
                    break;
                }
                parse_line(&mut parser, trimmed)
            }
        };
        let answer = match result {
            Ok(ShellAnswer::Help(text)) => {
                write!(out, "{text}")?;
                Ok(ExitCode::SUCCESS)
            }
            Ok(ShellAnswer::Run(Command::Get { table, key })) => {
                get(engine, &table, &key, true, out).map_err(|e| error_line(e.as_ref()))
            }
            Ok(ShellAnswer::Run(c)) => execute(engine, c, out).map_err(|e| error_line(e.as_ref())),
            Err(e) => Err(e),
        };
        match answer {
            Ok(code) if code == ExitCode::SUCCESS => writeln!(out, "ok")?,
            Ok(_) => writeln!(out, "not found")?,
            Err(e) => {
                all_ok = false;
                writeln!(out, "error: {e}")?;
            }
        }
        out.flush()?;
    }
    Ok(all_ok)
}
