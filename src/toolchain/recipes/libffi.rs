//! libffi, static, for `_ctypes` (which can then call functions and callbacks inside the binary;
//! loading shared libraries is impossible in a static executable).
//!
//! Also `libdlmalloc.a`: Doug Lea's malloc (public domain), from the `src/dlmalloc.c` that libffi
//! ships (version 2.8.3), for a binary's C heap (`runtime/malloc.c`: all of it by default, the
//! blocks past 1 KiB with `--malloc split`). Built with names prefixed `dl`, blocks aligned to 16
//! bytes as malloc's must be on x86_64 and aarch64 (`max_align_t`; 2.8.3 aligns to 8 by default),
//! no lock of its own (malloc.c holds one around each call), its memory from mmap only (musl's
//! mallocng keeps brk for itself) in steps of 256 KiB, each mapping marked `MADV_NOHUGEPAGE`, no
//! mremap (2.8.3's use of it loses data), and a calloc that leaves the pages it knows to be fresh
//! from the kernel untouched, as glibc's does (2.8.3 zeroes every block it does not map on its
//! own, and a program's zeroed buffers resided whole). The unit is tested apart from a toolchain
//! by `tests/dlmalloc.rs`.

use super::Ctx;
use anyhow::Result;
use fs_err as fs;

/// The translation unit of libdlmalloc.a: dlmalloc.c, with its mmap calls going through one that
/// keeps transparent huge pages out of the heap, and its entry points wrapped so that calloc
/// leaves memory fresh from the kernel untouched (what dlmalloc.c's own calloc zeroes).
pub const DLMALLOC_UNIT: &str = r##"#define _GNU_SOURCE 1
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

/* What dlmalloc maps is zero until written; pyelf_fresh_add records it (see the end). */
static void pyelf_fresh_add(char *p, size_t size);

static void *pyelf_heap_mmap(void *addr, size_t size, int prot, int flags, int fd, off_t offset)
{
    void *p = mmap(addr, size, prot, flags, fd, offset);
    if (p != MAP_FAILED) {
        (void)madvise(p, size, MADV_NOHUGEPAGE);
        pyelf_fresh_add(p, size);
    }
    return p;
}
#define mmap pyelf_heap_mmap

/* What dlmalloc gives back to the kernel leaves the record: memory mapped there again is fresh
 * and recorded again, and a range left behind would only hold one of the record's slots. */
static void pyelf_fresh_take(char *lo, char *hi);

static int pyelf_heap_munmap(void *addr, size_t size)
{
    pyelf_fresh_take((char *)addr, (char *)addr + size);
    return munmap(addr, size);
}
#define munmap pyelf_heap_munmap

/* dlmalloc's entry points, renamed: those defined at the end keep the record. */
#define dlmalloc pyelf_dlmalloc_inner
#define dlfree pyelf_dlfree_inner
#define dlcalloc pyelf_dlcalloc_inner
#define dlrealloc pyelf_dlrealloc_inner
#define dlmemalign pyelf_dlmemalign_inner
#define dlvalloc pyelf_dlvalloc_inner
#define dlpvalloc pyelf_dlpvalloc_inner
#define dlindependent_calloc pyelf_dlindependent_calloc_inner
#define dlindependent_comalloc pyelf_dlindependent_comalloc_inner
#define dlmalloc_trim pyelf_dlmalloc_trim_inner
#include "dlmalloc.c"
#undef dlmalloc
#undef dlfree
#undef dlcalloc
#undef dlrealloc
#undef dlmemalign
#undef dlvalloc
#undef dlpvalloc
#undef dlindependent_calloc
#undef dlindependent_comalloc
#undef dlmalloc_trim
#undef mmap
#undef munmap

/* calloc that leaves memory fresh from the kernel untouched, as glibc's does for memory it just
 * took from the kernel: dlmalloc 2.8.3 zeroes every block it does not map on its own, and a
 * program's zeroed buffers (bytes(n), calloc) resided whole.
 *
 * The record: the ranges of pages dlmalloc mapped and has not handed out since, which are still
 * zero but for what dlmalloc writes there itself: the top chunk's header, at its start, and its
 * foot, at its end (the segment's record and fenceposts), and the links of a free chunk, at its
 * start. Each call below takes from the record the pages around the blocks it returns (with the
 * headers of what follows them), and the pages of the top chunk's header and foot whenever it
 * moved; a mapping is recorded without its last page (the foot of its segment, which a later
 * mapping merged after it puts inside the top chunk). All under the caller's lock (malloc.c holds
 * one around each call). What dlmalloc unmaps leaves the record. When the record is full, a new
 * range takes the place of the smallest if it is larger; a range left out is zeroed as before. */
#define PYELF_FRESH_MAX 64
static struct {
    char *lo, *hi;
} pyelf_fresh[PYELF_FRESH_MAX];
static int pyelf_nfresh;
static char *pyelf_seen_top;
static size_t pyelf_seen_topsize;

static size_t pyelf_page(void)
{
    return mparams.page_size ? mparams.page_size : 4096;
}

/* Records [lo, hi); when the record is full, in place of its smallest range if that is smaller
 * (a range left out is only zeroed by calloc, as 2.8.3 does). */
static void pyelf_fresh_put(char *lo, char *hi)
{
    int at = pyelf_nfresh;
    if (at == PYELF_FRESH_MAX) {
        at = 0;
        for (int i = 1; i < PYELF_FRESH_MAX; i++)
            if (pyelf_fresh[i].hi - pyelf_fresh[i].lo < pyelf_fresh[at].hi - pyelf_fresh[at].lo)
                at = i;
        if (pyelf_fresh[at].hi - pyelf_fresh[at].lo >= hi - lo)
            return;
    } else {
        pyelf_nfresh++;
    }
    pyelf_fresh[at].lo = lo;
    pyelf_fresh[at].hi = hi;
}

static void pyelf_fresh_add(char *p, size_t size)
{
    size_t page = pyelf_page();
    if (size > page)
        pyelf_fresh_put(p, p + size - page);
}

/* The pages that hold [lo, hi) are no longer fresh. */
static void pyelf_fresh_take(char *lo, char *hi)
{
    size_t page = pyelf_page();
    lo = (char *)((uintptr_t)lo & ~(uintptr_t)(page - 1));
    hi = (char *)(((uintptr_t)hi + page - 1) & ~(uintptr_t)(page - 1));
    for (int i = 0; i < pyelf_nfresh;) {
        char *rlo = pyelf_fresh[i].lo, *rhi = pyelf_fresh[i].hi;
        if (hi <= rlo || lo >= rhi) {
            i++;
        } else if (lo <= rlo && hi >= rhi) {
            pyelf_fresh[i] = pyelf_fresh[--pyelf_nfresh];
        } else if (lo <= rlo) {
            pyelf_fresh[i++].lo = hi;
        } else if (hi >= rhi) {
            pyelf_fresh[i++].hi = lo;
        } else {
            pyelf_fresh[i++].hi = lo;
            pyelf_fresh_put(hi, rhi);
        }
    }
}

/* After each call: the top chunk's header and foot, when it moved. */
static void pyelf_fresh_after(void)
{
    char *top = (char *)gm->top;
    if (top != pyelf_seen_top || gm->topsize != pyelf_seen_topsize) {
        pyelf_seen_top = top;
        pyelf_seen_topsize = gm->topsize;
        if (top != 0 && pyelf_nfresh > 0) {
            pyelf_fresh_take(top, top + 64);
            pyelf_fresh_take(top + gm->topsize, top + gm->topsize + TOP_FOOT_SIZE);
        }
    }
}

/* A block handed out: its chunk, `around` bytes on either side of it, and the header of what
 * follows. */
static void pyelf_fresh_took(void *mem, size_t around)
{
    if (mem != 0 && pyelf_nfresh > 0) {
        mchunkptr c = mem2chunk(mem);
        pyelf_fresh_take((char *)c - around, (char *)c + chunksize(c) + around + 64);
    }
}

/* The first fresh range that ends past p (it may start past p too), or 0. */
static int pyelf_fresh_next(char *p, char **lo, char **hi)
{
    int found = 0;
    for (int i = 0; i < pyelf_nfresh; i++) {
        if (pyelf_fresh[i].hi > p && (!found || pyelf_fresh[i].lo < *lo)) {
            *lo = pyelf_fresh[i].lo;
            *hi = pyelf_fresh[i].hi;
            found = 1;
        }
    }
    return found;
}

/* Zeroes [mem, mem + size) but for the whole fresh pages past its first 64 bytes. The ranges
 * are whole pages and do not overlap: each step goes to the next one. */
static void pyelf_zero(char *mem, size_t size)
{
    size_t page = pyelf_page();
    char *end = mem + size;
    char *p = (char *)(((uintptr_t)mem + 64 + page - 1) & ~(uintptr_t)(page - 1));
    char *last = (char *)((uintptr_t)end & ~(uintptr_t)(page - 1));
    char *from = mem;
    char *lo = 0, *hi = 0;
    while (p < last && pyelf_fresh_next(p, &lo, &hi)) {
        if (lo > p)
            p = lo;
        if (p >= last)
            break;
        char *stop = hi < last ? hi : last;
        memset(from, 0, (size_t)(p - from));
        from = p = stop;
    }
    memset(from, 0, (size_t)(end - from));
}

void *dlmalloc(size_t bytes)
{
    void *mem = pyelf_dlmalloc_inner(bytes);
    pyelf_fresh_took(mem, 0);
    pyelf_fresh_after();
    return mem;
}

void dlfree(void *mem)
{
    pyelf_dlfree_inner(mem);
    pyelf_fresh_after();
}

void *dlcalloc(size_t count, size_t size)
{
    size_t req = 0;
    if (count != 0 && __builtin_mul_overflow(count, size, &req))
        req = MAX_SIZE_T; /* fails, as dlmalloc's own */
    void *mem = pyelf_dlmalloc_inner(req);
    if (mem != 0 && calloc_must_clear(mem2chunk(mem)))
        pyelf_zero(mem, req);
    pyelf_fresh_took(mem, 0);
    pyelf_fresh_after();
    return mem;
}

void *dlrealloc(void *old, size_t bytes)
{
    void *mem = pyelf_dlrealloc_inner(old, bytes);
    pyelf_fresh_took(mem, 0);
    pyelf_fresh_after();
    return mem;
}

void *dlmemalign(size_t alignment, size_t bytes)
{
    void *mem = pyelf_dlmemalign_inner(alignment, bytes);
    /* memalign takes a chunk `alignment` and more larger than the block and frees what lies
     * on either side of the block: a free chunk's links, or the top chunk's header where the top
     * was before the end was given back to it. */
    pyelf_fresh_took(mem, alignment + 2 * MIN_CHUNK_SIZE);
    pyelf_fresh_after();
    return mem;
}

/* The entry points nothing in a binary calls: they keep dlmalloc's behaviour and forget the
 * record, which is always safe (calloc then zeroes everything, as 2.8.3's own). */
void *dlvalloc(size_t bytes)
{
    void *mem = pyelf_dlvalloc_inner(bytes);
    pyelf_nfresh = 0;
    return mem;
}

void *dlpvalloc(size_t bytes)
{
    void *mem = pyelf_dlpvalloc_inner(bytes);
    pyelf_nfresh = 0;
    return mem;
}

void **dlindependent_calloc(size_t n_elements, size_t elem_size, void *chunks[])
{
    void **mem = pyelf_dlindependent_calloc_inner(n_elements, elem_size, chunks);
    pyelf_nfresh = 0;
    return mem;
}

void **dlindependent_comalloc(size_t n_elements, size_t sizes[], void *chunks[])
{
    void **mem = pyelf_dlindependent_comalloc_inner(n_elements, sizes, chunks);
    pyelf_nfresh = 0;
    return mem;
}

int dlmalloc_trim(size_t pad)
{
    int released = pyelf_dlmalloc_trim_inner(pad);
    pyelf_fresh_after();
    return released;
}
"##;

/// How dlmalloc.c is configured (`-D` name and value), for the toolchain and for the test of
/// the unit on its own.
pub const DLMALLOC_DEFINES: &[(&str, &str)] = &[
    ("USE_DL_PREFIX", "1"),
    ("USE_LOCKS", "0"),
    ("HAVE_MORECORE", "0"),
    // Not mremap: 2.8.3's realloc of a block mapped on its own sizes the new mapping without the
    // block's offset in it, which memalign makes up to the alignment, and cut the block's end off
    // (a realloc'd block lost its last bytes). Such a block is copied instead.
    ("HAVE_MREMAP", "0"),
    ("MALLOC_ALIGNMENT", "((size_t)16)"),
    ("DEFAULT_GRANULARITY", "((size_t)256 << 10)"),
];

pub fn build(ctx: &Ctx) -> Result<()> {
    ctx.autotools(&["--disable-docs", "--disable-multi-os-directory", "--disable-exec-static-tramp"])?;
    let unit = ctx.work.join("pyelf-dlmalloc.c");
    fs::create_dir_all(&ctx.work)?;
    fs::write(&unit, DLMALLOC_UNIT)?;
    let mut b = ctx.cc_build();
    b.include(ctx.src.join("src"));
    for (name, value) in DLMALLOC_DEFINES {
        b.define(name, *value);
    }
    b.file(&unit);
    let lib = ctx.compile_archive(&b, "dlmalloc")?;
    fs::copy(&lib, ctx.root.join("lib/libdlmalloc.a"))?;
    ctx.expect_installed(&["lib/libffi.a", "include/ffi.h", "lib/pkgconfig/libffi.pc", "lib/libdlmalloc.a"])
}
