//! The analysis: what the app imports, from its code (and from a traced run when asked for), with
//! what it embeds besides; and its extension modules built from source, made ready to link.

use super::dependencies::Dependencies;
use super::plan::Plan;
use crate::build::{cython, deps, fallbacks, freeze, loadable, native};
use crate::options::Stdlib;
use crate::toolchain::Toolchain;
use anyhow::{bail, Result};
use std::path::{Path, PathBuf};

/// What the app imports, and its extension modules ready to link.
pub struct Analysed {
    pub analysis: freeze::Analysis,
    /// Extension modules built from source: objects of their own, made from the inittab.
    pub extensions: Vec<native::Prepared>,
    /// The shared objects of musllinux wheels, loaded at run time by the binary's loader.
    pub loadable: loadable::Loadable,
}

/// Analyses the app (after a traced run of it, when asked for) and prepares its extension
/// modules.
pub fn analyse(plan: &Plan, resolved: &Dependencies) -> Result<Analysed> {
    let (tc, dir, app) = (&plan.tc, plan.dir(), &plan.app);
    let main_script = resolved.main_script.as_deref();
    let main_module = resolved.main_module();

    // What the app imports: from its code, and from a traced run when asked for.
    let mut paths = vec![app.root.clone()];
    paths.extend(resolved.site.iter().cloned());
    let traced = match &plan.traced_run {
        Some(args) => {
            let out = dir.join("traced.txt");
            // Cython's shadow module last on its path: code written for Cython runs under python
            // with Cython installed (what it imports through it is left out unless needed below).
            let mut trace_paths = paths.clone();
            trace_paths.push(cython::shadow(&plan.cython, &resolved.roots.shadow)?);
            freeze::trace_imports(tc, &out, main_script, main_module, &trace_paths, args)?;
            Some(out)
        }
        None => None,
    };
    let (mut include_modules, include_packages) = includes(plan);
    // What the wheels' shared objects import from C, which no analysis of Python code sees.
    if let Some(site) = &resolved.site {
        include_modules
            .extend(loadable::stdlib_named_in_objects(site, &|| stdlib_modules(tc), &|| tc.builtin_modules())?);
    }
    // The distributions' modules, and the modules their entry points name (plugins, console
    // scripts: imported by name at run time). Each may fail to import here as under python (an
    // entry point naming a module that is not there, as stevedore's own test entry point does):
    // it is left out with a note, where a module the user asked for must be there.
    let mut dist_modules: Vec<String> = resolved.dists.iter().flat_map(deps::modules).collect();
    dist_modules.extend(resolved.dists.iter().flat_map(deps::entry_point_modules));
    let analyse = |paths: &[PathBuf]| {
        freeze::analyse(
            tc,
            dir,
            &freeze::AnalysisInput {
                main_script,
                main_module,
                paths,
                app_root: &app.root,
                dep_roots: &paths[1..],
                include_modules: &include_modules,
                include_packages: &include_packages,
                dist_modules: &dist_modules,
                stdlib: plan.stdlib,
                traced: traced.as_deref(),
            },
        )
    };
    let mut analysis = analyse(&paths)?;
    // A module written for Cython (`import cython`) runs as bytecode where Cython does not compile
    // it: then `import cython` needs Cython's shadow module, as under python (where the user
    // installed Cython), unless the app bundles Cython itself.
    let written_for_cython = cython::semantics_of(&analysis.script_uses) == cython::Semantics::Cython
        || analysis.modules.iter().any(|m| m.kind == freeze::Origin::App && m.semantics() == cython::Semantics::Cython);
    if written_for_cython && !analysis.modules.iter().any(|m| m.name == fallbacks::rules().cython_module) {
        paths.push(cython::shadow(&plan.cython, &resolved.roots.shadow)?);
        analysis = analyse(&paths)?;
    }
    if let Some(warning) =
        missing_warning(&analysis.missing, main_script, plan.requirements.is_some(), plan.site_packages.as_deref())
    {
        crate::report::warn(&warning);
    }
    if plan.stdlib != Stdlib::Full {
        if let Some(note) = runs_given_code_note(&analysis) {
            crate::say!("{note}");
        }
    }
    // Extension modules built from source: objects of their own, made from the inittab.
    let (extensions, shared) =
        prepare_extensions(tc, &analysis, &resolved.dists, resolved.site.as_deref(), &dir.join("extensions"))?;
    let owner = |module: &str| owner_of(module, &resolved.dists);
    let symbols = loadable::BinarySymbols::of(tc);
    let mut loadable = match &resolved.site {
        Some(site) => loadable::collect(tc, &symbols, site, &shared, &owner)?,
        None => loadable::Loadable::default(),
    };
    loadable::add_named(&mut loadable, &symbols, &analysis.ctypes_names)?;
    Ok(Analysed { analysis, extensions, loadable })
}

/// The modules and packages embedded besides what the analysis finds: the user's and what the
/// importer needs to read the data archive.
fn includes(plan: &Plan) -> (Vec<String>, Vec<String>) {
    let mut modules = plan.include_modules.clone();
    // What the importer imports when asked for resources or sources (pathlib, tokenize).
    modules.extend(["pathlib".to_string(), "tokenize".to_string()]);
    let mut packages = plan.app.packages.clone();
    packages.extend(plan.include_packages.iter().cloned());
    (modules, packages)
}

/// A module and its file.
type Module = (String, std::path::PathBuf);

/// The stdlib's modules (dotted names), but those `--stdlib full` leaves out too (test suites,
/// IDLE, tkinter...).
fn stdlib_modules(tc: &Toolchain) -> Result<std::collections::BTreeSet<String>> {
    let root = tc.stdlib();
    let excluded = &crate::toolchain::stdlib::facts().full_excluded;
    let mut out: std::collections::BTreeSet<String> = tc.builtin_modules()?.into_iter().collect();
    for f in crate::fsutil::walk(&root)? {
        let Ok(rel) = f.strip_prefix(&root) else { continue };
        let rel = rel.to_string_lossy();
        let Some(module) = rel.strip_suffix(".py") else { continue };
        let module = module.strip_suffix("/__init__").unwrap_or(module).replace('/', ".");
        if module.contains('-') || module.contains("site-packages") {
            continue;
        }
        let top = module.split('.').next().unwrap_or(&module);
        if excluded.iter().any(|e| e == &module || e == top || module.starts_with(&format!("{e}."))) {
            continue;
        }
        out.insert(module);
    }
    Ok(out)
}

/// The distribution a module comes from ("name version"), or its top-level name.
fn owner_of(module: &str, dists: &[deps::Dist]) -> String {
    let top = module.split('.').next().unwrap_or(module);
    let dist = dists.iter().find(|d| deps::top_level_names(d).iter().any(|t| t == top));
    dist.map(|d| format!("{} {}", d.name, d.version)).unwrap_or_else(|| top.to_string())
}

/// The extension modules outside the stdlib: those pyelf built, made ready to link, and the
/// shared objects of the wheels pip installed (name, file), for the loader. A shared library
/// elsewhere (the app's own) is refused, naming its package.
fn prepare_extensions(
    tc: &Toolchain,
    analysis: &freeze::Analysis,
    dists: &[deps::Dist],
    site: Option<&Path>,
    dir: &Path,
) -> Result<(Vec<native::Prepared>, Vec<Module>)> {
    let mut out = Vec::new();
    let mut shared = Vec::new();
    for ext in &analysis.extensions {
        let in_site = site.is_some_and(|s| ext.file.starts_with(s));
        if in_site && loadable::is_shared_object(&ext.file) {
            shared.push((ext.name.clone(), ext.file.clone()));
            continue;
        }
        let Some(prepared) = native::prepare(tc, &ext.name, &ext.file, dir)? else {
            let owner = owner_of(&ext.name, dists);
            bail!(
                "cannot bundle {owner}: its module {} is a shared library outside the dependencies ({}).\n\
                 pyelf loads the shared objects of the packages it installs (musllinux wheels) and links the extension modules it builds from source; an extension module of the app's own tree is neither.\n\
                 hint: make it a dependency (pyproject.toml dependencies or --requirements), or use a pure-Python build of {owner}",
                ext.name,
                ext.file.display()
            );
        };
        out.push(prepared);
    }
    Ok((out, shared))
}

/// The warning for imports found nowhere: the binary raises ModuleNotFoundError there, as python
/// does where the package is not installed; usually a requirement not given. A requirements.txt
/// beside the script is named when no dependencies were given (`-r` or `--site-packages`); with
/// `--site-packages`, the packages go into that directory.
fn missing_warning(
    missing: &[freeze::Missing],
    script: Option<&Path>,
    has_requirements: bool,
    site_packages: Option<&Path>,
) -> Option<String> {
    if missing.is_empty() {
        return None;
    }
    let list: Vec<String> = missing.iter().map(|m| format!("{} (imported by {})", m.name, m.by.join(", "))).collect();
    let beside = script.and_then(Path::parent).map(|d| d.join("requirements.txt")).filter(|r| r.is_file());
    let hint = match (beside, site_packages) {
        (_, Some(site)) => format!("hint: install the packages that provide them into {} (--site-packages); an import that is optional (in a try/except ImportError) needs nothing", site.display()),
        (Some(r), None) if !has_requirements => format!("hint: {} is not read unless given: add -r {}", r.display(), r.display()),
        _ => "hint: give the packages that provide them with -r requirements.txt or [project] dependencies; an import that is optional (in a try/except ImportError) needs nothing".to_string(),
    };
    let (what, they) = if missing.len() == 1 {
        ("a module the app imports is", "it is")
    } else {
        ("modules the app imports are", "they are")
    };
    Some(format!(
        "{what} found nowhere (not the stdlib, the app, nor a bundled package): {}. The binary raises ModuleNotFoundError where {they} imported, as python does where {they} not installed\n{hint}",
        list.join(", ")
    ))
}

/// A note for an app that runs Python code it is given at run time (pyinstrument runs the script
/// named on its command line with `runpy.run_path`): that code finds only the stdlib modules the
/// analysis embedded for the app.
fn runs_given_code_note(analysis: &freeze::Analysis) -> Option<String> {
    let facts = crate::toolchain::stdlib::facts();
    let names = &facts.runs_given_code;
    let uses = |u: &[String]| u.iter().find(|n| names.contains(n)).cloned();
    let ignored = |module: &str| facts.runs_given_code_ignored.iter().any(|p| module.split('.').next() == Some(p));
    let mut who: Vec<(String, String)> = analysis
        .modules
        .iter()
        .filter(|m| m.kind != freeze::Origin::Stdlib && !ignored(&m.name))
        .filter_map(|m| uses(&m.uses).map(|n| (m.name.clone(), n)))
        .collect();
    if let Some(n) = uses(&analysis.script_uses) {
        who.insert(0, ("__main__".to_string(), n));
    }
    let (module, name) = who.first()?;
    Some(format!(
        "note: {module} runs Python code it is given at run time (it uses `{name}`): that code can import only the stdlib modules embedded for the app itself; `--stdlib full` embeds the whole stdlib"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn analysis(modules: serde_json::Value, script_uses: &[&str]) -> freeze::Analysis {
        serde_json::from_value(serde_json::json!({
            "modules": modules, "extensions": [], "imports": [], "script_uses": script_uses,
        }))
        .unwrap()
    }

    #[test]
    fn imports_found_nowhere_are_named_with_what_to_do() {
        let missing = |name: &str, by: &str| freeze::Missing { name: name.into(), by: vec![by.into()] };
        assert!(missing_warning(&[], None, false, None).is_none());
        let one = missing_warning(&[missing("yaml", "__main__")], None, false, None).unwrap();
        assert_eq!(
            one,
            "a module the app imports is found nowhere (not the stdlib, the app, nor a bundled package): yaml \
             (imported by __main__). The binary raises ModuleNotFoundError where it is imported, as python does where \
             it is not installed\nhint: give the packages that provide them with -r requirements.txt or [project] \
             dependencies; an import that is optional (in a try/except ImportError) needs nothing"
        );
        // A requirements.txt beside the script is named only when it was not given.
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("app.py");
        std::fs::write(dir.path().join("requirements.txt"), "pyyaml\n").unwrap();
        let beside = missing_warning(&[missing("yaml", "__main__")], Some(&script), false, None).unwrap();
        assert!(beside.ends_with(&format!("add -r {}", dir.path().join("requirements.txt").display())), "{beside}");
        let given = missing_warning(&[missing("yaml", "__main__")], Some(&script), true, None).unwrap();
        assert!(given.contains("hint: give the packages"), "{given}");
        // With --site-packages, the packages go into that directory.
        let site = dir.path().join("venv-site");
        let into = missing_warning(&[missing("yaml", "__main__")], Some(&script), false, Some(&site)).unwrap();
        assert!(
            into.contains(&format!("hint: install the packages that provide them into {}", site.display())),
            "{into}"
        );
    }

    #[test]
    fn an_app_that_runs_code_it_is_given_is_told_of_the_whole_stdlib() {
        let runpy = serde_json::json!({"name": "runpy", "file": "/s/runpy.py", "kind": "stdlib", "package": false, "uses": ["run_path"]});
        let tool = serde_json::json!({"name": "tool.__main__", "file": "/d/tool/__main__.py", "kind": "dep", "package": false, "uses": ["run_path", "logging"]});
        let note = runs_given_code_note(&analysis(serde_json::json!([runpy.clone(), tool]), &[])).unwrap();
        assert!(
            note.starts_with("note: tool.__main__ runs Python code it is given at run time (it uses `run_path`)"),
            "{note}"
        );
        assert!(note.ends_with("`--stdlib full` embeds the whole stdlib"), "{note}");
        assert!(
            runs_given_code_note(&analysis(serde_json::json!([runpy.clone()]), &[])).is_none(),
            "runpy's own use is no app's"
        );
        let note = runs_given_code_note(&analysis(serde_json::json!([runpy]), &["run_path"])).unwrap();
        assert!(note.starts_with("note: __main__ runs"), "{note}");
        // sqlfluff's Jinja templater imports the macro modules of a directory named in the user's
        // configuration: found by pkgutil, made by importlib.util.module_from_spec, then run.
        let jinja = serde_json::json!({"name": "sqlfluff.core.templaters.jinja", "file": "/d/jinja.py", "kind": "dep", "package": false, "uses": ["module_from_spec"]});
        let note = runs_given_code_note(&analysis(serde_json::json!([jinja]), &[])).unwrap();
        assert!(note.contains("(it uses `module_from_spec`)"), "{note}");
        // setuptools, bundled for pkg_resources, loads the modules of a project it builds: not the
        // app's doing.
        let setuptools = serde_json::json!({"name": "setuptools._imp", "file": "/d/setuptools/_imp.py", "kind": "dep", "package": false, "uses": ["module_from_spec"]});
        assert!(runs_given_code_note(&analysis(serde_json::json!([setuptools]), &[])).is_none());
    }
}
