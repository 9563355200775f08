//! zlib, as a static library compiled by the `cc` crate with the musl wrapper.

use super::{install_files, write_pkg_config, Ctx};
use anyhow::Result;

const SOURCES: &[&str] = &[
    "adler32", "compress", "crc32", "deflate", "gzclose", "gzlib", "gzread", "gzwrite", "infback", "inffast",
    "inflate", "inftrees", "trees", "uncompr", "zutil",
];

pub fn build(ctx: &Ctx) -> Result<()> {
    let mut b = ctx.cc_build();
    b.define("HAVE_UNISTD_H", None)
        .define("HAVE_STDARG_H", None)
        .define("_LARGEFILE64_SOURCE", "1")
        .include(&ctx.src)
        .files(SOURCES.iter().map(|s| ctx.src.join(format!("{s}.c"))));
    let lib = ctx.compile_archive(&b, "z")?;
    fs_err::copy(&lib, ctx.root.join("lib/libz.a"))?;
    install_files(&ctx.src, &["zlib.h", "zconf.h"], &ctx.root.join("include"))?;
    write_pkg_config(ctx.root, "zlib", &ctx.version, "-lz")?;
    ctx.expect_installed(&["lib/libz.a", "include/zlib.h"])
}
