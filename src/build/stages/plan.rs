//! The plan: the options settled (a project's `[tool.pyelf]` under the command line's), the app
//! resolved (script, package or project), the pins, the target's date, the output path, the
//! toolchain and Cython ensured, the work and logs directories made. The later stages read the
//! plan's fields, never the options.

use crate::build::cython::{self, Cython, CythonPin};
use crate::build::project::{self, App};
use crate::build::{deps, native};
use crate::home::Home;
use crate::options::BuildOptions;
use crate::options::{Malloc, Stdlib};
use crate::stale::OwnedDir;
use crate::toolchain::pins::Pins;
use crate::toolchain::{self, Toolchain};
use anyhow::{Context, Result};
use fs_err as fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Everything the later stages need, settled.
pub struct Plan {
    /// The build's work directory, removed when the plan is dropped (at the end of the build).
    pub work: OwnedDir,
    pub started: Instant,
    pub home: Home,
    pub app: App,
    pub pins: Pins,
    /// The target's `SOURCE_DATE_EPOCH`.
    pub epoch: u64,
    /// Where the binary goes.
    pub output: PathBuf,
    pub tc: Toolchain,
    pub cy: CythonPin,
    pub cython: Cython,
    /// Logs of the steps that write one: they outlive the work directory.
    pub logs: PathBuf,

    /// Which stdlib modules to embed.
    pub stdlib: Stdlib,
    /// `--include-module` (the project's first).
    pub include_modules: Vec<String>,
    /// `--include-package` (the project's first).
    pub include_packages: Vec<String>,
    /// `--no-cython` patterns.
    pub no_cython: Vec<String>,
    pub force_cython: Vec<String>,
    pub compile_deps: bool,
    /// `--add-data` specs (`SRC:DEST`).
    pub add_data: Vec<String>,
    /// The arguments of a run under the toolchain's python3 whose imports are embedded, if asked.
    pub traced_run: Option<Vec<String>>,

    /// `--requirements`.
    pub requirements: Option<PathBuf>,
    /// `--site-packages`.
    pub site_packages: Option<PathBuf>,
    /// Packages built from source without their C code (`--no-native`).
    pub no_native: Vec<String>,
    /// Packages whose extension modules are built from source rather than loaded from their
    /// musllinux wheels (`--from-source`; `:all:` for every one).
    pub from_source: Vec<String>,

    /// Whether the stdlib modules' sources are embedded.
    pub stdlib_sources: bool,
    /// `--ca-bundle`.
    pub ca_bundle: Option<PathBuf>,
    /// `--ca-bundle-always`.
    pub ca_bundle_always: bool,
    pub python_cli: bool,
    pub malloc: Malloc,
    /// Where to copy the SBOM too (`--sbom`).
    pub sbom: Option<PathBuf>,
    pub link: LinkOptions,
}

/// How the binary is linked and finished.
pub struct LinkOptions {
    /// A static PIE (else a fixed address).
    pub pie: bool,
    pub strip: bool,
    pub upx: bool,
    /// Where to write the linker's map, if asked.
    pub link_map: Option<PathBuf>,
}

impl Plan {
    /// The build's work directory.
    pub fn dir(&self) -> &Path {
        self.work.path()
    }

    /// Where objects of earlier builds are kept ([`crate::build::objcache`]).
    pub fn objects_cache(&self) -> PathBuf {
        self.home.root().join("objects")
    }

    /// How packages with extension modules are built: with the toolchain, from the pinned
    /// libraries in `home`, cached under `$PYELF_HOME/native`, dated the target's epoch.
    pub fn native(&self) -> deps::Native<'_> {
        deps::Native {
            builder: native::Builder {
                tc: &self.tc,
                home: self.home.clone(),
                cache: self.home.root().join("native"),
                logs: self.logs.clone(),
                source_date_epoch: self.epoch,
            },
            no_native: self.no_native.clone(),
            from_source: self.from_source.clone(),
        }
    }
}

/// Settles what `opts` asks for and makes ready what every build needs (the toolchain first, if
/// it is missing).
pub fn make(home: &Home, opts: &BuildOptions) -> Result<Plan> {
    let started = Instant::now();
    let app = project::resolve(&opts.script, opts.entry.as_deref())?;
    let opts = match &app.project {
        Some(p) => opts.under_tool_config(&p.tool, &p.dir),
        None => opts.clone(),
    };
    let stdlib = opts.stdlib.unwrap_or(Stdlib::Auto);
    let pins = Pins::builtin();
    let epoch = pins.target(opts.target())?.effective_source_date_epoch();
    let output = match &opts.output {
        Some(o) => o.clone(),
        None => PathBuf::from("target/pyelf").join(opts.target()).join(&app.name),
    };
    let tc = toolchain::ensure(home, &pins, opts.target(), &opts.toolchain()?)
        .context("the toolchain is needed to build the app and could not be built")?;
    let cy = CythonPin::builtin();
    let cython = cython::ensure(home, &cy)?;

    let work_root = home.root().join("work");
    fs::create_dir_all(&work_root)?;
    // Work directories of builds that were killed are removed; those of running builds are not.
    crate::stale::sweep(&work_root, "build-")?;
    let work = OwnedDir::new_in(&work_root, "build-")?;
    // Logs of the steps that write one outlive the work directory, so that a failure can point to
    // them.
    let logs = home.root().join("logs").join(format!("app-{}", app.name));
    fs::create_dir_all(&logs)?;

    Ok(Plan {
        work,
        started,
        home: home.clone(),
        app,
        pins,
        epoch,
        output,
        tc,
        cy,
        cython,
        logs,
        stdlib,
        include_modules: opts.include_modules.clone(),
        include_packages: opts.include_packages.clone(),
        no_cython: opts.no_cython.clone(),
        force_cython: opts.force_cython.clone(),
        compile_deps: opts.compile_deps,
        add_data: opts.add_data.clone(),
        traced_run: opts.traced_run().map(<[String]>::to_vec),
        requirements: opts.requirements.clone(),
        site_packages: opts.site_packages.clone(),
        no_native: opts.no_native.clone(),
        from_source: opts.from_source.clone(),
        stdlib_sources: opts.stdlib_sources,
        ca_bundle: opts.ca_bundle.clone(),
        ca_bundle_always: opts.ca_bundle_always,
        python_cli: opts.python_cli,
        malloc: opts.malloc.unwrap_or_default(),
        sbom: opts.sbom.clone(),
        link: LinkOptions { pie: opts.pie, strip: opts.strip, upx: opts.upx, link_map: opts.link_map.clone() },
    })
}
