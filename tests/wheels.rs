//! End-to-end: packages whose normal install is compiled code, bundled from their musllinux
//! wheels (the bytes pip installs on Alpine) and loaded by the binary's own loader: Rust
//! (orjson, pydantic-core, cryptography with its own OpenSSL), C (msgpack, markupsafe) and numpy
//! (OpenBLAS and libgfortran bundled by auditwheel, threads, fork). Compared with the same
//! versions installed by pip into a CPython 3.13 venv (their manylinux wheels), on the host and in
//! the empty and Alpine roots, with and without /proc.
//!
//! They need the toolchain, pip's index, a CPython 3.13 and root, so they are ignored by a plain
//! `cargo test`; `./test.sh` runs them.

mod common;

use common::roots::*;
use std::process::{Command, Output};

const PYELF: &str = env!("CARGO_BIN_EXE_pyelf");

/// `pyelf build SCRIPT -r REQ -o OUT`, which must succeed.
fn build(script: &std::path::Path, req: &std::path::Path, out: &std::path::Path) -> Output {
    let o = Command::new(PYELF).arg("build").arg(script).arg("-r").arg(req).arg("-o").arg(out).output().unwrap();
    assert!(o.status.success(), "build of {} failed:\n{}", script.display(), all(&o));
    o
}

#[test]
#[ignore = "installs from PyPI, builds a real binary and needs root; run by ./test.sh"]
fn musllinux_wheels_are_loaded_from_the_binary_and_match_a_normal_install_in_every_root() {
    let dir = repo().join("tests/e2e/wheels");
    let script = dir.join("wheels.py");
    let req = dir.join("requirements.txt");
    let bin = tmp().join("wheels");
    let o = build(&script, &req, &bin);
    let said = all(&o);
    for dist in [
        "numpy 2.5.5",
        "pandas 3.1.1",
        "orjson 3.13.0",
        "pydantic_core 2.50.5",
        "cryptography 50.0.2",
        "pillow 13.0.0",
        "lxml 6.2.0",
        "rpds-py 2026.9.1",
    ] {
        assert!(said.contains(dist), "{dist} is reported as bundled:\n{said}");
    }

    // Bit for bit the same when built again.
    let again = tmp().join("wheels-again");
    build(&script, &req, &again);
    assert!(std::fs::read(&again).unwrap() == std::fs::read(&bin).unwrap(), "two builds with wheels differ");

    // verify: one static ELF, and the objects it loads are for its machine.
    let verify = Command::new(PYELF).arg("verify").arg(&bin).output().unwrap();
    assert!(verify.status.success(), "{}", all(&verify));
    let report = text(&verify);
    let line = report.lines().find(|l| l.contains("embedded shared objects")).unwrap_or_default();
    assert!(
        line.starts_with("ok")
            && line.contains("numpy/_core/_multiarray_umath.cpython-313-x86_64-linux-musl.so (x86_64)"),
        "{report}"
    );
    assert!(line.contains("numpy.libs/libscipy_openblas64_"), "the libraries auditwheel bundled: {report}");
    // The SBOM: each wheel by its sha256, and what auditwheel bundled in it.
    let sbom = text(&Command::new(PYELF).arg("sbom").arg(&bin).output().unwrap());
    assert!(sbom.contains("bundled in numpy 2.5.5"), "{sbom}");

    let python = reference_venv("wheels", &req);
    let reference = Command::new(&python).arg(&script).output().unwrap();
    assert!(reference.status.success(), "{}", all(&reference));
    let want = text(&reference);
    assert!(want.contains("files: numpy/_core/_multiarray_umath.cpython-313-PLATFORM.so"), "{want}");

    let out = Command::new(&bin).output().unwrap();
    assert_eq!(text(&out), want, "on the host: {}", all(&out));
    runs_the_same_in_roots(&bin, "wheels", &["empty", "alpine"], &[(&[], &want, &want)]);
}

#[test]
#[ignore = "installs from PyPI, builds a real binary and needs root; run by ./test.sh"]
fn scipy_from_its_musllinux_wheel_matches_a_normal_install() {
    // scipy: Fortran (its gfortran runtime bundled), C++, and its own OpenBLAS beside numpy's.
    let dir = repo().join("tests/e2e/wheels");
    let script = dir.join("scipy_app.py");
    let req = dir.join("scipy-requirements.txt");
    let bin = tmp().join("scipy");
    let o = build(&script, &req, &bin);
    assert!(all(&o).contains("scipy 1.18.1"), "{}", all(&o));
    let python = reference_venv("scipy", &req);
    let reference = Command::new(&python).arg(&script).output().unwrap();
    assert!(reference.status.success(), "{}", all(&reference));
    let want = text(&reference);
    assert!(want.contains("LinAlgError: A singular matrix"), "{want}");
    let out = Command::new(&bin).output().unwrap();
    assert_eq!(text(&out), want, "on the host: {}", all(&out));
    runs_the_same_in_roots(&bin, "scipy", &["empty"], &[(&[], &want, &want)]);
}

/// Compiles `c` into the shared object `out` with `cc` and `flags` (no libc: nothing is run).
fn shared_object(cc: &str, c: &str, out: &std::path::Path, flags: &[&str]) {
    let src = out.with_extension("c");
    std::fs::write(&src, c).unwrap();
    let o =
        Command::new(cc).args(["-shared", "-fPIC", "-nostdlib", "-o"]).arg(out).arg(&src).args(flags).output().unwrap();
    assert!(o.status.success(), "{cc}: {}", all(&o));
}

/// A refusal case: its name, how its shared object is made, and the reason the build gives.
type Case<'a> = (&'a str, &'a dyn Fn(&std::path::Path), &'a str);

#[test]
#[ignore = "builds real binaries with the toolchain; run by ./test.sh"]
fn shared_objects_the_loader_cannot_load_are_refused_when_the_binary_is_built() {
    const PLAIN: &str = "int counter = 1;\nint PyInit__impl(void) { return counter; }\n";
    // An absolute address in its code: a text relocation.
    const TEXTREL: &str = "int counter = 1;\nlong where(void) { long r; __asm__(\"movabs $counter, %0\" : \"=r\"(r)); return r; }\nint PyInit__impl(void) { return counter; }\n";
    let base = tmp().join("refused");
    let script = base.join("app.py");
    std::fs::create_dir_all(&base).unwrap();
    std::fs::write(&script, "import bad._impl\n").unwrap();
    let cases: [Case; 3] = [
        ("textrel", &|so| shared_object("cc", TEXTREL, so, &["-Wl,-z,notext"]), "it has text relocations (TEXTREL)"),
        ("machine", &|so| shared_object("aarch64-linux-gnu-gcc", PLAIN, so, &[]), "it is built for aarch64"),
        (
            "needed",
            &|so| {
                let dep = so.with_file_name("libdep.so");
                shared_object("cc", PLAIN, &dep, &["-Wl,-soname,libdep.so.7"]);
                let dir = format!("-L{}", dep.parent().unwrap().display());
                shared_object("cc", PLAIN, so, &[&dir, "-Wl,--no-as-needed", "-ldep"]);
                std::fs::remove_file(dep).unwrap();
            },
            "it needs libdep.so.7, which is neither in its wheel",
        ),
    ];
    for (name, make, why) in cases {
        let site = base.join(name);
        let pkg = site.join("bad");
        std::fs::create_dir_all(&pkg).unwrap();
        std::fs::write(pkg.join("__init__.py"), "").unwrap();
        make(&pkg.join("_impl.cpython-313-x86_64-linux-musl.so"));
        let out = tmp().join(format!("refused-{name}"));
        let o = Command::new(PYELF)
            .arg("build")
            .arg(&script)
            .arg("--site-packages")
            .arg(&site)
            .arg("-o")
            .arg(&out)
            .output()
            .unwrap();
        let said = all(&o);
        assert_eq!(o.status.code(), Some(1), "{name}: {said}");
        assert!(
            said.contains("cannot bundle bad: pyelf's loader cannot load bad/_impl.cpython-313-x86_64-linux-musl.so"),
            "{name}: {said}"
        );
        assert!(said.contains(why), "{name}: {said}");
        assert!(said.contains("hint: --from-source bad"), "{name}: {said}");
        assert!(!said.contains("panicked") && !out.exists(), "{name}: {said}");
    }
}

/// pytest's closing counts (`passed`, `failed`, `skipped`…) and its skip reasons (`-rs`), each
/// with how many tests it skipped.
fn pytest_totals(out: &str) -> (std::collections::BTreeMap<String, u64>, std::collections::BTreeMap<String, u64>) {
    let mut totals = std::collections::BTreeMap::new();
    let last = out.lines().rev().find(|l| l.contains(" in ") && (l.contains("passed") || l.contains("failed")));
    for part in last.unwrap_or_default().split(" in ").next().unwrap_or_default().split(", ") {
        let mut w = part.trim_matches(|c| c == '=' || c == ' ').split(' ');
        if let (Some(n), Some(what)) = (w.next().and_then(|n| n.parse().ok()), w.next()) {
            if !what.starts_with("warning") {
                totals.insert(what.to_string(), n);
            }
        }
    }
    let mut skips = std::collections::BTreeMap::new();
    for l in out.lines().filter_map(|l| l.strip_prefix("SKIPPED [")) {
        let (n, rest) = l.split_once("] ").unwrap_or(("1", l));
        // `path:line: reason`: the path differs between the venv and the binary's tree.
        let reason = rest.splitn(3, ':').nth(2).unwrap_or(rest).trim().to_string();
        *skips.entry(reason).or_insert(0) += n.parse::<u64>().unwrap_or(1);
    }
    (totals, skips)
}

/// Skips that differ between a glibc venv and a musl binary, as they differ between the venv and
/// python3 on Alpine: musl's setlocale() accepts any locale name (the venv's host has no French
/// locale), musl's fdopen() does not check the descriptor, and CPython's `_testbuffer` test
/// helper is no module a pyelf binary carries.
const LIBC_SKIPS: &[&str] = &[
    "No French locale available",
    "musl and emscripten libc fdopen do not validate the fd",
    "_testbuffer is not available",
];

#[test]
#[ignore = "installs from PyPI, builds a real binary, runs numpy's test suite four times and needs root; run by ./test.sh"]
fn numpys_own_tests_give_the_venvs_totals_in_the_empty_root_and_in_alpine() {
    let dir = repo().join("tests/e2e/wheels");
    let req = dir.join("numpy-tests-requirements.txt");
    let bin = tmp().join("numpy-tests");
    let mut args: Vec<String> = vec![dir.join("pytest_runner.py").display().to_string(), "--python-cli".into()];
    args.extend(["-r".into(), req.display().to_string()]);
    for p in ["numpy._core.tests", "numpy.linalg.tests", "numpy.fft.tests", "numpy.random.tests"] {
        args.extend(["--include-package".into(), p.into()]);
    }
    let o = Command::new(PYELF).arg("build").args(&args).arg("-o").arg(&bin).output().unwrap();
    assert!(o.status.success(), "build failed:\n{}", all(&o));

    let python = reference_venv("numpy-tests", &req);
    let venv_cwd = tmp().join("numpy-tests-venv-cwd");
    std::fs::create_dir_all(&venv_cwd).unwrap();
    let roots: Vec<(&str, std::path::PathBuf)> = ["empty", "alpine"]
        .iter()
        .map(|k| {
            let root = root_with(k, &bin, "numpy-tests");
            std::fs::copy(&bin, root.join("python3")).unwrap();
            // pytest opens /dev/null (its capture and logging), as it does under python3: the
            // empty root gets that one device node.
            let null = root.join("dev/null");
            if !null.exists() {
                std::fs::create_dir_all(root.join("dev")).unwrap();
                let st = Command::new("mknod").args(["-m", "666"]).arg(&null).args(["c", "1", "3"]).status().unwrap();
                assert!(st.success(), "mknod {}", null.display());
            }
            (*k, root)
        })
        .collect();
    for module in ["numpy.linalg", "numpy.fft", "numpy.random", "numpy._core.tests.test_multiarray"] {
        let pytest = ["-m", "pytest", "-p", "no:cacheprovider", "-q", "-rs", "--pyargs", module];
        let venv = Command::new(&python).args(pytest).current_dir(&venv_cwd).output().unwrap();
        let (want, want_skips) = pytest_totals(&all(&venv));
        assert!(want.get("passed").copied().unwrap_or(0) > 100, "{module} in the venv: {}", all(&venv));
        for (kind, root) in &roots {
            // The longest module (two minutes a run) once, in the empty root: Alpine repeats it.
            if *kind == "alpine" && module.ends_with("test_multiarray") {
                continue;
            }
            // With /proc: two of numpy's tests read /proc/meminfo (tests/wheels.rs's first test
            // runs numpy without it).
            let out = in_root_with_proc(root, &format!("/python3 {}", pytest.join(" ")));
            let said = all(&out);
            let (got, got_skips) = pytest_totals(&said);
            let sum = |t: &std::collections::BTreeMap<String, u64>| t.values().sum::<u64>();
            assert_eq!(
                sum(&got),
                sum(&want),
                "{module} in {kind}: as many tests\nvenv: {want:?}\nbinary: {got:?}\n{said}"
            );
            for what in ["failed", "errors", "error", "xpassed", "xfailed"] {
                assert_eq!(
                    got.get(what),
                    want.get(what),
                    "{module} in {kind}: {what}\nvenv: {want:?}\nbinary: {got:?}\n{said}"
                );
            }
            let differ: Vec<&String> = want_skips
                .keys()
                .chain(got_skips.keys())
                .filter(|r| want_skips.get(*r) != got_skips.get(*r))
                .filter(|r| !LIBC_SKIPS.iter().any(|l| r.contains(l)))
                .collect();
            assert!(differ.is_empty(), "{module} in {kind}: skipped for other reasons: {differ:?}\nvenv: {want_skips:?}\nbinary: {got_skips:?}");
            eprintln!("{module} in {kind}: {got:?} (venv: {want:?})");
        }
    }
}

#[test]
#[ignore = "builds a C++ extension with zig and a real binary, needs root; run by ./test.sh"]
fn a_cpp_exception_is_thrown_and_caught_inside_a_loaded_library_and_its_thread_locals_are_per_thread() {
    // The module, built as a musl shared object as a wheel's would be (zig's C++ for musl, the
    // one pyelf's source builds use; its libc++ and unwinder inside the object).
    let tc = toolchain();
    let home = pyelf::home::Home::from_env().unwrap();
    let builder = pyelf::build::native::Builder {
        tc: &tc,
        home: home.clone(),
        cache: home.root().join("native"),
        logs: tmp().to_path_buf(),
        source_date_epoch: 0,
    };
    let zig = builder.cxx().unwrap().zig;
    let dir = repo().join("tests/e2e/wheels/cxx");
    let site = tmp().join("cxx-site");
    std::fs::create_dir_all(site.join("cxxprobe")).unwrap();
    std::fs::write(site.join("cxxprobe/__init__.py"), "from ._probe import probe\n").unwrap();
    let include = tc.root.join("include/python3.13");
    let o = Command::new(&zig)
        .args(["c++", "-target", "x86_64-linux-musl", "-shared", "-fPIC", "-O2", "-I"])
        .arg(&include)
        .arg("-o")
        .arg(site.join("cxxprobe/_probe.cpython-313-x86_64-linux-musl.so"))
        .arg(dir.join("probe.cpp"))
        .env("ZIG_GLOBAL_CACHE_DIR", tmp().join("zig-cache"))
        .env("ZIG_LOCAL_CACHE_DIR", tmp().join("zig-cache"))
        .output()
        .unwrap();
    assert!(o.status.success(), "zig c++: {}", all(&o));
    let bin = tmp().join("cxx");
    let o = Command::new(PYELF)
        .arg("build")
        .arg(dir.join("app.py"))
        .arg("--site-packages")
        .arg(&site)
        .arg("-o")
        .arg(&bin)
        .output()
        .unwrap();
    assert!(o.status.success(), "build failed:\n{}", all(&o));
    // Each thread's counter starts at its initial value (41); the main thread's grows by one a call.
    let want = "('not thrown', 42, 41, 42, 43, 44)\n('caught: thrown 7', 43, 41, 42, 43, 44)\n";
    let out = Command::new(&bin).output().unwrap();
    assert_eq!(text(&out), want, "on the host: {}", all(&out));
    runs_the_same_in_roots(&bin, "cxx", &["empty", "alpine"], &[(&[], want, want)]);
}
