//! End-to-end: real applications. A project of our own (a package with subpackages, relative
//! imports, a data file, an entry point, `[tool.pyelf]` settings), and two command-line tools from
//! PyPI with dependencies of their own (flake8, mdformat), built from their released wheels and
//! compared with the same versions under a normal Python install, in the three roots of
//! rootfs.sh, with and without /proc. Namespace packages (PEP 420), in the app and in a dependency.
//! A dependency with only a source distribution is built into a wheel.
//!
//! They need the toolchain, pip's index and root, so they are ignored by a plain `cargo test`;
//! `./test.sh` runs them.

mod common;

use common::roots::*;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

const PYELF: &str = env!("CARGO_BIN_EXE_pyelf");

fn pyelf_build(input: &Path, name: &str, extra: &[&str]) -> (PathBuf, Output) {
    let out = tmp().join(name);
    let o = Command::new(PYELF).arg("build").arg(input).arg("-o").arg(&out).args(extra).output().unwrap();
    assert!(o.status.success(), "build of {} failed:\n{}", input.display(), String::from_utf8_lossy(&o.stderr));
    (out, o)
}

const DEMO_OUTPUT: &str = r#"HELLO WORLD!
['HELLO!', 'WORLD!']
first: hello
data: Hello from a data file
extra: Notes added with add-data
version: 1.4.2
scripts: ['demo', 'demo-count']
plugin: {"a": [1, 2], "b": 1}
package: demo demo.cli
compiled: cython_function_or_method bytecode: function
"#;

fn demo() -> &'static (PathBuf, Output) {
    static B: OnceLock<(PathBuf, Output)> = OnceLock::new();
    B.get_or_init(|| pyelf_build(&repo().join("tests/e2e/project"), "demo", &[]))
}

#[test]
#[ignore = "builds real binaries and needs root; run by ./test.sh"]
fn own_project_runs_in_every_root() {
    let (bin, built) = demo();
    let said = String::from_utf8_lossy(&built.stderr);
    assert!(
        said.contains("warning: demo.modern is embedded as bytecode: Cython could not compile it (demo/modern.py:3"),
        "the module Cython cannot compile is named, with the reason:\n{said}"
    );
    assert!(pyelf::elf::check_static(bin, X86_64).unwrap().needed.is_empty());
    for kind in ROOTS {
        let root = root_with(kind, bin, "demo");
        for (how, out) in
            [("no /proc", in_root(&root, "/app", "/app", &[], true)), ("with /proc", in_root_with_proc(&root, "/app"))]
        {
            assert_eq!(out.status.code(), Some(3), "{kind}, {how}: exit status of main():\n{}", all(&out));
            assert_eq!(text(&out), DEMO_OUTPUT, "{kind}, {how}");
        }
    }
    // The SBOM names the project.
    let sbom = Command::new(PYELF).arg("sbom").arg(bin).output().unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&sbom.stdout).unwrap();
    assert_eq!(doc["metadata"]["component"]["name"], "pyelf-demo");
    assert_eq!(doc["metadata"]["component"]["version"], "1.4.2");
}

#[test]
#[ignore = "builds real binaries; run by ./test.sh"]
fn other_entry_points_and_the_package_itself_build_too() {
    let (count, _) = pyelf_build(&repo().join("tests/e2e/project"), "demo-count", &["--entry", "demo-count"]);
    let out = Command::new(&count).args(["a", "b", "c"]).output().unwrap();
    assert_eq!((out.status.code(), text(&out).as_str()), (Some(0), "3\n"), "{}", all(&out));

    // `python -m demo` style: the package directory, run through its __main__.py.
    let (pkg, _) = pyelf_build(&repo().join("tests/e2e/project/src/demo"), "demo-pkg", &[]);
    let out = Command::new(&pkg).arg("--help").output().unwrap();
    assert!(out.status.success(), "{}", all(&out));
    assert!(text(&out).starts_with("usage: demo [-h] [text ...]"), "{}", all(&out));

    // Without an entry chosen (here or in [tool.pyelf]): one binary per script.
    let copy = tmp().join("project-without-entry");
    let st = Command::new("cp").arg("-R").arg(repo().join("tests/e2e/project")).arg(&copy).status().unwrap();
    assert!(st.success());
    let toml = fs::read_to_string(copy.join("pyproject.toml")).unwrap().replace("entry = \"demo\"\n", "");
    fs::write(copy.join("pyproject.toml"), toml).unwrap();
    let dir = tmp().join("each-script");
    let o = Command::new(PYELF).arg("build").arg(&copy).arg("-o").arg(&dir).output().unwrap();
    assert!(o.status.success(), "{}", all(&o));
    assert!(all(&o).contains("has 2 scripts: building each (demo, demo-count)"), "{}", all(&o));
    assert_eq!(text(&Command::new(dir.join("demo-count")).args(["x", "y"]).output().unwrap()), "2\n");
    assert_eq!(Command::new(dir.join("demo")).output().unwrap().status.code(), Some(3));

    let bad = Command::new(PYELF)
        .arg("build")
        .arg(repo().join("tests/e2e/project"))
        .args(["--entry", "nope", "-o"])
        .arg(tmp().join("nope"))
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    assert!(all(&bad).contains("no script \"nope\" in [project.scripts] (there: demo, demo-count)"), "{}", all(&bad));
}

/// The same requirements installed the normal way (pip into a directory on PYTHONPATH) and run
/// by a CPython of the same version (the toolchain's python3, 3.13).
fn reference(requirements: &[&str], name: &str) -> PathBuf {
    let dir = tmp().join(format!("reference-{name}"));
    if !dir.exists() {
        let o = Command::new("python3")
            .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile", "--target"])
            .arg(&dir)
            .args(requirements)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", all(&o));
    }
    dir
}

fn run_reference(site: &Path, module: &str, args: &[&str], cwd: &Path, stdin: Option<&Path>) -> Output {
    let mut c = Command::new(toolchain_python());
    c.args(["-m", module]).args(args).current_dir(cwd).env_clear().env("PYTHONPATH", site);
    if let Some(f) = stdin {
        c.stdin(fs::File::open(f).unwrap());
    }
    c.output().unwrap()
}

/// A project's console script `module:main` run as an installed one would run: the toolchain's
/// python3 with the reference install `site` and the project's `src` on the path, argv[0] `name`.
fn run_reference_entry(site: &Path, project: &Path, module: &str, name: &str, args: &[&str]) -> Output {
    let code = format!("import sys; from {module} import main; sys.argv[0] = {name:?}; sys.exit(main())");
    Command::new(toolchain_python())
        .args(["-c", &code])
        .args(args)
        .env_clear()
        .env("PYTHONPATH", format!("{}:{}", site.display(), project.join("src").display()))
        .output()
        .unwrap()
}

const SAMPLE_PY: &str = "import os\ndef f( x ):\n  return  x\n\n\nclass C: pass\n";

#[test]
#[ignore = "installs from PyPI, builds real binaries and needs root; run by ./test.sh"]
fn flake8_from_pypi_matches_a_normal_install_in_every_root() {
    let tools = repo().join("tests/e2e/tools/flake8");
    let (bin, built) = pyelf_build(&tools, "flake8", &[]);
    let said = String::from_utf8_lossy(&built.stderr);
    for dep in ["flake8 7.5.0", "pyflakes 4.1.0", "pycodestyle 2.15.0", "mccabe 0.7.0"] {
        assert!(said.contains(dep), "{dep} is reported as bundled:\n{said}");
    }
    // Reproducible: the same project from another directory gives the same bytes.
    let copy = tmp().join("elsewhere/flake8-project");
    fs::create_dir_all(copy.parent().unwrap()).unwrap();
    assert!(Command::new("cp").arg("-R").arg(&tools).arg(&copy).status().unwrap().success());
    let (again, _) = pyelf_build(&copy, "flake8-again", &[]);
    assert_eq!(fs::read(&again).unwrap(), fs::read(&bin).unwrap(), "two builds of flake8 from two places differ");

    let req = tools.join("requirements.txt");
    let site = reference(&["--require-hashes", "-r", req.to_str().unwrap()], "flake8");
    let work = tmp().join("flake8-work");
    fs::create_dir_all(&work).unwrap();
    fs::write(work.join("sample.py"), SAMPLE_PY).unwrap();
    // --version lists the plugins found through importlib.metadata entry points, with versions.
    let want_version = run_reference(&site, "flake8", &["--version"], &work, None);
    let want_check = run_reference(&site, "flake8", &["sample.py"], &work, None);
    assert_eq!(want_check.status.code(), Some(1), "{}", all(&want_check));
    assert!(text(&want_version).contains("pyflakes: 4.1.0"), "{}", all(&want_version));
    for kind in ROOTS {
        let root = root_with(kind, &bin, "flake8");
        fs::write(root.join("sample.py"), SAMPLE_PY).unwrap();
        let runs = [
            ("--version, no /proc", in_root(&root, "/app", "flake8", &["--version"], true), &want_version),
            ("check, no /proc", in_root(&root, "/app", "flake8", &["sample.py"], true), &want_check),
            ("--version, /proc", in_root_with_proc(&root, "/app --version"), &want_version),
            ("check, /proc", in_root_with_proc(&root, "/app sample.py"), &want_check),
        ];
        for (how, got, want) in runs {
            assert_eq!(got.status.code(), want.status.code(), "{kind}, {how}:\n{}", all(&got));
            assert_eq!(text(&got), text(want), "{kind}, {how}:\n{}", all(&got));
        }
    }
}

const DOC_MD: &str =
    "Title\n=====\n\n* one\n* two\n\nSome   *text*   with a [link]( http://example.com ).\n\n1) first\n2) second\n";

#[test]
#[ignore = "installs from PyPI, builds real binaries and needs root; run by ./test.sh"]
fn mdformat_from_pypi_matches_a_normal_install_in_every_root() {
    let (bin, _) = pyelf_build(&repo().join("tests/e2e/tools/mdformat"), "mdformat", &[]);
    let site = reference(&["mdformat==1.0.0", "markdown-it-py==4.3.0", "mdurl==0.1.2"], "mdformat");
    let work = tmp().join("mdformat-work");
    fs::create_dir_all(&work).unwrap();
    let doc = work.join("doc.md");
    fs::write(&doc, DOC_MD).unwrap();
    let want = run_reference(&site, "mdformat", &["-"], &work, Some(&doc));
    assert!(want.status.success(), "{}", all(&want));
    assert!(text(&want).starts_with("# Title\n\n- one\n- two"), "{}", all(&want));
    let want_version = run_reference(&site, "mdformat", &["--version"], &work, None);
    for kind in ROOTS {
        let root = root_with(kind, &bin, "mdformat");
        // Without /proc: formats a file in place.
        fs::write(root.join("doc.md"), DOC_MD).unwrap();
        let out = in_root(&root, "/app", "mdformat", &["/doc.md"], true);
        assert!(out.status.success(), "{kind}: {}", all(&out));
        assert_eq!(fs::read_to_string(root.join("doc.md")).unwrap(), text(&want), "{kind}, no /proc");
        // With /proc: from standard input to standard output.
        let out = in_root_with_proc(&root, &format!("/app - < '{}'", doc.display()));
        assert_eq!(text(&out), text(&want), "{kind}, /proc: {}", all(&out));
        let out = in_root(&root, "/app", "mdformat", &["--version"], true);
        assert_eq!(text(&out), text(&want_version), "{kind}: {}", all(&out));
    }
}

#[test]
#[ignore = "installs from PyPI and builds real binaries; run by ./test.sh"]
fn dependencies_marked_for_python_3_13_are_bundled_whatever_python_runs_pip() {
    // The python that runs pip: the marker is what it would get wrong if older than 3.13.
    let host = std::env::var("PYELF_HOST_PYTHON").unwrap_or_else(|_| "python3".into());
    let v = Command::new(&host).args(["-c", "import sys; print(sys.version_info >= (3, 13))"]).output().unwrap();
    if text(&v).trim() != "False" {
        eprintln!("note: {host} is 3.13 or later, so this proves only that the marker holds there");
    }
    let tools = repo().join("tests/e2e/tools/markers");
    let (bin, _) = pyelf_build(&tools, "markerdemo", &[]);
    let req = tmp().join("markers-requirements.txt");
    fs::write(&req, "webob==1.8.11\n").unwrap();
    let python = reference_venv("markers", &req);
    let script = tmp().join("markers-main.py");
    fs::write(&script, "import sys\nsys.path.insert(0, sys.argv[1])\nimport markerdemo\nmarkerdemo.main()\n").unwrap();
    let want = Command::new(&python).arg(&script).arg(tools.join("src")).output().unwrap();
    assert!(want.status.success(), "{}", all(&want));
    assert!(text(&want).starts_with("distributions: ['legacy-cgi', 'webob']\n"), "{}", all(&want));
    let root = root_with("empty", &bin, "markerdemo");
    let got = in_root(&root, "/app", "markerdemo", &[], true);
    same(&got, &want, "a dependency marked python_version >= 3.13");
}

#[test]
#[ignore = "installs from PyPI and builds real binaries; run by ./test.sh"]
fn compile_deps_compiles_the_dependencies_with_cython() {
    let (bin, built) = pyelf_build(&repo().join("tests/e2e/tools/compiled-deps"), "urltool", &[]);
    let said = String::from_utf8_lossy(&built.stderr);
    assert!(said.contains("9 modules compiled by Cython"), "the app's 3 and mdurl's 6 modules:\n{said}");
    let root = root_with("empty", &bin, "urltool");
    let out = in_root(&root, "/app", "urltool", &["https://example.com/a b?x=ü"], true);
    assert_eq!(
        text(&out),
        "https: example.com /a b https://example.com/a%20b?x=%C3%BC\ncython_function_or_method cython_function_or_method\nmdurl 0.1.2\n",
        "{}",
        all(&out)
    );
}

#[test]
#[ignore = "installs from PyPI, builds real binaries and needs root; run by ./test.sh"]
fn namespace_packages_of_the_app_and_of_its_dependencies_match_a_normal_install() {
    let tools = repo().join("tests/e2e/tools/namespace");
    let (bin, _) = pyelf_build(&tools, "greet", &[]);
    // jaraco.functools warns, so it would be bytecode (toolchains/cython-fallbacks.toml): --cython
    // compiles it anyway, the module in a namespace package this test is about.
    let (compiled, built) = pyelf_build(&tools, "greet-compiled", &["--compile-deps", "--cython", "jaraco.functools"]);
    let said = String::from_utf8_lossy(&built.stderr);
    assert!(!said.lines().any(|l| l.contains("warning") && !l.starts_with("note:")), "{said}");

    let req = tools.join("requirements.txt");
    let site = reference(&["--require-hashes", "-r", req.to_str().unwrap()], "namespace");
    let reference_run = |args: &[&str]| run_reference_entry(&site, &tools, "acme.greet.cli", "greet", args);
    let want = reference_run(&[]);
    assert!(want.status.success(), "{}", all(&want));
    assert!(text(&want).contains("namespaces: acme None None jaraco None"), "{}", all(&want));
    for kind in ROOTS {
        let root = root_with(kind, &bin, "greet");
        for (how, out) in
            [("no /proc", in_root(&root, "/app", "greet", &[], true)), ("with /proc", in_root_with_proc(&root, "/app"))]
        {
            assert!(out.status.success(), "{kind}, {how}: {}", all(&out));
            assert_eq!(text(&out), text(&want), "{kind}, {how}");
        }
    }
    let out = Command::new(&compiled).output().unwrap();
    assert_eq!(text(&out), text(&want), "--compile-deps: {}", all(&out));

    // Who runs what: the reference all bytecode, pyelf the app's code compiled, and with
    // --compile-deps jaraco.functools (in a namespace package) compiled too.
    assert_eq!(text(&reference_run(&["--kind"])), "function function\n");
    assert_eq!(text(&Command::new(&bin).arg("--kind").output().unwrap()), "function cython_function_or_method\n");
    assert_eq!(
        text(&Command::new(&compiled).arg("--kind").output().unwrap()),
        "cython_function_or_method cython_function_or_method\n"
    );
}

#[test]
#[ignore = "installs from PyPI, builds real binaries and needs root; run by ./test.sh"]
fn a_dependency_with_only_a_source_distribution_is_built_into_a_pure_wheel() {
    let tools = repo().join("tests/e2e/tools/sdist-only");
    let (bin, built) = pyelf_build(&tools, "nav", &[]);
    let said = String::from_utf8_lossy(&built.stderr);
    assert!(
        said.contains("docopt: no wheel on the index; building one from its source distribution with pip"),
        "{said}"
    );
    assert!(said.contains("docopt: built docopt-0.6.2-py2.py3-none-any.whl (sha256 "), "{said}");
    assert!(said.contains("docopt 0.6.2"), "docopt is reported as bundled:\n{said}");
    // The wheel is built with the pinned date: a second build gives the same bytes (the SBOM
    // carries the wheel's sha256).
    let (again, _) = pyelf_build(&tools, "nav-again", &[]);
    assert_eq!(fs::read(&again).unwrap(), fs::read(&bin).unwrap(), "two builds with a wheel built from source differ");

    // Pinned by hash: the sdist's hash cannot match the wheel built from it; the error names the
    // hash to pin instead, and with it the build succeeds.
    let pinned = tmp().join("nav-pinned");
    assert!(Command::new("cp").arg("-R").arg(&tools).arg(&pinned).status().unwrap().success());
    let toml = fs::read_to_string(pinned.join("pyproject.toml")).unwrap();
    let toml = toml.replace("dependencies = [\"docopt==0.6.2\"]\n", "")
        + "\n[tool.pyelf]\nrequirements = \"requirements.txt\"\n";
    fs::write(pinned.join("pyproject.toml"), toml).unwrap();
    let sdist_hash = "sha256:49b3a825280bd66b3aa83585ef59c4a8c82f2c8a522dbe754a8bc8d08c85c491";
    fs::write(pinned.join("requirements.txt"), format!("docopt==0.6.2 --hash={sdist_hash}\n")).unwrap();
    let refused =
        Command::new(PYELF).arg("build").arg(&pinned).arg("-o").arg(tmp().join("nav-pinned-bin")).output().unwrap();
    let said = all(&refused);
    assert_eq!(refused.status.code(), Some(1), "{said}");
    let hint = said
        .lines()
        .skip_while(|l| !l.starts_with("hint: pin the wheel pyelf builds"))
        .nth(1)
        .unwrap_or_else(|| panic!("{said}"));
    assert!(hint.trim().starts_with("docopt==0.6.2 --hash=sha256:"), "{said}");
    fs::write(pinned.join("requirements.txt"), format!("{}\n", hint.trim())).unwrap();
    let (from_pinned, _) = pyelf_build(&pinned, "nav-pinned-bin", &[]);
    assert_eq!(
        text(&Command::new(&from_pinned).args(["ship", "new", "A"]).output().unwrap()).lines().last(),
        Some("docopt 0.6.2")
    );

    let site = reference(&["docopt==0.6.2"], "docopt");
    let args = ["ship", "Guardian", "move", "10", "50", "--speed=20"];
    let want = run_reference_entry(&site, &tools, "nav.cli", "nav", &args);
    assert!(want.status.success(), "{}", all(&want));
    assert!(text(&want).contains("<name>: ['Guardian']\n"), "{}", all(&want));
    for kind in ROOTS {
        let root = root_with(kind, &bin, "nav");
        let with_proc = format!("/app {}", args.join(" "));
        for (how, out) in [
            ("no /proc", in_root(&root, "/app", "nav", &args, true)),
            ("with /proc", in_root_with_proc(&root, &with_proc)),
        ] {
            assert!(out.status.success(), "{kind}, {how}: {}", all(&out));
            assert_eq!(text(&out), text(&want), "{kind}, {how}");
        }
    }
}

#[test]
#[ignore = "asks PyPI (for setuptools); run by ./test.sh"]
fn a_source_distribution_that_fails_to_build_stops_the_build_with_its_log() {
    // A source distribution whose setup.py fails, found through the requirements' --find-links.
    let dir = tmp().join("broken-sdist");
    let src = dir.join("pyelf_broken_sdist-1.0");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("setup.py"), "raise SystemExit('pyelf-broken-sdist: this package cannot be built')\n").unwrap();
    fs::write(src.join("PKG-INFO"), "Metadata-Version: 2.1\nName: pyelf-broken-sdist\nVersion: 1.0\n").unwrap();
    let links = dir.join("links");
    fs::create_dir_all(&links).unwrap();
    let tar = Command::new("tar")
        .arg("-czf")
        .arg(links.join("pyelf_broken_sdist-1.0.tar.gz"))
        .arg("-C")
        .arg(&dir)
        .arg("pyelf_broken_sdist-1.0")
        .status()
        .unwrap();
    assert!(tar.success());
    fs::write(dir.join("requirements.txt"), "--find-links links\npyelf-broken-sdist==1.0\n").unwrap();
    let script = dir.join("app.py");
    fs::write(&script, "print('never built')\n").unwrap();

    let out_path = dir.join("app");
    let out = Command::new(PYELF)
        .arg("build")
        .arg(&script)
        .arg("-r")
        .arg(dir.join("requirements.txt"))
        .arg("-o")
        .arg(&out_path)
        .output()
        .unwrap();
    let said = all(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(
        said.contains("pyelf-broken-sdist: no wheel on the index; building one from its source distribution with pip"),
        "{said}"
    );
    assert!(said.contains("cannot bundle pyelf-broken-sdist==1.0: pip found no wheel of it for Python 3.13, pure or not, and building one from its source distribution failed"), "{said}");
    assert!(
        said.contains("pyelf-broken-sdist: this package cannot be built"),
        "the log's last lines show setup.py's error:\n{said}"
    );
    let log = said
        .lines()
        .find_map(|l| l.strip_prefix("(full log: "))
        .and_then(|l| l.strip_suffix(')'))
        .unwrap_or_else(|| panic!("{said}"));
    assert!(
        fs::read_to_string(log).unwrap().contains("this package cannot be built"),
        "the log outlives the build: {log}"
    );
    assert!(!out_path.exists(), "no half-built binary");
    assert!(!said.contains("panicked"), "{said}");
}

#[test]
#[ignore = "builds real binaries and needs root; run by ./test.sh"]
fn a_resource_asked_for_as_a_real_file_is_its_real_path_even_on_a_read_only_root() {
    let project = repo().join("tests/e2e/tools/as-file");
    let (bin, _) = pyelf_build(&project, "resfile", &[]);
    // As in a normal install: the resource is a file of the package's directory, given as it is
    // (nothing is copied, so nothing is removed after the `with` block).
    let want = run_reference_entry(&project, &project, "resfile", "resfile", &[]);
    assert_eq!(text(&want), "hello from a resource True\ncopy removed: False\n", "{}", all(&want));
    for kind in ROOTS {
        let root = root_with(kind, &bin, "resfile");
        let out = in_root(&root, "/app", "resfile", &[], true);
        assert_eq!(text(&out), text(&want), "{kind}: {}", all(&out));
    }
    // A read-only root and an unknown user, no /tmp: the same.
    let root = root_with("empty", &bin, "resfile-readonly");
    let out = in_read_only_root(&root, "/app");
    assert!(out.status.success(), "{}", all(&out));
    assert_eq!(text(&out), text(&want), "read-only root");
}

/// Serves every connection to 127.0.0.1:PORT with one JSON answer that echoes the request line;
/// returns the URL.
fn loopback_json_server() -> String {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/data", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let mut reader = BufReader::new(conn);
            let mut request_line = String::new();
            let _ = reader.read_line(&mut request_line);
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let body = format!("{{\"hello\": \"wörld\", \"asked\": {:?}}}\n", request_line.trim());
            let answer = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Test: pyelf\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = reader.get_mut().write_all(answer.as_bytes());
        }
    });
    url
}

#[test]
#[ignore = "installs from PyPI, builds real binaries and needs root; run by ./test.sh"]
fn requests_fetches_over_loopback_like_a_normal_install_in_every_root() {
    let tools = repo().join("tests/e2e/tools/fetch");
    let (bin, built) = pyelf_build(&tools, "fetch", &[]);
    // urllib3's Pyodide modules import `js`, which exists only in a browser: they are embedded all
    // the same (the analysis runs no package's code), and fail as they do under python if imported.
    let said = String::from_utf8_lossy(&built.stderr);
    let warnings: Vec<&str> = said.lines().filter(|l| l.contains("warning:")).collect();
    assert!(warnings.is_empty(), "{said}");
    let url = loopback_json_server();
    let req = tools.join("requirements.txt");
    let site = reference(&["--require-hashes", "-r", req.to_str().unwrap()], "fetch");
    let want = run_reference_entry(&site, &tools, "fetch.cli", "fetch", &[&url]);
    assert!(want.status.success(), "{}", all(&want));
    assert!(
        text(&want).contains("json: {'hello': 'wörld', 'asked': 'GET /data?q=pyelf+%C3%BC HTTP/1.1'}"),
        "{}",
        all(&want)
    );
    for kind in ROOTS {
        let root = root_with(kind, &bin, "fetch");
        let with_proc = format!("/app {url}");
        for (how, out) in [
            ("no /proc", in_root(&root, "/app", "fetch", &[&url], true)),
            ("with /proc", in_root_with_proc(&root, &with_proc)),
        ] {
            assert!(out.status.success(), "{kind}, {how}: {}", all(&out));
            assert_eq!(text(&out), text(&want), "{kind}, {how}");
        }
    }
}

/// A console script `module:attr` of the reference install `site`, run as pip's wrapper runs it,
/// in `cwd`, argv[0] `name`.
fn run_console_script(site: &Path, entry: &str, name: &str, args: &[&str], cwd: &Path) -> Output {
    let (module, attr) = entry.split_once(':').unwrap();
    let code = format!("import sys; from {module} import {attr} as main; sys.argv[0] = {name:?}; sys.exit(main())");
    Command::new(toolchain_python())
        .args(["-c", &code])
        .args(args)
        .current_dir(cwd)
        .env_clear()
        .envs(CORPUS_ENV.iter().copied())
        .env("PYTHONPATH", site)
        .output()
        .unwrap()
}

/// The environment of every corpus run: a HOME (that need not exist: tools such as black ask for
/// their cache directory's name at start), and a PATH for the mount commands of the /proc runs.
const CORPUS_ENV: &[(&str, &str)] = &[("HOME", "/nonexistent-home"), ("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")];

/// A program of the compatibility corpus (`tests/e2e/corpus/NAME`: a project with nothing but its
/// hash-pinned requirements and its console script), built with no other flag, run with each of
/// `runs` (arguments; files from `files` in the working directory) in the host, the empty and the
/// alpine roots, with and without /proc: output and exit status as the same versions installed
/// by pip and run by CPython 3.13.
fn corpus_matches_a_normal_install(name: &str, entry: &str, files: &[(&str, &str)], runs: &[&[&str]]) {
    let project = repo().join("tests/e2e/corpus").join(name);
    let (bin, built) = pyelf_build(&project, &format!("corpus-{name}"), &[]);
    assert!(built.status.success(), "{}", all(&built));
    let req = project.join("requirements.txt");
    let site = reference(&["--require-hashes", "-r", req.to_str().unwrap()], &format!("corpus-{name}"));
    let work = tmp().join(format!("corpus-{name}-work"));
    let named = tmp().join(format!("corpus-{name}-bin")).join(name);
    fs::create_dir_all(named.parent().unwrap()).unwrap();
    fs::copy(&bin, &named).unwrap();
    let write_files = |dir: &Path| {
        for (file, text) in files {
            fs::write(dir.join(file), text).unwrap();
        }
    };
    for args in runs {
        fs::create_dir_all(&work).unwrap();
        write_files(&work);
        let want = run_console_script(&site, entry, name, args, &work);
        // Installed under its own name, as in the roots below: the binary's sys.argv[0] is the path
        // it was started by, as a console script's is.
        let host = Command::new(&named)
            .args(*args)
            .current_dir(&work)
            .env_clear()
            .envs(CORPUS_ENV.iter().copied())
            .output()
            .unwrap();
        let mut got = vec![("host".to_string(), host)];
        for kind in ["empty", "alpine"] {
            let root = root_with(kind, &bin, &format!("corpus-{name}"));
            // Installed under its own name (argv[0] names it in messages and --version), run in
            // /work (a working directory other than /, as on the host).
            fs::rename(root.join("app"), root.join(name)).unwrap();
            let exe = format!("/{name}");
            let root_work = root.join("work");
            fs::create_dir_all(&root_work).unwrap();
            write_files(&root_work);
            let mut no_proc = Command::new(&exe);
            std::os::unix::process::CommandExt::arg0(&mut no_proc, name)
                .args(*args)
                .env_clear()
                .envs(CORPUS_ENV.iter().copied());
            let chroot_to = root.clone();
            unsafe {
                std::os::unix::process::CommandExt::pre_exec(&mut no_proc, move || {
                    std::os::unix::fs::chroot(&chroot_to)?;
                    std::env::set_current_dir("/work")
                });
            }
            got.push((format!("{kind}, no /proc"), output_when_not_busy(&mut no_proc)));
            write_files(&root_work);
            // The root and the arguments go to the script as its positional parameters, each
            // one word whatever spaces or quotes it holds.
            let script = r#"root=$0; exe=$1; shift; mount -t proc proc "$root/proc" && exec unshare --root="$root" --wd=/work "$exe" "$@""#;
            let with_proc = Command::new("/usr/bin/unshare")
                .args(["-m", "/bin/sh", "-c", script])
                .arg(&root)
                .arg(&exe)
                .args(*args)
                .env_clear()
                .envs(CORPUS_ENV.iter().copied())
                .output()
                .unwrap();
            got.push((format!("{kind}, /proc"), with_proc));
        }
        for (how, out) in got {
            assert_eq!(
                out.status.code(),
                want.status.code(),
                "{name} {args:?}, {how}:\n{}\nwant:\n{}",
                all(&out),
                all(&want)
            );
            assert_eq!(text(&out), text(&want), "{name} {args:?}, {how}:\n{}", all(&out));
            // Messages as the install prints them; of a traceback (whose frames name the files of
            // each install) the exception line.
            let (got_err, want_err) = (String::from_utf8_lossy(&out.stderr), String::from_utf8_lossy(&want.stderr));
            if want_err.contains("Traceback (most recent call last):") {
                assert_eq!(
                    got_err.trim_end().lines().last(),
                    want_err.trim_end().lines().last(),
                    "{name} {args:?}, {how}:\n{got_err}"
                );
            } else {
                assert_eq!(got_err, want_err, "{name} {args:?}, {how}");
            }
        }
    }
}

const UNFORMATTED_PY: &str = "x = {  'a':37,'b':42,\n'c':927}\ndef f(a,):\n  return a\n";

#[test]
#[ignore = "installs from PyPI, builds real binaries and needs root; run by ./test.sh"]
fn corpus_black_formats_and_checks_as_a_normal_install() {
    corpus_matches_a_normal_install(
        "black",
        "black:patched_main",
        &[("bad.py", UNFORMATTED_PY), ("good.py", "x = 1\n")],
        &[&["--check", "bad.py"], &["--check", "good.py"], &["-c", "x=1"], &["--version"]],
    );
}

#[test]
#[ignore = "installs from PyPI, builds real binaries and needs root; run by ./test.sh"]
fn corpus_pygmentize_loads_lexers_and_formatters_by_name_as_a_normal_install() {
    corpus_matches_a_normal_install(
        "pygmentize",
        "pygments.cmdline:main",
        &[("s.py", "def f(x):\n    return x + 1  # one\n"), ("c.json", "{\"a\": [1, 2.5, null]}\n")],
        &[
            &["-l", "python", "-f", "html", "s.py"],
            &["-f", "terminal256", "s.py"],
            &["-g", "c.json"],
            &["-L", "styles"],
            &["-l", "nosuchlexer", "s.py"],
        ],
    );
}

const BAD_PY: &str =
    "import sys\nimport os\nimport json\n\n\ndef f( a ):\n    return a\n\ndef unused():\n  x=1\n  return sys.path\n";

#[test]
#[ignore = "installs from PyPI, builds real binaries and needs root; run by ./test.sh"]
fn corpus_isort() {
    corpus_matches_a_normal_install(
        "isort",
        "isort.main:main",
        &[("bad.py", BAD_PY)],
        &[
            &["--stdout", "bad.py"],
            &["--stdout", "--profile", "black", "--force-single-line-imports", "bad.py"],
            &["--version"],
        ],
    );
}

#[test]
#[ignore = "installs from PyPI, builds real binaries and needs root; run by ./test.sh"]
fn corpus_pylint_finds_its_checkers_by_listing_its_directory() {
    corpus_matches_a_normal_install(
        "pylint",
        "pylint:run_pylint",
        &[("bad.py", BAD_PY)],
        &[&["--persistent=n", "bad.py"], &["--persistent=n", "--disable=all", "--enable=unused-import", "bad.py"]],
    );
}

#[test]
#[ignore = "installs from PyPI, builds real binaries and needs root; run by ./test.sh"]
fn corpus_pyfiglet_reads_its_fonts() {
    corpus_matches_a_normal_install(
        "pyfiglet",
        "pyfiglet:main",
        &[],
        &[&["-f", "slant", "pyelf"], &["-f", "banner3-D", "ok"], &["-l"]],
    );
}

#[test]
#[ignore = "installs from PyPI, builds real binaries and needs root; run by ./test.sh"]
fn corpus_unidecode_imports_its_tables_by_computed_name() {
    corpus_matches_a_normal_install(
        "unidecode",
        "unidecode.util:main",
        &[("text.txt", "Ελληνικά 北京 Grüße ☺ Привет\n")],
        &[&["text.txt"]],
    );
}

#[test]
#[ignore = "installs from PyPI, builds real binaries and needs root; run by ./test.sh"]
fn corpus_rst2html_reads_its_stylesheet_by_path() {
    let doc = "Title\n=====\n\nSome *text* and a list:\n\n* one\n* two\n\n.. note:: a note\n";
    corpus_matches_a_normal_install(
        "rst2html",
        "docutils.core:rst2html",
        &[("doc.rst", doc)],
        &[&["doc.rst"], &["--language=de", "doc.rst"]],
    );
}

#[test]
#[ignore = "installs from PyPI, builds real binaries and needs root; run by ./test.sh"]
fn corpus_markdown_loads_extensions_by_name() {
    let doc = "# Title\n\n[TOC]\n\n## Part\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n```\ncode\n```\n";
    corpus_matches_a_normal_install(
        "markdown_py",
        "markdown.__main__:run",
        &[("doc.md", doc)],
        &[&["-x", "toc", "-x", "tables", "-x", "fenced_code", "doc.md"], &["-x", "nosuchextension", "doc.md"]],
    );
}

#[test]
#[ignore = "installs from PyPI, builds real binaries and needs root; run by ./test.sh"]
fn corpus_tqdm_vulture_radon_autopep8_sqlformat_tabulate() {
    let files: &[(&str, &str)] = &[
        ("bad.py", BAD_PY),
        ("q.sql", "select a,b from t where x=1 and y in (select z from u)\n"),
        ("t.csv", "name,n\nalpha,1\nbeta,22\n"),
    ];
    corpus_matches_a_normal_install("tqdm", "tqdm.cli:main", files, &[&["--version"], &["--help"]]);
    corpus_matches_a_normal_install(
        "vulture",
        "vulture.core:main",
        files,
        &[&["bad.py"], &["--min-confidence", "80", "bad.py"]],
    );
    corpus_matches_a_normal_install(
        "radon",
        "radon:main",
        files,
        &[&["cc", "-s", "bad.py"], &["raw", "bad.py"], &["mi", "bad.py"]],
    );
    corpus_matches_a_normal_install("autopep8", "autopep8:main", files, &[&["bad.py"], &["--diff", "bad.py"]]);
    corpus_matches_a_normal_install("sqlformat", "sqlparse.__main__:main", files, &[&["-r", "-k", "upper", "q.sql"]]);
    corpus_matches_a_normal_install(
        "tabulate",
        "tabulate:_main",
        files,
        &[&["-s", ",", "-f", "grid", "t.csv"], &["-s", ",", "-f", "github", "t.csv"]],
    );
}

#[test]
#[ignore = "installs from PyPI, builds real binaries and needs root; run by ./test.sh"]
fn corpus_jc_imports_its_parsers_by_a_computed_name() {
    corpus_matches_a_normal_install(
        "jc",
        "jc.cli:main",
        &[],
        &[&["--help"], &["-h", "--ls"], &["-h", "--x509-cert"], &["--ls"], &["--nosuchparser"]],
    );
}

const LINT_ME_YAML: &str = "key: value\nlist:\n- a\n-  b\nkey: dup\ntrailing: x   \n";
const CLEAN_YAML: &str = "---\nname: ok\nitems:\n  - 1\n  - 2\n";
const RELAXED_CONF: &str = "extends: relaxed\nrules:\n  line-length: {max: 20}\n";

#[test]
#[ignore = "installs from PyPI, builds real binaries and needs root; run by ./test.sh"]
fn corpus_yamllint_reads_its_preset_configurations_next_to_its_modules() {
    corpus_matches_a_normal_install(
        "yamllint",
        "yamllint.cli:run",
        &[("bad.yaml", LINT_ME_YAML), ("good.yaml", CLEAN_YAML), ("conf.yaml", RELAXED_CONF)],
        &[
            &["bad.yaml"],
            &["-f", "parsable", "bad.yaml", "good.yaml"],
            &["-d", "relaxed", "bad.yaml"],
            &["-c", "conf.yaml", "bad.yaml"],
            &["-d", "{rules: {nosuchrule: enable}}", "good.yaml"],
            &["missing.yaml"],
        ],
    );
}

#[test]
#[ignore = "installs from PyPI, builds real binaries and needs root; run by ./test.sh"]
fn corpus_slugify_reads_text_unidecodes_table() {
    corpus_matches_a_normal_install(
        "slugify",
        "slugify.__main__:main",
        &[],
        &[
            &["Héllo Wörld"],
            &["--separator", "_", "C'est déjà l'été"],
            &["--max-length", "8", "影師嗎 one two three"],
            &["--stopwords", "the", "a", "--", "The quick a fox"],
            &["--help"],
        ],
    );
}

const STATS_CSV: &str = "name,age,joined,score,active\nada,36,2024-03-01,91.50,true\nbob,41,2023-11-17,78.25,false\n\
                         cy,29,2025-01-09,88.00,true\ndee,52,2022-07-30,65.75,false\n";

#[test]
#[ignore = "installs from PyPI, builds real binaries and needs root; run by ./test.sh"]
fn corpus_csvstat_reads_babels_locale_data() {
    corpus_matches_a_normal_install(
        "csvkit",
        "csvkit.utilities.csvstat:launch_new_instance",
        &[("s.csv", STATS_CSV)],
        &[&["s.csv"], &["--json", "-c", "age,score", "s.csv"], &["-L", "de_DE", "s.csv"], &["-c", "nosuch", "s.csv"]],
    );
}

#[test]
#[ignore = "installs from PyPI, builds real binaries and needs root; run by ./test.sh"]
fn corpus_httpie_offline() {
    corpus_matches_a_normal_install(
        "http",
        "httpie.__main__:main",
        &[],
        &[
            &[
                "--ignore-stdin",
                "--offline",
                "--print=HBhb",
                "POST",
                "example.org/api",
                "name=pyelf",
                "n:=3",
                "X-Test:1",
            ],
            &["--ignore-stdin", "--offline", "--pretty=all", "--style=monokai", "PUT", "pie.dev/x", "a=b"],
            &["--version"],
        ],
    );
}

#[test]
#[ignore = "builds real binaries and needs root; run by ./test.sh"]
fn files_a_wheel_installs_under_sys_prefix_are_in_the_tree() {
    // A wheel with a file in its `.data/data` directory, which pip installs under `sys.prefix`
    // (glances 4.5.8 reads its configuration so): the binary's tree has it there too.
    let dir = tmp().join("data-scheme");
    let links = dir.join("links");
    fs::create_dir_all(&links).unwrap();
    let make_wheel = r#"import sys, zipfile
files = {
    "pyelf_data_demo/__init__.py": "import os, sys\n\ndef conf():\n    with open(os.path.join(sys.prefix, 'share', 'pyelf-data-demo', 'demo.conf')) as f:\n        return f.read()\n",
    "pyelf_data_demo-1.0.data/data/share/pyelf-data-demo/demo.conf": "colour = blue\n",
    "pyelf_data_demo-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: pyelf-data-demo\nVersion: 1.0\n",
    "pyelf_data_demo-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: pyelf-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
}
files["pyelf_data_demo-1.0.dist-info/RECORD"] = "".join(f"{name},,\n" for name in files) + "pyelf_data_demo-1.0.dist-info/RECORD,,\n"
with zipfile.ZipFile(sys.argv[1], "w") as z:
    for name, text in files.items():
        z.writestr(name, text)
"#;
    let made = Command::new("python3")
        .arg("-c")
        .arg(make_wheel)
        .arg(links.join("pyelf_data_demo-1.0-py3-none-any.whl"))
        .status()
        .unwrap();
    assert!(made.success());
    fs::write(dir.join("requirements.txt"), "--find-links links\npyelf-data-demo==1.0\n").unwrap();
    let script = dir.join("app.py");
    fs::write(&script, "import pyelf_data_demo\nprint(pyelf_data_demo.conf(), end='')\n").unwrap();
    let req = dir.join("requirements.txt");
    let (bin, _) = pyelf_build(&script, "data-scheme-app", &["-r", req.to_str().unwrap()]);
    let out = Command::new(&bin).output().unwrap();
    assert!(out.status.success(), "{}", all(&out));
    assert_eq!(text(&out), "colour = blue\n");
    let root = root_with("empty", &bin, "data-scheme-app");
    let out = in_root(&root, "/app", "/app", &[], true);
    assert!(out.status.success(), "{}", all(&out));
    assert_eq!(text(&out), "colour = blue\n", "empty root");
}
