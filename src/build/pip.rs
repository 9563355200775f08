//! The host's pip as pyelf runs it, and package names as pip compares them: shared by [`super::deps`]
//! (which resolves and installs the dependencies) and [`super::native`] (which builds their
//! extension modules), so that neither needs the other for them.

use std::path::Path;
use std::process::Command;

/// Flags that make pip take pure-Python wheels for CPython 3.13 only.
pub(crate) const PURE: &[&str] =
    &["--only-binary", ":all:", "--implementation", "py", "--python-version", "3.13", "--platform", "any"];

/// `python3 -m pip ARGS EXTRA` with the host's python (or `PYELF_HOST_PYTHON`), never prompting.
pub(crate) fn pip_command(args: &[&str], extra: &[&Path]) -> (String, Command) {
    let python = std::env::var("PYELF_HOST_PYTHON").unwrap_or_else(|_| "python3".into());
    let mut c = Command::new(&python);
    c.args(["-m", "pip"]).args(args).args(extra).args(["--disable-pip-version-check", "--no-input"]);
    (python, c)
}

/// A package name as pip compares them (PEP 503).
pub fn normalize(name: &str) -> String {
    name.to_lowercase().replace(['_', '.'], "-")
}
