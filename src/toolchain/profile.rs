//! Build profiles of a toolchain's CPython (`toolchains/profiles.toml`): the profile-guided build
//! every build and test uses unless told otherwise, the quick `-O2` one, and the PGO+LTO one. Each profile is a
//! toolchain of its own: its definition is part of the toolchain key, and its name part of the
//! toolchain's directory name (except the default profile's, whose toolchains keep `<triple>-<key>`).

use anyhow::{bail, Result};
use serde::Deserialize;
use std::collections::BTreeMap;

/// `toolchains/profiles.toml`, as compiled in.
pub const PROFILES_TOML: &str = include_str!("../../toolchains/profiles.toml");

/// The training run of PGO profiles (`toolchains/pgo/train.py`), as compiled in.
pub const TRAINING_PY: &str = include_str!("../../toolchains/pgo/train.py");

/// How often the training run goes through its parts.
pub const TRAINING_ROUNDS: u32 = 3;

/// One profile.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Its name (the key in the file).
    #[serde(skip)]
    pub name: String,
    /// What it is, for `--help` and messages.
    pub about: String,
    /// Extra arguments to CPython's configure.
    pub configure: Vec<String>,
    /// Whether CPython is built with profile-guided optimisation, trained by [`TRAINING_PY`].
    pub pgo: bool,
    /// Whether libpython's objects are optimised together when the toolchain is built, so that
    /// apps link link-time optimised code without a whole-program pass of their own
    /// ([`crate::toolchain::lto`]).
    #[serde(default, rename = "libpython-lto")]
    pub libpython_lto: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    default: String,
    profile: BTreeMap<String, Profile>,
}

/// Every profile and the default's name.
#[derive(Debug, Clone)]
pub struct Profiles {
    pub default: String,
    pub all: BTreeMap<String, Profile>,
}

impl Profiles {
    /// Parses a profiles file.
    pub fn parse(text: &str) -> Result<Profiles> {
        let file: File = toml::from_str(text).map_err(|e| anyhow::anyhow!("toolchains/profiles.toml: {e}"))?;
        let all: BTreeMap<String, Profile> =
            file.profile.into_iter().map(|(name, p)| (name.clone(), Profile { name, ..p })).collect();
        if !all.contains_key(&file.default) {
            bail!("toolchains/profiles.toml: the default profile {:?} is not defined", file.default);
        }
        if let Some(bad) =
            all.keys().find(|n| n.is_empty() || !n.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()))
        {
            bail!("toolchains/profiles.toml: profile name {bad:?} must be lower-case letters and digits");
        }
        Ok(Profiles { default: file.default, all })
    }

    /// The profiles compiled into pyelf.
    pub fn builtin() -> &'static Profiles {
        static P: std::sync::OnceLock<Profiles> = std::sync::OnceLock::new();
        P.get_or_init(|| {
            Profiles::parse(PROFILES_TOML).expect("the profiles compiled into pyelf are valid (checked by the tests)")
        })
    }

    /// The profile called `name`, or the default one.
    pub fn get(&self, name: Option<&str>) -> Result<&Profile> {
        let name = name.unwrap_or(&self.default);
        match self.all.get(name) {
            Some(p) => Ok(p),
            None => bail!(
                "no toolchain profile {name:?}\nhint: the profiles are {} (toolchains/profiles.toml)",
                self.all.keys().map(|k| k.as_str()).collect::<Vec<_>>().join(", ")
            ),
        }
    }
}

impl Profile {
    /// Whether this is the default profile.
    pub fn is_default(&self) -> bool {
        Profiles::builtin().default == self.name
    }

    /// The profile's definition for the toolchain key: its settings, and the training run if it
    /// has one (a changed training set is another profile).
    pub fn key_text(&self) -> String {
        let mut text = format!("configure={:?} pgo={}", self.configure, self.pgo);
        if self.libpython_lto {
            text.push_str(" libpython-lto");
        }
        if self.pgo {
            text.push_str(&format!(" rounds={TRAINING_ROUNDS}\n{TRAINING_PY}"));
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_profiles_parse_and_the_default_is_profile_guided_with_libpython_optimised_together() {
        let p = Profiles::parse(PROFILES_TOML).unwrap();
        let default = p.get(None).unwrap();
        assert_eq!(default.name, "pgo");
        assert!(p.get(Some("release")).unwrap().pgo);
        assert!(!p.get(Some("quick")).unwrap().pgo);
        // Profile-guided, and libpython optimised together once, rather than CPython's own LTO
        // (`--with-lto`), which binaries do not link.
        assert!(default.pgo && default.libpython_lto && !default.configure.iter().any(|a| a.contains("lto")));
        assert!(!p.get(Some("quick")).unwrap().libpython_lto);
        let e = p.get(Some("fast")).unwrap_err().to_string();
        assert!(e.contains("no toolchain profile \"fast\"") && e.contains("pgo, quick, release"), "{e}");
    }

    #[test]
    fn bad_files_are_refused() {
        let undefined = "default = \"x\"\n[profile.quick]\nabout = \"\"\nconfigure = []\npgo = false\n";
        assert!(Profiles::parse(undefined).unwrap_err().to_string().contains("\"x\" is not defined"));
        let bad_name = "default = \"Q-1\"\n[profile.Q-1]\nabout = \"\"\nconfigure = []\npgo = false\n";
        assert!(Profiles::parse(bad_name).unwrap_err().to_string().contains("lower-case"));
        let unknown = "default = \"q\"\n[profile.q]\nabout = \"\"\nconfigure = []\npgo = false\nlto = true\n";
        assert!(Profiles::parse(unknown).unwrap_err().to_string().contains("unknown field"));
    }

    #[test]
    fn the_training_set_is_part_of_a_pgo_profiles_key() {
        let p = Profiles::builtin();
        let release = p.get(Some("release")).unwrap();
        assert!(release.key_text().contains(TRAINING_PY));
        assert!(
            !p.get(Some("quick")).unwrap().key_text().contains(TRAINING_PY),
            "the quick profile does not depend on it"
        );
    }
}
