//! Which of the modules Cython would compile are embedded as bytecode instead, because compiled
//! they would behave differently: the rules are data (`toolchains/cython-fallbacks.toml`), the
//! analysis reports which of their names each module's code uses (`src/build/freeze.py`), and
//! [`choose`] decides, module by module, with the user's `--cython` and `--no-cython` last.

use serde::Deserialize;
use std::sync::OnceLock;

/// The text of `toolchains/cython-fallbacks.toml`.
pub const FALLBACKS_TOML: &str = include_str!("../../toolchains/cython-fallbacks.toml");

/// `toolchains/cython-fallbacks.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Rules {
    /// The module whose import marks code written for Cython (its pure-Python mode).
    pub cython_module: String,
    /// Packages that take the app's functions as Python functions.
    pub package: Vec<PackageRule>,
    /// Names whose use shows that a module looks at its functions or frames.
    pub names: Vec<NamesRule>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackageRule {
    pub module: String,
    pub reason: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamesRule {
    pub names: Vec<String>,
    pub reason: String,
    pub scope: Scope,
}

/// Which modules a names rule sends to bytecode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Every module Cython would compile: the module looks at functions that may be any module's.
    App,
    /// The module that uses the name.
    Module,
}

/// The rules, read once.
pub fn rules() -> &'static Rules {
    static RULES: OnceLock<Rules> = OnceLock::new();
    RULES.get_or_init(|| {
        toml::from_str(FALLBACKS_TOML).expect("toolchains/cython-fallbacks.toml is valid (checked by the tests)")
    })
}

impl Rules {
    /// Every name the analysis is to report the use of (besides an import of
    /// [`Rules::cython_module`], which it reports by that name).
    pub fn watched_names(&self) -> Vec<String> {
        let mut all: Vec<String> =
            self.names.iter().flat_map(|r| r.names.iter().flat_map(|n| n.split('.').map(str::to_string))).collect();
        all.sort();
        all.dedup();
        all
    }

    /// Why every module Cython would compile is embedded as bytecode, if so: a package rule holds
    /// for a module of `bundled` (its module or a submodule of it), or a module of `modules`
    /// (name, the watched names its code uses) uses a name of an app-wide rule.
    pub fn app_wide<'a>(
        &self,
        bundled: impl IntoIterator<Item = &'a str>,
        modules: impl IntoIterator<Item = (&'a str, &'a [String])>,
    ) -> Option<String> {
        let bundled: Vec<&str> = bundled.into_iter().collect();
        let is_bundled =
            |m: &str| bundled.iter().any(|b| *b == m || b.strip_prefix(m).is_some_and(|rest| rest.starts_with('.')));
        if let Some(p) = self.package.iter().find(|r| is_bundled(&r.module)) {
            return Some(format!("the app bundles {}, which {}", p.module, p.reason));
        }
        for (module, uses) in modules {
            if let Some((rule, name)) = self.first_use(uses, Scope::App) {
                return Some(format!("{module} uses `{name}`: it {}", rule.reason));
            }
        }
        None
    }

    /// The first rule of `scope` whose name `uses` holds, with that name.
    fn first_use(&self, uses: &[String], scope: Scope) -> Option<(&NamesRule, &str)> {
        self.names.iter().filter(|r| r.scope == scope).find_map(|r| {
            r.names.iter().find(|n| n.split('.').all(|part| uses.iter().any(|u| u == part))).map(|n| (r, n.as_str()))
        })
    }
}

/// How a module Cython could compile is embedded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    Compile,
    /// As bytecode, and why (None: the user asked for it with `--no-cython`).
    Bytecode(Option<String>),
}

/// What the user asked for a module on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asked {
    Nothing,
    /// `--cython`: compiled whatever the rules say.
    Compile,
    /// `--no-cython`: never compiled.
    Bytecode,
}

/// Whose module is decided on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Whose {
    /// The app's own (or its script): what it does with functions may concern the whole app.
    App,
    /// A dependency's (compiled with `--compile-deps`): all it does concerns it alone.
    Dependency,
}

impl Whose {
    pub fn of(origin: crate::build::freeze::Origin) -> Whose {
        if origin == crate::build::freeze::Origin::App {
            Whose::App
        } else {
            Whose::Dependency
        }
    }
}

/// Decides for a module whose code uses the watched names `uses`, when `app_wide` says why every
/// module is to be bytecode ([`Rules::app_wide`], over the app's own modules). A dependency's
/// module is also kept as bytecode for the names of app-wide rules (its own functions).
pub fn choose(rules: &Rules, uses: &[String], whose: Whose, app_wide: Option<&str>, asked: Asked) -> Choice {
    match asked {
        Asked::Bytecode => return Choice::Bytecode(None),
        Asked::Compile => return Choice::Compile,
        Asked::Nothing => {}
    }
    if let Some(why) = app_wide {
        return Choice::Bytecode(Some(why.to_string()));
    }
    if uses.contains(&rules.cython_module) {
        return Choice::Compile; // written for Cython
    }
    let found = match whose {
        Whose::App => rules.first_use(uses, Scope::Module),
        Whose::Dependency => rules.first_use(uses, Scope::App).or_else(|| rules.first_use(uses, Scope::Module)),
    };
    match found {
        Some((rule, name)) => Choice::Bytecode(Some(format!("its code uses `{name}`: it {}", rule.reason))),
        None => Choice::Compile,
    }
}

/// The notes for the modules embedded as bytecode by a rule, one line per reason:
/// `(module name as the user knows it, reason)` in, lines out.
pub fn notes(fallen: &[(String, String)]) -> Vec<String> {
    let mut by_reason: Vec<(&str, Vec<&str>)> = Vec::new();
    for (module, reason) in fallen {
        match by_reason.iter_mut().find(|(r, _)| r == reason) {
            Some((_, modules)) => modules.push(module),
            None => by_reason.push((reason, vec![module])),
        }
    }
    by_reason
        .into_iter()
        .map(|(reason, modules)| {
            let hint = format!("--cython {}", modules[0]);
            format!(
                "embedded as bytecode, not compiled by Cython: {}: {reason} (`{hint}` compiles {} anyway)",
                modules.join(", "),
                if modules.len() == 1 { "it" } else { "one" }
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uses(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_rules_parse_and_hold_together() {
        let r = rules();
        let names = r.watched_names();
        let mut all: Vec<&String> = r.names.iter().flat_map(|n| &n.names).collect();
        let count = all.len();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), count, "no name in two rules");
        assert!(names.iter().all(|n| !n.contains('.')), "the analysis reports plain names");
        assert!(names.contains(&"inspect".to_string()) && names.contains(&"stack".to_string()));
        assert!(!names.contains(&r.cython_module), "an import of cython is reported, not its name");
        for dotted in all.iter().filter(|n| n.contains('.')) {
            for part in dotted.split('.') {
                assert!(!all.iter().any(|n| *n == part), "{part} of {dotted} is a rule's name on its own too");
            }
        }
        for p in &r.package {
            assert!(!p.module.is_empty() && !p.reason.is_empty());
        }
        for p in ["cloudpickle", "dill", "joblib", "numba", "zope.interface"] {
            assert!(r.package.iter().any(|x| x.module == p), "{p}");
        }
    }

    #[test]
    fn packages_are_matched_by_their_modules_and_submodules() {
        let r = rules();
        let none: [(&str, &[String]); 0] = [];
        let why = r.app_wide(["os", "zope.interface.verify"], none).unwrap();
        assert!(why.starts_with("the app bundles zope.interface, which accepts only"), "{why}");
        assert!(r.app_wide(["joblib"], none).unwrap().contains("joblib"));
        assert!(r.app_wide(["zope", "zope.event", "cloudpickler", "joblibs.x"], none).is_none());
    }

    #[test]
    fn a_module_looking_at_functions_sends_every_module_to_bytecode() {
        let r = rules();
        let (a, b) = (uses(&["getLogger"]), uses(&["isfunction", "getsource"]));
        let modules = [("app.log", a.as_slice()), ("app.registry", b.as_slice())];
        let why = r.app_wide(["app.log", "app.registry"], modules).unwrap();
        assert_eq!(
            why,
            "app.registry uses `isfunction`: it tells Python functions from others, and may be given any module's"
        );
        assert!(r.app_wide(["app.log"], [("app.log", a.as_slice())]).is_none(), "logging concerns the module alone");
    }

    #[test]
    fn code_telling_generators_by_their_type_keeps_generators_as_python_makes_them() {
        // PyYAML's constructor runs its generator constructors and checks `types.GeneratorType`:
        // compiled with --compile-deps, `yaml.safe_load` returned Cython's generator object.
        let r = rules();
        let constructor = uses(&["types", "GeneratorType", "isinstance"]);
        let Choice::Bytecode(Some(why)) = choose(r, &constructor, Whose::Dependency, None, Asked::Nothing) else {
            panic!("yaml.constructor is compiled")
        };
        assert_eq!(why, "its code uses `GeneratorType`: it tells Python generators and coroutines from others, and may be given any module's");
        let checks = uses(&["inspect", "isgenerator"]);
        assert!(r.app_wide(["app.run"], [("app.run", checks.as_slice())]).is_some());
        // asyncio.iscoroutine accepts Cython's coroutines (collections.abc): not a reason.
        let asyncio = uses(&["asyncio", "iscoroutine"]);
        assert!(r.app_wide(["app.run"], [("app.run", asyncio.as_slice())]).is_none());
        assert_eq!(choose(r, &asyncio, Whose::Dependency, None, Asked::Nothing), Choice::Compile);
    }

    #[test]
    fn a_module_giving_functions_to_pydantic_keeps_them_python_functions() {
        let r = rules();
        let model = uses(&["pydantic", "BaseModel", "computed_field", "property"]);
        let Choice::Bytecode(Some(why)) = choose(r, &model, Whose::App, None, Asked::Nothing) else {
            panic!("a module with a computed field is compiled")
        };
        assert_eq!(why, "its code uses `computed_field`: it gives its functions to pydantic, which takes them only as Python functions");
        assert!(r.app_wide(["app.models"], [("app.models", model.as_slice())]).is_none(), "the module alone");
        let plain = uses(&["pydantic", "BaseModel", "field_validator"]);
        assert_eq!(choose(r, &plain, Whose::App, None, Asked::Nothing), Choice::Compile);
    }

    #[test]
    fn the_user_comes_first_then_the_app_then_cython_modules_then_the_module() {
        let r = rules();
        let why = "the app bundles cloudpickle, which pickles";
        let wide = Some(why);
        assert_eq!(choose(r, &uses(&[]), Whose::App, None, Asked::Nothing), Choice::Compile);
        assert_eq!(choose(r, &uses(&["getLogger"]), Whose::App, wide, Asked::Compile), Choice::Compile);
        assert_eq!(choose(r, &uses(&[]), Whose::App, None, Asked::Bytecode), Choice::Bytecode(None));
        assert_eq!(choose(r, &uses(&["cython"]), Whose::App, wide, Asked::Nothing), Choice::Bytecode(Some(why.into())));
        assert_eq!(choose(r, &uses(&["cython", "getLogger"]), Whose::App, None, Asked::Nothing), Choice::Compile);
        let Choice::Bytecode(Some(why)) = choose(r, &uses(&["warn"]), Whose::App, None, Asked::Nothing) else {
            panic!()
        };
        assert!(why.starts_with("its code uses `warn`: it warns"), "{why}");
        let (plain, stack) = (uses(&["stack"]), uses(&["inspect", "stack"]));
        assert!(r.app_wide([], [("m", plain.as_slice())]).is_none(), "`self.stack` is no call stack");
        assert!(r.app_wide([], [("m", stack.as_slice())]).unwrap().contains("`inspect.stack`"));
        // App-wide names are for `Rules::app_wide`, not for the module alone.
        assert_eq!(choose(r, &uses(&["getsource"]), Whose::App, None, Asked::Nothing), Choice::Compile);
        // A dependency's look at functions concerns its own.
        let Choice::Bytecode(Some(why)) = choose(r, &uses(&["_getframe"]), Whose::Dependency, None, Asked::Nothing)
        else {
            panic!()
        };
        assert!(why.starts_with("its code uses `_getframe`"), "{why}");
    }

    #[test]
    fn one_note_per_reason_naming_the_modules() {
        let fallen = vec![
            ("app".to_string(), "because A".to_string()),
            ("app.b".to_string(), "because B".to_string()),
            ("app.c".to_string(), "because A".to_string()),
        ];
        assert_eq!(
            notes(&fallen),
            [
                "embedded as bytecode, not compiled by Cython: app, app.c: because A (`--cython app` compiles one anyway)",
                "embedded as bytecode, not compiled by Cython: app.b: because B (`--cython app.b` compiles it anyway)",
            ]
        );
    }
}
