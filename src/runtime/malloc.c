/* The heap of a pyelf binary: malloc and its family, as the `malloc` setting says, and in every
 * binary that puts Python's objects on mimalloc, mimalloc's first arena reserved without
 * transparent huge pages:
 *
 * - `dlmalloc` (the default, PYELF_MALLOC_DLMALLOC): Python's objects in pymalloc (blocks up to
 *   512 bytes, in arenas of 1 MiB) and everything else in dlmalloc, Doug Lea's malloc, from which
 *   glibc's descends: the heap python3 has on glibc. dlmalloc coalesces freed chunks and reuses
 *   them for any size, and hands back what it freed past 2 MiB at the top of a segment; its calloc
 *   leaves the pages it knows to be fresh from the kernel untouched (the toolchain's libffi
 *   recipe). A CLI's peak RSS is python3's or less, its speed mimalloc's (docs/performance.md).
 * - `mimalloc` (PYELF_MALLOC_MIMALLOC): served by mimalloc, the allocator CPython 3.13 bundles
 *   (libpython exports mi_malloc and the rest), which also holds Python's objects. mimalloc keeps
 *   each size class of the larger blocks in pages of its own and freed pages for a while: fewer
 *   system calls, more memory (CLIs resided in up to 5 % more than with dlmalloc).
 * - `split` (PYELF_MALLOC_SPLIT): mimalloc for blocks up to 1 KiB, dlmalloc beyond, Python's
 *   objects and buffers included (PYMEM_ALLOCATOR_MALLOC in launcher.c).
 * - `musl`: musl's mallocng (nothing defined here), Python's objects on mimalloc.
 *
 * musl supports replacing malloc in a static link (since 1.2.1) when the whole public family is
 * defined, so that none of its mallocng members is linked for them: malloc, calloc, realloc,
 * free, aligned_alloc, posix_memalign, memalign, malloc_usable_size (calloc and aligned_alloc
 * must be ours: musl's look into mallocng's metadata). musl's internal allocations (atexit,
 * locales, time zones) go on through its own __libc_malloc and __libc_free, in pairs.
 *
 * dlmalloc is libdlmalloc.a (the toolchain's libffi recipe): its memory comes from mmap, each
 * mapping marked MADV_NOHUGEPAGE, and it is one heap for all threads, under one lock here. */
#include "launcher.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "internal/mimalloc/mimalloc.h"

/* Python's objects live in mimalloc whatever serves the C heap (with `split`, those up to 1 KiB),
 * except with `dlmalloc`, where they are pymalloc's unless PYTHONMALLOC asks for mimalloc (the
 * binary run as python3). mimalloc reserves its first arena (1 GiB, committed up front where the
 * kernel overcommits) when the first object is allocated, and the arena is aligned to 32 MiB:
 * where transparent huge pages are on for every mapping (`always`, RHEL's default), the kernel
 * backs each 2 MiB of it the program touches with a huge page, and a CLI whose heap is 6 MB
 * resides in 10 (a venv's python3 got none: pymalloc's arenas are 1 MiB).
 * So the arena is reserved here first, as mimalloc would reserve it (mi_arena_reserve in CPython's
 * Objects/mimalloc/arena.c: the same size, committed as its `arena_eager_commit` option says), and
 * marked MADV_NOHUGEPAGE before anything touches it. Only a heap past it (another arena, reserved
 * by mimalloc) can take huge pages. Run before any other constructor: mimalloc's own, and the C
 * libraries', may allocate. */
bool _mi_os_has_overcommit(void); /* mimalloc's own answer, from /proc/sys/vm/overcommit_memory */

#ifdef PYELF_MALLOC_SPLIT
/* The first arena, by which malloc() below tells mimalloc's blocks apart; none if the process
 * could not reserve it (a small RLIMIT_AS), and then every block is dlmalloc's. */
static char *arena_start, *arena_end;

/* Whether small blocks go to mimalloc: closed (1) until the constructor has its first arena, and
 * for SMALL_BLOCKS_AFTER_FULL small blocks after mimalloc failed to give one (its arenas full and
 * no room to reserve another: each request that finds it so costs a failing mmap). */
#define SMALL_BLOCKS_AFTER_FULL 65536
static int mimalloc_closed = 1;
#endif

/* Whether PYTHONMALLOC names mimalloc (`mimalloc` or `mimalloc_debug`). */
static bool python_asks_for_mimalloc(void)
{
    const char *python_malloc = getenv("PYTHONMALLOC");
    return python_malloc && strncmp(python_malloc, "mimalloc", 8) == 0;
}

/* count * size in *total, or false with errno ENOMEM when it does not fit. */
static inline bool calloc_total(size_t count, size_t size, size_t *total)
{
    if (__builtin_mul_overflow(count, size, total)) {
        errno = ENOMEM;
        return false;
    }
    return true;
}

/* C11: an alignment must be a power of two; false with errno EINVAL when it is not (musl returns
 * EINVAL, mimalloc checks it too). */
static inline bool alignment_valid(size_t alignment)
{
    if (alignment == 0 || (alignment & (alignment - 1))) {
        errno = EINVAL;
        return false;
    }
    return true;
}

__attribute__((constructor(101))) static void first_arena_without_huge_pages(void)
{
#ifdef PYELF_MALLOC_DLMALLOC
    if (!python_asks_for_mimalloc())
        return; /* nothing uses mimalloc */
#endif
    mi_process_init();
    size_t size = mi_option_get_size(mi_option_arena_reserve);
    long eager = mi_option_get(mi_option_arena_eager_commit);
    bool commit = eager == 1 || (eager == 2 && _mi_os_has_overcommit());
    mi_arena_id_t arena;
    if (size == 0 || mi_reserve_os_memory_ex(size, commit, false, false, &arena) != 0)
        return; /* mimalloc reserves its arena itself, as without this */
    size_t reserved = 0;
    void *start = mi_arena_area(arena, &reserved);
    if (start != NULL) {
        (void)madvise(start, reserved, MADV_NOHUGEPAGE);
#ifdef PYELF_MALLOC_SPLIT
        arena_start = start;
        arena_end = (char *)start + reserved;
        /* mimalloc's blocks stay in arenas (this one, then those it reserves as it grows), where
         * mi_is_in_heap_region finds them: where it cannot reserve another, it fails instead of
         * taking segments from the OS (which it does not track above 40 TiB), and malloc() goes
         * to dlmalloc. Not when the binary runs as python3 with PYTHONMALLOC=mimalloc: Python's
         * objects then come from mimalloc directly, and a block past an arena's size needs the
         * OS. And its arenas stay mapped until the process ends (MIMALLOC_DESTROY_ON_EXIT would
         * unmap them at exit, under blocks still freed after it). */
        __atomic_store_n(&mimalloc_closed, 0, __ATOMIC_RELAXED);
        if (!python_asks_for_mimalloc())
            mi_option_enable(mi_option_limit_os_alloc);
        mi_option_disable(mi_option_destroy_on_exit);
#endif
    }
}

#if defined(PYELF_MALLOC_SPLIT) || defined(PYELF_MALLOC_DLMALLOC)

#include <pthread.h>

/* libdlmalloc.a (the toolchain's libffi recipe): dlmalloc 2.8.3, its names prefixed `dl`, built
 * without locks of its own; its memory comes from mmap, each mapping marked MADV_NOHUGEPAGE. */
void *dlmalloc(size_t);
void *dlcalloc(size_t, size_t);
void *dlrealloc(void *, size_t);
void *dlmemalign(size_t, size_t);
void dlfree(void *);
size_t dlmalloc_usable_size(void *);

/* dlmalloc is one heap for all threads: a lock around each call, taken across fork() so that the
 * child never inherits it held by a thread that does not exist there.
 *
 * Taken only once the process has started a second thread, as musl takes its own: musl sets
 * `*__pyelf_threaded` (the toolchain's musl patch) in pthread_create, and thrd_create, before the
 * thread exists, and never clears it. A call that found it clear cannot see it set before it
 * returns (only the one thread runs, and it is inside that call), so each give matches its take.
 * Two atomic operations fewer per call: a tenth of a regex workload's time went to them. */
extern const volatile char *const __pyelf_threaded;
static pthread_mutex_t dl_lock = PTHREAD_MUTEX_INITIALIZER;

static void dl_lock_take(void)
{
    if (*__pyelf_threaded)
        pthread_mutex_lock(&dl_lock);
}

static void dl_lock_give(void)
{
    if (*__pyelf_threaded)
        pthread_mutex_unlock(&dl_lock);
}

static void dl_lock_reset(void)
{
    pthread_mutex_init(&dl_lock, NULL);
}

__attribute__((constructor(102))) static void heap_fork_handlers(void)
{
    pthread_atfork(dl_lock_take, dl_lock_give, dl_lock_reset);
}

/* Freed blocks up to 1,128 bytes kept for the next malloc of their size, seven of each size, as
 * glibc's tcache keeps them (python3's heap): such a pair of calls costs a few instructions
 * instead of a search of dlmalloc's bins. The regular expression engine takes and frees a 1 KB
 * stack for each search, which cost a regex workload 7 % of its time in dlmalloc.
 *
 * A block is filed by its usable size u at (u + 8) / 16 and a request of n bytes looks at
 * (n + 23) / 16 (at least 2): every block in bin b has u >= 16b - 8 >= n. (dlmalloc's usable
 * sizes are 16k + 8, so each bin holds one size.) The blocks stay dlmalloc's, in use as far as it
 * knows: realloc and malloc_usable_size take them as they are. Under the heap's lock.
 *
 * A kept block keeps the free memory around it from merging with the top of the heap, which
 * dlmalloc hands back to the kernel, as glibc's tcache does. Neither hands much back after a
 * program frees many such blocks at once: 100,000 blocks of 1,037 bytes freed, python3 keeps
 * 100 MiB of the 101 it grew by, a binary 91 MiB with these blocks kept and without.
 *
 * A block freed twice, which dlmalloc would stop the program for, is looked for in its bin when
 * its second word holds the mark every kept block carries (a block is 24 bytes or more). */
#define CACHED_BINS 72
#define CACHED_PER_BIN 7
static void *cached[CACHED_BINS];
static unsigned char cached_count[CACHED_BINS];
#define CACHED_MARK ((uintptr_t)cached ^ (uintptr_t)0x5a17c0dedb10c4edULL)

static inline size_t cached_bin(size_t request)
{
    return request <= 8 ? 2 : (request + 23) >> 4;
}

static void *cached_take(size_t request)
{
    if (request >= CACHED_BINS * 16 - 23)
        return NULL;
    size_t bin = cached_bin(request);
    void **p = cached[bin];
    if (p) {
        cached[bin] = p[0];
        cached_count[bin]--;
        p[1] = NULL;
    }
    return p;
}

static int cached_put(void *block)
{
    void **p = block;
    size_t bin = (dlmalloc_usable_size(p) + 8) >> 4;
    if (bin < 2 || bin >= CACHED_BINS)
        return 0; /* a large block, or one not in use (0): dlfree decides */
    if ((uintptr_t)p[1] == CACHED_MARK)
        for (void **q = cached[bin]; q; q = q[0])
            if (q == p)
                abort(); /* freed twice */
    if (cached_count[bin] == CACHED_PER_BIN)
        return 0;
    p[0] = cached[bin];
    p[1] = (void *)CACHED_MARK;
    cached[bin] = p;
    cached_count[bin]++;
    return 1;
}

/* Each call into dlmalloc, under its lock. */
static void *dl_malloc(size_t size)
{
    dl_lock_take();
    void *p = cached_take(size);
    if (!p)
        p = dlmalloc(size);
    dl_lock_give();
    return p;
}

/* `total` is count times size, which the callers checked with calloc_total. */
static void *dl_calloc(size_t total)
{
    dl_lock_take();
    void *p = cached_take(total);
    if (p)
        memset(p, 0, total);
    else
        p = dlcalloc(1, total);
    dl_lock_give();
    return p;
}

static void *dl_realloc(void *p, size_t size)
{
    dl_lock_take();
    void *q = dlrealloc(p, size);
    dl_lock_give();
    return q;
}

static void *dl_memalign(size_t alignment, size_t size)
{
    dl_lock_take();
    void *p = dlmemalign(alignment, size);
    dl_lock_give();
    return p;
}

static void dl_free(void *p)
{
    dl_lock_take();
    if (!cached_put(p))
        dlfree(p);
    dl_lock_give();
}

static size_t dl_usable_size(void *p)
{
    dl_lock_take();
    size_t n = dlmalloc_usable_size(p);
    dl_lock_give();
    return n;
}
#endif

#ifdef PYELF_MALLOC_DLMALLOC
/* Every block dlmalloc's. */
void *malloc(size_t size)
{
    return dl_malloc(size);
}

void *calloc(size_t count, size_t size)
{
    size_t total;
    if (!calloc_total(count, size, &total))
        return NULL;
    return dl_calloc(total);
}

void *realloc(void *p, size_t size)
{
    return dl_realloc(p, size);
}

void free(void *p)
{
    if (p)
        dl_free(p);
}

void *aligned_alloc(size_t alignment, size_t size)
{
    if (!alignment_valid(alignment))
        return NULL;
    return dl_memalign(alignment, size);
}

size_t malloc_usable_size(void *p)
{
    return p ? dl_usable_size(p) : 0;
}
#endif

#ifdef PYELF_MALLOC_SPLIT
/* Blocks up to this size go to mimalloc (its small classes), larger ones to dlmalloc. */
#define SMALL_MAX 1024

/* Whose block p is. mimalloc's are in its first arena (an address range fixed at start) or, past
 * it, in the arenas it reserves as the heap grows; everything else is dlmalloc's. */
static inline bool is_mimalloc(const void *p)
{
    if ((const char *)p >= arena_start && (const char *)p < arena_end)
        return true;
    return arena_start && mi_is_in_heap_region(p);
}

static inline bool mimalloc_open(void)
{
    return __builtin_expect(__atomic_load_n(&mimalloc_closed, __ATOMIC_RELAXED) == 0, 1);
}

static void mimalloc_failed(void)
{
    __atomic_store_n(&mimalloc_closed, SMALL_BLOCKS_AFTER_FULL, __ATOMIC_RELAXED);
}

/* A small block while mimalloc is closed: dlmalloc's, and a step towards opening it again. */
static void *small_from_dlmalloc(size_t size)
{
    if (arena_start && __atomic_sub_fetch(&mimalloc_closed, 1, __ATOMIC_RELAXED) < 0)
        __atomic_store_n(&mimalloc_closed, 0, __ATOMIC_RELAXED);
    return dl_malloc(size);
}

/* The fast paths: a small block from mimalloc, a block in the first arena back to it. (errno may be
 * ENOMEM after a success that mimalloc failed first, as POSIX allows.) */
void *malloc(size_t size)
{
    if (__builtin_expect(size <= SMALL_MAX, 1)) {
        if (mimalloc_open()) {
            void *p = mi_malloc(size);
            if (__builtin_expect(p != NULL, 1))
                return p;
            mimalloc_failed();
        }
        return small_from_dlmalloc(size);
    }
    return dl_malloc(size);
}

void *calloc(size_t count, size_t size)
{
    size_t total;
    if (!calloc_total(count, size, &total))
        return NULL;
    if (total <= SMALL_MAX && mimalloc_open()) {
        void *p = mi_zalloc(total);
        if (p)
            return p;
        mimalloc_failed();
    }
    return dl_calloc(total);
}

void *realloc(void *p, size_t size)
{
    if (!p)
        return malloc(size);
    if (!is_mimalloc(p))
        return dl_realloc(p, size); /* dlmalloc's block stays there, even shrunk below SMALL_MAX */
    if (size <= SMALL_MAX && mimalloc_open()) {
        void *q = mi_realloc(p, size);
        if (q)
            return q;
        mimalloc_failed();
    }
    /* Grown past mimalloc's part (or mimalloc has no room left for it): moved to dlmalloc. */
    void *q = dl_malloc(size);
    if (!q)
        return NULL;
    size_t old = mi_usable_size(p);
    memcpy(q, p, old < size ? old : size);
    mi_free(p);
    return q;
}

void free(void *p)
{
    if (__builtin_expect((uintptr_t)p - (uintptr_t)arena_start < (uintptr_t)(arena_end - arena_start), 1))
        mi_free(p);
    else if (p)
        is_mimalloc(p) ? mi_free(p) : dl_free(p);
}

void *aligned_alloc(size_t alignment, size_t size)
{
    if (!alignment_valid(alignment))
        return NULL;
    if (size <= SMALL_MAX && alignment <= SMALL_MAX && mimalloc_open()) {
        void *p = mi_aligned_alloc(alignment, size);
        if (p)
            return p;
        mimalloc_failed();
    }
    return dl_memalign(alignment, size);
}

size_t malloc_usable_size(void *p)
{
    if (!p)
        return 0;
    return is_mimalloc(p) ? mi_usable_size(p) : dl_usable_size(p);
}
#endif

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
    if (!alignment_valid(alignment))
        return NULL;
    return checked(mi_aligned_alloc(alignment, size));
}

size_t malloc_usable_size(void *p)
{
    return p ? mi_usable_size(p) : 0;
}
#endif

#if defined(PYELF_MALLOC_MIMALLOC) || defined(PYELF_MALLOC_SPLIT) || defined(PYELF_MALLOC_DLMALLOC)
/* The rest of the family, over the heap's aligned_alloc. */
void *memalign(size_t alignment, size_t size)
{
    /* musl's and glibc's take an alignment of 0 as none. */
    return aligned_alloc(alignment ? alignment : 1, size);
}

int posix_memalign(void **out, size_t alignment, size_t size)
{
    if (alignment < sizeof(void *) || (alignment & (alignment - 1)))
        return EINVAL;
    void *p = aligned_alloc(alignment, size);
    if (!p)
        return ENOMEM;
    *out = p;
    return 0;
}
#endif
