//! libmpdec from mpdecimal, static, for CPython's `--with-system-libmpdec` (the copy bundled with
//! CPython is deprecated).

use super::Ctx;
use anyhow::Result;

pub fn build(ctx: &Ctx) -> Result<()> {
    ctx.autotools(&["--disable-cxx", "--disable-doc"])?;
    ctx.expect_installed(&["lib/libmpdec.a", "include/mpdecimal.h"])
}
