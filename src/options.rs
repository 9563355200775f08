//! What to build: one set of options, read from the command line (clap) and from a project's
//! `[tool.pyelf]` table (serde, the same names in kebab-case), and merged in one place
//! ([`BuildOptions::under_tool_config`]): a value given on the command line wins, lists add up.

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Which stdlib modules to embed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stdlib {
    /// What an analysis of the app's imports finds (plus `--include-module/-package`).
    Auto,
    /// The whole stdlib (without its test suite, Tk and demos).
    Full,
}

/// The C heap of a binary: what serves malloc, free and the rest, for the interpreter, the C
/// libraries and extension modules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Malloc {
    /// dlmalloc (from which glibc's malloc descends), Python's objects in pymalloc: the heap
    /// python3 has on glibc, which reuses freed memory for any size (CLIs reside in 2-5 % less
    /// memory than with mimalloc, and run as fast).
    #[default]
    Dlmalloc,
    /// mimalloc, which CPython 3.13 bundles (and Python's objects on it): fewer system calls at
    /// start, more memory kept.
    Mimalloc,
    /// mimalloc for blocks up to 1 KiB, dlmalloc beyond, Python's objects included: the least
    /// memory (a CLI's peak RSS as python3's), 4-12 % more instructions on allocation-heavy code.
    Split,
    /// musl's own malloc (mallocng), which hands freed pages back to the kernel at once (Python's
    /// objects on mimalloc).
    Musl,
}

impl Malloc {
    /// Whether the binary links dlmalloc (`lib/libdlmalloc.a`, built from libffi's sources).
    pub fn uses_dlmalloc(self) -> bool {
        matches!(self, Malloc::Split | Malloc::Dlmalloc)
    }
}

/// The options of `pyelf build`, also the keys of `[tool.pyelf]`.
#[derive(Debug, Clone, PartialEq, clap::Args, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct BuildOptions {
    /// A Python script, a package directory with __main__.py (as for `python -m`), or a project
    /// directory whose pyproject.toml has [project.scripts].
    #[serde(skip)]
    pub script: PathBuf,
    /// The target to build for [default: this machine's, e.g. x86_64-unknown-linux-musl].
    #[arg(long)]
    pub target: Option<String>,
    /// The toolchain profile (toolchains/profiles.toml): pgo (CPython built with PGO, the
    /// default), quick (-O2, a minute or two quicker to build) or release (PGO and LTO; its
    /// toolchain takes about 17 minutes to build).
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Output file (default: target/pyelf/<target>/<name>).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Which of the project's [project.scripts] to build (needed when there are several).
    #[arg(long, value_name = "NAME")]
    pub entry: Option<String>,

    /// Embed this module too (for imports the analysis cannot see). Repeatable.
    #[arg(long = "include-module", value_name = "MODULE", help_heading = "Modules")]
    pub include_modules: Vec<String>,
    /// Embed this package and all its submodules. Repeatable.
    #[arg(long = "include-package", value_name = "PACKAGE", help_heading = "Modules")]
    pub include_packages: Vec<String>,
    /// Which stdlib modules to embed [default: auto].
    #[arg(long, value_enum, help_heading = "Modules")]
    pub stdlib: Option<Stdlib>,
    /// Embed the app's modules matching PATTERN (`*` wildcards) as bytecode instead of compiling
    /// them with Cython. Repeatable.
    #[arg(long = "no-cython", value_name = "PATTERN", help_heading = "Modules")]
    pub no_cython: Vec<String>,
    /// Compile the app's modules matching PATTERN (`*` wildcards; `__main__` for the script) with
    /// Cython even where pyelf would embed them as bytecode, because compiled they behave
    /// differently (toolchains/cython-fallbacks.toml, docs/fidelity.md). Repeatable.
    #[arg(long = "cython", value_name = "PATTERN", help_heading = "Modules")]
    #[serde(rename = "cython")]
    pub force_cython: Vec<String>,
    /// Compile the dependencies with Cython too (default: embedded as bytecode).
    #[arg(long, help_heading = "Modules")]
    pub compile_deps: bool,
    /// Put the file or directory SRC into the app at DEST, a path inside one of its packages
    /// (read with importlib.resources), or `.` or `./PATH` beside the script (read from
    /// `Path(__file__).parent`). A directory's contents go into DEST. Repeatable.
    #[arg(long = "add-data", value_name = "SRC:DEST", help_heading = "Modules")]
    pub add_data: Vec<String>,
    /// Run the app once under the toolchain's python3 (with the arguments after `--`) and embed
    /// every module it imports, besides what the analysis finds.
    #[arg(long, help_heading = "Modules")]
    #[serde(skip)]
    pub trace_imports: bool,
    /// Arguments of the traced run (after `--`).
    #[arg(last = true, value_name = "ARGS", requires = "trace_imports")]
    #[serde(skip)]
    pub trace_args: Vec<String>,

    /// Bundle the requirements in FILE too (pip's format; hash-checked when it has hashes).
    #[arg(short = 'r', long, value_name = "FILE", help_heading = "Dependencies")]
    pub requirements: Option<PathBuf>,
    /// Take the dependencies from this site-packages directory instead of pip.
    #[arg(long, value_name = "DIR", help_heading = "Dependencies")]
    pub site_packages: Option<PathBuf>,
    /// Build this package from its source without its C extension modules: its pure-Python
    /// fallback, kept on purpose (repeatable). Without it, a package whose normal install has
    /// extension modules gets them, built from its source distribution.
    #[arg(long = "no-native", value_name = "PACKAGE", help_heading = "Dependencies")]
    pub no_native: Vec<String>,
    /// Build this package's extension modules from its source distribution, linked into the
    /// binary, even when the index has a musllinux wheel of it (repeatable; `:all:` for every
    /// package). Without it, musllinux wheels are bundled as pip installs them on Alpine and
    /// loaded by the binary's own loader.
    #[arg(long = "from-source", value_name = "PACKAGE", help_heading = "Dependencies")]
    pub from_source: Vec<String>,

    /// Keep symbols and debug information (`strip = false` in [tool.pyelf]).
    #[arg(long = "no-strip", action = clap::ArgAction::SetFalse, help_heading = "Binary")]
    pub strip: bool,
    /// Link at a fixed address instead of a static PIE (no self-relocation at start, a few hundred
    /// fewer page faults, no address space layout randomisation; `pie = false` in [tool.pyelf]).
    #[arg(long = "no-pie", action = clap::ArgAction::SetFalse, help_heading = "Binary")]
    pub pie: bool,
    /// Compress with upx (smaller file, slower start).
    #[arg(long, help_heading = "Binary")]
    pub upx: bool,
    /// Embed this PEM CA bundle, for hosts without a trust store (e.g. an empty root).
    #[arg(long, value_name = "FILE", help_heading = "Binary")]
    pub ca_bundle: Option<PathBuf>,
    /// Use the embedded CA bundle even where the host has a trust store.
    #[arg(long, requires = "ca_bundle", help_heading = "Binary")]
    pub ca_bundle_always: bool,
    /// Also write the binary's SBOM (CycloneDX JSON) to FILE.
    #[arg(long, value_name = "FILE", help_heading = "Binary")]
    pub sbom: Option<PathBuf>,
    /// Leave the stdlib modules' sources out of the binary (smaller; tracebacks of stdlib code
    /// show no source lines, as with a stdlib of .pyc files only; `stdlib-sources = false` in
    /// [tool.pyelf]).
    #[arg(long = "no-stdlib-sources", action = clap::ArgAction::SetFalse, help_heading = "Binary")]
    pub stdlib_sources: bool,
    /// Make the binary also the python3 interpreter, with the stdlib and packages it embeds, when
    /// it is started under the name python, python3 or python3.13 (a link to it, or argv[0]).
    #[arg(long, help_heading = "Binary")]
    pub python_cli: bool,
    /// Also write the linker's map of the binary to FILE: which object of which library each
    /// part of it comes from.
    #[arg(long, value_name = "FILE", help_heading = "Binary")]
    pub link_map: Option<PathBuf>,
    /// What serves the C heap (malloc and free) [default: mimalloc].
    #[arg(long, value_enum, help_heading = "Binary")]
    pub malloc: Option<Malloc>,

    /// Parallel jobs if the toolchain has to be built.
    #[arg(long)]
    #[serde(skip)]
    pub jobs: Option<usize>,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            script: PathBuf::new(),
            target: None,
            profile: None,
            output: None,
            entry: None,
            include_modules: Vec::new(),
            include_packages: Vec::new(),
            stdlib: None,
            no_cython: Vec::new(),
            force_cython: Vec::new(),
            compile_deps: false,
            add_data: Vec::new(),
            trace_imports: false,
            trace_args: Vec::new(),
            requirements: None,
            site_packages: None,
            no_native: Vec::new(),
            from_source: Vec::new(),
            strip: true,
            pie: true,
            upx: false,
            ca_bundle: None,
            ca_bundle_always: false,
            sbom: None,
            stdlib_sources: true,
            python_cli: false,
            link_map: None,
            malloc: None,
            jobs: None,
        }
    }
}

impl BuildOptions {
    /// Options to build `script` with every default.
    pub fn new(script: PathBuf) -> BuildOptions {
        BuildOptions { script, ..Default::default() }
    }

    /// The target: the one given, else this machine's.
    pub fn target(&self) -> &str {
        self.target.as_deref().unwrap_or(crate::toolchain::pins::native_triple())
    }

    /// Which toolchain, and how to build it if it is missing.
    pub fn toolchain(&self) -> Result<crate::toolchain::Options> {
        crate::toolchain::Options::new(self.jobs, self.profile.as_deref())
    }

    /// The arguments of a run under the toolchain's python3 whose imports are embedded, if asked.
    pub fn traced_run(&self) -> Option<&[String]> {
        self.trace_imports.then_some(&self.trace_args[..])
    }

    /// Reads a project's `[tool.pyelf]` table.
    pub fn from_tool_config(table: toml::Value, file: &Path) -> Result<BuildOptions> {
        table.try_into().with_context(|| format!("{}: [tool.pyelf] is not right", file.display()))
    }

    /// These options (from the command line) over a project's `[tool.pyelf]` settings `file`: a
    /// single value given here wins, lists add up (the file's first), a switch turned on (or a
    /// default turned off) in either place counts; paths in the file are relative to the project
    /// directory `dir`.
    pub fn under_tool_config(&self, file: &BuildOptions, dir: &Path) -> BuildOptions {
        let rel = |p: &Option<PathBuf>| p.as_ref().map(|p| if p.is_absolute() { p.clone() } else { dir.join(p) });
        let list = |file: &[String], here: &[String]| file.iter().chain(here).cloned().collect::<Vec<_>>();
        BuildOptions {
            script: self.script.clone(),
            target: self.target.clone().or(file.target.clone()),
            profile: self.profile.clone().or(file.profile.clone()),
            output: self.output.clone().or(rel(&file.output)),
            entry: self.entry.clone().or(file.entry.clone()),
            include_modules: list(&file.include_modules, &self.include_modules),
            include_packages: list(&file.include_packages, &self.include_packages),
            stdlib: self.stdlib.or(file.stdlib),
            no_cython: list(&file.no_cython, &self.no_cython),
            force_cython: list(&file.force_cython, &self.force_cython),
            compile_deps: self.compile_deps || file.compile_deps,
            add_data: file
                .add_data
                .iter()
                .map(|d| match d.split_once(':') {
                    Some((src, dest)) => format!("{}:{dest}", rel(&Some(src.into())).unwrap().display()),
                    None => d.clone(),
                })
                .chain(self.add_data.iter().cloned())
                .collect(),
            trace_imports: self.trace_imports,
            trace_args: self.trace_args.clone(),
            requirements: self.requirements.clone().or(rel(&file.requirements)),
            site_packages: self.site_packages.clone().or(rel(&file.site_packages)),
            no_native: list(&file.no_native, &self.no_native),
            from_source: list(&file.from_source, &self.from_source),
            strip: self.strip && file.strip,
            pie: self.pie && file.pie,
            upx: self.upx || file.upx,
            ca_bundle: self.ca_bundle.clone().or(rel(&file.ca_bundle)),
            ca_bundle_always: self.ca_bundle_always || file.ca_bundle_always,
            sbom: self.sbom.clone().or(rel(&file.sbom)),
            stdlib_sources: self.stdlib_sources && file.stdlib_sources,
            python_cli: self.python_cli || file.python_cli,
            link_map: self.link_map.clone().or(rel(&file.link_map)),
            malloc: self.malloc.or(file.malloc),
            jobs: self.jobs,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        opts: BuildOptions,
    }

    fn parse(args: &[&str]) -> BuildOptions {
        Cli::try_parse_from(std::iter::once("pyelf").chain(args.iter().copied())).unwrap().opts
    }

    fn tool(text: &str) -> Result<BuildOptions> {
        BuildOptions::from_tool_config(toml::from_str(text)?, Path::new("pyproject.toml"))
    }

    #[test]
    fn the_command_line_and_the_defaults_agree() {
        assert_eq!(parse(&["app.py"]), BuildOptions::new("app.py".into()));
        let o = parse(&["app.py", "--no-strip", "--no-pie", "--no-stdlib-sources", "--include-module", "a"]);
        assert!(!o.strip && !o.pie && !o.stdlib_sources);
        assert_eq!(o.include_modules, ["a"]);
        assert_eq!(tool("").unwrap(), BuildOptions::default(), "an empty [tool.pyelf] changes nothing");
    }

    #[test]
    fn flags_win_over_tool_settings_and_lists_add_up() {
        let file = tool(
            "output = \"dist/tool\"\ninclude-modules = [\"json\"]\nstdlib = \"full\"\nstrip = false\n\
             add-data = [\"notes.txt:pkg/extra\"]\ncompile-deps = true\nsbom = \"sbom.json\"\nmalloc = \"musl\"\n",
        )
        .unwrap();
        let mut flags = parse(&["p", "--include-module", "csv"]);
        let o = flags.under_tool_config(&file, Path::new("/proj"));
        assert_eq!(o.output, Some(PathBuf::from("/proj/dist/tool")), "relative to the project");
        assert_eq!(o.sbom, Some(PathBuf::from("/proj/sbom.json")));
        assert_eq!(o.include_modules, ["json", "csv"]);
        assert_eq!(o.stdlib, Some(Stdlib::Full));
        assert!(!o.strip && o.compile_deps && o.pie);
        assert_eq!(o.add_data, ["/proj/notes.txt:pkg/extra"]);
        assert_eq!(o.malloc, Some(Malloc::Musl));

        flags.output = Some("mine".into());
        flags.stdlib = Some(Stdlib::Auto);
        let o = flags.under_tool_config(&file, Path::new("/proj"));
        assert_eq!((o.output, o.stdlib), (Some(PathBuf::from("mine")), Some(Stdlib::Auto)), "flags win");
    }

    #[test]
    fn a_wrong_tool_setting_is_named() {
        let e = format!("{:#}", tool("stdlib = \"most\"").unwrap_err());
        assert!(e.contains("[tool.pyelf] is not right") && e.contains("most") && e.contains("auto"), "{e}");
        let e = format!("{:#}", tool("no-such-setting = 1").unwrap_err());
        assert!(e.contains("no-such-setting"), "{e}");
        let e = format!("{:#}", tool("script = \"x.py\"").unwrap_err());
        assert!(e.contains("script"), "the script is not a setting: {e}");
    }
}
