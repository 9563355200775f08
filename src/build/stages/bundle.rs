//! The bundle: everything linked in besides the compiled modules. Bytecode (the stdlib, the
//! dependencies and what Cython did not compile) and the data archive, frozen by `freeze.py`; the
//! inittab of the built-in modules; the launcher's sources; and the SBOM, as a section of the
//! binary.

use super::analysis::Analysed;
use super::compile::CompiledApp;
use super::dependencies::{Dependencies, Roots};
use super::plan::Plan;
use crate::build::cython::CythonPin;
use crate::build::freeze::{self, Load, Origin};
use crate::build::names::APP_MODULE;
use crate::build::project::{App, Main};
use crate::build::{deps, inittab, launcher, native, sbom};
use crate::fsutil::walk;
use crate::options::Stdlib;
use crate::runtime;
use crate::toolchain::pins::Pins;
use crate::toolchain::Toolchain;
use anyhow::{bail, Context, Result};
use fs_err as fs;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// What is linked in besides the compiled modules, and what is inside.
pub struct Bundle {
    /// The generated sources to compile: the launcher's, the frozen modules' table and blobs, the
    /// inittab, the extension modules' init functions and the SBOM section.
    pub sources: Vec<PathBuf>,
    /// The objects to link: the Cython modules', then the extension modules'.
    pub objects: Vec<PathBuf>,
    /// C++ in extension modules: zig's runtime for musl is linked in.
    pub cxx: bool,
    /// The libraries in the binary: (name, version, licence).
    pub linked: Vec<(String, String, String)>,
    /// How many modules are frozen.
    pub frozen_modules: usize,
    /// How many built-in C modules are linked in.
    pub c_modules: usize,
}

/// Freezes the modules and the data, writes the inittab, the launcher and the SBOM.
pub fn assemble(plan: &Plan, resolved: &Dependencies, analysed: &Analysed, compiled: &CompiledApp) -> Result<Bundle> {
    let (tc, dir, app) = (&plan.tc, plan.dir(), &plan.app);
    let (analysis, extensions, dists, roots) =
        (&analysed.analysis, &analysed.extensions, &resolved.dists, &resolved.roots);

    // Bytecode (the stdlib, the dependencies and what Cython did not compile) and the data.
    let script = resolved.main_script.as_deref().map(|p| (p, resolved.script_name.as_str()));
    // The extension modules built from source (built-in modules); the wheels' shared objects are
    // found on the tree's path, as python finds them.
    let extension_files: Vec<(String, String)> = analysis
        .extensions
        .iter()
        .filter(|e| extensions.iter().any(|p| p.name == e.name))
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
    let frozen_list = frozen_modules(analysis, &compiled.cython_names, &extension_files, roots, script, dir);
    let mut bundle = bundle_files(app, analysis, dists, &plan.add_data, script, dir)?;
    bundle.extend(stdlib_files(analysis, roots, plan.stdlib_sources)?);
    // The wheels' shared objects, stored as they are where the loader maps them from.
    let loadable = &analysed.loadable;
    if plan.link.upx && !loadable.objects.is_empty() {
        bail!(
            "--upx cannot pack a binary that loads shared objects from its own file ({}, …): upx would leave them compressed, to be copied into memory by every process
             hint: build without --upx, or with --from-source for the packages that have them",
            loadable.objects[0].arc
        );
    }
    bundle.extend(loadable.objects.iter().map(|o| freeze::BundleFile { arc: o.arc.clone(), file: o.file.clone() }));
    let aligned: std::collections::BTreeMap<String, u64> =
        loadable.objects.iter().map(|o| (o.arc.clone(), o.align)).collect();
    let mut arcs = BTreeSet::new();
    bundle.retain(|f| arcs.insert(f.arc.clone()));
    let frozen_list = with_pycs_of_the_tree(
        frozen_list,
        &bundle,
        resolved.main_script.is_some().then_some(resolved.script_name.as_str()),
    );
    // Compiled shares of modules and data archives of earlier builds are reused from the cache
    // when all their inputs are the same (freeze.py's `Cache`).
    let frozen = freeze::emit(tc, dir, &frozen_list, &bundle, &aligned, Some(&plan.home.root().join("frozen")))?;

    // Built-in modules: the C modules the app uses, then its Cython modules, then the extension
    // modules built from source (called through functions that give them their full names).
    let (ext_c, ext_entries) = native::init_c(extensions);
    let ext_init_c = dir.join("extensions.c");
    fs::write(&ext_init_c, ext_c)?;
    let mut objects = compiled.objects.clone();
    objects.extend(extensions.iter().map(|e| e.object.clone()));
    // The launcher's own module: `_pyelf.get_code` decompresses the packed modules.
    let launcher_module = inittab::Entry { name: "_pyelf".into(), init: Some("PyInit__pyelf".into()) };
    let builtin_entries: Vec<inittab::Entry> =
        compiled.entries.iter().cloned().chain(ext_entries).chain([launcher_module]).collect();
    let (entries, keep) = inittab::load(&tc.root)?;
    let wanted: BTreeSet<String> = match plan.stdlib {
        Stdlib::Full => entries.iter().map(|e| e.name.clone()).collect(),
        Stdlib::Auto => analysis.imports.iter().chain(&plan.include_modules).cloned().collect(),
    };
    // The modules that link OpenSSL: CPython's (the stdlib facts) and extension modules built
    // from source against the toolchain's.
    let openssl: BTreeSet<String> = crate::toolchain::stdlib::facts()
        .module_libraries
        .iter()
        .filter(|(_, source)| *source == "openssl")
        .map(|(m, _)| m.clone())
        .chain(
            extensions
                .iter()
                .filter(|e| e.libs.iter().any(|l| native::library_source(l) == Some("openssl")))
                .map(|e| e.name.clone()),
        )
        .collect();
    let (inittab_src, c_modules) = inittab::generate(&entries, &keep, &wanted, &builtin_entries, &openssl);
    let inittab_c = dir.join("inittab.c");
    fs::write(&inittab_c, inittab_src)?;
    let with_ssl = c_modules.iter().any(|m| m == "_ssl");
    if plan.ca_bundle.is_some() && !with_ssl {
        crate::report::warn("--ca-bundle has no effect: the app does not use ssl");
    }
    let ca = launcher::CaOptions { with_ssl, bundle: plan.ca_bundle.clone(), always: plan.ca_bundle_always };
    let bundle_zip = (!bundle.is_empty()).then_some(frozen.bundle.as_path());
    let mut sources = launcher::write(
        dir,
        &app.name,
        &resolved.main_name,
        bundle_zip,
        &ca,
        plan.python_cli,
        plan.malloc,
        (!loadable.is_empty()).then_some(loadable),
        plan.link.upx,
    )?;
    sources.extend([frozen.table_c.clone(), frozen.blob_s.clone(), frozen.packed_s.clone(), inittab_c, ext_init_c]);
    sources.extend(frozen.deep_frozen.iter().cloned());

    // What is inside, for the SBOM section and the summary.
    let pins = &plan.pins;
    let cy = &plan.cy;
    let mut linked = linked_sources(pins, &c_modules);
    let mut also = |name: &str| {
        if let Ok(p) = pins.source(name) {
            let source = (p.name.clone(), p.version.clone(), p.license.clone());
            if !linked.contains(&source) {
                linked.push(source);
            }
        }
    };
    // dlmalloc (runtime/malloc.c) is built from libffi's sources.
    if plan.malloc.uses_dlmalloc() {
        also("libffi");
    }
    for lib in extensions.iter().flat_map(|e| &e.libs) {
        if let Some(name) = native::library_source(lib) {
            also(name);
        }
    }
    linked.push((cy.name.clone(), cy.version.clone(), cy.license.clone()));
    let app_files: Vec<PathBuf> =
        analysis.modules.iter().filter(|m| m.kind == Origin::App && !m.namespace).map(|m| m.file.clone()).collect();
    // The C libraries built for the dependencies' extension modules.
    let native = plan.native();
    let mut libraries = Vec::new();
    for lib in dists.iter().flat_map(|d| &d.libraries).collect::<BTreeSet<_>>() {
        libraries.push(native.builder.library_component(lib)?);
    }
    // C++ in extension modules: zig's runtime for musl is in them.
    let cxx = extensions.iter().any(|e| e.libs.iter().any(|l| l == "c++"));
    if cxx {
        let pin = native::cxx_pin();
        let c = sbom::Component {
            name: "zig-libc++".into(),
            version: pin.version.clone(),
            license: "Apache-2.0 WITH LLVM-exception".into(),
            sha256: pin.sha256.clone(),
            url: None,
        };
        libraries.push(c);
    }
    // The libraries auditwheel bundled in the wheels (`<pkg>.libs/`), loaded beside their
    // extension modules: each by its file's sha256, as part of its wheel.
    for o in &analysed.loadable.objects {
        let Some((dir, file)) = o.arc.split_once('/') else { continue };
        if !dir.ends_with(".libs") {
            continue;
        }
        // (`rpds_py.libs` is rpds-py's, whose package is `rpds`: the RECORD says whose it is.)
        let dist = dists.iter().find(|d| deps::installed(d, &o.arc));
        libraries.push(sbom::Component {
            name: file.to_string(),
            version: dist.map(|d| format!("bundled in {} {}", d.name, d.version)).unwrap_or_else(|| "bundled".into()),
            license: dist.map(|d| d.license.clone()).unwrap_or_default(),
            sha256: crate::toolchain::fetch::sha256_file(&o.file)?,
            url: None,
        });
    }
    let sbom = sbom_document(pins, tc, cy, app, &app_files, &linked, dists, &libraries)?;
    linked.extend(libraries.iter().map(|c| (c.name.clone(), c.version.clone(), c.license.clone())));
    sources.push(write_sbom(&sbom, dir, plan.sbom.as_deref())?);
    // The dependencies, for the summary (the SBOM has them as components of their own).
    for d in dists {
        linked.push((d.name.clone(), d.version.clone(), d.license.clone()));
    }

    Ok(Bundle { sources, objects, cxx, linked, frozen_modules: frozen.names.len(), c_modules: c_modules.len() })
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

/// The modules frozen as bytecode (all but those Cython compiled), and the importer, whose table
/// says for each module of the app and its dependencies how it is loaded and what its file is.
fn frozen_modules(
    analysis: &freeze::Analysis,
    cython_names: &BTreeSet<String>,
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
    // Each entry is written as constants (the kind's value, not its name: `("packed", False,
    // "...")`), which the compiler folds into the code's constants: deep-frozen static tuples, so
    // nothing is built at each start for the 400-odd entries.
    let entry = |name: &str, kind: Load, package: bool, rel: &str| {
        let package = if package { "True" } else { "False" };
        format!("    {name:?}: ({:?}, {package}, {rel:?}),\n", kind.name())
    };
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
        table.push_str(&entry(&m.name, kind, m.package, &rel));
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
                pyc: Some(rel),
                pyc_only: false,
            });
        }
    }
    // Extension modules built from source, with the file python would load them from.
    for (name, rel) in extensions {
        let package = rel.rsplit('/').next().is_some_and(|f| f.starts_with("__init__."));
        table.push_str(&entry(name, Load::Extension, package, rel));
    }
    if let Some((file, name)) = script {
        let kind = if cython_names.contains(APP_MODULE) { Load::Cython } else { Load::Bytecode };
        table.push_str(&entry(APP_MODULE, kind, false, name));
        if kind == Load::Bytecode {
            list.push(freeze::ToFreeze {
                name: APP_MODULE.into(),
                file: file.to_path_buf(),
                package: false,
                filename: Some(format!("{}/{name}", runtime::VFS_ROOT)),
                source: None,
                packed: false,
                // python caches no bytecode of the script it runs
                pyc: None,
                pyc_only: false,
            });
        }
    }
    table.push_str("}\n");
    table.push_str(&format!("SCRIPT = {}\n", if script.is_some() { format!("{APP_MODULE:?}") } else { "None".into() }));
    // (JSON's strings are Python's.)
    let warnings = serde_json::to_string(&analysis.script_warnings).expect("strings and numbers");
    table.push_str(&format!("SCRIPT_WARNINGS = {warnings}\n\n"));
    list.push(freeze::ToFreeze {
        name: "_pyelf_importer".into(),
        file: dir.join("freeze.py"),
        package: false,
        // Import machinery, named as python's own loader is: CPython drops its frames from
        // tracebacks of code run at import, and warnings skip them when they count stack levels.
        filename: Some("<frozen importlib._bootstrap_external>".into()),
        source: Some(format!("{table}{}", runtime::IMPORTER_PY)),
        packed: false,
        pyc: None,
        pyc_only: false,
    });
    list
}

/// `frozen`, and the other modules of the app's and the dependencies' files compiled for their
/// `.pyc`, as pip compiles every module it installs: the modules Cython compiles, and the `.py`
/// files in directories that are no packages, which no import reaches (hooks, plugins loaded by
/// their file), are then not compiled at each start when found by their file. Not the script
/// (`script`, its name in the tree), whose bytecode python does not cache. The modules of the
/// stdlib's package directories that no import reaches (`tkinter`'s, most of `xml.dom`) get none:
/// they cost 0.6 MB on test.py, and the stdlib imports its own modules by name, which the
/// analysis follows.
fn with_pycs_of_the_tree(
    mut frozen: Vec<freeze::ToFreeze>,
    bundle: &[freeze::BundleFile],
    script: Option<&str>,
) -> Vec<freeze::ToFreeze> {
    let have: BTreeSet<String> = frozen.iter().filter_map(|m| m.pyc.clone()).collect();
    let more: Vec<freeze::ToFreeze> = bundle
        .iter()
        .filter(|f| f.arc.ends_with(".py") && !have.contains(&f.arc) && Some(f.arc.as_str()) != script)
        .filter(|f| !f.arc.starts_with(runtime::STDLIB_TREE))
        .map(|f| freeze::ToFreeze::pyc_only(&f.arc, &f.file))
        .collect();
    frozen.extend(more);
    frozen
}

/// Writes the SBOM as JSON (and to `copy_to`, when asked) and as the assembly of its ELF section;
/// returns the latter, to be linked in.
fn write_sbom(sbom: &serde_json::Value, dir: &Path, copy_to: Option<&Path>) -> Result<PathBuf> {
    let json = dir.join("sbom.json");
    fs::write(&json, serde_json::to_string_pretty(sbom)?)?;
    let asm = dir.join("sbom.S");
    fs::write(&asm, sbom::section_asm(&json))?;
    if let Some(path) = copy_to {
        fs::copy(&json, path).with_context(|| format!("cannot write the SBOM to {}", path.display()))?;
    }
    Ok(asm)
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
    let mut data = BTreeSet::new();
    for d in dists {
        let root = d.dist_info.parent().context("a dist-info has a parent")?;
        for f in walk(&d.dist_info)? {
            files.push(freeze::BundleFile { arc: rel_slash(&f, root), file: f });
        }
        // What pip installs under `sys.prefix` (a wheel's `.data/data`): under the tree's root,
        // which is the binary's `sys.prefix` (glances reads `share/doc/glances/glances.conf`).
        for rel in deps::data_files(d) {
            let file = root.join(&rel);
            if file.is_file() && data.insert(rel.clone()) {
                files.push(freeze::BundleFile { arc: rel, file });
            }
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
        let (beside, dest) = data_dest(dest).with_context(|| format!("--add-data {spec}"))?;
        let top = dest.split('/').next().unwrap_or("");
        if !beside && !analysis.modules.iter().any(|m| m.name == top && m.package) {
            bail!("--add-data {spec}: {top:?} is not a package of the app; DEST must start with one (e.g. mypkg/data), so that importlib.resources.files(\"mypkg\") reaches it, or with ./ to put SRC beside the script");
        }
        let prefix = if dest.is_empty() { String::new() } else { format!("{dest}/") };
        if src.is_dir() {
            for f in walk(&src)? {
                files.push(freeze::BundleFile { arc: format!("{prefix}{}", rel_slash(&f, &src)), file: f });
            }
        } else if src.is_file() {
            let name = src.file_name().and_then(|n| n.to_str()).unwrap_or("data");
            files.push(freeze::BundleFile { arc: format!("{prefix}{name}"), file: fs::canonicalize(&src)? });
        } else {
            bail!("--add-data {spec}: no such file or directory {}", src.display());
        }
    }
    // One entry a path: the first wins (the script over a module file of the same name).
    let mut arcs = BTreeSet::new();
    files.retain(|f| arcs.insert(f.arc.clone()));
    Ok(files)
}

/// An `--add-data` DEST: whether it is beside the script (`.` or `./PATH`), and its path inside
/// the app, refused with a `.` or `..` part (which would leave the app or name nothing).
fn data_dest(dest: &str) -> Result<(bool, &str)> {
    let (beside, path) = match dest {
        "." => (true, ""),
        d => match d.strip_prefix("./") {
            Some(rest) => (true, rest),
            None => (false, d),
        },
    };
    let path = path.trim_matches('/');
    if !path.is_empty() && path.split('/').any(|part| part == ".." || part == "." || part.is_empty()) {
        bail!("DEST must be a plain path inside the app, with no . or .. part and no empty one: {dest:?}");
    }
    Ok((beside, path))
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
    libraries: &[sbom::Component],
) -> Result<serde_json::Value> {
    use sbom::Component;
    let sources = sbom::toolchain_sources(&tc.root)?;
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
    Ok(sbom::document(&me, &components, &tc.target.triple))
}

#[cfg(test)]
mod tests {
    use super::data_dest;

    #[test]
    fn an_add_data_dest_is_beside_the_script_or_in_a_package_and_never_leaves_the_app() {
        assert_eq!(data_dest(".").unwrap(), (true, ""));
        assert_eq!(data_dest("./templates/").unwrap(), (true, "templates"));
        assert_eq!(data_dest("mypkg/data").unwrap(), (false, "mypkg/data"));
        for bad in ["../mypkg/data", "./../etc", "mypkg/../../etc", "./a/./b", ".mypkg/..", "a//b"] {
            assert!(data_dest(bad).is_err(), "{bad}");
        }
    }
}
