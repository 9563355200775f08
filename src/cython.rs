//! Cython: installed from PyPI with pip (pinned by hash) beside the toolchains, and run under the
//! toolchain's static python3 to compile the app to C.

use crate::home::Home;
use crate::toolchain::Toolchain;
use anyhow::{bail, Context, Result};
use fs_err as fs;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::process::Command;

/// `toolchains/cython.toml`, as compiled in.
pub const CYTHON_TOML: &str = include_str!("../toolchains/cython.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CythonPin {
    pub name: String,
    pub version: String,
    pub license: String,
    pub wheel: String,
    pub sha256: String,
}

impl CythonPin {
    pub fn builtin() -> CythonPin {
        toml::from_str(CYTHON_TOML).expect("toolchains/cython.toml is valid (checked by the tests)")
    }
}

/// An installed Cython: a directory to put on `sys.path`.
pub struct Cython {
    pub dir: PathBuf,
}

/// Installs the pinned Cython under `$PYELF_HOME/cython/` unless it is there already.
pub fn ensure(home: &Home, pin: &CythonPin) -> Result<Cython> {
    let dir = home.root().join("cython").join(format!("{}-{}", pin.version, &pin.sha256[..16]));
    if dir.join("Cython/__init__.py").is_file() {
        return Ok(Cython { dir });
    }
    let parent = dir.parent().expect("cython dir");
    fs::create_dir_all(parent)?;
    let _lock = crate::toolchain::lock_exclusive(&parent.join(".install.lock"), "installing Cython")?;
    if dir.join("Cython/__init__.py").is_file() {
        return Ok(Cython { dir });
    }
    // Under the lock, any other `.install-*` is what a killed install left.
    for entry in fs::read_dir(parent)? {
        let entry = entry?;
        if entry.file_name().to_string_lossy().starts_with(".install-") {
            fs::remove_dir_all(entry.path())?;
        }
    }
    let tmp = tempfile::Builder::new().prefix(".install-").tempdir_in(parent)?;
    let req = tmp.path().join("requirements.txt");
    fs::write(&req, format!("{}=={} --hash=sha256:{}\n", pin.name, pin.version, pin.sha256))?;
    let target = tmp.path().join("site");
    eprintln!("installing Cython {} with pip (hash-checked)", pin.version);
    let python = std::env::var("PYELF_HOST_PYTHON").unwrap_or_else(|_| "python3".into());
    let out = Command::new(&python)
        .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps", "--no-compile"])
        .args(["--require-hashes", "--only-binary", ":all:", "--implementation", "py", "--python-version", "3.13"])
        .args(["--platform", "any", "--target"])
        .arg(&target)
        .arg("-r")
        .arg(&req)
        .output()
        .with_context(|| format!("cannot run `{python} -m pip`: pyelf installs Cython with the host's pip"))?;
    if !out.status.success() {
        bail!(
            "installing Cython {} with pip failed:\n{}\nhint: pip must reach a package index (or set PIP_FIND_LINKS to a directory holding {}); PYELF_HOST_PYTHON picks the python whose pip is used",
            pin.version,
            String::from_utf8_lossy(&out.stderr).trim(),
            pin.wheel
        );
    }
    if !target.join("Cython/__init__.py").is_file() {
        bail!("pip installed Cython {} without the Cython package", pin.version);
    }
    if dir.exists() {
        fs::remove_dir_all(&dir)?;
    }
    fs::rename(&target, &dir)?;
    Ok(Cython { dir })
}

/// Compiles `script` to C as module `module`, language level 3. A Cython error is returned with
/// its messages (file:line) as Cython printed them.
pub fn compile(tc: &Toolchain, cython: &Cython, script: &Path, module: &str, out_c: &Path) -> Result<()> {
    let out = Command::new(tc.python())
        .arg("-c")
        .arg("import sys; sys.path.insert(0, sys.argv.pop(1)); from Cython.Compiler.Main import setuptools_main; sys.exit(setuptools_main())")
        .arg(&cython.dir)
        .args(["-3", "--module-name", module, "-o"])
        .arg(out_c)
        // Run beside the script with its bare name: tracebacks then show `app.py`, not a
        // path of the build machine.
        .arg(script.file_name().context("the script has no file name")?)
        .current_dir(script.parent().context("the script has no directory")?)
        .env_clear()
        .env("LC_ALL", "C.UTF-8")
        .output()
        .context("cannot run Cython")?;
    if !out.status.success() || !out_c.is_file() {
        let mut msg = String::from_utf8_lossy(&out.stderr).trim().to_string();
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !stdout.trim().is_empty() {
            msg = format!("{}\n{msg}", stdout.trim());
        }
        bail!("Cython could not compile {}:\n{msg}\nhint: fix the error above (the script must be valid Python 3)", script.display());
    }
    Ok(())
}
