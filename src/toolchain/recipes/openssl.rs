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
    let target = &ctx.target.openssl_target;
    let path = std::env::join_paths(
        std::iter::once(root.join("bin")).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
    )?;
    let path = &path;
    ctx.step.run(
        cmd!(
            sh,
            "perl ./Configure {target} --prefix={root} --libdir=lib --openssldir=/etc/ssl
             no-shared no-module no-async no-tests no-docs no-apps no-dso no-engine {cflags...}"
        )
        // By name, found on PATH: OpenSSL records its compiler command (`openssl version -f`),
        // which must not name the directory the toolchain is built in.
        .env("CC", cc.file_name().unwrap())
        .env("AR", ctx.target.tool("ar"))
        .env("RANLIB", ctx.target.tool("ranlib"))
        .env("PATH", path),
    )?;
    // Never used (no-engine, no-module), but compiled in as strings: neutral, not the build path.
    let dirs = ["ENGINESDIR=/pyelf/openssl/engines-3", "MODULESDIR=/pyelf/openssl/ossl-modules"];
    ctx.step.run(cmd!(sh, "make -j{jobs} build_libs {dirs...}").env("PATH", path))?;
    ctx.step.run(cmd!(sh, "make install_dev"))?;
    ctx.expect_installed(&["lib/libssl.a", "lib/libcrypto.a", "include/openssl/ssl.h", "lib/pkgconfig/openssl.pc"])
}
