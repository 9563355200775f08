//! Build recipes, one file per dependency. Each builds one unpacked source into the toolchain
//! being assembled, with its output in the step's log.

pub mod bzip2;
pub mod cpython;
pub mod expat;
pub mod libffi;
pub mod mpdecimal;
pub mod musl;
pub mod ncurses;
pub mod openssl;
pub mod sqlite;
pub mod xz;
pub mod zlib;

use crate::steplog::Step;
use crate::toolchain::compiler::HostCompiler;
use crate::toolchain::pins::Target;
use anyhow::{bail, Result};
use std::path::{Path, PathBuf};
use xshell::cmd;

/// What a recipe gets to work with.
pub struct Ctx<'a> {
    /// The toolchain root being assembled (a temporary directory until it is complete).
    pub root: &'a Path,
    /// Where the toolchain will live once complete (for paths compiled into programs).
    pub final_root: &'a Path,
    /// The unpacked source tree.
    pub src: PathBuf,
    /// The version being built (from the pin).
    pub version: String,
    /// A scratch directory of the recipe's own.
    pub work: PathBuf,
    pub step: &'a Step,
    pub jobs: usize,
    pub target: &'a Target,
    pub host: &'a HostCompiler,
    /// When cross-compiling: the build machine's python3 of the same CPython pin (the build
    /// machine's toolchain), which CPython's build runs for its own generated files.
    pub build_python: Option<&'a Path>,
    /// How CPython is compiled (`toolchains/profiles.toml`).
    pub profile: &'a crate::toolchain::profile::Profile,
}

impl Ctx<'_> {
    /// The musl compiler wrapper (exists once the musl recipe has run).
    pub fn cc(&self) -> PathBuf {
        crate::toolchain::compiler::wrapper_path(self.root, &self.target.musl_triple)
    }

    /// A shell whose commands run in the source tree.
    pub fn shell(&self) -> Result<xshell::Shell> {
        let sh = xshell::Shell::new()?;
        sh.change_dir(&self.src);
        Ok(sh)
    }

    /// A `cc::Build` set up for the musl wrapper and the target's flags, writing objects to `work`.
    pub fn cc_build(&self) -> cc::Build {
        crate::toolchain::compiler::cc_build(&self.cc(), self.target, &self.work)
    }

    /// The build machine's C compiler, for programs run during a build (not for the target).
    pub fn build_cc(&self) -> String {
        std::env::var("PYELF_HOST_CC").unwrap_or_else(|_| "gcc".into())
    }

    /// configure's `--build`/`--host` pair when cross-compiling (nothing natively, where
    /// configure finds both itself).
    pub fn cross_args(&self) -> Vec<String> {
        if !self.host.is_cross() {
            return Vec::new();
        }
        vec![format!("--build={}-pc-linux-gnu", std::env::consts::ARCH), format!("--host={}", self.target.musl_triple)]
    }

    /// Runs a `cc::Build` into `lib<name>.a`, with any compiler error in the step's log.
    pub fn compile_archive(&self, build: &cc::Build, name: &str) -> Result<PathBuf> {
        self.step.note(&format!("compiling lib{name}.a with {}", self.cc().display()))?;
        if let Err(e) = build.try_compile(name) {
            self.step.note(&e.to_string())?;
            return Err(self.step.failure(&format!("compiling lib{name}.a failed")));
        }
        Ok(self.work.join(format!("lib{name}.a")))
    }

    /// Environment for a configure script: the musl wrapper, the target's flags, static links and
    /// only our own pkg-config files.
    pub fn configure_env(&self) -> Vec<(&'static str, String)> {
        let lib = self.root.join("lib");
        vec![
            ("CC", self.cc().display().to_string()),
            ("AR", self.target.tool("ar")),
            ("RANLIB", self.target.tool("ranlib")),
            ("CFLAGS", self.target.cflags.join(" ")),
            ("CPPFLAGS", format!("-I{}", self.root.join("include").display())),
            ("LDFLAGS", format!("-static -L{}", lib.display())),
            ("PKG_CONFIG_LIBDIR", lib.join("pkgconfig").display().to_string()),
            ("PKG_CONFIG_PATH", String::new()),
        ]
    }

    /// `./configure --prefix=<root> --disable-shared --enable-static ARGS`, `make -jN`,
    /// `make install`, all with [`Ctx::configure_env`].
    pub fn autotools(&self, args: &[&str]) -> Result<()> {
        let sh = self.shell()?;
        let (root, jobs) = (self.root, self.jobs.to_string());
        let env = self.configure_env();
        let cross = self.cross_args();
        let configure = cmd!(
            sh,
            "./configure --prefix={root} --libdir={root}/lib --disable-shared --enable-static {cross...} {args...}"
        );
        self.step.run(configure.envs(env.iter().map(|(k, v)| (*k, v))))?;
        self.step.run(cmd!(sh, "make -j{jobs}"))?;
        self.step.run(cmd!(sh, "make install"))
    }

    /// Edits the source tree: each `(file, original, replacement)` replaces the first occurrence of
    /// the original, which must be there, so that a new version that changed it fails loudly
    /// (`what` says what the edits are for, in that error).
    pub fn patch(&self, patches: &[(&str, &str, &str)], what: &str) -> Result<()> {
        for (file, from, to) in patches {
            let path = self.src.join(file);
            let text = fs_err::read_to_string(&path)?;
            if !text.contains(from) {
                return Err(self.step.failure(&format!(
                    "{}: the text to patch {what} is not there; the patch was written for the \
                     version toolchains/sources.toml pins, and another version needs it written again",
                    path.display()
                )));
            }
            fs_err::write(&path, text.replacen(from, to, 1))?;
            self.step.note(&format!("patched {file} {what}"))?;
        }
        Ok(())
    }

    /// Fails unless every path exists (what a recipe promised to install).
    pub fn expect_installed(&self, paths: &[&str]) -> Result<()> {
        for p in paths {
            if !self.root.join(p).exists() {
                bail!(self.step.failure(&format!("{p} was not installed")));
            }
        }
        Ok(())
    }
}

/// A recipe: the source it builds and how.
pub struct Recipe {
    pub source: &'static str,
    pub build: fn(&Ctx) -> Result<()>,
    /// The recipe's own code, part of the toolchain key: changing a recipe rebuilds.
    pub text: &'static str,
}

/// Every recipe, by the source it builds.
pub const RECIPES: &[Recipe] = &[
    Recipe { source: "musl", build: musl::build, text: include_str!("musl.rs") },
    Recipe { source: "zlib", build: zlib::build, text: include_str!("zlib.rs") },
    Recipe { source: "expat", build: expat::build, text: include_str!("expat.rs") },
    Recipe { source: "bzip2", build: bzip2::build, text: include_str!("bzip2.rs") },
    Recipe { source: "xz", build: xz::build, text: include_str!("xz.rs") },
    Recipe { source: "mpdecimal", build: mpdecimal::build, text: include_str!("mpdecimal.rs") },
    Recipe { source: "sqlite", build: sqlite::build, text: include_str!("sqlite.rs") },
    Recipe { source: "ncurses", build: ncurses::build, text: include_str!("ncurses.rs") },
    Recipe { source: "openssl", build: openssl::build, text: include_str!("openssl.rs") },
    Recipe { source: "libffi", build: libffi::build, text: include_str!("libffi.rs") },
    Recipe { source: "cpython", build: cpython::build, text: include_str!("cpython.rs") },
];

/// What a piece of Rust source does, for cache keys: its tokens without comments and doc
/// comments (`#[doc]` attributes), printed with uniform spacing. Reformatting it or editing a
/// comment leaves this unchanged; changing a command, a flag or a condition changes it.
pub fn behaviour(source: &str) -> String {
    use proc_macro2::{Delimiter, TokenStream, TokenTree};
    fn is_doc(tree: Option<&TokenTree>) -> bool {
        let Some(TokenTree::Group(g)) = tree else { return false };
        g.delimiter() == Delimiter::Bracket
            && matches!(g.stream().into_iter().next(), Some(TokenTree::Ident(i)) if i == "doc")
    }
    fn punct(tree: Option<&TokenTree>, c: char) -> bool {
        matches!(tree, Some(TokenTree::Punct(p)) if p.as_char() == c)
    }
    /// The tokens of a group without the layout rustfmt changes: a trailing comma, and the `;`
    /// it adds after a final `return`/`break`/`continue` in a block.
    fn significant(stream: TokenStream) -> Vec<TokenTree> {
        let mut trees: Vec<TokenTree> = stream.into_iter().collect();
        if punct(trees.last(), ',') {
            trees.pop();
        }
        if punct(trees.last(), ';') {
            let start = trees[..trees.len() - 1].iter().rposition(|t| punct(Some(t), ';')).map_or(0, |p| p + 1);
            if matches!(trees.get(start), Some(TokenTree::Ident(i)) if i == "return" || i == "break" || i == "continue")
            {
                trees.pop();
            }
        }
        trees
    }
    fn write(stream: TokenStream, out: &mut String) {
        let trees = significant(stream);
        let mut i = 0;
        while i < trees.len() {
            if punct(trees.get(i), '#') {
                let bang = punct(trees.get(i + 1), '!');
                let at = i + 1 + usize::from(bang);
                if is_doc(trees.get(at)) {
                    i = at + 1;
                    continue;
                }
            }
            match &trees[i] {
                TokenTree::Group(g) => {
                    // Braces around one expression where an expression stands (a match arm after
                    // `=>`, a closure body after `|`) are layout: rustfmt adds them when the line
                    // is too long. The expression is written without them.
                    let arm = i >= 2 && punct(trees.get(i - 2), '=') && punct(trees.get(i - 1), '>');
                    let closure = i >= 1 && punct(trees.get(i - 1), '|');
                    let inner = significant(g.stream());
                    if g.delimiter() == Delimiter::Brace
                        && (arm || closure)
                        && !inner.iter().any(|t| punct(Some(t), ';'))
                    {
                        write(inner.into_iter().collect(), out);
                        // An arm in braces needs no comma after it; one without does.
                        if arm && i + 1 < trees.len() && !punct(trees.get(i + 1), ',') {
                            out.push_str(", ");
                        }
                        i += 1;
                        continue;
                    }
                    let (open, close) = match g.delimiter() {
                        Delimiter::Parenthesis => ("(", ")"),
                        Delimiter::Brace => ("{", "}"),
                        Delimiter::Bracket => ("[", "]"),
                        Delimiter::None => ("", ""),
                    };
                    out.push_str(open);
                    write(g.stream(), out);
                    out.push_str(close);
                }
                TokenTree::Punct(p) => out.push(p.as_char()),
                other => out.push_str(&other.to_string()),
            }
            out.push(' ');
            i += 1;
        }
    }
    match source.parse::<TokenStream>() {
        Ok(stream) => {
            let mut out = String::new();
            write(stream, &mut out);
            out
        }
        // Not Rust (cannot happen for compiled-in sources): the text itself.
        Err(_) => source.to_string(),
    }
}

/// The recipe for a source.
pub fn recipe(source: &str) -> Result<&'static Recipe> {
    match RECIPES.iter().find(|r| r.source == source) {
        Some(r) => Ok(r),
        None => bail!("no build recipe for source {source:?} (add one under src/toolchain/recipes/)"),
    }
}

/// Writes a pkg-config file for a library installed into `root`, so that configure scripts
/// (with `PKG_CONFIG_LIBDIR` pointed here) find ours and never the host's.
pub fn write_pkg_config(root: &Path, name: &str, version: &str, libs: &str) -> Result<()> {
    let dir = root.join("lib/pkgconfig");
    fs_err::create_dir_all(&dir)?;
    let text = format!(
        "prefix=${{pcfiledir}}/../..\nlibdir=${{prefix}}/lib\nincludedir=${{prefix}}/include\n\nName: {name}\nDescription: {name} (pyelf toolchain)\nVersion: {version}\nLibs: -L${{libdir}} {libs}\nCflags: -I${{includedir}}\n"
    );
    fs_err::write(dir.join(format!("{name}.pc")), text)?;
    Ok(())
}

/// Copies files from `from_dir` into `to_dir`.
pub fn install_files(from_dir: &Path, names: &[&str], to_dir: &Path) -> Result<()> {
    fs_err::create_dir_all(to_dir)?;
    for n in names {
        fs_err::copy(from_dir.join(n), to_dir.join(n))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::behaviour;

    #[test]
    fn behaviour_ignores_comments_and_layout_but_not_code() {
        let base = behaviour(include_str!("zlib.rs"));
        let commented = include_str!("zlib.rs").replace("pub fn build", "/// Builds it.\n// a note\npub fn build");
        assert_eq!(behaviour(&commented), base, "comments and doc comments");
        let spread = include_str!("zlib.rs").replace("b.define(", "b\n    .define(");
        assert_eq!(behaviour(&spread), base, "line breaks and indentation");
        let trailing = include_str!("zlib.rs").replace("\"uncompr\", \"zutil\",", "\"uncompr\", \"zutil\"");
        assert_ne!(trailing, include_str!("zlib.rs"));
        assert_eq!(behaviour(&trailing), base, "a trailing comma");
        let inner = format!("//! A module doc.\n{}", include_str!("zlib.rs"));
        assert_eq!(behaviour(&inner), base, "inner doc comments");
        let changed = include_str!("zlib.rs").replace("\"HAVE_UNISTD_H\"", "\"HAVE_UNISTD\"");
        assert_ne!(behaviour(&changed), base, "a changed define");
        let flag = include_str!("openssl.rs").replace("no-shared", "shared");
        assert_ne!(behaviour(&flag), behaviour(include_str!("openssl.rs")), "a changed flag");
    }

    /// Every recipe and the compiler wrapper, laid out by rustfmt at another width: the same
    /// behaviour, so the toolchain key is the same (skipped without rustfmt).
    #[test]
    fn rustfmt_at_any_width_leaves_the_behaviour_unchanged() {
        use std::io::Write;
        let texts =
            super::RECIPES.iter().map(|r| r.text).chain([include_str!("mod.rs"), include_str!("../compiler.rs")]);
        for text in texts {
            for width in ["60", "200"] {
                let child = std::process::Command::new("rustfmt")
                    .args(["--edition", "2021", "--emit", "stdout", "--config"])
                    .arg(format!("max_width={width},use_small_heuristics=Default"))
                    .stdin(std::process::Stdio::piped())
                    .stdout(std::process::Stdio::piped())
                    .spawn();
                let Ok(mut child) = child else {
                    eprintln!("no rustfmt here; skipped");
                    return;
                };
                child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
                let out = child.wait_with_output().unwrap();
                assert!(out.status.success());
                let formatted = String::from_utf8(out.stdout).unwrap();
                if width == "60" {
                    assert_ne!(formatted, text, "rustfmt at width 60 changed nothing");
                }
                assert_eq!(behaviour(&formatted), behaviour(text), "width {width}:\n{formatted}");
            }
        }
    }
}
