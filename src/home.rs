//! Where pyelf keeps its caches: `$PYELF_HOME`, else `$XDG_CACHE_HOME/pyelf`, else `~/.cache/pyelf`.

use anyhow::{bail, Result};
use std::path::{Path, PathBuf};

/// The root of pyelf's caches (sources, toolchains).
#[derive(Debug, Clone)]
pub struct Home {
    root: PathBuf,
}

impl Home {
    /// Reads the location from the environment.
    pub fn from_env() -> Result<Home> {
        let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
        if let Some(p) = var("PYELF_HOME") {
            return Ok(Home::at(p));
        }
        if let Some(p) = var("XDG_CACHE_HOME") {
            return Ok(Home::at(p.join("pyelf")));
        }
        if let Some(p) = var("HOME") {
            return Ok(Home::at(p.join(".cache").join("pyelf")));
        }
        bail!("cannot tell where to keep pyelf's cache: set PYELF_HOME (or XDG_CACHE_HOME or HOME)")
    }

    pub fn at(root: impl Into<PathBuf>) -> Home {
        let root = root.into();
        // Absolute, so that paths stay right when a build step changes directory.
        let root =
            if root.is_absolute() { root } else { std::env::current_dir().map(|d| d.join(&root)).unwrap_or(root) };
        Home { root }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Content-addressed source archives: `sources/<sha256>`.
    pub fn sources(&self) -> PathBuf {
        self.root.join("sources")
    }

    /// Finished toolchains, one directory per key.
    pub fn toolchains(&self) -> PathBuf {
        self.root.join("toolchains")
    }
}
