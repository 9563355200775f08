//! The `pyelf` command as a user runs it.

mod common;

use std::fs;
use std::process::Command;

fn pyelf(home: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pyelf"));
    c.env("PYELF_HOME", home).env("PYELF_OFFLINE", "1").env_remove("PYELF_MIRROR");
    c
}

#[test]
fn unknown_target_lists_the_known_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let out = pyelf(tmp.path()).args(["fetch", "--target", "riscv64-unknown-none"]).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown target 'riscv64-unknown-none'"), "{err}");
    assert!(err.contains("x86_64-unknown-linux-musl"), "{err}");
}

#[test]
fn targets_lists_every_target_file_and_what_is_built() {
    let tmp = tempfile::tempdir().unwrap();
    let out = pyelf(tmp.path()).arg("targets").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let said = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = said.lines().collect();
    let files = fs::read_dir(common::roots::repo().join("toolchains/targets")).unwrap().count();
    assert_eq!(lines.len(), files, "one line per file of toolchains/targets:\n{said}");
    let x86 = lines.iter().find(|l| l.starts_with("x86_64-unknown-linux-musl ")).expect(&said);
    assert!(x86.contains("native") && x86.contains("not built"), "{x86}");
    let arm = lines.iter().find(|l| l.starts_with("aarch64-unknown-linux-musl ")).expect(&said);
    assert!(arm.contains("cross (aarch64-linux-gnu-gcc, run with qemu-aarch64-static)"), "{arm}");
    // Nothing is built in a fresh home: "not built", or the cross tools are missing.
    assert!(arm.contains("not built") || arm.contains("cannot build here"), "{arm}");
}

#[test]
fn a_tampered_mirror_copy_is_refused_and_nothing_is_cached() {
    // A mirror that holds only zlib, with one byte changed.
    let tmp = tempfile::tempdir().unwrap();
    let mirror = tmp.path().join("mirror");
    fs::create_dir_all(&mirror).unwrap();
    let pins = pyelf::pins::Pins::builtin();
    let zlib = pins.source("zlib").unwrap();
    let name = &zlib.artifacts[0].file;
    let mut bytes: Vec<u8> = (0..4096u32).map(|i| (i % 256) as u8).collect();
    bytes[100] ^= 1;
    fs::write(mirror.join(name), &bytes).unwrap();
    let home = tmp.path().join("home");
    let out = pyelf(&home).args(["fetch"]).env("PYELF_MIRROR", &mirror).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("could not get zlib 1.3.1"), "{err}");
    assert!(err.contains(name.as_str()), "names the file: {err}");
    assert!(err.contains(&zlib.artifacts[0].sha256), "names the expected digest: {err}");
    assert!(err.contains(&common::sha256(&bytes)), "names the actual digest: {err}");
    assert!(common::files_under(&home.join("sources")).is_empty(), "nothing cached");
}
