//! The command line, one definition for both the `pyelf` binary and `cargo xtask`.

use crate::fetch::{self, Fetcher};
use crate::home::Home;
use crate::pins::Pins;
use anyhow::Result;
use clap::{Parser, Subcommand};
use std::process::ExitCode;

pub const DEFAULT_TARGET: &str = "x86_64-unknown-linux-musl";

#[derive(Debug, Parser)]
#[command(version, about = "Turn a Python script into one fully static Linux executable")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Fetch and verify every pinned source of a target into the cache.
    Fetch {
        #[arg(long, default_value = DEFAULT_TARGET)]
        target: String,
    },
}

/// Parses the command line and runs it; `name` is how the user called us (for messages).
pub fn main(name: &str) -> ExitCode {
    let cli = Cli::parse_from(std::iter::once(name.to_string()).chain(std::env::args().skip(1)));
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs one parsed command.
pub fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Fetch { target } => {
            let pins = Pins::builtin();
            let target = pins.target(&target)?;
            let home = Home::from_env()?;
            let fetcher = Fetcher::from_env(&home);
            fetch::fetch_all(&fetcher, &pins.sources_for(target)?)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
