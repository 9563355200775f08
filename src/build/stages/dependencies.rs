//! The app's dependencies: wheels from pip (those with extension modules built from source here),
//! or an existing site-packages; where the app's modules and its dependencies are found; and its
//! main module (a script, or a package run as `-m pkg`).

use super::plan::Plan;
use crate::build::cython;
use crate::build::deps;
use crate::build::freeze::{self, Origin};
use crate::build::names::APP_MODULE;
use crate::build::project::{self, App, Main};
use crate::runtime;
use anyhow::{Context, Result};
use fs_err as fs;
use std::path::{Path, PathBuf};

/// The app's dependencies and main module.
pub struct Dependencies {
    /// The site-packages directory of the dependencies, if there are any.
    pub site: Option<PathBuf>,
    /// The bundled distributions.
    pub dists: Vec<deps::Dist>,
    pub roots: Roots,
    /// The main module's name ([`APP_MODULE`] for a script).
    pub main_name: String,
    /// The script compiled as `__main__` (none for a package run as `-m pkg`).
    pub main_script: Option<PathBuf>,
    /// The script's file in the binary's tree (`<app>.py`).
    pub script_name: String,
}

impl Dependencies {
    /// The module run as `__main__` when there is no script (a package run as `-m pkg`).
    pub fn main_module(&self) -> Option<&str> {
        self.main_script.is_none().then_some(self.main_name.as_str())
    }
}

/// Installs (or finds) the app's dependencies and settles its main module.
pub fn resolve(plan: &Plan) -> Result<Dependencies> {
    let dir = plan.dir();
    // Dependencies: wheels from pip (those with extension modules built from source here), or an
    // existing site-packages.
    let native = plan.native();
    let (site, dists) = dependencies(plan, dir, &native)?;
    let roots = Roots {
        app: plan.app.root.clone(),
        site: site.clone(),
        shadow: dir.join("cython-shadow"),
        stdlib: plan.tc.root.join(runtime::STDLIB_TREE),
    };
    let (main_name, main_script) = main_module(&plan.app, &dir.join("entry"))?;
    let script_name = format!("{}.py", plan.app.name);
    Ok(Dependencies { site, dists, roots, main_name, main_script, script_name })
}

/// The dependencies of the app: installed with pip from the project's dependencies and
/// `--requirements` into `dir/site` (wheels built from source dated `epoch`), or taken from
/// `--site-packages`.
fn dependencies(plan: &Plan, dir: &Path, native: &deps::Native) -> Result<(Option<PathBuf>, Vec<deps::Dist>)> {
    if let Some(site) = &plan.site_packages {
        let site =
            fs::canonicalize(site).with_context(|| format!("--site-packages {}: no such directory", site.display()))?;
        return Ok((Some(site.clone()), deps::distributions(&site)?));
    }
    let mut lines: Vec<String> = plan.app.project.iter().flat_map(|p| p.dependencies.iter().cloned()).collect();
    if let Some(r) = &plan.requirements {
        let r = fs::canonicalize(r).with_context(|| format!("--requirements {}: no such file", r.display()))?;
        lines.push(format!("-r {}", r.display()));
    }
    if lines.is_empty() {
        return Ok((None, Vec::new()));
    }
    let req = dir.join("requirements.txt");
    fs::write(&req, lines.join("\n") + "\n")?;
    let site = dir.join("site");
    let b = &native.builder;
    let dists = deps::install(&req, &dir.join("wheels"), &site, b.source_date_epoch, &b.logs, native)?;
    Ok((Some(site), dists))
}

/// Where the app's own modules and its dependencies were found.
pub struct Roots {
    pub app: PathBuf,
    pub site: Option<PathBuf>,
    /// Where Cython's shadow module is written when the app needs it (`cython::shadow`): bundled
    /// as a dependency's.
    pub shadow: PathBuf,
    /// The toolchain's stdlib directory.
    pub stdlib: PathBuf,
}

impl Roots {
    /// A module as Cython and the importer see it: its name, its root and its path under it.
    pub fn source_of(&self, m: &freeze::Found) -> cython::ModuleSource {
        let root = match m.kind {
            Origin::App => self.app.clone(),
            Origin::Stdlib => self.stdlib.clone(),
            Origin::Dep if m.file.starts_with(&self.shadow) => self.shadow.clone(),
            Origin::Dep => self.site.clone().unwrap_or_default(),
        };
        let rel = m.file.strip_prefix(&root).map(Path::to_path_buf).unwrap_or_else(|_| m.file.clone());
        cython::ModuleSource { name: m.name.clone(), root, rel, semantics: m.semantics() }
    }

    /// Where a module's file is in the binary's tree, relative to its root: the stdlib's under
    /// [`runtime::STDLIB_TREE`] (as under a prefix), the others as they are on `sys.path`.
    pub fn tree_path(&self, m: &freeze::Found) -> String {
        let rel = self.source_of(m).rel.display().to_string();
        if m.kind == Origin::Stdlib {
            format!("{}/{rel}", runtime::STDLIB_TREE)
        } else {
            rel
        }
    }
}

/// The main module's name, and the script that is compiled as `__main__` (none for a package run
/// as `-m pkg`). An entry point `module:attr` gets a small script written into `entry_dir`.
fn main_module(app: &App, entry_dir: &Path) -> Result<(String, Option<PathBuf>)> {
    Ok(match &app.main {
        Main::Script(path) => (APP_MODULE.to_string(), Some(path.clone())),
        Main::Module(m) => (m.clone(), None),
        Main::Entry { module, attr } => {
            fs::create_dir_all(entry_dir)?;
            let path = entry_dir.join(format!("{APP_MODULE}.py"));
            fs::write(&path, project::entry_main_source(module, attr))?;
            (APP_MODULE.to_string(), Some(path))
        }
    })
}
