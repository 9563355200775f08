//! End-to-end: a binary behaves as `python3 app.py` does under CPython 3.13 (the toolchain's
//! python3): the app is the real `__main__`, multiprocessing works with every start method, every
//! codec is there, and a module whose C gcc rejects runs as bytecode. Run by `./test.sh`.

mod common;

use common::roots::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn script(name: &str) -> PathBuf {
    repo().join("tests/e2e/fidelity").join(name)
}

fn build(name: &str, extra: &[&str]) -> PathBuf {
    common::roots::build(env!("CARGO_BIN_EXE_pyelf"), &script(&format!("{name}.py")), name, extra)
}

/// A link named `python3` to `bin` (built with `--python-cli`), in the directory `dir` beside it:
/// started through it, the binary is python.
fn python_link(bin: &Path, dir: &str) -> PathBuf {
    let dir = bin.parent().unwrap().join(dir);
    std::fs::create_dir_all(&dir).unwrap();
    let python = dir.join("python3");
    let _ = std::fs::remove_file(&python);
    std::os::unix::fs::symlink(bin, &python).unwrap();
    python
}

/// `python3 SCRIPT ARGS` under the toolchain's CPython 3.13, isolated as the binary is.
fn reference(name: &str, args: &[&str]) -> Output {
    Command::new(toolchain_python())
        .arg("-I")
        .arg(script(&format!("{name}.py")))
        .args(args)
        .env_clear()
        .output()
        .unwrap()
}

#[test]
#[ignore = "builds real binaries and needs root; run by ./test.sh"]
fn the_app_is_the_real_main_module_in_every_root() {
    let bin = build("main_module", &[]);
    let want = reference("main_module", &["a", "b"]);
    assert_eq!(want.status.code(), Some(3), "{}", all(&want));
    assert!(text(&want).contains("__module__ of a class __main__ of a function __main__"), "{}", all(&want));
    same(&Command::new(&bin).args(["a", "b"]).output().unwrap(), &want, "on the host");
    for kind in ROOTS {
        let root = root_with(kind, &bin, "main_module");
        same(&in_root(&root, "/app", "/app", &["a", "b"], true), &want, &format!("{kind}, no /proc"));
        same(&in_root_mounted(&root, "/app a b", true, false), &want, &format!("{kind}, /proc"));
    }
}

#[test]
#[ignore = "builds real binaries and needs root; run by ./test.sh"]
fn what_the_script_printed_comes_before_the_traceback_and_atexit_on_one_pipe() {
    // stdout and stderr into one pipe, where stdout is buffered: python flushes it once the
    // script has run, before it prints the traceback or sys.exit()'s message and runs atexit.
    fn joined(program: &Path, args: &[&str]) -> Output {
        Command::new("sh")
            .arg("-c")
            .arg("exec \"$@\" 2>&1")
            .arg("sh")
            .arg(program)
            .args(args)
            .env_clear()
            .output()
            .unwrap()
    }
    let bin = build("output_order", &[]);
    let python = toolchain_python();
    for how in ["", "exit", "raise", "code"] {
        let want = joined(&python, &["-I", script("output_order.py").to_str().unwrap(), how]);
        let first = text(&want).find("more on stdout, after it").expect("the script printed");
        assert!(text(&want).find("atexit, on stderr").is_some_and(|at| at > first), "{how}: {}", all(&want));
        let got = joined(&bin, &[how]);
        let file = script("output_order.py").display().to_string();
        same(
            &got,
            &Output { stdout: text(&want).replace(&file, "/__pyelf__/output_order.py").into_bytes(), ..want },
            how,
        );
    }
}

#[test]
#[ignore = "builds real binaries and needs root; run by ./test.sh"]
fn pythons_environment_variables_for_output_warnings_and_hashing_are_honoured() {
    // PYTHONUNBUFFERED (set by Docker images: the lines of stdout and stderr interleave on one
    // pipe), PYTHONIOENCODING, PYTHONHASHSEED, PYTHONINTMAXSTRDIGITS, PYTHONFAULTHANDLER and
    // PYTHONWARNINGS (a warning made an error: exit 1). Not PYTHONPATH, which python reads too.
    fn joined(program: &Path, args: &[&str], vars: &[(&str, &str)]) -> Output {
        let mut command = Command::new("sh");
        command.arg("-c").arg("exec \"$@\" 2>&1").arg("sh").arg(program).args(args).env_clear();
        command.envs(vars.iter().copied()).output().unwrap()
    }
    let bin = build("environment", &[]);
    let python = toolchain_python();
    let file = script("environment.py").display().to_string();
    for vars in [
        &[][..],
        &[("PYTHONUNBUFFERED", "1")][..],
        &[("PYTHONHASHSEED", "0"), ("PYTHONIOENCODING", "latin-1:replace"), ("PYTHONINTMAXSTRDIGITS", "1000")][..],
        &[("PYTHONFAULTHANDLER", "1"), ("PYTHONWARNINGS", "error::DeprecationWarning,,always")][..],
        &[("PYTHONPATH", "/nowhere")][..],
    ] {
        let want = joined(&python, &[&file], vars);
        let got = joined(&bin, &[], vars);
        let want = Output { stdout: text(&want).replace(&file, "/__pyelf__/environment.py").into_bytes(), ..want };
        same(&got, &want, &format!("{vars:?}"));
    }
    let unbuffered = joined(&bin, &[], &[("PYTHONUNBUFFERED", "1")]);
    assert!(text(&unbuffered).starts_with("out 0\nerr 0\nout 1\n"), "{}", text(&unbuffered));
}

#[test]
#[ignore = "builds real binaries and needs root; run by ./test.sh"]
fn every_codec_python_knows_round_trips() {
    let bin = build("codecs_all", &[]);
    let want = reference("codecs_all", &[]);
    assert!(want.status.success(), "{}", all(&want));
    same(&Command::new(&bin).output().unwrap(), &want, "on the host");
    let root = root_with("empty", &bin, "codecs");
    same(&in_root(&root, "/app", "/app", &[], true), &want, "empty root");
}

#[test]
#[ignore = "builds real binaries and needs root; run by ./test.sh"]
fn a_script_whose_c_gcc_rejects_runs_as_bytecode() {
    let out = tmp().join("gcc_fallback");
    let built = Command::new(env!("CARGO_BIN_EXE_pyelf"))
        .arg("build")
        .arg(script("gcc_fallback.py"))
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert!(built.status.success(), "{}", all(&built));
    let said = String::from_utf8_lossy(&built.stderr);
    assert!(
        said.contains("gcc_fallback.py is embedded as bytecode: the C compiler rejected Cython's C for it"),
        "{said}"
    );
    assert!(said.contains("error: '__pyx_cur_scope' undeclared"), "gcc's first error line is shown:\n{said}");
    assert!(said.contains("full log: "), "{said}");
    let log = said.split("full log: ").nth(1).and_then(|r| r.split(')').next()).unwrap();
    assert!(Path::new(log).is_file(), "the log {log} is kept");
    same(&Command::new(&out).output().unwrap(), &reference("gcc_fallback", &[]), "on the host");
}

#[test]
#[ignore = "builds real binaries and needs root; run by ./test.sh"]
fn multiprocessing_works_with_every_start_method() {
    let bin = build("mp", &[]);
    // What CPython prints with spawn, which each start method's lines must match.
    let want_spawn = reference("mp", &["spawn"]);
    assert!(want_spawn.status.success(), "{}", all(&want_spawn));
    let want = |method: &str| {
        let mut text = text(&want_spawn).replace("spawn", method);
        if method == "fork" {
            // A forked child is a copy of the parent: its functions' module is __main__ itself.
            text = text.replace("'__mp_main__'", "'__main__'");
        }
        text
    };
    for method in ["fork", "spawn", "forkserver"] {
        let host = Command::new(&bin).arg(method).output().unwrap();
        assert!(host.status.success(), "{method} on the host:\n{}", all(&host));
        assert_eq!(text(&host), want(method), "{method} on the host");
    }
    // POSIX semaphores live in /dev/shm, which a chroot has only when a tmpfs is mounted there.
    let alpine = root_with("alpine", &bin, "mp");
    for method in ["fork", "spawn", "forkserver"] {
        for proc in [false, true] {
            let got = in_root_mounted(&alpine, &format!("/app {method}"), proc, true);
            assert!(got.status.success(), "alpine, {method}, /proc {proc}:\n{}", all(&got));
            assert_eq!(text(&got), want(method), "alpine, {method}, /proc {proc}");
        }
    }
    // Without /dev/shm (an empty root) the fork start method still works: the semaphores are made
    // in shared memory that forked children inherit.
    let empty = root_with("empty", &bin, "mp");
    for proc in [false, true] {
        let got = in_root_mounted(&empty, "/app fork", proc, false);
        assert!(got.status.success(), "empty root, fork, /proc {proc}:\n{}", all(&got));
        assert_eq!(text(&got), want("fork"), "empty root, fork, /proc {proc}");
    }
    // spawn and forkserver need the semaphores by name: they fail at once, as under python (not
    // with children that die at start while the parent waits for them).
    for method in ["spawn", "forkserver"] {
        let script = format!("exec timeout 120 /usr/sbin/chroot '{}' /app {method}", empty.display());
        let got = Command::new("/bin/sh").args(["-c", &script]).output().unwrap();
        assert_eq!(got.status.code(), Some(1), "empty root, {method}:\n{}", all(&got));
        assert_eq!(text(&got), "", "empty root, {method}");
        let err = String::from_utf8_lossy(&got.stderr);
        assert!(
            err.trim_end().ends_with("FileNotFoundError: [Errno 2] No such file or directory"),
            "empty root, {method}:\n{err}"
        );
    }
}

#[test]
#[ignore = "builds real binaries and needs root; run by ./test.sh"]
fn files_next_to_file_are_read_listed_and_found_in_every_root_read_only() {
    let pkg = script("plugins_demo");
    let bin = common::roots::build(env!("CARGO_BIN_EXE_pyelf"), &pkg, "plugins_demo", &[]);
    let want = Command::new(toolchain_python())
        .args(["-E", "-s", "-m", "plugins_demo"])
        .current_dir(pkg.parent().unwrap())
        .env_clear()
        .output()
        .unwrap();
    assert!(want.status.success(), "{}", all(&want));
    assert!(text(&want).contains("plugins found by listdir: ['alpha', 'beta']"), "{}", all(&want));
    same(&Command::new(&bin).output().unwrap(), &want, "on the host");
    for kind in ROOTS {
        let root = root_with(kind, &bin, "plugins_demo");
        same(&in_root(&root, "/app", "/app", &[], true), &want, &format!("{kind}, no /proc"));
        same(&in_root_mounted(&root, "/app", true, false), &want, &format!("{kind}, /proc"));
    }
    // A read-only root, a user with no passwd entry, no /proc, no /tmp: the same, and writes into
    // the app's tree fail as on a read-only file system.
    let root = root_with("empty", &bin, "plugins_demo-ro");
    let out = in_read_only_root(&root, "/app --write");
    assert!(out.status.success(), "{}", all(&out));
    let writes = "open for writing failed: EROFS\nmkdir failed: EROFS\nremove failed: EROFS\n";
    assert_eq!(text(&out), format!("{}{writes}", text(&want)), "read-only root");
}

#[test]
#[ignore = "builds real binaries and needs root; run by ./test.sh"]
fn a_package_runs_as_the_real_main_module_as_python_m_runs_it() {
    let pkg = script("mainpkg");
    let bin = common::roots::build(env!("CARGO_BIN_EXE_pyelf"), &pkg, "mainpkg", &[]);
    let want = Command::new(toolchain_python())
        .args(["-E", "-s", "-m", "mainpkg"])
        .current_dir(pkg.parent().unwrap())
        .env_clear()
        .output()
        .unwrap();
    assert!(want.status.success(), "{}", all(&want));
    assert!(text(&want).contains("__module__ __main__ main is this module True"), "{}", all(&want));
    same(&Command::new(&bin).output().unwrap(), &want, "on the host");
    let root = root_with("empty", &bin, "mainpkg");
    same(&in_root(&root, "/app", "/app", &[], true), &want, "empty root");
}

#[test]
#[ignore = "builds real binaries and needs root; run by ./test.sh"]
fn stdlib_modules_have_their_files_where_python_has_them() {
    let bin = build("stdlib_files", &[]);
    let want = reference("stdlib_files", &[]);
    assert!(want.status.success(), "{}", all(&want));
    assert!(text(&want).contains("json json/__init__.py json/__init__.py True"), "{}", all(&want));
    same(&Command::new(&bin).output().unwrap(), &want, "on the host");
    for kind in ROOTS {
        let root = root_with(kind, &bin, "stdlib_files");
        same(&in_root(&root, "/app", "/app", &[], true), &want, &format!("{kind}, no /proc"));
    }
    // Without the sources: the same files named, none there, no source lines in tracebacks.
    let bin = common::roots::build(
        env!("CARGO_BIN_EXE_pyelf"),
        &script("stdlib_files.py"),
        "stdlib_files-ns",
        &["--no-stdlib-sources"],
    );
    let out = Command::new(&bin).arg("no-sources").output().unwrap();
    assert!(out.status.success(), "{}", all(&out));
    let got = text(&out);
    let names = |t: &str| t.lines().take(7).map(String::from).collect::<Vec<_>>();
    assert_eq!(names(&got), names(&text(&want)), "{got}");
    assert!(got.contains("getsource: OSError\n"), "{got}");
    assert!(got.contains("File \"STDLIB/json/decoder.py\", line 345, in decode\n  File"), "no source line: {got}");
}

#[test]
#[ignore = "builds real binaries and needs root; run by ./test.sh"]
fn with_python_cli_the_binary_started_as_python3_is_python() {
    let bin = build("python_cli", &["--python-cli", "--include-module", "json.tool"]);
    let python = python_link(&bin, "python-cli");
    // Under its own name it is the app.
    let out = Command::new(&bin).args(["-c", "x"]).output().unwrap();
    assert_eq!(text(&out), "app mode: __main__ ['-c', 'x']\n", "{}", all(&out));
    // As python3, python's command line, answered as the toolchain's python3 answers it.
    let cases: &[&[&str]] = &[
        &["--version"],
        &["-c", "import sys; print(sys.argv, sys.flags.isolated, sys.flags.no_site, __name__)"],
        &["-I", "-S", "-c", "import sys; print(sys.flags.isolated, sys.flags.no_site, 'exit' in dir(__builtins__))"],
        &["-c", "import subprocess, sys; print(subprocess.run([sys.executable, '-c', 'print(6 * 7)'], capture_output=True, text=True).stdout.strip())"],
        &["-c", "import json, os; print(os.path.relpath(json.__file__, os.path.dirname(os.__file__)))"],
        &["-c", "raise SystemExit(3)"],
        &["-m", "json.tool", "--sort-keys", "-"],
    ];
    for args in cases {
        let run = |program: &Path| {
            let mut c = Command::new(program);
            c.args(*args)
                .env_clear()
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped());
            let mut child = c.spawn().unwrap();
            use std::io::Write;
            // Only json.tool reads it: the others may have exited already (a broken pipe then).
            let _ = child.stdin.take().unwrap().write_all(b"{\"b\": [1, 2], \"a\": null}");
            child.wait_with_output().unwrap()
        };
        same(&run(&python), &run(&toolchain_python()), &format!("python3 {args:?}"));
    }
    // In a root without /proc, through a link named python3 (the name is what counts).
    let root = root_with("empty", &bin, "python_cli");
    std::os::unix::fs::symlink("/app", root.join("python3")).unwrap();
    let out =
        in_root(&root, "/python3", "/python3", &["-c", "import sys, os; print(sys.executable, os.__file__)"], true);
    assert_eq!(text(&out), "/python3 /__pyelf__/lib/python3.13/os.py\n", "{}", all(&out));
}

/// An app starts `sys.executable` as python: a hook script (cookiecutter's), `-c`, `-m`, `-`,
/// `--version`, a `#!` line written with it, a grandchild, and itself again (a reloader's
/// restart), each answered as the toolchain's python3 answers it; the app's own `-c` stays the
/// app's. Before, every such command line ran the app again with those arguments.
#[test]
#[ignore = "builds real binaries and needs root; run by ./test.sh"]
fn sys_executable_runs_as_python_and_the_app_restarts_itself_in_every_root() {
    let bin = build("executable", &[]);
    let work = tmp().join("executable-work");
    std::fs::create_dir_all(&work).unwrap();
    let work = work.to_str().unwrap();
    let want = reference("executable", &[work]);
    assert!(want.status.success(), "{}", all(&want));
    for line in [
        r"hook 5 'hook __main__ [\'x\', \'-c\', \'y\']",
        "#! script ['q'] __main__",
        "restarted app ['-c', 'z']",
        "restarted through sys.orig_argv with 1 argument __main__",
    ] {
        assert!(text(&want).contains(line), "{line}: {}", all(&want));
    }
    same(&Command::new(&bin).arg(work).env_clear().output().unwrap(), &want, "on the host");
    let own = Command::new(&bin).args(["-c", "x"]).output().unwrap();
    same(&own, &reference("executable", &["-c", "x"]), "the app's own -c");
    for kind in ROOTS {
        let root = root_with(kind, &bin, "executable");
        same(&in_root(&root, "/app", "/app", &["/"], true), &want, &format!("{kind}, no /proc"));
        same(&in_root(&root, "/link", "link", &["/"], true), &want, &format!("{kind}, through a link"));
        same(&in_root_mounted(&root, "/app /", true, false), &want, &format!("{kind}, /proc"));
    }
}

#[test]
#[ignore = "builds real binaries and needs root; run by ./test.sh"]
fn modules_found_by_their_files_load_shipped_bytecode_and_nothing_is_compiled_at_run_time() {
    let pkg = script("pycache_demo");
    let bin = common::roots::build(env!("CARGO_BIN_EXE_pyelf"), &pkg, "pycache_demo", &[]);
    // python as pip leaves a package: its modules compiled (compileall, as pip runs it; the module
    // that does not compile gets no .pyc), in a copy, not in the repository.
    let tmp = tempfile::tempdir().unwrap();
    let copy = tmp.path().join("pycache_demo");
    for f in [
        "__init__.py",
        "__main__.py",
        "by_path.py",
        "plugins/__init__.py",
        "plugins/alpha.py",
        "plugins/beta.py",
        "plugins/broken.py",
        "hooks/hook.py",
    ] {
        std::fs::create_dir_all(copy.join(f).parent().unwrap()).unwrap();
        std::fs::copy(pkg.join(f), copy.join(f)).unwrap();
    }
    let compiled =
        Command::new(toolchain_python()).args(["-E", "-s", "-m", "compileall", "-q"]).arg(&copy).output().unwrap();
    assert!(text(&compiled).contains("broken.py"), "{}", all(&compiled));
    let want = Command::new(toolchain_python())
        .args(["-E", "-s", "-m", "pycache_demo"])
        .current_dir(tmp.path())
        .env_clear()
        .output()
        .unwrap();
    assert!(want.status.success(), "{}", all(&want));
    // The audit hook sees a compile: the module that does not compile, in python as in the binary.
    assert!(text(&want).contains("compiled at run time: ['broken.py']"), "{}", all(&want));
    assert!(text(&want).contains("json.decoder SourceFileLoader"), "{}", all(&want));
    same(&Command::new(&bin).output().unwrap(), &want, "on the host");
    let root = root_with("empty", &bin, "pycache_demo");
    same(&in_root(&root, "/app", "/app", &[], true), &want, "empty root, no /proc");
}

/// ctypes opens the C library by the name `find_library` gives, or the program itself
/// (`CDLL(None)`), and libpython (`ctypes.pythonapi`): in the binary each is the binary, which
/// exports the musl and libpython functions the app's code names. ansible's display module does
/// `CDLL(find_library("c")).wcwidth` at import: it failed, "Symbol not found: wcwidth", before.
#[test]
#[ignore = "builds real binaries and needs root; run by ./test.sh"]
fn ctypes_finds_the_c_library_and_libpython_functions_the_app_names_in_every_root() {
    let bin = build("ctypes_libc", &[]);
    // The toolchain's python3 is static: the reference is a CPython 3.13 that loads libraries.
    let want = Command::new(cpython313()).arg("-I").arg(script("ctypes_libc.py")).env_clear().output().unwrap();
    assert!(want.status.success(), "{}", all(&want));
    assert!(text(&want).contains("wcwidth 1 -1 3"), "{}", all(&want));
    same(&Command::new(&bin).env_clear().output().unwrap(), &want, "on the host");
    for kind in ROOTS {
        let root = root_with(kind, &bin, "ctypes_libc");
        same(&in_root(&root, "/app", "/app", &[], true), &want, &format!("{kind}, no /proc"));
        same(&in_root_mounted(&root, "/app", true, false), &want, &format!("{kind}, /proc"));
    }
}

/// The modules every binary imports while it starts are deep-frozen: static code objects
/// (`src/build/deepfreeze.py`), handed to the import system in place of their marshalled bytes.
/// Each is what marshal builds from those bytes (every attribute and constant, the same strings
/// interned), and the code runs as python's. Started as python with `-X no_debug_ranges`, the
/// binary's code has no columns, as python's has none.
#[test]
#[ignore = "builds real binaries and needs root; run by ./test.sh"]
fn deep_frozen_modules_are_the_code_marshal_builds_in_every_root() {
    let names: Vec<&str> = pyelf::toolchain::stdlib::facts().deep_frozen.iter().map(String::as_str).collect();
    let bin = build("deep_frozen", &["--python-cli"]);
    let want = reference("deep_frozen", &names);
    assert!(want.status.success(), "{}", all(&want));
    let compared = format!("compared {0}, not frozen here 0, static {0}", names.len());
    let got = Command::new(&bin).args(&names).output().unwrap();
    same(&got, &want, "on the host");
    assert!(String::from_utf8_lossy(&got.stderr).contains(&compared), "{}", all(&got));
    let root = root_with("empty", &bin, "deep_frozen");
    let got = in_root(&root, "/app", "/app", &names, true);
    same(&got, &want, "empty root");
    assert!(String::from_utf8_lossy(&got.stderr).contains(&compared), "{}", all(&got));
    // As python, with code that has no column information.
    let python = python_link(&bin, "deep-frozen-python");
    let code = "import os, posixpath; print(list(os.walk.__code__.co_positions())[:4], \
                list(posixpath.join.__code__.co_positions())[-2:])";
    for x in [&["-X", "no_debug_ranges"][..], &[]] {
        let args: Vec<&str> = x.iter().copied().chain(["-c", code]).collect();
        let got = Command::new(&python).args(&args).env_clear().output().unwrap();
        let want = Command::new(toolchain_python()).args(&args).env_clear().output().unwrap();
        same(&got, &want, &format!("python3 {args:?}"));
    }
}
