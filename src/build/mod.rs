//! Building an app: the [`project`] resolved (script, package or project), its dependencies from
//! [`deps`], every module of the app compiled by Cython, the launcher, the frozen stdlib and the
//! embedded data, linked with the toolchain into one static ELF at the output path (written aside,
//! renamed when done).

pub mod conformance;
pub mod cython;
pub mod deps;
pub mod freeze;
pub mod inittab;
pub mod launcher;
pub mod link;
pub mod native;
pub mod objects;
pub mod project;
pub mod sbom;
pub mod sizes;

use crate::fsutil::walk;
use crate::home::Home;
use crate::runtime;
use crate::toolchain::pins::Pins;
use crate::toolchain::{self, Toolchain};
use anyhow::{bail, Context, Result};
use cython::CythonPin;
use freeze::{Load, Origin, Stdlib};
use fs_err as fs;
use project::{App, Main};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The built-in module name of the app's script inside the binary: fixed, so that a script called
/// `json.py` does not shadow the stdlib's json. It runs as `__main__`.
pub const APP_MODULE: &str = "_pyelf_main";

/// The name Cython compiles the script as: what its classes and functions give as `__module__`,
/// as in `python app.py`.
const SCRIPT_CYTHON_NAME: &str = "__main__";

/// Copies the finished binary next to `output` and renames it into place: OUT is never a partial
/// file, and one left by a killed build (locked by nobody) is removed by the next.
fn install_output(exe: &Path, output: &Path) -> Result<()> {
    let out_dir = output.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    fs::create_dir_all(out_dir).with_context(|| format!("cannot create {}", out_dir.display()))?;
    crate::stale::sweep(out_dir, ".pyelf-partial-")?;
    let mut partial = tempfile::Builder::new()
        .prefix(".pyelf-partial-")
        .tempfile_in(out_dir)
        .with_context(|| format!("cannot write into {}", out_dir.display()))?;
    crate::stale::hold_file(partial.as_file(), partial.path())?;
    std::io::copy(&mut fs::File::open(exe)?, partial.as_file_mut())
        .and_then(|_| partial.as_file().sync_all())
        .with_context(|| format!("cannot write {}", partial.path().display()))?;
    crate::toolchain::compiler::set_executable(partial.path())?;
    partial.persist(output).map_err(|e| e.error).with_context(|| format!("cannot write {}", output.display()))?;
    Ok(())
}

/// The sources whose code is in a binary with these C modules: `(name, version, licence)`.
pub fn linked_sources(pins: &Pins, c_modules: &[String]) -> Vec<(String, String, String)> {
    let mut names = vec!["musl", "cpython"];
    for (module, source) in &crate::toolchain::stdlib::facts().module_libraries {
        if c_modules.iter().any(|m| m == module) && !names.contains(&source.as_str()) {
            names.push(source);
        }
    }
    names
        .iter()
        .filter_map(|n| pins.source(n).ok())
        .map(|p| (p.name.clone(), p.version.clone(), p.license.clone()))
        .collect()
}

pub use crate::options::BuildOptions;

/// A built binary.
#[derive(Debug, Clone)]
pub struct Built {
    pub path: PathBuf,
    pub size: u64,
    pub sha256: String,
    pub frozen_modules: usize,
    /// The app's (and dependencies') modules compiled by Cython.
    pub app_modules: usize,
    /// Built-in C modules linked in.
    pub c_modules: usize,
    /// The libraries in the binary: (name, version, licence).
    pub linked: Vec<(String, String, String)>,
    /// The final link's map, when one was asked for (see [`crate::build::sizes::breakdown`]).
    pub link_map: Option<PathBuf>,
    pub seconds: f64,
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

/// Builds what `opts` describes: one binary, or for a project with several `[project.scripts]`
/// and no entry chosen, one binary per script (with `-o`, into that directory).
pub fn build_all(home: &Home, opts: &BuildOptions) -> Result<Vec<Built>> {
    let several = match (&opts.entry, opts.script.is_dir() && opts.script.join("pyproject.toml").is_file()) {
        (None, true) => {
            let p = project::parse_pyproject(&opts.script, &fs::read_to_string(opts.script.join("pyproject.toml"))?)?;
            (p.tool.entry.is_none() && p.scripts.len() > 1).then_some(p.scripts.keys().cloned().collect::<Vec<_>>())
        }
        _ => None,
    };
    let Some(names) = several else { return Ok(vec![build(home, opts)?]) };
    crate::say!("{} has {} scripts: building each ({})", opts.script.display(), names.len(), names.join(", "));
    let mut out = Vec::new();
    for name in names {
        let mut one = opts.clone();
        one.output = opts.output.as_ref().map(|dir| dir.join(&name));
        one.entry = Some(name);
        out.push(build(home, &one)?);
    }
    Ok(out)
}

/// Builds the app described by `opts` (and the toolchain first, if it is missing).
pub fn build(home: &Home, opts: &BuildOptions) -> Result<Built> {
    let started = Instant::now();
    let app = project::resolve(&opts.script, opts.entry.as_deref())?;
    let opts = match &app.project {
        Some(p) => opts.under_tool_config(&p.tool, &p.dir),
        None => opts.clone(),
    };
    let stdlib = opts.stdlib.unwrap_or(Stdlib::Auto);
    let pins = Pins::builtin();
    let epoch = pins.target(opts.target())?.effective_source_date_epoch();
    let output = match &opts.output {
        Some(o) => o.clone(),
        None => PathBuf::from("target/pyelf").join(opts.target()).join(&app.name),
    };
    let tc = toolchain::ensure(home, &pins, opts.target(), &opts.toolchain()?)
        .context("the toolchain is needed to build the app and could not be built")?;
    let cy = CythonPin::builtin();
    let cython = cython::ensure(home, &cy)?;

    let work_root = home.root().join("work");
    fs::create_dir_all(&work_root)?;
    // Work directories of builds that were killed are removed; those of running builds are not.
    crate::stale::sweep(&work_root, "build-")?;
    let work = crate::stale::OwnedDir::new_in(&work_root, "build-")?;
    let dir = work.path();
    // Logs of the steps that write one outlive the work directory, so that a failure can point to
    // them.
    let logs = home.root().join("logs").join(format!("app-{}", app.name));
    fs::create_dir_all(&logs)?;

    // Dependencies: wheels from pip (those with extension modules built from source here), or an
    // existing site-packages.
    let native = deps::Native {
        builder: crate::build::native::Builder {
            tc: &tc,
            home: home.clone(),
            cache: home.root().join("native"),
            logs: logs.clone(),
            source_date_epoch: epoch,
        },
        no_native: opts.no_native.clone(),
    };
    let (site, dists) = dependencies(&app, &opts, dir, &native)?;
    let roots = Roots { app: app.root.clone(), site: site.clone(), stdlib: tc.root.join(runtime::STDLIB_TREE) };
    let (main_name, main_script) = main_module(&app, &dir.join("entry"))?;
    let main_module = main_script.is_none().then_some(main_name.as_str());

    // The main script first: its errors (file:line, as Cython reports them) stop the build.
    let mut c_files: Vec<(String, PathBuf)> = Vec::new();
    if let Some(script) = &main_script {
        let c = dir.join("app.c");
        cython::compile(&tc, &cython, script, SCRIPT_CYTHON_NAME, &c)?;
        c_files.push((APP_MODULE.to_string(), c));
    }

    // What the app imports: from its code, and from a traced run when asked for.
    let mut paths = vec![app.root.clone()];
    paths.extend(site.iter().cloned());
    let traced = match opts.traced_run() {
        Some(args) => {
            let out = dir.join("traced.txt");
            freeze::trace_imports(&tc, &out, main_script.as_deref(), main_module, &paths, args)?;
            Some(out)
        }
        None => None,
    };
    let (include_modules, include_packages) = includes(&app, &opts, &dists);
    let dist_modules: Vec<String> = dists.iter().flat_map(deps::modules).collect();
    let analysis = freeze::analyse(
        &tc,
        dir,
        &freeze::AnalysisInput {
            main_script: main_script.as_deref(),
            main_module,
            paths: &paths,
            app_root: &app.root,
            dep_roots: &paths[1..],
            include_modules: &include_modules,
            include_packages: &include_packages,
            dist_modules: &dist_modules,
            stdlib,
            traced: traced.as_deref(),
        },
    )?;
    // Extension modules built from source: objects of their own, made from the inittab.
    let extensions = prepare_extensions(&tc, &analysis, &dists, &dir.join("extensions"))?;

    // The app's modules (and with --compile-deps the dependencies') in one run of Cython, falling
    // back to bytecode.
    let wants_cython = |m: &freeze::Found| {
        (m.kind == Origin::App || (m.kind == Origin::Dep && opts.compile_deps))
            && !opts.no_cython.iter().any(|p| matches_pattern(p, &m.name))
    };
    // A package's `__main__` run as `python -m pkg` is compiled on its own under the name
    // `__main__`, as a script is (its classes' `__module__`); its relative imports resolve at run
    // time from its `__package__`.
    if let Some(main) =
        main_module.and_then(|n| analysis.modules.iter().find(|m| m.name == n)).filter(|m| wants_cython(m))
    {
        let c = dir.join("main-module.c");
        match cython::compile(&tc, &cython, &main.file, SCRIPT_CYTHON_NAME, &c) {
            Ok(()) => c_files.push((main.name.clone(), c)),
            Err(e) => crate::report::warn(&format!(
                "{} is embedded as bytecode: Cython could not compile it ({e:#})",
                main.name
            )),
        }
    }
    let to_compile: Vec<cython::ModuleSource> = analysis
        .modules
        .iter()
        .filter(|m| !m.namespace && wants_cython(m) && Some(m.name.as_str()) != main_module)
        .map(|m| roots.source_of(m))
        .collect();
    let packages: Vec<cython::ModuleSource> = analysis
        .modules
        .iter()
        .filter(|m| m.package && !m.namespace && m.is_bundled())
        .map(|m| roots.source_of(m))
        .collect();
    let compiled = cython::compile_modules(&tc, &cython, &to_compile, &packages, &dir.join("cython"))?;
    for (name, reason) in &compiled.failed {
        crate::report::warn(&format!("{name} is embedded as bytecode: Cython could not compile it ({reason})"));
    }
    c_files.extend(compiled.c_files.iter().cloned());
    let script_name = format!("{}.py", app.name);
    let tree_file = |name: &str| {
        let rel = if name == APP_MODULE {
            Some(script_name.clone())
        } else {
            analysis.modules.iter().find(|m| m.name == name).map(|m| roots.tree_path(m))
        };
        rel.map(|r| format!("{}/{r}", runtime::VFS_ROOT))
    };
    let app_entries = register_cython(&c_files, &main_name, tree_file)?;
    // Cython's C compiled now, so that a module whose C the compiler rejects is embedded as
    // bytecode instead.
    let c_paths: Vec<PathBuf> = c_files.iter().map(|(_, c)| c.clone()).collect();
    let mut objects = Vec::new();
    let mut app_entries_built = Vec::new();
    for ((name, _), (result, entry)) in
        c_files.iter().zip(objects::compile_each(&tc, dir, &c_paths, &logs)?.into_iter().zip(app_entries))
    {
        match result {
            Ok(obj) => {
                objects.push(obj);
                app_entries_built.push(entry);
            }
            Err(rejected) => crate::say!(
                "warning: {} is embedded as bytecode: the C compiler rejected Cython's C for it ({}; full log: {})",
                if name == APP_MODULE {
                    main_script.as_deref().map(|p| p.display().to_string()).unwrap_or_default()
                } else {
                    name.clone()
                },
                rejected.first_error,
                rejected.log.display()
            ),
        }
    }
    let cython_names: BTreeSet<&str> = app_entries_built.iter().map(|e| e.name.as_str()).collect();

    // Bytecode (the stdlib, the dependencies and what Cython did not compile) and the data.
    let script = main_script.as_deref().map(|p| (p, script_name.as_str()));
    let extension_files: Vec<(String, String)> = analysis
        .extensions
        .iter()
        .map(|e| {
            (
                e.name.clone(),
                roots
                    .site
                    .as_deref()
                    .and_then(|s| e.file.strip_prefix(s).ok())
                    .map(|r| r.display().to_string())
                    .unwrap_or_default(),
            )
        })
        .collect();
    let frozen_list = frozen_modules(&analysis, &cython_names, &extension_files, &roots, script, dir);
    let mut bundle = bundle_files(&app, &analysis, &dists, &opts.add_data, script, dir)?;
    bundle.extend(stdlib_files(&analysis, &roots, opts.stdlib_sources)?);
    let mut arcs = BTreeSet::new();
    bundle.retain(|f| arcs.insert(f.arc.clone()));
    // Compiled shares of modules and data archives of earlier builds are reused from the cache
    // when all their inputs are the same (freeze.py's `Cache`).
    let frozen = freeze::emit(&tc, dir, &frozen_list, &bundle, Some(&home.root().join("frozen")))?;

    // Built-in modules: the C modules the app uses, then its Cython modules, then the extension
    // modules built from source (called through functions that give them their full names).
    let (ext_c, ext_entries) = crate::build::native::init_c(&extensions);
    let ext_init_c = dir.join("extensions.c");
    fs::write(&ext_init_c, ext_c)?;
    objects.extend(extensions.iter().map(|e| e.object.clone()));
    // The launcher's own module: `_pyelf.get_code` decompresses the packed modules.
    let launcher_module = inittab::Entry { name: "_pyelf".into(), init: Some("PyInit__pyelf".into()) };
    let builtin_entries: Vec<inittab::Entry> =
        app_entries_built.iter().cloned().chain(ext_entries).chain([launcher_module]).collect();
    let (entries, keep) = inittab::load(&tc.root)?;
    let wanted: BTreeSet<String> = match stdlib {
        Stdlib::Full => entries.iter().map(|e| e.name.clone()).collect(),
        Stdlib::Auto => analysis.imports.iter().chain(&opts.include_modules).cloned().collect(),
    };
    let (inittab_src, c_modules) = inittab::generate(&entries, &keep, &wanted, &builtin_entries);
    let inittab_c = dir.join("inittab.c");
    fs::write(&inittab_c, inittab_src)?;
    let with_ssl = c_modules.iter().any(|m| m == "_ssl");
    if opts.ca_bundle.is_some() && !with_ssl {
        crate::report::warn("--ca-bundle has no effect: the app does not use ssl");
    }
    let ca = launcher::CaOptions { with_ssl, bundle: opts.ca_bundle.clone(), always: opts.ca_bundle_always };
    let bundle_zip = (!bundle.is_empty()).then_some(frozen.bundle.as_path());
    let mut sources =
        launcher::write(dir, &app.name, &main_name, bundle_zip, &ca, opts.python_cli, opts.malloc.unwrap_or_default())?;
    sources.extend([frozen.table_c.clone(), frozen.blob_s.clone(), frozen.packed_s.clone(), inittab_c, ext_init_c]);

    // What is inside, for the SBOM section and the summary.
    let mut linked = linked_sources(&pins, &c_modules);
    for lib in extensions.iter().flat_map(|e| &e.libs) {
        if let Some(p) = crate::build::native::library_source(lib).and_then(|n| pins.source(n).ok()) {
            let source = (p.name.clone(), p.version.clone(), p.license.clone());
            if !linked.contains(&source) {
                linked.push(source);
            }
        }
    }
    linked.push((cy.name.clone(), cy.version.clone(), cy.license.clone()));
    let app_files: Vec<PathBuf> =
        analysis.modules.iter().filter(|m| m.kind == Origin::App && !m.namespace).map(|m| m.file.clone()).collect();
    // The C libraries built for the dependencies' extension modules.
    let mut libraries = Vec::new();
    for lib in dists.iter().flat_map(|d| &d.libraries).collect::<BTreeSet<_>>() {
        libraries.push(native.builder.library_component(lib)?);
    }
    // C++ in extension modules: zig's runtime for musl is in them.
    let cxx = extensions.iter().any(|e| e.libs.iter().any(|l| l == "c++"));
    if cxx {
        let pin = crate::build::native::cxx_pin();
        let c = crate::build::sbom::Component {
            name: "zig-libc++".into(),
            version: pin.version.clone(),
            license: "Apache-2.0 WITH LLVM-exception".into(),
            sha256: pin.sha256.clone(),
            url: None,
        };
        libraries.push(c);
    }
    let sbom = sbom_document(&pins, &tc, &cy, &app, &app_files, &linked, &dists, &libraries)?;
    linked.extend(libraries.iter().map(|c| (c.name.clone(), c.version.clone(), c.license.clone())));
    sources.push(write_sbom(&sbom, dir, opts.sbom.as_deref())?);

    let linked_exe = dir.join("app");
    compile_and_link(&tc, dir, &sources, objects, &opts, cxx, &linked_exe, &logs)?;
    install_output(&linked_exe, &output)?;
    let size = fs::metadata(&output)?.len();
    let sha256 = crate::toolchain::fetch::sha256_file(&output)?;
    for d in &dists {
        linked.push((d.name.clone(), d.version.clone(), d.license.clone()));
    }
    Ok(Built {
        path: output,
        size,
        sha256,
        frozen_modules: frozen.names.len(),
        c_modules: c_modules.len(),
        app_modules: cython_names.len(),
        linked,
        link_map: opts.link_map.clone(),
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Where the app's own modules and its dependencies were found.
struct Roots {
    app: PathBuf,
    site: Option<PathBuf>,
    /// The toolchain's stdlib directory.
    stdlib: PathBuf,
}

impl Roots {
    /// A module as Cython and the importer see it: its name, its root and its path under it.
    fn source_of(&self, m: &freeze::Found) -> cython::ModuleSource {
        let root = match m.kind {
            Origin::App => self.app.clone(),
            Origin::Stdlib => self.stdlib.clone(),
            Origin::Dep => self.site.clone().unwrap_or_default(),
        };
        let rel = m.file.strip_prefix(&root).map(Path::to_path_buf).unwrap_or_else(|_| m.file.clone());
        cython::ModuleSource { name: m.name.clone(), root, rel }
    }

    /// Where a module's file is in the binary's tree, relative to its root: the stdlib's under
    /// [`runtime::STDLIB_TREE`] (as under a prefix), the others as they are on `sys.path`.
    fn tree_path(&self, m: &freeze::Found) -> String {
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

/// The modules and packages embedded besides what the analysis finds: the user's, the plugins
/// named in the dependencies' entry points, and what the importer needs to read the data archive.
fn includes(app: &App, opts: &BuildOptions, dists: &[deps::Dist]) -> (Vec<String>, Vec<String>) {
    let mut modules = opts.include_modules.clone();
    // What the importer imports when asked for resources or sources (pathlib, tokenize).
    modules.extend(["pathlib".to_string(), "tokenize".to_string()]);
    for d in dists {
        modules.extend(deps::entry_point_modules(d));
    }
    let mut packages = app.packages.clone();
    packages.extend(opts.include_packages.iter().cloned());
    (modules, packages)
}

/// Gives each Cython module's init function a name of its own (`pyelf_init_N`, so that `a.util`
/// and `b.util` can be linked together) and its tracebacks python's look (its file in the tree,
/// `tree_file`), and returns their inittab entries.
fn register_cython(
    c_files: &[(String, PathBuf)],
    main_name: &str,
    tree_file: impl Fn(&str) -> Option<String>,
) -> Result<Vec<inittab::Entry>> {
    let mut entries = Vec::new();
    for (i, (name, c)) in c_files.iter().enumerate() {
        let mut text = fs::read_to_string(c)?;
        let symbol = format!("pyelf_init_{i}");
        let cython_name = if name == main_name { SCRIPT_CYTHON_NAME } else { name.as_str() };
        if let Some(file) = tree_file(name) {
            text = cython::python_tracebacks(&text, cython_name, &file);
        }
        fs::write(c, cython::rename_init(&text, cython_name, &symbol))?;
        entries.push(inittab::Entry { name: name.clone(), init: Some(symbol) });
    }
    Ok(entries)
}

/// The modules frozen as bytecode (all but those Cython compiled), and the importer, whose table
/// says for each module of the app and its dependencies how it is loaded and what its file is.
fn frozen_modules(
    analysis: &freeze::Analysis,
    cython_names: &BTreeSet<&str>,
    extensions: &[(String, String)],
    roots: &Roots,
    script: Option<(&Path, &str)>,
    dir: &Path,
) -> Vec<freeze::ToFreeze> {
    let mut list = Vec::new();
    let mut table = format!(
        "{}ROOT = {:?}\nSTDLIB = {:?}\nMODULES = {{\n",
        Load::python_constants(),
        format!("{}/", runtime::VFS_ROOT),
        runtime::STDLIB_TREE
    );
    // What the interpreter imports while it starts, before the importer exists, stays in CPython's
    // frozen table; the rest is compressed (a third of the bytes) and decompressed on first import.
    let startup = &crate::toolchain::stdlib::facts().startup;
    // Modules CPython itself freezes (os, site, codecs, …) are left to it, as in python: its
    // FrozenImporter gives them a `__file__` in the tree.
    for m in analysis.modules.iter().filter(|m| !m.cpython_frozen) {
        let rel = roots.tree_path(m);
        let kind = if m.namespace {
            Load::Namespace
        } else if cython_names.contains(m.name.as_str()) {
            Load::Cython
        } else if startup.contains(&m.name) {
            Load::Bytecode
        } else {
            Load::Packed
        };
        table.push_str(&format!(
            "    {:?}: ({}, {}, {rel:?}),\n",
            m.name,
            kind.name().to_uppercase(),
            if m.package { "True" } else { "False" }
        ));
        if matches!(kind, Load::Bytecode | Load::Packed) {
            // Compiled with its path in the tree as its file name: tracebacks name it as python
            // names a module's file, and linecache reads its source from there.
            list.push(freeze::ToFreeze {
                name: m.name.clone(),
                file: m.file.clone(),
                package: m.package,
                filename: Some(format!("{}/{rel}", runtime::VFS_ROOT)),
                source: None,
                packed: kind == Load::Packed,
            });
        }
    }
    // Extension modules built from source, with the file python would load them from.
    for (name, rel) in extensions {
        let package = rel.rsplit('/').next().is_some_and(|f| f.starts_with("__init__."));
        table.push_str(&format!(
            "    {name:?}: ({}, {}, {rel:?}),\n",
            Load::Extension.name().to_uppercase(),
            if package { "True" } else { "False" }
        ));
    }
    if let Some((file, name)) = script {
        let kind = if cython_names.contains(APP_MODULE) { Load::Cython } else { Load::Bytecode };
        table.push_str(&format!("    {APP_MODULE:?}: ({}, False, {name:?}),\n", kind.name().to_uppercase()));
        if kind == Load::Bytecode {
            list.push(freeze::ToFreeze {
                name: APP_MODULE.into(),
                file: file.to_path_buf(),
                package: false,
                filename: Some(format!("{}/{name}", runtime::VFS_ROOT)),
                source: None,
                packed: false,
            });
        }
    }
    table.push_str("}\n");
    table.push_str(&format!(
        "SCRIPT = {}\n\n",
        if script.is_some() { format!("{APP_MODULE:?}") } else { "None".into() }
    ));
    list.push(freeze::ToFreeze {
        name: "_pyelf_importer".into(),
        file: dir.join("freeze.py"),
        package: false,
        // Import machinery, named as python's own loader is: CPython drops its frames from
        // tracebacks of code run at import, and warnings skip them when they count stack levels.
        filename: Some("<frozen importlib._bootstrap_external>".into()),
        source: Some(format!("{table}{}", runtime::IMPORTER_PY)),
        packed: false,
    });
    list
}

/// Writes the SBOM as JSON (and to `copy_to`, when asked) and as the assembly of its ELF section;
/// returns the latter, to be linked in.
fn write_sbom(sbom: &serde_json::Value, dir: &Path, copy_to: Option<&Path>) -> Result<PathBuf> {
    let json = dir.join("sbom.json");
    fs::write(&json, serde_json::to_string_pretty(sbom)?)?;
    let asm = dir.join("sbom.S");
    fs::write(&asm, crate::build::sbom::section_asm(&json))?;
    if let Some(path) = copy_to {
        fs::copy(&json, path).with_context(|| format!("cannot write the SBOM to {}", path.display()))?;
    }
    Ok(asm)
}

/// Compiles `sources`, links them with `objects` with the toolchain into `exe`, checks it is static, and strips
/// and packs it as asked.
#[allow(clippy::too_many_arguments)]
fn compile_and_link(
    tc: &Toolchain,
    dir: &Path,
    sources: &[PathBuf],
    mut objects: Vec<PathBuf>,
    opts: &BuildOptions,
    cxx: bool,
    exe: &Path,
    logs: &Path,
) -> Result<()> {
    for result in objects::compile_each(tc, dir, sources, logs)? {
        objects.push(result.map_err(|r| r.error("the app's generated C"))?);
    }
    let archive = dir.join("obj/libpyelfapp.a");
    objects::archive(tc, &objects, &archive)?;
    link::link_static(tc, &archive, exe, &logs.join("link.log"), opts.pie, cxx, opts.link_map.as_deref())?;
    crate::elf::check_static(exe, tc.target.elf_machine)?;
    if opts.strip {
        link::strip(tc, exe)?;
    }
    if opts.upx {
        upx(exe)?;
    }
    Ok(())
}

/// The dependencies of the app: installed with pip from the project's dependencies and
/// `--requirements` into `dir/site` (wheels built from source dated `epoch`), or taken from
/// `--site-packages`.
fn dependencies(
    app: &App,
    opts: &BuildOptions,
    dir: &Path,
    native: &deps::Native,
) -> Result<(Option<PathBuf>, Vec<deps::Dist>)> {
    if let Some(site) = &opts.site_packages {
        let site =
            fs::canonicalize(site).with_context(|| format!("--site-packages {}: no such directory", site.display()))?;
        return Ok((Some(site.clone()), deps::distributions(&site)?));
    }
    let mut lines: Vec<String> = app.project.iter().flat_map(|p| p.dependencies.iter().cloned()).collect();
    if let Some(r) = &opts.requirements {
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

/// The extension modules outside the stdlib, made ready to link; a shared library that pyelf did
/// not build (from `--site-packages`, or the app's own) is refused, naming its package.
fn prepare_extensions(
    tc: &Toolchain,
    analysis: &freeze::Analysis,
    dists: &[deps::Dist],
    dir: &Path,
) -> Result<Vec<crate::build::native::Prepared>> {
    let mut out = Vec::new();
    for ext in &analysis.extensions {
        let Some(prepared) = crate::build::native::prepare(tc, &ext.name, &ext.file, dir)? else {
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

/// The data files of the app's and the dependencies' packages, the dependencies' metadata, the
/// project's own metadata and `--add-data` files: the archive embedded in the binary.
fn bundle_files(
    app: &App,
    analysis: &freeze::Analysis,
    dists: &[deps::Dist],
    add_data: &[String],
    script: Option<(&Path, &str)>,
    dir: &Path,
) -> Result<Vec<freeze::BundleFile>> {
    let mut files = Vec::new();
    let mut seen = BTreeSet::new();
    // The script, and the top-level modules outside packages, as files where `__file__` says.
    if let Some((file, name)) = script {
        files.push(freeze::BundleFile { arc: name.to_string(), file: file.to_path_buf() });
    }
    for m in analysis.modules.iter().filter(|m| !m.package && m.is_bundled() && !m.name.contains('.')) {
        if let Some(name) = m.file.file_name().and_then(|n| n.to_str()) {
            files.push(freeze::BundleFile { arc: name.to_string(), file: m.file.clone() });
        }
    }
    // Each top-level package directory once (every portion of a namespace package: the one in
    // the app and the one in a dependency), with everything in it but compiled code: its modules'
    // source (read by code that lists or opens its own directory, and by linecache) and its data.
    for m in analysis.modules.iter().filter(|m| m.is_bundled() && !m.namespace) {
        let depth = m.name.matches('.').count() + usize::from(m.package);
        let Some(pkg_dir) = (depth > 0).then(|| m.file.ancestors().nth(depth)).flatten() else { continue };
        let root = pkg_dir.parent().context("a package has a parent")?;
        if !seen.insert(pkg_dir.to_path_buf()) {
            continue;
        }
        for f in walk(pkg_dir)? {
            let ext = f.extension().and_then(|e| e.to_str()).unwrap_or("");
            if matches!(ext, "pyc" | "pyo" | "so" | "pyd") || f.components().any(|c| c.as_os_str() == "__pycache__") {
                continue;
            }
            files.push(freeze::BundleFile { arc: rel_slash(&f, root), file: f });
        }
    }
    for d in dists {
        let root = d.dist_info.parent().context("a dist-info has a parent")?;
        for f in walk(&d.dist_info)? {
            files.push(freeze::BundleFile { arc: rel_slash(&f, root), file: f });
        }
    }
    if let Some(p) = &app.project {
        let info = dir.join("project-dist-info");
        let name = format!("{}-{}.dist-info", p.name.replace('-', "_"), p.version);
        fs::create_dir_all(info.join(&name))?;
        fs::write(
            info.join(&name).join("METADATA"),
            format!("Metadata-Version: 2.1\nName: {}\nVersion: {}\n", p.name, p.version),
        )?;
        let mut ep = String::from("[console_scripts]\n");
        for (k, v) in &p.scripts {
            ep.push_str(&format!("{k} = {v}\n"));
        }
        fs::write(info.join(&name).join("entry_points.txt"), ep)?;
        for f in walk(&info.join(&name))? {
            files.push(freeze::BundleFile { arc: rel_slash(&f, &info), file: f });
        }
    }
    for spec in add_data {
        let (src, dest) = spec.rsplit_once(':').with_context(|| {
            format!("--add-data {spec:?}: use SRC:DEST (DEST a path inside one of the app's packages, e.g. mypkg/data)")
        })?;
        let src = PathBuf::from(src);
        let dest = dest.trim_matches('/');
        let top = dest.split('/').next().unwrap_or("");
        if !analysis.modules.iter().any(|m| m.name == top && m.package) {
            bail!("--add-data {spec}: {top:?} is not a package of the app; DEST must start with one (e.g. mypkg/data), so that importlib.resources.files(\"mypkg\") reaches it");
        }
        if src.is_dir() {
            for f in walk(&src)? {
                files.push(freeze::BundleFile { arc: format!("{dest}/{}", rel_slash(&f, &src)), file: f });
            }
        } else if src.is_file() {
            let name = src.file_name().and_then(|n| n.to_str()).unwrap_or("data");
            files.push(freeze::BundleFile { arc: format!("{dest}/{name}"), file: fs::canonicalize(&src)? });
        } else {
            bail!("--add-data {spec}: no such file or directory {}", src.display());
        }
    }
    // One entry a path: the first wins (the script over a module file of the same name).
    let mut arcs = BTreeSet::new();
    files.retain(|f| arcs.insert(f.arc.clone()));
    Ok(files)
}

/// The stdlib's part of the tree, under [`runtime::STDLIB_TREE`], as the app's packages are
/// bundled: each embedded top-level module's source, and the whole directory of each embedded
/// top-level package (its modules' sources, embedded or not, so that listing it gives what python
/// lists and a module the analysis missed still imports from source; its data files). Without
/// `sources`, no module's source, only data (directories that are not packages are data whole:
/// the test suite's `tokenizedata`). The regression tests' package `test` (36 MB) is the
/// exception: it comes whole only when a regression test module (`test.test_*`) is embedded; for
/// `test.support` alone, only the embedded modules' sources.
fn stdlib_files(analysis: &freeze::Analysis, roots: &Roots, sources: bool) -> Result<Vec<freeze::BundleFile>> {
    let mut files = Vec::new();
    let arc = |f: &Path| format!("{}/{}", runtime::STDLIB_TREE, rel_slash(f, &roots.stdlib));
    let stdlib = || analysis.modules.iter().filter(|m| m.kind == Origin::Stdlib && !m.namespace);
    let runs_tests = stdlib().any(|m| m.name.starts_with("test.test_"));
    for m in stdlib() {
        let top = m.name.split('.').next().unwrap_or_default();
        if top == "test" && !runs_tests {
            if sources {
                files.push(freeze::BundleFile { arc: arc(&m.file), file: m.file.clone() });
            }
            continue;
        }
        if !m.package || m.name.contains('.') {
            if sources && !m.name.contains('.') {
                files.push(freeze::BundleFile { arc: arc(&m.file), file: m.file.clone() });
            }
            continue;
        }
        let Some(pkg_dir) = m.file.parent() else { continue };
        for f in walk(pkg_dir)? {
            let name = f.file_name().and_then(|n| n.to_str()).unwrap_or("");
            let in_modules_dir = f.parent().is_some_and(|d| d.join("__init__.py").is_file());
            if f.components().any(|c| c.as_os_str() == "__pycache__") || name.ends_with(".pyc") {
                continue;
            }
            if sources || !in_modules_dir || !name.ends_with(".py") {
                files.push(freeze::BundleFile { arc: arc(&f), file: f });
            }
        }
    }
    Ok(files)
}

fn rel_slash(path: &Path, root: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/")
}

/// The CycloneDX document of an app: the app itself, every library linked in and Cython, each
/// with the sha256 of the source it was built from.
#[allow(clippy::too_many_arguments)]
fn sbom_document(
    pins: &Pins,
    tc: &Toolchain,
    cython: &CythonPin,
    app: &App,
    app_files: &[PathBuf],
    linked: &[(String, String, String)],
    dists: &[deps::Dist],
    libraries: &[crate::build::sbom::Component],
) -> Result<serde_json::Value> {
    use crate::build::sbom::Component;
    let sources = crate::build::sbom::toolchain_sources(&tc.root)?;
    let mut components = Vec::new();
    for (name, version, license) in linked {
        let (sha256, url) = if name == &cython.name {
            (cython.sha256.clone(), None)
        } else {
            let (_, sha) = sources.get(name).with_context(|| {
                format!("the toolchain's toolchain.toml does not record the source of {name} (rebuild the toolchain)")
            })?;
            let sha = sha.clone();
            (sha, pins.source(name).ok().and_then(|p| p.urls.first().cloned()))
        };
        components.push(Component {
            name: name.clone(),
            version: version.clone(),
            license: license.clone(),
            sha256,
            url,
        });
    }
    for d in dists {
        // The source distribution its extension modules were built from; the wheel pip
        // downloaded; for --site-packages, the distribution's RECORD (which lists the sha256 of
        // every file it installed).
        let sha256 = match d.sdist_sha256.as_ref().or(d.wheel_sha256.as_ref()) {
            Some(s) => s.clone(),
            None => crate::toolchain::fetch::sha256_file(&d.dist_info.join("RECORD"))
                .or_else(|_| crate::toolchain::fetch::sha256_file(&d.dist_info.join("METADATA")))?,
        };
        components.push(Component {
            name: d.name.clone(),
            version: d.version.clone(),
            license: d.license.clone(),
            sha256,
            url: None,
        });
    }
    components.extend(libraries.iter().cloned());
    // The app: its script, or every file of its own modules (paths and contents, in order).
    let sha256 = match &app.main {
        Main::Script(script) if app_files.is_empty() => crate::toolchain::fetch::sha256_file(script)?,
        _ => {
            use sha2::{Digest, Sha256};
            let mut h = Sha256::new();
            let mut files: Vec<&PathBuf> = app_files.iter().collect();
            if let Main::Script(script) = &app.main {
                files.push(script);
            }
            files.sort();
            for f in files {
                h.update(rel_slash(f, &app.root).as_bytes());
                h.update([0]);
                h.update(fs::read(f)?);
            }
            hex::encode(h.finalize())
        }
    };
    let (name, version) = match &app.project {
        Some(p) => (p.name.clone(), p.version.clone()),
        None => (app.name.clone(), "unversioned".into()),
    };
    let me = Component { name, version, license: "NOASSERTION".into(), sha256, url: None };
    Ok(crate::build::sbom::document(&me, &components))
}

fn upx(path: &Path) -> Result<()> {
    let status = std::process::Command::new("upx").args(["-q", "--best"]).arg(path).status();
    match status {
        Ok(s) if s.success() => {
            crate::report::warn("upx makes the file smaller but every start slower (it unpacks itself into memory)");
            Ok(())
        }
        Ok(s) => bail!("upx failed ({s})"),
        Err(_) => bail!("--upx needs the upx program, which is not installed\nhint: apt-get install upx-ucl, or build without --upx"),
    }
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
}
