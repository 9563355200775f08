//! Building an app: the [`project`] resolved (script, package or project), its dependencies from
//! [`deps`], every module of the app compiled by Cython, the launcher, the frozen stdlib and the
//! embedded data, linked with the toolchain into one static ELF at the output path (written aside,
//! renamed when done).
//!
//! [`build`] runs the stages in order (`stages/`: the plan, the dependencies, the main script's C,
//! the analysis, the compiled modules, the bundle, the linked binary), each a function of the
//! earlier stages' typed results; after the plan, none reads the [`BuildOptions`].

pub mod cython;
pub mod deps;
pub mod fallbacks;
pub mod freeze;
pub mod inittab;
pub mod launcher;
pub mod lazyreloc;
pub mod link;
pub mod loadable;
pub mod names;
pub mod native;
pub mod objcache;
pub mod objects;
pub mod pip;
pub mod project;
pub mod rust;
pub mod sbom;
pub mod sizes;
mod stages;

use crate::home::Home;
use anyhow::Result;
use fs_err as fs;
use stages::{analysis, binary, bundle, compile, dependencies, plan};

pub use crate::options::BuildOptions;
pub use names::APP_MODULE;
pub use stages::binary::Built;
pub use stages::bundle::linked_sources;
pub use stages::compile::matches_pattern;

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
    let plan = plan::make(home, opts)?;
    let resolved = dependencies::resolve(&plan)?;
    let script = compile::script(&plan, &resolved)?;
    let analysed = analysis::analyse(&plan, &resolved)?;
    let compiled = compile::modules(&plan, &resolved, &analysed, script)?;
    let bundle = bundle::assemble(&plan, &resolved, &analysed, &compiled)?;
    binary::link_and_install(&plan, &compiled, bundle)
}
