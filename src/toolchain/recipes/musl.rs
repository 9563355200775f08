//! musl libc, built with the host gcc, plus the compiler wrapper and kernel headers.

use super::Ctx;
use crate::toolchain::compiler;
use anyhow::Result;
use xshell::cmd;

/// The edits to musl, each `(file, original, replacement)`.
///
/// The start-up relocation. A static PIE relocates itself before main (ldso/dlstart.c), and most
/// of its relocations are RELR bitmaps: words of 63 bits, one per pointer-sized place after the
/// last address, set where the place holds a pointer. musl's loop tests every bit up to the highest set one; this one goes
/// from set bit to set bit (count trailing zeros, then clear the lowest). A binary's start-up has
/// about 4,300 such words with 21 bits set on average: the loop took 1.4 M instructions and
/// mispredicted a branch on most bits; now 0.8 M, and start-up is 0.3 ms quicker on x86_64.
const RELR: (&str, &str, &str) = (
    "ldso/dlstart.c",
    "\t\t\tfor (size_t i=0, bitmap=rel[0]; bitmap>>=1; i++)\n\t\t\t\tif (bitmap&1)\n\t\t\t\t\trelr_addr[i] += base;\n",
    "\t\t\tfor (size_t bitmap=rel[0]>>1; bitmap; bitmap&=bitmap-1)\n\t\t\t\trelr_addr[__builtin_ctzl(bitmap)] += base;\n",
);

/// musl's flag that the process has started a second thread (`libc.threaded`, set by
/// pthread_create and thrd_create before the thread exists, never cleared), published for the
/// binary's heap (src/runtime/malloc.c): dlmalloc's lock is taken only once it is set, as musl
/// takes its own locks. A pointer, since `libc` is internal to musl and its layout may change.
const THREADED: (&str, &str, &str) = (
    "src/thread/pthread_create.c",
    "weak_alias(__pthread_create, pthread_create);\n",
    "weak_alias(__pthread_create, pthread_create);\n\n\
     /* pyelf: whether a second thread was ever started (src/runtime/malloc.c). */\n\
     const volatile char *const __pyelf_threaded = (const volatile char *)&libc.threaded;\n",
);

pub fn build(ctx: &Ctx) -> Result<()> {
    ctx.patch(&[RELR], "to relocate a static PIE set bit by set bit")?;
    ctx.patch(&[THREADED], "to publish whether a second thread was started")?;
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
