//! The command line, one definition for both the `pyelf` binary and `cargo xtask`.

use crate::home::Home;
use crate::toolchain;
use crate::toolchain::fetch::{self, Fetcher};
use crate::toolchain::pins::Pins;
use anyhow::Result;
use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(version, about = "Turn a Python script into one fully static Linux executable")]
pub struct Cli {
    #[command(flatten)]
    pub verbosity: Verbosity,
    #[command(subcommand)]
    pub command: Command,
}

/// `-q` / `-v`, accepted before or after the subcommand.
#[derive(Debug, Clone, Copy, Default, clap::Args)]
pub struct Verbosity {
    /// Say nothing but errors and warnings (no progress, notes or summaries).
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Also show each command a toolchain step runs (all of it is in the step's log anyway).
    #[arg(short, long, global = true)]
    pub verbose: bool,
}

impl Verbosity {
    /// Makes it the process's verbosity.
    pub fn apply(self) {
        crate::report::set_verbosity(match (self.quiet, self.verbose) {
            (true, _) => crate::report::Verbosity::Quiet,
            (_, true) => crate::report::Verbosity::Verbose,
            _ => crate::report::Verbosity::Normal,
        });
    }
}

#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once per run
pub enum Command {
    /// Fetch and verify every pinned source of a target into the cache.
    Fetch {
        #[arg(long, default_value = crate::toolchain::pins::native_triple())]
        target: String,
    },
    /// Build the target's toolchain (musl, zlib, expat, static CPython) unless it is cached; or
    /// share it between machines as one archive.
    Toolchain {
        #[arg(long, default_value = crate::toolchain::pins::native_triple())]
        target: String,
        /// The profile (toolchains/profiles.toml): pgo (PGO, the default), quick (-O2, a minute or
        /// two quicker to build) or release (PGO and LTO).
        #[arg(long, value_name = "NAME")]
        profile: Option<String>,
        /// Parallel jobs for make (default: the number of CPUs).
        #[arg(long)]
        jobs: Option<usize>,
        /// Then write the toolchain to FILE (a .tar.gz with its key and every file's sha256), for
        /// `--import` on other machines.
        #[arg(long, value_name = "FILE")]
        export: Option<std::path::PathBuf>,
        /// Install the toolchain in FILE (written by `--export`) instead of building it: refused
        /// unless it is the toolchain these pins and this machine's compiler would build and every
        /// file is as exported.
        #[arg(long, value_name = "FILE", conflicts_with_all = ["target", "jobs", "export"])]
        import: Option<std::path::PathBuf>,
    },
    /// List the known targets (toolchains/targets/), how this machine builds for each and which
    /// toolchains are built.
    Targets,
    /// Build a script, a package or a project into one static executable.
    Build(crate::options::BuildOptions),
    /// Run CPython's regression tests inside a pyelf binary and by the toolchain's python3, in the
    /// empty and Alpine roots with and without /proc, and compare them module by module; exits 1
    /// on a difference not explained in toolchains/conformance.toml.
    Conformance {
        /// The subset `cargo test` runs, in the empty root without /proc and Alpine with it.
        #[arg(long)]
        quick: bool,
        /// These test modules instead (comma-separated, e.g. test_json,test_re).
        #[arg(long, value_delimiter = ',')]
        modules: Vec<String>,
        /// Parallel test processes (libregrtest's -j).
        #[arg(long, default_value_t = 2)]
        jobs: usize,
        /// Where to write the JSON report.
        #[arg(long, default_value = "target/pyelf/conformance.json")]
        json: std::path::PathBuf,
    },
    /// Print the SBOM (CycloneDX JSON) a binary carries.
    Sbom { binary: std::path::PathBuf },
    /// Audit a binary: static, for the target's machine, static PIE, full RELRO, NX stack, a
    /// well-formed SBOM.
    Verify {
        binary: std::path::PathBuf,
        /// The target it was built for (default: the one its SBOM names, else its ELF machine's).
        #[arg(long)]
        target: Option<String>,
    },
    /// Run the toolchain's static python3 (builds the toolchain first if needed).
    Python {
        #[arg(long, default_value = crate::toolchain::pins::native_triple())]
        target: String,
        /// Arguments for python3 (after `--`).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<std::ffi::OsString>,
    },
}

/// Parses the command line and runs it; `name` is how the user called us (for messages).
pub fn main(name: &str) -> ExitCode {
    let cli = Cli::parse_from(std::iter::once(name.to_string()).chain(std::env::args().skip(1)));
    exit_code(run(cli))
}

/// The exit code of a command's result, with the error printed.
pub fn exit_code(result: Result<ExitCode>) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{}", crate::report::render_error(&e));
            ExitCode::FAILURE
        }
    }
}

/// Runs one parsed command.
pub fn run(cli: Cli) -> Result<ExitCode> {
    cli.verbosity.apply();
    match cli.command {
        Command::Fetch { target } => {
            let pins = Pins::builtin();
            let target = pins.target(&target)?;
            let home = Home::from_env()?;
            let fetcher = Fetcher::from_env(&home);
            fetch::fetch_all(&fetcher, &pins.sources_for(target)?)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Toolchain { import: Some(file), .. } => {
            let start = std::time::Instant::now();
            match crate::toolchain::export::import(&Home::from_env()?, &Pins::builtin(), &file)? {
                crate::toolchain::export::Imported::Installed(root) => {
                    crate::say!("imported toolchain {} ({:.1}s)", root.display(), start.elapsed().as_secs_f64())
                }
                crate::toolchain::export::Imported::AlreadyThere(root) => {
                    crate::say!("toolchain {} is already there; {} not unpacked", root.display(), file.display())
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Toolchain { target, profile, jobs, export, import: None } => {
            let opts = toolchain::Options::new(jobs, profile.as_deref())?;
            let start = std::time::Instant::now();
            let tc = toolchain::ensure(&Home::from_env()?, &Pins::builtin(), &target, &opts)?;
            crate::say!("toolchain {} ({:.1}s)", tc.root.display(), start.elapsed().as_secs_f64());
            if let Some(out) = export {
                let start = std::time::Instant::now();
                let e = crate::toolchain::export::export(&tc, &out)?;
                crate::say!(
                    "exported {} to {}: {} files, {} ({:.1}s)",
                    e.name,
                    out.display(),
                    e.files,
                    crate::progress::human_bytes(e.bytes),
                    start.elapsed().as_secs_f64()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Targets => {
            for s in toolchain::statuses(&Home::from_env()?, &Pins::builtin()) {
                let state = match (&s.built, &s.problem) {
                    (Some(dir), _) => format!("built: {}", dir.display()),
                    (None, Some(p)) => format!("cannot build here: {}", p.replace('\n', " ")),
                    (None, None) => format!(
                        "not built: {} (pyelf toolchain --target {}, or on first build)",
                        s.name.as_deref().unwrap_or("?"),
                        s.triple
                    ),
                };
                let stale = if s.stale > 0 {
                    format!(" ({} stale toolchain(s) of other pins)", s.stale)
                } else {
                    String::new()
                };
                println!("{:<28} {:<50} {state}{stale}", s.triple, s.how);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Build(opts) => {
            for built in crate::build::build_all(&Home::from_env()?, &opts)? {
                println!("{}", built.path.display());
                crate::say!(
                    "built {} in {:.1}s: {} ({} bytes), {} compiled by Cython, {} frozen as bytecode, {}\nsha256 {}",
                    built.path.display(),
                    built.seconds,
                    crate::progress::human_bytes(built.size),
                    built.size,
                    count(built.app_modules, "module", "modules"),
                    built.frozen_modules,
                    count(built.c_modules, "built-in C module", "built-in C modules"),
                    built.sha256
                );
                let linked: Vec<String> = built.linked.iter().map(|(n, v, l)| format!("{n} {v} ({l})")).collect();
                crate::say!("contains: {}", linked.join(", "));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Conformance { quick, modules, jobs, json } => {
            let plan = crate::conformance::Plan::builtin();
            let (modules, places) = if quick {
                let p = crate::conformance::Place::ALL;
                (plan.quick.clone(), vec![p[0], p[3]])
            } else {
                (if modules.is_empty() { plan.modules() } else { modules }, crate::conformance::Place::ALL.to_vec())
            };
            let report = crate::conformance::run_and_report(&Home::from_env()?, modules, places, jobs, &json)?;
            println!("{}", crate::conformance::table(&report));
            Ok(if report.unexplained.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        Command::Sbom { binary } => {
            println!("{}", crate::build::sbom::read(&binary)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Verify { binary, target } => {
            let pins = Pins::builtin();
            let target = match &target {
                Some(t) => pins.target(t)?,
                None => crate::verify::target_of(&binary, &pins)?,
            };
            println!("{}: checked as a binary for {}", binary.display(), target.triple);
            let checks = crate::verify::checks(&binary, target)?;
            let mut failed = 0;
            for c in &checks {
                println!("{} {:<40} {}", if c.ok { "ok  " } else { "FAIL" }, c.name, c.detail);
                failed += usize::from(!c.ok);
            }
            if failed > 0 {
                anyhow::bail!("{} fails {failed} of {} checks", binary.display(), checks.len());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Python { target, args } => {
            let tc = toolchain::ensure(&Home::from_env()?, &Pins::builtin(), &target, &Default::default())?;
            let status = tc.command(tc.python()).args(&args).status()?;
            Ok(ExitCode::from(status.code().map(|c| c as u8).unwrap_or(1)))
        }
    }
}

/// `n` and the noun in the number it takes: "1 module", "2 modules".
fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}
