//! End-to-end: packages with C extension modules (markupsafe, simplejson, psutil, msgpack), built
//! from their source distributions into one binary (`--from-source :all:`: by default their
//! musllinux wheels are loaded, tests/wheels.rs), and compared with the same versions installed
//! by pip into a CPython 3.13 venv (their platform wheels), in the roots of rootfs.sh with and
//! without /proc; the extension modules are built-in modules of the binary, a second build takes
//! them from the cache and gives the same bytes, and `--no-native` keeps a pure-Python fallback.
//! PyYAML with the libyaml pyelf builds, beside ruamel.yaml.clib's own copy of libyaml. Rust
//! extensions (maturin, setuptools-rust) built for musl with the build machine's rustc.
//!
//! They need the toolchain, pip's index, a CPython 3.13 and root, so they are ignored by a plain
//! `cargo test`; `./test.sh` runs them.

mod common;

use common::roots::*;
use std::fs;
use std::process::{Command, Output};

const PYELF: &str = env!("CARGO_BIN_EXE_pyelf");

fn pyelf_build(args: &[&str], out: &std::path::Path) -> Output {
    let o = Command::new(PYELF)
        .arg("build")
        .args(["--from-source", ":all:"])
        .args(args)
        .arg("-o")
        .arg(out)
        .output()
        .unwrap();
    assert!(o.status.success(), "build failed:\n{}", all(&o));
    o
}

const EXTENSIONS: &str =
    "['_cffi_backend', 'markupsafe._speedups', 'msgpack._cmsgpack', 'psutil._psutil_linux', 'simplejson._speedups']";

#[test]
#[ignore = "installs from PyPI, builds C extensions and real binaries, needs root; run by ./test.sh"]
fn c_extensions_built_from_source_match_a_normal_install_in_every_root() {
    let dir = repo().join("tests/e2e/native");
    let script = dir.join("native.py");
    let req = dir.join("requirements.txt");
    let bin = tmp().join("native");
    let args = [script.to_str().unwrap(), "-r", req.to_str().unwrap()];
    let first = pyelf_build(&args, &bin);
    let said = all(&first);
    for dist in ["MarkupSafe 3.0.2", "simplejson 4.3.0", "psutil 7.2.2", "msgpack 1.2.4", "Jinja2 3.1.6"] {
        assert!(said.contains(dist), "{dist} is reported as bundled:\n{said}");
    }

    // From the cache, the same bytes.
    let again = tmp().join("native-again");
    let second = all(&pyelf_build(&args, &again));
    for name in ["MarkupSafe", "simplejson", "psutil", "msgpack", "cffi"] {
        assert!(
            second.contains(&format!("{name}: extension modules built from source earlier (cached")),
            "{name} from the cache:\n{second}"
        );
    }
    assert!(fs::read(&again).unwrap() == fs::read(&bin).unwrap(), "a rebuild from the cache differs");

    let verify = Command::new(PYELF).arg("verify").arg(&bin).output().unwrap();
    assert!(verify.status.success(), "{}", all(&verify));

    // The reference: pip's platform wheels in a CPython 3.13 venv, where they are shared libraries.
    let python = reference_venv("native", &req);
    let reference = Command::new(&python).arg(&script).output().unwrap();
    assert!(reference.status.success(), "{}", all(&reference));
    let want = text(&reference);
    assert!(
        want.contains("markupsafe: True markupsafe._speedups") && want.contains("msgpack: msgpack._cmsgpack"),
        "{want}"
    );
    assert!(want.contains("cffi: _cffi_backend 2.0.0 3 0.5 16 42 b'libffi'"), "{want}");
    let builtins = Command::new(&python).arg(&script).arg("builtins").output().unwrap();
    assert_eq!(text(&builtins), "[]\n", "in python they are not built in");
    let without_proc = want
        .lines()
        .map(|l| if l.starts_with("process:") { "process: no /proc" } else { l })
        .map(|l| format!("{l}\n"))
        .collect::<String>();

    let out = Command::new(&bin).output().unwrap();
    assert_eq!(text(&out), want, "on the host: {}", all(&out));
    let out = Command::new(&bin).arg("builtins").output().unwrap();
    assert_eq!(text(&out).trim(), EXTENSIONS, "the extension modules are built in: {}", all(&out));

    runs_the_same_in_roots(&bin, "native", &ROOTS, &[(&[], &without_proc, &want)]);
}

#[test]
#[ignore = "installs from PyPI and builds a real binary; run by ./test.sh"]
fn no_native_keeps_a_packages_pure_python_fallback() {
    let script = tmp().join("escape.py");
    fs::write(
        &script,
        "import sys, markupsafe\nprint(markupsafe.escape('<&>'), 'markupsafe._speedups' in sys.builtin_module_names, markupsafe._escape_inner.__module__)\n",
    )
    .unwrap();
    let req = tmp().join("escape-requirements.txt");
    fs::write(&req, "markupsafe==3.0.2\n").unwrap();
    let bin = tmp().join("escape");
    let built =
        pyelf_build(&[script.to_str().unwrap(), "-r", req.to_str().unwrap(), "--no-native", "MarkupSafe"], &bin);
    assert!(all(&built).contains("--no-native: building it from source without its C code"), "{}", all(&built));
    let out = Command::new(&bin).output().unwrap();
    assert_eq!(text(&out), "&lt;&amp;&gt; False markupsafe._native\n", "{}", all(&out));
}

#[test]
#[ignore = "installs from PyPI, builds C extensions and real binaries, needs root; run by ./test.sh"]
fn pyyaml_on_libyaml_beside_ruamel_yaml_clibs_own_libyaml() {
    let dir = repo().join("tests/e2e/native");
    let script = dir.join("yaml_both.py");
    let req = dir.join("yaml-requirements.txt");
    let bin = tmp().join("yaml-both");
    let built = pyelf_build(&[script.to_str().unwrap(), "-r", req.to_str().unwrap()], &bin);
    let said = all(&built);
    assert!(said.contains("libyaml 0.2.5 (MIT)"), "libyaml is in the binary and its SBOM: {said}");
    let sbom = Command::new(PYELF).arg("sbom").arg(&bin).output().unwrap();
    let sbom = text(&sbom);
    assert!(sbom.contains("\"libyaml\"") && sbom.contains("\"PyYAML\""), "{sbom}");

    let python = reference_venv("yaml", &req);
    let reference = Command::new(&python).arg(&script).output().unwrap();
    assert!(reference.status.success(), "{}", all(&reference));
    let want = text(&reference);
    assert!(want.contains("libyaml: True yaml.cyaml"), "the reference uses libyaml too: {want}");
    let out = Command::new(&bin).arg("builtins").output().unwrap();
    assert_eq!(text(&out).trim(), "['_ruamel_yaml', 'yaml._yaml']", "{}", all(&out));
    runs_the_same_in_roots(&bin, "yaml-both", &["empty", "alpine"], &[(&[], &want, &want)]);
}

#[test]
#[ignore = "builds Rust from source (std too, the first time), installs from PyPI, builds real binaries, needs root; run by ./test.sh"]
fn rust_extensions_are_built_from_source_each_with_its_own_std() {
    // rpds-py (maturin) and bcrypt (setuptools-rust) from PyPI, and rustpanic, our PyO3
    // extension that panics, as a local source distribution: three Rust extensions, three copies
    // of std, in one binary.
    let dists = local_sdist("rustpanic");
    let reqs = repo().join("tests/e2e/native/rust-requirements.txt");
    let req = tmp().join("rust-requirements.txt");
    let pinned = fs::read_to_string(&reqs).unwrap();
    fs::write(&req, format!("--find-links {}\nrustpanic==1.0\n{pinned}", dists.display())).unwrap();
    let script = repo().join("tests/e2e/native/rust.py");
    let bin = tmp().join("rust");
    let built = all(&pyelf_build(&[script.to_str().unwrap(), "-r", req.to_str().unwrap()], &bin));
    for dist in ["rpds-py 2026.9.1", "bcrypt 5.0.0", "rustpanic 1.0", "zig-libc++ 0.14.1"] {
        assert!(built.contains(dist), "{dist} in the SBOM:\n{built}");
    }
    let verify = Command::new(PYELF).arg("verify").arg(&bin).output().unwrap();
    assert!(verify.status.success(), "one static ELF: {}", all(&verify));
    let embedded = all(&verify).lines().find(|l| l.contains("embedded shared objects")).unwrap_or_default().to_string();
    assert!(embedded.ends_with("none"), "no shared object is loaded, all are linked: {}", all(&verify));

    let python = reference_venv("rust", &reqs);
    let reference = Command::new(&python).arg(&script).output().unwrap();
    assert!(reference.status.success(), "{}", all(&reference));
    let want = text(&reference);
    assert!(want.contains("rpds HashTrieMap bcrypt._bcrypt"), "{want}");
    // A panic unwinds through the extension's frames to PyO3, which raises PanicException; one
    // caught inside Rust; thread-local state in each Python thread.
    let panics = "42\nPanicException boom -3\ncaught: index out of bounds: the len is 0 but the index is 3\n\
                  ValueError 3 is odd 4\n[[1, 2, 3], [1, 2, 3], [1, 2, 3], [1, 2, 3]] 1\n";

    let out = Command::new(&bin).output().unwrap();
    assert_eq!(text(&out), want, "{}", all(&out));
    let out = Command::new(&bin).arg("rustpanic").output().unwrap();
    assert_eq!(text(&out), panics, "{}", all(&out));
    assert!(all(&out).contains("panicked at lib.rs:16:9:\nboom -3"), "Rust's panic message: {}", all(&out));
    runs_the_same_in_roots(
        &bin,
        "rust",
        &["empty", "alpine"],
        &[(&[], &want, &want), (&["rustpanic"], panics, panics)],
    );
}

#[test]
#[ignore = "asks PyPI; run by ./test.sh"]
fn a_rust_extension_without_a_rust_for_musl_is_refused_with_what_to_install() {
    let script = tmp().join("rusty.py");
    fs::write(&script, "import orjson\nprint(orjson.dumps([1]))\n").unwrap();
    let req = tmp().join("rusty-requirements.txt");
    fs::write(&req, "orjson==3.13.0\n").unwrap();
    let out_path = tmp().join("rusty");
    let out = Command::new(PYELF)
        .arg("build")
        .args(["--from-source", ":all:"])
        .arg(&script)
        .arg("-r")
        .arg(&req)
        .arg("-o")
        .arg(&out_path)
        .env("PYELF_RUSTC", "/nonexistent/rustc")
        .output()
        .unwrap();
    let said = all(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(
        said.contains("cannot build orjson from source: it is a Rust extension (its build uses maturin), and no rustc here can build for x86_64-unknown-linux-musl (/nonexistent/rustc: not found)"),
        "{said}"
    );
    assert!(said.contains("apt-get install rustc-web rust-web-src"), "what to install: {said}");
    assert!(!said.contains("--no-native"), "no misleading hint: {said}");
    assert!(!out_path.exists());
}

#[test]
#[ignore = "installs from PyPI (zig's C++ for musl the first time), builds real binaries, needs root; run by ./test.sh"]
fn cxx_extensions_are_built_with_zigs_libcxx_and_their_exceptions_work() {
    // cxxthrow, our C++ extension that throws and catches, as a source distribution on a local
    // find-links directory; ujson from PyPI.
    let dists = local_sdist("cxxthrow");
    let req = tmp().join("cxx-requirements.txt");
    fs::write(&req, format!("--find-links {}\ncxxthrow==1.0\nujson==5.10.0\n", dists.display())).unwrap();
    let script = repo().join("tests/e2e/native/cxx.py");
    let bin = tmp().join("cxx");
    let built = pyelf_build(&[script.to_str().unwrap(), "-r", req.to_str().unwrap()], &bin);
    assert!(all(&built).contains("zig-libc++ 0.14.1"), "the C++ runtime is in the SBOM: {}", all(&built));
    let verify = Command::new(PYELF).arg("verify").arg(&bin).output().unwrap();
    assert!(verify.status.success(), "{}", all(&verify));

    let ujson_only = tmp().join("ujson-requirements.txt");
    fs::write(&ujson_only, "ujson==5.10.0\n").unwrap();
    let python = reference_venv("ujson", &ujson_only);
    let reference = Command::new(&python).arg(&script).output().unwrap();
    assert!(reference.status.success(), "{}", all(&reference));
    let want = text(&reference);
    assert!(want.contains("JSONDecodeError:"), "{want}");
    let thrown = "ok 5 | caught negative: -3 after 2 calls | True\n";

    let out = Command::new(&bin).output().unwrap();
    assert_eq!(text(&out), want, "{}", all(&out));
    let out = Command::new(&bin).arg("cxxthrow").output().unwrap();
    assert_eq!(text(&out), thrown, "{}", all(&out));
    runs_the_same_in_roots(&bin, "cxx", &["empty", "alpine"], &[(&[], &want, &want), (&["cxxthrow"], thrown, thrown)]);
}

/// A distribution's modules whose names start with a digit are bundled, though no `import`
/// statement can name them: digitnames' C extension `7a5e__helper` (as mypyc names its shared
/// runtime, which mypy's compiled modules import from C: without it mypy's binary failed at its
/// first import) and its `0001_initial.py` (as Django names migrations), both imported with
/// importlib, as python3 does after `pip install`.
#[test]
#[ignore = "builds from source and real binaries; run by ./test.sh"]
fn modules_whose_names_start_with_a_digit_are_bundled() {
    let (out, bin) = build_local_sdist_app("digitnames", &[]);
    assert!(out.status.success(), "{}", all(&out));
    let run = Command::new(&bin).output().unwrap();
    assert!(run.status.success(), "{}", all(&run));
    assert_eq!(text(&run), "42 initial\n", "{}", all(&run));
    // With the dependencies compiled by Cython, which refuses a module name that is not an
    // identifier, 0001_initial stays bytecode without a warning.
    let (out, compiled) = build_local_sdist_app("digitnames", &["--compile-deps"]);
    assert!(out.status.success(), "{}", all(&out));
    assert!(!all(&out).contains("warning"), "{}", all(&out));
    let run = Command::new(&compiled).output().unwrap();
    assert_eq!(text(&run), "42 initial\n", "{}", all(&run));
}

/// An entry point naming a module that is not there (stevedore ships one, for its tests) is left
/// out with a warning, as pip installs it and python fails only when that plugin is loaded; the
/// build stopped on it, and bandit, whose plugins come through stevedore, could not be built.
#[test]
#[ignore = "builds from source; run by ./test.sh"]
fn an_entry_point_naming_a_missing_module_fails_only_when_loaded() {
    let (out, bin) = build_local_sdist_app("plugdemo", &[]);
    assert!(out.status.success(), "{}", all(&out));
    assert!(all(&out).contains("leaving out plugdemo_missing"), "{}", all(&out));
    let run = Command::new(&bin).output().unwrap();
    assert!(run.status.success(), "{}", all(&run));
    assert_eq!(
        text(&run),
        "broken cannot be loaded: ModuleNotFoundError plugdemo_missing\ngood hello\n",
        "{}",
        all(&run)
    );
}

/// Builds an app that imports `name`, the package of `tests/e2e/native/NAME/` as a local source
/// distribution, with `extra` options; returns the build's output and the binary's path.
fn build_local_sdist_app(name: &str, extra: &[&str]) -> (Output, std::path::PathBuf) {
    let dists = local_sdist(name);
    let req = tmp().join(format!("{name}-requirements.txt"));
    fs::write(&req, format!("--find-links {}\n{name}==1.0\n", dists.display())).unwrap();
    // (Not `{name}.py`: a script named as the package would import itself instead.)
    let script = tmp().join(format!("use_{name}.py"));
    fs::write(&script, format!("import {name}\n")).unwrap();
    let out_path = tmp().join(name);
    let out = Command::new(PYELF)
        .arg("build")
        .args(extra)
        .arg(&script)
        .arg("-r")
        .arg(&req)
        .arg("-o")
        .arg(&out_path)
        .output()
        .unwrap();
    (out, out_path)
}

#[test]
#[ignore = "builds from source; run by ./test.sh"]
fn a_package_whose_c_build_fails_stops_the_build_with_the_words_of_the_failing_step() {
    // needslib's extension links -lnosuchlib: no static musl build of it exists, and the host's
    // libraries are never linked, so the build fails, names the package and shows why.
    let (out, out_path) = build_local_sdist_app("needslib", &["--from-source", ":all:"]);
    let said = all(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(
        said.contains("cannot build needslib's extension modules from its source distribution needslib-1.0.tar.gz"),
        "{said}"
    );
    assert!(
        said.contains("the extension links the library -lnosuchlib, which pyelf has no static musl build of"),
        "the wrapper's words: {said}"
    );
    assert!(said.contains("native-needslib.log"), "the log: {said}");
    assert!(said.contains("--no-native needslib"), "the way out: {said}");
    assert!(!said.contains("panicked"));
    assert!(!out_path.exists(), "no half-built binary");
}

#[test]
#[ignore = "installs from PyPI and builds a real binary; run by ./test.sh"]
fn hash_pinned_requirements_check_the_source_distribution_built_from() {
    let script = tmp().join("hashed.py");
    fs::write(
        &script,
        "import sys, markupsafe\nprint(markupsafe.escape('<&>'), 'markupsafe._speedups' in sys.builtin_module_names)\n",
    )
    .unwrap();
    let req = repo().join("tests/e2e/native/hashed-requirements.txt");
    let bin = tmp().join("hashed");
    pyelf_build(&[script.to_str().unwrap(), "-r", req.to_str().unwrap()], &bin);
    let out = Command::new(&bin).output().unwrap();
    assert_eq!(text(&out), "&lt;&amp;&gt; True\n", "{}", all(&out));
    let sbom = text(&Command::new(PYELF).arg("sbom").arg(&bin).output().unwrap());
    assert!(
        sbom.contains("ee55d3edf80167e48ea11a923c7386f4669df67d7994554387f84e7d8b0a2bf0"),
        "the SBOM gives the source's sha256: {sbom}"
    );

    // Only the wheel pinned: the source distribution does not match, and the build says what to pin.
    let wheel_only = tmp().join("wheel-only-requirements.txt");
    fs::write(
        &wheel_only,
        "markupsafe==3.0.2 --hash=sha256:15ab75ef81add55874e7ab7055e9c397312385bd9ced94920f2802310c930396\n",
    )
    .unwrap();
    let out_path = tmp().join("wheel-only");
    let out = Command::new(PYELF)
        .arg("build")
        .args(["--from-source", ":all:"])
        .arg(&script)
        .arg("-r")
        .arg(&wheel_only)
        .arg("-o")
        .arg(&out_path)
        .output()
        .unwrap();
    let said = all(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("whose sha256 the requirements do not pin"), "{said}");
    assert!(said.contains("pin the source distribution's hash too"), "{said}");
    assert!(!out_path.exists());
}

#[test]
#[ignore = "installs from PyPI and builds a real binary; run by ./test.sh"]
fn a_platform_wheel_of_python_compiled_by_mypyc_gives_way_to_the_pure_wheel() {
    // charset-normalizer's platform wheel holds cd.py and md.py beside their mypyc-compiled
    // extension modules: the same code as its pure-Python wheel, which is bundled (requests
    // depends on it unpinned, as cookiecutter's users have it).
    let script = tmp().join("charset.py");
    fs::write(&script, "import charset_normalizer\nr = charset_normalizer.from_bytes('Grüße, ça va? Привет'.encode('utf-8')).best()\nprint(r.encoding, str(r))\n").unwrap();
    let req = tmp().join("charset-requirements.txt");
    fs::write(&req, "charset-normalizer==3.5.3\n").unwrap();
    let bin = tmp().join("charset");
    let built = pyelf_build(&[script.to_str().unwrap(), "-r", req.to_str().unwrap()], &bin);
    assert!(all(&built).contains("charset_normalizer: its platform wheel is its Python code compiled by mypyc; bundling its pure-Python wheel"), "{}", all(&built));
    let python = reference_venv("charset", &req);
    let want = Command::new(&python).arg(&script).output().unwrap();
    assert!(want.status.success(), "{}", all(&want));
    let out = Command::new(&bin).output().unwrap();
    assert_eq!(text(&out), text(&want), "{}", all(&out));
}

#[test]
#[ignore = "builds from source; run by ./test.sh"]
fn a_build_that_asks_for_the_hosts_headers_of_a_library_stops_and_names_it() {
    // hostheaders puts /usr/include/freetype2 on its include path, as a package that asks the
    // system's pkg-config does: glibc's headers of a library pyelf does not pin.
    let (out, out_path) = build_local_sdist_app("hostheaders", &[]);
    let said = all(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("the build asks for the host's headers in /usr/include/freetype2"), "{said}");
    assert!(said.contains("freetype2 is not one of them"), "{said}");
    assert!(!out_path.exists(), "no half-built binary");
}
