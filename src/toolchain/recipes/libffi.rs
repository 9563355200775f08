//! libffi, static, for `_ctypes` (which can then call functions and callbacks inside the binary;
//! loading shared libraries is impossible in a static executable).
//!
//! Also `libdlmalloc.a`: Doug Lea's malloc (public domain), from the `src/dlmalloc.c` that libffi
//! ships (version 2.8.3), for the blocks past 1 KiB of a binary's heap (`runtime/malloc.c`). Built
//! with names prefixed `dl`, blocks aligned to 16 bytes as malloc's must be on x86_64 and aarch64
//! (`max_align_t`; 2.8.3 aligns to 8 by default), no lock of its own (malloc.c holds one around
//! each call), its memory from mmap only (musl's mallocng keeps brk for itself) in steps of
//! 256 KiB, and each mapping marked `MADV_NOHUGEPAGE` as the heap's first arena is.

use super::Ctx;
use anyhow::Result;
use fs_err as fs;

/// The translation unit of libdlmalloc.a: dlmalloc.c, with its mmap calls going through one that
/// keeps transparent huge pages out of the heap.
const DLMALLOC_UNIT: &str = r#"#define _GNU_SOURCE 1
#include <stddef.h>
#include <sys/mman.h>
static void *pyelf_heap_mmap(void *addr, size_t size, int prot, int flags, int fd, off_t offset)
{
    void *p = mmap(addr, size, prot, flags, fd, offset);
    if (p != MAP_FAILED)
        (void)madvise(p, size, MADV_NOHUGEPAGE);
    return p;
}
#define mmap pyelf_heap_mmap
#include "dlmalloc.c"
"#;

pub fn build(ctx: &Ctx) -> Result<()> {
    ctx.autotools(&["--disable-docs", "--disable-multi-os-directory", "--disable-exec-static-tramp"])?;
    let unit = ctx.work.join("pyelf-dlmalloc.c");
    fs::create_dir_all(&ctx.work)?;
    fs::write(&unit, DLMALLOC_UNIT)?;
    let mut b = ctx.cc_build();
    b.include(ctx.src.join("src"))
        .define("USE_DL_PREFIX", "1")
        .define("USE_LOCKS", "0")
        .define("HAVE_MORECORE", "0")
        .define("HAVE_MREMAP", "1")
        .define("MALLOC_ALIGNMENT", "((size_t)16)")
        .define("DEFAULT_GRANULARITY", "((size_t)256 << 10)")
        .file(&unit);
    let lib = ctx.compile_archive(&b, "dlmalloc")?;
    fs::copy(&lib, ctx.root.join("lib/libdlmalloc.a"))?;
    ctx.expect_installed(&["lib/libffi.a", "include/ffi.h", "lib/pkgconfig/libffi.pc", "lib/libdlmalloc.a"])
}
