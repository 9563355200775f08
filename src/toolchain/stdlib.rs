//! What pyelf knows of CPython's standard library, as data (`toolchains/stdlib.toml`): the modules
//! a toolchain must have built in, the interpreter's own inittab entries, what the interpreter
//! imports by itself, which C library each built-in module links in, and the Python modules C
//! modules import. The analysis (`src/build/freeze.py`) gets its part as JSON
//! (`crate::build::freeze::facts_for_analysis`).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// The text of `toolchains/stdlib.toml`.
pub const STDLIB_TOML: &str = include_str!("../../toolchains/stdlib.toml");

/// `toolchains/stdlib.toml`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Facts {
    pub required_modules: Vec<String>,
    pub core_modules: Vec<String>,
    pub startup: Vec<String>,
    pub always_packages: Vec<String>,
    /// Modules whose code objects are built as static objects (`src/build/deepfreeze.py`).
    pub deep_frozen: Vec<String>,
    /// Names whose use shows that the app runs code it is given at run time (`run_path`).
    pub runs_given_code: Vec<String>,
    /// Packages whose own use of those names says nothing of the app (setuptools).
    pub runs_given_code_ignored: Vec<String>,
    pub full_excluded: Vec<String>,
    pub module_libraries: BTreeMap<String, String>,
    pub c_module_deps: BTreeMap<String, Vec<String>>,
}

/// The facts, read once.
pub fn facts() -> &'static Facts {
    static FACTS: OnceLock<Facts> = OnceLock::new();
    FACTS.get_or_init(|| toml::from_str(STDLIB_TOML).expect("toolchains/stdlib.toml is valid (checked by the tests)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_facts_parse_and_hold_together() {
        let f = facts();
        let pins = crate::toolchain::pins::Pins::builtin();
        for (module, source) in &f.module_libraries {
            assert!(pins.source(source).is_ok(), "{module} links {source}, which is not pinned");
        }
        for list in [&f.required_modules, &f.core_modules, &f.startup, &f.full_excluded, &f.deep_frozen] {
            let mut sorted = list.clone();
            sorted.sort();
            sorted.dedup();
            assert_eq!(sorted.len(), list.len(), "no name twice in {list:?}");
        }
        assert!(f.required_modules.iter().any(|m| m == "_ssl"));
        assert!(f.c_module_deps["_json"].contains(&"json.decoder".to_string()));
    }
}
