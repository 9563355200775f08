//! Cython: installed from PyPI with pip (pinned by hash) beside the toolchains, and run under the
//! toolchain's static python3 to compile the app to C.

use crate::home::Home;
use crate::toolchain::Toolchain;
use anyhow::{bail, Context, Result};
use fs_err as fs;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Command;

/// `toolchains/cython.toml`, as compiled in.
pub const CYTHON_TOML: &str = include_str!("../../toolchains/cython.toml");

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

/// Whose meaning a module's annotations have, as Cython directives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Semantics {
    /// Code written for Python: annotations are not enforced as C types (`def f(x: list)` still
    /// takes a tuple, as in Python).
    Python,
    /// Code written for Cython (it imports `cython`, its pure-Python mode): annotations with
    /// Cython's types (`x: cython.int`) are C types, as Cython compiles such code everywhere.
    Cython,
}

/// The semantics of a module whose code uses the watched names `uses` (`freeze.py`).
pub fn semantics_of(uses: &[String]) -> Semantics {
    if uses.contains(&crate::build::fallbacks::rules().cython_module) {
        Semantics::Cython
    } else {
        Semantics::Python
    }
}

impl Semantics {
    fn directives(self) -> &'static str {
        match self {
            Semantics::Python => "annotation_typing=False",
            Semantics::Cython => "annotation_typing=True",
        }
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
    crate::say!("installing Cython {} with pip (hash-checked)", pin.version);
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
    crate::fsutil::remove_dir_if_present(&dir)?;
    fs::rename(&target, &dir)?;
    Ok(Cython { dir })
}

/// The files of Cython's shadow module: `import cython` under python, where `cython.int`,
/// `@cython.cfunc` and the rest do nothing and `cython.compiled` is False.
const SHADOW_FILES: [&str; 3] = ["cython.py", "Cython/__init__.py", "Cython/Shadow.py"];

/// Writes Cython's shadow module into `dir` (made afresh), for a module written for Cython that
/// runs as bytecode; returns `dir`. Only these files: the analysis follows every import, and the
/// compiler's own (`cython.inline`) are left out.
pub fn shadow(cython: &Cython, dir: &Path) -> Result<PathBuf> {
    crate::fsutil::remove_dir_if_present(dir)?;
    for f in SHADOW_FILES {
        let to = dir.join(f);
        fs::create_dir_all(to.parent().expect("a file has a parent"))?;
        fs::copy(cython.dir.join(f), &to)?;
    }
    Ok(dir.to_path_buf())
}

/// Runs Cython with CPython's positions at its error sites (see [`python_positions`]).
const CYTHON_RUN: &str = include_str!("cython_run.py");

/// Cython's command line, run by the toolchain's python3 in a clean environment: language level
/// 3, annotations as `semantics` says. Files and output options are added by the caller.
fn cython_command(tc: &Toolchain, cython: &Cython, semantics: Semantics) -> Command {
    let mut c = Command::new(&tc.build_python);
    c.arg("-c")
        .arg(CYTHON_RUN)
        .arg(&cython.dir)
        .args(["-3", "-X", semantics.directives()])
        .env_clear()
        .env("LC_ALL", "C.UTF-8");
    c
}

/// Cython's C of one input, kept by a key of everything the C depends on: the Cython install (its
/// directory names the pinned version and wheel), the options, the module's name and path as
/// Cython sees them, and the bytes of the source and of a `.pxd` beside it. Cython's output is
/// the same for the same inputs, so a cached file is what a run would write.
struct CCache {
    dir: PathBuf,
}

/// Bump when what goes into the key or the C changes meaning.
const C_CACHE_VERSION: &str = "pyelf-cython-c-5";

impl CCache {
    fn of(cython: &Cython) -> CCache {
        CCache { dir: cython.dir.join("c-cache") }
    }

    /// `pxds`: [`Pxds::digest`] of the `.pxd` files Cython may read with it.
    fn key(
        cython: &Cython,
        semantics: Semantics,
        module: &str,
        rel: &Path,
        source: &Path,
        pxds: &str,
    ) -> Result<String> {
        let mut h = Sha256::new();
        for part in [
            C_CACHE_VERSION.as_bytes(),
            CYTHON_RUN.as_bytes(),
            cython.dir.to_string_lossy().as_bytes(),
            semantics.directives().as_bytes(),
            module.as_bytes(),
            rel.to_string_lossy().as_bytes(),
            &fs::read(source)?,
            pxds.as_bytes(),
        ] {
            crate::fsutil::framed(&mut h, part);
        }
        Ok(hex::encode(h.finalize()))
    }

    /// Copies the cached C of `key` to `out`; false when there is none.
    fn fetch(&self, key: &str, out: &Path) -> bool {
        fs::copy(self.dir.join(format!("{key}.c")), out).is_ok()
    }

    /// Keeps `c` as the C of `key` (whole or not at all; a failure to keep it is no error).
    fn keep(&self, key: &str, c: &Path) {
        let keep = || -> Result<()> {
            fs::create_dir_all(&self.dir)?;
            crate::fsutil::write_whole(&self.dir.join(format!("{key}.c")), &mut fs::File::open(c)?)
        };
        let _ = keep();
    }
}

/// The `.pxd` files in the directories of some modules (an augmenting `.pxd` beside its module, and
/// those the modules `cimport` from each other): `(path relative to its root, file)`, sorted.
struct Pxds(Vec<(PathBuf, PathBuf)>);

impl Pxds {
    fn beside<'a>(modules: impl IntoIterator<Item = (&'a Path, &'a Path)>) -> Result<Pxds> {
        // Each directory once: many modules share one.
        let dirs: std::collections::BTreeSet<(&Path, &Path)> =
            modules.into_iter().map(|(root, rel)| (root, rel.parent().unwrap_or(Path::new("")))).collect();
        let mut found = std::collections::BTreeMap::new();
        for (root, rel_dir) in dirs {
            let Ok(entries) = fs::read_dir(root.join(rel_dir)) else { continue };
            for entry in entries {
                let path = entry?.path();
                if path.extension().is_some_and(|x| x == "pxd") && path.is_file() {
                    found.insert(rel_dir.join(path.file_name().expect("a file has a name")), path);
                }
            }
        }
        Ok(Pxds(found.into_iter().collect()))
    }

    /// What goes into each module's key: every file's path and bytes ("" when there is none).
    fn digest(&self) -> Result<String> {
        if self.0.is_empty() {
            return Ok(String::new());
        }
        let mut h = Sha256::new();
        for (rel, file) in &self.0 {
            crate::fsutil::framed(&mut h, rel.to_string_lossy().as_bytes());
            crate::fsutil::framed(&mut h, &fs::read(file)?);
        }
        Ok(hex::encode(h.finalize()))
    }
}

/// Compiles `script` to C as module `module`, language level 3 (or takes the C of an earlier run
/// from the cache). A Cython error is returned with its messages (file:line) as Cython printed
/// them.
pub fn compile(
    tc: &Toolchain,
    cython: &Cython,
    semantics: Semantics,
    script: &Path,
    module: &str,
    out_c: &Path,
) -> Result<()> {
    let cache = CCache::of(cython);
    let name = script.file_name().context("the script has no file name")?;
    let script_dir = script.parent().context("the script has no directory")?;
    let pxds = Pxds::beside([(script_dir, Path::new(name))])?;
    let key = CCache::key(cython, semantics, module, Path::new(name), script, &pxds.digest()?)?;
    if cache.fetch(&key, out_c) {
        return Ok(());
    }
    // Cython looks for the augmenting .pxd by the module's name (`__main__.pxd`): with one beside
    // the script (`app.pxd`), it runs in a directory of its own holding the script, the .pxd
    // files, and that one under the module's name.
    let own_pxd = script.with_extension("pxd");
    let scratch = if own_pxd.is_file() && script.file_stem().is_some_and(|stem| stem != module) {
        let scratch = tempfile::Builder::new()
            .prefix("cython-script-")
            .tempdir_in(out_c.parent().context("the C file has a directory")?)?;
        fs::copy(script, scratch.path().join(name))?;
        for (rel, file) in &pxds.0 {
            fs::copy(file, scratch.path().join(rel))?;
        }
        fs::copy(&own_pxd, scratch.path().join(format!("{module}.pxd")))?;
        Some(scratch)
    } else {
        None
    };
    let run_dir = scratch.as_ref().map_or(script_dir, |s| s.path());
    let out = cython_command(tc, cython, semantics)
        .args(["--module-name", module, "-o"])
        .arg(std::path::absolute(out_c)?)
        // Run beside the script with its bare name: tracebacks then show `app.py`, not a
        // path of the build machine.
        .arg(name)
        .current_dir(run_dir)
        .output()
        .context("cannot run Cython")?;
    if !out.status.success() || !out_c.is_file() {
        let mut msg = String::from_utf8_lossy(&out.stderr).trim().to_string();
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !stdout.trim().is_empty() {
            msg = format!("{}\n{msg}", stdout.trim());
        }
        bail!(
            "Cython could not compile {}:\n{msg}\nhint: fix the error above (the script must be valid Python 3)",
            script.display()
        );
    }
    cache.keep(&key, out_c);
    Ok(())
}

/// A module to compile, with its file relative to the root it is imported from.
#[derive(Debug, Clone)]
pub struct ModuleSource {
    pub name: String,
    pub root: PathBuf,
    pub rel: PathBuf,
    pub semantics: Semantics,
}

/// The outcome of compiling a set of modules: C files by module, and the modules Cython could not
/// compile with its reason.
#[derive(Debug, Default)]
pub struct Compiled {
    pub c_files: Vec<(String, PathBuf)>,
    pub failed: Vec<(String, String)>,
}

/// Compiles `modules` (each a package's `__init__.py` or a module file) to C with Cython (one
/// run per core), in a copy of their trees under `dir` (Cython names each module from its package
/// directories, and tracebacks show the paths relative to the root). `packages` are the
/// `__init__.py` files that must be present for those names, compiled or not.
pub fn compile_modules(
    tc: &Toolchain,
    cython: &Cython,
    modules: &[ModuleSource],
    packages: &[ModuleSource],
    dir: &Path,
) -> Result<Compiled> {
    let mut result = Compiled::default();
    // The C of earlier runs, for the modules whose inputs are the same.
    let cache = CCache::of(cython);
    let mut keys = Vec::new();
    let mut to_run = Vec::new();
    let pxds = Pxds::beside(modules.iter().chain(packages).map(|m| (m.root.as_path(), m.rel.as_path())))?;
    let pxd_digest = pxds.digest()?;
    for m in modules {
        let key = CCache::key(cython, m.semantics, &m.name, &m.rel, &m.root.join(&m.rel), &pxd_digest)?;
        let c = dir.join(&m.rel).with_extension("c");
        fs::create_dir_all(c.parent().expect("a module file has a directory"))?;
        if cache.fetch(&key, &c) {
            result.c_files.push((m.name.clone(), c));
        } else {
            keys.push((key, c));
            to_run.push(m.clone());
        }
    }
    // The C files in the order of `modules` whatever came from the cache: the objects' order and
    // the modules' init numbering follow it, and so the binary's bytes.
    let all = modules;
    let in_order = |mut result: Compiled| {
        let at = |name: &str| all.iter().position(|m| m.name == name);
        result.c_files.sort_by_key(|(name, _)| at(name));
        result
    };
    let modules = &to_run[..];
    if modules.is_empty() {
        return Ok(in_order(result));
    }
    for m in modules.iter().chain(packages) {
        let to = dir.join(&m.rel);
        fs::create_dir_all(to.parent().expect("a module file has a directory"))?;
        fs::copy(m.root.join(&m.rel), &to)?;
    }
    // The .pxd files, whose modules came from the cache or not: Cython reads them from there.
    for (rel, file) in &pxds.0 {
        let to = dir.join(rel);
        fs::create_dir_all(to.parent().expect("a file has a directory"))?;
        fs::copy(file, to)?;
    }
    // Every directory above a module is one of its packages: a namespace package (no
    // `__init__.py`) gets an empty one here, or Cython would take `ns.pkg.mod` for `pkg.mod`.
    for m in modules {
        for package in m.rel.ancestors().skip(1).filter(|a| !a.as_os_str().is_empty()) {
            let init = dir.join(package).join("__init__.py");
            if !init.exists() {
                fs::write(&init, "")?;
            }
        }
    }
    // One Cython per core, each with a share of the modules (the biggest first, each to the least
    // loaded): Cython is single-threaded, and each module's C depends only on that module. The
    // modules written for Cython get shares of their own (their directives differ).
    let jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut shares: Vec<(Semantics, Vec<&Path>)> = Vec::new();
    for semantics in [Semantics::Python, Semantics::Cython] {
        let mut by_size: Vec<(u64, &ModuleSource)> = modules
            .iter()
            .filter(|m| m.semantics == semantics)
            .map(|m| (fs::metadata(dir.join(&m.rel)).map(|md| md.len()).unwrap_or(0), m))
            .collect();
        by_size.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.rel.cmp(&b.1.rel)));
        let mut group: Vec<(u64, Vec<&Path>)> = vec![(0, Vec::new()); jobs.min(by_size.len())];
        for (size, m) in by_size {
            let least = group.iter_mut().min_by_key(|s| s.0).expect("at least one share");
            least.0 += size;
            least.1.push(&m.rel);
        }
        shares.extend(group.into_iter().map(|(_, files)| (semantics, files)));
    }
    let outputs: Vec<std::io::Result<std::process::Output>> = std::thread::scope(|scope| {
        let runs: Vec<_> = shares
            .iter()
            .map(|(semantics, files)| {
                scope.spawn(move || cython_command(tc, cython, *semantics).args(files).current_dir(dir).output())
            })
            .collect();
        runs.into_iter().map(|r| r.join().expect("a Cython runner thread panicked")).collect()
    });
    let mut messages = String::new();
    for out in outputs {
        let out = out.context("cannot run Cython")?;
        messages.push_str(&format!(
            "{}\n{}\n",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    for (m, (key, c)) in modules.iter().zip(&keys) {
        if c.is_file() {
            cache.keep(key, c);
            result.c_files.push((m.name.clone(), c.clone()));
        } else {
            let rel = m.rel.display().to_string();
            let reason = messages
                .lines()
                .filter(|l| l.starts_with(&format!("{rel}:")))
                .map(|l| l.trim().to_string())
                .collect::<Vec<_>>()
                .join("; ");
            result
                .failed
                .push((m.name.clone(), if reason.is_empty() { "Cython produced no C code".into() } else { reason }));
        }
    }
    Ok(in_order(result))
}

/// Gives each read and write of an attribute named by a constant in Cython's C (`obj.name`,
/// `obj.name = v`: `__Pyx_PyObject_GetAttrStr(obj, __pyx_mstate_global->__pyx_n_u_name)` and
/// `__Pyx_PyObject_SetAttrStr(obj, …, v)`) a cache of its own, the interpreter's specialisation
/// of `LOAD_ATTR` and `STORE_ATTR` (`runtime/attrcache.h`, which the text then includes after
/// `Python.h`). Calls with any other name argument (Cython's helpers, which get the name passed
/// in) stay as they are: a site's cache is for one name. Returns the text and how many sites were
/// rewritten; a text without `#include "Python.h"` is returned unchanged.
pub fn attribute_caches(c_text: &str) -> (String, usize) {
    let Some(include_at) = c_text.find(PYTHON_H) else { return (c_text.to_string(), 0) };
    let calls =
        [("__Pyx_PyObject_GetAttrStr(", "PYELF_GETATTR(", 2), ("__Pyx_PyObject_SetAttrStr(", "PYELF_SETATTR(", 3)];
    let bytes = c_text.as_bytes();
    let is_word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut out = String::with_capacity(c_text.len() + 64);
    let mut sites = 0;
    let mut copied = 0;
    let mut i = 0;
    // The text is C: calls in string literals (Cython's table of constants, docstrings) and in
    // comments (the Python source Cython quotes) are not calls, and stay as they are.
    while i < bytes.len() {
        match bytes[i] {
            b'"' | b'\'' => i = literal_end(bytes, i),
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                i = bytes[i..].iter().position(|&b| b == b'\n').map_or(bytes.len(), |n| i + n);
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i = bytes[i + 2..].windows(2).position(|w| w == b"*/").map_or(bytes.len(), |n| i + 2 + n + 2);
            }
            b'_' if i == 0 || !is_word(bytes[i - 1]) => {
                match calls.iter().find(|(from, _, _)| bytes[i..].starts_with(from.as_bytes())) {
                    Some((from, to, arity)) => {
                        let args = call_arguments(&c_text[i + from.len()..]);
                        if args.is_some_and(|a| a.len() == *arity && is_name_constant(a[1])) {
                            out.push_str(&c_text[copied..i]);
                            out.push_str(to);
                            copied = i + from.len();
                            sites += 1;
                        }
                        // On inside the arguments: a call there is a site of its own.
                        i += from.len();
                    }
                    None => i += 1,
                }
            }
            _ => i += 1,
        }
    }
    out.push_str(&c_text[copied..]);
    if sites == 0 {
        return (c_text.to_string(), 0);
    }
    let at = include_at + PYTHON_H.len();
    out.insert_str(at, &format!("#include \"{}\"\n", crate::runtime::ATTRCACHE_HEADER));
    (out, sites)
}

/// Where the C string or character literal starting at `start` (its quote) ends: after its closing
/// quote, or at the end of its line if it has none.
fn literal_end(bytes: &[u8], start: usize) -> usize {
    let quote = bytes[start];
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'\n' => return i,
            b if b == quote => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// The top-level arguments of a call whose text after the `(` is `after_paren`, trimmed; None when
/// the parentheses do not close or a string or character literal is among them.
fn call_arguments(after_paren: &str) -> Option<Vec<&str>> {
    let mut depth = 0usize;
    let mut args = Vec::new();
    let mut start = 0;
    for (i, c) in after_paren.char_indices() {
        match c {
            '"' | '\'' => return None,
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' if depth > 0 => depth -= 1,
            ')' => {
                args.push(after_paren[start..i].trim());
                return Some(args);
            }
            ',' if depth == 0 => {
                args.push(after_paren[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    None
}

/// Whether `arg` is one of the module's interned names (`__pyx_mstate_global->__pyx_n_u_x`): the
/// same string at every call of a site.
fn is_name_constant(arg: &str) -> bool {
    ["__pyx_mstate_global->__pyx_n_u_", "__pyx_mstate_global->__pyx_n_s_"].iter().any(|p| {
        arg.strip_prefix(p)
            .is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
    })
}

/// Renames a Cython module's init function `PyInit_<last name>` to `symbol` in its C text, so
/// that modules with the same last name (`a.util`, `b.util`) can be linked together.
pub fn rename_init(c_text: &str, module: &str, symbol: &str) -> String {
    let last = module.rsplit('.').next().unwrap_or(module);
    let from = format!("PyInit_{last}");
    let mut out = String::with_capacity(c_text.len());
    let mut rest = c_text;
    while let Some(i) = rest.find(&from) {
        let after = &rest[i + from.len()..];
        let before_ok = !rest[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_');
        let after_ok = !after.starts_with(|c: char| c.is_alphanumeric() || c == '_');
        out.push_str(&rest[..i]);
        out.push_str(if before_ok && after_ok { symbol } else { &from });
        rest = after;
    }
    out.push_str(rest);
    out
}

/// The line number a re-raise gives the error position (see [`python_tracebacks`]): no traceback
/// entry is added for it.
const RERAISE_LINE: &str = "-1";

/// Makes the tracebacks of a Cython module's C look as python's: its file is `file` (its path in
/// the binary's tree, where linecache reads the source line), code at module level is `<module>`
/// (Cython says `init pkg.mod` or `pkg.mod`), and a function is named by its own name, not its
/// dotted path (`pkg.mod.Class.method` is `method`).
///
/// A re-raise adds no entry, as python's `raise` with no exception and a `with` block whose
/// `__exit__` lets the exception go on add none (CPython's RERAISE and its re-raise in
/// `RAISE_VARARGS` unwind without `PyTraceBack_Here`). Cython adds an entry for a function when
/// an `except` clause catches the exception, and again when the exception leaves the function,
/// so a re-raised exception showed the function twice: once at the line that raised and once at
/// the `raise` or the `with`. Cython's re-raise (its ReraiseStatNode: `__Pyx_ErrRestoreWithState`
/// or `__Pyx_ReraiseException`, then the error goto) now marks the error position with line
/// [`RERAISE_LINE`], and `__Pyx_AddTraceback` adds nothing for that line. Whatever raises anew
/// after it (a call failing in a `finally` or a handler) sets a line of its own.
pub fn python_tracebacks(c_text: &str, module: &str, file: &str) -> String {
    let mut out = String::with_capacity(c_text.len() + file.len());
    let mut lines = c_text.split_inclusive('\n');
    let mut in_files = false;
    // Lines left before the error goto of a re-raise (the exception is restored, its variables
    // cleared, and the goto follows).
    let mut reraise_within = 0;
    let mut in_add_traceback = false;
    // The C function the line is in, for the entries of lambdas and generator expressions.
    let mut c_function = "";
    for line in lines.by_ref() {
        if starts_function(line) {
            let head = line.split('(').next().unwrap_or("");
            c_function = head.rsplit([' ', '*']).next().unwrap_or("");
        }
        if in_files && line.trim_start().starts_with('"') {
            // The first (and, for Python source, the only) file of the module.
            out.push_str(&format!("  {file:?},\n"));
            in_files = false;
            continue;
        }
        in_files = line.starts_with("static const char* const __pyx_f[] = {")
            || line.starts_with("static const char *__pyx_f[] = {");
        let code = line.trim_start();
        if code.starts_with("__Pyx_ErrRestoreWithState(") {
            reraise_within = 2;
        } else if code.starts_with("__Pyx_ReraiseException();") {
            reraise_within = 1;
        } else if reraise_within > 0 {
            reraise_within -= 1;
            if let Some(args) = code.strip_prefix("__PYX_ERR(") {
                let mut parts = args.splitn(3, ',');
                if let (Some(f), Some(_line), Some(rest)) = (parts.next(), parts.next(), parts.next()) {
                    let indent = &line[..line.len() - code.len()];
                    // No position: no entry is added for it.
                    let rest = match rest.split_once(AT_MARK) {
                        Some((call, after)) => format!("{call}{}", after.split_once("*/").map_or("\n", |a| a.1)),
                        None => rest.to_string(),
                    };
                    out.push_str(&format!("{indent}__PYX_ERR({f}, {RERAISE_LINE},{rest}"));
                    reraise_within = 0;
                    continue;
                }
            }
        }
        if line.starts_with("static void __Pyx_AddTraceback(const char *funcname, int c_line,") {
            in_add_traceback = true;
        } else if in_add_traceback {
            in_add_traceback = false;
            if line.trim_end().ends_with("const char *filename) {") {
                out.push_str(line);
                out.push_str(&format!("    if (py_line == {RERAISE_LINE}) return; /* pyelf: a re-raise */\n"));
                continue;
            }
        }
        const CALL: &str = "__Pyx_AddTraceback(\"";
        match line.find(CALL) {
            Some(i) => {
                let start = i + CALL.len();
                let end = start + line[start..].find('"').unwrap_or(0);
                let name = &line[start..end];
                let short = if name == module || name.strip_prefix("init ") == Some(module) {
                    "<module>"
                } else {
                    name.strip_prefix(module)
                        .and_then(|r| r.strip_prefix('.'))
                        .map_or(name, |r| r.rsplit('.').next().unwrap_or(r))
                };
                let short = anonymous_name(short, c_function).unwrap_or(short);
                out.push_str(&line[..start]);
                out.push_str(short);
                out.push_str(&line[end..]);
            }
            None => out.push_str(line),
        }
    }
    out
}

/// The comment `cython_run.py` puts after an error position: `END_LINE COL END_COL*/`.
const AT_MARK: &str = "/*pyelf-at ";

/// Gives the frames a Cython module adds to tracebacks CPython's positions of the operation that
/// failed (the lines of the expression and its columns), from which `traceback` draws its
/// `~~~^^^` markers, as it does for python's own frames.
///
/// `cython_run.py` writes each position as a comment after Cython's `__PYX_ERR(file, line, label)`
/// or `__PYX_MARK_ERR_POS(file, line)`. Here each distinct position becomes a site of the
/// module's table `__pyelf_sites` (end line, column, end column, and a method call's lookup's
/// line, end line, column and end column), the call `__PYELF_ERR(file, line, site, label)` (or
/// `__PYELF_MARK_ERR_POS`), which sets Cython's `__pyx_clineno` to the site's number, and every
/// other error position sets it to 0. Cython passes it to `__Pyx_AddTraceback` as `c_line`, which
/// keys its cache of code objects by it; it now keeps it (Cython zeroes it without C lines in
/// tracebacks), or takes the lookup's instead when that failed (`__pyelf_site`).
/// `runtime/positions.c` replaces `__Pyx_CreateCodeObjectForTraceback`: a code object with the
/// site's position.
///
/// A module without positions, or whose C lacks one of the places changed, is returned as it
/// was, the comments aside.
pub fn python_positions(c_text: &str) -> String {
    const MACROS: [(&str, &str); 2] =
        [("__PYX_ERR(", "__PYELF_ERR("), ("__PYX_MARK_ERR_POS(", "__PYELF_MARK_ERR_POS(")];
    const DEFINED: &str =
        "#define __PYX_ERR(f_index, lineno, Ln_error) \\\n    { __PYX_MARK_ERR_POS(f_index, lineno) goto Ln_error; }\n";
    const CLINE: &str = "        c_line = __Pyx_CLineForTraceback(tstate, c_line);\n";
    const CREATE: &str = "static PyCodeObject* __Pyx_CreateCodeObjectForTraceback(\n";
    // Each distinct position (its line, the numbers of the comment, the method's name), by site.
    let mut sites: Vec<(i64, Position)> = Vec::new();
    let mut numbered: std::collections::HashMap<(i64, Position), usize> = std::collections::HashMap::new();
    let mut out = String::with_capacity(c_text.len());
    let mut rest = c_text;
    while let Some((mark, end, at)) = next_position(rest) {
        let before = &rest[..mark];
        let call = MACROS.iter().filter_map(|(m, ours)| before.rfind(m).map(|i| (i, m.len(), *ours))).max();
        let args: Option<Vec<&str>> =
            call.and_then(|(i, len, _)| before[i + len..].strip_suffix(')')).map(|a| a.split(", ").collect());
        let line_no = args.as_ref().and_then(|a| a.get(1)).and_then(|l| l.parse::<i64>().ok());
        match (call, args, line_no) {
            (Some((start, _, ours)), Some(mut args), Some(line_no)) if !before[start..].contains('\n') => {
                let key = (line_no, at);
                let n = *numbered.entry(key.clone()).or_insert_with(|| {
                    sites.push(key);
                    sites.len()
                });
                let n = n.to_string();
                args.insert(2, &n);
                out.push_str(&before[..start]);
                out.push_str(&format!("{ours}{})", args.join(", ")));
            }
            _ => out.push_str(before),
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    let complete = [DEFINED, CLINE, CREATE].iter().all(|p| out.contains(p));
    if sites.is_empty() || !complete {
        // The comments only, as if there were no positions.
        let mut plain = String::with_capacity(c_text.len());
        let mut rest = c_text;
        while let Some((mark, end, _)) = next_position(rest) {
            plain.push_str(&rest[..mark]);
            rest = &rest[end..];
        }
        plain.push_str(rest);
        return plain;
    }
    let macros = format!(
        "{DEFINED}/* pyelf: the error position's site in __pyelf_sites, or 0 (cython::python_positions) */\n\
         #undef __PYX_MARK_ERR_POS\n\
         #define __PYX_MARK_ERR_POS(f_index, lineno) __PYELF_MARK_ERR_POS(f_index, lineno, 0)\n\
         #define __PYELF_MARK_ERR_POS(f_index, lineno, site)  {{ __pyx_filename = __pyx_f[f_index]; (void) __pyx_filename; \
         __pyx_lineno = lineno; (void) __pyx_lineno; __pyx_clineno = site; (void) __pyx_clineno; }}\n\
         #define __PYELF_ERR(f_index, lineno, site, Ln_error) {{ __PYELF_MARK_ERR_POS(f_index, lineno, site) goto Ln_error; }}\n"
    );
    let out = out.replacen(DEFINED, &macros, 1).replacen(
        CLINE,
        "        c_line = __pyelf_site(c_line, &py_line); /* pyelf: cython::python_positions */\n",
        1,
    );
    // Cython's function, from its first line to its closing brace, gives way to the table and
    // runtime/positions.c.
    let start = out.find(CREATE).expect("checked above");
    let end = out[start..].find("\n}\n").map_or(out.len(), |e| start + e + 3);
    let mut table = String::from("static const int __pyelf_sites[][7] = {\n");
    let mut names = String::from("static const char *const __pyelf_site_names[] = {\n");
    for (_, at) in &sites {
        let row: Vec<String> = at.numbers.iter().map(|n| n.to_string()).collect();
        table.push_str(&format!("    {{{}}},\n", row.join(", ")));
        match &at.method {
            Some(name) => names.push_str(&format!("    {},\n", c_string(name))),
            None => names.push_str("    NULL,\n"),
        }
    }
    table.push_str("};\n");
    names.push_str("};\n");
    format!("{}{table}{names}{}{}", &out[..start], crate::runtime::POSITIONS_C, &out[end..])
}

/// A position `cython_run.py` wrote: end line, column, end column, and for a method call the
/// lookup's line, end line, column and end column (zeros otherwise) and the method's name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Position {
    numbers: [i64; 7],
    method: Option<String>,
}

/// The first position comment in `text` that follows a call's `)`: where it starts, where it
/// ends, and what it says. Other text that looks like one (in a string of the app's, say) is no
/// position.
fn next_position(text: &str) -> Option<(usize, usize, Position)> {
    let mut from = 0;
    while let Some(i) = text[from..].find(AT_MARK).map(|i| from + i) {
        from = i + AT_MARK.len();
        let Some(len) = text[from..].find("*/").filter(|&l| l < 200) else { continue };
        if !text[..i].ends_with(')') {
            continue;
        }
        let fields: Vec<&str> = text[from..from + len].split(' ').collect();
        let numbers: Option<Vec<i64>> = fields.iter().take(7).map(|f| f.parse().ok()).collect();
        let position = match (numbers.as_deref(), fields.len()) {
            (Some(&[a, b, c]), 3) => Position { numbers: [a, b, c, 0, 0, 0, 0], method: None },
            (Some(&[a, b, c, d, e, f, g]), 8) if fields[7].chars().all(|c| c == '_' || c.is_alphanumeric()) => {
                Position { numbers: [a, b, c, d, e, f, g], method: Some(fields[7].to_string()) }
            }
            _ => continue,
        };
        return Some((i, from + len + 2, position));
    }
    None
}

/// `s` as a C string literal (bytes beyond ASCII escaped).
fn c_string(s: &str) -> String {
    let mut out = String::from("\"");
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b == b'_' {
            out.push(b as char);
        } else {
            out.push_str(&format!("\\{b:03o}"));
        }
    }
    out.push('"');
    out
}

/// The line of Cython's C after which the passes put what their rewritten code calls.
const PYTHON_H: &str = "#include \"Python.h\"\n";

/// Whether `line` begins the definition of a C function in Cython's C: not a prototype, which ends
/// with `;` (a generator's body has its brace on the next line).
fn starts_function(line: &str) -> bool {
    line.starts_with("static ") && line.contains('(') && !line.contains(';')
}

/// Whether `line` begins Cython's wrapper of a Python function that returns an object
/// (`__pyx_pw_…`, `__pyx_Upw_…` for a name beyond ASCII). The wrappers of an extension type's
/// special methods return an int or a Py_ssize_t.
fn starts_object_wrapper(line: &str) -> bool {
    line.starts_with("static PyObject *__pyx_pw_") || line.starts_with("static PyObject *__pyx_Upw_")
}

/// Python's name of a lambda or a generator expression (`<lambda>`, `<genexpr>`), which Cython
/// names `lambda`, `lambda1`, … and `genexpr` in tracebacks, told from a function a user named so by
/// the C function the entry is added in: Cython's `__pyx_lambda_funcdef_…` for a lambda, the
/// generator's body `__pyx_gb_…` or the function that makes it, `…_genexpr` (a `def genexpr` is
/// `…_<n>genexpr`).
fn anonymous_name(short: &str, c_function: &str) -> Option<&'static str> {
    let lambda = short.strip_prefix("lambda").is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()));
    if lambda && c_function.starts_with("__pyx_lambda_funcdef_") {
        return Some("<lambda>");
    }
    let maker = c_function
        .strip_suffix("genexpr")
        .is_some_and(|f| f.ends_with('_') && !f.trim_end_matches('_').ends_with(|c: char| c.is_ascii_digit()));
    (short == "genexpr" && (c_function.starts_with("__pyx_gb_") || maker)).then_some("<genexpr>")
}

/// Python 3.13's ImportError of `from module import name` (Python/ceval.c's `import_from`).
const IMPORT_FROM_ERROR: &str = "/* pyelf: python's ImportError of `from module import name` (cython::python_messages) */\n\
static void __pyelf_import_from_error(PyObject *module, PyObject *name) {\n\
\x20   PyObject *package = PyObject_GetAttrString(module, \"__name__\");\n\
\x20   if (package == NULL || !PyUnicode_Check(package)) {\n\
\x20       PyErr_Clear();\n\
\x20       Py_CLEAR(package);\n\
\x20   }\n\
\x20   PyObject *shown = package != NULL ? Py_NewRef(package) : PyUnicode_FromString(\"<unknown module name>\");\n\
\x20   PyObject *path = PyModule_Check(module) ? PyModule_GetFilenameObject(module) : NULL;\n\
\x20   PyObject *message = NULL;\n\
\x20   if (path == NULL || !PyUnicode_Check(path)) {\n\
\x20       PyErr_Clear();\n\
\x20       Py_CLEAR(path);\n\
\x20       message = shown != NULL ? PyUnicode_FromFormat(\"cannot import name %R from %R (unknown location)\", name, shown) : NULL;\n\
\x20   } else if (shown != NULL) {\n\
\x20       PyObject *spec = PyObject_GetAttrString(module, \"__spec__\");\n\
\x20       PyObject *initializing = spec != NULL ? PyObject_GetAttrString(spec, \"_initializing\") : NULL;\n\
\x20       int partial = initializing != NULL && PyObject_IsTrue(initializing) > 0;\n\
\x20       PyErr_Clear();\n\
\x20       message = PyUnicode_FromFormat(partial ? \"cannot import name %R from partially initialized module %R \"\n\
\x20                                                \"(most likely due to a circular import) (%S)\"\n\
\x20                                              : \"cannot import name %R from %R (%S)\",\n\
\x20                                      name, shown, path);\n\
\x20       Py_XDECREF(initializing);\n\
\x20       Py_XDECREF(spec);\n\
\x20   }\n\
\x20   if (message != NULL) {\n\
\x20       PyErr_SetImportError(message, package, path);\n\
\x20       PyObject *error = PyErr_GetRaisedException();\n\
\x20       if (error != NULL && PyObject_SetAttrString(error, \"name_from\", name) < 0)\n\
\x20           PyErr_Clear();\n\
\x20       PyErr_SetRaisedException(error);\n\
\x20   }\n\
\x20   if (message == NULL && !PyErr_Occurred())\n\
\x20       PyErr_Format(PyExc_ImportError, \"cannot import name %S\", name);\n\
\x20   Py_XDECREF(message);\n\
\x20   Py_XDECREF(path);\n\
\x20   Py_XDECREF(shown);\n\
\x20   Py_XDECREF(package);\n\
}\n";

/// Gives errors whose words Cython took from older Pythons CPython 3.13's messages:
///
/// | error | Cython | CPython 3.13 |
/// |---|---|---|
/// | slicing what cannot be sliced | "'int' object is unsliceable" | "'int' object is not subscriptable" |
/// | assigning or deleting a slice of it | "does not support slice assignment" | "does not support item assignment" |
/// | a local read before it is assigned | "local variable 'x' referenced before assignment" | "cannot access local variable 'x' where it is not associated with a value" |
/// | a free variable read before it is | "free variable 'x' referenced before assignment in enclosing scope" | "cannot access free variable 'x' where it is not associated with a value in enclosing scope" |
/// | `raise 5` | "raise: exception class must be a subclass of BaseException" | "exceptions must derive from BaseException" |
/// | an index of bytes out of range | "string index out of range" | "index out of range" (a str's stays "string index …") |
/// | `from os import nopez` | "cannot import name nopez" | "cannot import name 'nopez' from 'os' (/…/os.py)", with the error's `name`, `path` and `name_from` |
///
/// (Cython's `__Pyx_PyObject_GetSlice` and `__Pyx_PyObject_SetSlice` slice where CPython goes
/// through the subscript.)
pub fn python_messages(c_text: &str) -> String {
    const CYTHON_TO_CPYTHON: [(&str, &str); 6] = [
        ("' object is unsliceable\"", "' object is not subscriptable\""),
        ("' object does not support slice assignment\"", "' object does not support item assignment\""),
        ("' object does not support slice deletion\"", "' object does not support item deletion\""),
        (
            "\"local variable '%s' referenced before assignment\"",
            "\"cannot access local variable '%s' where it is not associated with a value\"",
        ),
        (
            "\"free variable '%s' referenced before assignment in enclosing scope\"",
            "\"cannot access free variable '%s' where it is not associated with a value in enclosing scope\"",
        ),
        (
            "\"raise: exception class must be a subclass of BaseException\"",
            "\"exceptions must derive from BaseException\"",
        ),
    ];
    const IMPORT_FROM: &str = "static PyObject* __Pyx_ImportFrom(PyObject* module, PyObject* name) {\n";
    const IMPORT_ERROR: &str = "PyErr_Format(PyExc_ImportError, \"cannot import name %S\", name);";
    const BYTES_INDEX: &str = "static CYTHON_INLINE int __Pyx_GetItemInt_Bytes_Fast(PyObject* bytes, Py_ssize_t index,";
    const STRING_INDEX: &str = "\"string index out of range\"";
    let mut text =
        CYTHON_TO_CPYTHON.iter().fold(c_text.to_string(), |text, (cython, cpython)| text.replace(cython, cpython));
    // bytes' indexing: its macro (the one whose error value is -1, a str's is (Py_UCS4)-1) and
    // the body of its function (the declaration that ends in a brace, not the prototype).
    text = text.replace(&format!("{STRING_INDEX}, has_gil), -1))"), "\"index out of range\", has_gil), -1))");
    // `from m import name` where m has no name: python's ImportError, with its `name`, `path` and
    // `name_from` (from which the traceback suggests a name); Cython said "cannot import name x".
    if let Some(at) = text.find(IMPORT_FROM) {
        if let Some(error) = text[at..].find(IMPORT_ERROR).map(|e| at + e) {
            text.replace_range(error..error + IMPORT_ERROR.len(), "__pyelf_import_from_error(module, name);");
            // (Before the function: the helper's own fallback is Cython's words.)
            text.insert_str(at, IMPORT_FROM_ERROR);
        }
    }
    let mut from = 0;
    while let Some(at) = text[from..].find(BYTES_INDEX).map(|a| from + a) {
        from = at + BYTES_INDEX.len();
        let Some(close) = text[from..].find(')').map(|c| from + c) else { break };
        if !text[close..].starts_with(") {") {
            continue;
        }
        let end = text[close..].find("\n}\n").map_or(text.len(), |e| close + e);
        if let Some(message) = text[close..end].find(STRING_INDEX).map(|m| close + m) {
            text.replace_range(message..message + STRING_INDEX.len(), "\"index out of range\"");
        }
    }
    text
}

/// Names lambdas `<lambda>`, as python does (`(lambda: 0).__name__`, and the messages that name
/// the function): Cython named them `lambda`, `lambda1`, … in their `PyMethodDef`, from which a
/// CyFunction takes its `__name__` (their `__qualname__` was python's already).
pub fn python_lambda_names(c_text: &str) -> String {
    let mut out = String::with_capacity(c_text.len());
    for line in c_text.split_inclusive('\n') {
        let lambda = line.starts_with("static PyMethodDef __pyx_mdef_") && line.contains("__pyx_lambda_funcdef_");
        let name = lambda
            .then(|| line.split_once(" = {\"lambda"))
            .flatten()
            .and_then(|(head, rest)| rest.split_once("\", ").map(|(digits, tail)| (head, digits, tail)))
            .filter(|(_, digits, _)| digits.bytes().all(|b| b.is_ascii_digit()));
        match name {
            Some((head, _, tail)) => out.push_str(&format!("{head} = {{\"<lambda>\", {tail}")),
            None => out.push_str(line),
        }
    }
    out
}

/// Gives compiled generators, coroutines and async generators what python's keep and show: their
/// `__name__`, `__qualname__` and code once they have finished (Cython's `__Pyx_Coroutine_clear`,
/// called when one finishes, dropped them: `g.__name__` was None, and so was an asyncio task's
/// coroutine in its repr), and python's repr, `<generator object gen at 0x…>` (Cython's types had
/// none: `<_cython_3_3_1.generator object at 0x…>`). The rest of what the clear drops, the
/// closure and the frame, goes as before; a garbage collection or the object's end still clears
/// all. And an async generator never started ends with no "coroutine … was never awaited"
/// RuntimeWarning, which python gives coroutines alone.
pub fn python_generators(c_text: &str) -> String {
    const PROTO: &str = "static int __Pyx_Coroutine_clear(PyObject *self);\n";
    const DEFINITION: &str = "static int __Pyx_Coroutine_clear(PyObject *self) {\n";
    const FINISHED: &str = "  __Pyx_Coroutine_clear((PyObject*)__pyx_generator);\n";
    const DEALLOC_SLOT: &str = "    {Py_tp_dealloc, (void *)__Pyx_Coroutine_dealloc},\n";
    let Some(defined) = c_text.find(DEFINITION) else { return c_text.to_string() };
    let Some(end) = c_text[defined..].find("\n}\n").map(|e| defined + e + 3) else { return c_text.to_string() };
    let helpers = "/* pyelf: a finished generator keeps its names and code (cython::python_generators) */\n\
                   static int __pyelf_coroutine_finished(PyObject *self) {\n\
                   \x20   __pyx_CoroutineObject *gen = (__pyx_CoroutineObject *) self;\n\
                   \x20   PyObject *code = gen->gi_code, *name = gen->gi_name, *qualname = gen->gi_qualname, *module = gen->gi_modulename;\n\
                   \x20   gen->gi_code = gen->gi_name = gen->gi_qualname = gen->gi_modulename = NULL;\n\
                   \x20   __Pyx_Coroutine_clear(self);\n\
                   \x20   gen->gi_code = code; gen->gi_name = name; gen->gi_qualname = qualname; gen->gi_modulename = module;\n\
                   \x20   return 0;\n\
                   }\n\
                   static PyObject *__pyelf_coroutine_repr(PyObject *self, const char *kind) {\n\
                   \x20   PyObject *qualname = ((__pyx_CoroutineObject *) self)->gi_qualname;\n\
                   \x20   if (qualname == NULL)\n\
                   \x20       return PyUnicode_FromFormat(\"<%s object at %p>\", kind, self);\n\
                   \x20   return PyUnicode_FromFormat(\"<%s object %S at %p>\", kind, qualname, self);\n\
                   }\n\
                   static CYTHON_UNUSED PyObject *__pyelf_generator_repr(PyObject *self) { return __pyelf_coroutine_repr(self, \"generator\"); }\n\
                   static CYTHON_UNUSED PyObject *__pyelf_coroutine_type_repr(PyObject *self) { return __pyelf_coroutine_repr(self, \"coroutine\"); }\n\
                   static CYTHON_UNUSED PyObject *__pyelf_async_generator_repr(PyObject *self) { return __pyelf_coroutine_repr(self, \"async_generator\"); }\n";
    let mut out = String::with_capacity(c_text.len() + helpers.len() + 512);
    out.push_str(&c_text[..end]);
    out.push_str(helpers);
    out.push_str(&c_text[end..]);
    let mut out = out.replacen(PROTO, &format!("{PROTO}static int __pyelf_coroutine_finished(PyObject *self);\n"), 1);
    out = out.replace(FINISHED, "  __pyelf_coroutine_finished((PyObject*)__pyx_generator);\n");
    // An async generator never started is not "a coroutine never awaited": python warns of
    // coroutines alone.
    out = out.replacen(
        "    if (!__Pyx_Generator_CheckExact(self))\n#endif\n",
        "    if (!__Pyx_Generator_CheckExact(self))\n#endif\n#ifdef __Pyx_AsyncGen_USED\n    if (!__Pyx_AsyncGen_CheckExact(self))\n#endif\n",
        1,
    );
    // A finished one has no frame (its code, kept now, would give it one).
    out = out.replacen(
        "    if (!frame) {\n        if (unlikely(!self->gi_code)) {\n",
        "    if (!frame) {\n        if (unlikely(!self->gi_code || self->resume_label < 0)) {\n",
        1,
    );
    for (slots, repr) in [
        ("static PyType_Slot __pyx_GeneratorType_slots[] = {\n", "__pyelf_generator_repr"),
        ("static PyType_Slot __pyx_CoroutineType_slots[] = {\n", "__pyelf_coroutine_type_repr"),
        ("static PyType_Slot __pyx_AsyncGenType_slots[] = {\n", "__pyelf_async_generator_repr"),
    ] {
        if let Some(at) = out.find(slots).map(|a| a + slots.len()) {
            if out[at..].starts_with(DEALLOC_SLOT) {
                out.insert_str(at, &format!("    {{Py_tp_repr, (void *){repr}}},\n"));
            }
        }
    }
    out
}

/// Gives a `with` (and `async with`) on an object that is no context manager CPython 3.13's error:
/// "TypeError: 'int' object does not support the context manager protocol", and "(missed __exit__
/// method)" after it when only `__enter__` is there. Cython looks `__exit__` up first, as a
/// special method, and raised "AttributeError: __exit__". Its lookup
/// (`__Pyx_PyObject_LookupSpecial(mgr, …__pyx_n_u_exit)`) becomes `__PYELF_WITH_EXIT`, which
/// checks the type for `__enter__` and then `__exit__` (as CPython's BEFORE_WITH looks them up)
/// before the same lookup.
pub fn python_with_messages(c_text: &str) -> String {
    const LOOKUP: &str = "__Pyx_PyObject_LookupSpecial(";
    const NAMES: &str = "__pyx_mstate_global->__pyx_n_u_";
    let mut out = String::with_capacity(c_text.len());
    let mut rest = c_text;
    let mut changed = false;
    while let Some(at) = rest.find(LOOKUP) {
        let args_at = at + LOOKUP.len();
        let call = rest[args_at..].find(')').map(|end| &rest[args_at..args_at + end]);
        let parts = call.and_then(|c| c.rsplit_once(", "));
        let which = parts.and_then(|(_, name)| name.strip_prefix(NAMES)).and_then(|n| match n {
            "exit" => Some(("enter", "", "__exit__")),
            "aexit" => Some(("aenter", "asynchronous ", "__aexit__")),
            _ => None,
        });
        match (call, parts, which) {
            (Some(call), Some((mgr, exit)), Some((enter, kind, name))) => {
                out.push_str(&rest[..at]);
                out.push_str(&format!("__PYELF_WITH_EXIT({mgr}, {NAMES}{enter}, {exit}, \"{kind}\", \"{name}\")"));
                rest = &rest[args_at + call.len() + 1..];
                changed = true;
            }
            _ => {
                out.push_str(&rest[..args_at]);
                rest = &rest[args_at..];
            }
        }
    }
    out.push_str(rest);
    if !changed {
        return out;
    }
    const MACRO: &str = "/* pyelf: a `with` on what is no context manager fails as in CPython 3.13 (cython::python_with_messages) */\n\
        #define __PYELF_WITH_EXIT(mgr, enter, exit, kind, name) ({ \\\n\
        \x20   PyObject *__pyelf_mgr = (mgr), *__pyelf_exit = NULL; \\\n\
        \x20   if (_PyType_Lookup(Py_TYPE(__pyelf_mgr), (enter)) == NULL) \\\n\
        \x20       PyErr_Format(PyExc_TypeError, \"'%.200s' object does not support the %scontext manager protocol\", \\\n\
        \x20                    Py_TYPE(__pyelf_mgr)->tp_name, kind); \\\n\
        \x20   else if (_PyType_Lookup(Py_TYPE(__pyelf_mgr), (exit)) == NULL) \\\n\
        \x20       PyErr_Format(PyExc_TypeError, \\\n\
        \x20                    \"'%.200s' object does not support the %scontext manager protocol (missed %s method)\", \\\n\
        \x20                    Py_TYPE(__pyelf_mgr)->tp_name, kind, name); \\\n\
        \x20   else \\\n\
        \x20       __pyelf_exit = __Pyx_PyObject_LookupSpecial(__pyelf_mgr, (exit)); \\\n\
        \x20   __pyelf_exit; })\n";
    format!("{MACRO}{out}")
}

/// Counts the calls of a compiled module's functions against python's recursion limit, as
/// CPython counts each Python frame it enters (`_Py_EnterRecursivePy`): a recursion that never
/// ends raises "RecursionError: maximum recursion depth exceeded" at the depth python does, where
/// Cython's C calls went on until the C stack overflowed (SIGSEGV). A function's Python entry
/// point (Cython's `__pyx_pw_…` wrapper, which calls its body `__pyx_pf_…` or
/// `__pyx_lambda_funcdef_…`) and each resumption of a generator or coroutine (`self->body(…)` in
/// Cython's `__Pyx_Coroutine_SendEx`) count one frame, with the interpreter's own counter
/// (`sys.setrecursionlimit` applies).
pub fn python_recursion(c_text: &str) -> String {
    const RESUME: &str = "    retval = self->body(self, tstate, value);\n";
    const COUNTER: &str = "/* pyelf: python's recursion limit for compiled calls (cython::python_recursion) */\n\
        extern _Thread_local PyThreadState *_Py_tss_tstate; /* the interpreter's own: a thread's state, inline */\n\
        static inline int __pyelf_enter_recursive(void) {\n\
        \x20   PyThreadState *ts = _Py_tss_tstate;\n\
        \x20   if (__builtin_expect(ts->py_recursion_remaining-- > 0, 1) || ts->recursion_headroom)\n\
        \x20       return 0;\n\
        \x20   ts->py_recursion_remaining++;\n\
        \x20   ts->recursion_headroom++;\n\
        \x20   PyErr_SetString(PyExc_RecursionError, \"maximum recursion depth exceeded\");\n\
        \x20   ts->recursion_headroom--;\n\
        \x20   return -1;\n\
        }\n\
        static inline void __pyelf_leave_recursive(void) {\n\
        \x20   _Py_tss_tstate->py_recursion_remaining++;\n\
        }\n";
    if !c_text.contains(PYTHON_H) {
        return c_text.to_string();
    }
    let mut out = String::with_capacity(c_text.len() + 1024);
    // Whether the wrapper the line is in returns an object (Cython's wrappers of special methods of
    // extension types return an int or a Py_ssize_t, and are no Python frame).
    let mut in_object_wrapper = false;
    for line in c_text.split_inclusive('\n') {
        if starts_function(line) {
            in_object_wrapper = starts_object_wrapper(line);
        }
        let call = line
            .strip_prefix("  __pyx_r = ")
            .filter(|c| ["__pyx_pf_", "__pyx_Upf_", "__pyx_lambda_funcdef_"].iter().any(|p| c.starts_with(p)))
            .and_then(|c| c.strip_suffix(";\n"))
            .filter(|_| in_object_wrapper);
        if let Some(call) = call {
            out.push_str(&format!(
                "  if (unlikely(__pyelf_enter_recursive())) __pyx_r = NULL; else {{ __pyx_r = {call}; __pyelf_leave_recursive(); }}\n"
            ));
        } else if line == RESUME {
            // Past the limit, CPython unwinds the frame without running it: no handler of the
            // generator's runs, and it is finished. Closing it (GeneratorExit pending) then
            // succeeds, as CPython's close of a frame it does not enter does.
            out.push_str(
                "    if (unlikely(__pyelf_enter_recursive())) {\n\
                 \x20       self->resume_label = -1;\n\
                 \x20       __Pyx_Coroutine_clear((PyObject *)self);\n\
                 \x20       if (closing) PyErr_SetNone(PyExc_GeneratorExit);\n\
                 \x20       retval = NULL;\n\
                 \x20   } else {\n\
                 \x20       retval = self->body(self, tstate, value);\n\
                 \x20       __pyelf_leave_recursive();\n\
                 \x20   }\n",
            );
        } else {
            out.push_str(line);
        }
    }
    out.replacen(PYTHON_H, &format!("{PYTHON_H}{COUNTER}"), 1)
}

/// Gives a compiled function called with the wrong arguments python's TypeError
/// (`runtime/arguments.c`): "two() missing 1 required positional argument: 'b'" where Cython said
/// "two() takes exactly 2 positional arguments (1 given)", and each of python's other messages
/// (too many positional arguments, keyword-only ones missing, positional-only ones passed as
/// keywords, a misspelt keyword and the one python suggests), named by the function's qualified
/// name. And no traceback entry for the function, which python's call never entered (Cython added
/// one at its `def` line).
///
/// In the wrappers of Python functions (`__pyx_pw_…(PyObject *__pyx_self, …)`, which return
/// objects, and parse a vectorcall's or a tuple's arguments) the error label of the argument
/// parsing calls `__pyelf_python_arguments` with the arguments, which binds them as python would.
/// A function of no arguments or of one (Cython's METH_NOARGS and METH_O, checked by the
/// CyFunction's own call) gets python's words from `__pyelf_argument_count` and
/// `__pyelf_missing_arguments`, and a keyword given to it `__pyelf_unexpected_keyword`.
pub fn python_arguments(c_text: &str) -> String {
    const COUNT_ERROR: &str =
        "static void __Pyx_CyFunction_raise_argument_count_error(PyObject *func, const char* message, Py_ssize_t size) {\n";
    const PARSED: &str = "PyObject *const *__pyx_args, Py_ssize_t __pyx_nargs, PyObject *__pyx_kwds\n";
    if !c_text.contains(PYTHON_H) {
        return c_text.to_string();
    }
    let mut out = String::with_capacity(c_text.len() + 4096);
    let mut in_wrapper = false;
    // Whether the wrapper parses its arguments (its signature has them), and so has their label.
    let mut parses = false;
    let mut previous = "";
    let mut lines = c_text.split_inclusive('\n');
    while let Some(line) = lines.next() {
        if starts_function(line) {
            in_wrapper = starts_object_wrapper(line) && line.contains("(PyObject *__pyx_self,");
            parses = false;
        }
        if line == COUNT_ERROR {
            // Cython's error of a function of no arguments, or of one (METH_NOARGS, METH_O).
            out.push_str(line);
            out.push_str(
                "    /* pyelf: python's words (cython::python_arguments) */\n\
                 \x20   const char *name = __Pyx_CyFunction_MethodDef(__Pyx_as_CyFunctionObject(func))->ml_name;\n\
                 \x20   Py_ssize_t expected = strcmp(message, \"takes no arguments\") == 0 ? 0 : 1;\n\
                 \x20   if (__Pyx_as_CyFunctionObject(func)->flags & __Pyx_CYFUNCTION_CCLASS) {\n\
                 \x20       /* A method of an extension type, its self not counted: Cython's words. */\n\
                 \x20       PyErr_Format(PyExc_TypeError, \"%.200s() %s (%zd given)\", name, message, size);\n\
                 \x20       return;\n\
                 \x20   }\n\
                 \x20   if (size >= expected) {\n\
                 \x20       __pyelf_argument_count(func, name, expected, expected, size, NULL);\n\
                 \x20       return;\n\
                 \x20   }\n\
                 \x20   PyObject *code = PyObject_GetAttrString(func, \"__code__\");\n\
                 \x20   PyObject *varnames = code != NULL ? PyObject_GetAttrString(code, \"co_varnames\") : NULL;\n\
                 \x20   if (varnames != NULL && PyTuple_Check(varnames) && PyTuple_GET_SIZE(varnames) > 0) {\n\
                 \x20       PyObject *first = PyTuple_GET_ITEM(varnames, 0);\n\
                 \x20       PyObject **const first_name[] = {&first};\n\
                 \x20       __pyelf_missing_arguments(func, name, \"positional\", first_name, NULL, 0, 1);\n\
                 \x20   } else {\n\
                 \x20       PyErr_Clear();\n\
                 \x20       PyErr_Format(PyExc_TypeError, \"%.200s() %s (%zd given)\", name, message, size);\n\
                 \x20   }\n\
                 \x20   Py_XDECREF(varnames);\n\
                 \x20   Py_XDECREF(code);\n\
                 }\n",
            );
            // Cython's body, to its closing brace.
            for skipped in lines.by_ref() {
                if skipped == "}\n" {
                    break;
                }
            }
            previous = "}\n";
            continue;
        }
        let code = line.trim_start();
        if line == "            func, \"takes no keyword arguments\");\n"
            && previous.trim() == "__Pyx_CyFunction_raise_type_error("
            && out.ends_with(previous)
        {
            // In Cython's check of the vectorcall's arguments, where `kwnames` holds them.
            out.truncate(out.len() - previous.len());
            out.push_str("        __pyelf_unexpected_keyword(func, PyTuple_GET_ITEM(kwnames, 0)); /* pyelf */\n");
            previous = line;
            continue;
        }
        out.push_str(line);
        parses |= in_wrapper && line == PARSED;
        let error_label = code
            .strip_prefix("__pyx_L")
            .and_then(|l| l.strip_suffix("_error:;\n"))
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        if parses && error_label {
            // The label every error of the argument parsing goes to.
            out.push_str("  __pyelf_argument_error = __PYELF_PYTHON_ARGUMENTS(__pyx_self, __pyx_args, __pyx_nargs, __pyx_kwds);\n");
        } else if parses && code.starts_with("if (unlikely(__pyx_nargs > 0)) { __Pyx_RaiseArgtupleInvalid(") {
            // A function of `**kw` alone checks that no positional argument came, and returns.
            let checked = line.replacen(
                "); return NULL; }",
                "); __PYELF_PYTHON_ARGUMENTS(__pyx_self, __pyx_args, __pyx_nargs, __pyx_kwds); return NULL; }",
                1,
            );
            out.truncate(out.len() - line.len());
            out.push_str(&checked);
        } else if parses && code.starts_with("__Pyx_AddTraceback(") {
            // No entry for a call with the wrong arguments, which python's call never enters.
            out.truncate(out.len() - line.len());
            out.push_str(&format!(
                "{indent}if (!__pyelf_argument_error) {code}{indent}__pyelf_argument_error = 0;\n",
                indent = &line[..line.len() - code.len()]
            ));
        }
        previous = line;
    }
    out.replacen(PYTHON_H, &format!("{PYTHON_H}{}", crate::runtime::ARGUMENTS_C), 1)
}

/// Gives the errors of division by zero in the arithmetic Cython does in C the messages CPython
/// 3.13 gives (Cython's are older Python's, or 3.14's):
///
/// | operation | Cython | CPython 3.13 |
/// |---|---|---|
/// | `x / y`, floats | float division | float division by zero |
/// | `x // y`, floats | float division | float floor division by zero |
/// | `x % y`, floats | float divmod() | float modulo by zero |
/// | `x % y`, C integers | integer division or modulo by zero | integer modulo by zero |
/// | `divmod(x, y)`, floats | division by zero | float divmod() |
/// | `divmod(x, y)`, C integers | division by zero | integer division or modulo by zero |
///
/// A division's check comes a few lines before the operation, which tells which one it is (a
/// floor division calls `floor`, a modulo `__Pyx_mod_…`); `divmod` is a function of Cython's
/// (`__Pyx_divmod_float_…`, `__Pyx_divmod_int_…`). Left as it is: `1 / 0` of two integer
/// constants, which Cython computes in C doubles ("division by zero" in python), the only true
/// division of integers Cython does in C in code written for Python.
pub fn python_zero_division(c_text: &str) -> String {
    const SET: &str = "PyErr_SetString(PyExc_ZeroDivisionError, \"";
    let lines: Vec<&str> = c_text.split_inclusive('\n').collect();
    let mut out = String::with_capacity(c_text.len());
    let mut in_divmod: Option<&str> = None;
    for (i, line) in lines.iter().enumerate() {
        if line.starts_with("static CYTHON_INLINE") && line.contains(" __Pyx_divmod_") && line.trim_end().ends_with('{')
        {
            in_divmod = Some(if line.contains(" __Pyx_divmod_float_") {
                "float divmod()"
            } else {
                "integer division or modulo by zero"
            });
        } else if line.starts_with('}') {
            in_divmod = None;
        }
        let Some(at) = line.find(SET) else {
            out.push_str(line);
            continue;
        };
        let start = at + SET.len();
        let Some(len) = line[start..].find('"') else {
            out.push_str(line);
            continue;
        };
        let ahead = || lines[i + 1..lines.len().min(i + 8)].concat();
        let message = match (&line[start..start + len], in_divmod) {
            ("division by zero", Some(divmod)) => divmod,
            ("float division", None) if ahead().contains("floor(") => "float floor division by zero",
            ("float division", None) => "float division by zero",
            ("float divmod()", None) => "float modulo by zero",
            ("integer division or modulo by zero", None) if ahead().contains("__Pyx_mod_") => "integer modulo by zero",
            (same, _) => same,
        };
        out.push_str(&line[..start]);
        out.push_str(message);
        out.push_str(&line[start + len..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_c_cache_key_follows_every_input_and_keeps_whole_files() {
        let dir = tempfile::tempdir().unwrap();
        let cython = Cython { dir: dir.path().join("cython-3.3.1") };
        let src = dir.path().join("mod.py");
        fs::write(&src, "x = 1\n").unwrap();
        let pxds = || Pxds::beside([(dir.path(), Path::new("mod.py"))]).unwrap().digest().unwrap();
        let key = |name: &str, rel: &str| {
            CCache::key(&cython, Semantics::Python, name, Path::new(rel), &src, &pxds()).unwrap()
        };
        let k = key("pkg.mod", "pkg/mod.py");
        assert_eq!(k, key("pkg.mod", "pkg/mod.py"));
        assert_ne!(k, key("other.mod", "pkg/mod.py"), "the module name");
        assert_ne!(k, key("pkg.mod", "other/mod.py"), "the path Cython sees");
        let cython_semantics = CCache::key(&cython, Semantics::Cython, "pkg.mod", Path::new("pkg/mod.py"), &src, "");
        assert_ne!(k, cython_semantics.unwrap(), "the directives");
        fs::write(&src, "x = 2\n").unwrap();
        assert_ne!(k, key("pkg.mod", "pkg/mod.py"), "the source");
        let k2 = key("pkg.mod", "pkg/mod.py");
        fs::write(src.with_extension("pxd"), "cdef int x\n").unwrap();
        let k3 = key("pkg.mod", "pkg/mod.py");
        assert_ne!(k2, k3, "a .pxd beside it");
        fs::write(dir.path().join("shared.pxd"), "cdef int y\n").unwrap();
        assert_ne!(k3, key("pkg.mod", "pkg/mod.py"), "another .pxd it may cimport");
        let other = Cython { dir: dir.path().join("cython-3.4.0") };
        assert_ne!(
            key("pkg.mod", "pkg/mod.py"),
            CCache::key(&other, Semantics::Python, "pkg.mod", Path::new("pkg/mod.py"), &src, &pxds()).unwrap()
        );

        let cache = CCache::of(&cython);
        let out = dir.path().join("out.c");
        assert!(!cache.fetch(&k, &out));
        fs::write(dir.path().join("made.c"), "/* C */").unwrap();
        cache.keep(&k, &dir.path().join("made.c"));
        assert!(cache.fetch(&k, &out));
        assert_eq!(fs::read_to_string(&out).unwrap(), "/* C */");
    }

    #[test]
    fn tracebacks_name_the_tree_file_and_the_functions_as_python_does() {
        let c = "static const char* const __pyx_f[] = {\n  \"app.py\",\n};\n\
                 __Pyx_AddTraceback(\"init __main__\", 1, 2, f);\n\
                 __Pyx_AddTraceback(\"__main__\", 1, 2, f);\n\
                 __Pyx_AddTraceback(\"__main__.K.m\", 1, 2, f);\n\
                 static PyObject *__pyx_lambda_funcdef_lambda1(CYTHON_UNUSED PyObject *__pyx_self) {\n\
                 __Pyx_AddTraceback(\"__main__.f.lambda1\", 1, 2, f);\n\
                 }\n\
                 static PyObject *__pyx_pf_8__main__6genexp_genexpr(CYTHON_UNUSED PyObject *__pyx_self) {\n\
                 __Pyx_AddTraceback(\"__main__.genexp.genexpr\", 1, 2, f);\n\
                 }\n\
                 static PyObject *__pyx_gb_8__main__6genexp_2generator(__pyx_CoroutineObject *g) /* generator body */\n{\n\
                 __Pyx_AddTraceback(\"genexpr\", 1, 2, f);\n\
                 }\n\
                 static PyObject *__pyx_pf_8__main__7genexpr(CYTHON_UNUSED PyObject *__pyx_self) {\n\
                 __Pyx_AddTraceback(\"__main__.genexpr\", 1, 2, f);\n\
                 }\n\
                 static PyObject *__pyx_pf_8__main__2lambda1(CYTHON_UNUSED PyObject *__pyx_self) {\n\
                 __Pyx_AddTraceback(\"__main__.lambda1\", 1, 2, f);\n\
                 x = \"__main__.f\";\n";
        let out = python_tracebacks(c, "__main__", "/__pyelf__/app.py");
        assert!(out.contains("  \"/__pyelf__/app.py\",\n};"), "{out}");
        assert_eq!(out.matches("__Pyx_AddTraceback(\"<module>\"").count(), 2, "{out}");
        assert!(out.contains("__Pyx_AddTraceback(\"m\", 1"), "{out}");
        assert_eq!(out.matches("__Pyx_AddTraceback(\"<lambda>\", 1").count(), 1, "{out}");
        // The function that makes a generator expression and its body (a generator's body
        // function opens its brace on the next line).
        assert_eq!(out.matches("__Pyx_AddTraceback(\"<genexpr>\", 1").count(), 2, "{out}");
        // Functions a user named so keep their names.
        assert!(out.contains("__Pyx_AddTraceback(\"genexpr\", 1"), "{out}");
        assert!(out.contains("__Pyx_AddTraceback(\"lambda1\", 1"), "{out}");
        assert!(out.contains("x = \"__main__.f\";"), "other strings stay: {out}");
    }

    #[test]
    fn error_positions_become_sites_of_a_table_the_traceback_code_reads() {
        let head = "#define __PYX_ERR(f_index, lineno, Ln_error) \\\n    { __PYX_MARK_ERR_POS(f_index, lineno) goto Ln_error; }\n";
        let add = "static void __Pyx_AddTraceback(const char *funcname, int c_line,\n\
                   \x20                              int py_line, const char *filename) {\n\
                   \x20   if (c_line) {\n\
                   \x20       c_line = __Pyx_CLineForTraceback(tstate, c_line);\n\
                   \x20   }\n\
                   }\n";
        let create = "static PyCodeObject* __Pyx_CreateCodeObjectForTraceback(\n\
                      \x20           const char *funcname, int c_line,\n\
                      \x20           int py_line, const char *filename) {\n\
                      \x20   py_code = PyCode_NewEmpty(filename, funcname, py_line);\n\
                      }\n";
        let body = "  if (unlikely(!t)) __PYX_ERR(0, 7, __pyx_L1_error)/*pyelf-at 7 11 16*/\n\
                    \x20 { __PYX_ERR(0, 7, __pyx_L1_error)/*pyelf-at 7 11 16*/ } x = 1; __PYX_MARK_ERR_POS(0, 9)/*pyelf-at 10 4 5*/\n\
                    \x20 __PYX_ERR(0, 12, __pyx_L5_except_error)\n\
                    \x20 if (!r) __PYX_ERR(0, 14, __pyx_L1_error)/*pyelf-at 15 4 9 15 15 4 7 strip*/\n\
                    \x20 s = \"/*pyelf-at 1 2 3*/\"; t = f(x)/*pyelf-at 1 2*/;\n";
        let c = format!("{head}{body}{create}{add}");
        let out = python_positions(&c);
        assert_eq!(out.matches(AT_MARK).count(), 2, "{out}");
        // One site for each distinct position, in order.
        assert_eq!(out.matches("__PYELF_ERR(0, 7, 1, __pyx_L1_error)").count(), 2, "{out}");
        assert!(out.contains(" } x = 1; __PYELF_MARK_ERR_POS(0, 9, 2)\n"), "{out}");
        assert!(out.contains("  if (!r) __PYELF_ERR(0, 14, 3, __pyx_L1_error)\n"), "{out}");
        assert!(out
            .contains("static const char *const __pyelf_site_names[] = {\n    NULL,\n    NULL,\n    \"strip\",\n};\n"));
        // What only looks like a position stays.
        assert!(out.contains("  s = \"/*pyelf-at 1 2 3*/\"; t = f(x)/*pyelf-at 1 2*/;\n"), "{out}");
        assert!(
            out.contains(
                "static const int __pyelf_sites[][7] = {\n    {7, 11, 16, 0, 0, 0, 0},\n    {10, 4, 5, 0, 0, 0, 0},\n    \
                 {15, 4, 9, 15, 15, 4, 7},\n};\n"
            ),
            "{out}"
        );
        // A position without one is site 0, and Cython's c_line reaches the code object.
        assert!(out.contains("  __PYX_ERR(0, 12, __pyx_L5_except_error)\n"), "{out}");
        assert!(out.contains("#define __PYX_MARK_ERR_POS(f_index, lineno) __PYELF_MARK_ERR_POS(f_index, lineno, 0)\n"));
        assert!(!out.contains("__Pyx_CLineForTraceback(tstate, c_line)"), "{out}");
        assert!(out.contains("        c_line = __pyelf_site(c_line, &py_line);"), "{out}");
        assert!(out.contains(crate::runtime::POSITIONS_C), "{out}");
        assert!(!out.contains("py_code = PyCode_NewEmpty"), "Cython's function is replaced: {out}");
        let after = out.split(crate::runtime::POSITIONS_C).nth(1).unwrap();
        assert!(after.starts_with("static void __Pyx_AddTraceback("), "{out}");

        // Without positions, or without the places to change, only the comments go.
        let plain = format!("{head}  __PYX_ERR(0, 12, L)\n{create}{add}");
        assert_eq!(python_positions(&plain), plain);
        let without = format!("{head}{body}{add}");
        let bare = without
            .replace("/*pyelf-at 7 11 16*/", "")
            .replace("/*pyelf-at 10 4 5*/", "")
            .replace("/*pyelf-at 15 4 9 15 15 4 7 strip*/", "");
        assert_eq!(python_positions(&without), bare);
    }

    #[test]
    fn errors_cython_words_as_older_pythons_did_say_what_python_313_says() {
        let c = "            \"'\" __Pyx_FMT_TYPENAME \"' object is unsliceable\", obj);\n\
                 \x20               \"'\" __Pyx_FMT_TYPENAME \"' object does not support slice assignment\" :\n\
                 \x20               \"'\" __Pyx_FMT_TYPENAME \"' object does not support slice deletion\",\n\
                 \x20   PyErr_Format(PyExc_UnboundLocalError, \"local variable '%s' referenced before assignment\", varname);\n\
                 \x20   PyErr_Format(PyExc_NameError, \"free variable '%s' referenced before assignment in enclosing scope\", v);\n\
                 \x20           \"raise: exception class must be a subclass of BaseException\");\n\
                 \x20   (__Pyx_SetStringIndexingError(\"string index out of range\", has_gil), -1))\n\
                 static CYTHON_INLINE int __Pyx_GetItemInt_Bytes_Fast(PyObject* bytes, Py_ssize_t index,\n\
                 \x20                                                    int wraparound, int boundscheck, int has_gil);\n\
                 \x20   (__Pyx_SetStringIndexingError(\"string index out of range\", has_gil), (Py_UCS4)-1))\n\
                 static CYTHON_INLINE int __Pyx_GetItemInt_Bytes_Fast(PyObject* bytes, Py_ssize_t index,\n\
                 \x20                                                    int wraparound, int boundscheck, int has_gil) {\n\
                 \x20           __Pyx_SetStringIndexingError(\"string index out of range\", has_gil);\n\
                 }\n\
                 static CYTHON_INLINE Py_UCS4 __Pyx_GetItemInt_Unicode_Fast(PyObject* ustring, Py_ssize_t i,\n\
                 \x20           __Pyx_SetStringIndexingError(\"string index out of range\", has_gil);\n\
                 }\n";
        let out = python_messages(c);
        for want in [
            "\"' object is not subscriptable\", obj);",
            "\"' object does not support item assignment\" :",
            "\"' object does not support item deletion\",",
            "\"cannot access local variable '%s' where it is not associated with a value\", varname);",
            "\"cannot access free variable '%s' where it is not associated with a value in enclosing scope\", v);",
            "\"exceptions must derive from BaseException\");",
            "(__Pyx_SetStringIndexingError(\"index out of range\", has_gil), -1))",
            "has_gil) {\n            __Pyx_SetStringIndexingError(\"index out of range\", has_gil);\n}\n",
        ] {
            assert!(out.contains(want), "{want}\n{out}");
        }
        let import = "static PyObject* __Pyx_ImportFrom(PyObject* module, PyObject* name) {\n\
                      \x20   if (unlikely(!value)) {\n\
                      \x20       PyErr_Format(PyExc_ImportError, \"cannot import name %S\", name);\n\
                      \x20   }\n\
                      }\n";
        let out_import = python_messages(import);
        assert!(out_import.contains("static void __pyelf_import_from_error(PyObject *module, PyObject *name) {"));
        assert!(out_import.contains("        __pyelf_import_from_error(module, name);\n"), "{out_import}");
        // The helper falls back on Cython's words where it cannot say python's.
        assert!(out_import.contains("        PyErr_Format(PyExc_ImportError, \"cannot import name %S\", name);\n"));
        // A str's index error stays "string index out of range", as python's does.
        assert_eq!(out.matches("\"string index out of range\"").count(), 2, "{out}");
    }

    #[test]
    fn lambdas_are_named_as_python_names_them() {
        let c = "static PyMethodDef __pyx_mdef_3f32_4make___pyx_lambda_funcdef_lambda = {\"lambda\", (PyCFunction)f, METH_O, 0};\n\
                 static PyMethodDef __pyx_mdef_3f32_5make2___pyx_lambda_funcdef_lambda1 = {\"lambda1\", (PyCFunction)g, METH_NOARGS, 0};\n\
                 static PyMethodDef __pyx_mdef_3f32_1lambda1 = {\"lambda1\", (PyCFunction)h, METH_NOARGS, 0};\n";
        let out = python_lambda_names(c);
        assert!(out.contains("_lambda = {\"<lambda>\", (PyCFunction)f, METH_O, 0};\n"), "{out}");
        assert!(out.contains("_lambda1 = {\"<lambda>\", (PyCFunction)g, METH_NOARGS, 0};\n"), "{out}");
        // A function the user named lambda1 keeps its name.
        assert!(out.contains("__pyx_mdef_3f32_1lambda1 = {\"lambda1\","), "{out}");
    }

    #[test]
    fn finished_generators_keep_their_names_and_show_pythons_repr() {
        let c = "static int __Pyx_Coroutine_clear(PyObject *self);\n\
                 static PyObject *__pyx_gb_3app_2generator(__pyx_CoroutineObject *__pyx_generator) {\n\
                 \x20 __Pyx_Coroutine_clear((PyObject*)__pyx_generator);\n\
                 }\n\
                 static int __Pyx_Coroutine_clear(PyObject *self) {\n\
                 \x20   Py_CLEAR(gen->gi_name);\n\
                 }\n\
                 \x20   if (!frame) {\n        if (unlikely(!self->gi_code)) {\n\
                 static PyType_Slot __pyx_GeneratorType_slots[] = {\n\
                 \x20   {Py_tp_dealloc, (void *)__Pyx_Coroutine_dealloc},\n\
                 };\n";
        let out = python_generators(c);
        for want in [
            "static int __Pyx_Coroutine_clear(PyObject *self);\nstatic int __pyelf_coroutine_finished(PyObject *self);\n",
            "  __pyelf_coroutine_finished((PyObject*)__pyx_generator);\n}\n",
            "    Py_CLEAR(gen->gi_name);\n}\n/* pyelf: a finished generator keeps",
            "if (unlikely(!self->gi_code || self->resume_label < 0)) {",
            "{\n    {Py_tp_repr, (void *)__pyelf_generator_repr},\n    {Py_tp_dealloc,",
        ] {
            assert!(out.contains(want), "{want}\n{out}");
        }
        assert_eq!(python_generators("no generators\n"), "no generators\n");
    }

    #[test]
    fn a_with_on_what_is_no_context_manager_fails_as_in_python_313() {
        let c = "  __pyx_t_2 = __Pyx_PyObject_LookupSpecial(__pyx_t_1, __pyx_mstate_global->__pyx_n_u_exit); if (unlikely(!__pyx_t_2)) x;\n\
                 \x20 __pyx_t_5 = __Pyx_PyObject_LookupSpecial(__pyx_t_1, __pyx_mstate_global->__pyx_n_u_enter); if (!__pyx_t_5) y;\n\
                 \x20 __pyx_t_3 = __Pyx_PyObject_LookupSpecial(__pyx_t_4, __pyx_mstate_global->__pyx_n_u_aexit); z;\n";
        let out = python_with_messages(c);
        assert!(out.starts_with("/* pyelf: a `with`"), "{out}");
        assert!(out.contains("does not support the %scontext manager protocol (missed %s method)"), "{out}");
        assert!(
            out.contains(
                "  __pyx_t_2 = __PYELF_WITH_EXIT(__pyx_t_1, __pyx_mstate_global->__pyx_n_u_enter, \
                 __pyx_mstate_global->__pyx_n_u_exit, \"\", \"__exit__\"); if (unlikely(!__pyx_t_2)) x;\n"
            ),
            "{out}"
        );
        // The lookup of `__enter__` stays Cython's.
        assert!(
            out.contains("__pyx_t_5 = __Pyx_PyObject_LookupSpecial(__pyx_t_1, __pyx_mstate_global->__pyx_n_u_enter);")
        );
        assert!(out.contains(
            "__pyx_t_3 = __PYELF_WITH_EXIT(__pyx_t_4, __pyx_mstate_global->__pyx_n_u_aenter, \
             __pyx_mstate_global->__pyx_n_u_aexit, \"asynchronous \", \"__aexit__\"); z;\n"
        ));
        // Without a `with`, nothing changes.
        let plain = "  x = __Pyx_PyObject_LookupSpecial(o, __pyx_mstate_global->__pyx_n_u_enter);\n";
        assert_eq!(python_with_messages(plain), plain);
    }

    #[test]
    fn compiled_calls_count_against_the_recursion_limit() {
        let c = "#include \"Python.h\"\n\
                 static PyObject *__pyx_pw_3app_1r(PyObject *__pyx_self, PyObject *__pyx_v_n) {\n\
                 \x20 __pyx_r = __pyx_pf_3app_r(__pyx_self, __pyx_v_n);\n\
                 \x20 __pyx_r = __pyx_lambda_funcdef_lambda(__pyx_self);\n\
                 \x20 __pyx_r = __pyx_f_3app_c(__pyx_v_n);\n\
                 }\n\
                 static int __pyx_pw_3app_1K_1__init__(PyObject *__pyx_v_self, PyObject *__pyx_args) {\n\
                 \x20 __pyx_r = __pyx_pf_3app_1K___init__(__pyx_v_self);\n\
                 }\n\
                 \x20   retval = self->body(self, tstate, value);\n";
        let out = python_recursion(c);
        assert!(out.starts_with("#include \"Python.h\"\n/* pyelf: python's recursion limit"), "{out}");
        assert!(out.contains(
            "  if (unlikely(__pyelf_enter_recursive())) __pyx_r = NULL; else { __pyx_r = __pyx_pf_3app_r(__pyx_self, \
             __pyx_v_n); __pyelf_leave_recursive(); }\n"
        ));
        assert!(out.contains("else { __pyx_r = __pyx_lambda_funcdef_lambda(__pyx_self); __pyelf_leave_recursive(); }"));
        // A C function's call is no Python frame.
        assert!(out.contains("\n  __pyx_r = __pyx_f_3app_c(__pyx_v_n);\n"), "{out}");
        // A wrapper that returns an int is no Python function's.
        assert!(out.contains("\n  __pyx_r = __pyx_pf_3app_1K___init__(__pyx_v_self);\n"), "{out}");
        assert!(
            out.contains("    if (unlikely(__pyelf_enter_recursive())) {\n        self->resume_label = -1;\n"),
            "{out}"
        );
        assert!(out.contains("        retval = self->body(self, tstate, value);\n        __pyelf_leave_recursive();\n"));
        assert_eq!(python_recursion("no include\n"), "no include\n");
    }

    #[test]
    fn wrong_arguments_get_pythons_messages_in_the_wrappers_of_python_functions() {
        let c = "#include \"Python.h\"\n\
                 static PyObject *__pyx_pw_3app_1two(PyObject *__pyx_self, \n\
                 #if CYTHON_VECTORCALL\n\
                 PyObject *const *__pyx_args, Py_ssize_t __pyx_nargs, PyObject *__pyx_kwds\n\
                 #else\n\
                 PyObject *__pyx_args, PyObject *__pyx_kwds\n\
                 #endif\n\
                 ) {\n\
                 \x20 __pyx_L5_argtuple_error:;\n\
                 \x20 __Pyx_RaiseArgtupleInvalid(\"two\", 1, 2, 2, __pyx_nargs); __PYX_ERR(0, 1, __pyx_L3_error)\n\
                 \x20 __pyx_L3_error:;\n\
                 \x20 __Pyx_AddTraceback(\"two\", __pyx_clineno, __pyx_lineno, __pyx_filename);\n\
                 }\n\
                 static PyObject *__pyx_pw_3app_5kw(PyObject *__pyx_self, \n\
                 PyObject *const *__pyx_args, Py_ssize_t __pyx_nargs, PyObject *__pyx_kwds\n\
                 \x20 if (unlikely(__pyx_nargs > 0)) { __Pyx_RaiseArgtupleInvalid(\"kw\", 1, 0, 0, __pyx_nargs); return NULL; }\n\
                 }\n\
                 static PyObject *__pyx_pw_3app_3one(PyObject *__pyx_self, PyObject *__pyx_v_x) {\n\
                 \x20 __pyx_L1_error:;\n\
                 \x20 __Pyx_AddTraceback(\"one\", __pyx_clineno, __pyx_lineno, __pyx_filename);\n\
                 }\n\
                 static int __pyx_pw_3app_1K_1__init__(PyObject *__pyx_v_self, PyObject *__pyx_args, PyObject *__pyx_kwds) {\n\
                 PyObject *const *__pyx_args, Py_ssize_t __pyx_nargs, PyObject *__pyx_kwds\n\
                 \x20 __pyx_L3_error:;\n\
                 \x20 __Pyx_AddTraceback(\"__init__\", __pyx_clineno, __pyx_lineno, __pyx_filename);\n\
                 }\n\
                 static CYTHON_INLINE int __Pyx_CyFunction_Vectorcall_CheckArgs(PyObject *func, __pyx_CyFunctionObject *cyfunc, Py_ssize_t nargs, PyObject *kwnames)\n\
                 {\n\
                 \x20       __Pyx_CyFunction_raise_type_error(\n\
                 \x20           func, \"takes no keyword arguments\");\n\
                 }\n";
        let out = python_arguments(c);
        assert!(out.starts_with("#include \"Python.h\"\n/* A compiled function called with the wrong arguments"));
        for want in [
            // Cython's own message stays where it is raised; the label replaces it.
            "  __Pyx_RaiseArgtupleInvalid(\"two\", 1, 2, 2, __pyx_nargs); __PYX_ERR(0, 1, __pyx_L3_error)\n  \
             __pyx_L3_error:;\n  \
             __pyelf_argument_error = __PYELF_PYTHON_ARGUMENTS(__pyx_self, __pyx_args, __pyx_nargs, __pyx_kwds);\n  \
             if (!__pyelf_argument_error) __Pyx_AddTraceback(\"two\", __pyx_clineno, __pyx_lineno, __pyx_filename);\n  \
             __pyelf_argument_error = 0;\n}\n",
            "  if (unlikely(__pyx_nargs > 0)) { __Pyx_RaiseArgtupleInvalid(\"kw\", 1, 0, 0, __pyx_nargs); \
             __PYELF_PYTHON_ARGUMENTS(__pyx_self, __pyx_args, __pyx_nargs, __pyx_kwds); return NULL; }\n",
            "        __pyelf_unexpected_keyword(func, PyTuple_GET_ITEM(kwnames, 0)); /* pyelf */\n",
        ] {
            assert!(out.contains(want), "{want}\n{out}");
        }
        // A wrapper that parses no arguments (METH_O), and one with no function object (an
        // extension type's special method), stay Cython's.
        assert!(out.contains("  __pyx_L1_error:;\n  __Pyx_AddTraceback(\"one\","), "{out}");
        assert!(out.contains("  __pyx_L3_error:;\n  __Pyx_AddTraceback(\"__init__\","), "{out}");
        assert_eq!(out.matches("__PYELF_PYTHON_ARGUMENTS(__pyx_self").count(), 2, "{out}");
        assert_eq!(python_arguments("no include\n"), "no include\n");
    }

    #[test]
    fn a_reraise_adds_no_traceback_entry() {
        let c = "static void __Pyx_AddTraceback(const char *funcname, int c_line,\n\
                 \x20                              int py_line, const char *filename) {\n\
                 \x20   PyObject *code_object = NULL;\n\
                 \x20     __Pyx_ErrRestoreWithState(__pyx_t_4, __pyx_t_5, __pyx_t_8);\n\
                 \x20     __pyx_t_4 = 0;  __pyx_t_5 = 0;  __pyx_t_8 = 0; \n\
                 \x20     __PYX_ERR(0, 5, __pyx_L5_except_error)\n\
                 \x20   __Pyx_ReraiseException();\n\
                 \x20   __PYX_ERR(0, 7, __pyx_L1_error)\n\
                 \x20   if (unlikely(!t)) __PYX_ERR(0, 9, __pyx_L1_error)\n\
                 \x20   __PYX_ERR(0, 11, __pyx_L1_error)\n";
        let out = python_tracebacks(c, "m", "/__pyelf__/m.py");
        assert!(
            out.contains(
                "const char *filename) {\n    if (py_line == -1) return; /* pyelf: a re-raise */\n    PyObject"
            ),
            "{out}"
        );
        assert!(out.contains("\n      __PYX_ERR(0, -1, __pyx_L5_except_error)\n"), "{out}");
        assert!(out.contains("\n    __PYX_ERR(0, -1, __pyx_L1_error)\n"), "{out}");
        assert!(
            out.contains("__PYX_ERR(0, 9, __pyx_L1_error)") && out.contains("__PYX_ERR(0, 11, __pyx_L1_error)"),
            "{out}"
        );
    }

    #[test]
    fn division_by_zero_says_what_python_313_says() {
        let check = |op: &str| {
            format!(
                "  if (unlikely(__pyx_v_b == 0)) {{\n    PyErr_SetString(PyExc_ZeroDivisionError, \"MSG\");\n    \
                 __PYX_ERR(0, 3, __pyx_L1_error)\n  }}\n  __pyx_t_1 = PyFloat_FromDouble({op}); if (!__pyx_t_1) __PYX_ERR(0, 3, L)\n"
            )
        };
        let said = |c: String| {
            let out = python_zero_division(&c);
            let at = out.find("ZeroDivisionError, \"").unwrap() + 20;
            out[at..at + out[at..].find('"').unwrap()].to_string()
        };
        let case = |msg: &str, op: &str| said(check(op).replace("MSG", msg));
        assert_eq!(case("float division", "(__pyx_v_a / __pyx_v_b)"), "float division by zero");
        assert_eq!(case("float division", "floor(__pyx_v_a / __pyx_v_b)"), "float floor division by zero");
        assert_eq!(case("float divmod()", "__Pyx_mod_double(__pyx_v_a, __pyx_v_b, 0)"), "float modulo by zero");
        assert_eq!(case("integer division or modulo by zero", "__Pyx_mod_long(7, 0, 1)"), "integer modulo by zero");
        assert_eq!(
            case("integer division or modulo by zero", "__Pyx_div_long(7, 0, 1)"),
            "integer division or modulo by zero"
        );
        let divmod = |kind: &str| {
            said(format!(
                "static CYTHON_INLINE __pyx_ctuple_x __Pyx_divmod_{kind}(double a, double b) {{\n    \
                 if (unlikely(b == 0.0)) {{\n        PyErr_SetString(PyExc_ZeroDivisionError, \"division by zero\");\n    }}\n}}\n"
            ))
        };
        assert_eq!(divmod("float_double"), "float divmod()");
        assert_eq!(divmod("int_long"), "integer division or modulo by zero");
        // Python's own messages elsewhere stay.
        let other = "  PyErr_SetString(PyExc_ZeroDivisionError, \"division by zero\");\n";
        assert_eq!(python_zero_division(other), other);
    }

    #[test]
    fn attribute_sites_with_a_constant_name_get_caches_and_others_stay() {
        let c = "#include \"Python.h\"\n\
                 static PyObject* __Pyx_PyObject_GetAttrStr(PyObject* obj, PyObject* attr_name);\n\
                 #define __Pyx_PyObject_DelAttrStr(o,n) __Pyx_PyObject_SetAttrStr(o, n, NULL)\n\
                 t = __Pyx_PyObject_GetAttrStr(__pyx_v_self, __pyx_mstate_global->__pyx_n_u_x);\n\
                 t = __Pyx_PyObject_GetAttrStr(((PyObject *)__pyx_v_p), __pyx_mstate_global->__pyx_n_s_y);\n\
                 r = __Pyx_PyObject_SetAttrStr(__pyx_v_self, __pyx_mstate_global->__pyx_n_u_x, __pyx_t_1);\n\
                 m = __Pyx_PyObject_GetAttrStr(target->type, *target->method_name);\n\
                 k = __Pyx_PyObject_GetAttrStr(o, __pyx_mstate_global->__pyx_kp_u_a_b);\n\
                 my__Pyx_PyObject_GetAttrStr(o, __pyx_mstate_global->__pyx_n_u_z);\n";
        let (out, sites) = attribute_caches(c);
        assert_eq!(sites, 3, "{out}");
        assert!(out.starts_with("#include \"Python.h\"\n#include \"attrcache.h\"\n"), "{out}");
        assert!(out.contains("t = PYELF_GETATTR(__pyx_v_self, __pyx_mstate_global->__pyx_n_u_x);"), "{out}");
        assert!(out.contains("t = PYELF_GETATTR(((PyObject *)__pyx_v_p), __pyx_mstate_global->__pyx_n_s_y);"), "{out}");
        assert!(out.contains("r = PYELF_SETATTR(__pyx_v_self, __pyx_mstate_global->__pyx_n_u_x, __pyx_t_1);"), "{out}");
        // Declarations, macros, names passed in, and other constants stay.
        assert!(out.contains("static PyObject* __Pyx_PyObject_GetAttrStr(PyObject* obj, PyObject* attr_name);"));
        assert!(out.contains("__Pyx_PyObject_SetAttrStr(o, n, NULL)"));
        assert!(out.contains("m = __Pyx_PyObject_GetAttrStr(target->type, *target->method_name);"));
        assert!(out.contains("k = __Pyx_PyObject_GetAttrStr(o, __pyx_mstate_global->__pyx_kp_u_a_b);"));
        assert!(out.contains("my__Pyx_PyObject_GetAttrStr(o, __pyx_mstate_global->__pyx_n_u_z);"));
        // In string literals (Cython's constants, docstrings) and comments, calls are text.
        let quoted = "#include \"Python.h\"\n\
                      static const char k[] = \"__Pyx_PyObject_GetAttrStr(o, __pyx_mstate_global->__pyx_n_u_x)\\\"\";\n\
                      char q = '\"'; /* __Pyx_PyObject_GetAttrStr(o, __pyx_mstate_global->__pyx_n_u_x) */\n\
                      // __Pyx_PyObject_SetAttrStr(o, __pyx_mstate_global->__pyx_n_u_x, v)\n\
                      t = __Pyx_PyObject_GetAttrStr(o, __pyx_mstate_global->__pyx_n_u_é);\n\
                      t = __Pyx_PyObject_GetAttrStr(o, __pyx_mstate_global->__pyx_n_u_y);\n";
        let (out, sites) = attribute_caches(quoted);
        assert_eq!(sites, 1, "{out}");
        assert_eq!(out.matches("__Pyx_PyObject_GetAttrStr(o, __pyx_mstate_global->__pyx_n_u_x)").count(), 2, "{out}");
        assert!(out.contains("// __Pyx_PyObject_SetAttrStr(o, __pyx_mstate_global->__pyx_n_u_x, v)\n"), "{out}");
        assert!(out.contains("t = PYELF_GETATTR(o, __pyx_mstate_global->__pyx_n_u_y);"), "{out}");
        // Nothing to rewrite, or no Python.h to put the include after: unchanged.
        let plain = "#include \"Python.h\"\nx = __Pyx_PyObject_GetAttrStr(o, n);\n";
        assert_eq!(attribute_caches(plain), (plain.to_string(), 0));
        let bare = "t = __Pyx_PyObject_GetAttrStr(o, __pyx_mstate_global->__pyx_n_u_x);";
        assert_eq!(attribute_caches(bare), (bare.to_string(), 0));
        // A call inside another's arguments is a site of its own.
        let nested = "#include \"Python.h\"\n__Pyx_PyObject_GetAttrStr(__Pyx_PyObject_GetAttrStr(o, __pyx_mstate_global->__pyx_n_u_a), n);";
        let (out, sites) = attribute_caches(nested);
        assert_eq!(sites, 1, "{out}");
        assert!(
            out.contains("__Pyx_PyObject_GetAttrStr(PYELF_GETATTR(o, __pyx_mstate_global->__pyx_n_u_a), n);"),
            "{out}"
        );
    }

    #[test]
    fn init_functions_are_renamed_as_whole_words() {
        let c = "PyObject *PyInit_util(void); x = PyInit_util(); PyInit_utils(); \"PyInit_util\"";
        assert_eq!(
            rename_init(c, "a.util", "pyelf_init_3"),
            "PyObject *pyelf_init_3(void); x = pyelf_init_3(); PyInit_utils(); \"pyelf_init_3\""
        );
    }
}
