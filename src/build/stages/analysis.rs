//! The analysis: what the app imports, from its code (and from a traced run when asked for), with
//! what it embeds besides; and its extension modules built from source, made ready to link.

use super::dependencies::Dependencies;
use super::plan::Plan;
use crate::build::{deps, freeze, native};
use crate::toolchain::Toolchain;
use anyhow::{bail, Result};
use std::path::Path;

/// What the app imports, and its extension modules ready to link.
pub struct Analysed {
    pub analysis: freeze::Analysis,
    /// Extension modules built from source: objects of their own, made from the inittab.
    pub extensions: Vec<native::Prepared>,
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
            freeze::trace_imports(tc, &out, main_script, main_module, &paths, args)?;
            Some(out)
        }
        None => None,
    };
    let (include_modules, include_packages) = includes(plan, &resolved.dists);
    let dist_modules: Vec<String> = resolved.dists.iter().flat_map(deps::modules).collect();
    let analysis = freeze::analyse(
        tc,
        dir,
        &freeze::AnalysisInput {
            main_script,
            main_module,
            paths: &paths,
            app_root: &app.root,
            dep_roots: &paths[1..],
            include_modules: &include_modules,
            include_packages: &include_packages,
            dist_modules: &dist_modules,
            stdlib: plan.stdlib,
            traced: traced.as_deref(),
        },
    )?;
    // Extension modules built from source: objects of their own, made from the inittab.
    let extensions = prepare_extensions(tc, &analysis, &resolved.dists, &dir.join("extensions"))?;
    Ok(Analysed { analysis, extensions })
}

/// The modules and packages embedded besides what the analysis finds: the user's, the plugins
/// named in the dependencies' entry points, and what the importer needs to read the data archive.
fn includes(plan: &Plan, dists: &[deps::Dist]) -> (Vec<String>, Vec<String>) {
    let mut modules = plan.include_modules.clone();
    // What the importer imports when asked for resources or sources (pathlib, tokenize).
    modules.extend(["pathlib".to_string(), "tokenize".to_string()]);
    for d in dists {
        modules.extend(deps::entry_point_modules(d));
    }
    let mut packages = plan.app.packages.clone();
    packages.extend(plan.include_packages.iter().cloned());
    (modules, packages)
}

/// The extension modules outside the stdlib, made ready to link; a shared library that pyelf did
/// not build (from `--site-packages`, or the app's own) is refused, naming its package.
fn prepare_extensions(
    tc: &Toolchain,
    analysis: &freeze::Analysis,
    dists: &[deps::Dist],
    dir: &Path,
) -> Result<Vec<native::Prepared>> {
    let mut out = Vec::new();
    for ext in &analysis.extensions {
        let Some(prepared) = native::prepare(tc, &ext.name, &ext.file, dir)? else {
            let top = ext.name.split('.').next().unwrap_or(&ext.name);
            let dist = dists.iter().find(|d| deps::top_level_names(d).iter().any(|t| t == top));
            let owner = dist.map(|d| format!("{} {}", d.name, d.version)).unwrap_or_else(|| top.to_string());
            bail!(
                "cannot bundle {owner}: its module {} is a shared library built elsewhere ({}).\n\
                 A pyelf binary is fully static: it cannot load shared libraries (no dlopen). pyelf builds a package's extension modules from its source distribution when it installs the dependencies itself.\n\
                 hint: give the dependency as a requirement (pyproject.toml dependencies or --requirements) rather than in --site-packages, or use a pure-Python build of {owner}",
                ext.name,
                ext.file.display()
            );
        };
        out.push(prepared);
    }
    Ok(out)
}
