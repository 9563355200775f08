/* The C heap of a pyelf binary: malloc and its family served by mimalloc, the allocator CPython
 * 3.13 bundles (libpython exports mi_malloc and the rest), instead of musl's mallocng.
 *
 * musl supports replacing malloc in a static link (since 1.2.1) when the whole public family is
 * defined, so that none of its mallocng members is linked for them: malloc, calloc, realloc,
 * free, aligned_alloc, posix_memalign, memalign, malloc_usable_size (calloc and aligned_alloc
 * must be ours: musl's look into mallocng's metadata). musl's internal allocations (atexit,
 * locales, time zones) go on through its own __libc_malloc and __libc_free, in pairs.
 *
 * mimalloc starts itself from a constructor, and on a thread's first allocation; it keeps freed
 * memory for reuse instead of handing each page back to the kernel, as mallocng does at a cost of
 * an mmap and a munmap for most medium blocks. Compiled only with PYELF_MALLOC_MIMALLOC (the
 * `malloc` setting). */
#include "launcher.h"

#ifdef PYELF_MALLOC_MIMALLOC
#include <errno.h>
#include <stddef.h>

void *mi_malloc(size_t size);
void *mi_calloc(size_t count, size_t size);
void *mi_realloc(void *p, size_t size);
void mi_free(void *p);
void *mi_aligned_alloc(size_t alignment, size_t size);
void *mi_memalign(size_t alignment, size_t size);
int mi_posix_memalign(void **p, size_t alignment, size_t size);
size_t mi_usable_size(const void *p);

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
