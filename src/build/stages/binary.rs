//! The linked binary: the generated sources compiled, everything archived and linked with the
//! toolchain into one static ELF (checked static, stripped and packed as asked), then installed at
//! the output path (written aside, renamed when done).

use super::bundle::Bundle;
use super::compile::CompiledApp;
use super::plan::{LinkOptions, Plan};
use crate::build::{link, objects};
use crate::toolchain::Toolchain;
use anyhow::{bail, Context, Result};
use fs_err as fs;
use std::path::{Path, PathBuf};

/// A built binary.
#[derive(Debug, Clone)]
pub struct Built {
    pub path: PathBuf,
    pub size: u64,
    pub sha256: String,
    pub frozen_modules: usize,
    /// The app's (and dependencies') modules compiled by Cython.
    pub app_modules: usize,
    /// Built-in C modules linked in.
    pub c_modules: usize,
    /// The libraries in the binary: (name, version, licence).
    pub linked: Vec<(String, String, String)>,
    /// The final link's map, when one was asked for (see [`crate::build::sizes::breakdown`]).
    pub link_map: Option<PathBuf>,
    pub seconds: f64,
}

/// Links the app and installs it at the output path.
pub fn link_and_install(plan: &Plan, compiled: &CompiledApp, bundle: Bundle) -> Result<Built> {
    let (tc, dir, output) = (&plan.tc, plan.dir(), &plan.output);
    let linked_exe = dir.join("app");
    let cache = plan.objects_cache();
    compile_and_link(
        tc,
        dir,
        &cache,
        &bundle.sources,
        bundle.objects,
        &plan.link,
        bundle.cxx,
        &linked_exe,
        &plan.logs,
    )?;
    install_output(&linked_exe, output)?;
    let size = fs::metadata(output)?.len();
    let sha256 = crate::toolchain::fetch::sha256_file(output)?;
    Ok(Built {
        path: output.clone(),
        size,
        sha256,
        frozen_modules: bundle.frozen_modules,
        c_modules: bundle.c_modules,
        app_modules: compiled.cython_names.len(),
        linked: bundle.linked,
        link_map: plan.link.link_map.clone(),
        seconds: plan.started.elapsed().as_secs_f64(),
    })
}

/// Compiles `sources`, links them with `objects` with the toolchain into `exe`, checks it is static, and strips
/// and packs it as asked.
#[allow(clippy::too_many_arguments)]
fn compile_and_link(
    tc: &Toolchain,
    dir: &Path,
    cache: &Path,
    sources: &[PathBuf],
    mut objects: Vec<PathBuf>,
    options: &LinkOptions,
    cxx: bool,
    exe: &Path,
    logs: &Path,
) -> Result<()> {
    for result in objects::compile_each(tc, dir, sources, logs, Some(cache))? {
        objects.push(result.map_err(|r| r.error("the app's generated C"))?);
    }
    let archive = dir.join("obj/libpyelfapp.a");
    objects::archive(tc, &objects, &archive)?;
    link::link_static(tc, &archive, exe, &logs.join("link.log"), options.pie, cxx, options.link_map.as_deref())?;
    crate::elf::check_static(exe, tc.target.elf_machine)?;
    // Before strip, which takes the symbols that say where OpenSSL's data is.
    let deferred = crate::build::lazyreloc::defer(exe)?;
    fs::write(logs.join("relocations.log"), format!("{deferred}\n"))?;
    if let crate::build::lazyreloc::Outcome::Kept(why) = &deferred {
        crate::report::note_once(&format!("OpenSSL's data is relocated at every start: {why}"));
    }
    if options.strip {
        link::strip(tc, exe)?;
    }
    if options.upx {
        upx(exe)?;
    }
    Ok(())
}

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
    crate::toolchain::compiler::set_executable(partial.path())?;
    partial.persist(output).map_err(|e| e.error).with_context(|| format!("cannot write {}", output.display()))?;
    Ok(())
}

fn upx(path: &Path) -> Result<()> {
    let status = std::process::Command::new("upx").args(["-q", "--best"]).arg(path).status();
    match status {
        Ok(s) if s.success() => {
            crate::report::warn("upx makes the file smaller but every start slower (it unpacks itself into memory)");
            Ok(())
        }
        Ok(s) => bail!("upx failed ({s})"),
        Err(_) => bail!("--upx needs the upx program, which is not installed\nhint: apt-get install upx-ucl, or build without --upx"),
    }
}
