//! `crypta`: the command line tool. See `crypta --help`.
#![forbid(unsafe_code)]

mod commands;
mod cpu;
mod demo;
mod logging;
mod shell;
mod words;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

/// crypta: an embedded storage engine with transparent encryption.
#[derive(Debug, Parser)]
#[command(name = "crypta", version)]
struct Cli {
    /// The configuration file.
    #[arg(long, global = true, default_value = "crypta.yaml")]
    config: PathBuf,
    #[command(subcommand)]
    command: commands::Command,
}

fn main() -> ExitCode {
    let missing = cpu::missing();
    if !missing.is_empty() {
        cpu::report(&missing);
        return ExitCode::FAILURE;
    }
    let cli = Cli::parse();
    logging::init();
    let mut out = std::io::stdout().lock();
    let failed = commands::error_status(&cli.command);
    let code = match commands::run(&cli.config, cli.command, &mut out) {
        Ok(code) => code,
        // The reader of our output went away (`crypta keys list | head`): stop quietly, as
        // a command killed by SIGPIPE would, instead of reporting the write that failed.
        Err(e)
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            let _ = out.flush();
            eprintln!("crypta: {e}");
            failed
        }
    };
    let _ = out.flush();
    code
}
