//! libyaml, for PyYAML's `yaml._yaml`: a static library compiled by the `cc` crate (the version
//! macros that its CMake or configure would define are given here). Not part of the toolchain:
//! built on first use for the packages that need it (`src/build/native.rs`).

use anyhow::{Context, Result};
use std::path::Path;

const SOURCES: &[&str] = &["api", "dumper", "emitter", "loader", "parser", "reader", "scanner", "writer"];

/// Builds the source tree `src` of libyaml `version` with the musl compiler `cc` into `prefix`
/// (`lib/libyaml.a`, `include/yaml.h`), compiling in `work`.
pub fn build(
    cc: &Path,
    target: &crate::toolchain::pins::Target,
    src: &Path,
    version: &str,
    prefix: &Path,
    work: &Path,
) -> Result<()> {
    let mut parts = version.split('.');
    let mut b = crate::toolchain::compiler::cc_build(cc, target, work);
    b.define("YAML_VERSION_MAJOR", parts.next().unwrap_or("0"))
        .define("YAML_VERSION_MINOR", parts.next().unwrap_or("0"))
        .define("YAML_VERSION_PATCH", parts.next().unwrap_or("0"))
        .define("YAML_VERSION_STRING", format!("\"{version}\"").as_str())
        .define("YAML_DECLARE_STATIC", None)
        .flag(format!("-ffile-prefix-map={}=libyaml-{version}", src.display()))
        .include(src.join("include"))
        .files(SOURCES.iter().map(|s| src.join("src").join(format!("{s}.c"))));
    b.try_compile("yaml").context("compiling libyaml failed")?;
    fs_err::create_dir_all(prefix.join("lib"))?;
    fs_err::create_dir_all(prefix.join("include"))?;
    fs_err::copy(work.join("libyaml.a"), prefix.join("lib/libyaml.a"))?;
    fs_err::copy(src.join("include/yaml.h"), prefix.join("include/yaml.h"))?;
    Ok(())
}
