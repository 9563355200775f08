//! The pinned sources and targets, read from the TOML files under `toolchains/`.
//!
//! The files are compiled into pyelf (so the binary carries the pins it was built with), and their
//! text is part of every toolchain's cache key.

use crate::error::Error;
use serde::Deserialize;
use std::fmt;

/// `toolchains/sources.toml`, as compiled in.
pub const SOURCES_TOML: &str = include_str!("../../toolchains/sources.toml");

/// Every `toolchains/targets/*.toml`, by triple, as compiled in (found by `build.rs`: a target
/// is added by adding its file).
pub const TARGET_TOMLS: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/targets.rs"));

/// The triple of the target of this machine's architecture (`toolchains/targets/` has one whose
/// `arch` is [`std::env::consts::ARCH`]): what pyelf builds for unless told `--target`.
pub fn native_triple() -> &'static str {
    static TRIPLE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TRIPLE.get_or_init(|| {
        let pins = Pins::builtin();
        match pins.targets.iter().find(|t| t.is_native()) {
            Some(t) => t.triple.clone(),
            // No target of this architecture: name one that says so when it is looked up.
            None => format!("{}-unknown-linux-musl", std::env::consts::ARCH),
        }
    })
}

/// How a source archive is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Format {
    #[serde(rename = "tar.gz")]
    TarGz,
    #[serde(rename = "tar.xz")]
    TarXz,
    #[serde(rename = "tar.bz2")]
    TarBz2,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::TarGz => "tar.gz",
            Format::TarXz => "tar.xz",
            Format::TarBz2 => "tar.bz2",
        })
    }
}

/// One archive that is accepted for a source: its file name, digest, format and the directory
/// inside it that holds the source tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    pub file: String,
    pub sha256: String,
    pub format: Format,
    pub top_dir: String,
}

/// A pinned source: the upstream archive and any accepted alternatives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    pub name: String,
    pub version: String,
    pub license: String,
    /// Upstream URLs of the primary artifact.
    pub urls: Vec<String>,
    /// The upstream archive first, then the alternatives.
    pub artifacts: Vec<Artifact>,
}

impl Pin {
    /// The artifact whose digest is `sha256`, if it is accepted.
    pub fn artifact(&self, sha256: &str) -> Option<&Artifact> {
        self.artifacts.iter().find(|a| a.sha256 == sha256)
    }
}

/// A build target: which sources it needs and the flags its libraries are built with.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    pub triple: String,
    /// The CPU architecture as Rust, musl and wheel tags name it (`x86_64`, `aarch64`).
    pub arch: String,
    pub musl_triple: String,
    /// ELF `e_machine` of the target's executables.
    pub elf_machine: u16,
    pub sources: Vec<String>,
    pub cflags: Vec<String>,
    /// Flags added to CPython's own C flags.
    pub cpython_cflags: Vec<String>,
    pub thread_stack_size: u64,
    /// The build date compiled into the toolchain (CPython's `sys.version`), as seconds since
    /// 1970, unless `SOURCE_DATE_EPOCH` is set when the toolchain is built.
    pub source_date_epoch: u64,
    /// OpenSSL's Configure target.
    pub openssl_target: String,
    pub cross: Cross,
    pub wheels: Wheels,
    /// configure's answers when cross-compiling (`ac_cv_*` cache variables).
    pub configure: std::collections::BTreeMap<String, String>,
}

/// How a machine of another architecture builds for a target.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cross {
    /// Prefix of the GNU cross tools (`aarch64-linux-gnu-`).
    pub prefix: String,
    /// Directory holding the cross tools' Linux kernel headers.
    pub kernel_headers: String,
    /// Debian packages providing the tools and the runner.
    pub packages: Vec<String>,
    /// Command that runs the target's static programs (`qemu-aarch64-static`).
    pub runner: Vec<String>,
}

/// The wheel platform tags pip accepts for the target.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Wheels {
    /// `[newest, oldest]` glibc minor versions of `manylinux_2_<N>_<arch>`.
    pub manylinux: [u32; 2],
    pub legacy: Vec<String>,
    pub musllinux: Vec<String>,
}

impl Target {
    /// Whether this machine builds for the target with its own compiler (same architecture);
    /// otherwise with the cross tools of [`Target::cross`].
    pub fn is_native(&self) -> bool {
        self.arch == std::env::consts::ARCH
    }

    /// Prefix of the binutils (and gcc) that build for the target here: none natively, the cross
    /// tools' otherwise.
    pub fn tools_prefix(&self) -> &str {
        if self.is_native() {
            ""
        } else {
            &self.cross.prefix
        }
    }

    /// A binutils program for the target (`ar`, `strip`, `objcopy`), as run here.
    pub fn tool(&self, name: &str) -> String {
        format!("{}{name}", self.tools_prefix())
    }

    /// What runs the target's programs here: nothing natively, `qemu-aarch64-static` or the like
    /// across architectures.
    pub fn runner(&self) -> &[String] {
        if self.is_native() {
            &[]
        } else {
            &self.cross.runner
        }
    }

    /// A command that runs the target's program `program` here, through the runner if any.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> std::process::Command {
        match self.runner().split_first() {
            Some((runner, args)) => {
                let mut c = std::process::Command::new(runner);
                c.args(args).arg(program);
                c
            }
            None => std::process::Command::new(program),
        }
    }

    /// The wheel platform tags, best first: pyelf's own builds (`linux_<arch>`), the index's
    /// musllinux wheels (what pip on Alpine installs, and pyelf loads), then its manylinux ones
    /// (never installed: they say that a package has extension modules, built from its source
    /// then).
    pub fn wheel_platforms(&self) -> Vec<String> {
        let [newest, oldest] = self.wheels.manylinux;
        let mut out = vec![format!("linux_{}", self.arch)];
        out.extend(self.wheels.musllinux.iter().cloned());
        out.extend((oldest..=newest).rev().map(|minor| format!("manylinux_2_{minor}_{}", self.arch)));
        out.extend(self.wheels.legacy.iter().cloned());
        out
    }

    /// The build date toolchains get: `SOURCE_DATE_EPOCH` if set (and a number), else the pin's.
    pub fn effective_source_date_epoch(&self) -> u64 {
        std::env::var("SOURCE_DATE_EPOCH").ok().and_then(|v| v.trim().parse().ok()).unwrap_or(self.source_date_epoch)
    }
}

/// All pins and targets.
#[derive(Debug, Clone)]
pub struct Pins {
    pub sources: Vec<Pin>,
    pub targets: Vec<Target>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    source: Vec<RawSource>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    name: String,
    version: String,
    license: String,
    urls: Vec<String>,
    sha256: String,
    format: Format,
    top_dir: String,
    #[serde(default)]
    alternative: Vec<RawAlternative>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAlternative {
    file: String,
    sha256: String,
    format: Format,
    top_dir: String,
}

impl Pins {
    /// The pins compiled into this build of pyelf.
    pub fn builtin() -> Pins {
        let targets = TARGET_TOMLS.iter().map(|(name, text)| (name.to_string(), text.to_string()));
        Pins::parse(SOURCES_TOML, targets).expect("the pins compiled into pyelf are valid (checked by the tests)")
    }

    /// Parses a sources file and `(triple, text)` target files, checking that they agree.
    pub fn parse(sources_toml: &str, targets: impl IntoIterator<Item = (String, String)>) -> Result<Pins, Error> {
        let raw: RawFile =
            toml::from_str(sources_toml).map_err(|e| Error::BadPins(format!("toolchains/sources.toml: {e}")))?;
        let mut sources = Vec::new();
        for s in raw.source {
            let sub = |t: &str| t.replace("{version}", &s.version);
            let urls: Vec<String> = s.urls.iter().map(|u| sub(u)).collect();
            let first = urls
                .first()
                .ok_or_else(|| Error::BadPins(format!("source {}: needs at least one upstream URL", s.name)))?;
            let file = file_name_of_url(first).ok_or_else(|| {
                Error::BadPins(format!("source {}: cannot take a file name from URL {first}", s.name))
            })?;
            let mut artifacts = vec![Artifact {
                file,
                sha256: s.sha256.to_ascii_lowercase(),
                format: s.format,
                top_dir: sub(&s.top_dir),
            }];
            for a in s.alternative {
                artifacts.push(Artifact {
                    file: sub(&a.file),
                    sha256: a.sha256.to_ascii_lowercase(),
                    format: a.format,
                    top_dir: sub(&a.top_dir),
                });
            }
            for a in &artifacts {
                check_sha256(&s.name, &a.sha256)?;
                check_relative(&s.name, "file", &a.file)?;
                check_relative(&s.name, "top_dir", &a.top_dir)?;
                if a.file.contains('/') {
                    return Err(Error::BadPins(format!(
                        "source {}: file {:?} must be a plain file name",
                        s.name, a.file
                    )));
                }
            }
            if sources.iter().any(|p: &Pin| p.name == s.name) {
                return Err(Error::BadPins(format!("source {} is pinned twice", s.name)));
            }
            sources.push(Pin { name: s.name, version: s.version, license: s.license, urls, artifacts });
        }
        let mut parsed_targets = Vec::new();
        for (name, text) in targets {
            let t: Target =
                toml::from_str(&text).map_err(|e| Error::BadPins(format!("toolchains/targets/{name}.toml: {e}")))?;
            if t.triple != name {
                return Err(Error::BadPins(format!("toolchains/targets/{name}.toml: says triple = {:?}", t.triple)));
            }
            for s in &t.sources {
                if !sources.iter().any(|p| &p.name == s) {
                    return Err(Error::BadPins(format!("target {name} needs source {s:?}, which has no pin")));
                }
            }
            parsed_targets.push(t);
        }
        Ok(Pins { sources, targets: parsed_targets })
    }

    /// The target named `triple`, or an error listing the known ones.
    pub fn target(&self, triple: &str) -> Result<&Target, Error> {
        self.targets.iter().find(|t| t.triple == triple).ok_or_else(|| Error::UnknownTarget {
            target: triple.to_string(),
            known: self.targets.iter().map(|t| t.triple.clone()).collect(),
        })
    }

    /// The pin named `name`.
    pub fn source(&self, name: &str) -> Result<&Pin, Error> {
        self.sources
            .iter()
            .find(|p| p.name == name)
            .ok_or_else(|| Error::BadPins(format!("no pin for source {name:?}")))
    }

    /// The pins a target needs, in its build order.
    pub fn sources_for(&self, target: &Target) -> Result<Vec<&Pin>, Error> {
        target.sources.iter().map(|s| self.source(s)).collect()
    }
}

/// The last path segment of a URL, without query or fragment.
pub fn file_name_of_url(url: &str) -> Option<String> {
    let path = url.split(['?', '#']).next()?;
    let name = path.rsplit('/').next()?;
    (!name.is_empty() && path.contains("://")).then(|| name.to_string())
}

fn check_sha256(name: &str, sha: &str) -> Result<(), Error> {
    if sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(Error::BadPins(format!("source {name}: {sha:?} is not a sha256 (64 hex digits)")))
    }
}

fn check_relative(name: &str, field: &str, value: &str) -> Result<(), Error> {
    let p = std::path::Path::new(value);
    let ok = !value.is_empty() && p.components().all(|c| matches!(c, std::path::Component::Normal(_)));
    if ok {
        Ok(())
    } else {
        Err(Error::BadPins(format!("source {name}: {field} {value:?} must be a relative path without '..'")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_pins_parse_and_cover_the_first_set() {
        let pins = Pins::builtin();
        let t = pins.target("x86_64-unknown-linux-musl").unwrap();
        let names: Vec<_> = pins.sources_for(t).unwrap().iter().map(|p| p.name.clone()).collect();
        for want in ["musl", "cpython", "zlib", "expat"] {
            assert!(names.contains(&want.to_string()), "{want} missing from {names:?}");
        }
        let zlib = pins.source("zlib").unwrap();
        assert_eq!(zlib.artifacts[0].file, "zlib-1.3.1.tar.gz");
        assert_eq!(zlib.artifacts.len(), 2, "zlib accepts Debian's repack");
        assert_eq!(
            pins.source("cpython").unwrap().urls[0],
            "https://www.python.org/ftp/python/3.13.15/Python-3.13.15.tar.xz"
        );
    }

    #[test]
    fn every_target_file_is_found_and_names_its_machine() {
        let pins = Pins::builtin();
        let triples: Vec<&str> = pins.targets.iter().map(|t| t.triple.as_str()).collect();
        assert!(
            triples.contains(&"x86_64-unknown-linux-musl") && triples.contains(&"aarch64-unknown-linux-musl"),
            "{triples:?}"
        );
        let arm = pins.target("aarch64-unknown-linux-musl").unwrap();
        assert_eq!(arm.elf_machine, goblin::elf::header::EM_AARCH64);
        assert_eq!(pins.target("x86_64-unknown-linux-musl").unwrap().elf_machine, goblin::elf::header::EM_X86_64);
        let tags = arm.wheel_platforms();
        assert_eq!(tags[0], "linux_aarch64");
        assert!(
            tags.contains(&"manylinux_2_17_aarch64".to_string())
                && !tags.contains(&"manylinux_2_16_aarch64".to_string())
        );
        assert!(tags.iter().all(|t| t.ends_with("_aarch64")), "{tags:?}");
    }

    #[test]
    fn unknown_target_lists_known_ones() {
        let err = Pins::builtin().target("aarch64-apple-darwin").unwrap_err().to_string();
        assert!(err.contains("aarch64-apple-darwin"), "{err}");
        assert!(err.contains("x86_64-unknown-linux-musl"), "{err}");
    }

    #[test]
    fn bad_digest_and_escaping_top_dir_are_rejected() {
        let base = r#"[[source]]
name = "x"
version = "1"
license = "MIT"
urls = ["https://example.org/x-{version}.tar.gz"]
format = "tar.gz"
"#;
        let bad_sha = format!("{base}sha256 = \"abc\"\ntop_dir = \"x-1\"\n");
        assert!(Pins::parse(&bad_sha, []).unwrap_err().to_string().contains("not a sha256"));
        let bad_dir = format!("{base}sha256 = \"{}\"\ntop_dir = \"../x\"\n", "a".repeat(64));
        assert!(Pins::parse(&bad_dir, []).unwrap_err().to_string().contains("without '..'"));
        let good = format!("{base}sha256 = \"{}\"\ntop_dir = \"x-{{version}}\"\n", "A".repeat(64));
        let pins = Pins::parse(&good, []).unwrap();
        assert_eq!(pins.sources[0].artifacts[0].top_dir, "x-1");
        assert_eq!(pins.sources[0].artifacts[0].sha256, "a".repeat(64));
    }

    #[test]
    fn target_naming_an_unpinned_source_is_rejected() {
        let (_, x86) = TARGET_TOMLS.iter().find(|(n, _)| *n == "x86_64-unknown-linux-musl").unwrap();
        let t = x86
            .replace("triple = \"x86_64-unknown-linux-musl\"", "triple = \"t\"")
            .replace("\"cpython\"]", "\"nope\"]");
        let err = Pins::parse(SOURCES_TOML, [("t".to_string(), t)]).unwrap_err();
        assert!(err.to_string().contains("nope"), "{err}");
    }

    #[test]
    fn file_names_of_urls() {
        assert_eq!(file_name_of_url("https://a.b/c/d.tar.gz?x=1").as_deref(), Some("d.tar.gz"));
        assert_eq!(file_name_of_url("https://a.b/c/"), None);
        assert_eq!(file_name_of_url("d.tar.gz"), None);
    }
}
