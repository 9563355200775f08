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

fn all(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[test]
#[ignore = "installs from PyPI, builds a real binary and needs root; run by ./test.sh"]
fn musllinux_wheels_are_loaded_from_the_binary_and_match_a_normal_install_in_every_root() {
    let dir = repo().join("tests/e2e/wheels");
    let script = dir.join("wheels.py");
    let req = dir.join("requirements.txt");
    let bin = tmp().join("wheels");
    let o = Command::new(PYELF).arg("build").arg(&script).arg("-r").arg(&req).arg("-o").arg(&bin).output().unwrap();
    assert!(o.status.success(), "build failed:\n{}", all(&o));
    let said = all(&o);
    for dist in ["numpy 2.5.5", "orjson 3.13.0", "pydantic_core 2.50.5", "cryptography 50.0.2", "msgpack 1.2.4"] {
        assert!(said.contains(dist), "{dist} is reported as bundled:\n{said}");
    }

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
    for kind in ["empty", "alpine"] {
        let root = root_with(kind, &bin, "wheels");
        let out = in_root(&root, "/app", "wheels", &[], true);
        assert_eq!(text(&out), want, "{kind}, no /proc: {}", all(&out));
        let out = in_root_with_proc(&root, "/app");
        assert_eq!(text(&out), want, "{kind}, /proc: {}", all(&out));
    }
}

/// Compiles `c` into the shared object `out` with `cc` and `flags` (no libc: nothing is run).
fn shared_object(cc: &str, c: &str, out: &std::path::Path, flags: &[&str]) {
    let src = out.with_extension("c");
    std::fs::write(&src, c).unwrap();
    let o =
        Command::new(cc).args(["-shared", "-fPIC", "-nostdlib", "-o"]).arg(out).arg(&src).args(flags).output().unwrap();
    assert!(o.status.success(), "{cc}: {}", all(&o));
}

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
    let cases: [(&str, &dyn Fn(&std::path::Path), &str); 3] = [
        ("textrel", &|so| shared_object("cc", TEXTREL, so, &["-Wl,-z,notext"]), "it has text relocations (TEXTREL)"),
        ("machine", &|so| shared_object("aarch64-linux-gnu-gcc", PLAIN, so, &[]), "it is built for aarch64"),
        (
            "needed",
            &|so| {
                let dep = so.with_file_name("libdep.so");
                shared_object("cc", PLAIN, &dep, &["-Wl,-soname,libdep.so.7"]);
                let dir = format!("-L{}", dep.parent().unwrap().display());
                shared_object("cc", PLAIN, so, &[&dir, "-ldep", "-Wl,--no-as-needed"]);
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
