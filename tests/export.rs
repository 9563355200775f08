//! Sharing a toolchain as one archive (`pyelf toolchain --export FILE` / `--import FILE`): the
//! round trip, a tampered archive, an archive of another key, imports into other homes (the
//! toolchain moved), and a kill -9 during an import.
//!
//! The round trip installs into the real toolchain path inside a private mount namespace, where an
//! empty directory is bind-mounted over `$PYELF_HOME/toolchains`: the cached toolchain is never
//! touched, and the import is byte for byte what was exported.

mod common;

use common::roots::tmp;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const PYELF: &str = env!("CARGO_BIN_EXE_pyelf");
const TARGET: &str = "x86_64-unknown-linux-musl";

fn toolchain() -> &'static pyelf::toolchain::Toolchain {
    static TC: OnceLock<pyelf::toolchain::Toolchain> = OnceLock::new();
    TC.get_or_init(|| {
        pyelf::toolchain::ensure(
            &pyelf::home::Home::from_env().unwrap(),
            &pyelf::toolchain::pins::Pins::builtin(),
            TARGET,
            &Default::default(),
        )
        .unwrap_or_else(|e| panic!("building the toolchain failed: {e:#}"))
    })
}

/// The toolchain exported once for all the tests.
fn archive() -> &'static Path {
    static FILE: OnceLock<PathBuf> = OnceLock::new();
    FILE.get_or_init(|| {
        let out = tmp().join("toolchain.tar.gz");
        let t = Instant::now();
        let o = Command::new(PYELF).args(["toolchain", "--target", TARGET, "--export"]).arg(&out).output().unwrap();
        assert!(o.status.success(), "export failed: {}", stderr(&o));
        assert!(stderr(&o).contains("exported"), "{}", stderr(&o));
        eprintln!("export: {:.1}s, {} bytes", t.elapsed().as_secs_f64(), std::fs::metadata(&out).unwrap().len());
        out
    })
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// A fresh, empty directory to stand in for `$PYELF_HOME/toolchains`.
fn stand_in(name: &str) -> PathBuf {
    let dir = tmp().join(name);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `pyelf <args>` in a mount namespace where `toolchains` is mounted over the real toolchains
/// directory, then `then` (a shell command) if it succeeded.
fn in_namespace(toolchains: &Path, args: &str, then: &str) -> Command {
    let real = toolchain().root.parent().unwrap();
    let script = format!(
        "mount --bind '{}' '{}' && {PYELF} {args} && {then}",
        toolchains.display(),
        real.display(),
        then = if then.is_empty() { "true" } else { then }
    );
    let mut c = Command::new("/usr/bin/unshare");
    c.args(["-m", "/bin/sh", "-c", &script]);
    c
}

fn sha256_of_tree(dir: &Path) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = common::files_under(dir)
        .into_iter()
        .map(|p| {
            let rel = p.strip_prefix(dir).unwrap().display().to_string();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            let what = if meta.file_type().is_symlink() {
                format!("-> {}", std::fs::read_link(&p).unwrap().display())
            } else {
                use std::os::unix::fs::PermissionsExt;
                format!("{:o} {}", meta.permissions().mode() & 0o777, common::sha256(&std::fs::read(&p).unwrap()))
            };
            (rel, what)
        })
        .collect();
    out.sort();
    out
}

#[test]
#[ignore = "needs the toolchain; run by ./test.sh"]
fn an_exported_toolchain_imports_whole_and_works() {
    let name = toolchain().root.file_name().unwrap().to_string_lossy().to_string();
    let dir = stand_in("round-trip");
    let python = toolchain().python();
    let t = Instant::now();
    let o = in_namespace(
        &dir,
        &format!("toolchain --import '{}'", archive().display()),
        &format!("'{}' -c 'import ssl, sqlite3, decimal; print(ssl.OPENSSL_VERSION[:7])'", python.display()),
    )
    .output()
    .unwrap();
    assert!(o.status.success(), "import failed: {}", stderr(&o));
    assert!(stderr(&o).contains("imported toolchain"), "{}", stderr(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "OpenSSL", "the imported python3 runs");
    eprintln!("import: {:.1}s", t.elapsed().as_secs_f64());
    // The same files, links, modes and contents as the toolchain exported.
    let imported = dir.join(&name);
    assert_eq!(sha256_of_tree(&imported), sha256_of_tree(&toolchain().root));
    // The modification times too, to the second (the stdlib's .pyc files record their sources'
    // times in whole seconds and are checked against them).
    let secs = |p: &Path| {
        let t = std::fs::metadata(p).unwrap().modified().unwrap();
        t.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
    };
    let os_py = "lib/python3.13/os.py";
    assert_eq!(secs(&imported.join(os_py)), secs(&toolchain().root.join(os_py)));
    // No temporary directory is left beside it.
    let left: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.contains(".tmp-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    // A second import finds it there and unpacks nothing.
    let o = in_namespace(&dir, &format!("toolchain --import '{}'", archive().display()), "").output().unwrap();
    assert!(o.status.success() && stderr(&o).contains("already there"), "{}", stderr(&o));
}

/// `archive()` with one byte of `lib/python3.13/os.py` changed (the same size, so only the hash
/// tells).
fn tampered() -> PathBuf {
    let out = tmp().join("tampered.tar.gz");
    let mut input = tar::Archive::new(flate2::read::GzDecoder::new(std::fs::File::open(archive()).unwrap()));
    let gz = flate2::write::GzEncoder::new(std::fs::File::create(&out).unwrap(), flate2::Compression::fast());
    let mut output = tar::Builder::new(gz);
    let mut changed = false;
    for entry in input.entries().unwrap() {
        let mut entry = entry.unwrap();
        let mut header = entry.header().clone();
        let path = entry.path().unwrap().to_path_buf();
        if header.entry_type().is_symlink() {
            let link = entry.link_name().unwrap().unwrap().to_path_buf();
            output.append_link(&mut header, &path, link).unwrap();
            continue;
        }
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        if path.ends_with("lib/python3.13/os.py") {
            let at = data.iter().position(|&b| b == b'#').unwrap();
            data[at] = b' ';
            changed = true;
        }
        output.append_data(&mut header, &path, &data[..]).unwrap();
    }
    output.into_inner().unwrap().finish().unwrap().flush().unwrap();
    assert!(changed);
    out
}

#[test]
#[ignore = "needs the toolchain; run by ./test.sh"]
fn a_tampered_archive_is_refused_and_leaves_nothing() {
    let dir = stand_in("tampered");
    let o = in_namespace(&dir, &format!("toolchain --import '{}'", tampered().display()), "").output().unwrap();
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains("is damaged or was altered: lib/python3.13/os.py does not match its recorded sha256"),
        "{err}"
    );
    let left: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.iter().all(|n| n.to_string_lossy().ends_with(".lock")), "nothing but the lock is left: {left:?}");
}

#[test]
#[ignore = "needs the toolchain; run by ./test.sh"]
fn an_archive_of_another_key_is_refused_before_unpacking() {
    // A host compiler of another version makes another key (the toolchain's C was compiled by it).
    let dir = tmp().join("other-cc");
    std::fs::create_dir_all(&dir).unwrap();
    let cc = dir.join("gcc");
    std::fs::write(
        &cc,
        "#!/bin/sh\nif [ \"$1\" = --version ]; then echo 'gcc (Other) 99.1.0'; exit 0; fi\nexec gcc \"$@\"\n",
    )
    .unwrap();
    pyelf::toolchain::compiler::set_executable(&cc).unwrap();
    let home = dir.join("home");
    let o = Command::new(PYELF)
        .args(["toolchain", "--import"])
        .arg(archive())
        .env("PYELF_HOST_CC", &cc)
        .env("PYELF_HOME", &home)
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = stderr(&o);
    let built_by = pyelf::toolchain::compiler::HostCompiler::detect().unwrap().version;
    assert!(err.contains("but these pins and this machine's compiler make x86_64-unknown-linux-musl-"), "{err}");
    assert!(err.contains(&format!("host-cc: {built_by:?} in the archive, \"gcc (Other) 99.1.0\" here")), "{err}");
    assert!(!err.contains("recipe"), "only the parts that differ are named: {err}");
    assert!(!home.join("toolchains").exists(), "nothing was written");
}

/// `pyelf build test.py` with `PYELF_HOME=home` (the default home when `None`): the binary's sha256.
fn test_py_sha256(home: Option<&Path>, name: &str) -> String {
    let out = tmp().join(format!("{name}.bin"));
    let mut c = Command::new(PYELF);
    c.arg("build").arg(common::roots::repo().join("test.py")).arg("-o").arg(&out);
    if let Some(h) = home {
        c.env("PYELF_HOME", h);
    }
    let o = c.output().unwrap();
    assert!(o.status.success(), "building test.py in {home:?} failed: {}", stderr(&o));
    common::sha256(&std::fs::read(&out).unwrap())
}

/// The toolchain imported into two homes whose paths differ from the one it was built in (one
/// shorter, one longer): its python3 finds its prefix there, sysconfig and every text file name
/// the new place, and test.py built with it is the same binary, byte for byte.
#[test]
#[ignore = "needs the toolchain; run by ./test.sh"]
fn an_archive_imports_into_homes_of_other_lengths_and_builds_the_same_binaries() {
    let built_in = toolchain().root.clone();
    let name = built_in.file_name().unwrap().to_string_lossy().to_string();
    let reference = test_py_sha256(None, "test-home");
    for home in [tmp().join("h"), tmp().join("a-home-whose-path-is-longer-than-the-one-the-toolchain-was-built-in")] {
        let t = Instant::now();
        let o = Command::new(PYELF)
            .args(["toolchain", "--import"])
            .arg(archive())
            .env("PYELF_HOME", &home)
            .output()
            .unwrap();
        assert!(o.status.success(), "import into {} failed: {}", home.display(), stderr(&o));
        assert!(stderr(&o).contains(&format!("moved from {}", built_in.display())), "{}", stderr(&o));
        eprintln!("import into {}: {:.1}s", home.display(), t.elapsed().as_secs_f64());
        let root = home.join("toolchains").join(&name);
        let python = root.join("bin/python3");
        let o = Command::new(&python)
            .args(["-I", "-c", "import sys, sysconfig; print(sys.prefix); print(sysconfig.get_config_var('prefix'))"])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        let want = format!("{}\n{}\n", root.display(), root.display());
        assert_eq!(String::from_utf8_lossy(&o.stdout), want, "the moved python3 finds its place");
        // No text file names the old home's toolchains (logs keep what happened; compiled files
        // are checked by the import itself).
        let old = format!("{}/", built_in.parent().unwrap().display());
        for f in common::files_under(&root) {
            let rel = f.strip_prefix(&root).unwrap();
            let Ok(text) = std::fs::read_to_string(&f) else { continue };
            if rel.starts_with("logs") || text.contains('\0') || f.extension().is_some_and(|x| x == "pyc") {
                continue;
            }
            assert!(!text.contains(&old), "{} still names {old}", rel.display());
        }
        let sha = test_py_sha256(Some(&home), &format!("test-{}", home.file_name().unwrap().to_string_lossy()));
        assert_eq!(sha, reference, "test.py built with the toolchain imported into {}", home.display());
    }
}

#[test]
#[ignore = "needs the toolchain; run by ./test.sh"]
fn an_import_killed_midway_leaves_no_toolchain_and_the_next_one_finishes() {
    let name = toolchain().root.file_name().unwrap().to_string_lossy().to_string();
    let dir = stand_in("killed");
    let mut child = in_namespace(&dir, &format!("toolchain --import '{}'", archive().display()), "")
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Killed once the import has unpacked part of the toolchain.
    let started = Instant::now();
    let partial = loop {
        let found = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.file_name().unwrap().to_string_lossy().contains(".tmp-"));
        if let Some(p) = found.filter(|p| p.join("lib").is_dir()) {
            break p;
        }
        assert!(started.elapsed() < Duration::from_secs(120), "the import never started unpacking");
        assert!(child.try_wait().unwrap().is_none(), "the import ended before it could be killed");
        std::thread::sleep(Duration::from_millis(20));
    };
    // unshare and sh exec into pyelf: the child is pyelf itself.
    unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    let status = child.wait().unwrap();
    assert_eq!(std::os::unix::process::ExitStatusExt::signal(&status), Some(libc::SIGKILL));
    assert!(partial.exists(), "the killed import left its temporary directory");
    assert!(!dir.join(&name).exists(), "no toolchain without a finished import");

    let o = in_namespace(&dir, &format!("toolchain --import '{}'", archive().display()), "").output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(dir.join(&name).join("toolchain.toml").is_file());
    assert!(!partial.exists(), "the next import swept what the killed one left");
}
