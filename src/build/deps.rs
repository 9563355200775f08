//! Third-party dependencies: resolved and downloaded with pip (hash-checked when the requirements
//! carry hashes), as pip on Alpine resolves them for CPython 3.13 on the target's architecture. A
//! musllinux wheel is installed as it is: its shared objects are loaded by the binary's own loader
//! ([`crate::build::loadable`]). A package whose only platform wheels are manylinux ones, or that
//! `--from-source` names, is built from its source distribution ([`crate::build::native`]), or,
//! with `--no-native`, from its source without its C code; a manylinux (glibc) wheel is never
//! installed.

use crate::build::pip::{normalize, pip_command, pip_command_as_target, PURE};
use crate::toolchain::pins::Target;
use anyhow::{bail, Context, Result};
use fs_err as fs;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A bundled distribution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dist {
    pub name: String,
    pub version: String,
    pub license: String,
    /// The `*.dist-info` directory.
    pub dist_info: PathBuf,
    /// sha256 of the wheel it was installed from, when pyelf downloaded it.
    pub wheel_sha256: Option<String>,
    /// sha256 of the source distribution its extension modules were built from.
    pub sdist_sha256: Option<String>,
    /// The pinned C libraries linked into its extension modules (`libraries.toml`).
    pub libraries: Vec<String>,
}

/// pip's flags for wheels of CPython 3.13 (any ABI it loads).
const CPYTHON_313: &[&str] = &[
    "--only-binary",
    ":all:",
    "--implementation",
    "cp",
    "--python-version",
    "3.13",
    "--abi",
    "cp313",
    "--abi",
    "abi3",
    "--abi",
    "none",
];

/// Flags that make pip choose wheels as on CPython 3.13 for Linux on the target's architecture:
/// the wheels pyelf built from source first (`linux_<arch>`, a tag no index serves), then the
/// index's platform wheels (which tell pyelf that a normal install has extension modules: every
/// manylinux tag, newest first, as pip on a current glibc system accepts them; pip does not
/// expand a custom `--platform manylinux_2_X` to the older ones), then pure-Python wheels.
fn as_installed(target: &Target) -> Vec<String> {
    let mut flags: Vec<String> = CPYTHON_313.iter().map(|s| s.to_string()).collect();
    for p in target.wheel_platforms() {
        flags.extend(["--platform".to_string(), p]);
    }
    flags
}

/// Flags with which pip installs only what pyelf can bundle: pure-Python wheels, the wheels it
/// built from source (`linux_<arch>`) and the index's musllinux wheels.
fn bundled(target: &Target) -> Vec<String> {
    let mut flags: Vec<String> = CPYTHON_313.iter().map(|s| s.to_string()).collect();
    flags.extend(["--platform".to_string(), format!("linux_{}", target.arch)]);
    for p in &target.wheels.musllinux {
        flags.extend(["--platform".to_string(), p.clone()]);
    }
    flags
}

fn run_pip(python: &str, mut c: Command) -> Result<Output> {
    c.output().with_context(|| {
        format!("cannot run `{python}` with pip: pyelf resolves dependencies with the host's pip (PYELF_HOST_PYTHON picks the python)")
    })
}

/// pip for the binary's dependencies: its markers evaluated as on the target
/// ([`pip_command_as_target`]).
fn pip(target: &Target, args: &[&str], extra: &[&Path]) -> Result<Output> {
    let version = crate::toolchain::pins::Pins::builtin().source("cpython")?.version.clone();
    let (python, c) = pip_command_as_target(&version, &target.arch, args, extra);
    run_pip(&python, c)
}

/// How packages with extension modules are built.
pub struct Native<'a> {
    pub builder: crate::build::native::Builder<'a>,
    /// Packages built from source without their C code (`--no-native`): their pure-Python
    /// fallback.
    pub no_native: Vec<String>,
    /// Packages built from source even when the index has a musllinux wheel of them
    /// (`--from-source`; `:all:` for every one).
    pub from_source: Vec<String>,
}

impl Native<'_> {
    /// Whether `name`'s extension modules are built from its source rather than loaded from its
    /// musllinux wheel.
    fn builds_from_source(&self, name: &str) -> bool {
        self.from_source.iter().any(|n| n == ":all:" || normalize(n) == normalize(name))
            || self.no_native.iter().any(|n| normalize(n) == normalize(name))
    }
}

/// Downloads the wheels of `requirements` (a requirements file) into `wheels` and installs them
/// into `site`, choosing as pip on CPython 3.13 for Linux on the target's architecture does. A requirement whose choice
/// is a platform wheel is built from its source distribution by `native` (its extension modules
/// as objects to link). A requirement with no wheel at all (only a source distribution) is built
/// into a wheel by pip, with `source_date_epoch` as its date, and kept if that wheel is pure
/// Python, else built as the platform wheels are (pip's output in `logs`). Returns the installed
/// distributions.
pub fn install(
    requirements: &Path,
    wheels: &Path,
    site: &Path,
    source_date_epoch: u64,
    logs: &Path,
    native: &Native,
) -> Result<Vec<Dist>> {
    fs::create_dir_all(wheels)?;
    let built = wheels.with_file_name("built-wheels");
    fs::create_dir_all(&built)?;
    let target = &native.builder.tc.target;
    crate::say!("resolving dependencies with pip (as installed on CPython 3.13, {} Linux)", target.arch);
    // (requirement, wheel built, its sha256)
    let mut from_source: Vec<(String, String, String)> = Vec::new();
    // Packages built by pyelf: name -> (wheel, sha256 of the source distribution its extension
    // modules were built from), asked for by file.
    let mut built_here: BTreeMap<String, (PathBuf, Option<String>)> = BTreeMap::new();
    // Where the requirements say packages come from, for the pip runs that look at one of them.
    let sources = index_options(requirements)?;
    let all_requirements = wheels.with_file_name("requirements-with-builds.txt");
    let hashed = has_hashes(requirements)?;
    let rewritten = wheels.with_file_name("requirements-rewritten");
    loop {
        // The user's requirements, and the wheels built here by their files: added, or, when the
        // requirements pin hashes, in place of the packages' own lines (with the built wheels'
        // hashes, as pip's hash-checking mode wants every requirement pinned).
        if hashed && !built_here.is_empty() {
            let _ = fs::remove_dir_all(&rewritten);
            fs::create_dir_all(&rewritten)?;
            let by_name: BTreeMap<String, (PathBuf, String)> = built_here
                .iter()
                .map(|(n, (w, _))| Ok((n.clone(), (w.clone(), crate::toolchain::fetch::sha256_file(w)?))))
                .collect::<Result<_>>()?;
            let top = rewrite_requirements(requirements, &by_name, &rewritten, &mut 0)?;
            fs::write(&all_requirements, format!("-r {}\n", top.display()))?;
        } else {
            let mut lines = vec![format!("-r {}", requirements.display())];
            lines.extend(built_here.iter().map(|(name, (wheel, _))| format!("{name} @ file://{}", wheel.display())));
            fs::write(&all_requirements, lines.join("\n") + "\n")?;
        }
        for old in fs::read_dir(wheels)? {
            fs::remove_file(old?.path())?;
        }
        let flags = as_installed(target);
        let mut args = vec!["download", "--quiet"];
        args.extend(flags.iter().map(String::as_str));
        let got = pip(
            target,
            &args,
            &[Path::new("--find-links"), &built, Path::new("-d"), wheels, Path::new("-r"), &all_requirements],
        )?;
        if got.status.success() {
            // The index's platform wheels built from source: a manylinux wheel (no musllinux
            // one: pip on Alpine would build it too), or a package named by --from-source.
            let platform: Vec<(String, String, PathBuf)> = fs::read_dir(wheels)?
                .flatten()
                .map(|e| e.path())
                .filter_map(|p| {
                    let file = p.file_name()?.to_str()?.to_string();
                    let (name, version) = wheel_name_version(&file)?;
                    let build = is_index_platform_wheel(&file)
                        && (!is_musllinux_wheel(&file) || native.builds_from_source(&name));
                    build.then_some((name, version, p))
                })
                .collect();
            if platform.is_empty() {
                break;
            }
            for (name, version, wheel) in platform {
                if built_here.contains_key(&normalize(&name)) {
                    bail!("pip chose {} again after pyelf built {name} from source", wheel.display());
                }
                let req = with_pinned_hashes(&format!("{name}=={version}"), &pinned_hashes(requirements, &name)?);
                let made = build_native(&name, &req, &wheel, &sources, &built, source_date_epoch, logs, native)?;
                built_here.insert(normalize(&name), made);
            }
            continue;
        }
        let err = String::from_utf8_lossy(&got.stderr).to_string();
        let Some(req) = missing_requirement(&err) else {
            if !from_source.is_empty() && err.contains("DO NOT MATCH THE HASHES") {
                let pins: Vec<String> =
                    from_source.iter().map(|(req, _, sha)| format!("{req} --hash=sha256:{sha}")).collect();
                bail!(
                    "pip built a wheel from source for {}, and it does not match the hashes in the requirements (they pin the source distribution, or a wheel built with other tools).\n{}\nhint: pin the wheel pyelf builds (the same bytes each time, with the same build tools):\n  {}",
                    from_source.iter().map(|(_, wheel, _)| wheel.as_str()).collect::<Vec<_>>().join(", "),
                    err.trim(),
                    pins.join("\n  ")
                );
            }
            if err.contains("ResolutionImpossible") {
                // pip says why only when it is not quiet: ask again, for the lines that name the
                // requirements in conflict.
                let mut args = vec!["download"];
                args.extend(flags.iter().map(String::as_str));
                let again = pip(
                    target,
                    &args,
                    &[Path::new("--find-links"), &built, Path::new("-d"), wheels, Path::new("-r"), &all_requirements],
                )?;
                let said =
                    format!("{}{}", String::from_utf8_lossy(&again.stdout), String::from_utf8_lossy(&again.stderr));
                let causes = conflict_causes(&said);
                let names: Vec<&str> =
                    causes.iter().map(|(_, name)| name.as_str()).collect::<BTreeSet<_>>().into_iter().collect();
                bail!(
                    "pip found no set of wheels for the dependencies{}{}.\nThe conflict, as pip reports it:\n  {}",
                    if names.is_empty() { "" } else { ": " },
                    names.join(", "),
                    causes.iter().map(|(line, _)| line.as_str()).take(12).collect::<Vec<_>>().join("\n  ")
                );
            }
            bail!("pip could not resolve the dependencies:\n{}\nhint: pip must reach a package index (or set PIP_FIND_LINKS / PIP_INDEX_URL)", err.trim());
        };
        if from_source.iter().any(|(r, _, _)| r == &req) {
            bail!("pip could not use the wheel it built for {req}:\n{}", err.trim());
        }
        let one = wheels.with_file_name(format!("requirement-{}.txt", from_source.len()));
        fs::write(&one, sources.iter().chain([&req]).map(|l| format!("{l}\n")).collect::<String>())?;
        match build_from_source(&req, &one, &built, source_date_epoch, logs, false) {
            Ok((wheel, sha)) => from_source.push((req, wheel, sha)),
            Err(NotPure(platform)) => {
                // Its source builds extension modules: built as a platform wheel's package is.
                let name = requirement_name(&req).to_string();
                let version = wheel_name_version(&platform).map(|(_, v)| v).unwrap_or_default();
                let made = build_native(
                    &name,
                    &format!("{name}=={version}"),
                    Path::new(""),
                    &sources,
                    &built,
                    source_date_epoch,
                    logs,
                    native,
                )?;
                built_here.insert(normalize(&name), made);
            }
            Err(Failed(host)) => {
                // pip could not build it on this host (with the host's python and compiler): it
                // may need what only pyelf's build has (a pinned C library); if that fails too,
                // its error is the one that matters.
                let name = requirement_name(&req).to_string();
                crate::say!(
                    "{name}: pip could not build it on this host; building it as its extension modules are built"
                );
                match build_native(&name, &req, Path::new(""), &sources, &built, source_date_epoch, logs, native) {
                    Ok(made) => {
                        built_here.insert(normalize(&name), made);
                    }
                    Err(e) => bail!(
                        "cannot bundle {req}: pip found no wheel of it for Python 3.13, pure or not, and building one from its source distribution failed.\n\n\
                         pip's build on this host: {host:#}\n\npyelf's build (as extension modules are built): {e:#}"
                    ),
                }
            }
        }
    }
    // Requires-Python was checked against 3.13 when the wheels were chosen (`--python-version`):
    // pip's install step would check it again against the host's own python.
    let mut args = vec!["install", "--quiet", "--no-compile", "--ignore-requires-python", "--no-index", "--find-links"];
    let wheels_s = wheels.to_string_lossy().to_string();
    args.push(&wheels_s);
    let bundled = bundled(target);
    args.extend(bundled.iter().map(String::as_str));
    let site_s = site.to_string_lossy().to_string();
    args.extend(["--target", &site_s]);
    let done = pip(target, &args, &[Path::new("-r"), &all_requirements])?;
    if !done.status.success() {
        bail!(
            "pip could not install the dependencies into {}:\n{}",
            site.display(),
            String::from_utf8_lossy(&done.stderr).trim()
        );
    }
    let mut dists = distributions(site)?;
    for d in &mut dists {
        d.wheel_sha256 = wheel_of(wheels, &d.name, &d.version)?;
        if let Some((_, sha)) = built_here.get(&normalize(&d.name)) {
            d.sdist_sha256 = sha.clone();
            if sha.is_some() {
                d.libraries = crate::build::native::libraries_of(&d.name);
            }
            // Installed from a file pyelf built, pip recorded its path: an install from an index
            // has no such record (and the path would make two builds differ).
            forget_direct_url(&d.dist_info)?;
        }
    }
    Ok(dists)
}

/// Removes `direct_url.json` (PEP 610) from an installed distribution and from its RECORD.
fn forget_direct_url(dist_info: &Path) -> Result<()> {
    let file = dist_info.join("direct_url.json");
    if !file.exists() {
        return Ok(());
    }
    fs::remove_file(&file)?;
    let record = dist_info.join("RECORD");
    if let Ok(text) = fs::read_to_string(&record) {
        let kept: String = text
            .lines()
            .filter(|l| !l.split(',').next().unwrap_or("").ends_with("/direct_url.json"))
            .map(|l| format!("{l}\n"))
            .collect();
        fs::write(&record, kept)?;
    }
    Ok(())
}

/// The name and version of a wheel's file name.
fn wheel_name_version(file: &str) -> Option<(String, String)> {
    let mut parts = file.strip_suffix(".whl")?.split('-');
    Some((parts.next()?.to_string(), parts.next()?.to_string()))
}

/// Whether a wheel is a musllinux wheel: its extension modules are loaded as they are.
fn is_musllinux_wheel(file: &str) -> bool {
    let platform = file.strip_suffix(".whl").and_then(|s| s.rsplit('-').next()).unwrap_or("");
    platform.split('.').any(|p| p.starts_with("musllinux"))
}

/// Whether a wheel is an index's platform wheel (`manylinux`, `musllinux`): a package with
/// compiled extension modules, not a wheel pyelf built (`linux_x86_64`) or a pure one.
fn is_index_platform_wheel(file: &str) -> bool {
    let platform = file.strip_suffix(".whl").and_then(|s| s.rsplit('-').next()).unwrap_or("");
    platform.split('.').any(|p| p.starts_with("manylinux") || p.starts_with("musllinux"))
}

/// Builds the requirement `req` (of package `name`) from its source distribution: with its extension modules (checked
/// against those of `platform_wheel`, the index's wheel, when there is one), or without its C
/// code when it is in `--no-native`. Returns the wheel built (in `built`) and the sha256 of the
/// source its extension modules were built from.
#[allow(clippy::too_many_arguments)]
fn build_native(
    name: &str,
    req: &str,
    platform_wheel: &Path,
    sources: &[String],
    built: &Path,
    source_date_epoch: u64,
    logs: &Path,
    native: &Native,
) -> Result<(PathBuf, Option<String>)> {
    let one = built.with_file_name(format!("requirement-{}.txt", normalize(name)));
    fs::write(&one, sources.iter().map(String::as_str).chain([req]).map(|l| format!("{l}\n")).collect::<String>())?;
    if native.no_native.iter().any(|n| normalize(n) == normalize(name)) {
        crate::say!("{name}: --no-native: building it from source without its C code (its pure-Python fallback)");
        return match build_from_source(req, &one, built, source_date_epoch, logs, true) {
            Ok((wheel, _)) => Ok((built.join(wheel), None)),
            Err(NotPure(wheel)) => bail!(
                "--no-native {name}: {name} has no pure-Python fallback: built without a C compiler, it still made {wheel}"
            ),
            Err(Failed(e)) => Err(e.context(format!(
                "--no-native {name}: {name} cannot be built without its C code (it has no pure-Python fallback, or its build does not offer one)"
            ))),
        };
    }
    let (expected, compiled_python) = if platform_wheel.is_file() {
        let step = crate::steplog::Step::start(
            &format!("list {name}"),
            logs.join(format!("native-{}-platform-wheel.log", normalize(name))),
        )?;
        let scratch = tempfile::tempdir_in(built)?;
        let tc = native.builder.tc;
        (
            crate::build::native::extension_modules(tc, &step, scratch.path(), platform_wheel)?,
            crate::build::native::compiled_python(tc, &step, scratch.path(), platform_wheel)?,
        )
    } else {
        (Vec::new(), false)
    };
    if compiled_python {
        // Its extension modules are its own Python modules compiled by mypyc (the platform
        // wheel holds their sources too), which its pure-Python wheel holds: the same code,
        // interpreted.
        if let Some(pure) = pure_wheel(&native.builder.tc.target, &one, built)? {
            crate::say!(
                "{name}: its platform wheel is its Python code compiled by mypyc; bundling its pure-Python wheel, the same code ({})",
                pure.file_name().unwrap_or_default().to_string_lossy()
            );
            return Ok((pure, None));
        }
    }
    let sdists = tempfile::tempdir_in(built)?;
    // --no-binary for this package only: its build requirements (to read its metadata) are wheels.
    // Its Requires-Python is checked against the binary's Python, not the host's.
    let (python, mut c) = pip_command(
        &["download", "--quiet", "--no-deps", "--no-binary", name, "--python-version", "3.13", "-d"],
        &[sdists.path(), Path::new("-r"), &one],
    );
    c.env("SOURCE_DATE_EPOCH", source_date_epoch.to_string());
    let got = run_pip(&python, c)?;
    if !got.status.success() {
        let err = String::from_utf8_lossy(&got.stderr).to_string();
        if err.contains("DO NOT MATCH THE HASHES") {
            bail!(
                "cannot bundle {name}: its extension modules are built from its source distribution, whose sha256 the requirements do not pin:\n{}\n\
                 hint: pin the source distribution's hash too (pip-compile --generate-hashes lists every file of a release)",
                err.trim()
            );
        }
        if metadata_failed(&err) {
            bail!(
                "cannot bundle {req}: preparing the metadata of its source distribution failed (pip runs its build backend for that, on this host):\n{}\n\
                 hint: the build backend's own words are above; a package with a musllinux wheel needs no source build (drop --from-source for it)",
                err.trim()
            );
        }
        bail!(
            "cannot bundle {req}: pyelf could not download its source distribution to build it from:\n{}",
            err.trim()
        );
    }
    let sdist = fs::read_dir(sdists.path())?
        .flatten()
        .map(|e| e.path())
        .next()
        .with_context(|| format!("pip downloaded no source distribution of {req}"))?;
    let sha = crate::toolchain::fetch::sha256_file(&sdist)?;
    let wheel = native.builder.build(name, &sdist, &expected)?;
    let dest = built.join(wheel.file_name().context("no wheel")?);
    fs::copy(&wheel, &dest)?;
    Ok((dest, Some(sha)))
}

/// Whether pip's output says that preparing a source distribution's metadata failed (its build
/// backend ran and failed), rather than that the download failed.
fn metadata_failed(pip_stderr: &str) -> bool {
    [
        "metadata-generation-failed",
        "Preparing metadata (pyproject.toml) did not run successfully",
        "Getting requirements to build wheel did not run successfully",
        "python setup.py egg_info did not run successfully",
    ]
    .iter()
    .any(|m| pip_stderr.contains(m))
}

/// The logical lines of a requirements file: continuation lines (`\`) joined, comments removed.
fn logical_lines(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for raw in text.lines() {
        let line = if raw.trim_start().starts_with('#') { "" } else { raw.split(" #").next().unwrap_or("") };
        if let Some(head) = line.trim_end().strip_suffix('\\') {
            current.push_str(head);
            current.push(' ');
            continue;
        }
        current.push_str(line);
        let done = std::mem::take(&mut current);
        if !done.trim().is_empty() {
            out.push(done.split_whitespace().collect::<Vec<_>>().join(" "));
        }
    }
    if !current.trim().is_empty() {
        out.push(current.split_whitespace().collect::<Vec<_>>().join(" "));
    }
    out
}

/// The file a `-r`/`-c` line includes, relative to the including file's directory.
fn included(line: &str, base: &Path) -> Option<(String, PathBuf)> {
    let (flag, value) = line.split_once([' ', '='])?;
    matches!(flag, "-r" | "--requirement" | "-c" | "--constraint").then(|| (flag.to_string(), base.join(value.trim())))
}

/// The logical lines of a requirements file and of those it includes (`-r`, `-c`), each with the
/// directory of its own file (relative paths in it are relative to that); include lines replaced
/// by the lines they include.
fn all_lines(requirements: &Path) -> Result<Vec<(String, PathBuf)>> {
    let base = requirements.parent().unwrap_or(Path::new(".")).to_path_buf();
    let mut out = Vec::new();
    for line in logical_lines(&fs::read_to_string(requirements)?) {
        match included(&line, &base) {
            Some((_, file)) => out.extend(all_lines(&file)?),
            None => out.push((line, base.clone())),
        }
    }
    Ok(out)
}

/// A `--find-links` value: a local directory made absolute (from `base`), a URL as it is.
fn find_links_value(value: &str, base: &Path) -> String {
    let local = base.join(value);
    if !value.contains("://") && local.exists() {
        local.display().to_string()
    } else {
        value.to_string()
    }
}

/// Whether a requirements file, or one it includes, pins hashes (pip's hash-checking mode).
fn has_hashes(requirements: &Path) -> Result<bool> {
    Ok(all_lines(requirements)?.iter().any(|(line, _)| line.contains("--hash") || line == "--require-hashes"))
}

/// The `--hash` options the requirements give package `name`.
fn pinned_hashes(requirements: &Path, name: &str) -> Result<Vec<String>> {
    Ok(all_lines(requirements)?
        .iter()
        .filter(|(line, _)| !line.starts_with('-') && normalize(requirement_name(line)) == normalize(name))
        .flat_map(|(line, _)| {
            line.split_whitespace().filter(|w| w.starts_with("--hash")).map(String::from).collect::<Vec<_>>()
        })
        .collect())
}

fn with_pinned_hashes(req: &str, hashes: &[String]) -> String {
    std::iter::once(req.to_string()).chain(hashes.iter().cloned()).collect::<Vec<_>>().join(" ")
}

/// A copy of the requirements file `file` (and of those it includes, into `dir`) in which each
/// package of `built` is asked for by its wheel and that wheel's sha256; relative paths made
/// absolute. Returns the copy's path.
fn rewrite_requirements(
    file: &Path,
    built: &BTreeMap<String, (PathBuf, String)>,
    dir: &Path,
    n: &mut usize,
) -> Result<PathBuf> {
    let base = fs::canonicalize(file.parent().unwrap_or(Path::new(".")))?;
    let mut out = Vec::new();
    for line in logical_lines(&fs::read_to_string(file)?) {
        if let Some((flag, inc)) = included(&line, &base) {
            out.push(format!("{flag} {}", rewrite_requirements(&inc, built, dir, n)?.display()));
            continue;
        }
        if let Some(value) = line
            .strip_prefix("-f ")
            .or_else(|| line.strip_prefix("--find-links "))
            .or_else(|| line.strip_prefix("--find-links="))
        {
            out.push(format!("--find-links {}", find_links_value(value.trim(), &base)));
            continue;
        }
        if !line.starts_with('-') {
            if let Some((wheel, sha)) = built.get(&normalize(requirement_name(&line))) {
                // Its markers stay: a requirement for another platform is still left out.
                let marker = line
                    .split_once(';')
                    .map(|(_, m)| format!(" ; {}", m.split(" --hash").next().unwrap_or("").trim()))
                    .unwrap_or_default();
                out.push(format!(
                    "{} @ file://{}{marker} --hash=sha256:{sha}",
                    requirement_name(&line),
                    wheel.display()
                ));
                continue;
            }
        }
        out.push(line);
    }
    *n += 1;
    let copy = dir.join(format!("requirements-{n}.txt"));
    fs::write(&copy, out.join("\n") + "\n")?;
    Ok(copy)
}

/// The requirement pip found no distribution for, from its error output.
fn missing_requirement(pip_stderr: &str) -> Option<String> {
    pip_stderr.lines().find_map(|l| l.split("No matching distribution found for ").nth(1)).map(|s| s.trim().to_string())
}

/// The project name of a requirement (`name==1.0`, `name[extra]>=2; marker`).
fn requirement_name(req: &str) -> &str {
    req.split(|c: char| "<>=!~;[ ".contains(c)).next().unwrap_or(req)
}

/// The options of a requirements file (and of those it includes) that say where
/// packages come from: index URLs, find-links (made absolute), `--no-index`, trusted hosts.
fn index_options(requirements: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for (line, base) in all_lines(requirements)? {
        let (flag, value) = match line.split_once([' ', '=']) {
            Some((f, v)) => (f, v.trim()),
            None => (line.as_str(), ""),
        };
        match flag {
            "-f" | "--find-links" => out.push(format!("--find-links {}", find_links_value(value, &base))),
            "-i" | "--index-url" | "--extra-index-url" | "--trusted-host" => out.push(format!("{flag} {value}")),
            "--no-index" => out.push(flag.to_string()),
            _ => {}
        }
    }
    Ok(out)
}

/// The pure-Python wheel of the requirement in `one`, downloaded into `dir`, if the index has one.
fn pure_wheel(target: &Target, one: &Path, dir: &Path) -> Result<Option<PathBuf>> {
    let tmp = tempfile::tempdir_in(dir)?;
    let mut args = vec!["download", "--quiet", "--no-deps"];
    args.extend(PURE);
    let got = pip(target, &args, &[Path::new("-d"), tmp.path(), Path::new("-r"), one])?;
    if !got.status.success() {
        return Ok(None);
    }
    let Some(wheel) =
        fs::read_dir(tmp.path())?.flatten().map(|e| e.path()).find(|p| p.extension().is_some_and(|e| e == "whl"))
    else {
        return Ok(None);
    };
    let dest = dir.join(wheel.file_name().context("no file name")?);
    fs::rename(&wheel, &dest)?;
    Ok(Some(dest))
}

/// Why a build from source gave no pure-Python wheel.
enum FromSource {
    /// It built this platform wheel: the package has extension modules.
    NotPure(String),
    Failed(anyhow::Error),
}
use FromSource::{Failed, NotPure};

/// Builds `req` (`one` is a requirements file with it and where it comes from) from its source
/// distribution into a wheel in `dir` with pip, and checks the wheel is pure Python (tags
/// `py3-none-any`); pip's output goes to a log in `logs`. `without_c`: with no C compiler and with
/// the switches packages offer for their pure-Python fallback (`--no-native`). Returns the wheel's
/// file name and sha256.
fn build_from_source(
    req: &str,
    one: &Path,
    dir: &Path,
    source_date_epoch: u64,
    logs: &Path,
    without_c: bool,
) -> Result<(String, String), FromSource> {
    let name = requirement_name(req);
    let failed = |e: anyhow::Error| Failed(e);
    if !without_c {
        crate::say!("{name}: no wheel on the index; building one from its source distribution with pip");
    }
    let tmp = tempfile::tempdir_in(dir).map_err(|e| failed(e.into()))?;
    fs::create_dir_all(logs).map_err(|e| failed(e.into()))?;
    let log = logs.join(format!("pip-wheel-{name}.log"));
    // Not from pip's cache: a wheel built there earlier carries another date.
    let (python, mut c) = pip_command(
        &["wheel", "--no-deps", "--no-cache-dir", "--no-binary", name, "-w"],
        &[tmp.path(), Path::new("-r"), one],
    );
    c.env("SOURCE_DATE_EPOCH", source_date_epoch.to_string());
    if without_c {
        for v in ["CC", "CXX", "LDSHARED", "LDCXXSHARED"] {
            c.env(v, "false");
        }
        for v in crate::build::native::FORCE {
            c.env_remove(v.0);
        }
        for v in crate::build::native::UNSET {
            c.env(v, "1");
        }
    }
    let out = run_pip(&python, c).map_err(failed)?;
    fs::write(&log, [out.stdout.as_slice(), out.stderr.as_slice()].concat()).map_err(|e| failed(e.into()))?;
    if !out.status.success() {
        let tail = crate::steplog::tail(&log, crate::steplog::TAIL_LINES);
        return Err(failed(anyhow::anyhow!("`pip wheel {req}` failed:\n{tail}\n(full log: {})", log.display())));
    }
    let wheel = fs::read_dir(tmp.path())
        .map_err(|e| failed(e.into()))?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "whl"))
        .ok_or_else(|| failed(anyhow::anyhow!("`pip wheel {req}` made no wheel (log: {})", log.display())))?;
    let file = wheel.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
    if !is_pure_wheel(&file) {
        return Err(NotPure(file));
    }
    let sha = (|| -> Result<String> {
        fs::rename(&wheel, dir.join(&file))?;
        Ok(crate::toolchain::fetch::sha256_file(&dir.join(&file))?)
    })()
    .map_err(failed)?;
    crate::say!("{name}: built {file} (sha256 {sha})");
    Ok((file, sha))
}

/// Whether a wheel's file name says it is pure Python for Python 3:
/// `NAME-VER[-BUILD]-PY-none-any.whl` with `py3` among the PY tags.
fn is_pure_wheel(file: &str) -> bool {
    let Some(stem) = file.strip_suffix(".whl") else { return false };
    let parts: Vec<&str> = stem.split('-').collect();
    if parts.len() < 5 {
        return false;
    }
    let (py, abi, platform) = (parts[parts.len() - 3], parts[parts.len() - 2], parts[parts.len() - 1]);
    abi == "none" && platform == "any" && py.split('.').any(|t| t == "py3")
}

/// The distributions installed in `site` (its `*.dist-info` directories).
pub fn distributions(site: &Path) -> Result<Vec<Dist>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(site)? {
        let path = entry?.path();
        let Some(n) = path.file_name().and_then(|n| n.to_str()) else { continue };
        if !n.ends_with(".dist-info") || !path.join("METADATA").is_file() {
            continue;
        }
        let meta = fs::read_to_string(path.join("METADATA"))?;
        let field = |k: &str| {
            meta.lines().take_while(|l| !l.is_empty()).find_map(|l| l.strip_prefix(k)).map(|v| v.trim().to_string())
        };
        let name = field("Name:").with_context(|| format!("{}: METADATA has no Name", path.display()))?;
        let version = field("Version:").unwrap_or_default();
        let license = field("License-Expression:")
            .or_else(|| field("License:").filter(|l| !l.is_empty() && l.len() < 60))
            .or_else(|| {
                meta.lines()
                    .take_while(|l| !l.is_empty())
                    .filter_map(|l| l.strip_prefix("Classifier: License :: OSI Approved :: "))
                    .next()
                    .map(|s| s.trim().to_string())
            })
            .unwrap_or_else(|| "NOASSERTION".into());
        out.push(Dist {
            name,
            version,
            license,
            dist_info: path,
            wheel_sha256: None,
            sdist_sha256: None,
            libraries: Vec::new(),
        });
    }
    out.sort_by_key(|d| d.name.to_lowercase());
    Ok(out)
}

fn wheel_of(wheels: &Path, name: &str, version: &str) -> Result<Option<String>> {
    let norm = |s: &str| s.replace(['-', '.'], "_").to_lowercase();
    for entry in fs::read_dir(wheels)? {
        let path = entry?.path();
        let file = path.file_name().and_then(|n| n.to_str()).unwrap_or("").to_string();
        if !file.ends_with(".whl") {
            continue;
        }
        let mut parts = file.splitn(3, '-');
        let (n, v) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        if norm(n) == norm(name) && v == version {
            return Ok(Some(crate::toolchain::fetch::sha256_file(&path)?));
        }
    }
    Ok(None)
}

/// The paths a distribution's RECORD lists, relative to the site directory and slash-separated
/// (none when it has no RECORD).
fn record_paths(dist: &Dist) -> Vec<String> {
    std::fs::read_to_string(dist.dist_info.join("RECORD"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split(',').next())
        .map(String::from)
        .collect()
}

/// Whether a distribution installed `path` (relative to the site directory, slash-separated): its
/// RECORD lists it.
pub fn installed(dist: &Dist, path: &str) -> bool {
    record_paths(dist).iter().any(|p| p == path)
}

/// What a distribution installed outside site-packages, slash-separated and relative to the site
/// directory: its wheel's `.data/data` directory (configuration, documentation, shared data),
/// which pip puts under `sys.prefix`, and `pip install --target` beside the packages, its RECORD
/// listing each file as `../../PATH`. Not `bin/` (console scripts, which the binary itself is)
/// nor `include/` (C headers, for building).
pub fn data_files(dist: &Dist) -> Vec<String> {
    let mut out: Vec<String> = record_paths(dist)
        .iter()
        .filter_map(|p| p.strip_prefix("../../"))
        .filter(|p| !p.starts_with("bin/") && !p.starts_with("include/"))
        .filter(|p| !p.is_empty() && p.split('/').all(|part| !part.is_empty() && part != "." && part != ".."))
        .map(String::from)
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The top-level names a distribution installs (from `top_level.txt`, else its RECORD).
pub fn top_level_names(dist: &Dist) -> Vec<String> {
    if let Ok(t) = std::fs::read_to_string(dist.dist_info.join("top_level.txt")) {
        return t.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect();
    }
    let mut names: Vec<String> = record_paths(dist)
        .iter()
        .filter_map(|p| p.split('/').next())
        .filter(|p| !p.ends_with(".dist-info") && !p.is_empty() && !p.starts_with(".."))
        .map(|p| p.trim_end_matches(".py").to_string())
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Every module a distribution installed (its `RECORD`'s `.py` files under the site directory),
/// as `pip install` makes them importable; test directories (`tests/`, `test/`) aside, which the
/// analysis still brings in when bundled code imports them.
pub fn modules(dist: &Dist) -> Vec<String> {
    let mut out: Vec<String> = record_paths(dist).iter().filter_map(|p| module_of_record_path(p)).collect();
    out.sort();
    out.dedup();
    out
}

/// The module a `RECORD` path installs, if it is a Python module (source or extension module)
/// importable from the site directory and not in a test directory. Its parts need not be
/// identifiers: a name that starts with a digit cannot follow `import`, but `importlib` and C's
/// `PyImport_ImportModule` import it (mypyc's shared runtime, `<hash>__mypyc`; Django's
/// migrations, `0001_initial`).
fn module_of_record_path(path: &str) -> Option<String> {
    let stem = match path.strip_suffix(".py") {
        Some(stem) => stem.to_string(),
        None => {
            // An extension module: `name.cpython-313-x86_64-linux-musl.so`, `name.abi3.so`.
            let stem = path.strip_suffix(".so")?;
            let (dir, file) = stem.rsplit_once('/').map(|(d, f)| (format!("{d}/"), f)).unwrap_or((String::new(), stem));
            format!("{dir}{}", file.split('.').next()?)
        }
    };
    let stem = stem.as_str();
    let mut parts: Vec<&str> = stem.split('/').collect();
    if parts.iter().any(|p| p.is_empty() || *p == ".." || p.contains('.') || p.contains('-') || *p == "__pycache__")
        || parts.iter().rev().skip(1).any(|p| *p == "tests" || *p == "test")
        || !parts.iter().all(|p| p.chars().all(|c| c.is_alphanumeric() || c == '_'))
    {
        return None;
    }
    if parts.last() == Some(&"__init__") {
        parts.pop();
    }
    (!parts.is_empty()).then(|| parts.join("."))
}

/// The lines of pip's "The conflict is caused by" report (`pkg 1.0 depends on Dep>=2`), each with
/// the name of the requirement depended on.
fn conflict_causes(pip_output: &str) -> Vec<(String, String)> {
    pip_output
        .lines()
        .filter_map(|l| {
            let (_, dep) = l.split_once(" depends on ")?;
            let name: String =
                dep.trim().chars().take_while(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.')).collect();
            (!name.is_empty()).then(|| (l.trim().to_string(), name))
        })
        .collect()
}

/// The modules a distribution's entry points name (`entry_points.txt`, every group): they are
/// imported by name at run time (plugins, console scripts), so the analysis is told about them.
pub fn entry_point_modules(dist: &Dist) -> Vec<String> {
    let text = std::fs::read_to_string(dist.dist_info.join("entry_points.txt")).unwrap_or_default();
    let mut out: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('[') && !l.starts_with('#'))
        .filter_map(|l| l.split_once('=').map(|(_, v)| v.trim()))
        .filter_map(|v| {
            crate::build::project::parse_entry_point(v).map(|(m, _)| m).or_else(|| {
                let m = v.split('[').next()?.trim();
                (!m.is_empty() && !m.contains(':')).then(|| m.to_string())
            })
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_build_backend_is_told_from_a_failing_download() {
        let meson = "error: subprocess-exited-with-error\n\n  × Preparing metadata (pyproject.toml) did not run successfully.\n  │ exit code: 1\n  ╰─> [12 lines of output]\n      ../meson.build:1:0: ERROR: Unknown compiler(s)\nerror: metadata-generation-failed\n";
        assert!(metadata_failed(meson));
        assert!(!metadata_failed("ERROR: Could not find a version that satisfies the requirement x==9\nERROR: No matching distribution found for x==9\n"));
    }

    #[test]
    fn the_requirements_of_a_conflict_are_named() {
        let out = "The conflict is caused by:\n    cookiecutter 2.6.0 depends on pyyaml>=5.3.1\n    cookiecutter 1.7.2 depends on MarkupSafe<2.0.0\n\nTo fix this";
        let causes = conflict_causes(out);
        assert_eq!(causes.iter().map(|(_, n)| n.as_str()).collect::<Vec<_>>(), ["pyyaml", "MarkupSafe"]);
        assert_eq!(causes[0].0, "cookiecutter 2.6.0 depends on pyyaml>=5.3.1");
    }

    #[test]
    fn record_paths_become_module_names() {
        let m = |p| module_of_record_path(p);
        assert_eq!(m("black/__init__.py"), Some("black".into()));
        assert_eq!(m("blib2to3/pgen2/driver.py"), Some("blib2to3.pgen2.driver".into()));
        assert_eq!(m("six.py"), Some("six".into()));
        assert_eq!(m("jaraco/functools/__init__.py"), Some("jaraco.functools".into()));
        assert_eq!(m("pkg/tests/test_x.py"), None, "test directories aside");
        assert_eq!(m("pkg/test/__init__.py"), None);
        assert_eq!(m("pkg/testing.py"), Some("pkg.testing".into()), "only directories named test(s)");
        assert_eq!(m("../../bin/tool.py"), None);
        assert_eq!(m("pkg-1.0.dist-info/METADATA"), None);
        assert_eq!(m("pkg/__pycache__/x.cpython-313.pyc"), None);
        assert_eq!(m("pkg/data/my-file.py"), None, "not importable");
        assert_eq!(m("pkg/_vendor/x.pyi"), None);
        assert_eq!(
            m("6ec57f84c680d3a3778b__mypyc.cpython-313-x86_64-linux-musl.so"),
            Some("6ec57f84c680d3a3778b__mypyc".into()),
            "mypyc's runtime, imported from C"
        );
        assert_eq!(m("app/migrations/0001_initial.py"), Some("app.migrations.0001_initial".into()));
    }

    #[test]
    fn data_files_are_what_a_wheel_installs_under_sys_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let dist_info = dir.path().join("glances-4.5.8.dist-info");
        std::fs::create_dir_all(&dist_info).unwrap();
        std::fs::write(
            dist_info.join("RECORD"),
            "glances/__init__.py,sha256=x,1\n\
             ../../bin/glances,sha256=x,229\n\
             ../../share/doc/glances/glances.conf,sha256=x,34870\n\
             ../../etc/jupyter/conf.d/x.json,sha256=x,10\n\
             ../../include/site/python3.13/pkg/h.h,sha256=x,1\n\
             ../../share/../../etc/passwd,sha256=x,1\n\
             ../../../share/other,sha256=x,1\n\
             glances-4.5.8.dist-info/RECORD,,\n",
        )
        .unwrap();
        let dist = Dist {
            name: "glances".into(),
            version: "4.5.8".into(),
            license: String::new(),
            dist_info,
            wheel_sha256: None,
            sdist_sha256: None,
            libraries: Vec::new(),
        };
        assert_eq!(data_files(&dist), ["etc/jupyter/conf.d/x.json", "share/doc/glances/glances.conf"]);
        assert!(installed(&dist, "glances/__init__.py") && !installed(&dist, "glances/other.py"));
    }

    #[test]
    fn pure_wheels_are_told_from_platform_wheels_by_their_tags() {
        assert!(is_pure_wheel("docopt-0.6.2-py2.py3-none-any.whl"));
        assert!(is_pure_wheel("mdurl-0.1.2-py3-none-any.whl"));
        assert!(is_pure_wheel("pkg-1.0-1build-py3-none-any.whl"));
        assert!(!is_pure_wheel("old-1.0-py2-none-any.whl"));
        assert!(!is_pure_wheel("PyYAML-6.0.2-cp313-cp313-manylinux_2_17_x86_64.whl"));
        assert!(!is_pure_wheel("x-1.0-cp313-abi3-any.whl"));
        assert!(!is_pure_wheel("x-1.0.tar.gz"));
        assert!(!is_pure_wheel("py3-none-any.whl"));
    }

    #[test]
    fn where_packages_come_from_is_read_from_the_requirements_and_their_includes() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        fs::create_dir(d.join("local")).unwrap();
        fs::write(
            d.join("base.txt"),
            "--index-url https://index.example/simple\n--trusted-host index.example\nfoo==1\n",
        )
        .unwrap();
        fs::write(
            d.join("req.txt"),
            "# pins\n-r base.txt\n--find-links local\n-f https://example.com/wheels\n--no-index\nbar==2 --hash=sha256:00\n",
        )
        .unwrap();
        assert_eq!(
            index_options(&d.join("req.txt")).unwrap(),
            [
                "--index-url https://index.example/simple".to_string(),
                "--trusted-host index.example".into(),
                format!("--find-links {}", d.join("local").display()),
                "--find-links https://example.com/wheels".into(),
                "--no-index".into(),
            ]
        );
    }

    #[test]
    fn hash_pinned_requirements_ask_for_the_wheels_built_here_in_place_of_their_packages() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        fs::create_dir(d.join("links")).unwrap();
        fs::write(d.join("base.txt"), "jinja2==3.1.6 \\\n    --hash=sha256:aa\n").unwrap();
        fs::write(
            d.join("req.txt"),
            "# pinned\n-r base.txt\n-f links\nMarkupSafe==3.0.2 ; python_version >= '3.9' \\\n    --hash=sha256:11 \\\n    --hash=sha256:22\n",
        )
        .unwrap();
        assert!(has_hashes(&d.join("req.txt")).unwrap());
        assert_eq!(pinned_hashes(&d.join("req.txt"), "markupsafe").unwrap(), ["--hash=sha256:11", "--hash=sha256:22"]);
        let built: BTreeMap<String, (PathBuf, String)> = [(
            "markupsafe".to_string(),
            (PathBuf::from("/w/markupsafe-3.0.2-cp313-cp313-linux_x86_64.whl"), "ff".to_string()),
        )]
        .into();
        let out = d.join("out");
        fs::create_dir(&out).unwrap();
        let top = rewrite_requirements(&d.join("req.txt"), &built, &out, &mut 0).unwrap();
        let text = fs::read_to_string(&top).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], format!("-r {}", out.join("requirements-1.txt").display()));
        assert_eq!(lines[1], format!("--find-links {}", fs::canonicalize(d.join("links")).unwrap().display()));
        assert_eq!(lines[2], "MarkupSafe @ file:///w/markupsafe-3.0.2-cp313-cp313-linux_x86_64.whl ; python_version >= '3.9' --hash=sha256:ff");
        assert_eq!(
            fs::read_to_string(out.join("requirements-1.txt")).unwrap(),
            "jinja2==3.1.6 --hash=sha256:aa\n",
            "other packages keep their pins"
        );
        assert!(!has_hashes(&{
            fs::write(d.join("plain.txt"), "six==1.16.0\n").unwrap();
            d.join("plain.txt")
        })
        .unwrap());
    }

    #[test]
    fn the_missing_requirement_and_its_name_come_from_pips_message() {
        let err = "ERROR: Could not find a version that satisfies the requirement docopt==0.6.2 (from versions: none)\nERROR: No matching distribution found for docopt==0.6.2\n";
        assert_eq!(missing_requirement(err).as_deref(), Some("docopt==0.6.2"));
        assert_eq!(missing_requirement("ERROR: THESE PACKAGES DO NOT MATCH THE HASHES"), None);
        assert_eq!(requirement_name("docopt==0.6.2"), "docopt");
        assert_eq!(requirement_name("a-b[x]>=2; python_version>'3'"), "a-b");
    }
}
