//! Rust for musl, for packages whose extension modules are Rust (maturin, setuptools-rust) and are
//! built from source.
//!
//! The build machine's rustc compiles for the target's musl triple. Its standard library for that
//! target is either installed (rustup's `rust-std` component) or built once from the `rust-src`
//! of the same rustc (Debian 12's `rustc-web` and `rust-web-src`) with cargo's `-Zbuild-std`, into
//! a sysroot kept in pyelf's cache and given to each package's build (`--sysroot`): std is not
//! rebuilt per package, and a package whose sdist vendors its crates (orjson replaces crates.io
//! by a directory) needs none of std's. The extension's `cdylib` link goes to pyelf's compiler wrapper,
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
    /// `rustc -vV` and `cargo -V`: part of the cache key of what they build.
    pub version: String,
    /// The build machine's triple (its build scripts and proc-macros are built for it).
    pub host: String,
    /// Where std's source is (`<sysroot>/lib/rustlib/src/rust`), when std is built here.
    pub std_source: Option<PathBuf>,
    /// The commit rustc was built from (`rustc -vV`), which names std's source in its paths.
    pub commit: String,
    /// The crates of std built from source into pyelf's sysroot (none when the target has a std
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
/// `$PYELF_RUSTC`, when set, is the only rustc tried, and `$PYELF_CARGO` the only cargo.
/// Asked once per target and process (each package's cache key and build ask it).
pub fn find(facts: &RustFacts, target: &str) -> std::result::Result<Rust, String> {
    static FOUND: std::sync::Mutex<Vec<(String, std::result::Result<Rust, String>)>> =
        std::sync::Mutex::new(Vec::new());
    let mut found = FOUND.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, answer)) = found.iter().find(|(t, _)| t == target) {
        return answer.clone();
    }
    let one = |var: &str, all: &[String]| std::env::var(var).map(|v| vec![v]).unwrap_or_else(|_| all.to_vec());
    let answer =
        find_among(&one("PYELF_RUSTC", &facts.rustc), &one("PYELF_CARGO", &facts.cargo), &facts.build_std, target);
    found.push((target.to_string(), answer.clone()));
    answer
}

fn find_among(
    rustcs: &[String],
    cargos: &[String],
    build_std: &[String],
    target: &str,
) -> std::result::Result<Rust, String> {
    let mut tried = Vec::new();
    for candidate in rustcs {
        let Some(rustc) = program(candidate).map(|p| unproxied(&p, "rustc")) else {
            tried.push(format!("{candidate}: not found"));
            continue;
        };
        match able(&rustc, target) {
            Ok((version, host, std_source)) => {
                let Some(cargo) = cargos.iter().filter_map(|c| program(c)).next().map(|p| unproxied(&p, "cargo"))
                else {
                    return Err(format!(
                        "{} can build for {target}, but there is no cargo ({})",
                        rustc.display(),
                        cargos.join(", ")
                    ));
                };
                let cargo_version = Command::new(&cargo)
                    .arg("-V")
                    .output()
                    .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
                    .map_err(|e| format!("cannot run {}: {e}", cargo.display()))?;
                let build_std = if std_source.is_some() { build_std.to_vec() } else { Vec::new() };
                let commit =
                    version.lines().find_map(|l| l.strip_prefix("commit-hash: ")).unwrap_or("unknown").to_string();
                let version = format!("{version}\n{cargo_version}");
                return Ok(Rust { rustc, cargo, version, host, build_std, std_source, commit });
            }
            Err(why) => tried.push(format!("{}: {why}", rustc.display())),
        }
    }
    Err(format!("no rustc here can build for {target} ({})", tried.join("; ")))
}

/// The program a rustup proxy (`~/.cargo/bin/cargo`) runs, so that a package's
/// `rust-toolchain.toml` never makes it switch toolchains or download one; any other program as
/// it is.
fn unproxied(program: &Path, name: &str) -> PathBuf {
    let rustup = program.with_file_name("rustup");
    if rustup.is_file() {
        if let Ok(out) = Command::new(&rustup).args(["which", name]).output() {
            let real = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
            if out.status.success() && real.is_file() {
                return real;
            }
        }
    }
    program.to_path_buf()
}

/// A program named on PATH or by its path.
fn program(name: &str) -> Option<PathBuf> {
    let path = Path::new(name);
    if path.components().count() > 1 {
        return path.is_file().then(|| path.to_path_buf());
    }
    on_path(name, None)
}

/// `name` in the first directory of PATH that has it, but `skip`.
fn on_path(name: &str, skip: Option<&Path>) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .filter(|d| Some(d.as_path()) != skip)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
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

/// Where a package's Rust build runs and what it is given.
#[derive(Clone, Copy)]
pub struct BuildDirs<'a> {
    /// pyelf's compiler wrapper: the target's linker and C compiler.
    pub linker: &'a Path,
    /// The build machine's C compiler, for build scripts and proc-macros.
    pub host_cc: &'a Path,
    /// A directory holding the target's `_sysconfigdata_*.py` only.
    pub python_config: &'a Path,
    /// The build's work directory (named `/pyelf-build` in paths the build records).
    pub work: &'a Path,
    /// The user's home, where cargo keeps its registry (the build's own HOME is `work`).
    pub home: &'a Path,
}

/// The flags of each package's crates and of std: a musl `cdylib` is linked with `-crt-static`
/// (maturin and setuptools-rust ask for it too).
const FLAGS: &[&str] = &["-Ctarget-feature=-crt-static"];
/// std also keeps its LLVM bitcode, for the packages whose profile asks for LTO.
const STD_FLAGS: &[&str] = &["-Cembed-bitcode=yes"];

/// Settings of the user's environment that would change how cargo builds (flags that replace
/// pyelf's, wrappers, another target directory or profile): removed from every build.
pub const UNSET: &[&str] = &[
    "CARGO_ENCODED_RUSTFLAGS",
    "RUSTFLAGS",
    "RUSTC_WRAPPER",
    "RUSTC_WORKSPACE_WRAPPER",
    "CARGO_TARGET_DIR",
    "CARGO_BUILD_TARGET_DIR",
    "CARGO_BUILD_RUSTFLAGS",
    "CARGO_BUILD_RUSTC_WRAPPER",
    "CARGO_PROFILE_RELEASE_LTO",
    "CARGO_PROFILE_RELEASE_OPT_LEVEL",
    "CARGO_PROFILE_RELEASE_PANIC",
    "CARGO_PROFILE_RELEASE_CODEGEN_UNITS",
    "CARGO_PROFILE_RELEASE_DEBUG",
    "CARGO_PROFILE_RELEASE_STRIP",
    "RUSTUP_TOOLCHAIN",
];

/// cargo's wrapper of rustc for the std build: `panic_abort` is compiled with `panic=abort`, as
/// Rust's own build compiles it (cargo's -Zbuild-std would compile it with the profile's
/// `unwind`, and a package whose profile says `panic = "abort"` could not use it).
const STD_RUSTC_WRAPPER: &str = r#"#!/bin/sh
prev=
for a in "$@"; do
    if [ "$prev" = "--crate-name" ] && [ "$a" = "panic_abort" ]; then
        exec "$@" -C panic=abort
    fi
    prev=$a
done
exec "$@"
"#;

impl Rust {
    /// The sysroot holding std built for `target` from this rustc's source, built the first time
    /// (a minute or two) and kept under `cache`, keyed by the rustc, the target and how it is
    /// built; `None` when the target's std is installed. The build's output goes to `step`'s log.
    pub fn sysroot(&self, target: &str, cache: &Path, step: &crate::steplog::Step) -> Result<Option<PathBuf>> {
        let Some(src) = &self.std_source else {
            return Ok(None);
        };
        let parts = vec![
            ("rustc".to_string(), self.version.clone()),
            ("target".into(), target.to_string()),
            ("crates".into(), self.build_std.join(",")),
            ("flags".into(), format!("{FLAGS:?} {STD_FLAGS:?}")),
            ("std-source".into(), std_lock(src)),
            ("wrapper".into(), STD_RUSTC_WRAPPER.into()),
        ];
        let dir = cache.join(format!("rust-std-{target}-{}", crate::toolchain::hash_parts(&parts)));
        if dir.join(".complete").is_file() {
            return Ok(Some(dir));
        }
        std::fs::create_dir_all(cache)?;
        let _lock = crate::toolchain::lock_exclusive(&cache.join(".rust-std.lock"), "Rust's std for musl")?;
        if dir.join(".complete").is_file() {
            return Ok(Some(dir));
        }
        crate::say!("building Rust's std for {target} from {} (once; a minute or two)", src.display());
        let work = tempfile::Builder::new().prefix(".rust-std-").tempdir_in(cache)?;
        let project = work.path().join("project");
        std::fs::create_dir_all(project.join(".cargo"))?;
        std::fs::write(
            project.join("Cargo.toml"),
            "[package]\nname = \"pyelf-std\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\n[lib]\npath = \"lib.rs\"\n\n[workspace]\n",
        )?;
        std::fs::write(project.join("lib.rs"), "")?;
        // std's dependencies from the crates its source vendors, when it does (Debian's): no
        // network; otherwise from the registry.
        let vendor = src.join("library/vendor");
        let offline = vendor.is_dir();
        if offline {
            std::fs::write(
                project.join(".cargo/config.toml"),
                format!(
                    "[source.crates-io]\nreplace-with = \"rust-src-vendor\"\n\n[source.rust-src-vendor]\ndirectory = \"{}\"\n",
                    vendor.display()
                ),
            )?;
        }
        let wrapper = work.path().join("rustc-wrapper");
        std::fs::write(&wrapper, STD_RUSTC_WRAPPER)?;
        crate::toolchain::compiler::set_executable(&wrapper)?;
        let target_dir = work.path().join("target");
        let mut flags: Vec<String> = FLAGS.iter().chain(STD_FLAGS).map(|f| f.to_string()).collect();
        flags.push(format!("--remap-path-prefix={}=/rustc/{}", src.display(), self.commit));
        let mut c = Command::new(&self.cargo);
        for v in UNSET {
            c.env_remove(v);
        }
        c.args(["build", "--release", "--target", target])
            .arg(format!("-Zbuild-std={}", self.build_std.join(",")))
            .current_dir(&project)
            .env("RUSTC", &self.rustc)
            .env("RUSTC_BOOTSTRAP", "1")
            .env("RUSTC_WRAPPER", &wrapper)
            .env("CARGO_TARGET_DIR", &target_dir)
            .env("CARGO_ENCODED_RUSTFLAGS", flags.join("\u{1f}"))
            .env("CARGO_TERM_COLOR", "never")
            .env("CARGO_TERM_PROGRESS_WHEN", "never");
        if offline {
            c.arg("--offline").env("CARGO_HOME", work.path().join("cargo-home"));
        }
        step.run_command(&format!("cargo build -Zbuild-std={} --target {target}", self.build_std.join(",")), &mut c)
            .with_context(|| format!("cannot build Rust's std for {target} from {}", src.display()))?;
        let ready = work.path().join("ready");
        let lib = ready.join("lib/rustlib").join(target).join("lib");
        std::fs::create_dir_all(&lib)?;
        let deps = target_dir.join(target).join("release/deps");
        for entry in std::fs::read_dir(&deps).with_context(|| format!("cargo left no {}", deps.display()))? {
            let path = entry?.path();
            let name = path.file_name().unwrap_or_default().to_string_lossy().to_string();
            if name.ends_with(".rlib") && !name.starts_with("libpyelf_std-") {
                std::fs::copy(&path, lib.join(&name))?;
            }
        }
        std::fs::write(ready.join(".complete"), format!("{}\n", self.version))?;
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::rename(&ready, &dir)?;
        Ok(Some(dir))
    }

    /// The environment of a package's build for `target` (a musl triple): cargo builds for it
    /// with std from `sysroot` (or the installed one), links through the wrapper and finds the
    /// target's Python configuration; build scripts are built for the host with its compiler.
    pub fn env(&self, target: &str, sysroot: Option<&Path>, dirs: &BuildDirs) -> Vec<(String, String)> {
        let BuildDirs { linker, host_cc, python_config, work, home } = *dirs;

        let upper = |t: &str| t.to_uppercase().replace(['-', '.'], "_");
        let under = |t: &str| t.replace(['-', '.'], "_");
        let cargo_home = std::env::var("CARGO_HOME").unwrap_or_else(|_| home.join(".cargo").display().to_string());
        let rustup_home = std::env::var("RUSTUP_HOME").unwrap_or_else(|_| home.join(".rustup").display().to_string());
        let env = vec![
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
            // std from the sysroot built for the target; paths in panic messages and debug info
            // the same wherever the build ran. Encoded (separated by 0x1f), so that paths may
            // hold spaces; maturin and setuptools-rust add theirs to them.
            ("CARGO_ENCODED_RUSTFLAGS".into(), {
                let mut flags: Vec<String> = FLAGS.iter().map(|f| f.to_string()).collect();
                if let Some(sysroot) = sysroot {
                    flags.push(format!("--sysroot={}", sysroot.display()));
                }
                flags.push(format!("--remap-path-prefix={}=/pyelf-build", work.display()));
                flags.push(format!("--remap-path-prefix={cargo_home}=/cargo"));
                flags.join("\u{1f}")
            }),
            ("CARGO_TERM_COLOR".into(), "never".into()),
            ("CARGO_TERM_PROGRESS_WHEN".into(), "never".into()),
        ];
        env
    }
}

/// What identifies std's source beyond `rustc -vV` (a distribution's patched rebuild keeps the
/// version): its lock file and the size and date of its `lib.rs`.
fn std_lock(src: &Path) -> String {
    let lock = std::fs::read_to_string(src.join("library/Cargo.lock")).unwrap_or_default();
    let lib = std::fs::metadata(src.join("library/std/src/lib.rs"))
        .map(|m| format!("{} {:?}", m.len(), m.modified().ok()))
        .unwrap_or_default();
    format!("{lock}\n{lib}")
}

/// The build machine's C compiler (`cc`, then `gcc`) on PATH, skipping `skip` (the wrappers).
pub fn host_cc(skip: &Path) -> Result<PathBuf> {
    ["cc", "gcc"]
        .iter()
        .find_map(|name| on_path(name, Some(skip)))
        .context("no C compiler (cc, gcc) on PATH for the build machine: Rust's build scripts need one")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_rustc_is_named_with_why() {
        let why =
            find_among(&["/nonexistent/rustc".into()], &["cargo".into()], &["std".into()], "x86_64-unknown-linux-musl")
                .unwrap_err();
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
        let dirs = BuildDirs {
            linker: Path::new("/w/tools/cc"),
            host_cc: Path::new("/usr/bin/cc"),
            python_config: Path::new("/w/py"),
            work: Path::new("/w"),
            home: Path::new("/root"),
        };
        let env = rust.env("aarch64-unknown-linux-musl", Some(Path::new("/cache/std")), &dirs);
        let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER"), Some("/w/tools/cc"));
        assert_eq!(get("CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER"), Some("/usr/bin/cc"));
        assert_eq!(get("CC_aarch64_unknown_linux_musl"), Some("/w/tools/cc"));
        assert_eq!(get("CARGO_BUILD_TARGET"), Some("aarch64-unknown-linux-musl"));
        assert_eq!(get("RUSTC_BOOTSTRAP"), None, "std is built once, not with each package");
        let flags: Vec<&str> = get("CARGO_ENCODED_RUSTFLAGS").unwrap().split('\u{1f}').collect();
        assert!(flags.contains(&"--sysroot=/cache/std"), "{flags:?}");
        assert!(flags.contains(&"-Ctarget-feature=-crt-static"), "{flags:?}");
        assert!(flags.contains(&"--remap-path-prefix=/w=/pyelf-build"), "{flags:?}");
        assert!(!flags.contains(&"-Cembed-bitcode=yes"), "only std keeps bitcode: {flags:?}");
    }
}
