//! expat, as a static library compiled by the `cc` crate (the archive we get is a git tag
//! archive without a configure script, so the configuration header is written here).

use super::{install_files, write_pkg_config, Ctx};
use anyhow::Result;

const SOURCES: &[&str] =
    &["xmlparse", "xmlrole", "xmltok", "random_getrandom", "random_getentropy", "random_dev_urandom"];

/// What configure would find on Linux with musl.
const CONFIG_H: &str = "\
/* expat_config.h for Linux with musl, written by pyelf */
#ifndef EXPAT_CONFIG_H
#define EXPAT_CONFIG_H 1
#define BYTEORDER 1234
#define HAVE_FCNTL_H 1
#define HAVE_GETPAGESIZE 1
#define HAVE_GETRANDOM 1
#define HAVE_GETENTROPY 1
#define HAVE_SYSCALL_GETRANDOM 1
#define HAVE_INTTYPES_H 1
#define HAVE_MEMORY_H 1
#define HAVE_MMAP 1
#define HAVE_STDINT_H 1
#define HAVE_STDLIB_H 1
#define HAVE_STRINGS_H 1
#define HAVE_STRING_H 1
#define HAVE_SYS_STAT_H 1
#define HAVE_SYS_TYPES_H 1
#define HAVE_UNISTD_H 1
#define STDC_HEADERS 1
#define XML_CONTEXT_BYTES 1024
#define XML_DEV_URANDOM 1
#define XML_DTD 1
#define XML_GE 1
#define XML_NS 1
#endif
";

pub fn build(ctx: &Ctx) -> Result<()> {
    let lib_dir = ctx.src.join("lib");
    fs_err::create_dir_all(&ctx.work)?;
    fs_err::write(ctx.work.join("expat_config.h"), CONFIG_H)?;
    let mut b = ctx.cc_build();
    b.include(&ctx.work).include(&lib_dir).files(SOURCES.iter().map(|s| lib_dir.join(format!("{s}.c"))));
    let lib = ctx.compile_archive(&b, "expat")?;
    fs_err::copy(&lib, ctx.root.join("lib/libexpat.a"))?;
    let include = ctx.root.join("include");
    install_files(&lib_dir, &["expat.h", "expat_external.h"], &include)?;
    // CPython's pyexpat.c includes expat_config.h too.
    install_files(&ctx.work, &["expat_config.h"], &include)?;
    write_pkg_config(ctx.root, "expat", &ctx.version, "-lexpat")?;
    ctx.expect_installed(&["lib/libexpat.a", "include/expat.h"])
}
