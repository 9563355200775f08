/* The heap of a pyelf binary: mimalloc's first arena, reserved without transparent huge pages,
 * and the C heap (malloc and its family) served by mimalloc, the allocator CPython 3.13 bundles
 * (libpython exports mi_malloc and the rest), instead of musl's mallocng.
 *
 * musl supports replacing malloc in a static link (since 1.2.1) when the whole public family is
 * defined, so that none of its mallocng members is linked for them: malloc, calloc, realloc,
 * free, aligned_alloc, posix_memalign, memalign, malloc_usable_size (calloc and aligned_alloc
 * must be ours: musl's look into mallocng's metadata). musl's internal allocations (atexit,
 * locales, time zones) go on through its own __libc_malloc and __libc_free, in pairs.
 *
 * mimalloc is started by the constructor below, before any other, and on a thread's first
 * allocation; it keeps freed memory for reuse instead of handing each page back to the kernel, as
 * mallocng does at a cost of an mmap and a munmap for most medium blocks. The replacement of
 * malloc is compiled only with PYELF_MALLOC_MIMALLOC (the `malloc` setting); the constructor is
 * in every binary. */
#include "launcher.h"

#include <errno.h>
#include <stddef.h>
#include <sys/mman.h>
#include "internal/mimalloc/mimalloc.h"

/* Python's objects live in mimalloc whatever serves the C heap. mimalloc reserves its first arena
 * (1 GiB, committed up front where the kernel overcommits) when the first object is allocated, and
 * the arena is aligned to 32 MiB: where transparent huge pages are on for every mapping (`always`,
 * RHEL's default), the kernel backs each 2 MiB of it the program touches with a huge page, and a
 * CLI whose heap is 6 MB resides in 10 (a venv's python3 got none: pymalloc's arenas are 1 MiB).
 * So the arena is reserved here first, as mimalloc would reserve it (mi_arena_reserve in CPython's
 * Objects/mimalloc/arena.c: the same size, committed as its `arena_eager_commit` option says), and
 * marked MADV_NOHUGEPAGE before anything touches it. Only a heap past it (another arena, reserved
 * by mimalloc) can take huge pages. Run before any other constructor: mimalloc's own, and the C
 * libraries', may allocate. */
bool _mi_os_has_overcommit(void); /* mimalloc's own answer, from /proc/sys/vm/overcommit_memory */

__attribute__((constructor(101))) static void first_arena_without_huge_pages(void)
{
    mi_process_init();
    size_t size = mi_option_get_size(mi_option_arena_reserve);
    long eager = mi_option_get(mi_option_arena_eager_commit);
    bool commit = eager == 1 || (eager == 2 && _mi_os_has_overcommit());
    mi_arena_id_t arena;
    if (size == 0 || mi_reserve_os_memory_ex(size, commit, false, false, &arena) != 0)
        return; /* mimalloc reserves its arena itself, as without this */
    size_t reserved = 0;
    void *start = mi_arena_area(arena, &reserved);
    if (start != NULL)
        (void)madvise(start, reserved, MADV_NOHUGEPAGE);
}

#ifdef PYELF_MALLOC_MIMALLOC

/* mimalloc reports failures through its own messages; C callers look at errno. */
static void *checked(void *p)
{
    if (!p)
        errno = ENOMEM;
    return p;
}

void *malloc(size_t size)
{
    return checked(mi_malloc(size));
}

void *calloc(size_t count, size_t size)
{
    return checked(mi_calloc(count, size));
}

void *realloc(void *p, size_t size)
{
    return checked(mi_realloc(p, size));
}

void free(void *p)
{
    mi_free(p);
}

void *aligned_alloc(size_t alignment, size_t size)
{
    /* C11: the alignment must be a power of two (mimalloc checks it, musl returns EINVAL). */
    if (alignment == 0 || (alignment & (alignment - 1))) {
        errno = EINVAL;
        return NULL;
    }
    return checked(mi_aligned_alloc(alignment, size));
}

void *memalign(size_t alignment, size_t size)
{
    return aligned_alloc(alignment, size);
}

int posix_memalign(void **out, size_t alignment, size_t size)
{
    if (alignment < sizeof(void *) || (alignment & (alignment - 1)))
        return EINVAL;
    void *p = mi_aligned_alloc(alignment, size);
    if (!p)
        return ENOMEM;
    *out = p;
    return 0;
}

size_t malloc_usable_size(void *p)
{
    return p ? mi_usable_size(p) : 0;
}
#endif
