//! Compiling the app's C and assembly to objects with the toolchain's musl wrapper, each file on
//! its own (one compiler per core), so that a failure names its file and shows the compiler's own
//! messages, and a Cython module whose C the compiler rejects can fall back to bytecode.

use crate::build::objcache::ObjectCache;
use crate::toolchain::Toolchain;
use anyhow::{bail, Context, Result};
use fs_err as fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A file the compiler rejected.
#[derive(Debug, Clone)]
pub struct Rejected {
    pub file: PathBuf,
    /// The compiler's full output.
    pub log: PathBuf,
    /// The compiler's first `error:` line (or its first line).
    pub first_error: String,
}

impl Rejected {
    /// The error of a file that has no fallback: the compiler's last lines and where its log is.
    pub fn error(&self, what: &str) -> anyhow::Error {
        anyhow::anyhow!(
            "compiling {what} ({}) failed:\n{}\n(full log: {})",
            self.file.display(),
            crate::steplog::tail(&self.log, crate::steplog::TAIL_LINES),
            self.log.display()
        )
    }
}

/// The compiler command for the app's C: the musl wrapper with the target's flags, Python's
/// headers and `dir` (generated headers) on the include path, and no build paths recorded.
fn compiler(tc: &Toolchain, dir: &Path) -> Result<cc::Tool> {
    let mut b = crate::toolchain::compiler::cc_build(&tc.cc(), &tc.target, &dir.join("obj"));
    b.flag(format!("-ffile-prefix-map={}=.", dir.display()))
        .flag(format!("-ffile-prefix-map={}=/pyelf-toolchain", tc.root.display()))
        .flag("-fstack-protector-strong")
        // A function used without its declaration is taken to return an int: a pointer it
        // returns would be cut to 32 bits. Refused.
        .flag("-Werror=implicit-function-declaration")
        .include(dir)
        .include(tc.root.join("include/python3.13"));
    b.try_get_compiler().context("cannot set up the C compiler for the app")
}

/// What compiling one file gave: its object, or how the compiler rejected it.
pub type Compiled = Result<PathBuf, Rejected>;

/// The first line of compiler output that reports an error.
pub fn first_error(output: &str) -> String {
    output
        .lines()
        .find(|l| l.contains("error:"))
        .or_else(|| output.lines().find(|l| !l.trim().is_empty()))
        .unwrap_or("the compiler failed without a message")
        .trim()
        .to_string()
}

/// Compiles each of `files` to an object in `dir/obj` (the logs of failures go to `logs`);
/// returns, in the order of `files`, each object or how the compiler rejected the file. With a
/// `cache` (a directory), an object an earlier build compiled from the same command and the same
/// files is taken from there ([`ObjectCache`]).
pub fn compile_each(
    tc: &Toolchain,
    dir: &Path,
    files: &[PathBuf],
    logs: &Path,
    cache: Option<&Path>,
) -> Result<Vec<Compiled>> {
    let tool = compiler(tc, dir)?;
    let cache = cache.map(|c| ObjectCache::new(c, dir));
    let obj_dir = dir.join("obj");
    fs::create_dir_all(&obj_dir)?;
    fs::create_dir_all(logs)?;
    let jobs = std::thread::available_parallelism().map_or(1, |n| n.get()).min(files.len().max(1));
    let next = AtomicUsize::new(0);
    let results: Vec<Vec<(usize, std::io::Result<Compiled>)>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..jobs)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        let Some(file) = files.get(i) else { break };
                        done.push((i, compile_one(&tool, file, i, &obj_dir, logs, cache.as_ref())));
                    }
                    done
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().expect("a compiler thread panicked")).collect()
    });
    let mut ordered: Vec<Option<Compiled>> = vec![None; files.len()];
    for (i, r) in results.into_iter().flatten() {
        ordered[i] = Some(r.with_context(|| format!("cannot run the C compiler on {}", files[i].display()))?);
    }
    Ok(ordered.into_iter().map(|r| r.expect("every file compiled")).collect())
}

fn compile_one(
    tool: &cc::Tool,
    file: &Path,
    index: usize,
    obj_dir: &Path,
    logs: &Path,
    cache: Option<&ObjectCache>,
) -> std::io::Result<Compiled> {
    let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or("file");
    let obj = obj_dir.join(format!("{index:04}-{stem}.o"));
    let mut cmd: Command = tool.to_command();
    cmd.arg("-c").arg(file);
    // The command without where its output goes (the same object whatever its name).
    let key = cache.filter(|c| c.can_keep(file)).map(|c| {
        let args: Vec<String> = cmd.get_args().map(|a| a.to_string_lossy().into_owned()).collect();
        c.command_key(Path::new(cmd.get_program()), &args)
    });
    if let (Some(c), Some(key)) = (cache, &key) {
        if c.fetch(key, &obj) {
            return Ok(Ok(obj));
        }
    }
    // What the preprocessor read, for the cache.
    let deps = obj.with_extension("d");
    cmd.arg("-o").arg(&obj).arg("-MD").arg("-MF").arg(&deps);
    let out = cmd.output()?;
    if out.status.success() {
        if let (Some(c), Some(key)) = (cache, &key) {
            c.keep(key, &obj, &deps);
        }
        return Ok(Ok(obj));
    }
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    // Paths in the work directory (removed after the build) as the names of their files there.
    let text = match obj_dir.parent() {
        Some(work) => text.replace(&format!("{}/", work.display()), ""),
        None => text,
    };
    let log = logs.join(format!("cc-{stem}.log"));
    fs::write(&log, format!("{cmd:?}\n{text}"))?;
    Ok(Err(Rejected { file: file.to_path_buf(), log, first_error: first_error(&text) }))
}

/// Puts `objects` into the static archive `out` (deterministic: no dates, owners or modes), with
/// the target's `ar`.
pub fn archive(tc: &Toolchain, objects: &[PathBuf], out: &Path) -> Result<()> {
    if out.exists() {
        fs::remove_file(out)?;
    }
    let sh = xshell::Shell::new()?;
    let ar = tc.tool("ar");
    xshell::cmd!(sh, "{ar} crsD {out} {objects...}")
        .quiet()
        .run()
        .with_context(|| format!("cannot make the archive {}", out.display()))?;
    if !out.is_file() {
        bail!("ar made no archive {}", out.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_error_line_is_reported() {
        let gcc = "app.c: In function 'f':\napp.c:12:5: error: '__pyx_cur_scope' undeclared (first use in this function)\napp.c:12:5: note: each undeclared identifier\n";
        assert_eq!(first_error(gcc), "app.c:12:5: error: '__pyx_cur_scope' undeclared (first use in this function)");
        assert_eq!(first_error("ld: something\n"), "ld: something");
        assert_eq!(first_error(""), "the compiler failed without a message");
    }
}
