//! libffi, static, for `_ctypes` (which can then call functions and callbacks inside the binary;
//! loading shared libraries is impossible in a static executable).

use super::Ctx;
use anyhow::Result;

pub fn build(ctx: &Ctx) -> Result<()> {
    ctx.autotools(&["--disable-docs", "--disable-multi-os-directory", "--disable-exec-static-tramp"])?;
    ctx.expect_installed(&["lib/libffi.a", "include/ffi.h", "lib/pkgconfig/libffi.pc"])
}
