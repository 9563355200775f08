//! End-to-end: build real binaries and run them in root filesystems of other distributions and in
//! an empty one, with and without /proc. They need the toolchain (built on first use) and root
//! (for chroot), so they are ignored by a plain `cargo test`; `./test.sh` runs them.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

const ROOTS: [&str; 3] = ["empty", "alpine", "debian"];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn tmp() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().unwrap()).path()
}

/// Builds `script` with the pyelf binary into the shared temp dir; returns the output path.
fn build(script: &Path, name: &str, extra: &[&str]) -> PathBuf {
    let out = tmp().join(name);
    let result = Command::new(env!("CARGO_BIN_EXE_pyelf"))
        .arg("build")
        .arg(script)
        .arg("-o")
        .arg(&out)
        .args(extra)
        .output()
        .unwrap();
    assert!(result.status.success(), "build of {} failed:\n{}", script.display(), String::from_utf8_lossy(&result.stderr));
    out
}

fn test_py() -> &'static Path {
    static B: OnceLock<PathBuf> = OnceLock::new();
    B.get_or_init(|| build(&repo().join("test.py"), "test", &[]))
}

fn heavy() -> &'static Path {
    static B: OnceLock<PathBuf> = OnceLock::new();
    B.get_or_init(|| build(&repo().join("tests/e2e/heavy.py"), "heavy", &[]))
}

/// A fresh root of `kind` with `binary` at /app and a symlink /link -> /app.
fn root_with(kind: &str, binary: &Path, name: &str) -> PathBuf {
    let dir = tmp().join(format!("root-{kind}-{name}"));
    let rootfs = repo().join("../shared/tools/rootfs.sh");
    let st = Command::new("bash").arg(&rootfs).arg(kind).arg(&dir).status().unwrap();
    assert!(st.success(), "rootfs.sh {kind} failed");
    std::fs::copy(binary, dir.join("app")).unwrap();
    std::os::unix::fs::symlink("/app", dir.join("link")).unwrap();
    std::fs::create_dir_all(dir.join("proc")).unwrap();
    dir
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

/// Runs `program args` chrooted into `root` (no /proc), with argv[0] = `arg0`.
fn in_root(root: &Path, program: &str, arg0: &str, args: &[&str], clear_env: bool) -> Output {
    let mut c = Command::new(program);
    c.arg0(arg0).args(args);
    if clear_env {
        c.env_clear();
    }
    let root = root.to_path_buf();
    unsafe {
        c.pre_exec(move || {
            std::os::unix::fs::chroot(&root)?;
            std::env::set_current_dir("/")
        });
    }
    c.output().unwrap()
}

/// Runs the command in a private mount namespace with /proc mounted in `root`.
fn in_root_with_proc(root: &Path, command: &str) -> Output {
    in_root_with_proc_env(root, command, false)
}

/// The same, with an empty environment when `clear_env`.
fn in_root_with_proc_env(root: &Path, command: &str, clear_env: bool) -> Output {
    let script = format!("mount -t proc proc '{0}/proc' && exec /usr/sbin/chroot '{0}' {command}", root.display());
    let mut c = Command::new("/usr/bin/unshare");
    c.args(["-m", "/bin/sh", "-c", &script]);
    if clear_env {
        c.env_clear();
    }
    c.output().unwrap()
}

fn host_python(script: &Path, args: &[&str]) -> String {
    let o = Command::new("python3").arg(script).args(args).output().unwrap();
    assert!(o.status.success());
    text(&o)
}

#[test]
#[ignore = "builds real binaries and needs root; run by ./test.sh"]
fn test_py_is_one_static_file() {
    let facts = pyelf::elf::check_static(test_py()).unwrap();
    assert_eq!(facts.interpreter, None);
    assert!(facts.needed.is_empty());
}

#[test]
#[ignore = "builds real binaries and needs root; run by ./test.sh"]
fn test_py_prints_what_python_prints_in_every_root() {
    let want = host_python(&repo().join("test.py"), &[]);
    assert_eq!(text(&Command::new(test_py()).output().unwrap()), want, "on the host");
    for kind in ROOTS {
        let root = root_with(kind, test_py(), "test");
        let cases = [
            ("plain", in_root(&root, "/app", "/app", &[], false)),
            ("env -i", in_root(&root, "/app", "/app", &[], true)),
            ("symlink", in_root(&root, "/link", "/link", &[], false)),
            ("relative path", in_root(&root, "./app", "./app", &[], false)),
            ("exec -a", in_root(&root, "/app", "something-else", &[], true)),
            ("with /proc", in_root_with_proc(&root, "/app")),
            ("with /proc, env -i", in_root_with_proc_env(&root, "/app", true)),
            ("with /proc, symlink", in_root_with_proc(&root, "/link")),
        ];
        for (how, out) in cases {
            assert!(out.status.success(), "{kind}, {how}: {:?}\n{}", out.status, String::from_utf8_lossy(&out.stderr));
            assert_eq!(text(&out), want, "{kind}, {how}");
        }
    }
}

#[test]
#[ignore = "builds real binaries and needs root; run by ./test.sh"]
fn heavy_script_works_in_every_root() {
    let want_host = host_python(&repo().join("tests/e2e/heavy.py"), &["--name", "pyelf"]);
    for kind in ROOTS {
        let root = root_with(kind, heavy(), "heavy");
        for (how, out) in [
            ("no /proc", in_root(&root, "/app", "/app", &["--name", "pyelf"], true)),
            ("with /proc", in_root_with_proc(&root, "/app --name pyelf")),
        ] {
            assert!(out.status.success(), "{kind}, {how}: {:?}\n{}", out.status, String::from_utf8_lossy(&out.stderr));
            let got = text(&out);
            let lines: Vec<&str> = got.lines().collect();
            assert_eq!(lines[0], "hello pyelf", "{kind} {how}");
            // Everything but subprocess and pwd is the same as python3 on the host.
            for (g, w) in got.lines().zip(want_host.lines()) {
                if !g.starts_with("subprocess") && !g.starts_with("pwd") {
                    assert_eq!(g, w, "{kind}, {how}");
                }
            }
            let expect_sub = if kind == "empty" { "subprocess no /bin/true" } else { "subprocess 0" };
            assert!(got.contains(expect_sub), "{kind} {how}: {got}");
            let expect_pwd = if kind == "empty" { "pwd KeyError" } else { "pwd root" };
            assert!(got.contains(expect_pwd), "{kind} {how}: {got}");
            assert!(got.contains("thread [5000]"), "{kind} {how}: {got}");
        }
        let out = in_root(&root, "/app", "/app", &["--exit", "7"], true);
        assert_eq!(out.status.code(), Some(7), "{kind}: sys.exit(7)");
        let out = in_root(&root, "/app", "/app", &["--bogus"], true);
        assert_eq!(out.status.code(), Some(2), "{kind}: argparse error exits 2");
        assert!(String::from_utf8_lossy(&out.stderr).contains("unrecognized arguments"));
    }
}

#[test]
#[ignore = "builds real binaries and needs root; run by ./test.sh"]
fn python_variables_and_a_hostile_cwd_change_nothing() {
    let evil = tmp().join("evil");
    std::fs::create_dir_all(evil.join("encodings")).unwrap();
    std::fs::write(evil.join("os.py"), "raise SystemExit('evil os imported')\n").unwrap();
    std::fs::write(evil.join("encodings/__init__.py"), "raise SystemExit('evil encodings imported')\n").unwrap();
    let want = text(&Command::new(test_py()).output().unwrap());
    let out = Command::new(test_py())
        .current_dir(&evil)
        .env("PYTHONPATH", &evil)
        .env("PYTHONHOME", &evil)
        .env("PYTHONSTARTUP", evil.join("os.py"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(text(&out), want);
}

#[test]
#[ignore = "builds real binaries and needs root; run by ./test.sh"]
fn uncaught_exception_prints_a_traceback_and_exits_1() {
    let script = tmp().join("boom.py");
    std::fs::write(&script, "def f():\n    raise ValueError('boom')\n\nif __name__ == '__main__':\n    f()\n").unwrap();
    let bin = build(&script, "boom", &[]);
    let out = Command::new(&bin).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Traceback") && err.contains("ValueError: boom"), "{err}");
}

#[test]
#[ignore = "builds real binaries and needs root; run by ./test.sh"]
fn a_syntax_error_fails_cleanly_and_leaves_no_output() {
    let script = tmp().join("broken.py");
    std::fs::write(&script, "print('ok')\ndef f(:\n    pass\n").unwrap();
    let out_path = tmp().join("broken");
    let out = Command::new(env!("CARGO_BIN_EXE_pyelf")).arg("build").arg(&script).arg("-o").arg(&out_path).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("broken.py:2"), "names file:line: {err}");
    assert!(!out_path.exists(), "no output file");
    let leftovers: Vec<_> = std::fs::read_dir(tmp()).unwrap().flatten().filter(|e| e.file_name().to_string_lossy().starts_with(".pyelf-partial")).collect();
    assert!(leftovers.is_empty(), "no partial files");
}

#[test]
#[ignore = "builds real binaries and needs root; run by ./test.sh"]
fn a_missing_script_is_one_clear_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_pyelf")).args(["build", "/nonexistent/app.py"]).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no such script: /nonexistent/app.py") && err.contains("hint"), "{err}");
}
