//! The musl compiler wrapper: the host gcc, told by a specs file to use the toolchain's musl
//! headers, startup files and libc only, plus the kernel headers copied beside them.
//!
//! The wrapper finds the toolchain from its own location, so a toolchain built in a temporary
//! directory keeps working after it is renamed into place.

use anyhow::{bail, Context, Result};
use fs_err as fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The C compiler the wrapper drives: the host's gcc for a target of this machine's
/// architecture, else the GNU cross gcc the target names (`aarch64-linux-gnu-gcc`), with the
/// binutils and kernel headers that go with it.
#[derive(Debug, Clone)]
pub struct HostCompiler {
    pub program: PathBuf,
    /// `gcc --version`'s first line, part of the toolchain key.
    pub version: String,
    /// The multiarch directory (`x86_64-linux-gnu`) under `headers` where `asm/` may live.
    pub multiarch: String,
    /// Prefix of the binutils that go with it (`ar`, `strip`, `objcopy`, `nm`): empty natively.
    pub prefix: String,
    /// The include directory holding the Linux kernel headers.
    pub headers: PathBuf,
}

impl HostCompiler {
    /// Finds gcc (`$PYELF_HOST_CC` if set). clang is not supported by the wrapper yet.
    pub fn detect() -> Result<HostCompiler> {
        let program = std::env::var_os("PYELF_HOST_CC").map(PathBuf::from).unwrap_or_else(|| "gcc".into());
        let Some(version) = gcc_version(&program) else {
            bail!(
                "no host C compiler: `{} --version` did not run.\nhint: install gcc (apt-get install gcc, apk add gcc, dnf install gcc) or set PYELF_HOST_CC",
                program.display()
            );
        };
        if !version.contains("gcc") && !version.contains("GCC") {
            bail!("the host C compiler {} is not gcc ({version}); pyelf's musl wrapper needs gcc for now.\nhint: install gcc or set PYELF_HOST_CC to it", program.display());
        }
        let multiarch = Command::new(&program)
            .arg("-print-multiarch")
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| format!("{}-linux-gnu", std::env::consts::ARCH));
        Ok(HostCompiler { program, version, multiarch, prefix: String::new(), headers: "/usr/include".into() })
    }

    /// The compiler for `target`: [`HostCompiler::detect`] for this machine's architecture, else
    /// the target's cross tools, with one error naming the packages to install if any is missing.
    pub fn for_target(target: &crate::toolchain::pins::Target) -> Result<HostCompiler> {
        if target.is_native() {
            return HostCompiler::detect();
        }
        let prefix = target.cross.prefix.clone();
        let program = PathBuf::from(format!("{prefix}gcc"));
        let version = gcc_version(&program);
        let headers = PathBuf::from(&target.cross.kernel_headers);
        let mut missing = Vec::new();
        if version.is_none() {
            missing.push(format!("{prefix}gcc"));
        }
        for tool in ["ar", "ranlib", "strip", "objcopy", "nm"] {
            if !runs(&format!("{prefix}{tool}"), "--version") {
                missing.push(format!("{prefix}{tool}"));
            }
        }
        if !headers.join("linux/version.h").is_file() {
            missing.push(format!("the kernel headers in {}", headers.display()));
        }
        if let Some(runner) = target.cross.runner.first() {
            if !runs(runner, "--version") {
                missing.push(runner.clone());
            }
        }
        if !missing.is_empty() {
            bail!(
                "cannot build for {} on this {} machine: {} missing.\nhint: install the cross tools: apt-get install --no-install-recommends {}",
                target.triple,
                std::env::consts::ARCH,
                missing.join(", "),
                target.cross.packages.join(" ")
            );
        }
        let version = version.unwrap_or_default();
        Ok(HostCompiler { program, version, multiarch: prefix.trim_end_matches('-').to_string(), prefix, headers })
    }

    /// Whether this is a cross compiler (the target's programs do not run here directly).
    pub fn is_cross(&self) -> bool {
        !self.prefix.is_empty()
    }

    /// The kernel headers' version (`LINUX_VERSION_CODE`), part of the toolchain key.
    pub fn kernel_headers_version(&self) -> String {
        std::fs::read_to_string(self.headers.join("linux/version.h"))
            .ok()
            .and_then(|t| t.lines().find(|l| l.contains("LINUX_VERSION_CODE")).map(str::to_string))
            .unwrap_or_default()
    }
}

/// The first line of `program --version`, if it runs.
fn gcc_version(program: &Path) -> Option<String> {
    let out = Command::new(program).arg("--version").output().ok().filter(|o| o.status.success())?;
    Some(String::from_utf8_lossy(&out.stdout).lines().next().unwrap_or("").to_string())
}

fn runs(program: &str, arg: &str) -> bool {
    Command::new(program).arg(arg).output().is_ok_and(|o| o.status.success())
}

/// `bin/<musl_triple>-gcc` under a toolchain root.
pub fn wrapper_path(root: &Path, musl_triple: &str) -> PathBuf {
    root.join("bin").join(format!("{musl_triple}-gcc"))
}

/// A `cc::Build` that compiles with the musl wrapper `cc` for `target` (with the target's flags)
/// and archives with the target's `ar`,
/// writing objects and archives to `out_dir`: used for the toolchain's libraries and for apps.
pub fn cc_build(cc: &Path, target: &crate::toolchain::pins::Target, out_dir: &Path) -> cc::Build {
    let mut b = cc::Build::new();
    b.compiler(cc)
        .archiver(target.tool("ar"))
        .target(&target.triple)
        .host(&target.triple)
        .opt_level(2)
        .debug(false)
        .pic(true)
        .warnings(false)
        .cargo_metadata(false)
        .cargo_warnings(false)
        .out_dir(out_dir);
    for f in &target.cflags {
        b.flag(f);
    }
    b
}

/// The specs file: gcc's own include directory and libgcc, everything else from the toolchain.
/// `PYELF_MUSL_ROOT` is set by the wrapper to the toolchain root.
const SPECS: &str = r#"%rename cpp_options old_cpp_options

*cpp_options:
-nostdinc -isystem %:getenv(PYELF_MUSL_ROOT /include) -isystem include%s %(old_cpp_options)

*cc1:
%(cc1_cpu) -nostdinc -isystem %:getenv(PYELF_MUSL_ROOT /include) -isystem include%s

*link_libgcc:
-L%:getenv(PYELF_MUSL_ROOT /lib) -L .%s

*libgcc:
libgcc.a%s %:if-exists(libgcc_eh.a%s)

*startfile:
%{static-pie:%:getenv(PYELF_MUSL_ROOT /lib/rcrt1.o)} %{!static-pie:%{!shared:%:getenv(PYELF_MUSL_ROOT /lib/Scrt1.o)}} %:getenv(PYELF_MUSL_ROOT /lib/crti.o) crtbeginS.o%s

*endfile:
crtendS.o%s %:getenv(PYELF_MUSL_ROOT /lib/crtn.o)

*link:
-nostdlib %{shared:-shared} %{static:-static} %{static-pie:-static -pie --no-dynamic-linker -z text} %{rdynamic:-export-dynamic}
"#;

/// What the toolchains directory is called in paths compiled into programs.
pub const REMAPPED_TOOLCHAINS: &str = "/pyelf/toolchains";

/// Writes the wrapper and its specs file into the toolchain at `root`. The wrapper answers
/// `-dumpmachine` and `-print-multiarch` with the musl triple (CPython's configure compares them
/// with the triplet it detects).
///
/// For reproducible output the wrapper sets `SOURCE_DATE_EPOCH` (`__DATE__`, `__TIME__`) and maps
/// the toolchains directory, where toolchains are built, to `/pyelf/toolchains` in every path
/// the compiler records (`__FILE__`, debug information).
pub fn install_wrapper(root: &Path, host: &HostCompiler, musl_triple: &str, source_date_epoch: u64) -> Result<PathBuf> {
    fs::create_dir_all(root.join("bin"))?;
    fs::create_dir_all(root.join("lib"))?;
    fs::write(root.join("lib/pyelf-musl.specs"), SPECS)?;
    let script = format!(
        r#"#!/bin/sh
# pyelf's musl compiler wrapper: {gcc} against this toolchain's musl only.
for a in "$@"; do
  case "$a" in
    -dumpmachine|-print-multiarch|--print-multiarch) echo {musl_triple}; exit 0 ;;
  esac
done
PYELF_MUSL_ROOT=$(cd "$(dirname "$0")/.." && pwd)
SOURCE_DATE_EPOCH={source_date_epoch}
export PYELF_MUSL_ROOT SOURCE_DATE_EPOCH
exec {gcc} -ffile-prefix-map="$(dirname "$PYELF_MUSL_ROOT")"={REMAPPED_TOOLCHAINS} "$@" -specs "$PYELF_MUSL_ROOT/lib/pyelf-musl.specs"
"#,
        gcc = shell_quote(&host.program.display().to_string()),
    );
    let path = wrapper_path(root, musl_triple);
    fs::write(&path, script)?;
    set_executable(&path)?;
    Ok(path)
}

/// Copies the Linux kernel headers (`linux/`, `asm/`, `asm-generic/`) of the compiler into
/// `root/include`. They are the kernel's, not glibc's, so they do not tie the build to the host libc.
pub fn install_kernel_headers(root: &Path, host: &HostCompiler) -> Result<()> {
    let usr = host.headers.as_path();
    let asm = [usr.join(&host.multiarch).join("asm"), usr.join("asm")].into_iter().find(|p| p.is_dir());
    let (Some(asm), true, true) = (asm, usr.join("linux").is_dir(), usr.join("asm-generic").is_dir()) else {
        bail!("the Linux kernel headers are missing ({0}/linux, asm, asm-generic).\nhint: apt-get install linux-libc-dev (Debian/Ubuntu), apk add linux-headers (Alpine), dnf install kernel-headers (Fedora/RHEL)", usr.display());
    };
    let include = root.join("include");
    for (from, name) in [(usr.join("linux"), "linux"), (usr.join("asm-generic"), "asm-generic"), (asm, "asm")] {
        copy_tree(&from, &include.join(name))
            .with_context(|| format!("copying kernel headers from {}", from.display()))?;
    }
    Ok(())
}

fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        if src.is_dir() {
            copy_tree(&src, &dst)?;
        } else {
            fs::copy(&src, &dst)?;
        }
    }
    Ok(())
}

pub fn set_executable(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))?;
    Ok(())
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapper_answers_the_musl_triple() {
        let tmp = tempfile::tempdir().unwrap();
        let host = HostCompiler {
            program: "/bin/false".into(),
            version: String::new(),
            multiarch: String::new(),
            prefix: String::new(),
            headers: "/usr/include".into(),
        };
        let w = install_wrapper(tmp.path(), &host, "x86_64-linux-musl", 1).unwrap();
        for flag in ["-dumpmachine", "-print-multiarch", "--print-multiarch"] {
            let out = Command::new(&w).arg(flag).output().unwrap();
            assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "x86_64-linux-musl", "{flag}");
        }
        assert!(std::fs::read_to_string(tmp.path().join("lib/pyelf-musl.specs")).unwrap().contains("-nostdinc"));
    }

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("a'b"), r"'a'\''b'");
    }
}
