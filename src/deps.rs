//! Third-party dependencies: resolved and downloaded with pip (hash-checked when the requirements
//! carry hashes), only as pure-Python wheels (`py3-none-any`): a static binary cannot load a C
//! extension, so a package that ships only platform wheels is refused, by name, with the reason.

use std::collections::BTreeSet;
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

/// `python3 -m pip ARGS EXTRA` with the host's python (or `PYELF_HOST_PYTHON`), never prompting.
fn pip_command(args: &[&str], extra: &[&Path]) -> (String, Command) {
    let python = std::env::var("PYELF_HOST_PYTHON").unwrap_or_else(|_| "python3".into());
    let mut c = Command::new(&python);
    c.args(["-m", "pip"]).args(args).args(extra).args(["--disable-pip-version-check", "--no-input"]);
    (python, c)
}

fn run_pip(python: &str, mut c: Command) -> Result<Output> {
    c.output().with_context(|| {
        format!("cannot run `{python} -m pip`: pyelf resolves dependencies with the host's pip (PYELF_HOST_PYTHON picks the python)")
    })
}

fn pip(args: &[&str], extra: &[&Path]) -> Result<Output> {
    let (python, c) = pip_command(args, extra);
    run_pip(&python, c)
}

/// Downloads the wheels of `requirements` (a requirements file) into `wheels` and installs them
/// into `site`. A requirement with no wheel at all (only a source distribution) is built into a
/// wheel by pip, with `source_date_epoch` as its date, and kept if that wheel is pure Python (pip's
/// output in `logs`). Returns the installed distributions.
pub fn install(requirements: &Path, wheels: &Path, site: &Path, source_date_epoch: u64, logs: &Path) -> Result<Vec<Dist>> {
    fs::create_dir_all(wheels)?;
    let built = wheels.with_file_name("built-wheels");
    fs::create_dir_all(&built)?;
    eprintln!("resolving dependencies with pip (pure-Python wheels only)");
    // (requirement, wheel built, its sha256)
    let mut from_source: Vec<(String, String, String)> = Vec::new();
    // Where the requirements say packages come from, for the pip runs that look at one of them.
    let sources = index_options(requirements)?;
    loop {
        let mut args = vec!["download", "--quiet"];
        args.extend(PURE);
        let got = pip(&args, &[Path::new("--find-links"), &built, Path::new("-d"), wheels, Path::new("-r"), requirements])?;
        if got.status.success() {
            break;
        }
        let err = String::from_utf8_lossy(&got.stderr).to_string();
        let Some(req) = missing_requirement(&err) else {
            if !from_source.is_empty() && err.contains("DO NOT MATCH THE HASHES") {
                let pins: Vec<String> = from_source.iter().map(|(req, _, sha)| format!("{req} --hash=sha256:{sha}")).collect();
                bail!(
                    "pip built a wheel from source for {}, and it does not match the hashes in the requirements (they pin the source distribution, or a wheel built with other tools).\n{}\nhint: pin the wheel pyelf builds (the same bytes each time, with the same build tools):\n  {}",
                    from_source.iter().map(|(_, wheel, _)| wheel.as_str()).collect::<Vec<_>>().join(", "),
                    err.trim(),
                    pins.join("\n  ")
                );
            }
            if err.contains("ResolutionImpossible") {
                // pip says why only when it is not quiet: ask again, for the lines that name the
                // requirements no pure-Python wheel satisfies.
                let mut args = vec!["download"];
                args.extend(PURE);
                let again = pip(&args, &[Path::new("--find-links"), &built, Path::new("-d"), wheels, Path::new("-r"), requirements])?;
                let said = format!("{}{}", String::from_utf8_lossy(&again.stdout), String::from_utf8_lossy(&again.stderr));
                let causes = conflict_causes(&said);
                if !causes.is_empty() {
                    let names: Vec<&str> = causes.iter().map(|(_, name)| name.as_str()).collect::<BTreeSet<_>>().into_iter().collect();
                    bail!(
                        "pip found no set of pure-Python (py3-none-any) wheels for the dependencies: {}.\nThe conflict, as pip reports it:\n  {}\n\
                         A requirement named there most likely ships only platform-specific wheels (compiled C extension modules), which a fully static pyelf binary cannot load.\n\
                         hint: use pure-Python alternatives, or versions that have a py3-none-any wheel",
                        names.join(", "),
                        causes.iter().map(|(line, _)| line.as_str()).take(12).collect::<Vec<_>>().join("\n  ")
                    );
                }
            }
            bail!("pip could not resolve the dependencies:\n{}\nhint: pip must reach a package index (or set PIP_FIND_LINKS / PIP_INDEX_URL)", err.trim());
        };
        if from_source.iter().any(|(r, _, _)| r == &req) {
            bail!("pip could not use the wheel it built for {req}:\n{}", err.trim());
        }
        let one = wheels.with_file_name(format!("requirement-{}.txt", from_source.len()));
        fs::write(&one, sources.iter().chain([&req]).map(|l| format!("{l}\n")).collect::<String>())?;
        if let Some(wheel) = platform_wheel(&one) {
            let name = requirement_name(&req);
            bail!(
                "cannot bundle {name}: it ships only platform-specific wheels ({wheel}), i.e. compiled C extension modules, and no pure-Python (py3-none-any) wheel.\n\
                 A pyelf binary is fully static: it cannot load shared libraries (no dlopen), so it cannot load {name}'s extension modules, and pyelf does not compile third-party C code into the binary.\n\
                 hint: use a pure-Python alternative, or a version of {name} that has a py3-none-any wheel (some packages have an optional pure-Python fallback: check {name}'s documentation)"
            );
        }
        let (wheel, sha) = build_from_source(&req, &one, &built, source_date_epoch, logs).with_context(|| {
            format!("cannot bundle {req}: pip found no wheel of it for Python 3.13, pure or not, and building one from its source distribution failed")
        })?;
        from_source.push((req, wheel, sha));
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

/// The requirement pip found no distribution for, from its error output.
fn missing_requirement(pip_stderr: &str) -> Option<String> {
    pip_stderr
        .lines()
        .find_map(|l| l.split("No matching distribution found for ").nth(1))
        .map(|s| s.trim().to_string())
}

/// The project name of a requirement (`name==1.0`, `name[extra]>=2; marker`).
fn requirement_name(req: &str) -> &str {
    req.split(|c: char| "<>=!~;[ ".contains(c)).next().unwrap_or(req)
}

/// The options of a requirements file (and of those it includes with `-r`) that say where
/// packages come from: index URLs, find-links (made absolute), `--no-index`, trusted hosts.
fn index_options(requirements: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let base = requirements.parent().unwrap_or(Path::new("."));
    for line in fs::read_to_string(requirements)?.lines() {
        let line = line.split(" #").next().unwrap_or("").trim();
        let (flag, value) = match line.split_once([' ', '=']) {
            Some((f, v)) => (f, v.trim()),
            None => (line, ""),
        };
        match flag {
            "-r" | "--requirement" => {
                out.extend(index_options(&base.join(value))?);
            }
            "-f" | "--find-links" => {
                let local = base.join(value);
                let value = if !value.contains("://") && local.exists() { local.display().to_string() } else { value.to_string() };
                out.push(format!("--find-links {value}"));
            }
            "-i" | "--index-url" | "--extra-index-url" | "--trusted-host" => out.push(format!("{flag} {value}")),
            "--no-index" => out.push(flag.to_string()),
            _ => {}
        }
    }
    Ok(out)
}

/// A platform wheel of the requirement in `one` (a requirements file: it and where it comes from)
/// for CPython 3.13 on x86_64 Linux, if there is one: then it is a compiled C extension, which
/// pyelf refuses.
fn platform_wheel(one: &Path) -> Option<String> {
    let probe = tempfile::tempdir().ok()?;
    let args = [
        "download", "--quiet", "--no-deps", "--only-binary", ":all:", "--python-version", "3.13",
        "--implementation", "cp", "--platform", "manylinux2014_x86_64", "--platform", "musllinux_1_2_x86_64",
    ];
    let out = pip(&args, &[Path::new("-d"), probe.path(), Path::new("-r"), one]).ok()?;
    if !out.status.success() {
        return None;
    }
    fs::read_dir(probe.path()).ok()?.flatten().map(|e| e.file_name().to_string_lossy().to_string()).next()
}

/// Builds `req` (which has only a source distribution; `one` is a requirements file with it and
/// where it comes from) into a wheel in `dir` with pip, and checks
/// the wheel is pure Python (tags `py3-none-any`); pip's output goes to a log in `logs`.
/// Returns the wheel's file name and sha256.
fn build_from_source(req: &str, one: &Path, dir: &Path, source_date_epoch: u64, logs: &Path) -> Result<(String, String)> {
    let name = requirement_name(req);
    eprintln!("{name}: no wheel on the index; building one from its source distribution with pip");
    let tmp = tempfile::tempdir_in(dir)?;
    fs::create_dir_all(logs)?;
    let log = logs.join(format!("pip-wheel-{name}.log"));
    // Not from pip's cache: a wheel built there earlier carries another date.
    let (python, mut c) = pip_command(&["wheel", "--no-deps", "--no-cache-dir", "-w"], &[tmp.path(), Path::new("-r"), one]);
    c.env("SOURCE_DATE_EPOCH", source_date_epoch.to_string());
    let out = run_pip(&python, c)?;
    fs::write(&log, [out.stdout.as_slice(), out.stderr.as_slice()].concat())?;
    if !out.status.success() {
        let tail = crate::steplog::tail(&log, crate::steplog::TAIL_LINES);
        bail!("`pip wheel {req}` failed:\n{tail}\n(full log: {})", log.display());
    }
    let wheel = fs::read_dir(tmp.path())?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "whl"))
        .with_context(|| format!("`pip wheel {req}` made no wheel (log: {})", log.display()))?;
    let file = wheel.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
    if !is_pure_wheel(&file) {
        bail!(
            "its source builds {file}, a platform-specific wheel: {name} has C code (extension modules). A pyelf binary is fully static: it cannot load them, and pyelf does not compile third-party C code into the binary.\n\
             hint: use a pure-Python alternative"
        );
    }
    fs::rename(&wheel, dir.join(&file))?;
    let sha = crate::fetch::sha256_file(&dir.join(&file))?;
    eprintln!("{name}: built {file} (sha256 {sha})");
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

/// Every module a distribution installed (its `RECORD`'s `.py` files under the site directory),
/// as `pip install` makes them importable; test directories (`tests/`, `test/`) aside, which the
/// analysis still brings in when bundled code imports them.
pub fn modules(dist: &Dist) -> Vec<String> {
    let record = std::fs::read_to_string(dist.dist_info.join("RECORD")).unwrap_or_default();
    let mut out: Vec<String> = record.lines().filter_map(|l| module_of_record_path(l.split(',').next()?)).collect();
    out.sort();
    out.dedup();
    out
}

/// The module a `RECORD` path installs, if it is a Python module importable from the site
/// directory and not in a test directory.
fn module_of_record_path(path: &str) -> Option<String> {
    let stem = path.strip_suffix(".py")?;
    let mut parts: Vec<&str> = stem.split('/').collect();
    if parts.iter().any(|p| p.is_empty() || *p == ".." || p.contains('.') || p.contains('-') || *p == "__pycache__")
        || parts.iter().rev().skip(1).any(|p| *p == "tests" || *p == "test")
        || !parts.iter().all(|p| p.chars().next().is_some_and(|c| c.is_alphabetic() || c == '_') && p.chars().all(|c| c.is_alphanumeric() || c == '_'))
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
            let name: String = dep.trim().chars().take_while(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.')).collect();
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
        .filter_map(|v| crate::project::parse_entry_point(v).map(|(m, _)| m).or_else(|| {
            let m = v.split('[').next()?.trim();
            (!m.is_empty() && !m.contains(':')).then(|| m.to_string())
        }))
        .collect();
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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
        fs::write(d.join("base.txt"), "--index-url https://index.example/simple\n--trusted-host index.example\nfoo==1\n").unwrap();
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
    fn the_missing_requirement_and_its_name_come_from_pips_message() {
        let err = "ERROR: Could not find a version that satisfies the requirement docopt==0.6.2 (from versions: none)\nERROR: No matching distribution found for docopt==0.6.2\n";
        assert_eq!(missing_requirement(err).as_deref(), Some("docopt==0.6.2"));
        assert_eq!(missing_requirement("ERROR: THESE PACKAGES DO NOT MATCH THE HASHES"), None);
        assert_eq!(requirement_name("docopt==0.6.2"), "docopt");
        assert_eq!(requirement_name("a-b[x]>=2; python_version>'3'"), "a-b");
    }
}
