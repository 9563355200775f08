//! OpenSSL's libssl and libcrypto, static, for `_ssl` and `_hashlib`.
//!
//! `no-async` because musl has no makecontext; no `-static` here: OpenSSL's Configure takes it as
//! a reason to disable threads, and then `_ssl` does not compile. The providers are built in
//! (`no-module`): nothing is loaded with dlopen. The default certificate locations are
//! /etc/ssl; pyelf's launcher points OpenSSL at the host's store on other layouts.

use super::Ctx;
use anyhow::Result;
use xshell::cmd;

pub fn build(ctx: &Ctx) -> Result<()> {
    let sh = ctx.shell()?;
    let (root, jobs, cc) = (ctx.root, ctx.jobs.to_string(), ctx.cc());
    let cflags = &ctx.target.cflags;
    ctx.step.run(
        cmd!(
            sh,
            "perl ./Configure linux-x86_64 --prefix={root} --libdir=lib --openssldir=/etc/ssl
             no-shared no-module no-async no-tests no-docs no-apps no-dso no-engine {cflags...}"
        )
        .env("CC", &cc),
    )?;
    ctx.step.run(cmd!(sh, "make -j{jobs} build_libs"))?;
    ctx.step.run(cmd!(sh, "make install_dev"))?;
    ctx.expect_installed(&["lib/libssl.a", "lib/libcrypto.a", "include/openssl/ssl.h", "lib/pkgconfig/openssl.pc"])
}
