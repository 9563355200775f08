//! What a finished toolchain hands an app build, in one file: `toolchain.toml`, written last into
//! a complete toolchain (a directory without it is not trusted) and read back by the same types.
//!
//! It records what the toolchain was built from (sources, target, host compiler), what the build
//! found (`sys.builtin_module_names`, configure's state of each stdlib extension module) and the
//! final link of an app (libraries and flags). The CPython recipe hands its part over in
//! [`CpythonPart`], written into the partial toolchain so that a resumed build still has it.
//! Besides this file, the toolchain holds CPython's generated inittab (`lib/python-inittab.c`),
//! which is C source and stays a file.

use anyhow::{Context, Result};
use fs_err as fs;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The file name, in the toolchain's root.
pub const FILE: &str = "toolchain.toml";

/// The version of this file's layout; part of the toolchain key, so a change rebuilds.
pub const FORMAT: u32 = 3;

/// Where recipes leave their parts in a partial toolchain (removed when it is finished).
const PARTS: &str = ".pyelf-parts";

/// `toolchain.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: u32,
    /// `<triple>-<key>` (or `<triple>-<profile>-<key>`), the toolchain's directory name.
    pub name: String,
    pub target: String,
    /// The profile it was built in (`toolchains/profiles.toml`).
    pub profile: String,
    /// The host compiler's version line.
    pub host_cc: String,
    pub source_date_epoch: u64,
    /// The build machine's python3 that ran CPython's cross build, for a cross toolchain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_python: Option<PathBuf>,
    /// `sys.builtin_module_names` of the toolchain's python3, sorted.
    pub builtin_modules: Vec<String>,
    /// The final link of an app against this toolchain.
    pub link: Link,
    /// configure's state of each stdlib extension module.
    pub modules: BTreeMap<String, ModuleState>,
    /// The sha256 of the PGO training's counts (a `pgo` or `release` toolchain): the same build
    /// inputs give the same counts, and so the same machine code, in any home.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pgo_profile: Option<String>,
    pub source: Vec<SourceRecord>,
    /// The build steps and their seconds.
    pub step: Vec<StepRecord>,
}

/// The final link: `<cc> <objects> <libs> <ldflags>`. Paths starting with `lib/` are relative to
/// the toolchain root.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Link {
    pub libs: Vec<String>,
    pub ldflags: Vec<String>,
}

/// configure's state of a stdlib extension module (`MODULE_<NAME>_STATE` in CPython's Makefile).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModuleState {
    /// Built.
    Yes,
    /// Its library or header was not found.
    Missing,
    /// Turned off (by configure's options or the platform).
    Disabled,
    /// Not applicable on this platform.
    #[serde(rename = "n/a")]
    NotApplicable,
}

impl ModuleState {
    /// Parses a Makefile value.
    pub fn parse(text: &str) -> Result<ModuleState> {
        Ok(match text {
            "yes" => ModuleState::Yes,
            "missing" => ModuleState::Missing,
            "disabled" => ModuleState::Disabled,
            "n/a" => ModuleState::NotApplicable,
            other => anyhow::bail!("unknown module state {other:?} in CPython's Makefile"),
        })
    }

    /// Whether the state means a module that should be there is not.
    pub fn is_failure(self) -> bool {
        matches!(self, ModuleState::Missing | ModuleState::Disabled)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ModuleState::Yes => "yes",
            ModuleState::Missing => "missing",
            ModuleState::Disabled => "disabled",
            ModuleState::NotApplicable => "n/a",
        }
    }
}

/// A source the toolchain was built from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceRecord {
    pub name: String,
    pub version: String,
    /// Of the archive used.
    pub sha256: String,
    /// The archive's file name.
    pub file: String,
}

/// A build step and its seconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepRecord {
    pub name: String,
    pub seconds: f64,
}

/// What the CPython recipe finds for the manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CpythonPart {
    pub link: Link,
    pub modules: BTreeMap<String, ModuleState>,
    #[serde(default)]
    pub pgo_profile: Option<String>,
}

impl CpythonPart {
    fn path(root: &Path) -> PathBuf {
        root.join(PARTS).join("cpython.toml")
    }

    /// Writes the part into the partial toolchain `root`.
    pub fn write(&self, root: &Path) -> Result<()> {
        let path = CpythonPart::path(root);
        fs::create_dir_all(path.parent().expect("parts directory"))?;
        fs::write(&path, toml::to_string(self)?)?;
        Ok(())
    }

    /// Reads the part back from the partial toolchain `root`.
    pub fn read(root: &Path) -> Result<CpythonPart> {
        let path = CpythonPart::path(root);
        toml::from_str(&fs::read_to_string(&path)?).with_context(|| format!("{} is damaged", path.display()))
    }

    /// Removes the parts once the manifest holds them.
    pub fn remove_all(root: &Path) -> Result<()> {
        let dir = root.join(PARTS);
        crate::fsutil::remove_dir_if_present(&dir)?;
        Ok(())
    }
}

impl Manifest {
    /// Whether `root` holds a finished toolchain (its manifest is written last).
    pub fn exists(root: &Path) -> bool {
        root.join(FILE).is_file()
    }

    /// Reads the manifest of the toolchain in `root`.
    pub fn read(root: &Path) -> Result<Manifest> {
        let path = root.join(FILE);
        let text = fs::read_to_string(&path)?;
        Manifest::parse(&text).with_context(|| {
            format!(
                "{} is damaged or of another pyelf version\nhint: delete {} to build it again",
                path.display(),
                root.display()
            )
        })
    }

    /// Parses a manifest's text.
    pub fn parse(text: &str) -> Result<Manifest> {
        let m: Manifest = toml::from_str(text)?;
        anyhow::ensure!(m.format == FORMAT, "format {} where this pyelf reads format {FORMAT}", m.format);
        Ok(m)
    }

    /// The manifest's text.
    pub fn to_toml(&self) -> Result<String> {
        Ok(format!(
            "# A complete pyelf toolchain (written last; a directory without it is not trusted)\n{}",
            toml::to_string(self)?
        ))
    }

    /// The seconds the build steps took.
    pub fn seconds(&self) -> f64 {
        self.step.iter().map(|s| s.seconds).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Manifest {
        Manifest {
            format: FORMAT,
            name: "x86_64-unknown-linux-musl-0123456789abcdef".into(),
            target: "x86_64-unknown-linux-musl".into(),
            profile: "quick".into(),
            host_cc: "gcc (Debian 12.2.0-14) 12.2.0".into(),
            source_date_epoch: 1_700_000_000,
            build_python: None,
            builtin_modules: vec!["_abc".into(), "zlib".into()],
            link: Link { libs: vec!["lib/libpython3.13.a".into(), "-lz".into()], ldflags: vec!["-static".into()] },
            modules: [("zlib".to_string(), ModuleState::Yes), ("_tkinter".to_string(), ModuleState::Missing)]
                .into_iter()
                .collect(),
            pgo_profile: None,
            source: vec![SourceRecord {
                name: "zlib".into(),
                version: "1.3.1".into(),
                sha256: "ab".repeat(32),
                file: "zlib-1.3.1.tar.gz".into(),
            }],
            step: vec![
                StepRecord { name: "zlib".into(), seconds: 2.5 },
                StepRecord { name: "musl".into(), seconds: 1.0 },
            ],
        }
    }

    #[test]
    fn the_manifest_round_trips() {
        let m = sample();
        let text = m.to_toml().unwrap();
        assert!(text.contains("_tkinter = \"missing\""), "{text}");
        assert_eq!(Manifest::parse(&text).unwrap(), m);
        assert_eq!(m.seconds(), 3.5);
        assert!(!text.contains("pgo_profile"), "a toolchain without PGO names no profile:\n{text}");
        let pgo = Manifest { profile: "pgo".into(), pgo_profile: Some("cd".repeat(32)), ..m };
        assert_eq!(Manifest::parse(&pgo.to_toml().unwrap()).unwrap(), pgo);
    }

    #[test]
    fn another_format_or_an_unknown_field_is_refused() {
        let text = sample().to_toml().unwrap();
        let old = text.replace(&format!("format = {FORMAT}"), "format = 1");
        assert!(Manifest::parse(&old).unwrap_err().to_string().contains("format 1"));
        assert!(Manifest::parse(&format!("surprise = 1\n{text}")).is_err());
    }

    #[test]
    fn module_states_parse_and_serialize_as_the_makefile_writes_them() {
        for s in ["yes", "missing", "disabled", "n/a"] {
            let state = ModuleState::parse(s).unwrap();
            assert_eq!(state.as_str(), s);
            assert_eq!(serde_json::to_string(&state).unwrap(), format!("\"{s}\""));
        }
        assert!(ModuleState::parse("maybe").is_err());
        assert!(ModuleState::Missing.is_failure() && !ModuleState::NotApplicable.is_failure());
    }

    #[test]
    fn the_cpython_part_round_trips_through_the_partial_toolchain() {
        let dir = tempfile::tempdir().unwrap();
        let m = sample();
        let part = CpythonPart { link: m.link.clone(), modules: m.modules.clone(), pgo_profile: m.pgo_profile.clone() };
        part.write(dir.path()).unwrap();
        assert_eq!(CpythonPart::read(dir.path()).unwrap(), part);
        CpythonPart::remove_all(dir.path()).unwrap();
        assert!(CpythonPart::read(dir.path()).is_err());
    }
}
