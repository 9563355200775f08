//! End-to-end: cross-compilation to aarch64-unknown-linux-musl from this x86_64 machine. The
//! aarch64 toolchain's python3 passes the stdlib smoke test and a regression subset under
//! qemu-user; test.py, the e2e project and mdformat (from PyPI) built for aarch64 print what their
//! x86_64 builds print, in Alpine's arm64 userland and in an empty root, without /proc; packages
//! with C and C++ extension modules cross-built from source behave as their x86_64 builds; two
//! builds give the same bytes; `verify` checks the machine against the target.
//!
//! qemu-user runs static aarch64 programs directly (no binfmt_misc), about 10x slower than native.
//! Without binfmt_misc, a program cannot start another aarch64 program by its path (the kernel
//! does not know the format), so tests that re-execute `sys.executable` are skipped here (see
//! `REEXEC_TESTS`).
//!
//! They need the cross tools (`apt-get install --no-install-recommends gcc-aarch64-linux-gnu
//! linux-libc-dev-arm64-cross qemu-user-static`), both toolchains and root, so they are ignored by
//! a plain `cargo test`; `./test.sh` runs them.

mod common;

use common::roots::*;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

const PYELF: &str = env!("CARGO_BIN_EXE_pyelf");
const ARM: &str = "aarch64-unknown-linux-musl";
const X86: &str = "x86_64-unknown-linux-musl";

fn toolchain(triple: &str) -> pyelf::toolchain::Toolchain {
    let home = pyelf::home::Home::from_env().unwrap();
    pyelf::toolchain::ensure(&home, &pyelf::toolchain::pins::Pins::builtin(), triple, &Default::default()).unwrap()
}

fn arm() -> &'static pyelf::toolchain::Toolchain {
    static TC: OnceLock<pyelf::toolchain::Toolchain> = OnceLock::new();
    TC.get_or_init(|| toolchain(ARM))
}

/// Builds `input` for `target` into the shared temp dir.
fn build_for(target: &str, input: &Path, name: &str, extra: &[&str]) -> PathBuf {
    let out = tmp().join(format!("{name}-{target}"));
    // Extension modules built from source for both targets (the wheels' loader is tested by
    // tests/wheels.rs).
    let o = Command::new(PYELF)
        .arg("build")
        .args(["--from-source", ":all:"])
        .arg(input)
        .args(["--target", target, "-o"])
        .arg(&out)
        .args(extra)
        .output()
        .unwrap();
    assert!(o.status.success(), "build of {} for {target} failed:\n{}", input.display(), all(&o));
    out
}

/// Both builds of `input`: (x86_64, aarch64).
fn both(input: &Path, name: &str) -> (PathBuf, PathBuf) {
    (build_for(X86, input, name, &[]), build_for(ARM, input, name, &[]))
}

fn qemu() -> PathBuf {
    let out = Command::new("sh").args(["-c", "command -v qemu-aarch64-static"]).output().unwrap();
    assert!(
        out.status.success(),
        "qemu-aarch64-static is missing: apt-get install --no-install-recommends qemu-user-static"
    );
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

/// A fresh root of `kind` (`alpine-aarch64` or `empty`) with `binary` at /app and qemu-user at
/// /qemu-aarch64-static.
fn arm_root(kind: &str, binary: &Path, name: &str) -> PathBuf {
    let dir = tmp().join(format!("root-{kind}-{name}"));
    let st = Command::new("bash").arg(repo().join("../shared/tools/rootfs.sh")).arg(kind).arg(&dir).status().unwrap();
    assert!(st.success(), "rootfs.sh {kind} failed");
    fs::copy(binary, dir.join("app")).unwrap();
    fs::copy(qemu(), dir.join("qemu-aarch64-static")).unwrap();
    fs::create_dir_all(dir.join("proc")).unwrap();
    dir
}

/// Runs /app under qemu in `root`, without /proc, in an empty environment.
fn run_arm(root: &Path, args: &[&str]) -> Output {
    let mut full = vec!["/app"];
    full.extend_from_slice(args);
    in_root(root, "/qemu-aarch64-static", "/qemu-aarch64-static", &full, true)
}

/// The same, with /proc mounted (a shell command line).
fn run_arm_with_proc(root: &Path, args: &str) -> Output {
    in_root_with_proc_env(root, &format!("/qemu-aarch64-static /app {args}"), true)
}

#[test]
#[ignore = "builds the aarch64 toolchain and runs it under qemu-user; run by ./test.sh"]
fn the_aarch64_python_passes_the_stdlib_smoke_test_as_the_x86_64_one_does() {
    let dir = tmp().join("cross-tls");
    fs::create_dir_all(&dir).unwrap();
    make_test_ca(&dir);

    let smoke = repo().join("tests/e2e/cross/smoke.py");
    let x86 = toolchain(X86);
    let native = Command::new(x86.python()).arg("-I").arg(&smoke).arg(&dir).output().unwrap();
    assert!(native.status.success(), "x86_64: {}", all(&native));
    let tc = arm();
    assert!(tc.is_cross() && tc.target.runner() == ["qemu-aarch64-static"], "{:?}", tc.target.runner());
    let emulated = tc.command(tc.python()).arg("-I").arg(&smoke).arg(&dir).output().unwrap();
    assert!(emulated.status.success(), "aarch64: {}", all(&emulated));
    assert_eq!(text(&emulated), text(&native), "aarch64 (under qemu) and x86_64 differ");
    for want in [
        "tls hello tls TLSv1.3",
        "ctypes 44 b'static' 4 h\u{e9}\u{1f600}",
        "Queue.qsize 2",
        "setitimer ['SIGALRM']",
        "tzset ('EST', 'EDT') 17:13 EST",
        "hash siphash13 True 64",
    ] {
        assert!(text(&emulated).lines().any(|l| l == want), "no line {want:?} in:\n{}", text(&emulated));
    }
    let machine = tc
        .command(tc.python())
        .args(["-I", "-c", "import platform, sys; print(platform.machine(), sys.implementation._multiarch)"])
        .output()
        .unwrap();
    assert_eq!(text(&machine), "aarch64 aarch64-linux-musl\n", "{}", all(&machine));
    // The same built-in modules (the toolchain build checks it too).
    assert_eq!(tc.builtin_modules().unwrap(), x86.builtin_modules().unwrap());
}

/// Regression tests that start `sys.executable` (`script_helper.assert_python_ok`, json.tool by
/// subprocess), which needs binfmt_misc under qemu-user ("Exec format error"): skipped on both
/// sides (libregrtest's --ignorefile).
const REEXEC_TESTS: &[&str] = &[
    "test.test_json.test_tool.*",
    "test_cache_bytes_vs_str_bb",
    "test_struct_cleans_up_at_runtime_shutdown",
    "test_failed_import_during_compiling",
    "test_unicodedata_unload_reload",
];

/// A regression subset sized for emulation (about a minute under qemu-user on 2 cores).
const SUBSET: &[&str] = &[
    "test_json",
    "test_re",
    "test_struct",
    "test_float",
    "test_long",
    "test_unicodedata",
    "test_bisect",
    "test_heapq",
    "test_hashlib",
    "test_zlib",
    "test_bz2",
    "test_lzma",
    "test_csv",
    "test_fnmatch",
];

/// Runs [`SUBSET`] with `python` (a command); returns the failed and erroring tests, sorted, and
/// libregrtest's "Total tests" line.
fn regrtest(mut python: Command, ignore: &Path) -> (Vec<String>, String) {
    let out = python
        .args(["-I", "-m", "test", "-v", "--ignorefile"])
        .arg(ignore)
        .args(SUBSET)
        .env("TMPDIR", tmp())
        .output()
        .unwrap();
    let said = all(&out);
    let mut failed: Vec<String> =
        said.lines().filter(|l| l.starts_with("FAIL: ") || l.starts_with("ERROR: ")).map(str::to_string).collect();
    failed.sort();
    failed.dedup();
    let total = said
        .lines()
        .find(|l| l.starts_with("Total tests:"))
        .unwrap_or_else(|| panic!("no total in:\n{said}"))
        .to_string();
    assert!(said.contains(&format!("Total test files: run={0}/{0}", SUBSET.len())), "{said}");
    (failed, total)
}

#[test]
#[ignore = "runs CPython's tests under qemu-user; run by ./test.sh"]
fn the_aarch64_python_passes_a_regression_subset_as_the_x86_64_one_does() {
    let ignore = tmp().join("cross-ignore.txt");
    fs::write(&ignore, REEXEC_TESTS.join("\n") + "\n").unwrap();
    let tc = arm();
    let (arm_failed, arm_total) = regrtest(tc.command(tc.python()), &ignore);
    let (x86_failed, x86_total) = regrtest(Command::new(toolchain(X86).python()), &ignore);
    // The same tests ran and the same failed (musl's locale tests of test_re fail on both).
    assert_eq!(arm_total, x86_total);
    assert_eq!(arm_failed, x86_failed, "aarch64 (under qemu) and x86_64 differ");
    let run: u32 = arm_total
        .split("run=")
        .nth(1)
        .map(|r| r.chars().take_while(|c| c.is_ascii_digit() || *c == ',').filter(|c| *c != ',').collect::<String>())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(arm_failed.len() <= 2 && run > 1000, "{arm_total}: {arm_failed:?}");
}

#[test]
#[ignore = "builds real binaries for aarch64 and runs them under qemu-user in roots; run by ./test.sh"]
fn apps_built_for_aarch64_print_what_their_x86_64_builds_print_in_alpine_arm64_and_an_empty_root() {
    // test.py: os.uname() says the machine, the only line that differs.
    let (x86_bin, arm_bin) = both(&repo().join("test.py"), "test");
    let want = text(&Command::new(&x86_bin).output().unwrap()).replace("machine :  x86_64", "machine :  aarch64");
    assert!(want.contains("machine :  aarch64"), "{want}");
    for kind in ["alpine-aarch64", "empty"] {
        let root = arm_root(kind, &arm_bin, "test");
        let out = run_arm(&root, &[]);
        assert!(out.status.success(), "{kind}: {}", all(&out));
        assert_eq!(text(&out), want, "{kind}, no /proc");
        let out = run_arm_with_proc(&root, "");
        assert_eq!(text(&out), want, "{kind}, with /proc: {}", all(&out));
    }
    let facts = pyelf::elf::check_static(&arm_bin, goblin_aarch64()).unwrap();
    assert!(facts.pie && facts.interpreter.is_none() && facts.needed.is_empty(), "{facts:?}");
    let verify = Command::new(PYELF).arg("verify").arg(&arm_bin).args(["--target", ARM]).output().unwrap();
    assert!(verify.status.success(), "{}", all(&verify));
    // Without --target, verify takes the binary's own target; another one fails the machine check.
    let own = Command::new(PYELF).arg("verify").arg(&arm_bin).output().unwrap();
    assert!(own.status.success(), "{}", all(&own));
    assert!(all(&own).contains(&format!("checked as a binary for {ARM}")), "{}", all(&own));
    let wrong = Command::new(PYELF)
        .arg("verify")
        .arg(&arm_bin)
        .args(["--target", "x86_64-unknown-linux-musl"])
        .output()
        .unwrap();
    assert!(!wrong.status.success() && all(&wrong).contains("FAIL ELF for the target"), "{}", all(&wrong));

    // The e2e project: a package with subpackages, data files, a plugin imported by name.
    let (x86_bin, arm_bin) = both(&repo().join("tests/e2e/project"), "demo");
    let want = Command::new(&x86_bin).output().unwrap();
    assert_eq!(want.status.code(), Some(3), "{}", all(&want));
    for kind in ["alpine-aarch64", "empty"] {
        let root = arm_root(kind, &arm_bin, "demo");
        let out = run_arm(&root, &[]);
        assert_eq!((out.status.code(), text(&out)), (Some(3), text(&want)), "{kind}: {}", all(&out));
    }

    // The deep-frozen modules: in a cross build CPython's are made from the target's sources as its
    // cross build froze them, and used only when their digest matches the target's frozen bytes.
    // Every one is static (the same object at each get) and what marshal builds from those bytes.
    let names: Vec<&str> = pyelf::toolchain::stdlib::facts().deep_frozen.iter().map(String::as_str).collect();
    let (x86_bin, arm_bin) = both(&repo().join("tests/e2e/fidelity/deep_frozen.py"), "deep_frozen");
    let want = Command::new(&x86_bin).args(&names).output().unwrap();
    assert!(want.status.success(), "{}", all(&want));
    let root = arm_root("empty", &arm_bin, "deep_frozen");
    let out = run_arm(&root, &names);
    assert_eq!((out.status.code(), text(&out)), (Some(0), text(&want)), "{}", all(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&format!("compared {0}, not frozen here 0, static {0}", names.len())), "{stderr}");

    // A tool from PyPI with its dependencies: mdformat.
    let (x86_bin, arm_bin) = both(&repo().join("tests/e2e/tools/mdformat"), "mdformat");
    let doc = "Title\n=====\n\n* one\n* two\n\nSome   *text*   with a [link]( http://example.com ).\n";
    let work = tmp().join("cross-md");
    fs::create_dir_all(&work).unwrap();
    fs::write(work.join("doc.md"), doc).unwrap();
    let want = Command::new(&x86_bin).arg("-").stdin(fs::File::open(work.join("doc.md")).unwrap()).output().unwrap();
    assert!(text(&want).starts_with("# Title\n\n- one\n- two"), "{}", all(&want));
    for kind in ["alpine-aarch64", "empty"] {
        let root = arm_root(kind, &arm_bin, "mdformat");
        fs::write(root.join("doc.md"), doc).unwrap();
        let out = run_arm(&root, &["/doc.md"]);
        assert!(out.status.success(), "{kind}: {}", all(&out));
        assert_eq!(fs::read_to_string(root.join("doc.md")).unwrap(), text(&want), "{kind}");
        let out = run_arm(&root, &["--version"]);
        assert_eq!(
            text(&out),
            text(&Command::new(&x86_bin).arg("--version").output().unwrap()),
            "{kind}: {}",
            all(&out)
        );
    }
}

#[test]
#[ignore = "installs from PyPI, builds C extension modules for aarch64 and runs them under qemu-user; run by ./test.sh"]
fn c_and_cxx_extension_modules_are_cross_built_and_behave_as_on_x86_64() {
    // markupsafe, simplejson, psutil, msgpack (Cython), cffi (on libffi) and Jinja2.
    let script = repo().join("tests/e2e/native/native.py");
    let req = repo().join("tests/e2e/native/requirements.txt");
    let req = req.to_str().unwrap();
    let x86 = build_for(X86, &script, "native", &["-r", req]);
    let arm_bin = build_for(ARM, &script, "native", &["-r", req]);
    // On the host (psutil reads the same /proc) under qemu, and in Alpine arm64 with /proc.
    let want = Command::new(&x86).output().unwrap();
    assert!(want.status.success(), "{}", all(&want));
    let out = arm().command(&arm_bin).output().unwrap();
    assert_eq!(text(&out), text(&want), "{}", all(&out));
    let builtins = arm().command(&arm_bin).arg("builtins").output().unwrap();
    assert_eq!(
        text(&builtins),
        "['_cffi_backend', 'markupsafe._speedups', 'msgpack._cmsgpack', 'psutil._psutil_linux', 'simplejson._speedups']\n",
        "every extension module built in: {}",
        all(&builtins)
    );
    let root = arm_root("alpine-aarch64", &arm_bin, "native");
    let out = run_arm_with_proc(&root, "");
    assert_eq!(text(&out), text(&want), "alpine-aarch64, with /proc: {}", all(&out));

    // C++: ujson, and cxxthrow (a local sdist) throwing and catching, on zig's libc++ for aarch64.
    let dists = local_sdist("cxxthrow");
    let cxx_req = tmp().join("cross-cxx-requirements.txt");
    fs::write(&cxx_req, format!("--find-links {}\ncxxthrow==1.0\nujson==5.10.0\n", dists.display())).unwrap();
    let script = repo().join("tests/e2e/native/cxx.py");
    let x86 = build_for(X86, &script, "cxx", &["-r", cxx_req.to_str().unwrap()]);
    let arm_bin = build_for(ARM, &script, "cxx", &["-r", cxx_req.to_str().unwrap()]);
    let root = arm_root("empty", &arm_bin, "cxx");
    for args in [&[][..], &["cxxthrow"][..]] {
        let want = Command::new(&x86).args(args).output().unwrap();
        assert!(want.status.success(), "{}", all(&want));
        let out = run_arm(&root, args);
        assert_eq!(text(&out), text(&want), "{args:?}: {}", all(&out));
    }
    let verify = Command::new(PYELF).arg("verify").arg(&arm_bin).args(["--target", ARM]).output().unwrap();
    assert!(verify.status.success(), "{}", all(&verify));
}

#[test]
#[ignore = "builds Rust extensions from source for aarch64 (std too) and runs them under qemu-user; run by ./test.sh"]
fn rust_extensions_are_cross_built_and_behave_as_on_x86_64() {
    // rpds-py (maturin), bcrypt (setuptools-rust) and rustpanic (our PyO3 extension that panics,
    // a local sdist): Rust's std for aarch64 musl, and panics unwinding on aarch64.
    let dists = local_sdist("rustpanic");
    let pinned = fs::read_to_string(repo().join("tests/e2e/native/rust-requirements.txt")).unwrap();
    let req = tmp().join("cross-rust-requirements.txt");
    fs::write(&req, format!("--find-links {}\nrustpanic==1.0\n{pinned}", dists.display())).unwrap();
    let script = repo().join("tests/e2e/native/rust.py");
    let x86 = build_for(X86, &script, "rust", &["-r", req.to_str().unwrap()]);
    let arm_bin = build_for(ARM, &script, "rust", &["-r", req.to_str().unwrap()]);
    let root = arm_root("alpine-aarch64", &arm_bin, "rust");
    for args in [&[][..], &["rustpanic"][..]] {
        let want = Command::new(&x86).args(args).output().unwrap();
        assert!(want.status.success(), "{}", all(&want));
        let out = arm().command(&arm_bin).args(args).output().unwrap();
        assert_eq!(text(&out), text(&want), "{args:?}, qemu on the host: {}", all(&out));
        let out = run_arm(&root, args);
        assert_eq!(text(&out), text(&want), "{args:?}, alpine-aarch64 without /proc: {}", all(&out));
    }
}

fn goblin_aarch64() -> u16 {
    pyelf::toolchain::pins::Pins::builtin().target(ARM).unwrap().elf_machine
}

#[test]
#[ignore = "builds real binaries for aarch64; run by ./test.sh"]
fn aarch64_builds_are_reproducible() {
    let first = build_for(ARM, &repo().join("tests/e2e/project"), "repro-a", &[]);
    let second = build_for(ARM, &repo().join("tests/e2e/project"), "repro-b", &[]);
    assert_eq!(common::sha256(&fs::read(&first).unwrap()), common::sha256(&fs::read(&second).unwrap()));
}

#[test]
fn a_target_without_its_cross_tools_is_refused_with_the_packages_to_install() {
    let mut target = pyelf::toolchain::pins::Pins::builtin().target(ARM).unwrap().clone();
    target.cross.prefix = "pyelf-no-such-cross-".into();
    let err = pyelf::toolchain::compiler::HostCompiler::for_target(&target).unwrap_err().to_string();
    assert!(err.contains("pyelf-no-such-cross-gcc"), "{err}");
    assert!(
        err.contains(
            "apt-get install --no-install-recommends gcc-aarch64-linux-gnu linux-libc-dev-arm64-cross qemu-user-static"
        ),
        "{err}"
    );
}

#[test]
#[ignore = "installs from PyPI, builds for aarch64 and runs it under qemu-user in a root; run by ./test.sh"]
fn musllinux_aarch64_wheels_are_loaded_as_the_x86_64_ones_are() {
    let dir = repo().join("tests/e2e/wheels");
    let (script, req) = (dir.join("wheels.py"), dir.join("requirements.txt"));
    arm();
    let bin = tmp().join("wheels-aarch64");
    let o = Command::new(PYELF)
        .arg("build")
        .arg(&script)
        .arg("-r")
        .arg(&req)
        .args(["--target", ARM, "-o"])
        .arg(&bin)
        .output()
        .unwrap();
    assert!(o.status.success(), "build failed:\n{}", all(&o));
    // The reference: the venv's output (the same as the x86_64 binary's, tests/wheels.rs).
    let python = reference_venv("wheels", &req);
    let reference = Command::new(&python).arg(&script).output().unwrap();
    assert!(reference.status.success(), "{}", all(&reference));
    let root = arm_root("alpine-aarch64", &bin, "wheels");
    let out = run_arm(&root, &[]);
    assert_eq!(text(&out), text(&reference), "aarch64 in Alpine, no /proc: {}", all(&out));
    let out = run_arm_with_proc(&root, "");
    assert_eq!(text(&out), text(&reference), "aarch64 in Alpine, /proc: {}", all(&out));
}
