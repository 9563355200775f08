//! bzip2's libbz2, as a static library compiled by the `cc` crate.

use super::{install_files, write_pkg_config, Ctx};
use anyhow::Result;

const SOURCES: &[&str] = &["blocksort", "huffman", "crctable", "randtable", "compress", "decompress", "bzlib"];

pub fn build(ctx: &Ctx) -> Result<()> {
    let mut b = ctx.cc_build();
    b.define("_FILE_OFFSET_BITS", "64").files(SOURCES.iter().map(|s| ctx.src.join(format!("{s}.c"))));
    let lib = ctx.compile_archive(&b, "bz2")?;
    fs_err::copy(&lib, ctx.root.join("lib/libbz2.a"))?;
    install_files(&ctx.src, &["bzlib.h"], &ctx.root.join("include"))?;
    write_pkg_config(ctx.root, "bzip2", &ctx.version, "-lbz2")?;
    ctx.expect_installed(&["lib/libbz2.a", "include/bzlib.h"])
}
