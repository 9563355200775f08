//! Link-time optimisation of libpython, once, when the toolchain is built.
//!
//! An app links libpython's machine code without a whole-program pass (`-fno-lto`), so that it
//! links in seconds. To give it LTO's gains all the same (CPython's small functions inlined
//! across its files: the dict, str and number code its C modules and the eval loop call), a
//! profile with `libpython-lto` compiles libpython with GCC's IR beside the machine code (fat
//! objects; every link of CPython's own build uses the machine code) and then optimises most of
//! its objects together into one relocatable object: `gcc -r -flto -flinker-output=nolto-rel`,
//! machine code only, still a section per function and variable for an app's `--gc-sections`,
//! every global symbol kept. The archive apps link holds that object and the members left out of
//! it ([`choose`]).

use anyhow::{bail, Context, Result};
use std::collections::{BTreeMap, BTreeSet};

/// The flags the objects to merge are compiled with, besides their own (`-flto`: GCC's IR;
/// `-ffat-lto-objects`: machine code too, which every link but the merge uses).
pub const COMPILE_FLAGS: &str = "-flto -ffat-lto-objects";

/// The flag every link of CPython's own build gets, so that the fat objects' machine code is
/// linked rather than optimised again from their IR.
pub const LINK_FLAG: &str = "-fno-lto";

/// The name of the merged object in the archive.
pub const MERGED: &str = "libpython-lto.o";

/// The global symbols an object defines and those it refers to without defining them.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Symbols {
    pub defined: BTreeSet<String>,
    pub undefined: BTreeSet<String>,
}

/// Reads `nm -A -P -g` (POSIX format, each line prefixed with its file, global symbols only):
/// each file's symbols, keyed by the file as nm names it (`path`, or `archive[member]`).
pub fn parse_nm(text: &str) -> Result<BTreeMap<String, Symbols>> {
    let mut out: BTreeMap<String, Symbols> = BTreeMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let (file, rest) = line.rsplit_once(": ").with_context(|| format!("nm: unexpected line {line:?}"))?;
        let mut fields = rest.split_whitespace();
        let (Some(name), Some(kind)) = (fields.next(), fields.next()) else {
            bail!("nm: unexpected line {line:?}");
        };
        let entry = out.entry(file.to_string()).or_default();
        // `U` undefined, `w`/`v` weak references: what the object needs from elsewhere. Every
        // other type (code, data, bss, weak and common definitions) defines the name.
        match kind {
            "U" | "w" | "v" => entry.undefined.insert(name.to_string()),
            _ => entry.defined.insert(name.to_string()),
        };
    }
    Ok(out)
}

/// Which of `objects` (paths, each with its symbols in `symbols`) are optimised together, and
/// why each other one is left as a member of its own. Left out are:
/// - `replaced`: members an app links its own of, or that are rebuilt after this (the inittab,
///   `getpath.o`);
/// - an object that defines a symbol of `wrapped`: `ld --wrap` redirects only references between
///   objects, and the merge would turn them into references within one;
/// - an object that refers to a symbol defined neither by libpython's objects nor by `system`
///   (libc and libgcc): one that uses OpenSSL, SQLite, ncurses…, which merged would pull its
///   library into every app;
/// - and, for the same reason, an object that refers to one of those (`_sqlite/row.o` to the
///   functions of `_sqlite/cursor.o`).
pub fn choose(
    objects: &[String],
    symbols: &BTreeMap<String, Symbols>,
    system: &BTreeSet<String>,
    replaced: &[&str],
    wrapped: &[&str],
) -> (Vec<String>, Vec<(String, String)>) {
    // nm lists nothing of an object without global symbols (one compiled empty: the JIT's, the
    // free-threaded build's parts).
    let none = Symbols::default();
    let of = |o: &String| symbols.get(o).unwrap_or(&none);
    let ours: BTreeSet<&String> = objects.iter().flat_map(|o| &of(o).defined).collect();
    let mut why: BTreeMap<&String, String> = BTreeMap::new();
    // Those left out for a library: what refers to them is left out too.
    let mut pulling: Vec<&String> = Vec::new();
    for o in objects {
        let s = of(o);
        if replaced.contains(&o.as_str()) {
            why.insert(o, "replaced at an app's link or later".into());
        } else if let Some(w) = wrapped.iter().find(|w| s.defined.contains(**w)) {
            why.insert(o, format!("defines {w}, which apps wrap"));
        } else if let Some(u) = s.undefined.iter().find(|u| !ours.contains(u) && !system.contains(*u)) {
            why.insert(o, format!("refers to {u}, of another library"));
            pulling.push(o);
        }
    }
    while let Some(puller) = pulling.pop() {
        for o in objects {
            if why.contains_key(o) {
                continue;
            }
            if let Some(sym) = of(o).undefined.iter().find(|u| of(puller).defined.contains(*u)) {
                why.insert(o, format!("refers to {sym} of {puller}, which refers to another library"));
                pulling.push(o);
            }
        }
    }
    let (mut merged, mut kept) = (Vec::new(), Vec::new());
    for o in objects {
        match why.remove(o) {
            Some(reason) => kept.push((o.clone(), reason)),
            None => merged.push(o.clone()),
        }
    }
    (merged, kept)
}

/// Checks [`choose`]'s answer against what the recipe relies on, which a CPython whose files moved
/// or an nm that read nothing of an object would break without a word: every member `replaced`
/// is among the objects, each symbol apps wrap that libc and libgcc (`system`) do not define is
/// libpython's and defined by a member left out, and `core` (the eval loop) is merged.
pub fn check_choice(
    objects: &[String],
    symbols: &BTreeMap<String, Symbols>,
    (merged, kept): (&[String], &[(String, String)]),
    replaced: &[&str],
    (wrapped, system): (&[&str], &BTreeSet<String>),
    core: &str,
) -> Result<()> {
    for r in replaced {
        if !objects.iter().any(|o| o == r) {
            bail!("libpython's objects have no {r}, which the recipe replaces");
        }
    }
    let defines = |o: &String, w: &str| symbols.get(o).is_some_and(|s| s.defined.contains(w));
    for w in wrapped.iter().filter(|w| !system.contains(**w)) {
        if !objects.iter().any(|o| defines(o, w)) {
            bail!("no object of libpython defines {w}, which apps wrap (nm read none, or it moved)");
        }
        if !kept.iter().any(|(o, _)| defines(o, w)) {
            bail!("{w}, which apps wrap, would be merged: `ld --wrap` would not see its callers");
        }
    }
    if !merged.iter().any(|o| o == core) {
        bail!("{core} was not merged: the optimisation would leave the interpreter's core out");
    }
    Ok(())
}

/// Checks the merged object against its inputs: it defines every global symbol they defined
/// (none was made local, so apps, the wheels' loader and the archive's index still find each),
/// and needs nothing they did not but from `system` (the optimiser calls `memcpy` for a copy
/// loop, `abort` for a trap; nm reads GCC's IR of a fat object, which does not list the library
/// functions the compiler knows, `malloc` or `printf`) and the GOT, which the linker makes.
pub fn check_merged(inputs: &[&Symbols], merged: &Symbols, system: &BTreeSet<String>) -> Result<()> {
    let defined: BTreeSet<&String> = inputs.iter().flat_map(|s| &s.defined).collect();
    let needed: BTreeSet<&String> = inputs.iter().flat_map(|s| &s.undefined).collect();
    let lost: Vec<&&String> = defined.iter().filter(|d| !merged.defined.contains(**d)).take(10).collect();
    if !lost.is_empty() {
        bail!("the merged object lost global symbols its inputs defined: {lost:?}");
    }
    let new = merged.undefined.iter().filter(|u| !needed.contains(u) && !defined.contains(u));
    let odd: Vec<&String> = new.filter(|u| !system.contains(*u) && *u != "_GLOBAL_OFFSET_TABLE_").take(10).collect();
    if !odd.is_empty() {
        bail!("the merged object needs {odd:?}, which none of its inputs, libc or libgcc define");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn syms(defined: &[&str], undefined: &[&str]) -> Symbols {
        Symbols {
            defined: defined.iter().map(|s| s.to_string()).collect(),
            undefined: undefined.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn nm_output_is_read_per_file() {
        let text = "Python/ceval.o: PyEval_EvalCode T 0 1a\nPython/ceval.o: PyDict_GetItem U         \n\
                    Modules/_ssl.o: SSL_new U\nlibc.a[aio.lo]: __aio_fut B 0 4\nx.o: weak_ref w\nx.o: common C 8 8\n";
        let s = parse_nm(text).unwrap();
        assert_eq!(s["Python/ceval.o"], syms(&["PyEval_EvalCode"], &["PyDict_GetItem"]));
        assert_eq!(s["Modules/_ssl.o"], syms(&[], &["SSL_new"]));
        assert_eq!(s["libc.a[aio.lo]"], syms(&["__aio_fut"], &[]));
        assert_eq!(s["x.o"], syms(&["common"], &["weak_ref"]));
        assert!(parse_nm("no colon here\n").is_err());
        assert!(parse_nm("x.o: lonely\n").is_err());
    }

    #[test]
    fn members_that_are_replaced_wrapped_or_need_other_libraries_stay_out() {
        let objects: Vec<String> =
            ["ceval.o", "dict.o", "config.o", "marshal.o", "_ssl.o", "_json.o", "ssl_util.o", "ssl_more.o"]
                .iter()
                .map(|s| s.to_string())
                .collect();
        let symbols: BTreeMap<String, Symbols> = [
            ("ceval.o", syms(&["PyEval"], &["PyDict_Get", "memcpy", "_PyImport_Inittab"])),
            ("dict.o", syms(&["PyDict_Get"], &["PyMarshal_Read"])),
            ("config.o", syms(&["_PyImport_Inittab"], &["PyInit__ssl"])),
            ("marshal.o", syms(&["PyMarshal_Read"], &[])),
            ("_json.o", syms(&["PyInit__json"], &["PyDict_Get", "__udivti3"])),
            // Needs no OpenSSL itself, but what _ssl.o defines, and ssl_more.o needs it.
            ("ssl_util.o", syms(&["ssl_util"], &["ssl_helper", "PyDict_Get"])),
            ("ssl_more.o", syms(&["ssl_more"], &["ssl_util"])),
            ("_ssl.o", syms(&["PyInit__ssl", "ssl_helper"], &["SSL_new", "PyDict_Get"])),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let system: BTreeSet<String> = ["memcpy", "__udivti3"].iter().map(|s| s.to_string()).collect();
        let (merged, kept) = choose(&objects, &symbols, &system, &["config.o"], &["open", "PyMarshal_Read"]);
        assert_eq!(merged, ["ceval.o", "dict.o", "_json.o"]);
        let kept: Vec<&str> = kept.iter().map(|(o, _)| o.as_str()).collect();
        assert_eq!(kept, ["config.o", "marshal.o", "_ssl.o", "ssl_util.o", "ssl_more.o"]);
        // Nothing wrapped: marshal.o goes in.
        let (_, why) = choose(&objects, &symbols, &system, &["config.o"], &[]);
        let why: Vec<(&str, &str)> = why.iter().map(|(o, w)| (o.as_str(), w.as_str())).collect();
        assert_eq!(
            why,
            [
                ("config.o", "replaced at an app's link or later"),
                ("_ssl.o", "refers to SSL_new, of another library"),
                ("ssl_util.o", "refers to ssl_helper of _ssl.o, which refers to another library"),
                ("ssl_more.o", "refers to ssl_util of ssl_util.o, which refers to another library"),
            ]
        );
        // An object nm lists no symbol of (compiled empty) goes in.
        let (merged, _) = choose(&["empty.o".to_string()], &symbols, &system, &[], &[]);
        assert_eq!(merged, ["empty.o"]);
    }

    #[test]
    fn a_choice_without_what_the_recipe_relies_on_is_refused() {
        let objects: Vec<String> = ["ceval.o", "config.o", "marshal.o"].iter().map(|s| s.to_string()).collect();
        let symbols: BTreeMap<String, Symbols> = [
            ("ceval.o", syms(&["PyEval"], &["PyMarshal_Read"])),
            ("config.o", syms(&["_PyImport_Inittab"], &[])),
            ("marshal.o", syms(&["PyMarshal_Read"], &[])),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        // libc's `open` is wrapped too: no object of libpython defines it.
        let system: BTreeSet<String> = ["open".to_string()].into();
        let wrapped = ["open", "PyMarshal_Read"];
        let (merged, kept) = choose(&objects, &symbols, &system, &["config.o"], &wrapped);
        let check = |replaced: &[&str], core: &str| {
            check_choice(&objects, &symbols, (&merged, &kept), replaced, (&wrapped, &system), core)
                .map_err(|e| e.to_string())
        };
        assert_eq!(check(&["config.o"], "ceval.o"), Ok(()));
        assert!(check(&["config.o", "getpath.o"], "ceval.o").unwrap_err().contains("getpath.o"));
        assert!(check(&["config.o"], "dict.o").unwrap_err().contains("dict.o was not merged"));
        // The answer of a choice made without the wrapped symbol: marshal.o merged.
        let (merged, kept) = choose(&objects, &symbols, &system, &["config.o"], &["open"]);
        let e = check_choice(&objects, &symbols, (&merged, &kept), &["config.o"], (&wrapped, &system), "ceval.o")
            .unwrap_err();
        assert!(e.to_string().contains("PyMarshal_Read, which apps wrap, would be merged"), "{e}");
        // nm read nothing of marshal.o: it would be merged, and nothing would say so but this.
        let mut unread = symbols.clone();
        unread.remove("marshal.o");
        let (merged, kept) = choose(&objects, &unread, &system, &["config.o"], &wrapped);
        let e = check_choice(&objects, &unread, (&merged, &kept), &["config.o"], (&wrapped, &system), "ceval.o")
            .unwrap_err();
        assert!(e.to_string().contains("no object of libpython defines PyMarshal_Read"), "{e}");
    }

    #[test]
    fn a_merged_object_must_keep_every_global_and_need_nothing_new() {
        let a = syms(&["PyEval", "PyDict_Get"], &["PyMarshal_Read", "open"]);
        let b = syms(&["PyInit__json"], &["PyDict_Get"]);
        let system: BTreeSet<String> = ["memcpy", "abort", "open"].iter().map(|s| s.to_string()).collect();
        let all = ["PyEval", "PyDict_Get", "PyInit__json"];
        let needs = ["PyMarshal_Read", "open", "memcpy", "abort", "_GLOBAL_OFFSET_TABLE_"];
        assert!(check_merged(&[&a, &b], &syms(&all, &needs), &system).is_ok());
        let e = check_merged(&[&a, &b], &syms(&["PyEval", "PyInit__json"], &[]), &system).unwrap_err().to_string();
        assert!(e.contains("PyDict_Get"), "{e}");
        let e = check_merged(&[&a, &b], &syms(&all, &["SSL_new"]), &system).unwrap_err().to_string();
        assert!(e.contains("SSL_new"), "{e}");
    }
}
