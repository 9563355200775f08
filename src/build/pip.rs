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
    host_pip(&["-m", "pip"], args, extra)
}

/// The host's python (or `PYELF_HOST_PYTHON`) started with `how` (which runs pip), then pip's
/// `args` and `extra`, never prompting.
fn host_pip(how: &[&str], args: &[&str], extra: &[&Path]) -> (String, Command) {
    let python = std::env::var("PYELF_HOST_PYTHON").unwrap_or_else(|_| "python3".into());
    let mut c = Command::new(&python);
    c.args(how).args(args).args(extra).args(["--disable-pip-version-check", "--no-input"]);
    (python, c)
}

/// Runs pip (its arguments after the first two) with the environment markers of CPython
/// `sys.argv[1]` on Linux on `sys.argv[2]`.
const AS_TARGET_PY: &str = r#"
import runpy, sys
from pip._vendor.packaging import markers
version, machine = sys.argv[1], sys.argv[2]
host = markers.default_environment
def target():
    env = host()
    env.update(implementation_name="cpython", implementation_version=version,
               platform_python_implementation="CPython", python_full_version=version,
               python_version=".".join(version.split(".")[:2]), os_name="posix",
               sys_platform="linux", platform_system="Linux", platform_machine=machine)
    return env
markers.default_environment = target
sys.argv = ["pip"] + sys.argv[3:]
runpy.run_module("pip", run_name="__main__", alter_sys=True)
"#;

/// [`pip_command`] for the binary's dependencies: pip evaluates the requirements' environment
/// markers for the python that runs it, even with `--python-version` (which chooses only wheels),
/// so the host's 3.11 would leave out a dependency marked `python_version >= "3.13"` (WebOb's
/// legacy-cgi) and take one marked `< "3.13"`. Here they are evaluated as on CPython `version` on
/// Linux on `arch`, as pip on the target evaluates them.
pub(crate) fn pip_command_as_target(version: &str, arch: &str, args: &[&str], extra: &[&Path]) -> (String, Command) {
    host_pip(&["-c", AS_TARGET_PY, version, arch], args, extra)
}

/// A package name as pip compares them (PEP 503).
pub fn normalize(name: &str) -> String {
    name.to_lowercase().replace(['_', '.'], "-")
}
