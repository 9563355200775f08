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
    let pins = pyelf::toolchain::pins::Pins::builtin();
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

#[test]
fn offline_with_nothing_cached_says_so_once_and_gives_one_hint() {
    // The whole message is the product here: compared in full, with the sources from the pins.
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    let out = pyelf(&home).arg("fetch").output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr).replace(&home.display().to_string(), "$HOME");
    let pins = pyelf::toolchain::pins::Pins::builtin();
    let target = pins.target(pyelf::toolchain::pins::native_triple()).unwrap();
    let sources = pins.sources_for(target).unwrap();
    let mut expected = String::from(
        "note: PYELF_OFFLINE is set: the sources' upstream URLs are not tried, only the cache and PYELF_MIRROR\n",
    );
    for s in &sources {
        expected.push_str(&format!("{:<10} {:<10} FAILED\n", s.name, s.version));
    }
    expected.push_str(&format!("error: {n} of {n} sources could not be fetched:\n", n = sources.len()));
    for s in &sources {
        let files: Vec<&str> = s.artifacts.iter().map(|a| a.file.as_str()).collect();
        expected.push_str(&format!(
            "could not get {} {} ({}); tried:\n  - cache $HOME/sources: not there\n",
            s.name,
            s.version,
            files.join(" or ")
        ));
    }
    expected.push_str(
        "hint: point PYELF_MIRROR at a directory or http(s) URL that holds the source archives named above \
         (comma-separated, e.g. PYELF_MIRROR=/srv/mirror,https://mirror.example/pyelf)\n",
    );
    assert_eq!(err, expected);
}

#[test]
fn quiet_leaves_only_the_error() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    let loud = pyelf(&home).arg("fetch").output().unwrap();
    for args in [&["-q", "fetch"][..], &["fetch", "--quiet"]] {
        let out = pyelf(&home).args(args).output().unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.starts_with("error: "), "no note, no progress lines: {err}");
        let loud = String::from_utf8_lossy(&loud.stderr);
        assert_eq!(err, &loud[loud.find("error: ").unwrap()..], "the error itself is the same");
    }
    let both = pyelf(&home).args(["-q", "-v", "fetch"]).output().unwrap();
    assert!(String::from_utf8_lossy(&both.stderr).contains("cannot be used with"), "-q and -v conflict");
}

#[test]
fn an_unknown_profile_is_refused_before_anything_is_built() {
    let tmp = tempfile::tempdir().unwrap();
    for args in [&["toolchain", "--profile", "fastest"][..], &["build", "x.py", "--profile", "fastest"][..]] {
        fs::write(tmp.path().join("x.py"), "print(1)\n").unwrap();
        let out = pyelf(&tmp.path().join("home")).args(args).current_dir(tmp.path()).output().unwrap();
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("no toolchain profile \"fastest\""), "{args:?}: {err}");
        assert!(err.contains("quick, release"), "lists the profiles: {err}");
        assert!(!tmp.path().join("home/toolchains").exists(), "nothing built: {args:?}");
    }
}
