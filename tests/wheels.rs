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
