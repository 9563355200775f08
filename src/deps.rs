//! Third-party dependencies: resolved and downloaded with pip (hash-checked when the requirements
//! carry hashes), only as pure-Python wheels (`py3-none-any`): a static binary cannot load a C
//! extension, so a package that ships only platform wheels is refused, by name, with the reason.

use anyhow::{bail, Context, Result};
use fs_err as fs;
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
}

/// Flags that make pip take pure-Python wheels for CPython 3.13 only.
const PURE: &[&str] = &["--only-binary", ":all:", "--implementation", "py", "--python-version", "3.13", "--platform", "any"];

fn pip(args: &[&str], extra: &[&Path]) -> Result<Output> {
    let python = std::env::var("PYELF_HOST_PYTHON").unwrap_or_else(|_| "python3".into());
    Command::new(&python)
        .args(["-m", "pip"])
        .args(args)
        .args(extra)
        .args(["--disable-pip-version-check", "--no-input"])
        .output()
        .with_context(|| format!("cannot run `{python} -m pip`: pyelf resolves dependencies with the host's pip (PYELF_HOST_PYTHON picks the python)"))
}

/// Downloads the wheels of `requirements` (a requirements file) into `wheels` and installs them
/// into `site`. Returns the installed distributions.
pub fn install(requirements: &Path, wheels: &Path, site: &Path) -> Result<Vec<Dist>> {
    fs::create_dir_all(wheels)?;
    eprintln!("resolving dependencies with pip (pure-Python wheels only)");
    let mut args = vec!["download", "--quiet"];
    args.extend(PURE);
    let got = pip(&args, &[Path::new("-d"), wheels, Path::new("-r"), requirements])?;
    if !got.status.success() {
        let err = String::from_utf8_lossy(&got.stderr).to_string();
        return Err(explain_failure(&err));
    }
    let mut args = vec!["install", "--quiet", "--no-compile", "--no-index", "--find-links"];
    let wheels_s = wheels.to_string_lossy().to_string();
    args.push(&wheels_s);
    args.extend(PURE);
    let site_s = site.to_string_lossy().to_string();
    args.extend(["--target", &site_s]);
    let done = pip(&args, &[Path::new("-r"), requirements])?;
    if !done.status.success() {
        bail!("pip could not install the dependencies into {}:\n{}", site.display(), String::from_utf8_lossy(&done.stderr).trim());
    }
    let mut dists = distributions(site)?;
    for d in &mut dists {
        d.wheel_sha256 = wheel_of(wheels, &d.name, &d.version)?;
    }
    Ok(dists)
}

/// Turns pip's failure into an error that names the requirement and says why it cannot be bundled.
fn explain_failure(pip_stderr: &str) -> anyhow::Error {
    let missing = pip_stderr
        .lines()
        .find_map(|l| l.split("No matching distribution found for ").nth(1))
        .map(|s| s.trim().to_string());
    let Some(req) = missing else {
        return anyhow::anyhow!("pip could not resolve the dependencies:\n{}\nhint: pip must reach a package index (or set PIP_FIND_LINKS / PIP_INDEX_URL)", pip_stderr.trim());
    };
    let name = req.split(|c: char| "<>=!~;[ ".contains(c)).next().unwrap_or(&req).to_string();
    // Is there a platform wheel, i.e. a compiled extension?
    let probe = tempfile::tempdir().ok();
    let platform_wheel = probe.as_ref().and_then(|d| {
        let args = [
            "download", "--quiet", "--no-deps", "--only-binary", ":all:", "--python-version", "3.13",
            "--implementation", "cp", "--platform", "manylinux2014_x86_64", "--platform", "musllinux_1_2_x86_64",
        ];
        let out = pip(&args, &[Path::new("-d"), d.path(), Path::new(&req)]).ok()?;
        if !out.status.success() {
            return None;
        }
        fs::read_dir(d.path()).ok()?.flatten().map(|e| e.file_name().to_string_lossy().to_string()).next()
    });
    match platform_wheel {
        Some(wheel) => anyhow::anyhow!(
            "cannot bundle {name}: it ships only platform-specific wheels ({wheel}), i.e. compiled C extension modules, and no pure-Python (py3-none-any) wheel.\n\
             A pyelf binary is fully static: it cannot load shared libraries (no dlopen), so it cannot load {name}'s extension modules, and pyelf does not compile third-party C code into the binary.\n\
             hint: use a pure-Python alternative, or a version of {name} that has a py3-none-any wheel (some packages have an optional pure-Python fallback: check {name}'s documentation)"
        ),
        None => anyhow::anyhow!(
            "cannot bundle {req}: pip found no pure-Python wheel (py3-none-any) of it for Python 3.13, nor a platform wheel; it may exist only as a source distribution, or not at all.\n{}\nhint: check the name and version; pyelf bundles only wheels",
            pip_stderr.trim()
        ),
    }
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
        let field = |k: &str| meta.lines().take_while(|l| !l.is_empty()).find_map(|l| l.strip_prefix(k)).map(|v| v.trim().to_string());
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
        out.push(Dist { name, version, license, dist_info: path, wheel_sha256: None });
    }
    out.sort_by(|a, b| a.name.to_lowercase().cmp(&b.name.to_lowercase()));
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
            return Ok(Some(crate::fetch::sha256_file(&path)?));
        }
    }
    Ok(None)
}

/// The top-level names a distribution installs (from `top_level.txt`, else its RECORD).
pub fn top_level_names(dist: &Dist) -> Vec<String> {
    if let Ok(t) = std::fs::read_to_string(dist.dist_info.join("top_level.txt")) {
        return t.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect();
    }
    let mut names: Vec<String> = std::fs::read_to_string(dist.dist_info.join("RECORD"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split(',').next())
        .filter_map(|p| p.split('/').next())
        .filter(|p| !p.ends_with(".dist-info") && !p.is_empty() && !p.starts_with(".."))
        .map(|p| p.trim_end_matches(".py").to_string())
        .collect();
    names.sort();
    names.dedup();
    names
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
        .filter_map(|v| crate::project::parse_entry_point(v).map(|(m, _)| m).or_else(|| {
            let m = v.split('[').next()?.trim();
            (!m.is_empty() && !m.contains(':')).then(|| m.to_string())
        }))
        .collect();
    out.sort();
    out.dedup();
    out
}
