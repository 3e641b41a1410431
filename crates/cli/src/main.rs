//! `crypta`: the command line tool.

mod demo;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "crypta",
    version,
    about = "crypta: an embedded storage engine with transparent encryption"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Encrypts a file of chunks with a key from a local key file, reads it back, and checks
    /// that no plaintext reached the disk (the embedded default: no key server).
    Demo {
        /// Directory to work in (a fresh temporary directory if absent).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Megabytes of sample rows to write.
        #[arg(long, default_value_t = 64)]
        mb: usize,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo { dir, mb } => demo::run(dir, mb),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("crypta: {e}");
            ExitCode::FAILURE
        }
    }
}
