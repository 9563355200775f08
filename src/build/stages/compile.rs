//! Cython: the main script's C first (errors that python makes too stop the build, before the
//! analysis; a script only Cython refuses runs as bytecode), then the
//! package's `__main__` and the app's modules (and with `--compile-deps` the dependencies'),
//! each given an init function of its own, and their C compiled to objects; what Cython or the C
//! compiler could not compile is embedded as bytecode instead.

use super::analysis::Analysed;
use super::dependencies::Dependencies;
use super::plan::Plan;
use crate::build::freeze::{self, Origin};
use crate::build::names::{APP_MODULE, SCRIPT_CYTHON_NAME};
use crate::build::{cython, fallbacks, inittab, objects};
use crate::runtime;
use anyhow::Result;
use fs_err as fs;
use std::collections::BTreeSet;
use std::path::PathBuf;

/// The main script's C, made by Cython before anything else.
pub struct ScriptC {
    /// The C of the script (none for a package run as `-m pkg`).
    pub c: Option<PathBuf>,
}

/// The app's modules compiled by Cython, as objects.
pub struct CompiledApp {
    /// The objects of the modules whose C compiled, in the order of `entries`.
    pub objects: Vec<PathBuf>,
    /// Their inittab entries (`pyelf_init_N`).
    pub entries: Vec<inittab::Entry>,
    /// The names of the modules compiled by Cython.
    pub cython_names: BTreeSet<String>,
}

/// Compiles the main script with Cython.
pub fn script(plan: &Plan, resolved: &Dependencies) -> Result<ScriptC> {
    // The main script first: its errors (file:line, as Cython reports them) stop the build.
    let Some(script) = &resolved.main_script else { return Ok(ScriptC { c: None }) };
    if plan.no_cython.iter().any(|p| matches_pattern(p, SCRIPT_CYTHON_NAME)) {
        return Ok(ScriptC { c: None }); // `--no-cython __main__`: bytecode, whatever Cython says
    }
    let c = plan.dir().join("app.c");
    // With Python's semantics: the analysis tells later whether it was written for Cython.
    let Err(e) = cython::compile(&plan.tc, &plan.cython, cython::Semantics::Python, script, SCRIPT_CYTHON_NAME, &c)
    else {
        return Ok(ScriptC { c: Some(c) });
    };
    // Cython refuses some code python runs (a name that only `globals()` assigns; unpacking a
    // literal of the wrong length in a function that never runs). Such a
    // script runs as bytecode; one python rejects too stops the build with Cython's message.
    if !python_compiles(plan, script)? {
        return Err(e);
    }
    let name = script.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    let said = format!("{e:#}");
    let reasons: Vec<&str> = said.lines().filter(|l| l.starts_with(&format!("{name}:"))).map(str::trim).collect();
    crate::report::warn(&format!(
        "{} is embedded as bytecode: Cython could not compile it ({}), though python does",
        script.display(),
        if reasons.is_empty() { "Cython produced no C code".to_string() } else { reasons.join("; ") }
    ));
    Ok(ScriptC { c: None })
}

/// Whether the toolchain's python (the binary's CPython) compiles `script` to bytecode.
fn python_compiles(plan: &Plan, script: &std::path::Path) -> Result<bool> {
    let out = std::process::Command::new(&plan.tc.build_python)
        .args(["-I", "-c", "import sys; compile(open(sys.argv[1], 'rb').read(), sys.argv[1], 'exec')"])
        .arg(script)
        .output()
        .map_err(|e| anyhow::anyhow!("cannot run the toolchain's python3 ({}): {e}", plan.tc.build_python.display()))?;
    Ok(out.status.success())
}

/// Compiles the app's modules with Cython, and all their C (the script's too) to objects.
pub fn modules(plan: &Plan, resolved: &Dependencies, analysed: &Analysed, script: ScriptC) -> Result<CompiledApp> {
    let (tc, cython, dir) = (&plan.tc, &plan.cython, plan.dir());
    let (analysis, roots) = (&analysed.analysis, &resolved.roots);
    let main_module = resolved.main_module();
    // Which modules Cython compiles: those it would behave the same compiled
    // (toolchains/cython-fallbacks.toml), and the user's `--cython`; never `--no-cython`'s.
    let rules = fallbacks::rules();
    // (Not Cython's shadow module, which stands for Cython where it does not compile.)
    let wants_cython = |m: &freeze::Found| {
        cython_can_name(&m.name)
            && (m.kind == Origin::App
                || (m.kind == Origin::Dep && plan.compile_deps && !m.file.starts_with(&roots.shadow)))
    };
    // What concerns the whole app: the packages it bundles (dependencies, not its own modules of
    // the same name), and what its own code (the script's too) does with functions and frames.
    // A dependency's own uses concern that dependency alone.
    let own = analysis.modules.iter().filter(|m| m.kind == Origin::App).map(|m| (m.name.as_str(), m.uses.as_slice()));
    let script_uses = resolved.main_script.as_ref().map(|_| (SCRIPT_CYTHON_NAME, analysis.script_uses.as_slice()));
    let app_wide = rules.app_wide(
        analysis.modules.iter().filter(|m| m.kind == Origin::Dep).map(|m| m.name.as_str()),
        script_uses.into_iter().chain(own),
    );
    let asked = |name: &str| {
        if plan.no_cython.iter().any(|p| matches_pattern(p, name)) {
            fallbacks::Asked::Bytecode
        } else if plan.force_cython.iter().any(|p| matches_pattern(p, name)) {
            fallbacks::Asked::Compile
        } else {
            fallbacks::Asked::Nothing
        }
    };
    let mut fallen: Vec<(String, String)> = Vec::new();
    let mut choose = |name: &str, uses: &[String], whose: fallbacks::Whose| match fallbacks::choose(
        rules,
        uses,
        whose,
        app_wide.as_deref(),
        asked(name),
    ) {
        fallbacks::Choice::Compile => true,
        fallbacks::Choice::Bytecode(Some(reason)) => {
            fallen.push((name.to_string(), reason));
            false
        }
        fallbacks::Choice::Bytecode(None) => false,
    };

    // The script, compiled first for its errors, runs as `__main__`.
    let mut script_c = script.c.filter(|_| choose(SCRIPT_CYTHON_NAME, &analysis.script_uses, fallbacks::Whose::App));
    // A script written for Cython is compiled again, with Cython's semantics (and runs as
    // bytecode if Cython rejects it so, as any other module).
    if let (Some(c), Some(file)) = (&script_c, &resolved.main_script) {
        let semantics = cython::semantics_of(&analysis.script_uses);
        if semantics == cython::Semantics::Cython {
            if let Err(e) = cython::compile(tc, cython, semantics, file, SCRIPT_CYTHON_NAME, c) {
                crate::report::warn(&format!(
                    "{} is embedded as bytecode: Cython could not compile it with Cython's types ({e:#})",
                    file.display()
                ));
                script_c = None;
            }
        }
    }
    let mut c_files: Vec<(String, PathBuf)> = script_c.into_iter().map(|c| (APP_MODULE.to_string(), c)).collect();

    // A package's `__main__` run as `python -m pkg` is compiled on its own under the name
    // `__main__`, as a script is (its classes' `__module__`); its relative imports resolve at run
    // time from its `__package__`.
    if let Some(main) = main_module
        .and_then(|n| analysis.modules.iter().find(|m| m.name == n))
        .filter(|m| wants_cython(m) && choose(&m.name, &m.uses, fallbacks::Whose::of(m.kind)))
    {
        let c = dir.join("main-module.c");
        match cython::compile(tc, cython, main.semantics(), &main.file, SCRIPT_CYTHON_NAME, &c) {
            Ok(()) => c_files.push((main.name.clone(), c)),
            Err(e) => crate::report::warn(&format!(
                "{} is embedded as bytecode: Cython could not compile it ({e:#})",
                main.name
            )),
        }
    }
    // The app's modules (and with --compile-deps the dependencies') in one run of Cython, falling
    // back to bytecode.
    let to_compile: Vec<cython::ModuleSource> = analysis
        .modules
        .iter()
        .filter(|m| !m.namespace && wants_cython(m) && Some(m.name.as_str()) != main_module)
        .filter(|m| choose(&m.name, &m.uses, fallbacks::Whose::of(m.kind)))
        .map(|m| roots.source_of(m))
        .collect();
    for line in fallbacks::notes(&fallen) {
        crate::say!("note: {line}");
    }
    let packages: Vec<cython::ModuleSource> = analysis
        .modules
        .iter()
        .filter(|m| m.package && !m.namespace && m.is_bundled())
        .map(|m| roots.source_of(m))
        .collect();
    let compiled = cython::compile_modules(tc, cython, &to_compile, &packages, &dir.join("cython"))?;
    for (name, reason) in &compiled.failed {
        crate::report::warn(&format!("{name} is embedded as bytecode: Cython could not compile it ({reason})"));
    }
    c_files.extend(compiled.c_files.iter().cloned());
    let tree_file = |name: &str| {
        let rel = if name == APP_MODULE {
            Some(resolved.script_name.clone())
        } else {
            analysis.modules.iter().find(|m| m.name == name).map(|m| roots.tree_path(m))
        };
        rel.map(|r| format!("{}/{r}", runtime::VFS_ROOT))
    };
    let (app_entries, cached_sites) = register_cython(&c_files, &resolved.main_name, tree_file)?;
    // The attribute caches' header, which the rewritten modules include, and the code that fills
    // them.
    let mut c_paths: Vec<PathBuf> = c_files.iter().map(|(_, c)| c.clone()).collect();
    if cached_sites > 0 {
        fs::write(dir.join(runtime::ATTRCACHE_HEADER), runtime::ATTRCACHE_H)?;
        let fill = dir.join("attrcache.c");
        fs::write(&fill, runtime::ATTRCACHE_C)?;
        c_paths.push(fill);
    }
    // Cython's C compiled now, so that a module whose C the compiler rejects is embedded as
    // bytecode instead.
    let mut results = objects::compile_each(tc, dir, &c_paths, &plan.logs, Some(&plan.objects_cache()))?;
    let mut objects = Vec::new();
    if cached_sites > 0 {
        match results.pop().expect("attrcache.c was compiled") {
            Ok(obj) => objects.push(obj),
            Err(rejected) => return Err(rejected.error("the attribute caches of the compiled modules")),
        }
    }
    let mut app_entries_built = Vec::new();
    for ((name, _), (result, entry)) in c_files.iter().zip(results.into_iter().zip(app_entries)) {
        match result {
            Ok(obj) => {
                objects.push(obj);
                app_entries_built.push(entry);
            }
            Err(rejected) => crate::say!(
                "warning: {} is embedded as bytecode: the C compiler rejected Cython's C for it ({}; full log: {})",
                if name == APP_MODULE {
                    resolved.main_script.as_deref().map(|p| p.display().to_string()).unwrap_or_default()
                } else {
                    name.clone()
                },
                rejected.first_error,
                rejected.log.display()
            ),
        }
    }
    let cython_names: BTreeSet<String> = app_entries_built.iter().map(|e| e.name.clone()).collect();
    Ok(CompiledApp { objects, entries: app_entries_built, cython_names })
}

/// Whether Cython can compile a module of this name: each part an identifier. A module whose
/// name starts with a digit (Django's `0001_initial` migrations, imported with importlib) stays
/// bytecode, without a warning for each (Cython refuses such names).
fn cython_can_name(module: &str) -> bool {
    module.split('.').all(crate::build::project::is_identifier)
}

/// Whether `name` matches a `--no-cython` pattern (`*` matches any run of characters).
pub fn matches_pattern(pattern: &str, name: &str) -> bool {
    fn go(p: &[u8], n: &[u8]) -> bool {
        match p.split_first() {
            None => n.is_empty(),
            Some((b'*', rest)) => (0..=n.len()).any(|i| go(rest, &n[i..])),
            Some((c, rest)) => n.first() == Some(c) && go(rest, &n[1..]),
        }
    }
    go(pattern.as_bytes(), name.as_bytes())
}

/// Gives each Cython module's init function a name of its own (`pyelf_init_N`, so that `a.util`
/// and `b.util` can be linked together), its tracebacks python's look (its file in the tree,
/// `tree_file`, and the positions of what failed), its errors of division by zero, of slicing and
/// of a `with` on what is no context manager and of a call with the wrong arguments python's
/// messages, its calls python's recursion limit, and its attribute reads and
/// writes caches (`cython::attribute_caches`), and
/// returns their inittab entries and how many attribute sites got a cache.
fn register_cython(
    c_files: &[(String, PathBuf)],
    main_name: &str,
    tree_file: impl Fn(&str) -> Option<String>,
) -> Result<(Vec<inittab::Entry>, usize)> {
    let mut entries = Vec::new();
    let mut cached_sites = 0;
    for (i, (name, c)) in c_files.iter().enumerate() {
        let mut text = fs::read_to_string(c)?;
        let symbol = format!("pyelf_init_{i}");
        let cython_name = if name == main_name { SCRIPT_CYTHON_NAME } else { name.as_str() };
        if let Some(file) = tree_file(name) {
            text = cython::python_tracebacks(&text, cython_name, &file);
        }
        let text = cython::python_positions(&text);
        let text = cython::python_zero_division(&text);
        let text = cython::python_messages(&text);
        let text = cython::python_with_messages(&text);
        let text = cython::python_generators(&text);
        let text = cython::python_lambda_names(&text);
        let text = cython::python_recursion(&text);
        let text = cython::python_arguments(&text);
        let (text, sites) = cython::attribute_caches(&text);
        cached_sites += sites;
        fs::write(c, cython::rename_init(&text, cython_name, &symbol))?;
        entries.push(inittab::Entry { name: name.clone(), init: Some(symbol) });
    }
    Ok((entries, cached_sites))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_cython_patterns() {
        assert!(matches_pattern("demo.slow_*", "demo.slow_path"));
        assert!(matches_pattern("*", "anything.at.all"));
        assert!(matches_pattern("demo.*.text", "demo.core.text"));
        assert!(!matches_pattern("demo.slow_*", "demo.fast"));
        assert!(!matches_pattern("demo", "demo.cli"));
    }

    #[test]
    fn cython_compiles_only_modules_named_by_identifiers() {
        assert!(cython_can_name("app.migrations.initial"));
        assert!(cython_can_name("_private.x2"));
        assert!(!cython_can_name("app.migrations.0001_initial"));
        assert!(!cython_can_name("7a5e__helper"));
    }
}
