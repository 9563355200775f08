//! The command line, one definition for both the `pyelf` binary and `cargo xtask`.

use crate::fetch::{self, Fetcher};
use crate::home::Home;
use crate::pins::Pins;
use crate::toolchain;
use anyhow::Result;
use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(version, about = "Turn a Python script into one fully static Linux executable")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once per run
pub enum Command {
    /// Fetch and verify every pinned source of a target into the cache.
    Fetch {
        #[arg(long, default_value = crate::pins::native_triple())]
        target: String,
    },
    /// Build the target's toolchain (musl, zlib, expat, static CPython) unless it is cached.
    Toolchain {
        #[arg(long, default_value = crate::pins::native_triple())]
        target: String,
        /// Parallel jobs for make (default: the number of CPUs).
        #[arg(long)]
        jobs: Option<usize>,
    },
    /// List the known targets (toolchains/targets/), how this machine builds for each and which
    /// toolchains are built.
    Targets,
    /// Build a script, a package or a project into one static executable.
    Build(BuildArgs),
    /// Measure sizes, start-up, build time and run-time speed; print a table, write JSON.
    Bench {
        /// A short run (for CI): smaller workloads, fewer repetitions.
        #[arg(long)]
        quick: bool,
        /// Where to write the JSON report.
        #[arg(long, default_value = "target/pyelf/bench.json")]
        json: std::path::PathBuf,
    },
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
        /// The target it was built for.
        #[arg(long, default_value = crate::pins::native_triple())]
        target: String,
    },
    /// Run the toolchain's static python3 (builds the toolchain first if needed).
    Python {
        #[arg(long, default_value = crate::pins::native_triple())]
        target: String,
        /// Arguments for python3 (after `--`).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<std::ffi::OsString>,
    },
}

/// Arguments of `build`.
#[derive(Debug, clap::Args)]
pub struct BuildArgs {
    /// A Python script, a package directory with __main__.py (as for `python -m`), or a project
    /// directory whose pyproject.toml has [project.scripts].
    pub script: std::path::PathBuf,
    #[arg(long, default_value = crate::pins::native_triple())]
    pub target: String,
    /// Output file (default: target/pyelf/<target>/<name>).
    #[arg(short, long)]
    pub output: Option<std::path::PathBuf>,
    /// Which of the project's [project.scripts] to build (needed when there are several).
    #[arg(long, value_name = "NAME")]
    pub entry: Option<String>,
    /// Embed this module too (for imports the analysis cannot see). Repeatable.
    #[arg(long = "include-module", value_name = "MODULE")]
    pub include_modules: Vec<String>,
    /// Embed this package and all its submodules. Repeatable.
    #[arg(long = "include-package", value_name = "PACKAGE")]
    pub include_packages: Vec<String>,
    /// Which stdlib modules to embed [default: auto].
    #[arg(long, value_enum)]
    pub stdlib: Option<crate::freeze::Stdlib>,
    /// Embed the app's modules matching PATTERN (`*` wildcards) as bytecode instead of compiling
    /// them with Cython. Repeatable.
    #[arg(long = "no-cython", value_name = "PATTERN")]
    pub no_cython: Vec<String>,
    /// Build this package from its source without its C extension modules: its pure-Python
    /// fallback, kept on purpose (repeatable). Without it, a package whose normal install has
    /// extension modules gets them, built from its source distribution.
    #[arg(long = "no-native", value_name = "PACKAGE")]
    pub no_native: Vec<String>,
    /// Put the file or directory SRC into the app at DEST, a path inside one of its packages
    /// (read with importlib.resources). Repeatable.
    #[arg(long = "add-data", value_name = "SRC:DEST")]
    pub add_data: Vec<String>,
    /// Compile the dependencies with Cython too (default: embedded as bytecode).
    #[arg(long)]
    pub compile_deps: bool,
    /// Bundle the requirements in FILE too (pip's format; hash-checked when it has hashes).
    #[arg(short = 'r', long, value_name = "FILE")]
    pub requirements: Option<std::path::PathBuf>,
    /// Take the dependencies from this site-packages directory instead of pip.
    #[arg(long, value_name = "DIR")]
    pub site_packages: Option<std::path::PathBuf>,
    /// Run the app once under the toolchain's python3 (with the arguments after `--`) and embed
    /// every module it imports, besides what the analysis finds.
    #[arg(long)]
    pub trace_imports: bool,
    /// Arguments of the traced run (after `--`).
    #[arg(last = true, value_name = "ARGS", requires = "trace_imports")]
    pub trace_args: Vec<String>,
    /// Keep symbols and debug information.
    #[arg(long)]
    pub no_strip: bool,
    /// Link at a fixed address instead of a static PIE (about 5% smaller, 1 ms faster to start,
    /// no address space layout randomisation).
    #[arg(long)]
    pub no_pie: bool,
    /// Compress with upx (smaller file, slower start).
    #[arg(long)]
    pub upx: bool,
    /// Embed this PEM CA bundle, for hosts without a trust store (e.g. an empty root).
    #[arg(long, value_name = "FILE")]
    pub ca_bundle: Option<std::path::PathBuf>,
    /// Use the embedded CA bundle even where the host has a trust store.
    #[arg(long, requires = "ca_bundle")]
    pub ca_bundle_always: bool,
    /// Also write the binary's SBOM (CycloneDX JSON) to FILE.
    #[arg(long, value_name = "FILE")]
    pub sbom: Option<std::path::PathBuf>,
    /// Leave the stdlib modules' sources out of the binary (smaller; tracebacks of stdlib code
    /// show no source lines, as with a stdlib of .pyc files only).
    #[arg(long)]
    pub no_stdlib_sources: bool,
    /// Make the binary also the python3 interpreter, with the stdlib and packages it embeds, when
    /// it is started under the name python, python3 or python3.13 (a link to it, or argv[0]).
    #[arg(long)]
    pub python_cli: bool,
    /// Parallel jobs if the toolchain has to be built.
    #[arg(long)]
    pub jobs: Option<usize>,
}

impl BuildArgs {
    pub fn into_options(self) -> crate::app::BuildOptions {
        crate::app::BuildOptions {
            script: self.script,
            target: self.target,
            output: self.output,
            entry: self.entry,
            include_modules: self.include_modules,
            include_packages: self.include_packages,
            stdlib: self.stdlib,
            no_cython: self.no_cython,
            no_native: self.no_native,
            add_data: self.add_data,
            compile_deps: self.compile_deps,
            requirements: self.requirements,
            site_packages: self.site_packages,
            trace_imports: self.trace_imports.then_some(self.trace_args),
            strip: !self.no_strip,
            pie: !self.no_pie,
            upx: self.upx,
            ca_bundle: self.ca_bundle,
            ca_bundle_always: self.ca_bundle_always,
            sbom: self.sbom,
            stdlib_sources: !self.no_stdlib_sources,
            python_cli: self.python_cli,
            toolchain: toolchain::Options::with_jobs(self.jobs),
        }
    }
}

/// Runs the conformance comparison in a work directory of its own and writes its JSON report.
fn conformance(
    home: &Home,
    modules: Vec<String>,
    places: Vec<crate::conformance::Place>,
    jobs: usize,
    json: &std::path::Path,
) -> Result<crate::conformance::Report> {
    let work_root = home.root().join("work");
    fs_err::create_dir_all(&work_root)?;
    // Locked while the run lives; those of killed runs are removed here (as app builds' are).
    crate::stale::sweep(&work_root, "conformance-")?;
    let work = crate::stale::OwnedDir::new_in(&work_root, "conformance-")?;
    let opts = crate::conformance::Options { modules, places, jobs, work: work.path().to_path_buf() };
    let report = crate::conformance::run(home, &opts)?;
    if let Some(dir) = json.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs_err::create_dir_all(dir)?;
    }
    fs_err::write(json, serde_json::to_string_pretty(&report)?)?;
    eprintln!("JSON: {}", json.display());
    Ok(report)
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
        Command::Toolchain { target, jobs } => {
            let opts = toolchain::Options::with_jobs(jobs);
            let start = std::time::Instant::now();
            let tc = toolchain::ensure(&Home::from_env()?, &Pins::builtin(), &target, &opts)?;
            eprintln!("toolchain {} ({:.1}s)", tc.root.display(), start.elapsed().as_secs_f64());
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
        Command::Build(args) => {
            let opts = args.into_options();
            for built in crate::app::build_all(&Home::from_env()?, &opts)? {
                println!("{}", built.path.display());
                eprintln!(
                    "built {} in {:.1}s: {} ({} bytes), {} modules compiled by Cython, {} frozen as bytecode, {} built-in C modules\nsha256 {}",
                    built.path.display(),
                    built.seconds,
                    crate::progress::human_bytes(built.size),
                    built.size,
                    built.app_modules,
                    built.frozen_modules,
                    built.c_modules,
                    built.sha256
                );
                let linked: Vec<String> = built.linked.iter().map(|(n, v, l)| format!("{n} {v} ({l})")).collect();
                eprintln!("contains: {}", linked.join(", "));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench { quick, json } => {
            let (mode, name) =
                if quick { (crate::bench::Mode::QUICK, "quick") } else { (crate::bench::Mode::FULL, "full") };
            let home = Home::from_env()?;
            let report = crate::bench::run(&home, mode, name, &json)?;
            println!("{}", crate::bench::table(&report));
            eprintln!("JSON: {}", json.display());
            // The regression suite: every module, in every root (full) or in Alpine with /proc
            // (quick); figures here, the assertions are `cargo test`'s and `conformance`'s.
            let plan = crate::conformance::Plan::builtin();
            let places = if quick {
                vec![crate::conformance::Place { root: "alpine", proc: true }]
            } else {
                crate::conformance::Place::ALL.to_vec()
            };
            let conf_json = json.with_file_name("conformance.json");
            let report = conformance(&home, plan.modules(), places, 2, &conf_json)?;
            println!("{}", crate::conformance::table(&report));
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
            let report = conformance(&Home::from_env()?, modules, places, jobs, &json)?;
            println!("{}", crate::conformance::table(&report));
            Ok(if report.unexplained.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        Command::Sbom { binary } => {
            println!("{}", crate::sbom::read(&binary)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Verify { binary, target } => {
            let pins = Pins::builtin();
            let checks = crate::verify::checks(&binary, pins.target(&target)?)?;
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
