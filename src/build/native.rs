//! Native extensions: a package whose normal install has compiled extension modules (a platform
//! wheel) is built from its source distribution against the toolchain, and its extensions are
//! linked into the binary as built-in modules.
//!
//! The build: the toolchain's python3 runs the package's own build backend (PEP 517, through
//! `pep517.py`) with its build dependencies as pure-Python wheels. The compiler it runs is
//! `ccwrap.py` (as `CC`, `LDSHARED` and `cc`/`gcc` on PATH): it compiles with the musl compiler,
//! and makes each extension's `-shared` link one relocatable object (`ld -r`), which the wheel
//! carries where the shared library would be. [`prepare`] then renames the object's `PyInit_*`
//! to a symbol of its own and makes every other symbol local, so that extensions never see each
//! other's symbols (as `dlopen(RTLD_LOCAL)` keeps them apart).
//!
//! Nothing falls back silently: the build runs with the switches that make packages fail rather
//! than install their pure-Python version, and the wheel must hold every extension module the
//! package's platform wheel holds.
//!
//! Built wheels are cached by the source distribution's sha256, the toolchain and the builder.

use crate::toolchain::Toolchain;
use anyhow::{bail, Context, Result};
use fs_err as fs;
use std::path::{Path, PathBuf};
use std::process::Command;

// The recipes of the libraries below are not the toolchain's (a change to them must not rebuild
// it): declared here, beside their one user.
#[path = "recipes/libyaml.rs"]
mod libyaml;

/// Pins of the C libraries packages' extensions need beyond the toolchain's.
pub const LIBRARIES_TOML: &str = include_str!("../../toolchains/libraries.toml");
/// Which packages need which of them.
const NATIVE_TOML: &str = include_str!("../../toolchains/native.toml");

/// A library's recipe: its source text (part of its cache key) and its build function.
struct Recipe {
    text: &'static str,
    build: fn(&Path, &crate::toolchain::pins::Target, &Path, &str, &Path, &Path) -> Result<()>,
}

fn recipe(name: &str) -> Option<Recipe> {
    match name {
        "libyaml" => Some(Recipe { text: include_str!("recipes/libyaml.rs"), build: libyaml::build }),
        _ => None,
    }
}

/// The pinned libraries.
pub fn library_pins() -> crate::toolchain::pins::Pins {
    crate::toolchain::pins::Pins::parse(LIBRARIES_TOML, [])
        .expect("toolchains/libraries.toml is valid (checked by the tests)")
}

/// What native.toml says.
#[derive(serde::Deserialize)]
struct NativeToml {
    libraries: std::collections::BTreeMap<String, Vec<String>>,
    cxx: CxxPin,
    rust: crate::build::rust::RustFacts,
}

fn native_toml() -> NativeToml {
    toml::from_str(NATIVE_TOML).expect("toolchains/native.toml is valid (checked by the tests)")
}

/// The libraries (names of pins in libraries.toml) the extension modules of package `name` need.
pub fn libraries_of(name: &str) -> Vec<String> {
    native_toml()
        .libraries
        .into_iter()
        .filter(|(k, _)| crate::build::pip::normalize(k) == crate::build::pip::normalize(name))
        .flat_map(|(_, v)| v)
        .collect()
}

const WRAPPER_PY: &str = include_str!("ccwrap.py");
const FRONTEND_PY: &str = include_str!("pep517.py");
/// How Rust builds are run: part of the cache key.
const RUST_RS: &str = include_str!("rust.rs");

/// Environment of a build: switches that make a package build its extensions or fail (never
/// fall back to pure Python in silence), and those that would skip them, removed.
pub const FORCE: &[(&str, &str)] = &[("CIBUILDWHEEL", "1"), ("REQUIRE_SPEEDUPS", "1"), ("PYYAML_FORCE_LIBYAML", "1")];
pub const UNSET: &[&str] = &["DISABLE_SPEEDUPS", "MSGPACK_PUREPYTHON", "SKIP_CYTHON", "PYYAML_FORCE_PURE"];

/// The section of a captured extension object that names the toolchain libraries it needs.
pub const LIBS_SECTION: &str = ".pyelf.libs";

/// The `[cxx]` pin of native.toml: zig, pyelf's C++ compiler and runtime for musl.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct CxxPin {
    pub package: String,
    pub version: String,
    pub license: String,
    pub platform: String,
    pub sha256: String,
}

pub fn cxx_pin() -> CxxPin {
    native_toml().cxx
}

/// The `[rust]` facts of native.toml: which rustc and cargo build Rust extensions for musl.
pub fn rust_facts() -> crate::build::rust::RustFacts {
    native_toml().rust
}

/// zig's C++ set up: the compiler, the runtime archives and zig's cache directory.
pub struct Cxx {
    pub zig: PathBuf,
    pub runtime: Vec<PathBuf>,
    pub cache: PathBuf,
}

/// Builds packages' source distributions into wheels whose extension modules are objects.
pub struct Builder<'a> {
    pub tc: &'a Toolchain,
    /// Where the pinned libraries' sources come from.
    pub home: crate::home::Home,
    /// Where built wheels are kept (`$PYELF_HOME/native`).
    pub cache: PathBuf,
    /// Where each build's log goes.
    pub logs: PathBuf,
    pub source_date_epoch: u64,
}

impl Builder<'_> {
    /// The cache key of a build of the source distribution with this sha256.
    fn key(&self, sdist_sha256: &str, libraries: &[PathBuf]) -> String {
        let toolchain = self.toolchain_name();
        let mut parts = vec![
            ("sdist".to_string(), sdist_sha256.to_string()),
            ("toolchain".into(), toolchain),
            ("wrapper".into(), WRAPPER_PY.into()),
            ("frontend".into(), FRONTEND_PY.into()),
            ("force".into(), format!("{FORCE:?} {UNSET:?}")),
            ("cxx".into(), format!("{:?}", cxx_pin())),
            ("epoch".into(), self.source_date_epoch.to_string()),
            // The rustc that builds Rust extensions (its std is in them), and how it is run.
            ("rust".into(), self.rust().map(|r| format!("{} {:?}", r.version, r.build_std)).unwrap_or_default()),
            ("rust-env".into(), RUST_RS.into()),
        ];
        // The libraries' directories are named by their own keys.
        parts.extend(
            libraries
                .iter()
                .map(|l| ("library".to_string(), l.file_name().unwrap_or_default().to_string_lossy().to_string())),
        );
        crate::toolchain::hash_parts(&parts)
    }

    /// The rustc that can build Rust extensions for the target, or why there is none.
    fn rust(&self) -> std::result::Result<crate::build::rust::Rust, String> {
        crate::build::rust::find(&rust_facts(), &self.tc.target.triple)
    }

    fn toolchain_name(&self) -> String {
        self.tc.root.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default()
    }

    /// zig's C++ compiler and runtime for musl (the `[cxx]` pin of native.toml), set up on first
    /// use: the ziglang wheel downloaded by pip and checked by sha256, unpacked, and its runtime
    /// (libc++, libc++abi, libunwind) built once by linking an empty C++ program.
    pub fn cxx(&self) -> Result<Cxx> {
        let pin = cxx_pin();
        // The runtime is built for the target: one directory per target.
        let dir = self.cache.join("cxx").join(format!(
            "zig-{}-{}-{}",
            pin.version,
            &pin.sha256[..16],
            self.tc.target.musl_triple
        ));
        let load = |dir: &Path| -> Result<Cxx> {
            let runtime =
                ["libc++.a", "libc++abi.a", "libunwind.a"].iter().map(|f| dir.join("runtime").join(f)).collect();
            Ok(Cxx { zig: dir.join("ziglang/zig"), runtime, cache: dir.join("cache") })
        };
        if dir.join(".complete").is_file() {
            return load(&dir);
        }
        let parent = dir.parent().context("no parent")?;
        fs::create_dir_all(parent)?;
        let _lock = crate::toolchain::lock_exclusive(&parent.join(".lock"), "zig's C++ for musl")?;
        if dir.join(".complete").is_file() {
            return load(&dir);
        }
        crate::say!("setting up zig {} as the C++ compiler for musl (once; about a minute)", pin.version);
        let work = tempfile::Builder::new().prefix(".setup-").tempdir_in(parent)?;
        let req = format!("{}=={}", pin.package, pin.version);
        let (python, mut c) = crate::build::pip::pip_command(
            &[
                "download",
                "--quiet",
                "--no-deps",
                "--only-binary",
                ":all:",
                "--python-version",
                "3.13",
                "--platform",
                &pin.platform,
                "-d",
            ],
            &[work.path(), Path::new(&req)],
        );
        let out = c.output().with_context(|| format!("cannot run {python} -m pip"))?;
        if !out.status.success() {
            bail!(
                "cannot download {req} (zig, pyelf's C++ compiler for musl) with pip:\n{}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        let wheel = fs::read_dir(work.path())?
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|e| e == "whl"))
            .with_context(|| format!("pip downloaded no wheel of {req}"))?;
        let sha = crate::toolchain::fetch::sha256_file(&wheel)?;
        if sha != pin.sha256 {
            bail!("{} has sha256 {sha}, not the pinned {} (toolchains/native.toml [cxx])", wheel.display(), pin.sha256);
        }
        let ready = work.path().join("ready");
        let unzip = Command::new(&self.tc.build_python)
            .args(["-c", "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])"])
            .arg(&wheel)
            .arg(&ready)
            .status()?;
        if !unzip.success() {
            bail!("cannot unpack {}", wheel.display());
        }
        let zig = ready.join("ziglang/zig");
        crate::toolchain::compiler::set_executable(&zig)?;
        let cache = ready.join("cache");
        let probe = work.path().join("probe");
        fs::create_dir_all(&probe)?;
        fs::write(probe.join("empty.cc"), "int main() { return 0; }\n")?;
        let out = Command::new(&zig)
            .args(["c++", "-target", &self.tc.target.musl_triple, "-static", "empty.cc", "-o", "empty"])
            .current_dir(&probe)
            .env("ZIG_GLOBAL_CACHE_DIR", &cache)
            .env("ZIG_LOCAL_CACHE_DIR", &cache)
            .output()?;
        if !out.status.success() {
            bail!("zig could not build its C++ runtime for musl:\n{}", String::from_utf8_lossy(&out.stderr).trim());
        }
        let runtime = ready.join("runtime");
        fs::create_dir_all(&runtime)?;
        for lib in ["libc++.a", "libc++abi.a", "libunwind.a"] {
            let found = crate::fsutil::walk(&cache)?
                .into_iter()
                .find(|f| f.file_name().is_some_and(|n| n == lib))
                .with_context(|| format!("zig built no {lib}"))?;
            fs::copy(found, runtime.join(lib))?;
        }
        fs::write(ready.join(".complete"), format!("{req} {sha}\n"))?;
        let _ = fs::remove_dir_all(&dir);
        fs::rename(&ready, &dir)?;
        load(&dir)
    }

    /// The SBOM's view of the pinned library `name` (built on first use): name, version,
    /// licence, the sha256 of the archive it was built from, its upstream URL.
    pub fn library_component(&self, name: &str) -> Result<crate::build::sbom::Component> {
        let dir = self.library(name)?;
        let pins = library_pins();
        let pin = pins.source(name)?;
        let record = fs::read_to_string(dir.join(".complete"))?;
        Ok(crate::build::sbom::Component {
            name: pin.name.clone(),
            version: pin.version.clone(),
            license: pin.license.clone(),
            sha256: record.lines().next().unwrap_or_default().to_string(),
            url: pin.urls.first().cloned(),
        })
    }

    /// The directory (`include/`, `lib/`) of the pinned library `name`, built on first use.
    pub fn library(&self, name: &str) -> Result<PathBuf> {
        let pins = library_pins();
        let pin = pins.source(name)?;
        let recipe = recipe(name).with_context(|| format!("no recipe for the library {name}"))?;
        let parts = vec![
            ("pin".to_string(), format!("{pin:?}")),
            ("recipe".into(), crate::toolchain::recipes::behaviour(recipe.text)),
            ("toolchain".into(), self.toolchain_name()),
        ];
        let libs = self.cache.join("libs");
        let dir = libs.join(format!("{name}-{}-{}", pin.version, crate::toolchain::hash_parts(&parts)));
        if dir.join(".complete").is_file() {
            return Ok(dir);
        }
        fs::create_dir_all(&libs)?;
        let _lock = crate::toolchain::lock_exclusive(&libs.join(".lock"), "the C library cache")?;
        if dir.join(".complete").is_file() {
            return Ok(dir);
        }
        crate::say!("{name} {}: building it for the extension modules that need it", pin.version);
        let fetched = crate::toolchain::fetch::Fetcher::from_env(&self.home).fetch(pin)?;
        let work = tempfile::Builder::new().prefix(".build-").tempdir_in(&libs)?;
        let tree = crate::toolchain::unpack::unpack_source(&fetched, &work.path().join("src"))?;
        let prefix = work.path().join("prefix");
        (recipe.build)(&self.tc.cc(), &self.tc.target, &tree, &pin.version, &prefix, &work.path().join("obj"))
            .with_context(|| format!("cannot build {name} {}", pin.version))?;
        // What was built from: the archive's sha256 and file name (for the SBOM).
        fs::write(prefix.join(".complete"), format!("{}\n{}\n", fetched.artifact.sha256, fetched.artifact.file))?;
        let _ = fs::remove_dir_all(&dir);
        fs::rename(&prefix, &dir)?;
        Ok(dir)
    }

    /// Builds `name`'s source distribution `sdist` into a wheel (or takes it from the cache), and
    /// checks that it holds each module of `expected` (the platform wheel's extension modules).
    /// Returns the wheel's path in the cache.
    pub fn build(&self, name: &str, sdist: &Path, expected: &[String]) -> Result<PathBuf> {
        let sha = crate::toolchain::fetch::sha256_file(sdist)?;
        let libraries: Vec<PathBuf> = libraries_of(name).iter().map(|l| self.library(l)).collect::<Result<_>>()?;
        let cached = self.cache.join(self.key(&sha, &libraries));
        if let Some(wheel) = finished_wheel(&cached)? {
            crate::say!("{name}: extension modules built from source earlier (cached: {})", wheel.display());
            return Ok(wheel);
        }
        fs::create_dir_all(&self.cache)?;
        let _lock = crate::toolchain::lock_exclusive(&self.cache.join(".lock"), "the native extension cache")?;
        if let Some(wheel) = finished_wheel(&cached)? {
            return Ok(wheel);
        }
        let log = self.logs.join(format!("native-{name}.log"));
        crate::say!("{name}: building its extension modules from {} (log: {})", file_name(sdist), log.display());
        let started = std::time::Instant::now();
        let step = crate::steplog::Step::start(&format!("build {name}"), log.clone())?;
        let work = tempfile::Builder::new().prefix(".build-").tempdir_in(&self.cache)?;
        let mut attempt = self.build_in(&step, work.path().join("1").as_path(), name, sdist, &libraries, None);
        if attempt.is_err() && work.path().join("1/needs-c++").exists() {
            // It compiles C++: set up zig's C++ for musl (the first time) and build again.
            step.note("the build compiles C++ or Rust: building again with zig's C++ and runtime for musl")?;
            crate::say!("{name}: it compiles C++ or Rust; building again with zig's C++ and runtime for musl");
            let cxx = self.cxx()?;
            attempt = self.build_in(&step, work.path().join("2").as_path(), name, sdist, &libraries, Some(&cxx));
        }
        let wheel = attempt.map_err(|e| {
            if e.is::<Refused>() {
                return e;
            }
            let rust = ["1", "2"].iter().any(|a| work.path().join(a).join("rust").exists());
            let hint = if rust {
                format!("{name} is Rust: the log above says what failed; without --from-source its musllinux wheel, if it has one, is loaded instead")
            } else {
                format!("a C library that pyelf has no pin for (toolchains/libraries.toml) cannot be linked yet; `--no-native {name}` keeps its pure-Python fallback, if it has one")
            };
            anyhow::anyhow!(
                "cannot build {name}'s extension modules from its source distribution {}: {e:#}\nhint: {hint}",
                file_name(sdist),
            )
        })?;
        let built = extension_modules(self.tc, &step, work.path(), &wheel)?;
        let missing: Vec<&String> = expected.iter().filter(|m| !built.contains(m)).collect();
        if !missing.is_empty() {
            bail!(
                "{name}: the build from source made no {} (its platform wheel has {}): the package fell back to pure Python, or left an extension out.\n{}\n(full log: {})",
                missing.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "),
                expected.join(", "),
                crate::steplog::tail(&log, crate::steplog::TAIL_LINES),
                log.display()
            );
        }
        // Into the cache whole, or not at all.
        let ready = work.path().join("ready");
        fs::create_dir_all(&ready)?;
        let file = file_name(&wheel);
        fs::rename(&wheel, ready.join(&file))?;
        let _ = fs::remove_dir_all(&cached);
        fs::rename(&ready, &cached)?;
        crate::say!(
            "{name}: built {} in {:.1} s",
            if built.is_empty() { "no extension module".to_string() } else { built.join(", ") },
            started.elapsed().as_secs_f64()
        );
        Ok(cached.join(file))
    }

    /// The steps of a build in `work`; returns the wheel.
    fn build_in(
        &self,
        step: &crate::steplog::Step,
        work: &Path,
        name: &str,
        sdist: &Path,
        libraries: &[PathBuf],
        cxx: Option<&Cxx>,
    ) -> Result<PathBuf> {
        fs::create_dir_all(work)?;
        let tools = work.join("tools");
        fs::create_dir_all(&tools)?;
        let python = self.tc.build_python.clone();
        let wrapper = tools.join("cc");
        fs::write(&wrapper, format!("#!{} -I\n{WRAPPER_PY}", python.display()))?;
        crate::toolchain::compiler::set_executable(&wrapper)?;
        std::os::unix::fs::symlink("cc", tools.join("gcc"))?;
        // C++: the same wrapper under the names c++ and g++ (zig's clang for musl behind it when
        // it is set up; otherwise a refusal that asks for it), never the host's g++, built for
        // glibc.
        for alias in ["c++", "g++"] {
            std::os::unix::fs::symlink("cc", tools.join(alias))?;
        }
        let frontend = tools.join("pep517.py");
        fs::write(&frontend, FRONTEND_PY)?;
        let deps = work.join("build-deps");
        // Build programs (maturin) apart from the modules: a later `pip install --target` of
        // modules with scripts replaces the target's bin/.
        let programs = work.join("build-programs");
        let answer = work.join("answer.json");
        let path = format!("{}:{}", tools.display(), std::env::var("PATH").unwrap_or_default());
        let prefixes = std::env::join_paths(libraries)?;
        let mut include_flags: Vec<String> =
            libraries.iter().map(|l| format!("-I{}", l.join("include").display())).collect();
        // For another architecture: the build machine's python runs the build, told the
        // target's platform (`_PYTHON_HOST_PLATFORM`: the wheel's tag) and configuration (its
        // _sysconfigdata: EXT_SUFFIX, the files' names); the target's Python headers come first.
        let mut python_path = vec![deps.clone(), programs.clone()];
        let mut cross_env: Vec<(&str, String)> = Vec::new();
        // The target's configuration alone in a directory (PyO3 reads it there too).
        let data = self.tc.sysconfigdata()?;
        let config = tools.join("target-sysconfig");
        fs::create_dir_all(&config)?;
        fs::copy(self.tc.stdlib().join(format!("{data}.py")), config.join(format!("{data}.py")))?;
        if self.tc.is_cross() {
            python_path.push(config.clone());
            cross_env.push(("_PYTHON_SYSCONFIGDATA_NAME", data));
            cross_env.push(("_PYTHON_HOST_PLATFORM", format!("linux-{}", self.tc.target.arch)));
            include_flags.insert(0, format!("-I{}", self.tc.root.join("include/python3.13").display()));
        }
        let python_path = std::env::join_paths(&python_path)?;
        let lib_flags: Vec<String> = libraries.iter().map(|l| format!("-L{}", l.join("lib").display())).collect();
        let mut pkgconfig_dirs: Vec<PathBuf> = libraries.iter().map(|l| l.join("lib/pkgconfig")).collect();
        pkgconfig_dirs.push(self.tc.root.join("lib/pkgconfig"));
        let run = |what: &[&str], extra: &[(String, String)]| -> Result<serde_json::Value> {
            let mut c = Command::new(&python);
            c.arg(&frontend).args(what).current_dir(work);
            for v in UNSET.iter().chain(crate::build::rust::UNSET) {
                c.env_remove(v);
            }
            for (k, v) in FORCE {
                c.env(k, v);
            }
            c.envs(cross_env.iter().map(|(k, v)| (*k, v)));
            c.env("PYTHONPATH", &python_path)
                .env("PYELF_TOOLS_PREFIX", self.tc.target.tools_prefix())
                .env("PYELF_ANSWER", &answer)
                .env("PATH", &path)
                .env("CC", &wrapper)
                .env("LDSHARED", format!("{} -shared", wrapper.display()))
                .env("AR", self.tc.tool("ar"))
                .env("PYELF_REAL_CC", self.tc.cc())
                .env("PYELF_TOOLCHAIN_LIB", self.tc.root.join("lib"))
                .env("PYELF_CAPTURE_LOG", work.join("links.jsonl"))
                .env("PYELF_BUILD_ROOT", work)
                .env("PYELF_PREFIXES", &prefixes)
                .env("CXX", tools.join("c++"))
                .env("LDCXXSHARED", format!("{} -shared", tools.join("c++").display()))
                .env("PYELF_NEEDS_CXX", work.join("needs-c++"));
            if let Some(cxx) = cxx {
                c.env("PYELF_REAL_CXX", format!("{}:c++:-target:{}", cxx.zig.display(), self.tc.target.musl_triple))
                    .env("PYELF_CXX_RUNTIME", std::env::join_paths(&cxx.runtime)?)
                    .env("ZIG_GLOBAL_CACHE_DIR", &cxx.cache)
                    .env("ZIG_LOCAL_CACHE_DIR", &cxx.cache);
            }
            c.env("CFLAGS", include_flags.join(" "))
                .env("LDFLAGS", lib_flags.join(" "))
                // pkg-config finds the pinned libraries' .pc files only, never the host's: they
                // are the target's, so Rust's pkg-config crate may use them when it builds for
                // musl (openssl-sys for cryptography).
                .env("PKG_CONFIG_LIBDIR", std::env::join_paths(pkgconfig_dirs.iter())?)
                .env("PKG_CONFIG_ALLOW_CROSS", "1")
                .env_remove("PKG_CONFIG_PATH")
                .env_remove("PKG_CONFIG_SYSROOT_DIR")
                .env("SOURCE_DATE_EPOCH", self.source_date_epoch.to_string())
                .env("TMPDIR", work)
                .env("HOME", work)
                .envs(extra.iter().map(|(k, v)| (k, v)));
            step.run_command(&format!("pep517.py {}", what.join(" ")), &mut c)?;
            let text = fs::read_to_string(&answer)?;
            fs::remove_file(&answer)?;
            serde_json::from_str(&text).context("pep517.py answered no JSON")
        };
        let unpacked = work.join("src");
        let src = run(&["unpack", &sdist.to_string_lossy(), &unpacked.to_string_lossy()], &[])?;
        let src = src.as_str().context("no source tree")?.to_string();
        let table = run(&["requires", &src], &[])?;
        let requires: Vec<String> = serde_json::from_value(table["requires"].clone())?;
        step.note(&format!("build backend {}, requires {requires:?}", table["backend"]))?;
        let mut extra = Vec::new();
        if let Some(tool) = rust_build(table["backend"].as_str().unwrap_or(""), &requires) {
            let facts = rust_facts();
            let rust = self.rust().map_err(|why| {
                Refused(format!(
                    "cannot build {name} from source: it is a Rust extension (its build uses {tool}), and {why}.\n\
                     hint: {}; or without --from-source for {name}, its musllinux wheel, if it has one, is loaded instead",
                    facts.install
                ))
            })?;
            fs::write(work.join("rust"), &tool)?;
            step.note(&format!(
                "Rust extension ({tool}): {} (std crates built for the target: {:?}), {}",
                rust.rustc.display(),
                rust.build_std,
                rust.cargo.display()
            ))?;
            if cxx.is_none() {
                // Rust's panics unwind: its code needs an unwinder, LLVM's from zig's runtime.
                fs::write(work.join("needs-c++"), "")?;
                bail!("{name} is a Rust extension: it needs LLVM's unwinder, from zig's runtime for musl");
            }
            let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| work.to_path_buf());
            let host_cc = crate::build::rust::host_cc(&tools)?;
            let sysroot = rust.sysroot(&self.tc.target.triple, &self.cache, step)?;
            let dirs = crate::build::rust::BuildDirs {
                linker: &wrapper,
                host_cc: &host_cc,
                python_config: &config,
                work,
                home: &home,
            };
            extra = rust.env(&self.tc.target.triple, sysroot.as_deref(), &dirs);
            // maturin (a program in its wheel) and cargo are run by name: on PATH after the
            // wrappers; and maturin never installs a Rust of its own.
            let cargo_dir = rust.cargo.parent().unwrap_or(Path::new("/"));
            extra.push((
                "PATH".into(),
                format!("{}:{}:{}:{path}", tools.display(), programs.join("bin").display(), cargo_dir.display()),
            ));
            extra.push(("MATURIN_NO_INSTALL_RUST".into(), "1".into()));
        }
        self.install_build_deps(step, &deps, &programs, &requires, name)?;
        let dynamic: Vec<String> = serde_json::from_value(run(&["dynamic", &src], &extra)?)?;
        let more: Vec<String> = dynamic.into_iter().filter(|r| !requires.contains(r)).collect();
        if !more.is_empty() {
            self.install_build_deps(step, &deps, &programs, &more, name)?;
        }
        let out = work.join("dist");
        fs::create_dir_all(&out)?;
        let wheel = run(&["build", &src, &out.to_string_lossy()], &extra)?;
        let wheel = out.join(wheel.as_str().context("no wheel name")?);
        if let Ok(links) = fs::read_to_string(work.join("links.jsonl")) {
            step.note(&format!("captured links:\n{links}"))?;
        }
        Ok(wheel)
    }

    /// Installs build requirements: programs of the build machine (maturin, in a platform wheel)
    /// as its wheels into `programs`, the rest into `deps` as pure-Python wheels for Python 3.13,
    /// which is all the build's python (the toolchain's, static) can import.
    fn install_build_deps(
        &self,
        step: &crate::steplog::Step,
        deps: &Path,
        programs: &Path,
        requires: &[String],
        name: &str,
    ) -> Result<()> {
        let (tools, modules): (Vec<&String>, Vec<&String>) =
            requires.iter().partition(|r| BUILD_PROGRAMS.contains(&requirement_name(r).as_str()));
        for (group, pure) in [(tools, false), (modules, true)] {
            if group.is_empty() {
                continue;
            }
            let (_, mut c) = crate::build::pip::pip_command(&["install", "--quiet", "--upgrade"], &[]);
            if pure {
                c.args(crate::build::pip::PURE);
            } else {
                c.args(["--only-binary", ":all:", "--python-version", "3.13"]);
            }
            let names: Vec<&str> = group.iter().map(|r| r.as_str()).collect();
            c.arg("--target").arg(if pure { deps } else { programs }).args(&names);
            step.run_command(&format!("pip install {}", names.join(" ")), &mut c).with_context(|| {
                if pure {
                    format!(
                        "cannot install {name}'s build requirements ({}) as pure-Python wheels for Python 3.13: the build runs pyelf's static python3, which loads no compiled module (a build that imports cffi, as cryptography's does, cannot run)",
                        names.join(", ")
                    )
                } else {
                    format!("cannot install {name}'s build programs ({}) for the build machine", names.join(", "))
                }
            })?;
        }
        Ok(())
    }
}

/// Build requirements that are programs run by the build (their wheels hold a binary for the
/// build machine), not modules its python imports.
const BUILD_PROGRAMS: &[&str] = &["maturin"];

/// A requirement's project name, as pip compares them.
fn requirement_name(r: &str) -> String {
    crate::build::pip::normalize(
        r.split(|c: char| !(c.is_alphanumeric() || c == '-' || c == '_' || c == '.')).next().unwrap_or(""),
    )
}

/// A package pyelf does not try to build, and why.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Refused(String);

/// The Rust build tool a build uses (maturin, setuptools-rust), if it does.
fn rust_build(backend: &str, requires: &[String]) -> Option<String> {
    if backend.starts_with("maturin") {
        return Some("maturin".into());
    }
    requires.iter().map(|r| requirement_name(r)).find(|n| n == "maturin" || n == "setuptools-rust")
}

/// The answer of `pep517.py STEP WHEEL` about a wheel, run by the toolchain's python3.
fn ask_about_wheel<T: serde::de::DeserializeOwned>(
    tc: &Toolchain,
    step: &crate::steplog::Step,
    work: &Path,
    what: &str,
    wheel: &Path,
) -> Result<T> {
    let frontend = work.join("pep517-list.py");
    fs::write(&frontend, FRONTEND_PY)?;
    let answer = work.join("wheel-answer.json");
    let mut c = Command::new(&tc.build_python);
    c.arg(&frontend).arg(what).arg(wheel).env("PYELF_ANSWER", &answer);
    step.run_command(&format!("pep517.py {what} {}", wheel.display()), &mut c)?;
    Ok(serde_json::from_str(&fs::read_to_string(&answer)?)?)
}

/// The extension modules of a wheel (by its `*.so` files).
pub fn extension_modules(
    tc: &Toolchain,
    step: &crate::steplog::Step,
    work: &Path,
    wheel: &Path,
) -> Result<Vec<String>> {
    ask_about_wheel(tc, step, work, "extensions", wheel)
}

/// Whether a wheel's extension modules are its own Python modules compiled (by mypyc): each has
/// its `.py` beside it in the wheel, or is mypyc's runtime.
pub fn compiled_python(tc: &Toolchain, step: &crate::steplog::Step, work: &Path, wheel: &Path) -> Result<bool> {
    ask_about_wheel(tc, step, work, "compiled-python", wheel)
}

/// The wheel of a finished cache entry.
fn finished_wheel(dir: &Path) -> Result<Option<PathBuf>> {
    if !dir.is_dir() {
        return Ok(None);
    }
    for e in fs::read_dir(dir)? {
        let p = e?.path();
        if p.extension().is_some_and(|x| x == "whl") {
            return Ok(Some(p));
        }
    }
    Ok(None)
}

fn file_name(p: &Path) -> String {
    p.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default()
}

/// The pinned source of a toolchain library an extension links (`-lz`: zlib).
pub fn library_source(lib: &str) -> Option<&'static str> {
    Some(match lib {
        "z" => "zlib",
        "ffi" => "libffi",
        "ssl" | "crypto" => "openssl",
        "sqlite3" => "sqlite",
        "expat" => "expat",
        "bz2" => "bzip2",
        "lzma" => "xz",
        "mpdec" => "mpdecimal",
        "ncursesw" | "panelw" | "formw" | "menuw" => "ncurses",
        _ => return None,
    })
}

/// An extension module's object, ready to link.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The module's full dotted name.
    pub name: String,
    pub object: PathBuf,
    /// Its init function's new name.
    pub init: String,
    /// Toolchain libraries it needs (`z`, `ffi`, …).
    pub libs: Vec<String>,
}

/// The init function symbol of the extension module `name` once renamed: unique to the name.
pub fn init_symbol(name: &str) -> String {
    let mut s = String::from("PyInit_pyelf_ext_");
    for c in name.chars() {
        match c {
            '.' => s.push_str("_d"),
            '_' => s.push_str("_u"),
            c => s.push(c),
        }
    }
    s
}

/// The libraries an extension object pyelf built names in its [`LIBS_SECTION`]; `None` when the
/// ELF file is not such an object (a relocatable object with that section).
fn captured_libs(elf: &goblin::elf::Elf, data: &[u8]) -> Option<Vec<String>> {
    if elf.header.e_type != goblin::elf::header::ET_REL {
        return None;
    }
    let sh = elf.section_headers.iter().find(|sh| elf.shdr_strtab.get_at(sh.sh_name) == Some(LIBS_SECTION))?;
    let start = sh.sh_offset as usize;
    let bytes = data.get(start..start + sh.sh_size as usize).unwrap_or_default();
    Some(String::from_utf8_lossy(bytes).lines().filter(|l| !l.is_empty()).map(String::from).collect())
}

/// Makes the captured object of the extension module `name` (its file in the installed
/// package) ready to link into `dir`: `PyInit_<last part>` renamed to [`init_symbol`], the only
/// global symbol left. `None` when the file is not an extension object pyelf built (a shared
/// library from elsewhere).
pub fn prepare(tc: &Toolchain, name: &str, file: &Path, dir: &Path) -> Result<Option<Prepared>> {
    let data = fs::read(file)?;
    let Ok(elf) = goblin::elf::Elf::parse(&data) else { return Ok(None) };
    let Some(libs) = captured_libs(&elf, &data) else { return Ok(None) };
    if elf.header.e_machine != tc.target.elf_machine {
        bail!(
            "{}: the extension module {name} is built for {}, not for the target {}",
            file.display(),
            crate::elf::machine_name(elf.header.e_machine),
            tc.target.triple
        );
    }
    let last = name.rsplit('.').next().unwrap_or(name);
    let old = format!("PyInit_{last}");
    let defines = elf.syms.iter().any(|s| s.st_shndx != 0 && elf.strtab.get_at(s.st_name) == Some(old.as_str()));
    if !defines {
        bail!("{}: the extension module {name} defines no {old}, the function python calls to make it", file.display());
    }
    let glibc = crate::elf::glibc_only_symbols(&elf);
    if !glibc.is_empty() {
        bail!(
            "{}: the extension module {name} needs symbols only glibc has ({}): it was compiled against glibc's headers, or links a glibc-built library, and cannot work with musl",
            file.display(),
            glibc.join(", ")
        );
    }
    fs::create_dir_all(dir)?;
    let init = init_symbol(name);
    let object = dir.join(format!("{name}.o"));
    // In one objcopy run, symbols are renamed before the others are made local: the symbol kept
    // global is the new name.
    let objcopy = tc.tool("objcopy");
    let out = Command::new(&objcopy)
        .arg(format!("--redefine-sym={old}={init}"))
        .arg(format!("--keep-global-symbol={init}"))
        .arg(format!("--remove-section={LIBS_SECTION}"))
        .arg(file)
        .arg(&object)
        .output()
        .with_context(|| format!("cannot run {objcopy} (binutils)"))?;
    if !out.status.success() {
        bail!("{objcopy} of {} failed: {}", file.display(), String::from_utf8_lossy(&out.stderr).trim());
    }
    // The trap: had the old name been kept, the init function would now be local.
    let data = fs::read(&object)?;
    let elf = goblin::elf::Elf::parse(&data)?;
    let global_init = elf.syms.iter().any(|s| {
        s.st_shndx != 0
            && s.st_bind() == goblin::elf::sym::STB_GLOBAL
            && elf.strtab.get_at(s.st_name) == Some(init.as_str())
    });
    if !global_init {
        bail!("{}: after objcopy, {init} is not a global symbol of {name}'s object", object.display());
    }
    Ok(Some(Prepared { name: name.to_string(), object, init, libs }))
}

/// C of the functions the inittab calls for the extension modules: each calls the module's init
/// function with the package context set to the module's full name, as python's loader of
/// extension files does, so that a single-phase module whose `PyModuleDef` names it by its last
/// part (`_psutil_linux`) is made under its full name (`psutil._psutil_linux`).
pub fn init_c(extensions: &[Prepared]) -> (String, Vec<crate::build::inittab::Entry>) {
    let mut c = String::from(
        "/* generated by pyelf: the init functions of the extension modules built from source */\n#include <Python.h>\n\n\
         extern const char *_PyImport_SwapPackageContext(const char *newcontext);\n\n",
    );
    let mut entries = Vec::new();
    for (i, e) in extensions.iter().enumerate() {
        let f = format!("pyelf_ext_init_{i}");
        c.push_str(&format!(
            "extern PyObject *{init}(void);\n\
             PyObject *{f}(void)\n{{\n    const char *old = _PyImport_SwapPackageContext({name:?});\n    PyObject *m = {init}();\n    _PyImport_SwapPackageContext(old);\n    return m;\n}}\n\n",
            init = e.init,
            name = e.name
        ));
        entries.push(crate::build::inittab::Entry { name: e.name.clone(), init: Some(f) });
    }
    (c, entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_library_pins_and_their_users_are_valid() {
        let pins = library_pins();
        for (package, libs) in [("PyYAML", libraries_of("PyYAML")), ("pyyaml", libraries_of("pyyaml"))] {
            assert_eq!(libs, ["libyaml"], "{package}");
        }
        assert!(libraries_of("markupsafe").is_empty());
        for p in &pins.sources {
            assert!(recipe(&p.name).is_some(), "{} has a recipe", p.name);
        }
        let t: toml::Value = toml::from_str(NATIVE_TOML).unwrap();
        for libs in t["libraries"].as_table().unwrap().values() {
            for l in libs.as_array().unwrap() {
                assert!(pins.source(l.as_str().unwrap()).is_ok(), "{l} is pinned");
            }
        }
    }

    #[test]
    fn requirements_are_named_as_pip_names_them() {
        assert_eq!(requirement_name("maturin>=1.9,<2.0"), "maturin");
        assert_eq!(requirement_name("cffi>=2.0.0; platform_python_implementation != 'PyPy'"), "cffi");
        assert_eq!(requirement_name("Setuptools_Rust[toml]>=1.5"), "setuptools-rust");
        assert!(BUILD_PROGRAMS.contains(&requirement_name("maturin >= 1").as_str()));
    }

    #[test]
    fn rust_builds_are_recognised() {
        assert_eq!(rust_build("maturin", &[]), Some("maturin".into()));
        assert_eq!(
            rust_build("setuptools.build_meta", &["setuptools".into(), "setuptools_rust>=1.5".into()]),
            Some("setuptools-rust".into())
        );
        assert_eq!(rust_build("setuptools.build_meta", &["setuptools>=61".into(), "Cython".into()]), None);
    }

    #[test]
    fn init_symbols_are_unique_to_the_full_name() {
        assert_eq!(init_symbol("markupsafe._speedups"), "PyInit_pyelf_ext_markupsafe_d_uspeedups");
        assert_ne!(init_symbol("a_b.c"), init_symbol("a.b_c"));
        assert_ne!(init_symbol("markupsafe._speedups"), init_symbol("simplejson._speedups"));
    }
}
