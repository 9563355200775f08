//! Helpers of the end-to-end tests: building apps with the pyelf binary, and running them chrooted
//! into the root filesystems of `../shared/tools/rootfs.sh`, with or without /proc.
#![allow(dead_code)]

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

pub const ROOTS: [&str; 3] = ["empty", "alpine", "debian"];

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A temporary directory shared by the tests of one test binary (roots, toolchains, binaries: a
/// gigabyte or more). A static is never dropped, so it is removed when the process exits; one left
/// by a run that was killed is removed by the next run, since it is locked while its run lives.
pub fn tmp() -> &'static Path {
    static DIR: OnceLock<pyelf::stale::OwnedDir> = OnceLock::new();
    extern "C" fn remove_at_exit() {
        if let Some(dir) = DIR.get() {
            let _ = std::fs::remove_dir_all(dir.path());
        }
    }
    DIR.get_or_init(|| {
        let base = std::env::temp_dir();
        let _ = pyelf::stale::sweep(&base, "pyelf-test-");
        let dir = pyelf::stale::OwnedDir::new_in(&base, "pyelf-test-").unwrap();
        // SAFETY: registers a plain function with no arguments, run once at exit.
        assert_eq!(unsafe { libc::atexit(remove_at_exit) }, 0);
        dir
    })
    .path()
}

/// Builds `script` with the pyelf binary into the shared temp dir; returns the output path.
pub fn build(pyelf: &str, script: &Path, name: &str, extra: &[&str]) -> PathBuf {
    let out = tmp().join(name);
    let result = Command::new(pyelf).arg("build").arg(script).arg("-o").arg(&out).args(extra).output().unwrap();
    assert!(
        result.status.success(),
        "build of {} failed:\n{}",
        script.display(),
        String::from_utf8_lossy(&result.stderr)
    );
    out
}

/// A fresh root of `kind` with `binary` at /app and a symlink /link -> /app.
pub fn root_with(kind: &str, binary: &Path, name: &str) -> PathBuf {
    let dir = tmp().join(format!("root-{kind}-{name}"));
    let rootfs = repo().join("../shared/tools/rootfs.sh");
    let st = Command::new("bash").arg(&rootfs).arg(kind).arg(&dir).status().unwrap();
    assert!(st.success(), "rootfs.sh {kind} failed");
    std::fs::copy(binary, dir.join("app")).unwrap();
    std::os::unix::fs::symlink("/app", dir.join("link")).unwrap();
    std::fs::create_dir_all(dir.join("proc")).unwrap();
    dir
}

/// Runs `bin` in a fresh root of each of `kinds`, with each case's arguments, and checks its output
/// without /proc and with /proc mounted: `(args, output without /proc, output with /proc)`.
#[allow(dead_code)] // not every test binary uses every helper
pub fn runs_the_same_in_roots(bin: &Path, name: &str, kinds: &[&str], cases: &[(&[&str], &str, &str)]) {
    let said = |o: &Output| format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    for kind in kinds {
        let root = root_with(kind, bin, name);
        for (args, without_proc, with_proc) in cases {
            let out = in_root(&root, "/app", name, args, true);
            assert!(out.status.success(), "{kind} {args:?}, no /proc: {}", said(&out));
            assert_eq!(text(&out), *without_proc, "{kind} {args:?}, no /proc: {}", said(&out));
            let out = in_root_with_proc(&root, &format!("/app {}", args.join(" ")));
            assert_eq!(text(&out), *with_proc, "{kind} {args:?}, /proc: {}", said(&out));
        }
    }
}

pub fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

/// What a run printed, stdout then stderr (for assertion messages).
pub fn all(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// `got` exited as `want` did and printed the same on stdout.
pub fn same(got: &Output, want: &Output, how: &str) {
    assert_eq!(got.status.code(), want.status.code(), "{how}: exit status\n{}", all(got));
    assert_eq!(text(got), text(want), "{how}\n{}", all(got));
}

/// Runs `program args` chrooted into `root` (no /proc), with argv[0] = `arg0`.
pub fn in_root(root: &Path, program: &str, arg0: &str, args: &[&str], clear_env: bool) -> Output {
    in_root_env(root, program, arg0, args, clear_env, &[])
}

/// The same, with extra environment variables.
pub fn in_root_env(
    root: &Path,
    program: &str,
    arg0: &str,
    args: &[&str],
    clear_env: bool,
    env: &[(&str, &str)],
) -> Output {
    let mut c = Command::new(program);
    c.arg0(arg0).args(args);
    if clear_env {
        c.env_clear();
    }
    c.envs(env.iter().copied());
    let root = root.to_path_buf();
    unsafe {
        c.pre_exec(move || {
            std::os::unix::fs::chroot(&root)?;
            std::env::set_current_dir("/")
        });
    }
    output_when_not_busy(&mut c)
}

/// `c.output()`, tried again while its program is "busy": a binary just copied can be, for a
/// moment, when another test thread forked while the copy's file was open (the child holds it
/// until it execs).
pub fn output_when_not_busy(c: &mut Command) -> Output {
    for _ in 0..50 {
        match c.output() {
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy => {
                std::thread::sleep(std::time::Duration::from_millis(100))
            }
            other => return other.unwrap(),
        }
    }
    c.output().unwrap()
}

/// Runs `command` chrooted into `root` in a private mount namespace with /proc mounted.
pub fn in_root_with_proc(root: &Path, command: &str) -> Output {
    in_root_with_proc_env(root, command, false)
}

/// The same, with an empty environment when `clear_env`.
pub fn in_root_with_proc_env(root: &Path, command: &str, clear_env: bool) -> Output {
    let mut c = Command::new("/usr/bin/unshare");
    c.args(["-m", "/bin/sh", "-c", &mounted_script(root, command, true, false)]);
    if clear_env {
        c.env_clear();
    }
    c.output().unwrap()
}

/// The x86_64 toolchain of the default profile (built on first use).
pub fn toolchain() -> pyelf::toolchain::Toolchain {
    let home = pyelf::home::Home::from_env().unwrap();
    pyelf::toolchain::ensure(
        &home,
        &pyelf::toolchain::pins::Pins::builtin(),
        "x86_64-unknown-linux-musl",
        &Default::default(),
    )
    .unwrap()
}

/// The toolchain's python3: CPython 3.13, the reference a binary is compared with.
pub fn toolchain_python() -> PathBuf {
    toolchain().python()
}

/// Runs `program` chrooted into `root` in a private mount namespace, with /proc mounted when
/// `proc`, and a tmpfs on /dev/shm when `shm` (POSIX semaphores live there).
pub fn in_root_mounted(root: &Path, command: &str, proc: bool, shm: bool) -> Output {
    Command::new("/usr/bin/unshare")
        .args(["-m", "/bin/sh", "-c", &mounted_script(root, command, proc, shm)])
        .output()
        .unwrap()
}

/// The shell script run in a private mount namespace that mounts /proc and a tmpfs on /dev/shm
/// into `root` as asked, then runs `command` chrooted there.
fn mounted_script(root: &Path, command: &str, proc: bool, shm: bool) -> String {
    let mut script = String::new();
    if proc {
        script.push_str(&format!("mkdir -p '{0}/proc' && mount -t proc proc '{0}/proc' && ", root.display()));
    }
    if shm {
        script.push_str(&format!("mkdir -p '{0}/dev/shm' && mount -t tmpfs tmpfs '{0}/dev/shm' && ", root.display()));
    }
    script.push_str(&format!("exec /usr/sbin/chroot '{}' {command}", root.display()));
    script
}

/// Runs `command` chrooted into `root` made read-only (a read-only bind mount in a private mount
/// namespace), as uid and gid 54321, which have no passwd entry.
pub fn in_read_only_root(root: &Path, command: &str) -> Output {
    let script = format!(
        "mount --bind '{0}' '{0}' && mount -o remount,ro,bind '{0}' && exec /usr/sbin/chroot --userspec=54321:54321 '{0}' {command}",
        root.display()
    );
    Command::new("/usr/bin/unshare").args(["-m", "/bin/sh", "-c", &script]).output().unwrap()
}

/// A CPython 3.13 that loads extension modules (pyenv's, or `PYELF_REFERENCE_PYTHON`): the reference
/// for packages with C extensions, installed by pip from their platform wheels.
pub fn cpython313() -> PathBuf {
    if let Some(p) = std::env::var_os("PYELF_REFERENCE_PYTHON") {
        return PathBuf::from(p);
    }
    let home = std::env::var_os("PYENV_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap()).join(".pyenv"));
    let mut found: Vec<PathBuf> = std::fs::read_dir(home.join("versions"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin/python3.13"))
        .filter(|p| p.is_file())
        .collect();
    found.sort();
    found.pop().expect("no CPython 3.13 to compare with: install one with pyenv, or set PYELF_REFERENCE_PYTHON")
}

/// A venv of [`cpython313`] in the shared temp dir with `requirements` installed by pip, as a user
/// would have it; returns its python.
pub fn reference_venv(name: &str, requirements: &Path) -> PathBuf {
    let dir = tmp().join(format!("venv-{name}"));
    let python = dir.join("bin/python");
    if !python.exists() {
        let o = Command::new(cpython313()).args(["-m", "venv"]).arg(&dir).output().unwrap();
        assert!(o.status.success(), "venv: {}", String::from_utf8_lossy(&o.stderr));
        let o = Command::new(&python)
            .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r"])
            .arg(requirements)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "pip install -r {}: {}",
            requirements.display(),
            String::from_utf8_lossy(&o.stderr)
        );
    }
    python
}

pub fn host_python(script: &Path, args: &[&str]) -> String {
    let o = Command::new("python3").arg(script).args(args).output().unwrap();
    assert!(o.status.success());
    text(&o)
}

/// ELF machine of x86_64 executables (EM_X86_64), what the native tests build.
pub const X86_64: u16 = 62;

/// A test CA and a server certificate for `localhost` and 127.0.0.1 signed by it, made with the
/// host's openssl in `dir`: `ca.pem`, `ca.key`, `server.pem`, `server.key`.
pub fn make_test_ca(dir: &Path) {
    let sh = |cmd: &str| {
        let st = Command::new("sh").arg("-c").arg(cmd).current_dir(dir).output().unwrap();
        assert!(st.status.success(), "{cmd}: {}", String::from_utf8_lossy(&st.stderr));
    };
    // Python's default context checks X.509 strictly: the CA needs its key usage.
    sh("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj '/CN=pyelf test CA' \
            -addext 'basicConstraints=critical,CA:TRUE' -addext 'keyUsage=critical,keyCertSign,cRLSign' \
            -keyout ca.key -out ca.pem");
    sh("openssl req -newkey rsa:2048 -nodes -subj '/CN=localhost' -keyout server.key -out server.csr");
    std::fs::write(dir.join("ext.cnf"), "subjectAltName=DNS:localhost,IP:127.0.0.1\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n").unwrap();
    sh("openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile ext.cnf -out server.pem");
}

/// The source distribution `NAME-1.0.tar.gz` of `tests/e2e/native/NAME/`, in a directory of its
/// own (for `--find-links`); returns the directory.
pub fn local_sdist(name: &str) -> std::path::PathBuf {
    let dists = tmp().join(format!("{name}-dists"));
    let staging = tmp().join(format!("{name}-staging/{name}-1.0"));
    std::fs::create_dir_all(&dists).unwrap();
    std::fs::create_dir_all(&staging).unwrap();
    for entry in std::fs::read_dir(repo().join("tests/e2e/native").join(name)).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), staging.join(entry.file_name())).unwrap();
    }
    // The same bytes each time (names sorted, no dates or owners), so that a build from it is
    // taken from pyelf's cache the next time.
    let tar = Command::new("tar")
        .args(["--sort=name", "--mtime=@0", "--owner=0", "--group=0", "--numeric-owner", "-I", "gzip -n", "-cf"])
        .arg(dists.join(format!("{name}-1.0.tar.gz")))
        .arg("-C")
        .arg(staging.parent().unwrap())
        .arg(format!("{name}-1.0"))
        .status()
        .unwrap();
    assert!(tar.success());
    dists
}
