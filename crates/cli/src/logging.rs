//! The tool's log output: the engine's `log` records (an unknown key in `crypta.yaml`, a config
//! edit rejected, a torn commit log tail truncated, a file that could not be removed, ...) on
//! stderr, one line each, prefixed `crypta: warning:` and the like so they never mix with the
//! command's answers on stdout.
//!
//! `CRYPTA_LOG` sets the level: `error`, `warn` (the default), `info`, `debug`, `trace` or `off`.

use std::io::Write;

use log::{Level, LevelFilter, Log, Metadata, Record};

struct StderrLog;

impl Log for StderrLog {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let level = match record.level() {
            Level::Error => "error",
            Level::Warn => "warning",
            Level::Info => "info",
            Level::Debug => "debug",
            Level::Trace => "trace",
        };
        // One write per line, so lines from concurrent threads do not interleave.
        let line = format!("crypta: {level}: {}\n", record.args());
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }

    fn flush(&self) {
        let _ = std::io::stderr().flush();
    }
}

static LOGGER: StderrLog = StderrLog;

/// Installs the stderr logger at the level `CRYPTA_LOG` asks for (warn by default); an
/// unknown level is reported and the default kept.
pub fn init() {
    let level = match std::env::var("CRYPTA_LOG") {
        Err(_) => LevelFilter::Warn,
        Ok(v) => match v.trim().parse::<LevelFilter>() {
            Ok(l) => l,
            Err(_) => {
                eprintln!(
                    "crypta: warning: CRYPTA_LOG={v:?} is not a level \
                     (off, error, warn, info, debug, trace); using warn"
                );
                LevelFilter::Warn
            }
        },
    };
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(level);
    }
}
