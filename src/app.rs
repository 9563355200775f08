//! Building an app: the script compiled by Cython, the launcher and the frozen stdlib, linked with
//! the toolchain into one static ELF at the output path (written aside, renamed when done).

use crate::cython::{self, CythonPin};
use crate::freeze::{self, Stdlib};
use crate::home::Home;
use crate::inittab;
use crate::launcher;
use crate::link;
use crate::pins::Pins;
use crate::toolchain::{self, Toolchain};
use anyhow::{bail, Context, Result};
use fs_err as fs;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The app module's name inside the binary: fixed, so that a script called `json.py` does not
/// shadow the stdlib's json.
pub const APP_MODULE: &str = "_pyelf_main";

/// Which pinned sources a built-in C module links in, besides musl and CPython.
const MODULE_LIBRARIES: &[(&str, &str)] = &[
    ("zlib", "zlib"),
    ("binascii", "zlib"),
    ("pyexpat", "expat"),
    ("_elementtree", "expat"),
    ("_ssl", "openssl"),
    ("_hashlib", "openssl"),
    ("_bz2", "bzip2"),
    ("_lzma", "xz"),
    ("_sqlite3", "sqlite"),
    ("_decimal", "mpdecimal"),
    ("_curses", "ncurses"),
    ("_curses_panel", "ncurses"),
    ("_ctypes", "libffi"),
];

/// Copies the finished binary next to `output` and renames it into place: OUT is never a partial
/// file, and one left by a killed build (locked by nobody) is removed by the next.
fn install_output(exe: &Path, output: &Path) -> Result<()> {
    let out_dir = output.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    fs::create_dir_all(out_dir).with_context(|| format!("cannot create {}", out_dir.display()))?;
    crate::stale::sweep(out_dir, ".pyelf-partial-")?;
    let mut partial = tempfile::Builder::new()
        .prefix(".pyelf-partial-")
        .tempfile_in(out_dir)
        .with_context(|| format!("cannot write into {}", out_dir.display()))?;
    crate::stale::hold_file(partial.as_file(), partial.path())?;
    std::io::copy(&mut fs::File::open(exe)?, partial.as_file_mut())
        .and_then(|_| partial.as_file().sync_all())
        .with_context(|| format!("cannot write {}", partial.path().display()))?;
    crate::compiler::set_executable(partial.path())?;
    partial.persist(output).map_err(|e| e.error).with_context(|| format!("cannot write {}", output.display()))?;
    Ok(())
}

/// The sources whose code is in a binary with these C modules: `(name, version, licence)`.
pub fn linked_sources(pins: &Pins, c_modules: &[String]) -> Vec<(String, String, String)> {
    let mut names = vec!["musl", "cpython"];
    for (module, source) in MODULE_LIBRARIES {
        if c_modules.iter().any(|m| m == module) && !names.contains(source) {
            names.push(source);
        }
    }
    names
        .iter()
        .filter_map(|n| pins.source(n).ok())
        .map(|p| (p.name.clone(), p.version.clone(), p.license.clone()))
        .collect()
}

/// What to build.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    pub script: PathBuf,
    pub target: String,
    /// Default: `target/pyelf/<target>/<script stem>`.
    pub output: Option<PathBuf>,
    pub include_modules: Vec<String>,
    pub include_packages: Vec<String>,
    pub stdlib: Stdlib,
    pub strip: bool,
    /// Link a static PIE (ASLR); otherwise a static executable at a fixed address.
    pub pie: bool,
    pub upx: bool,
    /// A PEM CA bundle to embed, used when the host has no trust store.
    pub ca_bundle: Option<PathBuf>,
    /// Use the embedded bundle even when the host has a trust store.
    pub ca_bundle_always: bool,
    /// Also write the SBOM (CycloneDX JSON) to this file.
    pub sbom: Option<PathBuf>,
    pub toolchain: toolchain::Options,
}

/// A built binary.
#[derive(Debug, Clone)]
pub struct Built {
    pub path: PathBuf,
    pub size: u64,
    pub sha256: String,
    pub frozen_modules: usize,
    /// Built-in C modules linked in.
    pub c_modules: usize,
    /// The libraries in the binary: (name, version, licence).
    pub linked: Vec<(String, String, String)>,
    pub seconds: f64,
}

/// Builds the app described by `opts` (and the toolchain first, if it is missing).
pub fn build(home: &Home, opts: &BuildOptions) -> Result<Built> {
    let started = Instant::now();
    let script = &opts.script;
    if !script.is_file() {
        bail!("no such script: {}\nhint: give the path of a Python file, e.g. `cargo xtask build app.py`", script.display());
    }
    let script = fs::canonicalize(script)?;
    let stem = script.file_stem().and_then(|s| s.to_str()).context("the script has no usable file name")?.to_string();
    let pins = Pins::builtin();
    pins.target(&opts.target)?;
    let output = match &opts.output {
        Some(o) => o.clone(),
        None => PathBuf::from("target/pyelf").join(&opts.target).join(&stem),
    };
    let tc = toolchain::ensure(home, &pins, &opts.target, &opts.toolchain)
        .context("the toolchain is needed to build the app and could not be built")?;
    let cy = CythonPin::builtin();
    let cython = cython::ensure(home, &cy)?;

    let work_root = home.root().join("work");
    fs::create_dir_all(&work_root)?;
    // Work directories of builds that were killed are removed; those of running builds are not.
    crate::stale::sweep(&work_root, "build-")?;
    let work = tempfile::Builder::new().prefix("build-").tempdir_in(&work_root)?;
    let _owner = crate::stale::hold_dir(work.path())?;
    let dir = work.path();

    let app_c = dir.join("app.c");
    cython::compile(&tc, &cython, &script, APP_MODULE, &app_c)?;
    let frozen = freeze::freeze(&tc, &script, dir, &opts.include_modules, &opts.include_packages, opts.stdlib)?;
    let (entries, keep) = inittab::load(&tc.root)?;
    let wanted: BTreeSet<String> = match opts.stdlib {
        Stdlib::Full => entries.iter().map(|e| e.name.clone()).collect(),
        Stdlib::Auto => frozen.imports.iter().chain(&opts.include_modules).cloned().collect(),
    };
    let (inittab_src, c_modules) = inittab::generate(&entries, &keep, &wanted);
    let inittab_c = dir.join("inittab.c");
    fs::write(&inittab_c, inittab_src)?;
    let with_ssl = c_modules.iter().any(|m| m == "_ssl");
    if opts.ca_bundle.is_some() && !with_ssl {
        eprintln!("warning: --ca-bundle has no effect: the app does not use ssl");
    }
    let ca = launcher::CaOptions { with_ssl, bundle: opts.ca_bundle.clone(), always: opts.ca_bundle_always };
    let mut sources = launcher::write(dir, &stem, APP_MODULE, &ca)?;
    sources.extend([app_c, frozen.table_c.clone(), frozen.blob_s.clone(), inittab_c]);

    // What is inside, for the SBOM section and the summary.
    let mut linked = linked_sources(&pins, &c_modules);
    linked.push((cy.name.clone(), cy.version.clone(), cy.license.clone()));
    let sbom = sbom_document(&pins, &tc, &cy, &script, &stem, &linked)?;
    let sbom_json = dir.join("sbom.json");
    fs::write(&sbom_json, serde_json::to_string_pretty(&sbom)?)?;
    let sbom_s = dir.join("sbom.S");
    fs::write(&sbom_s, crate::sbom::section_asm(&sbom_json))?;
    sources.push(sbom_s);
    if let Some(path) = &opts.sbom {
        fs::copy(&sbom_json, path).with_context(|| format!("cannot write the SBOM to {}", path.display()))?;
    }

    let archive = compile_app(&tc, dir, &sources)?;

    let linked_exe = dir.join("app");
    link::link_static(&tc, &archive, &linked_exe, &dir.join("link.log"), opts.pie)?;
    crate::elf::check_static(&linked_exe)?;
    if opts.strip {
        link::strip(&linked_exe)?;
    }
    if opts.upx {
        upx(&linked_exe)?;
    }
    install_output(&linked_exe, &output)?;
    let size = fs::metadata(&output)?.len();
    let sha256 = crate::fetch::sha256_file(&output)?;
    Ok(Built {
        path: output,
        size,
        sha256,
        frozen_modules: frozen.names.len(),
        c_modules: c_modules.len(),
        linked,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// The CycloneDX document of an app: the app itself, every library linked in and Cython, each
/// with the sha256 of the source it was built from.
fn sbom_document(
    pins: &Pins,
    tc: &Toolchain,
    cython: &CythonPin,
    script: &Path,
    stem: &str,
    linked: &[(String, String, String)],
) -> Result<serde_json::Value> {
    use crate::sbom::Component;
    let sources = crate::sbom::toolchain_sources(&tc.root)?;
    let mut components = Vec::new();
    for (name, version, license) in linked {
        let (sha256, url) = if name == &cython.name {
            (cython.sha256.clone(), None)
        } else {
            let (_, sha) = sources.get(name).with_context(|| {
                format!("the toolchain's toolchain.toml does not record the source of {name} (rebuild the toolchain)")
            })?;
            let sha = sha.clone();
            (sha, pins.source(name).ok().and_then(|p| p.urls.first().cloned()))
        };
        components.push(Component { name: name.clone(), version: version.clone(), license: license.clone(), sha256, url });
    }
    let app = Component {
        name: stem.to_string(),
        version: "unversioned".into(),
        license: "NOASSERTION".into(),
        sha256: crate::fetch::sha256_file(script)?,
        url: None,
    };
    Ok(crate::sbom::document(&app, &components))
}

/// Compiles the app's C and assembly with the musl wrapper into `libpyelfapp.a`.
fn compile_app(tc: &Toolchain, dir: &Path, files: &[PathBuf]) -> Result<PathBuf> {
    let mut b = crate::compiler::cc_build(&tc.cc(), &tc.target, &dir.join("obj"));
    // No build paths in the binary (assert() and friends record __FILE__).
    b.flag(format!("-ffile-prefix-map={}=.", dir.display()))
        .flag(format!("-ffile-prefix-map={}=/pyelf-toolchain", tc.root.display()))
        .flag("-fstack-protector-strong")
        .include(dir)
        .include(tc.root.join("include/python3.13"))
        .files(files);
    b.try_compile("pyelfapp").map_err(|e| anyhow::anyhow!("compiling the app's C code failed: {e}"))?;
    Ok(dir.join("obj/libpyelfapp.a"))
}

fn upx(path: &Path) -> Result<()> {
    let status = std::process::Command::new("upx").args(["-q", "--best"]).arg(path).status();
    match status {
        Ok(s) if s.success() => {
            eprintln!("warning: upx makes the file smaller but every start slower (it unpacks itself into memory)");
            Ok(())
        }
        Ok(s) => bail!("upx failed ({s})"),
        Err(_) => bail!("--upx needs the upx program, which is not installed\nhint: apt-get install upx-ucl, or build without --upx"),
    }
}
