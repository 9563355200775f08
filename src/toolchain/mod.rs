//! A finished toolchain: musl, the C libraries and a static CPython for one target, cached under
//! `$PYELF_HOME/toolchains/<triple>-<key>`.
//!
//! The key is a hash of the pins, the target, the recipes, the compiler wrapper and the host
//! compiler, so any change rebuilds. A toolchain is assembled in `.<name>.partial` and renamed into
//! place only when every step and check passed; a lock keeps two builds from colliding. Each
//! completed step leaves a stamp, so a build that was killed or failed resumes at the step it
//! stopped in (which is done again from a fresh source tree).

pub mod compiler;
pub mod export;
pub mod fetch;
pub mod gcda;
pub mod lto;
pub mod manifest;
pub mod pins;
pub mod profile;
pub mod recipes;
pub mod relocate;
pub mod stdlib;
pub mod unpack;

use crate::home::Home;
use crate::steplog::Step;
use crate::toolchain::pins::{Pins, Target, SOURCES_TOML, TARGET_TOMLS};
use crate::toolchain::profile::{Profile, Profiles};
use anyhow::{bail, Context, Result};
use compiler::HostCompiler;
use fetch::Fetcher;
use fs_err as fs;
use manifest::Manifest;
use recipes::{Ctx, RECIPES};
use sha2::{Digest, Sha256};
use std::fs::TryLockError;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// Bump to rebuild every toolchain when the layout changes.
const LAYOUT_VERSION: &str = "pyelf-toolchain-2";

/// The file written last into a complete toolchain.
const MANIFEST: &str = manifest::FILE;

/// A finished toolchain.
#[derive(Debug, Clone)]
pub struct Toolchain {
    pub root: PathBuf,
    pub target: Target,
    /// The profile it is built in.
    pub profile: Profile,
    /// The python3 that runs on this machine for the build's own work (analysis, freezing,
    /// Cython, pip): the toolchain's own, or, for a target of another architecture, the build
    /// machine's toolchain's of the same CPython pin.
    pub build_python: PathBuf,
}

impl Toolchain {
    /// The static interpreter (the target's: run it through [`Toolchain::command`]).
    pub fn python(&self) -> PathBuf {
        self.root.join("bin/python3")
    }

    /// A command that runs the target's program `program` here, through the runner if any.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        self.target.command(program)
    }

    /// A binutils program for the target (`strip`, `objcopy`, `ar`).
    pub fn tool(&self, name: &str) -> String {
        self.target.tool(name)
    }

    /// Whether the target is of another architecture than this machine.
    pub fn is_cross(&self) -> bool {
        !self.target.is_native()
    }

    /// The musl compiler wrapper.
    pub fn cc(&self) -> PathBuf {
        compiler::wrapper_path(&self.root, &self.target.musl_triple)
    }

    /// The stdlib's directory.
    pub fn stdlib(&self) -> PathBuf {
        self.root.join("lib/python3.13")
    }

    /// The name of the stdlib's `_sysconfigdata` module (the target's configuration: its
    /// `EXT_SUFFIX`, compiler and paths), which a python of the build machine is told to use when
    /// it works for another architecture.
    pub fn sysconfigdata(&self) -> Result<String> {
        let stdlib = self.stdlib();
        let mut found: Vec<String> = fs::read_dir(&stdlib)?
            .flatten()
            .map(|e| e.file_name().to_string_lossy().to_string())
            .filter_map(|n| n.strip_prefix("_sysconfigdata_").and_then(|r| r.strip_suffix(".py")).map(String::from))
            .map(|rest| format!("_sysconfigdata_{rest}"))
            .collect();
        found.sort();
        match found.as_slice() {
            [one] => Ok(one.clone()),
            _ => bail!("{} should hold one _sysconfigdata module, not {found:?}", stdlib.display()),
        }
    }

    /// What the toolchain records of itself (`toolchain.toml`).
    pub fn manifest(&self) -> Result<Manifest> {
        Manifest::read(&self.root)
    }

    /// `sys.builtin_module_names`, as recorded after the build.
    pub fn builtin_modules(&self) -> Result<Vec<String>> {
        Ok(self.manifest()?.builtin_modules)
    }
}

/// How to build.
#[derive(Debug, Clone)]
pub struct Options {
    pub jobs: usize,
    /// The profile (`toolchains/profiles.toml`).
    pub profile: Profile,
}

impl Options {
    /// The defaults, with `jobs` parallel jobs and the profile called `profile` if given.
    pub fn new(jobs: Option<usize>, profile: Option<&str>) -> Result<Options> {
        let mut opts = Options::default();
        if let Some(j) = jobs {
            opts.jobs = j.max(1);
        }
        opts.profile = Profiles::builtin().get(profile)?.clone();
        Ok(opts)
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            jobs: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2),
            profile: Profiles::builtin().get(None).expect("the default profile exists").clone(),
        }
    }
}

/// The cache key of a target's toolchain in a profile: a hash of [`key_parts`].
pub fn key(target: &Target, host: &HostCompiler, profile: &Profile) -> String {
    hash_parts(&key_parts(target, host, profile))
}

/// A toolchain's name, its directory under `$PYELF_HOME/toolchains`: `<triple>-<key>` in the
/// default profile, `<triple>-<profile>-<key>` in the others.
pub fn name(target: &Target, host: &HostCompiler, profile: &Profile) -> String {
    let key = key(target, host, profile);
    if profile.is_default() {
        format!("{}-{key}", target.triple)
    } else {
        format!("{}-{}-{key}", target.triple, profile.name)
    }
}

/// Whether the target's current toolchain in `profile` is built (its manifest written last is there).
pub fn is_built(home: &Home, target: &Target, profile: &Profile) -> Result<bool> {
    let host = HostCompiler::for_target(target)?;
    Ok(home.toolchains().join(name(target, &host, profile)).join(MANIFEST).is_file())
}

/// Everything a toolchain's content depends on, labelled.
pub fn key_parts(target: &Target, host: &HostCompiler, profile: &Profile) -> Vec<(String, String)> {
    let mut parts = vec![
        ("layout".to_string(), LAYOUT_VERSION.to_string()),
        ("manifest".to_string(), manifest::FORMAT.to_string()),
        ("sources".to_string(), SOURCES_TOML.to_string()),
        (format!("profile {}", profile.name), profile.key_text()),
    ];
    for (name, text) in TARGET_TOMLS.iter().filter(|(n, _)| *n == target.triple) {
        parts.push((format!("target {name}"), text.to_string()));
    }
    // What the recipes and the compiler wrapper do, not how their source is laid out or
    // commented: formatting the code or editing a comment does not rebuild toolchains.
    for r in RECIPES {
        parts.push((format!("recipe {}", r.source), recipes::behaviour(r.text)));
    }
    parts.push(("recipes".into(), recipes::behaviour(include_str!("recipes/mod.rs"))));
    parts.push(("compiler".into(), recipes::behaviour(include_str!("compiler.rs"))));
    // libpython's link-time optimisation, and the symbols apps wrap, which it leaves out: only
    // where the profile optimises libpython so.
    if profile.libpython_lto {
        parts.push(("lto".into(), recipes::behaviour(include_str!("lto.rs"))));
        parts.push(("wrapped".into(), format!("{:?}", crate::runtime::WRAPPED)));
    }
    // How the manifest's digest of the PGO counts is taken: toolchains compare it.
    parts.push(("pgo counts".into(), recipes::behaviour(include_str!("gcda.rs"))));
    parts.push(("host-cc".into(), host.version.clone()));
    parts.push(("kernel-headers".into(), host.kernel_headers_version()));
    parts.push(("source-date-epoch".into(), target.effective_source_date_epoch().to_string()));
    parts
}

/// A short hex digest of labelled parts (lengths included, so parts cannot run into each other).
pub fn hash_parts(parts: &[(String, String)]) -> String {
    let mut h = Sha256::new();
    for (label, text) in parts {
        crate::fsutil::framed(&mut h, label.as_bytes());
        crate::fsutil::framed(&mut h, text.as_bytes());
    }
    hex::encode(h.finalize())[..16].to_string()
}

/// Takes an exclusive lock on `path`, waiting (and saying so) while another process holds it.
pub fn lock_exclusive(path: &Path, what: &str) -> Result<std::fs::File> {
    let file = fs::File::create(path)?.into_parts().0;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            crate::say!("waiting for another pyelf {what} (lock: {})", path.display());
            file.lock().with_context(|| format!("cannot lock {}", path.display()))?;
        }
        Err(TryLockError::Error(e)) => return Err(e).context(format!("cannot lock {}", path.display())),
    }
    Ok(file)
}

/// Lets the programs we start inherit `lock`: if pyelf is killed, the lock stays held until the
/// last of its children (a `make` still writing into the build) has exited too.
fn inherit_lock(lock: &std::fs::File) -> Result<()> {
    use std::os::fd::AsRawFd;
    let fd = lock.as_raw_fd();
    // SAFETY: fcntl on a descriptor we own; only its close-on-exec flag changes.
    let ok = unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFD);
        flags >= 0 && libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC) >= 0
    };
    anyhow::ensure!(ok, "cannot share the toolchain lock with build commands: {}", std::io::Error::last_os_error());
    Ok(())
}

/// The target of this machine's architecture, whose toolchain is the build machine's for
/// every other target.
pub fn build_target(pins: &Pins) -> Result<&Target> {
    pins.targets.iter().find(|t| t.is_native()).ok_or_else(|| {
        anyhow::anyhow!(
            "no target under toolchains/targets/ is of this machine's architecture ({}), so there is no python3 to build with",
            std::env::consts::ARCH
        )
    })
}

/// The build machine's python3 for a cross build: `PYELF_BUILD_PYTHON` if set (it must be the
/// pinned CPython version), else the python3 of this machine's toolchain (built first if needed).
/// Also returns that toolchain's root, if it is one.
fn build_python(home: &Home, pins: &Pins, opts: &Options) -> Result<(PathBuf, Option<PathBuf>)> {
    let version = &pins.source("cpython")?.version;
    if let Some(p) = std::env::var_os("PYELF_BUILD_PYTHON") {
        let python = PathBuf::from(p);
        let out = Command::new(&python)
            .args(["-c", "import platform; print(platform.python_version())"])
            .output()
            .with_context(|| format!("cannot run PYELF_BUILD_PYTHON={}", python.display()))?;
        let got = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if &got != version {
            bail!(
                "PYELF_BUILD_PYTHON={} is Python {got:?}, not the pinned {version}: CPython's cross build needs the same release\nhint: unset PYELF_BUILD_PYTHON to use this machine's toolchain",
                python.display()
            );
        }
        let root = python.parent().and_then(Path::parent).filter(|r| r.join(MANIFEST).is_file()).map(Path::to_path_buf);
        return Ok((python, root));
    }
    // Its python3 only runs CPython's build scripts: the default profile's does.
    let opts = Options { profile: Profiles::builtin().get(None)?.clone(), ..opts.clone() };
    let native = build_target(pins)?;
    if !is_built(home, native, &opts.profile)? {
        crate::say!("the build machine's toolchain ({}) comes first: its python3 builds for the target", native.triple);
    }
    let tc = ensure(home, pins, &native.triple, &opts)?;
    Ok((tc.python(), Some(tc.root)))
}

/// Returns the target's toolchain, building it first if it is missing.
pub fn ensure(home: &Home, pins: &Pins, triple: &str, opts: &Options) -> Result<Toolchain> {
    let target = pins.target(triple)?.clone();
    let host = HostCompiler::for_target(&target)?;
    let name = name(&target, &host, &opts.profile);
    let dir = home.toolchains();
    let root = dir.join(&name);
    let (build_python, build_root) =
        if host.is_cross() { build_python(home, pins, opts)? } else { (root.join("bin/python3"), None) };
    let toolchain = Toolchain {
        root: root.clone(),
        target: target.clone(),
        profile: opts.profile.clone(),
        build_python: build_python.clone(),
    };
    if root.join(MANIFEST).is_file() {
        return Ok(toolchain);
    }

    if dir.to_string_lossy().chars().any(|c| c.is_whitespace() || c == '$' || c == '#' || c == ':') {
        bail!(
            "cannot build a toolchain in {}: make and configure scripts break on paths with spaces, '$', '#' or ':'.\nhint: set PYELF_HOME to a path without them (e.g. PYELF_HOME=/var/tmp/pyelf)",
            dir.display()
        );
    }
    fs::create_dir_all(&dir).with_context(|| format!("cannot create {}; is PYELF_HOME writable?", dir.display()))?;
    let lock_path = dir.join(format!(".{name}.lock"));
    let lock = lock_exclusive(&lock_path, "building this toolchain")?;
    // Someone else may have finished it while we waited.
    if root.join(MANIFEST).is_file() {
        return Ok(toolchain);
    }
    // Not ours to trust: no manifest means it never completed.
    crate::fsutil::remove_dir_if_present(&root)?;
    inherit_lock(&lock)?;
    let cross = host.is_cross().then_some(Cross { python: build_python.as_path(), root: build_root.as_deref() });
    build(home, pins, &target, &host, &name, &root, opts, cross)?;
    Ok(toolchain)
}

/// The seconds a finished toolchain's build steps took, as its manifest records them.
pub fn recorded_seconds(root: &Path) -> Result<f64> {
    Ok(Manifest::read(root)?.seconds())
}

/// What `pyelf targets` says of one target.
#[derive(Debug, Clone)]
pub struct TargetStatus {
    pub triple: String,
    /// How this machine builds for it: `native` or `cross (<prefix>gcc, run with <runner>)`.
    pub how: String,
    /// The current toolchain's name (`<triple>-<key>`), when this machine can build it.
    pub name: Option<String>,
    /// The current toolchain's directory when it is built.
    pub built: Option<PathBuf>,
    /// Why it cannot be built here (missing cross tools), if so.
    pub problem: Option<String>,
    /// Toolchains of the target built with other pins, recipes or compilers (stale).
    pub stale: usize,
}

/// Every known target, whether its toolchain is built and whether this machine can build it.
pub fn statuses(home: &Home, pins: &Pins) -> Vec<TargetStatus> {
    let dir = home.toolchains();
    let existing: Vec<String> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.path().join(MANIFEST).is_file())
                .map(|e| e.file_name().to_string_lossy().to_string())
                .collect()
        })
        .unwrap_or_default();
    pins.targets
        .iter()
        .map(|t| {
            let how = if t.is_native() {
                "native".to_string()
            } else {
                format!("cross ({}gcc, run with {})", t.cross.prefix, t.cross.runner.join(" "))
            };
            let ours: Vec<&String> = existing
                .iter()
                .filter(|n| n.strip_prefix(&t.triple).is_some_and(|k| k.starts_with('-') && !k[1..].contains('-')))
                .collect();
            match HostCompiler::for_target(t) {
                Ok(host) => {
                    let name = name(t, &host, Profiles::builtin().get(None).expect("the default profile exists"));
                    let built = ours.iter().any(|n| **n == name).then(|| dir.join(&name));
                    let stale = ours.len() - usize::from(built.is_some());
                    TargetStatus { triple: t.triple.clone(), how, name: Some(name), built, problem: None, stale }
                }
                Err(e) => TargetStatus {
                    triple: t.triple.clone(),
                    how,
                    name: None,
                    built: None,
                    problem: Some(format!("{e:#}")),
                    stale: ours.len(),
                },
            }
        })
        .collect()
}

/// Where a toolchain is assembled (kept if a build is interrupted, and resumed by the next one).
fn partial_dir(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!(".{name}.partial"))
}

/// The stamp of a step completed in a partial toolchain (holds the step's seconds).
fn stamp(partial: &Path, step: &str) -> PathBuf {
    partial.join(".pyelf-steps").join(step)
}

/// What a cross build has of the build machine.
struct Cross<'a> {
    python: &'a Path,
    /// The build machine's toolchain, whose module list the target's must equal.
    root: Option<&'a Path>,
}

/// Builds the toolchain `name` into its partial directory, resuming after the last completed step
/// of an interrupted build, and renames it to `root` once every step and the check passed.
#[allow(clippy::too_many_arguments)]
fn build(
    home: &Home,
    pins: &Pins,
    target: &Target,
    host: &HostCompiler,
    name: &str,
    root: &Path,
    opts: &Options,
    cross: Option<Cross>,
) -> Result<()> {
    let started = Instant::now();
    let dir = root.parent().expect("toolchains directory");
    remove_leftovers(dir, name)?;
    let tmp = partial_dir(dir, name);
    let work = dir.join(format!(".{name}.work"));
    let logs = home.root().join("logs").join(name);
    let resuming = tmp.join(".pyelf-steps").is_dir();
    crate::fsutil::remove_dir_if_present(&work)?;
    if !resuming {
        for d in [&tmp, &logs] {
            crate::fsutil::remove_dir_if_present(d)?;
        }
    }
    fs::create_dir_all(tmp.join(".pyelf-steps"))?;
    fs::create_dir_all(&work)?;
    // The date compilers and build scripts write into what they make (see Target::source_date_epoch),
    // given to each command of the steps.
    let epoch = target.effective_source_date_epoch().to_string();
    crate::say!(
        "building toolchain {name} ({} profile: {}; {} jobs); logs in {}",
        opts.profile.name,
        opts.profile.about,
        opts.jobs,
        logs.display()
    );

    let sources = pins.sources_for(target)?;
    let total = sources.len() + 2;
    let t = Instant::now();
    let fetched = fetch::fetch_all(&Fetcher::from_env(home), &sources)?;
    crate::say!("[1/{total}] fetch {:>37.1}s", t.elapsed().as_secs_f64());

    let mut times = Vec::new();
    for (i, src) in fetched.iter().enumerate() {
        let label = format!("{} {}", src.name, src.version);
        let done = stamp(&tmp, &src.name);
        if let Ok(secs) = fs::read_to_string(&done) {
            crate::say!("[{}/{total}] {label:<30} done by an interrupted build; kept", i + 2);
            times.push((src.name.clone(), secs.trim().parse().unwrap_or(0.0)));
            continue;
        }
        let t = Instant::now();
        let activity = crate::progress::Activity::start(&format!("[{}/{total}] {label}", i + 2));
        let step =
            Step::start(&src.name, logs.join(format!("{}.log", src.name)))?.with_env("SOURCE_DATE_EPOCH", &epoch);
        step.note(&format!("{label} from {} ({})", src.origin, src.artifact.sha256))?;
        let unpack_dir = work.join(&src.name);
        let tree = crate::toolchain::unpack::unpack_source(src, &unpack_dir)?;
        let ctx = Ctx {
            root: &tmp,
            final_root: root,
            src: tree,
            version: src.version.clone(),
            work: work.join(format!("{}-work", src.name)),
            step: &step,
            jobs: opts.jobs,
            target,
            host,
            build_python: cross.as_ref().map(|c| c.python),
            profile: &opts.profile,
        };
        fs::create_dir_all(&ctx.work)?;
        (recipes::recipe(&src.name)?.build)(&ctx).with_context(|| format!("building {label} failed"))?;
        // Source trees are large (CPython's is ~500 MB built): drop each when done.
        fs::remove_dir_all(&unpack_dir)?;
        drop(activity);
        let secs = t.elapsed().as_secs_f64();
        write_atomically(&done, format!("{secs:.1}\n").as_bytes())?;
        crate::say!("[{}/{total}] {label:<30} {secs:>8.1}s", i + 2);
        times.push((src.name.clone(), secs));
    }

    let t = Instant::now();
    let step = Step::start("check", logs.join("check.log"))?.with_env("SOURCE_DATE_EPOCH", &epoch);
    let (builtin_modules, summary) = check(&tmp, &step, target, cross.as_ref())?;
    crate::say!("[{total}/{total}] check {:>37.1}s", t.elapsed().as_secs_f64());

    let part = manifest::CpythonPart::read(&tmp)?;
    let manifest = Manifest {
        format: manifest::FORMAT,
        name: name.to_string(),
        target: target.triple.clone(),
        profile: opts.profile.name.clone(),
        host_cc: host.version.clone(),
        source_date_epoch: target.effective_source_date_epoch(),
        build_python: cross.as_ref().map(|c| c.python.to_path_buf()),
        builtin_modules,
        link: part.link,
        modules: part.modules,
        pgo_profile: part.pgo_profile,
        source: fetched
            .iter()
            .map(|f| manifest::SourceRecord {
                name: f.name.clone(),
                version: f.version.clone(),
                sha256: f.artifact.sha256.clone(),
                file: f.artifact.file.clone(),
            })
            .collect(),
        step: times
            .iter()
            .map(|(name, seconds)| manifest::StepRecord { name: name.clone(), seconds: *seconds })
            .collect(),
    };
    copy_logs(&logs, &tmp.join("logs"))?;
    name_the_final_place(&tmp, root)?;
    fs::remove_dir_all(tmp.join(".pyelf-steps"))?;
    manifest::CpythonPart::remove_all(&tmp)?;
    fs::write(tmp.join(MANIFEST), manifest.to_toml()?)?;
    fs::rename(&tmp, root)?;
    fs::remove_dir_all(&work)?;
    crate::say!("{summary}");
    crate::say!("toolchain ready in {:.0}s: {}", started.elapsed().as_secs_f64(), root.display());
    Ok(())
}

/// Makes the text files the builds installed name the toolchain's real place instead of the
/// directory it is assembled in (`prefix=` of pkg-config files, libtool archives' `libdir`,
/// `ncursesw6-config`). Its logs keep what happened; compiled files (objects, archives, bytecode)
/// are left alone: their debug paths are mapped elsewhere and bytecode's names are fixed on load.
/// Returns how many files were changed.
pub fn name_the_final_place(tmp: &Path, root: &Path) -> Result<usize> {
    Ok(rewrite_text_files(tmp, &tmp.to_string_lossy(), &root.to_string_lossy())?.len())
}

/// Replaces the text `from` (a path, or the start of paths) by `to` in every text file under
/// `dir` (UTF-8, no NUL byte) but its logs; compiled files (objects, archives, bytecode) are left
/// alone. Returns the files changed.
pub fn rewrite_text_files(dir: &Path, from: &str, to: &str) -> Result<Vec<PathBuf>> {
    let mut changed = Vec::new();
    for file in crate::fsutil::walk(dir)? {
        let rel = file.strip_prefix(dir).unwrap_or(&file);
        let compiled = file.extension().is_some_and(|x| ["a", "o", "pyc"].iter().any(|c| x == *c));
        if rel.starts_with("logs") || compiled || !fs::symlink_metadata(&file)?.is_file() {
            continue;
        }
        let bytes = fs::read(&file)?;
        let Ok(text) = std::str::from_utf8(&bytes) else { continue };
        if !text.contains('\0') && text.contains(from) {
            fs::write(&file, text.replace(from, to))?;
            changed.push(file);
        }
    }
    Ok(changed)
}

/// Writes `path` by way of a temporary file beside it, so that it is whole or absent.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, bytes)?;
    fs::rename(&tmp, path)?;
    Ok(())
}

/// Removes what interrupted builds left behind that no build will resume: the work directory of
/// every toolchain whose lock nobody holds, the partial directories of other toolchains (another
/// key: their pins or recipes changed) and the temporary directories of earlier pyelf versions.
/// The partial directory of `name` is kept: [`build`] resumes it.
pub(crate) fn remove_leftovers(dir: &Path, name: &str) -> Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let n = entry.file_name().to_string_lossy().to_string();
        let Some(rest) = n.strip_prefix('.') else { continue };
        let owner = [".tmp-", ".work-"]
            .iter()
            .find_map(|sep| rest.split_once(sep).map(|(o, _)| o))
            .or_else(|| rest.strip_suffix(".partial"))
            .or_else(|| rest.strip_suffix(".work"));
        let Some(owner) = owner else { continue };
        if owner == name && rest.ends_with(".partial") {
            continue;
        }
        // Held while deleting, so that no build of that toolchain starts meanwhile.
        let guard = if owner == name {
            None
        } else {
            let lock = dir.join(format!(".{owner}.lock"));
            match std::fs::OpenOptions::new().write(true).create(true).truncate(false).open(&lock) {
                Ok(f) if f.try_lock().is_ok() => Some(f),
                _ => continue,
            }
        };
        fs::remove_dir_all(entry.path())?;
        drop(guard);
    }
    Ok(())
}

/// Checks the assembled toolchain: a static `python3` for the target that starts (through the
/// runner when cross-compiling) and has the required modules built in, the same modules as the
/// build machine's toolchain when there is one. Returns `sys.builtin_module_names` and a summary
/// for the user.
fn check(root: &Path, step: &Step, target: &Target, cross: Option<&Cross>) -> Result<(Vec<String>, String)> {
    let python = root.join("bin/python3");
    let facts = crate::elf::check_static(&python, target.elf_machine).map_err(|e| {
        let _ = step.note(&format!("{e:#}"));
        step.failure("bin/python3 is not a static executable")
    })?;
    step.note(&format!("{}: {facts:?}", python.display()))?;
    let out = target
        .command(&python)
        .args(["-I", "-c", "import sys; print('\\n'.join(sorted(sys.builtin_module_names)))"])
        .output()
        .with_context(|| format!("cannot run {}", python.display()))?;
    step.note(&String::from_utf8_lossy(&out.stderr))?;
    if !out.status.success() {
        return Err(step.failure("the static python3 does not start"));
    }
    let builtin = String::from_utf8_lossy(&out.stdout).to_string();
    let names: Vec<&str> = builtin.lines().collect();
    let required = &crate::toolchain::stdlib::facts().required_modules;
    let missing_required: Vec<&String> = required.iter().filter(|m| !names.contains(&m.as_str())).collect();
    if !missing_required.is_empty() {
        step.note(&format!("missing required modules: {missing_required:?}"))?;
        bail!(step.failure(&format!("required modules are not built in: {missing_required:?}")));
    }
    if let Some(build_root) = cross.and_then(|c| c.root) {
        let theirs = Manifest::read(build_root)?.builtin_modules;
        if theirs != names {
            let only_here: Vec<&&str> = names.iter().filter(|n| !theirs.iter().any(|t| t == **n)).collect();
            let only_there: Vec<&String> = theirs.iter().filter(|t| !names.contains(&t.as_str())).collect();
            bail!(step.failure(&format!(
                "the built-in modules differ from the build machine's toolchain ({}): only here {only_here:?}, only there {only_there:?}",
                build_root.display()
            )));
        }
    }
    let states = manifest::CpythonPart::read(root)?.modules;
    let not_built: Vec<String> =
        states.iter().filter(|(_, s)| s.is_failure()).map(|(m, s)| format!("{m} ({})", s.as_str())).collect();
    let summary = format!(
        "python3: static, {} built-in modules; not built: {}",
        names.len(),
        if not_built.is_empty() { "none".to_string() } else { not_built.join(", ") }
    );
    Ok((names.iter().map(|s| s.to_string()).collect(), summary))
}

fn copy_logs(from: &Path, to: &Path) -> Result<()> {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        fs::copy(entry.path(), to.join(entry.file_name()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host() -> HostCompiler {
        HostCompiler {
            program: "gcc".into(),
            version: "gcc 12".into(),
            multiarch: "x86_64-linux-gnu".into(),
            prefix: String::new(),
            headers: "/usr/include".into(),
        }
    }

    #[test]
    fn installed_text_files_name_the_final_place_and_logs_and_compiled_files_are_kept() {
        let home = tempfile::tempdir().unwrap();
        let tmp = home.path().join(".tc.partial");
        let root = home.path().join("tc");
        let at = |rel: &str, bytes: &[u8]| {
            let p = tmp.join(rel);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(&p, bytes).unwrap();
        };
        let t = tmp.display().to_string();
        at("lib/pkgconfig/libffi.pc", format!("prefix={t}\nlibdir=${{prefix}}/lib\n").as_bytes());
        at("lib/libffi.la", format!("libdir='{t}/lib'\n").as_bytes());
        at("bin/ncursesw6-config", format!("#!/bin/sh\nprefix=\"{t}\"\n").as_bytes());
        at("logs/zlib.log", format!("./configure --prefix={t}\n").as_bytes());
        at("lib/libz.a", format!("!<arch>\n{t}").as_bytes());
        at("bin/python3", format!("\x7fELF\0{t}").as_bytes());
        at("lib/other.txt", b"nothing to change\n");
        std::os::unix::fs::symlink("ncursesw6-config", tmp.join("bin/link-config")).unwrap();
        assert_eq!(name_the_final_place(&tmp, &root).unwrap(), 3);
        let read = |rel: &str| String::from_utf8_lossy(&fs::read(tmp.join(rel)).unwrap()).into_owned();
        let r = root.display().to_string();
        assert_eq!(read("lib/pkgconfig/libffi.pc"), format!("prefix={r}\nlibdir=${{prefix}}/lib\n"));
        assert_eq!(read("lib/libffi.la"), format!("libdir='{r}/lib'\n"));
        assert_eq!(read("bin/ncursesw6-config"), format!("#!/bin/sh\nprefix=\"{r}\"\n"));
        assert!(read("logs/zlib.log").contains(&t), "the logs say where it was built");
        assert!(read("lib/libz.a").contains(&t) && read("bin/python3").contains(&t), "compiled files are kept");
        assert_eq!(name_the_final_place(&tmp, &root).unwrap(), 0, "a second pass (a resumed build) changes nothing");
    }

    #[test]
    fn any_change_to_a_part_changes_the_key() {
        let pins = Pins::builtin();
        let target = pins.target("x86_64-unknown-linux-musl").unwrap();
        let quick = Profiles::builtin().get(Some("quick")).unwrap();
        let parts = key_parts(target, &host(), quick);
        let base = hash_parts(&parts);
        assert_eq!(base, key(target, &host(), quick), "stable");
        for label in
            ["sources", "recipe cpython", "recipe musl", "compiler", "host-cc", "source-date-epoch", "profile quick"]
        {
            let mut changed = parts.clone();
            let p = changed.iter_mut().find(|(l, _)| l == label).unwrap_or_else(|| panic!("no part {label}"));
            p.1.push(' ');
            assert_ne!(hash_parts(&changed), base, "{label}");
        }
        let other = HostCompiler { version: "gcc 13".into(), ..host() };
        assert_ne!(key(target, &other, quick), base);
        let release = Profiles::builtin().get(Some("release")).unwrap();
        assert_ne!(key(target, &host(), release), base, "each profile is a toolchain of its own");
        assert_eq!(name(target, &host(), quick), format!("x86_64-unknown-linux-musl-quick-{base}"));
        assert!(name(target, &host(), release).starts_with("x86_64-unknown-linux-musl-release-"));
        let default = Profiles::builtin().get(None).unwrap();
        let default_key = key(target, &host(), default);
        assert_eq!(name(target, &host(), default), format!("x86_64-unknown-linux-musl-{default_key}"));
        // What the LTO step decides keys the profiles that take it, and only those.
        let labels = |p| key_parts(target, &host(), p).into_iter().map(|(l, _)| l).collect::<Vec<_>>();
        for label in ["lto", "wrapped"] {
            assert!(labels(default).iter().any(|l| l == label), "{label} in the default (pgo) profile's key");
            assert!(!labels(quick).iter().any(|l| l == label), "{label} not in the quick profile's key");
        }
    }

    #[test]
    fn a_second_locker_waits_for_the_first() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("x.lock");
        let first = lock_exclusive(&path, "test").unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let p2 = path.clone();
        let t = std::thread::spawn(move || {
            let _second = lock_exclusive(&p2, "test").unwrap();
            tx.send(()).unwrap();
        });
        assert!(rx.recv_timeout(std::time::Duration::from_millis(300)).is_err(), "second lock must wait");
        drop(first);
        rx.recv_timeout(std::time::Duration::from_secs(5)).expect("second lock taken after release");
        t.join().unwrap();
    }
}
