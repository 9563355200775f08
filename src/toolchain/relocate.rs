//! Moving a toolchain to another place, as conda does at install: a toolchain built in one
//! `PYELF_HOME` works from any other once its text files name the new place.
//!
//! - `python3` finds its prefix from its own location (CPython's `getpath` looks for
//!   `lib/python3.13/os.py` above the executable), so the prefix compiled into it is only a
//!   fallback. pyelf never reaches it (it runs `python3` by its path); a program does when it
//!   starts that `python3` with an `argv[0]` that is neither a path nor a name on `PATH`, as
//!   CPython's `test_subprocess.test_executable_without_cwd` does, and then the moved `python3`
//!   finds no standard library, as any CPython moved from where it was built would.
//! - Text files (`_sysconfigdata`, scripts' `#!` lines, `python3-config`, pkg-config and libtool
//!   files, the compiler wrapper, the manifest) have the old place replaced by the new one: every
//!   path under the old home's `toolchains/` directory, which also names the build directory
//!   (`_sysconfigdata` records it) and the build machine's toolchain of a cross toolchain. The
//!   bytecode of a rewritten module is removed: its constants held the old place, and python
//!   compiles the module again from its source.
//! - Compiled files keep the old place where it cannot matter, and that is checked: objects and
//!   archives in their debug information (apps are linked stripped), executables as a fallback
//!   prefix, bytecode only as its code's file name, which the import system replaces with the
//!   source's real path on load. Any other file that still names the old place fails the move.
//! - Last, the moved `python3` is run: it must find its prefix where it now is, sysconfig must
//!   name the new place, and no bytecode constant may hold the old one (`relocate.py`).

use super::pins::Target;
use anyhow::{bail, Context, Result};
use fs_err as fs;
use std::path::{Path, PathBuf};

/// The check the moved `python3` runs on itself.
const CHECK_PY: &str = include_str!("relocate.py");

/// What a move changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Relocated {
    /// Text files whose paths were rewritten.
    pub rewritten: usize,
    /// Bytecode files removed because their module's source was rewritten.
    pub stale_bytecode: usize,
}

/// Makes the toolchain unpacked at `dir`, built at `from`, name `to` (where `dir` is about to be
/// renamed), and checks the result with its own `python3` (run through the target's runner).
pub fn relocate(dir: &Path, from: &Path, to: &Path, target: &Target) -> Result<Relocated> {
    let (old, new) = (toolchains_dir(from), toolchains_dir(to));
    let rewritten = super::rewrite_text_files(dir, &old, &new)?;
    let mut stale_bytecode = 0;
    for file in &rewritten {
        if file.extension().is_some_and(|x| x == "py") {
            stale_bytecode += remove_bytecode_of(file)?;
        }
    }
    let left = still_naming(dir, &old, &new)?;
    if !left.is_empty() {
        let shown: Vec<String> = left.iter().take(10).map(|p| format!("  {}", p.display())).collect();
        bail!(
            "after moving the toolchain from {} to {}, {} file(s) still name the old place and cannot be rewritten:\n{}",
            from.display(),
            to.display(),
            left.len(),
            shown.join("\n")
        );
    }
    check_python(dir, to, &old, &new, target)?;
    Ok(Relocated { rewritten: rewritten.len(), stale_bytecode })
}

/// The directory that holds a toolchain (`$PYELF_HOME/toolchains`), with a trailing slash: what
/// starts every path the toolchain's build wrote (as `freeze.py`'s `neutral_paths` sees it).
fn toolchains_dir(root: &Path) -> String {
    format!("{}/", root.parent().unwrap_or(Path::new("")).display())
}

/// Removes the cached bytecode of the module `source` (`__pycache__/<stem>.*.pyc`).
fn remove_bytecode_of(source: &Path) -> Result<usize> {
    let (Some(dir), Some(stem)) = (source.parent(), source.file_stem()) else { return Ok(0) };
    let cache = dir.join("__pycache__");
    let prefix = format!("{}.", stem.to_string_lossy());
    let mut removed = 0;
    if cache.is_dir() {
        for entry in fs::read_dir(&cache)? {
            let path = entry?.path();
            let name = path.file_name().unwrap_or_default().to_string_lossy().to_string();
            // `<stem>.cpython-313.pyc`, `<stem>.cpython-313.opt-1.pyc`: the stem, then a tag
            // without dots before `.pyc` (or `.opt-N.pyc`).
            let tag = name.strip_prefix(&prefix).and_then(|r| r.strip_suffix(".pyc"));
            if tag.is_some_and(|t| t.split('.').next().is_some_and(|first| first.starts_with("cpython-"))) {
                fs::remove_file(&path)?;
                removed += 1;
            }
        }
    }
    Ok(removed)
}

/// The files under `dir` (but its logs) that name `from` and are not compiled files where that
/// cannot matter (see the module's documentation). Where `to` holds `from` (a new home whose path
/// ends with the old one), what names `to` is not counted.
fn still_naming(dir: &Path, from: &str, to: &str) -> Result<Vec<PathBuf>> {
    let needle = from.as_bytes();
    let new = to.as_bytes();
    let mut out = Vec::new();
    for file in crate::fsutil::walk(dir)? {
        let rel = file.strip_prefix(dir).unwrap_or(&file);
        if rel.starts_with("logs") || !fs::symlink_metadata(&file)?.is_file() {
            continue;
        }
        let bytes = fs::read(&file)?;
        if !contains(&without(&bytes, new), needle) {
            continue;
        }
        let compiled = file.extension().is_some_and(|x| ["a", "o", "pyc"].iter().any(|c| x == *c));
        let executable = bytes.starts_with(b"\x7fELF");
        if !(compiled || executable) {
            out.push(rel.to_path_buf());
        }
    }
    Ok(out)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// `bytes` without any occurrence of `cut`.
fn without(bytes: &[u8], cut: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if !cut.is_empty() && bytes[i..].starts_with(cut) {
            i += cut.len();
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

/// Runs [`CHECK_PY`] with the moved toolchain's `python3`.
fn check_python(dir: &Path, to: &Path, old: &str, new: &str, target: &Target) -> Result<()> {
    let python = dir.join("bin/python3");
    let out = target
        .command(&python)
        .arg("-I")
        .arg("-c")
        .arg(CHECK_PY)
        .arg(dir)
        .arg(to)
        .arg(old)
        .arg(new)
        .env_remove("PYTHONHOME")
        .env_remove("PYTHONPATH")
        .output()
        .with_context(|| format!("cannot run the moved toolchain's {}", python.display()))?;
    let problems = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() || !problems.trim().is_empty() {
        bail!(
            "the moved toolchain's python3 does not work from {}:\n{}{}",
            to.display(),
            problems.trim_end(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_bytecode_of_the_rewritten_module_goes() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = tmp.path().join("__pycache__");
        fs::create_dir_all(&cache).unwrap();
        for n in ["m.cpython-313.pyc", "m.cpython-313.opt-1.pyc", "m.cpython-313.opt-2.pyc", "mm.cpython-313.pyc"] {
            fs::write(cache.join(n), "x").unwrap();
        }
        fs::write(cache.join("m.x.cpython-313.pyc"), "x").unwrap();
        assert_eq!(remove_bytecode_of(&tmp.path().join("m.py")).unwrap(), 3);
        let mut left: Vec<String> =
            fs::read_dir(&cache).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().to_string()).collect();
        left.sort();
        assert_eq!(left, ["m.x.cpython-313.pyc", "mm.cpython-313.pyc"]);
    }

    #[test]
    fn compiled_files_may_name_the_old_place_and_text_files_may_not() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        let old = "/old/home/toolchains/";
        for (name, bytes) in [
            ("lib/libx.a", b"!<arch>\n/old/home/toolchains/t-1/include".to_vec()),
            ("lib/m.pyc", b"\0\0/old/home/toolchains/t-1/lib/m.py".to_vec()),
            ("bin/tool", b"\x7fELF\0/old/home/toolchains/t-1".to_vec()),
            ("logs/step.log", b"/old/home/toolchains/t-1".to_vec()),
            ("lib/other.txt", b"nothing".to_vec()),
            ("lib/data.bin", b"\xff\0/old/home/toolchains/t-1".to_vec()),
            ("share/config.sh", b"prefix=/old/home/toolchains/t-1\n".to_vec()),
        ] {
            fs::create_dir_all(d.join(name).parent().unwrap()).unwrap();
            fs::write(d.join(name), bytes).unwrap();
        }
        let new = "/new/toolchains/";
        let left = still_naming(d, old, new).unwrap();
        assert_eq!(left, [PathBuf::from("lib/data.bin"), PathBuf::from("share/config.sh")]);
        // The rewrite takes the text file, not the binary one.
        let rewritten = crate::toolchain::rewrite_text_files(d, old, new).unwrap();
        assert_eq!(rewritten, [d.join("share/config.sh")]);
        assert_eq!(fs::read_to_string(d.join("share/config.sh")).unwrap(), "prefix=/new/toolchains/t-1\n");
        assert_eq!(still_naming(d, old, new).unwrap(), [PathBuf::from("lib/data.bin")]);
    }

    #[test]
    fn a_new_home_ending_with_the_old_one_is_not_the_old_one() {
        let tmp = tempfile::tempdir().unwrap();
        let (old, new) =
            (&toolchains_dir(Path::new("/h/toolchains/t-1")), &toolchains_dir(Path::new("/x/h/toolchains/t-1")));
        fs::write(tmp.path().join("a.sh"), "prefix=/h/toolchains/t-1\n").unwrap();
        crate::toolchain::rewrite_text_files(tmp.path(), old, new).unwrap();
        assert_eq!(fs::read_to_string(tmp.path().join("a.sh")).unwrap(), "prefix=/x/h/toolchains/t-1\n");
        assert!(still_naming(tmp.path(), old, new).unwrap().is_empty());
    }
}
