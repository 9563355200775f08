//! What is being built: a script, a package directory with `__main__.py` (`python -m pkg`), or a
//! project directory whose `pyproject.toml` names entry points in `[project.scripts]`; and the
//! project's `[tool.pyelf]` settings.

use anyhow::{bail, Context, Result};
use fs_err as fs;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// How the binary starts the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Main {
    /// A script, run as `__main__` (as `python app.py`).
    Script(PathBuf),
    /// A module run as `__main__` with its package (as `python -m pkg`): `pkg.__main__`.
    Module(String),
    /// An entry point `module:attr` (as a console script: `sys.exit(attr())`).
    Entry { module: String, attr: String },
}

/// The app to build.
#[derive(Debug, Clone)]
pub struct App {
    /// The binary's default name.
    pub name: String,
    /// The directory the app's modules are imported from (a script's directory, a package's
    /// parent, a project's `src/` or the project itself).
    pub root: PathBuf,
    pub main: Main,
    /// The app's own top-level packages: every module in them is part of the app.
    pub packages: Vec<String>,
    /// The project, for a project directory.
    pub project: Option<Project>,
}

/// What `pyproject.toml` says.
#[derive(Debug, Clone, Default)]
pub struct Project {
    pub dir: PathBuf,
    pub name: String,
    pub version: String,
    pub dependencies: Vec<String>,
    /// `[project.scripts]`: name -> `module:attr`.
    pub scripts: BTreeMap<String, String>,
    /// `[tool.pyelf]`: build options as settings of the project.
    pub tool: crate::options::BuildOptions,
}

#[derive(Deserialize)]
struct PyProject {
    project: Option<RawProject>,
    tool: Option<RawTool>,
}

#[derive(Deserialize)]
struct RawProject {
    name: Option<String>,
    version: Option<String>,
    #[serde(default)]
    dependencies: Vec<String>,
    #[serde(default)]
    scripts: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct RawTool {
    pyelf: Option<toml::Value>,
}

/// Parses a `pyproject.toml` text of the project in `dir`.
pub fn parse_pyproject(dir: &Path, text: &str) -> Result<Project> {
    let file = dir.join("pyproject.toml");
    let raw: PyProject = toml::from_str(text).with_context(|| format!("{} is not valid TOML", file.display()))?;
    let Some(p) = raw.project else {
        bail!("{} has no [project] table\nhint: pyelf reads the name, version, dependencies and [project.scripts] from it", file.display());
    };
    let tool = match raw.tool.and_then(|t| t.pyelf) {
        Some(v) => crate::options::BuildOptions::from_tool_config(v, &file)?,
        None => Default::default(),
    };
    Ok(Project {
        dir: dir.to_path_buf(),
        name: p.name.with_context(|| format!("{}: [project] has no name", file.display()))?,
        version: p.version.unwrap_or_else(|| "0".into()),
        dependencies: p.dependencies,
        scripts: p.scripts,
        tool,
    })
}

/// Resolves the path given to `build`. `entry` picks one of a project's scripts.
pub fn resolve(path: &Path, entry: Option<&str>) -> Result<App> {
    if path.is_file() {
        let script = fs::canonicalize(path)?;
        let name =
            script.file_stem().and_then(|s| s.to_str()).context("the script has no usable file name")?.to_string();
        let root = script.parent().context("the script has no directory")?.to_path_buf();
        return Ok(App { name, root, main: Main::Script(script), packages: Vec::new(), project: None });
    }
    if !path.is_dir() && path.extension().is_some_and(|e| e == "py") {
        bail!(
            "no such script: {}\nhint: give the path of a Python file, a package directory with __main__.py, or a project directory with pyproject.toml",
            path.display()
        );
    }
    if !path.is_dir() {
        bail!(
            "no such script, package or project: {}\nhint: give a Python file, a package directory with __main__.py, or a project directory with pyproject.toml",
            path.display()
        );
    }
    let dir = fs::canonicalize(path)?;
    if dir.join("pyproject.toml").is_file() {
        let text = fs::read_to_string(dir.join("pyproject.toml"))?;
        let project = parse_pyproject(&dir, &text)?;
        return from_project(project, entry);
    }
    if dir.join("__main__.py").is_file() {
        let pkg = package_name(&dir)?;
        let root = dir.parent().context("the package has no parent directory")?.to_path_buf();
        return Ok(App {
            name: pkg.clone(),
            root,
            main: Main::Module(format!("{pkg}.__main__")),
            packages: vec![pkg],
            project: None,
        });
    }
    bail!(
        "{} is neither a package with __main__.py nor a project with pyproject.toml\nhint: give a Python file, a package directory (as for `python -m`), or a project directory",
        dir.display()
    )
}

fn package_name(dir: &Path) -> Result<String> {
    let name = dir.file_name().and_then(|n| n.to_str()).context("the package directory has no name")?;
    if !is_identifier(name) {
        bail!("{} cannot be a package: {name:?} is not a Python identifier", dir.display());
    }
    Ok(name.to_string())
}

/// Whether `s` is a Python identifier (ASCII or not), as a module name's part must be for `import`
/// and for Cython.
pub(crate) fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_alphabetic()) && chars.all(|c| c == '_' || c.is_alphanumeric())
}

fn from_project(project: Project, entry: Option<&str>) -> Result<App> {
    let entry = entry.map(String::from).or_else(|| project.tool.entry.clone());
    let (name, target) = match entry {
        Some(e) => match project.scripts.get(&e) {
            Some(t) => (e, t.clone()),
            None => bail!(
                "{}: no script {e:?} in [project.scripts] (there: {})",
                project.dir.join("pyproject.toml").display(),
                project.scripts.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        },
        None if project.scripts.len() == 1 => project.scripts.iter().next().map(|(k, v)| (k.clone(), v.clone())).unwrap(),
        None if project.scripts.is_empty() => bail!(
            "{} has no [project.scripts]: pyelf makes a binary of an entry point\nhint: add e.g. [project.scripts] mytool = \"mypkg.cli:main\"",
            project.dir.join("pyproject.toml").display()
        ),
        None => bail!(
            "{} has several scripts ({}): pick one with --entry NAME (or entry = \"NAME\" in [tool.pyelf]), or build without either to get one binary each",
            project.dir.join("pyproject.toml").display(),
            project.scripts.keys().cloned().collect::<Vec<_>>().join(", ")
        ),
    };
    let (module, attr) = parse_entry_point(&target)
        .with_context(|| format!("[project.scripts] {name} = {target:?} is not `module:function`"))?;
    let src = project.dir.join("src");
    let top = module.split('.').next().unwrap_or(&module).to_string();
    let root =
        if src.join(&top).is_dir() || src.join(format!("{top}.py")).is_file() { src } else { project.dir.clone() };
    let packages = if root.join(&top).join("__init__.py").is_file() { vec![top] } else { Vec::new() };
    Ok(App { name, root, main: Main::Entry { module, attr }, packages, project: Some(project) })
}

/// `module:attr` (extras in brackets are ignored, as pip does for console scripts).
pub fn parse_entry_point(s: &str) -> Option<(String, String)> {
    let s = s.split('[').next()?.trim();
    let (module, attr) = s.split_once(':')?;
    let (module, attr) = (module.trim(), attr.trim());
    let ok = |p: &str| !p.is_empty() && p.split('.').all(is_identifier);
    (ok(module) && ok(attr)).then(|| (module.to_string(), attr.to_string()))
}

/// The Python source of the main module that calls an entry point.
pub fn entry_main_source(module: &str, attr: &str) -> String {
    let (first, rest) = attr.split_once('.').map(|(a, b)| (a, Some(b))).unwrap_or((attr, None));
    let call = match rest {
        Some(r) => format!("_entry.{r}"),
        None => "_entry".to_string(),
    };
    format!(
        "# generated by pyelf: the entry point {module}:{attr}, run as a console script\nimport sys\nfrom {module} import {first} as _entry\n\nif __name__ == \"__main__\":\n    sys.exit({call}())\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_points() {
        assert_eq!(parse_entry_point("pkg.cli:main"), Some(("pkg.cli".into(), "main".into())));
        assert_eq!(parse_entry_point("pkg:App.run [extra]"), Some(("pkg".into(), "App.run".into())));
        assert_eq!(parse_entry_point("pkg.cli"), None);
        assert_eq!(parse_entry_point("pkg-x:main"), None);
        let src = entry_main_source("pkg.cli", "App.run");
        assert!(src.contains("from pkg.cli import App as _entry") && src.contains("sys.exit(_entry.run())"), "{src}");
    }

    #[test]
    fn pyproject_and_tool_settings() {
        let text = r#"
[project]
name = "demo"
version = "1.2"
dependencies = ["mdurl==0.1.2"]
[project.scripts]
demo = "demo.cli:main"
[tool.pyelf]
include-modules = ["json"]
no-cython = ["demo.slow*"]
compile-deps = true
"#;
        let p = parse_pyproject(Path::new("/p"), text).unwrap();
        assert_eq!((p.name.as_str(), p.version.as_str()), ("demo", "1.2"));
        assert_eq!(p.dependencies, ["mdurl==0.1.2"]);
        assert_eq!(p.scripts["demo"], "demo.cli:main");
        assert_eq!(p.tool.include_modules, ["json"]);
        assert!(p.tool.compile_deps);
        let bad = "[project]\nname = \"x\"\n[tool.pyelf]\nno-such-flag = 1\n";
        let err = format!("{:#}", parse_pyproject(Path::new("/p"), bad).unwrap_err());
        assert!(err.contains("no-such-flag"), "{err}");
    }

    #[test]
    fn several_scripts_need_an_entry() {
        let mut p = Project { name: "x".into(), dir: "/p".into(), ..Default::default() };
        p.scripts.insert("a".into(), "x.a:main".into());
        p.scripts.insert("b".into(), "x.b:main".into());
        let err = from_project(p.clone(), None).unwrap_err().to_string();
        assert!(err.contains("--entry"), "{err}");
        let app = from_project(p, Some("b")).unwrap();
        assert_eq!(app.main, Main::Entry { module: "x.b".into(), attr: "main".into() });
    }
}
