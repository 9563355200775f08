//! liblzma from xz, static, without the command-line tools.

use super::Ctx;
use anyhow::Result;

pub fn build(ctx: &Ctx) -> Result<()> {
    ctx.autotools(&[
        "--disable-xz",
        "--disable-xzdec",
        "--disable-lzmadec",
        "--disable-lzmainfo",
        "--disable-lzma-links",
        "--disable-scripts",
        "--disable-doc",
        "--disable-nls",
    ])?;
    ctx.expect_installed(&["lib/liblzma.a", "include/lzma.h", "lib/pkgconfig/liblzma.pc"])
}
