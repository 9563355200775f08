//! `cargo xtask …`: every command of the `pyelf` binary, from anywhere in the repository, plus the
//! developers' own tasks (`bench`).

mod bench;
mod programs;

use anyhow::Result;
use clap::{Parser, Subcommand};
use pyelf::home::Home;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(name = "cargo xtask", about = "pyelf's commands and its developers' tasks")]
struct Xtask {
    #[command(flatten)]
    verbosity: pyelf::cli::Verbosity,
    #[command(subcommand)]
    task: Task,
}

#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once per run
enum Task {
    /// Measure sizes, start-up, build time and run-time speed; print a table, write JSON.
    Bench {
        /// A short run (for CI): smaller workloads, fewer repetitions.
        #[arg(long)]
        quick: bool,
        /// Where to write the JSON report.
        #[arg(long, default_value = "target/pyelf/bench.json")]
        json: PathBuf,
        /// Measure only the real programs of bench/programs.toml (all of them) against their venvs.
        #[arg(long, conflicts_with = "quick")]
        programs: bool,
    },
    #[command(flatten)]
    Pyelf(pyelf::cli::Command),
}

fn main() -> ExitCode {
    let args = Xtask::parse_from(std::iter::once("cargo xtask".to_string()).chain(std::env::args().skip(1)));
    args.verbosity.apply();
    pyelf::cli::exit_code(match args.task {
        Task::Bench { programs: true, .. } => programs(),
        Task::Bench { quick, json, .. } => bench(quick, &json),
        Task::Pyelf(command) => pyelf::cli::run(pyelf::cli::Cli { verbosity: args.verbosity, command }),
    })
}

fn programs() -> Result<ExitCode> {
    let home = Home::from_env()?;
    let work = tempfile::tempdir()?;
    let figures = bench::program_figures(&home, bench::Mode::FULL, work.path())?;
    println!(
        "| figure | value |\n|---|---|\n{}\n| goal | target | measured |\n|---|---|---|\n{}",
        programs::rows(&figures),
        programs::goal_rows(&figures)
    );
    Ok(ExitCode::SUCCESS)
}

fn bench(quick: bool, json: &std::path::Path) -> Result<ExitCode> {
    let (mode, name) = if quick { (bench::Mode::QUICK, "quick") } else { (bench::Mode::FULL, "full") };
    let home = Home::from_env()?;
    let report = bench::run(&home, mode, name, json)?;
    println!("{}", bench::table(&report));
    eprintln!("JSON: {}", json.display());
    // The regression suite, every module in every root (not in quick mode, which CI runs: the
    // conformance test of `cargo test` runs it there, with its assertions).
    if quick {
        eprintln!("(the regression suite's figures: `cargo xtask bench`, or `cargo xtask conformance`)");
        return Ok(ExitCode::SUCCESS);
    }
    let plan = pyelf::conformance::Plan::builtin();
    let places = pyelf::conformance::Place::ALL.to_vec();
    let report =
        pyelf::conformance::run_and_report(&home, plan.modules(), places, 2, &json.with_file_name("conformance.json"))?;
    println!("{}", pyelf::conformance::table(&report));
    Ok(ExitCode::SUCCESS)
}
