//! Frozen stdlib modules: the modules an app needs, compiled to code objects and embedded in the
//! binary, so that it reads no file at run time (no /proc, no stdlib directory).

use crate::options::Stdlib;
use crate::toolchain::Toolchain;
use anyhow::{bail, Context, Result};
use fs_err as fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs an app under the toolchain's python3 and writes the names of the modules it imported.
const TRACE_PY: &str = r#"
import atexit, runpy, sys
out, kind, target, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
paths, args = sys.argv[5:5 + count], sys.argv[5 + count:]
sys.path[:0] = paths
before = set(sys.modules)  # the tracer's own; what the app imports of them the analysis sees
def dump():
    with open(out, "w") as f:
        f.write("\n".join(sorted(set(sys.modules) - before)) + "\n")
atexit.register(dump)
sys.argv = [target] + args
if kind == "module":
    runpy.run_module(target.rpartition(".__main__")[0] or target, run_name="__main__", alter_sys=True)
else:
    runpy.run_path(target, run_name="__main__")
"#;

/// Runs the app (a script, or `main_module` as `__main__`) under the toolchain's python3 with
/// `args`, importing from `paths`; writes the names of every module it imported to `out`.
pub fn trace_imports(
    tc: &Toolchain,
    out: &Path,
    main_script: Option<&Path>,
    main_module: Option<&str>,
    paths: &[PathBuf],
    args: &[String],
) -> Result<()> {
    let (kind, target) = match (main_script, main_module) {
        (_, Some(m)) => ("module", m.to_string()),
        (Some(s), _) => ("script", s.display().to_string()),
        _ => bail!("nothing to trace"),
    };
    crate::say!("tracing the imports of a run: {target} {}", args.join(" "));
    let status = Command::new(&tc.build_python)
        .args(["-I", "-S", "-c"])
        .arg(TRACE_PY)
        .arg(out)
        .arg(kind)
        .arg(&target)
        // The paths one an argument each (an argument cannot hold a separator that no path can).
        .arg(paths.len().to_string())
        .args(paths)
        .args(args)
        .status()
        .context("cannot run the toolchain's python3 to trace the app")?;
    if !out.is_file() {
        bail!("the traced run of {target} ended ({status}) without recording its imports");
    }
    crate::say!("traced run ended ({status}); its imports are embedded too");
    Ok(())
}

/// The analysis and code generation, run by the toolchain's python3.
const FREEZE_PY: &str = include_str!("freeze.py");
/// Its deep-freezing part (a module it loads from beside itself).
const DEEPFREEZE_PY: &str = include_str!("deepfreeze.py");

/// Where a module the analysis found comes from (its `kind` in `modules.json`; `freeze.py` gets
/// the names from [`crate::build::freeze::facts_for_analysis`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// Under the app's root.
    App,
    /// A bundled dependency's.
    Dep,
    Stdlib,
}

impl Origin {
    pub const ALL: [Origin; 3] = [Origin::App, Origin::Dep, Origin::Stdlib];

    /// The name both sides use.
    pub fn name(self) -> &'static str {
        match self {
            Origin::App => "app",
            Origin::Dep => "dep",
            Origin::Stdlib => "stdlib",
        }
    }
}

/// How the binary's importer loads a module (the first field of its `MODULES` table; the importer
/// gets the names as constants from [`Load::python_constants`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Load {
    /// Compiled by Cython: a built-in module of the inittab.
    Cython,
    /// Frozen bytecode, in CPython's frozen table: what is imported before the importer exists.
    Bytecode,
    /// Bytecode compressed with zlib, decompressed by the launcher's `_pyelf.get_code` when the
    /// module is first imported.
    Packed,
    /// A namespace package: no code of its own.
    Namespace,
    /// An extension module built from a package's C source: a built-in module of the inittab.
    Extension,
}

impl Load {
    pub const ALL: [Load; 5] = [Load::Cython, Load::Bytecode, Load::Packed, Load::Namespace, Load::Extension];

    pub fn name(self) -> &'static str {
        match self {
            Load::Cython => "cython",
            Load::Bytecode => "bytecode",
            Load::Packed => "packed",
            Load::Namespace => "namespace",
            Load::Extension => "extension",
        }
    }

    /// Python source defining `CYTHON = "cython"` and so on, put in front of the importer.
    pub fn python_constants() -> String {
        Load::ALL.iter().map(|l| format!("{} = {:?}\n", l.name().to_uppercase(), l.name())).collect()
    }
}

/// A module the analysis found.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Found {
    pub name: String,
    /// Its source file; for a namespace package, its (first) directory.
    pub file: PathBuf,
    pub kind: Origin,
    pub package: bool,
    /// A namespace package (PEP 420: a directory without `__init__.py`): no code of its own.
    #[serde(default)]
    pub namespace: bool,
    /// A stdlib module CPython freezes into libpython itself (`os`, `site`, `codecs`, …): not
    /// frozen again, only its source goes into the tree.
    #[serde(default)]
    pub cpython_frozen: bool,
    /// The names of `toolchains/cython-fallbacks.toml` its code uses (app and dependency modules).
    #[serde(default)]
    pub uses: Vec<String>,
}

impl Found {
    /// The app's own module or a dependency's (not the stdlib's): the importer serves it.
    pub fn is_bundled(&self) -> bool {
        matches!(self.kind, Origin::App | Origin::Dep)
    }

    /// Whose meaning its annotations have: Cython's when it imports `cython` (written for
    /// Cython's pure-Python mode).
    pub fn semantics(&self) -> crate::build::cython::Semantics {
        crate::build::cython::semantics_of(&self.uses)
    }

    /// The directory of a package (regular or namespace).
    pub fn package_dir(&self) -> Option<&Path> {
        if !self.package {
            None
        } else if self.namespace {
            Some(&self.file)
        } else {
            self.file.parent()
        }
    }
}

/// A C extension module (a shared library) the app would import.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Extension {
    pub name: String,
    pub file: PathBuf,
}

/// What the import analysis found.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Analysis {
    pub modules: Vec<Found>,
    pub extensions: Vec<Extension>,
    /// Every module name imported, Python or built-in C.
    pub imports: Vec<String>,
    /// The names of `toolchains/cython-fallbacks.toml` the main script's code uses.
    #[serde(default)]
    pub script_uses: Vec<String>,
    /// The warnings python prints each time it compiles the main script (category, message,
    /// line), which the binary gives before running it, as python does.
    #[serde(default)]
    pub script_warnings: Vec<(String, String, u32)>,
    /// The names the app's and its dependencies' modules that import ctypes may look up on a
    /// library it opened (`ctypes.CDLL(None).wcwidth`): the binary exports those musl and
    /// libpython define (`loadable::add_named`).
    #[serde(default)]
    pub ctypes_names: Vec<String>,
    /// Top-level modules the app's own modules import that are found nowhere (not the stdlib, the
    /// app, nor a bundled distribution), with the app modules importing each.
    #[serde(default)]
    pub missing: Vec<Missing>,
}

/// A module the app imports that the build found nowhere.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Missing {
    pub name: String,
    /// The app's modules that import it (`__main__` for the script).
    pub by: Vec<String>,
}

/// Where the analysis starts and what it may see.
pub struct AnalysisInput<'a> {
    /// The main script's file, or (with `main_module`) the module run as `__main__`.
    pub main_script: Option<&'a Path>,
    pub main_module: Option<&'a str>,
    /// Directories to import from, first to last.
    pub paths: &'a [PathBuf],
    pub app_root: &'a Path,
    pub dep_roots: &'a [PathBuf],
    pub include_modules: &'a [String],
    pub include_packages: &'a [String],
    /// Every module of the bundled distributions (importable after `pip install`, so embedded
    /// whether the analysis sees an import of it or not).
    pub dist_modules: &'a [String],
    pub stdlib: Stdlib,
    /// A file of the module names a traced run imported.
    pub traced: Option<&'a Path>,
}

/// One module to freeze as bytecode.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ToFreeze {
    pub name: String,
    pub file: PathBuf,
    pub package: bool,
    /// The file name tracebacks show (default: `<frozen NAME>`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    /// Source to compile instead of the file's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Compressed, out of CPython's frozen table ([`Load::Packed`]).
    pub packed: bool,
    /// Its source's path in the tree: the binary also serves the module's `.pyc` beside it
    /// (`__pycache__`, as pip installs it), for imports that find the file by its path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pyc: Option<String>,
    /// Compiled only for its `.pyc` (a file of the tree with no bytecode in the binary otherwise: a
    /// module Cython compiles, a file no analysed import reaches): not in the tables of modules,
    /// and left out when it does not compile.
    pub pyc_only: bool,
}

impl ToFreeze {
    /// A file of the tree at `arc`, compiled for its `.pyc` alone.
    pub fn pyc_only(arc: &str, file: &Path) -> ToFreeze {
        ToFreeze {
            name: arc.to_string(),
            file: file.to_path_buf(),
            package: false,
            filename: Some(format!("{}/{arc}", crate::runtime::VFS_ROOT)),
            source: None,
            packed: true,
            pyc: Some(arc.to_string()),
            pyc_only: true,
        }
    }
}

/// A file of the embedded data archive.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BundleFile {
    pub arc: String,
    pub file: PathBuf,
}

/// The frozen modules of one app.
pub struct FrozenModules {
    /// C table of the modules (`pyelf_frozen_modules`).
    pub table_c: PathBuf,
    /// Assembly that includes the code blob (`pyelf_frozen_blob`).
    pub blob_s: PathBuf,
    /// Assembly that includes the compressed code blob (`pyelf_packed_blob`; its table is in
    /// `table_c`).
    pub packed_s: PathBuf,
    /// The embedded module names.
    pub names: Vec<String>,
    /// The data archive (`bundle.zip`).
    pub bundle: PathBuf,
    /// The deep-frozen modules' static code objects (`deepfrozen.c`, generated) and the code that
    /// hands them to the import system (`deepfreeze.c`, [`crate::runtime::DEEPFREEZE_C`]).
    pub deep_frozen: [PathBuf; 2],
}

fn run_freeze(tc: &Toolchain, dir: &Path, args: &[std::ffi::OsString], what: &str) -> Result<()> {
    let freeze_py = dir.join("freeze.py");
    fs::write(&freeze_py, FREEZE_PY)?;
    fs::write(dir.join("deepfreeze.py"), DEEPFREEZE_PY)?;
    let facts = dir.join("stdlib-facts.json");
    fs::write(&facts, facts_for_analysis().to_string())?;
    let mut c = Command::new(&tc.build_python);
    c.arg("-I").arg(&freeze_py).args(args).env_clear().env("PYELF_STDLIB_FACTS", &facts);
    // The headers the deep-frozen objects are compiled with (deepfreeze.py reads CPython's list of
    // static strings there).
    c.env("PYELF_TARGET_INCLUDE", tc.root.join("include/python3.13"));
    if tc.is_cross() {
        // The build machine's python analyses the target's stdlib (the same sources but for its
        // _sysconfigdata module, named here).
        c.env("PYELF_TARGET_STDLIB", tc.stdlib()).env("PYELF_TARGET_SYSCONFIGDATA", tc.sysconfigdata()?);
    }
    let out = c.output().context("cannot run the toolchain's python3 for the import analysis")?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        bail!("{what} failed:\n{}", err.trim());
    }
    // Warnings (modules left out) are the user's to see.
    let err = String::from_utf8_lossy(&out.stderr);
    for l in err.lines().filter(|l| l.starts_with("pyelf: warning") || l.starts_with("pyelf: note")) {
        crate::say!("{l}");
    }
    Ok(())
}

/// Finds the modules the app needs; writes `modules.json` into `dir`.
pub fn analyse(tc: &Toolchain, dir: &Path, input: &AnalysisInput) -> Result<Analysis> {
    let mut args: Vec<std::ffi::OsString> = vec!["analyse".into(), dir.into()];
    let mut flag = |k: &str, v: &std::ffi::OsStr| {
        args.push(k.into());
        args.push(v.to_os_string());
    };
    if let Some(m) = input.main_module {
        flag("--module", m.as_ref());
    } else if let Some(s) = input.main_script {
        flag("--script", s.as_os_str());
    }
    for p in input.paths {
        flag("--path", p.as_os_str());
    }
    flag("--app-root", input.app_root.as_os_str());
    for p in input.dep_roots {
        flag("--dep-root", p.as_os_str());
    }
    for m in input.include_modules {
        flag("--include-module", m.as_ref());
    }
    for p in input.include_packages {
        flag("--include-package", p.as_ref());
    }
    flag("--stdlib", if input.stdlib == Stdlib::Full { "full" } else { "auto" }.as_ref());
    if let Some(t) = input.traced {
        flag("--traced", t.as_os_str());
    }
    let dist_modules = dir.join("dist-modules.txt");
    fs::write(&dist_modules, input.dist_modules.iter().map(|m| format!("{m}\n")).collect::<String>())?;
    flag("--dist-modules", dist_modules.as_os_str());
    let what = match (input.main_script, input.main_module) {
        (_, Some(m)) => format!("the import analysis of {m}"),
        (Some(s), _) => format!("the import analysis of {}", s.display()),
        _ => "the import analysis".into(),
    };
    run_freeze(tc, dir, &args, &what)?;
    let text = fs::read_to_string(dir.join("modules.json"))?;
    Ok(serde_json::from_str(&text)?)
}

/// Compiles `modules` to bytecode and writes the frozen table, the blob and the data archive;
/// what `cache` (a directory) holds from earlier builds with the same inputs is reused. The files
/// of the archive named in `aligned` (archive name -> alignment) are stored as they are, their
/// bytes at an offset that is a multiple of the alignment (shared objects the loader maps).
pub fn emit(
    tc: &Toolchain,
    dir: &Path,
    modules: &[ToFreeze],
    bundle: &[BundleFile],
    aligned: &std::collections::BTreeMap<String, u64>,
    cache: Option<&Path>,
) -> Result<FrozenModules> {
    let spec = dir.join("freeze-spec.json");
    fs::write(
        &spec,
        serde_json::to_string(&serde_json::json!({"frozen": modules, "bundle": bundle, "aligned": aligned}))?,
    )?;
    let mut args: Vec<std::ffi::OsString> = vec!["emit".into(), dir.into(), spec.into()];
    args.extend(cache.map(Into::into));
    run_freeze(tc, dir, &args, "freezing the modules")?;
    let bin = dir.join("frozen.bin");
    let blob_s = dir.join("frozen_blob.S");
    fs::write(&blob_s, incbin_asm(".rodata", Some("pyelf_frozen_blob"), &bin))?;
    let packed_s = dir.join("packed_blob.S");
    fs::write(&packed_s, incbin_asm(".rodata", Some("pyelf_packed_blob"), &dir.join("packed.bin")))?;
    let names = fs::read_to_string(dir.join("frozen.txt"))?.lines().map(String::from).collect();
    fs::write(dir.join("deepfreeze.h"), crate::runtime::DEEPFREEZE_H)?;
    fs::write(dir.join("deepfreeze.c"), crate::runtime::DEEPFREEZE_C)?;
    Ok(FrozenModules {
        table_c: dir.join("frozen.c"),
        blob_s,
        packed_s,
        names,
        bundle: dir.join("bundle.zip"),
        deep_frozen: [dir.join("deepfrozen.c"), dir.join("deepfreeze.c")],
    })
}

/// Assembly that embeds the bytes of `file`, followed by a NUL byte, in `section` (the whole
/// `.section` operand), as the symbol `name` with `<name>_end` after them when a name is given.
pub fn incbin_asm(section: &str, name: Option<&str>, file: &Path) -> String {
    incbin_asm_aligned(section, name, file, 16)
}

/// [`incbin_asm`] with the bytes at an address that is a multiple of `align`.
pub fn incbin_asm_aligned(section: &str, name: Option<&str>, file: &Path, align: u64) -> String {
    let (start, end) = match name {
        Some(n) => {
            (format!("    .global {n}\n    .global {n}_end\n    .balign {align}\n{n}:\n"), format!("{n}_end:\n"))
        }
        None => (String::new(), String::new()),
    };
    format!(
        "    .section {section}\n{start}    .incbin \"{}\"\n{end}    .byte 0\n    .section .note.GNU-stack,\"\",@progbits\n",
        file.display()
    )
}

/// The JSON `freeze.py` reads: the facts of the analysis (`toolchains/stdlib.toml`), the names
/// whose use it reports (`toolchains/cython-fallbacks.toml`), and the names of the module origins
/// it reports (so that both sides spell them alike).
pub fn facts_for_analysis() -> serde_json::Value {
    let f = crate::toolchain::stdlib::facts();
    serde_json::json!({
        "startup": f.startup,
        "always_packages": f.always_packages,
        "deep_frozen": f.deep_frozen,
        "full_excluded": f.full_excluded,
        "c_module_deps": f.c_module_deps,
        // (reported in `Found::uses` when an app's or a dependency's module uses them)
        "watched_names": crate::build::fallbacks::rules()
            .watched_names()
            .into_iter()
            .chain(f.runs_given_code.iter().cloned())
            .collect::<Vec<_>>(),
        "cython_module": crate::build::fallbacks::rules().cython_module,
        "origins": Origin::ALL.iter().map(|o| (o.name(), o.name())).collect::<std::collections::BTreeMap<_, _>>(),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_analysis_gets_the_origin_names() {
        let v = super::facts_for_analysis();
        assert_eq!(v["origins"]["app"], "app");
        assert_eq!(v["origins"]["stdlib"], "stdlib");
        assert!(v["c_module_deps"]["_ctypes"].is_array());
    }
}
