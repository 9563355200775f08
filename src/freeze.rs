//! Frozen stdlib modules: the modules an app needs, compiled to code objects and embedded in the
//! binary, so that it reads no file at run time (no /proc, no stdlib directory).

use crate::toolchain::Toolchain;
use anyhow::{bail, Context, Result};
use fs_err as fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The analysis and code generation, run by the toolchain's python3.
const FREEZE_PY: &str = include_str!("app/freeze.py");

/// Which stdlib modules to embed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Stdlib {
    /// What an analysis of the app's imports finds (plus `--include-module/-package`).
    Auto,
    /// The whole stdlib (without its test suite, Tk and demos).
    Full,
}

/// The frozen modules of one app.
pub struct FrozenModules {
    /// C table of the modules (`pyelf_frozen_modules`).
    pub table_c: PathBuf,
    /// Assembly that includes the code blob (`pyelf_frozen_blob`).
    pub blob_s: PathBuf,
    /// The embedded module names.
    pub names: Vec<String>,
    /// Every module the analysis found the app to import, Python or built-in C.
    pub imports: Vec<String>,
}

/// Assembly that embeds the bytes of `file`, followed by a NUL byte, in `section` (the whole
/// `.section` operand), as the symbol `name` with `<name>_end` after them when a name is given.
pub fn incbin_asm(section: &str, name: Option<&str>, file: &Path) -> String {
    let (start, end) = match name {
        Some(n) => (format!("    .global {n}\n    .global {n}_end\n    .balign 16\n{n}:\n"), format!("{n}_end:\n")),
        None => (String::new(), String::new()),
    };
    format!(
        "    .section {section}\n{start}    .incbin \"{}\"\n{end}    .byte 0\n    .section .note.GNU-stack,\"\",@progbits\n",
        file.display()
    )
}

/// Analyses `script` and writes the frozen modules into `dir`.
pub fn freeze(
    tc: &Toolchain,
    script: &Path,
    dir: &Path,
    include_modules: &[String],
    include_packages: &[String],
    stdlib: Stdlib,
) -> Result<FrozenModules> {
    let freeze_py = dir.join("freeze.py");
    fs::write(&freeze_py, FREEZE_PY)?;
    let mut cmd = Command::new(tc.python());
    cmd.arg("-I").arg(&freeze_py).arg(dir).arg(script);
    for m in include_modules {
        cmd.args(["--include-module", m]);
    }
    for p in include_packages {
        cmd.args(["--include-package", p]);
    }
    cmd.args(["--stdlib", if stdlib == Stdlib::Full { "full" } else { "auto" }]);
    let out = cmd.env_clear().output().context("cannot run the toolchain's python3 for the import analysis")?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err.trim().lines().last().unwrap_or("").to_string();
        bail!("the import analysis of {} failed: {last}\n{}", script.display(), err.trim());
    }
    let bin = dir.join("frozen.bin");
    let blob_s = dir.join("frozen_blob.S");
    fs::write(&blob_s, incbin_asm(".rodata", Some("pyelf_frozen_blob"), &bin))?;
    let names = fs::read_to_string(dir.join("frozen.txt"))?.lines().map(String::from).collect();
    let imports = fs::read_to_string(dir.join("imports.txt"))?.lines().map(String::from).collect();
    Ok(FrozenModules { table_c: dir.join("frozen.c"), blob_s, names, imports })
}
