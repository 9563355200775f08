//! End-to-end: the app compiled by Cython behaves as the interpreted app. A module that would
//! behave differently compiled (toolchains/cython-fallbacks.toml) runs as bytecode, with a note
//! naming it and the reason; `--cython` and `--no-cython` decide last. Run by `./test.sh`.

mod common;

use common::roots::*;
use std::path::PathBuf;
use std::process::{Command, Output};

fn app(name: &str) -> PathBuf {
    repo().join("tests/e2e/cython").join(name).join("app.py")
}

/// Builds `tests/e2e/cython/NAME/app.py` into the shared temp dir as `out`; returns the binary and
/// what pyelf said.
fn build(name: &str, out: &str, extra: &[&str]) -> (PathBuf, String) {
    let bin = tmp().join(out);
    let o = Command::new(env!("CARGO_BIN_EXE_pyelf"))
        .arg("build")
        .arg(app(name))
        .arg("-o")
        .arg(&bin)
        .args(extra)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(o.status.success(), "build of {name} failed:\n{said}");
    (bin, said)
}

fn notes(said: &str) -> Vec<&str> {
    said.lines().filter(|l| l.starts_with("note: embedded as bytecode")).collect()
}

/// N of the build summary's "N modules compiled by Cython" (or "1 module …").
fn compiled_count(said: &str) -> &str {
    let summary = said.lines().find(|l| l.starts_with("built ")).unwrap();
    summary.split(" compiled by Cython").next().and_then(|s| s.rsplit(' ').nth(1)).unwrap()
}

/// `python3 app.py` under the toolchain's CPython 3.13, from a clean environment.
fn reference(name: &str) -> Output {
    Command::new(toolchain_python()).args(["-s", "-E"]).arg(app(name)).env_clear().output().unwrap()
}

#[test]
#[ignore = "builds real binaries and needs root; run by ./test.sh"]
fn functions_given_to_zope_cloudpickle_joblib_and_inspect_are_functions() {
    let req = app("functions").with_file_name("requirements.txt");
    let python = reference_venv("cython-functions", &req);
    let want = Command::new(&python).arg(app("functions")).output().unwrap();
    assert_eq!(want.status.code(), Some(5), "{}", all(&want));
    for line in [
        "zope: True hello zope ['greet']",
        "cloudpickle: module's closure 15 by value",
        "joblib: [0, 1, 4, 9, 16, 25]",
        "joblib workers are other processes: True",
    ] {
        assert!(text(&want).contains(line), "{line}\n{}", all(&want));
    }
    let (bin, said) = build("functions", "cython-functions", &["-r", req.to_str().unwrap()]);
    assert_eq!(
        notes(&said),
        ["note: embedded as bytecode, not compiled by Cython: __main__, shapes: the app bundles cloudpickle, which \
          pickles functions by value, from their bytecode (`--cython __main__` compiles one anyway)"],
        "{said}"
    );
    assert_eq!(compiled_count(&said), "0", "{said}");
    let quiet = |o: &Output, how: &str| {
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!err.contains("Traceback") && !err.contains("Warning"), "{how}: {err}");
    };
    quiet(&want, "python");
    let host = Command::new(&bin).output().unwrap();
    same(&host, &want, "on the host");
    quiet(&host, "on the host");
    // joblib's loky starts its workers as `sys.executable -m joblib.externals.loky.backend.…`
    // (toolchains/workers.toml), and its semaphores live in /dev/shm.
    for kind in ["alpine", "empty"] {
        let root = root_with(kind, &bin, "cython-functions");
        for proc in [false, true] {
            let got = in_root_mounted(&root, "/app", proc, true);
            same(&got, &want, &format!("{kind}, /proc {proc}"));
            quiet(&got, &format!("{kind}, /proc {proc}"));
        }
    }
}

#[test]
#[ignore = "builds real binaries and needs root; run by ./test.sh"]
fn modules_that_log_or_warn_run_as_bytecode_and_the_others_are_compiled() {
    let want = reference("names");
    assert!(want.status.success(), "{}", all(&want));
    assert!(text(&want).contains("WARNING app.main:15 starting"), "{}", all(&want));
    assert!(text(&want).contains("DeprecationWarning: old() is deprecated at warns.py:18"), "{}", all(&want));
    let (bin, said) = build("names", "cython-names", &[]);
    assert_eq!(
        notes(&said),
        [
            "note: embedded as bytecode, not compiled by Cython: __main__: its code uses `logging`: it logs, and a log \
             record takes its function, file and line from the caller's frame (`--cython __main__` compiles it anyway)",
            "note: embedded as bytecode, not compiled by Cython: warns: its code uses `warn`: it warns, and a warning \
             takes its file and line from the caller's frame (`--cython warns` compiles it anyway)",
        ],
        "{said}"
    );
    assert_eq!(compiled_count(&said), "1", "plain is compiled:\n{said}");
    same(&Command::new(&bin).output().unwrap(), &want, "on the host");
    let root = root_with("empty", &bin, "cython-names");
    same(&in_root(&root, "/app", "/app", &[], true), &want, "empty root");

    // --cython compiles a module anyway: its warning then names another line than python's.
    let (forced, said) = build("names", "cython-names-forced", &["--cython", "warns"]);
    assert_eq!(notes(&said).len(), 1, "{said}");
    assert_eq!(compiled_count(&said), "2", "{said}");
    let got = Command::new(&forced).output().unwrap();
    assert!(got.status.success(), "{}", all(&got));
    assert!(!text(&got).contains("at warns.py:18"), "compiled, the warning has no frame of its own:\n{}", all(&got));
    // --no-cython comes before everything.
    let (_, said) = build("names", "cython-names-none", &["--no-cython", "plain", "--cython", "plain"]);
    assert_eq!(compiled_count(&said), "0", "{said}");
}

#[test]
#[ignore = "builds real binaries and needs root; run by ./test.sh"]
fn a_module_that_looks_at_any_modules_functions_sends_the_app_to_bytecode() {
    let want = reference("inspects");
    assert!(want.status.success(), "{}", all(&want));
    assert!(text(&want).contains("greet: @handler (line 5) -> hello you"), "{}", all(&want));
    let (bin, said) = build("inspects", "cython-inspects", &[]);
    assert_eq!(
        notes(&said),
        ["note: embedded as bytecode, not compiled by Cython: __main__, frames, handlers, registry: frames uses \
          `_getframe`: it reads the frames of the call stack, its callers' too, which compiled functions do not have \
          (`--cython __main__` compiles one anyway)"],
        "{said}"
    );
    assert_eq!(compiled_count(&said), "0", "{said}");
    same(&Command::new(&bin).output().unwrap(), &want, "on the host");
    let root = root_with("alpine", &bin, "cython-inspects");
    same(&in_root(&root, "/app", "/app", &[], true), &want, "alpine root");
}

#[test]
#[ignore = "builds real binaries and needs root; run by ./test.sh"]
fn modules_written_for_cython_are_compiled_with_their_pxd_or_run_on_its_shadow_module() {
    let python = reference_venv("cython-typed", &app("typed").with_file_name("reference-requirements.txt"));
    let want = Command::new(&python).arg(app("typed")).output().unwrap();
    assert!(want.status.success(), "{}", all(&want));
    assert!(text(&want).contains("collatz: (26623, 307)"), "{}", all(&want));
    let stderr = |o: &Output| String::from_utf8_lossy(&o.stderr).to_string();
    let any =
        "rows (annotations): takes any int\nchain (.pxd): takes any int\ntwice (the script's annotations): takes \
               any int\nhalve (the script's .pxd): takes any int\n";
    assert_eq!(stderr(&want), format!("compiled: False False\n{any}"));

    // Compiled: `import cython` means Cython's types (the annotations' too, the script's
    // included), and augmented.pxd types augmented.py.
    let (bin, said) = build("typed", "cython-typed", &[]);
    assert!(notes(&said).is_empty(), "{said}");
    assert_eq!(compiled_count(&said), "3", "{said}");
    let root = root_with("alpine", &bin, "cython-typed");
    for (how, got) in
        [("host", Command::new(&bin).output().unwrap()), ("alpine", in_root(&root, "/app", "/app", &[], true))]
    {
        assert!(got.status.success(), "{how}: {}", all(&got));
        assert_eq!(text(&got), text(&want), "{how}");
        assert_eq!(stderr(&got), format!("compiled: True True\n{}", any.replace("any int", "a C integer")), "{how}");
    }

    // As bytecode, `import cython` finds Cython's shadow module, as under python.
    let (bin, said) = build("typed", "cython-typed-bytecode", &["--no-cython", "*"]);
    assert_eq!(compiled_count(&said), "0", "{said}");
    let root = root_with("empty", &bin, "cython-typed-bytecode");
    same(&in_root(&root, "/app", "/app", &[], true), &want, "empty root");
    assert_eq!(stderr(&in_root(&root, "/app", "/app", &[], true)), stderr(&want), "empty root");
}

#[test]
#[ignore = "builds real binaries and needs root; run by ./test.sh"]
fn compiled_attribute_sites_answer_as_python_when_classes_dicts_and_slots_change() {
    // Each `obj.x` read and write of the compiled app has a cache of the interpreter's kind
    // (runtime/attrcache.h); the app changes what those sites saw after they cached it.
    let want = reference("attributes");
    assert!(want.status.success(), "{}", all(&want));
    assert!(text(&want).contains("property property\nproperty set ignored\n"), "{}", all(&want));
    let (bin, said) = build("attributes", "cython-attributes", &[]);
    assert!(notes(&said).is_empty(), "{said}");
    assert_eq!(compiled_count(&said), "1", "{said}");
    same(&Command::new(&bin).output().unwrap(), &want, "on the host");
    let root = root_with("empty", &bin, "cython-attributes");
    same(&in_root(&root, "/app", "/app", &[], true), &want, "empty root");
}

#[test]
#[ignore = "builds real binaries and needs root; run by ./test.sh"]
fn a_script_cython_refuses_and_python_runs_is_embedded_as_bytecode() {
    let want = reference("refused");
    assert_eq!(want.status.code(), Some(3), "{}", all(&want));
    let (bin, said) = build("refused", "cython-refused", &[]);
    assert!(
        said.contains("is embedded as bytecode: Cython could not compile it (app.py:")
            && said.contains("undeclared name not builtin: GREETING")
            && said.contains("), though python does"),
        "{said}"
    );
    assert_eq!(compiled_count(&said), "0", "{said}");
    same(&Command::new(&bin).output().unwrap(), &want, "on the host");

    // A script python rejects too stops the build, with Cython's message.
    let broken = tmp().join("cython-broken");
    std::fs::create_dir_all(&broken).unwrap();
    std::fs::write(broken.join("app.py"), "print('a')\ndef f(:\n    pass\n").unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_pyelf"))
        .arg("build")
        .arg(broken.join("app.py"))
        .arg("-o")
        .arg(broken.join("app"))
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{said}");
    assert!(said.contains("Cython could not compile") && said.contains("app.py:2:"), "{said}");
    assert!(!broken.join("app").exists());
}

#[test]
#[ignore = "builds real binaries and needs root; run by ./test.sh"]
fn comparisons_of_numbers_with_one_character_strings_are_pythons() {
    // Cython compared a C integer with a one-character str literal as the character's code:
    // `len(s) == "a"` was True for 97 characters, `1 < "a"` True where python raises TypeError.
    let want = reference("comparisons");
    assert!(want.status.success(), "{}", all(&want));
    assert!(text(&want).starts_with("False\n(False, True)\n"), "{}", all(&want));
    let (bin, said) = build("comparisons", "cython-comparisons", &[]);
    assert_eq!(compiled_count(&said), "1", "{said}");
    same(&Command::new(&bin).output().unwrap(), &want, "on the host");
}

#[test]
#[ignore = "builds real binaries and needs root; run by ./test.sh"]
fn compiled_code_has_pythons_semantics_where_cython_had_its_own() {
    // Each a wrong result or a crash before: a comprehension in a class body saw the class's
    // names, locals() held the names declared global, `x in [a, b]` skipped identity and a set's
    // hashing, a return from an except clause after a bare raise in it crashed (SIGSEGV), bytes
    // iterated as bytes, `x = 0; x = 1.5` printed 0.0, annotations were strings, namedtuple's
    // classes were the importer's.
    let want = reference("semantics");
    assert!(want.status.success(), "{}", all(&want));
    for line in ["[200] [0, 1, 2, 3, 4] [[100]", "{'a': 5}\n[]\n", "True True True\nTrue False\n"] {
        assert!(text(&want).contains(line), "{line}\n{}", all(&want));
    }
    let (bin, said) = build("semantics", "cython-semantics", &[]);
    assert!(notes(&said).is_empty(), "{said}");
    assert_eq!(compiled_count(&said), "1", "{said}");
    let got = Command::new(&bin).output().unwrap();
    same(&got, &want, "on the host");
    // Nothing on stderr either (an async generator never started warned).
    assert_eq!(String::from_utf8_lossy(&got.stderr), String::from_utf8_lossy(&want.stderr));
    // Annotations under `from __future__ import annotations` stay strings, as in python.
    let want = reference("future_annotations");
    assert!(text(&want).starts_with("{'x': 'int', 'y': \"'str'\", 'args': 'float',"), "{}", all(&want));
    let (bin, said) = build("future_annotations", "cython-future-annotations", &[]);
    assert_eq!(compiled_count(&said), "1", "{said}");
    same(&Command::new(&bin).output().unwrap(), &want, "future annotations, on the host");
}

#[test]
#[ignore = "builds real binaries and needs root; run by ./test.sh"]
fn the_warnings_of_compiling_the_script_are_printed_as_python_prints_them() {
    // python compiles a script at each run and prints its SyntaxWarnings (an invalid escape
    // sequence, `is` with a literal) on stderr before running it; the build's compilation gives
    // them to the binary, compiled or as bytecode.
    let want = reference("compile_warnings");
    assert!(want.status.success(), "{}", all(&want));
    let file = app("compile_warnings").display().to_string();
    let stderr = String::from_utf8_lossy(&want.stderr).replace(&file, "/__pyelf__/app.py");
    assert!(stderr.starts_with("/__pyelf__/app.py:3: SyntaxWarning: invalid escape sequence '\\d'\n"), "{stderr}");
    assert_eq!(stderr.matches("SyntaxWarning").count(), 3, "{stderr}");
    for (out, extra) in
        [("cython-compile-warnings", &[][..]), ("cython-compile-warnings-bytecode", &["--no-cython", "__main__"][..])]
    {
        let (bin, _) = build("compile_warnings", out, extra);
        let got = Command::new(&bin).output().unwrap();
        same(&got, &want, out);
        assert_eq!(String::from_utf8_lossy(&got.stderr), stderr, "{out}");
    }
}

#[test]
#[ignore = "builds real binaries and needs root; run by ./test.sh"]
fn calls_with_the_wrong_arguments_fail_with_pythons_messages() {
    // 59 calls: too few, too many, keyword-only, unexpected and repeated keywords, positional-only
    // parameters given as keywords, a misspelt keyword python suggests the right one for,
    // functions of no arguments, `*rest`, `**kw`, a generator, methods, a nested function
    // (qualified names), private names python mangles, a function of `**kw` alone and names beyond
    // ASCII; no traceback entry for the callee.
    let want = reference("arguments");
    assert!(want.status.success(), "{}", all(&want));
    for line in [
        "two(1) -> two() missing 1 required positional argument: 'b'\n",
        "three() -> three() missing 3 required positional arguments: 'a', 'b', and 'c'\n",
        "dflt(1) -> dflt() missing 2 required keyword-only arguments: 'c' and 'e'\n",
        "K().m(1, 2) -> K.m() takes 2 positional arguments but 3 were given\n",
        "none(x=1) -> none() got an unexpected keyword argument 'x'\n",
        "po(a=1, b=2) -> po() got some positional-only arguments passed as keyword arguments: 'a, b'\n",
        "dflt(1, 2, 3, c=1) -> dflt() takes from 1 to 2 positional arguments but 3 positional arguments (and 1 \
         keyword-only argument) were given\n",
        "value('n', vaule=1) -> value() got an unexpected keyword argument 'vaule'. Did you mean 'value'?\n",
        "po_kw() -> po_kw() missing 1 required positional argument: 'a'\n",
        "_Private().m() -> _Private.m() missing 1 required positional argument: '_Private__x'\n",
    ] {
        assert!(text(&want).contains(line), "{line}{}", all(&want));
    }
    let (bin, said) = build("arguments", "cython-arguments", &[]);
    assert_eq!(compiled_count(&said), "1", "{said}");
    same(&Command::new(&bin).output().unwrap(), &want, "on the host");
}

#[test]
#[ignore = "builds real binaries and needs root; run by ./test.sh"]
fn a_recursion_that_never_ends_stops_at_pythons_limit() {
    // Compiled calls count against the recursion limit as python's frames do (they ran until the
    // C stack overflowed: SIGSEGV), and the launcher's own frames do not.
    let want = reference("recursion");
    assert!(want.status.success(), "{}", all(&want));
    assert!(text(&want).contains("function RecursionError: maximum recursion depth exceeded 997\n"), "{}", all(&want));
    assert!(text(&want).contains("[Previous line repeated 996 more times]"), "{}", all(&want));
    let (bin, said) = build("recursion", "cython-recursion", &[]);
    assert_eq!(compiled_count(&said), "1", "{said}");
    same(&Command::new(&bin).output().unwrap(), &want, "compiled, on the host");
    let (bin, said) = build("recursion", "cython-recursion-bytecode", &["--no-cython", "__main__"]);
    assert_eq!(compiled_count(&said), "0", "{said}");
    same(&Command::new(&bin).output().unwrap(), &want, "as bytecode, on the host");
}

#[test]
#[ignore = "builds real binaries and needs root; run by ./test.sh"]
fn compiled_frames_show_pythons_positions_in_tracebacks() {
    // 40 tracebacks, each frame at the position CPython gives what failed (a binary operation, a
    // call, an attribute, a subscript, a name, an unpacking, an assert, an expression over several
    // lines, a method call on a line of its own, a method that is not there, a `with` on what is
    // no context manager), drawn with python's ~~~^^^ markers, with python's messages, and
    // lambdas and generator expressions named as python names them.
    let want = reference("positions");
    assert!(want.status.success(), "{}", all(&want));
    assert_eq!(text(&want).matches("Traceback (most recent call last):").count(), 40, "{}", all(&want));
    assert!(text(&want).contains("    .method(1))\n     ~~~~~~^^^\n"), "{}", all(&want));
    assert!(text(&want).contains("    return value.strip()\n           ^^^^^^^^^^^\n"), "{}", all(&want));
    let (bin, said) = build("positions", "cython-positions", &[]);
    assert!(notes(&said).is_empty(), "{said}");
    assert_eq!(compiled_count(&said), "1", "{said}");
    same(&Command::new(&bin).output().unwrap(), &want, "on the host");
}

#[test]
#[ignore = "builds real binaries and needs root; run by ./test.sh"]
fn compiled_exceptions_show_pythons_tracebacks_and_messages() {
    // Re-raised exceptions (a bare `raise`, a `with` block, a helper's `raise`, through `finally`)
    // add no second traceback entry for the function, and division by zero in Cython's C
    // arithmetic says what CPython 3.13 says.
    let want = reference("exceptions");
    assert!(want.status.success(), "{}", all(&want));
    assert!(text(&want).contains("x // z -> float floor division by zero\n"), "{}", all(&want));
    let (bin, said) = build("exceptions", "cython-exceptions", &[]);
    assert!(notes(&said).is_empty(), "{said}");
    assert_eq!(compiled_count(&said), "1", "{said}");
    same(&Command::new(&bin).output().unwrap(), &want, "on the host");
}
