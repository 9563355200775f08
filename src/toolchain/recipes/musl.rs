//! musl libc, built with the host gcc, plus the compiler wrapper and kernel headers.

use super::Ctx;
use crate::toolchain::compiler;
use anyhow::Result;
use xshell::cmd;

pub fn build(ctx: &Ctx) -> Result<()> {
    let sh = ctx.shell()?;
    let (root, jobs, host) = (ctx.root, ctx.jobs.to_string(), &ctx.host.program);
    // Across architectures: the cross gcc, and musl's --target (it takes its binutils from
    // CROSS_COMPILE).
    let cross: Vec<String> = if ctx.host.is_cross() {
        vec![format!("--target={}", ctx.target.musl_triple), format!("CROSS_COMPILE={}", ctx.host.prefix)]
    } else {
        Vec::new()
    };
    ctx.step
        .run(cmd!(sh, "./configure --prefix={root} --disable-shared --disable-wrapper {cross...}").env("CC", host))?;
    ctx.step.run(cmd!(sh, "make -j{jobs}"))?;
    ctx.step.run(cmd!(sh, "make install"))?;
    compiler::install_kernel_headers(root, ctx.host)?;
    compiler::install_wrapper(root, ctx.host, &ctx.target.musl_triple, ctx.target.effective_source_date_epoch())?;
    ctx.expect_installed(&["lib/libc.a", "lib/crt1.o", "lib/rcrt1.o", "include/stdio.h", "include/linux/fs.h"])?;
    // The wrapper must produce a static binary that runs.
    let probe = ctx.work.join("probe.c");
    fs_err::create_dir_all(&ctx.work)?;
    fs_err::write(
        &probe,
        "#include <stdio.h>\n#include <linux/limits.h>\nint main(void){puts(\"musl ok\");return 0;}\n",
    )?;
    let (cc, exe) = (ctx.cc(), ctx.work.join("probe"));
    ctx.step.run(cmd!(sh, "{cc} -static {probe} -o {exe}"))?;
    ctx.step.run_command(&exe.display().to_string(), &mut ctx.target.command(&exe))?;
    Ok(())
}
