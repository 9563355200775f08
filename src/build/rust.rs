//! Rust for musl, for packages whose extension modules are Rust (maturin, setuptools-rust) and are
//! built from source.
//!
//! The build machine's rustc compiles for the target's musl triple. Its standard library for that
//! target is either installed (rustup's `rust-std` component) or built with the package
//! (`-Zbuild-std`, from the `rust-src` of the same rustc: Debian 12's `rustc-web` and
//! `rust-web-src`). Either way the extension's `cdylib` link goes to pyelf's compiler wrapper,
//! which makes it one relocatable object like a C extension's: the crate, the parts of std it
//! uses and LLVM's unwinder, every symbol but `PyInit_*` made local. Two Rust extensions each
//! keep their own std, and never see each other's (`rust_eh_personality`, `__rust_alloc`...).

use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A rustc (and the cargo that drives it) able to build for a musl target.
#[derive(Debug, Clone)]
pub struct Rust {
    pub rustc: PathBuf,
    pub cargo: PathBuf,
    /// `rustc -vV`: part of the cache key of what it builds.
    pub version: String,
    /// The build machine's triple (its build scripts and proc-macros are built for it).
    pub host: String,
    /// Where std's source is (`<sysroot>/lib/rustlib/src/rust`), when std is built here.
    pub std_source: Option<PathBuf>,
    /// The commit rustc was built from (`rustc -vV`), which names std's source in its paths.
    pub commit: String,
    /// The crates of std built from source with each package (none when the target has a std
    /// installed).
    pub build_std: Vec<String>,
}

/// What native.toml says about Rust.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct RustFacts {
    /// rustc programs tried in order (`$PYELF_RUSTC` instead, when it is set).
    pub rustc: Vec<String>,
    /// cargo programs tried in order, after `$PYELF_CARGO`.
    pub cargo: Vec<String>,
    /// The crates of std built for the target when it has no std installed.
    pub build_std: Vec<String>,
    /// What to install when no rustc can build for musl.
    pub install: String,
}

/// The first rustc that can build for `target` (a musl triple), and a cargo; or why there is none.
pub fn find(facts: &RustFacts, target: &str) -> std::result::Result<Rust, String> {
    let mut tried = Vec::new();
    // $PYELF_RUSTC, when set, is the only one tried.
    let rustcs = match std::env::var("PYELF_RUSTC") {
        Ok(one) => vec![one],
        Err(_) => facts.rustc.clone(),
    };
    for candidate in rustcs {
        let Some(rustc) = program(&candidate) else {
            tried.push(format!("{candidate}: not found"));
            continue;
        };
        match able(&rustc, target) {
            Ok((version, host, std_source)) => {
                let cargos = std::env::var("PYELF_CARGO").into_iter().chain(facts.cargo.iter().cloned());
                let Some(cargo) = cargos.filter_map(|c| program(&c)).next() else {
                    return Err(format!("{} can build for {target}, but there is no cargo", rustc.display()));
                };
                let build_std = if std_source.is_some() { facts.build_std.clone() } else { Vec::new() };
                let commit =
                    version.lines().find_map(|l| l.strip_prefix("commit-hash: ")).unwrap_or("unknown").to_string();
                return Ok(Rust { rustc, cargo, version, host, build_std, std_source, commit });
            }
            Err(why) => tried.push(format!("{}: {why}", rustc.display())),
        }
    }
    Err(format!("no rustc here can build for {target} ({})", tried.join("; ")))
}

/// A program named on PATH or by its path.
fn program(name: &str) -> Option<PathBuf> {
    let path = Path::new(name);
    if path.components().count() > 1 {
        return path.is_file().then(|| path.to_path_buf());
    }
    std::env::split_paths(&std::env::var_os("PATH")?).map(|d| d.join(name)).find(|p| p.is_file())
}

/// `rustc -vV`, the host triple, and where std's source is when std must be built for `target`;
/// or why this rustc cannot build for it.
fn able(rustc: &Path, target: &str) -> std::result::Result<(String, String, Option<PathBuf>), String> {
    let ask = |args: &[&str]| -> std::result::Result<String, String> {
        let out = Command::new(rustc).args(args).output().map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(format!(
                "`{} {}` failed: {}",
                rustc.display(),
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    let version = ask(&["-vV"])?;
    let host = version.lines().find_map(|l| l.strip_prefix("host: ")).ok_or("`rustc -vV` names no host")?.to_string();
    let libdir = ask(&["--print", "target-libdir", "--target", target])?;
    let installed = std::fs::read_dir(&libdir)
        .map(|d| d.flatten().any(|e| e.file_name().to_string_lossy().starts_with("libstd-")))
        .unwrap_or(false);
    if installed {
        return Ok((version, host, None));
    }
    let sysroot = ask(&["--print", "sysroot"])?;
    let src = Path::new(&sysroot).join("lib/rustlib/src/rust");
    if src.join("library/std/Cargo.toml").is_file() {
        return Ok((version, host, Some(src)));
    }
    Err(format!("it has no std for {target} and no std source (rust-src) to build one"))
}

impl Rust {
    /// The environment of a package's build for `target` (a musl triple): cargo builds for it,
    /// links through `linker` (pyelf's wrapper) and finds the target's Python configuration
    /// (`_sysconfigdata_*.py`) in `python_config`; build scripts are built for the host with
    /// `host_cc`. `home` is the user's home, where cargo keeps its registry (the build's own HOME
    /// is its work directory).
    pub fn env(
        &self,
        target: &str,
        linker: &Path,
        host_cc: &Path,
        python_config: &Path,
        work: &Path,
        home: &Path,
    ) -> Vec<(String, String)> {
        let upper = |t: &str| t.to_uppercase().replace(['-', '.'], "_");
        let under = |t: &str| t.replace(['-', '.'], "_");
        let cargo_home = std::env::var("CARGO_HOME").unwrap_or_else(|_| home.join(".cargo").display().to_string());
        let rustup_home = std::env::var("RUSTUP_HOME").unwrap_or_else(|_| home.join(".rustup").display().to_string());
        let mut env = vec![
            ("RUSTC".to_string(), self.rustc.display().to_string()),
            ("CARGO".into(), self.cargo.display().to_string()),
            ("CARGO_HOME".into(), cargo_home.clone()),
            ("RUSTUP_HOME".into(), rustup_home),
            ("CARGO_BUILD_TARGET".into(), target.to_string()),
            (format!("CARGO_TARGET_{}_LINKER", upper(target)), linker.display().to_string()),
            (format!("CARGO_TARGET_{}_LINKER", upper(&self.host)), host_cc.display().to_string()),
            // C compiled by build scripts (the cc crate): the wrapper for the target, the host's
            // compiler for the host.
            (format!("CC_{}", under(target)), linker.display().to_string()),
            (format!("CC_{}", under(&self.host)), host_cc.display().to_string()),
            ("HOST_CC".into(), host_cc.display().to_string()),
            ("HOST_CFLAGS".into(), String::new()),
            // PyO3: the target's interpreter is described by its _sysconfigdata, and an extension
            // module links no libpython.
            ("PYO3_CROSS_LIB_DIR".into(), python_config.display().to_string()),
            ("PYO3_CROSS_PYTHON_VERSION".into(), "3.13".into()),
            ("PYO3_BUILD_EXTENSION_MODULE".into(), "1".into()),
            // Paths in panic messages and debug info: the same wherever the build ran (std's
            // source named as rustup's builds name it).
            ("RUSTFLAGS".into(), {
                let mut flags = format!(
                    "--remap-path-prefix={}=/pyelf-build --remap-path-prefix={cargo_home}=/cargo",
                    work.display()
                );
                if let Some(src) = &self.std_source {
                    flags += &format!(" --remap-path-prefix={}=/rustc/{}", src.display(), self.commit);
                }
                flags
            }),
            ("CARGO_TERM_COLOR".into(), "never".into()),
            ("CARGO_TERM_PROGRESS_WHEN".into(), "never".into()),
        ];
        if !self.build_std.is_empty() {
            env.push(("RUSTC_BOOTSTRAP".into(), "1".into()));
            env.push(("CARGO_UNSTABLE_BUILD_STD".into(), self.build_std.join(",")));
        }
        env
    }
}

/// The build machine's C compiler (`cc`, then `gcc`) on PATH, skipping `skip` (the wrappers).
pub fn host_cc(skip: &Path) -> Result<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in ["cc", "gcc"] {
        if let Some(found) =
            std::env::split_paths(&path).filter(|d| d != skip).map(|d| d.join(name)).find(|p| p.is_file())
        {
            return Ok(found);
        }
    }
    None.context("no C compiler (cc, gcc) on PATH for the build machine: Rust's build scripts need one")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_rustc_is_named_with_why() {
        let facts = RustFacts {
            rustc: vec!["/nonexistent/rustc".into()],
            cargo: vec!["cargo".into()],
            build_std: vec!["std".into()],
            install: String::new(),
        };
        if std::env::var_os("PYELF_RUSTC").is_some() {
            return;
        }
        let why = find(&facts, "x86_64-unknown-linux-musl").unwrap_err();
        assert!(why.contains("no rustc here can build for x86_64-unknown-linux-musl"), "{why}");
        assert!(why.contains("/nonexistent/rustc: not found"), "{why}");
    }

    #[test]
    fn the_environment_points_cargo_at_the_target_and_the_host_at_its_compiler() {
        let rust = Rust {
            rustc: "/usr/bin/rustc".into(),
            cargo: "/usr/bin/cargo".into(),
            version: String::new(),
            host: "x86_64-unknown-linux-gnu".into(),
            build_std: vec!["std".into(), "panic_abort".into()],
            std_source: Some("/usr/lib/rustlib/src/rust".into()),
            commit: "abc".into(),
        };
        let env = rust.env(
            "aarch64-unknown-linux-musl",
            Path::new("/w/tools/cc"),
            Path::new("/usr/bin/cc"),
            Path::new("/w/py"),
            Path::new("/w"),
            Path::new("/root"),
        );
        let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER"), Some("/w/tools/cc"));
        assert_eq!(get("CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER"), Some("/usr/bin/cc"));
        assert_eq!(get("CC_aarch64_unknown_linux_musl"), Some("/w/tools/cc"));
        assert_eq!(get("CARGO_BUILD_TARGET"), Some("aarch64-unknown-linux-musl"));
        assert_eq!(get("CARGO_UNSTABLE_BUILD_STD"), Some("std,panic_abort"));
        assert_eq!(get("RUSTC_BOOTSTRAP"), Some("1"));
        let flags = get("RUSTFLAGS").unwrap();
        assert!(flags.contains("--remap-path-prefix=/w=/pyelf-build"), "{flags}");
        assert!(flags.contains("--remap-path-prefix=/usr/lib/rustlib/src/rust=/rustc/abc"), "{flags}");
    }
}
