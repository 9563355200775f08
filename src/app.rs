//! Building an app: the script compiled by Cython, the launcher and the frozen stdlib, linked with
//! the toolchain into one static ELF at the output path (written aside, renamed when done).

use crate::cython::{self, CythonPin};
use crate::freeze::{self, Stdlib};
use crate::home::Home;
use crate::launcher;
use crate::link;
use crate::pins::Pins;
use crate::toolchain::{self, Toolchain};
use anyhow::{bail, Context, Result};
use fs_err as fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The app module's name inside the binary: fixed, so that a script called `json.py` does not
/// shadow the stdlib's json.
pub const APP_MODULE: &str = "_pyelf_main";

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
    pub upx: bool,
    pub toolchain: toolchain::Options,
}

/// A built binary.
#[derive(Debug, Clone)]
pub struct Built {
    pub path: PathBuf,
    pub size: u64,
    pub sha256: String,
    pub frozen_modules: usize,
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
    let cython = cython::ensure(home, &CythonPin::builtin())?;

    let work_root = home.root().join("work");
    fs::create_dir_all(&work_root)?;
    let work = tempfile::Builder::new().prefix("build-").tempdir_in(&work_root)?;
    let dir = work.path();

    let app_c = dir.join("app.c");
    cython::compile(&tc, &cython, &script, APP_MODULE, &app_c)?;
    let frozen = freeze::freeze(&tc, &script, dir, &opts.include_modules, &opts.include_packages, opts.stdlib)?;
    let launcher_c = launcher::write(dir, &stem, APP_MODULE)?;
    let archive = compile_app(&tc, dir, &[app_c, launcher_c, frozen.table_c.clone(), frozen.blob_s.clone()])?;

    // Link next to the output and rename into place: OUT is never a partial file.
    let out_dir = output.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    fs::create_dir_all(out_dir)?;
    let partial = tempfile::Builder::new().prefix(".pyelf-partial-").tempfile_in(out_dir)?.into_temp_path();
    link::link_static(&tc, &archive, &partial, &dir.join("link.log"))?;
    crate::elf::check_static(&partial)?;
    if opts.strip {
        link::strip(&partial)?;
    }
    if opts.upx {
        upx(&partial)?;
    }
    crate::compiler::set_executable(&partial)?;
    partial.persist(&output).map_err(|e| e.error).with_context(|| format!("cannot write {}", output.display()))?;
    let size = fs::metadata(&output)?.len();
    let sha256 = crate::fetch::sha256_file(&output)?;
    Ok(Built { path: output, size, sha256, frozen_modules: frozen.names.len(), seconds: started.elapsed().as_secs_f64() })
}

/// Compiles the app's C and assembly with the musl wrapper into `libpyelfapp.a`.
fn compile_app(tc: &Toolchain, dir: &Path, files: &[PathBuf]) -> Result<PathBuf> {
    let mut b = cc::Build::new();
    b.compiler(tc.cc())
        .archiver("ar")
        .target(&tc.target.triple)
        .host(&tc.target.triple)
        .opt_level(2)
        .debug(false)
        .pic(true)
        .warnings(false)
        .cargo_metadata(false)
        .cargo_warnings(false)
        .out_dir(dir.join("obj"))
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
